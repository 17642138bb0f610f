//! The network's one clock. Every time the simulator reads (creation stamps, expiry, the
//! 45-day refund limit, payout dates, terminal signature windows, webhook backoff) comes
//! from here, so a test can move it forward and watch a voucher expire without waiting.
//!
//! The clock is the wall clock plus an offset. The offset is kept in the network's
//! database by its owner, so a restarted simulator resumes at the same simulated time.
//!
//! Several nodes over one PostgreSQL database share one clock: each request reads the
//! stored offset and counts its time from the value it read (`Network::now_in`,
//! `Network::now_synced`), so a move made at one node holds at once at every other; and
//! the base is the database server's time, where a node's own wall clock is more than
//! [`MAX_SKEW_MS`] away from it (measured at start and by the scheduler). Within that, a
//! node keeps its own wall clock as the base. A measurement is taken only from an exchange
//! quicker than [`MAX_SKEW_MS`], and an adopted distance changes only when a measurement
//! differs from it by more than that, or falls back to zero under half of it: so the clock
//! does not wobble with each measurement's error, and steps (once) only for a node whose
//! clock was really off.

use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, Utc};

/// The farthest the clock moves from the wall clock: 100 years, in milliseconds. Dates
/// stay far inside what every date computation here can represent.
pub const MAX_OFFSET_MS: i64 = 100 * 366 * 86_400 * 1000;

/// The earliest time the clock may be moved to (the bill barcode's deadline year is
/// 2000-2099).
pub const EARLIEST: &str = "2000-01-01T00:00:00Z";
/// [`EARLIEST`] in Unix seconds.
pub const EARLIEST_UNIX: i64 = 946_684_800;
/// The latest time the clock may be moved to: a voucher issued then, with the longest
/// deadline (60 days), still falls due in 2099.
pub const LATEST: &str = "2099-10-01T00:00:00Z";
/// [`LATEST`] in Unix seconds.
pub const LATEST_UNIX: i64 = 4_094_496_000;

/// How far a node's wall clock may be from its database server's before the node takes
/// the server's time as its base.
pub const MAX_SKEW_MS: i64 = 50;

/// Wall time plus a movable offset, in milliseconds.
#[derive(Debug, Default)]
pub struct Clock {
    offset_ms: AtomicI64,
    /// The base's distance from this machine's wall clock (0 unless the database server's
    /// time is more than [`MAX_SKEW_MS`] away).
    skew_ms: AtomicI64,
}

impl Clock {
    /// A clock `offset_ms` ahead of the wall clock (negative: behind).
    pub fn with_offset_ms(offset_ms: i64) -> Clock {
        Clock {
            offset_ms: AtomicI64::new(offset_ms),
            skew_ms: AtomicI64::new(0),
        }
    }

    /// The base: the wall clock, or the database server's time (see [`MAX_SKEW_MS`]).
    pub fn base(&self) -> DateTime<Utc> {
        let wall = Utc::now();
        wall.checked_add_signed(chrono::Duration::milliseconds(
            self.skew_ms.load(Ordering::Relaxed),
        ))
        .unwrap_or(wall)
    }

    /// Now, on this clock.
    pub fn now(&self) -> DateTime<Utc> {
        self.now_with(self.offset_ms.load(Ordering::Relaxed))
    }

    /// Now, with `offset_ms` (one just read from the store) rather than the one held: a
    /// request counts from what it read, whatever another request sets meanwhile.
    pub fn now_with(&self, offset_ms: i64) -> DateTime<Utc> {
        let base = self.base();
        base.checked_add_signed(chrono::Duration::milliseconds(
            offset_ms.clamp(-MAX_OFFSET_MS, MAX_OFFSET_MS),
        ))
        .unwrap_or(base)
    }

    /// The database server said its time was `server_ms` in an exchange that began at the
    /// wall clock's `asked_ms` and was answered at `answered_ms`. Taken only from a quick
    /// exchange; see the module's doc for when the base moves.
    pub fn note_server_time(&self, server_ms: i64, asked_ms: i64, answered_ms: i64) {
        let round_trip = answered_ms.saturating_sub(asked_ms);
        if !(0..=MAX_SKEW_MS).contains(&round_trip) {
            return;
        }
        let measured = server_ms
            .saturating_sub(asked_ms.saturating_add(round_trip / 2))
            .clamp(-MAX_OFFSET_MS, MAX_OFFSET_MS);
        let held = self.skew_ms.load(Ordering::Relaxed);
        let next = if held == 0 {
            if measured.unsigned_abs() > MAX_SKEW_MS.unsigned_abs() {
                measured
            } else {
                0
            }
        } else if measured.unsigned_abs() < (MAX_SKEW_MS / 2).unsigned_abs() {
            0
        } else if measured.abs_diff(held) > MAX_SKEW_MS.unsigned_abs() {
            measured
        } else {
            held
        };
        self.skew_ms.store(next, Ordering::Relaxed);
    }

    /// The base's distance from this machine's wall clock, in milliseconds.
    pub fn skew_ms(&self) -> i64 {
        self.skew_ms.load(Ordering::Relaxed)
    }

