//! Nothing lost, nothing twice: the agent's spool across an offline server, a restart's goodbye, last-seen on leaving,
//! a server killed with SIGKILL again and again, an agent killed with SIGKILL again and again, and a spool that fills
//! up. Truth is read from the server's SQLite file and from the agent's own log of what it spooled and what the server
//! acknowledged.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use crate::harness::{Agent, Proc, Server, eventually};

const WAIT: Duration = Duration::from_secs(60);

/// An enrolled agent that snapshots every second and logs each item it spools and each ack it gets.
fn start_agent(server: &Server) -> Agent {
    let mut agent = Agent::enroll(server);
    std::fs::write(agent.dir.path().join("agent.toml"), "snapshot_interval_secs = 1\n").unwrap();
    agent.proc = Some(spawn(&agent));
    agent.proc.as_ref().unwrap().wait_for_line("connected", WAIT);
    agent
}

fn spawn(agent: &Agent) -> Proc {
    let config = agent.dir.path().join("agent.toml");
    let mut cmd = agent.command(&["run", "--config", config.to_str().unwrap()]);
    cmd.env("LIFELINE_LOG", "info,lifeline_agent=debug");
    Proc::spawn("lifeline-agent", cmd)
}

/// Snapshot ids from the agent's log lines that contain `what`.
fn ids(log: &str, what: &str) -> BTreeSet<String> {
    log.lines()
        .filter(|l| l.contains(what))
        .filter_map(|l| l.split_whitespace().find_map(|w| w.strip_prefix("id=")).map(str::to_owned))
        .collect()
}

fn stored_snapshots(db: &Path) -> Vec<String> {
    let conn = rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    let mut stmt = conn.prepare("SELECT id FROM snapshots").unwrap();
    stmt.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect()
}

fn tickets(db: &Path) -> Vec<String> {
    let conn = rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    let mut stmt = conn.prepare("SELECT subject FROM tickets").unwrap();
    stmt.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect()
}

fn spool_is_empty(agent: &Agent) -> bool {
    std::fs::read_dir(agent.dir.path().join("state/spool")).unwrap().filter_map(Result::ok).all(|f| {
        !f.file_name().to_string_lossy().ends_with(".routine") && !f.file_name().to_string_lossy().ends_with(".kept")
    })
}

/// Every id the agent spooled is stored exactly once, and nothing else is.
fn assert_all_stored_once(db: &Path, spooled: &BTreeSet<String>) {
    let stored = stored_snapshots(db);
    let distinct: BTreeSet<_> = stored.iter().cloned().collect();
    assert_eq!(stored.len(), distinct.len(), "a snapshot was stored twice");
    let missing: Vec<_> = spooled.difference(&distinct).collect();
    assert!(missing.is_empty(), "spooled snapshots never stored: {missing:?}");
}

#[test]
fn an_offline_agent_keeps_everything_and_delivers_it_once() {
    let mut server = Server::start();
    let agent = start_agent(&server);
    let log = || agent.log();
    eventually("a first acknowledged snapshot", WAIT, || {
        (!ids(&log(), "snapshot acknowledged").is_empty()).then_some(())
    });

    server.proc.terminate();
    let spooled_before = ids(&log(), "snapshot spooled").len();
    eventually("three snapshots spooled while offline", WAIT, || {
        (ids(&log(), "snapshot spooled").len() >= spooled_before + 3).then_some(())
    });
    let help = agent.call(&["request-help", "--subject", "offline help"]);
    assert!(
        help.ok && help.stdout.contains("saved"),
        "the user is told the request is kept: {}{}",
        help.stdout,
        help.stderr
    );
    assert!(!spool_is_empty(&agent));

    let server = server.restart();
    eventually("the spool to drain", WAIT, || {
        (spool_is_empty(&agent) && log().contains("help request acknowledged")).then_some(())
    });
    assert_all_stored_once(&server.db(), &ids(&log(), "snapshot spooled"));
    assert_eq!(tickets(&server.db()), ["offline help"], "the help request opened exactly one ticket");
    eventually("the ticket to reach the user's list", WAIT, || {
        agent.call(&["tickets"]).stdout.contains("offline help").then_some(())
    });
    // The snapshot taken offline says so: the link was down, and the finding tells the technician why it was late.
    let ticket = server.json(&["ticket", "show", "1"]);
    let probes = ticket["snapshot"]["network"]["probes"].as_array().cloned().unwrap_or_default();
    assert!(probes.iter().any(|p| p["kind"] == "Link" && p["ok"] == false), "{probes:?}");
    assert!(
        ticket["findings"].as_array().is_some_and(|f| f.iter().any(|f| f["kind"] == "ServerUnreachable")),
        "{ticket}"
    );
}

