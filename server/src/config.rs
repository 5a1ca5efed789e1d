//! The server's configuration: a TOML file, then flags; validated before any socket is bound.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::desk::policy::{Escalation, MailDesk, Policy, Sla, SlaRule, valid_email};
use crate::desk::priority::{Level, Matrix};
use crate::desk::sla::{self, Alert, Calendar, ClockKind, Targets};
use crate::desk::tickets::Channel;
use crate::desk::webhooks::{self, Block};

pub const DEFAULT_PORT: u16 = 7443;

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Holds the database and the CA; its `pki/` is private to the server's user.
    pub data_dir: PathBuf,
    /// UDP address of the QUIC endpoint agents connect to.
    pub quic_listen: SocketAddr,
    /// TCP address of the HTTPS API; the same port number as QUIC by default, as HTTP/3 servers do.
    pub api_listen: SocketAddr,
    /// `host:port` written into enrollment tokens: where agents dial, which may differ from the listen address.
    pub advertise: Option<String>,
    /// Extra DNS names or IPs for the server certificate, for technicians reaching the API by name.
    pub tls_names: Vec<String>,
    pub heartbeat_secs: u32,
    /// Agents this server takes back per second after a restart: its goodbye asks them to spread their return over
    /// connected agents / this many seconds. A 2-core server resuming its agents' TLS sessions took back 1,000 to
    /// 1,550 a second with the load generator's own handshakes on the same two cores (BENCHMARKS.md); raise it on
    /// bigger hardware.
    pub reconnects_per_sec: u32,
    /// How often the running server signs the audit chain's head into the checkpoint file; `None` takes none.
    pub checkpoint_every: Option<Duration>,
    /// Where checkpoints are appended (default: `audit-checkpoints.jsonl` in the data directory).
    pub checkpoint_file: Option<PathBuf>,
    /// What the store deletes as it ages, and how often it looks; `None` deletes nothing.
    pub retention: Option<Retention>,
    /// `[desk]` and `[sla]`: the help desk's priority matrix, resolution codes and service levels.
    pub desk: Policy,
    /// How often the server looks for SLA warnings and breaches that came due, and for tickets pending until a
    /// date that came.
    pub sla_pass_every: Duration,
    /// `[webhooks]`: where deliveries may go, how often they are retried, how long a receiver may take.
    pub webhooks: Webhooks,
    /// Where Prometheus text is also served over plain HTTP without a token (`/metrics`), for a scraper on a trusted
    /// network; the API's `/metrics` takes a token either way.
    pub metrics_listen: Option<SocketAddr>,
    /// `[mail.smtp]`: where the e-mail channel's mail is sent; none, it waits in the outbox.
    pub smtp: Option<Smtp>,
    /// `[mail.imap]`: the mailbox the e-mail channel reads; none, mail arrives only through the pipe endpoint.
    pub imap: Option<Imap>,
}

