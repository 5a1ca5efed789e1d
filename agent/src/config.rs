//! The agent's admin-controlled configuration (a TOML file) and its identity (written once by enrollment into the
//! state directory).

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use serde::{Deserialize, Serialize};

use crate::collect::CollectConfig;

/// Policy an admin sets in `/etc/lifeline/agent.toml`; every key optional.
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Seconds between routine snapshots; a snapshot is also sent on every connect and with every help request.
    pub snapshot_interval_secs: u64,
    /// A name to resolve in every snapshot, to tell "DNS is broken" from "the server is down".
    pub dns_probe: Option<String>,
    /// How many processes to list by CPU and by memory.
    pub top_processes: usize,
    /// Most disk space the offline spool may take; past it, routine snapshots are dropped oldest first.
    pub spool_max_mb: u64,
    /// Minutes a help request lets technicians on its ticket run checks here; the user can extend it to 8 hours.
    pub consent_minutes: u32,
    /// Catalog names of checks this machine never runs, whatever the server asks.
    pub disabled_checks: Vec<String>,
    /// Allows read-only (class A) checks without a consent window; the user still sees each in their history.
    pub unattended_class_a: bool,
    /// Allows fixes (class C); off by default.
    pub enable_class_c: bool,
    /// The only units `restart-service` may restart, even with class C enabled.
    pub restartable_services: Vec<String>,
    /// Lets `process-list` show command lines, which can hold secrets; off by default.
    pub process_command_lines: bool,
    /// The CUPS scheduler's local socket, which the printing checks ask.
    pub cups_socket: PathBuf,
    /// Where journald keeps its files, one directory per machine id in each; `journal-errors` reads them all.
    pub journal_dirs: Vec<PathBuf>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            snapshot_interval_secs: 300,
            dns_probe: None,
            top_processes: 5,
            spool_max_mb: 64,
            consent_minutes: 60,
            disabled_checks: Vec::new(),
            unattended_class_a: false,
            enable_class_c: false,
            restartable_services: Vec::new(),
            process_command_lines: false,
            cups_socket: PathBuf::from("/run/cups/cups.sock"),
            journal_dirs: vec![PathBuf::from("/var/log/journal"), PathBuf::from("/run/log/journal")],
        }
    }
}

impl Config {
    pub fn load(path: Option<&Path>) -> Result<Config> {
        let Some(path) = path else { return Ok(Config::default()) };
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let config: Config = toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
        if !(1..=86_400).contains(&config.snapshot_interval_secs) {
            bail!("{}: snapshot_interval_secs must be between 1 and 86400", path.display());
        }
        if !(1..=480).contains(&config.consent_minutes) {
            bail!("{}: consent_minutes must be between 1 and 480", path.display());
        }
        if let Some(unknown) = config
            .disabled_checks
            .iter()
            .find(|n| !lifeline_shared::catalog::CATALOG.iter().any(|d| d.name == n.as_str()))
        {
            bail!("{}: disabled_checks names {unknown:?}, which is not in the catalog", path.display());
        }
        if let Some(bad) = config
            .restartable_services
            .iter()
            .find(|u| lifeline_shared::catalog::Check::RestartService { unit: (*u).clone() }.validate().is_err())
        {
            bail!("{}: restartable_services names {bad:?}, which is not a systemd unit name", path.display());
        }
        if !(1..=4096).contains(&config.spool_max_mb) {
            bail!("{}: spool_max_mb must be between 1 and 4096", path.display());
        }
        if !config.cups_socket.is_absolute() {
            bail!("{}: cups_socket must be an absolute path", path.display());
        }
        if config.journal_dirs.iter().any(|d| !d.is_absolute()) {
            bail!("{}: journal_dirs must be absolute paths", path.display());
        }
        if !(1..=50).contains(&config.top_processes) {
            bail!("{}: top_processes must be between 1 and 50", path.display());
        }
        Ok(config)
    }

    /// The DNS probe defaults to the server's own name, the one lookup the agent depends on.
    pub fn collect(&self, server: &str) -> CollectConfig {
        let host = server.rsplit_once(':').map_or(server, |(h, _)| h).trim_matches(['[', ']']);
        let dns = self.dns_probe.clone().or_else(|| host.parse::<std::net::IpAddr>().is_err().then(|| host.to_owned()));
        CollectConfig { top_n: self.top_processes, dns_probe: dns, ..CollectConfig::default() }
    }

