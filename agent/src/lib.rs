//! The Lifeline agent: collects diagnostics, streams them to the server over QUIC, and carries the local user's
//! help requests.
//!
//! # Layout
//! - [`checks`]: the agent's gate (validation, policy, consent) and the native implementation of each check.
//! - [`consent`]: consent windows and the user's history of checks, kept on this machine.
//! - [`collect`]: one file per source of diagnostics, assembled into a snapshot; never spawns a program.
//! - [`config`]: the admin's policy file and the identity enrollment leaves in the state directory.
//! - [`enroll`]: key generation, CSR, and the first, fingerprint-pinned contact with the server.
//! - [`link`]: the mTLS QUIC client driving `lifeline_shared::session` (hello, heartbeats, reconnect); snapshots and
//!   uploads from the spool.
//! - [`spool`]: the crash-safe, bounded on-disk queue of everything not yet acknowledged by the server.
//! - [`local_api`]: the Unix socket through which local users ask for help and follow their tickets.
//! - `local_calls`: what the agent does for each of those requests, answering from local state or through the spool.
//! - [`tickets`]: the users' ticket threads as the server last pushed them, kept for offline reading.

pub mod checks;
pub mod collect;
pub mod config;
pub mod consent;
pub mod enroll;
pub mod link;
pub mod local_api;
mod local_calls;
pub mod spool;
pub mod tickets;

/// How this machine introduces itself, read once at start.
#[derive(Debug, Clone)]
pub struct HostInfo {
    pub hostname: String,
    pub os: String,
}

impl HostInfo {
    pub fn read() -> HostInfo {
        HostInfo {
            hostname: sysinfo::System::host_name().unwrap_or_else(|_| "unknown-host".into()),
            os: sysinfo::System::long_os_version().unwrap_or_else(|_| std::env::consts::OS.into()),
        }
    }
}

pub use lifeline_net::process::now_ms;

/// Milliseconds since 1970 as `YYYY-MM-DD HH:MM UTC`, the form the user's commands print.
pub fn utc(ms: u64) -> String {
    utc_to(ms, false)
}

/// The same to the second, for log lines whose order within a minute matters.
pub fn utc_seconds(ms: u64) -> String {
    utc_to(ms, true)
}

fn utc_to(ms: u64, seconds: bool) -> String {
    let secs = i64::try_from(ms / 1000).unwrap_or(i64::MAX);
    let Ok(t) = time::OffsetDateTime::from_unix_timestamp(secs) else { return "invalid time".into() };
    let minute = format!("{:04}-{:02}-{:02} {:02}:{:02}", t.year(), u8::from(t.month()), t.day(), t.hour(), t.minute());
    if seconds { format!("{minute}:{:02} UTC", t.second()) } else { format!("{minute} UTC") }
}
