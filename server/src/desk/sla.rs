//! Service levels: how much of its first-response, next-response and resolution targets a ticket has used, counted
//! in the business hours of a calendar, and which warnings and breaches are due. Times are Unix milliseconds and
//! `now` is always a parameter: the clocks are a fold of the ticket's facts, so replaying its log gives the same
//! clocks, and an alert is recorded in that log so that it is raised once.

use std::collections::BTreeSet;
use std::ops::ControlFlow;

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};

const DAY_MINUTES: u16 = 24 * 60;
const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// How many days a walk through the calendar looks at before it gives up: years past any target, and a bound on
/// what a bogus instant or target can cost.
const SCAN_DAYS: u32 = 5 * 366;

const WEEKDAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// Why a calendar was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SlaError {
    #[error("unknown time zone {0:?}; use an IANA name such as Europe/Amsterdam")]
    UnknownZone(String),
    #[error("business hours {what}: {why}; write ranges such as 09:00-17:00 that do not overlap")]
    Hours { what: String, why: &'static str },
    #[error("unknown weekday {0:?}; use mon, tue, wed, thu, fri, sat or sun")]
    Weekday(String),
    #[error("the calendar has no business hours; give at least one weekday a range such as 09:00-17:00")]
    NoHours,
}

/// Business hours in one time zone, less holidays.
#[derive(Debug, Clone, PartialEq)]
pub struct Calendar {
    tz: TimeZone,
    /// Monday first; each day's ranges in minutes after local midnight, `[start, end)`, sorted.
    week: [Vec<(u16, u16)>; 7],
    holidays: BTreeSet<Date>,
}

impl Calendar {
    /// Around the clock in UTC with no holidays, for a help desk that has set no calendar: business time is wall time.
    pub fn always() -> Calendar {
        Calendar { tz: TimeZone::UTC, week: std::array::from_fn(|_| vec![(0, DAY_MINUTES)]), holidays: BTreeSet::new() }
    }

    /// `tz` is an IANA zone name. `week[0]` holds Monday's ranges, in minutes after local midnight as
    /// [`parse_hours`] reads them (`(540, 1020)` is 09:00-17:00, `(0, 1440)` the whole day). `holidays` are local
    /// dates without business hours.
    pub fn new(tz: &str, mut week: [Vec<(u16, u16)>; 7], holidays: Vec<Date>) -> Result<Calendar, SlaError> {
        let zone = TimeZone::get(tz).map_err(|_| SlaError::UnknownZone(tz.to_owned()))?;
        for (day, ranges) in WEEKDAYS.iter().zip(&mut week) {
            let error =
                |(start, end), why| SlaError::Hours { what: format!("{day} {}-{}", hhmm(start), hhmm(end)), why };
            ranges.sort_unstable();
            for &range in ranges.iter() {
                check_range(range).map_err(|why| error(range, why))?;
            }
            for pair in ranges.windows(2) {
                if pair[1].0 < pair[0].1 {
                    return Err(error(pair[1], "overlaps the range before it"));
                }
            }
        }
        if week.iter().all(Vec::is_empty) {
            return Err(SlaError::NoHours);
        }
        Ok(Calendar { tz: zone, week, holidays: holidays.into_iter().collect() })
    }

    /// The help desk's time zone: figures are bucketed into its days, weeks and months.
    pub fn zone(&self) -> &TimeZone {
        &self.tz
    }

    /// The calendar in words, the same for the same calendar: what the audit log records when it changes.
    pub fn describe(&self) -> String {
        let zone = self.tz.iana_name().unwrap_or("UTC");
        let days: Vec<String> = WEEKDAYS
            .iter()
            .zip(&self.week)
            .filter(|(_, ranges)| !ranges.is_empty())
            .map(|(day, ranges)| {
                let ranges: Vec<String> = ranges.iter().map(|(a, b)| format!("{}-{}", hhmm(*a), hhmm(*b))).collect();
                format!("{day} {}", ranges.join(","))
            })
            .collect();
        let holidays: Vec<String> = self.holidays.iter().map(ToString::to_string).collect();
        format!("{zone}; {}; holidays: {}", days.join("; "), holidays.join(", "))
    }

    /// The business milliseconds in `[from, to)`. A span longer than the calendar walk (five years) is counted for
    /// its first five years only, which is still far past any target.
    pub fn business_ms(&self, from: i64, to: i64) -> i64 {
        if to <= from {
            return 0;
        }
        let mut total = 0;
        self.walk(from, |start, end| {
            if start >= to {
                return ControlFlow::Break(());
            }
            total += (end.min(to) - start.max(from)).max(0);
            ControlFlow::Continue(())
        });
        total
    }

    /// The business hours of `[from, to)`, walked once, for [`BusinessHours::business_ms`] of many spans in it.
    pub fn hours(&self, from: i64, to: i64) -> BusinessHours {
        // No further back than one walk goes before `to`: a span that starts earlier is walked on its own.
        let from = from.max(to.saturating_sub((i64::from(SCAN_DAYS) - 2) * DAY_MS));
        let mut intervals = Vec::new();
        let mut before = 0;
        if from < to {
            self.walk(from, |start, end| {
                if start >= to {
                    return ControlFlow::Break(());
                }
                intervals.push((start, end, before));
                before += end - start;
                ControlFlow::Continue(())
            });
        }
        BusinessHours { calendar: self.clone(), from, until: to, intervals }
    }

    /// The earliest instant at which `ms` business milliseconds have passed since `from`: counting starts at the next
    /// opening when `from` is outside hours, and a target used up at a closing is due at that closing. `None` when
    /// that lies beyond the calendar walk (five years).
    pub fn add_business(&self, from: i64, ms: i64) -> Option<i64> {
        if ms <= 0 {
            return Some(from);
        }
        let mut left = ms;
        self.walk(from, |start, end| {
            let start = start.max(from);
            if start < end {
                if left <= end - start {
                    return ControlFlow::Break(start + left);
                }
                left -= end - start;
            }
            ControlFlow::Continue(())
        })
    }

