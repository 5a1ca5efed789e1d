//! What the statistics need of one ticket, folded from its log: every figure is computed from these, never from a
//! field an edit can overwrite. Each change keeps its time, so a figure of a closed period reads the ticket as it
//! stood then, and a later edit, reopening, merge or new category does not change it.
//!
//! The store keeps each ticket's facts in the compact form of [`Facts::encode`] rather than as JSON: a report over a
//! year of a large desk decodes every ticket of the year (100,000 of them), and JSON made that decoding most of a
//! report's time (BENCHMARKS.md, the report rows).

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

    /// Whether it is neither resolved, closed nor merged now: it may be open through a period without an event in
    /// it.
    pub fn unresolved(&self) -> bool {
        self.statuses.last().is_some_and(|(_, s)| !matches!(s, Status::Resolved | Status::Closed | Status::Merged))
    }

    /// Whether the ticket counts in a figure of the period ending at `end`: merged tickets never do, from the
    /// moment they were merged, so a later merge leaves a closed period as it was.
    pub fn counts_until(&self, end: i64) -> bool {
        self.merged_at.is_none_or(|m| m > end)
    }
}

/// Which of the histories of [`Facts`] a report reads, for [`Facts::decode_parts`]. The number, opening, channel,
/// type, person and merge are always there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parts(u16);

impl Parts {
    pub const NONE: Parts = Parts(0);
    pub const CATEGORIES: Parts = Parts(1);
    pub const PRIORITIES: Parts = Parts(1 << 1);
    pub const TIERS: Parts = Parts(1 << 2);
    pub const STATUSES: Parts = Parts(1 << 3);
    pub const REPLIES: Parts = Parts(1 << 4);
    pub const RESOLUTIONS: Parts = Parts(1 << 5);
    pub const ALERTS: Parts = Parts(1 << 6);
    pub const CHECKS: Parts = Parts(1 << 7);
    pub const FINDINGS: Parts = Parts(1 << 8);
    pub const ALL: Parts = Parts(u16::MAX);

    /// These parts and `other`'s.
    pub const fn and(self, other: Parts) -> Parts {
        Parts(self.0 | other.0)
    }
}

/// The first byte of every encoded row: the format it is in. The rows are a cache of the log, so a new format is
/// brought in by a migration that empties `ticket_facts`, which the store fills again from the logs when it opens.
const FORMAT: u8 = 1;

/// A value's one-byte code in the encoded form, fixed here rather than taken from the order of the variants, so that
/// reordering an enum cannot change what a stored row means, and a new variant does not compile without a code.
trait Code: Sized {
    fn code(self) -> u8;
    fn from_code(code: u8) -> Option<Self>;
}

macro_rules! codes {
    ($ty:ty { $($variant:path = $code:literal),+ $(,)? }) => {
        impl Code for $ty {
            fn code(self) -> u8 {
                match self {
                    $($variant => $code,)+
                }
            }

            fn from_code(code: u8) -> Option<Self> {
                match code {
                    $($code => Some($variant),)+
                    _ => None,
                }
            }
        }
    };
}

codes!(Channel {
    Channel::Agent = 0,
    Channel::Phone = 1,
    Channel::Email = 2,
    Channel::Chat = 3,
    Channel::OnSite = 4,
    Channel::Web = 5,
});
codes!(TicketType { TicketType::Incident = 0, TicketType::Request = 1 });
codes!(Level { Level::Low = 0, Level::Medium = 1, Level::High = 2, Level::Critical = 3 });
codes!(Status {
    Status::New = 0,
    Status::Open = 1,
    Status::PendingUser = 2,
    Status::PendingThirdParty = 3,
    Status::PendingUntil = 4,
    Status::Resolved = 5,
    Status::Closed = 6,
    Status::Merged = 7,
});
codes!(ActorKind {
    ActorKind::Technician = 0,
    ActorKind::Requester = 1,
    ActorKind::Agent = 2,
    ActorKind::System = 3,
});
codes!(ClockKind { ClockKind::FirstResponse = 0, ClockKind::NextResponse = 1, ClockKind::Resolution = 2 });
codes!(Alert { Alert::Warning = 0, Alert::Breach = 1 });

