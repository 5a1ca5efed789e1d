//! The statistics reports over the year of the ticket store (`desk.rs` fills it): each report called as the API calls
//! it (the service, with a manager's account, in process), over the whole year by ISO week where it has periods,
//! next to a plain SQL `GROUP BY` over the same events (`ticket_events`, the JSON of each read with `->>`) that
//! counts something of the same kind, on the read-only connection of the baselines, in the same run. Ours and the
//! baseline alternate, as in the ticket rows. A report reads every ticket of its range, so a run takes far longer
//! than a list page's: fewer iterations, and the p99 of 40 is the slowest of them.

use lifeline_server::desk::access::Role;
use lifeline_server::desk::reports::{Bucket, Dimension};
use lifeline_server::service::stats;
use lifeline_server::store::auth::User;
use lifeline_server::store::now_ms;

use crate::Row;
use crate::desk::{Bench, pair, smoke, time};

const DAY_MS: i64 = 86_400_000;
const WEEK_MS: i64 = 7 * DAY_MS;
const WARMUP: usize = 2;

/// The events of a kind, and of resolutions, as the baselines pick them out of the stored JSON.
const KIND: &str = "e.event ->> '$.kind'";
const RESOLVED: &str = "(e.event ->> '$.kind' = 'status_changed' AND e.event ->> '$.to' = 'resolved')";

/// One report: what it is called, ours (returning how many rows it gave, which must not be none), and the baseline's
/// SQL with its parameters.
struct Case<'a> {
    figure: &'static str,
    ours: Box<dyn Fn() -> usize + 'a>,
    sql: String,
    params: Vec<i64>,
    against: &'static str,
}

pub fn rows(bench: &Bench) -> Vec<Row> {
    let iterations = if smoke() { 3 } else { 40 };
    let manager = User { id: 1, name: "manager".into(), role: Role::Manager };
    let (store, policy, user, rt) = (&bench.store, &bench.policy, &manager, &bench.runtime);
    let to = now_ms();
    let from = to - 365 * DAY_MS;
    let middle = to - 182 * DAY_MS;
    // Weeks from a Monday before the range (1970-01-05 was one), in UTC: the baseline's weeks need not be the
    // report's local ones to cost the same.
    let monday = 4 * DAY_MS + (from - 4 * DAY_MS).div_euclid(WEEK_MS) * WEEK_MS;
    let week = format!("(e.at - ?3) / {WEEK_MS}");
    let range = "e.at >= ?1 AND e.at < ?2";
    let cases = vec![
        Case {
            figure: "report technicians by week",
            ours: Box::new(|| {
                rt.block_on(stats::technicians(store, policy, user, from, to, Bucket::Week)).unwrap().len()
            }),
            sql: format!(
                "SELECT {week} AS week, e.actor, sum({RESOLVED}), sum({KIND} = 'public_reply')
                 FROM ticket_events e WHERE {range} AND e.actor_kind = 'technician'
                 AND ({RESOLVED} OR {KIND} = 'public_reply') GROUP BY week, e.actor"
            ),
            params: vec![from, to, monday],
            against: "resolutions and replies GROUP BY week, technician",
        },
        Case {
            figure: "report response by priority",
            ours: Box::new(|| {
                rt.block_on(stats::response(store, policy, user, from, to, Dimension::Priority)).unwrap().len()
            }),
            sql: format!(
                "SELECT t.priority, count(*), avg(e.at - t.created_at) FROM ticket_events e
                 JOIN tickets t ON t.number = e.ticket WHERE {range} AND {RESOLVED} GROUP BY t.priority"
            ),
            params: vec![from, to],
            against: "resolutions, mean wall time GROUP BY priority",
        },
        Case {
            figure: "report backlog at mid-year",
            ours: Box::new(|| rt.block_on(stats::backlog(store, user, middle)).unwrap().total as usize),
            sql: format!(
                "SELECT coalesce(e.event ->> '$.to', 'new') AS status, count(*) FROM ticket_events e
                 JOIN (SELECT ticket, max(id) AS id FROM ticket_events e
                       WHERE e.at <= ?1 AND {KIND} IN ('created', 'status_changed') GROUP BY ticket) l
                   ON l.id = e.id
                 GROUP BY status"
            ),
            params: vec![middle],
            against: "each ticket's last status by then GROUP BY status",
        },
        Case {
            figure: "report flow by week",
            ours: Box::new(|| rt.block_on(stats::flow(store, policy, user, from, to, Bucket::Week)).unwrap().len()),
            sql: format!(
                "SELECT {week} AS week, sum({KIND} = 'created'), sum({RESOLVED}) FROM ticket_events e
                 WHERE {range} GROUP BY week"
            ),
            params: vec![from, to, monday],
            against: "openings and resolutions GROUP BY week",
        },
        Case {
            figure: "report sla",
            ours: Box::new(|| rt.block_on(stats::sla(store, user, from, to)).unwrap().len()),
            sql: format!(
                "SELECT t.priority, e.event ->> '$.clock', e.event ->> '$.alert', count(*) FROM ticket_events e
                 JOIN tickets t ON t.number = e.ticket WHERE {range} AND {KIND} = 'sla_alert' GROUP BY 1, 2, 3"
            ),
            params: vec![from, to],
            against: "SLA alerts GROUP BY priority, clock, alert",
        },
        Case {
            figure: "report categories by week",
            ours: Box::new(|| {
                rt.block_on(stats::categories(store, policy, user, from, to, Bucket::Week)).unwrap().0.len()
            }),
            sql: format!(
                "SELECT {week} AS week, e.event ->> '$.category' AS category, count(*) FROM ticket_events e
                 WHERE {range} AND {KIND} = 'created' GROUP BY week, category"
            ),
            params: vec![from, to, monday],
            against: "openings GROUP BY week, category",
        },
        Case {
            figure: "report education",
            ours: Box::new(|| rt.block_on(stats::education(store, user, from, to)).unwrap().topics.len()),
            sql: format!(
                "SELECT t.category, count(*) FROM ticket_events e JOIN tickets t ON t.number = e.ticket
                 WHERE {range} AND {RESOLVED} AND e.event ->> '$.code' = 'user-instructed' GROUP BY t.category
                 UNION ALL SELECT NULL, count(*) FROM self_help WHERE at >= ?1 AND at < ?2"
            ),
            params: vec![from, to],
            against: "user-instructed resolutions GROUP BY category",
        },
        Case {
            figure: "report checks",
            ours: Box::new(|| rt.block_on(stats::checks(store, user, from, to)).unwrap().len()),
            sql: format!(
                "SELECT e.event ->> '$.check', t.category, count(*), sum(e.event ->> '$.state' = 'done')
                 FROM ticket_events e JOIN tickets t ON t.number = e.ticket
                 WHERE {range} AND {KIND} = 'check_run' GROUP BY 1, 2"
            ),
            params: vec![from, to],
            against: "check runs GROUP BY check, category",
        },
    ];
    let mut rows = Vec::new();
    for case in cases {
        let params = rusqlite::params_from_iter(case.params.iter());
        assert!((case.ours)() > 0, "{}: an empty report measures nothing", case.figure);
        assert!(!bench.select(&case.sql, params.clone()).is_empty(), "{}: the baseline finds nothing", case.figure);
        let (a, b) = time(
            WARMUP,
            iterations,
            |_| {
                (case.ours)();
            },
            |_| {
                bench.select(&case.sql, params.clone());
            },
        );
        rows.extend(pair(case.figure, &a, &b, case.against));
    }
    rows
}
