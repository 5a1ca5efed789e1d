//! Desktop notifications for what the agent pushes: what each event says (pure, tested), and showing it over the
//! freedesktop notification service on a thread of its own, since showing and waiting for a click both block on
//! D-Bus.

use lifeline_shared::wire::{ConsentWindow, LocalEvent, LocalRequest, LocalResponse, ThreadKind};
use tracing::{debug, info, warn};

use crate::client::Agent;
use crate::i18n::{Arg, Lang, Texts};
use crate::model::{EXTEND_MINUTES, Msg};
use crate::text;

/// A reply longer than this is cut in the bubble; the whole text is one click away.
const MAX_BODY_CHARS: usize = 300;

#[derive(Clone, Debug, PartialEq)]
pub struct Popup {
    pub summary: String,
    pub body: String,
    /// What a click on the notification itself opens.
    pub ticket: Option<u64>,
    /// Buttons besides the click: (action, label).
    pub actions: Vec<(Action, String)>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Extend(u64),
    Revoke(u64),
}

impl Action {
    fn id(self) -> &'static str {
        match self {
            Action::Extend(_) => "extend",
            Action::Revoke(_) => "revoke",
        }
    }
}

/// What the user is told about `event`, at `now_ms`; nothing for their own answers.
pub fn popups(event: &LocalEvent, texts: &Texts, now_ms: u64) -> Vec<Popup> {
    match event {
        LocalEvent::TicketChanged { thread, new } => {
            let number = thread.summary.number;
            new.iter()
                .filter_map(|entry| match &entry.kind {
                    ThreadKind::Reply { author, text } => Some(Popup {
                        summary: texts.with("notify-reply", &[("ticket", Arg::Num(number))]),
                        body: format!("{author}: {}", shorten(text)),
                        ticket: Some(number),
                        actions: Vec::new(),
                    }),
                    ThreadKind::Status { status } => Some(Popup {
                        summary: texts.with("notify-status", &[("ticket", Arg::Num(number))]),
                        body: status_text(texts, status),
                        ticket: Some(number),
                        actions: Vec::new(),
                    }),
                    ThreadKind::Answer { .. } => None,
                })
                .collect()
        }
        LocalEvent::CheckRan(run) => {
            let check = Arg::Text(text::line(&run.check));
            let summary = match run.ticket {
                Some(n) => texts.with("notify-check", &[("check", check), ("ticket", Arg::Num(n))]),
                None => texts.with("notify-check-no-ticket", &[("check", check)]),
            };
            let body = format!("{}: {}", run.technician, shorten(&run.outcome));
            vec![Popup { summary, body, ticket: run.ticket, actions: Vec::new() }]
        }
        LocalEvent::ConsentOpened(window) => vec![consent(texts, "notify-consent-opened", window, now_ms)],
        LocalEvent::ConsentExpiring(window) => vec![consent(texts, "notify-consent-expiring", window, now_ms)],
    }
}

fn consent(texts: &Texts, id: &str, window: &ConsentWindow, now_ms: u64) -> Popup {
    let n = window.ticket;
    let mut actions = vec![(Action::Revoke(n), texts.get("consent-revoke"))];
    if id == "notify-consent-expiring" {
        actions.insert(
            0,
            (Action::Extend(n), texts.with("consent-extend", &[("minutes", Arg::Num(EXTEND_MINUTES.into()))])),
        );
    }
    Popup {
        summary: texts.with(id, &[("ticket", Arg::Num(n))]),
        body: texts.with("consent-left", &[("minutes", Arg::Num(minutes_left(window.until_ms, now_ms)))]),
        ticket: Some(n),
        actions,
    }
}

/// Whole minutes left, rounded up: "0 minutes left" would read as already closed.
pub fn minutes_left(until_ms: u64, now_ms: u64) -> u64 {
    until_ms.saturating_sub(now_ms).div_ceil(60_000)
}

/// A ticket status in the user's words; a status this program does not know yet is shown as the server spells it.
pub fn status_text(texts: &Texts, status: &str) -> String {
    match status {
        "new" | "open" | "pending-user" | "resolved" | "closed" => texts.get(&format!("status-{status}")),
        other => other.to_owned(),
    }
}

fn shorten(s: &str) -> String {
    let flat = text::line(s);
    match flat.char_indices().nth(MAX_BODY_CHARS) {
        Some((cut, _)) => format!("{}…", &flat[..cut]),
        None => flat,
    }
}

/// Shows `popup` and, on its own thread, waits for a click: a click opens the dialog on the ticket, Extend and
/// Revoke go to the agent and their outcome is shown in turn.
pub fn show(popup: Popup, agent: Agent, lang: Lang) {
    std::thread::spawn(move || {
        let mut note = notify_rust::Notification::new();
        note.appname("Lifeline").summary(&popup.summary).body(&popup.body).icon("lifeline-help");
        if popup.ticket.is_some() {
            note.action("default", &popup.summary);
        }
        for (action, label) in &popup.actions {
            note.action(action.id(), label);
        }
        let handle = match note.show() {
            Ok(handle) => handle,
            Err(e) => return warn!(error = %e, "cannot show a notification"),
        };
        info!(id = handle.id(), summary = %popup.summary, "notified");
        if popup.ticket.is_none() && popup.actions.is_empty() {
            return;
        }
        // Acted on after the wait: the wait runs inside the notification library's async runtime, where the
        // blocking call to the agent and the next notification's own runtime must not run.
        let mut answer = String::new();
        handle.wait_for_action(|id| answer = id.to_owned());
        debug!(action = %answer, summary = %popup.summary, "notification answered");
        if answer == "default"
            && let Some(n) = popup.ticket
        {
            crate::open_dialog(&["--ticket", &n.to_string()]);
        }
        if let Some((action, _)) = popup.actions.iter().find(|(a, _)| a.id() == answer) {
            act(*action, &agent, lang);
        }
    });
}

