//! The agent's side of the QUIC link, in two tasks:
//! - the main loop takes snapshots on schedule and serves local users, online or not: everything worth sending is
//!   written to the [`Spool`] first;
//! - the connection task connects with the agent's certificate, says hello, heartbeats, and drains the spool oldest
//!   first, deleting an item only when the server acknowledged it; it reconnects with full-jitter backoff.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use lifeline_net::frame;
use lifeline_net::tls::ServerTrust;
use lifeline_shared::backoff::Backoff;
use lifeline_shared::wire::{
    AgentControl, ErrorCode, Hello, HelpRequest, LocalRequest, LocalResponse, PROTOCOL_VERSION, Request, Response,
    SERVER_NAME, ServerControl, close,
};
use tokio::sync::{Notify, mpsc, oneshot, watch};
use tracing::{debug, info, warn};

use crate::collect::Collector;
use crate::config::{Config, Identity};
use crate::spool::{Kind, Spool, SpoolError};

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
    pub identity: Identity,
    pub tls: lifeline_net::tls::Identity,
    pub ca: rustls_pki_types::CertificateDer<'static>,
    pub config: Config,
    pub host: crate::HostInfo,
}

type SharedSpool = Arc<Mutex<Spool>>;

/// What the uploader tells the main loop about an item someone is waiting for.
struct Outcome {
    seq: u64,
    response: Response,
}

impl Link {
    /// Runs until `calls` closes (the agent is stopping).
    pub async fn run(self, mut collector: Collector, spool: Spool, mut calls: mpsc::Receiver<LocalCall>) -> Result<()> {
        let client = lifeline_net::tls::quic_client(ServerTrust::Ca(self.ca.clone()), Some(self.tls.clone()))?;
        if !spool.is_empty() {
            info!(items = spool.len(), "spool holds items from before; they go first");
        }
        let spool = Arc::new(Mutex::new(spool));
        let wake = Arc::new(Notify::new());
        let (conn_tx, mut conn_rx) = watch::channel(None::<quinn::Connection>);
        let (outcome_tx, mut outcomes) = mpsc::channel::<Outcome>(64);
        let link = Arc::new(self);
        let connection =
            tokio::spawn(connection_loop(link.clone(), client, spool.clone(), wake.clone(), conn_tx, outcome_tx));

        let mut waiting: HashMap<u64, oneshot::Sender<LocalResponse>> = HashMap::new();
        let mut reported_drops = 0;
        let mut snapshot = tokio::time::interval(link.config.snapshot_interval());
        snapshot.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = snapshot.tick() => {
                    let mut snap = collector.snapshot(rand::random(), now_ms()).await;
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
                call = calls.recv() => match call {
                    Some(call) => link.local_call(call, &mut collector, &spool, &wake, &conn_rx, &mut waiting).await,
                    None => break,
                },
                Some(Outcome { seq, response }) = outcomes.recv() => {
                    if let Some(reply) = waiting.remove(&seq) {
                        let _ = reply.send(match response {
                            Response::HelpAccepted { ticket, .. } => LocalResponse::HelpAccepted { ticket },
                            Response::Error(e) => LocalResponse::Error { message: e.message },
                            other => LocalResponse::Error { message: format!("unexpected answer: {other:?}") },
                        });
                    }
                }
                Ok(()) = conn_rx.changed() => {
                    // Whoever is still waiting when the link drops is told their request is safe and queued.
                    if conn_rx.borrow().is_none() {
                        for (_, reply) in waiting.drain() {
                            let _ = reply.send(LocalResponse::HelpQueued);
                        }
                    }
                }
            }
        }
        connection.abort();
        Ok(())
    }

    async fn local_call(
        &self,
        call: LocalCall,
        collector: &mut Collector,
        spool: &SharedSpool,
        wake: &Notify,
        conn: &watch::Receiver<Option<quinn::Connection>>,
        waiting: &mut HashMap<u64, oneshot::Sender<LocalResponse>>,
    ) {
        let LocalCall { user, request, reply } = call;
        match request {
            LocalRequest::Help { subject, description } => {
                let snapshot = collector.snapshot(rand::random(), now_ms()).await;
                let help = HelpRequest { id: rand::random(), user, subject, description, snapshot };
                let id = hex::encode(help.id);
                match spool_push(spool, Kind::Kept, Request::Help(help)).await {
                    Ok(Some(seq)) => {
                        info!(seq, %id, "help request spooled");
                        if conn.borrow().is_some() {
                            waiting.insert(seq, reply);
                        } else {
                            let _ = reply.send(LocalResponse::HelpQueued);
                        }
                        wake.notify_one();
                    }
                    Ok(None) => {
                        let _ = reply.send(LocalResponse::Error { message: "the request could not be saved".into() });
                    }
                    Err(e) => {
                        warn!("{e:#}");
                        let message = format!("the request could not be saved: {e}");
                        let _ = reply.send(LocalResponse::Error { message });
                    }
                }
            }
            LocalRequest::Tickets => {
                let Some(conn) = conn.borrow().clone() else {
                    let message = "the help desk server cannot be reached right now; try again later".into();
                    let _ = reply.send(LocalResponse::Error { message });
                    return;
                };
                tokio::spawn(async move {
                    let answer = match frame::request::<_, Response>(&conn, &Request::Tickets { user }).await {
                        Ok(Response::Tickets(list)) => LocalResponse::Tickets(list),
                        Ok(Response::Error(e)) => LocalResponse::Error { message: e.message },
                        Ok(other) => LocalResponse::Error { message: format!("unexpected answer: {other:?}") },
                        Err(e) => LocalResponse::Error { message: format!("the server could not be reached: {e}") },
                    };
                    let _ = reply.send(answer);
                });
            }
        }
    }
}

