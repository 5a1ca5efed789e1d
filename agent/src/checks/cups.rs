//! The printing checks, asking the CUPS scheduler itself over its local socket as `lpstat` and `cancel` do, so the
//! answer is what CUPS will act on rather than a reading of its files. `lifeline_shared::ipp` builds the requests and
//! decodes the answers; this module owns the socket and bounds every step in time.
//!
//! Job names are never asked for: they are usually document titles ("Salary review.pdf"), which the technician does
//! not need to unstick a queue. Jobs are shown by number, owner, size and age.

use std::fmt::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lifeline_shared::ipp::{self, Group, HttpAnswer, Operation, Request, Response, group};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;

const CONNECT_LIMIT: Duration = Duration::from_secs(2);
/// One request and its whole answer. A scheduler slower than this is part of what the technician needs to know.
const EXCHANGE_LIMIT: Duration = Duration::from_secs(4);
/// Most jobs listed, and cancelled, in one run; a queue holding more says so and can be cleared again.
const MAX_JOBS: i32 = 500;

const PRINTER_ATTRIBUTES: &[&str] =
    &["printer-name", "printer-state", "printer-state-reasons", "printer-state-message", "printer-is-accepting-jobs"];
const JOB_ATTRIBUTES: &[&str] = &[
    "job-id",
    "job-state",
    "job-state-reasons",
    "job-originating-user-name",
    "job-k-octets",
    "job-printer-uri",
    "time-at-creation",
];

/// `printer-state` (RFC 8011 5.4.11).
const PRINTER_STOPPED: i32 = 5;

/// Every queue with its state, then every job not completed.
pub async fn printer_queue(socket: &Path) -> Result<String, String> {
    let mut cups = Cups::new(socket)?;
    let printers = cups.printers().await?;
    let jobs = cups.jobs(None).await?;
    let mut out = String::new();
    if printers.is_empty() {
        out += "no printers are set up in CUPS\n";
    }
    for p in &printers {
        out += &describe_printer(p);
    }
    let _ = writeln!(out, "\n{} job(s) not completed", jobs.len());
    if jobs.len() >= MAX_JOBS as usize {
        let _ = writeln!(out, "(only the first {MAX_JOBS} are listed)");
    }
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    for j in &jobs {
        out += &describe_job(j, now);
    }
    if !jobs.is_empty() {
        out += "(job names are not shown: they are often document titles)\n";
    }
    Ok(out)
}

/// Cancels the jobs waiting on one queue, then resumes the queue if it was stopped. Cancel-Jobs names the jobs seen a
/// moment before, so the count reported is exactly what was cancelled and a job sent meanwhile is left alone.
pub async fn clear_print_queue(socket: &Path, printer: &str) -> Result<String, String> {
    let mut cups = Cups::new(socket)?;
    let waiting = cups.jobs(Some(printer)).await?;
    let ids: Vec<i32> = waiting.iter().map(|j| j.id).collect();
    if !ids.is_empty() {
        let cancel = cups.on_printer(Operation::CancelJobs, printer).integers("job-ids", &ids);
        cups.request("/admin/", cancel).await?;
    }
    let mut out = format!("cancelled {} job(s) on {printer}\n", ids.len());
    if cups.printer(printer).await?.is_some_and(|p| p.state == PRINTER_STOPPED) {
        let resume = cups.on_printer(Operation::ResumePrinter, printer);
        cups.request("/admin/", resume).await?;
        out += "the queue was stopped; it is resumed\n";
    }
    let left = cups.jobs(Some(printer)).await?;
    let _ = writeln!(out, "{} job(s) not completed on {printer} now", left.len());
    if let Some(p) = cups.printer(printer).await? {
        out += &describe_printer(&p);
    }
    Ok(out)
}

struct Printer {
    name: String,
    state: i32,
    reasons: Vec<String>,
    message: Option<String>,
    accepting: Option<bool>,
}

