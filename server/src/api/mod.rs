//! The technicians' HTTPS JSON API: a thin adapter over [`crate::service`]. Each resource has its module; errors
//! become answers in [`error`] only; what is answered is a type of [`views`].

mod agents;
mod auth;
mod checks;
pub mod error;
mod people;
mod stats;
#[cfg(test)]
mod tests;
mod tickets;
pub mod views;
mod webhooks;

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Query, State as AxumState};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use serde::Deserialize;
use serde_json::json;
use tracing::warn;

use crate::State;
use crate::metrics::{HttpLabels, METRICS};
use crate::service;
use crate::store::audit;
use auth::Tech;
use error::ApiError;

type AppState = Arc<State>;

/// Largest request body: technicians send notes and commands, never files.
const MAX_BODY: usize = 64 * 1024;
/// Largest login: a name of 64 bytes and a password of 1024, each character escaped at worst as six in JSON.
const MAX_LOGIN_BODY: usize = 16 * 1024;
/// Largest action on a ticket: a reply or note of the longest allowed text, with every character escaped as two
/// (quotes, backslashes, newlines, tabs), and room for the rest of the action.
const MAX_ACTION_BODY: usize = 2 * crate::desk::tickets::MAX_BODY + 4 * 1024;

pub fn router(state: AppState) -> axum::Router {
    axum::Router::new()
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .route("/api/login", post(auth::login).layer(DefaultBodyLimit::max(MAX_LOGIN_BODY)))
        .route("/api/me", get(auth::me))
        .route("/api/agents", get(agents::list))
        .route("/api/agents/{id}", get(agents::show))
        .route("/api/agents/{id}/revoke", post(agents::revoke))
        .route("/api/agents/{id}/checks", post(checks::run))
        .route("/api/agents/{id}/live", get(agents::live))
        .route("/api/tickets", get(tickets::list).post(tickets::create).layer(DefaultBodyLimit::max(MAX_ACTION_BODY)))
        .route("/api/tickets/{number}", get(tickets::show))
        .route("/api/tickets/{number}/merge", post(tickets::merge))
        .route("/api/tickets/{number}/relate", post(tickets::relate))
        .route("/api/tickets/{number}/presence", post(tickets::presence))
        .route("/api/people", get(people::list).post(people::add))
        .route("/api/people/{id}", get(people::show).patch(people::edit))
        .route("/api/people/{id}/accounts", post(people::link))
        .route("/api/people/{id}/merge", post(people::merge))
        .route("/api/categories", get(people::categories).post(people::add_category))
        .route("/api/categories/{name}", delete(people::retire_category))
        .route("/api/canned-replies", get(people::canned))
        .route("/api/canned-replies/{name}", put(people::save_canned).delete(people::delete_canned))
        .route("/api/tickets/{number}/actions", post(tickets::act).layer(DefaultBodyLimit::max(MAX_ACTION_BODY)))
        .route("/api/tickets/{number}/refresh", post(tickets::refresh))
        .route("/api/tickets/{number}/diff", get(tickets::diff))
        .route("/api/catalog", get(checks::catalog))
        .route("/api/checks/{id}", get(checks::show))
        .route("/api/stats/self-help", get(self_help_stats))
        .route("/api/stats/technicians", get(stats::technicians))
        .route("/api/stats/response", get(stats::response))
        .route("/api/stats/backlog", get(stats::backlog))
        .route("/api/stats/flow", get(stats::flow))
        .route("/api/stats/sla", get(stats::sla))
        .route("/api/stats/categories", get(stats::categories))
        .route("/api/stats/education", get(stats::education))
        .route("/api/stats/checks", get(stats::checks))
        .route("/api/webhooks", get(webhooks::list).post(webhooks::add))
        .route("/api/webhooks/{id}", delete(webhooks::remove))
        .route("/api/webhooks/{id}/enable", post(webhooks::enable))
        .route("/api/webhooks/{id}/disable", post(webhooks::disable))
        .route("/api/webhook-deliveries", get(webhooks::deliveries))
        .route("/api/webhook-deliveries/{id}", get(webhooks::delivery))
        .route("/api/webhook-deliveries/{id}/redeliver", post(webhooks::redeliver))
        .route("/api/audit", get(audit_entries))
        .route("/api/audit/verify", get(audit_verify))
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "no such route") })
        // The routes' own limits are applied inside this one, so theirs win.
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(axum::middleware::map_response(no_store_no_sniff))
        .layer(axum::middleware::from_fn(timed))
        .with_state(state)
}

/// On every answer: answers carry tokens, tickets and what machines reported, which no browser or proxy cache may
/// keep; and a JSON error must never be taken for a page by a browser guessing the type.
async fn no_store_no_sniff(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
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
        let app = hyper_util::service::TowerToHyperService::new(app.clone());
        // Each request carries its connection's address, as axum's `ConnectInfo`: the login limits count by it.
        let service = hyper::service::service_fn(move |mut request: hyper::Request<hyper::body::Incoming>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            hyper::service::Service::call(&app, request)
        });
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

/// Times each request under its route's template, so the label set stays as small as the API.
async fn timed(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let route = request
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = request.method().as_str().to_owned();
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    let labels = HttpLabels { method, route, status: response.status().as_u16().to_string() };
    METRICS.http_seconds.get_or_create(&labels).observe(started.elapsed().as_secs_f64());
    response
}

/// Prometheus text, for any account that may read the statistics (a scraper is given such a token).
async fn metrics(AxumState(state): AxumState<AppState>, Tech(user): Tech) -> Result<Response, ApiError> {
    crate::desk::access::require(user.role, crate::desk::access::Act::ReadStats)?;
    let (counts, waiting) = state.store.read(|c| Ok((c.ticket_counts()?, c.webhooks_pending()?))).await?;
    METRICS.webhook_queue.set(waiting);
    METRICS.agents_connected.set(i64::try_from(state.connected.count()).unwrap_or(i64::MAX));
    let text = METRICS.render(&counts);
    let content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8";
    Ok(([(header::CONTENT_TYPE, content_type)], text).into_response())
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
) -> Result<Json<views::SelfHelpView>, ApiError> {
    let Query(q) = query?;
    let days = q.days.unwrap_or(30);
    if !(1..=3660).contains(&days) {
        return Err(ApiError::bad_request("days must be 1 to 3660"));
    }
    let figures = service::stats::self_help(&state.store, &user, days).await?;
    Ok(Json(views::SelfHelpView { days, figures: figures.into() }))
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
