//! Tickets: opened by a help request from a machine, worked by technicians, each change one appended event.

use lifeline_shared::diff::{self, Change};
use lifeline_shared::findings::Finding;
use lifeline_shared::wire::{HelpRequest, ServerControl, Snapshot};
use tracing::info;

use super::agents::judge;
use super::{Effects, Error};
use crate::desk::access::{Act, require};
use crate::desk::actor::Actor;
use crate::desk::policy::{Policy, Sla, valid_email};
use crate::desk::priority::{Level, TicketType};
use crate::desk::sla::{Clock, clocks};
use crate::desk::templates::Template;
use crate::desk::tickets::{Channel, Command, Event, MAX_NAME, Status};
use crate::store::auth::User;
use crate::store::mail::{Attachment, AttachmentInfo};
use crate::store::people::Fields;
use crate::store::tickets::{LoggedEvent, Page, Query, Ticket};
use crate::store::{Read, Store, StoreError, Tx, now_ms};

/// A person asked for help from their own machine: the ticket opens with the snapshot and its findings. A replay of
/// the same request (a lost acknowledgement) finds the ticket it opened; `created` says which.
pub async fn open_help(
    store: &Store,
    sla: &Sla,
    agent_id: &str,
    help: HelpRequest,
) -> Result<(i64, bool, Effects), StoreError> {
    if help.user.is_empty() || help.user.len() > 64 {
        return Err(StoreError::Refused("the requesting user's name is missing or too long".into()));
    }
    let judged = judge(help.snapshot)?;
    let agent = agent_id.to_owned();
    let sla = sla.clone();
    let (number, created) = store
        .write(move |c| {
            let now = now_ms();
            let snapshot_id = c.insert_snapshot(&agent, &judged.row, now)?;
            let person = match c.person_of_account(&agent, &help.user)? {
                Some(person) => person,
                None => {
                    let id = c.add_person(&Fields { name: Some(help.user.clone()), ..Fields::default() }, now)?;
                    c.link_account(id, &agent, &help.user)?;
                    id
                }
            };
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
                        person: Some(person),
                        urgency: Level::default(),
                        impact: Level::default(),
                        priority: Level::default(),
                        ticket_type: TicketType::default(),
                    },
                ),
                (
                    Actor::agent(&agent),
                    Event::SnapshotAttached { agent_id: agent.clone(), snapshot_id, findings: judged.findings },
                ),
            ];
            let (number, created) = c.open_ticket(Some((&agent, &hex::encode(help.id))), &events, now)?;
            if created {
                super::sla::refresh(c, &sla, number, now)?;
            }
            Ok((number, created))
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

/// What a technician fills in to open a ticket for a call, a mail, a chat or a visit.
#[derive(serde::Deserialize, Debug, Clone, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTicket {
    pub channel: Channel,
    /// The requester's name; with `person`, the name on their record is used.
    #[serde(default)]
    pub requester: String,
    pub person: Option<i64>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub subject: String,
    #[serde(default)]
    pub description: String,
    pub urgency: Option<Level>,
    pub impact: Option<Level>,
    pub category: Option<String>,
    #[serde(default, rename = "type")]
    pub ticket_type: TicketType,
    /// The requester's machine: a fresh snapshot of it is asked for and attached.
    pub agent_id: Option<String>,
    /// Solved during the call or visit: resolved in the same step, with this resolution code.
    pub resolved: Option<String>,
}

