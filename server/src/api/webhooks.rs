//! Webhook endpoints and their delivery log, for admins.

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State as AxumState};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use super::auth::Tech;
use super::error::{ApiError, Authenticated, BadRequest, Forbidden, JsonBody, NotFound, Refused};
use crate::desk::webhooks::{Topic, parse_topics};
use crate::service::webhooks::{self, Added, NewEndpoint};
use crate::store::webhooks::{Attempt, Delivery, Endpoint};

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EndpointBody {
    /// Where deliveries are sent: https, and not a private address unless the server's configuration allows it.
    url: String,
    /// Event names, or `["all"]`.
    events: Vec<String>,
    /// `whsec_...`, to share a secret set up on the receiver first; one is made otherwise.
    secret: Option<String>,
    /// Seconds of silence after which an agent counts as offline, for `agent.offline`.
    offline_after: Option<i64>,
}

/// The webhook endpoints, disabled ones too, with how many deliveries wait for each.
#[utoipa::path(
    get,
    path = "/api/webhooks",
    tag = "webhooks",
    operation_id = "list_webhooks",
    responses((status = 200, description = "The endpoints", body = Vec<Endpoint>), Authenticated, Forbidden)
)]
pub async fn list(AxumState(state): AxumState<AppState>, Tech(user): Tech) -> Result<Json<Vec<Endpoint>>, ApiError> {
    Ok(Json(webhooks::list(&state.store, &user).await?))
}

/// Registers an endpoint; the answer carries its signing secret, which no later answer shows.
#[utoipa::path(
    post,
    path = "/api/webhooks",
    tag = "webhooks",
    operation_id = "add_webhook",
    request_body = EndpointBody,
    responses(
        (status = 201, description = "The endpoint and its secret", body = Added),
        Authenticated,
        JsonBody,
        Forbidden,
    )
)]
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

/// Removes an endpoint; its waiting deliveries are dropped.
#[utoipa::path(
    delete,
    path = "/api/webhooks/{id}",
    tag = "webhooks",
    operation_id = "remove_webhook",
    params(EndpointId),
    responses((status = 204, description = "Removed"), Authenticated, BadRequest, Forbidden, NotFound)
)]
pub async fn remove(
    AxumState(state): AxumState<AppState>,
    Tech(user): Tech,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    webhooks::remove(&state.store, &user, parse_id("an endpoint", &id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Enables an endpoint again: its waiting deliveries resume.
#[utoipa::path(
    post,
    path = "/api/webhooks/{id}/enable",
    tag = "webhooks",
    operation_id = "enable_webhook",
    params(EndpointId),
    responses(
        (status = 200, description = "The endpoint", body = Endpoint),
        Authenticated,
        BadRequest,
        Forbidden,
        NotFound,
    )
)]
pub async fn enable(
    AxumState(state): AxumState<AppState>,
    Tech(user): Tech,
    Path(id): Path<String>,
) -> Result<Json<Endpoint>, ApiError> {
    Ok(Json(webhooks::set_enabled(&state.store, &user, parse_id("an endpoint", &id)?, true).await?))
}

/// Disables an endpoint: its deliveries wait.
#[utoipa::path(
    post,
    path = "/api/webhooks/{id}/disable",
    tag = "webhooks",
    operation_id = "disable_webhook",
    params(EndpointId),
    responses(
        (status = 200, description = "The endpoint", body = Endpoint),
        Authenticated,
        BadRequest,
        Forbidden,
        NotFound,
    )
)]
pub async fn disable(
    AxumState(state): AxumState<AppState>,
    Tech(user): Tech,
    Path(id): Path<String>,
) -> Result<Json<Endpoint>, ApiError> {
    Ok(Json(webhooks::set_enabled(&state.store, &user, parse_id("an endpoint", &id)?, false).await?))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DeliveryQuery {
    /// One endpoint's deliveries only.
    endpoint: Option<i64>,
    /// `pending`, `delivered`, `failed` or `dropped`.
    #[param(pattern = "^(pending|delivered|failed|dropped)$")]
    state: Option<String>,
    /// At most this many, 1 to 1000 (a value outside is brought within); 100 by default.
    limit: Option<i64>,
}

/// The delivery log, newest first.
#[utoipa::path(
    get,
    path = "/api/webhook-deliveries",
    tag = "webhooks",
    operation_id = "list_webhook_deliveries",
    params(DeliveryQuery),
    responses(
        (status = 200, description = "The deliveries", body = Vec<Delivery>),
        Authenticated,
        BadRequest,
        Forbidden,
        Refused,
    )
)]
pub async fn deliveries(
    AxumState(state): AxumState<AppState>,
    Tech(user): Tech,
    query: Result<Query<DeliveryQuery>, QueryRejection>,
) -> Result<Json<Vec<Delivery>>, ApiError> {
    let Query(q) = query?;
    Ok(Json(webhooks::deliveries(&state.store, &user, q.endpoint, q.state, q.limit.unwrap_or(100)).await?))
}

/// A delivery with every attempt made at it.
#[derive(Serialize, ToSchema)]
pub struct DeliveryDetail {
    #[serde(flatten)]
    delivery: Delivery,
    attempt_log: Vec<Attempt>,
}

/// One delivery with its attempts.
#[utoipa::path(
    get,
    path = "/api/webhook-deliveries/{id}",
    tag = "webhooks",
    operation_id = "show_webhook_delivery",
    params(DeliveryId),
    responses(
        (status = 200, description = "The delivery", body = DeliveryDetail),
        Authenticated,
        BadRequest,
        Forbidden,
        NotFound,
    )
)]
pub async fn delivery(
    AxumState(state): AxumState<AppState>,
    Tech(user): Tech,
    Path(id): Path<String>,
) -> Result<Json<DeliveryDetail>, ApiError> {
    let (delivery, attempt_log) = webhooks::delivery(&state.store, &user, parse_id("a delivery", &id)?).await?;
    Ok(Json(DeliveryDetail { delivery, attempt_log }))
}

/// Sends a delivery again, from the start of the schedule.
#[utoipa::path(
    post,
    path = "/api/webhook-deliveries/{id}/redeliver",
    tag = "webhooks",
    operation_id = "redeliver_webhook",
    params(DeliveryId),
    responses(
        (status = 200, description = "The delivery, pending again", body = Delivery),
        Authenticated,
        BadRequest,
        Forbidden,
        NotFound,
        Refused,
    )
)]
pub async fn redeliver(
    AxumState(state): AxumState<AppState>,
    Tech(user): Tech,
    Path(id): Path<String>,
) -> Result<Json<Delivery>, ApiError> {
    Ok(Json(webhooks::redeliver(&state.store, &user, parse_id("a delivery", &id)?).await?))
}

/// An endpoint's id in the path.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code, reason = "never made: it describes the parameter that `parse_id` reads")]
struct EndpointId {
    /// The endpoint's id, from 1.
    #[param(minimum = 1)]
    id: i64,
}

/// A delivery's id in the path.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code, reason = "never made: it describes the parameter that `parse_id` reads")]
struct DeliveryId {
    /// The delivery's id, from 1.
    #[param(minimum = 1)]
    id: i64,
}

fn parse_id(what: &str, s: &str) -> Result<i64, ApiError> {
    s.parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| ApiError::bad_request(format!("{what}'s id is a positive integer, got {s:?}")))
}
