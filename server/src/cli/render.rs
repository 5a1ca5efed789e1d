//! What the technician CLI prints for a person: tables and views made from the API's own view types. `--json`
//! prints the same views as JSON instead.

use lifeline_server::api::views::{
    AgentDetail, AgentRow, CatalogEntry, CheckRunView, DiffView, SelfHelpView, TicketDetail, TicketPage, TicketView,
};
use lifeline_server::desk::checks::RunState;
use lifeline_server::desk::sla::ClockState;
use lifeline_server::desk::tickets::Event;
use lifeline_server::store::audit::Verdict;
use lifeline_server::store::desk::Category;
use lifeline_server::store::people::Person;
use lifeline_server::store::webhooks::{Attempt, Delivery, Endpoint};
use lifeline_shared::findings::Finding;
use lifeline_shared::wire::{LiveSample, Snapshot};
use serde::Serialize;

/// A value's name as the API spells it (`"critical"`, `"pending-user"`), without the quotes.
fn name<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(_) => "-".into(),
    }
}

/// As the API writes it: `[0.5,0.2,0.1]`, `["10.0.0.1"]`.
fn json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

fn or_dash(text: Option<&str>) -> &str {
    text.unwrap_or("-")
}

/// Epoch milliseconds as UTC `YYYY-MM-DD HH:MM:SS`, or `never`.
pub fn time(ms: Option<i64>) -> String {
    let Some(ms) = ms else { return "never".into() };
    match time::OffsetDateTime::from_unix_timestamp(ms / 1000) {
        Ok(t) => format!(
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        ),
        Err(_) => "invalid time".into(),
    }
}

fn time_u(ms: u64) -> String {
    time(i64::try_from(ms).ok())
}

pub fn agents_table(agents: &[AgentRow]) -> String {
    let mut out = format!("{:<16} {:<20} {:<9} {:<8} {}\n", "AGENT", "HOST", "STATE", "VERSION", "LAST SEEN (UTC)");
    for a in agents {
        let state = if a.revoked_at.is_some() {
            "revoked"
        } else if a.connected {
            "online"
        } else {
            "offline"
        };
        out +=
            &format!("{:<16} {:<20} {:<9} {:<8} {}\n", a.id, a.hostname, state, a.agent_version, time(a.last_seen_at));
    }
    out
}

pub fn tickets_table(page: &TicketPage) -> String {
    let mut out = format!(
        "{:>6}  {:<19} {:<8} {:<4} {:<8} {:<12} {:<10} {:<12} {:<9} {}\n",
        "#", "STATUS", "PRIORITY", "TIER", "CHANNEL", "CATEGORY", "ASSIGNEE", "REQUESTER", "SLA", "SUBJECT"
    );
    for t in &page.tickets {
        let sla = match (t.sla_breached, t.sla_due_at) {
            (true, _) => "breached".to_owned(),
            (false, Some(due)) => format!("due {}", short_time(due)),
            (false, None) => "-".to_owned(),
        };
        out += &format!(
            "{:>6}  {:<19} {:<8} {:<4} {:<8} {:<12} {:<10} {:<12} {:<9} {}\n",
            t.number,
            t.status.as_str(),
            t.priority.as_str(),
            t.tier,
            t.channel.as_str(),
            or_dash(t.category.as_deref()),
            or_dash(t.assignee.as_deref()),
            t.requester,
            sla,
            t.subject
        );
    }
    if let Some(next) = &page.next {
        out += &format!("more: add --after {next}\n");
    }
    out
}

/// Hours and minutes today, the date otherwise: what fits a column.
fn short_time(ms: i64) -> String {
    time(Some(ms)).get(5..16).unwrap_or_default().to_owned()
}

pub fn agent_view(a: &AgentDetail) -> String {
    let mut out = agents_table(std::slice::from_ref(&a.row));
    out += &format!("{} snapshot(s) stored\n", a.snapshot_count);
    out += &findings_list(&a.findings);
    if let Some(snap) = &a.snapshot {
        out += &snapshot_summary(snap);
    }
    out
}