struct Job {
    id: i32,
    state: i32,
    reasons: Vec<String>,
    user: Option<String>,
    kib: Option<i32>,
    printer: Option<String>,
    created: Option<i32>,
}

fn describe_printer(p: &Printer) -> String {
    let state = match p.state {
        3 => "idle",
        4 => "printing",
        PRINTER_STOPPED => "STOPPED",
        _ => "in an unknown state",
    };
    let accepting = match p.accepting {
        Some(true) => ", accepting jobs",
        Some(false) => ", REJECTING new jobs",
        None => "",
    };
    let mut line = format!("printer {}: {state}{accepting}", shown(&p.name));
    let reasons: Vec<&str> = p.reasons.iter().map(String::as_str).filter(|r| *r != "none").collect();
    if !reasons.is_empty() {
        let _ = write!(line, "; reasons: {}", shown(&reasons.join(", ")));
    }
    if let Some(m) = p.message.as_deref().filter(|m| !m.is_empty()) {
        let _ = write!(line, "; says {:?}", shown(m));
    }
    line + "\n"
}

fn describe_job(j: &Job, now: u64) -> String {
    let state = match j.state {
        3 => "pending",
        4 => "held",
        5 => "printing",
        6 => "stopped",
        7 => "cancelled",
        8 => "aborted",
        9 => "completed",
        _ => "unknown",
    };
    let mut line = format!("  job {} on {}: {state}", j.id, shown(j.printer.as_deref().unwrap_or("?")));
    if let Some(user) = &j.user {
        let _ = write!(line, ", from {}", shown(user));
    }
    if let Some(kib) = j.kib {
        let _ = write!(line, ", {kib} KiB");
    }
    if let Some(created) = j.created.and_then(|c| u64::try_from(c).ok()) {
        let minutes = now.saturating_sub(created) / 60;
        let _ = write!(line, ", queued {} h {} min ago", minutes / 60, minutes % 60);
    }
    let reasons: Vec<&str> = j.reasons.iter().map(String::as_str).filter(|r| *r != "none").collect();
    if !reasons.is_empty() {
        let _ = write!(line, "; reasons: {}", shown(&reasons.join(", ")));
    }
    line + "\n"
}

/// Names and messages come from the scheduler, and through it from any user who can print: control characters
/// would reach the technician's terminal.
fn shown(s: &str) -> String {
    s.chars().map(|c| if c.is_control() { '?' } else { c }).collect()
}

fn printer_uri(printer: &str) -> String {
    format!("ipp://localhost/printers/{printer}")
}

/// One conversation with the scheduler: a connection per request (CUPS closes it after answering, as asked), the
/// agent's own user name for CUPS to check against the socket's peer credentials.
struct Cups {
    socket: PathBuf,
    user: String,
    request_id: u32,
}

impl Cups {
    fn new(socket: &Path) -> Result<Cups, String> {
        let uid = nix::unistd::geteuid();
        let user = match nix::unistd::User::from_uid(uid) {
            Ok(Some(u)) => u.name,
            _ => return Err(format!("the agent's user id {uid} has no name, which CUPS needs to authorize it")),
        };
        Ok(Cups { socket: socket.to_owned(), user, request_id: 0 })
    }

    /// A request whose operation attributes start as RFC 8011 4.1.5 orders them: the target, then the user.
    fn start(&mut self, operation: Operation, printer_uri: &str) -> Request {
        self.request_id += 1;
        Request::new(operation, self.request_id)
            .uri("printer-uri", printer_uri)
            .name("requesting-user-name", &self.user)
    }

    fn on_printer(&mut self, operation: Operation, printer: &str) -> Request {
        self.start(operation, &printer_uri(printer))
    }

