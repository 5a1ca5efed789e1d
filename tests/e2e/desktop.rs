//! The desktop program as a user meets it: a real X server (Xvfb), a session bus with a real notification daemon
//! (dunst) and `dbus-monitor` listening to what is shown, the real server and agent, and `lifeline-help` driven by
//! the keyboard through `xdotool`. A screenshot of each screen is kept, and its folder printed.
//!
//! Needs Xvfb, dbus, dunst, xdotool, ImageMagick and Mesa's GL libraries: `./test` installs them, or leaves these
//! tests out by name where it cannot. Without them a test fails, naming what is missing.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::harness::{Agent, Proc, Run, Server, eventually, field, help_bin, other_user, require_root, run};

const WAIT: Duration = Duration::from_secs(30);
/// Findings take a fresh snapshot; a loaded CI machine is slow to start a GL window, too.
const SLOW: Duration = Duration::from_secs(90);
const TOOLS: [&str; 7] = ["Xvfb", "dbus-daemon", "dbus-monitor", "dunst", "xdotool", "import", "dbus-send"];

/// A private desktop session: display, session bus, notification daemon and a monitor of its Notify calls.
struct Desktop {
    display: String,
    bus: String,
    shots: PathBuf,
    monitor: Proc,
    // Dropped (killed) after the monitor, in this order.
    _dunst: Proc,
    _bus: Proc,
    _x: Proc,
}

impl Desktop {
    fn start() -> Desktop {
        let missing: Vec<_> = TOOLS
            .iter()
            .filter(|tool| {
                let mut which = Command::new("which");
                which.arg(tool);
                !run(which).ok
            })
            .collect();
        assert!(
            missing.is_empty(),
            "missing {missing:?}: apt-get install xvfb dbus dunst xdotool imagemagick (./test does where it can)"
        );
        // Xvfb picks a free display and writes its number on the descriptor we name.
        let mut x = Command::new("Xvfb");
        x.args(["-displayfd", "1", "-screen", "0", "1024x768x24", "-nolisten", "tcp"]);
        let x = Proc::spawn("Xvfb", x);
        let number =
            eventually("Xvfb's display number", WAIT, || x.output().lines().find_map(|l| l.trim().parse::<u32>().ok()));
        let display = format!(":{number}");
        let mut bus = Command::new("dbus-daemon");
        bus.args(["--session", "--nofork", "--print-address=1"]);
        let bus_proc = Proc::spawn("dbus-daemon", bus);
        let bus = bus_proc.wait_for_line("unix:", WAIT).trim().to_owned();

        let session = |program: &str| {
            let mut cmd = Command::new(program);
            cmd.env("DISPLAY", &display).env("DBUS_SESSION_BUS_ADDRESS", &bus);
            cmd
        };
        let dunst = Proc::spawn("dunst", session("dunst"));
        eventually("dunst to own the notification service", WAIT, || {
            let mut ask = session("dbus-send");
            ask.args([
                "--session",
                "--print-reply",
                "--dest=org.freedesktop.DBus",
                "/org/freedesktop/DBus",
                "org.freedesktop.DBus.NameHasOwner",
                "string:org.freedesktop.Notifications",
            ]);
            run(ask).stdout.contains("boolean true").then_some(())
        });
        let mut monitor = session("dbus-monitor");
        monitor.args(["--session", "interface='org.freedesktop.Notifications',member='Notify'"]);
        let monitor = Proc::spawn("dbus-monitor", monitor);
        monitor.wait_for_line("NameAcquired", WAIT);

        let shots = tempfile::Builder::new().prefix("lifeline-desktop-").tempdir().expect("temp dir").keep();
        Desktop { display, bus, shots, monitor, _dunst: dunst, _bus: bus_proc, _x: x }
    }

    fn command(&self, program: &Path, args: &[&str]) -> Command {
        let mut cmd = Command::new(program);
        cmd.args(args)
            .env("DISPLAY", &self.display)
            .env("DBUS_SESSION_BUS_ADDRESS", &self.bus)
            .env("LC_ALL", "C.UTF-8")
            .env("LIFELINE_LOG", "lifeline_help=debug");
        cmd
    }

    fn xdotool(&self, args: &[&str]) -> Run {
        let out = run(self.command(Path::new("xdotool"), args));
        assert!(out.ok, "xdotool {args:?}: {}", out.stderr);
        out
    }

    fn screenshot(&self, name: &str) {
        let path = self.shots.join(format!("{name}.png"));
        let out = run(self.command(Path::new("import"), &["-window", "root", path.to_str().expect("utf-8 path")]));
        assert!(out.ok, "screenshot {name}: {}", out.stderr);
        eprintln!("screenshot: {}", path.display());
    }

