//! Commands that work on this machine's server: its data directory and configuration, through the use cases.
//! Whoever can open the data directory is its admin.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use lifeline_net::tls::write_private;
use lifeline_server::config::{Config, ConfigError, Overrides};
use lifeline_server::desk::access::Role;
use lifeline_server::service::{admin, audit};
use lifeline_server::store::backup::{self, CONFIG_FILE};
use lifeline_shared::token::EnrollToken;

use super::args::Local;
use super::render;

fn load(local: &Local, overrides: Overrides) -> Result<Config> {
    let overrides = Overrides { data_dir: local.data_dir.clone(), ..overrides };
    Ok(Config::load(local.config.as_deref(), overrides)?)
}

pub fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the async runtime")
}

pub fn serve(local: &Local, quic: Option<SocketAddr>, api: Option<SocketAddr>) -> Result<()> {
    let config = load(local, Overrides { quic_listen: quic, api_listen: api, ..Overrides::default() })?;
    let state = Arc::new(lifeline_server::prepare(config)?);
    runtime()?.block_on(async {
        let bound = lifeline_server::bind(&state).await?;
        tracing::info!(
            version = env!("CARGO_PKG_VERSION"),
            data_dir = %state.config.data_dir.display(),
            "lifeline-server started"
        );
        // Tests and scripts wait for these exact lines to learn the bound ports.
        println!("quic listening on {}", bound.quic_addr()?);
        println!("api listening on https://{}", bound.api_addr()?);
        if let Some(addr) = bound.metrics_addr()? {
            println!("metrics listening on http://{addr}/metrics");
        }
        lifeline_server::run(state, bound, lifeline_net::process::shutdown_signal()).await
    })
}

pub fn quickstart(data_dir: PathBuf, port: u16) -> Result<()> {
    runtime()?.block_on(lifeline_server::quickstart::run(data_dir, port))
}

fn parse_role(tier: &str) -> Result<Role> {
    Role::parse(tier).with_context(|| format!("--tier must be 1, 2, 3, admin, auditor or manager, not {tier:?}"))
}

pub fn add_user(local: &Local, name: String, tier: &str) -> Result<()> {
    let role = parse_role(tier)?;
    let state = lifeline_server::prepare(load(local, Overrides::default())?)?;
    let account = runtime()?.block_on(admin::add_user(&state.store, admin::By::Local, name, role))?;
    println!("created {} ({})", account.user.name, account.user.role.as_str());
    println!("password:  {}", account.password);
    println!("API token: {}", account.token);
    println!("(both are shown only now)");
    Ok(())
}

pub fn set_role(local: &Local, name: String, tier: &str) -> Result<()> {
    let role = parse_role(tier)?;
    let state = lifeline_server::prepare(load(local, Overrides::default())?)?;
    let old = runtime()?.block_on(admin::set_role(&state.store, admin::By::Local, name.clone(), role))?;
    println!("{name}: {} -> {}", old.as_str(), role.as_str());
    Ok(())
}

pub fn list_tokens(local: &Local, user: Option<String>) -> Result<()> {
    let state = lifeline_server::prepare(load(local, Overrides::default())?)?;
    let tokens = runtime()?.block_on(admin::api_tokens(&state.store, user))?;
    println!("{:<12}  {:<16} {:<19}  ENDS (UTC)", "ID", "USER", "CREATED (UTC)");
    for t in tokens {
        let ends = t.expires_at.map_or_else(|| "never".to_owned(), |at| render::time(Some(at)));
        println!("{:<12}  {:<16} {:<19}  {ends}", t.id, t.user, render::time(Some(t.created_at)));
    }
    Ok(())
}

pub fn revoke_token(local: &Local, id: String) -> Result<()> {
    let state = lifeline_server::prepare(load(local, Overrides::default())?)?;
    let token = runtime()?.block_on(admin::revoke_api_token(&state.store, id))?;
    println!("token {} of {} revoked; it is refused from its next request on", token.id, token.user);
    Ok(())
}

