//! The requester's side of a ticket, through their own machine's agent: their answers and "it is solved" arrive as
//! spooled requests (stored once by id), and every change they may see goes back to that agent as the whole public
//! thread, pushed on the control stream, so the agent can keep it and tell the user without ever polling.

use lifeline_shared::wire::{SelfHelpReport, ServerControl, UserAction, UserTicketAction};
use tracing::{debug, info, warn};

use super::Effects;
use crate::desk::actor::Actor;
use crate::desk::policy::Sla;
use crate::desk::tickets::{Event, Status};
use crate::store::{Store, StoreError, Tx, now_ms};
use crate::{ControlTx, State};

/// Applies a requester's action on their own ticket. An answer on a resolved or pending ticket reopens it; "solved"
/// resolves an open ticket and closes a resolved one. A replay of the same action id changes nothing.
pub async fn act(store: &Store, sla: &Sla, agent_id: &str, action: UserTicketAction) -> Result<Effects, StoreError> {
    let number = i64::try_from(action.ticket).map_err(|_| StoreError::Refused("no such ticket".into()))?;
    let agent = agent_id.to_owned();
    let requested = number;
    let sla = sla.clone();
    let changed = store
        .write(move |c| {
            let current = c.ticket(number)?.state;
            if current.agent_id.as_deref() != Some(agent.as_str()) || current.requester != action.user {
                return Err(StoreError::Refused(format!(
                    "ticket {number} is not {}'s ticket on this machine",
                    action.user
                )));
            }
            if !c.first_requester_action(&agent, &hex::encode(action.id), number, now_ms())? {
                return Ok(None);
            }
            // A merged ticket's conversation carries on in the one it was merged into, which may have been merged
            // in turn: followed to the end (each merge needs a ticket not merged yet, so the chain has no loop).
            let (mut number, mut current) = (number, current);
            while let Some(into) = current.merged_into {
                (number, current) = (into, c.ticket(into)?.state);
            }
            let actor = &Actor::requester(&action.user);
            let change_status = |c: &Tx<'_>, from: Status, to: Status, reason: &str| {
                let event = Event::StatusChanged {
                    from,
                    to,
                    reason: Some(reason.to_owned()),
                    until: None,
                    code: None,
                    first_contact: false,
                };
                c.append_event(number, None, actor, &event, now_ms())
            };
            match action.action {
                UserAction::Reply { text } => {
                    c.append_event(number, None, actor, &Event::RequesterReply { body: text }, now_ms())?;
                    if matches!(current.status, Status::Resolved | Status::PendingUser) {
                        change_status(c, current.status, Status::Open, "the requester answered")?;
                    }
                }
                // "Solved" speaks of their own ticket: it does not close the one theirs was merged into, which may
                // be somebody else's too.
                UserAction::Solved if number != requested => return Ok(None),
                UserAction::Solved => match current.status {
                    Status::Closed => return Ok(None),
                    Status::Resolved => {
                        change_status(c, Status::Resolved, Status::Closed, "the requester confirmed it is solved")?;
                    }
                    from => {
                        change_status(c, from, Status::Resolved, "the requester says it is solved")?;
                    }
                },
            }
            super::sla::refresh(c, &sla, number, now_ms())?;
            Ok(Some(number))
        })
        .await?;
    let Some(changed) = changed else { return Ok(Effects::default()) };
    info!(ticket = changed, "the requester acted on their ticket");
    Ok(Effects { threads: vec![changed], ..Effects::default() })
}

pub async fn self_help(store: &Store, agent_id: &str, report: SelfHelpReport) -> Result<(), StoreError> {
    if report.user.is_empty() || report.user.len() > 64 || report.shown.len() > 64 {
        return Err(StoreError::Refused("a self-help report needs a user and at most 64 findings".into()));
    }
    let solved = report.solved;
    let agent = agent_id.to_owned();
    store.write(move |c| c.record_self_help(&agent, &report)).await?;
    info!(solved, "self-help advice was shown");
    Ok(())
}

/// Sends the ticket's public thread to its requester's agent, if it is connected; one that is not gets every open
/// thread when it comes back ([`sync`]).
pub async fn push(state: &State, number: i64) {
    match state.store.read(move |c| c.requester_thread(number)).await {
        Ok(Some((agent_id, thread))) => {
            if !state.connected.send(&agent_id, ServerControl::TicketChanged(thread)) {
                debug!(ticket = number, agent_id, "requester's agent offline; it gets the thread on reconnect");
            }
        }
        Ok(None) => {}
        Err(e) => warn!(ticket = number, error = %e, "cannot build the requester's thread"),
    }
}

/// A connecting agent gets the threads of its users' tickets, so what changed while it was away reaches them. Sent
/// through that session's own control queue, waiting for room rather than dropping any.
pub async fn sync(state: std::sync::Arc<State>, agent_id: String, control: ControlTx) {
    let agent = agent_id.clone();
    let read =
        state.store.read(move |c| Ok((c.threads_for_agent(&agent, now_ms())?, c.tickets_wanting_snapshot(&agent)?)));
    match read.await {
        Ok((threads, wanting)) => {
            let threads = threads.into_iter().map(ServerControl::TicketChanged);
            // Tickets this machine was linked to while it was away still wait for its snapshot.
            let asks = wanting
                .into_iter()
                .map(|n| ServerControl::SnapshotNow { ticket: u64::try_from(n).unwrap_or_default() });
            for msg in threads.chain(asks) {
                if control.send(Box::new(msg)).await.is_err() {
                    return;
                }
            }
        }
        Err(e) => warn!(agent_id, error = %e, "cannot read the agent's tickets"),
    }
}
