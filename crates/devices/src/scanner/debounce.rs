//! Re-read suppression: a scanner held over a slip reads it again and again; an identical
//! frame within the debounce window is a re-read, not a second scan. Time comes in as an
//! argument (any monotonic instant), so this is testable without sleeping.

use std::time::{Duration, Instant};

/// How long an identical frame counts as a re-read, unless a profile says otherwise.
pub const DEFAULT_DEBOUNCE: Duration = Duration::from_millis(500);

/// Remembers the last frame and when it was seen.
#[derive(Debug, Clone)]
pub struct Debouncer {
    window: Duration,
    last: Option<(String, Instant)>,
    dropped: u64,
}

impl Debouncer {
    /// A debouncer dropping identical frames within `window`.
    pub fn new(window: Duration) -> Debouncer {
        Debouncer {
            window,
            last: None,
            dropped: 0,
        }
    }

    /// Whether `frame`, seen at `now`, is a new scan (true) or a re-read (false). A
    /// re-read extends the window: a slip held in front of the scanner is one scan.
    pub fn accept(&mut self, frame: &str, now: Instant) -> bool {
        let reread = matches!(&self.last, Some((last, at))
            if last == frame && now.saturating_duration_since(*at) < self.window);
        self.last = Some((frame.to_owned(), now));
        if reread {
            self.dropped += 1;
        }
        !reread
    }

    /// Re-reads dropped so far.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_frames_within_the_window_are_rereads() {
        let t0 = Instant::now();
        let mut d = Debouncer::new(Duration::from_millis(500));
        assert!(d.accept("A", t0));
        assert!(!d.accept("A", t0 + Duration::from_millis(200)));
        // Held in front of the scanner: each re-read extends the window.
        assert!(!d.accept("A", t0 + Duration::from_millis(600)));
        assert!(d.accept("A", t0 + Duration::from_millis(1200)));
        assert!(d.accept("B", t0 + Duration::from_millis(1300)));
        assert!(
            d.accept("A", t0 + Duration::from_millis(1400)),
            "another frame in between"
        );
        assert_eq!(d.dropped(), 2);
    }
}
