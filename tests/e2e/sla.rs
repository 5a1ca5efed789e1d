//! SLA clocks on the real clock: a server with targets of seconds records a ticket's warning and breach once each,
//! whatever time passes after, lists the ticket as breached, and opens a ticket pending until a date when it comes.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::harness::{Server, eventually};

/// Seconds, which the configuration allows so that a test can watch a clock run out: the calendar is the default,
/// all day every day, so business time is wall time here.
const CONFIG: &str = r#"
[sla]
warn_before = "3s"
pass_every = "1s"

[[sla.policy]]
name = "fast"
first_response = "6s"
"#;

fn alerts(ticket: &Value) -> Vec<(String, String)> {
    ticket["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "sla_alert")
        .map(|e| (e["clock"].as_str().unwrap().to_owned(), e["alert"].as_str().unwrap().to_owned()))
        .collect()
}

#[test]
fn a_breach_is_recorded_once_on_the_real_clock_and_the_list_shows_it() {
    let server = Server::start_with_config(CONFIG);
    let created =
        server.cli(&["ticket", "create", "--channel", "phone", "--requester", "ann", "--subject", "VPN down"]);
    assert!(created.ok, "{}", created.stderr);
    let number = created.stdout.trim().to_owned();
    let opened = Instant::now();
    let ticket = server.json(&["ticket", "show", &number]);
    let clock = &ticket["sla"][0];
    assert_eq!(
        (&clock["kind"], &clock["state"], &clock["target_ms"]),
        (&"first_response".into(), &"running".into(), &6000.into())
    );

    let breached = eventually("the breach to be recorded", Duration::from_secs(20), || {
        let ticket = server.json(&["ticket", "show", &number]);
        alerts(&ticket).iter().any(|(_, alert)| alert == "breach").then_some(ticket)
    });
    assert!(opened.elapsed() >= Duration::from_secs(6), "not before the target ran out");
    let first =
        [("first_response".to_owned(), "warning".to_owned()), ("first_response".to_owned(), "breach".to_owned())];
    assert_eq!(alerts(&breached), first);
    assert_eq!(breached["sla"][0]["state"], "breached", "{}", breached["sla"]);
    // The pass runs every second: several more passes record nothing more.
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(alerts(&server.json(&["ticket", "show", &number])), first);
    let listed = server.json(&["ticket", "list", "--sla", "breached"]);
    let numbers: Vec<String> = listed["tickets"].as_array().unwrap().iter().map(|t| t["number"].to_string()).collect();
    assert_eq!(numbers, std::slice::from_ref(&number));
    assert!(server.cli(&["ticket", "show", &number]).stdout.contains("BREACHED"));

    // A public reply meets the clock late; a new ticket answered in time records no breach.
    assert!(server.cli(&["ticket", "reply", &number, "We are on it."]).ok);
    let answered = server.json(&["ticket", "show", &number]);
    assert_eq!(answered["sla"][0]["state"], "met");
    let quick = server.cli(&["ticket", "create", "--channel", "chat", "--requester", "bo", "--subject", "Mail"]);
    let quick = quick.stdout.trim().to_owned();
    assert!(server.cli(&["ticket", "reply", &quick, "Fixed it."]).ok);
    std::thread::sleep(Duration::from_secs(8));
    let quick = server.json(&["ticket", "show", &quick]);
    assert_eq!((alerts(&quick), &quick["sla"][0]["state"]), (vec![], &"met".into()), "{}", quick["sla"]);
}

#[test]
fn a_ticket_pending_until_a_date_opens_again_by_itself_when_the_date_comes() {
    let server = Server::start_with_config(CONFIG);
    let created =
        server.cli(&["ticket", "create", "--channel", "email", "--requester", "cy", "--subject", "New laptop"]);
    let number = created.stdout.trim().to_owned();
    let waiting = server.cli(&["ticket", "status", &number, "pending-until", "--until", "3s", "--reason", "delivery"]);
    assert!(waiting.ok, "{}", waiting.stderr);
    let ticket = server.json(&["ticket", "show", &number]);
    assert_eq!((&ticket["status"], &ticket["sla"][0]["state"]), (&"pending-until".into(), &"paused".into()));
    let reopened = eventually("the ticket to open again", Duration::from_secs(15), || {
        let ticket = server.json(&["ticket", "show", &number]);
        (ticket["status"] == "open").then_some(ticket)
    });
    let last = reopened["events"].as_array().unwrap().iter().rev().find(|e| e["kind"] == "status_changed").unwrap();
    assert_eq!(
        (&last["actor_kind"], &last["from"], &last["to"]),
        (&"system".into(), &"pending-until".into(), &"open".into())
    );
    let refused = server.cli(&["ticket", "status", &number, "pending-until"]);
    assert!(!refused.ok && refused.stderr.contains("pending-until needs the date"), "{}", refused.stderr);
}
