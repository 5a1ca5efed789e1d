//! What the statistics need of one ticket, folded from its log: every figure is computed from these, never from a
//! field an edit can overwrite. Each change keeps its time, so a figure of a closed period reads the ticket as it
//! stood then, and a later edit, reopening, merge or new category does not change it.

use serde::{Deserialize, Serialize};

use super::actor::{Actor, ActorKind};
use super::priority::{Level, TicketType};
use super::sla::{Alert, ClockKind};
use super::tickets::{Channel, Event, Status, TicketState};

/// One ticket's history as the figures read it.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Facts {
    pub number: i64,
    pub opened_at: i64,
    pub channel: Channel,
    #[serde(rename = "type")]
    pub ticket_type: TicketType,
    pub person: Option<i64>,
    /// Each value with the time it was set, oldest first; the first is the opening's.
    pub categories: Vec<(i64, Option<String>)>,
    pub priorities: Vec<(i64, Level)>,
    pub tiers: Vec<(i64, u8)>,
    pub statuses: Vec<(i64, Status)>,
    /// Public replies by technicians: who and when. The first is the first response.
    pub replies: Vec<(i64, String)>,
    pub resolutions: Vec<Resolution>,
    /// When it was merged into another ticket: from then on it never counts.
    pub merged_at: Option<i64>,
    pub alerts: Vec<(i64, ClockKind, Alert)>,
    /// Approved checks run for it: when, which, and how the run ended.
    pub checks: Vec<(i64, String, String)>,
    /// The kinds of the findings its first snapshot had: what lay behind a request.
    pub findings: Vec<String>,
}

/// One resolution of a ticket: a reopened ticket has one per time it was resolved.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Resolution {
    pub at: i64,
    /// When the run of work it ends began: the opening, or the reopening before it.
    pub since: i64,
    /// Who resolved it; the requester may say it is solved themselves.
    pub by: String,
    pub by_kind: ActorKind,
    pub code: Option<String>,
    /// Marked solved during the call or visit that opened it.
    pub first_contact: bool,
    /// When it was reopened after this resolution, if it was.
    pub reopened_at: Option<i64>,
}

