//! The figures managers read, as rows: each technician's work, response and resolution times, the backlog and the
//! flow of tickets, SLA alerts, categories over time, what requesters were taught, and what checks led to. Each report
//! is a pure function of the tickets' [`Facts`], so it comes out the same whenever it is computed: a figure of a
//! closed period reads each ticket as it stood then, through its histories, and counts only events inside the period,
//! so a later edit, reopening, merge or new category leaves it as it was.
//!
//! A duration is shown as a spread (how many, the median and the 90th percentile, never a mean, which one forgotten
//! ticket would drag) twice: in wall-clock time, what the requester waited, and in the business time of the help
//! desk's calendar, what the help desk is held to.
//!
//! Rows are flat (no nested objects) so that [`to_csv`] writes them as they are; the JSON of a report is serde's.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{Span, Timestamp};
use serde::de::{self, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use super::actor::ActorKind;
use super::checks::RunState;
use super::priority::Level;
use super::sla::{Alert, BusinessHours, Calendar, ClockKind};
use super::stats::{Facts, Parts, Resolution};
use super::tickets::{Channel, Status};

/// The technician of the row that holds the team's totals; technicians' names never have parentheses.
pub const ALL: &str = "(all)";
/// The category of a ticket that has none.
pub const NO_CATEGORY: &str = "(none)";
/// The department of a person who is not on record, or has none.
pub const UNKNOWN_DEPARTMENT: &str = "(unknown)";
/// The resolution code the education report counts: the cause was the user's, and they were shown how.
pub const USER_INSTRUCTED: &str = "user-instructed";
/// The backlog's age buckets, as its rows name them: `[0, 1d)`, `[1d, 3d)`, `[3d, 7d)`, `[7d, 30d)`, `[30d, ∞)`.
pub const AGE_BUCKETS: [&str; 5] = ["0-1d", "1-3d", "3-7d", "7-30d", "over 30d"];

const DAY_MS: i64 = 24 * 60 * 60 * 1000;
/// Where each age bucket after the first begins.
const AGE_BOUNDS: [i64; 4] = [DAY_MS, 3 * DAY_MS, 7 * DAY_MS, 30 * DAY_MS];
const CLOCKS: [ClockKind; 3] = [ClockKind::FirstResponse, ClockKind::NextResponse, ClockKind::Resolution];

/// A report read one ticket at a time: the store hands each ticket's facts to [`Report::add`] as it decodes them,
/// into one value it reuses, so that a report over a year of a large desk neither holds 100,000 tickets' facts at
/// once nor allocates each (which was most of its time; BENCHMARKS.md, the report rows). The functions named after
/// the reports feed one a slice.
pub trait Report {
    type Output;
    /// What it reads of the facts: the store decodes only that. A test holds each report to the same figures from
    /// these parts as from all of them.
    fn reads(&self) -> Parts;
    fn add(&mut self, f: &Facts);
    fn finish(self) -> Self::Output;
}

/// `report` over `facts`.
pub fn over<R: Report>(mut report: R, facts: &[Facts]) -> R::Output {
    for f in facts {
        report.add(f);
    }
    report.finish()
}

/// What a report's range is cut into.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Bucket {
    Day,
    /// An ISO week, Monday to Sunday.
    Week,
    Month,
}

/// A stretch of time, `[from, to)`, in Unix milliseconds.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub from: i64,
    pub to: i64,
}

impl Period {
    fn contains(&self, t: i64) -> bool {
        self.from <= t && t < self.to
    }
}

/// The periods `[from, to)` is cut into, in zone `tz`: aligned to the starts of local days, ISO weeks (Monday) or
/// months, so a day is one local date however long the clocks make it (23 or 25 hours at a daylight-saving change).
/// The first and last are clipped to `from` and `to`. Every period is listed, empty ones too, so a report shows an
/// idle week as zeros rather than leaving it out. Labels: `2026-03-02` for a day, `2026-W10` for an ISO week (its
/// week-based year: 2025-12-31 is in `2026-W01`), `2026-03` for a month.
pub fn periods(tz: &TimeZone, from: i64, to: i64, by: Bucket) -> Vec<(String, Period)> {
    let mut out = Vec::new();
    if from >= to {
        return out;
    }
    let Ok(first) = Timestamp::from_millisecond(from) else { return out };
    let Some(mut start) = bucket_start(tz.to_datetime(first).date(), by) else { return out };
    let mut begin = from;
    // Ends at `to`; or early, clipped, at the end of the dates jiff knows, which no real range reaches.
    while let Some(next) = next_start(start, by) {
        let Some(end) = midnight(tz, next) else { break };
        out.push((label(start, by), Period { from: begin, to: end.min(to) }));
        if end >= to {
            break;
        }
        (begin, start) = (end, next);
    }
    out
}

fn bucket_start(date: Date, by: Bucket) -> Option<Date> {
    match by {
        Bucket::Day => Some(date),
        Bucket::Week => date.checked_sub(Span::new().days(i64::from(date.weekday().to_monday_zero_offset()))).ok(),
        Bucket::Month => Some(date.first_of_month()),
    }
}

fn next_start(start: Date, by: Bucket) -> Option<Date> {
    match by {
        Bucket::Day => start.tomorrow().ok(),
        Bucket::Week => start.checked_add(Span::new().days(7)).ok(),
        Bucket::Month => start.checked_add(Span::new().months(1)).ok(),
    }
}

/// When a local date begins: its midnight, or the first instant after it where a change skips midnight itself.
fn midnight(tz: &TimeZone, date: Date) -> Option<i64> {
    tz.to_timestamp(date.at(0, 0, 0, 0)).ok().map(|t| t.as_millisecond())
}

fn label(start: Date, by: Bucket) -> String {
    match by {
        Bucket::Day => format!("{:04}-{:02}-{:02}", start.year(), start.month(), start.day()),
        Bucket::Week => {
            let week = start.iso_week_date();
            format!("{:04}-W{:02}", week.year(), week.week())
        }
        Bucket::Month => format!("{:04}-{:02}", start.year(), start.month()),
    }
}

/// The index of the period of `cut` (as [`periods`] cuts, in order and each starting where the one before ends)
/// that holds `t`.
fn period_of(cut: &[(String, Period)], t: i64) -> Option<usize> {
    let i = cut.partition_point(|(_, p)| p.to <= t);
    cut.get(i).filter(|(_, p)| p.contains(t)).map(|_| i)
}

/// How long something took across a set of tickets.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spread {
    pub count: u64,
    pub median_ms: Option<i64>,
    pub p90_ms: Option<i64>,
}

/// Nearest-rank percentiles: the p-th is the value at rank ⌈p/100 · n⌉ (1-based) of the sorted values, always one of
/// them; `None` for none. Each is selected rather than the values sorted, which a year of resolutions makes worth it.
pub fn spread(mut values: Vec<i64>) -> Spread {
    let n = values.len();
    let mut rank = |p: usize| {
        let i = (p * n).div_ceil(100).saturating_sub(1);
        (i < n).then(|| *values.select_nth_unstable(i).1)
    };
    Spread { count: n as u64, median_ms: rank(50), p90_ms: rank(90) }
}

/// Durations, each in wall-clock and in business time.
type Spans = Vec<(i64, i64)>;

/// The wall-clock and business time of `[from, to)`.
fn span(hours: &BusinessHours, from: i64, to: i64) -> (i64, i64) {
    (to - from, hours.business_ms(from, to))
}

/// The business hours a report measures its durations in, walked once: up to `to`, and as far back as a walk goes
/// (a duration starts at an opening or a reopening, which may be long before the range; one from before that is
/// walked on its own).
fn hours(cal: &Calendar, to: i64) -> BusinessHours {
    cal.hours(i64::MIN, to)
}

/// Adds to the value under `key`, added as the default if missing, without allocating a key for every event.
fn bump<V: Default>(map: &mut BTreeMap<String, V>, key: &str, add: impl FnOnce(&mut V)) {
    match map.get_mut(key) {
        Some(value) => add(value),
        None => add(map.entry(key.to_owned()).or_default()),
    }
}

/// One set of durations, as wall-clock and business spreads.
struct Times {
    count: u64,
    wall: Spread,
    business: Spread,
}

fn times(spans: &[(i64, i64)]) -> Times {
    let wall = spread(spans.iter().map(|(wall, _)| *wall).collect());
    let business = spread(spans.iter().map(|(_, business)| *business).collect());
    Times { count: wall.count, wall, business }
}

/// One technician's work in one period, or the team's (technician [`ALL`]).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, utoipa::ToSchema)]
pub struct TechnicianRow {
    pub period: String,
    pub technician: String,
    /// Resolutions in the period; a ticket resolved twice counts twice.
    pub resolved: u64,
    /// Of those, resolved at first contact: marked so, or reached with at most one public reply before it and not
    /// reopened by the end of the period.
    pub first_contact: u64,
    /// Of those, reopened before the end of the period.
    pub reopened: u64,
    pub public_replies: u64,
    /// Tickets whose first public reply was in the period, and theirs: from the opening to that reply.
    pub first_response_count: u64,
    pub first_response_wall_median_ms: Option<i64>,
    pub first_response_wall_p90_ms: Option<i64>,
    pub first_response_business_median_ms: Option<i64>,
    pub first_response_business_p90_ms: Option<i64>,
    /// Of the resolutions in the period (`resolved` of them): from the opening, or the reopening, to the resolution.
    pub resolution_wall_median_ms: Option<i64>,
    pub resolution_wall_p90_ms: Option<i64>,
    pub resolution_business_median_ms: Option<i64>,
    pub resolution_business_p90_ms: Option<i64>,
}

#[derive(Default, Clone)]
struct Work {
    resolved: u64,
    first_contact: u64,
    reopened: u64,
    public_replies: u64,
    first_responses: Spans,
    resolutions: Spans,
}

impl Work {
    fn resolution(&mut self, took: (i64, i64), first_contact: bool, reopened: bool) {
        self.resolved += 1;
        self.first_contact += u64::from(first_contact);
        self.reopened += u64::from(reopened);
        self.resolutions.push(took);
    }

    fn row(&self, period: &str, technician: &str) -> TechnicianRow {
        let first = times(&self.first_responses);
        let resolution = times(&self.resolutions);
        TechnicianRow {
            period: period.to_owned(),
            technician: technician.to_owned(),
            resolved: self.resolved,
            first_contact: self.first_contact,
            reopened: self.reopened,
            public_replies: self.public_replies,
            first_response_count: first.count,
            first_response_wall_median_ms: first.wall.median_ms,
            first_response_wall_p90_ms: first.wall.p90_ms,
            first_response_business_median_ms: first.business.median_ms,
            first_response_business_p90_ms: first.business.p90_ms,
            resolution_wall_median_ms: resolution.wall.median_ms,
            resolution_wall_p90_ms: resolution.wall.p90_ms,
            resolution_business_median_ms: resolution.business.median_ms,
            resolution_business_p90_ms: resolution.business.p90_ms,
        }
    }
}

/// Whether a resolution needed no second contact: marked so in the call or visit that opened the ticket, or reached
/// with at most one public reply and not reopened by `end`, the period's end, so a later reopening leaves a closed
/// period as it was.
fn first_contact(f: &Facts, r: &Resolution, end: i64) -> bool {
    let replies = f.replies.iter().filter(|(at, _)| *at < r.at).count();
    r.first_contact || (replies <= 1 && r.reopened_at.is_none_or(|at| at >= end))
}

/// Per period: a row for the team ([`ALL`], there even when nothing happened, and counting resolutions by requesters
/// and the system too), then one per technician who resolved, replied or first-responded in it, by name.
pub fn technicians(
    facts: &[Facts],
    cal: &Calendar,
    tz: &TimeZone,
    from: i64,
    to: i64,
    by: Bucket,
) -> Vec<TechnicianRow> {
    over(Technicians::new(cal, tz, from, to, by), facts)
}

/// [`technicians`], a ticket at a time.
#[derive(Clone)]
pub struct Technicians {
    cut: Vec<(String, Period)>,
    // Shared, so that a copy for one ticket ([`Behind`]) does not copy years of business hours.
    hours: Arc<BusinessHours>,
    /// The team's work and each technician's, per period.
    work: Vec<(Work, BTreeMap<String, Work>)>,
}

impl Technicians {
    pub fn new(cal: &Calendar, tz: &TimeZone, from: i64, to: i64, by: Bucket) -> Technicians {
        let cut = periods(tz, from, to, by);
        let work = cut.iter().map(|_| Default::default()).collect();
        Technicians { cut, hours: Arc::new(hours(cal, to)), work }
    }
}

