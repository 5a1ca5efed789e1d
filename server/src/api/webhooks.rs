//! Webhook endpoints and their delivery log, for admins.

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State as AxumState};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use super::AppState;
use super::auth::Tech;
use super::error::ApiError;
use crate::desk::webhooks::{Topic, parse_topics};
use crate::service::webhooks::{self, Added, NewEndpoint};
use crate::store::webhooks::{Attempt, Delivery, Endpoint};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndpointBody {
    url: String,
    /// Event names, or `["all"]`.
    events: Vec<String>,
    /// `whsec_...`, to share a secret set up on the receiver first; one is made otherwise.
    secret: Option<String>,
    /// Seconds of silence after which an agent counts as offline, for `agent.offline`.
    offline_after: Option<i64>,
}

pub async fn list(AxumState(state): AxumState<AppState>, Tech(user): Tech) -> Result<Json<Vec<Endpoint>>, ApiError> {
    Ok(Json(webhooks::list(&state.store, &user).await?))
}

pub async fn add(
    AxumState(state): AxumState<AppState>,
    Tech(user): Tech,
    body: Result<Json<EndpointBody>, JsonRejection>,
) -> Result<(StatusCode, Json<Added>), ApiError> {
    let Json(b) = body?;
    let topics: Vec<Topic> = parse_topics(&b.events.join(",")).map_err(ApiError::bad_request)?;
    let new = NewEndpoint { url: b.url, topics, secret: b.secret, offline_after: b.offline_after };
    Ok((StatusCode::CREATED, Json(webhooks::add(&state.store, &user, new).await?)))
}

pub async fn remove(
    AxumState(state): AxumState<AppState>,
    Tech(user): Tech,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    webhooks::remove(&state.store, &user, parse_id("an endpoint", &id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn enable(
    AxumState(state): AxumState<AppState>,
    Tech(user): Tech,
    Path(id): Path<String>,
) -> Result<Json<Endpoint>, ApiError> {
    Ok(Json(webhooks::set_enabled(&state.store, &user, parse_id("an endpoint", &id)?, true).await?))
}

pub async fn disable(
    AxumState(state): AxumState<AppState>,
    Tech(user): Tech,
    Path(id): Path<String>,
) -> Result<Json<Endpoint>, ApiError> {
    Ok(Json(webhooks::set_enabled(&state.store, &user, parse_id("an endpoint", &id)?, false).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliveryQuery {
    endpoint: Option<i64>,
    state: Option<String>,
    limit: Option<i64>,
}

pub async fn deliveries(
    AxumState(state): AxumState<AppState>,
    Tech(user): Tech,
    query: Result<Query<DeliveryQuery>, QueryRejection>,
) -> Result<Json<Vec<Delivery>>, ApiError> {
    let Query(q) = query?;
    Ok(Json(webhooks::deliveries(&state.store, &user, q.endpoint, q.state, q.limit.unwrap_or(100)).await?))
}

#[derive(Serialize)]
pub struct DeliveryDetail {
    #[serde(flatten)]
    delivery: Delivery,
    attempt_log: Vec<Attempt>,
}

pub async fn delivery(
    AxumState(state): AxumState<AppState>,
    Tech(user): Tech,
    Path(id): Path<String>,
) -> Result<Json<DeliveryDetail>, ApiError> {
    let (delivery, attempt_log) = webhooks::delivery(&state.store, &user, parse_id("a delivery", &id)?).await?;
    Ok(Json(DeliveryDetail { delivery, attempt_log }))
}

pub async fn redeliver(
    AxumState(state): AxumState<AppState>,
    Tech(user): Tech,
    Path(id): Path<String>,
) -> Result<Json<Delivery>, ApiError> {
    Ok(Json(webhooks::redeliver(&state.store, &user, parse_id("a delivery", &id)?).await?))
}

fn parse_id(what: &str, s: &str) -> Result<i64, ApiError> {
    s.parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| ApiError::bad_request(format!("{what}'s id is a positive integer, got {s:?}")))
}
