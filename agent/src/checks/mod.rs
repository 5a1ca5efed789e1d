//! The check runner: the agent's own gate in front of every approved check. Whatever the server says, a check runs
//! only if its parameters pass the catalog's validation here, this machine's policy allows it, and a consent window
//! for its ticket is open (or the admin's policy allows class A checks unattended). Every request, run or refused,
//! lands in the user's history. Checks are native Rust: nothing here can start a program.

mod cups;
mod dbus;
mod journal;
mod native;
#[cfg(target_os = "linux")]
mod traceroute;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use lifeline_shared::catalog::{Check, Class};
use lifeline_shared::wire::{CheckOutcome, CheckReport, CheckRequest, HistoryEntry};
use tracing::{info, warn};

use crate::config::Config;
use crate::consent::{Consents, History};

pub struct Runner {
    pub config: Config,
    pub consents: Arc<Mutex<Consents>>,
    pub history: History,
    /// Run ids already handled. The server sends a run again until its result arrives, so a check whose result is
    /// still in the spool is never run twice.
    handled: Mutex<HashSet<u64>>,
}

impl Runner {
    pub fn new(config: Config, consents: Consents, history: History) -> Runner {
        let handled = history.read().iter().map(|h| h.run).collect();
        Runner { config, consents: Arc::new(Mutex::new(consents)), history, handled: Mutex::new(handled) }
    }

    /// `None` when this run was handled before; its result is on its way. `link` is the connection the request
    /// came on, for checks that measure it.
    pub async fn run(
        &self,
        request: CheckRequest,
        now_ms: u64,
        link: Option<&quinn::Connection>,
    ) -> Option<CheckReport> {
        if !self.handled.lock().map(|mut h| h.insert(request.id)).unwrap_or(false) {
            info!(id = request.id, "check already handled; not run again");
            return None;
        }
        let description = request.check.describe();
        let outcome = match self.gate(&request, now_ms) {
            Err(reason) => CheckOutcome::Refused { reason },
            Ok(()) => self.execute(&request.check, link).await,
        };
        let summary = match &outcome {
            CheckOutcome::Done { .. } => "done".to_owned(),
            CheckOutcome::Refused { reason } => format!("refused: {reason}"),
            CheckOutcome::Failed { error } => format!("failed: {error}"),
            CheckOutcome::TimedOut { .. } => "timed out".to_owned(),
        };
        info!(id = request.id, technician = %request.technician, ticket = ?request.ticket, check = %description, outcome = %summary, "check requested");
        self.history.append(&HistoryEntry {
            at_ms: now_ms,
            technician: request.technician.clone(),
            ticket: request.ticket,
            check: description,
            outcome: summary,
            run: request.id,
        });
        Some(CheckReport { id: request.id, outcome })
    }

    fn gate(&self, request: &CheckRequest, now_ms: u64) -> Result<(), String> {
        let check = &request.check;
        check.validate().map_err(|e| e.to_string())?;
        let definition = check.definition();
        if self.config.disabled_checks.iter().any(|d| d == definition.name) {
            return Err(format!("{} is disabled by this machine's policy", definition.name));
        }
        if definition.class == Class::C && !self.config.enable_class_c {
            return Err("fixes (class C) are disabled by this machine's policy".into());
        }
        if let Check::RestartService { unit } = check
            && !self.config.restartable_services.contains(unit)
        {
            return Err(format!("{unit} is not on this machine's list of restartable services"));
        }
        let consented =
            request.ticket.is_some_and(|t| self.consents.lock().map(|c| c.allows(t, now_ms)).unwrap_or(false));
        if consented || (definition.class == Class::A && self.config.unattended_class_a) {
            return Ok(());
        }
        Err(match request.ticket {
            Some(t) => format!("the user's consent window for ticket {t} is not open"),
            None => "no ticket given, and this machine's policy does not allow unattended checks".into(),
        })
    }

