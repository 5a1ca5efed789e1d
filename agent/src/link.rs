//! The agent's side of the QUIC link, in two tasks:
//! - the main loop takes snapshots on schedule and serves local users (through `local_calls`), online or not:
//!   everything worth sending is written to the [`Spool`] first;
//! - the connection task connects with the agent's certificate, drives the session state machine
//!   ([`lifeline_shared::session`], which says what to send on the control stream and when, and how long to wait
//!   before reconnecting), and drains the spool oldest first, deleting an item only when the server acknowledged it.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use lifeline_net::frame;
use lifeline_net::tls::ServerTrust;
use lifeline_shared::backoff::Backoff;
use lifeline_shared::session::AgentSession;
use lifeline_shared::wire::{
    AgentControl, Goodbye, Hello, LiveSample, LocalEvent, LocalRequest, LocalResponse, PROTOCOL_VERSION, Probe,
    ProbeKind, Request, Response, SERVER_NAME, ServerControl, Snapshot, WATCH_INTERVAL_MS, WATCH_MAX_SECS, close,
};
use tokio::sync::{Notify, broadcast, mpsc, oneshot, watch};
use tracing::{debug, info, warn};

use crate::checks::Runner;
use crate::collect::Collector;
use crate::config::{Config, Identity, StateDir};
use crate::local_calls::{Outbox, Waiting};
use crate::now_ms;
use crate::spool::{Kind, Spool, SpoolError};
use crate::tickets::TicketBook;

/// A request from a local user, with the name the socket's peer credentials gave.
pub struct LocalCall {
    pub user: String,
    pub request: LocalRequest,
    pub reply: oneshot::Sender<LocalResponse>,
}

pub async fn resolve(server: &str) -> Result<SocketAddr> {
    tokio::net::lookup_host(server)
        .await
        .with_context(|| format!("resolving {server}"))?
        .next()
        .ok_or_else(|| anyhow!("{server} resolves to no address"))
}

/// A client endpoint on the wildcard address of the server's family.
pub fn endpoint(server: SocketAddr) -> Result<quinn::Endpoint> {
    let local: SocketAddr = if server.is_ipv6() { "[::]:0" } else { "0.0.0.0:0" }.parse()?;
    quinn::Endpoint::client(local).context("opening a UDP socket")
}

pub struct Link {
    pub state: StateDir,
    pub identity: Identity,
    pub tls: lifeline_net::tls::Identity,
    pub ca: rustls_pki_types::CertificateDer<'static>,
    pub config: Config,
    pub host: crate::HostInfo,
    pub runner: Arc<Runner>,
    /// What subscribed user programs hear: ticket changes, checks, consent windows.
    pub events: broadcast::Sender<LocalEvent>,
    pub book: Mutex<TicketBook>,
}

pub(crate) type SharedSpool = Arc<Mutex<Spool>>;

/// How long before a consent window closes the user is told, so they can extend it.
const EXPIRY_WARNING_MS: u64 = 5 * 60 * 1000;

/// What the uploader tells the main loop about an item someone is waiting for.
struct Outcome {
    seq: u64,
    response: Response,
}