    /// Hands `visit` the business intervals `[start, end)` in time order, never overlapping, from the local day before
    /// `from`'s (a range that a gap in the zone pushed past midnight belongs to the day before) until `visit` breaks
    /// or [`SCAN_DAYS`] have passed.
    fn walk<T>(&self, from: i64, mut visit: impl FnMut(i64, i64) -> ControlFlow<T>) -> Option<T> {
        let from = Timestamp::from_millisecond(from).unwrap_or(if from < 0 { Timestamp::MIN } else { Timestamp::MAX });
        let mut day = self.tz.to_datetime(from).date().yesterday().ok()?;
        let mut midnight = TimeZone::UTC.to_timestamp(day.at(0, 0, 0, 0)).ok()?.as_millisecond();
        let mut offsets = Offsets { tz: &self.tz, from: i64::MAX, until: i64::MIN, offset_ms: 0 };
        let mut floor = i64::MIN;
        for _ in 0..SCAN_DAYS {
            if !self.holidays.contains(&day) {
                for &(start, end) in &self.week[day.weekday().to_monday_zero_offset() as usize] {
                    // A range that starts in a gap starts after the gap, so it may now end before it starts, or
                    // before the range ahead of it ends.
                    let start = offsets.instant(day, midnight, start)?.max(floor);
                    let end = offsets.instant(day, midnight, end)?;
                    if start < end {
                        floor = end;
                        if let ControlFlow::Break(found) = visit(start, end) {
                            return Some(found);
                        }
                    }
                }
            }
            day = day.tomorrow().ok()?;
            midnight += DAY_MS;
        }
        None
    }
}

/// A calendar's business hours over one stretch of time, for the figures, which measure the business time of many
/// spans in the same stretch (a year of resolutions): each is then a lookup rather than a walk of its own.
#[derive(Debug)]
pub struct BusinessHours {
    calendar: Calendar,
    /// The stretch the intervals cover.
    from: i64,
    until: i64,
    /// The walk's intervals `[start, end)` in order, each with the business time of the ones before it.
    intervals: Vec<(i64, i64, i64)>,
}

impl BusinessHours {
    /// What [`Calendar::business_ms`] gives: the business time of a span inside the stretch is that up to its end
    /// less that up to its start, the walk's intervals never overlapping; a span reaching outside is walked.
    pub fn business_ms(&self, from: i64, to: i64) -> i64 {
        if to <= from {
            return 0;
        }
        if from < self.from || to > self.until {
            return self.calendar.business_ms(from, to);
        }
        self.up_to(to) - self.up_to(from)
    }

    /// The business time from the walk's first interval to `t`.
    fn up_to(&self, t: i64) -> i64 {
        let after = self.intervals.partition_point(|(start, ..)| *start <= t);
        match after.checked_sub(1).and_then(|i| self.intervals.get(i)) {
            Some(&(start, end, before)) => before + (t.min(end) - start),
            None => 0,
        }
    }
}

/// The offset of the zone over the stretch between two of its transitions that a walk is in, so that the walk asks
/// the zone about local times only near transitions rather than twice a day.
struct Offsets<'a> {
    tz: &'a TimeZone,
    /// Where `offset_ms` holds: from the last instant looked up to the zone's next transition.
    from: i64,
    until: i64,
    offset_ms: i64,
}

impl Offsets<'_> {
    /// The instant of `minute` on `day`, whose local midnight read as UTC is `midnight`, as [`exact_instant`] has it.
    fn instant(&mut self, day: Date, midnight: i64, minute: u16) -> Option<i64> {
        // A guess inside the stretch is that local time, and the one `compatible` picks: a time in a gap cannot land
        // inside, and in a fold the stretch holds the first occurrence, because the lookup that began it, itself
        // `compatible`, never lands on a second one.
        let guess = midnight + i64::from(minute) * 60_000 - self.offset_ms;
        if (self.from..self.until).contains(&guess) {
            return Some(guess);
        }
        let exact = exact_instant(self.tz, day, minute)?;
        self.from = exact.as_millisecond();
        self.until = self.tz.following(exact).next().map_or(i64::MAX, |t| t.timestamp().as_millisecond());
        self.offset_ms = i64::from(self.tz.to_offset(exact).seconds()) * 1000;
        Some(exact.as_millisecond())
    }
}

/// The instant of a local time, through the zone on that very date, so that a day of a daylight-saving change holds
/// as many business hours as its clocks show. A time the change skips or repeats is taken as jiff's `compatible` does
/// (RFC 5545): one in a gap moves forward by the gap, one in a fold is its first occurrence.
fn exact_instant(tz: &TimeZone, day: Date, minute: u16) -> Option<Timestamp> {
    // 24:00 is the next day's midnight, wherever the zone puts that: not always 24 hours after this one.
    let (day, minute) = if minute == DAY_MINUTES { (day.tomorrow().ok()?, 0) } else { (day, minute) };
    let local = day.at((minute / 60) as i8, (minute % 60) as i8, 0, 0);
    tz.to_ambiguous_timestamp(local).compatible().ok()
}

/// Reads one range of business hours such as `09:00-17:00` as minutes after local midnight for [`Calendar::new`];
/// `24:00` ends a range at midnight.
pub fn parse_hours(text: &str) -> Result<(u16, u16), SlaError> {
    let error = |why| SlaError::Hours { what: format!("{:?}", text.trim()), why };
    let (start, end) = text.split_once('-').ok_or_else(|| error("no '-' between start and end"))?;
    let range = match (parse_time(start), parse_time(end)) {
        (Some(start), Some(end)) => (start, end),
        _ => return Err(error("a time is not HH:MM from 00:00 to 24:00")),
    };
    check_range(range).map_err(error)?;
    Ok(range)
}

/// Reads a weekday as config files write it (`mon` to `sun`, any case) as its index in the week of [`Calendar::new`].
pub fn parse_weekday(name: &str) -> Result<usize, SlaError> {
    WEEKDAYS
        .iter()
        .position(|day| day.eq_ignore_ascii_case(name.trim()))
        .ok_or_else(|| SlaError::Weekday(name.to_owned()))
}

