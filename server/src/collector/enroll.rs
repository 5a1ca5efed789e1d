//! A connection without a client certificate: one enrollment request, one answer, then goodbye.

use lifeline_net::frame;
use lifeline_shared::wire::{EnrollRequest, EnrollResponse, close};
use tracing::{error, warn};

use super::FIRST_FRAME;
use crate::State;
use crate::service::agents;
use crate::store::StoreError;

pub async fn enroll(state: &State, conn: &quinn::Connection) {
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
