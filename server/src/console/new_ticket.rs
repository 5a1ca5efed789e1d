//! A ticket for a call, an e-mail, a chat or a visit: find the person on record (or give a new one's name and
//! address, recorded as the ticket opens), link their machine, and open it through the use case behind
//! `POST /api/tickets`; solved on the spot, it is resolved at first contact in the same step.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Query, State as AxumState};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::{AppState, Chrome, Fields, Texts, Viewer, error_page, render};
use crate::api::error::ApiError;
use crate::desk::priority::{Level, TicketType};
use crate::desk::tickets::Channel;
use crate::service;
use crate::service::tickets::NewTicket;
use crate::store::agents::Agent;
use crate::store::people::Person;

/// The channels a technician opens tickets for; an agent's come from the machine itself.
const CHANNELS: [Channel; 5] = [Channel::Phone, Channel::Email, Channel::Chat, Channel::OnSite, Channel::Web];

#[derive(Template)]
#[template(path = "new_ticket.html")]
struct NewTicketPage {
    chrome: Chrome,
    t: Texts,
    who: String,
    people: Vec<Person>,
    machines: Vec<Agent>,
    categories: Vec<String>,
    codes: Vec<String>,
    /// What was typed, kept across a refusal.
    typed: Vec<(String, String)>,
    problem: Option<String>,
}

impl NewTicketPage {
    fn typed(&self, name: &str) -> &str {
        self.typed.iter().find(|(k, _)| k == name).map_or("", |(_, v)| v.as_str())
    }

    fn picked(&self, name: &str, value: impl AsRef<str>) -> bool {
        self.typed(name) == value.as_ref()
    }

    fn channels(&self) -> Vec<&'static str> {
        CHANNELS.iter().map(|c| c.as_str()).collect()
    }

    fn levels(&self) -> Vec<&'static str> {
        Level::ALL.iter().map(|l| l.as_str()).collect()
    }
}

#[derive(Deserialize)]
pub struct Find {
    who: Option<String>,
}

async fn show(
    state: &AppState,
    viewer: &Viewer,
    who: String,
    typed: Vec<(String, String)>,
    problem: Option<(StatusCode, String)>,
) -> Response {
    let chrome = viewer.chrome();
    let search = Some(who.clone()).filter(|w| !w.trim().is_empty());
    let loaded = tokio::try_join!(
        async {
            match &search {
                Some(_) => service::people::list(&state.store, &viewer.user, search.clone()).await,
                None => Ok(Vec::new()),
            }
        },
        service::agents::list(&state.store, &viewer.user),
        service::desk::categories(&state.store, &viewer.user),
    );
    let (people, machines, categories) = match loaded {
        Ok(all) => all,
        Err(e) => return error_page(Some(&chrome), viewer.t, e),
    };
    let (status, problem) = problem.map_or((StatusCode::OK, None), |(s, p)| (s, Some(p)));
    let page = NewTicketPage {
        chrome,
        t: viewer.t,
        who,
        people,
        machines: machines.into_iter().filter(|a| a.revoked_at.is_none()).collect(),
        categories: categories.into_iter().filter(|c| !c.retired).map(|c| c.name).collect(),
        codes: state.config.desk.resolution_codes.clone(),
        typed,
        problem,
    };
    render(status, &page)
}

pub async fn page(AxumState(state): AxumState<AppState>, viewer: Viewer, Query(q): Query<Find>) -> Response {
    show(&state, &viewer, q.who.unwrap_or_default(), Vec::new(), None).await
}

fn ticket_of(form: &Fields) -> Result<NewTicket, ApiError> {
    let given = |name: &str| form.get(name).map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned);
    let level = |name: &str| match given(name) {
        Some(v) => Level::parse(&v).map(Some).ok_or_else(|| ApiError::bad_request(format!("unknown {name} {v:?}"))),
        None => Ok(None),
    };
    let channel = given("channel").unwrap_or_default();
    Ok(NewTicket {
        channel: CHANNELS
            .into_iter()
            .find(|c| c.as_str() == channel)
            .ok_or_else(|| ApiError::bad_request(format!("unknown channel {channel:?}")))?,
        requester: given("requester").unwrap_or_default(),
        person: match given("person") {
            Some(p) => Some(p.parse().map_err(|_| ApiError::bad_request("a person is chosen by their number"))?),
            None => None,
        },
        email: given("email"),
        phone: given("phone"),
        subject: given("subject").unwrap_or_default(),
        description: given("description").unwrap_or_default(),
        urgency: level("urgency")?,
        impact: level("impact")?,
        category: given("category"),
        ticket_type: if given("type").as_deref() == Some("request") {
            TicketType::Request
        } else {
            TicketType::Incident
        },
        agent_id: given("machine"),
        resolved: given("resolved"),
    })
}

pub async fn create(
    AxumState(state): AxumState<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = match viewer.read_form(&headers, &body) {
        Ok(f) => f,
        Err(e) => return error_page(Some(&viewer.chrome()), viewer.t, e),
    };
    let who = form.get("who").unwrap_or_default().to_owned();
    let opened = async {
        let new = ticket_of(&form)?;
        Ok::<_, ApiError>(service::tickets::create(&state.store, &state.config.desk, &viewer.user, new).await?)
    };
    match opened.await {
        Ok((ticket, effects)) => {
            effects.carry_out(&state).await;
            Redirect::to(&format!("/tickets/{}", ticket.number)).into_response()
        }
        Err(e) => {
            let kept = form.pairs().iter().filter(|(k, _)| k != "csrf").cloned().collect();
            show(&state, &viewer, who, kept, Some((e.status(), e.message().to_owned()))).await
        }
    }
}
