//! The technician CLI: thin calls to the HTTPS API that print what a person needs, or the raw JSON with `--json`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, anyhow, bail};
use serde_json::Value;

/// Where the API is and who is asking; each can come from the environment the quickstart prints.
#[derive(clap::Args, Debug, Clone)]
pub struct ApiArgs {
    /// Base URL of the server's API, e.g. https://helpdesk.example.org:7443
    #[arg(long, env = "LIFELINE_API")]
    pub api: String,
    /// Your API token (from `lifeline-server user add`)
    #[arg(long, env = "LIFELINE_TOKEN", hide_env_values = true)]
    pub token: String,
    /// The deployment's CA certificate (the server's pki/ca.pem), the only root trusted for the API
    #[arg(long, env = "LIFELINE_CA")]
    pub ca: PathBuf,
    /// Print the API's JSON instead of a summary
    #[arg(long, global = true)]
    pub json: bool,
}

pub struct Client {
    agent: ureq::Agent,
    base: String,
    token: String,
    pub json: bool,
}

/// An HTTPS client that trusts only the deployment's CA.
fn https(ca: &Path) -> Result<ureq::Agent> {
    let pem = std::fs::read(ca).with_context(|| format!("reading CA certificate {}", ca.display()))?;
    let ca = ureq::tls::parse_pem(&pem)
        .find_map(|item| match item {
            Ok(ureq::tls::PemItem::Certificate(c)) => Some(c),
            _ => None,
        })
        .ok_or_else(|| anyhow!("{} holds no PEM certificate", ca.display()))?;
    let tls = ureq::tls::TlsConfig::builder().root_certs(ureq::tls::RootCerts::Specific(Arc::new(vec![ca]))).build();
    Ok(ureq::Agent::config_builder().tls_config(tls).http_status_as_error(false).build().new_agent())
}

/// The password from standard input; at a terminal it asks, and the typing is not echoed.
pub fn read_password() -> Result<String> {
    use nix::sys::termios::{LocalFlags, SetArg, tcgetattr, tcsetattr};
    use std::io::IsTerminal;
    let stdin = std::io::stdin();
    let saved = if stdin.is_terminal() {
        eprint!("password: ");
        let saved = tcgetattr(&stdin).context("reading the terminal's settings")?;
        let mut quiet = saved.clone();
        quiet.local_flags.remove(LocalFlags::ECHO);
        tcsetattr(&stdin, SetArg::TCSANOW, &quiet).context("turning off echo")?;
        Some(saved)
    } else {
        None
    };
    let mut line = String::new();
    let read = stdin.read_line(&mut line);
    if let Some(saved) = saved {
        let _ = tcsetattr(&stdin, SetArg::TCSANOW, &saved);
        eprintln!();
    }
    read.context("reading the password from standard input")?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

/// Trades a name and password for a token that lasts a working day; prints the line that puts it in the shell.
pub fn login(api: &str, ca: &Path, user: &str, password: &str) -> Result<()> {
    let url = format!("{}/api/login", api.trim_end_matches('/'));
    let mut response = https(ca)?
        .post(&url)
        .send_json(serde_json::json!({ "user": user, "password": password }))
        .with_context(|| format!("calling {url}"))?;
    let status = response.status();
    let body: Value = response.body_mut().read_json().unwrap_or(Value::Null);
    let Some(token) = body["token"].as_str().filter(|_| status.is_success()) else {
        bail!("login refused ({status}): {}", body["error"].as_str().unwrap_or("no reason given"));
    };
    eprintln!("logged in as {user}; the token ends {} UTC", time(&body, "expires_at"));
    println!("export LIFELINE_TOKEN={token}");
    Ok(())
}

impl Client {
    pub fn new(args: &ApiArgs) -> Result<Client> {
        Ok(Client {
            agent: https(&args.ca)?,
            base: args.api.trim_end_matches('/').to_owned(),
            token: args.token.clone(),
            json: args.json,
        })
    }

    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value> {
        let url = format!("{}{}", self.base, path);
        let auth = format!("Bearer {}", self.token);
        let response = match body {
            Some(body) => self.agent.post(&url).header("authorization", &auth).send_json(body),
            None if method == "GET" => self.agent.get(&url).header("authorization", &auth).call(),
            None => self.agent.post(&url).header("authorization", &auth).send_empty(),
        };
        let mut response = response.with_context(|| format!("calling {url}"))?;
        let status = response.status();
        let value: Value = response.body_mut().read_json().unwrap_or(Value::Null);
        if !status.is_success() {
            let message = value.get("error").and_then(Value::as_str).unwrap_or("no error message");
            bail!("server answered {status}: {message}");
        }
        Ok(value)
    }

    pub fn get(&self, path: &str) -> Result<Value> {
        self.call("GET", path, None)
    }

    pub fn post(&self, path: &str, body: Option<Value>) -> Result<Value> {
        self.call("POST", path, body)
    }

    /// Follows a Server-Sent Events route, handing each event's data to `on_data` until it returns false or the
    /// stream ends.
    pub fn follow(&self, path: &str, mut on_data: impl FnMut(&str) -> Result<bool>) -> Result<()> {
        let url = format!("{}{}", self.base, path);
        let mut response = self
            .agent
            .get(&url)
            .header("authorization", &format!("Bearer {}", self.token))
            .header("accept", "text/event-stream")
            .call()
            .with_context(|| format!("calling {url}"))?;
        let status = response.status();
        if !status.is_success() {
            let value: Value = response.body_mut().read_json().unwrap_or(Value::Null);
            let message = value.get("error").and_then(Value::as_str).unwrap_or("no error message");
            bail!("server answered {status}: {message}");
        }
        let reader = std::io::BufReader::new(response.into_body().into_reader());
        for line in std::io::BufRead::lines(reader) {
            let line = line.context("reading the live stream")?;
            if let Some(data) = line.strip_prefix("data:")
                && !on_data(data.trim_start())?
            {
                break;
            }
        }
        Ok(())
    }

    pub fn print(&self, value: &Value, human: impl FnOnce(&Value) -> String) {
        if self.json {
            println!("{value:#}");
        } else {
            print!("{}", human(value));
        }
    }
}

fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("-")
}

