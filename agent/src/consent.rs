//! Consent windows and the history of checks, kept by the agent itself: a compromised server cannot open a window,
//! and cannot hide from the user what ran on their machine.

use std::io::Write;
use std::path::{Path, PathBuf};

use lifeline_shared::wire::{ConsentWindow, HistoryEntry, LocalEvent};
use tokio::sync::broadcast;
use tracing::warn;

/// Longest a window may be extended to, counted from now.
pub const MAX_WINDOW_MS: u64 = 8 * 3600 * 1000;
/// The history keeps this many entries; older ones are dropped when the file is compacted.
const HISTORY_KEEP: usize = 500;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConsentError {
    #[error("no open consent window for ticket {0}")]
    NoWindow(u64),
    #[error("only {0}, who asked for help on this ticket, can change its consent")]
    NotYours(String),
    #[error("a window can be extended by 1 to 480 minutes")]
    BadLength,
    #[error("saving consent: {0}")]
    Save(String),
}

pub struct Consents {
    path: PathBuf,
    windows: Vec<ConsentWindow>,
}

impl Consents {
    /// Loads the windows; an unreadable file means no consent, which is the safe reading.
    pub fn open(path: &Path) -> Consents {
        let windows = match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                warn!(path = %path.display(), error = %e, "consent file unreadable; treating every window as closed");
                Vec::new()
            }),
            Err(_) => Vec::new(),
        };
        Consents { path: path.to_owned(), windows }
    }

    fn save(&self) -> Result<(), ConsentError> {
        let json = serde_json::to_vec(&self.windows).map_err(|e| ConsentError::Save(e.to_string()))?;
        lifeline_net::tls::write_private(&self.path, &json).map_err(|e| ConsentError::Save(e.to_string()))
    }

    /// A help request was accepted: technicians on its ticket may now run checks for `length_ms`.
    pub fn open_window(
        &mut self,
        ticket: u64,
        user: &str,
        now_ms: u64,
        length_ms: u64,
    ) -> Result<ConsentWindow, ConsentError> {
        self.windows.retain(|w| w.ticket != ticket && w.until_ms > now_ms);
        let window = ConsentWindow { ticket, user: user.to_owned(), until_ms: now_ms + length_ms };
        self.windows.push(window.clone());
        self.save()?;
        Ok(window)
    }

    pub fn allows(&self, ticket: u64, now_ms: u64) -> bool {
        self.windows.iter().any(|w| w.ticket == ticket && w.until_ms > now_ms)
    }

    pub fn list(&self, now_ms: u64) -> Vec<ConsentWindow> {
        self.windows.iter().filter(|w| w.until_ms > now_ms).cloned().collect()
    }

    fn mine(&mut self, ticket: u64, user: &str, now_ms: u64) -> Result<&mut ConsentWindow, ConsentError> {
        let window = self
            .windows
            .iter_mut()
            .find(|w| w.ticket == ticket && w.until_ms > now_ms)
            .ok_or(ConsentError::NoWindow(ticket))?;
        if window.user != user && user != "root" {
            return Err(ConsentError::NotYours(window.user.clone()));
        }
        Ok(window)
    }

    pub fn revoke(&mut self, ticket: u64, user: &str, now_ms: u64) -> Result<(), ConsentError> {
        self.mine(ticket, user, now_ms)?;
        self.windows.retain(|w| w.ticket != ticket);
        self.save()
    }

    /// Extends to `minutes` from now, never past [`MAX_WINDOW_MS`].
    pub fn extend(&mut self, ticket: u64, user: &str, minutes: u32, now_ms: u64) -> Result<u64, ConsentError> {
        if !(1..=480).contains(&minutes) {
            return Err(ConsentError::BadLength);
        }
        let window = self.mine(ticket, user, now_ms)?;
        window.until_ms = (now_ms + u64::from(minutes) * 60_000).min(now_ms + MAX_WINDOW_MS);
        let until = window.until_ms;
        self.save()?;
        Ok(until)
    }
}

