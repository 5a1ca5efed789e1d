//! Exponential backoff with full jitter (the AWS architecture blog's "full jitter"): after a server restart, thousands
//! of agents spread their reconnects over the whole window instead of returning in lockstep.

use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub base: Duration,
    pub cap: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff { base: Duration::from_millis(500), cap: Duration::from_secs(60) }
    }
}

impl Backoff {
    /// Delay before retry number `attempt` (0-based); `random` is any uniformly random `u64` the caller drew.
    pub fn delay(&self, attempt: u32, random: u64) -> Duration {
        let ceiling = self.base.saturating_mul(1u32.checked_shl(attempt.min(31)).unwrap_or(u32::MAX)).min(self.cap);
        let ceiling_ms = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX);
        Duration::from_millis(random % ceiling_ms.saturating_add(1))
    }

    /// The first delay after a server said goodbye: anywhere in the window it asked for, which `cap` bounds, so a
    /// hostile server cannot park its agents for days.
    pub fn within(&self, window: Duration, random: u64) -> Duration {
        let window_ms = u64::try_from(window.min(self.cap).as_millis()).unwrap_or(u64::MAX);
        Duration::from_millis(random % window_ms.saturating_add(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_then_caps_and_stays_within_ceiling() {
        let b = Backoff { base: Duration::from_millis(100), cap: Duration::from_secs(5) };
        let cases = [(0, 100), (1, 200), (3, 800), (5, 3200), (6, 5000), (40, 5000)];
        for (attempt, ceiling_ms) in cases {
            assert_eq!(b.delay(attempt, u64::MAX - 1).as_millis() as u64, (u64::MAX - 1) % (ceiling_ms + 1));
            assert_eq!(b.delay(attempt, ceiling_ms), Duration::from_millis(ceiling_ms), "attempt {attempt}");
            assert_eq!(b.delay(attempt, ceiling_ms + 1), Duration::ZERO, "attempt {attempt} wraps to zero");
        }
    }

    #[test]
    fn a_goodbye_window_is_spread_over_and_capped() {
        let b = Backoff::default();
        assert_eq!(b.within(Duration::from_secs(10), 10_000), Duration::from_secs(10));
        assert_eq!(b.within(Duration::from_secs(10), 10_001), Duration::ZERO);
        assert_eq!(b.within(Duration::from_secs(10), 2_500), Duration::from_millis(2_500));
        assert_eq!(b.within(Duration::from_secs(86_400), u64::MAX), Duration::from_millis(u64::MAX % 60_001));
        assert_eq!(b.within(Duration::ZERO, 12_345), Duration::ZERO);
    }

    #[test]
    fn jitter_spreads_over_the_window() {
        let b = Backoff::default();
        let delays: std::collections::BTreeSet<_> = (0..1000u64).map(|r| b.delay(8, r * 7919)).collect();
        assert!(delays.len() > 900, "full jitter should give distinct delays, got {}", delays.len());
    }
}
