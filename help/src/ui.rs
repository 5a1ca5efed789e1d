//! Drawing the dialog from the [`Model`], and the window's shell that carries the model's requests to the agent.
//! Every interactive widget has a visible label that is also its accessible name, so screen readers and tests
//! find the same words the user sees; the main widget of each screen takes the keyboard focus when it opens.

use std::sync::mpsc;
use std::time::Duration;

use eframe::egui::{self, Key, Modifiers, RichText};
use lifeline_shared::wire::{LocalResponse, ThreadKind, TicketThread};

use crate::client::{Agent, CallError};
use crate::i18n::{Arg, Lang, Texts};
use crate::model::{EXTEND_MINUTES, Job, Load, Model, Msg, Notice, Step, Tab};
use crate::notify::{minutes_left, status_text};
use crate::text::{MAX_BODY, MAX_SUBJECT};

type Answer = (Job, Result<LocalResponse, CallError>);

/// The window: the model, its words, and the calls on their way.
struct HelpApp {
    model: Model,
    texts: Texts,
    agent: Agent,
    answers: mpsc::Receiver<Answer>,
    answers_tx: mpsc::Sender<Answer>,
    ctx: egui::Context,
}

pub fn run(mut model: Model, agent: Agent, lang: Lang) -> eframe::Result {
    let texts = Texts::new(lang);
    model.lang = lang;
    let viewport = egui::ViewportBuilder::default()
        .with_title(texts.get("app-title"))
        // Matches the launcher's StartupWMClass, so the desktop groups the window with it.
        .with_app_id("lifeline-help")
        .with_inner_size([560.0, 640.0])
        .with_min_inner_size([360.0, 420.0]);
    let options = eframe::NativeOptions { viewport, ..Default::default() };
    eframe::run_native(
        "lifeline-help",
        options,
        Box::new(move |cc| {
            let (answers_tx, answers) = mpsc::channel();
            Ok(Box::new(HelpApp { model, texts, agent, answers, answers_tx, ctx: cc.egui_ctx.clone() }))
        }),
    )
}

impl eframe::App for HelpApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        while let Ok((job, result)) = self.answers.try_recv() {
            self.model.answer(job, result);
        }
        draw(ui, &mut self.model, &self.texts, crate::now_ms());
        // Each call on its own thread: a Findings call may take seconds, and must not hold up the ticket list.
        for (job, request) in self.model.take_outbox() {
            let (agent, tx, ctx) = (self.agent.clone(), self.answers_tx.clone(), self.ctx.clone());
            std::thread::spawn(move || {
                let result = agent.call(&request);
                let _ = tx.send((job, result));
                ctx.request_repaint();
            });
        }
    }
}

/// The whole dialog for one frame, at `now_ms`.
pub fn draw(ui: &mut egui::Ui, model: &mut Model, texts: &Texts, now_ms: u64) {
    let focus = model.take_focus();
    egui::Panel::top("tabs").show(ui, |ui| {
        ui.horizontal(|ui| {
            for (tab, id) in [(Tab::Help, "tab-help"), (Tab::Tickets, "tab-tickets"), (Tab::Consent, "tab-consent")] {
                if ui.selectable_label(model.tab == tab, texts.get(id)).clicked() {
                    model.show_tab(tab);
                }
            }
        });
    });
    egui::CentralPanel::default().show(ui, |ui| {
        if let Some(notice) = &model.notice {
            let (msg, color) = match notice {
                Notice::Error(msg) => (msg, ui.visuals().error_fg_color),
                Notice::Info(msg) => (msg, ui.visuals().hyperlink_color),
            };
            ui.label(RichText::new(msg_text(texts, msg)).color(color));
            ui.add_space(6.0);
        }
        egui::ScrollArea::vertical().auto_shrink([false, false]).show(ui, |ui| match model.tab {
            Tab::Help => help(ui, model, texts, focus),
            Tab::Tickets => match model.ticket {
                Some(number) => ticket(ui, model, texts, number, now_ms, focus),
                None => tickets(ui, model, texts, focus),
            },
            Tab::Consent => consent(ui, model, texts, now_ms, focus),
        });
    });
    if model.focus_pending() {
        ui.ctx().request_repaint();
    }
}

