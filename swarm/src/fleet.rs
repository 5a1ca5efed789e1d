//! What the whole swarm saw: connections, acknowledgements with their latencies, outages; and the report made of
//! them. Milestones the benchmark runner waits for are printed as they happen.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::Serialize;

pub struct Fleet {
    started: Instant,
    agents: usize,
    inner: Mutex<Inner>,
    /// Woken when every agent's first connection attempt has ended, one way or the other.
    pub ramped: tokio::sync::Notify,
}

#[derive(Default)]
struct Inner {
    connected: usize,
    first_attempts: usize,
    first_failures: usize,
    failed_attempts: u64,
    sessions: u64,
    ramp_end: Option<Duration>,
    all_up: bool,
    stopping: bool,
    outage_start: Option<Duration>,
    outages: Vec<(Duration, Duration)>,
    /// When each acknowledgement came (since the start) and how long it took.
    acks: Vec<(Duration, Duration)>,
    errors: u64,
    help: u64,
    samples: u64,
}

/// Nearest-rank percentiles of acknowledgement latency, in milliseconds.
#[derive(Serialize, Debug, Clone, Copy, PartialEq, Default)]
pub struct Latency {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct Outage {
    /// From the first agent losing its connection to every agent connected again.
    pub back_secs: f64,
    /// Snapshots acknowledged meanwhile, to the agents already back, and their latency.
    pub acked: usize,
    pub latency_ms: Latency,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct Report {
    pub agents: usize,
    /// Connected when the report was made.
    pub connected: usize,
    /// Agents whose first connection attempt failed (they keep retrying, as real agents do).
    pub connect_failed: usize,
    /// Every failed attempt, first or not.
    pub failed_attempts: u64,
    /// Connections made, reconnections included.
    pub sessions: u64,
    pub ramp_secs: f64,
    /// The steady window after the ramp, outages left out, which the rates and latencies below describe.
    pub window_secs: f64,
    pub acked: usize,
    pub acked_per_sec: f64,
    pub latency_ms: Latency,
    /// Requests the server answered with an error.
    pub errors: u64,
    pub help_accepted: u64,
    pub live_samples: u64,
    pub outages: Vec<Outage>,
}

impl Fleet {
    pub fn new(agents: usize) -> Fleet {
        Fleet { started: Instant::now(), agents, inner: Mutex::default(), ramped: tokio::sync::Notify::new() }
    }

    fn with<T>(&self, f: impl FnOnce(&mut Inner, Duration) -> T) -> T {
        let mut inner = self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut inner, self.started.elapsed())
    }

    pub fn connected(&self, first: bool) {
        self.with(|i, now| {
            i.connected += 1;
            i.sessions += 1;
            if first {
                self.first_attempt_ended(i, now);
            }
            if i.connected == self.agents {
                if let Some(start) = i.outage_start.take() {
                    println!("all {} back {:.2} s after the first drop", self.agents, (now - start).as_secs_f64());
                    i.outages.push((start, now));
                } else if !i.all_up {
                    println!("all {} connected in {:.2} s", self.agents, now.as_secs_f64());
                }
                i.all_up = true;
            }
        });
    }

    pub fn failed(&self, first: bool) {
        self.with(|i, now| {
            i.failed_attempts += 1;
            if first {
                i.first_failures += 1;
                self.first_attempt_ended(i, now);
            }
        });
    }

    fn first_attempt_ended(&self, i: &mut Inner, now: Duration) {
        i.first_attempts += 1;
        if i.first_attempts == self.agents {
            i.ramp_end = Some(now);
            println!(
                "ramp: {} of {} connected, {} failed, in {:.2} s",
                i.connected,
                self.agents,
                i.first_failures,
                now.as_secs_f64()
            );
            self.ramped.notify_one();
        }
    }

    pub fn disconnected(&self) {
        self.with(|i, now| {
            if i.all_up && !i.stopping && i.outage_start.is_none() {
                i.outage_start = Some(now);
            }
            i.connected = i.connected.saturating_sub(1);
        });
    }

    pub fn acked(&self, sent: Instant) {
        let took = sent.elapsed();
        self.with(|i, now| i.acks.push((now, took)));
    }

    pub fn error(&self) {
        self.with(|i, _| i.errors += 1);
    }

    pub fn help_accepted(&self) {
        self.with(|i, _| i.help += 1);
    }

