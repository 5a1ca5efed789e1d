//! The audit log: an append-only, hash-chained record of every check request and every change to who may do what.
//!
//! Each entry's hash covers its own fields and the previous entry's hash, so editing, deleting or reordering any
//! entry breaks the chain from that point on. An entry is appended in the same transaction as the act it records:
//! there is no act without its entry.
//!
//! Deleting the newest entries, or rewriting the chain and hashing it again, leaves a chain that verifies on its own.
//! [`Checkpoint`]s catch both: the CA signs the head (sequence number and hash) now and then, the admin ships the
//! checkpoint file elsewhere, and [`verify_against`] later finds a chain that is shorter than a checkpoint or holds
//! another hash at its sequence number.

use std::collections::HashMap;
use std::path::Path;

use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::{Read, StoreError, Tx};
use crate::pki::{CaKey, Pki};

/// The `prev_hash` of the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, utoipa::ToSchema)]
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
    let (last, prev) = head(conn)?;
    let seq = last + 1;
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

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, utoipa::ToSchema)]
pub struct Verdict {
    pub entries: u64,
    /// The newest entry's hash: keep it somewhere else to detect a later truncation.
    pub head: String,
    pub broken: Option<Broken>,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, utoipa::ToSchema)]
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

/// The newest entry's sequence number and hash; `(0, GENESIS)` for an empty chain.
pub fn head(conn: &Connection) -> Result<(i64, String), StoreError> {
    let last = conn
        .query_row("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1", [], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    Ok(last.unwrap_or_else(|| (0, GENESIS.to_owned())))
}

/// The CA's signed word that the chain's entry `seq` had the hash `hash` at `at`: one JSON object a line in a
/// checkpoint file, which the admin keeps somewhere the server cannot write.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Checkpoint {
    pub seq: i64,
    pub hash: String,
    /// When it was taken, in milliseconds since the Unix epoch.
    pub at: i64,
    /// The fingerprint of the CA that signed it (hex SHA-256 of its certificate), so that a checkpoint of another
    /// deployment is named as such.
    pub ca: String,
    /// The CA's ECDSA P-256 signature (ASN.1 DER, hex) over [`Checkpoint::fields`].
    pub sig: String,
}

impl Checkpoint {
    /// Signs the head `(seq, hash)` as of `at` with the deployment's CA.
    pub fn sign(seq: i64, hash: String, at: i64, pki: &Pki) -> anyhow::Result<Checkpoint> {
        let mut checkpoint = Checkpoint { seq, hash, at, ca: hex::encode(pki.ca_fingerprint()), sig: String::new() };
        if let Some(problem) = checkpoint.malformed() {
            anyhow::bail!("the chain's head cannot be signed: {problem}; run `audit verify`");
        }
        checkpoint.sig = hex::encode(pki.sign_checkpoint(&checkpoint.fields())?);
        Ok(checkpoint)
    }

    /// What the signature covers. Unambiguous because [`Checkpoint::malformed`] admits only hex in the text fields.
    pub fn fields(&self) -> Vec<u8> {
        format!("seq={}\nhash={}\nat={}\nca={}\n", self.seq, self.hash, self.at, self.ca).into_bytes()
    }

    fn malformed(&self) -> Option<&'static str> {
        let sha256 = |s: &str| s.len() == 64 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if self.seq < 0 {
            Some("seq is negative")
        } else if !sha256(&self.hash) {
            Some("hash is not a SHA-256 in lowercase hex")
        } else if !sha256(&self.ca) {
            Some("ca is not a SHA-256 in lowercase hex")
        } else {
            None
        }
    }
}

/// A checkpoint with the line of its file it was read from, which messages name.
#[derive(Debug, Clone, PartialEq)]
pub struct Listed {
    pub line: usize,
    pub checkpoint: Checkpoint,
}

/// Reads a checkpoint file's text: one JSON object a line, blank lines skipped.
pub fn parse_checkpoints(text: &str) -> Result<Vec<Listed>, String> {
    let mut listed = Vec::new();
    for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let checkpoint: Checkpoint = serde_json::from_str(line).map_err(|e| format!("line {}: {e}", i + 1))?;
        if let Some(problem) = checkpoint.malformed() {
            return Err(format!("line {}: {problem}", i + 1));
        }
        listed.push(Listed { line: i + 1, checkpoint });
    }
    Ok(listed)
}

