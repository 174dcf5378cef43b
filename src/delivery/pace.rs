//! How far the delivery loop may claim ahead of its sends.
//!
//! Mails claimed ahead wait in the worker until a send slot frees up. Their
//! lease runs meanwhile; one still waiting when it runs out would be claimed
//! and sent by another replica as well as by this one. So the queue behind
//! the sends holds only what the recent pace sends within a quarter of the
//! lease: long against a local relay, a single round against a slow one.
use std::time::Duration;

/// The most rounds of `delivery_concurrency` mails that wait behind the ones
/// being sent. With fewer, the queue runs dry while a claim is on its way
/// (BENCHMARKS.md, fix 13).
pub const MOST_ROUNDS_AHEAD: usize = 7;

/// A moving average of how long one send takes.
#[derive(Debug, Default)]
pub struct Pace {
    per_send: Option<Duration>,
}

impl Pace {
    /// Takes one finished send into the average (weight 1/8: a few slow sends
    /// move it quickly, one outlier does not).
    pub fn record(&mut self, took: Duration) {
        self.per_send = Some(match self.per_send {
            None => took,
            Some(avg) => avg.mul_f64(7.0 / 8.0) + took.mul_f64(1.0 / 8.0),
        });
    }

    /// How many claimed mails may wait behind `at_once` sends so that the
    /// last of them is sent within a quarter of `lease`. Before the first
    /// send has finished the pace is unknown, and none wait.
    pub fn most_waiting(&self, at_once: usize, lease: Duration) -> usize {
        let Some(per_send) = self.per_send else { return 0 };
        let rounds = (lease / 4).as_secs_f64() / per_send.as_secs_f64().max(1e-6);
        (rounds.floor() as usize).min(MOST_ROUNDS_AHEAD) * at_once
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LEASE: Duration = Duration::from_secs(60);

    #[test]
    fn nothing_waits_before_the_pace_is_known() {
        assert_eq!(Pace::default().most_waiting(8, LEASE), 0);
    }

    #[test]
    fn a_fast_relay_gets_the_whole_lookahead() {
        let mut pace = Pace::default();
        pace.record(Duration::from_micros(500));
        assert_eq!(pace.most_waiting(8, LEASE), 8 * MOST_ROUNDS_AHEAD);
    }

    #[test]
    fn a_slow_relay_gets_what_it_sends_within_a_quarter_lease() {
        let mut pace = Pace::default();
        // 15 s of lease quarter at 4 s a send: 3 rounds.
        pace.record(Duration::from_secs(4));
        assert_eq!(pace.most_waiting(8, LEASE), 3 * 8);
        // Slower than a quarter lease: nothing waits.
        let mut stuck = Pace::default();
        stuck.record(Duration::from_secs(20));
        assert_eq!(stuck.most_waiting(8, LEASE), 0);
    }

    #[test]
    fn the_average_follows_a_slowing_relay() {
        let mut pace = Pace::default();
        pace.record(Duration::from_millis(1));
        for _ in 0..40 {
            pace.record(Duration::from_secs(10));
        }
        // Close to 10 s a send now: one round fits in 15 s.
        assert_eq!(pace.most_waiting(8, LEASE), 8);
    }
}
