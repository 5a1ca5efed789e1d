//! Approved checks through the real binaries: each check's real output, the authorization matrix (roles x classes x
//! consent states x agent policy), hostile parameters refused twice, queueing for offline agents, the audit chain, the
//! systemd checks' D-Bus calls on a private bus, and a traceroute across a router of its own.

use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use crate::harness::{Agent, Netns, Proc, Server, eventually, ip, require_root};

/// Runs `check run` as the holder of `token` and returns the run's JSON, or the server's refusal as an `Err`.
pub fn check_run(server: &Server, token: &str, args: &[&str]) -> Result<Value, String> {
    let mut all = vec!["check", "run"];
    all.extend_from_slice(args);
    all.push("--json");
    let out = server.cli_as(token, &all);
    match serde_json::from_str::<Value>(&out.stdout) {
        Ok(run) => Ok(run),
        Err(_) => Err(out.stderr),
    }
}

fn audit_count(server: &Server, action: &str) -> i64 {
    server.sql().query_row("SELECT COUNT(*) FROM audit WHERE action = ?1", [action], |r| r.get(0)).unwrap()
}

#[test]
fn each_check_returns_real_data_and_lands_on_the_ticket_and_in_the_users_history() {
    let server = Server::start();
    let tech = server.add_user("tina", "2");
    let agent = Agent::start(&server);
    let ticket = agent.request_help("slow network").to_string();
    let api_port = server.api.rsplit(':').next().unwrap().trim_end_matches('/').to_owned();

    // (check, parameters, something its output must contain on this machine)
    let cases: &[(&str, &[&str], &str)] = &[
        ("system-summary", &[], "memory"),
        ("top-processes", &["count=3"], "by CPU"),
        ("disk-usage", &["path=/"], "total"),
        ("network-interfaces", &[], "lo"),
        ("dns-resolve", &["name=localhost"], "127.0.0.1"),
        ("tcp-connect", &["host=127.0.0.1", &format!("port={api_port}")], "connected"),
        ("listening-ports", &[], &format!(":{api_port}")),
        ("process-list", &[], "lifeline-server"),
        ("ping", &["host=127.0.0.1", "count=2"], "2 received, 0 % loss"),
        ("bandwidth", &["megabytes=2"], "Mbit/s"),
    ];
    for (name, params, expected) in cases {
        let mut args = vec![agent.id.as_str(), name, "--ticket", ticket.as_str()];
        args.extend_from_slice(params);
        let run = check_run(&server, &tech, &args).unwrap_or_else(|e| panic!("{name} refused: {e}"));
        assert_eq!(run["state"], "done", "{name}: {run:#}\nagent log:\n{}", agent.log());
        let output = run["result"].as_str().unwrap();
        assert!(output.contains(expected), "{name}: no {expected:?} in:\n{output}");
    }

    let shown = server.cli_as(&tech, &["ticket", "show", &ticket]);
    assert!(shown.ok, "{}", shown.stderr);
    assert!(shown.stdout.contains("ran check disk-usage path=/"), "{}", shown.stdout);
    assert!(shown.stdout.contains("tina"), "the technician who ran it is named:\n{}", shown.stdout);

    // The API's certificate comes from the deployment's own CA, which this machine's trust store rightly lacks.
    let url = format!("url=https://127.0.0.1:{api_port}/health");
    let run = check_run(&server, &tech, &[&agent.id, "http-reach", &url, "--ticket", &ticket]).unwrap();
    assert_eq!(run["state"], "failed", "{run:#}");
    assert!(run["result"].as_str().unwrap().contains("NOT valid"), "{run:#}");

    let history = agent.call(&["history"]);
    assert!(history.ok, "{}", history.stderr);
    assert_eq!(history.stdout.lines().count(), cases.len() + 1, "{}", history.stdout);
    assert!(
        history.stdout.contains(&format!("tina  ticket #{ticket}  tcp-connect host=127.0.0.1")),
        "{}",
        history.stdout
    );

    let verify = server.cli(&["audit", "verify"]);
    assert!(verify.ok, "{}{}", verify.stdout, verify.stderr);
    assert_eq!(audit_count(&server, "check.executed"), cases.len() as i64 + 1);
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Consent {
    /// No ticket given, so no window can apply.
    None,
    Open,
    Expired,
    Revoked,
    /// A ticket about another machine.
    OtherTicket,
}

#[derive(Debug, PartialEq)]
enum Expect {
    Ran,
    RefusedByServer,
    RefusedByAgent,
}

/// The rules of the product, written out plainly: the test compares the real system against them.
fn expected(tier: u8, class: char, consent: Consent, policy_on: bool) -> Expect {
    let needed = match class {
        'A' => 1,
        'B' => 2,
        _ => 3,
    };
    if tier < needed || consent == Consent::OtherTicket {
        return Expect::RefusedByServer;
    }
    if class == 'C' && !policy_on {
        return Expect::RefusedByAgent;
    }
    if consent == Consent::Open || (class == 'A' && policy_on) { Expect::Ran } else { Expect::RefusedByAgent }
}

struct Machine {
    agent: Agent,
    policy_on: bool,
    open: String,
    expired: String,
    revoked: String,
}

fn machine(server: &Server, policy_on: bool) -> Machine {
    let policy = if policy_on { "unattended_class_a = true\nenable_class_c = true\n" } else { "" };
    let mut agent = Agent::enroll(server);
    agent.run_with_policy(policy);
    let open = agent.request_help("open window").to_string();
    let expired = agent.request_help("window that will expire").to_string();
    let revoked = agent.request_help("window the user revokes").to_string();
    let out = agent.call(&["consent", "revoke", &revoked]);
    assert!(out.ok, "{}", out.stderr);
    // Let the window run out: the agent reads its windows at start, so stop it, move the end into the past, restart.
    agent.proc.as_mut().unwrap().terminate();
    let path = agent.dir.path().join("state/consent.json");
    let mut windows: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    for w in windows.as_array_mut().unwrap() {
        if w["ticket"].as_i64() == expired.parse().ok() {
            w["until_ms"] = 1.into();
        }
    }
    std::fs::write(&path, windows.to_string()).unwrap();
    agent.run_with_policy(policy);
    let listed = agent.call(&["consent", "list"]);
    assert!(listed.stdout.contains(&format!("ticket #{open} ")), "{}", listed.stdout);
    assert!(!listed.stdout.contains(&format!("ticket #{expired} ")), "{}", listed.stdout);
    assert!(!listed.stdout.contains(&format!("ticket #{revoked} ")), "{}", listed.stdout);
    assert_eq!(listed.stdout.contains("read-only checks at any time"), policy_on, "{}", listed.stdout);
    Machine { agent, policy_on, open, expired, revoked }
}

#[test]
fn authorization_matrix_over_roles_classes_consent_and_policy() {
    let server = Server::start();
    let roles = [
        ("t1", server.add_user("t1", "1"), 1),
        ("t2", server.add_user("t2", "2"), 2),
        ("t3", server.add_user("t3", "3"), 3),
        ("admin", server.admin_token.clone(), 3),
        ("auditor", server.add_user("aud", "auditor"), 0),
    ];
    let machines = [machine(&server, false), machine(&server, true)];
    let checks = [('A', "disk-usage", Some("path=/")), ('B', "process-list", None), ('C', "flush-dns-cache", None)];
    let consents = [Consent::None, Consent::Open, Consent::Expired, Consent::Revoked, Consent::OtherTicket];

    let (mut by_server, mut by_agent, mut ran) = (0, 0, 0);
    for (m, other) in [(&machines[0], &machines[1]), (&machines[1], &machines[0])] {
        for (role, token, tier) in &roles {
            for (class, name, param) in checks {
                for consent in consents {
                    let ticket = match consent {
                        Consent::None => None,
                        Consent::Open => Some(&m.open),
                        Consent::Expired => Some(&m.expired),
                        Consent::Revoked => Some(&m.revoked),
                        Consent::OtherTicket => Some(&other.open),
                    };
                    let mut args = vec![m.agent.id.as_str(), name];
                    args.extend(param);
                    if let Some(t) = ticket {
                        args.extend(["--ticket", t.as_str()]);
                    }
                    let want = expected(if *role == "auditor" { 0 } else { *tier }, class, consent, m.policy_on);
                    let case = format!("{role} class {class} consent {consent:?} policy {}", m.policy_on);
                    let got = match check_run(&server, token, &args) {
                        Err(refusal) => {
                            assert!(refusal.contains("403") || refusal.contains("422"), "{case}: {refusal}");
                            Expect::RefusedByServer
                        }
                        Ok(run) => match run["state"].as_str() {
                            Some("refused") => Expect::RefusedByAgent,
                            // flush-dns-cache really asks systemd-resolved, which may be absent: it still ran.
                            Some("done" | "failed") => Expect::Ran,
                            other => panic!("{case}: unexpected state {other:?}: {run:#}"),
                        },
                    };
                    assert_eq!(got, want, "{case}");
                    match got {
                        Expect::RefusedByServer => by_server += 1,
                        Expect::RefusedByAgent => by_agent += 1,
                        Expect::Ran => ran += 1,
                    }
                }
            }
        }
    }
    assert!(by_server > 0 && by_agent > 0 && ran > 0);
    assert_eq!(audit_count(&server, "check.refused"), by_server, "every refusal by the server is audited");
    assert_eq!(audit_count(&server, "check.refused-by-agent"), by_agent, "every refusal by an agent is audited");
    assert_eq!(audit_count(&server, "check.executed"), ran);
    let verify = server.cli(&["audit", "verify"]);
    assert!(verify.ok && verify.stdout.contains("intact"), "{}{}", verify.stdout, verify.stderr);
}

/// The agent finds the system bus where `DBUS_SYSTEM_BUS_ADDRESS` says, as every D-Bus client does: here a private
/// dbus-daemon without systemd, so both calls reach the bus and come back as its error, word for word in the result.
/// (`packaging/test.sh` runs the same checks against a booted systemd.)
#[test]
fn the_systemd_checks_call_the_bus_the_environment_names_and_report_its_errors() {
    let server = Server::start();
    let tech = server.add_user("tom", "3");
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("bus");
    let mut daemon = Command::new("dbus-daemon");
    daemon
        .arg(concat!("--config-file=", env!("CARGO_MANIFEST_DIR"), "/../shared/testdata/dbus/private-bus.conf"))
        .arg(format!("--address=unix:path={}", socket.display()))
        .args(["--nofork", "--print-address=1"]);
    let mut daemon = Proc::spawn("dbus-daemon", daemon);
    daemon.wait_for_line("unix:path=", Duration::from_secs(30));

    let mut agent = Agent::enroll(&server);
    let policy = agent.dir.path().join("agent.toml");
    std::fs::write(&policy, "enable_class_c = true\nrestartable_services = [\"cups.service\"]\n").unwrap();
    let mut run = agent.command(&["run", "--config", policy.to_str().unwrap()]);
    run.env("DBUS_SYSTEM_BUS_ADDRESS", format!("unix:path={},guid=0123456789abcdef0123456789abcdef", socket.display()));
    let proc = Proc::spawn("lifeline-agent", run);
    proc.wait_for_line("connected", Duration::from_secs(30));
    agent.proc = Some(proc);
    let ticket = agent.request_help("restart the printer service").to_string();

    let unknown = |name: &str| {
        format!("org.freedesktop.DBus.Error.ServiceUnknown: The name {name} was not provided by any .service files")
    };
    let cases = [
        (
            &["restart-service", "unit=cups.service"][..],
            format!("systemd refused to restart cups.service: {}", unknown("org.freedesktop.systemd1")),
        ),
        (
            &["flush-dns-cache"],
            format!("systemd-resolved did not flush its cache: {}", unknown("org.freedesktop.resolve1")),
        ),
    ];
    for (check, expected) in &cases {
        let mut args = vec![agent.id.as_str()];
        args.extend_from_slice(check);
        args.extend(["--ticket", ticket.as_str()]);
        let run = check_run(&server, &tech, &args).unwrap_or_else(|e| panic!("{check:?} refused: {e}"));
        assert_eq!(run["state"], "failed", "{check:?}: {run:#}\nagent log:\n{}", agent.log());
        assert_eq!(run["result"].as_str(), Some(expected.as_str()), "{check:?}: {run:#}");
    }

    daemon.kill();
    let run = check_run(&server, &tech, &[&agent.id, "flush-dns-cache", "--ticket", &ticket]).unwrap();
    let result = run["result"].as_str().unwrap_or_default();
    let expected = format!("cannot reach the system bus (is systemd running?): cannot connect to {}", socket.display());
    assert!(result.starts_with(&expected), "{run:#}");
}

#[test]
fn hostile_parameters_are_refused_by_the_server_and_again_by_the_agent() {
    let server = Server::start();
    let mut agent = Agent::start(&server);
    let ticket = agent.request_help("hostile parameters").to_string();
    let hostile: &[(&str, &str)] = &[
        ("disk-usage", "path=/; rm -rf /"),
        ("disk-usage", "path=/tmp/\u{1b}[2J"),
        ("disk-usage", "path=/home/../../etc/shadow"),
        ("disk-usage", "path=relative/path"),
        ("service-status", "unit=cups.service$(reboot)"),
        ("service-status", "unit=--help"),
        ("dns-resolve", "name=example.org`id`"),
        ("tcp-connect", "host=127.0.0.1"),
        ("top-processes", "count=100000"),
        ("http-reach", "url=http://127.0.0.1/`id`"),
        ("http-reach", "url=file:///etc/shadow"),
        ("system-summary", "cmd=/bin/sh"),
        ("shell", "cmd=id"),
    ];
    let overlong = format!("name={}", "a".repeat(300));
    let mut cases: Vec<(&str, &str)> = hostile.to_vec();
    cases.push(("dns-resolve", &overlong));
    for (name, param) in &cases {
        let refused = check_run(&server, &server.admin_token, &[&agent.id, name, param, "--ticket", &ticket])
            .expect_err(&format!("{name} {param} was accepted"));
        assert!(refused.contains("422"), "{name} {param}: {refused}");
    }
    let out_of_range = check_run(&server, &server.admin_token, &[&agent.id, "tcp-connect", "host=a", "port=70000"]);
    assert!(out_of_range.unwrap_err().contains("1 to 65535"));
    assert_eq!(audit_count(&server, "check.refused"), cases.len() as i64 + 1);

    // A server that skipped its own validation (or a tampered store) gets no further: the agent validates again.
    agent.proc.as_mut().unwrap().terminate();
    let forged = [
        r#"{"DiskUsage":{"path":"/home/../../etc/shadow"}}"#,
        r#"{"ServiceStatus":{"unit":"x; reboot"}}"#,
        r#"{"TcpConnect":{"host":"$(id)","port":80}}"#,
    ];
    for json in forged {
        server
            .sql()
            .execute(
                "INSERT INTO check_runs (agent_id, ticket, technician, check_json, description, state, requested_at,
                 expires_at) VALUES (?1, ?2, 'mallory', ?3, 'forged', 'queued', 0, 9999999999999)",
                rusqlite::params![agent.id, ticket.parse::<i64>().unwrap(), json],
            )
            .unwrap();
    }
    agent.run();
    let states = eventually("the agent to answer the forged runs", Duration::from_secs(30), || {
        let db = server.sql();
        let mut stmt = db.prepare("SELECT state, result FROM check_runs WHERE technician = 'mallory'").unwrap();
        let rows: Vec<(String, Option<String>)> =
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().map(Result::unwrap).collect();
        rows.iter().all(|(state, _)| state != "queued" && state != "sent").then_some(rows)
    });
    for (state, reason) in &states {
        assert_eq!(state, "refused", "{reason:?}");
    }
    let history = agent.call(&["history"]);
    assert_eq!(history.stdout.matches("mallory").count(), forged.len(), "{}", history.stdout);
}

