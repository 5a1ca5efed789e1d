//! The help desk's busiest reads at the size of a large desk: a page of the ticket list, a ticket's detail and the
//! SLA clocks of a page, timed in process (the store and the service called directly, no HTTPS, so it is the
//! server's own time), each next to a plain SQL SELECT of the same rows by an index, on a read-only connection of its
//! own to the same file, in the same run. Each iteration times ours and the baseline back to back, in turns, so that
//! the machine's noise falls on both.
//!
//! `LIFELINE_BENCH_TICKETS` sets how many tickets the store is filled with (default 100,000, with 10 events each on
//! average; 2,000 in the smoke run). `LIFELINE_BENCH_TICKETS_DB` names a store file to keep: filled there if it does
//! not exist, used as it is if it does, so that a second run (or an EXPLAIN by hand) skips the generation.

use std::path::{Path, PathBuf};
use std::time::Instant;

use lifeline_server::desk::access::Role;
use lifeline_server::desk::actor::{Actor, ActorKind};
use lifeline_server::desk::policy::{Policy, SlaRule};
use lifeline_server::desk::priority::Level;
use lifeline_server::desk::sla::{Calendar, Targets, clocks};
use lifeline_server::desk::tickets::{Channel, Event, Status};
use lifeline_server::service::tickets as service;
use lifeline_server::store::agents::SnapshotRow;
use lifeline_server::store::auth::User;
use lifeline_server::store::tickets::{Cursor, Query};
use lifeline_server::store::{Store, now_ms};
use lifeline_shared::findings::{Category as FindingCategory, Finding, FindingKind, Severity};
use lifeline_shared::wire::{SelfHelpReport, Snapshot};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rusqlite::types::Value;

use crate::{Row, percentile};

const DAY_MS: i64 = 86_400_000;
/// The tickets are opened evenly over the year before the run.
const SPAN_DAYS: i64 = 365;
/// Tickets per write job: one `Store::write` closure, one transaction.
const BATCH_TICKETS: usize = 5_000;
const AGENTS: usize = 500;
const TECHNICIANS: usize = 25;
const REQUESTERS: usize = 5_000;
const PAGE: u32 = 50;
/// The word the text search looks for: the subject of two topics in forty, and in some replies on them.
const SEARCHED: &str = "printer";
const WARMUP: usize = 5;

/// The rows of this module, then the reports' (`reports.rs`) on the same store.
pub fn rows() -> Vec<Row> {
    let bench = Bench::open();
    let mut rows = bench.lists(bench.count);
    rows.extend(bench.show(bench.count));
    rows.extend(bench.sla_page());
    rows.extend(crate::reports::rows(&bench));
    rows.extend(crate::console::rows(&bench));
    rows
}

