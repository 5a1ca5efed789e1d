//! `cargo bench -p lifeline-tests --bench lifeline`: the figures that say whether Lifeline is light and fast, each
//! next to a baseline measured in the same run on the same machine, because shared machines are too noisy for
//! absolute numbers to mean much. Prints one table; BENCHMARKS.md explains each row and records past runs.
//!
//! `LIFELINE_BENCH_IDLE_SECS` sets how long the idle footprint is watched (default 60), `LIFELINE_BENCH_MAX_AGENTS`
//! the largest step of the server's capacity (default 20000; steps of 1k, 5k, 10k, 20k, 40k ...), and
//! `LIFELINE_BENCH_LOAD_SECS` how long the ingest load runs besides the live measurement (default 20).
//! `LIFELINE_BENCH_SMOKE=1` runs every row with a handful of agents for a few seconds, to keep the runner working.
//! `cargo bench -p lifeline-tests --bench lifeline -- tickets` runs the ticket list and show rows alone (`desk.rs`,
//! which says how to size them), and the statistics reports' rows on the same store (`reports.rs`); `-- reports`
//! runs the reports' rows alone; `-- mail` the inbound mail row (a mailbox of 10,000 messages, 200 in the smoke run)
//! and `-- webhooks` the ingest rows with and without webhook endpoints.

// A benchmark states what it needs by panicking when it cannot have it, as the tests do.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod console;
mod desk;
mod desktop;
#[allow(dead_code)]
#[path = "../e2e/dovecot.rs"]
mod dovecot;
#[allow(dead_code)]
#[path = "../e2e/harness.rs"]
mod harness;
mod mail;
mod reports;
mod webhooks;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use harness::{Agent, Proc, Server, bin, field, server_cmd, status_kib, swarm};
use lifeline_agent::collect::Collector;
use lifeline_agent::config::Config;

const NODE_EXPORTER: &str = "/usr/bin/prometheus-node-exporter";
/// Clock ticks per second of /proc's CPU times on Linux.
const TICKS_PER_SEC: f64 = 100.0;

struct Row {
    figure: String,
    value: f64,
    unit: &'static str,
    baseline: Option<f64>,
    against: String,
}

/// How big and how long, from the environment.
struct Settings {
    idle_secs: u64,
    /// Idle agents per capacity step.
    steps: Vec<usize>,
    load_secs: u64,
    /// Agents that upload back to back during the ingest figure.
    ingest_agents: usize,
    /// New connections per second while a swarm ramps up.
    connect_rate: usize,
    /// Old snapshots each ingest agent has when the load with retention starts.
    old_per_agent: usize,
    /// Messages in the mailbox the inbound mail row reads.
    mailbox: usize,
}

impl Settings {
    fn from_env() -> Settings {
        let var = |name: &str| std::env::var(name).ok().and_then(|s| s.parse::<u64>().ok());
        if std::env::var_os("LIFELINE_BENCH_SMOKE").is_some() {
            return Settings {
                idle_secs: 1,
                steps: vec![20],
                load_secs: 2,
                ingest_agents: 20,
                connect_rate: 100,
                old_per_agent: 100,
                mailbox: 200,
            };
        }
        let max = var("LIFELINE_BENCH_MAX_AGENTS").unwrap_or(20_000) as usize;
        let mut steps: Vec<usize> =
            [1_000, 5_000].into_iter().chain((0..).map(|i| 10_000 << i)).take_while(|&n| n <= max).collect();
        if steps.is_empty() {
            steps.push(max.max(1));
        }
        Settings {
            idle_secs: var("LIFELINE_BENCH_IDLE_SECS").unwrap_or(60),
            steps,
            load_secs: var("LIFELINE_BENCH_LOAD_SECS").unwrap_or(20),
            ingest_agents: 500,
            connect_rate: 1_000,
            old_per_agent: 200,
            mailbox: 10_000,
        }
    }
}

