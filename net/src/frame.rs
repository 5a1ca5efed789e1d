//! Frames on any byte stream (quinn streams, the agent's local socket), through the one codec.

use lifeline_shared::codec::{self, CodecError};
use lifeline_shared::wire::{Goodbye, close};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error(transparent)]
    Codec(#[from] CodecError),
    #[error("stream ended inside a frame")]
    Truncated,
    #[error("stream ended before an answer came")]
    NoAnswer,
    #[error("stream: {0}")]
    Io(#[from] std::io::Error),
    #[error("connection: {0}")]
    Connection(#[from] quinn::ConnectionError),
    #[error("stream already closed")]
    Closed(#[from] quinn::ClosedStream),
}

impl FrameError {
    /// True when the peer sent bytes that break the protocol, as opposed to the link failing under us.
    pub fn is_peer_fault(&self) -> bool {
        matches!(self, FrameError::Codec(_) | FrameError::Truncated)
    }
}

pub async fn write<T: Serialize>(out: &mut (impl AsyncWrite + Unpin), msg: &T) -> Result<(), FrameError> {
    let bytes = codec::encode(msg)?;
    out.write_all(&bytes).await?;
    out.flush().await?;
    Ok(())
}

/// Reads the next frame; `Ok(None)` when the peer ended the stream cleanly between frames.
///
/// The body buffer grows only as bytes arrive, so a length prefix that promises a megabyte costs nothing until the
/// peer has actually sent it.
pub async fn read<T: DeserializeOwned>(input: &mut (impl AsyncRead + Unpin)) -> Result<Option<T>, FrameError> {
    let mut prefix = [0u8; codec::PREFIX_LEN];
    let mut have = 0;
    while have < prefix.len() {
        match input.read(&mut prefix[have..]).await? {
            0 if have == 0 => return Ok(None),
            0 => return Err(FrameError::Truncated),
            n => have += n,
        }
    }
    let len = codec::body_len(prefix)?;
    let mut body = Vec::with_capacity(len.min(64 * 1024));
    (&mut *input).take(len as u64).read_to_end(&mut body).await?;
    if body.len() < len {
        return Err(FrameError::Truncated);
    }
    Ok(Some(codec::decode_body(&body)?))
}

/// One request on a fresh bidirectional stream and its one answer: the stream is the request's whole lifetime.
pub async fn request<Req: Serialize, Resp: DeserializeOwned>(
    conn: &quinn::Connection,
    req: &Req,
) -> Result<Resp, FrameError> {
    let (mut send, mut recv) = conn.open_bi().await?;
    write(&mut send, req).await?;
    send.finish()?;
    read(&mut recv).await?.ok_or(FrameError::NoAnswer)
}

/// Closes every connection of a server's endpoint for a restart, telling each agent the window to come back in.
/// New handshakes are ignored from here on rather than refused: an agent's first packet keeps being resent until the
/// next server process answers it, where a refusal would send the agent into its backoff.
pub fn say_goodbye(endpoint: &quinn::Endpoint, goodbye: &Goodbye) -> Result<(), CodecError> {
    let reason = codec::encode(goodbye)?;
    endpoint.set_server_config(None);
    endpoint.close(close::SHUTDOWN.into(), &reason);
    Ok(())
}

/// The goodbye the server closed `conn` with, if it did; anything else in a shutdown's reason (an older server's
/// text, garbage) is no goodbye.
pub fn goodbye(conn: &quinn::Connection) -> Option<Goodbye> {
    match conn.close_reason()? {
        quinn::ConnectionError::ApplicationClosed(c) if c.error_code == close::SHUTDOWN.into() => {
            match codec::decode_frame::<Goodbye>(&c.reason) {
                Ok(Some((goodbye, used))) if used == c.reason.len() => Some(goodbye),
                _ => None,
            }
        }
        _ => None,
    }
}
