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
use super::views::{DiffView, Refreshing, TicketDetail, TicketRow, TicketView};
use crate::desk::tickets::{Command, Status};
use crate::service::tickets;

#[derive(Deserialize)]
pub struct ListQuery {
    status: Option<String>,
}

pub async fn list(
    AxumState(state): AxumState<AppState>,
    Tech(user): Tech,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<Vec<TicketRow>>, ApiError> {
    let Query(q) = query?;
    let status = q.status.as_deref().map(parse_status).transpose()?;
    let rows = tickets::list(&state.store, &user, status).await?;
    Ok(Json(rows.into_iter().map(TicketRow::from).collect()))
}

pub async fn show(
    AxumState(state): AxumState<AppState>,
    Tech(user): Tech,
    Path(number): Path<String>,
) -> Result<Json<TicketDetail>, ApiError> {
    let number = parse_number(&number)?;
    Ok(Json(tickets::show(&state.store, &user, number).await?.into()))
}

#[derive(Deserialize)]
pub struct ActQuery {
    /// The ticket's version the technician saw; a ticket that changed since is refused with 409.
    version: Option<i64>,
}

pub async fn act(
    AxumState(state): AxumState<AppState>,
    Tech(user): Tech,
    Path(number): Path<String>,
    query: Result<Query<ActQuery>, QueryRejection>,
    body: Result<Json<Command>, JsonRejection>,
) -> Result<Json<TicketView>, ApiError> {
    let number = parse_number(&number)?;
    let Query(q) = query?;
    let Json(command) = body?;
    let (ticket, effects) = tickets::act(&state.store, &user, number, q.version, command).await?;
    effects.carry_out(&state).await;
    Ok(Json(ticket.into()))
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

fn parse_status(s: &str) -> Result<Status, ApiError> {
    Status::parse(s).ok_or_else(|| {
        let names: Vec<_> = Status::ALL.iter().map(|s| s.as_str()).collect();
        ApiError::bad_request(format!("unknown status {s:?}; one of {}", names.join(", ")))
    })
}

fn parse_number(s: &str) -> Result<i64, ApiError> {
    s.parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| ApiError::bad_request(format!("ticket number must be a positive integer, got {s:?}")))
}
