//! Rules that read one snapshot and say, in words a stressed non-technical person can act on, what looks wrong.
//!
//! The rules live here rather than in the server so the agent can show the same findings offline that a technician
//! later sees on the ticket. Summaries say what is wrong; advice says what the person can try alone.

use std::cmp::Reverse;

use serde::{Deserialize, Serialize};

use crate::wire::{ProbeKind, Snapshot};

/// Most people notice a slow or failing machine before 90 % but still have room to clean up at that point.
const DISK_WARNING_PCT: f64 = 90.0;
/// Past this, saves, updates and even logins start to fail on a typical desktop disk.
const DISK_CRITICAL_PCT: f64 = 97.0;
/// Below this share of memory available the system starts evicting working pages and everything feels slow.
const MEMORY_WARNING_PCT: f64 = 10.0;
/// Below this the kernel's out-of-memory killer is close and programs may be closed without asking.
const MEMORY_CRITICAL_PCT: f64 = 5.0;
/// Linux keeps idle pages in swap for a long time, so moderate use is normal; nearly full swap is not.
const SWAP_WARNING_PCT: f64 = 80.0;
/// sysinfo reports per-core percentages, so at 90 a process is keeping a whole core busy by itself.
const RUNAWAY_CPU_PCT: f32 = 90.0;
/// Used when a sensor reports no critical point: most CPUs and GPUs throttle around 90–100 °C.
const DEFAULT_HOT_CELSIUS: f32 = 90.0;
/// Some drivers report a critical point of 0 or a few degrees; trusting that would call every sensor overheating.
const MIN_PLAUSIBLE_CRITICAL_CELSIUS: f32 = 50.0;
/// Around 10 % most laptops warn and soon suspend; anything higher is ordinary use.
const BATTERY_LOW_PCT: f32 = 10.0;

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Finding {
    pub kind: FindingKind,
    pub severity: Severity,
    pub category: Category,
    /// In English, for technicians and logs; the user's desktop program words it in the user's language from
    /// `kind`, `about` and `figure` instead.
    pub summary: String,
    pub advice: String,
    /// What the finding is about, where it names something: a mount point, a program, a sensor, a server address.
    pub about: String,
    /// The number the summary quotes, rounded: a percentage or degrees Celsius.
    pub figure: Option<u32>,
}

/// Findings may be stored and sent, so variants are only ever added at the end.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum FindingKind {
    DiskNearlyFull,
    MemoryPressure,
    NoDefaultRoute,
    DnsFailing,
    RunawayProcess,
    HighTemperature,
    BatteryLow,
    SwapHeavy,
    ServerUnreachable,
}

impl FindingKind {
    pub const ALL: [FindingKind; 9] = [
        FindingKind::DiskNearlyFull,
        FindingKind::MemoryPressure,
        FindingKind::NoDefaultRoute,
        FindingKind::DnsFailing,
        FindingKind::RunawayProcess,
        FindingKind::HighTemperature,
        FindingKind::BatteryLow,
        FindingKind::SwapHeavy,
        FindingKind::ServerUnreachable,
    ];
}

#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

/// Ticket categories; [`Category::as_str`] is the stable spelling used in storage and the console.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
// Named apart from the help desk's own categories in the API's description.
#[cfg_attr(feature = "openapi", schema(as = FindingCategory))]
pub enum Category {
    Storage,
    Network,
    Performance,
    Hardware,
    Other,
}

impl Category {
    const ALL: [Category; 5] =
        [Category::Storage, Category::Network, Category::Performance, Category::Hardware, Category::Other];

    pub fn as_str(self) -> &'static str {
        match self {
            Category::Storage => "storage",
            Category::Network => "network",
            Category::Performance => "performance",
            Category::Hardware => "hardware",
            Category::Other => "other",
        }
    }

    /// Case-insensitive, because the value may come from a form or a config file typed by a person.
    pub fn parse(s: &str) -> Option<Category> {
        Category::ALL.into_iter().find(|c| c.as_str().eq_ignore_ascii_case(s))
    }
}

/// Every finding the snapshot supports, most severe first; equal severities are ordered by kind, then summary, so the
/// same snapshot always yields the same list.
pub fn evaluate(snapshot: &Snapshot) -> Vec<Finding> {
    let mut findings = Vec::new();
    disks(snapshot, &mut findings);
    memory(snapshot, &mut findings);
    network(snapshot, &mut findings);
    processes(snapshot, &mut findings);
    hardware(snapshot, &mut findings);
    findings.sort_by(|a, b| (Reverse(a.severity), a.kind, &a.summary).cmp(&(Reverse(b.severity), b.kind, &b.summary)));
    findings
}

