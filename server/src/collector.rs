//! The QUIC side of the server: one task per connection. A connection without a client certificate may only enroll;
//! one with a certificate we issued is an agent, identified by that certificate's fingerprint alone.

use std::sync::Arc;
use std::time::{Duration, Instant};

use lifeline_net::frame::{self, FrameError};
use lifeline_net::tls::{fingerprint, peer_leaf};
use lifeline_shared::codec::CodecError;
use lifeline_shared::wire::{
    AgentControl, EnrollRequest, EnrollResponse, ErrorCode, LiveSample, MAX_PROBE_REPLY, MIN_PROTOCOL_VERSION,
    PROTOCOL_VERSION, Request, Response, ServerControl, WireError, close,
};
use rustls_pki_types::CertificateDer;
use tokio::sync::mpsc;
use tracing::{Instrument, debug, error, info, info_span, warn};

use crate::State;
use crate::pki::{AGENT_CERT_DAYS, Lifetime};
use crate::service::{agents, checks, requester, tickets};
use crate::store::agents::Agent;
use crate::store::{StoreError, now_ms};

/// How long a peer may take to send its first frame before we stop waiting for it.
const FIRST_FRAME: Duration = Duration::from_secs(10);
/// How stale a connected agent's last-seen time may get in the store. Heartbeats come more often (15 s by default),
/// but a write for each cost an idle server at 10,000 agents a quarter of its CPU (BENCHMARKS.md); "online" is the
/// live connection anyway, and the time is written again when the agent leaves.
const SEEN_EVERY: Duration = Duration::from_secs(60);

/// Handshakes the server works on at once. The rest wait in arrival order, their first packets held by quinn, so
/// one is answered as soon as its turn comes rather than at the agent's next resend; a storm of reconnects then
/// finishes handshakes at the pace the server can, instead of starting all of them, finishing none in time, and
/// having agents give up and back off (BENCHMARKS.md, "restart storm").
const MAX_HANDSHAKES: usize = 256;
/// How long an admitted handshake may take before its place goes to the next one.
const HANDSHAKE: Duration = Duration::from_secs(10);

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
                    Ok(Ok(conn)) => handle(state, conn).await,
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
        None => enroll(&state, &conn).await,
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
                    session(&state, conn, agent, presented).instrument(info_span!("agent", agent_id = %id)).await;
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

async fn enroll(state: &State, conn: &quinn::Connection) {
    let Ok(Ok((mut send, mut recv))) = tokio::time::timeout(FIRST_FRAME, conn.accept_bi()).await else {
        conn.close(close::PROTOCOL.into(), b"enrollment expected");
        return;
    };
    let answer = match tokio::time::timeout(FIRST_FRAME, frame::read::<EnrollRequest>(&mut recv)).await {
        Ok(Ok(Some(req))) => enroll_answer(state, req).await,
        Ok(Ok(None)) | Err(_) => EnrollResponse::Refused { message: "no enrollment request was sent".into() },
        Ok(Err(e)) => {
            warn!(error = %e, "malformed enrollment request");
            EnrollResponse::Refused { message: format!("malformed enrollment request: {e}") }
        }
    };
    if frame::write(&mut send, &answer).await.is_ok() && send.finish().is_ok() {
        // Let the agent read the answer and hang up first, so the answer is not lost with the connection.
        let _ = tokio::time::timeout(FIRST_FRAME, conn.closed()).await;
    }
    conn.close(close::NORMAL.into(), b"");
}

async fn enroll_answer(state: &State, req: EnrollRequest) -> EnrollResponse {
    match agents::enroll(&state.store, &state.pki, req).await {
        Ok((agent_id, cert)) => {
            EnrollResponse::Enrolled { agent_id, cert_der: cert.to_vec(), ca_der: state.pki.ca_der.to_vec() }
        }
        Err(StoreError::Refused(message)) => {
            warn!(%message, "refused enrollment");
            EnrollResponse::Refused { message }
        }
        Err(e) if e.is_retryable() => EnrollResponse::Refused { message: format!("{e}; enroll again later") },
        Err(e) => {
            error!(error = %e, "enrollment failed");
            EnrollResponse::Refused { message: "server error; try again later".into() }
        }
    }
}

