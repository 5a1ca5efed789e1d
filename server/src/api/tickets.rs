//! Tickets: the list, one with its findings, snapshot and log, the files its mail brought (each only ever a
//! download), a technician's actions, a fresh snapshot, and the before/after of two snapshots.

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State as AxumState};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use super::auth::Tech;
use super::error::{ApiError, Authenticated, BadRequest, ErrorBody, Forbidden, JsonBody, NotFound, Refused};
use super::views::{DiffView, Refreshing, TicketDetail, TicketPage, TicketView};
use crate::desk::priority::Level;
use crate::desk::tickets::{Channel, Command, Status};
use crate::service::tickets::{self, NewTicket};
use crate::store::auth::User;
use crate::store::desk::Presence;
use crate::store::tickets::{Assignee, Cursor, SlaFilter, Sort};
use crate::store::{self, now_ms};

/// `GET /api/tickets` filters; each optional, all of them applying at once.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    #[param(value_type = Option<Status>, inline)]
    status: Option<String>,
    #[param(maximum = 255)]
    tier: Option<u8>,
    /// `me`, `none`, or a user name.
    assignee: Option<String>,
    category: Option<String>,
    #[param(value_type = Option<Level>, inline)]
    priority: Option<String>,
    #[param(value_type = Option<Channel>, inline)]
    channel: Option<String>,
    /// A person's id.
    person: Option<i64>,
    /// The requester's name on the ticket.
    requester: Option<String>,
    /// An agent id or host name.
    machine: Option<String>,
    /// Opened at least this many hours ago.
    // The u32 range, not the int32 that utoipa would say for a u32 and the server does not hold to.
    #[param(value_type = Option<i64>, minimum = 0, maximum = 4_294_967_295_u64)]
    older_than_hours: Option<u32>,
    /// `breached`, or `due-soon` (a deadline in the next `due_within_minutes`, 60 by default).
    #[param(pattern = "^(breached|due-soon)$")]
    sla: Option<String>,
    #[param(value_type = Option<i64>, minimum = 0, maximum = 4_294_967_295_u64)]
    due_within_minutes: Option<u32>,
    /// Words, all of which must appear in the subject, description or conversation.
    text: Option<String>,
    /// Only these tickets: their numbers, comma-separated, at most 500; merged ones too, as they were asked for.
    #[param(pattern = "^[0-9]+(,[0-9]+)*$")]
    numbers: Option<String>,
    /// `updated` (default), `created` or `priority`.
    #[param(pattern = "^(updated|created|priority)$")]
    sort: Option<String>,
    /// The `next` of the previous page.
    after: Option<String>,
    #[param(value_type = Option<i64>, minimum = 0, maximum = 4_294_967_295_u64)]
    limit: Option<u32>,
}

/// The most ticket numbers one list names: a figure's tickets, in an address that stays a few kilobytes long.
pub(crate) const MAX_NUMBERS: usize = 500;

/// A page of tickets, newest activity first unless sorted otherwise.
#[utoipa::path(
    get,
    path = "/api/tickets",
    tag = "tickets",
    operation_id = "list_tickets",
    params(ListQuery),
    responses(
        (status = 200, description = "One page; `next`, given back as `after`, asks for the following one",
            body = TicketPage),
        Authenticated,
        Forbidden,
        BadRequest,
    )
)]
pub async fn list(
    AxumState(state): AxumState<AppState>,
    Tech(user): Tech,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<TicketPage>, ApiError> {
    let Query(q) = query?;
    let query = q.resolve(&user, now_ms())?;
    let page = tickets::list(&state.store, &user, query).await?;
    Ok(Json(page.into()))
}

impl ListQuery {
    /// The store's query for these filters as `user` asks them at `now`; the console's queue reads the same.
    pub(crate) fn resolve(self, user: &User, now: i64) -> Result<store::tickets::Query, ApiError> {
        let q = self;
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
        Ok(store::tickets::Query {
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
            numbers: q.numbers.as_deref().map(numbers).transpose()?,
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
        })
    }
}

/// Opens a ticket for a call, a mail, a chat or a visit.
#[utoipa::path(
    post,
    path = "/api/tickets",
    tag = "tickets",
    operation_id = "create_ticket",
    request_body = NewTicket,
    responses(
        (status = 201, description = "The ticket opened", body = TicketView),
        Authenticated,
        JsonBody,
        Forbidden,
        (status = 404, description = "The person named by `person` does not exist", body = ErrorBody),
    )
)]
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

