//! A private Dovecot for the e-mail channel's tests and benchmark: started on loopback ports in a temporary
//! directory with a maildir of its own, filled by IMAP APPEND as a delivery agent would, and read back raw.

use std::fs::Permissions;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::harness::{Proc, eventually};

/// The one mail user.
pub const USER: &str = "desk";
pub const WAIT: Duration = Duration::from_secs(30);

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A private Dovecot serving one maildir user, `desk`, with a PLAIN password it can be told to change.
pub struct Dovecot {
    dir: TempDir,
    proc: Option<Proc>,
    pub imap: u16,
    /// The implicit-TLS port, when started with TLS.
    pub imaps: Option<u16>,
    password: String,
}

impl Dovecot {
    /// With `tls`, STARTTLS on the plain port and an implicit-TLS port; without `idle`, a server that does not offer
    /// IDLE, so the reader must poll.
    pub fn start(tls: bool, idle: bool) -> Dovecot {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path();
        // The mail processes run as `nobody` (Dovecot refuses root for mail users): they must reach the maildir.
        std::fs::set_permissions(path, Permissions::from_mode(0o755)).unwrap();
        std::fs::create_dir(path.join("mail")).unwrap();
        std::fs::set_permissions(path.join("mail"), Permissions::from_mode(0o777)).unwrap();
        let imaps = tls.then(free_port);
        let ssl = if tls {
            write_certificates(path);
            format!("ssl = yes\nssl_cert = <{0}/server.pem\nssl_key = <{0}/server.key\n", path.display())
        } else {
            "ssl = no\n".to_owned()
        };
        let capability =
            if idle { "" } else { "imap_capability = IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE LITERAL+\n" };
        let imap = free_port();
        let config = format!(
            "base_dir = {d}/run\nstate_dir = {d}/state\nlog_path = {d}/dovecot.log\nprotocols = imap\n\
             listen = 127.0.0.1\n{ssl}{capability}disable_plaintext_auth = no\nauth_mechanisms = plain\n\
             mail_location = maildir:{d}/mail/%u\n\
             passdb {{\n  driver = passwd-file\n  args = scheme=PLAIN {d}/passwd\n}}\n\
             userdb {{\n  driver = static\n  args = uid=nobody gid=nogroup home={d}/mail/%u\n}}\n\
             service imap-login {{\n  inet_listener imap {{\n    port = {imap}\n  }}\n  \
             inet_listener imaps {{\n    port = {imaps}\n  }}\n}}\n",
            d = path.display(),
            imaps = imaps.unwrap_or(0),
        );
        std::fs::write(path.join("dovecot.conf"), config).unwrap();
        let mut dovecot = Dovecot { dir, proc: None, imap, imaps, password: String::new() };
        dovecot.set_password("first secret");
        dovecot.run();
        dovecot
    }

    pub fn run(&mut self) {
        let program = if Path::new("/usr/sbin/dovecot").exists() { "/usr/sbin/dovecot" } else { "dovecot" };
        let mut cmd = Command::new(program);
        cmd.arg("-F").arg("-c").arg(self.dir.path().join("dovecot.conf"));
        self.proc = Some(Proc::spawn("dovecot", cmd));
        eventually(&format!("Dovecot's greeting on port {}", self.imap), WAIT, || {
            let stream = TcpStream::connect(("127.0.0.1", self.imap)).ok()?;
            stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
            let mut greeting = String::new();
            BufReader::new(stream).read_line(&mut greeting).ok()?;
            greeting.starts_with("* OK").then_some(())
        });
    }