/// Renders an epoch-milliseconds field as UTC `YYYY-MM-DD HH:MM:SS`, or `never`.
pub fn time(v: &Value, key: &str) -> String {
    let Some(ms) = v.get(key).and_then(Value::as_i64) else { return "never".into() };
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

pub fn agents_table(v: &Value) -> String {
    let mut out = format!("{:<16} {:<20} {:<9} {:<8} {}\n", "AGENT", "HOST", "STATE", "VERSION", "LAST SEEN (UTC)");
    for a in v.as_array().into_iter().flatten() {
        let state = if !a["revoked_at"].is_null() {
            "revoked"
        } else if a["connected"].as_bool() == Some(true) {
            "online"
        } else {
            "offline"
        };
        out += &format!(
            "{:<16} {:<20} {:<9} {:<8} {}\n",
            s(a, "id"),
            s(a, "hostname"),
            state,
            s(a, "agent_version"),
            time(a, "last_seen_at")
        );
    }
    out
}

pub fn tickets_table(v: &Value) -> String {
    let mut out = format!(
        "{:>6}  {:<13} {:<4} {:<11} {:<10} {:<12} {}\n",
        "#", "STATUS", "TIER", "CATEGORY", "ASSIGNEE", "REQUESTER", "SUBJECT"
    );
    for t in v.as_array().into_iter().flatten() {
        out += &format!(
            "{:>6}  {:<13} {:<4} {:<11} {:<10} {:<12} {}\n",
            t["number"].as_i64().unwrap_or(0),
            s(t, "status"),
            t["tier"].as_i64().unwrap_or(0),
            s(t, "category"),
            s(t, "assignee"),
            s(t, "requester"),
            s(t, "subject")
        );
    }
    out
}

pub fn agent_view(v: &Value) -> String {
    let mut out = agents_table(&Value::Array(vec![v.clone()]));
    out += &format!("{} snapshot(s) stored\n", v["snapshot_count"]);
    out += &findings_list(v);
    if let Some(snap) = v.get("snapshot").filter(|s| !s.is_null()) {
        out += &snapshot_summary(snap);
    }
    out
}

fn findings_list(v: &Value) -> String {
    let findings = v["findings"].as_array().cloned().unwrap_or_default();
    let mut out = format!("\nFindings ({}):\n", findings.len());
    for f in &findings {
        out += &format!(
            "  [{}] {} ({})\n      advice: {}\n",
            s(f, "severity"),
            s(f, "summary"),
            s(f, "category"),
            s(f, "advice")
        );
    }
    out
}

/// Findings first, then the snapshot's essentials, then the conversation: the order a technician reads in.
pub fn ticket_view(v: &Value) -> String {
    let mut out = format!("Ticket #{}: {}\n", v["number"], s(v, "subject"));
    out += &format!(
        "  status {}   tier {}   category {}   assignee {}   channel {}\n",
        s(v, "status"),
        v["tier"],
        s(v, "category"),
        s(v, "assignee"),
        s(v, "channel")
    );
    out += &format!(
        "  requester {} on agent {}   opened {}\n",
        s(v, "requester"),
        s(v, "agent_id"),
        time(v, "created_at")
    );
    if !s(v, "description").is_empty() && s(v, "description") != "-" {
        out += &format!("  \"{}\"\n", s(v, "description"));
    }
    out += &findings_list(v);
    if let Some(snap) = v.get("snapshot").filter(|s| !s.is_null()) {
        out += &snapshot_summary(snap);
    }
    out += "\nHistory:\n";
    for e in v["events"].as_array().into_iter().flatten() {
        let what = match s(e, "kind") {
            "created" => "opened the ticket".to_owned(),
            "snapshot_attached" => format!("attached snapshot {}", s(e, "snapshot_id")),
            "public_reply" => format!("replied: {}", s(e, "body")),
            "requester_reply" => format!("(requester) answered: {}", s(e, "body")),
            "internal_note" => format!("internal note: {}", s(e, "body")),
            "status_changed" => format!("status {} -> {}", s(e, "from"), s(e, "to")),
            "assigned" => format!("assigned to {}", s(e, "to")),
            "escalated" => format!("escalated tier {} -> {}", e["from_tier"], e["to_tier"]),
            "check_run" => {
                let took = e["elapsed_ms"].as_i64().map(|ms| format!(" in {ms} ms")).unwrap_or_default();
                format!(
                    "ran check {} (run {}): {}{took}\n{}",
                    s(e, "check"),
                    e["run"],
                    s(e, "state"),
                    indent(s(e, "result"))
                )
            }
            other => other.to_owned(),
        };
        out += &format!("  {}  {:<10} {}\n", time(e, "at"), s(e, "actor"), what);
    }
    out
}

fn snapshot_summary(snap: &Value) -> String {
    let gib = |b: &Value| b.as_f64().unwrap_or(0.0) / (1u64 << 30) as f64;
    let host = &snap["host"];
    let mut out = format!(
        "\nSnapshot of {} ({} {}, kernel {}, up {} h, taken {}):\n",
        s(host, "hostname"),
        s(host, "os_name"),
        s(host, "os_version"),
        s(host, "kernel"),
        host["uptime_secs"].as_u64().unwrap_or(0) / 3600,
        time(snap, "taken_at_ms")
    );
    let cpu = &snap["cpu"];
    out += &format!(
        "  cpu     {:.0} % of {} cores, load {}\n",
        cpu["usage_pct"].as_f64().unwrap_or(0.0),
        cpu["logical_cores"],
        cpu["load_avg"]
    );
    let mem = &snap["memory"];
    out += &format!(
        "  memory  {:.1} of {:.1} GiB used, {:.1} GiB available\n",
        gib(&mem["used_bytes"]),
        gib(&mem["total_bytes"]),
        gib(&mem["available_bytes"])
    );
    for d in snap["disks"].as_array().into_iter().flatten() {
        out += &format!(
            "  disk    {} {:.1} GiB free of {:.1} GiB ({})\n",
            s(d, "mount_point"),
            gib(&d["available_bytes"]),
            gib(&d["total_bytes"]),
            s(d, "file_system")
        );
    }
    let net = &snap["network"];
    let route = &net["default_route"];
    out += &if route.is_null() {
        "  route   none\n".to_owned()
    } else {
        format!("  route   via {} on {}\n", s(route, "gateway"), s(route, "interface"))
    };
    out += &format!("  dns     {}\n", net["dns_servers"]);
    for p in net["probes"].as_array().into_iter().flatten() {
        out += &format!(
            "  probe   {} {} {} {}\n",
            s(p, "kind"),
            s(p, "target"),
            if p["ok"].as_bool() == Some(true) { "ok" } else { "FAILED" },
            s(p, "detail")
        );
    }
    out += &format!("  procs   {} running; top cpu:", snap["processes"]["count"]);
    for p in snap["processes"]["top_cpu"].as_array().into_iter().flatten().take(3) {
        out += &format!(" {} ({:.0} %)", s(p, "name"), p["cpu_pct"].as_f64().unwrap_or(0.0));
    }
    out += "\n";
    out
}

pub fn action(client: &Client, number: u64, body: Value) -> Result<()> {
    let ticket = client.post(&format!("/api/tickets/{number}/actions"), Some(body))?;
    client.print(&ticket, |t| {
        format!("#{} is {} (tier {}, assignee {})\n", t["number"], s(t, "status"), t["tier"], s(t, "assignee"))
    });
    Ok(())
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("      | {l}\n")).collect::<String>().trim_end().to_owned()
}