/// Writes the encoded form: integers as zigzag LEB128 varints, times as their distance from the opening (a few
/// bytes rather than eight), strings and lists with their length first.
struct Writer {
    out: Vec<u8>,
    opened_at: i64,
}

impl Writer {
    fn int(&mut self, v: i64) {
        let mut z = ((v << 1) ^ (v >> 63)) as u64;
        while z >= 0x80 {
            self.out.push((z as u8) | 0x80);
            z >>= 7;
        }
        self.out.push(z as u8);
    }

    fn time(&mut self, at: i64) {
        self.int(at.wrapping_sub(self.opened_at));
    }

    fn len(&mut self, n: usize) {
        self.int(i64::try_from(n).unwrap_or(i64::MAX));
    }

    fn str(&mut self, s: &str) {
        self.len(s.len());
        self.out.extend_from_slice(s.as_bytes());
    }

    fn code(&mut self, v: impl Code) {
        self.out.push(v.code());
    }

    fn flag(&mut self, b: bool) {
        self.out.push(u8::from(b));
    }

    fn opt<T>(&mut self, v: Option<T>, mut some: impl FnMut(&mut Writer, T)) {
        self.flag(v.is_some());
        if let Some(v) = v {
            some(self, v);
        }
    }

    fn list<T>(&mut self, items: &[T], mut each: impl FnMut(&mut Writer, &T)) {
        self.len(items.len());
        for item in items {
            each(self, item);
        }
    }
}

/// Reads what [`Writer`] wrote, refusing anything that runs past the end or names no value.
struct Reader<'a> {
    bytes: &'a [u8],
    opened_at: i64,
    /// Inside a list that is left out: its items are read past, and nothing is allocated for them.
    skipping: bool,
}

type Decoded<T> = Result<T, &'static str>;

impl Reader<'_> {
    fn byte(&mut self) -> Decoded<u8> {
        let (&b, rest) = self.bytes.split_first().ok_or("it ends early")?;
        self.bytes = rest;
        Ok(b)
    }

    fn int(&mut self) -> Decoded<i64> {
        let mut z: u64 = 0;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            z |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(((z >> 1) as i64) ^ -((z & 1) as i64));
            }
        }
        Err("an integer is too long")
    }

    fn time(&mut self) -> Decoded<i64> {
        Ok(self.int()?.wrapping_add(self.opened_at))
    }

    /// A length, which cannot be more than the bytes left: each item takes at least one.
    fn len(&mut self) -> Decoded<usize> {
        usize::try_from(self.int()?).ok().filter(|n| *n <= self.bytes.len()).ok_or("a length is out of range")
    }

    /// A text, into `out`'s buffer.
    fn string_into(&mut self, out: &mut String) -> Decoded<()> {
        let n = self.len()?;
        let (text, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        if !self.skipping {
            out.clear();
            out.push_str(std::str::from_utf8(text).map_err(|_| "a text is not UTF-8")?);
        }
        Ok(())
    }

    fn opt_string_into(&mut self, out: &mut Option<String>) -> Decoded<()> {
        if self.flag()? {
            self.string_into(out.get_or_insert_with(String::new))
        } else {
            *out = None;
            Ok(())
        }
    }

    fn code<T: Code>(&mut self) -> Decoded<T> {
        T::from_code(self.byte()?).ok_or("an unknown code")
    }

    fn flag(&mut self) -> Decoded<bool> {
        match self.byte()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err("a flag is neither 0 nor 1"),
        }
    }

    fn opt<T>(&mut self, some: impl FnOnce(&mut Self) -> Decoded<T>) -> Decoded<Option<T>> {
        if self.flag()? { some(self).map(Some) } else { Ok(None) }
    }

    /// A list of plain values into `items`; or, when it is not `wanted`, read past and left empty.
    fn values<T>(
        &mut self,
        wanted: bool,
        items: &mut Vec<T>,
        mut each: impl FnMut(&mut Self) -> Decoded<T>,
    ) -> Decoded<()> {
        let n = self.len()?;
        items.clear();
        for _ in 0..n {
            let item = each(self)?;
            if wanted {
                items.push(item);
            }
        }
        Ok(())
    }

    /// A list of values holding texts into `items`, each item into the one already there, so that its texts' buffers
    /// are used again; or, when it is not `wanted`, read past (into `blank()`, which allocates nothing) and left empty.
    fn items<T>(
        &mut self,
        wanted: bool,
        items: &mut Vec<T>,
        blank: fn() -> T,
        mut fill: impl FnMut(&mut Self, &mut T) -> Decoded<()>,
    ) -> Decoded<()> {
        let n = self.len()?;
        if !wanted {
            items.clear();
            let skipping = std::mem::replace(&mut self.skipping, true);
            let mut scratch = blank();
            for _ in 0..n {
                fill(self, &mut scratch)?;
            }
            self.skipping = skipping;
            return Ok(());
        }
        items.truncate(n);
        for i in 0..n {
            if i == items.len() {
                items.push(blank());
            }
            if let Some(item) = items.get_mut(i) {
                fill(self, item)?;
            }
        }
        Ok(())
    }
}

