//! Who may do what: the roles, and one table of the acts each may do, which every adapter asks through [`require`]
//! (the API, the console and the CLI alike), so no route carries a rule of its own.

use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    Tier1,
    Tier2,
    Tier3,
    Admin,
    /// Reads everything, including the audit log, and changes nothing.
    Auditor,
    /// Reads tickets and every statistic, each technician's too, and changes nothing: who plans the desk.
    Manager,
    /// A mail server's account: hands in raw messages for the e-mail channel and may do nothing else, so the token
    /// a mail server holds opens nothing more.
    Mailer,
}

impl Role {
    pub const ALL: [Role; 7] =
        [Role::Tier1, Role::Tier2, Role::Tier3, Role::Admin, Role::Auditor, Role::Manager, Role::Mailer];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Tier1 => "tier1",
            Role::Tier2 => "tier2",
            Role::Tier3 => "tier3",
            Role::Admin => "admin",
            Role::Auditor => "auditor",
            Role::Manager => "manager",
            Role::Mailer => "mailer",
        }
    }

    /// The support tier this role works at: what it may escalate to and which check classes it may run.
    pub fn tier(self) -> u8 {
        match self {
            Role::Tier1 => 1,
            Role::Tier2 => 2,
            Role::Tier3 | Role::Admin => 3,
            Role::Auditor | Role::Manager | Role::Mailer => 0,
        }
    }

    /// Accepts the stored form and the CLI's `1`, `2`, `3`, `admin`, `auditor`.
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "1" | "tier1" => Some(Role::Tier1),
            "2" | "tier2" => Some(Role::Tier2),
            "3" | "tier3" => Some(Role::Tier3),
            "admin" => Some(Role::Admin),
            "auditor" => Some(Role::Auditor),
            "manager" => Some(Role::Manager),
            "mailer" => Some(Role::Mailer),
            _ => None,
        }
    }
}

/// What a signed-in person asks to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Act {
    /// Tickets, machines, snapshots, the catalog, check runs, live views and figures.
    Read,
    /// Reply, note, assign, change status, escalate, ask a machine for a fresh snapshot.
    WorkTickets,
    /// Ask for an approved check; the check's own class then needs the tier [`Role::tier`] gives.
    RunChecks,
    RevokeAgents,
    ReadAudit,
    /// Edit the help desk's own lists: categories.
    ConfigureDesk,
    /// The statistics of the whole desk, and one's own per-technician figures.
    ReadStats,
    /// Other technicians' per-technician figures.
    ReadOthersStats,
    /// Webhook endpoints (their secrets), their delivery log, and the e-mail channel's log.
    ManageIntegrations,
    /// Hand in a raw e-mail message (`POST /api/inbound/email`).
    DeliverMail,
    /// Accounts and their roles, and enrollment tokens, from the console (the server's own machine needs no role).
    ManageAccounts,
}

use Role::*;

/// The whole policy: the roles that may do each act, and what the others are told. A `match`, so a new act cannot
/// be added without its row.
fn rule(act: Act) -> (&'static [Role], &'static str) {
    match act {
        Act::Read => (&[Tier1, Tier2, Tier3, Admin, Auditor, Manager], "may not read"),
        Act::WorkTickets => (&[Tier1, Tier2, Tier3, Admin], "auditors and managers may read but not change tickets"),
        Act::RunChecks => (&[Tier1, Tier2, Tier3, Admin], "auditors and managers may read but not run checks"),
        Act::RevokeAgents => (&[Admin], "only an admin may revoke agents"),
        Act::ReadAudit => (&[Admin, Auditor], "only admins and auditors may read the audit log"),
        Act::ConfigureDesk => (&[Admin], "only an admin may change the help desk's categories"),
        Act::ReadStats => (&[Tier1, Tier2, Tier3, Admin, Auditor, Manager], "may not read the statistics"),
        Act::ReadOthersStats => {
            (&[Admin, Auditor, Manager], "only managers, admins and auditors see other technicians' figures")
        }
        Act::ManageIntegrations => (&[Admin], "only an admin may see and change webhooks and the mail channel"),
        Act::DeliverMail => (&[Mailer, Admin], "only a mail server's account (role mailer) may hand in mail"),
        Act::ManageAccounts => (&[Admin], "only an admin may see and change accounts and enrollment tokens"),
    }
}

/// A refusal, with the sentence that tells the person why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Denied(pub String);

pub fn permits(role: Role, act: Act) -> bool {
    rule(act).0.contains(&role)
}

pub fn require(role: Role, act: Act) -> Result<(), Denied> {
    let (roles, why) = rule(act);
    if roles.contains(&role) { Ok(()) } else { Err(Denied(why.to_owned())) }
}

/// A saved queue view goes only by its owner's hand, or an admin's (a shared view someone left behind).
pub fn may_remove_view(role: Role, owns_it: bool) -> Result<(), Denied> {
    if owns_it || role == Admin {
        Ok(())
    } else {
        Err(Denied("only its owner or an admin may remove a saved view".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_saved_view_is_removed_by_its_owner_or_an_admin() {
        assert!(may_remove_view(Tier1, true).is_ok());
        assert!(may_remove_view(Admin, false).is_ok());
        for role in [Tier1, Tier2, Tier3, Auditor, Manager] {
            assert!(may_remove_view(role, false).is_err(), "{role:?}");
        }
    }

    #[test]
    fn the_policy_as_a_table() {
        // Rows: the acts; columns: tier 1, 2, 3, admin, auditor, manager, mailer.
        let expected = [
            (Act::Read, [true, true, true, true, true, true, false]),
            (Act::WorkTickets, [true, true, true, true, false, false, false]),
            (Act::RunChecks, [true, true, true, true, false, false, false]),
            (Act::RevokeAgents, [false, false, false, true, false, false, false]),
            (Act::ReadAudit, [false, false, false, true, true, false, false]),
            (Act::ConfigureDesk, [false, false, false, true, false, false, false]),
            (Act::ReadStats, [true, true, true, true, true, true, false]),
            (Act::ReadOthersStats, [false, false, false, true, true, true, false]),
            (Act::ManageIntegrations, [false, false, false, true, false, false, false]),
            (Act::DeliverMail, [false, false, false, true, false, false, true]),
            (Act::ManageAccounts, [false, false, false, true, false, false, false]),
        ];
        for (act, allowed) in expected {
            for (role, allowed) in Role::ALL.into_iter().zip(allowed) {
                assert_eq!(permits(role, act), allowed, "{role:?} {act:?}");
                assert_eq!(require(role, act).is_ok(), allowed, "{role:?} {act:?}");
            }
        }
    }

    #[test]
    fn a_refusal_says_why() {
        assert_eq!(
            require(Auditor, Act::WorkTickets),
            Err(Denied("auditors and managers may read but not change tickets".into()))
        );
        assert_eq!(require(Tier3, Act::RevokeAgents), Err(Denied("only an admin may revoke agents".into())));
    }

    #[test]
    fn roles_parse_from_the_stored_and_the_cli_forms() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        assert_eq!(Role::parse("2"), Some(Tier2));
        assert_eq!(Role::parse("root"), None);
    }
}
