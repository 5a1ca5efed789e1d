//! `journal-errors`: a unit's recent messages at priority err or worse, read from journald's files as `journalctl -u
//! UNIT -p err --since` would show them, but without starting journalctl: `lifeline_shared::journal` decodes the
//! files, this module finds them, reads them with bounded time and bytes, and writes the report.

use std::collections::HashMap;
use std::fmt::Write;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use lifeline_shared::journal::{self, Filter, JournalError, Limits, Message, Scan, Source};

/// journald keeps dozens of files per machine by default; past this many the oldest are not read.
const MAX_FILES: usize = 256;
const LIMITS: Limits = Limits { max_bytes: 512 << 20, keep: 50, max_message: 512 };
/// `err`: what `journalctl -p err` shows.
const MAX_PRIORITY: u8 = 3;

/// Scans every journal file under `dirs` (each holding one directory per machine id, as `/var/log/journal` does) for
/// `unit`'s messages of the last `hours`, stopping by `deadline` with what it found so far.
pub fn journal_errors(dirs: &[PathBuf], unit: &str, hours: u8, deadline: Instant) -> Result<String, String> {
    let present: Vec<&PathBuf> = dirs.iter().filter(|d| d.is_dir()).collect();
    if present.is_empty() {
        return Err("no journal on this machine (journald keeps logs in memory only or is absent)".into());
    }
    let now_us = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_micros() as u64);
    let since_us = now_us.saturating_sub(u64::from(hours) * 3_600_000_000);
    // `cups` means `cups.service`, as systemctl and journalctl read it.
    let service = format!("{unit}.service");
    let units: Vec<&str> = if unit.contains('.') { vec![unit] } else { vec![unit, &service] };
    let filter = Filter { units: &units, since_us, until_us: u64::MAX, max_priority: MAX_PRIORITY };

    let mut skipped: Vec<(String, String)> = Vec::new();
    let mut older = 0;
    let mut files = Vec::new();
    let paths: Vec<PathBuf> = present.iter().flat_map(|dir| journal_files(dir, &mut skipped)).collect();
    let found_files = !paths.is_empty();
    for path in paths {
        // Opened again to be scanned: a machine may keep thousands of files, and holding them all open costs a
        // descriptor each.
        match JournalFile::open(&path, deadline).and_then(|mut f| journal::header(&mut f).map_err(|e| e.to_string())) {
            Ok(header) if header.tail_realtime_us < since_us => older += 1,
            Ok(header) => files.push((path, header)),
            Err(e) => skipped.push((shown_path(&path), e)),
        }
    }
    if !found_files && skipped.is_empty() {
        return Err("no journal on this machine (journald keeps logs in memory only or is absent)".into());
    }
    // Newest files first, so the budget goes to the newest messages if it runs out.
    files.sort_by_key(|f| std::cmp::Reverse(f.1.tail_realtime_us));
    if files.len() > MAX_FILES {
        for (path, _) in files.drain(MAX_FILES..) {
            skipped.push((shown_path(&path), format!("past the limit of {MAX_FILES} files")));
        }
    }

    let mut scan = Scan::default();
    let mut read = 0;
    let mut stopped = None;
    for (path, header) in files {
        if let Some(why) = &stopped {
            skipped.push((shown_path(&path), format!("not read: {why}")));
            continue;
        }
        let result = JournalFile::open(&path, deadline).map_err(|e| format!("not read: {e}")).and_then(|mut file| {
            journal::scan(&mut file, &header, &filter, &LIMITS, &mut scan).map_err(|e| {
                let timed_out = matches!(&e, JournalError::Read(io) if io.kind() == std::io::ErrorKind::TimedOut);
                let why = if timed_out { "the time limit was reached".to_owned() } else { e.to_string() };
                if timed_out || matches!(e, JournalError::ReadLimit(_)) {
                    stopped = Some(why.clone());
                }
                format!("partly read: {why}")
            })
        });
        match result {
            Ok(()) => read += 1,
            Err(why) => skipped.push((shown_path(&path), why)),
        }
    }

    let mut out =
        format!("{} at priority err or worse in the last {hours} h (since {})\n", units.join(" or "), utc(since_us));
    let matched = scan.matched;
    let newest = scan.newest(&LIMITS);
    if matched == 0 {
        out += "no errors logged by this unit in that time\n";
    } else if newest.len() as u64 == matched {
        let _ = writeln!(out, "{matched} error(s), newest first:");
    } else {
        let _ = writeln!(out, "{matched} error(s); the newest {}:", newest.len());
    }
    for found in newest {
        let message = match &found.message {
            Message::Text { text, cut: false } => text.clone(),
            Message::Text { text, cut: true } => format!("{text} [cut]"),
            Message::Compressed => "[compressed]".into(),
            Message::Missing => "[no message]".into(),
        };
        let _ = writeln!(out, "{} {:<6} {message}", utc(found.realtime_us), priority_name(found.priority));
    }
    let _ = writeln!(
        out,
        "\nscanned {} entries in the window ({} KiB read) from {read} file(s)",
        scan.entries,
        scan.bytes_read.div_ceil(1024)
    );
    if scan.compressed_fields > 0 {
        let _ = writeln!(
            out,
            "{} compressed field(s) not read (long values journald stores compressed)",
            scan.compressed_fields
        );
    }
    if older > 0 {
        let _ = writeln!(out, "{older} older file(s) end before the window");
    }
    if let Some(why) = &stopped {
        let _ = writeln!(out, "stopped early: {why}; older entries may be missing");
    }
    if !skipped.is_empty() {
        let _ = writeln!(out, "{} file(s) skipped or partly read:", skipped.len());
        for (path, why) in &skipped {
            let _ = writeln!(out, "  {path}: {why}");
        }
    }
    Ok(out)
}