/// A button that takes the keyboard focus when its screen opens.
fn main_button(ui: &mut egui::Ui, text: String, focus: bool) -> bool {
    let response = ui.button(text);
    if focus {
        response.request_focus();
    }
    response.clicked()
}

fn close(ui: &egui::Ui) {
    ui.ctx().send_viewport_cmd(egui::ViewportCommand::Close);
}

fn help(ui: &mut egui::Ui, model: &mut Model, texts: &Texts, focus: bool) {
    match model.step.clone() {
        Step::Advice => advice(ui, model, texts, focus),
        Step::Form => form(ui, model, texts, focus),
        Step::Solved => {
            ui.heading(texts.get("solved-title"));
            ui.label(texts.get("solved-body"));
            ui.horizontal(|ui| {
                if main_button(ui, texts.get("close"), focus) {
                    close(ui);
                }
                if ui.button(texts.get("solved-still-need-help")).clicked() {
                    model.new_request();
                }
            });
        }
        Step::Accepted(number) => {
            ui.heading(texts.with("sent-accepted", &[("ticket", Arg::Num(number))]));
            ui.label(texts.get("sent-next"));
            after_sending(ui, model, texts, focus);
        }
        Step::Queued => {
            ui.heading(texts.get("sent-queued-title"));
            ui.label(texts.get("sent-queued"));
            after_sending(ui, model, texts, focus);
        }
    }
}

fn after_sending(ui: &mut egui::Ui, model: &mut Model, texts: &Texts, focus: bool) {
    ui.add_space(8.0);
    ui.horizontal(|ui| {
        if main_button(ui, texts.get("close"), focus) {
            close(ui);
        }
        if ui.button(texts.get("sent-show-tickets")).clicked() {
            model.show_tab(Tab::Tickets);
        }
        if ui.button(texts.get("sent-another")).clicked() {
            model.new_request();
        }
    });
}

fn advice(ui: &mut egui::Ui, model: &mut Model, texts: &Texts, focus: bool) {
    ui.heading(texts.get("advice-title"));
    ui.add_space(6.0);
    match &model.findings {
        Load::Loading => {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label(texts.get("advice-looking"));
            });
            if main_button(ui, texts.get("advice-skip"), focus) {
                model.advice_answer(false);
            }
        }
        // Why is told if sending fails too; here it only means there is no advice to show.
        Load::Failed(_) => {
            ui.label(texts.get("advice-unavailable"));
            if main_button(ui, texts.get("advice-continue"), focus) {
                model.advice_answer(false);
            }
        }
        Load::Ready(findings) if findings.is_empty() => {
            ui.label(texts.get("advice-none"));
            if main_button(ui, texts.get("advice-continue"), focus) {
                model.advice_answer(false);
            }
        }
        Load::Ready(findings) => {
            for finding in findings {
                let (summary, advice) = texts.finding(finding);
                ui.strong(summary);
                ui.label(advice);
                ui.add_space(6.0);
            }
            ui.label(texts.get("advice-question"));
            ui.horizontal(|ui| {
                if main_button(ui, texts.get("advice-not-solved"), focus) {
                    model.advice_answer(false);
                }
                if ui.button(texts.get("advice-solved")).clicked() {
                    model.advice_answer(true);
                }
            });
        }
    }
}

fn form(ui: &mut egui::Ui, model: &mut Model, texts: &Texts, focus: bool) {
    // Before the text fields see it: Ctrl+Enter sends from anywhere in the form.
    if ui.input_mut(|i| i.consume_key(Modifiers::COMMAND, Key::Enter)) {
        model.send();
    }
    ui.heading(texts.get("form-title"));
    ui.add_space(6.0);
    let label = ui.label(texts.get("form-subject"));
    let subject = ui.add(egui::TextEdit::singleline(&mut model.subject).desired_width(f32::INFINITY));
    let subject = subject.labelled_by(label.id);
    if focus {
        subject.request_focus();
    }
    ui.add_space(6.0);
    let label = ui.label(texts.get("form-description"));
    // A long description scrolls in its own box, so Send never leaves the window.
    egui::ScrollArea::vertical().id_salt("description").max_height(220.0).show(ui, |ui| {
        ui.add(egui::TextEdit::multiline(&mut model.description).desired_rows(8).desired_width(f32::INFINITY))
            .labelled_by(label.id);
    });
    if model.description.len() > MAX_BODY {
        let over = texts.with(
            "form-too-long",
            &[("bytes", Arg::Num(model.description.len() as u64)), ("max", Arg::Num(MAX_BODY as u64))],
        );
        ui.label(RichText::new(over).color(ui.visuals().error_fg_color));
    }
    ui.add_space(6.0);
    ui.horizontal(|ui| {
        let sending = model.busy(Job::Help);
        let text = texts.get(if sending { "form-sending" } else { "form-send" });
        if ui.add_enabled(!sending, egui::Button::new(text)).clicked() {
            model.send();
        }
        if sending {
            ui.spinner();
        }
        ui.weak(texts.get("form-send-hint"));
    });
}