impl Link {
    /// Runs until `shutdown` resolves, then says goodbye to the server so it sees the agent leave at once.
    pub async fn run(
        self,
        mut collector: Collector,
        spool: Spool,
        mut calls: mpsc::Receiver<LocalCall>,
        shutdown: impl std::future::Future<Output = ()>,
    ) -> Result<()> {
        let client = lifeline_net::tls::quic_client(ServerTrust::Ca(self.ca.clone()), Some(self.tls.clone()))?;
        if !spool.is_empty() {
            info!(items = spool.len(), "spool holds items from before; they go first");
        }
        let spool = Arc::new(Mutex::new(spool));
        let wake = Arc::new(Notify::new());
        let (conn_tx, mut conn_rx) = watch::channel(None::<quinn::Connection>);
        let (outcome_tx, mut outcomes) = mpsc::channel::<Outcome>(64);
        let link = Arc::new(self);
        let (stop_tx, stopping) = watch::channel(false);
        let (watch_tx, mut watch_rx) = watch::channel(None::<Duration>);
        let (refresh_tx, mut refresh_rx) = mpsc::channel::<u64>(8);
        let to_main = ToMain { conn: conn_tx, outcomes: outcome_tx, watching: watch_tx, refresh: refresh_tx };
        let connection =
            tokio::spawn(connection_loop(link.clone(), client, spool.clone(), wake.clone(), to_main, stopping));
        tokio::pin!(shutdown);
        let mut live: Option<(Duration, tokio::time::Instant)> = None;
        let mut live_seq = 0u64;
        let mut first_sample = true;
        let next_sample = tokio::time::sleep(Duration::ZERO);
        tokio::pin!(next_sample);

        let mut waiting: HashMap<u64, Waiting> = HashMap::new();
        // Whether the server's last answer was "not now" (its store cannot write): reset by its next answer.
        let mut server_deferring = false;
        // Windows already warned about, by ticket and end: an extended window is warned about again.
        let mut warned: HashSet<(u64, u64)> = HashSet::new();
        let mut expiry = tokio::time::interval(Duration::from_secs(30));
        let mut reported_drops = 0;
        let mut schedule = tokio::time::interval(link.config.snapshot_interval());
        schedule.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = schedule.tick() => {
                    let mut snap = snapshot(&mut collector, &conn_rx, &link.identity.server).await;
                    let dropped = spool.lock().map(|s| s.dropped()).unwrap_or(0);
                    if dropped > reported_drops {
                        // Technicians see the gap in the history and why, on the next snapshot that gets through.
                        snap.problems.push(format!(
                            "{} routine snapshot(s) were dropped because the offline spool was full",
                            dropped - reported_drops
                        ));
                        reported_drops = dropped;
                    }
                    let id = hex::encode(snap.id);
                    match spool_push(&spool, Kind::Routine, Request::Snapshot(snap)).await {
                        Ok(Some(seq)) => debug!(seq, %id, "snapshot spooled"),
                        Ok(None) => warn!(%id, "spool full of help requests; this routine snapshot was dropped"),
                        Err(e) => warn!("{e:#}"),
                    }
                    wake.notify_one();
                }
                () = &mut shutdown => break,
                Some(ticket) = refresh_rx.recv() => {
                    let snapshot = snapshot(&mut collector, &conn_rx, &link.identity.server).await;
                    // Ticket data: kept in the spool until the server has it, never dropped for room.
                    match spool_push(&spool, Kind::Kept, Request::TicketSnapshot { ticket, snapshot }).await {
                        Ok(_) => info!(ticket, "fresh snapshot taken for a technician"),
                        Err(e) => warn!(ticket, "{e:#}"),
                    }
                    wake.notify_one();
                }
                Ok(()) = watch_rx.changed() => {
                    let asked = *watch_rx.borrow_and_update();
                    match asked {
                        Some(interval) => {
                            if live.is_none() {
                                info!(interval_ms = interval.as_millis() as u64, "watch started");
                                next_sample.as_mut().reset(tokio::time::Instant::now());
                            }
                            // A new watcher has seen no findings yet: the next sample carries them all.
                            first_sample = true;
                            live = Some((interval, tokio::time::Instant::now() + Duration::from_secs(WATCH_MAX_SECS)));
                        }
                        None => {
                            if live.take().is_some() {
                                info!("watch stopped");
                            }
                        }
                    }
                }
                () = &mut next_sample, if live.is_some() => {
                    let Some((interval, until)) = live else { continue };
                    if tokio::time::Instant::now() >= until {
                        live = None;
                        info!("watch stopped: nobody renewed it within its time limit");
                        continue;
                    }
                    live_seq += 1;
                    let sample = collector.live(live_seq, now_ms(), first_sample);
                    first_sample = false;
                    if let Some(conn) = conn_rx.borrow().clone() {
                        send_sample(&conn, &sample);
                    }
                    next_sample.as_mut().reset(tokio::time::Instant::now() + interval);
                }
                call = calls.recv() => match call {
                    Some(call) => {
                        let outbox = Outbox {
                            spool: &spool,
                            wake: &wake,
                            conn: &conn_rx,
                            deferring: server_deferring,
                            waiting: &mut waiting,
                        };
                        link.local_call(call, &mut collector, outbox).await;
                    }
                    None => break,
                },
                Some(Outcome { seq, response }) = outcomes.recv() => {
                    server_deferring = matches!(&response, Response::Error(e) if e.code.is_retryable());
                    if server_deferring {
                        // The head of the spool waits for the server, and everything behind it with it: whoever
                        // waits is told their request is safe and queued, as when the link drops.
                        for (_, Waiting { reply, queued }) in waiting.drain() {
                            let _ = reply.send(queued);
                        }
                    } else if let Some(Waiting { reply, .. }) = waiting.remove(&seq) {
                        let _ = reply.send(match response {
                            Response::HelpAccepted { ticket, .. } => LocalResponse::HelpAccepted { ticket },
                            Response::Recorded { .. } => LocalResponse::Saved { delivered: true },
                            Response::Error(e) => LocalResponse::Error { message: e.message },
                            other => LocalResponse::Error { message: format!("unexpected answer: {other:?}") },
                        });
                    }
                }
                Ok(()) = conn_rx.changed() => {
                    server_deferring = false;
                    // Whoever is still waiting when the link drops is told their request is safe and queued.
                    if conn_rx.borrow().is_none() {
                        for (_, Waiting { reply, queued }) in waiting.drain() {
                            let _ = reply.send(queued);
                        }
                    }
                }
                _ = expiry.tick() => {
                    let now = now_ms();
                    let windows = link.runner.consents.lock().map(|c| c.list(now)).unwrap_or_default();
                    warned.retain(|(ticket, until)| windows.iter().any(|w| (w.ticket, w.until_ms) == (*ticket, *until)));
                    for window in windows {
                        if window.until_ms <= now + EXPIRY_WARNING_MS && warned.insert((window.ticket, window.until_ms)) {
                            info!(ticket = window.ticket, "consent window closes soon");
                            let _ = link.events.send(LocalEvent::ConsentExpiring(window));
                        }
                    }
                }
            }
        }
        let _ = stop_tx.send(true);
        if tokio::time::timeout(Duration::from_secs(3), connection).await.is_err() {
            warn!("the connection did not close in time");
        }
        Ok(())
    }
}