fn act(action: Action, agent: &Agent, lang: Lang) {
    let (request, done) = match action {
        Action::Extend(ticket) => {
            (LocalRequest::ExtendConsent { ticket, minutes: EXTEND_MINUTES }, Msg::Extended(ticket))
        }
        Action::Revoke(ticket) => (LocalRequest::RevokeConsent { ticket }, Msg::Revoked(ticket)),
    };
    let outcome = match agent.call(&request) {
        Ok(LocalResponse::Done { .. }) => done,
        Ok(LocalResponse::Error { message }) => Msg::AgentSaid(message),
        Ok(other) => {
            warn!(?other, "unexpected answer from the agent");
            Msg::AgentBroken
        }
        Err(e) => Msg::from(&e),
    };
    let body = crate::ui::msg_text(&Texts::new(lang), &outcome);
    let shown = notify_rust::Notification::new().appname("Lifeline").summary("Lifeline").body(&body).show();
    if let Err(e) = shown {
        warn!(error = %e, "cannot show a notification");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::tests::thread;
    use lifeline_shared::wire::{HistoryEntry, ThreadEntry};

    #[test]
    fn a_reply_and_a_status_change_notify_but_the_users_own_answer_does_not() {
        let texts = Texts::new(Lang::En);
        let thread = thread(7, "resolved");
        let new = vec![
            ThreadEntry { seq: 4, at_ms: 0, kind: ThreadKind::Answer { text: "thanks".into() } },
            ThreadEntry {
                seq: 5,
                at_ms: 0,
                kind: ThreadKind::Reply { author: "bob".into(), text: "Fixed\nit".into() },
            },
            ThreadEntry { seq: 6, at_ms: 0, kind: ThreadKind::Status { status: "resolved".into() } },
        ];
        let popups = popups(&LocalEvent::TicketChanged { thread, new }, &texts, 0);
        let got: Vec<_> = popups.iter().map(|p| (p.summary.as_str(), p.body.as_str(), p.ticket)).collect();
        assert_eq!(
            got,
            vec![("New reply on ticket #7", "bob: Fixed it", Some(7)), ("Ticket #7 changed", "Resolved", Some(7))]
        );
        assert!(popups.iter().all(|p| p.actions.is_empty()));
    }

    #[test]
    fn a_summary_only_change_is_silent() {
        let event = LocalEvent::TicketChanged { thread: thread(7, "open"), new: Vec::new() };
        assert_eq!(popups(&event, &Texts::new(Lang::En), 0), vec![]);
    }

    #[test]
    fn every_check_is_told() {
        let run = HistoryEntry {
            at_ms: 0,
            technician: "bob".into(),
            ticket: Some(3),
            check: "disk-usage".into(),
            outcome: "ok".into(),
            run: 1,
        };
        let popups = popups(&LocalEvent::CheckRan(run.clone()), &Texts::new(Lang::En), 0);
        assert_eq!(popups[0].summary, "A technician ran “disk-usage” for ticket #3");
        assert_eq!(popups[0].body, "bob: ok");
        let popups = popups_for(LocalEvent::CheckRan(HistoryEntry { ticket: None, ..run }));
        assert_eq!(popups[0].summary, "A technician ran “disk-usage” on this computer");
    }

    fn popups_for(event: LocalEvent) -> Vec<Popup> {
        popups(&event, &Texts::new(Lang::En), 0)
    }

    #[test]
    fn an_expiring_window_offers_extend_and_revoke() {
        let window = ConsentWindow { ticket: 3, user: "ann".into(), until_ms: 5 * 60_000 - 1 };
        let popups = popups_for(LocalEvent::ConsentExpiring(window.clone()));
        assert_eq!(popups[0].body, "5 minutes left");
        let actions: Vec<_> = popups[0].actions.iter().map(|(a, _)| *a).collect();
        assert_eq!(actions, vec![Action::Extend(3), Action::Revoke(3)]);
        let opened = popups_for(LocalEvent::ConsentOpened(window));
        assert_eq!(opened[0].actions.iter().map(|(a, _)| *a).collect::<Vec<_>>(), vec![Action::Revoke(3)]);
    }

    #[test]
    fn long_text_is_cut_and_unknown_statuses_shown_as_they_are() {
        let long = "é".repeat(1000);
        assert_eq!(shorten(&long).chars().count(), MAX_BODY_CHARS + 1);
        assert_eq!(status_text(&Texts::new(Lang::Nl), "waiting-for-parts"), "waiting-for-parts");
        assert_eq!(minutes_left(0, 10), 0);
        assert_eq!(minutes_left(60_001, 0), 2);
    }
}