fn findings_list(findings: &[Finding]) -> String {
    let mut out = format!("\nFindings ({}):\n", findings.len());
    for f in findings {
        out +=
            &format!("  [{}] {} ({})\n      advice: {}\n", name(&f.severity), f.summary, name(&f.category), f.advice);
    }
    out
}

/// Findings first, then the snapshot's essentials, then the conversation: the order a technician reads in.
pub fn ticket_view(v: &TicketDetail) -> String {
    let (t, s) = (&v.ticket, &v.ticket.state);
    let mut out = format!("Ticket #{}: {}\n", t.number, s.subject);
    out += &format!(
        "  status {}   priority {} (urgency {}, impact {})   {}   tier {}   category {}   assignee {}   channel {}\n",
        s.status.as_str(),
        s.priority.as_str(),
        s.urgency.as_str(),
        s.impact.as_str(),
        s.ticket_type.as_str(),
        s.tier,
        or_dash(s.category.as_deref()),
        or_dash(s.assignee.as_deref()),
        s.channel.as_str()
    );
    let person = s.person.map(|p| format!(" (person {p})")).unwrap_or_default();
    out += &format!(
        "  requester {}{person} on agent {}   opened {}   version {}\n",
        s.requester,
        or_dash(s.agent_id.as_deref()),
        time(Some(s.created_at)),
        t.version
    );
    if let Some(into) = s.merged_into {
        out += &format!("  merged into #{into}: work on #{into}\n");
    }
    if let Some(until) = s.pending_until {
        out += &format!("  pending until {}\n", time(Some(until)));
    }
    if let Some(code) = &s.resolution {
        out += &format!("  resolved as {code}\n");
    }
    if !s.related.is_empty() {
        let related: Vec<String> = s.related.iter().map(|n| format!("#{n}")).collect();
        out += &format!("  related to {}\n", related.join(", "));
    }
    for c in &v.sla {
        out += &format!("  SLA {:<15} {}\n", c.kind.as_str().replace('_', " "), clock_state(&c.state));
    }
    for p in &v.presence {
        out += &format!("  {} is {} now\n", p.user, p.state);
    }
    if !s.description.is_empty() {
        out += &format!("  \"{}\"\n", s.description);
    }
    out += &findings_list(&v.findings);
    if let Some(snap) = &v.snapshot {
        out += &snapshot_summary(snap);
    }
    if !v.attachments.is_empty() {
        out += &format!("\nAttachments (save one with `ticket attachment {} ID --out FILE`):\n", t.number);
        for a in &v.attachments {
            let from = a.from_ticket.map(|n| format!("  [#{n}]")).unwrap_or_default();
            out += &format!("  {}  {}  {}  (id {}){from}\n", a.name, size(a.size), a.content_type, a.id);
        }
    }
    out += "\nHistory:\n";
    for e in &v.events {
        let what = match &e.event {
            Event::Created { .. } => "opened the ticket".to_owned(),
            Event::SnapshotAttached { snapshot_id, .. } => format!("attached snapshot {snapshot_id}"),
            Event::PublicReply { body } => format!("replied: {body}"),
            Event::RequesterReply { body } => format!("(requester) answered: {body}"),
            Event::InternalNote { body } => format!("internal note: {body}"),
            Event::StatusChanged { from, to, until, code, first_contact, .. } => {
                let mut line = format!("status {} -> {}", from.as_str(), to.as_str());
                if let Some(until) = until {
                    line += &format!(" until {}", time(Some(*until)));
                }
                if let Some(code) = code {
                    line += &format!(" ({code})");
                }
                if *first_contact {
                    line += " at first contact";
                }
                line
            }
            Event::Prioritized { priority, manual, urgency, impact, .. } => match manual {
                true => format!("set priority {} by hand", priority.as_str()),
                false => {
                    format!("urgency {}, impact {}: priority {}", urgency.as_str(), impact.as_str(), priority.as_str())
                }
            },
            Event::Categorized { category } => format!("category {category}"),
            Event::Retyped { ticket_type } => format!("type {}", ticket_type.as_str()),
            Event::Linked { agent_id } => format!("linked machine {agent_id}"),
            Event::Unlinked { agent_id } => format!("unlinked machine {agent_id}"),
            Event::MergedInto { into } => format!("merged into #{into}"),
            Event::Absorbed { from } => format!("merged #{from} into this ticket"),
            Event::Related { other } => format!("related to #{other}"),
            Event::SlaAlert { clock, alert, .. } => format!("SLA {} {}", clock.as_str().replace('_', " "), name(alert)),
            Event::Assigned { to } => format!("assigned to {to}"),
            Event::Escalated { from_tier, to_tier, .. } => format!("escalated tier {from_tier} -> {to_tier}"),
            Event::CheckRun { run, check, state, elapsed_ms, result } => {
                let took = elapsed_ms.map(|ms| format!(" in {ms} ms")).unwrap_or_default();
                format!("ran check {check} (run {run}): {state}{took}\n{}", indent(result))
            }
        };
        let from = e.from_ticket.map(|n| format!("[#{n}] ")).unwrap_or_default();
        out += &format!("  {}  {:<10} {from}{}\n", time(Some(e.at)), e.actor.name, what);
    }
    out
}

