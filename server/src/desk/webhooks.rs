//! Webhooks, the rules only: which happenings an endpoint can subscribe to and which ticket events are which, the
//! body each delivery carries, its Standard Webhooks signature, the retry schedule, and which addresses a delivery
//! may go to. The outbox, the sending and the endpoints' records are the store's and the service's.

use std::net::IpAddr;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

use super::actor::Actor;
use super::sla::Alert;
use super::tickets::{Event, Status, TicketState};

/// What an endpoint subscribes to.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, utoipa::ToSchema)]
pub enum Topic {
    #[serde(rename = "ticket.created")]
    TicketCreated,
    /// A public reply, from the help desk or the requester: what a chat channel mirrors.
    #[serde(rename = "ticket.replied")]
    TicketReplied,
    #[serde(rename = "ticket.status_changed")]
    TicketStatusChanged,
    #[serde(rename = "ticket.assigned")]
    TicketAssigned,
    #[serde(rename = "ticket.escalated")]
    TicketEscalated,
    #[serde(rename = "ticket.merged")]
    TicketMerged,
    #[serde(rename = "sla.warning")]
    SlaWarning,
    #[serde(rename = "sla.breach")]
    SlaBreach,
    #[serde(rename = "check.finished")]
    CheckFinished,
    #[serde(rename = "agent.enrolled")]
    AgentEnrolled,
    #[serde(rename = "agent.revoked")]
    AgentRevoked,
    /// Not seen for longer than the endpoint's `offline_after`; once per silence.
    #[serde(rename = "agent.offline")]
    AgentOffline,
}

impl Topic {
    pub const ALL: [Topic; 12] = [
        Topic::TicketCreated,
        Topic::TicketReplied,
        Topic::TicketStatusChanged,
        Topic::TicketAssigned,
        Topic::TicketEscalated,
        Topic::TicketMerged,
        Topic::SlaWarning,
        Topic::SlaBreach,
        Topic::CheckFinished,
        Topic::AgentEnrolled,
        Topic::AgentRevoked,
        Topic::AgentOffline,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Topic::TicketCreated => "ticket.created",
            Topic::TicketReplied => "ticket.replied",
            Topic::TicketStatusChanged => "ticket.status_changed",
            Topic::TicketAssigned => "ticket.assigned",
            Topic::TicketEscalated => "ticket.escalated",
            Topic::TicketMerged => "ticket.merged",
            Topic::SlaWarning => "sla.warning",
            Topic::SlaBreach => "sla.breach",
            Topic::CheckFinished => "check.finished",
            Topic::AgentEnrolled => "agent.enrolled",
            Topic::AgentRevoked => "agent.revoked",
            Topic::AgentOffline => "agent.offline",
        }
    }

    pub fn parse(s: &str) -> Option<Topic> {
        Topic::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// The topic of a ticket event; events nobody outside needs (notes, snapshots, links) have none. A check run's
    /// end is announced by the run itself, ticket or not (`check.finished`).
    pub fn of(event: &Event) -> Option<Topic> {
        match event {
            Event::Created { .. } => Some(Topic::TicketCreated),
            Event::PublicReply { .. } | Event::RequesterReply { .. } => Some(Topic::TicketReplied),
            Event::StatusChanged { .. } => Some(Topic::TicketStatusChanged),
            Event::Assigned { .. } => Some(Topic::TicketAssigned),
            Event::Escalated { .. } => Some(Topic::TicketEscalated),
            Event::MergedInto { .. } => Some(Topic::TicketMerged),
            Event::SlaAlert { alert: Alert::Warning, .. } => Some(Topic::SlaWarning),
            Event::SlaAlert { alert: Alert::Breach, .. } => Some(Topic::SlaBreach),
            _ => None,
        }
    }
}

/// Parses a comma-separated list of topics, or `all`.
pub fn parse_topics(s: &str) -> Result<Vec<Topic>, String> {
    if s.trim() == "all" {
        return Ok(Topic::ALL.to_vec());
    }
    let mut topics = Vec::new();
    for word in s.split(',').map(str::trim).filter(|w| !w.is_empty()) {
        let topic = Topic::parse(word).ok_or_else(|| {
            let known: Vec<&str> = Topic::ALL.iter().map(|t| t.as_str()).collect();
            format!("unknown event {word:?}; known: {} (or all)", known.join(", "))
        })?;
        if !topics.contains(&topic) {
            topics.push(topic);
        }
    }
    if topics.is_empty() {
        return Err("name at least one event, or all".into());
    }
    Ok(topics)
}