/// A ticket with its findings, its latest snapshot, its whole log (the tickets merged into it too), who else is on
/// it, and its SLA clocks.
#[utoipa::path(
    get,
    path = "/api/tickets/{number}",
    tag = "tickets",
    operation_id = "show_ticket",
    params(Number),
    responses(
        (status = 200, description = "The ticket", body = TicketDetail),
        Authenticated,
        Forbidden,
        BadRequest,
        NotFound,
    )
)]
pub async fn show(
    AxumState(state): AxumState<AppState>,
    Tech(user): Tech,
    Path(number): Path<String>,
) -> Result<Json<TicketDetail>, ApiError> {
    let number = parse_number(&number)?;
    Ok(Json(tickets::show(&state.store, &state.config.desk, &user, number).await?.into()))
}

/// A file that came with the ticket's mail (or with that of a ticket merged into it), its bytes as they came. Always
/// a download, never a page: the sender chose its type and its content, and an HTML file opened in our origin would
/// run as the technician.
#[utoipa::path(
    get,
    path = "/api/tickets/{number}/attachments/{id}",
    tag = "tickets",
    operation_id = "download_attachment",
    params(Number, AttachmentId),
    responses(
        (status = 200, description = "The file's bytes, with the type the mail gave it (`application/octet-stream` \
            when that is no media type), as an attachment named as the sender named it, never to be sniffed or shown \
            in place", content_type = "*/*", body = FileBytes,
            headers(
                ("Content-Disposition" = String, description = "`attachment; filename*=UTF-8''` and the file's name, \
                    percent-encoded (RFC 6266, RFC 8187)"),
                ("X-Content-Type-Options" = String, description = "`nosniff`"),
                ("Content-Security-Policy" = String, description = "`sandbox; default-src 'none'`: nothing in it runs \
                    even if a browser shows it"),
            )),
        Authenticated,
        Forbidden,
        BadRequest,
        (status = 404, description = "No such ticket, or no such file on it", body = ErrorBody),
    )
)]
pub async fn attachment(
    AxumState(state): AxumState<AppState>,
    Tech(user): Tech,
    Path((number, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let number = parse_number(&number)?;
    let id = id
        .parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| ApiError::bad_request(format!("attachment id must be a positive integer, got {id:?}")))?;
    let file = tickets::attachment(&state.store, &user, number, id).await?;
    let headers = [
        (header::CONTENT_TYPE, served_type(&file.info.content_type)),
        (header::CONTENT_DISPOSITION, disposition(&file.info.name)),
        (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
        (header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("sandbox; default-src 'none'")),
    ];
    Ok((headers, file.data).into_response())
}

/// The type a stored file is served with: the one its mail gave, if it is a media type (`type/subtype`, RFC 9110's
/// token characters), else `application/octet-stream`. The sender wrote it, so nothing else of it reaches a header.
pub(crate) fn served_type(stored: &str) -> HeaderValue {
    let token =
        |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
    match stored.split_once('/') {
        Some((kind, subtype)) if stored.len() <= 255 && token(kind) && token(subtype) => {
            HeaderValue::from_str(stored).unwrap_or(HeaderValue::from_static("application/octet-stream"))
        }
        _ => HeaderValue::from_static("application/octet-stream"),
    }
}

/// `Content-Disposition` for a file saved under `name`: always an attachment, the name in RFC 8187's encoding
/// (UTF-8, every byte but its `attr-char`s percent-encoded), so no quote, semicolon or line break of the sender's
/// can end it.
pub(crate) fn disposition(name: &str) -> HeaderValue {
    let mut value = String::from("attachment; filename*=UTF-8''");
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
            value.push(char::from(b));
        } else {
            value.push_str(&format!("%{b:02X}"));
        }
    }
    // Only visible ASCII is left, which a header value always takes.
    HeaderValue::from_str(&value).unwrap_or(HeaderValue::from_static("attachment"))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ActQuery {
    /// The ticket's version the technician saw: a public reply or status change to a ticket that got a public
    /// event since is refused with 409 and the events missed.
    version: Option<i64>,
    /// Act even so; recorded in the audit log.
    #[serde(default)]
    force: bool,
}

/// A technician's action on a ticket: `{"action": "reply", "body": "..."}`, `{"action": "status", "status":
/// "resolved", "code": "..."}` and the others of the body's schema.
#[utoipa::path(
    post,
    path = "/api/tickets/{number}/actions",
    tag = "tickets",
    operation_id = "act_on_ticket",
    params(Number, ActQuery),
    request_body = Command,
    responses(
        (status = 200, description = "Done; the ticket as it is now", body = TicketView),
        (status = 201, description = "A reply or note added; the ticket as it is now", body = TicketView),
        Authenticated,
        JsonBody,
        Forbidden,
        NotFound,
        (status = 409, description = "The ticket moved on: it got a public event since `version` (`missed` lists \
            them), or it is closed, merged or already in that status", body = ErrorBody),
    )
)]
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

