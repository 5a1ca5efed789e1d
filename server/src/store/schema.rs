//! Versioned migrations, applied in order and recorded in `PRAGMA user_version`; a migration is never edited once
//! released, only followed by a new one.

use rusqlite::Connection;

use super::StoreError;

const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE enrollment_tokens (
    id          TEXT PRIMARY KEY,
    secret_hash TEXT NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    uses_left   INTEGER NOT NULL,
    label       TEXT NOT NULL DEFAULT ''
);
CREATE TABLE agents (
    id               TEXT PRIMARY KEY,
    cert_fingerprint TEXT NOT NULL UNIQUE,
    hostname         TEXT NOT NULL,
    os               TEXT NOT NULL DEFAULT '',
    agent_version    TEXT NOT NULL DEFAULT '',
    token_id         TEXT NOT NULL REFERENCES enrollment_tokens(id),
    enrolled_at      INTEGER NOT NULL,
    last_seen_at     INTEGER,
    revoked_at       INTEGER,
    revoked_by       TEXT
);
CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE,
    role          TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at    INTEGER NOT NULL
);
CREATE TABLE api_tokens (
    token_hash TEXT PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users(id),
    created_at INTEGER NOT NULL
);
CREATE TABLE snapshots (
    agent_id         TEXT NOT NULL REFERENCES agents(id),
    id               TEXT NOT NULL,
    taken_at         INTEGER NOT NULL,
    received_at      INTEGER NOT NULL,
    cpu_usage_pct    REAL NOT NULL,
    memory_used_pct  REAL NOT NULL,
    fullest_disk_pct REAL NOT NULL,
    finding_count    INTEGER NOT NULL,
    body             BLOB NOT NULL,
    PRIMARY KEY (agent_id, id)
);
CREATE INDEX snapshots_by_time ON snapshots(agent_id, taken_at);
CREATE TABLE tickets (
    number      INTEGER PRIMARY KEY AUTOINCREMENT,
    subject     TEXT NOT NULL,
    status      TEXT NOT NULL,
    category    TEXT,
    tier        INTEGER NOT NULL,
    assignee    TEXT,
    channel     TEXT NOT NULL,
    requester   TEXT NOT NULL,
    agent_id    TEXT REFERENCES agents(id),
    request_id  TEXT,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE UNIQUE INDEX tickets_by_request ON tickets(agent_id, request_id) WHERE request_id IS NOT NULL;
CREATE INDEX tickets_by_status ON tickets(status, updated_at);
CREATE INDEX tickets_by_requester ON tickets(agent_id, requester);
CREATE TABLE ticket_events (
    id     INTEGER PRIMARY KEY,
    ticket INTEGER NOT NULL REFERENCES tickets(number),
    at     INTEGER NOT NULL,
    actor  TEXT NOT NULL,
    event  TEXT NOT NULL
);
CREATE INDEX ticket_events_by_ticket ON ticket_events(ticket, id);
"#,
    r#"
CREATE TABLE check_runs (
    id           INTEGER PRIMARY KEY,
    agent_id     TEXT NOT NULL REFERENCES agents(id),
    ticket       INTEGER REFERENCES tickets(number),
    technician   TEXT NOT NULL,
    check_json   TEXT NOT NULL,
    description  TEXT NOT NULL,
    state        TEXT NOT NULL,
    requested_at INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    sent_at      INTEGER,
    finished_at  INTEGER,
    elapsed_ms   INTEGER,
    result       TEXT
);
CREATE INDEX check_runs_by_agent ON check_runs(agent_id, state, id);
CREATE TABLE audit (
    seq       INTEGER PRIMARY KEY,
    at        INTEGER NOT NULL,
    actor     TEXT NOT NULL,
    action    TEXT NOT NULL,
    detail    TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash      TEXT NOT NULL
);
"#,
    r#"
-- What a requester did from their machine, by the id their agent chose: a replay is recognised, not applied twice.
CREATE TABLE requester_actions (
    agent_id TEXT NOT NULL,
    id       TEXT NOT NULL,
    ticket   INTEGER NOT NULL REFERENCES tickets(number),
    at       INTEGER NOT NULL,
    PRIMARY KEY (agent_id, id)
);
-- Self-help advice shown before (or instead of) a request: the "solved without a call" figure.
CREATE TABLE self_help (
    agent_id TEXT NOT NULL,
    id       TEXT NOT NULL,
    user     TEXT NOT NULL,
    at       INTEGER NOT NULL,
    shown    TEXT NOT NULL,
    solved   INTEGER NOT NULL,
    PRIMARY KEY (agent_id, id)
);
CREATE INDEX self_help_by_time ON self_help(at);
"#,
    r#"
-- Tokens from a password login end; tokens an admin created at the console (NULL) do not.
ALTER TABLE api_tokens ADD COLUMN expires_at INTEGER;
"#,
    r#"
-- The certificate an agent connected with when it was last renewed. It keeps working until it expires, so a renewal
-- lost on its way to the agent locks nobody out.
ALTER TABLE agents ADD COLUMN previous_fingerprint TEXT;
CREATE UNIQUE INDEX agents_by_previous_fingerprint ON agents(previous_fingerprint);
"#,
];

pub fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let version = usize::try_from(version).unwrap_or(usize::MAX);
    if version > MIGRATIONS.len() {
        return Err(StoreError::Corrupt(format!(
            "database is at schema version {version}, newer than this server ({}); upgrade the server",
            MIGRATIONS.len()
        )));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", i64::try_from(i + 1).unwrap_or(i64::MAX))?;
        tx.commit()?;
        tracing::info!(version = i + 1, "applied store migration");
    }
    Ok(())
}
