//! The help desk's settings from server.toml that its rules read: the priority matrix and the resolution codes.

use super::priority::Matrix;

#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    pub matrix: Matrix,
    /// What a technician picks from when resolving; the statistics count by it.
    pub resolution_codes: Vec<String>,
}

/// `user-instructed` is "the cause was the user's, and they were shown how": the education report counts it.
pub const DEFAULT_CODES: [&str; 9] = [
    "fixed-remotely",
    "fixed-on-site",
    "user-instructed",
    "hardware-replaced",
    "software-reinstalled",
    "workaround",
    "no-fault-found",
    "duplicate",
    "referred-elsewhere",
];

impl Default for Policy {
    fn default() -> Self {
        Policy { matrix: Matrix::default(), resolution_codes: DEFAULT_CODES.map(str::to_owned).to_vec() }
    }
}

impl Policy {
    /// A technician resolving names how, from the list.
    pub fn check_resolution(&self, code: Option<&str>) -> Result<(), String> {
        match code {
            Some(code) if self.resolution_codes.iter().any(|c| c == code) => Ok(()),
            Some(code) => Err(format!("unknown resolution code {code:?}; one of {}", self.resolution_codes.join(", "))),
            None => Err(format!("resolving needs a resolution code: one of {}", self.resolution_codes.join(", "))),
        }
    }
}

/// An address a mail can be sent to: `local@domain`, the domain of dot-separated labels, no spaces or controls.
/// Deliberately not all of RFC 5322 (quoted local parts, comments): what people type into a form.
pub fn valid_email(address: &str) -> bool {
    let Some((local, domain)) = address.rsplit_once('@') else { return false };
    let label_ok = |l: &str| {
        !l.is_empty() && l.len() <= 63 && l.chars().all(|c| c.is_alphanumeric() || c == '-') && !l.starts_with('-')
    };
    address.len() <= 254
        && !local.is_empty()
        && local.len() <= 64
        && local.chars().all(|c| c.is_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c))
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && domain.contains('.')
        && domain.split('.').all(label_ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        let cases = [
            ("ann@example.org", true),
            ("ann.smith+help@mail.example.co.uk", true),
            ("jörg@münchen.de", true),
            ("ann", false),
            ("ann@", false),
            ("@example.org", false),
            ("ann@example", false),
            ("ann smith@example.org", false),
            ("ann@exa mple.org", false),
            ("ann@@example.org", false),
            ("ann..b@example.org", false),
            ("ann@-example.org", false),
            ("ann@example..org", false),
            ("ann\n@example.org", false),
        ];
        for (address, ok) in cases {
            assert_eq!(valid_email(address), ok, "{address:?}");
        }
    }

    #[test]
    fn resolving_needs_a_known_code() {
        let p = Policy::default();
        assert_eq!(p.check_resolution(Some("user-instructed")), Ok(()));
        assert!(p.check_resolution(Some("magic")).unwrap_err().contains("fixed-remotely"));
        assert!(p.check_resolution(None).unwrap_err().starts_with("resolving needs"));
    }
}
