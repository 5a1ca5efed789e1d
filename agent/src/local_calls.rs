//! What the agent does for each request a local user sends through its socket ([`crate::local_api`] is the socket
//! side): answers from what this machine keeps (consent windows, the checks' history, ticket threads, findings), and
//! requests for the server (help, answers on a ticket, self-help outcomes), which are spooled and answered once the
//! server has acknowledged them, or at once as queued while it cannot.

use std::collections::HashMap;

use lifeline_shared::findings;
use lifeline_shared::wire::{
    HelpRequest, LocalRequest, LocalResponse, Request, SelfHelpReport, UserAction, UserTicketAction,
};
use tokio::sync::{Notify, oneshot, watch};
use tracing::{debug, info, warn};

use crate::collect::Collector;
use crate::link::{Link, LocalCall, SharedSpool, snapshot, spool_push};
use crate::now_ms;
use crate::spool::Kind;

/// A local user waiting for the server to acknowledge what they sent, and what they are told if the link drops first.
pub(crate) struct Waiting {
    pub(crate) reply: oneshot::Sender<LocalResponse>,
    pub(crate) queued: LocalResponse,
}

impl Link {
    /// Answers `call`, at once or, for what goes to the server, once it is safe in the spool or acknowledged.
    pub(crate) async fn local_call(&self, call: LocalCall, collector: &mut Collector, outbox: Outbox<'_>) {
        let LocalCall { user, request, reply } = call;
        let answer = match request {
            LocalRequest::Help { subject, description } => {
                let snapshot = snapshot(collector, outbox.conn, &self.identity.server).await;
                let help = HelpRequest { id: rand::random(), user, subject, description, snapshot };
                info!(id = %hex::encode(help.id), "help request");
                return outbox.spooled(Request::Help(help), reply, LocalResponse::HelpQueued).await;
            }
            LocalRequest::Consents => {
                let windows = self.runner.consents.lock().map(|c| c.list(now_ms())).unwrap_or_default();
                LocalResponse::Consents { windows, unattended_class_a: self.config.unattended_class_a }
            }
            LocalRequest::RevokeConsent { ticket } => {
                let result = self
                    .runner
                    .consents
                    .lock()
                    .map_err(|_| "consent store unavailable".to_owned())
                    .and_then(|mut c| c.revoke(ticket, &user, now_ms()).map_err(|e| e.to_string()));
                info!(ticket, %user, ok = result.is_ok(), "user revoked consent");
                match result {
                    Ok(()) => LocalResponse::Done {
                        message: format!("technicians can no longer run checks for ticket {ticket}"),
                    },
                    Err(message) => LocalResponse::Error { message },
                }
            }
            LocalRequest::ExtendConsent { ticket, minutes } => {
                let result = self
                    .runner
                    .consents
                    .lock()
                    .map_err(|_| "consent store unavailable".to_owned())
                    .and_then(|mut c| c.extend(ticket, &user, minutes, now_ms()).map_err(|e| e.to_string()));
                match result {
                    Ok(until) => LocalResponse::Done {
                        message: format!("consent for ticket {ticket} extended until {}", crate::utc(until)),
                    },
                    Err(message) => LocalResponse::Error { message },
                }
            }
            LocalRequest::History => LocalResponse::History(self.runner.history.read()),
            LocalRequest::Tickets => {
                LocalResponse::Tickets(self.book.lock().map(|b| b.list(&user)).unwrap_or_default())
            }
            LocalRequest::Ticket { number } => {
                match self.book.lock().ok().and_then(|b| b.get(&user, number).cloned()) {
                    Some(thread) => LocalResponse::Ticket(thread),
                    None => LocalResponse::Error { message: no_such_ticket(number) },
                }
            }
            LocalRequest::Reply { ticket, text } => {
                return self.user_action(outbox, user, ticket, UserAction::Reply { text }, reply).await;
            }
            LocalRequest::Solved { ticket } => {
                return self.user_action(outbox, user, ticket, UserAction::Solved, reply).await;
            }
            LocalRequest::Findings => {
                let snapshot = snapshot(collector, outbox.conn, &self.identity.server).await;
                LocalResponse::Findings(findings::evaluate(&snapshot))
            }
            LocalRequest::AdviceOutcome { shown, solved } => {
                info!(%user, solved, shown = shown.len(), "self-help advice shown");
                let report = SelfHelpReport { id: rand::random(), user, at_ms: now_ms(), shown, solved };
                return outbox
                    .spooled(Request::SelfHelp(report), reply, LocalResponse::Saved { delivered: false })
                    .await;
            }
            // Served by the socket task itself, which holds the subscription; it never comes here.
            LocalRequest::Subscribe => LocalResponse::Error { message: "subscribe on its own connection".into() },
        };
        let _ = reply.send(answer);
    }

