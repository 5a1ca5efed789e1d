//! One simulated agent, speaking the real protocol as `lifeline_agent::link` does: the agent's own session state
//! machine (`lifeline_shared::session`) decides the hello, the heartbeats on the control stream and when to
//! reconnect; snapshots and help requests go each on a stream of their own and count only when acknowledged; live
//! samples go while the server asks for them.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use lifeline_agent::link::send_sample;
use lifeline_agent::now_ms;
use lifeline_net::frame;
use lifeline_net::tls::{Identity, ServerTrust, quic_client};
use lifeline_shared::session::{AgentSession, WELCOME_TIMEOUT};
use lifeline_shared::wire::{
    Goodbye, Hello, HelpRequest, LiveSample, PROTOCOL_VERSION, Request, Response, SERVER_NAME, ServerControl, Snapshot,
    WATCH_INTERVAL_MS, close,
};
use rustls_pki_types::CertificateDer;
use tokio::sync::watch;
use tracing::{debug, warn};

use crate::fleet::Fleet;

/// What every simulated agent shares.
pub struct Swarm {
    pub server: SocketAddr,
    pub ca: CertificateDer<'static>,
    /// A real snapshot of this machine, taken once; each agent sends it with a fresh id, time and CPU figure.
    pub snapshot: Snapshot,
    /// A real live sample of this machine, taken once.
    pub sample: LiveSample,
    /// Between one agent's snapshots; zero sends the next as soon as the previous one is acknowledged.
    pub snapshot_every: Duration,
    /// Mean time between one agent's help requests; none without.
    pub help_every: Option<Duration>,
    pub fleet: Fleet,
    pub stopping: watch::Receiver<bool>,
}

impl Swarm {
    fn snapshot(&self) -> Snapshot {
        let mut snap = self.snapshot.clone();
        snap.id = rand::random();
        snap.taken_at_ms = now_ms();
        snap.cpu.usage_pct = rand::random_range(0.0..100.0);
        snap
    }

    /// Exponentially distributed, so help requests across the swarm arrive as a Poisson process.
    fn next_help(&self) -> Option<Instant> {
        let wait = -(1.0 - rand::random::<f64>()).ln() * self.help_every?.as_secs_f64();
        Instant::now().checked_add(Duration::try_from_secs_f64(wait).ok()?)
    }
}

/// Runs one agent until the swarm stops: connect, serve the session, back off, again.
pub async fn agent(swarm: Arc<Swarm>, identity: Identity, endpoint: quinn::Endpoint) {
    // One configuration for the agent's whole life, as a real agent has: it keeps the session ticket that resumes
    // the next connection, and building one per connection cost a root store and a verifier for every reconnect.
    let client = match quic_client(ServerTrust::Ca(swarm.ca.clone()), Some(identity)) {
        Ok(client) => client,
        Err(e) => {
            warn!("{e:#}");
            swarm.fleet.failed(true);
            return;
        }
    };
    let mut session = AgentSession::new(Hello {
        protocol: PROTOCOL_VERSION,
        agent_version: env!("CARGO_PKG_VERSION").into(),
        hostname: swarm.snapshot.host.hostname.clone(),
        os: swarm.snapshot.host.os_name.clone(),
    });
    let mut stopping = swarm.stopping.clone();
    let mut first = true;
    loop {
        let goodbye = connection(&swarm, &mut session, &client, &endpoint, first).await.unwrap_or_else(|e| {
            debug!("{e:#}");
            swarm.fleet.failed(first);
            None
        });
        first = false;
        if *stopping.borrow() {
            return;
        }
        let delay = session.ended(goodbye.as_ref(), rand::random());
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            _ = stopping.wait_for(|s| *s) => return,
        }
    }
}

