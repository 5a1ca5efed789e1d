//! The one log setup of the daemons and the load generator, so that `LIFELINE_LOG` and `LIFELINE_LOG_FORMAT` mean
//! the same everywhere. (The desktop program does not link this crate and keeps a plain copy.)

/// Installs the one log subscriber of a binary: `LIFELINE_LOG` (or `RUST_LOG`) filters, `LIFELINE_LOG_FORMAT=json`
/// switches to JSON lines for log collectors.
pub fn init(default: &str) {
    use tracing_subscriber::prelude::*;
    let filter =
        std::env::var("LIFELINE_LOG").or_else(|_| std::env::var("RUST_LOG")).unwrap_or_else(|_| default.to_owned());
    let targets = filter.parse::<tracing_subscriber::filter::Targets>().unwrap_or_else(|e| {
        eprintln!("LIFELINE_LOG={filter:?} is not a log filter ({e}); using {default:?}");
        default.parse().unwrap_or_default()
    });
    let builder = tracing_subscriber::fmt()
        // Everything reaches the subscriber; the targets below are the one filter.
        .with_max_level(tracing_subscriber::filter::LevelFilter::TRACE)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    if std::env::var("LIFELINE_LOG_FORMAT").is_ok_and(|f| f == "json") {
        builder.json().finish().with(targets).init();
    } else {
        builder.finish().with(targets).init();
    }
}
