//! The router in process, through `oneshot`: authentication, each error's status, and the shape of each route's
//! answer. The end-to-end tests drive the same routes over HTTPS from the CLI.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Request, StatusCode, header};
use axum::response::Response;
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::State;
use crate::config::Config;
use crate::desk::access::Role;
use crate::desk::actor::Actor;
use crate::desk::tickets::{Channel, Event};
use crate::store::{HeldByAnotherWriter, now_ms};

struct Desk {
    _dir: tempfile::TempDir,
    state: Arc<State>,
}

/// Where requests come from unless a test says otherwise.
const HOME: &str = "192.0.2.1:40000";

impl Desk {
    fn new() -> Desk {
        let dir = tempfile::tempdir().unwrap();
        let config = Config { data_dir: dir.path().join("data"), ..Config::default() };
        let state = Arc::new(crate::prepare(config).unwrap());
        Desk { _dir: dir, state }
    }

    /// A user of `role` and their API token.
    async fn user(&self, name: &str, role: Role) -> String {
        let name = name.to_owned();
        self.state
            .store
            .write(move |c| {
                let user = c.add_user(&name, role, PASSWORD, now_ms())?;
                c.issue_api_token(&user, now_ms(), None)
            })
            .await
            .unwrap()
    }

    /// A phone ticket, as a technician would open it.
    async fn ticket(&self) -> i64 {
        let created = Event::Created {
            subject: "printer jams".into(),
            description: "since Monday".into(),
            channel: Channel::Phone,
            requester: "ann".into(),
            agent_id: None,
            category: None,
            person: None,
            urgency: Default::default(),
            impact: Default::default(),
            priority: Default::default(),
            ticket_type: Default::default(),
        };
        let opened = self
            .state
            .store
            .write(move |c| c.open_ticket(None, &[(Actor::technician("bob"), created)], now_ms()))
            .await;
        opened.unwrap().0
    }

    async fn call(&self, method: &str, path: &str, token: Option<&str>, body: Option<Value>) -> (StatusCode, Value) {
        let body = body.map(|json| json.to_string());
        let (status, _, answer) = self.send(HOME, method, path, token, body).await;
        (status, answer)
    }

