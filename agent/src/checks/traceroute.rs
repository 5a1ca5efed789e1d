//! UDP traceroute the way `tracepath` does it, so that it needs no raw socket, no capability and no program: probes
//! leave an ordinary UDP socket with a rising TTL (hop limit) for an unused high port, and the ICMP errors they provoke
//! come back on that socket's error queue (`IP_RECVERR`, `IPV6_RECVERR`), each naming the router that sent it and,
//! through the quoted destination port, the probe it answers. nix does the `recvmsg` and reads the control message
//! (refusing a truncated one, and taking the offender's address only where the kernel's length covers it), so this
//! file holds no `unsafe`.

use std::fmt::Write;
use std::io::IoSliceMut;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::os::fd::{AsFd, AsRawFd};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::libc;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::socket::{ControlMessageOwned, MsgFlags, SockaddrStorage, recvmsg, setsockopt, sockopt};

/// Traceroute's customary first port; each probe takes the next one, so that an answer names its probe.
const BASE_PORT: u16 = 33434;
/// Probes per hop, sent together: three round trips per router, and a router that drops one is still seen.
const PROBES: usize = 3;
/// How long a hop's answers are awaited: far longer than any sane round trip, short enough for 30 hops.
const HOP_WAIT: Duration = Duration::from_secs(1);
const PAYLOAD: &[u8] = b"lifeline-agent traceroute probe";

/// What one ICMP error says about the path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// A router on the way let the probe's TTL run out.
    Hop,
    /// The target itself answered: nothing listens on the probe's port.
    Reached,
    /// The path ends here, for this reason.
    Unreachable(&'static str),
}

/// Reads a `sock_extended_err`'s origin, ICMP type and code; `None` for errors that say nothing about the path (a
/// local error, a "packet too big").
pub fn verdict(origin: u8, kind: u8, code: u8) -> Option<Verdict> {
    match (origin, kind, code) {
        (libc::SO_EE_ORIGIN_ICMP, 11, 0) | (libc::SO_EE_ORIGIN_ICMP6, 3, 0) => Some(Verdict::Hop),
        (libc::SO_EE_ORIGIN_ICMP, 3, 3) | (libc::SO_EE_ORIGIN_ICMP6, 1, 4) => Some(Verdict::Reached),
        (libc::SO_EE_ORIGIN_ICMP, 3, code) => Some(Verdict::Unreachable(match code {
            0 | 6 | 11 => "network unreachable",
            1 | 7 | 12 => "host unreachable",
            2 => "protocol unreachable",
            4 => "fragmentation needed",
            5 => "source route failed",
            9 | 10 | 13 => "administratively prohibited (filtered)",
            _ => "destination unreachable",
        })),
        (libc::SO_EE_ORIGIN_ICMP6, 1, code) => Some(Verdict::Unreachable(match code {
            0 => "no route to the destination",
            1 => "administratively prohibited (filtered)",
            2 => "beyond the scope of the source address",
            3 => "address unreachable",
            5 | 6 => "rejected by a routing policy",
            _ => "destination unreachable",
        })),
        _ => None,
    }
}

/// One entry read from the error queue.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Report {
    /// The destination port of the probe it answers.
    port: u16,
    /// Who sent the ICMP error; unknown when the kernel gave no offender.
    from: Option<IpAddr>,
    verdict: Verdict,
}

/// One probe's answer: who, after how long, and what it said.
type Answer = (Option<IpAddr>, Duration, Verdict);

