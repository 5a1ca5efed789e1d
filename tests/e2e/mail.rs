//! The e-mail channel through the real server: messages piped in as a mail server would (`POST
//! /api/inbound/email` with a `mailer` token), written the way Gmail, Outlook and Thunderbird write them, and what
//! the help desk sends out, caught by Python's own SMTP server, which is started only after the first replies were
//! queued: a mail server that is down loses nothing.

use std::net::TcpListener;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use lifeline_shared::mail::{Inbound, Limits, parse};
use serde_json::Value;

use crate::harness::{Proc, Server, eventually};

const DESK: &str = "helpdesk@lifeline.test";

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Pipes one raw message in, its lines ended as on the wire; the status and the answer.
fn pipe(server: &Server, token: &str, raw: &str) -> (u16, Value) {
    pipe_bytes(server, token, raw.replace('\n', "\r\n").as_bytes())
}

fn pipe_bytes(server: &Server, token: &str, raw: &[u8]) -> (u16, Value) {
    let answer = server
        .https()
        .post(&format!("{}/api/inbound/email", server.api))
        .header("authorization", &format!("Bearer {token}"))
        .header("content-type", "message/rfc822")
        .send(raw)
        .unwrap();
    let status = answer.status().as_u16();
    (status, serde_json::from_str(&answer.into_body().read_to_string().unwrap()).unwrap_or(Value::Null))
}

fn piped(server: &Server, token: &str, raw: &str, outcome: &str) -> Option<i64> {
    let (status, answer) = pipe(server, token, raw);
    assert_eq!((status, answer["outcome"].as_str()), (202, Some(outcome)), "{answer}\n{raw}");
    answer["ticket"].as_i64()
}

/// The messages the SMTP server was given, in order, parsed back.
fn sent(dir: &Path) -> Vec<(String, Inbound)> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "eml"))
        .collect();
    files.sort_by_key(|p| p.file_stem().and_then(|s| s.to_str()?.parse::<u32>().ok()));
    files
        .iter()
        .map(|p| {
            let raw = std::fs::read_to_string(p).unwrap();
            (raw.clone(), parse(raw.as_bytes(), &Limits::default()).unwrap())
        })
        .collect()
}

fn events(server: &Server, number: i64, kind: &str) -> Vec<Value> {
    let t = server.json(&["ticket", "show", &number.to_string()]);
    t["events"].as_array().unwrap().iter().filter(|e| e["kind"] == kind).cloned().collect()
}

fn status(server: &Server, number: i64) -> String {
    server.json(&["ticket", "show", &number.to_string()])["status"].as_str().unwrap().to_owned()
}

