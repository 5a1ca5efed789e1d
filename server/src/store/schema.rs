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
    r#"
-- Who acted, typed: the figures tell a technician from the requester and from a machine. Rows from before are
-- classified by what only each could have written; the requester's status changes carry the server's fixed reasons.
ALTER TABLE ticket_events ADD COLUMN actor_kind TEXT NOT NULL DEFAULT 'technician';
UPDATE ticket_events SET actor_kind = CASE
    WHEN json_extract(event, '$.kind') = 'snapshot_attached' THEN 'agent'
    WHEN json_extract(event, '$.kind') = 'requester_reply' THEN 'requester'
    WHEN json_extract(event, '$.kind') = 'created' AND json_extract(event, '$.channel') = 'agent' THEN 'requester'
    WHEN json_extract(event, '$.kind') = 'status_changed' AND json_extract(event, '$.reason') IN
        ('the requester answered', 'the requester confirmed it is solved', 'the requester says it is solved')
        THEN 'requester'
    ELSE 'technician'
END;
-- A snapshot attached when a ticket opened was logged under the requester's name; it was their machine's agent.
UPDATE ticket_events SET actor = json_extract(event, '$.agent_id')
    WHERE json_extract(event, '$.kind') = 'snapshot_attached';
-- The format each stored body was written in, decoded through one function each (`tickets::decode_event`,
-- `agents::decode_snapshot`), so a later format never makes an older row unreadable.
ALTER TABLE ticket_events ADD COLUMN format INTEGER NOT NULL DEFAULT 1;
ALTER TABLE snapshots ADD COLUMN format INTEGER NOT NULL DEFAULT 1;
"#,
    r#"
-- Failed logins and enrollments, counted per account name and per source address to make guessing wait. Kept here
-- rather than in the process, so a restart does not wipe the counts and servers sharing a database share them.
CREATE TABLE failed_attempts (
    scope           TEXT NOT NULL,
    subject         TEXT NOT NULL,
    failures        INTEGER NOT NULL,
    last_failure_at INTEGER NOT NULL,
    refusal_audited INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (scope, subject)
);
CREATE INDEX failed_attempts_by_age ON failed_attempts(scope, last_failure_at);
"#,
    r#"
-- The help desk: tickets from every channel for people on record, with a priority, a type, pending reasons, merges
-- and the SLA's next deadline. Every new column is a cache of the fold of the ticket's events, like the others; the
-- defaults are what the fold gives the events written before (they decode with the same defaults).
ALTER TABLE tickets ADD COLUMN person INTEGER;
ALTER TABLE tickets ADD COLUMN urgency TEXT NOT NULL DEFAULT 'medium';
ALTER TABLE tickets ADD COLUMN impact TEXT NOT NULL DEFAULT 'medium';
ALTER TABLE tickets ADD COLUMN priority TEXT NOT NULL DEFAULT 'medium';
-- 0 low to 3 critical: lists sort by it.
ALTER TABLE tickets ADD COLUMN priority_rank INTEGER NOT NULL DEFAULT 1;
ALTER TABLE tickets ADD COLUMN ticket_type TEXT NOT NULL DEFAULT 'incident';
ALTER TABLE tickets ADD COLUMN merged_into INTEGER;
ALTER TABLE tickets ADD COLUMN pending_until INTEGER;
ALTER TABLE tickets ADD COLUMN snapshot_wanted INTEGER NOT NULL DEFAULT 0;
-- The earliest deadline among the SLA clocks running, and whether one is past due: for `--sla` filters. Written when
-- the ticket changes and by the SLA pass; the clocks themselves are always computed from the log.
ALTER TABLE tickets ADD COLUMN sla_due_at INTEGER;
ALTER TABLE tickets ADD COLUMN sla_breached INTEGER NOT NULL DEFAULT 0;
-- When the SLA pass must next look at the ticket: its next warning or breach.
ALTER TABLE tickets ADD COLUMN sla_alert_at INTEGER;
CREATE INDEX tickets_by_updated ON tickets(updated_at, number);
CREATE INDEX tickets_by_person ON tickets(person, number);
CREATE INDEX tickets_by_agent ON tickets(agent_id, number);
CREATE INDEX tickets_pending_until ON tickets(pending_until) WHERE pending_until IS NOT NULL;
CREATE INDEX tickets_by_sla ON tickets(sla_due_at) WHERE sla_due_at IS NOT NULL;
CREATE INDEX tickets_by_sla_alert ON tickets(sla_alert_at) WHERE sla_alert_at IS NOT NULL;

