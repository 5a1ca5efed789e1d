//! Tickets as an append-only event log with a cached projection. Every append re-checks the workflow rules against
//! the current state inside the writer's transaction, so two technicians racing cannot both win.

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use lifeline_shared::wire::{MAX_THREAD_ENTRIES, SelfHelpReport, ThreadEntry, ThreadKind, TicketSummary, TicketThread};

use super::{Read, StoreError, Tx};
use crate::desk::actor::{Actor, ActorKind};
use crate::desk::tickets::{Channel, Event, Status, TicketState};

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
        let log = self.ticket_events(number)?;
        if log.is_empty() {
            return Err(StoreError::NotFound(format!("ticket {number}")));
        }
        let state = TicketState::replay(log.iter().map(|e| (&e.event, e.at)))
            .map_err(|e| StoreError::Corrupt(format!("ticket {number}: {e}")))?;
        Ok(Ticket { number, version: i64::try_from(log.len()).unwrap_or(i64::MAX), state })
    }

    pub fn tickets(&self, status: Option<Status>) -> Result<Vec<ListedTicket>, StoreError> {
        let conn = self.conn;
        let sql = format!(
            "SELECT {LIST_COLUMNS} FROM tickets WHERE ?1 IS NULL OR status = ?1 ORDER BY number DESC LIMIT 500"
        );
        let mut stmt = conn.prepare(&sql)?;
        let rows = stmt.query_map([status.map(Status::as_str)], listed_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
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
        let current = self.ticket(number)?;
        if let Some(seen) = expected.filter(|seen| *seen != current.version) {
            return Err(StoreError::Conflict(format!(
                "ticket {number} changed meanwhile: you saw version {seen}, it is at {}; reload it",
                current.version
            )));
        }
        let next = TicketState::apply(Some(current.state), event, now)?;
        insert_event(conn, number, actor, event, now)?;
        project(conn, Some(number), &next, None)?;
        Ok(Ticket { number, version: current.version + 1, state: next })
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
                              request_id, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
         ON CONFLICT (number) DO UPDATE SET subject = excluded.subject, status = excluded.status,
             category = excluded.category, tier = excluded.tier, assignee = excluded.assignee,
             updated_at = excluded.updated_at",
    )?
    .execute(params![
        number,
        state.subject,
        state.status.as_str(),
        state.category,
        state.tier,
        state.assignee,
        json_name(&state.channel)?,
        state.requester,
        state.agent_id,
        request_id,
        state.created_at,
        state.updated_at
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

#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct ListedTicket {
    pub number: i64,
    pub subject: String,
    pub status: Status,
    pub category: Option<String>,
    pub tier: u8,
    pub assignee: Option<String>,
    pub requester: String,
    pub agent_id: Option<String>,
    pub updated_at: i64,
}

const LIST_COLUMNS: &str = "number, subject, status, category, tier, assignee, requester, agent_id, updated_at";

fn listed_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ListedTicket> {
    Ok(ListedTicket {
        number: r.get(0)?,
        subject: r.get(1)?,
        status: {
            let name: String = r.get(2)?;
            // A cached column this build cannot read is the store's fault, reported, never shown as something else.
            Status::parse(&name).ok_or_else(|| {
                rusqlite::Error::FromSqlConversionFailure(
                    2,
                    rusqlite::types::Type::Text,
                    format!("status {name:?}").into(),
                )
            })?
        },
        category: r.get(3)?,
        tier: r.get(4)?,
        assignee: r.get(5)?,
        requester: r.get(6)?,
        agent_id: r.get(7)?,
        updated_at: r.get(8)?,
    })
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

fn json_name(channel: &Channel) -> Result<String, StoreError> {
    match serde_json::to_value(channel) {
        Ok(serde_json::Value::String(s)) => Ok(s),
        _ => Err(StoreError::Corrupt("channel has no name".into())),
    }
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
            Event::StatusChanged { from: Status::New, to: Status::Open, reason: None },
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
                    &Event::StatusChanged { from: Status::Open, to: Status::Closed, reason: None },
                    20,
                )
            })
            .await;
        assert!(matches!(refused, Err(StoreError::Refused(_))), "{refused:?}");

        let (truth, listed) = store.read(move |c| Ok((c.ticket(number)?, c.tickets(None)?))).await.unwrap();
        assert_eq!(truth.state.status, Status::Open);
        assert_eq!(truth.state.tier, 2);
        let row = &listed[0];
        assert_eq!(
            (row.status.as_str(), row.tier, row.assignee.as_deref(), row.updated_at),
            (truth.state.status.as_str(), truth.state.tier, truth.state.assignee.as_deref(), truth.state.updated_at)
        );
        let events = store.read(move |c| c.ticket_events(number)).await.unwrap();
        assert_eq!(events.len(), 4, "the refused change left no event");
    }
}
