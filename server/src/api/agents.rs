//! Machines: the list, one with its latest snapshot, revoking, and the live view.

use std::time::Duration;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State as AxumState};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use lifeline_shared::wire::{WATCH_INTERVAL_MS, WATCH_MAX_SECS};
use serde::Deserialize;
use tokio::sync::broadcast;
use utoipa::IntoParams;

use super::AppState;
use super::auth::Tech;
use super::error::{ApiError, Authenticated, BadRequest, ErrorBody, Forbidden, NotFound};
use super::views::{AgentDetail, AgentRow, Revoked};
use crate::live::Live;
use crate::service::agents;

/// Every enrolled machine, revoked ones too, and whether each is connected now.
#[utoipa::path(
    get,
    path = "/api/agents",
    tag = "agents",
    operation_id = "list_agents",
    responses((status = 200, description = "The machines", body = Vec<AgentRow>), Authenticated, Forbidden)
)]
pub async fn list(AxumState(state): AxumState<AppState>, Tech(user): Tech) -> Result<Json<Vec<AgentRow>>, ApiError> {
    let list = agents::list(&state.store, &user).await?;
    let rows = list.into_iter().map(|a| {
        let connected = state.connected.contains(&a.id);
        AgentRow::new(a, connected)
    });
    Ok(Json(rows.collect()))
}

/// One machine, with its latest snapshot and what it finds wrong.
#[utoipa::path(
    get,
    path = "/api/agents/{id}",
    tag = "agents",
    operation_id = "show_agent",
    params(("id" = String, Path, description = "The agent's id")),
    responses(
        (status = 200, description = "The machine", body = AgentDetail),
        Authenticated,
        Forbidden,
        BadRequest,
        NotFound,
    )
)]
pub async fn show(
    AxumState(state): AxumState<AppState>,
    Tech(user): Tech,
    Path(id): Path<String>,
) -> Result<Json<AgentDetail>, ApiError> {
    let detail = agents::show(&state.store, &user, id.clone()).await?;
    Ok(Json(AgentDetail::new(detail, state.connected.contains(&id))))
}

/// Revokes a machine for good: its connection is cut and it is refused from then on.
#[utoipa::path(
    post,
    path = "/api/agents/{id}/revoke",
    tag = "agents",
    operation_id = "revoke_agent",
    params(("id" = String, Path, description = "The agent's id")),
    responses(
        (status = 200, description = "Revoked", body = Revoked),
        Authenticated,
        BadRequest,
        Forbidden,
        NotFound,
        (status = 409, description = "The agent is revoked already", body = ErrorBody),
    )
)]
pub async fn revoke(
    AxumState(state): AxumState<AppState>,
    Tech(user): Tech,
    Path(id): Path<String>,
) -> Result<Json<Revoked>, ApiError> {
    agents::revoke(&state.store, &user, &id).await?.carry_out(&state).await;
    Ok(Json(Revoked { revoked: id }))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LiveQuery {
    /// Milliseconds between samples; 1000 by default.
    #[param(minimum = 100, maximum = 10000)]
    interval_ms: Option<u32>,
}

/// Server-Sent Events, one `sample` event per live sample, for as long as the client stays (at most
/// [`WATCH_MAX_SECS`]; reconnecting starts a new watch).
#[utoipa::path(
    get,
    path = "/api/agents/{id}/live",
    tag = "agents",
    operation_id = "watch_agent",
    params(("id" = String, Path, description = "The agent's id"), LiveQuery),
    responses(
        (status = 200, description = "Server-Sent Events: a `sample` event per live sample, its data the sample as \
            JSON, for at most 15 minutes", body = String, content_type = "text/event-stream"),
        Authenticated,
        Forbidden,
        BadRequest,
        NotFound,
        (status = 409, description = "The agent is not connected", body = ErrorBody),
    )
)]
pub async fn live(
    AxumState(state): AxumState<AppState>,
    Tech(user): Tech,
    Path(id): Path<String>,
    query: Result<Query<LiveQuery>, QueryRejection>,
) -> Result<Sse<impl futures_util::Stream<Item = Result<SseEvent, std::convert::Infallible>>>, ApiError> {
    let Query(q) = query?;
    let interval = q.interval_ms.unwrap_or(1000);
    if !WATCH_INTERVAL_MS.contains(&interval) {
        let (min, max) = (WATCH_INTERVAL_MS.start(), WATCH_INTERVAL_MS.end());
        return Err(ApiError::bad_request(format!("interval_ms must be {min} to {max}")));
    }
    agents::get(&state.store, &user, id.clone()).await?;
    let watcher = Live::watch(&state, &id, interval)
        .map_err(|e| ApiError::new(axum::http::StatusCode::CONFLICT, e.to_string()))?;
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
