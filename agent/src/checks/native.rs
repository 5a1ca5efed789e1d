//! One function per approved check, each returning a plain-text report for the technician. Facts a snapshot already
//! holds come from a fresh snapshot, so there is one place that reads sysinfo; the rest read the kernel's files.

use std::fmt::Write;
use std::time::{Duration, Instant};

use lifeline_shared::catalog::{Check, RecordType};
use lifeline_shared::dbus::MethodCall;
use lifeline_shared::wire::Snapshot;

use super::dbus::Bus;
use crate::collect::{CollectConfig, Collector};
use crate::config::Config;

pub async fn run(check: &Check, config: &Config, link: Option<&quinn::Connection>) -> Result<String, String> {
    match check {
        Check::SystemSummary => Ok(system_summary(&snapshot(5).await)),
        Check::TopProcesses { count } => Ok(top_processes(&snapshot(usize::from(*count)).await)),
        Check::NetworkInterfaces => Ok(network(&snapshot(1).await)),
        Check::DiskUsage { path } => disk_usage(path),
        Check::DnsResolve { name, record } => dns(name, *record).await,
        Check::TcpConnect { host, port } => tcp(host, *port).await,
        Check::ListeningPorts => blocking(imp::listening_ports).await,
        Check::ServiceStatus { unit } => {
            let unit = unit.clone();
            blocking(move || imp::service_status(&unit)).await
        }
        Check::PrinterQueue => super::cups::printer_queue(&config.cups_socket).await,
        Check::ProcessList { command_lines } => {
            process_list(*command_lines && config.process_command_lines, config.process_command_lines)
        }
        Check::RestartService { unit } => restart_service(unit, check.definition().time_limit).await,
        Check::FlushDnsCache => flush_dns_cache(check.definition().time_limit).await,
        Check::HttpReach { url } => http_reach(url).await,
        Check::Bandwidth { megabytes } => match link {
            Some(conn) => bandwidth(conn, *megabytes).await,
            None => Err("no connection to the server to measure".into()),
        },
        Check::ClearPrintQueue { printer } => super::cups::clear_print_queue(&config.cups_socket, printer).await,
        Check::JournalErrors { unit, hours } => {
            let (dirs, unit, hours) = (config.journal_dirs.clone(), unit.clone(), *hours);
            let deadline = super::journal::deadline(check.definition().time_limit);
            blocking(move || super::journal::journal_errors(&dirs, &unit, hours, deadline)).await
        }
        Check::Ping { host, count } => {
            let addr = resolve(host).await?;
            let (host, count) = (host.clone(), *count);
            blocking(move || ping(&host, addr, count)).await
        }
        Check::Traceroute { host, max_hops } => traceroute(host, *max_hops, check.definition().time_limit).await,
    }
}

/// The first address the system resolver gives, as every other program on the machine would use.
async fn resolve(host: &str) -> Result<std::net::IpAddr, String> {
    Ok(tokio::net::lookup_host((host, 0))
        .await
        .map_err(|e| format!("{host} does not resolve: {e}"))?
        .next()
        .ok_or_else(|| format!("{host} has no address"))?
        .ip())
}

#[cfg(target_os = "linux")]
async fn traceroute(host: &str, max_hops: u8, limit: Duration) -> Result<String, String> {
    let started = Instant::now();
    let addr = resolve(host).await?;
    // What the resolver took comes off the check's limit, with a margin, so that a long path is cut short by the
    // trace itself and reported as far as it got rather than lost to the runner's timeout.
    let budget = limit.saturating_sub(started.elapsed()).saturating_sub(Duration::from_secs(3));
    let host = host.to_owned();
    blocking(move || super::traceroute::trace(&host, addr, max_hops, budget)).await
}

#[cfg(not(target_os = "linux"))]
async fn traceroute(_host: &str, _max_hops: u8, _limit: Duration) -> Result<String, String> {
    Err("traceroute is not implemented on this OS yet".into())
}

