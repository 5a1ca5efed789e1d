//! Retention: a pass every `[retention] interval` deletes what has aged out (the rules are in `store::retention`),
//! in transactions of at most `batch` rows. Each is one job of the store's writer like any other, awaited before the
//! next, so snapshots go on being acknowledged between them, and the pass rests between batches so that it takes
//! about a twentieth of the writer's time while it works off a backlog. The audit log is never touched.

use std::time::{Duration, Instant};

use tracing::{info, warn};

use crate::config;
use crate::store::retention::{Attached, Pages, SnapshotRules};
use crate::store::{Store, StoreError, now_ms};

/// Write transactions one pass runs at most; a pass that stops there says so, and the next begins at once, so a
/// backlog (the first pass over an old database) is reported as it goes rather than once at the end.
const MAX_BATCHES: usize = 1_000;
/// Agents whose snapshots one read looks at: a few milliseconds of the read connection, which the API shares.
const AGENTS_PER_READ: usize = 64;
/// Ticket events one read decodes while catching up.
const EVENTS_PER_READ: i64 = 2_000;
/// The pass rests this many times as long as each read or write took: a twentieth of the store's time at most.
const REST_FACTOR: u32 = 19;

const DAY_MS: i64 = 86_400_000;

/// What one pass deleted.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Report {
    pub snapshots: usize,
    pub check_runs: usize,
    pub enrollment_tokens: usize,
    pub api_tokens: usize,
    /// Write transactions the pass ran.
    pub batches: usize,
    /// Whether the pass stopped at [`MAX_BATCHES`] with more to delete.
    pub more: bool,
    /// The database file after the pass.
    pub pages: Pages,
}

impl Report {
    pub fn deleted(&self) -> usize {
        self.snapshots + self.check_runs + self.enrollment_tokens + self.api_tokens
    }
}

/// The retention passes of one store, with what they remember between passes.
pub struct Retention {
    store: Store,
    settings: config::Retention,
    /// The snapshots tickets refer to, as of the last pass that ended well. A failed write may have read events of
    /// a transaction that then did not commit, whose ids the next events take again; so after any failure this is
    /// read again from the first event.
    attached: Option<Attached>,
}

impl Retention {
    pub fn new(store: Store, settings: config::Retention) -> Retention {
        Retention { store, settings, attached: None }
    }

    /// Deletes what is old at `now`: expired tokens and ended check runs first, then routine snapshots, agent by
    /// agent, each transaction at most `batch` rows.
    pub async fn pass(&mut self, now: i64) -> Result<Report, StoreError> {
        let mut report = Report::default();
        self.tokens_and_runs(now, &mut report).await?;
        if !report.more {
            self.snapshots(now, &mut report).await?;
        }
        report.pages = self.store.read(|r| r.pages()).await?;
        Ok(report)
    }

    async fn tokens_and_runs(&self, now: i64, report: &mut Report) -> Result<(), StoreError> {
        let batch = self.batch();
        let tokens_before = now.saturating_sub(i64::from(self.settings.token_days) * DAY_MS);
        let runs_before = now.saturating_sub(i64::from(self.settings.check_run_days) * DAY_MS);
        let mut runs_after = 0;
        loop {
            if report.batches == MAX_BATCHES {
                report.more = true;
                return Ok(());
            }
            let ((enrollment, api, runs), work) = self
                .store
                .write(move |tx| {
                    timed(|| {
                        let enrollment = tx.delete_expired_enrollment_tokens(tokens_before, batch)?;
                        let api = tx.delete_expired_api_tokens(tokens_before, batch - enrollment)?;
                        let runs = tx.delete_ended_runs(runs_before, runs_after, batch - enrollment - api)?;
                        Ok((enrollment, api, runs))
                    })
                })
                .await?;
            report.batches += 1;
            report.enrollment_tokens += enrollment;
            report.api_tokens += api;
            report.check_runs += runs.len();
            runs_after = runs.last().copied().unwrap_or(runs_after);
            rest(work).await;
            if enrollment + api + runs.len() < batch {
                return Ok(());
            }
        }
    }

