//! Runs the real binaries: a server in a fresh directory on port 0, agents enrolled with real tokens, the
//! technician CLI. Every child is killed when its handle drops, and every wait is bounded.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex, Once};
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// `lifeline-help`, built beside the binaries the harness builds, in the same profile (plain builds leave it out).
pub fn help_bin() -> PathBuf {
    static BUILD: Once = Once::new();
    let path = bin("lifeline-agent").with_file_name("lifeline-help");
    BUILD.call_once(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.args(["build", "--bin", "lifeline-help", "-p", "lifeline-help"]);
        if path.parent().is_some_and(|d| d.ends_with("release")) {
            cmd.arg("--release");
        }
        assert!(cmd.status().expect("running cargo build").success(), "building lifeline-help failed");
    });
    path
}

/// Builds the binaries under test once per test process, in the profile this test was built with, so a plain
/// `cargo test` never runs stale binaries. Cargo's own lock serialises parallel test processes.
pub fn bin(name: &str) -> PathBuf {
    static BUILD: Once = Once::new();
    let dir = bin_dir();
    BUILD.call_once(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.args(["build", "--bins", "-p", "lifeline-server", "-p", "lifeline-agent", "-p", "lifeline-swarm"]);
        if dir.ends_with("release") {
            cmd.arg("--release");
        }
        let status = cmd.status().expect("running cargo build");
        assert!(status.success(), "building the binaries failed");
    });
    dir.join(name)
}

/// `target/<profile>`, two levels above this test executable (`target/<profile>/deps/e2e-…`).
fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    exe.parent().and_then(Path::parent).expect("target/<profile>/deps layout").to_owned()
}

/// Polls `f` until it returns `Some`, for at most `limit`.
pub fn eventually<T>(what: &str, limit: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(start.elapsed() < limit, "timed out after {limit:?} waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A child process killed on drop, with its stdout and stderr collected for assertions and failure reports.
pub struct Proc {
    child: Child,
    pub name: String,
    output: Arc<Mutex<String>>,
}

impl Proc {
    pub fn spawn(name: &str, mut cmd: Command) -> Proc {
        if !cmd.get_envs().any(|(k, _)| k == "LIFELINE_LOG") {
            cmd.env("LIFELINE_LOG", "info");
        }
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap_or_else(|e| panic!("starting {name}: {e}"));
        let output = Arc::new(Mutex::new(String::new()));
        let pipes: [Box<dyn std::io::Read + Send>; 2] = [
            Box::new(child.stdout.take().expect("stdout piped")),
            Box::new(child.stderr.take().expect("stderr piped")),
        ];
        for pipe in pipes {
            let out = output.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    out.lock().expect("output lock").push_str(&(line + "\n"));
                }
            });
        }
        Proc { child, name: name.into(), output }
    }

    pub fn output(&self) -> String {
        self.output.lock().expect("output lock").clone()
    }

    pub fn wait_for_line(&self, needle: &str, limit: Duration) -> String {
        eventually(&format!("{needle:?} from {}; it printed:\n{}", self.name, self.output()), limit, || {
            self.output().lines().find(|l| l.contains(needle)).map(str::to_owned)
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Resident memory in KiB, from the kernel's own accounting.
    pub fn rss_kib(&self) -> u64 {
        status_kib(self.pid(), "VmRSS:")
    }

    /// Key presses for a child spawned with a piped stdin.
    pub fn type_keys(&mut self, keys: &[u8]) {
        let stdin = self.child.stdin.as_mut().expect("stdin piped");
        std::io::Write::write_all(stdin, keys).expect("typing into the child");
    }

    /// Waits for the child to end by itself, for at most `limit`.
    pub fn exit_status(&mut self, limit: Duration) -> std::process::ExitStatus {
        let name = self.name.clone();
        eventually(&format!("{name} to exit"), limit, || self.child.try_wait().ok().flatten())
    }

    /// Whether the process is still running (it has not exited, by itself or otherwise).
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            eprintln!("--- output of {} ---\n{}", self.name, self.output());
        }
    }
}