fn parse_time(text: &str) -> Option<u16> {
    let (hours, minutes) = text.trim().split_once(':')?;
    let digits = |s: &str, n| (1..=n).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(hours, 2) || !digits(minutes, 2) {
        return None;
    }
    let (hours, minutes): (u16, u16) = (hours.parse().ok()?, minutes.parse().ok()?);
    let total = hours * 60 + minutes;
    (minutes < 60 && total <= DAY_MINUTES).then_some(total)
}

fn check_range((start, end): (u16, u16)) -> Result<(), &'static str> {
    if end > DAY_MINUTES {
        return Err("ends after 24:00");
    }
    if start >= end {
        return Err("does not start before it ends");
    }
    Ok(())
}

fn hhmm(minutes: u16) -> String {
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

/// What a ticket is held to, in business milliseconds of the help desk's calendar; `None` sets no target and shows
/// no clock.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Targets {
    pub first_response_ms: Option<i64>,
    pub next_response_ms: Option<i64>,
    pub resolution_ms: Option<i64>,
}

impl Targets {
    fn of(&self, kind: ClockKind) -> Option<i64> {
        match kind {
            ClockKind::FirstResponse => self.first_response_ms,
            ClockKind::NextResponse => self.next_response_ms,
            ClockKind::Resolution => self.resolution_ms,
        }
    }
}

/// What happened to a ticket, as far as its clocks care; the server reads these from the ticket's events, in log
/// order. A fact that changes nothing where it stands (a pause while paused, a reopen of an open ticket, anything
/// before the opening) is ignored.
#[derive(Debug, Clone, PartialEq)]
pub enum Fact {
    /// The ticket opened, under the targets of the policy its priority, channel or category matched.
    Opened(Targets),
    /// The help desk answered the requester publicly. An internal note is never a response, and no fact.
    Responded,
    /// The requester wrote (from their machine, by e-mail, ...): after the help desk's first response, this starts a
    /// next-response clock unless one already runs for an earlier message.
    RequesterWrote,
    /// Pending (waiting for the user, a third party or a date): every clock stops counting.
    Paused,
    /// Back from pending: the clocks count again.
    Resumed,
    /// Every clock stops for good, as met at this moment (late if its time had run out): nothing is left to answer.
    Resolved,
    /// A new resolution clock starts with its full target; the response clocks stay as they ended.
    Reopened,
    /// What selects the policy changed: the running clocks are held to the new targets, with the business time they
    /// have used still counted.
    Retargeted(Targets),
}

/// What a clock waits for: the help desk's first answer, its answer to the requester's latest message, or the end.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ClockKind {
    FirstResponse,
    NextResponse,
    Resolution,
}

impl ClockKind {
    /// The name serde gives it, for logs and queries.
    pub fn as_str(self) -> &'static str {
        match self {
            ClockKind::FirstResponse => "first_response",
            ClockKind::NextResponse => "next_response",
            ClockKind::Resolution => "resolution",
        }
    }
}

/// One run of a clock against its target.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, utoipa::ToSchema)]
pub struct Clock {
    pub kind: ClockKind,
    /// When this run started: the opening, the requester's message, or the reopening. With `kind` it names the run,
    /// so that its warning and breach are recorded once.
    pub started_at: i64,
    /// Business milliseconds.
    pub target_ms: i64,
    #[serde(flatten)]
    pub state: ClockState,
}

/// Whether a run was on time is judged in business time: it is breached once it has used more than its target, so a
/// clock whose time ran out at a closing is answered in time until the next opening.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, utoipa::ToSchema)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ClockState {
    /// Counting, with `left_ms` business time left; `due_at` is when it runs out (`None` only if that is years away).
    Running { due_at: Option<i64>, left_ms: i64 },
    /// Counting, and past `due_at` by `over_ms` business time.
    Breached { due_at: Option<i64>, over_ms: i64 },
    /// Pending; `left_ms` is negative if the time had run out before the pause.
    Paused { left_ms: i64 },
    /// Stopped by a response or the resolution at `at`; `late_by_ms` is 0 when that was in time.
    Met { at: i64, late_by_ms: i64 },
}

/// The notices a clock raises, each recorded on the ticket once per run.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Alert {
    Warning,
    Breach,
}

/// One run of a clock, while folding the facts.
struct Run {
    kind: ClockKind,
    started_at: i64,
    target: Option<i64>,
    /// The stretches it counted, the last one open while it counts; kept rather than summed so that the due instant
    /// of a run that breached before a pause is still known after it.
    counted: Vec<(i64, Option<i64>)>,
    stopped: Option<i64>,
}

impl Run {
    fn start(kind: ClockKind, at: i64, targets: &Targets, paused: bool) -> Run {
        let counted = if paused { Vec::new() } else { vec![(at, None)] };
        Run { kind, started_at: at, target: targets.of(kind), counted, stopped: None }
    }

    fn pause(&mut self, at: i64) {
        if let Some((_, end @ None)) = self.counted.last_mut() {
            *end = Some(at);
        }
    }

    fn resume(&mut self, at: i64) {
        if !matches!(self.counted.last(), Some((_, None))) {
            self.counted.push((at, None));
        }
    }

    fn stop(&mut self, at: i64) {
        self.pause(at);
        self.stopped = Some(at);
    }

    fn clock(&self, calendar: &Calendar, now: i64) -> Option<Clock> {
        let target = self.target?;
        let (mut used, mut due_at) = (0, None);
        for &(start, end) in &self.counted {
            let ms = calendar.business_ms(start, end.unwrap_or(now));
            // The open stretch also gives the due instant of a run that has time left.
            if due_at.is_none() && (end.is_none() || used + ms >= target) {
                due_at = calendar.add_business(start, target.saturating_sub(used));
            }
            used += ms;
        }
        // Saturating, as a target comes from configuration and may be absurd.
        let left_ms = target.saturating_sub(used);
        let state = match (self.stopped, self.counted.last()) {
            (Some(at), _) => ClockState::Met { at, late_by_ms: left_ms.saturating_neg().max(0) },
            (None, Some((_, None))) if left_ms < 0 => {
                ClockState::Breached { due_at, over_ms: left_ms.saturating_neg() }
            }
            (None, Some((_, None))) => ClockState::Running { due_at, left_ms },
            (None, _) => ClockState::Paused { left_ms },
        };
        Some(Clock { kind: self.kind, started_at: self.started_at, target_ms: target, state })
    }
}

