//! The one retry policy of the house: every place that tries again (the sync task's
//! batches, webhook deliveries, a key-in look-up, a vanished scanner) says how with a
//! [`RetryPolicy`] and counts its failures with a [`Retry`]. Pure arithmetic: the caller
//! sleeps, or stores the time of the next attempt.
//!
//! Delays double from `first` after each failure up to `max`. With [`Jitter::Full`] each
//! delay is drawn uniformly between zero and that ceiling ("full jitter", as AWS's
//! architecture blog names it), so that registers coming back from one outage do not all
//! retry in step.

use std::time::Duration;

use rand::Rng;

/// How a delay is drawn under its ceiling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Jitter {
    /// Exactly the ceiling.
    None,
    /// Uniform in `[0, ceiling]`.
    Full,
}

/// How to retry: the delays and how many attempts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The delay after the first failure (its ceiling, with jitter).
    pub first: Duration,
    /// The longest delay.
    pub max: Duration,
    /// Attempts in all, the first included; `None`: no end.
    pub attempts: Option<u32>,
    /// How each delay is drawn.
    pub jitter: Jitter,
}

impl RetryPolicy {
    /// Delays of `first`, doubling to `max`, forever, without jitter.
    pub const fn exponential(first: Duration, max: Duration) -> RetryPolicy {
        RetryPolicy {
            first,
            max,
            attempts: None,
            jitter: Jitter::None,
        }
    }

    /// The same delay every time, forever.
    pub const fn constant(delay: Duration) -> RetryPolicy {
        RetryPolicy::exponential(delay, delay)
    }

    /// At most `attempts` attempts in all.
    pub const fn with_attempts(self, attempts: u32) -> RetryPolicy {
        RetryPolicy {
            attempts: Some(attempts),
            ..self
        }
    }

    /// Each delay drawn with `jitter`.
    pub const fn with_jitter(self, jitter: Jitter) -> RetryPolicy {
        RetryPolicy { jitter, ..self }
    }

    /// The ceiling of the delay after `failures` failures in a row (1: after the first).
    pub fn ceiling(&self, failures: u32) -> Duration {
        let doublings = failures.saturating_sub(1).min(30);
        self.first.saturating_mul(1u32 << doublings).min(self.max)
    }

    /// How long to wait after `failures` failures in a row, or `None` when no attempt is
    /// left.
    pub fn delay(&self, failures: u32) -> Option<Duration> {
        if self.attempts.is_some_and(|n| failures >= n) {
            return None;
        }
        let ceiling = self.ceiling(failures);
        Some(match self.jitter {
            Jitter::None => ceiling,
            Jitter::Full => {
                let span = ceiling.as_millis() as u64;
                Duration::from_millis(rand::rng().random_range(0..=span))
            }
        })
    }
}

/// A run of attempts under a policy: counts the failures since the last success.
#[derive(Debug, Clone)]
pub struct Retry {
    policy: RetryPolicy,
    failures: u32,
}

impl Retry {
    /// No failure yet.
    pub fn new(policy: RetryPolicy) -> Retry {
        Retry {
            policy,
            failures: 0,
        }
    }

    /// After a success: start over.
    pub fn reset(&mut self) {
        self.failures = 0;
    }

    /// Failures in a row so far.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// The ceiling of the delay the next failure will get.
    pub fn next_ceiling(&self) -> Duration {
        self.policy.ceiling(self.failures.saturating_add(1))
    }

    /// Count a failure; how long to wait before the next attempt, or `None` when the policy
    /// allows no more.
    pub fn failed(&mut self) -> Option<Duration> {
        self.failures = self.failures.saturating_add(1);
        self.policy.delay(self.failures)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn delays_double_from_first_to_max_and_stay_there() {
        let p = RetryPolicy::exponential(Duration::from_secs(1), Duration::from_secs(3600));
        let secs: Vec<u64> = (1..=14).map(|n| p.delay(n).unwrap().as_secs()).collect();
        assert_eq!(
            secs,
            [
                1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 3600, 3600
            ]
        );
        assert_eq!(p.delay(u32::MAX), Some(Duration::from_secs(3600)));
    }

    #[test]
    fn full_jitter_draws_from_zero_to_the_ceiling() {
        let p =
            RetryPolicy::exponential(100 * MS, Duration::from_secs(5)).with_jitter(Jitter::Full);
        let mut r = Retry::new(p);
        let mut last = Duration::ZERO;
        for _ in 0..12 {
            let ceiling = r.next_ceiling();
            assert!(ceiling >= last);
            let d = r.failed().unwrap();
            assert!(d <= ceiling, "{d:?} vs {ceiling:?}");
            last = ceiling;
        }
        // Over many draws at the 5 s ceiling the whole range is used, not only its top half
        // (a draw from [first/2, ceiling] would never go below 50 ms; here a quarter of the
        // draws fall under 1.25 s).
        let draws: Vec<Duration> = (0..400).map(|_| p.delay(10).unwrap()).collect();
        let low = draws
            .iter()
            .filter(|d| **d < Duration::from_millis(1250))
            .count();
        let high = draws
            .iter()
            .filter(|d| **d > Duration::from_millis(3750))
            .count();
        assert!(low > 40 && high > 40, "{low} low, {high} high of 400");
        assert_eq!(r.next_ceiling(), Duration::from_secs(5));
        r.reset();
        assert_eq!(r.failures(), 0);
        assert_eq!(r.next_ceiling(), 100 * MS);
    }

    #[test]
    fn a_bounded_policy_gives_up_after_its_attempts() {
        let mut r = Retry::new(RetryPolicy::constant(100 * MS).with_attempts(3));
        assert_eq!(r.failed(), Some(100 * MS));
        assert_eq!(r.failed(), Some(100 * MS));
        assert_eq!(r.failed(), None, "three attempts, two pauses");
    }
}