/// The category of the most severe finding (ties go to the lower kind, as in [`evaluate`]), whatever the slice order.
pub fn suggested_category(findings: &[Finding]) -> Option<Category> {
    findings.iter().min_by_key(|f| (Reverse(f.severity), f.kind)).map(|f| f.category)
}

impl Finding {
    pub fn new(kind: FindingKind, severity: Severity, about: &str, figure: Option<f64>) -> Finding {
        // Rounded once here, so the English words and every translation quote the same number.
        let figure = figure.map(|f| f.round().clamp(0.0, f64::from(u32::MAX)) as u32);
        let (category, summary, advice) = english(kind, about, figure.unwrap_or_default());
        Finding { kind, severity, category, summary, advice, about: about.to_owned(), figure }
    }
}

/// The category and English words of each kind; `help/i18n/*/lifeline-help.ftl` carry the same in every language we
/// ship (a test there holds the English file to these).
fn english(kind: FindingKind, about: &str, figure: u32) -> (Category, String, String) {
    use Category::*;
    use FindingKind::*;
    let (category, summary, advice) = match kind {
        DiskNearlyFull => (
            Storage,
            format!("The disk {about} is {figure}% full."),
            format!("Empty the trash and remove large files you no longer need from {about}."),
        ),
        MemoryPressure => (
            Performance,
            format!("The computer is running out of memory: only {figure}% is free."),
            "Save your work, then close programs and browser tabs you are not using.".to_owned(),
        ),
        SwapHeavy => (
            Performance,
            "The computer has run short of memory for a while and is slowing down.".to_owned(),
            "Save your work and restart the computer.".to_owned(),
        ),
        NoDefaultRoute => (
            Network,
            "There is no network route: this computer cannot reach the internet.".to_owned(),
            "Check that the network cable is plugged in, or that Wi-Fi is switched on and connected.".to_owned(),
        ),
        DnsFailing => (
            Network,
            "Names are not resolving: websites cannot be found.".to_owned(),
            "Turn Wi-Fi off and on again, or restart your router, then try again.".to_owned(),
        ),
        ServerUnreachable => (
            Network,
            format!("The computer cannot reach the help desk's server ({about})."),
            "Check that you are connected to the internet, then try again in a few minutes.".to_owned(),
        ),
        RunawayProcess => (
            Performance,
            format!("The program \"{about}\" is keeping the processor busy."),
            format!("If \"{about}\" is not doing something you asked for, save your work, close it and open it again."),
        ),
        HighTemperature => (
            Hardware,
            format!("The computer is overheating ({about} at {figure} °C)."),
            "Make sure the air vents are not blocked, put the computer on a hard surface and let it cool down."
                .to_owned(),
        ),
        BatteryLow => {
            (Hardware, format!("The battery is nearly empty ({figure}%)."), "Plug in the charger.".to_owned())
        }
    };
    (category, summary, advice)
}

fn percent(part: u64, whole: u64) -> f64 {
    part as f64 * 100.0 / whole as f64
}

fn disks(snapshot: &Snapshot, out: &mut Vec<Finding>) {
    for disk in snapshot.disks.iter().filter(|d| d.total_bytes > 0) {
        let used = percent(disk.total_bytes.saturating_sub(disk.available_bytes), disk.total_bytes);
        let severity = if used > DISK_CRITICAL_PCT {
            Severity::Critical
        } else if used > DISK_WARNING_PCT {
            Severity::Warning
        } else {
            continue;
        };
        out.push(Finding::new(FindingKind::DiskNearlyFull, severity, &disk.mount_point, Some(used)));
    }
}

fn memory(snapshot: &Snapshot, out: &mut Vec<Finding>) {
    let m = &snapshot.memory;
    if m.total_bytes > 0 {
        let free = percent(m.available_bytes, m.total_bytes);
        let severity = if free < MEMORY_CRITICAL_PCT {
            Some(Severity::Critical)
        } else if free < MEMORY_WARNING_PCT {
            Some(Severity::Warning)
        } else {
            None
        };
        if let Some(severity) = severity {
            out.push(Finding::new(FindingKind::MemoryPressure, severity, "", Some(free)));
        }
    }
    if m.swap_total_bytes > 0 && percent(m.swap_used_bytes, m.swap_total_bytes) > SWAP_WARNING_PCT {
        out.push(Finding::new(FindingKind::SwapHeavy, Severity::Warning, "", None));
    }
}

