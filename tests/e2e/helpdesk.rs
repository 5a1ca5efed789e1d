//! The help desk's own work through the real binaries: tickets taken by phone, mail, chat, at the desk or from the web,
//! with the priority the matrix makes; the people they are for, found by address, by id or by a machine's account;
//! a machine linked to a call and its fresh snapshot, online or not; merged tickets and where the requester's answers
//! land; two technicians replying at once; who is on a ticket now; canned replies; and finding tickets again.

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::harness::{Agent, Server, eventually, run};

const WAIT: Duration = Duration::from_secs(30);

/// The technician CLI as the admin; the step must work. Returns what it printed.
fn ok(server: &Server, args: &[&str]) -> String {
    let out = server.cli(args);
    assert!(out.ok, "{args:?} failed: {}{}", out.stdout, out.stderr);
    out.stdout
}

/// The technician CLI as the admin; the step must be refused. Returns what it said.
fn refused(server: &Server, args: &[&str]) -> String {
    let out = server.cli(args);
    assert!(!out.ok, "{args:?} was not refused: {}", out.stdout);
    out.stderr
}

/// `ticket create` with these flags: the new number, which must be all it printed (scripts read it).
fn create(server: &Server, flags: &[&str]) -> String {
    let mut args = vec!["ticket", "create"];
    args.extend_from_slice(flags);
    let out = ok(server, &args);
    let number = out.trim();
    assert!(number.parse::<u64>().is_ok_and(|n| n > 0), "ticket create printed {out:?}, not a ticket number");
    number.to_owned()
}

fn show(server: &Server, number: &str) -> Value {
    server.json(&["ticket", "show", number])
}

/// The ticket's events of one kind, in order.
fn events<'a>(ticket: &'a Value, kind: &str) -> Vec<&'a Value> {
    ticket["events"].as_array().expect("events").iter().filter(|e| e["kind"] == kind).collect()
}

fn numbers(page: &Value) -> Vec<String> {
    page["tickets"].as_array().expect("tickets").iter().map(|t| t["number"].to_string()).collect()
}

/// The numbers `ticket list` gives with these flags, in its order.
fn listed(server: &Server, flags: &[&str]) -> Vec<String> {
    let mut args = vec!["ticket", "list"];
    args.extend_from_slice(flags);
    numbers(&server.json(&args))
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

/// Waits until the server pushed the ticket's thread to the machine: the agent answers and replies only for tickets
/// it holds.
fn wait_for_thread(agent: &Agent, number: &str) {
    eventually(&format!("ticket {number} to reach the machine"), WAIT, || {
        let mine = agent.call(&["tickets"]).stdout;
        mine.lines().any(|l| l.split_whitespace().next() == Some(number)).then_some(())
    });
}

/// The API spoken to directly, with the status of every answer.
fn api(server: &Server, token: &str, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let https = server.https();
    let url = format!("{}{path}", server.api.trim_end_matches('/'));
    let auth = format!("Bearer {token}");
    let response = match (method, body) {
        ("GET", None) => https.get(&url).header("authorization", &auth).call(),
        ("POST", Some(body)) => https
            .post(&url)
            .header("authorization", &auth)
            .header("content-type", "application/json")
            .send(body.to_string().as_bytes()),
        other => panic!("no such call in this test: {other:?}"),
    };
    let mut response = response.unwrap_or_else(|e| panic!("{method} {path}: {e}"));
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().expect("an answer body");
    let value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path} answered {status} without JSON ({e}): {text}"));
    (status, value)
}

/// A channel, its contact flags, urgency, impact, the priority the default matrix makes of them, and the type.
type ChannelCase<'a> = (&'a str, &'a [&'a str], &'a str, &'a str, &'a str, &'a str);