    /// Waits until the desktop's notification daemon was asked to show `text`.
    fn notified(&self, text: &str) {
        eventually(&format!("a notification with {text:?}; Notify calls:\n{}", self.monitor.output()), WAIT, || {
            self.monitor.output().contains(text).then_some(())
        });
    }
}

/// The ticket number in the dialog's "help step step=Accepted(N)" line.
fn accepted(line: &str) -> String {
    let (_, rest) = line.split_once("Accepted(").unwrap_or_else(|| panic!("no ticket number in {line:?}"));
    rest.split(')').next().unwrap_or_default().to_owned()
}

#[test]
fn a_user_asks_for_help_from_the_desktop_and_follows_the_answer() {
    let desktop = Desktop::start();
    let help = help_bin();
    let server = Server::start();
    let tech = server.add_user("tina", "1");
    let agent = Agent::start(&server);
    let socket = agent.dir.path().join("agent.sock");
    let socket = socket.to_str().expect("utf-8 path");

    let tray = Proc::spawn("lifeline-help --tray", desktop.command(&help, &["--tray", "--socket", socket]));
    tray.wait_for_line("subscribed to the agent", WAIT);

    let dialog = Proc::spawn("lifeline-help", desktop.command(&help, &["--socket", socket]));
    dialog.wait_for_line("answer job=Findings ok=true", SLOW);
    let window = eventually("the dialog's window", WAIT, || {
        let found = run(desktop.command(Path::new("xdotool"), &["search", "--name", "^Lifeline help$"]));
        found.stdout.lines().next().map(str::to_owned)
    });
    desktop.screenshot("1-advice");

    // Keyboard only: the way forward has the focus on every screen. Keys that move the focus are paced like a
    // person's, so egui draws a frame between moving the focus and typing into its new place.
    desktop.xdotool(&["windowfocus", "--sync", &window]);
    desktop.xdotool(&["key", "Return"]);
    dialog.wait_for_line("help step step=Form", WAIT);
    let subject = "Scanner saves empty pages";
    let description = "Since this morning, every scan is a blank PDF.";
    desktop.xdotool(&["sleep", "0.3", "key", "ctrl+a", "type", "--delay", "15", subject]);
    desktop.xdotool(&["key", "Tab", "sleep", "0.3", "type", "--delay", "15", description]);
    desktop.screenshot("2-form");
    desktop.xdotool(&["key", "ctrl+Return"]);
    let number = accepted(&dialog.wait_for_line("step=Accepted(", SLOW));
    desktop.screenshot("3-sent");

    // The help desk has it as typed, with the machine's snapshot.
    let ticket = server.json(&["ticket", "show", &number]);
    assert_eq!(ticket["subject"], subject);
    assert_eq!(ticket["description"], description);
    assert_eq!(ticket["agent_id"], agent.id.as_str());
    assert!(ticket["snapshot"]["host"]["hostname"].as_str().is_some_and(|h| !h.is_empty()), "{ticket}");
    desktop.notified(&format!("Technicians may run checks for ticket #{number}"));

    // A technician's public reply and a check on this machine reach the user's desktop.
    let reply = "Please check the scanner glass is clean";
    assert!(server.cli(&["ticket", "reply", &number, reply]).ok);
    desktop.notified(&format!("New reply on ticket #{number}"));
    desktop.notified(reply);
    let check = server.cli_as(&tech, &["check", "run", &agent.id, "disk-usage", "path=/", "--ticket", &number]);
    assert!(check.ok, "{}", check.stderr);
    desktop.notified(&format!("A technician ran “disk-usage path=/” for ticket #{number}"));
    desktop.screenshot("4-notified");

    // My tickets: Close has the focus, "Show my tickets" is next; there, Refresh, then the ticket.
    desktop.xdotool(&["key", "--delay", "300", "Tab", "Return"]);
    dialog.wait_for_line("answer job=Tickets ok=true", WAIT);
    desktop.xdotool(&["key", "--delay", "300", "Tab", "Return"]);
    dialog.wait_for_line(&format!("answer job=Ticket({number}) ok=true"), WAIT);
    desktop.screenshot("5-ticket");
    let answer = "Cleaned it, still blank";
    desktop.xdotool(&["type", "--delay", "15", answer]);
    desktop.xdotool(&["key", "--delay", "300", "Tab", "Return"]);
    dialog.wait_for_line(&format!("answer job=Reply({number}) ok=true"), WAIT);
    desktop.screenshot("6-answered");
    let history = server.cli(&["ticket", "show", &number]).stdout;
    assert!(history.contains(&format!("(requester) answered: {answer}")), "{history}");
    assert!(history.contains(reply), "{history}");
    eprintln!("screenshots in {}", desktop.shots.display());
}