/// Throughput over the agent's own QUIC connection, the path every snapshot takes: megabyte-sized probes up, then
/// down, one after another so each direction is measured alone.
async fn bandwidth(conn: &quinn::Connection, megabytes: u8) -> Result<String, String> {
    use lifeline_shared::wire::{MAX_PROBE_REPLY, Request, Response};
    let chunk = MAX_PROBE_REPLY as usize;
    let mut out =
        format!("over the agent's link to {} (round trip {} ms)\n", conn.remote_address(), conn.rtt().as_millis());
    for (direction, payload, reply_len) in [("up", chunk, 0), ("down", 0, MAX_PROBE_REPLY)] {
        let started = Instant::now();
        for _ in 0..megabytes {
            let probe = Request::Probe { payload: vec![0; payload], reply_len };
            match lifeline_net::frame::request(conn, &probe).await {
                Ok(Response::Probe { .. }) => {}
                Ok(other) => return Err(format!("the server answered the probe with {other:?}")),
                Err(e) => return Err(format!("probe {direction} failed: {e}")),
            }
        }
        let secs = started.elapsed().as_secs_f64().max(1e-6);
        let bytes = (chunk * usize::from(megabytes)) as f64;
        let _ = writeln!(
            out,
            "{direction:<4} {:.1} Mbit/s ({:.1} MB in {secs:.2} s)",
            bytes * 8.0 / secs / 1e6,
            bytes / 1e6
        );
    }
    Ok(out)
}

/// ICMP echo without a program: a ping socket where the kernel allows one to the agent's group
/// (`net.ipv4.ping_group_range`), a raw socket otherwise (which needs `CAP_NET_RAW`).
fn ping(host: &str, addr: std::net::IpAddr, count: u8) -> Result<String, String> {
    use socket2::{Domain, Protocol, SockAddr, Socket, Type};
    let (domain, protocol, echo, reply) = match addr {
        std::net::IpAddr::V4(_) => (Domain::IPV4, Protocol::ICMPV4, 8u8, 0u8),
        std::net::IpAddr::V6(_) => (Domain::IPV6, Protocol::ICMPV6, 128, 129),
    };
    let (socket, raw) = match Socket::new(domain, Type::DGRAM, Some(protocol)) {
        Ok(s) => (s, false),
        Err(_) => (
            Socket::new(domain, Type::RAW, Some(protocol)).map_err(|e| {
                format!(
                    "cannot open an ICMP socket ({e}): the agent needs CAP_NET_RAW, or its group in ping_group_range"
                )
            })?,
            true,
        ),
    };
    socket.connect(&SockAddr::from(std::net::SocketAddr::new(addr, 0))).map_err(|e| format!("{addr}: {e}"))?;
    socket.set_read_timeout(Some(Duration::from_millis(200))).map_err(|e| e.to_string())?;
    let socket = std::net::UdpSocket::from(socket);
    let ident = (std::process::id() as u16).to_be_bytes();
    let mut out = format!("ping {host} ({addr})\n");
    let mut rtts = Vec::new();
    for seq in 1..=u16::from(count) {
        let mut packet =
            [&[echo, 0, 0, 0][..], &ident, &seq.to_be_bytes(), b"lifeline-agent ping payload 32b"].concat();
        // The kernel fills in ICMPv6 checksums itself; ICMPv4 ones are ours to compute.
        if addr.is_ipv4() {
            let sum = icmp_checksum(&packet);
            packet[2..4].copy_from_slice(&sum.to_be_bytes());
        }
        let sent = Instant::now();
        socket.send(&packet).map_err(|e| format!("sending to {addr}: {e}"))?;
        let mut answered = None;
        let mut buf = [0u8; 1500];
        while answered.is_none() && sent.elapsed() < Duration::from_secs(1) {
            let Ok(n) = socket.recv(&mut buf) else { continue };
            // A raw IPv4 socket hands over the IP header too; everything else starts at the ICMP header.
            let skip = if raw && addr.is_ipv4() { usize::from(buf[0] & 0x0f) * 4 } else { 0 };
            let Some(icmp) = buf.get(skip..n) else { continue };
            if icmp.len() >= 8 && icmp[0] == reply && icmp[6..8] == seq.to_be_bytes() {
                answered = Some(sent.elapsed());
            }
        }
        match answered {
            Some(rtt) => {
                let _ = writeln!(out, "reply {seq}: {:.2} ms", rtt.as_secs_f64() * 1000.0);
                rtts.push(rtt.as_secs_f64() * 1000.0);
            }
            None => {
                let _ = writeln!(out, "reply {seq}: lost");
            }
        }
        if seq < u16::from(count) {
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    let loss = 100 * (usize::from(count) - rtts.len()) / usize::from(count);
    let _ = write!(out, "{} sent, {} received, {loss} % loss", count, rtts.len());
    if let (Some(min), Some(max)) = (rtts.iter().copied().reduce(f64::min), rtts.iter().copied().reduce(f64::max)) {
        let avg = rtts.iter().sum::<f64>() / rtts.len() as f64;
        let _ = write!(out, "; rtt min {min:.2} / avg {avg:.2} / max {max:.2} ms");
    }
    out.push('\n');
    Ok(out)
}

fn icmp_checksum(packet: &[u8]) -> u16 {
    let mut sum: u32 = packet.chunks(2).map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]))).sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// One GET with this machine's own trust store, so the answer is what the user's browser would meet; only the status
