//! Approved checks on the server's side: who may ask for what, queueing for agents that are offline, and recording
//! every outcome on the run, the ticket and the audit log. The server's gate is the first of two: the agent checks
//! parameters, its own policy and the user's consent again, whatever the server says.

use lifeline_shared::catalog::Check;
use lifeline_shared::wire::{CheckReport, CheckRequest, ServerControl};
use serde_json::json;
use sha2::{Digest, Sha256};
use tracing::{info, warn};

use super::{Effects, Error};
use crate::desk::access::{Act, Denied, require};
use crate::desk::actor::Actor;
use crate::desk::checks::RunState;
use crate::desk::tickets::{Event, Status};
use crate::desk::webhooks::Topic;
use crate::store::auth::User;
use crate::store::checks::{NewRun, Run};
use crate::store::{Store, StoreError, now_ms};

/// How long a check may wait for an offline agent unless the technician says otherwise, and the most they may say.
pub const DEFAULT_EXPIRY_MINUTES: u32 = 60;
pub const MAX_EXPIRY_MINUTES: u32 = 24 * 60;

pub struct Ask {
    pub agent_id: String,
    pub name: String,
    pub params: Vec<(String, String)>,
    pub ticket: Option<i64>,
    pub expires_minutes: u32,
}

/// Authorizes and queues one check, to be sent to its agent now if it is connected and when it connects otherwise.
/// Every refusal is audited before it is returned.
pub async fn request(store: &Store, user: &User, ask: Ask) -> Result<(Run, Effects), Error> {
    let refusal = match gate(store, user, &ask).await {
        Ok(check) => {
            let (tech, agent_id, ticket) = (user.name.clone(), ask.agent_id.clone(), ask.ticket);
            let role = user.role.as_str();
            let expires_at = now_ms() + i64::from(ask.expires_minutes) * 60_000;
            let run = store
                .write(move |c| {
                    let now = now_ms();
                    let new = NewRun { agent_id: &agent_id, ticket, technician: &tech, check: &check, expires_at };
                    let id = c.insert_run(&new, now)?;
                    let detail = json!({
                        "run": id, "agent": agent_id, "ticket": ticket, "check": check.describe(), "role": role,
                    });
                    c.audit(&tech, "check.requested", &detail, now)?;
                    c.run(id)
                })
                .await?;
            info!(run = run.id, agent_id = %run.agent_id, by = %user.name, check = %run.description, "check requested");
            let send = vec![(run.agent_id.clone(), ServerControl::RunCheck(to_wire(&run)))];
            return Ok((run, Effects { send, ..Effects::default() }));
        }
        Err(Error::Store(e)) if e.is_retryable() => return Err(e.into()),
        Err(refusal) => refusal,
    };
    warn!(by = %user.name, agent_id = %ask.agent_id, check = %ask.name, reason = %refusal, "check refused");
    let detail = json!({
        "agent": ask.agent_id, "ticket": ask.ticket, "check": ask.name, "params": ask.params,
        "role": user.role.as_str(), "reason": refusal.to_string(),
    });
    let actor = user.name.clone();
    store.write(move |c| c.audit(&actor, "check.refused", &detail, now_ms())).await?;
    Err(refusal)
}

/// The server's gate: the role, the check's class against the technician's tier, its parameters, and the agent and
/// ticket it is for. Passing faults of the store are not refusals and are not audited as such.
async fn gate(store: &Store, user: &User, ask: &Ask) -> Result<Check, Error> {
    require(user.role, Act::RunChecks)?;
    let check = Check::parse(&ask.name, &ask.params).map_err(|e| StoreError::Refused(e.to_string()))?;
    let definition = check.definition();
    if user.role.tier() < definition.min_tier {
        return Err(Error::Denied(Denied(format!(
            "{} is a class {:?} check for tier {} and up; you work at tier {}",
            definition.name,
            definition.class,
            definition.min_tier,
            user.role.tier()
        ))));
    }
    if !(1..=MAX_EXPIRY_MINUTES).contains(&ask.expires_minutes) {
        return Err(StoreError::Refused(format!("expiry must be 1 to {MAX_EXPIRY_MINUTES} minutes")).into());
    }
    let (agent_id, ticket) = (ask.agent_id.clone(), ask.ticket);
    store
        .read(move |c| {
            let agent = c.agent(&agent_id)?.ok_or_else(|| StoreError::NotFound(format!("agent {agent_id}")))?;
            if agent.revoked_at.is_some() {
                return Err(StoreError::Refused(format!("agent {agent_id} is revoked")));
            }
            if let Some(number) = ticket {
                let t = c.ticket(number)?.state;
                if t.agent_id.as_deref() != Some(agent_id.as_str()) {
                    return Err(StoreError::Refused(format!("ticket {number} is not about agent {agent_id}")));
                }
                if t.status == Status::Closed {
                    return Err(StoreError::Refused(format!("ticket {number} is closed")));
                }
            }
            Ok(())
        })
        .await?;
    Ok(check)
}