    async fn snapshots(&mut self, now: i64, report: &mut Report) -> Result<(), StoreError> {
        let batch = self.batch();
        let rules = SnapshotRules {
            taken_before: now.saturating_sub(i64::from(self.settings.snapshot_days) * DAY_MS),
            keep_newest: self.settings.snapshots_per_agent,
        };
        // Taken for the pass and given back only if it ends well.
        let mut attached = self.attached.take().unwrap_or_default();
        loop {
            let (caught_up, back, work) = self
                .store
                .read(move |r| {
                    let (caught_up, work) = timed(|| r.catch_up_attached(&mut attached, EVENTS_PER_READ))?;
                    Ok((caught_up, attached, work))
                })
                .await?;
            attached = back;
            rest(work).await;
            if caught_up {
                break;
            }
        }
        let mut from = Some(String::new());
        while let Some(start) = from {
            if report.batches == MAX_BATCHES {
                report.more = true;
                break;
            }
            let (found, back, read) = self
                .store
                .read(move |r| {
                    let (found, work) =
                        timed(|| r.expired_snapshots(rules, &attached, &start, AGENTS_PER_READ, batch))?;
                    Ok((found, attached, work))
                })
                .await?;
            attached = back;
            from = found.next;
            let mut work = read;
            if !found.keys.is_empty() {
                let keys = found.keys;
                let (deleted, back, write) = self
                    .store
                    .write(move |tx| {
                        let (deleted, work) = timed(|| tx.delete_snapshots(&keys, &mut attached))?;
                        Ok((deleted, attached, work))
                    })
                    .await?;
                attached = back;
                report.batches += 1;
                report.snapshots += deleted;
                work += write;
            }
            rest(work).await;
        }
        self.attached = Some(attached);
        Ok(())
    }

    fn batch(&self) -> usize {
        usize::try_from(self.settings.batch).unwrap_or(usize::MAX).max(1)
    }
}

/// Runs `f` and says how long it took: the store's own time spent on retention, without the wait for its turn.
fn timed<T>(f: impl FnOnce() -> Result<T, StoreError>) -> Result<(T, Duration), StoreError> {
    let started = Instant::now();
    let value = f()?;
    Ok((value, started.elapsed()))
}

async fn rest(work: Duration) {
    tokio::time::sleep(work * REST_FACTOR).await;
}

/// A pass every `settings.interval`, the first one `interval` after the start (a starting server has its agents to
/// take back first); at once after a pass that stopped with more to delete. A failed pass is logged and the schedule
/// goes on: the next pass deletes what this one left.
pub async fn schedule(store: Store, settings: config::Retention) {
    let interval = settings.interval;
    let mut retention = Retention::new(store, settings);
    let mut wait = interval;
    loop {
        tokio::time::sleep(wait).await;
        wait = interval;
        match retention.pass(now_ms()).await {
            Ok(report) if report.deleted() > 0 => {
                info!(
                    snapshots = report.snapshots,
                    check_runs = report.check_runs,
                    enrollment_tokens = report.enrollment_tokens,
                    api_tokens = report.api_tokens,
                    batches = report.batches,
                    more = report.more,
                    pages = report.pages.total,
                    free_pages = report.pages.free,
                    "retention deleted old rows"
                );
                if report.more {
                    wait = Duration::ZERO;
                }
            }
            Ok(_) => {}
            Err(e) => warn!(error = %e, "a retention pass failed; the next one takes up what it left"),
        }
    }
}

#[cfg(test)]
mod tests {
    use lifeline_shared::catalog::Check;
    use lifeline_shared::wire::{Host, Snapshot};

    use super::*;
    use crate::desk::access::Role;
    use crate::desk::actor::Actor;
    use crate::desk::checks::RunState;
    use crate::desk::tickets::{Channel, Event};
    use crate::store::agents::SnapshotRow;
    use crate::store::checks::NewRun;

    /// Where the tests' clock stands: every row is dated relative to it, and each pass is given it.
    const NOW: i64 = 1_800_000_000_000;

    fn days(n: i64) -> i64 {
        n * DAY_MS
    }

