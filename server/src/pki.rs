//! The deployment's own certificate authority: created on first start, it signs the server's certificate and every
//! agent's. Agents trust only this CA, and the server accepts only client certificates it issued.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result, anyhow};
use lifeline_net::tls::{Identity, fingerprint, write_private};
use lifeline_shared::wire::SERVER_NAME;
use rcgen::{
    BasicConstraints, CertificateParams, CertificateSigningRequestParams, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose, SerialNumber,
};
use rustls_pki_types::{CertificateDer, CertificateSigningRequestDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use time::{Duration, OffsetDateTime};

/// Agent certificates are short-lived so that a stolen one ages out; a connected agent gets a new one for its own
/// key when two thirds of that time have passed ([`Lifetime::renew_at`]).
pub const AGENT_CERT_DAYS: i64 = 90;
const SERVER_CERT_DAYS: i64 = 365;
const CA_YEARS: i64 = 10;

pub struct Pki {
    pub ca_der: CertificateDer<'static>,
    ca_key: KeyPair,
    /// The server's certificate and the CA after it, so an unenrolled agent can find the CA its token pins.
    pub server: Identity,
    /// Kept across restarts so that a restarted server can send QUIC stateless resets that agents still recognise:
    /// they learn at once that their old connection is gone instead of waiting for an idle timeout.
    pub reset_key: [u8; 32],
    pub tickets: Arc<SessionTickets>,
}

impl Pki {
    /// Loads the CA from `dir`, creating it on first use, and issues a fresh server certificate for `names`.
    pub fn load_or_create(dir: &Path, names: &[String]) -> Result<Pki> {
        lifeline_net::tls::private_dir(dir).with_context(|| format!("creating {}", dir.display()))?;
        let (cert_path, key_path) = (dir.join("ca.pem"), dir.join("ca.key"));
        let (ca_der, ca_key) =
            if key_path.exists() { load_ca(&cert_path, &key_path)? } else { create_ca(&cert_path, &key_path)? };
        let server = issue_server(&ca_der, &ca_key, names)?;
        let reset_key = secret_key(&dir.join("reset.key"))?;
        let tickets = Arc::new(SessionTickets::new(&secret_key(&dir.join("ticket.key"))?, &fingerprint(&ca_der)));
        Ok(Pki { ca_der, ca_key, server, reset_key, tickets })
    }

    /// Hex SHA-256 of the CA certificate: what tokens pin and what an admin can compare by eye.
    pub fn ca_fingerprint(&self) -> [u8; 32] {
        fingerprint(&self.ca_der)
    }

    /// Signs an agent's CSR. Only the public key is taken from the request: the name, lifetime and usages are ours,
    /// so an agent cannot ask for a server or CA certificate.
    pub fn sign_agent(&self, csr_der: &[u8], agent_id: &str) -> Result<CertificateDer<'static>> {
        let csr = CertificateSigningRequestParams::from_der(&CertificateSigningRequestDer::from(csr_der))
            .map_err(|e| anyhow!("certificate request is invalid: {e}"))?;
        let params = leaf_params(agent_id, AGENT_CERT_DAYS, ExtendedKeyUsagePurpose::ClientAuth, Vec::new())?;
        let cert = params
            .signed_by(&csr.public_key, &issuer(&self.ca_der, &self.ca_key)?)
            .context("signing the agent certificate")?;
        Ok(cert.der().clone())
    }

    /// A new certificate for the key of one we issued. Nothing is asked of the agent: the key it proves it holds on
    /// every connection is the one certified again, so its key file never changes and cannot fall out of step with
    /// its certificate file.
    pub fn renew_agent(&self, leaf: &CertificateDer<'_>, agent_id: &str) -> Result<CertificateDer<'static>> {
        let (_, cert) =
            x509_parser::parse_x509_certificate(leaf).map_err(|e| anyhow!("unreadable certificate: {e}"))?;
        let key = rcgen::SubjectPublicKeyInfo::from_der(cert.public_key().raw)
            .map_err(|e| anyhow!("unusable public key: {e}"))?;
        let params = leaf_params(agent_id, AGENT_CERT_DAYS, ExtendedKeyUsagePurpose::ClientAuth, Vec::new())?;
        let cert = params.signed_by(&key, &issuer(&self.ca_der, &self.ca_key)?).context("signing the renewal")?;
        Ok(cert.der().clone())
    }

    /// Makes a key and a certificate for a simulated agent of a load test, returned as PEM (certificate, key) with
    /// the certificate's fingerprint. Unlike enrollment, the key is made here rather than on the agent's machine.
    pub fn issue_simulated_agent(&self, agent_id: &str) -> Result<(String, String, [u8; 32])> {
        let key = KeyPair::generate().context("generating an agent key")?;
        let params = leaf_params(agent_id, AGENT_CERT_DAYS, ExtendedKeyUsagePurpose::ClientAuth, Vec::new())?;
        let cert =
            params.signed_by(&key, &issuer(&self.ca_der, &self.ca_key)?).context("signing an agent certificate")?;
        Ok((cert.pem(), key.serialize_pem(), fingerprint(cert.der())))
    }

    /// Signs an audit checkpoint's fields with the CA's key ([`CaKey`] says why this key).
    pub fn sign_checkpoint(&self, fields: &[u8]) -> Result<Vec<u8>> {
        rcgen::SigningKey::sign(&self.ca_key, &checkpoint_message(fields)).context("signing with the CA key")
    }
}

/// Put before what is signed for a checkpoint. Text, never DER: what the CA signs for a checkpoint can thus never
/// be taken for a certificate, nor a certificate's signature pass as a checkpoint's.
const CHECKPOINT_LABEL: &[u8] = b"lifeline audit checkpoint v1\n";

fn checkpoint_message(fields: &[u8]) -> Vec<u8> {
    [CHECKPOINT_LABEL, fields].concat()
}

/// The CA's public key, which checks audit checkpoints.
///
/// Checkpoints are signed with the CA's own key rather than a key of their own. Whoever checks them then needs only
/// the CA certificate, which every technician and auditor already holds (the CLI's `--ca`) and every enrollment token
/// pins by fingerprint: there is no second key to hand out, back up or rotate, and a forger needs the very key that
/// already guards every agent's identity. A restored data directory keeps its CA, so old checkpoints still verify.
/// What the CA signs for a checkpoint starts with [`CHECKPOINT_LABEL`], so the two uses of the key stay apart.
#[derive(Debug, Clone)]
pub struct CaKey {
    fingerprint: [u8; 32],
    /// The uncompressed P-256 point: [`Pki`] makes only ECDSA P-256 CAs (rcgen's default key).
    point: Vec<u8>,
}

impl CaKey {
    pub fn of(ca: &CertificateDer<'_>) -> Result<CaKey> {
        let (_, cert) = x509_parser::parse_x509_certificate(ca).map_err(|e| anyhow!("unreadable certificate: {e}"))?;
        Ok(CaKey { fingerprint: fingerprint(ca), point: cert.public_key().subject_public_key.data.to_vec() })
    }

    pub fn from_pem(text: &str) -> Result<CaKey> {
        CaKey::of(&pem_der(text)?)
    }

    /// SHA-256 of the CA certificate, as [`Pki::ca_fingerprint`].
    pub fn fingerprint(&self) -> [u8; 32] {
        self.fingerprint
    }

    pub fn verifies_checkpoint(&self, fields: &[u8], signature: &[u8]) -> bool {
        ring::signature::UnparsedPublicKey::new(&ring::signature::ECDSA_P256_SHA256_ASN1, &self.point)
            .verify(&checkpoint_message(fields), signature)
            .is_ok()
    }
}

/// A certificate's validity period in Unix seconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Lifetime {
    pub not_before: i64,
    pub not_after: i64,
}