/// A server stopped as systemd stops it tells its agents the window to spread their return over (a second for one
/// agent), and the agent comes back within it to the restarted server.
#[test]
fn a_restarting_server_tells_its_agents_when_to_come_back() {
    let mut server = Server::start();
    let agent = start_agent(&server);
    server.proc.terminate();
    let said = server.proc.output();
    assert!(said.contains("asking the agents to come back within the window agents=1 within_ms=1000"), "{said}");
    eventually("the agent to hear the goodbye", WAIT, || {
        agent.log().contains("the server is restarting and spreads its agents' return within_ms=1000").then_some(())
    });
    let connects = agent.log().matches("connected server=").count();
    let _server = server.restart();
    eventually("the agent back on the restarted server", WAIT, || {
        (agent.log().matches("connected server=").count() > connects).then_some(())
    });
}

/// Heartbeats refresh last-seen only once a minute, so leaving must write it: the time stored is the agent's goodbye,
/// not its hello.
#[test]
fn an_agent_that_leaves_is_last_seen_when_it_left() {
    let server = Server::start();
    let mut agent = start_agent(&server);
    std::thread::sleep(Duration::from_secs(2));
    let leaving = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    agent.proc.take().unwrap().terminate();
    // The hello wrote last-seen two seconds before `leaving`; only the departure can write a later one.
    eventually("last-seen written when the agent left", WAIT, || {
        let at: Option<i64> =
            server.sql().query_row("SELECT last_seen_at FROM agents WHERE id = ?1", [&agent.id], |r| r.get(0)).unwrap();
        at.filter(|&at| at >= leaving)
    });
}

#[test]
fn killing_the_server_again_and_again_loses_no_acknowledged_snapshot() {
    let mut server = Server::start();
    let agent = start_agent(&server);
    for round in 1..=3 {
        let acked = ids(&agent.log(), "snapshot acknowledged").len();
        eventually(&format!("acks in round {round}"), WAIT, || {
            (ids(&agent.log(), "snapshot acknowledged").len() >= acked + 2).then_some(())
        });
        server = server.restart();
        let help = agent.call(&["request-help", "--subject", &format!("round {round}")]);
        assert!(help.ok, "{}", help.stderr);
    }
    eventually("the spool to drain", WAIT, || spool_is_empty(&agent).then_some(()));
    let log = agent.log();
    assert_all_stored_once(&server.db(), &ids(&log, "snapshot spooled"));
    let mut subjects = tickets(&server.db());
    subjects.sort();
    assert_eq!(subjects, ["round 1", "round 2", "round 3"], "each help request is one ticket, none lost or doubled");
}

#[test]
fn killing_the_agent_again_and_again_loses_nothing_it_spooled() {
    let mut server = Server::start();
    let mut agent = start_agent(&server);
    let mut logs = String::new();
    // Two rounds with the server down, so the kill always lands on a spool holding items; one with it up, so it
    // can land mid-upload.
    server.proc.terminate();
    for round in 1..=3 {
        if round == 3 {
            server = server.restart();
        }
        let spooled = ids(&agent.log(), "snapshot spooled").len();
        eventually(&format!("spooling in round {round}"), WAIT, || {
            (ids(&agent.log(), "snapshot spooled").len() >= spooled + 2).then_some(())
        });
        let mut proc = agent.proc.take().unwrap();
        proc.kill(); // SIGKILL, wherever it is: collecting, writing the spool, or uploading.
        logs += &proc.output();
        agent.proc = Some(spawn(&agent));
    }
    eventually("the spool to drain", WAIT, || spool_is_empty(&agent).then_some(()));
    logs += &agent.log();
    assert_all_stored_once(&server.db(), &ids(&logs, "snapshot spooled"));
    assert!(logs.contains("spool holds items from before"), "a restarted agent resumes its spool:\n{logs}");
}

