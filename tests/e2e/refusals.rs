//! Everything that must be refused: each case checks that whoever caused the refusal is told clearly why, and that
//! the server's database (read directly, read-only) holds nothing it did not hold before.
//!
//! Cases that need to break the protocol speak it with a raw quinn client built from the same `lifeline_net` configs
//! the agent uses, so only the misbehaviour under test differs from a real agent.

use std::net::SocketAddr;
use std::time::Duration;

use lifeline_net::frame::{self, FrameError};
use lifeline_net::tls::{Identity, ServerTrust};
use lifeline_shared::codec::MAX_FRAME_LEN;
use lifeline_shared::token::EnrollToken;
use lifeline_shared::wire::{
    AgentControl, EnrollResponse, ErrorCode, Hello, PROTOCOL_VERSION, Request, Response, SERVER_NAME, ServerControl,
    WireError, close,
};
use rand::Rng;
use rusqlite::{OpenFlags, OptionalExtension};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use serde_json::{Value, json};
use tempfile::TempDir;

use crate::harness::{Agent, Run, Server, eventually, field, run, server_cmd};

/// Bound on waits for processes (an agent's first connection, a log line).
pub(crate) const WAIT: Duration = Duration::from_secs(30);
/// Bound on every network await of a raw client.
pub(crate) const NET: Duration = Duration::from_secs(10);

#[test]
fn enrollment_is_refused_clearly_and_stores_nothing() {
    let server = Server::start();

    // A one-use token enrolls one machine; a second machine with it is told the token is used up.
    let once = server.token(&["--uses", "1"]);
    let (_first, out) = enroll_with(&once);
    assert!(out.ok, "the first enrollment with a fresh token must work: {}{}", out.stdout, out.stderr);
    let before = stored(&server);
    assert_eq!(before.agents, 1);
    let (second, out) = enroll_with(&once);
    assert!(!out.ok, "a used-up token enrolled a second agent: {}", out.stdout);
    assert!(out.stderr.contains("has been used up"), "the agent should say the token is used up:\n{}", out.stderr);
    assert_not_enrolled(&second);
    assert_eq!(stored(&server), before, "a refused enrollment stored something");

    // An expired token; the server reads expiry on each request, so changing the row is enough.
    let (id, text) = create_token(&server);
    let rw = rusqlite::Connection::open(db_path(&server)).unwrap();
    rw.busy_timeout(Duration::from_secs(5)).unwrap();
    assert_eq!(rw.execute("UPDATE enrollment_tokens SET expires_at = 0 WHERE id = ?1", [&id]).unwrap(), 1);
    drop(rw);
    let before = stored(&server);
    let (dir, out) = enroll_with(&text);
    assert!(!out.ok, "an expired token enrolled an agent: {}", out.stdout);
    assert!(out.stderr.contains(&format!("enrollment token {id} has expired")), "{}", out.stderr);
    assert_not_enrolled(&dir);
    assert_eq!(stored(&server), before, "a refused enrollment stored something");

    // A token pinning another CA: the agent must refuse the server during the handshake, before it sends the secret.
    let good = server.token(&[]);
    let mut forged = EnrollToken::parse(&good).unwrap();
    forged.ca_fingerprint[0] ^= 0xff;
    let before = stored(&server);
    let (dir, out) = enroll_with(&forged.encode());
    assert!(!out.ok, "an agent enrolled with a server whose CA does not match its token: {}", out.stdout);
    assert!(
        out.stderr.contains("CA does not match the fingerprint in the enrollment token"),
        "the agent should say the server's CA does not match the token:\n{}",
        out.stderr
    );
    assert_not_enrolled(&dir);
    assert_eq!(stored(&server), before, "the token was spent or something stored: the secret reached the server");
    let (dir, out) = enroll_with(&good);
    assert!(out.ok, "the untouched token must still enroll: {}{}", out.stdout, out.stderr);
    assert!(dir.path().join("state/identity.toml").exists());
    assert_eq!(stored(&server).agents, before.agents + 1);

    let ca = server_ca(&server);
    let before = stored(&server);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        // No client certificate: the connection may only enroll, so agent requests get a refusal and no service.
        let requests = [
            ("a tickets request", lifeline_shared::codec::encode(&Request::Tickets { user: "ann".into() })),
            ("a hello", lifeline_shared::codec::encode(&AgentControl::Hello(hello()))),
        ];
        for (what, bytes) in requests {
            let (endpoint, conn) = connect(server.quic, ServerTrust::Ca(ca.clone()), None).await;
            let conn = conn.expect("a connection without a certificate is accepted, for enrollment only");
            let answer = tokio::time::timeout(NET, async {
                let (mut send, mut recv) = conn.open_bi().await?;
                tokio::io::AsyncWriteExt::write_all(&mut send, &bytes.unwrap()).await?;
                send.finish()?;
                frame::read::<EnrollResponse>(&mut recv).await
            })
            .await
            .unwrap_or_else(|_| panic!("no answer to {what} without a certificate within {NET:?}"));
            match answer {
                Ok(Some(EnrollResponse::Refused { message })) => {
                    assert!(message.contains("malformed enrollment request"), "{what}: unclear refusal {message:?}");
                }
                // Hanging up is also a refusal; anything that decodes as something else is service.
                Ok(None) | Err(FrameError::Connection(_)) => {}
                other => panic!("{what} without a certificate got {other:?}"),
            }
            hang_up(endpoint, conn).await;
        }

        // A certificate issued by another CA: the TLS handshake itself fails, nothing reaches the collector.
        let (endpoint, conn) = connect(server.quic, ServerTrust::Ca(ca.clone()), Some(foreign_identity())).await;
        let refusal = match conn {
            Err(e) => e,
            // The client finishes its half of the handshake before the server has checked its certificate, so the
            // refusal may arrive just after `connect` returned; it must still be the handshake's, not the collector's.
            Ok(conn) => tokio::time::timeout(NET, conn.closed()).await.expect("the server never closed it"),
        };
        assert!(
            matches!(refusal, quinn::ConnectionError::ConnectionClosed(ref c) if is_tls_alert(c.error_code)),
            "a certificate from another CA must fail the TLS handshake, got: {refusal}"
        );
        endpoint.close(0u32.into(), b"");
    });
    assert_eq!(stored(&server), before, "a connection without a valid certificate stored something");
}