    async fn execute(&self, check: &Check, link: Option<&quinn::Connection>) -> CheckOutcome {
        let definition = check.definition();
        let started = Instant::now();
        let limit = definition.time_limit;
        match tokio::time::timeout(limit, native::run(check, &self.config, link)).await {
            Err(_) => CheckOutcome::TimedOut { limit_ms: u64::try_from(limit.as_millis()).unwrap_or(u64::MAX) },
            Ok(Err(error)) => {
                warn!(check = definition.name, %error, "check failed");
                CheckOutcome::Failed { error }
            }
            Ok(Ok(mut output)) => {
                if output.len() > definition.max_output {
                    let mut cut = definition.max_output;
                    while !output.is_char_boundary(cut) {
                        cut -= 1;
                    }
                    output.truncate(cut);
                    output.push_str("\n[output cut at the check's size limit]\n");
                }
                CheckOutcome::Done { output, elapsed_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(0) }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runner(dir: &std::path::Path, config: Config) -> Runner {
        let history = History::new(&dir.join("history.jsonl"), tokio::sync::broadcast::channel(1).0);
        Runner::new(config, Consents::open(&dir.join("consent.json")), history)
    }

    fn request(ticket: Option<u64>, check: Check) -> CheckRequest {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        let id = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        CheckRequest { id, ticket, technician: "bob".into(), check }
    }

    fn reason(outcome: &CheckOutcome) -> &str {
        match outcome {
            CheckOutcome::Refused { reason } => reason,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn the_agent_refuses_what_its_own_rules_forbid_and_records_everything() {
        let dir = tempfile::tempdir().unwrap();
        let r = runner(dir.path(), Config { disabled_checks: vec!["listening-ports".into()], ..Config::default() });
        r.consents.lock().unwrap().open_window(5, "ann", 0, 60_000).unwrap();

        let cases = [
            (request(None, Check::SystemSummary), "no ticket given"),
            (request(Some(6), Check::SystemSummary), "consent window for ticket 6 is not open"),
            (request(Some(5), Check::ListeningPorts), "disabled by this machine's policy"),
            (request(Some(5), Check::DiskUsage { path: "/a/../etc".into() }), "'..'"),
            (request(Some(5), Check::TopProcesses { count: 0 }), "1 to 50"),
        ];
        for (req, expected) in cases {
            let report = r.run(req, 1_000, None).await.unwrap();
            assert!(reason(&report.outcome).contains(expected), "{:?}", report.outcome);
        }
        let expired = r.run(request(Some(5), Check::SystemSummary), 60_000, None).await.unwrap();
        assert!(reason(&expired.outcome).contains("not open"));

        let done = r.run(request(Some(5), Check::DiskUsage { path: "/".into() }), 1_000, None).await.unwrap();
        assert!(matches!(&done.outcome, CheckOutcome::Done { output, .. } if output.contains("total")), "{done:?}");
        let history = r.history.read();
        assert_eq!(history.len(), 7, "every request, refused or run, is in the user's history");
        assert_eq!(history[6].outcome, "done");
    }

    #[tokio::test]
    async fn unattended_policy_covers_class_a_only() {
        let dir = tempfile::tempdir().unwrap();
        let r = runner(dir.path(), Config { unattended_class_a: true, ..Config::default() });
        let a = r.run(request(None, Check::DiskUsage { path: "/".into() }), 0, None).await.unwrap();
        assert!(matches!(a.outcome, CheckOutcome::Done { .. }), "{a:?}");
        let b = r.run(request(None, Check::ProcessList { command_lines: false }), 0, None).await.unwrap();
        assert!(reason(&b.outcome).contains("no ticket"));
    }

    #[tokio::test]
    async fn fixes_need_class_c_enabled_and_an_allow_listed_unit() {
        let dir = tempfile::tempdir().unwrap();
        let restart = |unit: &str| request(Some(5), Check::RestartService { unit: unit.into() });
        let off = runner(dir.path(), Config { restartable_services: vec!["cups.service".into()], ..Config::default() });
        off.consents.lock().unwrap().open_window(5, "ann", 0, 60_000).unwrap();
        assert!(reason(&off.run(restart("cups.service"), 1, None).await.unwrap().outcome).contains("class C"));

        let on = Runner {
            config: Config {
                enable_class_c: true,
                restartable_services: vec!["cups.service".into()],
                ..Config::default()
            },
            ..off
        };
        assert!(
            reason(&on.run(restart("sshd.service"), 1, None).await.unwrap().outcome)
                .contains("not on this machine's list")
        );
        // Allowed: it really asks systemd, which answers or is missing; either way it is not a refusal.
        let allowed = on.run(restart("cups.service"), 1, None).await.unwrap();
        assert!(!matches!(allowed.outcome, CheckOutcome::Refused { .. }), "{allowed:?}");
    }

    #[tokio::test]
    async fn clearing_a_print_queue_is_a_fix_and_its_printer_is_checked_here_too() {
        let dir = tempfile::tempdir().unwrap();
        let clear = |printer: &str| request(Some(5), Check::ClearPrintQueue { printer: printer.into() });
        let off = runner(dir.path(), Config::default());
        off.consents.lock().unwrap().open_window(5, "ann", 0, 60_000).unwrap();
        assert!(reason(&off.run(clear("office"), 1, None).await.unwrap().outcome).contains("class C"));

        let config = Config { enable_class_c: true, cups_socket: dir.path().join("cups.sock"), ..Config::default() };
        let on = Runner { config, ..off };
        for forged in ["../x", "a b", ";rm", "", "office@elsewhere"] {
            assert!(reason(&on.run(clear(forged), 1, None).await.unwrap().outcome).contains("CUPS queue name"));
        }
        let ran = on.run(clear("office"), 1, None).await.unwrap();
        assert!(
            matches!(&ran.outcome, CheckOutcome::Failed { error } if error.contains("CUPS is not running")),
            "{ran:?}"
        );
    }

    #[tokio::test]
    async fn a_run_sent_again_is_not_run_again_even_after_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let r = runner(dir.path(), Config { unattended_class_a: true, ..Config::default() });
        let req = request(None, Check::DiskUsage { path: "/".into() });
        assert!(r.run(req.clone(), 0, None).await.is_some());
        assert!(r.run(req.clone(), 0, None).await.is_none());
        let restarted = runner(dir.path(), Config { unattended_class_a: true, ..Config::default() });
        assert!(restarted.run(req, 0, None).await.is_none());
        assert_eq!(restarted.history.read().len(), 1);
    }
}