fn main() {
    // `cargo bench` passes `--bench`. `-- tickets` runs the ticket rows alone: they need no server process, and at
    // full size take minutes of their own.
    if std::env::args().skip(1).any(|a| a == "tickets") {
        print_table(&desk::rows());
        return;
    }
    if std::env::args().skip(1).any(|a| a == "reports") {
        print_table(&reports::rows(&desk::Bench::open()));
        return;
    }
    let settings = Settings::from_env();
    if std::env::args().skip(1).any(|a| a == "mail") {
        print_table(&mail::rows(settings.mailbox));
        return;
    }
    if std::env::args().skip(1).any(|a| a == "webhooks") {
        print_table(&webhooks::rows(&settings));
        return;
    }
    let server = Server::start();
    let mut rows = Vec::new();
    rows.extend(idle_footprint(&server, settings.idle_secs));
    rows.extend(binary_sizes());
    rows.push(desktop::help_size());
    rows.extend(snapshot_collection(&server));
    let agent = Agent::start(&server);
    rows.extend(live_latency(&server, &agent, ""));
    rows.extend(desktop::tray_idle(&agent, settings.idle_secs));
    drop((agent, server));
    // Each load figure on a server of its own, so that none inherits another's rows or connections.
    let (capacity_rows, held) = capacity(&settings);
    rows.extend(capacity_rows);
    let (ingest_rows, without, stored) = ingest(&settings);
    rows.extend(ingest_rows);
    rows.push(ingest_with_retention(&settings, without, &stored));
    rows.extend(webhooks::rows(&settings));
    rows.extend(reconnect_storm(&settings, held));
    rows.extend(mail::rows(settings.mailbox));
    rows.extend(desk::rows());
    print_table(&rows);
}

/// The real agent, connected and idle, next to node-exporter started at the same moment and left alone as long.
fn idle_footprint(server: &Server, secs: u64) -> Vec<Row> {
    let agent = Agent::start(server);
    let baseline = std::path::Path::new(NODE_EXPORTER).exists().then(|| {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut cmd = Command::new(NODE_EXPORTER);
        cmd.arg(format!("--web.listen-address=127.0.0.1:{port}"));
        Proc::spawn("node-exporter", cmd)
    });
    idle_window("agent", agent.proc.as_ref().unwrap(), baseline.as_ref(), secs, "node-exporter")
}

/// RSS, peak RSS and CPU of `proc` and of `baseline` (named `against`), both past their start-up work and then left
/// alone for the same `secs` window.
fn idle_window(subject: &str, proc: &Proc, baseline: Option<&Proc>, secs: u64, against: &str) -> Vec<Row> {
    std::thread::sleep(Duration::from_secs(5));
    let start = (cpu_ticks(proc), baseline.map(cpu_ticks));
    std::thread::sleep(Duration::from_secs(secs));
    let against = format!("{against}, same {secs} s window");
    vec![
        Row {
            figure: format!("{subject} idle RSS"),
            value: proc.rss_kib() as f64 / 1024.0,
            unit: "MiB",
            baseline: baseline.map(|b| b.rss_kib() as f64 / 1024.0),
            against: against.clone(),
        },
        Row {
            figure: format!("{subject} idle peak RSS"),
            value: peak_rss_kib(proc) as f64 / 1024.0,
            unit: "MiB",
            baseline: baseline.map(|b| peak_rss_kib(b) as f64 / 1024.0),
            against: against.clone(),
        },
        Row {
            figure: format!("{subject} idle CPU"),
            value: cpu_pct(cpu_ticks(proc) - start.0, secs),
            unit: "% core",
            baseline: baseline.zip(start.1).map(|(b, s)| cpu_pct(cpu_ticks(b) - s, secs)),
            against,
        },
    ]
}

fn mib(path: &std::path::Path) -> Option<f64> {
    std::fs::metadata(path).map(|m| m.len() as f64 / 1_048_576.0).ok()
}

fn binary_sizes() -> Vec<Row> {
    let baseline = mib(std::path::Path::new(NODE_EXPORTER));
    [("lifeline-agent", "agent binary (stripped)"), ("lifeline-server", "server binary (stripped)")]
        .into_iter()
        .map(|(name, figure)| Row {
            figure: figure.into(),
            value: mib(&bin(name)).unwrap(),
            unit: "MiB",
            baseline,
            against: "node-exporter binary".into(),
        })
        .collect()
}

