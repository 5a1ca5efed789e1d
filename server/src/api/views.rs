//! What the API answers with: its own types, each made from what a use case returned by an explicit conversion, so
//! a change to a store row or a wire type does not change the API by accident. The CLI reads its answers back into
//! these same types, so the two cannot drift apart.

use lifeline_shared::catalog::{CATALOG, Class};
use lifeline_shared::diff::Change;
use lifeline_shared::findings::Finding;
use lifeline_shared::wire::Snapshot;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::desk::access::Role;
use crate::desk::actor::Actor;
use crate::desk::checks::RunState;
use crate::desk::priority::{Level, TicketType};
use crate::desk::sla::Clock;
use crate::desk::tickets::{Channel, Event, Status, TicketState};
use crate::service::{agents, tickets};
use crate::store::agents::Agent;
use crate::store::auth::User;
use crate::store::checks::Run;
use crate::store::desk::Presence;
use crate::store::mail::AttachmentInfo;
use crate::store::tickets::{ListedTicket, LoggedEvent, Page, SelfHelpFigures, Ticket};

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, ToSchema)]
pub struct UserView {
    pub id: i64,
    pub name: String,
    pub role: Role,
}

impl From<User> for UserView {
    fn from(u: User) -> UserView {
        UserView { id: u.id, name: u.name, role: u.role }
    }
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, ToSchema)]
pub struct LoginView {
    pub token: String,
    pub user: UserView,
    pub expires_at: i64,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, ToSchema)]
pub struct AgentRow {
    pub id: String,
    pub hostname: String,
    pub os: String,
    pub agent_version: String,
    pub enrolled_at: i64,
    pub last_seen_at: Option<i64>,
    pub revoked_at: Option<i64>,
    pub connected: bool,
}

impl AgentRow {
    pub fn new(a: Agent, connected: bool) -> AgentRow {
        AgentRow {
            id: a.id,
            hostname: a.hostname,
            os: a.os,
            agent_version: a.agent_version,
            enrolled_at: a.enrolled_at,
            last_seen_at: a.last_seen_at,
            revoked_at: a.revoked_at,
            connected,
        }
    }
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, ToSchema)]
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
        AgentDetail { row: AgentRow::new(agent, connected), snapshot_count, findings, snapshot }
    }
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, ToSchema)]
pub struct Revoked {
    pub revoked: String,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, ToSchema)]
pub struct TicketRow {
    pub number: i64,
    pub subject: String,
    pub status: Status,
    pub category: Option<String>,
    pub tier: u8,
    pub assignee: Option<String>,
    pub requester: String,
    pub person: Option<i64>,
    pub agent_id: Option<String>,
    pub channel: Channel,
    pub priority: Level,
    #[serde(rename = "type")]
    pub ticket_type: TicketType,
    pub merged_into: Option<i64>,
    /// The earliest deadline of its running SLA clocks.
    pub sla_due_at: Option<i64>,
    pub sla_breached: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

impl From<ListedTicket> for TicketRow {
    fn from(t: ListedTicket) -> TicketRow {
        TicketRow {
            number: t.number,
            subject: t.subject,
            status: t.status,
            category: t.category,
            tier: t.tier,
            assignee: t.assignee,
            requester: t.requester,
            person: t.person,
            agent_id: t.agent_id,
            channel: t.channel,
            priority: t.priority,
            ticket_type: t.ticket_type,
            merged_into: t.merged_into,
            sla_due_at: t.sla_due_at,
            sla_breached: t.sla_breached,
            created_at: t.created_at,
            updated_at: t.updated_at,
        }
    }
}

/// One page of the ticket list; `next`, given back as `after`, asks for the following one.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, ToSchema)]
pub struct TicketPage {
    pub tickets: Vec<TicketRow>,
    pub next: Option<String>,
}

impl From<Page> for TicketPage {
    fn from(p: Page) -> TicketPage {
        TicketPage { tickets: p.tickets.into_iter().map(TicketRow::from).collect(), next: p.next.map(|c| c.encode()) }
    }
}

/// A ticket as its events fold: what every command answers with.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, ToSchema)]
pub struct TicketView {
    pub number: i64,
    /// Give it back with a command (`?version=`) to be refused rather than act on a ticket that changed meanwhile.
    pub version: i64,
    #[serde(flatten)]
    pub state: TicketState,
}

impl From<Ticket> for TicketView {
    fn from(t: Ticket) -> TicketView {
        TicketView { number: t.number, version: t.version, state: t.state }
    }
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, ToSchema)]
pub struct EventView {
    pub at: i64,
    #[serde(flatten)]
    pub actor: Actor,
    #[serde(flatten)]
    pub event: Event,
    /// Set on the events of a ticket merged into this one: the ticket they were written on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_ticket: Option<i64>,
}

