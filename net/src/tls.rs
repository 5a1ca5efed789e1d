//! TLS for both ends: TLS 1.3 with the ring provider, the deployment's own CA as the only root, and pinning by
//! fingerprint for an agent that has not enrolled yet (the kubeadm join idea: the token carries the CA's hash).

use std::sync::Arc;
use std::time::Duration;

use lifeline_shared::wire::ALPN;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::server::WebPkiClientVerifier;
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use sha2::{Digest, Sha256};

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("tls: {0}")]
    Rustls(#[from] rustls::Error),
    #[error("certificate verifier: {0}")]
    Verifier(#[from] rustls::server::VerifierBuilderError),
    #[error("quic crypto: {0}")]
    Quic(String),
}

/// A certificate chain (leaf first) and its private key.
#[derive(Debug)]
pub struct Identity {
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
}

impl Clone for Identity {
    fn clone(&self) -> Self {
        Identity { chain: self.chain.clone(), key: self.key.clone_key() }
    }
}

/// How an agent decides that the server is ours.
#[derive(Debug, Clone)]
pub enum ServerTrust {
    /// Enrolled: the CA certificate stored at enrollment is the only root.
    Ca(CertificateDer<'static>),
    /// Not enrolled yet: accept the CA the server presents only if its SHA-256 matches the token's pin.
    Fingerprint([u8; 32]),
}

/// ring's provider with AES-128-GCM/SHA-256 preferred over AES-256-GCM/SHA-384: SHA-256 has CPU instructions on
/// current x86 and ARM, SHA-384 does not, and a reconnect storm is a few dozen key-schedule hashes per agent.
pub fn provider() -> Arc<CryptoProvider> {
    let mut provider = rustls::crypto::ring::default_provider();
    provider.cipher_suites.sort_by_key(|s| s.suite() != rustls::CipherSuite::TLS13_AES_128_GCM_SHA256);
    Arc::new(provider)
}

/// SHA-256 of a DER certificate, the form enrollment tokens carry and the server keys agents by.
pub fn fingerprint(der: &[u8]) -> [u8; 32] {
    Sha256::digest(der).into()
}

fn roots(ca: &CertificateDer<'_>) -> Result<Arc<RootCertStore>, TlsError> {
    let mut store = RootCertStore::empty();
    store.add(ca.clone().into_owned())?;
    Ok(Arc::new(store))
}

enum Side {
    Client,
    Server,
}

/// Bounds every connection: few concurrent streams (one-way ones only for live samples too big for a datagram), a small
/// datagram buffer, and an idle timeout that drops dead peers, so a hostile or broken agent costs a bounded amount of
/// memory. No path MTU discovery: its probes are padded packets that both ends build, encrypt, send and parse byte by
/// byte, several per connection, a visible part of a reconnect storm's cost, for a protocol whose messages are small
/// and whose snapshots travel well in 1,200-byte packets. Clients keep the link alive; the server sends no
/// segmentation-offload batches, because quinn keeps each connection's transmit buffer at the largest batch it ever
/// sent (13 KiB per idle agent after a lossy handshake, a quarter of the server's memory per connection) and what the
/// server sends is small anyway.
fn transport(side: Side) -> Arc<quinn::TransportConfig> {
    let mut t = quinn::TransportConfig::default();
    t.max_concurrent_bidi_streams(16u8.into())
        .max_concurrent_uni_streams(4u8.into())
        .stream_receive_window((2u32 * 1024 * 1024).into())
        .receive_window((4u32 * 1024 * 1024).into())
        .datagram_receive_buffer_size(Some(64 * 1024))
        .mtu_discovery_config(None);
    if let Ok(idle) = Duration::from_secs(45).try_into() {
        t.max_idle_timeout(Some(idle));
    }
    match side {
        Side::Client => t.keep_alive_interval(Some(Duration::from_secs(10))),
        Side::Server => t.enable_segmentation_offload(false),
    };
    Arc::new(t)
}

/// The server's TLS: its own chain, and client certificates optional but verified against our CA when present,
/// because enrollment happens on a connection that has none yet. The caller decides what a connection without one
/// may do.
pub fn server_tls(
    identity: Identity,
    client_ca: Option<&CertificateDer<'_>>,
    alpn: &[u8],
) -> Result<rustls::ServerConfig, TlsError> {
    let builder =
        rustls::ServerConfig::builder_with_provider(provider()).with_protocol_versions(&[&rustls::version::TLS13])?;
    let builder = match client_ca {
        Some(ca) => {
            let verifier =
                WebPkiClientVerifier::builder_with_provider(roots(ca)?, provider()).allow_unauthenticated().build()?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let mut config = builder.with_single_cert(identity.chain, identity.key)?;
    config.alpn_protocols = vec![alpn.to_vec()];
    Ok(config)
}

/// The agents' listener. `tickets` seals its session tickets; one per connection is enough, because an agent takes
/// its ticket out of its cache when it reconnects and is handed a new one.
pub fn quic_server(
    identity: Identity,
    client_ca: &CertificateDer<'_>,
    tickets: Arc<dyn rustls::server::ProducesTickets>,
) -> Result<quinn::ServerConfig, TlsError> {
    let mut tls = server_tls(identity, Some(client_ca), ALPN)?;
    tls.ticketer = tickets;
    tls.send_tls13_tickets = 1;
    let crypto = quinn::crypto::rustls::QuicServerConfig::try_from(tls).map_err(|e| TlsError::Quic(e.to_string()))?;
    let mut config = quinn::ServerConfig::with_crypto(Arc::new(crypto));
    config.transport_config(transport(Side::Server));
    Ok(config)
}

pub fn quic_client(trust: ServerTrust, identity: Option<Identity>) -> Result<quinn::ClientConfig, TlsError> {
    let builder =
        rustls::ClientConfig::builder_with_provider(provider()).with_protocol_versions(&[&rustls::version::TLS13])?;
    let builder = match trust {
        ServerTrust::Ca(ca) => builder.with_root_certificates(roots(&ca)?),
        ServerTrust::Fingerprint(pin) => {
            builder.dangerous().with_custom_certificate_verifier(Arc::new(PinnedCa { pin, provider: provider() }))
        }
    };
    let mut tls = match identity {
        Some(id) => builder.with_client_auth_cert(id.chain, id.key)?,
        None => builder.with_no_client_auth(),
    };
    tls.alpn_protocols = vec![ALPN.to_vec()];
    let crypto = quinn::crypto::rustls::QuicClientConfig::try_from(tls).map_err(|e| TlsError::Quic(e.to_string()))?;
    let mut config = quinn::ClientConfig::new(Arc::new(crypto));
    config.transport_config(transport(Side::Client));
    Ok(config)
}

/// Finds the CA among the certificates the server sent, checks its hash against the pin, then verifies the chain
/// normally with that CA as the only root: the pin replaces the trust store, not the verification.
#[derive(Debug)]
struct PinnedCa {
    pin: [u8; 32],
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for PinnedCa {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let ca = intermediates.iter().find(|c| fingerprint(c) == self.pin).ok_or_else(|| {
            rustls::Error::General("server's CA does not match the fingerprint in the enrollment token".into())
        })?;
        let verifier = rustls::client::WebPkiServerVerifier::builder_with_provider(
            roots(ca).map_err(|e| rustls::Error::General(e.to_string()))?,
            self.provider.clone(),
        )
        .build()
        .map_err(|e| rustls::Error::General(e.to_string()))?;
        verifier.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

/// The peer's leaf certificate on an established connection, if it presented one.
pub fn peer_leaf(conn: &quinn::Connection) -> Option<CertificateDer<'static>> {
    conn.peer_identity()?.downcast::<Vec<CertificateDer<'static>>>().ok()?.into_iter().next()
}

/// Makes `path` (and any missing parent) a directory only its owner can enter: data directories hold keys, password
/// and token hashes and every machine's snapshots. One that exists with looser bits is tightened, and said so.
pub fn private_dir(path: &std::path::Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(path)?;
        let mode = std::fs::metadata(path)?.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            tracing::warn!(path = %path.display(), was = format!("{mode:o}"), "made the directory private (0700)");
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700))?;
        }
        Ok(())
    }
    #[cfg(not(unix))]
    std::fs::create_dir_all(path)
}

/// Writes key material so that no other user can ever read it, not even for an instant: created 0600 under a
/// temporary name in the same directory, synced, then renamed over the target, and the directory synced so the
/// rename itself survives a power cut (an agent that lost its new identity would have to enroll again).
pub fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("secret");
    let tmp = dir.join(format!(".{name}.tmp{}", std::process::id()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)?;
    #[cfg(unix)]
    std::fs::File::open(dir)?.sync_all()?;
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn private_directories_are_made_owner_only_with_their_parents_and_a_looser_one_is_tightened() -> std::io::Result<()>
    {
        let root = tempfile::tempdir()?;
        let mode = |p: &std::path::Path| std::fs::metadata(p).map(|m| m.permissions().mode() & 0o777);
        let nested = root.path().join("data/server");
        super::private_dir(&nested)?;
        assert_eq!(mode(&nested)?, 0o700);
        assert_eq!(mode(&root.path().join("data"))?, 0o700);
        std::fs::set_permissions(&nested, std::fs::Permissions::from_mode(0o755))?;
        super::private_dir(&nested)?;
        assert_eq!(mode(&nested)?, 0o700);
        Ok(())
    }

    #[test]
    fn private_files_are_owner_only_replaced_whole_and_leave_no_temporary_behind() -> std::io::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("agent.key");
        super::write_private(&path, b"first")?;
        super::write_private(&path, b"second")?;
        assert_eq!(std::fs::read(&path)?, b"second");
        assert_eq!(std::fs::metadata(&path)?.permissions().mode() & 0o777, 0o600);
        let names: Vec<_> =
            std::fs::read_dir(dir.path())?.map(|e| e.map(|e| e.file_name())).collect::<Result<_, _>>()?;
        assert_eq!(names, ["agent.key"]);
        Ok(())
    }
}
