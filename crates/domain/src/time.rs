//! Japan time: the business date of an instant. The register core never reads a clock;
//! instants come in with its messages and this module turns them into Japanese dates.

use chrono::{DateTime, FixedOffset, NaiveDate, TimeZone};

/// Japan Standard Time, UTC+9 (Japan has no daylight saving time).
pub fn jst() -> FixedOffset {
    FixedOffset::east_opt(9 * 3600).expect("UTC+9 is a valid offset")
}

/// The instant seen on a clock in Japan.
pub fn in_japan<Tz: TimeZone>(at: &DateTime<Tz>) -> DateTime<FixedOffset> {
    at.with_timezone(&jst())
}

/// The calendar date in Japan at `at`: the date a slip's deadline is compared with.
pub fn business_date<Tz: TimeZone>(at: &DateTime<Tz>) -> NaiveDate {
    in_japan(at).date_naive()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn business_date_is_the_date_in_japan() {
        // 15:30 UTC on 27 Nov is 00:30 on 28 Nov in Japan.
        let at = DateTime::parse_from_rfc3339("2026-11-27T15:30:00Z").unwrap();
        assert_eq!(
            business_date(&at),
            NaiveDate::from_ymd_opt(2026, 11, 28).unwrap()
        );
        let at = DateTime::parse_from_rfc3339("2026-11-27T14:59:59Z").unwrap();
        assert_eq!(
            business_date(&at),
            NaiveDate::from_ymd_opt(2026, 11, 27).unwrap()
        );
        let at = DateTime::parse_from_rfc3339("2026-11-28T00:10:00+09:00").unwrap();
        assert_eq!(
            business_date(&at),
            NaiveDate::from_ymd_opt(2026, 11, 28).unwrap()
        );
    }
}
