//! Tickets as an append-only event log with a cached projection. Every append re-checks the workflow rules against
//! the current state inside the writer's transaction, so two technicians racing cannot both win.

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use lifeline_shared::wire::{MAX_THREAD_ENTRIES, SelfHelpReport, ThreadEntry, ThreadKind, TicketSummary, TicketThread};

use super::{Read, StoreError, Tx};
use crate::desk::actor::{Actor, ActorKind};
use crate::desk::priority::{Level, TicketType};
use crate::desk::stats::Facts;
use crate::desk::tickets::{Channel, Event, Status, TicketState};
use crate::desk::webhooks::{self, Topic};
use crate::metrics::TicketTime;

#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct Ticket {
    pub number: i64,
    /// How many events its log holds: what a person saw, given back with a command, tells whether it changed since.
    pub version: i64,
    #[serde(flatten)]
    pub state: TicketState,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct LoggedEvent {
    pub at: i64,
    #[serde(flatten)]
    pub actor: Actor,
    #[serde(flatten)]
    pub event: Event,
}

/// The format events are written in now: the JSON of [`Event`], tagged by `kind`.
const EVENT_FORMAT: i64 = 1;

/// The one way back from a stored event. A field added to an event later must come with a default, so that rows of
/// every earlier format still decode; the golden rows in the tests below hold each format to that.
pub fn decode_event(format: i64, json: &str) -> Result<Event, String> {
    match format {
        1 => serde_json::from_str(json).map_err(|e| e.to_string()),
        other => Err(format!("event format {other} is newer than this server; upgrade it")),
    }
}

fn encode_event(event: &Event) -> Result<String, StoreError> {
    serde_json::to_string(event).map_err(|e| StoreError::Internal(format!("cannot encode an event: {e}")))
}

fn actor_kind(name: &str) -> Result<ActorKind, StoreError> {
    ActorKind::parse(name).ok_or_else(|| StoreError::Corrupt(format!("unknown actor kind {name:?}")))
}

