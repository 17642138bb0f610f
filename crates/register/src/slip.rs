//! A slip that passed its checks and may join a sale: a scanned bill barcode or a keyed-in
//! paperless payment the network confirmed payable.

use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};

use konbini_domain::{BillBarcode, PaperlessRef, STAMP_THRESHOLD, Yen};

/// What the payment network said about a payable keyed-in payment (`GET /terminal/v1/lookup`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentInfo {
    /// The network's payment id (`pi_...`).
    pub payment: String,
    /// What the customer must pay.
    pub amount: Yen,
    /// The merchant being paid.
    pub merchant: String,
    /// What is being paid for.
    pub description: String,
    /// The customer's name, as the network has it.
    pub customer_name: String,
    /// When the payment stops being payable (unix seconds), if the network said.
    pub expires_at: Option<i64>,
}

/// How the slip came in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SlipKind {
    /// A scanned GS1-128 bill barcode.
    Barcode(BillBarcode),
    /// Keyed-in numbers of a paperless payment, looked up online.
    KeyIn {
        /// What the clerk keyed in.
        reference: PaperlessRef,
        /// What the network answered.
        payment: PaymentInfo,
    },
}

/// An accepted slip.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slip {
    /// When it was scanned or keyed in.
    pub at: DateTime<FixedOffset>,
    /// Barcode or keyed-in payment.
    pub kind: SlipKind,
}

impl Slip {
    /// The amount this slip pays.
    pub fn amount(&self) -> Yen {
        match &self.kind {
            SlipKind::Barcode(code) => code.amount(),
            SlipKind::KeyIn { payment, .. } => payment.amount,
        }
    }

    /// Whether its receipt needs a revenue stamp: the barcode's flag, or ¥50,000 and more
    /// for a keyed-in payment.
    pub fn needs_stamp(&self) -> bool {
        match &self.kind {
            SlipKind::Barcode(code) => code.needs_stamp(),
            SlipKind::KeyIn { payment, .. } => payment.amount >= STAMP_THRESHOLD,
        }
    }

    /// What makes two slips the same payment: the 44 digits of a barcode, or the network's
    /// payment id of a keyed-in payment. Checks 5 and 6 compare these.
    pub fn pay_key(&self) -> String {
        match &self.kind {
            SlipKind::Barcode(code) => format!("barcode:{code}"),
            SlipKind::KeyIn { payment, .. } => format!("payment:{}", payment.payment),
        }
    }
}
