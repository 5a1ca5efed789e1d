//! The e-mail channel's IMAP reader. It reads the help desk's mailbox in UID order and hands each message to
//! [`service::mail::receive`](crate::service::mail::receive) with its place in the mailbox (UIDVALIDITY and UID),
//! which is stored in the transaction of what the message made: a restart resumes right after the last message
//! taken, neither reading one twice nor skipping one. A changed UIDVALIDITY means the UIDs were renumbered, so the
//! mailbox is read again from its start and what was taken already is recognised by its Message-ID.
//!
//! The mailbox is opened read-only (EXAMINE) and messages are fetched with `BODY.PEEK[]`: nothing is flagged, moved
//! or deleted, and the mailbox stays the admin's record of what arrived. Between passes the reader waits in IDLE
//! when the server offers it, so new mail is taken at once, else it looks again every `poll_every`.

use std::convert::Infallible;
use std::fmt::Display;
use std::sync::Arc;
use std::time::Duration;

use async_imap::extensions::idle::IdleResponse;
use async_imap::imap_proto::{Response, Status};
use async_imap::types::{Fetch, UnsolicitedResponse};
use async_imap::{Client, Session};
use futures_util::TryStreamExt;
use lifeline_shared::mail::MAX_MESSAGE;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tracing::{debug, info, warn};

use crate::State;
use crate::config::{Imap, MailTls};
use crate::service::Error;
use crate::service::mail::{Cursor, receive};

/// Most messages fetched by one command.
const BATCH: usize = 20;
/// Most bytes one command fetches, by the sizes the server announced; a message larger than this (and no larger than
/// the channel takes) is fetched alone.
const BATCH_BYTES: u64 = 64 << 20;
/// The longest one IDLE lasts: RFC 2177 lets a server log out a client idle for 30 minutes.
const IDLE_AT_MOST: Duration = Duration::from_secs(29 * 60);
/// How long the server may take to connect, greet, or answer a small command.
const ANSWER_WITHIN: Duration = Duration::from_secs(60);
/// How long listing the new messages, or one batch of them, may take: a batch can be 64 MiB on a slow link.
const FETCH_WITHIN: Duration = Duration::from_secs(15 * 60);
/// The waits after failures double from the first to the last, each shortened by up to half at random so that
/// servers restarted together do not all come back at one instant.
const BACKOFF_FIRST: Duration = Duration::from_secs(1);
const BACKOFF_MAX: Duration = Duration::from_secs(300);

