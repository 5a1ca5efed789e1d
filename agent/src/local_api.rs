//! The local socket the user's programs talk to. Any local user may ask for help, so the socket is open to all, and
//! who is asking comes from the kernel (the socket's peer credentials), never from what the client says. Clients in
//! turn refuse a socket that is not owned by root or by themselves, so nobody can stand in for the agent.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use lifeline_net::frame;
use lifeline_shared::wire::{LocalEvent, LocalRequest, LocalResponse};
use tokio::io::AsyncReadExt;
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{broadcast, mpsc, oneshot};
use tracing::{info, warn};

use crate::link::LocalCall;

/// How long a local request may take end to end: collecting a snapshot plus a round trip to the server.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

pub fn bind(path: &Path) -> Result<UnixListener> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    // A socket left by a previous run would make bind fail; only a socket is removed, never another file.
    if std::fs::symlink_metadata(path).is_ok_and(|m| std::os::unix::fs::FileTypeExt::is_socket(&m.file_type())) {
        std::fs::remove_file(path).with_context(|| format!("removing stale {}", path.display()))?;
    }
    let listener = UnixListener::bind(path).with_context(|| format!("binding {}", path.display()))?;
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o666))
        .with_context(|| format!("opening {} to local users", path.display()))?;
    Ok(listener)
}

pub async fn serve(listener: UnixListener, calls: mpsc::Sender<LocalCall>, events: broadcast::Sender<LocalEvent>) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                tokio::spawn(handle(stream, calls.clone(), events.clone()));
            }
            Err(e) => {
                warn!(error = %e, "local socket accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

async fn handle(mut stream: UnixStream, calls: mpsc::Sender<LocalCall>, events: broadcast::Sender<LocalEvent>) {
    let user = match stream.peer_cred() {
        Ok(cred) => user_name(cred.uid()),
        Err(e) => return warn!(error = %e, "no peer credentials on the local socket"),
    };
    let answer = match tokio::time::timeout(CALL_TIMEOUT, frame::read::<LocalRequest>(&mut stream)).await {
        Ok(Ok(Some(request))) => {
            if let LocalRequest::Help { subject, .. } = &request {
                info!(%user, subject_len = subject.len(), "local user asked for help");
            }
            if request == LocalRequest::Subscribe {
                return subscribe(stream, &user, events.subscribe()).await;
            }
            forward(&calls, user, request).await
        }
        Ok(Ok(None)) => return,
        Ok(Err(e)) => {
            warn!(%user, error = %e, "bad request on the local socket");
            LocalResponse::Error { message: format!("bad request: {e}") }
        }
        Err(_) => LocalResponse::Error { message: "no request sent in time".into() },
    };
    let _ = frame::write(&mut stream, &answer).await;
}

async fn forward(calls: &mpsc::Sender<LocalCall>, user: String, request: LocalRequest) -> LocalResponse {
    let (reply, answer) = oneshot::channel();
    if calls.send(LocalCall { user, request, reply }).await.is_err() {
        return LocalResponse::Error { message: "the agent is stopping".into() };
    }
    match tokio::time::timeout(CALL_TIMEOUT, answer).await {
        Ok(Ok(answer)) => answer,
        _ => LocalResponse::Error { message: "the agent did not answer in time".into() },
    }
}

/// Pushes this user's events until they hang up. Each user hears of their own tickets and consent windows, and of
/// every check that runs on the machine.
async fn subscribe(mut stream: UnixStream, user: &str, mut events: broadcast::Receiver<LocalEvent>) {
    if frame::write(&mut stream, &LocalResponse::Subscribed).await.is_err() {
        return;
    }
    info!(%user, "a user program subscribed");
    let (mut read, mut write) = stream.split();
    let mut ignored = [0u8; 64];
    loop {
        let event = tokio::select! {
            event = events.recv() => event,
            // The client sends nothing more: any byte or the end of the stream means it is gone.
            _ = read.read(&mut ignored) => break,
        };
        let event = match event {
            Ok(event) => event,
            Err(broadcast::error::RecvError::Lagged(missed)) => {
                warn!(%user, missed, "a user program fell behind; some events were skipped");
                continue;
            }
            Err(broadcast::error::RecvError::Closed) => break,
        };
        let theirs = match &event {
            LocalEvent::TicketChanged { thread, .. } => thread.user == user,
            LocalEvent::CheckRan(_) => true,
            LocalEvent::ConsentOpened(w) | LocalEvent::ConsentExpiring(w) => w.user == user,
        };
        if theirs && frame::write(&mut write, &event).await.is_err() {
            break;
        }
    }
    info!(%user, "a user program unsubscribed");
}

fn user_name(uid: u32) -> String {
    match nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid)) {
        Ok(Some(user)) => user.name,
        _ => format!("uid{uid}"),
    }
}

/// The client side, used by `lifeline-agent request-help` and `tickets` and later by the desktop program.
pub async fn call(path: &Path, request: &LocalRequest) -> Result<LocalResponse> {
    check_owner(path)?;
    let mut stream = UnixStream::connect(path)
        .await
        .with_context(|| format!("connecting to the agent at {} (is lifeline-agent running?)", path.display()))?;
    frame::write(&mut stream, request).await?;
    match tokio::time::timeout(CALL_TIMEOUT + Duration::from_secs(5), frame::read(&mut stream)).await {
        Ok(Ok(Some(answer))) => Ok(answer),
        Ok(Ok(None)) => bail!("the agent closed the connection without answering"),
        Ok(Err(e)) => bail!("reading the agent's answer: {e}"),
        Err(_) => bail!("the agent did not answer in time"),
    }
}

fn check_owner(path: &Path) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path)
        .with_context(|| format!("no agent socket at {} (is lifeline-agent running?)", path.display()))?;
    if !lifeline_shared::wire::socket_owner_trusted(meta.uid(), nix::unistd::getuid().as_raw()) {
        bail!("refusing {}: it belongs to uid {}, not to root or you", path.display(), meta.uid());
    }
    Ok(())
}
