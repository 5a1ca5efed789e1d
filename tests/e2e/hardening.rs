//! The limits on guessing, through the real binaries: enrollments with a wrong token from one address, over real
//! QUIC connections, and password logins over the HTTPS API, the same for an unknown name as for a known one. Each
//! is made to wait after a few free failures, is told how long, and is let in once the wait is over.

use std::time::Duration;

use lifeline_shared::token::EnrollToken;
use serde_json::{Value, json};

use crate::harness::{Run, Server, field, run, server_cmd};

/// The failures the server lets pass before any wait, per name and per address alike (`service::auth`). The one after
/// them is still checked, and starts a wait of 2 s, which the next attempt, made at once, falls into.
const FREE: usize = 5;

#[test]
fn enrollments_with_a_wrong_token_from_one_address_are_made_to_wait_and_then_let_in() {
    let server = Server::start();
    let good = server.token(&["--uses", "1"]);
    let wrong = {
        let mut token = EnrollToken::parse(&good).unwrap();
        token.secret = token.secret.chars().rev().collect();
        token.encode()
    };
    for attempt in 0..=FREE {
        let out = enroll_with(&wrong);
        assert!(!out.ok, "a wrong token enrolled an agent: {}", out.stdout);
        assert!(out.stderr.contains("not known to this server"), "attempt {attempt}: {}", out.stderr);
    }

    // While the address waits, even a good token is refused, and is not spent.
    let uses_left =
        || -> i64 { server.sql().query_row("SELECT SUM(uses_left) FROM enrollment_tokens", [], |r| r.get(0)).unwrap() };
    let before = uses_left();
    let out = enroll_with(&good);
    assert!(!out.ok && out.stderr.contains("too many failed enrollments from this address"), "{}", out.stderr);
    assert_eq!(uses_left(), before, "a token was spent by an enrollment refused for waiting");
    let secs = seconds(&out.stderr, "try again in");

    std::thread::sleep(Duration::from_secs(secs));
    let out = enroll_with(&good);
    assert!(out.ok, "the good token after the wait: {}{}", out.stdout, out.stderr);
    assert_eq!((audited(&server, "enroll.locked"), audited(&server, "enroll.refused-locked")), (1, 1));
}

#[test]
fn password_guesses_over_https_are_made_to_wait_the_same_for_any_name_and_then_let_in() {
    let server = Server::start();
    let added = run(server_cmd(server.dir.path(), &["user", "add", "tina", "--tier", "1"]));
    assert!(added.ok, "{}", added.stderr);
    let password = field(&added.stdout, "password:");
    let https = server.https();
    let url = format!("{}/api/login", server.api.trim_end_matches('/'));
    let login = |user: &str, password: &str| -> (u16, Option<String>, Value) {
        let body = json!({ "user": user, "password": password }).to_string();
        let mut response = https.post(&url).header("content-type", "application/json").send(body.as_bytes()).unwrap();
        let header = |name| response.headers().get(name).map(|v| v.to_str().unwrap().to_owned());
        assert_eq!(header("cache-control").as_deref(), Some("no-store"));
        assert_eq!(header("x-content-type-options").as_deref(), Some("nosniff"));
        let retry_after = header("retry-after");
        let status = response.status().as_u16();
        (status, retry_after, serde_json::from_str(&response.body_mut().read_to_string().unwrap()).unwrap())
    };

    // A known name and an unknown one: the same free failures, the same failure that starts a wait, and the same
    // refusal of the next attempt, right password or not.
    let wrong = (401, None, json!({ "error": "wrong user name or password" }));
    let wait = (429, Some("2".to_owned()), json!({ "error": "too many failed logins; try again in 2 s" }));
    let expected: Vec<_> = [vec![wrong; FREE + 1], vec![wait; 2]].concat();
    for name in ["tina", "nobody"] {
        let mut answers: Vec<_> = (0..=FREE).map(|_| login(name, "wrong")).collect();
        answers.push(login(name, "wrong"));
        answers.push(login(name, &password));
        assert_eq!(answers, expected, "{name}");
        if name == "tina" {
            let refused = cli_login(&server, &password);
            assert!(!refused.ok && refused.stderr.contains("429"), "{}", refused.stderr);
            assert!(refused.stderr.contains("too many failed logins; try again in"), "{}", refused.stderr);
        }
    }

    // Tina's wait began before all of that: it is over 2 s later.
    std::thread::sleep(Duration::from_secs(2));
    let out = cli_login(&server, &password);
    assert!(out.ok, "the right password after the wait: {}", out.stderr);
    let actions = ["user.login", "user.login-refused", "login.locked", "login.refused-locked"];
    let counts: Vec<_> = actions.iter().map(|a| audited(&server, a)).collect();
    assert_eq!(counts, [1, 2 * (FREE as i64 + 1), 2, 2], "{actions:?}");
}