/// A connection to the IMAP server, plain or TLS.
trait Io: AsyncRead + AsyncWrite + Unpin + Send + std::fmt::Debug {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + std::fmt::Debug> Io for T {}
type Conn = Box<dyn Io>;

/// TLS to the mail server, trusting the machine's certificate authorities; why not, if it cannot be had.
type Tls = Result<tokio_rustls::TlsConnector, String>;

/// Reads the mailbox until the task is aborted. Stopping anywhere loses nothing: a message is taken in one
/// transaction with its cursor, so the next process starts after the last message committed.
pub async fn read_loop(state: Arc<State>, imap: Imap) {
    let tls = if imap.tls == MailTls::None { Err("TLS is off".into()) } else { tls() };
    let mut reader = Reader { state, imap, tls, failures: 0, back_logged: false };
    loop {
        let Err(error) = reader.session().await;
        if reader.failures == 0 {
            warn!(host = %reader.imap.host, mailbox = %reader.imap.mailbox, %error,
                "IMAP connection failed; reconnecting with backoff until it works (logged again once it does)");
        } else {
            debug!(failures = reader.failures, %error, "IMAP connection failed again");
        }
        reader.failures = reader.failures.saturating_add(1);
        reader.back_logged = false;
        tokio::time::sleep(backoff(reader.failures, rand::random())).await;
    }
}

struct Reader {
    state: Arc<State>,
    imap: Imap,
    tls: Tls,
    /// Connections that failed since the last one that got through a whole wait.
    failures: u32,
    /// Whether this burst of failures has been told to be over.
    back_logged: bool,
}

/// How a pass over the new messages ended, when the connection held.
enum Pass {
    /// Every new message was taken or passed over.
    Done,
    /// The store could not take a message or its cursor: the message is read again later.
    StoreFailed(String),
}

/// What to do with the new messages, in UID order.
#[derive(Debug, PartialEq)]
enum Step {
    /// Fetch these and take them.
    Fetch(Vec<u32>),
    /// Larger than the channel takes: pass over it, announced at this size.
    TooLarge(u32, u64),
}

impl Reader {
    /// One connection, from connecting to its failure.
    async fn session(&mut self) -> Result<Infallible, String> {
        let mut session = self.open().await?;
        let capabilities = within(ANSWER_WITHIN, "CAPABILITY", session.capabilities()).await?;
        let idle = capabilities.has_str("IDLE");
        let name = &self.imap.mailbox;
        let mailbox = within(ANSWER_WITHIN, &format!("EXAMINE {name:?}"), session.examine(name)).await?;
        let uidvalidity = mailbox.uid_validity.ok_or_else(|| format!("the mailbox {name:?} has no UIDVALIDITY"))?;
        debug!(mailbox = %name, uidvalidity, idle, messages = mailbox.exists, "IMAP mailbox opened");
        let mut store_failures = 0;
        loop {
            match self.pass(&mut session, uidvalidity).await? {
                Pass::Done => store_failures = 0,
                Pass::StoreFailed(error) => {
                    if store_failures == 0 {
                        warn!(%error, "the store cannot take mail now; the message is read again once it can");
                    }
                    store_failures += 1;
                    tokio::time::sleep(backoff(store_failures, rand::random())).await;
                    continue;
                }
            }
            if self.failures > 0 && !self.back_logged {
                info!(failures = self.failures, mailbox = %name, "IMAP mailbox read again after failed connections");
                self.back_logged = true;
            }
            // Mail that arrived while the pass ran was announced in its answers: take it before waiting.
            if arrived(&mut session) {
                continue;
            }
            session = if idle {
                wait_in_idle(session, self.imap.poll_every.min(IDLE_AT_MOST)).await?
            } else {
                poll_wait(&mut session, self.imap.poll_every).await?;
                session
            };
            // The connection held through a whole wait: it is sound again, whatever failed before.
            self.failures = 0;
        }
    }

    /// Connects, sets up TLS as configured, and logs in with the password as the file has it now.
    async fn open(&self) -> Result<Session<Conn>, String> {
        let (host, port) = (self.imap.host.as_str(), self.imap.port);
        let tcp =
            within(ANSWER_WITHIN, &format!("connecting to {host}:{port}"), TcpStream::connect((host, port))).await?;
        let conn: Conn = match self.imap.tls {
            MailTls::None => Box::new(tcp),
            MailTls::Tls => Box::new(self.handshake(tcp).await?),
            MailTls::Starttls => {
                let mut client = Client::new(tcp);
                greeting(&mut client).await?;
                within(ANSWER_WITHIN, "STARTTLS", client.run_command_and_check_ok("STARTTLS", None)).await?;
                // Anything the server sent after its OK came in the clear, where it could have been injected: it is
                // dropped with the client's buffer, and the conversation begins again inside TLS.
                Box::new(self.handshake(client.into_inner()).await?)
            }
        };
        let mut client = Client::new(conn);
        if self.imap.tls != MailTls::Starttls {
            greeting(&mut client).await?;
        }
        let file = &self.imap.password_file;
        let password = tokio::fs::read_to_string(file)
            .await
            .map_err(|e| format!("cannot read the IMAP password from {}: {e}", file.display()))?;
        let login = async { client.login(&self.imap.user, password.trim_end()).await.map_err(|(e, _)| e) };
        within(ANSWER_WITHIN, &format!("logging in as {:?}", self.imap.user), login).await
    }

    async fn handshake(&self, tcp: TcpStream) -> Result<tokio_rustls::client::TlsStream<TcpStream>, String> {
        let connector = self.tls.as_ref().map_err(Clone::clone)?;
        let host = &self.imap.host;
        let name =
            rustls_pki_types::ServerName::try_from(host.clone()).map_err(|_| format!("{host} is no TLS name"))?;
        within(ANSWER_WITHIN, &format!("TLS with {host}"), connector.connect(name, tcp)).await
    }

