//! A ticket: findings with their advice first, then the machine's snapshot, the conversation (public replies and
//! internal notes plainly apart), the history, and the forms that act on it. Read through the use case behind
//! `GET /api/tickets/{n}`, acted on through the one behind `POST /api/tickets/{n}/actions`. A reply or status change
//! carries the version the page showed; if somebody answered meanwhile the page comes back with what they wrote and
//! the draft kept, and "send anyway" forces it (audited, as `--force` is).

use std::borrow::Borrow;

use askama::Template;
use axum::extract::{Path, RawForm, State as AxumState};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use lifeline_shared::catalog::{CATALOG, Definition};
use lifeline_shared::findings::{Finding, Severity};
use lifeline_shared::wire::Snapshot;
use serde::Deserialize;

use super::{AppState, Chrome, Texts, Viewer, error_page, render, when};
use crate::api::error::ApiError;
use crate::api::parse_number;
use crate::api::views::EventView;
use crate::desk::actor::ActorKind;
use crate::desk::checks::RunState;
use crate::desk::priority::Level;
use crate::desk::sla::ClockState;
use crate::desk::tickets::{Command, Event, Status};
use crate::service;
use crate::service::checks::Ask;

/// One entry of the conversation or the history, worded for the page.
pub struct Entry {
    pub when: String,
    pub who: String,
    /// `public`, `internal`, `requester` or `history`: how the page sets it apart.
    pub kind: &'static str,
    pub text: String,
    /// The ticket it was written on, when it was merged into this one.
    pub from_ticket: Option<i64>,
}

/// A check run of this ticket, as the page lists it.
pub struct RunLine {
    pub id: i64,
    pub description: String,
    pub technician: String,
    pub state: &'static str,
    pub result: String,
    pub when: String,
}

/// A check the page offered that was refused: which, why, and what was typed, to show on its form again.
pub struct CheckRefusal {
    pub check: String,
    pub message: String,
    pub values: Vec<(String, String)>,
}

/// A file that came with the ticket's mail, as the page lists it: its link is the API's own download, which takes
/// the session cookie on a GET and always answers with a download, never a page.
pub struct AttachmentLine {
    pub href: String,
    pub name: String,
    pub size: String,
    pub content_type: String,
    pub when: String,
    pub from_ticket: Option<i64>,
}

pub struct ClockLine {
    pub name: &'static str,
    pub state: String,
    pub late: bool,
}

#[derive(Template)]
#[template(path = "ticket.html")]
struct TicketPage {
    chrome: Chrome,
    t: Texts,
    number: i64,
    version: i64,
    subject: String,
    status: &'static str,
    priority: &'static str,
    tier: u8,
    assignee: String,
    requester: String,
    channel: &'static str,
    category: String,
    machine: String,
    created: String,
    merged_into: Option<i64>,
    findings: Vec<Finding>,
    snapshot: Option<Snapshot>,
    conversation: Vec<Entry>,
    attachments: Vec<AttachmentLine>,
    history: Vec<Entry>,
    clocks: Vec<ClockLine>,
    others: Vec<String>,
    statuses: Vec<&'static str>,
    codes: Vec<String>,
    higher_tiers: Vec<u8>,
    /// Why the last action was refused, shown above the forms.
    problem: Option<String>,
    /// What others wrote meanwhile, when a reply or status change was refused for it.
    missed: Vec<Entry>,
    /// The reply or note being written, kept across a refusal.
    draft: String,
    /// The action that was refused for a race, to offer sending it anyway.
    retry: Option<String>,
    agent_id: Option<String>,
    /// The approved checks this technician's tier may ask for; the agent judges its own policy and the user's
    /// consent again when the run arrives, and a refusal comes back as the run's result.
    checks: Vec<&'static Definition>,
    runs: Vec<RunLine>,
    /// A run has not ended yet: the page fetches the list again until it has.
    pending: bool,
    check_refused: Option<CheckRefusal>,
    canned: Vec<String>,
    categories: Vec<String>,
    priorities: Vec<&'static str>,
}

impl TicketPage {
    /// The refusal of a check this page does not offer (one above the technician's tier, asked for by hand).
    fn check_refused_elsewhere(&self) -> Option<&str> {
        self.check_refused
            .as_ref()
            .filter(|r| !self.checks.iter().any(|d| d.name == r.check))
            .map(|r| r.message.as_str())
    }

    fn check_refused_for(&self, check: &str) -> Option<&str> {
        self.check_refused.as_ref().filter(|r| r.check == check).map(|r| r.message.as_str())
    }