#[test]
fn a_check_for_an_offline_agent_waits_and_runs_on_reconnect() {
    let server = Server::start();
    let mut agent = Agent::start(&server);
    let ticket = agent.request_help("queued check").to_string();
    agent.proc.as_mut().unwrap().terminate();
    eventually("the server to see the agent gone", Duration::from_secs(30), || {
        (server.json(&["agent", "show", &agent.id])["connected"] == false).then_some(())
    });

    let queued = check_run(&server, &server.admin_token, &[&agent.id, "disk-usage", "path=/", "--ticket", &ticket])
        .expect("queued");
    assert_eq!(queued["state"], "queued", "{queued:#}");
    let expiring =
        check_run(&server, &server.admin_token, &[&agent.id, "system-summary", "--ticket", &ticket, "--expires", "1m"])
            .expect("queued");
    // Time passes for the second request only: its expiry moves into the past while the agent is away.
    server.sql().execute("UPDATE check_runs SET expires_at = 1 WHERE id = ?1", [expiring["id"].as_i64()]).unwrap();

    agent.run();
    let show = |id: &Value| {
        let v = server.json(&["check", "show", &id.to_string()]);
        v["state"].as_str().unwrap().to_owned()
    };
    eventually("the queued check to run", Duration::from_secs(30), || (show(&queued["id"]) == "done").then_some(()));
    assert_eq!(show(&expiring["id"]), "expired");
    let shown = server.cli(&["ticket", "show", &ticket]);
    assert!(
        shown.stdout.contains("ran check disk-usage path=/") && shown.stdout.contains(": expired"),
        "{}",
        shown.stdout
    );
}

