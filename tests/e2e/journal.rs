//! `journal-errors` on journal files systemd itself wrote: `systemd-journal-remote` turns entries in the journal
//! export format into a journal file, in each layout (compact or regular) and with or without compression, at test
//! time. The decoder in `lifeline_shared::journal` is checked on those files directly, whole and damaged, then the
//! real server and agent run the check on them.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use lifeline_shared::journal::{self, Filter, Limits, Message, Scan};
use serde_json::Value;

use crate::checks::check_run;
use crate::harness::{Agent, Server, run};

/// systemd's own journal writer. Where it is missing the test fails, saying so: `./test` installs it, or leaves the
/// journal tests out by name where it cannot.
fn journal_remote() -> PathBuf {
    ["/lib/systemd/systemd-journal-remote", "/usr/lib/systemd/systemd-journal-remote"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .expect("systemd-journal-remote is missing: apt-get install systemd-journal-remote (./test does where it can)")
}

const HOUR_US: u64 = 3_600_000_000;

fn now_us() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_micros() as u64
}

/// (microseconds before now, fields), oldest first, as journald appends them.
type Entry = (u64, Vec<(&'static str, String)>);

fn entry(ago_us: u64, unit_field: &'static str, unit: &str, priority: u8, message: &str) -> Entry {
    let fields = vec![
        (unit_field, unit.to_owned()),
        ("PRIORITY", priority.to_string()),
        ("SYSLOG_IDENTIFIER", "test".to_owned()),
        ("MESSAGE", message.to_owned()),
    ];
    (ago_us, fields)
}

/// What a machine's journal holds for the tests: cups.service's errors at several ages, its info messages, another
/// unit's errors, systemd's own message about cups, a message long enough for journald to compress, and hundreds of
/// entries from other units so the file has a chain of entry arrays.
fn entries() -> Vec<Entry> {
    let long = format!("backtrace follows: {}", "frame 0x7f00 in libcups.so ".repeat(800));
    let mut out = vec![
        entry(30 * HOUR_US, "_SYSTEMD_UNIT", "cups.service", 3, "too old to show"),
        entry(2 * HOUR_US, "_SYSTEMD_UNIT", "cups.service", 3, "printer office-1 on fire"),
        entry(2 * HOUR_US - 1_000, "_SYSTEMD_UNIT", "cups.service", 6, "job 12 queued"),
        entry(2 * HOUR_US - 2_000, "_SYSTEMD_UNIT", "sshd.service", 2, "sshd is unwell"),
    ];
    for i in 0..400u64 {
        out.push(entry(HOUR_US + (400 - i) * 1_000_000, "_SYSTEMD_UNIT", "cron.service", 3, &format!("cron {i}")));
    }
    out.extend([
        entry(30 * 60_000_000, "UNIT", "cups.service", 3, "Failed to start cups.service - CUPS Scheduler."),
        entry(20 * 60_000_000, "_SYSTEMD_UNIT", "cups.service", 2, &long),
        entry(10 * 60_000_000, "_SYSTEMD_UNIT", "cups.service", 4, "a mere warning"),
    ]);
    out
}

/// The journal export format (<https://systemd.io/JOURNAL_EXPORT_FORMATS/>), values in its binary-safe form.
fn export(entries: &[Entry], now: u64) -> Vec<u8> {
    let mut out = Vec::new();
    for (ago, fields) in entries {
        let t = now - ago;
        out.extend(format!("__REALTIME_TIMESTAMP={t}\n__MONOTONIC_TIMESTAMP={t}\n").as_bytes());
        out.extend(b"_BOOT_ID=6c0fd0ac35a94ab1a6e1cf8ab83fc6f3\n");
        for (name, value) in fields {
            out.extend(name.as_bytes());
            out.push(b'\n');
            out.extend((value.len() as u64).to_le_bytes());
            out.extend(value.as_bytes());
            out.push(b'\n');
        }
        out.push(b'\n');
    }
    out
}

/// Writes `entries` into a new journal file at `path` with systemd's own writer.
fn write_journal(tool: &Path, path: &Path, entries: &[Entry], now: u64, compact: bool, compress: bool) {
    let input = path.with_extension("export");
    std::fs::write(&input, export(entries, now)).unwrap();
    let mut cmd = Command::new(tool);
    cmd.arg(format!("--output={}", path.display()))
        .arg(format!("--compress={}", if compress { "yes" } else { "no" }))
        .arg(&input)
        .env("SYSTEMD_JOURNAL_COMPACT", if compact { "1" } else { "0" });
    let out = run(cmd);
    assert!(out.ok && path.exists(), "systemd-journal-remote failed: {}{}", out.stdout, out.stderr);
    std::fs::remove_file(input).unwrap();
}

const LIMITS: Limits = Limits { max_bytes: 64 << 20, keep: 50, max_message: 512 };

fn scan_file(bytes: &[u8], units: &[&str], since_us: u64) -> (Result<(), journal::JournalError>, Scan) {
    let filter = Filter { units, since_us, until_us: u64::MAX, max_priority: 3 };
    let mut scan = Scan::default();
    let result = journal::header(&mut &bytes[..])
        .and_then(|header| journal::scan(&mut &bytes[..], &header, &filter, &LIMITS, &mut scan));
    (result, scan)
}

#[test]
fn the_decoder_reads_what_systemd_writes_in_every_layout_and_survives_damage() {
    let tool = journal_remote();
    let dir = tempfile::tempdir().unwrap();
    let now = now_us();
    for (compact, compress) in [(true, true), (false, true), (true, false), (false, false)] {
        let path = dir.path().join(format!("c{}-z{}.journal", u8::from(compact), u8::from(compress)));
        write_journal(&tool, &path, &entries(), now, compact, compress);
        let bytes = std::fs::read(&path).unwrap();
        let header = journal::header(&mut &bytes[..]).unwrap();
        assert_eq!(header.compact, compact, "{}", path.display());
        assert_eq!(header.n_entries, 407);

        let (result, mut scan) = scan_file(&bytes, &["cups.service"], now - 24 * HOUR_US);
        result.unwrap();
        let got: Vec<(u64, u8, Message)> =
            scan.newest(&LIMITS).iter().map(|f| (now - f.realtime_us, f.priority, f.message.clone())).collect();
        let long = if compress {
            Message::Compressed
        } else {
            let text = format!("backtrace follows: {}", "frame 0x7f00 in libcups.so ".repeat(800));
            Message::Text { text: text[..512].to_owned(), cut: true }
        };
        let text = |s: &str| Message::Text { text: s.into(), cut: false };
        let expected = vec![
            (20 * 60_000_000, 2, long),
            (30 * 60_000_000, 3, text("Failed to start cups.service - CUPS Scheduler.")),
            (2 * HOUR_US, 3, text("printer office-1 on fire")),
        ];
        assert_eq!(got, expected, "{}", path.display());
        assert_eq!(scan.compressed_fields, u64::from(compress), "{}", path.display());

        // The window's start skips whole entry arrays: an hour back leaves only the last two of cups's errors.
        let (result, mut recent) = scan_file(&bytes, &["cups.service"], now - HOUR_US);
        result.unwrap();
        assert_eq!(recent.newest(&LIMITS).len(), 2);
        assert!(recent.entries < scan.entries && recent.bytes_read < scan.bytes_read, "{recent:?} vs {scan:?}");

        // Damage: cut anywhere, or bytes overwritten in the header or among the objects (after the hash tables, which
        // this reader never uses); refused or partly read, never a panic. Sampled: the decoder's own tests try every
        // byte of smaller files.
        if !compress {
            continue;
        }
        let le64 = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap()) as usize;
        let objects = (le64(104) + le64(112)).max(le64(120) + le64(128));
        let used = (le64(136) + 4096).min(bytes.len());
        let step = ((used - objects) / 200).max(1);
        for len in (0..272).step_by(4).chain((objects..used).step_by(step)) {
            let _ = scan_file(&bytes[..len], &["cups.service"], 0);
        }
        let mut damaged = bytes[..used].to_vec();
        for at in (0..272).step_by(4).chain((objects..used).step_by(step)) {
            let saved = damaged[at];
            for garbage in [0x00, 0xff, saved ^ 0x08] {
                damaged[at] = garbage;
                let _ = scan_file(&damaged, &["cups.service"], 0);
            }
            damaged[at] = saved;
        }
        assert!(matches!(scan_file(&bytes[..100], &["cups.service"], 0).0, Err(journal::JournalError::NotAJournal)));
    }
}

#[test]
fn journal_errors_shows_one_units_errors_in_the_window_through_the_real_binaries() {
    let tool = journal_remote();
    let journal = tempfile::tempdir().unwrap();
    let machine = journal.path().join("3d1219c7c4c5404aaa1f6d2a48adfda4");
    std::fs::create_dir(&machine).unwrap();
    let now = now_us();
    write_journal(&tool, &machine.join("system.journal"), &entries(), now, true, true);
    // An archived file from the day before yesterday, and one that is not a journal at all.
    let old = vec![entry(50 * HOUR_US, "_SYSTEMD_UNIT", "cups.service", 0, "ancient history")];
    write_journal(&tool, &machine.join("system@0005f3-0005f4.journal"), &old, now, true, true);
    std::fs::write(machine.join("user-1000.journal"), b"not a journal").unwrap();

    let server = Server::start();
    let tech = server.add_user("tina", "1");
    let mut agent = Agent::enroll(&server);
    agent.run_with_policy(&format!("journal_dirs = [\"{}\"]\n", journal.path().display()));
    let ticket = agent.request_help("the printer stopped").to_string();
    let check = |params: &[&str]| -> Result<Value, String> {
        let mut args = vec![agent.id.as_str(), "journal-errors", "--ticket", ticket.as_str()];
        args.extend_from_slice(params);
        check_run(&server, &tech, &args)
    };
    let output = |params: &[&str]| -> String {
        let run = check(params).unwrap_or_else(|e| panic!("{params:?} refused: {e}"));
        assert_eq!(run["state"], "done", "{params:?}: {run:#}\nagent log:\n{}", agent.log());
        run["result"].as_str().unwrap().to_owned()
    };

    let day = output(&["unit=cups.service"]);
    for expected in [
        "cups.service at priority err or worse in the last 24 h",
        "3 error(s), newest first:",
        "crit   [compressed]",
        "err    Failed to start cups.service - CUPS Scheduler.",
        "err    printer office-1 on fire",
        "1 compressed field(s) not read",
        "1 older file(s) end before the window",
        "user-1000.journal: not a journal file",
        "from 1 file(s)",
    ] {
        assert!(day.contains(expected), "no {expected:?} in:\n{day}");
    }
    for unexpected in ["job 12 queued", "sshd is unwell", "cron", "a mere warning", "too old", "ancient"] {
        assert!(!day.contains(unexpected), "{unexpected:?} in:\n{day}");
    }
    let lines: Vec<&str> = day.lines().collect();
    let at = |needle: &str| lines.iter().position(|l| l.contains(needle)).unwrap();
    assert!(at("[compressed]") < at("Failed to start") && at("Failed to start") < at("on fire"), "newest first");

    let hour = output(&["unit=cups", "hours=1"]);
    assert!(hour.contains("cups or cups.service at priority err or worse in the last 1 h"), "{hour}");
    assert!(hour.contains("2 error(s)") && !hour.contains("on fire"), "{hour}");

    let other = output(&["unit=sshd.service", "hours=72"]);
    assert!(other.contains("crit   sshd is unwell") && !other.contains("cups"), "{other}");
    let quiet = output(&["unit=bluetooth.service"]);
    assert!(quiet.contains("no errors logged by this unit in that time"), "{quiet}");

    for hostile in [&["unit=a;reboot"][..], &["unit=--all"], &["unit=cups", "hours=0"], &["unit=cups", "hours=73"]] {
        let refused = check(hostile).unwrap_err();
        assert!(refused.contains("422"), "{hostile:?}: {refused}");
    }
    let history = agent.call(&["history"]);
    assert!(history.stdout.contains("journal-errors unit=sshd.service hours=72"), "{}", history.stdout);
}
