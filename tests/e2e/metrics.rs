//! `/metrics` scraped by a real Prometheus: it reads the server over HTTPS with the deployment's CA and a token, and
//! a PromQL query through its HTTP API returns the number of agents the test connected. The Grafana dashboard in
//! `packaging/grafana/` is held to the same Prometheus: every query it makes is evaluated there, and every metric it
//! names is one the server exposes.

use std::collections::{BTreeMap, BTreeSet};
use std::net::TcpListener;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use crate::harness::{Agent, Proc, Server, eventually};

/// A port nobody listens on now, for Prometheus, which takes its listen address from the command line.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A Prometheus of its own, scraping one server every second with the given token.
struct Prometheus {
    port: u16,
    http: ureq::Agent,
    // Killed before its directory is removed.
    _proc: Proc,
    _dir: tempfile::TempDir,
}

impl Prometheus {
    fn start(server: &Server, token: &str) -> Prometheus {
        let dir = tempfile::tempdir().unwrap();
        let target = server.api.trim_start_matches("https://").to_owned();
        let config = format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: lifeline\n    \
             scheme: https\n    tls_config:\n      ca_file: {ca}\n    authorization:\n      credentials: {token}\n    \
             static_configs:\n      - targets: [\"{target}\"]\n",
            ca = server.ca().display()
        );
        std::fs::write(dir.path().join("prometheus.yml"), config).unwrap();
        let port = free_port();
        let mut cmd = Command::new("prometheus");
        cmd.arg(format!("--config.file={}", dir.path().join("prometheus.yml").display()))
            .arg(format!("--storage.tsdb.path={}", dir.path().join("data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"));
        let proc = Proc::spawn("prometheus", cmd);
        let http = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(5)))
            .build()
            .new_agent();
        Prometheus { port, http, _proc: proc, _dir: dir }
    }

    /// The whole answer of the HTTP API to an instant query, or `None` while Prometheus does not answer.
    fn query(&self, promql: &str) -> Option<Value> {
        let url = format!("http://127.0.0.1:{}/api/v1/query", self.port);
        let mut answer = self.http.get(&url).query("query", promql).call().ok()?;
        answer.body_mut().read_json().ok()
    }

    /// The value of the first series an instant query returns.
    fn value(&self, promql: &str) -> Option<Value> {
        let body = self.query(promql)?;
        body["data"]["result"].as_array().and_then(|r| r.first()).map(|r| r["value"][1].clone())
    }

    /// Waits for a scrape of the server to have succeeded.
    fn wait_for_a_scrape(&self) {
        eventually("Prometheus to scrape the server", Duration::from_secs(60), || {
            self.value("up{job=\"lifeline\"}").filter(|v| v == "1")
        });
    }
}

#[test]
fn a_real_prometheus_scrapes_the_server_and_counts_the_agents_connected() {
    let server = Server::start();
    let agents = [Agent::start(&server), Agent::start(&server)];
    let scraper = server.add_user("prometheus", "manager");
    let prometheus = Prometheus::start(&server, &scraper);
    let connected = eventually("Prometheus to read two connected agents", Duration::from_secs(60), || {
        prometheus.value("lifeline_agents_connected").filter(|v| v == "2")
    });
    assert_eq!(connected, "2");
    let up = prometheus.value("up{job=\"lifeline\"}").unwrap();
    assert_eq!(up, "1", "the scrape itself succeeds");
    let snapshots = eventually("the agents' snapshots to be counted", Duration::from_secs(30), || {
        prometheus
            .value("lifeline_snapshots_ingested_total")
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

/// The Grafana dashboard as shipped, read from the repository.
fn dashboard() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../packaging/grafana/lifeline.json");
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path} is not JSON: {e}"))
}

/// Every panel, those inside collapsed rows included.
fn panels(dashboard: &Value) -> Vec<&Value> {
    fn walk<'a>(list: &'a Value, into: &mut Vec<&'a Value>) {
        for panel in list.as_array().into_iter().flatten() {
            into.push(panel);
            walk(&panel["panels"], into);
        }
    }
    let mut all = Vec::new();
    walk(&dashboard["panels"], &mut all);
    all
}

/// A dashboard query as Prometheus takes it, with Grafana's variables given values: the intervals a fixed length,
/// the server selection every server. A variable this does not know fails the test rather than going unchecked.
fn instantiate(expr: &str) -> String {
    let promql = expr
        .replace("$__rate_interval", "1m")
        .replace("$__interval", "1m")
        .replace("$__range", "1h")
        .replace("$instance", ".*");
    assert!(!promql.contains('$'), "a Grafana variable the test does not know in: {expr}");
    promql
}

/// The metric names in a query: its identifiers with our prefix (labels and functions never have it).
fn metric_names(promql: &str) -> BTreeSet<String> {
    promql
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .filter(|word| word.starts_with("lifeline_"))
        .map(str::to_owned)
        .collect()
}

/// What Prometheus stores from this exposition, by family: a counter as `_total`, a histogram as its `_bucket`,
/// `_sum` and `_count`, any other type under its own name; and every sample's name besides.
fn exposed_families(text: &str) -> BTreeMap<String, BTreeSet<String>> {
    let mut families: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut words = rest.split_whitespace();
            let (Some(family), Some(kind)) = (words.next(), words.next()) else { continue };
            let suffixes: &[&str] = match kind {
                "counter" => &["_total"],
                "histogram" | "gaugehistogram" => &["_bucket", "_sum", "_count"],
                "summary" => &["", "_sum", "_count"],
                _ => &[""],
            };
            families.entry(family.to_owned()).or_default().extend(suffixes.iter().map(|s| format!("{family}{s}")));
        } else if !line.starts_with('#')
            && let Some(sample) = line.split(['{', ' ']).next().filter(|s| !s.is_empty())
        {
            let family = families.keys().rfind(|f| sample.starts_with(f.as_str())).cloned();
            families.entry(family.unwrap_or_else(|| sample.to_owned())).or_default().insert(sample.to_owned());
        }
    }
    families
}

