//! Interfaces (sysinfo), the default route and the configured DNS servers (files the kernel and resolver keep).

use lifeline_shared::wire::Interface;
use sysinfo::Networks;

pub(super) use imp::{default_route, dns_servers};

/// Sorted by name, addresses sorted too, so two snapshots of an unchanged machine compare equal.
pub(super) fn interfaces(networks: &mut Networks) -> Vec<Interface> {
    networks.refresh(true);
    let mut list: Vec<Interface> = networks
        .iter()
        .map(|(name, data)| {
            let mut addresses = data.ip_networks().to_vec();
            addresses.sort();
            Interface {
                name: name.to_string_lossy().into_owned(),
                mac: data.mac_address().to_string(),
                addresses: addresses.iter().map(ToString::to_string).collect(),
                rx_bytes: data.total_received(),
                tx_bytes: data.total_transmitted(),
                rx_errors: data.total_errors_on_received(),
                tx_errors: data.total_errors_on_transmitted(),
            }
        })
        .collect();
    list.sort_by(|a, b| a.name.cmp(&b.name));
    list
}

#[cfg(target_os = "linux")]
mod imp {
    use std::io::ErrorKind;
    use std::net::{Ipv4Addr, Ipv6Addr};

    use lifeline_shared::wire::Route;

    /// `RTF_UP` and `RTF_REJECT` from `<linux/route.h>`: a usable route is up and not an "unreachable" marker.
    const RTF_UP: u32 = 0x0001;
    const RTF_REJECT: u32 = 0x0200;
    /// The address systemd-resolved listens on; it says nothing about which servers actually answer.
    const RESOLVED_STUB: &str = "127.0.0.53";
    const RESOLVED_UPSTREAM: &str = "/run/systemd/resolve/resolv.conf";

    /// IPv4 first, as that is what most home and office networks still route through; IPv6 only when there is none.
    pub(in crate::collect) fn default_route(problems: &mut Vec<String>) -> Option<Route> {
        match std::fs::read_to_string("/proc/net/route") {
            Ok(text) => {
                if let Some(route) = parse_route_v4(&text) {
                    return Some(route);
                }
            }
            Err(e) => problems.push(format!("default route: cannot read /proc/net/route: {e}")),
        }
        match std::fs::read_to_string("/proc/net/ipv6_route") {
            Ok(text) => parse_route_v6(&text),
            // Missing when IPv6 is disabled, which is a choice rather than a fault.
            Err(e) if e.kind() == ErrorKind::NotFound => None,
            Err(e) => {
                problems.push(format!("default route: cannot read /proc/net/ipv6_route: {e}"));
                None
            }
        }
    }

    pub(in crate::collect) fn dns_servers(problems: &mut Vec<String>) -> Vec<String> {
        let mut servers = match std::fs::read_to_string("/etc/resolv.conf") {
            Ok(text) => parse_resolv_conf(&text),
            Err(e) => {
                problems.push(format!("DNS servers: cannot read /etc/resolv.conf: {e}"));
                return Vec::new();
            }
        };
        if !servers.is_empty() && servers.iter().all(|s| s == RESOLVED_STUB) {
            match std::fs::read_to_string(RESOLVED_UPSTREAM) {
                Ok(text) => servers.extend(parse_resolv_conf(&text).into_iter().filter(|s| s != RESOLVED_STUB)),
                Err(e) => problems.push(format!("DNS servers: cannot read {RESOLVED_UPSTREAM}: {e}")),
            }
        }
        servers
    }

    /// The lowest-metric usable default route in `/proc/net/route`.
    fn parse_route_v4(text: &str) -> Option<Route> {
        let hex = |s: &str| u32::from_str_radix(s, 16).ok();
        text.lines()
            .skip(1)
            .filter_map(|line| {
                let f: Vec<&str> = line.split_whitespace().collect();
                let [iface, dest, gateway, flags, _, _, metric, mask, ..] = f[..] else {
                    return None;
                };
                if hex(dest)? != 0 || hex(mask)? != 0 || !usable(hex(flags)?) {
                    return None;
                }
                // The kernel prints the network-order address as a native-endian number.
                let gateway = Ipv4Addr::from(hex(gateway)?.to_ne_bytes());
                Some((metric.parse::<u32>().ok()?, route(iface, gateway.to_string())))
            })
            .min_by_key(|(metric, _)| *metric)
            .map(|(_, route)| route)
    }

