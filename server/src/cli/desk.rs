//! The technicians' commands: each a call to the HTTPS API, read into the API's view types and printed for a person
//! (or as JSON with `--json`). None opens the data directory.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use lifeline_server::api::views::{
    AgentDetail, AgentRow, CatalogEntry, CheckRunView, DiffView, Refreshing, Revoked, SelfHelpView, TicketDetail,
    TicketPage, TicketView,
};
use lifeline_server::desk::checks::RunState;
use lifeline_server::desk::tickets::Event;
use lifeline_server::pki::CaKey;
use lifeline_server::service::webhooks::Added;
use lifeline_server::store::audit::{self, Verdict};
use lifeline_server::store::desk::{Canned, Category};
use lifeline_server::store::people::Person;
use lifeline_server::store::webhooks::{Attempt, Delivery, Endpoint};
use lifeline_shared::findings::Finding;
use lifeline_shared::wire::LiveSample;
use serde_json::{Value, json};

use super::admin::parse_duration;
use super::args::{
    AgentCmd, ApiArgs, AuditCmd, CannedCmd, CategoryCmd, CheckCmd, PersonCmd, PersonFields, Seen, StatsCmd, TicketCmd,
    TicketFilter, WebhookCmd,
};
use super::http::{self, Client};
use super::render;
use super::screen::Screen;

/// Prints the line that puts a fresh token in the shell.
pub fn login(user: &str, api: &str, ca: &Path) -> Result<()> {
    let session = http::login(api, ca, user, &http::read_password()?)?;
    eprintln!("logged in as {user}; the token ends {} UTC", render::time(Some(session.expires_at)));
    println!("export LIFELINE_TOKEN={}", session.token);
    Ok(())
}

pub fn agent(cmd: AgentCmd) -> Result<()> {
    match cmd {
        AgentCmd::List { api } => {
            let c = Client::new(&api)?;
            c.print(&c.get::<Vec<AgentRow>>("/api/agents")?, |a| render::agents_table(a))
        }
        AgentCmd::Show { id, api } => {
            let c = Client::new(&api)?;
            c.print(&c.get::<AgentDetail>(&format!("/api/agents/{id}"))?, render::agent_view)
        }
        AgentCmd::Watch { id, interval_ms, count, api } => {
            let c = Client::new(&api)?;
            let mut seen = 0u64;
            // Samples carry findings only when they change: the view keeps showing the last ones.
            let mut findings: Vec<Finding> = Vec::new();
            let _screen = if c.json { None } else { Screen::enter() };
            c.follow(&format!("/api/agents/{id}/live?interval_ms={interval_ms}"), |data| {
                if c.json {
                    let sample: Value = serde_json::from_str(data).context("a live sample that is not JSON")?;
                    println!("{sample}");
                } else {
                    let sample: LiveSample =
                        serde_json::from_str(data).context("a live sample this CLI cannot read")?;
                    if let Some(now) = &sample.findings {
                        findings.clone_from(now);
                    }
                    // Home and clear, then the whole view: refreshes in place on any terminal.
                    print!("\x1b[H\x1b[2J{}", render::live_view(&id, &sample, &findings));
                }
                std::io::stdout().flush()?;
                seen += 1;
                Ok(count.is_none_or(|n| seen < n))
            })
        }
        AgentCmd::Revoke { id, api } => {
            let c = Client::new(&api)?;
            let revoked: Revoked = c.post(&format!("/api/agents/{id}/revoke"), None)?;
            c.print(&revoked, |r| format!("agent {} revoked; the server refuses it from now on\n", r.revoked))
        }
    }
}

