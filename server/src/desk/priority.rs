//! Priority from urgency (how soon the requester needs it) and impact (how many it stops, the technician's call),
//! through a matrix the help desk sets, as ITIL and GLPI do. The priority is computed when the urgency or impact is
//! given and stored in the event, so a later change of the matrix never rewrites the priority of past tickets.

use serde::{Deserialize, Serialize};

/// One scale for urgency, impact and priority.
#[derive(
    Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, utoipa::ToSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Level {
    Low,
    #[default]
    Medium,
    High,
    Critical,
}

impl Level {
    pub const ALL: [Level; 4] = [Level::Low, Level::Medium, Level::High, Level::Critical];

    pub fn as_str(self) -> &'static str {
        match self {
            Level::Low => "low",
            Level::Medium => "medium",
            Level::High => "high",
            Level::Critical => "critical",
        }
    }

    pub fn parse(s: &str) -> Option<Level> {
        Level::ALL.into_iter().find(|l| l.as_str() == s)
    }

    /// Sorts lists most urgent first.
    pub fn rank(self) -> u8 {
        self as u8
    }

    fn index(self) -> usize {
        usize::from(self.rank())
    }
}

/// `cells[urgency][impact]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Matrix {
    cells: [[Level; 4]; 4],
}

impl Default for Matrix {
    /// GLPI's default, cut to four levels: a critical urgency with a critical impact is critical, and one low axis
    /// keeps a ticket from the top.
    fn default() -> Self {
        use Level::*;
        Matrix {
            cells: [
                [Low, Low, Medium, High],
                [Low, Medium, High, High],
                [Medium, High, High, Critical],
                [High, High, Critical, Critical],
            ],
        }
    }
}

impl Matrix {
    /// From four rows of priorities, one per urgency from low to critical, each across the impacts from low to
    /// critical.
    pub fn from_rows(rows: [[Level; 4]; 4]) -> Matrix {
        Matrix { cells: rows }
    }

    pub fn priority(&self, urgency: Level, impact: Level) -> Level {
        self.cells[urgency.index()][impact.index()]
    }
}

/// An incident is something broken; a request is something wanted (an account, a program). They are counted apart.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Default, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum TicketType {
    #[default]
    Incident,
    Request,
}

impl TicketType {
    pub const ALL: [TicketType; 2] = [TicketType::Incident, TicketType::Request];

    pub fn as_str(self) -> &'static str {
        match self {
            TicketType::Incident => "incident",
            TicketType::Request => "request",
        }
    }

    pub fn parse(s: &str) -> Option<TicketType> {
        TicketType::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_cell_of_the_default_matrix() {
        use Level::*;
        let cases = [
            (Low, Low, Low),
            (Low, Critical, High),
            (Medium, Medium, Medium),
            (Medium, High, High),
            (High, Low, Medium),
            (High, Critical, Critical),
            (Critical, Low, High),
            (Critical, Critical, Critical),
        ];
        let m = Matrix::default();
        for (urgency, impact, priority) in cases {
            assert_eq!(m.priority(urgency, impact), priority, "{urgency:?} x {impact:?}");
        }
    }

    #[test]
    fn a_configured_matrix_is_read_by_urgency_then_impact() {
        use Level::*;
        let m = Matrix::from_rows([
            [Low, Medium, High, Critical],
            [Low, Low, Low, Low],
            [Critical, Critical, Critical, Critical],
            [Medium, Medium, Medium, Medium],
        ]);
        for (i, u) in Level::ALL.into_iter().enumerate() {
            for (j, imp) in Level::ALL.into_iter().enumerate() {
                let expected = [[Low, Medium, High, Critical], [Low; 4], [Critical; 4], [Medium; 4]][i][j];
                assert_eq!(m.priority(u, imp), expected);
            }
        }
    }

    #[test]
    fn names_round_trip() {
        for l in Level::ALL {
            assert_eq!(Level::parse(l.as_str()), Some(l));
        }
        for t in TicketType::ALL {
            assert_eq!(TicketType::parse(t.as_str()), Some(t));
        }
        assert_eq!(Level::parse("urgent"), None);
    }
}