    /// What was typed into a check's field before a refusal, to show it again.
    fn kept(&self, check: &str, param: &str) -> &str {
        self.check_refused
            .as_ref()
            .filter(|r| r.check == check)
            .and_then(|r| r.values.iter().find(|(k, _)| k == param))
            .map_or("", |(_, v)| v.as_str())
    }

    fn severity(&self, f: &Finding) -> &'static str {
        match f.severity {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }

    // Templates hand over fields by value or by reference depending on where they are read: both are taken.
    fn gib(&self, bytes: impl Borrow<u64>) -> String {
        format!("{:.1} GiB", *bytes.borrow() as f64 / f64::from(1u32 << 30))
    }

    fn mib(&self, bytes: impl Borrow<u64>) -> String {
        format!("{:.0} MiB", *bytes.borrow() as f64 / f64::from(1u32 << 20))
    }

    fn pct(&self, value: impl Borrow<f32>) -> String {
        format!("{:.0} %", value.borrow())
    }

    fn used_pct(&self, used: impl Borrow<u64>, total: impl Borrow<u64>) -> String {
        let (used, total) = (*used.borrow(), *total.borrow());
        if total == 0 { "-".into() } else { format!("{:.0} %", used as f64 * 100.0 / total as f64) }
    }
}

fn entry(t: Texts, e: &EventView) -> Entry {
    let who = match e.actor.kind {
        ActorKind::System => t.get("actor-system").to_owned(),
        _ => e.actor.name.clone(),
    };
    let (kind, text) = match &e.event {
        Event::Created { description, .. } => ("requester", description.clone()),
        Event::PublicReply { body } => ("public", body.clone()),
        Event::RequesterReply { body } => ("requester", body.clone()),
        Event::InternalNote { body } => ("internal", body.clone()),
        Event::StatusChanged { from, to, reason, code, .. } => {
            let mut text = t.with("history-status", &[("from", &from.as_str()), ("to", &to.as_str())]);
            for extra in [code, reason].into_iter().flatten() {
                text.push_str(" · ");
                text.push_str(extra);
            }
            ("history", text)
        }
        Event::Assigned { to } => ("history", t.with("history-assigned", &[("to", to)])),
        Event::Escalated { to_tier, reason, .. } => {
            let mut text = t.with("history-escalated", &[("tier", to_tier)]);
            if let Some(reason) = reason {
                text.push_str(" · ");
                text.push_str(reason);
            }
            ("history", text)
        }
        Event::SnapshotAttached { findings, .. } => {
            ("history", t.with("history-snapshot", &[("count", &findings.len())]))
        }
        Event::CheckRun { check, state, result, .. } => {
            ("history", t.with("history-check", &[("check", check), ("state", state), ("result", result)]))
        }
        Event::MergedInto { into } => ("history", t.with("history-merged-into", &[("number", into)])),
        Event::Absorbed { from } => ("history", t.with("history-absorbed", &[("number", from)])),
        Event::Related { other } => ("history", t.with("history-related", &[("number", other)])),
        Event::Categorized { category } => ("history", t.with("history-category", &[("category", category)])),
        Event::Prioritized { priority, .. } => {
            ("history", t.with("history-priority", &[("priority", &priority.as_str())]))
        }
        Event::Linked { agent_id } => ("history", t.with("history-linked", &[("machine", agent_id)])),
        Event::Unlinked { agent_id } => ("history", t.with("history-unlinked", &[("machine", agent_id)])),
        Event::SlaAlert { clock, alert, .. } => {
            let key = match alert {
                crate::desk::sla::Alert::Warning => "history-sla-warning",
                crate::desk::sla::Alert::Breach => "history-sla-breach",
            };
            ("history", t.with(key, &[("clock", &clock.as_str())]))
        }
        Event::Retyped { ticket_type } => ("history", t.with("history-type", &[("type", &ticket_type.as_str())])),
    };
    Entry { when: when(e.at), who, kind, text, from_ticket: e.from_ticket }
}

/// The ticket page, with what the last action left to say.
struct Outcome {
    status: StatusCode,
    problem: Option<String>,
    missed: Vec<EventView>,
    draft: String,
    retry: Option<String>,
    check: Option<CheckRefusal>,
}

impl Outcome {
    fn fresh() -> Outcome {
        Outcome {
            status: StatusCode::OK,
            problem: None,
            missed: Vec::new(),
            draft: String::new(),
            retry: None,
            check: None,
        }
    }
}