/// Appends one line to a checkpoint file, created private to the server's user. One write of one short line to a
/// file opened for appending, so a checkpoint taken from the command line and one on the server's schedule never
/// interleave.
pub fn append_checkpoint(path: &Path, checkpoint: &Checkpoint) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.append(true).create(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    let mut line = serde_json::to_string(checkpoint).map_err(std::io::Error::other)?;
    line.push('\n');
    file.write_all(line.as_bytes())?;
    file.sync_data()
}

/// A checkpoint that this deployment's CA did not sign as it stands: altered, or signed by another key. It says
/// nothing about the chain, and nothing that follows can be trusted to either.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("the checkpoint on line {line} is forged: {reason}")]
pub struct Forged {
    pub line: usize,
    pub reason: String,
}

/// Every checkpoint must carry a good signature by `ca`.
pub fn check_signatures(checkpoints: &[Listed], ca: &CaKey) -> Result<(), Forged> {
    let ours = hex::encode(ca.fingerprint());
    for Listed { line, checkpoint } in checkpoints {
        let reason = if checkpoint.ca != ours {
            format!(
                "it was signed by another CA (fingerprint {}…), not by this deployment's ({}…)",
                short(&checkpoint.ca),
                short(&ours)
            )
        } else if !hex::decode(&checkpoint.sig).is_ok_and(|sig| ca.verifies_checkpoint(&checkpoint.fields(), &sig)) {
            "its signature does not verify with this deployment's CA: it was altered, or signed by another key".into()
        } else {
            continue;
        };
        return Err(Forged { line: *line, reason });
    }
    Ok(())
}

/// Checks a chain given oldest first as [`verify`] does, then against checkpoints whose signatures
/// [`check_signatures`] accepted. A chain shorter than a checkpoint lost its newest entries; one whose entry at a
/// checkpoint's sequence number has another hash was rewritten since, however well it verifies on its own. The
/// disagreement with the lowest sequence number is named.
pub fn verify_against(entries: impl IntoIterator<Item = Entry>, checkpoints: &[Listed]) -> Verdict {
    let mut found: HashMap<i64, String> = HashMap::from([(0, GENESIS.to_owned())]);
    let wanted: std::collections::HashSet<i64> = checkpoints.iter().map(|l| l.checkpoint.seq).collect();
    let mut verdict = verify(entries.into_iter().inspect(|e| {
        if wanted.contains(&e.seq) {
            found.insert(e.seq, e.hash.clone());
        }
    }));
    if verdict.broken.is_some() {
        return verdict;
    }
    let mut by_seq: Vec<&Listed> = checkpoints.iter().collect();
    by_seq.sort_by_key(|l| (l.checkpoint.seq, l.line));
    for Listed { line, checkpoint: c } in by_seq {
        let (seq, reason) = match found.get(&c.seq) {
            None => (
                i64::try_from(verdict.entries).unwrap_or(i64::MAX).saturating_add(1),
                format!(
                    "the checkpoint on line {line} signed a chain of {} entries (head {}…), this one ends at \
                     entry {}: entries were deleted from its end",
                    c.seq,
                    short(&c.hash),
                    verdict.entries
                ),
            ),
            Some(hash) if *hash != c.hash => (
                c.seq,
                format!(
                    "the checkpoint on line {line} signed hash {}… for this entry, the chain now has {}…: the chain was \
                     rewritten since, or cut back and extended",
                    short(&c.hash),
                    short(hash)
                ),
            ),
            Some(_) => continue,
        };
        // What comes before the entry named broken verifies, as with a chain broken on its own.
        verdict.entries = verdict.entries.min(u64::try_from(seq - 1).unwrap_or(0));
        verdict.broken = Some(Broken { seq, reason });
        return verdict;
    }
    verdict
}

fn short(hash: &str) -> &str {
    hash.get(..16).unwrap_or(hash)
}

impl Read<'_> {
    /// Entries after `after`, oldest first, at most `limit`.
    pub fn audit_entries(&self, after: i64, limit: i64) -> Result<Vec<Entry>, StoreError> {
        list(self.conn, after, limit)
    }

    pub fn verify_audit(&self) -> Result<Verdict, StoreError> {
        verify_stored(self.conn)
    }

    /// The newest entry's sequence number and hash.
    pub fn audit_head(&self) -> Result<(i64, String), StoreError> {
        head(self.conn)
    }

    /// The detail of the newest entry of `action`, if any.
    pub fn last_audit_detail(&self, action: &str) -> Result<Option<String>, StoreError> {
        use rusqlite::OptionalExtension;
        Ok(self
            .conn
            .query_row("SELECT detail FROM audit WHERE action = ?1 ORDER BY seq DESC LIMIT 1", [action], |r| r.get(0))
            .optional()?)
    }
}