impl Read<'_> {
    pub fn ticket_events(&self, number: i64) -> Result<Vec<LoggedEvent>, StoreError> {
        let conn = self.conn;
        let mut stmt = conn.prepare_cached(
            "SELECT at, actor_kind, actor, format, event FROM ticket_events WHERE ticket = ?1 ORDER BY id",
        )?;
        let rows = stmt.query_map([number], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get(3)?, r.get::<_, String>(4)?))
        })?;
        rows.map(|row| {
            let (at, kind, name, format, json) = row?;
            let event = decode_event(format, &json)
                .map_err(|e| StoreError::Corrupt(format!("event of ticket {number}: {e}")))?;
            Ok(LoggedEvent { at, actor: Actor { kind: actor_kind(&kind)?, name }, event })
        })
        .collect()
    }

    /// The ticket rebuilt from its log, which is the truth; the cached columns only serve lists.
    pub fn ticket(&self, number: i64) -> Result<Ticket, StoreError> {
        fold(number, &self.ticket_events(number)?)
    }

    /// The ticket and the log it was folded from, read once: what a ticket's view needs.
    pub fn ticket_and_events(&self, number: i64) -> Result<(Ticket, Vec<LoggedEvent>), StoreError> {
        let log = self.ticket_events(number)?;
        Ok((fold(number, &log)?, log))
    }

    pub fn tickets(&self, q: &Query) -> Result<Page, StoreError> {
        use rusqlite::types::Value as V;
        let mut w = Where::default();
        match q.status {
            Some(status) => w.bind("status = $", V::Text(status.as_str().into())),
            None if q.numbers.is_none() => w.raw("status != 'merged'"),
            None => {}
        }
        if let Some(tier) = q.tier {
            w.bind("tier = $", V::Integer(tier.into()));
        }
        match &q.assignee {
            Some(Assignee::Nobody) => w.raw("assignee IS NULL"),
            Some(Assignee::User(name)) => w.bind("assignee = $", V::Text(name.clone())),
            None => {}
        }
        if let Some(category) = &q.category {
            w.bind("category = $", V::Text(category.clone()));
        }
        if let Some(priority) = q.priority {
            w.bind("priority = $", V::Text(priority.as_str().into()));
        }
        if let Some(channel) = q.channel {
            w.bind("channel = $", V::Text(channel.as_str().into()));
        }
        if let Some(person) = q.person {
            w.bind("person IN (SELECT id FROM people WHERE id = $ OR merged_into = $)", V::Integer(person));
        }
        if let Some(name) = &q.requester {
            w.bind("requester = $ COLLATE NOCASE", V::Text(name.clone()));
        }
        if let Some(machine) = &q.machine {
            w.bind(
                "agent_id IN (SELECT id FROM agents WHERE id = $ OR hostname = $ COLLATE NOCASE)",
                V::Text(machine.clone()),
            );
        }
        if let Some(before) = q.opened_before {
            w.bind("created_at < $", V::Integer(before));
        }
        match q.sla {
            Some(SlaFilter::Breached) => w.raw("sla_breached = 1"),
            Some(SlaFilter::DueBefore(at)) => w.bind("sla_breached = 0 AND sla_due_at <= $", V::Integer(at)),
            None => {}
        }
        if let Some(words) = q.text.as_deref().and_then(fts_words) {
            w.bind("number IN (SELECT rowid FROM ticket_search WHERE ticket_search MATCH $)", V::Text(words));
        }
        if let Some(numbers) = &q.numbers {
            // One parameter for the whole list, as a JSON array: one statement for any number of them.
            let list = numbers.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
            w.bind("number IN (SELECT value FROM json_each($))", V::Text(format!("[{list}]")));
        }
        let key = match q.sort {
            Sort::Updated => "updated_at",
            Sort::Created => "created_at",
            Sort::Priority => "priority_rank",
        };
        if let Some(after) = q.after {
            w.values.extend([V::Integer(after.key), V::Integer(after.number)]);
            let (k, n) = (w.values.len() - 1, w.values.len());
            w.raw(&format!("({key} < ?{k} OR ({key} = ?{k} AND number < ?{n}))"));
        }
        let limit = q.limit.clamp(1, MAX_PAGE);
        let sql = format!(
            "SELECT {LIST_COLUMNS}, {key} FROM tickets WHERE {} ORDER BY {key} DESC, number DESC LIMIT {}",
            w.clauses.join(" AND "),
            limit + 1
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows =
            stmt.query_map(rusqlite::params_from_iter(w.values), |r| Ok((listed_row(r)?, r.get::<_, i64>(17)?)))?;
        let mut tickets = Vec::new();
        let mut next = None;
        let mut last_key = 0;
        for row in rows {
            let (ticket, key) = row?;
            if tickets.len() == limit as usize {
                next = tickets.last().map(|t: &ListedTicket| Cursor { key: last_key, number: t.number });
                break;
            }
            last_key = key;
            tickets.push(ticket);
        }
        Ok(Page { tickets, next })
    }

    /// The ticket as its requester may see it: public replies, their own answers and status changes, the newest kept
    /// when the thread is long. `None` when no agent's user asked for it (a phone ticket, say).
    pub fn requester_thread(&self, number: i64) -> Result<Option<(String, TicketThread)>, StoreError> {
        let conn = self.conn;
        let ticket = self.ticket(number)?;
        let Some(agent_id) = ticket.state.agent_id.clone() else { return Ok(None) };
        let mut stmt = conn.prepare_cached(
            "SELECT id, at, actor, format, event FROM ticket_events WHERE ticket = ?1 ORDER BY id DESC",
        )?;
        let rows = stmt.query_map([number], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, r.get::<_, String>(2)?, r.get(3)?, r.get::<_, String>(4)?))
        })?;
        let (mut entries, mut text) = (Vec::new(), 0);
        for row in rows {
            let (id, at, actor, format, json): (i64, i64, String, i64, String) = row?;
            let event = decode_event(format, &json)
                .map_err(|e| StoreError::Corrupt(format!("event of ticket {number}: {e}")))?;
            let Some(kind) = event.seen_by_requester(&actor) else { continue };
            text += match &kind {
                ThreadKind::Reply { author, text } => author.len() + text.len(),
                ThreadKind::Answer { text } => text.len(),
                ThreadKind::Status { status } => status.len(),
            };
            if entries.len() == MAX_THREAD_ENTRIES || text > MAX_THREAD_TEXT {
                break;
            }
            let at_ms = u64::try_from(at).unwrap_or_default();
            entries.push(ThreadEntry { seq: u64::try_from(id).unwrap_or_default(), at_ms, kind });
        }
        entries.reverse();
        let summary = TicketSummary {
            number: u64::try_from(number).unwrap_or_default(),
            subject: ticket.state.subject,
            status: ticket.state.status.as_str().to_owned(),
            updated_at_ms: u64::try_from(ticket.state.updated_at).unwrap_or_default(),
        };
        Ok(Some((agent_id, TicketThread { summary, user: ticket.state.requester, entries })))
    }

    /// The threads an agent is sent when it connects: every ticket of its users that is not closed, and those closed
    /// in the last week, newest first, so that what changed while it was away reaches the user.
    pub fn threads_for_agent(&self, agent_id: &str, now: i64) -> Result<Vec<TicketThread>, StoreError> {
        let conn = self.conn;
        const RECENT_MS: i64 = 7 * 24 * 3600 * 1000;
        const MAX_TICKETS: i64 = 50;
        let mut stmt = conn.prepare_cached(
            "SELECT number FROM tickets WHERE agent_id = ?1 AND (status != 'closed' OR updated_at > ?2)
             ORDER BY number DESC LIMIT ?3",
        )?;
        let numbers = stmt.query_map(params![agent_id, now - RECENT_MS, MAX_TICKETS], |r| r.get::<_, i64>(0))?;
        let mut threads = Vec::new();
        for number in numbers {
            if let Some((_, thread)) = self.requester_thread(number?)? {
                threads.push(thread);
            }
        }
        Ok(threads)
    }

    /// How many tickets stand at each status, priority and tier: what `/metrics` shows.
    pub fn ticket_counts(&self) -> Result<Vec<(Status, String, u8, i64)>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT status, priority, tier, COUNT(*) FROM tickets GROUP BY status, priority, tier ORDER BY 1, 2, 3",
        )?;
        let rows = stmt.query_map([], |r| Ok((parsed(r, 0, Status::parse)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Tickets a machine was linked to whose snapshot has not arrived: asked again when the agent connects.
    pub fn tickets_wanting_snapshot(&self, agent_id: &str) -> Result<Vec<i64>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT number FROM tickets WHERE agent_id = ?1 AND snapshot_wanted = 1 ORDER BY number LIMIT 100",
        )?;
        Ok(stmt.query_map([agent_id], |r| r.get(0))?.collect::<Result<_, _>>()?)
    }

    /// Tickets pending until a date that has come.
    pub fn pending_until_due(&self, now: i64, limit: i64) -> Result<Vec<i64>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT number FROM tickets WHERE pending_until <= ?1 AND status = 'pending-until'
             ORDER BY pending_until LIMIT ?2",
        )?;
        Ok(stmt.query_map([now, limit], |r| r.get(0))?.collect::<Result<_, _>>()?)
    }

    /// Tickets with an SLA warning or breach that has come due.
    pub fn sla_alerts_due(&self, now: i64, limit: i64) -> Result<Vec<i64>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT number FROM tickets WHERE sla_alert_at <= ?1 ORDER BY sla_alert_at LIMIT ?2")?;
        Ok(stmt.query_map([now, limit], |r| r.get(0))?.collect::<Result<_, _>>()?)
    }

    pub fn self_help_figures(&self, since: i64) -> Result<SelfHelpFigures, StoreError> {
        let conn = self.conn;
        Ok(conn.query_row("SELECT COUNT(*), COALESCE(SUM(solved), 0) FROM self_help WHERE at >= ?1", [since], |r| {
            let (shown, solved): (i64, i64) = (r.get(0)?, r.get(1)?);
            Ok(SelfHelpFigures { shown, solved, asked_for_help: shown - solved })
        })?)
    }
}

