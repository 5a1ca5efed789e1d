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
                let user = c.add_user("local-admin", &name, role, PASSWORD, now_ms())?;
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

/// A request that must be refused: method, path, body, the status expected, and words its error must contain.
type Refusal<'a> = (&'a str, String, Option<Value>, StatusCode, &'a str);

impl Desk {
    /// Sends each request as `token`; answers with a line for each answer that is not the refusal expected, so that a
    /// table reports every case it got wrong at once.
    async fn refusals(&self, token: &str, cases: Vec<Refusal<'_>>) -> Vec<String> {
        let mut wrong = Vec::new();
        for (method, path, body, expected, says) in cases {
            let shown = body.as_ref().map(|b| b.to_string().chars().take(120).collect::<String>());
            let (status, answer) = self.call(method, &path, Some(token), body).await;
            let error = answer["error"].as_str().unwrap_or_default();
            if status != expected || !error.contains(says) {
                wrong.push(format!(
                    "{method} {path} {shown:?}: wanted {expected} saying {says:?}, got {status} {answer}"
                ));
            }
        }
        wrong
    }

    /// What the desk holds, as its readers see it: to compare before and after requests that must store nothing.
    /// `tickets` are read one by one as well, for their version (the length of their log), status and links.
    async fn holdings(&self, token: &str, tickets: &[i64]) -> Value {
        // Each read must succeed, or two equal errors would pass for two equal holdings.
        let get = |path: String| async move {
            let (status, answer) = self.call("GET", &path, Some(token), None).await;
            assert_eq!(status, StatusCode::OK, "GET {path}: {answer}");
            answer
        };
        let mut each = Vec::new();
        for number in tickets {
            let t = get(format!("/api/tickets/{number}")).await;
            each.push(json!([t["number"], t["version"], t["status"], t["merged_into"], t["related"], t["person"]]));
        }
        let audit = self.state.store.read(|c| c.audit_entries(0, 100_000)).await.unwrap().len();
        json!({
            "tickets": get("/api/tickets?limit=1000".into()).await,
            "merged": get("/api/tickets?status=merged&limit=1000".into()).await,
            "each": each,
            "people": get("/api/people".into()).await,
            "canned": get("/api/canned-replies".into()).await,
            "categories": get("/api/categories".into()).await,
            "audit": audit,
        })
    }
}

/// A phone ticket's body as a technician fills it in, with `changes` made to it: a `null` leaves the field out.
fn new_ticket(changes: Value) -> Option<Value> {
    let mut body = json!({
        "channel": "phone",
        "requester": "Zed Zimmer",
        "email": "zed@example.org",
        "subject": "printer jams",
        "description": "since Monday",
    });
    for (field, value) in changes.as_object().unwrap() {
        match value {
            Value::Null => drop(body.as_object_mut().unwrap().remove(field)),
            value => body[field] = value.clone(),
        }
    }
    Some(body)
}

#[tokio::test]
async fn a_ticket_that_cannot_be_opened_as_asked_is_refused_and_nothing_is_stored() {
    use crate::desk::tickets::{MAX_BODY, MAX_NAME, MAX_SUBJECT};
    let desk = Desk::new();
    let number = desk.ticket().await;
    let token = desk.user("alice", Role::Tier1).await;
    let ann = json!({ "name": "Ann", "email": "ann@example.org" });
    assert_eq!(desk.call("POST", "/api/people", Some(&token), Some(ann)).await.0, StatusCode::CREATED);
    let before = desk.holdings(&token, &[number]).await;
    let post = |changes: Value, status, says| ("POST", "/api/tickets".to_owned(), new_ticket(changes), status, says);
    let refused = StatusCode::UNPROCESSABLE_ENTITY;
    let cases = vec![
        post(json!({ "channel": "fax" }), refused, "unknown variant `fax`"),
        post(json!({ "channel": "agent" }), refused, "opened by its user's help request"),
        post(json!({ "category": "astrology" }), refused, "unknown category \"astrology\""),
        post(json!({ "urgency": "urgent" }), refused, "unknown variant `urgent`"),
        post(json!({ "impact": "urgent" }), refused, "unknown variant `urgent`"),
        post(json!({ "type": "question" }), refused, "unknown variant `question`"),
        post(json!({ "resolved": "magic" }), refused, "unknown resolution code \"magic\"; one of fixed-remotely"),
        post(json!({ "email": "ann@" }), refused, "\"ann@\" is not an e-mail address"),
        post(
            json!({ "email": "ann smith@example.org" }),
            refused,
            "\"ann smith@example.org\" is not an e-mail address",
        ),
        post(json!({ "requester": null }), refused, "a requester's name (1 to 128 bytes) or a person's id is needed"),
        post(json!({ "requester": "   " }), refused, "a requester's name (1 to 128 bytes) or a person's id is needed"),
        post(json!({ "requester": "n".repeat(MAX_NAME + 1) }), refused, "a requester's name (1 to 128 bytes)"),
        post(json!({ "subject": "s".repeat(MAX_SUBJECT + 1) }), refused, "a subject must be 1 to 200 bytes"),
        post(json!({ "subject": " " }), refused, "a subject must be 1 to 200 bytes"),
        post(json!({ "subject": null }), refused, "missing field `subject`"),
        post(json!({ "description": "d".repeat(MAX_BODY + 1) }), refused, "a description must be at most 20000 bytes"),
        post(json!({ "colour": "red" }), refused, "unknown field `colour`"),
        // A person's id that names nobody is a missing thing, as the route's own ids are: 404.
        post(json!({ "person": 9999, "email": null }), StatusCode::NOT_FOUND, "person 9999"),
        // A record's own details go with a new record, not beside an existing one's id.
        post(json!({ "person": 1 }), refused, "not both"),
        post(json!({ "agent_id": "ag-none" }), refused, "no agent ag-none"),
    ];
    let wrong = desk.refusals(&token, cases).await;
    assert!(wrong.is_empty(), "{wrong:#?}");
    // Not JSON at all is a bad request.
    let (status, _, answer) = desk.send(HOME, "POST", "/api/tickets", Some(&token), Some("{".into())).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    // No ticket, no person (Zed was about to be recorded for most of them), no audit entry.
    assert_eq!(desk.holdings(&token, &[number]).await, before);
}

#[tokio::test]
async fn a_ticket_opened_by_phone_is_for_the_person_with_that_address_at_the_matrix_priority() {
    let desk = Desk::new();
    let token = desk.user("alice", Role::Tier1).await;
    let body = new_ticket(json!({ "urgency": "high", "impact": "critical", "category": "vpn", "type": "request" }));
    let (status, ticket) = desk.call("POST", "/api/tickets", Some(&token), body).await;
    assert_eq!(status, StatusCode::CREATED, "{ticket}");
    assert_eq!(
        (&ticket["channel"], &ticket["priority"], &ticket["urgency"], &ticket["impact"]),
        (&json!("phone"), &json!("critical"), &json!("high"), &json!("critical")),
        "{ticket}"
    );
    assert_eq!(
        (&ticket["category"], &ticket["type"], &ticket["status"]),
        (&json!("vpn"), &json!("request"), &json!("new"))
    );
    let person = ticket["person"].as_i64().expect("the ticket is for a person on record");
    let (_, record) = desk.call("GET", &format!("/api/people/{person}"), Some(&token), None).await;
    assert_eq!((&record["name"], &record["email"]), (&json!("Zed Zimmer"), &json!("zed@example.org")), "{record}");
    // The same address again, written otherwise, finds the same person; solved on the call, it is resolved at once.
    let again = new_ticket(json!({ "email": "Zed@Example.org", "resolved": "user-instructed" }));
    let (status, second) = desk.call("POST", "/api/tickets", Some(&token), again).await;
    assert_eq!(
        (status, &second["person"], &second["status"]),
        (StatusCode::CREATED, &json!(person), &json!("resolved"))
    );
    assert_eq!(second["resolution"], "user-instructed");
    let (_, people) = desk.call("GET", "/api/people", Some(&token), None).await;
    assert_eq!(people.as_array().map(Vec::len), Some(1), "{people}");
}

