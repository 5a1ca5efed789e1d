//! The web console: pages for technicians in the browser, served at `/` on the API's HTTPS port. Like the API it is
//! a thin adapter over [`crate::service`]: every page calls the use case the matching API route calls, with the same
//! access check inside it, so no rule is written twice. Pages are rendered on the server from askama templates
//! (`console/templates`, escaping HTML by default: hostnames, process names, subjects and replies come from machines
//! and users) and work with plain links and forms; htmx, vendored in `console/assets`, only improves them.
//!
//! The browser holds a session cookie, not a bearer token: `EventSource` and plain forms cannot send a header. The
//! cookie carries a login token the same as `POST /api/login` gives (12 hours, rate-limited, audited, ended by logout
//! or by an admin's `token revoke`), so the API's rules about tokens hold for it too. Cookies bring cross-site
//! request forgery back, so every write checks where it came from and a token derived from the session
//! ([`session`]). Every answer forbids inline script and framing ([`security_headers`]).

mod admin;
mod assets;
mod i18n;
mod machines;
mod new_ticket;
mod queue;
mod reports;
mod session;
mod ticket;

use std::sync::Arc;

use askama::Template;
use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use tracing::{error, warn};

use crate::State;
use crate::api::error::ApiError;
use crate::metrics::METRICS;
pub use i18n::{Lang, Texts};
pub(crate) use session::session_token;
pub use session::{Fields, Viewer};

type AppState = Arc<State>;

/// What every page allows itself: its own scripts, styles and connections, nothing inline, no frames around it; and
/// where a browser reports what it blocked.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
    connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'; report-uri /console/csp-report";

/// The console's routes, merged into the API's router; none of them is under `/api`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/queue") }))
        .route("/login", get(session::login_page).post(session::login))
        .route("/logout", post(session::logout))
        .route("/language", get(session::switch_language))
        .route("/queue", get(queue::page))
        .route("/queue/views", post(queue::save_view))
        .route("/queue/views/{id}/delete", post(queue::remove_view))
        .route("/queue/columns", post(queue::set_columns))
        .route("/queue/bulk", post(queue::bulk))
        .route("/tickets/new", get(new_ticket::page).post(new_ticket::create))
        .route("/tickets/{number}", get(ticket::page))
        .route("/tickets/{number}/act", post(ticket::act))
        .route("/tickets/{number}/checks", post(ticket::run_check))
        .route("/machines", get(machines::list))
        .route("/machines/{id}", get(machines::page))
        .route("/machines/{id}/revoke", post(machines::revoke))
        .route("/admin", get(admin::page))
        .route("/admin/users", post(admin::add_user))
        .route("/admin/users/{name}/role", post(admin::set_role))
        .route("/admin/tokens", post(admin::add_token))
        .route("/admin/categories", post(admin::add_category))
        .route("/admin/categories/{name}/retire", post(admin::retire_category))
        .route("/admin/canned", post(admin::save_canned))
        .route("/admin/canned/{name}/delete", post(admin::delete_canned))
        .route("/audit", get(admin::audit))
        .route("/reports", get(reports::page))
        .route("/reports/tickets", get(reports::tickets))
        .route("/assets/{version}/{name}", get(assets::serve))
        .route("/console/csp-report", post(csp_report))
        .layer(axum::middleware::map_response(security_headers))
}

/// On every console answer. `no-store` and `nosniff` come from the API's own layer around both.
async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    headers.insert("cross-origin-opener-policy", HeaderValue::from_static("same-origin"));
    response
}

/// Largest violation report read: a browser's report names a few URLs and a line of source.
const MAX_REPORT: usize = 16 * 1024;

/// A browser's report of something the policy blocked: on a page of ours that is a bug or an injection attempt, so it
/// is logged and counted (`lifeline_console_csp_reports`), never stored.
async fn csp_report(body: Bytes) -> StatusCode {
    METRICS.console_csp_reports.inc();
    let text = String::from_utf8_lossy(&body[..body.len().min(MAX_REPORT)]);
    warn!(report = %text, "the console's content security policy blocked something");
    StatusCode::NO_CONTENT
}

/// What the frame of every signed-in page shows: who is signed in, the token their forms carry, the language.
pub struct Chrome {
    pub user: String,
    pub role: &'static str,
    pub csrf: String,
    /// Where the language switch comes back to.
    pub here: String,
    /// Which links the menu offers, by the same rules the pages' use cases check.
    pub may_admin: bool,
    pub may_audit: bool,
}

/// An asset's path, naming this build's version of it.
pub fn asset(name: &str) -> String {
    format!("/assets/{}/{name}", assets::version())
}

impl Chrome {
    pub fn languages(&self) -> [Lang; 5] {
        Lang::ALL
    }

    /// A link that switches to `lang` and comes back here.
    pub fn switch_to(&self, lang: &Lang) -> String {
        let back: String = url_encode(&self.here);
        format!("/language?lang={}&back={back}", lang.code())
    }
}

pub fn url_encode(s: &str) -> String {
    serde_urlencoded::to_string([("", s)]).map(|e| e.trim_start_matches('=').to_owned()).unwrap_or_default()
}

/// A page rendered, or the error page if the template fails (it cannot on the data it is given, but a page is
/// better than a panic).
pub fn render(status: StatusCode, page: &impl Template) -> Response {
    match page.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => {
            error!(error = %e, "a console page did not render");
            (StatusCode::INTERNAL_SERVER_ERROR, "server error; see the server log").into_response()
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    chrome: Option<&'a Chrome>,
    t: Texts,
    status: u16,
    message: &'a str,
    /// Whose fault it was, in the reader's words.
    whose: &'a str,
}

/// An error as a page: the status and message the API would give for the same fault (one mapping, in
/// [`crate::api::error`]), saying whether it was the reader's doing or the server's and whether to try again.
pub fn error_page(chrome: Option<&Chrome>, t: Texts, e: impl Into<ApiError>) -> Response {
    let e = e.into();
    let status = e.status();
    let whose = if status.is_server_error() { t.get("error-ours") } else { t.get("error-yours") };
    let mut response = render(status, &ErrorPage { chrome, t, status: status.as_u16(), message: e.message(), whose });
    if let Some(secs) = e.retry_after() {
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    response
}

/// Whether the request came from htmx, which swaps a part of the page rather than loading a new one.
pub fn from_htmx(headers: &HeaderMap) -> bool {
    headers.get("hx-request").is_some_and(|v| v == "true")
}

/// A time as the console shows it: to the minute, in UTC, which every technician of a spread-out desk reads alike.
pub fn when(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms).map(|t| t.strftime("%Y-%m-%d %H:%M UTC").to_string()).unwrap_or_default()
}