pub fn catalog_table(v: &Value) -> String {
    let mut out = format!("{:<20} {:<5} {:<4} {:<40} {}\n", "CHECK", "CLASS", "TIER", "PARAMETERS", "WHAT IT TELLS");
    for c in v.as_array().into_iter().flatten() {
        let params: Vec<String> = c["params"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|p| format!("{}=<{}>", s(p, "name"), s(p, "accepts")))
            .collect();
        out += &format!(
            "{:<20} {:<5} {:<4} {:<40} {}\n",
            s(c, "name"),
            s(c, "class"),
            c["min_tier"],
            if params.is_empty() { "-".to_owned() } else { params.join(" ") },
            s(c, "summary")
        );
    }
    out
}

pub fn check_run_view(v: &Value) -> String {
    let ticket = v["ticket"].as_i64().map_or_else(|| "no ticket".to_owned(), |t| format!("ticket #{t}"));
    let mut out = format!(
        "run {}: {} on {} for {} by {}: {}\n",
        v["id"],
        s(v, "description"),
        s(v, "agent_id"),
        ticket,
        s(v, "technician"),
        s(v, "state")
    );
    match s(v, "state") {
        "queued" => out += &format!("  waiting for the agent to connect (until {} UTC)\n", time(v, "expires_at")),
        "sent" => out += "  the agent is running it\n",
        "done" => {
            out += &format!("  took {} ms\n", v["elapsed_ms"]);
            out += s(v, "result");
            if !out.ends_with('\n') {
                out.push('\n');
            }
        }
        _ => out += &format!("  {}\n", s(v, "result")),
    }
    out
}