impl Lifetime {
    pub fn of(cert: &CertificateDer<'_>) -> Result<Lifetime> {
        let (_, cert) =
            x509_parser::parse_x509_certificate(cert).map_err(|e| anyhow!("unreadable certificate: {e}"))?;
        let validity = cert.validity();
        Ok(Lifetime { not_before: validity.not_before.timestamp(), not_after: validity.not_after.timestamp() })
    }

    pub fn covers(&self, unix_secs: i64) -> bool {
        (self.not_before..=self.not_after).contains(&unix_secs)
    }

    /// Two thirds through: the last third (30 days of 90) lets an agent that was away for weeks still come back
    /// with a working certificate and renew it.
    pub fn renew_at(&self) -> i64 {
        self.not_before + (self.not_after - self.not_before) * 2 / 3
    }
}

fn issuer<'a>(ca_der: &CertificateDer<'_>, ca_key: &'a KeyPair) -> Result<Issuer<'static, &'a KeyPair>> {
    Issuer::from_ca_cert_der(ca_der, ca_key).context("loading the CA as issuer")
}

fn leaf_params(
    common_name: &str,
    days: i64,
    usage: ExtendedKeyUsagePurpose,
    names: Vec<String>,
) -> Result<CertificateParams> {
    let mut params = CertificateParams::new(names).context("certificate names")?;
    params.distinguished_name = name(common_name);
    params.serial_number = Some(serial());
    let now = OffsetDateTime::now_utc();
    params.not_before = now - Duration::minutes(5);
    params.not_after = now + Duration::days(days);
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![usage];
    Ok(params)
}