pub fn create_token(local: &Local, expires: &str, uses: u32, label: String, server: Option<String>) -> Result<()> {
    let config = load(local, Overrides { advertise: server, ..Overrides::default() })?;
    let lifetime = parse_duration(expires)?;
    if uses == 0 {
        bail!("--uses must be at least 1");
    }
    let Some(server) = config.advertise.clone() else {
        return Err(ConfigError::Invalid(
            "no server address for the token: pass --server host:port or set advertise in the config".into(),
        )
        .into());
    };
    let state = lifeline_server::prepare(config)?;
    let token = runtime()?.block_on(admin::enrollment_token(&state.store, admin::By::Local, lifetime, uses, label))?;
    let text = EnrollToken { server, ca_fingerprint: state.pki.ca_fingerprint(), secret: token.secret }.encode();
    eprintln!("token {} valid for {expires}, {uses} use(s):", token.id);
    println!("{text}");
    Ok(())
}

pub fn bulk_enroll(local: &Local, count: u32, out: &Path) -> Result<()> {
    if count == 0 {
        bail!("--count must be at least 1");
    }
    let state = lifeline_server::prepare(load(local, Overrides::default())?)?;
    let ca = state.config.pki_dir().join("ca.pem");
    let mut bundle = std::fs::read_to_string(&ca).with_context(|| format!("reading {}", ca.display()))?;
    let started = std::time::Instant::now();
    let (identities, rows) = admin::simulated_identities(&state.pki, count)?;
    bundle.push_str(&identities);
    // The file first: a path that cannot be written leaves no agents without keys behind.
    write_private(out, bundle.as_bytes()).with_context(|| format!("writing {}", out.display()))?;
    runtime()?.block_on(admin::register_simulated(&state.store, rows))?;
    println!(
        "enrolled {count} simulated agents in {:.1} s; identities in {}",
        started.elapsed().as_secs_f64(),
        out.display()
    );
    Ok(())
}

pub fn checkpoint(local: &Local, out: Option<PathBuf>) -> Result<()> {
    let config = load(local, Overrides::default())?;
    if !config.db_path().is_file() {
        bail!("no server data in {}: give the server's --data-dir or --config", config.data_dir.display());
    }
    let state = lifeline_server::prepare(config)?;
    let file = out.unwrap_or_else(|| state.config.checkpoint_file());
    let c = runtime()?.block_on(audit::take_checkpoint(&state, &file))?;
    println!("checkpoint of entry {} (head {}) appended to {}", c.seq, c.hash, file.display());
    Ok(())
}

pub fn backup(local: &Local, out: &Path) -> Result<()> {
    let written = backup::backup(&load(local, Overrides::default())?, local.config.as_deref(), out)?;
    println!("backed up into {}:", out.display());
    written.iter().for_each(|f| println!("  {}", f.display()));
    Ok(())
}

pub fn restore(from: &Path, data_dir: &Path) -> Result<()> {
    let written = backup::restore(from, data_dir)?;
    println!("restored into {}:", data_dir.display());
    written.iter().for_each(|f| println!("  {}", f.display()));
    if data_dir.join(CONFIG_FILE).is_file() {
        println!("the backup's configuration is {CONFIG_FILE} there: check its data_dir before using it");
    }
    println!("start a server on it: lifeline-server serve --data-dir {}", data_dir.display());
    Ok(())
}

/// `30m`, `24h`, `7d` to milliseconds.
pub fn parse_duration(text: &str) -> Result<i64> {
    let (digits, unit) = text.split_at(text.len().saturating_sub(1));
    let n: i64 = digits.parse().with_context(|| format!("duration {text:?} is not like 30m, 24h or 7d"))?;
    let unit_ms = match unit {
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => bail!("duration {text:?} needs a unit: s, m, h or d"),
    };
    if n <= 0 || n > 365 * 86_400_000 / unit_ms {
        bail!("duration {text:?} must be positive and at most a year");
    }
    Ok(n * unit_ms)
}
