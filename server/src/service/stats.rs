//! Figures for the help desk: each report of [`crate::desk::reports`] is handed the tickets' folded histories
//! (`ticket_facts`) one at a time as the store reads them, in the help desk's time zone and business hours. Who sees
//! what: every account reads the desk's figures and its own per-technician row; other technicians' rows need a
//! manager, an admin or an auditor.

use super::Error;
use crate::desk::access::{Act, permits, require};
use crate::desk::policy::Policy;
use crate::desk::reports::{
    self, ALL, Backlog, BacklogReport, Behind, Bucket, Categories, CategoryRow, CheckRow, Checks, Dimension, Education,
    EducationReport, Figure, Flow, FlowRow, Report, Response, ResponseRow, SelfHelp, SlaRow, Slas, TechnicianRow,
    Technicians,
};
use crate::store::auth::User;
use crate::store::tickets::SelfHelpFigures;
use crate::store::{Store, StoreError, now_ms};

/// The "solved without a call" figure over the last `days`: self-help advice shown, and how often no request
/// followed.
pub async fn self_help(store: &Store, user: &User, days: u32) -> Result<SelfHelpFigures, Error> {
    require(user.role, Act::Read)?;
    let since = now_ms() - i64::from(days) * 24 * 3600 * 1000;
    Ok(store.read(move |c| c.self_help_figures(since)).await?)
}

/// `[from, to)`, checked: a report of a backwards or absurdly long range is the caller's mistake.
fn range(from: i64, to: i64) -> Result<(), Error> {
    const TEN_YEARS: i64 = 10 * 366 * 24 * 3600 * 1000;
    if from >= to || to - from > TEN_YEARS {
        return Err(StoreError::Refused("the range must start before it ends and span at most ten years".into()).into());
    }
    Ok(())
}

/// `report` over the tickets of `[from, to)`, in the store's reader.
async fn run<R>(store: &Store, from: i64, to: i64, mut report: R) -> Result<R::Output, Error>
where
    R: Report + Send + 'static,
    R::Output: Send + 'static,
{
    Ok(store
        .read(move |c| {
            c.each_facts(from, to, report.reads(), |f| report.add(f))?;
            Ok(report.finish())
        })
        .await?)
}

pub async fn technicians(
    store: &Store,
    policy: &Policy,
    user: &User,
    from: i64,
    to: i64,
    by: Bucket,
) -> Result<Vec<TechnicianRow>, Error> {
    require(user.role, Act::ReadStats)?;
    range(from, to)?;
    let cal = &policy.sla.calendar;
    let report = Technicians::new(cal, cal.zone(), from, to, by);
    let mut rows = run(store, from, to, report).await?;
    visible(user, &mut rows);
    Ok(rows)
}

/// Leaves the rows `user` may see: the team's and their own, and other technicians' for those who may read them.
fn visible(user: &User, rows: &mut Vec<TechnicianRow>) {
    if !permits(user.role, Act::ReadOthersStats) {
        rows.retain(|r| r.technician == ALL || r.technician == user.name);
    }
}

pub async fn response(
    store: &Store,
    policy: &Policy,
    user: &User,
    from: i64,
    to: i64,
    dimension: Dimension,
) -> Result<Vec<ResponseRow>, Error> {
    require(user.role, Act::ReadStats)?;
    range(from, to)?;
    run(store, from, to, Response::new(&policy.sla.calendar, from, to, dimension)).await
}

pub async fn backlog(store: &Store, user: &User, at: i64) -> Result<BacklogReport, Error> {
    require(user.role, Act::ReadStats)?;
    run(store, at, at.saturating_add(1), Backlog::new(at)).await
}

pub async fn flow(
    store: &Store,
    policy: &Policy,
    user: &User,
    from: i64,
    to: i64,
    by: Bucket,
) -> Result<Vec<FlowRow>, Error> {
    require(user.role, Act::ReadStats)?;
    range(from, to)?;
    run(store, from, to, Flow::new(policy.sla.calendar.zone(), from, to, by)).await
}

pub async fn sla(store: &Store, user: &User, from: i64, to: i64) -> Result<Vec<SlaRow>, Error> {
    require(user.role, Act::ReadStats)?;
    range(from, to)?;
    run(store, from, to, Slas::new(from, to)).await
}

/// Tickets opened per category and period, and the categories rising in the last period.
pub async fn categories(
    store: &Store,
    policy: &Policy,
    user: &User,
    from: i64,
    to: i64,
    by: Bucket,
) -> Result<(Vec<CategoryRow>, Vec<(String, i64)>), Error> {
    require(user.role, Act::ReadStats)?;
    range(from, to)?;
    let rows = run(store, from, to, Categories::new(policy.sla.calendar.zone(), from, to, by)).await?;
    let rising = reports::rising(&rows);
    Ok((rows, rising))
}

