//! The SQLite store: one writer thread that batches jobs into transactions, and a read connection.
//!
//! A write job's answer is sent only after the transaction holding it committed (`synchronous=FULL`), which is what
//! lets the collector acknowledge a snapshot to an agent: an ack means the row is on disk. Each job runs in its own
//! savepoint, so one bad job fails alone and never takes the rest of its batch with it.

pub mod agents;
pub mod audit;
pub mod auth;
pub mod backup;
pub mod checks;
#[cfg(test)]
mod conformance;
pub mod desk;
pub mod mail;
pub mod people;
pub mod retention;
mod schema;
pub mod stats;
pub mod tickets;
pub mod webhooks;

use std::path::Path;
use std::sync::{Arc, Mutex};

use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};

use crate::metrics::METRICS;

/// What went wrong, said so that each edge can tell whose fault it was and whether trying again can help: the
/// collector answers an agent with it (which keeps or drops its spooled item by it), the API with a status code.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The caller's: no such thing.
    #[error("not found: {0}")]
    NotFound(String),
    /// The caller's: the same request will never pass (a rule or a value says no).
    #[error("refused: {0}")]
    Refused(String),
    /// The caller's, of the moment: what they acted on changed meanwhile; look again, then decide.
    #[error("conflict: {0}")]
    Conflict(String),
    /// Ours, and passing: the database cannot take it right now (disk full, I/O error, busy, the writer gone).
    /// Nothing of the request was stored; the same request later may well pass.
    #[error("the store is unavailable, try again later: {0}")]
    Unavailable(String),
    /// Ours: a fault no retry mends (a bug, or a database that does not fit this build).
    #[error("internal: {0}")]
    Internal(String),
    /// Ours: stored data does not decode.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

impl StoreError {
    /// Whether the same request may pass later: what an agent keeps its spooled item for, and the API's 503.
    pub fn is_retryable(&self) -> bool {
        matches!(self, StoreError::Unavailable(_))
    }

    fn stopped() -> StoreError {
        StoreError::Unavailable("the store's writer has stopped".into())
    }
}

impl From<crate::desk::tickets::RuleError> for StoreError {
    fn from(e: crate::desk::tickets::RuleError) -> StoreError {
        if e.is_conflict() { StoreError::Conflict(e.to_string()) } else { StoreError::Refused(e.to_string()) }
    }
}

impl From<rusqlite::Error> for StoreError {
    /// SQLite's result codes for the machine's state rather than the statement's: each of these can pass on a later
    /// try, once space is freed, the disk recovers or another writer lets go.
    fn from(e: rusqlite::Error) -> StoreError {
        use rusqlite::ErrorCode::*;
        match e.sqlite_error_code() {
            Some(DiskFull | SystemIoFailure | DatabaseBusy | DatabaseLocked | CannotOpen | OutOfMemory) => {
                StoreError::Unavailable(e.to_string())
            }
            _ => StoreError::Internal(format!("database: {e}")),
        }
    }
}

/// What the store offers to read, on the read connection or inside a write. The typed methods are in the module of
/// what they read (`agents`, `auth`, `checks`, `tickets`, `audit`); no caller sees a connection or SQL.
pub struct Read<'a> {
    conn: &'a Connection,
}

/// A write transaction: everything [`Read`] offers, and the writes. Only [`Store::write`] makes one, so every write
/// goes through the writer thread and is acknowledged only once committed.
pub struct Tx<'a> {
    read: Read<'a>,
    /// What this job wrote that the metrics count, told to them once the transaction committed.
    written: std::cell::RefCell<Vec<Written>>,
}

/// A write the metrics count.
enum Written {
    Event(crate::desk::tickets::Event),
    Snapshot,
    /// Webhook deliveries are due: the sender is woken once they committed.
    Deliveries,
    /// Mail waits to be sent: the SMTP sender is woken once it committed.
    Mail,
    /// A ticket's first response or resolution, with its priority and how long it took from the ticket's opening.
    TicketTime(crate::metrics::TicketTime, crate::desk::priority::Level, f64),
}

impl<'a> Tx<'a> {
    fn new(conn: &'a Connection) -> Tx<'a> {
        Tx { read: Read { conn }, written: std::cell::RefCell::default() }
    }

    fn wrote(&self, what: Written) {
        self.written.borrow_mut().push(what);
    }
}

impl<'a> std::ops::Deref for Tx<'a> {
    type Target = Read<'a>;

    fn deref(&self) -> &Read<'a> {
        &self.read
    }
}

type Finish = Box<dyn FnOnce(Result<(), String>) + Send>;
/// Given no connection, a job does not run and reports the store unavailable.
type Job = Box<dyn FnOnce(Option<&Connection>) -> Finish + Send>;

