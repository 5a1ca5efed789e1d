//! Use cases: each owns its transaction and returns its result with the [`Effects`] its caller must carry out once it
//! committed, so the collector, the API and the CLI call these and recompute nothing. Every act a person asks for is
//! checked against [`crate::desk::access`] here, not in the adapters, so no adapter can forget it.

pub mod admin;
pub mod agents;
pub mod audit;
pub mod auth;
pub mod checks;
pub mod desk;
pub mod mail;
pub mod people;
pub mod requester;
pub mod retention;
pub mod sla;
pub mod stats;
pub mod tickets;
pub mod webhooks;

use lifeline_shared::wire::ServerControl;
use tracing::debug;

use crate::State;
use crate::desk::access::Denied;
use crate::store::StoreError;

/// Why a use case said no: the person may not, or the store (a rule, a missing thing, a passing fault) says no.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Denied(#[from] Denied),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A public reply or status change to a ticket that got public events since the person looked: the events they
    /// missed, to read before they decide (or force it).
    #[error("the ticket got {} public event(s) since you looked; read them, then reply again or force it", .0.len())]
    Missed(Vec<crate::store::tickets::LoggedEvent>),
}

/// What happens outside the transaction after it committed: telling connected agents.
#[derive(Debug, Default, PartialEq)]
#[must_use = "a use case's effects are carried out by its caller"]
pub struct Effects {
    /// Tickets whose requester's thread changed: sent to their agent if it is connected (it gets every thread when
    /// it connects otherwise).
    pub threads: Vec<i64>,
    /// Messages for agents, if they are connected.
    pub send: Vec<(String, ServerControl)>,
    /// Agents to cut off at once, with the close code and reason they are told.
    pub disconnect: Vec<(String, u32, &'static [u8])>,
}

impl Effects {
    pub(crate) fn thread(number: i64) -> Effects {
        Effects { threads: vec![number], ..Effects::default() }
    }

    /// Carries the effects out; returns the agents a message was for that are not connected.
    pub async fn carry_out(self, state: &State) -> Vec<String> {
        for number in self.threads {
            requester::push(state, number).await;
        }
        let mut offline = Vec::new();
        for (agent_id, msg) in self.send {
            if !state.connected.send(&agent_id, msg) {
                debug!(agent_id, "agent not connected; the message waits for its next connection");
                offline.push(agent_id);
            }
        }
        for (agent_id, code, reason) in self.disconnect {
            state.connected.close(&agent_id, code, reason);
        }
        offline
    }
}
