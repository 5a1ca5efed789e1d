//! An agent's 90-day certificate as time passes, with the clocks of the server and the agent moved ahead by
//! libfaketime: the server renews it over the link two thirds through its life, and refuses it once expired, both on a
//! full handshake (TLS does) and on a resumed session, which checks no dates in TLS (the server does).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use lifeline_net::frame;
use lifeline_net::tls::Identity;
use lifeline_shared::wire::{ALPN, AgentControl, Hello, ServerControl, close};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{ClientSessionStore, Tls12ClientSessionValue, Tls13ClientSessionValue};
use rustls::{DigitallySignedStruct, SignatureScheme};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};

use crate::harness::{Agent, Server, eventually};
use crate::refusals::{
    NET, WAIT, agent_identity, app_close_code, connect_with, db, hang_up, is_tls_alert, server_ca, snapshots_of,
};

#[test]
fn an_agent_certificate_is_renewed_before_it_expires_and_refused_once_it_has() {
    let server = Server::start();
    let mut agent = Agent::start(&server);
    eventually("the agent's first snapshot", WAIT, || (snapshots_of(&server, &agent.id) >= 1).then_some(()));
    let enrolled = agent_identity(&agent);
    agent.proc = None;
    // Enrolled the same day, then switched off until its certificate has expired.
    let mut away = Agent::enroll(&server);

    // 61 days on, two thirds of the certificate's life have passed: the server renews it on the agent's connection.
    let server = server.restart_days_ahead(61);
    agent.run_days_ahead(61);
    let proc = agent.proc.as_ref().unwrap();
    proc.wait_for_line("the server renewed this agent's certificate", WAIT);
    server.proc.wait_for_line("renewed the agent's certificate", WAIT);
    let renewed = agent_identity(&agent);
    assert_ne!(renewed.chain, enrolled.chain, "the certificate file did not change");
    let (current, previous): (String, String) = db(&server)
        .query_row("SELECT cert_fingerprint, previous_fingerprint FROM agents WHERE id = ?1", [&agent.id], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!((current, previous), (hex_fingerprint(&renewed), hex_fingerprint(&enrolled)));
    assert_eq!(renewals(&server, &agent.id), 1);

    // The agent's next process connects with the new certificate, which is fresh: nothing more to renew.
    let snapshots = snapshots_of(&server, &agent.id);
    agent.proc = None;
    agent.run_days_ahead(61);
    eventually("a snapshot with the renewed certificate", WAIT, || {
        (snapshots_of(&server, &agent.id) > snapshots).then_some(())
    });
    assert_eq!(renewals(&server, &agent.id), 1, "a fresh certificate was renewed again");
    agent.proc = None;

    // 89 days on, the enrolled certificate is still valid for a day. A client of protocol 1, which cannot take a
    // renewal, is served with it and keeps the session ticket.
    let server = server.restart_days_ahead(89);
    let tickets = Arc::new(Tickets::default());
    let old_client = client_days_ahead(&server, enrolled.clone(), 89, tickets.clone());
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let (endpoint, conn) = connect_with(server.quic, old_client.clone()).await;
        let conn = conn.expect("the enrolled certificate is still valid");
        welcome(&conn).await.expect("served on the last day of the certificate");
        tokio::time::timeout(NET, async {
            while tickets.received.load(Ordering::SeqCst) == 0 {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await
        .expect("no session ticket from the server");
        hang_up(endpoint, conn).await;
    });

    // 91 days on, it has expired. Resuming that session skips TLS's date checks (the ticket is used, so the client
    // does resume); the server refuses it itself.
    let server = server.restart_days_ahead(91);
    let refusal = rt.block_on(async {
        let (endpoint, conn) = connect_with(server.quic, old_client).await;
        let refusal = match conn {
            Err(e) => e,
            Ok(conn) => {
                let served = welcome(&conn).await;
                assert!(served.is_none(), "an expired certificate was served on a resumed session");
                tokio::time::timeout(NET, conn.closed()).await.expect("the server never closed it")
            }
        };
        endpoint.close(0u32.into(), b"");
        refusal
    });
    assert_eq!(tickets.taken.load(Ordering::SeqCst), 1, "the session was not offered for resumption");
    assert_eq!(app_close_code(&refusal), Some(close::EXPIRED), "expected the expired code, got: {refusal}");
    server.proc.wait_for_line("refused an expired agent certificate", WAIT);

    // A full handshake with it fails in TLS.
    let refusal = rt.block_on(async {
        let fresh = client_days_ahead(&server, enrolled, 91, Arc::default());
        let (endpoint, conn) = connect_with(server.quic, fresh).await;
        let refusal = match conn {
            Err(e) => e,
            Ok(conn) => tokio::time::timeout(NET, conn.closed()).await.expect("the server never closed it"),
        };
        endpoint.close(0u32.into(), b"");
        refusal
    });
    assert!(
        matches!(refusal, quinn::ConnectionError::ConnectionClosed(ref c) if is_tls_alert(c.error_code)),
        "expected a TLS alert, got: {refusal}"
    );

    // The agent that was away is told what to do.
    away.run_days_ahead(91);
    away.proc.as_ref().unwrap().wait_for_line("certificate: it has expired; enroll the agent again", WAIT);

    // The renewed certificate is good for another two months.
    let snapshots = snapshots_of(&server, &agent.id);
    agent.run_days_ahead(91);
    eventually("a snapshot 91 days on", WAIT, || (snapshots_of(&server, &agent.id) > snapshots).then_some(()));
    assert_eq!(renewals(&server, &agent.id), 1);
}

fn renewals(server: &Server, agent_id: &str) -> i64 {
    db(server)
        .query_row(
            "SELECT COUNT(*) FROM audit WHERE action = 'agent.certificate_renewed' AND actor = ?1",
            [agent_id],
            |r| r.get(0),
        )
        .unwrap()
}

fn hex_fingerprint(identity: &Identity) -> String {
    lifeline_net::tls::fingerprint(&identity.chain[0]).iter().map(|b| format!("{b:02x}")).collect()
}

/// Says hello as an agent of protocol 1 and returns the welcome, if the server gives one.
async fn welcome(conn: &quinn::Connection) -> Option<ServerControl> {
    let hello = Hello { protocol: 1, agent_version: "0.0.0-raw".into(), hostname: "raw".into(), os: "test".into() };
    let served = tokio::time::timeout(NET, async {
        let (mut send, mut recv) = conn.open_bi().await.ok()?;
        frame::write(&mut send, &AgentControl::Hello(hello)).await.ok()?;
        frame::read::<ServerControl>(&mut recv).await.ok().flatten()
    })
    .await
    .expect("no answer and no close within the limit");
    served.filter(|s| matches!(s, ServerControl::Welcome { .. }))
}

/// A client with this identity whose idea of the date is `days` ahead, as the server's is; it keeps the session
/// tickets it is given in `tickets`, so a second connection resumes the first.
fn client_days_ahead(server: &Server, identity: Identity, days: u64, tickets: Arc<Tickets>) -> quinn::ClientConfig {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(server_ca(server)).unwrap();
    let provider = lifeline_net::tls::provider();
    let inner =
        rustls::client::WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone()).build().unwrap();
    let mut tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(DaysAhead { inner, days }))
        .with_client_auth_cert(identity.chain, identity.key)
        .unwrap();
    tls.alpn_protocols = vec![ALPN.to_vec()];
    tls.resumption = rustls::client::Resumption::store(tickets);
    quinn::ClientConfig::new(Arc::new(quinn::crypto::rustls::QuicClientConfig::try_from(tls).unwrap()))
}

