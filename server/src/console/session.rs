//! Signing in and out of the console, the session cookie, the language, and the checks every write passes.
//!
//! The cookie holds a login token, the same kind `POST /api/login` gives, under the `__Host-` prefix (the browser
//! keeps it only if it came over HTTPS, for the whole site and no other domain), HttpOnly, SameSite=Strict and
//! for at most the token's 12 hours. A write is taken only from this site: a browser's `Sec-Fetch-Site` (or, from
//! older browsers, `Origin`) must say so, and the form or the htmx request must carry the token derived from the
//! session, which a page of another site can neither read nor compute.

use std::net::SocketAddr;

use askama::Template;
use axum::Form;
use axum::extract::rejection::ExtensionRejection;
use axum::extract::{ConnectInfo, FromRequestParts, Query, State as AxumState};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use tracing::{debug, error, info, warn};

use super::{AppState, Chrome, Lang, Texts, from_htmx, render, url_encode};
use crate::api::error::ApiError;
use crate::desk::access::{Act, permits};
use crate::service;
use crate::service::auth::Login;
use crate::store::auth::{LOGIN_TOKEN_MS, User, sha256_hex};

const SESSION: &str = "__Host-lifeline-session";
const LANGUAGE: &str = "__Host-lifeline-lang";

/// A signed-in technician, with the language they read; a request without a live session is sent to the login page
/// and comes back to where it was going.
pub struct Viewer {
    pub user: User,
    token: String,
    pub t: Texts,
    here: String,
}

impl Viewer {
    /// The token every form of this session carries: derived from the session's secret, so only a page that was
    /// given it knows it.
    pub fn csrf(&self) -> String {
        csrf_for(&self.token)
    }

    pub fn chrome(&self) -> Chrome {
        Chrome {
            user: self.user.name.clone(),
            role: self.user.role.as_str(),
            csrf: self.csrf(),
            here: self.here.clone(),
            may_admin: permits(self.user.role, Act::ManageAccounts),
            may_audit: permits(self.user.role, Act::ReadAudit),
        }
    }

    /// The fields of a form posted from one of this session's pages. Every console form is read here, so none is
    /// acted on before its origin and token are checked: an unreadable body is refused with 400, a forged one 403.
    pub fn read_form(&self, headers: &HeaderMap, body: &[u8]) -> Result<Fields, ApiError> {
        let pairs = serde_urlencoded::from_bytes(body).map_err(|e| ApiError::bad_request(format!("form: {e}")))?;
        let form = Fields(pairs);
        self.check_write(headers, form.get("csrf"))?;
        Ok(form)
    }

    /// Refuses a write that did not come from one of this session's own pages: 403, logged, nothing done.
    pub fn check_write(&self, headers: &HeaderMap, token: Option<&str>) -> Result<(), ApiError> {
        same_site(headers)?;
        let sent = token.or_else(|| headers.get("x-csrf-token").and_then(|v| v.to_str().ok()));
        match sent {
            Some(sent) if constant_time_eq(sent.as_bytes(), self.csrf().as_bytes()) => Ok(()),
            _ => {
                warn!(user = %self.user.name, "a console write without this session's form token was refused");
                Err(ApiError::new(StatusCode::FORBIDDEN, "this form is out of date or from another page: reload it"))
            }
        }
    }
}

/// A posted form's fields in the order they came; a name may come more than once (`n` for each ticket ticked).
pub struct Fields(Vec<(String, String)>);

impl Fields {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.all(name).next()
    }

    pub fn all(&self, name: &str) -> impl Iterator<Item = &str> {
        self.0.iter().filter(move |(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// Every field, for a form whose names are not known beforehand (a check's parameters) or that is shown again
    /// as it was typed.
    pub fn pairs(&self) -> &[(String, String)] {
        &self.0
    }
}

fn csrf_for(token: &str) -> String {
    sha256_hex(&format!("lifeline console form\0{token}"))[..32].to_owned()
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A browser says where a request came from: `Sec-Fetch-Site` in every current one, `Origin` on a cross-site POST
/// in older ones. Neither header, it is not a browser's page acting for someone, and the form token decides alone.
fn same_site(headers: &HeaderMap) -> Result<(), ApiError> {
    let refuse = |why: &str| {
        warn!(why, "a console write from another site was refused");
        Err(ApiError::new(StatusCode::FORBIDDEN, "a write to the console must come from the console's own pages"))
    };
    if let Some(site) = headers.get("sec-fetch-site") {
        return match site.as_bytes() {
            b"same-origin" | b"none" => Ok(()),
            _ => refuse("sec-fetch-site"),
        };
    }
    match (headers.get(header::ORIGIN), headers.get(header::HOST)) {
        (None, _) => Ok(()),
        (Some(origin), Some(host)) if origin.as_bytes().strip_prefix(b"https://") == Some(host.as_bytes()) => Ok(()),
        _ => refuse("origin"),
    }
}

fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| pair.trim().strip_prefix(name)?.strip_prefix('='))
}

/// The login token of the console's session cookie, if the request carries one: the API takes it in place of a
/// bearer token on reads, since a browser's `EventSource` cannot send a header.
pub(crate) fn session_token(headers: &HeaderMap) -> Option<&str> {
    cookie(headers, SESSION)
}

/// The reader's language: the one they switched to, else their browser's.
pub fn language(headers: &HeaderMap) -> Texts {
    let lang = cookie(headers, LANGUAGE).and_then(Lang::parse).unwrap_or_else(|| {
        Lang::from_accept_language(headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()).unwrap_or(""))
    });
    Texts { lang }
}

