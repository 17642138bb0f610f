//! The Japanese convenience-store bill barcode (コンビニ収納用バーコード): GS1-128 with AI 91,
//! 44 digits. Owns parsing a scanner frame (AIM prefix, GS as FNC1), validating the digits
//! (check digit, a real deadline), building one, and reading its fields. It knows nothing of
//! sales or of today's date: expiry is the register's rule.
//!
//! Layout (0-based offsets), as GS1 Japan's 「GS1-128シンボルによる標準料金代理収納ガイドライン」
//! describes it (<https://www.dsri.jp/standard/barcode/gs1-128_payment_service.html>):
//!
//! | offset | len | field |
//! |---|---|---|
//! | 0  | 2  | AI, always `91` |
//! | 2  | 6  | biller company code |
//! | 8  | 21 | free area (the biller's customer or invoice number) |
//! | 29 | 1  | reissue count |
//! | 30 | 6  | deadline YYMMDD (year 2000+YY), `999999` for none |
//! | 36 | 1  | revenue-stamp flag |
//! | 37 | 6  | amount in yen |
//! | 43 | 1  | GS1 mod-10 check digit over the first 43 |

use std::fmt;

use chrono::NaiveDate;

use super::Yen;

/// Digits in a bill barcode.
pub const BILL_BARCODE_DIGITS: usize = 44;
/// The ASCII group separator a scanner sends for FNC1.
pub const GS: char = '\u{1d}';
/// The AIM symbology identifiers accepted before a bill barcode: GS1-128 and plain Code 128.
const ACCEPTED_AIM_IDS: [&str; 2] = ["]C1", "]C0"];

/// A bill barcode whose 44 digits are well formed and whose check digit is right.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BillBarcode {
    digits: [u8; BILL_BARCODE_DIGITS],
}

/// When a slip stops being payable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deadline {
    /// `999999`: payable at any time.
    None,
    /// Payable up to and including this date in Japan.
    On(NaiveDate),
}

/// Why a frame is not a bill barcode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BarcodeError {
    /// Not 44 digits of AI 91 with a real deadline: the register's `malformed`.
    #[error("malformed: {0}")]
    Malformed(Malformed),
    /// The digits are well formed but the last one is not their check digit.
    #[error("check digit is {found}, expected {expected}")]
    CheckDigit {
        /// The check digit the first 43 digits call for.
        expected: u8,
        /// The digit on the slip.
        found: u8,
    },
}

/// What exactly is malformed about a frame.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Malformed {
    /// An AIM symbology identifier other than GS1-128 or Code 128.
    #[error("symbology {0:?} is not GS1-128")]
    Symbology(String),
    /// A character other than a digit (after GS characters are removed).
    #[error("character {0:?} is not a digit")]
    NotDigit(char),
    /// Not 44 digits.
    #[error("{0} digits, expected 44")]
    Length(usize),
    /// The first two digits are not the application identifier 91.
    #[error("application identifier is {0:?}, expected \"91\"")]
    NotAi91(String),
    /// Digits 31-36 are neither a real YYMMDD date nor 999999.
    #[error("deadline {0:?} is not a date")]
    Deadline(String),
}

impl From<Malformed> for BarcodeError {
    fn from(m: Malformed) -> BarcodeError {
        BarcodeError::Malformed(m)
    }
}

/// The fields a biller puts on a slip, to build its barcode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BillFields<'a> {
    /// Six digits.
    pub company_code: &'a str,
    /// Up to 21 digits, right-padded with zeros.
    pub free_area: &'a str,
    /// 0 for the original slip, 1 for the first reissue, ...
    pub reissue: u8,
    /// The last day it may be paid.
    pub deadline: Deadline,
    /// Whether the receipt needs a revenue stamp.
    pub stamp: bool,
    /// At most 999,999 yen (six digits).
    pub amount: Yen,
}

