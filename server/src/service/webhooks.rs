//! Webhooks: the admin's endpoints (added, removed, disabled and enabled again, each audited), the delivery log
//! with redeliver, and what the sender asks of the store: the due deliveries, and each attempt recorded with what
//! follows from it.

use std::time::Duration;

use serde_json::json;

use super::Error;
use crate::desk::access::{Act, require};
use crate::desk::webhooks::{self, Outcome, Topic};
use crate::store::auth::User;
use crate::store::webhooks::{Attempt, Delivery, Due, Endpoint};
use crate::store::{Store, StoreError, now_ms};

/// The longest URL an endpoint may have.
const MAX_URL: usize = 2048;

/// Seconds of silence after which an agent counts as offline when the admin did not say: fifteen heartbeats' worth
/// of the agent's once-a-minute "seen" writes, so a busy link is not taken for a dead one.
const DEFAULT_OFFLINE_AFTER: i64 = 15 * 60;

/// An endpoint just added, with its secret: shown this once.
#[derive(serde::Serialize, serde::Deserialize, Debug, utoipa::ToSchema)]
pub struct Added {
    pub endpoint: Endpoint,
    pub secret: String,
}

/// What an admin asks for: the URL, the events, their own secret or none (one is made), and the silence after which
/// an agent counts as offline (seconds, for `agent.offline`; [`DEFAULT_OFFLINE_AFTER`] unless given).
#[derive(Debug, Clone)]
pub struct NewEndpoint {
    pub url: String,
    pub topics: Vec<Topic>,
    pub secret: Option<String>,
    pub offline_after: Option<i64>,
}

/// An `http` or `https` URL with a host. Where it points is checked at each delivery, against the addresses its
/// name has then.
fn check_url(url: &str) -> Result<(), StoreError> {
    let refused = |why: &str| StoreError::Refused(format!("webhook URL {url:?}: {why}"));
    if url.len() > MAX_URL {
        return Err(refused(&format!("longer than {MAX_URL} bytes")));
    }
    let uri: hyper::Uri = url.parse().map_err(|_| refused("not a URL"))?;
    if !matches!(uri.scheme_str(), Some("http" | "https")) {
        return Err(refused("must start with https:// (or http://)"));
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err(refused("names no host"));
    }
    Ok(())
}

pub async fn add(store: &Store, user: &User, new: NewEndpoint) -> Result<Added, Error> {
    require(user.role, Act::ManageIntegrations)?;
    check_url(&new.url)?;
    if new.topics.is_empty() {
        return Err(StoreError::Refused("name at least one event".into()).into());
    }
    if new.offline_after.is_some_and(|secs| !(60..=30 * 86_400).contains(&secs)) {
        return Err(StoreError::Refused("offline-after must be between 1 minute and 30 days".into()).into());
    }
    let offline_after = match new.offline_after {
        None if new.topics.contains(&Topic::AgentOffline) => Some(DEFAULT_OFFLINE_AFTER),
        given => given,
    };
    let secret = match new.secret {
        Some(secret) => {
            webhooks::secret_key(&secret).map_err(|e| StoreError::Refused(format!("secret: {e}")))?;
            secret
        }
        None => {
            let mut key = [0u8; 32];
            rand::Rng::fill(&mut rand::rng(), &mut key);
            webhooks::secret_text(&key)
        }
    };
    let by = user.name.clone();
    let shown = secret.clone();
    let endpoint = store
        .write(move |c| {
            let now = now_ms();
            let id = c.add_webhook_endpoint(&new.url, &secret, &new.topics, offline_after, &by, now)?;
            let detail = json!({ "id": id, "url": new.url, "events": new.topics, "offline_after": offline_after });
            c.audit(&by, "webhook.add", &detail, now)?;
            c.webhook_endpoint(id)
        })
        .await?;
    Ok(Added { endpoint, secret: shown })
}

pub async fn list(store: &Store, user: &User) -> Result<Vec<Endpoint>, Error> {
    require(user.role, Act::ManageIntegrations)?;
    Ok(store.read(|c| c.webhook_endpoints()).await?)
}

pub async fn remove(store: &Store, user: &User, id: i64) -> Result<(), Error> {
    require(user.role, Act::ManageIntegrations)?;
    let by = user.name.clone();
    Ok(store
        .write(move |c| {
            let now = now_ms();
            c.remove_webhook_endpoint(id, now)?;
            c.audit(&by, "webhook.remove", &json!({ "id": id }), now)
        })
        .await?)
}