async fn spool_push(spool: &SharedSpool, kind: Kind, request: Request) -> Result<Option<u64>> {
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

async fn connection_loop(
    link: Arc<Link>,
    client: quinn::ClientConfig,
    spool: SharedSpool,
    wake: Arc<Notify>,
    conn_tx: watch::Sender<Option<quinn::Connection>>,
    outcomes: mpsc::Sender<Outcome>,
) {
    let backoff = Backoff::default();
    let mut attempt = 0u32;
    loop {
        match session(&link, &client, &spool, &wake, &conn_tx, &outcomes).await {
            // The link was up, so this is a fresh outage: start the schedule over.
            Ok(()) => attempt = 0,
            Err(e) => warn!("{e:#}"),
        }
        conn_tx.send_replace(None);
        let delay = backoff.delay(attempt, rand::random());
        attempt = attempt.saturating_add(1);
        info!(retry_in_ms = delay.as_millis() as u64, "reconnecting");
        tokio::time::sleep(delay).await;
    }
}

/// One connection's life; `Ok` once it was up and then ended, `Err` when it never came up.
async fn session(
    link: &Link,
    client: &quinn::ClientConfig,
    spool: &SharedSpool,
    wake: &Notify,
    conn_tx: &watch::Sender<Option<quinn::Connection>>,
    outcomes: &mpsc::Sender<Outcome>,
) -> Result<()> {
    let addr = resolve(&link.identity.server).await?;
    let endpoint = endpoint(addr)?;
    let conn = endpoint
        .connect_with(client.clone(), addr, SERVER_NAME)?
        .await
        .with_context(|| format!("connecting to {}", link.identity.server))?;
    let (mut send, mut recv) = conn.open_bi().await?;
    let hello = Hello {
        protocol: PROTOCOL_VERSION,
        agent_version: env!("CARGO_PKG_VERSION").into(),
        hostname: link.host.hostname.clone(),
        os: link.host.os.clone(),
    };
    frame::write(&mut send, &AgentControl::Hello(hello)).await?;
    let heartbeat = match tokio::time::timeout(Duration::from_secs(10), frame::read(&mut recv)).await {
        Ok(Ok(Some(ServerControl::Welcome { heartbeat_secs, protocol, .. }))) => {
            info!(server = %link.identity.server, protocol, "connected");
            Duration::from_secs(u64::from(heartbeat_secs.clamp(1, 3600)))
        }
        Ok(Ok(other)) => bail!("expected a welcome from the server, got {other:?}"),
        Ok(Err(_)) | Err(_) => bail!("{}", refusal(&conn).unwrap_or_else(|| "no welcome from the server".into())),
    };
    conn_tx.send_replace(Some(conn.clone()));

    let heartbeats = async {
        let mut beat = tokio::time::interval(heartbeat);
        let mut seq = 0u64;
        loop {
            beat.tick().await;
            seq += 1;
            if frame::write(&mut send, &AgentControl::Heartbeat { seq }).await.is_err() {
                return;
            }
        }
    };
    // Acks are read only to keep the stream drained; the connection's own liveness is what we watch.
    let acks = async { while let Ok(Some(ServerControl::HeartbeatAck { .. })) = frame::read(&mut recv).await {} };
    tokio::select! {
        () = heartbeats => {}
        () = acks => {}
        result = upload(&conn, spool, wake, outcomes) => if let Err(e) = result { warn!("{e:#}") },
        reason = conn.closed() => warn!("{}", describe_close(&reason)),
    }
    conn.close(close::NORMAL.into(), b"agent reconnecting");
    let _ = tokio::time::timeout(Duration::from_secs(1), endpoint.wait_idle()).await;
    Ok(())
}

/// Sends spooled items oldest first, one at a time so order holds, deleting each only after its acknowledgement.
async fn upload(
    conn: &quinn::Connection,
    spool: &SharedSpool,
    wake: &Notify,
    outcomes: &mpsc::Sender<Outcome>,
) -> Result<()> {
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
            Response::HelpAccepted { ticket, request_id } => {
                info!(seq, ticket, id = %hex::encode(request_id), "help request acknowledged");
                true
            }
            // The server will never take this item as it is: keep it from blocking the spool forever.
            Response::Error(e) if matches!(e.code, ErrorCode::Malformed | ErrorCode::TooLarge | ErrorCode::Refused) => {
                warn!(seq, error = %e.message, "the server refused a spooled item; it is dropped");
                true
            }
            other => bail!("the server could not store a spooled item, will retry: {other:?}"),
        };
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

fn describe_close(reason: &quinn::ConnectionError) -> String {
    match reason {
        quinn::ConnectionError::ApplicationClosed(c) => {
            let text = String::from_utf8_lossy(&c.reason);
            match u32::try_from(c.error_code.into_inner()).unwrap_or(u32::MAX) {
                close::REVOKED => format!("the server refuses this agent: {text}; ask an admin to enroll it again"),
                close::UNKNOWN_AGENT => format!("the server does not know this agent: {text}"),
                close::SHUTDOWN => "the server is shutting down".into(),
                code => format!("the server closed the connection (code {code}): {text}"),
            }
        }
        other => format!("connection lost: {other}"),
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}
