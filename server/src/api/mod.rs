//! The technicians' HTTPS JSON API: a thin adapter over [`crate::service`]. Each resource has its module; errors
//! become answers in [`error`] only; what is answered is a type of [`views`].

mod agents;
mod auth;
mod checks;
pub mod error;
mod inbound;
mod people;
mod stats;
#[cfg(test)]
mod tests;
mod tickets;
pub mod views;

pub(crate) use stats::{RangeQuery, asked, backlog_at};
pub(crate) use tickets::{ListQuery, MAX_NUMBERS, parse_number};
mod webhooks;

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Json;
use axum::body::{Body, Bytes, HttpBody};
use axum::extract::rejection::QueryRejection;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Query, State as AxumState};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use tracing::warn;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{IntoParams, OpenApi, ToSchema};
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

use crate::State;
use crate::metrics::{HttpLabels, METRICS};
use crate::service;
use crate::store::audit;
use auth::Tech;
use error::{ApiError, Authenticated, BadRequest, Forbidden};

type AppState = Arc<State>;

/// Largest request body: technicians send notes and commands, never files.
const MAX_BODY: usize = 64 * 1024;
/// Largest login: a name of 64 bytes and a password of 1024, each character escaped at worst as six in JSON.
const MAX_LOGIN_BODY: usize = 16 * 1024;
/// Largest action on a ticket: a reply or note of the longest allowed text, with every character escaped as two
/// (quotes, backslashes, newlines, tabs), and room for the rest of the action.
const MAX_ACTION_BODY: usize = 2 * crate::desk::tickets::MAX_BODY + 4 * 1024;

/// The document's own parts; the paths and the schemas they use come from the routes in [`routes`].
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Lifeline API",
        description = "The technicians' HTTPS JSON API of a Lifeline server. Every route but `/health`, \
            `/api/openapi.json` and `/api/login` takes the bearer token `/api/login` gives (or one made with \
            `lifeline-server user add`). Errors are JSON, `{\"error\": \"...\"}`, with a 4xx status for the caller's \
            faults and a 5xx for the server's."
    ),
    modifiers(&Bearer),
    security(("bearer" = [])),
    tags(
        (name = "server", description = "Health, metrics and this description"),
        (name = "auth", description = "Tokens and who holds them"),
        (name = "agents", description = "Enrolled machines"),
        (name = "tickets", description = "Tickets and what technicians do to them"),
        (name = "checks", description = "Approved checks run on machines"),
        (name = "people", description = "Requesters on record"),
        (name = "desk", description = "The help desk's lists: categories and canned replies"),
        (name = "stats", description = "Figures, as JSON or, for `Accept: text/csv` or `?format=csv`, CSV"),
        (name = "webhooks", description = "Webhook endpoints and their deliveries (admins)"),
        (name = "mail", description = "The e-mail channel: mail piped in by a mail server (a `mailer` token)"),
        (name = "audit", description = "The tamper-evident audit log (admins and auditors)"),
    )
)]
struct ApiDoc;

/// The bearer scheme every route but the public ones asks for.
struct Bearer;

impl utoipa::Modify for Bearer {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let scheme = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .description(Some("A token from `POST /api/login`, or one made with `lifeline-server user add`"));
        components.add_security_scheme("bearer", SecurityScheme::Http(scheme.build()));
    }
}

