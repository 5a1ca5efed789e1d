//! The technicians' HTTPS JSON API. Every route but `/health` needs a bearer token; every failure, including a body
//! that is not JSON, answers with a JSON `{"error": ...}` and a status code that says whose fault it was.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequestParts, Path, Query, State as AxumState};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use lifeline_shared::catalog::{CATALOG, Class};
use lifeline_shared::diff::{self, Change};
use lifeline_shared::findings::{self, Finding};
use lifeline_shared::wire::{ServerControl, Snapshot, WATCH_INTERVAL_MS, WATCH_MAX_SECS, close};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::sync::broadcast;
use tracing::{error, info, warn};

use crate::checks::{self, Ask, CheckError};
use crate::live::Live;
use crate::store::auth::{Role, User};
use crate::store::checks::{self as runs, Run};
use crate::store::{StoreError, agents, audit, auth, now_ms, tickets as ticket_store};
use crate::tickets::{Event, Status};
use crate::{State, requester};

type AppState = Arc<State>;

/// Largest request body: technicians send notes and commands, never files.
const MAX_BODY: usize = 64 * 1024;

pub fn router(state: AppState) -> axum::Router {
    axum::Router::new()
        .route("/health", get(health))
        .route("/api/login", post(login))
        .route("/api/me", get(me))
        .route("/api/agents", get(list_agents))
        .route("/api/agents/{id}", get(show_agent))
        .route("/api/agents/{id}/revoke", post(revoke_agent))
        .route("/api/tickets", get(list_tickets))
        .route("/api/tickets/{number}", get(show_ticket))
        .route("/api/tickets/{number}/actions", post(act_on_ticket))
        .route("/api/tickets/{number}/refresh", post(refresh_ticket))
        .route("/api/tickets/{number}/diff", get(diff_ticket))
        .route("/api/catalog", get(catalog))
        .route("/api/agents/{id}/checks", post(run_check))
        .route("/api/agents/{id}/live", get(live_stream))
        .route("/api/checks/{id}", get(show_check))
        .route("/api/stats/self-help", get(self_help_stats))
        .route("/api/audit", get(audit_entries))
        .route("/api/audit/verify", get(audit_verify))
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "no such route") })
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
        .with_state(state)
}

pub async fn serve(state: AppState, listener: tokio::net::TcpListener, tls: Arc<rustls::ServerConfig>) {
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    let app = router(state);
    loop {
        let (tcp, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                warn!(error = %e, "API accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let acceptor = acceptor.clone();
        let service = hyper_util::service::TowerToHyperService::new(app.clone());
        tokio::spawn(async move {
            let tls = match tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp)).await {
                Ok(Ok(tls)) => tls,
                Ok(Err(e)) => return tracing::debug!(%peer, error = %e, "API TLS handshake failed"),
                Err(_) => return tracing::debug!(%peer, "API TLS handshake timed out"),
            };
            let io = hyper_util::rt::TokioIo::new(tls);
            if let Err(e) = hyper::server::conn::http1::Builder::new().serve_connection(io, service).await {
                tracing::debug!(%peer, error = %e, "API connection ended with an error");
            }
        });
    }
}

#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
}

/// What a client is asked to wait before it tries again after a 503: long enough for an admin to free space or a
/// busy writer to let go, short enough that a script's retry loop notices recovery soon.
const RETRY_AFTER_SECS: u32 = 5;

impl ApiError {
    fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError { status, message: message.into() }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Json(json!({ "error": self.message }));
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            return (self.status, [(header::RETRY_AFTER, RETRY_AFTER_SECS.to_string())], body).into_response();
        }
        (self.status, body).into_response()
    }
}

/// The one place a store error becomes a status: 4xx for the caller's faults, 503 (try again) for a passing fault of
/// ours, 500 for the rest.
impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        let status = match &e {
            StoreError::NotFound(_) => StatusCode::NOT_FOUND,
            StoreError::Refused(_) => StatusCode::UNPROCESSABLE_ENTITY,
            StoreError::Conflict(_) => StatusCode::CONFLICT,
            // Logged by the store once per burst.
            StoreError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            StoreError::Internal(_) | StoreError::Corrupt(_) => {
                error!(error = %e, "store error behind an API request");
                return ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "server error; see the server log");
            }
        };
        ApiError::new(status, e.to_string())
    }
}