pub fn stats(cmd: StatsCmd) -> Result<()> {
    let (report, range, extra) = match cmd {
        StatsCmd::SelfHelp { days, api } => {
            let c = Client::new(&api)?;
            let path = format!("/api/stats/self-help?days={days}");
            return c.print(&c.get::<SelfHelpView>(&path)?, render::self_help_view);
        }
        StatsCmd::Technicians { range } => ("technicians", range, String::new()),
        StatsCmd::Response { dimension, range } => ("response", range, format!("&dimension={}", encode(&dimension))),
        StatsCmd::Backlog { at, range } => {
            ("backlog", range, at.map(|a| format!("&at={}", encode(&a))).unwrap_or_default())
        }
        StatsCmd::Flow { range } => ("flow", range, String::new()),
        StatsCmd::Sla { range } => ("sla", range, String::new()),
        StatsCmd::Categories { range } => ("categories", range, String::new()),
        StatsCmd::Education { range } => ("education", range, String::new()),
        StatsCmd::Checks { range } => ("checks", range, String::new()),
    };
    let c = Client::new(&range.api)?;
    let mut path = format!("/api/stats/{report}?by={}{extra}", encode(&range.by));
    for (key, value) in [("from", &range.from), ("to", &range.to)] {
        if let Some(v) = value {
            path += &format!("&{key}={}", encode(v));
        }
    }
    if c.json {
        let value: Value = c.get(&path)?;
        println!("{value:#}");
        return Ok(());
    }
    let csv = c.get_csv(&path)?;
    if range.csv {
        print!("{csv}");
    } else {
        print!("{}", render::csv_table(&csv)?);
    }
    Ok(())
}

/// The largest file `ticket attachment` takes: above the largest the server keeps (`max_attachment_mib` is at most
/// 40).
const MAX_ATTACHMENT: u64 = 64 << 20;

fn act(api: &ApiArgs, number: u64, body: Value) -> Result<()> {
    act_seen(api, number, body, &Seen { version: None, force: false })
}

fn act_seen(api: &ApiArgs, number: u64, body: Value, seen: &Seen) -> Result<()> {
    let c = Client::new(api)?;
    let mut path = format!("/api/tickets/{number}/actions?force={}", seen.force);
    if let Some(v) = seen.version {
        path += &format!("&version={v}");
    }
    c.print(&c.post::<TicketView>(&path, Some(body))?, render::ticket_line)
}

/// A query string's value, percent-encoded (RFC 3986's unreserved characters pass as they are).
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn list_path(f: TicketFilter) -> Result<String> {
    let mut query: Vec<(&str, String)> = Vec::new();
    let mut add = |k, v: Option<String>| {
        if let Some(v) = v {
            query.push((k, v));
        }
    };
    add("status", f.status);
    add("tier", f.tier.map(|t| t.to_string()));
    add("assignee", f.assignee);
    add("category", f.category);
    add("priority", f.priority);
    add("channel", f.channel);
    // A number is a person on record; anything else the name written on the ticket.
    match f.requester {
        Some(r) if r.parse::<i64>().is_ok() => add("person", Some(r)),
        other => add("requester", other),
    }
    add("machine", f.machine);
    let hours = f.older_than.map(|d| parse_duration(&d).map(|ms| (ms / 3_600_000).to_string())).transpose()?;
    add("older_than_hours", hours);
    add("sla", f.sla);
    add("text", f.text);
    add("sort", f.sort);
    add("after", f.after);
    add("limit", f.limit.map(|l| l.to_string()));
    let query: Vec<String> = query.into_iter().map(|(k, v)| format!("{k}={}", encode(&v))).collect();
    Ok(format!("/api/tickets?{}", query.join("&")))
}

/// `--until`: an RFC 3339 time, or a span from now.
fn parse_until(text: &str) -> Result<i64> {
    if let Ok(at) = text.parse::<jiff::Timestamp>() {
        return Ok(at.as_millisecond());
    }
    let span = parse_duration(text).map_err(|_| {
        anyhow!("--until {text:?}: give a time such as 2026-12-24T09:00:00+01:00, or a span such as 3d")
    })?;
    let now = i64::try_from(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_millis())?;
    Ok(now + span)
}

