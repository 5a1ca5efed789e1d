//! The queue: the tickets the filters select, a page at a time, read through the same query and use case as
//! `GET /api/tickets`; the filter form takes the API's parameter names, so a queue's address is its API query too.
//! Any technician saves the filters as a view of their own or one shared with the desk, picks the columns they
//! want (kept for them), and acts on several tickets at once: each one through the same use case as one ticket's
//! action, in its own transaction, with each outcome shown.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State as AxumState};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};

use super::ticket::{ActForm, command};
use super::{AppState, Chrome, Texts, Viewer, error_page, render, when};
use crate::api::ListQuery;
use crate::api::error::ApiError;
use crate::desk::priority::Level;
use crate::desk::tickets::{Channel, Status};
use crate::service;
use crate::store::desk::SavedView;
use crate::store::now_ms;

/// Rows on a page: a screenful, and cheap enough to render on every filter change.
const PAGE: u32 = 50;

/// The filters the form offers, in its order, with the API's names.
const FILTERS: [&str; 9] = ["status", "assignee", "tier", "priority", "channel", "category", "sla", "text", "sort"];

/// The API's other filters, which links bring (a report's figure names its tickets, a machine's page its machine):
/// kept in the form as they came, so that changing a filter above keeps them.
const CARRIED: [&str; 6] = ["numbers", "person", "requester", "machine", "older_than_hours", "due_within_minutes"];

/// The columns a technician may show, in the table's order; the number always shows.
pub const COLUMNS: [&str; 10] =
    ["subject", "status", "priority", "tier", "assignee", "requester", "category", "channel", "updated", "sla"];

/// Where a technician's choice of columns is kept.
const COLUMNS_PREF: &str = "queue.columns";

/// The most tickets one bulk action takes: a page's worth.
const MAX_BULK: usize = PAGE as usize;

pub struct Row {
    pub number: i64,
    pub subject: String,
    pub status: &'static str,
    pub priority: &'static str,
    pub tier: u8,
    pub assignee: String,
    pub requester: String,
    pub category: String,
    pub channel: &'static str,
    pub updated: String,
    /// `breached`, `due-soon` or empty.
    pub sla: &'static str,
}

#[derive(Template)]
#[template(path = "queue.html")]
struct QueuePage {
    chrome: Chrome,
    t: Texts,
    rows: Vec<Row>,
    /// The filters as given, for the form to show them again.
    given: Vec<(String, String)>,
    /// The same as a query string, without the page cursor: what a saved view keeps.
    filters: String,
    columns: Vec<&'static str>,
    views: Vec<SavedView>,
    statuses: Vec<&'static str>,
    priorities: Vec<&'static str>,
    channels: Vec<&'static str>,
    categories: Vec<String>,
    codes: Vec<String>,
    next: Option<String>,
}

impl QueuePage {
    fn given(&self, name: &str) -> &str {
        self.given.iter().find(|(k, _)| k == name).map_or("", |(_, v)| v.as_str())
    }

    fn selected(&self, name: &str, value: &str) -> bool {
        self.given(name) == value
    }

    fn count(&self) -> String {
        self.t.with("queue-count", &[("count", &self.rows.len())])
    }

    fn shows(&self, column: &str) -> bool {
        self.columns.contains(&column)
    }

    fn all_columns(&self) -> [&'static str; 10] {
        COLUMNS
    }

    fn column_name(&self, column: &str) -> &'static str {
        self.t.get(match column {
            "subject" => "col-subject",
            "status" => "col-status",
            "priority" => "col-priority",
            "tier" => "col-tier",
            "assignee" => "col-assignee",
            "requester" => "col-requester",
            "category" => "col-category",
            "channel" => "col-channel",
            "updated" => "col-updated",
            _ => "col-sla",
        })
    }

    fn select_label(&self, number: &i64) -> String {
        self.t.with("bulk-select-ticket", &[("number", number)])
    }

    /// The filters that came with a link and have no field of their own, to carry along.
    fn carried(&self) -> Vec<&(String, String)> {
        self.given.iter().filter(|(k, _)| CARRIED.contains(&k.as_str())).collect()
    }

    fn owns(&self, view: &SavedView) -> bool {
        view.owner == self.chrome.user
    }
}

/// The filters of a query string that the queue knows, without empty ones: a form sends its empty fields too, and
/// they mean "any", as a missing parameter does in the API.
fn filters_of(raw: &str, with_cursor: bool) -> Vec<(String, String)> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(raw)
        .unwrap_or_default()
        .into_iter()
        .filter(|(k, v)| {
            !v.is_empty()
                && (FILTERS.contains(&k.as_str()) || CARRIED.contains(&k.as_str()) || (with_cursor && k == "after"))
        })
        .collect()
}