    /// Stops Dovecot as its init script would, so that its login and mail processes end with it.
    pub fn stop(&mut self) {
        if let Some(mut proc) = self.proc.take() {
            let _ = Command::new("kill").args(["-TERM", &proc.pid().to_string()]).status();
            let start = Instant::now();
            while proc.is_running() && start.elapsed() < Duration::from_secs(10) {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }

    /// The user's password in Dovecot's password file and in the file the help desk reads it from.
    pub fn set_password(&mut self, password: &str) {
        std::fs::write(self.dir.path().join("passwd"), format!("{USER}:{{PLAIN}}{password}\n")).unwrap();
        std::fs::write(self.password_file(), format!("{password}\n")).unwrap();
        if !self.password.is_empty() {
            // Dovecot looks at its password file at most once a second: a login in the same second as the last one
            // would still be checked against the old password.
            std::thread::sleep(Duration::from_millis(1100));
        }
        self.password = password.to_owned();
    }

    pub fn password_file(&self) -> PathBuf {
        self.dir.path().join("desk-password")
    }

    pub fn ca(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// Logins over TLS, which only the help desk's server makes: the test's own APPENDs use the plain port.
    pub fn tls_logins(&self) -> usize {
        self.log().lines().filter(|l| l.contains(&format!("Login: user=<{USER}>")) && l.contains(", TLS")).count()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("dovecot.log")).unwrap_or_default()
    }

    /// Gives INBOX a new UIDVALIDITY, as a mailbox rebuilt or restored from a backup has: its UIDs may now name
    /// other messages. Sessions that have it open are logged out once Dovecot notices.
    pub fn set_uidvalidity(&self, validity: u32) {
        let out = Command::new("doveadm")
            .arg("-c")
            .arg(self.dir.path().join("dovecot.conf"))
            .args(["mailbox", "update", "-u", USER, "--uid-validity", &validity.to_string(), "INBOX"])
            .output()
            .unwrap();
        assert!(out.status.success(), "doveadm: {}", String::from_utf8_lossy(&out.stderr));
    }

    /// Puts a message into INBOX by IMAP APPEND; its UIDVALIDITY and UID.
    pub fn append(&self, raw: &str) -> (u32, u32) {
        let mut imap = self.log_in();
        let raw = raw.replace('\n', "\r\n");
        write!(imap.out, "b APPEND INBOX {{{}}}\r\n", raw.len()).unwrap();
        assert!(imap.answer("+").starts_with('+'));
        write!(imap.out, "{raw}\r\n").unwrap();
        let done = imap.answer("b ");
        assert!(done.starts_with("b OK"), "{done}");
        write!(imap.out, "c LOGOUT\r\n").unwrap();
        let numbers = done.split_once("[APPENDUID ").and_then(|(_, rest)| rest.split_once(']')).unwrap().0;
        let (validity, uid) = numbers.split_once(' ').unwrap();
        (validity.parse().unwrap(), uid.parse().unwrap())
    }

    /// Puts many messages into INBOX, in order, by MULTIAPPEND with non-synchronising literals (RFC 3502, RFC 7888):
    /// a thousand per command, each command one transaction for Dovecot.
    pub fn append_all(&self, raws: &[String]) {
        let mut imap = self.log_in();
        for (n, chunk) in raws.chunks(1_000).enumerate() {
            let mut command = format!("m{n} APPEND INBOX").into_bytes();
            for raw in chunk {
                let raw = raw.replace('\n', "\r\n");
                write!(command, " {{{}+}}\r\n{raw}", raw.len()).unwrap();
            }
            command.extend_from_slice(b"\r\n");
            imap.out.write_all(&command).unwrap();
            let done = imap.answer(&format!("m{n} "));
            assert!(done.starts_with(&format!("m{n} OK")), "{done}");
        }
        write!(imap.out, "z LOGOUT\r\n").unwrap();
    }

    /// Fetches every message in INBOX whole, as a bare IMAP client would; how many came.
    pub fn fetch_all(&self) -> usize {
        let mut imap = self.log_in();
        write!(imap.out, "s EXAMINE INBOX\r\nf FETCH 1:* (BODY.PEEK[])\r\n").unwrap();
        assert!(imap.answer("s ").starts_with("s OK"));
        let (mut fetched, mut line, mut body) = (0, String::new(), Vec::new());
        loop {
            line.clear();
            assert!(imap.lines.read_line(&mut line).unwrap() > 0, "Dovecot closed the connection");
            if line.starts_with("f ") {
                assert!(line.starts_with("f OK"), "{line}");
                break;
            }
            // `* N FETCH (BODY[] {size}`: the message follows as a literal of that many bytes.
            let literal = line.trim_end().strip_suffix('}').and_then(|l| l.rsplit_once('{')).map(|(_, n)| n);
            if let Some(size) = literal.and_then(|n| n.parse::<usize>().ok()) {
                body.resize(size, 0);
                imap.lines.read_exact(&mut body).unwrap();
                fetched += 1;
            }
        }
        write!(imap.out, "z LOGOUT\r\n").unwrap();
        fetched
    }

    /// A plain-text IMAP connection, greeted and logged in.
    fn log_in(&self) -> Conversation {
        let stream = TcpStream::connect(("127.0.0.1", self.imap)).unwrap();
        stream.set_read_timeout(Some(WAIT)).unwrap();
        let mut imap = Conversation { lines: BufReader::new(stream.try_clone().unwrap()), out: stream };
        assert!(imap.answer("* ").starts_with("* OK"));
        write!(imap.out, "a LOGIN {USER} \"{}\"\r\n", self.password).unwrap();
        assert!(imap.answer("a ").starts_with("a OK"), "login refused");
        imap
    }
}

struct Conversation {
    lines: BufReader<TcpStream>,
    out: TcpStream,
}

impl Conversation {
    /// The first line that starts with `tag`, the lines before it passed over.
    fn answer(&mut self, tag: &str) -> String {
        let mut line = String::new();
        loop {
            line.clear();
            assert!(self.lines.read_line(&mut line).unwrap() > 0, "Dovecot closed the connection");
            if line.starts_with(tag) {
                return line.trim_end().to_owned();
            }
        }
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        self.stop();
        if std::thread::panicking() {
            eprintln!("--- Dovecot's log ---\n{}", self.log());
        }
    }
}

/// A CA of the test's own and a certificate for `localhost` signed by it: `ca.pem`, `server.pem`, `server.key`.
fn write_certificates(dir: &Path) {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca = rcgen::CertificateParams::default();
    ca.distinguished_name.push(rcgen::DnType::CommonName, "Mail test CA");
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Constrained(0));
    ca.key_usages = vec![rcgen::KeyUsagePurpose::KeyCertSign, rcgen::KeyUsagePurpose::CrlSign];
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca, ca_key);
    let key = rcgen::KeyPair::generate().unwrap();
    let leaf = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    let cert = leaf.signed_by(&key, &issuer).unwrap();
    std::fs::write(dir.join("ca.pem"), ca_cert.pem()).unwrap();
    std::fs::write(dir.join("server.pem"), cert.pem()).unwrap();
    std::fs::write(dir.join("server.key"), key.serialize_pem()).unwrap();
}
