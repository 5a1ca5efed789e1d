use std::time::Duration;

use crate::harness::{Agent, Proc, Server, bin, eventually, field, run};

const WAIT: Duration = Duration::from_secs(30);

#[test]
fn help_request_becomes_a_diagnosed_ticket_that_technicians_work() {
    let server = Server::start();
    let agent = Agent::start(&server);

    // The snapshot sent on connect is stored and shown with the agent.
    let detail = eventually("the first snapshot", WAIT, || {
        let v = server.json(&["agent", "show", &agent.id]);
        (v["snapshot_count"].as_i64() >= Some(1)).then_some(v)
    });
    assert_eq!(detail["connected"], true);
    assert!(detail["snapshot"]["memory"]["total_bytes"].as_u64() > Some(0));
    assert!(detail["snapshot"]["processes"]["count"].as_u64() > Some(0));
    let listed = server.cli(&["agent", "list"]);
    assert!(listed.stdout.contains(&agent.id) && listed.stdout.contains("online"), "{}", listed.stdout);

    // The user asks for help from their own machine.
    let help = agent.call(&["request-help", "--subject", "Printer does not print", "--description", "since 9am"]);
    assert!(help.ok, "request-help failed: {}", help.stderr);
    let number = field(&help.stdout, "ticket #").split_once('.').map(|(n, _)| n.to_owned()).expect("ticket number");

    let ticket = server.json(&["ticket", "show", &number]);
    let me = std::env::var("USER").ok();
    assert_eq!(ticket["subject"], "Printer does not print");
    assert_eq!(ticket["status"], "new");
    assert_eq!(ticket["channel"], "agent");
    assert_eq!(ticket["agent_id"], agent.id.as_str());
    if let Some(me) = me {
        assert_eq!(ticket["requester"], me.as_str(), "the requester comes from the socket's peer credentials");
    }
    assert!(ticket["snapshot"]["host"]["hostname"].as_str().is_some_and(|h| !h.is_empty()));
    // The server is judged by the agent's own link, not by a TCP connect to the QUIC port (the API listens on
    // another port here, which is where that used to report a healthy server as unreachable).
    let probes = ticket["snapshot"]["network"]["probes"].as_array().cloned().unwrap_or_default();
    assert!(probes.iter().any(|p| p["kind"] == "Link" && p["ok"] == true), "{probes:?}");
    assert!(
        ticket["findings"].as_array().is_some_and(|f| f.iter().all(|f| f["kind"] != "ServerUnreachable")),
        "{ticket}"
    );
    let kinds: Vec<_> = ticket["events"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["created", "snapshot_attached"]);
    let shown = server.cli(&["ticket", "show", &number]);
    assert!(shown.stdout.contains("Findings (") && shown.stdout.contains("Snapshot of "), "{}", shown.stdout);

    // A technician works it.
    let steps: &[&[&str]] = &[
        &["ticket", "status", &number, "open"],
        &["ticket", "reply", &number, "Looking into it"],
        &["ticket", "note", &number, "spooler looks stuck"],
        &["ticket", "escalate", &number, "--tier", "2", "--reason", "needs print server access"],
        &["ticket", "assign", &number, "admin"],
        &["ticket", "status", &number, "pending-user"],
    ];
    for step in steps {
        let out = server.cli(step);
        assert!(out.ok, "{step:?} failed: {}", out.stderr);
    }
    let closing_early = server.cli(&["ticket", "status", &number, "closed"]);
    assert!(!closing_early.ok && closing_early.stderr.contains("cannot go from pending-user to closed"));
    let ticket = server.json(&["ticket", "show", &number]);
    assert_eq!((ticket["status"].as_str(), ticket["tier"].as_i64()), (Some("pending-user"), Some(2)));
    assert_eq!(ticket["assignee"], "admin");
    let listed = server.json(&["ticket", "list", "--status", "pending-user"]);
    assert!(
        listed["tickets"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["number"].as_i64().map(|n| n.to_string()) == Some(number.clone()))
    );

    // The user sees its status from their machine, pushed there by the server.
    eventually("the status to reach the user's machine", Duration::from_secs(15), || {
        let mine = agent.call(&["tickets"]);
        (mine.ok && mine.stdout.contains("pending-user") && mine.stdout.contains("Printer")).then_some(())
    });

    let unresolved = server.cli(&["ticket", "status", &number, "resolved"]);
    assert!(!unresolved.ok && unresolved.stderr.contains("resolution code"), "{}", unresolved.stderr);
    for step in [
        &["ticket", "status", &number, "resolved", "--code", "fixed-remotely"][..],
        &["ticket", "status", &number, "closed"],
    ] {
        assert!(server.cli(step).ok);
    }
    let reopened = server.cli(&["ticket", "status", &number, "open"]);
    assert!(!reopened.ok && reopened.stderr.contains("closed"), "{}", reopened.stderr);
}

