//! The file `lifeline-server bulk-enroll` writes: the CA certificate, then each agent's certificate and PKCS#8 key,
//! all in PEM.

use anyhow::{Context, Result, bail};
use lifeline_net::tls::Identity;
use rustls_pki_types::pem::{PemObject, SectionKind};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

pub struct Identities {
    pub ca: CertificateDer<'static>,
    pub agents: Vec<Identity>,
}

pub fn parse(pem: &[u8]) -> Result<Identities> {
    let mut sections = <(SectionKind, Vec<u8>)>::pem_slice_iter(pem);
    let ca = match sections.next() {
        Some(Ok((SectionKind::Certificate, der))) => CertificateDer::from(der),
        _ => bail!("the file does not start with the CA certificate; write it with `lifeline-server bulk-enroll`"),
    };
    let mut agents = Vec::new();
    let mut cert = None;
    for (i, section) in sections.enumerate() {
        let section = section.with_context(|| format!("PEM section {} after the CA", i + 1))?;
        match (section, cert.take()) {
            ((SectionKind::Certificate, der), None) => cert = Some(CertificateDer::from(der)),
            ((SectionKind::PrivateKey, der), Some(leaf)) => {
                agents.push(Identity { chain: vec![leaf], key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(der)) })
            }
            ((kind, _), _) => bail!("PEM section {} after the CA is out of order ({kind:?})", i + 1),
        }
    }
    if cert.is_some() {
        bail!("the last agent certificate has no key");
    }
    Ok(Identities { ca, agents })
}

#[cfg(test)]
mod tests {
    use super::*;

    const CERT: &str = "-----BEGIN CERTIFICATE-----\nAQID\n-----END CERTIFICATE-----\n";
    const KEY: &str = "-----BEGIN PRIVATE KEY-----\nBAUG\n-----END PRIVATE KEY-----\n";

    fn check(text: &str, expected: Result<usize, &str>) {
        match (parse(text.as_bytes()), expected) {
            (Ok(ids), Ok(n)) => assert_eq!(ids.agents.len(), n, "{text}"),
            (Err(e), Err(needle)) => assert!(format!("{e:#}").contains(needle), "{e:#}"),
            (Ok(ids), Err(needle)) => panic!("parsed {} agents, expected an error with {needle:?}", ids.agents.len()),
            (Err(e), Ok(n)) => panic!("expected {n} agents: {e:#}"),
        }
    }

    #[test]
    fn reads_pairs_after_the_ca() {
        check(CERT, Ok(0));
        check(&[CERT, CERT, KEY, CERT, KEY].concat(), Ok(2));
        check("", Err("does not start with the CA"));
        check(&[KEY, CERT, KEY].concat(), Err("does not start with the CA"));
        check(&[CERT, KEY].concat(), Err("out of order"));
        check(&[CERT, CERT, CERT].concat(), Err("out of order"));
        check(&[CERT, CERT, KEY, CERT].concat(), Err("has no key"));
    }
}