/// line is read.
async fn http_reach(url: &str) -> Result<String, String> {
    use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

    async fn exchange(mut s: impl AsyncRead + AsyncWrite + Unpin, request: &str) -> Result<String, String> {
        s.write_all(request.as_bytes()).await.map_err(|e| format!("sending the request: {e}"))?;
        let mut head = Vec::with_capacity(512);
        let mut buf = [0u8; 512];
        while !head.contains(&b'\n') && head.len() < 4096 {
            let n = s.read(&mut buf).await.map_err(|e| format!("reading the answer: {e}"))?;
            if n == 0 {
                break;
            }
            head.extend_from_slice(&buf[..n]);
        }
        let line = String::from_utf8_lossy(&head).lines().next().unwrap_or_default().trim().to_owned();
        match line.strip_prefix("HTTP/") {
            Some(_) => Ok(line),
            None => Err(format!("the server did not answer HTTP: {line:?}")),
        }
    }

    let parsed = lifeline_shared::catalog::Url::parse(url)?;
    let started = Instant::now();
    let tcp = tokio::net::TcpStream::connect((parsed.host, parsed.port))
        .await
        .map_err(|e| format!("{}:{}: {e} after {} ms", parsed.host, parsed.port, started.elapsed().as_millis()))?;
    let connect_ms = started.elapsed().as_millis();
    let host_header = if parsed.host.contains(':') { format!("[{}]", parsed.host) } else { parsed.host.to_owned() };
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: {host_header}\r\nUser-Agent: lifeline-agent\r\nConnection: close\r\n\r\n",
        parsed.path
    );
    let (status, tls) = if parsed.https {
        let mut roots = rustls::RootCertStore::empty();
        let native = rustls_native_certs::load_native_certs();
        let (added, _) = roots.add_parsable_certificates(native.certs);
        let config = rustls::ClientConfig::builder_with_provider(lifeline_net::tls::provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS setup: {e}"))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let name = rustls_pki_types::ServerName::try_from(parsed.host.to_owned()).map_err(|e| e.to_string())?;
        let stream =
            tokio_rustls::TlsConnector::from(std::sync::Arc::new(config)).connect(name, tcp).await.map_err(|e| {
                format!("TLS with {} is NOT valid for this machine ({added} trusted roots): {e}", parsed.host)
            })?;
        let tls = format!(", TLS certificate valid for {} ({} ms)", parsed.host, started.elapsed().as_millis());
        (exchange(stream, &request).await?, tls)
    } else {
        (exchange(tcp, &request).await?, String::new())
    };
    Ok(format!("{url}: {status} in {} ms (connect {connect_ms} ms{tls})\n", started.elapsed().as_millis()))
}

