//! The reports: the statistics of `GET /api/stats/...` as tables, read through the same use cases with the same
//! parsing of the same parameters, so a page says what its CSV says. Where a table has one dimension, a bar chart
//! beside it, drawn here as SVG: no script, and nothing inline for the CSP to refuse; the table is its accessible
//! equivalent. Every count of tickets links to [`tickets`], which sends the reader to the queue listing exactly the
//! tickets behind it.

use askama::Template;
use axum::extract::{RawQuery, State as AxumState};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use jiff::Timestamp;
use jiff::tz::TimeZone;

use super::{AppState, Chrome, Texts, Viewer, error_page, render};
use crate::api::error::ApiError;
use crate::api::{MAX_NUMBERS, RangeQuery, asked, backlog_at};
use crate::desk::access::{Act, permits};
use crate::desk::reports::{ALL, Bucket, Dimension, Figure, NO_CATEGORY, UNKNOWN_DEPARTMENT};
use crate::desk::sla::ClockKind;
use crate::service::stats::{self, Table};

/// The parameters of a report's range, as the API names them.
const RANGE: [&str; 5] = ["from", "to", "by", "dimension", "at"];

/// The backlog's counts: its open tickets, then by age as [`crate::desk::reports::AGE_BUCKETS`] names them.
const BACKLOG_COUNTS: [&str; 6] = ["total", "0-1d", "1-3d", "3-7d", "7-30d", "over 30d"];

/// Each table whose counts link to their tickets, as the links name it: the fields that pick a row, and the counts.
const TABLES: [(&str, &[&str], &[&str]); 9] = [
    (
        "technicians",
        &["period", "technician"],
        &["resolved", "first_contact", "reopened", "public_replies", "first_response_count"],
    ),
    ("response", &["group"], &["first_response_count", "resolution_count"]),
    ("backlog", &["tier"], &BACKLOG_COUNTS),
    ("flow", &["period"], &["created", "resolved"]),
    ("sla", &["clock", "priority"], &["warnings", "breaches", "resolved", "resolved_breached"]),
    ("categories", &["period", "category"], &["opened"]),
    ("topics", &["category"], &["resolved"]),
    ("departments", &["department"], &["user_instructed"]),
    ("checks", &["check", "category"], &["runs", "done", "resolved_after"]),
];

/// One cell of a table: a row's header, a count linked to its tickets, or a value.
pub struct Cell {
    pub text: String,
    pub href: Option<String>,
    pub header: bool,
    pub num: bool,
}

impl Cell {
    fn header(text: impl Into<String>) -> Cell {
        Cell { text: text.into(), href: None, header: true, num: false }
    }

    fn value(text: impl Into<String>) -> Cell {
        Cell { text: text.into(), href: None, header: false, num: true }
    }
}

pub struct DataTable {
    /// What the page's tests and styles find it by.
    pub name: &'static str,
    pub caption: String,
    pub head: Vec<String>,
    pub rows: Vec<Vec<Cell>>,
}

/// Bars are this high, and a chart's columns this wide: the labels, the longest bar, the value after it.
const BAR: i64 = 14;
const LABEL_WIDTH: i64 = 170;
const BAR_WIDTH: i64 = 380;
const VALUE_WIDTH: i64 = 120;
/// The series' colours, each over 4.5:1 against the white page.
const FILLS: [&str; 2] = ["#0b5cad", "#a04a00"];
/// The most rows a chart draws: more than a screen holds (a year by days) helps no one, and the table stays.
const MOST_GROUPS: usize = 60;

pub struct Bar {
    pub y: i64,
    pub width: i64,
    pub fill: &'static str,
    pub text: String,
    pub text_x: i64,
}

pub struct BarGroup {
    pub label: String,
    pub label_y: i64,
    pub bars: Vec<Bar>,
}

pub struct LegendItem {
    pub x: i64,
    pub fill: &'static str,
    pub name: String,
}

/// A horizontal bar chart: a group of bars per row of its table, one bar per series.
pub struct Chart {
    pub title: String,
    pub width: i64,
    pub height: i64,
    pub label_x: i64,
    pub bar_x: i64,
    pub bar: i64,
    pub legend: Vec<LegendItem>,
    pub groups: Vec<BarGroup>,
}