impl From<JsonRejection> for ApiError {
    fn from(e: JsonRejection) -> ApiError {
        warn!(error = %e.body_text(), "rejected API request body");
        // axum's own status says which fault it was: 400 bad JSON, 413 too large, 415 not declared as JSON.
        ApiError::new(e.status(), format!("request body: {}", e.body_text()))
    }
}

/// The authenticated technician behind a request.
pub struct Tech(User);

impl FromRequestParts<AppState> for Tech {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let token = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::to_owned)
            .ok_or_else(|| ApiError::new(StatusCode::UNAUTHORIZED, "missing bearer token"))?;
        match state.store.read(move |c| auth::user_by_api_token(c, &token, now_ms())).await? {
            Some(user) => Ok(Tech(user)),
            None => {
                warn!(path = %parts.uri.path(), "refused an unknown API token");
                Err(ApiError::new(StatusCode::UNAUTHORIZED, "unknown API token"))
            }
        }
    }
}

async fn health() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok", "version": env!("CARGO_PKG_VERSION") }))
}

#[derive(Deserialize)]
struct LoginBody {
    user: String,
    password: String,
}

/// Name and password for a token that ends after a working day. One answer for an unknown name and a wrong
/// password, so the route does not tell which accounts exist; both are audited.
async fn login(
    AxumState(state): AxumState<AppState>,
    body: Result<Json<LoginBody>, JsonRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Json(LoginBody { user: name, password }) = body?;
    if name.is_empty() || name.len() > 64 || password.len() > 1024 {
        return Err(ApiError::new(StatusCode::BAD_REQUEST, "user must be 1 to 64 bytes, password at most 1024"));
    }
    let lookup = name.clone();
    let account = state.store.read(move |c| auth::password_hash(c, &lookup)).await?;
    let user = tokio::task::spawn_blocking(move || match account {
        Some((user, hash)) => auth::password_matches(&password, &hash).then_some(user),
        // The same work for a name that does not exist, so the answer's timing does not tell either.
        None => {
            auth::password_matches(&password, &auth::DECOY_HASH);
            None
        }
    })
    .await
    .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, format!("password check failed: {e}")))?;
    let now = now_ms();
    let (who, checked) = (name.clone(), user.clone());
    let token = state.store.write(move |c| auth::record_login(c, &who, checked.as_ref(), now)).await?;
    match (token, user) {
        (Some(token), Some(user)) => {
            info!(user = %user.name, "login");
            Ok(Json(json!({ "token": token, "user": user, "expires_at": now + auth::LOGIN_TOKEN_MS })))
        }
        _ => {
            warn!(user = %name, "login refused");
            Err(ApiError::new(StatusCode::UNAUTHORIZED, "wrong user name or password"))
        }
    }
}

async fn me(Tech(user): Tech) -> Json<User> {
    Json(user)
}

#[derive(Serialize)]
struct AgentView {
    #[serde(flatten)]
    agent: agents::Agent,
    connected: bool,
}

async fn list_agents(AxumState(state): AxumState<AppState>, _: Tech) -> Result<Json<Vec<AgentView>>, ApiError> {
    let list = state.store.read(agents::list).await?;
    Ok(Json(
        list.into_iter().map(|agent| AgentView { connected: state.connected.contains(&agent.id), agent }).collect(),
    ))
}

#[derive(Serialize)]
struct AgentDetail {
    #[serde(flatten)]
    view: AgentView,
    snapshot_count: i64,
    findings: Vec<Finding>,
    /// The latest snapshot, so a technician sees the machine without waiting for a ticket.
    snapshot: Option<Snapshot>,
}

