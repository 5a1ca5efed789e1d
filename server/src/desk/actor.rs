//! Who did something on a ticket. Typed, because the figures managers read tell a technician's reply from the
//! requester's own answer, and both from what a machine or the help desk's clock did.

use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ActorKind {
    /// A help-desk account: a technician, a manager or an admin.
    Technician,
    /// The person the ticket is for, through their own machine or by mail.
    Requester,
    /// A machine's agent, by its id: snapshots it sent.
    Agent,
    /// The server itself: what its rules and clocks did.
    System,
}

impl ActorKind {
    pub const ALL: [ActorKind; 4] = [ActorKind::Technician, ActorKind::Requester, ActorKind::Agent, ActorKind::System];

    pub fn as_str(self) -> &'static str {
        match self {
            ActorKind::Technician => "technician",
            ActorKind::Requester => "requester",
            ActorKind::Agent => "agent",
            ActorKind::System => "system",
        }
    }

    pub fn parse(s: &str) -> Option<ActorKind> {
        ActorKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// Flattened into what the API shows of an event as `actor` (the name) and `actor_kind`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, utoipa::ToSchema)]
pub struct Actor {
    #[serde(rename = "actor_kind")]
    pub kind: ActorKind,
    #[serde(rename = "actor")]
    pub name: String,
}

impl Actor {
    pub fn technician(name: &str) -> Actor {
        Actor { kind: ActorKind::Technician, name: name.to_owned() }
    }

    pub fn requester(name: &str) -> Actor {
        Actor { kind: ActorKind::Requester, name: name.to_owned() }
    }

    pub fn agent(id: &str) -> Actor {
        Actor { kind: ActorKind::Agent, name: id.to_owned() }
    }

    /// The server itself: what its clocks and its mail reader do.
    pub fn server() -> Actor {
        Actor { kind: ActorKind::System, name: "server".into() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_through_their_stored_names() {
        for kind in ActorKind::ALL {
            assert_eq!(ActorKind::parse(kind.as_str()), Some(kind));
            assert_eq!(serde_json::to_value(kind).unwrap(), kind.as_str());
        }
        assert_eq!(ActorKind::parse("robot"), None);
    }

    #[test]
    fn an_actor_shows_as_its_name_and_kind() {
        let shown = serde_json::to_value(Actor::requester("ann")).unwrap();
        assert_eq!(shown, serde_json::json!({ "actor": "ann", "actor_kind": "requester" }));
    }
}