/// Traces the path to `target` hop by hop until it is reached, a router says it cannot be, `max_hops` are spent or
/// `budget` runs out; the report lists every hop either way, since a partial path is exactly what a technician needs.
pub fn trace(host: &str, target: IpAddr, max_hops: u8, budget: Duration) -> Result<String, String> {
    let started = Instant::now();
    let socket = open(target)?;
    let mut out = format!("traceroute {host} ({target}), at most {max_hops} hops, {PROBES} UDP probes each\n");
    for hop in 1..=max_hops {
        if started.elapsed() + HOP_WAIT > budget {
            let _ = writeln!(out, "stopped before hop {hop}: the check's time is up");
            return Ok(out);
        }
        let ttl = libc::c_int::from(hop);
        match target {
            IpAddr::V4(_) => setsockopt(&socket, sockopt::Ipv4Ttl, &ttl),
            IpAddr::V6(_) => setsockopt(&socket, sockopt::Ipv6Ttl, &ttl),
        }
        .map_err(|e| format!("cannot set the TTL to {hop}: {e}"))?;
        let first_port = BASE_PORT + u16::from(hop - 1) * PROBES as u16;
        let mut sent = [None; PROBES];
        let mut answers: [Option<Answer>; PROBES] = [None; PROBES];
        for i in 0..PROBES {
            let to = SocketAddr::new(target, first_port + i as u16);
            // An ICMP error left pending makes the next send fail with it; reading the queue first clears it.
            collect(&socket, first_port, &sent, &mut answers);
            let result = socket.send_to(PAYLOAD, to).or_else(|_| {
                collect(&socket, first_port, &sent, &mut answers);
                socket.send_to(PAYLOAD, to)
            });
            match result {
                Ok(_) => sent[i] = Some(Instant::now()),
                Err(e) => return Err(format!("{out}stopped at hop {hop}: cannot send a probe to {to}: {e}")),
            }
        }
        let deadline = Instant::now() + HOP_WAIT;
        while answers.iter().any(Option::is_none) {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            // Only errors are awaited: POLLERR is reported whatever the requested events, and a reply with data
            // (something does listen on the port) is not what a probe asks for.
            let mut fds = [PollFd::new(socket.as_fd(), PollFlags::empty())];
            match poll(&mut fds, PollTimeout::try_from(left).unwrap_or(PollTimeout::MAX)) {
                Ok(_) | Err(Errno::EINTR) => collect(&socket, first_port, &sent, &mut answers),
                Err(e) => return Err(format!("{out}stopped at hop {hop}: waiting for answers failed: {e}")),
            }
        }
        out += &hop_line(hop, &answers);
        if answers.iter().flatten().any(|(_, _, v)| *v == Verdict::Reached) {
            let _ = writeln!(out, "reached {target} in {}", hops(hop));
            return Ok(out);
        }
        if let Some((from, _, Verdict::Unreachable(why))) =
            answers.iter().flatten().find(|(_, _, v)| matches!(v, Verdict::Unreachable(_)))
        {
            let _ = writeln!(out, "stopped at hop {hop}: {} says {why}", shown(*from));
            return Ok(out);
        }
    }
    let _ = writeln!(out, "{target} not reached within {}", hops(max_hops));
    Ok(out)
}

fn hops(n: u8) -> String {
    if n == 1 { "1 hop".to_owned() } else { format!("{n} hops") }
}

fn open(target: IpAddr) -> Result<UdpSocket, String> {
    let any = match target {
        IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    };
    let socket = UdpSocket::bind(SocketAddr::new(any, 0)).map_err(|e| format!("cannot open a UDP socket: {e}"))?;
    match target {
        IpAddr::V4(_) => setsockopt(&socket, sockopt::Ipv4RecvErr, &true),
        IpAddr::V6(_) => setsockopt(&socket, sockopt::Ipv6RecvErr, &true),
    }
    .map_err(|e| format!("cannot ask for ICMP errors on the UDP socket: {e}"))?;
    Ok(socket)
}

/// Empties the error queue into `answers`, keeping the first answer to each probe of this hop; answers to earlier
/// hops' probes, come late, are dropped.
fn collect(socket: &UdpSocket, first_port: u16, sent: &[Option<Instant>; PROBES], answers: &mut [Option<Answer>]) {
    // The queue holds at most what our own probes provoked (and the kernel bounds it by the receive buffer); the
    // bound only guards against looping on a socket gone wrong.
    for _ in 0..64 {
        let Some(entry) = read_error(socket) else { break };
        let Some(report) = entry else { continue };
        let Some(i) = report.port.checked_sub(first_port).map(usize::from).filter(|i| *i < PROBES) else { continue };
        if let (Some(at), None) = (sent[i], &answers[i]) {
            answers[i] = Some((report.from, at.elapsed(), report.verdict));
        }
    }
    // An error that was not an ICMP one can leave the socket flagged with an empty queue; this clears it so that
    // poll does not wake again for nothing.
    let _ = socket.take_error();
}

/// The next entry of the socket's error queue, `None` once it is empty; the entry is `None` too when it says nothing
/// about the path (or its control message came truncated, which our buffer's size rules out).
fn read_error(socket: &UdpSocket) -> Option<Option<Report>> {
    // The quoted probe is not needed: the destination port in the message's address names it.
    let mut data = [0u8; 64];
    let mut iov = [IoSliceMut::new(&mut data)];
    let mut control = nix::cmsg_space!(libc::sock_extended_err, libc::sockaddr_in6);
    let flags = MsgFlags::MSG_ERRQUEUE | MsgFlags::MSG_DONTWAIT;
    let msg = recvmsg::<SockaddrStorage>(socket.as_raw_fd(), &mut iov, Some(&mut control), flags).ok()?;
    let port = msg.address.and_then(|a| a.as_sockaddr_in().map(|s| s.port()).or(a.as_sockaddr_in6().map(|s| s.port())));
    let Ok(cmsgs) = msg.cmsgs() else { return Some(None) };
    for cmsg in cmsgs {
        let (ee, from) = match cmsg {
            ControlMessageOwned::Ipv4RecvErr(ee, offender) => (
                ee,
                offender
                    .filter(|o| libc::c_int::from(o.sin_family) == libc::AF_INET)
                    .map(|o| IpAddr::V4(Ipv4Addr::from(u32::from_be(o.sin_addr.s_addr)))),
            ),
            ControlMessageOwned::Ipv6RecvErr(ee, offender) => (
                ee,
                offender
                    .filter(|o| libc::c_int::from(o.sin6_family) == libc::AF_INET6)
                    .map(|o| IpAddr::V6(Ipv6Addr::from(o.sin6_addr.s6_addr))),
            ),
            _ => continue,
        };
        if let (Some(port), Some(verdict)) = (port, verdict(ee.ee_origin, ee.ee_type, ee.ee_code)) {
            return Some(Some(Report { port, from, verdict }));
        }
    }
    Some(None)
}

