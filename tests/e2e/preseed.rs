//! Enrollment on first start, as packages preseed it: `lifeline-agent run --token-file F` on a machine that is not
//! enrolled yet. A missing, malformed, expired or used token, or a server that does not answer, is said plainly in
//! the log and retried with backoff by the same process: no crash loop, no identity saved, the token kept for the
//! admin to replace. A good token enrolls, is deleted, and the agent goes on to connect.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use lifeline_shared::token::EnrollToken;
use tempfile::TempDir;

use crate::harness::{Agent, Proc, Server, eventually, field, run, server_cmd};

const WAIT: Duration = Duration::from_secs(30);
/// Longer than one enrollment attempt against a server that never answers (15 s) plus a retry delay.
const SLOW_WAIT: Duration = Duration::from_secs(60);
const FAILED: &str = "not enrolled yet";

struct Preseeded {
    dir: TempDir,
    proc: Proc,
}

impl Preseeded {
    /// Starts the service on a fresh machine whose token file holds `token`, or no token file at all.
    fn start(token: Option<&str>) -> Preseeded {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("enroll.token");
        if let Some(text) = token {
            std::fs::write(&file, text).unwrap();
        }
        let cmd = Agent::cmd(dir.path(), &["run", "--token-file", file.to_str().unwrap()]);
        Preseeded { proc: Proc::spawn("lifeline-agent", cmd), dir }
    }

    fn token_file(&self) -> PathBuf {
        self.dir.path().join("enroll.token")
    }

    fn failures(&self) -> usize {
        self.proc.output().lines().filter(|l| l.contains(FAILED)).count()
    }

    /// The refusal is explained, retried by the same live process at a bounded rate, and leaves no identity and
    /// the token in place.
    fn assert_refused_and_retried(&mut self, reason: &str, started: Instant, limit: Duration) {
        let line = self.proc.wait_for_line(FAILED, limit);
        assert!(line.contains(reason), "the log should say {reason:?}, it says:\n{line}");
        assert!(line.contains("retry_in_secs="), "the log should say when it retries:\n{line}");
        eventually(&format!("a retry after {reason:?}; log:\n{}", self.proc.output()), limit, || {
            (self.failures() >= 2).then_some(())
        });
        // Every attempt came from this one process (nothing here restarts it), and it has not given up.
        assert!(
            !self.proc.output().contains("error:"),
            "the agent exited instead of retrying:\n{}",
            self.proc.output()
        );
        // At least a second between attempts: one attempt per elapsed second, plus the first, at most.
        let attempts = self.failures() as u64;
        assert!(
            attempts <= started.elapsed().as_secs() + 1,
            "{attempts} attempts in {:?} is a retry flood:\n{}",
            started.elapsed(),
            self.proc.output()
        );
        assert_no_identity(&self.dir.path().join("state"));
        if !reason.contains("no enrollment token") {
            assert!(
                self.token_file().exists(),
                "a refused token was deleted; the admin needs it to see what was wrong"
            );
        }
    }
}

/// Nothing half-enrolled: no key, certificate or identity is left by a failed enrollment.
fn assert_no_identity(state: &Path) {
    let left: Vec<_> =
        std::fs::read_dir(state).map(|d| d.filter_map(Result::ok).map(|e| e.file_name()).collect()).unwrap_or_default();
    assert!(left.is_empty(), "a failed enrollment left {left:?} in the state directory");
}

/// The secret part of a token, which must never appear in a log.
fn secret(token: &str) -> String {
    EnrollToken::parse(token).unwrap().secret
}

