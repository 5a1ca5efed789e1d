//! Webhook endpoints and the outbox. A delivery row is written in the transaction of what it reports
//! ([`Tx::enqueue_webhooks`], called by the ticket, check and agent writes), so a committed happening always has its
//! deliveries and a rolled-back one never does; the sender reads due rows and records each attempt.

use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};

use super::{Read, StoreError, Tx};
use crate::desk::webhooks::{Outcome, Topic, body};

/// An endpoint as admins see it; the secret is shown once, when it is added.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, utoipa::ToSchema)]
pub struct Endpoint {
    pub id: i64,
    pub url: String,
    pub topics: Vec<Topic>,
    /// Seconds of silence after which an agent counts as offline (`agent.offline`).
    pub offline_after: Option<i64>,
    pub created_at: i64,
    pub created_by: String,
    pub disabled_at: Option<i64>,
    pub disabled_reason: Option<String>,
    /// Deliveries waiting for their next try.
    pub pending: i64,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, utoipa::ToSchema)]
pub struct Delivery {
    pub id: i64,
    pub endpoint: i64,
    pub msg_id: String,
    pub topic: String,
    /// `pending`, `delivered`, `failed` (the schedule ran out) or `dropped` (its endpoint was removed).
    pub state: String,
    pub attempts: i64,
    pub created_at: i64,
    pub next_at: Option<i64>,
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    pub delivered_at: Option<i64>,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, utoipa::ToSchema)]
pub struct Attempt {
    pub at: i64,
    pub status: Option<i64>,
    pub error: Option<String>,
    pub millis: i64,
}

/// A delivery that is due, with what sending it needs.
#[derive(Debug, Clone, PartialEq)]
pub struct Due {
    pub id: i64,
    pub msg_id: String,
    pub body: String,
    pub created_at: i64,
    pub attempts: i64,
    pub endpoint: i64,
    pub url: String,
    pub secret: String,
}

fn topics_of(json: &str, endpoint: i64) -> Result<Vec<Topic>, StoreError> {
    serde_json::from_str(json).map_err(|e| StoreError::Corrupt(format!("topics of webhook endpoint {endpoint}: {e}")))
}

const DELIVERY_COLUMNS: &str =
    "id, endpoint, msg_id, topic, state, attempts, created_at, next_at, last_status, last_error, delivered_at";

fn delivery_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Delivery> {
    Ok(Delivery {
        id: r.get(0)?,
        endpoint: r.get(1)?,
        msg_id: r.get(2)?,
        topic: r.get(3)?,
        state: r.get(4)?,
        attempts: r.get(5)?,
        created_at: r.get(6)?,
        next_at: r.get(7)?,
        last_status: r.get(8)?,
        last_error: r.get(9)?,
        delivered_at: r.get(10)?,
    })
}

