//! The admin's pages: accounts and their roles, enrollment tokens (shown once, with the line that enrolls a machine),
//! the help desk's categories and canned replies; and the auditor's: the audit log and its verification. Each form
//! goes through the use case the CLI or the API uses, which checks the role; a technician asking gets the refusal.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, State as AxumState};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use lifeline_shared::token::EnrollToken;

use super::{AppState, Chrome, Fields, Texts, Viewer, error_page, render, when};
use crate::api::error::ApiError;
use crate::desk::access::Role;
use crate::service;
use crate::service::admin::By;
use crate::store::auth::User;
use crate::store::desk::{Canned, Category};

/// The roles an admin may give, in the order the form lists them.
const ROLES: [Role; 7] =
    [Role::Tier1, Role::Tier2, Role::Tier3, Role::Manager, Role::Auditor, Role::Admin, Role::Mailer];

#[derive(Template)]
#[template(path = "admin.html")]
struct AdminPage {
    chrome: Chrome,
    t: Texts,
    users: Vec<User>,
    categories: Vec<Category>,
    canned: Vec<Canned>,
    /// Where the agents reach this server, for the enrollment token; the admin may change it on the form.
    server: String,
}

impl AdminPage {
    fn roles(&self) -> [&'static str; 7] {
        ROLES.map(Role::as_str)
    }
}

pub async fn page(AxumState(state): AxumState<AppState>, viewer: Viewer) -> Response {
    let chrome = viewer.chrome();
    let loaded = tokio::try_join!(
        service::admin::users(&state.store, By::User(&viewer.user)),
        service::desk::categories(&state.store, &viewer.user),
        service::desk::canned_replies(&state.store, &viewer.user),
    );
    let (users, categories, canned) = match loaded {
        Ok(all) => all,
        Err(e) => return error_page(Some(&chrome), viewer.t, e),
    };
    // Without `advertise` the admin types it: the listening address (0.0.0.0, say) is not one agents can reach.
    let server = state.config.advertise.clone().unwrap_or_default();
    render(StatusCode::OK, &AdminPage { chrome, t: viewer.t, users, categories, canned, server })
}

/// A secret shown once: a new account's password and token, or an enrollment token with its command line.
#[derive(Template)]
#[template(path = "secret.html")]
struct SecretPage {
    chrome: Chrome,
    t: Texts,
    title: String,
    lines: Vec<(String, String)>,
}

/// Typed by hand: spaces around a value are never meant.
fn field(form: &Fields, name: &str) -> String {
    form.get(name).unwrap_or_default().trim().to_owned()
}

fn role(name: &str) -> Result<Role, ApiError> {
    Role::parse(name).ok_or_else(|| ApiError::bad_request(format!("unknown role {name:?}")))
}

/// A form of the admin page: read, checked for its origin and token, then `act`; its page, or the error page.
async fn form<F, Fut>(viewer: &Viewer, headers: &HeaderMap, body: &Bytes, act: F) -> Response
where
    F: FnOnce(Fields) -> Fut,
    Fut: Future<Output = Result<Response, ApiError>>,
{
    let outcome = async { act(viewer.read_form(headers, body)?).await };
    outcome.await.unwrap_or_else(|e| error_page(Some(&viewer.chrome()), viewer.t, e))
}

fn back() -> Result<Response, ApiError> {
    Ok(Redirect::to("/admin").into_response())
}

pub async fn add_user(
    AxumState(state): AxumState<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (state, viewer) = (&state, &viewer);
    form(viewer, &headers, &body, |f| async move {
        let (name, role) = (field(&f, "name"), role(&field(&f, "role"))?);
        let account = service::admin::add_user(&state.store, By::User(&viewer.user), name.clone(), role).await?;
        let t = viewer.t;
        let lines = vec![
            (t.get("admin-user").to_owned(), format!("{name} ({})", role.as_str())),
            (t.get("admin-password").to_owned(), account.password),
            (t.get("admin-api-token").to_owned(), account.token),
        ];
        Ok(render(
            StatusCode::OK,
            &SecretPage { chrome: viewer.chrome(), t, title: t.get("admin-user-added").into(), lines },
        ))
    })
    .await
}

pub async fn set_role(
    AxumState(state): AxumState<AppState>,
    viewer: Viewer,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (state, viewer) = (&state, &viewer);
    form(viewer, &headers, &body, |f| async move {
        let role = role(&field(&f, "role"))?;
        service::admin::set_role(&state.store, By::User(&viewer.user), name, role).await?;
        back()
    })
    .await
}

/// Tokens last at most a month: one that never ends is a standing invitation to enroll.
const MAX_TOKEN_HOURS: u32 = 24 * 31;