pub async fn education(store: &Store, user: &User, from: i64, to: i64) -> Result<EducationReport, Error> {
    require(user.role, Act::ReadStats)?;
    range(from, to)?;
    Ok(store
        .read(move |c| {
            let self_help: Vec<SelfHelp> = c
                .self_help_between(from, to)?
                .into_iter()
                .map(|s| SelfHelp { at: s.at, person: s.person, shown: s.shown, solved: s.solved })
                .collect();
            let departments = c.departments()?;
            let department_of = |person: Option<i64>| person.and_then(|p| departments.get(&p).cloned());
            let mut report = Education::new(&self_help, &department_of, from, to);
            c.each_facts(from, to, report.reads(), |f| report.add(f))?;
            Ok(report.finish())
        })
        .await?)
}

pub async fn checks(store: &Store, user: &User, from: i64, to: i64) -> Result<Vec<CheckRow>, Error> {
    require(user.role, Act::ReadStats)?;
    range(from, to)?;
    run(store, from, to, Checks::new(from, to)).await
}

/// A table of the reports, whose counts [`behind`] finds the tickets of, with what it is computed for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    Technicians(Bucket),
    Response(Dimension),
    /// At this moment.
    Backlog(i64),
    Flow(Bucket),
    Sla,
    Categories(Bucket),
    /// The education report's topics, and its departments.
    Topics,
    Departments,
    Checks,
}

/// The numbers of the tickets behind `figure` of `table` over `[from, to)` ([`reports::Behind`]), read with the
/// report's own access: a count a user may not see has no tickets behind it for them.
pub async fn behind(
    store: &Store,
    policy: &Policy,
    user: &User,
    table: Table,
    from: i64,
    to: i64,
    figure: Figure,
) -> Result<Vec<i64>, Error> {
    require(user.role, Act::ReadStats)?;
    let cal = &policy.sla.calendar;
    let tz = cal.zone();
    let period = figure.key.iter().find(|(field, _)| field == "period").map(|(_, label)| label.clone());
    let (from, to) = match (table, period) {
        (Table::Backlog(at), _) => (at, at.saturating_add(1)),
        // A count of one period is the same counted over that period alone, which reads only its tickets.
        (Table::Technicians(by) | Table::Flow(by) | Table::Categories(by), Some(label)) => {
            range(from, to)?;
            match reports::periods(tz, from, to, by).into_iter().find(|(l, _)| *l == label) {
                Some((_, p)) => (p.from, p.to),
                None => return Ok(Vec::new()),
            }
        }
        _ => {
            range(from, to)?;
            (from, to)
        }
    };
    match table {
        Table::Technicians(by) => {
            let user = user.clone();
            let count = move |mut rows| {
                visible(&user, &mut rows);
                figure.of(&rows)
            };
            run(store, from, to, Behind::new(Technicians::new(cal, tz, from, to, by), count)).await
        }
        Table::Response(dimension) => {
            run(store, from, to, Behind::new(Response::new(cal, from, to, dimension), move |r| figure.of(&r))).await
        }
        Table::Backlog(at) => run(store, from, to, Behind::new(Backlog::new(at), move |r| figure.of(&r.rows))).await,
        Table::Flow(by) => run(store, from, to, Behind::new(Flow::new(tz, from, to, by), move |r| figure.of(&r))).await,
        Table::Sla => run(store, from, to, Behind::new(Slas::new(from, to), move |r| figure.of(&r))).await,
        Table::Categories(by) => {
            run(store, from, to, Behind::new(Categories::new(tz, from, to, by), move |r| figure.of(&r))).await
        }
        Table::Checks => run(store, from, to, Behind::new(Checks::new(from, to), move |r| figure.of(&r))).await,
        Table::Topics | Table::Departments => Ok(store
            .read(move |c| {
                let departments = c.departments()?;
                let department_of = |person: Option<i64>| person.and_then(|p| departments.get(&p).cloned());
                // Self-help records are no tickets: none is behind any count.
                let report = Education::new(&[], &department_of, from, to);
                let mut behind = Behind::new(report, |r: EducationReport| match table {
                    Table::Topics => figure.of(&r.topics),
                    _ => figure.of(&r.departments),
                });
                c.each_facts(from, to, behind.reads(), |f| behind.add(f))?;
                Ok(behind.finish())
            })
            .await?),
    }
}