/// Most jobs one transaction takes: enough to amortise the fsync under load, few enough to keep latency low.
const BATCH: usize = 256;
/// WAL pages after which a commit copies them into the database (SQLite's default is 1,000). Snapshots from many
/// agents each land in a different page of both indexes, and the same index pages change again and again between
/// checkpoints; one checkpoint per 10,000 pages (40 MiB of WAL) copies each of them once instead of ten times. In A/B
/// runs it took ingest from about 8,400 to 9,700 acknowledged snapshots a second; inserting the same rows straight
/// into SQLite went from 17,000 to 26,000 a second with it, and no faster with 20,000 pages.
const CHECKPOINT_PAGES: i64 = 10_000;

#[derive(Clone)]
pub struct Store {
    jobs: mpsc::Sender<Job>,
    reader: Arc<Mutex<Connection>>,
    health: Arc<Mutex<Health>>,
    /// Told when webhook deliveries committed, so the sender need not poll for them.
    outbox: Arc<tokio::sync::Notify>,
    /// Told when outgoing mail committed.
    mail_outbox: Arc<tokio::sync::Notify>,
}

/// Whether writes are failing for a reason of the machine's: logged once when a burst of failures starts and once
/// when it ends, not once per request, which under a full disk would be every agent's every retry.
#[derive(Default)]
struct Health {
    failing: Option<(std::time::Instant, u64)>,
}

impl Health {
    fn record<T>(&mut self, outcome: &Result<T, StoreError>) {
        match (outcome, &mut self.failing) {
            (Err(e), Some((_, failures))) if e.is_retryable() => *failures += 1,
            (Err(e), None) if e.is_retryable() => {
                tracing::error!(
                    error = %e,
                    "the store cannot write; requests are answered \"try again later\" and nothing already stored is \
                     touched until it can"
                );
                self.failing = Some((std::time::Instant::now(), 1));
            }
            (Ok(_), Some((since, failures))) => {
                tracing::warn!(
                    failed_writes = *failures,
                    seconds = since.elapsed().as_secs(),
                    "the store writes again"
                );
                self.failing = None;
            }
            _ => {}
        }
    }
}

impl Store {
    /// Opens (creating if needed) and migrates the database, then starts the writer thread. The thread ends when the
    /// last `Store` clone is dropped.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        owner_only(path)?;
        let mut writer = connect(path)?;
        schema::migrate(&mut writer)?;
        // Tickets of before the figures' table get their row now, in transactions of a thousand, before anything
        // else writes: a report never sees a ticket without one.
        loop {
            let tx = writer.transaction()?;
            let filled = tickets::fill_facts(&tx, 1_000)?;
            tx.commit()?;
            if filled == 0 {
                break;
            }
            tracing::info!(tickets = filled, "filled the statistics' rows of earlier tickets");
        }
        writer.pragma_update(None, "wal_autocheckpoint", CHECKPOINT_PAGES)?;
        let reader = connect(path)?;
        let (jobs, rx) = mpsc::channel::<Job>(4 * BATCH);
        std::thread::Builder::new()
            .name("store-writer".into())
            .spawn(move || write_loop(writer, rx))
            .map_err(|e| StoreError::Unavailable(format!("cannot start the store writer thread: {e}")))?;
        Ok(Store {
            jobs,
            reader: Arc::new(Mutex::new(reader)),
            health: Arc::default(),
            outbox: Arc::default(),
            mail_outbox: Arc::default(),
        })
    }

    /// Runs `f` in the writer's next transaction and answers once that transaction committed.
    pub async fn write<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Tx<'_>) -> Result<T, StoreError> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let outbox = self.outbox.clone();
        let mail_outbox = self.mail_outbox.clone();
        let job: Job = Box::new(move |conn| {
            let (result, written) = match conn {
                Some(conn) => {
                    let job = Tx::new(conn);
                    let result = in_savepoint(conn, |_| f(&job));
                    // A job that failed was rolled back to its savepoint: nothing of it counts.
                    let written = if result.is_ok() { job.written.into_inner() } else { Vec::new() };
                    (result, written)
                }
                None => (Err(StoreError::Unavailable("the database could not start a transaction".into())), Vec::new()),
            };
            Box::new(move |commit: Result<(), String>| {
                let outcome = match commit {
                    Ok(()) => {
                        for w in &written {
                            match w {
                                Written::Event(event) => METRICS.committed(event),
                                Written::Snapshot => {
                                    METRICS.snapshots_ingested.inc();
                                }
                                Written::Deliveries => outbox.notify_one(),
                                Written::Mail => mail_outbox.notify_one(),
                                Written::TicketTime(what, priority, seconds) => {
                                    METRICS.ticket_time(*what, *priority, *seconds)
                                }
                            }
                        }
                        result
                    }
                    Err(e) => Err(StoreError::Unavailable(format!("the transaction did not commit: {e}"))),
                };
                let _ = tx.send(outcome);
            })
        });
        let outcome = match self.jobs.send(job).await {
            Ok(()) => rx.await.unwrap_or_else(|_| Err(StoreError::stopped())),
            Err(_) => Err(StoreError::stopped()),
        };
        if let Ok(mut health) = self.health.lock() {
            health.record(&outcome);
        }
        outcome
    }

    /// What the webhook sender waits on between due deliveries: told whenever new ones committed.
    pub fn outbox(&self) -> Arc<tokio::sync::Notify> {
        self.outbox.clone()
    }

    /// What the SMTP sender waits on: told whenever outgoing mail committed.
    pub fn mail_outbox(&self) -> Arc<tokio::sync::Notify> {
        self.mail_outbox.clone()
    }

    /// Runs `f` on the read connection: it sees what committed, never a write in progress.
    pub async fn read<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Read<'_>) -> Result<T, StoreError> + Send + 'static,
    {
        let reader = self.reader.clone();
        tokio::task::spawn_blocking(move || {
            let conn = reader.lock().map_err(|_| StoreError::Unavailable("the store's reader failed".into()))?;
            f(&Read { conn: &conn })
        })
        .await
        .map_err(|_| StoreError::Unavailable("the store's reader failed".into()))?
    }
}

