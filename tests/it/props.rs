//! Property tests: no input panics the barcode parser, the log parser or the register core;
//! build then parse round-trips; the check digit catches every single-digit error.

use chrono::NaiveDate;
use konbini_domain::{BarcodeError, BillBarcode, BillFields, Deadline, Yen};
use konbini_pos::replay::parse_line;
use konbini_register::{Effect, Msg, Register, Station};
use proptest::prelude::*;

use crate::common::at;

fn fields() -> impl Strategy<Value = (String, String, u8, Option<NaiveDate>, bool, u64)> {
    (
        "[0-9]{6}",
        "[0-9]{0,21}",
        0u8..=9,
        prop_oneof![
            Just(None),
            (2000i32..=2099, 1u32..=12, 1u32..=28)
                .prop_map(|(y, m, d)| NaiveDate::from_ymd_opt(y, m, d)),
        ],
        any::<bool>(),
        0u64..=999_999,
    )
}

fn frames() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "(\\]C1|\\]C0|\\]E0|\\])?[0-9\u{1d}]{40,48}",
        "91[0-9]{42}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn any_frame_through_the_core_never_panics(frame in frames()) {
        let mut reg = Register::new(Station::default());
        let effects = reg.update(Msg::Scan { at: at("2026-11-28T12:00:00+09:00"), frame });
        for e in effects {
            if let Effect::CheckPaid(slip) = e {
                reg.update(Msg::PaidChecked { slip, already_paid: false });
            }
        }
    }

    #[test]
    fn any_bytes_as_a_log_line_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = parse_line(&bytes);
    }

    #[test]
    fn build_then_parse_round_trips((company, free, reissue, date, stamp, amount) in fields()) {
        let deadline = date.map_or(Deadline::None, Deadline::On);
        let code = BillBarcode::build(&BillFields {
            company_code: &company,
            free_area: &free,
            reissue,
            deadline,
            stamp,
            amount: Yen::new(amount),
        }).unwrap();
        let parsed = BillBarcode::parse(&format!("]C1{code}")).unwrap();
        prop_assert_eq!(parsed, code);
        prop_assert_eq!(parsed.company_code(), company.as_str());
        prop_assert_eq!(parsed.free_area(), format!("{free:0<21}"));
        prop_assert_eq!(parsed.reissue(), reissue);
        prop_assert_eq!(parsed.deadline(), deadline);
        prop_assert_eq!(parsed.needs_stamp(), stamp);
        prop_assert_eq!(parsed.amount(), Yen::new(amount));
    }

    #[test]
    fn the_check_digit_catches_every_single_digit_error((company, free, reissue, date, stamp, amount) in fields()) {
        let code = BillBarcode::build(&BillFields {
            company_code: &company,
            free_area: &free,
            reissue,
            deadline: date.map_or(Deadline::None, Deadline::On),
            stamp,
            amount: Yen::new(amount),
        }).unwrap();
        let digits = code.as_str().as_bytes().to_vec();
        for pos in 0..44 {
            for d in b'0'..=b'9' {
                if d == digits[pos] {
                    continue;
                }
                let mut wrong = digits.clone();
                wrong[pos] = d;
                let wrong = String::from_utf8(wrong).unwrap();
                let result = BillBarcode::parse(&wrong);
                // The AI and the deadline may turn malformed first; anywhere else the
                // check digit itself must be what catches it.
                if (2..30).contains(&pos) || (36..44).contains(&pos) {
                    prop_assert!(matches!(result, Err(BarcodeError::CheckDigit { .. })), "{}: {:?}", wrong, result);
                } else {
                    prop_assert!(result.is_err(), "{} accepted", wrong);
                }
            }
        }
    }
}