async fn show_agent(
    AxumState(state): AxumState<AppState>,
    _: Tech,
    Path(id): Path<String>,
) -> Result<Json<AgentDetail>, ApiError> {
    let agent_id = id.clone();
    let (agent, snapshot_count, snapshot) = state
        .store
        .read(move |c| {
            let agent =
                agents::by_id(c, &agent_id)?.ok_or_else(|| StoreError::NotFound(format!("agent {agent_id}")))?;
            let latest = agents::latest_snapshot_id(c, &agent_id)?;
            let snapshot = latest.map(|snap| agents::snapshot(c, &agent_id, &snap)).transpose()?;
            Ok((agent, agents::snapshot_count(c, &agent_id)?, snapshot))
        })
        .await?;
    let findings = snapshot.as_ref().map(findings::evaluate).unwrap_or_default();
    let view = AgentView { connected: state.connected.contains(&id), agent };
    Ok(Json(AgentDetail { view, snapshot_count, findings, snapshot }))
}

async fn revoke_agent(
    AxumState(state): AxumState<AppState>,
    Tech(user): Tech,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    if user.role != Role::Admin {
        return Err(ApiError::new(StatusCode::FORBIDDEN, "only an admin may revoke agents"));
    }
    let (agent, by) = (id.clone(), user.name.clone());
    state.store.write(move |c| agents::revoke(c, &agent, &by, now_ms())).await?;
    state.connected.close(&id, close::REVOKED, b"this agent has been revoked");
    info!(agent_id = %id, by = %user.name, "revoked agent");
    Ok(Json(json!({ "revoked": id })))
}

#[derive(Deserialize)]
struct ListQuery {
    status: Option<String>,
}

async fn list_tickets(
    AxumState(state): AxumState<AppState>,
    _: Tech,
    Query(q): Query<ListQuery>,
) -> Result<Json<Vec<ticket_store::ListedTicket>>, ApiError> {
    let status = q.status.as_deref().map(parse_status).transpose()?;
    Ok(Json(state.store.read(move |c| ticket_store::list(c, status)).await?))
}

#[derive(Deserialize)]
struct SinceQuery {
    days: Option<u32>,
}

/// The help desk's "solved without a call" figure: self-help advice shown, and how often no request followed.
async fn self_help_stats(
    AxumState(state): AxumState<AppState>,
    _: Tech,
    Query(q): Query<SinceQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let days = q.days.unwrap_or(30);
    if !(1..=3660).contains(&days) {
        return Err(ApiError::new(StatusCode::BAD_REQUEST, "days must be 1 to 3660"));
    }
    let since = now_ms() - i64::from(days) * 24 * 3600 * 1000;
    let figures = state.store.read(move |c| ticket_store::self_help_figures(c, since)).await?;
    Ok(Json(json!({ "days": days, "figures": figures })))
}

fn parse_status(s: &str) -> Result<Status, ApiError> {
    Status::parse(s).ok_or_else(|| {
        let names: Vec<_> = Status::ALL.iter().map(|s| s.as_str()).collect();
        ApiError::new(StatusCode::BAD_REQUEST, format!("unknown status {s:?}; one of {}", names.join(", ")))
    })
}

fn parse_number(s: &str) -> Result<i64, ApiError> {
    s.parse::<i64>().ok().filter(|n| *n > 0).ok_or_else(|| {
        ApiError::new(StatusCode::BAD_REQUEST, format!("ticket number must be a positive integer, got {s:?}"))
    })
}

#[derive(Serialize)]
struct TicketView {
    #[serde(flatten)]
    ticket: ticket_store::Ticket,
    /// Shown first: what the agent's snapshot says is wrong, most severe first.
    findings: Vec<Finding>,
    snapshot: Option<Snapshot>,
    events: Vec<ticket_store::LoggedEvent>,
}