#[tokio::test]
async fn an_action_a_ticket_cannot_take_is_refused_and_the_ticket_is_unchanged() {
    let desk = Desk::new();
    let number = desk.ticket().await;
    let token = desk.user("alice", Role::Tier2).await;
    let greeting = json!({ "body": "Hello {requester.name}" });
    let (status, _) = desk.call("PUT", "/api/canned-replies/greeting", Some(&token), Some(greeting)).await;
    assert_eq!(status, StatusCode::OK);
    let before = desk.holdings(&token, &[number]).await;
    let actions = format!("/api/tickets/{number}/actions");
    let act = |body: Value, status, says| ("POST", actions.clone(), Some(body), status, says);
    let refused = StatusCode::UNPROCESSABLE_ENTITY;
    let cases = vec![
        act(json!({ "action": "status", "status": "resolved" }), refused, "resolving needs a resolution code: one of"),
        act(
            json!({ "action": "status", "status": "resolved", "code": "magic" }),
            refused,
            "unknown resolution code \"magic\"",
        ),
        act(json!({ "action": "priority", "priority": "urgent" }), refused, "unknown variant `urgent`"),
        act(json!({ "action": "urgency", "urgency": "urgent" }), refused, "unknown variant `urgent`"),
        act(json!({ "action": "impact", "impact": "urgent" }), refused, "unknown variant `urgent`"),
        act(json!({ "action": "retype", "type": "question" }), refused, "unknown variant `question`"),
        act(json!({ "action": "categorize", "category": "astrology" }), refused, "unknown category \"astrology\""),
        act(json!({ "action": "status", "status": "pending-until" }), refused, "pending-until needs the date"),
        act(json!({ "action": "status", "status": "pending-until", "until": 1000 }), refused, "in the future"),
        act(
            json!({ "action": "status", "status": "open", "until": 9_999_999_999_999_i64 }),
            refused,
            "other statuses take no date",
        ),
        act(json!({ "action": "status", "status": "merged" }), refused, "a ticket cannot go from new to merged"),
        act(json!({ "action": "status", "status": "closed" }), refused, "a ticket cannot go from new to closed"),
        act(json!({ "action": "link", "agent_id": "ag-none" }), refused, "no agent ag-none"),
        act(json!({ "action": "unlink" }), refused, "the ticket has no machine linked"),
        act(json!({ "action": "reply", "body": "hi", "template": "greeting" }), refused, "a template, not both"),
        act(json!({ "action": "reply", "template": "nope" }), refused, "no canned reply \"nope\""),
        act(json!({ "action": "note", "body": "n", "public": true }), refused, "unknown field `public`"),
        (
            "POST",
            "/api/tickets/9999/actions".into(),
            Some(json!({ "action": "note", "body": "n" })),
            StatusCode::NOT_FOUND,
            "ticket 9999",
        ),
        (
            "POST",
            "/api/tickets/0/actions".into(),
            Some(json!({ "action": "note", "body": "n" })),
            StatusCode::BAD_REQUEST,
            "positive integer",
        ),
    ];
    let wrong = desk.refusals(&token, cases).await;
    assert!(wrong.is_empty(), "{wrong:#?}");
    assert_eq!(desk.holdings(&token, &[number]).await, before);
}

#[tokio::test]
async fn a_merge_or_relation_the_desk_cannot_make_is_refused_and_no_ticket_changes() {
    let desk = Desk::new();
    let token = desk.user("alice", Role::Tier1).await;
    let (a, b, c, closed, merged) =
        (desk.ticket().await, desk.ticket().await, desk.ticket().await, desk.ticket().await, desk.ticket().await);
    let act = |number: i64, body: Value| {
        let token = token.clone();
        let desk = &desk;
        async move { desk.call("POST", &format!("/api/tickets/{number}/actions"), Some(&token), Some(body)).await }
    };
    let resolve = json!({ "action": "status", "status": "resolved", "code": "fixed-remotely" });
    assert_eq!(act(closed, resolve).await.0, StatusCode::OK);
    assert_eq!(act(closed, json!({ "action": "status", "status": "closed" })).await.0, StatusCode::OK);
    // `merged` went into `b` first: every case below is about a ticket that is gone, closed or itself.
    let into_b = Some(json!({ "into": b }));
    assert_eq!(
        desk.call("POST", &format!("/api/tickets/{merged}/merge"), Some(&token), into_b).await.0,
        StatusCode::OK
    );
    let before = desk.holdings(&token, &[a, b, c, closed, merged]).await;
    let merge = |from: i64, into: i64, status, says: &str| {
        ("POST", format!("/api/tickets/{from}/merge"), Some(json!({ "into": into })), status, says.to_owned())
    };
    let relate = |from: i64, other: i64, status, says: &str| {
        ("POST", format!("/api/tickets/{from}/relate"), Some(json!({ "other": other })), status, says.to_owned())
    };
    let refused = StatusCode::UNPROCESSABLE_ENTITY;
    let table = [
        merge(a, a, refused, "a ticket cannot be merged into itself"),
        merge(a, 9999, StatusCode::NOT_FOUND, "ticket 9999"),
        merge(9999, a, StatusCode::NOT_FOUND, "ticket 9999"),
        merge(a, merged, refused, &format!("ticket {merged} was itself merged into {b}; merge into {b}")),
        merge(a, closed, refused, &format!("ticket {closed} is closed; merge into an open ticket")),
        // The cycle: `merged` is in `b`, so `b` cannot go into `merged`.
        merge(b, merged, refused, &format!("was itself merged into {b}")),
        // Once merged, a ticket is read-only: merging it again, anywhere, is a conflict.
        merge(merged, c, StatusCode::CONFLICT, &format!("ticket was merged into #{b}")),
        merge(closed, a, StatusCode::CONFLICT, "ticket is closed"),
        ("POST", format!("/api/tickets/{a}/merge"), Some(json!({ "into": "b" })), refused, "invalid type".into()),
        ("POST", format!("/api/tickets/{a}/merge"), Some(json!({})), refused, "missing field `into`".into()),
        relate(a, a, refused, "a ticket cannot be related to itself"),
        relate(a, 9999, StatusCode::NOT_FOUND, "ticket 9999"),
        relate(9999, a, StatusCode::NOT_FOUND, "ticket 9999"),
        // Recorded on both or neither: `a` takes it, the merged ticket cannot, so `a` is left as it was.
        relate(a, merged, StatusCode::CONFLICT, &format!("ticket was merged into #{b}")),
        relate(merged, a, StatusCode::CONFLICT, &format!("ticket was merged into #{b}")),
        (
            "POST",
            format!("/api/tickets/{a}/relate"),
            Some(json!({ "other": b, "why": "x" })),
            refused,
            "unknown field".into(),
        ),
    ];
    let cases = table.iter().map(|(m, p, body, s, says)| (*m, p.clone(), body.clone(), *s, says.as_str())).collect();
    let wrong = desk.refusals(&token, cases).await;
    assert!(wrong.is_empty(), "{wrong:#?}");
    assert_eq!(desk.holdings(&token, &[a, b, c, closed, merged]).await, before);
}