fn issue_server(ca_der: &CertificateDer<'static>, ca_key: &KeyPair, names: &[String]) -> Result<Identity> {
    let mut all = vec![SERVER_NAME.to_owned(), "localhost".into(), "127.0.0.1".into(), "::1".into()];
    all.extend(names.iter().filter(|n| !all.contains(n)).cloned().collect::<Vec<_>>());
    let params = leaf_params(SERVER_NAME, SERVER_CERT_DAYS, ExtendedKeyUsagePurpose::ServerAuth, all)?;
    let key = KeyPair::generate().context("generating the server key")?;
    let cert = params.signed_by(&key, &issuer(ca_der, ca_key)?).context("signing the server certificate")?;
    Ok(Identity {
        chain: vec![cert.der().clone(), ca_der.clone()],
        key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
    })
}

/// A 32-byte key kept in `path`, made on first use.
fn secret_key(path: &Path) -> Result<[u8; 32]> {
    if let Ok(bytes) = std::fs::read(path) {
        return <[u8; 32]>::try_from(bytes.as_slice())
            .map_err(|_| anyhow!("{} is not a 32-byte key; delete it to make a new one", path.display()));
    }
    let mut key = [0u8; 32];
    rand::Rng::fill(&mut rand::rng(), &mut key);
    write_private(path, &key).with_context(|| format!("writing {}", path.display()))?;
    Ok(key)
}

fn create_ca(cert_path: &Path, key_path: &Path) -> Result<(CertificateDer<'static>, KeyPair)> {
    let key = KeyPair::generate().context("generating the CA key")?;
    let mut params = CertificateParams::default();
    params.distinguished_name = name("Lifeline CA");
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.serial_number = Some(serial());
    let now = OffsetDateTime::now_utc();
    params.not_before = now - Duration::minutes(5);
    params.not_after = now + Duration::days(365 * CA_YEARS);
    let cert = params.self_signed(&key).context("self-signing the CA")?;
    write_private(key_path, key.serialize_pem().as_bytes())
        .with_context(|| format!("writing {}", key_path.display()))?;
    std::fs::write(cert_path, cert.pem()).with_context(|| format!("writing {}", cert_path.display()))?;
    tracing::info!(path = %cert_path.display(), "created the Lifeline certificate authority");
    Ok((cert.der().clone(), key))
}

fn load_ca(cert_path: &Path, key_path: &Path) -> Result<(CertificateDer<'static>, KeyPair)> {
    let key_pem = std::fs::read_to_string(key_path).with_context(|| format!("reading {}", key_path.display()))?;
    let key = KeyPair::from_pem(&key_pem).with_context(|| format!("parsing {}", key_path.display()))?;
    let cert_pem = std::fs::read_to_string(cert_path).with_context(|| format!("reading {}", cert_path.display()))?;
    let der = pem_der(&cert_pem).with_context(|| format!("parsing {}", cert_path.display()))?;
    Ok((der, key))
}

