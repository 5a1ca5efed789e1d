//! Builds a [`Snapshot`] of this machine.
//!
//! One file per source. Each returns what it could read and pushes what it could not onto `problems`, because a
//! technician is better served by a partial snapshot than by none. OS specifics sit behind `cfg` inside each file.
//!
//! **Invariants:** no external program is ever spawned; sysinfo is refreshed only for the kinds we report, so the
//! agent stays small on the machines it is meant to help.

mod disks;
mod hardware;
mod network;
mod probes;
mod system;
mod users;

use std::time::{Duration, Instant};

use lifeline_shared::findings::{self, Finding};
use lifeline_shared::wire::{DiskRate, LiveSample, NetRate, Network, Snapshot, SnapshotId};
use sysinfo::{Components, DiskRefreshKind, Disks, Networks, System, Users};

#[derive(Debug, Clone)]
pub struct CollectConfig {
    /// How many processes to report in each of the top-CPU and top-memory lists.
    pub top_n: usize,
    /// Host name to resolve, to tell "no internet" apart from "names do not resolve".
    pub dns_probe: Option<String>,
    pub probe_timeout: Duration,
}

impl Default for CollectConfig {
    fn default() -> Self {
        CollectConfig { top_n: 5, dns_probe: None, probe_timeout: Duration::from_secs(2) }
    }
}

/// Keeps sysinfo's state between snapshots, so CPU usage is the real average since the previous snapshot rather
/// than a guess from one reading.
pub struct Collector {
    config: CollectConfig,
    /// Each handle is created once; an error (an OS sysinfo does not support) is kept and reported in every snapshot.
    system: Result<System, String>,
    users: Result<Users, String>,
    disks: Result<Disks, String>,
    networks: Result<Networks, String>,
    components: Result<Components, String>,
    /// CPU usage is a difference between two readings; false until the first pair has been taken.
    primed: bool,
    /// When network and disk counters were last read: live rates are the difference since then.
    counters_read: Option<Instant>,
    /// The latest full snapshot: live samples judge findings on it, with their own memory and processes.
    latest: Option<Snapshot>,
    /// The findings the previous live sample carried, so that a sample carries them only when they change.
    live_findings: Option<Vec<Finding>>,
}

impl Collector {
    pub fn new(config: CollectConfig) -> Self {
        Collector {
            config,
            system: handle("processes, CPU and memory", System::new()),
            users: handle("user names", Users::new_with_refreshed_list()),
            disks: handle("disks", Disks::new()),
            networks: handle("network interfaces", Networks::new()),
            components: handle("temperatures", Components::new()),
            primed: false,
            counters_read: None,
            latest: None,
            live_findings: None,
        }
    }