impl Bench {
    /// The store at the size the environment asks for: generated, or the kept one as it is; read through once.
    pub fn open() -> Bench {
        let tickets = std::env::var("LIFELINE_BENCH_TICKETS").ok().and_then(|s| s.parse().ok()).unwrap_or(if smoke() {
            2_000
        } else {
            100_000
        });
        let iterations = if smoke() { 20 } else { 200 };
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = std::env::var_os("LIFELINE_BENCH_TICKETS_DB")
            .map(PathBuf::from)
            .unwrap_or_else(|| dir.path().join("lifeline.db"));
        let fresh = !path.exists();
        let opening = Instant::now();
        let store = Store::open(&path).unwrap();
        if !fresh {
            // A kept store of an earlier schema is migrated here, its statistics' rows filled again if need be.
            println!("ticket store: opened in {:.1} s", opening.elapsed().as_secs_f64());
        }
        if fresh {
            let started = Instant::now();
            let events = runtime.block_on(generate(&store, tickets));
            println!(
                "ticket store: {tickets} tickets and {events} events written in {:.0} s, {:.0} MiB",
                started.elapsed().as_secs_f64(),
                size_mib(&path)
            );
        }
        let plain = rusqlite::Connection::open_with_flags(&path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
        let (count, events): (i64, i64) = plain
            .query_row("SELECT (SELECT count(*) FROM tickets), (SELECT count(*) FROM ticket_events)", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        println!("ticket store: {count} tickets, {events} events, {:.0} MiB", size_mib(&path));
        // A server that has run a while has its store in the page cache; a kept store may have been pushed out of it.
        for file in store_files(&path) {
            if let Ok(mut f) = std::fs::File::open(&file) {
                std::io::copy(&mut f, &mut std::io::sink()).unwrap();
            }
        }
        Bench { runtime, store, plain, policy: policy(), iterations, count, _dir: dir }
    }
}

pub fn smoke() -> bool {
    std::env::var_os("LIFELINE_BENCH_SMOKE").is_some()
}

/// The database and its write-ahead log.
fn store_files(path: &Path) -> [PathBuf; 2] {
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    [path.to_path_buf(), PathBuf::from(wal)]
}

fn size_mib(path: &Path) -> f64 {
    store_files(path).iter().filter_map(|p| std::fs::metadata(p).ok()).map(|m| m.len() as f64 / 1_048_576.0).sum()
}

/// A 09:00-17:00 Monday-to-Friday desk in Amsterdam, with targets by priority.
fn policy() -> Policy {
    let day = vec![(9 * 60, 17 * 60)];
    let week = [day.clone(), day.clone(), day.clone(), day.clone(), day, Vec::new(), Vec::new()];
    let calendar = Calendar::new("Europe/Amsterdam", week, Vec::new()).unwrap();
    const HOUR: i64 = 3_600_000;
    let rule = |priority: Level, response_h: i64, resolution_h: i64| SlaRule {
        name: priority.as_str().to_owned(),
        priorities: vec![priority],
        channels: Vec::new(),
        categories: Vec::new(),
        targets: Targets {
            first_response_ms: Some(response_h * HOUR),
            next_response_ms: Some(response_h * HOUR),
            resolution_ms: Some(resolution_h * HOUR),
        },
    };
    let mut policy = Policy::default();
    policy.sla.calendar = calendar;
    policy.sla.rules = vec![
        rule(Level::Critical, 1, 4),
        rule(Level::High, 2, 16),
        rule(Level::Medium, 4, 40),
        rule(Level::Low, 8, 80),
    ];
    policy
}

// The generator. On the 2-core build machine 100,000 tickets with 1,006,587 events took 99 s (a 461 MiB store),
// 2,000 tickets 1 s: the store's one writer thread is the limit, each append reading and folding its ticket's log.

/// One ticket's history: its opening, and every later event with its time and who did it.
struct Plan {
    opened_at: i64,
    opening: (Actor, Event),
    /// The snapshot its first later event attaches, and the agent it is of.
    snapshot: Option<(String, SnapshotRow)>,
    later: Vec<(i64, Actor, Event)>,
}

/// Fills `store` with `tickets` tickets opened over the last year, `BATCH_TICKETS` to a write job: each job opens
/// its tickets, then appends their later events in time order, so that the events of different tickets interleave
/// in the table as a desk's do. Returns how many events it wrote.
async fn generate(store: &Store, tickets: usize) -> usize {
    let now = now_ms();
    let start = now - SPAN_DAYS * DAY_MS;
    let agents: Vec<(String, String)> =
        (0..AGENTS).map(|i| (format!("bench-agent-{i:04}"), format!("{i:064x}"))).collect();
    store.write(move |c| c.insert_simulated_agents(&agents, start)).await.unwrap();
    let mut rng = StdRng::seed_from_u64(20_261_203);
    let mut events = 0;
    for first in (0..tickets).step_by(BATCH_TICKETS) {
        let plans: Vec<Plan> =
            (first..tickets.min(first + BATCH_TICKETS)).map(|i| plan(&mut rng, i, tickets, start, now)).collect();
        events += plans.iter().map(|p| 1 + p.later.len()).sum::<usize>();
        store
            .write(move |c| {
                let mut later = Vec::new();
                for plan in &plans {
                    let (number, _) = c.open_ticket(None, std::slice::from_ref(&plan.opening), plan.opened_at)?;
                    if let Some((agent_id, row)) = &plan.snapshot {
                        c.insert_snapshot(agent_id, row, plan.opened_at)?;
                    }
                    later.extend(plan.later.iter().map(|(at, actor, event)| (*at, number, actor, event)));
                }
                // Stable: a ticket's own events keep their order.
                later.sort_by_key(|(at, ..)| *at);
                for (at, number, actor, event) in later {
                    c.append_event(number, None, actor, event, at)?;
                }
                Ok(())
            })
            .await
            .unwrap();
    }
    // Self-help advice shown on the requesters' machines over the year, one for every five tickets, two in five of
    // them solving the problem: the education report counts them.
    let shown: Vec<(String, SelfHelpReport)> = (0..tickets / 5)
        .map(|i| {
            let agent = format!("bench-agent-{:04}", rng.random_range(0..AGENTS));
            let kinds = (0..rng.random_range(1..=2))
                .map(|_| FindingKind::ALL[rng.random_range(0..FindingKind::ALL.len())])
                .collect();
            let at = start + rng.random_range(0..SPAN_DAYS * DAY_MS);
            let report = SelfHelpReport {
                id: (i as u128).to_be_bytes(),
                user: format!("user{:04}", rng.random_range(0..REQUESTERS)),
                at_ms: u64::try_from(at).unwrap(),
                shown: kinds,
                solved: rng.random_bool(0.4),
            };
            (agent, report)
        })
        .collect();
    store
        .write(move |c| {
            for (agent, report) in &shown {
                c.record_self_help(agent, report)?;
            }
            Ok(())
        })
        .await
        .unwrap();
    events
}

fn pick<T: Copy>(rng: &mut StdRng, weighted: &[(T, u32)]) -> T {
    let total: u32 = weighted.iter().map(|(_, w)| w).sum();
    let mut roll = rng.random_range(0..total);
    for &(item, weight) in weighted {
        if roll < weight {
            return item;
        }
        roll -= weight;
    }
    weighted[weighted.len() - 1].0
}

fn technician(rng: &mut StdRng) -> String {
    format!("tech{:02}", rng.random_range(0..TECHNICIANS))
}

fn changed(from: Status, to: Status) -> Event {
    Event::StatusChanged { from, to, reason: None, until: None, code: None, first_contact: false }
}

/// How a ticket was resolved: by its technician with a code drawn by weight, marked solved at first contact for
/// some calls and visits; or, now and then, by the requester saying so, without a code.
fn resolution(rng: &mut StdRng, channel: Channel, tech: &Actor, requester: &str) -> (Actor, Event) {
    if rng.random_bool(0.05) {
        let event = Event::StatusChanged {
            from: Status::Open,
            to: Status::Resolved,
            reason: Some("the requester says it is solved".into()),
            until: None,
            code: None,
            first_contact: false,
        };
        return (Actor::requester(requester), event);
    }
    let in_person = matches!(channel, Channel::Phone | Channel::OnSite);
    let event = Event::StatusChanged {
        from: Status::Open,
        to: Status::Resolved,
        reason: None,
        until: None,
        code: Some(pick(rng, CODES).to_owned()),
        first_contact: in_person && rng.random_bool(0.25),
    };
    (tech.clone(), event)
}

#[derive(Clone, Copy)]
enum Step {
    Note,
    Reply,
    Answer,
    Reassign,
    Reprioritize,
    /// Waiting for the requester, then back: two events.
    Pending,
    /// Up a tier, while it is below the third.
    Escalate,
    /// An approved check run on the requester's machine: tickets from a machine only.
    Check,
    /// A warning or breach of an SLA clock, as the server records them.
    Alert,
}

/// How the tickets that end resolved were resolved, by weight: the help desk's own codes.
const CODES: &[(&str, u32)] = &[
    ("fixed-remotely", 35),
    ("user-instructed", 20),
    ("workaround", 10),
    ("software-reinstalled", 10),
    ("hardware-replaced", 5),
    ("fixed-on-site", 5),
    ("no-fault-found", 8),
    ("duplicate", 4),
    ("referred-elsewhere", 3),
];

/// The checks a technician runs on a machine, each with its share.
const CHECKS: &[(&str, u32)] =
    &[("disk usage", 30), ("network reset", 25), ("printer queue", 20), ("restart spooler", 15), ("dns flush", 10)];

/// Ticket `i` of `n`, opened at its share of the year: channel, priority, category and topic drawn by weight, the
/// status it ends at drawn by its age (most of the year's tickets closed, the last fortnight's mostly in work), and
/// 3 to 17 events (10 on average) that lead there: for a ticket from a machine often its snapshot first, then work
/// (replies, notes, the requester's answers, reassignments, escalations, checks run on the machine, SLA alerts)
/// and a resolution with a code.
fn plan(rng: &mut StdRng, i: usize, n: usize, start: i64, now: i64) -> Plan {
    use Status::*;
    let opened_at = start + (SPAN_DAYS * DAY_MS) * i as i64 / n as i64 + rng.random_range(0..60_000);
    let (subject, word, category) = TOPICS[rng.random_range(0..TOPICS.len())];
    let channel = pick(
        rng,
        &[
            (Channel::Agent, 30),
            (Channel::Phone, 25),
            (Channel::Email, 25),
            (Channel::Chat, 10),
            (Channel::Web, 7),
            (Channel::OnSite, 3),
        ],
    );
    let levels = [(Level::Low, 30), (Level::Medium, 45), (Level::High, 20), (Level::Critical, 5)];
    let priority = pick(rng, &levels);
    let requester = format!("user{:04}", rng.random_range(0..REQUESTERS));
    let agent_id = (channel == Channel::Agent).then(|| format!("bench-agent-{:04}", rng.random_range(0..AGENTS)));
    let opener = if channel == Channel::Agent { Actor::requester(&requester) } else { Actor::technician("desk") };
    let created = Event::Created {
        subject: subject.to_owned(),
        description: text(rng, word, 12..40),
        channel,
        requester: requester.clone(),
        agent_id: agent_id.clone(),
        category: rng.random_bool(0.9).then(|| category.to_owned()),
        person: None,
        urgency: priority,
        impact: Level::Medium,
        priority,
        ticket_type: Default::default(),
    };
    let recent = now - opened_at < 14 * DAY_MS;
    let end = if recent {
        pick(rng, &[(New, 15), (Open, 35), (PendingUser, 15), (PendingThirdParty, 5), (Resolved, 20), (Closed, 10)])
    } else {
        pick(rng, &[(New, 1), (Open, 5), (PendingUser, 3), (PendingThirdParty, 1), (Resolved, 10), (Closed, 80)])
    };
    let mut total = rng.random_range(3..=17usize);
    let mut events: Vec<(Actor, Event)> = Vec::new();
    // The machine's snapshot at the opening, with the findings the education report counts.
    let mut snapshot = None;
    if let Some(agent_id) = agent_id.as_deref().filter(|_| rng.random_bool(0.6)) {
        let findings: Vec<Finding> = (0..rng.random_range(1..=2)).map(|_| finding(rng)).collect();
        let id: u128 = rng.random();
        let mut snap =
            Snapshot { id: id.to_be_bytes(), taken_at_ms: u64::try_from(opened_at).unwrap(), ..Snapshot::default() };
        snap.host.hostname = agent_id.to_owned();
        snapshot = Some((agent_id.to_owned(), SnapshotRow::new(&snap, &findings).unwrap()));
        let attached =
            Event::SnapshotAttached { agent_id: agent_id.to_owned(), snapshot_id: format!("{id:032x}"), findings };
        events.push((Actor::agent(agent_id), attached));
    }
    let mut owner = technician(rng);
    let mut status = New;
    let mut tier = 1;
    if end == New {
        total = total.min(3);
    } else {
        events.push((Actor::technician(&owner), Event::Assigned { to: owner.clone() }));
        events.push((Actor::technician(&owner), changed(New, Open)));
        status = Open;
    }
    let tail = match end {
        New | Open => 0,
        Closed => 2,
        _ => 1,
    };
    let steps = [
        (Step::Note, 15),
        (Step::Reply, 30),
        (Step::Answer, 25),
        (Step::Reassign, 6),
        (Step::Reprioritize, 4),
        (Step::Pending, 10),
        (Step::Escalate, 3),
        (Step::Check, 4),
        (Step::Alert, 3),
    ];
    while events.len() + 1 + tail < total {
        let tech = Actor::technician(&owner);
        match pick(rng, &steps) {
            Step::Reply => events.push((tech, Event::PublicReply { body: text(rng, word, 6..30) })),
            Step::Answer => {
                events.push((Actor::requester(&requester), Event::RequesterReply { body: text(rng, word, 4..20) }))
            }
            Step::Reassign if status != New => {
                owner = technician(rng);
                events.push((tech, Event::Assigned { to: owner.clone() }));
            }
            Step::Reprioritize => {
                let to = pick(rng, &levels);
                let event =
                    Event::Prioritized { urgency: to, impact: Level::Medium, priority: to, manual: true, reason: None };
                events.push((tech, event));
            }
            Step::Pending if status == Open && events.len() + 3 + tail <= total => {
                events.push((tech.clone(), changed(Open, PendingUser)));
                events.push((tech, changed(PendingUser, Open)));
            }
            Step::Escalate if status != New && tier < 3 => {
                events.push((tech, Event::Escalated { from_tier: tier, to_tier: tier + 1, reason: None }));
                tier += 1;
            }
            Step::Check if agent_id.is_some() => {
                let state = pick(rng, &[("done", 80), ("failed", 12), ("refused", 5), ("expired", 3)]);
                let event = Event::CheckRun {
                    run: rng.random_range(1..1_000_000),
                    check: pick(rng, CHECKS).to_owned(),
                    state: state.to_owned(),
                    elapsed_ms: Some(rng.random_range(200..20_000)),
                    result: text(rng, word, 3..12),
                };
                events.push((tech, event));
            }
            Step::Alert => {
                use lifeline_server::desk::sla::{Alert, ClockKind};
                let clock = pick(
                    rng,
                    &[(ClockKind::FirstResponse, 40), (ClockKind::NextResponse, 30), (ClockKind::Resolution, 30)],
                );
                let alert = pick(rng, &[(Alert::Warning, 60), (Alert::Breach, 40)]);
                let server = Actor { kind: ActorKind::System, name: "server".into() };
                events.push((server, Event::SlaAlert { clock, started_at: opened_at, alert }));
            }
            _ => events.push((tech, Event::InternalNote { body: text(rng, word, 6..30) })),
        }
    }
    let tech = Actor::technician(&owner);
    match end {
        New | Open => {}
        Closed => {
            events.push(resolution(rng, channel, &tech, &requester));
            events.push((tech, changed(Resolved, Closed)));
        }
        Resolved => events.push(resolution(rng, channel, &tech, &requester)),
        to => events.push((tech, changed(Open, to))),
    }
    // Minutes to hours between events, sometimes days; squeezed to end before now.
    let gaps: Vec<i64> = (0..events.len())
        .map(|_| {
            if rng.random_bool(0.2) {
                rng.random_range(DAY_MS..5 * DAY_MS)
            } else {
                rng.random_range(60_000..4 * 3_600_000)
            }
        })
        .collect();
    let room = (now - 60_000 - opened_at).max(0);
    let sum: i64 = gaps.iter().sum();
    let mut at = opened_at;
    let later = events
        .into_iter()
        .zip(gaps)
        .map(|((actor, event), gap)| {
            at += if sum > room { (gap as i128 * room as i128 / sum as i128) as i64 } else { gap }.max(1);
            (at, actor, event)
        })
        .collect();
    Plan { opened_at, opening: (opener, created), snapshot, later }
}

/// A finding of the requester's machine, as its snapshot reports it: only its kind counts in the figures.
fn finding(rng: &mut StdRng) -> Finding {
    let kind = FindingKind::ALL[rng.random_range(0..FindingKind::ALL.len())];
    Finding {
        kind,
        severity: Severity::Warning,
        category: FindingCategory::Other,
        summary: format!("{kind:?}"),
        advice: String::new(),
        about: String::new(),
        figure: None,
    }
}

/// Between `words.start` and `words.end` words of a help desk's prose, now and then the topic's own word.
fn text(rng: &mut StdRng, word: &str, words: std::ops::Range<usize>) -> String {
    let n = rng.random_range(words);
    let mut out: Vec<&str> = (0..n).map(|_| WORDS[rng.random_range(0..WORDS.len())]).collect();
    if rng.random_bool(0.4) {
        let at = rng.random_range(0..=out.len());
        out.insert(at, word);
    }
    out.join(" ")
}

/// Subject, its searchable word, category.
const TOPICS: &[(&str, &str, &str)] = &[
    ("The printer on the second floor prints blank pages", "printer", "printing"),
    ("Printer jams on every job", "printer", "printing"),
    ("Cannot connect to the VPN from home", "vpn", "vpn"),
    ("VPN drops every ten minutes", "tunnel", "vpn"),
    ("Outlook keeps asking for my password", "outlook", "email"),
    ("Mails to customers bounce", "bounce", "email"),
    ("Shared mailbox missing", "mailbox", "email"),
    ("Laptop very slow since the update", "slow", "performance"),
    ("Computer freezes when opening Excel", "excel", "performance"),
    ("Fan is loud and the laptop gets hot", "fan", "hardware"),
    ("Wi-Fi drops in the meeting room", "wifi", "wifi"),
    ("Guest network does not work", "guest", "wifi"),
    ("Disk almost full", "disk", "storage"),
    ("Cannot open the network drive", "share", "storage"),
    ("Second screen stays black", "monitor", "peripherals"),
    ("Keyboard types wrong characters", "keyboard", "peripherals"),
    ("Docking station not recognised", "dock", "peripherals"),
    ("Headset has no sound in Teams", "headset", "peripherals"),
    ("Please install Visio", "visio", "installation"),
    ("Update of the accounting program fails", "accounting", "installation"),
    ("Adobe Reader asks for a licence", "adobe", "installation"),
    ("Account locked after holiday", "locked", "account"),
    ("New employee needs an account", "onboarding", "account"),
    ("Password reset for the ERP", "erp", "account"),
    ("No access to the finance folder", "permissions", "account"),
    ("Suspicious mail with an attachment", "phishing", "security"),
    ("Antivirus reports a threat", "antivirus", "security"),
    ("Browser opens strange pages", "browser", "security"),
    ("How do I share my calendar", "calendar", "how-to"),
    ("How do I set an out of office reply", "office", "how-to"),
    ("Phone does not sync mail", "phone", "email"),
    ("Teams meeting has no video", "teams", "software"),
    ("Excel macro stopped working", "macro", "software"),
    ("Citrix session disconnects", "citrix", "software"),
    ("Scanner sends nothing to my mail", "scanner", "printing"),
    ("Laptop does not start", "boot", "hardware"),
    ("Battery lasts one hour", "battery", "hardware"),
    ("Internet very slow at the branch office", "bandwidth", "network"),
    ("Cannot reach the intranet", "intranet", "network"),
    ("Request for a new mouse", "mouse", "other"),
];

const WORDS: &[&str] = &[
    "the",
    "a",
    "it",
    "is",
    "not",
    "again",
    "since",
    "yesterday",
    "today",
    "this",
    "morning",
    "after",
    "before",
    "update",
    "restart",
    "restarted",
    "please",
    "could",
    "you",
    "check",
    "tried",
    "still",
    "works",
    "working",
    "error",
    "message",
    "screen",
    "shows",
    "when",
    "open",
    "opening",
    "file",
    "files",
    "user",
    "colleague",
    "same",
    "problem",
    "issue",
    "fixed",
    "now",
    "thanks",
    "thank",
    "help",
    "remote",
    "session",
    "connected",
    "logged",
    "in",
    "out",
    "settings",
    "changed",
    "reinstalled",
    "driver",
    "version",
    "new",
    "old",
    "meeting",
    "urgent",
    "deadline",
    "customer",
    "waiting",
    "minutes",
    "hours",
    "every",
    "time",
    "sometimes",
    "always",
    "never",
    "office",
    "home",
    "laptop",
    "desktop",
    "account",
    "password",
    "network",
    "cable",
    "replaced",
    "ordered",
    "delivered",
    "tomorrow",
    "monday",
    "friday",
    "week",
    "call",
    "called",
    "back",
    "answer",
    "asked",
    "confirmed",
    "solved",
    "seems",
    "fine",
    "ok",
    "team",
];

// The measurements.

pub struct Bench {
    pub runtime: tokio::runtime::Runtime,
    pub store: Store,
    /// A read-only connection of the baselines' own to the same file.
    pub plain: rusqlite::Connection,
    pub policy: Policy,
    iterations: usize,
    count: i64,
    /// Holds the temporary store's directory while the store is in use.
    _dir: tempfile::TempDir,
}

/// What the list shows of a ticket, as the store's own list query reads it.
const LIST_COLUMNS: &str = "number, subject, status, category, tier, assignee, requester, person, agent_id, channel, \
                            priority, ticket_type, merged_into, sla_due_at, sla_breached, created_at, updated_at";

impl Bench {
    pub fn iterations(&self) -> usize {
        self.iterations
    }

    fn user() -> User {
        User { id: 1, name: "bench".into(), role: Role::Admin }
    }

    /// Every column of every row `sql` gives, read out as the store reads them (text as strings): the baseline.
    pub fn select(&self, sql: &str, params: impl rusqlite::Params) -> Vec<Vec<Value>> {
        let mut stmt = self.plain.prepare_cached(sql).unwrap();
        let columns = stmt.column_count();
        stmt.query_map(params, |r| (0..columns).map(|i| r.get::<_, Value>(i)).collect())
            .unwrap()
            .map(Result::unwrap)
            .collect()
    }

    fn page(&self, query: &Query) -> Vec<i64> {
        let query = query.clone();
        let page = self.runtime.block_on(service::list(&self.store, &Self::user(), query)).unwrap();
        page.tickets.iter().map(|t| t.number).collect()
    }

    /// Times `ours` and `baseline` `iterations` times each, in turns (which goes first alternates), after a warm-up;
    /// both sorted, in milliseconds.
    fn time(&self, ours: impl FnMut(usize), baseline: impl FnMut(usize)) -> (Vec<f64>, Vec<f64>) {
        time(WARMUP, self.iterations, ours, baseline)
    }
}

/// Times `ours` and `baseline` `iterations` times each, in turns (which goes first alternates), after `warmup` runs of
/// each; both sorted, in milliseconds.
pub fn time(
    warmup: usize,
    iterations: usize,
    mut ours: impl FnMut(usize),
    mut baseline: impl FnMut(usize),
) -> (Vec<f64>, Vec<f64>) {
    for i in 0..warmup {
        ours(i);
        baseline(i);
    }
    let (mut a, mut b) = (Vec::new(), Vec::new());
    let ms = |f: &mut dyn FnMut(usize), i| {
        let started = Instant::now();
        f(i);
        started.elapsed().as_secs_f64() * 1000.0
    };
    for i in 0..iterations {
        if i % 2 == 0 {
            a.push(ms(&mut ours, i));
            b.push(ms(&mut baseline, i));
        } else {
            b.push(ms(&mut baseline, i));
            a.push(ms(&mut ours, i));
        }
    }
    a.sort_by(f64::total_cmp);
    b.sort_by(f64::total_cmp);
    (a, b)
}

impl Bench {
    /// A filtered page, a text search and a page deep in the list: the service's `list` against the same SELECT.
    fn lists(&self, count: i64) -> Vec<Row> {
        let open_high =
            Query { status: Some(Status::Open), priority: Some(Level::High), limit: PAGE, ..Query::default() };
        let open_high_sql = format!(
            "SELECT {LIST_COLUMNS} FROM tickets WHERE status = 'open' AND priority = 'high'
             ORDER BY updated_at DESC, number DESC LIMIT {}",
            PAGE + 1
        );
        let search = Query { text: Some(SEARCHED.into()), limit: PAGE, ..Query::default() };
        let search_sql = format!(
            "SELECT {LIST_COLUMNS} FROM tickets WHERE status != 'merged'
             AND number IN (SELECT rowid FROM ticket_search WHERE ticket_search MATCH '\"{SEARCHED}\"')
             ORDER BY updated_at DESC, number DESC LIMIT {}",
            PAGE + 1
        );
        // Half-way down the whole list, most recently changed first.
        let depth = count / 2;
        let (key, number): (i64, i64) = self
            .plain
            .query_row(
                "SELECT updated_at, number FROM tickets WHERE status != 'merged'
                 ORDER BY updated_at DESC, number DESC LIMIT 1 OFFSET ?1",
                [depth - 1],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        let deep = Query { after: Some(Cursor { key, number }), limit: PAGE, ..Query::default() };
        let deep_sql = format!(
            "SELECT {LIST_COLUMNS} FROM tickets WHERE status != 'merged' AND (updated_at, number) < ({key}, {number})
             ORDER BY updated_at DESC, number DESC LIMIT {}",
            PAGE + 1
        );
        let cases = [
            ("list open+high".to_owned(), open_high, open_high_sql, "SELECT of the same rows".to_owned()),
            (format!("list text \"{SEARCHED}\""), search, search_sql, format!("the same SELECT, MATCH '{SEARCHED}'")),
            (
                format!("list page at row {depth}"),
                deep,
                deep_sql,
                "SELECT of the same rows from (updated_at, number) < cursor".to_owned(),
            ),
        ];
        let mut rows = Vec::new();
        for (figure, query, sql, against) in cases {
            let ours = self.page(&query);
            let theirs: Vec<i64> = self.select(&sql, []).iter().take(PAGE as usize).map(|r| number_of(r)).collect();
            assert_eq!(ours, theirs, "{figure}: the baseline reads other rows");
            assert!(!ours.is_empty(), "{figure}: an empty page measures nothing");
            let (a, b) = self.time(
                |_| {
                    self.page(&query);
                },
                |_| {
                    self.select(&sql, []);
                },
            );
            rows.extend(pair(&figure, &a, &b, &against));
        }
        rows
    }

    /// `ticket show` of tickets drawn from the whole store, against reading the same ticket's events.
    fn show(&self, count: i64) -> Vec<Row> {
        let mut rng = StdRng::seed_from_u64(7);
        let numbers: Vec<i64> = (0..self.iterations + WARMUP).map(|_| rng.random_range(1..=count)).collect();
        let sql = "SELECT at, actor_kind, actor, format, event FROM ticket_events WHERE ticket = ?1 ORDER BY id";
        let detail =
            self.runtime.block_on(service::show(&self.store, &self.policy, &Self::user(), numbers[0])).unwrap();
        assert_eq!(detail.events.len(), self.select(sql, [numbers[0]]).len(), "the baseline reads other events");
        let (a, b) = self.time(
            |i| {
                self.runtime.block_on(service::show(&self.store, &self.policy, &Self::user(), numbers[i])).unwrap();
            },
            |i| {
                self.select(sql, [numbers[i]]);
            },
        );
        pair("ticket show", &a, &b, "SELECT of its events by ticket_events_by_ticket").into()
    }

    /// The SLA clocks of the open, high-priority page above: its 50 tickets' events read, folded into the clocks'
    /// facts and the clocks computed at now, against reading the same events.
    fn sla_page(&self) -> Vec<Row> {
        let numbers = self.page(&Query {
            status: Some(Status::Open),
            priority: Some(Level::High),
            limit: PAGE,
            ..Query::default()
        });
        let sql = "SELECT at, actor_kind, actor, format, event FROM ticket_events WHERE ticket = ?1 ORDER BY id";
        let clocked = |numbers: Vec<i64>| {
            let sla = self.policy.sla.clone();
            self.runtime
                .block_on(self.store.read(move |c| {
                    let now = now_ms();
                    let mut all = Vec::new();
                    for number in numbers {
                        let log = c.ticket_events(number)?;
                        let (facts, _) = sla.read_log(log.iter().map(|e| (e.at, &e.event)));
                        all.push(clocks(&sla.calendar, &facts, now));
                    }
                    Ok(all)
                }))
                .unwrap()
        };
        assert!(clocked(numbers.clone()).iter().all(|c| !c.is_empty()), "every ticket of the page has clocks");
        let (a, b) = self.time(
            |_| {
                clocked(numbers.clone());
            },
            |_| {
                for &number in &numbers {
                    self.select(sql, [number]);
                }
            },
        );
        let figure = format!("SLA clocks, page of {}", numbers.len());
        pair(&figure, &a, &b, "SELECT of the same tickets' events").into()
    }
}

fn number_of(row: &[Value]) -> i64 {
    match row[0] {
        Value::Integer(n) => n,
        ref other => panic!("a ticket number is an integer, not {other:?}"),
    }
}

/// The p50 and p99 rows of a figure.
pub fn pair(figure: &str, ours: &[f64], baseline: &[f64], against: &str) -> [Row; 2] {
    [(0.5, "p50"), (0.99, "p99")].map(|(p, name)| Row {
        figure: format!("{figure}, {name}"),
        value: percentile(ours, p),
        unit: "ms",
        baseline: Some(percentile(baseline, p)),
        against: format!("{against}, same percentile"),
    })
}