#[test]
fn tampering_with_the_audit_log_is_detected_and_located() {
    let server = Server::start();
    let agent = Agent::start(&server);
    let ticket = agent.request_help("audit").to_string();
    for _ in 0..3 {
        check_run(&server, &server.admin_token, &[&agent.id, "disk-usage", "path=/", "--ticket", &ticket]).unwrap();
    }
    let export = server.dir.path().join("audit.jsonl");
    let out = server.cli(&["audit", "export", "--out", export.to_str().unwrap()]);
    assert!(out.ok, "{}", out.stderr);
    let offline = server.cli(&["audit", "verify", "--file", export.to_str().unwrap()]);
    assert!(offline.ok && offline.stdout.contains("intact"), "{}{}", offline.stdout, offline.stderr);

    let auditor = server.add_user("aud", "auditor");
    let tech = server.add_user("t3", "3");
    assert!(server.cli_as(&auditor, &["audit", "verify"]).ok);
    let denied = server.cli_as(&tech, &["audit", "verify"]);
    assert!(!denied.ok && denied.stderr.contains("403"), "{}", denied.stderr);

    let victim: i64 = server
        .sql()
        .query_row("SELECT seq FROM audit WHERE action = 'check.executed' ORDER BY seq LIMIT 1", [], |r| r.get(0))
        .unwrap();
    server.sql().execute("UPDATE audit SET actor = 'nobody' WHERE seq = ?1", [victim]).unwrap();
    let verify = server.cli(&["audit", "verify"]);
    assert!(!verify.ok, "tampering went unnoticed: {}", verify.stdout);
    assert!(verify.stdout.contains(&format!("BROKEN at entry {victim}")), "{}", verify.stdout);
    // The export taken before still verifies, and shows what the entry said.
    assert!(server.cli(&["audit", "verify", "--file", export.to_str().unwrap()]).ok);
}

