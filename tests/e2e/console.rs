//! The web console in a real headless Chromium, against the real server and a real enrolled agent: logging in,
//! the queue's filters, a real help request's findings and snapshot, a reply that reaches the requester's machine and
//! a note that does not, a race shown with what was missed, the keyboard alone, hostile text from a machine and its
//! user, forged writes, the language. Every page is checked by axe-core (WCAG 2.1 A and AA) and screenshotted under
//! `target/console-screens/`, and no page may make the browser report a Content-Security-Policy violation.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use crate::browser::{Browser, Key};
use crate::harness::{Agent, Proc, Server, bin, eventually, field, run, server_cmd};

/// An account with a password, for logging in through the form.
pub(crate) fn person(server: &Server, name: &str, tier: &str) -> String {
    let out = run(server_cmd(server.dir.path(), &["user", "add", name, "--tier", tier]));
    assert!(out.ok, "user add {name} failed: {}", out.stderr);
    field(&out.stdout, "password:")
}

pub(crate) fn log_in(browser: &Browser, server: &Server, name: &str, password: &str) {
    browser.goto(&format!("{}/", server.api));
    browser.wait_for("form[action='/login']");
    browser.fill("#user", name);
    browser.fill("#password", password);
    browser.click("form[action='/login'] button[type=submit]");
    browser.wait_for("#filters");
}

/// What browsers reported the console's policy blocked, as the server counted it.
pub(crate) fn csp_reports(server: &Server) -> u64 {
    let mut answer = server
        .https()
        .get(format!("{}/metrics", server.api))
        .header("Authorization", format!("Bearer {}", server.admin_token))
        .call()
        .expect("GET /metrics");
    let text = answer.body_mut().read_to_string().expect("metrics text");
    let line = text.lines().find(|l| l.starts_with("lifeline_console_csp_reports_total ")).expect("the CSP counter");
    line.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok()).expect("a number") as u64
}

/// Checks the page shown now with axe and saves its screenshot as `name`.
pub(crate) fn look_at(browser: &Browser, name: &str) {
    browser.screenshot(name);
    browser.assert_accessible(name);
}

fn ticket_json(server: &Server, number: i64) -> Value {
    server.json(&["ticket", "show", &number.to_string()])
}

