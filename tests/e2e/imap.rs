//! The e-mail channel's IMAP reader against Debian's Dovecot, started here on loopback ports in a temporary
//! directory with a maildir of its own. Mail is put into the mailbox by IMAP APPEND, as a delivery agent would, while
//! the server runs, while it is down, and across a change of the mailbox's UIDVALIDITY: every message becomes what it
//! should exactly once, and a broken or oversized one holds up none after it. Then the same over TLS and STARTTLS,
//! taken only from a server whose certificate the machine's trust store vouches for, and polled from a server
//! without IDLE.

use std::path::Path;
use std::time::Duration;

use crate::dovecot::{Dovecot, USER, WAIT};
use crate::harness::{Proc, Server, eventually, require_root, server_cmd};

const DESK: &str = "helpdesk@lifeline.test";

fn config(host: &str, port: u16, tls: &str, password_file: &Path, poll_every: &str) -> String {
    format!(
        "[mail]\naddress = \"{DESK}\"\ndomain = \"lifeline.test\"\n[mail.imap]\nhost = \"{host}\"\nport = {port}\n\
         tls = \"{tls}\"\nuser = \"{USER}\"\npassword_file = \"{}\"\npoll_every = \"{poll_every}\"\n",
        password_file.display()
    )
}

fn mail(from: &str, subject: &str, id: &str, headers: &str, body: &str) -> String {
    format!("From: {from}\nTo: {DESK}\nSubject: {subject}\nMessage-ID: <{id}>\n{headers}\n{body}\n")
}

fn count(db: &rusqlite::Connection, sql: &str) -> i64 {
    db.query_row(sql, [], |r| r.get(0)).unwrap()
}

