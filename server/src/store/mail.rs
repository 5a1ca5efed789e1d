//! The e-mail channel's records: every message in and out (for threading, deduplication and the per-sender
//! limits), the outbox the SMTP sender drains, the IMAP reader's cursor, and the files mail brought.

use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};

use super::{Read, StoreError, Tx};

/// A message of the channel as recorded.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct MailRecord {
    pub id: i64,
    /// `in` or `out`.
    pub direction: String,
    pub message_id: Option<String>,
    pub ticket: Option<i64>,
    /// The sender of a message in, the recipient of one out.
    pub address: String,
    pub subject: String,
    pub refs: Vec<String>,
    pub at: i64,
    /// In: `new_ticket`, `follow_up`, `auto_note`, `new_after_closed`, `ignored_automated`, `ignored_own`,
    /// `rate_limited`. Out: `reply` or `ack`.
    pub outcome: String,
}

/// What a new record says.
#[derive(Debug, Clone, PartialEq)]
pub struct NewMail<'a> {
    pub direction: &'a str,
    pub message_id: Option<&'a str>,
    pub ticket: Option<i64>,
    pub address: &'a str,
    pub subject: &'a str,
    pub refs: &'a [String],
    pub outcome: &'a str,
}

/// A message due to be sent.
#[derive(Debug, Clone, PartialEq)]
pub struct Outgoing {
    pub id: i64,
    pub sender: String,
    pub recipient: String,
    pub raw: Vec<u8>,
    pub attempts: i64,
}

/// A file that came with a ticket's mail, without its bytes.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct AttachmentInfo {
    pub id: i64,
    pub name: String,
    pub content_type: String,
    pub size: i64,
    pub at: i64,
}

/// A file that came with a ticket's mail, with its bytes and the ticket it came with.
#[derive(Debug, Clone, PartialEq)]
pub struct Attachment {
    pub ticket: i64,
    pub info: AttachmentInfo,
    pub data: Vec<u8>,
}

fn record(r: &rusqlite::Row<'_>) -> rusqlite::Result<(MailRecord, String)> {
    Ok((
        MailRecord {
            id: r.get(0)?,
            direction: r.get(1)?,
            message_id: r.get(2)?,
            ticket: r.get(3)?,
            address: r.get(4)?,
            subject: r.get(5)?,
            refs: Vec::new(),
            at: r.get(7)?,
            outcome: r.get(8)?,
        },
        r.get(6)?,
    ))
}

fn with_refs((mut m, refs): (MailRecord, String)) -> Result<MailRecord, StoreError> {
    m.refs =
        serde_json::from_str(&refs).map_err(|e| StoreError::Corrupt(format!("references of mail {}: {e}", m.id)))?;
    Ok(m)
}

fn attachment_info(r: &rusqlite::Row<'_>) -> rusqlite::Result<AttachmentInfo> {
    Ok(AttachmentInfo { id: r.get(0)?, name: r.get(1)?, content_type: r.get(2)?, size: r.get(3)?, at: r.get(4)? })
}

const COLUMNS: &str = "id, direction, message_id, ticket, address, subject, refs, at, outcome";