/// The period of `cut` that holds `t`, with its end, if the ticket counts in it.
fn counted(cut: &[(String, Period)], f: &Facts, t: i64) -> Option<(usize, i64)> {
    let i = period_of(cut, t)?;
    let end = cut.get(i)?.1.to;
    f.counts_until(end).then_some((i, end))
}

impl Report for Technicians {
    type Output = Vec<TechnicianRow>;

    fn reads(&self) -> Parts {
        Parts::REPLIES.and(Parts::RESOLUTIONS)
    }

    fn add(&mut self, f: &Facts) {
        for r in &f.resolutions {
            let Some((i, end)) = counted(&self.cut, f, r.at) else { continue };
            let Some((team, each)) = self.work.get_mut(i) else { continue };
            let first_contact = first_contact(f, r, end);
            let reopened = r.reopened_at.is_some_and(|at| at < end);
            let took = span(&self.hours, r.since, r.at);
            team.resolution(took, first_contact, reopened);
            if r.by_kind == ActorKind::Technician {
                bump(each, &r.by, |w| w.resolution(took, first_contact, reopened));
            }
        }
        for (at, who) in &f.replies {
            let Some((team, each)) = counted(&self.cut, f, *at).and_then(|(i, _)| self.work.get_mut(i)) else {
                continue;
            };
            team.public_replies += 1;
            bump(each, who, |w| w.public_replies += 1);
        }
        if let Some((at, who)) = f.replies.first()
            && let Some((team, each)) = counted(&self.cut, f, *at).and_then(|(i, _)| self.work.get_mut(i))
        {
            let took = span(&self.hours, f.opened_at, *at);
            team.first_responses.push(took);
            bump(each, who, |w| w.first_responses.push(took));
        }
    }

    fn finish(self) -> Vec<TechnicianRow> {
        let mut rows = Vec::new();
        for ((label, _), (team, each)) in self.cut.iter().zip(&self.work) {
            rows.push(team.row(label, ALL));
            rows.extend(each.iter().map(|(name, work)| work.row(label, name)));
        }
        rows
    }
}

/// What [`response`] groups tickets by.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Dimension {
    Priority,
    Channel,
    Category,
    Tier,
}

/// Response and resolution times of one group.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, utoipa::ToSchema)]
pub struct ResponseRow {
    /// The priority (`high`), channel (`phone`), category ([`NO_CATEGORY`] for none) or tier (`2`).
    pub group: String,
    /// Tickets first responded to in the range: from the opening to the first public reply.
    pub first_response_count: u64,
    pub first_response_wall_median_ms: Option<i64>,
    pub first_response_wall_p90_ms: Option<i64>,
    pub first_response_business_median_ms: Option<i64>,
    pub first_response_business_p90_ms: Option<i64>,
    /// Resolutions in the range: from the opening, or the reopening, to the resolution.
    pub resolution_count: u64,
    pub resolution_wall_median_ms: Option<i64>,
    pub resolution_wall_p90_ms: Option<i64>,
    pub resolution_business_median_ms: Option<i64>,
    pub resolution_business_p90_ms: Option<i64>,
}

/// A ticket's group at `t`, with what sorts it: levels and channels in their declared order, tiers by number,
/// categories by name.
fn group(f: &Facts, dimension: Dimension, t: i64) -> (u8, String) {
    let none = || (u8::MAX, NO_CATEGORY.to_owned());
    match dimension {
        Dimension::Priority => Facts::at(&f.priorities, t).map_or_else(none, |l| (l.rank(), l.as_str().to_owned())),
        Dimension::Channel => {
            let order = Channel::ALL.iter().position(|c| *c == f.channel).unwrap_or(usize::MAX);
            (u8::try_from(order).unwrap_or(u8::MAX), f.channel.as_str().to_owned())
        }
        Dimension::Category => (0, category_at(f, t)),
        Dimension::Tier => Facts::at(&f.tiers, t).map_or_else(none, |tier| (tier, tier.to_string())),
    }
}

fn category_at(f: &Facts, t: i64) -> String {
    Facts::at(&f.categories, t).flatten().unwrap_or_else(|| NO_CATEGORY.to_owned())
}

/// First-response and resolution times in `[from, to)` by `dimension`, each ticket in the group it was in at the
/// moment of the response or resolution. The count of each spread is its cohort: the same tickets as its times.
pub fn response(facts: &[Facts], cal: &Calendar, from: i64, to: i64, dimension: Dimension) -> Vec<ResponseRow> {
    over(Response::new(cal, from, to, dimension), facts)
}

/// [`response`], a ticket at a time.
#[derive(Clone)]
pub struct Response {
    range: Period,
    dimension: Dimension,
    hours: Arc<BusinessHours>,
    /// (first responses, resolutions) per group.
    groups: BTreeMap<(u8, String), (Spans, Spans)>,
}

impl Response {
    pub fn new(cal: &Calendar, from: i64, to: i64, dimension: Dimension) -> Response {
        Response { range: Period { from, to }, dimension, hours: Arc::new(hours(cal, to)), groups: BTreeMap::new() }
    }
}

impl Report for Response {
    type Output = Vec<ResponseRow>;

    fn reads(&self) -> Parts {
        let grouped = match self.dimension {
            Dimension::Priority => Parts::PRIORITIES,
            Dimension::Channel => Parts::NONE,
            Dimension::Category => Parts::CATEGORIES,
            Dimension::Tier => Parts::TIERS,
        };
        Parts::REPLIES.and(Parts::RESOLUTIONS).and(grouped)
    }

    fn add(&mut self, f: &Facts) {
        let (range, dimension) = (self.range, self.dimension);
        if !f.counts_until(range.to) {
            return;
        }
        if let Some((at, _)) = f.replies.first().filter(|(at, _)| range.contains(*at)) {
            self.groups.entry(group(f, dimension, *at)).or_default().0.push(span(&self.hours, f.opened_at, *at));
        }
        for r in f.resolutions.iter().filter(|r| range.contains(r.at)) {
            self.groups.entry(group(f, dimension, r.at)).or_default().1.push(span(&self.hours, r.since, r.at));
        }
    }

    fn finish(self) -> Vec<ResponseRow> {
        self.groups
            .into_iter()
            .map(|((_, group), (first, resolutions))| {
                let (first, resolution) = (times(&first), times(&resolutions));
                ResponseRow {
                    group,
                    first_response_count: first.count,
                    first_response_wall_median_ms: first.wall.median_ms,
                    first_response_wall_p90_ms: first.wall.p90_ms,
                    first_response_business_median_ms: first.business.median_ms,
                    first_response_business_p90_ms: first.business.p90_ms,
                    resolution_count: resolution.count,
                    resolution_wall_median_ms: resolution.wall.median_ms,
                    resolution_wall_p90_ms: resolution.wall.p90_ms,
                    resolution_business_median_ms: resolution.business.median_ms,
                    resolution_business_p90_ms: resolution.business.p90_ms,
                }
            })
            .collect()
    }
}

/// The tickets open at one instant.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, utoipa::ToSchema)]
pub struct BacklogReport {
    pub at: i64,
    pub total: u64,
    /// Tiers 1 to 3 always, by tier.
    pub rows: Vec<BacklogRow>,
}

/// The open tickets of one tier, by age (the time since they were opened): the fields are named as
/// [`AGE_BUCKETS`].
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, utoipa::ToSchema)]
pub struct BacklogRow {
    pub tier: u8,
    pub total: u64,
    #[serde(rename = "0-1d")]
    pub age_0_1d: u64,
    #[serde(rename = "1-3d")]
    pub age_1_3d: u64,
    #[serde(rename = "3-7d")]
    pub age_3_7d: u64,
    #[serde(rename = "7-30d")]
    pub age_7_30d: u64,
    #[serde(rename = "over 30d")]
    pub age_over_30d: u64,
}

impl BacklogRow {
    fn empty(tier: u8) -> BacklogRow {
        BacklogRow { tier, total: 0, age_0_1d: 0, age_1_3d: 0, age_3_7d: 0, age_7_30d: 0, age_over_30d: 0 }
    }

    fn add(&mut self, age_ms: i64) {
        self.total += 1;
        let bucket = match age_bucket(age_ms) {
            0 => &mut self.age_0_1d,
            1 => &mut self.age_1_3d,
            2 => &mut self.age_3_7d,
            3 => &mut self.age_7_30d,
            _ => &mut self.age_over_30d,
        };
        *bucket += 1;
    }
}

/// The index in [`AGE_BUCKETS`] of an age: each bucket holds its lower bound.
fn age_bucket(age_ms: i64) -> usize {
    AGE_BOUNDS.iter().filter(|bound| age_ms >= **bound).count()
}

/// The tickets open at `at`, by their tier then: opened by then, not resolved, closed or merged then.
pub fn backlog(facts: &[Facts], at: i64) -> BacklogReport {
    over(Backlog::new(at), facts)
}

/// [`backlog`], a ticket at a time.
#[derive(Clone)]
pub struct Backlog {
    at: i64,
    total: u64,
    tiers: BTreeMap<u8, BacklogRow>,
}

impl Backlog {
    pub fn new(at: i64) -> Backlog {
        Backlog { at, total: 0, tiers: (1..=3).map(|tier| (tier, BacklogRow::empty(tier))).collect() }
    }
}

impl Report for Backlog {
    type Output = BacklogReport;

    fn reads(&self) -> Parts {
        Parts::STATUSES.and(Parts::TIERS)
    }

    fn add(&mut self, f: &Facts) {
        let at = self.at;
        if f.opened_at > at || !f.counts_until(at) {
            return;
        }
        let open = Facts::at(&f.statuses, at)
            .is_some_and(|status| !matches!(status, Status::Resolved | Status::Closed | Status::Merged));
        if !open {
            return;
        }
        // A ticket before any tier is recorded is at the first, where every ticket starts.
        let tier = Facts::at(&f.tiers, at).unwrap_or(1);
        self.tiers.entry(tier).or_insert_with(|| BacklogRow::empty(tier)).add(at - f.opened_at);
        self.total += 1;
    }

    fn finish(self) -> BacklogReport {
        BacklogReport { at: self.at, total: self.total, rows: self.tiers.into_values().collect() }
    }
}

/// Tickets opened and resolutions per period.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, utoipa::ToSchema)]
pub struct FlowRow {
    pub period: String,
    pub created: u64,
    pub resolved: u64,
}

/// Every period of `[from, to)`, with zeros where nothing happened.
pub fn flow(facts: &[Facts], tz: &TimeZone, from: i64, to: i64, by: Bucket) -> Vec<FlowRow> {
    over(Flow::new(tz, from, to, by), facts)
}

/// [`flow`], a ticket at a time.
#[derive(Clone)]
pub struct Flow {
    cut: Vec<(String, Period)>,
    rows: Vec<FlowRow>,
}

impl Flow {
    pub fn new(tz: &TimeZone, from: i64, to: i64, by: Bucket) -> Flow {
        let cut = periods(tz, from, to, by);
        let rows = cut.iter().map(|(period, _)| FlowRow { period: period.clone(), created: 0, resolved: 0 }).collect();
        Flow { cut, rows }
    }
}

impl Report for Flow {
    type Output = Vec<FlowRow>;

    fn reads(&self) -> Parts {
        Parts::RESOLUTIONS
    }

    fn add(&mut self, f: &Facts) {
        if let Some(row) = counted(&self.cut, f, f.opened_at).and_then(|(i, _)| self.rows.get_mut(i)) {
            row.created += 1;
        }
        for r in &f.resolutions {
            if let Some(row) = counted(&self.cut, f, r.at).and_then(|(i, _)| self.rows.get_mut(i)) {
                row.resolved += 1;
            }
        }
    }

    fn finish(self) -> Vec<FlowRow> {
        self.rows
    }
}

/// SLA alerts of one clock at one priority, and how often resolutions at that priority came after a breach of it.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, utoipa::ToSchema)]
pub struct SlaRow {
    pub clock: ClockKind,
    /// At the time of the alert, or of the resolution.
    pub priority: Level,
    /// Recorded in the range.
    pub warnings: u64,
    pub breaches: u64,
    /// Resolutions in the range at this priority.
    pub resolved: u64,
    /// Of those, the ones whose ticket had a breach of this clock recorded at or before the resolution.
    pub resolved_breached: u64,
    /// `resolved_breached / resolved`; `None` when nothing was resolved.
    pub breach_rate: Option<f64>,
}