/// Disables an endpoint (deliveries wait) or enables it again (they resume).
pub async fn set_enabled(store: &Store, user: &User, id: i64, enabled: bool) -> Result<Endpoint, Error> {
    require(user.role, Act::ManageIntegrations)?;
    let by = user.name.clone();
    Ok(store
        .write(move |c| {
            let now = now_ms();
            let reason = format!("disabled by {by}");
            c.set_webhook_endpoint_disabled(id, (!enabled).then_some(reason.as_str()), now)?;
            let action = if enabled { "webhook.enable" } else { "webhook.disable" };
            c.audit(&by, action, &json!({ "id": id }), now)?;
            c.webhook_endpoint(id)
        })
        .await?)
}

/// The states a delivery can be in, for filters.
pub const STATES: [&str; 4] = ["pending", "delivered", "failed", "dropped"];

pub async fn deliveries(
    store: &Store,
    user: &User,
    endpoint: Option<i64>,
    state: Option<String>,
    limit: i64,
) -> Result<Vec<Delivery>, Error> {
    require(user.role, Act::ManageIntegrations)?;
    if let Some(s) = state.as_deref().filter(|s| !STATES.contains(s)) {
        return Err(StoreError::Refused(format!("no delivery state {s:?}; one of {}", STATES.join(", "))).into());
    }
    let limit = limit.clamp(1, 1000);
    Ok(store.read(move |c| c.webhook_deliveries(endpoint, state.as_deref(), limit)).await?)
}

pub async fn delivery(store: &Store, user: &User, id: i64) -> Result<(Delivery, Vec<Attempt>), Error> {
    require(user.role, Act::ManageIntegrations)?;
    Ok(store.read(move |c| c.webhook_delivery(id)).await?)
}

/// Sends a delivery again, from the start of the schedule: after a receiver was mended, or to replay one.
pub async fn redeliver(store: &Store, user: &User, id: i64) -> Result<Delivery, Error> {
    require(user.role, Act::ManageIntegrations)?;
    let by = user.name.clone();
    Ok(store
        .write(move |c| {
            let now = now_ms();
            c.redeliver_webhook(id, now)?;
            c.audit(&by, "webhook.redeliver", &json!({ "delivery": id }), now)?;
            Ok(c.webhook_delivery(id)?.0)
        })
        .await?)
}

// What the sender asks.

pub async fn due(store: &Store, limit: i64) -> Result<Vec<Due>, StoreError> {
    store.read(move |c| c.webhooks_due(now_ms(), limit)).await
}

pub async fn next_at(store: &Store) -> Result<Option<i64>, StoreError> {
    store.read(|c| c.next_webhook_at()).await
}

/// What one attempt gave: the receiver's status and `Retry-After`, or why there was no answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub status: Option<u16>,
    pub retry_after: Option<Duration>,
    pub error: Option<String>,
    pub millis: i64,
}

/// Records an attempt and decides what follows from it by the schedule.
pub async fn record(store: &Store, schedule: &[Duration], due: Due, answer: Answer) -> Result<Outcome, StoreError> {
    let attempts = u32::try_from(due.attempts).unwrap_or(u32::MAX).saturating_add(1);
    let jitter: f64 = rand::random();
    let outcome = webhooks::next(schedule, attempts, answer.status, answer.retry_after, jitter);
    store
        .write(move |c| {
            c.record_webhook_attempt(&due, now_ms(), answer.status, answer.error.as_deref(), answer.millis, outcome)
        })
        .await?;
    Ok(outcome)
}

/// Tells each endpoint that wants `agent.offline` about the agents silent past its limit, once per silence.
pub async fn offline_pass(store: &Store) -> Result<usize, StoreError> {
    store
        .write(|c| {
            let now = now_ms();
            let silent = c.agents_newly_offline(now)?;
            for (endpoint, agent, hostname, last_seen_at) in &silent {
                let data = json!({ "agent": agent, "hostname": hostname, "last_seen_at": last_seen_at });
                c.enqueue_webhook_to(*endpoint, Topic::AgentOffline, data, now)?;
                c.told_offline(*endpoint, agent, *last_seen_at)?;
            }
            Ok(silent.len())
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked() {
        for good in ["https://hooks.example.com/lifeline", "http://127.0.0.1:9000/x?y=1"] {
            assert!(check_url(good).is_ok(), "{good}");
        }
        for (bad, why) in [
            ("ftp://example.com/", "https://"),
            ("example.com/hook", "not a URL"),
            ("https:///path", "URL"),
            ("not a url", "not a URL"),
        ] {
            let e = check_url(bad).unwrap_err().to_string();
            assert!(e.contains(why), "{bad}: {e}");
        }
        assert!(check_url(&format!("https://example.com/{}", "a".repeat(MAX_URL))).is_err());
    }
}