    /// Takes every message after the cursor, in UID order.
    async fn pass(&self, session: &mut Session<Conn>, uidvalidity: u32) -> Result<Pass, String> {
        let Some(last) = (match self.last_taken(uidvalidity).await {
            Ok(last) => last,
            Err(error) => return Ok(Pass::StoreFailed(error)),
        }) else {
            return Ok(Pass::Done);
        };
        let new = within(FETCH_WITHIN, "listing new messages", list_after(session, last)).await?;
        for step in plan(&new) {
            let pass = match step {
                Step::Fetch(uids) => self.take_batch(session, &uids, uidvalidity).await?,
                Step::TooLarge(uid, size) => {
                    warn!(uid, size, max = MAX_MESSAGE, mailbox = %self.imap.mailbox,
                        "an IMAP message is larger than the e-mail channel takes; it is passed over and stays in the \
                         mailbox");
                    self.advance(uid, uidvalidity).await
                }
            };
            if let Pass::StoreFailed(_) = pass {
                return Ok(pass);
            }
        }
        Ok(Pass::Done)
    }

    /// The last UID taken under this UIDVALIDITY, 0 for none; `None` once UIDs can go no higher.
    async fn last_taken(&self, uidvalidity: u32) -> Result<Option<u32>, String> {
        let mailbox = self.imap.mailbox.clone();
        let stored = self.state.store.read(move |c| c.mail_cursor(&mailbox)).await.map_err(|e| e.to_string())?;
        let last = match stored {
            Some((validity, uid)) if validity == uidvalidity => uid,
            None => 0,
            Some((validity, _)) => {
                info!(mailbox = %self.imap.mailbox, was = validity, now = uidvalidity,
                    "the mailbox's UIDVALIDITY changed, so its UIDs mean other messages now: reading it again from \
                     its first message; those already taken are known by their Message-ID");
                // Stored at once, so that an empty mailbox is not announced as changed at every pass.
                self.advance(0, uidvalidity).await;
                0
            }
        };
        Ok(last.checked_add(1).map(|_| last))
    }

    /// Fetches a batch and takes its messages in UID order, stopping at the first the store cannot take.
    async fn take_batch(&self, session: &mut Session<Conn>, uids: &[u32], uidvalidity: u32) -> Result<Pass, String> {
        let set: Vec<String> = uids.iter().map(u32::to_string).collect();
        let fetch =
            async { session.uid_fetch(set.join(","), "(UID BODY.PEEK[])").await?.try_collect::<Vec<_>>().await };
        let fetched = within(FETCH_WITHIN, "fetching messages", fetch).await?;
        for &uid in uids {
            let pass = match fetched.iter().find(|f| f.uid == Some(uid)).and_then(Fetch::body) {
                Some(raw) if raw.len() <= MAX_MESSAGE => self.take(uid, raw, uidvalidity).await,
                Some(raw) => {
                    warn!(uid, size = raw.len(), max = MAX_MESSAGE, mailbox = %self.imap.mailbox,
                        "an IMAP message came larger than announced and than the e-mail channel takes; it is passed \
                         over and stays in the mailbox");
                    self.advance(uid, uidvalidity).await
                }
                None => {
                    // Expunged since it was listed, most likely; had it not been, reading it again would fail again.
                    warn!(uid, mailbox = %self.imap.mailbox,
                        "the IMAP server did not send a message it listed; passed over");
                    self.advance(uid, uidvalidity).await
                }
            };
            if let Pass::StoreFailed(_) = pass {
                return Ok(pass);
            }
        }
        Ok(Pass::Done)
    }

