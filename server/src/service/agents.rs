//! Machines: enrolled with a one-time token, renewed over their own connection, revoked by an admin, and their
//! snapshots stored as they arrive.

use std::collections::HashMap;

use lifeline_net::tls::fingerprint;
use lifeline_shared::findings::{self, Finding};
use lifeline_shared::wire::{EnrollRequest, Snapshot, close};
use rustls_pki_types::CertificateDer;
use tracing::info;

use super::{Effects, Error};
use crate::desk::access::{Act, require};
use crate::pki::Pki;
use crate::store::agents::{self, Agent, SnapshotRow, SnapshotSummary};
use crate::store::auth::User;
use crate::store::{Store, StoreError, now_ms};

/// A snapshot as it is stored: made storable, its findings judged once, and its row encoded before the writer
/// thread, which every acknowledgement waits for, sees it.
pub struct Judged {
    pub findings: Vec<Finding>,
    pub row: SnapshotRow,
}

pub fn judge(snapshot: Snapshot) -> Result<Judged, StoreError> {
    let snapshot = sanitize(snapshot);
    let findings = findings::evaluate(&snapshot);
    let row = SnapshotRow::new(&snapshot, &findings)?;
    Ok(Judged { findings, row })
}

/// A routine snapshot, stored once: a replay of the same id is a no-op.
pub async fn ingest(store: &Store, agent_id: &str, snapshot: Snapshot) -> Result<(), StoreError> {
    let judged = judge(snapshot)?;
    let agent = agent_id.to_owned();
    store.write(move |c| c.insert_snapshot(&agent, &judged.row, now_ms())).await?;
    Ok(())
}

/// The connection's own bookkeeping: when the agent was last heard, and what it runs (given on hello).
pub async fn seen(store: &Store, agent_id: &str, hello: Option<(String, String)>) -> Result<(), StoreError> {
    let id = agent_id.to_owned();
    store.write(move |c| c.agent_seen(&id, hello.as_ref().map(|(v, os)| (v.as_str(), os.as_str())), now_ms())).await
}

/// The agent behind a certificate's fingerprint, revoked or not.
pub async fn by_fingerprint(store: &Store, fingerprint: String) -> Result<Option<Agent>, StoreError> {
    store.read(move |c| c.agent_by_fingerprint(&fingerprint)).await
}

pub async fn list(store: &Store, user: &User) -> Result<Vec<Agent>, Error> {
    require(user.role, Act::Read)?;
    Ok(store.read(|c| c.agents()).await?)
}

/// One machine, revoked or not.
pub async fn get(store: &Store, user: &User, id: String) -> Result<Agent, Error> {
    require(user.role, Act::Read)?;
    Ok(store.read(move |c| c.agent(&id)?.ok_or_else(|| StoreError::NotFound(format!("agent {id}")))).await?)
}

/// A machine with its latest snapshot, so a technician sees it without waiting for a ticket.
#[derive(Debug)]
pub struct Detail {
    pub agent: Agent,
    pub snapshot_count: i64,
    pub findings: Vec<Finding>,
    pub snapshot: Option<Snapshot>,
}

pub async fn show(store: &Store, user: &User, id: String) -> Result<Detail, Error> {
    require(user.role, Act::Read)?;
    let (agent, snapshot_count, snapshot) = store
        .read(move |c| {
            let agent = c.agent(&id)?.ok_or_else(|| StoreError::NotFound(format!("agent {id}")))?;
            let latest = c.latest_snapshot_id(&id)?;
            let snapshot = latest.map(|snap| c.snapshot(&id, &snap)).transpose()?;
            Ok((agent, c.snapshot_count(&id)?, snapshot))
        })
        .await?;
    // Routine snapshots keep only the number of their findings; the latest one's are judged again here.
    let findings = snapshot.as_ref().map(findings::evaluate).unwrap_or_default();
    Ok(Detail { agent, snapshot_count, findings, snapshot })
}

