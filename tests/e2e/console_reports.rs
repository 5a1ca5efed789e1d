//! The console's reports in a real headless Chromium, against the real server: two technicians' work done through the
//! CLI, then a manager's page with every technician's row and a technician's with only their own and the team's. A
//! count's link leads to the queue listing exactly the tickets behind it, a report's CSV link answers the API's CSV
//! with the same numbers as the table, and the period picker changes the figures. Every page is checked by axe-core
//! and screenshotted under `target/console-screens/`, and none may make the browser report a CSP violation.

use std::collections::BTreeSet;

use lifeline_server::desk::reports::from_csv;
use serde_json::json;

use crate::browser::Browser;
use crate::console::{csp_reports, log_in, look_at, person};
use crate::harness::{Server, field, run, server_cmd};

/// An account with a password for the browser and an API token for the CLI.
fn account(server: &Server, name: &str, tier: &str) -> (String, String) {
    let out = run(server_cmd(server.dir.path(), &["user", "add", name, "--tier", tier]));
    assert!(out.ok, "user add {name} failed: {}", out.stderr);
    (field(&out.stdout, "password:"), field(&out.stdout, "API token:"))
}

/// What the technicians did, by ticket number.
struct Work {
    /// bob's password, for the browser.
    bob: String,
    /// alice's: answered then resolved, and solved during the call.
    printer: i64,
    password: i64,
    /// bob's: answered then resolved, and one left open.
    vpn: i64,
    fan: i64,
}

fn work(server: &Server) -> Work {
    let alice = account(server, "alice", "1");
    let bob = account(server, "bob", "1");
    let ok = |token: &str, args: &[&str]| {
        let out = server.cli_as(token, args);
        assert!(out.ok, "{args:?}: {}", out.stderr);
        out.stdout.trim().to_owned()
    };
    let create = |token: &str, subject: &str, more: &[&str]| -> i64 {
        let args = [&["ticket", "create", "--channel", "phone", "--requester", "Uma", "--subject", subject][..], more];
        let out = ok(token, &args.concat());
        out.parse().unwrap_or_else(|_| panic!("no number in {out:?}"))
    };
    let printer = create(&alice.1, "Printer offline", &[]);
    ok(&alice.1, &["ticket", "reply", &printer.to_string(), "It is back: the cable was out."]);
    ok(&alice.1, &["ticket", "status", &printer.to_string(), "resolved", "--code", "fixed-remotely"]);
    let password = create(&alice.1, "Password reset", &["--resolved", "fixed-remotely"]);
    let vpn = create(&bob.1, "VPN drops", &[]);
    ok(&bob.1, &["ticket", "reply", &vpn.to_string(), "A new profile is on its way."]);
    ok(&bob.1, &["ticket", "status", &vpn.to_string(), "resolved", "--code", "fixed-remotely"]);
    let fan = create(&bob.1, "Laptop fan loud", &[]);
    Work { bob: bob.0, printer, password, vpn, fan }
}

/// A table of the page as its cells' texts, row by row.
fn table(browser: &Browser, name: &str) -> Vec<Vec<String>> {
    let script = format!(
        "return [...document.querySelectorAll('table[data-table={name}] tbody tr')]
            .map(tr => [...tr.children].map(c => c.textContent.trim()));"
    );
    serde_json::from_value(browser.execute(&script, vec![])).expect("rows of texts")
}

/// The technicians' rows of the last period: each one's name and counts (resolved, first contact, reopened, public
/// replies, first responses).
fn last_period(browser: &Browser) -> Vec<(String, [String; 5])> {
    let rows = table(browser, "technicians");
    let last = rows.iter().map(|r| r[0].clone()).max().expect("a period");
    rows.into_iter()
        .filter(|r| r[0] == last)
        .map(|r| (r[1].clone(), [r[2].clone(), r[3].clone(), r[4].clone(), r[5].clone(), r[6].clone()]))
        .collect()
}

