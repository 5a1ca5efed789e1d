//! The agent's side of a session with the server, without IO: what goes first on a new connection, how long the
//! welcome may take, when each heartbeat is due and which number it carries, and how long to wait before connecting
//! again. The agent's link and the load generator's simulated agents both drive it, so what a swarm does to a server
//! is what a fleet of real agents would do.
//!
//! The driver owns the connection and the timers. It tells the session what happened ([`AgentSession::connected`],
//! [`AgentSession::welcome`], [`AgentSession::ended`]) and, at [`AgentSession::poll_timeout`], what time it is
//! ([`AgentSession::handle_timeout`]); it writes whatever [`AgentSession::poll_transmit`] returns on the control
//! stream, in order.

use std::collections::VecDeque;
use std::ops::RangeInclusive;
use std::time::{Duration, Instant};

use crate::backoff::Backoff;
use crate::wire::{AgentControl, Goodbye, Hello};

/// How long the server has to answer a hello with its welcome before the attempt counts as failed.
pub const WELCOME_TIMEOUT: Duration = Duration::from_secs(10);

/// The heartbeat intervals an agent takes from a welcome, in seconds: what the server's configuration allows. Zero
/// from a broken server would otherwise make the agent heartbeat without pause.
const HEARTBEAT_SECS: RangeInclusive<u32> = 1..=3600;

/// One agent's session, across all its connections.
#[derive(Debug, Clone)]
pub struct AgentSession {
    hello: Hello,
    backoff: Backoff,
    /// Reconnects since the link was last up, which sets how long the next delay may be.
    attempt: u32,
    state: State,
    outbox: VecDeque<AgentControl>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// No connection: before the first, or between one and the next.
    Offline,
    /// The control stream is open and the hello queued; no welcome yet.
    Greeting,
    /// Welcomed: the heartbeat numbered `seq` is due at `next`, then one every `every`.
    Up { every: Duration, seq: u64, next: Instant },
}

impl AgentSession {
    /// `hello` is what this agent says on every connection.
    pub fn new(hello: Hello) -> AgentSession {
        AgentSession { hello, backoff: Backoff::default(), attempt: 0, state: State::Offline, outbox: VecDeque::new() }
    }

    /// A connection and its control stream are open: the hello goes first. Returns when the welcome is due; if it
    /// has not come by then, the driver drops the connection and calls [`AgentSession::ended`].
    pub fn connected(&mut self, now: Instant) -> Instant {
        // Anything queued for the previous connection meant nothing to this one.
        self.outbox.clear();
        self.outbox.push_back(AgentControl::Hello(self.hello.clone()));
        self.state = State::Greeting;
        now + WELCOME_TIMEOUT
    }

    /// The server welcomed the agent: the link is up, and the first heartbeat is due at once.
    pub fn welcome(&mut self, now: Instant, heartbeat_secs: u32) {
        let secs = heartbeat_secs.clamp(*HEARTBEAT_SECS.start(), *HEARTBEAT_SECS.end());
        self.state = State::Up { every: Duration::from_secs(secs.into()), seq: 1, next: now };
    }

