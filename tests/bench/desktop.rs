//! The desktop program's footprint: its binary, and the tray left alone all day on a session bus, which is what
//! every user's machine runs from login on.

use std::process::Command;
use std::time::Duration;

use crate::harness::{Agent, Proc, help_bin};
use crate::{NODE_EXPORTER, Row, idle_window, mib};

pub fn help_size() -> Row {
    Row {
        figure: "help binary (stripped)".into(),
        value: mib(&help_bin()).unwrap(),
        unit: "MiB",
        baseline: mib(std::path::Path::new(NODE_EXPORTER)),
        against: "node-exporter binary".into(),
    }
}

/// `lifeline-help --tray` subscribed to a real agent, next to the session bus it talks over, both left alone for
/// the same window: a tray that polled or redrew would show against a daemon that only waits.
pub fn tray_idle(agent: &Agent, secs: u64) -> Vec<Row> {
    if Command::new("dbus-daemon").arg("--version").output().is_err() {
        println!("tray rows skipped: dbus-daemon is missing (apt-get install dbus)");
        return Vec::new();
    }
    let mut bus = Command::new("dbus-daemon");
    bus.args(["--session", "--nofork", "--print-address=1"]);
    let bus = Proc::spawn("dbus-daemon", bus);
    let address = bus.wait_for_line("unix:", Duration::from_secs(30)).trim().to_owned();
    let mut tray = Command::new(help_bin());
    tray.arg("--tray")
        .env("DBUS_SESSION_BUS_ADDRESS", &address)
        .env("LIFELINE_AGENT_SOCKET", agent.dir.path().join("agent.sock"))
        .env_remove("DISPLAY");
    let tray = Proc::spawn("lifeline-help", tray);
    tray.wait_for_line("subscribed", Duration::from_secs(60));
    idle_window("tray", &tray, Some(&bus), secs, "its session's dbus-daemon")
}