/// A ticket as a delivery shows it: what a receiver routes and renders by without asking the API.
#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct TicketSummary {
    pub number: i64,
    pub subject: String,
    pub status: Status,
    pub priority: String,
    pub tier: u8,
    pub assignee: Option<String>,
    pub category: Option<String>,
    pub channel: String,
}

impl TicketSummary {
    pub fn of(number: i64, state: &TicketState) -> TicketSummary {
        TicketSummary {
            number,
            subject: state.subject.clone(),
            status: state.status,
            priority: state.priority.as_str().to_owned(),
            tier: state.tier,
            assignee: state.assignee.clone(),
            category: state.category.clone(),
            channel: state.channel.as_str().to_owned(),
        }
    }
}

/// The body of a delivery, in the Standard Webhooks shape: `type`, `timestamp` (RFC 3339) and `data`.
pub fn body(topic: Topic, at_ms: i64, data: serde_json::Value) -> String {
    let timestamp = jiff::Timestamp::from_millisecond(at_ms).map(|t| t.to_string()).unwrap_or_default();
    serde_json::json!({ "type": topic.as_str(), "timestamp": timestamp, "data": data }).to_string()
}

/// The `data` of a ticket event's delivery.
pub fn ticket_data(number: i64, state: &TicketState, actor: &Actor, event: &Event) -> serde_json::Value {
    let ticket = TicketSummary::of(number, state);
    serde_json::json!({ "ticket": ticket, "actor": actor.name, "actor_kind": actor.kind, "event": event })
}

/// A signing secret as Standard Webhooks writes it: `whsec_` and the base64 of 24 to 64 random bytes.
pub const SECRET_PREFIX: &str = "whsec_";

pub fn secret_text(key: &[u8]) -> String {
    format!("{SECRET_PREFIX}{}", STANDARD.encode(key))
}

/// The key of a secret, checked: an admin may bring their own (to share it with a receiver set up first).
pub fn secret_key(secret: &str) -> Result<Vec<u8>, String> {
    let encoded = secret.strip_prefix(SECRET_PREFIX).ok_or("a secret starts with whsec_")?;
    let key = STANDARD.decode(encoded).map_err(|_| "a secret is whsec_ and base64")?;
    if !(24..=64).contains(&key.len()) {
        return Err(format!("a secret's key is 24 to 64 bytes, this one {}", key.len()));
    }
    Ok(key)
}

/// The `webhook-signature` header: `v1,` and the base64 HMAC-SHA256 of `{id}.{timestamp}.{body}`.
pub fn signature(key: &[u8], id: &str, timestamp_s: i64, body: &str) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key);
    let mut ctx = ring::hmac::Context::with_key(&key);
    ctx.update(id.as_bytes());
    ctx.update(b".");
    ctx.update(timestamp_s.to_string().as_bytes());
    ctx.update(b".");
    ctx.update(body.as_bytes());
    format!("v1,{}", STANDARD.encode(ctx.sign().as_ref()))
}

/// The waits between attempts the Standard Webhooks spec recommends: the first try at once, then 5 s, 5 min,
/// 30 min, 2 h, 5 h, 10 h, 14 h, 20 h and 24 h, about three days in all.
pub const SCHEDULE: [Duration; 9] = [
    Duration::from_secs(5),
    Duration::from_secs(5 * 60),
    Duration::from_secs(30 * 60),
    Duration::from_secs(2 * 3600),
    Duration::from_secs(5 * 3600),
    Duration::from_secs(10 * 3600),
    Duration::from_secs(14 * 3600),
    Duration::from_secs(20 * 3600),
    Duration::from_secs(24 * 3600),
];

/// The longest `Retry-After` honoured: a receiver cannot park a delivery for longer than the schedule's last wait.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 3600);

