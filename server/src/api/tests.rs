//! The router in process, through `oneshot`: authentication, each error's status, and the shape of each route's
//! answer. The end-to-end tests drive the same routes over HTTPS from the CLI.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
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
                let user = c.add_user(&name, role, "a long enough password", now_ms())?;
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
        };
        let opened = self
            .state
            .store
            .write(move |c| c.open_ticket(None, &[(Actor::technician("bob"), created)], now_ms()))
            .await;
        opened.unwrap().0
    }

    async fn call(&self, method: &str, path: &str, token: Option<&str>, body: Option<Value>) -> (StatusCode, Value) {
        let mut request = Request::builder().method(method).uri(path);
        if let Some(token) = token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let body = match body {
            Some(json) => {
                request = request.header(header::CONTENT_TYPE, "application/json");
                Body::from(json.to_string())
            }
            None => Body::empty(),
        };
        let response = super::router(self.state.clone()).oneshot(request.body(body).unwrap()).await.unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
        (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }
}

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
    let (status, body) = desk.call("POST", "/api/login", None, Some(login("alice", "a long enough password"))).await;
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
        (&auditor, "POST", actions.as_str(), Some(note.clone()), "auditors may read but not change tickets"),
        (
            &auditor,
            "POST",
            "/api/agents/ag-1/checks",
            Some(json!({ "check": "disk-usage" })),
            "auditors may read but not run checks",
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
    assert_eq!(desk.call("POST", &actions, Some(&tier1), Some(note)).await.0, StatusCode::OK);
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
        ("POST", actions.clone(), Some(json!({ "action": "status", "status": "lost" })), StatusCode::BAD_REQUEST),
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
        StatusCode::OK
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
    assert_eq!(list[0]["number"], number);
    assert_eq!(list[0]["status"], "new");
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
async fn a_command_on_a_ticket_that_changed_since_it_was_seen_is_a_conflict() {
    let desk = Desk::new();
    let number = desk.ticket().await;
    let (alice, bob) = (desk.user("alice", Role::Tier1).await, desk.user("bob", Role::Tier1).await);
    let (_, seen) = desk.call("GET", &format!("/api/tickets/{number}"), Some(&alice), None).await;
    let version = seen["version"].as_i64().unwrap();
    assert_eq!(version, 1, "a new ticket's log holds its creation: {seen}");
    let at = |v: i64| format!("/api/tickets/{number}/actions?version={v}");
    let reply = |text: &str| Some(json!({ "action": "reply", "body": text }));
    let (status, first) = desk.call("POST", &at(version), Some(&bob), reply("I am on it")).await;
    assert_eq!((status, first["version"].as_i64()), (StatusCode::OK, Some(2)));
    let (status, late) = desk.call("POST", &at(version), Some(&alice), reply("me too")).await;
    assert_eq!(status, StatusCode::CONFLICT, "{late}");
    assert!(late["error"].as_str().is_some_and(|e| e.contains("changed meanwhile")), "{late}");
    let (_, after) = desk.call("GET", &format!("/api/tickets/{number}"), Some(&alice), None).await;
    assert_eq!(after["events"].as_array().map(Vec::len), Some(2), "the late reply was not stored: {after}");
    assert_eq!(desk.call("POST", &at(2), Some(&alice), reply("me too")).await.0, StatusCode::OK);
}