/// A chart of `groups` (a label, then each series' value and its text), the bars scaled to the largest value; none
/// when there is nothing to draw, or too much.
fn chart(title: String, series: &[String], groups: Vec<(String, Vec<(f64, String)>)>) -> Option<Chart> {
    let largest = groups.iter().flat_map(|(_, bars)| bars.iter().map(|(v, _)| *v)).fold(0.0, f64::max);
    if groups.is_empty() || groups.len() > MOST_GROUPS || largest <= 0.0 {
        return None;
    }
    let legend: Vec<LegendItem> = if series.len() > 1 {
        series
            .iter()
            .zip(FILLS)
            .enumerate()
            .map(|(i, (name, fill))| LegendItem { x: LABEL_WIDTH + 160 * i as i64, fill, name: name.clone() })
            .collect()
    } else {
        Vec::new()
    };
    let mut y = if legend.is_empty() { 4 } else { 26 };
    let mut drawn = Vec::new();
    for (label, bars) in groups {
        let top = y;
        let bars: Vec<Bar> = bars
            .into_iter()
            .zip(FILLS)
            .map(|((value, text), fill)| {
                let width = (value / largest * BAR_WIDTH as f64).round() as i64;
                let bar = Bar { y, width, fill, text, text_x: LABEL_WIDTH + width + 6 };
                y += BAR + 2;
                bar
            })
            .collect();
        let label_y = top + (y - 2 - top) / 2 + 4;
        // The whole label is in the table beside the chart.
        let label = if label.chars().count() > 24 {
            format!("{}…", label.chars().take(23).collect::<String>())
        } else {
            label
        };
        drawn.push(BarGroup { label, label_y, bars });
        y += 8;
    }
    Some(Chart {
        title,
        width: LABEL_WIDTH + BAR_WIDTH + VALUE_WIDTH,
        height: y,
        label_x: LABEL_WIDTH - 8,
        bar_x: LABEL_WIDTH,
        bar: BAR,
        legend,
        groups: drawn,
    })
}

pub struct Section {
    pub id: &'static str,
    pub title: &'static str,
    pub csv: String,
    pub csv_label: String,
    pub note: Option<String>,
    pub chart: Option<Chart>,
    pub tables: Vec<DataTable>,
}

#[derive(Template)]
#[template(path = "reports.html")]
struct ReportsPage {
    chrome: Chrome,
    t: Texts,
    given: Params,
    by: &'static str,
    dimension: &'static str,
    showing: String,
    sections: Vec<Section>,
}

impl ReportsPage {
    /// A date given for `name`, for its date field; a time given (as links do) shows in the range's sentence only.
    fn date(&self, name: &str) -> &str {
        self.given
            .iter()
            .find(|(k, v)| k == name && v.parse::<jiff::civil::Date>().is_ok())
            .map_or("", |(_, v)| v.as_str())
    }

    fn buckets(&self) -> [(&'static str, &'static str); 3] {
        [("day", "reports-by-day"), ("week", "reports-by-week"), ("month", "reports-by-month")]
    }

    fn dimensions(&self) -> [(&'static str, &'static str); 4] {
        [
            ("priority", "reports-dim-priority"),
            ("channel", "reports-dim-channel"),
            ("category", "reports-dim-category"),
            ("tier", "reports-dim-tier"),
        ]
    }
}

fn bucket_name(by: Bucket) -> &'static str {
    match by {
        Bucket::Day => "day",
        Bucket::Week => "week",
        Bucket::Month => "month",
    }
}

fn dimension_name(dimension: Dimension) -> &'static str {
    match dimension {
        Dimension::Priority => "priority",
        Dimension::Channel => "channel",
        Dimension::Category => "category",
        Dimension::Tier => "tier",
    }
}

/// A query string's parameters, in order.
type Params = Vec<(String, String)>;

/// A query string's parameters, those of a report's range apart from the rest; empty ones left out, as a form sends
/// its empty fields too and they mean the default, as a missing parameter does in the API.
fn split(raw: &str) -> Result<(Params, Params), ApiError> {
    let all: Params = serde_urlencoded::from_str(raw).map_err(|e| ApiError::bad_request(format!("query: {e}")))?;
    Ok(all.into_iter().filter(|(_, v)| !v.is_empty()).partition(|(k, _)| RANGE.contains(&k.as_str())))
}