    async fn printers(&mut self) -> Result<Vec<Printer>, String> {
        self.request_id += 1;
        let request = Request::new(Operation::CupsGetPrinters, self.request_id)
            .name("requesting-user-name", &self.user)
            .keywords("requested-attributes", PRINTER_ATTRIBUTES);
        let response = self.request("/", request).await?;
        Ok(response
            .groups(group::PRINTER)
            .filter_map(|g| {
                Some(Printer {
                    name: g.get("printer-name")?.text()?.to_owned(),
                    state: g.get("printer-state").and_then(|a| a.integer()).unwrap_or(0),
                    reasons: texts(g, "printer-state-reasons"),
                    message: g.get("printer-state-message").and_then(|a| a.text()).map(str::to_owned),
                    accepting: g.get("printer-is-accepting-jobs").and_then(|a| a.boolean()),
                })
            })
            .collect())
    }

    /// One queue by name, which CUPS compares without regard to case.
    async fn printer(&mut self, name: &str) -> Result<Option<Printer>, String> {
        Ok(self.printers().await?.into_iter().find(|p| p.name.eq_ignore_ascii_case(name)))
    }

    /// Jobs not completed, on one queue or on all of them (CUPS reads `ipp://localhost/` as every queue).
    async fn jobs(&mut self, printer: Option<&str>) -> Result<Vec<Job>, String> {
        let uri = printer.map_or_else(|| "ipp://localhost/".to_owned(), printer_uri);
        let request = self
            .start(Operation::GetJobs, &uri)
            .integer("limit", MAX_JOBS)
            .keyword("which-jobs", "not-completed")
            .keywords("requested-attributes", JOB_ATTRIBUTES);
        let response = self.request("/", request).await?;
        Ok(response
            .groups(group::JOB)
            .filter_map(|g| {
                Some(Job {
                    id: g.get("job-id")?.integer()?,
                    state: g.get("job-state").and_then(|a| a.integer()).unwrap_or(0),
                    reasons: texts(g, "job-state-reasons"),
                    user: g.get("job-originating-user-name").and_then(|a| a.text()).map(str::to_owned),
                    kib: g.get("job-k-octets").and_then(|a| a.integer()),
                    printer: g
                        .get("job-printer-uri")
                        .and_then(|a| a.text())
                        .and_then(|u| u.rsplit('/').next())
                        .map(str::to_owned),
                    created: g.get("time-at-creation").and_then(|a| a.integer()),
                })
            })
            .collect())
    }

    /// Sends one request and returns CUPS's answer if it is a success; everything else becomes a sentence for the
    /// technician.
    async fn request(&self, resource: &str, request: Request) -> Result<Response, String> {
        let body = request.finish().map_err(|e| e.to_string())?;
        let socket = self.socket.display();
        let mut stream = match tokio::time::timeout(CONNECT_LIMIT, UnixStream::connect(&self.socket)).await {
            Err(_) => return Err(format!("CUPS did not accept a connection on {socket} within 2 s")),
            Ok(Err(e)) if matches!(e.kind(), std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused) => {
                return Err(format!("CUPS is not running: nothing listens on {socket} ({e})"));
            }
            Ok(Err(e)) => return Err(format!("cannot reach CUPS on {socket}: {e}")),
            Ok(Ok(s)) => s,
        };
        let http = ipp::http_post(resource, &self.user, &body);
        let answer = tokio::time::timeout(EXCHANGE_LIMIT, exchange(&mut stream, &http))
            .await
            .map_err(|_| format!("CUPS did not answer within {} s", EXCHANGE_LIMIT.as_secs()))??;
        match answer.status {
            200 => {}
            401 | 403 => {
                return Err(format!(
                    "CUPS refused the agent's user {} (HTTP {}): it must be root or in CUPS's SystemGroup",
                    self.user, answer.status
                ));
            }
            other => return Err(format!("CUPS answered HTTP {other}")),
        }
        let response = ipp::decode(&answer.body).map_err(|e| format!("CUPS's answer is unreadable: {e}"))?;
        if !response.is_success() {
            return Err(format!(
                "CUPS refused: {} (IPP status 0x{:04x})",
                shown(response.status_message().unwrap_or("no reason given")),
                response.status
            ));
        }
        Ok(response)
    }
}

