//! Requesters on record, and the help desk's lists: categories and canned replies.

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State as AxumState};
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use super::auth::Tech;
use super::error::{ApiError, Authenticated, BadRequest, ErrorBody, Forbidden, JsonBody, NotFound};
use crate::service::{desk, people};
use crate::store::desk::{Canned, Category};
use crate::store::people::{Fields, Person};

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct Search {
    /// Part of a name, an e-mail address or a department.
    q: Option<String>,
}

/// People on record, all of them or those a search finds.
#[utoipa::path(
    get,
    path = "/api/people",
    tag = "people",
    operation_id = "list_people",
    params(Search),
    responses((status = 200, description = "The people", body = Vec<Person>), Authenticated, Forbidden, BadRequest)
)]
pub async fn list(
    AxumState(state): AxumState<AppState>,
    Tech(user): Tech,
    query: Result<Query<Search>, QueryRejection>,
) -> Result<Json<Vec<Person>>, ApiError> {
    let Query(q) = query?;
    Ok(Json(people::list(&state.store, &user, q.q).await?))
}

/// One person, with the machines' accounts that are theirs.
#[utoipa::path(
    get,
    path = "/api/people/{id}",
    tag = "people",
    operation_id = "show_person",
    params(PersonId),
    responses((status = 200, description = "The person", body = Person), Authenticated, Forbidden, BadRequest, NotFound)
)]
pub async fn show(
    AxumState(state): AxumState<AppState>,
    Tech(user): Tech,
    Path(id): Path<String>,
) -> Result<Json<Person>, ApiError> {
    Ok(Json(people::show(&state.store, &user, parse_id(&id)?).await?))
}

/// Adds a person; `name` is needed.
#[utoipa::path(
    post,
    path = "/api/people",
    tag = "people",
    operation_id = "add_person",
    request_body = Fields,
    responses(
        (status = 201, description = "The person added", body = Person),
        Authenticated,
        JsonBody,
        Forbidden,
        (status = 409, description = "Another person has that e-mail address", body = ErrorBody),
    )
)]
pub async fn add(
    AxumState(state): AxumState<AppState>,
    Tech(user): Tech,
    body: Result<Json<Fields>, JsonRejection>,
) -> Result<(StatusCode, Json<Person>), ApiError> {
    let Json(fields) = body?;
    Ok((StatusCode::CREATED, Json(people::add(&state.store, &user, fields).await?)))
}

/// Changes the fields given; the others stay.
#[utoipa::path(
    patch,
    path = "/api/people/{id}",
    tag = "people",
    operation_id = "edit_person",
    params(PersonId),
    request_body = Fields,
    responses(
        (status = 200, description = "The person as edited", body = Person),
        Authenticated,
        JsonBody,
        Forbidden,
        NotFound,
        (status = 409, description = "The person was merged into another, or another has that e-mail address",
            body = ErrorBody),
    )
)]
pub async fn edit(
    AxumState(state): AxumState<AppState>,
    Tech(user): Tech,
    Path(id): Path<String>,
    body: Result<Json<Fields>, JsonRejection>,
) -> Result<Json<Person>, ApiError> {
    let Json(fields) = body?;
    Ok(Json(people::edit(&state.store, &user, parse_id(&id)?, fields).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkBody {
    /// The machine's agent.
    agent_id: String,
    /// The login name on that machine, 1 to 64 bytes.
    local_user: String,
}

/// Makes a machine's local account this person's: help requests from it are theirs from now on.
#[utoipa::path(
    post,
    path = "/api/people/{id}/accounts",
    tag = "people",
    operation_id = "link_account",
    params(PersonId),
    request_body = LinkBody,
    responses(
        (status = 200, description = "The person with the account", body = Person),
        Authenticated,
        JsonBody,
        Forbidden,
        NotFound,
        (status = 409, description = "The person was merged into another", body = ErrorBody),
    )
)]
pub async fn link(
    AxumState(state): AxumState<AppState>,
    Tech(user): Tech,
    Path(id): Path<String>,
    body: Result<Json<LinkBody>, JsonRejection>,
) -> Result<Json<Person>, ApiError> {
    let Json(b) = body?;
    Ok(Json(people::link(&state.store, &user, parse_id(&id)?, b.agent_id, b.local_user).await?))
}

#[derive(Deserialize, ToSchema)]
#[schema(as = PersonMergeBody)]
#[serde(deny_unknown_fields)]
pub struct MergeBody {
    /// The record that carries on.
    into: i64,
}

/// Folds a record made twice for the same person into the one that carries on.
#[utoipa::path(
    post,
    path = "/api/people/{id}/merge",
    tag = "people",
    operation_id = "merge_person",
    params(PersonId),
    request_body = MergeBody,
    responses(
        (status = 200, description = "The person that carries on", body = Person),
        Authenticated,
        JsonBody,
        Forbidden,
        NotFound,
        (status = 409, description = "One of the two was merged already", body = ErrorBody),
    )
)]
pub async fn merge(
    AxumState(state): AxumState<AppState>,
    Tech(user): Tech,
    Path(id): Path<String>,
    body: Result<Json<MergeBody>, JsonRejection>,
) -> Result<Json<Person>, ApiError> {
    let Json(b) = body?;
    Ok(Json(people::merge(&state.store, &user, parse_id(&id)?, b.into).await?))
}

