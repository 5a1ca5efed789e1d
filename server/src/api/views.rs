//! What the API answers with: its own types, each made from what a use case returned by an explicit conversion, so
//! a change to a store row or a wire type does not change the API by accident.

use lifeline_shared::diff::Change;
use lifeline_shared::findings::Finding;
use lifeline_shared::wire::Snapshot;
use serde::Serialize;

use crate::service::{agents, tickets};
use crate::store::agents::Agent;
use crate::store::tickets::{LoggedEvent, Ticket};

#[derive(Serialize, Debug)]
pub struct AgentRow {
    #[serde(flatten)]
    pub agent: Agent,
    pub connected: bool,
}

#[derive(Serialize, Debug)]
pub struct AgentDetail {
    #[serde(flatten)]
    pub row: AgentRow,
    pub snapshot_count: i64,
    pub findings: Vec<Finding>,
    /// The latest snapshot, so a technician sees the machine without waiting for a ticket.
    pub snapshot: Option<Snapshot>,
}

impl AgentDetail {
    pub fn new(detail: agents::Detail, connected: bool) -> AgentDetail {
        let agents::Detail { agent, snapshot_count, findings, snapshot } = detail;
        AgentDetail { row: AgentRow { agent, connected }, snapshot_count, findings, snapshot }
    }
}

#[derive(Serialize, Debug)]
pub struct TicketDetail {
    #[serde(flatten)]
    pub ticket: Ticket,
    /// Shown first: what the agent's snapshot says is wrong, most severe first, as judged when it was stored.
    pub findings: Vec<Finding>,
    pub snapshot: Option<Snapshot>,
    pub events: Vec<LoggedEvent>,
}

impl From<tickets::Detail> for TicketDetail {
    fn from(d: tickets::Detail) -> TicketDetail {
        TicketDetail { ticket: d.ticket, findings: d.findings, snapshot: d.snapshot, events: d.events }
    }
}

#[derive(Serialize, Debug)]
pub struct DiffView {
    pub from: SnapshotRef,
    pub to: SnapshotRef,
    pub changes: Vec<Change>,
}

#[derive(Serialize, Debug)]
pub struct SnapshotRef {
    pub id: String,
    pub taken_at_ms: u64,
}

impl From<tickets::Compared> for DiffView {
    fn from(c: tickets::Compared) -> DiffView {
        let at = |s: &Snapshot| SnapshotRef { id: hex::encode(s.id), taken_at_ms: s.taken_at_ms };
        DiffView { from: at(&c.from), to: at(&c.to), changes: c.changes }
    }
}