impl From<LoggedEvent> for EventView {
    fn from(e: LoggedEvent) -> EventView {
        EventView { at: e.at, actor: e.actor, event: e.event, from_ticket: None }
    }
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, ToSchema)]
pub struct TicketDetail {
    #[serde(flatten)]
    pub ticket: TicketView,
    /// Shown first: what the agent's snapshot says is wrong, most severe first, as judged when it was stored.
    pub findings: Vec<Finding>,
    pub snapshot: Option<Snapshot>,
    pub events: Vec<EventView>,
    /// Who else is on the ticket now: `viewing` or `drafting`.
    pub presence: Vec<Presence>,
    /// Its SLA clocks as of now, every run of each (the last of a kind is the current one).
    pub sla: Vec<Clock>,
    /// The files that came with its mail (and with that of the tickets merged into it), oldest first; each one's
    /// bytes at `/api/tickets/{number}/attachments/{id}`.
    pub attachments: Vec<AttachmentView>,
}

/// A file that came with a ticket's mail, without its bytes.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, ToSchema)]
pub struct AttachmentView {
    pub id: i64,
    /// The name the sender gave it, without directories.
    pub name: String,
    /// The media type the sender's mail gave it: what the file claims to be, which nothing checked.
    pub content_type: String,
    /// In bytes.
    pub size: i64,
    pub at: i64,
    /// Set on the files of a ticket merged into this one: the ticket they came with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_ticket: Option<i64>,
}

impl AttachmentView {
    pub fn new(from_ticket: Option<i64>, a: AttachmentInfo) -> AttachmentView {
        AttachmentView { id: a.id, name: a.name, content_type: a.content_type, size: a.size, at: a.at, from_ticket }
    }
}

impl From<tickets::Detail> for TicketDetail {
    fn from(d: tickets::Detail) -> TicketDetail {
        TicketDetail {
            ticket: d.ticket.into(),
            findings: d.findings,
            snapshot: d.snapshot,
            events: d
                .events
                .into_iter()
                .map(|(from_ticket, e)| EventView { from_ticket, ..EventView::from(e) })
                .collect(),
            presence: d.presence,
            sla: d.sla,
            attachments: d.attachments.into_iter().map(|(from, a)| AttachmentView::new(from, a)).collect(),
        }
    }
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, ToSchema)]
pub struct Refreshing {
    pub ticket: i64,
    pub agent_id: String,
    pub requested: bool,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, ToSchema)]
pub struct DiffView {
    pub from: SnapshotRef,
    pub to: SnapshotRef,
    pub changes: Vec<Change>,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, ToSchema)]
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

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, ToSchema)]
pub struct CatalogEntry {
    pub name: String,
    pub class: Class,
    pub min_tier: u8,
    pub time_limit_secs: u64,
    pub max_output_bytes: usize,
    pub params: Vec<CatalogParam>,
    pub summary: String,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, ToSchema)]
pub struct CatalogParam {
    pub name: String,
    pub accepts: String,
}

/// Every approved check, as compiled into this build.
pub fn catalog() -> Vec<CatalogEntry> {
    CATALOG
        .iter()
        .map(|d| CatalogEntry {
            name: d.name.to_owned(),
            class: d.class,
            min_tier: d.min_tier,
            time_limit_secs: d.time_limit.as_secs(),
            max_output_bytes: d.max_output,
            params: d
                .params
                .iter()
                .map(|(name, accepts)| CatalogParam { name: (*name).to_owned(), accepts: (*accepts).to_owned() })
                .collect(),
            summary: d.summary.to_owned(),
        })
        .collect()
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, ToSchema)]
pub struct CheckRunView {
    pub id: i64,
    pub agent_id: String,
    pub ticket: Option<i64>,
    pub technician: String,
    pub name: String,
    pub description: String,
    pub state: RunState,
    pub requested_at: i64,
    pub expires_at: i64,
    pub sent_at: Option<i64>,
    pub finished_at: Option<i64>,
    pub elapsed_ms: Option<i64>,
    /// The output of a run that was done; the reason or error otherwise.
    pub result: Option<String>,
}

impl From<Run> for CheckRunView {
    fn from(r: Run) -> CheckRunView {
        CheckRunView {
            id: r.id,
            agent_id: r.agent_id,
            ticket: r.ticket,
            technician: r.technician,
            name: r.name.to_owned(),
            description: r.description,
            state: r.state,
            requested_at: r.requested_at,
            expires_at: r.expires_at,
            sent_at: r.sent_at,
            finished_at: r.finished_at,
            elapsed_ms: r.elapsed_ms,
            result: r.result,
        }
    }
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, ToSchema)]
pub struct SelfHelpView {
    pub days: u32,
    pub figures: FiguresView,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, ToSchema)]
pub struct FiguresView {
    pub shown: i64,
    pub solved: i64,
    pub asked_for_help: i64,
}

impl From<SelfHelpFigures> for FiguresView {
    fn from(f: SelfHelpFigures) -> FiguresView {
        FiguresView { shown: f.shown, solved: f.solved, asked_for_help: f.asked_for_help }
    }
}