/// The database holds password and token hashes and every machine's snapshots: it is made 0600 before SQLite opens
/// it, and SQLite gives its WAL and shared-memory files the database's mode. Files of an older build are tightened.
fn owner_only(path: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let denied = |e: std::io::Error| StoreError::Internal(format!("cannot secure {}: {e}", path.display()));
    std::fs::OpenOptions::new().append(true).create(true).mode(0o600).open(path).map_err(denied)?;
    for suffix in ["", "-wal", "-shm"] {
        let mut file = path.as_os_str().to_owned();
        file.push(suffix);
        match std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(denied(e)),
            _ => {}
        }
    }
    Ok(())
}

fn connect(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open(path)?;
    conn.execute_batch(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; PRAGMA busy_timeout=5000;",
    )?;
    Ok(conn)
}

/// Runs one job in a savepoint of its own. The statements are cached: at thousands of jobs a second, parsing them
/// again for each was a visible part of the writer's time.
fn in_savepoint<T>(conn: &Connection, f: impl FnOnce(&Connection) -> Result<T, StoreError>) -> Result<T, StoreError> {
    conn.prepare_cached("SAVEPOINT job")?.execute([])?;
    let result = f(conn);
    if result.is_err() {
        conn.prepare_cached("ROLLBACK TO job")?.execute([])?;
    }
    conn.prepare_cached("RELEASE job")?.execute([])?;
    result
}

fn write_loop(conn: Connection, mut rx: mpsc::Receiver<Job>) {
    let mut batch = Vec::with_capacity(BATCH);
    while let Some(first) = rx.blocking_recv() {
        batch.push(first);
        while batch.len() < BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        METRICS.store_queue.set(i64::try_from(rx.len()).unwrap_or(i64::MAX));
        let begun = conn.execute_batch("BEGIN IMMEDIATE");
        let live = begun.is_ok().then_some(&conn);
        let finishes: Vec<Finish> = batch.drain(..).map(|job| job(live)).collect();
        // A failure is logged by the jobs' callers, once per burst (`Health`).
        let committing = std::time::Instant::now();
        let commit = begun.and_then(|()| conn.execute_batch("COMMIT")).map_err(|e| e.to_string());
        METRICS.commit_took(committing.elapsed());
        if commit.is_err() {
            let _ = conn.execute_batch("ROLLBACK");
        }
        for finish in finishes {
            finish(commit.clone());
        }
    }
}

/// [`lifeline_net::process::now_ms`] as the store and the API keep times: SQLite's integers are signed.
pub fn now_ms() -> i64 {
    i64::try_from(lifeline_net::process::now_ms()).unwrap_or(i64::MAX)
}

/// Another writer holding the database until dropped, as a stuck disk or a second process would: the store's writes
/// then fail as unavailable after its busy timeout, while reads go on.
#[cfg(test)]
pub struct HeldByAnotherWriter(Connection);

#[cfg(test)]
impl HeldByAnotherWriter {
    pub fn hold(path: &Path) -> HeldByAnotherWriter {
        let conn = Connection::open(path).unwrap();
        conn.execute_batch("BEGIN EXCLUSIVE").unwrap();
        HeldByAnotherWriter(conn)
    }
}

#[cfg(test)]
impl Drop for HeldByAnotherWriter {
    fn drop(&mut self) {
        let _ = self.0.execute_batch("ROLLBACK");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_failing_job_does_not_take_its_batch_down() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.db")).unwrap();
        store.write(|c| Ok(c.conn.execute_batch("CREATE TABLE t (v INTEGER PRIMARY KEY)")?)).await.unwrap();
        let mut handles = Vec::new();
        for v in [1, 2, 2, 3] {
            let s = store.clone();
            handles.push(tokio::spawn(async move {
                s.write(move |c| Ok(c.conn.execute("INSERT INTO t VALUES (?1)", [v])?)).await
            }));
        }
        let mut failed = 0;
        for h in handles {
            failed += h.await.unwrap().is_err() as usize;
        }
        assert_eq!(failed, 1, "only the duplicate insert fails");
        let count: i64 =
            store.read(|c| Ok(c.conn.query_row("SELECT count(*) FROM t", [], |r| r.get(0))?)).await.unwrap();
        assert_eq!(count, 3);
    }
}