#[test]
fn a_revoked_agent_is_cut_off_and_only_an_admin_may_revoke() {
    let server = Server::start();
    let agent = Agent::start(&server);
    eventually("the agent's first snapshot", WAIT, || (snapshots_of(&server, &agent.id) >= 1).then_some(()));

    // A tier-1 technician may not revoke.
    let bob = run(server_cmd(server.dir.path(), &["user", "add", "bob", "--tier", "1"]));
    assert!(bob.ok, "user add failed: {}", bob.stderr);
    let bob_token = field(&bob.stdout, "API token:");
    let denied = server.cli_as(&bob_token, &["agent", "revoke", &agent.id]);
    assert!(!denied.ok, "a tier-1 technician revoked an agent: {}", denied.stdout);
    assert!(
        denied.stderr.contains("403") && denied.stderr.contains("only an admin may revoke agents"),
        "{}",
        denied.stderr
    );
    assert_eq!(revoked_at(&server, &agent.id), None, "a refused revoke changed the agent");
    assert_eq!(server.json(&["agent", "show", &agent.id])["connected"], true);

    // The admin may, and the agent's live connection is cut at once.
    let revoked = server.cli(&["agent", "revoke", &agent.id]);
    assert!(revoked.ok, "revoke failed: {}", revoked.stderr);
    assert!(revoked.stdout.contains(&format!("agent {} revoked", agent.id)), "{}", revoked.stdout);
    agent.proc.as_ref().unwrap().wait_for_line("the server refuses this agent", WAIT);
    assert!(revoked_at(&server, &agent.id).is_some());
    assert_eq!(server.json(&["agent", "show", &agent.id])["connected"], false);
    let listed = server.cli(&["agent", "list"]);
    let line = listed.stdout.lines().find(|l| l.contains(&agent.id)).unwrap_or_else(|| panic!("{}", listed.stdout));
    assert!(line.contains("revoked"), "agent list should show the agent revoked: {line}");
    let again = server.cli(&["agent", "revoke", &agent.id]);
    assert!(!again.ok && again.stderr.contains("already revoked"), "{}", again.stderr);

    // From then on its own certificate and key are closed right after the handshake, with the revoked code: on a
    // full handshake, and on the next, which offers the session ticket of the first if it arrived before the close
    // (that a resumed session keeps its certificate is proven in the server's `pki` tests).
    let snapshots = snapshots_of(&server, &agent.id);
    let before = stored(&server);
    let (ca, identity) = (server_ca(&server), agent_identity(&agent));
    let config = lifeline_net::tls::quic_client(ServerTrust::Ca(ca), Some(identity)).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    for attempt in ["full", "resumed"] {
        let refusal = rt.block_on(async {
            let (endpoint, conn) = connect_with(server.quic, config.clone()).await;
            let refusal = match conn {
                Err(e) => e,
                Ok(conn) => {
                    // Try to be served anyway: a hello must get no welcome.
                    let served = tokio::time::timeout(NET, async {
                        let (mut send, mut recv) = conn.open_bi().await?;
                        frame::write(&mut send, &AgentControl::Hello(hello())).await?;
                        frame::read::<ServerControl>(&mut recv).await
                    })
                    .await
                    .expect("no answer and no close within the limit");
                    assert!(!matches!(served, Ok(Some(_))), "a revoked agent was served: {served:?}");
                    tokio::time::timeout(NET, conn.closed()).await.expect("the server never closed it")
                }
            };
            endpoint.close(0u32.into(), b"");
            refusal
        });
        assert_eq!(
            app_close_code(&refusal),
            Some(close::REVOKED),
            "{attempt}: expected the revoked code, got: {refusal}"
        );
    }
    assert_eq!(snapshots_of(&server, &agent.id), snapshots, "a revoked agent's snapshot was stored");
    assert_eq!(stored(&server), before, "a revoked agent's connection stored something");
}

