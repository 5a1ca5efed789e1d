//! The Lifeline server: QUIC ingest from agents, tickets, the HTTPS API and the deployment's certificate authority.
//!
//! # Layout
//! - [`config`]: the typed configuration, loaded and validated before anything is bound.
//! - [`pki`]: the CA, the server certificate and the signing of agents' certificate requests.
//! - [`store`]: SQLite with one batching writer; acknowledgements wait for its commits.
//! - [`desk`]: the help desk's rules, pure: tickets as folds of their events, who may do what, check runs' states.
//! - [`service`]: the use cases, each owning its transaction and returning what its caller must then tell agents.
//! - [`collector`]: the QUIC endpoint, one task per agent connection.
//! - [`live`]: live samples from watched agents, fanned out to every watcher.
//! - [`api`]: the technicians' HTTPS JSON API.
//! - [`metrics`]: what the server counts, rendered for Prometheus at `/metrics`.
//! - [`mail`]: the e-mail channel's SMTP sender.
//! - [`imap`]: the e-mail channel's IMAP reader: the help desk's mailbox, read in order and never read twice.
//! - [`webhooks`]: the sender that posts the outbox's deliveries, signed, to the endpoints admins registered.
//! - [`quickstart`]: the newcomer's one command: server, CA, account, token and an enrolled local agent.
//!
//! [`run`] takes sockets that are already bound, so tests and the quickstart bind port 0 and read the real address.

pub mod api;
pub mod collector;
pub mod config;
mod console;
pub mod desk;
pub mod imap;
pub mod live;
pub mod mail;
pub mod metrics;
pub mod pki;
pub mod quickstart;
pub mod service;
pub mod store;
pub mod webhooks;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result};
use lifeline_shared::wire::{Goodbye, ServerControl, close};

use crate::config::Config;
use crate::pki::Pki;
use crate::store::Store;

/// Everything a connection or a request handler needs, owned once and shared.
pub struct State {
    pub config: Config,
    pub store: Store,
    pub pki: Pki,
    pub connected: Connected,
    pub live: live::Live,
}

/// Live agent connections, so the API can show who is online, send checks, and cut a revoked agent off at once.
#[derive(Default)]
pub struct Connected(Mutex<HashMap<String, AgentLink>>);

struct AgentLink {
    conn: quinn::Connection,
    control: ControlTx,
}

/// Into a session's control-stream writer. Boxed because the channel allocates its slots 32 at a time whatever its
/// bound: unboxed, the largest message made that 3.6 KiB for every idle agent (BENCHMARKS.md).
pub type ControlTx = tokio::sync::mpsc::Sender<Box<ServerControl>>;

impl Connected {
    /// Agents connected now.
    pub fn count(&self) -> usize {
        self.0.lock().map_or(0, |map| map.len())
    }

    /// A reconnecting agent replaces its stale connection, which is closed rather than left to time out.
    fn insert(&self, agent_id: &str, conn: quinn::Connection, control: ControlTx) {
        if let Ok(mut map) = self.0.lock()
            && let Some(old) = map.insert(agent_id.to_owned(), AgentLink { conn, control })
        {
            old.conn.close(close::NORMAL.into(), b"replaced by a newer connection");
        }
    }

    fn remove(&self, agent_id: &str, conn: &quinn::Connection) {
        if let Ok(mut map) = self.0.lock()
            && map.get(agent_id).is_some_and(|l| l.conn.stable_id() == conn.stable_id())
        {
            map.remove(agent_id);
        }
    }

    /// Hands a message to the agent's control-stream writer; false if the agent is not connected.
    pub fn send(&self, agent_id: &str, msg: ServerControl) -> bool {
        self.0
            .lock()
            .ok()
            .and_then(|m| m.get(agent_id).map(|l| l.control.try_send(Box::new(msg)).is_ok()))
            .unwrap_or(false)
    }

    /// Each agent connection with the number of datagrams it has sent so far: once that number moves after the
    /// goodbye, its close packet has been sent, because a closed connection sends nothing else.
    fn sent_so_far(&self) -> Vec<(quinn::Connection, u64)> {
        self.0
            .lock()
            .map(|m| m.values().map(|l| (l.conn.clone(), l.conn.stats().udp_tx.datagrams)).collect())
            .unwrap_or_default()
    }