fn tickets(ui: &mut egui::Ui, model: &mut Model, texts: &Texts, focus: bool) {
    ui.horizontal(|ui| {
        ui.heading(texts.get("tickets-title"));
        if main_button(ui, texts.get("refresh"), focus) {
            model.reload_tickets();
        }
    });
    ui.add_space(6.0);
    let mut open = None;
    match &model.tickets {
        Load::Loading => loading(ui, texts),
        Load::Failed(msg) => {
            ui.label(msg_text(texts, msg));
        }
        Load::Ready(list) if list.is_empty() => {
            ui.label(texts.get("tickets-none"));
        }
        Load::Ready(list) => {
            egui::Grid::new("tickets").striped(true).num_columns(4).show(ui, |ui| {
                for t in list {
                    ui.label(format!("#{}", t.number));
                    ui.label(&t.subject);
                    ui.label(status_text(texts, &t.status));
                    if ui.button(texts.with("tickets-open", &[("ticket", Arg::Num(t.number))])).clicked() {
                        open = Some(t.number);
                    }
                    ui.end_row();
                }
            });
        }
    }
    if let Some(number) = open {
        model.open_ticket(number);
    }
}

fn loading(ui: &mut egui::Ui, texts: &Texts) {
    ui.horizontal(|ui| {
        ui.spinner();
        ui.label(texts.get("loading"));
    });
}

fn ticket(ui: &mut egui::Ui, model: &mut Model, texts: &Texts, number: u64, now_ms: u64, focus: bool) {
    if main_button(ui, texts.get("ticket-back"), focus && !matches!(model.thread, Load::Ready(_))) {
        model.close_ticket();
        return;
    }
    let thread = match &model.thread {
        Load::Loading => {
            ui.heading(format!("#{number}"));
            return loading(ui, texts);
        }
        Load::Failed(msg) => {
            ui.heading(format!("#{number}"));
            ui.label(msg_text(texts, msg));
            return;
        }
        Load::Ready(thread) => thread.clone(),
    };
    let status = thread.summary.status.as_str();
    ui.heading(
        texts.with(
            "ticket-title",
            &[("ticket", Arg::Num(number)), ("subject", Arg::Text(thread.summary.subject.clone()))],
        ),
    );
    ui.label(texts.with("ticket-status", &[("status", Arg::Text(status_text(texts, status)))]));
    ui.separator();
    entries(ui, texts, &thread, now_ms);
    ui.separator();
    if status == "closed" {
        ui.label(texts.get("ticket-closed"));
        return;
    }
    if status == "resolved" {
        ui.label(texts.get("ticket-reopen-hint"));
    }
    let label = ui.label(texts.get("ticket-answer"));
    let reply = ui
        .add(egui::TextEdit::multiline(&mut model.reply).desired_rows(4).desired_width(f32::INFINITY))
        .labelled_by(label.id);
    if focus {
        reply.request_focus();
    }
    ui.horizontal(|ui| {
        let sending = model.busy(Job::Reply(number));
        if ui.add_enabled(!sending, egui::Button::new(texts.get("ticket-send-answer"))).clicked() {
            model.send_reply();
        }
        if status != "resolved"
            && ui.add_enabled(!model.busy(Job::Solved(number)), egui::Button::new(texts.get("ticket-solved"))).clicked()
        {
            model.confirm_solved();
        }
    });
}

