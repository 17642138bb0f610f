//! Retry delays for the sync task: exponential backoff with full jitter (a random delay
//! between zero and the doubling cap, so registers coming back from one outage do not all
//! retry in step), never shorter than the server's `Retry-After`.

use std::time::Duration;

use rand::Rng;

/// The state of one retry sequence.
#[derive(Debug, Clone)]
pub struct Backoff {
    base: Duration,
    cap: Duration,
    failures: u32,
}

impl Backoff {
    /// Delays start below `base` and double up to `cap`.
    pub fn new(base: Duration, cap: Duration) -> Backoff {
        Backoff {
            base,
            cap,
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

    /// The ceiling of the next delay.
    pub fn ceiling(&self) -> Duration {
        let factor = 1u32.checked_shl(self.failures.min(20)).unwrap_or(u32::MAX);
        self.base.saturating_mul(factor).min(self.cap)
    }

    /// Count a failure and return how long to wait: uniform in [base/2, ceiling], and at
    /// least `retry_after` when the server asked for it.
    pub fn next_delay(&mut self, retry_after: Option<Duration>) -> Duration {
        let ceiling = self.ceiling();
        self.failures = self.failures.saturating_add(1);
        let floor = (self.base / 2).min(ceiling);
        let jittered = if ceiling > floor {
            let span = (ceiling - floor).as_millis() as u64;
            floor + Duration::from_millis(rand::rng().random_range(0..=span))
        } else {
            ceiling
        };
        jittered.max(
            retry_after
                .unwrap_or_default()
                .min(self.cap.max(Duration::from_secs(300))),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_to_the_cap_and_stay_jittered() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
        let mut last_ceiling = Duration::ZERO;
        for _ in 0..12 {
            let ceiling = b.ceiling();
            assert!(ceiling >= last_ceiling);
            let d = b.next_delay(None);
            assert!(
                d <= ceiling && d >= Duration::from_millis(50),
                "{d:?} vs {ceiling:?}"
            );
            last_ceiling = ceiling;
        }
        assert_eq!(b.ceiling(), Duration::from_secs(5));
        b.reset();
        assert_eq!(b.ceiling(), Duration::from_millis(100));
    }

    #[test]
    fn retry_after_is_honoured() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
        assert!(b.next_delay(Some(Duration::from_secs(7))) >= Duration::from_secs(7));
    }
}
