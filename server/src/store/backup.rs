//! Backups of a server's data, taken while it runs, and their restore into a new data directory.
//!
//! A backup directory holds `lifeline.db`, `pki/` (the CA and the keys kept beside it), the configuration file if the
//! server was given one (`server.toml`) and the audit checkpoint file if there is one. Everything in it is private to
//! whoever took it, the directories 0700 and the files 0600, as the CA key in it can mint agent identities.
//!
//! The database is copied with `VACUUM INTO` on a connection of its own. That reads inside one transaction, so the
//! copy holds the database as one commit left it, while the server's writer goes on committing: every snapshot
//! acknowledged before the backup began is in it, and no transaction is in it by halves.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use rusqlite::Connection;

use crate::config::Config;

/// The configuration file's name in a backup and in a restored data directory.
pub const CONFIG_FILE: &str = "server.toml";

/// Copies the data of the server `config` describes into `out`, a new or empty directory. `config_file` is the file
/// `config` was loaded from, if any. Returns the files written.
pub fn backup(config: &Config, config_file: Option<&Path>, out: &Path) -> Result<Vec<PathBuf>> {
    let (db, pki) = (config.db_path(), config.pki_dir());
    if !db.is_file() || !pki.join("ca.key").is_file() {
        bail!("no server data in {}: give the server's --data-dir or --config", config.data_dir.display());
    }
    let to = Config { data_dir: out.to_owned(), ..Config::default() };
    new_private_dir(out)?;
    let mut written = copy_pki(&pki, &to.pki_dir())?;
    if let Some(file) = config_file {
        written.push(copy_private(file, &out.join(CONFIG_FILE))?);
    }
    // Before the database: every checkpoint copied then signed a head that the copy of the database holds too, so
    // the two verify together.
    let checkpoints = config.checkpoint_file();
    if checkpoints.is_file() {
        let text = std::fs::read(&checkpoints).with_context(|| format!("reading {}", checkpoints.display()))?;
        // A line still being appended is left out: it would be a line no verifier can read.
        let whole = text.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        let path = to.checkpoint_file();
        lifeline_net::tls::write_private(&path, &text[..whole])
            .with_context(|| format!("writing {}", path.display()))?;
        written.push(path);
    }
    let copy = to.db_path();
    copy_database(&db, &copy)?;
    check_database(&copy)?;
    written.push(copy);
    sync_dir(out)?;
    Ok(written)
}

/// Restores the backup in `from` into `data_dir`, a new or empty directory. Returns the files written.
pub fn restore(from: &Path, data_dir: &Path) -> Result<Vec<PathBuf>> {
    let backup = Config { data_dir: from.to_owned(), ..Config::default() };
    let (db, pki) = (backup.db_path(), backup.pki_dir());
    for needed in [&db, &pki.join("ca.key"), &pki.join("ca.pem")] {
        if !needed.is_file() {
            bail!("{} is not a backup: it has no {}", from.display(), needed.display());
        }
    }
    // Before anything is written: a damaged backup leaves no half-restored directory behind.
    check_database(&db)?;
    let to = Config { data_dir: data_dir.to_owned(), ..Config::default() };
    new_private_dir(data_dir)?;
    let mut written = copy_pki(&pki, &to.pki_dir())?;
    for (from, to) in
        [(backup.checkpoint_file(), to.checkpoint_file()), (from.join(CONFIG_FILE), data_dir.join(CONFIG_FILE))]
    {
        if from.is_file() {
            written.push(copy_private(&from, &to)?);
        }
    }
    written.push(copy_private(&db, &to.db_path())?);
    sync_dir(data_dir)?;
    Ok(written)
}

/// `VACUUM INTO` an empty file made private first: SQLite writes into an empty file and keeps its mode, so the copy
/// is never readable by others, not even while it is written.
fn copy_database(db: &Path, to: &Path) -> Result<()> {
    let target = to.to_str().with_context(|| format!("{} is not UTF-8, which SQLite needs here", to.display()))?;
    let conn = Connection::open(db).with_context(|| format!("opening {}", db.display()))?;
    // The server's writer holds its lock for a batch at a time; waiting out a few is normal.
    conn.busy_timeout(Duration::from_secs(30))?;
    private_file(to)?.sync_all()?;
    conn.execute("VACUUM INTO ?1", [target])
        .with_context(|| format!("copying {} into {}", db.display(), to.display()))?;
    // SQLite does not sync what VACUUM INTO writes.
    std::fs::File::open(to).and_then(|f| f.sync_all()).with_context(|| format!("syncing {}", to.display()))?;
    Ok(())
}