/// Follows the link of the count in `column` (0 the first) of the row of `table` whose header cells hold `row`, as
/// a reader clicks it, and returns its address.
fn follow(browser: &Browser, table: &str, row: &[&str], column: usize) -> String {
    let script = format!(
        "const row = [...document.querySelectorAll('table[data-table={table}] tbody tr')]
            .filter(tr => JSON.stringify([...tr.querySelectorAll('th')].map(c => c.textContent.trim())) === arguments[0]);
        if (row.length !== 1) return 'rows: ' + row.length;
        const link = row[0].children[{column}].querySelector('a');
        if (!link) return 'no link';
        const href = link.getAttribute('href');
        link.click();
        return href;"
    );
    let row = serde_json::to_string(row).expect("JSON");
    let href = browser.execute(&script, vec![json!(row)]);
    let href = href.as_str().unwrap_or_default().to_owned();
    assert!(href.starts_with("/reports/tickets?"), "{table} {row}: {href}");
    href
}

/// The tickets the queue shows now, which must be those its address asks for by number.
fn queue_numbers(browser: &Browser) -> BTreeSet<i64> {
    browser.wait_for("#results");
    let url = browser.current_url();
    let asked: BTreeSet<i64> = url
        .split_once("/queue?numbers=")
        .map(|(_, list)| list.split("%2C").map(|n| n.parse().expect("a number")).collect())
        .unwrap_or_else(|| panic!("not the queue by numbers: {url}"));
    let hrefs = browser.execute(
        "return [...document.querySelectorAll('#results tr[data-row] a[href^=\"/tickets/\"]')].map(a => a.getAttribute('href'));",
        vec![],
    );
    let shown: BTreeSet<i64> = hrefs
        .as_array()
        .expect("hrefs")
        .iter()
        .map(|h| h.as_str().and_then(|h| h.strip_prefix("/tickets/")).and_then(|n| n.parse().ok()).expect("a number"))
        .collect();
    assert_eq!(shown, asked, "the queue at {url}");
    shown
}

/// What a link of the page answers when the page itself fetches it, with the session cookie as the browser sends it.
fn fetch(browser: &Browser, href: &str) -> (String, String) {
    let answer = browser.execute_async(
        "const done = arguments[arguments.length - 1];
        fetch(arguments[0]).then(r => r.text().then(t => done([String(r.status) + ' ' + r.headers.get('content-type'), t])),
            e => done(['failed', String(e)]));",
        vec![json!(href)],
    );
    let answer: (String, String) = serde_json::from_value(answer).expect("status and text");
    answer
}

