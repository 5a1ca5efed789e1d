//! A connection without a client certificate: one enrollment request, one answer, then goodbye. An address whose
//! enrollments keep being refused is made to wait (`service::auth`'s limits) and told so.

use std::net::IpAddr;

use lifeline_net::frame;
use lifeline_shared::wire::{EnrollRequest, EnrollResponse, close};
use tracing::{debug, error, warn};

use super::FIRST_FRAME;
use crate::State;
use crate::service::{agents, auth};
use crate::store::StoreError;

pub async fn enroll(state: &State, conn: &quinn::Connection) {
    let Ok(Ok((mut send, mut recv))) = tokio::time::timeout(FIRST_FRAME, conn.accept_bi()).await else {
        conn.close(close::PROTOCOL.into(), b"enrollment expected");
        return;
    };
    let answer = match tokio::time::timeout(FIRST_FRAME, frame::read::<EnrollRequest>(&mut recv)).await {
        Ok(Ok(Some(req))) => enroll_answer(state, req, conn.remote_address().ip()).await,
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

async fn enroll_answer(state: &State, req: EnrollRequest, from: IpAddr) -> EnrollResponse {
    match auth::enrollment_wait(&state.store, from).await {
        Ok(None) => {}
        Ok(Some(secs)) => {
            // Not a warning each: a host retrying in a loop would fill the log. The start of each wait is one.
            debug!(secs, "refused enrollment while its address waits");
            let message = format!("too many failed enrollments from this address; try again in {secs} s");
            return EnrollResponse::Refused { message };
        }
        Err(e) => return store_failure(e),
    }
    match agents::enroll(&state.store, &state.pki, req).await {
        Ok((agent_id, cert)) => {
            EnrollResponse::Enrolled { agent_id, cert_der: cert.to_vec(), ca_der: state.pki.ca_der.to_vec() }
        }
        // Every refusal counts, a bad token's or a bad request's: a real agent with a good token is not refused.
        Err(StoreError::Refused(message)) => {
            warn!(%message, "refused enrollment");
            if let Err(e) = auth::enrollment_failed(&state.store, from).await {
                warn!(error = %e, "cannot count a refused enrollment");
            }
            EnrollResponse::Refused { message }
        }
        Err(e) => store_failure(e),
    }
}

fn store_failure(e: StoreError) -> EnrollResponse {
    if e.is_retryable() {
        return EnrollResponse::Refused { message: format!("{e}; enroll again later") };
    }
    error!(error = %e, "enrollment failed");
    EnrollResponse::Refused { message: "server error; try again later".into() }
}