fn texts(g: &Group, name: &str) -> Vec<String> {
    g.get(name).map(|a| a.texts().map(str::to_owned).collect()).unwrap_or_default()
}

/// Writes the request and reads until the answer is complete, never buffering more than [`ipp::MAX_HTTP`] bytes.
async fn exchange(stream: &mut UnixStream, request: &[u8]) -> Result<HttpAnswer, String> {
    stream.write_all(request).await.map_err(|e| format!("sending to CUPS: {e}"))?;
    let mut received = Vec::with_capacity(16 * 1024);
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = stream.read(&mut buf).await.map_err(|e| format!("reading CUPS's answer: {e}"))?;
        received.extend_from_slice(&buf[..n]);
        if received.len() > ipp::MAX_HTTP {
            return Err(format!("CUPS's answer is larger than {} bytes", ipp::MAX_HTTP));
        }
        match ipp::http_answer(&received, n == 0) {
            Ok(Some(answer)) => return Ok(answer),
            Ok(None) if n > 0 => {}
            Ok(None) => return Err("CUPS closed the connection before answering".into()),
            Err(e) => return Err(format!("CUPS's answer is unreadable: {e}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::UnixListener;

    const PRINTERS: &[u8] = include_bytes!("../../../shared/testdata/ipp/cups-get-printers.http");
    const JOBS: &[u8] = include_bytes!("../../../shared/testdata/ipp/get-jobs.http");

    /// A socket that answers each connection with the next of `answers`, a few bytes at a time, as a slow scheduler
    /// would; an empty answer means staying silent.
    fn serve(path: &Path, answers: Vec<&'static [u8]>) -> tokio::task::JoinHandle<()> {
        let listener = UnixListener::bind(path).unwrap();
        tokio::spawn(async move {
            for answer in answers {
                let (mut s, _) = listener.accept().await.unwrap();
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf).await;
                if answer.is_empty() {
                    tokio::time::sleep(std::time::Duration::from_secs(10)).await;
                }
                for piece in answer.chunks(5) {
                    s.write_all(piece).await.unwrap();
                    tokio::task::yield_now().await;
                }
            }
        })
    }

    #[tokio::test]
    async fn no_scheduler_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let missing = super::printer_queue(&dir.path().join("cups.sock")).await.unwrap_err();
        assert!(missing.contains("CUPS is not running"), "{missing}");
        let stale = dir.path().join("stale.sock");
        drop(std::os::unix::net::UnixListener::bind(&stale).unwrap());
        let refused = super::clear_print_queue(&stale, "office-1").await.unwrap_err();
        assert!(refused.contains("CUPS is not running"), "{refused}");
    }

    #[tokio::test]
    async fn lists_queues_and_jobs_from_answers_arriving_in_pieces() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cups.sock");
        let server = serve(&path, vec![PRINTERS, JOBS]);
        let out = super::printer_queue(&path).await.unwrap();
        server.await.unwrap();
        for expected in [
            "printer lab: idle, accepting jobs\n",
            "printer office-1: STOPPED, accepting jobs; reasons: paused; says \"Paused\"\n",
            "3 job(s) not completed",
            "  job 3 on office-1: pending, from alice, 1 KiB, queued ",
            "job names are not shown",
        ] {
            assert!(out.contains(expected), "no {expected:?} in:\n{out}");
        }
    }

    #[tokio::test]
    async fn garbage_and_silence_are_errors_not_hangs() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cups.sock");
        let server = serve(&path, vec![b"SSH-2.0-OpenSSH_9.2\r\n\r\n", b""]);
        let garbage = super::printer_queue(&path).await.unwrap_err();
        assert!(garbage.contains("unreadable"), "{garbage}");
        let silence = super::printer_queue(&path).await.unwrap_err();
        assert!(silence.contains("did not answer within 4 s"), "{silence}");
        server.abort();
    }

    #[test]
    fn control_characters_never_reach_the_technician() {
        assert_eq!(super::shown("a\u{1b}[2Jb\n"), "a?[2Jb?");
    }
}
