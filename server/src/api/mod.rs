//! The technicians' HTTPS JSON API: a thin adapter over [`crate::service`]. Each resource has its module; errors
//! become answers in [`error`] only; what is answered is a type of [`views`].

mod agents;
mod auth;
mod checks;
pub mod error;
#[cfg(test)]
mod tests;
mod tickets;
pub mod views;

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State as AxumState};
use axum::http::StatusCode;
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::json;
use tracing::warn;

use crate::State;
use crate::service;
use crate::store::audit;
use auth::Tech;
use error::ApiError;

type AppState = Arc<State>;

/// Largest request body: technicians send notes and commands, never files.
const MAX_BODY: usize = 64 * 1024;

pub fn router(state: AppState) -> axum::Router {
    axum::Router::new()
        .route("/health", get(health))
        .route("/api/login", post(auth::login))
        .route("/api/me", get(auth::me))
        .route("/api/agents", get(agents::list))
        .route("/api/agents/{id}", get(agents::show))
        .route("/api/agents/{id}/revoke", post(agents::revoke))
        .route("/api/agents/{id}/checks", post(checks::run))
        .route("/api/agents/{id}/live", get(agents::live))
        .route("/api/tickets", get(tickets::list))
        .route("/api/tickets/{number}", get(tickets::show))
        .route("/api/tickets/{number}/actions", post(tickets::act))
        .route("/api/tickets/{number}/refresh", post(tickets::refresh))
        .route("/api/tickets/{number}/diff", get(tickets::diff))
        .route("/api/catalog", get(checks::catalog))
        .route("/api/checks/{id}", get(checks::show))
        .route("/api/stats/self-help", get(self_help_stats))
        .route("/api/audit", get(audit_entries))
        .route("/api/audit/verify", get(audit_verify))
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "no such route") })
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
        .with_state(state)
}

pub async fn serve(state: AppState, listener: tokio::net::TcpListener, tls: Arc<rustls::ServerConfig>) {
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    let app = router(state);
    loop {
        let (tcp, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                warn!(error = %e, "API accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let acceptor = acceptor.clone();
        let service = hyper_util::service::TowerToHyperService::new(app.clone());
        tokio::spawn(async move {
            let tls = match tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp)).await {
                Ok(Ok(tls)) => tls,
                Ok(Err(e)) => return tracing::debug!(%peer, error = %e, "API TLS handshake failed"),
                Err(_) => return tracing::debug!(%peer, "API TLS handshake timed out"),
            };
            let io = hyper_util::rt::TokioIo::new(tls);
            if let Err(e) = hyper::server::conn::http1::Builder::new().serve_connection(io, service).await {
                tracing::debug!(%peer, error = %e, "API connection ended with an error");
            }
        });
    }
}

async fn health() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok", "version": env!("CARGO_PKG_VERSION") }))
}

#[derive(Deserialize)]
struct SinceQuery {
    days: Option<u32>,
}

/// The help desk's "solved without a call" figure: self-help advice shown, and how often no request followed.
async fn self_help_stats(
    AxumState(state): AxumState<AppState>,
    Tech(user): Tech,
    query: Result<Query<SinceQuery>, QueryRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Query(q) = query?;
    let days = q.days.unwrap_or(30);
    if !(1..=3660).contains(&days) {
        return Err(ApiError::bad_request("days must be 1 to 3660"));
    }
    let figures = service::stats::self_help(&state.store, &user, days).await?;
    Ok(Json(json!({ "days": days, "figures": figures })))
}

#[derive(Deserialize)]
struct AuditQuery {
    #[serde(default)]
    after: i64,
    limit: Option<i64>,
}

/// Pages of the log, oldest first; `after` is the last `seq` the caller has.
async fn audit_entries(
    AxumState(state): AxumState<AppState>,
    Tech(user): Tech,
    query: Result<Query<AuditQuery>, QueryRejection>,
) -> Result<Json<Vec<audit::Entry>>, ApiError> {
    let Query(q) = query?;
    let limit = q.limit.unwrap_or(1000).clamp(1, 10_000);
    Ok(Json(service::audit::entries(&state.store, &user, q.after, limit).await?))
}

async fn audit_verify(
    AxumState(state): AxumState<AppState>,
    Tech(user): Tech,
) -> Result<Json<audit::Verdict>, ApiError> {
    Ok(Json(service::audit::verify(&state.store, &user).await?))
}
