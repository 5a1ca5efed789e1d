//! The command line: what each command takes. `main.rs` dispatches; `admin` runs what works on this machine's
//! data directory, `desk` what goes through the API.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Lifeline server: agents connect over QUIC, technicians use the HTTPS API.
#[derive(Parser)]
#[command(version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// Where the server keeps its state; for the commands that work on this machine's server.
#[derive(clap::Args, Clone)]
pub struct Local {
    /// TOML configuration file (see packaging/server.toml)
    #[arg(long, env = "LIFELINE_SERVER_CONFIG")]
    pub config: Option<PathBuf>,
    /// Directory for the database and the CA (default: ./lifeline-data)
    #[arg(long, env = "LIFELINE_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run the server
    Serve {
        #[command(flatten)]
        local: Local,
        /// UDP address for agents (QUIC)
        #[arg(long)]
        quic: Option<SocketAddr>,
        /// TCP address for the HTTPS API
        #[arg(long)]
        api: Option<SocketAddr>,
    },
    /// Start a local server with an enrolled local agent, for a first look
    Quickstart {
        /// Directory for the server's and the agent's state
        #[arg(long, default_value = "lifeline-data")]
        data_dir: PathBuf,
        /// Port for QUIC (UDP) and the API (TCP) on 127.0.0.1
        #[arg(long, default_value_t = lifeline_server::config::DEFAULT_PORT)]
        port: u16,
    },
    /// Trade your name and password for an API token that lasts a working day (the password is read from
    /// standard input); prints `export LIFELINE_TOKEN=...`
    Login {
        user: String,
        /// Base URL of the server's API, e.g. https://helpdesk.example.org:7443
        #[arg(long, env = "LIFELINE_API")]
        api: String,
        /// The deployment's CA certificate (the server's pki/ca.pem)
        #[arg(long, env = "LIFELINE_CA")]
        ca: PathBuf,
    },
    /// Technician accounts (works on this machine's server data)
    #[command(subcommand)]
    User(UserCmd),
    /// Enrollment tokens (works on this machine's server data)
    #[command(subcommand)]
    Token(TokenCmd),
    /// Agents (through the API)
    #[command(subcommand)]
    Agent(AgentCmd),
    /// Enroll simulated agents for a load test with lifeline-swarm, writing their keys (works on this machine's
    /// server data)
    BulkEnroll {
        /// How many agents
        #[arg(long)]
        count: u32,
        /// File to write (mode 0600): the CA certificate, then each agent's certificate and private key, in PEM
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        local: Local,
    },
    /// Tickets (through the API)
    #[command(subcommand)]
    Ticket(TicketCmd),
    /// Requesters on record: the people tickets are for (through the API)
    #[command(subcommand)]
    Person(PersonCmd),
    /// The two-level list of ticket categories (through the API; changes are the admin's)
    #[command(subcommand)]
    Category(CategoryCmd),
    /// Canned replies with placeholders such as {requester.name} (through the API)
    #[command(subcommand)]
    Canned(CannedCmd),
    /// Approved checks on agents (through the API)
    #[command(subcommand)]
    Check(CheckCmd),
    /// Webhook endpoints and their delivery log (admins, through the API)
    #[command(subcommand)]
    Webhook(WebhookCmd),
    /// The hash-chained audit log (admins and auditors)
    #[command(subcommand)]
    Audit(AuditCmd),
    /// Help-desk figures (through the API)
    #[command(subcommand)]
    Stats(StatsCmd),
    /// Copy the server's database, CA, configuration and audit checkpoints into a new directory, while it runs
    Backup {
        /// A new or empty directory (made 0700, every file in it 0600)
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        local: Local,
    },
    /// Restore a backup into a new data directory, to start a server on
    Restore {
        /// The directory `backup` wrote
        #[arg(long)]
        from: PathBuf,
        /// The new data directory: one that does not exist yet, or is empty
        #[arg(long)]
        data_dir: PathBuf,
    },
}