    /// What changes second to second, for a technician watching live; rates cover the time since the previous
    /// reading of the counters. Cheap by design: no probes, no host facts, five processes per list.
    /// `first` marks the first sample a new watcher sees, which carries the findings even if they did not change.
    pub fn live(&mut self, seq: u64, now_ms: u64, first: bool) -> LiveSample {
        let now = Instant::now();
        let secs = self.counters_read.map_or(0.0, |at| now.duration_since(at).as_secs_f64());
        self.counters_read = Some(now);
        let per_s = |bytes: u64| if secs > 0.0 { (bytes as f64 / secs) as u64 } else { 0 };
        let mut sample = LiveSample { seq, taken_at_ms: now_ms, ..LiveSample::default() };
        if let Ok(sys) = &mut self.system {
            system::refresh(sys);
            sample.cpu_pct = sys.global_cpu_usage();
            sample.per_core_pct = sys.cpus().iter().map(|c| c.usage()).collect();
            if let Ok(load) = System::load_average() {
                sample.load_avg = [load.one, load.five, load.fifteen];
            }
            let memory = system::memory(sys);
            sample.memory_used_bytes = memory.used_bytes;
            sample.memory_total_bytes = memory.total_bytes;
            sample.swap_used_bytes = memory.swap_used_bytes;
            sample.swap_total_bytes = memory.swap_total_bytes;
            let processes = system::processes(sys, &mut self.users, 5, &mut Vec::new());
            sample.top_cpu = processes.top_cpu;
            sample.top_memory = processes.top_memory;
        }
        if let Ok(networks) = &mut self.networks {
            networks.refresh(true);
            sample.net = networks
                .iter()
                .map(|(name, data)| NetRate {
                    interface: name.to_string_lossy().into_owned(),
                    rx_bytes_per_s: per_s(data.received()),
                    tx_bytes_per_s: per_s(data.transmitted()),
                    rx_errors: data.errors_on_received(),
                    tx_errors: data.errors_on_transmitted(),
                })
                .collect();
            sample.net.sort_by(|a, b| a.interface.cmp(&b.interface));
        }
        if let Ok(disks) = &mut self.disks {
            disks.refresh_specifics(true, DiskRefreshKind::nothing().with_io_usage());
            let mut seen = std::collections::HashSet::new();
            sample.disks = disks
                .iter()
                .filter(|d| d.id().is_none_or(|id| seen.insert(id)))
                .map(|d| DiskRate {
                    mount_point: d.mount_point().display().to_string(),
                    read_bytes_per_s: per_s(d.usage().read_bytes),
                    written_bytes_per_s: per_s(d.usage().written_bytes),
                })
                .collect();
        }
        if let Some(latest) = &self.latest {
            let mut now = latest.clone();
            now.memory.used_bytes = sample.memory_used_bytes;
            now.memory.available_bytes = sample.memory_total_bytes.saturating_sub(sample.memory_used_bytes);
            now.memory.swap_used_bytes = sample.swap_used_bytes;
            now.processes.top_cpu = sample.top_cpu.clone();
            now.processes.top_memory = sample.top_memory.clone();
            let found = findings::evaluate(&now);
            if first || self.live_findings.as_ref() != Some(&found) {
                sample.findings = Some(found.clone());
            }
            self.live_findings = Some(found);
        }
        sample
    }

    /// `id` and `now_ms` come from the caller, who owns randomness and the clock.
    pub async fn snapshot(&mut self, id: SnapshotId, now_ms: u64) -> Snapshot {
        let mut problems = Vec::new();
        // The probes wait on the network and the first CPU reading waits on a timer: let them overlap.
        let (probes, ()) = tokio::join!(probes::run(&self.config), sample(&mut self.system, &mut self.primed));

        let mut host = system::host(&mut problems);
        host.users = users::logged_in(&mut problems);
        let (cpu, memory, processes) = match &self.system {
            Ok(sys) => (
                system::cpu(sys, &mut problems),
                system::memory(sys),
                system::processes(sys, &mut self.users, self.config.top_n, &mut problems),
            ),
            Err(e) => {
                problems.push(e.clone());
                Default::default()
            }
        };
        let disks = with(&mut self.disks, &mut problems, disks::collect);
        let temperatures = with(&mut self.components, &mut problems, hardware::temperatures);
        let battery = hardware::battery(&mut problems);
        // Reading the interface counters resets what the next live sample measures from.
        self.counters_read = Some(Instant::now());
        let network = Network {
            interfaces: with(&mut self.networks, &mut problems, network::interfaces),
            default_route: network::default_route(&mut problems),
            dns_servers: network::dns_servers(&mut problems),
            probes,
        };

        let snapshot = Snapshot {
            id,
            taken_at_ms: now_ms,
            host,
            cpu,
            memory,
            disks,
            temperatures,
            battery,
            network,
            processes,
            problems,
        };
        self.latest = Some(snapshot.clone());
        snapshot
    }
}

fn handle<T>(what: &str, made: Result<T, sysinfo::Error>) -> Result<T, String> {
    made.map_err(|e| format!("{what}: {e}"))
}

