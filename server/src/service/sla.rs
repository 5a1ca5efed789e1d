//! The SLA over time: after every change a ticket's clocks are computed from its log, the warnings and breaches
//! that came due are appended to it once, and the list's SLA columns are written; a pass every `[sla] pass_every`
//! does the same for tickets whose next warning or breach came due with nobody touching them, and opens again the
//! tickets pending until a date that came.

use tracing::{info, warn};

use super::Effects;
use crate::State;
use crate::desk::actor::Actor;
use crate::desk::policy::Sla;
use crate::desk::sla::{Alert, ClockState, alerts_due, clocks};
use crate::desk::tickets::{Event, Status};
use crate::store::tickets::Ticket;
use crate::store::{StoreError, Tx, now_ms};

/// Brings ticket `number`'s SLA up to `now` in the caller's transaction: records each warning and breach due and not
/// yet recorded, and writes the columns lists filter on. Returns how many alerts it recorded, and the ticket as it
/// stands after them.
pub fn refresh(c: &Tx<'_>, sla: &Sla, number: i64, now: i64) -> Result<(usize, Ticket), StoreError> {
    let (mut ticket, log) = c.ticket_and_events(number)?;
    let (facts, already) = sla.read_log(log.iter().map(|e| (e.at, &e.event)));
    let clocks = clocks(&sla.calendar, &facts, now);
    let due = alerts_due(&clocks, &already, sla.warn_before_ms);
    let closed = matches!(ticket.state.status, Status::Closed | Status::Merged);
    if !closed {
        for (clock, started_at, alert) in &due {
            let event = Event::SlaAlert { clock: *clock, started_at: *started_at, alert: *alert };
            ticket = c.append_event(number, None, &Actor::server(), &event, now)?;
            info!(ticket = number, clock = clock.as_str(), ?alert, "SLA alert recorded");
            for then in sla.escalate(&ticket.state, *clock, *alert) {
                ticket = c.append_event(number, None, &Actor::server(), &then, now)?;
            }
        }
    }
    // A run that ended is met, so only the current runs of each kind count below.
    let recorded = |kind, started_at, alert| {
        already.contains(&(kind, started_at, alert)) || due.contains(&(kind, started_at, alert))
    };
    let (mut due_at, mut breached, mut alert_at) = (None::<i64>, false, None::<i64>);
    for clock in &clocks {
        match clock.state {
            ClockState::Running { due_at: Some(at), left_ms } => {
                due_at = Some(due_at.map_or(at, |d| d.min(at)));
                let next = if recorded(clock.kind, clock.started_at, Alert::Warning) {
                    Some(at + 1)
                } else {
                    sla.calendar.add_business(now, (left_ms - sla.warn_before_ms).max(0))
                };
                alert_at = match (alert_at, next) {
                    (Some(a), Some(n)) => Some(a.min(n)),
                    (a, n) => a.or(n),
                };
            }
            ClockState::Breached { .. } => breached = true,
            _ => {}
        }
    }
    c.set_sla(number, due_at, breached, alert_at)?;
    Ok((if closed { 0 } else { due.len() }, ticket))
}

/// Most tickets one pass takes in one transaction, so that a backlog of alerts never holds the writer for long.
const BATCH: i64 = 200;

/// One pass: tickets pending until a date that came open again, and alerts that came due are recorded. Returns the
/// effects for the requesters whose tickets opened.
pub async fn pass(state: &State) -> Result<Effects, StoreError> {
    let sla = state.config.desk.sla.clone();
    let (reopened, alerts) = state
        .store
        .write(move |c| {
            let now = now_ms();
            let mut reopened = Vec::new();
            for number in c.pending_until_due(now, BATCH)? {
                let event = Event::StatusChanged {
                    from: Status::PendingUntil,
                    to: Status::Open,
                    reason: Some("the date it waited for came".into()),
                    until: None,
                    code: None,
                    first_contact: false,
                };
                c.append_event(number, None, &Actor::server(), &event, now)?;
                refresh(c, &sla, number, now)?;
                reopened.push(number);
            }
            let mut alerts = 0;
            for number in c.sla_alerts_due(now, BATCH)? {
                alerts += refresh(c, &sla, number, now)?.0;
            }
            Ok((reopened, alerts))
        })
        .await?;
    if !reopened.is_empty() || alerts > 0 {
        info!(reopened = reopened.len(), alerts, "SLA pass");
    }
    Ok(Effects { threads: reopened, ..Effects::default() })
}

