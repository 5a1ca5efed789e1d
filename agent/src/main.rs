use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use lifeline_agent::checks::Runner;
use lifeline_agent::collect::Collector;
use lifeline_agent::config::{Config, StateDir};
use lifeline_agent::consent::{Consents, History};
use lifeline_agent::link::Link;
use lifeline_agent::spool::Spool;
use lifeline_agent::tickets::TicketBook;
use lifeline_agent::{HostInfo, enroll, local_api};
use lifeline_shared::token::EnrollToken;
use lifeline_shared::wire::{LocalRequest, LocalResponse, ThreadKind};

/// Lifeline agent: sends this machine's diagnostics to your help desk, and asks it for help.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    /// Where the agent keeps its identity (key, certificate, server)
    #[arg(long, env = "LIFELINE_AGENT_STATE", default_value = "/var/lib/lifeline-agent", global = true)]
    state_dir: PathBuf,
    /// The agent's local socket
    #[arg(long, env = "LIFELINE_AGENT_SOCKET", default_value = "/run/lifeline-agent/agent.sock", global = true)]
    socket: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Enroll this machine with a token from your admin
    Enroll {
        /// The token text (prefer --token-file: a command line is visible to other users)
        #[arg(long, conflicts_with = "token_file", required_unless_present = "token_file")]
        token: Option<String>,
        /// A file holding the token
        #[arg(long)]
        token_file: Option<PathBuf>,
        /// Succeed without doing anything if already enrolled (for provisioning scripts)
        #[arg(long)]
        keep_existing: bool,
    },
    /// Run the agent service (enrolling first with a preseeded token if this machine is not enrolled yet)
    Run {
        /// Policy file
        #[arg(long, env = "LIFELINE_AGENT_CONFIG")]
        config: Option<PathBuf>,
        /// Enrollment token used on first start, deleted once enrolled
        #[arg(long, default_value = enroll::PRESEEDED_TOKEN)]
        token_file: PathBuf,
    },
    /// Ask the help desk for help; a snapshot of this machine goes with it
    RequestHelp {
        #[arg(long)]
        subject: String,
        #[arg(long, default_value = "")]
        description: String,
    },
    /// Show your tickets and their status, or one ticket with the help desk's answers
    Tickets {
        /// The ticket to show
        number: Option<u64>,
    },
    /// Answer the help desk on one of your tickets (reopens it if it was resolved)
    Reply { number: u64, message: String },
    /// Tell the help desk your problem is solved
    Solved { number: u64 },
    /// See, extend or revoke the permission you gave technicians to run checks on this computer
    #[command(subcommand)]
    Consent(ConsentCmd),
    /// Every check a technician asked to run on this computer, and what came of it
    History,
}