pub fn ticket(cmd: TicketCmd) -> Result<()> {
    match cmd {
        TicketCmd::List { filter, api } => {
            let c = Client::new(&api)?;
            c.print(&c.get::<TicketPage>(&list_path(filter)?)?, render::tickets_table)
        }
        TicketCmd::Create {
            channel,
            requester,
            person,
            email,
            phone,
            subject,
            description,
            urgency,
            impact,
            category,
            ticket_type,
            agent,
            resolved,
            api,
        } => {
            let c = Client::new(&api)?;
            let body = json!({
                "channel": channel, "requester": requester, "person": person, "email": email, "phone": phone,
                "subject": subject, "description": description, "urgency": urgency, "impact": impact,
                "category": category, "type": ticket_type, "agent_id": agent, "resolved": resolved,
            });
            let ticket: TicketView = c.post("/api/tickets", Some(body))?;
            c.print(&ticket, |t| format!("{}\n", t.number))
        }
        TicketCmd::Show { number, api } => {
            let c = Client::new(&api)?;
            c.print(&c.get::<TicketDetail>(&format!("/api/tickets/{number}"))?, render::ticket_view)
        }
        TicketCmd::Attachment { number, id, out, force, api } => {
            // Refused before anything is fetched; `create_new` refuses it again should it appear meanwhile.
            if !force && out.try_exists().with_context(|| format!("looking for {}", out.display()))? {
                bail!("{} exists; give --force to overwrite it", out.display());
            }
            let c = Client::new(&api)?;
            let bytes = c.get_bytes(&format!("/api/tickets/{number}/attachments/{id}"), MAX_ATTACHMENT)?;
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .create_new(!force)
                .open(&out)
                .with_context(|| format!("creating {}", out.display()))?;
            file.write_all(&bytes).with_context(|| format!("writing {}", out.display()))?;
            let saved = json!({ "ticket": number, "id": id, "out": out.display().to_string(), "size": bytes.len() });
            c.print(&saved, |_| format!("saved {} bytes to {}\n", bytes.len(), out.display()))
        }
        TicketCmd::Reply { number, text, template, seen, api } => {
            act_seen(&api, number, json!({ "action": "reply", "body": text, "template": template }), &seen)
        }
        TicketCmd::Note { number, text, api } => act(&api, number, json!({ "action": "note", "body": text })),
        TicketCmd::Assign { number, user, api } => act(&api, number, json!({ "action": "assign", "to": user })),
        TicketCmd::Status { number, status, reason, until, code, seen, api } => {
            let until = until.as_deref().map(parse_until).transpose()?;
            let body = json!({ "action": "status", "status": status, "reason": reason, "until": until, "code": code });
            act_seen(&api, number, body, &seen)
        }
        TicketCmd::Escalate { number, tier, reason, api } => {
            act(&api, number, json!({ "action": "escalate", "tier": tier, "reason": reason }))
        }
        TicketCmd::Priority { number, priority, reason, api } => {
            act(&api, number, json!({ "action": "priority", "priority": priority, "reason": reason }))
        }
        TicketCmd::Urgency { number, urgency, api } => {
            act(&api, number, json!({ "action": "urgency", "urgency": urgency }))
        }
        TicketCmd::Impact { number, impact, api } => act(&api, number, json!({ "action": "impact", "impact": impact })),
        TicketCmd::Category { number, category, api } => {
            act(&api, number, json!({ "action": "categorize", "category": category }))
        }
        TicketCmd::Type { number, ticket_type, api } => {
            act(&api, number, json!({ "action": "retype", "type": ticket_type }))
        }
        TicketCmd::Link { number, agent, api } => act(&api, number, json!({ "action": "link", "agent_id": agent })),
        TicketCmd::Unlink { number, api } => act(&api, number, json!({ "action": "unlink" })),
        TicketCmd::Merge { number, into, api } => {
            let c = Client::new(&api)?;
            let merged: TicketView = c.post(&format!("/api/tickets/{number}/merge"), Some(json!({ "into": into })))?;
            c.print(&merged, |t| format!("#{number} merged into #{}\n", t.number))
        }
        TicketCmd::Relate { number, other, api } => {
            let c = Client::new(&api)?;
            let t: TicketView = c.post(&format!("/api/tickets/{number}/relate"), Some(json!({ "other": other })))?;
            c.print(&t, |t| format!("#{} and #{other} are related\n", t.number))
        }
        TicketCmd::Refresh { number, api } => {
            let c = Client::new(&api)?;
            let snapshots = || -> Result<Vec<String>> {
                let ticket: TicketDetail = c.get(&format!("/api/tickets/{number}"))?;
                Ok(ticket
                    .events
                    .into_iter()
                    .filter_map(|e| match e.event {
                        Event::SnapshotAttached { snapshot_id, .. } => Some(snapshot_id),
                        _ => None,
                    })
                    .collect())
            };
            let before = snapshots()?;
            let _: Refreshing = c.post(&format!("/api/tickets/{number}/refresh"), None)?;
            let started = std::time::Instant::now();
            let latest = loop {
                let now = snapshots()?;
                if now.len() > before.len() {
                    break now.last().cloned().unwrap_or_default();
                }
                if started.elapsed() > std::time::Duration::from_secs(30) {
                    bail!(
                        "asked the agent for a snapshot, but none arrived within 30 s; it will be attached when it does"
                    );
                }
                std::thread::sleep(std::time::Duration::from_millis(250));
            };
            match before.last() {
                Some(previous) => {
                    let diff: DiffView = c.get(&format!("/api/tickets/{number}/diff?from={previous}&to={latest}"))?;
                    c.print(&diff, render::diff_view)
                }
                None => {
                    println!("snapshot {latest} attached to ticket #{number}");
                    Ok(())
                }
            }
        }
        TicketCmd::Diff { number, from, to, api } => {
            let c = Client::new(&api)?;
            let query: Vec<String> =
                [("from", from), ("to", to)].into_iter().filter_map(|(k, v)| v.map(|v| format!("{k}={v}"))).collect();
            let diff: DiffView = c.get(&format!("/api/tickets/{number}/diff?{}", query.join("&")))?;
            c.print(&diff, render::diff_view)
        }
    }
}