#[test]
fn agent_reconnects_after_the_server_restarts() {
    let server = Server::start();
    let agent = Agent::start(&server);
    let server = server.restart();
    eventually("the agent to reconnect", WAIT, || {
        let v = server.json(&["agent", "show", &agent.id]);
        (v["connected"] == true).then_some(())
    });
    let help = agent.call(&["request-help", "--subject", "after restart"]);
    assert!(help.ok, "{}", help.stderr);
    let log = agent.log();
    assert!(log.contains("reconnecting"), "the agent should have backed off and retried:\n{log}");
}

/// The README's first command, as a newcomer runs it: everything it prints must work, and a rerun keeps the data.
#[test]
fn quickstart_runs_the_whole_loop_and_survives_a_rerun() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let start = || {
        let mut cmd = std::process::Command::new(bin("lifeline-server"));
        cmd.args(["quickstart", "--port", &port.to_string()]).current_dir(dir.path());
        let qs = Proc::spawn("quickstart", cmd);
        qs.wait_for_line("Press Ctrl-C to stop.", WAIT);
        qs
    };
    let mut qs = start();
    assert!(qs.output().contains("password"), "a first run shows the new account's password once");
    let env = parse_env(&std::fs::read_to_string(dir.path().join("lifeline-data/env.sh")).unwrap());
    let with_env = |name: &str, args: &[&str]| {
        let mut cmd = std::process::Command::new(bin(name));
        cmd.args(args).envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        run(cmd)
    };
    let help = with_env("lifeline-agent", &["request-help", "--subject", "quickstart works"]);
    assert!(help.ok, "{}{}", help.stdout, help.stderr);
    let list = with_env("lifeline-server", &["ticket", "list"]);
    assert!(list.ok && list.stdout.contains("quickstart works"), "{}{}", list.stdout, list.stderr);

    // The check it suggests names the real agent and runs under the consent the help request opened.
    let suggested = field(&qs.output(), "lifeline-server check run");
    let args: Vec<&str> = ["check", "run"].into_iter().chain(suggested.split_whitespace()).collect();
    let check = with_env("lifeline-server", &args);
    assert!(check.ok && check.stdout.contains(": done"), "{args:?}: {}{}", check.stdout, check.stderr);

    // Admin commands from the same shell work on the quickstart's own store, not on a new one.
    let added = with_env("lifeline-server", &["user", "add", "tina", "--tier", "2"]);
    assert!(added.ok, "{}", added.stderr);
    let mut cmd = std::process::Command::new(bin("lifeline-server"));
    cmd.args(["ticket", "list"]).envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    cmd.env("LIFELINE_TOKEN", field(&added.stdout, "API token:"));
    let list = run(cmd);
    assert!(list.stdout.contains("quickstart works"), "{}{}", list.stdout, list.stderr);
    qs.terminate();
    let data = dir.path().join("lifeline-data");
    assert_private(&data);

    // What an older build left readable to every local user is tightened on the next start.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(data.join("server"), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(data.join("server/lifeline.db"), std::fs::Permissions::from_mode(0o644)).unwrap();
    let mut qs = start();
    assert!(qs.output().contains("existing"), "a rerun reuses the account:\n{}", qs.output());
    let env = parse_env(&std::fs::read_to_string(dir.path().join("lifeline-data/env.sh")).unwrap());
    let mut cmd = std::process::Command::new(bin("lifeline-server"));
    cmd.args(["ticket", "list"]).envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let list = run(cmd);
    assert!(list.stdout.contains("quickstart works"), "tickets survive a rerun: {}{}", list.stdout, list.stderr);
    let agents = with_env("lifeline-server", &["agent", "list"]);
    assert_eq!(agents.stdout.lines().count(), 2, "the rerun keeps the one enrolled agent:\n{}", agents.stdout);
    assert!(agents.stdout.contains("online"), "{}", agents.stdout);
    assert_private(&data);
    qs.terminate();
}

/// No other local user can read the store (password and token hashes, every machine's snapshots), the CA, the
/// agent's key or the technician's token in env.sh.
fn assert_private(data: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    let mode = |path: &std::path::Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    for dir in ["", "server", "server/pki", "agent"] {
        assert_eq!(mode(&data.join(dir)), 0o700, "{dir:?} must be 0700");
    }
    for file in ["server/lifeline.db", "env.sh", "agent/agent.key"] {
        assert_eq!(mode(&data.join(file)), 0o600, "{file} must be 0600");
    }
    for wal in ["server/lifeline.db-wal", "server/lifeline.db-shm"] {
        if data.join(wal).exists() {
            assert_eq!(mode(&data.join(wal)), 0o600, "{wal} must be 0600");
        }
    }
}

fn parse_env(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|l| l.strip_prefix("export ")?.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// A port free for both UDP and TCP on 127.0.0.1 right now, for a command that takes a fixed port.
fn free_port() -> u16 {
    eventually("a port free for UDP and TCP", WAIT, || {
        let udp = std::net::UdpSocket::bind("127.0.0.1:0").ok()?;
        let port = udp.local_addr().ok()?.port();
        std::net::TcpListener::bind(("127.0.0.1", port)).ok().map(|_| port)
    })
}
