//! The QUIC side of the server: one task per connection. A connection without a client certificate may only enroll
//! ([`enroll`]); one with a certificate we issued is an agent, identified by that certificate's fingerprint alone,
//! and gets a [`session`]: its control stream, its live samples, and one [`requests`] task per request stream.

mod enroll;
mod requests;
mod session;

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use lifeline_net::tls::{fingerprint, peer_leaf};
use lifeline_shared::wire::close;
use tracing::{Instrument, debug, info_span, warn};

use crate::State;
use crate::metrics::{Handshake, HandshakeLabels, METRICS};
use crate::pki::Lifetime;
use crate::service::agents;
use crate::store::now_ms;
use session::Presented;

/// How long a peer may take to send its first frame before we stop waiting for it.
const FIRST_FRAME: Duration = Duration::from_secs(10);
/// Handshakes the server works on at once. The rest wait in arrival order, their first packets held by quinn, so
/// one is answered as soon as its turn comes rather than at the agent's next resend; a storm of reconnects then
/// finishes handshakes at the pace the server can, instead of starting all of them, finishing none in time, and
/// having agents give up and back off (BENCHMARKS.md, "restart storm").
const MAX_HANDSHAKES: usize = 256;
/// How long an admitted handshake may take before its place goes to the next one.
const HANDSHAKE: Duration = Duration::from_secs(10);
/// QUIC connections the server holds at once, enrolling ones included: above the 20,000 agents a server is sized for,
/// and at about 48 KiB each (BENCHMARKS.md) some 2.4 GiB, so a flood of connections ends here rather than in the
/// kernel's out-of-memory killer. A setting that belongs in server.toml once the configuration is free to grow.
pub const MAX_AGENTS: usize = 50_000;
/// How often at most the refusals over [`MAX_AGENTS`] are logged: a full server is refusing every reconnect.
const OVER_CAP_LOG_EVERY_MS: i64 = 60_000;

/// The connections held and those closed for being over the cap, for the log and for metrics to read. One per
/// process, since a process runs one server.
pub static CONNECTIONS: Connections = Connections::new(MAX_AGENTS);

pub struct Connections {
    max: usize,
    open: AtomicUsize,
    refused: AtomicU64,
    /// When refusals were last logged (ms since the epoch), and how many there had been then.
    logged_at: AtomicI64,
    logged_refused: AtomicU64,
}

impl Connections {
    const fn new(max: usize) -> Connections {
        Connections {
            max,
            open: AtomicUsize::new(0),
            refused: AtomicU64::new(0),
            logged_at: AtomicI64::new(0),
            logged_refused: AtomicU64::new(0),
        }
    }

    /// A place for one more connection, given back when the returned guard drops; `None`, counted, when full.
    fn admit(&self) -> Option<Admitted<'_>> {
        let taken = self.open.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| (n < self.max).then_some(n + 1));
        let outcome = if taken.is_ok() { Handshake::accepted } else { Handshake::refused_busy };
        METRICS.handshakes.get_or_create(&HandshakeLabels { outcome }).inc();
        match taken {
            Ok(_) => Some(Admitted(self)),
            Err(_) => {
                self.refused.fetch_add(1, Ordering::Relaxed);
                None
            }
        }
    }

    /// Connections held now.
    pub fn open(&self) -> usize {
        self.open.load(Ordering::Relaxed)
    }

    /// Connections closed since the start for being over the cap.
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }

    /// Logs the refusals since the last time, at most once a minute whatever their number.
    fn log_refusals(&self, now: i64) {
        let last = self.logged_at.load(Ordering::Relaxed);
        if now.saturating_sub(last) < OVER_CAP_LOG_EVERY_MS
            || self.logged_at.compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed).is_err()
        {
            return;
        }
        let total = self.refused();
        let since = total.saturating_sub(self.logged_refused.swap(total, Ordering::Relaxed));
        warn!(max = self.max, refused = since, refused_total = total, "refusing connections: the server is full");
    }
}

/// One connection's place among [`MAX_AGENTS`].
struct Admitted<'a>(&'a Connections);

impl Drop for Admitted<'_> {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::AcqRel);
    }
}

