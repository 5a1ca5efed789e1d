//! Tickets: opened by a help request from a machine, worked by technicians, each change one appended event.

use lifeline_shared::diff::{self, Change};
use lifeline_shared::findings::Finding;
use lifeline_shared::wire::{HelpRequest, ServerControl, Snapshot};
use tracing::info;

use super::agents::judge;
use super::{Effects, Error};
use crate::desk::access::{Act, require};
use crate::desk::actor::Actor;
use crate::desk::tickets::{Channel, Command, Event, Status};
use crate::store::auth::User;
use crate::store::tickets::{ListedTicket, LoggedEvent, Ticket};
use crate::store::{Store, StoreError, now_ms};

/// A person asked for help from their own machine: the ticket opens with the snapshot and its findings. A replay of
/// the same request (a lost acknowledgement) finds the ticket it opened; `created` says which.
pub async fn open_help(store: &Store, agent_id: &str, help: HelpRequest) -> Result<(i64, bool, Effects), StoreError> {
    if help.user.is_empty() || help.user.len() > 64 {
        return Err(StoreError::Refused("the requesting user's name is missing or too long".into()));
    }
    let judged = judge(help.snapshot)?;
    let agent = agent_id.to_owned();
    let (number, created) = store
        .write(move |c| {
            let now = now_ms();
            let snapshot_id = c.insert_snapshot(&agent, &judged.row, now)?;
            let events = [
                (
                    Actor::requester(&help.user),
                    Event::Created {
                        subject: help.subject,
                        description: help.description,
                        channel: Channel::Agent,
                        requester: help.user.clone(),
                        agent_id: Some(agent.clone()),
                        category: None,
                    },
                ),
                (
                    Actor::agent(&agent),
                    Event::SnapshotAttached { agent_id: agent.clone(), snapshot_id, findings: judged.findings },
                ),
            ];
            c.open_ticket(Some((&agent, &hex::encode(help.id))), &events, now)
        })
        .await?;
    if created {
        info!(ticket = number, "help request opened a ticket");
    }
    let effects = if created { Effects::thread(number) } else { Effects::default() };
    Ok((number, created, effects))
}

/// Stores a snapshot a technician asked for and attaches it to their ticket, once: a replay after a lost
/// acknowledgement finds it already attached.
pub async fn attach_snapshot(store: &Store, agent_id: &str, ticket: u64, snap: Snapshot) -> Result<(), StoreError> {
    let number = i64::try_from(ticket).map_err(|_| StoreError::Refused(format!("no ticket {ticket}")))?;
    let judged = judge(snap)?;
    let agent = agent_id.to_owned();
    store
        .write(move |c| {
            let state = match c.ticket(number) {
                Err(StoreError::NotFound(_)) => return Err(StoreError::Refused(format!("no ticket {ticket}"))),
                found => found?.state,
            };
            if state.agent_id.as_deref() != Some(agent.as_str()) {
                return Err(StoreError::Refused(format!("ticket {ticket} is not about this agent")));
            }
            let now = now_ms();
            let snapshot_id = c.insert_snapshot(&agent, &judged.row, now)?;
            let attached = c
                .ticket_events(number)?
                .iter()
                .any(|e| matches!(&e.event, Event::SnapshotAttached { snapshot_id: s, .. } if *s == snapshot_id));
            if !attached {
                let event = Event::SnapshotAttached { agent_id: agent.clone(), snapshot_id, findings: judged.findings };
                c.append_event(number, None, &Actor::agent(&agent), &event, now)?;
            }
            Ok(())
        })
        .await
}

/// A technician's command on a ticket, judged against the ticket as it stands in the same transaction. The
/// requester's agent hears of what they may see: a public reply or a new status. With `seen`, the version of the ticket
/// the technician acted on, a ticket that changed since is refused (409) rather than changed blind.
pub async fn act(
    store: &Store,
    user: &User,
    number: i64,
    seen: Option<i64>,
    command: Command,
) -> Result<(Ticket, Effects), Error> {
    require(user.role, Act::WorkTickets)?;
    let actor = Actor::technician(&user.name);
    let ticket = store
        .write(move |c| {
            if let Command::Assign { to } = &command
                && c.user_by_name(to)?.is_none()
            {
                return Err(StoreError::Refused(format!("no user named {to:?}")));
            }
            let event = command.decide(&c.ticket(number)?.state);
            let public = event.seen_by_requester(&actor.name).is_some();
            Ok((c.append_event(number, seen, &actor, &event, now_ms())?, public))
        })
        .await;
    let (ticket, public) = ticket?;
    info!(ticket = number, by = %user.name, "ticket updated");
    Ok((ticket, if public { Effects::thread(number) } else { Effects::default() }))
}

