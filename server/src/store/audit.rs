//! The audit log: an append-only, hash-chained record of every check request and every change to who may do what.
//!
//! Each entry's hash covers its own fields and the previous entry's hash, so editing, deleting or reordering any
//! entry breaks the chain from that point on. An entry is appended in the same transaction as the act it records:
//! there is no act without its entry. Deleting the newest entries leaves a valid shorter chain; `verify` prints the
//! head hash so it can be kept elsewhere and compared later.

use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::StoreError;

/// The `prev_hash` of the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Entry {
    pub seq: i64,
    pub at: i64,
    pub actor: String,
    pub action: String,
    /// JSON text, hashed exactly as stored.
    pub detail: String,
    pub prev_hash: String,
    pub hash: String,
}

fn hash(seq: i64, at: i64, actor: &str, action: &str, detail: &str, prev_hash: &str) -> String {
    let mut h = Sha256::new();
    for part in [prev_hash, &seq.to_string(), &at.to_string(), actor, action, detail] {
        // Length-prefixed, so no two different field lists hash the same bytes.
        h.update((part.len() as u64).to_be_bytes());
        h.update(part.as_bytes());
    }
    hex::encode(h.finalize())
}

/// Appends one entry; call it inside the transaction that does what it records.
pub fn append(conn: &Connection, actor: &str, action: &str, detail: &Value, now: i64) -> Result<(), StoreError> {
    let last: Option<(i64, String)> = conn
        .query_row("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1", [], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let (seq, prev) = last.map_or((1, GENESIS.to_owned()), |(seq, hash)| (seq + 1, hash));
    let detail = detail.to_string();
    let hash = hash(seq, now, actor, action, &detail, &prev);
    conn.execute(
        "INSERT INTO audit (seq, at, actor, action, detail, prev_hash, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![seq, now, actor, action, detail, prev, hash],
    )?;
    Ok(())
}

const SELECT: &str = "SELECT seq, at, actor, action, detail, prev_hash, hash FROM audit";

fn entry(r: &rusqlite::Row<'_>) -> rusqlite::Result<Entry> {
    Ok(Entry {
        seq: r.get(0)?,
        at: r.get(1)?,
        actor: r.get(2)?,
        action: r.get(3)?,
        detail: r.get(4)?,
        prev_hash: r.get(5)?,
        hash: r.get(6)?,
    })
}

/// Entries after `after`, oldest first, at most `limit`.
pub fn list(conn: &Connection, after: i64, limit: i64) -> Result<Vec<Entry>, StoreError> {
    let mut stmt = conn.prepare(&format!("{SELECT} WHERE seq > ?1 ORDER BY seq LIMIT ?2"))?;
    let rows = stmt.query_map(params![after, limit], entry)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Verifies the stored chain a row at a time: the log grows with every check ever run and is never loaded whole.
pub fn verify_stored(conn: &Connection) -> Result<Verdict, StoreError> {
    let mut stmt = conn.prepare(&format!("{SELECT} ORDER BY seq"))?;
    let mut failed = None;
    let rows = stmt.query_map([], entry)?.map_while(|row| row.map_err(|e| failed = Some(e)).ok());
    let verdict = verify(rows);
    match failed {
        Some(e) => Err(e.into()),
        None => Ok(verdict),
    }
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct Verdict {
    pub entries: u64,
    /// The newest entry's hash: keep it somewhere else to detect a later truncation.
    pub head: String,
    pub broken: Option<Broken>,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct Broken {
    pub seq: i64,
    pub reason: String,
}

/// Checks a chain given oldest first; used on the live table and on an exported file alike.
pub fn verify(entries: impl IntoIterator<Item = Entry>) -> Verdict {
    let mut verdict = Verdict { entries: 0, head: GENESIS.to_owned(), broken: None };
    for (expected_seq, e) in (1..).zip(entries) {
        let reason = if e.seq != expected_seq {
            Some(format!("expected entry {expected_seq} here: entries were removed or reordered"))
        } else if e.prev_hash != verdict.head {
            Some("does not follow the entry before it: entries were removed or reordered".to_owned())
        } else if hash(e.seq, e.at, &e.actor, &e.action, &e.detail, &e.prev_hash) != e.hash {
            Some("its content no longer matches its hash: the entry was altered".to_owned())
        } else {
            None
        };
        if let Some(reason) = reason {
            verdict.broken = Some(Broken { seq: e.seq, reason });
            return verdict;
        }
        verdict.entries += 1;
        verdict.head = e.hash;
    }
    verdict
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: i64) -> (tempfile::TempDir, Connection) {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = Connection::open(dir.path().join("a.db")).unwrap();
        super::super::schema::migrate(&mut conn).unwrap();
        for i in 0..n {
            append(&conn, "ann", "token.created", &serde_json::json!({ "n": i }), 1000 + i).unwrap();
        }
        (dir, conn)
    }

    fn verdict(conn: &Connection) -> Verdict {
        let streamed = verify_stored(conn).unwrap();
        assert_eq!(streamed, verify(list(conn, 0, i64::MAX).unwrap()), "the table and a listing verify alike");
        streamed
    }

    #[test]
    fn an_intact_chain_verifies() {
        let (_dir, conn) = chain(5);
        let v = verdict(&conn);
        assert_eq!((v.entries, v.broken), (5, None));
        assert_eq!(v.head, list(&conn, 4, 1).unwrap()[0].hash);
    }

    #[test]
    fn any_single_tampering_names_the_first_broken_entry() {
        let cases: &[(&str, i64)] = &[
            ("UPDATE audit SET actor = 'mallory' WHERE seq = 3", 3),
            ("UPDATE audit SET detail = '{\"n\":9}' WHERE seq = 1", 1),
            ("UPDATE audit SET at = at + 1 WHERE seq = 5", 5),
            ("DELETE FROM audit WHERE seq = 2", 3),
            ("DELETE FROM audit WHERE seq = 1", 2),
            // Swap the contents of 2 and 4, keeping the sequence numbers in order.
            (
                "UPDATE audit SET seq = -2 WHERE seq = 2; UPDATE audit SET seq = 2 WHERE seq = 4;
                 UPDATE audit SET seq = 4 WHERE seq = -2",
                2,
            ),
        ];
        for (sql, first_broken) in cases {
            let (_dir, conn) = chain(5);
            conn.execute_batch(sql).unwrap();
            let broken = verdict(&conn).broken.unwrap_or_else(|| panic!("not detected: {sql}"));
            assert_eq!(broken.seq, *first_broken, "{sql}: {}", broken.reason);
        }
    }

    #[test]
    fn an_entry_rehashed_in_place_still_breaks_the_next_link() {
        let (_dir, conn) = chain(3);
        let e = &list(&conn, 1, 1).unwrap()[0];
        let forged = hash(e.seq, e.at, "mallory", &e.action, &e.detail, &e.prev_hash);
        conn.execute("UPDATE audit SET actor = 'mallory', hash = ?1 WHERE seq = 2", [forged]).unwrap();
        assert_eq!(verdict(&conn).broken.map(|b| b.seq), Some(3));
    }
}