#[test]
fn a_reports_figure_drills_into_the_queue_and_its_csv_and_periods_agree() {
    let server = Server::start();
    let w = work(&server);
    let manager = person(&server, "meg", "manager");
    let browser = Browser::new();
    log_in(&browser, &server, "meg", &manager);
    browser.click("nav a[href='/reports']");
    browser.wait_for("table[data-table=technicians]");

    // Both technicians' rows, and the team's: alice resolved two (one at first contact, in the call), bob one.
    let counts = |c: [&str; 5]| c.map(str::to_owned);
    let mut rows = last_period(&browser);
    rows.sort();
    assert_eq!(
        rows,
        [
            ("Whole team".to_owned(), counts(["3", "3", "0", "2", "2"])),
            ("alice".to_owned(), counts(["2", "2", "0", "1", "1"])),
            ("bob".to_owned(), counts(["1", "1", "0", "1", "1"])),
        ]
    );
    assert!(!browser.exists("#technicians .note"), "a manager was told they see only their own row");
    let backlog = table(&browser, "backlog");
    assert_eq!(backlog.last().map(|r| r[..3].to_vec()), Some(vec!["All tiers".into(), "1".into(), "1".into()]));
    let flow = table(&browser, "flow");
    assert_eq!(flow.last().map(|r| r[1..].to_vec()), Some(vec!["4".into(), "3".into()]), "{flow:?}");
    assert_eq!(browser.attr("#flow svg.chart", "role").as_deref(), Some("img"));
    look_at(&browser, "reports");

    // A count's link leads to the queue with exactly the tickets behind it.
    let period = table(&browser, "technicians").iter().map(|r| r[0].clone()).max().expect("a period");
    let alices = follow(&browser, "technicians", &[&period, "alice"], 2);
    assert_eq!(queue_numbers(&browser), BTreeSet::from([w.printer, w.password]));
    look_at(&browser, "reports-drilled-queue");
    browser.goto(&format!("{}/reports", server.api));
    follow(&browser, "technicians", &[&period, "bob"], 5);
    assert_eq!(queue_numbers(&browser), BTreeSet::from([w.vpn]), "the tickets bob replied to");
    browser.goto(&format!("{}/reports", server.api));
    follow(&browser, "backlog", &["All tiers"], 1);
    assert_eq!(queue_numbers(&browser), BTreeSet::from([w.fan]), "the one ticket open");
    browser.goto(&format!("{}/reports", server.api));
    follow(&browser, "flow", &[&flow.last().expect("a period")[0]], 2);
    assert_eq!(queue_numbers(&browser), BTreeSet::from([w.printer, w.password, w.vpn]), "the resolved ones");

    // The CSV link is the API's own CSV, read with the session cookie, and it says what the table says.
    browser.goto(&format!("{}/reports", server.api));
    browser.wait_for("table[data-table=technicians]");
    let href = browser.attr("#technicians a.csv", "href").expect("a CSV link");
    assert!(href.contains("/api/stats/technicians?") && href.contains("format=csv"), "{href}");
    let (status, text) = fetch(&browser, &href);
    assert!(status.starts_with("200 text/csv"), "{status}: {text}");
    let records = from_csv(&text).expect("CSV");
    let header = &records[0];
    let col = |name: &str| header.iter().position(|h| h == name).unwrap_or_else(|| panic!("no {name} in {header:?}"));
    let columns = ["resolved", "first_contact", "reopened", "public_replies", "first_response_count"].map(col);
    let from_csv: Vec<Vec<String>> = records[1..]
        .iter()
        .map(|r| {
            let name = if r[col("technician")] == "(all)" { "Whole team" } else { &r[col("technician")] };
            [r[col("period")].clone(), name.to_owned()].into_iter().chain(columns.map(|c| r[c].clone())).collect()
        })
        .collect();
    let from_page: Vec<Vec<String>> = table(&browser, "technicians").into_iter().map(|r| r[..7].to_vec()).collect();
    assert_eq!(from_csv, from_page);
    assert!(from_csv.iter().any(|r| r[1] == "alice" && r[2] == "2"), "{from_csv:?}");
    let (status, _) = fetch(&browser, &browser.attr("#flow a.csv", "href").expect("a CSV link"));
    assert!(status.starts_with("200 text/csv"), "{status}");

    // Another range: nothing happened in January 2020, and the page says so.
    browser.execute(
        "document.querySelector('#from').value = '2020-01-01'; document.querySelector('#to').value = '2020-02-01';
        document.querySelector('#by').value = 'month';",
        vec![],
    );
    browser.click("#period button[type=submit]");
    browser.wait_until("the picked range", "location.search.includes('from=2020-01-01')");
    browser.wait_for("table[data-table=technicians]");
    assert_eq!(
        table(&browser, "technicians"),
        [["2020-01", "Whole team", "0", "0", "0", "0", "0", "– / –", "– / –", "– / –", "– / –"]]
    );
    assert_eq!(table(&browser, "flow"), [["2020-01", "0", "0"]]);
    assert!(browser.text("#showing").contains("2020-01-01 00:00"), "{}", browser.text("#showing"));
    assert_eq!(browser.attr("#from", "value").as_deref(), Some("2020-01-01"));
    assert!(!browser.exists("#technicians tbody a"), "a count of nothing links somewhere");
    look_at(&browser, "reports-empty-range");
    // And back to the last 30 days by days: the figures come back, a day to a row.
    browser.click("#period a[href='/reports']");
    browser.wait_for("table[data-table=technicians]");
    browser.execute("document.querySelector('#by').value = 'day';", vec![]);
    browser.click("#period button[type=submit]");
    browser.wait_until("days", "location.search.includes('by=day')");
    assert_eq!(table(&browser, "flow").len(), 31, "30 days, clipped at both ends");
    assert_eq!(last_period(&browser).len(), 3);

    // A count of another figure, asked for by hand with a field it has not: refused, saying why.
    browser.goto(&format!("{}{}&colour=red", server.api, alices));
    assert!(browser.wait_for(".error .problem").contains("\"colour\""), "{}", browser.text(".error"));
    assert_eq!(csp_reports(&server), 0, "the browser reported CSP violations");
    let errors: Vec<String> = browser
        .console_errors()
        .into_iter()
        .filter(|e| !e.contains("Failed to load resource: the server responded with a status of 400"))
        .collect();
    assert!(errors.is_empty(), "the page logged errors: {errors:?}");
}