/// Opens a ticket a technician took by phone, mail, chat or at the desk, for the person on record (found by id or
/// address, or recorded now). With a machine, its snapshot is asked for; solved on the spot, it is resolved at
/// first contact in the same transaction.
pub async fn create(store: &Store, policy: &Policy, user: &User, new: NewTicket) -> Result<(Ticket, Effects), Error> {
    require(user.role, Act::WorkTickets)?;
    if new.channel == Channel::Agent {
        return Err(refused(
            "a ticket from a machine is opened by its user's help request; choose phone, email, chat, on-site or web",
        ));
    }
    if let Some(email) = new.email.as_deref().filter(|e| !valid_email(e)) {
        return Err(refused(format!("{email:?} is not an e-mail address")));
    }
    if new.person.is_some() && (new.email.is_some() || new.phone.is_some()) {
        return Err(refused("give a person's id, or the requester's e-mail and phone for a record, not both"));
    }
    if new.person.is_none() && (new.requester.trim().is_empty() || new.requester.len() > MAX_NAME) {
        return Err(refused(format!("a requester's name (1 to {MAX_NAME} bytes) or a person's id is needed")));
    }
    // What may become a new person's record is held to what a person's record may hold.
    let fields = Fields {
        name: Some(new.requester.trim().to_owned()).filter(|n| !n.is_empty()),
        email: new.email.clone(),
        phone: new.phone.clone(),
        department: None,
    };
    super::people::check(&fields)?;
    if let Some(code) = &new.resolved {
        policy.check_resolution(Some(code)).map_err(refused)?;
    }
    let (urgency, impact) = (new.urgency.unwrap_or_default(), new.impact.unwrap_or_default());
    let priority = policy.matrix.priority(urgency, impact);
    let actor = Actor::technician(&user.name);
    let agent = new.agent_id.clone();
    let sla = policy.sla.clone();
    let ticket = store
        .write(move |c| {
            let now = now_ms();
            if let Some(category) = &new.category {
                offered_category(c, category)?;
            }
            if let Some(agent) = &new.agent_id {
                usable_agent(c, agent)?;
            }
            let (person, requester) = requester_of(c, &new, now)?;
            let mut events = vec![(
                actor.clone(),
                Event::Created {
                    subject: new.subject,
                    description: new.description,
                    channel: new.channel,
                    requester,
                    agent_id: None,
                    category: new.category,
                    person: Some(person),
                    urgency,
                    impact,
                    priority,
                    ticket_type: new.ticket_type,
                },
            )];
            if let Some(agent_id) = new.agent_id {
                events.push((actor.clone(), Event::Linked { agent_id }));
            }
            if let Some(code) = new.resolved {
                let resolved = Event::StatusChanged {
                    from: Status::New,
                    to: Status::Resolved,
                    reason: None,
                    until: None,
                    code: Some(code),
                    first_contact: true,
                };
                events.push((actor.clone(), resolved));
            }
            let (number, _) = c.open_ticket(None, &events, now)?;
            Ok(super::sla::refresh(c, &sla, number, now)?.1)
        })
        .await?;
    info!(ticket = ticket.number, by = %user.name, channel = ticket.state.channel.as_str(), "ticket opened");
    let mut effects = Effects::thread(ticket.number);
    if let Some(agent_id) = agent {
        effects.send.push((agent_id, snapshot_now(ticket.number)));
    }
    Ok((ticket, effects))
}

/// The person a new ticket is for: the one named by id; else the one with its e-mail address; else a new record.
fn requester_of(c: &Tx<'_>, new: &NewTicket, now: i64) -> Result<(i64, String), StoreError> {
    if let Some(id) = new.person {
        let person = c.person(id)?;
        let id = person.merged_into.unwrap_or(id);
        return Ok((id, c.person(id)?.name));
    }
    if let Some(id) = new.email.as_deref().map(|e| c.person_by_email(e)).transpose()?.flatten() {
        return Ok((id, new.requester.trim().to_owned()));
    }
    let fields = Fields {
        name: Some(new.requester.trim().to_owned()),
        email: new.email.clone(),
        phone: new.phone.clone(),
        department: None,
    };
    Ok((c.add_person(&fields, now)?, new.requester.trim().to_owned()))
}

fn offered_category(c: &Read<'_>, category: &str) -> Result<(), StoreError> {
    if !c.offered_category(category)? {
        return Err(StoreError::Refused(format!(
            "unknown category {category:?}; `lifeline-server category list` shows them"
        )));
    }
    Ok(())
}

fn usable_agent(c: &Read<'_>, agent_id: &str) -> Result<(), StoreError> {
    match c.agent(agent_id)? {
        None => Err(StoreError::Refused(format!("no agent {agent_id}"))),
        Some(a) if a.revoked_at.is_some() => Err(StoreError::Refused(format!("agent {agent_id} is revoked"))),
        Some(_) => Ok(()),
    }
}

fn snapshot_now(number: i64) -> ServerControl {
    ServerControl::SnapshotNow { ticket: u64::try_from(number).unwrap_or_default() }
}

fn refused(message: impl Into<String>) -> Error {
    Error::Store(StoreError::Refused(message.into()))
}