/// A size in bytes as a person reads it: `512 B`, `3.4 KiB`, `1.0 MiB`.
fn size(bytes: i64) -> String {
    if bytes < 1024 {
        format!("{bytes} B")
    } else if bytes < 1 << 20 {
        format!("{:.1} KiB", bytes as f64 / 1024.0)
    } else {
        format!("{:.1} MiB", bytes as f64 / f64::from(1u32 << 20))
    }
}

fn snapshot_summary(snap: &Snapshot) -> String {
    let gib = |b: u64| b as f64 / (1u64 << 30) as f64;
    let host = &snap.host;
    let mut out = format!(
        "\nSnapshot of {} ({} {}, kernel {}, up {} h, taken {}):\n",
        host.hostname,
        host.os_name,
        host.os_version,
        host.kernel,
        host.uptime_secs / 3600,
        time_u(snap.taken_at_ms)
    );
    out += &format!(
        "  cpu     {:.0} % of {} cores, load {}\n",
        snap.cpu.usage_pct,
        snap.cpu.logical_cores,
        json(&snap.cpu.load_avg)
    );
    let mem = &snap.memory;
    out += &format!(
        "  memory  {:.1} of {:.1} GiB used, {:.1} GiB available\n",
        gib(mem.used_bytes),
        gib(mem.total_bytes),
        gib(mem.available_bytes)
    );
    for d in &snap.disks {
        out += &format!(
            "  disk    {} {:.1} GiB free of {:.1} GiB ({})\n",
            d.mount_point,
            gib(d.available_bytes),
            gib(d.total_bytes),
            d.file_system
        );
    }
    let net = &snap.network;
    out += &match &net.default_route {
        None => "  route   none\n".to_owned(),
        Some(route) => format!("  route   via {} on {}\n", route.gateway, route.interface),
    };
    out += &format!("  dns     {}\n", json(&net.dns_servers));
    for p in &net.probes {
        out +=
            &format!("  probe   {} {} {} {}\n", name(&p.kind), p.target, if p.ok { "ok" } else { "FAILED" }, p.detail);
    }
    out += &format!("  procs   {} running; top cpu:", snap.processes.count);
    for p in snap.processes.top_cpu.iter().take(3) {
        out += &format!(" {} ({:.0} %)", p.name, p.cpu_pct);
    }
    out += "\n";
    out
}

