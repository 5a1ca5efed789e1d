//! The help desk's settings from server.toml that its rules read: the priority matrix, the resolution codes and the
//! service levels; and how a ticket's log reads as the facts its SLA clocks are computed from.

use super::priority::{Level, Matrix};
use super::sla::{Alert, Calendar, ClockKind, Fact, Targets};
use super::tickets::{Channel, Event, Status, TicketState};

#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    pub matrix: Matrix,
    /// What a technician picks from when resolving; the statistics count by it.
    pub resolution_codes: Vec<String>,
    pub sla: Sla,
    /// `[mail]`: the help desk on the e-mail channel; none, no mail is read or sent.
    pub mail: Option<MailDesk>,
}

/// Who the help desk is by e-mail, and the limits its rules keep.
#[derive(Debug, Clone, PartialEq)]
pub struct MailDesk {
    /// The address mail goes out from and comes in to, lowercase.
    pub address: String,
    pub name: Option<String>,
    /// The right-hand side of our Message-IDs.
    pub domain: String,
    /// Other addresses of ours (aliases): mail from any of them is our own and never answered.
    pub also: Vec<String>,
    /// Whether a ticket opened by mail gets an acknowledgement (at most one per sender a day).
    pub acknowledge: bool,
    /// New tickets one sender may open by mail in an hour: a looping autoresponder stops here.
    pub new_tickets_per_hour: u32,
    /// Attachments over this many bytes are not kept (listed on the ticket as left out).
    pub max_attachment: usize,
}

impl MailDesk {
    pub fn ours(&self) -> Vec<&str> {
        std::iter::once(self.address.as_str()).chain(self.also.iter().map(String::as_str)).collect()
    }
}

/// `[sla]`: the calendar business time is counted in, and the targets each kind of ticket is held to.
#[derive(Debug, Clone, PartialEq)]
pub struct Sla {
    pub calendar: Calendar,
    /// Tried in order; the first that matches a ticket sets its targets. None matching: no clocks.
    pub rules: Vec<SlaRule>,
    /// A warning is recorded when a clock has this much business time left.
    pub warn_before_ms: i64,
    /// What a warning or a breach sets off, in order.
    pub escalations: Vec<Escalation>,
}

impl Default for Sla {
    /// No targets: a help desk states its own service levels.
    fn default() -> Self {
        Sla { calendar: Calendar::always(), rules: Vec::new(), warn_before_ms: 30 * 60_000, escalations: Vec::new() }
    }
}

/// At a clock's warning or breach: raise the ticket to a tier (functional escalation) and tell a supervisor
/// (hierarchical), once, since the alert itself is recorded once.
#[derive(Debug, Clone, PartialEq)]
pub struct Escalation {
    pub at: Alert,
    /// Only this clock's alerts; any clock's when `None`.
    pub clock: Option<ClockKind>,
    pub tier: Option<u8>,
    /// Named in an internal note on the ticket, which their console and (later) mail show them.
    pub supervisor: Option<String>,
}

impl Sla {
    /// The events an alert sets off on a ticket as it stands, for the server to append after the alert.
    pub fn escalate(&self, ticket: &TicketState, clock: ClockKind, alert: Alert) -> Vec<Event> {
        let mut tier = ticket.tier;
        let mut events = Vec::new();
        let what = format!(
            "the {} SLA {}",
            clock.as_str().replace('_', " "),
            match alert {
                Alert::Warning => "is about to be missed",
                Alert::Breach => "was missed",
            }
        );
        for e in self.escalations.iter().filter(|e| e.at == alert && e.clock.is_none_or(|c| c == clock)) {
            if let Some(to) = e.tier.filter(|to| *to > tier) {
                events.push(Event::Escalated { from_tier: tier, to_tier: to, reason: Some(what.clone()) });
                tier = to;
            }
            if let Some(supervisor) = &e.supervisor {
                events.push(Event::InternalNote {
                    body: format!("@{supervisor}: {what}; the ticket is at tier {tier}."),
                });
            }
        }
        events
    }
}

/// A policy: the tickets it is for (an empty list matches all) and their targets.
#[derive(Debug, Clone, PartialEq)]
pub struct SlaRule {
    pub name: String,
    pub priorities: Vec<Level>,
    pub channels: Vec<Channel>,
    pub categories: Vec<String>,
    pub targets: Targets,
}

/// An alert a ticket's log records: which clock, the run (its start), and which notice.
pub type Recorded = (ClockKind, i64, Alert);