#[test]
fn bad_frames_and_noise_leave_the_server_serving_real_agents() {
    let server = Server::start();
    let real = Agent::start(&server);
    // Enrolled but never run: its certificate is ours to misbehave with, and anything stored under it is a failure.
    let raw = Agent::enroll(&server);
    let (ca, identity) = (server_ca(&server), agent_identity(&raw));
    let rt = tokio::runtime::Runtime::new().unwrap();
    let tickets = stored(&server).tickets;

    // A length prefix one byte over the limit on a request stream: answered with TooLarge, the connection lives on.
    rt.block_on(async {
        let (endpoint, conn) = connect(server.quic, ServerTrust::Ca(ca.clone()), Some(identity.clone())).await;
        let conn = conn.expect("an enrolled agent's certificate connects");
        let (mut control_send, mut control_recv) = say_hello(&conn).await;
        let answer = tokio::time::timeout(NET, async {
            let (mut send, mut recv) = conn.open_bi().await?;
            let prefix = u32::try_from(MAX_FRAME_LEN + 1).unwrap().to_be_bytes();
            tokio::io::AsyncWriteExt::write_all(&mut send, &prefix).await?;
            frame::read::<Response>(&mut recv).await
        })
        .await
        .expect("no answer to an oversized frame");
        match answer {
            Ok(Some(Response::Error(WireError { code: ErrorCode::TooLarge, message }))) => {
                assert!(message.contains("exceeds"), "unclear message: {message:?}")
            }
            other => panic!("an oversized frame should be answered with TooLarge, got {other:?}"),
        }
        frame::write(&mut control_send, &AgentControl::Heartbeat { seq: 7 }).await.unwrap();
        let ack = tokio::time::timeout(NET, frame::read::<ServerControl>(&mut control_recv)).await;
        assert!(
            matches!(ack, Ok(Ok(Some(ServerControl::HeartbeatAck { seq: 7 })))),
            "the connection should still work after the refused frame: {ack:?}"
        );
        let probe = Request::Probe { payload: vec![1; 16], reply_len: 8 };
        let answer = tokio::time::timeout(NET, frame::request(&conn, &probe)).await.expect("no answer to a probe");
        assert!(matches!(answer, Ok(Response::Probe { ref payload }) if payload.len() == 8), "{answer:?}");
        // Agents keep their users' threads now; the retired request is refused clearly and the connection stays.
        let tickets = Request::Tickets { user: "nobody".into() };
        let refused = tokio::time::timeout(NET, frame::request(&conn, &tickets)).await.expect("no answer to tickets");
        match refused {
            Ok(Response::Error(WireError { code: ErrorCode::Refused, message })) => {
                assert!(message.contains("retired"), "unclear message: {message:?}")
            }
            other => panic!("a tickets request should be refused as retired, got {other:?}"),
        }
        hang_up(endpoint, conn).await;
    });
    real.request_help("after an oversized frame");
    assert_eq!(stored(&server).tickets, tickets + 1);

    // Random bytes on the control stream: that connection is closed as a protocol error, nobody else notices.
    let garbage: Vec<u8> = (0..4096).map(|_| rand::random::<u8>()).collect();
    let refusal = rt.block_on(async {
        let (endpoint, conn) = connect(server.quic, ServerTrust::Ca(ca.clone()), Some(identity.clone())).await;
        let conn = conn.expect("an enrolled agent's certificate connects");
        let (mut control_send, _control_recv) = say_hello(&conn).await;
        // The end of the stream makes the outcome certain even if the garbage happens to start like a real frame.
        let _ = tokio::io::AsyncWriteExt::write_all(&mut control_send, &garbage).await;
        let _ = control_send.finish();
        let refusal = tokio::time::timeout(NET, conn.closed()).await.expect("garbage did not close the connection");
        endpoint.close(0u32.into(), b"");
        refusal
    });
    assert_eq!(app_close_code(&refusal), Some(close::PROTOCOL), "expected a protocol-error close, got: {refusal}");
    real.request_help("after garbage on another connection");
    assert_eq!(stored(&server).tickets, tickets + 2);

    // Datagrams that are not QUIC, or only look like a QUIC v1 Initial, at the server's port.
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut rng = rand::rng();
    for i in 0..50 {
        let mut datagram: Vec<u8> = (0..rng.random_range(1..=1500)).map(|_| rng.random::<u8>()).collect();
        if i % 2 == 0 && datagram.len() >= 5 {
            datagram[0] |= 0xc0;
            datagram[1..5].copy_from_slice(&1u32.to_be_bytes());
        }
        udp.send_to(&datagram, server.quic).unwrap();
    }
    real.request_help("after UDP noise");
    assert_eq!(stored(&server).tickets, tickets + 3);
    rt.block_on(async {
        let (endpoint, conn) = connect(server.quic, ServerTrust::Ca(ca.clone()), Some(identity.clone())).await;
        let conn = conn.expect("new connections are still accepted after UDP noise");
        let _control = say_hello(&conn).await;
        hang_up(endpoint, conn).await;
    });

    assert_eq!(snapshots_of(&server, &raw.id), 0, "a misbehaving connection's data was stored");
    let db = db(&server);
    let raw_tickets: i64 =
        db.query_row("SELECT COUNT(*) FROM tickets WHERE agent_id = ?1", [&raw.id], |r| r.get(0)).unwrap();
    assert_eq!(raw_tickets, 0, "a misbehaving connection opened a ticket");
}

