//! The Lifeline agent: collects diagnostics, streams them to the server over QUIC, and carries the local user's
//! help requests.
//!
//! # Layout
//! - [`collect`]: one file per source of diagnostics, assembled into a snapshot; never spawns a program.
//! - [`config`]: the admin's policy file and the identity enrollment leaves in the state directory.
//! - [`enroll`]: key generation, CSR, and the first, fingerprint-pinned contact with the server.
//! - [`link`]: the mTLS QUIC session, heartbeats, snapshots, reconnect with jittered backoff.
//! - [`spool`]: the crash-safe, bounded on-disk queue of everything not yet acknowledged by the server.
//! - [`local_api`]: the Unix socket through which local users ask for help and follow their tickets.

pub mod collect;
pub mod config;
pub mod enroll;
pub mod link;
pub mod local_api;
pub mod spool;

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
