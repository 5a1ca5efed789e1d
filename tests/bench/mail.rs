//! Inbound mail: how fast the IMAP reader takes a full mailbox, each message parsed, threaded into its ticket or
//! opening one, and its cursor moved, next to a bare IMAP client fetching the same messages from the same Dovecot.

use std::time::{Duration, Instant};

use crate::dovecot::{Dovecot, USER};
use crate::{Row, server_with_config};

/// One new message in this many; the others answer one of them.
const PER_THREAD: usize = 5;

pub fn rows(messages: usize) -> Vec<Row> {
    let root = std::process::Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.starts_with(b"0\n"));
    let dovecot = ["/usr/sbin/dovecot", "/usr/bin/dovecot"].iter().any(|p| std::path::Path::new(p).exists());
    if !(root && dovecot) {
        println!(
            "inbound mail row skipped: it needs Dovecot (apt-get install dovecot-imapd) and root, as its mail \
                  processes run as another user"
        );
        return Vec::new();
    }
    let dovecot = Dovecot::start(false, true);
    let threads = messages / PER_THREAD;
    dovecot.append_all(&mailbox(messages, threads));
    // Also builds Dovecot's index of the mailbox, which the server's reading would otherwise pay for.
    let start = Instant::now();
    assert_eq!(dovecot.fetch_all(), messages);
    let bare = messages as f64 / start.elapsed().as_secs_f64();

    let config = format!(
        "[mail]\naddress = \"helpdesk@lifeline.test\"\ndomain = \"lifeline.test\"\n[mail.imap]\nhost = \"127.0.0.1\"\n\
         port = {port}\ntls = \"none\"\nuser = \"{USER}\"\npassword_file = \"{file}\"\npoll_every = \"10m\"\n",
        port = dovecot.imap,
        file = dovecot.password_file().display()
    );
    // From before the server starts, its start being part of reading the mailbox; built first, which is not.
    crate::harness::bin("lifeline-server");
    let start = Instant::now();
    let server = server_with_config(&config, |_| {});
    let db = server.sql();
    let deadline = start + Duration::from_secs(1_800);
    while db.query_row("SELECT coalesce(max(last_uid), 0) FROM mail_cursor", [], |r| r.get::<_, i64>(0)).unwrap()
        < messages as i64
    {
        assert!(Instant::now() < deadline, "the mailbox was not read within 30 minutes");
        std::thread::sleep(Duration::from_millis(20));
    }
    let taken = messages as f64 / start.elapsed().as_secs_f64();
    let outcome = |o: &str| -> usize {
        db.query_row("SELECT count(*) FROM mail_messages WHERE direction = 'in' AND outcome = ?1", [o], |r| {
            r.get::<_, i64>(0)
        })
        .unwrap() as usize
    };
    assert_eq!((outcome("new_ticket"), outcome("follow_up")), (threads, messages - threads), "threaded as sent");
    vec![Row {
        figure: "inbound mail, messages threaded/s".into(),
        value: taken,
        unit: "/s",
        baseline: Some(bare),
        against: format!(
            "the same {messages} messages fetched whole by a bare IMAP client from the same Dovecot; {threads} \
             opened tickets (acknowledgements queued), the rest threaded by [#N], from the server's start"
        ),
    }]
}

/// `threads` new messages from as many people, then their replies in turn, each naming its ticket as `[#N]` and
/// answering above the quoted message, as mail clients write them. Tickets are numbered from 1 in a new store.
fn mailbox(messages: usize, threads: usize) -> Vec<String> {
    let problem = "The laptop does not wake the screens on the dock after lunch; unplugging the dock and plugging it \
                   in again helps for an hour. It started after last week's update. ";
    (0..messages)
        .map(|n| {
            let person = n % threads;
            let from = format!("From: Person {person} <person{person}@example.com>\nTo: helpdesk@lifeline.test\n");
            let date = "Date: Thu, 03 Dec 2026 09:00:00 +0100\n";
            if n < threads {
                format!(
                    "{from}{date}Subject: Dock {person} loses the screens\nMessage-ID: <n{n}@example.com>\n\n{}\n",
                    problem.repeat(4)
                )
            } else {
                format!(
                    "{from}{date}Subject: Re: [#{ticket}] Dock {person} loses the screens\nMessage-ID: <r{n}@example.com>\n\
                     In-Reply-To: <n{person}@example.com>\nReferences: <n{person}@example.com>\n\n\
                     Still the same this morning, reply {n}.\n\nOn Thu, 3 Dec 2026, Person {person} wrote:\n> {problem}\n",
                    ticket = person + 1
                )
            }
        })
        .collect()
}