/// What an attempt's answer means for the delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Delivered,
    /// Try again after this wait.
    Retry(Duration),
    /// The schedule is spent.
    GaveUp,
    /// 410 Gone: the receiver asks never to be called again; the endpoint is disabled.
    Gone,
}

/// After `attempts` tries (this one included) answered `status` (None: no answer, a timeout or a refused
/// connection), what happens next. `schedule` is the waits after each failed try; `jitter` in [0, 1) spreads
/// retries by up to a tenth of the wait, so that a receiver coming back is not hit by every delivery at once.
pub fn next(
    schedule: &[Duration],
    attempts: u32,
    status: Option<u16>,
    retry_after: Option<Duration>,
    jitter: f64,
) -> Outcome {
    match status {
        Some(200..=299) => return Outcome::Delivered,
        Some(410) => return Outcome::Gone,
        _ => {}
    }
    let Some(wait) = (attempts as usize).checked_sub(1).and_then(|i| schedule.get(i)) else {
        return Outcome::GaveUp;
    };
    let wait = wait.mul_f64(1.0 + jitter.clamp(0.0, 1.0) / 10.0);
    // A throttling receiver's own wait, when longer than ours and within reason.
    let wait = match retry_after {
        Some(asked) if matches!(status, Some(429 | 503)) || asked > wait => wait.max(asked.min(MAX_RETRY_AFTER)),
        _ => wait,
    };
    Outcome::Retry(wait)
}

/// Parses `Retry-After` in its seconds form; the date form is rare from webhook receivers and read as absent.
pub fn retry_after(value: &str) -> Option<Duration> {
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// An address block, `ADDRESS/BITS`, for the allow list of private targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Block {
    addr: IpAddr,
    bits: u8,
}

impl Block {
    pub fn parse(s: &str) -> Result<Block, String> {
        let (addr, bits) = match s.split_once('/') {
            Some((a, b)) => (a, Some(b)),
            None => (s, None),
        };
        let addr: IpAddr = addr.trim().parse().map_err(|_| format!("{s:?} is not an address or ADDRESS/BITS"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let bits = match bits {
            Some(b) => {
                b.trim().parse::<u8>().ok().filter(|b| *b <= max).ok_or(format!("{s:?}: bits are 0 to {max}"))?
            }
            None => max,
        };
        Ok(Block { addr, bits })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, unmapped(ip)) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => prefix(u32::from(net).into(), u32::from(ip).into(), self.bits, 32),
            (IpAddr::V6(net), IpAddr::V6(ip)) => prefix(u128::from(net), u128::from(ip), self.bits, 128),
            _ => false,
        }
    }
}

fn prefix(net: u128, ip: u128, bits: u8, width: u32) -> bool {
    let shift = width - u32::from(bits);
    shift >= width || (net >> shift) == (ip >> shift)
}