pub fn check(cmd: CheckCmd) -> Result<()> {
    match cmd {
        CheckCmd::List { api } => {
            let c = Client::new(&api)?;
            c.print(&c.get::<Vec<CatalogEntry>>("/api/catalog")?, |e| render::catalog_table(e))
        }
        CheckCmd::Run { agent, check, params, ticket, expires, no_wait, api } => {
            let mut map = serde_json::Map::new();
            for p in &params {
                let (k, v) = p.split_once('=').with_context(|| format!("parameter {p:?} is not key=value"))?;
                if map.insert(k.to_owned(), json!(v)).is_some() {
                    bail!("parameter {k:?} given twice");
                }
            }
            let minutes = u32::try_from(parse_duration(&expires)? / 60_000).unwrap_or(u32::MAX);
            let c = Client::new(&api)?;
            let body = json!({ "check": check, "params": map, "ticket": ticket, "expires_minutes": minutes });
            let mut run: CheckRunView = c.post(&format!("/api/agents/{agent}/checks"), Some(body))?;
            // A sent run is waited for past any check's time limit; a queued one only briefly, since it may be
            // waiting for an agent that is offline.
            let started = std::time::Instant::now();
            loop {
                let patience = match run.state {
                    _ if no_wait => 0,
                    RunState::Sent => 30,
                    RunState::Queued => 3,
                    _ => 0,
                };
                if started.elapsed() >= std::time::Duration::from_secs(patience) {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(200));
                run = c.get(&format!("/api/checks/{}", run.id))?;
            }
            c.print(&run, render::check_run_view)?;
            match run.state {
                RunState::Done | RunState::Queued | RunState::Sent => Ok(()),
                other => bail!("check {}", other.as_str()),
            }
        }
        CheckCmd::Show { id, api } => {
            let c = Client::new(&api)?;
            c.print(&c.get::<CheckRunView>(&format!("/api/checks/{id}"))?, render::check_run_view)
        }
    }
}