/// The help desk's categories, retired ones too.
#[utoipa::path(
    get,
    path = "/api/categories",
    tag = "desk",
    operation_id = "list_categories",
    responses((status = 200, description = "The categories", body = Vec<Category>), Authenticated, Forbidden)
)]
pub async fn categories(
    AxumState(state): AxumState<AppState>,
    Tech(user): Tech,
) -> Result<Json<Vec<Category>>, ApiError> {
    Ok(Json(desk::categories(&state.store, &user).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CategoryBody {
    /// Letters, digits, hyphens and underscores.
    name: String,
    /// A top-level category to put it under: two levels at most.
    parent: Option<String>,
    /// What people read; the name by default.
    label: Option<String>,
}

/// Adds a category, or brings a retired one back.
#[utoipa::path(
    post,
    path = "/api/categories",
    tag = "desk",
    operation_id = "add_category",
    request_body = CategoryBody,
    responses(
        (status = 200, description = "The categories, with this one", body = Vec<Category>),
        Authenticated,
        JsonBody,
        Forbidden,
    )
)]
pub async fn add_category(
    AxumState(state): AxumState<AppState>,
    Tech(user): Tech,
    body: Result<Json<CategoryBody>, JsonRejection>,
) -> Result<Json<Vec<Category>>, ApiError> {
    let Json(b) = body?;
    Ok(Json(desk::add_category(&state.store, &user, b.name, b.parent, b.label).await?))
}

/// Retires a category and its subcategories: no longer offered, kept on the tickets that have it.
#[utoipa::path(
    delete,
    path = "/api/categories/{name}",
    tag = "desk",
    operation_id = "retire_category",
    params(("name" = String, Path, description = "The category's name")),
    responses(
        (status = 200, description = "The categories, this one retired", body = Vec<Category>),
        Authenticated,
        BadRequest,
        Forbidden,
        NotFound,
    )
)]
pub async fn retire_category(
    AxumState(state): AxumState<AppState>,
    Tech(user): Tech,
    Path(name): Path<String>,
) -> Result<Json<Vec<Category>>, ApiError> {
    Ok(Json(desk::retire_category(&state.store, &user, name).await?))
}

/// The canned replies technicians fill in.
#[utoipa::path(
    get,
    path = "/api/canned-replies",
    tag = "desk",
    operation_id = "list_canned_replies",
    responses((status = 200, description = "The canned replies", body = Vec<Canned>), Authenticated, Forbidden)
)]
pub async fn canned(AxumState(state): AxumState<AppState>, Tech(user): Tech) -> Result<Json<Vec<Canned>>, ApiError> {
    Ok(Json(desk::canned_replies(&state.store, &user).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CannedBody {
    /// The text, with `{{requester.name}}`-style placeholders.
    body: String,
}

/// Saves a canned reply, new or changed, after checking every placeholder in it.
#[utoipa::path(
    put,
    path = "/api/canned-replies/{name}",
    tag = "desk",
    operation_id = "save_canned_reply",
    params(("name" = String, Path, description = "Letters, digits, hyphens and underscores")),
    request_body = CannedBody,
    responses(
        (status = 200, description = "The canned reply as saved", body = Canned),
        Authenticated,
        JsonBody,
        Forbidden,
    )
)]
pub async fn save_canned(
    AxumState(state): AxumState<AppState>,
    Tech(user): Tech,
    Path(name): Path<String>,
    body: Result<Json<CannedBody>, JsonRejection>,
) -> Result<Json<Canned>, ApiError> {
    let Json(b) = body?;
    Ok(Json(desk::save_canned_reply(&state.store, &user, name, b.body).await?))
}

#[utoipa::path(
    delete,
    path = "/api/canned-replies/{name}",
    tag = "desk",
    operation_id = "delete_canned_reply",
    params(("name" = String, Path, description = "The canned reply's name")),
    responses(
        (status = 204, description = "Deleted"),
        Authenticated,
        BadRequest,
        Forbidden,
        NotFound,
    )
)]
pub async fn delete_canned(
    AxumState(state): AxumState<AppState>,
    Tech(user): Tech,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    desk::delete_canned_reply(&state.store, &user, name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A person's id in the path.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code, reason = "never made: it describes the parameter that `parse_id` reads")]
struct PersonId {
    /// The person's id, from 1.
    #[param(minimum = 1)]
    id: i64,
}

fn parse_id(s: &str) -> Result<i64, ApiError> {
    s.parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| ApiError::bad_request(format!("a person's id is a positive integer, got {s:?}")))
}