/// A memory figure of a live process from `/proc/PID/status` (`VmRSS:`, `VmHWM:` ...), in KiB.
pub fn status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("process status");
    let line = status.lines().find(|l| l.starts_with(field)).unwrap_or_else(|| panic!("no {field} line"));
    line.split_whitespace().nth(1).and_then(|n| n.parse().ok()).unwrap_or_else(|| panic!("no {field} value"))
}

/// A finished command's exit code and text.
pub struct Run {
    pub ok: bool,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(o: Output) -> Run {
        Run {
            ok: o.status.success(),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

pub fn run(mut cmd: Command) -> Run {
    cmd.stdin(Stdio::null());
    cmd.output().expect("running a command").into()
}

pub struct Server {
    pub dir: TempDir,
    pub proc: Proc,
    pub quic: SocketAddr,
    pub api: String,
    /// An admin's API token, created before the server started.
    pub admin_token: String,
    /// The network namespace the server, its agents and the CLI run in, if not the machine's own.
    pub netns: Option<String>,
}

impl Server {
    pub fn start() -> Server {
        Server::start_in_netns(None)
    }

    /// A server whose loopback is that of network namespace `netns`; agents enrolled with it run there too.
    pub fn start_in_netns(netns: Option<&str>) -> Server {
        Server::start_on(tempfile::tempdir().expect("temp dir"), netns)
    }

    /// A new server whose data directory is `dir`, which the caller may have prepared (a small filesystem, say).
    pub fn start_on(dir: TempDir, netns: Option<&str>) -> Server {
        let admin = run(server_cmd(dir.path(), &["user", "add", "admin", "--tier", "admin"]));
        assert!(admin.ok, "user add failed: {}", admin.stderr);
        let admin_token = field(&admin.stdout, "API token:");
        Server::start_in(dir, admin_token, "127.0.0.1:0", netns.map(str::to_owned), 0)
    }

    /// A new server that reads `toml` as its configuration file (`server.toml` in its data directory).
    pub fn start_with_config(toml: &str) -> Server {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join(CONFIG), toml).expect("writing server.toml");
        Server::start_on(dir, None)
    }

    fn start_in(dir: TempDir, admin_token: String, quic: &str, netns: Option<String>, days_on: u32) -> Server {
        let mut cmd = days_ahead(server_cmd(dir.path(), &["serve", "--quic", quic, "--api", "127.0.0.1:0"]), days_on);
        cmd.env("LIFELINE_LOG", "info");
        let config = dir.path().join(CONFIG);
        if config.exists() {
            cmd.env("LIFELINE_SERVER_CONFIG", config);
        }
        let proc = Proc::spawn("lifeline-server", in_netns(netns.as_deref(), cmd));
        let quic = proc.wait_for_line("quic listening on ", Duration::from_secs(30));
        let api = proc.wait_for_line("api listening on ", Duration::from_secs(30));
        Server {
            quic: field(&quic, "quic listening on").parse().expect("quic address"),
            api: field(&api, "api listening on"),
            dir,
            proc,
            admin_token,
            netns,
        }
    }

    /// Stops the server and starts it again on the same QUIC port with the same data.
    pub fn restart(self) -> Server {
        self.restart_days_ahead(0)
    }

    /// As `restart`, with the server's clock `days` ahead of the machine's.
    pub fn restart_days_ahead(self, days: u32) -> Server {
        let Server { dir, mut proc, quic, admin_token, netns, .. } = self;
        proc.kill();
        Server::start_in(dir, admin_token, &quic.to_string(), netns, days)
    }

    pub fn ca(&self) -> PathBuf {
        self.dir.path().join("pki/ca.pem")
    }

    pub fn db(&self) -> PathBuf {
        self.dir.path().join("lifeline.db")
    }

    pub fn token(&self, args: &[&str]) -> String {
        let server = self.quic.to_string();
        let mut all = vec!["token", "create", "--server", &server];
        all.extend_from_slice(args);
        let out = run(server_cmd(self.dir.path(), &all));
        assert!(out.ok, "token create failed: {}", out.stderr);
        out.stdout.trim().to_owned()
    }

    /// The technician CLI against this server, as the admin unless `token` says otherwise.
    pub fn cli(&self, args: &[&str]) -> Run {
        self.cli_as(&self.admin_token, args)
    }

    pub fn cli_as(&self, token: &str, args: &[&str]) -> Run {
        run(self.cli_command(token, args))
    }

    /// The technician CLI as a command, for callers that run it in the background.
    pub fn cli_command(&self, token: &str, args: &[&str]) -> Command {
        let mut cmd = Command::new(bin("lifeline-server"));
        cmd.args(args).env("LIFELINE_API", &self.api).env("LIFELINE_TOKEN", token).env("LIFELINE_CA", self.ca());
        in_netns(self.netns.as_deref(), cmd)
    }

    /// Creates an account on the running server and returns its API token.
    pub fn add_user(&self, name: &str, tier: &str) -> String {
        let out = run(server_cmd(self.dir.path(), &["user", "add", name, "--tier", tier]));
        assert!(out.ok, "user add {name} failed: {}", out.stderr);
        field(&out.stdout, "API token:")
    }

    /// An HTTPS client of the API that trusts only this deployment's CA and returns every status as an answer.
    pub fn https(&self) -> ureq::Agent {
        let pem = std::fs::read(self.ca()).expect("reading the CA");
        let ca = ureq::tls::parse_pem(&pem)
            .find_map(|item| match item {
                Ok(ureq::tls::PemItem::Certificate(c)) => Some(c),
                _ => None,
            })
            .expect("a certificate in ca.pem");
        let tls =
            ureq::tls::TlsConfig::builder().root_certs(ureq::tls::RootCerts::Specific(Arc::new(vec![ca]))).build();
        ureq::Agent::config_builder()
            .tls_config(tls)
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .new_agent()
    }

    /// The store itself, for what only a look at the rows can prove (or tampering can test).
    pub fn sql(&self) -> rusqlite::Connection {
        let conn = rusqlite::Connection::open(self.db()).expect("opening the store");
        conn.busy_timeout(Duration::from_secs(5)).expect("busy timeout");
        conn
    }

    /// The JSON the CLI prints with `--json`.
    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        let mut all = args.to_vec();
        all.push("--json");
        let out = self.cli(&all);
        assert!(out.ok, "{args:?} failed: {}", out.stderr);
        serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{args:?} printed no JSON ({e}): {}", out.stdout))
    }
}

/// Fails the test, saying `what` needs root, unless it runs as root (to create users or network namespaces). So a test
/// that needs root never passes without having run: `./test` leaves it out by name, and says so, where it does not
/// run as root (and fails instead under `CI=true`).
pub fn require_root(what: &str) {
    let mut id = Command::new("id");
    id.arg("-u");
    let uid = run(id).stdout.trim().to_owned();
    assert!(uid == "0", "{what} needs root, and this test runs as uid {uid} (./test leaves it out where not root)");
}

/// A second login on the machine, created for the tests that need two users, as a help desk's users would be.
pub const OTHER_USER: &str = "lifeline-e2e-other";

/// The uid of [`OTHER_USER`], created if missing (needs root: see [`require_root`]).
pub fn other_user() -> u32 {
    let id = || {
        let mut cmd = Command::new("id");
        cmd.args(["-u", OTHER_USER]);
        run(cmd)
    };
    if !id().ok {
        let mut add = Command::new("useradd");
        add.args(["--system", "--no-create-home", "--shell", "/usr/sbin/nologin", OTHER_USER]);
        let made = run(add);
        // Another test process may have created it meanwhile: only the user's existence matters.
        assert!(id().ok, "cannot create {OTHER_USER}: {}", made.stderr);
    }
    id().stdout.trim().parse().expect("a uid")
}

/// A network namespace of our own, with its loopback up and `veth_pairs` pairs of virtual interfaces (down, and
/// linked to nothing outside), deleted on drop.
pub struct Netns(pub String);

impl Netns {
    pub fn create(veth_pairs: usize) -> Netns {
        let netns = Netns::named("");
        for i in 0..veth_pairs {
            let (a, b) = (format!("llveth{i:03}a"), format!("llveth{i:03}b"));
            ip(&["-n", &netns.0, "link", "add", &a, "type", "veth", "peer", "name", &b]);
        }
        netns
    }