#[test]
fn a_technician_sees_their_own_row_and_the_teams_and_drills_into_no_one_elses() {
    let server = Server::start();
    let w = work(&server);
    let manager = person(&server, "meg", "manager");
    let browser = Browser::new();

    // The manager's link to alice's resolutions, to try as bob.
    log_in(&browser, &server, "meg", &manager);
    browser.goto(&format!("{}/reports", server.api));
    browser.wait_for("table[data-table=technicians]");
    let period = table(&browser, "technicians").iter().map(|r| r[0].clone()).max().expect("a period");
    let alices = follow(&browser, "technicians", &[&period, "alice"], 2);
    browser.click("form[action='/logout'] button");

    log_in(&browser, &server, "bob", &w.bob);
    browser.click("nav a[href='/reports']");
    browser.wait_for("table[data-table=technicians]");
    let names: BTreeSet<String> = table(&browser, "technicians").into_iter().map(|r| r[1].clone()).collect();
    assert_eq!(names, BTreeSet::from(["Whole team".to_owned(), "bob".to_owned()]));
    let mut rows = last_period(&browser);
    rows.sort();
    let counts = |c: [&str; 5]| c.map(str::to_owned);
    assert_eq!(
        rows,
        [
            ("Whole team".to_owned(), counts(["3", "3", "0", "2", "2"])),
            ("bob".to_owned(), counts(["1", "1", "0", "1", "1"]))
        ]
    );
    assert!(browser.text("#technicians .note").contains("your own row"));
    assert_eq!(browser.execute("return document.querySelector('main').textContent.includes('alice');", vec![]), false);
    look_at(&browser, "reports-technician");

    // The team's count is his to follow; alice's is not, even by its address.
    follow(&browser, "technicians", &[&period, "Whole team"], 2);
    assert_eq!(queue_numbers(&browser), BTreeSet::from([w.printer, w.password, w.vpn]));
    browser.goto(&format!("{}{alices}", server.api));
    assert_eq!(browser.wait_for(".error .problem"), "No ticket is behind this figure now.");
    // Nor is alice's row in the API's CSV he can fetch.
    browser.goto(&format!("{}/reports", server.api));
    let (status, text) = fetch(&browser, &browser.attr("#technicians a.csv", "href").expect("a CSV link"));
    assert!(status.starts_with("200 text/csv"), "{status}");
    let names: BTreeSet<String> = from_csv(&text).expect("CSV")[1..].iter().map(|r| r[1].clone()).collect();
    assert_eq!(names, BTreeSet::from(["(all)".to_owned(), "bob".to_owned()]));
    assert_eq!(csp_reports(&server), 0, "the browser reported CSP violations");
}