impl Facts {
    /// Folds a ticket's log, through the ticket's own rules: an event they refuse is left out, as the ticket
    /// never took it.
    pub fn fold<'a>(number: i64, log: impl IntoIterator<Item = (i64, &'a Actor, &'a Event)>) -> Option<Facts> {
        let mut facts: Option<Facts> = None;
        let mut state: Option<TicketState> = None;
        let mut since = 0;
        for (at, actor, event) in log {
            let Ok(next) = TicketState::apply(state.clone(), event, at) else { continue };
            let f = facts.get_or_insert_with(|| Facts {
                number,
                opened_at: at,
                channel: next.channel,
                ticket_type: next.ticket_type,
                person: next.person,
                categories: vec![(at, next.category.clone())],
                priorities: vec![(at, next.priority)],
                tiers: vec![(at, next.tier)],
                statuses: vec![(at, next.status)],
                replies: Vec::new(),
                resolutions: Vec::new(),
                merged_at: None,
                alerts: Vec::new(),
                checks: Vec::new(),
                findings: Vec::new(),
            });
            if state.is_none() {
                since = at;
            }
            if let Some(before) = &state {
                if before.category != next.category {
                    f.categories.push((at, next.category.clone()));
                }
                if before.priority != next.priority {
                    f.priorities.push((at, next.priority));
                }
                if before.tier != next.tier {
                    f.tiers.push((at, next.tier));
                }
                if before.status != next.status {
                    f.statuses.push((at, next.status));
                }
                f.ticket_type = next.ticket_type;
            }
            match event {
                Event::PublicReply { .. } if actor.kind == ActorKind::Technician => {
                    f.replies.push((at, actor.name.clone()));
                }
                Event::StatusChanged { from, to: Status::Resolved, code, first_contact, .. }
                    if *from != Status::Resolved =>
                {
                    f.resolutions.push(Resolution {
                        at,
                        since,
                        by: actor.name.clone(),
                        by_kind: actor.kind,
                        code: code.clone(),
                        first_contact: *first_contact,
                        reopened_at: None,
                    });
                }
                Event::StatusChanged { from: Status::Resolved, to: Status::Open, .. } => {
                    if let Some(last) = f.resolutions.last_mut() {
                        last.reopened_at = Some(at);
                    }
                    since = at;
                }
                Event::MergedInto { .. } => f.merged_at = Some(at),
                Event::SlaAlert { clock, alert, .. } => f.alerts.push((at, *clock, *alert)),
                Event::CheckRun { check, state, .. } => f.checks.push((at, check.clone(), state.clone())),
                Event::SnapshotAttached { findings, .. } if f.findings.is_empty() => {
                    f.findings = findings.iter().map(|x| format!("{:?}", x.kind)).collect();
                }
                _ => {}
            }
            state = Some(next);
        }
        facts
    }

    /// The value a history held at `t`: the last one set at or before it.
    pub fn at<T: Clone>(history: &[(i64, T)], t: i64) -> Option<T> {
        history.iter().take_while(|(at, _)| *at <= t).last().map(|(_, v)| v.clone())
    }

    /// Whether the ticket counts in a figure of the period ending at `end`: merged tickets never do, from the
    /// moment they were merged, so a later merge leaves a closed period as it was.
    pub fn counts_until(&self, end: i64) -> bool {
        self.merged_at.is_none_or(|m| m > end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn created() -> Event {
        Event::Created {
            subject: "printer".into(),
            description: String::new(),
            channel: Channel::Phone,
            requester: "ann".into(),
            agent_id: None,
            category: None,
            person: Some(4),
            urgency: Level::Medium,
            impact: Level::Medium,
            priority: Level::Medium,
            ticket_type: TicketType::Incident,
        }
    }

    fn status(from: Status, to: Status, code: Option<&str>) -> Event {
        Event::StatusChanged { from, to, reason: None, until: None, code: code.map(Into::into), first_contact: false }
    }

    #[test]
    fn a_log_folds_into_the_history_the_figures_read() {
        let bob = Actor::technician("bob");
        let carol = Actor::technician("carol");
        let ann = Actor::requester("ann");
        let log = vec![
            (10, bob.clone(), created()),
            (20, bob.clone(), Event::InternalNote { body: "looking".into() }),
            (30, bob.clone(), Event::PublicReply { body: "try this".into() }),
            (35, ann.clone(), Event::RequesterReply { body: "no luck".into() }),
            (40, bob.clone(), Event::Categorized { category: "printing".into() }),
            (50, bob.clone(), Event::Escalated { from_tier: 1, to_tier: 2, reason: None }),
            (60, carol.clone(), Event::PublicReply { body: "fixed".into() }),
            (70, carol.clone(), status(Status::New, Status::Resolved, Some("fixed-remotely"))),
            (80, ann.clone(), status(Status::Resolved, Status::Open, None)),
            // Refused by the rules (the status is open now): never part of the history.
            (85, bob.clone(), status(Status::New, Status::Open, None)),
            (90, ann.clone(), status(Status::Open, Status::Resolved, None)),
            (95, bob.clone(), Event::MergedInto { into: 9 }),
        ];
        let f = Facts::fold(7, log.iter().map(|(at, a, e)| (*at, a, e))).unwrap();
        assert_eq!((f.number, f.opened_at, f.person), (7, 10, Some(4)));
        assert_eq!(
            f.replies,
            [(30, "bob".to_owned()), (60, "carol".to_owned())],
            "notes and the requester's are no replies"
        );
        assert_eq!(f.categories, [(10, None), (40, Some("printing".to_owned()))]);
        assert_eq!(f.tiers, [(10, 1), (50, 2)]);
        assert_eq!(
            f.resolutions,
            [
                Resolution {
                    at: 70,
                    since: 10,
                    by: "carol".into(),
                    by_kind: ActorKind::Technician,
                    code: Some("fixed-remotely".into()),
                    first_contact: false,
                    reopened_at: Some(80)
                },
                Resolution {
                    at: 90,
                    since: 80,
                    by: "ann".into(),
                    by_kind: ActorKind::Requester,
                    code: None,
                    first_contact: false,
                    reopened_at: None
                },
            ]
        );
        assert_eq!(f.statuses.iter().map(|(at, _)| *at).collect::<Vec<_>>(), [10, 70, 80, 90, 95]);
        assert_eq!(Facts::at(&f.categories, 39), Some(None));
        assert_eq!(Facts::at(&f.categories, 40), Some(Some("printing".to_owned())));
        assert_eq!(Facts::at(&f.tiers, 5), None, "before it was opened");
        assert!(f.counts_until(94) && !f.counts_until(95));
    }
}