impl Sla {
    fn targets(&self, t: &TicketState) -> Targets {
        let matches = |r: &&SlaRule| {
            (r.priorities.is_empty() || r.priorities.contains(&t.priority))
                && (r.channels.is_empty() || r.channels.contains(&t.channel))
                && (r.categories.is_empty() || t.category.as_ref().is_some_and(|c| r.categories.contains(c)))
        };
        self.rules.iter().find(matches).map(|r| r.targets).unwrap_or_default()
    }

    /// A ticket's log as its clocks read it, with the alerts it records already. Folded with the ticket's own rules,
    /// so a pause, a reopening or a new priority is exactly what the ticket went through: a public reply is a
    /// response and a note is not; pending pauses; resolving, closing or merging stops the clocks; a new priority
    /// or category holds the running clocks to the targets it selects.
    pub fn read_log<'a>(&self, log: impl IntoIterator<Item = (i64, &'a Event)>) -> (Vec<(i64, Fact)>, Vec<Recorded>) {
        let (mut facts, mut alerts) = (Vec::new(), Vec::new());
        let mut state: Option<TicketState> = None;
        for (at, event) in log {
            if let Event::SlaAlert { clock, started_at, alert } = event {
                alerts.push((*clock, *started_at, *alert));
                continue;
            }
            let Ok(next) = TicketState::apply(state.clone(), event, at) else { continue };
            let ended = |s: Status| matches!(s, Status::Resolved | Status::Closed | Status::Merged);
            match (&state, event) {
                (None, _) => facts.push((at, Fact::Opened(self.targets(&next)))),
                (Some(_), Event::PublicReply { .. }) => facts.push((at, Fact::Responded)),
                (Some(_), Event::RequesterReply { .. }) => facts.push((at, Fact::RequesterWrote)),
                (Some(before), _) => {
                    let (from, to) = (before.status, next.status);
                    if from != to {
                        let fact = match () {
                            _ if ended(to) => Some(Fact::Resolved),
                            _ if from == Status::Resolved => Some(Fact::Reopened),
                            _ if to.is_pending() && !from.is_pending() => Some(Fact::Paused),
                            _ if from.is_pending() && !to.is_pending() => Some(Fact::Resumed),
                            _ => None,
                        };
                        facts.extend(fact.map(|f| (at, f)));
                    }
                    let (old, new) = (self.targets(before), self.targets(&next));
                    if old != new {
                        facts.push((at, Fact::Retargeted(new)));
                    }
                }
            }
            state = Some(next);
        }
        (facts, alerts)
    }
}

impl Policy {
    /// The whole policy as JSON, the same text for the same settings: the audit log records it whenever a server
    /// starts with settings that differ from the last recorded, so a changed matrix or SLA is on the record.
    pub fn describe(&self) -> serde_json::Value {
        let names = |levels: &[Level]| levels.iter().map(|l| l.as_str()).collect::<Vec<_>>();
        let matrix: Vec<Vec<&str>> =
            Level::ALL.iter().map(|u| names(&Level::ALL.map(|i| self.matrix.priority(*u, i)))).collect();
        let rules: Vec<serde_json::Value> = self
            .sla
            .rules
            .iter()
            .map(|r| {
                serde_json::json!({
                    "name": r.name,
                    "priority": names(&r.priorities),
                    "channel": r.channels.iter().map(|c| c.as_str()).collect::<Vec<_>>(),
                    "category": r.categories,
                    "targets": r.targets,
                })
            })
            .collect();
        let escalations: Vec<String> = self.sla.escalations.iter().map(|e| format!("{e:?}")).collect();
        let mut description = serde_json::json!({
            "priority_matrix": matrix,
            "resolution_codes": self.resolution_codes,
            "sla": {
                "calendar": self.sla.calendar.describe(),
                "policies": rules,
                "warn_before_ms": self.sla.warn_before_ms,
                "escalations": escalations,
            },
        });
        if let (Some(mail), Some(map)) = (&self.mail, description.as_object_mut()) {
            let described = serde_json::json!({
                "address": mail.address,
                "also": mail.also,
                "acknowledge": mail.acknowledge,
                "new_tickets_per_hour": mail.new_tickets_per_hour,
                "max_attachment": mail.max_attachment,
            });
            map.insert("mail".into(), described);
        }
        description
    }
}

/// `user-instructed` is "the cause was the user's, and they were shown how": the education report counts it.
pub const DEFAULT_CODES: [&str; 9] = [
    "fixed-remotely",
    "fixed-on-site",
    "user-instructed",
    "hardware-replaced",
    "software-reinstalled",
    "workaround",
    "no-fault-found",
    "duplicate",
    "referred-elsewhere",
];