#[derive(Subcommand)]
enum ConsentCmd {
    /// Open consent windows and how long each lasts
    List,
    /// End a window now: technicians on that ticket can no longer run checks here
    Revoke { ticket: u64 },
    /// Keep a window open longer (up to 8 hours from now)
    Extend {
        ticket: u64,
        #[arg(long, default_value_t = 60)]
        minutes: u32,
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
    // The daemon is small and mostly idle, so one thread serves it.
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: starting the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(execute(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn execute(cli: Cli) -> Result<()> {
    let state = StateDir(cli.state_dir.clone());
    match cli.command {
        Command::Enroll { token, token_file, keep_existing } => {
            if state.is_enrolled() {
                if keep_existing {
                    println!("already enrolled; keeping the existing identity");
                    return Ok(());
                }
                bail!(
                    "this agent is already enrolled (state in {}); it keeps its identity until a new one is in hand, \
                     so remove that directory first to enroll again",
                    cli.state_dir.display()
                );
            }
            let text = match (token, token_file) {
                (Some(t), _) => t,
                (None, Some(path)) => {
                    std::fs::read_to_string(&path).with_context(|| format!("reading token file {}", path.display()))?
                }
                (None, None) => bail!("give --token or --token-file"),
            };
            let token = EnrollToken::parse(&text)?;
            let identity = enroll::enroll(&token, &state, &HostInfo::read()).await?;
            println!("enrolled as {} with {}", identity.agent_id, identity.server);
            Ok(())
        }
        Command::Run { config, token_file } => {
            let config = Config::load(config.as_deref())?;
            let shutdown = lifeline_net::process::shutdown_signal();
            tokio::pin!(shutdown);
            if !enroll::on_first_start(&token_file, &state, &HostInfo::read(), &mut shutdown).await {
                return Ok(());
            }
            let (identity, tls, ca) = state.load()?;
            let collector = Collector::new(config.collect(&identity.server));
            let spool = Spool::open(&state.spool_dir(), config.spool_max_bytes())?;
            let listener = local_api::bind(&cli.socket)?;
            tracing::info!(
                version = env!("CARGO_PKG_VERSION"),
                agent_id = %identity.agent_id,
                server = %identity.server,
                socket = %cli.socket.display(),
                "lifeline-agent started"
            );
            let (calls_tx, calls_rx) = tokio::sync::mpsc::channel(16);
            let (events, _) = tokio::sync::broadcast::channel(64);
            let history = History::new(&state.history_path(), events.clone());
            let runner = Runner::new(config.clone(), Consents::open(&state.consent_path()), history);
            let book = Mutex::new(TicketBook::open(&state.tickets_path()));
            let link = Link {
                state,
                identity,
                tls,
                ca,
                config,
                host: HostInfo::read(),
                runner: Arc::new(runner),
                events: events.clone(),
                book,
            };
            let local = tokio::spawn(local_api::serve(listener, calls_tx, events));
            let result = link.run(collector, spool, calls_rx, shutdown).await;
            local.abort();
            let _ = std::fs::remove_file(&cli.socket);
            tracing::info!("lifeline-agent stopped");
            result
        }
        Command::RequestHelp { subject, description } => {
            if subject.trim().is_empty() {
                bail!("--subject must say in a few words what is wrong");
            }
            match local_api::call(&cli.socket, &LocalRequest::Help { subject, description }).await? {
                LocalResponse::HelpAccepted { ticket } => {
                    println!("Your request is ticket #{ticket}. A technician will get back to you.");
                    println!("Follow it with: lifeline-agent tickets");
                    Ok(())
                }
                LocalResponse::HelpQueued => {
                    println!("The help desk cannot be reached right now. Your request is saved on this computer,");
                    println!("with a snapshot of it, and will be sent as soon as the connection is back.");
                    Ok(())
                }
                LocalResponse::Error { message } => bail!("{message}"),
                other => bail!("unexpected answer from the agent: {other:?}"),
            }
        }
        Command::Tickets { number: Some(number) } => {
            match local_api::call(&cli.socket, &LocalRequest::Ticket { number }).await? {
                LocalResponse::Ticket(t) => {
                    println!("Ticket #{}: {}  [{}]", t.summary.number, t.summary.subject, t.summary.status);
                    for e in t.entries {
                        let when = lifeline_agent::utc(e.at_ms);
                        match e.kind {
                            ThreadKind::Reply { author, text } => println!("\n{when}  {author} (help desk):\n{text}"),
                            ThreadKind::Answer { text } => println!("\n{when}  you:\n{text}"),
                            ThreadKind::Status { status } => println!("\n{when}  status is now {status}"),
                        }
                    }
                    Ok(())
                }
                LocalResponse::Error { message } => bail!("{message}"),
                other => bail!("unexpected answer from the agent: {other:?}"),
            }
        }
        Command::Reply { number, message } => {
            saved(local_api::call(&cli.socket, &LocalRequest::Reply { ticket: number, text: message }).await?)
        }
        Command::Solved { number } => {
            saved(local_api::call(&cli.socket, &LocalRequest::Solved { ticket: number }).await?)
        }
        Command::Tickets { number: None } => match local_api::call(&cli.socket, &LocalRequest::Tickets).await? {
            LocalResponse::Tickets(list) if list.is_empty() => {
                println!("You have no tickets.");
                Ok(())
            }
            LocalResponse::Tickets(list) => {
                println!("{:>6}  {:<13} SUBJECT", "#", "STATUS");
                for t in list {
                    println!("{:>6}  {:<13} {}", t.number, t.status, t.subject);
                }
                Ok(())
            }
            LocalResponse::Error { message } => bail!("{message}"),
            other => bail!("unexpected answer from the agent: {other:?}"),
        },
        Command::Consent(cmd) => {
            let request = match cmd {
                ConsentCmd::List => LocalRequest::Consents,
                ConsentCmd::Revoke { ticket } => LocalRequest::RevokeConsent { ticket },
                ConsentCmd::Extend { ticket, minutes } => LocalRequest::ExtendConsent { ticket, minutes },
            };
            match local_api::call(&cli.socket, &request).await? {
                LocalResponse::Consents { windows, unattended_class_a } => {
                    if unattended_class_a {
                        println!("This computer's policy lets technicians run read-only checks at any time.");
                    }
                    if windows.is_empty() {
                        println!("No consent window is open: technicians cannot run checks for any ticket.");
                    }
                    let now = lifeline_agent::now_ms();
                    for w in windows {
                        let minutes = w.until_ms.saturating_sub(now).div_ceil(60_000);
                        println!("ticket #{}  opened by {}  {minutes} minute(s) left", w.ticket, w.user);
                    }
                    Ok(())
                }
                LocalResponse::Done { message } => {
                    println!("{message}");
                    Ok(())
                }
                LocalResponse::Error { message } => bail!("{message}"),
                other => bail!("unexpected answer from the agent: {other:?}"),
            }
        }
        Command::History => match local_api::call(&cli.socket, &LocalRequest::History).await? {
            LocalResponse::History(list) if list.is_empty() => {
                println!("No technician has asked to run a check on this computer.");
                Ok(())
            }
            LocalResponse::History(list) => {
                for h in list {
                    let ticket = h.ticket.map_or_else(|| "no ticket".to_owned(), |t| format!("ticket #{t}"));
                    println!(
                        "{}  {}  {ticket}  {}: {}",
                        lifeline_agent::utc(h.at_ms),
                        h.technician,
                        h.check,
                        h.outcome
                    );
                }
                Ok(())
            }
            LocalResponse::Error { message } => bail!("{message}"),
            other => bail!("unexpected answer from the agent: {other:?}"),
        },
    }
}

fn saved(answer: LocalResponse) -> Result<()> {
    match answer {
        LocalResponse::Saved { delivered: true } => println!("Sent to the help desk."),
        LocalResponse::Saved { delivered: false } => {
            println!("The help desk cannot be reached right now; this is saved and goes out when it can.")
        }
        LocalResponse::Error { message } => bail!("{message}"),
        other => bail!("unexpected answer from the agent: {other:?}"),
    }
    Ok(())
}