/// Every run of every clock with a target, in the order they started, as they stand at `now` after `facts` (those of
/// the ticket up to `now`, in log order); the last run of a kind is its current one.
pub fn clocks(calendar: &Calendar, facts: &[(i64, Fact)], now: i64) -> Vec<Clock> {
    let mut runs: Vec<Run> = Vec::new();
    let mut targets: Option<Targets> = None;
    let (mut paused, mut resolved, mut responded) = (false, false, false);
    for &(at, ref fact) in facts {
        let Some(current) = &targets else {
            if let Fact::Opened(opened) = fact {
                runs.push(Run::start(ClockKind::FirstResponse, at, opened, false));
                runs.push(Run::start(ClockKind::Resolution, at, opened, false));
                targets = Some(*opened);
            }
            continue;
        };
        let live = runs.iter_mut().filter(|run| run.stopped.is_none());
        match fact {
            Fact::Opened(_) => {}
            Fact::Responded => {
                responded = true;
                live.filter(|run| run.kind != ClockKind::Resolution).for_each(|run| run.stop(at));
            }
            Fact::RequesterWrote => {
                // The oldest unanswered message sets the deadline; writing again does not move it.
                let waiting = runs.iter().any(|run| run.kind == ClockKind::NextResponse && run.stopped.is_none());
                if responded && !resolved && !waiting {
                    runs.push(Run::start(ClockKind::NextResponse, at, current, paused));
                }
            }
            Fact::Paused if !resolved => {
                paused = true;
                live.for_each(|run| run.pause(at));
            }
            Fact::Resumed if paused => {
                paused = false;
                live.for_each(|run| run.resume(at));
            }
            Fact::Resolved if !resolved => {
                (resolved, paused) = (true, false);
                live.for_each(|run| run.stop(at));
            }
            Fact::Reopened if resolved => {
                resolved = false;
                runs.push(Run::start(ClockKind::Resolution, at, current, false));
            }
            Fact::Retargeted(new) => {
                live.for_each(|run| run.target = new.of(run.kind));
                targets = Some(*new);
            }
            Fact::Paused | Fact::Resumed | Fact::Resolved | Fact::Reopened => {}
        }
    }
    runs.iter().filter_map(|run| run.clock(calendar, now)).collect()
}

