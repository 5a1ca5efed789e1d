//! `lifeline-swarm`: many simulated agents from one process, for load tests of a real server. Each agent has its
//! own certificate (from `lifeline-server bulk-enroll`) and its own QUIC connection, and speaks the real protocol
//! through `lifeline-shared`'s codec and `lifeline-net`. Prints what it saw as text, then as one JSON line.
//!
//! # Layout
//! - [`identities`]: reading the file of agent certificates and keys.
//! - [`sim`]: one simulated agent: connect, hello, heartbeats, snapshots, help requests, live samples, reconnect.
//! - [`fleet`]: what all agents saw (connections, acknowledgements and their latencies, outages) and the report.
//!
//! Milestones are printed as they happen, for whoever drives the run: `all N connected in S s`, `ramp: C of N
//! connected, F failed, in S s` once every agent's first attempt ended, and `all N back S s after the first drop`
//! after an outage such as a server restart.

mod fleet;
mod identities;
mod sim;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Parser;
use lifeline_agent::collect::Collector;
use lifeline_agent::now_ms;
use tokio::sync::watch;

/// Simulates many Lifeline agents from one process against a real server, and reports what they saw.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    /// The file `lifeline-server bulk-enroll` wrote
    #[arg(long)]
    identities: PathBuf,
    /// The server's QUIC address, host:port
    #[arg(long)]
    server: String,
    /// How many agents to run (default: one per identity in the file)
    #[arg(long)]
    agents: Option<usize>,
    /// New connections per second while ramping up
    #[arg(long, default_value_t = 500.0)]
    connect_rate: f64,
    /// Seconds to run after the ramp; 0 runs until Ctrl-C or SIGTERM
    #[arg(long, default_value_t = 60.0)]
    duration: f64,
    /// Seconds between one agent's snapshots; 0 sends the next as soon as the previous one is acknowledged
    #[arg(long, default_value_t = 300.0)]
    snapshot_every: f64,
    /// Help requests per minute across the whole swarm
    #[arg(long, default_value_t = 1.0)]
    help_per_min: f64,
    /// UDP sockets the connections are spread over
    #[arg(long, default_value_t = 4)]
    sockets: usize,
}

fn main() -> ExitCode {
    lifeline_net::logging::init("warn");
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build();
    match runtime.context("starting the async runtime").and_then(|rt| rt.block_on(run(cli))) {
        Ok(report) => {
            print!("{}", report.text());
            match serde_json::to_string(&report) {
                Ok(json) => println!("{json}"),
                Err(e) => eprintln!("error: {e}"),
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn seconds(flag: &str, value: f64) -> Result<Duration> {
    Duration::try_from_secs_f64(value).with_context(|| format!("--{flag} must be a number of seconds, not {value}"))
}

async fn run(cli: Cli) -> Result<fleet::Report> {
    let (duration, snapshot_every) =
        (seconds("duration", cli.duration)?, seconds("snapshot-every", cli.snapshot_every)?);
    if !(cli.connect_rate > 0.0 && cli.help_per_min >= 0.0 && cli.sockets > 0) {
        bail!("--connect-rate and --sockets must be positive, --help-per-min at least 0");
    }
    let pem = std::fs::read(&cli.identities).with_context(|| format!("reading {}", cli.identities.display()))?;
    let identities = identities::parse(&pem).with_context(|| format!("reading {}", cli.identities.display()))?;
    let agents = cli.agents.unwrap_or(identities.agents.len());
    if agents == 0 || agents > identities.agents.len() {
        bail!("--agents must be between 1 and the {} identities in the file", identities.agents.len());
    }
    let server = lifeline_agent::link::resolve(&cli.server).await?;

    // One real snapshot and one real live sample of this machine, as the agent takes them.
    let mut collector = Collector::new(lifeline_agent::config::Config::default().collect(&cli.server));
    let snapshot = collector.snapshot(rand::random(), now_ms()).await;
    let sample = collector.live(1, now_ms(), false);

    let sockets = (0..cli.sockets).map(|_| endpoint(server)).collect::<Result<Vec<_>>>()?;
    let (stop, stopping) = watch::channel(false);
    let help_every = match cli.help_per_min {
        0.0 => None,
        rate => Some(seconds("help-per-min", agents as f64 * 60.0 / rate)?),
    };
    let swarm = Arc::new(sim::Swarm {
        server,
        ca: identities.ca,
        snapshot,
        sample,
        snapshot_every,
        help_every,
        fleet: fleet::Fleet::new(agents),
        stopping,
    });

    let mut tasks = tokio::task::JoinSet::new();
    let ramp = async {
        let mut pace = tokio::time::interval(seconds("connect-rate", 1.0 / cli.connect_rate)?);
        for (i, identity) in identities.agents.into_iter().take(agents).enumerate() {
            pace.tick().await;
            tasks.spawn(sim::agent(swarm.clone(), identity, sockets[i % sockets.len()].clone()));
        }
        swarm.fleet.ramped.notified().await;
        if duration.is_zero() {
            std::future::pending::<()>().await;
        }
        tokio::time::sleep(duration).await;
        anyhow::Ok(())
    };
    tokio::select! {
        result = ramp => result?,
        () = lifeline_net::process::shutdown_signal() => {}
    }

    let report = swarm.fleet.stop();
    stop.send_replace(true);
    // Every agent says goodbye, so the server frees its connections at once rather than after an idle timeout.
    let _ = tokio::time::timeout(Duration::from_secs(10), async { while tasks.join_next().await.is_some() {} }).await;
    for socket in &sockets {
        let _ = tokio::time::timeout(Duration::from_secs(2), socket.wait_idle()).await;
    }
    Ok(report)
}

/// A client endpoint whose socket has room for the bursts many connections make.
fn endpoint(server: std::net::SocketAddr) -> Result<quinn::Endpoint> {
    let local = if server.is_ipv6() { "[::]:0" } else { "0.0.0.0:0" };
    let socket = lifeline_net::udp::bind(local.parse()?).context("opening a UDP socket")?;
    let runtime = Arc::new(quinn::TokioRuntime);
    quinn::Endpoint::new(quinn::EndpointConfig::default(), None, socket, runtime).context("opening a QUIC endpoint")
}