impl Tx<'_> {
    /// Opens a ticket with its first events, each with who did it. With a `request_id`, a replay of the same request returns the existing
    /// ticket instead of opening a second one.
    pub fn open_ticket(
        &self,
        request: Option<(&str, &str)>,
        events: &[(Actor, Event)],
        now: i64,
    ) -> Result<(i64, bool), StoreError> {
        let conn = self.conn;
        if let Some((agent_id, request_id)) = request {
            let existing: Option<i64> = conn
                .query_row(
                    "SELECT number FROM tickets WHERE agent_id = ?1 AND request_id = ?2",
                    [agent_id, request_id],
                    |r| r.get(0),
                )
                .optional()?;
            if let Some(number) = existing {
                return Ok((number, false));
            }
        }
        let state = TicketState::replay(events.iter().map(|(_, e)| (e, now)))?;
        let number = project(conn, None, &state, request.map(|(_, r)| r))?;
        for (actor, event) in events {
            insert_event(conn, number, actor, event, now)?;
            self.wrote(super::Written::Event(event.clone()));
        }
        write_facts(conn, number, events.iter().map(|(actor, event)| (now, actor, event)))?;
        index_text(conn, number, events.iter().map(|(_, event)| event))?;
        for (actor, event) in events {
            self.announce(number, &state, actor, event, now)?;
        }
        Ok((number, true))
    }

    /// Appends one event after checking it against the rules, and updates the cached columns in the same transaction.
    /// With `expected`, the version of the ticket the person acted on, a ticket that got any event since is refused
    /// as changed meanwhile.
    pub fn append_event(
        &self,
        number: i64,
        expected: Option<i64>,
        actor: &Actor,
        event: &Event,
        now: i64,
    ) -> Result<Ticket, StoreError> {
        let conn = self.conn;
        let log = self.ticket_events(number)?;
        let current = fold(number, &log)?;
        if let Some(seen) = expected.filter(|seen| *seen != current.version) {
            return Err(StoreError::Conflict(format!(
                "ticket {number} changed meanwhile: you saw version {seen}, it is at {}; reload it",
                current.version
            )));
        }
        let opened_at = current.state.created_at;
        let next = TicketState::apply(Some(current.state), event, now)?;
        insert_event(conn, number, actor, event, now)?;
        self.wrote(super::Written::Event(event.clone()));
        let took = (now - opened_at) as f64 / 1000.0;
        match event {
            Event::PublicReply { .. } if !log.iter().any(|e| matches!(e.event, Event::PublicReply { .. })) => {
                self.wrote(super::Written::TicketTime(TicketTime::FirstResponse, next.priority, took));
            }
            Event::StatusChanged { to: Status::Resolved, .. } => {
                self.wrote(super::Written::TicketTime(TicketTime::Resolution, next.priority, took));
            }
            _ => {}
        }
        project(conn, Some(number), &next, None)?;
        let logged = log.iter().map(|e| (e.at, &e.actor, &e.event));
        write_facts(conn, number, logged.chain([(now, actor, event)]))?;
        if text_of(event).is_some() {
            index_text(conn, number, log.iter().map(|e| &e.event).chain([event]))?;
        }
        self.announce(number, &next, actor, event, now)?;
        Ok(Ticket { number, version: current.version + 1, state: next })
    }

    /// The webhook deliveries of a ticket event, in its transaction.
    fn announce(
        &self,
        number: i64,
        state: &TicketState,
        actor: &Actor,
        event: &Event,
        now: i64,
    ) -> Result<(), StoreError> {
        if let Some(topic) = Topic::of(event) {
            self.enqueue_webhooks(topic, || webhooks::ticket_data(number, state, actor, event), now)?;
        }
        Ok(())
    }

    /// The earliest deadline of the ticket's running SLA clocks and whether one has passed, for list filters, and
    /// when the SLA pass must look at it next.
    pub fn set_sla(
        &self,
        number: i64,
        due_at: Option<i64>,
        breached: bool,
        alert_at: Option<i64>,
    ) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "UPDATE tickets SET sla_due_at = ?2, sla_breached = ?3, sla_alert_at = ?4 WHERE number = ?1",
            )?
            .execute(params![number, due_at, breached, alert_at])?;
        Ok(())
    }

    /// A merge takes the merged ticket's check runs along, so they show and count under the one that carries on.
    pub fn move_check_runs(&self, from: i64, into: i64) -> Result<(), StoreError> {
        self.conn.execute("UPDATE check_runs SET ticket = ?2 WHERE ticket = ?1", [from, into])?;
        Ok(())
    }

    /// Records a requester's action by its id; false when that id was recorded before (a replay after a lost ack).
    pub fn first_requester_action(&self, agent_id: &str, id: &str, ticket: i64, now: i64) -> Result<bool, StoreError> {
        let conn = self.conn;
        let inserted = conn.execute(
            "INSERT OR IGNORE INTO requester_actions (agent_id, id, ticket, at) VALUES (?1, ?2, ?3, ?4)",
            params![agent_id, id, ticket, now],
        )?;
        Ok(inserted == 1)
    }

    pub fn record_self_help(&self, agent_id: &str, report: &SelfHelpReport) -> Result<(), StoreError> {
        let conn = self.conn;
        let shown = serde_json::to_string(&report.shown).map_err(|e| StoreError::Refused(format!("findings: {e}")))?;
        conn.execute(
            "INSERT OR IGNORE INTO self_help (agent_id, id, user, at, shown, solved) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                agent_id,
                hex::encode(report.id),
                report.user,
                i64::try_from(report.at_ms).unwrap_or(i64::MAX),
                shown,
                report.solved
            ],
        )?;
        Ok(())
    }
}
fn fold(number: i64, log: &[LoggedEvent]) -> Result<Ticket, StoreError> {
    if log.is_empty() {
        return Err(StoreError::NotFound(format!("ticket {number}")));
    }
    let state = TicketState::replay(log.iter().map(|e| (&e.event, e.at)))
        .map_err(|e| StoreError::Corrupt(format!("ticket {number}: {e}")))?;
    Ok(Ticket { number, version: i64::try_from(log.len()).unwrap_or(i64::MAX), state })
}

