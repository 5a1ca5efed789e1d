//! The catalog of approved remote checks: the only things a technician can make an agent do.
//!
//! Each check is a variant with typed parameters, a class (A read-only, B heavier diagnostics, C reversible fixes), the
//! lowest tier that may run it, a time limit and an output limit. Parameters are validated by the same code on the
//! server (before anything is sent) and on the agent (before anything runs), so a compromised server gains nothing by
//! skipping its own check. The implementations live in the agent; there is no way to express "run this command".

use std::time::Duration;

use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Class {
    /// Read-only facts about the machine; tier 1.
    A,
    /// Heavier diagnostics that generate traffic or reveal more; tier 2.
    B,
    /// Reversible fixes; tier 3, and off unless the machine's own policy enables them.
    C,
}

#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordType {
    A,
    Aaaa,
}

/// One approved check with its parameters. Variants are only ever appended (bincode encodes the index).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub enum Check {
    SystemSummary,
    TopProcesses { count: u8 },
    DiskUsage { path: String },
    NetworkInterfaces,
    DnsResolve { name: String, record: RecordType },
    TcpConnect { host: String, port: u16 },
    ListeningPorts,
    ServiceStatus { unit: String },
    PrinterQueue,
    ProcessList { command_lines: bool },
    RestartService { unit: String },
    FlushDnsCache,
    HttpReach { url: String },
    Ping { host: String, count: u8 },
    Bandwidth { megabytes: u8 },
    ClearPrintQueue { printer: String },
    JournalErrors { unit: String, hours: u8 },
    Traceroute { host: String, max_hops: u8 },
}

/// What every check is, apart from its parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Definition {
    pub name: &'static str,
    pub class: Class,
    /// Lowest technician tier (1 to 3) allowed to request it.
    pub min_tier: u8,
    pub time_limit: Duration,
    pub max_output: usize,
    /// Parameter names and what each accepts, for help texts and error messages.
    pub params: &'static [(&'static str, &'static str)],
    pub summary: &'static str,
}

const fn def(
    name: &'static str,
    class: Class,
    secs: u64,
    params: &'static [(&'static str, &'static str)],
    summary: &'static str,
) -> Definition {
    let min_tier = match class {
        Class::A => 1,
        Class::B => 2,
        Class::C => 3,
    };
    Definition { name, class, min_tier, time_limit: Duration::from_secs(secs), max_output: 64 * 1024, params, summary }
}