/// The fields cannot be put in a barcode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot build a bill barcode: {0}")]
pub struct BuildError(&'static str);

impl BillBarcode {
    /// Parse one scanner frame: an optional `]C1`/`]C0` AIM prefix, GS characters anywhere
    /// (FNC1), then the 44 digits. Checks the form, the deadline date and the check digit.
    pub fn parse(frame: &str) -> Result<BillBarcode, BarcodeError> {
        let body = strip_aim_prefix(frame)?;
        let mut digits = [0u8; BILL_BARCODE_DIGITS];
        let mut len = 0usize;
        for &b in body.as_bytes() {
            if b == GS as u8 {
                continue;
            }
            if !b.is_ascii_digit() {
                return Err(Malformed::NotDigit(first_non_digit(body)).into());
            }
            if len < BILL_BARCODE_DIGITS {
                digits[len] = b;
            }
            len += 1;
        }
        if len != BILL_BARCODE_DIGITS {
            return Err(Malformed::Length(len).into());
        }
        Self::from_digits(digits)
    }

    /// Validate 44 ASCII digits already separated from any framing.
    fn from_digits(digits: [u8; BILL_BARCODE_DIGITS]) -> Result<BillBarcode, BarcodeError> {
        if &digits[..2] != b"91" {
            return Err(Malformed::NotAi91(ascii(&digits[..2])).into());
        }
        let code = BillBarcode { digits };
        code.parse_deadline()?;
        let expected = check_digit(digits[..43].try_into().expect("43 digits"));
        let found = digits[43] - b'0';
        if expected != found {
            return Err(BarcodeError::CheckDigit { expected, found });
        }
        Ok(code)
    }

    /// Build the barcode a biller would print for these fields, check digit included.
    pub fn build(fields: &BillFields<'_>) -> Result<BillBarcode, BuildError> {
        let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if fields.company_code.len() != 6 || !all_digits(fields.company_code) {
            return Err(BuildError("company code must be 6 digits"));
        }
        if fields.free_area.len() > 21 || !all_digits(fields.free_area) {
            return Err(BuildError("free area must be at most 21 digits"));
        }
        if fields.reissue > 9 {
            return Err(BuildError("reissue count must be 0-9"));
        }
        if fields.amount.get() > 999_999 {
            return Err(BuildError("amount must be at most 999,999 yen"));
        }
        let deadline = match fields.deadline {
            Deadline::None => "999999".to_owned(),
            Deadline::On(date) => {
                let year = chrono::Datelike::year(&date);
                if !(2000..=2099).contains(&year) {
                    return Err(BuildError("deadline year must be 2000-2099"));
                }
                date.format("%y%m%d").to_string()
            }
        };
        let text = format!(
            "91{}{:0<21}{}{}{}{:06}",
            fields.company_code,
            fields.free_area,
            fields.reissue,
            deadline,
            u8::from(fields.stamp),
            fields.amount.get()
        );
        let mut digits = [0u8; BILL_BARCODE_DIGITS];
        digits[..43].copy_from_slice(text.as_bytes());
        digits[43] = b'0' + check_digit(digits[..43].try_into().expect("43 digits"));
        Ok(BillBarcode { digits })
    }

    /// The 44 digits.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.digits).expect("digits are ASCII")
    }

    /// The biller's 6-digit company code (請求書発行企業コード).
    pub fn company_code(&self) -> &str {
        &self.as_str()[2..8]
    }

    /// The 21-digit free area (自由使用欄): the biller's reference.
    pub fn free_area(&self) -> &str {
        &self.as_str()[8..29]
    }

    /// The reissue count (再発行区分): 0 for the original slip.
    pub fn reissue(&self) -> u8 {
        self.digits[29] - b'0'
    }

    /// The payment deadline (支払期限日).
    pub fn deadline(&self) -> Deadline {
        self.parse_deadline().expect("validated at parse")
    }

    /// Whether the receipt needs a revenue stamp (印紙フラグ = 1).
    pub fn needs_stamp(&self) -> bool {
        self.digits[36] == b'1'
    }

    /// The amount to pay.
    pub fn amount(&self) -> Yen {
        Yen::new(
            self.digits[37..43]
                .iter()
                .fold(0u64, |n, d| n * 10 + u64::from(d - b'0')),
        )
    }

    fn parse_deadline(&self) -> Result<Deadline, Malformed> {
        let d = &self.digits[30..36];
        if d == b"999999" {
            return Ok(Deadline::None);
        }
        let two = |i: usize| u32::from(d[i] - b'0') * 10 + u32::from(d[i + 1] - b'0');
        NaiveDate::from_ymd_opt(2000 + two(0) as i32, two(2), two(4))
            .map(Deadline::On)
            .ok_or_else(|| Malformed::Deadline(ascii(d)))
    }
}

