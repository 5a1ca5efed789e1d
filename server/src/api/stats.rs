//! The statistics: `/api/stats/...`, each as JSON, or as RFC 4180 CSV for `Accept: text/csv` (or `?format=csv`).
//! Ranges are `from` and `to`: a date (`2026-03-01`, midnight in the help desk's time zone) or an RFC 3339 time;
//! by default the last 30 days.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State as AxumState};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use super::auth::Tech;
use super::error::{ApiError, Authenticated, BadRequest, ErrorBody, Forbidden};
use crate::desk::reports::{
    self, BacklogReport, Bucket, CategoryRow, CheckRow, Dimension, EducationReport, FlowRow, ResponseRow, SlaRow,
    TechnicianRow,
};
use crate::service::stats;
use crate::store::now_ms;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct RangeQuery {
    /// A date (`2026-03-01`, midnight in the help desk's time zone) or an RFC 3339 time; 30 days before `to` by
    /// default.
    from: Option<String>,
    /// As `from`; now by default.
    to: Option<String>,
    /// day, week or month.
    #[param(inline)]
    by: Option<Bucket>,
    /// For `response`: priority, channel, category or tier.
    #[param(inline)]
    dimension: Option<Dimension>,
    /// For `backlog`: the moment; now by default.
    at: Option<String>,
    /// `csv`, as `Accept: text/csv` asks, or `json`.
    #[param(pattern = "^(csv|json)$")]
    format: Option<String>,
}

const DAY_MS: i64 = 24 * 3600 * 1000;

/// A date at the start of its day in `tz`, or an RFC 3339 time.
fn instant(tz: &TimeZone, what: &str, text: &str) -> Result<i64, ApiError> {
    if let Ok(at) = text.parse::<jiff::Timestamp>() {
        return Ok(at.as_millisecond());
    }
    let date: jiff::civil::Date = text.parse().map_err(|_| {
        ApiError::bad_request(format!("{what} {text:?} is neither a date (2026-03-01) nor an RFC 3339 time"))
    })?;
    let start = tz.to_timestamp(date.to_datetime(jiff::civil::Time::midnight()));
    Ok(start.map_err(|e| ApiError::bad_request(format!("{what} {text:?}: {e}")))?.as_millisecond())
}

/// What a report's query asks, read as every report reads it.
pub(crate) struct Asked {
    pub(crate) from: i64,
    pub(crate) to: i64,
    pub(crate) by: Bucket,
    pub(crate) dimension: Dimension,
    pub(crate) csv: bool,
}

/// Reads a report's query in the help desk's time zone `tz`; the console's reports read theirs through this too, so
/// a range means the same on the page as in its CSV.
pub(crate) fn asked(tz: &TimeZone, q: &RangeQuery, headers: &HeaderMap) -> Result<Asked, ApiError> {
    let to = q.to.as_deref().map(|t| instant(tz, "to", t)).transpose()?.unwrap_or_else(now_ms);
    let from = q.from.as_deref().map(|t| instant(tz, "from", t)).transpose()?.unwrap_or(to - 30 * DAY_MS);
    let accept_csv = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|v| v.contains("text/csv"));
    let csv = match q.format.as_deref() {
        None => accept_csv,
        Some("csv") => true,
        Some("json") => false,
        Some(other) => return Err(ApiError::bad_request(format!("format {other:?}: csv or json"))),
    };
    let (by, dimension) = (q.by.unwrap_or(Bucket::Week), q.dimension.unwrap_or(Dimension::Priority));
    Ok(Asked { from, to, by, dimension, csv })
}

/// The backlog's moment: `at`, or now. Read only for the backlog, which alone takes it.
pub(crate) fn backlog_at(tz: &TimeZone, q: &RangeQuery) -> Result<i64, ApiError> {
    Ok(q.at.as_deref().map(|t| instant(tz, "at", t)).transpose()?.unwrap_or_else(now_ms))
}

/// The rows as JSON, or as CSV when asked.
fn answer<T: Serialize>(rows: &[T], csv: bool) -> Result<Response, ApiError> {
    if !csv {
        return Ok(Json(rows).into_response());
    }
    let text = reports::to_csv(rows).map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e))?;
    Ok(([(header::CONTENT_TYPE, "text/csv; charset=utf-8; header=present")], text).into_response())
}

type Q = Result<Query<RangeQuery>, QueryRejection>;

