//! The replay summary (`docs/scan-log.md`): counters over the events of one log, plus the
//! journal they ended in. The counters are saved with every committed sale, so a resumed
//! replay finishes with the same summary as an uninterrupted one.

use std::collections::BTreeMap;
use std::fmt::Write;

use serde::{Deserialize, Serialize};

use konbini_domain::Yen;
use konbini_register::{NewSale, Reason};

/// Counts of sales by how they ended.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SaleCounts {
    /// Committed to the journal.
    pub completed: u64,
    /// Cancelled by the clerk.
    pub cancelled: u64,
    /// Still open when the log ended.
    pub abandoned: u64,
}

/// The counters of a replay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    /// Event lines read (header and blank lines excluded, bad lines included).
    pub events: u64,
    /// Sales by outcome.
    pub sales: SaleCounts,
    /// Slips in completed sales.
    pub slips_paid: u64,
    /// Sum of completed sales' totals.
    pub paid_yen: Yen,
    /// Cash handed over in completed sales.
    pub tendered_yen: Yen,
    /// Change handed back in completed sales.
    pub change_yen: Yen,
    /// Slips in completed sales that needed a revenue stamp.
    pub stamp_slips: u64,
    /// Refused slips by reason.
    pub rejected: BTreeMap<String, u64>,
    /// Inputs that changed nothing, by reason.
    pub ignored: BTreeMap<String, u64>,
    /// Slips voided from sales that were completed or cancelled (version 2 logs; left out
    /// of the summary while 0).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub voided_slips: u64,
    /// Business days closed (version 2 logs; left out while 0).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub day_closes: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl Default for Tally {
    fn default() -> Tally {
        let ignored = ["no_open_sale", "insufficient_tender", "bad_line"]
            .into_iter()
            .map(|k| (k.to_owned(), 0))
            .collect();
        Tally {
            events: 0,
            sales: SaleCounts::default(),
            slips_paid: 0,
            paid_yen: Yen::ZERO,
            tendered_yen: Yen::ZERO,
            change_yen: Yen::ZERO,
            stamp_slips: 0,
            rejected: BTreeMap::new(),
            ignored,
            voided_slips: 0,
            day_closes: 0,
        }
    }
}

impl Tally {
    /// A slip was refused.
    pub fn reject(&mut self, reason: Reason) {
        *self.rejected.entry(reason.as_str().to_owned()).or_default() += 1;
    }

    /// An input changed nothing (`no_open_sale`, `insufficient_tender`, `bad_line`, ...).
    pub fn ignore(&mut self, reason: &str) {
        *self.ignored.entry(reason.to_owned()).or_default() += 1;
    }

    /// A sale was committed.
    pub fn completed(&mut self, sale: &NewSale) {
        self.sales.completed += 1;
        self.slips_paid += sale.slips.len() as u64;
        self.stamp_slips += sale.stamp_slips() as u64;
        // Saturating: a sum past i64::MAX yen is not a real day, but must not panic.
        let add = |a: Yen, b: Yen| a.checked_add(b).unwrap_or(Yen::MAX);
        self.paid_yen = add(self.paid_yen, sale.total);
        self.tendered_yen = add(self.tendered_yen, sale.tendered);
        self.change_yen = add(self.change_yen, sale.change);
    }
}

/// Where the replay left the journal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalSummary {
    /// The journal's path, as given.
    pub path: String,
    /// Sales in the journal (from every log replayed into it).
    pub sales: u64,
    /// The newest sale's hash, or null while empty.
    pub head: Option<String>,
}

/// The summary printed by `konbini replay --json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// The counters.
    #[serde(flatten)]
    pub tally: Tally,
    /// The journal.
    pub journal: JournalSummary,
    /// With an upstream: where the slips' confirmations stand at the end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync: Option<SyncSummary>,
}

/// The outbox at the end of a replay with an upstream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncSummary {
    /// Accepted by the network (or duplicates of accepted ones).
    pub sent: u64,
    /// Not yet accepted (the drain timed out, or the network is down).
    pub pending: u64,
    /// Cash the network will not credit: to reconcile.
    pub conflicts: u64,
    /// Refused by the network as invalid.
    pub rejected: u64,
}

impl Summary {
    /// A few lines for a person.
    pub fn human(&self) -> String {
        let t = &self.tally;
        let mut s = String::new();
        let _ = writeln!(s, "{} events", t.events);
        let _ = writeln!(
            s,
            "sales: {} completed, {} cancelled, {} abandoned",
            t.sales.completed, t.sales.cancelled, t.sales.abandoned
        );
        let _ = writeln!(
            s,
            "paid: {} slips, {} ({} needing a revenue stamp); tendered {}, change {}",
            t.slips_paid, t.paid_yen, t.stamp_slips, t.tendered_yen, t.change_yen
        );
        let list = |m: &BTreeMap<String, u64>| {
            let items: Vec<String> = m
                .iter()
                .filter(|(_, n)| **n > 0)
                .map(|(k, n)| format!("{k} {n}"))
                .collect();
            if items.is_empty() {
                "none".to_owned()
            } else {
                items.join(", ")
            }
        };
        let _ = writeln!(s, "rejected: {}", list(&t.rejected));
        let _ = writeln!(s, "ignored: {}", list(&t.ignored));
        if t.voided_slips > 0 || t.day_closes > 0 {
            let _ = writeln!(
                s,
                "voided slips: {}; business days closed: {}",
                t.voided_slips, t.day_closes
            );
        }
        let _ = write!(
            s,
            "journal {}: {} sales, head {}",
            self.journal.path,
            self.journal.sales,
            self.journal.head.as_deref().unwrap_or("(empty)")
        );
        if let Some(sync) = &self.sync {
            let _ = write!(
                s,
                "\nsync: {} sent, {} pending, {} conflicts, {} rejected",
                sync.sent, sync.pending, sync.conflicts, sync.rejected
            );
        }
        s
    }
}