    fn settings(batch: u32) -> config::Retention {
        config::Retention {
            snapshot_days: 30,
            snapshots_per_agent: 4,
            check_run_days: 90,
            token_days: 7,
            interval: Duration::from_secs(600),
            batch,
        }
    }

    fn fresh() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("retention.db")).unwrap();
        (dir, store)
    }

    async fn with_agents(store: &Store, ids: &[&str]) {
        let agents: Vec<(String, String)> = ids.iter().map(|id| (id.to_string(), format!("fp-{id}"))).collect();
        store.write(move |c| c.insert_simulated_agents(&agents, NOW - days(400))).await.unwrap();
    }

    /// A snapshot whose id tells its agent and number, with `padding` bytes that do not compress.
    fn snapshot(agent: &str, n: u32, taken_at: i64, padding: usize) -> (String, SnapshotRow) {
        let mut id = [0u8; 16];
        id[..4].copy_from_slice(&n.to_be_bytes());
        id[4..4 + agent.len().min(12)].copy_from_slice(&agent.as_bytes()[..agent.len().min(12)]);
        let mut noise = vec![0u8; padding / 2];
        rand::Rng::fill(&mut rand::rng(), noise.as_mut_slice());
        let snap = Snapshot {
            id,
            taken_at_ms: u64::try_from(taken_at).unwrap(),
            host: Host { hostname: hex::encode(noise), ..Host::default() },
            ..Snapshot::default()
        };
        (hex::encode(id), SnapshotRow::new(&snap, &[]).unwrap())
    }

    /// Stores one snapshot of `agent` per time in `taken`, numbered from `first`; returns their ids.
    async fn snapshots(store: &Store, agent: &str, first: u32, taken: &[i64], padding: usize) -> Vec<String> {
        let rows: Vec<(String, SnapshotRow)> =
            taken.iter().zip(first..).map(|(&at, n)| snapshot(agent, n, at, padding)).collect();
        let ids = rows.iter().map(|(id, _)| id.clone()).collect();
        let agent = agent.to_owned();
        store
            .write(move |c| {
                for (_, row) in &rows {
                    c.insert_snapshot(&agent, row, NOW)?;
                }
                Ok(())
            })
            .await
            .unwrap();
        ids
    }

    async fn left(store: &Store, agent: &str, ids: &[String]) -> Vec<bool> {
        let (agent, ids) = (agent.to_owned(), ids.to_vec());
        store.read(move |c| Ok(ids.iter().map(|id| c.snapshot(&agent, id).is_ok()).collect())).await.unwrap()
    }

    /// Opens a ticket for `agent` with the snapshot `snapshot_id` attached, as a help request does.
    async fn ticket_with(store: &Store, agent: &str, snapshot_id: &str) -> i64 {
        let events = [
            (
                Actor::requester("ann"),
                Event::Created {
                    subject: "slow".into(),
                    description: String::new(),
                    channel: Channel::Agent,
                    requester: "ann".into(),
                    agent_id: Some(agent.into()),
                    category: None,
                    person: None,
                    urgency: Default::default(),
                    impact: Default::default(),
                    priority: Default::default(),
                    ticket_type: Default::default(),
                },
            ),
            (
                Actor::agent(agent),
                Event::SnapshotAttached { agent_id: agent.into(), snapshot_id: snapshot_id.into(), findings: vec![] },
            ),
        ];
        let request = format!("req-{snapshot_id}");
        let agent = agent.to_owned();
        store.write(move |c| c.open_ticket(Some((&agent, &request)), &events, NOW - days(60))).await.unwrap().0
    }

    /// A check run requested at `requested`, ended at `finished` unless `None`.
    async fn run(store: &Store, ticket: Option<i64>, requested: i64, finished: Option<i64>) -> i64 {
        let check = Check::parse("disk-usage", &[("path".into(), "/".into())]).unwrap();
        store
            .write(move |c| {
                let new = NewRun { agent_id: "ag-1", ticket, technician: "bob", check: &check, expires_at: requested };
                let id = c.insert_run(&new, requested)?;
                if let Some(at) = finished {
                    c.finish_run(id, "ag-1", RunState::Done, "ok", Some(5), at)?;
                }
                Ok(id)
            })
            .await
            .unwrap()
    }

    async fn audit_entries(store: &Store) -> (usize, bool) {
        store.read(|c| Ok((c.audit_entries(0, i64::MAX)?.len(), c.verify_audit()?.broken.is_none()))).await.unwrap()
    }

    #[tokio::test]
    async fn a_pass_deletes_what_aged_out_and_keeps_the_rest() {
        let (_dir, store) = fresh();
        with_agents(&store, &["ag-1", "ag-2", "ag-3"]).await;
        // ag-1: three snapshots past 30 days, one of them attached to a ticket, and two younger ones.
        let one = snapshots(&store, "ag-1", 0, &[NOW - days(50), NOW - days(40), NOW - days(31)], 0).await;
        let one_young = snapshots(&store, "ag-1", 3, &[NOW - days(29), NOW - days(1)], 0).await;
        let ticket = ticket_with(&store, "ag-1", &one[0]).await;
        // ag-2: ten young snapshots, of which only the newest 4 are kept.
        let times: Vec<i64> = (1..=10).rev().map(|d| NOW - days(d)).collect();
        let two = snapshots(&store, "ag-2", 0, &times, 0).await;
        // ag-3: one snapshot, long ago: a machine away for months keeps its last.
        let three = snapshots(&store, "ag-3", 0, &[NOW - days(200)], 0).await;

        let old_unticketed = run(&store, None, NOW - days(100), Some(NOW - days(95))).await;
        let old_ticketed = run(&store, Some(ticket), NOW - days(100), Some(NOW - days(95))).await;
        let recent = run(&store, None, NOW - days(100), Some(NOW - days(80))).await;
        let still_queued = run(&store, None, NOW - days(100), None).await;

        let (expired, expiring, lasting) = store
            .write(|c| {
                let expired = c.create_enrollment_token("local-admin", NOW - days(20), NOW - days(8), 1, "expired")?;
                let expiring =
                    c.create_enrollment_token("local-admin", NOW - days(20), NOW - days(6), 1, "in its grace")?;
                let lasting = c.create_enrollment_token("local-admin", NOW - days(1), NOW + days(1), 1, "valid")?;
                let user = c.add_user("local-admin", "bob", Role::Tier1, "a long password", NOW - days(30))?;
                c.issue_api_token(&user, NOW - days(20), Some(NOW - days(10)))?;
                c.issue_api_token(&user, NOW - days(3), Some(NOW - days(2)))?;
                c.issue_api_token(&user, NOW - days(30), None)?;
                Ok((expired.secret, expiring.secret, lasting.secret))
            })
            .await
            .unwrap();
        let audit_before = audit_entries(&store).await;

        let mut retention = Retention::new(store.clone(), settings(500));
        let report = retention.pass(NOW).await.unwrap();
        // One enrollment token: the one the agents enrolled with, expired for a year, stays with them.
        assert_eq!(
            (report.snapshots, report.check_runs, report.enrollment_tokens, report.api_tokens, report.more),
            (2 + 6, 1, 1, 1, false)
        );

        assert_eq!(left(&store, "ag-1", &one).await, [true, false, false], "the attached one stays, however old");
        assert_eq!(left(&store, "ag-1", &one_young).await, [true, true]);
        assert_eq!(
            left(&store, "ag-2", &two).await,
            [false, false, false, false, false, false, true, true, true, true]
        );
        assert_eq!(left(&store, "ag-3", &three).await, [true]);

        let runs = store
            .read(move |c| Ok([old_unticketed, old_ticketed, recent, still_queued].map(|id| c.run(id).is_ok())))
            .await
            .unwrap();
        assert_eq!(runs, [false, true, true, true], "ended, unticketed and past 90 days is the only one deleted");

        // The expired token is not known any more; the one in its grace is still refused as expired.
        let spent = store
            .write(move |c| {
                Ok([expired, expiring, lasting].map(|s| match c.spend_enrollment_token(&s, NOW) {
                    Ok(_) => "spent".to_owned(),
                    Err(e) => e.to_string(),
                }))
            })
            .await
            .unwrap();
        assert!(spent[0].contains("not known"), "{spent:?}");
        assert!(spent[1].contains("expired"), "{spent:?}");
        assert_eq!(spent[2], "spent");

        assert_eq!(audit_entries(&store).await, audit_before, "retention neither deletes nor writes audit entries");
        assert!(audit_before.1, "the chain verifies");

        let again = retention.pass(NOW).await.unwrap();
        assert_eq!(again.deleted(), 0, "a second pass at the same moment finds nothing: {again:?}");
    }

    /// The clock moves on: what was young at one pass is old at a later one, and only then deleted.
    #[tokio::test]
    async fn a_later_pass_deletes_what_has_aged_since() {
        let (_dir, store) = fresh();
        with_agents(&store, &["ag-1"]).await;
        let ids = snapshots(&store, "ag-1", 0, &[NOW - days(20), NOW - days(10), NOW], 0).await;
        let mut retention =
            Retention::new(store.clone(), config::Retention { snapshots_per_agent: 100, ..settings(500) });
        for (now, kept) in [
            (NOW, [true, true, true]),
            (NOW + days(10), [true, true, true]),
            (NOW + days(11), [false, true, true]),
            (NOW + days(21), [false, false, true]),
            (NOW + days(400), [false, false, true]),
        ] {
            retention.pass(now).await.unwrap();
            assert_eq!(left(&store, "ag-1", &ids).await, kept, "at NOW + {} days", (now - NOW) / DAY_MS);
        }
    }

    #[tokio::test]
    async fn each_batch_is_a_transaction_of_its_own() {
        let (_dir, store) = fresh();
        with_agents(&store, &["ag-1", "ag-2", "ag-3"]).await;
        let mut kept = Vec::new();
        for (agent, old) in [("ag-1", 12), ("ag-2", 12), ("ag-3", 11)] {
            let times: Vec<i64> = (0..old).map(|i| NOW - days(40) + i).chain([NOW]).collect();
            let ids = snapshots(&store, agent, 0, &times, 0).await;
            kept.push((agent, ids));
        }
        let mut retention =
            Retention::new(store.clone(), config::Retention { snapshots_per_agent: 100, ..settings(10) });
        let report = retention.pass(NOW).await.unwrap();
        // One for the tokens and check runs (none here), then 10, 10, 10 and 5 snapshots across the agents, each
        // write awaited before the next begins.
        assert_eq!((report.snapshots, report.batches), (35, 1 + 4));
        for (agent, ids) in kept {
            let left = left(&store, agent, &ids).await;
            assert_eq!(left.iter().filter(|&&kept| kept).count(), 1, "{agent} keeps its newest only");
            assert_eq!(left.last(), Some(&true));
        }
    }

    /// The file's size at steady state: each day's snapshots take the pages the day before's freed.
    #[tokio::test]
    async fn the_database_file_stops_growing_at_steady_state() {
        let (_dir, store) = fresh();
        let agents: Vec<String> = (0..20).map(|i| format!("ag-{i:02}")).collect();
        with_agents(&store, &agents.iter().map(String::as_str).collect::<Vec<_>>()).await;
        let mut retention = Retention::new(
            store.clone(),
            config::Retention { snapshot_days: 1, snapshots_per_agent: 1_000, ..settings(500) },
        );
        let mut pages = Vec::new();
        for day in 0..8u32 {
            let now = NOW + days(i64::from(day));
            for agent in &agents {
                let times: Vec<i64> = (0..25).map(|i| now - 3_600_000 + i * 60_000).collect();
                snapshots(&store, agent, day * 100, &times, 1_000).await;
            }
            let report = retention.pass(now).await.unwrap();
            assert_eq!(report.snapshots, if day == 0 { 0 } else { 20 * 25 }, "day {day}");
            pages.push(report.pages);
        }
        // A day's rows take about as many pages as the whole file after the first day: growth would show at once.
        let (first_day, steady) = (pages[0].total, pages[2].total);
        assert!(first_day > steady / 3, "{pages:?}");
        assert!(pages[1..].iter().all(|p| p.free > 0), "each pass frees the pages of a day: {pages:?}");
        assert!(pages.iter().all(|p| p.total <= steady + steady / 50), "the file stopped growing: {pages:?}");
    }
}