    /// The lowest-metric usable `::/0` route in `/proc/net/ipv6_route`.
    fn parse_route_v6(text: &str) -> Option<Route> {
        let hex = |s: &str| u128::from_str_radix(s, 16).ok();
        text.lines()
            .filter_map(|line| {
                let f: Vec<&str> = line.split_whitespace().collect();
                let [dest, dest_len, _, _, next_hop, metric, _, _, flags, iface] = f[..] else {
                    return None;
                };
                if hex(dest)? != 0 || hex(dest_len)? != 0 || !usable(u32::from_str_radix(flags, 16).ok()?) {
                    return None;
                }
                let metric = u32::from_str_radix(metric, 16).ok()?;
                Some((metric, route(iface, Ipv6Addr::from(hex(next_hop)?).to_string())))
            })
            .min_by_key(|(metric, _)| *metric)
            .map(|(_, route)| route)
    }

    fn usable(flags: u32) -> bool {
        flags & RTF_UP != 0 && flags & RTF_REJECT == 0
    }

    fn route(interface: &str, gateway: String) -> Route {
        Route { interface: interface.to_owned(), gateway }
    }

    fn parse_resolv_conf(text: &str) -> Vec<String> {
        text.lines()
            .filter_map(|line| match line.split_whitespace().collect::<Vec<_>>()[..] {
                ["nameserver", server, ..] => Some(server.to_owned()),
                _ => None,
            })
            .collect()
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        const ROUTE: &str = "\
Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
wlan0\t00000000\t0102A8C0\t0003\t0\t0\t600\t00000000\t0\t0\t0
eth0\t00000000\t0100000A\t0003\t0\t0\t100\t00000000\t0\t0\t0
eth0\t0000000A\t00000000\t0001\t0\t0\t100\t00FFFFFF\t0\t0\t0
";

        fn route(interface: &str, gateway: &str) -> Option<Route> {
            Some(Route { interface: interface.into(), gateway: gateway.into() })
        }

        #[test]
        fn ipv4_default_route() {
            let cases = [
                ("", None),
                (ROUTE, route("eth0", "10.0.0.1")),
                (&ROUTE.replace("\t100\t00000000", "\t900\t00000000"), route("wlan0", "192.168.2.1")),
                // Only the subnet route: no way out.
                ("Iface\neth0\t0000000A\t00000000\t0001\t0\t0\t100\t00FFFFFF\t0\t0\t0", None),
                // A down route and a reject route are not a way out.
                ("Iface\nppp0\t00000000\t00000000\t0000\t0\t0\t0\t00000000\t0\t0\t0", None),
                ("Iface\nlo\t00000000\t00000000\t0201\t0\t0\t0\t00000000\t0\t0\t0", None),
                ("Iface\nwg0\t00000000\t00000000\t0001\t0\t0\t0\t00000000\t0\t0\t0", route("wg0", "0.0.0.0")),
                ("Iface\ngarbage line", None),
            ];
            for (text, expected) in cases {
                assert_eq!(parse_route_v4(text), expected, "for {text:?}");
            }
        }

        #[test]
        fn ipv6_default_route() {
            let text = "\
fe800000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000002 00000000 00000001     eth0
00000000000000000000000000000000 00 00000000000000000000000000000000 00 fd000000000000000000000000000001 00000400 00000002 00000000 00000003     eth0
00000000000000000000000000000000 00 00000000000000000000000000000000 00 fe800000000000000000000000000001 00000100 00000002 00000000 00000003    wlan0
00000000000000000000000000000000 00 00000000000000000000000000000000 00 00000000000000000000000000000000 ffffffff 00000001 00000000 00200200       lo
";
            assert_eq!(parse_route_v6(text), route("wlan0", "fe80::1"));
            let reject_only = text.lines().filter(|l| l.ends_with("lo")).collect::<String>();
            assert_eq!(parse_route_v6(&reject_only), None);
            assert_eq!(parse_route_v6(""), None);
        }

        #[test]
        fn resolv_conf() {
            let cases: [(&str, &[&str]); 4] = [
                ("", &[]),
                (
                    "# managed by resolvconf\nnameserver 127.0.0.53\noptions edns0 trust-ad\nsearch lan\n",
                    &["127.0.0.53"],
                ),
                (
                    "nameserver 192.168.1.1\n; old\n;nameserver 8.8.8.8\n  nameserver\t2001:db8::53\n",
                    &["192.168.1.1", "2001:db8::53"],
                ),
                ("nameserver\nnameservers 1.1.1.1\n", &[]),
            ];
            for (text, expected) in cases {
                assert_eq!(parse_resolv_conf(text), expected, "for {text:?}");
            }
        }
    }
}

#[cfg(not(target_os = "linux"))]
mod imp {
    use lifeline_shared::wire::Route;

    pub(in crate::collect) fn default_route(problems: &mut Vec<String>) -> Option<Route> {
        problems.push("default route: not supported on this OS".to_owned());
        None
    }

    pub(in crate::collect) fn dns_servers(problems: &mut Vec<String>) -> Vec<String> {
        problems.push("DNS servers: not supported on this OS".to_owned());
        Vec::new()
    }
}