fn clock_order(kind: ClockKind) -> usize {
    CLOCKS.iter().position(|k| *k == kind).unwrap_or(CLOCKS.len())
}

/// Warnings and breaches recorded in `[from, to)`, and breach rates of the resolutions in it: a row for every clock
/// with an alert that counts, at every priority with an alert or a resolution, by clock then priority.
pub fn sla(facts: &[Facts], from: i64, to: i64) -> Vec<SlaRow> {
    over(Slas::new(from, to), facts)
}

/// [`sla`], a ticket at a time.
#[derive(Clone)]
pub struct Slas {
    range: Period,
    /// (warnings, breaches) per (clock, priority).
    alerts: BTreeMap<(usize, Level), (u64, u64)>,
    /// Resolutions per priority.
    resolved: BTreeMap<Level, u64>,
    /// Breached resolutions per (clock, priority).
    breached: BTreeMap<(usize, Level), u64>,
    clocks: BTreeSet<usize>,
}

impl Slas {
    pub fn new(from: i64, to: i64) -> Slas {
        Slas {
            range: Period { from, to },
            alerts: BTreeMap::new(),
            resolved: BTreeMap::new(),
            breached: BTreeMap::new(),
            clocks: BTreeSet::new(),
        }
    }
}

impl Report for Slas {
    type Output = Vec<SlaRow>;

    fn reads(&self) -> Parts {
        Parts::ALERTS.and(Parts::PRIORITIES).and(Parts::RESOLUTIONS)
    }

    fn add(&mut self, f: &Facts) {
        let range = self.range;
        if !f.counts_until(range.to) {
            return;
        }
        for (at, kind, alert) in f.alerts.iter().filter(|(at, ..)| range.contains(*at)) {
            let Some(priority) = Facts::at(&f.priorities, *at) else { continue };
            let counts = self.alerts.entry((clock_order(*kind), priority)).or_default();
            match alert {
                Alert::Warning => counts.0 += 1,
                Alert::Breach => counts.1 += 1,
            }
            self.clocks.insert(clock_order(*kind));
        }
        for r in f.resolutions.iter().filter(|r| range.contains(r.at)) {
            let Some(priority) = Facts::at(&f.priorities, r.at) else { continue };
            *self.resolved.entry(priority).or_default() += 1;
            for kind in CLOCKS {
                let breach = f.alerts.iter().any(|(at, k, a)| *k == kind && *a == Alert::Breach && *at <= r.at);
                if breach {
                    *self.breached.entry((clock_order(kind), priority)).or_default() += 1;
                    self.clocks.insert(clock_order(kind));
                }
            }
        }
    }

    fn finish(self) -> Vec<SlaRow> {
        let priorities: BTreeSet<Level> =
            self.alerts.keys().map(|(_, p)| *p).chain(self.resolved.keys().copied()).collect();
        let mut rows = Vec::new();
        for clock in self.clocks {
            let Some(kind) = CLOCKS.get(clock) else { continue };
            for priority in &priorities {
                let (warnings, breaches) = self.alerts.get(&(clock, *priority)).copied().unwrap_or_default();
                let resolved = self.resolved.get(priority).copied().unwrap_or_default();
                let resolved_breached = self.breached.get(&(clock, *priority)).copied().unwrap_or_default();
                let breach_rate = (resolved > 0).then(|| resolved_breached as f64 / resolved as f64);
                rows.push(SlaRow {
                    clock: *kind,
                    priority: *priority,
                    warnings,
                    breaches,
                    resolved,
                    resolved_breached,
                    breach_rate,
                });
            }
        }
        rows
    }
}

/// Tickets opened in one period in one category.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, utoipa::ToSchema)]
pub struct CategoryRow {
    pub period: String,
    /// As it stood at the end of the period: the category a ticket was opened in is often only known later.
    pub category: String,
    pub opened: u64,
    /// Against the period before; `None` in the first.
    pub change: Option<i64>,
}

/// Tickets opened per period and category: every category seen in the range has a row in every period, zeros
/// too, so that a category that stopped shows its fall. By period, then category.
pub fn categories(facts: &[Facts], tz: &TimeZone, from: i64, to: i64, by: Bucket) -> Vec<CategoryRow> {
    over(Categories::new(tz, from, to, by), facts)
}

/// [`categories`], a ticket at a time.
#[derive(Clone)]
pub struct Categories {
    cut: Vec<(String, Period)>,
    /// Per period, tickets opened in it by their category at its end.
    counts: Vec<BTreeMap<String, u64>>,
}

impl Categories {
    pub fn new(tz: &TimeZone, from: i64, to: i64, by: Bucket) -> Categories {
        let cut = periods(tz, from, to, by);
        let counts = vec![BTreeMap::new(); cut.len()];
        Categories { cut, counts }
    }
}

impl Report for Categories {
    type Output = Vec<CategoryRow>;

    fn reads(&self) -> Parts {
        Parts::CATEGORIES
    }

    fn add(&mut self, f: &Facts) {
        let Some((i, end)) = counted(&self.cut, f, f.opened_at) else { return };
        if let Some(counts) = self.counts.get_mut(i) {
            let category = Facts::at(&f.categories, end - 1).flatten();
            bump(counts, category.as_deref().unwrap_or(NO_CATEGORY), |n| *n += 1);
        }
    }

    fn finish(self) -> Vec<CategoryRow> {
        let seen: BTreeSet<&String> = self.counts.iter().flat_map(BTreeMap::keys).collect();
        let mut rows = Vec::new();
        for (i, (period, _)) in self.cut.iter().enumerate() {
            for category in &seen {
                let opened = |i: usize| self.counts.get(i).and_then(|c| c.get(*category)).copied().unwrap_or(0);
                let change = i.checked_sub(1).map(|before| opened(i) as i64 - opened(before) as i64);
                rows.push(CategoryRow {
                    period: period.clone(),
                    category: (*category).clone(),
                    opened: opened(i),
                    change,
                });
            }
        }
        rows
    }
}

/// The categories more tickets were opened in in the last period of `rows` than in the one before, with by how
/// many, the largest rise first (then by name). A category missing from a period had none in it.
pub fn rising(rows: &[CategoryRow]) -> Vec<(String, i64)> {
    let mut order: Vec<&str> = Vec::new();
    for row in rows {
        if !order.contains(&row.period.as_str()) {
            order.push(&row.period);
        }
    }
    let [.., before, last] = order[..] else { return Vec::new() };
    let mut counts: BTreeMap<&str, (i64, i64)> = BTreeMap::new();
    for row in rows {
        let count = counts.entry(row.category.as_str()).or_default();
        if row.period == before {
            count.0 += row.opened as i64;
        } else if row.period == last {
            count.1 += row.opened as i64;
        }
    }
    let mut up: Vec<(String, i64)> =
        counts.into_iter().filter(|(_, (b, l))| l > b).map(|(c, (b, l))| (c.to_owned(), l - b)).collect();
    up.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    up
}

/// One time a requester's own machine showed them self-help advice.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct SelfHelp {
    pub at: i64,
    pub person: Option<i64>,
    /// The kinds of the findings the advice was for.
    pub shown: Vec<String>,
    /// They said it solved their problem, and asked for no help.
    pub solved: bool,
}

/// What requesters had to be shown, and where self-help already does it.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, utoipa::ToSchema)]
pub struct EducationReport {
    /// Most user-instructed resolutions first, then by category.
    pub topics: Vec<Topic>,
    /// By department, [`UNKNOWN_DEPARTMENT`] first.
    pub departments: Vec<DepartmentRow>,
    /// Every self-help record in the range counts as advice shown, as the self-help figures count them.
    pub self_help_shown: u64,
    pub self_help_solved: u64,
    /// `self_help_solved / self_help_shown`; `None` when none was shown.
    pub deflection_rate: Option<f64>,
}

/// User-instructed resolutions in one category (as it stood when resolved).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, utoipa::ToSchema)]
// Named apart from the webhooks' topics in the API's description.
#[schema(as = EducationTopic)]
pub struct Topic {
    pub category: String,
    pub resolved: u64,
    /// For each finding kind: how many of these resolutions were of a ticket whose first snapshot had it (a ticket
    /// with two findings of one kind counts once). Most first, then by kind.
    pub findings: Vec<FindingCount>,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, utoipa::ToSchema)]
pub struct FindingCount {
    pub kind: String,
    pub count: u64,
}

/// One department's user-instructed resolutions and self-help.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, utoipa::ToSchema)]
pub struct DepartmentRow {
    pub department: String,
    pub user_instructed: u64,
    pub self_help_shown: u64,
    pub self_help_solved: u64,
}

/// User-instructed resolutions and self-help records in `[from, to)`. `department_of` gives a person's department
/// (the requester's of a ticket, the one at the machine of a self-help record); `None` is
/// [`UNKNOWN_DEPARTMENT`].
pub fn education(
    facts: &[Facts],
    self_help: &[SelfHelp],
    department_of: &dyn Fn(Option<i64>) -> Option<String>,
    from: i64,
    to: i64,
) -> EducationReport {
    over(Education::new(self_help, department_of, from, to), facts)
}

/// [`education`], a ticket at a time.
#[derive(Clone)]
pub struct Education<'a> {
    range: Period,
    self_help: &'a [SelfHelp],
    department_of: &'a dyn Fn(Option<i64>) -> Option<String>,
    /// Resolutions, then each finding kind's count, per category.
    topics: BTreeMap<String, (u64, BTreeMap<String, u64>)>,
    /// User-instructed resolutions per requester.
    taught: BTreeMap<Option<i64>, u64>,
}

impl<'a> Education<'a> {
    pub fn new(
        self_help: &'a [SelfHelp],
        department_of: &'a dyn Fn(Option<i64>) -> Option<String>,
        from: i64,
        to: i64,
    ) -> Education<'a> {
        Education {
            range: Period { from, to },
            self_help,
            department_of,
            topics: BTreeMap::new(),
            taught: BTreeMap::new(),
        }
    }
}

impl Report for Education<'_> {
    type Output = EducationReport;

    fn reads(&self) -> Parts {
        Parts::RESOLUTIONS.and(Parts::CATEGORIES).and(Parts::FINDINGS)
    }

    fn add(&mut self, f: &Facts) {
        let range = self.range;
        if !f.counts_until(range.to) {
            return;
        }
        let taught =
            f.resolutions.iter().filter(|r| range.contains(r.at) && r.code.as_deref() == Some(USER_INSTRUCTED));
        for r in taught {
            let category = Facts::at(&f.categories, r.at).flatten();
            bump(&mut self.topics, category.as_deref().unwrap_or(NO_CATEGORY), |topic| {
                topic.0 += 1;
                let kinds: BTreeSet<&str> = f.findings.iter().map(String::as_str).collect();
                for kind in kinds {
                    bump(&mut topic.1, kind, |n| *n += 1);
                }
            });
            *self.taught.entry(f.person).or_default() += 1;
        }
    }

    fn finish(self) -> EducationReport {
        let department = |person| (self.department_of)(person).unwrap_or_else(|| UNKNOWN_DEPARTMENT.to_owned());
        // (user-instructed, shown, solved) per department.
        let mut departments: BTreeMap<String, (u64, u64, u64)> = BTreeMap::new();
        for (person, taught) in &self.taught {
            departments.entry(department(*person)).or_default().0 += taught;
        }
        let (mut shown, mut solved) = (0, 0);
        for s in self.self_help.iter().filter(|s| self.range.contains(s.at)) {
            let counts = departments.entry(department(s.person)).or_default();
            counts.1 += 1;
            shown += 1;
            if s.solved {
                counts.2 += 1;
                solved += 1;
            }
        }
        let mut topics: Vec<Topic> = self
            .topics
            .into_iter()
            .map(|(category, (resolved, kinds))| {
                let mut findings: Vec<FindingCount> =
                    kinds.into_iter().map(|(kind, count)| FindingCount { kind, count }).collect();
                findings.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.kind.cmp(&b.kind)));
                Topic { category, resolved, findings }
            })
            .collect();
        topics.sort_by(|a, b| b.resolved.cmp(&a.resolved).then_with(|| a.category.cmp(&b.category)));
        EducationReport {
            topics,
            departments: departments
                .into_iter()
                .map(|(department, (user_instructed, self_help_shown, self_help_solved))| DepartmentRow {
                    department,
                    user_instructed,
                    self_help_shown,
                    self_help_solved,
                })
                .collect(),
            self_help_shown: shown,
            self_help_solved: solved,
            deflection_rate: (shown > 0).then(|| solved as f64 / shown as f64),
        }
    }
}