    /// When [`AgentSession::handle_timeout`] next has something to do: the next heartbeat, while the link is up.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.state {
            State::Up { next, .. } => Some(next),
            State::Offline | State::Greeting => None,
        }
    }

    /// Queues the heartbeat that is due by `now`, if one is.
    pub fn handle_timeout(&mut self, now: Instant) {
        let State::Up { every, seq, next } = &mut self.state else { return };
        if now < *next {
            return;
        }
        self.outbox.push_back(AgentControl::Heartbeat { seq: *seq });
        *seq += 1;
        *next += *every;
        // After a stall longer than the interval (a suspended machine, a busy runtime) one heartbeat says the agent
        // is alive; the missed ones in a burst would say nothing more.
        if *next <= now {
            *next = now + *every;
        }
    }

    /// The next message for the control stream, oldest first.
    pub fn poll_transmit(&mut self) -> Option<AgentControl> {
        self.outbox.pop_front()
    }

    /// The connection ended, or an attempt failed before the welcome (or before there was a connection at all).
    /// `goodbye` is what a restarting server said as it closed, if it did; `random` any uniformly random number.
    /// Returns how long to wait before connecting again.
    pub fn ended(&mut self, goodbye: Option<&Goodbye>, random: u64) -> Duration {
        // A link that came up makes this a fresh outage: the schedule starts over.
        if matches!(self.state, State::Up { .. }) {
            self.attempt = 0;
        }
        self.state = State::Offline;
        self.outbox.clear();
        let delay = match goodbye {
            // The server sized the window to how many agents it had; it is spread over once, and should that return
            // fail, the ordinary schedule goes on from its second step.
            Some(goodbye) => self.backoff.within(Duration::from_millis(goodbye.reconnect_within_ms.into()), random),
            None => self.backoff.delay(self.attempt, random),
        };
        self.attempt = self.attempt.saturating_add(1);
        delay
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::PROTOCOL_VERSION;

    fn session() -> AgentSession {
        AgentSession::new(Hello {
            protocol: PROTOCOL_VERSION,
            agent_version: "0.1.0".into(),
            hostname: "pc-17".into(),
            os: "Debian 13".into(),
        })
    }

    /// The simulated clock's origin. Nothing in the session reads a clock; only differences from this matter.
    fn origin() -> Instant {
        Instant::now()
    }

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    /// Drives `session` as the agent's link does, waking at each timeout up to `until`, and returns what it sent and
    /// when, in seconds since `t0`.
    fn sent_until(session: &mut AgentSession, t0: Instant, until: Duration) -> Vec<(u64, AgentControl)> {
        let mut sent = Vec::new();
        while let Some(at) = session.poll_timeout().filter(|at| *at <= t0 + until) {
            session.handle_timeout(at);
            while let Some(msg) = session.poll_transmit() {
                sent.push(((at - t0).as_secs(), msg));
            }
        }
        sent
    }

    /// Ends the session and checks the delay came from a window of exactly `ceiling_ms`: a random number equal to
    /// the ceiling waits that long, and one past it wraps to no wait at all.
    fn ends_with_ceiling(session: &mut AgentSession, goodbye: Option<&Goodbye>, ceiling_ms: u64) {
        assert_eq!(session.clone().ended(goodbye, ceiling_ms + 1), Duration::ZERO, "ceiling {ceiling_ms} ms");
        assert_eq!(session.ended(goodbye, ceiling_ms), Duration::from_millis(ceiling_ms), "ceiling {ceiling_ms} ms");
    }

    /// Connects, sends the hello and is welcomed with a heartbeat every 15 s.
    fn up(session: &mut AgentSession, now: Instant) {
        session.connected(now);
        assert!(matches!(session.poll_transmit(), Some(AgentControl::Hello(_))));
        session.welcome(now, 15);
    }

    fn heartbeat(seq: u64) -> AgentControl {
        AgentControl::Heartbeat { seq }
    }

    #[test]
    fn a_new_connection_says_hello_first_and_waits_ten_seconds_for_the_welcome() {
        let (mut s, t0) = (session(), origin());
        assert_eq!(s.connected(t0), t0 + secs(10));
        assert!(matches!(s.poll_transmit(), Some(AgentControl::Hello(h)) if h.hostname == "pc-17"));
        assert_eq!(s.poll_transmit(), None);
        assert_eq!(s.poll_timeout(), None, "no heartbeat before the welcome");
        s.handle_timeout(t0 + secs(60));
        assert_eq!(s.poll_transmit(), None);
    }

    #[test]
    fn heartbeats_follow_the_welcomes_interval_the_first_at_once() {
        let (mut s, t0) = (session(), origin());
        s.connected(t0);
        s.poll_transmit();
        s.welcome(t0 + secs(1), 15);
        let expected =
            [(1, heartbeat(1)), (16, heartbeat(2)), (31, heartbeat(3)), (46, heartbeat(4)), (61, heartbeat(5))];
        assert_eq!(sent_until(&mut s, t0, secs(75)), expected);
    }

    #[test]
    fn a_heartbeat_is_not_sent_before_it_is_due() {
        let (mut s, t0) = (session(), origin());
        up(&mut s, t0);
        s.handle_timeout(t0);
        assert_eq!(s.poll_transmit(), Some(heartbeat(1)));
        s.handle_timeout(t0 + Duration::from_millis(14_999));
        assert_eq!(s.poll_transmit(), None);
        assert_eq!(s.poll_timeout(), Some(t0 + secs(15)));
    }

    #[test]
    fn a_heartbeat_interval_outside_one_second_to_an_hour_is_brought_within_it() {
        for (asked, every) in [(0, 1), (1, 1), (15, 15), (3600, 3600), (3601, 3600), (u32::MAX, 3600)] {
            let (mut s, t0) = (session(), origin());
            s.connected(t0);
            s.welcome(t0, asked);
            s.handle_timeout(t0);
            assert_eq!(s.poll_timeout(), Some(t0 + secs(every)), "asked for {asked} s");
        }
    }

    #[test]
    fn after_a_stall_one_heartbeat_goes_and_the_cadence_starts_again_from_then() {
        let (mut s, t0) = (session(), origin());
        up(&mut s, t0);
        s.handle_timeout(t0);
        s.poll_transmit();
        s.handle_timeout(t0 + secs(100));
        assert_eq!(s.poll_transmit(), Some(heartbeat(2)));
        assert_eq!(s.poll_transmit(), None, "no burst of the heartbeats missed meanwhile");
        assert_eq!(sent_until(&mut s, t0, secs(130)), [(115, heartbeat(3)), (130, heartbeat(4))]);
    }

    #[test]
    fn reconnect_delays_grow_then_cap_and_start_over_after_a_connection_that_came_up() {
        let (mut s, t0) = (session(), origin());
        for ceiling_ms in [500, 1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000, 60_000] {
            ends_with_ceiling(&mut s, None, ceiling_ms);
        }
        up(&mut s, t0);
        ends_with_ceiling(&mut s, None, 500);
        ends_with_ceiling(&mut s, None, 1_000);
    }

    #[test]
    fn a_connection_without_a_welcome_does_not_restart_the_schedule() {
        let (mut s, t0) = (session(), origin());
        // No route to the server: there was no connection at all.
        ends_with_ceiling(&mut s, None, 500);
        s.connected(t0);
        ends_with_ceiling(&mut s, None, 1_000);
        s.connected(t0);
        ends_with_ceiling(&mut s, None, 2_000);
    }

    #[test]
    fn a_goodbyes_window_spreads_one_return_and_the_schedule_goes_on_after_it() {
        let (mut s, t0) = (session(), origin());
        for ceiling_ms in [500, 1_000, 2_000] {
            ends_with_ceiling(&mut s, None, ceiling_ms);
        }
        up(&mut s, t0);
        let goodbye = Goodbye { reconnect_within_ms: 10_000 };
        ends_with_ceiling(&mut s, Some(&goodbye), 10_000);
        // The return failed: the window is not used again, and the schedule restarted with the link that came up.
        ends_with_ceiling(&mut s, None, 1_000);
        ends_with_ceiling(&mut s, None, 2_000);
    }

    #[test]
    fn a_goodbyes_window_is_capped_so_a_server_cannot_park_its_agents() {
        let (mut s, t0) = (session(), origin());
        up(&mut s, t0);
        ends_with_ceiling(&mut s, Some(&Goodbye { reconnect_within_ms: 86_400_000 }), 60_000);
    }

    #[test]
    fn a_new_connection_starts_its_heartbeats_from_one_and_sends_nothing_left_from_the_last() {
        let (mut s, t0) = (session(), origin());
        up(&mut s, t0);
        s.handle_timeout(t0 + secs(30));
        assert_eq!(s.poll_transmit(), Some(heartbeat(1)));
        s.handle_timeout(t0 + secs(45));
        s.ended(None, 0);
        assert_eq!(s.poll_transmit(), None, "a heartbeat queued for the old connection is not sent");
        assert_eq!(s.poll_timeout(), None, "no heartbeats while offline");
        s.connected(t0 + secs(50));
        assert!(matches!(s.poll_transmit(), Some(AgentControl::Hello(_))));
        s.welcome(t0 + secs(51), 15);
        assert_eq!(sent_until(&mut s, t0, secs(66)), [(51, heartbeat(1)), (66, heartbeat(2))]);
    }
}