/// A snapshot whose server probe is the link itself: connected or not, and QUIC's round-trip estimate. Taken while
/// offline, it tells the technician later that the link was down then.
pub(crate) async fn snapshot(
    collector: &mut Collector,
    conn: &watch::Receiver<Option<quinn::Connection>>,
    server: &str,
) -> Snapshot {
    let mut snap = collector.snapshot(rand::random(), now_ms()).await;
    let conn = conn.borrow().clone();
    snap.network.probes.push(Probe {
        kind: ProbeKind::Link,
        target: server.to_owned(),
        ok: conn.is_some(),
        latency_us: conn.as_ref().map(|c| u64::try_from(c.rtt().as_micros()).unwrap_or(u64::MAX)),
        detail: match &conn {
            Some(c) => format!("connected to {}", c.remote_address()),
            None => "no connection to the server right now".to_owned(),
        },
    });
    snap
}

pub(crate) async fn spool_push(spool: &SharedSpool, kind: Kind, request: Request) -> Result<Option<u64>> {
    let spool = spool.clone();
    tokio::task::spawn_blocking(move || {
        let mut spool = spool.lock().map_err(|_| anyhow!("spool lock poisoned"))?;
        let before = spool.dropped();
        let seq = spool.push(kind, &request)?;
        if spool.dropped() > before {
            warn!(dropped_total = spool.dropped(), "spool full: dropped the oldest routine snapshots");
        }
        Ok(seq)
    })
    .await?
}

/// What the connection task tells the main loop.
struct ToMain {
    /// The live connection, for local calls that need the server now and for live samples.
    conn: watch::Sender<Option<quinn::Connection>>,
    outcomes: mpsc::Sender<Outcome>,
    /// What the server's watchers asked for: a sampling interval, or nobody watching.
    watching: watch::Sender<Option<Duration>>,
    /// Tickets a technician wants a fresh snapshot for.
    refresh: mpsc::Sender<u64>,
}