#[derive(Deserialize, ToSchema)]
#[schema(as = TicketMergeBody)]
#[serde(deny_unknown_fields)]
pub struct MergeBody {
    /// The ticket that carries on.
    into: i64,
}

/// Merges the ticket into another, which carries on; this one becomes read-only.
#[utoipa::path(
    post,
    path = "/api/tickets/{number}/merge",
    tag = "tickets",
    operation_id = "merge_ticket",
    params(Number),
    request_body = MergeBody,
    responses(
        (status = 200, description = "The ticket merged into", body = TicketView),
        Authenticated,
        JsonBody,
        Forbidden,
        NotFound,
        (status = 409, description = "The ticket is closed or merged already", body = ErrorBody),
    )
)]
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

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RelateBody {
    /// The other ticket.
    other: i64,
}

/// Records that two tickets are about the same thing, on both.
#[utoipa::path(
    post,
    path = "/api/tickets/{number}/relate",
    tag = "tickets",
    operation_id = "relate_tickets",
    params(Number),
    request_body = RelateBody,
    responses(
        (status = 200, description = "The ticket, related", body = TicketView),
        Authenticated,
        JsonBody,
        Forbidden,
        NotFound,
        (status = 409, description = "The ticket is closed or merged", body = ErrorBody),
    )
)]
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

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PresenceBody {
    /// `viewing` or `drafting`.
    #[schema(pattern = "^(viewing|drafting)$")]
    state: String,
}

/// A console's heartbeat on a ticket: answers who is on it now.
#[utoipa::path(
    post,
    path = "/api/tickets/{number}/presence",
    tag = "tickets",
    operation_id = "ticket_presence",
    params(Number),
    request_body = PresenceBody,
    responses(
        (status = 200, description = "Who is on the ticket now, the caller too", body = Vec<Presence>),
        Authenticated,
        Forbidden,
        JsonBody,
        NotFound,
    )
)]
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
#[utoipa::path(
    post,
    path = "/api/tickets/{number}/refresh",
    tag = "tickets",
    operation_id = "refresh_ticket",
    params(Number),
    responses(
        (status = 202, description = "Asked for", body = Refreshing),
        Authenticated,
        BadRequest,
        Forbidden,
        NotFound,
        (status = 409, description = "The ticket's agent is not connected", body = ErrorBody),
        Refused,
    )
)]
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

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DiffQuery {
    /// A snapshot's id (hex) on the ticket; its first by default.
    from: Option<String>,
    /// A snapshot's id (hex) on the ticket; its latest by default.
    to: Option<String>,
}

/// What changed between two snapshots on a ticket: by default its first and its latest.
#[utoipa::path(
    get,
    path = "/api/tickets/{number}/diff",
    tag = "tickets",
    operation_id = "diff_ticket_snapshots",
    params(Number, DiffQuery),
    responses(
        (status = 200, description = "The two snapshots and the changes from one to the other", body = DiffView),
        Authenticated,
        Forbidden,
        BadRequest,
        (status = 404, description = "No such ticket, or no such snapshot on it", body = ErrorBody),
        (status = 422, description = "The ticket has one snapshot to compare", body = ErrorBody),
    )
)]
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

/// A ticket's number in the path.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code, reason = "never made: it describes the parameter that `parse_number` reads")]
pub(super) struct Number {
    /// The ticket's number, from 1.
    #[param(minimum = 1)]
    number: i64,
}

/// A file's id in the path, as the ticket's view lists it.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code, reason = "never made: it describes the parameter that `attachment` reads")]
pub(super) struct AttachmentId {
    /// The file's id, from 1.
    #[param(minimum = 1)]
    id: i64,
}

/// A file's bytes, as they came.
#[derive(ToSchema)]
#[schema(value_type = String, format = Binary)]
#[allow(dead_code, reason = "never made: it describes the body that `attachment` answers with")]
pub(super) struct FileBytes(Vec<u8>);

/// The `numbers` filter: ticket numbers, comma-separated, at least one and at most [`MAX_NUMBERS`].
fn numbers(list: &str) -> Result<Vec<i64>, ApiError> {
    let numbers = list.split(',').map(parse_number).collect::<Result<Vec<i64>, _>>()?;
    if numbers.len() > MAX_NUMBERS {
        return Err(ApiError::bad_request(format!(
            "numbers names {} tickets; at most {MAX_NUMBERS} at once",
            numbers.len()
        )));
    }
    Ok(numbers)
}

pub(crate) fn parse_number(s: &str) -> Result<i64, ApiError> {
    s.parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| ApiError::bad_request(format!("ticket number must be a positive integer, got {s:?}")))
}
