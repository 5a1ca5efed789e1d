//! The requester's side through the real binaries: what the help desk writes reaches the user's machine by push (never
//! internal notes), the user answers and confirms from there, self-help outcomes are counted, and a program
//! subscribed on the agent's socket hears of ticket changes, consent windows and checks as they happen.

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::time::{Duration, Instant};

use lifeline_shared::codec;
use lifeline_shared::wire::{LocalEvent, LocalRequest, LocalResponse, ThreadKind};
use serde::de::DeserializeOwned;

use crate::harness::{Agent, OTHER_USER, Server, bin, eventually, other_user, require_root, run};

const WAIT: Duration = Duration::from_secs(20);

/// The agent's socket spoken to directly, as the desktop program does.
struct Socket(UnixStream);

impl Socket {
    fn open(agent: &Agent, request: &LocalRequest) -> Socket {
        let mut stream = UnixStream::connect(agent.dir.path().join("agent.sock")).unwrap();
        stream.set_read_timeout(Some(WAIT)).unwrap();
        stream.write_all(&codec::encode(request).unwrap()).unwrap();
        Socket(stream)
    }

    fn read<T: DeserializeOwned>(&mut self) -> T {
        let mut prefix = [0; codec::PREFIX_LEN];
        self.0.read_exact(&mut prefix).unwrap();
        let mut body = vec![0; codec::body_len(prefix).unwrap()];
        self.0.read_exact(&mut body).unwrap();
        codec::decode_body(&body).unwrap()
    }

    fn call(agent: &Agent, request: &LocalRequest) -> LocalResponse {
        Socket::open(agent, request).read()
    }

    /// The next event that `pick` accepts, skipping others (snapshots and checks of other tests' making).
    fn next_event<T>(&mut self, what: &str, pick: impl Fn(LocalEvent) -> Option<T>) -> T {
        let start = Instant::now();
        while start.elapsed() < WAIT {
            if let Some(found) = pick(self.read::<LocalEvent>()) {
                return found;
            }
        }
        panic!("no event: {what}");
    }
}

fn status(server: &Server, number: &str) -> String {
    server.json(&["ticket", "show", number])["status"].as_str().unwrap().to_owned()
}