/// A result is spooled like any ticket data: the server dies while the check runs, and the result still arrives,
/// once, after the restart, with the check run once on the machine.
#[test]
fn a_check_result_survives_the_server_dying_while_the_check_runs() {
    let server = Server::start();
    let agent = Agent::start(&server);
    let ticket = agent.request_help("result across a crash").to_string();
    let args = [agent.id.as_str(), "ping", "host=127.0.0.1", "count=10", "--ticket", ticket.as_str(), "--no-wait"];
    let run = check_run(&server, &server.admin_token, &args).unwrap();
    let id = run["id"].to_string();
    eventually("the check to be sent", Duration::from_secs(15), || {
        (server.json(&["check", "show", &id])["state"] == "sent").then_some(())
    });
    let server = server.restart();
    let done = eventually("the result to arrive after the restart", Duration::from_secs(60), || {
        let run = server.json(&["check", "show", &id]);
        (run["state"] != "sent").then_some(run)
    });
    assert_eq!(done["state"], "done", "{done:#}");
    assert!(done["result"].as_str().unwrap().contains("10 sent"), "{done:#}");
    let history = agent.call(&["history"]);
    assert_eq!(history.stdout.matches("ping host=127.0.0.1").count(), 1, "ran once:\n{}", history.stdout);
    assert_eq!(audit_count(&server, "check.executed"), 1);
}