/// The runs of one check on tickets of one category (as it stood at the run).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, utoipa::ToSchema)]
pub struct CheckRow {
    pub check: String,
    pub category: String,
    pub runs: u64,
    /// Of those, the ones that ended done.
    pub done: u64,
    /// Of those, the ones the ticket was resolved after, before the end of the range: so the figure of a closed
    /// range stays as it was.
    pub resolved_after: u64,
}

/// The check runs recorded in `[from, to)`, by check then category.
pub fn checks(facts: &[Facts], from: i64, to: i64) -> Vec<CheckRow> {
    over(Checks::new(from, to), facts)
}

/// [`checks`], a ticket at a time.
#[derive(Clone)]
pub struct Checks {
    range: Period,
    /// (runs, done, resolved after) per check, then per category.
    rows: BTreeMap<String, BTreeMap<String, (u64, u64, u64)>>,
}

impl Checks {
    pub fn new(from: i64, to: i64) -> Checks {
        Checks { range: Period { from, to }, rows: BTreeMap::new() }
    }
}

impl Report for Checks {
    type Output = Vec<CheckRow>;

    fn reads(&self) -> Parts {
        Parts::CHECKS.and(Parts::CATEGORIES).and(Parts::RESOLUTIONS)
    }

    fn add(&mut self, f: &Facts) {
        let range = self.range;
        if !f.counts_until(range.to) {
            return;
        }
        for (at, check, state) in f.checks.iter().filter(|(at, ..)| range.contains(*at)) {
            let category = Facts::at(&f.categories, *at).flatten();
            bump(&mut self.rows, check, |categories| {
                bump(categories, category.as_deref().unwrap_or(NO_CATEGORY), |counts| {
                    counts.0 += 1;
                    counts.1 += u64::from(state == RunState::Done.as_str());
                    counts.2 += u64::from(f.resolutions.iter().any(|r| r.at > *at && r.at < range.to));
                });
            });
        }
    }

    fn finish(self) -> Vec<CheckRow> {
        let mut out = Vec::new();
        for (check, categories) in self.rows {
            for (category, (runs, done, resolved_after)) in categories {
                out.push(CheckRow { check: check.clone(), category, runs, done, resolved_after });
            }
        }
        out
    }
}

/// One count of a report, named as its JSON and CSV name it: the sum of `column` over the rows whose fields hold
/// `key`'s values (over every row, for no key). `resolved` where `period` is `2026-W12` and `technician` is `bob`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Figure {
    pub column: String,
    pub key: Vec<(String, String)>,
}

impl Figure {
    /// Its value in `rows`; 0 where no row matches, or the column holds no count.
    pub fn of<T: Serialize>(&self, rows: &[T]) -> u64 {
        let text = |v: &serde_json::Value| match v {
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Number(n) => Some(n.to_string()),
            _ => None,
        };
        rows.iter()
            .filter_map(|row| serde_json::to_value(row).ok())
            .filter(|row| self.key.iter().all(|(field, value)| text(&row[field.as_str()]).as_ref() == Some(value)))
            .filter_map(|row| row[self.column.as_str()].as_u64())
            .sum()
    }
}

/// The tickets behind one count of a report: each ticket is given to a copy of the report of its own, and is behind
/// the count when it alone makes the count more than zero. Every count of these reports adds up what each ticket adds
/// to it, so these are exactly the tickets it counts (a ticket resolved twice is one of them once), and no report's
/// rule is written a second time here. `count` reads the count from a report's output.
pub struct Behind<R, F> {
    blank: R,
    count: F,
    numbers: Vec<i64>,
}

impl<R: Report + Clone, F: Fn(R::Output) -> u64> Behind<R, F> {
    pub fn new(blank: R, count: F) -> Behind<R, F> {
        Behind { blank, count, numbers: Vec::new() }
    }
}

impl<R: Report + Clone, F: Fn(R::Output) -> u64> Report for Behind<R, F> {
    type Output = Vec<i64>;

    fn reads(&self) -> Parts {
        self.blank.reads()
    }

    fn add(&mut self, f: &Facts) {
        let mut alone = self.blank.clone();
        alone.add(f);
        if (self.count)(alone.finish()) > 0 {
            self.numbers.push(f.number);
        }
    }

    fn finish(self) -> Vec<i64> {
        self.numbers
    }
}

/// Rows as RFC 4180 CSV: a header of the field names in their declared order, one record per row, CRLF after each,
/// a field quoted when it holds a comma, quote, CR or LF (its quotes doubled). `None` is an empty field, a nested
/// struct's fields are named `outer_inner`, and a list is its JSON. No rows make an empty text (there is no row to
/// name the fields). Refused: a row that is no struct, rows with different fields, and what serde cannot serialize.
///
/// Fields keep their order because each row goes to JSON text, which serde writes in declaration order, and is read
/// back into an ordered list: a `serde_json::Value` would sort them, as this workspace leaves serde_json's
/// `preserve_order` off.
pub fn to_csv<T: Serialize>(rows: &[T]) -> Result<String, String> {
    let mut out = String::new();
    let mut header: Option<Vec<String>> = None;
    for row in rows {
        let json = serde_json::to_string(row).map_err(|e| format!("a row cannot be written: {e}"))?;
        let node: Node = serde_json::from_str(&json).map_err(|e| format!("a row cannot be read back: {e}"))?;
        let Node::Fields(_) = node else { return Err("a CSV row must be a struct".to_owned()) };
        let mut cells = Vec::new();
        flatten(String::new(), node, &mut cells);
        let names: Vec<String> = cells.iter().map(|(name, _)| name.clone()).collect();
        match &header {
            None => {
                write_record(&mut out, &names);
                header = Some(names);
            }
            Some(header) if *header != names => {
                return Err(format!("a row has fields {names:?} where the first had {header:?}"));
            }
            Some(_) => {}
        }
        write_record(&mut out, &cells.into_iter().map(|(_, cell)| cell).collect::<Vec<_>>());
    }
    Ok(out)
}

fn write_record(out: &mut String, fields: &[String]) {
    for (i, field) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        if field.contains([',', '"', '\r', '\n']) {
            out.push('"');
            out.push_str(&field.replace('"', "\"\""));
            out.push('"');
        } else {
            out.push_str(field);
        }
    }
    out.push_str("\r\n");
}