/// The summaries of a machine's latest `limit` stored snapshots, newest first: what its history shows.
pub async fn history(store: &Store, user: &User, id: String, limit: u32) -> Result<Vec<SnapshotSummary>, Error> {
    require(user.role, Act::Read)?;
    Ok(store
        .read(move |c| {
            c.agent(&id)?.ok_or_else(|| StoreError::NotFound(format!("agent {id}")))?;
            c.snapshot_summaries(&id, limit)
        })
        .await?)
}

/// How many findings each machine's latest snapshot had, by agent id; machines that sent none are left out.
pub async fn finding_counts(store: &Store, user: &User) -> Result<HashMap<String, i64>, Error> {
    require(user.role, Act::Read)?;
    Ok(store.read(|c| c.latest_finding_counts()).await?.into_iter().collect())
}

/// Revokes an agent for good: refused from its next connection, and the current one is cut off.
pub async fn revoke(store: &Store, user: &User, id: &str) -> Result<Effects, Error> {
    require(user.role, Act::RevokeAgents)?;
    let (agent, by) = (id.to_owned(), user.name.clone());
    store.write(move |c| c.revoke_agent(&agent, &by, now_ms())).await?;
    info!(agent_id = %id, by = %user.name, "revoked agent");
    Ok(Effects {
        disconnect: vec![(id.to_owned(), close::REVOKED, b"this agent has been revoked")],
        ..Effects::default()
    })
}

/// Spends an enrollment token on a new agent and certifies the key it generated; returns its id and certificate.
pub async fn enroll(
    store: &Store,
    pki: &Pki,
    req: EnrollRequest,
) -> Result<(String, CertificateDer<'static>), StoreError> {
    if req.hostname.is_empty() || req.hostname.len() > 255 || req.os.len() > 255 || req.agent_version.len() > 64 {
        return Err(StoreError::Refused("hostname, os or version is missing or too long".into()));
    }
    let agent_id = agents::new_id();
    let cert = pki.sign_agent(&req.csr_der, &agent_id).map_err(|e| StoreError::Refused(e.to_string()))?;
    let fp = hex::encode(fingerprint(&cert));
    let id = agent_id.clone();
    store
        .write(move |c| {
            let now = now_ms();
            let token_id = c.spend_enrollment_token(&req.token_secret, now)?;
            let new = agents::NewAgent {
                id: &id,
                cert_fingerprint: &fp,
                hostname: &req.hostname,
                os: &req.os,
                agent_version: &req.agent_version,
                token_id: &token_id,
            };
            c.insert_agent(&new, now)
        })
        .await?;
    info!(%agent_id, "enrolled agent");
    Ok((agent_id, cert))
}

/// Certifies the key of the certificate the agent connected with (`leaf`) for a whole new lifetime.
pub async fn renew(
    store: &Store,
    pki: &Pki,
    agent_id: &str,
    leaf: &CertificateDer<'static>,
) -> anyhow::Result<Vec<u8>> {
    let cert = pki.renew_agent(leaf, agent_id)?;
    let (id, presented, renewed) =
        (agent_id.to_owned(), hex::encode(fingerprint(leaf)), hex::encode(fingerprint(&cert)));
    store.write(move |c| c.renew_agent(&id, &presented, &renewed, now_ms())).await?;
    Ok(cert.to_vec())
}

/// JSON has no NaN or infinity, and the store keeps snapshots as JSON: a sensor that reports one must not make the
/// whole snapshot unreadable later.
fn sanitize(mut s: Snapshot) -> Snapshot {
    let fix32 = |v: &mut f32| {
        if !v.is_finite() {
            *v = 0.0
        }
    };
    fix32(&mut s.cpu.usage_pct);
    for l in &mut s.cpu.load_avg {
        if !l.is_finite() {
            *l = 0.0;
        }
    }
    for t in &mut s.temperatures {
        fix32(&mut t.celsius);
        if t.critical_celsius.is_some_and(|c| !c.is_finite()) {
            t.critical_celsius = None;
        }
    }
    if let Some(b) = &mut s.battery {
        fix32(&mut b.percent);
        if b.health_pct.is_some_and(|h| !h.is_finite()) {
            b.health_pct = None;
        }
    }
    for p in s.processes.top_cpu.iter_mut().chain(s.processes.top_memory.iter_mut()) {
        fix32(&mut p.cpu_pct);
    }
    s
}