/// Asks systemd itself over the system bus: the same call `systemctl restart` makes, without starting a program.
async fn restart_service(unit: &str, limit: Duration) -> Result<String, String> {
    let mut bus = system_bus(limit).await?;
    let job = bus
        .call(&MethodCall {
            destination: "org.freedesktop.systemd1",
            path: "/org/freedesktop/systemd1",
            interface: "org.freedesktop.systemd1.Manager",
            member: "RestartUnit",
            args: &[unit, "replace"],
        })
        .await
        .map_err(|e| format!("systemd refused to restart {unit}: {e}"))?
        .ok_or("systemd's answer was unreadable: it holds no job path")?;
    Ok(format!("restart of {unit} queued as systemd job {job}\n"))
}

async fn flush_dns_cache(limit: Duration) -> Result<String, String> {
    let mut bus = system_bus(limit).await?;
    bus.call(&MethodCall {
        destination: "org.freedesktop.resolve1",
        path: "/org/freedesktop/resolve1",
        interface: "org.freedesktop.resolve1.Manager",
        member: "FlushCaches",
        args: &[],
    })
    .await
    .map_err(|e| format!("systemd-resolved did not flush its cache: {e}"))?;
    Ok("systemd-resolved's DNS cache is empty\n".into())
}

/// The whole conversation with the bus gets the check's limit less a second, so that a bus or a service that does not
/// answer is reported as such rather than as the runner's bare timeout.
async fn system_bus(limit: Duration) -> Result<Bus, String> {
    Bus::connect(&super::dbus::system_bus(), limit.saturating_sub(Duration::from_secs(1)))
        .await
        .map_err(|e| format!("cannot reach the system bus (is systemd running?): {e}"))
}

async fn snapshot(top_n: usize) -> Snapshot {
    Collector::new(CollectConfig { top_n, ..CollectConfig::default() }).snapshot([0; 16], 0).await
}

async fn blocking(f: impl FnOnce() -> Result<String, String> + Send + 'static) -> Result<String, String> {
    tokio::task::spawn_blocking(f).await.map_err(|e| format!("check task failed: {e}"))?
}

fn gib(bytes: u64) -> f64 {
    bytes as f64 / (1u64 << 30) as f64
}

fn system_summary(s: &Snapshot) -> String {
    let h = &s.host;
    let mut out =
        format!("host      {} ({} {}, kernel {}, {})\n", h.hostname, h.os_name, h.os_version, h.kernel, h.arch);
    let _ = writeln!(out, "uptime    {} h {} min", h.uptime_secs / 3600, h.uptime_secs % 3600 / 60);
    let _ = writeln!(out, "users     {}", h.users.join(", "));
    let _ = writeln!(
        out,
        "cpu       {} ({} cores), {:.0} % busy, load {:?}",
        s.cpu.model, s.cpu.logical_cores, s.cpu.usage_pct, s.cpu.load_avg
    );
    let m = &s.memory;
    let _ = writeln!(
        out,
        "memory    {:.1} GiB used of {:.1} GiB, {:.1} GiB available; swap {:.1} of {:.1} GiB",
        gib(m.used_bytes),
        gib(m.total_bytes),
        gib(m.available_bytes),
        gib(m.swap_used_bytes),
        gib(m.swap_total_bytes)
    );
    for d in &s.disks {
        let _ = writeln!(
            out,
            "disk      {} ({}) {:.1} GiB free of {:.1} GiB",
            d.mount_point,
            d.file_system,
            gib(d.available_bytes),
            gib(d.total_bytes)
        );
    }
    for p in &s.problems {
        let _ = writeln!(out, "note      {p}");
    }
    out
}

fn top_processes(s: &Snapshot) -> String {
    let mut out = format!("{} processes\n\nby CPU:\n", s.processes.count);
    let row = |p: &lifeline_shared::wire::Process| {
        format!(
            "  {:>7} {:>6.1} % {:>8.1} MiB  {:<10} {}\n",
            p.pid,
            p.cpu_pct,
            p.rss_bytes as f64 / 1048576.0,
            p.user.as_deref().unwrap_or("-"),
            p.name
        )
    };
    s.processes.top_cpu.iter().for_each(|p| out += &row(p));
    out += "\nby memory:\n";
    s.processes.top_memory.iter().for_each(|p| out += &row(p));
    out
}