-- Requesters on record. A person merged into another keeps their row, pointing at the one that carries on.
CREATE TABLE people (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL,
    email       TEXT,
    phone       TEXT,
    department  TEXT,
    merged_into INTEGER REFERENCES people(id),
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE UNIQUE INDEX people_by_email ON people(email) WHERE email IS NOT NULL AND merged_into IS NULL;
-- The local accounts a person uses, by machine: a help request from one of them is theirs.
CREATE TABLE person_accounts (
    agent_id   TEXT NOT NULL REFERENCES agents(id),
    local_user TEXT NOT NULL,
    person     INTEGER NOT NULL REFERENCES people(id),
    PRIMARY KEY (agent_id, local_user)
);
CREATE INDEX person_accounts_by_person ON person_accounts(person);

-- Two levels: a category with a parent is a subcategory. A retired one is no longer offered; tickets keep it.
CREATE TABLE categories (
    name       TEXT PRIMARY KEY,
    parent     TEXT REFERENCES categories(name),
    label      TEXT NOT NULL,
    retired_at INTEGER
);
INSERT INTO categories (name, parent, label) VALUES
    ('hardware', NULL, 'Hardware'),
    ('storage', 'hardware', 'Disks and storage'),
    ('peripherals', 'hardware', 'Screens, keyboards and other devices'),
    ('network', NULL, 'Network'),
    ('vpn', 'network', 'VPN and remote access'),
    ('wifi', 'network', 'Wi-Fi'),
    ('software', NULL, 'Software'),
    ('performance', 'software', 'Slowness and resources'),
    ('installation', 'software', 'Installing and updating programs'),
    ('printing', NULL, 'Printing'),
    ('email', NULL, 'E-mail'),
    ('account', NULL, 'Accounts and access'),
    ('security', NULL, 'Security and viruses'),
    ('how-to', NULL, 'How-to and training'),
    ('other', NULL, 'Other');

CREATE TABLE canned_replies (
    name       TEXT PRIMARY KEY,
    body       TEXT NOT NULL,
    author     TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);

-- Who is looking at or writing on a ticket, as last said by their console; gone a minute after they stop saying it.
CREATE TABLE presence (
    ticket  INTEGER NOT NULL,
    user    TEXT NOT NULL,
    state   TEXT NOT NULL,
    seen_at INTEGER NOT NULL,
    PRIMARY KEY (ticket, user)
);

-- The words of each ticket's subject, description and conversation, one document per ticket whose row id is its
-- number: `ticket list --text`. Contentless: the texts are kept in the events; the server rewrites a ticket's document
-- when a text is added.
CREATE VIRTUAL TABLE ticket_search USING fts5(body, content='', contentless_delete=1);
INSERT INTO ticket_search (rowid, body)
    SELECT ticket, group_concat(text, char(10)) FROM (
        SELECT ticket, id, CASE json_extract(event, '$.kind')
            WHEN 'created' THEN json_extract(event, '$.subject') || char(10) || json_extract(event, '$.description')
            ELSE json_extract(event, '$.body') END AS text
        FROM ticket_events
        WHERE json_extract(event, '$.kind') IN ('created', 'public_reply', 'internal_note', 'requester_reply')
        ORDER BY ticket, id)
    GROUP BY ticket;
"#,
    r#"
-- What the statistics read of each ticket: its log folded (desk::stats::Facts, as JSON), rewritten in the
-- transaction of every change, so a report reads one row per ticket rather than every event. Rows for tickets of
-- before are filled in by the server when it opens the store (`fill_facts`), since the fold is Rust's.
CREATE TABLE ticket_facts (
    ticket    INTEGER PRIMARY KEY REFERENCES tickets(number),
    opened_at INTEGER NOT NULL,
    last_at   INTEGER NOT NULL,
    facts     TEXT NOT NULL
);
CREATE INDEX ticket_facts_by_last ON ticket_facts(last_at);
CREATE INDEX ticket_facts_by_opened ON ticket_facts(opened_at);
"#,
    r#"
-- Webhook endpoints: where deliveries go, the secret that signs them, the events wanted (JSON list of topics), and
-- the silence after which an agent counts as offline for them. Disabled by a 410 answer or an admin; kept, so
-- their delivery log stays readable and enabling them again resumes what waited.
CREATE TABLE webhook_endpoints (
    id              INTEGER PRIMARY KEY,
    url             TEXT NOT NULL,
    secret          TEXT NOT NULL,
    topics          TEXT NOT NULL,
    offline_after   INTEGER,
    created_at      INTEGER NOT NULL,
    created_by      TEXT NOT NULL,
    disabled_at     INTEGER,
    disabled_reason TEXT,
    removed_at      INTEGER
);

-- The outbox: one row per endpoint and happening, written in the transaction of the happening, so a delivery
-- exists exactly when what it reports does. `msg_id` is the webhook-id receivers deduplicate by; `next_at` is when
-- the sender tries next (NULL once delivered or given up).
CREATE TABLE webhook_deliveries (
    id           INTEGER PRIMARY KEY,
    endpoint     INTEGER NOT NULL REFERENCES webhook_endpoints(id),
    msg_id       TEXT NOT NULL UNIQUE,
    topic        TEXT NOT NULL,
    body         TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    state        TEXT NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    next_at      INTEGER,
    last_status  INTEGER,
    last_error   TEXT,
    delivered_at INTEGER
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries(next_at) WHERE next_at IS NOT NULL;
CREATE INDEX webhook_deliveries_by_endpoint ON webhook_deliveries(endpoint, id);

-- Every try of a delivery: when, what the receiver answered (status or error) and how long it took.
CREATE TABLE webhook_attempts (
    delivery INTEGER NOT NULL REFERENCES webhook_deliveries(id),
    at       INTEGER NOT NULL,
    status   INTEGER,
    error    TEXT,
    millis   INTEGER NOT NULL
);
CREATE INDEX webhook_attempts_by_delivery ON webhook_attempts(delivery);

-- The silence of each agent an endpoint was told about (its last_seen_at then), so it is told once per silence.
CREATE TABLE webhook_offline_told (
    endpoint     INTEGER NOT NULL REFERENCES webhook_endpoints(id),
    agent_id     TEXT NOT NULL,
    last_seen_at INTEGER NOT NULL,
    PRIMARY KEY (endpoint, agent_id)
);
"#,
    r#"
-- Every message of the e-mail channel, in and out: what threads a reply (our Message-IDs, looked up whole rather
-- than trusted from their shape), what keeps a message fetched twice from counting twice, and what the per-sender
-- limits count. `refs` is the message's References (JSON), which a reply to it extends.
CREATE TABLE mail_messages (
    id         INTEGER PRIMARY KEY,
    direction  TEXT NOT NULL,
    message_id TEXT,
    ticket     INTEGER REFERENCES tickets(number),
    address    TEXT NOT NULL,
    subject    TEXT NOT NULL,
    refs       TEXT NOT NULL DEFAULT '[]',
    at         INTEGER NOT NULL,
    outcome    TEXT NOT NULL
);
CREATE UNIQUE INDEX mail_in_once ON mail_messages(message_id) WHERE direction = 'in' AND message_id IS NOT NULL;
CREATE INDEX mail_by_id ON mail_messages(message_id);
CREATE INDEX mail_by_ticket ON mail_messages(ticket, id);
CREATE INDEX mail_by_address ON mail_messages(address, at);

-- Mail waiting to be sent (rendered, so a retry sends the same bytes), retried until the SMTP server takes it.
CREATE TABLE mail_outbox (
    id         INTEGER PRIMARY KEY,
    message    INTEGER NOT NULL REFERENCES mail_messages(id),
    sender     TEXT NOT NULL,
    recipient  TEXT NOT NULL,
    raw        BLOB NOT NULL,
    state      TEXT NOT NULL,
    attempts   INTEGER NOT NULL DEFAULT 0,
    next_at    INTEGER,
    last_error TEXT,
    sent_at    INTEGER
);
CREATE INDEX mail_outbox_due ON mail_outbox(next_at) WHERE next_at IS NOT NULL;

-- How far the IMAP reader got in each mailbox: its UIDVALIDITY and the last UID taken, written in the transaction
-- that took the message, so a restart neither reads one twice nor skips one.
CREATE TABLE mail_cursor (
    mailbox     TEXT PRIMARY KEY,
    uidvalidity INTEGER NOT NULL,
    last_uid    INTEGER NOT NULL
);

-- Files that came with a ticket's mail, up to the size limit.
CREATE TABLE ticket_attachments (
    id           INTEGER PRIMARY KEY,
    ticket       INTEGER NOT NULL REFERENCES tickets(number),
    message      INTEGER REFERENCES mail_messages(id),
    name         TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size         INTEGER NOT NULL,
    data         BLOB NOT NULL,
    at           INTEGER NOT NULL
);
CREATE INDEX ticket_attachments_by_ticket ON ticket_attachments(ticket);
"#,
    r#"
-- The statistics' rows in the compact form of desk::stats::Facts::encode rather than JSON: a report over a year of a
-- large desk decodes every ticket of the year, and decoding JSON was most of its time. `unresolved` is 1 while the
-- ticket is not resolved, closed or merged, so a report finds the tickets open through its range without a lookup
-- in `tickets` for each. The rows are the logs folded, so the old ones are dropped rather than converted: the server
-- fills them again from the logs when it opens the store (`fill_facts`), before anything reads them.
DROP TABLE ticket_facts;
CREATE TABLE ticket_facts (
    ticket     INTEGER PRIMARY KEY REFERENCES tickets(number),
    opened_at  INTEGER NOT NULL,
    last_at    INTEGER NOT NULL,
    unresolved INTEGER NOT NULL,
    facts      BLOB NOT NULL
);
CREATE INDEX ticket_facts_by_last ON ticket_facts(last_at);
CREATE INDEX ticket_facts_by_opened ON ticket_facts(opened_at);
"#,
    r#"
-- The console's saved queue views: a technician's own, or shared with the whole desk. `query` holds the queue's
-- filters as the API's query string, so a view is a link any technician's queue can open.
CREATE TABLE saved_views (
    id         INTEGER PRIMARY KEY,
    owner      TEXT NOT NULL,
    name       TEXT NOT NULL,
    query      TEXT NOT NULL,
    shared     INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (owner, name)
);
-- What each person chose for themselves in the console, such as the queue's columns.
CREATE TABLE console_prefs (
    user  TEXT NOT NULL,
    name  TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (user, name)
);
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

#[cfg(test)]
mod tests {
    use crate::desk::actor::ActorKind;
    use crate::desk::checks::RunState;
    use crate::desk::tickets::Status;
    use crate::store::Store;
    use crate::store::tickets::Query;

    /// `fixtures/schema5.db` was written at schema 5, the last release's, with that release's stored formats: two
    /// tickets (one from a machine, worked through every kind of event, one by phone), two agents with snapshots,
    /// a check run, self-help reports, users and the audit chain. It must open, migrate and keep all of it.
    #[tokio::test]
    async fn a_store_of_the_last_release_migrates_and_keeps_everything() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lifeline.db");
        std::fs::copy(concat!(env!("CARGO_MANIFEST_DIR"), "/src/store/fixtures/schema5.db"), &path).unwrap();
        let store = Store::open(&path).unwrap();
        let (one, two, listed) =
            store.read(|c| Ok((c.ticket_events(1)?, c.ticket(2)?, c.tickets(&Query::default())?))).await.unwrap();
        let who: Vec<(ActorKind, &str)> = one.iter().map(|e| (e.actor.kind, e.actor.name.as_str())).collect();
        use ActorKind::*;
        assert_eq!(
            who,
            [
                (Requester, "ann"),
                (Agent, "ag-1"),
                (Technician, "bob"),
                (Technician, "bob"),
                (Technician, "bob"),
                (Technician, "bob"),
                (Requester, "ann"),
                (Technician, "bob"),
                (Technician, "carol"),
                (Technician, "carol"),
                (Requester, "ann"),
            ],
            "each event of before is given the kind of actor only it could have been"
        );
        assert_eq!(
            (two.version, two.state.status, two.state.category.as_deref()),
            (2, Status::Resolved, Some("account"))
        );
        assert_eq!(
            listed.tickets.iter().map(|t| (t.number, t.status.as_str())).collect::<Vec<_>>(),
            [(2, "resolved"), (1, "closed")]
        );
        let (ticket, snapshot, figures, run, verdict, revoked) = store
            .read(|c| {
                Ok((
                    c.ticket(1)?,
                    c.snapshot("ag-1", &"01".repeat(16))?,
                    c.self_help_figures(0)?,
                    c.run(1)?,
                    c.verify_audit()?,
                    c.agent("ag-2")?,
                ))
            })
            .await
            .unwrap();
        assert_eq!((ticket.version, ticket.state.status, ticket.state.tier), (11, Status::Closed, 2));
        assert_eq!(snapshot.host.hostname, "pc-ann", "a snapshot body of the first format decodes");
        assert_eq!((figures.shown, figures.solved), (2, 1));
        assert_eq!((run.state, run.result.as_deref()), (RunState::Done, Some("/ 40% used")));
        assert_eq!((verdict.entries, verdict.broken), (8, None));
        assert!(revoked.is_some_and(|a| a.revoked_at.is_some()));
        assert!(store.read(|c| c.user_by_name("carol")).await.unwrap().is_some());
    }

    /// `fixtures/schema7.db` was written by the release at schema 7: the schema-5 fixture migrated, plus a phone
    /// ticket worked through notes, a public reply, pending and back, an escalation and a resolution, an audit
    /// entry for it and a login name's failed attempts. Migrating it keeps all of it, fills the new columns with
    /// what the fold of each log gives, and indexes the old conversations for search.
    #[tokio::test]
    async fn a_store_of_schema_7_migrates_and_keeps_every_ticket_event_and_figure() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lifeline.db");
        std::fs::copy(concat!(env!("CARGO_MANIFEST_DIR"), "/src/store/fixtures/schema7.db"), &path).unwrap();
        let store = Store::open(&path).unwrap();
        let (events, ticket, listed, figures, verdict, failures) = store
            .read(|c| {
                Ok((
                    c.ticket_events(3)?,
                    c.ticket(3)?,
                    c.tickets(&Query::default())?,
                    c.self_help_figures(0)?,
                    c.verify_audit()?,
                    c.failures(crate::store::auth::Scope::LoginName, "mallory")?,
                ))
            })
            .await
            .unwrap();
        assert_eq!(events.len(), 9);
        let s = &ticket.state;
        assert_eq!((ticket.version, s.status, s.tier, s.category.as_deref()), (9, Status::Resolved, 2, Some("email")));
        assert_eq!(
            (s.priority.as_str(), s.ticket_type.as_str(), s.person, s.merged_into),
            ("medium", "incident", None, None)
        );
        let rows: Vec<(i64, &str, &str)> =
            listed.tickets.iter().map(|t| (t.number, t.status.as_str(), t.channel.as_str())).collect();
        assert_eq!(rows, [(3, "resolved", "phone"), (2, "resolved", "phone"), (1, "closed", "agent")]);
        assert_eq!((figures.shown, figures.solved), (2, 1));
        assert_eq!((verdict.entries, verdict.broken), (9, None));
        assert_eq!(failures.map(|f| f.count), Some(3));
        let found = store
            .read(|c| c.tickets(&Query { text: Some("outlook password".into()), ..Query::default() }))
            .await
            .unwrap();
        assert_eq!(found.tickets.iter().map(|t| t.number).collect::<Vec<_>>(), [3], "old text is searchable");
        let by_reply =
            store.read(|c| c.tickets(&Query { text: Some("sign out".into()), ..Query::default() })).await.unwrap();
        assert_eq!(by_reply.tickets.len(), 1, "a reply written before the upgrade is searchable");
        let facts = store.read(|c| c.facts_touching(0, i64::MAX)).await.unwrap();
        assert_eq!(facts.len(), 3, "every earlier ticket got its statistics row when the store opened");
        assert_eq!(facts[2].resolutions.iter().map(|r| r.by.as_str()).collect::<Vec<_>>(), ["carol"]);
        assert_eq!(facts[2].replies.len(), 1);
    }
}