/// The agent's own collector, cold (first snapshot of a new collector) and warm (later ones), next to sysinfo's
/// `new_all` and `refresh_all`, which read everything the crate can and nothing else.
fn snapshot_collection(server: &Server) -> Vec<Row> {
    const WARM_RUNS: usize = 10;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let config = Config::default().collect(&server.quic.to_string());
    let (cold, warm) = runtime.block_on(async {
        let started = Instant::now();
        let mut collector = Collector::new(config);
        collector.snapshot([0; 16], 0).await;
        let cold = started.elapsed();
        let mut warm = Vec::new();
        for _ in 0..WARM_RUNS {
            tokio::time::sleep(Duration::from_millis(200)).await;
            let started = Instant::now();
            collector.snapshot([0; 16], 0).await;
            warm.push(started.elapsed());
        }
        (cold, warm)
    });
    let started = Instant::now();
    let mut system = sysinfo::System::new_all().expect("sysinfo");
    let bare_cold = started.elapsed();
    let mut bare_warm = Vec::new();
    for _ in 0..WARM_RUNS {
        std::thread::sleep(Duration::from_millis(200));
        let started = Instant::now();
        system.refresh_all();
        bare_warm.push(started.elapsed());
    }
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    vec![
        Row {
            figure: "snapshot, cold".into(),
            value: ms(cold),
            unit: "ms",
            baseline: Some(ms(bare_cold)),
            against: "sysinfo System::new_all".into(),
        },
        Row {
            figure: "snapshot, warm (median)".into(),
            value: ms(median(warm)),
            unit: "ms",
            baseline: Some(ms(median(bare_warm))),
            against: "sysinfo refresh_all (median)".into(),
        },
    ]
}

/// From the agent taking a sample to the technician's client reading it off the server's event stream, next to an
/// HTTPS round trip to the same server: the cheapest thing a client can ask of it.
fn live_latency(server: &Server, agent: &Agent, when: &str) -> Vec<Row> {
    const SAMPLES: usize = 100;
    let count = SAMPLES.to_string();
    let mut watch = server.cli_command(
        &server.admin_token,
        &["agent", "watch", &agent.id, "--json", "--interval-ms", "100", "--count", &count],
    );
    let mut child = watch.stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
    let mut latencies = Vec::new();
    for line in BufReader::new(child.stdout.take().unwrap()).lines().map_while(Result::ok) {
        let read_at = lifeline_agent::now_ms();
        let sample: serde_json::Value = serde_json::from_str(&line).unwrap();
        latencies.push(read_at.saturating_sub(sample["taken_at_ms"].as_u64().unwrap()) as f64);
    }
    assert!(child.wait().unwrap().success(), "the watch failed");
    // The first sample waits for the watch to start; it is not what a watcher sees from then on.
    latencies.remove(0);

    let http = server.https();
    let url = format!("{}/health", server.api);
    http.get(&url).call().unwrap();
    let mut round_trips: Vec<f64> = (0..SAMPLES)
        .map(|_| {
            let started = Instant::now();
            http.get(&url).call().unwrap();
            started.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    round_trips.sort_by(f64::total_cmp);
    latencies.sort_by(f64::total_cmp);
    let against = "HTTPS GET /health round trip, same percentile".to_owned();
    vec![
        Row {
            figure: format!("live sample to client{when}, p50"),
            value: percentile(&latencies, 0.5),
            unit: "ms",
            baseline: Some(percentile(&round_trips, 0.5)),
            against: against.clone(),
        },
        Row {
            figure: format!("live sample to client{when}, p99"),
            value: percentile(&latencies, 0.99),
            unit: "ms",
            baseline: Some(percentile(&round_trips, 0.99)),
            against,
        },
    ]
}

/// The most idle agents one server holds, step by step until a step fails or the last one passes: the server's
/// memory and CPU at each step, next to the swarm's own for the client side of the same connections. Returns the
/// rows and the largest step held.
fn capacity(settings: &Settings) -> (Vec<Row>, usize) {
    const WINDOW: Duration = Duration::from_secs(10);
    let server = Server::start();
    let largest = *settings.steps.last().unwrap();
    // The swarm's footprint with one agent: what its per-connection figure is counted from.
    let mut one = Proc::spawn("lifeline-swarm", swarm(&server, largest, &["--agents", "1", "--duration", "0"]));
    one.wait_for_line("all 1 connected", Duration::from_secs(60));
    let swarm_base = one.rss_kib();
    one.terminate();
    std::thread::sleep(Duration::from_secs(2));
    let server_base = server.proc.rss_kib();
    let kib_to_mib = |kib: u64| kib as f64 / 1024.0;
    let mut rows = Vec::new();
    let mut held = 0;
    let mut failure = None;
    for &n in &settings.steps {
        let (agents, rate) = (n.to_string(), settings.connect_rate.to_string());
        let args = ["--agents", &agents, "--duration", "0", "--connect-rate", &rate];
        let mut load = Proc::spawn("lifeline-swarm", swarm(&server, largest, &args));
        let limit = Duration::from_secs((n / settings.connect_rate) as u64 * 3 + 60);
        let ramp = load.wait_for_line("ramp: ", limit);
        let all = format!("all {n} connected");
        // Agents whose first attempt failed retry with the agent's backoff, as real ones would.
        let deadline = Instant::now() + Duration::from_secs(30);
        while !load.output().contains(&all) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(200));
        }
        if !load.output().contains(&all) {
            failure = Some(format!("{n} failed: {}", ramp.trim()));
            load.terminate();
            break;
        }
        // Past the ramp's handshakes and first snapshots, then a window of idle agents.
        std::thread::sleep(Duration::from_secs(5));
        let start = (cpu_ticks(&server.proc), cpu_ticks(&load));
        std::thread::sleep(WINDOW);
        let (server_rss, swarm_rss) = (server.proc.rss_kib(), load.rss_kib());
        rows.push(Row {
            figure: format!("server RSS, {n} idle agents"),
            value: kib_to_mib(server_rss),
            unit: "MiB",
            baseline: Some(kib_to_mib(server_base)),
            against: "the same server with no agent".into(),
        });
        rows.push(Row {
            figure: format!("server CPU, {n} idle agents"),
            value: cpu_pct(cpu_ticks(&server.proc) - start.0, WINDOW.as_secs()),
            unit: "% core",
            baseline: Some(cpu_pct(cpu_ticks(&load) - start.1, WINDOW.as_secs())),
            against: format!("the swarm's own, same {} s window", WINDOW.as_secs()),
        });
        rows.push(Row {
            figure: format!("memory per connection, {n}"),
            value: server_rss.saturating_sub(server_base) as f64 / n as f64,
            unit: "KiB",
            baseline: Some(swarm_rss.saturating_sub(swarm_base) as f64 / n as f64),
            against: "the swarm's, for the client side".into(),
        });
        load.terminate();
        held = n;
        // The server lets go of the closed connections before the next step counts again.
        std::thread::sleep(Duration::from_secs(3));
    }
    rows.push(Row {
        figure: "idle agents held".into(),
        value: held as f64,
        unit: "agents",
        baseline: Some(largest as f64),
        against: failure.unwrap_or_else(|| "the largest step tried (LIFELINE_BENCH_MAX_AGENTS)".into()),
    });
    (rows, held)
}