    async fn take(&self, uid: u32, raw: &[u8], uidvalidity: u32) -> Pass {
        let cursor = Cursor { mailbox: self.imap.mailbox.clone(), uidvalidity, uid };
        match receive(&self.state.store, &self.state.config.desk, raw, Some(cursor)).await {
            Ok((receipt, effects)) => {
                debug!(uid, outcome = receipt.outcome, ticket = ?receipt.ticket, "IMAP message taken");
                effects.carry_out(&self.state).await;
                Pass::Done
            }
            Err(Error::Store(e)) if e.is_retryable() => Pass::StoreFailed(e.to_string()),
            // Refused (not mail, say) or a fault no retry mends: reading it again would stall every message after
            // it. It stays in the mailbox for an admin to look at.
            Err(e) => {
                warn!(uid, mailbox = %self.imap.mailbox, error = %e,
                    "an IMAP message was not taken; it stays in the mailbox and the reader goes on after it");
                self.advance(uid, uidvalidity).await
            }
        }
    }

    /// Moves the cursor past a message that is not taken.
    async fn advance(&self, uid: u32, uidvalidity: u32) -> Pass {
        let mailbox = self.imap.mailbox.clone();
        match self.state.store.write(move |c| c.set_mail_cursor(&mailbox, uidvalidity, uid)).await {
            Ok(()) => Pass::Done,
            Err(e) => Pass::StoreFailed(e.to_string()),
        }
    }
}

/// The UIDs after `last` with their announced sizes, in UID order. Read one response at a time, so a mailbox of
/// many new messages costs two numbers each, not each response's buffer.
async fn list_after(session: &mut Session<Conn>, last: u32) -> async_imap::error::Result<Vec<(u32, u64)>> {
    let mut new = Vec::new();
    let mut listing = session.uid_fetch(format!("{}:*", last + 1), "(UID RFC822.SIZE)").await?;
    while let Some(fetch) = listing.try_next().await? {
        // `N:*` names the last message even when its UID is below N; unasked FETCH responses carry no size.
        if let (Some(uid), Some(size)) = (fetch.uid, fetch.size)
            && uid > last
        {
            new.push((uid, u64::from(size)));
        }
    }
    new.sort_unstable();
    new.dedup_by_key(|(uid, _)| *uid);
    Ok(new)
}

/// Batches of at most [`BATCH`] messages and [`BATCH_BYTES`], in UID order, with the messages too large to take
/// between them where they fall.
fn plan(new: &[(u32, u64)]) -> Vec<Step> {
    let mut steps = Vec::new();
    let mut batch = Vec::new();
    let mut bytes = 0;
    for &(uid, size) in new {
        let too_large = size > MAX_MESSAGE as u64;
        if !batch.is_empty() && (too_large || batch.len() == BATCH || bytes + size > BATCH_BYTES) {
            steps.push(Step::Fetch(std::mem::take(&mut batch)));
            bytes = 0;
        }
        if too_large {
            steps.push(Step::TooLarge(uid, size));
        } else {
            batch.push(uid);
            bytes += size;
        }
    }
    if !batch.is_empty() {
        steps.push(Step::Fetch(batch));
    }
    steps
}

/// Whether the server announced new messages since this was last asked.
fn arrived(session: &mut Session<Conn>) -> bool {
    let mut any = false;
    while let Ok(response) = session.unsolicited_responses.try_recv() {
        any |= matches!(response, UnsolicitedResponse::Exists(_) | UnsolicitedResponse::Recent(_));
    }
    any
}

/// Waits in IDLE until the server reports a change or `limit` passes.
async fn wait_in_idle(session: Session<Conn>, limit: Duration) -> Result<Session<Conn>, String> {
    let mut idle = session.idle();
    within(ANSWER_WITHIN, "IDLE", idle.init()).await?;
    {
        let (wait, _stop) = idle.wait_with_timeout(limit);
        // Its own timeout starts again at every keep-alive the server sends (Dovecot's come every two minutes),
        // so the whole wait is bounded here.
        match tokio::time::timeout(limit, wait).await {
            Ok(Ok(IdleResponse::NewData(_))) => debug!("the IMAP server reported a change"),
            Ok(Ok(IdleResponse::Timeout | IdleResponse::ManualInterrupt)) | Err(_) => {}
            Ok(Err(e)) => return Err(format!("IDLE: {e}")),
        }
    }
    within(ANSWER_WITHIN, "ending IDLE", idle.done()).await
}

/// Waits `every` for a server without IDLE, saying NOOP often enough not to be logged out for inactivity; a NOOP
/// that brings news of new mail ends the wait.
async fn poll_wait(session: &mut Session<Conn>, every: Duration) -> Result<(), String> {
    let mut left = every;
    while !left.is_zero() {
        let step = left.min(IDLE_AT_MOST);
        tokio::time::sleep(step).await;
        left -= step;
        within(ANSWER_WITHIN, "NOOP", session.noop()).await?;
        if arrived(session) {
            break;
        }
    }
    Ok(())
}

/// The server's first words: OK, or the connection is of no use.
async fn greeting<T: Io>(client: &mut Client<T>) -> Result<(), String> {
    let greeting = within(ANSWER_WITHIN, "the server's greeting", client.read_response()).await?;
    match greeting.as_ref().map(|g| g.parsed()) {
        Some(Response::Data { status: Status::Ok, .. }) => Ok(()),
        Some(other) => Err(format!("the server greeted with {:.200}", format!("{other:?}"))),
        None => Err("the server closed the connection before greeting".into()),
    }
}

/// `fut`'s outcome within `limit`, its error said with `what` was being done.
async fn within<T, E: Display>(
    limit: Duration,
    what: &str,
    fut: impl Future<Output = Result<T, E>>,
) -> Result<T, String> {
    match tokio::time::timeout(limit, fut).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(format!("{what}: {e}")),
        Err(_) => Err(format!("{what}: no answer within {} s", limit.as_secs())),
    }
}