/// A JSON value with the fields of its objects in the order they were written.
enum Node {
    Leaf(serde_json::Value),
    Fields(Vec<(String, Node)>),
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Node, D::Error> {
        deserializer.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Node, E> {
        Ok(Node::Leaf(v.into()))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Node, E> {
        Ok(Node::Leaf(v.into()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Node, E> {
        Ok(Node::Leaf(v.into()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Node, E> {
        Ok(Node::Leaf(v.into()))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Node, E> {
        Ok(Node::Leaf(v.into()))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Node, E> {
        Ok(Node::Leaf(serde_json::Value::Null))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<serde_json::Value>()? {
            items.push(item);
        }
        Ok(Node::Leaf(serde_json::Value::Array(items)))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut fields = Vec::new();
        while let Some((name, value)) = map.next_entry::<String, Node>()? {
            fields.push((name, value));
        }
        Ok(Node::Fields(fields))
    }
}

fn flatten(name: String, node: Node, cells: &mut Vec<(String, String)>) {
    match node {
        Node::Fields(fields) => {
            for (field, value) in fields {
                let inner = if name.is_empty() { field } else { format!("{name}_{field}") };
                flatten(inner, value, cells);
            }
        }
        Node::Leaf(value) => {
            let cell = match value {
                serde_json::Value::Null => String::new(),
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            };
            cells.push((name, cell));
        }
    }
}

/// Reads RFC 4180 CSV into records of fields, as [`to_csv`] writes it; a bare LF ends a record too, and the last
/// record needs no line break.
pub fn from_csv(text: &str) -> Result<Vec<Vec<String>>, String> {
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut field = String::new();
    // In a quoted field; after one's closing quote, where only a comma or the line's end may follow.
    let (mut quoted, mut closed) = (false, false);
    let mut line = 1;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => (quoted, closed) = (false, true),
                c => {
                    line += usize::from(c == '\n');
                    field.push(c);
                }
            }
            continue;
        }
        match c {
            '"' if field.is_empty() && !closed => quoted = true,
            '"' => return Err(format!("line {line}: a quote inside a field that is not quoted")),
            ',' => {
                record.push(std::mem::take(&mut field));
                closed = false;
            }
            '\r' | '\n' => {
                if c == '\r' && chars.peek() == Some(&'\n') {
                    chars.next();
                }
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
                closed = false;
                line += 1;
            }
            _ if closed => return Err(format!("line {line}: text after a quoted field's closing quote")),
            c => field.push(c),
        }
    }
    if quoted {
        return Err(format!("line {line}: a quoted field is never closed"));
    }
    if closed || !field.is_empty() || !record.is_empty() {
        record.push(field);
        records.push(record);
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::desk::stats::Parts;
    use jiff::civil::date;

    const M: i64 = 60_000;
    const H: i64 = 60 * M;
    const D: i64 = 24 * H;

    fn zone() -> TimeZone {
        TimeZone::get("Europe/Amsterdam").unwrap()
    }

    /// A local time in Amsterdam in 2026. The clocks go forward on Sunday 29 March: UTC+1 before, UTC+2 after.
    fn t(month: i8, day: i8, hour: i8, minute: i8) -> i64 {
        zone().to_timestamp(date(2026, month, day).at(hour, minute, 0, 0)).unwrap().as_millisecond()
    }

    /// 09:00-17:00 on weekdays, closed on Easter Monday (6 April 2026).
    fn office() -> Calendar {
        let mut week: [Vec<(u16, u16)>; 7] = Default::default();
        week[..5].fill(vec![(540, 1020)]);
        Calendar::new("Europe/Amsterdam", week, vec![date(2026, 4, 6)]).unwrap()
    }

    fn ticket(number: i64, opened: i64, channel: Channel, priority: Level, category: Option<&str>) -> Facts {
        Facts {
            number,
            opened_at: opened,
            channel,
            ticket_type: super::super::priority::TicketType::Incident,
            person: None,
            categories: vec![(opened, category.map(Into::into))],
            priorities: vec![(opened, priority)],
            tiers: vec![(opened, 1)],
            statuses: vec![(opened, Status::New)],
            replies: Vec::new(),
            resolutions: Vec::new(),
            merged_at: None,
            alerts: Vec::new(),
            checks: Vec::new(),
            findings: Vec::new(),
        }
    }

    fn reply(f: &mut Facts, at: i64, by: &str) {
        f.replies.push((at, by.into()));
    }

    /// Resolved by `by`, since the opening or the last reopening.
    fn resolve(f: &mut Facts, at: i64, by: (&str, ActorKind), code: Option<&str>, first_contact: bool) {
        let since = f.resolutions.last().and_then(|r| r.reopened_at).unwrap_or(f.opened_at);
        f.resolutions.push(Resolution {
            at,
            since,
            by: by.0.into(),
            by_kind: by.1,
            code: code.map(Into::into),
            first_contact,
            reopened_at: None,
        });
        f.statuses.push((at, Status::Resolved));
    }

    fn reopen(f: &mut Facts, at: i64) {
        f.resolutions.last_mut().unwrap().reopened_at = Some(at);
        f.statuses.push((at, Status::Open));
    }

    fn merge(f: &mut Facts, at: i64) {
        f.merged_at = Some(at);
        f.statuses.push((at, Status::Merged));
    }

    fn check(f: &mut Facts, at: i64, name: &str, state: &str) {
        f.checks.push((at, name.into(), state.into()));
    }

    const BOB: (&str, ActorKind) = ("bob", ActorKind::Technician);
    const CAROL: (&str, ActorKind) = ("carol", ActorKind::Technician);
    const DAVE: (&str, ActorKind) = ("dave", ActorKind::Requester);
    const FIXED: Option<&str> = Some("fixed-remotely");
    const TAUGHT: Option<&str> = Some(USER_INSTRUCTED);

    /// Thirteen tickets, March and April 2026. ISO weeks: W11 9-15 March (nothing happens), W12 16-22, W13 23-29
    /// (the clocks go forward on its Sunday), W14 30 March - 5 April (the month changes on its Wednesday), W15 6-12
    /// April (Monday a holiday). Business hours 09:00-17:00 on weekdays. Durations are worked out beside each event:
    /// wall clock / business time.
    fn fixture() -> Vec<Facts> {
        use Channel::*;
        use ClockKind::*;
        use Level::*;
        let mut all = Vec::new();

        // #1 Mon 16 Mar 10:00, two replies by bob, resolved by bob Tue 17 Mar 11:00: 25h / 7h+2h = 9h. Two replies
        // before it: not first contact. First response 10:30: 30m / 30m.
        let mut f = ticket(1, t(3, 16, 10, 0), Email, Medium, Some("printing"));
        f.person = Some(1);
        reply(&mut f, t(3, 16, 10, 30), "bob");
        check(&mut f, t(3, 16, 10, 15), "spooler", "done");
        reply(&mut f, t(3, 16, 14, 0), "bob");
        resolve(&mut f, t(3, 17, 11, 0), BOB, FIXED, false);
        all.push(f);

        // #2 Wed 18 Mar 09:15 by phone, solved by carol during the call at 09:25: 10m / 10m, first contact.
        let mut f = ticket(2, t(3, 18, 9, 15), Phone, High, Some("network"));
        f.person = Some(2);
        resolve(&mut f, t(3, 18, 9, 25), CAROL, FIXED, true);
        all.push(f);

        // #3 Thu 19 Mar 16:00 from a machine. bob first responds Fri 20 Mar 09:30: 17h30m / 1h+30m = 1h30m. bob
        // resolves Fri 12:00 (user-instructed): 20h / 1h+3h = 4h, one reply before it. The requester reopens it Mon 23
        // Mar 10:00; carol replies 15:00 and resolves Tue 24 Mar 10:00 (user-instructed): 24h / 7h+1h = 8h.
        let mut f = ticket(3, t(3, 19, 16, 0), Agent, Medium, Some("disk"));
        f.person = Some(1);
        f.findings = vec!["DiskNearlyFull".into(), "SwapHeavy".into(), "DiskNearlyFull".into()];
        check(&mut f, t(3, 19, 16, 30), "disk-usage", "done");
        reply(&mut f, t(3, 20, 9, 30), "bob");
        resolve(&mut f, t(3, 20, 12, 0), BOB, TAUGHT, false);
        reopen(&mut f, t(3, 23, 10, 0));
        reply(&mut f, t(3, 23, 15, 0), "carol");
        resolve(&mut f, t(3, 24, 10, 0), CAROL, TAUGHT, false);
        all.push(f);

        // #4 Fri 20 Mar 16:30 on the web. carol first responds Mon 23 Mar 09:30: 65h / 30m+30m = 1h; the requester
        // says it is solved at 11:00: 66h30m / 30m+2h = 2h30m.
        let mut f = ticket(4, t(3, 20, 16, 30), Web, Low, Some("printing"));
        f.person = Some(3);
        f.alerts.push((t(3, 20, 16, 55), FirstResponse, Alert::Warning));
        f.alerts.push((t(3, 23, 9, 20), FirstResponse, Alert::Breach));
        reply(&mut f, t(3, 23, 9, 30), "carol");
        resolve(&mut f, t(3, 23, 11, 0), DAVE, None, false);
        all.push(f);

        // #5 Tue 24 Mar 09:00. bob first responds 13:00: 4h / 4h; resolves Fri 27 Mar 15:00: 78h / 8h*3+6h = 30h.
        let mut f = ticket(5, t(3, 24, 9, 0), Email, High, Some("network"));
        f.person = Some(2);
        f.alerts.push((t(3, 24, 10, 30), FirstResponse, Alert::Warning));
        f.alerts.push((t(3, 24, 11, 0), FirstResponse, Alert::Breach));
        reply(&mut f, t(3, 24, 13, 0), "bob");
        f.alerts.push((t(3, 25, 15, 0), Resolution, Alert::Warning));
        f.alerts.push((t(3, 26, 9, 0), Resolution, Alert::Breach));
        resolve(&mut f, t(3, 27, 15, 0), BOB, FIXED, false);
        all.push(f);

        // #6 Sat 28 Mar 10:00; carol first responds 11:00: 1h / 0 (a Saturday). Merged Mon 30 Mar 10:00: it counts in
        // W13 (ends Mon 00:00), in no period ending later.
        let mut f = ticket(6, t(3, 28, 10, 0), Agent, Medium, Some("disk"));
        f.person = Some(4);
        reply(&mut f, t(3, 28, 11, 0), "carol");
        check(&mut f, t(3, 28, 10, 30), "disk-usage", "done");
        merge(&mut f, t(3, 30, 10, 0));
        all.push(f);

        // #7 Fri 27 Mar 16:00 CET by phone. bob first responds Mon 30 Mar 10:00 CEST: 65h (66h on the clock, less the
        // hour the clocks skipped) / 1h+1h = 2h. Critical and tier 2 from 11:00. carol resolves Wed 1 Apr 12:00: 115h /
        // 1h+8h+8h+3h = 20h, one reply before it.
        let mut f = ticket(7, t(3, 27, 16, 0), Phone, High, Some("network"));
        f.person = Some(4);
        reply(&mut f, t(3, 30, 10, 0), "bob");
        f.priorities.push((t(3, 30, 11, 0), Critical));
        f.tiers.push((t(3, 30, 11, 0), 2));
        f.alerts.push((t(3, 31, 10, 0), Resolution, Alert::Warning));
        f.alerts.push((t(3, 31, 16, 0), Resolution, Alert::Breach));
        resolve(&mut f, t(4, 1, 12, 0), CAROL, FIXED, false);
        all.push(f);

        // #8 Tue 31 Mar 09:00. carol first responds 09:20: 20m / 20m; resolves Thu 2 Apr 10:00 (user-instructed): 49h /
        // 8h+8h+1h = 17h.
        let mut f = ticket(8, t(3, 31, 9, 0), Email, Medium, Some("printing"));
        f.person = Some(3);
        f.findings = vec!["MemoryPressure".into()];
        check(&mut f, t(3, 31, 9, 10), "printer-queue", "failed");
        reply(&mut f, t(3, 31, 9, 20), "carol");
        resolve(&mut f, t(4, 2, 10, 0), CAROL, TAUGHT, false);
        check(&mut f, t(4, 2, 11, 0), "printer-queue", "done");
        all.push(f);

        // #9 Wed 1 Apr 10:00 with no category; "disk" from 11:00. Still open.
        let mut f = ticket(9, t(4, 1, 10, 0), Web, Low, None);
        f.person = Some(5);
        f.categories.push((t(4, 1, 11, 0), Some("disk".into())));
        all.push(f);

        // #10 Thu 2 Apr 14:00. bob first responds Fri 3 Apr 09:00: 19h / 3h; pending on the user from 09:05.
        let mut f = ticket(10, t(4, 2, 14, 0), Agent, Medium, Some("disk"));
        f.person = Some(3);
        check(&mut f, t(4, 2, 15, 0), "disk-usage", "timed-out");
        reply(&mut f, t(4, 3, 9, 0), "bob");
        f.statuses.push((t(4, 3, 9, 5), Status::PendingUser));
        f.alerts.push((t(4, 7, 10, 0), NextResponse, Alert::Warning));
        all.push(f);

        // #11 Tue 7 Apr 09:00 by chat, no category, tier 2 from 10:00; carol resolves it Thu 9 Apr 10:00.
        let mut f = ticket(11, t(4, 7, 9, 0), Chat, Medium, None);
        f.person = Some(7);
        f.tiers.push((t(4, 7, 10, 0), 2));
        resolve(&mut f, t(4, 9, 10, 0), CAROL, TAUGHT, false);
        all.push(f);

        // #12 Wed 8 Apr 11:00.
        let mut f = ticket(12, t(4, 8, 11, 0), Email, Low, Some("disk"));
        f.person = Some(6);
        f.alerts.push((t(4, 8, 11, 30), FirstResponse, Alert::Warning));
        all.push(f);

        // #13 Mon 2 Mar 09:00, escalated to tier 3 and open all along.
        let mut f = ticket(13, t(3, 2, 9, 0), Email, Low, Some("account"));
        f.person = Some(6);
        f.statuses.push((t(3, 2, 10, 0), Status::Open));
        f.tiers.extend([(t(3, 3, 9, 0), 2), (t(3, 10, 9, 0), 3)]);
        f.alerts.push((t(3, 2, 13, 0), FirstResponse, Alert::Breach));
        all.push(f);

        all
    }

    /// (period, technician, [resolved, first contact, reopened, public replies, first responses], first response
    /// [wall median, wall p90, business median, business p90], resolution [the same]).
    type Tech<'a> = (&'a str, &'a str, [u64; 5], [Option<i64>; 4], [Option<i64>; 4]);

    fn tech(row: &TechnicianRow) -> Tech<'_> {
        (
            &row.period,
            &row.technician,
            [row.resolved, row.first_contact, row.reopened, row.public_replies, row.first_response_count],
            [
                row.first_response_wall_median_ms,
                row.first_response_wall_p90_ms,
                row.first_response_business_median_ms,
                row.first_response_business_p90_ms,
            ],
            [
                row.resolution_wall_median_ms,
                row.resolution_wall_p90_ms,
                row.resolution_business_median_ms,
                row.resolution_business_p90_ms,
            ],
        )
    }

    const NONE4: [Option<i64>; 4] = [None; 4];

    #[test]
    fn technicians_per_iso_week() {
        let s = Some;
        let expected: [Tech; 9] = [
            // W12: resolutions #1 bob (25h / 9h), #2 carol (10m / 10m, first contact marked), #3 bob (20h / 4h, one
            // reply, reopened only in W13: first contact here). Replies: #1 twice, #3, all bob's. First responses #1
            // (30m / 30m) and #3 (17h30m / 1h30m), both bob's. Two values: the median is the lower, the p90 the higher.
            (
                "2026-W12",
                ALL,
                [3, 2, 0, 3, 2],
                [s(30 * M), s(17 * H + 30 * M), s(30 * M), s(90 * M)],
                // Wall 10m, 20h, 25h and business 10m, 4h, 9h: the median is rank ⌈1.5⌉ = 2, the p90 ⌈2.7⌉ = 3.
                [s(20 * H), s(25 * H), s(4 * H), s(9 * H)],
            ),
            (
                "2026-W12",
                "bob",
                [2, 1, 0, 3, 2],
                [s(30 * M), s(17 * H + 30 * M), s(30 * M), s(90 * M)],
                [s(20 * H), s(25 * H), s(4 * H), s(9 * H)],
            ),
            ("2026-W12", "carol", [1, 1, 0, 0, 0], NONE4, [s(10 * M); 4]),
            // W13: resolutions #4 by the requester (66h30m / 2h30m, one reply: first contact, in the team's row only),
            // #3 again by carol (24h / 8h, two replies before it), #5 bob (78h / 30h, one reply). Replies: carol on #4,
            // #3 and #6, bob on #5. First responses #4 carol (65h / 1h), #5 bob (4h / 4h), #6 carol (1h / 0).
            (
                "2026-W13",
                ALL,
                [3, 2, 0, 4, 3],
                [s(4 * H), s(65 * H), s(H), s(4 * H)],
                [s(66 * H + 30 * M), s(78 * H), s(8 * H), s(30 * H)],
            ),
            ("2026-W13", "bob", [1, 1, 0, 1, 1], [s(4 * H); 4], [s(78 * H), s(78 * H), s(30 * H), s(30 * H)]),
            (
                "2026-W13",
                "carol",
                [1, 0, 0, 3, 2],
                [s(H), s(65 * H), s(0), s(H)],
                [s(24 * H), s(24 * H), s(8 * H), s(8 * H)],
            ),
            // W14: resolutions #7 (115h / 20h) and #8 (49h / 17h), carol's, one reply before each. Replies: bob on #7
            // and #10, carol on #8. First responses #7 bob (65h / 2h), #8 carol (20m / 20m), #10 bob (19h / 3h).
            (
                "2026-W14",
                ALL,
                [2, 2, 0, 3, 3],
                [s(19 * H), s(65 * H), s(2 * H), s(3 * H)],
                [s(49 * H), s(115 * H), s(17 * H), s(20 * H)],
            ),
            ("2026-W14", "bob", [0, 0, 0, 2, 2], [s(19 * H), s(65 * H), s(2 * H), s(3 * H)], NONE4),
            ("2026-W14", "carol", [2, 2, 0, 1, 1], [s(20 * M); 4], [s(49 * H), s(115 * H), s(17 * H), s(20 * H)]),
        ];
        let rows = technicians(&fixture(), &office(), &zone(), t(3, 16, 0, 0), t(4, 6, 0, 0), Bucket::Week);
        assert_eq!(rows.iter().map(tech).collect::<Vec<_>>(), expected);
    }

    #[test]
    fn a_month_sees_the_reopening_inside_it_and_not_the_ticket_merged_after_it() {
        let rows = technicians(&fixture(), &office(), &zone(), t(3, 1, 0, 0), t(4, 1, 0, 0), Bucket::Month);
        // (technician, [resolved, first contact, reopened, public replies, first responses])
        let expected = [
            // #1, #2, #3, #4, #3 again, #5. First contact: #2 (marked), #4, #5; #3's first resolution was reopened in
            // March now. Replies: 8, #6's left out (merged 30 Mar, before the month ends); first responses #1, #3,
            // #4, #5, #7, #8.
            (ALL, [6, 3, 1, 8, 6]),
            // #1, #3, #5; replies on #1 twice, #3, #5, #7.
            ("bob", [3, 1, 1, 5, 4]),
            // #2, #3 again; replies on #4, #3, #8.
            ("carol", [2, 1, 0, 3, 2]),
        ];
        let got: Vec<(&str, [u64; 5])> = rows
            .iter()
            .map(|r| {
                (
                    r.technician.as_str(),
                    [r.resolved, r.first_contact, r.reopened, r.public_replies, r.first_response_count],
                )
            })
            .collect();
        assert_eq!(got, expected);
        assert!(rows.iter().all(|r| r.period == "2026-03"));
    }

    #[test]
    fn response_times_by_priority_tier_and_channel() {
        let s = Some;
        let (from, to) = (t(3, 16, 0, 0), t(4, 6, 0, 0));
        // (group, first responses, [wall median, wall p90, business median, business p90], resolutions, [the same])
        let by_priority = [
            // #4: 65h / 1h; resolved 66h30m / 2h30m.
            (
                "low",
                1,
                [s(65 * H), s(65 * H), s(H), s(H)],
                1,
                [s(66 * H + 30 * M), s(66 * H + 30 * M), s(150 * M), s(150 * M)],
            ),
            // First responses #1 30m/30m, #3 17h30m/1h30m, #8 20m/20m, #10 19h/3h (#6 merged before the end: out).
            // Of four, the median is rank 2 and the p90 rank ⌈3.6⌉ = 4. Resolutions #1 25h/9h, #3 20h/4h and
            // 24h/8h, #8 49h/17h.
            ("medium", 4, [s(30 * M), s(19 * H), s(30 * M), s(3 * H)], 4, [s(24 * H), s(49 * H), s(8 * H), s(17 * H)]),
            // #5 4h/4h and #7 65h/2h, high when bob answered it at 10:00 (critical from 11:00). #2 10m/10m, #5 78h/30h.
            ("high", 2, [s(4 * H), s(65 * H), s(2 * H), s(4 * H)], 2, [s(10 * M), s(78 * H), s(10 * M), s(30 * H)]),
            // #7, critical when resolved: 115h / 20h.
            ("critical", 0, NONE4, 1, [s(115 * H), s(115 * H), s(20 * H), s(20 * H)]),
        ];
        let rows = response(&fixture(), &office(), from, to, Dimension::Priority);
        let got: Vec<_> = rows
            .iter()
            .map(|r| {
                (
                    r.group.as_str(),
                    r.first_response_count,
                    [
                        r.first_response_wall_median_ms,
                        r.first_response_wall_p90_ms,
                        r.first_response_business_median_ms,
                        r.first_response_business_p90_ms,
                    ],
                    r.resolution_count,
                    [
                        r.resolution_wall_median_ms,
                        r.resolution_wall_p90_ms,
                        r.resolution_business_median_ms,
                        r.resolution_business_p90_ms,
                    ],
                )
            })
            .collect();
        assert_eq!(got, by_priority);

        // (dimension, [(group, first responses, resolutions)])
        let cases = [
            // #7 was answered at tier 1 and resolved at tier 2.
            (Dimension::Tier, vec![("1", 7, 7), ("2", 0, 1)]),
            (Dimension::Channel, vec![("agent", 2, 2), ("phone", 1, 2), ("email", 3, 3), ("web", 1, 1)]),
            (Dimension::Category, vec![("disk", 2, 2), ("network", 2, 3), ("printing", 3, 3)]),
        ];
        for (dimension, expected) in cases {
            let rows = response(&fixture(), &office(), from, to, dimension);
            let got: Vec<_> =
                rows.iter().map(|r| (r.group.as_str(), r.first_response_count, r.resolution_count)).collect();
            assert_eq!(got, expected, "{dimension:?}");
        }
        let phone = &response(&fixture(), &office(), from, to, Dimension::Channel)[1];
        // #2 10m and #7 115h: of two, the median is the lower.
        assert_eq!((phone.resolution_wall_median_ms, phone.resolution_wall_p90_ms), (s(10 * M), s(115 * H)));
    }

    #[test]
    fn backlog_by_tier_and_age_as_it_stood() {
        // (at, total, [(tier, total, [0-1d, 1-3d, 3-7d, 7-30d, over 30d])])
        let cases = [
            // Wed 8 Apr 12:00: #12 1h old, #10 5d22h (pending, still open), #9 7d2h; #11 (tier 2) 1d3h, resolved only
            // the next day; #13 (tier 3) 37d2h. #6 was merged.
            (t(4, 8, 12, 0), 5, [(1, 3, [1, 0, 1, 1, 0]), (2, 1, [0, 1, 0, 0, 0]), (3, 1, [0, 0, 0, 0, 1])]),
            // Mon 30 Mar 09:00: #6 1d23h (merged only at 10:00), #7 2d16h (tier 2 only at 11:00); #13 28d less the hour
            // the clocks skipped.
            (t(3, 30, 9, 0), 3, [(1, 2, [0, 2, 0, 0, 0]), (2, 0, [0; 5]), (3, 1, [0, 0, 0, 1, 0])]),
            // Before anything: every tier, with zeros.
            (t(3, 1, 0, 0), 0, [(1, 0, [0; 5]), (2, 0, [0; 5]), (3, 0, [0; 5])]),
        ];
        for (at, total, rows) in cases {
            let report = backlog(&fixture(), at);
            assert_eq!((report.at, report.total), (at, total));
            let got: Vec<(u8, u64, [u64; 5])> = report
                .rows
                .iter()
                .map(|r| (r.tier, r.total, [r.age_0_1d, r.age_1_3d, r.age_3_7d, r.age_7_30d, r.age_over_30d]))
                .collect();
            assert_eq!(got, rows, "at {at}");
        }
    }

    #[test]
    fn age_buckets_hold_their_lower_bound() {
        let cases = [
            (0, "0-1d"),
            (D - 1, "0-1d"),
            (D, "1-3d"),
            (3 * D - 1, "1-3d"),
            (3 * D, "3-7d"),
            (7 * D, "7-30d"),
            (30 * D - 1, "7-30d"),
            (30 * D, "over 30d"),
            (400 * D, "over 30d"),
        ];
        for (age, bucket) in cases {
            assert_eq!(AGE_BUCKETS[age_bucket(age)], bucket, "{age}");
        }
    }

    #[test]
    fn flow_shows_an_idle_week_as_zeros() {
        // (week, created, resolved)
        let expected = [
            ("2026-W11", 0, 0),
            // #1 #2 #3 #4; #1 #2 #3.
            ("2026-W12", 4, 3),
            // #5 #6 (merged only after the week) #7; #4 #3 #5.
            ("2026-W13", 3, 3),
            // #8 #9 #10; #7 #8.
            ("2026-W14", 3, 2),
        ];
        let rows = flow(&fixture(), &zone(), t(3, 9, 0, 0), t(4, 6, 0, 0), Bucket::Week);
        let got: Vec<_> = rows.iter().map(|r| (r.period.as_str(), r.created, r.resolved)).collect();
        assert_eq!(got, expected);
    }

    #[test]
    fn sla_alerts_and_breach_rates_by_priority_at_the_time() {
        use ClockKind::*;
        use Level::*;
        // (from, to, [(clock, priority, warnings, breaches, resolved, resolved after a breach, rate)])
        let cases = [
            (
                // Alerts: #4 (low) first-response warning and breach; #5 (high) both of both clocks; #7 resolution
                // warning and breach, critical by then. #13's breach was before the range, #10's and #12's after.
                // Resolutions: low #4; medium #1, #3 twice, #8; high #2, #5; critical #7.
                t(3, 16, 0, 0),
                t(4, 6, 0, 0),
                vec![
                    (FirstResponse, Low, 1, 1, 1, 1, Some(1.0)),
                    (FirstResponse, Medium, 0, 0, 4, 0, Some(0.0)),
                    (FirstResponse, High, 1, 1, 2, 1, Some(0.5)),
                    (FirstResponse, Critical, 0, 0, 1, 0, Some(0.0)),
                    (Resolution, Low, 0, 0, 1, 0, Some(0.0)),
                    (Resolution, Medium, 0, 0, 4, 0, Some(0.0)),
                    (Resolution, High, 1, 1, 2, 1, Some(0.5)),
                    (Resolution, Critical, 1, 1, 1, 1, Some(1.0)),
                ],
            ),
            (
                // W15: #10's next-response warning (medium), #12's first-response warning (low); #11 resolved (medium).
                // Nothing low was resolved: no rate.
                t(4, 6, 0, 0),
                t(4, 13, 0, 0),
                vec![
                    (FirstResponse, Low, 1, 0, 0, 0, None),
                    (FirstResponse, Medium, 0, 0, 1, 0, Some(0.0)),
                    (NextResponse, Low, 0, 0, 0, 0, None),
                    (NextResponse, Medium, 1, 0, 1, 0, Some(0.0)),
                ],
            ),
        ];
        for (from, to, expected) in cases {
            let rows = sla(&fixture(), from, to);
            let got: Vec<_> = rows
                .iter()
                .map(|r| (r.clock, r.priority, r.warnings, r.breaches, r.resolved, r.resolved_breached, r.breach_rate))
                .collect();
            assert_eq!(got, expected, "{from} to {to}");
        }
    }

    #[test]
    fn categories_per_month_with_change_and_rising() {
        let rows = categories(&fixture(), &zone(), t(3, 1, 0, 0), t(5, 1, 0, 0), Bucket::Month);
        // (month, category, opened, change)
        let expected = [
            // March: #13 account; #3 disk (#6 merged before the month ended); #2 #5 #7 network; #1 #4 #8 printing.
            ("2026-03", NO_CATEGORY, 0, None),
            ("2026-03", "account", 1, None),
            ("2026-03", "disk", 1, None),
            ("2026-03", "network", 3, None),
            ("2026-03", "printing", 3, None),
            // April: #11 none; #9 (disk by the end of April), #10, #12 disk.
            ("2026-04", NO_CATEGORY, 1, Some(1)),
            ("2026-04", "account", 0, Some(-1)),
            ("2026-04", "disk", 3, Some(2)),
            ("2026-04", "network", 0, Some(-3)),
            ("2026-04", "printing", 0, Some(-3)),
        ];
        let got: Vec<_> = rows.iter().map(|r| (r.period.as_str(), r.category.as_str(), r.opened, r.change)).collect();
        assert_eq!(got, expected);
        assert_eq!(rising(&rows), [("disk".to_owned(), 2), (NO_CATEGORY.to_owned(), 1)]);
        assert_eq!(rising(&rows[..5]), [], "one period has nothing to rise from");
    }

    #[test]
    fn education_ranks_topics_and_counts_departments() {
        let department = |person: Option<i64>| match person {
            Some(1 | 2) => Some("sales".to_owned()),
            Some(3) => Some("finance".to_owned()),
            Some(4) => Some("it".to_owned()),
            _ => None,
        };
        let shown = |at, person, kind: &str, solved| SelfHelp { at, person, shown: vec![kind.into()], solved };
        let self_help = [
            shown(t(3, 17, 10, 0), Some(1), "DiskNearlyFull", true),
            shown(t(3, 18, 10, 0), Some(2), "DnsFailing", false),
            shown(t(3, 25, 10, 0), Some(3), "DiskNearlyFull", true),
            shown(t(3, 26, 10, 0), None, "SwapHeavy", false),
            // Person 9 has no department.
            shown(t(4, 2, 10, 0), Some(9), "MemoryPressure", true),
            // After the range.
            shown(t(4, 10, 10, 0), Some(1), "DiskNearlyFull", true),
        ];
        let report = education(&fixture(), &self_help, &department, t(3, 16, 0, 0), t(4, 6, 0, 0));
        let finding = |kind: &str, count| FindingCount { kind: kind.into(), count };
        // User-instructed: #3 twice (disk, person 1: sales; its snapshot had two disk findings, counted once each
        // time), #8 (printing, person 3: finance). #11's was after the range.
        assert_eq!(
            report.topics,
            [
                Topic {
                    category: "disk".into(),
                    resolved: 2,
                    findings: vec![finding("DiskNearlyFull", 2), finding("SwapHeavy", 2)]
                },
                Topic { category: "printing".into(), resolved: 1, findings: vec![finding("MemoryPressure", 1)] },
            ]
        );
        let row = |department: &str, user_instructed, self_help_shown, self_help_solved| DepartmentRow {
            department: department.into(),
            user_instructed,
            self_help_shown,
            self_help_solved,
        };
        assert_eq!(
            report.departments,
            [row(UNKNOWN_DEPARTMENT, 0, 2, 1), row("finance", 1, 1, 1), row("sales", 2, 2, 1)]
        );
        // 3 solved of 5 shown.
        assert_eq!((report.self_help_shown, report.self_help_solved, report.deflection_rate), (5, 3, Some(0.6)));
        let nothing = education(&fixture(), &[], &department, t(1, 1, 0, 0), t(2, 1, 0, 0));
        assert_eq!((nothing.topics.len(), nothing.departments.len(), nothing.deflection_rate), (0, 0, None));
    }

    #[test]
    fn checks_and_what_followed_them() {
        // (from, to, [(check, category, runs, done, resolved after)])
        let cases = [
            (
                // #3's disk-usage run, then resolved; #10's timed out, never resolved; #6's is out (merged). #8's
                // printer-queue failed, then it was resolved; its second run came after. #1's spooler run, resolved.
                t(3, 16, 0, 0),
                t(4, 6, 0, 0),
                vec![
                    ("disk-usage", "disk", 2, 1, 1),
                    ("printer-queue", "printing", 2, 1, 1),
                    ("spooler", "printing", 1, 1, 1),
                ],
            ),
            // W13: #6 still counts, merged after it, and was never resolved.
            (t(3, 23, 0, 0), t(3, 30, 0, 0), vec![("disk-usage", "disk", 1, 1, 0)]),
            // #8's failed run, resolved only after the range ended.
            (t(3, 30, 0, 0), t(4, 1, 0, 0), vec![("printer-queue", "printing", 1, 0, 0)]),
        ];
        for (from, to, expected) in cases {
            let rows = checks(&fixture(), from, to);
            let got: Vec<_> = rows
                .iter()
                .map(|r| (r.check.as_str(), r.category.as_str(), r.runs, r.done, r.resolved_after))
                .collect();
            assert_eq!(got, expected, "{from} to {to}");
        }
    }

    /// `report` as the store runs it: each ticket encoded, decoded with only the parts the report reads into the
    /// one value of the ticket before, and added; or, with `parts`, with those instead.
    fn as_stored<R: Report>(mut report: R, facts: &[Facts], parts: Option<Parts>) -> R::Output {
        let parts = parts.unwrap_or(report.reads());
        let mut one = fixture()[2].clone();
        for f in facts {
            one.decode_into(&f.encode(), parts).unwrap();
            report.add(&one);
        }
        report.finish()
    }

    #[test]
    fn each_report_reads_all_it_needs() {
        let (cal, tz) = (office(), zone());
        let (from, to) = (t(3, 1, 0, 0), t(4, 10, 0, 0));
        let all = fixture();
        let week = || Technicians::new(&cal, &tz, from, to, Bucket::Week);
        assert_eq!(as_stored(week(), &all, None), technicians(&all, &cal, &tz, from, to, Bucket::Week));
        assert_ne!(as_stored(week(), &all, Some(Parts::RESOLUTIONS)), over(week(), &all), "the fixture needs replies");
        for dimension in [Dimension::Priority, Dimension::Channel, Dimension::Category, Dimension::Tier] {
            let by = || Response::new(&cal, from, to, dimension);
            assert_eq!(as_stored(by(), &all, None), response(&all, &cal, from, to, dimension), "{dimension:?}");
            if dimension != Dimension::Channel {
                let bare = Some(Parts::REPLIES.and(Parts::RESOLUTIONS));
                assert_ne!(
                    as_stored(by(), &all, bare),
                    over(by(), &all),
                    "{dimension:?}: the fixture needs the history"
                );
            }
        }
        for at in [t(3, 20, 12, 0), t(3, 30, 12, 0), t(4, 3, 12, 0)] {
            assert_eq!(as_stored(Backlog::new(at), &all, None), backlog(&all, at));
        }
        let at = t(3, 20, 12, 0);
        assert_ne!(as_stored(Backlog::new(at), &all, Some(Parts::TIERS)), backlog(&all, at));
        let flows = || Flow::new(&tz, from, to, Bucket::Week);
        assert_eq!(as_stored(flows(), &all, None), flow(&all, &tz, from, to, Bucket::Week));
        assert_ne!(as_stored(flows(), &all, Some(Parts::NONE)), over(flows(), &all));
        assert_eq!(as_stored(Slas::new(from, to), &all, None), sla(&all, from, to));
        let bare = Some(Parts::ALERTS.and(Parts::RESOLUTIONS));
        assert_ne!(as_stored(Slas::new(from, to), &all, bare), sla(&all, from, to));
        let weekly = || Categories::new(&tz, from, to, Bucket::Week);
        assert_eq!(as_stored(weekly(), &all, None), categories(&all, &tz, from, to, Bucket::Week));
        assert_ne!(as_stored(weekly(), &all, Some(Parts::NONE)), over(weekly(), &all));
        let department = |person: Option<i64>| person.map(|p| format!("department {}", p % 2));
        let taught = || Education::new(&[], &department, from, to);
        assert_eq!(as_stored(taught(), &all, None), education(&all, &[], &department, from, to));
        let bare = Some(Parts::RESOLUTIONS.and(Parts::CATEGORIES));
        assert_ne!(as_stored(taught(), &all, bare), over(taught(), &all));
        assert_eq!(as_stored(Checks::new(from, to), &all, None), checks(&all, from, to));
        let bare = Some(Parts::CHECKS.and(Parts::CATEGORIES));
        assert_ne!(as_stored(Checks::new(from, to), &all, bare), checks(&all, from, to));
    }

    fn figure(column: &str, key: &[(&str, &str)]) -> Figure {
        Figure { column: column.into(), key: key.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect() }
    }

    /// The count `count` reads from `report` over the fixture, and the tickets [`Behind`] finds behind it; first
    /// checked: what each ticket adds on its own makes up the whole count.
    fn behind<R: Report + Clone>(report: R, count: impl Fn(R::Output) -> u64) -> (u64, Vec<i64>) {
        let all = fixture();
        let whole = count(over(report.clone(), &all));
        let each: u64 = all.iter().map(|f| count(over(report.clone(), std::slice::from_ref(f)))).sum();
        assert_eq!(each, whole, "what each ticket adds makes up the count");
        (whole, as_stored(Behind::new(report, &count), &all, None))
    }

    #[test]
    fn the_tickets_behind_a_figure_are_those_it_counts() {
        let (cal, tz) = (office(), zone());
        let (from, to) = (t(3, 16, 0, 0), t(4, 6, 0, 0));
        let weeks = || Technicians::new(&cal, &tz, from, to, Bucket::Week);
        let rows = |column: &str, key: &[(&str, &str)]| {
            let f = figure(column, key);
            move |rows: Vec<TechnicianRow>| f.of(&rows)
        };
        let department = |person: Option<i64>| person.map(|p| format!("department {}", p % 2));
        // (what, (count, tickets behind it)); the counts are those of the tests of each report above.
        let cases: Vec<(&str, (u64, Vec<i64>))> = vec![
            ("bob's resolutions in W12", (2, vec![1, 3])),
            ("carol's in W12", (1, vec![2])),
            ("the team's in W13: the requester's too", (3, vec![3, 4, 5])),
            ("the same from W13 alone, as the console asks for one period", (3, vec![3, 4, 5])),
            ("carol's public replies in W13", (3, vec![3, 4, 6])),
            ("bob's first responses in W12", (2, vec![1, 3])),
            ("the team's first-contact resolutions in W14", (2, vec![7, 8])),
            ("none reopened by the end of W12", (0, vec![])),
            ("#3 reopened within March", (1, vec![3])),
            ("phone resolutions", (2, vec![2, 7])),
            ("phone first responses", (1, vec![7])),
            ("tier 1 open on 8 April", (3, vec![9, 10, 12])),
            ("of those, under a day old", (1, vec![12])),
            ("every tier", (5, vec![9, 10, 11, 12, 13])),
            ("opened in W12", (4, vec![1, 2, 3, 4])),
            ("resolved in W12", (3, vec![1, 2, 3])),
            ("first-response breaches at high", (1, vec![5])),
            ("critical resolutions after a resolution breach", (1, vec![7])),
            ("printing opened in W12, by the category at its end", (2, vec![1, 4])),
            ("disk-usage runs", (2, vec![3, 10])),
            ("disk-usage runs the ticket was resolved after", (1, vec![3])),
            ("two printer-queue runs on one ticket", (2, vec![8])),
            ("a ticket taught twice, one topic", (2, vec![3])),
            ("taught in department 1", (3, vec![3, 8])),
        ];
        let got = [
            behind(weeks(), rows("resolved", &[("period", "2026-W12"), ("technician", "bob")])),
            behind(weeks(), rows("resolved", &[("period", "2026-W12"), ("technician", "carol")])),
            behind(weeks(), rows("resolved", &[("period", "2026-W13"), ("technician", ALL)])),
            behind(
                Technicians::new(&cal, &tz, t(3, 23, 0, 0), t(3, 30, 0, 0), Bucket::Week),
                rows("resolved", &[("period", "2026-W13"), ("technician", ALL)]),
            ),
            behind(weeks(), rows("public_replies", &[("period", "2026-W13"), ("technician", "carol")])),
            behind(weeks(), rows("first_response_count", &[("period", "2026-W12"), ("technician", "bob")])),
            behind(weeks(), rows("first_contact", &[("period", "2026-W14"), ("technician", ALL)])),
            behind(weeks(), rows("reopened", &[("period", "2026-W12"), ("technician", ALL)])),
            behind(
                Technicians::new(&cal, &tz, t(3, 1, 0, 0), t(5, 1, 0, 0), Bucket::Month),
                rows("reopened", &[("period", "2026-03"), ("technician", ALL)]),
            ),
            {
                let f = figure("resolution_count", &[("group", "phone")]);
                behind(Response::new(&cal, from, to, Dimension::Channel), move |r| f.of(&r))
            },
            {
                let f = figure("first_response_count", &[("group", "phone")]);
                behind(Response::new(&cal, from, to, Dimension::Channel), move |r| f.of(&r))
            },
            {
                let f = figure("total", &[("tier", "1")]);
                behind(Backlog::new(t(4, 8, 12, 0)), move |r| f.of(&r.rows))
            },
            {
                let f = figure("0-1d", &[("tier", "1")]);
                behind(Backlog::new(t(4, 8, 12, 0)), move |r| f.of(&r.rows))
            },
            {
                let f = figure("total", &[]);
                behind(Backlog::new(t(4, 8, 12, 0)), move |r| f.of(&r.rows))
            },
            {
                let f = figure("created", &[("period", "2026-W12")]);
                behind(Flow::new(&tz, from, to, Bucket::Week), move |r| f.of(&r))
            },
            {
                let f = figure("resolved", &[("period", "2026-W12")]);
                behind(Flow::new(&tz, from, to, Bucket::Week), move |r| f.of(&r))
            },
            {
                let f = figure("breaches", &[("clock", "first_response"), ("priority", "high")]);
                behind(Slas::new(from, to), move |r| f.of(&r))
            },
            {
                let f = figure("resolved_breached", &[("clock", "resolution"), ("priority", "critical")]);
                behind(Slas::new(from, to), move |r| f.of(&r))
            },
            {
                let f = figure("opened", &[("period", "2026-W12"), ("category", "printing")]);
                behind(Categories::new(&tz, from, to, Bucket::Week), move |r| f.of(&r))
            },
            {
                let f = figure("runs", &[("check", "disk-usage"), ("category", "disk")]);
                behind(Checks::new(from, to), move |r| f.of(&r))
            },
            {
                let f = figure("resolved_after", &[("check", "disk-usage"), ("category", "disk")]);
                behind(Checks::new(from, to), move |r| f.of(&r))
            },
            {
                let f = figure("runs", &[("check", "printer-queue"), ("category", "printing")]);
                behind(Checks::new(from, to), move |r| f.of(&r))
            },
            {
                let f = figure("resolved", &[("category", "disk")]);
                behind(Education::new(&[], &department, from, to), move |r| f.of(&r.topics))
            },
            {
                let f = figure("user_instructed", &[("department", "department 1")]);
                behind(Education::new(&[], &department, from, to), move |r| f.of(&r.departments))
            },
        ];
        assert_eq!(got.len(), cases.len());
        for ((what, expected), got) in cases.into_iter().zip(got) {
            assert_eq!(got, expected, "{what}");
        }
    }

    #[test]
    fn figures_of_a_closed_period_do_not_change_later() {
        let (cal, tz) = (office(), zone());
        let (from, to) = (t(3, 16, 0, 0), t(3, 30, 0, 0));
        let figures = |facts: &[Facts]| {
            (
                technicians(facts, &cal, &tz, from, to, Bucket::Week),
                categories(facts, &tz, from, to, Bucket::Week),
                categories(facts, &tz, t(3, 1, 0, 0), t(4, 1, 0, 0), Bucket::Month),
                flow(facts, &tz, from, to, Bucket::Week),
                response(facts, &cal, from, to, Dimension::Category),
                sla(facts, from, to),
                checks(facts, from, to),
            )
        };
        let before = figures(&fixture());
        let later = t(4, 10, 9, 0);
        let mut facts = fixture();
        // #1 gets another category, #5 is reopened and resolved again, #2 is merged, #4 gets a reply and a breach,
        // #3 another check run: all after the periods.
        facts[0].categories.push((later, Some("hardware".into())));
        reopen(&mut facts[4], later);
        facts[4].priorities.push((later, Level::Low));
        resolve(&mut facts[4], later + H, CAROL, FIXED, false);
        merge(&mut facts[1], later);
        reply(&mut facts[3], later, "bob");
        facts[3].alerts.push((later, ClockKind::Resolution, Alert::Breach));
        check(&mut facts[2], later, "disk-usage", "done");
        assert_ne!(fixture(), facts);
        assert_eq!(figures(&facts), before);
    }

    #[test]
    fn periods_follow_the_local_calendar() {
        // (from, to, bucket, [(label, from, to)])
        let cases = [
            // The Sunday the clocks go forward is one day of 23 hours.
            (
                t(3, 28, 0, 0),
                t(3, 31, 0, 0),
                Bucket::Day,
                vec![
                    ("2026-03-28", t(3, 28, 0, 0), t(3, 29, 0, 0)),
                    ("2026-03-29", t(3, 29, 0, 0), t(3, 30, 0, 0)),
                    ("2026-03-30", t(3, 30, 0, 0), t(3, 31, 0, 0)),
                ],
            ),
            // Clipped at both ends.
            (
                t(3, 25, 12, 0),
                t(4, 1, 12, 0),
                Bucket::Week,
                vec![("2026-W13", t(3, 25, 12, 0), t(3, 30, 0, 0)), ("2026-W14", t(3, 30, 0, 0), t(4, 1, 12, 0))],
            ),
            (
                t(3, 15, 0, 0),
                t(4, 10, 0, 0),
                Bucket::Month,
                vec![("2026-03", t(3, 15, 0, 0), t(4, 1, 0, 0)), ("2026-04", t(4, 1, 0, 0), t(4, 10, 0, 0))],
            ),
            // Within one day.
            (t(3, 2, 9, 0), t(3, 2, 10, 0), Bucket::Day, vec![("2026-03-02", t(3, 2, 9, 0), t(3, 2, 10, 0))]),
            (t(3, 2, 9, 0), t(3, 2, 9, 0), Bucket::Week, vec![]),
            (t(3, 2, 9, 0), t(3, 1, 9, 0), Bucket::Month, vec![]),
        ];
        for (from, to, by, expected) in cases {
            let got = periods(&zone(), from, to, by);
            let got: Vec<_> = got.iter().map(|(label, p)| (label.as_str(), p.from, p.to)).collect();
            assert_eq!(got, expected, "{by:?} {from} to {to}");
        }
        let lengths: Vec<i64> =
            periods(&zone(), t(3, 28, 0, 0), t(3, 31, 0, 0), Bucket::Day).iter().map(|(_, p)| p.to - p.from).collect();
        assert_eq!(lengths, [24 * H, 23 * H, 24 * H]);
        let autumn = |day| zone().to_timestamp(date(2026, 10, day).at(0, 0, 0, 0)).unwrap().as_millisecond();
        let (label, october_25) = periods(&zone(), autumn(25), autumn(26), Bucket::Day).remove(0);
        assert_eq!((label.as_str(), october_25.to - october_25.from), ("2026-10-25", 25 * H));
        // ISO weeks belong to their week-based year: Wednesday 31 December 2025 is in the first week of 2026.
        let new_year = |y, m, d| zone().to_timestamp(date(y, m, d).at(0, 0, 0, 0)).unwrap().as_millisecond();
        let labels: Vec<String> = periods(&zone(), new_year(2025, 12, 31), new_year(2026, 1, 6), Bucket::Week)
            .into_iter()
            .map(|(label, _)| label)
            .collect();
        assert_eq!(labels, ["2026-W01", "2026-W02"]);
        let december: Vec<String> = periods(&zone(), new_year(2026, 12, 28), new_year(2027, 1, 5), Bucket::Week)
            .into_iter()
            .map(|(label, _)| label)
            .collect();
        assert_eq!(december, ["2026-W53", "2027-W01"]);
    }

    #[test]
    fn spreads_take_nearest_ranks() {
        // (values, count, median, p90): ranks ⌈n/2⌉ and ⌈0.9 n⌉.
        let cases = [
            (vec![], 0, None, None),
            (vec![5], 1, Some(5), Some(5)),
            (vec![2, 1], 2, Some(1), Some(2)),
            (vec![3, 1, 2], 3, Some(2), Some(3)),
            // Ranks 5 and 9.
            ((1..=10).rev().collect(), 10, Some(5), Some(9)),
            // Ranks 6 and ⌈9.9⌉ = 10.
            ((1..=11).collect(), 11, Some(6), Some(10)),
            // Repeated values, in no order: ranks 50 and 90 of 100.
            ((0..100).map(|i| (i * 37) % 50).collect(), 100, Some(24), Some(44)),
        ];
        for (values, count, median_ms, p90_ms) in cases {
            assert_eq!(spread(values.clone()), Spread { count, median_ms, p90_ms }, "{values:?}");
        }
    }

    /// Checks that `csv` parses back to `rows`' JSON: the header names each field, and each cell holds its value.
    fn same_as_json<T: Serialize>(rows: &[T], csv: &str, header: &[&str]) {
        let records = from_csv(csv).unwrap();
        assert_eq!(records[0], header);
        assert_eq!(records.len(), rows.len() + 1);
        for (row, record) in rows.iter().zip(&records[1..]) {
            let json = serde_json::to_value(row).unwrap();
            for (name, cell) in header.iter().zip(record) {
                match &json[*name] {
                    serde_json::Value::Null => assert_eq!(cell, "", "{name}"),
                    serde_json::Value::String(s) => assert_eq!(cell, s, "{name}"),
                    serde_json::Value::Number(n) if n.is_f64() => {
                        assert_eq!(cell.parse::<f64>().unwrap(), n.as_f64().unwrap(), "{name}")
                    }
                    serde_json::Value::Number(n) => {
                        assert_eq!(cell.parse::<i64>().unwrap(), n.as_i64().unwrap(), "{name}")
                    }
                    other => panic!("{name}: {other}"),
                }
            }
        }
    }

    #[test]
    fn csv_round_trips_to_the_json_numbers() {
        let facts = fixture();
        let techs = technicians(&facts, &office(), &zone(), t(3, 16, 0, 0), t(4, 6, 0, 0), Bucket::Week);
        same_as_json(
            &techs,
            &to_csv(&techs).unwrap(),
            &[
                "period",
                "technician",
                "resolved",
                "first_contact",
                "reopened",
                "public_replies",
                "first_response_count",
                "first_response_wall_median_ms",
                "first_response_wall_p90_ms",
                "first_response_business_median_ms",
                "first_response_business_p90_ms",
                "resolution_wall_median_ms",
                "resolution_wall_p90_ms",
                "resolution_business_median_ms",
                "resolution_business_p90_ms",
            ],
        );
        let backlog = backlog(&facts, t(4, 8, 12, 0)).rows;
        let csv = to_csv(&backlog).unwrap();
        assert!(csv.starts_with("tier,total,0-1d,1-3d,3-7d,7-30d,over 30d\r\n1,3,1,0,1,1,0\r\n"), "{csv}");
        same_as_json(&backlog, &csv, &["tier", "total", "0-1d", "1-3d", "3-7d", "7-30d", "over 30d"]);
        let sla = sla(&facts, t(3, 16, 0, 0), t(4, 6, 0, 0));
        same_as_json(
            &sla,
            &to_csv(&sla).unwrap(),
            &["clock", "priority", "warnings", "breaches", "resolved", "resolved_breached", "breach_rate"],
        );
        let flow = flow(&facts, &zone(), t(3, 9, 0, 0), t(3, 23, 0, 0), Bucket::Week);
        assert_eq!(to_csv(&flow).unwrap(), "period,created,resolved\r\n2026-W11,0,0\r\n2026-W12,4,3\r\n");
        assert_eq!(to_csv::<FlowRow>(&[]).unwrap(), "");
    }

    #[test]
    fn csv_quotes_what_needs_it() {
        let row = |category: &str, change| CategoryRow {
            period: "2026-03".into(),
            category: category.into(),
            opened: 2,
            change,
        };
        let rows = [row("plain", None), row("a, \"b\"", Some(-1)), row("two\r\nlines", Some(0))];
        let csv = to_csv(&rows).unwrap();
        assert_eq!(
            csv,
            "period,category,opened,change\r\n2026-03,plain,2,\r\n2026-03,\"a, \"\"b\"\"\",2,-1\r\n\
             2026-03,\"two\r\nlines\",2,0\r\n"
        );
        let back = from_csv(&csv).unwrap();
        assert_eq!(back[2], ["2026-03", "a, \"b\"", "2", "-1"]);
        assert_eq!(back[3], ["2026-03", "two\r\nlines", "2", "0"]);
        // A nested struct's fields are prefixed; a list is its JSON.
        #[derive(Serialize)]
        struct Nested {
            name: &'static str,
            first_response: Spread,
            kinds: Vec<&'static str>,
        }
        let nested = [Nested { name: "x", first_response: spread(vec![3, 1]), kinds: vec!["a", "b"] }];
        assert_eq!(
            to_csv(&nested).unwrap(),
            "name,first_response_count,first_response_median_ms,first_response_p90_ms,kinds\r\n\
             x,2,1,3,\"[\"\"a\"\",\"\"b\"\"]\"\r\n"
        );
        assert!(to_csv(&[1, 2]).is_err(), "no struct, no field names");
    }

    #[test]
    fn csv_reading() {
        // (text, records or error)
        let cases = [
            ("", Ok(vec![])),
            ("a,b\r\n1,2\r\n", Ok(vec![vec!["a", "b"], vec!["1", "2"]])),
            ("a,b\n1,2", Ok(vec![vec!["a", "b"], vec!["1", "2"]])),
            ("a,,\r\n", Ok(vec![vec!["a", "", ""]])),
            ("\"\",\"x\"\"\"\r\n", Ok(vec![vec!["", "x\""]])),
            ("a,\"b\r\n", Err("line 2: a quoted field is never closed")),
            ("a,b\"c\r\n", Err("line 1: a quote inside a field that is not quoted")),
            ("\"a\"b\r\n", Err("line 1: text after a quoted field's closing quote")),
        ];
        for (text, expected) in cases {
            let expected = expected
                .map(|records| records.iter().map(|r| r.iter().map(|f| f.to_string()).collect()).collect::<Vec<_>>())
                .map_err(str::to_owned);
            assert_eq!(from_csv(text), expected, "{text:?}");
        }
    }
}