pub fn audit_verdict(v: &Value) -> String {
    match v.get("broken").filter(|b| !b.is_null()) {
        Some(b) => {
            format!("BROKEN at entry {}: {}\n{} entries before it verify.\n", b["seq"], s(b, "reason"), v["entries"])
        }
        None => format!("audit log intact: {} entries, head {}\n", v["entries"], s(v, "head")),
    }
}

/// One live sample as a screenful, top-like: the caller clears the screen before printing it.
pub fn live_view(agent: &str, v: &Value, findings: &Value) -> String {
    let f = |v: &Value| v.as_f64().unwrap_or(0.0);
    let mib = |v: &Value| f(v) / 1048576.0;
    let mut out = format!("Live: {agent}   sample {}   {} UTC   (q to quit)\n\n", v["seq"], time(v, "taken_at_ms"));
    out += &format!(
        "cpu   {:5.1} %   load {:.2} {:.2} {:.2}\n",
        f(&v["cpu_pct"]),
        f(&v["load_avg"][0]),
        f(&v["load_avg"][1]),
        f(&v["load_avg"][2])
    );
    for finding in findings.as_array().into_iter().flatten() {
        out += &format!("  ! {:<8} {}\n", s(finding, "severity"), s(finding, "summary"));
    }
    for (i, core) in v["per_core_pct"].as_array().into_iter().flatten().enumerate() {
        let pct = f(core).clamp(0.0, 100.0);
        out += &format!("  core {i:<3} [{:<20}] {pct:5.1} %\n", "#".repeat((pct / 5.0).round() as usize));
    }
    out += &format!(
        "mem   {:.0} of {:.0} MiB   swap {:.0} of {:.0} MiB\n\nnet\n",
        mib(&v["memory_used_bytes"]),
        mib(&v["memory_total_bytes"]),
        mib(&v["swap_used_bytes"]),
        mib(&v["swap_total_bytes"])
    );
    for n in v["net"].as_array().into_iter().flatten() {
        out += &format!(
            "  {:<12} rx {:>10.1} KiB/s  tx {:>10.1} KiB/s  errors {}/{}\n",
            s(n, "interface"),
            f(&n["rx_bytes_per_s"]) / 1024.0,
            f(&n["tx_bytes_per_s"]) / 1024.0,
            n["rx_errors"],
            n["tx_errors"]
        );
    }
    out += "disks\n";
    for d in v["disks"].as_array().into_iter().flatten() {
        out += &format!(
            "  {:<20} read {:>10.1} KiB/s  write {:>10.1} KiB/s\n",
            s(d, "mount_point"),
            f(&d["read_bytes_per_s"]) / 1024.0,
            f(&d["written_bytes_per_s"]) / 1024.0
        );
    }
    for (title, key) in [("top by cpu", "top_cpu"), ("top by memory", "top_memory")] {
        out += &format!("{title}\n");
        for p in v[key].as_array().into_iter().flatten() {
            out += &format!(
                "  {:>7} {:<10} {:5.1} % {:>8.1} MiB  {}\n",
                p["pid"].as_u64().unwrap_or(0),
                s(p, "user"),
                f(&p["cpu_pct"]),
                mib(&p["rss_bytes"]),
                s(p, "name")
            );
        }
    }
    out
}

