//! Every type that crosses the QUIC link between agent and server.
//!
//! bincode encodes an enum variant by its index and a struct by field order, so **variants and fields are only ever
//! added at the end**, and the golden vectors in `codec` fail the build of any change that would move a byte.

use serde::{Deserialize, Serialize};

/// The protocol this build speaks; sent in `Hello` and echoed (or refused) in `Welcome`. Version 2 added
/// [`ServerControl::CertificateRenewed`] and version 3 [`ErrorCode::Unavailable`], which the server sends only to
/// agents that speak them.
pub const PROTOCOL_VERSION: u16 = 3;
/// The oldest agent protocol this build's server still serves.
pub const MIN_PROTOCOL_VERSION: u16 = 1;
/// TLS application protocol negotiated on every connection.
pub const ALPN: &[u8] = b"lifeline/1";
/// The name the server's certificate is issued for and the agent verifies, whatever address it dialled: the CA is
/// private to one deployment, so the role is the identity and NAT or DNS changes cannot break trust.
pub const SERVER_NAME: &str = "lifeline-server";

/// Chosen by the agent, so that a replay after a lost acknowledgement is recognised and stored once.
pub type SnapshotId = [u8; 16];
/// Chosen by the agent for the same reason: a help request replayed after a lost ack opens no second ticket.
pub type RequestId = [u8; 16];

/// QUIC application error codes used when one side closes a stream or the connection.
pub mod close {
    pub const NORMAL: u32 = 0;
    pub const PROTOCOL: u32 = 1;
    pub const REVOKED: u32 = 2;
    pub const UNKNOWN_AGENT: u32 = 3;
    pub const UNSUPPORTED_VERSION: u32 = 4;
    pub const INTERNAL: u32 = 5;
    pub const SHUTDOWN: u32 = 6;
    /// The agent's certificate is outside its validity period: only a resumed TLS session gets this far, since a
    /// full handshake refuses the certificate itself.
    pub const EXPIRED: u32 = 7;
}

/// The reason a server closing with [`close::SHUTDOWN`] gives, as one codec frame: the window its agents spread their
/// reconnects over, sized by the server to how many were connected, so that a restart does not bring them all back in
/// the same second, nor make a handful of agents wait as long as twenty thousand.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Goodbye {
    pub reconnect_within_ms: u32,
}

/// First frame on the control stream, agent to server.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Hello {
    pub protocol: u16,
    pub agent_version: String,
    pub hostname: String,
    pub os: String,
}

/// Frames the agent sends on its control stream.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub enum AgentControl {
    Hello(Hello),
    Heartbeat { seq: u64 },
}

/// Frames the server sends on an agent's control stream.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub enum ServerControl {
    Welcome {
        protocol: u16,
        server_version: String,
        agent_id: String,
        heartbeat_secs: u32,
    },
    HeartbeatAck {
        seq: u64,
    },
    RunCheck(CheckRequest),
    /// Somebody watches this agent: send a [`LiveSample`] every `interval_ms` until `WatchStop`, for at most
    /// [`WATCH_MAX_SECS`] after the last `WatchStart`.
    WatchStart {
        interval_ms: u32,
    },
    WatchStop,
    /// A technician asked for a fresh snapshot for this ticket; it comes back as [`Request::TicketSnapshot`].
    SnapshotNow {
        ticket: u64,
    },
    /// One of this machine's tickets changed where its requester can see it (or the agent just connected): the whole
    /// public thread, for the agent to keep, so the user's programs can show it offline and notice what is new.
    TicketChanged(TicketThread),
    /// A new certificate for the agent's own key, sent once two thirds of its current certificate's life have
    /// passed. The agent uses it from its next connection on; the certificate it connected with keeps working, so a
    /// renewal lost on the way costs nothing but another one next time.
    CertificateRenewed {
        cert_der: Vec<u8>,
    },
}

/// Fastest and slowest sampling a watch may ask for.
pub const WATCH_INTERVAL_MS: std::ops::RangeInclusive<u32> = 100..=10_000;
/// An agent stops streaming on its own this long after the last `WatchStart`, so a lost `WatchStop` costs little.
pub const WATCH_MAX_SECS: u64 = 15 * 60;