/// SQLite's own check of every page and index, so that a backup is known sound when it is taken and before it is
/// restored.
fn check_database(db: &Path) -> Result<()> {
    let conn = Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .with_context(|| format!("opening {}", db.display()))?;
    let verdict: String = conn
        .query_row("PRAGMA integrity_check(1)", [], |r| r.get(0))
        .with_context(|| format!("checking {}", db.display()))?;
    if verdict != "ok" {
        bail!("{} is damaged: {verdict}", db.display());
    }
    Ok(())
}

/// Copies every file of the PKI directory: the CA certificate and key, and the keys kept beside them.
fn copy_pki(from: &Path, to: &Path) -> Result<Vec<PathBuf>> {
    new_private_dir(to)?;
    let mut written = Vec::new();
    for entry in std::fs::read_dir(from).with_context(|| format!("reading {}", from.display()))? {
        let entry = entry.with_context(|| format!("reading {}", from.display()))?;
        let name = entry.file_name();
        // Dot files are the temporary files of a key being written, never a key.
        if entry.file_type()?.is_file() && !name.to_string_lossy().starts_with('.') {
            written.push(copy_private(&entry.path(), &to.join(name))?);
        }
    }
    sync_dir(to)?;
    Ok(written)
}

fn copy_private(from: &Path, to: &Path) -> Result<PathBuf> {
    let mut source = std::fs::File::open(from).with_context(|| format!("reading {}", from.display()))?;
    let mut target = private_file(to)?;
    std::io::copy(&mut source, &mut target)
        .with_context(|| format!("copying {} to {}", from.display(), to.display()))?;
    target.sync_all().with_context(|| format!("syncing {}", to.display()))?;
    Ok(to.to_owned())
}

/// A new file that only its owner can read; an existing one is never overwritten.
fn private_file(path: &Path) -> Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path).with_context(|| format!("creating {}", path.display()))
}

/// Creates `dir` (0700), or takes it if it exists and is empty; anything in it could be another server's data.
fn new_private_dir(dir: &Path) -> Result<()> {
    match std::fs::read_dir(dir) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                bail!(
                    "{} is not empty: give a new or empty directory, so that nothing in it is mixed up or overwritten",
                    dir.display()
                );
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut builder = std::fs::DirBuilder::new();
            builder.recursive(true);
            #[cfg(unix)]
            std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
            builder.create(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        Err(e) => return Err(e).with_context(|| format!("reading {}", dir.display())),
    }
    #[cfg(unix)]
    std::fs::set_permissions(dir, std::os::unix::fs::PermissionsExt::from_mode(0o700))
        .with_context(|| format!("making {} private", dir.display()))?;
    Ok(())
}