async fn show_ticket(
    AxumState(state): AxumState<AppState>,
    _: Tech,
    Path(number): Path<String>,
) -> Result<Json<TicketView>, ApiError> {
    let number = parse_number(&number)?;
    let view = state
        .store
        .read(move |c| {
            let ticket = ticket_store::get(c, number)?;
            let events = ticket_store::events(c, number)?;
            let attached = events.iter().rev().find_map(|e| match &e.event {
                Event::SnapshotAttached { agent_id, snapshot_id, .. } => Some((agent_id.clone(), snapshot_id.clone())),
                _ => None,
            });
            let snapshot = attached.map(|(agent, id)| agents::snapshot(c, &agent, &id)).transpose()?;
            let findings = snapshot.as_ref().map(findings::evaluate).unwrap_or_default();
            Ok(TicketView { ticket, findings, snapshot, events })
        })
        .await?;
    Ok(Json(view))
}

/// What a technician can do to a ticket; each becomes one appended event.
#[derive(Deserialize)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
enum Action {
    Reply { body: String },
    Note { body: String },
    Assign { to: String },
    Status { status: String, reason: Option<String> },
    Escalate { tier: u8, reason: Option<String> },
}

async fn act_on_ticket(
    AxumState(state): AxumState<AppState>,
    Tech(user): Tech,
    Path(number): Path<String>,
    body: Result<Json<Action>, JsonRejection>,
) -> Result<Json<ticket_store::Ticket>, ApiError> {
    let number = parse_number(&number)?;
    let Json(action) = body?;
    if user.role == Role::Auditor {
        return Err(ApiError::new(StatusCode::FORBIDDEN, "auditors may read but not change tickets"));
    }
    if let Action::Assign { to } = &action {
        let name = to.clone();
        if state.store.read(move |c| auth::user_by_name(c, &name)).await?.is_none() {
            return Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, format!("no user named {to:?}")));
        }
    }
    let status = match &action {
        Action::Status { status, .. } => Some(parse_status(status)?),
        _ => None,
    };
    let actor = user.name.clone();
    // What the requester sees changes only with a public reply or a new status.
    let visible = matches!(action, Action::Reply { .. } | Action::Status { .. });
    let ticket = state
        .store
        .write(move |c| {
            let current = ticket_store::get(c, number)?.state;
            let event = match action {
                Action::Reply { body } => Event::PublicReply { body },
                Action::Note { body } => Event::InternalNote { body },
                Action::Assign { to } => Event::Assigned { to },
                Action::Status { reason, .. } => {
                    Event::StatusChanged { from: current.status, to: status.unwrap_or(current.status), reason }
                }
                Action::Escalate { tier, reason } => {
                    Event::Escalated { from_tier: current.tier, to_tier: tier, reason }
                }
            };
            ticket_store::append(c, number, &actor, &event, now_ms())
        })
        .await?;
    info!(ticket = number, by = %user.name, "ticket updated");
    if visible {
        requester::push(&state, number).await;
    }
    Ok(Json(ticket))
}

#[derive(Serialize)]
struct CatalogEntry {
    name: &'static str,
    class: Class,
    min_tier: u8,
    time_limit_secs: u64,
    max_output_bytes: usize,
    params: Vec<serde_json::Value>,
    summary: &'static str,
}

