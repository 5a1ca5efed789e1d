//! Printing checks against a real CUPS scheduler: a private `cupsd` in a temp directory, listening only on its own
//! socket, with `file:///dev/null` queues and jobs that wait because their queue is stopped. The agent is pointed at
//! that socket by its policy file; everything else is the real server, agent and technician CLI.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::Value;
use tempfile::TempDir;

use crate::checks::check_run;
use crate::harness::{Agent, Proc, Run, Server, eventually, run};

/// A private scheduler. `proc` is declared first so it is killed before its directory goes.
struct Cupsd {
    proc: Proc,
    dir: TempDir,
    socket: PathBuf,
}

impl Cupsd {
    /// Fails the test, saying what is missing, where cupsd is missing or the test is not root: `./test` installs
    /// CUPS, or leaves this test out by name where it cannot (or is not root).
    fn start() -> Cupsd {
        let cupsd = ["/usr/sbin/cupsd", "/usr/local/sbin/cupsd"].into_iter().map(Path::new).find(|p| p.exists());
        let cupsd =
            cupsd.expect("cupsd is missing: apt-get install cups-daemon cups-client (./test does where it can)");
        let root = std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0);
        assert!(root, "a private cupsd needs root, and this test is not root (./test leaves it out where not root)");
        let dir = tempfile::tempdir().unwrap();
        let root_dir = dir.path();
        let socket = root_dir.join("cups.sock");
        for sub in ["spool", "state", "cache", "tmp"] {
            std::fs::create_dir(root_dir.join(sub)).unwrap();
        }
        // Only the domain socket, no web interface or browsing; the built-in default policy (admin operations for
        // SystemGroup only) applies, as on a real machine. FileDevice allows the file:///dev/null queues.
        std::fs::write(
            root_dir.join("cupsd.conf"),
            format!(
                "Listen {}\nWebInterface No\nBrowsing No\nLogLevel info\n\
                 <Location />\n  Order allow,deny\n  Allow localhost\n</Location>\n",
                socket.display()
            ),
        )
        .unwrap();
        let d = root_dir.display();
        std::fs::write(
            root_dir.join("cups-files.conf"),
            format!(
                "ServerRoot {d}\nRequestRoot {d}/spool\nStateDir {d}/state\nCacheDir {d}/cache\nTempDir {d}/tmp\n\
                 AccessLog stderr\nErrorLog stderr\nPageLog stderr\nFileDevice Yes\nSystemGroup root\n"
            ),
        )
        .unwrap();
        let mut cmd = Command::new(cupsd);
        cmd.arg("-f").arg("-c").arg(root_dir.join("cupsd.conf")).arg("-s").arg(root_dir.join("cups-files.conf"));
        let proc = Proc::spawn("cupsd", cmd);
        let cups = Cupsd { proc, dir, socket };
        eventually("the private cupsd to answer", Duration::from_secs(30), || {
            cups.client("lpstat", &["-r"]).stdout.contains("scheduler is running").then_some(())
        });
        cups
    }

    /// A CUPS command-line client talking to this scheduler only.
    fn client(&self, program: &str, args: &[&str]) -> Run {
        let mut cmd = Command::new(program);
        cmd.args(args).env("CUPS_SERVER", &self.socket).env_remove("PRINTER").env_remove("LPDEST");
        run(cmd)
    }

    fn ok(&self, program: &str, args: &[&str]) -> String {
        let out = self.client(program, args);
        assert!(out.ok, "{program} {args:?}: {}{}\ncupsd said:\n{}", out.stdout, out.stderr, self.proc.output());
        out.stdout
    }

    /// The job ids `lpstat` lists on `queue`, as CUPS itself (not the agent) sees them.
    fn jobs(&self, queue: &str) -> Vec<String> {
        let out = self.ok("lpstat", &["-o", queue]);
        out.lines().filter_map(|l| l.split_whitespace().next().map(str::to_owned)).collect()
    }

    fn policy(&self, class_c: bool) -> String {
        format!("enable_class_c = {class_c}\ncups_socket = \"{}\"\n", self.socket.display())
    }
}

fn result(run: &Value) -> &str {
    run["result"].as_str().unwrap_or_default()
}

