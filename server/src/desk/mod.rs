//! The help desk's rules, with no IO, no SQL and no HTTP: what the store, the collector, the API and the CLI all
//! obey, each tested as tables here.
//!
//! - [`tickets`]: events, the fold that makes a ticket of them, and what its requester may see.
//! - [`access`]: roles, and the one table of which role may do what.
//! - [`actor`]: who did something on a ticket: a technician, the requester, a machine's agent, or the server.
//! - [`checks`]: a check run's states and what an agent's report makes of them.
//! - [`priority`]: urgency, impact and the matrix that makes a priority of them; incident or request.
//! - [`policy`]: the settings the rules read: the priority matrix, resolution codes; what an e-mail address is.
//! - [`templates`]: canned replies and their placeholders, checked when saved.
//! - [`sla`]: business-hours calendars, and the SLA clocks and alerts computed from a ticket's facts.
//! - [`stats`]: what the figures need of a ticket, folded from its log with the time of every change.
//! - [`reports`]: the figures managers read, computed from those histories as rows for JSON and CSV.
//! - [`webhooks`]: the happenings endpoints subscribe to, delivery bodies, signatures, retries, reachable targets.

pub mod access;
pub mod actor;
pub mod checks;
pub mod policy;
pub mod priority;
pub mod reports;
pub mod sla;
pub mod stats;
pub mod templates;
pub mod tickets;
pub mod webhooks;