/// Runs [`pass`] every `every` until the server stops; a failed pass is logged and the next one tries again.
pub async fn schedule(state: std::sync::Arc<State>, every: std::time::Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match pass(&state).await {
            Ok(effects) => {
                effects.carry_out(&state).await;
            }
            Err(e) => warn!(error = %e, retry = e.is_retryable(), "the SLA pass failed; the next one tries again"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::desk::actor::ActorKind;
    use crate::desk::policy::{Escalation, SlaRule};
    use crate::desk::priority::{Level, TicketType};
    use crate::desk::sla::{Calendar, ClockKind, Targets};
    use crate::desk::tickets::Channel;
    use crate::store::Store;
    use crate::store::tickets::{Query, SlaFilter};

    const MIN: i64 = 60_000;
    const T0: i64 = 1_800_000_000_000;

    fn sla() -> Sla {
        Sla {
            calendar: Calendar::always(),
            rules: vec![SlaRule {
                name: "all".into(),
                priorities: Vec::new(),
                channels: Vec::new(),
                categories: Vec::new(),
                targets: Targets { first_response_ms: Some(60 * MIN), ..Targets::default() },
            }],
            warn_before_ms: 30 * MIN,
            escalations: vec![Escalation {
                at: Alert::Breach,
                clock: None,
                tier: Some(2),
                supervisor: Some("carol".into()),
            }],
        }
    }

    #[tokio::test]
    async fn warnings_and_breaches_are_recorded_once_each_and_the_list_follows() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.db")).unwrap();
        let created = Event::Created {
            subject: "vpn".into(),
            description: String::new(),
            channel: Channel::Phone,
            requester: "ann".into(),
            agent_id: None,
            category: None,
            person: None,
            urgency: Level::Medium,
            impact: Level::Medium,
            priority: Level::Medium,
            ticket_type: TicketType::Incident,
        };
        let number = store
            .write(move |c| {
                let (number, _) = c.open_ticket(None, &[(Actor::technician("bob"), created)], T0)?;
                refresh(c, &sla(), number, T0)?;
                Ok(number)
            })
            .await
            .unwrap();
        let list = |filter| {
            let store = store.clone();
            async move {
                let q = Query { sla: Some(filter), ..Query::default() };
                store.read(move |c| c.tickets(&q)).await.unwrap().tickets.len()
            }
        };
        assert_eq!(list(SlaFilter::DueBefore(T0 + 61 * MIN)).await, 1);
        assert_eq!(list(SlaFilter::DueBefore(T0 + 59 * MIN)).await, 0);
        // Every minute for two hours; a step records what came due since the one before, never twice.
        let mut recorded = Vec::new();
        for minute in 1..=120 {
            let now = T0 + minute * MIN;
            let due = store.read(move |c| c.sla_alerts_due(now, 10)).await.unwrap();
            if due.contains(&number) {
                let n = store.write(move |c| refresh(c, &sla(), number, now)).await.unwrap().0;
                recorded.extend(std::iter::repeat_n(minute, n));
            }
        }
        assert_eq!(recorded, [30, 61], "the warning at 30 minutes left, the breach once past due");
        let alerts: Vec<(ClockKind, Alert)> = store
            .read(move |c| c.ticket_events(number))
            .await
            .unwrap()
            .into_iter()
            .filter_map(|e| match e.event {
                Event::SlaAlert { clock, alert, .. } => Some((clock, alert)),
                _ => None,
            })
            .collect();
        assert_eq!(alerts, [(ClockKind::FirstResponse, Alert::Warning), (ClockKind::FirstResponse, Alert::Breach)]);
        let (ticket, log) = store.read(move |c| Ok((c.ticket(number)?, c.ticket_events(number)?))).await.unwrap();
        assert_eq!(ticket.state.tier, 2, "the breach raised it to tier 2, once");
        let told: Vec<&str> = log
            .iter()
            .filter_map(|e| match &e.event {
                Event::InternalNote { body } if e.actor.kind == ActorKind::System => Some(body.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(told, ["@carol: the first response SLA was missed; the ticket is at tier 2."]);
        assert_eq!(list(SlaFilter::Breached).await, 1);
        let none_due = store.read(move |c| c.sla_alerts_due(T0 + 1_000 * MIN, 10)).await.unwrap();
        assert!(none_due.is_empty(), "nothing is left to raise: {none_due:?}");
    }
}