async fn catalog(_: Tech) -> Json<Vec<CatalogEntry>> {
    Json(
        CATALOG
            .iter()
            .map(|d| CatalogEntry {
                name: d.name,
                class: d.class,
                min_tier: d.min_tier,
                time_limit_secs: d.time_limit.as_secs(),
                max_output_bytes: d.max_output,
                params: d.params.iter().map(|(name, accepts)| json!({ "name": name, "accepts": accepts })).collect(),
                summary: d.summary,
            })
            .collect(),
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckBody {
    check: String,
    #[serde(default)]
    params: serde_json::Map<String, serde_json::Value>,
    ticket: Option<i64>,
    expires_minutes: Option<u32>,
}

impl From<CheckError> for ApiError {
    fn from(e: CheckError) -> ApiError {
        match e {
            CheckError::Forbidden(m) => ApiError::new(StatusCode::FORBIDDEN, m),
            CheckError::Invalid(m) => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, m),
            CheckError::Store(e) => e.into(),
        }
    }
}

async fn run_check(
    AxumState(state): AxumState<AppState>,
    Tech(user): Tech,
    Path(agent_id): Path<String>,
    body: Result<Json<CheckBody>, JsonRejection>,
) -> Result<(StatusCode, Json<Run>), ApiError> {
    let Json(body) = body?;
    let mut params = Vec::with_capacity(body.params.len());
    for (key, value) in body.params {
        let text = match value {
            serde_json::Value::String(s) => s,
            serde_json::Value::Number(n) => n.to_string(),
            serde_json::Value::Bool(b) => if b { "yes" } else { "no" }.to_owned(),
            _ => return Err(ApiError::new(StatusCode::BAD_REQUEST, format!("parameter {key:?} must be a string"))),
        };
        params.push((key, text));
    }
    let ask = Ask {
        agent_id,
        name: body.check,
        params,
        ticket: body.ticket,
        expires_minutes: body.expires_minutes.unwrap_or(checks::DEFAULT_EXPIRY_MINUTES),
    };
    let run = checks::request(&state, &user, ask).await?;
    Ok((StatusCode::ACCEPTED, Json(run)))
}

async fn show_check(
    AxumState(state): AxumState<AppState>,
    _: Tech,
    Path(id): Path<String>,
) -> Result<Json<Run>, ApiError> {
    let id = id.parse::<i64>().map_err(|_| ApiError::new(StatusCode::BAD_REQUEST, "check run id must be a number"))?;
    Ok(Json(state.store.read(move |c| runs::get(c, id)).await?))
}

fn require_audit_reader(user: &User) -> Result<(), ApiError> {
    match user.role {
        Role::Admin | Role::Auditor => Ok(()),
        _ => Err(ApiError::new(StatusCode::FORBIDDEN, "only admins and auditors may read the audit log")),
    }
}

#[derive(Deserialize)]
struct AuditQuery {
    #[serde(default)]
    after: i64,
    limit: Option<i64>,
}

/// Pages of the log, oldest first; `after` is the last `seq` the caller has.
async fn audit_entries(
    AxumState(state): AxumState<AppState>,
    Tech(user): Tech,
    Query(q): Query<AuditQuery>,
) -> Result<Json<Vec<audit::Entry>>, ApiError> {
    require_audit_reader(&user)?;
    let limit = q.limit.unwrap_or(1000).clamp(1, 10_000);
    Ok(Json(state.store.read(move |c| audit::list(c, q.after, limit)).await?))
}

async fn audit_verify(
    AxumState(state): AxumState<AppState>,
    Tech(user): Tech,
) -> Result<Json<audit::Verdict>, ApiError> {
    require_audit_reader(&user)?;
    let verdict = state.store.read(audit::verify_stored).await?;
    if let Some(broken) = &verdict.broken {
        warn!(seq = broken.seq, reason = %broken.reason, "audit chain is broken");
    }
    Ok(Json(verdict))
}

#[derive(Deserialize)]
struct LiveQuery {
    interval_ms: Option<u32>,
}

/// Server-Sent Events, one `sample` event per live sample, for as long as the client stays (at most
/// [`WATCH_MAX_SECS`]; reconnecting starts a new watch).
async fn live_stream(
    AxumState(state): AxumState<AppState>,
    _: Tech,
    Path(id): Path<String>,
    Query(q): Query<LiveQuery>,
) -> Result<Sse<impl futures_util::Stream<Item = Result<SseEvent, std::convert::Infallible>>>, ApiError> {
    let interval = q.interval_ms.unwrap_or(1000);
    if !WATCH_INTERVAL_MS.contains(&interval) {
        let (min, max) = (WATCH_INTERVAL_MS.start(), WATCH_INTERVAL_MS.end());
        return Err(ApiError::new(StatusCode::BAD_REQUEST, format!("interval_ms must be {min} to {max}")));
    }
    let agent_id = id.clone();
    state
        .store
        .read(move |c| agents::by_id(c, &agent_id)?.ok_or(StoreError::NotFound(format!("agent {agent_id}"))))
        .await?;
    let watcher = Live::watch(&state, &id, interval).map_err(|e| ApiError::new(StatusCode::CONFLICT, e.to_string()))?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(WATCH_MAX_SECS);
    let events = futures_util::stream::unfold(watcher, move |mut watcher| async move {
        loop {
            match tokio::time::timeout_at(deadline, watcher.samples.recv()).await {
                Ok(Ok(json)) => return Some((Ok(SseEvent::default().event("sample").data(&*json)), watcher)),
                // Fell behind: skip to the newest, which is what a live view wants.
                Ok(Err(broadcast::error::RecvError::Lagged(_))) => continue,
                Ok(Err(broadcast::error::RecvError::Closed)) | Err(_) => return None,
            }
        }
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::default()))
}

/// Asks the ticket's agent for a fresh snapshot; it is attached to the ticket when it arrives (the agent spools it,
/// so it arrives even across a dropped connection).
async fn refresh_ticket(
    AxumState(state): AxumState<AppState>,
    Tech(user): Tech,
    Path(number): Path<String>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let number = parse_number(&number)?;
    if user.role == Role::Auditor {
        return Err(ApiError::new(StatusCode::FORBIDDEN, "auditors may read but not change tickets"));
    }
    let ticket = state.store.read(move |c| ticket_store::get(c, number)).await?;
    let Some(agent_id) = ticket.state.agent_id else {
        return Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, format!("ticket {number} has no agent")));
    };
    let ticket_no = u64::try_from(number).unwrap_or_default();
    if !state.connected.send(&agent_id, ServerControl::SnapshotNow { ticket: ticket_no }) {
        return Err(ApiError::new(StatusCode::CONFLICT, format!("agent {agent_id} is not connected")));
    }
    info!(ticket = number, by = %user.name, "fresh snapshot requested");
    Ok((StatusCode::ACCEPTED, Json(json!({ "ticket": number, "agent_id": agent_id, "requested": true }))))
}

