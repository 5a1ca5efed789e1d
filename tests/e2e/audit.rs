//! Audit checkpoints: `audit checkpoint` has the CA sign the chain's head into a file kept aside, and `audit verify
//! --checkpoints` then tells an intact chain from one whose newest entries were deleted, one rewritten and hashed
//! again (both of which verify on their own), and a checkpoint that was forged; online through the API and offline
//! on an exported log.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::harness::{Run, Server, bin, run, server_cmd};

/// Adds `n` entries to the chain: each enrollment token is audited.
fn add_entries(server: &Server, n: usize) {
    for _ in 0..n {
        server.token(&["--label", "audited"]);
    }
}

fn head(server: &Server) -> i64 {
    server.sql().query_row("SELECT max(seq) FROM audit", [], |r| r.get(0)).unwrap()
}

/// Signs the head into the data directory's checkpoint file, as an admin on the server's machine would.
fn checkpoint(server: &Server) -> PathBuf {
    let out = run(server_cmd(server.dir.path(), &["audit", "checkpoint"]));
    assert!(out.ok, "audit checkpoint failed: {}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains(&format!("checkpoint of entry {} ", head(server))), "{}", out.stdout);
    server.dir.path().join("audit-checkpoints.jsonl")
}

fn verify(server: &Server, checkpoints: &Path) -> Run {
    server.cli(&["audit", "verify", "--checkpoints", checkpoints.to_str().unwrap()])
}

fn assert_refused(verdict: &Run, says: &[&str]) {
    assert!(!verdict.ok, "not detected: {}{}", verdict.stdout, verdict.stderr);
    let all = format!("{}{}", verdict.stdout, verdict.stderr);
    for s in says {
        assert!(all.contains(s), "{s:?} not said:\n{all}");
    }
}

#[test]
fn an_intact_chain_agrees_with_its_checkpoints_online_and_offline() {
    let server = Server::start();
    add_entries(&server, 2);
    checkpoint(&server);
    add_entries(&server, 2);
    let file = checkpoint(&server);
    let newest = head(&server);
    add_entries(&server, 1);

    let online = verify(&server, &file);
    assert!(online.ok, "{}{}", online.stdout, online.stderr);
    assert!(online.stdout.contains(&format!("intact: {} entries", newest + 1)), "{}", online.stdout);
    assert!(
        online
            .stdout
            .contains(&format!("2 checkpoints in {} agree with it, the newest at entry {newest}", file.display())),
        "{}",
        online.stdout
    );

    // Offline: an exported log and the CA certificate, no server needed.
    let export = server.dir.path().join("audit.jsonl");
    assert!(server.cli(&["audit", "export", "--out", export.to_str().unwrap()]).ok);
    let offline = |ca: Option<&Path>| {
        let mut cmd = Command::new(bin("lifeline-server"));
        cmd.env_remove("LIFELINE_API").env_remove("LIFELINE_TOKEN").env_remove("LIFELINE_CA");
        cmd.args(["audit", "verify", "--file", export.to_str().unwrap(), "--checkpoints", file.to_str().unwrap()]);
        if let Some(ca) = ca {
            cmd.arg("--ca").arg(ca);
        }
        run(cmd)
    };
    let verdict = offline(Some(&server.ca()));
    assert!(verdict.ok && verdict.stdout.contains("2 checkpoints"), "{}{}", verdict.stdout, verdict.stderr);
    assert_refused(&offline(None), &["give --ca"]);
}

#[test]
fn deleting_the_newest_entries_is_caught_by_a_checkpoint() {
    let server = Server::start();
    add_entries(&server, 4);
    let file = checkpoint(&server);
    let signed = head(&server);
    server.sql().execute("DELETE FROM audit WHERE seq > ?1", [signed - 2]).unwrap();

    let alone = server.cli(&["audit", "verify"]);
    assert!(alone.ok, "the chain alone cannot tell: {}{}", alone.stdout, alone.stderr);
    assert_refused(
        &verify(&server, &file),
        &[
            &format!("BROKEN at entry {}", signed - 1),
            &format!("signed a chain of {signed} entries"),
            &format!("ends at entry {}: entries were deleted from its end", signed - 2),
            "tampered with",
        ],
    );
}

#[test]
fn a_chain_rewritten_and_hashed_again_is_caught_by_a_checkpoint() {
    let server = Server::start();
    add_entries(&server, 4);
    let file = checkpoint(&server);
    let signed = head(&server);
    // The last three entries are replaced by others that the server itself hashes into the chain: it verifies on
    // its own, and is as long as it was, and longer.
    server.sql().execute("DELETE FROM audit WHERE seq > ?1", [signed - 3]).unwrap();
    add_entries(&server, 4);
    assert_eq!(head(&server), signed + 1);

    let alone = server.cli(&["audit", "verify"]);
    assert!(alone.ok, "the chain alone cannot tell: {}{}", alone.stdout, alone.stderr);
    assert_refused(
        &verify(&server, &file),
        &[&format!("BROKEN at entry {signed}"), "the chain was rewritten since", "tampered with"],
    );
}

#[test]
fn a_forged_checkpoint_is_refused_before_the_chain_is_judged() {
    let (ours, theirs) = (Server::start(), Server::start());
    add_entries(&ours, 2);
    let file = checkpoint(&ours);
    let genuine = std::fs::read_to_string(&file).unwrap();
    let line: serde_json::Value = serde_json::from_str(genuine.trim()).unwrap();
    let their_line = std::fs::read_to_string(checkpoint(&theirs)).unwrap();
    let mut claimed: serde_json::Value = serde_json::from_str(their_line.trim()).unwrap();
    claimed["ca"] = line["ca"].clone();

    let edited = |key: &str, value: serde_json::Value| {
        let mut forged = line.clone();
        forged[key] = value;
        forged.to_string()
    };
    let cases = [
        ("moved to another entry", edited("seq", (line["seq"].as_i64().unwrap() - 1).into()), "does not verify"),
        ("another hash", edited("hash", "0".repeat(64).into()), "does not verify"),
        ("another time", edited("at", 1.into()), "does not verify"),
        ("another deployment's", their_line.trim().to_owned(), "signed by another CA"),
        ("another key, claiming to be ours", claimed.to_string(), "does not verify"),
    ];
    for (what, forged, says) in cases {
        let path = ours.dir.path().join("forged.jsonl");
        std::fs::write(&path, format!("{genuine}{forged}\n")).unwrap();
        let verdict = verify(&ours, &path);
        assert!(!verdict.ok, "{what}: not detected: {}", verdict.stdout);
        assert!(
            verdict.stderr.contains("the checkpoint on line 2 is forged") && verdict.stderr.contains(says),
            "{what}: {}",
            verdict.stderr
        );
        assert!(!verdict.stdout.contains("intact"), "{what}: the chain was judged: {}", verdict.stdout);
    }
}