/// Rewrites the ticket's row of `ticket_facts` from its whole log.
fn write_facts<'a>(
    conn: &Connection,
    number: i64,
    log: impl IntoIterator<Item = (i64, &'a Actor, &'a Event)>,
) -> Result<(), StoreError> {
    let mut last_at = 0;
    let facts = Facts::fold(number, log.into_iter().inspect(|(at, _, _)| last_at = last_at.max(*at)))
        .ok_or_else(|| StoreError::Internal(format!("ticket {number} has no opening to fold")))?;
    conn.prepare_cached(
        "INSERT INTO ticket_facts (ticket, opened_at, last_at, unresolved, facts) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (ticket) DO UPDATE SET last_at = excluded.last_at, unresolved = excluded.unresolved,
             facts = excluded.facts",
    )?
    .execute(params![number, facts.opened_at, last_at, facts.unresolved(), facts.encode()])?;
    Ok(())
}

/// Fills `ticket_facts` for tickets written before it existed, a batch at a time; returns how many it filled.
pub(super) fn fill_facts(conn: &Connection, batch: i64) -> Result<usize, StoreError> {
    let numbers: Vec<i64> = conn
        .prepare("SELECT number FROM tickets WHERE number NOT IN (SELECT ticket FROM ticket_facts) LIMIT ?1")?
        .query_map([batch], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let read = Read { conn };
    for number in &numbers {
        let log = read.ticket_events(*number)?;
        write_facts(conn, *number, log.iter().map(|e| (e.at, &e.actor, &e.event)))?;
    }
    Ok(numbers.len())
}

/// The cached columns that lists filter and sort on, written from the fold here only: on opening (`number` is
/// `None` and the new number is returned) and after every append. The request id is kept from the opening.
fn project(
    conn: &Connection,
    number: Option<i64>,
    state: &TicketState,
    request_id: Option<&str>,
) -> Result<i64, StoreError> {
    conn.prepare_cached(
        "INSERT INTO tickets (number, subject, status, category, tier, assignee, channel, requester, agent_id,
                              request_id, created_at, updated_at, person, urgency, impact, priority, priority_rank,
                              ticket_type, merged_into, pending_until, snapshot_wanted)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21)
         ON CONFLICT (number) DO UPDATE SET subject = excluded.subject, status = excluded.status,
             category = excluded.category, tier = excluded.tier, assignee = excluded.assignee,
             agent_id = excluded.agent_id, updated_at = excluded.updated_at, person = excluded.person,
             urgency = excluded.urgency, impact = excluded.impact, priority = excluded.priority,
             priority_rank = excluded.priority_rank, ticket_type = excluded.ticket_type,
             merged_into = excluded.merged_into, pending_until = excluded.pending_until,
             snapshot_wanted = excluded.snapshot_wanted",
    )?
    .execute(params![
        number,
        state.subject,
        state.status.as_str(),
        state.category,
        state.tier,
        state.assignee,
        state.channel.as_str(),
        state.requester,
        state.agent_id,
        request_id,
        state.created_at,
        state.updated_at,
        state.person,
        state.urgency.as_str(),
        state.impact.as_str(),
        state.priority.as_str(),
        state.priority.rank(),
        state.ticket_type.as_str(),
        state.merged_into,
        state.pending_until,
        state.snapshot_wanted,
    ])?;
    Ok(number.unwrap_or_else(|| conn.last_insert_rowid()))
}