/// How long a session ticket resumes: the longest TLS 1.3 allows, because agents stay connected for days and the
/// ticket they got when they connected is the one they resume with after a restart.
const TICKET_DAYS: u32 = 7;
/// Tickets carry the agent's certificate chain and a few secrets: well under this. Anything longer is not ours.
const MAX_TICKET: usize = 8 * 1024;
const NONCE: usize = 12;

/// Seals the QUIC listener's TLS session tickets under a key kept across restarts, so that the agents of a restarted
/// server resume their sessions: a resumed handshake skips the certificate signatures and chain checks on both ends,
/// most of what a reconnect storm costs (BENCHMARKS.md). A ticket carries the agent's certificate chain, so this
/// key could mint an agent's identity and is kept like the CA key; revocation is unaffected, because the collector
/// checks it on every connection, resumed or not.
///
/// rustls leaves a ticket's lifetime to whoever seals it: each day's tickets are sealed under that day's key,
/// derived from the stored one and the CA's fingerprint, and refused once older than [`TICKET_DAYS`]; a new CA
/// thus ends every ticket sealed under the old one, whose chains it never signed. A ticket is the day (4 bytes,
/// big-endian, authenticated), a random nonce, then AES-256-GCM ciphertext and tag.
#[derive(Debug)]
pub struct SessionTickets {
    master: ring::hmac::Key,
    ca: [u8; 32],
    rng: ring::rand::SystemRandom,
}

impl SessionTickets {
    fn new(key: &[u8; 32], ca: &[u8; 32]) -> SessionTickets {
        SessionTickets {
            master: ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key),
            ca: *ca,
            rng: ring::rand::SystemRandom::new(),
        }
    }

    fn day_key(&self, day: u32) -> Option<ring::aead::LessSafeKey> {
        let label = [&b"lifeline session tickets"[..], &self.ca, &day.to_be_bytes()].concat();
        let tag = ring::hmac::sign(&self.master, &label);
        let key = ring::aead::UnboundKey::new(&ring::aead::AES_256_GCM, tag.as_ref()).ok()?;
        Some(ring::aead::LessSafeKey::new(key))
    }

    fn seal(&self, day: u32, plain: &[u8]) -> Option<Vec<u8>> {
        let mut nonce = [0u8; NONCE];
        ring::rand::SecureRandom::fill(&self.rng, &mut nonce).ok()?;
        let header = day.to_be_bytes();
        let mut body = plain.to_vec();
        let tag = self.day_key(day)?.seal_in_place_separate_tag(
            ring::aead::Nonce::assume_unique_for_key(nonce),
            ring::aead::Aad::from(header),
            &mut body,
        );
        Some([&header[..], &nonce, &body, tag.ok()?.as_ref()].concat())
    }

    fn open(&self, today: u32, ticket: &[u8]) -> Option<Vec<u8>> {
        if ticket.len() > MAX_TICKET {
            return None;
        }
        let (header, rest) = ticket.split_first_chunk::<4>()?;
        let (nonce, sealed) = rest.split_first_chunk::<NONCE>()?;
        let day = u32::from_be_bytes(*header);
        if day > today || today - day > TICKET_DAYS {
            return None;
        }
        let mut body = sealed.to_vec();
        let nonce = ring::aead::Nonce::assume_unique_for_key(*nonce);
        let plain = self.day_key(day)?.open_in_place(nonce, ring::aead::Aad::from(*header), &mut body).ok()?;
        let len = plain.len();
        body.truncate(len);
        Some(body)
    }
}

fn today() -> u32 {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    u32::try_from(secs / 86_400).unwrap_or(u32::MAX)
}

impl rustls::server::ProducesTickets for SessionTickets {
    fn enabled(&self) -> bool {
        true
    }

    fn lifetime(&self) -> u32 {
        TICKET_DAYS * 86_400
    }