/// The alerts due on `clocks` that `already` (those recorded on the ticket, as `(kind, started_at, alert)`) lacks, in
/// the order to record them. A warning is due on a counting run with at most `warn_before_ms` business time left; a
/// breach on a counting run past due, and on a run met late whose breach was never recorded (the server was down),
/// so that the record of breaches is complete. A run found breached with no warning gets both, the warning first. A
/// pending run raises nothing until it counts again.
pub fn alerts_due(
    clocks: &[Clock],
    already: &[(ClockKind, i64, Alert)],
    warn_before_ms: i64,
) -> Vec<(ClockKind, i64, Alert)> {
    let mut due = Vec::new();
    for clock in clocks {
        let (warning, breach) = match clock.state {
            ClockState::Running { left_ms, .. } => (left_ms <= warn_before_ms, false),
            ClockState::Breached { .. } => (true, true),
            ClockState::Met { late_by_ms, .. } => (false, late_by_ms > 0),
            ClockState::Paused { .. } => (false, false),
        };
        for (alert, is_due) in [(Alert::Warning, warning), (Alert::Breach, breach)] {
            let key = (clock.kind, clock.started_at, alert);
            if is_due && !already.contains(&key) && !due.contains(&key) {
                due.push(key);
            }
        }
    }
    due
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    const M: i64 = 60_000;
    const H: i64 = 60 * M;

    /// A local time in the office's zone.
    fn at(year: i16, month: i8, day: i8, hour: i8, minute: i8) -> i64 {
        let tz = TimeZone::get("Europe/Amsterdam").unwrap();
        tz.to_timestamp(date(year, month, day).at(hour, minute, 0, 0)).unwrap().as_millisecond()
    }

    /// 09:00-17:00 on weekdays in Amsterdam, closed on Easter Monday 2026.
    fn office() -> Calendar {
        let mut week: [Vec<(u16, u16)>; 7] = Default::default();
        for day in ["mon", "Tue", "wed", "thu", "fri"] {
            week[parse_weekday(day).unwrap()].push(parse_hours("09:00-17:00").unwrap());
        }
        Calendar::new("Europe/Amsterdam", week, vec![date(2026, 4, 6)]).unwrap()
    }

    fn targets(first: Option<i64>, next: Option<i64>, resolution: Option<i64>) -> Targets {
        Targets { first_response_ms: first, next_response_ms: next, resolution_ms: resolution }
    }

    fn clock(kind: ClockKind, started_at: i64, target_ms: i64, state: ClockState) -> Clock {
        Clock { kind, started_at, target_ms, state }
    }

    fn running(due_at: i64, left_ms: i64) -> ClockState {
        ClockState::Running { due_at: Some(due_at), left_ms }
    }

    fn breached(due_at: i64, over_ms: i64) -> ClockState {
        ClockState::Breached { due_at: Some(due_at), over_ms }
    }

    fn met(at: i64, late_by_ms: i64) -> ClockState {
        ClockState::Met { at, late_by_ms }
    }

    #[test]
    fn clocks_from_facts() {
        use ClockKind::*;
        use Fact::*;
        // 2026: Fri 20 and Mon 23 March; the clocks go forward on Sun 29 March and back on Sun 25 October.
        let fri = |h, m| at(2026, 3, 20, h, m);
        let mon = |h, m| at(2026, 3, 23, h, m);
        let tue = |h, m| at(2026, 3, 24, h, m);
        let first = targets(Some(H), None, None);
        // (what, facts, now, clocks)
        let cases = vec![
            (
                "opened friday 16:30 with a 1 h first response is due monday 09:30",
                vec![(fri(16, 30), Opened(first))],
                fri(16, 45),
                vec![clock(FirstResponse, fri(16, 30), H, running(mon(9, 30), 45 * M))],
            ),
            (
                "pending from friday 12:00 to monday 10:00 costs no business time",
                vec![
                    (fri(10, 0), Opened(targets(None, None, Some(8 * H)))),
                    (fri(12, 0), Paused),
                    (mon(10, 0), Resumed),
                ],
                mon(10, 0),
                vec![clock(Resolution, fri(10, 0), 8 * H, running(mon(16, 0), 6 * H))],
            ),
            (
                "a pending clock keeps what it had left",
                vec![(fri(10, 0), Opened(targets(None, None, Some(8 * H)))), (fri(12, 0), Paused)],
                mon(15, 0),
                vec![clock(Resolution, fri(10, 0), 8 * H, ClockState::Paused { left_ms: 6 * H })],
            ),
            (
                "a deadline that would fall on the holiday moves to the next business day",
                vec![(at(2026, 4, 3, 16, 0), Opened(targets(Some(2 * H), None, None)))],
                at(2026, 4, 3, 16, 0),
                vec![clock(FirstResponse, at(2026, 4, 3, 16, 0), 2 * H, running(at(2026, 4, 7, 10, 0), 2 * H))],
            ),
            (
                "a retarget re-derives the deadline and keeps the time used",
                vec![
                    (mon(9, 0), Opened(targets(None, None, Some(8 * H)))),
                    (mon(10, 0), Retargeted(targets(None, None, Some(4 * H)))),
                ],
                mon(10, 0),
                vec![clock(Resolution, mon(9, 0), 4 * H, running(mon(13, 0), 3 * H))],
            ),
            (
                "a target added by a retarget counts from the opening; one removed drops its clock",
                vec![(mon(9, 0), Opened(targets(None, None, Some(8 * H)))), (mon(9, 30), Retargeted(first))],
                mon(9, 30),
                vec![clock(FirstResponse, mon(9, 0), H, running(mon(10, 0), 30 * M))],
            ),
            (
                "without a public reply (an internal note is no fact) the first response breaches",
                vec![(mon(9, 0), Opened(first))],
                mon(11, 0),
                vec![clock(FirstResponse, mon(9, 0), H, breached(mon(10, 0), H))],
            ),
            (
                "used up at a closing, a clock is due then and not breached until business time passes",
                vec![(fri(16, 0), Opened(first))],
                at(2026, 3, 21, 12, 0),
                vec![clock(FirstResponse, fri(16, 0), H, running(fri(17, 0), 0))],
            ),
            (
                "a clock is due when its time runs out, even across a pause after it",
                vec![(mon(9, 0), Opened(first)), (mon(10, 30), Paused), (tue(9, 0), Resumed)],
                tue(9, 10),
                vec![clock(FirstResponse, mon(9, 0), H, breached(mon(10, 0), 40 * M))],
            ),
            (
                "paused after its time ran out, a clock shows what it is over by",
                vec![(mon(9, 0), Opened(first)), (mon(10, 30), Paused)],
                tue(12, 0),
                vec![clock(FirstResponse, mon(9, 0), H, ClockState::Paused { left_ms: -30 * M })],
            ),
            (
                "a reply while pending meets the first response",
                vec![(mon(9, 0), Opened(first)), (mon(9, 20), Paused), (mon(14, 0), Responded)],
                tue(9, 0),
                vec![clock(FirstResponse, mon(9, 0), H, met(mon(14, 0), 0))],
            ),
            (
                "created friday 16:00 before summer time with 2 h is due monday 10:00",
                vec![(at(2026, 3, 27, 16, 0), Opened(targets(Some(2 * H), None, None)))],
                at(2026, 3, 27, 16, 0),
                vec![clock(FirstResponse, at(2026, 3, 27, 16, 0), 2 * H, running(at(2026, 3, 30, 10, 0), 2 * H))],
            ),
            (
                "created friday 16:00 before winter time with 2 h is due monday 10:00",
                vec![(at(2026, 10, 23, 16, 0), Opened(targets(Some(2 * H), None, None)))],
                at(2026, 10, 23, 16, 0),
                vec![clock(FirstResponse, at(2026, 10, 23, 16, 0), 2 * H, running(at(2026, 10, 26, 10, 0), 2 * H))],
            ),
            (
                "resolving stops every clock as met, late if its time had run out",
                vec![(mon(9, 0), Opened(targets(Some(H), None, Some(8 * H)))), (mon(11, 0), Resolved)],
                tue(9, 0),
                vec![
                    clock(FirstResponse, mon(9, 0), H, met(mon(11, 0), H)),
                    clock(Resolution, mon(9, 0), 8 * H, met(mon(11, 0), 0)),
                ],
            ),
            (
                "a reopen restarts resolution with its full target and leaves the first response met",
                vec![
                    (mon(9, 0), Opened(targets(Some(H), None, Some(4 * H)))),
                    (mon(9, 30), Responded),
                    (mon(15, 0), Resolved),
                    (tue(9, 0), Reopened),
                ],
                tue(10, 0),
                vec![
                    clock(FirstResponse, mon(9, 0), H, met(mon(9, 30), 0)),
                    clock(Resolution, mon(9, 0), 4 * H, met(mon(15, 0), 2 * H)),
                    clock(Resolution, tue(9, 0), 4 * H, running(tue(13, 0), 3 * H)),
                ],
            ),
            (
                "the requester writing starts a next response, which the following reply meets",
                vec![
                    (mon(9, 0), Opened(targets(Some(H), Some(2 * H), None))),
                    (mon(9, 30), Responded),
                    (mon(11, 0), RequesterWrote),
                    (mon(11, 30), RequesterWrote),
                    (mon(14, 0), Responded),
                ],
                mon(14, 0),
                vec![
                    clock(FirstResponse, mon(9, 0), H, met(mon(9, 30), 0)),
                    clock(NextResponse, mon(11, 0), 2 * H, met(mon(14, 0), H)),
                ],
            ),
            (
                "the requester writing before the first response starts no next response",
                vec![(mon(9, 0), Opened(targets(Some(H), Some(2 * H), None))), (mon(9, 10), RequesterWrote)],
                mon(9, 20),
                vec![clock(FirstResponse, mon(9, 0), H, running(mon(10, 0), 40 * M))],
            ),
            (
                "a message while pending starts its clock paused",
                vec![
                    (mon(9, 0), Opened(targets(None, Some(2 * H), None))),
                    (mon(9, 30), Responded),
                    (mon(10, 0), Paused),
                    (mon(11, 0), RequesterWrote),
                    (mon(12, 0), Resumed),
                ],
                mon(12, 30),
                vec![clock(NextResponse, mon(11, 0), 2 * H, running(mon(14, 0), 90 * M))],
            ),
            (
                "facts that change nothing where they stand are ignored",
                vec![
                    (mon(8, 0), Responded),
                    (mon(9, 0), Opened(targets(Some(H), None, Some(8 * H)))),
                    (mon(9, 0), Opened(targets(Some(M), None, Some(M)))),
                    (mon(9, 10), Resumed),
                    (mon(9, 20), Reopened),
                    (mon(10, 0), Paused),
                    (mon(11, 0), Paused),
                    (mon(12, 0), Resumed),
                    (mon(13, 0), Resumed),
                    (mon(14, 0), Resolved),
                    (mon(15, 0), Resolved),
                    (mon(15, 0), Paused),
                    (mon(16, 0), Resumed),
                ],
                tue(9, 0),
                vec![
                    clock(FirstResponse, mon(9, 0), H, met(mon(14, 0), 2 * H)),
                    clock(Resolution, mon(9, 0), 8 * H, met(mon(14, 0), 0)),
                ],
            ),
        ];
        for (what, facts, now, expected) in cases {
            assert_eq!(clocks(&office(), &facts, now), expected, "{what}");
        }
    }

    #[test]
    fn summer_time_is_counted_in_local_hours() {
        assert_eq!(at(2026, 3, 30, 10, 0), "2026-03-30T08:00:00Z".parse::<Timestamp>().unwrap().as_millisecond());
        let mut whole_days: [Vec<(u16, u16)>; 7] = Default::default();
        whole_days.fill(vec![(0, DAY_MINUTES)]);
        let whole_days = Calendar::new("Europe/Amsterdam", whole_days, vec![]).unwrap();
        // Sunday's ranges straddle the change: 02:00-03:00 is skipped in March and repeated in October.
        let mut sundays: [Vec<(u16, u16)>; 7] = Default::default();
        sundays[6] = vec![(60, 150), (150, 180), (180, 240)];
        let sundays = Calendar::new("Europe/Amsterdam", sundays, vec![]).unwrap();
        // (calendar, from, to, business time)
        let cases = [
            (office(), at(2026, 3, 27, 9, 0), at(2026, 3, 30, 17, 0), 16 * H),
            (office(), at(2026, 10, 23, 9, 0), at(2026, 10, 26, 17, 0), 16 * H),
            (office(), at(2026, 3, 23, 0, 0), at(2026, 4, 6, 0, 0), 80 * H),
            (whole_days.clone(), at(2026, 3, 28, 0, 0), at(2026, 3, 30, 0, 0), 47 * H),
            (whole_days, at(2026, 10, 24, 0, 0), at(2026, 10, 26, 0, 0), 49 * H),
            // 01:00 to 04:00 on the clock is as long as it really lasts, and the range in the gap counts nothing.
            (sundays.clone(), at(2026, 3, 29, 0, 0), at(2026, 3, 30, 0, 0), 2 * H),
            (sundays, at(2026, 10, 25, 0, 0), at(2026, 10, 26, 0, 0), 4 * H),
        ];
        for (calendar, from, to, ms) in cases {
            assert_eq!(calendar.business_ms(from, to), ms, "{from} to {to}");
        }
    }

    #[test]
    fn walks_see_the_zone_as_exact_lookups_do() {
        // Odd zones: a 30-minute change (Lord Howe), a skipped day (Apia, 2011-12-30), changes at midnight (Sao Paulo).
        let zones =
            ["Europe/Amsterdam", "America/New_York", "Australia/Lord_Howe", "Pacific/Apia", "America/Sao_Paulo"];
        let ranges = vec![(0, 60), (90, 150), (150, 180), (540, 1020), (1380, 1440)];
        let first = date(2009, 6, 1);
        for zone in zones {
            let calendar =
                Calendar::new(zone, std::array::from_fn(|_| ranges.clone()), vec![date(2010, 1, 1)]).unwrap();
            let (mut expected, mut day, mut floor) = (Vec::new(), first, i64::MIN);
            while day < date(2013, 6, 1) {
                if day != date(2010, 1, 1) {
                    for &(start, end) in &ranges {
                        let start = exact_instant(&calendar.tz, day, start).unwrap().as_millisecond().max(floor);
                        let end = exact_instant(&calendar.tz, day, end).unwrap().as_millisecond();
                        if start < end {
                            floor = end;
                            expected.push((start, end));
                        }
                    }
                }
                day = day.tomorrow().unwrap();
            }
            let from = exact_instant(&calendar.tz, first.tomorrow().unwrap(), 0).unwrap().as_millisecond();
            let mut walked = Vec::new();
            calendar.walk(from, |start, end| {
                walked.push((start, end));
                if walked.len() < expected.len() { ControlFlow::Continue(()) } else { ControlFlow::Break(()) }
            });
            assert_eq!(walked, expected, "{zone}");
        }
    }

    #[test]
    fn hours_walked_once_measure_as_a_walk_per_span_does() {
        use rand::{Rng, SeedableRng};
        // The odd zones above, ranges touching each other and midnight, a holiday, and a stretch across changes.
        let zones =
            ["Europe/Amsterdam", "America/New_York", "Australia/Lord_Howe", "Pacific/Apia", "America/Sao_Paulo"];
        let ranges = vec![(0, 60), (90, 150), (150, 180), (540, 1020), (1380, 1440)];
        let utc = |y, m, d| TimeZone::UTC.to_timestamp(date(y, m, d).at(0, 0, 0, 0)).unwrap().as_millisecond();
        let (from, to) = (utc(2010, 6, 1), utc(2012, 6, 1));
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        for zone in zones {
            let calendar =
                Calendar::new(zone, std::array::from_fn(|_| ranges.clone()), vec![date(2011, 3, 1)]).unwrap();
            let hours = calendar.hours(from, to);
            for i in 0..2_000 {
                // Some spans reach outside the stretch, to be walked; most are hours to weeks long, a few a year.
                let start = rng.random_range(from - 30 * 24 * H..to);
                let long = if i % 100 == 0 { 400 * 24 * H } else { 30 * 24 * H };
                let end = start + rng.random_range(-H..long);
                assert_eq!(hours.business_ms(start, end), calendar.business_ms(start, end), "{zone}: {start} to {end}");
            }
            for t in [from, to - 1, utc(2011, 12, 29), utc(2011, 12, 31)] {
                assert_eq!(hours.business_ms(from, t), calendar.business_ms(from, t), "{zone}: to {t}");
            }
        }
        // Longer than one walk goes: the last five years are looked up, a span before them walked.
        let calendar = office();
        let end = from + 6 * 366 * 24 * H;
        let hours = calendar.hours(from, end);
        assert!(hours.intervals[0].0 > from + 366 * 24 * H);
        for start in [from, end - 30 * 24 * H] {
            assert_eq!(hours.business_ms(start, start + 7 * 24 * H), calendar.business_ms(start, start + 7 * 24 * H));
        }
    }

    #[test]
    fn adding_back_the_business_time_between_two_instants() {
        let calendar = office();
        let instants = [
            at(2026, 3, 20, 8, 0),
            at(2026, 3, 20, 9, 0),
            at(2026, 3, 20, 12, 34),
            at(2026, 3, 20, 17, 0),
            at(2026, 3, 21, 11, 0),
            at(2026, 3, 27, 16, 59),
            at(2026, 3, 30, 9, 1),
            at(2026, 4, 6, 10, 0),
            at(2026, 4, 7, 16, 0),
        ];
        for &from in &instants {
            for &to in instants.iter().filter(|&&to| to >= from) {
                let ms = calendar.business_ms(from, to);
                let back = calendar.add_business(from, ms).unwrap();
                assert!(back <= to, "{from} + {ms} lands after {to}");
                assert_eq!(calendar.business_ms(from, back), ms, "{from} to {to}");
                let in_hours = calendar.business_ms(to - 1, to) == 1;
                if ms > 0 && in_hours {
                    assert_eq!(back, to, "{from} to {to}");
                }
            }
        }
    }

    #[test]
    fn always_is_wall_time() {
        let calendar = Calendar::always();
        let from = at(2026, 3, 28, 23, 0);
        assert_eq!(calendar.business_ms(from, from + 50 * H), 50 * H);
        assert_eq!(calendar.add_business(from, 50 * H), Some(from + 50 * H));
        assert_eq!(calendar.business_ms(from, from - 1), 0);
    }

    #[test]
    fn walks_through_the_calendar_are_bounded() {
        let calendar = office();
        let from = at(2026, 3, 23, 9, 0);
        assert_eq!(calendar.add_business(from, 100 * 365 * 24 * H), None);
        assert!(calendar.business_ms(from, from + 100 * 365 * 24 * H) < 5 * 366 * 8 * H);
        assert_eq!(calendar.add_business(i64::MAX, H), None);
        // Past the years jiff knows, the walk just ends.
        assert!(calendar.business_ms(i64::MIN, i64::MAX) <= 5 * 366 * 8 * H);
        let absurd = |target| clocks(&calendar, &[(from, Fact::Opened(targets(Some(target), None, None)))], from + H);
        assert_eq!(absurd(i64::MAX)[0].state, ClockState::Running { due_at: None, left_ms: i64::MAX - H });
        assert_eq!(absurd(i64::MIN)[0].state, ClockState::Breached { due_at: Some(from), over_ms: i64::MAX });
    }

    #[test]
    fn parsing_hours_and_weekdays() {
        // (text, minutes)
        let hours = [("09:00-17:00", (540, 1020)), (" 0:00 - 24:00 ", (0, 1440)), ("12:30-13:05", (750, 785))];
        for (text, minutes) in hours {
            assert_eq!(parse_hours(text), Ok(minutes), "{text}");
        }
        let bad = [
            ("9-17", "a time is not HH:MM from 00:00 to 24:00"),
            ("09:00-24:30", "a time is not HH:MM from 00:00 to 24:00"),
            ("09:00-+9:00", "a time is not HH:MM from 00:00 to 24:00"),
            ("09:00", "no '-' between start and end"),
            ("17:00-09:00", "does not start before it ends"),
            ("09:00-09:00", "does not start before it ends"),
        ];
        for (text, why) in bad {
            assert_eq!(parse_hours(text), Err(SlaError::Hours { what: format!("{:?}", text.trim()), why }), "{text}");
        }
        assert_eq!(parse_weekday("SUN"), Ok(6));
        assert_eq!(parse_weekday("monday"), Err(SlaError::Weekday("monday".into())));
    }

    #[test]
    fn bad_calendars_are_refused() {
        let weekdays = |ranges: Vec<(u16, u16)>| -> [Vec<(u16, u16)>; 7] {
            std::array::from_fn(|day| if day < 5 { ranges.clone() } else { Vec::new() })
        };
        let hours = |what: &str, why| SlaError::Hours { what: what.into(), why };
        // (zone, week, error)
        let cases = [
            ("Europe/Atlantis", weekdays(vec![(540, 1020)]), SlaError::UnknownZone("Europe/Atlantis".into())),
            ("UTC", weekdays(vec![(1020, 540)]), hours("mon 17:00-09:00", "does not start before it ends")),
            ("UTC", weekdays(vec![(540, 1500)]), hours("mon 09:00-25:00", "ends after 24:00")),
            ("UTC", weekdays(vec![(780, 1020), (540, 800)]), hours("mon 13:00-17:00", "overlaps the range before it")),
            ("UTC", Default::default(), SlaError::NoHours),
        ];
        for (zone, week, error) in cases {
            let message = error.to_string();
            assert_eq!(Calendar::new(zone, week, vec![]).map(|_| ()), Err(error), "{message}");
        }
        assert_eq!(
            hours("mon 17:00-09:00", "does not start before it ends").to_string(),
            "business hours mon 17:00-09:00: does not start before it ends; \
             write ranges such as 09:00-17:00 that do not overlap"
        );
        let touching = weekdays(vec![(720, 1020), (540, 720)]);
        assert!(Calendar::new("UTC", touching, vec![]).is_ok());
    }

    #[test]
    fn each_alert_is_due_once_and_the_warning_first() {
        use Alert::*;
        use ClockKind::*;
        let mon = |h, m| at(2026, 3, 23, h, m);
        let tue = |h, m| at(2026, 3, 24, h, m);
        let facts = [
            (mon(9, 0), Fact::Opened(targets(Some(H), Some(2 * H), Some(6 * H)))),
            (mon(10, 30), Fact::Responded),
            (mon(11, 0), Fact::RequesterWrote),
            (mon(12, 0), Fact::Paused),
            (tue(9, 0), Fact::Resumed),
            (tue(9, 45), Fact::Responded),
            (tue(13, 0), Fact::Resolved),
        ];
        let calendar = office();
        let mut recorded: Vec<(i64, (ClockKind, i64, Alert))> = Vec::new();
        let mut now = mon(8, 0);
        while now <= at(2026, 3, 25, 12, 0) {
            let known: Vec<_> = facts.iter().filter(|(at, _)| *at <= now).cloned().collect();
            let already: Vec<_> = recorded.iter().map(|(_, key)| *key).collect();
            let due = alerts_due(&clocks(&calendar, &known, now), &already, 30 * M);
            recorded.extend(due.into_iter().map(|key| (now, key)));
            now += 5 * M;
        }
        assert_eq!(
            recorded,
            [
                (mon(9, 30), (FirstResponse, mon(9, 0), Warning)),
                (mon(10, 5), (FirstResponse, mon(9, 0), Breach)),
                (tue(9, 30), (NextResponse, mon(11, 0), Warning)),
                (tue(11, 30), (Resolution, mon(9, 0), Warning)),
                (tue(12, 5), (Resolution, mon(9, 0), Breach)),
            ]
        );
    }

    #[test]
    fn alerts_missed_while_the_server_was_away() {
        use Alert::*;
        use ClockKind::*;
        let mon = |h, m| at(2026, 3, 23, h, m);
        let later = at(2026, 3, 25, 12, 0);
        let first = Fact::Opened(targets(Some(H), None, None));
        // (what, facts, due)
        let cases = [
            (
                "breached unseen: the warning, then the breach",
                vec![(mon(9, 0), first.clone())],
                vec![(FirstResponse, mon(9, 0), Warning), (FirstResponse, mon(9, 0), Breach)],
            ),
            (
                "met late unseen: the breach alone",
                vec![(mon(9, 0), first.clone()), (mon(11, 0), Fact::Responded)],
                vec![(FirstResponse, mon(9, 0), Breach)],
            ),
            ("met in time: nothing", vec![(mon(9, 0), first.clone()), (mon(9, 59), Fact::Responded)], vec![]),
            ("pending past due: nothing yet", vec![(mon(9, 0), first.clone()), (mon(11, 0), Fact::Paused)], vec![]),
        ];
        for (what, facts, due) in cases {
            let clocks = clocks(&office(), &facts, later);
            assert_eq!(alerts_due(&clocks, &[], 30 * M), due, "{what}");
            assert_eq!(alerts_due(&clocks, &due, 30 * M), [], "{what}");
        }
    }

    #[test]
    fn clocks_are_a_pure_fold_of_the_facts() {
        let mon = |h, m| at(2026, 3, 23, h, m);
        let facts = vec![
            (mon(9, 0), Fact::Opened(targets(Some(H), Some(H), Some(8 * H)))),
            (mon(9, 30), Fact::Responded),
            (mon(10, 0), Fact::RequesterWrote),
            (mon(11, 0), Fact::Paused),
        ];
        let calendar = office();
        let noon = clocks(&calendar, &facts, mon(12, 0));
        assert_eq!(clocks(&calendar, &facts.clone(), mon(12, 0)), noon);
        // A reading at another time leaves nothing behind that the next reading would use.
        assert_ne!(clocks(&calendar, &facts[..2], mon(9, 45)), noon);
        assert_eq!(clocks(&calendar, &facts, mon(12, 0)), noon);
    }

    #[test]
    fn clocks_serialize_flat_with_snake_case_names() {
        let c = clock(ClockKind::FirstResponse, 1, H, running(2, 3));
        let json = serde_json::to_string(&c).unwrap();
        assert_eq!(
            json,
            r#"{"kind":"first_response","started_at":1,"target_ms":3600000,"state":"running","due_at":2,"left_ms":3}"#
        );
        assert_eq!(serde_json::from_str::<Clock>(&json).unwrap(), c);
        for kind in [ClockKind::FirstResponse, ClockKind::NextResponse, ClockKind::Resolution] {
            assert_eq!(serde_json::to_value(kind).unwrap(), kind.as_str());
        }
    }
}
