//! Machines: the list, searchable by host name, id and operating system, with each one's state and the findings of
//! its latest snapshot; a machine's page with live charts, its history from the stored snapshots, its tickets and
//! check runs; and revoking it. Read through the use cases behind `GET /api/agents` and `GET /api/agents/{id}`,
//! revoked through the one behind `POST /api/agents/{id}/revoke`. The live charts are the page's script reading
//! `GET /api/agents/{id}/live` itself, with the session cookie, and writing each sample into the tables beside them.

use askama::Template;
use axum::Form;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State as AxumState};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use lifeline_shared::findings::{Finding, Severity};
use serde::Deserialize;

use super::{AppState, Chrome, Texts, Viewer, error_page, render, url_encode, when};
use crate::api::error::ApiError;
use crate::desk::access::{Act, permits};
use crate::service;
use crate::store::agents::Agent;
use crate::store::tickets::Query as TicketQuery;

/// Rows the list shows at most: a page that stays quick to render and read at ten thousand machines; a search
/// narrows it.
const SHOWN: usize = 200;
/// Snapshots in a machine's history: four hours of the agent's routine snapshots at their default interval.
const HISTORY: u32 = 48;
/// A machine's latest tickets and check runs shown on its page.
const LATEST: u32 = 20;

/// A machine's state: connected now, not, or revoked for good; its CSS class and its text's key.
#[derive(Clone, Copy)]
pub struct MachineState {
    pub class: &'static str,
    pub key: &'static str,
}

fn state_of(state: &AppState, agent: &Agent) -> MachineState {
    let (class, key) = if agent.revoked_at.is_some() {
        ("revoked", "machine-revoked")
    } else if state.connected.contains(&agent.id) {
        ("online", "machine-online")
    } else {
        ("offline", "machine-offline")
    };
    MachineState { class, key }
}

pub struct MachineRow {
    pub id: String,
    pub hostname: String,
    pub os: String,
    pub state: MachineState,
    pub last_seen: String,
    /// Findings in its latest snapshot; none when it sent no snapshot yet.
    pub findings: Option<i64>,
}

impl MachineRow {
    fn link(&self) -> String {
        format!("/machines/{}", url_encode(&self.id))
    }
}

#[derive(Template)]
#[template(path = "machines.html")]
struct ListPage {
    chrome: Chrome,
    t: Texts,
    q: String,
    rows: Vec<MachineRow>,
    /// How many machines the search matched, of how many there are.
    matched: usize,
    total: usize,
}

impl ListPage {
    fn count(&self) -> String {
        self.t.with("machines-count", &[("count", &self.matched), ("total", &self.total)])
    }

    fn more(&self) -> Option<String> {
        (self.matched > self.rows.len()).then(|| self.t.with("machines-more", &[("shown", &self.rows.len())]))
    }
}

#[derive(Deserialize)]
pub struct Search {
    q: Option<String>,
}

/// Whether every word of the search is in the machine's host name, id or operating system, in any case.
fn matches(agent: &Agent, words: &[String]) -> bool {
    let fields = [agent.hostname.to_lowercase(), agent.id.to_lowercase(), agent.os.to_lowercase()];
    words.iter().all(|w| fields.iter().any(|f| f.contains(w.as_str())))
}

pub async fn list(
    AxumState(state): AxumState<AppState>,
    viewer: Viewer,
    query: Result<Query<Search>, QueryRejection>,
) -> Response {
    let chrome = viewer.chrome();
    let q = match query {
        Ok(Query(search)) => search.q.unwrap_or_default(),
        Err(e) => return error_page(Some(&chrome), viewer.t, e),
    };
    let (agents, findings) = match tokio::try_join!(
        service::agents::list(&state.store, &viewer.user),
        service::agents::finding_counts(&state.store, &viewer.user),
    ) {
        Ok(both) => both,
        Err(e) => return error_page(Some(&chrome), viewer.t, e),
    };
    let words: Vec<String> = q.split_whitespace().map(str::to_lowercase).collect();
    let total = agents.len();
    let found: Vec<Agent> = agents.into_iter().filter(|a| matches(a, &words)).collect();
    let matched = found.len();
    let rows = found
        .into_iter()
        .take(SHOWN)
        .map(|a| MachineRow {
            state: state_of(&state, &a),
            last_seen: a.last_seen_at.map(when).unwrap_or_default(),
            findings: findings.get(&a.id).copied(),
            id: a.id,
            hostname: a.hostname,
            os: a.os,
        })
        .collect();
    render(StatusCode::OK, &ListPage { chrome, t: viewer.t, q, rows, matched, total })
}

pub struct HistoryRow {
    pub when: String,
    pub cpu: String,
    pub memory: String,
    pub disk: String,
    pub findings: i64,
}

pub struct TicketRow {
    pub number: i64,
    pub subject: String,
    pub status: &'static str,
    pub updated: String,
}

pub struct RunRow {
    pub id: i64,
    pub check: String,
    pub state: &'static str,
    pub technician: String,
    pub ticket: Option<i64>,
    pub requested: String,
    pub result: String,
}