/// Acknowledged snapshots per second from agents uploading back to back, with live latency measured meanwhile,
/// next to a raw batched insert of the same rows into SQLite on the same disk with the same durability. Returns the
/// rows, the acknowledged rate and one stored row, which the retention row's old snapshots are made of.
fn ingest(settings: &Settings) -> (Vec<Row>, f64, RawRow) {
    let server = Server::start();
    let (report, mut rows) = ingest_load(&server, settings, 0);

    // The same rows, written as the store wrote them but without anything in front: one transaction per 256.
    let source = server.sql();
    let (raw_rate, batches) = raw_insert(&source, &server.dir.path().join("raw.db"), |after| {
        source
            .prepare_cached(&format!(
                "SELECT rowid, {RAW_COLUMNS} FROM snapshots WHERE rowid > ?1 ORDER BY rowid LIMIT 256"
            ))
            .unwrap()
            .query_map([after], |r| Ok((r.get(0)?, raw_row(r, 1)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    });
    // The baseline of the runs before 2026-11-30, kept to compare with them: the first row again and again as if
    // one agent sent them all, so that every index write is an append, which the rows of many agents never are.
    let first =
        source.query_row(&format!("SELECT {RAW_COLUMNS} FROM snapshots LIMIT 1"), [], |r| raw_row(r, 0)).unwrap();
    let stored = source.query_row("SELECT max(rowid) FROM snapshots", [], |r| r.get::<_, i64>(0)).unwrap();
    let (one_agent_rate, _) = raw_insert(&source, &server.dir.path().join("raw-one-agent.db"), |after| {
        (after + 1..=(after + 256).min(stored.max(2_560)))
            .map(|n| (n, RawRow { id: format!("{n:032x}"), ..first.clone() }))
            .collect()
    });

    let latency = &report["latency_ms"];
    rows.insert(
        0,
        Row {
            figure: "ingest, acked snapshots/s".into(),
            value: report["acked_per_sec"].as_f64().unwrap(),
            unit: "/s",
            baseline: Some(raw_rate),
            against: format!(
                "the same rows inserted raw into SQLite in the order stored, same disk; {agents} agents back to back",
                agents = settings.ingest_agents
            ),
        },
    );
    rows.insert(
        1,
        Row {
            figure: "ingest, against one agent's rows".into(),
            value: report["acked_per_sec"].as_f64().unwrap(),
            unit: "/s",
            baseline: Some(one_agent_rate),
            against:
                "the first stored row inserted raw again and again as one agent's (the baseline before 2026-11-30)"
                    .into(),
        },
    );
    for (p, key) in [(0.5, "p50"), (0.99, "p99")] {
        rows.insert(
            rows.len() - 2,
            Row {
                figure: format!("snapshot ack under ingest, {key}"),
                value: latency[key].as_f64().unwrap(),
                unit: "ms",
                baseline: Some(percentile(&batches, p)),
                against: "one raw 256-row transaction, same percentile".into(),
            },
        );
    }
    (rows, report["acked_per_sec"].as_f64().unwrap(), first)
}

/// The ingest load on `server`: the swarm's agents uploading back to back for the load's duration, asking for help
/// `help_per_min` times a minute between them, with the live latency measured meanwhile. Returns the swarm's report and the live rows.
fn ingest_load(server: &Server, settings: &Settings, help_per_min: usize) -> (serde_json::Value, Vec<Row>) {
    // Enrolled and connected before the load starts: under load, only the live path is measured.
    let agent = Agent::start(server);
    let help = help_per_min.to_string();
    let args = ["--duration", "0", "--snapshot-every", "0", "--help-per-min", &help];
    let mut load = Proc::spawn("lifeline-swarm", swarm(server, settings.ingest_agents, &args));
    load.wait_for_line("ramp: ", Duration::from_secs(120));
    let rows = live_latency(server, &agent, " under ingest");
    let rest = Duration::from_secs(settings.load_secs).saturating_sub(Duration::from_secs(10));
    std::thread::sleep(rest);
    (report_of(&mut load), rows)
}

/// The same ingest load on a server whose store holds old snapshots of the same agents, `old_per_agent` each, and
/// whose retention runs a pass every second (the rest of `[retention]` as shipped): acknowledged snapshots per second
/// next to `without`, the ingest row's figure in the same run.
fn ingest_with_retention(settings: &Settings, without: f64, stored: &RawRow) -> Row {
    const OLD_DAYS: i64 = 60;
    let server = server_with_config("[retention]\ninterval = \"1s\"\n", |dir| {
        // The identities `swarm` would make, made first so that their agents exist to give old snapshots to.
        let identities = dir.join(format!("swarm-{}.pem", settings.ingest_agents));
        let count = settings.ingest_agents.to_string();
        let path = identities.to_str().unwrap();
        let out = harness::run(server_cmd(dir, &["bulk-enroll", "--count", &count, "--out", path]));
        assert!(out.ok, "bulk-enroll failed: {}{}", out.stdout, out.stderr);
        let db = rusqlite::Connection::open(dir.join("lifeline.db")).unwrap();
        let agents: Vec<String> = db
            .prepare("SELECT id FROM agents")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let old = lifeline_agent::now_ms() as i64 - OLD_DAYS * 86_400_000;
        db.execute_batch("BEGIN").unwrap();
        let insert = format!("INSERT INTO snapshots ({RAW_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)");
        for agent in &agents {
            for n in 0..settings.old_per_agent {
                let (at, r) = (old + n as i64 * 60_000, stored);
                db.prepare_cached(&insert)
                    .unwrap()
                    .execute(rusqlite::params![
                        agent,
                        format!("{n:032x}"),
                        at,
                        at,
                        r.cpu,
                        r.memory,
                        r.disk,
                        r.findings,
                        r.body
                    ])
                    .unwrap();
            }
        }
        db.execute_batch("COMMIT").unwrap();
    });
    let old_rows = |server: &Server| {
        let cutoff = lifeline_agent::now_ms() as i64 - (OLD_DAYS - 1) * 86_400_000;
        server
            .sql()
            .query_row("SELECT count(*) FROM snapshots WHERE taken_at < ?1", [cutoff], |r| r.get::<_, i64>(0))
            .unwrap()
    };
    let before = old_rows(&server);
    let (report, _) = ingest_load(&server, settings, 0);
    let after = old_rows(&server);
    assert!(after < before, "retention deleted none of the {before} old snapshots during the load");
    Row {
        figure: "ingest with retention running".into(),
        value: report["acked_per_sec"].as_f64().unwrap(),
        unit: "/s",
        baseline: Some(without),
        against: format!(
            "ingest without retention, same run; {deleted} old snapshots deleted during this row, {after} left",
            deleted = before - after
        ),
    }
}

/// A server as `Server::start` makes one, with `config` as its configuration file and `prepare` run on its data
/// directory before it starts.
fn server_with_config(config: &str, prepare: impl FnOnce(&std::path::Path)) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let admin = harness::run(server_cmd(dir.path(), &["user", "add", "admin", "--tier", "admin"]));
    assert!(admin.ok, "user add failed: {}", admin.stderr);
    prepare(dir.path());
    let path = dir.path().join("server.toml");
    std::fs::write(&path, config).unwrap();
    let mut cmd = server_cmd(dir.path(), &["serve", "--quic", "127.0.0.1:0", "--api", "127.0.0.1:0"]);
    cmd.env("LIFELINE_SERVER_CONFIG", &path);
    let proc = Proc::spawn("lifeline-server", cmd);
    let quic = proc.wait_for_line("quic listening on ", Duration::from_secs(30));
    let api = proc.wait_for_line("api listening on ", Duration::from_secs(30));
    Server {
        quic: field(&quic, "quic listening on").parse().unwrap(),
        api: field(&api, "api listening on"),
        dir,
        proc,
        admin_token: field(&admin.stdout, "API token:"),
        netns: None,
    }
}

const RAW_COLUMNS: &str =
    "agent_id, id, taken_at, received_at, cpu_usage_pct, memory_used_pct, fullest_disk_pct, finding_count, body";

#[derive(Clone)]
struct RawRow {
    agent_id: String,
    id: String,
    taken_at: i64,
    received_at: i64,
    cpu: f64,
    memory: f64,
    disk: f64,
    findings: i64,
    body: Vec<u8>,
}

fn raw_row(r: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<RawRow> {
    Ok(RawRow {
        agent_id: r.get(at)?,
        id: r.get(at + 1)?,
        taken_at: r.get(at + 2)?,
        received_at: r.get(at + 3)?,
        cpu: r.get(at + 4)?,
        memory: r.get(at + 5)?,
        disk: r.get(at + 6)?,
        findings: r.get(at + 7)?,
        body: r.get(at + 8)?,
    })
}

/// Inserts the batches `next` gives (each row with its position; `next` is asked for the batch after a position)
/// into a new file with the store's snapshot table, with the store's durability, one transaction per batch, until
/// one comes back empty. Only the transactions are timed: rows per second, and each transaction's milliseconds.
fn raw_insert(
    source: &rusqlite::Connection,
    path: &std::path::Path,
    mut next: impl FnMut(i64) -> Vec<(i64, RawRow)>,
) -> (f64, Vec<f64>) {
    let raw = rusqlite::Connection::open(path).unwrap();
    // The agents the rows refer to are not there: nothing but the inserts is measured.
    raw.execute_batch("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=OFF;").unwrap();
    let schema: Vec<String> = source
        .prepare("SELECT sql FROM sqlite_master WHERE tbl_name = 'snapshots' AND sql IS NOT NULL")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    raw.execute_batch(&schema.join(";\n")).unwrap();
    let insert = format!("INSERT INTO snapshots ({RAW_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)");
    let (mut after, mut inserted, mut spent, mut batches) = (0, 0, Duration::ZERO, Vec::new());
    loop {
        let batch = next(after);
        let Some(&(last, _)) = batch.last() else { break };
        let t = Instant::now();
        raw.execute_batch("BEGIN IMMEDIATE").unwrap();
        for (_, row) in &batch {
            raw.prepare_cached(&insert)
                .unwrap()
                .execute(rusqlite::params![
                    row.agent_id,
                    row.id,
                    row.taken_at,
                    row.received_at,
                    row.cpu,
                    row.memory,
                    row.disk,
                    row.findings,
                    row.body
                ])
                .unwrap();
        }
        raw.execute_batch("COMMIT").unwrap();
        spent += t.elapsed();
        batches.push(t.elapsed().as_secs_f64() * 1000.0);
        inserted += batch.len();
        after = last;
    }
    batches.sort_by(f64::total_cmp);
    (inserted as f64 / spent.as_secs_f64(), batches)
}

/// The server stopped as systemd stops it and started again on the same data and port, with agents connected:
/// how long until every one is back, and how slow acknowledgements are meanwhile.
fn reconnect_storm(settings: &Settings, agents: usize) -> Vec<Row> {
    let agents = agents.max(*settings.steps.first().unwrap());
    let server = Server::start();
    let n = agents.to_string();
    let rate = settings.connect_rate.to_string();
    // Every agent sends a snapshot a minute, the agents already back included.
    let args = ["--duration", "0", "--connect-rate", &rate, "--snapshot-every", "60"];
    let mut load = Proc::spawn("lifeline-swarm", swarm(&server, agents, &args));
    load.wait_for_line(
        &format!("all {n} connected"),
        Duration::from_secs((agents / settings.connect_rate) as u64 * 3 + 60),
    );
    std::thread::sleep(Duration::from_secs(5));
    let mut server = server;
    let stopped = Instant::now();
    server.proc.terminate();
    let server = server.restart();
    let restart = stopped.elapsed();
    const LIMIT: Duration = Duration::from_secs(120);
    let needle = format!("all {n} back");
    while !load.output().contains(&needle) && stopped.elapsed() < LIMIT {
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_secs(5));
    let report = report_of(&mut load);
    drop(server);
    let outage = &report["outages"][0];
    let (secs, against) = match outage["back_secs"].as_f64() {
        Some(secs) => (secs, "the server's own restart, stop signal to listening".to_owned()),
        None => {
            let connected = &report["connected"];
            (
                LIMIT.as_secs_f64(),
                format!("NOT all back: {connected} of {n} after {} s; the server's restart", LIMIT.as_secs()),
            )
        }
    };
    vec![
        Row {
            figure: format!("reconnect storm, {n} agents back"),
            value: secs,
            unit: "s",
            baseline: Some(restart.as_secs_f64()),
            against,
        },
        Row {
            figure: "snapshot ack during the storm, p99".into(),
            value: outage["latency_ms"]["p99"].as_f64().unwrap_or(f64::NAN),
            unit: "ms",
            baseline: Some(report["latency_ms"]["p99"].as_f64().unwrap()),
            against: "the same swarm outside the storm".into(),
        },
    ]
}

/// Stops a swarm as Ctrl-C would and reads the JSON report it prints last.
fn report_of(swarm: &mut Proc) -> serde_json::Value {
    swarm.terminate();
    let line = swarm.wait_for_line("{\"agents\"", Duration::from_secs(10));
    serde_json::from_str(&line).unwrap()
}

/// CPU time a process used so far (user + system), in clock ticks.
fn cpu_ticks(proc: &Proc) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", proc.pid())).expect("process stat");
    // The command name is in parentheses and may hold spaces; after it come the state, then fields 4 (ppid)
    // onwards, of which 14 and 15 are utime and stime.
    let rest = stat.rsplit_once(')').expect("stat layout").1;
    let fields: Vec<u64> = rest.split_whitespace().skip(1).map(|f| f.parse().unwrap_or(0)).collect();
    fields[14 - 4] + fields[15 - 4]
}

/// `ticks` of CPU time over `secs` seconds, in % of one core.
fn cpu_pct(ticks: u64, secs: u64) -> f64 {
    ticks as f64 / TICKS_PER_SEC / secs as f64 * 100.0
}

fn peak_rss_kib(proc: &Proc) -> u64 {
    status_kib(proc.pid(), "VmHWM:")
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// `sorted` must be sorted; nearest-rank percentile.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn print_table(rows: &[Row]) {
    println!("\n{:<36} {:>12} {:<7} {:>12}  {:>6}  baseline", "figure", "value", "", "baseline", "ratio");
    for r in rows {
        let (baseline, ratio) = match r.baseline {
            Some(b) if b > 0.0 => (format!("{b:.3}"), format!("{:.2}", r.value / b)),
            Some(b) => (format!("{b:.3}"), "-".into()),
            None => ("missing".into(), "-".into()),
        };
        println!("{:<36} {:>12.3} {:<7} {:>12}  {:>6}  {}", r.figure, r.value, r.unit, baseline, ratio, r.against);
    }
    if rows.iter().any(|r| r.baseline.is_none()) {
        println!("\nA baseline is missing: install it with `apt-get install prometheus-node-exporter`.");
    }
}