fn entries(ui: &mut egui::Ui, texts: &Texts, thread: &TicketThread, now_ms: u64) {
    if thread.entries.is_empty() {
        ui.weak(texts.get("ticket-no-entries"));
    }
    for entry in &thread.entries {
        let when = ago(texts, entry.at_ms, now_ms);
        match &entry.kind {
            ThreadKind::Reply { author, text } => {
                ui.horizontal(|ui| {
                    ui.strong(author);
                    ui.weak(when);
                });
                ui.label(text);
            }
            ThreadKind::Answer { text } => {
                ui.horizontal(|ui| {
                    ui.strong(texts.get("ticket-you"));
                    ui.weak(when);
                });
                ui.label(text);
            }
            ThreadKind::Status { status } => {
                let changed = texts.with("ticket-status-changed", &[("status", Arg::Text(status_text(texts, status)))]);
                ui.horizontal(|ui| {
                    ui.label(RichText::new(changed).italics());
                    ui.weak(when);
                });
            }
        }
        ui.add_space(4.0);
    }
}

fn ago(texts: &Texts, at_ms: u64, now_ms: u64) -> String {
    let minutes = now_ms.saturating_sub(at_ms) / 60_000;
    match minutes {
        0 => texts.get("ago-now"),
        1..60 => texts.with("ago-minutes", &[("n", Arg::Num(minutes))]),
        60..1440 => texts.with("ago-hours", &[("n", Arg::Num(minutes / 60))]),
        _ => texts.with("ago-days", &[("n", Arg::Num(minutes / 1440))]),
    }
}

fn consent(ui: &mut egui::Ui, model: &mut Model, texts: &Texts, now_ms: u64, focus: bool) {
    ui.horizontal(|ui| {
        ui.heading(texts.get("consent-title"));
        if main_button(ui, texts.get("refresh"), focus) {
            model.reload_consents();
        }
    });
    ui.label(texts.get("consent-explain"));
    ui.add_space(6.0);
    let consents = match &model.consents {
        Load::Loading => return loading(ui, texts),
        Load::Failed(msg) => {
            ui.label(msg_text(texts, msg));
            return;
        }
        Load::Ready(consents) => consents.clone(),
    };
    if consents.unattended_class_a {
        ui.label(RichText::new(texts.get("consent-unattended")).strong());
    }
    let open: Vec<_> = consents.windows.iter().filter(|w| w.until_ms > now_ms).collect();
    if open.is_empty() {
        ui.label(texts.get("consent-none"));
        return;
    }
    for window in open {
        let n = window.ticket;
        ui.horizontal_wrapped(|ui| {
            ui.strong(texts.with("consent-window", &[("ticket", Arg::Num(n))]));
            ui.label(texts.with("consent-left", &[("minutes", Arg::Num(minutes_left(window.until_ms, now_ms)))]));
            let extend = texts.with(
                "consent-extend-ticket",
                &[("ticket", Arg::Num(n)), ("minutes", Arg::Num(EXTEND_MINUTES.into()))],
            );
            if ui.add_enabled(!model.busy(Job::Extend(n)), egui::Button::new(extend)).clicked() {
                model.extend(n);
            }
            let revoke = texts.with("consent-revoke-ticket", &[("ticket", Arg::Num(n))]);
            if ui.add_enabled(!model.busy(Job::Revoke(n)), egui::Button::new(revoke)).clicked() {
                model.revoke(n);
            }
        });
    }
    // Time left counts down while the tab is open; nothing else needs a timer.
    ui.ctx().request_repaint_after(Duration::from_secs(30));
}

