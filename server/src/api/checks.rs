//! Approved checks: the catalog, asking for one on a machine, and its run.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State as AxumState};
use axum::http::StatusCode;
use serde::Deserialize;

use super::AppState;
use super::auth::Tech;
use super::error::ApiError;
use super::views::{self, CatalogEntry, CheckRunView};
use crate::service::checks::{self, Ask};

pub async fn catalog(_: Tech) -> Json<Vec<CatalogEntry>> {
    Json(views::catalog())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckBody {
    check: String,
    #[serde(default)]
    params: serde_json::Map<String, serde_json::Value>,
    ticket: Option<i64>,
    expires_minutes: Option<u32>,
}

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

pub async fn show(
    AxumState(state): AxumState<AppState>,
    Tech(user): Tech,
    Path(id): Path<String>,
) -> Result<Json<CheckRunView>, ApiError> {
    let id = id.parse::<i64>().map_err(|_| ApiError::bad_request("check run id must be a number"))?;
    Ok(Json(checks::get(&state.store, &user, id).await?.into()))
}