/// The range parameters read as the API reads them: an unknown one, or one twice, is refused the same.
fn range_query(given: &[(String, String)]) -> Result<RangeQuery, ApiError> {
    let text = serde_urlencoded::to_string(given).map_err(|e| ApiError::bad_request(e.to_string()))?;
    serde_urlencoded::from_str(&text).map_err(|e| ApiError::bad_request(format!("query: {e}")))
}

fn rfc3339(ms: i64) -> String {
    Timestamp::from_millisecond(ms).map(|t| t.to_string()).unwrap_or_default()
}

/// A moment in the help desk's time zone, to the minute, with the zone's name.
fn local(tz: &TimeZone, ms: i64) -> String {
    let Ok(t) = Timestamp::from_millisecond(ms) else { return String::new() };
    let at = tz.to_datetime(t).strftime("%Y-%m-%d %H:%M").to_string();
    match tz.iana_name() {
        Some(name) => format!("{at} {name}"),
        None => format!("{at} ({})", tz.to_offset(t)),
    }
}

/// A time as a reader takes it in: days and hours, hours and minutes, or minutes.
fn duration(t: &Texts, ms: Option<i64>) -> String {
    let Some(ms) = ms else { return "–".to_owned() };
    let minutes = ms / 60_000;
    let (d, h, m) = (minutes / (24 * 60), minutes / 60 % 24, minutes % 60);
    if d > 0 {
        t.with("reports-d-h", &[("d", &d), ("h", &h)])
    } else if h > 0 {
        t.with("reports-h-m", &[("h", &h), ("m", &m)])
    } else {
        t.with("reports-m", &[("m", &m)])
    }
}

/// Wall-clock and business time, side by side as the headers say.
fn times(t: &Texts, wall: Option<i64>, business: Option<i64>) -> Cell {
    Cell::value(format!("{} / {}", duration(t, wall), duration(t, business)))
}

fn percent(t: &Texts, rate: Option<f64>) -> String {
    rate.map_or_else(|| "–".to_owned(), |r| t.with("reports-percent", &[("n", &format!("{:.0}", r * 100.0))]))
}

/// The addresses the page links to, each with the range pinned to the instants the page was computed for: a link
/// followed later lists the tickets of the very figure it was on.
struct Links {
    range: Params,
}

