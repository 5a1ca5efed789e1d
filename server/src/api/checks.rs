//! Approved checks: the catalog, asking for one on a machine, and its run.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State as AxumState};
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::ToSchema;

use super::AppState;
use super::auth::Tech;
use super::error::{ApiError, Authenticated, BadRequest, Forbidden, JsonBody, NotFound};
use super::views::{self, CatalogEntry, CheckRunView};
use crate::service::checks::{self, Ask};

/// Every approved check this build knows, with the tier each needs and the parameters it takes.
#[utoipa::path(
    get,
    path = "/api/catalog",
    tag = "checks",
    operation_id = "catalog",
    responses((status = 200, description = "The catalog", body = Vec<CatalogEntry>), Authenticated)
)]
pub async fn catalog(_: Tech) -> Json<Vec<CatalogEntry>> {
    Json(views::catalog())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckBody {
    /// A name from the catalog.
    check: String,
    /// The check's parameters by name, each a string (a number or a boolean is taken as its text).
    #[serde(default)]
    #[schema(value_type = Object)]
    params: serde_json::Map<String, serde_json::Value>,
    /// The ticket whose consent window allows the run; without one, the machine's unattended policy must.
    ticket: Option<i64>,
    /// How long the request waits for an offline machine; 60 by default.
    // The u32 range, not the int32 that utoipa would say for a u32 and the server does not hold to.
    #[schema(value_type = Option<i64>, minimum = 0, maximum = 4_294_967_295_u64)]
    expires_minutes: Option<u32>,
}

/// Asks a machine for an approved check: sent now if it is connected, when it connects otherwise.
#[utoipa::path(
    post,
    path = "/api/agents/{id}/checks",
    tag = "checks",
    operation_id = "run_check",
    params(("id" = String, Path, description = "The agent's id")),
    request_body = CheckBody,
    responses(
        (status = 202, description = "Asked for; the run's state says how far it got", body = CheckRunView),
        Authenticated,
        JsonBody,
        Forbidden,
        NotFound,
    )
)]
pub async fn run(
    AxumState(state): AxumState<AppState>,
    Tech(user): Tech,
    Path(agent_id): Path<String>,
    body: Result<Json<CheckBody>, JsonRejection>,
) -> Result<(StatusCode, Json<CheckRunView>), ApiError> {
    let Json(body) = body?;
    let mut params = Vec::with_capacity(body.params.len());
    for (key, value) in body.params {
        let text = match value {
            serde_json::Value::String(s) => s,
            serde_json::Value::Number(n) => n.to_string(),
            serde_json::Value::Bool(b) => if b { "yes" } else { "no" }.to_owned(),
            _ => return Err(ApiError::bad_request(format!("parameter {key:?} must be a string"))),
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
    let (run, effects) = checks::request(&state.store, &user, ask).await?;
    if !effects.carry_out(&state).await.is_empty() {
        tracing::info!(run = run.id, "agent offline; the check waits for it to connect");
    }
    Ok((StatusCode::ACCEPTED, Json(run.into())))
}

/// One check run: its state and, once it ended, its result.
#[utoipa::path(
    get,
    path = "/api/checks/{id}",
    tag = "checks",
    operation_id = "show_check_run",
    params(("id" = i64, Path, description = "The run's id")),
    responses(
        (status = 200, description = "The run", body = CheckRunView),
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
) -> Result<Json<CheckRunView>, ApiError> {
    let id = id.parse::<i64>().map_err(|_| ApiError::bad_request("check run id must be a number"))?;
    Ok(Json(checks::get(&state.store, &user, id).await?.into()))
}