/// The dashboard asks only what the server answers. Every query of every panel is evaluated by a real Prometheus
/// scraping a real server and must be accepted; every metric name in it (and in the server variable's query) must
/// be one the server's `/metrics` exposes, so a renamed or missing family shows here rather than as an empty panel;
/// and every family the server exposes has a place on the dashboard.
#[test]
fn every_query_of_the_grafana_dashboard_runs_on_metrics_the_server_exposes() {
    let dashboard = dashboard();
    assert!(dashboard["schemaVersion"].as_u64() >= Some(39), "a current dashboard schema");

    // The queries, and the structure Grafana relies on to import the file anywhere.
    let mut exprs = Vec::new();
    let mut ids = BTreeSet::new();
    for panel in panels(&dashboard) {
        let id = panel["id"].as_u64().unwrap_or_else(|| panic!("a panel without an id: {panel}"));
        assert!(ids.insert(id), "panel id {id} used twice");
        if panel["type"] == "row" {
            continue;
        }
        let title = panel["title"].as_str().unwrap_or_default();
        assert_eq!(panel["datasource"]["uid"], "${DS_PROMETHEUS}", "panel {id} ({title}) uses the chosen data source");
        let targets = panel["targets"].as_array().filter(|t| !t.is_empty());
        for target in targets.unwrap_or_else(|| panic!("panel {id} ({title}) has no query")) {
            assert_eq!(target["datasource"]["uid"], "${DS_PROMETHEUS}", "panel {id} ({title}): {target}");
            let expr = target["expr"].as_str().unwrap_or_else(|| panic!("panel {id} ({title}): no expr in {target}"));
            exprs.push((format!("panel {id} ({title})"), expr.to_owned()));
        }
    }
    let variables = dashboard["templating"]["list"].as_array().cloned().unwrap_or_default();
    assert!(
        variables
            .iter()
            .any(|v| v["name"] == "DS_PROMETHEUS" && v["type"] == "datasource" && v["query"] == "prometheus"),
        "a data source variable, so the dashboard imports on any Grafana"
    );
    let mut named: Vec<(String, BTreeSet<String>)> = variables
        .iter()
        .filter(|v| v["type"] == "query")
        .map(|v| (format!("variable {}", v["name"]), metric_names(v["definition"].as_str().unwrap_or_default())))
        .collect();
    named.extend(exprs.iter().map(|(place, expr)| (place.clone(), metric_names(expr))));
    assert!(exprs.len() > 40, "the dashboard's queries are all found: {}", exprs.len());

    let server = Server::start();
    let scraper = server.add_user("prometheus", "manager");
    let prometheus = Prometheus::start(&server, &scraper);
    // A family is rendered once it has a sample: a ticket opened, answered, resolved and reopened gives the help
    // desk's families theirs.
    let opened = server.cli(&["ticket", "create", "--channel", "phone", "--requester", "Dee", "--subject", "Printer"]);
    assert!(opened.ok, "{}", opened.stderr);
    let number = opened.stdout.trim();
    for step in [
        &["ticket", "reply", number, "Looking into it"][..],
        &["ticket", "status", number, "resolved", "--code", "fixed-remotely"],
        &["ticket", "status", number, "open"],
    ] {
        let done = server.cli(step);
        assert!(done.ok, "{step:?}: {}", done.stderr);
    }
    prometheus.wait_for_a_scrape();
    let text = {
        let mut r = server
            .https()
            .get(&format!("{}/metrics", server.api))
            .header("authorization", &format!("Bearer {scraper}"))
            .call()
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
        r.body_mut().read_to_string().unwrap()
    };
    let families = exposed_families(&text);
    let exposed: BTreeSet<&String> = families.values().flatten().collect();

    let mut refused = Vec::new();
    for (place, expr) in &exprs {
        let promql = instantiate(expr);
        let answer = prometheus.query(&promql).unwrap_or_else(|| panic!("no answer from Prometheus to {promql}"));
        if answer["status"] != "success" {
            refused.push(format!("{place}: {promql}\n    {}", answer["error"]));
        }
    }
    let mut missing: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut used = BTreeSet::new();
    for (place, names) in &named {
        assert!(!names.is_empty(), "{place} names no lifeline_ metric");
        for name in names {
            if exposed.contains(name) {
                used.insert(name.clone());
            } else {
                missing.entry(name.clone()).or_default().insert(place.clone());
            }
        }
    }
    let unshown: Vec<&String> = families
        .iter()
        .filter(|(family, names)| family.starts_with("lifeline_") && names.is_disjoint(&used))
        .map(|(family, _)| family)
        .collect();
    assert!(
        refused.is_empty() && missing.is_empty() && unshown.is_empty(),
        "queries Prometheus refused:\n{}\nmetrics the dashboard uses that the server does not expose: {missing:#?}\n\
         families the server exposes that no panel shows: {unshown:?}\n\n/metrics:\n{text}",
        refused.join("\n")
    );
}