    pub fn contains(&self, agent_id: &str) -> bool {
        self.0.lock().map(|m| m.contains_key(agent_id)).unwrap_or(false)
    }

    pub fn close(&self, agent_id: &str, code: u32, reason: &[u8]) {
        if let Ok(mut map) = self.0.lock()
            && let Some(link) = map.remove(agent_id)
        {
            link.conn.close(code.into(), reason);
        }
    }
}

pub struct Bound {
    pub quic: quinn::Endpoint,
    pub api: tokio::net::TcpListener,
    /// `metrics_listen`: Prometheus text over plain HTTP without a token, for a scraper on a trusted network.
    pub metrics: Option<tokio::net::TcpListener>,
}

impl Bound {
    pub fn quic_addr(&self) -> Result<SocketAddr> {
        Ok(self.quic.local_addr()?)
    }

    pub fn api_addr(&self) -> Result<SocketAddr> {
        Ok(self.api.local_addr()?)
    }

    pub fn metrics_addr(&self) -> Result<Option<SocketAddr>> {
        Ok(self.metrics.as_ref().map(|m| m.local_addr()).transpose()?)
    }
}

/// Opens the store and the CA; everything that can fail on bad config or data fails here, before any socket exists.
pub fn prepare(config: Config) -> Result<State> {
    lifeline_net::tls::private_dir(&config.data_dir)
        .with_context(|| format!("creating data directory {}", config.data_dir.display()))?;
    let store = Store::open(&config.db_path()).with_context(|| format!("opening {}", config.db_path().display()))?;
    let pki = Pki::load_or_create(&config.pki_dir(), &config.tls_names)?;
    Ok(State { config, store, pki, connected: Connected::default(), live: live::Live::default() })
}

pub async fn bind(state: &State) -> Result<Bound> {
    let server_config =
        lifeline_net::tls::quic_server(state.pki.server.clone(), &state.pki.ca_der, state.pki.tickets.clone())?;
    let reset_key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &state.pki.reset_key);
    let socket = lifeline_net::udp::bind(state.config.quic_listen)
        .with_context(|| format!("binding QUIC on udp/{}", state.config.quic_listen))?;
    // Connection IDs are signed with a key too; it must outlive the process for the reset above to be sent at all.
    let digest = ring::digest::digest(&ring::digest::SHA256, &[&b"lifeline cid"[..], &state.pki.reset_key].concat());
    let cid_key = u64::from_le_bytes(digest.as_ref().first_chunk::<8>().copied().unwrap_or_default());
    let mut endpoint_config = quinn::EndpointConfig::new(Arc::new(reset_key));
    endpoint_config.cid_generator(move || Box::new(quinn_proto::HashedConnectionIdGenerator::from_key(cid_key)));
    let quic = quinn::Endpoint::new(endpoint_config, Some(server_config), socket, Arc::new(quinn::TokioRuntime))?;
    let api = tokio::net::TcpListener::bind(state.config.api_listen)
        .await
        .with_context(|| format!("binding the API on tcp/{}", state.config.api_listen))?;
    let metrics = match state.config.metrics_listen {
        Some(addr) => {
            Some(tokio::net::TcpListener::bind(addr).await.with_context(|| format!("binding metrics on tcp/{addr}"))?)
        }
        None => None,
    };
    Ok(Bound { quic, api, metrics })
}

