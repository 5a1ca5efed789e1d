//! The local users' tickets as the server last pushed them. Kept on disk, so that "my tickets" works offline and
//! after a reboot, and so that the agent knows which entries are new and worth telling the user about.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use lifeline_shared::wire::{ThreadEntry, TicketSummary, TicketThread};
use tracing::warn;

/// Threads kept; the oldest tickets go first. A user rarely has more than a handful open.
const KEEP: usize = 200;

pub struct TicketBook {
    path: PathBuf,
    threads: BTreeMap<u64, TicketThread>,
}

impl TicketBook {
    /// An unreadable file starts an empty book: the server sends every open thread again on the next connect.
    pub fn open(path: &Path) -> TicketBook {
        let threads: Vec<TicketThread> = match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                warn!(path = %path.display(), error = %e, "ticket file unreadable; starting empty");
                Vec::new()
            }),
            Err(_) => Vec::new(),
        };
        let threads = threads.into_iter().map(|t| (t.summary.number, t)).collect();
        TicketBook { path: path.to_owned(), threads }
    }

    /// Keeps `thread` and returns the entries not seen before, or `None` when nothing changed at all.
    pub fn update(&mut self, thread: TicketThread) -> Option<Vec<ThreadEntry>> {
        let number = thread.summary.number;
        let known = self.threads.get(&number);
        if known == Some(&thread) {
            return None;
        }
        let last_seen = known.and_then(|t| t.entries.last()).map_or(0, |e| e.seq);
        let new = thread.entries.iter().filter(|e| e.seq > last_seen).cloned().collect();
        self.threads.insert(number, thread);
        while self.threads.len() > KEEP {
            self.threads.pop_first();
        }
        self.save();
        Some(new)
    }

    /// The user's tickets, newest first.
    pub fn list(&self, user: &str) -> Vec<TicketSummary> {
        self.threads.values().rev().filter(|t| t.user == user).map(|t| t.summary.clone()).collect()
    }

    /// Only the user who asked sees a ticket, whoever else is logged in on the machine.
    pub fn get(&self, user: &str, number: u64) -> Option<&TicketThread> {
        self.threads.get(&number).filter(|t| t.user == user)
    }

    /// Mode 0600: the threads hold what every local user wrote to the help desk.
    fn save(&self) {
        let all: Vec<&TicketThread> = self.threads.values().collect();
        let result = serde_json::to_vec(&all)
            .map_err(std::io::Error::other)
            .and_then(|json| lifeline_net::tls::write_private(&self.path, &json));
        if let Err(e) = result {
            warn!(path = %self.path.display(), error = %e, "could not save the tickets");
        }
    }
}

#[cfg(test)]
mod tests {
    use lifeline_shared::wire::ThreadKind;

    use super::*;

    fn thread(number: u64, user: &str, seqs: &[u64], status: &str) -> TicketThread {
        TicketThread {
            summary: TicketSummary { number, subject: "vpn".into(), status: status.into(), updated_at_ms: 1 },
            user: user.into(),
            entries: seqs
                .iter()
                .map(|&seq| ThreadEntry {
                    seq,
                    at_ms: seq,
                    kind: ThreadKind::Reply { author: "t".into(), text: "hi".into() },
                })
                .collect(),
        }
    }

    #[test]
    fn tells_what_is_new_keeps_it_across_restarts_and_shows_each_user_only_theirs() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tickets.json");
        let mut book = TicketBook::open(&path);
        assert_eq!(book.update(thread(7, "ann", &[1, 2], "new")).map(|n| n.len()), Some(2));
        assert_eq!(book.update(thread(7, "ann", &[1, 2], "new")), None, "the same thread again is not news");
        assert_eq!(book.update(thread(7, "ann", &[1, 2], "open")).map(|n| n.len()), Some(0), "only the summary moved");
        let new = book.update(thread(7, "ann", &[1, 2, 5], "open")).unwrap();
        assert_eq!(new.iter().map(|e| e.seq).collect::<Vec<_>>(), [5]);
        book.update(thread(9, "bob", &[3], "new"));

        let book = TicketBook::open(&path);
        assert_eq!(book.list("ann").iter().map(|t| t.number).collect::<Vec<_>>(), [7]);
        assert_eq!(book.get("ann", 7).map(|t| t.entries.len()), Some(3));
        assert!(book.get("ann", 9).is_none(), "bob's ticket");
        assert_eq!(book.list("bob").len(), 1);
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    }

    #[test]
    fn a_damaged_file_starts_an_empty_book() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tickets.json");
        std::fs::write(&path, b"{not json").unwrap();
        assert!(TicketBook::open(&path).list("ann").is_empty());
    }
}
