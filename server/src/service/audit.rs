//! The audit log, for those who may read it.

use super::Error;
use crate::desk::access::{Act, require};
use crate::store::auth::User;
use crate::store::{Store, audit};

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