#[tokio::test]
async fn a_merge_folds_one_ticket_into_another_and_a_relation_is_on_both() {
    let desk = Desk::new();
    let token = desk.user("alice", Role::Tier1).await;
    let (a, b, c) = (desk.ticket().await, desk.ticket().await, desk.ticket().await);
    let (status, into) =
        desk.call("POST", &format!("/api/tickets/{a}/merge"), Some(&token), Some(json!({ "into": b }))).await;
    assert_eq!((status, &into["number"], &into["status"]), (StatusCode::OK, &json!(b), &json!("new")), "{into}");
    let (_, gone) = desk.call("GET", &format!("/api/tickets/{a}"), Some(&token), None).await;
    assert_eq!((&gone["status"], &gone["merged_into"]), (&json!("merged"), &json!(b)), "{gone}");
    let (_, kept) = desk.call("GET", &format!("/api/tickets/{b}"), Some(&token), None).await;
    let from_a = kept["events"].as_array().unwrap().iter().filter(|e| e["from_ticket"] == a).count();
    assert!(from_a >= 1, "the merged ticket's log shows in the one that carries on: {kept}");
    assert_eq!(desk.audited(&["ticket.merge"]).await, [1]);

    let (status, related) =
        desk.call("POST", &format!("/api/tickets/{b}/relate"), Some(&token), Some(json!({ "other": c }))).await;
    assert_eq!((status, &related["related"]), (StatusCode::OK, &json!([c])), "{related}");
    for (number, other) in [(b, c), (c, b)] {
        let (_, ticket) = desk.call("GET", &format!("/api/tickets/{number}"), Some(&token), None).await;
        assert_eq!(ticket["related"], json!([other]), "{ticket}");
    }
}

#[tokio::test]
async fn presence_says_who_is_on_a_ticket_and_refuses_what_it_does_not_know() {
    let desk = Desk::new();
    let number = desk.ticket().await;
    let (alice, bob) = (desk.user("alice", Role::Tier1).await, desk.user("bob", Role::Auditor).await);
    let path = format!("/api/tickets/{number}/presence");
    let (status, on) = desk.call("POST", &path, Some(&alice), Some(json!({ "state": "drafting" }))).await;
    assert_eq!(status, StatusCode::OK, "{on}");
    assert_eq!(
        (&on[0]["user"], &on[0]["state"], on.as_array().map(Vec::len)),
        (&json!("alice"), &json!("drafting"), Some(1))
    );
    let (status, on) = desk.call("POST", &path, Some(&bob), Some(json!({ "state": "viewing" }))).await;
    let seen: Vec<(&Value, &Value)> = on.as_array().unwrap().iter().map(|p| (&p["user"], &p["state"])).collect();
    assert_eq!(status, StatusCode::OK);
    assert_eq!(seen, [(&json!("alice"), &json!("drafting")), (&json!("bob"), &json!("viewing"))]);
    let (_, ticket) = desk.call("GET", &format!("/api/tickets/{number}"), Some(&alice), None).await;
    assert_eq!(ticket["presence"].as_array().map(Vec::len), Some(2), "{ticket}");
    let refused = StatusCode::UNPROCESSABLE_ENTITY;
    let cases = vec![
        ("POST", path.clone(), Some(json!({ "state": "typing" })), refused, "presence is \"viewing\" or \"drafting\""),
        ("POST", path.clone(), Some(json!({})), refused, "missing field `state`"),
        (
            "POST",
            "/api/tickets/9999/presence".into(),
            Some(json!({ "state": "viewing" })),
            StatusCode::NOT_FOUND,
            "ticket 9999",
        ),
    ];
    let wrong = desk.refusals(&alice, cases).await;
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[tokio::test]
async fn a_person_record_that_cannot_be_kept_is_refused_and_the_people_are_as_they_were() {
    let desk = Desk::new();
    let token = desk.user("alice", Role::Tier1).await;
    let mut ids = Vec::new();
    for person in [json!({ "name": "Ann", "email": "ann@example.org" }), json!({ "name": "Bob", "phone": "555" })] {
        let (status, record) = desk.call("POST", "/api/people", Some(&token), Some(person)).await;
        assert_eq!(status, StatusCode::CREATED, "{record}");
        ids.push(record["id"].as_i64().unwrap());
    }
    let (ann, bob) = (ids[0], ids[1]);
    // The list leaves merged records out: each is read as well.
    let records = || async {
        let mut each = vec![desk.holdings(&token, &[]).await];
        for id in [ann, bob] {
            each.push(desk.call("GET", &format!("/api/people/{id}"), Some(&token), None).await.1);
        }
        each
    };
    let before = records().await;
    let add = |body: Value, status, says: &str| ("POST", "/api/people".to_owned(), Some(body), status, says.to_owned());
    let edit = |id: i64, body: Value, status, says: &str| {
        ("PATCH", format!("/api/people/{id}"), Some(body), status, says.to_owned())
    };
    let merge = |id: i64, into: i64, status, says: &str| {
        ("POST", format!("/api/people/{id}/merge"), Some(json!({ "into": into })), status, says.to_owned())
    };
    let refused = StatusCode::UNPROCESSABLE_ENTITY;
    let long = "n".repeat(crate::desk::tickets::MAX_NAME + 1);
    let table = [
        add(json!({ "name": "Cy", "email": "cy@" }), refused, "\"cy@\" is not an e-mail address"),
        add(json!({ "name": "Cy", "email": "cy smith@example.org" }), refused, "is not an e-mail address"),
        add(json!({ "email": "cy@example.org" }), refused, "a person needs a name"),
        add(json!({ "name": "" }), refused, "a name must be 1 to 128 bytes"),
        add(json!({ "name": "  " }), refused, "a name must be 1 to 128 bytes"),
        add(json!({ "name": long }), refused, "a name must be 1 to 128 bytes"),
        add(json!({ "name": "Cy", "phone": long }), refused, "a phone number must be 1 to 128 bytes"),
        add(json!({ "name": "Cy", "colour": "red" }), refused, "unknown field `colour`"),
        add(
            json!({ "name": "Ann Two", "email": "ann@example.org" }),
            StatusCode::CONFLICT,
            &format!("person {ann} already has the address"),
        ),
        add(
            json!({ "name": "Ann Two", "email": "ANN@Example.org" }),
            StatusCode::CONFLICT,
            &format!("person {ann} already has the address"),
        ),
        edit(bob, json!({ "email": "bob@" }), refused, "\"bob@\" is not an e-mail address"),
        edit(bob, json!({ "name": "" }), refused, "a name must be 1 to 128 bytes"),
        edit(
            bob,
            json!({ "email": "ann@example.org" }),
            StatusCode::CONFLICT,
            &format!("person {ann} already has the address"),
        ),
        edit(9999, json!({ "name": "Cy" }), StatusCode::NOT_FOUND, "person 9999"),
        edit(0, json!({ "name": "Cy" }), StatusCode::BAD_REQUEST, "a person's id is a positive integer"),
        merge(ann, ann, refused, "a person cannot be merged into themselves"),
        merge(ann, 9999, StatusCode::NOT_FOUND, "person 9999"),
        merge(9999, ann, StatusCode::NOT_FOUND, "person 9999"),
        (
            "GET",
            "/api/people/abc".into(),
            None,
            StatusCode::BAD_REQUEST,
            "a person's id is a positive integer, got \"abc\"".into(),
        ),
        ("GET", "/api/people/9999".into(), None, StatusCode::NOT_FOUND, "person 9999".into()),
        (
            "POST",
            "/api/people/abc/merge".into(),
            Some(json!({ "into": ann })),
            StatusCode::BAD_REQUEST,
            "positive integer".into(),
        ),
        ("GET", "/api/people?name=ann".into(), None, StatusCode::BAD_REQUEST, "unknown field `name`".into()),
    ];
    let cases = table.iter().map(|(m, p, b, s, w)| (*m, p.clone(), b.clone(), *s, w.as_str())).collect();
    let wrong = desk.refusals(&token, cases).await;
    assert!(wrong.is_empty(), "{wrong:#?}");
    assert_eq!(records().await, before);
}

#[tokio::test]
async fn a_canned_reply_that_would_not_render_is_refused_when_saved_and_a_good_one_fills_a_reply() {
    let desk = Desk::new();
    let number = desk.ticket().await;
    let token = desk.user("alice", Role::Tier1).await;
    let text = "Hello {requester.name}, about #{ticket.number} ({ticket.subject}): {{done}}. {technician.name}";
    let (status, saved) =
        desk.call("PUT", "/api/canned-replies/greeting", Some(&token), Some(json!({ "body": text }))).await;
    assert_eq!(
        (status, &saved["name"], &saved["author"]),
        (StatusCode::OK, &json!("greeting"), &json!("alice")),
        "{saved}"
    );
    let before = desk.holdings(&token, &[number]).await;
    let put = |name: &str, body: Value, says| {
        ("PUT", format!("/api/canned-replies/{name}"), Some(body), StatusCode::UNPROCESSABLE_ENTITY, says)
    };
    let cases = vec![
        // The message lists the placeholders there are.
        put(
            "typo",
            json!({ "body": "Hi {requester.nmae}" }),
            concat!(
                "unknown placeholder {requester.nmae}; the placeholders are {requester.name}, {requester.email}, ",
                "{ticket.number}, {ticket.subject}, {machine.host}, {technician.name}, {ticket.status}",
            ),
        ),
        // Over a good one: it is kept as it was.
        put("greeting", json!({ "body": "Hi {requester.name" }), "a '{' at byte 3 is not closed"),
        put("greeting", json!({ "body": "Hi }" }), "a '}' at byte 3 closes nothing"),
        put("has%20space", json!({ "body": "Hi" }), "a canned reply's name \"has space\": use 1 to 128 letters"),
        put("empty", json!({ "body": "" }), "a template must be 1 to 16384 bytes"),
        put("blank", json!({ "body": " \n " }), "a template must be 1 to 16384 bytes"),
        put("missing", json!({}), "missing field `body`"),
        ("DELETE", "/api/canned-replies/nope".into(), None, StatusCode::NOT_FOUND, "canned reply \"nope\""),
    ];
    let wrong = desk.refusals(&token, cases).await;
    assert!(wrong.is_empty(), "{wrong:#?}");
    assert_eq!(desk.holdings(&token, &[number]).await, before);

    let (_, list) = desk.call("GET", "/api/canned-replies", Some(&token), None).await;
    assert_eq!((list.as_array().map(Vec::len), &list[0]["body"]), (Some(1), &json!(text)), "{list}");
    let reply = json!({ "action": "reply", "template": "greeting" });
    let (status, _) = desk.call("POST", &format!("/api/tickets/{number}/actions"), Some(&token), Some(reply)).await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, ticket) = desk.call("GET", &format!("/api/tickets/{number}"), Some(&token), None).await;
    let last = ticket["events"].as_array().unwrap().last().unwrap();
    assert_eq!((&last["kind"], &last["actor"]), (&json!("public_reply"), &json!("alice")), "{last}");
    assert_eq!(last["body"], format!("Hello ann, about #{number} (printer jams): {{done}}. alice"));
    let (status, _) = desk.call("DELETE", "/api/canned-replies/greeting", Some(&token), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, list) = desk.call("GET", "/api/canned-replies", Some(&token), None).await;
    assert_eq!(list, json!([]));
}