/// Every check, in catalog order.
pub const CATALOG: &[Definition] = &[
    def("system-summary", Class::A, 5, &[], "host, OS, uptime, CPU, memory and disks"),
    def("top-processes", Class::A, 5, &[("count", "1 to 50, default 10")], "the busiest processes by CPU and memory"),
    def(
        "disk-usage",
        Class::A,
        10,
        &[("path", "an absolute path")],
        "size and free space of the file system holding a path",
    ),
    def("network-interfaces", Class::A, 5, &[], "interfaces, addresses, counters and the default route"),
    def(
        "dns-resolve",
        Class::A,
        10,
        &[("name", "a host name"), ("record", "a or aaaa, default a")],
        "resolve a name with the machine's resolver",
    ),
    def(
        "tcp-connect",
        Class::A,
        10,
        &[("host", "a host name or IP address"), ("port", "1 to 65535")],
        "open a TCP connection and measure how long it takes",
    ),
    def("listening-ports", Class::A, 5, &[], "TCP and UDP ports this machine listens on"),
    def("service-status", Class::A, 5, &[("unit", "a systemd unit name")], "whether a systemd service is running"),
    def("printer-queue", Class::A, 5, &[], "print queues and their waiting jobs (CUPS)"),
    def(
        "process-list",
        Class::B,
        10,
        &[("command-lines", "yes or no, default no")],
        "every process, with command lines where the machine's policy allows",
    ),
    def(
        "restart-service",
        Class::C,
        30,
        &[("unit", "a systemd unit on the machine's allow-list")],
        "restart a service the machine's policy lists as restartable",
    ),
    def("flush-dns-cache", Class::C, 10, &[], "empty systemd-resolved's DNS cache"),
    def(
        "http-reach",
        Class::A,
        10,
        &[("url", "http:// or https:// URL, at most 255 bytes")],
        "fetch a URL: status, latency, and whether its TLS certificate is valid for this machine",
    ),
    def(
        "ping",
        Class::B,
        15,
        &[("host", "a host name or IP address"), ("count", "1 to 10, default 4")],
        "ICMP echo: round-trip times and loss",
    ),
    def(
        "bandwidth",
        Class::B,
        60,
        &[("megabytes", "1 to 16 each way, default 4")],
        "throughput up and down between this machine and the server, over the agent's own link",
    ),
    def(
        "clear-print-queue",
        Class::C,
        20,
        &[("printer", "a CUPS queue name: letters, digits, '-', '_', '.', at most 127 bytes")],
        "cancel every job waiting on one CUPS queue (cancelled jobs cannot be restored) and resume the queue if it \
         is stopped",
    ),
    def(
        "journal-errors",
        Class::A,
        20,
        &[("unit", "a systemd unit name"), ("hours", "1 to 72, default 24")],
        "the newest messages at priority err or worse that a systemd unit logged to the journal",
    ),
    def(
        "traceroute",
        Class::B,
        30,
        &[("host", "a host name or IP address"), ("max-hops", "1 to 30, default 16")],
        "the routers on the way to a host, hop by hop, with UDP probes; where the path ends and why",
    ),
];

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CatalogError {
    #[error("unknown check {0:?}; `check list` shows the catalog")]
    UnknownCheck(String),
    #[error("check {check} has no parameter {param:?}")]
    UnknownParam { check: &'static str, param: String },
    #[error("check {check} needs parameter {param:?}")]
    MissingParam { check: &'static str, param: &'static str },
    #[error("parameter {param:?} of {check}: {why}")]
    BadParam { check: &'static str, param: &'static str, why: String },
}

/// Longest text parameter; every one of ours (a path, a host name, a unit) fits well inside.
const MAX_TEXT: usize = 255;

impl Check {
    pub fn definition(&self) -> &'static Definition {
        let index = match self {
            Check::SystemSummary => 0,
            Check::TopProcesses { .. } => 1,
            Check::DiskUsage { .. } => 2,
            Check::NetworkInterfaces => 3,
            Check::DnsResolve { .. } => 4,
            Check::TcpConnect { .. } => 5,
            Check::ListeningPorts => 6,
            Check::ServiceStatus { .. } => 7,
            Check::PrinterQueue => 8,
            Check::ProcessList { .. } => 9,
            Check::RestartService { .. } => 10,
            Check::FlushDnsCache => 11,
            Check::HttpReach { .. } => 12,
            Check::Ping { .. } => 13,
            Check::Bandwidth { .. } => 14,
            Check::ClearPrintQueue { .. } => 15,
            Check::JournalErrors { .. } => 16,
            Check::Traceroute { .. } => const { position("traceroute") },
        };
        &CATALOG[index]
    }

    /// Builds a check from its catalog name and `key=value` parameters, refusing anything unknown or out of bounds.
    pub fn parse(name: &str, params: &[(String, String)]) -> Result<Check, CatalogError> {
        let definition =
            CATALOG.iter().find(|d| d.name == name).ok_or_else(|| CatalogError::UnknownCheck(name.to_owned()))?;
        let mut p = Params { check: definition.name, given: params, used: Vec::new() };
        let check = match definition.name {
            "system-summary" => Check::SystemSummary,
            "top-processes" => Check::TopProcesses { count: p.number("count", 1, 50, Some(10))? },
            "disk-usage" => Check::DiskUsage { path: p.text("path")? },
            "network-interfaces" => Check::NetworkInterfaces,
            "dns-resolve" => Check::DnsResolve {
                name: p.text("name")?,
                record: match p.optional("record")?.as_deref() {
                    None | Some("a") => RecordType::A,
                    Some("aaaa") => RecordType::Aaaa,
                    Some(_) => return Err(p.bad("record", "must be a or aaaa")),
                },
            },
            "tcp-connect" => Check::TcpConnect { host: p.text("host")?, port: p.number("port", 1, 65535, None)? },
            "listening-ports" => Check::ListeningPorts,
            "service-status" => Check::ServiceStatus { unit: p.text("unit")? },
            "printer-queue" => Check::PrinterQueue,
            "process-list" => Check::ProcessList {
                command_lines: match p.optional("command-lines")?.as_deref() {
                    None | Some("no") => false,
                    Some("yes") => true,
                    Some(_) => return Err(p.bad("command-lines", "must be yes or no")),
                },
            },
            "restart-service" => Check::RestartService { unit: p.text("unit")? },
            "flush-dns-cache" => Check::FlushDnsCache,
            "http-reach" => Check::HttpReach { url: p.text("url")? },
            "bandwidth" => Check::Bandwidth { megabytes: p.number("megabytes", 1, 16, Some(4))? },
            "ping" => Check::Ping { host: p.text("host")?, count: p.number("count", 1, 10, Some(4))? },
            "clear-print-queue" => Check::ClearPrintQueue { printer: p.text("printer")? },
            "journal-errors" => {
                Check::JournalErrors { unit: p.text("unit")?, hours: p.number("hours", 1, 72, Some(24))? }
            }
            "traceroute" => {
                Check::Traceroute { host: p.text("host")?, max_hops: p.number("max-hops", 1, 30, Some(16))? }
            }
            _ => return Err(CatalogError::UnknownCheck(name.to_owned())),
        };
        p.no_leftovers()?;
        check.validate()?;
        Ok(check)
    }

    /// The bounds every parameter must meet; run again by the agent on what it received.
    pub fn validate(&self) -> Result<(), CatalogError> {
        let check = self.definition().name;
        let bad = |param: &'static str, why: &str| CatalogError::BadParam { check, param, why: why.to_owned() };
        match self {
            Check::TopProcesses { count } if !(1..=50).contains(count) => Err(bad("count", "must be 1 to 50")),
            Check::DiskUsage { path } => {
                if path.is_empty() || path.len() > MAX_TEXT || !path.starts_with('/') {
                    Err(bad("path", "must be an absolute path of at most 255 bytes"))
                } else if path.split('/').any(|part| part == "..") {
                    Err(bad("path", "must not contain '..'"))
                } else if !path.chars().all(|c| c.is_alphanumeric() || " /._-+@,:=%".contains(c)) {
                    // No shell ever sees it, but a path with shell syntax in it is an attack, not a question.
                    Err(bad("path", "may hold letters, digits, spaces and / . _ - + @ , : = % only"))
                } else {
                    Ok(())
                }
            }
            Check::DnsResolve { name, .. } if !is_host_name(name) => Err(bad("name", "must be a host name")),
            Check::TcpConnect { host, .. } | Check::Ping { host, .. } | Check::Traceroute { host, .. }
                if !is_host_name(host) && host.parse::<std::net::IpAddr>().is_err() =>
            {
                Err(bad("host", "must be a host name or an IP address"))
            }
            Check::Ping { count, .. } if !(1..=10).contains(count) => Err(bad("count", "must be 1 to 10")),
            Check::Traceroute { max_hops, .. } if !(1..=30).contains(max_hops) => {
                Err(bad("max-hops", "must be 1 to 30"))
            }
            Check::Bandwidth { megabytes } if !(1..=16).contains(megabytes) => Err(bad("megabytes", "must be 1 to 16")),
            Check::TcpConnect { port: 0, .. } => Err(bad("port", "must be 1 to 65535")),
            Check::HttpReach { url } => Url::parse(url).map(drop).map_err(|why| bad("url", why)),
            Check::JournalErrors { hours, .. } if !(1..=72).contains(hours) => Err(bad("hours", "must be 1 to 72")),
            Check::ServiceStatus { unit } | Check::RestartService { unit } | Check::JournalErrors { unit, .. }
                if !is_unit_name(unit) =>
            {
                Err(bad("unit", "must be a systemd unit name (letters, digits, '@', '.', '_', '-', ':')"))
            }
            Check::ClearPrintQueue { printer } if !is_printer_name(printer) => Err(bad(
                "printer",
                "must be a CUPS queue name: 1 to 127 ASCII letters, digits, '-', '_' or '.', starting with a letter or \
                 digit",
            )),
            _ => Ok(()),
        }
    }

    /// A one-line description for audit logs and the user's history: what ran, with which parameters.
    pub fn describe(&self) -> String {
        let name = self.definition().name;
        match self {
            Check::TopProcesses { count } => format!("{name} count={count}"),
            Check::DiskUsage { path } => format!("{name} path={path}"),
            Check::DnsResolve { name: host, record } => format!("{name} name={host} record={record:?}"),
            Check::TcpConnect { host, port } => format!("{name} host={host} port={port}"),
            Check::ServiceStatus { unit } | Check::RestartService { unit } => format!("{name} unit={unit}"),
            Check::HttpReach { url } => format!("{name} url={url}"),
            Check::Ping { host, count } => format!("{name} host={host} count={count}"),
            Check::Bandwidth { megabytes } => format!("{name} megabytes={megabytes}"),
            Check::ProcessList { command_lines } => format!("{name} command-lines={command_lines}"),
            Check::ClearPrintQueue { printer } => format!("{name} printer={printer}"),
            Check::JournalErrors { unit, hours } => format!("{name} unit={unit} hours={hours}"),
            Check::Traceroute { host, max_hops } => format!("{name} host={host} max-hops={max_hops}"),
            _ => name.to_owned(),
        }
    }
}

