//! What retention reads and deletes, one bounded batch at a time: routine snapshots past their age or their agent's
//! count, check runs long ended, tokens long expired. The pass that decides how much and how often is
//! `service::retention`. Nothing here touches the audit log, and no snapshot a ticket refers to is ever deleted.

use std::collections::{HashMap, HashSet};

use rusqlite::params;

use super::tickets::decode_event;
use super::{Read, StoreError, Tx};
use crate::desk::tickets::Event;

/// The snapshots ticket events refer to, by agent: these live as long as their ticket. Ticket events are only ever
/// appended, so this is kept current by reading the events after the last one it has seen, rather than by asking
/// for every snapshot whether an event names it (`ticket_events` has no index on what its JSON names).
#[derive(Debug, Default)]
pub struct Attached {
    /// The id of the last ticket event read.
    seen: i64,
    by_agent: HashMap<String, HashSet<String>>,
}

impl Attached {
    fn of(&self, agent_id: &str) -> Option<&HashSet<String>> {
        self.by_agent.get(agent_id)
    }

    fn contains(&self, agent_id: &str, id: &str) -> bool {
        self.of(agent_id).is_some_and(|ids| ids.contains(id))
    }
}

/// Which routine snapshots are deleted: those taken before `taken_before`, and those with `keep_newest` newer ones
/// of the same agent; never an agent's newest, nor one a ticket refers to.
#[derive(Debug, Clone, Copy)]
pub struct SnapshotRules {
    pub taken_before: i64,
    pub keep_newest: u32,
}

/// Snapshots to delete, and where the search goes on.
#[derive(Debug)]
pub struct Found {
    /// (agent id, snapshot id).
    pub keys: Vec<(String, String)>,
    /// The agent to look at next (it may be the last one looked at, with more to delete), or `None` once every agent
    /// has been looked at.
    pub next: Option<String>,
}

/// How big the database file is, in pages, and how many of those are free for new rows to reuse: deleting does not
/// shrink the file, and the file stops growing once as many pages are freed as new rows take.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct Pages {
    pub total: i64,
    pub free: i64,
}

