//! The `lifeline-server` command line, part of the binary only: the library holds no client code.
//!
//! - [`args`]: what each command takes (clap).
//! - [`admin`]: commands on this machine's data directory, through the use cases.
//! - [`desk`]: the technicians' commands, through the HTTPS API ([`http`]), printed by [`render`].

pub mod admin;
pub mod args;
pub mod desk;
pub mod http;
pub mod render;
pub mod screen;