fn insert_event(conn: &Connection, number: i64, actor: &Actor, event: &Event, now: i64) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO ticket_events (ticket, at, actor_kind, actor, format, event) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![number, now, actor.kind.as_str(), actor.name, EVENT_FORMAT, encode_event(event)?])?;
    Ok(())
}

/// The words an event adds to its ticket's text: what `ticket list --text` searches.
fn text_of(event: &Event) -> Option<String> {
    match event {
        Event::Created { subject, description, .. } => Some(format!("{subject}\n{description}")),
        Event::PublicReply { body } | Event::InternalNote { body } | Event::RequesterReply { body } => {
            Some(body.clone())
        }
        _ => None,
    }
}

/// Rewrites the ticket's one document in the search index from all its texts. One document per ticket, its number
/// the row id: a search then finds ticket numbers without a lookup per matching text, which at 100,000 tickets was
/// two thirds of a search's time (BENCHMARKS.md).
fn index_text<'a>(
    conn: &Connection,
    number: i64,
    events: impl IntoIterator<Item = &'a Event>,
) -> Result<(), StoreError> {
    let texts: Vec<String> = events.into_iter().filter_map(text_of).collect();
    conn.prepare_cached("DELETE FROM ticket_search WHERE rowid = ?1")?.execute([number])?;
    conn.prepare_cached("INSERT INTO ticket_search (rowid, body) VALUES (?1, ?2)")?
        .execute(params![number, texts.join("\n")])?;
    Ok(())
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct ListedTicket {
    pub number: i64,
    pub subject: String,
    pub status: Status,
    pub category: Option<String>,
    pub tier: u8,
    pub assignee: Option<String>,
    pub requester: String,
    pub person: Option<i64>,
    pub agent_id: Option<String>,
    pub channel: Channel,
    pub priority: Level,
    pub ticket_type: TicketType,
    pub merged_into: Option<i64>,
    pub sla_due_at: Option<i64>,
    pub sla_breached: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

const LIST_COLUMNS: &str = "number, subject, status, category, tier, assignee, requester, person, agent_id, channel, \
                            priority, ticket_type, merged_into, sla_due_at, sla_breached, created_at, updated_at";

/// A cached column this build cannot read is the store's fault, reported, never shown as something else.
fn parsed<T>(r: &rusqlite::Row<'_>, i: usize, parse: fn(&str) -> Option<T>) -> rusqlite::Result<T> {
    let name: String = r.get(i)?;
    parse(&name).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, format!("value {name:?}").into())
    })
}