/// Many connections from one enrolled certificate, each filling its streams with stalled, oversized, truncated and
/// random frames, plus a burst of UDP noise: the server keeps serving, and what it holds stays bounded because a
/// newer connection from the same agent replaces the older one and every connection's windows are capped.
#[test]
fn a_flood_of_hostile_streams_leaves_memory_bounded() {
    let server = Server::start();
    let real = Agent::start(&server);
    let raw = Agent::enroll(&server);
    let (ca, identity) = (server_ca(&server), agent_identity(&raw));
    let rt = tokio::runtime::Runtime::new().unwrap();
    real.request_help("before the flood");
    let before = server.proc.rss_kib();

    // Everything the flood opened stays open until the end: the server, not the client, has to bound what it costs.
    let (streams, _held, _connections) = rt.block_on(async {
        let mut held = Vec::new();
        let mut connections = Vec::new();
        let mut streams = 0;
        for _ in 0..30 {
            let (endpoint, conn) = connect(server.quic, ServerTrust::Ca(ca.clone()), Some(identity.clone())).await;
            let conn = conn.expect("an enrolled agent's certificate connects");
            let control = say_hello(&conn).await;
            for i in 0..16 {
                let Ok(Ok((mut send, recv))) = tokio::time::timeout(NET, conn.open_bi()).await else { break };
                let bytes: Vec<u8> = match i % 4 {
                    // Announces the largest frame allowed, sends most of it and stalls: 3.6 MB held per connection.
                    0 => [&u32::try_from(MAX_FRAME_LEN).unwrap().to_be_bytes()[..], &[0u8; 900 * 1024]].concat(),
                    1 => u32::try_from(MAX_FRAME_LEN + 1).unwrap().to_be_bytes().to_vec(),
                    2 => (0..4096).map(|_| rand::random::<u8>()).collect(),
                    _ => [&1000u32.to_be_bytes()[..], b"truncated"].concat(),
                };
                let write = tokio::io::AsyncWriteExt::write_all(&mut send, &bytes);
                let _ = tokio::time::timeout(NET, write).await;
                if i % 4 == 3 {
                    let _ = send.finish();
                }
                held.push((send, recv));
                streams += 1;
            }
            held.push(control);
            connections.push((endpoint, conn));
        }
        (streams, held, connections)
    });
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    for _ in 0..5000 {
        let datagram: Vec<u8> = (0..1200).map(|_| rand::random::<u8>()).collect();
        let _ = udp.send_to(&datagram, server.quic);
    }
    assert!(streams >= 30 * 12, "the flood never got going: {streams} streams");

    real.request_help("after the flood");
    let after = server.proc.rss_kib();
    assert!(
        after < before + 48 * 1024,
        "server memory grew from {before} KiB to {after} KiB under {streams} hostile streams"
    );
    assert_eq!(snapshots_of(&server, &raw.id), 0, "a hostile connection's data was stored");
}

