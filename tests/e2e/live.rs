//! Live diagnostics through the real binaries: a watch streams samples at the asked rate and ends cleanly, the
//! terminal view quits on a key, two watchers share one stream, and watching what cannot be watched is a clear error.

use std::collections::BTreeSet;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use lifeline_shared::wire::LiveSample;

use crate::harness::{Agent, Netns, Proc, Server, bin, eventually, require_root};

fn samples(stdout: &str) -> Vec<Value> {
    stdout.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON sample ({e}): {l}"))).collect()
}

fn seqs(samples: &[Value]) -> Vec<u64> {
    samples.iter().map(|s| s["seq"].as_u64().unwrap()).collect()
}

#[test]
fn a_watch_streams_samples_and_the_agent_goes_quiet_when_it_ends() {
    let server = Server::start();
    let agent = Agent::start(&server);
    let out = server.cli(&["agent", "watch", &agent.id, "--json", "--interval-ms", "200", "--count", "5"]);
    assert!(out.ok, "{}{}", out.stdout, out.stderr);
    let got = samples(&out.stdout);
    assert_eq!(got.len(), 5, "{}", out.stdout);
    let seq = seqs(&got);
    assert!(seq.windows(2).all(|w| w[0] < w[1]), "samples out of order: {seq:?}");
    let taken: Vec<u64> = got.iter().map(|s| s["taken_at_ms"].as_u64().unwrap()).collect();
    assert!(taken.windows(2).all(|w| w[0] < w[1]), "{taken:?}");
    for s in &got {
        assert!(s["memory_total_bytes"].as_u64().unwrap() > 0, "{s}");
        assert!(!s["per_core_pct"].as_array().unwrap().is_empty(), "{s}");
        assert!(s["net"].as_array().unwrap().iter().any(|n| n["interface"] == "lo"), "{s}");
        assert!(!s["top_memory"].as_array().unwrap().is_empty(), "{s}");
    }
    // Findings come with the first sample, then only when they change.
    assert!(got[0]["findings"].is_array(), "{}", got[0]);
    let mut known = &got[0]["findings"];
    for s in &got[1..] {
        if !s["findings"].is_null() {
            assert_ne!(&s["findings"], known, "unchanged findings sent again");
            known = &s["findings"];
        }
    }

    // The watcher left: the server says so to the agent, which stops sampling.
    eventually("the agent to stop sampling", Duration::from_secs(15), || {
        agent.log().contains("watch stopped").then_some(())
    });
    assert_eq!(agent.log().matches("watch started").count(), 1, "{}", agent.log());

    // The human view draws the same samples as a screen.
    let view = server.cli(&["agent", "watch", &agent.id, "--interval-ms", "100", "--count", "2"]);
    assert!(view.ok, "{}", view.stderr);
    assert!(view.stdout.contains("top by memory") && view.stdout.contains("core 0"), "{}", view.stdout);
}

#[test]
fn the_live_view_quits_on_q_or_ctrl_c_and_gives_the_terminal_back() {
    let server = Server::start();
    let agent = Agent::start(&server);
    for key in [b"q", b"\x03"] {
        // `script` gives the view a real terminal; what goes into its stdin are key presses on that terminal.
        let watch = server.cli_command(&server.admin_token, &[]);
        let line = format!("{} agent watch {} --interval-ms 200", bin("lifeline-server").display(), agent.id);
        let mut cmd = Command::new("script");
        cmd.args(["-qfec", &line, "/dev/null"]).stdin(Stdio::piped());
        for (k, v) in watch.get_envs() {
            if let Some(v) = v {
                cmd.env(k, v);
            }
        }
        let mut view = Proc::spawn("live view", cmd);
        view.wait_for_line("q to quit", Duration::from_secs(30));
        view.type_keys(key);
        let status = view.exit_status(Duration::from_secs(10));
        assert!(status.success(), "{status:?}\n{}", view.output());
        assert!(view.output().contains("\x1b[?1049l"), "the terminal was not given back:\n{}", view.output());
    }
    eventually("the agent to stop sampling", Duration::from_secs(15), || {
        (agent.log().matches("watch stopped").count() == 2).then_some(())
    });
}