fn listed_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ListedTicket> {
    Ok(ListedTicket {
        number: r.get(0)?,
        subject: r.get(1)?,
        status: parsed(r, 2, Status::parse)?,
        category: r.get(3)?,
        tier: r.get(4)?,
        assignee: r.get(5)?,
        requester: r.get(6)?,
        person: r.get(7)?,
        agent_id: r.get(8)?,
        channel: parsed(r, 9, Channel::parse)?,
        priority: parsed(r, 10, Level::parse)?,
        ticket_type: parsed(r, 11, TicketType::parse)?,
        merged_into: r.get(12)?,
        sla_due_at: r.get(13)?,
        sla_breached: r.get(14)?,
        created_at: r.get(15)?,
        updated_at: r.get(16)?,
    })
}

/// Who a ticket is assigned to, as a list filter.
#[derive(Debug, Clone, PartialEq)]
pub enum Assignee {
    Nobody,
    User(String),
}

/// Where a ticket's SLA stands, as a list filter.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SlaFilter {
    Breached,
    /// A deadline falls before this instant and none has passed yet.
    DueBefore(i64),
}

#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Sort {
    /// Most recently changed first.
    #[default]
    Updated,
    /// Newest first.
    Created,
    /// Most urgent first, then newest.
    Priority,
}

/// Where the previous page ended: the sort key and number of its last row. Opaque to clients.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cursor {
    pub key: i64,
    pub number: i64,
}

impl Cursor {
    pub fn encode(self) -> String {
        format!("{}.{}", self.key, self.number)
    }

    pub fn parse(s: &str) -> Option<Cursor> {
        let (key, number) = s.split_once('.')?;
        Some(Cursor { key: key.parse().ok()?, number: number.parse().ok()? })
    }
}

/// A filtered, sorted page of the ticket list. Every filter is optional; merged tickets are left out unless asked
/// for by status or by number.
#[derive(Debug, Clone)]
pub struct Query {
    pub status: Option<Status>,
    pub tier: Option<u8>,
    pub assignee: Option<Assignee>,
    pub category: Option<String>,
    pub priority: Option<Level>,
    pub channel: Option<Channel>,
    /// A person on record, with everyone merged into them.
    pub person: Option<i64>,
    /// The requester's name as written on the ticket, in any case.
    pub requester: Option<String>,
    /// A machine by agent id or host name.
    pub machine: Option<String>,
    /// Opened before this instant.
    pub opened_before: Option<i64>,
    pub sla: Option<SlaFilter>,
    /// Words that must all appear in the ticket: its subject, description or conversation.
    pub text: Option<String>,
    /// Only the tickets of these numbers (the tickets behind a figure, say), merged ones too.
    pub numbers: Option<Vec<i64>>,
    pub sort: Sort,
    pub after: Option<Cursor>,
    pub limit: u32,
}

pub const MAX_PAGE: u32 = 500;

impl Default for Query {
    /// Every ticket but the merged ones, most recently changed first, a hundred to a page.
    fn default() -> Self {
        Query {
            status: None,
            tier: None,
            assignee: None,
            category: None,
            priority: None,
            channel: None,
            person: None,
            requester: None,
            machine: None,
            opened_before: None,
            sla: None,
            text: None,
            numbers: None,
            sort: Sort::Updated,
            after: None,
            limit: 100,
        }
    }
}

/// Each word of a person's search as a quoted FTS5 string, so no character of theirs is read as query syntax.
fn fts_words(text: &str) -> Option<String> {
    let words: Vec<String> = text.split_whitespace().map(|w| format!("\"{}\"", w.replace('"', "\"\""))).collect();
    (!words.is_empty()).then(|| words.join(" "))
}

/// A list query's conditions and the values bound to them, numbered as they are added.
#[derive(Default)]
struct Where {
    clauses: Vec<String>,
    values: Vec<rusqlite::types::Value>,
}

impl Where {
    /// Adds a condition in which every `$` stands for `value`.
    fn bind(&mut self, clause: &str, value: rusqlite::types::Value) {
        self.values.push(value);
        self.clauses.push(clause.replace('$', &format!("?{}", self.values.len())));
    }

    fn raw(&mut self, clause: &str) {
        self.clauses.push(clause.to_owned());
    }
}

/// A page of tickets and the cursor of the next, if there is one.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    pub tickets: Vec<ListedTicket>,
    pub next: Option<Cursor>,
}

/// Bounds the text of one thread so that it always fits in a frame, whatever the technicians wrote.
const MAX_THREAD_TEXT: usize = 256 * 1024;

