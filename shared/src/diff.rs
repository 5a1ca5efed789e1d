//! What changed between two snapshots of one machine: the before/after view of a ticket. Only differences a person
//! acts on are reported (a disk filling up, a route gone, a process appearing among the busiest, a finding that
//! appeared or went away); counters that always move are not.

use serde::{Deserialize, Serialize};

use crate::findings;
use crate::wire::Snapshot;

#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "kebab-case")]
pub enum Area {
    Findings,
    Disks,
    Memory,
    Network,
    Processes,
    Host,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Change {
    pub area: Area,
    pub what: String,
}

/// A free-space move smaller than this share of the disk is noise, not news.
const DISK_NOTICE_PCT: f64 = 1.0;

fn pct(part: u64, whole: u64) -> f64 {
    if whole == 0 { 0.0 } else { part as f64 * 100.0 / whole as f64 }
}

fn gib(bytes: u64) -> f64 {
    bytes as f64 / (1u64 << 30) as f64
}

/// Changes from `before` to `after`, grouped by area in a fixed order, each area's changes sorted.
pub fn diff(before: &Snapshot, after: &Snapshot) -> Vec<Change> {
    let mut out = Vec::new();
    let mut add = |area, what: String| out.push(Change { area, what });

    let (old, new) = (findings::evaluate(before), findings::evaluate(after));
    for f in new.iter().filter(|f| !old.iter().any(|o| o.kind == f.kind && o.summary == f.summary)) {
        add(Area::Findings, format!("new: {}", f.summary));
    }
    for f in old.iter().filter(|o| !new.iter().any(|f| f.kind == o.kind)) {
        add(Area::Findings, format!("gone: {}", f.summary));
    }

    for d in &after.disks {
        match before.disks.iter().find(|b| b.mount_point == d.mount_point) {
            None => add(Area::Disks, format!("{} appeared ({:.1} GiB free)", d.mount_point, gib(d.available_bytes))),
            Some(b) => {
                let (was, now) = (pct(b.available_bytes, b.total_bytes), pct(d.available_bytes, d.total_bytes));
                if (now - was).abs() >= DISK_NOTICE_PCT {
                    add(
                        Area::Disks,
                        format!(
                            "{} free {:.1} -> {:.1} GiB ({was:.0} % -> {now:.0} % free)",
                            d.mount_point,
                            gib(b.available_bytes),
                            gib(d.available_bytes)
                        ),
                    );
                }
            }
        }
    }
    for b in before.disks.iter().filter(|b| !after.disks.iter().any(|d| d.mount_point == b.mount_point)) {
        add(Area::Disks, format!("{} is gone", b.mount_point));
    }

    let used = |s: &Snapshot| pct(s.memory.total_bytes.saturating_sub(s.memory.available_bytes), s.memory.total_bytes);
    let (was, now) = (used(before), used(after));
    if (now - was).abs() >= 10.0 {
        add(Area::Memory, format!("memory in use {was:.0} % -> {now:.0} %"));
    }

    let (bn, an) = (&before.network, &after.network);
    if bn.default_route != an.default_route {
        let show = |r: &Option<crate::wire::Route>| {
            r.as_ref().map_or_else(|| "none".to_owned(), |r| format!("via {} on {}", r.gateway, r.interface))
        };
        add(Area::Network, format!("default route {} -> {}", show(&bn.default_route), show(&an.default_route)));
    }
    if bn.dns_servers != an.dns_servers {
        add(Area::Network, format!("DNS servers {:?} -> {:?}", bn.dns_servers, an.dns_servers));
    }
    for i in &an.interfaces {
        match bn.interfaces.iter().find(|b| b.name == i.name) {
            None => add(Area::Network, format!("interface {} appeared {:?}", i.name, i.addresses)),
            Some(b) if b.addresses != i.addresses => {
                add(Area::Network, format!("interface {} addresses {:?} -> {:?}", i.name, b.addresses, i.addresses))
            }
            Some(_) => {}
        }
    }
    for b in bn.interfaces.iter().filter(|b| !an.interfaces.iter().any(|i| i.name == b.name)) {
        add(Area::Network, format!("interface {} is gone", b.name));
    }
    for p in &an.probes {
        if let Some(b) = bn.probes.iter().find(|b| b.kind == p.kind && b.target == p.target)
            && b.ok != p.ok
        {
            let state = |ok| if ok { "works" } else { "fails" };
            add(Area::Network, format!("{:?} probe of {} {} -> {}", p.kind, p.target, state(b.ok), state(p.ok)));
        }
    }

    let names = |s: &Snapshot| -> Vec<String> {
        let mut v: Vec<String> = s.processes.top_cpu.iter().map(|p| p.name.clone()).collect();
        v.sort();
        v.dedup();
        v
    };
    let (was, now) = (names(before), names(after));
    for n in now.iter().filter(|n| !was.contains(n)) {
        add(Area::Processes, format!("{n} is now among the busiest"));
    }
    for n in was.iter().filter(|n| !now.contains(n)) {
        add(Area::Processes, format!("{n} is no longer among the busiest"));
    }

    if after.host.boot_time_secs != before.host.boot_time_secs && before.host.boot_time_secs != 0 {
        add(Area::Host, "the machine restarted in between".to_owned());
    }
    if after.host.os_version != before.host.os_version || after.host.kernel != before.host.kernel {
        add(
            Area::Host,
            format!(
                "system {} {} -> {} {}",
                before.host.os_version, before.host.kernel, after.host.os_version, after.host.kernel
            ),
        );
    }
    out.sort_by(|a, b| (a.area, &a.what).cmp(&(b.area, &b.what)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{Disk, Interface, Probe, ProbeKind, Process, Route};

    fn machine() -> Snapshot {
        let mut s = Snapshot::default();
        s.memory.total_bytes = 8 << 30;
        s.memory.available_bytes = 6 << 30;
        s.disks = vec![Disk {
            mount_point: "/".into(),
            total_bytes: 100 << 30,
            available_bytes: 40 << 30,
            ..Disk::default()
        }];
        s.network.default_route = Some(Route { interface: "eth0".into(), gateway: "10.0.0.1".into() });
        s.network.dns_servers = vec!["10.0.0.1".into()];
        s.network.interfaces =
            vec![Interface { name: "eth0".into(), addresses: vec!["10.0.0.5/24".into()], ..Interface::default() }];
        s.network.probes = vec![Probe {
            kind: ProbeKind::Dns,
            target: "example.org".into(),
            ok: true,
            latency_us: Some(1),
            detail: String::new(),
        }];
        s.processes.top_cpu = vec![Process { name: "firefox".into(), ..Process::default() }];
        s.host.boot_time_secs = 1000;
        s
    }

    #[test]
    fn the_same_machine_twice_has_no_changes() {
        let mut later = machine();
        later.network.interfaces[0].rx_bytes += 1_000_000;
        later.disks[0].available_bytes -= 100 << 20;
        assert_eq!(diff(&machine(), &later), []);
    }

    #[test]
    fn what_a_technician_acts_on_is_reported() {
        let before = machine();
        let mut after = machine();
        after.disks[0].available_bytes = 2 << 30;
        after.network.default_route = None;
        after.network.probes[0].ok = false;
        after.processes.top_cpu = vec![Process { name: "backup".into(), ..Process::default() }];
        after.host.boot_time_secs = 5000;
        let changes = diff(&before, &after);
        let text: Vec<String> = changes.iter().map(|c| format!("{:?}: {}", c.area, c.what)).collect();
        let expect = [
            "Findings: new: The disk / is 98% full.",
            "Findings: new: There is no network route: this computer cannot reach the internet.",
            "Findings: new: Names are not resolving: websites cannot be found.",
            "Disks: / free 40.0 -> 2.0 GiB (40 % -> 2 % free)",
            "Network: default route via 10.0.0.1 on eth0 -> none",
            "Network: Dns probe of example.org works -> fails",
            "Processes: backup is now among the busiest",
            "Processes: firefox is no longer among the busiest",
            "Host: the machine restarted in between",
        ];
        for e in expect {
            assert!(text.iter().any(|t| t == e), "missing {e:?} in {text:#?}");
        }
        assert_eq!(text.len(), expect.len(), "{text:#?}");
        let areas: Vec<Area> = changes.iter().map(|c| c.area).collect();
        assert!(areas.windows(2).all(|w| w[0] <= w[1]), "grouped by area: {areas:?}");
        // And back: what appeared is now gone.
        let back = diff(&after, &before);
        assert!(back.iter().any(|c| c.area == Area::Findings && c.what.starts_with("gone:")), "{back:#?}");
    }
}