/// A ticket after a command.
pub fn ticket_line(t: &TicketView) -> String {
    format!(
        "#{} is {} (tier {}, assignee {})\n",
        t.number,
        t.state.status.as_str(),
        t.state.tier,
        or_dash(t.state.assignee.as_deref())
    )
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("      | {l}\n")).collect::<String>().trim_end().to_owned()
}

pub fn catalog_table(catalog: &[CatalogEntry]) -> String {
    let mut out = format!("{:<20} {:<5} {:<4} {:<40} {}\n", "CHECK", "CLASS", "TIER", "PARAMETERS", "WHAT IT TELLS");
    for c in catalog {
        let params: Vec<String> = c.params.iter().map(|p| format!("{}=<{}>", p.name, p.accepts)).collect();
        out += &format!(
            "{:<20} {:<5} {:<4} {:<40} {}\n",
            c.name,
            name(&c.class),
            c.min_tier,
            if params.is_empty() { "-".to_owned() } else { params.join(" ") },
            c.summary
        );
    }
    out
}

pub fn check_run_view(r: &CheckRunView) -> String {
    let ticket = r.ticket.map_or_else(|| "no ticket".to_owned(), |t| format!("ticket #{t}"));
    let mut out = format!(
        "run {}: {} on {} for {} by {}: {}\n",
        r.id,
        r.description,
        r.agent_id,
        ticket,
        r.technician,
        name(&r.state)
    );
    let result = or_dash(r.result.as_deref());
    match r.state {
        RunState::Queued => {
            out += &format!("  waiting for the agent to connect (until {} UTC)\n", time(Some(r.expires_at)))
        }
        RunState::Sent => out += "  the agent is running it\n",
        RunState::Done => {
            out += &format!("  took {} ms\n", r.elapsed_ms.map_or_else(|| "null".to_owned(), |ms| ms.to_string()));
            out += result;
            if !out.ends_with('\n') {
                out.push('\n');
            }
        }
        _ => out += &format!("  {result}\n"),
    }
    out
}

pub fn audit_verdict(v: &Verdict) -> String {
    match &v.broken {
        Some(b) => format!("BROKEN at entry {}: {}\n{} entries before it verify.\n", b.seq, b.reason, v.entries),
        None => format!("audit log intact: {} entries, head {}\n", v.entries, v.head),
    }
}

/// One live sample as a screenful, top-like: the caller clears the screen before printing it.
pub fn live_view(agent: &str, v: &LiveSample, findings: &[Finding]) -> String {
    let mib = |b: u64| b as f64 / 1048576.0;
    let mut out = format!("Live: {agent}   sample {}   {} UTC   (q to quit)\n\n", v.seq, time_u(v.taken_at_ms));
    out +=
        &format!("cpu   {:5.1} %   load {:.2} {:.2} {:.2}\n", v.cpu_pct, v.load_avg[0], v.load_avg[1], v.load_avg[2]);
    for finding in findings {
        out += &format!("  ! {:<8} {}\n", name(&finding.severity), finding.summary);
    }
    for (i, core) in v.per_core_pct.iter().enumerate() {
        let pct = core.clamp(0.0, 100.0);
        out += &format!("  core {i:<3} [{:<20}] {pct:5.1} %\n", "#".repeat((pct / 5.0).round() as usize));
    }
    out += &format!(
        "mem   {:.0} of {:.0} MiB   swap {:.0} of {:.0} MiB\n\nnet\n",
        mib(v.memory_used_bytes),
        mib(v.memory_total_bytes),
        mib(v.swap_used_bytes),
        mib(v.swap_total_bytes)
    );
    for n in &v.net {
        out += &format!(
            "  {:<12} rx {:>10.1} KiB/s  tx {:>10.1} KiB/s  errors {}/{}\n",
            n.interface,
            n.rx_bytes_per_s as f64 / 1024.0,
            n.tx_bytes_per_s as f64 / 1024.0,
            n.rx_errors,
            n.tx_errors
        );
    }
    out += "disks\n";
    for d in &v.disks {
        out += &format!(
            "  {:<20} read {:>10.1} KiB/s  write {:>10.1} KiB/s\n",
            d.mount_point,
            d.read_bytes_per_s as f64 / 1024.0,
            d.written_bytes_per_s as f64 / 1024.0
        );
    }
    for (title, processes) in [("top by cpu", &v.top_cpu), ("top by memory", &v.top_memory)] {
        out += &format!("{title}\n");
        for p in processes {
            out += &format!(
                "  {:>7} {:<10} {:5.1} % {:>8.1} MiB  {}\n",
                p.pid,
                or_dash(p.user.as_deref()),
                p.cpu_pct,
                mib(p.rss_bytes),
                p.name
            );
        }
    }
    out
}