#[test]
fn printer_queue_lists_a_stuck_queue_and_a_tier_3_fix_clears_it_on_a_real_cupsd() {
    let mut cups = Cupsd::start();
    for queue in ["office-1", "lab"] {
        cups.ok("lpadmin", &["-p", queue, "-E", "-v", "file:///dev/null"]);
    }
    // A stopped queue keeps its jobs waiting: the stuck queue a user calls about.
    cups.ok("cupsdisable", &["office-1"]);
    let doc = cups.dir.path().join("report.txt");
    std::fs::write(&doc, "quarterly numbers\n").unwrap();
    let doc = doc.to_str().unwrap();
    // Jobs of accounts the machine has, as real jobs are: Debian's cupsd of bookworm-security (2.4.2-3+deb12u10)
    // crashes on a job for a user it cannot look up (OpenPrinting/cups#1555).
    for (user, title) in [("daemon", "Salary review.pdf"), ("bin", "holiday.txt")] {
        cups.ok("lp", &["-U", user, "-d", "office-1", "-t", title, doc]);
    }
    cups.ok("lp", &["-U", "sys", "-d", "lab", "-H", "hold", doc]);
    assert_eq!(cups.jobs("office-1").len(), 2);

    let server = Server::start();
    let (t1, t2, t3) = (server.add_user("t1", "1"), server.add_user("t2", "2"), server.add_user("t3", "3"));
    let mut agent = Agent::enroll(&server);
    agent.run_with_policy(&cups.policy(true));
    let ticket = agent.request_help("the printer is stuck").to_string();
    let on = |token: &str, args: &[&str]| {
        let mut all = vec![agent.id.as_str()];
        all.extend_from_slice(args);
        all.extend(["--ticket", ticket.as_str()]);
        check_run(&server, token, &all)
    };

    let listed = on(&t1, &["printer-queue"]).unwrap();
    assert_eq!(listed["state"], "done", "{listed:#}\nagent log:\n{}", agent.log());
    for expected in [
        "printer office-1: STOPPED, accepting jobs",
        "printer lab: idle, accepting jobs",
        "3 job(s) not completed",
        "on office-1: pending, from daemon",
        "on office-1: pending, from bin",
        "on lab: held, from sys",
    ] {
        assert!(result(&listed).contains(expected), "no {expected:?} in:\n{}", result(&listed));
    }
    assert!(!result(&listed).contains("Salary"), "a job's title is shown:\n{}", result(&listed));

    // Refused by the server: tiers below 3, and queue names that are not plain CUPS names.
    for token in [&t1, &t2] {
        let refused = on(token, &["clear-print-queue", "printer=office-1"]).unwrap_err();
        assert!(refused.contains("403"), "{refused}");
    }
    let long = format!("printer={}", "p".repeat(300));
    for hostile in ["printer=../x", "printer=a b", "printer=;rm", "printer=", "printer=lab@elsewhere", &long] {
        let refused = on(&t3, &["clear-print-queue", hostile]).unwrap_err();
        assert!(refused.contains("422"), "{hostile}: {refused}");
    }
    let unknown = on(&t3, &["clear-print-queue", "printer=no-such-queue"]).unwrap();
    assert_eq!(unknown["state"], "failed", "{unknown:#}");
    assert!(result(&unknown).contains("does not exist"), "{unknown:#}");
    assert_eq!(cups.jobs("office-1").len(), 2, "nothing was cancelled by a refused or failed request");

    let cleared = on(&t3, &["clear-print-queue", "printer=office-1"]).unwrap();
    assert_eq!(cleared["state"], "done", "{cleared:#}\ncupsd said:\n{}", cups.proc.output());
    for expected in [
        "cancelled 2 job(s) on office-1",
        "the queue was stopped; it is resumed",
        "0 job(s) not completed on office-1 now",
        "printer office-1: idle",
    ] {
        assert!(result(&cleared).contains(expected), "no {expected:?} in:\n{}", result(&cleared));
    }
    assert_eq!(cups.jobs("office-1"), Vec::<String>::new(), "CUPS itself still lists jobs on office-1");
    assert_eq!(cups.jobs("lab").len(), 1, "the other queue's job is untouched");
    assert!(cups.ok("lpstat", &["-p", "office-1"]).contains("enabled"));
    let history = agent.call(&["history"]);
    assert!(history.stdout.contains("clear-print-queue printer=office-1"), "{}", history.stdout);

    // A machine whose policy leaves fixes off refuses, whoever asks.
    let mut plain = Agent::enroll(&server);
    plain.run_with_policy(&cups.policy(false));
    let plain_ticket = plain.request_help("printer again").to_string();
    let args = [plain.id.as_str(), "clear-print-queue", "printer=lab", "--ticket", plain_ticket.as_str()];
    let refused = check_run(&server, &t3, &args).unwrap();
    assert_eq!(refused["state"], "refused", "{refused:#}");
    assert!(result(&refused).contains("class C"), "{refused:#}");
    assert_eq!(cups.jobs("lab").len(), 1);

    // CUPS gone: a clear failure, not a crash or a hang.
    cups.proc.kill();
    let down = on(&t1, &["printer-queue"]).unwrap();
    assert_eq!(down["state"], "failed", "{down:#}");
    assert!(result(&down).contains("CUPS is not running"), "{down:#}");
    let after = on(&t1, &["printer-queue"]).unwrap();
    assert_eq!(after["state"], "failed", "the agent is still there to answer: {after:#}");
}
