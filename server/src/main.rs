use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result, anyhow, bail};
use clap::{Parser, Subcommand};
use lifeline_net::tls::write_private;
use lifeline_server::client::{self, ApiArgs, Client};
use lifeline_server::config::{Config, ConfigError, Overrides};
use lifeline_server::pki::CaKey;
use lifeline_server::store::backup::{self, CONFIG_FILE};
use lifeline_server::store::{agents, audit, auth, now_ms};
use lifeline_shared::token::EnrollToken;
use serde_json::json;

/// Lifeline server: agents connect over QUIC, technicians use the HTTPS API.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Where the server keeps its state; for the commands that work on this machine's server.
#[derive(clap::Args, Clone)]
struct Local {
    /// TOML configuration file (see packaging/server.toml)
    #[arg(long, env = "LIFELINE_SERVER_CONFIG")]
    config: Option<PathBuf>,
    /// Directory for the database and the CA (default: ./lifeline-data)
    #[arg(long, env = "LIFELINE_DATA_DIR")]
    data_dir: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Command {
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
    /// Approved checks on agents (through the API)
    #[command(subcommand)]
    Check(CheckCmd),
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
enum StatsCmd {
    /// How often self-help advice was shown, and how often it solved the problem without a request
    SelfHelp {
        /// Over the last N days
        #[arg(long, default_value_t = 30)]
        days: u32,
        #[command(flatten)]
        api: ApiArgs,
    },
}

#[derive(Subcommand)]
enum CheckCmd {
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
enum AuditCmd {
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
enum UserCmd {
    /// Create an account and print its password and API token (shown once)
    Add {
        name: String,
        /// 1, 2, 3, admin or auditor
        #[arg(long)]
        tier: String,
        #[command(flatten)]
        local: Local,
    },
    /// Change an account's role
    SetRole {
        name: String,
        /// 1, 2, 3, admin or auditor
        #[arg(long)]
        tier: String,
        #[command(flatten)]
        local: Local,
    },
}

#[derive(Subcommand)]
enum TokenCmd {
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
enum AgentCmd {
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
enum TicketCmd {
    /// List tickets, newest first
    List {
        /// new, open, pending-user, resolved or closed
        #[arg(long)]
        status: Option<String>,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Show a ticket: findings, snapshot summary and history
    Show {
        number: u64,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Add a public reply (the user sees it)
    Reply {
        number: u64,
        text: String,
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
    /// Change status: open, pending-user, resolved, closed
    Status {
        number: u64,
        status: String,
        #[arg(long)]
        reason: Option<String>,
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

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { ExitCode::from(64) } else { ExitCode::SUCCESS };
        }
    };
    lifeline_net::logging::init("info");
    match execute(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            if e.downcast_ref::<ConfigError>().is_some() { ExitCode::from(78) } else { ExitCode::FAILURE }
        }
    }
}

fn load(local: &Local, overrides: Overrides) -> Result<Config> {
    let overrides = Overrides { data_dir: local.data_dir.clone(), ..overrides };
    Ok(Config::load(local.config.as_deref(), overrides)?)
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the async runtime")
}

fn execute(command: Command) -> Result<()> {
    match command {
        Command::Serve { local, quic, api } => {
            let config = load(&local, Overrides { quic_listen: quic, api_listen: api, ..Overrides::default() })?;
            let state = Arc::new(lifeline_server::prepare(config)?);
            runtime()?.block_on(async {
                let bound = lifeline_server::bind(&state).await?;
                tracing::info!(
                    version = env!("CARGO_PKG_VERSION"),
                    data_dir = %state.config.data_dir.display(),
                    "lifeline-server started"
                );
                // Tests and scripts wait for these exact lines to learn the bound ports.
                println!("quic listening on {}", bound.quic_addr()?);
                println!("api listening on https://{}", bound.api_addr()?);
                lifeline_server::run(state, bound, lifeline_server::shutdown_signal()).await
            })
        }
        Command::Quickstart { data_dir, port } => runtime()?.block_on(lifeline_server::quickstart::run(data_dir, port)),
        Command::Login { user, api, ca } => client::login(&api, &ca, &user, &client::read_password()?),
        Command::User(UserCmd::Add { name, tier, local }) => {
            let role = parse_role(&tier)?;
            let state = lifeline_server::prepare(load(&local, Overrides::default())?)?;
            let password = auth::random_secret(15);
            let (user, token) = runtime()?.block_on(state.store.write(move |c| {
                let user = c.add_user(&name, role, &password, now_ms())?;
                let token = c.issue_api_token(&user, now_ms(), None)?;
                Ok((user, (password, token)))
            }))?;
            println!("created {} ({})", user.name, user.role.as_str());
            println!("password:  {}", token.0);
            println!("API token: {}", token.1);
            println!("(both are shown only now)");
            Ok(())
        }
        Command::Token(TokenCmd::Create { expires, uses, label, server, local }) => {
            let config = load(&local, Overrides { advertise: server, ..Overrides::default() })?;
            let lifetime = parse_duration(&expires)?;
            if uses == 0 {
                bail!("--uses must be at least 1");
            }
            let Some(server) = config.advertise.clone() else {
                return Err(ConfigError::Invalid(
                    "no server address for the token: pass --server host:port or set advertise in the config".into(),
                )
                .into());
            };
            let state = lifeline_server::prepare(config)?;
            let token = runtime()?.block_on(state.store.write(move |c| {
                let now = now_ms();
                c.create_enrollment_token(now, now + lifetime, uses, &label)
            }))?;
            let text =
                EnrollToken { server, ca_fingerprint: state.pki.ca_fingerprint(), secret: token.secret }.encode();
            eprintln!("token {} valid for {expires}, {uses} use(s):", token.id);
            println!("{text}");
            Ok(())
        }
        Command::BulkEnroll { count, out, local } => {
            if count == 0 {
                bail!("--count must be at least 1");
            }
            let state = lifeline_server::prepare(load(&local, Overrides::default())?)?;
            let ca = state.config.pki_dir().join("ca.pem");
            let mut bundle = std::fs::read_to_string(&ca).with_context(|| format!("reading {}", ca.display()))?;
            let started = std::time::Instant::now();
            let mut rows = Vec::with_capacity(count as usize);
            for _ in 0..count {
                let id = agents::new_id();
                let (cert, key, fingerprint) = state.pki.issue_simulated_agent(&id)?;
                bundle.push_str(&cert);
                bundle.push_str(&key);
                rows.push((id, hex::encode(fingerprint)));
            }
            // The file first: a path that cannot be written leaves no agents without keys behind.
            write_private(&out, bundle.as_bytes()).with_context(|| format!("writing {}", out.display()))?;
            runtime()?.block_on(state.store.write(move |c| c.insert_simulated_agents(&rows, now_ms())))?;
            println!(
                "enrolled {count} simulated agents in {:.1} s; identities in {}",
                started.elapsed().as_secs_f64(),
                out.display()
            );
            Ok(())
        }
        Command::Agent(AgentCmd::List { api }) => {
            let c = Client::new(&api)?;
            c.print(&c.get("/api/agents")?, client::agents_table);
            Ok(())
        }
        Command::Agent(AgentCmd::Show { id, api }) => {
            let c = Client::new(&api)?;
            c.print(&c.get(&format!("/api/agents/{id}"))?, client::agent_view);
            Ok(())
        }
        Command::Agent(AgentCmd::Watch { id, interval_ms, count, api }) => {
            let c = Client::new(&api)?;
            let mut seen = 0u64;
            // Samples carry findings only when they change: the view keeps showing the last ones.
            let mut findings = serde_json::Value::Null;
            let _screen = if c.json { None } else { client::Screen::enter() };
            c.follow(&format!("/api/agents/{id}/live?interval_ms={interval_ms}"), |data| {
                let sample: serde_json::Value = serde_json::from_str(data).context("a live sample that is not JSON")?;
                if !sample["findings"].is_null() {
                    findings = sample["findings"].clone();
                }
                if c.json {
                    println!("{sample}");
                } else {
                    // Home and clear, then the whole view: refreshes in place on any terminal.
                    print!("\x1b[H\x1b[2J{}", client::live_view(&id, &sample, &findings));
                }
                std::io::Write::flush(&mut std::io::stdout())?;
                seen += 1;
                Ok(count.is_none_or(|n| seen < n))
            })
        }
        Command::Agent(AgentCmd::Revoke { id, api }) => {
            let c = Client::new(&api)?;
            let v = c.post(&format!("/api/agents/{id}/revoke"), None)?;
            c.print(&v, |_| format!("agent {id} revoked; the server refuses it from now on\n"));
            Ok(())
        }
        Command::User(UserCmd::SetRole { name, tier, local }) => {
            let role = parse_role(&tier)?;
            let state = lifeline_server::prepare(load(&local, Overrides::default())?)?;
            let who = name.clone();
            let old = runtime()?.block_on(state.store.write(move |c| c.set_role(&who, role, now_ms())))?;
            println!("{name}: {} -> {}", old.as_str(), role.as_str());
            Ok(())
        }
        Command::Ticket(cmd) => ticket(cmd),
        Command::Check(cmd) => check(cmd),
        Command::Audit(cmd) => audit(cmd),
        Command::Stats(StatsCmd::SelfHelp { days, api }) => {
            let c = Client::new(&api)?;
            c.print(&c.get(&format!("/api/stats/self-help?days={days}"))?, client::self_help_view);
            Ok(())
        }
        Command::Backup { out, local } => {
            let written = backup::backup(&load(&local, Overrides::default())?, local.config.as_deref(), &out)?;
            println!("backed up into {}:", out.display());
            written.iter().for_each(|f| println!("  {}", f.display()));
            Ok(())
        }
        Command::Restore { from, data_dir } => {
            let written = backup::restore(&from, &data_dir)?;
            println!("restored into {}:", data_dir.display());
            written.iter().for_each(|f| println!("  {}", f.display()));
            if data_dir.join(CONFIG_FILE).is_file() {
                println!("the backup's configuration is {CONFIG_FILE} there: check its data_dir before using it");
            }
            println!("start a server on it: lifeline-server serve --data-dir {}", data_dir.display());
            Ok(())
        }
    }
}

fn parse_role(tier: &str) -> Result<lifeline_server::desk::access::Role> {
    lifeline_server::desk::access::Role::parse(tier)
        .with_context(|| format!("--tier must be 1, 2, 3, admin or auditor, not {tier:?}"))
}

fn check(cmd: CheckCmd) -> Result<()> {
    match cmd {
        CheckCmd::List { api } => {
            let c = Client::new(&api)?;
            c.print(&c.get("/api/catalog")?, client::catalog_table);
        }
        CheckCmd::Run { agent, check, params, ticket, expires, no_wait, api } => {
            let mut map = serde_json::Map::new();
            for p in &params {
                let (k, v) = p.split_once('=').with_context(|| format!("parameter {p:?} is not key=value"))?;
                if map.insert(k.to_owned(), json!(v)).is_some() {
                    bail!("parameter {k:?} given twice");
                }
            }
            let minutes = u32::try_from(parse_duration(&expires)? / 60_000).unwrap_or(u32::MAX);
            let c = Client::new(&api)?;
            let body = json!({ "check": check, "params": map, "ticket": ticket, "expires_minutes": minutes });
            let mut run = c.post(&format!("/api/agents/{agent}/checks"), Some(body))?;
            let id = run["id"].as_i64().unwrap_or(0);
            // A sent run is waited for past any check's time limit; a queued one only briefly, since it may be
            // waiting for an agent that is offline.
            let started = std::time::Instant::now();
            loop {
                let patience = match run["state"].as_str() {
                    _ if no_wait => 0,
                    Some("sent") => 30,
                    Some("queued") => 3,
                    _ => 0,
                };
                if started.elapsed() >= std::time::Duration::from_secs(patience) {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(200));
                run = c.get(&format!("/api/checks/{id}"))?;
            }
            c.print(&run, client::check_run_view);
            match run["state"].as_str() {
                Some("done" | "queued" | "sent") => {}
                Some(state) => bail!("check {state}"),
                None => bail!("the server's answer has no state"),
            }
        }
        CheckCmd::Show { id, api } => {
            let c = Client::new(&api)?;
            c.print(&c.get(&format!("/api/checks/{id}"))?, client::check_run_view);
        }
    }
    Ok(())
}

fn audit(cmd: AuditCmd) -> Result<()> {
    match cmd {
        AuditCmd::Verify { file, checkpoints, api, token, ca, json } => {
            // Their signatures first: a forged checkpoint says nothing about the chain.
            let checkpoints = match checkpoints {
                Some(path) => {
                    let ca =
                        ca.as_deref().context("give --ca, the deployment's CA certificate, to check checkpoints")?;
                    Some((signed_checkpoints(&path, ca)?, path))
                }
                None => None,
            };
            let listed = checkpoints.as_ref().map_or(&[][..], |(listed, _)| listed.as_slice());
            let verdict = match (file, api, token, ca) {
                (Some(file), ..) => serde_json::to_value(audit::verify_against(exported(&file)?, listed))?,
                (None, Some(api), Some(token), Some(ca)) => {
                    let c = Client::new(&ApiArgs { api, token, ca, json })?;
                    // With checkpoints, the chain is fetched and checked here: the server's verdict has no hashes
                    // to hold them against.
                    match checkpoints {
                        None => c.get("/api/audit/verify")?,
                        Some(_) => serde_json::to_value(audit::verify_against(all_entries(&c)?, listed))?,
                    }
                }
                _ => bail!("give --file, or the API address, token and CA"),
            };
            if json {
                println!("{verdict:#}");
            } else {
                print!("{}", client::audit_verdict(&verdict));
            }
            if !verdict["broken"].is_null() {
                bail!("the audit log has been tampered with");
            }
            if let Some((listed, path)) = checkpoints.filter(|_| !json) {
                let newest = listed.iter().map(|l| l.checkpoint.seq).max().unwrap_or(0);
                println!(
                    "{} checkpoints in {} agree with it, the newest at entry {newest}",
                    listed.len(),
                    path.display()
                );
            }
        }
        AuditCmd::Checkpoint { out, local } => {
            let config = load(&local, Overrides::default())?;
            if !config.db_path().is_file() {
                bail!("no server data in {}: give the server's --data-dir or --config", config.data_dir.display());
            }
            let state = lifeline_server::prepare(config)?;
            let file = out.unwrap_or_else(|| state.config.checkpoint_file());
            let c = runtime()?.block_on(lifeline_server::service::audit::take_checkpoint(&state, &file))?;
            println!("checkpoint of entry {} (head {}) appended to {}", c.seq, c.hash, file.display());
        }
        AuditCmd::Export { out, api } => {
            let c = Client::new(&api)?;
            let mut sink: Box<dyn std::io::Write> = match &out {
                Some(path) => {
                    Box::new(std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?)
                }
                None => Box::new(std::io::stdout().lock()),
            };
            let mut after = 0;
            loop {
                let page = c.get(&format!("/api/audit?after={after}&limit=1000"))?;
                let entries = page.as_array().cloned().unwrap_or_default();
                let Some(last) = entries.last() else { break };
                after = last["seq"].as_i64().context("audit entry without seq")?;
                for e in &entries {
                    writeln!(sink, "{e}")?;
                }
            }
            sink.flush()?;
        }
    }
    Ok(())
}

/// An exported log, one entry a line.
fn exported(file: &std::path::Path) -> Result<Vec<audit::Entry>> {
    let text = std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let mut entries = Vec::new();
    for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        entries.push(serde_json::from_str(line).with_context(|| format!("line {} of {}", i + 1, file.display()))?);
    }
    Ok(entries)
}

/// The whole log through the API, a page at a time.
fn all_entries(c: &Client) -> Result<Vec<audit::Entry>> {
    let mut entries: Vec<audit::Entry> = Vec::new();
    loop {
        let after = entries.last().map_or(0, |e| e.seq);
        let page: Vec<audit::Entry> = serde_json::from_value(c.get(&format!("/api/audit?after={after}&limit=1000"))?)
            .context("an audit page that is not a list of entries")?;
        if page.is_empty() {
            return Ok(entries);
        }
        entries.extend(page);
    }
}

/// The checkpoints in `path`, once each is known to be signed by the CA in `ca`.
fn signed_checkpoints(path: &std::path::Path, ca: &std::path::Path) -> Result<Vec<audit::Listed>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let listed = audit::parse_checkpoints(&text).map_err(|e| anyhow!("{}: {e}", path.display()))?;
    if listed.is_empty() {
        bail!("{} holds no checkpoint", path.display());
    }
    let pem = std::fs::read_to_string(ca).with_context(|| format!("reading {}", ca.display()))?;
    let key = CaKey::from_pem(&pem).with_context(|| format!("reading {}", ca.display()))?;
    audit::check_signatures(&listed, &key).map_err(|e| anyhow!("{}: {e}", path.display()))?;
    Ok(listed)
}

fn ticket(cmd: TicketCmd) -> Result<()> {
    match cmd {
        TicketCmd::List { status, api } => {
            let c = Client::new(&api)?;
            let path = match status {
                Some(s) => format!("/api/tickets?status={s}"),
                None => "/api/tickets".into(),
            };
            c.print(&c.get(&path)?, client::tickets_table);
        }
        TicketCmd::Show { number, api } => {
            let c = Client::new(&api)?;
            c.print(&c.get(&format!("/api/tickets/{number}"))?, client::ticket_view);
        }
        TicketCmd::Reply { number, text, api } => {
            client::action(&Client::new(&api)?, number, json!({ "action": "reply", "body": text }))?
        }
        TicketCmd::Note { number, text, api } => {
            client::action(&Client::new(&api)?, number, json!({ "action": "note", "body": text }))?
        }
        TicketCmd::Assign { number, user, api } => {
            client::action(&Client::new(&api)?, number, json!({ "action": "assign", "to": user }))?
        }
        TicketCmd::Status { number, status, reason, api } => client::action(
            &Client::new(&api)?,
            number,
            json!({ "action": "status", "status": status, "reason": reason }),
        )?,
        TicketCmd::Refresh { number, api } => {
            let c = Client::new(&api)?;
            let snapshots = |t: &serde_json::Value| -> Vec<String> {
                t["events"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|e| e["kind"] == "snapshot_attached")
                    .filter_map(|e| e["snapshot_id"].as_str().map(str::to_owned))
                    .collect()
            };
            let before = snapshots(&c.get(&format!("/api/tickets/{number}"))?);
            c.post(&format!("/api/tickets/{number}/refresh"), None)?;
            let started = std::time::Instant::now();
            let latest = loop {
                let now = snapshots(&c.get(&format!("/api/tickets/{number}"))?);
                if now.len() > before.len() {
                    break now.last().cloned().unwrap_or_default();
                }
                if started.elapsed() > std::time::Duration::from_secs(30) {
                    bail!(
                        "asked the agent for a snapshot, but none arrived within 30 s; it will be attached when it does"
                    );
                }
                std::thread::sleep(std::time::Duration::from_millis(250));
            };
            match before.last() {
                Some(previous) => {
                    let diff = c.get(&format!("/api/tickets/{number}/diff?from={previous}&to={latest}"))?;
                    c.print(&diff, client::diff_view);
                }
                None => println!("snapshot {latest} attached to ticket #{number}"),
            }
        }
        TicketCmd::Diff { number, from, to, api } => {
            let c = Client::new(&api)?;
            let mut query = Vec::new();
            if let Some(from) = from {
                query.push(format!("from={from}"));
            }
            if let Some(to) = to {
                query.push(format!("to={to}"));
            }
            let diff = c.get(&format!("/api/tickets/{number}/diff?{}", query.join("&")))?;
            c.print(&diff, client::diff_view);
        }
        TicketCmd::Escalate { number, tier, reason, api } => client::action(
            &Client::new(&api)?,
            number,
            json!({ "action": "escalate", "tier": tier, "reason": reason }),
        )?,
    }
    Ok(())
}

/// `30m`, `24h`, `7d` to milliseconds.
fn parse_duration(text: &str) -> Result<i64> {
    let (digits, unit) = text.split_at(text.len().saturating_sub(1));
    let n: i64 = digits.parse().with_context(|| format!("duration {text:?} is not like 30m, 24h or 7d"))?;
    let unit_ms = match unit {
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => bail!("duration {text:?} needs a unit: m, h or d"),
    };
    if n <= 0 || n > 365 * 86_400_000 / unit_ms {
        bail!("duration {text:?} must be positive and at most a year");
    }
    Ok(n * unit_ms)
}