#[test]
fn mail_threads_into_tickets_and_replies_go_out_once_the_mail_server_is_back() {
    let port = free_port();
    let config = format!(
        "[mail]\naddress = \"{DESK}\"\nname = \"Lifeline help desk\"\ndomain = \"lifeline.test\"\n\
         new_tickets_per_hour = 3\nmax_attachment_mib = 4\n[mail.smtp]\nhost = \"127.0.0.1\"\nport = {port}\n\
         tls = \"none\"\nretry = [\"1s\", \"1s\", \"1s\", \"1s\", \"1s\", \"1s\", \"1s\", \"1s\", \"1s\", \"1s\", \"1s\", \
         \"1s\", \"1s\", \"1s\", \"1s\", \"1s\", \"1s\", \"1s\", \"1s\", \"1s\"]\n"
    );
    let server = Server::start_with_config(&config);
    let postfix = server.add_user("postfix", "mailer");
    let tech = server.add_user("tess", "1");
    let (status_code, _) = pipe(&server, &tech, "From: a@b.test\n\nhi\n");
    assert_eq!(status_code, 403, "a technician's token does not hand in mail");

    // A new message opens a ticket on channel email for the person with that address.
    let first = "From: Ann Archer <Ann@Example.com>\nTo: helpdesk@lifeline.test\nSubject: Printer jams\n\
                 Message-ID: <CAB1xyz@mail.gmail.com>\nDate: Thu, 03 Dec 2026 09:00:00 +0100\n\n\
                 The printer on floor 2 jams on every page.\n";
    let n = piped(&server, &postfix, first, "new_ticket").unwrap();
    piped(&server, &postfix, first, "duplicate");
    let t = server.json(&["ticket", "show", &n.to_string()]);
    assert_eq!((&t["channel"], &t["requester"]), (&"email".into(), &"Ann Archer".into()), "{t:#}");

    // The technician answers while the mail server is down.
    let out = server.cli_as(&tech, &["ticket", "reply", &n.to_string(), "Please try tray 2."]);
    assert!(out.ok, "{}", out.stderr);
    std::thread::sleep(Duration::from_secs(2));
    let outbox: i64 = server
        .sql()
        .query_row("SELECT count(*) FROM mail_outbox WHERE state = 'pending' AND attempts > 0", [], |r| r.get(0))
        .unwrap();
    assert_eq!(outbox, 2, "the acknowledgement and the reply wait, tried and kept");

    let spool = tempfile::tempdir().unwrap();
    let mut cmd = Command::new("python3");
    cmd.arg(concat!(env!("CARGO_MANIFEST_DIR"), "/e2e/support/smtp_sink.py")).arg(port.to_string()).arg(spool.path());
    let sink = Proc::spawn("smtp-sink", cmd);
    sink.wait_for_line("listening", Duration::from_secs(10));
    let mails = eventually("both mails at the SMTP server", Duration::from_secs(30), || {
        let mails = sent(spool.path());
        (mails.len() >= 2).then_some(mails)
    });
    assert_eq!(mails.len(), 2);
    let (ack_raw, ack) = &mails[0];
    let (_, reply) = &mails[1];
    assert!(ack_raw.contains("X-Envelope-To: ann@example.com"), "{ack_raw}");
    assert!(ack_raw.contains("Auto-Submitted: auto-replied"), "{ack_raw}");
    assert!(ack.body.contains(&format!("#{n}")), "{}", ack.body);
    assert_eq!(reply.subject, format!("Re: [#{n}] Printer jams"));
    assert_eq!(reply.in_reply_to, ["CAB1xyz@mail.gmail.com"]);
    assert_eq!(reply.references, ["CAB1xyz@mail.gmail.com"]);
    assert!(reply.body.contains("Please try tray 2."));
    let our_id = reply.message_id.clone().unwrap();
    assert!(our_id.starts_with(&format!("ticket-{n}.")) && our_id.ends_with("@lifeline.test"), "{our_id}");

    // Gmail answers above the quote, with In-Reply-To and References: it threads by our Message-ID.
    let gmail = format!(
        "From: Ann Archer <ann@example.com>\nTo: {DESK}\nSubject: Re: [#{n}] Printer jams\n\
         Message-ID: <CAB2abc@mail.gmail.com>\nIn-Reply-To: <{our_id}>\nReferences: <CAB1xyz@mail.gmail.com> <{our_id}>\n\n\
         Tray 2 works, thanks!\n\nOn Thu, Dec 3, 2026 at 10:00 AM Lifeline help desk <{DESK}> wrote:\n> Please try tray 2.\n"
    );
    assert_eq!(piped(&server, &postfix, &gmail, "follow_up"), Some(n));
    let replies = events(&server, n, "requester_reply");
    assert_eq!(replies.last().unwrap()["body"].as_str().map(str::trim), Some("Tray 2 works, thanks!"));

    // Resolved; an out-of-office answer to our reply is noted and reopens nothing.
    assert!(server.cli_as(&tech, &["ticket", "status", &n.to_string(), "resolved", "--code", "workaround"]).ok);
    let away = format!(
        "From: ann@example.com\nTo: {DESK}\nSubject: Automatic reply: [#{n}] Printer jams\nAuto-Submitted: auto-replied\n\
         X-Auto-Response-Suppress: All\nMessage-ID: <oof1@example.com>\nIn-Reply-To: <{our_id}>\n\nI am away until Monday.\n"
    );
    assert_eq!(piped(&server, &postfix, &away, "auto_note"), Some(n));
    assert_eq!(status(&server, n), "resolved");

    // Outlook writes no In-Reply-To here, only the token in an "RE:" subject, RFC 2047-encoded by another client:
    // the sender is the requester, so it threads, and a person's answer reopens the ticket.
    let outlook = format!(
        "From: \"Archer, Ann\" <ann@example.com>\nTo: {DESK}\nSubject: =?UTF-8?B?{}?=\nMessage-ID: <AM0PR01@outlook.com>\n\
         Thread-Index: AQHZ1234\n\nIt jams again.\n\n-----Original Message-----\nFrom: Lifeline help desk\nSent: Thursday\n",
        b64(&format!("RE: [#{n}] Drucker klemmt – wieder"))
    );
    assert_eq!(piped(&server, &postfix, &outlook, "follow_up"), Some(n));
    assert_eq!(status(&server, n), "open");

    // The token typed by someone else opens a ticket of their own.
    let stranger = format!(
        "From: mallory@evil.test\nTo: {DESK}\nSubject: Re: [#{n}] Printer jams\nMessage-ID: <m1@evil.test>\n\nlet me in\n"
    );
    let m = piped(&server, &postfix, &stranger, "new_ticket").unwrap();
    assert_ne!(m, n);

    // Our own address, a bounce and a malformed message.
    let own = format!("From: {DESK}\nTo: {DESK}\nSubject: [#{n}] loop\nMessage-ID: <own@lifeline.test>\n\nx\n");
    piped(&server, &postfix, &own, "ignored_own");
    let bounce = "From: MAILER-DAEMON@mx.example.com\nTo: helpdesk@lifeline.test\nSubject: Undelivered Mail Returned to Sender\n\
                  Message-ID: <b1@mx.example.com>\nMIME-Version: 1.0\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\n\n\
                  --b\nContent-Type: text/plain\n\nThe mail could not be delivered.\n--b\nContent-Type: message/delivery-status\n\n\
                  Final-Recipient: rfc822; nobody@example.com\nAction: failed\nStatus: 5.1.1\n--b--\n";
    piped(&server, &postfix, bounce, "ignored_automated");
    let (code, answer) = pipe(&server, &postfix, "\u{0}\u{1}binary junk without headers");
    assert_eq!(code, 422, "{answer}");
    assert!(answer["error"].as_str().unwrap().contains("refused"), "{answer}");
    // What made the parser's own debug checks fire: answered, whatever the answer, and the server lives on.
    let nested =
        include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/../fuzz/seeds/mail/regression-nested-message-ends-early"));
    let (code, answer) = pipe_bytes(&server, &postfix, nested);
    assert!(code == 202 || code == 422, "{code} {answer}");

    // A merged ticket's mail lands in the one it was merged into: mallory answers the acknowledgement of theirs.
    assert!(server.cli(&["ticket", "merge", &m.to_string(), "--into", &n.to_string()]).ok);
    let mails = eventually("mallory's acknowledgement", Duration::from_secs(30), || {
        let mails = sent(spool.path());
        mails.iter().any(|(raw, _)| raw.contains("X-Envelope-To: mallory@evil.test")).then_some(mails)
    });
    let ack_m = &mails.iter().find(|(raw, _)| raw.contains("X-Envelope-To: mallory@evil.test")).unwrap().1;
    let answer_m = format!(
        "From: mallory@evil.test\nTo: {DESK}\nSubject: Re: ack\nMessage-ID: <m2@evil.test>\nIn-Reply-To: <{}>\n\nstill here\n",
        ack_m.message_id.clone().unwrap()
    );
    assert_eq!(piped(&server, &postfix, &answer_m, "follow_up"), Some(n));

    // One sender opens at most three tickets an hour.
    for i in 0..2 {
        let raw = format!("From: bot@noisy.test\nTo: {DESK}\nSubject: alert {i}\nMessage-ID: <n{i}@noisy.test>\n\nx\n");
        piped(&server, &postfix, &raw, "new_ticket");
    }
    let raw = format!("From: bot@noisy.test\nTo: {DESK}\nSubject: alert 2\nMessage-ID: <n2@noisy.test>\n\nx\n");
    let noisy = piped(&server, &postfix, &raw, "new_ticket").unwrap();
    let raw = format!("From: bot@noisy.test\nTo: {DESK}\nSubject: alert 3\nMessage-ID: <n3@noisy.test>\n\nx\n");
    piped(&server, &postfix, &raw, "rate_limited");

    // Attachments: one kept, one over the 4 MiB limit left out and listed on the ticket.
    // Lines that differ, so that a byte out of place shows.
    let mut small: String = (0..).map(|i| format!("{i:07} small.log\n")).take(60_000).collect();
    small.truncate(1 << 20);
    let large = "y".repeat(5 << 20);
    let with_files = format!(
        "From: ann@example.com\nTo: {DESK}\nSubject: Re: [#{n}] logs\nMessage-ID: <files@example.com>\nMIME-Version: 1.0\n\
         Content-Type: multipart/mixed; boundary=\"f\"\n\n--f\nContent-Type: text/plain\n\nThe logs.\n\
         --f\nContent-Type: text/plain; name=\"small.log\"\nContent-Disposition: attachment; filename=\"small.log\"\nContent-Transfer-Encoding: base64\n\n{}\n\
         --f\nContent-Type: application/octet-stream; name=\"core.dump\"\nContent-Disposition: attachment; filename=\"core.dump\"\nContent-Transfer-Encoding: base64\n\n{}\n--f--\n",
        b64_lines(small.as_bytes()),
        b64_lines(large.as_bytes())
    );
    assert_eq!(piped(&server, &postfix, &with_files, "follow_up"), Some(n));
    let kept: Vec<(String, i64)> = server
        .sql()
        .prepare("SELECT name, size FROM ticket_attachments WHERE ticket = ?1")
        .unwrap()
        .query_map([n], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(kept, [("small.log".to_owned(), 1 << 20)]);
    let notes = events(&server, n, "internal_note");
    assert!(notes.iter().any(|e| e["body"].as_str().unwrap().contains("core.dump")), "{notes:#?}");

    // The technician sees the file on the ticket and gets exactly the bytes sent back, only ever as a download.
    let t = server.json(&["ticket", "show", &n.to_string()]);
    let files = t["attachments"].as_array().unwrap();
    let listed: Vec<(&str, &str, i64)> = files
        .iter()
        .map(|f| (f["name"].as_str().unwrap(), f["content_type"].as_str().unwrap(), f["size"].as_i64().unwrap()))
        .collect();
    assert_eq!(listed, [("small.log", "text/plain", 1 << 20)], "{t:#}");
    let id = files[0]["id"].as_i64().unwrap();
    let download = |number: i64| {
        server
            .https()
            .get(format!("{}/api/tickets/{number}/attachments/{id}", server.api))
            .header("authorization", format!("Bearer {tech}"))
            .call()
            .unwrap()
    };
    let mut answer = download(n);
    assert_eq!(answer.status(), 200);
    let header = |name: &str| answer.headers().get(name).map(|v| v.to_str().unwrap().to_owned());
    assert_eq!(header("content-type").as_deref(), Some("text/plain"));
    assert_eq!(header("content-disposition").as_deref(), Some("attachment; filename*=UTF-8''small.log"));
    assert_eq!(header("x-content-type-options").as_deref(), Some("nosniff"));
    let body = answer.body_mut().with_config().limit(8 << 20).read_to_vec().unwrap();
    assert!(body == small.as_bytes(), "{} bytes came back, not the {} sent", body.len(), small.len());
    let mut elsewhere = download(noisy);
    let said = elsewhere.body_mut().read_to_string().unwrap();
    assert_eq!(elsewhere.status(), 404, "the file asked for on another ticket: {said}");

    // The CLI lists it with `ticket show` and saves it with `ticket attachment`, never over a file unless forced.
    let shown = server.cli_as(&tech, &["ticket", "show", &n.to_string()]);
    assert!(shown.ok, "{}", shown.stderr);
    assert!(shown.stdout.contains(&format!("small.log  1.0 MiB  text/plain  (id {id})")), "{}", shown.stdout);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("small.log");
    let save = |out: &Path, extra: &[&str]| {
        let args = ["ticket", "attachment", &n.to_string(), &id.to_string(), "--out", out.to_str().unwrap()];
        server.cli_as(&tech, &[&args[..], extra].concat())
    };
    let saved = save(&out, &[]);
    assert!(saved.ok, "{}", saved.stderr);
    assert!(std::fs::read(&out).unwrap() == small.as_bytes(), "the saved file is not the one sent");
    std::fs::write(&out, "mine").unwrap();
    let refused = save(&out, &[]);
    assert!(!refused.ok && refused.stderr.contains("--force"), "{}", refused.stderr);
    assert_eq!(std::fs::read(&out).unwrap(), b"mine");
    let forced = save(&out, &["--force"]);
    assert!(forced.ok, "{}", forced.stderr);
    assert!(std::fs::read(&out).unwrap() == small.as_bytes(), "the forced file is not the one sent");
    let nowhere = dir.path().join("nothing");
    let args = ["ticket", "attachment", &noisy.to_string(), &id.to_string(), "--out", nowhere.to_str().unwrap()];
    let missing = server.cli_as(&tech, &args);
    assert!(!missing.ok && missing.stderr.contains("404"), "{}", missing.stderr);
    assert!(!nowhere.exists(), "a refused download leaves no file");
}

fn b64(s: &str) -> String {
    b64_bytes(s.as_bytes())
}

fn b64_bytes(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Base64 in lines of 76, as MIME writes it.
fn b64_lines(data: &[u8]) -> String {
    let text = b64_bytes(data);
    text.as_bytes().chunks(76).map(|l| std::str::from_utf8(l).unwrap()).collect::<Vec<_>>().join("\n")
}