pub fn audit(cmd: AuditCmd) -> Result<()> {
    match cmd {
        AuditCmd::Verify { file, checkpoints, api, token, ca, json } => verify(file, checkpoints, api, token, ca, json),
        AuditCmd::Checkpoint { out, local } => super::admin::checkpoint(&local, out),
        AuditCmd::Export { out, api } => {
            let c = Client::new(&api)?;
            let mut sink: Box<dyn Write> = match &out {
                Some(path) => {
                    Box::new(std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?)
                }
                None => Box::new(std::io::stdout().lock()),
            };
            // A page at a time: the log grows with every check ever run, and is never held whole here.
            each_page(&c, |page| page.iter().try_for_each(|e| Ok(writeln!(sink, "{}", serde_json::to_string(e)?)?)))?;
            Ok(sink.flush()?)
        }
    }
}

fn verify(
    file: Option<PathBuf>,
    checkpoints: Option<PathBuf>,
    api: Option<String>,
    token: Option<String>,
    ca: Option<PathBuf>,
    json: bool,
) -> Result<()> {
    // Their signatures first: a forged checkpoint says nothing about the chain.
    let checkpoints = match checkpoints {
        Some(path) => {
            let ca = ca.as_deref().context("give --ca, the deployment's CA certificate, to check checkpoints")?;
            Some((signed_checkpoints(&path, ca)?, path))
        }
        None => None,
    };
    let listed = checkpoints.as_ref().map_or(&[][..], |(listed, _)| listed.as_slice());
    let verdict: Verdict = match (file, api, token, ca) {
        (Some(file), ..) => audit::verify_against(exported(&file)?, listed),
        (None, Some(api), Some(token), Some(ca)) => {
            let c = Client::new(&ApiArgs { api, token, ca, json })?;
            // With checkpoints, the chain is fetched and checked here: the server's verdict has no hashes to hold
            // them against.
            match checkpoints {
                None => c.get("/api/audit/verify")?,
                Some(_) => audit::verify_against(all_entries(&c)?, listed),
            }
        }
        _ => bail!("give --file, or the API address, token and CA"),
    };
    if json {
        println!("{:#}", serde_json::to_value(&verdict)?);
    } else {
        print!("{}", render::audit_verdict(&verdict));
    }
    if verdict.broken.is_some() {
        bail!("the audit log has been tampered with");
    }
    if let Some((listed, path)) = checkpoints.filter(|_| !json) {
        let newest = listed.iter().map(|l| l.checkpoint.seq).max().unwrap_or(0);
        println!("{} checkpoints in {} agree with it, the newest at entry {newest}", listed.len(), path.display());
    }
    Ok(())
}

/// An exported log, one entry a line.
fn exported(file: &Path) -> Result<Vec<audit::Entry>> {
    let text = std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let mut entries = Vec::new();
    for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        entries.push(serde_json::from_str(line).with_context(|| format!("line {} of {}", i + 1, file.display()))?);
    }
    Ok(entries)
}

/// The whole log through the API.
fn all_entries(c: &Client) -> Result<Vec<audit::Entry>> {
    let mut entries = Vec::new();
    each_page(c, |page| {
        entries.extend_from_slice(page);
        Ok(())
    })?;
    Ok(entries)
}

/// Hands each page of the log, oldest first, to `f`.
fn each_page(c: &Client, mut f: impl FnMut(&[audit::Entry]) -> Result<()>) -> Result<()> {
    let mut after = 0;
    loop {
        let page: Vec<audit::Entry> = c.get(&format!("/api/audit?after={after}&limit=1000"))?;
        let Some(last) = page.last() else { return Ok(()) };
        after = last.seq;
        f(&page)?;
    }
}