#[test]
fn the_api_refuses_strangers_and_garbage_with_json_errors() {
    let server = Server::start();
    let api = Api::new(&server);

    // Technician tokens.
    let bogus = server.cli_as("llt_not-a-token-this-server-issued", &["ticket", "list"]);
    assert!(!bogus.ok, "a bogus token listed tickets: {}", bogus.stdout);
    assert!(bogus.stderr.contains("401") && bogus.stderr.contains("unknown API token"), "{}", bogus.stderr);
    let (status, health) = api.get("/health", None);
    assert_eq!((status, &health["status"]), (200, &json!("ok")), "{health}");
    let (status, body) = api.get("/api/tickets", None);
    assert_eq!((status, &body["error"]), (401, &json!("missing bearer token")), "{body}");

    // A ticket to aim garbage at.
    let agent = Agent::start(&server);
    let number = agent.request_help("a ticket to throw garbage at");
    let path = format!("/api/tickets/{number}/actions");
    let ticket_state = || {
        db(&server)
            .query_row(
                "SELECT (SELECT COUNT(*) FROM ticket_events WHERE ticket = ?1), updated_at FROM tickets WHERE number = ?1",
                [number],
                |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)),
            )
            .unwrap()
    };
    let before = ticket_state();
    let tickets = stored(&server).tickets;

    let huge = json!({ "action": "note", "body": "x".repeat(100 * 1024) }).to_string();
    let note = json!({ "action": "note", "body": "fine" }).to_string();
    let cases: &[(&str, &str, &[u8])] = &[
        ("not JSON", "application/json", b"this is not json"),
        ("truncated JSON", "application/json", br#"{"action": "note", "body": "#),
        ("JSON of the wrong shape", "application/json", b"[1, 2, 3]"),
        ("an action without its field", "application/json", br#"{"action": "note"}"#),
        ("a field of the wrong type", "application/json", br#"{"action": "escalate", "tier": "two"}"#),
        ("an unknown action", "application/json", br#"{"action": "delete"}"#),
        ("an unknown field", "application/json", br#"{"action": "note", "body": "x", "sneaky": true}"#),
        ("a body not declared as JSON", "text/plain", note.as_bytes()),
    ];
    for (what, content_type, body) in cases {
        let (status, answer) = api.post(&path, content_type, body);
        assert!((400..500).contains(&status), "{what}: expected a 4xx, got {status}: {answer}");
        assert!(answer["error"].as_str().is_some_and(|e| !e.is_empty()), "{what}: no JSON error: {answer}");
        assert_eq!(ticket_state(), before, "{what} changed the ticket");
    }

    // The server answers 413 as soon as the limit is passed and stops reading; the client may still be writing and
    // then sees the connection reset instead of the answer. Either way nothing is stored.
    match api.try_post(&path, "application/json", huge.as_bytes()) {
        Ok((status, answer)) => assert_eq!(status, 413, "a body over 64 KiB: {answer}"),
        Err(e) => {
            assert!(e.to_string().to_lowercase().contains("connection") || e.to_string().contains("os error"), "{e}")
        }
    }
    assert_eq!(ticket_state(), before, "a body over 64 KiB changed the ticket");

    let (status, answer) = api.post("/api/tickets/abc/actions", "application/json", note.as_bytes());
    assert_eq!(status, 400, "{answer}");
    assert!(answer["error"].as_str().is_some_and(|e| e.contains("positive integer")), "{answer}");
    let (status, answer) = api.get("/api/tickets/abc", Some(&server.admin_token));
    assert_eq!(status, 400, "{answer}");
    let (status, answer) = api.get("/api/no-such-thing", Some(&server.admin_token));
    assert_eq!((status, &answer["error"]), (404, &json!("no such route")), "{answer}");
    assert_eq!(ticket_state(), before);
    assert_eq!(stored(&server).tickets, tickets);

    // The same route takes a well-formed note (201: it adds one), so the refusals above were about the bodies.
    let (status, answer) = api.post(&path, "application/json", note.as_bytes());
    assert_eq!(status, 201, "{answer}");
    assert_eq!(ticket_state().0, before.0 + 1);
}

#[test]
fn a_password_login_gives_a_token_for_a_working_day_and_every_attempt_is_audited() {
    let server = Server::start();
    let api = Api::new(&server);
    let added = run(server_cmd(server.dir.path(), &["user", "add", "tina", "--tier", "1"]));
    assert!(added.ok, "{}", added.stderr);
    let password = field(&added.stdout, "password:");
    let audited = |action: &str| -> i64 {
        db(&server).query_row("SELECT COUNT(*) FROM audit WHERE action = ?1", [action], |r| r.get(0)).unwrap()
    };

    // The CLI reads the password from standard input, never from its command line.
    let login = |password: &str| {
        let mut cmd = std::process::Command::new(crate::harness::bin("lifeline-server"));
        cmd.args(["login", "tina"]).env("LIFELINE_API", &server.api).env("LIFELINE_CA", server.ca());
        cmd.stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        std::io::Write::write_all(child.stdin.as_mut().unwrap(), format!("{password}\n").as_bytes()).unwrap();
        Run::from(child.wait_with_output().unwrap())
    };
    let out = login(&password);
    assert!(out.ok, "{}", out.stderr);
    let token = out.stdout.trim().strip_prefix("export LIFELINE_TOKEN=").expect("an export line").to_owned();
    assert!(out.stderr.contains("logged in as tina"), "{}", out.stderr);
    let me = server.cli_as(&token, &["ticket", "list"]);
    assert!(me.ok, "the login token works: {}", me.stderr);
    assert_eq!(audited("user.login"), 1);

    // A wrong password and an unknown name get the same answer, and both are audited.
    let refused = login("not-the-password");
    assert!(!refused.ok && refused.stderr.contains("wrong user name or password"), "{}", refused.stderr);
    let (status, body) = api.post("/api/login", "application/json", br#"{"user": "nobody", "password": "x"}"#);
    assert_eq!((status, &body["error"]), (401, &json!("wrong user name or password")), "{body}");
    assert_eq!(audited("user.login-refused"), 2);

    // Garbage is refused before any password is checked, and audits nothing.
    let long_name = json!({ "user": "x".repeat(65), "password": "x" }).to_string();
    for (what, body) in [
        ("not JSON", b"user=tina".as_slice()),
        ("a missing field", br#"{"user": "tina"}"#),
        ("a long name", long_name.as_bytes()),
    ] {
        let (status, answer) = api.post("/api/login", "application/json", body);
        assert!((400..500).contains(&status) && status != 401, "{what}: {status} {answer}");
    }
    assert_eq!((audited("user.login"), audited("user.login-refused")), (1, 2));

    // The token ends: once past its end it is refused like any unknown token.
    let db = rusqlite::Connection::open(db_path(&server)).unwrap();
    db.execute("UPDATE api_tokens SET expires_at = 1 WHERE expires_at IS NOT NULL", []).unwrap();
    let late = server.cli_as(&token, &["ticket", "list"]);
    assert!(!late.ok && late.stderr.contains("401"), "an expired login token still works: {}", late.stdout);
    assert!(server.cli(&["ticket", "list"]).ok, "console-made tokens do not expire");
    let verify = server.cli(&["audit", "verify"]);
    assert!(verify.ok, "{}{}", verify.stdout, verify.stderr);
}

/// What the server has stored, in the rows a refusal must never add to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stored {
    agents: i64,
    snapshots: i64,
    tickets: i64,
    events: i64,
    /// Summed over all enrollment tokens, so a token spent by a refused enrollment shows.
    token_uses_left: i64,
}

fn db_path(server: &Server) -> std::path::PathBuf {
    server.dir.path().join("lifeline.db")
}

pub(crate) fn db(server: &Server) -> rusqlite::Connection {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = rusqlite::Connection::open_with_flags(db_path(server), flags).unwrap();
    conn.busy_timeout(Duration::from_secs(5)).unwrap();
    conn
}

fn stored(server: &Server) -> Stored {
    let db = db(server);
    let count = |sql: &str| db.query_row(sql, [], |r| r.get::<_, i64>(0)).unwrap();
    Stored {
        agents: count("SELECT COUNT(*) FROM agents"),
        snapshots: count("SELECT COUNT(*) FROM snapshots"),
        tickets: count("SELECT COUNT(*) FROM tickets"),
        events: count("SELECT COUNT(*) FROM ticket_events"),
        token_uses_left: count("SELECT COALESCE(SUM(uses_left), 0) FROM enrollment_tokens"),
    }
}

pub(crate) fn snapshots_of(server: &Server, agent_id: &str) -> i64 {
    db(server).query_row("SELECT COUNT(*) FROM snapshots WHERE agent_id = ?1", [agent_id], |r| r.get(0)).unwrap()
}

fn revoked_at(server: &Server, agent_id: &str) -> Option<i64> {
    db(server)
        .query_row("SELECT revoked_at FROM agents WHERE id = ?1", [agent_id], |r| r.get(0))
        .optional()
        .unwrap()
        .unwrap_or_else(|| panic!("no agent {agent_id}"))
}

/// A token and its id (which the admin command prints on stderr), for cases that change the token's row.
fn create_token(server: &Server) -> (String, String) {
    let quic = server.quic.to_string();
    let out = run(server_cmd(server.dir.path(), &["token", "create", "--server", &quic]));
    assert!(out.ok, "token create failed: {}", out.stderr);
    let id = out
        .stderr
        .lines()
        .find_map(|l| l.strip_prefix("token ")?.split_once(" valid for").map(|(id, _)| id.to_owned()))
        .unwrap_or_else(|| panic!("no token id in:\n{}", out.stderr));
    (id, out.stdout.trim().to_owned())
}

/// Runs `lifeline-agent enroll` in a fresh directory, as a new machine would.
fn enroll_with(token: &str) -> (TempDir, Run) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("token");
    std::fs::write(&file, token).unwrap();
    let out = run(Agent::cmd(dir.path(), &["enroll", "--token-file", file.to_str().unwrap()]));
    (dir, out)
}

fn assert_not_enrolled(dir: &TempDir) {
    let state = dir.path().join("state");
    for name in ["identity.toml", "agent.crt", "agent.key", "ca.crt"] {
        assert!(!state.join(name).exists(), "a refused enrollment left {name} in {}", state.display());
    }
}

pub(crate) fn server_ca(server: &Server) -> CertificateDer<'static> {
    CertificateDer::from_pem_file(server.ca()).unwrap()
}

pub(crate) fn agent_identity(agent: &Agent) -> Identity {
    let state = agent.dir.path().join("state");
    let read = |name: &str| std::fs::read(state.join(name)).unwrap();
    Identity {
        chain: vec![CertificateDer::from(read("agent.crt"))],
        key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(read("agent.key"))),
    }
}

/// A client certificate that looks like an agent's in every way but its issuer: a CA this server never saw, even
/// named like the real one, so only the signature can tell them apart.
fn foreign_identity() -> Identity {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca = rcgen::CertificateParams::default();
    ca.distinguished_name.push(rcgen::DnType::CommonName, "Lifeline CA");
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Constrained(0));
    ca.key_usages = vec![rcgen::KeyUsagePurpose::KeyCertSign, rcgen::KeyUsagePurpose::CrlSign];
    let issuer = rcgen::Issuer::new(ca, ca_key);
    let key = rcgen::KeyPair::generate().unwrap();
    let mut leaf = rcgen::CertificateParams::default();
    leaf.distinguished_name.push(rcgen::DnType::CommonName, "ag-000000000000");
    leaf.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
    leaf.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    let cert = leaf.signed_by(&key, &issuer).unwrap();
    Identity {
        chain: vec![cert.der().clone()],
        key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
    }
}

fn hello() -> Hello {
    Hello {
        protocol: PROTOCOL_VERSION,
        agent_version: "0.0.0-raw".into(),
        hostname: "raw-test-client".into(),
        os: "test".into(),
    }
}

/// A raw QUIC client on loopback with the agent's own TLS configuration; the endpoint must outlive the connection.
async fn connect(
    server: SocketAddr,
    trust: ServerTrust,
    identity: Option<Identity>,
) -> (quinn::Endpoint, Result<quinn::Connection, quinn::ConnectionError>) {
    connect_with(server, lifeline_net::tls::quic_client(trust, identity).unwrap()).await
}

/// As `connect`, with a configuration the caller keeps: the session ticket of one connection resumes the next.
pub(crate) async fn connect_with(
    server: SocketAddr,
    config: quinn::ClientConfig,
) -> (quinn::Endpoint, Result<quinn::Connection, quinn::ConnectionError>) {
    let endpoint = quinn::Endpoint::client("127.0.0.1:0".parse().unwrap()).unwrap();
    let connecting = endpoint.connect_with(config, server, SERVER_NAME).unwrap();
    let conn = tokio::time::timeout(NET, connecting).await.expect("the handshake neither finished nor failed");
    (endpoint, conn)
}

/// Opens the control stream as an agent does and expects the server's welcome.
async fn say_hello(conn: &quinn::Connection) -> (quinn::SendStream, quinn::RecvStream) {
    tokio::time::timeout(NET, async {
        let (mut send, mut recv) = conn.open_bi().await.unwrap();
        frame::write(&mut send, &AgentControl::Hello(hello())).await.unwrap();
        match frame::read::<ServerControl>(&mut recv).await {
            Ok(Some(ServerControl::Welcome { .. })) => (send, recv),
            other => panic!("expected a welcome, got {other:?} (closed: {:?})", conn.close_reason()),
        }
    })
    .await
    .expect("no welcome in time")
}

pub(crate) async fn hang_up(endpoint: quinn::Endpoint, conn: quinn::Connection) {
    conn.close(close::NORMAL.into(), b"done");
    let _ = tokio::time::timeout(NET, endpoint.wait_idle()).await;
}

pub(crate) fn app_close_code(e: &quinn::ConnectionError) -> Option<u32> {
    match e {
        quinn::ConnectionError::ApplicationClosed(c) => u32::try_from(c.error_code.into_inner()).ok(),
        _ => None,
    }
}

/// QUIC carries a TLS alert as transport error 0x100 + alert.
pub(crate) fn is_tls_alert(code: quinn::TransportErrorCode) -> bool {
    (0x100..0x200).contains(&u64::from(code))
}

/// The technicians' API over HTTPS, trusting only the deployment's CA, with raw bodies and every status returned.
struct Api {
    agent: ureq::Agent,
    base: String,
    token: String,
}

impl Api {
    fn new(server: &Server) -> Api {
        Api {
            agent: server.https(),
            base: server.api.trim_end_matches('/').to_owned(),
            token: server.admin_token.clone(),
        }
    }

    fn get(&self, path: &str, token: Option<&str>) -> (u16, Value) {
        let mut req = self.agent.get(format!("{}{path}", self.base));
        if let Some(token) = token {
            req = req.header("authorization", format!("Bearer {token}"));
        }
        answer(path, req.call())
    }

    /// POSTs as the admin, so only the body can be what is wrong.
    fn post(&self, path: &str, content_type: &str, body: &[u8]) -> (u16, Value) {
        self.try_post(path, content_type, body).unwrap_or_else(|e| panic!("calling {path}: {e}"))
    }

    fn try_post(&self, path: &str, content_type: &str, body: &[u8]) -> Result<(u16, Value), ureq::Error> {
        let req = self
            .agent
            .post(format!("{}{path}", self.base))
            .header("authorization", format!("Bearer {}", self.token))
            .header("content-type", content_type);
        Ok(answer(path, Ok(req.send(body)?)))
    }
}

fn answer(path: &str, response: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> (u16, Value) {
    let mut response = response.unwrap_or_else(|e| panic!("calling {path}: {e}"));
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().unwrap();
    let value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path} answered {status} without JSON ({e}): {text}"));
    (status, value)
}
