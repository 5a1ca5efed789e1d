//! The webhook sender: takes due deliveries from the outbox, signs each attempt per Standard Webhooks, posts it over
//! a connection it makes itself to an address it has checked (so a name that resolves to the server's own
//! neighbourhood is refused at the moment of sending, not only when the endpoint was added), and records what the
//! receiver answered. Deliveries are at least once: an attempt cut off by a stopping server is made again by the
//! next, with the same `webhook-id`, which receivers deduplicate by.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http_body_util::Full;
use hyper::Request;
use hyper::body::Bytes;
use hyper::header::{CONTENT_TYPE, HOST, RETRY_AFTER, USER_AGENT};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::task::{self, JoinSet};
use tracing::{debug, info, warn};

use crate::config::Webhooks;
use crate::desk::webhooks::{self, Block, Outcome};
use crate::metrics::METRICS;
use crate::service::webhooks::{self as service, Answer};
use crate::store::webhooks::Due;
use crate::store::{Store, now_ms};

/// Attempts in flight at once: one slow receiver holds one slot for its timeout, not the whole outbox.
const IN_FLIGHT: usize = 16;
/// How often silent agents are looked for (`agent.offline`).
const OFFLINE_EVERY: Duration = Duration::from_secs(30);
/// The longest the sender sleeps without looking: deliveries written by another process, or a clock step.
const LOOK_EVERY: Duration = Duration::from_secs(30);

pub async fn run(store: Store, config: Webhooks) {
    let tls = tls();
    let outbox = store.outbox();
    let mut running: JoinSet<()> = JoinSet::new();
    // Delivery ids by the task attempting them. Only this loop adds and removes them, so a delivery read as due just
    // before its attempt was recorded is still here when the read is acted on, and is not sent twice.
    let mut in_flight = HashMap::<task::Id, i64>::new();
    let mut offline_at = Instant::now();
    loop {
        while let Some(done) = running.try_join_next_with_id() {
            forget(&mut in_flight, done);
        }
        if offline_at <= Instant::now() {
            offline_at = Instant::now() + OFFLINE_EVERY;
            match service::offline_pass(&store).await {
                Ok(0) => {}
                Ok(n) => info!(agents = n, "agents offline past an endpoint's limit, announced"),
                Err(e) => warn!(error = %e, "cannot look for offline agents; trying again later"),
            }
        }
        if running.len() < IN_FLIGHT {
            match service::due(&store, (IN_FLIGHT * 2) as i64).await {
                Ok(due) => {
                    for due in due {
                        if running.len() >= IN_FLIGHT {
                            break;
                        }
                        if in_flight.values().any(|&id| id == due.id) {
                            continue;
                        }
                        let id = due.id;
                        let (store, config, tls) = (store.clone(), config.clone(), tls.clone());
                        let task = running.spawn(async move { deliver(&store, &config, &tls, due).await });
                        in_flight.insert(task.id(), id);
                    }
                }
                Err(e) => warn!(error = %e, "cannot read the webhook outbox; trying again later"),
            }
        }
        let wait = match service::next_at(&store).await {
            Ok(Some(at)) => Duration::from_millis(u64::try_from(at - now_ms()).unwrap_or(0)),
            _ => LOOK_EVERY,
        }
        .clamp(Duration::from_millis(20), LOOK_EVERY)
        .min(offline_at.saturating_duration_since(Instant::now()));
        tokio::select! {
            () = outbox.notified() => {}
            Some(done) = running.join_next_with_id() => forget(&mut in_flight, done),
            () = tokio::time::sleep(wait) => {}
        }
    }
}

/// Takes a finished attempt out of the in-flight set. One that panicked is logged; its delivery, still due, is
/// tried again.
fn forget(in_flight: &mut HashMap<task::Id, i64>, done: Result<(task::Id, ()), task::JoinError>) {
    let task = match done {
        Ok((task, ())) => task,
        Err(e) => {
            warn!(error = %e, "a webhook attempt ended unrecorded; it stays due");
            e.id()
        }
    };
    in_flight.remove(&task);
}