/// A technician's command on a ticket, judged against the ticket as it stands in the same transaction. The
/// requester's agent hears of what they may see: a public reply or a new status. With `seen`, the version of the
/// ticket the technician looked at, a public reply or status change is refused if the ticket got a public event
/// since, with the events they missed, unless they `force` it (which the audit log records).
pub async fn act(
    store: &Store,
    policy: &Policy,
    user: &User,
    number: i64,
    seen: Option<i64>,
    force: bool,
    command: Command,
) -> Result<(Ticket, Effects), Error> {
    require(user.role, Act::WorkTickets)?;
    if let Command::Status { to: Status::Resolved, code, .. } = &command {
        policy.check_resolution(code.as_deref()).map_err(refused)?;
    }
    let actor = Actor::technician(&user.name);
    let matrix = policy.matrix.clone();
    let sla = policy.sla.clone();
    let mail = policy.mail.clone();
    let outcome = store
        .write(move |c| {
            let now = now_ms();
            let command = match command {
                Command::Reply { body, template: Some(name) } if body.is_empty() => {
                    Command::Reply { body: fill_template(c, &name, number, &actor.name)?, template: None }
                }
                Command::Reply { template: Some(_), .. } => {
                    return Err(StoreError::Refused("give a reply's text or a template, not both".into()));
                }
                Command::Assign { to } if c.user_by_name(&to)?.is_none() => {
                    return Err(StoreError::Refused(format!("no user named {to:?}")));
                }
                Command::Categorize { category } => {
                    offered_category(c, &category)?;
                    Command::Categorize { category }
                }
                Command::Link { agent_id } => {
                    usable_agent(c, &agent_id)?;
                    Command::Link { agent_id }
                }
                other => other,
            };
            let (current, log) = c.ticket_and_events(number)?;
            let event = command.decide(&current.state, &matrix)?;
            let public = event.seen_by_requester(&actor.name).is_some();
            let seen_index = seen.map(|v| usize::try_from(v.max(0)).unwrap_or(usize::MAX));
            if let Some(from) = seen_index.filter(|v| *v < log.len()) {
                let missed: Vec<LoggedEvent> = log[from..]
                    .iter()
                    .filter(|e| e.event.seen_by_requester(&e.actor.name).is_some())
                    .cloned()
                    .collect();
                if public && !missed.is_empty() {
                    if !force {
                        return Ok(Outcome::Missed(missed));
                    }
                    c.audit(
                        &actor.name,
                        "ticket.forced-write",
                        &serde_json::json!({ "ticket": number, "missed": missed.len() }),
                        now,
                    )?;
                }
            }
            if let Event::Prioritized { manual: true, priority, .. } = &event {
                c.audit(
                    &actor.name,
                    "ticket.priority-override",
                    &serde_json::json!({ "ticket": number, "priority": priority.as_str() }),
                    now,
                )?;
            }
            if let Event::Categorized { category } = &event {
                c.audit(
                    &actor.name,
                    "ticket.category",
                    &serde_json::json!({ "ticket": number, "category": category }),
                    now,
                )?;
            }
            let linked = match &event {
                Event::Linked { agent_id } => Some(agent_id.clone()),
                _ => None,
            };
            let appended = c.append_event(number, None, &actor, &event, now)?;
            if let (Event::PublicReply { body }, Some(desk)) = (&event, &mail) {
                super::mail::queue_reply(c, desk, number, &appended.state, body)?;
            }
            let (_, ticket) = super::sla::refresh(c, &sla, number, now)?;
            Ok(Outcome::Done(Box::new(ticket), public, linked))
        })
        .await?;
    match outcome {
        Outcome::Missed(missed) => Err(Error::Missed(missed)),
        Outcome::Done(ticket, public, linked) => {
            info!(ticket = number, by = %user.name, "ticket updated");
            let mut effects = if public { Effects::thread(number) } else { Effects::default() };
            if let Some(agent_id) = linked {
                effects.send.push((agent_id, snapshot_now(number)));
            }
            Ok((*ticket, effects))
        }
    }
}

enum Outcome {
    Done(Box<Ticket>, bool, Option<String>),
    Missed(Vec<LoggedEvent>),
}

/// A canned reply filled in for this ticket.
fn fill_template(c: &Read<'_>, name: &str, number: i64, technician: &str) -> Result<String, StoreError> {
    let canned = c.canned_reply(name).map_err(|e| match e {
        StoreError::NotFound(what) => StoreError::Refused(format!("no {what}")),
        e => e,
    })?;
    let template =
        Template::parse(&canned.body).map_err(|e| StoreError::Corrupt(format!("canned reply {name:?}: {e}")))?;
    let ticket = c.ticket(number)?.state;
    let email = match ticket.person {
        Some(id) => c.person(id)?.email.unwrap_or_default(),
        None => String::new(),
    };
    let host = match &ticket.agent_id {
        Some(agent) => c.agent(agent)?.map(|a| a.hostname).unwrap_or_default(),
        None => String::new(),
    };
    let values = [
        ("requester.name", ticket.requester.clone()),
        ("requester.email", email),
        ("ticket.number", number.to_string()),
        ("ticket.subject", ticket.subject.clone()),
        ("machine.host", host),
        ("technician.name", technician.to_owned()),
        ("ticket.status", ticket.status.as_str().to_owned()),
    ]
    .into();
    Ok(template.render(&values))
}