/// One live sample, sent as a QUIC datagram (or on a one-way stream when it is too big for one): a lost sample is
/// simply replaced by the next, and nothing queues behind it. Rates are per second since the previous sample.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
pub struct LiveSample {
    pub seq: u64,
    pub taken_at_ms: u64,
    pub cpu_pct: f32,
    pub per_core_pct: Vec<f32>,
    pub load_avg: [f64; 3],
    pub memory_used_bytes: u64,
    pub memory_total_bytes: u64,
    pub swap_used_bytes: u64,
    pub swap_total_bytes: u64,
    pub net: Vec<NetRate>,
    pub disks: Vec<DiskRate>,
    pub top_cpu: Vec<Process>,
    pub top_memory: Vec<Process>,
    /// The findings now, present only when they differ from the previous sample's or a watcher just joined: a
    /// watcher keeps the last it saw.
    pub findings: Option<Vec<crate::findings::Finding>>,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
pub struct NetRate {
    pub interface: String,
    pub rx_bytes_per_s: u64,
    pub tx_bytes_per_s: u64,
    /// Errors since the previous sample.
    pub rx_errors: u64,
    pub tx_errors: u64,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
pub struct DiskRate {
    pub mount_point: String,
    pub read_bytes_per_s: u64,
    pub written_bytes_per_s: u64,
}

/// A technician's request to run one approved check; the agent validates it again and enforces consent itself.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct CheckRequest {
    pub id: u64,
    /// The ticket whose consent window allows this run; `None` relies on the machine's unattended policy.
    pub ticket: Option<u64>,
    pub technician: String,
    pub check: crate::catalog::Check,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct CheckReport {
    pub id: u64,
    pub outcome: CheckOutcome,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub enum CheckOutcome {
    Done {
        output: String,
        elapsed_ms: u64,
    },
    /// The agent would not run it: no consent, disabled by local policy, or invalid parameters.
    Refused {
        reason: String,
    },
    Failed {
        error: String,
    },
    TimedOut {
        limit_ms: u64,
    },
}

/// One request per bidirectional stream, answered by exactly one [`Response`]; the stream is the request's lifetime.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub enum Request {
    Snapshot(Snapshot),
    Help(HelpRequest),
    /// Retired: agents answer "my tickets" from the threads the server pushes, and the server refuses this. It stays
    /// because variants are only appended, never removed.
    Tickets {
        user: String,
    },
    /// The bandwidth check's traffic: `payload` measures the way up, `reply_len` bytes of answer the way down.
    Probe {
        payload: Vec<u8>,
        reply_len: u32,
    },
    /// A snapshot taken because a technician asked for one, to attach to their ticket.
    TicketSnapshot {
        ticket: u64,
        snapshot: Snapshot,
    },
    /// How a check ended; spooled like every result, so a dropped connection loses none.
    CheckResult(CheckReport),
    /// The requester answered on, or confirmed the end of, their own ticket; stored once by its id.
    UserTicket(UserTicketAction),
    /// Self-help advice was shown to a user; whether it solved their problem is the help desk's "solved without a
    /// call" figure. Stored once by its id.
    SelfHelp(SelfHelpReport),
}

/// The most a probe answer carries: one frame, with room for its framing.
pub const MAX_PROBE_REPLY: u32 = 1000 * 1024;

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub enum Response {
    /// Sent only after the snapshot's transaction committed.
    Stored {
        id: SnapshotId,
    },
    /// Sent only after the ticket's transaction committed.
    HelpAccepted {
        request_id: RequestId,
        ticket: u64,
    },
    Tickets(Vec<TicketSummary>),
    Error(WireError),
    Probe {
        payload: Vec<u8>,
    },
    /// Sent only after the result's transaction committed.
    CheckRecorded {
        id: u64,
    },
    /// Sent only after a [`Request::UserTicket`] or [`Request::SelfHelp`] committed (or was found stored already).
    Recorded {
        id: RequestId,
    },
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct WireError {
    pub code: ErrorCode,
    pub message: String,
}

/// Whose fault a failed request was, and so what the agent does with the spooled item behind it.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// The agent's: the same bytes will never pass; the item is dropped.
    Malformed,
    /// The agent's, as `Malformed`.
    TooLarge,
    /// The agent's, as `Malformed`: a rule says no to this request.
    Refused,
    /// The server's: kept and sent again later.
    Internal,
    /// The server's, and passing (its store is full or busy): kept and sent again after a growing pause, on the
    /// same connection.
    Unavailable,
}

impl ErrorCode {
    /// Whether the agent keeps the item and sends it again.
    pub fn is_retryable(self) -> bool {
        matches!(self, ErrorCode::Internal | ErrorCode::Unavailable)
    }
}

/// A person asked for help from their own machine.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct HelpRequest {
    pub id: RequestId,
    /// Login name of the local user, taken by the agent from its socket's peer credentials, never from the user.
    pub user: String,
    pub subject: String,
    pub description: String,
    pub snapshot: Snapshot,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct UserTicketAction {
    pub id: RequestId,
    /// As in [`HelpRequest::user`]: the server accepts it only on that user's own tickets from this agent.
    pub user: String,
    pub ticket: u64,
    pub at_ms: u64,
    pub action: UserAction,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub enum UserAction {
    /// A public answer; on a resolved ticket it reopens it.
    Reply { text: String },
    /// "This is solved": closes the ticket.
    Solved,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct SelfHelpReport {
    pub id: RequestId,
    pub user: String,
    pub at_ms: u64,
    /// The findings whose advice the user read.
    pub shown: Vec<crate::findings::FindingKind>,
    /// True when the user said the advice solved it (no request follows); false when they went on to ask for help.
    pub solved: bool,
}

/// A ticket as its requester may see it: technicians' public replies, the requester's own answers and status
/// changes, never internal notes.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct TicketThread {
    pub summary: TicketSummary,
    /// The local user who asked, whose ticket this is.
    pub user: String,
    /// Oldest first; at most [`MAX_THREAD_ENTRIES`], the newest kept.
    pub entries: Vec<ThreadEntry>,
}

/// Bounds a thread so that it always fits in one frame.
pub const MAX_THREAD_ENTRIES: usize = 100;

/// A ticket's subject is 1 to this many bytes: the server's rule, which the agent and the desktop program check too,
/// so the user hears of it before anything leaves their machine.
pub const MAX_SUBJECT: usize = 200;
/// A description, reply, note or answer is at most this many bytes (and a reply at least one).
pub const MAX_BODY: usize = 20_000;

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct ThreadEntry {
    /// The ticket event's number: strictly increasing, so a program knows what it has not shown yet.
    pub seq: u64,
    pub at_ms: u64,
    pub kind: ThreadKind,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub enum ThreadKind {
    /// A technician's public reply.
    Reply {
        author: String,
        text: String,
    },
    /// The requester's own answer.
    Answer {
        text: String,
    },
    Status {
        status: String,
    },
}

/// What a user sees of one of their tickets.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct TicketSummary {
    pub number: u64,
    pub subject: String,
    pub status: String,
    pub updated_at_ms: u64,
}

/// Sent on the only stream of a connection made without a client certificate.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct EnrollRequest {
    pub token_secret: String,
    /// PKCS#10 request signed with a key generated on the agent; the private key never leaves the machine.
    pub csr_der: Vec<u8>,
    pub hostname: String,
    pub os: String,
    pub agent_version: String,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub enum EnrollResponse {
    Enrolled { agent_id: String, cert_der: Vec<u8>, ca_der: Vec<u8> },
    Refused { message: String },
}

/// A full diagnostic picture of one machine at one moment.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Snapshot {
    /// In JSON, its 16 bytes as numbers.
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<u8>))]
    pub id: SnapshotId,
    pub taken_at_ms: u64,
    pub host: Host,
    pub cpu: Cpu,
    pub memory: Memory,
    pub disks: Vec<Disk>,
    pub temperatures: Vec<Temperature>,
    pub battery: Option<Battery>,
    pub network: Network,
    pub processes: Processes,
    /// Parts the agent could not collect; a snapshot is sent with what it has rather than not at all.
    pub problems: Vec<String>,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Host {
    pub hostname: String,
    pub os_name: String,
    pub os_version: String,
    pub kernel: String,
    pub arch: String,
    pub uptime_secs: u64,
    pub boot_time_secs: u64,
    pub agent_version: String,
    pub users: Vec<String>,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Cpu {
    pub model: String,
    pub physical_cores: Option<u32>,
    pub logical_cores: u32,
    pub usage_pct: f32,
    pub load_avg: [f64; 3],
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Memory {
    pub total_bytes: u64,
    pub used_bytes: u64,
    pub available_bytes: u64,
    pub swap_total_bytes: u64,
    pub swap_used_bytes: u64,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Disk {
    pub mount_point: String,
    pub file_system: String,
    pub total_bytes: u64,
    pub available_bytes: u64,
    pub removable: bool,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Temperature {
    pub label: String,
    pub celsius: f32,
    pub critical_celsius: Option<f32>,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Battery {
    pub percent: f32,
    pub charging: bool,
    pub health_pct: Option<f32>,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Network {
    pub interfaces: Vec<Interface>,
    pub default_route: Option<Route>,
    pub dns_servers: Vec<String>,
    pub probes: Vec<Probe>,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Interface {
    pub name: String,
    pub mac: String,
    pub addresses: Vec<String>,
    pub rx_bytes: u64,
    pub tx_bytes: u64,
    pub rx_errors: u64,
    pub tx_errors: u64,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Route {
    pub interface: String,
    pub gateway: String,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Probe {
    pub kind: ProbeKind,
    /// Host name for DNS, `host:port` for TCP and the link.
    pub target: String,
    pub ok: bool,
    pub latency_us: Option<u64>,
    /// Resolved addresses, or the error the system gave.
    pub detail: String,
}

#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ProbeKind {
    Dns,
    /// Written by agents before the link probe existed; still read in stored snapshots.
    Tcp,
    /// The agent's own QUIC link to the server, with QUIC's round-trip estimate: the one path to the server that
    /// matters. A TCP connect to the server's port said nothing about it (the link is UDP).
    Link,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Processes {
    pub count: u32,
    pub top_cpu: Vec<Process>,
    pub top_memory: Vec<Process>,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Process {
    pub pid: u32,
    pub name: String,
    pub user: Option<String>,
    pub cpu_pct: f32,
    pub rss_bytes: u64,
}

/// Whether a program run by `me` may talk to the local agent's socket owned by `owner`: only root (the packaged
/// agent) or the user themselves may stand behind it, since anybody else could collect what the user types. The
/// agent's CLI and the desktop program both check it.
pub fn socket_owner_trusted(owner: u32, me: u32) -> bool {
    owner == 0 || owner == me
}

/// What the user's programs ask the local agent over its socket. The agent adds who is asking, from the socket's
/// peer credentials.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub enum LocalRequest {
    Help {
        subject: String,
        description: String,
    },
    Tickets,
    Consents,
    RevokeConsent {
        ticket: u64,
    },
    ExtendConsent {
        ticket: u64,
        minutes: u32,
    },
    History,
    /// One of the user's tickets with its public thread, from what the agent keeps (works offline).
    Ticket {
        number: u64,
    },
    /// A public answer on the user's own ticket.
    Reply {
        ticket: u64,
        text: String,
    },
    /// The user confirms their ticket is solved.
    Solved {
        ticket: u64,
    },
    /// What the agent sees on this machine right now, with the self-help advice each finding carries.
    Findings,
    /// The user read the advice from [`LocalRequest::Findings`]; did it solve the problem?
    AdviceOutcome {
        shown: Vec<crate::findings::FindingKind>,
        solved: bool,
    },
    /// Keeps the connection open: the agent answers [`LocalResponse::Subscribed`], then sends a [`LocalEvent`] frame
    /// for each thing this user should hear about, until either side closes.
    Subscribe,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub enum LocalResponse {
    HelpAccepted {
        ticket: u64,
    },
    Tickets(Vec<TicketSummary>),
    Error {
        message: String,
    },
    /// Saved on this machine; it goes out, with its snapshot, as soon as the server can be reached.
    HelpQueued,
    Consents {
        windows: Vec<ConsentWindow>,
        /// The machine's policy lets read-only checks run without any window; the user must be told.
        unattended_class_a: bool,
    },
    History(Vec<HistoryEntry>),
    Done {
        message: String,
    },
    Ticket(TicketThread),
    Findings(Vec<crate::findings::Finding>),
    /// A reply, confirmation or advice outcome was kept by the agent; `delivered` if the server already has it,
    /// otherwise it goes out as soon as the server can be reached.
    Saved {
        delivered: bool,
    },
    Subscribed,
}

/// Pushed by the agent to a subscribed user program ([`LocalRequest::Subscribe`]): nothing is polled.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub enum LocalEvent {
    /// One of the user's tickets changed; `new` holds the entries the agent had not seen before (empty when only
    /// the summary moved), which is what a notification tells.
    TicketChanged { thread: TicketThread, new: Vec<ThreadEntry> },
    /// A check ran (or was refused) on this machine; every user hears of every check.
    CheckRan(HistoryEntry),
    /// A technician may now run checks for this ticket, until `until_ms`.
    ConsentOpened(ConsentWindow),
    /// The window closes soon: the user may extend or revoke it.
    ConsentExpiring(ConsentWindow),
}

/// While open, technicians working `ticket` may run approved checks on this machine.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct ConsentWindow {
    pub ticket: u64,
    /// The local user who asked for help and so may extend or revoke it.
    pub user: String,
    pub until_ms: u64,
}

/// One check that ran (or was refused) on this machine, as the user sees it.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct HistoryEntry {
    pub at_ms: u64,
    pub technician: String,
    pub ticket: Option<u64>,
    pub check: String,
    pub outcome: String,
    /// The server's run id, by which the agent knows a request it has already handled.
    #[serde(default)]
    pub run: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_root_or_the_user_may_own_the_agents_socket() {
        assert!(socket_owner_trusted(0, 1000));
        assert!(socket_owner_trusted(1000, 1000));
        assert!(!socket_owner_trusted(1001, 1000));
        assert!(socket_owner_trusted(0, 0));
        assert!(!socket_owner_trusted(1000, 0), "root's program must not talk to a user's socket either");
    }
}