/// One connection's life: `Ok` once it was up and then ended (with the server's goodbye if it restarts), `Err` when
/// it never came up.
async fn connection(
    swarm: &Swarm,
    session: &mut AgentSession,
    client: &quinn::ClientConfig,
    endpoint: &quinn::Endpoint,
    first: bool,
) -> Result<Option<Goodbye>> {
    let conn = endpoint.connect_with(client.clone(), swarm.server, SERVER_NAME)?.await.context("connecting")?;
    let (mut send, mut recv) = conn.open_bi().await?;
    let welcome_by = session.connected(Instant::now());
    while let Some(msg) = session.poll_transmit() {
        frame::write(&mut send, &msg).await?;
    }
    match tokio::time::timeout_at(welcome_by.into(), frame::read(&mut recv)).await {
        Ok(Ok(Some(ServerControl::Welcome { heartbeat_secs, .. }))) => session.welcome(Instant::now(), heartbeat_secs),
        Ok(Ok(other)) => bail!("expected a welcome, got {other:?}"),
        Ok(Err(e)) => bail!("no welcome: {e}; {:?}", conn.close_reason()),
        Err(_) => bail!("no welcome within {} s", WELCOME_TIMEOUT.as_secs()),
    }
    swarm.fleet.connected(first);

    let (watching_tx, watching) = watch::channel(None::<Duration>);
    // As in the agent: the session stays up until `ended`, after this connection, so there is always a next heartbeat.
    let heartbeats = async {
        while let Some(at) = session.poll_timeout() {
            tokio::time::sleep_until(at.into()).await;
            session.handle_timeout(Instant::now());
            while let Some(msg) = session.poll_transmit() {
                if frame::write(&mut send, &msg).await.is_err() {
                    return;
                }
            }
        }
    };
    let reader = async {
        loop {
            match frame::read::<ServerControl>(&mut recv).await {
                Ok(Some(ServerControl::WatchStart { interval_ms })) => {
                    let ms = interval_ms.clamp(*WATCH_INTERVAL_MS.start(), *WATCH_INTERVAL_MS.end());
                    watching_tx.send_replace(Some(Duration::from_millis(u64::from(ms))));
                }
                Ok(Some(ServerControl::WatchStop)) => {
                    watching_tx.send_replace(None);
                }
                // Checks, ticket threads and snapshot requests are the real agent's business, not load.
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => return,
            }
        }
    };
    let mut stopping = swarm.stopping.clone();
    tokio::select! {
        () = heartbeats => {}
        () = reader => {}
        () = live(swarm, &conn, watching) => {}
        result = uploads(swarm, &conn) => if let Err(e) = result { debug!("{e:#}") },
        _ = conn.closed() => {}
        _ = stopping.wait_for(|s| *s) => {}
    }
    swarm.fleet.disconnected();
    // Read before our own close, which replaces the reason.
    let goodbye = frame::goodbye(&conn);
    conn.close(close::NORMAL.into(), b"agent stopping");
    Ok(goodbye)
}

/// Snapshots on schedule, at a random phase as in a fleet whose agents started at different times (a reconnect
/// does not make an agent send one either); now and then a help request instead.
async fn uploads(swarm: &Swarm, conn: &quinn::Connection) -> Result<()> {
    let mut next_help = swarm.next_help();
    let every = swarm.snapshot_every;
    let mut tick = (!every.is_zero()).then(|| {
        let phase = every.mul_f64(rand::random());
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + phase, every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick
    });
    loop {
        if let Some(tick) = &mut tick {
            tick.tick().await;
        }
        let help = next_help.is_some_and(|at| Instant::now() >= at);
        let request = if help {
            next_help = swarm.next_help();
            Request::Help(HelpRequest {
                id: rand::random(),
                user: "swarm".into(),
                subject: "simulated help request".into(),
                description: "sent by lifeline-swarm".into(),
                snapshot: swarm.snapshot(),
            })
        } else {
            Request::Snapshot(swarm.snapshot())
        };
        let sent = Instant::now();
        match frame::request::<_, Response>(conn, &request).await.context("uploading")? {
            Response::Stored { .. } => swarm.fleet.acked(sent),
            Response::HelpAccepted { .. } => swarm.fleet.help_accepted(),
            Response::Error(e) => {
                debug!(error = %e.message, "the server refused an upload");
                swarm.fleet.error();
            }
            other => bail!("unexpected answer to an upload: {other:?}"),
        }
    }
}

/// While the server's watchers ask for it, a sample every interval, sent as the real agent sends one.
async fn live(swarm: &Swarm, conn: &quinn::Connection, mut watching: watch::Receiver<Option<Duration>>) {
    let mut seq = 0;
    loop {
        let interval = *watching.borrow_and_update();
        let Some(interval) = interval else {
            if watching.changed().await.is_err() {
                return;
            }
            continue;
        };
        seq += 1;
        send_sample(conn, &LiveSample { seq, taken_at_ms: now_ms(), ..swarm.sample.clone() });
        swarm.fleet.sample_sent();
        tokio::select! {
            () = tokio::time::sleep(interval) => {}
            changed = watching.changed() => if changed.is_err() { return },
        }
    }
}
