//! Japanese business days, for a balance transaction's `available_on`.
//!
//! Stripe makes Konbini funds available "after 4 business days". This simulator counts bank
//! business days as the Banking Act does: Monday to Friday, not a national holiday (the
//! `yasumi` crate computes them, substitute and citizens' holidays included), and not
//! 31 December to 3 January. Whether Stripe itself skips Japanese holidays is unconfirmed
//! (Stripe says only "business days"); this is the simulator's documented assumption.

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc, Weekday};

use konbini_domain::time::{business_date, jst};

/// Business days from payment to available funds.
pub const KONBINI_PAYOUT_DELAY_DAYS: u32 = 4;

/// Whether banks in Japan are open on `date`.
pub fn is_business_day(date: NaiveDate) -> bool {
    if matches!(date.weekday(), Weekday::Sat | Weekday::Sun) {
        return false;
    }
    let year_end = matches!((date.month(), date.day()), (12, 31) | (1, 1..=3));
    !year_end && !yasumi::is_holiday(date)
}

/// The date `days` business days after `date` (the date itself is day 0).
pub fn add_business_days(date: NaiveDate, days: u32) -> NaiveDate {
    let mut d = date;
    let mut left = days;
    while left > 0 {
        d = d
            .succ_opt()
            .expect("dates stay far below the end of chrono's range");
        if is_business_day(d) {
            left -= 1;
        }
    }
    d
}

/// `available_on` for a payment made at `paid_at`: 00:00 JST of the fourth business day
/// after the payment's date in Japan, as Unix seconds.
pub fn available_on(paid_at: DateTime<Utc>) -> i64 {
    // Holidays are worked out for each day looked at: the last answer is kept, as a batch
    // of confirmations is usually of one business day.
    thread_local! {
        static LAST: std::cell::Cell<Option<(NaiveDate, i64)>> = const { std::cell::Cell::new(None) };
    }
    let day = business_date(&paid_at);
    if let Some((d, t)) = LAST.get()
        && d == day
    {
        return t;
    }
    let t = payout_midnight(day);
    LAST.set(Some((day, t)));
    t
}

fn payout_midnight(day: NaiveDate) -> i64 {
    let date = add_business_days(day, KONBINI_PAYOUT_DELAY_DAYS);
    jst()
        .from_local_datetime(&date.and_hms_opt(0, 0, 0).expect("midnight exists"))
        .single()
        .expect("JST has no gaps")
        .timestamp()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn national_holidays_of_2026_and_2027_are_not_business_days() {
        // Cabinet Office lists; 2026-05-06 is a substitute holiday, 2026-09-22 a citizens'
        // holiday between Respect for the Aged Day and the autumn equinox.
        for date in [
            d(2026, 1, 12),
            d(2026, 2, 11),
            d(2026, 2, 23),
            d(2026, 3, 20),
            d(2026, 4, 29),
            d(2026, 5, 4),
            d(2026, 5, 5),
            d(2026, 5, 6),
            d(2026, 7, 20),
            d(2026, 8, 11),
            d(2026, 9, 21),
            d(2026, 9, 22),
            d(2026, 9, 23),
            d(2026, 10, 12),
            d(2026, 11, 3),
            d(2026, 11, 23),
            d(2027, 1, 11),
            d(2027, 2, 11),
            d(2027, 2, 23),
            d(2027, 3, 22), // spring equinox falls on Sunday the 21st: substitute holiday
            d(2027, 4, 29),
            d(2027, 5, 3),
            d(2027, 5, 4),
            d(2027, 5, 5),
            d(2027, 7, 19),
            d(2027, 8, 11),
            d(2027, 9, 20),
            d(2027, 9, 23),
            d(2027, 10, 11),
            d(2027, 11, 3),
            d(2027, 11, 23),
        ] {
            assert!(!is_business_day(date), "{date} should be a holiday");
        }
    }

    #[test]
    fn year_end_days_are_closed_even_on_weekdays() {
        for date in [d(2026, 12, 31), d(2027, 1, 1), d(2027, 1, 4 - 1)] {
            assert!(!is_business_day(date), "{date}");
        }
        assert!(is_business_day(d(2026, 12, 30)));
        assert!(is_business_day(d(2027, 1, 4)));
    }

    #[test]
    fn four_business_days_skip_weekends_holidays_and_the_year_end() {
        // Ordinary week: Monday 2026-11-30 -> Friday 2026-12-04.
        assert_eq!(add_business_days(d(2026, 11, 30), 4), d(2026, 12, 4));
        // Friday -> Thursday, over a weekend.
        assert_eq!(add_business_days(d(2026, 11, 27), 4), d(2026, 12, 3));
        // Across the year end: 12-28 (Mon) -> 29, 30, (31, 1, 2, 3 closed), 1-4, 1-5.
        assert_eq!(add_business_days(d(2026, 12, 28), 4), d(2027, 1, 5));
        // Golden Week 2026: 4-30 (Thu) -> 5-1 (Fri), (2-6 closed), 5-7, 5-8, 5-11.
        assert_eq!(add_business_days(d(2026, 4, 30), 4), d(2026, 5, 11));
        // Silver Week 2026: 9-18 (Fri) -> (19-23 closed) 9-24, 25, 28, 29.
        assert_eq!(add_business_days(d(2026, 9, 18), 4), d(2026, 9, 29));
    }

    #[test]
    fn available_on_counts_from_the_date_in_japan() {
        // 2026-11-27 16:00 UTC is Saturday 28 Nov 01:00 in Japan: day 0 is Saturday, so
        // Mon 30, Tue 1, Wed 2, Thu 3 Dec.
        let paid = DateTime::parse_from_rfc3339("2026-11-27T16:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let expect = DateTime::parse_from_rfc3339("2026-12-03T00:00:00+09:00").unwrap();
        assert_eq!(available_on(paid), expect.timestamp());
    }
}