/// How a mail connection is protected: TLS from the start, STARTTLS, or nothing (a server on loopback).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MailTls {
    Tls,
    Starttls,
    None,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Smtp {
    pub host: String,
    pub port: u16,
    pub tls: MailTls,
    /// Who to log in as; the password is read from `password_file` at each connection, so it can be rotated.
    pub user: Option<String>,
    pub password_file: Option<PathBuf>,
    /// Waits between attempts at a message the server did not take; after the last, it is given up (logged).
    pub retry: Vec<Duration>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Imap {
    pub host: String,
    pub port: u16,
    pub tls: MailTls,
    pub user: String,
    pub password_file: PathBuf,
    pub mailbox: String,
    /// How often the mailbox is looked at when the server offers no IDLE, and how long one IDLE lasts at most.
    pub poll_every: Duration,
}

/// `[webhooks]` (packaging/server.toml says what each setting means to an admin).
#[derive(Debug, Clone, PartialEq)]
pub struct Webhooks {
    /// Private, loopback and link-local blocks deliveries may go to anyway (a receiver on the same network).
    pub allow: Vec<Block>,
    /// The waits between attempts; the Standard Webhooks schedule unless set.
    pub retry: Vec<Duration>,
    /// How long one attempt may take, connection to answer.
    pub timeout: Duration,
}

impl Default for Webhooks {
    fn default() -> Self {
        Webhooks { allow: Vec::new(), retry: webhooks::SCHEDULE.to_vec(), timeout: Duration::from_secs(15) }
    }
}

/// `[retention]`: what is deleted once it is old, applied by a pass every `interval` in transactions of at most
/// `batch` rows (packaging/server.toml says what each setting means to an admin).
#[derive(Debug, Clone, PartialEq)]
pub struct Retention {
    /// A routine snapshot older than this many days is deleted.
    pub snapshot_days: u32,
    /// A routine snapshot with this many newer ones of its agent is deleted, however young.
    pub snapshots_per_agent: u32,
    /// A check run that ended this many days ago is deleted, unless it was run for a ticket.
    pub check_run_days: u32,
    /// An expired enrollment or API token is deleted this many days after it expired.
    pub token_days: u32,
    pub interval: Duration,
    pub batch: u32,
}

impl Default for Retention {
    /// A month of each machine's history, and no more than 2,000 snapshots of it, which at the agent's default of one
    /// every 5 minutes is a week; a quarter of check runs; a week in which an expired token is still refused as
    /// expired rather than as unknown.
    fn default() -> Self {
        Retention {
            snapshot_days: 30,
            snapshots_per_agent: 2_000,
            check_run_days: 90,
            token_days: 7,
            interval: Duration::from_secs(600),
            batch: 500,
        }
    }
}

/// An hour: what an attacker who cuts the chain back can hide at most from a checkpoint, for one small signed line.
const CHECKPOINT_EVERY: Duration = Duration::from_secs(3600);

impl Default for Config {
    fn default() -> Self {
        let any = SocketAddr::from(([0, 0, 0, 0], DEFAULT_PORT));
        Config {
            data_dir: PathBuf::from("lifeline-data"),
            quic_listen: any,
            api_listen: any,
            advertise: None,
            tls_names: Vec::new(),
            heartbeat_secs: 15,
            reconnects_per_sec: 2_000,
            checkpoint_every: Some(CHECKPOINT_EVERY),
            checkpoint_file: None,
            retention: Some(Retention::default()),
            desk: Policy::default(),
            sla_pass_every: Duration::from_secs(30),
            webhooks: Webhooks::default(),
            metrics_listen: None,
            smtp: None,
            imap: None,
        }
    }
}

/// The file's form: every key optional, unknown keys refused so a typo is an error rather than a silent default.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct File {
    data_dir: Option<PathBuf>,
    quic_listen: Option<SocketAddr>,
    api_listen: Option<SocketAddr>,
    advertise: Option<String>,
    tls_names: Option<Vec<String>>,
    heartbeat_secs: Option<u32>,
    reconnects_per_sec: Option<u32>,
    audit: Option<AuditFile>,
    retention: Option<RetentionFile>,
    desk: Option<DeskFile>,
    sla: Option<SlaFile>,
    webhooks: Option<WebhooksFile>,
    mail: Option<MailFile>,
    metrics_listen: Option<SocketAddr>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MailFile {
    address: String,
    name: Option<String>,
    domain: Option<String>,
    also: Option<Vec<String>>,
    acknowledge: Option<bool>,
    new_tickets_per_hour: Option<u32>,
    max_attachment_mib: Option<u32>,
    smtp: Option<SmtpFile>,
    imap: Option<ImapFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SmtpFile {
    host: String,
    port: Option<u16>,
    tls: Option<MailTls>,
    user: Option<String>,
    password_file: Option<PathBuf>,
    retry: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ImapFile {
    host: String,
    port: Option<u16>,
    tls: Option<MailTls>,
    user: String,
    password_file: PathBuf,
    mailbox: Option<String>,
    poll_every: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct WebhooksFile {
    allow: Option<Vec<String>>,
    retry: Option<Vec<String>>,
    timeout: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct SlaFile {
    /// An IANA zone name; UTC by default.
    timezone: Option<String>,
    /// By weekday (`mon` .. `sun`): one range such as "09:00-17:00" or a list of them. Without it, all day, every
    /// day.
    hours: Option<std::collections::BTreeMap<String, Hours>>,
    /// Dates without business hours, as "2026-12-25".
    holidays: Option<Vec<String>>,
    warn_before: Option<String>,
    pass_every: Option<String>,
    policy: Option<Vec<SlaRuleFile>>,
    escalation: Option<Vec<EscalationFile>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EscalationFile {
    at: Alert,
    clock: Option<ClockKind>,
    tier: Option<u8>,
    supervisor: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Hours {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SlaRuleFile {
    name: String,
    #[serde(default)]
    priority: Vec<Level>,
    #[serde(default)]
    channel: Vec<Channel>,
    #[serde(default)]
    category: Vec<String>,
    first_response: Option<String>,
    next_response: Option<String>,
    resolution: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct DeskFile {
    resolution_codes: Option<Vec<String>>,
    /// One row per urgency, each the priorities for impact low, medium, high and critical.
    priority: Option<MatrixFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MatrixFile {
    low: [Level; 4],
    medium: [Level; 4],
    high: [Level; 4],
    critical: [Level; 4],
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct AuditFile {
    /// `90s`, `30m`, `1h`, `1d`, or `off`.
    checkpoint_every: Option<String>,
    checkpoint_file: Option<PathBuf>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RetentionFile {
    snapshot_days: Option<u32>,
    snapshots_per_agent: Option<u32>,
    check_run_days: Option<u32>,
    token_days: Option<u32>,
    /// `90s`, `30m`, `1h`, `1d`, or `off`.
    interval: Option<String>,
    batch: Option<u32>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("reading {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("{0}")]
    Invalid(String),
}

/// Values given on the command line, which win over the file.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub data_dir: Option<PathBuf>,
    pub quic_listen: Option<SocketAddr>,
    pub api_listen: Option<SocketAddr>,
    pub advertise: Option<String>,
}

impl Config {
    pub fn load(path: Option<&Path>, overrides: Overrides) -> Result<Config, ConfigError> {
        let file: File = match path {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|source| ConfigError::Read { path: path.to_owned(), source })?;
                Self::parse(&text).map_err(|message| ConfigError::Parse { path: path.to_owned(), message })?
            }
            None => File::default(),
        };
        let d = Config::default();
        let audit = file.audit.unwrap_or_default();
        let checkpoint_every = match audit.checkpoint_every.as_deref() {
            None => d.checkpoint_every,
            Some("off") => None,
            Some(text) => {
                Some(every(text).map_err(|e| ConfigError::Invalid(format!("[audit] checkpoint_every: {e}")))?)
            }
        };
        let retention = retention(file.retention.unwrap_or_default())?;
        let mut desk = desk(file.desk.unwrap_or_default())?;
        let sla_file = file.sla.unwrap_or_default();
        let sla_pass_every = match sla_file.pass_every.as_deref() {
            None => d.sla_pass_every,
            Some(text) => every(text).map_err(|e| ConfigError::Invalid(format!("[sla] pass_every: {e}")))?,
        };
        desk.sla = sla(sla_file)?;
        let webhooks = webhooks_of(file.webhooks.unwrap_or_default())?;
        let (mail, smtp, imap) = match file.mail {
            Some(m) => mail_of(m)?,
            None => (None, None, None),
        };
        desk.mail = mail;
        let config = Config {
            data_dir: overrides.data_dir.or(file.data_dir).unwrap_or(d.data_dir),
            quic_listen: overrides.quic_listen.or(file.quic_listen).unwrap_or(d.quic_listen),
            api_listen: overrides.api_listen.or(file.api_listen).unwrap_or(d.api_listen),
            advertise: overrides.advertise.or(file.advertise),
            tls_names: file.tls_names.unwrap_or_default(),
            heartbeat_secs: file.heartbeat_secs.unwrap_or(d.heartbeat_secs),
            reconnects_per_sec: file.reconnects_per_sec.unwrap_or(d.reconnects_per_sec),
            checkpoint_every,
            checkpoint_file: audit.checkpoint_file,
            retention,
            desk,
            sla_pass_every,
            webhooks,
            metrics_listen: file.metrics_listen,
            smtp,
            imap,
        };
        config.validate()?;
        Ok(config)
    }

    fn parse(text: &str) -> Result<File, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if !(1..=3600).contains(&self.heartbeat_secs) {
            return Err(ConfigError::Invalid("heartbeat_secs must be between 1 and 3600".into()));
        }
        if self.reconnects_per_sec == 0 {
            return Err(ConfigError::Invalid("reconnects_per_sec must be at least 1".into()));
        }
        if let Some(a) = &self.advertise
            && a.rsplit_once(':').and_then(|(_, p)| p.parse::<u16>().ok()).is_none()
        {
            return Err(ConfigError::Invalid(format!("advertise must be host:port, got {a:?}")));
        }
        Ok(())
    }

    pub fn db_path(&self) -> PathBuf {
        self.data_dir.join("lifeline.db")
    }

    pub fn pki_dir(&self) -> PathBuf {
        self.data_dir.join("pki")
    }

    pub fn checkpoint_file(&self) -> PathBuf {
        self.checkpoint_file.clone().unwrap_or_else(|| self.data_dir.join(CHECKPOINT_FILE))
    }
}

/// The checkpoint file's name in the data directory, where it is unless the configuration puts it elsewhere.
pub const CHECKPOINT_FILE: &str = "audit-checkpoints.jsonl";

/// The `[retention]` table over the defaults; `interval = "off"` turns retention off.
fn retention(file: RetentionFile) -> Result<Option<Retention>, ConfigError> {
    let d = Retention::default();
    let invalid = |e: String| ConfigError::Invalid(format!("[retention] {e}"));
    let interval = match file.interval.as_deref() {
        None => d.interval,
        Some("off") => return Ok(None),
        Some(text) => every(text).map_err(|e| invalid(format!("interval: {e}")))?,
    };
    let r = Retention {
        snapshot_days: file.snapshot_days.unwrap_or(d.snapshot_days),
        snapshots_per_agent: file.snapshots_per_agent.unwrap_or(d.snapshots_per_agent),
        check_run_days: file.check_run_days.unwrap_or(d.check_run_days),
        token_days: file.token_days.unwrap_or(d.token_days),
        interval,
        batch: file.batch.unwrap_or(d.batch),
    };
    // A limit of 0 would delete nearly everything at each pass; turning retention off is `interval = "off"`.
    for (name, value) in [
        ("snapshot_days", r.snapshot_days),
        ("snapshots_per_agent", r.snapshots_per_agent),
        ("check_run_days", r.check_run_days),
    ] {
        if value == 0 {
            return Err(invalid(format!("{name} must be at least 1")));
        }
    }
    // Each batch is one job of the writer's, which every snapshot's acknowledgement waits behind.
    if !(1..=MAX_BATCH).contains(&r.batch) {
        return Err(invalid(format!("batch must be between 1 and {MAX_BATCH}")));
    }
    Ok(Some(r))
}

fn desk(file: DeskFile) -> Result<Policy, ConfigError> {
    let d = Policy::default();
    let matrix = file.priority.map_or(d.matrix, |m| Matrix::from_rows([m.low, m.medium, m.high, m.critical]));
    let resolution_codes = file.resolution_codes.unwrap_or(d.resolution_codes);
    if resolution_codes.is_empty() {
        return Err(ConfigError::Invalid("[desk] resolution_codes needs at least one code".into()));
    }
    for code in &resolution_codes {
        if code.is_empty() || code.len() > 64 || !code.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Err(ConfigError::Invalid(format!(
                "[desk] resolution code {code:?}: use 1 to 64 letters, digits and hyphens, as in \"fixed-remotely\""
            )));
        }
    }
    Ok(Policy { matrix, resolution_codes, sla: Sla::default(), mail: None })
}

fn sla(file: SlaFile) -> Result<Sla, ConfigError> {
    let invalid = |e: String| ConfigError::Invalid(format!("[sla] {e}"));
    let d = Sla::default();
    let ms = |what: &str, text: &str| -> Result<i64, ConfigError> {
        let span = every(text).map_err(|e| invalid(format!("{what}: {e}")))?;
        Ok(i64::try_from(span.as_millis()).unwrap_or(i64::MAX))
    };
    let calendar = if file.timezone.is_none() && file.hours.is_none() && file.holidays.is_none() {
        d.calendar
    } else {
        let mut week: [Vec<(u16, u16)>; 7] = Default::default();
        match file.hours {
            None => week = std::array::from_fn(|_| vec![(0, 24 * 60)]),
            Some(hours) => {
                for (day, ranges) in hours {
                    let index = sla::parse_weekday(&day).map_err(|e| invalid(e.to_string()))?;
                    let ranges = match ranges {
                        Hours::One(r) => vec![r],
                        Hours::Many(rs) => rs,
                    };
                    for r in ranges {
                        week[index].push(sla::parse_hours(&r).map_err(|e| invalid(e.to_string()))?);
                    }
                }
            }
        }
        let holidays = file
            .holidays
            .unwrap_or_default()
            .iter()
            .map(|h| {
                h.parse::<jiff::civil::Date>()
                    .map_err(|_| invalid(format!("holiday {h:?} is not a date such as 2026-12-25")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let zone = file.timezone.as_deref().unwrap_or("UTC");
        Calendar::new(zone, week, holidays).map_err(|e| invalid(e.to_string()))?
    };
    let mut rules = Vec::new();
    for r in file.policy.unwrap_or_default() {
        let target = |what: &str, t: &Option<String>| {
            t.as_deref().map(|t| ms(&format!("policy {:?} {what}", r.name), t)).transpose()
        };
        let targets = Targets {
            first_response_ms: target("first_response", &r.first_response)?,
            next_response_ms: target("next_response", &r.next_response)?,
            resolution_ms: target("resolution", &r.resolution)?,
        };
        if targets == Targets::default() {
            return Err(invalid(format!(
                "policy {:?} sets no target: give first_response, next_response or resolution",
                r.name
            )));
        }
        rules.push(SlaRule {
            name: r.name,
            priorities: r.priority,
            channels: r.channel,
            categories: r.category,
            targets,
        });
    }
    let warn_before_ms = match file.warn_before.as_deref() {
        None => d.warn_before_ms,
        Some(text) => ms("warn_before", text)?,
    };
    let mut escalations = Vec::new();
    for e in file.escalation.unwrap_or_default() {
        if e.tier.is_some_and(|t| !(2..=3).contains(&t)) {
            return Err(invalid("escalation tier must be 2 or 3".into()));
        }
        if e.tier.is_none() && e.supervisor.is_none() {
            return Err(invalid(
                "an escalation needs a tier to raise the ticket to, a supervisor to tell, or both".into(),
            ));
        }
        escalations.push(Escalation { at: e.at, clock: e.clock, tier: e.tier, supervisor: e.supervisor });
    }
    Ok(Sla { calendar, rules, warn_before_ms, escalations })
}

fn webhooks_of(file: WebhooksFile) -> Result<Webhooks, ConfigError> {
    let invalid = |e: String| ConfigError::Invalid(format!("[webhooks] {e}"));
    let d = Webhooks::default();
    let allow = file.allow.unwrap_or_default().iter().map(|b| Block::parse(b)).collect::<Result<_, _>>();
    let retry = match file.retry {
        None => d.retry,
        Some(waits) => {
            waits.iter().map(|w| every(w)).collect::<Result<_, _>>().map_err(|e| invalid(format!("retry: {e}")))?
        }
    };
    let timeout = match file.timeout.as_deref() {
        None => d.timeout,
        Some(t) => every(t)
            .ok()
            .filter(|t| t.as_secs() <= 60)
            .ok_or_else(|| invalid(format!("timeout {t:?} must be 1s to 60s")))?,
    };
    Ok(Webhooks { allow: allow.map_err(|e| invalid(format!("allow: {e}")))?, retry, timeout })
}

/// The SMTP server's waits between attempts unless set: a mail server down for a day loses nothing.
const SMTP_RETRY: [Duration; 8] = [
    Duration::from_secs(60),
    Duration::from_secs(5 * 60),
    Duration::from_secs(15 * 60),
    Duration::from_secs(3600),
    Duration::from_secs(4 * 3600),
    Duration::from_secs(12 * 3600),
    Duration::from_secs(24 * 3600),
    Duration::from_secs(24 * 3600),
];

/// `[mail]` read: who the desk is by mail, and where it sends and reads.
type MailSettings = (Option<MailDesk>, Option<Smtp>, Option<Imap>);

fn mail_of(file: MailFile) -> Result<MailSettings, ConfigError> {
    let invalid = |e: String| ConfigError::Invalid(format!("[mail] {e}"));
    let address = file.address.trim().to_ascii_lowercase();
    if !valid_email(&address) {
        return Err(invalid(format!("address {address:?} is not an e-mail address")));
    }
    let also: Vec<String> = file.also.unwrap_or_default().iter().map(|a| a.trim().to_ascii_lowercase()).collect();
    if let Some(bad) = also.iter().find(|a| !valid_email(a)) {
        return Err(invalid(format!("also: {bad:?} is not an e-mail address")));
    }
    let domain = match file.domain {
        Some(d) => d,
        None => address.rsplit_once('@').map(|(_, d)| d.to_owned()).unwrap_or_default(),
    };
    if domain.is_empty() || !domain.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-') {
        return Err(invalid(format!("domain {domain:?} is not a domain name")));
    }
    let mib = file.max_attachment_mib.unwrap_or(25);
    if !(1..=40).contains(&mib) {
        return Err(invalid("max_attachment_mib must be 1 to 40".into()));
    }
    let desk = MailDesk {
        address,
        name: file.name,
        domain,
        also,
        acknowledge: file.acknowledge.unwrap_or(true),
        new_tickets_per_hour: file.new_tickets_per_hour.unwrap_or(5).max(1),
        max_attachment: (mib as usize) << 20,
    };
    let smtp = file
        .smtp
        .map(|s| {
            let retry = match s.retry {
                None => SMTP_RETRY.to_vec(),
                Some(waits) => waits
                    .iter()
                    .map(|w| every(w))
                    .collect::<Result<_, _>>()
                    .map_err(|e| invalid(format!("smtp retry: {e}")))?,
            };
            let tls = s.tls.unwrap_or(MailTls::Starttls);
            let port = s.port.unwrap_or(match tls {
                MailTls::Tls => 465,
                MailTls::Starttls => 587,
                MailTls::None => 25,
            });
            if s.user.is_some() != s.password_file.is_some() {
                return Err(invalid("smtp: user and password_file go together".into()));
            }
            Ok(Smtp { host: s.host, port, tls, user: s.user, password_file: s.password_file, retry })
        })
        .transpose()?;
    let imap = file
        .imap
        .map(|i| {
            let tls = i.tls.unwrap_or(MailTls::Tls);
            let poll_every = match i.poll_every.as_deref() {
                None => Duration::from_secs(60),
                Some(t) => every(t).map_err(|e| invalid(format!("imap poll_every: {e}")))?,
            };
            Ok(Imap {
                host: i.host,
                port: i.port.unwrap_or(if tls == MailTls::Tls { 993 } else { 143 }),
                tls,
                user: i.user,
                password_file: i.password_file,
                mailbox: i.mailbox.unwrap_or_else(|| "INBOX".into()),
                poll_every,
            })
        })
        .transpose()?;
    Ok((Some(desk), smtp, imap))
}

/// The most rows one retention transaction may delete: 10,000 snapshots spread over 500 agents took about a second
/// to delete on the 2-core build machine under load, a second in which no snapshot is acknowledged.
const MAX_BATCH: u32 = 10_000;

/// `90s`, `30m`, `1h` or `1d`: at least a second and at most a week.
fn every(text: &str) -> Result<Duration, String> {
    let (digits, unit) = text.split_at(text.len().saturating_sub(1));
    let unit_secs = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("{text:?} needs a unit: s, m, h or d (or \"off\")")),
    };
    let n: u64 = digits.parse().map_err(|_| format!("{text:?} is not like 30m, 1h or 1d"))?;
    let secs = n.saturating_mul(unit_secs);
    if !(1..=7 * 86_400).contains(&secs) {
        return Err(format!("{text:?} must be between 1s and 7d"));
    }
    Ok(Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_packaged_example_parses() {
        let text = include_str!("../../packaging/server.toml");
        let file = Config::parse(text).unwrap();
        assert_eq!(file.data_dir.as_deref(), Some(Path::new("/var/lib/lifeline-server")));
        let audit = file.audit.unwrap();
        assert_eq!(every(audit.checkpoint_every.as_deref().unwrap()), Ok(CHECKPOINT_EVERY));
        let shipped = retention(file.retention.unwrap()).unwrap();
        assert_eq!(shipped, Some(Retention::default()), "the example states the defaults");
        assert_eq!(desk(file.desk.unwrap()).unwrap(), Policy::default(), "the example states the desk's defaults");
    }

    #[test]
    fn the_packaged_sla_example_works_once_uncommented() {
        let uncommented = packaged_section("# [sla]");
        let sla = sla(Config::parse(&uncommented).unwrap().sla.unwrap()).unwrap();
        assert_eq!(sla.rules.len(), 2);
        assert_eq!(sla.rules[0].targets.resolution_ms, Some(4 * 3_600_000));
        assert_eq!(sla.warn_before_ms, 30 * 60_000);
        assert_eq!(
            sla.escalations[1],
            Escalation {
                at: Alert::Breach,
                clock: Some(ClockKind::Resolution),
                tier: Some(2),
                supervisor: Some("tier2-lead".into())
            }
        );
        // Friday 2026-12-04 11:00 to 14:00 in Amsterdam holds two business hours: the lunch hour is out.
        let (from, to) = (1_796_378_400_000, 1_796_389_200_000);
        assert_eq!(sla.calendar.business_ms(from, to), 2 * 3_600_000);
        assert_eq!(Config::default().desk.sla.rules, Vec::new(), "no policies unless the help desk states them");
    }

    #[test]
    fn bad_sla_settings_are_refused_with_what_is_wrong() {
        let cases = [
            ("[sla]\ntimezone = \"Mars/Olympus\"", "unknown time zone"),
            ("[sla.hours]\nmon = \"17:00-09:00\"", "business hours"),
            ("[sla.hours]\nfunday = \"09:00-17:00\"", "unknown weekday"),
            ("[sla]\nholidays = [\"25/12\"]", "not a date"),
            ("[[sla.policy]]\nname = \"x\"", "sets no target"),
            ("[[sla.policy]]\nname = \"x\"\nresolution = \"4\"", "needs a unit"),
            ("[[sla.escalation]]\nat = \"breach\"\ntier = 4", "tier must be 2 or 3"),
            ("[[sla.escalation]]\nat = \"breach\"", "needs a tier"),
        ];
        for (text, wanted) in cases {
            let error = sla(Config::parse(text).unwrap().sla.unwrap()).unwrap_err().to_string();
            assert!(error.contains(wanted), "{text}: {error}");
        }
    }

    /// A commented-out section of the packaged example, from `marker` to the blank line that ends it, uncommented.
    fn packaged_section(marker: &str) -> String {
        let text = include_str!("../../packaging/server.toml");
        let start = text.find(marker).unwrap();
        let end = text[start..].find("\n\n").map_or(text.len(), |e| start + e);
        text[start..end].lines().map(|l| l.strip_prefix("# ").unwrap_or(l)).collect::<Vec<_>>().join("\n")
    }

    #[test]
    fn mail_settings_are_read_with_defaults_and_bad_ones_refused() {
        let section = packaged_section("# [mail]");
        let (desk, smtp, imap) = mail_of(Config::parse(&section).unwrap().mail.unwrap()).unwrap();
        let desk = desk.unwrap();
        assert_eq!((desk.address.as_str(), desk.domain.as_str()), ("helpdesk@example.org", "example.org"));
        assert_eq!((desk.new_tickets_per_hour, desk.max_attachment), (5, 25 << 20));
        assert_eq!(desk.ours(), ["helpdesk@example.org", "it@example.org"]);
        let smtp = smtp.unwrap();
        assert_eq!((smtp.port, smtp.tls, smtp.retry.len()), (587, MailTls::Starttls, SMTP_RETRY.len()));
        assert_eq!(imap.unwrap().poll_every, Duration::from_secs(60));
        let bare = mail_of(Config::parse("[mail]\naddress = \"Desk@Example.ORG\"").unwrap().mail.unwrap()).unwrap();
        assert_eq!(bare.0.unwrap().address, "desk@example.org");
        assert_eq!((bare.1, bare.2), (None, None));
        for (text, says) in [
            ("[mail]\naddress = \"helpdesk\"", "is not an e-mail address"),
            ("[mail]\naddress = \"a@b.org\"\nalso = [\"x\"]", "also: \"x\""),
            ("[mail]\naddress = \"a@b.org\"\nmax_attachment_mib = 100", "1 to 40"),
            ("[mail]\naddress = \"a@b.org\"\n[mail.smtp]\nhost = \"h\"\nuser = \"u\"", "go together"),
            ("[mail]\naddress = \"a@b.org\"\n[mail.smtp]\nhost = \"h\"\nretry = [\"x\"]", "smtp retry"),
            (
                "[mail]\naddress = \"a@b.org\"\n[mail.imap]\nhost = \"h\"\nuser = \"u\"\npassword_file = \"p\"\npoll_every = \"0s\"",
                "poll_every",
            ),
        ] {
            let error = mail_of(Config::parse(text).unwrap().mail.unwrap()).unwrap_err().to_string();
            assert!(error.contains(says), "{text}: {error}");
        }
        assert!(Config::parse("[mail]\naddress = \"a@b.org\"\n[mail.smtp]\nhost = \"h\"\ntls = \"ssl\"").is_err());
    }

    #[test]
    fn webhook_settings_are_read_and_bad_ones_refused() {
        let text = "[webhooks]\nallow = [\"10.0.0.0/8\", \"::1\"]\nretry = [\"1s\", \"1m\"]\ntimeout = \"5s\"";
        let w = webhooks_of(Config::parse(text).unwrap().webhooks.unwrap()).unwrap();
        assert_eq!(w.allow, [Block::parse("10.0.0.0/8").unwrap(), Block::parse("::1/128").unwrap()]);
        assert_eq!(
            (w.retry, w.timeout),
            (vec![Duration::from_secs(1), Duration::from_secs(60)], Duration::from_secs(5))
        );
        assert_eq!(Config::default().webhooks.retry, webhooks::SCHEDULE);
        for (text, says) in [
            ("[webhooks]\nallow = [\"intranet\"]", "allow: \"intranet\" is not an address"),
            ("[webhooks]\nallow = [\"10.0.0.0/40\"]", "bits are 0 to 32"),
            ("[webhooks]\nretry = [\"5\"]", "retry: \"5\" needs a unit"),
            ("[webhooks]\ntimeout = \"5m\"", "must be 1s to 60s"),
        ] {
            let error = webhooks_of(Config::parse(text).unwrap().webhooks.unwrap()).unwrap_err().to_string();
            assert!(error.contains(says), "{text}: {error}");
        }
        let section = packaged_section("# [webhooks]");
        let packaged = webhooks_of(Config::parse(&section).unwrap().webhooks.unwrap()).unwrap();
        assert_eq!(packaged.retry, webhooks::SCHEDULE, "the packaged example states the default schedule");
    }

    #[test]
    fn a_desk_matrix_and_codes_are_read_and_bad_ones_refused() {
        let text = r#"
            [desk]
            resolution_codes = ["fixed", "taught"]
            [desk.priority]
            low = ["low", "low", "low", "low"]
            medium = ["low", "low", "low", "medium"]
            high = ["high", "high", "high", "high"]
            critical = ["critical", "critical", "critical", "critical"]
        "#;
        let policy = desk(Config::parse(text).unwrap().desk.unwrap()).unwrap();
        assert_eq!(policy.resolution_codes, ["fixed", "taught"]);
        assert_eq!(policy.matrix.priority(Level::Medium, Level::Critical), Level::Medium);
        assert_eq!(policy.matrix.priority(Level::High, Level::Low), Level::High);
        let unknown_level = "[desk.priority]\nlow = [\"low\", \"urgent\", \"low\", \"low\"]";
        assert!(Config::parse(unknown_level).is_err());
        let short_row = "[desk.priority]\nlow = [\"low\"]";
        assert!(Config::parse(short_row).is_err());
        for bad in ["resolution_codes = []", "resolution_codes = [\"has space\"]"] {
            let file = Config::parse(&format!("[desk]\n{bad}")).unwrap();
            assert!(desk(file.desk.unwrap()).is_err(), "{bad}");
        }
    }

    #[test]
    fn flags_win_over_file_and_typos_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.toml");
        std::fs::write(&path, "data_dir = \"/a\"\nheartbeat_secs = 5\n").unwrap();
        let c = Config::load(Some(&path), Overrides { data_dir: Some("/b".into()), ..Overrides::default() }).unwrap();
        assert_eq!((c.data_dir, c.heartbeat_secs), (PathBuf::from("/b"), 5));

        std::fs::write(&path, "hearbeat_secs = 5\n").unwrap();
        assert!(matches!(Config::load(Some(&path), Overrides::default()), Err(ConfigError::Parse { .. })));
        for zero in ["heartbeat_secs = 0\n", "reconnects_per_sec = 0\n"] {
            std::fs::write(&path, zero).unwrap();
            assert!(matches!(Config::load(Some(&path), Overrides::default()), Err(ConfigError::Invalid(_))), "{zero}");
        }
        let bad = Overrides { advertise: Some("nohost".into()), ..Overrides::default() };
        assert!(matches!(Config::load(None, bad), Err(ConfigError::Invalid(_))));
    }

    #[test]
    fn audit_checkpoints_are_hourly_unless_set_otherwise() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.toml");
        let load = |text: &str| {
            std::fs::write(&path, text).unwrap();
            Config::load(Some(&path), Overrides::default())
        };
        let c = load("data_dir = \"/d\"\n").unwrap();
        assert_eq!(c.checkpoint_every, Some(Duration::from_secs(3600)));
        assert_eq!(c.checkpoint_file(), Path::new("/d/audit-checkpoints.jsonl"));
        let cases = [("90s", Some(90)), ("30m", Some(1800)), ("2h", Some(7200)), ("7d", Some(604_800)), ("off", None)];
        for (every, secs) in cases {
            let c =
                load(&format!("[audit]\ncheckpoint_every = \"{every}\"\ncheckpoint_file = \"/x/c.jsonl\"\n")).unwrap();
            assert_eq!(c.checkpoint_every, secs.map(Duration::from_secs), "{every}");
            assert_eq!(c.checkpoint_file(), Path::new("/x/c.jsonl"));
        }
        for bad in ["0s", "8d", "1", "h", "1w", "-1h", "1.5h"] {
            let loaded = load(&format!("[audit]\ncheckpoint_every = \"{bad}\"\n"));
            assert!(
                matches!(loaded, Err(ConfigError::Invalid(ref e)) if e.contains("checkpoint_every")),
                "{bad}: {loaded:?}"
            );
        }
        assert!(matches!(load("[audit]\nevery = \"1h\"\n"), Err(ConfigError::Parse { .. })), "a typo in [audit]");
    }

    #[test]
    fn retention_has_defaults_can_be_turned_off_and_refuses_what_would_delete_everything() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.toml");
        let load = |text: &str| {
            std::fs::write(&path, text).unwrap();
            Config::load(Some(&path), Overrides::default())
        };
        assert_eq!(load("").unwrap().retention, Some(Retention::default()));
        assert_eq!(load("[retention]\ninterval = \"off\"\n").unwrap().retention, None);
        let set = load(
            "[retention]\nsnapshot_days = 7\nsnapshots_per_agent = 100\ncheck_run_days = 30\n\
                        token_days = 0\ninterval = \"1h\"\nbatch = 50\n",
        )
        .unwrap();
        let expected = Retention {
            snapshot_days: 7,
            snapshots_per_agent: 100,
            check_run_days: 30,
            token_days: 0,
            interval: Duration::from_secs(3600),
            batch: 50,
        };
        assert_eq!(set.retention, Some(expected));
        for bad in [
            "snapshot_days = 0",
            "snapshots_per_agent = 0",
            "check_run_days = 0",
            "batch = 0",
            "batch = 10001",
            "interval = \"0s\"",
            "interval = \"10\"",
        ] {
            let loaded = load(&format!("[retention]\n{bad}\n"));
            assert!(
                matches!(loaded, Err(ConfigError::Invalid(ref e)) if e.starts_with("[retention]")),
                "{bad}: {loaded:?}"
            );
        }
        assert!(matches!(load("[retention]\ndays = 3\n"), Err(ConfigError::Parse { .. })), "a typo in [retention]");
    }
}
