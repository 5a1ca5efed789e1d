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
    AgentControl, ErrorCode, Hello, HelpRequest, LiveSample, LocalRequest, LocalResponse, PROTOCOL_VERSION, Request,
    Response, SERVER_NAME, ServerControl, WATCH_INTERVAL_MS, WATCH_MAX_SECS, close,
};
use tokio::sync::{Notify, mpsc, oneshot, watch};
use tracing::{debug, info, warn};

use crate::checks::Runner;
use crate::collect::Collector;
use crate::config::{Config, Identity};
use crate::now_ms;
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
    pub runner: Arc<Runner>,
}

type SharedSpool = Arc<Mutex<Spool>>;

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
                () = &mut shutdown => break,
                Some(ticket) = refresh_rx.recv() => {
                    let snapshot = collector.snapshot(rand::random(), now_ms()).await;
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
        let _ = stop_tx.send(true);
        if tokio::time::timeout(Duration::from_secs(3), connection).await.is_err() {
            warn!("the connection did not close in time");
        }
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
            LocalRequest::Consents => {
                let windows = self.runner.consents.lock().map(|c| c.list(now_ms())).unwrap_or_default();
                let unattended_class_a = self.config.unattended_class_a;
                let _ = reply.send(LocalResponse::Consents { windows, unattended_class_a });
            }
            LocalRequest::RevokeConsent { ticket } => {
                let result = self
                    .runner
                    .consents
                    .lock()
                    .map_err(|_| "consent store unavailable".to_owned())
                    .and_then(|mut c| c.revoke(ticket, &user, now_ms()).map_err(|e| e.to_string()));
                info!(ticket, %user, ok = result.is_ok(), "user revoked consent");
                let _ = reply.send(match result {
                    Ok(()) => LocalResponse::Done {
                        message: format!("technicians can no longer run checks for ticket {ticket}"),
                    },
                    Err(message) => LocalResponse::Error { message },
                });
            }
            LocalRequest::ExtendConsent { ticket, minutes } => {
                let result = self
                    .runner
                    .consents
                    .lock()
                    .map_err(|_| "consent store unavailable".to_owned())
                    .and_then(|mut c| c.extend(ticket, &user, minutes, now_ms()).map_err(|e| e.to_string()));
                let _ = reply.send(match result {
                    Ok(until) => LocalResponse::Done {
                        message: format!("consent for ticket {ticket} extended until {}", crate::utc(until)),
                    },
                    Err(message) => LocalResponse::Error { message },
                });
            }
            LocalRequest::History => {
                let _ = reply.send(LocalResponse::History(self.runner.history.read()));
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
            _ => {
                let _ = reply.send(LocalResponse::Error { message: "this agent cannot do that yet".into() });
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

async fn connection_loop(
    link: Arc<Link>,
    client: quinn::ClientConfig,
    spool: SharedSpool,
    wake: Arc<Notify>,
    to_main: ToMain,
    mut stopping: watch::Receiver<bool>,
) {
    let backoff = Backoff::default();
    let mut attempt = 0u32;
    loop {
        // A session sees `stopping` itself, so that it can say goodbye before it returns.
        let ended = session(&link, &client, &spool, &wake, &to_main, stopping.clone()).await;
        // Whoever watched did so through that connection.
        to_main.watching.send_replace(None);
        match ended {
            // The link was up, so this is a fresh outage: start the schedule over.
            Ok(()) => attempt = 0,
            Err(e) => warn!("{e:#}"),
        }
        to_main.conn.send_replace(None);
        if *stopping.borrow() {
            return;
        }
        let delay = backoff.delay(attempt, rand::random());
        attempt = attempt.saturating_add(1);
        info!(retry_in_ms = delay.as_millis() as u64, "reconnecting");
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            _ = stopping.wait_for(|s| *s) => return,
        }
    }
}

/// One connection's life; `Ok` once it was up and then ended, `Err` when it never came up.
async fn session(
    link: &Link,
    client: &quinn::ClientConfig,
    spool: &SharedSpool,
    wake: &Arc<Notify>,
    to_main: &ToMain,
    mut stopping: watch::Receiver<bool>,
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
    let heartbeats = async {
        let mut beat = tokio::time::interval(heartbeat);
        for seq in 1.. {
            beat.tick().await;
            if out_tx.send(AgentControl::Heartbeat { seq }).await.is_err() {
                return;
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
        result = upload(&conn, spool, wake, &to_main.outcomes, &link.runner, link.config.consent_minutes) => if let Err(e) = result { warn!("{e:#}") },
        reason = conn.closed() => warn!("{}", describe_close(&reason)),
        _ = stopping.wait_for(|s| *s) => {}
    }
    let goodbye: &[u8] = if *stopping.borrow() { b"agent stopping" } else { b"agent reconnecting" };
    conn.close(close::NORMAL.into(), goodbye);
    let _ = tokio::time::timeout(Duration::from_secs(1), endpoint.wait_idle()).await;
    Ok(())
}

/// A sample goes as one datagram when it fits, so a lost one is simply replaced by the next; a bigger one (many
/// cores or interfaces) on a one-way stream of its own, which nothing else waits behind either.
fn send_sample(conn: &quinn::Connection, sample: &LiveSample) {
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

/// Sends spooled items oldest first, one at a time so order holds, deleting each only after its acknowledgement.
async fn upload(
    conn: &quinn::Connection,
    spool: &SharedSpool,
    wake: &Notify,
    outcomes: &mpsc::Sender<Outcome>,
    runner: &Runner,
    consent_minutes: u32,
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
            Response::CheckRecorded { id } => {
                debug!(seq, run = id, "check result acknowledged");
                true
            }
            Response::HelpAccepted { ticket, request_id } => {
                info!(seq, ticket, id = %hex::encode(request_id), "help request acknowledged");
                if let Request::Help(help) = &request {
                    let opened = runner.consents.lock().map_err(|_| anyhow!("consent lock poisoned"))?.open_window(
                        *ticket,
                        &help.user,
                        now_ms(),
                        u64::from(consent_minutes) * 60_000,
                    );
                    match opened {
                        Ok(()) => info!(ticket, minutes = consent_minutes, "consent window opened"),
                        Err(e) => warn!(ticket, error = %e, "could not open the consent window"),
                    }
                }
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