pub fn self_help_view(v: &Value) -> String {
    let f = &v["figures"];
    let (shown, solved) = (f["shown"].as_i64().unwrap_or(0), f["solved"].as_i64().unwrap_or(0));
    let pct = if shown > 0 { format!(" ({:.0} %)", solved as f64 * 100.0 / shown as f64) } else { String::new() };
    format!(
        "Last {} days: self-help advice shown {shown} times; solved without a request {solved}{pct}; followed by a \
         request {}\n",
        v["days"], f["asked_for_help"]
    )
}

pub fn diff_view(v: &Value) -> String {
    let mut out = format!(
        "From snapshot {} ({} UTC) to {} ({} UTC):\n",
        s(&v["from"], "id"),
        time(&v["from"], "taken_at_ms"),
        s(&v["to"], "id"),
        time(&v["to"], "taken_at_ms")
    );
    let changes = v["changes"].as_array().cloned().unwrap_or_default();
    if changes.is_empty() {
        out += "  nothing a technician would act on changed\n";
    }
    for c in &changes {
        out += &format!("  {:<10} {}\n", s(c, "area"), s(c, "what"));
    }
    out
}

/// A full-screen view on a terminal: key presses arrive one by one without echo, so 'q' (or Ctrl-C, which arrives as
/// a key too) quits at once, and the terminal is left as it was found, whichever way the view ends.
pub struct Screen {
    saved: nix::sys::termios::Termios,
}

impl Screen {
    /// `None` when stdin or stdout is not a terminal: then there are no keys to read and nothing to restore.
    pub fn enter() -> Option<Screen> {
        use nix::sys::termios::{LocalFlags, SetArg, SpecialCharacterIndices, tcgetattr, tcsetattr};
        use std::io::IsTerminal;
        if !std::io::stdin().is_terminal() || !std::io::stdout().is_terminal() {
            return None;
        }
        let saved = tcgetattr(std::io::stdin()).ok()?;
        let mut keys = saved.clone();
        keys.local_flags.remove(LocalFlags::ICANON | LocalFlags::ECHO | LocalFlags::ISIG);
        keys.control_chars[SpecialCharacterIndices::VMIN as usize] = 1;
        keys.control_chars[SpecialCharacterIndices::VTIME as usize] = 0;
        tcsetattr(std::io::stdin(), SetArg::TCSANOW, &keys).ok()?;
        // The alternate screen, cursor hidden: quitting gives the user back the terminal they had.
        print!("\x1b[?1049h\x1b[?25l");
        let screen = Screen { saved };
        let restore = screen.saved.clone();
        std::thread::spawn(move || {
            let mut key = [0u8; 1];
            while std::io::Read::read(&mut std::io::stdin(), &mut key).is_ok_and(|n| n == 1) {
                if matches!(key[0], b'q' | b'Q' | 0x03) {
                    leave(&restore);
                    std::process::exit(0);
                }
            }
        });
        Some(screen)
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        leave(&self.saved);
    }
}

fn leave(saved: &nix::sys::termios::Termios) {
    print!("\x1b[?25h\x1b[?1049l");
    let _ = std::io::Write::flush(&mut std::io::stdout());
    let _ = nix::sys::termios::tcsetattr(std::io::stdin(), nix::sys::termios::SetArg::TCSANOW, saved);
}