    /// A request with a body as given, from `from` as `serve` would say, answered with its headers.
    async fn send(
        &self,
        from: &str,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<String>,
    ) -> (StatusCode, HeaderMap, Value) {
        let mut request = Request::builder().method(method).uri(path);
        if let Some(token) = token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let body = match body {
            Some(text) => {
                request = request.header(header::CONTENT_TYPE, "application/json");
                Body::from(text)
            }
            None => Body::empty(),
        };
        let mut request = request.body(body).unwrap();
        request.extensions_mut().insert(ConnectInfo(from.parse::<SocketAddr>().unwrap()));
        let response: Response = super::router(self.state.clone()).oneshot(request).await.unwrap();
        let (status, headers) = (response.status(), response.headers().clone());
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
        (status, headers, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    /// A login from `from`: its status, its `Retry-After` and its error, if any.
    async fn login(&self, from: &str, user: &str, password: &str) -> (StatusCode, Option<String>, Option<String>) {
        let body = json!({ "user": user, "password": password }).to_string();
        let (status, headers, answer) = self.send(from, "POST", "/api/login", None, Some(body)).await;
        let retry_after = headers.get(header::RETRY_AFTER).map(|v| v.to_str().unwrap().to_owned());
        (status, retry_after, answer["error"].as_str().map(str::to_owned))
    }

    /// How many audit entries there are of each of `actions`.
    async fn audited(&self, actions: &[&str]) -> Vec<usize> {
        let entries = self.state.store.read(|c| c.audit_entries(0, 10_000)).await.unwrap();
        actions.iter().map(|a| entries.iter().filter(|e| e.action == *a).count()).collect()
    }
}

const PASSWORD: &str = "a long enough password";

#[tokio::test]
async fn every_route_but_login_and_health_needs_a_known_token() {
    let desk = Desk::new();
    assert_eq!(desk.call("GET", "/health", None, None).await.0, StatusCode::OK);
    for path in ["/api/me", "/api/tickets", "/api/agents", "/api/catalog", "/api/audit"] {
        let (status, body) = desk.call("GET", path, None, None).await;
        assert_eq!((status, body["error"].as_str()), (StatusCode::UNAUTHORIZED, Some("missing bearer token")));
        let (status, body) = desk.call("GET", path, Some("llt_nobody"), None).await;
        assert_eq!((status, body["error"].as_str()), (StatusCode::UNAUTHORIZED, Some("unknown API token")), "{path}");
    }
    let token = desk.user("alice", Role::Tier1).await;
    let (status, me) = desk.call("GET", "/api/me", Some(&token), None).await;
    assert_eq!((status, me["name"].as_str(), me["role"].as_str()), (StatusCode::OK, Some("alice"), Some("tier1")));
}

#[tokio::test]
async fn a_login_gives_a_token_and_a_wrong_password_the_same_answer_as_an_unknown_name() {
    let desk = Desk::new();
    desk.user("alice", Role::Tier2).await;
    let login = |user: &str, password: &str| json!({ "user": user, "password": password });
    let (status, body) = desk.call("POST", "/api/login", None, Some(login("alice", PASSWORD))).await;
    assert_eq!(status, StatusCode::OK);
    let token = body["token"].as_str().unwrap().to_owned();
    assert_eq!(desk.call("GET", "/api/me", Some(&token), None).await.0, StatusCode::OK);
    let wrong = desk.call("POST", "/api/login", None, Some(login("alice", "wrong"))).await;
    let unknown = desk.call("POST", "/api/login", None, Some(login("nobody", "wrong"))).await;
    assert_eq!(wrong.0, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong, unknown);
    assert_eq!(
        desk.call("POST", "/api/login", None, Some(json!({ "user": "" }))).await.0,
        StatusCode::UNPROCESSABLE_ENTITY
    );
}

#[tokio::test]
async fn roles_are_refused_what_the_access_table_refuses_them() {
    let desk = Desk::new();
    let number = desk.ticket().await;
    let (tier1, auditor) = (desk.user("t1", Role::Tier1).await, desk.user("audrey", Role::Auditor).await);
    let note = json!({ "action": "note", "body": "checked the cable" });
    let actions = format!("/api/tickets/{number}/actions");
    let cases = [
        (
            &auditor,
            "POST",
            actions.as_str(),
            Some(note.clone()),
            "auditors and managers may read but not change tickets",
        ),
        (
            &auditor,
            "POST",
            "/api/agents/ag-1/checks",
            Some(json!({ "check": "disk-usage" })),
            "auditors and managers may read but not run checks",
        ),
        (&tier1, "POST", "/api/agents/ag-1/revoke", None, "only an admin may revoke agents"),
        (&tier1, "GET", "/api/audit", None, "only admins and auditors may read the audit log"),
        (&tier1, "GET", "/api/audit/verify", None, "only admins and auditors may read the audit log"),
    ];
    for (token, method, path, body, why) in cases {
        let (status, answer) = desk.call(method, path, Some(token), body).await;
        assert_eq!((status, answer["error"].as_str()), (StatusCode::FORBIDDEN, Some(why)), "{method} {path}");
    }
    assert_eq!(desk.call("GET", "/api/audit", Some(&auditor), None).await.0, StatusCode::OK);
    assert_eq!(desk.call("POST", &actions, Some(&tier1), Some(note)).await.0, StatusCode::CREATED);
}

#[tokio::test]
async fn each_kind_of_bad_request_has_its_own_status() {
    let desk = Desk::new();
    let number = desk.ticket().await;
    let token = desk.user("alice", Role::Tier2).await;
    let actions = format!("/api/tickets/{number}/actions");
    let cases = [
        ("GET", "/api/tickets/9999".to_owned(), None, StatusCode::NOT_FOUND),
        ("GET", "/api/no-such-route".to_owned(), None, StatusCode::NOT_FOUND),
        ("GET", "/api/agents/ag-none".to_owned(), None, StatusCode::NOT_FOUND),
        ("GET", "/api/tickets/x".to_owned(), None, StatusCode::BAD_REQUEST),
        ("GET", "/api/tickets?status=lost".to_owned(), None, StatusCode::BAD_REQUEST),
        (
            "POST",
            actions.clone(),
            Some(json!({ "action": "status", "status": "lost" })),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        ("POST", actions.clone(), Some(json!({ "action": "dance" })), StatusCode::UNPROCESSABLE_ENTITY),
        // The ticket is new already: the same command may have been right a moment ago, so it is a conflict.
        ("POST", actions.clone(), Some(json!({ "action": "status", "status": "new" })), StatusCode::CONFLICT),
        (
            "POST",
            actions.clone(),
            Some(json!({ "action": "assign", "to": "nobody" })),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        ("POST", actions.clone(), Some(json!({ "action": "reply", "body": " " })), StatusCode::UNPROCESSABLE_ENTITY),
        ("POST", actions.clone(), Some(json!({ "action": "escalate", "tier": 9 })), StatusCode::UNPROCESSABLE_ENTITY),
        ("POST", format!("/api/tickets/{number}/refresh"), None, StatusCode::UNPROCESSABLE_ENTITY),
        ("GET", format!("/api/tickets/{number}/diff"), None, StatusCode::NOT_FOUND),
        ("GET", "/api/checks/x".to_owned(), None, StatusCode::BAD_REQUEST),
        ("GET", "/api/stats/self-help?days=0".to_owned(), None, StatusCode::BAD_REQUEST),
    ];
    for (method, path, body, expected) in cases {
        let (status, answer) = desk.call(method, &path, Some(&token), body.clone()).await;
        assert_eq!(status, expected, "{method} {path} {body:?}: {answer}");
        assert!(answer["error"].is_string(), "{method} {path}: every error has a message: {answer}");
    }
    // None of it changed the ticket.
    let (_, ticket) = desk.call("GET", &format!("/api/tickets/{number}"), Some(&token), None).await;
    assert_eq!(ticket["events"].as_array().map(Vec::len), Some(1), "{ticket}");
}

#[tokio::test]
async fn a_store_that_cannot_write_is_a_503_with_retry_after_and_reads_go_on() {
    let desk = Desk::new();
    let number = desk.ticket().await;
    let token = desk.user("alice", Role::Tier2).await;
    // Another writer holds the database: the store gives up after its busy timeout, as under a stuck disk.
    let holder = HeldByAnotherWriter::hold(&desk.state.config.db_path());
    let request = Request::builder()
        .method("POST")
        .uri(format!("/api/tickets/{number}/actions"))
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(json!({ "action": "note", "body": "n" }).to_string()))
        .unwrap();
    let response = super::router(desk.state.clone()).oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let retry = response.headers().get(header::RETRY_AFTER).and_then(|v| v.to_str().ok());
    assert_eq!(retry, Some(super::error::RETRY_AFTER_SECS.to_string().as_str()));
    let (status, ticket) = desk.call("GET", &format!("/api/tickets/{number}"), Some(&token), None).await;
    assert_eq!((status, ticket["subject"].as_str()), (StatusCode::OK, Some("printer jams")));
    drop(holder);
    let note = json!({ "action": "note", "body": "n" });
    assert_eq!(
        desk.call("POST", &format!("/api/tickets/{number}/actions"), Some(&token), Some(note)).await.0,
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn each_route_answers_in_its_documented_shape() {
    let desk = Desk::new();
    let number = desk.ticket().await;
    let token = desk.user("alice", Role::Admin).await;
    let get = |path: String| {
        let token = token.clone();
        let desk = &desk;
        async move { desk.call("GET", &path, Some(&token), None).await }
    };
    let (_, list) = get("/api/tickets?status=new".into()).await;
    assert_eq!(list["tickets"][0]["number"], number);
    assert_eq!((&list["tickets"][0]["status"], &list["next"]), (&json!("new"), &Value::Null));
    let (_, ticket) = get(format!("/api/tickets/{number}")).await;
    for field in ["number", "subject", "description", "status", "channel", "tier", "requester", "created_at"] {
        assert!(!ticket[field].is_null(), "ticket has {field}: {ticket}");
    }
    assert_eq!((ticket["findings"].as_array().map(Vec::len), &ticket["snapshot"]), (Some(0), &Value::Null));
    assert_eq!(ticket["events"][0]["kind"], "created");
    let (status, acted) = desk
        .call(
            "POST",
            &format!("/api/tickets/{number}/actions"),
            Some(&token),
            Some(json!({ "action": "status", "status": "open" })),
        )
        .await;
    assert_eq!((status, acted["status"].as_str()), (StatusCode::OK, Some("open")));
    let (_, agents) = get("/api/agents".into()).await;
    assert_eq!(agents, json!([]));
    let (_, catalog) = get("/api/catalog".into()).await;
    assert!(catalog.as_array().is_some_and(|c| c.iter().any(|e| e["name"] == "disk-usage" && e["min_tier"].is_u64())));
    let (_, figures) = get("/api/stats/self-help".into()).await;
    assert_eq!(figures, json!({ "days": 30, "figures": { "shown": 0, "solved": 0, "asked_for_help": 0 } }));
    let (_, verdict) = get("/api/audit/verify".into()).await;
    assert!(verdict["entries"].is_u64() && verdict["broken"].is_null(), "{verdict}");
    let (_, entries) = get("/api/audit".into()).await;
    assert!(entries.as_array().is_some_and(|e| e.iter().all(|e| e["hash"].is_string())), "{entries}");
}

#[tokio::test]
async fn a_public_write_to_a_ticket_that_got_a_public_event_since_it_was_seen_is_a_conflict() {
    let desk = Desk::new();
    let number = desk.ticket().await;
    let (alice, bob) = (desk.user("alice", Role::Tier1).await, desk.user("bob", Role::Tier1).await);
    let (_, seen) = desk.call("GET", &format!("/api/tickets/{number}"), Some(&alice), None).await;
    let version = seen["version"].as_i64().unwrap();
    assert_eq!(version, 1, "a new ticket's log holds its creation: {seen}");
    let at = |v: i64| format!("/api/tickets/{number}/actions?version={v}");
    let reply = |text: &str| Some(json!({ "action": "reply", "body": text }));
    let (status, first) = desk.call("POST", &at(version), Some(&bob), reply("I am on it")).await;
    assert_eq!((status, first["version"].as_i64()), (StatusCode::CREATED, Some(2)));
    let (status, late) = desk.call("POST", &at(version), Some(&alice), reply("me too")).await;
    assert_eq!(status, StatusCode::CONFLICT, "{late}");
    assert_eq!(late["missed"].as_array().map(Vec::len), Some(1), "{late}");
    assert_eq!((&late["missed"][0]["body"], &late["missed"][0]["actor"]), (&json!("I am on it"), &json!("bob")));
    let status_change = Some(json!({ "action": "status", "status": "open" }));
    assert_eq!(desk.call("POST", &at(version), Some(&alice), status_change).await.0, StatusCode::CONFLICT);
    let (_, after) = desk.call("GET", &format!("/api/tickets/{number}"), Some(&alice), None).await;
    assert_eq!(after["events"].as_array().map(Vec::len), Some(2), "the late reply was not stored: {after}");
    // What the requester never sees does not race: a note on the old version goes in.
    let note = Some(json!({ "action": "note", "body": "checked" }));
    assert_eq!(desk.call("POST", &at(version), Some(&alice), note).await.0, StatusCode::CREATED);
    assert_eq!(desk.call("POST", &at(2), Some(&alice), reply("me too")).await.0, StatusCode::CREATED);
    let forced = format!("{}&force=true", at(1));
    assert_eq!(desk.call("POST", &forced, Some(&alice), reply("anyway")).await.0, StatusCode::CREATED);
    let admin = desk.user("root", Role::Admin).await;
    let (_, audit) = desk.call("GET", "/api/audit", Some(&admin), None).await;
    let forced: Vec<&Value> =
        audit.as_array().unwrap().iter().filter(|e| e["action"] == "ticket.forced-write").collect();
    assert_eq!(forced.len(), 1, "{audit}");
    let detail: Value = serde_json::from_str(forced[0]["detail"].as_str().unwrap()).unwrap();
    assert_eq!((&forced[0]["actor"], &detail["ticket"]), (&json!("alice"), &json!(number)));
}

#[tokio::test]
async fn every_answer_says_not_to_store_it_nor_to_guess_its_type() {
    let desk = Desk::new();
    let token = desk.user("alice", Role::Tier1).await;
    let big = Some("x".repeat(super::MAX_LOGIN_BODY + 1));
    let cases = [
        ("GET", "/health", None, None, StatusCode::OK),
        ("GET", "/api/me", Some(token.as_str()), None, StatusCode::OK),
        ("GET", "/api/me", None, None, StatusCode::UNAUTHORIZED),
        ("GET", "/api/no-such-route", None, None, StatusCode::NOT_FOUND),
        ("POST", "/health", None, None, StatusCode::METHOD_NOT_ALLOWED),
        ("POST", "/api/login", None, Some("{".to_owned()), StatusCode::BAD_REQUEST),
        ("POST", "/api/login", None, big, StatusCode::PAYLOAD_TOO_LARGE),
    ];
    for (method, path, token, body, expected) in cases {
        let (status, headers, _) = desk.send(HOME, method, path, token, body).await;
        assert_eq!(status, expected, "{method} {path}");
        let header = |name| headers.get(name).and_then(|v| v.to_str().ok());
        assert_eq!(header(header::CACHE_CONTROL), Some("no-store"), "{method} {path}");
        assert_eq!(header(header::X_CONTENT_TYPE_OPTIONS), Some("nosniff"), "{method} {path}");
    }
}

#[tokio::test]
async fn each_route_refuses_a_body_over_its_own_limit_with_413() {
    let desk = Desk::new();
    let number = desk.ticket().await;
    let token = desk.user("alice", Role::Admin).await;
    let actions = format!("/api/tickets/{number}/actions");
    // Bodies of exactly `size` bytes that are well-formed JSON for the route, so only the size can be refused.
    let padded = |size: usize, open: &str| {
        let text = format!("{open}\"");
        format!("{text}{}\"}}", "x".repeat(size - text.len() - 2))
    };
    let login = |size| padded(size, r#"{"user": "alice", "password": "#);
    let note = |size| padded(size, r#"{"action": "note", "body": "#);
    let check = |size| padded(size, r#"{"check": "disk-usage", "note": "#);
    let checks = "/api/agents/ag-none/checks";
    let cases = [
        ("/api/login", login(super::MAX_LOGIN_BODY), StatusCode::BAD_REQUEST),
        ("/api/login", login(super::MAX_LOGIN_BODY + 1), StatusCode::PAYLOAD_TOO_LARGE),
        (actions.as_str(), note(super::MAX_ACTION_BODY + 1), StatusCode::PAYLOAD_TOO_LARGE),
        (checks, check(super::MAX_BODY), StatusCode::UNPROCESSABLE_ENTITY),
        (checks, check(super::MAX_BODY + 1), StatusCode::PAYLOAD_TOO_LARGE),
    ];
    for (path, body, expected) in cases {
        let size = body.len();
        let (status, _, answer) = desk.send(HOME, "POST", path, Some(&token), Some(body)).await;
        assert_eq!(status, expected, "{size} bytes to {path}: {answer}");
    }
    // The longest note allowed, of characters JSON escapes, fits the actions' limit.
    let longest = json!({ "action": "note", "body": "\"\n".repeat(crate::desk::tickets::MAX_BODY / 2) }).to_string();
    assert!(longest.len() > 2 * crate::desk::tickets::MAX_BODY);
    let (status, _, answer) = desk.send(HOME, "POST", &actions, Some(&token), Some(longest)).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
}

#[tokio::test]
async fn guessing_a_password_is_made_to_wait_the_same_for_any_name_and_a_login_starts_over() {
    let desk = Desk::new();
    desk.user("alice", Role::Tier1).await;
    let wrong = (StatusCode::UNAUTHORIZED, None, Some("wrong user name or password".to_owned()));
    let wait =
        (StatusCode::TOO_MANY_REQUESTS, Some("2".to_owned()), Some("too many failed logins; try again in 2 s".into()));

    // The free failures, then a login: it starts the count again.
    for _ in 0..5 {
        assert_eq!(desk.login(HOME, "alice", "wrong").await, wrong);
    }
    assert_eq!(desk.login(HOME, "alice", PASSWORD).await.0, StatusCode::OK);

    // A known name and an unknown one, each from its own address: the same answers, one after the other.
    let mut answers = Vec::new();
    for (from, name) in [(HOME, "alice"), ("198.51.100.2:40000", "nobody")] {
        let mut seen = Vec::new();
        for _ in 0..6 {
            seen.push(desk.login(from, name, "wrong").await);
        }
        seen.push(desk.login(from, name, "wrong").await);
        // While the name waits even its right password is refused, unchecked.
        seen.push(desk.login(from, name, PASSWORD).await);
        answers.push(seen);
    }
    let expected: Vec<_> = [vec![wrong; 6], vec![wait.clone(); 2]].concat();
    assert_eq!(answers, [expected.clone(), expected]);
    // The wait is the name's, not the address's: another name from the same address is answered as usual.
    assert_eq!(desk.login(HOME, "bob", "wrong").await.0, StatusCode::UNAUTHORIZED);

    // Every refusal is audited, the start of each wait, and the first attempt refused during it (not every one).
    let audited = desk.audited(&["user.login", "user.login-refused", "login.locked", "login.refused-locked"]).await;
    assert_eq!(audited, [1, 5 + 6 + 6 + 1, 2, 2]);
}

#[tokio::test]
async fn one_address_trying_many_names_is_made_to_wait_and_others_are_not() {
    let desk = Desk::new();
    desk.user("alice", Role::Tier1).await;
    let sprayer = "203.0.113.9:40000";
    // One guess on each of many names: no name fails twice, so only the address's count can stop it.
    for i in 0..21 {
        let (status, ..) = desk.login(sprayer, &format!("name{i}"), "wrong").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "attempt {i}");
    }
    let (status, retry_after, _) = desk.login(sprayer, "alice", PASSWORD).await;
    assert_eq!((status, retry_after.as_deref()), (StatusCode::TOO_MANY_REQUESTS, Some("2")));
    // The same account from another address, over IPv4 or IPv6, is not held up by it.
    assert_eq!(desk.login(HOME, "alice", PASSWORD).await.0, StatusCode::OK);
    assert_eq!(desk.login("[2001:db8::1]:40000", "alice", PASSWORD).await.0, StatusCode::OK);
}