/// The store's query for these filters, as the API reads them: an unknown status or a bad cursor is refused the same.
fn resolve(given: &[(String, String)], viewer: &Viewer) -> Result<crate::store::tickets::Query, ApiError> {
    let text = serde_urlencoded::to_string(given).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let query: ListQuery = serde_urlencoded::from_str(&text).map_err(|e| ApiError::bad_request(e.to_string()))?;
    query.resolve(&viewer.user, now_ms())
}

pub async fn page(AxumState(state): AxumState<AppState>, viewer: Viewer, RawQuery(raw): RawQuery) -> Response {
    let chrome = viewer.chrome();
    let given = filters_of(raw.as_deref().unwrap_or(""), true);
    let mut query = match resolve(&given, &viewer) {
        Ok(q) => q,
        Err(e) => return error_page(Some(&chrome), viewer.t, e),
    };
    query.limit = PAGE;
    let now = now_ms();
    let (page, categories, views, columns) = match tokio::try_join!(
        service::tickets::list(&state.store, &viewer.user, query),
        service::desk::categories(&state.store, &viewer.user),
        service::desk::views(&state.store, &viewer.user),
        service::desk::console_pref(&state.store, &viewer.user, COLUMNS_PREF),
    ) {
        Ok(all) => all,
        Err(e) => return error_page(Some(&chrome), viewer.t, e),
    };
    let rows = page
        .tickets
        .into_iter()
        .map(|t| Row {
            number: t.number,
            subject: t.subject,
            status: t.status.as_str(),
            priority: t.priority.as_str(),
            tier: t.tier,
            assignee: t.assignee.unwrap_or_default(),
            requester: t.requester,
            category: t.category.unwrap_or_default(),
            channel: t.channel.as_str(),
            updated: when(t.updated_at),
            sla: match t.sla_due_at {
                _ if t.sla_breached => "breached",
                Some(due) if due < now + 3_600_000 => "due-soon",
                _ => "",
            },
        })
        .collect();
    let without_cursor: Vec<(String, String)> = given.iter().filter(|(k, _)| k != "after").cloned().collect();
    let filters = serde_urlencoded::to_string(&without_cursor).unwrap_or_default();
    let next = page.next.map(|cursor| {
        let mut params = without_cursor.clone();
        params.push(("after".into(), cursor.encode()));
        format!("/queue?{}", serde_urlencoded::to_string(&params).unwrap_or_default())
    });
    // A column a newer build no longer has is dropped; none chosen, all of them.
    let columns = match columns {
        Some(list) => COLUMNS.into_iter().filter(|c| list.split(',').any(|l| l == *c)).collect(),
        None => COLUMNS.to_vec(),
    };
    let page = QueuePage {
        t: viewer.t,
        chrome,
        rows,
        given,
        filters,
        columns,
        views,
        statuses: Status::ALL.iter().map(|s| s.as_str()).collect(),
        priorities: Level::ALL.iter().map(|l| l.as_str()).collect(),
        channels: Channel::ALL.iter().map(|c| c.as_str()).collect(),
        categories: categories.into_iter().filter(|c| !c.retired).map(|c| c.name).collect(),
        codes: state.config.desk.resolution_codes.clone(),
        next,
    };
    render(StatusCode::OK, &page)
}

fn queue_with(filters: &str) -> String {
    if filters.is_empty() { "/queue".to_owned() } else { format!("/queue?{filters}") }
}

/// Saves the queue's filters as a view: the filters are read as the queue reads them first, so a view that could
/// not open is never saved.
pub async fn save_view(
    AxumState(state): AxumState<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let chrome = viewer.chrome();
    let saved = async {
        let form = viewer.read_form(&headers, &body)?;
        let filters = filters_of(form.get("filters").unwrap_or(""), false);
        resolve(&filters, &viewer)?;
        let query = serde_urlencoded::to_string(&filters).map_err(|e| ApiError::bad_request(e.to_string()))?;
        let name = form.get("name").unwrap_or("").to_owned();
        let shared = form.get("shared").is_some();
        service::desk::save_view(&state.store, &viewer.user, name, query.clone(), shared).await?;
        Ok::<_, ApiError>(query)
    };
    match saved.await {
        Ok(query) => Redirect::to(&queue_with(&query)).into_response(),
        Err(e) => error_page(Some(&chrome), viewer.t, e),
    }
}

