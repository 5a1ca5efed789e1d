//! Figures for the help desk: each report reads the tickets' folded histories (`ticket_facts`) and hands them to the
//! pure reports of [`crate::desk::reports`], in the help desk's time zone and business hours. Who sees what: every
//! account reads the desk's figures and its own per-technician row; other technicians' rows need a manager, an admin
//! or an auditor.

use super::Error;
use crate::desk::access::{Act, permits, require};
use crate::desk::policy::Policy;
use crate::desk::reports::{
    self, ALL, BacklogReport, Bucket, CategoryRow, CheckRow, Dimension, EducationReport, FlowRow, ResponseRow,
    SelfHelp, SlaRow, TechnicianRow,
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

async fn facts(store: &Store, from: i64, to: i64) -> Result<Vec<crate::desk::stats::Facts>, Error> {
    Ok(store.read(move |c| c.facts_touching(from, to)).await?)
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
    let facts = facts(store, from, to).await?;
    let cal = &policy.sla.calendar;
    let mut rows = reports::technicians(&facts, cal, cal.zone(), from, to, by);
    if !permits(user.role, Act::ReadOthersStats) {
        rows.retain(|r| r.technician == ALL || r.technician == user.name);
    }
    Ok(rows)
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
    Ok(reports::response(&facts(store, from, to).await?, &policy.sla.calendar, from, to, dimension))
}

pub async fn backlog(store: &Store, user: &User, at: i64) -> Result<BacklogReport, Error> {
    require(user.role, Act::ReadStats)?;
    Ok(reports::backlog(&facts(store, at, at.saturating_add(1)).await?, at))
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
    Ok(reports::flow(&facts(store, from, to).await?, policy.sla.calendar.zone(), from, to, by))
}

pub async fn sla(store: &Store, user: &User, from: i64, to: i64) -> Result<Vec<SlaRow>, Error> {
    require(user.role, Act::ReadStats)?;
    range(from, to)?;
    Ok(reports::sla(&facts(store, from, to).await?, from, to))
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
    let rows = reports::categories(&facts(store, from, to).await?, policy.sla.calendar.zone(), from, to, by);
    let rising = reports::rising(&rows);
    Ok((rows, rising))
}

pub async fn education(store: &Store, user: &User, from: i64, to: i64) -> Result<EducationReport, Error> {
    require(user.role, Act::ReadStats)?;
    range(from, to)?;
    let (facts, self_help, departments) = store
        .read(move |c| Ok((c.facts_touching(from, to)?, c.self_help_between(from, to)?, c.departments()?)))
        .await?;
    let self_help: Vec<SelfHelp> = self_help
        .into_iter()
        .map(|s| SelfHelp { at: s.at, person: s.person, shown: s.shown, solved: s.solved })
        .collect();
    let department_of = |person: Option<i64>| person.and_then(|p| departments.get(&p).cloned());
    Ok(reports::education(&facts, &self_help, &department_of, from, to))
}

pub async fn checks(store: &Store, user: &User, from: i64, to: i64) -> Result<Vec<CheckRow>, Error> {
    require(user.role, Act::ReadStats)?;
    range(from, to)?;
    Ok(reports::checks(&facts(store, from, to).await?, from, to))
}