struct Params<'a> {
    check: &'static str,
    given: &'a [(String, String)],
    used: Vec<&'a str>,
}

impl<'a> Params<'a> {
    fn bad(&self, param: &'static str, why: &str) -> CatalogError {
        CatalogError::BadParam { check: self.check, param, why: why.to_owned() }
    }

    fn optional(&mut self, key: &'static str) -> Result<Option<String>, CatalogError> {
        let mut found = self.given.iter().filter(|(k, _)| k == key);
        let value = found.next();
        if found.next().is_some() {
            return Err(self.bad(key, "given more than once"));
        }
        if let Some((k, v)) = value {
            self.used.push(k);
            if v.len() > MAX_TEXT {
                return Err(self.bad(key, "is longer than 255 bytes"));
            }
            return Ok(Some(v.clone()));
        }
        Ok(None)
    }

    fn text(&mut self, key: &'static str) -> Result<String, CatalogError> {
        self.optional(key)?.ok_or(CatalogError::MissingParam { check: self.check, param: key })
    }

    fn number<T: TryFrom<u64>>(
        &mut self,
        key: &'static str,
        min: u64,
        max: u64,
        default: Option<T>,
    ) -> Result<T, CatalogError> {
        let Some(text) = self.optional(key)? else {
            return default.ok_or(CatalogError::MissingParam { check: self.check, param: key });
        };
        let why = format!("must be a whole number from {min} to {max}");
        let n: u64 = text.parse().map_err(|_| self.bad(key, &why))?;
        if !(min..=max).contains(&n) {
            return Err(self.bad(key, &why));
        }
        T::try_from(n).map_err(|_| self.bad(key, &why))
    }