pub async fn add_token(
    AxumState(state): AxumState<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (state, viewer) = (&state, &viewer);
    form(viewer, &headers, &body, |f| async move {
        let hours: u32 = field(&f, "hours").parse().map_err(|_| ApiError::bad_request("hours must be a number"))?;
        let uses: u32 = field(&f, "uses").parse().map_err(|_| ApiError::bad_request("uses must be a number"))?;
        if !(1..=MAX_TOKEN_HOURS).contains(&hours) || uses == 0 {
            return Err(ApiError::bad_request(format!(
                "a token lasts 1 to {MAX_TOKEN_HOURS} hours for at least one use"
            )));
        }
        let server = field(&f, "server");
        if server.rsplit_once(':').is_none_or(|(host, port)| host.is_empty() || port.parse::<u16>().is_err()) {
            return Err(ApiError::bad_request("the server address agents reach is host:port"));
        }
        let label = field(&f, "label");
        let lifetime = i64::from(hours) * 3_600_000;
        let token =
            service::admin::enrollment_token(&state.store, By::User(&viewer.user), lifetime, uses, label).await?;
        let text = EnrollToken { server, ca_fingerprint: state.pki.ca_fingerprint(), secret: token.secret }.encode();
        let t = viewer.t;
        let lines = vec![
            (t.get("admin-token").to_owned(), text.clone()),
            (t.get("admin-enroll-line").to_owned(), format!("lifeline-agent enroll --token {text}")),
            (t.get("admin-token-valid").to_owned(), t.with("admin-token-terms", &[("hours", &hours), ("uses", &uses)])),
        ];
        Ok(render(
            StatusCode::OK,
            &SecretPage { chrome: viewer.chrome(), t, title: t.get("admin-token-made").into(), lines },
        ))
    })
    .await
}

pub async fn add_category(
    AxumState(state): AxumState<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (state, viewer) = (&state, &viewer);
    form(viewer, &headers, &body, |f| async move {
        let given = |name| Some(field(&f, name)).filter(|v| !v.is_empty());
        service::desk::add_category(&state.store, &viewer.user, field(&f, "name"), given("parent"), given("label"))
            .await?;
        back()
    })
    .await
}

pub async fn retire_category(
    AxumState(state): AxumState<AppState>,
    viewer: Viewer,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (state, viewer) = (&state, &viewer);
    form(viewer, &headers, &body, |_| async move {
        service::desk::retire_category(&state.store, &viewer.user, name).await?;
        back()
    })
    .await
}

pub async fn save_canned(
    AxumState(state): AxumState<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (state, viewer) = (&state, &viewer);
    form(viewer, &headers, &body, |f| async move {
        service::desk::save_canned_reply(&state.store, &viewer.user, field(&f, "name"), field(&f, "body")).await?;
        back()
    })
    .await
}

pub async fn delete_canned(
    AxumState(state): AxumState<AppState>,
    viewer: Viewer,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (state, viewer) = (&state, &viewer);
    form(viewer, &headers, &body, |_| async move {
        service::desk::delete_canned_reply(&state.store, &viewer.user, name).await?;
        back()
    })
    .await
}

/// The audit log's newest entries, as many as the page shows.
const AUDIT_PAGE: i64 = 200;

pub struct AuditLine {
    pub seq: i64,
    pub when: String,
    pub actor: String,
    pub action: String,
    pub detail: String,
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    chrome: Chrome,
    t: Texts,
    entries: Vec<AuditLine>,
    total: u64,
    head: String,
    broken: Option<String>,
}

impl AuditPage {
    fn intact(&self) -> String {
        self.t.with("audit-intact", &[("count", &self.total)])
    }
}

/// The auditor's page: the chain verified as it stands, and its newest entries, newest first.
pub async fn audit(AxumState(state): AxumState<AppState>, viewer: Viewer) -> Response {
    let chrome = viewer.chrome();
    let verdict = match service::audit::verify(&state.store, &viewer.user).await {
        Ok(v) => v,
        Err(e) => return error_page(Some(&chrome), viewer.t, e),
    };
    let after = i64::try_from(verdict.entries).unwrap_or(i64::MAX).saturating_sub(AUDIT_PAGE).max(0);
    let entries = match service::audit::entries(&state.store, &viewer.user, after, AUDIT_PAGE).await {
        Ok(e) => e,
        Err(e) => return error_page(Some(&chrome), viewer.t, e),
    };
    let entries = entries
        .into_iter()
        .rev()
        .map(|e| AuditLine { seq: e.seq, when: when(e.at), actor: e.actor, action: e.action, detail: e.detail })
        .collect();
    let broken = verdict.broken.map(|b| viewer.t.with("audit-broken", &[("seq", &b.seq), ("reason", &b.reason)]));
    render(
        StatusCode::OK,
        &AuditPage { chrome, t: viewer.t, entries, total: verdict.entries, head: verdict.head, broken },
    )
}