#[test]
fn traceroute_reaches_loopback_in_one_hop_and_needs_tier_2() {
    let server = Server::start();
    let (t1, t2) = (server.add_user("t1", "1"), server.add_user("t2", "2"));
    let agent = Agent::start(&server);
    let ticket = agent.request_help("the file server is slow").to_string();
    let args = [agent.id.as_str(), "traceroute", "host=127.0.0.1", "--ticket", ticket.as_str()];

    let refused = check_run(&server, &t1, &args).unwrap_err();
    assert!(refused.contains("403"), "class B is not for tier 1: {refused}");
    for hostile in ["host=127.0.0.1;id", "host=-n", "max-hops=31"] {
        let mut bad = vec![agent.id.as_str(), "traceroute", hostile, "--ticket", ticket.as_str()];
        if !hostile.starts_with("host=") {
            bad.push("host=127.0.0.1");
        }
        assert!(check_run(&server, &t2, &bad).unwrap_err().contains("422"), "{hostile} was accepted");
    }

    let run = check_run(&server, &t2, &args).unwrap();
    assert_eq!(run["state"], "done", "{run:#}\nagent log:\n{}", agent.log());
    let output = run["result"].as_str().unwrap();
    assert!(output.contains("\n 1  127.0.0.1  "), "{output}");
    assert!(output.ends_with("reached 127.0.0.1 in 1 hop\n"), "{output}");
    let history = agent.call(&["history"]);
    assert!(history.stdout.contains("traceroute host=127.0.0.1 max-hops=16"), "{}", history.stdout);
}