fn network(snapshot: &Snapshot, out: &mut Vec<Finding>) {
    let net = &snapshot.network;
    if net.default_route.is_none() {
        out.push(Finding::new(FindingKind::NoDefaultRoute, Severity::Critical, "", None));
    }
    if net.probes.iter().any(|p| p.kind == ProbeKind::Dns && !p.ok) {
        out.push(Finding::new(FindingKind::DnsFailing, Severity::Critical, "", None));
    }
    for probe in net.probes.iter().filter(|p| matches!(p.kind, ProbeKind::Tcp | ProbeKind::Link) && !p.ok) {
        out.push(Finding::new(FindingKind::ServerUnreachable, Severity::Warning, &probe.target, None));
    }
}

fn processes(snapshot: &Snapshot, out: &mut Vec<Finding>) {
    for p in snapshot.processes.top_cpu.iter().filter(|p| p.cpu_pct >= RUNAWAY_CPU_PCT) {
        out.push(Finding::new(FindingKind::RunawayProcess, Severity::Warning, &p.name, None));
    }
}

fn hardware(snapshot: &Snapshot, out: &mut Vec<Finding>) {
    let hot = snapshot
        .temperatures
        .iter()
        .filter(|t| {
            let limit =
                t.critical_celsius.filter(|c| *c >= MIN_PLAUSIBLE_CRITICAL_CELSIUS).unwrap_or(DEFAULT_HOT_CELSIUS);
            t.celsius >= limit
        })
        .max_by(|a, b| a.celsius.total_cmp(&b.celsius));
    // One finding for the hottest sensor: cores heat up together, and eight identical findings help nobody.
    if let Some(t) = hot {
        out.push(Finding::new(FindingKind::HighTemperature, Severity::Warning, &t.label, Some(f64::from(t.celsius))));
    }
    if let Some(b) = snapshot.battery.as_ref().filter(|b| b.percent < BATTERY_LOW_PCT && !b.charging) {
        out.push(Finding::new(FindingKind::BatteryLow, Severity::Info, "", Some(f64::from(b.percent))));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{Battery, Disk, Memory, Probe, Process, Route, Temperature};
    use FindingKind::*;
    use Severity::*;

    const GIB: u64 = 1 << 30;

    /// `Snapshot::default()` has no default route, so a healthy machine is built explicitly.
    fn healthy() -> Snapshot {
        let mut s = Snapshot::default();
        s.network.default_route = Some(Route { interface: "eth0".into(), gateway: "192.168.1.1".into() });
        s.memory = Memory { total_bytes: 16 * GIB, available_bytes: 8 * GIB, ..Memory::default() };
        s.disks = vec![disk("/", 100, 50)];
        s
    }

    fn disk(mount: &str, total: u64, available: u64) -> Disk {
        Disk { mount_point: mount.into(), total_bytes: total, available_bytes: available, ..Disk::default() }
    }

    fn probe(kind: ProbeKind, ok: bool) -> Probe {
        Probe { kind, target: "example.org:443".into(), ok, latency_us: None, detail: String::new() }
    }

    fn process(name: &str, cpu_pct: f32) -> Process {
        Process { name: name.into(), cpu_pct, ..Process::default() }
    }

    fn temperature(celsius: f32, critical_celsius: Option<f32>) -> Temperature {
        Temperature { label: "cpu".into(), celsius, critical_celsius }
    }

    fn battery(percent: f32, charging: bool) -> Option<Battery> {
        Some(Battery { percent, charging, health_pct: None })
    }

    fn kinds(snapshot: &Snapshot) -> Vec<(FindingKind, Severity)> {
        evaluate(snapshot).iter().map(|f| (f.kind, f.severity)).collect()
    }

    /// `edit` turns a healthy snapshot into the case under test.
    fn check(case: &str, edit: impl FnOnce(&mut Snapshot), expected: &[(FindingKind, Severity)]) {
        let mut snapshot = healthy();
        edit(&mut snapshot);
        assert_eq!(kinds(&snapshot), expected, "case: {case}");
    }

    #[test]
    fn rules() {
        check("healthy", |_| {}, &[]);
        check("disk at exactly 90%", |s| s.disks = vec![disk("/", 100, 10)], &[]);
        check("disk 95%", |s| s.disks = vec![disk("/", 100, 5)], &[(DiskNearlyFull, Warning)]);
        check("disk 98%", |s| s.disks = vec![disk("/", 100, 2)], &[(DiskNearlyFull, Critical)]);
        check("pseudo fs", |s| s.disks = vec![disk("/proc", 0, 0)], &[]);
        check("memory 8% free", |s| s.memory.available_bytes = 16 * GIB * 8 / 100, &[(MemoryPressure, Warning)]);
        check("memory 3% free", |s| s.memory.available_bytes = 16 * GIB * 3 / 100, &[(MemoryPressure, Critical)]);
        check("memory unknown", |s| s.memory = Memory::default(), &[]);
        check("swap half used", |s| (s.memory.swap_total_bytes, s.memory.swap_used_bytes) = (10, 5), &[]);
        check(
            "swap nearly full",
            |s| (s.memory.swap_total_bytes, s.memory.swap_used_bytes) = (10, 9),
            &[(SwapHeavy, Warning)],
        );
        check("no default route", |s| s.network.default_route = None, &[(NoDefaultRoute, Critical)]);
        check("dns ok", |s| s.network.probes = vec![probe(ProbeKind::Dns, true)], &[]);
        check(
            "dns failing twice",
            |s| s.network.probes = vec![probe(ProbeKind::Dns, false), probe(ProbeKind::Dns, false)],
            &[(DnsFailing, Critical)],
        );
        check("tcp ok", |s| s.network.probes = vec![probe(ProbeKind::Tcp, true)], &[]);
        check(
            "tcp failing",
            |s| s.network.probes = vec![probe(ProbeKind::Tcp, false)],
            &[(ServerUnreachable, Warning)],
        );
        check(
            "one runaway process",
            |s| s.processes.top_cpu = vec![process("spin", 180.0), process("busy", 89.9)],
            &[(RunawayProcess, Warning)],
        );
        check(
            "hot sensors give one finding",
            |s| s.temperatures = vec![temperature(80.0, Some(80.0)), temperature(85.0, Some(80.0))],
            &[(HighTemperature, Warning)],
        );
        check("warm, no critical point", |s| s.temperatures = vec![temperature(89.0, None)], &[]);
        check(
            "hot, no critical point",
            |s| s.temperatures = vec![temperature(90.0, None)],
            &[(HighTemperature, Warning)],
        );
        check("bogus critical point", |s| s.temperatures = vec![temperature(40.0, Some(0.0))], &[]);
        check("battery low", |s| s.battery = battery(7.0, false), &[(BatteryLow, Info)]);
        check("battery low, charging", |s| s.battery = battery(7.0, true), &[]);
        check("battery at 10%", |s| s.battery = battery(10.0, false), &[]);
    }

    #[test]
    fn most_severe_first_and_deterministic() {
        let mut s = healthy();
        s.battery = battery(5.0, false);
        s.processes.top_cpu = vec![process("b", 95.0), process("a", 99.0)];
        s.network.default_route = None;
        s.disks = vec![disk("/home", 100, 1), disk("/", 100, 5)];
        let expected = [
            (DiskNearlyFull, Critical),
            (NoDefaultRoute, Critical),
            (DiskNearlyFull, Warning),
            (RunawayProcess, Warning),
            (RunawayProcess, Warning),
            (BatteryLow, Info),
        ];
        assert_eq!(kinds(&s), expected);
        let findings = evaluate(&s);
        assert!(findings[3].summary.contains("\"a\""), "equal kinds ordered by summary: {findings:#?}");
        assert_eq!(findings, evaluate(&s));
    }

    #[test]
    fn summaries_name_what_is_wrong() {
        let mut s = healthy();
        s.disks = vec![disk("/home", 1000, 45)];
        let f = &evaluate(&s)[0];
        assert_eq!(f.summary, "The disk /home is 96% full.");
        assert!(f.advice.contains("/home"), "{}", f.advice);
    }

    #[test]
    fn suggested_category_follows_most_severe() {
        let mut s = healthy();
        assert_eq!(suggested_category(&evaluate(&s)), None);
        s.battery = battery(5.0, false);
        s.disks = vec![disk("/", 100, 5)];
        let mut findings = evaluate(&s);
        assert_eq!(suggested_category(&findings), Some(Category::Storage));
        findings.reverse();
        assert_eq!(suggested_category(&findings), Some(Category::Storage), "independent of slice order");
        s.network.default_route = None;
        assert_eq!(suggested_category(&evaluate(&s)), Some(Category::Network));
    }

    #[test]
    fn category_round_trips() {
        for c in Category::ALL {
            assert_eq!(Category::parse(c.as_str()), Some(c));
            assert_eq!(Category::parse(&c.as_str().to_uppercase()), Some(c));
        }
        assert_eq!(Category::parse("storage"), Some(Category::Storage));
        assert_eq!(Category::parse("disk"), None);
        assert_eq!(Category::parse(""), None);
    }
}
