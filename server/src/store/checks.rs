//! Check runs: each technician request, from queued (the agent may be offline) through sent to its outcome.

use lifeline_shared::catalog::Check;
use rusqlite::{OptionalExtension, Row, params};
use serde::Serialize;

use super::{Read, StoreError, Tx};
use crate::desk::checks::RunState;

#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct Run {
    pub id: i64,
    pub agent_id: String,
    pub ticket: Option<i64>,
    pub technician: String,
    #[serde(skip)]
    pub check: Check,
    pub name: &'static str,
    pub description: String,
    pub state: RunState,
    pub requested_at: i64,
    pub expires_at: i64,
    pub sent_at: Option<i64>,
    pub finished_at: Option<i64>,
    pub elapsed_ms: Option<i64>,
    /// The output of a run that was done; the reason or error otherwise.
    pub result: Option<String>,
}

const COLUMNS: &str = "id, agent_id, ticket, technician, check_json, state, requested_at, expires_at, sent_at, \
                       finished_at, elapsed_ms, result";

fn from_row(r: &Row) -> rusqlite::Result<Result<Run, StoreError>> {
    let json: String = r.get(4)?;
    let state: String = r.get(5)?;
    let parsed = serde_json::from_str::<Check>(&json)
        .map_err(|e| StoreError::Corrupt(format!("check run {}: {e}", r.get::<_, i64>(0).unwrap_or(0))));
    let (id, agent_id, ticket, technician) = (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?);
    let (requested_at, expires_at, sent_at, finished_at, elapsed_ms, result) =
        (r.get(6)?, r.get(7)?, r.get(8)?, r.get(9)?, r.get(10)?, r.get(11)?);
    Ok(parsed.and_then(|check| {
        Ok(Run {
            id,
            agent_id,
            ticket,
            technician,
            name: check.definition().name,
            description: check.describe(),
            check,
            state: RunState::parse(&state)
                .ok_or_else(|| StoreError::Corrupt(format!("unknown check run state {state:?}")))?,
            requested_at,
            expires_at,
            sent_at,
            finished_at,
            elapsed_ms,
            result,
        })
    }))
}

pub struct NewRun<'a> {
    pub agent_id: &'a str,
    pub ticket: Option<i64>,
    pub technician: &'a str,
    pub check: &'a Check,
    pub expires_at: i64,
}

impl Read<'_> {
    pub fn run(&self, id: i64) -> Result<Run, StoreError> {
        let conn = self.conn;
        conn.query_row(&format!("SELECT {COLUMNS} FROM check_runs WHERE id = ?1"), [id], from_row)
            .optional()?
            .ok_or_else(|| StoreError::NotFound(format!("check run {id}")))?
    }

    /// Runs for `agent_id` that have not ended, oldest first.
    pub fn pending_runs(&self, agent_id: &str) -> Result<Vec<Run>, StoreError> {
        let conn = self.conn;
        let sql =
            format!("SELECT {COLUMNS} FROM check_runs WHERE agent_id = ?1 AND state IN ('queued', 'sent') ORDER BY id");
        let mut stmt = conn.prepare_cached(&sql)?;
        let rows = stmt.query_map([agent_id], from_row)?;
        rows.map(|r| r?).collect()
    }

    /// An agent's latest `limit` runs, in any state, newest first.
    pub fn runs_of_agent(&self, agent_id: &str, limit: u32) -> Result<Vec<Run>, StoreError> {
        let conn = self.conn;
        let sql = format!("SELECT {COLUMNS} FROM check_runs WHERE agent_id = ?1 ORDER BY id DESC LIMIT ?2");
        let mut stmt = conn.prepare_cached(&sql)?;
        let rows = stmt.query_map(params![agent_id, limit], from_row)?;
        rows.map(|r| r?).collect()
    }
}

impl Tx<'_> {
    pub fn insert_run(&self, run: &NewRun, now: i64) -> Result<i64, StoreError> {
        let conn = self.conn;
        let json = serde_json::to_string(run.check)
            .map_err(|e| StoreError::Internal(format!("cannot encode a check: {e}")))?;
        conn.execute(
            "INSERT INTO check_runs (agent_id, ticket, technician, check_json, description, state, requested_at, expires_at)
             VALUES (?1, ?2, ?3, ?4, ?5, 'queued', ?6, ?7)",
            params![run.agent_id, run.ticket, run.technician, json, run.check.describe(), now, run.expires_at],
        )?;
        Ok(conn.last_insert_rowid())
    }

    /// Marks a run sent (keeping the first time it was); false if it has ended meanwhile.
    pub fn mark_run_sent(&self, id: i64, now: i64) -> Result<bool, StoreError> {
        let conn = self.conn;
        let changed = conn.execute(
            "UPDATE check_runs SET state = 'sent', sent_at = COALESCE(sent_at, ?2)
             WHERE id = ?1 AND state IN ('queued', 'sent')",
            params![id, now],
        )?;
        Ok(changed == 1)
    }

    /// Records the final state of a run that is not final yet; `None` if it already was (a duplicate report).
    pub fn finish_run(
        &self,
        id: i64,
        agent_id: &str,
        state: RunState,
        result: &str,
        elapsed_ms: Option<u64>,
        now: i64,
    ) -> Result<Option<Run>, StoreError> {
        let conn = self.conn;
        let elapsed = elapsed_ms.map(|ms| i64::try_from(ms).unwrap_or(i64::MAX));
        let changed = conn.execute(
            "UPDATE check_runs SET state = ?3, result = ?4, elapsed_ms = ?5, finished_at = ?6
             WHERE id = ?1 AND agent_id = ?2 AND state IN ('queued', 'sent')",
            params![id, agent_id, state.as_str(), result, elapsed, now],
        )?;
        if changed == 0 {
            return Ok(None);
        }
        self.run(id).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_agents_runs_are_its_own_newest_first_in_any_state() {
        let mut conn = rusqlite::Connection::open_in_memory().unwrap();
        super::super::schema::migrate(&mut conn).unwrap();
        let tx = Tx::new(&conn);
        let agents = [("ag-1".to_owned(), "f1".to_owned()), ("ag-2".to_owned(), "g1".to_owned())];
        tx.insert_simulated_agents(&agents, 1).unwrap();
        let check = Check::parse("disk-usage", &[("path".into(), "/".into())]).unwrap();
        let run = |agent_id| NewRun { agent_id, ticket: None, technician: "bob", check: &check, expires_at: 100 };
        let first = tx.insert_run(&run("ag-1"), 2).unwrap();
        tx.insert_run(&run("ag-2"), 3).unwrap();
        let second = tx.insert_run(&run("ag-1"), 4).unwrap();
        let third = tx.insert_run(&run("ag-1"), 5).unwrap();
        tx.finish_run(first, "ag-1", RunState::Done, "ok", Some(5), 6).unwrap();
        let ids = |limit| tx.runs_of_agent("ag-1", limit).unwrap().iter().map(|r| (r.id, r.state)).collect::<Vec<_>>();
        assert_eq!(ids(10), [(third, RunState::Queued), (second, RunState::Queued), (first, RunState::Done)]);
        assert_eq!(ids(2), [(third, RunState::Queued), (second, RunState::Queued)]);
        assert!(tx.runs_of_agent("ag-9", 10).unwrap().is_empty());
    }
}