fn network(s: &Snapshot) -> String {
    let n = &s.network;
    let mut out = String::new();
    for i in &n.interfaces {
        let _ = writeln!(
            out,
            "{:<12} {} {}  rx {} B ({} errors)  tx {} B ({} errors)",
            i.name,
            i.mac,
            i.addresses.join(" "),
            i.rx_bytes,
            i.rx_errors,
            i.tx_bytes,
            i.tx_errors
        );
    }
    let _ = match &n.default_route {
        Some(r) => writeln!(out, "default route via {} on {}", r.gateway, r.interface),
        None => writeln!(out, "no default route"),
    };
    let _ = writeln!(out, "dns servers {}", n.dns_servers.join(", "));
    out
}

fn disk_usage(path: &str) -> Result<String, String> {
    let stat = nix::sys::statvfs::statvfs(path).map_err(|e| format!("{path}: {e}"))?;
    let block = stat.fragment_size();
    let total = stat.blocks() * block;
    let free = stat.blocks_available() * block;
    let used_pct = if total == 0 { 0.0 } else { (total - free) as f64 * 100.0 / total as f64 };
    let inodes_pct = if stat.files() == 0 {
        0.0
    } else {
        (stat.files() - stat.files_available()) as f64 * 100.0 / stat.files() as f64
    };
    Ok(format!(
        "{path}: total {:.1} GiB, free {:.1} GiB, {used_pct:.0} % used; inodes {inodes_pct:.0} % used{}\n",
        gib(total),
        gib(free),
        if stat.flags().contains(nix::sys::statvfs::FsFlags::ST_RDONLY) { "; READ-ONLY" } else { "" }
    ))
}

async fn dns(name: &str, record: RecordType) -> Result<String, String> {
    let started = Instant::now();
    let addrs = tokio::net::lookup_host((name, 0)).await.map_err(|e| format!("{name} does not resolve: {e}"))?;
    let wanted: Vec<String> = addrs
        .map(|a| a.ip())
        .filter(|ip| match record {
            RecordType::A => ip.is_ipv4(),
            RecordType::Aaaa => ip.is_ipv6(),
        })
        .map(|ip| ip.to_string())
        .collect();
    let ms = started.elapsed().as_millis();
    if wanted.is_empty() {
        return Err(format!("{name} has no {record:?} address ({ms} ms)"));
    }
    Ok(format!("{name} {record:?}: {} ({ms} ms)\n", wanted.join(", ")))
}

async fn tcp(host: &str, port: u16) -> Result<String, String> {
    let started = Instant::now();
    match tokio::time::timeout(Duration::from_secs(5), tokio::net::TcpStream::connect((host, port))).await {
        Ok(Ok(stream)) => {
            let peer = stream.peer_addr().map(|a| a.to_string()).unwrap_or_default();
            Ok(format!("connected to {host}:{port} ({peer}) in {} ms\n", started.elapsed().as_millis()))
        }
        Ok(Err(e)) => Err(format!("{host}:{port}: {e} after {} ms", started.elapsed().as_millis())),
        Err(_) => Err(format!("{host}:{port}: no answer within 5 s")),
    }
}

