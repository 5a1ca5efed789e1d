//! The enrollment token an admin hands to a machine: the server address, the SHA-256 of the server's CA certificate
//! (so a fresh agent can tell the real server from an impostor before trusting it) and a one-time secret.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

const PREFIX: &str = "ll1.";
/// Longest token text accepted, so a pasted file of garbage is refused before it is decoded.
pub const MAX_TOKEN_LEN: usize = 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnrollToken {
    /// `host:port` the agent dials over QUIC.
    pub server: String,
    pub ca_fingerprint: [u8; 32],
    pub secret: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("not a Lifeline enrollment token: {0}")]
pub struct TokenError(&'static str);

impl EnrollToken {
    pub fn encode(&self) -> String {
        let fp: String = self.ca_fingerprint.iter().map(|b| format!("{b:02x}")).collect();
        let body = format!("{}\n{}\n{}", self.server, fp, self.secret);
        format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(body))
    }

    pub fn parse(text: &str) -> Result<EnrollToken, TokenError> {
        let text = text.trim();
        if text.len() > MAX_TOKEN_LEN {
            return Err(TokenError("too long"));
        }
        let body = text.strip_prefix(PREFIX).ok_or(TokenError("it does not start with ll1."))?;
        let bytes = URL_SAFE_NO_PAD.decode(body).map_err(|_| TokenError("it is not valid base64url"))?;
        let body = String::from_utf8(bytes).map_err(|_| TokenError("it is not text"))?;
        let mut parts = body.split('\n');
        let (Some(server), Some(fp), Some(secret), None) = (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError("it does not have three parts"));
        };
        if server.is_empty() || secret.len() < 16 {
            return Err(TokenError("server or secret is missing"));
        }
        Ok(EnrollToken { server: server.to_owned(), ca_fingerprint: parse_fingerprint(fp)?, secret: secret.to_owned() })
    }
}

fn parse_fingerprint(hex: &str) -> Result<[u8; 32], TokenError> {
    let bad = TokenError("the CA fingerprint is not 64 hex digits");
    if hex.len() != 64 || !hex.is_ascii() {
        return Err(bad);
    }
    // `from_str_radix` alone would take "+f" as 0x0f: two token texts must never mean the same token.
    if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(TokenError("the CA fingerprint is not hex"));
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte =
            u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).map_err(|_| TokenError("the CA fingerprint is not hex"))?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let t = EnrollToken { server: "[::1]:7443".into(), ca_fingerprint: [0xab; 32], secret: "s".repeat(32) };
        assert_eq!(EnrollToken::parse(&format!("  {}\n", t.encode())), Ok(t));
    }

    #[test]
    fn refusals() {
        let enc = |s: &str| format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(s));
        let fp = "ab".repeat(32);
        let secret = "x".repeat(20);
        let cases = [
            ("".to_string(), "it does not start with ll1."),
            ("ll1.***".to_string(), "it is not valid base64url"),
            (enc("a\nb"), "it does not have three parts"),
            (enc(&format!("h:1\n{fp}\n{secret}\nextra")), "it does not have three parts"),
            (enc(&format!("h:1\n{}\n{secret}", "ab".repeat(31))), "the CA fingerprint is not 64 hex digits"),
            (enc(&format!("h:1\n{}\n{secret}", "zz".repeat(32))), "the CA fingerprint is not hex"),
            (enc(&format!("h:1\n{}\n{secret}", "+f".repeat(32))), "the CA fingerprint is not hex"),
            (enc(&format!("\n{fp}\n{secret}")), "server or secret is missing"),
            (enc(&format!("h:1\n{fp}\nshort")), "server or secret is missing"),
            ("ll1.".to_string() + &"A".repeat(MAX_TOKEN_LEN), "too long"),
        ];
        for (text, why) in cases {
            assert_eq!(EnrollToken::parse(&text), Err(TokenError(why)), "{text}");
        }
    }
}
