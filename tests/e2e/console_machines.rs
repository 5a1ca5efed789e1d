//! The console's machines in a real headless Chromium, against the real server and a real enrolled agent: the list
//! and its search, a machine's page with its history and tickets, the live charts fed by the agent's live stream
//! (read with the session cookie) until the agent stops, and revoking, which only an admin may. Every page is checked
//! by axe-core and screenshotted under `target/console-screens/`, and none may make the browser report a
//! Content-Security-Policy violation: uPlot draws under the console's strict policy.

use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use crate::browser::Browser;
use crate::console::{KillOnDrop, csp_reports, log_in, look_at, person};
use crate::harness::{Agent, Server, eventually};

/// The agent as `lifeline-server agent list --json` shows it to the admin.
fn listed(server: &Server, id: &str) -> Value {
    let agents = server.json(&["agent", "list"]);
    agents.as_array().and_then(|a| a.iter().find(|a| a["id"] == id).cloned()).unwrap_or_else(|| panic!("{agents}"))
}

fn machine_page(server: &Server, agent: &Agent) -> String {
    format!("{}/machines/{}", server.api, agent.id)
}

/// The number a live table's cell holds, as the page's script wrote it (its text is formatted for the reader).
fn value(browser: &Browser, css: &str) -> f64 {
    let raw = browser.attr(css, "data-value").unwrap_or_else(|| panic!("{css} has no value yet"));
    raw.parse().unwrap_or_else(|e| panic!("{css} holds {raw:?}: {e}"))
}

fn samples(browser: &Browser) -> u64 {
    browser.attr("#live", "data-samples").and_then(|s| s.parse().ok()).expect("a sample count")
}

#[test]
fn the_machines_list_finds_a_real_agent_and_its_page_shows_history_and_tickets() {
    let server = Server::start();
    let agent = Agent::start(&server);
    let subject = "The backup disk fills up every night";
    let number = agent.request_help(subject);
    let me = listed(&server, &agent.id);
    let (hostname, os) = (me["hostname"].as_str().unwrap().to_owned(), me["os"].as_str().unwrap().to_owned());
    let password = person(&server, "tess", "1");
    let browser = Browser::new();
    log_in(&browser, &server, "tess", &password);

    browser.click("nav a[href='/machines']");
    browser.wait_for("table.machines");
    let row = format!("tr[data-machine='{}']", agent.id);
    assert_eq!(browser.text(&format!("{row} .hostname")), hostname);
    assert_eq!(browser.text(&format!("{row} .os")), os);
    assert_eq!(browser.text(&format!("{row} .badge")), "online");
    assert_eq!(browser.text(&format!("{row} .id")), agent.id);
    assert_eq!(browser.text(".count"), "1 of 1 machines");
    look_at(&browser, "machines");

    // The search, as htmx swaps it in while typing: out with what no machine has, in by host name in any case,
    // out again, in by a part of its id.
    let search = |text: &str, found: bool| {
        browser.fill("#text", text);
        if found {
            browser.wait_for(&row);
            assert_eq!(browser.text(".count"), "1 of 1 machines");
        } else {
            browser.wait_for(".empty");
            assert!(!browser.exists(&row));
            assert_eq!(browser.text(".count"), "0 of 1 machines");
        }
    };
    search("no-such-machine-anywhere", false);
    browser.wait_until("the address to carry the search", "location.search === '?q=no-such-machine-anywhere'");
    look_at(&browser, "machines-none");
    search(&hostname.to_uppercase(), true);
    search("no-such-machine-anywhere", false);
    search(&agent.id[agent.id.len() - 6..], true);
    // And as a plain form would send it, by a word of the operating system.
    let word = os.split_whitespace().next().expect("an OS name");
    browser.goto(&format!("{}/machines?q={}", server.api, word.to_lowercase()));
    browser.wait_for(&row);

    // The machine's page: its history from the stored snapshots and its ticket.
    eventually("the agent's snapshots to be stored", Duration::from_secs(20), || {
        (server.json(&["agent", "show", &agent.id])["snapshot_count"].as_i64()? >= 1).then_some(())
    });
    browser.click(&format!("{row} .hostname"));
    browser.wait_for("#history-table");
    assert!(browser.text("h1").starts_with(&hostname), "{}", browser.text("h1"));
    let stored = server.json(&["agent", "show", &agent.id])["snapshot_count"].as_i64().unwrap();
    let history = browser.texts("#history-table tbody tr");
    assert_eq!(history.len() as i64, stored.min(48), "{history:?}");
    for column in 2..=4 {
        for cell in browser.texts(&format!("#history-table tbody td:nth-child({column})")) {
            let pct: f64 = cell.parse().unwrap_or_else(|e| panic!("history column {column} holds {cell:?}: {e}"));
            assert!((0.0..=100.0).contains(&pct), "{cell}");
        }
    }
    assert_eq!(browser.texts("#tickets-table .subject"), [subject]);
    assert_eq!(browser.attr("#tickets-table .subject", "href").as_deref(), Some(format!("/tickets/{number}").as_str()));
    assert_eq!(browser.text("#runs-h + p"), "No check has been run on this machine.");
    // A tier-1 technician reads the machine but is offered no revocation.
    assert!(!browser.exists("#revoke-form"));
    browser.wait_until("a live sample", "Number(document.querySelector('#live').dataset.samples) >= 1");
    look_at(&browser, "machine");
    browser.click("#tickets-table .subject");
    browser.wait_for("#findings-h");
    assert!(browser.current_url().ends_with(&format!("/tickets/{number}")));
    assert_eq!(csp_reports(&server), 0, "the browser reported CSP violations");
    assert_eq!(browser.console_errors(), Vec::<String>::new(), "the pages logged errors");
}