/// Asks the ticket's machine for a fresh snapshot, which is attached when it arrives (the agent spools it, so it
/// arrives even across a dropped connection). Returns the machine's agent.
pub async fn refresh(store: &Store, user: &User, number: i64) -> Result<(String, Effects), Error> {
    require(user.role, Act::WorkTickets)?;
    let ticket = store.read(move |c| c.ticket(number)).await?;
    let agent_id = ticket.state.agent_id.ok_or_else(|| StoreError::Refused(format!("ticket {number} has no agent")))?;
    let msg = ServerControl::SnapshotNow { ticket: u64::try_from(number).unwrap_or_default() };
    info!(ticket = number, by = %user.name, "fresh snapshot requested");
    Ok((agent_id.clone(), Effects { send: vec![(agent_id, msg)], ..Effects::default() }))
}

pub async fn list(store: &Store, user: &User, status: Option<Status>) -> Result<Vec<ListedTicket>, Error> {
    require(user.role, Act::Read)?;
    Ok(store.read(move |c| c.tickets(status)).await?)
}

/// A ticket with its log and the latest snapshot attached to it, with the findings judged when that snapshot was
/// stored: a later change to the rules does not rewrite what the technician was shown.
#[derive(Debug)]
pub struct Detail {
    pub ticket: Ticket,
    pub findings: Vec<Finding>,
    pub snapshot: Option<Snapshot>,
    pub events: Vec<LoggedEvent>,
}

pub async fn show(store: &Store, user: &User, number: i64) -> Result<Detail, Error> {
    require(user.role, Act::Read)?;
    let detail = store
        .read(move |c| {
            let ticket = c.ticket(number)?;
            let events = c.ticket_events(number)?;
            let attached = events.iter().rev().find_map(|e| match &e.event {
                Event::SnapshotAttached { agent_id, snapshot_id, findings } => Some((agent_id, snapshot_id, findings)),
                _ => None,
            });
            let (snapshot, findings) = match attached {
                Some((agent, id, findings)) => (Some(c.snapshot(agent, id)?), findings.clone()),
                None => (None, Vec::new()),
            };
            Ok(Detail { ticket, findings, snapshot, events })
        })
        .await?;
    Ok(detail)
}

/// Two snapshots of a ticket and what changed between them.
#[derive(Debug)]
pub struct Compared {
    pub from: Snapshot,
    pub to: Snapshot,
    pub changes: Vec<Change>,
}

/// Compares two snapshots attached to a ticket, by id; by default its first and its latest.
pub async fn diff(
    store: &Store,
    user: &User,
    number: i64,
    from: Option<String>,
    to: Option<String>,
) -> Result<Compared, Error> {
    require(user.role, Act::Read)?;
    let (from, to) = store
        .read(move |c| {
            let attached: Vec<(String, String)> = c
                .ticket_events(number)?
                .into_iter()
                .filter_map(|e| match e.event {
                    Event::SnapshotAttached { agent_id, snapshot_id, .. } => Some((agent_id, snapshot_id)),
                    _ => None,
                })
                .collect();
            let pick = |wanted: &Option<String>, default: Option<&(String, String)>| {
                let found = match wanted {
                    Some(id) => attached.iter().find(|(_, s)| s == id),
                    None => default,
                };
                let what = wanted.as_deref().unwrap_or("to compare");
                found.cloned().ok_or_else(|| StoreError::NotFound(format!("snapshot {what} on ticket {number}")))
            };
            let (a, b) = (pick(&from, attached.first())?, pick(&to, attached.last())?);
            if a == b {
                return Err(StoreError::Refused(format!(
                    "ticket {number} has one snapshot to compare; ask for a fresh one with `ticket refresh {number}`"
                )));
            }
            Ok((c.snapshot(&a.0, &a.1)?, c.snapshot(&b.0, &b.1)?))
        })
        .await?;
    let changes = diff::diff(&from, &to);
    Ok(Compared { from, to, changes })
}
