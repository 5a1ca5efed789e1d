//! Tickets: the list, one with its findings, snapshot and log, a technician's actions, a fresh snapshot, and the
//! before/after of two snapshots.

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State as AxumState};
use axum::http::StatusCode;
use serde::Deserialize;

use super::AppState;
use super::auth::Tech;
use super::error::ApiError;
use super::views::{DiffView, Refreshing, TicketDetail, TicketPage, TicketView};
use crate::desk::priority::Level;
use crate::desk::tickets::{Channel, Command, Status};
use crate::service::tickets::{self, NewTicket};
use crate::store::desk::Presence;
use crate::store::tickets::{Assignee, Cursor, SlaFilter, Sort};
use crate::store::{self, now_ms};

/// `GET /api/tickets` filters; each optional, all of them applying at once.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    status: Option<String>,
    tier: Option<u8>,
    /// `me`, `none`, or a user name.
    assignee: Option<String>,
    category: Option<String>,
    priority: Option<String>,
    channel: Option<String>,
    /// A person's id.
    person: Option<i64>,
    /// The requester's name on the ticket.
    requester: Option<String>,
    /// An agent id or host name.
    machine: Option<String>,
    /// Opened at least this many hours ago.
    older_than_hours: Option<u32>,
    /// `breached`, or `due-soon` (a deadline in the next `due_within_minutes`, 60 by default).
    sla: Option<String>,
    due_within_minutes: Option<u32>,
    /// Words, all of which must appear in the subject, description or conversation.
    text: Option<String>,
    /// `updated` (default), `created` or `priority`.
    sort: Option<String>,
    /// The `next` of the previous page.
    after: Option<String>,
    limit: Option<u32>,
}

