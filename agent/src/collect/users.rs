//! Who is logged in, from the utmp records login programs write.

pub(super) use imp::logged_in;

#[cfg(target_os = "linux")]
mod imp {
    /// glibc's `struct utmp` on every 64-bit Linux (and 32-bit ones with 64-bit time compat): the file is an array
    /// of these.
    const RECORD_LEN: usize = 384;
    /// `ut_type` value of an interactive login (the others are boot, run level, dead process, ...).
    const USER_PROCESS: i16 = 7;
    /// `ut_user`: NUL-padded, not necessarily NUL-terminated.
    const USER_OFFSET: usize = 44;
    const USER_LEN: usize = 32;
    /// `/var/run` is a symlink to `/run` on current systems but not on all older ones.
    const PATHS: [&str; 2] = ["/run/utmp", "/var/run/utmp"];

    pub(in crate::collect) fn logged_in(problems: &mut Vec<String>) -> Vec<String> {
        let mut error = None;
        for path in PATHS {
            match std::fs::read(path) {
                Ok(bytes) => return parse_utmp(&bytes),
                Err(e) => error = Some(e),
            }
        }
        problems.extend(error.map(|e| format!("logged-in users: cannot read {}: {e}", PATHS.join(" or "))));
        Vec::new()
    }

    /// Each name once, sorted; a trailing partial record (the file being written) is ignored.
    fn parse_utmp(bytes: &[u8]) -> Vec<String> {
        let mut users: Vec<String> = bytes
            .chunks_exact(RECORD_LEN)
            .filter(|r| i16::from_ne_bytes([r[0], r[1]]) == USER_PROCESS)
            .map(|r| {
                let field = &r[USER_OFFSET..USER_OFFSET + USER_LEN];
                let len = field.iter().position(|b| *b == 0).unwrap_or(USER_LEN);
                String::from_utf8_lossy(&field[..len]).into_owned()
            })
            .filter(|name| !name.is_empty())
            .collect();
        users.sort();
        users.dedup();
        users
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        fn record(ut_type: i16, user: &[u8]) -> Vec<u8> {
            let mut r = vec![0u8; RECORD_LEN];
            r[..2].copy_from_slice(&ut_type.to_ne_bytes());
            r[USER_OFFSET..USER_OFFSET + user.len()].copy_from_slice(user);
            // Garbage after the user field must not leak into the name.
            r[USER_OFFSET + USER_LEN] = b'X';
            r
        }

        #[test]
        fn utmp_records() {
            let long = [b'a'; USER_LEN];
            let cases: [(Vec<Vec<u8>>, &[&str]); 5] = [
                (vec![], &[]),
                (vec![record(2, b"reboot"), record(8, b"gone"), record(7, b"")], &[]),
                (
                    vec![record(7, b"zoe"), record(7, b"alice"), record(7, b"zoe"), record(6, b"LOGIN")],
                    &["alice", "zoe"],
                ),
                (vec![record(7, &long)], &[std::str::from_utf8(&long).unwrap_or_default()]),
                (vec![record(7, b"bob"), record(7, b"eve")[..100].to_vec()], &["bob"]),
            ];
            for (records, expected) in cases {
                assert_eq!(parse_utmp(&records.concat()), expected);
            }
        }
    }
}

#[cfg(not(target_os = "linux"))]
mod imp {
    pub(in crate::collect) fn logged_in(problems: &mut Vec<String>) -> Vec<String> {
        problems.push("logged-in users: not supported on this OS".to_owned());
        Vec::new()
    }
}