fn process_list(with_command_lines: bool, allowed: bool) -> Result<String, String> {
    use sysinfo::{ProcessRefreshKind, ProcessesToUpdate, System, UpdateKind, Users};
    let mut sys = System::new().map_err(|e| format!("reading processes: {e}"))?;
    let kind = ProcessRefreshKind::nothing().with_user(UpdateKind::Always).with_memory();
    let kind = if with_command_lines { kind.with_cmd(UpdateKind::Always) } else { kind };
    sys.refresh_processes_specifics(ProcessesToUpdate::All, true, kind);
    let users = Users::new_with_refreshed_list().map_err(|e| format!("reading users: {e}"))?;
    let mut procs: Vec<_> = sys.processes().values().filter(|p| p.thread_kind().is_none()).collect();
    procs.sort_by_key(|p| p.pid());
    let mut out = format!(
        "{} processes{}\n",
        procs.len(),
        if allowed { "" } else { " (command lines withheld by this machine's policy)" }
    );
    for p in procs {
        let user = p
            .user_id()
            .and_then(|u| users.get_user_by_id(u))
            .map(|u| u.name().to_owned())
            .unwrap_or_else(|| "-".into());
        let _ = write!(
            out,
            "{:>7} {:<10} {:>8.1} MiB  {}",
            p.pid().as_u32(),
            user,
            p.memory() as f64 / 1048576.0,
            p.name().to_string_lossy()
        );
        if with_command_lines {
            let cmd: Vec<_> = p.cmd().iter().map(|a| a.to_string_lossy()).collect();
            let _ = write!(out, "  {}", cmd.join(" "));
        }
        out.push('\n');
    }
    Ok(out)
}

#[cfg(target_os = "linux")]
mod imp {
    use std::fmt::Write;

    pub fn listening_ports() -> Result<String, String> {
        let mut out = String::new();
        for (file, proto, listen_state) in
            [("tcp", "tcp", Some("0A")), ("tcp6", "tcp6", Some("0A")), ("udp", "udp", None), ("udp6", "udp6", None)]
        {
            let Ok(text) = std::fs::read_to_string(format!("/proc/net/{file}")) else { continue };
            for (addr, port) in parse_sockets(&text, listen_state) {
                let _ = writeln!(out, "{proto:<5} {addr}:{port}");
            }
        }
        if out.is_empty() {
            return Err("no socket tables readable in /proc/net".into());
        }
        Ok(out)
    }

    /// Local address and port of each socket in a /proc/net/{tcp,udp}[6] table, listening ones only for TCP.
    pub(super) fn parse_sockets(text: &str, listen_state: Option<&str>) -> Vec<(String, u16)> {
        let mut found: Vec<(String, u16)> = text
            .lines()
            .skip(1)
            .filter_map(|line| {
                let fields: Vec<&str> = line.split_whitespace().collect();
                let (local, state) = (fields.get(1)?, fields.get(3)?);
                if listen_state.is_some_and(|s| s != *state) {
                    return None;
                }
                let (ip_hex, port_hex) = local.split_once(':')?;
                Some((hex_ip(ip_hex)?, u16::from_str_radix(port_hex, 16).ok()?))
            })
            .collect();
        found.sort();
        found.dedup();
        found
    }

    /// The kernel writes addresses as 32-bit words in host (little-endian) order.
    fn hex_ip(hex: &str) -> Option<String> {
        let words: Vec<u32> = (0..hex.len() / 8)
            .map(|i| u32::from_str_radix(hex.get(i * 8..i * 8 + 8)?, 16).ok())
            .collect::<Option<_>>()?;
        let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
        match bytes.len() {
            4 => Some(std::net::Ipv4Addr::new(bytes[0], bytes[1], bytes[2], bytes[3]).to_string()),
            16 => <[u8; 16]>::try_from(bytes).ok().map(|b| format!("[{}]", std::net::Ipv6Addr::from(b))),
            _ => None,
        }
    }

    /// Whether a unit is installed and whether its control group has processes, read from systemd's files rather
    /// than by asking systemctl, which would mean running a program.
    pub fn service_status(unit: &str) -> Result<String, String> {
        let unit = if unit.contains('.') { unit.to_owned() } else { format!("{unit}.service") };
        let installed =
            ["/etc/systemd/system", "/run/systemd/system", "/usr/lib/systemd/system", "/lib/systemd/system"]
                .iter()
                .map(|dir| std::path::Path::new(dir).join(&unit))
                .find(|p| p.exists());
        let cgroup = std::path::Path::new("/sys/fs/cgroup/system.slice").join(&unit).join("cgroup.procs");
        let pids: Vec<String> = std::fs::read_to_string(&cgroup)
            .map(|t| t.split_whitespace().map(str::to_owned).collect())
            .unwrap_or_default();
        let mut out = match &installed {
            Some(path) => format!("{unit}: installed ({})\n", path.display()),
            None => format!("{unit}: no unit file found\n"),
        };
        if pids.is_empty() {
            out += "not running (no processes in its control group)\n";
        } else {
            let _ = writeln!(out, "running: {} process(es), pids {}", pids.len(), pids.join(" "));
        }
        Ok(out)
    }
}