#[tokio::test]
async fn a_category_change_the_desk_cannot_take_is_refused_and_the_list_is_as_it_was() {
    let desk = Desk::new();
    let number = desk.ticket().await;
    let (admin, tier1) = (desk.user("root", Role::Admin).await, desk.user("alice", Role::Tier1).await);
    let before = desk.holdings(&admin, &[number]).await;
    let add = |body: Value, status, says| ("POST", "/api/categories".to_owned(), Some(body), status, says);
    let forbidden = "only an admin may change the help desk's categories";
    let as_tier1 = vec![
        add(json!({ "name": "printers-3d", "parent": "printing" }), StatusCode::FORBIDDEN, forbidden),
        ("DELETE", "/api/categories/printing".into(), None, StatusCode::FORBIDDEN, forbidden),
    ];
    let wrong = desk.refusals(&tier1, as_tier1).await;
    assert!(wrong.is_empty(), "{wrong:#?}");
    let refused = StatusCode::UNPROCESSABLE_ENTITY;
    let as_admin = vec![
        add(
            json!({ "name": "printers-3d", "parent": "astrology" }),
            refused,
            "no category \"astrology\" to put \"printers-3d\" under",
        ),
        // `storage` is under `hardware`: a third level is refused.
        add(
            json!({ "name": "ssd", "parent": "storage" }),
            refused,
            "\"storage\" is a subcategory already; categories have two levels",
        ),
        add(json!({ "name": "has space" }), refused, "a category name \"has space\": use 1 to 128 letters"),
        add(json!({ "name": "" }), refused, "a category name \"\""),
        add(json!({ "name": "tape", "label": " " }), refused, "a label must be 1 to 128 bytes"),
        add(json!({ "label": "Tape" }), refused, "missing field `name`"),
        ("DELETE", "/api/categories/astrology".into(), None, StatusCode::NOT_FOUND, "category \"astrology\""),
    ];
    let wrong = desk.refusals(&admin, as_admin).await;
    assert!(wrong.is_empty(), "{wrong:#?}");
    assert_eq!(desk.holdings(&admin, &[number]).await, before);
}

