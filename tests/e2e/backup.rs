//! Backup and restore: a backup taken while agents send snapshots as fast as the server acknowledges them, restored
//! into a new directory, and a server started on it that its agents connect to as before, with everything that was
//! acknowledged before the backup began, every ticket, and an audit chain that agrees with its checkpoints.

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use tempfile::TempDir;

use crate::harness::{Agent, Proc, Server, eventually, field, run, server_cmd, swarm};

const WAIT: Duration = Duration::from_secs(60);
const TICKETS: &str = "SELECT number || ' ' || subject FROM tickets";

/// A server on `dir` (an admin already added, `admin_token` theirs) with the configuration file `config` in it, its
/// QUIC endpoint on `quic`.
fn serve(dir: TempDir, admin_token: String, quic: &str) -> Server {
    let config = dir.path().join("server.toml");
    let args = ["serve", "--config", config.to_str().unwrap(), "--quic", quic, "--api", "127.0.0.1:0"];
    let proc = Proc::spawn("lifeline-server", server_cmd(dir.path(), &args));
    let quic = proc.wait_for_line("quic listening on ", WAIT);
    let api = proc.wait_for_line("api listening on ", WAIT);
    Server {
        quic: field(&quic, "quic listening on").parse().unwrap(),
        api: field(&api, "api listening on"),
        dir,
        proc,
        admin_token,
        netns: None,
    }
}

/// An enrolled agent that snapshots every second and logs each acknowledgement with the snapshot's id.
fn start_agent(server: &Server) -> Agent {
    let mut agent = Agent::enroll(server);
    let config = agent.dir.path().join("agent.toml");
    std::fs::write(&config, "snapshot_interval_secs = 1\n").unwrap();
    let mut cmd = agent.command(&["run", "--config", config.to_str().unwrap()]);
    cmd.env("LIFELINE_LOG", "info,lifeline_agent=debug");
    agent.proc = Some(Proc::spawn("lifeline-agent", cmd));
    agent.proc.as_ref().unwrap().wait_for_line("connected", WAIT);
    agent
}

fn acknowledged(agent: &Agent) -> BTreeSet<String> {
    let log = agent.log();
    log.lines()
        .filter(|l| l.contains("snapshot acknowledged"))
        .filter_map(|l| l.split_whitespace().find_map(|w| w.strip_prefix("id=")).map(str::to_owned))
        .collect()
}

fn column(db: &Path, sql: &str) -> BTreeSet<String> {
    let conn = rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    conn.busy_timeout(Duration::from_secs(5)).unwrap();
    let mut stmt = conn.prepare(sql).unwrap();
    stmt.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect()
}

/// Every directory under `dir`, itself included, is 0700 and every file 0600.
fn assert_private(dir: &Path) {
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(dir), 0o700, "{}", dir.display());
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            assert_private(&path);
        } else {
            assert_eq!(mode(&path), 0o600, "{}", path.display());
        }
    }
}

#[test]
fn a_backup_taken_under_load_restores_into_a_server_that_serves_the_same_agents() {
    let dir = tempfile::tempdir().unwrap();
    let admin = run(server_cmd(dir.path(), &["user", "add", "admin", "--tier", "admin"]));
    assert!(admin.ok, "{}", admin.stderr);
    std::fs::write(dir.path().join("server.toml"), "[audit]\ncheckpoint_every = \"1s\"\n").unwrap();
    let mut server = serve(dir, field(&admin.stdout, "API token:"), "127.0.0.1:0");
    let agents = [start_agent(&server), start_agent(&server)];
    for (i, agent) in agents.iter().enumerate() {
        agent.request_help(&format!("before the backup {i}"));
    }
    // The load: simulated agents sending their next snapshot as soon as the last is acknowledged, and asking for help.
    let mut load = Proc::spawn(
        "lifeline-swarm",
        swarm(&server, 20, &["--duration", "0", "--snapshot-every", "0", "--help-per-min", "120", "--sockets", "2"]),
    );
    load.wait_for_line("all 20 connected", WAIT);
    let checkpoints = server.dir.path().join("audit-checkpoints.jsonl");
    eventually("snapshots from both agents and a scheduled checkpoint", WAIT, || {
        let checkpointed = std::fs::read_to_string(&checkpoints).is_ok_and(|c| c.lines().count() >= 2);
        (checkpointed && agents.iter().all(|a| acknowledged(a).len() >= 2)).then_some(())
    });

    let acked: BTreeSet<String> = agents.iter().flat_map(acknowledged).collect();
    let stored = column(&server.db(), "SELECT id FROM snapshots");
    let tickets = column(&server.db(), TICKETS);
    let scratch = tempfile::tempdir().unwrap();
    let out = scratch.path().join("backup");
    let config = server.dir.path().join("server.toml");
    let backup = run(server_cmd(
        server.dir.path(),
        &["backup", "--out", out.to_str().unwrap(), "--config", config.to_str().unwrap()],
    ));
    assert!(backup.ok, "backup failed: {}{}", backup.stdout, backup.stderr);
    let during = column(&server.db(), "SELECT id FROM snapshots").len() - stored.len();
    assert!(during > 0, "no snapshot was stored while the backup ran: the load did not overlap it");
    assert_private(&out);
    for file in ["lifeline.db", "pki/ca.key", "pki/ca.pem", "server.toml", "audit-checkpoints.jsonl"] {
        assert!(out.join(file).is_file(), "{file} not in the backup: {}", backup.stdout);
    }

    load.terminate();
    server.proc.terminate();
    let restore = |into: &Path| {
        let args = ["restore", "--from", out.to_str().unwrap(), "--data-dir", into.to_str().unwrap()];
        run(server_cmd(server.dir.path(), &args))
    };
    let refused = restore(server.dir.path());
    assert!(!refused.ok && refused.stderr.contains("is not empty"), "restored over data: {}", refused.stderr);
    let target = tempfile::tempdir().unwrap();
    let restored = restore(target.path());
    assert!(restored.ok, "restore failed: {}{}", restored.stdout, restored.stderr);
    assert_private(target.path());

    // The restored data, served where the agents already dial.
    let server = serve(target, server.admin_token.clone(), &server.quic.to_string());
    let db = server.db();
    let kept = column(&db, "SELECT id FROM snapshots");
    let lost: Vec<_> = acked.difference(&kept).collect();
    assert!(lost.is_empty(), "acknowledged before the backup, missing after the restore: {lost:?}");
    let lost: Vec<_> = stored.difference(&kept).collect();
    assert!(lost.is_empty(), "stored before the backup, missing after the restore: {lost:?}");
    let kept = column(&db, TICKETS);
    let lost: Vec<_> = tickets.difference(&kept).collect();
    assert!(lost.is_empty(), "tickets missing after the restore: {lost:?}");
    let listed = server.json(&["ticket", "list"]).to_string();
    assert!(listed.contains("before the backup 0") && listed.contains("before the backup 1"), "{listed}");

    // Their certificates still verify: each agent connects again and has a new snapshot acknowledged and stored.
    for agent in &agents {
        let before = acknowledged(agent);
        let new = eventually("a snapshot acknowledged by the restored server", WAIT, || {
            acknowledged(agent).difference(&before).next().cloned()
        });
        assert!(column(&db, "SELECT id FROM snapshots").contains(&new), "{new} acknowledged but not stored");
    }

    let verdict = server.cli(&[
        "audit",
        "verify",
        "--checkpoints",
        server.dir.path().join("audit-checkpoints.jsonl").to_str().unwrap(),
    ]);
    assert!(verdict.ok && verdict.stdout.contains("agree with it"), "{}{}", verdict.stdout, verdict.stderr);
}
