//! Requesters on record, and the help desk's lists: categories and canned replies.

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State as AxumState};
use axum::http::StatusCode;
use serde::Deserialize;

use super::AppState;
use super::auth::Tech;
use super::error::ApiError;
use crate::service::{desk, people};
use crate::store::desk::{Canned, Category};
use crate::store::people::{Fields, Person};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Search {
    /// Part of a name, an e-mail address or a department.
    q: Option<String>,
}

pub async fn list(
    AxumState(state): AxumState<AppState>,
    Tech(user): Tech,
    query: Result<Query<Search>, QueryRejection>,
) -> Result<Json<Vec<Person>>, ApiError> {
    let Query(q) = query?;
    Ok(Json(people::list(&state.store, &user, q.q).await?))
}

pub async fn show(
    AxumState(state): AxumState<AppState>,
    Tech(user): Tech,
    Path(id): Path<String>,
) -> Result<Json<Person>, ApiError> {
    Ok(Json(people::show(&state.store, &user, parse_id(&id)?).await?))
}

pub async fn add(
    AxumState(state): AxumState<AppState>,
    Tech(user): Tech,
    body: Result<Json<Fields>, JsonRejection>,
) -> Result<(StatusCode, Json<Person>), ApiError> {
    let Json(fields) = body?;
    Ok((StatusCode::CREATED, Json(people::add(&state.store, &user, fields).await?)))
}

pub async fn edit(
    AxumState(state): AxumState<AppState>,
    Tech(user): Tech,
    Path(id): Path<String>,
    body: Result<Json<Fields>, JsonRejection>,
) -> Result<Json<Person>, ApiError> {
    let Json(fields) = body?;
    Ok(Json(people::edit(&state.store, &user, parse_id(&id)?, fields).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkBody {
    agent_id: String,
    local_user: String,
}

pub async fn link(
    AxumState(state): AxumState<AppState>,
    Tech(user): Tech,
    Path(id): Path<String>,
    body: Result<Json<LinkBody>, JsonRejection>,
) -> Result<Json<Person>, ApiError> {
    let Json(b) = body?;
    Ok(Json(people::link(&state.store, &user, parse_id(&id)?, b.agent_id, b.local_user).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MergeBody {
    into: i64,
}

pub async fn merge(
    AxumState(state): AxumState<AppState>,
    Tech(user): Tech,
    Path(id): Path<String>,
    body: Result<Json<MergeBody>, JsonRejection>,
) -> Result<Json<Person>, ApiError> {
    let Json(b) = body?;
    Ok(Json(people::merge(&state.store, &user, parse_id(&id)?, b.into).await?))
}

pub async fn categories(
    AxumState(state): AxumState<AppState>,
    Tech(user): Tech,
) -> Result<Json<Vec<Category>>, ApiError> {
    Ok(Json(desk::categories(&state.store, &user).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CategoryBody {
    name: String,
    parent: Option<String>,
    label: Option<String>,
}

pub async fn add_category(
    AxumState(state): AxumState<AppState>,
    Tech(user): Tech,
    body: Result<Json<CategoryBody>, JsonRejection>,
) -> Result<Json<Vec<Category>>, ApiError> {
    let Json(b) = body?;
    Ok(Json(desk::add_category(&state.store, &user, b.name, b.parent, b.label).await?))
}

pub async fn retire_category(
    AxumState(state): AxumState<AppState>,
    Tech(user): Tech,
    Path(name): Path<String>,
) -> Result<Json<Vec<Category>>, ApiError> {
    Ok(Json(desk::retire_category(&state.store, &user, name).await?))
}

pub async fn canned(AxumState(state): AxumState<AppState>, Tech(user): Tech) -> Result<Json<Vec<Canned>>, ApiError> {
    Ok(Json(desk::canned_replies(&state.store, &user).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CannedBody {
    body: String,
}

pub async fn save_canned(
    AxumState(state): AxumState<AppState>,
    Tech(user): Tech,
    Path(name): Path<String>,
    body: Result<Json<CannedBody>, JsonRejection>,
) -> Result<Json<Canned>, ApiError> {
    let Json(b) = body?;
    Ok(Json(desk::save_canned_reply(&state.store, &user, name, b.body).await?))
}

pub async fn delete_canned(
    AxumState(state): AxumState<AppState>,
    Tech(user): Tech,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    desk::delete_canned_reply(&state.store, &user, name).await?;
    Ok(StatusCode::NO_CONTENT)
}

fn parse_id(s: &str) -> Result<i64, ApiError> {
    s.parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| ApiError::bad_request(format!("a person's id is a positive integer, got {s:?}")))
}
