//! The deployment's own certificate authority: created on first start, it signs the server's certificate and every
//! agent's. Agents trust only this CA, and the server accepts only client certificates it issued.

use std::path::Path;

use anyhow::{Context, Result, anyhow};
use lifeline_net::tls::{Identity, fingerprint, write_private};
use lifeline_shared::wire::SERVER_NAME;
use rcgen::{
    BasicConstraints, CertificateParams, CertificateSigningRequestParams, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose, SerialNumber,
};
use rustls_pki_types::{CertificateDer, CertificateSigningRequestDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use time::{Duration, OffsetDateTime};

/// Agent certificates are short-lived so that a stolen one ages out; renewal over the mTLS link is on the roadmap.
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
}

impl Pki {
    /// Loads the CA from `dir`, creating it on first use, and issues a fresh server certificate for `names`.
    pub fn load_or_create(dir: &Path, names: &[String]) -> Result<Pki> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let (cert_path, key_path) = (dir.join("ca.pem"), dir.join("ca.key"));
        let (ca_der, ca_key) =
            if key_path.exists() { load_ca(&cert_path, &key_path)? } else { create_ca(&cert_path, &key_path)? };
        let server = issue_server(&ca_der, &ca_key, names)?;
        Ok(Pki { ca_der, ca_key, server, reset_key: reset_key(&dir.join("reset.key"))? })
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

    /// Makes a key and a certificate for a simulated agent of a load test, returned as PEM (certificate, key) with
    /// the certificate's fingerprint. Unlike enrollment, the key is made here rather than on the agent's machine.
    pub fn issue_simulated_agent(&self, agent_id: &str) -> Result<(String, String, [u8; 32])> {
        let key = KeyPair::generate().context("generating an agent key")?;
        let params = leaf_params(agent_id, AGENT_CERT_DAYS, ExtendedKeyUsagePurpose::ClientAuth, Vec::new())?;
        let cert =
            params.signed_by(&key, &issuer(&self.ca_der, &self.ca_key)?).context("signing an agent certificate")?;
        Ok((cert.pem(), key.serialize_pem(), fingerprint(cert.der())))
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

fn reset_key(path: &Path) -> Result<[u8; 32]> {
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