/// The checkpoints in `path`, once each is known to be signed by the CA in `ca`.
fn signed_checkpoints(path: &Path, ca: &Path) -> Result<Vec<audit::Listed>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let listed = audit::parse_checkpoints(&text).map_err(|e| anyhow!("{}: {e}", path.display()))?;
    if listed.is_empty() {
        bail!("{} holds no checkpoint", path.display());
    }
    let pem = std::fs::read_to_string(ca).with_context(|| format!("reading {}", ca.display()))?;
    let key = CaKey::from_pem(&pem).with_context(|| format!("reading {}", ca.display()))?;
    audit::check_signatures(&listed, &key).map_err(|e| anyhow!("{}: {e}", path.display()))?;
    Ok(listed)
}

pub fn person(cmd: PersonCmd) -> Result<()> {
    let fields = |name: Option<String>, f: PersonFields| json!({ "name": name, "email": f.email, "phone": f.phone, "department": f.department });
    match cmd {
        PersonCmd::List { search, api } => {
            let c = Client::new(&api)?;
            let path = match search {
                Some(s) => format!("/api/people?q={}", encode(&s)),
                None => "/api/people".into(),
            };
            c.print(&c.get::<Vec<Person>>(&path)?, |p| render::people_table(p))
        }
        PersonCmd::Show { id, api } => {
            let c = Client::new(&api)?;
            let person: Person = c.get(&format!("/api/people/{id}"))?;
            let tickets: TicketPage = c.get(&format!("/api/tickets?person={id}&limit=50"))?;
            if c.json {
                println!("{:#}", json!({ "person": person, "tickets": tickets }));
                return Ok(());
            }
            print!("{}{}", render::person_view(&person), render::tickets_table(&tickets));
            Ok(())
        }
        PersonCmd::Add { name, fields: f, api } => {
            let c = Client::new(&api)?;
            let person: Person = c.post("/api/people", Some(fields(Some(name), f)))?;
            c.print(&person, |p| format!("{}\n", p.id))
        }
        PersonCmd::Edit { id, name, fields: f, api } => {
            let c = Client::new(&api)?;
            let person: Person = c.patch(&format!("/api/people/{id}"), fields(name, f))?;
            c.print(&person, render::person_view)
        }
        PersonCmd::Link { id, agent, user, api } => {
            let c = Client::new(&api)?;
            let body = json!({ "agent_id": agent, "local_user": user });
            c.print(&c.post::<Person>(&format!("/api/people/{id}/accounts"), Some(body))?, render::person_view)
        }
        PersonCmd::Merge { id, into, api } => {
            let c = Client::new(&api)?;
            let person: Person = c.post(&format!("/api/people/{id}/merge"), Some(json!({ "into": into })))?;
            c.print(&person, render::person_view)
        }
    }
}

pub fn category(cmd: CategoryCmd) -> Result<()> {
    match cmd {
        CategoryCmd::List { api } => {
            let c = Client::new(&api)?;
            c.print(&c.get::<Vec<Category>>("/api/categories")?, |c| render::categories(c))
        }
        CategoryCmd::Add { name, parent, label, api } => {
            let c = Client::new(&api)?;
            let body = json!({ "name": name, "parent": parent, "label": label });
            c.print(&c.post::<Vec<Category>>("/api/categories", Some(body))?, |c| render::categories(c))
        }
        CategoryCmd::Retire { name, api } => {
            let c = Client::new(&api)?;
            let left: Value = c.delete(&format!("/api/categories/{}", encode(&name)))?;
            let left: Vec<Category> = serde_json::from_value(left)?;
            c.print(&left, |c| render::categories(c))
        }
    }
}