impl Read<'_> {
    /// Reads at most `limit` of the ticket events `attached` has not seen; true once it has seen them all.
    pub fn catch_up_attached(&self, attached: &mut Attached, limit: i64) -> Result<bool, StoreError> {
        let conn = self.conn;
        let mut stmt =
            conn.prepare_cached("SELECT id, format, event FROM ticket_events WHERE id > ?1 ORDER BY id LIMIT ?2")?;
        let rows = stmt.query_map(params![attached.seen, limit], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, r.get::<_, String>(2)?))
        })?;
        let mut read = 0;
        for row in rows {
            let (id, format, json) = row?;
            // An event that does not decode might name a snapshot: nothing is deleted until it is mended.
            let event =
                decode_event(format, &json).map_err(|e| StoreError::Corrupt(format!("ticket event {id}: {e}")))?;
            if let Event::SnapshotAttached { agent_id, snapshot_id, .. } = event {
                attached.by_agent.entry(agent_id).or_default().insert(snapshot_id);
            }
            attached.seen = id;
            read += 1;
        }
        Ok(read < limit)
    }

    /// At most `limit` snapshots that `rules` delete, looking at no more than `max_agents` agents in id order from
    /// `from` on, each agent's oldest first.
    pub fn expired_snapshots(
        &self,
        rules: SnapshotRules,
        attached: &Attached,
        from: &str,
        max_agents: usize,
        limit: usize,
    ) -> Result<Found, StoreError> {
        // A search for nothing would never move on.
        let limit = limit.max(1);
        let conn = self.conn;
        let agents: Vec<String> = conn
            .prepare_cached("SELECT id FROM agents WHERE id >= ?1 ORDER BY id LIMIT ?2")?
            .query_map(params![from, i64::try_from(max_agents).unwrap_or(i64::MAX).saturating_add(1)], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        let mut keys = Vec::new();
        for (i, agent) in agents.iter().enumerate().take(max_agents) {
            let Some(bound) = self.snapshot_bound(agent, rules)? else { continue };
            let keep = attached.of(agent);
            let want = limit.saturating_sub(keys.len());
            // Asking for as many more as the agent has attached snapshots: those are skipped, and must not take the
            // place of ones to delete.
            let asked = want.saturating_add(keep.map_or(0, HashSet::len));
            let ids: Vec<String> = conn
                .prepare_cached(
                    "SELECT id FROM snapshots WHERE agent_id = ?1 AND taken_at < ?2 ORDER BY taken_at LIMIT ?3",
                )?
                .query_map(params![agent, bound, i64::try_from(asked).unwrap_or(i64::MAX)], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            let more = ids.len() == asked;
            keys.extend(
                ids.into_iter()
                    .filter(|id| !keep.is_some_and(|k| k.contains(id)))
                    .take(want)
                    .map(|id| (agent.clone(), id)),
            );
            if keys.len() >= limit {
                let next = if more { Some(agent.clone()) } else { agents.get(i + 1).cloned() };
                return Ok(Found { keys, next });
            }
        }
        Ok(Found { keys, next: agents.get(max_agents).cloned() })
    }

    /// The agent's snapshots taken before the returned time are deleted: older than the age limit, or with
    /// `keep_newest` newer ones; never its newest, which is all a technician has of a machine that has been away
    /// long. `None` when it has no snapshot.
    fn snapshot_bound(&self, agent_id: &str, rules: SnapshotRules) -> Result<Option<i64>, StoreError> {
        let mut nth_newest = self.conn.prepare_cached(
            "SELECT taken_at FROM snapshots WHERE agent_id = ?1 ORDER BY taken_at DESC LIMIT 1 OFFSET ?2",
        )?;
        let mut at = |offset: i64| -> Result<Option<i64>, StoreError> {
            let mut rows = nth_newest.query(params![agent_id, offset])?;
            Ok(rows.next()?.map(|r| r.get(0)).transpose()?)
        };
        let Some(newest) = at(0)? else { return Ok(None) };
        let surplus_below = at(i64::from(rules.keep_newest.max(1)) - 1)?.unwrap_or(i64::MIN);
        Ok(Some(rules.taken_before.max(surplus_below).min(newest)))
    }

    pub fn pages(&self) -> Result<Pages, StoreError> {
        let conn = self.conn;
        let total = conn.query_row("PRAGMA page_count", [], |r| r.get(0))?;
        let free = conn.query_row("PRAGMA freelist_count", [], |r| r.get(0))?;
        Ok(Pages { total, free })
    }
}

impl Tx<'_> {
    /// Deletes the snapshots `keys` names, except any a ticket event has come to name since they were found: the
    /// events are read again here, in the transaction that deletes, so none can slip in between. Returns how many
    /// were deleted.
    pub fn delete_snapshots(&self, keys: &[(String, String)], attached: &mut Attached) -> Result<usize, StoreError> {
        while !self.catch_up_attached(attached, 1_000)? {}
        let mut delete = self.conn.prepare_cached("DELETE FROM snapshots WHERE agent_id = ?1 AND id = ?2")?;
        let mut deleted = 0;
        for (agent_id, id) in keys {
            if !attached.contains(agent_id, id) {
                deleted += delete.execute(params![agent_id, id])?;
            }
        }
        Ok(deleted)
    }

    /// Deletes at most `limit` check runs with an id above `after` that ended before `finished_before` and were run
    /// for no ticket (a ticket's runs live as long as the ticket), oldest first. Returns the ids deleted.
    pub fn delete_ended_runs(&self, finished_before: i64, after: i64, limit: usize) -> Result<Vec<i64>, StoreError> {
        let conn = self.conn;
        let ids: Vec<i64> = conn
            .prepare_cached(
                "SELECT id FROM check_runs WHERE id > ?1 AND ticket IS NULL AND state NOT IN ('queued', 'sent')
                 AND finished_at < ?2 ORDER BY id LIMIT ?3",
            )?
            .query_map(params![after, finished_before, i64::try_from(limit).unwrap_or(i64::MAX)], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        let mut delete = conn.prepare_cached("DELETE FROM check_runs WHERE id = ?1")?;
        for id in &ids {
            delete.execute([id])?;
        }
        Ok(ids)
    }

    /// Deletes at most `limit` enrollment tokens that expired before `expired_before` and enrolled no agent: an
    /// agent's row names the token it enrolled with, for as long as the agent is known.
    pub fn delete_expired_enrollment_tokens(&self, expired_before: i64, limit: usize) -> Result<usize, StoreError> {
        Ok(self
            .conn
            .prepare_cached(
                "DELETE FROM enrollment_tokens WHERE id IN (SELECT id FROM enrollment_tokens
             WHERE expires_at < ?1 AND id NOT IN (SELECT token_id FROM agents) LIMIT ?2)",
            )?
            .execute(params![expired_before, i64::try_from(limit).unwrap_or(i64::MAX)])?)
    }

    /// Deletes at most `limit` API tokens that expired before `expired_before`: those of password logins (tokens
    /// made at the console do not expire).
    pub fn delete_expired_api_tokens(&self, expired_before: i64, limit: usize) -> Result<usize, StoreError> {
        Ok(self
            .conn
            .prepare_cached(
                "DELETE FROM api_tokens WHERE token_hash IN (SELECT token_hash FROM api_tokens
             WHERE expires_at < ?1 LIMIT ?2)",
            )?
            .execute(params![expired_before, i64::try_from(limit).unwrap_or(i64::MAX)])?)
    }
}