pub async fn list(
    AxumState(state): AxumState<AppState>,
    Tech(user): Tech,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<TicketPage>, ApiError> {
    let Query(q) = query?;
    let now = now_ms();
    let named = |what: &str, value: Option<String>, names: &[&str]| -> Result<Option<String>, ApiError> {
        match value {
            Some(v) if !names.contains(&v.as_str()) => {
                Err(ApiError::bad_request(format!("unknown {what} {v:?}; one of {}", names.join(", "))))
            }
            v => Ok(v),
        }
    };
    let statuses: Vec<&str> = Status::ALL.iter().map(|s| s.as_str()).collect();
    let priorities: Vec<&str> = Level::ALL.iter().map(|l| l.as_str()).collect();
    let channels: Vec<&str> = Channel::ALL.iter().map(|c| c.as_str()).collect();
    let query = store::tickets::Query {
        status: named("status", q.status, &statuses)?.as_deref().and_then(Status::parse),
        tier: q.tier,
        assignee: q.assignee.map(|a| match a.as_str() {
            "me" => Assignee::User(user.name.clone()),
            "none" => Assignee::Nobody,
            _ => Assignee::User(a),
        }),
        category: q.category,
        priority: named("priority", q.priority, &priorities)?.as_deref().and_then(Level::parse),
        channel: named("channel", q.channel, &channels)?.as_deref().and_then(Channel::parse),
        person: q.person,
        requester: q.requester,
        machine: q.machine,
        opened_before: q.older_than_hours.map(|h| now - i64::from(h) * 3_600_000),
        sla: match named("sla state", q.sla, &["breached", "due-soon"])?.as_deref() {
            Some("breached") => Some(SlaFilter::Breached),
            Some(_) => Some(SlaFilter::DueBefore(now + i64::from(q.due_within_minutes.unwrap_or(60)) * 60_000)),
            None => None,
        },
        text: q.text,
        sort: match named("sort", q.sort, &["updated", "created", "priority"])?.as_deref() {
            Some("created") => Sort::Created,
            Some("priority") => Sort::Priority,
            _ => Sort::Updated,
        },
        after: match q.after {
            Some(a) => Some(
                Cursor::parse(&a)
                    .ok_or_else(|| ApiError::bad_request(format!("cursor {a:?} is not one this server gave")))?,
            ),
            None => None,
        },
        limit: q.limit.unwrap_or(100),
    };
    let page = tickets::list(&state.store, &user, query).await?;
    Ok(Json(page.into()))
}

/// Opens a ticket for a call, a mail, a chat or a visit.
pub async fn create(
    AxumState(state): AxumState<AppState>,
    Tech(user): Tech,
    body: Result<Json<NewTicket>, JsonRejection>,
) -> Result<(StatusCode, Json<TicketView>), ApiError> {
    let Json(new) = body?;
    let (ticket, effects) = tickets::create(&state.store, &state.config.desk, &user, new).await?;
    effects.carry_out(&state).await;
    Ok((StatusCode::CREATED, Json(ticket.into())))
}

pub async fn show(
    AxumState(state): AxumState<AppState>,
    Tech(user): Tech,
    Path(number): Path<String>,
) -> Result<Json<TicketDetail>, ApiError> {
    let number = parse_number(&number)?;
    Ok(Json(tickets::show(&state.store, &state.config.desk, &user, number).await?.into()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActQuery {
    /// The ticket's version the technician saw: a public reply or status change to a ticket that got a public
    /// event since is refused with 409 and the events missed.
    version: Option<i64>,
    /// Act even so; recorded in the audit log.
    #[serde(default)]
    force: bool,
}

pub async fn act(
    AxumState(state): AxumState<AppState>,
    Tech(user): Tech,
    Path(number): Path<String>,
    query: Result<Query<ActQuery>, QueryRejection>,
    body: Result<Json<Command>, JsonRejection>,
) -> Result<(StatusCode, Json<TicketView>), ApiError> {
    let number = parse_number(&number)?;
    let Query(q) = query?;
    let Json(command) = body?;
    let adds_reply = matches!(command, Command::Reply { .. } | Command::Note { .. });
    let (ticket, effects) =
        tickets::act(&state.store, &state.config.desk, &user, number, q.version, q.force, command).await?;
    effects.carry_out(&state).await;
    let status = if adds_reply { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(ticket.into())))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MergeBody {
    into: i64,
}

/// Merges the ticket into another.
pub async fn merge(
    AxumState(state): AxumState<AppState>,
    Tech(user): Tech,
    Path(number): Path<String>,
    body: Result<Json<MergeBody>, JsonRejection>,
) -> Result<Json<TicketView>, ApiError> {
    let number = parse_number(&number)?;
    let Json(b) = body?;
    let (ticket, effects) = tickets::merge(&state.store, &state.config.desk.sla, &user, number, b.into).await?;
    effects.carry_out(&state).await;
    Ok(Json(ticket.into()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RelateBody {
    other: i64,
}

pub async fn relate(
    AxumState(state): AxumState<AppState>,
    Tech(user): Tech,
    Path(number): Path<String>,
    body: Result<Json<RelateBody>, JsonRejection>,
) -> Result<Json<TicketView>, ApiError> {
    let number = parse_number(&number)?;
    let Json(b) = body?;
    Ok(Json(tickets::relate(&state.store, &user, number, b.other).await?.into()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PresenceBody {
    /// `viewing` or `drafting`.
    state: String,
}

/// A console's heartbeat on a ticket: answers who is on it now.
pub async fn presence(
    AxumState(state): AxumState<AppState>,
    Tech(user): Tech,
    Path(number): Path<String>,
    body: Result<Json<PresenceBody>, JsonRejection>,
) -> Result<Json<Vec<Presence>>, ApiError> {
    let number = parse_number(&number)?;
    let Json(b) = body?;
    Ok(Json(tickets::mark_presence(&state.store, &user, number, &b.state).await?))
}

/// Asks the ticket's agent for a fresh snapshot; it is attached to the ticket when it arrives.
pub async fn refresh(
    AxumState(state): AxumState<AppState>,
    Tech(user): Tech,
    Path(number): Path<String>,
) -> Result<(StatusCode, Json<Refreshing>), ApiError> {
    let number = parse_number(&number)?;
    let (agent_id, effects) = tickets::refresh(&state.store, &user, number).await?;
    if !effects.carry_out(&state).await.is_empty() {
        return Err(ApiError::new(StatusCode::CONFLICT, format!("agent {agent_id} is not connected")));
    }
    Ok((StatusCode::ACCEPTED, Json(Refreshing { ticket: number, agent_id, requested: true })))
}

#[derive(Deserialize)]
pub struct DiffQuery {
    from: Option<String>,
    to: Option<String>,
}

/// What changed between two snapshots on a ticket: by default its first and its latest.
pub async fn diff(
    AxumState(state): AxumState<AppState>,
    Tech(user): Tech,
    Path(number): Path<String>,
    query: Result<Query<DiffQuery>, QueryRejection>,
) -> Result<Json<DiffView>, ApiError> {
    let number = parse_number(&number)?;
    let Query(q) = query?;
    Ok(Json(tickets::diff(&state.store, &user, number, q.from, q.to).await?.into()))
}

pub(super) fn parse_number(s: &str) -> Result<i64, ApiError> {
    s.parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| ApiError::bad_request(format!("ticket number must be a positive integer, got {s:?}")))
}