/// The client's session store, counting the tickets it received and offered.
#[derive(Debug)]
struct Tickets {
    inner: rustls::client::ClientSessionMemoryCache,
    received: AtomicUsize,
    taken: AtomicUsize,
}

impl Default for Tickets {
    fn default() -> Self {
        Tickets {
            inner: rustls::client::ClientSessionMemoryCache::new(8),
            received: AtomicUsize::new(0),
            taken: AtomicUsize::new(0),
        }
    }
}

impl ClientSessionStore for Tickets {
    fn set_kx_hint(&self, server_name: ServerName<'static>, group: rustls::NamedGroup) {
        self.inner.set_kx_hint(server_name, group);
    }

    fn kx_hint(&self, server_name: &ServerName<'_>) -> Option<rustls::NamedGroup> {
        self.inner.kx_hint(server_name)
    }

    fn set_tls12_session(&self, server_name: ServerName<'static>, value: Tls12ClientSessionValue) {
        self.inner.set_tls12_session(server_name, value);
    }

    fn tls12_session(&self, server_name: &ServerName<'_>) -> Option<Tls12ClientSessionValue> {
        self.inner.tls12_session(server_name)
    }

    fn remove_tls12_session(&self, server_name: &ServerName<'static>) {
        self.inner.remove_tls12_session(server_name);
    }

    fn insert_tls13_ticket(&self, server_name: ServerName<'static>, value: Tls13ClientSessionValue) {
        self.received.fetch_add(1, Ordering::SeqCst);
        self.inner.insert_tls13_ticket(server_name, value);
    }

    fn take_tls13_ticket(&self, server_name: &ServerName<'static>) -> Option<Tls13ClientSessionValue> {
        let ticket = self.inner.take_tls13_ticket(server_name);
        self.taken.fetch_add(usize::from(ticket.is_some()), Ordering::SeqCst);
        ticket
    }
}

#[derive(Debug)]
struct DaysAhead {
    inner: Arc<rustls::client::WebPkiServerVerifier>,
    days: u64,
}

impl ServerCertVerifier for DaysAhead {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let later = UnixTime::since_unix_epoch(Duration::from_secs(now.as_secs() + self.days * 86_400));
        self.inner.verify_server_cert(end_entity, intermediates, server_name, ocsp, later)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}