impl Default for Policy {
    fn default() -> Self {
        Policy {
            matrix: Matrix::default(),
            resolution_codes: DEFAULT_CODES.map(str::to_owned).to_vec(),
            sla: Sla::default(),
            mail: None,
        }
    }
}

impl Policy {
    /// A technician resolving names how, from the list.
    pub fn check_resolution(&self, code: Option<&str>) -> Result<(), String> {
        match code {
            Some(code) if self.resolution_codes.iter().any(|c| c == code) => Ok(()),
            Some(code) => Err(format!("unknown resolution code {code:?}; one of {}", self.resolution_codes.join(", "))),
            None => Err(format!("resolving needs a resolution code: one of {}", self.resolution_codes.join(", "))),
        }
    }
}

/// An address a mail can be sent to: `local@domain`, the domain of dot-separated labels, no spaces or controls.
/// Deliberately not all of RFC 5322 (quoted local parts, comments): what people type into a form.
pub fn valid_email(address: &str) -> bool {
    let Some((local, domain)) = address.rsplit_once('@') else { return false };
    let label_ok = |l: &str| {
        !l.is_empty() && l.len() <= 63 && l.chars().all(|c| c.is_alphanumeric() || c == '-') && !l.starts_with('-')
    };
    address.len() <= 254
        && !local.is_empty()
        && local.len() <= 64
        && local.chars().all(|c| c.is_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c))
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && domain.contains('.')
        && domain.split('.').all(label_ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        let cases = [
            ("ann@example.org", true),
            ("ann.smith+help@mail.example.co.uk", true),
            ("jörg@münchen.de", true),
            ("ann", false),
            ("ann@", false),
            ("@example.org", false),
            ("ann@example", false),
            ("ann smith@example.org", false),
            ("ann@exa mple.org", false),
            ("ann@@example.org", false),
            ("ann..b@example.org", false),
            ("ann@-example.org", false),
            ("ann@example..org", false),
            ("ann\n@example.org", false),
        ];
        for (address, ok) in cases {
            assert_eq!(valid_email(address), ok, "{address:?}");
        }
    }

    #[test]
    fn resolving_needs_a_known_code() {
        let p = Policy::default();
        assert_eq!(p.check_resolution(Some("user-instructed")), Ok(()));
        assert!(p.check_resolution(Some("magic")).unwrap_err().contains("fixed-remotely"));
        assert!(p.check_resolution(None).unwrap_err().starts_with("resolving needs"));
    }
}

#[cfg(test)]
mod sla_tests {
    use super::*;
    use crate::desk::priority::TicketType;

    const H: i64 = 3_600_000;

    fn sla() -> Sla {
        let rule = |name: &str, priority, first, resolution| SlaRule {
            name: name.into(),
            priorities: vec![priority],
            channels: Vec::new(),
            categories: Vec::new(),
            targets: Targets {
                first_response_ms: Some(first),
                next_response_ms: Some(H),
                resolution_ms: Some(resolution),
            },
        };
        Sla {
            calendar: Calendar::always(),
            rules: vec![rule("high", Level::High, H, 4 * H), rule("medium", Level::Medium, 4 * H, 16 * H)],
            warn_before_ms: 30 * 60_000,
            escalations: Vec::new(),
        }
    }

    fn status(from: Status, to: Status) -> Event {
        Event::StatusChanged { from, to, reason: None, until: None, code: None, first_contact: false }
    }

    #[test]
    fn a_log_reads_as_the_facts_its_clocks_count() {
        let created = Event::Created {
            subject: "vpn".into(),
            description: String::new(),
            channel: Channel::Phone,
            requester: "ann".into(),
            agent_id: None,
            category: None,
            person: None,
            urgency: Level::High,
            impact: Level::High,
            priority: Level::High,
            ticket_type: TicketType::Incident,
        };
        let medium = Event::Prioritized {
            urgency: Level::Medium,
            impact: Level::Medium,
            priority: Level::Medium,
            manual: true,
            reason: None,
        };
        let alert = Event::SlaAlert { clock: ClockKind::FirstResponse, started_at: 0, alert: Alert::Warning };
        let log = [
            (0, created),
            (1, Event::InternalNote { body: "looking".into() }),
            (2, alert),
            (3, Event::PublicReply { body: "on it".into() }),
            (4, status(Status::New, Status::PendingThirdParty)),
            (5, Event::RequesterReply { body: "still broken".into() }),
            (6, status(Status::PendingThirdParty, Status::Open)),
            (7, medium),
            (8, status(Status::Open, Status::Resolved)),
            (9, status(Status::Resolved, Status::Open)),
            (10, Event::MergedInto { into: 2 }),
        ];
        let (facts, already) = sla().read_log(log.iter().map(|(at, e)| (*at, e)));
        let high = sla().rules[0].targets;
        let medium = sla().rules[1].targets;
        assert_eq!(
            facts,
            [
                (0, Fact::Opened(high)),
                (3, Fact::Responded),
                (4, Fact::Paused),
                (5, Fact::RequesterWrote),
                (6, Fact::Resumed),
                (7, Fact::Retargeted(medium)),
                (8, Fact::Resolved),
                (9, Fact::Reopened),
                (10, Fact::Resolved),
            ],
            "a note is no fact; a merge stops the clocks"
        );
        assert_eq!(already, [(ClockKind::FirstResponse, 0, Alert::Warning)]);
        // The same log gives the same facts, so the same deadlines, however often it is read.
        assert_eq!(sla().read_log(log.iter().map(|(at, e)| (*at, e))).0, facts);
    }