#[derive(Deserialize)]
struct DiffQuery {
    from: Option<String>,
    to: Option<String>,
}

#[derive(Serialize)]
struct DiffView {
    from: SnapshotRef,
    to: SnapshotRef,
    changes: Vec<Change>,
}

#[derive(Serialize)]
struct SnapshotRef {
    id: String,
    taken_at_ms: u64,
}

/// What changed between two snapshots on a ticket: by default its first and its latest.
async fn diff_ticket(
    AxumState(state): AxumState<AppState>,
    _: Tech,
    Path(number): Path<String>,
    Query(q): Query<DiffQuery>,
) -> Result<Json<DiffView>, ApiError> {
    let number = parse_number(&number)?;
    let (before, after) = state
        .store
        .read(move |c| {
            let attached: Vec<(String, String)> = ticket_store::events(c, number)?
                .into_iter()
                .filter_map(|e| match e.event {
                    Event::SnapshotAttached { agent_id, snapshot_id, .. } => Some((agent_id, snapshot_id)),
                    _ => None,
                })
                .collect();
            let pick = |wanted: &Option<String>, default: Option<&(String, String)>| {
                let found = match wanted {
                    Some(id) => attached.iter().find(|(_, s)| s == id),
                    None => default,
                };
                let what = wanted.as_deref().unwrap_or("to compare");
                found.cloned().ok_or_else(|| StoreError::NotFound(format!("snapshot {what} on ticket {number}")))
            };
            let (a, b) = (pick(&q.from, attached.first())?, pick(&q.to, attached.last())?);
            if a == b {
                return Err(StoreError::Refused(format!(
                    "ticket {number} has one snapshot to compare; ask for a fresh one with `ticket refresh {number}`"
                )));
            }
            Ok((agents::snapshot(c, &a.0, &a.1)?, agents::snapshot(c, &b.0, &b.1)?))
        })
        .await?;
    let at = |s: &Snapshot| SnapshotRef { id: hex::encode(s.id), taken_at_ms: s.taken_at_ms };
    Ok(Json(DiffView { from: at(&before), to: at(&after), changes: diff::diff(&before, &after) }))
}