/// Every route with its description: a route is added only through `routes!`, which takes both from the handler's
/// `#[utoipa::path]`, so the API cannot grow a route its description lacks.
fn routes() -> OpenApiRouter<AppState> {
    let login_limit = DefaultBodyLimit::max(MAX_LOGIN_BODY);
    let action_limit = DefaultBodyLimit::max(MAX_ACTION_BODY);
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(health))
        .routes(routes!(metrics))
        .routes(routes!(openapi_json))
        .routes(routes!(auth::login).layer(login_limit))
        .routes(routes!(auth::me))
        .routes(routes!(agents::list))
        .routes(routes!(agents::show))
        .routes(routes!(agents::revoke))
        .routes(routes!(checks::run))
        .routes(routes!(agents::live))
        .routes(routes!(tickets::list, tickets::create).layer(action_limit))
        .routes(routes!(tickets::show))
        .routes(routes!(tickets::attachment))
        .routes(routes!(tickets::merge))
        .routes(routes!(tickets::relate))
        .routes(routes!(tickets::presence))
        .routes(routes!(people::list, people::add))
        .routes(routes!(people::show, people::edit))
        .routes(routes!(people::link))
        .routes(routes!(people::merge))
        .routes(routes!(people::categories, people::add_category))
        .routes(routes!(people::retire_category))
        .routes(routes!(people::canned))
        .routes(routes!(people::save_canned, people::delete_canned))
        .routes(routes!(tickets::act).layer(action_limit))
        .routes(routes!(tickets::refresh))
        .routes(routes!(tickets::diff))
        .routes(routes!(checks::catalog))
        .routes(routes!(checks::show))
        .routes(routes!(self_help_stats))
        .routes(routes!(stats::technicians))
        .routes(routes!(stats::response))
        .routes(routes!(stats::backlog))
        .routes(routes!(stats::flow))
        .routes(routes!(stats::sla))
        .routes(routes!(stats::categories))
        .routes(routes!(stats::education))
        .routes(routes!(stats::checks))
        .routes(routes!(webhooks::list, webhooks::add))
        .routes(routes!(webhooks::remove))
        .routes(routes!(webhooks::enable))
        .routes(routes!(webhooks::disable))
        .routes(routes!(webhooks::deliveries))
        .routes(routes!(webhooks::delivery))
        .routes(routes!(webhooks::redeliver))
        .routes(routes!(inbound::email).layer(DefaultBodyLimit::max(inbound::MAX_MAIL_BODY)))
        .routes(routes!(audit_entries))
        .routes(routes!(audit_verify))
}

/// The API's OpenAPI 3.1 description, as [`routes`] builds it.
pub fn openapi() -> utoipa::openapi::OpenApi {
    routes().into_openapi()
}

/// The description as `server/openapi.json` holds it and `/api/openapi.json` serves it.
pub fn openapi_text() -> Result<String, serde_json::Error> {
    Ok(openapi().to_pretty_json()? + "\n")
}

pub fn router(state: AppState) -> axum::Router {
    let (router, _) = routes().split_for_parts();
    router
        .merge(crate::console::routes())
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "no such route") })
        // JSON like every other error; axum still adds the `Allow` header.
        .method_not_allowed_fallback(|| async {
            ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "this route does not take that method")
        })
        // The routes' own limits are applied inside this one, so theirs win.
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(axum::middleware::map_response(no_store_no_sniff))
        .layer(axum::middleware::from_fn(timed))
        .layer(axum::middleware::from_fn(close_if_body_unread))
        .with_state(state)
}

/// An answer given before its request's body was read to the end (a refusal for the method, the token, the body's
/// type or size) ends the connection, and says so. Without the header hyper still ends it whenever the rest of that
/// body has not arrived yet, but silently, and a client that sent its next request on the same connection sees it
/// drop.
async fn close_if_body_unread(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    if request.body().is_end_stream() {
        return next.run(request).await;
    }
    let read = Arc::new(AtomicBool::new(false));
    let request = request.map(|body| Body::new(Watched { body, read: read.clone() }));
    let mut response = next.run(request).await;
    if !read.load(Ordering::Relaxed) {
        response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

/// A request body that notes when it has been read to its end.
struct Watched {
    body: Body,
    read: Arc<AtomicBool>,
}

impl HttpBody for Watched {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<Bytes>, axum::Error>>> {
        let polled = Pin::new(&mut self.body).poll_frame(cx);
        if matches!(polled, Poll::Ready(None)) || self.body.is_end_stream() {
            self.read.store(true, Ordering::Relaxed);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.body.size_hint()
    }
}

/// On every answer: answers carry tokens, tickets and what machines reported, which no browser or proxy cache may
/// keep (only the console's scripts and styles say otherwise); and a JSON error must never be taken for a page by a
/// browser guessing the type.
async fn no_store_no_sniff(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.entry(header::CACHE_CONTROL).or_insert(HeaderValue::from_static("no-store"));
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
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "server",
    operation_id = "metrics",
    responses(
        (status = 200, description = "The server's metrics in the OpenMetrics text format", body = String,
            content_type = "application/openmetrics-text"),
        Authenticated,
        Forbidden,
    )
)]
async fn metrics(AxumState(state): AxumState<AppState>, Tech(user): Tech) -> Result<Response, ApiError> {
    crate::desk::access::require(user.role, crate::desk::access::Act::ReadStats)?;
    scrape(&state).await
}

/// The metrics as they stand, with the figures read from the store at each scrape.
async fn scrape(state: &State) -> Result<Response, ApiError> {
    let (counts, waiting) = state.store.read(|c| Ok((c.ticket_counts()?, c.webhooks_pending()?))).await?;
    METRICS.webhook_queue.set(waiting);
    METRICS.agents_connected.set(i64::try_from(state.connected.count()).unwrap_or(i64::MAX));
    let text = METRICS.render(&counts);
    let content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8";
    Ok(([(header::CONTENT_TYPE, content_type)], text).into_response())
}

/// `metrics_listen`: `/metrics` over plain HTTP without a token, and nothing else, for a scraper on a network the
/// admin trusts with the figures (they hold no ticket, person or machine).
pub async fn serve_metrics(state: AppState, listener: tokio::net::TcpListener) {
    let app = axum::Router::new()
        .route(
            "/metrics",
            axum::routing::get(|AxumState(state): AxumState<AppState>| async move { scrape(&state).await }),
        )
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "only /metrics is served here") })
        .with_state(state);
    if let Err(e) = axum::serve(listener, app).await {
        warn!(error = %e, "the metrics listener stopped");
    }
}