/// How often self-help advice was shown since `since`, and how often it solved the problem without a request.
#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct SelfHelpFigures {
    pub shown: i64,
    pub solved: i64,
    pub asked_for_help: i64,
}

#[cfg(test)]
mod tests {
    /// Every event row of the last release's store (`fixtures/schema5.db`, format 1, one of each kind) decodes, and
    /// encodes back to the very same text: no field was renamed, dropped or made required since.
    #[test]
    fn stored_events_of_the_first_format_decode_and_encode_to_the_same_text() {
        // A copy: even a read-only open may leave SQLite's side files next to the database it opens.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("schema5.db");
        std::fs::copy(concat!(env!("CARGO_MANIFEST_DIR"), "/src/store/fixtures/schema5.db"), &path).unwrap();
        let conn = Connection::open_with_flags(&path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
        let mut stmt = conn.prepare("SELECT event FROM ticket_events ORDER BY id").unwrap();
        let rows: Vec<String> = stmt.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect();
        let mut kinds = std::collections::BTreeSet::new();
        for json in &rows {
            let event = decode_event(1, json).unwrap();
            assert_eq!(&encode_event(&event).unwrap(), json);
            kinds.insert(json.split('"').nth(3).unwrap_or_default().to_owned());
        }
        assert_eq!(kinds.len(), 9, "one row of each kind of event: {kinds:?}");
        assert!(decode_event(2, &rows[0]).unwrap_err().contains("newer than this server"));
    }

    use super::*;
    use crate::store::Store;

    fn created(subject: &str) -> Event {
        Event::Created {
            subject: subject.into(),
            description: String::new(),
            channel: Channel::Phone,
            requester: "ann".into(),
            agent_id: None,
            category: None,
            person: None,
            urgency: Default::default(),
            impact: Default::default(),
            priority: Default::default(),
            ticket_type: Default::default(),
        }
    }

    #[tokio::test]
    async fn the_requesters_thread_leaves_out_notes_and_fits_in_a_frame() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.db")).unwrap();
        let from_agent = Event::Created {
            subject: "vpn".into(),
            description: String::new(),
            channel: Channel::Agent,
            requester: "ann".into(),
            agent_id: Some("a1".into()),
            category: None,
            person: None,
            urgency: Default::default(),
            impact: Default::default(),
            priority: Default::default(),
            ticket_type: Default::default(),
        };
        let number = store
            .write(move |c| {
                c.insert_simulated_agents(&[("a1".to_owned(), "f".to_owned())], 0)?;
                Ok(c.open_ticket(None, &[(Actor::requester("ann"), from_agent)], 1)?.0)
            })
            .await
            .unwrap();
        store
            .write(move |c| {
                c.append_event(
                    number,
                    None,
                    &Actor::technician("bob"),
                    &Event::InternalNote { body: "secret".into() },
                    2,
                )?;
                for i in 0..40 {
                    c.append_event(
                        number,
                        None,
                        &Actor::technician("bob"),
                        &Event::PublicReply { body: format!("{i:02}{}", "x".repeat(19_000)) },
                        3,
                    )?;
                }
                Ok(())
            })
            .await
            .unwrap();
        let (agent, thread) = store.read(move |c| c.requester_thread(number)).await.unwrap().unwrap();
        assert_eq!((agent.as_str(), thread.user.as_str()), ("a1", "ann"));
        let texts: Vec<&str> = thread
            .entries
            .iter()
            .map(|e| match &e.kind {
                ThreadKind::Reply { text, .. } => text.as_str(),
                other => panic!("only replies were public: {other:?}"),
            })
            .collect();
        assert!(texts.len() < 40 && texts.last().unwrap().starts_with("39"), "the newest kept");
        assert!(thread.entries.windows(2).all(|w| w[0].seq < w[1].seq), "oldest first");
        let bytes =
            lifeline_shared::codec::encode(&lifeline_shared::wire::ServerControl::TicketChanged(thread)).unwrap();
        assert!(bytes.len() < lifeline_shared::codec::MAX_FRAME_LEN / 2, "{} bytes", bytes.len());
    }

    #[tokio::test]
    async fn cached_columns_match_the_replayed_log() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.db")).unwrap();
        let number = store
            .write(|c| Ok(c.open_ticket(None, &[(Actor::technician("bob"), created("vpn"))], 1)?.0))
            .await
            .unwrap();
        let steps = [
            Event::StatusChanged {
                from: Status::New,
                to: Status::Open,
                reason: None,
                until: None,
                code: None,
                first_contact: false,
            },
            Event::Escalated { from_tier: 1, to_tier: 2, reason: Some("needs network team".into()) },
            Event::Assigned { to: "carol".into() },
        ];
        for (i, e) in steps.into_iter().enumerate() {
            store
                .write(move |c| c.append_event(number, None, &Actor::technician("bob"), &e, 10 + i as i64))
                .await
                .unwrap();
        }
        let refused = store
            .write(move |c| {
                c.append_event(
                    number,
                    None,
                    &Actor::technician("bob"),
                    &Event::StatusChanged {
                        from: Status::Open,
                        to: Status::Closed,
                        reason: None,
                        until: None,
                        code: None,
                        first_contact: false,
                    },
                    20,
                )
            })
            .await;
        assert!(matches!(refused, Err(StoreError::Refused(_))), "{refused:?}");

