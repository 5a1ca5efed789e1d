//! The offline spool: every snapshot and help request is written here before it is sent, and deleted only when the
//! server acknowledged it (which it does only after committing it). So a laptop that is offline, a server that is
//! restarted, or an agent killed at any moment loses nothing that reached the spool.
//!
//! One file per item, named by a sequence number, written to a temporary name, synced, then renamed: a crash leaves
//! either the whole item or none of it. The spool is bounded: when full, routine snapshots are dropped oldest first
//! and counted; help requests and the snapshots they carry are never dropped.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use lifeline_shared::codec;
use lifeline_shared::wire::Request;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A periodic snapshot: worth keeping, but the newest matters most.
    Routine,
    /// Someone is waiting on it (a help request): never dropped.
    Kept,
}

impl Kind {
    fn suffix(self) -> &'static str {
        match self {
            Kind::Routine => "routine",
            Kind::Kept => "kept",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    #[error("spool {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("spooled item {0} is unreadable and was set aside: {1}")]
    Corrupt(u64, String),
    #[error("cannot encode item: {0}")]
    Encode(#[from] codec::CodecError),
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    kind: Kind,
    bytes: u64,
}

#[derive(Debug)]
pub struct Spool {
    dir: PathBuf,
    max_bytes: u64,
    entries: BTreeMap<u64, Entry>,
    used: u64,
    next: u64,
    dropped: u64,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> SpoolError + '_ {
    move |source| SpoolError::Io { path: path.to_owned(), source }
}

impl Spool {
    /// Opens the spool, finishing what a crash interrupted: half-written temporary files are removed, whole items
    /// are kept in order.
    pub fn open(dir: &Path, max_bytes: u64) -> Result<Spool, SpoolError> {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let mut spool =
            Spool { dir: dir.to_owned(), max_bytes, entries: BTreeMap::new(), used: 0, next: 0, dropped: 0 };
        for item in std::fs::read_dir(dir).map_err(io(dir))? {
            let item = item.map_err(io(dir))?;
            let name = item.file_name().to_string_lossy().into_owned();
            let path = item.path();
            if name.ends_with(".tmp") {
                std::fs::remove_file(&path).map_err(io(&path))?;
                continue;
            }
            let Some((seq, kind)) = parse_name(&name) else { continue };
            let bytes = item.metadata().map_err(io(&path))?.len();
            spool.entries.insert(seq, Entry { kind, bytes });
            spool.used += bytes;
            spool.next = spool.next.max(seq + 1);
        }
        Ok(spool)
    }

    fn path(&self, seq: u64, kind: Kind) -> PathBuf {
        self.dir.join(format!("{seq:020}.{}", kind.suffix()))
    }

    /// Durably stores `request`; returns its sequence number, or `None` when it was a routine snapshot that did not
    /// fit even after older routine ones were dropped.
    pub fn push(&mut self, kind: Kind, request: &Request) -> Result<Option<u64>, SpoolError> {
        let frame = codec::encode(request)?;
        let size = frame.len() as u64;
        while self.used + size > self.max_bytes {
            let Some((&old, _)) = self.entries.iter().find(|(_, e)| e.kind == Kind::Routine) else { break };
            self.remove(old)?;
            self.dropped += 1;
        }
        if self.used + size > self.max_bytes && kind == Kind::Routine {
            self.dropped += 1;
            return Ok(None);
        }
        let seq = self.next;
        let path = self.path(seq, kind);
        let tmp = path.with_extension("tmp");
        let written = std::fs::File::create(&tmp)
            .and_then(|mut file| file.write_all(&frame).and_then(|()| file.sync_all()))
            .and_then(|()| std::fs::rename(&tmp, &path));
        if let Err(e) = written {
            // A full disk fails here: the half-written file would only take what little room is left.
            let _ = std::fs::remove_file(&tmp);
            return Err(io(&tmp)(e));
        }
        // The rename is durable only once the directory itself is synced.
        std::fs::File::open(&self.dir).and_then(|d| d.sync_all()).map_err(io(&self.dir))?;
        self.entries.insert(seq, Entry { kind, bytes: size });
        self.used += size;
        self.next += 1;
        Ok(Some(seq))
    }

    /// The oldest item, to be sent first so the server sees events in the order they happened.
    pub fn oldest(&self) -> Option<u64> {
        self.entries.keys().next().copied()
    }

    pub fn load(&mut self, seq: u64) -> Result<Request, SpoolError> {
        let Some(entry) = self.entries.get(&seq).copied() else {
            return Err(SpoolError::Corrupt(seq, "not in the spool".into()));
        };
        let path = self.path(seq, entry.kind);
        let bytes = std::fs::read(&path).map_err(io(&path))?;
        match codec::decode_frame::<Request>(&bytes) {
            Ok(Some((request, used))) if used == bytes.len() => Ok(request),
            other => {
                let why = match other {
                    Err(e) => e.to_string(),
                    _ => "incomplete or trailing bytes".into(),
                };
                let aside = path.with_extension("bad");
                std::fs::rename(&path, &aside).map_err(io(&path))?;
                self.forget(seq);
                Err(SpoolError::Corrupt(seq, why))
            }
        }
    }

    /// Deletes an acknowledged item.
    pub fn remove(&mut self, seq: u64) -> Result<(), SpoolError> {
        if let Some(entry) = self.entries.get(&seq).copied() {
            let path = self.path(seq, entry.kind);
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(SpoolError::Io { path, source: e }),
            }
            self.forget(seq);
        }
        Ok(())
    }

    fn forget(&mut self, seq: u64) {
        if let Some(entry) = self.entries.remove(&seq) {
            self.used -= entry.bytes;
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Routine snapshots dropped for lack of room since this spool was opened.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }
}

fn parse_name(name: &str) -> Option<(u64, Kind)> {
    let (seq, suffix) = name.split_once('.')?;
    let kind = match suffix {
        "routine" => Kind::Routine,
        "kept" => Kind::Kept,
        _ => return None,
    };
    Some((seq.parse().ok()?, kind))
}

#[cfg(test)]
mod tests {
    use super::*;
    use lifeline_shared::wire::{HelpRequest, Snapshot};

    fn snap(n: u8) -> Request {
        Request::Snapshot(Snapshot { id: [n; 16], problems: vec!["x".repeat(200)], ..Snapshot::default() })
    }

    fn help(n: u8) -> Request {
        Request::Help(HelpRequest {
            id: [n; 16],
            user: "ann".into(),
            subject: "help".into(),
            description: String::new(),
            snapshot: Snapshot { id: [n; 16], ..Snapshot::default() },
        })
    }

    fn ids(spool: &mut Spool) -> Vec<u8> {
        let seqs: Vec<_> = spool.entries.keys().copied().collect();
        seqs.into_iter()
            .map(|s| match spool.load(s).unwrap() {
                Request::Snapshot(s) | Request::TicketSnapshot { snapshot: s, .. } => s.id[0],
                Request::Help(h) => h.id[0],
                Request::UserTicket(a) => a.id[0],
                Request::SelfHelp(r) => r.id[0],
                Request::Tickets { .. } | Request::Probe { .. } | Request::CheckResult(_) => 0,
            })
            .collect()
    }

    #[test]
    fn survives_reopen_in_order_and_clears_crash_leftovers() {
        let dir = tempfile::tempdir().unwrap();
        let mut spool = Spool::open(dir.path(), 1 << 20).unwrap();
        for n in 1..=3 {
            spool.push(Kind::Routine, &snap(n)).unwrap();
        }
        spool.push(Kind::Kept, &help(4)).unwrap();
        let first = spool.oldest().unwrap();
        spool.remove(first).unwrap();
        std::fs::write(dir.path().join("00000000000000000009.routine.tmp"), b"half").unwrap();
        drop(spool);

        let mut spool = Spool::open(dir.path(), 1 << 20).unwrap();
        assert_eq!(ids(&mut spool), [2, 3, 4]);
        assert!(!dir.path().join("00000000000000000009.routine.tmp").exists());
        assert_eq!(spool.push(Kind::Routine, &snap(5)).unwrap(), Some(4), "numbering continues after a reopen");
    }

    #[test]
    fn full_spool_drops_routine_oldest_first_and_never_help() {
        let dir = tempfile::tempdir().unwrap();
        let budget = codec::encode(&snap(0)).unwrap().len() as u64 * 3;
        let mut spool = Spool::open(dir.path(), budget).unwrap();
        // (id, is_help): routine snapshots and help requests interleaved, far more than the budget holds.
        let pushes = [(1, false), (2, true), (3, false), (4, false), (5, false), (6, true), (7, false), (8, true)];
        let mut routine_pushed = 0;
        for (id, is_help) in pushes {
            let (kind, request) = if is_help { (Kind::Kept, help(id)) } else { (Kind::Routine, snap(id)) };
            routine_pushed += u64::from(!is_help);
            spool.push(kind, &request).unwrap();
            assert!(spool.used <= budget || spool.entries.values().all(|e| e.kind == Kind::Kept), "over budget");
        }
        let kept = ids(&mut spool);
        for help_id in [2, 6, 8] {
            assert!(kept.contains(&help_id), "help request {help_id} was dropped: {kept:?}");
        }
        let routine: Vec<u8> = kept.iter().copied().filter(|id| ![2, 6, 8].contains(id)).collect();
        assert!(routine.is_empty() || routine.ends_with(&[7]), "the newest routine snapshot survives: {kept:?}");
        assert!(routine.windows(2).all(|w| w[0] < w[1]), "kept in order: {kept:?}");
        assert_eq!(spool.dropped(), routine_pushed - routine.len() as u64, "every drop is counted");
        assert!(spool.dropped() >= 3, "the budget forced drops: {kept:?}");

        let big = Spool::open(dir.path(), 1).unwrap().push(Kind::Routine, &snap(9)).unwrap();
        assert_eq!(big, None, "a routine snapshot with no room at all is dropped, not written");
    }

    #[test]
    fn a_corrupt_item_is_set_aside_not_sent_and_not_fatal() {
        let dir = tempfile::tempdir().unwrap();
        let mut spool = Spool::open(dir.path(), 1 << 20).unwrap();
        let seq = spool.push(Kind::Routine, &snap(1)).unwrap().unwrap();
        spool.push(Kind::Routine, &snap(2)).unwrap();
        std::fs::write(dir.path().join(format!("{seq:020}.routine")), [0, 0, 0, 2, 9, 9]).unwrap();
        assert!(matches!(spool.load(seq), Err(SpoolError::Corrupt(..))));
        assert!(dir.path().join(format!("{seq:020}.bad")).exists());
        assert_eq!(ids(&mut spool), [2]);
    }
}