#[test]
fn each_channel_opens_a_ticket_with_its_channel_the_matrix_priority_category_type_and_person() {
    let server = Server::start();
    let cases: [ChannelCase; 5] = [
        ("phone", &["--phone", "+44 20 7946 0018"], "high", "high", "high", "incident"),
        ("email", &["--email", "bo@example.org"], "low", "critical", "high", "incident"),
        ("chat", &[], "critical", "critical", "critical", "incident"),
        ("on-site", &[], "high", "low", "medium", "incident"),
        ("web", &["--email", "di@example.org"], "low", "low", "low", "request"),
    ];
    let mut people = Vec::new();
    for (channel, contact, urgency, impact, priority, ticket_type) in cases {
        let requester = format!("Caller by {channel}");
        let subject = format!("Printer offline ({channel})");
        let mut flags = vec!["--channel", channel, "--requester", &requester, "--subject", &subject];
        flags.extend_from_slice(contact);
        flags.extend_from_slice(&[
            "--urgency",
            urgency,
            "--impact",
            impact,
            "--category",
            "printing",
            "--type",
            ticket_type,
        ]);
        let number = create(&server, &flags);
        let t = show(&server, &number);
        assert_eq!(t["number"].to_string(), number);
        let got = (&t["channel"], &t["urgency"], &t["impact"], &t["priority"], &t["category"], &t["type"]);
        let want = (
            &channel.into(),
            &urgency.into(),
            &impact.into(),
            &priority.into(),
            &"printing".into(),
            &ticket_type.into(),
        );
        assert_eq!(got, want, "{channel}: {t:#}");
        assert_eq!(
            (&t["status"], &t["requester"], &t["subject"]),
            (&"new".into(), &requester.as_str().into(), &subject.as_str().into())
        );
        assert_eq!(events(&t, "created").len(), 1);
        let person = t["person"].as_i64().unwrap_or_else(|| panic!("{channel}: no person on {t:#}"));
        // The requester is on record now, with what reaches them.
        let record = server.json(&["person", "show", &person.to_string()]);
        assert_eq!(record["person"]["name"], requester.as_str());
        for pair in contact.chunks(2) {
            let field = pair[0].trim_start_matches("--");
            assert_eq!(record["person"][field], pair[1], "{channel}: {record:#}");
        }
        assert_eq!(numbers(&record["tickets"]), std::slice::from_ref(&number));
        people.push(person);
    }
    people.sort_unstable();
    people.dedup();
    assert_eq!(people.len(), 5, "five different callers are five people: {people:?}");

    // Neither given: medium by medium, which the matrix makes medium.
    let plain = create(&server, &["--channel", "phone", "--requester", "Eve", "--subject", "Toner low"]);
    let t = show(&server, &plain);
    assert_eq!(
        (&t["urgency"], &t["impact"], &t["priority"], &t["type"]),
        (&"medium".into(), &"medium".into(), &"medium".into(), &"incident".into())
    );
    assert_eq!(t["category"], Value::Null);

    // What the server does not know is refused, and nothing is opened.
    let before = listed(&server, &[]);
    for (flags, says) in [
        (&["--channel", "fax", "--requester", "Fy", "--subject", "s"][..], "fax"),
        (&["--channel", "agent", "--requester", "Fy", "--subject", "s"], "help request"),
        (&["--channel", "phone", "--requester", "Fy", "--subject", "s", "--category", "plumbing"], "unknown category"),
        (&["--channel", "phone", "--requester", "Fy", "--subject", "s", "--urgency", "urgent"], "urgent"),
        (&["--channel", "email", "--requester", "Fy", "--email", "not-an-address", "--subject", "s"], "not an e-mail"),
        (&["--channel", "phone", "--subject", "nobody asked"], "requester"),
    ] {
        let mut args = vec!["ticket", "create"];
        args.extend_from_slice(flags);
        let err = refused(&server, &args);
        assert!(err.contains(says), "{flags:?}: {err}");
    }
    assert_eq!(listed(&server, &[]), before);
}

#[test]
fn a_call_solved_on_the_phone_is_resolved_at_first_contact() {
    let server = Server::start();
    let number = create(
        &server,
        &[
            "--channel",
            "phone",
            "--requester",
            "Dee",
            "--subject",
            "Cannot find the shared drive",
            "--category",
            "how-to",
            "--resolved",
            "user-instructed",
        ],
    );
    let t = show(&server, &number);
    assert_eq!((&t["status"], &t["resolution"]), (&"resolved".into(), &"user-instructed".into()), "{t:#}");
    let changes = events(&t, "status_changed");
    assert_eq!(changes.len(), 1, "{t:#}");
    let c = changes[0];
    assert_eq!(
        (&c["from"], &c["to"], &c["code"], &c["first_contact"], &c["actor"]),
        (&"new".into(), &"resolved".into(), &"user-instructed".into(), &true.into(), &"admin".into())
    );
    assert!(ok(&server, &["ticket", "show", &number]).contains("(user-instructed) at first contact"));

    // A code that is not on the help desk's list opens nothing.
    let before = listed(&server, &["--status", "resolved"]);
    let err = refused(
        &server,
        &["ticket", "create", "--channel", "phone", "--requester", "Dee", "--subject", "x", "--resolved", "magic"],
    );
    assert!(err.contains("unknown resolution code \"magic\"") && err.contains("user-instructed"), "{err}");
    assert_eq!(listed(&server, &["--status", "resolved"]), before);
    assert_eq!(listed(&server, &[]), [number]);
}