#[test]
fn a_missing_token_is_waited_for_and_a_good_one_enrolls_and_is_deleted() {
    let server = Server::start();
    let started = Instant::now();
    let mut agent = Preseeded::start(None);
    agent.assert_refused_and_retried("no enrollment token in", started, WAIT);

    // The admin places the token late: the running service picks it up, enrolls, deletes it and connects.
    let token = server.token(&["--uses", "1"]);
    let tmp = agent.dir.path().join(".enroll.token.tmp");
    std::fs::write(&tmp, &token).unwrap();
    std::fs::rename(&tmp, agent.token_file()).unwrap();
    let enrolled = agent.proc.wait_for_line("enrolled with the preseeded token", WAIT);
    let id = field(&enrolled, "agent_id=").split_whitespace().next().unwrap().to_owned();
    agent.proc.wait_for_line("enrollment token deleted", WAIT);
    agent.proc.wait_for_line("connected", WAIT);
    assert!(!agent.token_file().exists(), "the used token was not deleted");
    let listed = server.json(&["agent", "list"]);
    assert!(listed.as_array().unwrap().iter().any(|a| a["id"] == id.as_str()), "{id} not in {listed}");
    assert!(!agent.proc.output().contains(&secret(&token)), "the token's secret reached the log");

    // Restarted with a token lying there again, the enrolled agent keeps its identity, does not enroll again, and
    // deletes the token, a secret it has no use for.
    agent.proc.terminate();
    let leftover = server.token(&[]);
    std::fs::write(agent.token_file(), &leftover).unwrap();
    let file = agent.token_file();
    let cmd = Agent::cmd(agent.dir.path(), &["run", "--token-file", file.to_str().unwrap()]);
    let again = Preseeded { proc: Proc::spawn("lifeline-agent", cmd), ..agent };
    let started = again.proc.wait_for_line("lifeline-agent started", WAIT);
    assert!(started.contains(&format!("agent_id={id}")), "the agent changed identity on restart: {started}");
    again.proc.wait_for_line("connected", WAIT);
    let log = again.proc.output();
    assert!(log.contains("already enrolled; the preseeded token is not needed"), "{log}");
    assert!(!log.contains(FAILED) && !log.contains("enrolled with the preseeded token"), "{log}");
    assert!(!file.exists(), "the unneeded token was left on disk");
    assert_eq!(server.json(&["agent", "list"]).as_array().unwrap().len(), 1, "the restart enrolled a second agent");
}

#[test]
fn bad_preseeded_tokens_are_explained_and_retried_without_a_crash_loop() {
    let server = Server::start();

    let used = server.token(&["--uses", "1"]);
    let other_machine = tempfile::tempdir().unwrap();
    let first = run(Agent::cmd(other_machine.path(), &["enroll", "--token", &used]));
    assert!(first.ok, "the first use of the token must work: {}", first.stderr);

    let expired_run = run(server_cmd(server.dir.path(), &["token", "create", "--server", &server.quic.to_string()]));
    assert!(expired_run.ok, "{}", expired_run.stderr);
    let expired = expired_run.stdout.trim().to_owned();
    let id = expired_run.stderr.lines().find_map(|l| l.strip_prefix("token ")).unwrap().split(' ').next().unwrap();
    assert_eq!(server.sql().execute("UPDATE enrollment_tokens SET expires_at = 0 WHERE id = ?1", [id]).unwrap(), 1);

    // The right CA pinned, but nothing listens at the address: the agent gives up on the attempt, not forever.
    let silent = {
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let mut token = EnrollToken::parse(&server.token(&[])).unwrap();
        token.server = socket.local_addr().unwrap().to_string();
        token.encode()
    };

    let started = Instant::now();
    let mut cases = [
        ("does not start with ll1.", Preseeded::start(Some("this is not a token\n")), WAIT),
        ("has been used up", Preseeded::start(Some(&used)), WAIT),
        (&format!("enrollment token {id} has expired") as &str, Preseeded::start(Some(&expired)), WAIT),
        ("is the server up", Preseeded::start(Some(&silent)), SLOW_WAIT),
    ];
    for (reason, agent, limit) in &mut cases {
        agent.assert_refused_and_retried(reason, started, *limit);
    }
    for (token, (_, agent, _)) in [&used, &expired, &silent].into_iter().zip(&cases[1..]) {
        assert!(!agent.proc.output().contains(&secret(token)), "the token's secret reached the log");
    }
    assert_eq!(server.json(&["agent", "list"]).as_array().unwrap().len(), 1, "a refused token enrolled an agent");
}