#[derive(Template)]
#[template(path = "machine.html")]
struct MachinePage {
    chrome: Chrome,
    t: Texts,
    id: String,
    hostname: String,
    os: String,
    version: String,
    enrolled: String,
    last_seen: String,
    state: MachineState,
    revoked: Option<String>,
    snapshot_count: i64,
    /// Whether the latest snapshot's findings are known: a machine that sent none has no findings to show.
    has_snapshot: bool,
    findings: Vec<Finding>,
    history: Vec<HistoryRow>,
    tickets: Vec<TicketRow>,
    runs: Vec<RunRow>,
    /// Where the live samples come from.
    live: String,
    may_revoke: bool,
    /// Why the last action was refused, shown above the revoke form.
    problem: Option<String>,
}

impl MachinePage {
    fn severity(&self, f: &Finding) -> &'static str {
        match f.severity {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }

    fn revoked_notice(&self, at: &str) -> String {
        self.t.with("machine-revoked-notice", &[("at", &at)])
    }

    fn revoke_action(&self) -> String {
        format!("/machines/{}/revoke", url_encode(&self.id))
    }

    fn history_caption(&self) -> String {
        self.t.with("machine-history-caption", &[("count", &self.history.len())])
    }
}

fn pct(value: f64) -> String {
    format!("{value:.0}")
}

pub async fn page(AxumState(state): AxumState<AppState>, viewer: Viewer, Path(id): Path<String>) -> Response {
    show(&state, &viewer, id, StatusCode::OK, None).await
}

async fn show(state: &AppState, viewer: &Viewer, id: String, status: StatusCode, problem: Option<String>) -> Response {
    let chrome = viewer.chrome();
    let t = viewer.t;
    let (store, user) = (&state.store, &viewer.user);
    let tickets = TicketQuery { machine: Some(id.clone()), limit: LATEST, ..TicketQuery::default() };
    let read = tokio::try_join!(
        service::agents::show(store, user, id.clone()),
        service::agents::history(store, user, id.clone(), HISTORY),
        service::tickets::list(store, user, tickets),
        service::checks::of_agent(store, user, id.clone(), LATEST),
    );
    let (detail, history, tickets, runs) = match read {
        Ok(all) => all,
        Err(e) => return error_page(Some(&chrome), t, e),
    };
    let agent = detail.agent;
    let page = MachinePage {
        t,
        state: state_of(state, &agent),
        may_revoke: permits(user.role, Act::RevokeAgents) && agent.revoked_at.is_none(),
        live: format!("/api/agents/{}/live", url_encode(&agent.id)),
        revoked: agent.revoked_at.map(when),
        enrolled: when(agent.enrolled_at),
        last_seen: agent.last_seen_at.map(when).unwrap_or_default(),
        id: agent.id,
        hostname: agent.hostname,
        os: agent.os,
        version: agent.agent_version,
        snapshot_count: detail.snapshot_count,
        has_snapshot: detail.snapshot.is_some(),
        findings: detail.findings,
        history: history
            .into_iter()
            .map(|s| HistoryRow {
                when: when(s.taken_at),
                cpu: pct(s.cpu_usage_pct),
                memory: pct(s.memory_used_pct),
                disk: pct(s.fullest_disk_pct),
                findings: s.finding_count,
            })
            .collect(),
        tickets: tickets
            .tickets
            .into_iter()
            .map(|t| TicketRow {
                number: t.number,
                subject: t.subject,
                status: t.status.as_str(),
                updated: when(t.updated_at),
            })
            .collect(),
        runs: runs
            .into_iter()
            .map(|r| RunRow {
                id: r.id,
                check: r.description,
                state: r.state.as_str(),
                technician: r.technician,
                ticket: r.ticket,
                requested: when(r.requested_at),
                result: r.result.unwrap_or_default(),
            })
            .collect(),
        problem,
        chrome,
    };
    render(status, &page)
}

#[derive(Deserialize)]
pub struct RevokeForm {
    csrf: Option<String>,
    /// The box saying the admin means it.
    confirm: Option<String>,
}

/// Revokes the machine through the use case behind `POST /api/agents/{id}/revoke`, which checks the role, and
/// carries out what it says (the machine's connection is cut off), as the API does.
pub async fn revoke(
    AxumState(state): AxumState<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    headers: HeaderMap,
    Form(form): Form<RevokeForm>,
) -> Response {
    if let Err(e) = viewer.check_write(&headers, form.csrf.as_deref()) {
        return error_page(Some(&viewer.chrome()), viewer.t, e);
    }
    // Revoking cannot be undone: without the box ticked the page comes back asking for it, whatever the browser
    // checked or did not.
    if form.confirm.is_none() {
        let problem = viewer.t.get("machine-revoke-unconfirmed").to_owned();
        return show(&state, &viewer, id, StatusCode::BAD_REQUEST, Some(problem)).await;
    }
    match service::agents::revoke(&state.store, &viewer.user, &id).await {
        Ok(effects) => {
            effects.carry_out(&state).await;
            Redirect::to(&format!("/machines/{}", url_encode(&id))).into_response()
        }
        Err(e) => error_page(Some(&viewer.chrome()), viewer.t, ApiError::from(e)),
    }
}
