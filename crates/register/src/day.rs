//! The business day (営業日) and its close (精算): which day a close closes, and when it is
//! refused. Pure: the journal hands in what it holds (the last day closed, when the first
//! sale since then was made) and the time of the close.
//!
//! A business day is the run of sales between two closes. It is named by a date: the day
//! after the last one closed, or the Japan date of its first sale if that is later (a
//! register left unclosed over a quiet day skips that day's name), or, with no sale yet,
//! the date of the close itself. So sales made after a close belong to the next business
//! day's reports even when they are made on the same calendar date; a slip's expiry still
//! follows the Japan date of its scan (`rules.rs`), never the business day.
//!
//! A day is closed once: a close whose day has not begun yet (the day after one already
//! closed, asked for on the date that was closed) is refused, and the journal keeps at
//! most one close per date.

use chrono::NaiveDate;

/// Why a day close was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CloseRefused {
    /// The business day of this date is already closed, and the next has not begun.
    #[error(
        "business day {closed} is already closed; the next one, {next}, can be closed from that date on"
    )]
    AlreadyClosed {
        /// The day closed last.
        closed: NaiveDate,
        /// The next business day.
        next: NaiveDate,
    },
}

/// The business day still open: the day after `last_closed` (if any), or the date of its
/// first sale (`first_sale`) when that is later, or `today` when it has no sale yet and
/// that is later.
pub fn open_business_day(
    last_closed: Option<NaiveDate>,
    first_sale: Option<NaiveDate>,
    today: NaiveDate,
) -> NaiveDate {
    let own = first_sale.unwrap_or(today);
    match last_closed.and_then(|d| d.succ_opt()) {
        Some(next) => next.max(own),
        None => own,
    }
}

/// The business day a close made on `today` closes, or why it cannot.
pub fn business_day_to_close(
    last_closed: Option<NaiveDate>,
    first_sale: Option<NaiveDate>,
    today: NaiveDate,
) -> Result<NaiveDate, CloseRefused> {
    let day = open_business_day(last_closed, first_sale, today);
    match last_closed {
        Some(closed) if day > today => Err(CloseRefused::AlreadyClosed { closed, next: day }),
        _ => Ok(day),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn a_first_close_closes_the_day_of_the_first_sale() {
        assert_eq!(
            business_day_to_close(None, Some(d("2026-12-01")), d("2026-12-02")),
            Ok(d("2026-12-01"))
        );
        assert_eq!(
            business_day_to_close(None, None, d("2026-12-02")),
            Ok(d("2026-12-02"))
        );
    }

    #[test]
    fn a_second_close_on_the_same_date_is_refused() {
        // Closed on 1 Dec; a sale made after the close, still on 1 Dec, is 2 Dec's.
        let closed = Some(d("2026-12-01"));
        assert_eq!(
            open_business_day(closed, Some(d("2026-12-01")), d("2026-12-01")),
            d("2026-12-02")
        );
        assert_eq!(
            business_day_to_close(closed, Some(d("2026-12-01")), d("2026-12-01")),
            Err(CloseRefused::AlreadyClosed {
                closed: d("2026-12-01"),
                next: d("2026-12-02")
            })
        );
        assert_eq!(
            business_day_to_close(closed, None, d("2026-12-01")),
            Err(CloseRefused::AlreadyClosed {
                closed: d("2026-12-01"),
                next: d("2026-12-02")
            })
        );
        // On 2 Dec it closes 2 Dec, with the sale made late on 1 Dec.
        assert_eq!(
            business_day_to_close(closed, Some(d("2026-12-01")), d("2026-12-02")),
            Ok(d("2026-12-02"))
        );
    }

    #[test]
    fn a_quiet_day_is_skipped() {
        assert_eq!(
            business_day_to_close(
                Some(d("2026-12-01")),
                Some(d("2026-12-03")),
                d("2026-12-03")
            ),
            Ok(d("2026-12-03"))
        );
        assert_eq!(
            business_day_to_close(Some(d("2026-12-01")), None, d("2026-12-05")),
            Ok(d("2026-12-05"))
        );
    }
}
