//! The queue: the tickets the filters select, a page at a time, read through the same query and use case as
//! `GET /api/tickets`; the filter form takes the API's parameter names, so a queue's address is its API query too.

use askama::Template;
use axum::extract::{RawQuery, State as AxumState};
use axum::http::StatusCode;
use axum::response::Response;

use super::{AppState, Chrome, Texts, Viewer, error_page, render, when};
use crate::api::ListQuery;
use crate::api::error::ApiError;
use crate::desk::priority::Level;
use crate::desk::tickets::{Channel, Status};
use crate::service;
use crate::store::now_ms;

/// Rows on a page: a screenful, and cheap enough to render on every filter change.
const PAGE: u32 = 50;

/// The filters the form offers, in its order, with the API's names.
const FILTERS: [&str; 9] = ["status", "assignee", "tier", "priority", "channel", "category", "sla", "text", "sort"];

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
    statuses: Vec<&'static str>,
    priorities: Vec<&'static str>,
    channels: Vec<&'static str>,
    categories: Vec<String>,
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
}

pub async fn page(AxumState(state): AxumState<AppState>, viewer: Viewer, RawQuery(raw): RawQuery) -> Response {
    let chrome = viewer.chrome();
    // A form sends its empty fields too; they mean "any", as a missing parameter does in the API.
    let given: Vec<(String, String)> =
        serde_urlencoded::from_str::<Vec<(String, String)>>(raw.as_deref().unwrap_or(""))
            .unwrap_or_default()
            .into_iter()
            .filter(|(k, v)| !v.is_empty() && (FILTERS.contains(&k.as_str()) || k == "after"))
            .collect();
    let query = serde_urlencoded::to_string(&given)
        .map_err(|e| ApiError::bad_request(e.to_string()))
        .and_then(|q| serde_urlencoded::from_str::<ListQuery>(&q).map_err(|e| ApiError::bad_request(e.to_string())))
        .and_then(|q| q.resolve(&viewer.user, now_ms()));
    let mut query = match query {
        Ok(q) => q,
        Err(e) => return error_page(Some(&chrome), viewer.t, e),
    };
    query.limit = PAGE;
    let now = now_ms();
    let (page, categories) = match tokio::try_join!(
        service::tickets::list(&state.store, &viewer.user, query),
        service::desk::categories(&state.store, &viewer.user),
    ) {
        Ok(both) => both,
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
    let next = page.next.map(|cursor| {
        let mut params: Vec<(String, String)> = given.iter().filter(|(k, _)| k != "after").cloned().collect();
        params.push(("after".into(), cursor.encode()));
        format!("/queue?{}", serde_urlencoded::to_string(&params).unwrap_or_default())
    });
    let page = QueuePage {
        t: viewer.t,
        chrome,
        rows,
        given,
        statuses: Status::ALL.iter().map(|s| s.as_str()).collect(),
        priorities: Level::ALL.iter().map(|l| l.as_str()).collect(),
        channels: Channel::ALL.iter().map(|c| c.as_str()).collect(),
        categories: categories.into_iter().filter(|c| !c.retired).map(|c| c.name).collect(),
        next,
    };
    render(StatusCode::OK, &page)
}