    fn no_leftovers(&self) -> Result<(), CatalogError> {
        match self.given.iter().find(|(k, _)| !self.used.contains(&k.as_str())) {
            Some((k, _)) => Err(CatalogError::UnknownParam { check: self.check, param: k.clone() }),
            None => Ok(()),
        }
    }
}

/// The parts of an `http-reach` URL, parsed by the same rules on both ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url<'a> {
    pub https: bool,
    pub host: &'a str,
    pub port: u16,
    /// Starts with `/`; holds the query too.
    pub path: &'a str,
}

impl<'a> Url<'a> {
    pub fn parse(url: &'a str) -> Result<Url<'a>, &'static str> {
        const WHY: &str = "must be http:// or https:// then a host name or IP, an optional port and path";
        if url.len() > MAX_TEXT {
            return Err("is longer than 255 bytes");
        }
        let (https, rest) = match (url.strip_prefix("https://"), url.strip_prefix("http://")) {
            (Some(rest), _) => (true, rest),
            (None, Some(rest)) => (false, rest),
            _ => return Err(WHY),
        };
        let (authority, path) = rest.find('/').map_or((rest, "/"), |i| rest.split_at(i));
        let (host, port) = match authority.strip_prefix('[') {
            Some(v6) => {
                let (ip, after) = v6.split_once(']').ok_or(WHY)?;
                ip.parse::<std::net::Ipv6Addr>().map_err(|_| WHY)?;
                (ip, after.strip_prefix(':'))
            }
            None => match authority.split_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (authority, None),
            },
        };
        let port = match port {
            None => {
                if https {
                    443
                } else {
                    80
                }
            }
            Some(p) => p.parse::<u16>().ok().filter(|p| *p > 0).ok_or("port must be 1 to 65535")?,
        };
        if !authority.starts_with('[') && !is_host_name(host) && host.parse::<std::net::Ipv4Addr>().is_err() {
            return Err(WHY);
        }
        // What a URL path needs, and none of what a shell would act on.
        if !path.chars().all(|c| c.is_ascii_alphanumeric() || "/-._~%?=&+,:@".contains(c)) {
            return Err("path may hold letters, digits and / - . _ ~ % ? = & + , : @ only");
        }
        Ok(Url { https, host, port, path })
    }
}