impl Read<'_> {
    /// Whether a message with this id came in before.
    pub fn mail_seen(&self, message_id: &str) -> Result<bool, StoreError> {
        Ok(self.conn.query_row(
            "SELECT EXISTS(SELECT 1 FROM mail_messages WHERE direction = 'in' AND message_id = ?1)",
            [message_id],
            |r| r.get(0),
        )?)
    }

    /// The ticket of the first of `ids` that is one of ours: a message we sent, found by its whole id.
    pub fn ticket_of_sent_mail(&self, ids: &[&str]) -> Result<Option<i64>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT ticket FROM mail_messages WHERE direction = 'out' AND message_id = ?1 LIMIT 1")?;
        for id in ids {
            if let Some(ticket) = stmt.query_row([id], |r| r.get::<_, Option<i64>>(0)).optional()?.flatten() {
                return Ok(Some(ticket));
            }
        }
        Ok(None)
    }

    /// The ticket's messages, oldest first.
    pub fn ticket_mail(&self, ticket: i64) -> Result<Vec<MailRecord>, StoreError> {
        let mut stmt =
            self.conn.prepare_cached(&format!("SELECT {COLUMNS} FROM mail_messages WHERE ticket = ?1 ORDER BY id"))?;
        let rows = stmt.query_map([ticket], record)?;
        rows.map(|r| with_refs(r?)).collect()
    }

    /// Messages of one direction and outcome to or from `address` since `since`: the per-sender limits.
    pub fn mail_count(&self, address: &str, direction: &str, outcome: &str, since: i64) -> Result<i64, StoreError> {
        Ok(self.conn.query_row(
            "SELECT count(*) FROM mail_messages WHERE address = ?1 AND direction = ?2 AND outcome = ?3 AND at >= ?4",
            params![address, direction, outcome, since],
            |r| r.get(0),
        )?)
    }

    /// The newest messages, `limit` of them.
    pub fn mail_log(&self, limit: i64) -> Result<Vec<MailRecord>, StoreError> {
        let mut stmt =
            self.conn.prepare_cached(&format!("SELECT {COLUMNS} FROM mail_messages ORDER BY id DESC LIMIT ?1"))?;
        let rows = stmt.query_map([limit], record)?;
        rows.map(|r| with_refs(r?)).collect()
    }

    pub fn mail_due(&self, now: i64, limit: i64) -> Result<Vec<Outgoing>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, sender, recipient, raw, attempts FROM mail_outbox WHERE next_at <= ?1 ORDER BY next_at, id
             LIMIT ?2",
        )?;
        let rows = stmt.query_map([now, limit], |r| {
            Ok(Outgoing { id: r.get(0)?, sender: r.get(1)?, recipient: r.get(2)?, raw: r.get(3)?, attempts: r.get(4)? })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn next_mail_at(&self) -> Result<Option<i64>, StoreError> {
        Ok(self.conn.query_row("SELECT min(next_at) FROM mail_outbox WHERE next_at IS NOT NULL", [], |r| r.get(0))?)
    }

    /// Outgoing mail by state: `pending`, `sent`, `failed`.
    pub fn mail_outbox_counts(&self) -> Result<Vec<(String, i64)>, StoreError> {
        let mut stmt =
            self.conn.prepare_cached("SELECT state, count(*) FROM mail_outbox GROUP BY state ORDER BY state")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The UIDVALIDITY and last UID taken from a mailbox.
    pub fn mail_cursor(&self, mailbox: &str) -> Result<Option<(u32, u32)>, StoreError> {
        Ok(self
            .conn
            .query_row("SELECT uidvalidity, last_uid FROM mail_cursor WHERE mailbox = ?1", [mailbox], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?)
    }

    /// The files that came with the ticket's own mail, oldest first, without their bytes.
    pub fn attachments(&self, ticket: i64) -> Result<Vec<AttachmentInfo>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, name, content_type, size, at FROM ticket_attachments WHERE ticket = ?1 ORDER BY id",
        )?;
        let rows = stmt.query_map([ticket], attachment_info)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// One file with its bytes, whichever ticket it came with.
    pub fn attachment(&self, id: i64) -> Result<Attachment, StoreError> {
        self.conn
            .prepare_cached(
                "SELECT id, name, content_type, size, at, ticket, data FROM ticket_attachments WHERE id = ?1",
            )?
            .query_row([id], |r| Ok(Attachment { info: attachment_info(r)?, ticket: r.get(5)?, data: r.get(6)? }))
            .optional()?
            .ok_or_else(|| StoreError::NotFound(format!("attachment {id}")))
    }
}

impl Tx<'_> {
    pub fn record_mail(&self, m: &NewMail<'_>, now: i64) -> Result<i64, StoreError> {
        let refs = serde_json::to_string(m.refs).map_err(|e| StoreError::Internal(e.to_string()))?;
        self.conn
            .prepare_cached(
                "INSERT INTO mail_messages (direction, message_id, ticket, address, subject, refs, at, outcome)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?
            .execute(params![m.direction, m.message_id, m.ticket, m.address, m.subject, refs, now, m.outcome])?;
        Ok(self.conn.last_insert_rowid())
    }

    pub fn queue_mail(
        &self,
        message: i64,
        sender: &str,
        recipient: &str,
        raw: &[u8],
        now: i64,
    ) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "INSERT INTO mail_outbox (message, sender, recipient, raw, state, next_at)
                 VALUES (?1, ?2, ?3, ?4, 'pending', ?5)",
            )?
            .execute(params![message, sender, recipient, raw, now])?;
        self.wrote(super::Written::Mail);
        Ok(())
    }

    /// Records a try at sending: sent, another try at `next_at`, or (None) given up.
    pub fn mail_tried(&self, id: i64, outcome: Result<(), (&str, Option<i64>)>, now: i64) -> Result<(), StoreError> {
        let (state, next_at, error, sent_at) = match outcome {
            Ok(()) => ("sent", None, None, Some(now)),
            Err((error, Some(next))) => ("pending", Some(next), Some(error), None),
            Err((error, None)) => ("failed", None, Some(error), None),
        };
        self.conn
            .prepare_cached(
                "UPDATE mail_outbox SET attempts = attempts + 1, state = ?2, next_at = ?3, last_error = ?4,
                        sent_at = ?5 WHERE id = ?1",
            )?
            .execute(params![id, state, next_at, error, sent_at])?;
        Ok(())
    }

    pub fn set_mail_cursor(&self, mailbox: &str, uidvalidity: u32, last_uid: u32) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO mail_cursor (mailbox, uidvalidity, last_uid) VALUES (?1, ?2, ?3)
             ON CONFLICT (mailbox) DO UPDATE SET uidvalidity = excluded.uidvalidity, last_uid = excluded.last_uid",
            params![mailbox, uidvalidity, last_uid],
        )?;
        Ok(())
    }

    pub fn add_attachment(
        &self,
        ticket: i64,
        message: i64,
        name: &str,
        content_type: &str,
        data: &[u8],
        now: i64,
    ) -> Result<(), StoreError> {
        let size = i64::try_from(data.len()).unwrap_or(i64::MAX);
        self.conn
            .prepare_cached(
                "INSERT INTO ticket_attachments (ticket, message, name, content_type, size, data, at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?
            .execute(params![ticket, message, name, content_type, size, data, now])?;
        Ok(())
    }
}
