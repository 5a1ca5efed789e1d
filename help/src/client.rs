//! A small blocking client for the agent's local socket. One request per connection, one answer back, both as
//! frames of the shared codec; `Subscribe` keeps its connection and reads events from it. Blocking is what we want:
//! calls run on their own threads, and a subscription's thread sleeps in `read` until the agent has news.

use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use lifeline_shared::codec::{self, PREFIX_LEN};
use lifeline_shared::wire::{LocalEvent, LocalRequest, LocalResponse};

/// The agent gives itself 30 s for a call (a fresh snapshot plus a round trip to the server); a little more here so
/// its own "did not answer in time" reaches the user rather than ours.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(35);
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("no agent socket at {0} (is lifeline-agent running?)")]
    NoAgent(PathBuf),
    #[error("refusing {path}: it belongs to uid {owner}, not to root or you")]
    NotTrusted { path: PathBuf, owner: u32 },
    #[error("the agent did not answer in time")]
    TimedOut,
    #[error("the agent closed the connection without answering")]
    Closed,
    #[error("talking to the agent: {0}")]
    Io(std::io::Error),
    #[error("the agent's answer is unreadable: {0}")]
    Garbled(codec::CodecError),
}

impl From<std::io::Error> for CallError {
    fn from(e: std::io::Error) -> CallError {
        match e.kind() {
            ErrorKind::WouldBlock | ErrorKind::TimedOut => CallError::TimedOut,
            ErrorKind::UnexpectedEof | ErrorKind::ConnectionReset | ErrorKind::BrokenPipe => CallError::Closed,
            _ => CallError::Io(e),
        }
    }
}

/// Where the agent listens.
#[derive(Clone, Debug)]
pub struct Agent {
    path: PathBuf,
}

impl Agent {
    pub fn new(path: PathBuf) -> Agent {
        Agent { path }
    }

    pub fn call(&self, request: &LocalRequest) -> Result<LocalResponse, CallError> {
        let mut stream = self.connect()?;
        write_frame(&mut stream, request)?;
        stream.set_read_timeout(Some(ANSWER_TIMEOUT))?;
        read_frame(&mut stream)?.ok_or(CallError::Closed)
    }

    /// Opens a subscription; `Err` carries the agent's refusal too (an agent that cannot push events yet).
    pub fn subscribe(&self) -> Result<Subscription, Subscribe> {
        let mut stream = self.connect()?;
        write_frame(&mut stream, &LocalRequest::Subscribe)?;
        stream.set_read_timeout(Some(ANSWER_TIMEOUT))?;
        match read_frame::<LocalResponse>(&mut stream)?.ok_or(CallError::Closed)? {
            LocalResponse::Subscribed => {
                // From now on silence is normal: nothing happens for hours, and the read simply waits.
                stream.set_read_timeout(None)?;
                Ok(Subscription { stream })
            }
            LocalResponse::Error { message } => Err(Subscribe::Refused(message)),
            other => Err(Subscribe::Refused(format!("unexpected answer {other:?}"))),
        }
    }

