//! Host identity, CPU, memory and processes, from sysinfo.

use lifeline_shared::wire::{Cpu, Host, Memory, Process, Processes};
use sysinfo::{
    CpuRefreshKind, MemoryRefreshKind, ProcessRefreshKind, RefreshKind, System, ThreadKind, UpdateKind, Users,
};

/// Reads only what a snapshot reports. Tasks are left out: listing every thread of every process is the most
/// expensive part of a refresh and threads are not what a person means by "a program".
pub(super) fn refresh(sys: &mut System) {
    sys.refresh_specifics(
        RefreshKind::nothing()
            .with_memory(MemoryRefreshKind::everything())
            .with_cpu(CpuRefreshKind::nothing().with_usage())
            .with_processes(
                ProcessRefreshKind::nothing()
                    .with_cpu()
                    .with_memory()
                    .with_user(UpdateKind::OnlyIfNotSet)
                    .without_tasks(),
            ),
    );
}

pub(super) fn host(problems: &mut Vec<String>) -> Host {
    Host {
        hostname: or_problem("host name", System::host_name(), problems),
        os_name: or_problem("OS name", System::name(), problems),
        os_version: or_problem("OS version", System::os_version(), problems),
        kernel: or_problem("kernel version", System::kernel_version(), problems),
        arch: System::cpu_arch(),
        uptime_secs: or_problem("uptime", System::uptime(), problems),
        boot_time_secs: or_problem("boot time", System::boot_time(), problems),
        agent_version: env!("CARGO_PKG_VERSION").to_owned(),
        users: Vec::new(),
    }
}

pub(super) fn cpu(sys: &System, problems: &mut Vec<String>) -> Cpu {
    let load = or_problem("load average", System::load_average(), problems);
    Cpu {
        model: sys.cpus().first().map(|c| c.brand().trim().to_owned()).unwrap_or_default(),
        physical_cores: System::physical_core_count().ok().and_then(|n| u32::try_from(n).ok()),
        logical_cores: u32::try_from(sys.cpus().len()).unwrap_or(u32::MAX),
        usage_pct: sys.global_cpu_usage(),
        load_avg: [load.one, load.five, load.fifteen],
    }
}

pub(super) fn memory(sys: &System) -> Memory {
    Memory {
        total_bytes: sys.total_memory(),
        used_bytes: sys.used_memory(),
        available_bytes: sys.available_memory(),
        swap_total_bytes: sys.total_swap(),
        swap_used_bytes: sys.used_swap(),
    }
}

pub(super) fn processes(
    sys: &System,
    users: &mut Result<Users, String>,
    top_n: usize,
    problems: &mut Vec<String>,
) -> Processes {
    let procs: Vec<&sysinfo::Process> =
        sys.processes().values().filter(|p| p.thread_kind() != Some(ThreadKind::Userland)).collect();
    let top_cpu = top(&procs, top_n, |p| (f64::from(p.cpu_usage()), p.pid().as_u32()));
    let top_memory = top(&procs, top_n, |p| (p.memory() as f64, p.pid().as_u32()));

    if let Ok(users) = users.as_mut() {
        // Re-read the account list once when a shown process belongs to an account created since it was read.
        let unknown = |p: &&sysinfo::Process| p.user_id().is_some_and(|uid| users.get_user_by_id(uid).is_none());
        if top_cpu.iter().chain(&top_memory).any(unknown) {
            users.refresh();
        }
    }
    let users = match users {
        Ok(users) => Some(&*users),
        Err(e) => {
            problems.push(e.clone());
            None
        }
    };
    let convert =
        |list: Vec<&sysinfo::Process>| -> Vec<Process> { list.into_iter().map(|p| process(p, users)).collect() };
    Processes {
        count: u32::try_from(procs.len()).unwrap_or(u32::MAX),
        top_cpu: convert(top_cpu),
        top_memory: convert(top_memory),
    }
}

fn process(p: &sysinfo::Process, users: Option<&Users>) -> Process {
    Process {
        pid: p.pid().as_u32(),
        name: p.name().to_string_lossy().into_owned(),
        user: users.zip(p.user_id()).and_then(|(users, uid)| users.get_user_by_id(uid)).map(|u| u.name().to_owned()),
        cpu_pct: p.cpu_usage(),
        rss_bytes: p.memory(),
    }
}

fn or_problem<T: Default>(what: &str, value: Result<T, sysinfo::Error>, problems: &mut Vec<String>) -> T {
    value.unwrap_or_else(|e| {
        problems.push(format!("{what}: {e}"));
        T::default()
    })
}

/// The `n` items with the largest `key.0`, largest first; equal values in ascending `key.1` so the list is stable.
fn top<T: Copy>(items: &[T], n: usize, key: impl Fn(T) -> (f64, u32)) -> Vec<T> {
    let mut sorted = items.to_vec();
    sorted.sort_by(|a, b| {
        let (ka, kb) = (key(*a), key(*b));
        kb.0.total_cmp(&ka.0).then(ka.1.cmp(&kb.1))
    });
    sorted.truncate(n);
    sorted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_is_largest_first_ties_by_pid() {
        let check = |items: &[(f64, u32)], n: usize, expected: &[u32]| {
            let got: Vec<u32> = top(items, n, |x| x).iter().map(|x| x.1).collect();
            assert_eq!(got, expected, "top {n} of {items:?}");
        };
        check(&[], 5, &[]);
        check(&[(1.0, 1), (3.0, 2), (2.0, 3)], 5, &[2, 3, 1]);
        check(&[(1.0, 1), (3.0, 2), (2.0, 3)], 2, &[2, 3]);
        check(&[(5.0, 9), (5.0, 4), (5.0, 7)], 2, &[4, 7]);
        check(&[(0.0, 1), (5.0, 2)], 0, &[]);
    }
}
