//! Who is asking: a bearer token on every request but the login, which trades a name and password for one.

use std::net::SocketAddr;

use super::views::{LoginView, UserView};
use axum::Json;
use axum::extract::rejection::{ExtensionRejection, JsonRejection};
use axum::extract::{ConnectInfo, FromRequestParts, State as AxumState};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode};
use serde::Deserialize;
use tracing::{debug, error, info, warn};
use utoipa::ToSchema;

use super::AppState;
use super::error::{ApiError, Authenticated, ErrorBody, JsonBody};
use crate::service;
use crate::service::auth::Login;
use crate::store::auth::User;

/// The authenticated technician behind a request: a bearer token, or on a GET the console's session cookie.
///
/// A browser's `EventSource` cannot send a header, so the console's live charts read `GET /api/agents/{id}/live` with
/// the session cookie, which holds a login token like the one `POST /api/login` gives; its links to the API (a
/// report's CSV, a ticket's attachment) are followed with the cookie alike. Writes never take the cookie:
/// a browser sends it with whatever a page makes it send, and only the console's own forms check where a write came
/// from and carry the session's form token.
pub struct Tech(pub User);

impl FromRequestParts<AppState> for Tech {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let bearer = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        let cookie = || crate::console::session_token(&parts.headers).filter(|_| parts.method == Method::GET);
        let token = bearer
            .or_else(cookie)
            .map(str::to_owned)
            .ok_or_else(|| ApiError::new(StatusCode::UNAUTHORIZED, "missing bearer token"))?;
        match service::auth::user_by_token(&state.store, token).await? {
            Some(user) => Ok(Tech(user)),
            None => {
                warn!(path = %parts.uri.path(), "refused an unknown API token");
                Err(ApiError::new(StatusCode::UNAUTHORIZED, "unknown API token"))
            }
        }
    }
}

#[derive(Deserialize, ToSchema)]
pub struct LoginBody {
    /// 1 to 64 bytes.
    user: String,
    /// At most 1024 bytes.
    password: String,
}

/// Name and password for a token that ends after a working day; one answer for an unknown name and a wrong password,
/// and 429 with `Retry-After` for a name or an address that has failed too often and must wait.
#[utoipa::path(
    post,
    path = "/api/login",
    tag = "auth",
    operation_id = "login",
    security(()),
    request_body = LoginBody,
    responses(
        (status = 200, description = "A token, who it is for, and when it ends (Unix milliseconds)", body = LoginView),
        JsonBody,
        (status = 400, description = "Not JSON, or a name or password of the wrong length", body = ErrorBody),
        (status = 401, description = "Wrong user name or password", body = ErrorBody),
        (status = 429, description = "This name or address failed too often: wait `Retry-After` seconds",
            body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds to wait before trying again"))),
        (status = 500, description = "A fault of the server's; its log says more", body = ErrorBody),
        (status = 503, description = "A passing fault of the server's: try again after `Retry-After` seconds",
            body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds to wait before trying again"))),
    )
)]
pub async fn login(
    AxumState(state): AxumState<AppState>,
    peer: Result<ConnectInfo<SocketAddr>, ExtensionRejection>,
    body: Result<Json<LoginBody>, JsonRejection>,
) -> Result<Json<LoginView>, ApiError> {
    // `serve` gives every request its connection's address; without it no address could be limited.
    let ConnectInfo(peer) = peer.map_err(|e| {
        error!(error = %e, "a login request without its peer address");
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "server error; see the server log")
    })?;
    let Json(LoginBody { user: name, password }) = body?;
    if name.is_empty() || name.len() > 64 || password.len() > 1024 {
        return Err(ApiError::bad_request("user must be 1 to 64 bytes, password at most 1024"));
    }
    match service::auth::login(&state.store, name.clone(), password, peer.ip()).await? {
        Login::Granted(session) => {
            info!(user = %session.user.name, %peer, "login");
            Ok(Json(LoginView { token: session.token, user: session.user.into(), expires_at: session.expires_at }))
        }
        Login::Refused => {
            warn!(user = %name, %peer, "login refused");
            Err(ApiError::new(StatusCode::UNAUTHORIZED, "wrong user name or password"))
        }
        Login::Wait(secs) => {
            // Not a warning each: an attacker knocking on would fill the log. The start of each wait is one.
            debug!(user = %name, %peer, secs, "login refused while its name or address waits");
            Err(ApiError::too_many_requests(secs, format!("too many failed logins; try again in {secs} s")))
        }
    }
}

/// Who the token is for.
#[utoipa::path(
    get,
    path = "/api/me",
    tag = "auth",
    operation_id = "me",
    responses((status = 200, description = "The token's account", body = UserView), Authenticated)
)]
pub async fn me(Tech(user): Tech) -> Json<UserView> {
    Json(user.into())
}