#[derive(Subcommand)]
pub enum StatsCmd {
    /// How often self-help advice was shown, and how often it solved the problem without a request
    SelfHelp {
        /// Over the last N days
        #[arg(long, default_value_t = 30)]
        days: u32,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Per technician and period: resolved, first-contact, reopened, replies, median and p90 times to first response
    /// and resolution (wall clock and business hours). Others' rows: managers, admins, auditors
    Technicians {
        #[command(flatten)]
        range: StatsRange,
    },
    /// Median and p90 time to first response and to resolution by priority, channel, category or tier
    Response {
        /// priority, channel, category or tier
        #[arg(long, default_value = "priority")]
        dimension: String,
        #[command(flatten)]
        range: StatsRange,
    },
    /// Tickets open at a moment, by tier and age
    Backlog {
        /// A date (midnight in the help desk's time zone) or an RFC 3339 time; now by default
        #[arg(long)]
        at: Option<String>,
        #[command(flatten)]
        range: StatsRange,
    },
    /// Tickets created and resolved per period
    Flow {
        #[command(flatten)]
        range: StatsRange,
    },
    /// SLA warnings and breaches per target and priority, and the breach rate
    Sla {
        #[command(flatten)]
        range: StatsRange,
    },
    /// Tickets opened per category and period, the change against the period before, and what is rising
    Categories {
        #[command(flatten)]
        range: StatsRange,
    },
    /// What users needed teaching on ("user instructed" resolutions), by topic and department, and self-help's share
    Education {
        #[command(flatten)]
        range: StatsRange,
    },
    /// Which approved checks were run on which categories, and how often the ticket was resolved after them
    Checks {
        #[command(flatten)]
        range: StatsRange,
    },
}

/// The range of a report and how it is cut; dates are midnight in the help desk's time zone.
#[derive(clap::Args, Debug, Clone)]
pub struct StatsRange {
    /// A date (2026-03-01) or an RFC 3339 time; 30 days before --to by default
    #[arg(long)]
    pub from: Option<String>,
    /// A date or an RFC 3339 time; now by default
    #[arg(long)]
    pub to: Option<String>,
    /// day, week or month
    #[arg(long, default_value = "week")]
    pub by: String,
    /// RFC 4180 CSV with a header row, for a spreadsheet
    #[arg(long)]
    pub csv: bool,
    #[command(flatten)]
    pub api: ApiArgs,
}

#[derive(Subcommand)]
pub enum CheckCmd {
    /// The catalog: every check an agent can run, its class, tier and parameters
    List {
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Run a check on an agent and wait for its result (queued if the agent is offline)
    Run {
        agent: String,
        /// A name from `check list`
        check: String,
        /// Parameters as key=value
        params: Vec<String>,
        /// The ticket whose consent window allows it (the user opened one by asking for help)
        #[arg(long)]
        ticket: Option<u64>,
        /// How long it may wait for an offline agent: 30m, 2h (at most 24h)
        #[arg(long, default_value = "60m")]
        expires: String,
        /// Return once queued instead of waiting for the result
        #[arg(long)]
        no_wait: bool,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Show one run and its result
    Show {
        id: u64,
        #[command(flatten)]
        api: ApiArgs,
    },
}

#[derive(Subcommand)]
pub enum AuditCmd {
    /// Check the chain and name the first broken entry
    Verify {
        /// Verify an exported file instead of asking the server
        #[arg(long)]
        file: Option<PathBuf>,
        /// Also check the chain against the signed checkpoints in this file (`audit checkpoint`), which shows entries
        /// deleted from its end or a chain rewritten since; they must be signed by the CA of --ca
        #[arg(long)]
        checkpoints: Option<PathBuf>,
        // The API's arguments one by one rather than an optional `ApiArgs`: clap counts the default of its `--json`
        // as given, and then asks for all of them even with --file.
        /// Base URL of the server's API, e.g. https://helpdesk.example.org:7443
        #[arg(long, env = "LIFELINE_API")]
        api: Option<String>,
        /// Your API token (from `lifeline-server user add`)
        #[arg(long, env = "LIFELINE_TOKEN", hide_env_values = true)]
        token: Option<String>,
        /// The deployment's CA certificate (the server's pki/ca.pem): the only root trusted for the API, and what
        /// checkpoints must be signed by
        #[arg(long, env = "LIFELINE_CA")]
        ca: Option<PathBuf>,
        /// Print the verdict as JSON
        #[arg(long)]
        json: bool,
    },
    /// Sign the chain's head with the CA and append it to the checkpoint file (works on this machine's server data)
    Checkpoint {
        /// The checkpoint file (default: the configuration's [audit] checkpoint_file, or audit-checkpoints.jsonl in
        /// the data directory)
        #[arg(long)]
        out: Option<PathBuf>,
        #[command(flatten)]
        local: Local,
    },
    /// Write the log as JSON lines (to stdout, or --out)
    Export {
        #[arg(long)]
        out: Option<PathBuf>,
        #[command(flatten)]
        api: ApiArgs,
    },
}

#[derive(Subcommand)]
pub enum UserCmd {
    /// Create an account and print its password and API token (shown once)
    Add {
        name: String,
        /// 1, 2, 3, admin, auditor, manager (reads every figure, changes nothing) or mailer (a mail server: may
        /// only hand in mail)
        #[arg(long)]
        tier: String,
        #[command(flatten)]
        local: Local,
    },
    /// Change an account's role
    SetRole {
        name: String,
        /// 1, 2, 3, admin, auditor or manager (reads every figure, changes nothing)
        #[arg(long)]
        tier: String,
        #[command(flatten)]
        local: Local,
    },
    /// API tokens: list them (never their secrets) and end one at once
    #[command(subcommand)]
    Token(UserTokenCmd),
}

#[derive(Subcommand)]
pub enum UserTokenCmd {
    /// Every API token, or one account's, with the id `revoke` takes
    List {
        /// Only this account's
        #[arg(long)]
        user: Option<String>,
        #[command(flatten)]
        local: Local,
    },
    /// End one token now: the next request with it is refused
    Revoke {
        id: String,
        #[command(flatten)]
        local: Local,
    },
}

#[derive(Subcommand)]
pub enum TokenCmd {
    /// Create an enrollment token for agents
    Create {
        /// How long the token is valid: 30m, 24h, 7d
        #[arg(long, default_value = "24h")]
        expires: String,
        /// How many agents may enroll with it
        #[arg(long, default_value_t = 1)]
        uses: u32,
        /// A note to recognise the token by
        #[arg(long, default_value = "")]
        label: String,
        /// host:port agents dial (default: `advertise` from the config)
        #[arg(long)]
        server: Option<String>,
        #[command(flatten)]
        local: Local,
    },
}

#[derive(Subcommand)]
pub enum AgentCmd {
    /// List agents with their state and last-seen time
    List {
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Show an agent with its latest snapshot and findings
    Show {
        id: String,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Watch an agent live, top-like (or one JSON sample per line with --json); Ctrl-C quits
    Watch {
        id: String,
        /// Milliseconds between samples (100 to 10000)
        #[arg(long, default_value_t = 1000)]
        interval_ms: u32,
        /// Stop after this many samples
        #[arg(long)]
        count: Option<u64>,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Refuse this agent from now on (admin)
    Revoke {
        id: String,
        #[command(flatten)]
        api: ApiArgs,
    },
}

#[derive(Subcommand)]
pub enum TicketCmd {
    /// List tickets, most recently changed first; every filter is optional
    List {
        #[command(flatten)]
        filter: TicketFilter,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Open a ticket for a call, an e-mail, a chat or a visit; prints its number
    Create {
        /// phone, email, chat, on-site or web
        #[arg(long)]
        channel: String,
        /// The requester's name (or give --person)
        #[arg(long, default_value = "")]
        requester: String,
        /// A person on record, by id
        #[arg(long)]
        person: Option<i64>,
        #[arg(long)]
        email: Option<String>,
        #[arg(long)]
        phone: Option<String>,
        #[arg(long)]
        subject: String,
        #[arg(long, default_value = "")]
        description: String,
        /// low, medium, high or critical: how soon the requester needs it
        #[arg(long)]
        urgency: Option<String>,
        /// low, medium, high or critical: how much it stops
        #[arg(long)]
        impact: Option<String>,
        #[arg(long)]
        category: Option<String>,
        /// incident or request
        #[arg(long = "type", default_value = "incident")]
        ticket_type: String,
        /// The requester's machine: its fresh snapshot is attached
        #[arg(long)]
        agent: Option<String>,
        /// Solved during the call: resolve it now with this resolution code
        #[arg(long)]
        resolved: Option<String>,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Show a ticket: findings, snapshot summary, attachments and history
    Show {
        number: u64,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Save a file that came with the ticket's mail (its id from `ticket show`)
    Attachment {
        number: u64,
        id: u64,
        /// The file to write; one that exists is refused unless --force
        #[arg(long)]
        out: PathBuf,
        /// Overwrite --out if it exists
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Add a public reply (the user sees it)
    Reply {
        number: u64,
        /// The text; or give --template
        #[arg(default_value = "")]
        text: String,
        /// A canned reply to fill in and send
        #[arg(long)]
        template: Option<String>,
        #[command(flatten)]
        seen: Seen,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Add an internal note (the user never sees it)
    Note {
        number: u64,
        text: String,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Assign to a technician
    Assign {
        number: u64,
        user: String,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Change status: open, pending-user, pending-third-party, pending-until (with --until), resolved (with
    /// --code), closed
    Status {
        number: u64,
        status: String,
        #[arg(long)]
        reason: Option<String>,
        /// For pending-until: an RFC 3339 time (2026-12-24T09:00:00+01:00) or a span from now (90m, 3d)
        #[arg(long)]
        until: Option<String>,
        /// For resolved: the resolution code
        #[arg(long)]
        code: Option<String>,
        #[command(flatten)]
        seen: Seen,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Set the priority by hand (low, medium, high, critical), over the matrix
    Priority {
        number: u64,
        priority: String,
        #[arg(long)]
        reason: Option<String>,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Set the urgency; the priority follows from the matrix
    Urgency {
        number: u64,
        urgency: String,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Set the impact; the priority follows from the matrix
    Impact {
        number: u64,
        impact: String,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Set the category
    Category {
        number: u64,
        category: String,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Set the type: incident or request
    Type {
        number: u64,
        ticket_type: String,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Tie the requester's machine to the ticket; its fresh snapshot is attached (when it next connects, if away)
    Link {
        number: u64,
        #[arg(long)]
        agent: String,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Untie the ticket's machine
    Unlink {
        number: u64,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Fold the ticket into another: its conversation carries on there, and it becomes read-only
    Merge {
        number: u64,
        #[arg(long)]
        into: u64,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Record that two tickets are about the same thing
    Relate {
        number: u64,
        other: u64,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Ask the ticket's agent for a fresh snapshot, wait for it, and show what changed since the previous one
    Refresh {
        number: u64,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// What changed between two snapshots on a ticket (default: its first and its latest)
    Diff {
        number: u64,
        #[arg(long)]
        from: Option<String>,
        #[arg(long)]
        to: Option<String>,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Escalate to tier 2 or 3
    Escalate {
        number: u64,
        #[arg(long)]
        tier: u8,
        #[arg(long)]
        reason: Option<String>,
        #[command(flatten)]
        api: ApiArgs,
    },
}

/// The ticket version a reply or status change was written against (from `ticket show`): refused if the ticket
/// got a public event since, unless forced.
#[derive(clap::Args, Debug, Clone)]
pub struct Seen {
    #[arg(long)]
    pub version: Option<i64>,
    /// Send it even if the ticket got a public event since that version (recorded in the audit log)
    #[arg(long)]
    pub force: bool,
}

#[derive(clap::Args, Debug, Clone, Default)]
pub struct TicketFilter {
    /// new, open, pending-user, pending-third-party, pending-until, resolved, closed or merged
    #[arg(long)]
    pub status: Option<String>,
    #[arg(long)]
    pub tier: Option<u8>,
    /// me, none, or a user name
    #[arg(long)]
    pub assignee: Option<String>,
    #[arg(long)]
    pub category: Option<String>,
    #[arg(long)]
    pub priority: Option<String>,
    #[arg(long)]
    pub channel: Option<String>,
    /// A person on record, by id (with everyone merged into them), or the requester's name on the ticket
    #[arg(long)]
    pub requester: Option<String>,
    /// An agent id or host name
    #[arg(long)]
    pub machine: Option<String>,
    /// Opened at least this long ago: 12h, 3d
    #[arg(long)]
    pub older_than: Option<String>,
    /// breached, or due-soon (a deadline within the hour)
    #[arg(long)]
    pub sla: Option<String>,
    /// Words to find in the subject, description and conversation
    #[arg(long)]
    pub text: Option<String>,
    /// updated (default), created or priority
    #[arg(long)]
    pub sort: Option<String>,
    /// Where the previous page ended (it prints it)
    #[arg(long)]
    pub after: Option<String>,
    #[arg(long)]
    pub limit: Option<u32>,
}

#[derive(Subcommand)]
pub enum PersonCmd {
    /// List people, optionally those whose name, e-mail or department contains TEXT
    List {
        #[arg(long)]
        search: Option<String>,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Show a person with their machines and accounts, and their tickets from every channel
    Show {
        id: i64,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Add a person
    Add {
        #[arg(long)]
        name: String,
        #[command(flatten)]
        fields: PersonFields,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Change what is on record
    Edit {
        id: i64,
        #[arg(long)]
        name: Option<String>,
        #[command(flatten)]
        fields: PersonFields,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Make a machine's local account theirs: help requests from it are their tickets
    Link {
        id: i64,
        #[arg(long)]
        agent: String,
        #[arg(long)]
        user: String,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Fold a record made twice into the one that carries on
    Merge {
        id: i64,
        #[arg(long)]
        into: i64,
        #[command(flatten)]
        api: ApiArgs,
    },
}

#[derive(clap::Args, Debug, Clone)]
pub struct PersonFields {
    #[arg(long)]
    pub email: Option<String>,
    #[arg(long)]
    pub phone: Option<String>,
    #[arg(long)]
    pub department: Option<String>,
}

#[derive(Subcommand)]
pub enum CategoryCmd {
    /// The categories and subcategories, retired ones marked
    List {
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Add a category, or a subcategory with --parent (admins)
    Add {
        name: String,
        #[arg(long)]
        parent: Option<String>,
        #[arg(long)]
        label: Option<String>,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Stop offering a category and its subcategories; tickets keep it (admins)
    Retire {
        name: String,
        #[command(flatten)]
        api: ApiArgs,
    },
}

#[derive(Subcommand)]
pub enum CannedCmd {
    /// Every canned reply with its text
    List {
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Save a canned reply; placeholders: {requester.name}, {requester.email}, {ticket.number}, {ticket.subject},
    /// {ticket.status}, {machine.host}, {technician.name}
    Save {
        name: String,
        text: String,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Delete a canned reply
    Delete {
        name: String,
        #[command(flatten)]
        api: ApiArgs,
    },
}

#[derive(Subcommand)]
pub enum WebhookCmd {
    /// The webhook endpoints, their topics and whether each is enabled
    List {
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Register an endpoint; its signing secret is printed once
    Add {
        /// Where deliveries are posted (https://...; private addresses only if [webhooks] allow lists them)
        #[arg(long)]
        url: String,
        /// Comma-separated: ticket.created, ticket.replied, ticket.status_changed, ticket.assigned, ticket.escalated,
        /// ticket.merged, sla.warning, sla.breach, check.finished, agent.enrolled, agent.revoked, agent.offline; or all
        #[arg(long)]
        events: String,
        /// A secret of your own (whsec_ and base64 of 24 to 64 bytes), e.g. one the receiver was set up with
        #[arg(long)]
        secret: Option<String>,
        /// For agent.offline: how long a silence counts as offline, e.g. 30m or 2h (default 15m)
        #[arg(long)]
        offline_after: Option<String>,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Stop delivering to an endpoint; what waited for it is dropped, its log stays
    Remove {
        id: i64,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Deliver to an endpoint again (after a 410 disabled it, or an admin did); what waited is sent
    Enable {
        id: i64,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Hold deliveries to an endpoint; they wait until it is enabled
    Disable {
        id: i64,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// The delivery log, newest first
    Deliveries {
        #[arg(long)]
        endpoint: Option<i64>,
        /// pending, delivered, failed or dropped
        #[arg(long)]
        state: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: i64,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// One delivery with every attempt
    Delivery {
        id: i64,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Send a delivery again, same webhook-id, from the start of the retry schedule
    Redeliver {
        id: i64,
        #[command(flatten)]
        api: ApiArgs,
    },
}

/// Where the API is and who is asking; each can come from the environment the quickstart prints.
#[derive(clap::Args, Debug, Clone)]
pub struct ApiArgs {
    /// Base URL of the server's API, e.g. https://helpdesk.example.org:7443
    #[arg(long, env = "LIFELINE_API")]
    pub api: String,
    /// Your API token (from `lifeline-server user add`)
    #[arg(long, env = "LIFELINE_TOKEN", hide_env_values = true)]
    pub token: String,
    /// The deployment's CA certificate (the server's pki/ca.pem), the only root trusted for the API
    #[arg(long, env = "LIFELINE_CA")]
    pub ca: PathBuf,
    /// Print the API's JSON instead of a summary
    #[arg(long, global = true)]
    pub json: bool,
}
