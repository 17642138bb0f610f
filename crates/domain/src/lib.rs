//! The konbini slip domain: money, chains, the GS1-128 bill barcode, the paperless payment
//! reference, Japan time, and the house's retry policy. Pure values and rules; no I/O, no
//! clock reads.

pub mod barcode;
pub mod chain;
pub mod paperless;
pub mod retry;
pub mod time;
pub mod yen;

pub use barcode::{BarcodeError, BillBarcode, BillFields, Deadline, Malformed};
pub use chain::Chain;
pub use paperless::{PaperlessError, PaperlessRef};
pub use yen::Yen;

/// The smallest amount a konbini payment may be (Stripe: ¥120).
pub const KONBINI_MIN: Yen = Yen::new(120);
/// The largest amount a konbini payment may be (Stripe and the chains: ¥300,000).
pub const KONBINI_MAX: Yen = Yen::new(300_000);
/// A keyed-in payment of this much or more needs a revenue stamp on its receipt
/// (印紙税法: sales receipts are taxable from ¥50,000).
pub const STAMP_THRESHOLD: Yen = Yen::new(50_000);