/// Makes the names of the files just written durable, not only their contents.
fn sync_dir(dir: &Path) -> Result<()> {
    std::fs::File::open(dir).and_then(|d| d.sync_all()).with_context(|| format!("syncing {}", dir.display()))
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;
    use crate::config::CHECKPOINT_FILE;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    /// A data directory with a CA, a database of `rows` rows and a checkpoint file whose last line is half written.
    fn data_dir(rows: i64) -> (tempfile::TempDir, Config) {
        let dir = tempfile::tempdir().unwrap();
        let config = Config { data_dir: dir.path().to_owned(), ..Config::default() };
        crate::pki::Pki::load_or_create(&config.pki_dir(), &[]).unwrap();
        let conn = Connection::open(config.db_path()).unwrap();
        conn.execute_batch("PRAGMA journal_mode=WAL; CREATE TABLE t (v INTEGER)").unwrap();
        for v in 0..rows {
            conn.execute("INSERT INTO t VALUES (?1)", [v]).unwrap();
        }
        std::fs::write(config.checkpoint_file(), "{\"whole\":1}\n{\"half").unwrap();
        (dir, config)
    }

    #[test]
    fn a_backup_restores_whole_and_private_into_a_new_directory_only() {
        let (_data, config) = data_dir(3);
        let config_file = config.data_dir.join("s.toml");
        std::fs::write(&config_file, "heartbeat_secs = 5\n").unwrap();
        let scratch = tempfile::tempdir().unwrap();
        let (out, restored) = (scratch.path().join("b/nested"), scratch.path().join("new"));

        let written = backup(&config, Some(&config_file), &out).unwrap();
        let names: Vec<_> =
            written.iter().map(|p| p.strip_prefix(&out).unwrap().to_str().unwrap().to_owned()).collect();
        for name in [
            "pki/ca.key",
            "pki/ca.pem",
            "pki/reset.key",
            "pki/ticket.key",
            "server.toml",
            CHECKPOINT_FILE,
            "lifeline.db",
        ] {
            assert!(names.contains(&name.to_owned()), "{name} not in {names:?}");
        }
        assert_eq!(std::fs::read_to_string(out.join(CHECKPOINT_FILE)).unwrap(), "{\"whole\":1}\n");

        restore(&out, &restored).unwrap();
        for dir in [&out, &out.join("pki"), &restored, &restored.join("pki")] {
            assert_eq!(mode(dir), 0o700, "{}", dir.display());
        }
        for file in &written {
            let restored_file = restored.join(file.strip_prefix(&out).unwrap());
            assert_eq!((mode(file), mode(&restored_file)), (0o600, 0o600), "{}", file.display());
            assert_eq!(std::fs::read(file).unwrap(), std::fs::read(&restored_file).unwrap(), "{}", file.display());
        }
        let rows: i64 = Connection::open(restored.join("lifeline.db"))
            .unwrap()
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows, 3);

        // Neither ever writes into a directory that holds something.
        let again = restore(&out, &restored).unwrap_err();
        assert!(format!("{again:#}").contains("is not empty"), "{again:#}");
        let again = backup(&config, None, &out).unwrap_err();
        assert!(format!("{again:#}").contains("is not empty"), "{again:#}");
        // An empty directory is taken, and made private.
        let empty = scratch.path().join("empty");
        std::fs::create_dir(&empty).unwrap();
        std::fs::set_permissions(&empty, std::fs::Permissions::from_mode(0o755)).unwrap();
        restore(&out, &empty).unwrap();
        assert_eq!(mode(&empty), 0o700);
    }

    #[test]
    fn nothing_is_restored_from_what_is_not_a_sound_backup() {
        let (_data, config) = data_dir(2000);
        let scratch = tempfile::tempdir().unwrap();
        let out = scratch.path().join("b");
        backup(&config, None, &out).unwrap();

        let no_ca = scratch.path().join("no-ca");
        std::fs::create_dir(&no_ca).unwrap();
        std::fs::copy(out.join("lifeline.db"), no_ca.join("lifeline.db")).unwrap();
        let err = restore(&no_ca, &scratch.path().join("t1")).unwrap_err();
        assert!(format!("{err:#}").contains("is not a backup"), "{err:#}");

        // Overwrite the middle of the database with garbage: SQLite's check must notice before anything is written.
        let db = out.join("lifeline.db");
        let mut bytes = std::fs::read(&db).unwrap();
        let middle = bytes.len() / 2;
        bytes[middle..middle + 4096].fill(0xA5);
        std::fs::write(&db, bytes).unwrap();
        let target = scratch.path().join("t2");
        let err = restore(&out, &target).unwrap_err();
        assert!(format!("{err:#}").contains("damaged") || format!("{err:#}").contains("malformed"), "{err:#}");
        assert!(!target.exists(), "a damaged backup left a directory behind");

        let err = backup(
            &Config { data_dir: scratch.path().join("nothing"), ..Config::default() },
            None,
            &scratch.path().join("b2"),
        );
        assert!(format!("{:#}", err.unwrap_err()).contains("no server data"));
    }

    #[test]
    fn a_backup_taken_while_a_writer_commits_holds_whole_transactions() {
        use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
        let (_data, config) = data_dir(0);
        let db = config.db_path();
        let done = std::sync::Arc::new(AtomicBool::new(false));
        let committed = std::sync::Arc::new(AtomicI64::new(0));
        // Every transaction adds a pair of rows: a copy taken halfway through one would hold an odd count.
        let writer = {
            let (db, done, committed) = (db.clone(), done.clone(), committed.clone());
            std::thread::spawn(move || {
                let conn = Connection::open(db).unwrap();
                conn.busy_timeout(Duration::from_secs(30)).unwrap();
                while !done.load(Ordering::Relaxed) {
                    conn.execute_batch("BEGIN IMMEDIATE; INSERT INTO t VALUES (1); INSERT INTO t VALUES (2); COMMIT")
                        .unwrap();
                    committed.fetch_add(1, Ordering::Relaxed);
                }
            })
        };
        let scratch = tempfile::tempdir().unwrap();
        let counts: Vec<i64> = (0..5)
            .map(|i| {
                // On a loaded machine the writer may not run between two backups unless waited for. Two commits,
                // as the counter moves just after a commit the previous backup may already hold.
                let before = committed.load(Ordering::Relaxed);
                let deadline = std::time::Instant::now() + Duration::from_secs(30);
                while committed.load(Ordering::Relaxed) < before + 2 && std::time::Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(1));
                }
                let out = scratch.path().join(format!("backup-{i}"));
                backup(&config, None, &out).unwrap();
                Connection::open(out.join("lifeline.db"))
                    .unwrap()
                    .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
                    .unwrap()
            })
            .collect();
        done.store(true, Ordering::Relaxed);
        writer.join().unwrap();
        let committed = committed.load(Ordering::Relaxed);
        assert!(counts.windows(2).all(|w| w[0] < w[1]), "the writer did not commit between the backups: {counts:?}");
        assert!(counts.iter().all(|n| n % 2 == 0), "a backup holds half a transaction: {counts:?}");
        assert!(counts.iter().all(|&n| n <= 2 * committed), "{counts:?} of {committed} transactions");
    }
}
