//! The load generator against a real server: identities from `bulk-enroll` connect, their snapshots are stored and
//! acknowledged, a watched one streams live samples, and the report counts what happened.

use std::time::Duration;

use crate::harness::{Proc, Server, eventually, swarm};

#[test]
fn a_bulk_enrolled_swarm_connects_and_its_snapshots_are_acknowledged() {
    let server = Server::start();
    let mut proc = Proc::spawn(
        "lifeline-swarm",
        swarm(&server, 20, &["--duration", "0", "--snapshot-every", "1", "--sockets", "2"]),
    );
    proc.wait_for_line("all 20 connected", Duration::from_secs(60));
    let agents = server.json(&["agent", "list"]);
    let simulated: Vec<&str> = agents
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["hostname"].as_str().unwrap().starts_with("swarm-"))
        .map(|a| a["id"].as_str().unwrap())
        .collect();
    assert_eq!(simulated.len(), 20, "{agents}");
    eventually("a snapshot stored from every simulated agent", Duration::from_secs(30), || {
        let agents: i64 =
            server.sql().query_row("SELECT count(DISTINCT agent_id) FROM snapshots", [], |r| r.get(0)).unwrap();
        (agents == 20).then_some(())
    });
    let watch = server.cli(&["agent", "watch", simulated[0], "--json", "--interval-ms", "100", "--count", "3"]);
    assert!(watch.ok, "{}{}", watch.stdout, watch.stderr);
    assert_eq!(watch.stdout.lines().count(), 3, "{}", watch.stdout);

    proc.terminate();
    let report: serde_json::Value =
        serde_json::from_str(&proc.wait_for_line("{\"agents\"", Duration::from_secs(10))).unwrap();
    assert_eq!(report["agents"], 20, "{report}");
    assert_eq!(report["connected"], 20, "{report}");
    assert_eq!(report["errors"], 0, "{report}");
    assert!(report["live_samples"].as_u64().unwrap() >= 3, "{report}");
    let stored: i64 = server.sql().query_row("SELECT count(*) FROM snapshots", [], |r| r.get(0)).unwrap();
    assert!(report["acked"].as_i64().unwrap() <= stored, "acknowledged more than was stored: {report}");
}
