//! An agent's connection: hello and welcome, the control stream (heartbeats in, acks, checks, threads and renewals
//! out), live samples, request streams, and the certificate renewal when it is due.

use std::sync::Arc;
use std::time::{Duration, Instant};

use lifeline_net::frame;
use lifeline_shared::wire::{AgentControl, LiveSample, MIN_PROTOCOL_VERSION, PROTOCOL_VERSION, ServerControl, close};
use rustls_pki_types::CertificateDer;
use tokio::sync::mpsc;
use tracing::{Instrument, debug, info, warn};

use super::FIRST_FRAME;
use super::requests::request;
use crate::State;
use crate::pki::{AGENT_CERT_DAYS, Lifetime};
use crate::service::{agents, checks, requester};
use crate::store::agents::Agent;
use crate::store::now_ms;

/// How stale a connected agent's last-seen time may get in the store. Heartbeats come more often (15 s by default),
/// but a write for each cost an idle server at 10,000 agents a quarter of its CPU (BENCHMARKS.md); "online" is the
/// live connection anyway, and the time is written again when the agent leaves.
const SEEN_EVERY: Duration = Duration::from_secs(60);

/// The certificate an agent connected with.
pub struct Presented {
    pub leaf: CertificateDer<'static>,
    pub lifetime: Lifetime,
}

pub async fn session(state: &Arc<State>, conn: quinn::Connection, agent: Agent, presented: Presented) {
    let Ok(Ok((mut send, mut recv))) = tokio::time::timeout(FIRST_FRAME, conn.accept_bi()).await else {
        conn.close(close::PROTOCOL.into(), b"control stream expected");
        return;
    };
    let hello = match tokio::time::timeout(FIRST_FRAME, frame::read::<AgentControl>(&mut recv)).await {
        Ok(Ok(Some(AgentControl::Hello(hello)))) => hello,
        other => {
            warn!(?other, "no hello on the control stream");
            conn.close(close::PROTOCOL.into(), b"hello expected");
            return;
        }
    };
    if hello.protocol < MIN_PROTOCOL_VERSION {
        warn!(protocol = hello.protocol, "agent protocol too old");
        conn.close(close::UNSUPPORTED_VERSION.into(), b"agent protocol version is too old; upgrade the agent");
        return;
    }
    let welcome = ServerControl::Welcome {
        protocol: hello.protocol.min(PROTOCOL_VERSION),
        server_version: env!("CARGO_PKG_VERSION").into(),
        agent_id: agent.id.clone(),
        heartbeat_secs: state.config.heartbeat_secs,
    };
    if let Err(e) = frame::write(&mut send, &welcome).await {
        debug!(error = %e, "agent left before welcome");
        return;
    }
    let _ = agents::seen(&state.store, &agent.id, Some((hello.agent_version.clone(), hello.os.clone()))).await;
    info!(host = %hello.hostname, version = %hello.agent_version, "agent connected");
    let (control_tx, control_rx) = mpsc::channel(64);
    tokio::spawn(requester::sync(state.clone(), agent.id.clone(), control_tx.clone()).in_current_span());
    state.connected.insert(&agent.id, conn.clone(), control_tx.clone());
    match checks::pending(&state.store, &agent.id).await {
        Ok(effects) => drop(effects.carry_out(state).await),
        Err(e) => warn!(error = %e, "cannot read the checks waiting for this agent"),
    }
    state.live.resume(state, &agent.id);

    let control = control_loop(state, &agent.id, send, recv, control_rx);
    let protocol = hello.protocol;
    let requests = async {
        while let Ok((send, recv)) = conn.accept_bi().await {
            let state = state.clone();
            let id = agent.id.clone();
            tokio::spawn(request(state, id, protocol, send, recv).in_current_span());
        }
    };
    tokio::select! {
        () = control => conn.close(close::PROTOCOL.into(), b"control stream failed"),
        () = requests => {}
        () = live_samples(state, &agent.id, &conn) => {}
        () = renewal(state, &agent.id, presented, hello.protocol, control_tx) => {}
    }
    state.connected.remove(&agent.id, &conn);
    let _ = agents::seen(&state.store, &agent.id, None).await;
    info!(reason = ?conn.close_reason(), "agent disconnected");
}