    fn connect(&self) -> Result<UnixStream, CallError> {
        check_owner(&self.path)?;
        let stream = UnixStream::connect(&self.path).map_err(|e| match e.kind() {
            ErrorKind::NotFound | ErrorKind::ConnectionRefused => CallError::NoAgent(self.path.clone()),
            _ => CallError::Io(e),
        })?;
        stream.set_write_timeout(Some(WRITE_TIMEOUT))?;
        Ok(stream)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Subscribe {
    #[error(transparent)]
    Call(#[from] CallError),
    #[error("the agent refused: {0}")]
    Refused(String),
}

impl From<std::io::Error> for Subscribe {
    fn from(e: std::io::Error) -> Subscribe {
        Subscribe::Call(e.into())
    }
}

/// An open subscription: events in the order the agent sent them.
pub struct Subscription {
    stream: UnixStream,
}

impl Subscription {
    /// Waits for the next event; `Ok(None)` when the agent closed the connection (it stopped or restarted).
    pub fn next(&mut self) -> Result<Option<LocalEvent>, CallError> {
        read_frame(&mut self.stream)
    }
}

/// Only root (the packaged agent) or the user themselves may stand behind the socket, as the agent's own client
/// checks: anybody else could collect what the user types.
fn check_owner(path: &Path) -> Result<(), CallError> {
    let meta = std::fs::metadata(path).map_err(|_| CallError::NoAgent(path.to_owned()))?;
    if !lifeline_shared::wire::socket_owner_trusted(meta.uid(), nix::unistd::getuid().as_raw()) {
        return Err(CallError::NotTrusted { path: path.to_owned(), owner: meta.uid() });
    }
    Ok(())
}

fn write_frame(stream: &mut UnixStream, message: &LocalRequest) -> Result<(), CallError> {
    let bytes = codec::encode(message).map_err(CallError::Garbled)?;
    stream.write_all(&bytes)?;
    Ok(())
}

/// One frame, or `None` on a clean end before its first byte. The prefix is checked before any body byte is read.
fn read_frame<T: serde::de::DeserializeOwned>(stream: &mut UnixStream) -> Result<Option<T>, CallError> {
    let mut prefix = [0u8; PREFIX_LEN];
    match stream.read(&mut prefix[..1]) {
        Ok(0) => return Ok(None),
        Ok(_) => {}
        Err(e) if e.kind() == ErrorKind::Interrupted => return read_frame(stream),
        Err(e) => return Err(e.into()),
    }
    stream.read_exact(&mut prefix[1..])?;
    let len = codec::body_len(prefix).map_err(CallError::Garbled)?;
    let mut body = vec![0u8; len];
    stream.read_exact(&mut body)?;
    codec::decode_body(&body).map(Some).map_err(CallError::Garbled)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixListener;

    /// A listener on a real socket that answers each connection with `answer(request)` as raw bytes.
    fn serve(dir: &Path, answer: impl Fn(LocalRequest) -> Vec<u8> + Send + 'static) -> Agent {
        let path = dir.join("agent.sock");
        let listener = UnixListener::bind(&path).unwrap();
        std::thread::spawn(move || {
            for mut stream in listener.incoming().map_while(Result::ok) {
                let Ok(Some(request)) = read_frame::<LocalRequest>(&mut stream) else { continue };
                let _ = stream.write_all(&answer(request));
            }
        });
        Agent::new(path)
    }

    #[test]
    fn a_call_is_one_frame_each_way() {
        let dir = tempfile::tempdir().unwrap();
        let agent = serve(dir.path(), |request| {
            let answer = match request {
                LocalRequest::Ticket { number } => LocalResponse::Error { message: format!("no ticket {number}") },
                _ => LocalResponse::HelpQueued,
            };
            codec::encode(&answer).unwrap()
        });
        let answer = agent.call(&LocalRequest::Ticket { number: 7 }).unwrap();
        assert_eq!(answer, LocalResponse::Error { message: "no ticket 7".into() });
    }

    #[test]
    fn no_socket_says_the_agent_is_not_running() {
        let dir = tempfile::tempdir().unwrap();
        let err = Agent::new(dir.path().join("missing.sock")).call(&LocalRequest::Tickets).unwrap_err();
        assert!(matches!(err, CallError::NoAgent(_)), "{err:?}");
        assert!(err.to_string().contains("is lifeline-agent running"), "{err}");
    }

    #[test]
    fn a_dead_agent_leaves_a_socket_nobody_answers() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("agent.sock");
        drop(UnixListener::bind(&path).unwrap());
        let err = Agent::new(path).call(&LocalRequest::Tickets).unwrap_err();
        assert!(matches!(err, CallError::NoAgent(_)), "{err:?}");
    }

    #[test]
    fn garbage_and_oversized_answers_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let agent = serve(dir.path(), |request| match request {
            LocalRequest::Tickets => vec![0, 0, 0, 3, 0xff, 0xff, 0xff],
            _ => u32::MAX.to_be_bytes().to_vec(),
        });
        assert!(matches!(agent.call(&LocalRequest::Tickets), Err(CallError::Garbled(_))));
        assert!(matches!(agent.call(&LocalRequest::History), Err(CallError::Garbled(_))));
    }

    #[test]
    fn a_half_answer_is_a_closed_connection() {
        let dir = tempfile::tempdir().unwrap();
        let agent = serve(dir.path(), |_| {
            let bytes = codec::encode(&LocalResponse::Tickets(Vec::new())).unwrap();
            bytes[..bytes.len() - 1].to_vec()
        });
        assert!(matches!(agent.call(&LocalRequest::Tickets), Err(CallError::Closed)));
    }

    #[test]
    fn a_subscription_reads_events_until_the_agent_closes() {
        let dir = tempfile::tempdir().unwrap();
        let window = lifeline_shared::wire::ConsentWindow { ticket: 3, user: "ann".into(), until_ms: 9 };
        let event = LocalEvent::ConsentOpened(window);
        let sent = event.clone();
        let agent = serve(dir.path(), move |request| {
            assert_eq!(request, LocalRequest::Subscribe);
            let mut bytes = codec::encode(&LocalResponse::Subscribed).unwrap();
            bytes.extend(codec::encode(&sent).unwrap());
            bytes
        });
        let mut subscription = agent.subscribe().unwrap();
        assert_eq!(subscription.next().unwrap(), Some(event));
        assert_eq!(subscription.next().unwrap(), None);
    }

    #[test]
    fn an_agent_that_cannot_push_refuses_the_subscription() {
        let dir = tempfile::tempdir().unwrap();
        let agent = serve(dir.path(), |_| {
            codec::encode(&LocalResponse::Error { message: "this agent cannot do that yet".into() }).unwrap()
        });
        let Err(Subscribe::Refused(message)) = agent.subscribe() else { panic!("subscription accepted") };
        assert!(message.contains("cannot do that yet"));
    }
}
