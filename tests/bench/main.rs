//! `cargo bench -p lifeline-tests --bench lifeline`: the figures that say whether Lifeline is light and fast, each
//! next to a baseline measured in the same run on the same machine, because shared machines are too noisy for
//! absolute numbers to mean much. Prints one table; BENCHMARKS.md explains each row and records past runs.
//!
//! `LIFELINE_BENCH_IDLE_SECS` sets how long the idle footprint is watched (default 60).

// A benchmark states what it needs by panicking when it cannot have it, as the tests do.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod desktop;
#[allow(dead_code)]
#[path = "../e2e/harness.rs"]
mod harness;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use harness::{Agent, Proc, Server, bin, status_kib};
use lifeline_agent::collect::Collector;
use lifeline_agent::config::Config;

const NODE_EXPORTER: &str = "/usr/bin/prometheus-node-exporter";
/// Clock ticks per second of /proc's CPU times on Linux.
const TICKS_PER_SEC: f64 = 100.0;

struct Row {
    figure: &'static str,
    value: f64,
    unit: &'static str,
    baseline: Option<f64>,
    against: String,
}

fn main() {
    // `cargo bench` passes `--bench`; any other argument is a filter nobody here needs.
    let idle_secs: u64 = std::env::var("LIFELINE_BENCH_IDLE_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(60);
    let server = Server::start();
    let mut rows = Vec::new();
    rows.extend(idle_footprint(&server, idle_secs));
    rows.extend(binary_sizes());
    rows.push(desktop::help_size());
    rows.extend(snapshot_collection(&server));
    rows.extend(live_latency(&server));
    rows.extend(desktop::tray_idle(&server, idle_secs));
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
    // Both past their start-up work before the window opens.
    std::thread::sleep(Duration::from_secs(5));
    let proc = agent.proc.as_ref().unwrap();
    let start = (cpu_ticks(proc), baseline.as_ref().map(cpu_ticks));
    std::thread::sleep(Duration::from_secs(secs));
    let against = format!("node-exporter, same {secs} s window");
    vec![
        Row {
            figure: "agent idle RSS",
            value: proc.rss_kib() as f64 / 1024.0,
            unit: "MiB",
            baseline: baseline.as_ref().map(|b| b.rss_kib() as f64 / 1024.0),
            against: against.clone(),
        },
        Row {
            figure: "agent idle peak RSS",
            value: peak_rss_kib(proc) as f64 / 1024.0,
            unit: "MiB",
            baseline: baseline.as_ref().map(|b| peak_rss_kib(b) as f64 / 1024.0),
            against: against.clone(),
        },
        Row {
            figure: "agent idle CPU",
            value: cpu_pct(cpu_ticks(proc) - start.0, secs),
            unit: "% core",
            baseline: baseline.as_ref().zip(start.1).map(|(b, s)| cpu_pct(cpu_ticks(b) - s, secs)),
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
            figure,
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
            figure: "snapshot, cold",
            value: ms(cold),
            unit: "ms",
            baseline: Some(ms(bare_cold)),
            against: "sysinfo System::new_all".into(),
        },
        Row {
            figure: "snapshot, warm (median)",
            value: ms(median(warm)),
            unit: "ms",
            baseline: Some(ms(median(bare_warm))),
            against: "sysinfo refresh_all (median)".into(),
        },
    ]
}

/// From the agent taking a sample to the technician's client reading it off the server's event stream, next to an
/// HTTPS round trip to the same server: the cheapest thing a client can ask of it.
fn live_latency(server: &Server) -> Vec<Row> {
    const SAMPLES: usize = 100;
    let agent = Agent::start(server);
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
            figure: "live sample to client, p50",
            value: percentile(&latencies, 0.5),
            unit: "ms",
            baseline: Some(percentile(&round_trips, 0.5)),
            against: against.clone(),
        },
        Row {
            figure: "live sample to client, p99",
            value: percentile(&latencies, 0.99),
            unit: "ms",
            baseline: Some(percentile(&round_trips, 0.99)),
            against,
        },
    ]
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
    println!("\n{:<28} {:>12} {:<7} {:>12}  {:>6}  baseline", "figure", "value", "", "baseline", "ratio");
    for r in rows {
        let (baseline, ratio) = match r.baseline {
            Some(b) if b > 0.0 => (format!("{b:.3}"), format!("{:.2}", r.value / b)),
            Some(b) => (format!("{b:.3}"), "-".into()),
            None => ("missing".into(), "-".into()),
        };
        println!("{:<28} {:>12.3} {:<7} {:>12}  {:>6}  {}", r.figure, r.value, r.unit, baseline, ratio, r.against);
    }
    if rows.iter().any(|r| r.baseline.is_none()) {
        println!("\nA baseline is missing: install it with `apt-get install prometheus-node-exporter`.");
    }
}