    #[test]
    fn the_first_matching_policy_sets_the_targets_and_none_sets_none() {
        let mut s = sla();
        s.rules.insert(
            0,
            SlaRule {
                name: "vip e-mail".into(),
                priorities: Vec::new(),
                channels: vec![Channel::Email],
                categories: vec!["account".into()],
                targets: Targets { first_response_ms: Some(60_000), ..Targets::default() },
            },
        );
        let state = |priority, channel, category: Option<&str>| {
            let created = Event::Created {
                subject: "s".into(),
                description: String::new(),
                channel,
                requester: "ann".into(),
                agent_id: None,
                category: category.map(str::to_owned),
                person: None,
                urgency: Level::Medium,
                impact: Level::Medium,
                priority,
                ticket_type: TicketType::Incident,
            };
            TicketState::apply(None, &created, 0).unwrap()
        };
        let cases = [
            (state(Level::High, Channel::Email, Some("account")), Some(60_000)),
            (state(Level::High, Channel::Email, Some("printing")), Some(H)),
            (state(Level::Medium, Channel::Phone, None), Some(4 * H)),
            (state(Level::Low, Channel::Phone, None), None),
        ];
        for (ticket, first) in cases {
            assert_eq!(s.targets(&ticket).first_response_ms, first, "{ticket:?}");
        }
    }

    #[test]
    fn an_alert_escalates_as_the_rules_say_and_never_lowers_the_tier() {
        let mut s = sla();
        s.escalations = vec![
            Escalation { at: Alert::Warning, clock: None, tier: None, supervisor: Some("tina".into()) },
            Escalation {
                at: Alert::Breach,
                clock: Some(ClockKind::Resolution),
                tier: Some(2),
                supervisor: Some("carol".into()),
            },
            Escalation { at: Alert::Breach, clock: Some(ClockKind::Resolution), tier: Some(3), supervisor: None },
        ];
        let created = Event::Created {
            subject: "s".into(),
            description: String::new(),
            channel: Channel::Phone,
            requester: "ann".into(),
            agent_id: None,
            category: None,
            person: None,
            urgency: Level::Medium,
            impact: Level::Medium,
            priority: Level::Medium,
            ticket_type: TicketType::Incident,
        };
        let ticket = TicketState::apply(None, &created, 0).unwrap();
        let note = |body: &str| Event::InternalNote { body: body.into() };
        let cases = [
            (
                1,
                ClockKind::FirstResponse,
                Alert::Warning,
                vec![note("@tina: the first response SLA is about to be missed; the ticket is at tier 1.")],
            ),
            (1, ClockKind::FirstResponse, Alert::Breach, vec![]),
            (
                1,
                ClockKind::Resolution,
                Alert::Breach,
                vec![
                    Event::Escalated { from_tier: 1, to_tier: 2, reason: Some("the resolution SLA was missed".into()) },
                    note("@carol: the resolution SLA was missed; the ticket is at tier 2."),
                    Event::Escalated { from_tier: 2, to_tier: 3, reason: Some("the resolution SLA was missed".into()) },
                ],
            ),
            (
                3,
                ClockKind::Resolution,
                Alert::Breach,
                vec![note("@carol: the resolution SLA was missed; the ticket is at tier 3.")],
            ),
        ];
        for (tier, clock, alert, expected) in cases {
            let at_tier = TicketState { tier, ..ticket.clone() };
            assert_eq!(s.escalate(&at_tier, clock, alert), expected, "tier {tier} {clock:?} {alert:?}");
        }
    }
}