/// Up, and which build: for load balancers and monitors, without a token.
#[derive(Serialize, ToSchema)]
struct Health {
    /// Always `ok`: a server that answers is up.
    status: &'static str,
    version: &'static str,
}

#[utoipa::path(
    get,
    path = "/health",
    tag = "server",
    operation_id = "health",
    security(()),
    responses((status = 200, description = "The server is up", body = Health))
)]
async fn health() -> Json<Health> {
    Json(Health { status: "ok", version: env!("CARGO_PKG_VERSION") })
}

/// Made once, on the first request: the description is fixed for the life of the build.
static DOCUMENT: LazyLock<Result<String, serde_json::Error>> = LazyLock::new(openapi_text);

/// This description, without a token: what client generators and API testers start from.
#[utoipa::path(
    get,
    path = "/api/openapi.json",
    tag = "server",
    operation_id = "openapi",
    security(()),
    responses(
        (status = 200, description = "The API's OpenAPI 3.1 description", body = Object),
        (status = 500, description = "The description could not be written", body = error::ErrorBody),
    )
)]
async fn openapi_json() -> Result<Response, ApiError> {
    match &*DOCUMENT {
        Ok(text) => Ok(([(header::CONTENT_TYPE, "application/json")], text.as_str()).into_response()),
        Err(e) => {
            tracing::error!(error = %e, "the OpenAPI description did not serialize");
            Err(ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "server error; see the server log"))
        }
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct SinceQuery {
    /// The last this many days, 1 to 3660; 30 by default.
    #[param(minimum = 1, maximum = 3660)]
    days: Option<u32>,
}

/// The help desk's "solved without a call" figure: self-help advice shown, and how often no request followed.
#[utoipa::path(
    get,
    path = "/api/stats/self-help",
    tag = "stats",
    operation_id = "self_help_stats",
    params(SinceQuery),
    responses(
        (status = 200, description = "The figures over the days asked for", body = views::SelfHelpView),
        Authenticated,
        Forbidden,
        BadRequest,
    )
)]
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

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct AuditQuery {
    /// The last `seq` the caller has; 0 (the default) reads from the start.
    #[serde(default)]
    after: i64,
    /// At most this many entries, 1 to 10000 (a value outside is brought within); 1000 by default.
    limit: Option<i64>,
}

/// Pages of the log, oldest first; `after` is the last `seq` the caller has.
#[utoipa::path(
    get,
    path = "/api/audit",
    tag = "audit",
    operation_id = "audit_entries",
    params(AuditQuery),
    responses(
        (status = 200, description = "The entries after `after`, oldest first", body = Vec<audit::Entry>),
        Authenticated,
        BadRequest,
        Forbidden,
    )
)]
async fn audit_entries(
    AxumState(state): AxumState<AppState>,
    Tech(user): Tech,
    query: Result<Query<AuditQuery>, QueryRejection>,
) -> Result<Json<Vec<audit::Entry>>, ApiError> {
    let Query(q) = query?;
    let limit = q.limit.unwrap_or(1000).clamp(1, 10_000);
    Ok(Json(service::audit::entries(&state.store, &user, q.after, limit).await?))
}

/// Checks the whole chain of the log: every entry's hash, and that none is missing.
#[utoipa::path(
    get,
    path = "/api/audit/verify",
    tag = "audit",
    operation_id = "audit_verify",
    responses(
        (status = 200, description = "How many entries, the newest one's hash, and the first break if any",
            body = audit::Verdict),
        Authenticated,
        Forbidden,
    )
)]
async fn audit_verify(
    AxumState(state): AxumState<AppState>,
    Tech(user): Tech,
) -> Result<Json<audit::Verdict>, ApiError> {
    Ok(Json(service::audit::verify(&state.store, &user).await?))
}
