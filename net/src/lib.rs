//! The QUIC glue both ends share, so agent and server cannot drift apart on how they trust or frame.
//!
//! # Layout
//! - [`tls`]: rustls and quinn configurations (TLS 1.3 only, ring, ALPN `lifeline/1`), the agent's CA pinning and
//!   certificate fingerprints.
//! - [`frame`]: reading and writing [`lifeline_shared::codec`] frames on quinn streams without buffering more than the
//!   peer has actually sent.
//! - [`udp`]: the socket under an endpoint that carries many connections, with buffers sized for bursts.
//! - [`logging`]: the log subscriber the binaries that link this crate install.
//! - [`process`]: the wall clock in milliseconds, and the signals that ask a process to stop.
//!
//! It lives outside `shared` because `shared` stays free of IO; it is a separate crate rather than code in each binary
//! because a second copy of the trust or framing rules is how two ends start to disagree.

pub mod frame;
pub mod logging;
pub mod process;
pub mod tls;
pub mod udp;