        let (truth, listed) =
            store.read(move |c| Ok((c.ticket(number)?, c.tickets(&Query::default())?))).await.unwrap();
        assert_eq!(truth.state.status, Status::Open);
        assert_eq!(truth.state.tier, 2);
        let row = &listed.tickets[0];
        assert_eq!(
            (row.status.as_str(), row.tier, row.assignee.as_deref(), row.updated_at),
            (truth.state.status.as_str(), truth.state.tier, truth.state.assignee.as_deref(), truth.state.updated_at)
        );
        let events = store.read(move |c| c.ticket_events(number)).await.unwrap();
        assert_eq!(events.len(), 4, "the refused change left no event");
    }

    #[tokio::test]
    async fn the_list_filters_searches_sorts_and_pages_without_gaps_or_repeats() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.db")).unwrap();
        let bob = Actor::technician("bob");
        // 30 tickets: every third by e-mail, every fifth high priority, the last one merged.
        let numbers = store
            .write(move |c| {
                let mut numbers = Vec::new();
                for i in 0..30i64 {
                    let mut event = created(&format!("ticket {i} printer"));
                    if let Event::Created { channel, priority, description, .. } = &mut event {
                        *channel = if i % 3 == 0 { Channel::Email } else { Channel::Phone };
                        *priority = if i % 5 == 0 { Level::High } else { Level::Low };
                        *description = if i == 7 { "the toner is empty".into() } else { String::new() };
                    }
                    numbers.push(c.open_ticket(None, &[(bob.clone(), event)], 100 + i)?.0);
                }
                c.append_event(numbers[29], None, &bob, &Event::MergedInto { into: numbers[0] }, 200)?;
                c.append_event(numbers[4], None, &bob, &Event::Assigned { to: "carol".into() }, 300)?;
                Ok(numbers)
            })
            .await
            .unwrap();
        let run = |q: Query| {
            let store = store.clone();
            async move { store.read(move |c| c.tickets(&q)).await.unwrap() }
        };
        let all = run(Query::default()).await;
        assert_eq!(all.tickets.len(), 29, "the merged ticket is left out");
        assert_eq!(all.tickets[0].number, numbers[4], "the most recently changed first");
        let cases: Vec<(Query, usize)> = vec![
            (Query { channel: Some(Channel::Email), ..Query::default() }, 10),
            (Query { priority: Some(Level::High), ..Query::default() }, 6),
            (Query { channel: Some(Channel::Email), priority: Some(Level::High), ..Query::default() }, 2),
            (Query { assignee: Some(Assignee::User("carol".into())), ..Query::default() }, 1),
            (Query { assignee: Some(Assignee::Nobody), ..Query::default() }, 28),
            (Query { status: Some(Status::Merged), ..Query::default() }, 1),
            (Query { text: Some("toner".into()), ..Query::default() }, 1),
            (Query { text: Some("TONER empty".into()), ..Query::default() }, 1),
            (Query { text: Some("\"unbalanced OR (".into()), ..Query::default() }, 0),
            (Query { opened_before: Some(110), ..Query::default() }, 10),
        ];
        for (q, expected) in cases {
            assert_eq!(run(q.clone()).await.tickets.len(), expected, "{q:?}");
        }
        for sort in [Sort::Updated, Sort::Created, Sort::Priority] {
            let (mut seen, mut after) = (Vec::new(), None);
            for _ in 0..10 {
                let page = run(Query { sort, after, limit: 7, ..Query::default() }).await;
                seen.extend(page.tickets.iter().map(|t| t.number));
                after = page.next;
                if after.is_none() {
                    break;
                }
            }
            let mut unique = seen.clone();
            unique.sort_unstable();
            unique.dedup();
            assert_eq!((seen.len(), unique.len()), (29, 29), "{sort:?}: every ticket once");
        }
        let by_priority = run(Query { sort: Sort::Priority, limit: 5, ..Query::default() }).await;
        assert!(by_priority.tickets.iter().all(|t| t.priority == Level::High), "{by_priority:?}");
        assert_eq!(Cursor::parse("12.34"), Some(Cursor { key: 12, number: 34 }));
        assert_eq!(Cursor::parse("12;drop"), None);
    }
}