/// A message in the user's words.
pub fn msg_text(texts: &Texts, msg: &Msg) -> String {
    let ticket = |id, n: &u64| texts.with(id, &[("ticket", Arg::Num(*n))]);
    let long = |id, bytes: &usize, max: usize| {
        texts.with(id, &[("bytes", Arg::Num(*bytes as u64)), ("max", Arg::Num(max as u64))])
    };
    match msg {
        Msg::AgentDown => texts.get("error-agent-down"),
        Msg::AgentUntrusted => texts.get("error-agent-untrusted"),
        Msg::AgentSlow => texts.get("error-agent-slow"),
        Msg::AgentBroken => texts.get("error-agent-broken"),
        Msg::AgentSaid(message) => texts.with("error-agent-said", &[("message", Arg::Text(message.clone()))]),
        Msg::SubjectMissing => texts.get("error-subject-missing"),
        Msg::SubjectTooLong { bytes } => long("error-subject-long", bytes, MAX_SUBJECT),
        Msg::DescriptionTooLong { bytes } => long("error-description-long", bytes, MAX_BODY),
        Msg::ReplyMissing => texts.get("error-reply-missing"),
        Msg::ReplyTooLong { bytes } => long("error-reply-long", bytes, MAX_BODY),
        Msg::ReplySent => texts.get("msg-reply-sent"),
        Msg::ReplyQueued => texts.get("msg-reply-queued"),
        Msg::SolvedSent => texts.get("msg-solved-sent"),
        Msg::SolvedQueued => texts.get("msg-solved-queued"),
        Msg::Revoked(n) => ticket("msg-revoked", n),
        Msg::Extended(n) => ticket("msg-extended", n),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::tests::{disk_finding, thread};
    use egui_kittest::Harness;
    use egui_kittest::kittest::Queryable;
    use lifeline_shared::wire::{ConsentWindow, LocalRequest, TicketSummary};

    const NOW: u64 = 1_000_000_000_000;

    struct Dialog {
        model: Model,
        texts: Texts,
    }

    fn dialog(mut model: Model, lang: Lang) -> Harness<'static, Dialog> {
        model.lang = lang;
        let state = Dialog { model, texts: Texts::new(lang) };
        // The builder's accessibility check fails the test if any input widget lacks an accessible name.
        let mut harness = Harness::builder()
            .with_size([600.0, 900.0])
            .build_ui_state(|ui, d: &mut Dialog| draw(ui, &mut d.model, &d.texts, NOW), state);
        settle(&mut harness);
        harness
    }

    /// A few frames: enough for a click to act and the next screen to draw and take focus. Not `run`, which
    /// waits for animations to stop, and a spinner never does.
    fn settle(harness: &mut Harness<'_, Dialog>) {
        harness.run_steps(3);
    }

    fn answer(harness: &mut Harness<'_, Dialog>, job: Job, response: LocalResponse) {
        harness.state_mut().model.answer(job, Ok(response));
        settle(harness);
    }

    fn outbox(harness: &mut Harness<'_, Dialog>) -> Vec<LocalRequest> {
        harness.state_mut().model.take_outbox().into_iter().map(|(_, r)| r).collect()
    }

    fn click(harness: &mut Harness<'_, Dialog>, label: &str) {
        harness.get_by_label(label).click();
        settle(harness);
    }

    fn type_into(harness: &mut Harness<'_, Dialog>, label: &str, text: &str) {
        harness.get_by_label(label).focus();
        settle(harness);
        harness.get_by_label(label).type_text(text);
        settle(harness);
    }

    fn shows(harness: &Harness<'_, Dialog>, text: &str) -> bool {
        harness.query_by_label_contains(text).is_some()
    }

    #[test]
    fn advice_first_then_the_form_then_the_ticket_number() {
        let mut h = dialog(Model::new(Tab::Help), Lang::En);
        assert_eq!(outbox(&mut h), vec![LocalRequest::Findings]);
        assert!(shows(&h, "Looking at your computer"));
        answer(&mut h, Job::Findings, LocalResponse::Findings(vec![disk_finding()]));
        assert!(shows(&h, "The disk /home is 96% full."));
        assert!(shows(&h, "Empty the trash"));
        assert!(shows(&h, "Did this solve your problem?"));
        click(&mut h, "No, I still need help");
        assert_eq!(
            outbox(&mut h),
            vec![LocalRequest::AdviceOutcome { shown: vec![disk_finding().kind], solved: false }]
        );
        assert_eq!(h.get_by_label("Subject").value().as_deref(), Some("The disk /home is 96% full."));
        type_into(&mut h, "What happened? (optional)", "Downloads folder is huge");
        click(&mut h, "Send");
        let help = LocalRequest::Help {
            subject: "The disk /home is 96% full.".into(),
            description: "Downloads folder is huge".into(),
        };
        assert_eq!(outbox(&mut h), vec![help]);
        assert!(shows(&h, "Sending…"));
        answer(&mut h, Job::Help, LocalResponse::HelpAccepted { ticket: 42 });
        assert!(shows(&h, "Your request is ticket #42"));
        assert!(shows(&h, "You get a notification when they answer"));
    }

    #[test]
    fn advice_that_solved_it_is_reported_and_nothing_is_sent() {
        let mut h = dialog(Model::new(Tab::Help), Lang::En);
        outbox(&mut h);
        answer(&mut h, Job::Findings, LocalResponse::Findings(vec![disk_finding()]));
        click(&mut h, "Yes, it is solved");
        assert_eq!(
            outbox(&mut h),
            vec![LocalRequest::AdviceOutcome { shown: vec![disk_finding().kind], solved: true }]
        );
        assert!(shows(&h, "Glad it is solved"));
    }

    #[test]
    fn keyboard_only_from_opening_to_sending() {
        let mut h = dialog(Model::new(Tab::Help), Lang::En);
        outbox(&mut h);
        answer(&mut h, Job::Findings, LocalResponse::Findings(Vec::new()));
        assert!(h.get_by_label("Continue").is_focused(), "the way forward has the focus");
        h.key_press(Key::Enter);
        settle(&mut h);
        assert!(h.get_by_label("Subject").is_focused());
        h.event(egui::Event::Text("Printer jams".into()));
        h.key_press(Key::Tab);
        settle(&mut h);
        assert!(h.get_by_label("What happened? (optional)").is_focused());
        h.event(egui::Event::Text("Since this morning".into()));
        h.key_press_modifiers(Modifiers::COMMAND, Key::Enter);
        settle(&mut h);
        let help = LocalRequest::Help { subject: "Printer jams".into(), description: "Since this morning".into() };
        assert_eq!(outbox(&mut h), vec![help]);
        answer(&mut h, Job::Help, LocalResponse::HelpAccepted { ticket: 7 });
        assert!(h.get_by_label("Close").is_focused());
    }

    #[test]
    fn the_user_may_skip_the_advice_while_the_agent_still_looks() {
        let mut h = dialog(Model::new(Tab::Help), Lang::En);
        assert!(h.get_by_label("Skip and describe the problem").is_focused());
        h.key_press(Key::Enter);
        settle(&mut h);
        assert!(h.get_by_label("Subject").is_focused());
    }

    #[test]
    fn no_advice_when_the_agent_cannot_look_but_the_request_goes_on() {
        let mut h = dialog(Model::new(Tab::Help), Lang::En);
        h.state_mut().model.answer(Job::Findings, Err(CallError::TimedOut));
        settle(&mut h);
        assert!(shows(&h, "Lifeline cannot look at this computer right now"));
        assert!(h.get_by_label("Continue").is_focused());
        h.key_press(Key::Enter);
        settle(&mut h);
        assert!(h.get_by_label("Subject").is_focused());
    }

    fn filled_form() -> Harness<'static, Dialog> {
        let mut h = dialog(Model::new(Tab::Help), Lang::En);
        click(&mut h, "Skip and describe the problem");
        type_into(&mut h, "Subject", "Printer jams");
        type_into(&mut h, "What happened? (optional)", "Page 2 is stuck");
        outbox(&mut h);
        h
    }

    fn typed(h: &Harness<'_, Dialog>) -> (Option<String>, Option<String>) {
        (h.get_by_label("Subject").value(), h.get_by_label("What happened? (optional)").value())
    }

    #[test]
    fn a_dead_agent_says_so_and_keeps_the_text() {
        let mut h = filled_form();
        click(&mut h, "Send");
        outbox(&mut h);
        h.state_mut().model.answer(Job::Help, Err(CallError::NoAgent("/run/lifeline-agent/agent.sock".into())));
        settle(&mut h);
        assert!(shows(&h, "Lifeline is not running on this computer"));
        assert_eq!(typed(&h), (Some("Printer jams".into()), Some("Page 2 is stuck".into())));
        click(&mut h, "Send");
        assert_eq!(outbox(&mut h).len(), 1, "the user can send again");
    }

    #[test]
    fn an_unreachable_server_queues_and_says_so() {
        let mut h = filled_form();
        click(&mut h, "Send");
        answer(&mut h, Job::Help, LocalResponse::HelpQueued);
        assert!(shows(&h, "Your request is saved on this computer"));
        assert!(shows(&h, "sent, with what Lifeline sees on this computer, as soon as the connection is back"));
    }

    #[test]
    fn an_agent_error_is_shown_and_the_text_kept() {
        let mut h = filled_form();
        click(&mut h, "Send");
        answer(&mut h, Job::Help, LocalResponse::Error { message: "spool is full".into() });
        assert!(shows(&h, "Lifeline says: spool is full"));
        assert_eq!(typed(&h), (Some("Printer jams".into()), Some("Page 2 is stuck".into())));
    }

    #[test]
    fn an_oversized_description_is_refused_before_sending() {
        let mut h = filled_form();
        h.state_mut().model.description = "x".repeat(MAX_BODY + 5);
        settle(&mut h);
        assert!(shows(&h, "20005 of at most 20000 bytes"), "warned while typing");
        click(&mut h, "Send");
        assert_eq!(outbox(&mut h), vec![]);
        assert!(shows(&h, "The description is 20005 bytes long; at most 20000 fit."));
        assert_eq!(h.state().model.description.len(), MAX_BODY + 5);
    }

    #[test]
    fn control_characters_never_reach_the_agent() {
        let mut h = filled_form();
        type_into(&mut h, "What happened? (optional)", "\u{1b}[2J\u{202E}");
        click(&mut h, "Send");
        let sent = outbox(&mut h);
        let [LocalRequest::Help { description, .. }] = sent.as_slice() else { panic!("{sent:?}") };
        assert_eq!(description, "Page 2 is stuck[2J");
    }

    fn tickets_dialog() -> Harness<'static, Dialog> {
        let mut h = dialog(Model::new(Tab::Tickets), Lang::En);
        assert!(outbox(&mut h).contains(&LocalRequest::Tickets));
        let list = vec![
            TicketSummary { number: 5, subject: "Printer".into(), status: "resolved".into(), updated_at_ms: 0 },
            TicketSummary { number: 6, subject: "Wi-Fi".into(), status: "pending-user".into(), updated_at_ms: 0 },
        ];
        answer(&mut h, Job::Tickets, LocalResponse::Tickets(list));
        h
    }

    #[test]
    fn my_tickets_lists_status_in_plain_words() {
        let h = tickets_dialog();
        assert!(shows(&h, "Printer") && shows(&h, "Resolved"));
        assert!(shows(&h, "Wi-Fi") && shows(&h, "Waiting for you"));
    }

    #[test]
    fn a_thread_shows_replies_and_an_answer_reopens() {
        let mut h = tickets_dialog();
        click(&mut h, "Open ticket #5");
        assert_eq!(outbox(&mut h), vec![LocalRequest::Ticket { number: 5 }]);
        let mut t = thread(5, "resolved");
        t.entries[1].at_ms = NOW - 3 * 60_000;
        answer(&mut h, Job::Ticket(5), LocalResponse::Ticket(t));
        assert!(shows(&h, "Ticket #5: Printer"));
        assert!(shows(&h, "Is it switched on?") && shows(&h, "bob") && shows(&h, "3 minutes ago"));
        assert!(shows(&h, "Answering reopens it."));
        assert!(h.query_by_label("It is solved").is_none(), "already resolved");
        assert!(h.get_by_label("Your answer").is_focused());
        h.get_by_label("Your answer").type_text("It is off again");
        settle(&mut h);
        click(&mut h, "Send answer");
        assert_eq!(outbox(&mut h), vec![LocalRequest::Reply { ticket: 5, text: "It is off again".into() }]);
        answer(&mut h, Job::Reply(5), LocalResponse::Saved { delivered: true });
        assert!(shows(&h, "Your answer was sent."));
        assert_eq!(h.get_by_label("Your answer").value().as_deref(), Some(""));
    }

    #[test]
    fn an_open_ticket_can_be_confirmed_solved() {
        let mut h = dialog(Model::on_ticket(6), Lang::En);
        outbox(&mut h);
        answer(&mut h, Job::Ticket(6), LocalResponse::Ticket(thread(6, "pending-user")));
        click(&mut h, "It is solved");
        assert_eq!(outbox(&mut h), vec![LocalRequest::Solved { ticket: 6 }]);
        answer(&mut h, Job::Solved(6), LocalResponse::Saved { delivered: false });
        assert!(shows(&h, "this goes to the help desk as soon as it can be reached"));
        click(&mut h, "Back to my tickets");
        assert!(outbox(&mut h).contains(&LocalRequest::Tickets));
    }

    #[test]
    fn consent_windows_with_time_left_and_revoke() {
        let mut h = dialog(Model::new(Tab::Consent), Lang::En);
        outbox(&mut h);
        let window = ConsentWindow { ticket: 9, user: "ann".into(), until_ms: NOW + 30 * 60_000 };
        let expired = ConsentWindow { ticket: 8, user: "ann".into(), until_ms: NOW - 1 };
        answer(
            &mut h,
            Job::Consents,
            LocalResponse::Consents { windows: vec![window, expired], unattended_class_a: true },
        );
        assert!(shows(&h, "Ticket #9") && shows(&h, "30 minutes left"));
        assert!(!shows(&h, "Ticket #8"), "a closed window is not shown");
        assert!(shows(&h, "read-only checks at any time"));
        click(&mut h, "Revoke for ticket #9");
        click(&mut h, "Extend ticket #9 by 60 minutes");
        let expected = vec![
            LocalRequest::RevokeConsent { ticket: 9 },
            LocalRequest::ExtendConsent { ticket: 9, minutes: EXTEND_MINUTES },
        ];
        assert_eq!(outbox(&mut h), expected);
        answer(&mut h, Job::Revoke(9), LocalResponse::Done { message: "revoked".into() });
        assert!(shows(&h, "may no longer run checks for ticket #9"));
        answer(&mut h, Job::Consents, LocalResponse::Consents { windows: vec![], unattended_class_a: false });
        assert!(shows(&h, "No window is open"));
    }

    /// Every screen in every language: a missing text or a bad argument fails (texts assert in tests), and so does
    /// an unlabelled input.
    #[test]
    fn every_screen_in_every_language() {
        for lang in Lang::ALL {
            let texts = Texts::new(lang);
            let mut h = dialog(Model::new(Tab::Help), lang);
            answer(&mut h, Job::Findings, LocalResponse::Findings(vec![disk_finding()]));
            assert!(shows(&h, &texts.get("advice-question")), "{lang:?}");
            let (summary, advice) = texts.finding(&disk_finding());
            assert!(shows(&h, &summary) && shows(&h, &advice), "{lang:?}: {summary} / {advice}");
            click(&mut h, &texts.get("advice-not-solved"));
            h.state_mut().model.description = "x".repeat(MAX_BODY + 1);
            click(&mut h, &texts.get("form-send"));
            assert!(shows(&h, &texts.get("form-subject")), "{lang:?}");
            h.state_mut().model.description.clear();
            click(&mut h, &texts.get("form-send"));
            answer(&mut h, Job::Help, LocalResponse::HelpQueued);
            assert!(shows(&h, &texts.get("sent-queued-title")), "{lang:?}");
            h.state_mut().model.answer(Job::Help, Err(CallError::TimedOut));
            click(&mut h, &texts.get("tab-tickets"));
            answer(&mut h, Job::Tickets, LocalResponse::Tickets(vec![thread(5, "open").summary]));
            click(&mut h, &texts.with("tickets-open", &[("ticket", Arg::Num(5))]));
            let mut t = thread(5, "closed");
            t.entries.push(lifeline_shared::wire::ThreadEntry {
                seq: 9,
                at_ms: NOW - 7_200_000,
                kind: ThreadKind::Answer { text: "ok".into() },
            });
            answer(&mut h, Job::Ticket(5), LocalResponse::Ticket(t));
            assert!(shows(&h, &texts.get("ticket-closed")), "{lang:?}");
            click(&mut h, &texts.get("tab-consent"));
            let window = ConsentWindow { ticket: 9, user: "ann".into(), until_ms: NOW + 22 * 60_000 };
            answer(&mut h, Job::Consents, LocalResponse::Consents { windows: vec![window], unattended_class_a: true });
            assert!(h.query_by_label(&texts.with("consent-window", &[("ticket", Arg::Num(9))])).is_some(), "{lang:?}");
            for msg in all_msgs() {
                assert!(!msg_text(&texts, &msg).is_empty());
            }
        }
    }

    fn all_msgs() -> Vec<Msg> {
        vec![
            Msg::AgentDown,
            Msg::AgentUntrusted,
            Msg::AgentSlow,
            Msg::AgentBroken,
            Msg::AgentSaid("x".into()),
            Msg::SubjectMissing,
            Msg::SubjectTooLong { bytes: 201 },
            Msg::DescriptionTooLong { bytes: 20_001 },
            Msg::ReplyMissing,
            Msg::ReplyTooLong { bytes: 20_001 },
            Msg::ReplySent,
            Msg::ReplyQueued,
            Msg::SolvedSent,
            Msg::SolvedQueued,
            Msg::Revoked(1),
            Msg::Extended(1),
        ]
    }
}