impl FromRequestParts<AppState> for Viewer {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let here = parts.uri.path_and_query().map_or("/", |p| p.as_str()).to_owned();
        let t = language(&parts.headers);
        let to_login = || {
            let target = format!("/login?next={}", url_encode(&here));
            if from_htmx(&parts.headers) {
                // htmx would swap the login page into a part of this one; it loads it whole when told so.
                let mut response = StatusCode::UNAUTHORIZED.into_response();
                if let Ok(v) = HeaderValue::from_str(&target) {
                    response.headers_mut().insert("hx-redirect", v);
                }
                response
            } else {
                Redirect::to(&target).into_response()
            }
        };
        let Some(token) = session_token(&parts.headers).map(str::to_owned) else {
            return Err(to_login());
        };
        match service::auth::user_by_token(&state.store, token.clone()).await {
            Ok(Some(user)) => Ok(Viewer { user, token, t, here }),
            Ok(None) => {
                debug!(path = %parts.uri.path(), "a console session that ended or never was");
                Err(to_login())
            }
            Err(e) => Err(super::error_page(None, t, e)),
        }
    }
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    t: Texts,
    next: &'a str,
    user: &'a str,
    problem: Option<String>,
}

impl LoginPage<'_> {
    fn languages(&self) -> [Lang; 5] {
        Lang::ALL
    }

    fn switch_to(&self, lang: &Lang) -> String {
        format!("/language?lang={}&back={}", lang.code(), url_encode(&format!("/login?next={}", url_encode(self.next))))
    }
}

/// Only a path of this site is gone back to after signing in, never `//elsewhere` or a full URL.
fn local(next: Option<&str>) -> &str {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.starts_with("/\\") => n,
        _ => "/queue",
    }
}

#[derive(Deserialize)]
pub struct Next {
    next: Option<String>,
}

pub async fn login_page(headers: HeaderMap, Query(q): Query<Next>) -> Response {
    let page = LoginPage { t: language(&headers), next: local(q.next.as_deref()), user: "", problem: None };
    render(StatusCode::OK, &page)
}

#[derive(Deserialize)]
pub struct LoginForm {
    user: String,
    password: String,
    next: Option<String>,
}

/// The login form: the same use case as `POST /api/login`, with its limits and audit; the token goes into the
/// cookie and never into the page.
pub async fn login(
    AxumState(state): AxumState<AppState>,
    peer: Result<ConnectInfo<SocketAddr>, ExtensionRejection>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    let t = language(&headers);
    if let Err(e) = same_site(&headers) {
        return super::error_page(None, t, e);
    }
    let Ok(ConnectInfo(peer)) = peer else {
        error!("a console login without its peer address");
        return super::error_page(None, t, ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "server error"));
    };
    let next = local(form.next.as_deref()).to_owned();
    let again = |status: StatusCode, problem: String| {
        let page = LoginPage { t, next: &next, user: &form.user, problem: Some(problem) };
        render(status, &page)
    };
    if form.user.is_empty() || form.user.len() > 64 || form.password.len() > 1024 {
        return again(StatusCode::BAD_REQUEST, t.get("login-bad-form").to_owned());
    }
    match service::auth::login(&state.store, form.user.clone(), form.password.clone(), peer.ip()).await {
        Ok(Login::Granted(session)) => {
            info!(user = %session.user.name, %peer, "console login");
            let max_age = LOGIN_TOKEN_MS / 1000;
            let cookie =
                format!("{SESSION}={}; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age={max_age}", session.token);
            let mut response = Redirect::to(&next).into_response();
            match HeaderValue::from_str(&cookie) {
                Ok(v) => {
                    response.headers_mut().insert(header::SET_COOKIE, v);
                    response
                }
                Err(e) => super::error_page(None, t, ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())),
            }
        }
        Ok(Login::Refused) => {
            warn!(user = %form.user, %peer, "console login refused");
            again(StatusCode::UNAUTHORIZED, t.get("login-refused").to_owned())
        }
        Ok(Login::Wait(secs)) => {
            debug!(user = %form.user, %peer, secs, "console login refused while its name or address waits");
            let mut response = again(StatusCode::TOO_MANY_REQUESTS, t.with("login-wait", &[("secs", &secs)]));
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
            response
        }
        Err(e) => super::error_page(None, t, e),
    }
}

#[derive(Deserialize)]
pub struct Token {
    csrf: Option<String>,
}