/// Connects, serves the connection, and connects again after the pause the session chooses, until stopped.
async fn connection_loop(
    link: Arc<Link>,
    mut client: quinn::ClientConfig,
    spool: SharedSpool,
    wake: Arc<Notify>,
    to_main: ToMain,
    mut stopping: watch::Receiver<bool>,
) {
    let mut session = AgentSession::new(Hello {
        protocol: PROTOCOL_VERSION,
        agent_version: env!("CARGO_PKG_VERSION").into(),
        hostname: link.host.hostname.clone(),
        os: link.host.os.clone(),
    });
    loop {
        // A connection sees `stopping` itself, so that it can say goodbye before it returns.
        let ended = connection(&link, &mut session, &mut client, &spool, &wake, &to_main, stopping.clone()).await;
        // Whoever watched did so through that connection.
        to_main.watching.send_replace(None);
        let goodbye = ended.unwrap_or_else(|e| {
            warn!("{e:#}");
            None
        });
        to_main.conn.send_replace(None);
        if *stopping.borrow() {
            return;
        }
        if let Some(g) = &goodbye {
            info!(within_ms = g.reconnect_within_ms, "the server is restarting and spreads its agents' return");
        }
        let delay = session.ended(goodbye.as_ref(), rand::random());
        info!(retry_in_ms = delay.as_millis() as u64, "reconnecting");
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            _ = stopping.wait_for(|s| *s) => return,
        }
    }
}

/// One connection's life; `Ok` once it was up and then ended (with the server's goodbye if it restarts), `Err` when
/// it never came up. What is said on the control stream, and when, is `session`'s to decide.
async fn connection(
    link: &Link,
    session: &mut AgentSession,
    client: &mut quinn::ClientConfig,
    spool: &SharedSpool,
    wake: &Arc<Notify>,
    to_main: &ToMain,
    mut stopping: watch::Receiver<bool>,
) -> Result<Option<Goodbye>> {
    let addr = resolve(&link.identity.server).await?;
    let endpoint = endpoint(addr)?;
    let conn = endpoint
        .connect_with(client.clone(), addr, SERVER_NAME)?
        .await
        .map_err(|e| if certificate_expired(&e) { anyhow!(EXPIRED_CERTIFICATE) } else { anyhow!(e) })
        .with_context(|| format!("connecting to {}", link.identity.server))?;
    let (mut send, mut recv) = conn.open_bi().await?;
    let welcome_by = session.connected(Instant::now());
    while let Some(msg) = session.poll_transmit() {
        frame::write(&mut send, &msg).await?;
    }
    match tokio::time::timeout_at(welcome_by.into(), frame::read(&mut recv)).await {
        Ok(Ok(Some(ServerControl::Welcome { heartbeat_secs, protocol, .. }))) => {
            info!(server = %link.identity.server, protocol, "connected");
            session.welcome(Instant::now(), heartbeat_secs);
        }
        Ok(Ok(other)) => bail!("expected a welcome from the server, got {other:?}"),
        Ok(Err(_)) | Err(_) => bail!("{}", refusal(&conn).unwrap_or_else(|| "no welcome from the server".into())),
    }
    to_main.conn.send_replace(Some(conn.clone()));

    // One writer owns the control stream; heartbeats and check reports queue for it.
    let (out_tx, mut out_rx) = mpsc::channel::<AgentControl>(32);
    let writer = async {
        while let Some(msg) = out_rx.recv().await {
            if frame::write(&mut send, &msg).await.is_err() {
                return;
            }
        }
    };
    // The session stays up until `ended` is called, after this connection: there is always a next heartbeat.
    let heartbeats = async {
        while let Some(at) = session.poll_timeout() {
            tokio::time::sleep_until(at.into()).await;
            session.handle_timeout(Instant::now());
            while let Some(msg) = session.poll_transmit() {
                if out_tx.send(msg).await.is_err() {
                    return;
                }
            }
        }
    };
    let reader = async {
        loop {
            match frame::read::<ServerControl>(&mut recv).await {
                Ok(Some(ServerControl::RunCheck(request))) => {
                    let (runner, conn, spool, wake) = (link.runner.clone(), conn.clone(), spool.clone(), wake.clone());
                    tokio::spawn(async move {
                        let Some(report) = runner.run(request, now_ms(), Some(&conn)).await else { return };
                        // Spooled like all results: it reaches the server even if this connection does not last.
                        if let Err(e) = spool_push(&spool, Kind::Kept, Request::CheckResult(report)).await {
                            warn!("{e:#}");
                        }
                        wake.notify_one();
                    });
                }
                Ok(Some(ServerControl::WatchStart { interval_ms })) => {
                    let ms = interval_ms.clamp(*WATCH_INTERVAL_MS.start(), *WATCH_INTERVAL_MS.end());
                    to_main.watching.send_replace(Some(Duration::from_millis(u64::from(ms))));
                }
                Ok(Some(ServerControl::WatchStop)) => {
                    to_main.watching.send_replace(None);
                }
                Ok(Some(ServerControl::SnapshotNow { ticket })) => {
                    let _ = to_main.refresh.try_send(ticket);
                }
                Ok(Some(ServerControl::TicketChanged(thread))) => {
                    let number = thread.summary.number;
                    let new = link.book.lock().ok().and_then(|mut b| b.update(thread.clone()));
                    if let Some(new) = new {
                        debug!(ticket = number, new = new.len(), "ticket changed");
                        let _ = link.events.send(LocalEvent::TicketChanged { thread, new });
                    }
                }
                Ok(Some(ServerControl::CertificateRenewed { cert_der })) => match renewed(link, cert_der) {
                    Ok(config) => {
                        *client = config;
                        info!("the server renewed this agent's certificate; it is used from the next connection on");
                    }
                    Err(e) => warn!("keeping the current certificate: {e:#}"),
                },
                Ok(Some(_)) => {}
                Ok(None) => return,
                Err(e) => return warn!(error = %e, "bad frame from the server on the control stream"),
            }
        }
    };
    tokio::select! {
        () = writer => {}
        () = heartbeats => {}
        () = reader => {}
        result = upload(link, &conn, spool, wake, &to_main.outcomes) => if let Err(e) = result { warn!("{e:#}") },
        reason = conn.closed() => warn!("{}", describe_close(&reason)),
        _ = stopping.wait_for(|s| *s) => {}
    }
    // Read before our own close, which replaces the reason.
    let goodbye = frame::goodbye(&conn);
    let reason: &[u8] = if *stopping.borrow() { b"agent stopping" } else { b"agent reconnecting" };
    conn.close(close::NORMAL.into(), reason);
    let _ = tokio::time::timeout(Duration::from_secs(1), endpoint.wait_idle()).await;
    Ok(goodbye)
}