#[test]
fn the_live_charts_follow_the_agents_samples_and_show_when_it_stops() {
    let server = Server::start();
    let mut agent = Agent::start(&server);
    // A program named like markup keeps a core busy, so it is among the busiest processes the samples carry; its
    // name fits the kernel's 15 bytes.
    let program = agent.dir.path().join("<img src=x>");
    std::fs::copy("/usr/bin/yes", &program).expect("copying yes");
    let busy = Command::new(&program).stdout(Stdio::null()).spawn().expect("starting the busy program");
    let _busy = KillOnDrop(busy);
    let password = person(&server, "lev", "2");
    let browser = Browser::new();
    log_in(&browser, &server, "lev", &password);
    browser.goto(&machine_page(&server, &agent));
    browser.wait_for("#live-cpu-table");

    // The page's EventSource reads the API's live stream with the session cookie alone.
    browser.wait_until("two live samples", "Number(document.querySelector('#live').dataset.samples) >= 2");
    let (count, time) = (samples(&browser), browser.text("#live-time"));
    let later = format!(
        "Number(document.querySelector('#live').dataset.samples) > {count} \
         && document.querySelector('#live-time').textContent !== {}",
        json!(time)
    );
    browser.wait_until("a later sample", &later);
    assert_eq!(browser.text("#live-state"), "live");
    assert_eq!(browser.text("#machine-state"), "online");
    let cpu = value(&browser, "#live-cpu-value");
    assert!((0.0..=100.0).contains(&cpu), "CPU {cpu}");
    let shown: f64 = browser.text("#live-cpu-value").parse().expect("the CPU's text is its number");
    assert!((shown - cpu).abs() < 0.11, "{shown} shown for {cpu}");
    let memory = value(&browser, "#live-memory-value");
    assert!(memory > 0.0 && memory <= 100.0, "memory {memory}");
    assert!(browser.text("#live-memory-bytes").contains(" / "), "{}", browser.text("#live-memory-bytes"));
    assert!(browser.texts("#live-net-rows th").contains(&"lo".to_owned()), "{:?}", browser.texts("#live-net-rows th"));
    // The machine's text is shown as text: the process's name is no element.
    browser.wait_until(
        "the markup-named program among the busiest processes",
        "[...document.querySelectorAll('#live-process-rows th')].some(th => th.textContent === '<img src=x>')",
    );
    assert!(!browser.exists("#live img"), "a process name became markup");
    for chart in ["cpu", "memory", "net"] {
        assert!(browser.exists(&format!("#live-{chart}-chart canvas")), "the {chart} chart was not drawn");
        assert_eq!(browser.attr(&format!("#live-{chart}-chart"), "aria-hidden").as_deref(), Some("true"));
    }
    look_at(&browser, "machine-live");
    assert_eq!(csp_reports(&server), 0, "uPlot or the page's script tripped the CSP");
    assert_eq!(browser.console_errors(), Vec::<String>::new(), "the page logged errors");

    // The agent stops: the page says the machine is offline and the tables stop changing.
    agent.proc.as_mut().expect("the agent runs").terminate();
    browser.wait_until(
        "the page to show the machine offline",
        "document.querySelector('#live').dataset.state === 'offline'",
    );
    assert_eq!(browser.text("#live-state"), "offline: no live data");
    assert_eq!(browser.text("#machine-state"), "offline");
    let (count, time) = (samples(&browser), browser.text("#live-time"));
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!((samples(&browser), browser.text("#live-time")), (count, time), "samples after the agent stopped");
    look_at(&browser, "machine-live-offline");

    // Opened again while the machine is away, the page says so at once and opens no stream.
    eventually("the server to see the agent gone", Duration::from_secs(20), || {
        (listed(&server, &agent.id)["connected"] == false).then_some(())
    });
    browser.goto(&machine_page(&server, &agent));
    assert_eq!(browser.text("#machine-state"), "offline");
    assert_eq!(browser.text("#live-state"), "offline: no live data");
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(samples(&browser), 0);
    assert_eq!(csp_reports(&server), 0);
}