#[test]
fn a_person_on_record_gathers_their_tickets_from_every_channel_and_a_merge_brings_the_duplicates() {
    let server = Server::start();
    let ann = ok(&server, &["person", "add", "--name", "Ann", "--email", "ann@example.org"]).trim().to_owned();
    assert!(ann.parse::<u64>().is_ok(), "person add printed {ann:?}");

    // Her address finds her whatever name the caller gave, in any case; her id finds her too.
    let by_phone = create(
        &server,
        &["--channel", "phone", "--requester", "Ann Smith", "--email", "ann@example.org", "--subject", "Laptop slow"],
    );
    let by_mail = create(
        &server,
        &["--channel", "email", "--requester", "A. Smith", "--email", "ANN@example.org", "--subject", "Re: laptop"],
    );
    let by_chat = create(&server, &["--channel", "chat", "--person", &ann, "--subject", "Still slow"]);
    let bob = create(&server, &["--channel", "phone", "--requester", "Bob", "--subject", "Monitor dead"]);
    for number in [&by_phone, &by_mail, &by_chat] {
        assert_eq!(show(&server, number)["person"].to_string(), ann, "ticket {number}");
    }
    assert_eq!(show(&server, &by_mail)["requester"], "A. Smith", "the name as given stays on the ticket");
    assert_eq!(show(&server, &by_chat)["requester"], "Ann", "by id, the name on record");
    assert_ne!(show(&server, &bob)["person"].to_string(), ann);

    let hers = sorted(vec![by_phone.clone(), by_mail.clone(), by_chat.clone()]);
    assert_eq!(sorted(listed(&server, &["--requester", &ann])), hers);
    let page = server.json(&["person", "show", &ann]);
    assert_eq!((&page["person"]["name"], &page["person"]["email"]), (&"Ann".into(), &"ann@example.org".into()));
    assert_eq!(sorted(numbers(&page["tickets"])), hers);
    let shown = ok(&server, &["person", "show", &ann]);
    assert!(shown.contains(&format!("Person {ann}: Ann")) && shown.contains("e-mail ann@example.org"), "{shown}");
    for subject in ["Laptop slow", "Re: laptop", "Still slow"] {
        assert!(shown.contains(subject), "{subject} missing from:\n{shown}");
    }
    assert!(!shown.contains("Monitor dead"), "{shown}");

    // Recorded twice: the duplicate's tickets list under the record that carries on once merged.
    let dup = ok(&server, &["person", "add", "--name", "Ann S.", "--phone", "555-0100"]).trim().to_owned();
    let dups = create(&server, &["--channel", "on-site", "--person", &dup, "--subject", "Docking station"]);
    assert_eq!(sorted(listed(&server, &["--requester", &ann])), hers);
    let merged = ok(&server, &["person", "merge", &dup, "--into", &ann]);
    assert!(merged.contains(&format!("Person {ann}: Ann")), "{merged}");
    let all = sorted(vec![by_phone, by_mail, by_chat, dups.clone()]);
    assert_eq!(sorted(listed(&server, &["--requester", &ann])), all);
    assert_eq!(server.json(&["person", "show", &dup])["person"]["merged_into"].to_string(), ann);
    // A ticket for the old record now goes to the one that carries on.
    let later = create(&server, &["--channel", "web", "--person", &dup, "--subject", "Docking station again"]);
    assert_eq!(show(&server, &later)["person"].to_string(), ann);
    let err = refused(&server, &["person", "merge", &dup, "--into", &ann]);
    assert!(err.contains("already merged"), "{err}");
}

/// The address of a record merged into another (which has an address of its own) finds the one that carries on, as
/// a machine's account does; it once found nobody, and a new person was recorded.
#[test]
fn a_merged_records_address_still_finds_the_person_who_carries_on() {
    let server = Server::start();
    let ann = ok(&server, &["person", "add", "--name", "Ann", "--email", "ann@example.org"]).trim().to_owned();
    let dup =
        ok(&server, &["person", "add", "--name", "Ann Smith", "--email", "a.smith@example.org"]).trim().to_owned();
    ok(&server, &["person", "merge", &dup, "--into", &ann]);
    let number = create(
        &server,
        &["--channel", "email", "--requester", "Ann Smith", "--email", "a.smith@example.org", "--subject", "VPN"],
    );
    assert_eq!(
        show(&server, &number)["person"].to_string(),
        ann,
        "the duplicate's address should find the person it was merged into; people now: {}",
        ok(&server, &["person", "list"])
    );
}