impl fmt::Debug for BillBarcode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BillBarcode({})", self.as_str())
    }
}

impl fmt::Display for BillBarcode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The GS1 mod-10 check digit of 43 ASCII digits: from the rightmost digit leftwards the
/// weights are 3, 1, 3, 1, ...; the check digit brings the weighted sum to a multiple of 10.
pub fn check_digit(data: &[u8; 43]) -> u8 {
    let sum: u32 = data
        .iter()
        .rev()
        .enumerate()
        .map(|(i, d)| u32::from(d - b'0') * if i % 2 == 0 { 3 } else { 1 })
        .sum();
    ((10 - sum % 10) % 10) as u8
}

/// The frame without its AIM symbology identifier, if it has an accepted one.
fn strip_aim_prefix(frame: &str) -> Result<&str, Malformed> {
    if !frame.starts_with(']') {
        return Ok(frame);
    }
    let id: String = frame.chars().take(3).collect();
    if ACCEPTED_AIM_IDS.contains(&id.as_str()) {
        Ok(&frame[3..])
    } else {
        Err(Malformed::Symbology(id))
    }
}

fn first_non_digit(s: &str) -> char {
    s.chars()
        .find(|&c| c != GS && !c.is_ascii_digit())
        .unwrap_or('?')
}

fn ascii(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Test vectors from public code that checks these barcodes (unit tests and comments of
    /// open-source payment terminals and collection-file tools), each verified independently.
    const VECTORS: [&str; 5] = [
        "91912345012345678901234567890101033101230003",
        "91942386178953917853935692730103073110312903",
        "91959919833262024010101043480024071000395003",
        "91959919833262024010101043470024071000435007",
        "91929023252070000010123499900399999911066327",
    ];

    #[test]
    fn published_vectors_parse() {
        for v in VECTORS {
            let code = BillBarcode::parse(v).unwrap_or_else(|e| panic!("{v}: {e}"));
            assert_eq!(code.as_str(), v);
        }
    }

    #[test]
    fn fields_of_a_published_vector() {
        let code = BillBarcode::parse("91959919833262024010101043480024071000395003").unwrap();
        assert_eq!(code.company_code(), "959919");
        assert_eq!(code.free_area(), "833262024010101043480");
        assert_eq!(code.reissue(), 0);
        assert_eq!(
            code.deadline(),
            Deadline::On(NaiveDate::from_ymd_opt(2024, 7, 10).unwrap())
        );
        assert!(!code.needs_stamp());
        assert_eq!(code.amount(), Yen::new(39_500));

        let dsk = BillBarcode::parse("91929023252070000010123499900399999911066327").unwrap();
        assert_eq!(dsk.deadline(), Deadline::None);
        assert!(dsk.needs_stamp());
        assert_eq!(dsk.amount(), Yen::new(106_632));
    }

    #[test]
    fn aim_prefix_and_gs_are_framing() {
        let v = VECTORS[0];
        assert!(BillBarcode::parse(&format!("]C1{v}")).is_ok());
        assert!(BillBarcode::parse(&format!("]C0{v}")).is_ok());
        assert!(BillBarcode::parse(&format!("]C1\u{1d}{}\u{1d}{}", &v[..20], &v[20..])).is_ok());
        assert_eq!(
            BillBarcode::parse(&format!("]E0{v}")),
            Err(BarcodeError::Malformed(Malformed::Symbology("]E0".into())))
        );
        assert_eq!(
            BillBarcode::parse(&format!("]Q1{v}")),
            Err(BarcodeError::Malformed(Malformed::Symbology("]Q1".into())))
        );
    }

    #[test]
    fn malformed_frames() {
        let v = VECTORS[0];
        assert_eq!(
            BillBarcode::parse(&v[..43]),
            Err(Malformed::Length(43).into())
        );
        assert_eq!(
            BillBarcode::parse(&format!("{v}0")),
            Err(Malformed::Length(45).into())
        );
        assert_eq!(
            BillBarcode::parse(&format!(" {v}")),
            Err(Malformed::NotDigit(' ').into())
        );
        assert_eq!(BillBarcode::parse(""), Err(Malformed::Length(0).into()));
        assert_eq!(
            BillBarcode::parse("]"),
            Err(Malformed::Symbology("]".into()).into())
        );
        let ai90 = format!("90{}", &v[2..]);
        assert_eq!(
            BillBarcode::parse(&ai90),
            Err(Malformed::NotAi91("90".into()).into())
        );
        // Full-width digits are not ASCII digits.
        assert!(matches!(
            BillBarcode::parse(&v.replace('9', "９")),
            Err(BarcodeError::Malformed(Malformed::NotDigit('９')))
        ));
    }

    #[test]
    fn deadline_must_be_a_real_date() {
        let build = |deadline: &str| {
            let mut d: [u8; 44] = VECTORS[0].as_bytes().try_into().unwrap();
            d[30..36].copy_from_slice(deadline.as_bytes());
            d[43] = b'0' + check_digit(d[..43].try_into().unwrap());
            String::from_utf8(d.to_vec()).unwrap()
        };
        assert!(BillBarcode::parse(&build("260228")).is_ok());
        assert!(
            BillBarcode::parse(&build("280229")).is_ok(),
            "2028 is a leap year"
        );
        assert!(BillBarcode::parse(&build("999999")).is_ok());
        for bad in ["260229", "261301", "260000", "261131", "999998", "000000"] {
            assert_eq!(
                BillBarcode::parse(&build(bad)),
                Err(Malformed::Deadline(bad.into()).into()),
                "{bad}"
            );
        }
    }

    #[test]
    fn wrong_check_digit() {
        let v = VECTORS[0];
        let bad = format!("{}4", &v[..43]);
        assert_eq!(
            BillBarcode::parse(&bad),
            Err(BarcodeError::CheckDigit {
                expected: 3,
                found: 4
            })
        );
    }

    #[test]
    fn build_matches_published_vector() {
        let code = BillBarcode::build(&BillFields {
            company_code: "959919",
            free_area: "833262024010101043480",
            reissue: 0,
            deadline: Deadline::On(NaiveDate::from_ymd_opt(2024, 7, 10).unwrap()),
            stamp: false,
            amount: Yen::new(39_500),
        })
        .unwrap();
        assert_eq!(code.as_str(), VECTORS[2]);
    }

    #[test]
    fn build_pads_the_free_area_and_refuses_bad_fields() {
        let fields = BillFields {
            company_code: "123456",
            free_area: "42",
            reissue: 1,
            deadline: Deadline::None,
            stamp: true,
            amount: Yen::new(1200),
        };
        let code = BillBarcode::build(&fields).unwrap();
        assert_eq!(code.free_area(), "420000000000000000000");
        assert_eq!(code.reissue(), 1);
        assert!(code.needs_stamp());
        assert!(
            BillBarcode::build(&BillFields {
                company_code: "12345",
                ..fields.clone()
            })
            .is_err()
        );
        assert!(
            BillBarcode::build(&BillFields {
                amount: Yen::new(1_000_000),
                ..fields.clone()
            })
            .is_err()
        );
        assert!(
            BillBarcode::build(&BillFields {
                free_area: "x",
                ..fields
            })
            .is_err()
        );
    }
}
