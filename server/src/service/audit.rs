//! The audit log, for those who may read it, and checkpoints of its head signed by the CA.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use super::Error;
use crate::State;
use crate::desk::access::{Act, require};
use crate::desk::policy::Policy;
use crate::store::audit::{self, Checkpoint};
use crate::store::auth::User;
use crate::store::{Store, StoreError, now_ms};

/// Entries after `after`, oldest first, at most `limit`.
pub async fn entries(store: &Store, user: &User, after: i64, limit: i64) -> Result<Vec<audit::Entry>, Error> {
    require(user.role, Act::ReadAudit)?;
    Ok(store.read(move |c| c.audit_entries(after, limit)).await?)
}

pub async fn verify(store: &Store, user: &User) -> Result<audit::Verdict, Error> {
    require(user.role, Act::ReadAudit)?;
    let verdict = store.read(|c| c.verify_audit()).await?;
    if let Some(broken) = &verdict.broken {
        tracing::warn!(seq = broken.seq, reason = %broken.reason, "audit chain is broken");
    }
    Ok(verdict)
}

/// Signs the audit chain's head with the CA and appends it to the checkpoint file `file`.
pub async fn take_checkpoint(state: &State, file: &Path) -> anyhow::Result<Checkpoint> {
    let (seq, hash) = state.store.read(|c| c.audit_head()).await?;
    let checkpoint = Checkpoint::sign(seq, hash, now_ms(), &state.pki)?;
    let (line, path) = (checkpoint.clone(), file.to_owned());
    tokio::task::spawn_blocking(move || audit::append_checkpoint(&path, &line))
        .await
        .context("appending the checkpoint")?
        .with_context(|| format!("appending to {}", file.display()))?;
    Ok(checkpoint)
}

/// Takes a checkpoint every `every`, the first one `every` after the start. A failure is logged and the schedule
/// goes on: the next checkpoint covers everything the missed one would have.
pub async fn checkpoint_schedule(state: Arc<State>, every: Duration) {
    let file = state.config.checkpoint_file();
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        match take_checkpoint(&state, &file).await {
            Ok(c) => tracing::info!(seq = c.seq, file = %file.display(), "audit checkpoint taken"),
            Err(e) => {
                tracing::warn!(error = %format!("{e:#}"), file = %file.display(), "cannot take an audit checkpoint")
            }
        }
    }
}

/// Records the help desk's policy (priority matrix, resolution codes, SLA) in the audit log when it differs from the
/// last one recorded: a server started with changed settings leaves the change on the record. Returns whether it
/// recorded one.
pub async fn record_policy(store: &Store, policy: &Policy) -> Result<bool, StoreError> {
    let detail = policy.describe();
    store
        .write(move |c| {
            if c.last_audit_detail(POLICY_ACTION)? == Some(detail.to_string()) {
                return Ok(false);
            }
            c.audit("server", POLICY_ACTION, &detail, now_ms())?;
            Ok(true)
        })
        .await
}

const POLICY_ACTION: &str = "desk.policy";

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_changed_policy_is_recorded_once_and_an_unchanged_one_never() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.db")).unwrap();
        let mut policy = Policy::default();
        assert!(record_policy(&store, &policy).await.unwrap(), "the first start records it");
        assert!(!record_policy(&store, &policy).await.unwrap(), "a restart with the same settings does not");
        policy.resolution_codes.push("replaced-toner".into());
        assert!(record_policy(&store, &policy).await.unwrap());
        assert!(!record_policy(&store, &policy).await.unwrap());
        let entries = store.read(|c| c.audit_entries(0, 10)).await.unwrap();
        assert_eq!(entries.len(), 2);
        assert!(entries[1].detail.contains("replaced-toner") && entries[1].action == POLICY_ACTION);
    }
}