#[test]
fn the_help_desks_answers_reach_the_user_who_answers_and_confirms_from_their_machine() {
    let server = Server::start();
    let agent = Agent::start(&server);
    let mut events = Socket::open(&agent, &LocalRequest::Subscribe);
    assert_eq!(events.read::<LocalResponse>(), LocalResponse::Subscribed);

    let number = agent.request_help("Printer prints blank pages").to_string();
    let ticket: u64 = number.parse().unwrap();
    let window = events.next_event("consent window opened", |e| match e {
        LocalEvent::ConsentOpened(w) => Some(w),
        _ => None,
    });
    assert_eq!(window.ticket, ticket);

    for step in
        [["ticket", "note", &number, "toner supplier is slow"], ["ticket", "reply", &number, "Is the toner empty?"]]
    {
        assert!(server.cli(&step).ok, "{step:?}");
    }
    let (thread, new) = events.next_event("the technician's reply", |e| match e {
        LocalEvent::TicketChanged { thread, new } if new.iter().any(|e| matches!(e.kind, ThreadKind::Reply { .. })) => {
            Some((thread, new))
        }
        _ => None,
    });
    assert_eq!(thread.summary.number, ticket);
    assert!(
        matches!(&new.last().unwrap().kind, ThreadKind::Reply { author, text } if author == "admin" && text == "Is the toner empty?"),
        "{new:?}"
    );

    // The user's own view, from what the agent keeps: the reply, never the internal note.
    let shown = agent.call(&["tickets", &number]);
    assert!(shown.ok, "{}", shown.stderr);
    assert!(
        shown.stdout.contains("Is the toner empty?") && shown.stdout.contains("admin (help desk)"),
        "{}",
        shown.stdout
    );
    assert!(!shown.stdout.contains("toner supplier"), "an internal note reached the user:\n{}", shown.stdout);

    // An answer on a resolved ticket reopens it; "solved" resolves, then closes.
    assert!(server.cli(&["ticket", "status", &number, "resolved", "--code", "fixed-remotely"]).ok);
    eventually("the resolved status to reach the machine", WAIT, || {
        agent.call(&["tickets"]).stdout.contains("resolved").then_some(())
    });
    let answered = agent.call(&["reply", &number, "No, it is full. Still blank."]);
    assert!(answered.ok && answered.stdout.contains("Sent"), "{}{}", answered.stdout, answered.stderr);
    assert_eq!(status(&server, &number), "open");
    let history = server.cli(&["ticket", "show", &number]).stdout;
    assert!(history.contains("(requester) answered: No, it is full. Still blank."), "{history}");
    events.next_event("the reopening", |e| match e {
        LocalEvent::TicketChanged { thread, .. } if thread.summary.status == "open" => Some(()),
        _ => None,
    });

    assert!(agent.call(&["solved", &number]).ok);
    assert_eq!(status(&server, &number), "resolved");
    eventually("the resolved status to reach the machine", WAIT, || {
        agent.call(&["tickets"]).stdout.contains("resolved").then_some(())
    });
    assert!(agent.call(&["solved", &number]).ok);
    assert_eq!(status(&server, &number), "closed");
    eventually("the closed status to reach the machine", WAIT, || {
        agent.call(&["tickets"]).stdout.contains("closed").then_some(())
    });
    let late = agent.call(&["reply", &number, "one more thing"]);
    assert!(!late.ok && late.stderr.contains("closed"), "{}", late.stderr);

    // Refused before anything is sent: someone else's ticket number, an empty answer.
    let unknown = agent.call(&["reply", "999", "hello"]);
    assert!(!unknown.ok && unknown.stderr.contains("no ticket 999 of yours"), "{}", unknown.stderr);
    let second = agent.request_help("Second problem").to_string();
    eventually("the second ticket to reach the machine", WAIT, || {
        agent.call(&["tickets"]).stdout.contains("Second problem").then_some(())
    });
    let empty = agent.call(&["reply", &second, "   "]);
    assert!(!empty.ok && empty.stderr.contains("1 to 20000 bytes"), "{}", empty.stderr);
    let events_on_ticket: i64 = server
        .sql()
        .query_row(
            "SELECT COUNT(*) FROM ticket_events WHERE ticket = ?1 AND event LIKE '%requester_reply%'",
            [number.parse::<i64>().unwrap()],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(events_on_ticket, 1, "each answer stored once");
}

#[test]
fn threads_changed_while_the_agent_was_away_arrive_when_it_returns() {
    let server = Server::start();
    let mut agent = Agent::start(&server);
    let number = agent.request_help("VPN drops every hour").to_string();
    eventually("the ticket to reach the machine", WAIT, || {
        agent.call(&["tickets"]).stdout.contains("VPN drops").then_some(())
    });
    drop(agent.proc.take());
    assert!(server.cli(&["ticket", "reply", &number, "Try the new profile"]).ok);

    agent.run();
    agent.proc.as_ref().unwrap().wait_for_line("connected", WAIT);
    eventually("the reply to reach the machine after reconnecting", WAIT, || {
        agent.call(&["tickets", &number]).stdout.contains("Try the new profile").then_some(())
    });
}

#[test]
fn self_help_advice_outcomes_are_counted_and_checks_are_announced() {
    let server = Server::start();
    let tech = server.add_user("tina", "1");
    let agent = Agent::start(&server);

    let LocalResponse::Findings(found) = Socket::call(&agent, &LocalRequest::Findings) else {
        panic!("no findings answer");
    };
    assert!(found.iter().all(|f| !f.summary.is_empty() && !f.advice.is_empty()), "{found:?}");
    let kinds: Vec<_> = found.iter().map(|f| f.kind).collect();
    for solved in [true, true, false] {
        let answer = Socket::call(&agent, &LocalRequest::AdviceOutcome { shown: kinds.clone(), solved });
        assert_eq!(answer, LocalResponse::Saved { delivered: true });
    }
    let stats = server.json(&["stats", "self-help"]);
    assert_eq!(stats["figures"]["shown"], 3, "{stats}");
    assert_eq!(stats["figures"]["solved"], 2, "{stats}");
    assert_eq!(stats["figures"]["asked_for_help"], 1, "{stats}");

    let mut events = Socket::open(&agent, &LocalRequest::Subscribe);
    assert_eq!(events.read::<LocalResponse>(), LocalResponse::Subscribed);
    let ticket = agent.request_help("disk full?").to_string();
    let run = server.cli_as(&tech, &["check", "run", &agent.id, "disk-usage", "path=/", "--ticket", &ticket]);
    assert!(run.ok, "{}", run.stderr);
    let ran = events.next_event("the check announced", |e| match e {
        LocalEvent::CheckRan(h) => Some(h),
        _ => None,
    });
    assert_eq!(
        (ran.technician.as_str(), ran.check.as_str(), ran.ticket),
        ("tina", "disk-usage path=/", ticket.parse().ok())
    );
}

#[test]
fn two_users_on_one_machine_see_and_answer_only_their_own_tickets() {
    require_root("creating a second user");
    let uid = other_user();
    let server = Server::start();
    let agent = Agent::start(&server);
    // The other user reaches the socket (0666) and a copy of the client, as on a real machine.
    let dir = agent.dir.path();
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let client = dir.join("lifeline-agent");
    std::fs::copy(bin("lifeline-agent"), &client).unwrap();
    let as_other = |args: &[&str]| {
        let mut cmd = Command::new(&client);
        cmd.arg("--socket").arg(dir.join("agent.sock")).args(args).uid(uid).current_dir("/");
        run(cmd)
    };

    let mine = agent.request_help("Root's mail is stuck").to_string();
    let theirs = as_other(&["request-help", "--subject", "Other's screen flickers"]);
    assert!(theirs.ok, "{}{}", theirs.stdout, theirs.stderr);
    let ticket = server.json(&["ticket", "list"]);
    let requesters: Vec<(&str, &str)> = ticket["tickets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["subject"].as_str().unwrap(), t["requester"].as_str().unwrap()))
        .collect();
    assert!(requesters.contains(&("Other's screen flickers", OTHER_USER)), "{requesters:?}");
    assert!(requesters.contains(&("Root's mail is stuck", "root")), "{requesters:?}");

    eventually("each user's ticket to reach the machine", WAIT, || {
        let other = as_other(&["tickets"]).stdout;
        (other.contains("Other's screen") && agent.call(&["tickets"]).stdout.contains("Root's mail")).then_some(other)
    });
    let other_list = as_other(&["tickets"]).stdout;
    assert!(!other_list.contains("Root's mail"), "{other_list}");
    assert!(!agent.call(&["tickets"]).stdout.contains("Other's screen"));
    for args in [
        vec!["tickets", mine.as_str()],
        vec!["reply", mine.as_str(), "let me in"],
        vec!["solved", mine.as_str()],
        vec!["consent", "revoke", mine.as_str()],
    ] {
        let out = as_other(&args);
        assert!(!out.ok, "{args:?} worked for another user: {}", out.stdout);
        assert!(out.stderr.contains("of yours") || out.stderr.contains("only root"), "{args:?}: {}", out.stderr);
    }
    assert_eq!(server.json(&["ticket", "show", &mine])["status"], "new", "nothing changed on root's ticket");
}
