//! The active check in every snapshot: can a name be resolved, and how long did it take. Whether the server can be
//! reached is the link's to say (`link::snapshot`), from the connection itself.

use std::future::Future;
use std::time::{Duration, Instant};

use lifeline_shared::wire::{Probe, ProbeKind};

use super::CollectConfig;

/// The configured DNS probe, if any.
pub(super) async fn run(config: &CollectConfig) -> Vec<Probe> {
    match &config.dns_probe {
        Some(host) => vec![dns(host, config.probe_timeout).await],
        None => Vec::new(),
    }
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
        let probe = dns("no such name.invalid", Duration::from_secs(2)).await;
        assert!(!probe.ok && probe.latency_us.is_none() && !probe.detail.is_empty(), "{probe:#?}");
        let probe = timed(ProbeKind::Dns, "x", Duration::from_millis(10), std::future::pending()).await;
        assert_eq!(probe.detail, "timed out after 10ms");
        assert!(run(&CollectConfig::default()).await.is_empty());
    }
}
