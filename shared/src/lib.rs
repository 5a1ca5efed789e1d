//! Lifeline's protocol core, shared by the agent and the server.
//!
//! # Layout
//! - [`wire`]: every message and snapshot type that crosses the QUIC link, in bincode's order.
//! - [`codec`]: the only place that turns untrusted bytes into those types; length-prefixed, size-limited.
//! - [`catalog`]: the approved remote checks: typed parameters, class, tier, limits; validated on both ends.
//! - [`findings`]: pure rules that read a snapshot and say what looks wrong and which ticket category it suggests.
//! - [`token`]: the enrollment token's text form: where the server is, which CA to pin, and the secret.
//! - [`backoff`]: the reconnect delay schedule, so every agent spreads its retries the same way.
//! - [`session`]: the agent's session as a state machine fed with events and `now`: hello, heartbeats, reconnect delays.
//! - [`ipp`]: the agent's requests to CUPS and the decoder of its answers, kept here so they can be fuzzed without IO.
//! - [`journal`]: a bounded reader of systemd's journal files for the journal-errors check, here to be fuzzed too.
//! - [`dbus`]: the agent's calls to systemd over D-Bus and the decoder of what the bus sends back, for the same reason.
//! - `mail` (feature `mail`, the server's): the help desk's e-mail channel: decoding what arrives within limits,
//!   threading and loop rules, rendering replies.
//!
//! **Invariant:** this crate does no IO, reads no clock, no environment and no randomness of its own; callers pass
//! `now` and random input in. That keeps it testable in memory and safe to fuzz.

pub mod backoff;
pub mod catalog;
pub mod codec;
pub mod dbus;
pub mod diff;
pub mod findings;
pub mod ipp;
pub mod journal;
#[cfg(feature = "mail")]
pub mod mail;
pub mod session;
pub mod token;
pub mod wire;
