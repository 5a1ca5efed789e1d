//! `lifeline-server`: parses the command line and runs the command. What each takes is in `cli::args`; the
//! commands on this machine's data directory are in `cli::admin`, the technicians' commands through the API in
//! `cli::desk`.

mod cli;

use std::process::ExitCode;

use anyhow::Result;
use clap::Parser;
use cli::args::{AuditCmd, Cli, Command, TokenCmd, UserCmd, UserTokenCmd};
use cli::{admin, desk};
use lifeline_server::config::ConfigError;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { ExitCode::from(64) } else { ExitCode::SUCCESS };
        }
    };
    lifeline_net::logging::init("info");
    match execute(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            // 78 (EX_CONFIG) tells a service manager that restarting will not help until the configuration changes.
            if e.downcast_ref::<ConfigError>().is_some() { ExitCode::from(78) } else { ExitCode::FAILURE }
        }
    }
}

fn execute(command: Command) -> Result<()> {
    match command {
        Command::Serve { local, quic, api } => admin::serve(&local, quic, api),
        Command::Quickstart { data_dir, port } => admin::quickstart(data_dir, port),
        Command::User(UserCmd::Add { name, tier, local }) => admin::add_user(&local, name, &tier),
        Command::User(UserCmd::SetRole { name, tier, local }) => admin::set_role(&local, name, &tier),
        Command::User(UserCmd::Token(UserTokenCmd::List { user, local })) => admin::list_tokens(&local, user),
        Command::User(UserCmd::Token(UserTokenCmd::Revoke { id, local })) => admin::revoke_token(&local, id),
        Command::Token(TokenCmd::Create { expires, uses, label, server, local }) => {
            admin::create_token(&local, &expires, uses, label, server)
        }
        Command::BulkEnroll { count, out, local } => admin::bulk_enroll(&local, count, &out),
        Command::Backup { out, local } => admin::backup(&local, &out),
        Command::Restore { from, data_dir } => admin::restore(&from, &data_dir),
        Command::Audit(AuditCmd::Checkpoint { out, local }) => admin::checkpoint(&local, out),
        Command::Login { user, api, ca } => desk::login(&user, &api, &ca),
        Command::Agent(cmd) => desk::agent(cmd),
        Command::Ticket(cmd) => desk::ticket(cmd),
        Command::Person(cmd) => desk::person(cmd),
        Command::Category(cmd) => desk::category(cmd),
        Command::Canned(cmd) => desk::canned(cmd),
        Command::Check(cmd) => desk::check(cmd),
        Command::Webhook(cmd) => desk::webhook(cmd),
        Command::Audit(cmd) => desk::audit(cmd),
        Command::Stats(cmd) => desk::stats(cmd),
    }
}