    /// A namespace with only its loopback, up, for a test that links several itself; `role` tells apart the
    /// namespaces of one test process.
    pub fn named(role: &str) -> Netns {
        let name = format!("lifeline-e2e-{}{role}", std::process::id());
        ip(&["netns", "add", &name]);
        let netns = Netns(name);
        ip(&["-n", &netns.0, "link", "set", "lo", "up"]);
        netns
    }

    /// Sets a sysctl of this namespace's own network stack, such as `net.ipv4.ip_forward=1`.
    pub fn sysctl(&self, setting: &str) {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.0, "sysctl", "-qw", setting]);
        let out = run(cmd);
        assert!(out.ok, "sysctl {setting} in {}: {}", self.0, out.stderr);
    }
}

/// `ip` with these arguments, which must succeed.
pub fn ip(args: &[&str]) {
    let mut cmd = Command::new("ip");
    cmd.args(args);
    let out = run(cmd);
    assert!(out.ok, "ip {args:?}: {}", out.stderr);
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

/// `cmd` run by `ip netns exec` in `netns`, with the same arguments and environment; as it is without one.
pub fn in_netns(netns: Option<&str>, cmd: Command) -> Command {
    let Some(netns) = netns else { return cmd };
    let mut wrapped = Command::new("ip");
    wrapped.args(["netns", "exec", netns]).arg(cmd.get_program()).args(cmd.get_args());
    for (key, value) in cmd.get_envs() {
        match value {
            Some(value) => wrapped.env(key, value),
            None => wrapped.env_remove(key),
        };
    }
    wrapped
}

/// Runs `cmd` with its wall clock `days` ahead (libfaketime; none for 0), to see what ageing does to certificates
/// and session tickets without waiting for it. Timers, which use the monotonic clock, are left alone.
pub fn days_ahead(mut cmd: Command, days: u32) -> Command {
    if days > 0 {
        const LIB: &str = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";
        assert!(
            Path::new(LIB).exists(),
            "{LIB} is missing: install Debian's faketime package (./test does, or leaves this test out where it cannot)"
        );
        cmd.env("LD_PRELOAD", LIB).env("FAKETIME", format!("+{days}d")).env("FAKETIME_DONT_FAKE_MONOTONIC", "1");
    }
    cmd
}

/// The configuration file a test may put in a server's data directory, which `serve` then reads.
const CONFIG: &str = "server.toml";

pub fn server_cmd(data_dir: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(bin("lifeline-server"));
    cmd.args(args).env("LIFELINE_DATA_DIR", data_dir).env_remove("LIFELINE_SERVER_CONFIG");
    cmd
}

pub struct Agent {
    pub dir: TempDir,
    pub id: String,
    pub proc: Option<Proc>,
    netns: Option<String>,
}

impl Agent {
    pub fn cmd(dir: &Path, args: &[&str]) -> Command {
        let mut cmd = Command::new(bin("lifeline-agent"));
        cmd.arg("--state-dir").arg(dir.join("state")).arg("--socket").arg(dir.join("agent.sock")).args(args);
        cmd
    }

    /// Enrolls through a token file, as an admin's rollout would, without starting the service.
    pub fn enroll(server: &Server) -> Agent {
        let dir = tempfile::tempdir().expect("temp dir");
        let token_file = dir.path().join("token");
        std::fs::write(&token_file, server.token(&[])).expect("writing token");
        let enroll = Agent::cmd(dir.path(), &["enroll", "--token-file", token_file.to_str().expect("utf-8 path")]);
        let out = run(in_netns(server.netns.as_deref(), enroll));
        assert!(out.ok, "enroll failed: {}{}", out.stdout, out.stderr);
        let id = field(&out.stdout, "enrolled as").split_whitespace().next().expect("agent id").to_owned();
        Agent { dir, id, proc: None, netns: server.netns.clone() }
    }

    pub fn start(server: &Server) -> Agent {
        let mut agent = Agent::enroll(server);
        agent.run();
        agent.proc.as_ref().expect("started").wait_for_line("connected", Duration::from_secs(30));
        agent
    }

    pub fn run(&mut self) {
        self.run_days_ahead(0);
    }

    /// Runs the service with its clock `days` ahead of the machine's.
    pub fn run_days_ahead(&mut self, days: u32) {
        self.proc = Some(Proc::spawn("lifeline-agent", days_ahead(self.command(&["run"]), days)));
    }

    /// Runs the service with this policy file (TOML, as in packaging/agent.toml) and waits until it is connected.
    pub fn run_with_policy(&mut self, policy: &str) {
        let path = self.dir.path().join("agent.toml");
        std::fs::write(&path, policy).expect("writing the policy");
        let proc =
            Proc::spawn("lifeline-agent", self.command(&["run", "--config", path.to_str().expect("utf-8 path")]));
        proc.wait_for_line("connected", Duration::from_secs(30));
        self.proc = Some(proc);
    }

    /// Asks for help through the real agent and returns the ticket number.
    pub fn request_help(&self, subject: &str) -> i64 {
        let help = self.call(&["request-help", "--subject", subject]);
        assert!(help.ok, "request-help failed: {}{}\nagent log:\n{}", help.stdout, help.stderr, self.log());
        let number = field(&help.stdout, "ticket #");
        number.split_once('.').and_then(|(n, _)| n.parse().ok()).unwrap_or_else(|| panic!("no number in {number:?}"))
    }

    pub fn call(&self, args: &[&str]) -> Run {
        run(self.command(args))
    }

    /// This agent's command, in its server's network namespace if it has one.
    pub fn command(&self, args: &[&str]) -> Command {
        in_netns(self.netns.as_deref(), Agent::cmd(self.dir.path(), args))
    }

    pub fn log(&self) -> String {
        self.proc.as_ref().map(Proc::output).unwrap_or_default()
    }
}

/// `lifeline-swarm` against `server`: `count` agents enrolled with `bulk-enroll`, with these extra flags.
pub fn swarm(server: &Server, count: usize, args: &[&str]) -> Command {
    let identities = server.dir.path().join(format!("swarm-{count}.pem"));
    if !identities.exists() {
        let path = identities.to_str().expect("utf-8 path");
        let out = run(server_cmd(server.dir.path(), &["bulk-enroll", "--count", &count.to_string(), "--out", path]));
        assert!(out.ok, "bulk-enroll failed: {}{}", out.stdout, out.stderr);
    }
    let mut cmd = Command::new(bin("lifeline-swarm"));
    cmd.arg("--identities").arg(&identities).args(["--server", &server.quic.to_string()]).args(args);
    in_netns(server.netns.as_deref(), cmd)
}

/// The text after `label` on the first line containing it.
pub fn field(text: &str, label: &str) -> String {
    text.lines()
        .find_map(|l| l.split_once(label).map(|(_, rest)| rest.trim().to_owned()))
        .unwrap_or_else(|| panic!("no {label:?} in:\n{text}"))
}

impl Proc {
    /// Asks the process to stop as Ctrl-C or systemd would, and waits (bounded) for it to exit.
    pub fn terminate(&mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        eventually(&format!("{} to exit after SIGTERM", self.name), Duration::from_secs(15), || {
            matches!(self.child.try_wait(), Ok(Some(_))).then_some(())
        });
    }
}
