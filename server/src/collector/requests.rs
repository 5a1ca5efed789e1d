//! One request stream: a request the agent spooled (a snapshot, a help request, a check result, a requester's
//! action), answered only once it is stored, or with an error whose code tells the agent whether to keep it.

use std::sync::Arc;

use lifeline_net::frame::{self, FrameError};
use lifeline_shared::codec::CodecError;
use lifeline_shared::wire::{ErrorCode, MAX_PROBE_REPLY, Request, Response, WireError, close};
use tracing::{debug, error, warn};

use crate::State;
use crate::service::{agents, checks, requester, tickets};
use crate::store::StoreError;

pub async fn request(
    state: Arc<State>,
    agent_id: String,
    protocol: u16,
    mut send: quinn::SendStream,
    mut recv: quinn::RecvStream,
) {
    let arrived = std::time::Instant::now();
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
        if let Response::Stored { .. } = response {
            crate::metrics::METRICS.snapshot_ack_seconds.observe(arrived.elapsed().as_secs_f64());
        }
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
            let (number, _, effects) = tickets::open_help(&state.store, &state.config.desk.sla, agent_id, help).await?;
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
            requester::act(&state.store, &state.config.desk.sla, agent_id, action).await?.carry_out(state).await;
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use lifeline_shared::wire::{ErrorCode, HelpRequest, Request, Response, Snapshot};

    use super::{answer, failed};
    use crate::State;
    use crate::config::Config;
    use crate::store::{StoreError, now_ms};

    async fn server_with_agent(dir: &tempfile::TempDir) -> Arc<State> {
        let config = Config { data_dir: dir.path().join("data"), ..Config::default() };
        let state = Arc::new(crate::prepare(config).unwrap());
        let agent = [("ag-1".to_owned(), "fp-1".to_owned())];
        state.store.write(move |c| c.insert_simulated_agents(&agent, now_ms())).await.unwrap();
        state
    }

    fn help(id: u8, subject: &str) -> Request {
        Request::Help(HelpRequest {
            id: [id; 16],
            user: "ann".into(),
            subject: subject.into(),
            description: String::new(),
            snapshot: Snapshot { id: [id; 16], taken_at_ms: 1, ..Snapshot::default() },
        })
    }

    fn code(response: &Response) -> Option<ErrorCode> {
        match response {
            Response::Error(e) => Some(e.code),
            _ => None,
        }
    }

    #[test]
    fn a_failure_tells_the_agent_whether_to_keep_its_item() {
        let cases = [
            (StoreError::Refused("no".into()), 3, ErrorCode::Refused),
            (StoreError::NotFound("ticket 9".into()), 3, ErrorCode::Refused),
            (StoreError::Conflict("closed".into()), 3, ErrorCode::Refused),
            (StoreError::Unavailable("disk full".into()), 3, ErrorCode::Unavailable),
            // An agent of protocol 2 cannot read Unavailable; Internal also makes it keep the item.
            (StoreError::Unavailable("disk full".into()), 2, ErrorCode::Internal),
            (StoreError::Internal("bug".into()), 3, ErrorCode::Internal),
            (StoreError::Corrupt("row".into()), 3, ErrorCode::Internal),
        ];
        for (error, protocol, expected) in cases {
            let said = format!("{error}");
            let response = failed(error, protocol);
            assert_eq!(code(&response), Some(expected), "{said}");
            assert!(matches!(&response, Response::Error(e) if e.message == said));
            assert_eq!(expected.is_retryable(), !matches!(expected, ErrorCode::Refused), "{said}");
        }
    }

    #[tokio::test]
    async fn a_replayed_snapshot_or_help_request_is_acknowledged_again_and_stored_once() {
        let dir = tempfile::tempdir().unwrap();
        let state = server_with_agent(&dir).await;
        let snapshot = || Request::Snapshot(Snapshot { id: [7; 16], taken_at_ms: 5, ..Snapshot::default() });
        for _ in 0..2 {
            assert_eq!(answer(&state, "ag-1", snapshot()).await.unwrap(), Response::Stored { id: [7; 16] });
        }
        let first = answer(&state, "ag-1", help(1, "printer")).await.unwrap();
        let again = answer(&state, "ag-1", help(1, "printer")).await.unwrap();
        assert_eq!(first, again);
        assert_eq!(first, Response::HelpAccepted { ticket: 1, request_id: [1; 16] });
        let second = answer(&state, "ag-1", help(2, "screen")).await.unwrap();
        assert!(matches!(second, Response::HelpAccepted { ticket: 2, .. }), "{second:?}");
        let count = state.store.read(|c| c.snapshot_count("ag-1")).await.unwrap();
        assert_eq!(count, 3, "one routine snapshot and one per help request");
    }

    #[tokio::test]
    async fn requests_the_server_will_never_take_are_refused_for_good() {
        let dir = tempfile::tempdir().unwrap();
        let state = server_with_agent(&dir).await;
        answer(&state, "ag-1", help(1, "printer")).await.unwrap();
        let mut nameless = help(3, "x");
        if let Request::Help(h) = &mut nameless {
            h.user.clear();
        }
        let for_ticket =
            |ticket| Request::TicketSnapshot { ticket, snapshot: Snapshot { id: [9; 16], ..Snapshot::default() } };
        let cases = [
            (nameless, "ag-1", "a help request of nobody"),
            (Request::Tickets { user: "ann".into() }, "ag-1", "the retired tickets request"),
            (for_ticket(1), "ag-2", "a snapshot for another agent's ticket"),
            (for_ticket(99), "ag-1", "a snapshot for no ticket"),
        ];
        for (request, agent, what) in cases {
            let error = answer(&state, agent, request).await.unwrap_err();
            assert!(matches!(error, StoreError::Refused(_)), "{what}: {error:?}");
            assert_eq!(code(&failed(error, 3)), Some(ErrorCode::Refused), "{what}");
        }
    }
}
