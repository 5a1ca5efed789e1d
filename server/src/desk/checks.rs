//! A check run's life: queued (its agent may be offline), sent, then one final state, which an agent's report or
//! the run's expiry decides.

use lifeline_shared::wire::CheckOutcome;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum RunState {
    Queued,
    Sent,
    Done,
    /// The agent would not run it (consent, policy or parameters).
    Refused,
    Failed,
    TimedOut,
    /// Still queued when its expiry passed.
    Expired,
}

impl RunState {
    const ALL: [RunState; 7] = [
        RunState::Queued,
        RunState::Sent,
        RunState::Done,
        RunState::Refused,
        RunState::Failed,
        RunState::TimedOut,
        RunState::Expired,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RunState::Queued => "queued",
            RunState::Sent => "sent",
            RunState::Done => "done",
            RunState::Refused => "refused",
            RunState::Failed => "failed",
            RunState::TimedOut => "timed-out",
            RunState::Expired => "expired",
        }
    }

    pub fn parse(s: &str) -> Option<RunState> {
        RunState::ALL.into_iter().find(|st| st.as_str() == s)
    }

    pub fn is_final(self) -> bool {
        !matches!(self, RunState::Queued | RunState::Sent)
    }

    /// The final state an agent's report puts a run in, and the text kept as its result.
    pub fn of(outcome: &CheckOutcome) -> (RunState, String, Option<u64>) {
        match outcome {
            CheckOutcome::Done { output, elapsed_ms } => (RunState::Done, output.clone(), Some(*elapsed_ms)),
            CheckOutcome::Refused { reason } => (RunState::Refused, reason.clone(), None),
            CheckOutcome::Failed { error } => (RunState::Failed, error.clone(), None),
            CheckOutcome::TimedOut { limit_ms } => {
                (RunState::TimedOut, format!("no answer within the check's limit of {limit_ms} ms"), None)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_parse_from_their_stored_names_and_only_two_are_open() {
        for state in RunState::ALL {
            assert_eq!(RunState::parse(state.as_str()), Some(state));
            assert_eq!(state.is_final(), !matches!(state, RunState::Queued | RunState::Sent));
        }
        assert_eq!(RunState::parse("running"), None);
    }

    #[test]
    fn a_report_decides_the_final_state_and_the_text_kept() {
        let cases = [
            (CheckOutcome::Done { output: "ok".into(), elapsed_ms: 7 }, (RunState::Done, "ok", Some(7))),
            (CheckOutcome::Refused { reason: "no consent".into() }, (RunState::Refused, "no consent", None)),
            (CheckOutcome::Failed { error: "boom".into() }, (RunState::Failed, "boom", None)),
            (
                CheckOutcome::TimedOut { limit_ms: 500 },
                (RunState::TimedOut, "no answer within the check's limit of 500 ms", None),
            ),
        ];
        for (outcome, (state, text, elapsed)) in cases {
            assert_eq!(RunState::of(&outcome), (state, text.to_owned(), elapsed));
        }
    }
}