pub async fn page(AxumState(state): AxumState<AppState>, viewer: Viewer, Path(number): Path<String>) -> Response {
    show(&state, &viewer, &number, Outcome::fresh()).await
}

async fn show(state: &AppState, viewer: &Viewer, number: &str, outcome: Outcome) -> Response {
    let chrome = viewer.chrome();
    let t = viewer.t;
    let number = match parse_number(number) {
        Ok(n) => n,
        Err(e) => return error_page(Some(&chrome), t, e),
    };
    // Opening the page says the technician is on the ticket, for the others who open it.
    if let Err(e) = service::tickets::mark_presence(&state.store, &viewer.user, number, "viewing").await {
        return error_page(Some(&chrome), t, e);
    }
    let detail: crate::api::views::TicketDetail =
        match service::tickets::show(&state.store, &state.config.desk, &viewer.user, number).await {
            Ok(d) => d.into(),
            Err(e) => return error_page(Some(&chrome), t, e),
        };
    let ticket = detail.ticket.state;
    let (canned, categories) = match tokio::try_join!(
        service::desk::canned_replies(&state.store, &viewer.user),
        service::desk::categories(&state.store, &viewer.user),
    ) {
        Ok(both) => both,
        Err(e) => return error_page(Some(&chrome), t, e),
    };
    let runs = match &ticket.agent_id {
        Some(agent) => match service::checks::of_agent(&state.store, &viewer.user, agent.clone(), RUNS_READ).await {
            Ok(runs) => runs.into_iter().filter(|r| r.ticket == Some(number)).collect(),
            Err(e) => return error_page(Some(&chrome), t, e),
        },
        None => Vec::new(),
    };
    let pending = runs.iter().any(|r| matches!(r.state, RunState::Queued | RunState::Sent));
    let runs = runs
        .into_iter()
        .map(|r| RunLine {
            id: r.id,
            description: r.description,
            technician: r.technician,
            state: r.state.as_str(),
            result: r.result.unwrap_or_default(),
            when: when(r.requested_at),
        })
        .collect();
    let (conversation, history) = detail.events.iter().map(|e| entry(t, e)).partition(|e| e.kind != "history");
    let clocks = detail
        .sla
        .iter()
        .map(|c| {
            let (state, late) = match c.state {
                ClockState::Running { due_at, .. } => {
                    (t.with("clock-running", &[("due", &due_at.map(when).unwrap_or_default())]), false)
                }
                ClockState::Breached { due_at, .. } => {
                    (t.with("clock-breached", &[("due", &due_at.map(when).unwrap_or_default())]), true)
                }
                ClockState::Paused { .. } => (t.get("clock-paused").to_owned(), false),
                ClockState::Met { at, late_by_ms } => (t.with("clock-met", &[("at", &when(at))]), late_by_ms > 0),
            };
            ClockLine { name: c.kind.as_str(), state, late }
        })
        .collect();
    let attachments = detail
        .attachments
        .into_iter()
        .map(|a| AttachmentLine {
            href: format!("/api/tickets/{number}/attachments/{}", a.id),
            name: a.name,
            size: size(a.size),
            content_type: a.content_type,
            when: when(a.at),
            from_ticket: a.from_ticket,
        })
        .collect();
    let machine = match (&ticket.agent_id, &detail.snapshot) {
        (Some(id), Some(s)) => format!("{} ({id})", s.host.hostname),
        (Some(id), None) => id.clone(),
        (None, _) => String::new(),
    };
    let page = TicketPage {
        chrome,
        t,
        number,
        version: detail.ticket.version,
        subject: ticket.subject,
        status: ticket.status.as_str(),
        priority: ticket.priority.as_str(),
        tier: ticket.tier,
        assignee: ticket.assignee.unwrap_or_default(),
        requester: ticket.requester,
        channel: ticket.channel.as_str(),
        category: ticket.category.unwrap_or_default(),
        machine,
        created: when(ticket.created_at),
        merged_into: ticket.merged_into,
        findings: detail.findings,
        snapshot: detail.snapshot,
        conversation,
        attachments,
        history,
        clocks,
        others: detail
            .presence
            .iter()
            .filter(|p| p.user != viewer.user.name)
            .map(|p| format!("{} ({})", p.user, p.state))
            .collect(),
        statuses: Status::ALL.iter().map(|s| s.as_str()).filter(|s| *s != ticket.status.as_str()).collect(),
        codes: state.config.desk.resolution_codes.clone(),
        higher_tiers: (ticket.tier.saturating_add(1)..=3).collect(),
        problem: outcome.problem,
        missed: outcome.missed.iter().map(|e| entry(t, e)).collect(),
        draft: outcome.draft,
        retry: outcome.retry,
        agent_id: ticket.agent_id,
        checks: CATALOG.iter().filter(|d| d.min_tier <= viewer.user.role.tier()).collect(),
        runs,
        pending,
        check_refused: outcome.check,
        canned: canned.into_iter().map(|c| c.name).collect(),
        categories: categories.into_iter().filter(|c| !c.retired).map(|c| c.name).collect(),
        priorities: Level::ALL.iter().map(|l| l.as_str()).collect(),
    };
    render(outcome.status, &page)
}

