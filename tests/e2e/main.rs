//! End-to-end tests: the real `lifeline-server` and `lifeline-agent` binaries as processes on 127.0.0.1.
//!
//! # Layout
//! - `harness`: building and starting the binaries, bounded waits.
//! - `browser`: a real headless Chromium through chromedriver for the web console's tests: blocking calls with bounded
//!   waits, screenshots, axe-core's accessibility rules; proved on pages of its own under a strict CSP.
//! - `flow`: the walking skeleton as users live it: enroll, snapshot, request help, work the ticket, reconnect.
//! - `delivery`: the spool across an offline server, a killed server, a killed agent and a full spool: nothing lost
//!   or doubled, and only routine snapshots ever dropped.
//! - `refusals`: everything that must be refused, with a clear error and nothing stored.
//! - `certificates`: an agent's certificate as its clock moves on: renewed two thirds through its life, refused once
//!   expired, on a full handshake and on a resumed session.
//! - `live`: watching an agent live (the stream, sharing it, what cannot be watched); refresh now and the diff.
//! - `metrics`: `/metrics` scraped by a real Prometheus, queried through PromQL.
//! - `preseed`: enrollment on first start from a preseeded token file, as packages install it; bad tokens retried.
//! - `audit`: audit checkpoints: the CA signs the chain's head, and a chain cut back or rewritten since, or a forged
//!   checkpoint, is named as such.
//! - `backup`: a backup under ingest load, restored into a new directory: the same agents, snapshots, tickets and
//!   audit chain.
//! - `checks`: approved checks: real data, the authorization matrix, hostile parameters, queueing, the audit chain.
//! - `printing`: the printing checks against a private CUPS scheduler: listing a stuck queue, clearing it, refusals.
//! - `journal`: journal-errors on journal files systemd's own writer made: the decoder on every layout and on damaged
//!   files, then the check through the real server and agent.
//! - `requester`: the user's side: pushed ticket threads, answers and confirmations, self-help, subscribed events.
//! - `sla`: SLA clocks on the real clock: a warning and a breach recorded once each; pending until a date.
//! - `helpdesk`: tickets by every channel, people, linked machines, merges, racing replies, presence, canned, paging.
//! - `stats`: the statistics of what two technicians did, as JSON, CSV and a table, and who sees whose row.
//! - `swarm`: the load generator: bulk-enrolled identities connect, get snapshots acknowledged and stream live.
//! - `console`: the web console in that browser against the real server and agent: login, queue, a ticket's findings,
//!   replies and notes, races, the keyboard alone, hostile text, forged writes, languages; axe and CSP on every page.
//! - `console_machines`: the console's machines: the list and its search, a machine's history and tickets, live
//!   charts from a real agent's stream until it stops, revoking (admins only); axe and CSP on every page.
//! - `console_reports`: the console's reports: who sees whose row, a count's link to the queue showing exactly the
//!   tickets behind it, the API's CSV read with the session cookie, the period picker; axe and CSP on every page.
//! - `desktop`: `lifeline-help` on a real X display and session bus, driven by the keyboard; notifications shown.

// A test states its expectations by panicking on what it did not expect.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod audit;
mod backup;
mod browser;
mod certificates;
mod checks;
mod console;
mod console_machines;
mod console_reports;
mod delivery;
mod desktop;
#[allow(dead_code)] // The benchmark's mail row fills and reads a mailbox in bulk; the tests do not.
mod dovecot;
mod flow;
mod hardening;
mod harness;
mod helpdesk;
mod imap;
mod journal;
mod live;
mod mail;
mod metrics;
mod openapi;
mod preseed;
mod printing;
mod refusals;
mod requester;
mod sla;
mod stats;
mod swarm;
mod webhooks;