/// The wait after the `failures`-th failure in a row, `jitter` in [0, 1) taking up to half of it off.
fn backoff(failures: u32, jitter: f64) -> Duration {
    let doubled = BACKOFF_FIRST.saturating_mul(1 << failures.saturating_sub(1).min(16));
    doubled.min(BACKOFF_MAX).mul_f64(1.0 - jitter.clamp(0.0, 1.0) / 2.0)
}

fn tls() -> Tls {
    let mut roots = rustls::RootCertStore::empty();
    let found = rustls_native_certs::load_native_certs();
    for e in &found.errors {
        warn!(error = %e, "a system CA certificate could not be read; TLS to the IMAP server may fail");
    }
    let (added, _) = roots.add_parsable_certificates(found.certs);
    debug!(added, "system CA certificates for IMAP");
    rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map(|b| tokio_rustls::TlsConnector::from(Arc::new(b.with_root_certificates(roots).with_no_client_auth())))
        .map_err(|e| format!("TLS is not available: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_keep_uid_order_and_their_bounds_and_set_too_large_messages_apart() {
        let big = MAX_MESSAGE as u64 + 1;
        let new: Vec<(u32, u64)> = (1..=45).map(|uid| (uid, if uid == 30 { big } else { 100 })).collect();
        let steps = plan(&new);
        let fetch = |r: std::ops::RangeInclusive<u32>| Step::Fetch(r.collect());
        assert_eq!(steps, [fetch(1..=20), fetch(21..=29), Step::TooLarge(30, big), fetch(31..=45)]);

        let near_limit = MAX_MESSAGE as u64;
        let steps = plan(&[(7, 30 << 20), (8, 30 << 20), (9, near_limit), (10, 1), (11, 20 << 20)]);
        assert_eq!(steps, [Step::Fetch(vec![7, 8]), Step::Fetch(vec![9, 10]), Step::Fetch(vec![11])]);
        assert_eq!(plan(&[]), []);
    }

    #[test]
    fn backoff_doubles_to_its_ceiling_and_jitter_only_shortens_it() {
        assert_eq!(backoff(1, 0.0), BACKOFF_FIRST);
        assert_eq!(backoff(4, 0.0), BACKOFF_FIRST * 8);
        assert_eq!(backoff(40, 0.0), BACKOFF_MAX);
        assert_eq!(backoff(u32::MAX, 0.0), BACKOFF_MAX);
        let shortest = backoff(3, 0.999_999);
        assert!(shortest >= BACKOFF_FIRST * 2 && shortest < BACKOFF_FIRST * 3, "{shortest:?}");
        assert!(backoff(9, 0.5) < backoff(9, 0.0));
    }
}