/// Ends the session: its token is revoked (audited), so the cookie is worth nothing even if something kept it.
pub async fn logout(
    AxumState(state): AxumState<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
    Form(form): Form<Token>,
) -> Response {
    if let Err(e) = viewer.check_write(&headers, form.csrf.as_deref()) {
        return super::error_page(Some(&viewer.chrome()), viewer.t, e);
    }
    if let Err(e) = service::auth::logout(&state.store, &viewer.user, &viewer.token).await {
        return super::error_page(Some(&viewer.chrome()), viewer.t, e);
    }
    info!(user = %viewer.user.name, "console logout");
    let mut response = Redirect::to("/login").into_response();
    let gone = format!("{SESSION}=; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=0");
    if let Ok(v) = HeaderValue::from_str(&gone) {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
    response
}

#[derive(Deserialize)]
pub struct Switch {
    lang: String,
    back: Option<String>,
}

/// The language switch: remembered in a cookie for a year, then back to the page it was used on.
pub async fn switch_language(Query(q): Query<Switch>) -> Response {
    let mut response = Redirect::to(local(q.back.as_deref())).into_response();
    if let Some(lang) = Lang::parse(&q.lang) {
        let cookie = format!("{LANGUAGE}={}; Path=/; Secure; SameSite=Lax; Max-Age=31536000", lang.code());
        if let Ok(v) = HeaderValue::from_str(&cookie) {
            response.headers_mut().insert(header::SET_COOKIE, v);
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).expect("a header value"));
        }
        h
    }

    #[test]
    fn a_write_is_taken_only_from_this_site() {
        for (pairs, ok) in [
            (vec![("sec-fetch-site", "same-origin")], true),
            (vec![("sec-fetch-site", "none")], true),
            (vec![("sec-fetch-site", "cross-site")], false),
            (vec![("sec-fetch-site", "same-site")], false),
            (vec![("sec-fetch-site", "same-origin"), ("origin", "https://evil.example")], true),
            (vec![("origin", "https://desk.example:7443"), ("host", "desk.example:7443")], true),
            (vec![("origin", "https://evil.example"), ("host", "desk.example:7443")], false),
            (vec![("origin", "http://desk.example:7443"), ("host", "desk.example:7443")], false),
            (vec![("origin", "null"), ("host", "desk.example:7443")], false),
            (vec![], true),
        ] {
            assert_eq!(same_site(&headers(&pairs)).is_ok(), ok, "{pairs:?}");
        }
    }

    #[test]
    fn a_form_is_taken_only_with_this_sessions_token_and_keeps_repeated_fields_in_order() {
        let user = User { id: 1, name: "sam".into(), role: crate::desk::access::Role::Tier1 };
        let viewer = Viewer { user, token: "abc".into(), t: Texts { lang: Lang::En }, here: "/queue".into() };
        let body = format!("n=3&csrf={}&n=1&name=+a+&n=2", viewer.csrf());
        let form = viewer.read_form(&headers(&[("sec-fetch-site", "same-origin")]), body.as_bytes()).expect("taken");
        assert_eq!(form.all("n").collect::<Vec<_>>(), ["3", "1", "2"]);
        assert_eq!(form.get("name"), Some(" a "));
        assert_eq!(form.get("shared"), None);
        // htmx sends the token as a header instead.
        assert!(viewer.read_form(&headers(&[("x-csrf-token", &viewer.csrf())]), b"n=1").is_ok());
        for (pairs, body) in [
            (vec![], "n=1"),
            (vec![], "csrf=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
            (vec![("sec-fetch-site", "cross-site")], body.as_str()),
        ] {
            let refused = viewer.read_form(&headers(&pairs), body.as_bytes()).err().map(|e| e.status());
            assert_eq!(refused, Some(StatusCode::FORBIDDEN), "{pairs:?} {body}");
        }
    }

    #[test]
    fn only_a_path_of_this_site_is_gone_back_to() {
        for (next, want) in [
            (Some("/tickets/4"), "/tickets/4"),
            (Some("/queue?status=open"), "/queue?status=open"),
            (Some("//evil.example/"), "/queue"),
            (Some("/\\evil.example"), "/queue"),
            (Some("https://evil.example/"), "/queue"),
            (Some(""), "/queue"),
            (None, "/queue"),
        ] {
            assert_eq!(local(next), want, "{next:?}");
        }
    }

    #[test]
    fn the_cookie_is_found_among_others_and_the_form_token_is_the_sessions() {
        let h = headers(&[("cookie", "a=1; __Host-lifeline-session=abc; b=2"), ("cookie", "__Host-lifeline-lang=pl")]);
        assert_eq!(cookie(&h, SESSION), Some("abc"));
        assert_eq!(language(&h).lang, Lang::Pl);
        assert_eq!(csrf_for("abc"), csrf_for("abc"));
        assert_ne!(csrf_for("abc"), csrf_for("abd"));
        assert!(!csrf_for("abc").contains("abc"));
    }
}