#[tokio::test]
async fn an_admin_adds_and_retires_categories_and_tickets_are_offered_only_the_live_ones() {
    let desk = Desk::new();
    let number = desk.ticket().await;
    let (admin, tier1) = (desk.user("root", Role::Admin).await, desk.user("alice", Role::Tier1).await);
    let category = |list: &Value, name: &str| list.as_array().unwrap().iter().find(|c| c["name"] == name).cloned();
    let body = json!({ "name": "printers-3d", "parent": "printing", "label": "3D printers" });
    let (status, list) = desk.call("POST", "/api/categories", Some(&admin), Some(body)).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let added = json!({ "name": "printers-3d", "parent": "printing", "label": "3D printers", "retired": false });
    assert_eq!(category(&list, "printers-3d"), Some(added.clone()));
    let (_, seen) = desk.call("GET", "/api/categories", Some(&tier1), None).await;
    assert_eq!(category(&seen, "printers-3d"), Some(added));
    let actions = format!("/api/tickets/{number}/actions");
    let categorize = json!({ "action": "categorize", "category": "printers-3d" });
    let (status, ticket) = desk.call("POST", &actions, Some(&tier1), Some(categorize.clone())).await;
    assert_eq!((status, &ticket["category"]), (StatusCode::OK, &json!("printers-3d")), "{ticket}");

    let (status, list) = desk.call("DELETE", "/api/categories/printers-3d", Some(&admin), None).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(category(&list, "printers-3d").map(|c| c["retired"].clone()), Some(json!(true)));
    let (_, seen) = desk.call("GET", "/api/categories", Some(&tier1), None).await;
    assert_eq!(seen, list);
    // Retired: kept on the ticket that has it, no longer offered to a new one.
    let (_, ticket) = desk.call("GET", &format!("/api/tickets/{number}"), Some(&tier1), None).await;
    assert_eq!(ticket["category"], "printers-3d");
    let (status, answer) =
        desk.call("POST", "/api/tickets", Some(&tier1), new_ticket(json!({ "category": "printers-3d" }))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert_eq!(desk.audited(&["category.add", "category.retire"]).await, [1, 1]);
}

#[tokio::test]
async fn a_ticket_list_filter_with_a_value_it_does_not_know_is_a_400_naming_those_it_does() {
    let desk = Desk::new();
    let token = desk.user("alice", Role::Tier1).await;
    let get = |query: &str, says| ("GET", format!("/api/tickets?{query}"), None, StatusCode::BAD_REQUEST, says);
    let cases = vec![
        get(
            "status=lost",
            concat!(
                "unknown status \"lost\"; one of new, open, pending-user, pending-third-party, pending-until, ",
                "resolved, closed, merged",
            ),
        ),
        get("priority=urgent", "unknown priority \"urgent\"; one of low, medium, high, critical"),
        get("channel=fax", "unknown channel \"fax\"; one of agent, phone, email, chat, on-site, web"),
        get("sla=late", "unknown sla state \"late\"; one of breached, due-soon"),
        get("sort=random", "unknown sort \"random\"; one of updated, created, priority"),
        get("after=garbage", "cursor \"garbage\" is not one this server gave"),
        get("tier=first", "query: "),
        get("person=ann", "query: "),
        get("limit=-1", "query: "),
        get("colour=red", "unknown field `colour`"),
    ];
    let wrong = desk.refusals(&token, cases).await;
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[tokio::test]
async fn a_ticket_list_by_numbers_has_exactly_those_merged_ones_too_and_refuses_a_bad_list() {
    let desk = Desk::new();
    let token = desk.user("alice", Role::Tier1).await;
    let (a, b, c, merged) = (desk.ticket().await, desk.ticket().await, desk.ticket().await, desk.ticket().await);
    let into = Some(json!({ "into": a }));
    assert_eq!(desk.call("POST", &format!("/api/tickets/{merged}/merge"), Some(&token), into).await.0, StatusCode::OK);
    let listed = |query: String| {
        let desk = &desk;
        let token = token.clone();
        async move {
            let (status, page) = desk.call("GET", &format!("/api/tickets?{query}"), Some(&token), None).await;
            assert_eq!(status, StatusCode::OK, "{query}: {page}");
            let mut numbers: Vec<i64> =
                page["tickets"].as_array().unwrap().iter().map(|t| t["number"].as_i64().unwrap()).collect();
            numbers.sort();
            numbers
        }
    };
    // (query, the tickets listed): a merged ticket asked for by number is listed; other filters still apply.
    let cases = [
        (format!("numbers={a},{c}"), vec![a, c]),
        (format!("numbers={c}"), vec![c]),
        (format!("numbers={b},{merged}"), vec![b, merged]),
        (format!("numbers={a},{a},999"), vec![a]),
        (format!("numbers={a},{merged}&status=merged"), vec![merged]),
        (format!("numbers={a},{b}&text=nothing-like-it"), vec![]),
        ("status=new".to_owned(), vec![a, b, c]),
    ];
    for (query, expected) in cases {
        assert_eq!(listed(query.clone()).await, expected, "{query}");
    }
    let most: Vec<String> = (1..=500).map(|n| n.to_string()).collect();
    assert_eq!(listed(format!("numbers={}", most.join(","))).await, vec![a, b, c, merged]);
    let too_many = format!("{},501", most.join(","));
    let get = |query: String, says| ("GET", format!("/api/tickets?{query}"), None, StatusCode::BAD_REQUEST, says);
    let cases = vec![
        get(format!("numbers={too_many}"), "numbers names 501 tickets; at most 500 at once"),
        get("numbers=".into(), "ticket number must be a positive integer, got \"\""),
        get("numbers=1,,2".into(), "ticket number must be a positive integer, got \"\""),
        get("numbers=1,two".into(), "ticket number must be a positive integer, got \"two\""),
        get("numbers=0".into(), "ticket number must be a positive integer, got \"0\""),
        get("numbers=1%202".into(), "ticket number must be a positive integer, got \"1 2\""),
    ];
    let wrong = desk.refusals(&token, cases).await;
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[tokio::test]
async fn a_status_other_than_pending_until_takes_no_date_even_a_past_one() {
    let desk = Desk::new();
    let number = desk.ticket().await;
    let token = desk.user("alice", Role::Tier1).await;
    let before = desk.holdings(&token, &[number]).await;
    // A date long past once passed for "no date" and was stored: an open ticket said "pending until 1970-01-01".
    // Only `pending-until` takes a date, and only a future one.
    let open = json!({ "action": "status", "status": "open", "until": 1000 });
    let cases = vec![(
        "POST",
        format!("/api/tickets/{number}/actions"),
        Some(open),
        StatusCode::UNPROCESSABLE_ENTITY,
        "other statuses take no date",
    )];
    let wrong = desk.refusals(&token, cases).await;
    assert!(wrong.is_empty(), "{wrong:#?}");
    assert_eq!(desk.holdings(&token, &[number]).await, before);
}

#[tokio::test]
async fn a_ticket_that_records_a_new_person_checks_their_phone_as_a_person_record_does() {
    let desk = Desk::new();
    let token = desk.user("alice", Role::Tier1).await;
    let before = desk.holdings(&token, &[]).await;
    // The person a ticket records is held to what `POST /api/people` holds a record to: a phone of any length, or a
    // blank one, was once stored on the new person's record.
    let long = "5".repeat(crate::desk::tickets::MAX_NAME + 1);
    let cases = vec![
        (
            "POST",
            "/api/tickets".into(),
            new_ticket(json!({ "phone": long })),
            StatusCode::UNPROCESSABLE_ENTITY,
            "a phone number must be 1 to 128 bytes",
        ),
        (
            "POST",
            "/api/tickets".into(),
            new_ticket(json!({ "phone": " ", "email": "yan@example.org" })),
            StatusCode::UNPROCESSABLE_ENTITY,
            "a phone number must be 1 to 128 bytes",
        ),
    ];
    let wrong = desk.refusals(&token, cases).await;
    assert!(wrong.is_empty(), "{wrong:#?}");
    assert_eq!(desk.holdings(&token, &[]).await, before);
}

#[tokio::test]
async fn a_category_with_subcategories_cannot_go_under_another_nor_any_under_itself() {
    let desk = Desk::new();
    let admin = desk.user("root", Role::Admin).await;
    let before = desk.holdings(&admin, &[]).await;
    // Adding a name that exists moves it (`add_category` upserts): a category with subcategories under another would
    // make a third level (network > hardware > storage), and one under itself a cycle.
    let add = |name: &str, parent: &str, says| {
        (
            "POST",
            "/api/categories".to_owned(),
            Some(json!({ "name": name, "parent": parent })),
            StatusCode::UNPROCESSABLE_ENTITY,
            says,
        )
    };
    let cases = vec![add("hardware", "network", "two levels"), add("network", "network", "itself")];
    let wrong = desk.refusals(&admin, cases).await;
    assert!(wrong.is_empty(), "{wrong:#?}");
    assert_eq!(desk.holdings(&admin, &[]).await, before);
}

#[tokio::test]
async fn a_webhook_endpoint_that_cannot_be_kept_is_refused_and_nothing_is_stored() {
    let desk = Desk::new();
    let (admin, tier3) = (desk.user("root", Role::Admin).await, desk.user("carl", Role::Tier3).await);
    let add = |body: Value, status, says| ("POST", "/api/webhooks".to_owned(), Some(body), status, says);
    let forbidden = "only an admin may see and change webhooks and the mail channel";
    let as_tier3 = vec![
        add(json!({ "url": "https://hooks.example.com/", "events": ["all"] }), StatusCode::FORBIDDEN, forbidden),
        ("GET", "/api/webhooks".into(), None, StatusCode::FORBIDDEN, forbidden),
        ("GET", "/api/webhook-deliveries".into(), None, StatusCode::FORBIDDEN, forbidden),
        ("POST", "/api/webhook-deliveries/1/redeliver".into(), None, StatusCode::FORBIDDEN, forbidden),
    ];
    let wrong = desk.refusals(&tier3, as_tier3).await;
    assert!(wrong.is_empty(), "{wrong:#?}");
    let refused = StatusCode::UNPROCESSABLE_ENTITY;
    let url = "https://hooks.example.com/lifeline";
    let as_admin = vec![
        add(
            json!({ "url": url, "events": ["ticket.deleted"] }),
            StatusCode::BAD_REQUEST,
            "unknown event \"ticket.deleted\"",
        ),
        add(json!({ "url": url, "events": [] }), StatusCode::BAD_REQUEST, "name at least one event"),
        add(json!({ "url": "ftp://example.com/", "events": ["all"] }), refused, "must start with https://"),
        add(json!({ "url": "hooks.example.com", "events": ["all"] }), refused, "must start with https://"),
        add(json!({ "url": "https://exa mple.com/", "events": ["all"] }), refused, "not a URL"),
        add(json!({ "url": url, "events": ["agent.offline"], "offline_after": 5 }), refused, "between 1 minute"),
        add(json!({ "url": url, "events": ["all"], "secret": "hunter2" }), refused, "a secret starts with whsec_"),
        add(json!({ "url": url, "events": ["all"], "secret": "whsec_c2hvcnQ=" }), refused, "24 to 64 bytes"),
        add(json!({ "events": ["all"] }), StatusCode::UNPROCESSABLE_ENTITY, "missing field `url`"),
        ("DELETE", "/api/webhooks/7".into(), None, StatusCode::NOT_FOUND, "webhook endpoint 7"),
        ("DELETE", "/api/webhooks/x".into(), None, StatusCode::BAD_REQUEST, "an endpoint's id is a positive integer"),
        ("POST", "/api/webhook-deliveries/9/redeliver".into(), None, StatusCode::NOT_FOUND, "webhook delivery 9"),
        ("GET", "/api/webhook-deliveries?state=lost".into(), None, refused, "no delivery state \"lost\""),
    ];
    let wrong = desk.refusals(&admin, as_admin).await;
    assert!(wrong.is_empty(), "{wrong:#?}");
    let (status, list) = desk.call("GET", "/api/webhooks", Some(&admin), None).await;
    assert_eq!((status, list), (StatusCode::OK, json!([])));
    assert_eq!(desk.audited(&["webhook.add"]).await, [0]);
}

/// Where the description is kept, beside the server's Cargo.toml.
const OPENAPI_FILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.json");

/// `server/openapi.json` is what clients are generated from and what the test command's API fuzzing reads, so a route
/// or a view that changes must change it too, in the same commit.
#[test]
fn the_committed_openapi_description_is_the_one_the_code_makes() {
    let made = super::openapi_text().unwrap();
    if std::env::var_os("LIFELINE_BLESS").is_some() {
        std::fs::write(OPENAPI_FILE, &made).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(OPENAPI_FILE).unwrap_or_default();
    if committed != made {
        let line = committed.lines().zip(made.lines()).position(|(a, b)| a != b);
        let line = line.unwrap_or_else(|| committed.lines().count().min(made.lines().count()));
        let (was, is) = (committed.lines().nth(line).unwrap_or(""), made.lines().nth(line).unwrap_or(""));
        panic!(
            "server/openapi.json is not the description the code makes (a route or a view changed without it); \
             first difference at line {}:\n  committed: {was}\n  made:      {is}\n\
             Regenerate it with `LIFELINE_BLESS=1 cargo test -p lifeline-server openapi`, read the diff, and commit \
             it.",
            line + 1
        );
    }
    let document: Value = serde_json::from_str(&made).unwrap();
    assert_eq!(document["openapi"], "3.1.0");
}

/// A schema a route names but the document lacks leaves that part of the route undescribed: utoipa adds the schemas
/// a handler's bodies use, not always those its parameters do.
#[test]
fn every_schema_the_openapi_description_refers_to_is_in_it() {
    fn refs<'a>(value: &'a Value, found: &mut Vec<&'a str>) {
        match value {
            Value::Object(map) => {
                if let Some(Value::String(target)) = map.get("$ref") {
                    found.push(target);
                }
                map.values().for_each(|v| refs(v, found));
            }
            Value::Array(items) => items.iter().for_each(|v| refs(v, found)),
            _ => {}
        }
    }
    let document = serde_json::to_value(super::openapi()).unwrap();
    let mut found = Vec::new();
    refs(&document, &mut found);
    let schemas = document["components"]["schemas"].as_object().unwrap();
    let missing: Vec<&str> = found
        .into_iter()
        .filter(|r| r.strip_prefix("#/components/schemas/").is_none_or(|name| !schemas.contains_key(name)))
        .collect();
    assert!(missing.is_empty(), "{missing:?}");
}

/// The description's operations, as (method, path with each parameter set to 1, public).
fn described_operations() -> Vec<(String, String, bool)> {
    let document = serde_json::to_value(super::openapi()).unwrap();
    let mut operations = Vec::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        let mut concrete = String::new();
        for (i, part) in path.split(['{', '}']).enumerate() {
            concrete.push_str(if i % 2 == 1 { "1" } else { part });
        }
        for (method, operation) in item.as_object().unwrap() {
            // An empty requirement among the operation's own: it may be called without a token.
            let public = operation["security"].as_array().is_some_and(|s| s.contains(&json!({})));
            operations.push((method.to_uppercase(), concrete.clone(), public));
        }
    }
    operations
}

#[tokio::test]
async fn every_operation_of_the_openapi_description_is_a_route_and_asks_for_a_token_unless_public() {
    let desk = Desk::new();
    let operations = described_operations();
    assert!(operations.len() > 50, "{operations:?}");
    for (method, path, public) in operations {
        let (status, body) = desk.call(&method, &path, None, None).await;
        assert!(status != StatusCode::METHOD_NOT_ALLOWED && body["error"] != "no such route", "{method} {path}");
        if !public {
            assert_eq!((status, body["error"].as_str()), (StatusCode::UNAUTHORIZED, Some("missing bearer token")));
        }
    }
    let public: Vec<(String, String)> =
        described_operations().into_iter().filter(|(.., public)| *public).map(|(m, p, _)| (m, p)).collect();
    let expected = [("POST", "/api/login"), ("GET", "/api/openapi.json"), ("GET", "/health")];
    let expected: Vec<(String, String)> = expected.iter().map(|(m, p)| ((*m).to_owned(), (*p).to_owned())).collect();
    assert_eq!(public, expected);
}

#[tokio::test]
async fn the_openapi_description_is_served_without_a_token_as_it_is_committed() {
    let desk = Desk::new();
    let (status, headers, document) = desk.send(HOME, "GET", "/api/openapi.json", None, None).await;
    assert_eq!((status, headers[header::CONTENT_TYPE].to_str().unwrap()), (StatusCode::OK, "application/json"));
    let made: Value = serde_json::from_str(&super::openapi_text().unwrap()).unwrap();
    assert_eq!(document, made);
}

/// `metrics_listen`: plain HTTP, no token, `/metrics` and nothing else.
#[tokio::test]
async fn the_metrics_listener_serves_metrics_without_a_token_and_nothing_else() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let desk = Desk::new();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(super::serve_metrics(desk.state.clone(), listener));
    let get = |path: &'static str| async move {
        let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        tcp.write_all(request.as_bytes()).await.unwrap();
        let mut answer = String::new();
        tcp.read_to_string(&mut answer).await.unwrap();
        answer
    };
    let metrics = get("/metrics").await;
    assert!(metrics.starts_with("HTTP/1.1 200"), "{metrics}");
    assert!(metrics.contains("lifeline_build_info{version="), "{metrics}");
    let other = get("/api/tickets").await;
    assert!(other.starts_with("HTTP/1.1 404") && other.contains("only /metrics"), "{other}");
}