/// A long outage fills the spool: routine snapshots go oldest first, the help request and its snapshot never, and the
/// technicians are told how many were dropped. The spool starts nearly full, as the agent would find it after days
/// offline: eight large routine snapshots, written as the agent writes them.
#[test]
fn a_full_spool_drops_routine_snapshots_oldest_first_and_never_a_help_request() {
    use lifeline_shared::codec;
    use lifeline_shared::wire::{Request, Snapshot};

    let mut server = Server::start();
    let mut agent = Agent::enroll(&server);
    std::fs::write(agent.dir.path().join("agent.toml"), "snapshot_interval_secs = 1\nspool_max_mb = 1\n").unwrap();
    server.proc.terminate();
    let spool = agent.dir.path().join("state/spool");
    std::fs::create_dir_all(&spool).unwrap();
    let old: Vec<String> = (1..=8u8)
        .map(|n| {
            let snap =
                Snapshot { id: [n; 16], taken_at_ms: 1, problems: vec!["x".repeat(130_000)], ..Snapshot::default() };
            std::fs::write(spool.join(format!("{n:020}.routine")), codec::encode(&Request::Snapshot(snap)).unwrap())
                .unwrap();
            [n; 16].iter().map(|b| format!("{b:02x}")).collect()
        })
        .collect();

    agent.proc = Some(spawn(&agent));
    let log = || agent.log();
    eventually("the spool to overflow", WAIT, || log().contains("spool full").then_some(()));
    let help = agent.call(&["request-help", "--subject", "offline with a full spool"]);
    assert!(help.ok && help.stdout.contains("saved"), "{}{}", help.stdout, help.stderr);

    let server = server.restart();
    eventually("the spool to drain", WAIT, || {
        (spool_is_empty(&agent) && log().contains("help request acknowledged")).then_some(())
    });
    assert_eq!(tickets(&server.db()), ["offline with a full spool"]);
    let stored: BTreeSet<String> = stored_snapshots(&server.db()).into_iter().collect();
    assert!(!stored.contains(&old[0]), "the oldest routine snapshot was dropped first");
    assert!(stored.contains(&old[7]), "the newest of the old ones outlived the oldest");
    // Snapshot bodies are stored as lz4-compressed JSON.
    let conn = server.sql();
    let mut stmt = conn.prepare("SELECT body FROM snapshots").unwrap();
    let bodies: Vec<Vec<u8>> = stmt.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect();
    let told = bodies.iter().any(|b| {
        let json = String::from_utf8(lz4_flex::decompress_size_prepended(b).unwrap()).unwrap();
        json.contains("dropped because the offline spool was full")
    });
    assert!(told, "no snapshot told the technicians about the drop");
}

/// A tmpfs of a few MiB mounted over a directory, unmounted when dropped. Mounting needs root.
struct SmallDisk {
    dir: std::path::PathBuf,
}

impl SmallDisk {
    fn mount(dir: &Path, mib: u32) -> SmallDisk {
        let out = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={mib}m,mode=0700"), "tmpfs"])
            .arg(dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "this test needs root to mount a small filesystem: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        SmallDisk { dir: dir.to_owned() }
    }

    /// Writes a file until the filesystem is full; removing it frees the space again.
    fn fill(&self) -> std::path::PathBuf {
        use std::io::Write;
        let path = self.dir.join("filler");
        let mut file = std::fs::File::create(&path).unwrap();
        let chunk = vec![0u8; 64 * 1024];
        // Bounded: a few MiB at most, then the filesystem says it is full.
        for _ in 0..1024 {
            if file.write_all(&chunk).is_err() {
                return path;
            }
        }
        panic!("the small filesystem never filled up");
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg("--lazy").arg(&self.dir).status();
        let _ = std::fs::remove_dir(&self.dir);
    }
}

/// A full disk on the server is the server's passing fault: nothing is acknowledged and nothing is dropped, the agent
/// keeps its items and sends them again, reads go on, and once space is freed everything arrives exactly once.
#[test]
fn a_full_disk_on_the_server_loses_nothing_and_doubles_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let disk = SmallDisk::mount(dir.path(), 16);
    let server = Server::start_on(dir, None);
    let agent = start_agent(&server);
    let log = || agent.log();
    eventually("a first acknowledged snapshot", WAIT, || {
        (!ids(&log(), "snapshot acknowledged").is_empty()).then_some(())
    });