    /// Now, in Unix seconds.
    pub fn unix(&self) -> i64 {
        self.now().timestamp()
    }

    /// The current offset from the wall clock in milliseconds.
    pub fn offset_ms(&self) -> i64 {
        self.offset_ms.load(Ordering::Relaxed)
    }

    /// The offset `offset_ms` moved by `seconds` (negative moves it back), at most
    /// [`MAX_OFFSET_MS`] from the wall clock in all.
    pub fn offset_advanced(offset_ms: i64, seconds: i64) -> i64 {
        offset_ms
            .saturating_add(seconds.saturating_mul(1000))
            .clamp(-MAX_OFFSET_MS, MAX_OFFSET_MS)
    }

    /// The offset that makes now `unix` seconds (within [`MAX_OFFSET_MS`] of the base).
    /// Changes nothing.
    pub fn offset_for_unix(&self, unix: i64) -> i64 {
        unix.saturating_mul(1000)
            .saturating_sub(self.base().timestamp_millis())
            .clamp(-MAX_OFFSET_MS, MAX_OFFSET_MS)
    }

    /// Set the offset (one of the above).
    pub fn set_offset_ms(&self, offset_ms: i64) {
        self.offset_ms.store(
            offset_ms.clamp(-MAX_OFFSET_MS, MAX_OFFSET_MS),
            Ordering::Relaxed,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_are_the_dates_they_name() {
        assert_eq!(
            DateTime::parse_from_rfc3339(EARLIEST).unwrap().timestamp(),
            EARLIEST_UNIX
        );
        assert_eq!(
            DateTime::parse_from_rfc3339(LATEST).unwrap().timestamp(),
            LATEST_UNIX
        );
    }

    #[test]
    fn advancing_moves_now_by_that_much() {
        let clock = Clock::default();
        let before = clock.unix();
        clock.set_offset_ms(Clock::offset_advanced(clock.offset_ms(), 86_400 * 45));
        let after = clock.unix();
        assert!(
            (after - before - 86_400 * 45).abs() <= 1,
            "{before} -> {after}"
        );
    }

    #[test]
    fn absurd_moves_are_bounded_not_a_panic() {
        let clock = Clock::default();
        clock.set_offset_ms(Clock::offset_advanced(clock.offset_ms(), i64::MAX));
        assert_eq!(clock.offset_ms(), MAX_OFFSET_MS);
        let _ = clock.now();
        clock.set_offset_ms(clock.offset_for_unix(i64::MIN));
        assert_eq!(clock.offset_ms(), -MAX_OFFSET_MS);
        let _ = clock.now();
    }

    #[test]
    fn a_server_time_far_off_becomes_the_base_and_a_near_one_does_not() {
        let clock = Clock::default();
        let wall = Utc::now().timestamp_millis();
        // Asked at `wall`, answered 10 ms later: the server's time is taken as of wall + 5.
        let note =
            |server_ahead: i64| clock.note_server_time(wall + 5 + server_ahead, wall, wall + 10);
        note(MAX_SKEW_MS);
        assert_eq!(clock.skew_ms(), 0, "within the bound: the wall clock stays");
        note(3_600_000);
        assert_eq!(clock.skew_ms(), 3_600_000);
        assert!((clock.unix() - Utc::now().timestamp() - 3600).abs() <= 1);
        // The offset for a time is counted from that base.
        clock.set_offset_ms(clock.offset_for_unix(1_800_000_000));
        assert!((clock.unix() - 1_800_000_000).abs() <= 1);
        // A measurement's error does not move an adopted distance; a real change does.
        note(3_600_000 + MAX_SKEW_MS);
        assert_eq!(clock.skew_ms(), 3_600_000);
        note(-MAX_SKEW_MS - 1);
        assert_eq!(clock.skew_ms(), -MAX_SKEW_MS - 1);
        // Near the bound it stays adopted; well inside, it falls back to the wall clock.
        note(-MAX_SKEW_MS + 5);
        assert_eq!(clock.skew_ms(), -MAX_SKEW_MS - 1);
        note(MAX_SKEW_MS / 2 - 1);
        assert_eq!(clock.skew_ms(), 0);
        // A slow exchange says nothing.
        clock.note_server_time(wall + 3_600_000, wall, wall + MAX_SKEW_MS + 1);
        assert_eq!(clock.skew_ms(), 0);
    }

    #[test]
    fn a_time_counted_from_an_offset_read_ignores_the_one_held() {
        let clock = Clock::with_offset_ms(-86_400_000);
        let a_day_on = clock.now_with(86_400_000).timestamp();
        assert!((a_day_on - Utc::now().timestamp() - 86_400).abs() <= 1);
        assert!((clock.unix() - Utc::now().timestamp() + 86_400).abs() <= 1);
    }

    #[test]
    fn set_unix_puts_now_there() {
        let clock = Clock::default();
        clock.set_offset_ms(clock.offset_for_unix(1_800_000_000));
        assert!((clock.unix() - 1_800_000_000).abs() <= 1);
    }
}