#[tokio::test]
async fn a_method_a_route_does_not_take_is_a_json_405_that_names_those_it_does() {
    let desk = Desk::new();
    let token = desk.user("alice", Role::Tier1).await;
    let (status, headers, body) = desk.send(HOME, "DELETE", "/api/tickets", Some(&token), None).await;
    assert_eq!((status, headers[header::ALLOW].to_str().unwrap()), (StatusCode::METHOD_NOT_ALLOWED, "GET,HEAD,POST"));
    assert_eq!(body["error"], "this route does not take that method");
}

/// A client may send its next request on the connection as soon as it has an answer: one the server will not read
/// on must say so, or the client's next request is lost with the connection.
#[tokio::test]
async fn an_answer_given_without_reading_the_body_closes_the_connection_and_one_that_read_it_does_not() {
    let desk = Desk::new();
    let token = desk.user("alice", Role::Tier1).await;
    let person = Some(json!({ "name": "Ann" }).to_string());
    let close = |headers: &HeaderMap| headers.get(header::CONNECTION).map(|v| v.to_str().unwrap().to_owned());
    for (method, path, token) in
        [("POST", "/api/people", None), ("DELETE", "/api/people", Some(token.as_str())), ("POST", "/api/nothing", None)]
    {
        let (status, headers, _) = desk.send(HOME, method, path, token, person.clone()).await;
        assert_eq!(close(&headers).as_deref(), Some("close"), "{method} {path}: {status}");
    }
    let (status, headers, _) = desk.send(HOME, "POST", "/api/people", Some(&token), person).await;
    assert_eq!((status, close(&headers)), (StatusCode::CREATED, None));
    let (status, headers, _) = desk.send(HOME, "GET", "/api/people", Some(&token), None).await;
    assert_eq!((status, close(&headers)), (StatusCode::OK, None));
}

