//! Agents and their snapshots. An agent's identity is the fingerprint of the certificate we issued it, never what it
//! says about itself.

use lifeline_shared::findings::Finding;
use lifeline_shared::wire::Snapshot;
use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use super::{Read, StoreError, Tx};
use crate::desk::webhooks::Topic;

#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct Agent {
    pub id: String,
    pub hostname: String,
    pub os: String,
    pub agent_version: String,
    pub enrolled_at: i64,
    pub last_seen_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

pub struct NewAgent<'a> {
    pub id: &'a str,
    pub cert_fingerprint: &'a str,
    pub hostname: &'a str,
    pub os: &'a str,
    pub agent_version: &'a str,
    pub token_id: &'a str,
}

impl Read<'_> {
    /// The agent holding this certificate: its current one, or the one it had before its last renewal.
    pub fn agent_by_fingerprint(&self, fingerprint: &str) -> Result<Option<Agent>, StoreError> {
        let conn = self.conn;
        let sql =
            format!("SELECT {AGENT_COLUMNS} FROM agents WHERE cert_fingerprint = ?1 OR previous_fingerprint = ?1");
        Ok(conn.prepare_cached(&sql)?.query_row([fingerprint], agent_row).optional()?)
    }

    pub fn agent(&self, id: &str) -> Result<Option<Agent>, StoreError> {
        let conn = self.conn;
        let sql = format!("SELECT {AGENT_COLUMNS} FROM agents WHERE id = ?1");
        Ok(conn.query_row(&sql, [id], agent_row).optional()?)
    }

    pub fn agents(&self) -> Result<Vec<Agent>, StoreError> {
        let conn = self.conn;
        let sql = format!("SELECT {AGENT_COLUMNS} FROM agents ORDER BY hostname, id");
        let mut stmt = conn.prepare(&sql)?;
        let rows = stmt.query_map([], agent_row)?.collect::<Result<_, _>>()?;
        Ok(rows)
    }

    pub fn snapshot(&self, agent_id: &str, id: &str) -> Result<Snapshot, StoreError> {
        let conn = self.conn;
        let row: Option<(i64, Vec<u8>)> = conn
            .prepare_cached("SELECT format, body FROM snapshots WHERE agent_id = ?1 AND id = ?2")?
            .query_row([agent_id, id], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        let (format, body) = row.ok_or_else(|| StoreError::NotFound(format!("snapshot {id} of agent {agent_id}")))?;
        decode_snapshot(format, &body).map_err(|e| StoreError::Corrupt(format!("snapshot {id}: {e}")))
    }

    pub fn latest_snapshot_id(&self, agent_id: &str) -> Result<Option<String>, StoreError> {
        let conn = self.conn;
        Ok(conn
            .query_row("SELECT id FROM snapshots WHERE agent_id = ?1 ORDER BY taken_at DESC LIMIT 1", [agent_id], |r| {
                r.get(0)
            })
            .optional()?)
    }

    pub fn snapshot_count(&self, agent_id: &str) -> Result<i64, StoreError> {
        let conn = self.conn;
        Ok(conn.query_row("SELECT count(*) FROM snapshots WHERE agent_id = ?1", [agent_id], |r| r.get(0))?)
    }

    /// The summaries of an agent's latest `limit` snapshots, newest first: the summary columns only, so a machine's
    /// history decompresses no body.
    pub fn snapshot_summaries(&self, agent_id: &str, limit: u32) -> Result<Vec<SnapshotSummary>, StoreError> {
        let conn = self.conn;
        let mut stmt = conn.prepare_cached(
            "SELECT taken_at, cpu_usage_pct, memory_used_pct, fullest_disk_pct, finding_count FROM snapshots
             WHERE agent_id = ?1 ORDER BY taken_at DESC LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![agent_id, limit], |r| {
            Ok(SnapshotSummary {
                taken_at: r.get(0)?,
                cpu_usage_pct: r.get(1)?,
                memory_used_pct: r.get(2)?,
                fullest_disk_pct: r.get(3)?,
                finding_count: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Each agent's number of findings in its latest snapshot, for the list of machines; an agent that sent none
    /// is left out. One index lookup per agent.
    pub fn latest_finding_counts(&self) -> Result<Vec<(String, i64)>, StoreError> {
        let conn = self.conn;
        let mut stmt = conn.prepare_cached(
            "SELECT id, (SELECT finding_count FROM snapshots WHERE agent_id = agents.id ORDER BY taken_at DESC LIMIT 1)
             FROM agents",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, Option<i64>>(1)?)))?;
        let mut counts = Vec::new();
        for row in rows {
            if let (id, Some(count)) = row? {
                counts.push((id, count));
            }
        }
        Ok(counts)
    }
}

/// What a stored snapshot's summary columns say, for a machine's history.
#[derive(Debug, Clone, PartialEq)]
pub struct SnapshotSummary {
    pub taken_at: i64,
    pub cpu_usage_pct: f64,
    pub memory_used_pct: f64,
    pub fullest_disk_pct: f64,
    pub finding_count: i64,
}

impl Tx<'_> {
    pub fn insert_agent(&self, a: &NewAgent<'_>, now: i64) -> Result<(), StoreError> {
        let conn = self.conn;
        conn.execute(
            "INSERT INTO agents (id, cert_fingerprint, hostname, os, agent_version, token_id, enrolled_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![a.id, a.cert_fingerprint, a.hostname, a.os, a.agent_version, a.token_id, now],
        )?;
        let detail =
            serde_json::json!({ "hostname": a.hostname, "token": a.token_id, "fingerprint": a.cert_fingerprint });
        self.audit(a.id, "agent.enrolled", &detail, now)?;
        let announced = || serde_json::json!({ "agent": a.id, "hostname": a.hostname, "os": a.os });
        self.enqueue_webhooks(Topic::AgentEnrolled, announced, now)?;
        Ok(())
    }

    /// Registers the simulated agents of a load test as enrollment would register real ones: a token spent once per
    /// agent, then each agent's row and audit entry, all in the caller's transaction. `agents` holds (id, certificate
    /// fingerprint in hex); hostnames are `swarm-00000` onwards.
    pub fn insert_simulated_agents(&self, agents: &[(String, String)], now: i64) -> Result<(), StoreError> {
        let uses = u32::try_from(agents.len()).map_err(|_| StoreError::Refused("too many agents at once".into()))?;
        let token =
            self.create_enrollment_token("local-admin", now, now + 60_000, uses, "simulated agents (bulk-enroll)")?;
        for (i, (id, fingerprint)) in agents.iter().enumerate() {
            let token_id = self.spend_enrollment_token(&token.secret, now)?;
            let hostname = format!("swarm-{i:05}");
            let new = NewAgent {
                id,
                cert_fingerprint: fingerprint,
                hostname: &hostname,
                os: "simulated",
                agent_version: "",
                token_id: &token_id,
            };
            self.insert_agent(&new, now)?;
        }
        Ok(())
    }

    pub fn agent_seen(&self, id: &str, hello: Option<(&str, &str)>, now: i64) -> Result<(), StoreError> {
        let conn = self.conn;
        match hello {
            Some((version, os)) => conn
                .prepare_cached("UPDATE agents SET last_seen_at = ?2, agent_version = ?3, os = ?4 WHERE id = ?1")?
                .execute(params![id, now, version, os])?,
            None => {
                conn.prepare_cached("UPDATE agents SET last_seen_at = ?2 WHERE id = ?1")?.execute(params![id, now])?
            }
        };
        Ok(())
    }

    pub fn revoke_agent(&self, id: &str, by: &str, now: i64) -> Result<(), StoreError> {
        let conn = self.conn;
        let changed = conn.execute(
            "UPDATE agents SET revoked_at = ?2, revoked_by = ?3 WHERE id = ?1 AND revoked_at IS NULL",
            params![id, now, by],
        )?;
        if changed == 0 {
            let exists: bool =
                conn.query_row("SELECT EXISTS(SELECT 1 FROM agents WHERE id = ?1)", [id], |r| r.get(0))?;
            return Err(if exists {
                StoreError::Conflict(format!("agent {id} is already revoked"))
            } else {
                StoreError::NotFound(format!("agent {id}"))
            });
        }
        self.audit(by, "agent.revoked", &serde_json::json!({ "agent": id }), now)?;
        self.enqueue_webhooks(Topic::AgentRevoked, || serde_json::json!({ "agent": id, "by": by }), now)?;
        Ok(())
    }

    /// Records a renewed certificate. The one the agent connected with (`presented`) stays valid: it is the one the agent
    /// surely holds, whether or not the new one reaches it.
    pub fn renew_agent(&self, id: &str, presented: &str, renewed: &str, now: i64) -> Result<(), StoreError> {
        let conn = self.conn;
        let changed = conn.execute(
            "UPDATE agents SET previous_fingerprint = ?2, cert_fingerprint = ?3 WHERE id = ?1 AND revoked_at IS NULL",
            params![id, presented, renewed],
        )?;
        if changed == 0 {
            return Err(StoreError::Refused(format!("agent {id} is revoked or unknown")));
        }
        self.audit(id, "agent.certificate_renewed", &serde_json::json!({ "fingerprint": renewed }), now)
    }

    /// Stores a snapshot once: a replay of the same id from the same agent is a no-op, which makes re-sending after a
    /// lost acknowledgement safe. Returns the snapshot's id.
    pub fn insert_snapshot(&self, agent_id: &str, row: &SnapshotRow, now: i64) -> Result<String, StoreError> {
        let conn = self.conn;
        let inserted = conn
            .prepare_cached(
                "INSERT INTO snapshots (agent_id, id, taken_at, received_at, cpu_usage_pct, memory_used_pct,
                                    fullest_disk_pct, finding_count, format, body)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) ON CONFLICT DO NOTHING",
            )?
            .execute(params![
                agent_id,
                row.id,
                row.taken_at,
                now,
                row.cpu_usage_pct,
                row.memory_used_pct,
                row.fullest_disk_pct,
                row.finding_count,
                SNAPSHOT_FORMAT,
                row.body
            ])?;
        // A replay stored nothing new and counts nothing.
        if inserted == 1 {
            self.wrote(super::Written::Snapshot);
        }
        Ok(row.id.clone())
    }
}
/// A fresh agent id; the server chooses it when it signs the agent's certificate.
pub fn new_id() -> String {
    let mut bytes = [0u8; 6];
    rand::Rng::fill(&mut rand::rng(), &mut bytes);
    format!("ag-{}", hex::encode(bytes))
}

const AGENT_COLUMNS: &str = "id, hostname, os, agent_version, enrolled_at, last_seen_at, revoked_at";

fn agent_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Agent> {
    Ok(Agent {
        id: r.get(0)?,
        hostname: r.get(1)?,
        os: r.get(2)?,
        agent_version: r.get(3)?,
        enrolled_at: r.get(4)?,
        last_seen_at: r.get(5)?,
        revoked_at: r.get(6)?,
    })
}

/// The format snapshot bodies are written in now: the JSON of the wire's [`Snapshot`], lz4-compressed with its
/// length in front.
const SNAPSHOT_FORMAT: i64 = 1;

/// The one way back from a stored snapshot body. The wire's snapshot grows by fields appended at the end; each must
/// come with a default, so that bodies of every earlier format still decode (the golden body in the tests holds the
/// first format to that).
pub fn decode_snapshot(format: i64, body: &[u8]) -> Result<Snapshot, String> {
    match format {
        1 => {
            let json = lz4_flex::decompress_size_prepended(body).map_err(|e| e.to_string())?;
            serde_json::from_slice(&json).map_err(|e| e.to_string())
        }
        other => Err(format!("snapshot format {other} is newer than this server; upgrade it")),
    }
}

/// A snapshot ready to store: its JSON compressed and its summary columns computed before the writer thread, which
/// every acknowledgement waits for, sees it.
#[derive(Debug)]
pub struct SnapshotRow {
    id: String,
    taken_at: i64,
    cpu_usage_pct: f64,
    memory_used_pct: f64,
    fullest_disk_pct: f64,
    finding_count: i64,
    body: Vec<u8>,
}

impl SnapshotRow {
    pub fn new(snap: &Snapshot, findings: &[Finding]) -> Result<SnapshotRow, StoreError> {
        let json =
            serde_json::to_vec(snap).map_err(|e| StoreError::Internal(format!("cannot encode a snapshot: {e}")))?;
        Ok(SnapshotRow {
            id: hex::encode(snap.id),
            taken_at: i64::try_from(snap.taken_at_ms).unwrap_or(i64::MAX),
            cpu_usage_pct: f64::from(snap.cpu.usage_pct),
            memory_used_pct: percent(
                snap.memory.total_bytes.saturating_sub(snap.memory.available_bytes),
                snap.memory.total_bytes,
            ),
            fullest_disk_pct: snap
                .disks
                .iter()
                .map(|d| percent(d.total_bytes.saturating_sub(d.available_bytes), d.total_bytes))
                .fold(0.0, f64::max),
            finding_count: i64::try_from(findings.len()).unwrap_or(i64::MAX),
            body: lz4_flex::compress_prepend_size(&json),
        })
    }
}

fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 { 0.0 } else { part as f64 * 100.0 / whole as f64 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_renewed_agent_is_known_by_its_new_certificate_and_the_one_it_renewed_with() {
        let mut conn = rusqlite::Connection::open_in_memory().unwrap();
        super::super::schema::migrate(&mut conn).unwrap();
        let tx = Tx::new(&conn);
        let agents = [("ag-1".to_owned(), "f1".to_owned()), ("ag-2".to_owned(), "g1".to_owned())];
        tx.insert_simulated_agents(&agents, 1).unwrap();
        let holder = |fp: &str| tx.agent_by_fingerprint(fp).unwrap().map(|a| a.id);
        tx.renew_agent("ag-1", "f1", "f2", 2).unwrap();
        assert_eq!((holder("f1"), holder("f2")), (Some("ag-1".into()), Some("ag-1".into())));
        // The new certificate never arrived: the agent renews again with the one it has, which stays valid.
        tx.renew_agent("ag-1", "f1", "f3", 3).unwrap();
        assert_eq!((holder("f1"), holder("f2"), holder("f3")), (Some("ag-1".into()), None, Some("ag-1".into())));
        tx.renew_agent("ag-1", "f3", "f4", 4).unwrap();
        assert_eq!((holder("f1"), holder("f3"), holder("f4")), (None, Some("ag-1".into()), Some("ag-1".into())));
        assert_eq!(holder("g1"), Some("ag-2".into()));
        tx.revoke_agent("ag-2", "admin", 5).unwrap();
        assert!(matches!(tx.renew_agent("ag-2", "g1", "g2", 6), Err(StoreError::Refused(_))));
        assert_eq!(holder("g2"), None);
        let renewals: i64 = conn
            .query_row("SELECT count(*) FROM audit WHERE action = 'agent.certificate_renewed'", [], |r| r.get(0))
            .unwrap();
        assert_eq!(renewals, 3);
    }

    #[test]
    fn a_machines_history_and_finding_count_come_from_its_latest_snapshots_by_time() {
        let mut conn = rusqlite::Connection::open_in_memory().unwrap();
        super::super::schema::migrate(&mut conn).unwrap();
        let tx = Tx::new(&conn);
        let agents = [("ag-1".to_owned(), "f1".to_owned()), ("ag-2".to_owned(), "g1".to_owned())];
        tx.insert_simulated_agents(&agents, 1).unwrap();
        let finding = Finding {
            kind: lifeline_shared::findings::FindingKind::DiskNearlyFull,
            severity: lifeline_shared::findings::Severity::Critical,
            category: lifeline_shared::findings::Category::Hardware,
            summary: "/ is 97% full".into(),
            advice: "free some space".into(),
            about: "/".into(),
            figure: Some(97),
        };
        // Taken out of order: the history is by the time each was taken, not by arrival.
        for (i, taken) in [3u8, 1, 4, 2].into_iter().enumerate() {
            let mut snap = Snapshot { id: [taken; 16], taken_at_ms: u64::from(taken) * 1000, ..Snapshot::default() };
            snap.cpu.usage_pct = f32::from(taken) * 10.0;
            snap.memory.total_bytes = 100;
            snap.memory.available_bytes = 100 - u64::from(taken) * 20;
            let findings = vec![finding.clone(); usize::from(taken)];
            tx.insert_snapshot("ag-1", &SnapshotRow::new(&snap, &findings).unwrap(), i as i64).unwrap();
        }
        let history = tx.snapshot_summaries("ag-1", 3).unwrap();
        let seen: Vec<_> =
            history.iter().map(|s| (s.taken_at, s.cpu_usage_pct, s.memory_used_pct, s.finding_count)).collect();
        assert_eq!(seen, [(4000, 40.0, 80.0, 4), (3000, 30.0, 60.0, 3), (2000, 20.0, 40.0, 2)]);
        assert!(tx.snapshot_summaries("ag-2", 48).unwrap().is_empty());
        // An agent without a snapshot has no count, rather than a count of nothing.
        assert_eq!(tx.latest_finding_counts().unwrap(), [("ag-1".to_owned(), 4)]);
    }
}
