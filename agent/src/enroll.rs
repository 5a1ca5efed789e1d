//! Enrollment: the key pair is generated here and never leaves the machine; the server is trusted only if its CA
//! matches the fingerprint in the token, checked during the TLS handshake, before the secret is sent.
//!
//! A packaged agent enrolls itself on first start from a token file the admin preseeded ([`on_first_start`]), so
//! installing and enrolling a fleet is one step that never puts the token on a command line.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use lifeline_net::tls::{ServerTrust, fingerprint};
use lifeline_shared::backoff::Backoff;
use lifeline_shared::token::EnrollToken;
use lifeline_shared::wire::{EnrollRequest, EnrollResponse, SERVER_NAME, close};
use tracing::{info, warn};

use crate::config::{Identity, StateDir};

/// Where packages let an admin preseed enrollment (see packaging/README.md).
pub const PRESEEDED_TOKEN: &str = "/etc/lifeline/enroll.token";

/// A refused token stays refused until the admin replaces it, so retries slow down to one every few minutes at most
/// instead of filling the journal; the floor keeps full jitter from ever retrying at once.
const RETRY: Backoff = Backoff { base: Duration::from_secs(2), cap: Duration::from_secs(300) };
const RETRY_FLOOR: Duration = Duration::from_secs(1);

/// How long a server that does not answer may take before this attempt counts as failed (the QUIC idle timeout
/// alone would be longer).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

/// Makes sure the agent is enrolled before the service starts: if it is not, enrolls with the token in `token_file`,
/// retrying with backoff and saying why on each failure, until it works or `shutdown` resolves (then `false`).
/// The token file is deleted once an identity is saved, so the secret does not outlive its use.
pub async fn on_first_start(
    token_file: &Path,
    state: &StateDir,
    host: &crate::HostInfo,
    shutdown: impl Future<Output = ()>,
) -> bool {
    tokio::pin!(shutdown);
    let mut attempt = 0u32;
    loop {
        if state.is_enrolled() {
            // Enrolling again would need the identity removed first; a token left here is only a secret lying around.
            if token_file.exists() {
                info!(path = %token_file.display(), "already enrolled; the preseeded token is not needed");
            }
            forget_token(token_file);
            return true;
        }
        match enroll_from_file(token_file, state, host).await {
            Ok(identity) => {
                info!(agent_id = %identity.agent_id, server = %identity.server, "enrolled with the preseeded token");
                forget_token(token_file);
                return true;
            }
            Err(e) => {
                let delay = RETRY.delay(attempt, rand::random()).max(RETRY_FLOOR);
                attempt = attempt.saturating_add(1);
                warn!(retry_in_secs = delay.as_secs(), "not enrolled yet: {e:#}");
                tokio::select! {
                    () = tokio::time::sleep(delay) => {}
                    () = &mut shutdown => return false,
                }
            }
        }
    }
}

async fn enroll_from_file(token_file: &Path, state: &StateDir, host: &crate::HostInfo) -> Result<Identity> {
    let text = match std::fs::read_to_string(token_file) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => bail!(
            "no enrollment token in {}; put one there (mode 0600) or run `lifeline-agent enroll`",
            token_file.display()
        ),
        Err(e) => return Err(e).with_context(|| format!("reading the enrollment token {}", token_file.display())),
    };
    warn_if_exposed(token_file);
    let token = EnrollToken::parse(&text).with_context(|| format!("{} holds no usable token", token_file.display()))?;
    enroll(&token, state, host).await
}

/// The token is a secret: other users must not be able to read it while it waits for its one use.
fn warn_if_exposed(token_file: &Path) {
    #[cfg(unix)]
    if let Ok(meta) = std::fs::metadata(token_file) {
        use std::os::unix::fs::PermissionsExt;
        if meta.permissions().mode() & 0o077 != 0 {
            warn!(path = %token_file.display(), "the enrollment token is readable by other users; make it mode 0600");
        }
    }
}

fn forget_token(token_file: &Path) {
    match std::fs::remove_file(token_file) {
        Ok(()) => info!(path = %token_file.display(), "enrollment token deleted"),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            warn!(path = %token_file.display(), "cannot delete the used enrollment token ({e}); delete it by hand")
        }
    }
}

pub async fn enroll(token: &EnrollToken, state: &StateDir, host: &crate::HostInfo) -> Result<Identity> {
    let key = rcgen::KeyPair::generate().context("generating the agent key")?;
    let mut params = rcgen::CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(rcgen::DnType::CommonName, host.hostname.as_str());
    let csr = params.serialize_request(&key).context("creating the certificate request")?;

    let addr = crate::link::resolve(&token.server).await?;
    let client = lifeline_net::tls::quic_client(ServerTrust::Fingerprint(token.ca_fingerprint), None)?;
    let endpoint = crate::link::endpoint(addr)?;
    let connecting = endpoint.connect_with(client, addr, SERVER_NAME).context("starting the connection")?;
    let conn = tokio::time::timeout(CONNECT_TIMEOUT, connecting)
        .await
        .map_err(|_| anyhow!("{} did not answer in {} s (is the server up?)", token.server, CONNECT_TIMEOUT.as_secs()))?
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