fn unmapped(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

/// Whether a delivery may connect to `ip`: public addresses always; loopback, private, link-local, shared,
/// unique-local and the like only when allow-listed, so that a webhook cannot be aimed at the server's own
/// neighbourhood (a cloud's metadata service, an admin port on localhost).
pub fn may_reach(ip: IpAddr, allow: &[Block]) -> bool {
    if allow.iter().any(|b| b.contains(ip)) {
        return true;
    }
    match unmapped(ip) {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
                || a >= 240)
        }
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || first == 0x2001 && v6.segments()[1] == 0x0db8
                || first == 0x0064)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_parse_back_and_lists_refuse_unknown_names() {
        for t in Topic::ALL {
            assert_eq!(Topic::parse(t.as_str()), Some(t));
            assert_eq!(serde_json::to_value(t).unwrap(), t.as_str());
        }
        assert_eq!(parse_topics("all").unwrap().len(), Topic::ALL.len());
        assert_eq!(
            parse_topics("ticket.created, sla.breach,ticket.created").unwrap(),
            [Topic::TicketCreated, Topic::SlaBreach]
        );
        assert!(parse_topics("ticket.deleted").unwrap_err().contains("unknown event \"ticket.deleted\""));
        assert!(parse_topics(" , ").is_err());
    }

    #[test]
    fn each_ticket_event_has_its_topic_and_internal_ones_none() {
        let reply = Event::PublicReply { body: "b".into() };
        let note = Event::InternalNote { body: "b".into() };
        let run = |state: &str| Event::CheckRun {
            run: 1,
            check: "disk_usage".into(),
            state: state.into(),
            elapsed_ms: None,
            result: String::new(),
        };
        let breach =
            Event::SlaAlert { clock: crate::desk::sla::ClockKind::Resolution, started_at: 0, alert: Alert::Breach };
        assert_eq!(Topic::of(&reply), Some(Topic::TicketReplied));
        assert_eq!(Topic::of(&note), None, "an internal note never leaves the help desk");
        assert_eq!(Topic::of(&run("done")), None, "announced by the run, which may have no ticket");
        assert_eq!(Topic::of(&breach), Some(Topic::SlaBreach));
        assert_eq!(Topic::of(&Event::MergedInto { into: 2 }), Some(Topic::TicketMerged));
    }

    /// The example of the Standard Webhooks spec's reference libraries: this key, id, time and body sign to this.
    #[test]
    fn the_signature_matches_the_reference_vector() {
        let key = secret_key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let body = r#"{"test": 2432232314}"#;
        assert_eq!(
            signature(&key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn secrets_are_checked() {
        assert_eq!(secret_key(&secret_text(&[7; 32])).unwrap(), [7; 32]);
        assert!(secret_key("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap_err().contains("whsec_"));
        assert!(secret_key("whsec_!!").is_err());
        assert!(secret_key(&secret_text(&[1; 8])).unwrap_err().contains("24 to 64"));
    }

    #[test]
    fn the_schedule_retries_backs_off_honours_retry_after_and_ends() {
        let s = &SCHEDULE;
        assert_eq!(next(s, 1, Some(204), None, 0.0), Outcome::Delivered);
        assert_eq!(next(s, 3, Some(410), None, 0.0), Outcome::Gone);
        assert_eq!(next(s, 1, Some(500), None, 0.0), Outcome::Retry(Duration::from_secs(5)));
        assert_eq!(next(s, 2, None, None, 0.0), Outcome::Retry(Duration::from_secs(300)));
        assert_eq!(next(s, 1, Some(500), None, 0.5), Outcome::Retry(Duration::from_millis(5250)));
        assert_eq!(next(s, 1, Some(429), Some(Duration::from_secs(60)), 0.0), Outcome::Retry(Duration::from_secs(60)));
        assert_eq!(
            next(s, 1, Some(503), Some(Duration::from_secs(7 * 86400)), 0.0),
            Outcome::Retry(MAX_RETRY_AFTER),
            "a receiver cannot park a delivery for a week"
        );
        assert_eq!(next(s, 9, Some(500), None, 0.0), Outcome::Retry(Duration::from_secs(86400)));
        assert_eq!(next(s, 10, Some(500), None, 0.0), Outcome::GaveUp);
        assert_eq!(next(&[], 1, Some(500), None, 0.0), Outcome::GaveUp);
        assert_eq!(retry_after(" 120 "), Some(Duration::from_secs(120)));
        assert_eq!(retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
    }

    #[test]
    fn private_targets_are_refused_unless_allow_listed() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        for refused in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a00:1",
        ] {
            assert!(!may_reach(ip(refused), &[]), "{refused}");
        }
        for public in ["93.184.216.34", "2606:2800:220:1::1", "::ffff:93.184.216.34"] {
            assert!(may_reach(ip(public), &[]), "{public}");
        }
        let allow = [Block::parse("127.0.0.1").unwrap(), Block::parse("10.0.0.0/8").unwrap()];
        assert!(may_reach(ip("127.0.0.1"), &allow));
        assert!(may_reach(ip("::ffff:127.0.0.1"), &allow));
        assert!(may_reach(ip("10.200.0.1"), &allow));
        assert!(!may_reach(ip("127.0.0.2"), &allow));
        assert!(!may_reach(ip("::1"), &allow));
        assert!(Block::parse("0.0.0.0/0").unwrap().contains(ip("8.8.8.8")));
        assert!(Block::parse("10.0.0.0/33").is_err());
        assert!(Block::parse("example.com").is_err());
    }
}