/// The certificate an agent connected with.
struct Presented {
    leaf: CertificateDer<'static>,
    lifetime: Lifetime,
}

async fn session(state: &Arc<State>, conn: quinn::Connection, agent: Agent, presented: Presented) {
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

async fn request(
    state: Arc<State>,
    agent_id: String,
    protocol: u16,
    mut send: quinn::SendStream,
    mut recv: quinn::RecvStream,
) {
    let response = match frame::read::<Request>(&mut recv).await {
        Ok(Some(req)) => answer(&state, &agent_id, req).await.unwrap_or_else(|e| failed(e, protocol)),
        Ok(None) => return,
        Err(e) => {
            warn!(error = %e, "bad request frame");
            let code = match e {
                FrameError::Codec(CodecError::TooLarge { .. }) => ErrorCode::TooLarge,
                _ => ErrorCode::Malformed,
            };
            let _ = recv.stop(close::PROTOCOL.into());
            Response::Error(WireError { code, message: e.to_string() })
        }
    };
    if frame::write(&mut send, &response).await.is_ok() {
        let _ = send.finish();
    }
}

async fn answer(state: &State, agent_id: &str, req: Request) -> Result<Response, StoreError> {
    match req {
        Request::Snapshot(snap) => {
            let id = snap.id;
            agents::ingest(&state.store, agent_id, snap).await?;
            Ok(Response::Stored { id })
        }
        Request::Help(help) => {
            let request_id = help.id;
            let (number, _, effects) = tickets::open_help(&state.store, agent_id, help).await?;
            effects.carry_out(state).await;
            Ok(Response::HelpAccepted { request_id, ticket: u64::try_from(number).unwrap_or_default() })
        }
        Request::TicketSnapshot { ticket, snapshot } => {
            let id = snapshot.id;
            tickets::attach_snapshot(&state.store, agent_id, ticket, snapshot).await?;
            Ok(Response::Stored { id })
        }
        Request::CheckResult(report) => {
            let id = report.id;
            checks::report(&state.store, agent_id, report).await?;
            Ok(Response::CheckRecorded { id })
        }
        Request::Probe { reply_len, .. } => {
            // The payload has done its job by arriving; the answer is zeros, as many as asked within one frame.
            Ok(Response::Probe { payload: vec![0; reply_len.min(MAX_PROBE_REPLY) as usize] })
        }
        // Agents keep their users' threads, which the server pushes, and answer "my tickets" from them offline too;
        // an agent never asks. The variant stays on the wire, whose enums are only appended to.
        Request::Tickets { .. } => {
            Err(StoreError::Refused("tickets requests are retired: the server pushes each ticket's thread".into()))
        }
        Request::UserTicket(action) => {
            let id = action.id;
            requester::act(&state.store, agent_id, action).await?.carry_out(state).await;
            Ok(Response::Recorded { id })
        }
        Request::SelfHelp(report) => {
            let id = report.id;
            requester::self_help(&state.store, agent_id, report).await?;
            Ok(Response::Recorded { id })
        }
    }
}

/// The one place a failed request's kind becomes the agent's: whether it drops the item or keeps it for later.
fn failed(e: StoreError, protocol: u16) -> Response {
    let code = match &e {
        StoreError::Refused(_) | StoreError::NotFound(_) | StoreError::Conflict(_) => ErrorCode::Refused,
        // The store logs a burst of these once; each agent's retry is no news.
        StoreError::Unavailable(_) if protocol >= 3 => ErrorCode::Unavailable,
        // Agents before protocol 3 keep an item the server failed on, too, but cannot read the newer code.
        StoreError::Unavailable(_) => ErrorCode::Internal,
        StoreError::Internal(_) | StoreError::Corrupt(_) => ErrorCode::Internal,
    };
    if code == ErrorCode::Refused {
        warn!(error = %e, "request refused");
    } else if e.is_retryable() {
        debug!(error = %e, "request failed for now; the agent will send it again");
    } else {
        error!(error = %e, "request failed");
    }
    Response::Error(WireError { code, message: e.to_string() })
}