/// A path with a real router on it: the agent's namespace, a router's and a target's, linked in a row. The trace
/// names the router, then reaches the target, over IPv4 and IPv6; a route the router refuses ends it with the
/// router's reason, and one it silently drops shows as stars up to the hop limit.
#[test]
fn traceroute_names_the_router_on_the_way_and_says_how_the_path_ends() {
    require_root("network namespaces");
    // Declared first, so dropped last: after the processes running inside them.
    let (agent_ns, router, target) = (Netns::named("-a"), Netns::named("-r"), Netns::named("-t"));
    let link = |left: &Netns, right: &Netns, net: u8| {
        let (l, r) = (format!("lltr{net}l"), format!("lltr{net}r"));
        ip(&["-n", &left.0, "link", "add", &l, "type", "veth", "peer", "name", &r, "netns", &right.0]);
        for (ns, dev, host) in [(left, &l, 1), (right, &r, 2)] {
            ip(&["-n", &ns.0, "addr", "add", &format!("10.77.{net}.{host}/24"), "dev", dev]);
            ip(&["-n", &ns.0, "addr", "add", &format!("fd77:{net}::{host}/64"), "dev", dev, "nodad"]);
            ip(&["-n", &ns.0, "link", "set", dev, "up"]);
        }
    };
    link(&agent_ns, &router, 1);
    link(&router, &target, 2);
    for (ns, via4, via6) in [(&agent_ns, "10.77.1.2", "fd77:1::2"), (&target, "10.77.2.1", "fd77:2::1")] {
        ip(&["-n", &ns.0, "route", "add", "default", "via", via4]);
        ip(&["-n", &ns.0, "-6", "route", "add", "default", "via", via6]);
    }
    router.sysctl("net.ipv4.ip_forward=1");
    router.sysctl("net.ipv6.conf.all.forwarding=1");
    ip(&["-n", &router.0, "route", "add", "prohibit", "10.77.8.0/24"]);
    ip(&["-n", &router.0, "route", "add", "blackhole", "10.77.9.0/24"]);
    // Routers rate-limit their ICMP errors; three probes a hop must all be answered here.
    for ns in [&router, &target] {
        ns.sysctl("net.ipv4.icmp_ratelimit=0");
        ns.sysctl("net.ipv6.icmp.ratelimit=0");
    }

    let server = Server::start_in_netns(Some(&agent_ns.0));
    let tech = server.add_user("tina", "2");
    let agent = Agent::start(&server);
    let ticket = agent.request_help("cannot reach the file server").to_string();
    let trace = |host: &str, max_hops: &str| {
        let (host, max_hops) = (format!("host={host}"), format!("max-hops={max_hops}"));
        let run = check_run(&server, &tech, &[&agent.id, "traceroute", &host, &max_hops, "--ticket", &ticket]).unwrap();
        assert_eq!(run["state"], "done", "{run:#}\nagent log:\n{}", agent.log());
        run["result"].as_str().unwrap().to_owned()
    };

    // First, while the router has sent this sender nothing: Linux allows a refusing route's errors a burst of five,
    // then one a second, per sender and in a bucket the other ICMP errors drain too (net.ipv4.route.error_cost,
    // which a namespace cannot change).
    let refused = trace("10.77.8.1", "5");
    assert!(
        refused.ends_with("stopped at hop 1: 10.77.1.2 says administratively prohibited (filtered)\n"),
        "{refused}"
    );
    // The first packets to a new IPv6 neighbour can be lost while the router and the target discover each other
    // (seen once: a hop of stars, then the target a hop later). A connection attempt settles both ways first.
    let settle =
        check_run(&server, &tech, &[&agent.id, "tcp-connect", "host=fd77:2::2", "port=9", "--ticket", &ticket]);
    assert!(settle.is_ok(), "{settle:?}");
    for (to, via) in [("10.77.2.2", "10.77.1.2"), ("fd77:2::2", "fd77:1::2")] {
        let out = trace(to, "5");
        assert!(out.contains(&format!("\n 1  {via}  ")), "{out}");
        assert!(out.contains(&format!("\n 2  {to}  ")), "{out}");
        assert!(out.ends_with(&format!("reached {to} in 2 hops\n")), "{out}");
        assert_eq!(out.lines().count(), 4, "a heading, two hops and the ending:\n{out}");
    }
    let dropped = trace("10.77.9.1", "2");
    assert!(dropped.contains("\n 2  *  *  *\n"), "{dropped}");
    assert!(dropped.ends_with("10.77.9.1 not reached within 2 hops\n"), "{dropped}");
}