/// Folds ticket `from` into `into`: `from` becomes read-only and points at `into`, whose view shows `from`'s
/// conversation and snapshots, and its check runs move along. A later reply of `from`'s requester lands in `into`.
/// The same command on several tickets, each in its own transaction as `act` makes it: one ticket refusing (closed,
/// merged, its tier) leaves the others done. In the order given, with each one's outcome.
pub async fn act_on_each(
    store: &Store,
    policy: &Policy,
    user: &User,
    numbers: &[i64],
    command: &Command,
) -> Vec<(i64, Result<(Ticket, Effects), Error>)> {
    let mut outcomes = Vec::with_capacity(numbers.len());
    for &number in numbers {
        outcomes.push((number, act(store, policy, user, number, None, false, command.clone()).await));
    }
    outcomes
}

pub async fn merge(store: &Store, sla: &Sla, user: &User, from: i64, into: i64) -> Result<(Ticket, Effects), Error> {
    require(user.role, Act::WorkTickets)?;
    if from == into {
        return Err(refused("a ticket cannot be merged into itself"));
    }
    let actor = Actor::technician(&user.name);
    let sla = sla.clone();
    let ticket = store
        .write(move |c| {
            let now = now_ms();
            let target = c.ticket(into)?.state;
            match (target.merged_into, target.status) {
                (Some(m), _) => {
                    return Err(StoreError::Refused(format!(
                        "ticket {into} was itself merged into {m}; merge into {m}"
                    )));
                }
                (None, Status::Closed) => {
                    return Err(StoreError::Refused(format!("ticket {into} is closed; merge into an open ticket")));
                }
                _ => {}
            }
            c.append_event(from, None, &actor, &Event::MergedInto { into }, now)?;
            c.append_event(into, None, &actor, &Event::Absorbed { from }, now)?;
            c.move_check_runs(from, into)?;
            super::sla::refresh(c, &sla, from, now)?;
            let (_, merged) = super::sla::refresh(c, &sla, into, now)?;
            c.audit(&actor.name, "ticket.merge", &serde_json::json!({ "from": from, "into": into }), now)?;
            Ok(merged)
        })
        .await?;
    info!(from, into, by = %user.name, "tickets merged");
    Ok((ticket, Effects { threads: vec![from, into], ..Effects::default() }))
}

/// Records that two tickets are about the same thing, on both.
pub async fn relate(store: &Store, user: &User, a: i64, b: i64) -> Result<Ticket, Error> {
    require(user.role, Act::WorkTickets)?;
    if a == b {
        return Err(refused("a ticket cannot be related to itself"));
    }
    let actor = Actor::technician(&user.name);
    let ticket = store
        .write(move |c| {
            let now = now_ms();
            c.ticket(b)?;
            let ticket = c.append_event(a, None, &actor, &Event::Related { other: b }, now)?;
            c.append_event(b, None, &actor, &Event::Related { other: a }, now)?;
            Ok(ticket)
        })
        .await?;
    Ok(ticket)
}

/// Asks the ticket's machine for a fresh snapshot, which is attached when it arrives (the agent spools it, so it
/// arrives even across a dropped connection). Returns the machine's agent.
pub async fn refresh(store: &Store, user: &User, number: i64) -> Result<(String, Effects), Error> {
    require(user.role, Act::WorkTickets)?;
    let ticket = store.read(move |c| c.ticket(number)).await?;
    let agent_id = ticket.state.agent_id.ok_or_else(|| StoreError::Refused(format!("ticket {number} has no agent")))?;
    info!(ticket = number, by = %user.name, "fresh snapshot requested");
    Ok((agent_id.clone(), Effects { send: vec![(agent_id, snapshot_now(number))], ..Effects::default() }))
}

/// A page of the ticket list.
pub async fn list(store: &Store, user: &User, query: Query) -> Result<Page, Error> {
    require(user.role, Act::Read)?;
    Ok(store.read(move |c| c.tickets(&query)).await?)
}

/// A ticket with its log and the latest snapshot attached to it, with the findings judged when that snapshot was
/// stored: a later change to the rules does not rewrite what the technician was shown. The log includes the events
/// of the tickets merged into it, each marked with the ticket it came from, in time order.
#[derive(Debug)]
pub struct Detail {
    pub ticket: Ticket,
    pub findings: Vec<Finding>,
    pub snapshot: Option<Snapshot>,
    pub events: Vec<(Option<i64>, LoggedEvent)>,
    /// Who else is looking at it or writing on it now.
    pub presence: Vec<crate::store::desk::Presence>,
    pub sla: Vec<Clock>,
    /// The files that came with its mail and with that of the tickets merged into it (marked with the ticket they
    /// came with), oldest first, without their bytes.
    pub attachments: Vec<(Option<i64>, AttachmentInfo)>,
}