/// Checks that a renewed certificate fits the agent's key (building the TLS configuration does), then keeps it.
fn renewed(link: &Link, cert_der: Vec<u8>) -> Result<quinn::ClientConfig> {
    let cert = rustls_pki_types::CertificateDer::from(cert_der);
    let tls = lifeline_net::tls::Identity { chain: vec![cert.clone()], key: link.tls.key.clone_key() };
    let config = lifeline_net::tls::quic_client(ServerTrust::Ca(link.ca.clone()), Some(tls))
        .context("the renewed certificate does not fit this agent's key")?;
    link.state.save_certificate(&cert)?;
    Ok(config)
}

/// A sample goes as one datagram when it fits, so a lost one is simply replaced by the next; a bigger one (many
/// cores or interfaces) on a one-way stream of its own, which nothing else waits behind either.
pub fn send_sample(conn: &quinn::Connection, sample: &LiveSample) {
    let bytes = match lifeline_shared::codec::encode(sample) {
        Ok(bytes) => bytes,
        Err(e) => return warn!(error = %e, "cannot encode a live sample"),
    };
    if conn.max_datagram_size().is_some_and(|max| bytes.len() <= max) {
        if let Err(e) = conn.send_datagram(bytes::Bytes::from(bytes)) {
            debug!(error = %e, "live sample not sent");
        }
        return;
    }
    let conn = conn.clone();
    tokio::spawn(async move {
        let sent = async {
            let mut stream = conn.open_uni().await?;
            stream.write_all(&bytes).await?;
            stream.finish()?;
            anyhow::Ok(())
        };
        if let Err(e) = sent.await {
            debug!(error = %e, "live sample not sent");
        }
    });
}

/// Pauses between tries of an item the server could not store: from about a second to a minute, random within
/// each step so that agents turned away together do not come back together.
const RETRY: Backoff = Backoff { base: Duration::from_secs(1), cap: Duration::from_secs(60) };

