//! The system bus, for the checks that ask systemd to act: one connection per check, authenticated by the agent's
//! uid, and one call on it. `lifeline_shared::dbus` builds the calls and decodes what the bus sends; this module owns
//! the socket and bounds the whole conversation in time and in messages, so a bus that misbehaves costs a check an
//! error, never a hang.

use std::ffi::OsString;
use std::num::NonZeroU32;
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use lifeline_shared::dbus::{self, Kind, Message, MethodCall};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;
use tokio::time::{Instant, timeout_at};

/// Messages read while waiting for an answer that are not it (the bus's NameAcquired signal, for one).
const MAX_SKIPPED: usize = 64;
const DEFAULT_SYSTEM_BUS: &str = "/run/dbus/system_bus_socket";

/// The system bus's socket: from `DBUS_SYSTEM_BUS_ADDRESS`, as every D-Bus library reads it, when that is a
/// `unix:path=` address, else the standard path.
pub fn system_bus() -> PathBuf {
    socket_path(std::env::var("DBUS_SYSTEM_BUS_ADDRESS").ok().as_deref())
}

/// The first `unix:path=` among `;`-separated addresses, with its `%xx` escapes decoded.
fn socket_path(address: Option<&str>) -> PathBuf {
    let path = address.into_iter().flat_map(|a| a.split(';')).find_map(|a| {
        a.strip_prefix("unix:")?.split(',').find_map(|pair| pair.strip_prefix("path=")).and_then(unescape)
    });
    path.unwrap_or_else(|| PathBuf::from(DEFAULT_SYSTEM_BUS))
}

fn unescape(value: &str) -> Option<PathBuf> {
    let mut out = Vec::with_capacity(value.len());
    let mut bytes = value.bytes();
    while let Some(b) = bytes.next() {
        if b == b'%' {
            let hex = [bytes.next()?, bytes.next()?];
            out.push(u8::from_str_radix(std::str::from_utf8(&hex).ok()?, 16).ok()?);
        } else {
            out.push(b);
        }
    }
    Some(PathBuf::from(OsString::from_vec(out)))
}

pub struct Bus {
    stream: BufReader<UnixStream>,
    serial: NonZeroU32,
    limit: Duration,
    deadline: Instant,
}

impl Bus {
    /// Connects, authenticates as the agent's effective uid and says `Hello`, which a bus requires before any call.
    /// Everything said on this connection, calls included, must be over within `limit`.
    pub async fn connect(socket: &Path, limit: Duration) -> Result<Bus, String> {
        let deadline = Instant::now() + limit;
        let connect = async {
            let stream = UnixStream::connect(socket)
                .await
                .map_err(|e| format!("cannot connect to {}: {e}", socket.display()))?;
            let mut bus = Bus { stream: BufReader::new(stream), serial: NonZeroU32::MIN, limit, deadline };
            bus.authenticate().await?;
            Ok::<_, String>(bus)
        };
        let mut bus = timeout_at(deadline, connect).await.map_err(|_| no_answer(limit))??;
        bus.call(&MethodCall {
            destination: "org.freedesktop.DBus",
            path: "/org/freedesktop/DBus",
            interface: "org.freedesktop.DBus",
            member: "Hello",
            args: &[],
        })
        .await?;
        Ok(bus)
    }

    async fn authenticate(&mut self) -> Result<(), String> {
        let uid = nix::unistd::geteuid().as_raw();
        self.send(&dbus::auth_external(uid)).await?;
        let mut line = Vec::with_capacity(64);
        (&mut self.stream)
            .take(dbus::MAX_AUTH_LINE as u64)
            .read_until(b'\n', &mut line)
            .await
            .map_err(|e| format!("reading the bus's answer to authentication: {e}"))?;
        dbus::auth_accepted(&line).map_err(|e| e.to_string())?;
        self.send(dbus::BEGIN).await
    }