/// A request carrying only the console's session cookie, as a browser's `EventSource` or form sends it.
async fn with_cookie(desk: &Desk, method: &str, path: &str, session: &str, body: Option<Value>) -> (StatusCode, Value) {
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header(header::COOKIE, format!("__Host-lifeline-lang=en; __Host-lifeline-session={session}"));
    if body.is_some() {
        request = request.header(header::CONTENT_TYPE, "application/json");
    }
    let mut request = request.body(body.map_or_else(Body::empty, |b| Body::from(b.to_string()))).unwrap();
    request.extensions_mut().insert(ConnectInfo(HOME.parse::<SocketAddr>().unwrap()));
    let response = super::router(desk.state.clone()).oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

/// The console's live charts read the API with the session cookie, since `EventSource` cannot send a header: a GET
/// takes the cookie's login token as it would a bearer token, and a write never does, whoever's session it is.
#[tokio::test]
async fn the_console_session_cookie_reads_the_api_and_never_writes_to_it() {
    use crate::service::auth::Login;
    let desk = Desk::new();
    let token = desk.user("root", Role::Admin).await;
    let ip = HOME.parse::<SocketAddr>().unwrap().ip();
    let Login::Granted(session) =
        crate::service::auth::login(&desk.state.store, "root".into(), PASSWORD.into(), ip).await.unwrap()
    else {
        panic!("the login was refused");
    };
    let session = session.token;
    desk.state.store.write(|c| c.insert_simulated_agents(&[("ag-1".into(), "fp-1".into())], now_ms())).await.unwrap();

    let (status, me) = with_cookie(&desk, "GET", "/api/me", &session, None).await;
    assert_eq!((status, me["name"].as_str()), (StatusCode::OK, Some("root")));
    let (status, agent) = with_cookie(&desk, "GET", "/api/agents/ag-1", &session, None).await;
    assert_eq!((status, &agent["revoked_at"]), (StatusCode::OK, &Value::Null));
    let (status, body) = with_cookie(&desk, "GET", "/api/agents", &session, None).await;
    assert_eq!((status, body.as_array().map(Vec::len)), (StatusCode::OK, Some(1)));
    let (status, body) = with_cookie(&desk, "GET", "/api/me", "llt_nobody", None).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::UNAUTHORIZED, Some("unknown API token")));

    // Writes: refused as if there were no token at all, and nothing is done.
    let (status, body) = with_cookie(&desk, "POST", "/api/agents/ag-1/revoke", &session, None).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::UNAUTHORIZED, Some("missing bearer token")));
    let (status, _) = with_cookie(&desk, "POST", "/api/tickets", &session, new_ticket(json!({}))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, agent) = desk.call("GET", "/api/agents/ag-1", Some(&token), None).await;
    assert_eq!((status, &agent["revoked_at"]), (StatusCode::OK, &Value::Null));
    let (status, tickets) = desk.call("GET", "/api/tickets", Some(&token), None).await;
    assert_eq!((status, tickets["tickets"].as_array().map(Vec::len)), (StatusCode::OK, Some(0)));
    assert_eq!(desk.audited(&["agent.revoked"]).await, [0]);
    // The same write with the bearer token is taken: the refusal was the cookie's, not the admin's.
    let (status, _) = desk.call("POST", "/api/agents/ag-1/revoke", Some(&token), None).await;
    assert_eq!(status, StatusCode::OK);
}

/// A GET answered with raw bytes, as a file download is.
async fn fetch(desk: &Desk, path: &str, token: &str) -> (StatusCode, HeaderMap, Vec<u8>) {
    let mut request = Request::builder()
        .uri(path)
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    request.extensions_mut().insert(ConnectInfo(HOME.parse::<SocketAddr>().unwrap()));
    let response: Response = super::router(desk.state.clone()).oneshot(request).await.unwrap();
    let (status, headers) = (response.status(), response.headers().clone());
    (status, headers, axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap().to_vec())
}

