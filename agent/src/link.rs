//! The agent's QUIC link: connect with its certificate, say hello, then heartbeat, send snapshots, and carry the
//! local user's requests, reconnecting with full-jitter backoff whenever the server goes away.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use lifeline_net::frame;
use lifeline_net::tls::ServerTrust;
use lifeline_shared::backoff::Backoff;
use lifeline_shared::wire::{
    AgentControl, Hello, HelpRequest, LocalRequest, LocalResponse, PROTOCOL_VERSION, Request, Response, SERVER_NAME,
    ServerControl, close,
};
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, info, warn};

use crate::collect::Collector;
use crate::config::{Config, Identity};

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

impl Link {
    /// Runs until `calls` closes (the agent is stopping).
    pub async fn run(self, mut collector: Collector, mut calls: mpsc::Receiver<LocalCall>) -> Result<()> {
        let client = lifeline_net::tls::quic_client(ServerTrust::Ca(self.ca.clone()), Some(self.tls.clone()))?;
        let backoff = Backoff::default();
        let mut attempt = 0u32;
        loop {
            match self.session(&client, &mut collector, &mut calls).await {
                Ok(Ended::Stopping) => return Ok(()),
                // The link was up, so this is a fresh outage: start the schedule over.
                Ok(Ended::Lost) => attempt = 0,
                Err(e) => warn!("{e:#}"),
            }
            let delay = backoff.delay(attempt, rand::random());
            attempt = attempt.saturating_add(1);
            info!(retry_in_ms = delay.as_millis() as u64, "reconnecting");
            if !answer_offline_until(&mut calls, delay).await {
                return Ok(());
            }
        }
    }

    async fn session(
        &self,
        client: &quinn::ClientConfig,
        collector: &mut Collector,
        calls: &mut mpsc::Receiver<LocalCall>,
    ) -> Result<Ended> {
        let addr = resolve(&self.identity.server).await?;
        let endpoint = endpoint(addr)?;
        let conn = endpoint
            .connect_with(client.clone(), addr, SERVER_NAME)?
            .await
            .with_context(|| format!("connecting to {}", self.identity.server))?;
        let (mut send, mut recv) = conn.open_bi().await?;
        let hello = Hello {
            protocol: PROTOCOL_VERSION,
            agent_version: env!("CARGO_PKG_VERSION").into(),
            hostname: self.host.hostname.clone(),
            os: self.host.os.clone(),
        };
        frame::write(&mut send, &AgentControl::Hello(hello)).await?;
        let heartbeat = match tokio::time::timeout(Duration::from_secs(10), frame::read(&mut recv)).await {
            Ok(Ok(Some(ServerControl::Welcome { heartbeat_secs, protocol, .. }))) => {
                info!(server = %self.identity.server, protocol, "connected");
                Duration::from_secs(u64::from(heartbeat_secs.clamp(1, 3600)))
            }
            Ok(Ok(other)) => bail!("expected a welcome from the server, got {other:?}"),
            Ok(Err(_)) | Err(_) => bail!("{}", refusal(&conn).unwrap_or_else(|| "no welcome from the server".into())),
        };
        // Acks are only read to keep the stream drained; the connection's own liveness is what we watch.
        let acks = tokio::spawn(async move {
            while let Ok(Some(ServerControl::HeartbeatAck { .. })) = frame::read(&mut recv).await {}
        });

        let mut beat = tokio::time::interval(heartbeat);
        let mut snapshot = tokio::time::interval(self.config.snapshot_interval());
        let mut seq = 0u64;
        let ended = loop {
            tokio::select! {
                _ = beat.tick() => {
                    seq += 1;
                    if frame::write(&mut send, &AgentControl::Heartbeat { seq }).await.is_err() {
                        break Ended::Lost;
                    }
                }
                _ = snapshot.tick() => {
                    let snap = collector.snapshot(rand::random(), now_ms()).await;
                    let conn = conn.clone();
                    tokio::spawn(async move {
                        match frame::request::<_, Response>(&conn, &Request::Snapshot(snap)).await {
                            Ok(Response::Stored { .. }) => debug!("snapshot stored"),
                            Ok(other) => warn!(?other, "server did not store the snapshot"),
                            Err(e) => warn!(error = %e, "sending snapshot"),
                        }
                    });
                }
                call = calls.recv() => match call {
                    Some(call) => self.local_call(&conn, collector, call).await,
                    None => break Ended::Stopping,
                },
                reason = conn.closed() => {
                    warn!("{}", describe_close(&reason));
                    break Ended::Lost;
                }
            }
        };
        acks.abort();
        conn.close(close::NORMAL.into(), b"agent stopping");
        let _ = tokio::time::timeout(Duration::from_secs(1), endpoint.wait_idle()).await;
        Ok(ended)
    }

    async fn local_call(&self, conn: &quinn::Connection, collector: &mut Collector, call: LocalCall) {
        let LocalCall { user, request, reply } = call;
        let request = match request {
            LocalRequest::Help { subject, description } => {
                let snapshot = collector.snapshot(rand::random(), now_ms()).await;
                Request::Help(HelpRequest { id: rand::random(), user, subject, description, snapshot })
            }
            LocalRequest::Tickets => Request::Tickets { user },
        };
        let conn = conn.clone();
        tokio::spawn(async move {
            let answer = match frame::request::<_, Response>(&conn, &request).await {
                Ok(Response::HelpAccepted { ticket, .. }) => LocalResponse::HelpAccepted { ticket },
                Ok(Response::Tickets(list)) => LocalResponse::Tickets(list),
                Ok(Response::Error(e)) => LocalResponse::Error { message: e.message },
                Ok(other) => LocalResponse::Error { message: format!("unexpected answer from the server: {other:?}") },
                Err(e) => LocalResponse::Error { message: format!("the server could not be reached: {e}") },
            };
            let _ = reply.send(answer);
        });
    }
}

enum Ended {
    Stopping,
    Lost,
}

/// Waits out a backoff delay while telling local users at once that the server is out of reach, rather than
/// leaving them waiting. False when the agent is stopping.
async fn answer_offline_until(calls: &mut mpsc::Receiver<LocalCall>, delay: Duration) -> bool {
    let sleep = tokio::time::sleep(delay);
    tokio::pin!(sleep);
    loop {
        tokio::select! {
            () = &mut sleep => return true,
            call = calls.recv() => match call {
                Some(call) => {
                    let message = "the help desk server cannot be reached right now; try again in a minute".into();
                    let _ = call.reply.send(LocalResponse::Error { message });
                }
                None => return false,
            },
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
