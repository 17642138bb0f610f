//! Keyboard-wedge scanners: USB HID scanners that "type" what they read. The register cannot
//! tell their keystrokes from the clerk's except by speed, so the rule is:
//!
//! **A scan is at least [`WEDGE_MIN_CHARS`] characters ending in Enter, each keystroke
//! (and the Enter) arriving within [`WEDGE_MAX_GAP`] of the one before.** A scanner types a
//! 44-digit slip in well under a tenth of a second (a few milliseconds a key); a person
//! cannot type two keys 30 ms apart over and over, so a human's input never counts as a
//! scan however long it is, and a scan never waits for a timeout.

use std::time::{Duration, Instant};

/// Longest gap between two keystrokes of one scan.
pub const WEDGE_MAX_GAP: Duration = Duration::from_millis(30);
/// Fewest characters of a scan (shorter bursts are keys pressed together).
pub const WEDGE_MIN_CHARS: usize = 8;

/// What a keystroke turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WedgeInput {
    /// Part of a burst: wait for more.
    Pending,
    /// Enter ended a burst: this was a scan.
    Scan(String),
    /// Enter ended typing that was too slow or too short: the clerk's own input, typed.
    Typed(String),
}

/// Sorts keystrokes into scans and typing.
#[derive(Debug, Clone, Default)]
pub struct WedgeDetector {
    text: String,
    burst: bool,
    last: Option<Instant>,
}

impl WedgeDetector {
    /// A detector with nothing typed.
    pub fn new() -> WedgeDetector {
        WedgeDetector::default()
    }

    /// A character key at `now`.
    pub fn key(&mut self, c: char, now: Instant) -> WedgeInput {
        let fast = self.gap_ok(now);
        self.burst = if self.text.is_empty() {
            true
        } else {
            self.burst && fast
        };
        self.text.push(c);
        self.last = Some(now);
        WedgeInput::Pending
    }

    /// Enter at `now`.
    pub fn enter(&mut self, now: Instant) -> WedgeInput {
        let scan = self.burst && self.gap_ok(now) && self.text.chars().count() >= WEDGE_MIN_CHARS;
        let text = std::mem::take(&mut self.text);
        self.burst = false;
        self.last = None;
        if scan {
            WedgeInput::Scan(text)
        } else {
            WedgeInput::Typed(text)
        }
    }

    fn gap_ok(&self, now: Instant) -> bool {
        self.last
            .is_none_or(|last| now.saturating_duration_since(last) <= WEDGE_MAX_GAP)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(d: &mut WedgeDetector, text: &str, start: Instant, gap_ms: u64) -> WedgeInput {
        let mut t = start;
        for c in text.chars() {
            d.key(c, t);
            t += Duration::from_millis(gap_ms);
        }
        d.enter(t)
    }

    const CODE: &str = "91912345012345678901234567890101033101230003";

    #[test]
    fn a_fast_burst_ending_in_enter_is_a_scan() {
        let mut d = WedgeDetector::new();
        assert_eq!(
            feed(&mut d, CODE, Instant::now(), 2),
            WedgeInput::Scan(CODE.into())
        );
    }

    #[test]
    fn human_typing_is_typing() {
        let mut d = WedgeDetector::new();
        assert_eq!(
            feed(&mut d, "2000", Instant::now(), 120),
            WedgeInput::Typed("2000".into())
        );
        // Fast but short: keys pressed together, not a scan.
        assert_eq!(
            feed(&mut d, "12", Instant::now(), 1),
            WedgeInput::Typed("12".into())
        );
        // A pause in the middle breaks the burst.
        let t = Instant::now();
        for (i, c) in CODE.chars().enumerate() {
            let at = t + Duration::from_millis(2 * i as u64 + if i > 20 { 200 } else { 0 });
            d.key(c, at);
        }
        assert!(matches!(
            d.enter(t + Duration::from_millis(400)),
            WedgeInput::Typed(_)
        ));
    }

    #[test]
    fn a_slow_enter_after_a_burst_is_typing() {
        let mut d = WedgeDetector::new();
        let t = Instant::now();
        for (i, c) in CODE.chars().enumerate() {
            d.key(c, t + Duration::from_millis(i as u64));
        }
        assert!(matches!(
            d.enter(t + Duration::from_secs(2)),
            WedgeInput::Typed(_)
        ));
    }
}