#[cfg(test)]
mod tests {
    use lifeline_shared::wire::Snapshot;

    use super::*;
    use crate::desk::actor::Actor;
    use crate::desk::tickets::Channel;
    use crate::store::Store;
    use crate::store::agents::SnapshotRow;

    /// A ticket may come to name a snapshot between the read that found it old and the write that deletes it: the
    /// write reads the events again, in its own transaction, and keeps it.
    #[tokio::test]
    async fn a_snapshot_attached_after_it_was_found_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.db")).unwrap();
        let agents = [("ag-1".to_owned(), "fp".to_owned())];
        store.write(move |c| c.insert_simulated_agents(&agents, 1)).await.unwrap();
        let mut ids = Vec::new();
        for n in 1..=3u8 {
            let snapshot = Snapshot { id: [n; 16], taken_at_ms: u64::from(n), ..Snapshot::default() };
            let row = SnapshotRow::new(&snapshot, &[]).unwrap();
            ids.push(hex::encode(snapshot.id));
            store.write(move |c| c.insert_snapshot("ag-1", &row, 10)).await.unwrap();
        }
        let rules = SnapshotRules { taken_before: 100, keep_newest: 10 };
        let (found, attached) = store
            .read(move |r| {
                let mut attached = Attached::default();
                assert!(r.catch_up_attached(&mut attached, 10)?);
                Ok((r.expired_snapshots(rules, &attached, "", 10, 10)?, attached))
            })
            .await
            .unwrap();
        assert_eq!(
            found.keys,
            [("ag-1".to_owned(), ids[0].clone()), ("ag-1".to_owned(), ids[1].clone())],
            "the newest is kept"
        );
        assert_eq!(found.next, None);

        let event = Event::SnapshotAttached { agent_id: "ag-1".into(), snapshot_id: ids[0].clone(), findings: vec![] };
        let created = Event::Created {
            subject: "slow".into(),
            description: String::new(),
            channel: Channel::Agent,
            requester: "ann".into(),
            agent_id: Some("ag-1".into()),
            category: None,
            person: None,
            urgency: Default::default(),
            impact: Default::default(),
            priority: Default::default(),
            ticket_type: Default::default(),
        };
        let events = [(Actor::requester("ann"), created), (Actor::agent("ag-1"), event)];
        store.write(move |c| c.open_ticket(Some(("ag-1", "r")), &events, 20)).await.unwrap();

        let mut attached = attached;
        let deleted = store.write(move |c| c.delete_snapshots(&found.keys, &mut attached)).await.unwrap();
        assert_eq!(deleted, 1);
        let left = store.read(|r| r.snapshot_count("ag-1")).await.unwrap();
        assert_eq!(left, 2, "the attached one and the newest");
    }
}