/// Files mail brought: listed on the ticket's view (those of a ticket merged into it too), each downloaded as it
/// came and only ever as a download, and only on the ticket whose view lists it.
#[tokio::test]
async fn attachments_are_listed_on_their_ticket_and_downloaded_only_there_and_only_as_files() {
    let desk = Desk::new();
    let token = desk.user("alice", Role::Tier1).await;
    let mailer = desk.user("postfix", Role::Mailer).await;
    let (a, b, other) = (desk.ticket().await, desk.ticket().await, desk.ticket().await);
    let page = b"<script>fetch('/api/me')</script>".to_vec();
    let name = "report \"final\";\r\nX-Evil: 1 \u{e9}%.html";
    let files = [
        (a, name, "text/html", page.clone()),
        (b, "boot.log", "text/plain", b"ok\n".to_vec()),
        (a, "odd.bin", "text/html\nx-evil: 1", vec![0, 255, 1]),
    ];
    for (ticket, name, content_type, data) in files {
        desk.state
            .store
            .write(move |c| {
                let mail = crate::store::mail::NewMail {
                    direction: "in",
                    message_id: None,
                    ticket: Some(ticket),
                    address: "ann@example.org",
                    subject: "files",
                    refs: &[],
                    outcome: "follow_up",
                };
                let message = c.record_mail(&mail, now_ms())?;
                c.add_attachment(ticket, message, name, content_type, &data, now_ms())
            })
            .await
            .unwrap();
    }
    let (status, view) = desk.call("GET", &format!("/api/tickets/{a}"), Some(&token), None).await;
    assert_eq!(status, StatusCode::OK);
    let listed: Vec<(&str, &str, i64)> = view["attachments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["name"].as_str().unwrap(), f["content_type"].as_str().unwrap(), f["size"].as_i64().unwrap()))
        .collect();
    assert_eq!(listed, [(name, "text/html", page.len() as i64), ("odd.bin", "text/html\nx-evil: 1", 3)]);
    let ids: Vec<i64> = view["attachments"].as_array().unwrap().iter().map(|f| f["id"].as_i64().unwrap()).collect();
    let (html, odd) = (ids[0], ids[1]);

    let (status, headers, body) = fetch(&desk, &format!("/api/tickets/{a}/attachments/{html}"), &token).await;
    assert_eq!((status, body), (StatusCode::OK, page.clone()));
    let header = |name: header::HeaderName| headers[name].to_str().unwrap().to_owned();
    assert_eq!(header(header::CONTENT_TYPE), "text/html");
    assert_eq!(
        header(header::CONTENT_DISPOSITION),
        "attachment; filename*=UTF-8''report%20%22final%22%3B%0D%0AX-Evil%3A%201%20%C3%A9%25.html"
    );
    assert_eq!(header(header::X_CONTENT_TYPE_OPTIONS), "nosniff");
    assert_eq!(header(header::CONTENT_SECURITY_POLICY), "sandbox; default-src 'none'");
    assert_eq!(headers.get("x-evil"), None);
    // A type that is no media type reaches no header: the bytes go as bytes.
    let (status, headers, body) = fetch(&desk, &format!("/api/tickets/{a}/attachments/{odd}"), &token).await;
    assert_eq!((status, body), (StatusCode::OK, vec![0, 255, 1]));
    assert_eq!(headers[header::CONTENT_TYPE], "application/octet-stream");
    assert_eq!(headers.get("x-evil"), None);
    // The console links here: a GET takes its session cookie as it would the bearer token.
    let ip = HOME.parse::<SocketAddr>().unwrap().ip();
    let crate::service::auth::Login::Granted(session) =
        crate::service::auth::login(&desk.state.store, "alice".into(), PASSWORD.into(), ip).await.unwrap()
    else {
        panic!("the login was refused");
    };
    let path = format!("/api/tickets/{a}/attachments/{html}");
    assert_eq!(with_cookie(&desk, "GET", &path, &session.token, None).await.0, StatusCode::OK);

    // Merged: the ticket that carries on lists both tickets' files and serves them; the merged one only its own.
    let into = Some(json!({ "into": b }));
    assert_eq!(desk.call("POST", &format!("/api/tickets/{a}/merge"), Some(&token), into).await.0, StatusCode::OK);
    let (_, view) = desk.call("GET", &format!("/api/tickets/{b}"), Some(&token), None).await;
    let listed: Vec<(&str, &Value)> = view["attachments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["name"].as_str().unwrap(), &f["from_ticket"]))
        .collect();
    assert_eq!(listed, [(name, &json!(a)), ("boot.log", &Value::Null), ("odd.bin", &json!(a))]);
    let log = view["attachments"][1]["id"].as_i64().unwrap();
    for (ticket, id, status) in [
        (b, html, StatusCode::OK),
        (b, log, StatusCode::OK),
        (a, html, StatusCode::OK),
        (a, log, StatusCode::NOT_FOUND),
        (other, html, StatusCode::NOT_FOUND),
        (other, 9999, StatusCode::NOT_FOUND),
        (9999, html, StatusCode::NOT_FOUND),
    ] {
        let path = format!("/api/tickets/{ticket}/attachments/{id}");
        let (got, _, body) = fetch(&desk, &path, &token).await;
        assert_eq!(got, status, "{path}: {}", String::from_utf8_lossy(&body));
    }
    let (status, answer) =
        desk.call("GET", &format!("/api/tickets/{other}/attachments/{html}"), Some(&token), None).await;
    assert_eq!(answer["error"], format!("not found: attachment {html} on ticket {other}"), "{status}");
    for id in ["0", "x", "-1"] {
        let (status, _, _) = fetch(&desk, &format!("/api/tickets/{b}/attachments/{id}"), &token).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{id}");
    }
    // Whoever may not read the ticket may not read its files.
    let (status, _, _) = fetch(&desk, &format!("/api/tickets/{b}/attachments/{log}"), &mailer).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[test]
fn a_files_name_is_percent_encoded_whole_and_its_type_passes_only_as_a_media_type() {
    use super::tickets::{disposition, served_type};
    for (name, expected) in [
        ("small.log", "attachment; filename*=UTF-8''small.log"),
        ("Résumé final.pdf", "attachment; filename*=UTF-8''R%C3%A9sum%C3%A9%20final.pdf"),
        ("a\"b;c\\d'e,f", "attachment; filename*=UTF-8''a%22b%3Bc%5Cd%27e%2Cf"),
        ("", "attachment; filename*=UTF-8''"),
    ] {
        assert_eq!(disposition(name), expected, "{name:?}");
    }
    for (stored, served) in [
        ("text/plain", "text/plain"),
        ("application/vnd.ms-excel", "application/vnd.ms-excel"),
        ("image/svg+xml", "image/svg+xml"),
        ("text", "application/octet-stream"),
        ("text/", "application/octet-stream"),
        ("/plain", "application/octet-stream"),
        ("text/plain; charset=utf-8", "application/octet-stream"),
        ("text/html\r\nset-cookie: x", "application/octet-stream"),
        ("text/pläin", "application/octet-stream"),
        ("a/b/c", "application/octet-stream"),
    ] {
        assert_eq!(served_type(stored), served, "{stored:?}");
    }
}