#[cfg(not(target_os = "linux"))]
mod imp {
    pub fn listening_ports() -> Result<String, String> {
        Err("listening-ports is not implemented on this OS yet".into())
    }
    pub fn service_status(_unit: &str) -> Result<String, String> {
        Err("service-status is not implemented on this OS yet".into())
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::imp::*;

    #[test]
    fn parses_the_kernel_socket_tables() {
        let tcp = "  sl  local_address rem_address   st tx_queue rx_queue\n\
                   0: 0100007F:1D1B 00000000:0000 0A 00000000:00000000\n\
                   1: 0100007F:C350 0100007F:1D1B 01 00000000:00000000\n";
        assert_eq!(parse_sockets(tcp, Some("0A")), [("127.0.0.1".to_owned(), 7451)]);
        let tcp6 = "header\n 0: 00000000000000000000000001000000:0016 00000000000000000000000000000000:0000 0A x\n";
        assert_eq!(parse_sockets(tcp6, Some("0A")), [("[::1]".to_owned(), 22)]);
        assert!(parse_sockets("header\n 0: zz:zz 0 0A\n", None).is_empty());
    }

    #[tokio::test]
    async fn real_checks_on_this_machine() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let ports = listening_ports().unwrap();
        assert!(ports.contains(&format!("127.0.0.1:{port}")), "{ports}");
        let ok = super::tcp("127.0.0.1", port).await.unwrap();
        assert!(ok.contains("connected"));
        drop(listener);
        assert!(super::tcp("127.0.0.1", port).await.is_err());
        assert!(super::dns("localhost", lifeline_shared::catalog::RecordType::A).await.unwrap().contains("127.0.0.1"));
        assert!(super::disk_usage("/nonexistent-lifeline").is_err());
        assert!(service_status("no-such-unit-lifeline").unwrap().contains("not running"));
    }

    #[tokio::test]
    async fn http_reach_reads_the_status_and_refuses_untrusted_tls() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = tokio::spawn(async move {
            for answer in [&b"HTTP/1.1 204 No Content\r\n\r\n"[..], b"SSH-2.0-OpenSSH\r\n", b"\x16\x03\x01garbage"] {
                let (mut s, _) = listener.accept().await.unwrap();
                let mut buf = [0u8; 1024];
                let _ = s.read(&mut buf).await;
                s.write_all(answer).await.unwrap();
            }
        });
        let ok = super::http_reach(&format!("http://127.0.0.1:{port}/health")).await.unwrap();
        assert!(ok.contains("HTTP/1.1 204 No Content"), "{ok}");
        let not_http = super::http_reach(&format!("http://127.0.0.1:{port}/")).await.unwrap_err();
        assert!(not_http.contains("did not answer HTTP"), "{not_http}");
        let bad_tls = super::http_reach(&format!("https://127.0.0.1:{port}/")).await.unwrap_err();
        assert!(bad_tls.contains("NOT valid"), "{bad_tls}");
        server.await.unwrap();
    }

    #[tokio::test]
    async fn ping_answers_on_loopback() {
        let check = lifeline_shared::catalog::Check::Ping { host: "127.0.0.1".into(), count: 2 };
        let out = super::run(&check, &crate::config::Config::default(), None).await.unwrap();
        assert!(out.contains("2 sent, 2 received, 0 % loss"), "{out}");
    }

    #[test]
    fn icmp_checksum_matches_a_known_packet() {
        // An echo request with id 1, seq 1 and no payload: type 8, code 0, checksum 0xf7fd.
        assert_eq!(super::icmp_checksum(&[8, 0, 0, 0, 0, 1, 0, 1]), 0xf7fd);
    }
}