/// A sample bigger than any datagram the path can carry (here: 120 interfaces in a namespace of our own) still
/// arrives, whole, on a stream of its own.
#[test]
fn a_sample_too_big_for_a_datagram_arrives_on_a_stream() {
    require_root("a network namespace");
    let netns = Netns::create(60);
    let server = Server::start_in_netns(Some(&netns.0));
    let agent = Agent::start(&server);
    let out = server.cli(&["agent", "watch", &agent.id, "--json", "--interval-ms", "200", "--count", "3"]);
    assert!(out.ok, "{}{}", out.stdout, out.stderr);
    for json in samples(&out.stdout) {
        let interfaces = json["net"].as_array().unwrap().len();
        assert!(interfaces >= 121, "{interfaces} interfaces: {json}");
        let sample: LiveSample = serde_json::from_value(json).unwrap();
        // Loopback's path MTU would allow more, but QUIC keeps datagrams within what any path carries.
        let size = lifeline_shared::codec::encode(&sample).unwrap().len();
        assert!(size > 1500, "only {size} bytes: it could have been a datagram");
    }
}

#[test]
fn two_watchers_share_one_stream() {
    let server = Server::start();
    let agent = Agent::start(&server);
    let long = ["agent", "watch", agent.id.as_str(), "--json", "--interval-ms", "200", "--count", "20"];
    let first = Proc::spawn("first watcher", server.cli_command(&server.admin_token, &long));
    first.wait_for_line("\"seq\"", Duration::from_secs(30));

    let out = server.cli(&["agent", "watch", &agent.id, "--json", "--interval-ms", "200", "--count", "4"]);
    assert!(out.ok, "{}", out.stderr);
    let second_samples = samples(&out.stdout);
    // Joining a running stream still shows the findings at once.
    assert!(second_samples[0]["findings"].is_array(), "{}", second_samples[0]);
    let second: BTreeSet<u64> = seqs(&second_samples).into_iter().collect();
    // Same stream, same numbering: what the second watcher saw, the first saw too.
    let seen_by_first = eventually("the first watcher to see the same samples", Duration::from_secs(15), || {
        let first_seqs: BTreeSet<u64> = seqs(&samples(&first.output())).into_iter().collect();
        second.is_subset(&first_seqs).then_some(first_seqs)
    });
    assert!(seen_by_first.len() >= second.len());
    assert_eq!(agent.log().matches("watch started").count(), 1, "one stream from the agent:\n{}", agent.log());
}

#[test]
fn watching_what_cannot_be_watched_is_a_clear_error() {
    let server = Server::start();
    let offline = Agent::enroll(&server);
    let cases: &[(&[&str], &str)] = &[
        (&["agent", "watch", "ag-000000000000", "--count", "1"], "404"),
        (&["agent", "watch", &offline.id, "--count", "1"], "not connected"),
        (&["agent", "watch", &offline.id, "--interval-ms", "5", "--count", "1"], "interval_ms must be 100 to 10000"),
    ];
    for (args, expected) in cases {
        let out = server.cli(args);
        assert!(!out.ok, "{args:?} succeeded: {}", out.stdout);
        assert!(out.stderr.contains(expected), "{args:?}: {}", out.stderr);
    }
}

#[test]
fn refresh_now_attaches_a_fresh_snapshot_and_the_diff_compares_it() {
    let server = Server::start();
    let mut agent = Agent::start(&server);
    let ticket = agent.request_help("slow since this morning").to_string();
    let one = server.cli(&["ticket", "diff", &ticket]);
    assert!(!one.ok && one.stderr.contains("ticket refresh"), "{}", one.stderr);

    let refreshed = server.cli(&["ticket", "refresh", &ticket]);
    assert!(refreshed.ok, "{}{}", refreshed.stdout, refreshed.stderr);
    assert!(refreshed.stdout.starts_with("From snapshot "), "{}", refreshed.stdout);
    let shown = server.json(&["ticket", "show", &ticket]);
    let attached: Vec<&Value> =
        shown["events"].as_array().unwrap().iter().filter(|e| e["kind"] == "snapshot_attached").collect();
    assert_eq!(attached.len(), 2, "{shown:#}");

    let diff = server.json(&["ticket", "diff", &ticket]);
    assert_eq!(diff["from"]["id"], attached[0]["snapshot_id"], "{diff:#}");
    assert_eq!(diff["to"]["id"], attached[1]["snapshot_id"], "{diff:#}");
    assert!(diff["to"]["taken_at_ms"].as_u64() > diff["from"]["taken_at_ms"].as_u64(), "{diff:#}");
    assert!(diff["changes"].is_array(), "{diff:#}");

    agent.proc.as_mut().unwrap().terminate();
    eventually("the server to see the agent gone", Duration::from_secs(30), || {
        (server.json(&["agent", "show", &agent.id])["connected"] == false).then_some(())
    });
    let offline = server.cli(&["ticket", "refresh", &ticket]);
    assert!(!offline.ok && offline.stderr.contains("not connected"), "{}", offline.stderr);
}
