//! The statistics through the real binaries: tickets from a machine's help request and from the phone, worked by two
//! technicians and resolved with codes; `stats technicians` and `stats education` then show exactly that, the CSV
//! says the same as the JSON, and a technician sees only their own row beside the team's.

use serde_json::Value;

use crate::harness::{Agent, Server};

/// `technician`'s row of this month in a `stats technicians --by month` answer (the default range, the last 30 days,
/// may reach into last month).
fn row<'a>(rows: &'a Value, technician: &str) -> &'a Value {
    let rows = rows.as_array().unwrap();
    let this_month = rows.iter().filter_map(|r| r["period"].as_str()).max().unwrap();
    let matching: Vec<&Value> =
        rows.iter().filter(|r| r["technician"] == technician && r["period"] == this_month).collect();
    assert_eq!(matching.len(), 1, "one row for {technician} in {rows:#?}");
    matching[0]
}

#[test]
fn stats_show_what_two_technicians_did_and_what_users_were_taught() {
    let server = Server::start();
    let agent = Agent::start(&server);
    let bob = server.add_user("bob", "1");
    let carol = server.add_user("carol", "2");
    let ok = |token: &str, args: &[&str]| {
        let out = server.cli_as(token, args);
        assert!(out.ok, "{args:?}: {}", out.stderr);
        out.stdout
    };

    // A: from the machine; bob answers once and resolves it as "user instructed".
    let a = agent.request_help("Printer prints blank pages").to_string();
    ok(&bob, &["ticket", "reply", &a, "The toner cartridge still had its seal: pull the orange tab."]);
    ok(&bob, &["ticket", "category", &a, "printing"]);
    ok(&bob, &["ticket", "status", &a, "resolved", "--code", "user-instructed"]);
    // B: a call carol answers twice before it is solved, also a lesson for the user.
    let b = ok(&carol, &["ticket", "create", "--channel", "phone", "--requester", "Dave", "--subject", "Excel"]);
    let b = b.trim();
    ok(&carol, &["ticket", "category", b, "how-to"]);
    ok(&carol, &["ticket", "reply", b, "Use Data > Text to Columns."]);
    ok(&carol, &["ticket", "reply", b, "Then choose the comma as separator."]);
    ok(&carol, &["ticket", "status", b, "resolved", "--code", "user-instructed"]);
    // C: solved during the call.
    let c = ["ticket", "create", "--channel", "phone", "--requester", "Eve", "--subject", "Locked out"];
    ok(&carol, &[&c[..], &["--resolved", "fixed-remotely"]].concat());

    let technicians = server.json(&["stats", "technicians", "--by", "month"]);
    let (bob_row, carol_row, all) = (row(&technicians, "bob"), row(&technicians, "carol"), row(&technicians, "(all)"));
    let counts = |r: &Value| {
        ["resolved", "first_contact", "reopened", "public_replies", "first_response_count"]
            .map(|k| r[k].as_u64().unwrap())
    };
    // bob: A, answered once and not reopened, so at first contact; carol: B after two replies, and C in the call.
    assert_eq!(counts(bob_row), [1, 1, 0, 1, 1], "{bob_row:#}");
    assert_eq!(counts(carol_row), [2, 1, 0, 2, 1], "{carol_row:#}");
    assert_eq!(counts(all), [3, 2, 0, 3, 2], "{all:#}");
    assert!(bob_row["resolution_wall_median_ms"].as_i64().is_some_and(|ms| ms >= 0));

    // The CSV says the same.
    let csv = server.cli(&["stats", "technicians", "--by", "month", "--csv"]);
    assert!(csv.ok, "{}", csv.stderr);
    let lines: Vec<&str> = csv.stdout.split("\r\n").filter(|l| !l.is_empty()).collect();
    let header: Vec<&str> = lines[0].split(',').collect();
    let field = |line: &str, name: &str| {
        line.split(',').nth(header.iter().position(|h| *h == name).unwrap()).unwrap().to_owned()
    };
    let carol_line = lines.iter().find(|l| l.contains(",carol,")).unwrap();
    assert_eq!(field(carol_line, "resolved"), "2");
    assert_eq!(field(carol_line, "public_replies"), "2");

    // bob sees his own row and the team's, not carol's.
    let his = server.cli_as(&bob, &["stats", "technicians", "--by", "month", "--json"]);
    let his: Value = serde_json::from_str(&his.stdout).unwrap();
    let mut names: Vec<&str> = his.as_array().unwrap().iter().map(|r| r["technician"].as_str().unwrap()).collect();
    names.dedup();
    assert_eq!(names, ["(all)", "bob"], "{his}");

    let education = server.json(&["stats", "education"]);
    let topics: Vec<(&str, u64)> = education["topics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["category"].as_str().unwrap(), t["resolved"].as_u64().unwrap()))
        .collect();
    assert_eq!(topics, [("how-to", 1), ("printing", 1)], "{education:#}");
    let flow = server.json(&["stats", "flow", "--by", "month"]);
    let created: u64 = flow.as_array().unwrap().iter().map(|r| r["created"].as_u64().unwrap()).sum();
    assert_eq!(created, 3);
    let human = server.cli(&["stats", "technicians", "--by", "month"]);
    assert!(human.ok && human.stdout.lines().next().unwrap().starts_with("period"), "{}", human.stdout);
}