/// The `*.journal` and `*.journal~` (renamed after an unclean shutdown, still readable) files in the machine id
/// directories (`<id>` and `<id>.<namespace>`) of `root`. Other directories are not this machine's: `remote/` holds
/// what systemd-journal-remote received from other machines.
fn journal_files(root: &Path, skipped: &mut Vec<(String, String)>) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let machines = match std::fs::read_dir(root) {
        Ok(entries) => entries,
        Err(e) => {
            skipped.push((shown_path(root), e.to_string()));
            return out;
        }
    };
    for machine in machines.flatten() {
        if !machine.file_type().is_ok_and(|t| t.is_dir()) || !is_machine_dir(&machine.file_name().to_string_lossy()) {
            continue;
        }
        let Ok(files) = std::fs::read_dir(machine.path()) else { continue };
        for file in files.flatten() {
            let name = file.file_name();
            let name = name.to_string_lossy();
            if file.file_type().is_ok_and(|t| t.is_file())
                && (name.ends_with(".journal") || name.ends_with(".journal~"))
            {
                out.push(file.path());
            }
        }
    }
    out
}

fn is_machine_dir(name: &str) -> bool {
    let (id, namespace) = name.split_at_checked(32).unwrap_or((name, "-"));
    id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()) && (namespace.is_empty() || namespace.starts_with('.'))
}

/// A journal file read in blocks through a small cache: the data objects most entries share (the unit, the priority,
/// the boot id) are then read from the disk once. Every read past the deadline fails, which ends the scan.
struct JournalFile {
    file: File,
    size: u64,
    deadline: Instant,
    blocks: HashMap<u64, Vec<u8>>,
}

const BLOCK: u64 = 64 << 10;
/// 16 MiB of cached blocks at most; the cache is emptied when full, which is rare and cheap enough.
const MAX_BLOCKS: usize = 256;

impl JournalFile {
    fn open(path: &Path, deadline: Instant) -> Result<JournalFile, String> {
        let file = File::open(path).map_err(|e| e.to_string())?;
        let size = file.metadata().map_err(|e| e.to_string())?.len();
        Ok(JournalFile { file, size, deadline, blocks: HashMap::new() })
    }

    fn block(&mut self, index: u64) -> std::io::Result<&[u8]> {
        if !self.blocks.contains_key(&index) {
            if Instant::now() > self.deadline {
                return Err(std::io::ErrorKind::TimedOut.into());
            }
            if self.blocks.len() >= MAX_BLOCKS {
                self.blocks.clear();
            }
            let start = index * BLOCK;
            let len = BLOCK.min(self.size.saturating_sub(start));
            let mut buf = vec![0; len as usize];
            self.file.read_exact_at(&mut buf, start)?;
            self.blocks.insert(index, buf);
        }
        self.blocks.get(&index).map(Vec::as_slice).ok_or_else(|| std::io::ErrorKind::NotFound.into())
    }
}

impl Source for JournalFile {
    fn size(&self) -> u64 {
        self.size
    }

    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> std::io::Result<()> {
        let mut done = 0;
        while done < buf.len() {
            let at = offset + done as u64;
            let block = self.block(at / BLOCK)?;
            let from = (at % BLOCK) as usize;
            let n = block.len().saturating_sub(from).min(buf.len() - done);
            if n == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            buf[done..done + n].copy_from_slice(&block[from..from + n]);
            done += n;
        }
        Ok(())
    }
}