pub fn self_help_view(v: &SelfHelpView) -> String {
    let f = &v.figures;
    let pct = if f.shown > 0 { format!(" ({:.0} %)", f.solved as f64 * 100.0 / f.shown as f64) } else { String::new() };
    format!(
        "Last {} days: self-help advice shown {} times; solved without a request {}{pct}; followed by a request {}\n",
        v.days, f.shown, f.solved, f.asked_for_help
    )
}

pub fn diff_view(v: &DiffView) -> String {
    let mut out = format!(
        "From snapshot {} ({} UTC) to {} ({} UTC):\n",
        v.from.id,
        time_u(v.from.taken_at_ms),
        v.to.id,
        time_u(v.to.taken_at_ms)
    );
    if v.changes.is_empty() {
        out += "  nothing a technician would act on changed\n";
    }
    for c in &v.changes {
        out += &format!("  {:<10} {}\n", name(&c.area), c.what);
    }
    out
}

pub fn people_table(people: &[Person]) -> String {
    let mut out = format!("{:>6}  {:<24} {:<28} {:<16} {}\n", "ID", "NAME", "E-MAIL", "PHONE", "DEPARTMENT");
    for p in people {
        out += &format!(
            "{:>6}  {:<24} {:<28} {:<16} {}\n",
            p.id,
            p.name,
            or_dash(p.email.as_deref()),
            or_dash(p.phone.as_deref()),
            or_dash(p.department.as_deref())
        );
    }
    out
}

pub fn person_view(p: &Person) -> String {
    let mut out = format!("Person {}: {}\n", p.id, p.name);
    for (what, value) in [("e-mail", &p.email), ("phone", &p.phone), ("department", &p.department)] {
        if let Some(v) = value {
            out += &format!("  {what} {v}\n");
        }
    }
    if let Some(into) = p.merged_into {
        out += &format!("  merged into person {into}\n");
    }
    for a in &p.accounts {
        out += &format!("  uses account {} on agent {}\n", a.local_user, a.agent_id);
    }
    out
}

pub fn categories(list: &[Category]) -> String {
    let mut out = String::new();
    for c in list {
        let indent = if c.parent.is_some() { "    " } else { "" };
        let retired = if c.retired { "  (retired)" } else { "" };
        out += &format!("{indent}{:<16} {}{retired}\n", c.name, c.label);
    }
    out
}

/// A clock as a person reads it: when it is due and how much business time is left, or by how much it was missed.
fn clock_state(state: &ClockState) -> String {
    let span = |ms: i64| {
        let minutes = ms.unsigned_abs() / 60_000;
        match minutes {
            0..60 => format!("{minutes}m"),
            _ => format!("{}h {:02}m", minutes / 60, minutes % 60),
        }
    };
    match *state {
        ClockState::Running { due_at, left_ms } => {
            format!("due {} ({} of business time left)", time(due_at), span(left_ms))
        }
        ClockState::Breached { due_at, over_ms } => {
            format!("BREACHED: was due {}, over by {}", time(due_at), span(over_ms))
        }
        ClockState::Paused { left_ms } if left_ms < 0 => format!("paused, over by {}", span(left_ms)),
        ClockState::Paused { left_ms } => format!("paused with {} left", span(left_ms)),
        ClockState::Met { at, late_by_ms: 0 } => format!("met {}", time(Some(at))),
        ClockState::Met { at, late_by_ms } => format!("met {}, late by {}", time(Some(at)), span(late_by_ms)),
    }
}

