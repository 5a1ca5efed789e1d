//! The dialog's state and rules, apart from drawing: which screen is shown, what the user typed, which calls are
//! on their way and what came back. Drawing reads it and calls its actions; actions queue requests in an outbox that
//! the window's shell sends to the agent, and answers come back through [`Model::answer`]. Nothing here touches a
//! socket, a clock or a display, so every screen's logic is a plain unit test.
//!
//! What the user typed is only ever cleared by the agent's acceptance: refusals, errors and a dead agent keep it.

use lifeline_shared::findings::Finding;
use lifeline_shared::wire::{ConsentWindow, LocalRequest, LocalResponse, TicketSummary, TicketThread};
use tracing::{debug, warn};

use crate::client::CallError;
use crate::i18n::{Lang, Texts};
use crate::text::{self, MAX_BODY, MAX_SUBJECT};

/// How long "Extend" keeps a consent window open from now.
pub const EXTEND_MINUTES: u32 = 60;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tab {
    Help,
    Tickets,
    Consent,
}

/// Where the "Request help" tab is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// What the agent sees, with advice, and "did this solve it?".
    Advice,
    /// Subject and description.
    Form,
    /// The user said the advice solved it.
    Solved,
    /// The help desk has it as this ticket.
    Accepted(u64),
    /// Kept by the agent until the help desk can be reached.
    Queued,
}

/// Something fetched from the agent.
#[derive(Clone, Debug, PartialEq)]
pub enum Load<T> {
    Loading,
    Ready(T),
    Failed(Msg),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Consents {
    pub windows: Vec<ConsentWindow>,
    pub unattended_class_a: bool,
}

/// A call on its way, by what it is for; the answer is matched against it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Job {
    Findings,
    Advice,
    Help,
    Tickets,
    Ticket(u64),
    Reply(u64),
    Solved(u64),
    Consents,
    Revoke(u64),
    Extend(u64),
}

/// Everything the dialog may tell the user besides the data itself; drawing turns each into words.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Msg {
    AgentDown,
    AgentUntrusted,
    AgentSlow,
    AgentBroken,
    /// The agent's own explanation, shown as it is.
    AgentSaid(String),
    SubjectMissing,
    SubjectTooLong {
        bytes: usize,
    },
    DescriptionTooLong {
        bytes: usize,
    },
    ReplyMissing,
    ReplyTooLong {
        bytes: usize,
    },
    ReplySent,
    ReplyQueued,
    SolvedSent,
    SolvedQueued,
    Revoked(u64),
    Extended(u64),
}