/// Runs `read` on a sysinfo handle, or reports why the handle is missing and returns nothing.
fn with<T, R: Default>(handle: &mut Result<T, String>, problems: &mut Vec<String>, read: fn(&mut T) -> R) -> R {
    match handle {
        Ok(h) => read(h),
        Err(e) => {
            problems.push(e.clone());
            R::default()
        }
    }
}

async fn sample(system: &mut Result<System, String>, primed: &mut bool) {
    let Ok(sys) = system else { return };
    system::refresh(sys);
    if !*primed {
        tokio::time::sleep(sysinfo::MINIMUM_CPU_UPDATE_INTERVAL).await;
        system::refresh(sys);
        *primed = true;
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    use anyhow::{Context, Result};
    use lifeline_shared::wire::ProbeKind;

    use super::*;

    /// utime + stime of this whole process: fields 14 and 15 of `/proc/self/stat`, counted after the name.
    fn own_cpu_ticks() -> Result<u64> {
        let stat = std::fs::read_to_string("/proc/self/stat")?;
        let after_name = stat.rsplit_once(") ").context("no name in /proc/self/stat")?.1;
        Ok(after_name.split(' ').skip(11).take(2).map(str::parse::<u64>).sum::<Result<_, _>>()?)
    }

    fn own_threads() -> Result<Vec<u32>> {
        let mut tids = Vec::new();
        for task in std::fs::read_dir("/proc/self/task")? {
            tids.push(task?.file_name().to_string_lossy().parse()?);
        }
        Ok(tids)
    }

    #[tokio::test]
    async fn snapshot_of_this_machine_is_sane() -> Result<()> {
        let config = CollectConfig { top_n: 100_000, dns_probe: Some("localhost".into()), ..CollectConfig::default() };
        // A thread of ours keeping a core busy must show up as CPU use of this process, and not as a process itself.
        let stop = Arc::new(AtomicBool::new(false));
        let spinner = std::thread::spawn({
            let stop = stop.clone();
            move || while !stop.load(Ordering::Relaxed) {}
        });
        // sysinfo computes a process's usage only if it had non-zero CPU time at the previous reading.
        while own_cpu_ticks()? == 0 {
            std::thread::yield_now();
        }
        let snap = Collector::new(config).snapshot([7; 16], 1234).await;
        let threads = own_threads()?;
        stop.store(true, Ordering::Relaxed);
        spinner.join().map_err(|_| anyhow::anyhow!("spinner panicked"))?;

        assert_eq!((snap.id, snap.taken_at_ms), ([7; 16], 1234));
        assert!(!snap.host.hostname.is_empty());
        assert_eq!(snap.host.agent_version, env!("CARGO_PKG_VERSION"));
        assert!(snap.memory.total_bytes > 0 && snap.memory.available_bytes <= snap.memory.total_bytes);
        assert!(snap.cpu.logical_cores > 0 && snap.cpu.usage_pct > 0.0, "{:?}", snap.cpu);

        let procs = &snap.processes;
        assert!(procs.count >= 1);
        assert_eq!(procs.top_memory.len(), procs.count as usize, "top_n above the count lists every process");
        let me = std::process::id();
        let own = procs.top_cpu.iter().find(|p| p.pid == me);
        assert!(own.is_some_and(|p| p.cpu_pct > 20.0), "own pid {me} missing or idle: {own:?}");
        assert!(threads.len() > 1);
        for tid in threads.into_iter().filter(|t| *t != me) {
            assert!(procs.top_cpu.iter().all(|p| p.pid != tid), "thread {tid} listed as a process");
        }
        assert!(procs.top_memory.windows(2).all(|w| w[0].rss_bytes >= w[1].rss_bytes));
        assert!(procs.top_cpu.windows(2).all(|w| w[0].cpu_pct >= w[1].cpu_pct));

        let probes = &snap.network.probes;
        assert_eq!(probes.iter().map(|p| p.kind).collect::<Vec<_>>(), [ProbeKind::Dns]);
        assert!(probes.iter().all(|p| p.ok && p.latency_us.is_some()), "{probes:#?}");
        Ok(())
    }
}
