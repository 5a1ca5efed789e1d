//! The QUIC side of the server: one task per connection. A connection without a client certificate may only enroll
//! ([`enroll`]); one with a certificate we issued is an agent, identified by that certificate's fingerprint alone,
//! and gets a [`session`]: its control stream, its live samples, and one [`requests`] task per request stream.

mod enroll;
mod requests;
mod session;

use std::sync::Arc;
use std::time::Duration;

use lifeline_net::tls::{fingerprint, peer_leaf};
use lifeline_shared::wire::close;
use tracing::{Instrument, debug, info_span, warn};

use crate::State;
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