pub fn canned(cmd: CannedCmd) -> Result<()> {
    match cmd {
        CannedCmd::List { api } => {
            let c = Client::new(&api)?;
            c.print(&c.get::<Vec<Canned>>("/api/canned-replies")?, |list| {
                list.iter().map(|c| format!("{}  (by {})\n  {}\n", c.name, c.author, c.body)).collect()
            })
        }
        CannedCmd::Save { name, text, api } => {
            let c = Client::new(&api)?;
            let saved: Canned = c.put(&format!("/api/canned-replies/{}", encode(&name)), json!({ "body": text }))?;
            c.print(&saved, |c| format!("saved canned reply {}\n", c.name))
        }
        CannedCmd::Delete { name, api } => {
            let c = Client::new(&api)?;
            c.delete(&format!("/api/canned-replies/{}", encode(&name)))?;
            if !c.json {
                println!("deleted canned reply {name}");
            }
            Ok(())
        }
    }
}

pub fn webhook(cmd: WebhookCmd) -> Result<()> {
    match cmd {
        WebhookCmd::List { api } => {
            let c = Client::new(&api)?;
            c.print(&c.get::<Vec<Endpoint>>("/api/webhooks")?, |list| render::webhooks(list))
        }
        WebhookCmd::Add { url, events, secret, offline_after, api } => {
            let offline_after = offline_after.as_deref().map(parse_duration).transpose()?.map(|ms| ms / 1000);
            let events: Vec<&str> = events.split(',').map(str::trim).collect();
            let body = json!({ "url": url, "events": events, "secret": secret, "offline_after": offline_after });
            let c = Client::new(&api)?;
            let added: Added = c.post("/api/webhooks", Some(body))?;
            c.print(&added, |a| {
                format!(
                    "{}\nsigning secret (shown this once; give it to the receiver): {}\n",
                    render::webhooks(std::slice::from_ref(&a.endpoint)),
                    a.secret
                )
            })
        }
        WebhookCmd::Remove { id, api } => {
            let c = Client::new(&api)?;
            c.delete(&format!("/api/webhooks/{id}"))?;
            if !c.json {
                println!("removed webhook endpoint {id}");
            }
            Ok(())
        }
        WebhookCmd::Enable { id, api } => switch_webhook(id, "enable", &api),
        WebhookCmd::Disable { id, api } => switch_webhook(id, "disable", &api),
        WebhookCmd::Deliveries { endpoint, state, limit, api } => {
            let mut query = format!("?limit={limit}");
            if let Some(e) = endpoint {
                query.push_str(&format!("&endpoint={e}"));
            }
            if let Some(s) = state {
                query.push_str(&format!("&state={}", encode(&s)));
            }
            let c = Client::new(&api)?;
            c.print(&c.get::<Vec<Delivery>>(&format!("/api/webhook-deliveries{query}"))?, |d| render::deliveries(d))
        }
        WebhookCmd::Delivery { id, api } => {
            let c = Client::new(&api)?;
            let detail: Value = c.get(&format!("/api/webhook-deliveries/{id}"))?;
            let delivery: Delivery = serde_json::from_value(detail.clone())?;
            let attempts: Vec<Attempt> = serde_json::from_value(detail["attempt_log"].clone())?;
            c.print(&detail, |_| render::delivery(&delivery, &attempts))
        }
        WebhookCmd::Redeliver { id, api } => {
            let c = Client::new(&api)?;
            let d: Delivery = c.post(&format!("/api/webhook-deliveries/{id}/redeliver"), None)?;
            c.print(&d, |d| format!("delivery {} ({}) is sent again\n", d.id, d.msg_id))
        }
    }
}

fn switch_webhook(id: i64, to: &str, api: &ApiArgs) -> Result<()> {
    let c = Client::new(api)?;
    let e: Endpoint = c.post(&format!("/api/webhooks/{id}/{to}"), None)?;
    c.print(&e, |e| render::webhooks(std::slice::from_ref(e)))
}
