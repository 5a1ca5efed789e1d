//! Ticket workflow rules. The event log is the source of truth: a ticket's state is a fold of its events, the
//! `tickets` table only caches that fold for fast lists, and every statistic is computed from events.

use lifeline_shared::findings::Finding;
use lifeline_shared::wire::ThreadKind;
use serde::{Deserialize, Serialize};

use super::priority::{Level, Matrix, TicketType};
use super::sla::{Alert, ClockKind};

#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    New,
    Open,
    /// Waiting for the requester's answer.
    PendingUser,
    /// Waiting for somebody outside the help desk: a supplier, a repair.
    PendingThirdParty,
    /// Put aside until a date, when it opens again by itself.
    PendingUntil,
    Resolved,
    Closed,
    /// Folded into another ticket, which carries on; read-only from then on.
    Merged,
}

impl Status {
    pub const ALL: [Status; 8] = [
        Status::New,
        Status::Open,
        Status::PendingUser,
        Status::PendingThirdParty,
        Status::PendingUntil,
        Status::Resolved,
        Status::Closed,
        Status::Merged,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::New => "new",
            Status::Open => "open",
            Status::PendingUser => "pending-user",
            Status::PendingThirdParty => "pending-third-party",
            Status::PendingUntil => "pending-until",
            Status::Resolved => "resolved",
            Status::Closed => "closed",
            Status::Merged => "merged",
        }
    }

    /// Waiting on somebody or something else: the SLA clocks stop.
    pub fn is_pending(self) -> bool {
        matches!(self, Status::PendingUser | Status::PendingThirdParty | Status::PendingUntil)
    }

    pub fn parse(s: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// Closed is final so that statistics over closed tickets never change; a resolved ticket may still reopen.
    /// Merged is reached only by a merge, never by a status change.
    fn may_become(self, to: Status) -> bool {
        use Status::*;
        let pending = to.is_pending();
        match self {
            New => pending || matches!(to, Open | Resolved),
            Open => pending || to == Resolved,
            PendingUser | PendingThirdParty | PendingUntil => pending || matches!(to, Open | Resolved),
            Resolved => matches!(to, Open | Closed),
            Closed | Merged => false,
        }
    }
}

#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Channel {
    Agent,
    Phone,
    Email,
    Chat,
    OnSite,
    Web,
}