pub async fn remove_view(
    AxumState(state): AxumState<AppState>,
    viewer: Viewer,
    Path(id): Path<i64>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let chrome = viewer.chrome();
    let removed = async {
        viewer.read_form(&headers, &body)?;
        service::desk::remove_view(&state.store, &viewer.user, id).await?;
        Ok::<_, ApiError>(())
    };
    match removed.await {
        Ok(()) => Redirect::to("/queue").into_response(),
        Err(e) => error_page(Some(&chrome), viewer.t, e),
    }
}

/// The column picker: the columns ticked, kept for this technician.
pub async fn set_columns(
    AxumState(state): AxumState<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let chrome = viewer.chrome();
    let set = async {
        let form = viewer.read_form(&headers, &body)?;
        let chosen: Vec<&str> = COLUMNS.into_iter().filter(|c| form.all("column").any(|v| v == *c)).collect();
        service::desk::set_console_pref(&state.store, &viewer.user, COLUMNS_PREF, chosen.join(",")).await?;
        Ok::<_, ApiError>(filters_of(form.get("filters").unwrap_or(""), false))
    };
    match set.await {
        Ok(filters) => {
            Redirect::to(&queue_with(&serde_urlencoded::to_string(&filters).unwrap_or_default())).into_response()
        }
        Err(e) => error_page(Some(&chrome), viewer.t, e),
    }
}

pub struct Outcome {
    pub number: i64,
    pub done: bool,
    pub message: String,
}

#[derive(Template)]
#[template(path = "bulk.html")]
struct BulkPage {
    chrome: Chrome,
    t: Texts,
    outcomes: Vec<Outcome>,
    back: String,
}

impl BulkPage {
    fn done(&self) -> usize {
        self.outcomes.iter().filter(|o| o.done).count()
    }

    fn summary(&self) -> String {
        self.t.with("bulk-summary", &[("done", &self.done()), ("refused", &(self.outcomes.len() - self.done()))])
    }
}

/// One action on every ticket ticked: assign, escalate, status or internal note. Each ticket is acted on as its own
/// page would act on it, and the page lists each one's outcome.
pub async fn bulk(AxumState(state): AxumState<AppState>, viewer: Viewer, headers: HeaderMap, body: Bytes) -> Response {
    let chrome = viewer.chrome();
    let prepared = (|| {
        let form = viewer.read_form(&headers, &body)?;
        let numbers = form.all("n").map(crate::api::parse_number).collect::<Result<Vec<i64>, _>>()?;
        if numbers.is_empty() {
            return Err(ApiError::bad_request(viewer.t.get("bulk-none")));
        }
        if numbers.len() > MAX_BULK {
            return Err(ApiError::bad_request(format!("at most {MAX_BULK} tickets at once")));
        }
        let singles: Vec<(String, String)> =
            form.pairs().iter().filter(|(k, v)| k != "n" && !v.is_empty()).cloned().collect();
        let text = serde_urlencoded::to_string(&singles).map_err(|e| ApiError::bad_request(e.to_string()))?;
        let act: ActForm = serde_urlencoded::from_str(&text).map_err(|e| ApiError::bad_request(e.to_string()))?;
        if !["assign", "escalate", "status", "note"].contains(&act.action.as_str()) {
            return Err(ApiError::bad_request(format!("{:?} is not an action for several tickets", act.action)));
        }
        let back = queue_with(
            &serde_urlencoded::to_string(filters_of(form.get("filters").unwrap_or(""), false)).unwrap_or_default(),
        );
        Ok((numbers, command(&act, &viewer.user.name)?, back))
    })();
    let (numbers, command, back) = match prepared {
        Ok(p) => p,
        Err(e) => return error_page(Some(&chrome), viewer.t, e),
    };
    let mut outcomes = Vec::new();
    for (number, result) in
        service::tickets::act_on_each(&state.store, &state.config.desk, &viewer.user, &numbers, &command).await
    {
        outcomes.push(match result {
            Ok((_, effects)) => {
                effects.carry_out(&state).await;
                Outcome { number, done: true, message: viewer.t.get("bulk-done").to_owned() }
            }
            Err(e) => Outcome { number, done: false, message: ApiError::from(e).message().to_owned() },
        });
    }
    tracing::info!(user = %viewer.user.name, tickets = numbers.len(), "a bulk action from the console");
    render(StatusCode::OK, &BulkPage { chrome, t: viewer.t, outcomes, back })
}