/// Renews the agent's certificate when it is due, on this connection: an agent may stay connected for weeks. Never
/// returns; the session ends for its own reasons.
async fn renewal(
    state: &State,
    agent_id: &str,
    presented: Presented,
    protocol: u16,
    control: mpsc::Sender<Box<ServerControl>>,
) {
    if protocol >= 2 {
        let wait = presented.lifetime.renew_at().saturating_sub(now_ms() / 1000);
        tokio::time::sleep(Duration::from_secs(u64::try_from(wait).unwrap_or(0))).await;
        loop {
            match agents::renew(&state.store, &state.pki, agent_id, &presented.leaf).await {
                Ok(cert_der) => {
                    info!(days = AGENT_CERT_DAYS, "renewed the agent's certificate");
                    let _ = control.send(Box::new(ServerControl::CertificateRenewed { cert_der })).await;
                    break;
                }
                Err(e) => warn!(error = %e, "cannot renew the agent's certificate; trying again in an hour"),
            }
            tokio::time::sleep(Duration::from_secs(3600)).await;
        }
    }
    std::future::pending().await
}

/// Reads the agent's control frames while one writer sends heartbeat acks and checks; reading is never raced
/// against anything, so no frame is ever cut in half by a cancelled read.
async fn control_loop(
    state: &State,
    agent_id: &str,
    mut send: quinn::SendStream,
    mut recv: quinn::RecvStream,
    mut outbox: mpsc::Receiver<Box<ServerControl>>,
) {
    let (acks_tx, mut acks) = mpsc::channel::<u64>(8);
    let writer = async {
        loop {
            let msg = tokio::select! {
                Some(seq) = acks.recv() => ServerControl::HeartbeatAck { seq },
                Some(msg) = outbox.recv() => match *msg {
                    ServerControl::RunCheck(req) => {
                        let Ok(id) = i64::try_from(req.id) else { continue };
                        // A run that ended meanwhile is not sent; one sent before is sent again (the agent knows
                        // the runs it handled and runs none twice).
                        match checks::mark_sent(&state.store, id).await {
                            Ok(true) => {}
                            Ok(false) => continue,
                            Err(e) => {
                                warn!(run = id, error = %e, "cannot mark a check sent; it stays queued");
                                continue;
                            }
                        }
                        ServerControl::RunCheck(req)
                    }
                    other => other,
                },
                else => return,
            };
            if frame::write(&mut send, &msg).await.is_err() {
                return;
            }
        }
    };
    let reader = async {
        // Connecting wrote it just now.
        let mut last_written = Instant::now();
        loop {
            match frame::read::<AgentControl>(&mut recv).await {
                Ok(Some(AgentControl::Heartbeat { seq })) => {
                    if acks_tx.send(seq).await.is_err() {
                        return;
                    }
                    if last_written.elapsed() >= SEEN_EVERY {
                        last_written = Instant::now();
                        let _ = agents::seen(&state.store, agent_id, None).await;
                    }
                }
                Ok(Some(AgentControl::Hello(_))) => {
                    warn!("second hello on the control stream");
                    return;
                }
                Ok(None) => return,
                Err(e) => {
                    if e.is_peer_fault() {
                        warn!(error = %e, "bad frame on the control stream");
                    }
                    return;
                }
            }
        }
    };
    tokio::select! {
        () = writer => {}
        () = reader => {}
    }
}

/// Live samples arrive as datagrams, or on one-way streams when too big for one; each is decoded by the codec and
/// handed to the watchers. A bad one is dropped and logged: the next sample replaces it anyway.
async fn live_samples(state: &State, agent_id: &str, conn: &quinn::Connection) {
    let datagrams = async {
        while let Ok(datagram) = conn.read_datagram().await {
            match lifeline_shared::codec::decode_frame::<LiveSample>(&datagram) {
                Ok(Some((sample, _))) => state.live.publish(agent_id, &sample),
                Ok(None) => warn!("truncated live sample datagram"),
                Err(e) => warn!(error = %e, "bad live sample datagram"),
            }
        }
    };
    let streams = async {
        while let Ok(mut recv) = conn.accept_uni().await {
            match tokio::time::timeout(FIRST_FRAME, frame::read::<LiveSample>(&mut recv)).await {
                Ok(Ok(Some(sample))) => state.live.publish(agent_id, &sample),
                Ok(Err(e)) => warn!(error = %e, "bad live sample stream"),
                Ok(Ok(None)) | Err(_) => debug!("live sample stream ended early"),
            }
        }
    };
    tokio::join!(datagrams, streams);
}
