//! The API against its own OpenAPI description: schemathesis reads `/api/openapi.json` from a real server holding a
//! few tickets, and sends every operation requests made from it (valid, invalid, and chains that follow what one
//! answer gives the next) as a tier-1 technician. No answer may be a 5xx, and every answer must be one the
//! description lists, in the type and with the headers it gives.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::harness::{Proc, Server};

/// Where `./test` installs schemathesis, in a virtualenv of its own (`tests/requirements.txt` names the need).
fn schemathesis() -> PathBuf {
    let path = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../target/schemathesis/bin/schemathesis"));
    assert!(path.exists(), "no schemathesis at {} (./test installs it; this test needs it)", path.display());
    path
}

/// What is checked of every answer. Two of schemathesis's checks are left out, each for an answer the API gives on
/// purpose: `positive_data_acceptance`, because a request of the right shape may still be refused by a rule of the
/// help desk that no schema states (a requester's name or a person's id, a category on offer); and
/// `ensure_resource_availability`, because a merge names a second record in its body and a missing one is a 404
/// like a missing one in the path, which that check takes for the record it just made being gone.
const CHECKS: &str = "not_a_server_error,status_code_conformance,content_type_conformance,\
    response_headers_conformance,response_schema_conformance,negative_data_rejection,missing_required_header,\
    unsupported_method,allow_header_conformance,use_after_free,ignored_auth";

#[test]
fn schemathesis_finds_no_server_error_and_no_answer_the_openapi_description_does_not_give() {
    let schemathesis = schemathesis();
    let server = Server::start();
    let tech = server.add_user("fuzz", "1");

    // Tickets to read and act on, so that answers carry real tickets, people, events and SLA clocks.
    let ok = |args: &[&str]| {
        let out = server.cli_as(&tech, args);
        assert!(out.ok, "{args:?}: {}", out.stderr);
        out.stdout.trim().to_owned()
    };
    let printer = ["ticket", "create", "--channel", "phone", "--requester", "Ann", "--subject", "Printer jams"];
    let printer = ok(&[&printer[..], &["--email", "ann@example.org", "--urgency", "high"]].concat());
    ok(&["ticket", "reply", &printer, "Which tray?"]);
    ok(&["ticket", "note", &printer, "Tray 2 again, most likely."]);
    ok(&["ticket", "status", &printer, "pending-user"]);
    let vpn = ok(&["ticket", "create", "--channel", "chat", "--requester", "Bo", "--subject", "VPN drops"]);
    ok(&["ticket", "escalate", &vpn, "--tier", "2"]);
    let call = ["ticket", "create", "--channel", "phone", "--requester", "Cy", "--subject", "Locked out"];
    ok(&[&call[..], &["--resolved", "fixed-remotely"]].concat());

    let mut cmd = Command::new(schemathesis);
    cmd.args(["--no-color", "run", &format!("{}/api/openapi.json", server.api)])
        .args(["--header", &format!("Authorization: Bearer {tech}")])
        .arg("--tls-verify")
        .arg(server.ca())
        .args(["--checks", CHECKS])
        // Enough to reach every operation's edges and a few chains, in a couple of minutes on two cores.
        .args(["--max-examples", "50"])
        // Its workers are threads, and Python 3.11 (Debian 12's) fails parsing source in two threads at once (an
        // AST recursion-depth mismatch inside Hypothesis): one worker.
        .args(["--workers", "1"])
        .args(["--request-timeout", "60"])
        // Raw mail (message/rfc822) is a body schemathesis cannot make; a technician may not hand in mail anyway.
        .args(["--exclude-operation-id", "deliver_mail"])
        // Nothing kept between runs, and nothing written into the source tree.
        .args(["--generation-database", "none"])
        .current_dir(server.dir.path());
    let started = Instant::now();
    let mut run = Proc::spawn("schemathesis", cmd);
    let status = run.exit_status(Duration::from_secs(20 * 60));
    let report = run.output();
    assert!(
        status.success(),
        "schemathesis found answers outside the API's description ({status}); its report:\n{report}"
    );
    assert!(report.contains("generated"), "schemathesis ran no test case:\n{report}");
    eprintln!("schemathesis took {:?}", started.elapsed());
}