/// Serves until `shutdown` resolves, then closes agent connections with a reason and waits until each close packet
/// has been sent.
pub async fn run(state: Arc<State>, bound: Bound, shutdown: impl std::future::Future<Output = ()>) -> Result<()> {
    let quic = bound.quic.clone();
    let tls = lifeline_net::tls::server_tls(state.pki.server.clone(), None, b"http/1.1")?;
    // Started with other help-desk settings than last time: the audit log says so. Not being able to write it now
    // does not keep the server from serving; the next start records it.
    if let Err(e) = service::audit::record_policy(&state.store, &state.config.desk).await {
        tracing::warn!(error = %e, "cannot record the help desk's policy in the audit log");
    }
    let collector = tokio::spawn(collector::accept_loop(state.clone(), bound.quic));
    let api = tokio::spawn(api::serve(state.clone(), bound.api, Arc::new(tls)));
    let metrics = bound.metrics.map(|listener| tokio::spawn(api::serve_metrics(state.clone(), listener)));
    let checkpoints = state
        .config
        .checkpoint_every
        .map(|every| tokio::spawn(service::audit::checkpoint_schedule(state.clone(), every)));
    let retention =
        state.config.retention.clone().map(|r| tokio::spawn(service::retention::schedule(state.store.clone(), r)));
    let sla = tokio::spawn(service::sla::schedule(state.clone(), state.config.sla_pass_every));
    let sender = tokio::spawn(webhooks::run(state.store.clone(), state.config.webhooks.clone()));
    let smtp = state.config.smtp.clone().map(|smtp| tokio::spawn(mail::send_loop(state.store.clone(), smtp)));
    let imap = state.config.imap.clone().map(|imap| tokio::spawn(imap::read_loop(state.clone(), imap)));
    shutdown.await;
    tracing::info!("shutting down");
    api.abort();
    if let Some(metrics) = metrics {
        metrics.abort();
    }
    // Each pass is one transaction: stopping between or in one loses nothing, and the next process catches up.
    sla.abort();
    // An attempt cut off here is made again by the next process, with the same webhook-id: at least once.
    sender.abort();
    // A message cut off mid-send stays in the outbox and is sent again by the next process.
    if let Some(smtp) = smtp {
        smtp.abort();
    }
    // A message is taken in one transaction with the cursor past it: stopping mid-message leaves it to be read
    // again by the next process, once.
    if let Some(imap) = imap {
        imap.abort();
    }
    if let Some(checkpoints) = checkpoints {
        checkpoints.abort();
    }
    // Between two batches or in one: each batch is a transaction of its own, so stopping loses nothing.
    if let Some(retention) = retention {
        retention.abort();
    }
    let mut unsent = state.connected.sent_so_far();
    let agents = unsent.len();
    let goodbye = Goodbye { reconnect_within_ms: reconnect_window(agents, state.config.reconnects_per_sec) };
    tracing::info!(agents, within_ms = goodbye.reconnect_within_ms, "asking the agents to come back within the window");
    if let Err(e) = lifeline_net::frame::say_goodbye(&quic, &goodbye) {
        tracing::warn!(error = %e, "cannot encode the goodbye");
        quic.close(close::SHUTDOWN.into(), b"server shutting down");
    }
    let closing = std::time::Instant::now();
    while !unsent.is_empty() && closing.elapsed() < CLOSE_GRACE {
        tokio::time::sleep(Duration::from_millis(20)).await;
        unsent.retain(|(conn, before)| conn.stats().udp_tx.datagrams == *before);
    }
    tokio::time::sleep(CLOSE_MARGIN).await;
    let unsent = unsent.len();
    tracing::info!(agents, unsent, ms = closing.elapsed().as_millis() as u64, "agent connections closed");
    collector.abort();
    Ok(())
}

/// How long a stopping server waits at most for every agent connection to send its close packet. Waiting for the
/// connections to drain instead (three times each one's PTO) kept every restart at this limit, since PTOs grow
/// under load; a wait of 0.5 s let 237 of 10,000 agents on a loaded machine miss their goodbye and learn of the
/// restart only from the next process's stateless reset, at their next probe, up to 40 s later (BENCHMARKS.md).
const CLOSE_GRACE: Duration = Duration::from_millis(2000);
/// quinn counts a datagram when it builds it; this lets the last ones leave the socket, and covers a connection
/// that sent something else between being counted and being closed.
const CLOSE_MARGIN: Duration = Duration::from_millis(100);

/// How long the agents of a server going down should spread their return over: a second at least, a minute at most.
fn reconnect_window(agents: usize, per_sec: u32) -> u32 {
    let ms = agents.saturating_mul(1_000) / usize::try_from(per_sec.max(1)).unwrap_or(usize::MAX);
    u32::try_from(ms).unwrap_or(u32::MAX).clamp(1_000, 60_000)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_reconnect_window_grows_with_the_fleet_within_bounds() {
        let cases = [(0, 1_000, 1_000), (500, 1_000, 1_000), (20_000, 1_000, 20_000), (20_000, 4_000, 5_000)];
        for (agents, per_sec, ms) in cases {
            assert_eq!(super::reconnect_window(agents, per_sec), ms, "{agents} agents at {per_sec}/s");
        }
        assert_eq!(super::reconnect_window(usize::MAX, 1), 60_000);
    }
}
