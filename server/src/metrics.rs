//! What the server counts for Prometheus, and the one registry it renders from. Process-wide, as the connection
//! cap already is: the collector, the store's writer and the API each count where the thing happens. Figures that
//! live in the database (tickets by status, priority and tier) are read from it at each scrape, so every server
//! sharing a database reports the same. No label holds a ticket, person, technician or agent: their number is
//! unbounded, and per-technician figures are the statistics' business (`stats technicians`).

use std::sync::LazyLock;
use std::time::Duration;

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::desk::checks::RunState;
use crate::desk::priority::Level;
use crate::desk::sla::{Alert, ClockKind};
use crate::desk::tickets::{Event, Status};
use crate::desk::webhooks::Outcome;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(non_camel_case_types)]
pub enum Handshake {
    accepted,
    /// Over the cap on agent connections.
    refused_busy,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HandshakeLabels {
    pub outcome: Handshake,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ChannelLabels {
    pub channel: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SlaLabels {
    pub target: String,
    pub alert: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TicketLabels {
    pub status: String,
    pub priority: String,
    pub tier: String,
}

/// `route` is axum's matched template (`/api/tickets/{number}`), never the path a client sent.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    pub method: String,
    pub route: String,
    pub status: String,
}

type Timings<L> = Family<L, Histogram, fn() -> Histogram>;

pub struct Metrics {
    registry: Registry,
    pub agents_connected: Gauge,
    pub handshakes: Family<HandshakeLabels, Counter>,
    pub snapshots_ingested: Counter,
    pub store_commit_seconds: Histogram,
    pub store_queue: Gauge,
    pub tickets: Family<TicketLabels, Gauge>,
    pub tickets_created: Family<ChannelLabels, Counter>,
    pub tickets_resolved: Counter,
    pub tickets_reopened: Counter,
    pub sla_alerts: Family<SlaLabels, Counter>,
    pub check_runs: Family<OutcomeLabels, Counter>,
    pub http_seconds: Timings<HttpLabels>,
    pub webhook_deliveries: Family<ResultLabels, Counter>,
    pub webhook_queue: Gauge,
    pub mail: Family<MailLabels, Counter>,
    pub snapshot_ack_seconds: Histogram,
    pub first_response_seconds: Timings<PriorityLabels>,
    pub resolution_seconds: Timings<PriorityLabels>,
    pub console_csp_reports: Counter,
}

/// What [`Metrics::ticket_time`] times.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TicketTime {
    FirstResponse,
    Resolution,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PriorityLabels {
    pub priority: String,
}

/// A minute to about two months: how long tickets wait for an answer or a fix, in wall-clock time.
fn ticket_seconds() -> Histogram {
    Histogram::new(exponential_buckets(60.0, 2.0, 17))
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct MailLabels {
    pub direction: String,
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabels {
    pub result: String,
}

fn seconds() -> Histogram {
    // 1 ms to about 33 s.
    Histogram::new(exponential_buckets(0.001, 2.0, 16))
}

pub static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);

impl Metrics {
    fn new() -> Metrics {
        let mut registry = Registry::with_prefix("lifeline");
        let m = Metrics {
            registry: Registry::default(),
            agents_connected: Gauge::default(),
            handshakes: Family::default(),
            snapshots_ingested: Counter::default(),
            store_commit_seconds: seconds(),
            store_queue: Gauge::default(),
            tickets: Family::default(),
            tickets_created: Family::default(),
            tickets_resolved: Counter::default(),
            tickets_reopened: Counter::default(),
            sla_alerts: Family::default(),
            check_runs: Family::default(),
            http_seconds: Family::new_with_constructor(seconds),
            webhook_deliveries: Family::default(),
            webhook_queue: Gauge::default(),
            mail: Family::default(),
            snapshot_ack_seconds: seconds(),
            first_response_seconds: Family::new_with_constructor(ticket_seconds),
            resolution_seconds: Family::new_with_constructor(ticket_seconds),
            console_csp_reports: Counter::default(),
        };
        // Every label set known beforehand starts at zero, so a query sees 0 rather than nothing.
        for outcome in [Handshake::accepted, Handshake::refused_busy] {
            m.handshakes.get_or_create(&HandshakeLabels { outcome }).inc_by(0);
        }
        for clock in [ClockKind::FirstResponse, ClockKind::NextResponse, ClockKind::Resolution] {
            for alert in [Alert::Warning, Alert::Breach] {
                let labels = SlaLabels { target: clock.as_str().into(), alert: alert_name(alert).into() };
                m.sla_alerts.get_or_create(&labels).inc_by(0);
            }
        }
        for state in [RunState::Done, RunState::Refused, RunState::Failed, RunState::TimedOut, RunState::Expired] {
            m.check_runs.get_or_create(&OutcomeLabels { outcome: state.as_str().into() }).inc_by(0);
        }
        for (direction, outcomes) in MAIL_OUTCOMES {
            for outcome in outcomes {
                m.mail.get_or_create(&MailLabels { direction: direction.into(), outcome: (*outcome).into() }).inc_by(0);
            }
        }
        for result in WEBHOOK_RESULTS {
            m.webhook_deliveries.get_or_create(&ResultLabels { result: result.into() }).inc_by(0);
        }
        let build: Family<Vec<(String, String)>, Gauge> = Family::default();
        build.get_or_create(&vec![("version".into(), env!("CARGO_PKG_VERSION").into())]).set(1);
        registry.register("build_info", "The server's version", build);
        registry.register("agents_connected", "Agents connected now", m.agents_connected.clone());
        registry.register("agent_handshakes", "Agent connections by outcome", m.handshakes.clone());
        registry.register("snapshots_ingested", "Snapshots stored and acknowledged", m.snapshots_ingested.clone());
        registry.register(
            "store_commit_seconds",
            "Time the store's writer takes to commit a transaction",
            m.store_commit_seconds.clone(),
        );
        registry.register("store_queue_depth", "Jobs waiting for the store's writer", m.store_queue.clone());
        registry.register("tickets", "Tickets by status, priority and tier, as stored", m.tickets.clone());
        registry.register("tickets_created", "Tickets opened, by channel", m.tickets_created.clone());
        registry.register(
            "tickets_resolved",
            "Resolutions (a reopened ticket counts again)",
            m.tickets_resolved.clone(),
        );
        registry.register(
            "console_csp_reports",
            "What the console's content security policy blocked, as browsers reported it: a bug or an injection",
            m.console_csp_reports.clone(),
        );
        registry.register("tickets_reopened", "Resolved tickets opened again", m.tickets_reopened.clone());
        registry.register("sla_alerts", "SLA warnings and breaches recorded, by target", m.sla_alerts.clone());
        registry.register("check_runs", "Approved check runs ended, by outcome", m.check_runs.clone());
        registry.register("http_request_duration_seconds", "API requests by route", m.http_seconds.clone());
        registry.register(
            "webhook_deliveries",
            "Webhook attempts by result: delivered, retry (failed, tried again later), gave_up, gone (410)",
            m.webhook_deliveries.clone(),
        );
        registry.register(
            "webhook_queue_depth",
            "Webhook deliveries waiting for their next try",
            m.webhook_queue.clone(),
        );
        registry.register(
            "mail_messages",
            "E-mail by direction and outcome: in (new_ticket, follow_up, auto_note, ignored_automated, rate_limited...), \
             out (sent, retry, failed)",
            m.mail.clone(),
        );
        registry.register(
            "snapshot_ack_seconds",
            "From a snapshot's arrival to its acknowledgement, which waits for the commit",
            m.snapshot_ack_seconds.clone(),
        );
        registry.register(
            "ticket_first_response_seconds",
            "Wall-clock time from a ticket's opening to the help desk's first public reply, by priority",
            m.first_response_seconds.clone(),
        );
        registry.register(
            "ticket_resolution_seconds",
            "Wall-clock time from a ticket's opening to each resolution, by priority",
            m.resolution_seconds.clone(),
        );
        Metrics { registry, ..m }
    }

    /// Counts what committed events say: called by the store's writer once their transaction committed, so a
    /// rolled-back write counts nothing.
    pub fn committed(&self, event: &Event) {
        match event {
            Event::Created { channel, .. } => {
                self.tickets_created.get_or_create(&ChannelLabels { channel: channel.as_str().into() }).inc();
            }
            Event::StatusChanged { to: Status::Resolved, .. } => {
                self.tickets_resolved.inc();
            }
            Event::StatusChanged { from: Status::Resolved, to: Status::Open, .. } => {
                self.tickets_reopened.inc();
            }
            Event::SlaAlert { clock, alert, .. } => {
                let labels = SlaLabels { target: clock.as_str().into(), alert: alert_name(*alert).into() };
                self.sla_alerts.get_or_create(&labels).inc();
            }
            Event::CheckRun { state, .. } => {
                self.check_runs.get_or_create(&OutcomeLabels { outcome: state.clone() }).inc();
            }
            _ => {}
        }
    }

    pub fn webhook_attempt(&self, outcome: Outcome) {
        let result = match outcome {
            Outcome::Delivered => "delivered",
            Outcome::Retry(_) => "retry",
            Outcome::GaveUp => "gave_up",
            Outcome::Gone => "gone",
        };
        self.webhook_deliveries.get_or_create(&ResultLabels { result: result.into() }).inc();
    }

    pub fn ticket_time(&self, what: TicketTime, priority: Level, seconds: f64) {
        let family = match what {
            TicketTime::FirstResponse => &self.first_response_seconds,
            TicketTime::Resolution => &self.resolution_seconds,
        };
        family.get_or_create(&PriorityLabels { priority: priority.as_str().into() }).observe(seconds);
    }

    pub fn mail(&self, direction: &str, outcome: &str) {
        self.mail.get_or_create(&MailLabels { direction: direction.into(), outcome: outcome.into() }).inc();
    }

    pub fn commit_took(&self, took: Duration) {
        self.store_commit_seconds.observe(took.as_secs_f64());
    }

    /// The Prometheus text of everything, with the stored tickets' counts as `tickets` gives them now.
    pub fn render(&self, tickets: &[(Status, String, u8, i64)]) -> String {
        // Rebuilt at each scrape: a status no ticket has any more must not keep its last count.
        self.tickets.clear();
        for (status, priority, tier, count) in tickets {
            let labels =
                TicketLabels { status: status.as_str().into(), priority: priority.clone(), tier: tier.to_string() };
            self.tickets.get_or_create(&labels).set(*count);
        }
        let mut text = String::new();
        // Writing into a String does not fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }
}

/// What becomes of mail (`service::mail` in, `mail` out): every label value, so each starts at zero.
const MAIL_OUTCOMES: [(&str, &[&str]); 2] = [
    (
        "in",
        &[
            "new_ticket",
            "follow_up",
            "auto_note",
            "new_after_closed",
            "ignored_automated",
            "ignored_own",
            "rate_limited",
            "duplicate",
        ],
    ),
    ("out", &["sent", "retry", "failed"]),
];

const WEBHOOK_RESULTS: [&str; 4] = ["delivered", "retry", "gave_up", "gone"];

fn alert_name(alert: Alert) -> &'static str {
    match alert {
        Alert::Warning => "warning",
        Alert::Breach => "breach",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::desk::actor::Actor;
    use crate::desk::priority::{Level, TicketType};
    use crate::desk::tickets::Channel;
    use crate::store::Store;

    /// Every family the issue names is rendered, counted only from committed writes, with bounded labels.
    #[tokio::test]
    async fn committed_writes_are_counted_and_every_family_is_rendered() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.db")).unwrap();
        let created = Event::Created {
            subject: "vpn".into(),
            description: String::new(),
            channel: Channel::Email,
            requester: "ann".into(),
            agent_id: None,
            category: None,
            person: None,
            urgency: Level::Medium,
            impact: Level::Medium,
            priority: Level::Medium,
            ticket_type: TicketType::Incident,
        };
        let status =
            |from, to| Event::StatusChanged { from, to, reason: None, until: None, code: None, first_contact: false };
        let bob = Actor::technician("bob-the-technician");
        let number = store
            .write(move |c| {
                let (n, _) = c.open_ticket(None, &[(bob.clone(), created)], 1)?;
                c.append_event(n, None, &bob, &status(Status::New, Status::Resolved), 2)?;
                c.append_event(n, None, &bob, &status(Status::Resolved, Status::Open), 3)?;
                c.append_event(n, None, &bob, &Event::PublicReply { body: "on it".into() }, 1_000_000)?;
                Ok(n)
            })
            .await
            .unwrap();
        // A job that fails is rolled back and counts nothing.
        let failed = store
            .write(move |c| {
                c.append_event(number, None, &Actor::technician("x"), &status(Status::Open, Status::Resolved), 4)?;
                Err::<(), _>(crate::store::StoreError::Refused("changed my mind".into()))
            })
            .await;
        assert!(failed.is_err());
        let counts = store.read(|c| c.ticket_counts()).await.unwrap();
        let text = METRICS.render(&counts);
        for line in [
            "lifeline_tickets_created_total{channel=\"email\"} 1",
            "lifeline_tickets_resolved_total 1",
            "lifeline_tickets_reopened_total 1",
            "lifeline_tickets{status=\"open\",priority=\"medium\",tier=\"1\"} 1",
            "lifeline_build_info{version=\"",
        ] {
            assert!(text.contains(line), "{line} in:\n{text}");
        }
        for family in [
            "lifeline_agents_connected",
            "lifeline_snapshots_ingested_total",
            "lifeline_store_commit_seconds_bucket",
            "lifeline_store_queue_depth",
            "# TYPE lifeline_agent_handshakes counter",
            "# TYPE lifeline_sla_alerts counter",
            "# TYPE lifeline_check_runs counter",
            "lifeline_webhook_deliveries_total{result=\"gave_up\"} 0",
            "lifeline_webhook_queue_depth",
            "lifeline_mail_messages_total{direction=\"in\",outcome=\"rate_limited\"} 0",
            "lifeline_snapshot_ack_seconds_bucket",
            "# TYPE lifeline_ticket_resolution_seconds histogram",
            "lifeline_ticket_resolution_seconds_count{priority=\"medium\"} 1",
            "lifeline_ticket_first_response_seconds_count{priority=\"medium\"} 1",
            "lifeline_ticket_first_response_seconds_sum{priority=\"medium\"} 999.999",
        ] {
            assert!(text.contains(family), "{family} in:\n{text}");
        }
        assert!(!text.contains("bob-the-technician"), "no label holds a technician: {text}");
        for key in ["ticket=", "number=", "user=", "technician=", "agent=", "agent_id=", "person="] {
            assert!(!text.contains(key), "no label is keyed by {key} {number}: {text}");
        }
        assert!(text.ends_with("# EOF\n"));
    }
}