    fn encrypt(&self, plain: &[u8]) -> Option<Vec<u8>> {
        self.seal(today(), plain)
    }

    fn decrypt(&self, ticket: &[u8]) -> Option<Vec<u8>> {
        self.open(today(), ticket)
    }
}

fn name(common_name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common_name);
    dn
}

fn serial() -> SerialNumber {
    let mut bytes = [0u8; 16];
    rand::Rng::fill(&mut rand::rng(), &mut bytes);
    bytes[0] &= 0x7f;
    SerialNumber::from_slice(&bytes)
}

fn pem_der(text: &str) -> Result<CertificateDer<'static>> {
    use rustls_pki_types::pem::PemObject;
    CertificateDer::from_pem_slice(text.as_bytes()).map_err(|e| anyhow!("not a PEM certificate: {e}"))
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use lifeline_net::tls::ServerTrust;
    use lifeline_shared::wire::ALPN;
    use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
    use rustls::{DigitallySignedStruct, SignatureScheme};
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{ServerName, UnixTime};

    use super::*;

    #[test]
    fn only_this_ca_signing_these_exact_fields_makes_a_checkpoint_verify() {
        let (ours, theirs) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let pki = Pki::load_or_create(ours.path(), &[]).unwrap();
        let other = Pki::load_or_create(theirs.path(), &[]).unwrap();
        let key = CaKey::from_pem(&std::fs::read_to_string(ours.path().join("ca.pem")).unwrap()).unwrap();
        assert_eq!(key.fingerprint(), pki.ca_fingerprint());

        let fields = b"seq=16 hash=ab";
        let sig = pki.sign_checkpoint(fields).unwrap();
        assert!(key.verifies_checkpoint(fields, &sig));
        assert!(!key.verifies_checkpoint(b"seq=15 hash=ab", &sig), "other fields");
        assert!(!key.verifies_checkpoint(fields, &other.sign_checkpoint(fields).unwrap()), "another CA's signature");
        for cut in [0, 1, sig.len() - 1] {
            assert!(!key.verifies_checkpoint(fields, &sig[..cut]), "signature cut to {cut} bytes");
        }
        let mut flipped = sig.clone();
        flipped[sig.len() / 2] ^= 1;
        assert!(!key.verifies_checkpoint(fields, &flipped), "a flipped bit");
        // The label keeps a checkpoint signature apart from a plain signature of the same bytes by the same key.
        let bare = rcgen::SigningKey::sign(&pki.ca_key, fields).unwrap();
        assert!(!key.verifies_checkpoint(fields, &bare), "a signature made without the label");
    }

    #[test]
    fn a_ticket_opens_only_whole_with_its_key_and_within_its_days() {
        let tickets = SessionTickets::new(&[7; 32], &[1; 32]);
        let plain = b"session state".to_vec();
        let day = 20_000;
        let sealed = tickets.seal(day, &plain).unwrap();
        assert_eq!(tickets.open(day, &sealed), Some(plain.clone()));
        assert_eq!(tickets.open(day + TICKET_DAYS, &sealed), Some(plain.clone()));
        assert_eq!(tickets.open(day + TICKET_DAYS + 1, &sealed), None, "too old");
        assert_eq!(tickets.open(day - 1, &sealed), None, "from a day still to come");
        assert_eq!(SessionTickets::new(&[8; 32], &[1; 32]).open(day, &sealed), None, "sealed under another key");
        assert_eq!(SessionTickets::new(&[7; 32], &[2; 32]).open(day, &sealed), None, "sealed for another CA");
        assert_ne!(tickets.seal(day, &plain), Some(sealed.clone()), "a nonce is never reused");
        for len in 0..sealed.len() {
            assert_eq!(tickets.open(day, &sealed[..len]), None, "cut to {len} bytes");
        }
        // Opened the day after, so that a flipped bit of the day itself still names a day in the window.
        for bit in 0..sealed.len() * 8 {
            let mut bad = sealed.clone();
            bad[bit / 8] ^= 1 << (bit % 8);
            assert_eq!(tickets.open(day + 1, &bad), None, "bit {bit} flipped");
        }
        assert_eq!(tickets.open(day, &[sealed.as_slice(), &[0; MAX_TICKET]].concat()), None, "oversized");
    }

    #[test]
    fn a_renewal_certifies_the_same_key_for_a_whole_new_lifetime() {
        let dir = tempfile::tempdir().unwrap();
        let pki = Pki::load_or_create(dir.path(), &[]).unwrap();
        let (cert, key, _) = pki.issue_simulated_agent("ag-renew").unwrap();
        let old = CertificateDer::from_pem_slice(cert.as_bytes()).unwrap();
        let new = pki.renew_agent(&old, "ag-renew").unwrap();
        assert_ne!(fingerprint(&old), fingerprint(&new));
        let parse = |der: &CertificateDer<'_>| {
            let (_, cert) = x509_parser::parse_x509_certificate(der).unwrap();
            let name = cert.subject().iter_common_name().next().unwrap().as_str().unwrap().to_owned();
            (name, cert.public_key().raw.to_vec(), cert.issuer().to_string())
        };
        assert_eq!(parse(&old), parse(&new), "same name, key and issuer");
        let now = OffsetDateTime::now_utc().unix_timestamp();
        let life = Lifetime::of(&new).unwrap();
        assert!(life.covers(now));
        assert!((life.not_after - now - AGENT_CERT_DAYS * 86_400).abs() < 60, "{life:?}");
        // The agent's side: its TLS configuration takes the pair only if the certificate is for its key.
        let fits = |key: &str| {
            let identity =
                Identity { chain: vec![new.clone()], key: PrivateKeyDer::from_pem_slice(key.as_bytes()).unwrap() };
            lifeline_net::tls::quic_client(ServerTrust::Ca(pki.ca_der.clone()), Some(identity)).is_ok()
        };
        assert!(fits(&key));
        let (_, other_key, _) = pki.issue_simulated_agent("ag-other").unwrap();
        assert!(!fits(&other_key));
        assert!(pki.renew_agent(&CertificateDer::from(vec![0x30, 0x03, 1, 2, 3]), "ag-renew").is_err());
    }

    #[test]
    fn a_certificate_is_renewed_two_thirds_through_its_life() {
        let life = Lifetime { not_before: 1_000, not_after: 1_000 + 90 * 86_400 };
        assert_eq!(life.renew_at(), 1_000 + 60 * 86_400);
        assert!(life.covers(1_000) && life.covers(life.not_after));
        assert!(!life.covers(999) && !life.covers(life.not_after + 1));
    }

    /// Counts the full handshakes a client makes: a resumed one verifies no server certificate.
    #[derive(Debug)]
    struct Counting {
        inner: Arc<rustls::client::WebPkiServerVerifier>,
        full: AtomicUsize,
    }

    impl ServerCertVerifier for Counting {
        fn verify_server_cert(
            &self,
            end_entity: &CertificateDer<'_>,
            intermediates: &[CertificateDer<'_>],
            server_name: &ServerName<'_>,
            ocsp: &[u8],
            now: UnixTime,
        ) -> Result<ServerCertVerified, rustls::Error> {
            self.full.fetch_add(1, Ordering::SeqCst);
            self.inner.verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
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

    /// A listener configured as the server's, answering each connection's first stream with the fingerprint of
    /// the client certificate it sees.
    fn listen(pki: &Pki) -> (quinn::Endpoint, SocketAddr) {
        let config = lifeline_net::tls::quic_server(pki.server.clone(), &pki.ca_der, pki.tickets.clone()).unwrap();
        let endpoint = quinn::Endpoint::server(config, "127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = endpoint.local_addr().unwrap();
        let accepting = endpoint.clone();
        tokio::spawn(async move {
            while let Some(incoming) = accepting.accept().await {
                tokio::spawn(async move {
                    let Ok(conn) = incoming.await else { return };
                    let leaf = lifeline_net::tls::peer_leaf(&conn).map(|l| fingerprint(&l).to_vec());
                    if let Ok((mut send, _)) = conn.accept_bi().await {
                        let _ = send.write_all(&leaf.unwrap_or_default()).await;
                        let _ = send.finish();
                    }
                    conn.closed().await;
                });
            }
        });
        (endpoint, addr)
    }

    /// Connects, and returns the fingerprint the server saw for this client.
    async fn fingerprint_seen(client: &quinn::Endpoint, server: SocketAddr) -> Vec<u8> {
        let conn = client.connect(server, SERVER_NAME).unwrap().await.unwrap();
        let (mut send, mut recv) = conn.open_bi().await.unwrap();
        send.write_all(b"?").await.unwrap();
        send.finish().unwrap();
        let seen = recv.read_to_end(64).await.unwrap();
        conn.close(0u8.into(), b"");
        seen
    }

    #[tokio::test]
    async fn agents_resume_their_sessions_across_a_restart_and_are_still_known_by_their_certificate() {
        let dir = tempfile::tempdir().unwrap();
        let pki = Pki::load_or_create(dir.path(), &[]).unwrap();
        let (cert, key, fp) = pki.issue_simulated_agent("ag-resume").unwrap();
        let roots = Arc::new({
            let mut roots = rustls::RootCertStore::empty();
            roots.add(pki.ca_der.clone()).unwrap();
            roots
        });
        let provider = lifeline_net::tls::provider();
        let verifier = Arc::new(Counting {
            inner: rustls::client::WebPkiServerVerifier::builder_with_provider(roots, provider.clone())
                .build()
                .unwrap(),
            full: AtomicUsize::new(0),
        });
        let mut tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13])
            .unwrap()
            .dangerous()
            .with_custom_certificate_verifier(verifier.clone())
            .with_client_auth_cert(
                vec![CertificateDer::from_pem_slice(cert.as_bytes()).unwrap()],
                PrivateKeyDer::from_pem_slice(key.as_bytes()).unwrap(),
            )
            .unwrap();
        tls.alpn_protocols = vec![ALPN.to_vec()];
        let mut client = quinn::Endpoint::client("127.0.0.1:0".parse().unwrap()).unwrap();
        client.set_default_client_config(quinn::ClientConfig::new(Arc::new(
            quinn::crypto::rustls::QuicClientConfig::try_from(tls).unwrap(),
        )));

        let (first, addr) = listen(&pki);
        assert_eq!(fingerprint_seen(&client, addr).await, fp);
        assert_eq!(verifier.full.load(Ordering::SeqCst), 1);
        assert_eq!(fingerprint_seen(&client, addr).await, fp, "the resumed session still names the agent");
        assert_eq!(verifier.full.load(Ordering::SeqCst), 1, "the second connection resumed");
        first.close(0u8.into(), b"");

        // A restart: a new server certificate, the same ticket key on disk.
        let (second, addr) = listen(&Pki::load_or_create(dir.path(), &[]).unwrap());
        assert_eq!(fingerprint_seen(&client, addr).await, fp);
        assert_eq!(verifier.full.load(Ordering::SeqCst), 1, "resumed with the ticket of the server before");
        second.close(0u8.into(), b"");

        // A ticket this server cannot open costs a full handshake, nothing more.
        std::fs::remove_file(dir.path().join("ticket.key")).unwrap();
        let (third, addr) = listen(&Pki::load_or_create(dir.path(), &[]).unwrap());
        assert_eq!(fingerprint_seen(&client, addr).await, fp);
        assert_eq!(verifier.full.load(Ordering::SeqCst), 2, "a full handshake after the key changed");
        third.close(0u8.into(), b"");

        // A new CA, the ticket key kept: the ticket from just now is not honoured, so the client verifies the new
        // server certificate, which its old CA never signed, and the connection fails.
        std::fs::remove_file(dir.path().join("ca.key")).unwrap();
        let (_fourth, addr) = listen(&Pki::load_or_create(dir.path(), &[]).unwrap());
        let refused = client.connect(addr, SERVER_NAME).unwrap().await;
        assert!(refused.is_err(), "a session sealed under the old CA resumed");
        assert_eq!(verifier.full.load(Ordering::SeqCst), 3, "the new server's certificate was checked");
    }
}