#[test]
fn a_machines_local_user_is_a_person_and_linking_the_account_sends_their_requests_to_another() {
    let server = Server::start();
    let agent = Agent::start(&server);
    let first = agent.request_help("Word crashes on save").to_string();
    let second = agent.request_help("Word crashes again").to_string();
    let (t1, t2) = (show(&server, &first), show(&server, &second));
    let user = t1["requester"].as_str().expect("the local user asking").to_owned();
    let person = t1["person"].as_i64().unwrap_or_else(|| panic!("no person on {t1:#}")).to_string();
    assert_eq!((&t2["requester"], t2["person"].to_string()), (&user.as_str().into(), person.clone()));
    assert_eq!((&t1["channel"], &t1["agent_id"]), (&"agent".into(), &agent.id.as_str().into()));

    let record = server.json(&["person", "show", &person]);
    assert_eq!(record["person"]["name"], user.as_str(), "recorded under the local user's name");
    assert_eq!(record["person"]["accounts"], json!([{ "agent_id": agent.id, "local_user": user }]));
    assert_eq!(sorted(numbers(&record["tickets"])), sorted(vec![first.clone(), second.clone()]));
    let shown = ok(&server, &["person", "show", &person]);
    assert!(shown.contains(&format!("uses account {user} on agent {}", agent.id)), "{shown}");

    // The machine is really somebody else's: their account moves to them, and so do their next requests.
    let other = ok(&server, &["person", "add", "--name", "Frank", "--email", "frank@example.org"]).trim().to_owned();
    let linked = ok(&server, &["person", "link", &other, "--agent", &agent.id, "--user", &user]);
    assert!(linked.contains(&format!("uses account {user} on agent {}", agent.id)), "{linked}");
    let third = agent.request_help("Word crashes a third time").to_string();
    let t3 = show(&server, &third);
    assert_eq!(t3["person"].to_string(), other, "{t3:#}");
    assert_eq!(server.json(&["person", "show", &person])["person"]["accounts"], json!([]));
    let frank = server.json(&["person", "show", &other]);
    assert_eq!(frank["person"]["accounts"], json!([{ "agent_id": agent.id, "local_user": user }]));
    assert_eq!(numbers(&frank["tickets"]), [third]);
    // The earlier tickets stay with whoever they were for then.
    assert_eq!(sorted(listed(&server, &["--requester", &person])), sorted(vec![first, second]));

    let err = refused(&server, &["person", "link", &other, "--agent", "no-such-agent", "--user", &user]);
    assert!(err.contains("no agent no-such-agent"), "{err}");
}

#[test]
fn linking_a_machine_attaches_its_fresh_snapshot_now_or_when_it_comes_back() {
    let server = Server::start();
    let mut agent = Agent::start(&server);
    let agents = server.json(&["agent", "list"]);
    let row = agents.as_array().expect("agent list").iter().find(|a| a["id"] == agent.id.as_str());
    let id =
        row.map(|a| a["id"].as_str().unwrap().to_owned()).unwrap_or_else(|| panic!("{} not in {agents:#}", agent.id));
    eventually("the agent to show online", WAIT, || {
        (server.json(&["agent", "show", &id])["connected"] == true).then_some(())
    });

    // Online: the caller's machine is asked for a snapshot as the ticket opens.
    let online = create(&server, &["--channel", "phone", "--requester", "Gus", "--subject", "Slow", "--agent", &id]);
    let t = eventually("the snapshot of the linked machine", WAIT, || {
        let t = show(&server, &online);
        (!events(&t, "snapshot_attached").is_empty()).then_some(t)
    });
    let attached = events(&t, "snapshot_attached");
    assert_eq!(attached.len(), 1, "{t:#}");
    assert_eq!((&attached[0]["agent_id"], &attached[0]["actor_kind"]), (&id.as_str().into(), &"agent".into()));
    assert_eq!((&t["agent_id"], &t["snapshot_wanted"]), (&id.as_str().into(), &false.into()));
    assert!(t["snapshot"].is_object(), "{t:#}");
    // Fresh: taken for this ticket, not the one stored when the agent connected.
    assert!(t["snapshot"]["taken_at_ms"].as_i64() >= t["created_at"].as_i64(), "{t:#}");
    assert_eq!(events(&t, "linked").len(), 1);

    // Offline: it is wanted until the machine connects again.
    agent.proc.as_mut().expect("running").terminate();
    eventually("the server to see the agent gone", WAIT, || {
        (server.json(&["agent", "show", &id])["connected"] == false).then_some(())
    });
    let away = create(&server, &["--channel", "phone", "--requester", "Gus", "--subject", "Slow, still"]);
    assert_eq!(show(&server, &away)["agent_id"], Value::Null);
    ok(&server, &["ticket", "link", &away, "--agent", &id]);
    let t = show(&server, &away);
    assert_eq!(
        (&t["agent_id"], &t["snapshot_wanted"], &t["snapshot"]),
        (&id.as_str().into(), &true.into(), &Value::Null)
    );
    assert!(events(&t, "snapshot_attached").is_empty(), "{t:#}");
    let err = refused(&server, &["ticket", "link", &away, "--agent", &id]);
    assert!(err.contains("already has a machine"), "{err}");

    agent.run();
    agent.proc.as_ref().expect("running").wait_for_line("connected", WAIT);
    let t = eventually("the snapshot once the machine is back", WAIT, || {
        let t = show(&server, &away);
        (!events(&t, "snapshot_attached").is_empty()).then_some(t)
    });
    assert_eq!((&t["snapshot_wanted"], t["snapshot"].is_object()), (&false.into(), true), "{t:#}");
    assert_eq!(events(&t, "snapshot_attached")[0]["agent_id"], id.as_str());

    ok(&server, &["ticket", "unlink", &away]);
    let t = show(&server, &away);
    assert_eq!((&t["agent_id"], &t["snapshot_wanted"]), (&Value::Null, &false.into()), "{t:#}");
    assert_eq!(events(&t, "unlinked")[0]["agent_id"], id.as_str());
    let err = refused(&server, &["ticket", "unlink", &away]);
    assert!(err.contains("no machine"), "{err}");
    let err = refused(&server, &["ticket", "link", &away, "--agent", "no-such-agent"]);
    assert!(err.contains("no agent no-such-agent"), "{err}");
}