#[test]
fn only_an_admin_revokes_a_machine_and_the_console_and_the_cli_agree() {
    let server = Server::start();
    let agent = Agent::start(&server);
    let tina = person(&server, "tina", "1");
    let root = person(&server, "root", "admin");
    let browser = Browser::new();

    // A tier-1 technician: no revoke form, and a post made with her own session's form token is refused.
    log_in(&browser, &server, "tina", &tina);
    browser.goto(&machine_page(&server, &agent));
    browser.wait_for("#history-h");
    assert!(!browser.exists("#revoke-form") && !browser.exists("#revoke"));
    browser.execute(
        "const f = document.createElement('form');
         f.method = 'post';
         f.action = location.pathname + '/revoke';
         for (const [name, value] of [['csrf', document.getElementById('csrf').dataset.token], ['confirm', 'yes']]) {
             const i = document.createElement('input');
             i.type = 'hidden'; i.name = name; i.value = value;
             f.append(i);
         }
         document.body.append(f);
         f.submit();",
        vec![],
    );
    browser.wait_for(".error");
    assert!(browser.text(".error h1").contains("(403)"), "{}", browser.text(".error"));
    assert_eq!(browser.text(".error .problem"), "only an admin may revoke agents");
    look_at(&browser, "machine-revoke-403");
    let me = listed(&server, &agent.id);
    assert_eq!(
        (&me["revoked_at"], &me["connected"]),
        (&Value::Null, &json!(true)),
        "a refused revoke changed the agent"
    );
    browser.click("form[action='/logout'] button");
    browser.wait_for("form[action='/login']");

    // The admin: the form, which asks for the box to be ticked (the server checks it too), then revokes.
    log_in(&browser, &server, "root", &root);
    browser.goto(&machine_page(&server, &agent));
    browser.wait_for("#revoke-form");
    assert_eq!(browser.text("#revoke"), "Revoke machine");
    browser.execute("document.querySelector('#revoke-confirm').required = false;", vec![]);
    browser.click("#revoke");
    assert_eq!(browser.wait_for("p.problem"), "Tick the box to confirm first: revoking cannot be undone.");
    assert_eq!(listed(&server, &agent.id)["revoked_at"], Value::Null);
    look_at(&browser, "machine-revoke-confirm");
    browser.click("#revoke-confirm");
    browser.click("#revoke");
    browser.wait_for(".revoked-notice");
    assert_eq!(browser.text("#machine-state"), "revoked");
    assert!(!browser.exists("#revoke-form") && !browser.exists("#live"));
    look_at(&browser, "machine-revoked");

    // The CLI as admin agrees, and the agent was cut off at once.
    let me = listed(&server, &agent.id);
    assert!(me["revoked_at"].is_i64(), "{me}");
    agent
        .proc
        .as_ref()
        .expect("the agent runs")
        .wait_for_line("the server refuses this agent", Duration::from_secs(20));
    eventually("the server to drop the agent", Duration::from_secs(20), || {
        (listed(&server, &agent.id)["connected"] == false).then_some(())
    });
    browser.goto(&format!("{}/machines", server.api));
    assert_eq!(browser.text(&format!("tr[data-machine='{}'] .badge", agent.id)), "revoked");
    let audit = server.cli(&["audit", "export"]);
    assert!(audit.ok, "{}", audit.stderr);
    let revocations: Vec<Value> = audit
        .stdout
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("a JSON line"))
        .filter(|e| e["action"] == "agent.revoked")
        .collect();
    assert_eq!(revocations.len(), 1, "{revocations:?}");
    assert_eq!(revocations[0]["actor"], "root");
    assert_eq!(csp_reports(&server), 0);
}