    /// A user may answer or close only their own ticket, and not once it is closed; the server checks again.
    fn may_act(&self, user: &str, ticket: u64, action: &UserAction) -> Result<(), String> {
        if let UserAction::Reply { text } = action
            && (text.trim().is_empty() || text.len() > MAX_ANSWER)
        {
            return Err(format!("an answer must be 1 to {MAX_ANSWER} bytes"));
        }
        let book = self.book.lock().map_err(|_| "ticket store unavailable".to_owned())?;
        match book.get(user, ticket) {
            None => Err(no_such_ticket(ticket)),
            Some(t) if t.summary.status == "closed" => {
                Err(format!("ticket {ticket} is closed; ask for help again to open a new one"))
            }
            Some(_) => Ok(()),
        }
    }

    async fn user_action(
        &self,
        outbox: Outbox<'_>,
        user: String,
        ticket: u64,
        action: UserAction,
        reply: oneshot::Sender<LocalResponse>,
    ) {
        if let Err(message) = self.may_act(&user, ticket, &action) {
            let _ = reply.send(LocalResponse::Error { message });
            return;
        }
        info!(%user, ticket, solved = matches!(action, UserAction::Solved), "user acted on their ticket");
        let request =
            Request::UserTicket(UserTicketAction { id: rand::random(), user, ticket, at_ms: now_ms(), action });
        outbox.spooled(request, reply, LocalResponse::Saved { delivered: false }).await;
    }
}

/// As the server's own limit on replies: an answer it would refuse is refused here, before the user leaves it.
const MAX_ANSWER: usize = lifeline_shared::wire::MAX_BODY;

fn no_such_ticket(number: u64) -> String {
    format!("no ticket {number} of yours on this computer")
}

/// What a local call needs to send something through the spool and wait for the server's acknowledgement.
pub(crate) struct Outbox<'a> {
    pub(crate) spool: &'a SharedSpool,
    pub(crate) wake: &'a Notify,
    pub(crate) conn: &'a watch::Receiver<Option<quinn::Connection>>,
    /// The server said it cannot store anything right now: nobody waits for it.
    pub(crate) deferring: bool,
    pub(crate) waiting: &'a mut HashMap<u64, Waiting>,
}

impl Outbox<'_> {
    /// Spools `request` (never dropped for room) and answers the user when the server acknowledges it, or at once
    /// with `queued` while offline: either way it is safe on disk.
    async fn spooled(self, request: Request, reply: oneshot::Sender<LocalResponse>, queued: LocalResponse) {
        match spool_push(self.spool, Kind::Kept, request).await {
            Ok(Some(seq)) => {
                debug!(seq, "spooled for a local user");
                if self.conn.borrow().is_some() && !self.deferring {
                    self.waiting.insert(seq, Waiting { reply, queued });
                } else {
                    let _ = reply.send(queued);
                }
                self.wake.notify_one();
            }
            Ok(None) => {
                let _ = reply.send(LocalResponse::Error { message: "it could not be saved: the spool is full".into() });
            }
            Err(e) => {
                warn!("{e:#}");
                let _ = reply.send(LocalResponse::Error { message: format!("it could not be saved: {e}") });
            }
        }
    }
}