/// Where a check's definition sits in [`CATALOG`], found by name when the program is compiled, so that no index
/// written by hand can drift from the table; an unknown name fails the build.
const fn position(name: &str) -> usize {
    let mut i = 0;
    while i < CATALOG.len() {
        let (a, b) = (CATALOG[i].name.as_bytes(), name.as_bytes());
        if a.len() == b.len() {
            let mut j = 0;
            while j < a.len() && a[j] == b[j] {
                j += 1;
            }
            if j == a.len() {
                return i;
            }
        }
        i += 1;
    }
    panic!("a check missing from CATALOG")
}

fn is_host_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        })
}

fn is_unit_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_TEXT
        && !s.starts_with('-')
        && s.chars().all(|c| c.is_ascii_alphanumeric() || "@._-:".contains(c))
}

/// A local CUPS queue, stricter than CUPS itself: CUPS refuses spaces, controls, '/', '\\', '?', quotes and '#' and
/// allows up to 127 bytes, and reads what follows an '@' as a remote server, which is never a queue to clear here.
/// Names in other scripts are refused too; such a queue can be cleared on the machine itself.
fn is_printer_name(s: &str) -> bool {
    s.len() <= 127
        && s.starts_with(|c: char| c.is_ascii_alphanumeric())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(name: &str, params: &[(&str, &str)]) -> Result<Check, CatalogError> {
        let params: Vec<_> = params.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Check::parse(name, &params)
    }

    #[test]
    fn every_catalog_entry_maps_back_to_itself() {
        let samples = [
            parse("system-summary", &[]),
            parse("top-processes", &[]),
            parse("disk-usage", &[("path", "/home")]),
            parse("network-interfaces", &[]),
            parse("dns-resolve", &[("name", "example.org")]),
            parse("tcp-connect", &[("host", "10.0.0.1"), ("port", "443")]),
            parse("listening-ports", &[]),
            parse("service-status", &[("unit", "cups.service")]),
            parse("printer-queue", &[]),
            parse("process-list", &[("command-lines", "yes")]),
            parse("restart-service", &[("unit", "cups.service")]),
            parse("flush-dns-cache", &[]),
            parse("http-reach", &[("url", "https://example.org/")]),
            parse("ping", &[("host", "::1")]),
            parse("bandwidth", &[]),
            parse("clear-print-queue", &[("printer", "office-1")]),
            parse("journal-errors", &[("unit", "cups.service")]),
            parse("traceroute", &[("host", "example.org")]),
        ];
        assert_eq!(samples.len(), CATALOG.len());
        for (sample, def) in samples.into_iter().zip(CATALOG) {
            assert_eq!(sample.unwrap().definition(), def);
        }
    }

    #[test]
    fn accepted() {
        let cases = [
            (parse("top-processes", &[("count", "50")]), Check::TopProcesses { count: 50 }),
            (
                parse("dns-resolve", &[("name", "a.b"), ("record", "aaaa")]),
                Check::DnsResolve { name: "a.b".into(), record: RecordType::Aaaa },
            ),
            (
                parse("service-status", &[("unit", "sshd@1.service")]),
                Check::ServiceStatus { unit: "sshd@1.service".into() },
            ),
            (
                parse("tcp-connect", &[("host", "::1"), ("port", "22")]),
                Check::TcpConnect { host: "::1".into(), port: 22 },
            ),
            (
                parse("clear-print-queue", &[("printer", "HP_LaserJet-4.2nd")]),
                Check::ClearPrintQueue { printer: "HP_LaserJet-4.2nd".into() },
            ),
            (
                parse("journal-errors", &[("unit", "cups.service")]),
                Check::JournalErrors { unit: "cups.service".into(), hours: 24 },
            ),
            (
                parse("journal-errors", &[("unit", "sshd@1.service"), ("hours", "72")]),
                Check::JournalErrors { unit: "sshd@1.service".into(), hours: 72 },
            ),
            (
                parse("traceroute", &[("host", "192.0.2.1")]),
                Check::Traceroute { host: "192.0.2.1".into(), max_hops: 16 },
            ),
            (
                parse("traceroute", &[("host", "2001:db8::1"), ("max-hops", "30")]),
                Check::Traceroute { host: "2001:db8::1".into(), max_hops: 30 },
            ),
        ];
        for (got, expected) in cases {
            assert_eq!(got, Ok(expected));
        }
    }

    #[test]
    fn refused_with_a_clear_reason() {
        type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a str);
        let cases: &[Case] = &[
            ("rm-rf", &[], "unknown check \"rm-rf\""),
            ("shell", &[("cmd", "id")], "unknown check"),
            ("system-summary", &[("x", "1")], "has no parameter \"x\""),
            ("disk-usage", &[], "needs parameter \"path\""),
            ("disk-usage", &[("path", "relative")], "absolute path"),
            ("disk-usage", &[("path", "/home/../etc")], "'..'"),
            ("disk-usage", &[("path", "/; rm -rf /")], "letters, digits"),
            ("disk-usage", &[("path", "/tmp/$(id)")], "letters, digits"),
            ("top-processes", &[("count", "0")], "1 to 50"),
            ("top-processes", &[("count", "ten")], "1 to 50"),
            ("top-processes", &[("count", "5"), ("count", "6")], "more than once"),
            ("tcp-connect", &[("host", "a b"), ("port", "1")], "host name or an IP"),
            ("tcp-connect", &[("host", "a"), ("port", "70000")], "1 to 65535"),
            ("service-status", &[("unit", "--help")], "unit name"),
            ("service-status", &[("unit", "a;reboot")], "unit name"),
            ("dns-resolve", &[("name", "x"), ("record", "mx")], "a or aaaa"),
            ("http-reach", &[("url", "ftp://example.org/")], "http:// or https://"),
            ("ping", &[("host", "a;b")], "host name or an IP"),
            ("ping", &[("host", "a"), ("count", "11")], "1 to 10"),
            ("http-reach", &[("url", "http://example.org/$(id)")], "path may hold"),
            ("http-reach", &[("url", "http://user@example.org/")], "http:// or https://"),
            ("http-reach", &[("url", "http://example.org:0/")], "port must be"),
            ("http-reach", &[("url", "http://a b/")], "http:// or https://"),
            ("clear-print-queue", &[], "needs parameter \"printer\""),
            ("clear-print-queue", &[("printer", "")], "CUPS queue name"),
            ("clear-print-queue", &[("printer", "../x")], "CUPS queue name"),
            ("clear-print-queue", &[("printer", "a b")], "CUPS queue name"),
            ("clear-print-queue", &[("printer", ";rm")], "CUPS queue name"),
            ("clear-print-queue", &[("printer", "office@print.example.org")], "CUPS queue name"),
            ("clear-print-queue", &[("printer", "-x")], "CUPS queue name"),
            ("clear-print-queue", &[("printer", &"p".repeat(128))], "CUPS queue name"),
            ("journal-errors", &[], "needs parameter \"unit\""),
            ("journal-errors", &[("unit", "a;reboot")], "unit name"),
            ("journal-errors", &[("unit", "-x")], "unit name"),
            ("journal-errors", &[("unit", "cups"), ("hours", "0")], "1 to 72"),
            ("journal-errors", &[("unit", "cups"), ("hours", "73")], "1 to 72"),
            ("traceroute", &[], "needs parameter \"host\""),
            ("traceroute", &[("host", "a;b")], "host name or an IP"),
            ("traceroute", &[("host", "-I")], "host name or an IP"),
            ("traceroute", &[("host", "a"), ("max-hops", "0")], "1 to 30"),
            ("traceroute", &[("host", "a"), ("max-hops", "31")], "1 to 30"),
            ("traceroute", &[("host", "a"), ("probes", "3")], "has no parameter \"probes\""),
        ];
        for (name, params, expected) in cases {
            let err = parse(name, params).unwrap_err().to_string();
            assert!(err.contains(expected), "{name} {params:?}: {err}");
        }
        let long = "a".repeat(300);
        assert!(parse("service-status", &[("unit", &long)]).unwrap_err().to_string().contains("255"));
    }

    #[test]
    fn validate_catches_what_a_server_could_send_without_parsing() {
        let forged = [
            Check::TopProcesses { count: 200 },
            Check::DiskUsage { path: "/../../etc/shadow".into() },
            Check::ServiceStatus { unit: "-H evil".into() },
            Check::TcpConnect { host: "x".into(), port: 0 },
            Check::ClearPrintQueue { printer: "x/../y".into() },
            Check::ClearPrintQueue { printer: "p".repeat(300) },
            Check::JournalErrors { unit: "cups.service".into(), hours: 0 },
            Check::JournalErrors { unit: "cups.service".into(), hours: 200 },
            Check::JournalErrors { unit: "../x y".into(), hours: 24 },
            Check::Traceroute { host: "x".into(), max_hops: 0 },
            Check::Traceroute { host: "x".into(), max_hops: 255 },
            Check::Traceroute { host: "$(id)".into(), max_hops: 4 },
        ];
        for check in forged {
            assert!(check.validate().is_err(), "{check:?}");
        }
    }

    #[test]
    fn urls() {
        let ok = |url, https, host, port, path| {
            assert_eq!(Url::parse(url), Ok(Url { https, host, port, path }), "{url}");
        };
        ok("https://example.org", true, "example.org", 443, "/");
        ok("http://10.0.0.1:8080/status?full=1&x=%20", false, "10.0.0.1", 8080, "/status?full=1&x=%20");
        ok("https://[::1]:7443/health", true, "::1", 7443, "/health");
        for bad in ["https://[::1/", "https://:80/", "http://host:99999/", "https://exa mple.org/", "http://h/a\nb"] {
            assert!(Url::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn tiers_follow_classes() {
        for d in CATALOG {
            let expected = match d.class {
                Class::A => 1,
                Class::B => 2,
                Class::C => 3,
            };
            assert_eq!(d.min_tier, expected, "{}", d.name);
        }
    }
}