/// Sends spooled items oldest first, one at a time so order holds, deleting each only after its acknowledgement.
async fn upload(
    link: &Link,
    conn: &quinn::Connection,
    spool: &SharedSpool,
    wake: &Notify,
    outcomes: &mpsc::Sender<Outcome>,
) -> Result<()> {
    // Failed tries of the item at the head of the spool, for the pause before the next.
    let mut failures = 0u32;
    loop {
        let next = spool.lock().map_err(|_| anyhow!("spool lock poisoned"))?.oldest();
        let Some(seq) = next else {
            wake.notified().await;
            continue;
        };
        let loaded = {
            let spool = spool.clone();
            tokio::task::spawn_blocking(move || {
                spool.lock().map_err(|_| anyhow!("spool lock poisoned"))?.load(seq).map_err(anyhow::Error::from)
            })
            .await?
        };
        let request = match loaded {
            Ok(request) => request,
            Err(e) if e.downcast_ref::<SpoolError>().is_some_and(|s| matches!(s, SpoolError::Corrupt(..))) => {
                warn!("{e:#}");
                continue;
            }
            Err(e) => return Err(e),
        };
        let response = frame::request::<_, Response>(conn, &request).await.context("uploading a spooled item")?;
        let done = match &response {
            Response::Stored { id } => {
                debug!(seq, id = %hex::encode(id), "snapshot acknowledged");
                true
            }
            Response::CheckRecorded { id } => {
                debug!(seq, run = id, "check result acknowledged");
                true
            }
            Response::Recorded { id } => {
                debug!(seq, id = %hex::encode(id), "user's action acknowledged");
                true
            }
            Response::HelpAccepted { ticket, request_id } => {
                info!(seq, ticket, id = %hex::encode(request_id), "help request acknowledged");
                if let Request::Help(help) = &request {
                    let minutes = link.config.consent_minutes;
                    let opened = link
                        .runner
                        .consents
                        .lock()
                        .map_err(|_| anyhow!("consent lock poisoned"))?
                        .open_window(*ticket, &help.user, now_ms(), u64::from(minutes) * 60_000);
                    match opened {
                        Ok(window) => {
                            info!(ticket, minutes, "consent window opened");
                            let _ = link.events.send(LocalEvent::ConsentOpened(window));
                        }
                        Err(e) => warn!(ticket, error = %e, "could not open the consent window"),
                    }
                }
                true
            }
            // The server cannot store it now (its disk is full, say): the item stays first in the spool and goes
            // again after a growing pause. The connection stays: a new one would meet the same store.
            Response::Error(e) if e.code.is_retryable() => {
                let delay = RETRY.delay(failures, rand::random());
                failures = failures.saturating_add(1);
                let retry_in_ms = delay.as_millis() as u64;
                warn!(seq, error = %e.message, retry_in_ms, "the server could not store a spooled item; it is kept");
                let _ = outcomes.send(Outcome { seq, response }).await;
                tokio::time::sleep(delay).await;
                continue;
            }
            // The server will never take this item as it is: keep it from blocking the spool forever.
            Response::Error(e) => {
                warn!(seq, error = %e.message, "the server refused a spooled item; it is dropped");
                true
            }
            other => bail!("unexpected answer to a spooled item, will retry: {other:?}"),
        };
        failures = 0;
        if done {
            let spool = spool.clone();
            tokio::task::spawn_blocking(move || {
                spool.lock().map_err(|_| anyhow!("spool lock poisoned"))?.remove(seq).map_err(anyhow::Error::from)
            })
            .await??;
            let _ = outcomes.send(Outcome { seq, response }).await;
        }
    }
}

fn refusal(conn: &quinn::Connection) -> Option<String> {
    conn.close_reason().map(|r| describe_close(&r))
}

const EXPIRED_CERTIFICATE: &str = "the server refuses this agent's certificate: it has expired; enroll the agent again";

/// TLS's alert for an expired certificate: the server checks the agent's in a full handshake.
fn certificate_expired(e: &quinn::ConnectionError) -> bool {
    let alert = quinn::TransportErrorCode::crypto(rustls::AlertDescription::CertificateExpired.into());
    matches!(e, quinn::ConnectionError::ConnectionClosed(c) if c.error_code == alert)
}

fn describe_close(reason: &quinn::ConnectionError) -> String {
    match reason {
        quinn::ConnectionError::ApplicationClosed(c) => {
            let text = String::from_utf8_lossy(&c.reason);
            match u32::try_from(c.error_code.into_inner()).unwrap_or(u32::MAX) {
                close::REVOKED => format!("the server refuses this agent: {text}; ask an admin to enroll it again"),
                close::UNKNOWN_AGENT => format!("the server does not know this agent: {text}"),
                close::SHUTDOWN => "the server is restarting or shutting down".into(),
                close::EXPIRED => format!("the server refuses this agent: {text}"),
                code => format!("the server closed the connection (code {code}): {text}"),
            }
        }
        other if certificate_expired(other) => EXPIRED_CERTIFICATE.into(),
        other => format!("connection lost: {other}"),
    }
}