/// Each technician's work per period, and the team's: resolutions, first contact, reopenings, replies, response
/// and resolution times. Other technicians' rows need a manager, an admin or an auditor.
#[utoipa::path(
    get,
    path = "/api/stats/technicians",
    tag = "stats",
    operation_id = "stats_technicians",
    params(RangeQuery),
    responses(
        (status = 200, description = "A row per technician (and the team) and period (as CSV: RFC 4180, with a header \
            line)",
            content((Vec<TechnicianRow> = "application/json"), (String = "text/csv"))),
        Authenticated,
        Forbidden,
        BadRequest,
        (status = 422, description = "The range ends before it starts, or spans more than ten years", body = ErrorBody),
    )
)]
pub async fn technicians(
    AxumState(state): AxumState<AppState>,
    Tech(user): Tech,
    headers: HeaderMap,
    query: Q,
) -> Result<Response, ApiError> {
    let Query(q) = query?;
    let a = asked(state.config.desk.sla.calendar.zone(), &q, &headers)?;
    answer(&stats::technicians(&state.store, &state.config.desk, &user, a.from, a.to, a.by).await?, a.csv)
}

/// Response and resolution times by priority, channel, category or tier.
#[utoipa::path(
    get,
    path = "/api/stats/response",
    tag = "stats",
    operation_id = "stats_response",
    params(RangeQuery),
    responses(
        (status = 200, description = "A row per group (as CSV: RFC 4180, with a header line)",
            content((Vec<ResponseRow> = "application/json"), (String = "text/csv"))),
        Authenticated,
        Forbidden,
        BadRequest,
        (status = 422, description = "The range ends before it starts, or spans more than ten years", body = ErrorBody),
    )
)]
pub async fn response(
    AxumState(state): AxumState<AppState>,
    Tech(user): Tech,
    headers: HeaderMap,
    query: Q,
) -> Result<Response, ApiError> {
    let Query(q) = query?;
    let a = asked(state.config.desk.sla.calendar.zone(), &q, &headers)?;
    answer(&stats::response(&state.store, &state.config.desk, &user, a.from, a.to, a.dimension).await?, a.csv)
}

/// The tickets open at one moment (`at`), by tier and age.
#[utoipa::path(
    get,
    path = "/api/stats/backlog",
    tag = "stats",
    operation_id = "stats_backlog",
    params(RangeQuery),
    responses(
        (status = 200, description = "The backlog; as CSV (RFC 4180, with a header line), its rows",
            content((BacklogReport = "application/json"), (String = "text/csv"))),
        Authenticated,
        Forbidden,
        BadRequest,
    )
)]
pub async fn backlog(
    AxumState(state): AxumState<AppState>,
    Tech(user): Tech,
    headers: HeaderMap,
    query: Q,
) -> Result<Response, ApiError> {
    let Query(q) = query?;
    let a = asked(state.config.desk.sla.calendar.zone(), &q, &headers)?;
    let at = backlog_at(state.config.desk.sla.calendar.zone(), &q)?;
    let report = stats::backlog(&state.store, &user, at).await?;
    if a.csv {
        return answer(&report.rows, true);
    }
    Ok(Json(report).into_response())
}

/// Tickets opened and resolutions per period.
#[utoipa::path(
    get,
    path = "/api/stats/flow",
    tag = "stats",
    operation_id = "stats_flow",
    params(RangeQuery),
    responses(
        (status = 200, description = "A row per period (as CSV: RFC 4180, with a header line)",
            content((Vec<FlowRow> = "application/json"), (String = "text/csv"))),
        Authenticated,
        Forbidden,
        BadRequest,
        (status = 422, description = "The range ends before it starts, or spans more than ten years", body = ErrorBody),
    )
)]
pub async fn flow(
    AxumState(state): AxumState<AppState>,
    Tech(user): Tech,
    headers: HeaderMap,
    query: Q,
) -> Result<Response, ApiError> {
    let Query(q) = query?;
    let a = asked(state.config.desk.sla.calendar.zone(), &q, &headers)?;
    answer(&stats::flow(&state.store, &state.config.desk, &user, a.from, a.to, a.by).await?, a.csv)
}