/// A report's CSV as aligned columns, durations (`..._ms` columns) as hours and minutes.
pub fn csv_table(csv: &str) -> anyhow::Result<String> {
    let mut rows =
        lifeline_server::desk::reports::from_csv(csv).map_err(|e| anyhow::anyhow!("the report's CSV: {e}"))?;
    let Some(header) = rows.first().cloned() else { return Ok("nothing in this range\n".into()) };
    for row in rows.iter_mut().skip(1) {
        for (cell, name) in row.iter_mut().zip(&header) {
            if let (true, Ok(ms)) = (name.ends_with("_ms"), cell.parse::<i64>()) {
                let minutes = ms / 60_000;
                *cell =
                    if minutes < 60 { format!("{minutes}m") } else { format!("{}h{:02}m", minutes / 60, minutes % 60) };
            }
        }
    }
    let widths: Vec<usize> = (0..header.len())
        .map(|i| rows.iter().map(|r| r.get(i).map_or(0, |c| c.chars().count())).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in &rows {
        let cells: Vec<String> = row.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
        out += cells.join("  ").trim_end();
        out += "\n";
    }
    Ok(out)
}

pub fn webhooks(list: &[Endpoint]) -> String {
    if list.is_empty() {
        return "no webhook endpoints\n".into();
    }
    let mut out = String::new();
    for e in list {
        let state = match (&e.disabled_at, &e.disabled_reason) {
            (Some(at), reason) => format!("disabled {} ({})", time(Some(*at)), reason.as_deref().unwrap_or("")),
            (None, _) => "enabled".into(),
        };
        let events: Vec<&str> = e.topics.iter().map(|t| t.as_str()).collect();
        out.push_str(&format!(
            "#{}  {}  {state}, {} waiting\n  events: {}\n",
            e.id,
            e.url,
            e.pending,
            events.join(", ")
        ));
        if let Some(secs) = e.offline_after {
            out.push_str(&format!("  an agent is offline after {secs} s of silence\n"));
        }
    }
    out
}

pub fn deliveries(list: &[Delivery]) -> String {
    let mut out = format!(
        "{:>6}  {:>8}  {:<22}  {:<9}  {:>8}  {:<19}  last answer\n",
        "id", "endpoint", "event", "state", "attempts", "created"
    );
    for d in list {
        let answer = match (d.last_status, &d.last_error) {
            (Some(status), _) => status.to_string(),
            (None, Some(e)) => e.clone(),
            (None, None) => "-".into(),
        };
        out.push_str(&format!(
            "{:>6}  {:>8}  {:<22}  {:<9}  {:>8}  {:<19}  {answer}\n",
            d.id,
            d.endpoint,
            d.topic,
            d.state,
            d.attempts,
            time(Some(d.created_at))
        ));
    }
    out
}

pub fn delivery(d: &Delivery, attempts: &[Attempt]) -> String {
    let mut out =
        format!("delivery {} to endpoint {}: {} ({}), webhook-id {}\n", d.id, d.endpoint, d.topic, d.state, d.msg_id);
    if let Some(next) = d.next_at {
        out.push_str(&format!("next try {}\n", time(Some(next))));
    }
    for a in attempts {
        let answer = a.status.map_or_else(|| a.error.clone().unwrap_or_default(), |s| s.to_string());
        out.push_str(&format!("  {}  {answer}  ({} ms)\n", time(Some(a.at)), a.millis));
    }
    out
}