/// A file's size as the page shows it: `512 B`, `3.4 KiB`, `1.0 MiB`.
fn size(bytes: i64) -> String {
    if bytes < 1024 {
        format!("{bytes} B")
    } else if bytes < 1 << 20 {
        format!("{:.1} KiB", bytes as f64 / 1024.0)
    } else {
        format!("{:.1} MiB", bytes as f64 / f64::from(1u32 << 20))
    }
}

/// An action's form, on one ticket or (from the queue) on several.
#[derive(Deserialize)]
pub struct ActForm {
    pub(super) action: String,
    version: Option<i64>,
    /// "send anyway" after a refusal for a race.
    force: Option<String>,
    body: Option<String>,
    status: Option<String>,
    reason: Option<String>,
    code: Option<String>,
    to: Option<String>,
    tier: Option<u8>,
    template: Option<String>,
    priority: Option<String>,
    category: Option<String>,
    /// The other ticket of a merge or a relation.
    other: Option<String>,
}

/// A form's empty field is a value not given.
fn given(field: Option<String>) -> Option<String> {
    field.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

pub(super) fn command(form: &ActForm, me: &str) -> Result<Command, ApiError> {
    let body = || form.body.clone().unwrap_or_default();
    Ok(match form.action.as_str() {
        "reply" => Command::Reply { body: body(), template: None },
        "note" => Command::Note { body: body() },
        "assign" => Command::Assign { to: given(form.to.clone()).unwrap_or_else(|| me.to_owned()) },
        "status" => {
            let name = form.status.as_deref().unwrap_or_default();
            let to = Status::parse(name).ok_or_else(|| ApiError::bad_request(format!("unknown status {name:?}")))?;
            Command::Status { to, reason: given(form.reason.clone()), until: None, code: given(form.code.clone()) }
        }
        "escalate" => Command::Escalate {
            tier: form.tier.ok_or_else(|| ApiError::bad_request("escalating needs the tier to raise it to"))?,
            reason: given(form.reason.clone()),
        },
        // The canned reply is filled in by the use case, with this ticket's requester and this technician.
        "canned" => Command::Reply {
            body: String::new(),
            template: Some(given(form.template.clone()).ok_or_else(|| ApiError::bad_request("choose a canned reply"))?),
        },
        "priority" => {
            let name = form.priority.as_deref().unwrap_or_default();
            let priority =
                Level::parse(name).ok_or_else(|| ApiError::bad_request(format!("unknown priority {name:?}")))?;
            Command::Priority { priority, reason: given(form.reason.clone()) }
        }
        "category" => Command::Categorize {
            category: given(form.category.clone()).ok_or_else(|| ApiError::bad_request("choose a category"))?,
        },
        other => return Err(ApiError::bad_request(format!("unknown action {other:?}"))),
    })
}

pub async fn act(
    AxumState(state): AxumState<AppState>,
    viewer: Viewer,
    Path(number): Path<String>,
    headers: HeaderMap,
    // Not `Bytes`: a body not sent as a form is refused (415) before anything else, as axum's `Form` did here.
    RawForm(body): RawForm,
) -> Response {
    if let Err(e) = viewer.read_form(&headers, &body) {
        return error_page(Some(&viewer.chrome()), viewer.t, e);
    }
    // The action's fields are typed; a form they do not fit is refused with the 422 axum's `Form` gave it.
    let form: ActForm = match serde_urlencoded::from_bytes(&body) {
        Ok(f) => f,
        Err(e) => {
            let e = ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, format!("Failed to deserialize form body: {e}"));
            return error_page(Some(&viewer.chrome()), viewer.t, e);
        }
    };
    let n = match parse_number(&number) {
        Ok(n) => n,
        Err(e) => return error_page(Some(&viewer.chrome()), viewer.t, e),
    };
    let draft = form.body.clone().unwrap_or_default();
    let refused = |e: ApiError, retry: Option<String>| Outcome {
        status: e.status(),
        problem: Some(e.message().to_owned()),
        missed: e.missed().map(<[EventView]>::to_vec).unwrap_or_default(),
        draft: draft.clone(),
        retry,
        check: None,
    };
    // Merge and relate name another ticket and have use cases of their own, as their API routes do.
    if let "merge" | "relate" = form.action.as_str() {
        let other = match given(form.other.clone()).map(|o| parse_number(o.trim_start_matches('#'))) {
            Some(Ok(other)) => other,
            Some(Err(e)) => return show(&state, &viewer, &number, refused(e, None)).await,
            None => {
                let e = ApiError::bad_request(viewer.t.get("ticket-other-missing"));
                return show(&state, &viewer, &number, refused(e, None)).await;
            }
        };
        let done = if form.action == "merge" {
            match service::tickets::merge(&state.store, &state.config.desk.sla, &viewer.user, n, other).await {
                Ok((_, effects)) => {
                    effects.carry_out(&state).await;
                    Ok(())
                }
                Err(e) => Err(e),
            }
        } else {
            service::tickets::relate(&state.store, &viewer.user, n, other).await.map(drop)
        };
        return match done {
            // After a merge the conversation carries on in the other ticket.
            Ok(()) if form.action == "merge" => Redirect::to(&format!("/tickets/{other}")).into_response(),
            Ok(()) => Redirect::to(&format!("/tickets/{n}")).into_response(),
            Err(e) => show(&state, &viewer, &number, refused(ApiError::from(e), None)).await,
        };
    }
    let command = match command(&form, &viewer.user.name) {
        Ok(c) => c,
        Err(e) => return show(&state, &viewer, &number, refused(e, None)).await,
    };
    let force = form.force.is_some();
    let result =
        service::tickets::act(&state.store, &state.config.desk, &viewer.user, n, form.version, force, command).await;
    match result {
        Ok((_, effects)) => {
            effects.carry_out(&state).await;
            Redirect::to(&format!("/tickets/{n}")).into_response()
        }
        Err(e) => {
            let e = ApiError::from(e);
            let retry = e.missed().is_some().then(|| form.action.clone());
            show(&state, &viewer, &number, refused(e, retry)).await
        }
    }
}