#[test]
fn another_user_of_the_machine_neither_sees_nor_opens_the_first_users_tickets() {
    require_root("creating a second user");
    let desktop = Desktop::start();
    let uid = other_user();
    let server = Server::start();
    let agent = Agent::start(&server);
    let mine = agent.request_help("Root's printer jams").to_string();
    // The other user reaches the socket (0666) and a copy of the program, as on a real machine.
    let dir = agent.dir.path();
    std::fs::set_permissions(dir, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let program = dir.join("lifeline-help");
    std::fs::copy(help_bin(), &program).unwrap();
    let socket = dir.join("agent.sock");
    let mut cmd = desktop.command(&program, &["--ticket", &mine, "--socket", socket.to_str().unwrap()]);
    std::os::unix::process::CommandExt::uid(&mut cmd, uid).current_dir("/").env("HOME", "/");
    let dialog = Proc::spawn("lifeline-help as another user", cmd);

    // Straight to root's ticket, as a notification's click would: the agent refuses, the dialog says why.
    let refused = dialog.wait_for_line(&format!("answer job=Ticket({mine})"), SLOW);
    assert!(refused.contains("ok=false"), "{refused}");
    let window = eventually("the dialog's window", WAIT, || {
        let found = run(desktop.command(Path::new("xdotool"), &["search", "--name", "^Lifeline help$"]));
        found.stdout.lines().next().map(str::to_owned)
    });
    desktop.screenshot("other-user-ticket");
    // Their own list, loaded when the dialog opened and again on going back to it by keyboard: empty, while root's
    // has the ticket.
    desktop.xdotool(&["windowfocus", "--sync", &window]);
    desktop.xdotool(&["key", "Return"]);
    let lists = eventually("the list loaded again after going back", WAIT, || {
        let output = dialog.output();
        let lists: Vec<String> = output.lines().filter(|l| l.contains("tickets count=")).map(str::to_owned).collect();
        (lists.len() >= 2).then_some(lists)
    });
    assert!(lists.iter().all(|l| l.ends_with("tickets count=0")), "{lists:?}");
    desktop.screenshot("other-user-tickets");
    let roots = agent.call(&["tickets"]).stdout;
    assert!(roots.contains("Root's printer jams"), "{roots}");
}

#[test]
fn a_consent_window_about_to_close_is_extended_from_its_notification() {
    let desktop = Desktop::start();
    let help = help_bin();
    let server = Server::start();
    let mut agent = Agent::enroll(&server);
    // A one-minute window is already within the agent's "closes soon" warning.
    agent.run_with_policy("consent_minutes = 1\n");
    let socket = agent.dir.path().join("agent.sock");
    let tray = Proc::spawn(
        "lifeline-help --tray",
        desktop.command(&help, &["--tray", "--socket", socket.to_str().expect("utf-8 path")]),
    );
    tray.wait_for_line("subscribed to the agent", WAIT);

    let number = agent.request_help("Laptop fan is loud").to_string();
    let expiring = format!("Permission to run checks for ticket #{number} ends soon");
    desktop.notified(&expiring);
    // The daemon's number for it, which its answer names.
    let shown = tray.wait_for_line(&format!("summary={expiring}"), WAIT);
    let id = shown.split("id=").nth(1).and_then(|rest| rest.split_whitespace().next()).expect("an id").to_owned();
    desktop.screenshot("7-expiring");

    // The user presses Extend: the daemon says so on the bus, as dunst's menu would. Said again until the answer
    // shows, since the tray starts listening just after the notification appeared.
    let extended = format!("Technicians may run checks for ticket #{number} for longer.");
    eventually(&format!("{extended:?} after Extend"), WAIT, || {
        let mut press = desktop.command(Path::new("dbus-send"), &[]);
        press.args([
            "--session",
            "--type=signal",
            "/org/freedesktop/Notifications",
            "org.freedesktop.Notifications.ActionInvoked",
            &format!("uint32:{id}"),
            "string:extend",
        ]);
        assert!(run(press).ok);
        desktop.monitor.output().contains(&extended).then_some(())
    });
    let windows = agent.call(&["consent", "list"]);
    let left = field(&windows.stdout, &format!("ticket #{number} "));
    let minutes: u64 = left.split_whitespace().rev().nth(2).and_then(|m| m.parse().ok()).unwrap_or_default();
    assert!(minutes > 55, "the window was not extended: {}{}", windows.stdout, windows.stderr);
}