fn shown(from: Option<IpAddr>) -> String {
    from.map_or_else(|| "?".to_owned(), |a| a.to_string())
}

/// ` 3  192.0.2.1  1.204 ms  *  192.0.2.9  1.310 ms`: a responder is named when it differs from the one before, as
/// traceroute does, so that a path that splits across routers shows it.
fn hop_line(hop: u8, answers: &[Option<Answer>]) -> String {
    let mut line = format!("{hop:>2}");
    let mut last = None;
    for answer in answers {
        match answer {
            None => line += "  *",
            Some((from, rtt, _)) => {
                if last != Some(*from) {
                    let _ = write!(line, "  {}", shown(*from));
                    last = Some(*from);
                }
                let _ = write!(line, "  {:.3} ms", rtt.as_secs_f64() * 1000.0);
            }
        }
    }
    line.push('\n');
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn icmp_errors_are_read_as_tracepath_reads_them() {
        let (v4, v6) = (libc::SO_EE_ORIGIN_ICMP, libc::SO_EE_ORIGIN_ICMP6);
        let cases = [
            ((v4, 11, 0), Some(Verdict::Hop)),
            ((v4, 3, 3), Some(Verdict::Reached)),
            ((v4, 3, 1), Some(Verdict::Unreachable("host unreachable"))),
            ((v4, 3, 13), Some(Verdict::Unreachable("administratively prohibited (filtered)"))),
            ((v4, 11, 1), None),
            ((v6, 3, 0), Some(Verdict::Hop)),
            ((v6, 1, 4), Some(Verdict::Reached)),
            ((v6, 1, 0), Some(Verdict::Unreachable("no route to the destination"))),
            ((v6, 2, 0), None),
            // The same numbers from another origin mean something else.
            ((v6, 11, 0), None),
            ((libc::SO_EE_ORIGIN_LOCAL, 3, 3), None),
        ];
        for ((origin, kind, code), expected) in cases {
            assert_eq!(verdict(origin, kind, code), expected, "origin {origin} type {kind} code {code}");
        }
    }

    #[test]
    fn a_hop_line_names_each_new_responder_and_stars_for_silence() {
        let ms = Duration::from_millis;
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "2001:db8::9".parse().unwrap();
        let cases: [(&[Option<Answer>], &str); 3] = [
            (&[None, None, None], " 4  *  *  *\n"),
            (
                &[Some((Some(a), ms(1), Verdict::Hop)), None, Some((Some(a), ms(2), Verdict::Hop))],
                " 4  192.0.2.1  1.000 ms  *  2.000 ms\n",
            ),
            (
                &[
                    Some((Some(a), ms(1), Verdict::Hop)),
                    Some((Some(b), ms(3), Verdict::Hop)),
                    Some((None, ms(4), Verdict::Hop)),
                ],
                " 4  192.0.2.1  1.000 ms  2001:db8::9  3.000 ms  ?  4.000 ms\n",
            ),
        ];
        for (answers, expected) in cases {
            assert_eq!(hop_line(4, answers), expected);
        }
    }

    #[test]
    fn loopback_is_reached_in_one_hop() {
        let out = trace("localhost", IpAddr::V4(Ipv4Addr::LOCALHOST), 5, Duration::from_secs(10)).unwrap();
        assert!(out.contains("\n 1  127.0.0.1  "), "{out}");
        assert!(out.ends_with("reached 127.0.0.1 in 1 hop\n"), "{out}");
    }

    #[test]
    fn a_spent_budget_stops_the_trace_and_says_so() {
        let out = trace("localhost", IpAddr::V4(Ipv4Addr::LOCALHOST), 5, Duration::ZERO).unwrap();
        assert!(out.ends_with("stopped before hop 1: the check's time is up\n"), "{out}");
    }
}