/// The check runs of the agent read to find the ticket's: enough for any ticket's page.
const RUNS_READ: u32 = 200;

/// Asks the ticket's machine for an approved check, through the use case behind `POST /api/agents/{id}/checks`
/// (tier, parameters, ticket and machine checked there); a refusal is shown on the check's form with what was typed.
pub async fn run_check(
    AxumState(state): AxumState<AppState>,
    viewer: Viewer,
    Path(number): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let form = match viewer.read_form(&headers, &body) {
        Ok(f) => f,
        Err(e) => return error_page(Some(&viewer.chrome()), viewer.t, e),
    };
    let n = match parse_number(&number) {
        Ok(n) => n,
        Err(e) => return error_page(Some(&viewer.chrome()), viewer.t, e),
    };
    // Parameters are the fields named `p.<name>`; an empty one is a parameter not given, as the CLI leaves it out.
    let params: Vec<(String, String)> = form
        .pairs()
        .iter()
        .filter_map(|(k, v)| Some((k.strip_prefix("p.")?.to_owned(), v.clone())))
        .filter(|(_, v)| !v.is_empty())
        .collect();
    let name = form.get("check").unwrap_or_default().to_owned();
    let ask = Ask {
        agent_id: form.get("agent").unwrap_or_default().to_owned(),
        name: name.clone(),
        params: params.clone(),
        ticket: Some(n),
        expires_minutes: service::checks::DEFAULT_EXPIRY_MINUTES,
    };
    match service::checks::request(&state.store, &viewer.user, ask).await {
        Ok((run, effects)) => {
            if !effects.carry_out(&state).await.is_empty() {
                tracing::info!(run = run.id, "agent offline; the check waits for it to connect");
            }
            Redirect::to(&format!("/tickets/{n}#check-runs")).into_response()
        }
        Err(e) => {
            let e = ApiError::from(e);
            let check = Some(CheckRefusal { check: name, message: e.message().to_owned(), values: params });
            show(&state, &viewer, &number, Outcome { status: e.status(), check, ..Outcome::fresh() }).await
        }
    }
}