pub async fn accept_loop(state: Arc<State>, endpoint: quinn::Endpoint) {
    let handshakes = Arc::new(tokio::sync::Semaphore::new(MAX_HANDSHAKES));
    while let Some(incoming) = endpoint.accept().await {
        let state = state.clone();
        let handshakes = handshakes.clone();
        let peer = incoming.remote_address();
        tokio::spawn(
            async move {
                let Ok(turn) = handshakes.acquire_owned().await else { return };
                let accepted = tokio::time::timeout(HANDSHAKE, incoming).await;
                drop(turn);
                match accepted {
                    Ok(Ok(conn)) => match CONNECTIONS.admit() {
                        Some(_place) => handle(state, conn).await,
                        // wire::close has no "busy" code; INTERNAL is the agent's "try again later", and the
                        // reason says why.
                        None => {
                            let reason = format!("server busy: it holds {MAX_AGENTS} connections; try again later");
                            conn.close(close::INTERNAL.into(), reason.as_bytes());
                            CONNECTIONS.log_refusals(now_ms());
                        }
                    },
                    Ok(Err(e)) => debug!(error = %e, "handshake failed"),
                    Err(_) => debug!("handshake timed out"),
                }
            }
            .instrument(info_span!("conn", %peer)),
        );
    }
}

async fn handle(state: Arc<State>, conn: quinn::Connection) {
    match peer_leaf(&conn) {
        None => enroll::enroll(&state, &conn).await,
        Some(leaf) => {
            let fp = hex::encode(fingerprint(&leaf));
            // Only our CA's certificates get this far, so one we cannot read is our fault, not the agent's.
            let lifetime = match Lifetime::of(&leaf) {
                Ok(lifetime) => lifetime,
                Err(e) => {
                    warn!(error = %e, "cannot read an agent certificate");
                    conn.close(close::INTERNAL.into(), b"server error");
                    return;
                }
            };
            match agents::by_fingerprint(&state.store, fp).await {
                Ok(Some(agent)) if agent.revoked_at.is_some() => {
                    warn!(agent_id = %agent.id, "refused revoked agent");
                    conn.close(close::REVOKED.into(), b"this agent has been revoked");
                }
                // A full handshake refuses such a certificate; a resumed session checks no dates, so we do.
                Ok(Some(agent)) if !lifetime.covers(now_ms() / 1000) => {
                    warn!(agent_id = %agent.id, not_after = lifetime.not_after, "refused an expired agent certificate");
                    conn.close(close::EXPIRED.into(), b"this agent's certificate has expired; enroll it again");
                }
                Ok(Some(agent)) => {
                    let id = agent.id.clone();
                    let presented = Presented { leaf, lifetime };
                    let span = info_span!("agent", agent_id = %id);
                    session::session(&state, conn, agent, presented).instrument(span).await;
                }
                Ok(None) => {
                    warn!("refused a certificate with no enrolled agent");
                    conn.close(close::UNKNOWN_AGENT.into(), b"unknown agent certificate");
                }
                Err(e) => {
                    warn!(error = %e, "cannot look up agent");
                    conn.close(close::INTERNAL.into(), b"server error");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Connections, METRICS};

    #[test]
    fn connections_over_the_cap_are_refused_and_counted_and_a_closed_one_frees_its_place() {
        let connections = Connections::new(2);
        let (first, second) = (connections.admit(), connections.admit());
        assert!(first.is_some() && second.is_some());
        assert!(connections.admit().is_none());
        assert!(connections.admit().is_none());
        assert_eq!((connections.open(), connections.refused()), (2, 2));
        drop(first);
        assert_eq!(connections.open(), 1);
        let third = connections.admit();
        assert!(third.is_some());
        assert_eq!((connections.open(), connections.refused()), (2, 2));
        // The same counts reach Prometheus (each test runs in a process of its own).
        let text = METRICS.render(&[]);
        for line in [
            "lifeline_agent_handshakes_total{outcome=\"accepted\"} 3",
            "lifeline_agent_handshakes_total{outcome=\"refused_busy\"} 2",
        ] {
            assert!(text.contains(line), "{line} in {text}");
        }
    }
}
