//! Enrollment: the key pair is generated here and never leaves the machine; the server is trusted only if its CA
//! matches the fingerprint in the token, checked during the TLS handshake, before the secret is sent.

use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use lifeline_net::tls::{ServerTrust, fingerprint};
use lifeline_shared::token::EnrollToken;
use lifeline_shared::wire::{EnrollRequest, EnrollResponse, SERVER_NAME, close};

use crate::config::{Identity, StateDir};

pub async fn enroll(token: &EnrollToken, state: &StateDir, host: &crate::HostInfo) -> Result<Identity> {
    let key = rcgen::KeyPair::generate().context("generating the agent key")?;
    let mut params = rcgen::CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(rcgen::DnType::CommonName, host.hostname.as_str());
    let csr = params.serialize_request(&key).context("creating the certificate request")?;

    let addr = crate::link::resolve(&token.server).await?;
    let client = lifeline_net::tls::quic_client(ServerTrust::Fingerprint(token.ca_fingerprint), None)?;
    let endpoint = crate::link::endpoint(addr)?;
    let conn = endpoint
        .connect_with(client, addr, SERVER_NAME)
        .context("starting the connection")?
        .await
        .with_context(|| format!("connecting to {} (is the server up, and is this its CA?)", token.server))?;
    let request = EnrollRequest {
        token_secret: token.secret.clone(),
        csr_der: csr.der().to_vec(),
        hostname: host.hostname.clone(),
        os: host.os.clone(),
        agent_version: env!("CARGO_PKG_VERSION").into(),
    };
    let answer = tokio::time::timeout(Duration::from_secs(30), lifeline_net::frame::request(&conn, &request))
        .await
        .map_err(|_| anyhow!("the server did not answer the enrollment in 30 s"))?
        .context("enrollment exchange")?;
    conn.close(close::NORMAL.into(), b"enrolled");
    endpoint.wait_idle().await;
    let (agent_id, cert_der, ca_der) = match answer {
        EnrollResponse::Enrolled { agent_id, cert_der, ca_der } => (agent_id, cert_der, ca_der),
        EnrollResponse::Refused { message } => bail!("the server refused enrollment: {message}"),
    };
    if fingerprint(&ca_der) != token.ca_fingerprint {
        bail!("the server sent a CA that does not match the token's fingerprint; nothing was saved");
    }
    let identity = Identity { agent_id, server: token.server.clone() };
    state.save(&identity, key.serialized_der(), &cert_der, &ca_der)?;
    Ok(identity)
}