    /// Makes the call and waits for its answer: the reply's first argument if it is a string or an object path, or
    /// the bus's error as `name: message`.
    pub async fn call(&mut self, call: &MethodCall<'_>) -> Result<Option<String>, String> {
        let serial = self.serial;
        self.serial = serial.checked_add(1).unwrap_or(NonZeroU32::MIN);
        let message = dbus::method_call(call, serial).map_err(|e| e.to_string())?;
        let (limit, deadline) = (self.limit, self.deadline);
        let exchange = async {
            self.send(&message).await?;
            for _ in 0..=MAX_SKIPPED {
                let reply = self.receive().await?;
                if reply.reply_serial != Some(serial.get()) {
                    continue;
                }
                match reply.kind {
                    Kind::MethodReturn => return Ok(reply.first_arg),
                    Kind::Error => return Err(error_text(&reply)),
                    _ => {}
                }
            }
            Err(format!("the bus sent {MAX_SKIPPED} other messages and no answer to {}", call.member))
        };
        timeout_at(deadline, exchange).await.map_err(|_| no_answer(limit))?
    }

    async fn send(&mut self, bytes: &[u8]) -> Result<(), String> {
        self.stream.get_mut().write_all(bytes).await.map_err(|e| format!("writing to the bus: {e}"))
    }

    async fn receive(&mut self) -> Result<Message, String> {
        let read_error = |e: std::io::Error| match e.kind() {
            std::io::ErrorKind::UnexpectedEof => "the bus closed the connection".to_owned(),
            _ => format!("reading from the bus: {e}"),
        };
        let mut fixed = [0; dbus::FIXED_HEADER];
        self.stream.read_exact(&mut fixed).await.map_err(read_error)?;
        let len = dbus::message_len(&fixed).map_err(|e| e.to_string())?;
        let mut message = fixed.to_vec();
        message.resize(len, 0);
        let rest = message.get_mut(dbus::FIXED_HEADER..).unwrap_or_default();
        self.stream.read_exact(rest).await.map_err(read_error)?;
        dbus::decode(&message).map_err(|e| e.to_string())
    }
}

/// `name: message`, without control characters: both come from whichever service answered, and reach the
/// technician's terminal.
fn error_text(reply: &Message) -> String {
    let text = match (&reply.error_name, &reply.first_arg) {
        (Some(name), Some(message)) => format!("{name}: {message}"),
        (name, _) => name.clone().unwrap_or_default(),
    };
    text.chars().map(|c| if c.is_control() { '?' } else { c }).collect()
}

