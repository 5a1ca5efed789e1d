//! `/metrics` scraped by a real Prometheus: it reads the server over HTTPS with the deployment's CA and a token, and
//! a PromQL query through its HTTP API returns the number of agents the test connected.

use std::net::TcpListener;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use crate::harness::{Agent, Proc, Server, eventually};

/// A port nobody listens on now, for Prometheus, which takes its listen address from the command line.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[test]
fn a_real_prometheus_scrapes_the_server_and_counts_the_agents_connected() {
    let server = Server::start();
    let agents = [Agent::start(&server), Agent::start(&server)];
    let scraper = server.add_user("prometheus", "manager");
    let dir = tempfile::tempdir().unwrap();
    let target = server.api.trim_start_matches("https://").to_owned();
    let config = format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: lifeline\n    scheme: https\n    \
         tls_config:\n      ca_file: {ca}\n    authorization:\n      credentials: {scraper}\n    static_configs:\n      \
         - targets: [\"{target}\"]\n",
        ca = server.ca().display()
    );
    std::fs::write(dir.path().join("prometheus.yml"), config).unwrap();
    let port = free_port();
    let mut cmd = Command::new("prometheus");
    cmd.arg(format!("--config.file={}", dir.path().join("prometheus.yml").display()))
        .arg(format!("--storage.tsdb.path={}", dir.path().join("data").display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"));
    let _prometheus = Proc::spawn("prometheus", cmd);

    let http = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(5)))
        .build()
        .new_agent();
    let query = |promql: &str| -> Option<Value> {
        let url = format!("http://127.0.0.1:{port}/api/v1/query");
        let mut answer = http.get(&url).query("query", promql).call().ok()?;
        let body: Value = answer.body_mut().read_json().ok()?;
        body["data"]["result"].as_array().and_then(|r| r.first()).map(|r| r["value"][1].clone())
    };
    let connected = eventually("Prometheus to read two connected agents", Duration::from_secs(60), || {
        query("lifeline_agents_connected").filter(|v| v == "2")
    });
    assert_eq!(connected, "2");
    let up = query("up{job=\"lifeline\"}").unwrap();
    assert_eq!(up, "1", "the scrape itself succeeds");
    let snapshots = eventually("the agents' snapshots to be counted", Duration::from_secs(30), || {
        query("lifeline_snapshots_ingested_total")
            .filter(|v| v.as_str().and_then(|v| v.parse::<f64>().ok()) >= Some(2.0))
    });
    assert!(snapshots.is_string());
    drop(agents);

    // Without a token there is nothing to read.
    let (status, _) = {
        let mut r = server.https().get(&format!("{}/metrics", server.api)).call().unwrap();
        (r.status().as_u16(), r.body_mut().read_to_string().unwrap_or_default())
    };
    assert_eq!(status, 401);
}