impl Facts {
    /// The compact form the store keeps; [`Facts::decode`] reads it back as it was.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer { out: Vec::with_capacity(128), opened_at: self.opened_at };
        w.out.push(FORMAT);
        w.int(self.number);
        w.int(self.opened_at);
        w.code(self.channel);
        w.code(self.ticket_type);
        w.opt(self.person, Writer::int);
        w.list(&self.categories, |w, (at, category)| {
            w.time(*at);
            w.opt(category.as_deref(), Writer::str);
        });
        w.list(&self.priorities, |w, (at, level)| {
            w.time(*at);
            w.code(*level);
        });
        w.list(&self.tiers, |w, (at, tier)| {
            w.time(*at);
            w.out.push(*tier);
        });
        w.list(&self.statuses, |w, (at, status)| {
            w.time(*at);
            w.code(*status);
        });
        w.list(&self.replies, |w, (at, by)| {
            w.time(*at);
            w.str(by);
        });
        w.list(&self.resolutions, |w, r| {
            w.time(r.at);
            w.time(r.since);
            w.str(&r.by);
            w.code(r.by_kind);
            w.opt(r.code.as_deref(), Writer::str);
            w.flag(r.first_contact);
            w.opt(r.reopened_at, Writer::time);
        });
        w.opt(self.merged_at, Writer::time);
        w.list(&self.alerts, |w, (at, clock, alert)| {
            w.time(*at);
            w.code(*clock);
            w.code(*alert);
        });
        w.list(&self.checks, |w, (at, check, state)| {
            w.time(*at);
            w.str(check);
            w.str(state);
        });
        w.list(&self.findings, |w, kind| w.str(kind));
        w.out
    }

    /// Reads a row [`Facts::encode`] wrote; refused when it is not one, with why.
    pub fn decode(bytes: &[u8]) -> Result<Facts, String> {
        Facts::decode_parts(bytes, Parts::ALL)
    }

    /// As [`Facts::decode`], with only the histories in `parts`: the others are left empty, which spares a report
    /// allocating what it does not read.
    pub fn decode_parts(bytes: &[u8], parts: Parts) -> Result<Facts, String> {
        let mut facts = Facts {
            number: 0,
            opened_at: 0,
            channel: Channel::Agent,
            ticket_type: TicketType::Incident,
            person: None,
            categories: Vec::new(),
            priorities: Vec::new(),
            tiers: Vec::new(),
            statuses: Vec::new(),
            replies: Vec::new(),
            resolutions: Vec::new(),
            merged_at: None,
            alerts: Vec::new(),
            checks: Vec::new(),
            findings: Vec::new(),
        };
        facts.decode_into(bytes, parts)?;
        Ok(facts)
    }

    /// As [`Facts::decode_parts`], into these facts, reusing what they allocated: a report reads the tickets one at
    /// a time into one value, so that most of them cost no allocation at all. A row that is refused leaves them
    /// part overwritten.
    pub fn decode_into(&mut self, bytes: &[u8], parts: Parts) -> Result<(), String> {
        let mut r = Reader { bytes, opened_at: 0, skipping: false };
        self.read(&mut r, parts).map_err(|why| format!("not a statistics row: {why}"))?;
        if !r.bytes.is_empty() {
            return Err(format!("not a statistics row: {} bytes after its end", r.bytes.len()));
        }
        Ok(())
    }

    fn read(&mut self, r: &mut Reader<'_>, parts: Parts) -> Decoded<()> {
        let has = |part: Parts| parts.0 & part.0 != 0;
        if r.byte()? != FORMAT {
            return Err("a format this server does not know");
        }
        self.number = r.int()?;
        r.opened_at = r.int()?;
        self.opened_at = r.opened_at;
        self.channel = r.code()?;
        self.ticket_type = r.code()?;
        self.person = r.opt(Reader::int)?;
        let category = || (0, None);
        r.items(has(Parts::CATEGORIES), &mut self.categories, category, |r, (at, category)| {
            *at = r.time()?;
            r.opt_string_into(category)
        })?;
        r.values(has(Parts::PRIORITIES), &mut self.priorities, |r| Ok((r.time()?, r.code()?)))?;
        r.values(has(Parts::TIERS), &mut self.tiers, |r| Ok((r.time()?, r.byte()?)))?;
        r.values(has(Parts::STATUSES), &mut self.statuses, |r| Ok((r.time()?, r.code()?)))?;
        r.items(has(Parts::REPLIES), &mut self.replies, Default::default, |r, (at, by)| {
            *at = r.time()?;
            r.string_into(by)
        })?;
        let resolution = || Resolution {
            at: 0,
            since: 0,
            by: String::new(),
            by_kind: ActorKind::Technician,
            code: None,
            first_contact: false,
            reopened_at: None,
        };
        r.items(has(Parts::RESOLUTIONS), &mut self.resolutions, resolution, |r, resolution| {
            resolution.at = r.time()?;
            resolution.since = r.time()?;
            r.string_into(&mut resolution.by)?;
            resolution.by_kind = r.code()?;
            r.opt_string_into(&mut resolution.code)?;
            resolution.first_contact = r.flag()?;
            resolution.reopened_at = r.opt(Reader::time)?;
            Ok(())
        })?;
        self.merged_at = r.opt(Reader::time)?;
        r.values(has(Parts::ALERTS), &mut self.alerts, |r| Ok((r.time()?, r.code()?, r.code()?)))?;
        r.items(has(Parts::CHECKS), &mut self.checks, Default::default, |r, (at, check, state)| {
            *at = r.time()?;
            r.string_into(check)?;
            r.string_into(state)
        })?;
        r.items(has(Parts::FINDINGS), &mut self.findings, String::new, Reader::string_into)
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

    /// Facts with every field set, each list with more than one entry, and values that need every byte of a varint.
    fn rich() -> Facts {
        let resolution = |at, since, by: &str, by_kind, code: Option<&str>, first_contact, reopened_at| Resolution {
            at,
            since,
            by: by.into(),
            by_kind,
            code: code.map(Into::into),
            first_contact,
            reopened_at,
        };
        let t = 1_767_225_600_000;
        Facts {
            number: 123_456,
            opened_at: t,
            channel: Channel::OnSite,
            ticket_type: TicketType::Request,
            person: Some(-7),
            categories: vec![(t, None), (t + 5, Some("printing".into())), (t + 9, Some("Ünïcode ✓".into()))],
            priorities: vec![(t, Level::Low), (t + 1, Level::Critical)],
            tiers: vec![(t, 1), (t + 2, 3)],
            statuses: Status::ALL.iter().enumerate().map(|(i, s)| (t + i as i64, *s)).collect(),
            replies: vec![(t + 3, "bob".into()), (t - 1, String::new())],
            resolutions: vec![
                resolution(t + 4, t, "carol", ActorKind::Technician, Some("fixed-remotely"), true, Some(t + 6)),
                resolution(i64::MAX, i64::MIN, "ann", ActorKind::Requester, None, false, None),
            ],
            merged_at: Some(t + 10),
            alerts: vec![
                (t + 7, ClockKind::FirstResponse, Alert::Warning),
                (t + 8, ClockKind::Resolution, Alert::Breach),
                (t + 8, ClockKind::NextResponse, Alert::Breach),
            ],
            checks: vec![(t + 11, "disk usage".into(), "done".into()), (t + 12, "dns".into(), "failed".into())],
            findings: vec!["DiskNearlyFull".into(), "DnsFailing".into()],
        }
    }

    #[test]
    fn the_stored_form_reads_back_as_it_was() {
        for facts in [rich(), Facts { number: i64::MIN, opened_at: i64::MAX, ..rich() }] {
            let bytes = facts.encode();
            assert_eq!(Facts::decode(&bytes), Ok(facts));
        }
        // Only some histories: the others are left empty.
        let some = Facts::decode_parts(&rich().encode(), Parts::REPLIES.and(Parts::CHECKS)).unwrap();
        let empty = Facts {
            categories: vec![],
            priorities: vec![],
            tiers: vec![],
            statuses: vec![],
            resolutions: vec![],
            alerts: vec![],
            findings: vec![],
            ..rich()
        };
        assert_eq!(some, empty);
        assert_eq!(Facts::decode_parts(&rich().encode(), Parts::ALL), Ok(rich()));
        // Decoded into facts that held another ticket, nothing of that one is left.
        let plain = Facts::fold(1, [(10, &Actor::technician("bob"), &created())]).unwrap();
        let mut reused = rich();
        let cases = [
            (&plain, Parts::ALL, &plain),
            (&rich(), Parts::ALL, &rich()),
            (&rich(), Parts::REPLIES.and(Parts::CHECKS), &empty),
        ];
        for (from, parts, expected) in cases {
            reused.decode_into(&rich().encode(), Parts::ALL).unwrap();
            reused.decode_into(&from.encode(), parts).unwrap();
            assert_eq!(&reused, expected);
        }
        // A ticket as the fold makes it, with every list empty but the opening's.
        let created = [(10, Actor::technician("bob"), created())];
        let plain = Facts::fold(1, created.iter().map(|(at, a, e)| (*at, a, e))).unwrap();
        let bytes = plain.encode();
        assert!(bytes.len() < 32, "{} bytes", bytes.len());
        assert_eq!(Facts::decode(&bytes), Ok(plain));
    }

    #[test]
    fn a_row_that_is_not_one_is_refused() {
        let bytes = rich().encode();
        for end in 0..bytes.len() {
            assert!(Facts::decode(&bytes[..end]).is_err(), "cut at {end} of {}", bytes.len());
            assert!(Facts::decode_parts(&bytes[..end], Parts::NONE).is_err(), "cut at {end}, read past");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(Facts::decode(&longer).unwrap_err().contains("after its end"));
        let mut other = bytes.clone();
        other[0] = FORMAT + 1;
        assert!(Facts::decode(&other).unwrap_err().contains("format"));
        // The channel's code, just after the number and the opening.
        let plain = Facts::fold(1, [(10, &Actor::technician("bob"), &created())]).unwrap().encode();
        let mut unknown = plain.clone();
        unknown[3] = 200;
        assert_eq!(Facts::decode(&unknown).unwrap_err(), "not a statistics row: an unknown code");
        // A length past the end is refused before anything is allocated for it: the categories', after the person.
        let mut long = plain;
        let categories = 7;
        long[categories] = 0x7e;
        assert!(Facts::decode(&long).unwrap_err().contains("length"));
        assert!(Facts::decode(&[FORMAT, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]).is_err());
    }
}