fn audited(server: &Server, action: &str) -> i64 {
    server.sql().query_row("SELECT COUNT(*) FROM audit WHERE action = ?1", [action], |r| r.get(0)).unwrap()
}

/// `lifeline-agent enroll` in a fresh directory, as a new machine would, from this machine's address.
fn enroll_with(token: &str) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("token");
    std::fs::write(&file, token).unwrap();
    run(crate::harness::Agent::cmd(dir.path(), &["enroll", "--token-file", file.to_str().unwrap()]))
}

/// `lifeline-server login tina`, the password on standard input.
fn cli_login(server: &Server, password: &str) -> Run {
    let mut cmd = std::process::Command::new(crate::harness::bin("lifeline-server"));
    cmd.args(["login", "tina"]).env("LIFELINE_API", &server.api).env("LIFELINE_CA", server.ca());
    cmd.stdin(std::process::Stdio::piped()).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), format!("{password}\n").as_bytes()).unwrap();
    Run::from(child.wait_with_output().unwrap())
}

/// The number of seconds after `label` in `text`, as in "try again in 2 s".
fn seconds(text: &str, label: &str) -> u64 {
    let after = field(text, label);
    after.split_whitespace().next().and_then(|n| n.parse().ok()).unwrap_or_else(|| panic!("no seconds in {after:?}"))
}

/// An admin lists API tokens (never their secrets) and ends one: its next request is refused, others go on, and the
/// revocation is in the audit log.
#[test]
fn an_admin_lists_api_tokens_and_revokes_one_at_once() {
    let server = Server::start();
    let tina = server.add_user("tina", "2");
    assert!(server.cli_as(&tina, &["ticket", "list"]).ok);
    let listed = run(server_cmd(server.dir.path(), &["user", "token", "list", "--user", "tina"]));
    assert!(listed.ok, "{}", listed.stderr);
    let rows: Vec<&str> = listed.stdout.lines().skip(1).collect();
    assert_eq!(rows.len(), 1, "tina has one token:\n{}", listed.stdout);
    assert!(!listed.stdout.contains(&tina), "a token's secret is never shown");
    let id = rows[0].split_whitespace().next().unwrap();
    let everyone = run(server_cmd(server.dir.path(), &["user", "token", "list"]));
    assert_eq!(everyone.stdout.lines().count(), 3, "admin's and tina's:\n{}", everyone.stdout);

    let revoked = run(server_cmd(server.dir.path(), &["user", "token", "revoke", id]));
    assert!(revoked.ok && revoked.stdout.contains("revoked"), "{}{}", revoked.stdout, revoked.stderr);
    let refused = server.cli_as(&tina, &["ticket", "list"]);
    assert!(!refused.ok && refused.stderr.contains("401"), "{}", refused.stderr);
    assert!(server.cli(&["ticket", "list"]).ok, "the admin's token still works");
    assert_eq!(audited(&server, "token.revoked"), 1);
    let again = run(server_cmd(server.dir.path(), &["user", "token", "revoke", id]));
    assert!(!again.ok && again.stderr.contains("not found"), "{}", again.stderr);
    let malformed = run(server_cmd(server.dir.path(), &["user", "token", "revoke", "x"]));
    assert!(!malformed.ok && malformed.stderr.contains("12 hex digits"), "{}", malformed.stderr);
}
