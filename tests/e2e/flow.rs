use std::time::Duration;

use crate::harness::{Agent, Server, eventually, field};

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
    assert!(ticket["findings"].is_array());
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
        listed.as_array().unwrap().iter().any(|t| t["number"].as_i64().map(|n| n.to_string()) == Some(number.clone()))
    );

    // The user sees its status from their machine.
    let mine = agent.call(&["tickets"]);
    assert!(mine.ok && mine.stdout.contains("pending-user") && mine.stdout.contains("Printer"), "{}", mine.stdout);

    for step in [["ticket", "status", &number, "resolved"], ["ticket", "status", &number, "closed"]] {
        assert!(server.cli(&step).ok);
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