    pub fn sample_sent(&self) {
        self.with(|i, _| i.samples += 1);
    }

    /// The report as of now; from here on, connections that end are the swarm stopping, not an outage.
    pub fn stop(&self) -> Report {
        self.with(|i, now| {
            i.stopping = true;
            report(i, self.agents, now)
        })
    }
}

fn report(i: &Inner, agents: usize, now: Duration) -> Report {
    let ramp_end = i.ramp_end.unwrap_or(now);
    let in_outage = |at: Duration| i.outages.iter().any(|&(start, end)| (start..=end).contains(&at));
    let steady: Vec<Duration> =
        i.acks.iter().filter(|(at, _)| *at >= ramp_end && !in_outage(*at)).map(|&(_, took)| took).collect();
    let outage_time: Duration = i.outages.iter().map(|&(start, end)| end.saturating_sub(start)).sum();
    let window = now.saturating_sub(ramp_end).saturating_sub(outage_time).as_secs_f64();
    let outages = i
        .outages
        .iter()
        .map(|&(start, end)| {
            let during: Vec<Duration> =
                i.acks.iter().filter(|(at, _)| (start..=end).contains(at)).map(|&(_, took)| took).collect();
            Outage { back_secs: (end - start).as_secs_f64(), acked: during.len(), latency_ms: latency(during) }
        })
        .collect();
    Report {
        agents,
        connected: i.connected,
        connect_failed: i.first_failures,
        failed_attempts: i.failed_attempts,
        sessions: i.sessions,
        ramp_secs: ramp_end.as_secs_f64(),
        window_secs: window,
        acked: steady.len(),
        acked_per_sec: if window > 0.0 { steady.len() as f64 / window } else { 0.0 },
        latency_ms: latency(steady),
        errors: i.errors,
        help_accepted: i.help,
        live_samples: i.samples,
        outages,
    }
}

fn latency(mut took: Vec<Duration>) -> Latency {
    took.sort();
    let ms = |p: f64| {
        let rank = ((p * took.len() as f64).ceil() as usize).clamp(1, took.len().max(1));
        took.get(rank - 1).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    Latency { p50: ms(0.5), p90: ms(0.9), p99: ms(0.99), max: ms(1.0) }
}

impl Report {
    pub fn text(&self) -> String {
        let l = &self.latency_ms;
        let mut out = format!(
            "agents {}: {} connected, {} failed at first try, {} failed attempts, {} connections made\n\
             ramp {:.1} s, then {:.1} s steady: {} snapshots acknowledged ({:.1}/s), {} errors, {} help requests \
             accepted, {} live samples sent\n\
             ack latency ms: p50 {:.1}  p90 {:.1}  p99 {:.1}  max {:.1}\n",
            self.agents,
            self.connected,
            self.connect_failed,
            self.failed_attempts,
            self.sessions,
            self.ramp_secs,
            self.window_secs,
            self.acked,
            self.acked_per_sec,
            self.errors,
            self.help_accepted,
            self.live_samples,
            l.p50,
            l.p90,
            l.p99,
            l.max
        );
        for o in &self.outages {
            out += &format!(
                "outage: all back after {:.2} s; {} acknowledged meanwhile, p99 {:.1} ms\n",
                o.back_secs, o.acked, o.latency_ms.p99
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let check = |input: Vec<u64>, expected: [f64; 4]| {
            let l = latency(input.into_iter().map(ms).collect());
            assert_eq!([l.p50, l.p90, l.p99, l.max], expected);
        };
        check(vec![], [0.0; 4]);
        check(vec![7], [7.0; 4]);
        check((1..=100).rev().collect(), [50.0, 90.0, 99.0, 100.0]);
    }

    #[test]
    fn acks_during_an_outage_are_counted_apart() {
        let inner = Inner {
            ramp_end: Some(ms(1000)),
            outages: vec![(ms(5000), ms(7000))],
            acks: vec![(ms(500), ms(1)), (ms(2000), ms(2)), (ms(6000), ms(40)), (ms(8000), ms(3))],
            ..Inner::default()
        };
        let r = report(&inner, 1, ms(11_000));
        assert_eq!((r.acked, r.window_secs, r.latency_ms.max), (2, 8.0, 3.0));
        assert_eq!(r.outages.len(), 1);
        assert_eq!((r.outages[0].back_secs, r.outages[0].acked, r.outages[0].latency_ms.p99), (2.0, 1, 40.0));
    }
}