/// SLA warnings and breaches per clock and priority, and how often resolutions came after a breach.
#[utoipa::path(
    get,
    path = "/api/stats/sla",
    tag = "stats",
    operation_id = "stats_sla",
    params(RangeQuery),
    responses(
        (status = 200, description = "A row per clock and priority (as CSV: RFC 4180, with a header line)",
            content((Vec<SlaRow> = "application/json"), (String = "text/csv"))),
        Authenticated,
        Forbidden,
        BadRequest,
        (status = 422, description = "The range ends before it starts, or spans more than ten years", body = ErrorBody),
    )
)]
pub async fn sla(
    AxumState(state): AxumState<AppState>,
    Tech(user): Tech,
    headers: HeaderMap,
    query: Q,
) -> Result<Response, ApiError> {
    let Query(q) = query?;
    let a = asked(state.config.desk.sla.calendar.zone(), &q, &headers)?;
    answer(&stats::sla(&state.store, &user, a.from, a.to).await?, a.csv)
}

/// Tickets opened per category and period, with the categories rising in the last period.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, ToSchema)]
pub struct CategoriesView {
    pub rows: Vec<CategoryRow>,
    /// Categories opened more often in the last period than in the one before, largest rise first.
    pub rising: Vec<(String, i64)>,
}

/// Tickets opened per category and period, and the categories rising in the last period.
#[utoipa::path(
    get,
    path = "/api/stats/categories",
    tag = "stats",
    operation_id = "stats_categories",
    params(RangeQuery),
    responses(
        (status = 200, description = "The rows and the rising categories; as CSV (RFC 4180, with a header line), the \
            rows",
            content((CategoriesView = "application/json"), (String = "text/csv"))),
        Authenticated,
        Forbidden,
        BadRequest,
        (status = 422, description = "The range ends before it starts, or spans more than ten years", body = ErrorBody),
    )
)]
pub async fn categories(
    AxumState(state): AxumState<AppState>,
    Tech(user): Tech,
    headers: HeaderMap,
    query: Q,
) -> Result<Response, ApiError> {
    let Query(q) = query?;
    let a = asked(state.config.desk.sla.calendar.zone(), &q, &headers)?;
    let (rows, rising) = stats::categories(&state.store, &state.config.desk, &user, a.from, a.to, a.by).await?;
    if a.csv {
        return answer(&rows, true);
    }
    Ok(Json(CategoriesView { rows, rising }).into_response())
}

/// What requesters had to be shown how to do, by category and department, and how much self-help already
/// solves.
#[utoipa::path(
    get,
    path = "/api/stats/education",
    tag = "stats",
    operation_id = "stats_education",
    params(RangeQuery),
    responses(
        (status = 200, description = "The report; as CSV (RFC 4180, with a header line), its topics",
            content((EducationReport = "application/json"), (String = "text/csv"))),
        Authenticated,
        Forbidden,
        BadRequest,
        (status = 422, description = "The range ends before it starts, or spans more than ten years", body = ErrorBody),
    )
)]
pub async fn education(
    AxumState(state): AxumState<AppState>,
    Tech(user): Tech,
    headers: HeaderMap,
    query: Q,
) -> Result<Response, ApiError> {
    let Query(q) = query?;
    let a = asked(state.config.desk.sla.calendar.zone(), &q, &headers)?;
    let report = stats::education(&state.store, &user, a.from, a.to).await?;
    if a.csv {
        return answer(&report.topics, true);
    }
    Ok(Json(report).into_response())
}

/// The approved checks run per check and category, how many were done, and how many tickets were resolved
/// after.
#[utoipa::path(
    get,
    path = "/api/stats/checks",
    tag = "stats",
    operation_id = "stats_checks",
    params(RangeQuery),
    responses(
        (status = 200, description = "A row per check and category (as CSV: RFC 4180, with a header line)",
            content((Vec<CheckRow> = "application/json"), (String = "text/csv"))),
        Authenticated,
        Forbidden,
        BadRequest,
        (status = 422, description = "The range ends before it starts, or spans more than ten years", body = ErrorBody),
    )
)]
pub async fn checks(
    AxumState(state): AxumState<AppState>,
    Tech(user): Tech,
    headers: HeaderMap,
    query: Q,
) -> Result<Response, ApiError> {
    let Query(q) = query?;
    let a = asked(state.config.desk.sla.calendar.zone(), &q, &headers)?;
    answer(&stats::checks(&state.store, &user, a.from, a.to).await?, a.csv)
}