impl Links {
    /// `n`, linked to the tickets behind it unless it is none.
    fn count(&self, n: u64, table: &str, column: &str, key: &[(&str, &str)]) -> Cell {
        let mut params = self.range.clone();
        params.push(("table".into(), table.into()));
        params.push(("column".into(), column.into()));
        params.extend(key.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
        let href =
            (n > 0).then(|| format!("/reports/tickets?{}", serde_urlencoded::to_string(&params).unwrap_or_default()));
        Cell { text: n.to_string(), href, header: false, num: true }
    }

    /// The API's own CSV of `report` over the same range.
    fn csv(&self, report: &str) -> String {
        let mut params = self.range.clone();
        params.push(("format".into(), "csv".into()));
        format!("/api/stats/{report}?{}", serde_urlencoded::to_string(&params).unwrap_or_default())
    }
}

pub async fn page(
    AxumState(state): AxumState<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let chrome = viewer.chrome();
    let t = viewer.t;
    let tz = state.config.desk.sla.calendar.zone();
    let read = (|| {
        let (given, rest) = split(raw.as_deref().unwrap_or(""))?;
        if let Some((name, _)) = rest.first() {
            return Err(ApiError::bad_request(format!("unknown parameter {name:?}; one of {}", RANGE.join(", "))));
        }
        let q = range_query(&given)?;
        Ok((given, asked(tz, &q, &headers)?, backlog_at(tz, &q)?))
    })();
    let (given, a, at) = match read {
        Ok(read) => read,
        Err(e) => return error_page(Some(&chrome), t, e),
    };
    let (store, desk, user) = (&state.store, &state.config.desk, &viewer.user);
    let figures = tokio::try_join!(
        stats::technicians(store, desk, user, a.from, a.to, a.by),
        stats::response(store, desk, user, a.from, a.to, a.dimension),
        stats::backlog(store, user, at),
        stats::flow(store, desk, user, a.from, a.to, a.by),
        stats::sla(store, user, a.from, a.to),
        stats::categories(store, desk, user, a.from, a.to, a.by),
        stats::education(store, user, a.from, a.to),
        stats::checks(store, user, a.from, a.to),
    );
    let (technicians, response, backlog, flow, sla, (categories, rising), education, checks) = match figures {
        Ok(figures) => figures,
        Err(e) => return error_page(Some(&chrome), t, e),
    };
    let (by, dimension) = (bucket_name(a.by), dimension_name(a.dimension));
    let links = Links {
        range: vec![
            ("from".into(), rfc3339(a.from)),
            ("to".into(), rfc3339(a.to)),
            ("by".into(), by.into()),
            ("dimension".into(), dimension.into()),
            ("at".into(), rfc3339(at)),
        ],
    };
    let team = |name: &str| if name == ALL { t.get("reports-team").to_owned() } else { name.to_owned() };
    let category =
        |name: &str| if name == NO_CATEGORY { t.get("reports-no-category").to_owned() } else { name.to_owned() };
    let heads = |keys: &[&'static str]| keys.iter().map(|k| t.get(k).to_owned()).collect::<Vec<String>>();
    let mut sections = Vec::new();

    let rows = technicians
        .iter()
        .map(|r| {
            let key = [("period", r.period.as_str()), ("technician", r.technician.as_str())];
            let count = |n, column| links.count(n, "technicians", column, &key);
            vec![
                Cell::header(&r.period),
                Cell::header(team(&r.technician)),
                count(r.resolved, "resolved"),
                count(r.first_contact, "first_contact"),
                count(r.reopened, "reopened"),
                count(r.public_replies, "public_replies"),
                count(r.first_response_count, "first_response_count"),
                times(&t, r.first_response_wall_median_ms, r.first_response_business_median_ms),
                times(&t, r.first_response_wall_p90_ms, r.first_response_business_p90_ms),
                times(&t, r.resolution_wall_median_ms, r.resolution_business_median_ms),
                times(&t, r.resolution_wall_p90_ms, r.resolution_business_p90_ms),
            ]
        })
        .collect();
    sections.push(Section {
        id: "technicians",
        title: t.get("reports-technicians"),
        csv: links.csv("technicians"),
        csv_label: t.with("reports-csv", &[("report", &t.get("reports-technicians"))]),
        note: (!permits(user.role, Act::ReadOthersStats)).then(|| t.get("reports-own-row").to_owned()),
        chart: None,
        tables: vec![DataTable {
            name: "technicians",
            caption: t.get("reports-technicians-caption").to_owned(),
            head: heads(&[
                "reports-col-period",
                "reports-col-technician",
                "reports-col-resolved",
                "reports-col-first-contact",
                "reports-col-reopened",
                "reports-col-replies",
                "reports-col-first-responses",
                "reports-col-fr-median",
                "reports-col-fr-p90",
                "reports-col-res-median",
                "reports-col-res-p90",
            ]),
            rows,
        }],
    });

    let dimension_label = t.get(match a.dimension {
        Dimension::Priority => "reports-dim-priority",
        Dimension::Channel => "reports-dim-channel",
        Dimension::Category => "reports-dim-category",
        Dimension::Tier => "reports-dim-tier",
    });
    let series = [t.get("reports-series-first-response").to_owned(), t.get("reports-series-resolution").to_owned()];
    let scale = |ms: Option<i64>| ms.unwrap_or(0) as f64;
    let response_chart = chart(
        t.with("reports-response-chart", &[("dimension", &dimension_label)]),
        &series,
        response
            .iter()
            .map(|r| {
                let bars = vec![
                    (scale(r.first_response_business_median_ms), duration(&t, r.first_response_business_median_ms)),
                    (scale(r.resolution_business_median_ms), duration(&t, r.resolution_business_median_ms)),
                ];
                (category(&r.group), bars)
            })
            .collect(),
    );
    let rows = response
        .iter()
        .map(|r| {
            let key = [("group", r.group.as_str())];
            vec![
                Cell::header(category(&r.group)),
                links.count(r.first_response_count, "response", "first_response_count", &key),
                times(&t, r.first_response_wall_median_ms, r.first_response_business_median_ms),
                times(&t, r.first_response_wall_p90_ms, r.first_response_business_p90_ms),
                links.count(r.resolution_count, "response", "resolution_count", &key),
                times(&t, r.resolution_wall_median_ms, r.resolution_business_median_ms),
                times(&t, r.resolution_wall_p90_ms, r.resolution_business_p90_ms),
            ]
        })
        .collect();
    let mut head = vec![dimension_label.to_owned()];
    head.extend(heads(&[
        "reports-col-first-responses",
        "reports-col-fr-median",
        "reports-col-fr-p90",
        "reports-col-resolutions",
        "reports-col-res-median",
        "reports-col-res-p90",
    ]));
    sections.push(Section {
        id: "response",
        title: t.get("reports-response"),
        csv: links.csv("response"),
        csv_label: t.with("reports-csv", &[("report", &t.get("reports-response"))]),
        note: None,
        chart: response_chart,
        tables: vec![DataTable {
            name: "response",
            caption: t.with("reports-response-caption", &[("dimension", &dimension_label)]),
            head,
            rows,
        }],
    });

    let ages = |r: &crate::desk::reports::BacklogRow| {
        [r.total, r.age_0_1d, r.age_1_3d, r.age_3_7d, r.age_7_30d, r.age_over_30d]
    };
    let mut rows: Vec<Vec<Cell>> = backlog
        .rows
        .iter()
        .map(|r| {
            let tier = r.tier.to_string();
            let mut row = vec![Cell::header(tier.clone())];
            for (n, column) in ages(r).into_iter().zip(BACKLOG_COUNTS) {
                row.push(links.count(n, "backlog", column, &[("tier", &tier)]));
            }
            row
        })
        .collect();
    // The tiers together: each column's sum, whose tickets are those of every tier.
    let mut all = vec![Cell::header(t.get("reports-all-tiers"))];
    for (i, column) in BACKLOG_COUNTS.iter().enumerate() {
        let sum = backlog.rows.iter().map(|r| ages(r).get(i).copied().unwrap_or(0)).sum();
        all.push(links.count(sum, "backlog", column, &[]));
    }
    rows.push(all);
    sections.push(Section {
        id: "backlog",
        title: t.get("reports-backlog"),
        csv: links.csv("backlog"),
        csv_label: t.with("reports-csv", &[("report", &t.get("reports-backlog"))]),
        note: None,
        chart: chart(
            t.get("reports-backlog-chart").to_owned(),
            &[t.get("reports-col-open").to_owned()],
            backlog
                .rows
                .iter()
                .map(|r| (t.with("reports-tier", &[("tier", &r.tier)]), vec![(r.total as f64, r.total.to_string())]))
                .collect(),
        ),
        tables: vec![DataTable {
            name: "backlog",
            caption: t.with("reports-backlog-caption", &[("at", &local(tz, backlog.at))]),
            head: heads(&[
                "reports-col-tier",
                "reports-col-open",
                "reports-age-0-1",
                "reports-age-1-3",
                "reports-age-3-7",
                "reports-age-7-30",
                "reports-age-over-30",
            ]),
            rows,
        }],
    });

    let rows = flow
        .iter()
        .map(|r| {
            let key = [("period", r.period.as_str())];
            vec![
                Cell::header(&r.period),
                links.count(r.created, "flow", "created", &key),
                links.count(r.resolved, "flow", "resolved", &key),
            ]
        })
        .collect();
    sections.push(Section {
        id: "flow",
        title: t.get("reports-flow"),
        csv: links.csv("flow"),
        csv_label: t.with("reports-csv", &[("report", &t.get("reports-flow"))]),
        note: None,
        chart: chart(
            t.get("reports-flow-chart").to_owned(),
            &[t.get("reports-col-created").to_owned(), t.get("reports-col-resolved").to_owned()],
            flow.iter()
                .map(|r| {
                    let bars =
                        vec![(r.created as f64, r.created.to_string()), (r.resolved as f64, r.resolved.to_string())];
                    (r.period.clone(), bars)
                })
                .collect(),
        ),
        tables: vec![DataTable {
            name: "flow",
            caption: t.get("reports-flow-caption").to_owned(),
            head: heads(&["reports-col-period", "reports-col-created", "reports-col-resolved"]),
            rows,
        }],
    });

    let rows = sla
        .iter()
        .map(|r| {
            let key = [("clock", r.clock.as_str()), ("priority", r.priority.as_str())];
            let count = |n, column| links.count(n, "sla", column, &key);
            vec![
                Cell::header(t.get(match r.clock {
                    ClockKind::FirstResponse => "reports-clock-first-response",
                    ClockKind::NextResponse => "reports-clock-next-response",
                    ClockKind::Resolution => "reports-clock-resolution",
                })),
                Cell::header(r.priority.as_str()),
                count(r.warnings, "warnings"),
                count(r.breaches, "breaches"),
                count(r.resolved, "resolved"),
                count(r.resolved_breached, "resolved_breached"),
                Cell::value(percent(&t, r.breach_rate)),
            ]
        })
        .collect();
    sections.push(Section {
        id: "sla",
        title: t.get("reports-sla"),
        csv: links.csv("sla"),
        csv_label: t.with("reports-csv", &[("report", &t.get("reports-sla"))]),
        note: None,
        chart: None,
        tables: vec![DataTable {
            name: "sla",
            caption: t.get("reports-sla-caption").to_owned(),
            head: heads(&[
                "reports-col-clock",
                "reports-col-priority",
                "reports-col-warnings",
                "reports-col-breaches",
                "reports-col-resolved",
                "reports-col-resolved-breached",
                "reports-col-breach-rate",
            ]),
            rows,
        }],
    });

    let rows = categories
        .iter()
        .map(|r| {
            let key = [("period", r.period.as_str()), ("category", r.category.as_str())];
            vec![
                Cell::header(&r.period),
                Cell::header(category(&r.category)),
                links.count(r.opened, "categories", "opened", &key),
                Cell::value(r.change.map_or_else(|| "–".to_owned(), |c| format!("{c:+}"))),
            ]
        })
        .collect();
    let rising_rows = rising
        .iter()
        .map(|(name, rise)| vec![Cell::header(category(name)), Cell::value(format!("{rise:+}"))])
        .collect();
    sections.push(Section {
        id: "categories",
        title: t.get("reports-categories"),
        csv: links.csv("categories"),
        csv_label: t.with("reports-csv", &[("report", &t.get("reports-categories"))]),
        note: None,
        chart: chart(
            t.get("reports-rising-chart").to_owned(),
            &[t.get("reports-col-rise").to_owned()],
            rising.iter().map(|(name, rise)| (category(name), vec![(*rise as f64, format!("{rise:+}"))])).collect(),
        ),
        tables: vec![
            DataTable {
                name: "rising",
                caption: t.get("reports-rising-caption").to_owned(),
                head: heads(&["reports-col-category", "reports-col-rise"]),
                rows: rising_rows,
            },
            DataTable {
                name: "categories",
                caption: t.get("reports-categories-caption").to_owned(),
                head: heads(&[
                    "reports-col-period",
                    "reports-col-category",
                    "reports-col-opened",
                    "reports-col-change",
                ]),
                rows,
            },
        ],
    });

    let topics = education
        .topics
        .iter()
        .map(|topic| {
            let findings: Vec<String> = topic.findings.iter().map(|f| format!("{} ({})", f.kind, f.count)).collect();
            vec![
                Cell::header(category(&topic.category)),
                links.count(topic.resolved, "topics", "resolved", &[("category", &topic.category)]),
                Cell { text: findings.join(", "), href: None, header: false, num: false },
            ]
        })
        .collect();
    let departments = education
        .departments
        .iter()
        .map(|d| {
            let name = if d.department == UNKNOWN_DEPARTMENT {
                t.get("reports-unknown-department").to_owned()
            } else {
                d.department.clone()
            };
            vec![
                Cell::header(name),
                links.count(d.user_instructed, "departments", "user_instructed", &[("department", &d.department)]),
                Cell::value(d.self_help_shown.to_string()),
                Cell::value(d.self_help_solved.to_string()),
            ]
        })
        .collect();
    let deflection = if education.self_help_shown == 0 {
        t.get("reports-deflection-none").to_owned()
    } else {
        t.with(
            "reports-deflection",
            &[
                ("shown", &education.self_help_shown),
                ("solved", &education.self_help_solved),
                ("rate", &percent(&t, education.deflection_rate)),
            ],
        )
    };
    sections.push(Section {
        id: "education",
        title: t.get("reports-education"),
        csv: links.csv("education"),
        csv_label: t.with("reports-csv", &[("report", &t.get("reports-education"))]),
        note: Some(deflection),
        chart: None,
        tables: vec![
            DataTable {
                name: "topics",
                caption: t.get("reports-topics-caption").to_owned(),
                head: heads(&["reports-col-category", "reports-col-user-instructed", "reports-col-findings"]),
                rows: topics,
            },
            DataTable {
                name: "departments",
                caption: t.get("reports-departments-caption").to_owned(),
                head: heads(&[
                    "reports-col-department",
                    "reports-col-user-instructed",
                    "reports-col-self-help-shown",
                    "reports-col-self-help-solved",
                ]),
                rows: departments,
            },
        ],
    });

    let rows = checks
        .iter()
        .map(|r| {
            let key = [("check", r.check.as_str()), ("category", r.category.as_str())];
            vec![
                Cell::header(&r.check),
                Cell::header(category(&r.category)),
                links.count(r.runs, "checks", "runs", &key),
                links.count(r.done, "checks", "done", &key),
                links.count(r.resolved_after, "checks", "resolved_after", &key),
            ]
        })
        .collect();
    sections.push(Section {
        id: "checks",
        title: t.get("reports-checks"),
        csv: links.csv("checks"),
        csv_label: t.with("reports-csv", &[("report", &t.get("reports-checks"))]),
        note: None,
        chart: None,
        tables: vec![DataTable {
            name: "checks",
            caption: t.get("reports-checks-caption").to_owned(),
            head: heads(&[
                "reports-col-check",
                "reports-col-category",
                "reports-col-runs",
                "reports-col-done",
                "reports-col-resolved-after",
            ]),
            rows,
        }],
    });

    let showing = t.with("reports-range", &[("from", &local(tz, a.from)), ("to", &local(tz, a.to))]);
    render(StatusCode::OK, &ReportsPage { chrome, t, given, by, dimension, showing, sections })
}

/// A count's link: the tickets behind it, found by the use case with the report's own access, shown in the queue by
/// their numbers.
pub async fn tickets(
    AxumState(state): AxumState<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let chrome = viewer.chrome();
    let t = viewer.t;
    let found = async {
        let tz = state.config.desk.sla.calendar.zone();
        let (given, rest) = split(raw.as_deref().unwrap_or(""))?;
        let q = range_query(&given)?;
        let a = asked(tz, &q, &headers)?;
        let one = |name: &str| rest.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
        let name = one("table").unwrap_or_default();
        let Some((_, fields, counts)) = TABLES.iter().find(|(n, ..)| *n == name) else {
            let names: Vec<&str> = TABLES.iter().map(|(n, ..)| *n).collect();
            return Err(ApiError::bad_request(format!("table {name:?}: one of {}", names.join(", "))));
        };
        let column = one("column").unwrap_or_default();
        if !counts.contains(&column) {
            return Err(ApiError::bad_request(format!("column {column:?} of {name}: one of {}", counts.join(", "))));
        }
        let mut key = Vec::new();
        for (field, value) in rest.iter().filter(|(k, _)| k != "table" && k != "column") {
            if !fields.contains(&field.as_str()) || key.iter().any(|(f, _)| f == field) {
                return Err(ApiError::bad_request(format!("{field:?} picks no row of {name} here")));
            }
            key.push((field.clone(), value.clone()));
        }
        let table = match name {
            "technicians" => Table::Technicians(a.by),
            "response" => Table::Response(a.dimension),
            "backlog" => Table::Backlog(backlog_at(tz, &q)?),
            "flow" => Table::Flow(a.by),
            "sla" => Table::Sla,
            "categories" => Table::Categories(a.by),
            "topics" => Table::Topics,
            "departments" => Table::Departments,
            _ => Table::Checks,
        };
        let figure = Figure { column: column.to_owned(), key };
        let numbers =
            stats::behind(&state.store, &state.config.desk, &viewer.user, table, a.from, a.to, figure).await?;
        if numbers.is_empty() {
            return Err(ApiError::new(StatusCode::NOT_FOUND, t.get("reports-none-behind")));
        }
        if numbers.len() > MAX_NUMBERS {
            let message = t.with("reports-too-many", &[("count", &numbers.len()), ("max", &MAX_NUMBERS)]);
            return Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, message));
        }
        let list: Vec<String> = numbers.iter().map(i64::to_string).collect();
        Ok(serde_urlencoded::to_string([("numbers", list.join(","))]).unwrap_or_default())
    };
    match found.await {
        Ok(query) => Redirect::to(&format!("/queue?{query}")).into_response(),
        Err(e) => error_page(Some(&chrome), t, e),
    }
}