#[test]
fn a_merged_ticket_is_read_only_and_its_requesters_answer_lands_in_the_one_that_carries_on() {
    let server = Server::start();
    let agent = Agent::start(&server);
    let a = agent.request_help("Outlook crashes").to_string();
    let b = agent.request_help("Outlook crashed again").to_string();
    for n in [&a, &b] {
        wait_for_thread(&agent, n);
    }
    let merged = ok(&server, &["ticket", "merge", &a, "--into", &b]);
    assert_eq!(merged.trim(), format!("#{a} merged into #{b}"));
    let ta = show(&server, &a);
    assert_eq!((&ta["status"], ta["merged_into"].to_string()), (&"merged".into(), b.clone()), "{ta:#}");
    let err = refused(&server, &["ticket", "reply", &a, "Any news?"]);
    assert!(err.contains(&format!("merged into #{b}")), "{err}");
    assert!(!listed(&server, &[]).contains(&a), "merged tickets leave the default list");
    assert_eq!(listed(&server, &["--status", "merged"]), std::slice::from_ref(&a));

    // The requester answers on the ticket they know, from their machine.
    let answered = agent.call(&["reply", &a, "It crashed at 10:02 too"]);
    assert!(answered.ok && answered.stdout.contains("Sent"), "{}{}", answered.stdout, answered.stderr);
    let tb = eventually("the answer to land in the ticket that carries on", WAIT, || {
        let tb = show(&server, &b);
        (!events(&tb, "requester_reply").is_empty()).then_some(tb)
    });
    let replies = events(&tb, "requester_reply");
    assert_eq!(replies.len(), 1, "{tb:#}");
    assert_eq!((&replies[0]["body"], &replies[0]["from_ticket"]), (&"It crashed at 10:02 too".into(), &Value::Null));
    assert!(events(&show(&server, &a), "requester_reply").is_empty(), "the merged ticket got the answer too");

    // B's view carries A's conversation, each event marked with where it was written.
    let a_number: i64 = a.parse().unwrap();
    let from_a: Vec<&str> = tb["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["from_ticket"] == a_number)
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(from_a, ["created", "snapshot_attached", "merged_into"], "{tb:#}");
    let created_a = tb["events"].as_array().unwrap().iter().find(|e| e["from_ticket"] == a_number).unwrap();
    assert_eq!(created_a["subject"], "Outlook crashes");
    assert_eq!(events(&tb, "absorbed")[0]["from"].to_string(), a);
    let shown = ok(&server, &["ticket", "show", &b]);
    assert!(shown.contains(&format!("[#{a}] opened the ticket")), "{shown}");

    // Refused, with a reason, and nothing changes.
    let c = create(&server, &["--channel", "phone", "--requester", "Hal", "--subject", "Outlook too"]);
    let d = create(&server, &["--channel", "phone", "--requester", "Ida", "--subject", "Done and dusted"]);
    ok(&server, &["ticket", "status", &d, "resolved", "--code", "workaround"]);
    ok(&server, &["ticket", "status", &d, "closed"]);
    let versions = |server: &Server| -> Vec<Value> {
        [&a, &b, &c, &d].iter().map(|n| show(server, n)["version"].clone()).collect()
    };
    let before = versions(&server);
    for (from, into, says) in [
        (&b, &b, "cannot be merged into itself".to_owned()),
        (&c, &a, format!("ticket {a} was itself merged into {b}; merge into {b}")),
        (&c, &d, format!("ticket {d} is closed")),
        (&d, &c, "closed".to_owned()),
        (&a, &c, format!("merged into #{b}")),
    ] {
        let err = refused(&server, &["ticket", "merge", from, "--into", into]);
        assert!(err.contains(&says), "merge {from} into {into}: {err}");
    }
    assert_eq!(versions(&server), before);
    assert_eq!(show(&server, &c)["status"], "new");
}

/// A requester's answer follows a chain of merges to the ticket that carries on; it once went one step only, was
/// refused there, and was lost.
#[test]
fn an_answer_on_a_ticket_merged_twice_over_lands_in_the_last_one() {
    let server = Server::start();
    let agent = Agent::start(&server);
    let a = agent.request_help("Teams has no sound").to_string();
    let b = agent.request_help("Teams sound again").to_string();
    let c = agent.request_help("Headset not found").to_string();
    for n in [&a, &b, &c] {
        wait_for_thread(&agent, n);
    }
    ok(&server, &["ticket", "merge", &a, "--into", &b]);
    ok(&server, &["ticket", "merge", &b, "--into", &c]);
    let answered = agent.call(&["reply", &a, "The headset works on my phone"]);
    assert!(answered.ok, "the requester's answer was refused (and dropped): {}{}", answered.stdout, answered.stderr);
    eventually("the answer to land in the last ticket", Duration::from_secs(15), || {
        let tc = show(&server, &c);
        let found = events(&tc, "requester_reply").iter().any(|e| e["body"] == "The headset works on my phone");
        found.then_some(())
    });
}

#[test]
fn two_technicians_replying_at_once_one_wins_and_the_other_is_shown_what_they_missed() {
    let server = Server::start();
    let tina = server.add_user("tina", "1");
    let uma = server.add_user("uma", "1");
    let number = create(&server, &["--channel", "chat", "--requester", "Jo", "--subject", "Password expired"]);
    let version_seen_by = |token: &str| {
        let out = server.cli_as(token, &["ticket", "show", &number, "--json"]);
        assert!(out.ok, "{}", out.stderr);
        serde_json::from_str::<Value>(&out.stdout).unwrap()["version"].as_i64().expect("a version")
    };
    let v = version_seen_by(&tina);
    assert_eq!(version_seen_by(&uma), v);
    let v = v.to_string();

    // Both send at the same moment against the version they read.
    let reply = |token: &str, text: &str| -> Command {
        server.cli_command(token, &["ticket", "reply", &number, text, "--version", &v])
    };
    let (tinas, umas) = (reply(&tina, "Reset it at id.example.org"), reply(&uma, "I have reset it for you"));
    let (tinas, umas) = std::thread::scope(|s| {
        let t = s.spawn(move || run(tinas));
        let u = s.spawn(move || run(umas));
        (t.join().unwrap(), u.join().unwrap())
    });
    assert!(tinas.ok != umas.ok, "exactly one wins: tina {} / uma {}", tinas.stderr, umas.stderr);
    let (winner, loser, loser_token, won_text, lost_text) = if tinas.ok {
        ("tina", umas, &uma, "Reset it at id.example.org", "I have reset it for you")
    } else {
        ("uma", tinas, &tina, "I have reset it for you", "Reset it at id.example.org")
    };
    assert!(loser.stderr.contains("409") && loser.stderr.contains("missed: "), "{}", loser.stderr);
    assert!(loser.stderr.contains(won_text) && loser.stderr.contains(winner), "{}", loser.stderr);
    let t = show(&server, &number);
    let bodies: Vec<&Value> = events(&t, "public_reply").iter().map(|e| &e["body"]).collect();
    assert_eq!(bodies, [won_text], "the refused reply was not stored");

    // Having read it, they send theirs anyway; the audit log records that it was forced.
    let forced = server.cli_as(loser_token, &["ticket", "reply", &number, lost_text, "--version", &v, "--force"]);
    assert!(forced.ok, "{}", forced.stderr);
    let t = show(&server, &number);
    let bodies: Vec<&Value> = events(&t, "public_reply").iter().map(|e| &e["body"]).collect();
    assert_eq!(bodies, [won_text, lost_text]);
    let forced_writes: i64 = server
        .sql()
        .query_row("SELECT COUNT(*) FROM audit WHERE action = 'ticket.forced-write'", [], |r| r.get(0))
        .unwrap();
    assert_eq!(forced_writes, 1);

    // An internal note since is nothing the requester saw: a reply against the version before it goes through.
    let now = t["version"].to_string();
    ok(&server, &["ticket", "note", &number, "she called back twice"]);
    let after_note = server.cli_as(&tina, &["ticket", "reply", &number, "Did that work?", "--version", &now]);
    assert!(after_note.ok, "{}", after_note.stderr);

    // The same through the API itself: 201 for the first, 409 with the events missed for the second.
    let path = format!("/api/tickets/{number}");
    let (status, seen) = api(&server, &tina, "GET", &path, None);
    assert_eq!(status, 200, "{seen}");
    let v = seen["version"].as_i64().unwrap();
    let act = format!("{path}/actions?version={v}");
    let (status, first) = api(&server, &tina, "POST", &act, Some(json!({ "action": "reply", "body": "first in" })));
    assert_eq!(status, 201, "{first}");
    assert_eq!(first["version"].as_i64(), Some(v + 1));
    let (status, second) = api(&server, &uma, "POST", &act, Some(json!({ "action": "reply", "body": "second" })));
    assert_eq!(status, 409, "{second}");
    assert!(second["error"].as_str().is_some_and(|e| e.contains("public event")), "{second}");
    let missed = second["missed"].as_array().expect("missed events");
    assert_eq!(missed.len(), 1, "{second}");
    assert_eq!(
        (&missed[0]["kind"], &missed[0]["body"], &missed[0]["actor"], &missed[0]["actor_kind"]),
        (&"public_reply".into(), &"first in".into(), &"tina".into(), &"technician".into())
    );
    assert_eq!(show(&server, &number)["version"].as_i64(), Some(v + 1), "the refused reply stored nothing");
}

#[test]
fn presence_shows_who_is_on_a_ticket_and_forgets_them_a_minute_after_their_last_heartbeat_takes_over_a_minute() {
    let server = Server::start();
    let tina = server.add_user("tina", "1");
    let uma = server.add_user("uma", "1");
    let number = create(&server, &["--channel", "phone", "--requester", "Kim", "--subject", "Scanner"]);
    let path = format!("/api/tickets/{number}/presence");
    let beat = |token: &str, state: &str| -> Vec<(String, String)> {
        let (status, on) = api(&server, token, "POST", &path, Some(json!({ "state": state })));
        assert_eq!(status, 200, "{on}");
        who(&on)
    };
    let on_ticket = || {
        let (status, t) = api(&server, &server.admin_token, "GET", &format!("/api/tickets/{number}"), None);
        assert_eq!(status, 200, "{t}");
        who(&t["presence"])
    };
    let both = vec![("tina".to_owned(), "viewing".to_owned()), ("uma".to_owned(), "drafting".to_owned())];

    assert_eq!(beat(&tina, "viewing"), [both[0].clone()]);
    assert_eq!(beat(&uma, "drafting"), both, "the heartbeat answers who is on it now");
    let uma_last = Instant::now();
    assert_eq!(on_ticket(), both);
    let shown = ok(&server, &["ticket", "show", &number]);
    assert!(shown.contains("tina is viewing now") && shown.contains("uma is drafting now"), "{shown}");
    let (status, bad) = api(&server, &tina, "POST", &path, Some(json!({ "state": "typing" })));
    assert_eq!(status, 422, "{bad}");

    // Tina's console keeps beating every 20 s; Uma's went quiet. Bounded: at most four sleeps of at most 20 s.
    let gone_after = Duration::from_secs(61);
    while uma_last.elapsed() < gone_after {
        std::thread::sleep(Duration::from_secs(20).min(gone_after.saturating_sub(uma_last.elapsed())));
        let on = beat(&tina, "viewing");
        if uma_last.elapsed() < Duration::from_secs(55) {
            assert_eq!(on, both, "still within the minute at {:?}", uma_last.elapsed());
        }
    }
    assert_eq!(on_ticket(), [both[0].clone()], "uma's last heartbeat was {:?} ago", uma_last.elapsed());
}

/// Who a presence list names, and doing what.
fn who(list: &Value) -> Vec<(String, String)> {
    list.as_array()
        .unwrap_or_else(|| panic!("no presence list: {list}"))
        .iter()
        .map(|p| (p["user"].as_str().unwrap().to_owned(), p["state"].as_str().unwrap().to_owned()))
        .collect()
}

#[test]
fn a_canned_reply_is_filled_in_for_the_ticket_and_a_misspelt_placeholder_is_refused_when_saved() {
    let server = Server::start();
    let saved = ok(&server, &["canned", "save", "greet", "Hello {requester.name}, about #{ticket.number}"]);
    assert_eq!(saved.trim(), "saved canned reply greet");
    let number = create(&server, &["--channel", "email", "--requester", "Lena Park", "--subject", "Shared mailbox"]);
    ok(&server, &["ticket", "reply", &number, "--template", "greet"]);
    let t = show(&server, &number);
    let replies = events(&t, "public_reply");
    assert_eq!(replies.len(), 1, "{t:#}");
    assert_eq!(replies[0]["body"], format!("Hello Lena Park, about #{number}"));

    let both = refused(&server, &["ticket", "reply", &number, "Hi", "--template", "greet"]);
    assert!(both.contains("not both"), "{both}");
    let missing = refused(&server, &["ticket", "reply", &number, "--template", "nope"]);
    assert!(missing.contains("no canned reply \"nope\""), "{missing}");

    let bad = refused(&server, &["canned", "save", "bad", "Hi {requester.nmae}"]);
    assert!(bad.contains("unknown placeholder {requester.nmae}"), "{bad}");
    for known in [
        "{requester.name}",
        "{requester.email}",
        "{ticket.number}",
        "{ticket.subject}",
        "{ticket.status}",
        "{machine.host}",
        "{technician.name}",
    ] {
        assert!(bad.contains(known), "{known} missing from: {bad}");
    }
    let names: Vec<Value> =
        server.json(&["canned", "list"]).as_array().unwrap().iter().map(|c| c["name"].clone()).collect();
    assert_eq!(names, ["greet"]);
    assert!(!ok(&server, &["canned", "list"]).contains("bad"));
    assert_eq!(events(&show(&server, &number), "public_reply").len(), 1, "the refused replies stored nothing");
}

#[test]
fn tickets_are_found_by_channel_priority_words_and_assignee_sorted_and_paged_without_gaps_or_repeats() {
    let server = Server::start();
    server.add_user("tina", "1");
    let mut made = Vec::new();
    for (channel, urgency, impact, category, subject, description) in [
        ("phone", "high", "high", "printing", "Printer jams on tray 2", "paper everywhere"),
        ("email", "low", "low", "email", "Mailbox full", "quota exceeded"),
        ("email", "critical", "critical", "email", "Mail server down", "nobody gets mail"),
        ("chat", "medium", "medium", "network", "VPN slow", "like a zeppelin in a headwind"),
        ("on-site", "high", "medium", "hardware", "Monitor flickers", "second screen"),
        ("web", "low", "medium", "software", "New laptop wanted", "for the intern"),
    ] {
        made.push(create(
            &server,
            &[
                "--channel",
                channel,
                "--requester",
                "Max",
                "--subject",
                subject,
                "--description",
                description,
                "--urgency",
                urgency,
                "--impact",
                impact,
                "--category",
                category,
            ],
        ));
    }
    let n = |i: usize| made[i - 1].clone();

    assert_eq!(sorted(listed(&server, &["--channel", "email"])), sorted(vec![n(2), n(3)]));
    assert_eq!(sorted(listed(&server, &["--priority", "high"])), sorted(vec![n(1), n(5)]));
    assert_eq!(listed(&server, &["--channel", "email", "--priority", "critical"]), [n(3)]);
    assert_eq!(listed(&server, &["--category", "printing"]), [n(1)]);
    assert_eq!(listed(&server, &["--text", "zeppelin"]), [n(4)]);
    assert_eq!(listed(&server, &["--text", "ZEPPELIN headwind"]), [n(4)], "every word, in any case");
    assert_eq!(listed(&server, &["--text", "zeppelin mailbox"]), Vec::<String>::new());

    ok(&server, &["ticket", "assign", &n(1), "admin"]);
    ok(&server, &["ticket", "assign", &n(3), "admin"]);
    ok(&server, &["ticket", "assign", &n(5), "tina"]);
    assert_eq!(sorted(listed(&server, &["--assignee", "me"])), sorted(vec![n(1), n(3)]));
    assert_eq!(listed(&server, &["--assignee", "tina"]), [n(5)]);
    assert_eq!(sorted(listed(&server, &["--assignee", "none"])), sorted(vec![n(2), n(4), n(6)]));
    // A reply's words are found too.
    ok(&server, &["ticket", "reply", &n(6), "The quartermaster has one in stock"]);
    assert_eq!(listed(&server, &["--text", "quartermaster"]), [n(6)]);

    // Most urgent first; the newest first among equals.
    let by_priority = vec![n(3), n(5), n(1), n(4), n(6), n(2)];
    assert_eq!(listed(&server, &["--sort", "priority"]), by_priority);

    // Pages of two, following `next`, visit each ticket once, in the order of the whole list; a page boundary falls
    // between the two high tickets, which share their sort key.
    for sort in ["updated", "priority", "created"] {
        let whole = listed(&server, &["--sort", sort]);
        assert_eq!(whole.len(), 6);
        let (mut seen, mut after, mut pages) = (Vec::new(), None::<String>, 0);
        loop {
            pages += 1;
            assert!(pages <= 6, "more pages than tickets: {seen:?}");
            let mut args = vec!["ticket", "list", "--sort", sort, "--limit", "2"];
            if let Some(a) = &after {
                args.extend_from_slice(&["--after", a]);
            }
            let page = server.json(&args);
            let got = numbers(&page);
            assert!(got.len() <= 2, "{page:#}");
            seen.extend(got);
            match page["next"].as_str() {
                Some(next) => after = Some(next.to_owned()),
                None => break,
            }
        }
        assert_eq!(seen, whole, "paging by {sort}");
        assert_eq!(pages, 3, "paging by {sort}");
    }

    // The human list says how to get the next page, with the same cursor.
    let page = server.json(&["ticket", "list", "--limit", "2"]);
    let next = page["next"].as_str().expect("a next page");
    let human = ok(&server, &["ticket", "list", "--limit", "2"]);
    assert!(human.lines().any(|l| l == format!("more: add --after {next}")), "{human}");
    assert!(!ok(&server, &["ticket", "list", "--limit", "6"]).contains("more:"));

    let err = refused(&server, &["ticket", "list", "--priority", "urgent"]);
    assert!(err.contains("unknown priority \"urgent\"; one of low, medium, high, critical"), "{err}");
    let err = refused(&server, &["ticket", "list", "--after", "somewhere"]);
    assert!(err.contains("not one this server gave"), "{err}");
}