/// Append-only JSON lines, compacted to the newest entries when it grows.
pub struct History {
    path: PathBuf,
    /// Every entry is also told to the users' programs that listen, so nothing runs on a machine unannounced.
    events: broadcast::Sender<LocalEvent>,
}

impl History {
    pub fn new(path: &Path, events: broadcast::Sender<LocalEvent>) -> History {
        History { path: path.to_owned(), events }
    }

    pub fn append(&self, entry: &HistoryEntry) {
        // Nobody listening is not an error.
        let _ = self.events.send(LocalEvent::CheckRan(entry.clone()));
        let result = serde_json::to_string(entry).map_err(std::io::Error::other).and_then(|line| {
            let mut file = std::fs::OpenOptions::new().create(true).append(true).open(&self.path)?;
            writeln!(file, "{line}")
        });
        if let Err(e) = result {
            warn!(path = %self.path.display(), error = %e, "could not record a check in the history");
        }
        if std::fs::metadata(&self.path).is_ok_and(|m| m.len() > 1024 * 1024) {
            let keep = self.read();
            let text: String = keep.iter().filter_map(|e| serde_json::to_string(e).ok()).map(|l| l + "\n").collect();
            if let Err(e) = lifeline_net::tls::write_private(&self.path, text.as_bytes()) {
                warn!(error = %e, "could not compact the check history");
            }
        }
    }

    /// The newest entries, oldest first; lines that do not parse are skipped.
    pub fn read(&self) -> Vec<HistoryEntry> {
        let text = std::fs::read_to_string(&self.path).unwrap_or_default();
        let all: Vec<HistoryEntry> = text.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
        all[all.len().saturating_sub(HISTORY_KEEP)..].to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_open_expire_and_belong_to_their_user() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("consent.json");
        let mut c = Consents::open(&path);
        c.open_window(7, "ann", 1_000, 60_000).unwrap();
        assert!(c.allows(7, 60_999));
        assert!(!c.allows(7, 61_000), "closed at its end");
        assert!(!c.allows(8, 2_000), "only for its own ticket");
        assert_eq!(c.revoke(7, "bob", 2_000), Err(ConsentError::NotYours("ann".into())));
        assert_eq!(c.extend(7, "ann", 0, 2_000), Err(ConsentError::BadLength));
        assert_eq!(c.extend(7, "ann", 480, 2_000), Ok(2_000 + MAX_WINDOW_MS));

        let c2 = Consents::open(&path);
        assert!(c2.allows(7, 3_000_000), "windows survive a restart");
        let mut c = c2;
        c.revoke(7, "ann", 3_000).unwrap();
        assert!(!Consents::open(&path).allows(7, 3_000), "a revoke is durable");
        assert_eq!(c.revoke(7, "ann", 3_000), Err(ConsentError::NoWindow(7)));
    }

    #[test]
    fn a_corrupt_consent_file_means_no_consent() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("consent.json");
        std::fs::write(&path, "{not json").unwrap();
        assert!(Consents::open(&path).list(0).is_empty());
    }

    #[test]
    fn history_keeps_the_newest_entries() {
        let dir = tempfile::tempdir().unwrap();
        let (events, mut told) = broadcast::channel(8);
        let h = History::new(&dir.path().join("history.jsonl"), events);
        for i in 0..3 {
            h.append(&HistoryEntry {
                at_ms: i,
                technician: "bob".into(),
                ticket: Some(1),
                check: "system-summary".into(),
                outcome: "done".into(),
                run: i,
            });
        }
        std::fs::OpenOptions::new()
            .append(true)
            .open(dir.path().join("history.jsonl"))
            .unwrap()
            .write_all(b"junk\n")
            .unwrap();
        let read = h.read();
        assert_eq!(read.iter().map(|e| e.at_ms).collect::<Vec<_>>(), [0, 1, 2]);
        for i in 0..3 {
            assert!(matches!(told.try_recv(), Ok(LocalEvent::CheckRan(e)) if e.at_ms == i));
        }
    }
}