    pub fn spool_max_bytes(&self) -> u64 {
        self.spool_max_mb * 1024 * 1024
    }

    pub fn snapshot_interval(&self) -> Duration {
        Duration::from_secs(self.snapshot_interval_secs)
    }
}

/// Who this agent is and where its server is; written at enrollment and kept until a new identity is in hand.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Identity {
    pub agent_id: String,
    pub server: String,
}

pub struct StateDir(pub PathBuf);

impl StateDir {
    fn identity_path(&self) -> PathBuf {
        self.0.join("identity.toml")
    }

    pub fn consent_path(&self) -> PathBuf {
        self.0.join("consent.json")
    }

    pub fn history_path(&self) -> PathBuf {
        self.0.join("history.jsonl")
    }

    pub fn tickets_path(&self) -> PathBuf {
        self.0.join("tickets.json")
    }

    pub fn spool_dir(&self) -> PathBuf {
        self.0.join("spool")
    }

    pub fn is_enrolled(&self) -> bool {
        self.identity_path().exists()
    }

    /// Writes the key, certificate and CA first and the identity file last, so a crash mid-way leaves the agent
    /// either fully enrolled or not at all.
    pub fn save(&self, identity: &Identity, key_der: &[u8], cert_der: &[u8], ca_der: &[u8]) -> Result<()> {
        lifeline_net::tls::private_dir(&self.0).with_context(|| format!("creating {}", self.0.display()))?;
        let write = |name: &str, bytes: &[u8]| {
            let path = self.0.join(name);
            lifeline_net::tls::write_private(&path, bytes).with_context(|| format!("writing {}", path.display()))
        };
        write("agent.key", key_der)?;
        write("agent.crt", cert_der)?;
        write("ca.crt", ca_der)?;
        write("identity.toml", toml::to_string(identity).context("encoding identity")?.as_bytes())
    }

    /// A renewed certificate for the key the agent already has: one file replaced in one rename, so the pair on disk
    /// always matches.
    pub fn save_certificate(&self, cert_der: &[u8]) -> Result<()> {
        let path = self.0.join("agent.crt");
        lifeline_net::tls::write_private(&path, cert_der).with_context(|| format!("writing {}", path.display()))
    }

    pub fn load(&self) -> Result<(Identity, lifeline_net::tls::Identity, CertificateDer<'static>)> {
        if !self.is_enrolled() {
            bail!(
                "this agent is not enrolled yet (no {}); run `lifeline-agent enroll`",
                self.identity_path().display()
            );
        }
        // A state directory from an older build, or made by hand, is tightened: it holds the key and the spool.
        lifeline_net::tls::private_dir(&self.0).with_context(|| format!("securing {}", self.0.display()))?;
        let read = |name: &str| {
            let path = self.0.join(name);
            std::fs::read(&path).with_context(|| format!("reading {}", path.display()))
        };
        let text = String::from_utf8(read("identity.toml")?).context("identity.toml is not text")?;
        let identity: Identity = toml::from_str(&text).context("parsing identity.toml")?;
        let tls = lifeline_net::tls::Identity {
            chain: vec![CertificateDer::from(read("agent.crt")?)],
            key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(read("agent.key")?)),
        };
        Ok((identity, tls, CertificateDer::from(read("ca.crt")?)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_packaged_example_parses() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("agent.toml");
        std::fs::write(&path, include_str!("../../packaging/agent.toml")).unwrap();
        assert_eq!(Config::load(Some(&path)).unwrap().snapshot_interval_secs, 300);
        std::fs::write(&path, "snapshot_interval_secs = 0\n").unwrap();
        assert!(Config::load(Some(&path)).is_err());
        std::fs::write(&path, "snapshot_intervall = 60\n").unwrap();
        assert!(Config::load(Some(&path)).is_err(), "a typo is an error, not a silent default");
    }

    #[test]
    fn dns_probe_defaults_to_the_server_name() {
        let c = Config::default();
        assert_eq!(c.collect("helpdesk.example.org:7443").dns_probe.as_deref(), Some("helpdesk.example.org"));
        assert_eq!(c.collect("127.0.0.1:7443").dns_probe, None);
        assert_eq!(c.collect("[::1]:7443").dns_probe, None);
    }
}