impl Channel {
    pub const ALL: [Channel; 6] =
        [Channel::Agent, Channel::Phone, Channel::Email, Channel::Chat, Channel::OnSite, Channel::Web];

    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Agent => "agent",
            Channel::Phone => "phone",
            Channel::Email => "email",
            Channel::Chat => "chat",
            Channel::OnSite => "on-site",
            Channel::Web => "web",
        }
    }

    pub fn parse(s: &str) -> Option<Channel> {
        Channel::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// Fields added to an event after its first format: left out when they hold their default, so a stored event of the
/// first format encodes back to the very same text.
fn is_default<T: Default + PartialEq>(value: &T) -> bool {
    *value == T::default()
}

/// One appended fact about a ticket.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Event {
    Created {
        subject: String,
        description: String,
        channel: Channel,
        /// The requester's name as given; `person` is their record when they have one.
        requester: String,
        agent_id: Option<String>,
        category: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        person: Option<i64>,
        #[serde(default, skip_serializing_if = "is_default")]
        urgency: Level,
        #[serde(default, skip_serializing_if = "is_default")]
        impact: Level,
        #[serde(default, skip_serializing_if = "is_default")]
        priority: Level,
        #[serde(default, rename = "type", skip_serializing_if = "is_default")]
        ticket_type: TicketType,
    },
    SnapshotAttached {
        agent_id: String,
        snapshot_id: String,
        findings: Vec<Finding>,
    },
    PublicReply {
        body: String,
    },
    /// The requester's own answer, from their machine; never counts as a response from the help desk.
    RequesterReply {
        body: String,
    },
    InternalNote {
        body: String,
    },
    StatusChanged {
        from: Status,
        to: Status,
        reason: Option<String>,
        /// When a ticket pending until a date opens again.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        until: Option<i64>,
        /// How it was resolved, from the help desk's list; the statistics count by it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        code: Option<String>,
        /// Resolved while the requester was still on the line or at the desk, in the step that opened it.
        #[serde(default, skip_serializing_if = "is_default")]
        first_contact: bool,
    },
    Assigned {
        to: String,
    },
    Escalated {
        from_tier: u8,
        to_tier: u8,
        reason: Option<String>,
    },
    /// Urgency or impact given, with the priority the matrix made of them then; or a priority set by hand
    /// (`manual`), which stands until urgency or impact change again.
    Prioritized {
        urgency: Level,
        impact: Level,
        priority: Level,
        manual: bool,
        reason: Option<String>,
    },
    Categorized {
        category: String,
    },
    Retyped {
        #[serde(rename = "type")]
        ticket_type: TicketType,
    },
    /// The requester's machine, tied to a ticket opened by phone, mail or chat: a fresh snapshot is asked of it.
    Linked {
        agent_id: String,
    },
    Unlinked {
        agent_id: String,
    },
    /// This ticket was folded into `into`, where its conversation carries on; it is read-only from now on.
    MergedInto {
        into: i64,
    },
    /// Ticket `from` was folded into this one: its conversation, snapshots and check runs show here.
    Absorbed {
        from: i64,
    },
    /// Another ticket about the same thing (one outage, many calls); recorded on both.
    Related {
        other: i64,
    },
    /// An SLA clock's warning or breach, recorded once per run of the clock (`started_at` names the run); the
    /// server's, and what webhooks and escalations follow.
    SlaAlert {
        clock: ClockKind,
        started_at: i64,
        alert: Alert,
    },
    /// An approved check ended; the actor is the technician who asked for it.
    CheckRun {
        run: i64,
        check: String,
        state: String,
        elapsed_ms: Option<i64>,
        /// The output of a run that was done; the reason or error otherwise.
        result: String,
    },
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum RuleError {
    #[error("a ticket cannot go from {} to {}", from.as_str(), to.as_str())]
    Transition { from: Status, to: Status },
    #[error("ticket is already {}", .0.as_str())]
    SameStatus(Status),
    #[error("ticket is closed; open a new one instead")]
    Closed,
    #[error("escalation must raise the tier (now {from}, asked {to}); tiers are 1 to 3")]
    Tier { from: u8, to: u8 },
    #[error("the first event of a ticket must be its creation")]
    NotCreated,
    #[error("a ticket is created only once")]
    AlreadyCreated,
    #[error("{what} must be 1 to {max} bytes")]
    Length { what: &'static str, max: usize },
    #[error("{what} must be at most {max} bytes")]
    TooLong { what: &'static str, max: usize },
    /// The command was made against a state the ticket has left: somebody else acted meanwhile.
    #[error("{0}")]
    Stale(&'static str),
    #[error("ticket was merged into #{0}; work on #{0} instead")]
    Merged(i64),
    #[error("pending-until needs the date to wait for, in the future; other statuses take no date")]
    PendingDate,
    #[error("{0}")]
    Link(&'static str),
    #[error("the tickets are related already")]
    Related,
    #[error("a resolution code goes only with the status resolved")]
    CodeWithoutResolving,
}

impl RuleError {
    /// Whether the refusal says the ticket moved on under the person rather than that their command is wrong: the
    /// same command may have been right a moment ago (an API's 409, not 422). A transition the workflow never
    /// allows is the command's fault.
    pub fn is_conflict(&self) -> bool {
        matches!(self, RuleError::Stale(_) | RuleError::SameStatus(_) | RuleError::Closed | RuleError::Merged(_))
    }
}

/// The projection of a ticket's events; what lists show.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, utoipa::ToSchema)]
pub struct TicketState {
    pub subject: String,
    pub description: String,
    pub status: Status,
    pub channel: Channel,
    pub category: Option<String>,
    pub tier: u8,
    pub assignee: Option<String>,
    pub requester: String,
    pub person: Option<i64>,
    pub agent_id: Option<String>,
    pub urgency: Level,
    pub impact: Level,
    pub priority: Level,
    #[serde(rename = "type")]
    pub ticket_type: TicketType,
    /// Set when it was merged: the ticket its conversation carries on in.
    pub merged_into: Option<i64>,
    pub related: Vec<i64>,
    /// While pending until a date: the date.
    pub pending_until: Option<i64>,
    /// The code it was last resolved with.
    pub resolution: Option<String>,
    /// A machine was linked and its snapshot has not arrived yet: asked again whenever the agent connects.
    pub snapshot_wanted: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

pub use lifeline_shared::wire::{MAX_BODY, MAX_SUBJECT};

/// Names of people, technicians and categories.
pub const MAX_NAME: usize = 128;

impl TicketState {
    /// Folds a whole log; used to rebuild the cached columns and to prove they match.
    pub fn replay<'a>(events: impl IntoIterator<Item = (&'a Event, i64)>) -> Result<TicketState, RuleError> {
        let mut state: Option<TicketState> = None;
        for (event, at) in events {
            state = Some(TicketState::apply(state, event, at)?);
        }
        state.ok_or(RuleError::NotCreated)
    }

    /// Checks `event` against the rules and returns the state after it; the caller appends it only on `Ok`.
    pub fn apply(state: Option<TicketState>, event: &Event, at: i64) -> Result<TicketState, RuleError> {
        let mut s = match (state, event) {
            (
                None,
                Event::Created {
                    subject,
                    description,
                    channel,
                    requester,
                    agent_id,
                    category,
                    person,
                    urgency,
                    impact,
                    priority,
                    ticket_type,
                },
            ) => {
                validate_text(subject, MAX_SUBJECT, "a subject")?;
                validate_text(requester, MAX_NAME, "a requester's name")?;
                if description.len() > MAX_BODY {
                    return Err(RuleError::TooLong { what: "a description", max: MAX_BODY });
                }
                return Ok(TicketState {
                    subject: subject.trim().to_owned(),
                    description: description.clone(),
                    status: Status::New,
                    channel: *channel,
                    category: category.clone(),
                    tier: 1,
                    assignee: None,
                    requester: requester.clone(),
                    person: *person,
                    agent_id: agent_id.clone(),
                    urgency: *urgency,
                    impact: *impact,
                    priority: *priority,
                    ticket_type: *ticket_type,
                    merged_into: None,
                    related: Vec::new(),
                    pending_until: None,
                    resolution: None,
                    snapshot_wanted: false,
                    created_at: at,
                    updated_at: at,
                });
            }
            (None, _) => return Err(RuleError::NotCreated),
            (Some(_), Event::Created { .. }) => return Err(RuleError::AlreadyCreated),
            (Some(s), _) => s,
        };
        if let Some(into) = s.merged_into {
            return Err(RuleError::Merged(into));
        }
        if s.status == Status::Closed {
            return Err(RuleError::Closed);
        }
        match event {
            Event::Created { .. } => return Err(RuleError::AlreadyCreated),
            Event::SnapshotAttached { findings, agent_id, .. } => {
                if s.category.is_none() {
                    s.category = lifeline_shared::findings::suggested_category(findings).map(|c| c.as_str().to_owned());
                }
                if s.agent_id.as_deref() == Some(agent_id.as_str()) {
                    s.snapshot_wanted = false;
                }
            }
            Event::PublicReply { body } | Event::InternalNote { body } | Event::RequesterReply { body } => {
                validate_text(body, MAX_BODY, "a reply or note")?;
            }
            Event::StatusChanged { from, to, until, code, .. } => {
                if *from != s.status {
                    return Err(RuleError::Stale("the status changed meanwhile; reload the ticket"));
                }
                // Pending until another date is a new date, not the same status again.
                if *to == s.status && *to != Status::PendingUntil {
                    return Err(RuleError::SameStatus(s.status));
                }
                if *to != s.status && !s.status.may_become(*to) {
                    return Err(RuleError::Transition { from: s.status, to: *to });
                }
                let dated = match (to, until) {
                    (Status::PendingUntil, Some(u)) => *u > at,
                    (Status::PendingUntil, None) => false,
                    (_, until) => until.is_none(),
                };
                if !dated {
                    return Err(RuleError::PendingDate);
                }
                if code.is_some() && *to != Status::Resolved {
                    return Err(RuleError::CodeWithoutResolving);
                }
                s.status = *to;
                s.pending_until = *until;
                if *to == Status::Resolved {
                    s.resolution.clone_from(code);
                }
            }
            Event::Assigned { to } => {
                validate_text(to, MAX_NAME, "an assignee's user name")?;
                s.assignee = Some(to.clone());
            }
            Event::Escalated { from_tier, to_tier, .. } => {
                if *from_tier != s.tier {
                    return Err(RuleError::Stale("the tier changed meanwhile; reload the ticket"));
                }
                if *to_tier <= s.tier || *to_tier > 3 {
                    return Err(RuleError::Tier { from: s.tier, to: *to_tier });
                }
                s.tier = *to_tier;
            }
            Event::Prioritized { urgency, impact, priority, .. } => {
                (s.urgency, s.impact, s.priority) = (*urgency, *impact, *priority);
            }
            Event::Categorized { category } => {
                validate_text(category, MAX_NAME, "a category")?;
                s.category = Some(category.clone());
            }
            Event::Retyped { ticket_type } => s.ticket_type = *ticket_type,
            Event::Linked { agent_id } => {
                if s.agent_id.is_some() {
                    return Err(RuleError::Link("the ticket already has a machine; unlink it first"));
                }
                s.agent_id = Some(agent_id.clone());
                s.snapshot_wanted = true;
            }
            Event::Unlinked { agent_id } => {
                if s.agent_id.as_deref() != Some(agent_id.as_str()) {
                    return Err(RuleError::Link("the ticket has no such machine linked"));
                }
                s.agent_id = None;
                s.snapshot_wanted = false;
            }
            Event::MergedInto { into } => {
                s.merged_into = Some(*into);
                s.status = Status::Merged;
                s.pending_until = None;
            }
            Event::Absorbed { .. } => {}
            // A clock's notice changes nothing of the ticket, nor when it was last worked on.
            Event::SlaAlert { .. } => return Ok(s),
            Event::Related { other } => {
                if s.related.contains(other) {
                    return Err(RuleError::Related);
                }
                s.related.push(*other);
            }
            Event::CheckRun { .. } => {}
        }
        s.updated_at = at;
        Ok(s)
    }
}

/// What a technician asks to do to a ticket; [`Command::decide`] makes it the event to append. It is also what the
/// API takes, as `{"action": "status", "status": "resolved", ...}`: one type, so the two cannot drift.
#[derive(Deserialize, Debug, Clone, PartialEq, utoipa::ToSchema)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
pub enum Command {
    /// A public reply: its text, or the name of a canned reply to fill in.
    Reply {
        #[serde(default)]
        body: String,
        template: Option<String>,
    },
    Note {
        body: String,
    },
    Assign {
        to: String,
    },
    Status {
        #[serde(rename = "status")]
        to: Status,
        reason: Option<String>,
        /// For `pending-until`: when it opens again, Unix milliseconds.
        until: Option<i64>,
        /// For `resolved`: how, from the help desk's resolution codes.
        code: Option<String>,
    },
    Escalate {
        #[schema(maximum = 255)]
        tier: u8,
        reason: Option<String>,
    },
    /// Sets the priority by hand, over the matrix.
    Priority {
        priority: Level,
        reason: Option<String>,
    },
    Urgency {
        urgency: Level,
    },
    Impact {
        impact: Level,
    },
    Categorize {
        category: String,
    },
    Retype {
        #[serde(rename = "type")]
        ticket_type: TicketType,
    },
    Link {
        agent_id: String,
    },
    Unlink,
}

impl Command {
    /// The event this command appends to a ticket as it stands, the priority read from `matrix`;
    /// [`TicketState::apply`] then judges it.
    pub fn decide(self, current: &TicketState, matrix: &Matrix) -> Result<Event, RuleError> {
        let (urgency, impact) = (current.urgency, current.impact);
        let derived = |urgency, impact| Event::Prioritized {
            urgency,
            impact,
            priority: matrix.priority(urgency, impact),
            manual: false,
            reason: None,
        };
        Ok(match self {
            Command::Reply { body, .. } => Event::PublicReply { body },
            Command::Note { body } => Event::InternalNote { body },
            Command::Assign { to } => Event::Assigned { to },
            Command::Status { to, reason, until, code } => {
                Event::StatusChanged { from: current.status, to, reason, until, code, first_contact: false }
            }
            Command::Escalate { tier, reason } => Event::Escalated { from_tier: current.tier, to_tier: tier, reason },
            Command::Priority { priority, reason } => {
                Event::Prioritized { urgency, impact, priority, manual: true, reason }
            }
            Command::Urgency { urgency } => derived(urgency, impact),
            Command::Impact { impact } => derived(urgency, impact),
            Command::Categorize { category } => Event::Categorized { category },
            Command::Retype { ticket_type } => Event::Retyped { ticket_type },
            Command::Link { agent_id } => Event::Linked { agent_id },
            Command::Unlink => match &current.agent_id {
                Some(agent_id) => Event::Unlinked { agent_id: agent_id.clone() },
                None => return Err(RuleError::Link("the ticket has no machine linked")),
            },
        })
    }
}

impl Event {
    /// What the ticket's requester sees of this event, by `actor`: technicians' public replies, their own answers
    /// and status changes; never notes, assignments, escalations or check output.
    pub fn seen_by_requester(&self, actor: &str) -> Option<ThreadKind> {
        match self {
            Event::PublicReply { body } => Some(ThreadKind::Reply { author: actor.to_owned(), text: body.clone() }),
            Event::RequesterReply { body } => Some(ThreadKind::Answer { text: body.clone() }),
            Event::StatusChanged { to, .. } => Some(ThreadKind::Status { status: to.as_str().to_owned() }),
            _ => None,
        }
    }
}

fn validate_text(text: &str, max: usize, what: &'static str) -> Result<(), RuleError> {
    if text.trim().is_empty() || text.len() > max {
        return Err(RuleError::Length { what, max });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn created() -> Event {
        Event::Created {
            subject: "printer".into(),
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
        }
    }

    fn status(from: Status, to: Status) -> Event {
        Event::StatusChanged { from, to, reason: None, until: None, code: None, first_contact: false }
    }

    #[test]
    fn commands_become_events_against_the_ticket_as_it_stands() {
        let mut current = TicketState::replay([(&created(), 1)]).unwrap();
        current.tier = 2;
        let cases = [
            (Command::Reply { body: "hi".into(), template: None }, Event::PublicReply { body: "hi".into() }),
            (Command::Note { body: "n".into() }, Event::InternalNote { body: "n".into() }),
            (Command::Assign { to: "bob".into() }, Event::Assigned { to: "bob".into() }),
            (
                Command::Status { to: Status::Open, reason: None, until: None, code: None },
                status(Status::New, Status::Open),
            ),
            (
                Command::Escalate { tier: 3, reason: Some("disk".into()) },
                Event::Escalated { from_tier: 2, to_tier: 3, reason: Some("disk".into()) },
            ),
        ];
        for (command, event) in cases {
            assert_eq!(command.decide(&current, &Matrix::default()), Ok(event));
        }
    }

    #[test]
    fn the_requester_sees_replies_answers_and_statuses_only() {
        let cases = [
            (
                Event::PublicReply { body: "b".into() },
                Some(ThreadKind::Reply { author: "bob".into(), text: "b".into() }),
            ),
            (Event::RequesterReply { body: "a".into() }, Some(ThreadKind::Answer { text: "a".into() })),
            (status(Status::New, Status::Open), Some(ThreadKind::Status { status: "open".into() })),
            (Event::InternalNote { body: "secret".into() }, None),
            (Event::Assigned { to: "bob".into() }, None),
            (Event::Escalated { from_tier: 1, to_tier: 2, reason: None }, None),
            (created(), None),
        ];
        for (event, seen) in cases {
            assert_eq!(event.seen_by_requester("bob"), seen, "{event:?}");
        }
    }

    #[test]
    fn transitions() {
        use Status::*;
        // (from, to, allowed)
        let cases = [
            (New, Open, true),
            (New, PendingUser, true),
            (New, Resolved, true),
            (New, Closed, false),
            (Open, PendingUser, true),
            (Open, New, false),
            (PendingUser, Open, true),
            (PendingUser, Closed, false),
            (Resolved, Open, true),
            (Resolved, Closed, true),
            (Closed, Open, false),
            (Closed, Resolved, false),
            (Open, PendingThirdParty, true),
            (PendingUser, PendingUntil, true),
            (PendingUntil, Open, true),
            (PendingThirdParty, Closed, false),
            (Resolved, PendingUser, false),
            (Open, Merged, false),
            (Merged, Open, false),
        ];
        for (from, to, allowed) in cases {
            assert_eq!(from.may_become(to), allowed, "{from:?} -> {to:?}");
        }
    }

    #[test]
    fn replay_folds_the_log() {
        let log = [
            (created(), 10),
            (status(Status::New, Status::Open), 20),
            (Event::Assigned { to: "bob".into() }, 30),
            (Event::Escalated { from_tier: 1, to_tier: 3, reason: None }, 40),
            (status(Status::Open, Status::Resolved), 50),
        ];
        let s = TicketState::replay(log.iter().map(|(e, at)| (e, *at))).unwrap();
        assert_eq!(s.status, Status::Resolved);
        assert_eq!(s.assignee.as_deref(), Some("bob"));
        assert_eq!(s.tier, 3);
        assert_eq!((s.created_at, s.updated_at), (10, 50));
    }

    #[test]
    fn refusals() {
        let new = TicketState::apply(None, &created(), 1).unwrap();
        let closed = TicketState { status: Status::Closed, ..new.clone() };
        let cases: Vec<(Option<TicketState>, Event, RuleError)> = vec![
            (None, Event::PublicReply { body: "hi".into() }, RuleError::NotCreated),
            (Some(new.clone()), created(), RuleError::AlreadyCreated),
            (Some(new.clone()), status(Status::New, Status::New), RuleError::SameStatus(Status::New)),
            (
                Some(new.clone()),
                status(Status::New, Status::Closed),
                RuleError::Transition { from: Status::New, to: Status::Closed },
            ),
            (
                Some(new.clone()),
                Event::Escalated { from_tier: 1, to_tier: 1, reason: None },
                RuleError::Tier { from: 1, to: 1 },
            ),
            (
                Some(new.clone()),
                Event::Escalated { from_tier: 1, to_tier: 4, reason: None },
                RuleError::Tier { from: 1, to: 4 },
            ),
            (
                Some(new.clone()),
                Event::InternalNote { body: "  ".into() },
                RuleError::Length { what: "a reply or note", max: MAX_BODY },
            ),
            (Some(closed), Event::PublicReply { body: "hi".into() }, RuleError::Closed),
            (
                Some(new.clone()),
                status(Status::Open, Status::Resolved),
                RuleError::Stale("the status changed meanwhile; reload the ticket"),
            ),
            (
                Some(new.clone()),
                Event::Escalated { from_tier: 2, to_tier: 3, reason: None },
                RuleError::Stale("the tier changed meanwhile; reload the ticket"),
            ),
        ];
        for (state, event, expected) in cases {
            assert_eq!(TicketState::apply(state, &event, 2), Err(expected), "{event:?}");
        }
    }

    #[test]
    fn a_conflict_is_a_ticket_that_moved_on_and_the_rest_are_the_commands_fault() {
        let cases = [
            (RuleError::Stale("the status changed meanwhile; reload the ticket"), true),
            (RuleError::SameStatus(Status::Resolved), true),
            (RuleError::Closed, true),
            (RuleError::Transition { from: Status::Open, to: Status::Closed }, false),
            (RuleError::Tier { from: 1, to: 1 }, false),
            (RuleError::Length { what: "a subject", max: MAX_SUBJECT }, false),
            (RuleError::NotCreated, false),
            (RuleError::AlreadyCreated, false),
        ];
        for (error, conflict) in cases {
            assert_eq!(error.is_conflict(), conflict, "{error:?}");
        }
    }

    #[test]
    fn status_names_round_trip() {
        for st in Status::ALL {
            assert_eq!(Status::parse(st.as_str()), Some(st));
        }
        assert_eq!(Status::parse("pending"), None);
    }

    #[test]
    fn pending_until_a_date_merges_links_and_priorities() {
        let new = TicketState::apply(None, &created(), 1).unwrap();
        let until = |to, until| Event::StatusChanged {
            from: Status::New,
            to,
            reason: None,
            until,
            code: None,
            first_contact: false,
        };
        assert_eq!(
            TicketState::apply(Some(new.clone()), &until(Status::PendingUntil, None), 5),
            Err(RuleError::PendingDate)
        );
        assert_eq!(
            TicketState::apply(Some(new.clone()), &until(Status::PendingUntil, Some(5)), 5),
            Err(RuleError::PendingDate)
        );
        assert_eq!(
            TicketState::apply(Some(new.clone()), &until(Status::Open, Some(9)), 5),
            Err(RuleError::PendingDate)
        );
        let waiting = TicketState::apply(Some(new.clone()), &until(Status::PendingUntil, Some(9)), 5).unwrap();
        assert_eq!((waiting.status, waiting.pending_until), (Status::PendingUntil, Some(9)));

        let related = TicketState::apply(Some(new.clone()), &Event::Related { other: 3 }, 2).unwrap();
        assert_eq!(TicketState::apply(Some(related), &Event::Related { other: 3 }, 3), Err(RuleError::Related));
        let coded = Event::StatusChanged {
            from: Status::New,
            to: Status::Open,
            reason: None,
            until: None,
            code: Some("fixed-remotely".into()),
            first_contact: false,
        };
        assert_eq!(TicketState::apply(Some(new.clone()), &coded, 2), Err(RuleError::CodeWithoutResolving));

        let merged = TicketState::apply(Some(new.clone()), &Event::MergedInto { into: 7 }, 2).unwrap();
        assert_eq!((merged.status, merged.merged_into), (Status::Merged, Some(7)));
        let late = TicketState::apply(Some(merged), &Event::PublicReply { body: "hi".into() }, 3);
        assert_eq!(late, Err(RuleError::Merged(7)));
        assert!(RuleError::Merged(7).is_conflict());

        // `created()` is from a machine: it has one already.
        let linked_twice = TicketState::apply(Some(new.clone()), &Event::Linked { agent_id: "a2".into() }, 2);
        assert!(matches!(linked_twice, Err(RuleError::Link(_))));
        let unlinked = TicketState::apply(Some(new.clone()), &Event::Unlinked { agent_id: "a1".into() }, 2).unwrap();
        assert_eq!(unlinked.agent_id, None);
        let linked = TicketState::apply(Some(unlinked), &Event::Linked { agent_id: "a2".into() }, 3).unwrap();
        assert_eq!((linked.agent_id.as_deref(), linked.snapshot_wanted), (Some("a2"), true));
        let snap = Event::SnapshotAttached { agent_id: "a2".into(), snapshot_id: "s".into(), findings: Vec::new() };
        assert!(!TicketState::apply(Some(linked), &snap, 4).unwrap().snapshot_wanted, "the snapshot came");

        let m = Matrix::default();
        let urgent = Command::Urgency { urgency: Level::Critical }.decide(&new, &m).unwrap();
        assert_eq!(
            urgent,
            Event::Prioritized {
                urgency: Level::Critical,
                impact: Level::Medium,
                priority: Level::High,
                manual: false,
                reason: None
            }
        );
        let by_hand = Command::Priority { priority: Level::Low, reason: Some("VIP asked to wait".into()) };
        let state = TicketState::apply(Some(new.clone()), &by_hand.decide(&new, &m).unwrap(), 2).unwrap();
        assert_eq!((state.urgency, state.priority), (Level::Medium, Level::Low));
        assert!(matches!(Command::Unlink.decide(&TicketState { agent_id: None, ..new }, &m), Err(RuleError::Link(_))));
    }
}
