//! The slip checks of `docs/scan-log.md` that need nothing but the slip and the date:
//! checks 1-4 (malformed, check digit, expired, amount limits) for barcodes and the keyed-in
//! forms. Checks 5 and 6 need the open sale and the journal; `Register` applies them.

use std::fmt;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use konbini_domain::{
    BarcodeError, BillBarcode, Deadline, KONBINI_MAX, KONBINI_MIN, PaperlessError, Yen,
};

/// The reason a slip was refused, as named in the scan-log spec and the replay summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// Not a bill barcode / not well-formed keyed-in numbers.
    Malformed,
    /// The barcode's check digit is wrong.
    CheckDigit,
    /// The deadline is before today's date in Japan.
    Expired,
    /// Less than ¥120.
    BelowMinimum,
    /// More than ¥300,000.
    AboveMaximum,
    /// Already in the open sale.
    AlreadyInSale,
    /// Paid in an earlier sale of this journal.
    AlreadyPaid,
    /// The open sale already has 20 slips.
    SaleFull,
    /// No payment network, or it could not be reached in time.
    Offline,
    /// The payment network does not know these numbers for that chain.
    UnknownPayment,
    /// The payment network says it is paid, cancelled or expired.
    NotPayable,
    /// Offline with too much unsent (amount or age): no new slips until the link is back.
    OfflineLimit,
}

impl Reason {
    /// The snake_case name used in summaries and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Malformed => "malformed",
            Reason::CheckDigit => "check_digit",
            Reason::Expired => "expired",
            Reason::BelowMinimum => "below_minimum",
            Reason::AboveMaximum => "above_maximum",
            Reason::AlreadyInSale => "already_in_sale",
            Reason::AlreadyPaid => "already_paid",
            Reason::SaleFull => "sale_full",
            Reason::Offline => "offline",
            Reason::UnknownPayment => "unknown_payment",
            Reason::NotPayable => "not_payable",
            Reason::OfflineLimit => "offline_limit",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A refused slip: the reason a script counts and the detail a person reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// Which check failed first.
    pub reason: Reason,
    /// What exactly was wrong, in English.
    pub detail: String,
}

impl Rejection {
    pub(crate) fn new(reason: Reason, detail: impl Into<String>) -> Rejection {
        Rejection {
            reason,
            detail: detail.into(),
        }
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.reason, self.detail)
    }
}

/// Checks 1-4 of a scanned frame on the business date `today`: the barcode, or the first
/// failing check.
pub fn check_barcode(frame: &str, today: NaiveDate) -> Result<BillBarcode, Rejection> {
    let code = BillBarcode::parse(frame).map_err(|e| match e {
        BarcodeError::Malformed(m) => Rejection::new(Reason::Malformed, m.to_string()),
        e @ BarcodeError::CheckDigit { .. } => Rejection::new(Reason::CheckDigit, e.to_string()),
    })?;
    if let Deadline::On(deadline) = code.deadline()
        && deadline < today
    {
        return Err(Rejection::new(
            Reason::Expired,
            format!("deadline {deadline} is before {today}"),
        ));
    }
    check_amount(code.amount())?;
    Ok(code)
}

/// Check 4: the amount is within what a konbini payment may be.
pub fn check_amount(amount: Yen) -> Result<(), Rejection> {
    if amount < KONBINI_MIN {
        Err(Rejection::new(
            Reason::BelowMinimum,
            format!("{amount} is below the minimum of {KONBINI_MIN}"),
        ))
    } else if amount > KONBINI_MAX {
        Err(Rejection::new(
            Reason::AboveMaximum,
            format!("{amount} is above the maximum of {KONBINI_MAX}"),
        ))
    } else {
        Ok(())
    }
}

impl From<PaperlessError> for Rejection {
    fn from(e: PaperlessError) -> Rejection {
        Rejection::new(Reason::Malformed, e.to_string())
    }
}