/// The file's name under its machine directory: enough to tell files apart without listing the whole path each time.
fn shown_path(path: &Path) -> String {
    let mut parts: Vec<String> = path.iter().rev().take(2).map(|p| p.to_string_lossy().into_owned()).collect();
    parts.reverse();
    parts.join("/")
}

fn priority_name(p: u8) -> &'static str {
    match p {
        0 => "emerg",
        1 => "alert",
        2 => "crit",
        3 => "err",
        4 => "warning",
        5 => "notice",
        6 => "info",
        _ => "debug",
    }
}

/// Microseconds since 1970, as the journal counts, to the second.
fn utc(us: u64) -> String {
    crate::utc_seconds(us / 1000)
}

/// What `deadline` a scan gets inside the check's time limit: enough margin to write the report of what it found.
pub fn deadline(limit: Duration) -> Instant {
    Instant::now() + limit.saturating_sub(Duration::from_secs(3))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn soon() -> Instant {
        Instant::now() + Duration::from_secs(10)
    }

    #[test]
    fn a_machine_without_a_journal_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let err = journal_errors(&[dir.path().join("absent")], "cups.service", 24, soon()).unwrap_err();
        assert!(err.contains("no journal on this machine"), "{err}");
        let err = journal_errors(&[dir.path().to_owned()], "cups.service", 24, soon()).unwrap_err();
        assert!(err.contains("no journal on this machine"), "an empty directory holds no journal: {err}");
    }

    #[test]
    fn the_report_lists_the_newest_errors_then_what_was_read() {
        let dir = tempfile::tempdir().unwrap();
        let machine = dir.path().join("3d1219c7c4c5404aaa1f6d2a48adfda4");
        std::fs::create_dir(&machine).unwrap();
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_micros() as u64;
        const UNIT: (&str, bool) = ("_SYSTEMD_UNIT=cups.service", false);
        let entries: Vec<journal::SampleEntry> = vec![
            (now - 3_600_000_000, &[UNIT, ("PRIORITY=3", false), ("MESSAGE=printer on fire", false)]),
            (now - 1_800_000_000, &[UNIT, ("PRIORITY=6", false), ("MESSAGE=job queued", false)]),
            (now - 60_000_000, &[UNIT, ("PRIORITY=2", false), ("MESSAGE=a very long one", true)]),
        ];
        std::fs::write(machine.join("system.journal"), journal::sample_file(true, &entries)).unwrap();
        let out = journal_errors(&[dir.path().to_owned()], "cups", 24, soon()).unwrap();
        let lines: Vec<&str> = out.lines().collect();
        assert!(
            lines[0].starts_with("cups or cups.service at priority err or worse in the last 24 h (since "),
            "{out}"
        );
        assert_eq!(lines[1], "2 error(s), newest first:", "{out}");
        assert!(lines[2].ends_with(" UTC crit   [compressed]"), "{out}");
        assert!(lines[3].ends_with(" UTC err    printer on fire"), "{out}");
        assert!(out.contains("scanned 3 entries in the window (1 KiB read) from 1 file(s)"), "{out}");
        assert!(out.contains("1 compressed field(s) not read"), "{out}");
    }

    #[test]
    fn files_that_are_not_journals_are_listed_as_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let machine = dir.path().join("3d1219c7c4c5404aaa1f6d2a48adfda4");
        std::fs::create_dir(&machine).unwrap();
        std::fs::write(machine.join("system.journal"), vec![0u8; 4096]).unwrap();
        std::fs::write(machine.join("notes.txt"), "ignored").unwrap();
        let remote = dir.path().join("remote");
        std::fs::create_dir(&remote).unwrap();
        std::fs::write(remote.join("remote-10.0.0.7.journal"), "another machine's").unwrap();
        let out = journal_errors(&[dir.path().to_owned()], "cups", 1, soon()).unwrap();
        assert!(out.contains("cups or cups.service at priority err or worse in the last 1 h"), "{out}");
        assert!(out.contains("no errors logged by this unit in that time"), "{out}");
        assert!(out.contains("3d1219c7c4c5404aaa1f6d2a48adfda4/system.journal: not a journal file"), "{out}");
        assert!(!out.contains("notes.txt") && !out.contains("remote"), "{out}");
        assert!(is_machine_dir("3d1219c7c4c5404aaa1f6d2a48adfda4.backup"));
        assert!(!is_machine_dir("3d1219c7c4c5404aaa1f6d2a48adfda4x") && !is_machine_dir("remote"));
    }
}
