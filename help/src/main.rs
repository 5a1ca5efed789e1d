//! `lifeline-help`: the user's side of Lifeline on the desktop. It asks for help, shows self-help advice first,
//! follows the user's tickets, shows who may run checks on this computer, and notifies. It talks only to the local
//! agent over its Unix socket, and depends on nothing of the agent's, so the daemon links no GUI code.
//!
//! # Layout
//! - `client`: the blocking socket client (one frame each way, or a subscription), with the owner check.
//! - `model`: the dialog's state and rules, without drawing; `ui`: drawing it with egui, and the window's shell.
//! - `tray`: the panel icon and the subscription that feeds `notify` (what each event says, and showing it).
//! - `i18n`: the texts in the user's language; `text`: cleaning and limits of what the user types.

mod client;
mod i18n;
mod model;
mod notify;
mod text;
mod tray;
mod ui;

/// Milliseconds since the Unix epoch, as the agent writes its times. The desktop program links no network code, so
/// this is its own reading of the clock rather than `lifeline_net`'s.
fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

use std::path::PathBuf;
use std::process::{Command, ExitCode};

use tracing::warn;

use crate::client::Agent;
use crate::i18n::Lang;
use crate::model::{Model, Tab};

const USAGE: &str = "usage: lifeline-help [--tray | --tickets | --ticket N | --consent] [--socket PATH]

  (no option)  open the Request help dialog
  --tray       run the tray icon and the notifications (started at login)
  --tickets    open the dialog on My tickets
  --ticket N   open the dialog on ticket N
  --consent    open the dialog on Consent
  --socket     the agent's socket (default: $LIFELINE_AGENT_SOCKET, else /run/lifeline-agent/agent.sock)";

const DEFAULT_SOCKET: &str = "/run/lifeline-agent/agent.sock";

#[derive(Debug, PartialEq)]
enum Mode {
    Dialog(Tab),
    Ticket(u64),
    Tray,
}

#[derive(Debug, PartialEq)]
struct Args {
    mode: Mode,
    socket: Option<PathBuf>,
}

fn parse(args: impl IntoIterator<Item = String>) -> Result<Args, String> {
    let mut parsed = Args { mode: Mode::Dialog(Tab::Help), socket: None };
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        parsed.mode = match arg.as_str() {
            "--tray" => Mode::Tray,
            "--tickets" => Mode::Dialog(Tab::Tickets),
            "--consent" => Mode::Dialog(Tab::Consent),
            "--ticket" => {
                let n = args.next().ok_or("--ticket needs a number")?;
                Mode::Ticket(n.parse().map_err(|_| format!("--ticket needs a number, not {n:?}"))?)
            }
            "--socket" => {
                parsed.socket = Some(args.next().ok_or("--socket needs a path")?.into());
                continue;
            }
            other => return Err(format!("unknown argument {other:?}")),
        };
    }
    Ok(parsed)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    if args.iter().any(|a| a == "--version") {
        println!("lifeline-help {}", env!("CARGO_PKG_VERSION"));
        return ExitCode::SUCCESS;
    }
    let args = match parse(args) {
        Ok(args) => args,
        Err(e) => {
            eprintln!("lifeline-help: {e}\n{USAGE}");
            return ExitCode::from(64);
        }
    };
    logging();
    let env = |name: &str| std::env::var(name).ok();
    let socket = args.socket.or_else(|| env("LIFELINE_AGENT_SOCKET").map(PathBuf::from));
    let agent = Agent::new(socket.unwrap_or_else(|| DEFAULT_SOCKET.into()));
    let lang = Lang::from_env(env);
    let model = match args.mode {
        Mode::Tray => tray::run(agent, lang),
        Mode::Dialog(tab) => Model::new(tab),
        Mode::Ticket(number) => Model::on_ticket(number),
    };
    match ui::run(model, agent, lang) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lifeline-help: cannot open a window: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Our warnings by default (winit's about the display are noise to a user); `LIFELINE_LOG` (or `RUST_LOG`)
/// filters as in the other binaries. A copy of `lifeline_net::logging::init` without JSON: linking that crate would
/// bring QUIC into the desktop program for one function.
fn logging() {
    use tracing_subscriber::prelude::*;
    const DEFAULT: &str = "warn,winit=error";
    let filter =
        std::env::var("LIFELINE_LOG").or_else(|_| std::env::var("RUST_LOG")).unwrap_or_else(|_| DEFAULT.into());
    let targets = filter.parse::<tracing_subscriber::filter::Targets>().unwrap_or_else(|e| {
        eprintln!("LIFELINE_LOG={filter:?} is not a log filter ({e}); using {DEFAULT:?}");
        DEFAULT.parse().unwrap_or_default()
    });
    tracing_subscriber::fmt()
        // Everything reaches the subscriber; the targets below are the one filter.
        .with_max_level(tracing_subscriber::filter::LevelFilter::TRACE)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .finish()
        .with(targets)
        .init();
}

/// Opens the dialog as a process of its own (from the tray or a notification), reaping it when it closes.
pub fn open_dialog(args: &[&str]) {
    let exe = std::env::current_exe().unwrap_or_else(|_| "lifeline-help".into());
    match Command::new(exe).args(args).spawn() {
        Ok(mut child) => {
            std::thread::spawn(move || child.wait());
        }
        Err(e) => warn!(error = %e, "cannot open the dialog"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(args: &[&str], expected: Result<Args, &str>) {
        let got = parse(args.iter().map(|s| s.to_string()));
        assert_eq!(got, expected.map_err(str::to_owned), "{args:?}");
    }

    #[test]
    fn arguments() {
        check(&[], Ok(Args { mode: Mode::Dialog(Tab::Help), socket: None }));
        check(&["--tray"], Ok(Args { mode: Mode::Tray, socket: None }));
        check(&["--ticket", "12", "--socket", "/s"], Ok(Args { mode: Mode::Ticket(12), socket: Some("/s".into()) }));
        check(&["--consent"], Ok(Args { mode: Mode::Dialog(Tab::Consent), socket: None }));
        check(&["--ticket"], Err("--ticket needs a number"));
        check(&["--ticket", "x"], Err("--ticket needs a number, not \"x\""));
        check(&["--bogus"], Err("unknown argument \"--bogus\""));
    }

    /// The menu launcher, its actions and the login entry run commands this program understands.
    #[test]
    fn every_launcher_runs_a_command_we_understand() {
        let launcher = include_str!("../data/lifeline-help.desktop");
        let autostart = include_str!("../data/lifeline-help-tray.desktop");
        let modes = |entry: &str| -> Vec<Mode> {
            entry
                .lines()
                .filter_map(|l| l.strip_prefix("Exec="))
                .map(|exec| {
                    let mut words = exec.split_whitespace().map(str::to_owned);
                    assert_eq!(words.next().as_deref(), Some("lifeline-help"), "{exec}");
                    parse(words).unwrap_or_else(|e| panic!("{exec}: {e}")).mode
                })
                .collect()
        };
        let expected = vec![Mode::Dialog(Tab::Help), Mode::Dialog(Tab::Tickets), Mode::Dialog(Tab::Consent)];
        assert_eq!(modes(launcher), expected);
        assert_eq!(modes(autostart), vec![Mode::Tray]);
    }
}