impl From<&CallError> for Msg {
    fn from(e: &CallError) -> Msg {
        match e {
            CallError::NoAgent(_) | CallError::Closed => Msg::AgentDown,
            CallError::NotTrusted { .. } => Msg::AgentUntrusted,
            CallError::TimedOut => Msg::AgentSlow,
            CallError::Io(_) | CallError::Garbled(_) => Msg::AgentBroken,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Notice {
    Error(Msg),
    Info(Msg),
}

pub struct Model {
    pub tab: Tab,
    pub step: Step,
    pub findings: Load<Vec<Finding>>,
    pub subject: String,
    pub description: String,
    pub tickets: Load<Vec<TicketSummary>>,
    /// The ticket whose thread is shown, if any.
    pub ticket: Option<u64>,
    pub thread: Load<TicketThread>,
    pub reply: String,
    pub consents: Load<Consents>,
    pub notice: Option<Notice>,
    /// The user's language, for the subject suggested from a finding; the window sets it.
    pub lang: Lang,
    pending: Vec<Job>,
    outbox: Vec<(Job, LocalRequest)>,
    /// Set when a screen opens or changes its main action, so drawing moves the keyboard focus there once.
    focus: bool,
}

impl Model {
    /// The dialog as it opens on `tab`, asking the agent for what that tab shows.
    pub fn new(tab: Tab) -> Model {
        let mut model = Model {
            tab,
            step: Step::Advice,
            findings: Load::Loading,
            subject: String::new(),
            description: String::new(),
            tickets: Load::Loading,
            ticket: None,
            thread: Load::Loading,
            reply: String::new(),
            consents: Load::Loading,
            notice: None,
            lang: Lang::En,
            pending: Vec::new(),
            outbox: Vec::new(),
            focus: true,
        };
        model.show_tab(tab);
        model
    }

    /// The dialog opened on one ticket, as a notification's click asks.
    pub fn on_ticket(number: u64) -> Model {
        let mut model = Model::new(Tab::Tickets);
        model.open_ticket(number);
        model
    }

    pub fn busy(&self, job: Job) -> bool {
        self.pending.contains(&job)
    }

    /// The requests to send now, each tagged with the job its answer belongs to.
    pub fn take_outbox(&mut self) -> Vec<(Job, LocalRequest)> {
        std::mem::take(&mut self.outbox)
    }

    /// True once after a screen opened: drawing gives the keyboard focus to its main widget.
    pub fn take_focus(&mut self) -> bool {
        std::mem::take(&mut self.focus)
    }

    /// A focus move is still to be drawn (the screen changed during this frame).
    pub fn focus_pending(&self) -> bool {
        self.focus
    }

    /// Queues a call. An act (sending, answering, revoking) is never sent twice while on its way; a load may be,
    /// since a refresh after a change must not be swallowed by a load that started before it.
    fn request(&mut self, job: Job, request: LocalRequest) {
        let load = matches!(job, Job::Findings | Job::Tickets | Job::Ticket(_) | Job::Consents);
        if !load && self.busy(job) {
            return;
        }
        self.pending.push(job);
        self.outbox.push((job, request));
    }

    fn go(&mut self, step: Step) {
        debug!(?step, "help step");
        self.step = step;
        self.focus = true;
    }

    pub fn show_tab(&mut self, tab: Tab) {
        debug!(?tab, "tab");
        self.tab = tab;
        self.notice = None;
        self.focus = true;
        match tab {
            // Findings cost the agent a fresh snapshot: asked for once, when the tab that shows them first opens.
            Tab::Help => {
                if self.findings == Load::Loading && !self.busy(Job::Findings) {
                    self.request(Job::Findings, LocalRequest::Findings);
                }
            }
            Tab::Tickets => {
                self.ticket = None;
                self.reload_tickets();
            }
            Tab::Consent => self.reload_consents(),
        }
    }

    /// The user read the advice: `solved` ends here, otherwise they go on to ask. Only advice actually shown is
    /// reported, so the help desk's "solved without a call" counts real self-help.
    pub fn advice_answer(&mut self, solved: bool) {
        if let Load::Ready(findings) = &self.findings
            && !findings.is_empty()
        {
            let shown = findings.iter().map(|f| f.kind).collect();
            self.request(Job::Advice, LocalRequest::AdviceOutcome { shown, solved });
        }
        self.go(if solved { Step::Solved } else { Step::Form });
    }

    pub fn send(&mut self) {
        if self.busy(Job::Help) {
            return;
        }
        let subject = text::line(&self.subject);
        let description = text::body(&self.description);
        let problem = if subject.is_empty() {
            Some(Msg::SubjectMissing)
        } else if subject.len() > MAX_SUBJECT {
            Some(Msg::SubjectTooLong { bytes: subject.len() })
        } else if description.len() > MAX_BODY {
            Some(Msg::DescriptionTooLong { bytes: description.len() })
        } else {
            None
        };
        match problem {
            Some(msg) => self.notice = Some(Notice::Error(msg)),
            None => {
                self.notice = None;
                self.request(Job::Help, LocalRequest::Help { subject, description });
            }
        }
    }

    /// After a request went out: the form again, empty, with the advice already read.
    pub fn new_request(&mut self) {
        self.notice = None;
        self.go(Step::Form);
    }

    pub fn reload_tickets(&mut self) {
        self.request(Job::Tickets, LocalRequest::Tickets);
    }

    pub fn open_ticket(&mut self, number: u64) {
        self.tab = Tab::Tickets;
        self.notice = None;
        if self.ticket != Some(number) {
            self.reply.clear();
        }
        self.ticket = Some(number);
        self.thread = Load::Loading;
        self.focus = true;
        debug!(number, "ticket");
        self.request(Job::Ticket(number), LocalRequest::Ticket { number });
    }

    pub fn close_ticket(&mut self) {
        self.ticket = None;
        self.notice = None;
        self.focus = true;
        self.reload_tickets();
    }

    pub fn send_reply(&mut self) {
        let Some(ticket) = self.ticket else { return };
        let reply = text::body(&self.reply);
        let problem = if reply.trim().is_empty() {
            Some(Msg::ReplyMissing)
        } else if reply.len() > MAX_BODY {
            Some(Msg::ReplyTooLong { bytes: reply.len() })
        } else {
            None
        };
        match problem {
            Some(msg) => self.notice = Some(Notice::Error(msg)),
            None => self.request(Job::Reply(ticket), LocalRequest::Reply { ticket, text: reply }),
        }
    }

    pub fn confirm_solved(&mut self) {
        if let Some(ticket) = self.ticket {
            self.request(Job::Solved(ticket), LocalRequest::Solved { ticket });
        }
    }

    pub fn reload_consents(&mut self) {
        self.request(Job::Consents, LocalRequest::Consents);
    }

    pub fn revoke(&mut self, ticket: u64) {
        self.request(Job::Revoke(ticket), LocalRequest::RevokeConsent { ticket });
    }

    pub fn extend(&mut self, ticket: u64) {
        self.request(Job::Extend(ticket), LocalRequest::ExtendConsent { ticket, minutes: EXTEND_MINUTES });
    }

    /// What the agent answered to `job` (or why it could not).
    pub fn answer(&mut self, job: Job, result: Result<LocalResponse, CallError>) {
        debug!(?job, ok = matches!(&result, Ok(r) if !matches!(r, LocalResponse::Error { .. })), "answer");
        if let Some(i) = self.pending.iter().position(|j| *j == job) {
            self.pending.remove(i);
        }
        let response = match result {
            Ok(LocalResponse::Error { message }) => Err(Msg::AgentSaid(message)),
            Ok(response) => Ok(response),
            Err(e) => {
                warn!(?job, error = %e, "call to the agent failed");
                Err(Msg::from(&e))
            }
        };
        match (job, response) {
            (Job::Findings, Ok(LocalResponse::Findings(findings))) => {
                if self.subject.trim().is_empty()
                    && let Some(first) = findings.first()
                {
                    let (summary, _) = Texts::new(self.lang).finding(first);
                    self.subject = text::clip(&text::line(&summary), MAX_SUBJECT).to_owned();
                }
                self.findings = Load::Ready(findings);
                self.focus |= self.tab == Tab::Help && self.step == Step::Advice;
            }
            (Job::Findings, Err(msg)) => {
                self.findings = Load::Failed(msg);
                self.focus |= self.tab == Tab::Help && self.step == Step::Advice;
            }
            (Job::Advice, Ok(_)) => {}
            // The user has moved on; a lost statistic is not worth interrupting them for.
            (Job::Advice, Err(msg)) => warn!(?msg, "advice outcome not saved"),
            (Job::Help, Ok(LocalResponse::HelpAccepted { ticket })) => self.sent(Step::Accepted(ticket)),
            (Job::Help, Ok(LocalResponse::HelpQueued)) => self.sent(Step::Queued),
            (Job::Tickets, Ok(LocalResponse::Tickets(tickets))) => {
                debug!(count = tickets.len(), "tickets");
                self.tickets = Load::Ready(tickets);
            }
            (Job::Tickets, Err(msg)) => self.tickets = Load::Failed(msg),
            (Job::Ticket(n), Ok(LocalResponse::Ticket(thread))) if self.ticket == Some(n) => {
                // The answer box appears with the thread: it takes the focus then, not on every refresh.
                self.focus |= self.thread == Load::Loading;
                self.thread = Load::Ready(thread);
            }
            (Job::Ticket(n), Err(msg)) if self.ticket == Some(n) => self.thread = Load::Failed(msg),
            (Job::Ticket(_), _) => {}
            (Job::Reply(n), Ok(LocalResponse::Saved { delivered })) => {
                self.reply.clear();
                self.notice = Some(Notice::Info(if delivered { Msg::ReplySent } else { Msg::ReplyQueued }));
                self.refresh_ticket(n);
            }
            (Job::Solved(n), Ok(LocalResponse::Saved { delivered })) => {
                self.notice = Some(Notice::Info(if delivered { Msg::SolvedSent } else { Msg::SolvedQueued }));
                self.refresh_ticket(n);
            }
            (Job::Consents, Ok(LocalResponse::Consents { windows, unattended_class_a })) => {
                self.consents = Load::Ready(Consents { windows, unattended_class_a })
            }
            (Job::Consents, Err(msg)) => self.consents = Load::Failed(msg),
            (Job::Revoke(n), Ok(LocalResponse::Done { .. })) => {
                self.notice = Some(Notice::Info(Msg::Revoked(n)));
                self.reload_consents();
            }
            (Job::Extend(n), Ok(LocalResponse::Done { .. })) => {
                self.notice = Some(Notice::Info(Msg::Extended(n)));
                self.reload_consents();
            }
            (_, Err(msg)) => self.notice = Some(Notice::Error(msg)),
            (job, Ok(other)) => {
                warn!(?job, ?other, "unexpected answer from the agent");
                self.notice = Some(Notice::Error(Msg::AgentBroken));
            }
        }
    }

    fn sent(&mut self, step: Step) {
        self.subject.clear();
        self.description.clear();
        self.notice = None;
        self.go(step);
    }

    /// A change the user made shows at once: the thread, and the list behind it.
    fn refresh_ticket(&mut self, number: u64) {
        if self.ticket == Some(number) {
            self.request(Job::Ticket(number), LocalRequest::Ticket { number });
        }
        self.reload_tickets();
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use lifeline_shared::findings::{FindingKind, Severity};
    use lifeline_shared::wire::{ThreadEntry, ThreadKind};

    pub fn disk_finding() -> Finding {
        Finding::new(FindingKind::DiskNearlyFull, Severity::Warning, "/home", Some(96.0))
    }

    pub fn thread(number: u64, status: &str) -> TicketThread {
        TicketThread {
            summary: TicketSummary { number, subject: "Printer".into(), status: status.into(), updated_at_ms: 0 },
            user: "ann".into(),
            entries: vec![
                ThreadEntry { seq: 1, at_ms: 0, kind: ThreadKind::Status { status: "new".into() } },
                ThreadEntry {
                    seq: 3,
                    at_ms: 0,
                    kind: ThreadKind::Reply { author: "bob".into(), text: "Is it switched on?".into() },
                },
            ],
        }
    }

    /// The requests in the outbox, without their jobs.
    fn sent(model: &mut Model) -> Vec<LocalRequest> {
        model.take_outbox().into_iter().map(|(_, r)| r).collect()
    }

    fn dead() -> CallError {
        CallError::NoAgent("/nonexistent/agent.sock".into())
    }

    #[test]
    fn opening_asks_for_findings_and_suggests_a_subject() {
        let mut model = Model::new(Tab::Help);
        assert_eq!(sent(&mut model), vec![LocalRequest::Findings]);
        assert!(model.busy(Job::Findings));
        model.answer(Job::Findings, Ok(LocalResponse::Findings(vec![disk_finding()])));
        assert!(!model.busy(Job::Findings));
        assert_eq!(model.subject, "The disk /home is 96% full.");
        assert!(matches!(&model.findings, Load::Ready(f) if f.len() == 1));
    }

    #[test]
    fn the_suggested_subject_is_in_the_users_language() {
        let mut model = Model::new(Tab::Help);
        model.lang = Lang::Nl;
        model.answer(Job::Findings, Ok(LocalResponse::Findings(vec![disk_finding()])));
        assert_eq!(model.subject, "De schijf /home is voor 96% vol.");
    }

    #[test]
    fn a_typed_subject_is_not_replaced_by_the_suggestion() {
        let mut model = Model::new(Tab::Help);
        model.advice_answer(false);
        model.subject = "My own words".into();
        model.answer(Job::Findings, Ok(LocalResponse::Findings(vec![disk_finding()])));
        assert_eq!(model.subject, "My own words");
    }

    #[test]
    fn the_advice_answer_is_reported_only_when_advice_was_shown() {
        let mut model = Model::new(Tab::Help);
        model.take_outbox();
        model.answer(Job::Findings, Ok(LocalResponse::Findings(vec![disk_finding()])));
        model.advice_answer(true);
        assert_eq!(model.step, Step::Solved);
        let report = LocalRequest::AdviceOutcome { shown: vec![FindingKind::DiskNearlyFull], solved: true };
        assert_eq!(sent(&mut model), vec![report]);

        let mut model = Model::new(Tab::Help);
        model.take_outbox();
        model.answer(Job::Findings, Ok(LocalResponse::Findings(vec![])));
        model.advice_answer(false);
        assert_eq!(model.step, Step::Form);
        assert_eq!(sent(&mut model), vec![]);

        // Skipped while the agent was still looking: nothing was shown.
        let mut model = Model::new(Tab::Help);
        model.take_outbox();
        model.advice_answer(false);
        assert_eq!(sent(&mut model), vec![]);
    }

    #[test]
    fn findings_that_cannot_be_had_do_not_block_the_request() {
        let mut model = Model::new(Tab::Help);
        model.answer(Job::Findings, Err(dead()));
        assert_eq!(model.findings, Load::Failed(Msg::AgentDown));
        model.advice_answer(false);
        assert_eq!(model.step, Step::Form);
    }

    fn form(subject: &str, description: &str) -> Model {
        let mut model = Model::new(Tab::Help);
        model.take_outbox();
        model.advice_answer(false);
        model.subject = subject.into();
        model.description = description.into();
        model
    }

    #[test]
    fn send_cleans_the_text_and_an_acceptance_clears_the_form() {
        let mut model = form(" Printer\tjams\n", "It beeps\u{7} twice\r\nthen stops\u{202E}");
        model.send();
        let help =
            LocalRequest::Help { subject: "Printer jams".into(), description: "It beeps twice\nthen stops".into() };
        assert_eq!(sent(&mut model), vec![help]);
        model.send();
        assert_eq!(sent(&mut model), vec![], "a second click while sending sends nothing");
        model.answer(Job::Help, Ok(LocalResponse::HelpAccepted { ticket: 42 }));
        assert_eq!(model.step, Step::Accepted(42));
        assert!(model.subject.is_empty() && model.description.is_empty());
    }

    #[test]
    fn queued_offline_says_so_and_clears_the_form() {
        let mut model = form("Printer", "");
        model.send();
        model.answer(Job::Help, Ok(LocalResponse::HelpQueued));
        assert_eq!(model.step, Step::Queued);
        assert!(model.subject.is_empty());
    }

    #[test]
    fn every_failure_keeps_what_was_typed() {
        let failures = [
            (Err(dead()), Msg::AgentDown),
            (Err(CallError::TimedOut), Msg::AgentSlow),
            (Err(CallError::Closed), Msg::AgentDown),
            (Err(CallError::NotTrusted { path: "/x".into(), owner: 7 }), Msg::AgentUntrusted),
            (Ok(LocalResponse::Error { message: "no".into() }), Msg::AgentSaid("no".into())),
            (Ok(LocalResponse::Tickets(vec![])), Msg::AgentBroken),
        ];
        for (result, expected) in failures {
            let mut model = form("Printer", "It beeps");
            model.send();
            model.answer(Job::Help, result);
            assert_eq!(model.notice, Some(Notice::Error(expected)));
            assert_eq!(
                (model.step.clone(), model.subject.as_str(), model.description.as_str()),
                (Step::Form, "Printer", "It beeps")
            );
            model.send();
            assert_eq!(sent(&mut model).len(), 2, "the user can try again");
        }
    }

    #[test]
    fn bad_input_is_refused_before_sending_and_kept() {
        let long = "x".repeat(MAX_BODY + 1);
        let cases = [
            ("", "text", Msg::SubjectMissing),
            (" \t\u{7}", "text", Msg::SubjectMissing),
            (&"s".repeat(MAX_SUBJECT + 1), "", Msg::SubjectTooLong { bytes: MAX_SUBJECT + 1 }),
            ("Printer", long.as_str(), Msg::DescriptionTooLong { bytes: MAX_BODY + 1 }),
        ];
        for (subject, description, expected) in cases {
            let mut model = form(subject, description);
            model.send();
            assert_eq!(sent(&mut model), vec![], "{subject:?}");
            assert_eq!(model.notice, Some(Notice::Error(expected)));
            assert_eq!((model.subject.as_str(), model.description.as_str()), (subject, description));
        }
        // Exactly at the limits is fine; control characters do not count against them.
        let mut model = form(&"s".repeat(MAX_SUBJECT), &format!("{}\u{0}", "d".repeat(MAX_BODY)));
        model.send();
        assert_eq!(sent(&mut model).len(), 1);
    }

    #[test]
    fn tickets_list_and_thread() {
        let mut model = Model::new(Tab::Tickets);
        assert_eq!(sent(&mut model), vec![LocalRequest::Tickets]);
        let summary = thread(5, "open").summary;
        model.answer(Job::Tickets, Ok(LocalResponse::Tickets(vec![summary.clone()])));
        assert_eq!(model.tickets, Load::Ready(vec![summary]));
        model.open_ticket(5);
        assert_eq!(sent(&mut model), vec![LocalRequest::Ticket { number: 5 }]);
        model.answer(Job::Ticket(5), Ok(LocalResponse::Ticket(thread(5, "open"))));
        assert_eq!(model.thread, Load::Ready(thread(5, "open")));
        // An answer for a ticket the user already left is dropped.
        model.open_ticket(6);
        model.answer(Job::Ticket(5), Ok(LocalResponse::Ticket(thread(5, "open"))));
        assert_eq!(model.thread, Load::Loading);
    }

    #[test]
    fn a_reply_is_checked_sent_and_the_thread_reloaded() {
        let mut model = Model::on_ticket(5);
        model.take_outbox();
        model.answer(Job::Ticket(5), Ok(LocalResponse::Ticket(thread(5, "resolved"))));
        model.send_reply();
        assert_eq!(model.notice, Some(Notice::Error(Msg::ReplyMissing)));
        model.reply = "It is\u{1b} still broken".into();
        model.send_reply();
        assert_eq!(sent(&mut model), vec![LocalRequest::Reply { ticket: 5, text: "It is still broken".into() }]);
        model.answer(Job::Reply(5), Err(CallError::TimedOut));
        assert_eq!(model.reply, "It is\u{1b} still broken", "kept after a failure");
        model.send_reply();
        model.take_outbox();
        model.answer(Job::Reply(5), Ok(LocalResponse::Saved { delivered: false }));
        assert_eq!(model.notice, Some(Notice::Info(Msg::ReplyQueued)));
        assert!(model.reply.is_empty());
        assert_eq!(sent(&mut model), vec![LocalRequest::Ticket { number: 5 }, LocalRequest::Tickets]);
    }

    #[test]
    fn an_oversized_reply_is_refused() {
        let mut model = Model::on_ticket(5);
        model.take_outbox();
        model.reply = "r".repeat(MAX_BODY + 1);
        model.send_reply();
        assert_eq!(sent(&mut model), vec![]);
        assert_eq!(model.notice, Some(Notice::Error(Msg::ReplyTooLong { bytes: MAX_BODY + 1 })));
    }

    #[test]
    fn solved_is_confirmed() {
        let mut model = Model::on_ticket(5);
        model.take_outbox();
        model.confirm_solved();
        assert_eq!(sent(&mut model), vec![LocalRequest::Solved { ticket: 5 }]);
        model.answer(Job::Solved(5), Ok(LocalResponse::Saved { delivered: true }));
        assert_eq!(model.notice, Some(Notice::Info(Msg::SolvedSent)));
        assert_eq!(sent(&mut model), vec![LocalRequest::Ticket { number: 5 }, LocalRequest::Tickets]);
    }

    #[test]
    fn findings_are_asked_for_once_when_their_tab_first_opens() {
        let mut model = Model::on_ticket(3);
        assert_eq!(sent(&mut model), vec![LocalRequest::Tickets, LocalRequest::Ticket { number: 3 }]);
        model.show_tab(Tab::Help);
        model.show_tab(Tab::Help);
        assert_eq!(sent(&mut model), vec![LocalRequest::Findings]);
        model.answer(Job::Findings, Ok(LocalResponse::Findings(vec![])));
        model.show_tab(Tab::Help);
        assert_eq!(sent(&mut model), vec![]);
    }

    #[test]
    fn consent_list_revoke_and_extend() {
        let mut model = Model::new(Tab::Consent);
        assert_eq!(sent(&mut model), vec![LocalRequest::Consents]);
        let window = ConsentWindow { ticket: 9, user: "ann".into(), until_ms: 1 };
        let listed = LocalResponse::Consents { windows: vec![window.clone()], unattended_class_a: true };
        model.answer(Job::Consents, Ok(listed));
        assert_eq!(model.consents, Load::Ready(Consents { windows: vec![window], unattended_class_a: true }));
        model.revoke(9);
        model.extend(9);
        let expected = vec![
            LocalRequest::RevokeConsent { ticket: 9 },
            LocalRequest::ExtendConsent { ticket: 9, minutes: EXTEND_MINUTES },
        ];
        assert_eq!(sent(&mut model), expected);
        model.answer(Job::Revoke(9), Ok(LocalResponse::Done { message: "revoked".into() }));
        assert_eq!(model.notice, Some(Notice::Info(Msg::Revoked(9))));
        assert_eq!(sent(&mut model), vec![LocalRequest::Consents]);
        model.answer(Job::Extend(9), Ok(LocalResponse::Error { message: "no window for ticket 9".into() }));
        assert_eq!(model.notice, Some(Notice::Error(Msg::AgentSaid("no window for ticket 9".into()))));
    }
}