pub fn to_wire(run: &Run) -> CheckRequest {
    CheckRequest {
        id: u64::try_from(run.id).unwrap_or_default(),
        ticket: run.ticket.and_then(|t| u64::try_from(t).ok()),
        technician: run.technician.clone(),
        check: run.check.clone(),
    }
}

/// What waits for a connecting agent, in order: runs never sent, unless they waited too long (those expire here),
/// and runs sent before whose result has not arrived (the agent runs none twice, and a result still in its spool
/// comes on its own).
pub async fn pending(store: &Store, agent_id: &str) -> Result<Effects, StoreError> {
    let id = agent_id.to_owned();
    let mut send = Vec::new();
    for run in store.read(move |c| c.pending_runs(&id)).await? {
        if run.state == RunState::Queued && run.expires_at <= now_ms() {
            let reason = "the agent did not connect before the request expired";
            if let Err(e) = finish(store, agent_id, run.id, RunState::Expired, reason.into(), None).await {
                warn!(run = run.id, error = %e, "cannot expire a check");
            }
        } else {
            send.push((agent_id.to_owned(), ServerControl::RunCheck(to_wire(&run))));
        }
    }
    Ok(Effects { send, ..Effects::default() })
}

/// Records a run's end once: on the run, as an event on its ticket, and in the audit log with a hash of the result.
/// A second report of the same run, or one for a run that is not this agent's, changes nothing.
pub async fn finish(
    store: &Store,
    agent_id: &str,
    run_id: i64,
    end: RunState,
    result: String,
    elapsed: Option<u64>,
) -> Result<(), StoreError> {
    let agent = agent_id.to_owned();
    let outcome = store
        .write(move |c| {
            let now = now_ms();
            let Some(run) = c.finish_run(run_id, &agent, end, &result, elapsed, now)? else {
                return Ok(None);
            };
            let action = match end {
                RunState::Refused => "check.refused-by-agent",
                RunState::Expired => "check.expired",
                _ => "check.executed",
            };
            let detail = json!({
                "run": run.id, "agent": run.agent_id, "ticket": run.ticket, "check": run.description,
                "state": end.as_str(), "elapsed_ms": run.elapsed_ms,
                "result_sha256": hex::encode(Sha256::digest(result.as_bytes())),
            });
            c.audit(&agent, action, &detail, now)?;
            let announced = || {
                json!({
                    "run": run.id, "agent": run.agent_id, "ticket": run.ticket, "check": run.description,
                    "technician": run.technician, "state": end.as_str(), "elapsed_ms": run.elapsed_ms,
                    "result": result,
                })
            };
            c.enqueue_webhooks(Topic::CheckFinished, announced, now)?;
            if let Some(number) = run.ticket {
                let event = Event::CheckRun {
                    run: run.id,
                    check: run.description.clone(),
                    state: end.as_str().to_owned(),
                    elapsed_ms: run.elapsed_ms,
                    result,
                };
                // A ticket closed meanwhile takes no more events; the run and the audit entry still hold the result.
                match c.append_event(number, None, &Actor::technician(&run.technician), &event, now) {
                    Err(StoreError::Conflict(why)) => warn!(run = run.id, ticket = number, %why, "result not attached"),
                    other => drop(other?),
                }
            }
            Ok(Some(run))
        })
        .await;
    match outcome? {
        Some(run) => info!(run = run.id, state = end.as_str(), check = %run.description, "check finished"),
        None => warn!(run = run_id, "report for a check run that is unknown, not this agent's, or over"),
    }
    Ok(())
}

/// The agent's report on a run it was sent; answered only once it is committed.
pub async fn report(store: &Store, agent_id: &str, report: CheckReport) -> Result<(), StoreError> {
    let (end, result, elapsed) = RunState::of(&report.outcome);
    let id = i64::try_from(report.id).map_err(|_| StoreError::Refused(format!("no check run {}", report.id)))?;
    finish(store, agent_id, id, end, result, elapsed).await
}

/// Marks a run sent as it goes to its agent; false when it ended meanwhile, so it is not sent.
pub async fn mark_sent(store: &Store, id: i64) -> Result<bool, StoreError> {
    store.write(move |c| c.mark_run_sent(id, now_ms())).await
}

pub async fn get(store: &Store, user: &User, id: i64) -> Result<Run, Error> {
    require(user.role, Act::Read)?;
    Ok(store.read(move |c| c.run(id)).await?)
}

/// A machine's latest `limit` check runs, in any state, newest first.
pub async fn of_agent(store: &Store, user: &User, agent_id: String, limit: u32) -> Result<Vec<Run>, Error> {
    require(user.role, Act::Read)?;
    Ok(store.read(move |c| c.runs_of_agent(&agent_id, limit)).await?)
}