/// A console says it is gone this long after its last heartbeat.
pub const PRESENCE_MS: i64 = 60_000;

pub async fn show(store: &Store, policy: &Policy, user: &User, number: i64) -> Result<Detail, Error> {
    require(user.role, Act::Read)?;
    let sla = policy.sla.clone();
    let detail = store
        .read(move |c| {
            let (ticket, own) = c.ticket_and_events(number)?;
            let mut events: Vec<(Option<i64>, LoggedEvent)> = Vec::new();
            let mut attachments: Vec<(Option<i64>, AttachmentInfo)> = Vec::new();
            // Tickets merged into this one, and those merged into them before, each once.
            let mut pending = vec![(None, number)];
            let mut own = Some(own);
            while let Some((origin, n)) = pending.pop() {
                let log = match own.take() {
                    Some(log) if n == number => log,
                    _ => c.ticket_events(n)?,
                };
                attachments.extend(c.attachments(n)?.into_iter().map(|a| (origin, a)));
                for e in log {
                    if let Event::Absorbed { from } = &e.event {
                        pending.push((Some(*from), *from));
                    }
                    events.push((origin, e));
                }
            }
            // Stable: each ticket's own order is kept among events of the same millisecond.
            events.sort_by_key(|(_, e)| e.at);
            let attached = events.iter().rev().find_map(|(_, e)| match &e.event {
                Event::SnapshotAttached { agent_id, snapshot_id, findings } => Some((agent_id, snapshot_id, findings)),
                _ => None,
            });
            let (snapshot, findings) = match attached {
                Some((agent, id, findings)) => (Some(c.snapshot(agent, id)?), findings.clone()),
                None => (None, Vec::new()),
            };
            let now = now_ms();
            let presence = c.presence(number, now - PRESENCE_MS)?;
            let own = events.iter().filter(|(from, _)| from.is_none()).map(|(_, e)| (e.at, &e.event));
            let (facts, _) = sla.read_log(own);
            let sla = clocks(&sla.calendar, &facts, now);
            // In the order they came, whichever ticket they came with.
            attachments.sort_by_key(|(_, a)| a.id);
            Ok(Detail { ticket, findings, snapshot, events, presence, sla, attachments })
        })
        .await?;
    Ok(detail)
}

/// One file that came with the ticket's mail, or with that of a ticket merged into it (the files its view lists),
/// with its bytes: for whoever may read the ticket. An id of another ticket's file is not found here.
pub async fn attachment(store: &Store, user: &User, number: i64, id: i64) -> Result<Attachment, Error> {
    require(user.role, Act::Read)?;
    let file = store
        .read(move |c| {
            let file = match c.attachment(id) {
                Err(StoreError::NotFound(_)) => None,
                found => Some(found?),
            };
            if let Some(file) = file {
                // Up the merges from the ticket it came with: one of them is this ticket, or it is another's.
                let mut on = file.ticket;
                for _ in 0..MAX_MERGES {
                    if on == number {
                        return Ok(file);
                    }
                    match c.ticket(on)?.state.merged_into {
                        Some(into) => on = into,
                        None => break,
                    }
                }
            }
            c.ticket(number)?;
            Err(StoreError::NotFound(format!("attachment {id} on ticket {number}")))
        })
        .await?;
    Ok(file)
}

/// The longest chain of merges followed from a file's ticket to the ticket it is asked for on; a chain is a merge
/// into a ticket later merged itself, a handful at most in practice.
const MAX_MERGES: usize = 64;

/// A technician's console says they are `viewing` or `drafting` on a ticket; returns who is on it now.
pub async fn mark_presence(
    store: &Store,
    user: &User,
    number: i64,
    state: &str,
) -> Result<Vec<crate::store::desk::Presence>, Error> {
    require(user.role, Act::Read)?;
    if !matches!(state, "viewing" | "drafting") {
        return Err(refused(format!("presence is \"viewing\" or \"drafting\", not {state:?}")));
    }
    let (name, state) = (user.name.clone(), state.to_owned());
    let now = now_ms();
    Ok(store
        .write(move |c| {
            c.ticket(number)?;
            c.mark_presence(number, &name, &state, now, now - PRESENCE_MS)?;
            c.presence(number, now - PRESENCE_MS)
        })
        .await?)
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