impl Tx<'_> {
    /// Appends one entry to the audit chain, in this transaction: there is no act without its entry.
    pub fn audit(&self, actor: &str, action: &str, detail: &serde_json::Value, now: i64) -> Result<(), StoreError> {
        append(self.conn, actor, action, detail, now)
    }
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

    /// Checkpoints of `conn`'s chain as it is now, at each of `seqs`, signed by `pki`.
    fn checkpoints(conn: &Connection, pki: &Pki, seqs: &[i64]) -> Vec<Listed> {
        let all = list(conn, 0, i64::MAX).unwrap();
        let hash_at = |seq: i64| if seq == 0 { GENESIS.to_owned() } else { all[seq as usize - 1].hash.clone() };
        let text: String = seqs
            .iter()
            .map(|&seq| serde_json::to_string(&Checkpoint::sign(seq, hash_at(seq), 7, pki).unwrap()).unwrap() + "\n")
            .collect();
        parse_checkpoints(&text).unwrap()
    }

    /// Gives entry `seq` another actor and hashes it and every later entry again: a chain rewritten by someone who
    /// knows how it is hashed, which verifies on its own.
    fn rewrite(conn: &Connection, seq: i64) {
        conn.execute("UPDATE audit SET actor = 'mallory' WHERE seq = ?1", [seq]).unwrap();
        let mut prev = if seq == 1 { GENESIS.to_owned() } else { list(conn, seq - 2, 1).unwrap()[0].hash.clone() };
        for e in list(conn, seq - 1, i64::MAX).unwrap() {
            let h = hash(e.seq, e.at, &e.actor, &e.action, &e.detail, &prev);
            conn.execute("UPDATE audit SET prev_hash = ?1, hash = ?2 WHERE seq = ?3", params![prev, h, e.seq]).unwrap();
            prev = h;
        }
        assert_eq!(verdict(conn).broken, None, "the rewritten chain verifies on its own");
    }

    fn sql(conn: &Connection, statement: &str) {
        conn.execute_batch(statement).unwrap();
    }

    fn new_ca() -> (tempfile::TempDir, Pki) {
        let dir = tempfile::tempdir().unwrap();
        let pki = Pki::load_or_create(dir.path(), &[]).unwrap();
        (dir, pki)
    }

    #[test]
    fn checkpoints_catch_a_chain_cut_back_or_rewritten_though_it_verifies_on_its_own() {
        // Checkpoints at these entries of a chain of 5, what is then done to the chain, and the entry named broken with
        // what the reason says (None: intact).
        type Case = (&'static str, &'static [i64], fn(&Connection), Option<(i64, &'static str)>);
        let cases: &[Case] = &[
            ("untouched", &[0, 3, 5], |_| {}, None),
            ("grown since", &[2, 5], |c| append(c, "ann", "later", &serde_json::json!({}), 9).unwrap(), None),
            ("newest deleted", &[3, 5], |c| sql(c, "DELETE FROM audit WHERE seq = 5"), Some((5, "deleted"))),
            ("all deleted", &[4], |c| sql(c, "DELETE FROM audit"), Some((1, "ends at entry 0"))),
            ("rewritten from 2", &[1, 3, 5], |c| rewrite(c, 2), Some((3, "rewritten"))),
            ("newest rewritten", &[5], |c| rewrite(c, 5), Some((5, "rewritten"))),
            (
                "cut back and extended",
                &[5],
                |c| {
                    c.execute("DELETE FROM audit WHERE seq >= 4", []).unwrap();
                    for at in [1, 2] {
                        append(c, "ann", "other", &serde_json::json!({}), at).unwrap();
                    }
                },
                Some((5, "cut back and extended")),
            ),
            (
                "broken chain named first",
                &[5],
                |c| sql(c, "UPDATE audit SET at = 1 WHERE seq = 2"),
                Some((2, "altered")),
            ),
        ];
        let (_pki_dir, pki) = new_ca();
        for (what, at, tamper, expected) in cases {
            let (_dir, conn) = chain(5);
            let listed = checkpoints(&conn, &pki, at);
            tamper(&conn);
            let verdict = verify_against(list(&conn, 0, i64::MAX).unwrap(), &listed);
            match (expected, &verdict.broken) {
                (None, None) => {}
                (Some((seq, says)), Some(broken)) => {
                    assert_eq!(broken.seq, *seq, "{what}: {}", broken.reason);
                    assert_eq!(verdict.entries, *seq as u64 - 1, "{what}: the entries before it");
                    assert!(broken.reason.contains(says), "{what}: {}", broken.reason);
                }
                _ => panic!("{what}: expected {expected:?}, got {verdict:?}"),
            }
        }
    }

    #[test]
    fn a_checkpoint_counts_only_as_this_ca_signed_it() {
        let (_ours, pki) = new_ca();
        let (_theirs, other) = new_ca();
        let ca = CaKey::of(&pki.ca_der).unwrap();
        let (_dir, conn) = chain(3);
        let good = checkpoints(&conn, &pki, &[3]).remove(0);
        assert_eq!(check_signatures(std::slice::from_ref(&good), &ca), Ok(()));

        let theirs = checkpoints(&conn, &other, &[3]).remove(0);
        let mut claimed = theirs.clone();
        claimed.checkpoint.ca = good.checkpoint.ca.clone();
        let edit = |f: fn(&mut Checkpoint)| {
            let mut l = good.clone();
            f(&mut l.checkpoint);
            l
        };
        let cases = [
            ("another deployment's", theirs, "another CA"),
            ("another key claiming to be ours", claimed, "does not verify"),
            ("seq moved", edit(|c| c.seq = 2), "does not verify"),
            ("hash changed", edit(|c| c.hash = GENESIS.to_owned()), "does not verify"),
            ("time changed", edit(|c| c.at += 1), "does not verify"),
            ("signature not hex", edit(|c| c.sig = "zz".into()), "does not verify"),
            ("signature empty", edit(|c| c.sig.clear()), "does not verify"),
        ];
        for (what, forged, says) in cases {
            let list = [good.clone(), Listed { line: 2, ..forged }];
            let err = check_signatures(&list, &ca).expect_err(what);
            assert_eq!(err.line, 2, "{what}");
            assert!(err.to_string().contains(says), "{what}: {err}");
        }
    }

    #[test]
    fn a_checkpoint_file_names_the_line_it_cannot_read() {
        let good = r#"{"seq":1,"hash":"HASH","at":5,"ca":"HASH","sig":"00"}"#.replace("HASH", &"a".repeat(64));
        assert_eq!(
            parse_checkpoints(&format!("\n{good}\n\n{good}")).unwrap().iter().map(|l| l.line).collect::<Vec<_>>(),
            [2, 4]
        );
        let cases = [
            ("not json", "line 2"),
            (&good.replace(r#""seq":1"#, r#""seq":-1"#), "seq is negative"),
            (&good.replacen(&"a".repeat(64), &"A".repeat(64), 1), "hash is not"),
            (&good.replacen(&"a".repeat(64), &format!("{}\\n", "a".repeat(63)), 1), "hash is not"),
            (&good.replace(r#""at":5"#, r#""at":5,"extra":1"#), "unknown field"),
            (&good.replace(r#","sig":"00""#, ""), "missing field"),
        ];
        for (line, says) in cases {
            let err = parse_checkpoints(&format!("{good}\n{line}\n")).unwrap_err();
            assert!(err.starts_with("line 2: ") && err.contains(says), "{line}: {err}");
        }
    }

    #[test]
    fn checkpoints_append_to_a_private_file_one_line_each() {
        let (_pki_dir, pki) = new_ca();
        let (dir, conn) = chain(2);
        let path = dir.path().join("checkpoints.jsonl");
        for _ in 0..2 {
            let (seq, hash) = head(&conn).unwrap();
            append_checkpoint(&path, &Checkpoint::sign(seq, hash, 9, &pki).unwrap()).unwrap();
        }
        let listed = parse_checkpoints(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(listed.iter().map(|l| (l.line, l.checkpoint.seq)).collect::<Vec<_>>(), [(1, 2), (2, 2)]);
        #[cfg(unix)]
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&path).unwrap().permissions()) & 0o777,
            0o600
        );
    }
}