/// One attempt at one delivery, recorded.
async fn deliver(store: &Store, config: &Webhooks, tls: &Tls, due: Due) {
    let started = Instant::now();
    let answer = match tokio::time::timeout(config.timeout, post(&due, &config.allow, tls)).await {
        Ok(Ok((status, retry_after))) => Answer { status: Some(status), retry_after, error: None, millis: 0 },
        Ok(Err(e)) => Answer { status: None, retry_after: None, error: Some(e), millis: 0 },
        Err(_) => Answer {
            status: None,
            retry_after: None,
            error: Some(format!("no answer within {} s", config.timeout.as_secs())),
            millis: 0,
        },
    };
    let answer = Answer { millis: i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX), ..answer };
    let (id, endpoint) = (due.id, due.endpoint);
    let (status, error) = (answer.status, answer.error.clone());
    match service::record(store, &config.retry, due, answer).await {
        Ok(outcome) => {
            METRICS.webhook_attempt(outcome);
            match outcome {
                Outcome::Delivered => debug!(delivery = id, endpoint, "webhook delivered"),
                Outcome::Retry(wait) => {
                    info!(
                        delivery = id,
                        endpoint,
                        ?status,
                        ?error,
                        retry_in_s = wait.as_secs(),
                        "webhook not delivered"
                    )
                }
                Outcome::GaveUp => warn!(delivery = id, endpoint, ?status, ?error, "webhook given up on"),
                Outcome::Gone => warn!(endpoint, "webhook receiver answered 410 Gone; endpoint disabled"),
            }
        }
        // The attempt stays due and is made again: at least once.
        Err(e) => warn!(delivery = id, error = %e, "cannot record a webhook attempt"),
    }
}

/// Posts the delivery, signed now, and returns the status and any `Retry-After`; or why no answer came.
async fn post(due: &Due, allow: &[Block], tls: &Tls) -> Result<(u16, Option<Duration>), String> {
    let uri: hyper::Uri = due.url.parse().map_err(|_| "the endpoint's URL does not parse".to_owned())?;
    let https = uri.scheme_str() == Some("https");
    let host = uri.host().ok_or("the endpoint's URL names no host")?.trim_matches(['[', ']']).to_owned();
    let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), port))
        .await
        .map_err(|e| format!("cannot resolve {host}: {e}"))?
        .collect();
    let addr = addrs.iter().find(|a| webhooks::may_reach(a.ip(), allow)).copied().ok_or_else(|| {
        let ips: Vec<String> = addrs.iter().map(|a| a.ip().to_string()).collect();
        format!(
            "refused: {host} is {} , a private or local address; list it under [webhooks] allow to deliver there",
            ips.join(", ")
        )
    })?;
    let key = webhooks::secret_key(&due.secret).map_err(|e| format!("the endpoint's secret: {e}"))?;
    let timestamp = now_ms() / 1000;
    let authority = uri.authority().map(|a| a.as_str().to_owned()).unwrap_or(host.clone());
    let path = uri.path_and_query().map_or("/", |p| p.as_str()).to_owned();
    let request = Request::post(path)
        .header(HOST, authority)
        .header(CONTENT_TYPE, "application/json")
        .header(USER_AGENT, concat!("Lifeline-Webhooks/", env!("CARGO_PKG_VERSION")))
        .header("webhook-id", &due.msg_id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", webhooks::signature(&key, &due.msg_id, timestamp, &due.body))
        .body(Full::new(Bytes::from(due.body.clone())))
        .map_err(|e| format!("cannot build the request: {e}"))?;
    let tcp = tokio::net::TcpStream::connect(addr).await.map_err(|e| format!("cannot connect to {addr}: {e}"))?;
    if https {
        let name =
            rustls_pki_types::ServerName::try_from(host.clone()).map_err(|_| format!("{host} is no TLS name"))?;
        let tls = tls.as_ref().as_ref().map_err(Clone::clone)?;
        let tls = tls.connect(name, tcp).await.map_err(|e| format!("TLS with {host}: {e}"))?;
        exchange(tls, request).await
    } else {
        exchange(tcp, request).await
    }
}

async fn exchange<S>(io: S, request: Request<Full<Bytes>>) -> Result<(u16, Option<Duration>), String>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(TokioIo::new(io)).await.map_err(|e| format!("HTTP: {e}"))?;
    // Drives the connection until the answer's head is read; dropped with it.
    let driver = tokio::spawn(conn);
    let answer = sender.send_request(request).await.map_err(|e| format!("HTTP: {e}"));
    driver.abort();
    let answer = answer?;
    let retry_after = answer.headers().get(RETRY_AFTER).and_then(|v| v.to_str().ok()).and_then(webhooks::retry_after);
    Ok((answer.status().as_u16(), retry_after))
}

/// TLS to receivers, trusting the machine's certificate authorities.
type Tls = Arc<Result<tokio_rustls::TlsConnector, String>>;

fn tls() -> Tls {
    let mut roots = rustls::RootCertStore::empty();
    let found = rustls_native_certs::load_native_certs();
    for e in &found.errors {
        warn!(error = %e, "a system CA certificate could not be read; https webhooks may fail");
    }
    let (added, _) = roots.add_parsable_certificates(found.certs);
    debug!(added, "system CA certificates for https webhooks");
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map(|b| b.with_root_certificates(roots).with_no_client_auth());
    Arc::new(match config {
        Ok(config) => Ok(tokio_rustls::TlsConnector::from(Arc::new(config))),
        Err(e) => Err(format!("TLS is not available: {e}")),
    })
}