/// The ticket a message made or went to, once it has been taken.
fn ticket_of(db: &rusqlite::Connection, message_id: &str) -> Option<(i64, String)> {
    db.query_row(
        "SELECT ticket, outcome FROM mail_messages WHERE direction = 'in' AND message_id = ?1",
        [message_id],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .ok()
}

fn taken(server: &Server, message_id: &str) -> (i64, String) {
    eventually(&format!("<{message_id}> taken"), WAIT, || ticket_of(&server.sql(), message_id))
}

fn lines_with(output: &str, needle: &str) -> usize {
    output.lines().filter(|l| l.contains(needle)).count()
}

#[test]
fn imap_mail_opens_and_threads_tickets_at_once_and_is_taken_exactly_once_across_restarts() {
    require_root("Dovecot, whose mail processes run as another user,");
    let mut dovecot = Dovecot::start(false, true);
    let (validity, _) = dovecot.append(&mail(
        "Ann Archer <ann@example.com>",
        "Printer jams",
        "a1@example.com",
        "",
        "The printer on floor 2 jams on every page.",
    ));
    // Ten minutes between looks: whatever arrives sooner came through IDLE.
    let config = config("127.0.0.1", dovecot.imap, "none", &dovecot.password_file(), "10m");
    let mut server = Server::start_with_config(&config);

    // What was in the mailbox before the server started opens a ticket.
    let (ann, outcome) = taken(&server, "a1@example.com");
    assert_eq!(outcome, "new_ticket");
    let t = server.json(&["ticket", "show", &ann.to_string()]);
    assert_eq!((&t["channel"], &t["requester"]), (&"email".into(), &"Ann Archer".into()), "{t:#}");
    let ack: String = server
        .sql()
        .query_row("SELECT message_id FROM mail_messages WHERE direction = 'out' AND ticket = ?1", [ann], |r| r.get(0))
        .unwrap();

    // While the server runs, new mail comes at once, through IDLE. A reply to our acknowledgement threads in; a
    // message without a sender is refused, and one larger than the channel takes is passed over unread, each
    // holding up none after it.
    dovecot.append(&mail(
        "Ann Archer <ann@example.com>",
        &format!("Re: [#{ann}] Printer jams"),
        "a2@example.com",
        &format!("In-Reply-To: <{ack}>\nReferences: <a1@example.com> <{ack}>\n"),
        "Still jamming after a restart.",
    ));
    assert_eq!(taken(&server, "a2@example.com"), (ann, "follow_up".to_owned()));
    let (_, broken) = dovecot.append("Subject: no sender\nMessage-ID: <broken@example.com>\n\nFrom nobody.\n");
    let line = format!("{}\n", "x".repeat(76));
    let (_, big) =
        dovecot.append(&mail("eve@example.com", "Huge", "big@example.com", "", &line.repeat((49 << 20) / 77)));
    dovecot.append(&mail("bob@example.com", "Scanner offline", "b1@example.com", "", "It shows offline."));
    let (bob, outcome) = taken(&server, "b1@example.com");
    assert_eq!(outcome, "new_ticket");
    assert_ne!(bob, ann);
    let log = server.proc.output();
    assert_eq!(lines_with(&log, "an IMAP message was not taken"), 1, "{log}");
    assert!(log.contains(&format!("uid={broken}")), "{log}");
    let skipped: Vec<&str> = log.lines().filter(|l| l.contains("larger than the e-mail channel takes")).collect();
    assert!(skipped.len() == 1 && skipped[0].contains(&format!("uid={big}")), "{log}");
    assert!(ticket_of(&server.sql(), "big@example.com").is_none());
    assert_eq!(lines_with(&log, "IMAP connection failed"), 0, "{log}");

    // Mail that arrives while the server is down is taken after it starts, and only that mail: the cursor says
    // where it stopped. Ann's answer carries only the subject's token, from the ticket's requester.
    server.proc.kill();
    dovecot.append(&mail(
        "ann@example.com",
        &format!("Re: [#{ann}] Printer jams"),
        "a3@example.com",
        "",
        "Tray 2 works.",
    ));
    // A message without a Message-ID (RFC 5322 only says it should have one) is known by its bytes.
    dovecot.append("From: pat@example.com\nTo: helpdesk@lifeline.test\nSubject: Keyboard\n\nKeys stick.\n");
    let (_, last) = dovecot.append(&mail("carol@example.com", "New laptop", "c1@example.com", "", "When?"));
    let server = server.restart();
    assert_eq!(taken(&server, "c1@example.com").1, "new_ticket");
    assert_eq!(taken(&server, "a3@example.com"), (ann, "follow_up".to_owned()));
    let db = server.sql();
    let pat: i64 = db
        .query_row("SELECT ticket FROM mail_messages WHERE address = 'pat@example.com' AND direction = 'in'", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert!(server.cli(&["ticket", "reply", &pat.to_string(), "Which keys?"]).ok);
    let replies: Vec<String> = db
        .prepare(
            "SELECT CAST(raw AS TEXT) FROM mail_outbox o JOIN mail_messages m ON m.id = o.message WHERE m.ticket = ?1",
        )
        .unwrap()
        .query_map([pat], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(replies.len(), 2, "the acknowledgement and the reply");
    assert!(replies.iter().all(|r| !r.contains("In-Reply-To") && !r.contains(".invalid")), "{replies:#?}");
    assert_eq!(count(&db, "SELECT count(*) FROM tickets"), 4);
    assert_eq!(count(&db, "SELECT count(*) FROM mail_messages WHERE direction = 'in'"), 6);
    let cursor = db.query_row("SELECT uidvalidity, last_uid FROM mail_cursor", [], |r| Ok((r.get(0)?, r.get(1)?)));
    assert_eq!(cursor.unwrap(), (validity, last));
    let log = server.proc.output();
    assert_eq!(lines_with(&log, "mail received"), 3, "only the three new messages were read:\n{log}");

    // The mailbox gets a new UIDVALIDITY, and the password changes (it is read at each connection): Dovecot logs the
    // reader out when the next message arrives, and the reader logs in again, reads the mailbox from its start,
    // takes nothing twice, and takes the new message.
    dovecot.set_password("second secret");
    dovecot.set_uidvalidity(validity + 1);
    let (new_validity, last) = dovecot.append(&mail("dan@example.com", "Monitor flickers", "d1@example.com", "", "x"));
    assert_eq!(new_validity, validity + 1);
    server.proc.wait_for_line("UIDVALIDITY changed", WAIT);
    assert_eq!(taken(&server, "d1@example.com").1, "new_ticket");
    let db = server.sql();
    assert_eq!(count(&db, "SELECT count(*) FROM tickets"), 5);
    assert_eq!(count(&db, "SELECT count(*) FROM mail_messages WHERE direction = 'in'"), 7);
    let cursor = db.query_row("SELECT uidvalidity, last_uid FROM mail_cursor", [], |r| Ok((r.get(0)?, r.get(1)?)));
    assert_eq!(cursor.unwrap(), (new_validity, last));
    let log = server.proc.output();
    let received: Vec<&str> = log.lines().filter(|l| l.contains("mail received")).collect();
    assert_eq!(received.iter().filter(|l| l.contains("duplicate")).count(), 6, "{log}");
    assert_eq!(received.len(), 3 + 6 + 1, "{log}");
    assert_eq!(lines_with(&log, "IMAP connection failed"), 1, "one warning for the whole outage:\n{log}");
    assert_eq!(lines_with(&log, "IMAP mailbox read again"), 1, "{log}");
}

/// A server with `data` as its data directory and its configuration there, trusting only the CAs in `ca` if given,
/// else the machine's own.
fn serve(data: &Path, ca: Option<&Path>) -> Proc {
    let mut cmd = server_cmd(data, &["serve", "--quic", "127.0.0.1:0", "--api", "127.0.0.1:0"]);
    cmd.env("LIFELINE_SERVER_CONFIG", data.join("server.toml"));
    match ca {
        Some(ca) => cmd.env("SSL_CERT_FILE", ca).env_remove("SSL_CERT_DIR"),
        None => cmd.env_remove("SSL_CERT_FILE").env_remove("SSL_CERT_DIR"),
    };
    let proc = Proc::spawn("lifeline-server", cmd);
    proc.wait_for_line("api listening on ", WAIT);
    proc
}

#[test]
fn imap_over_tls_and_starttls_takes_mail_only_from_a_server_it_trusts_and_polls_without_idle() {
    require_root("Dovecot, whose mail processes run as another user,");
    let dovecot = Dovecot::start(true, false);
    dovecot.append(&mail("erin@example.com", "VPN drops", "e1@example.com", "", "Every hour."));
    let data = tempfile::tempdir().unwrap();
    let db = || {
        let db = rusqlite::Connection::open(data.path().join("lifeline.db")).unwrap();
        db.busy_timeout(Duration::from_secs(5)).unwrap();
        db
    };
    let imaps = dovecot.imaps.unwrap();
    let tls = config("localhost", imaps, "tls", &dovecot.password_file(), "2s");
    std::fs::write(data.path().join("server.toml"), tls).unwrap();

    // The machine's trust store does not know the test's CA: nothing is logged in to, nothing is read.
    let server = serve(data.path(), None);
    let failed = server.wait_for_line("IMAP connection failed", WAIT);
    assert!(failed.contains("certificate"), "{failed}");
    assert_eq!(count(&db(), "SELECT count(*) FROM mail_messages"), 0);
    assert_eq!(dovecot.tls_logins(), 0, "{}", dovecot.log());
    drop(server);

    // Trusted, over implicit TLS.
    let server = serve(data.path(), Some(&dovecot.ca()));
    eventually("the message over TLS", WAIT, || ticket_of(&db(), "e1@example.com"));
    drop(server);

    // Over STARTTLS on the plain port, with mail that came while the server was down.
    dovecot.append(&mail("frank@example.com", "Badge reader", "f1@example.com", "", "Door 3."));
    let starttls = config("localhost", dovecot.imap, "starttls", &dovecot.password_file(), "2s");
    std::fs::write(data.path().join("server.toml"), starttls).unwrap();
    let server = serve(data.path(), Some(&dovecot.ca()));
    let (_, outcome) = eventually("the message over STARTTLS", WAIT, || ticket_of(&db(), "f1@example.com"));
    assert_eq!(outcome, "new_ticket");

    // This Dovecot offers no IDLE: the reader looks again every two seconds.
    dovecot.append(&mail("gina@example.com", "Headset", "g1@example.com", "", "No sound."));
    eventually("the message found by polling", WAIT, || ticket_of(&db(), "g1@example.com"));
    assert_eq!(count(&db(), "SELECT count(*) FROM tickets"), 3);
    assert_eq!(lines_with(&server.output(), "IMAP connection failed"), 0, "{}", server.output());
    assert!(dovecot.tls_logins() >= 2, "{}", dovecot.log());
}