impl Read<'_> {
    /// Every endpoint not removed, oldest first.
    pub fn webhook_endpoints(&self) -> Result<Vec<Endpoint>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT e.id, e.url, e.topics, e.offline_after, e.created_at, e.created_by, e.disabled_at,
                    e.disabled_reason,
                    (SELECT count(*) FROM webhook_deliveries d WHERE d.endpoint = e.id AND d.state = 'pending')
             FROM webhook_endpoints e WHERE e.removed_at IS NULL ORDER BY e.id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
                r.get(7)?,
                r.get(8)?,
            ))
        })?;
        rows.map(|row| {
            let (id, url, topics, offline_after, created_at, created_by, disabled_at, disabled_reason, pending) = row?;
            let topics = topics_of(&topics, id)?;
            Ok(Endpoint {
                id,
                url,
                topics,
                offline_after,
                created_at,
                created_by,
                disabled_at,
                disabled_reason,
                pending,
            })
        })
        .collect()
    }

    pub fn webhook_endpoint(&self, id: i64) -> Result<Endpoint, StoreError> {
        self.webhook_endpoints()?
            .into_iter()
            .find(|e| e.id == id)
            .ok_or_else(|| StoreError::NotFound(format!("webhook endpoint {id}")))
    }

    /// The newest deliveries first, `limit` of them, of one endpoint or all, in one state or any.
    pub fn webhook_deliveries(
        &self,
        endpoint: Option<i64>,
        state: Option<&str>,
        limit: i64,
    ) -> Result<Vec<Delivery>, StoreError> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries
             WHERE (?1 IS NULL OR endpoint = ?1) AND (?2 IS NULL OR state = ?2) ORDER BY id DESC LIMIT ?3"
        ))?;
        let rows = stmt.query_map(params![endpoint, state, limit], delivery_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// One delivery and every try of it, oldest first.
    pub fn webhook_delivery(&self, id: i64) -> Result<(Delivery, Vec<Attempt>), StoreError> {
        let delivery = self
            .conn
            .prepare_cached(&format!("SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE id = ?1"))?
            .query_row([id], delivery_row)
            .optional()?
            .ok_or_else(|| StoreError::NotFound(format!("webhook delivery {id}")))?;
        let mut stmt = self.conn.prepare_cached(
            "SELECT at, status, error, millis FROM webhook_attempts WHERE delivery = ?1 ORDER BY at, rowid",
        )?;
        let attempts = stmt
            .query_map([id], |r| Ok(Attempt { at: r.get(0)?, status: r.get(1)?, error: r.get(2)?, millis: r.get(3)? }))?
            .collect::<Result<_, _>>()?;
        Ok((delivery, attempts))
    }

    /// The deliveries due at `now` to enabled endpoints, the longest waiting first.
    pub fn webhooks_due(&self, now: i64, limit: i64) -> Result<Vec<Due>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT d.id, d.msg_id, d.body, d.created_at, d.attempts, e.id, e.url, e.secret
             FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint
             WHERE d.next_at <= ?1 AND e.disabled_at IS NULL AND e.removed_at IS NULL
             ORDER BY d.next_at, d.id LIMIT ?2",
        )?;
        let rows = stmt.query_map([now, limit], |r| {
            Ok(Due {
                id: r.get(0)?,
                msg_id: r.get(1)?,
                body: r.get(2)?,
                created_at: r.get(3)?,
                attempts: r.get(4)?,
                endpoint: r.get(5)?,
                url: r.get(6)?,
                secret: r.get(7)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// When the next delivery to an enabled endpoint falls due, if any waits.
    pub fn next_webhook_at(&self) -> Result<Option<i64>, StoreError> {
        Ok(self.conn.query_row(
            "SELECT min(d.next_at) FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint
             WHERE d.next_at IS NOT NULL AND e.disabled_at IS NULL AND e.removed_at IS NULL",
            [],
            |r| r.get(0),
        )?)
    }

    /// Deliveries waiting, for the metrics.
    pub fn webhooks_pending(&self) -> Result<i64, StoreError> {
        Ok(self.conn.query_row("SELECT count(*) FROM webhook_deliveries WHERE state = 'pending'", [], |r| r.get(0))?)
    }

    /// For each endpoint that wants `agent.offline`, the agents silent longer than its `offline_after` at `now` that
    /// it has not been told about for this silence: (endpoint, agent, hostname, last seen).
    pub fn agents_newly_offline(&self, now: i64) -> Result<Vec<(i64, String, String, i64)>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT e.id, a.id, a.hostname, a.last_seen_at
             FROM webhook_endpoints e JOIN agents a
               ON a.last_seen_at IS NOT NULL AND a.revoked_at IS NULL AND a.last_seen_at < ?1 - e.offline_after * 1000
             LEFT JOIN webhook_offline_told t ON t.endpoint = e.id AND t.agent_id = a.id
             WHERE e.offline_after IS NOT NULL AND e.disabled_at IS NULL AND e.removed_at IS NULL
               AND e.topics LIKE '%\"agent.offline\"%'
               AND (t.last_seen_at IS NULL OR t.last_seen_at <> a.last_seen_at)
             ORDER BY e.id, a.id",
        )?;
        let rows = stmt.query_map([now], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

impl Tx<'_> {
    pub fn add_webhook_endpoint(
        &self,
        url: &str,
        secret: &str,
        topics: &[Topic],
        offline_after: Option<i64>,
        by: &str,
        now: i64,
    ) -> Result<i64, StoreError> {
        let topics = serde_json::to_string(topics).map_err(|e| StoreError::Internal(e.to_string()))?;
        self.conn.execute(
            "INSERT INTO webhook_endpoints (url, secret, topics, offline_after, created_at, created_by)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![url, secret, topics, offline_after, now, by],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Removes an endpoint: nothing more is sent to it, and what waited for it is dropped (its log stays).
    pub fn remove_webhook_endpoint(&self, id: i64, now: i64) -> Result<(), StoreError> {
        self.webhook_endpoint(id)?;
        self.conn.execute("UPDATE webhook_endpoints SET removed_at = ?2 WHERE id = ?1", [id, now])?;
        self.conn.execute(
            "UPDATE webhook_deliveries SET state = 'dropped', next_at = NULL WHERE endpoint = ?1 AND state = 'pending'",
            [id],
        )?;
        Ok(())
    }

    /// Disables an endpoint with the reason, or enables it again (`reason` None), which resumes what waited.
    pub fn set_webhook_endpoint_disabled(&self, id: i64, reason: Option<&str>, now: i64) -> Result<(), StoreError> {
        self.webhook_endpoint(id)?;
        self.conn.execute(
            "UPDATE webhook_endpoints SET disabled_at = CASE WHEN ?2 IS NULL THEN NULL ELSE ?3 END,
                    disabled_reason = ?2 WHERE id = ?1",
            params![id, reason, now],
        )?;
        Ok(())
    }

    /// Writes one delivery of `topic` to every enabled endpoint that wants it; `data` is made only when one does.
    pub fn enqueue_webhooks(
        &self,
        topic: Topic,
        data: impl FnOnce() -> serde_json::Value,
        now: i64,
    ) -> Result<usize, StoreError> {
        let wanting: Vec<i64> = {
            let mut stmt = self.conn.prepare_cached(
                "SELECT id, topics FROM webhook_endpoints WHERE disabled_at IS NULL AND removed_at IS NULL",
            )?;
            let rows = stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))?;
            let mut wanting = Vec::new();
            for row in rows {
                let (id, topics) = row?;
                if topics_of(&topics, id)?.contains(&topic) {
                    wanting.push(id);
                }
            }
            wanting
        };
        if !wanting.is_empty() {
            self.insert_deliveries(&wanting, topic, &body(topic, now, data()), now)?;
        }
        Ok(wanting.len())
    }

    /// Writes one delivery to one endpoint: for what concerns it alone (an agent silent past its own limit).
    pub fn enqueue_webhook_to(
        &self,
        endpoint: i64,
        topic: Topic,
        data: serde_json::Value,
        now: i64,
    ) -> Result<(), StoreError> {
        self.insert_deliveries(&[endpoint], topic, &body(topic, now, data), now)
    }

    fn insert_deliveries(&self, endpoints: &[i64], topic: Topic, body: &str, now: i64) -> Result<(), StoreError> {
        let mut insert = self.conn.prepare_cached(
            "INSERT INTO webhook_deliveries (endpoint, msg_id, topic, body, created_at, state, next_at)
             VALUES (?1, ?2, ?3, ?4, ?5, 'pending', ?5)",
        )?;
        for endpoint in endpoints {
            let msg_id = format!("msg_{}", super::auth::random_secret(16));
            insert.execute(params![endpoint, msg_id, topic.as_str(), body, now])?;
        }
        self.wrote(super::Written::Deliveries);
        Ok(())
    }

    /// Records one try of a delivery and what follows from it: delivered, another try at `next_at`, given up, or
    /// (410) the endpoint disabled with the delivery left waiting for it to be enabled again.
    pub fn record_webhook_attempt(
        &self,
        due: &Due,
        at: i64,
        status: Option<u16>,
        error: Option<&str>,
        millis: i64,
        outcome: Outcome,
    ) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "INSERT INTO webhook_attempts (delivery, at, status, error, millis) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![due.id, at, status, error, millis])?;
        let (state, next_at, delivered_at) = match outcome {
            Outcome::Delivered => ("delivered", None, Some(at)),
            Outcome::Retry(wait) => {
                ("pending", Some(at.saturating_add(i64::try_from(wait.as_millis()).unwrap_or(i64::MAX))), None)
            }
            Outcome::GaveUp => ("failed", None, None),
            Outcome::Gone => ("pending", Some(at), None),
        };
        self.conn
            .prepare_cached(
                "UPDATE webhook_deliveries SET attempts = attempts + 1, state = ?2, next_at = ?3, last_status = ?4,
                        last_error = ?5, delivered_at = ?6 WHERE id = ?1",
            )?
            .execute(params![due.id, state, next_at, status, error, delivered_at])?;
        if outcome == Outcome::Gone {
            self.set_webhook_endpoint_disabled(due.endpoint, Some("the receiver answered 410 Gone"), at)?;
        }
        Ok(())
    }

    /// Sends a delivery again from the start of the schedule, with the same webhook-id so receivers can tell it
    /// is the same message.
    pub fn redeliver_webhook(&self, id: i64, now: i64) -> Result<(), StoreError> {
        let (delivery, _) = self.webhook_delivery(id)?;
        if delivery.state == "dropped" {
            return Err(StoreError::Refused(format!("delivery {id} belongs to a removed endpoint")));
        }
        self.conn.execute(
            "UPDATE webhook_deliveries SET state = 'pending', attempts = 0, next_at = ?2 WHERE id = ?1",
            [id, now],
        )?;
        self.wrote(super::Written::Deliveries);
        Ok(())
    }

    /// Remembers that `endpoint` was told `agent` went silent after `last_seen_at`.
    pub fn told_offline(&self, endpoint: i64, agent: &str, last_seen_at: i64) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO webhook_offline_told (endpoint, agent_id, last_seen_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (endpoint, agent_id) DO UPDATE SET last_seen_at = excluded.last_seen_at",
            params![endpoint, agent, last_seen_at],
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::desk::actor::Actor;
    use crate::desk::priority::{Level, TicketType};
    use crate::desk::tickets::{Channel, Event};
    use crate::desk::webhooks::{Outcome, Topic};
    use crate::store::{Store, StoreError};

    fn created() -> Event {
        Event::Created {
            subject: "printer".into(),
            description: String::new(),
            channel: Channel::Phone,
            requester: "ann".into(),
            agent_id: None,
            category: None,
            person: None,
            urgency: Level::Medium,
            impact: Level::Medium,
            priority: Level::Medium,
            ticket_type: TicketType::Incident,
        }
    }

    /// A delivery exists exactly when what it reports does: written with it, rolled back with it, and only for the
    /// endpoints that want it.
    #[tokio::test]
    async fn the_outbox_is_written_in_the_transaction_of_the_happening() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.db")).unwrap();
        let (all, replies) = store
            .write(|c| {
                let all = c.add_webhook_endpoint("https://a.example/", "s", &Topic::ALL, Some(600), "root", 1)?;
                let replies =
                    c.add_webhook_endpoint("https://b.example/", "s", &[Topic::TicketReplied], None, "root", 1)?;
                Ok((all, replies))
            })
            .await
            .unwrap();
        let bob = Actor::technician("bob");
        let failed = store
            .write({
                let bob = bob.clone();
                move |c| {
                    c.open_ticket(None, &[(bob, created())], 2)?;
                    Err::<(), _>(StoreError::Refused("rolled back".into()))
                }
            })
            .await;
        assert!(failed.is_err());
        assert!(store.read(|c| c.webhook_deliveries(None, None, 10)).await.unwrap().is_empty());
        store
            .write(move |c| {
                let (n, _) = c.open_ticket(None, &[(bob.clone(), created())], 3)?;
                c.append_event(n, None, &bob, &Event::InternalNote { body: "between us".into() }, 4)?;
                c.append_event(n, None, &bob, &Event::PublicReply { body: "on it".into() }, 5)
            })
            .await
            .unwrap();
        let mut got: Vec<(i64, String)> = store
            .read(|c| c.webhook_deliveries(None, None, 10))
            .await
            .unwrap()
            .into_iter()
            .map(|d| (d.endpoint, d.topic))
            .collect();
        got.sort();
        let expected = [
            (all, "ticket.created".to_owned()),
            (all, "ticket.replied".to_owned()),
            (replies, "ticket.replied".to_owned()),
        ];
        assert_eq!(got, expected, "no note leaves, and each endpoint gets what it asked for");
        let due = store.read(|c| c.webhooks_due(5, 10)).await.unwrap();
        assert_eq!(due.len(), 3);
        let body: serde_json::Value = serde_json::from_str(&due[0].body).unwrap();
        assert_eq!(
            (body["type"].as_str(), body["data"]["ticket"]["subject"].as_str()),
            (Some("ticket.created"), Some("printer"))
        );
        assert_eq!(body["timestamp"], "1970-01-01T00:00:00.003Z");

        // 410 disables the endpoint and keeps the delivery; enabling resumes it; removing drops what waits.
        let first = due[0].clone();
        store.write(move |c| c.record_webhook_attempt(&first, 6, Some(410), None, 1, Outcome::Gone)).await.unwrap();
        let endpoint = store.read(move |c| c.webhook_endpoint(all)).await.unwrap();
        assert_eq!(endpoint.disabled_reason.as_deref(), Some("the receiver answered 410 Gone"));
        assert_eq!(store.read(|c| c.webhooks_due(100, 10)).await.unwrap().len(), 1, "only the other endpoint's");
        store.write(move |c| c.set_webhook_endpoint_disabled(all, None, 7)).await.unwrap();
        assert_eq!(store.read(|c| c.webhooks_due(100, 10)).await.unwrap().len(), 3);
        store.write(move |c| c.remove_webhook_endpoint(all, 8)).await.unwrap();
        let states: Vec<String> = store
            .read(move |c| c.webhook_deliveries(Some(all), None, 10))
            .await
            .unwrap()
            .into_iter()
            .map(|d| d.state)
            .collect();
        assert_eq!(states, ["dropped", "dropped"]);
        assert_eq!(store.read(|c| c.webhooks_pending()).await.unwrap(), 1);
    }

    /// An agent silent past an endpoint's limit is announced to it once per silence, and again after it was heard
    /// from and went silent anew.
    #[tokio::test]
    async fn an_offline_agent_is_announced_once_per_silence() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.db")).unwrap();
        store
            .write(|c| {
                c.add_webhook_endpoint("https://a.example/", "s", &[Topic::AgentOffline], Some(600), "root", 0)?;
                c.add_webhook_endpoint("https://b.example/", "s", &[Topic::AgentEnrolled], None, "root", 0)?;
                let token = c.create_enrollment_token("local-admin", 0, 1_000_000, 1, "test")?;
                let token_id = c.spend_enrollment_token(&token.secret, 0)?;
                let agent = crate::store::agents::NewAgent {
                    id: "ag-1",
                    cert_fingerprint: "ff",
                    hostname: "pc-ann",
                    os: "linux",
                    agent_version: "1",
                    token_id: &token_id,
                };
                c.insert_agent(&agent, 0)?;
                c.agent_seen("ag-1", None, 1_000)
            })
            .await
            .unwrap();
        let silent = store.read(|c| c.agents_newly_offline(1_000 + 600_000)).await.unwrap();
        assert!(silent.is_empty(), "ten minutes is not yet longer than ten minutes");
        let silent = store.read(|c| c.agents_newly_offline(1_000 + 600_001)).await.unwrap();
        assert_eq!(silent, [(1, "ag-1".to_owned(), "pc-ann".to_owned(), 1_000)]);
        store.write(|c| c.told_offline(1, "ag-1", 1_000)).await.unwrap();
        assert!(store.read(|c| c.agents_newly_offline(10_000_000)).await.unwrap().is_empty(), "told once");
        store.write(|c| c.agent_seen("ag-1", None, 2_000_000)).await.unwrap();
        assert_eq!(store.read(|c| c.agents_newly_offline(10_000_000)).await.unwrap().len(), 1, "a new silence");
        let enrolled = store.read(|c| c.webhook_deliveries(Some(2), None, 10)).await.unwrap();
        assert_eq!(enrolled.iter().map(|d| d.topic.as_str()).collect::<Vec<_>>(), ["agent.enrolled"]);
    }
}
