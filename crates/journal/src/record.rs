//! A sale as the journal stores it, and its place in the hash chain: the canonical content
//! each hash covers, computed the same way at commit and at verify. Likewise for the
//! network's verdicts on the outbox ([`VerdictRecord`]), which have a chain of their own.

use serde::Serialize;
use sha2::{Digest, Sha256};

use konbini_domain::{Chain, Yen, time::in_japan};
use konbini_register::{NewSale, SlipKind, Store};

/// The hash before the first sale.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// A committed sale read back from the journal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaleRecord {
    /// 1, 2, 3, ... in commit order.
    pub seq: u64,
    /// When it was completed, RFC 3339 in Japan time.
    pub at: String,
    /// The register.
    pub terminal: String,
    /// The store.
    pub store: Store,
    /// Sum of the slips.
    pub total: Yen,
    /// Cash handed over.
    pub tendered: Yen,
    /// Change handed back.
    pub change: Yen,
    /// Its slips, in order.
    pub slips: Vec<SlipRecord>,
    /// The previous sale's hash ([`GENESIS_HASH`] for the first).
    pub prev_hash: String,
    /// SHA-256 over `prev_hash` and this sale's canonical content, lowercase hex.
    pub hash: String,
}

/// A slip of a committed sale.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlipRecord {
    /// Globally unique: `<journal id>-<seq>-<idx>`. The upstream idempotency key.
    pub id: String,
    /// 1-based position in its sale.
    pub idx: u32,
    /// When it was scanned or keyed in, RFC 3339 in Japan time.
    pub at: String,
    /// What was paid.
    pub pay: SlipPay,
    /// Its amount.
    pub amount: Yen,
    /// Whether its receipt needs a revenue stamp.
    pub stamp: bool,
    /// Where its confirmation is on the way upstream.
    pub sync: SyncState,
}

/// What a slip paid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SlipPay {
    /// A bill barcode's 44 digits.
    Barcode(String),
    /// A keyed-in paperless payment.
    KeyIn {
        /// The chain.
        chain: Chain,
        /// The payment code.
        payment_code: String,
        /// The confirmation number.
        confirmation_number: String,
        /// The network's payment id.
        payment: String,
        /// The merchant paid.
        merchant: String,
    },
}

/// The outbox state of a slip's confirmation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncState {
    /// Not yet accepted upstream.
    Pending,
    /// Accepted (or a duplicate of an accepted one).
    Sent,
    /// The network will not credit it; store and merchant must reconcile.
    Conflict,
    /// The network refused it as invalid.
    Rejected,
}

impl SyncState {
    /// Its name as the outbox stores it.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            SyncState::Pending => "pending",
            SyncState::Sent => "sent",
            SyncState::Conflict => "conflict",
            SyncState::Rejected => "rejected",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<SyncState> {
        Some(match s {
            "pending" => SyncState::Pending,
            "sent" => SyncState::Sent,
            "conflict" => SyncState::Conflict,
            "rejected" => SyncState::Rejected,
            _ => return None,
        })
    }
}

/// A slip's id: unique across journals because the journal id is random, stable because
/// it is derived, never stored separately from what it is derived from.
pub fn slip_id(journal_id: &str, seq: u64, idx: u32) -> String {
    format!("{journal_id}-{seq}-{idx}")
}

/// An instant as the journal writes it: RFC 3339 in Japan time, with as many fractional
/// digits as it has.
pub fn journal_time(at: &chrono::DateTime<chrono::FixedOffset>) -> String {
    in_japan(at).to_rfc3339_opts(chrono::SecondsFormat::AutoSi, false)
}

impl SaleRecord {
    /// The record `sale` becomes as sale `seq` after `prev_hash`.
    pub fn from_new(seq: u64, sale: &NewSale, journal_id: &str, prev_hash: &str) -> SaleRecord {
        let slips = sale
            .slips
            .iter()
            .zip(1u32..)
            .map(|(slip, idx)| SlipRecord {
                id: slip_id(journal_id, seq, idx),
                idx,
                at: journal_time(&slip.at),
                pay: match &slip.kind {
                    SlipKind::Barcode(code) => SlipPay::Barcode(code.as_str().to_owned()),
                    SlipKind::KeyIn { reference, payment } => SlipPay::KeyIn {
                        chain: reference.chain,
                        payment_code: reference.payment_code.clone(),
                        confirmation_number: reference.confirmation_number.clone(),
                        payment: payment.payment.clone(),
                        merchant: payment.merchant.clone(),
                    },
                },
                amount: slip.amount(),
                stamp: slip.needs_stamp(),
                sync: SyncState::Pending,
            })
            .collect();
        let mut record = SaleRecord {
            seq,
            at: journal_time(&sale.at),
            terminal: sale.station.terminal.clone(),
            store: sale.station.store.clone(),
            total: sale.total,
            tendered: sale.tendered,
            change: sale.change,
            slips,
            prev_hash: prev_hash.to_owned(),
            hash: String::new(),
        };
        record.hash = record.content_hash();
        record
    }