fn no_answer(limit: Duration) -> String {
    format!("no answer on the bus within {} s", limit.as_secs())
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};
    use std::process::Stdio;
    use std::time::Duration;

    use lifeline_shared::dbus::MethodCall;
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
    use tokio::net::UnixListener;
    use tokio::process::{Child, Command};

    use super::{Bus, socket_path};

    const NAME_ACQUIRED: &[u8] = include_bytes!("../../../shared/testdata/dbus/name-acquired.bin");
    const LIMIT: Duration = Duration::from_secs(10);

    /// A private dbus-daemon on a socket in `dir`, killed when dropped. Only the agent's code starts no program:
    /// this test does, and fails where the daemon is missing, since CI installs it.
    struct Daemon {
        _child: Child,
        socket: PathBuf,
    }

    impl Daemon {
        async fn start(dir: &Path) -> Daemon {
            let socket = dir.join("bus");
            let mut child = Command::new("dbus-daemon")
                .arg(concat!("--config-file=", env!("CARGO_MANIFEST_DIR"), "/../shared/testdata/dbus/private-bus.conf"))
                .arg(format!("--address=unix:path={}", socket.display()))
                .args(["--nofork", "--print-address=1"])
                .stdout(Stdio::piped())
                .kill_on_drop(true)
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start dbus-daemon (apt-get install dbus): {e}"));
            // It prints its address once it listens.
            let mut address = String::new();
            let mut out = BufReader::new(child.stdout.take().unwrap());
            tokio::time::timeout(LIMIT, out.read_line(&mut address)).await.unwrap().unwrap();
            assert!(address.starts_with("unix:path="), "dbus-daemon printed {address:?}");
            Daemon { _child: child, socket }
        }
    }

    fn bus_call<'a>(member: &'a str, args: &'a [&'a str]) -> MethodCall<'a> {
        MethodCall {
            destination: "org.freedesktop.DBus",
            path: "/org/freedesktop/DBus",
            interface: "org.freedesktop.DBus",
            member,
            args,
        }
    }

    #[tokio::test]
    async fn a_real_bus_answers_with_strings_nothing_and_errors() {
        let dir = tempfile::tempdir().unwrap();
        let daemon = Daemon::start(dir.path()).await;
        let mut bus = Bus::connect(&daemon.socket, LIMIT).await.unwrap();
        let id = bus.call(&bus_call("GetId", &[])).await.unwrap().unwrap();
        assert!(id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
        let owner = bus.call(&bus_call("GetNameOwner", &["org.freedesktop.DBus"])).await.unwrap();
        assert_eq!(owner.as_deref(), Some("org.freedesktop.DBus"));
        let ping = MethodCall { interface: "org.freedesktop.DBus.Peer", ..bus_call("Ping", &[]) };
        assert_eq!(bus.call(&ping).await, Ok(None));

        let absent = MethodCall {
            destination: "org.lifeline.Absent",
            path: "/org/lifeline/Absent",
            interface: "org.lifeline.Absent",
            member: "Restart",
            args: &["cups.service", "replace"],
        };
        let refused = bus.call(&absent).await.unwrap_err();
        let expected = "org.freedesktop.DBus.Error.ServiceUnknown: \
                        The name org.lifeline.Absent was not provided by any .service files";
        assert_eq!(refused, expected);
        // Still usable after an error.
        assert!(bus.call(&bus_call("GetId", &[])).await.is_ok());
    }

    #[tokio::test]
    async fn no_bus_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("bus");
        let err = Bus::connect(&missing, LIMIT).await.err().unwrap();
        assert!(err.starts_with(&format!("cannot connect to {}: ", missing.display())), "{err}");
    }

    /// A socket whose peer authenticates the agent with `answer` and then sends `then`, and keeps the connection open.
    fn fake_bus(path: &Path, answer: &'static [u8], then: Vec<u8>) -> tokio::task::JoinHandle<()> {
        let listener = UnixListener::bind(path).unwrap();
        tokio::spawn(async move {
            let (s, _) = listener.accept().await.unwrap();
            let mut s = BufReader::new(s);
            let mut line = Vec::new();
            s.read_until(b'\n', &mut line).await.unwrap();
            s.write_all(answer).await.unwrap();
            line.clear();
            s.read_until(b'\n', &mut line).await.unwrap();
            assert_eq!(line, b"BEGIN\r\n");
            s.write_all(&then).await.unwrap();
            let _ = s.read_to_end(&mut Vec::new()).await;
        })
    }

    #[tokio::test]
    async fn a_misbehaving_bus_is_an_error_not_a_hang() {
        const OK: &[u8] = b"OK 2ebb509d8debaf84ea6c60c86b0c6cb9\r\n";
        let dir = tempfile::tempdir().unwrap();
        let short = Duration::from_secs(1);
        let cases: [(&[u8], Vec<u8>, &str); 4] = [
            (b"REJECTED EXTERNAL\r\n", vec![], r#"it answered "REJECTED EXTERNAL\r\n""#),
            (OK, vec![], "no answer on the bus within 1 s"),
            (OK, NAME_ACQUIRED.repeat(100), "the bus sent 64 other messages and no answer to Hello"),
            (OK, b"l\x02\x00\x01\xff\xff\xff\x7f\x01\x00\x00\x00\x00\x00\x00\x00".to_vec(), "larger than"),
        ];
        for (i, (answer, then, expected)) in cases.into_iter().enumerate() {
            let path = dir.path().join(format!("bus-{i}"));
            let peer = fake_bus(&path, answer, then);
            let err = Bus::connect(&path, short).await.err().unwrap();
            assert!(err.contains(expected), "{expected:?} not in {err:?}");
            peer.abort();
        }
    }

    #[test]
    fn the_system_bus_is_the_first_unix_path_in_the_address() {
        let default = PathBuf::from("/run/dbus/system_bus_socket");
        for (address, expected) in [
            (None, default.clone()),
            (Some("unix:path=/run/bus,guid=0123"), PathBuf::from("/run/bus")),
            (Some("unix:abstract=/tmp/x;unix:guid=1,path=/tmp/a%20b"), PathBuf::from("/tmp/a b")),
            (Some("tcp:host=localhost,port=1"), default.clone()),
            (Some("unix:path=/tmp/%zz"), default),
        ] {
            assert_eq!(socket_path(address), expected, "{address:?}");
        }
    }
}
