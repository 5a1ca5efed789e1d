//! Ticket workflow rules. The event log is the source of truth: a ticket's state is a fold of its events, the
//! `tickets` table only caches that fold for fast lists, and every statistic is computed from events.

use lifeline_shared::findings::Finding;
use lifeline_shared::wire::ThreadKind;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    New,
    Open,
    PendingUser,
    Resolved,
    Closed,
}

impl Status {
    pub const ALL: [Status; 5] = [Status::New, Status::Open, Status::PendingUser, Status::Resolved, Status::Closed];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::New => "new",
            Status::Open => "open",
            Status::PendingUser => "pending-user",
            Status::Resolved => "resolved",
            Status::Closed => "closed",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// Closed is final so that statistics over closed tickets never change; a resolved ticket may still reopen.
    fn may_become(self, to: Status) -> bool {
        use Status::*;
        matches!(
            (self, to),
            (New, Open | PendingUser | Resolved)
                | (Open, PendingUser | Resolved)
                | (PendingUser, Open | Resolved)
                | (Resolved, Open | Closed)
        )
    }
}

#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Channel {
    Agent,
    Phone,
    Email,
    Chat,
    OnSite,
    Web,
}

/// One appended fact about a ticket.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Event {
    Created {
        subject: String,
        description: String,
        channel: Channel,
        requester: String,
        agent_id: Option<String>,
        category: Option<String>,
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
    },
    Assigned {
        to: String,
    },
    Escalated {
        from_tier: u8,
        to_tier: u8,
        reason: Option<String>,
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
}

impl RuleError {
    /// Whether the refusal says the ticket moved on under the person rather than that their command is wrong: the
    /// same command may have been right a moment ago (an API's 409, not 422). A transition the workflow never
    /// allows is the command's fault.
    pub fn is_conflict(&self) -> bool {
        matches!(self, RuleError::Stale(_) | RuleError::SameStatus(_) | RuleError::Closed)
    }
}

/// The projection of a ticket's events; what lists show.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct TicketState {
    pub subject: String,
    pub description: String,
    pub status: Status,
    pub channel: Channel,
    pub category: Option<String>,
    pub tier: u8,
    pub assignee: Option<String>,
    pub requester: String,
    pub agent_id: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

pub use lifeline_shared::wire::{MAX_BODY, MAX_SUBJECT};

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
            (None, Event::Created { subject, description, channel, requester, agent_id, category }) => {
                validate_text(subject, MAX_SUBJECT, "a subject")?;
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
                    agent_id: agent_id.clone(),
                    created_at: at,
                    updated_at: at,
                });
            }
            (None, _) => return Err(RuleError::NotCreated),
            (Some(_), Event::Created { .. }) => return Err(RuleError::AlreadyCreated),
            (Some(s), _) => s,
        };
        if s.status == Status::Closed {
            return Err(RuleError::Closed);
        }
        match event {
            Event::Created { .. } => return Err(RuleError::AlreadyCreated),
            Event::SnapshotAttached { findings, .. } => {
                if s.category.is_none() {
                    s.category = lifeline_shared::findings::suggested_category(findings).map(|c| c.as_str().to_owned());
                }
            }
            Event::PublicReply { body } | Event::InternalNote { body } | Event::RequesterReply { body } => {
                validate_text(body, MAX_BODY, "a reply or note")?;
            }
            Event::StatusChanged { from, to, .. } => {
                if *from != s.status {
                    return Err(RuleError::Stale("the status changed meanwhile; reload the ticket"));
                }
                if *to == s.status {
                    return Err(RuleError::SameStatus(s.status));
                }
                if !s.status.may_become(*to) {
                    return Err(RuleError::Transition { from: s.status, to: *to });
                }
                s.status = *to;
            }
            Event::Assigned { to } => {
                validate_text(to, 64, "an assignee's user name")?;
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
            Event::CheckRun { .. } => {}
        }
        s.updated_at = at;
        Ok(s)
    }
}

/// What a technician asks to do to a ticket; [`Command::decide`] makes it the event to append. It is also what the
/// API takes, as `{"action": "status", "status": "resolved", ...}`: one type, so the two cannot drift.
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
pub enum Command {
    Reply {
        body: String,
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
    },
    Escalate {
        tier: u8,
        reason: Option<String>,
    },
}

impl Command {
    /// The event this command appends to a ticket as it stands; [`TicketState::apply`] then judges it.
    pub fn decide(self, current: &TicketState) -> Event {
        match self {
            Command::Reply { body } => Event::PublicReply { body },
            Command::Note { body } => Event::InternalNote { body },
            Command::Assign { to } => Event::Assigned { to },
            Command::Status { to, reason } => Event::StatusChanged { from: current.status, to, reason },
            Command::Escalate { tier, reason } => Event::Escalated { from_tier: current.tier, to_tier: tier, reason },
        }
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
        }
    }

    fn status(from: Status, to: Status) -> Event {
        Event::StatusChanged { from, to, reason: None }
    }

    #[test]
    fn commands_become_events_against_the_ticket_as_it_stands() {
        let mut current = TicketState::replay([(&created(), 1)]).unwrap();
        current.tier = 2;
        let cases = [
            (Command::Reply { body: "hi".into() }, Event::PublicReply { body: "hi".into() }),
            (Command::Note { body: "n".into() }, Event::InternalNote { body: "n".into() }),
            (Command::Assign { to: "bob".into() }, Event::Assigned { to: "bob".into() }),
            (Command::Status { to: Status::Open, reason: None }, status(Status::New, Status::Open)),
            (
                Command::Escalate { tier: 3, reason: Some("disk".into()) },
                Event::Escalated { from_tier: 2, to_tier: 3, reason: Some("disk".into()) },
            ),
        ];
        for (command, event) in cases {
            assert_eq!(command.decide(&current), event);
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
}