    /// SHA-256 over the previous hash and this sale's canonical content. Slip ids and sync
    /// states are left out: ids are derived (and checked) separately, so the same log
    /// replayed into two journals gives the same chain; sync states change after commit.
    pub fn content_hash(&self) -> String {
        let mut c = Canonical(Sha256::new());
        c.0.update(self.prev_hash.as_bytes());
        c.field("konbini-pos sale v1");
        c.num(self.seq);
        c.field(&self.at);
        c.field(&self.terminal);
        c.field(&self.store.code);
        c.field(self.store.chain.map_or("", Chain::as_str));
        c.field(&self.store.name);
        c.num(self.total.get());
        c.num(self.tendered.get());
        c.num(self.change.get());
        c.num(self.slips.len() as u64);
        for slip in &self.slips {
            c.num(u64::from(slip.idx));
            c.field(&slip.at);
            match &slip.pay {
                SlipPay::Barcode(digits) => {
                    c.field("barcode");
                    c.field(digits);
                }
                SlipPay::KeyIn {
                    chain,
                    payment_code,
                    confirmation_number,
                    payment,
                    merchant,
                } => {
                    c.field("key_in");
                    c.field(chain.as_str());
                    c.field(payment_code);
                    c.field(confirmation_number);
                    c.field(payment);
                    c.field(merchant);
                }
            }
            c.num(slip.amount.get());
            c.num(u64::from(slip.stamp));
        }
        hex::encode(c.0.finalize())
    }
}

/// One record of the verdict chain: the network's answer moved the outbox rows from
/// `first` to `last` (keys, inclusive; one row when equal) that were still `pending` to
/// `state`. Appended in the transaction that moves them, never changed. A row's state is
/// the first record's that covers it: a later range passes over rows already answered,
/// as the update it records did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct VerdictRecord {
    /// 1, 2, 3, ... in the order they were written.
    pub seq: u64,
    /// The first outbox key it moved (sale, slip).
    pub first: (u64, u32),
    /// The last (the first, for a record of one row).
    pub last: (u64, u32),
    /// The state the row moved to (never `Pending`).
    pub state: SyncState,
    /// When the network answered, unix milliseconds; None when not known (rows already
    /// final when the journal was migrated to the verdict chain).
    pub answered_at_ms: Option<i64>,
    /// The network's reason, if it gave one.
    pub detail: Option<String>,
}

impl VerdictRecord {
    /// SHA-256 over `prev_hash` (the previous record's, [`GENESIS_HASH`] for the first)
    /// and this record's canonical content, lowercase hex.
    pub fn hash(&self, prev_hash: &str) -> String {
        let mut c = Canonical(Sha256::new());
        c.0.update(prev_hash.as_bytes());
        c.field("konbini-pos verdict v1");
        c.num(self.seq);
        c.num(self.first.0);
        c.num(u64::from(self.first.1));
        c.num(self.last.0);
        c.num(u64::from(self.last.1));
        c.field(self.state.as_str());
        match self.answered_at_ms {
            Some(ms) => {
                c.num(1);
                c.0.update(ms.to_be_bytes());
            }
            None => c.num(0),
        }
        match &self.detail {
            Some(d) => {
                c.num(1);
                c.field(d);
            }
            None => c.num(0),
        }
        hex::encode(c.0.finalize())
    }
}

/// What a non-sale record is (`records.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordKind {
    /// A slip removed from a sale before it was completed.
    Void,
    /// A sale the clerk cancelled.
    Cancel,
    /// The day close (精算): the Z report.
    Close,
}

impl RecordKind {
    /// Its name as the journal stores it.
    pub fn as_str(self) -> &'static str {
        match self {
            RecordKind::Void => "void",
            RecordKind::Cancel => "cancel",
            RecordKind::Close => "close",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<RecordKind> {
        Some(match s {
            "void" => RecordKind::Void,
            "cancel" => RecordKind::Cancel,
            "close" => RecordKind::Close,
            _ => return None,
        })
    }
}

/// A non-sale record as the journal stores it: its own chain, apart from the sales'.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisterRecord {
    /// 1, 2, 3, ... in the order written.
    pub seq: u64,
    /// What it records.
    pub kind: RecordKind,
    /// When it happened, RFC 3339 in Japan time.
    pub at: String,
    /// The last sale committed before it (0: none yet); for a void of a completed sale,
    /// that sale.
    pub sale_seq: u64,
    /// A close's business day, `YYYY-MM-DD`.
    pub business_date: Option<String>,
    /// Its content: canonical JSON (`records.rs`).
    pub body: String,
    /// SHA-256 over the previous record's hash and this record's fields, lowercase hex.
    pub hash: String,
}

impl RegisterRecord {
    /// SHA-256 over `prev_hash` ([`GENESIS_HASH`] for the first) and this record's
    /// canonical content (its own hash left out), lowercase hex.
    pub fn content_hash(&self, prev_hash: &str) -> String {
        let mut c = Canonical(Sha256::new());
        c.0.update(prev_hash.as_bytes());
        c.field("konbini-pos record v1");
        c.num(self.seq);
        c.field(self.kind.as_str());
        c.field(&self.at);
        c.num(self.sale_seq);
        match &self.business_date {
            Some(d) => {
                c.num(1);
                c.field(d);
            }
            None => c.num(0),
        }
        c.field(&self.body);
        hex::encode(c.0.finalize())
    }
}

/// Length-prefixed fields, so no choice of text can make two different sales hash alike.
struct Canonical(Sha256);

impl Canonical {
    fn field(&mut self, s: &str) {
        self.0.update((s.len() as u64).to_be_bytes());
        self.0.update(s.as_bytes());
    }

    fn num(&mut self, n: u64) {
        self.0.update(n.to_be_bytes());
    }
}
