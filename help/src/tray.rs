//! `lifeline-help --tray`: the icon in the panel and the notifications. The icon's menu opens the dialog (as its
//! own process, so the tray that runs all day never holds a window's memory); the notifications come from a
//! subscription to the agent, which pushes events, so the tray sleeps in a read until there is news.

use std::time::Duration;

use ksni::blocking::TrayMethods;
use ksni::menu::StandardItem;
use tracing::{info, warn};

use crate::client::Agent;
use crate::i18n::{Lang, Texts};
use crate::notify;

/// Reconnection waits: short after the agent restarts, then longer while it stays away.
const FIRST_RETRY: Duration = Duration::from_secs(1);
const LAST_RETRY: Duration = Duration::from_secs(60);

struct HelpTray {
    title: String,
    request: String,
    tickets: String,
    consent: String,
}

impl ksni::Tray for HelpTray {
    fn id(&self) -> String {
        "lifeline-help".into()
    }

    fn title(&self) -> String {
        self.title.clone()
    }

    fn icon_name(&self) -> String {
        "lifeline-help".into()
    }

    fn activate(&mut self, _x: i32, _y: i32) {
        crate::open_dialog(&[]);
    }

    fn menu(&self) -> Vec<ksni::MenuItem<Self>> {
        let item = |label: &str, args: &'static [&'static str]| {
            StandardItem {
                label: label.to_owned(),
                activate: Box::new(move |_: &mut Self| crate::open_dialog(args)),
                ..Default::default()
            }
            .into()
        };
        vec![item(&self.request, &[]), item(&self.tickets, &["--tickets"]), item(&self.consent, &["--consent"])]
    }

    /// Without a tray host the notifications still matter: keep running.
    fn watcher_offline(&self, reason: ksni::OfflineReason) -> bool {
        warn!(?reason, "no tray host; notifications go on");
        true
    }
}

pub fn run(agent: Agent, lang: Lang) -> ! {
    let texts = Texts::new(lang);
    let tray = HelpTray {
        title: texts.get("app-title"),
        request: texts.get("tab-help"),
        tickets: texts.get("tab-tickets"),
        consent: texts.get("tab-consent"),
    };
    // Kept alive for the life of the process; desktops without a tray host use the launcher instead.
    let _tray = match tray.assume_sni_available(true).spawn() {
        Ok(handle) => Some(handle),
        Err(e) => {
            warn!(error = %e, "no tray icon; notifications go on");
            None
        }
    };
    let mut retry = FIRST_RETRY;
    loop {
        match agent.subscribe() {
            Ok(mut subscription) => {
                info!("subscribed to the agent");
                retry = FIRST_RETRY;
                loop {
                    match subscription.next() {
                        Ok(Some(event)) => {
                            for popup in notify::popups(&event, &texts, crate::now_ms()) {
                                notify::show(popup, agent.clone(), lang);
                            }
                        }
                        Ok(None) => {
                            info!("the agent closed the subscription");
                            break;
                        }
                        Err(e) => {
                            warn!(error = %e, "subscription lost");
                            break;
                        }
                    }
                }
            }
            Err(e) => warn!(error = %e, retry_in = ?retry, "cannot subscribe to the agent"),
        }
        std::thread::sleep(retry);
        retry = (retry * 2).min(LAST_RETRY);
    }
}