fn bodies(ticket: &Value, kind: &str) -> Vec<String> {
    ticket["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["kind"] == kind)
        .map(|e| e["body"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[test]
fn a_technician_logs_in_filters_the_queue_and_answers_a_real_help_request() {
    let server = Server::start();
    let agent = Agent::start(&server);
    let password = person(&server, "tina", "1");
    let number = agent.request_help("The printer jams on page two");
    let phoned =
        server.cli(&["ticket", "create", "--channel", "phone", "--requester", "Bob", "--subject", "VPN drops"]);
    assert!(phoned.ok, "{}", phoned.stderr);
    let browser = Browser::new();

    // Not signed in: the login page, which comes back to the queue.
    browser.goto(&format!("{}/queue", server.api));
    browser.wait_for("form[action='/login']");
    look_at(&browser, "login");
    browser.fill("#user", "tina");
    browser.fill("#password", "not her password");
    browser.click("form[action='/login'] button[type=submit]");
    assert_eq!(browser.wait_for(".problem"), "Wrong user name or password.");
    browser.fill("#password", &password);
    browser.click("form[action='/login'] button[type=submit]");
    browser.wait_for("table.queue");
    assert!(browser.current_url().ends_with("/queue"), "{}", browser.current_url());
    let subjects = browser.texts("tr[data-row] .subject");
    assert_eq!(subjects.len(), 2, "{subjects:?}");
    look_at(&browser, "queue");

    // The text filter, as the API's: htmx swaps the results in place and the address says the filter.
    browser.fill("#text", "printer");
    browser.wait_until(
        "the queue to show the one printer ticket",
        "document.querySelectorAll('tr[data-row]').length === 1",
    );
    assert_eq!(browser.texts("tr[data-row] .subject"), ["The printer jams on page two"]);
    browser.wait_until("the address to carry the filter", "location.search.includes('text=printer')");
    browser.execute(
        "document.querySelector('#channel').value = 'phone'; document.querySelector('#text').value = '';
        document.querySelector('#filters').requestSubmit();",
        vec![],
    );
    browser.wait_until(
        "the queue to show the phoned ticket",
        "[...document.querySelectorAll('tr[data-row] .subject')].map(e => e.textContent).join() === 'VPN drops'",
    );
    browser.goto(&format!("{}/queue?status=new&channel=agent", server.api));
    assert_eq!(browser.texts("tr[data-row] .subject"), ["The printer jams on page two"]);

    // The ticket: the findings the API gives, in its order, then the snapshot of this very machine.
    browser.click("tr[data-row] a");
    browser.wait_for("#findings-h");
    let api = ticket_json(&server, number);
    let findings: Vec<String> = api["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| f["summary"].as_str().unwrap().to_owned())
        .collect();
    if findings.is_empty() {
        assert_eq!(browser.text(".findings p"), "Nothing looks wrong in the machine's snapshot.");
    } else {
        assert_eq!(browser.texts(".findings li strong"), findings);
    }
    let hostname = api["snapshot"]["host"]["hostname"].as_str().expect("a snapshot's hostname").to_owned();
    assert!(browser.text(".snapshot p").starts_with(&hostname), "{}", browser.text(".snapshot p"));
    assert!(browser.texts(".snapshot table caption").contains(&"Disks".to_owned()));
    look_at(&browser, "ticket");

    // A reply reaches the requester's machine; a note stays on the desk's side.
    browser.fill("#body", "Please take the paper out of tray 2 and try again.");
    browser.click("#send-reply");
    browser.wait_until(
        "the reply on the page",
        "[...document.querySelectorAll('.entry.public .body')].some(e => e.textContent.includes('tray 2'))",
    );
    browser.fill("#body", "Internal: the toner supplier is late this week.");
    browser.click("#send-note");
    browser.wait_for(".entry.internal");
    assert!(browser.text(".entry.internal .kind").contains("Internal note"));
    let thread = |agent: &Agent| agent.call(&["tickets", &number.to_string()]).stdout;
    eventually("the reply to reach the agent", Duration::from_secs(20), || {
        thread(&agent).contains("tray 2").then_some(())
    });
    // A later public change is pushed with the whole public thread: the note is not in it.
    browser.fill("#body", "Did that help?");
    browser.click("#send-reply");
    eventually("the second reply to reach the agent", Duration::from_secs(20), || {
        thread(&agent).contains("Did that help?").then_some(())
    });
    assert!(!thread(&agent).contains("toner"), "a note reached the requester:\n{}", thread(&agent));
    let stored = ticket_json(&server, number);
    assert_eq!(bodies(&stored, "internal_note"), ["Internal: the toner supplier is late this week."]);
    assert_eq!(bodies(&stored, "public_reply").len(), 2);
    assert_eq!(stored["events"].as_array().unwrap().iter().filter(|e| e["actor"] == "tina").count(), 3);

    // Assign to herself, then resolve with a code: the page shows the history.
    browser.click("form input[name=action][value=assign] ~ p button");
    browser.wait_until("the assignment", "document.querySelector('dl.facts').textContent.includes('tina')");
    browser.execute("document.querySelector('#new-status').value = 'resolved'; document.querySelector('#code').value = 'user-instructed';", vec![]);
    browser.click("form input[name=action][value=status] ~ p button");
    browser.wait_until("the resolution", "document.querySelector('.status').textContent === 'resolved'");
    assert!(
        browser.texts(".history li").iter().any(|l| l.contains("resolved · user-instructed")),
        "{:?}",
        browser.texts(".history li")
    );
    look_at(&browser, "ticket-resolved");

    // A race: Bob's ticket answered from the CLI while the page was open; the page says so and keeps the draft.
    browser.goto(&format!("{}/tickets/{}", server.api, number + 1));
    browser.wait_for("#body");
    assert!(server.cli(&["ticket", "reply", &(number + 1).to_string(), "We are on it, Bob."]).ok);
    browser.fill("#body", "Could you restart the VPN client?");
    browser.click("#send-reply");
    browser.wait_for(".problem .missed");
    assert!(browser.text(".problem .missed").contains("We are on it, Bob."));
    assert_eq!(
        browser.execute("return document.querySelector('#body').value;", vec![]),
        "Could you restart the VPN client?"
    );
    look_at(&browser, "ticket-race");
    assert_eq!(bodies(&ticket_json(&server, number + 1), "public_reply"), ["We are on it, Bob."]);
    browser.click("button[name=action][value=reply]");
    browser.wait_until(
        "the forced reply",
        "[...document.querySelectorAll('.entry.public .body')].some(e => e.textContent.includes('restart the VPN'))",
    );
    assert_eq!(bodies(&ticket_json(&server, number + 1), "public_reply").len(), 2);

    // Logging out ends the session's token, not only the cookie.
    let cookie = browser.execute("return document.cookie;", vec![]);
    assert_eq!(cookie, "", "the session cookie is HttpOnly");
    browser.click("form[action='/logout'] button");
    browser.wait_for("form[action='/login']");
    browser.goto(&format!("{}/queue", server.api));
    browser.wait_for("form[action='/login']");
    let audit = server.cli(&["audit", "export"]);
    assert!(audit.ok, "{}", audit.stderr);
    let entries: Vec<Value> = audit.stdout.lines().map(|l| serde_json::from_str(l).expect("a JSON line")).collect();
    let actions: Vec<&str> = entries.iter().filter_map(|e| e["action"].as_str()).collect();
    assert!(
        actions.contains(&"user.login-refused")
            && actions.contains(&"user.login")
            && actions.contains(&"token.revoked"),
        "{actions:?}"
    );
    assert_eq!(csp_reports(&server), 0, "the browser reported CSP violations");
    // The refused login and the refused race answered with their statuses, as they should; nothing else may show.
    let errors: Vec<String> = browser
        .console_errors()
        .into_iter()
        .filter(|e| !e.contains("Failed to load resource: the server responded with a status of"))
        .collect();
    assert!(errors.is_empty(), "the page logged errors: {errors:?}");
}

#[test]
fn the_queue_to_reply_path_works_with_the_keyboard_alone() {
    let server = Server::start();
    let agent = Agent::start(&server);
    let password = person(&server, "kim", "2");
    let number = agent.request_help("My screen stays black");
    let browser = Browser::new();
    browser.goto(&format!("{}/", server.api));
    browser.wait_for("#user");
    // The name field has the focus; everything from here on is keys.
    browser.press("kim");
    browser.press(&format!("{}{password}{}", char::from(Key::Tab), char::from(Key::Enter)));
    browser.wait_for("table.queue");
    browser.press("?");
    browser.wait_for("#keys");
    look_at(&browser, "queue-keys");
    browser.press(&char::from(Key::Escape).to_string());
    browser.wait_gone("#keys");
    browser.press("j");
    browser.wait_for("tr.current");
    browser.press(&char::from(Key::Enter).to_string());
    browser.wait_for("#body");
    assert!(browser.current_url().ends_with(&format!("/tickets/{number}")), "{}", browser.current_url());
    browser.press("r");
    browser.press("Is the power light on?");
    browser.press(&format!("{}{}", char::from(Key::Control), char::from(Key::Enter)));
    browser.wait_until(
        "the reply on the page",
        "[...document.querySelectorAll('.entry.public .body')].some(e => e.textContent === 'Is the power light on?')",
    );
    browser.press("n");
    browser.press("Checked the cable myself.");
    browser.press(&format!("{}{}", char::from(Key::Control), char::from(Key::Enter)));
    browser.wait_for(".entry.internal");
    let stored = ticket_json(&server, number);
    assert_eq!(bodies(&stored, "public_reply"), ["Is the power light on?"]);
    assert_eq!(bodies(&stored, "internal_note"), ["Checked the cable myself."]);
    assert_eq!(csp_reports(&server), 0);
}

/// A machine whose host name, busiest process, user and technician all write markup: the console shows it as text,
/// and neither runs it nor makes the browser block anything.
#[test]
fn hostile_text_from_a_machine_and_its_user_shows_as_text_and_runs_nothing() {
    crate::harness::require_root("setting a hostile host name in a UTS namespace");
    let server = Server::start();
    let mut agent = Agent::enroll(&server);
    let hostname = "\"><img src=x onerror=window.pwned=1>";
    // A program named like markup keeps a core busy, so it is the snapshot's busiest process.
    let program = agent.dir.path().join("<svg onload=x>");
    std::fs::copy("/usr/bin/yes", &program).expect("copying yes");
    let busy = Command::new(&program).stdout(std::process::Stdio::null()).spawn().expect("starting the busy program");
    let _busy = KillOnDrop(busy);
    // The agent in a UTS namespace of its own, whose host name is the hostile one.
    let mut cmd = Command::new("unshare");
    // Through /proc: the `hostname` program refuses names that are not DNS names, the kernel does not.
    cmd.args(["--uts", "--", "sh", "-c", "printf %s \"$0\" > /proc/sys/kernel/hostname && exec \"$@\"", hostname]);
    cmd.arg(bin("lifeline-agent")).args(agent.command(&["run"]).get_args());
    let proc = Proc::spawn("lifeline-agent", cmd);
    proc.wait_for_line("connected", Duration::from_secs(30));
    agent.proc = Some(proc);
    std::thread::sleep(Duration::from_secs(2));
    let subject = "<script>window.pwned=1</script>";
    let number = agent.request_help(subject);
    let answer = agent.call(&["reply", &number.to_string(), "</textarea><b onmouseover=alert(1)>bold?</b>"]);
    assert!(answer.ok, "{}", answer.stderr);
    let reply = "\"><img src=x onerror=window.pwned=1> & <a href=javascript:alert(1)>link</a>";
    assert!(server.cli(&["ticket", "reply", &number.to_string(), reply]).ok);
    eventually("the requester's answer to be stored", Duration::from_secs(20), || {
        (!bodies(&ticket_json(&server, number), "requester_reply").is_empty()).then_some(())
    });

    let password = person(&server, "ana", "1");
    let browser = Browser::new();
    log_in(&browser, &server, "ana", &password);
    assert_eq!(browser.text("tr[data-row] .subject"), subject);
    look_at(&browser, "hostile-queue");
    browser.click("tr[data-row] a");
    browser.wait_for("#snapshot-h");
    assert!(browser.text(".snapshot p").starts_with(hostname), "{}", browser.text(".snapshot p"));
    let processes = browser.texts(".snapshot table:last-of-type tbody td:first-child");
    assert!(processes.iter().any(|p| p.starts_with("<svg onload=")), "{processes:?}");
    let conversation = browser.texts(".entry .body");
    assert!(conversation.contains(&reply.to_owned()), "{conversation:?}");
    assert!(conversation.iter().any(|c| c.starts_with("</textarea><b onmouseover")), "{conversation:?}");
    assert!(browser.text("h1").contains(subject));
    // Nothing of it became markup.
    let injected = browser.execute(
        "return document.querySelectorAll('img, svg, b, a[href^=javascript], script:not([src])').length;",
        vec![],
    );
    assert_eq!(injected, 0, "markup from the machine or its user became elements");
    assert_eq!(browser.execute("return typeof window.pwned;", vec![]), "undefined", "a payload ran");
    assert_eq!(browser.execute("return document.title;", vec![]), format!("#{number} {subject} · Lifeline"));
    assert_eq!(browser.execute("return document.querySelector('#body').value;", vec![]), "");
    look_at(&browser, "hostile-ticket");
    assert_eq!(csp_reports(&server), 0, "the browser reported CSP violations");
}

/// A child that must not outlive the test, whatever ends it. (`Proc` reads its output, which `yes` never ends.)
pub(crate) struct KillOnDrop(pub(crate) std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A page of another site serving a form that posts to the console, as an attacker's would.
fn attacker_page(target: String) -> (String, std::thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("binding");
    let url = format!("http://{}/", listener.local_addr().expect("address"));
    let page = format!(
        "<!DOCTYPE html><html><body><form method=post action=\"{target}\">\
         <input name=action value=note><input name=body value=forged-by-another-site></form>\
         <script>document.forms[0].submit()</script></body></html>"
    );
    let serve = std::thread::spawn(move || {
        // One page and its favicon at most; the test waits on the outcome, not on this thread.
        for _ in 0..2 {
            let Ok((mut conn, _)) = listener.accept() else { return };
            let mut request = [0u8; 4096];
            let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
            let _ = conn.read(&mut request);
            let answer = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{page}",
                page.len()
            );
            let _ = conn.write_all(answer.as_bytes());
        }
    });
    (url, serve)
}

#[test]
fn forged_writes_are_refused_and_store_nothing() {
    let server = Server::start();
    let agent = Agent::start(&server);
    let number = agent.request_help("Forms and forgeries");
    let password = person(&server, "sam", "1");
    let browser = Browser::new();
    log_in(&browser, &server, "sam", &password);

    // Another site's page posting to the console: the strict cookie stays home, and the write would be refused
    // for where it came from even if it did not.
    let (url, _serve) = attacker_page(format!("{}/tickets/{number}/act", server.api));
    browser.goto(&url);
    std::thread::sleep(Duration::from_secs(2));
    browser.screenshot("forged-cross-site");
    assert!(bodies(&ticket_json(&server, number), "internal_note").is_empty(), "a cross-site form wrote a note");

    // The console's own form without its token: refused with a page saying so.
    browser.goto(&format!("{}/tickets/{number}", server.api));
    browser.wait_for("#body");
    browser.execute("document.querySelectorAll('input[name=csrf]').forEach(e => e.remove());", vec![]);
    browser.fill("#body", "without the token");
    browser.click("#send-note");
    browser.wait_for(".error");
    assert!(browser.text(".error .problem").contains("out of date"), "{}", browser.text(".error"));
    look_at(&browser, "error-403");
    // A token of another session is refused the same.
    browser.goto(&format!("{}/tickets/{number}", server.api));
    browser.wait_for("#body");
    browser.execute("document.querySelectorAll('input[name=csrf]').forEach(e => e.value = 'a'.repeat(32));", vec![]);
    browser.fill("#body", "with a made-up token");
    browser.click("#send-note");
    browser.wait_for(".error");
    assert!(
        bodies(&ticket_json(&server, number), "internal_note").is_empty(),
        "a write without the form token was taken"
    );

    // A request with a live session's cookie but another site's origin, as a browser that sent the cookie would.
    let login = server
        .https()
        .post(format!("{}/login", server.api))
        .config()
        .max_redirects(0)
        .build()
        .header("Content-Type", "application/x-www-form-urlencoded")
        .send(format!("user=sam&password={password}"))
        .expect("POST /login");
    assert_eq!(login.status(), 303);
    let set = login.headers().get("set-cookie").and_then(|v| v.to_str().ok()).expect("a session cookie");
    let session = set.split(';').next().and_then(|c| c.split_once('=')).map(|(_, v)| v.to_owned()).expect("a value");
    let answer = server
        .https()
        .post(format!("{}/tickets/{number}/act", server.api))
        .header("Cookie", format!("__Host-lifeline-session={session}"))
        .header("Origin", "https://evil.example")
        .header("Content-Type", "application/x-www-form-urlencoded")
        .send("action=note&body=forged")
        .expect("POST");
    assert_eq!(answer.status(), 403);
    assert!(bodies(&ticket_json(&server, number), "internal_note").is_empty());
    assert_eq!(csp_reports(&server), 0);
}

#[test]
fn the_console_speaks_the_browsers_language_and_switches_on_request() {
    let server = Server::start();
    let password = person(&server, "noor", "1");
    let browser = Browser::with_language("nl-NL");
    browser.goto(&format!("{}/", server.api));
    browser.wait_for("#user");
    assert_eq!(browser.attr("html", "lang").as_deref(), Some("nl"));
    let dutch = browser.text("form[action='/login'] button");
    assert_ne!(dutch, "Log in");
    look_at(&browser, "login-nl");
    browser.click("a[hreflang=pl]");
    browser.wait_until("Polish", "document.documentElement.lang === 'pl'");
    look_at(&browser, "login-pl");
    log_in(&browser, &server, "noor", &password);
    assert_eq!(browser.attr("html", "lang").as_deref(), Some("pl"));
    assert!(browser.exists(".languages a[hreflang=pl][aria-current=true]"));
    look_at(&browser, "queue-pl");
    browser.click("a[hreflang=es]");
    browser.wait_until("Spanish", "document.documentElement.lang === 'es'");
    assert!(browser.current_url().ends_with("/queue"), "{}", browser.current_url());
    assert_eq!(csp_reports(&server), 0);
}

/// The queue's answers to the anchors' top complaints: any technician saves views (their own, or shared), picks the
/// columns they want and keeps them, acts on several tickets at once with each outcome shown, and sees new tickets
/// come in without reloading.
#[test]
fn views_columns_bulk_actions_and_new_tickets_on_the_queue() {
    let server = Server::start();
    let lena = person(&server, "lena", "1");
    let mo = person(&server, "mo", "1");
    let open = |subject: &str| {
        let out = server.cli(&["ticket", "create", "--channel", "phone", "--requester", "Uma", "--subject", subject]);
        assert!(out.ok, "{}", out.stderr);
        out.stdout.trim().parse::<i64>().unwrap_or_else(|_| panic!("no number in {:?}", out.stdout))
    };
    let (mail_a, mail_b, printer) =
        (open("Mail bounces for Ann"), open("Mail bounces for Bo"), open("Printer offline"));
    for step in [&["resolved", "--code", "fixed-remotely"][..], &["closed"]] {
        let out = server.cli(&[&["ticket", "status", &printer.to_string()][..], step].concat());
        assert!(out.ok, "{}", out.stderr);
    }
    let browser = Browser::new();
    log_in(&browser, &server, "lena", &lena);

    // Two views of the same filters: her own, and one shared with the desk.
    browser.fill("#text", "mail");
    browser.wait_until("two mail tickets", "document.querySelectorAll('tr[data-row]').length === 2");
    for (name, shared) in [("My mail", false), ("Desk mail", true)] {
        browser.fill("#view-name", name);
        if shared {
            browser.click("#save-view input[name=shared]");
        }
        browser.click("#save-view button");
        browser.wait_until(
            "the saved view",
            &format!("[...document.querySelectorAll('.views a')].some(a => a.textContent === '{name}')"),
        );
    }
    browser.goto(&format!("{}/queue", server.api));
    assert_eq!(browser.texts("tr[data-row]").len(), 3);
    browser.click(".views a");
    browser.wait_until("the view's filters", "document.querySelectorAll('tr[data-row]').length === 2");
    assert_eq!(browser.execute("return document.querySelector('#text').value;", vec![]), "mail");
    look_at(&browser, "queue-views");

    // Columns: requester and channel off, and they stay off on the next visit.
    browser.click("details.columns summary");
    browser.click("#columns input[value=requester]");
    browser.click("#columns input[value=channel]");
    browser.click("#columns button");
    browser.wait_for("table.queue");
    let headers = |b: &Browser| b.texts("table.queue thead th");
    assert!(
        !headers(&browser).contains(&"Requester".to_owned()) && !headers(&browser).contains(&"Channel".to_owned()),
        "{:?}",
        headers(&browser)
    );
    browser.goto(&format!("{}/queue", server.api));
    assert!(!headers(&browser).contains(&"Requester".to_owned()), "{:?}", headers(&browser));
    assert!(headers(&browser).contains(&"Subject".to_owned()));

    // Bulk: both mail tickets to Mo; then a note on a mail ticket and the closed one, which refuses it alone.
    browser.goto(&format!("{}/queue?text=mail", server.api));
    browser.wait_until("two mail tickets", "document.querySelectorAll('tr[data-row]').length === 2");
    browser.click(&format!("input[name=n][value='{mail_a}']"));
    browser.click(&format!("input[name=n][value='{mail_b}']"));
    browser.fill("#bulk-to", "mo");
    browser.click("#bulk-apply");
    assert_eq!(browser.wait_for("#bulk-summary"), "2 done, 0 refused.");
    look_at(&browser, "bulk-outcome");
    for n in [mail_a, mail_b] {
        assert_eq!(ticket_json(&server, n)["assignee"], "mo");
    }
    browser.click("#back-to-queue");
    browser.wait_until("the queue again", "document.querySelectorAll('tr[data-row]').length === 2");
    assert_eq!(browser.texts("td.assignee"), ["mo", "mo"]);
    browser.goto(&format!("{}/queue", server.api));
    browser.click(&format!("input[name=n][value='{mail_a}']"));
    browser.click(&format!("input[name=n][value='{printer}']"));
    browser.execute("document.querySelector('#bulk-action').value = 'note';", vec![]);
    browser.fill("#bulk-body", "Mail relay is being replaced tonight.");
    browser.click("#bulk-apply");
    assert_eq!(browser.wait_for("#bulk-summary"), "1 done, 1 refused.");
    let refused = browser.text("table.outcomes tr.refused");
    assert!(refused.starts_with(&printer.to_string()) && refused.contains("closed"), "{refused}");
    assert_eq!(bodies(&ticket_json(&server, mail_a), "internal_note"), ["Mail relay is being replaced tonight."]);
    assert!(bodies(&ticket_json(&server, printer), "internal_note").is_empty());

    // A ticket opened elsewhere shows up in an open queue without a reload.
    browser.goto(&format!("{}/queue", server.api));
    browser.wait_for("table.queue");
    browser.execute("window.sameDocument = true;", vec![]);
    open("Scanner makes noises");
    // Read in one script: the rows may be swapped between two WebDriver calls.
    let arrived = "return [...document.querySelectorAll('tr[data-row] .subject')]
        .some(e => e.textContent === 'Scanner makes noises');";
    eventually("the new ticket in the open queue", Duration::from_secs(40), || {
        (browser.execute(arrived, vec![]) == true).then_some(())
    });
    assert_eq!(browser.execute("return window.sameDocument === true;", vec![]), true, "the page was reloaded");

    // Mo sees the shared view, not Lena's own, and cannot remove it.
    browser.click("form[action='/logout'] button");
    log_in(&browser, &server, "mo", &mo);
    assert_eq!(browser.texts(".views li a"), ["Desk mail"]);
    assert!(!browser.exists(".views li form"), "mo was offered to remove lena's view");
    assert_eq!(csp_reports(&server), 0);
}

/// Running an approved check from the ticket: a searchable catalog cut to the technician's tier, a form from the
/// check's parameters with the server's refusal shown on it, and the result shown when the agent sends it.
#[test]
fn a_check_runs_from_the_ticket_page_and_its_result_shows_when_it_arrives() {
    let server = Server::start();
    let agent = Agent::start(&server);
    let number = agent.request_help("Is my disk full?");
    let password = person(&server, "tom", "1");
    let browser = Browser::new();
    log_in(&browser, &server, "tom", &password);
    browser.goto(&format!("{}/tickets/{number}", server.api));
    browser.wait_for("#checks-h");

    // Tier 1: the class A checks, none of class C.
    assert!(browser.exists("#check-disk-usage"));
    assert!(!browser.exists("#check-flush-dns-cache"), "a tier-1 technician was offered a tier-3 check");
    browser.fill("#check-search", "disk");
    browser.wait_until("the search to narrow the catalog", "[...document.querySelectorAll('.catalog li')].filter(li => !li.hidden).every(li => li.dataset.check.includes('disk'))");
    let shown = browser.execute("return [...document.querySelectorAll('.catalog li')].filter(li => !li.hidden).map(li => li.dataset.check.split(' ')[0]);", vec![]);
    assert!(shown.as_array().unwrap().contains(&Value::from("disk-usage")), "{shown}");
    browser.click("li[data-check^='disk-usage '] summary");

    // A path that is not absolute: the server's reason on the form, with what was typed.
    browser.fill("#p-disk-usage-path", "etc");
    browser.click("#check-disk-usage button");
    let refusal = browser.wait_for("#check-disk-usage .problem");
    assert!(refusal.contains("path"), "{refusal}");
    assert_eq!(browser.attr("#p-disk-usage-path", "value").as_deref(), Some("etc"));
    assert_eq!(browser.attr("#p-disk-usage-path", "aria-invalid").as_deref(), Some("true"));
    look_at(&browser, "check-refused");

    browser.fill("#p-disk-usage-path", "/");
    browser.click("#check-disk-usage button");
    browser.wait_for("#check-runs table");
    // Fetched again by the page itself until the agent's answer is in.
    browser
        .wait_until("the run's result", "document.querySelector('#check-runs tr.run .state')?.textContent === 'done'");
    assert!(!browser.text("#check-runs pre.result").is_empty());
    look_at(&browser, "check-done");

    // A tier-3 check asked for by hand with this session's own form token: refused by the same gate as the API's.
    let token = browser.attr("#check-disk-usage input[name=csrf]", "value").unwrap();
    let agent_id = browser.attr("#check-disk-usage input[name=agent]", "value").unwrap();
    let script = format!(
        "const f = document.createElement('form'); f.method = 'post'; f.action = '/tickets/{number}/checks';
         for (const [k, v] of [['csrf', '{token}'], ['agent', '{agent_id}'], ['check', 'flush-dns-cache']]) {{
           const i = document.createElement('input'); i.type = 'hidden'; i.name = k; i.value = v; f.appendChild(i); }}
         document.body.appendChild(f); f.submit();"
    );
    browser.execute(&script, vec![]);
    let refusal = browser.wait_for("#checks > .problem");
    assert!(refusal.contains("tier 3"), "{refusal}");
    let audit = server.cli(&["audit", "export"]).stdout;
    assert!(audit.lines().any(|l| l.contains("check.refused") && l.contains("flush-dns-cache")), "no refusal audited");
    assert_eq!(browser.texts("#check-runs tr.run").len(), 1, "the refused check was queued");
    assert_eq!(csp_reports(&server), 0);
}

/// The admin's pages make accounts and enrollment tokens that work (a real agent enrolls with the token the page
/// showed), keep the desk's lists, and show the audit log verified; a technician reaches none of it, an auditor only
/// the log.
#[test]
fn admin_pages_make_working_accounts_and_tokens_and_refuse_everyone_else() {
    let server = Server::start();
    let ada = person(&server, "ada", "admin");
    let ted = person(&server, "ted", "1");
    let aud = person(&server, "aud", "auditor");
    let browser = Browser::new();

    log_in(&browser, &server, "ted", &ted);
    assert!(!browser.exists("a[href='/admin']") && !browser.exists("a[href='/audit']"));
    for page in ["admin", "audit"] {
        browser.goto(&format!("{}/{page}", server.api));
        let refusal = browser.wait_for(".error .problem");
        assert!(refusal.starts_with("only an admin") || refusal.contains("audit"), "{page}: {refusal}");
    }
    browser.screenshot("admin-refused");
    browser.click("form[action='/logout'] button");

    log_in(&browser, &server, "ada", &ada);
    browser.click("a[href='/admin']");
    browser.wait_for("#users");
    look_at(&browser, "admin");

    // An account: its password, shown once, signs in.
    browser.fill("#new-user", "newbie");
    browser.click("#add-user button");
    browser.wait_for("dl.secret");
    look_at(&browser, "admin-account");
    let shown = browser.texts("dl.secret dd code");
    let password = shown[1].clone();
    // Its role changed from the list.
    browser.goto(&format!("{}/admin", server.api));
    browser.execute("document.querySelector('#role-newbie').value = 'tier2';", vec![]);
    browser.click("form[action='/admin/users/newbie/role'] button");
    browser.wait_for("#users");
    assert_eq!(browser.execute("return document.querySelector('#role-newbie').value;", vec![]), "tier2");

    // An enrollment token, shown once with its command line; a real agent enrolls with it, once.
    browser.fill("#token-server", &server.quic.to_string());
    browser.fill("#token-uses", "1");
    browser.click("#add-token button");
    browser.wait_for("dl.secret");
    look_at(&browser, "admin-token");
    let line = browser.texts("dl.secret dd code")[1].clone();
    let token = line.strip_prefix("lifeline-agent enroll --token ").expect("the enroll line").to_owned();
    let dir = tempfile::tempdir().unwrap();
    let enrolled = run(Agent::cmd(dir.path(), &["enroll", "--token", &token]));
    assert!(enrolled.ok, "{}{}", enrolled.stdout, enrolled.stderr);
    let again = run(Agent::cmd(tempfile::tempdir().unwrap().path(), &["enroll", "--token", &token]));
    assert!(!again.ok, "a one-use token enrolled twice");

    // The desk's lists: a category, a canned reply, and one with a placeholder that does not exist.
    browser.goto(&format!("{}/admin", server.api));
    browser.fill("#category-name", "printing-jams");
    browser.click("#add-category button");
    browser.wait_until("the category", "document.querySelector('#categories').textContent.includes('printing-jams')");
    browser.fill("#canned-name", "thanks");
    browser.fill("#canned-body", "Thanks, {requester.name}!");
    browser.click("#add-canned button");
    browser.wait_until(
        "the canned reply",
        "document.querySelector('#canned').textContent.includes('Thanks, {requester.name}!')",
    );
    browser.fill("#canned-name", "broken");
    browser.fill("#canned-body", "Hello {nobody.knows}");
    browser.click("#add-canned button");
    assert!(browser.wait_for(".error .problem").contains("unknown placeholder"));

    // The audit log: verified, with what ada did under her name.
    browser.goto(&format!("{}/audit", server.api));
    assert!(browser.wait_for("#audit-verdict").contains("verifies"), "{}", browser.text("#audit-verdict"));
    let rows = browser.texts("#audit tbody tr");
    for action in ["user.created", "user.role-changed", "token.created", "category.add"] {
        assert!(rows.iter().any(|r| r.contains("ada") && r.contains(action)), "no {action} by ada in {rows:?}");
    }
    look_at(&browser, "audit");

    // The new account signs in; the auditor reads the log but not the admin page.
    browser.click("form[action='/logout'] button");
    log_in(&browser, &server, "newbie", &password);
    assert!(browser.text("header .who").contains("tier2"));
    browser.click("form[action='/logout'] button");
    log_in(&browser, &server, "aud", &aud);
    browser.click("a[href='/audit']");
    browser.wait_for("#audit");
    browser.goto(&format!("{}/admin", server.api));
    browser.wait_for(".error .problem");
    assert_eq!(csp_reports(&server), 0);
}

/// A ticket for a call: a new person recorded with the ticket, their machine linked; then the same person found
/// for a second call solved on the spot; a refused form keeps what was typed.
#[test]
fn a_ticket_for_a_call_records_the_person_links_the_machine_and_finds_them_again() {
    let server = Server::start();
    let agent = Agent::start(&server);
    let password = person(&server, "pia", "1");
    let browser = Browser::new();
    log_in(&browser, &server, "pia", &password);
    browser.click("a[href='/tickets/new']");
    browser.wait_for("#new-ticket");
    look_at(&browser, "new-ticket");

    browser.fill("#requester", "Greta Lind");
    browser.fill("#email", "greta@example.org");
    browser.fill("#subject", "Laptop will not boot");
    browser.execute(&format!("document.querySelector('#machine').value = '{}';", agent.id), vec![]);
    browser.click("#new-ticket button[type=submit]");
    browser.wait_for("#findings-h");
    let first: i64 = browser.current_url().rsplit('/').next().unwrap().parse().unwrap();
    let ticket = ticket_json(&server, first);
    assert_eq!((ticket["channel"].as_str(), ticket["requester"].as_str()), (Some("phone"), Some("Greta Lind")));
    assert_eq!(ticket["agent_id"].as_str(), Some(agent.id.as_str()));
    let person_id = ticket["person"].as_i64().expect("the person recorded with the ticket");
    eventually("the linked machine's snapshot", Duration::from_secs(20), || {
        (!ticket_json(&server, first)["snapshot"].is_null()).then_some(())
    });

    // Found again by her address; solved during the call.
    browser.goto(&format!("{}/tickets/new?who=greta%40example.org", server.api));
    browser.click(&format!("input[name=person][value='{person_id}']"));
    browser.fill("#subject", "How do I print double-sided?");
    browser.execute("document.querySelector('#resolved').value = 'user-instructed';", vec![]);
    browser.click("#new-ticket button[type=submit]");
    browser.wait_for("#findings-h");
    let second: i64 = browser.current_url().rsplit('/').next().unwrap().parse().unwrap();
    let ticket = ticket_json(&server, second);
    assert_eq!((ticket["person"].as_i64(), ticket["status"].as_str()), (Some(person_id), Some("resolved")));

    // No subject: refused by the use case, the rest kept.
    browser.goto(&format!("{}/tickets/new", server.api));
    browser.fill("#requester", "Hugo");
    browser.execute("document.querySelector('#subject').removeAttribute('required');", vec![]);
    browser.click("#new-ticket button[type=submit]");
    let problem = browser.wait_for("#main > .problem");
    assert!(problem.contains("subject"), "{problem}");
    assert_eq!(browser.attr("#requester", "value").as_deref(), Some("Hugo"));
    look_at(&browser, "new-ticket-refused");
    assert_eq!(csp_reports(&server), 0);
}

/// The rest of a ticket's actions on its page: a canned reply filled in for this requester, the priority by hand,
/// the category, relating two tickets and merging one into another, whose page the technician lands on.
#[test]
fn canned_replies_priority_category_relate_and_merge_from_the_ticket_page() {
    let server = Server::start();
    let password = person(&server, "rex", "1");
    assert!(server.cli(&["canned", "save", "on-it", "Hello {requester.name}, we are on it."]).ok);
    let open = |subject: &str| {
        let out = server.cli(&["ticket", "create", "--channel", "chat", "--requester", "Vera", "--subject", subject]);
        assert!(out.ok, "{}", out.stderr);
        out.stdout.trim().parse::<i64>().unwrap()
    };
    let (a, b, c) = (open("Wi-Fi drops"), open("Wi-Fi drops again"), open("Same Wi-Fi"));
    let browser = Browser::new();
    log_in(&browser, &server, "rex", &password);
    browser.goto(&format!("{}/tickets/{a}", server.api));
    browser.wait_for("#canned-form");
    browser.click("#canned-form button");
    browser.wait_until("the filled-in reply", "[...document.querySelectorAll('.entry.public .body')].some(e => e.textContent === 'Hello Vera, we are on it.')");
    browser.execute("document.querySelector('#priority').value = 'critical';", vec![]);
    browser.fill("#priority-reason", "the whole floor");
    browser.click("#priority-form button");
    browser.wait_for("#category-form");
    let category = browser.execute(
        "const s = document.querySelector('#category'); s.selectedIndex = s.options.length - 1; return s.value;",
        vec![],
    );
    browser.click("#category-form button");
    browser.wait_for("#merge-form");
    let ticket = ticket_json(&server, a);
    assert_eq!((ticket["priority"].as_str(), ticket["category"].as_str()), (Some("critical"), category.as_str()));
    look_at(&browser, "ticket-actions");

    browser.fill("#other", &c.to_string());
    browser.click("#merge-form button[value=relate]");
    browser.wait_for("#merge-form");
    assert_eq!(ticket_json(&server, a)["related"], serde_json::json!([c]));
    assert_eq!(ticket_json(&server, c)["related"], serde_json::json!([a]));

    // A number that is no ticket: refused on the page, nothing merged.
    browser.fill("#other", "9999");
    browser.click("#merge-form button[value=merge]");
    browser.wait_for(".act .problem");
    assert_eq!(ticket_json(&server, a)["status"], "new");
    browser.fill("#other", &b.to_string());
    browser.click("#merge-form button[value=merge]");
    browser.wait_until("the ticket merged into", &format!("location.pathname === '/tickets/{b}'"));
    assert_eq!(ticket_json(&server, a)["merged_into"], b);
    assert!(browser.texts(".entry .body").contains(&"Hello Vera, we are on it.".to_owned()), "the merged conversation");
    assert_eq!(csp_reports(&server), 0);
}

/// Files a requester's mail brought: listed on the ticket page, each a link to the API's own download, which takes
/// the session cookie and gives the file back exactly as it came, only ever as a download: an HTML file is never a
/// page of ours.
#[test]
fn the_files_a_mail_brought_are_listed_on_the_ticket_page_and_download_as_they_came() {
    let server = Server::start_with_config("[mail]\naddress = \"helpdesk@lifeline.test\"\nacknowledge = false\n");
    let postfix = server.add_user("postfix", "mailer");
    let password = person(&server, "uma", "1");
    let page = "<script>document.title = 'ran'</script><p>the notes</p>";
    let raw = format!(
        "From: Ann <ann@example.org>\r\nTo: helpdesk@lifeline.test\r\nSubject: Screen flickers\r\n\
         Message-ID: <flicker@example.org>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"f\"\r\n\r\n\
         --f\r\nContent-Type: text/plain\r\n\r\nMy notes are attached.\r\n\
         --f\r\nContent-Type: text/html; name=\"notes.html\"\r\nContent-Disposition: attachment; filename=\"notes.html\"\r\n\r\n\
         {page}\r\n--f--\r\n"
    );
    let mut answer = server
        .https()
        .post(&format!("{}/api/inbound/email", server.api))
        .header("authorization", &format!("Bearer {postfix}"))
        .header("content-type", "message/rfc822")
        .send(raw.as_bytes())
        .unwrap();
    let receipt: Value = serde_json::from_str(&answer.body_mut().read_to_string().unwrap()).unwrap();
    let number = receipt["ticket"].as_i64().unwrap_or_else(|| panic!("no ticket: {receipt}"));
    let id = ticket_json(&server, number)["attachments"][0]["id"].as_i64().expect("the file on the ticket");

    let browser = Browser::new();
    log_in(&browser, &server, "uma", &password);
    browser.goto(&format!("{}/tickets/{number}", server.api));
    browser.wait_for("#attachments-h");
    assert_eq!(browser.text("#attachments a"), "notes.html");
    let href = browser.attr("#attachments a", "href").expect("a link");
    assert_eq!(href, format!("/api/tickets/{number}/attachments/{id}"));
    look_at(&browser, "ticket-attachments");

    // The link as the browser follows it, with the session cookie and nothing else.
    let got = browser.execute_async(
        "const done = arguments[arguments.length - 1];
        fetch(arguments[0]).then(async r => done([r.status, r.headers.get('content-type'),
            r.headers.get('content-disposition'), r.headers.get('x-content-type-options'), await r.text()]))
        .catch(e => done(String(e)));",
        vec![Value::String(href)],
    );
    let expected = serde_json::json!([200, "text/html", "attachment; filename*=UTF-8''notes.html", "nosniff", page]);
    assert_eq!(got, expected);
    assert_ne!(browser.execute("return document.title;", vec![]), "ran");
    assert_eq!(csp_reports(&server), 0);
}
