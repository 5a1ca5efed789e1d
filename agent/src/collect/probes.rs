//! Active checks: can a name be resolved, can a `host:port` be reached, and how long did it take.

use std::future::Future;
use std::time::{Duration, Instant};

use lifeline_shared::wire::{Probe, ProbeKind};

use super::CollectConfig;

/// The configured probes, DNS first, run concurrently so a dead network costs one timeout rather than two.
pub(super) async fn run(config: &CollectConfig) -> Vec<Probe> {
    let timeout = config.probe_timeout;
    let dns = async {
        match &config.dns_probe {
            Some(host) => Some(dns(host, timeout).await),
            None => None,
        }
    };
    let tcp = async {
        match &config.tcp_probe {
            Some(target) => Some(tcp(target, timeout).await),
            None => None,
        }
    };
    let (dns, tcp) = tokio::join!(dns, tcp);
    dns.into_iter().chain(tcp).collect()
}

async fn dns(host: &str, timeout: Duration) -> Probe {
    timed(ProbeKind::Dns, host, timeout, async {
        let mut addresses: Vec<String> = Vec::new();
        for addr in tokio::net::lookup_host((host, 0)).await? {
            let ip = addr.ip().to_string();
            if !addresses.contains(&ip) {
                addresses.push(ip);
            }
        }
        if addresses.is_empty() {
            return Err(std::io::Error::other("no addresses"));
        }
        Ok(addresses.join(", "))
    })
    .await
}

async fn tcp(target: &str, timeout: Duration) -> Probe {
    timed(ProbeKind::Tcp, target, timeout, async {
        let stream = tokio::net::TcpStream::connect(target).await?;
        Ok(format!("connected to {}", stream.peer_addr()?))
    })
    .await
}

/// Latency is only reported for a success: the time an error took says more about the timeout than the network.
async fn timed(
    kind: ProbeKind,
    target: &str,
    timeout: Duration,
    attempt: impl Future<Output = std::io::Result<String>>,
) -> Probe {
    let start = Instant::now();
    let (ok, latency_us, detail) = match tokio::time::timeout(timeout, attempt).await {
        Ok(Ok(detail)) => (true, Some(u64::try_from(start.elapsed().as_micros()).unwrap_or(u64::MAX)), detail),
        Ok(Err(e)) => (false, None, e.to_string()),
        Err(_) => (false, None, format!("timed out after {timeout:?}")),
    };
    Probe { kind, target: target.to_owned(), ok, latency_us, detail }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn failures_carry_the_reason() {
        let probe = tcp("not a host:port", Duration::from_secs(2)).await;
        assert!(!probe.ok && probe.latency_us.is_none() && !probe.detail.is_empty(), "{probe:#?}");
        let probe = timed(ProbeKind::Tcp, "x", Duration::from_millis(10), std::future::pending()).await;
        assert_eq!(probe.detail, "timed out after 10ms");
        assert!(run(&CollectConfig::default()).await.is_empty());
    }
}
