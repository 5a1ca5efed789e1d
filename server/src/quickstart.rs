//! The newcomer's one command: a server on 127.0.0.1 with its SQLite store and CA, a technician account, and the
//! real `lifeline-agent` binary enrolled with a real token and running as a child process. Rerunning it reuses the
//! same data directory, so tickets and the agent's identity survive.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use lifeline_shared::token::EnrollToken;

use crate::config::Config;

const TECH: &str = "tech";

pub async fn run(data_dir: PathBuf, port: u16) -> Result<()> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    // It will hold the technician's token (env.sh) and the agent's identity beside the server's store.
    lifeline_net::tls::private_dir(&data_dir).with_context(|| format!("creating {}", data_dir.display()))?;
    let config = Config {
        data_dir: data_dir.join("server"),
        quic_listen: addr,
        api_listen: addr,
        advertise: Some(addr.to_string()),
        ..Config::default()
    };
    let state = Arc::new(crate::prepare(config)?);
    let bound = crate::bind(&state).await.context("is another quickstart running? pick another --port")?;
    let api = format!("https://{}", bound.api_addr()?);

    let crate::service::admin::Quickstart { password, api_token, enrollment_secret: secret } =
        crate::service::admin::quickstart(&state.store, TECH).await?;
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(crate::run(state.clone(), bound, async {
        let _ = stop_rx.await;
    }));

    let agent_bin = sibling("lifeline-agent")?;
    let agent_dir = data_dir.join("agent");
    let socket = agent_dir.join("agent.sock");
    let token = EnrollToken { server: addr.to_string(), ca_fingerprint: state.pki.ca_fingerprint(), secret };
    let token_file = agent_dir.join("enroll.token");
    lifeline_net::tls::private_dir(&agent_dir).with_context(|| format!("creating {}", agent_dir.display()))?;
    lifeline_net::tls::write_private(&token_file, token.encode().as_bytes())?;
    let enrolled = tokio::process::Command::new(&agent_bin)
        .arg("--state-dir")
        .arg(&agent_dir)
        .args(["enroll", "--keep-existing", "--token-file"])
        .arg(&token_file)
        .status()
        .await
        .with_context(|| format!("running {}", agent_bin.display()))?;
    let _ = std::fs::remove_file(&token_file);
    if !enrolled.success() {
        bail!("the local agent could not enroll (see above)");
    }
    let log_path = data_dir.join("agent.log");
    let log = std::fs::File::create(&log_path).with_context(|| format!("creating {}", log_path.display()))?;
    let mut agent = tokio::process::Command::new(&agent_bin)
        .arg("--state-dir")
        .arg(&agent_dir)
        .arg("run")
        .arg("--socket")
        .arg(&socket)
        .stdout(Stdio::null())
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting {}", agent_bin.display()))?;

    let ca = state.config.pki_dir().join("ca.pem");
    let env_file = data_dir.join("env.sh");
    // The data directory too, so that admin commands such as `user add` work on this server's store.
    let exports = format!(
        "export LIFELINE_API={api}\nexport LIFELINE_TOKEN={api_token}\nexport LIFELINE_CA={}\n\
         export LIFELINE_AGENT_SOCKET={}\nexport LIFELINE_DATA_DIR={}\n",
        absolute(&ca).display(),
        absolute(&socket).display(),
        absolute(&state.config.data_dir).display()
    );
    let newest = state.store.read(|c| c.agents()).await?.into_iter().max_by_key(|a| a.enrolled_at);
    let agent_id = newest.map_or_else(|| "AGENT".to_owned(), |a| a.id);
    lifeline_net::tls::write_private(&env_file, exports.as_bytes())?;
    let bin = agent_bin.parent().unwrap_or(Path::new(".")).display().to_string();
    println!("Lifeline is running on this machine.");
    println!("  server   QUIC udp/{addr}, API {api}");
    println!("  data     {} (SQLite: {})", data_dir.display(), state.config.db_path().display());
    println!("  agent    enrolled and connected; its log: {}", log_path.display());
    // Kept beside the token, as private, so that a second run can say it again for the console's login.
    let password_file = data_dir.join("password");
    if let Some(p) = &password {
        lifeline_net::tls::write_private(&password_file, p.as_bytes())?;
    }
    match std::fs::read_to_string(&password_file) {
        Ok(p) => println!("  account  {TECH} (admin), password {} (kept in {})", p.trim(), password_file.display()),
        Err(_) => println!("  account  {TECH} (admin), existing; a fresh API token is in {}", env_file.display()),
    }
    println!();
    println!("In another terminal:");
    println!("  source {}", env_file.display());
    println!("  {bin}/lifeline-agent request-help --subject \"My printer does not print\"");
    println!("  {bin}/lifeline-server ticket list");
    println!("  {bin}/lifeline-server ticket show 1");
    println!("  {bin}/lifeline-server ticket reply 1 \"Looking into it\"");
    println!("  {bin}/lifeline-agent tickets");
    println!("  {bin}/lifeline-server check run {agent_id} disk-usage path=/ --ticket 1");
    println!("  {bin}/lifeline-server agent watch {agent_id}");
    println!("  {bin}/lifeline-server agent list");
    println!();
    println!(
        "Press Ctrl-C to stop. The web console, for {TECH} with the password above (the browser asks you to trust"
    );
    println!("this server's own certificate authority, {}):", absolute(&ca).display());
    println!("  {api}/");

    tokio::select! {
        () = lifeline_net::process::shutdown_signal() => {}
        status = agent.wait() => eprintln!("the local agent exited ({status:?}); see {}", log_path.display()),
    }
    let _ = agent.kill().await;
    let _ = stop_tx.send(());
    server.await.context("server task")??;
    Ok(())
}

/// Our binaries are installed side by side, whether by cargo into target/ or by a package into /usr/bin.
fn sibling(name: &str) -> Result<PathBuf> {
    let me = std::env::current_exe().context("finding this program's path")?;
    let path = me.with_file_name(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    if !path.exists() {
        bail!("{} not found next to this program; build it with `cargo build --release`", path.display());
    }
    Ok(path)
}

fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_owned())
}