    let filler = disk.fill();
    eventually("the agent to be told to try again", WAIT, || {
        log().contains("the server could not store a spooled item; it is kept").then_some(())
    });
    let acked = ids(&log(), "snapshot acknowledged");
    let help = agent.call(&["request-help", "--subject", "help while the server's disk is full"]);
    assert!(
        help.ok && help.stdout.contains("saved"),
        "the user is told the request is kept: {}{}",
        help.stdout,
        help.stderr
    );
    eventually("a few more refused tries", WAIT, || {
        (log().matches("the server could not store a spooled item; it is kept").count() >= 3).then_some(())
    });
    assert_eq!(ids(&log(), "snapshot acknowledged"), acked, "nothing is acknowledged while the disk is full");
    assert!(!spool_is_empty(&agent));
    assert!(!log().contains("it is dropped"), "nothing is dropped on the agent:\n{}", log());
    let agents = server.cli(&["agent", "list"]);
    assert!(agents.ok && agents.stdout.contains(&agent.id), "reads go on: {}{}", agents.stdout, agents.stderr);
    let said = server.proc.output();
    assert_eq!(said.matches("the store cannot write").count(), 1, "one line for the burst:\n{said}");

    std::fs::remove_file(filler).unwrap();
    eventually("the spool to drain", WAIT, || {
        (spool_is_empty(&agent) && log().contains("help request acknowledged")).then_some(())
    });
    assert!(server.proc.output().contains("the store writes again"));
    assert_all_stored_once(&server.db(), &ids(&log(), "snapshot spooled"));
    assert_eq!(tickets(&server.db()), ["help while the server's disk is full"], "the ticket exists once");
}

/// A full disk on the agent's machine: a help request that cannot be saved is refused to the user with the reason,
/// never silently lost; the agent keeps running and connected; once space returns, snapshots flow again and the
/// same request goes through.
#[test]
fn a_full_disk_on_the_agent_refuses_what_it_cannot_keep_and_recovers() {
    let server = Server::start();
    let mut agent = Agent::enroll(&server);
    std::fs::write(agent.dir.path().join("agent.toml"), "snapshot_interval_secs = 1\n").unwrap();
    // The enrolled state moves onto a small filesystem of its own, as a user's nearly full disk.
    let state = agent.dir.path().join("state");
    let saved = tempfile::tempdir().unwrap();
    let files: Vec<_> = std::fs::read_dir(&state).unwrap().map(|e| e.unwrap().path()).filter(|p| p.is_file()).collect();
    for f in &files {
        std::fs::copy(f, saved.path().join(f.file_name().unwrap())).unwrap();
    }
    let disk = SmallDisk::mount(&state, 4);
    for f in &files {
        std::fs::copy(saved.path().join(f.file_name().unwrap()), f).unwrap();
    }
    agent.proc = Some(spawn(&agent));
    agent.proc.as_ref().unwrap().wait_for_line("connected", WAIT);
    eventually("a first acknowledged snapshot", WAIT, || {
        (!ids(&agent.log(), "snapshot acknowledged").is_empty()).then_some(())
    });

    let filler = disk.fill();
    let help = agent.call(&["request-help", "--subject", "my disk is full"]);
    assert!(!help.ok, "a request that could not be saved is not reported as saved: {}", help.stdout);
    assert!(
        help.stderr.contains("could not be saved") && help.stderr.contains("No space left on device"),
        "the user is told why: {}",
        help.stderr
    );
    let acked = ids(&agent.log(), "snapshot acknowledged").len();
    std::thread::sleep(Duration::from_secs(3));
    assert!(agent.proc.as_mut().unwrap().is_running(), "the agent keeps running:\n{}", agent.log());
    let agents = server.json(&["agent", "list"]);
    assert!(agents.to_string().contains(r#""connected":true"#), "and connected: {agents}");

    std::fs::remove_file(filler).unwrap();
    eventually("snapshots acknowledged again", WAIT, || {
        (ids(&agent.log(), "snapshot acknowledged").len() > acked + 1).then_some(())
    });
    let again = agent.call(&["request-help", "--subject", "my disk is full"]);
    assert!(again.ok && again.stdout.contains("ticket #"), "{}{}", again.stdout, again.stderr);
    assert_eq!(tickets(&server.db()), ["my disk is full"], "the refused request was not stored behind the user's back");
}
