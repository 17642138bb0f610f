//! The register's view of its day, read from the journal: the most recent sales with where
//! each one's slips and receipt are (the register screen's list), and a day's totals by
//! payment method and chain (the Z report). Both are aggregate queries driven by the
//! `sales_at` index (`migrations/0002_sales_at.sql`), so they cost the same on a journal of
//! a million sales as on a new one; sales are never loaded into memory to be summed.
//!
//! A day is a range of `at`, compared as text: `at` is RFC 3339 in Japan time, so a date
//! prefix (`"2026-11-28"`) bounds that Japan day. It only reads; it never writes.

use std::collections::BTreeMap;

use rusqlite::{Row, params};
use serde::{Deserialize, Serialize};

use super::sales::yen;
use super::{Journal, JournalError};
use konbini_domain::{Chain, Yen};

/// How many of some slips' confirmations are in each outbox state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SyncCounts {
    /// Not yet accepted upstream.
    pub pending: u64,
    /// Accepted (or duplicates of accepted ones).
    pub sent: u64,
    /// Cash the network will not credit: to reconcile.
    pub conflict: u64,
    /// Refused by the network as invalid.
    pub rejected: u64,
}

impl SyncCounts {
    /// Add `other`'s counts (`None` past `u64::MAX`, which no journal reaches).
    fn checked_add(self, other: SyncCounts) -> Option<SyncCounts> {
        Some(SyncCounts {
            pending: self.pending.checked_add(other.pending)?,
            sent: self.sent.checked_add(other.sent)?,
            conflict: self.conflict.checked_add(other.conflict)?,
            rejected: self.rejected.checked_add(other.rejected)?,
        })
    }
}

/// Where a sale's receipt is (the `print_queue` table).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrintState {
    /// Not printed yet: never tried, or the printer failed (paper out, offline).
    Queued {
        /// Tries so far.
        attempts: u32,
        /// What the printer said the last time it failed.
        last_error: Option<String>,
    },
    /// The printer took it.
    Printed,
}

/// One line of the register's recent-sales list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaleRow {
    /// Its sequence number (also its receipt number).
    pub seq: u64,
    /// When it was completed, RFC 3339 in Japan time.
    pub at: String,
    /// How many slips it paid.
    pub slips: u32,
    /// Sum of the slips.
    pub total: Yen,
    /// Cash handed over.
    pub tendered: Yen,
    /// Change handed back.
    pub change: Yen,
    /// Its slips' confirmations on the way upstream.
    pub sync: SyncCounts,
    /// Its receipt.
    pub print: PrintState,
}

/// How a slip was paid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PayMethod {
    /// A scanned bill barcode.
    Barcode,
    /// A keyed-in paperless payment.
    KeyIn,
}

impl PayMethod {
    /// `barcode` or `key_in`, as serialized.
    pub fn as_str(self) -> &'static str {
        match self {
            PayMethod::Barcode => "barcode",
            PayMethod::KeyIn => "key_in",
        }
    }
}

/// One line of the Z report: the slips of one payment method at one chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MethodTotal {
    /// How they were paid.
    pub method: PayMethod,
    /// For barcodes, the chain of the store that took them (the register's store); for
    /// keyed-in payments, the chain the customer chose. None when not known.
    pub chain: Option<Chain>,
    /// How many.
    pub slips: u64,
    /// Their yen.
    pub amount: Yen,
}

/// A day's totals: the Z report.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DayTotals {
    /// Sales completed.
    pub sales: u64,
    /// Slips paid in them.
    pub slips: u64,
    /// Of those, slips whose receipt needs a revenue stamp.
    pub stamp_slips: u64,
    /// Sum of the sales' totals.
    pub total: Yen,
    /// Cash taken.
    pub tendered: Yen,
    /// Change given.
    pub change: Yen,
    /// The slips by method, then chain (barcodes first, unknown chain first).
    pub by_method: Vec<MethodTotal>,
    /// The slips' confirmations on the way upstream.
    pub sync: SyncCounts,
    /// The day's first sale.
    pub first_seq: Option<u64>,
    /// The day's last sale.
    pub last_seq: Option<u64>,
}

/// The first sale at or after a time. INDEXED BY: left to itself SQLite walks the sales in
/// seq order from the first until one is late enough (the MIN optimisation), which is most
/// of a long journal (281 ms to the register's first frame on a million sales).
const FIRST_SALE_SQL: &str = "SELECT MIN(seq) FROM sales INDEXED BY sales_at WHERE at >= ?1";

/// The newest sales from a time on, newest first, each with its slip count, the outbox
/// states of its slips and its print job. The index gives the order, so SQLite stops after
/// `?2` sales and runs the per-sale look-ups (primary-key ranges) only for those.
const RECENT_SALES_SQL: &str = "
    SELECT s.seq, s.at, s.total_yen, s.tendered_yen, s.change_yen,
           (SELECT COUNT(*) FROM slips l WHERE l.sale_seq = s.seq),
           (SELECT COUNT(*) FROM outbox o WHERE o.sale_seq = s.seq AND o.state = 'pending'),
           (SELECT COUNT(*) FROM outbox o WHERE o.sale_seq = s.seq AND o.state = 'sent'),
           (SELECT COUNT(*) FROM outbox o WHERE o.sale_seq = s.seq AND o.state = 'conflict'),
           (SELECT COUNT(*) FROM outbox o WHERE o.sale_seq = s.seq AND o.state = 'rejected'),
           p.state, p.attempts, p.last_error
    FROM sales s LEFT JOIN print_queue p ON p.sale_seq = s.seq
    WHERE s.at >= ?1
    ORDER BY s.at DESC, s.seq DESC
    LIMIT ?2";

/// The sales matching `$where`: count, money, first and last.
macro_rules! sales_sql {
    ($where:literal) => {
        concat!(
            "SELECT COUNT(*), COALESCE(SUM(total_yen), 0), COALESCE(SUM(tendered_yen), 0),
                    COALESCE(SUM(change_yen), 0), MIN(seq), MAX(seq)
             FROM sales WHERE ",
            $where
        )
    };
}

/// The slips of the sales (`s`) matching `$where`, by method and chain text, with stamps
/// and outbox states.
macro_rules! slips_sql {
    ($where:literal) => {
        concat!(
            "SELECT l.barcode IS NOT NULL AS is_barcode,
                    CASE WHEN l.barcode IS NOT NULL THEN s.store_chain ELSE l.chain END AS pay_chain,
                    COUNT(*), SUM(l.amount_yen), SUM(l.stamp),
                    SUM(COALESCE(o.state, 'pending') = 'pending'),
                    SUM(o.state IS 'sent'), SUM(o.state IS 'conflict'), SUM(o.state IS 'rejected')
             FROM sales s
             JOIN slips l ON l.sale_seq = s.seq
             LEFT JOIN outbox o ON o.sale_seq = l.sale_seq AND o.idx = l.idx
             WHERE ",
            $where,
            " GROUP BY is_barcode, pay_chain"
        )
    };
}

/// The sales of `?1 <= at < ?2`: count, money, first and last.
const DAY_SALES_SQL: &str = sales_sql!("at >= ?1 AND at < ?2");

/// The slips of those sales by method and chain text, with stamps and outbox states. A
/// slip without an outbox row counts as pending, as everywhere else (verify catches it).
const DAY_SLIPS_SQL: &str = slips_sql!("s.at >= ?1 AND s.at < ?2");

impl Journal {
    /// The newest `limit` sales with `at >= since_at` (compared as text, so a date prefix
    /// such as `"2026-11-28"` means "from that Japan day on"), newest first: by `at`, then
    /// by `seq` for sales of the same instant. Reads at most `limit` sales whatever the
    /// journal's size.
    pub fn recent_sales(&self, since_at: &str, limit: usize) -> Result<Vec<SaleRow>, JournalError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.conn
            .prepare_cached(RECENT_SALES_SQL)
            .and_then(|mut st| st.query_map(params![since_at, limit], sale_row)?.collect())
            .map_err(self.err())
    }

    /// The first sale at or after `since_at` (RFC 3339 text or a date prefix), by the
    /// `sales_at` index: what the register prints from at start, without adding up the day.
    pub fn first_sale_since(&self, since_at: &str) -> Result<Option<u64>, JournalError> {
        self.conn
            .prepare_cached(FIRST_SALE_SQL)
            .and_then(|mut st| st.query_row([since_at], |r| r.get::<_, Option<i64>>(0)))
            .map(|seq| seq.map(|s| s as u64))
            .map_err(self.err())
    }

    /// The totals of every sale with `from_at <= at < to_at` (text, as for
    /// [`Journal::recent_sales`]: `("2026-11-28", "2026-11-29")` is that Japan day). Summed
    /// by SQLite in one read snapshot, so a writer going on meanwhile cannot make the
    /// figures disagree with each other.
    pub fn day_totals(&self, from_at: &str, to_at: &str) -> Result<DayTotals, JournalError> {
        let snapshot = self.conn.unchecked_transaction().map_err(self.err())?;
        let day = add_up(
            &self.conn,
            &self.path,
            DAY_SALES_SQL,
            DAY_SLIPS_SQL,
            params![from_at, to_at],
        );
        drop(snapshot);
        day
    }
}

/// The sales with `after < seq <= upto`: count, money, first and last (a business day).
const SEQ_SALES_SQL: &str = sales_sql!("seq > ?1 AND seq <= ?2");

/// The slips of those sales, as [`DAY_SLIPS_SQL`] groups them.
const SEQ_SLIPS_SQL: &str = slips_sql!("s.seq > ?1 AND s.seq <= ?2");

/// The totals of the sales with `after < seq <= upto` (`None`: to the last), read through
/// `conn` (the journal's, or a write transaction's): a business day between two closes.
pub(crate) fn seq_totals(
    conn: &rusqlite::Connection,
    path: &std::path::Path,
    after: u64,
    upto: Option<u64>,
) -> Result<DayTotals, JournalError> {
    let upto = upto.map_or(i64::MAX, |u| i64::try_from(u).unwrap_or(i64::MAX));
    let after = i64::try_from(after).unwrap_or(i64::MAX);
    add_up(
        conn,
        path,
        SEQ_SALES_SQL,
        SEQ_SLIPS_SQL,
        params![after, upto],
    )
}

/// The totals `sales_sql` and `slips_sql` (shaped as [`DAY_SALES_SQL`] and
/// [`DAY_SLIPS_SQL`]) give for `p`, summed by SQLite; the caller holds one read snapshot
/// (or a write transaction) around it, so the figures agree with each other.
fn add_up(
    conn: &rusqlite::Connection,
    path: &std::path::Path,
    sales_sql: &str,
    slips_sql: &str,
    p: impl rusqlite::Params + Copy,
) -> Result<DayTotals, JournalError> {
    let err = super::sqlite_error(path);
    let mut day = conn
        .prepare_cached(sales_sql)
        .and_then(|mut st| {
            st.query_row(p, |r| {
                Ok(DayTotals {
                    sales: count(r, 0)?,
                    total: yen(r, 1)?,
                    tendered: yen(r, 2)?,
                    change: yen(r, 3)?,
                    first_seq: seq(r, 4)?,
                    last_seq: seq(r, 5)?,
                    ..DayTotals::default()
                })
            })
        })
        .map_err(&err)?;
    let groups = conn
        .prepare_cached(slips_sql)
        .and_then(|mut st| {
            st.query_map(p, slip_group)?
                .collect::<rusqlite::Result<Vec<_>>>()
        })
        .map_err(&err)?;
    // Chain texts the parser does not know fall in with NULL (None): merge them, and
    // let the map sort by method, then chain.
    let mut by_key: BTreeMap<(PayMethod, Option<Chain>), (u64, Yen)> = BTreeMap::new();
    let overflow = |what| JournalError::Overflow {
        path: path.to_owned(),
        what,
    };
    for g in groups {
        day.slips = day
            .slips
            .checked_add(g.slips)
            .ok_or_else(|| overflow("the day's slips are"))?;
        day.stamp_slips = day
            .stamp_slips
            .checked_add(g.stamp_slips)
            .ok_or_else(|| overflow("the day's stamp slips are"))?;
        day.sync = day
            .sync
            .checked_add(g.sync)
            .ok_or_else(|| overflow("the day's outbox counts are"))?;
        let (slips, amount) = by_key.entry((g.method, g.chain)).or_insert((0, Yen::ZERO));
        *slips = slips
            .checked_add(g.slips)
            .ok_or_else(|| overflow("a method's slips are"))?;
        *amount = amount
            .checked_add(g.amount)
            .ok_or_else(|| overflow("a method's amount is"))?;
    }
    day.by_method = by_key
        .into_iter()
        .map(|((method, chain), (slips, amount))| MethodTotal {
            method,
            chain,
            slips,
            amount,
        })
        .collect();
    Ok(day)
}

fn sale_row(r: &Row<'_>) -> rusqlite::Result<SaleRow> {
    let print_state: Option<String> = r.get(10)?;
    Ok(SaleRow {
        seq: count(r, 0)?,
        at: r.get(1)?,
        total: yen(r, 2)?,
        tendered: yen(r, 3)?,
        change: yen(r, 4)?,
        slips: r.get(5)?,
        sync: SyncCounts {
            pending: count(r, 6)?,
            sent: count(r, 7)?,
            conflict: count(r, 8)?,
            rejected: count(r, 9)?,
        },
        // A sale without a print job is caught by verify; read it as never tried.
        print: match print_state.as_deref() {
            Some("printed") => PrintState::Printed,
            _ => PrintState::Queued {
                attempts: r.get::<_, Option<u32>>(11)?.unwrap_or(0),
                last_error: r.get(12)?,
            },
        },
    })
}

/// One row of [`DAY_SLIPS_SQL`].
struct SlipGroup {
    method: PayMethod,
    chain: Option<Chain>,
    slips: u64,
    stamp_slips: u64,
    amount: Yen,
    sync: SyncCounts,
}

fn slip_group(r: &Row<'_>) -> rusqlite::Result<SlipGroup> {
    let chain: Option<String> = r.get(1)?;
    Ok(SlipGroup {
        method: if r.get(0)? {
            PayMethod::Barcode
        } else {
            PayMethod::KeyIn
        },
        chain: chain.and_then(|c| c.parse().ok()),
        slips: count(r, 2)?,
        amount: yen(r, 3)?,
        stamp_slips: count(r, 4)?,
        sync: SyncCounts {
            pending: count(r, 5)?,
            sent: count(r, 6)?,
            conflict: count(r, 7)?,
            rejected: count(r, 8)?,
        },
    })
}

/// A count or sequence number (SQLite's integers are signed; these never are).
fn count(r: &Row<'_>, idx: usize) -> rusqlite::Result<u64> {
    seq(r, idx)?.ok_or_else(|| {
        rusqlite::Error::InvalidColumnType(idx, "count".into(), rusqlite::types::Type::Null)
    })
}

/// A sequence number, NULL when there is no sale.
fn seq(r: &Row<'_>, idx: usize) -> rusqlite::Result<Option<u64>> {
    r.get::<_, Option<i64>>(idx)?
        .map(|v| u64::try_from(v).map_err(|_| rusqlite::Error::IntegralValueOutOfRange(idx, v)))
        .transpose()
}

#[cfg(test)]
pub(crate) mod tests {
    use chrono::{DateTime, FixedOffset};
    use rusqlite::types::Value;
    use rusqlite_migration::{M, Migrations};

    /// A journal file at `path` made by the first `schema` migrations alone (as an earlier
    /// release left it, WAL on): the open connection and its journal id.
    pub(crate) fn journal_at_schema(
        path: &std::path::Path,
        schema: usize,
    ) -> (rusqlite::Connection, String) {
        let mut conn = rusqlite::Connection::open(path).unwrap();
        conn.pragma_update(None, "journal_mode", "WAL").unwrap();
        Migrations::new(
            MIGRATION_FILES[..schema]
                .iter()
                .map(|sql| M::up(sql))
                .collect(),
        )
        .to_latest(&mut conn)
        .unwrap();
        let id = conn
            .query_row("SELECT value FROM meta WHERE key = 'journal_id'", [], |r| {
                r.get(0)
            })
            .unwrap();
        (conn, id)
    }
    use tempfile::TempDir;

    use super::*;
    use crate::{
        Committed, MIGRATION_FILES, SlipAnswer, SyncState,
        sales::{append_sale, slip_columns},
    };
    use konbini_domain::{BillBarcode, BillFields, Deadline, PaperlessRef};
    use konbini_register::{NewSale, PaymentInfo, Slip, SlipKind, Station, Store};

    fn at(text: &str) -> DateTime<FixedOffset> {
        DateTime::parse_from_rfc3339(text).unwrap()
    }

    /// A barcode slip; `n` makes its digits (and so its pay key) unique.
    pub(crate) fn barcode(n: u32, amount_yen: u64, stamp: bool) -> Slip {
        let free_area = format!("{n:021}");
        let code = BillBarcode::build(&BillFields {
            company_code: "912345",
            free_area: &free_area,
            reissue: 0,
            deadline: Deadline::None,
            stamp,
            amount: Yen::new(amount_yen),
        })
        .unwrap();
        Slip {
            at: at("2026-11-28T08:00:00+09:00"),
            kind: SlipKind::Barcode(code),
        }
    }

    /// A keyed-in slip at `chain`; `n` makes its payment id unique.
    fn key_in(chain: &str, n: u32, amount_yen: u64) -> Slip {
        Slip {
            at: at("2026-11-28T08:00:00+09:00"),
            kind: SlipKind::KeyIn {
                reference: PaperlessRef::parse(chain, &n.to_string(), "09012345678").unwrap(),
                payment: PaymentInfo {
                    payment: format!("pi_{n}"),
                    amount: Yen::new(amount_yen),
                    merchant: "Example Shop".into(),
                    description: "order".into(),
                    customer_name: "山田太郎".into(),
                    expires_at: None,
                },
            },
        }
    }

    pub(crate) fn sale(
        when: &str,
        store_chain: Option<Chain>,
        slips: Vec<Slip>,
        tendered_yen: u64,
    ) -> NewSale {
        let total = slips.iter().map(|s| s.amount().get()).sum::<u64>();
        NewSale {
            at: at(when),
            station: Station {
                terminal: "T01".into(),
                store: Store {
                    code: "0042".into(),
                    chain: store_chain,
                    name: "テスト店".into(),
                },
            },
            slips,
            total: Yen::new(total),
            tendered: Yen::new(tendered_yen),
            change: Yen::new(tendered_yen - total),
        }
    }

    /// A verdict record's first and last rows, state, answer time and reason.
    type VerdictRow = ((i64, i64), (i64, i64), String, Option<i64>, Option<String>);

    /// The verdict records, in order.
    fn verdict_rows(conn: &rusqlite::Connection) -> Vec<VerdictRow> {
        conn.prepare(
            "SELECT sale_seq, idx, last_sale_seq, last_idx, state, answered_at, detail
             FROM verdicts ORDER BY seq",
        )
        .unwrap()
        .query_map([], |r| {
            Ok((
                (r.get(0)?, r.get(1)?),
                (r.get(2)?, r.get(3)?),
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
            ))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
    }

    pub(crate) fn open(dir: &TempDir, name: &str) -> Journal {
        Journal::open(&dir.path().join(name)).unwrap()
    }

    fn seqs(rows: &[SaleRow]) -> Vec<u64> {
        rows.iter().map(|r| r.seq).collect()
    }

    fn queued(attempts: u32, last_error: Option<&str>) -> PrintState {
        PrintState::Queued {
            attempts,
            last_error: last_error.map(str::to_owned),
        }
    }

    fn sync(pending: u64, sent: u64, conflict: u64, rejected: u64) -> SyncCounts {
        SyncCounts {
            pending,
            sent,
            conflict,
            rejected,
        }
    }

    /// Five sales: one the evening before, four on 2026-11-28, two of them at the same
    /// instant, one with fractional seconds.
    fn recent_journal(dir: &TempDir) -> Journal {
        let mut j = open(dir, "recent.db");
        for s in [
            sale(
                "2026-11-27T22:00:00+09:00",
                None,
                vec![barcode(1, 1_000, false)],
                1_000,
            ),
            sale(
                "2026-11-28T09:00:00+09:00",
                None,
                vec![barcode(2, 1_200, false), key_in("lawson", 2, 3_000)],
                5_000,
            ),
            sale(
                "2026-11-28T09:30:00+09:00",
                None,
                vec![barcode(3, 700, false)],
                1_000,
            ),
            sale(
                "2026-11-28T09:30:00+09:00",
                None,
                vec![barcode(4, 800, false)],
                800,
            ),
            sale(
                "2026-11-28T10:00:00.25+09:00",
                None,
                vec![barcode(5, 900, false)],
                1_000,
            ),
        ] {
            j.commit_sale(&s, None).unwrap();
        }
        j
    }

    /// `pending_from` merges three range reads; the one join it replaced is the oracle.
    /// Sales of several sizes, barcodes and keyed-in slips, a store chain or none, and
    /// answered slips in the middle of a sale, at a sale's ends, and a whole sale answered;
    /// read from every key and with limits that end inside and at the edges of sales.
    #[test]
    fn pending_reads_return_exactly_what_the_join_of_outbox_sales_and_slips_returns() {
        let dir = TempDir::new().unwrap();
        let mut j = open(&dir, "pending.db");
        let mut n = 0;
        let mut next = |kind: u32| {
            n += 1;
            if kind % 3 == 2 {
                key_in(
                    ["familymart", "lawson", "ministop"][n as usize % 3],
                    n,
                    700 + n as u64,
                )
            } else {
                barcode(n, 1_000 + n as u64, n % 4 == 0)
            }
        };
        for (i, slips) in [1, 3, 2, 5, 1, 4, 2].into_iter().enumerate() {
            let s: Vec<Slip> = (0..slips).map(|k| next(i as u32 + k)).collect();
            let chain = [None, Some(Chain::Lawson), Some(Chain::FamilyMart)][i % 3];
            let when = format!("2026-11-28T09:0{i}:00+09:00");
            j.commit_sale(&sale(&when, chain, s, 100_000), None)
                .unwrap();
        }
        // Answered: all of sale 2, the middle and last of sale 4, the first of sale 6.
        let answered = [(2, 1), (2, 2), (2, 3), (4, 2), (4, 5), (6, 1)];
        let verdicts: Vec<_> = answered
            .iter()
            .map(|&k| (k, SyncState::Sent, None))
            .collect();
        j.record_sync(&verdicts).unwrap();
        let oracle = |j: &Journal, from: (u64, u32), limit: usize| -> Vec<(u64, u32, String)> {
            j.conn
                .prepare(
                    "SELECT o.sale_seq, o.idx, o.attempts, s.at, s.store_code, s.store_chain,
                            s.prev_hash, s.hash, l.barcode, l.chain, l.payment_code,
                            l.confirmation_number, l.payment, l.merchant, l.amount_yen
                     FROM outbox o
                     JOIN sales s ON s.seq = o.sale_seq
                     JOIN slips l ON l.sale_seq = o.sale_seq AND l.idx = o.idx
                     WHERE o.state = 'pending' AND (o.sale_seq, o.idx) >= (?1, ?2)
                     ORDER BY o.sale_seq, o.idx LIMIT ?3",
                )
                .unwrap()
                .query_map(
                    rusqlite::params![from.0 as i64, from.1, limit as i64],
                    |r| {
                        let row: Vec<Value> =
                            (0..15).map(|i| r.get(i)).collect::<Result<_, _>>()?;
                        Ok((
                            r.get::<_, i64>(0)? as u64,
                            r.get::<_, i64>(1)? as u32,
                            format!("{row:?}"),
                        ))
                    },
                )
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap()
        };
        let read = |j: &Journal, from: (u64, u32), limit: usize| -> Vec<(u64, u32, String)> {
            j.pending_from(from, limit)
                .unwrap()
                .into_iter()
                .map(|p| {
                    let pay = slip_columns(&p.pay);
                    let text = |v: Option<String>| v.map_or(Value::Null, Value::Text);
                    let row = [
                        Value::Integer(p.seq as i64),
                        Value::Integer(p.idx as i64),
                        Value::Integer(p.attempts as i64),
                        Value::Text(p.sale.paid_at.clone()),
                        Value::Text(p.sale.store_code.clone()),
                        text(p.sale.store_chain.map(|c| c.as_str().to_owned())),
                        Value::Text(p.sale.prev_hash.clone()),
                        Value::Text(p.sale.hash.clone()),
                    ]
                    .into_iter()
                    .chain(pay.map(|c| text(c.map(str::to_owned))))
                    .chain([Value::Integer(p.amount.get() as i64)])
                    .collect::<Vec<_>>();
                    assert_eq!(p.id, format!("{}-{}-{}", j.journal_id, p.seq, p.idx));
                    (p.seq, p.idx, format!("{row:?}"))
                })
                .collect()
        };
        let all = oracle(&j, (0, 0), 1000);
        assert_eq!(all.len(), 18 - answered.len());
        // Damage: pending outbox rows without a slip (inside the journal and past its
        // end), which the join passes over and verify reports.
        j.conn.pragma_update(None, "foreign_keys", "OFF").unwrap();
        j.conn
            .execute_batch(
                "INSERT INTO outbox (sale_seq, idx) VALUES (3, 9);
                 INSERT INTO outbox (sale_seq, idx) VALUES (99, 1);",
            )
            .unwrap();
        assert_eq!(oracle(&j, (0, 0), 1000), all);
        for from in (0..=8).flat_map(|seq| (0..=6).map(move |idx| (seq, idx))) {
            for limit in [0, 1, 2, 3, 4, 7, 100] {
                assert_eq!(
                    read(&j, from, limit),
                    oracle(&j, from, limit),
                    "{from:?} {limit}"
                );
            }
        }
    }

    #[test]
    fn a_batch_is_recorded_as_its_verdicts_say_with_runs_of_sent_written_as_one_range() {
        let dir = TempDir::new().unwrap();
        let mut j = open(&dir, "batch.db");
        let mut n = 0;
        for slips in [3, 4, 2] {
            let s: Vec<Slip> = (0..slips)
                .map(|_| {
                    n += 1;
                    barcode(n, 1_000, false)
                })
                .collect();
            j.commit_sale(&sale("2026-11-28T09:00:00+09:00", None, s, 9_000), None)
                .unwrap();
        }
        let keys: Vec<(u64, u32)> = j
            .pending_from((0, 0), 500)
            .unwrap()
            .iter()
            .map(|p| p.key())
            .collect();
        assert_eq!(keys.len(), 9);
        // The second slip is already answered: a range over it must leave it alone.
        j.record_sync(&[(keys[1], SyncState::Conflict, Some("already_paid".into()))])
            .unwrap();
        let batch = j.pending_from((0, 0), 500).unwrap();
        assert_eq!(batch.len(), 8);
        // A sale committed after the read is not in the batch and stays pending.
        j.commit_sale(
            &sale(
                "2026-11-28T09:05:00+09:00",
                None,
                vec![barcode(99, 500, false)],
                500,
            ),
            None,
        )
        .unwrap();
        let verdicts: Vec<SlipAnswer> = batch
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let (state, reason) = match i {
                    4 => (SyncState::Rejected, Some("invalid_barcode".into())),
                    6 => (SyncState::Pending, Some("timeout".into())),
                    _ => (SyncState::Sent, None),
                };
                SlipAnswer {
                    key: p.key(),
                    state,
                    reason,
                    answered_at_ms: 1_000,
                }
            })
            .collect();
        j.record_batch(&verdicts).unwrap();
        let rows: Vec<(i64, i64, String, i64, Option<String>)> = j
            .conn
            .prepare("SELECT sale_seq, idx, state, attempts, last_error FROM outbox ORDER BY 1, 2")
            .unwrap()
            .query_map([], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let states: Vec<(&str, i64, Option<&str>)> = rows
            .iter()
            .map(|r| (r.2.as_str(), r.3, r.4.as_deref()))
            .collect();
        assert_eq!(
            states,
            [
                ("sent", 1, None),
                ("conflict", 1, Some("already_paid")),
                ("sent", 1, None),
                ("sent", 1, None),
                ("sent", 1, None),
                ("rejected", 1, Some("invalid_barcode")),
                ("sent", 1, None),
                ("pending", 1, Some("timeout")),
                ("sent", 1, None),
                ("pending", 0, None),
            ]
        );
        // The verdict records, in the order written: the conflict first; then the run of
        // plain `sent` answers as one range (over the conflict, which it passed over); the
        // rejection; and the two `sent` answers on either side of the timeout, one each. The
        // timeout moved nothing and is not one.
        let records = verdict_rows(&j.conn);
        let key = |k: usize| (keys[k].0 as i64, keys[k].1 as i64);
        let rec = |a: usize, b: usize, state: &str, detail: Option<&str>| {
            (
                key(a),
                key(b),
                state.to_owned(),
                Some(1_000),
                detail.map(str::to_owned),
            )
        };
        // (The conflict was recorded by `record_sync`: answered when it was recorded.)
        assert!(records[0].3.is_some_and(|ms| ms > 1_000));
        let conflict = (
            key(1),
            key(1),
            "conflict".to_owned(),
            records[0].3,
            Some("already_paid".to_owned()),
        );
        assert_eq!(
            records,
            [
                conflict,
                rec(0, 4, "sent", None),
                rec(5, 5, "rejected", Some("invalid_barcode")),
                rec(6, 6, "sent", None),
                rec(8, 8, "sent", None),
            ]
        );
        let report = j.verify(None).unwrap();
        assert_eq!(report.verdicts, Some(5));
    }

    #[test]
    fn recent_sales_are_newest_first_from_since_up_to_limit() {
        let dir = TempDir::new().unwrap();
        let j = recent_journal(&dir);
        // Same instant: the later sale first.
        assert_eq!(
            seqs(&j.recent_sales("2026-11-28", 10).unwrap()),
            [5, 4, 3, 2]
        );
        assert_eq!(seqs(&j.recent_sales("2026-11-28", 2).unwrap()), [5, 4]);
        assert_eq!(seqs(&j.recent_sales("", 100).unwrap()), [5, 4, 3, 2, 1]);
        assert_eq!(
            seqs(&j.recent_sales("2026-11-28T09:30", 10).unwrap()),
            [5, 4, 3]
        );
        assert_eq!(
            seqs(&j.recent_sales("2026-11-28T10:00:00.25+09:00", 10).unwrap()),
            [5],
            "since is inclusive"
        );
        assert!(j.recent_sales("2026-11-29", 10).unwrap().is_empty());
        assert!(j.recent_sales("", 0).unwrap().is_empty());
        assert_eq!(seqs(&j.recent_sales("", usize::MAX).unwrap()).len(), 5);
        // Where the register starts printing: the day's first sale.
        assert_eq!(j.first_sale_since("2026-11-28").unwrap(), Some(2));
        assert_eq!(j.first_sale_since("2026-11-28T09:30").unwrap(), Some(3));
        assert_eq!(j.first_sale_since("2026-11-29").unwrap(), None);
    }

    #[test]
    fn recent_sales_show_slips_money_sync_and_print_states() {
        let dir = TempDir::new().unwrap();
        let mut j = recent_journal(&dir);
        let rows = j.recent_sales("2026-11-28T09:00", 10).unwrap();
        assert_eq!(
            rows.last(),
            Some(&SaleRow {
                seq: 2,
                at: "2026-11-28T09:00:00+09:00".into(),
                slips: 2,
                total: Yen::new(4_200),
                tendered: Yen::new(5_000),
                change: Yen::new(800),
                sync: sync(2, 0, 0, 0),
                print: queued(0, None),
            })
        );
        assert_eq!(rows[0].at, "2026-11-28T10:00:00.250+09:00");

        j.record_sync(&[
            ((2, 1), SyncState::Sent, None),
            ((2, 2), SyncState::Conflict, Some("already paid".into())),
            ((3, 1), SyncState::Pending, Some("timeout".into())),
            ((5, 1), SyncState::Rejected, Some("invalid".into())),
        ])
        .unwrap();
        j.mark_printed(2).unwrap();
        j.print_failed(3, "paper out").unwrap();
        j.print_failed(3, "paper out").unwrap();
        j.print_failed(5, "offline").unwrap();
        j.mark_printed(5).unwrap();

        let rows = j.recent_sales("2026-11-28", 10).unwrap();
        let states: Vec<(u64, SyncCounts, PrintState)> =
            rows.into_iter().map(|r| (r.seq, r.sync, r.print)).collect();
        assert_eq!(
            states,
            [
                (5, sync(0, 0, 0, 1), PrintState::Printed),
                (4, sync(1, 0, 0, 0), queued(0, None)),
                (3, sync(1, 0, 0, 0), queued(2, Some("paper out"))),
                (2, sync(0, 1, 1, 0), PrintState::Printed),
            ]
        );
    }

    #[test]
    fn recent_sales_and_day_totals_are_searches_on_the_sales_at_index() {
        let dir = TempDir::new().unwrap();
        let j = recent_journal(&dir);
        let plan = |sql: &str, params: &[&dyn rusqlite::ToSql]| -> Vec<String> {
            let mut st = j
                .conn
                .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
                .unwrap();
            st.query_map(params, |r| r.get::<_, String>(3))
                .unwrap()
                .collect::<rusqlite::Result<_>>()
                .unwrap()
        };
        let recent = plan(RECENT_SALES_SQL, params!["2026-11-28", 10]);
        assert!(
            recent
                .iter()
                .any(|l| l.starts_with("SEARCH s USING INDEX sales_at")),
            "{recent:#?}"
        );
        // The index gives the order: no sort of the matching sales before the limit.
        assert!(
            !recent.iter().any(|l| l.contains("TEMP B-TREE")),
            "{recent:#?}"
        );
        for sql in [DAY_SALES_SQL, DAY_SLIPS_SQL] {
            let day = plan(sql, params!["2026-11-28", "2026-11-29"]);
            assert!(
                day.iter().any(|l| l.starts_with("SEARCH")
                    && l.contains("USING INDEX sales_at (at>? AND at<?)")),
                "{day:#?}"
            );
            assert!(!day.iter().any(|l| l.starts_with("SCAN")), "{day:#?}");
        }
        let first = plan(FIRST_SALE_SQL, params!["2026-11-28"]);
        assert!(
            first
                .iter()
                .any(|l| l.starts_with("SEARCH sales USING") && l.contains("sales_at (at>?)")),
            "{first:#?}"
        );
    }

    #[test]
    fn day_totals_add_up_one_day_by_method_and_chain() {
        let dir = TempDir::new().unwrap();
        let mut j = open(&dir, "day.db");
        let sales = [
            // The day before: not in the day.
            sale(
                "2026-11-27T23:59:59.999+09:00",
                Some(Chain::Lawson),
                vec![barcode(1, 5_000, true), key_in("lawson", 1, 80_000)],
                85_000,
            ),
            // Barcodes count for the store's chain; a keyed-in payment for its own.
            sale(
                "2026-11-28T00:00:00+09:00",
                Some(Chain::Lawson),
                vec![
                    barcode(2, 1_000, false),
                    barcode(3, 60_000, true),
                    key_in("familymart", 3, 55_000),
                ],
                120_000,
            ),
            sale(
                "2026-11-28T10:30:00+09:00",
                Some(Chain::FamilyMart),
                vec![barcode(4, 2_500, false), key_in("lawson", 4, 3_000)],
                10_000,
            ),
            sale(
                "2026-11-28T23:59:59.5+09:00",
                None,
                vec![barcode(5, 700, false)],
                1_000,
            ),
            // The day after: not in the day.
            sale(
                "2026-11-29T00:00:00+09:00",
                Some(Chain::Lawson),
                vec![barcode(6, 999, false)],
                999,
            ),
        ];
        for s in &sales {
            j.commit_sale(s, None).unwrap();
        }
        j.record_sync(&[
            ((1, 1), SyncState::Sent, None),
            ((2, 1), SyncState::Sent, None),
            ((2, 2), SyncState::Conflict, None),
            ((3, 1), SyncState::Rejected, None),
            ((5, 1), SyncState::Sent, None),
        ])
        .unwrap();

        let method = |method, chain, slips, amount_yen| MethodTotal {
            method,
            chain,
            slips,
            amount: Yen::new(amount_yen),
        };
        let expected = DayTotals {
            sales: 3,
            slips: 6,
            stamp_slips: 2,
            total: Yen::new(122_200),
            tendered: Yen::new(131_000),
            change: Yen::new(8_800),
            by_method: vec![
                method(PayMethod::Barcode, None, 1, 700),
                method(PayMethod::Barcode, Some(Chain::FamilyMart), 1, 2_500),
                method(PayMethod::Barcode, Some(Chain::Lawson), 2, 61_000),
                method(PayMethod::KeyIn, Some(Chain::FamilyMart), 1, 55_000),
                method(PayMethod::KeyIn, Some(Chain::Lawson), 1, 3_000),
            ],
            sync: sync(3, 1, 1, 1),
            first_seq: Some(2),
            last_seq: Some(4),
        };
        assert_eq!(j.day_totals("2026-11-28", "2026-11-29").unwrap(), expected);

        // The day before on its own.
        let before = j.day_totals("2026-11-27", "2026-11-28").unwrap();
        assert_eq!(
            (
                before.sales,
                before.slips,
                before.stamp_slips,
                before.total,
                before.sync
            ),
            (1, 2, 2, Yen::new(85_000), sync(1, 1, 0, 0))
        );
        assert_eq!(
            before.by_method,
            [
                method(PayMethod::Barcode, Some(Chain::Lawson), 1, 5_000),
                method(PayMethod::KeyIn, Some(Chain::Lawson), 1, 80_000),
            ]
        );
        assert_eq!((before.first_seq, before.last_seq), (Some(1), Some(1)));

        // A day without sales.
        assert_eq!(
            j.day_totals("2026-11-30", "2026-12-01").unwrap(),
            DayTotals::default()
        );

        // A store chain this build does not know counts as unknown, with the NULL ones.
        j.conn
            .execute(
                "UPDATE sales SET store_chain = 'seven-eleven' WHERE seq = 3",
                [],
            )
            .unwrap();
        let day = j.day_totals("2026-11-28", "2026-11-29").unwrap();
        assert_eq!(
            day.by_method[..2],
            [
                method(PayMethod::Barcode, None, 2, 3_200),
                method(PayMethod::Barcode, Some(Chain::Lawson), 2, 61_000),
            ]
        );
        assert_eq!(day.by_method.len(), 4);
    }

    #[test]
    fn pay_methods_serialize_as_their_names() {
        for m in [PayMethod::Barcode, PayMethod::KeyIn] {
            assert_eq!(
                serde_json::to_string(&m).unwrap(),
                format!("\"{}\"", m.as_str())
            );
        }
        assert_eq!(PayMethod::KeyIn.as_str(), "key_in");
    }

    #[test]
    fn a_new_journal_is_migrated_to_the_latest_schema_with_the_index() {
        let dir = TempDir::new().unwrap();
        let j = open(&dir, "new.db");
        assert_eq!(
            j.pragma("user_version").unwrap(),
            MIGRATION_FILES.len().to_string()
        );
        assert_eq!(MIGRATION_FILES.len(), 5);
        assert_eq!(j.record_head().unwrap(), (0, None));
        assert!(has_sales_at(&j.conn));
        assert!(
            !outbox_sql(&j.conn).contains(" IN "),
            "{}",
            outbox_sql(&j.conn)
        );
    }

    fn outbox_sql(conn: &rusqlite::Connection) -> String {
        conn.query_row(
            "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'outbox'",
            [],
            |r| r.get(0),
        )
        .unwrap()
    }

    /// 0003 rebuilds the outbox with its state rule as comparisons: every row and state
    /// kept, the rule still enforced, and the SQL no longer an IN list.
    #[test]
    fn a_journal_made_by_0002_upgrades_its_outbox_keeping_every_row_and_the_rule() {
        let dir = TempDir::new().unwrap();
        let path = dir.path().join("v2.db");
        type Row = (i64, i64, String, i64, i64, Option<String>);
        let read = |conn: &rusqlite::Connection| -> Vec<Row> {
            conn.prepare(
                "SELECT sale_seq, idx, state, attempts, next_attempt_at, last_error
                 FROM outbox ORDER BY 1, 2",
            )
            .unwrap()
            .query_map([], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                ))
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
        };
        let before = {
            let (mut conn, id) = journal_at_schema(&path, 2);
            assert!(outbox_sql(&conn).contains(" IN "));
            let tx = conn.transaction().unwrap();
            for (i, when) in ["09:00", "09:05"].iter().enumerate() {
                let n = i as u32 * 10;
                let slips = vec![barcode(n + 1, 1_000, false), key_in("lawson", n + 2, 2_000)];
                append_sale(
                    &tx,
                    &id,
                    &sale(&format!("2026-11-28T{when}:00+09:00"), None, slips, 3_000),
                )
                .unwrap();
            }
            tx.execute_batch(
                "UPDATE outbox SET state = 'sent', attempts = 1 WHERE sale_seq = 1 AND idx = 1;
                 UPDATE outbox SET state = 'conflict', attempts = 2, last_error = 'already_paid'
                  WHERE sale_seq = 1 AND idx = 2;
                 UPDATE outbox SET state = 'rejected', attempts = 1, last_error = 'invalid'
                  WHERE sale_seq = 2 AND idx = 1;
                 UPDATE outbox SET attempts = 3, last_error = 'timeout', next_attempt_at = 1234
                  WHERE sale_seq = 2 AND idx = 2;",
            )
            .unwrap();
            tx.commit().unwrap();
            // A damaged journal: an outbox row whose slip is gone (verify reports it). It
            // must still open and keep the row.
            conn.pragma_update(None, "foreign_keys", "OFF").unwrap();
            conn.execute("INSERT INTO outbox (sale_seq, idx) VALUES (2, 9)", [])
                .unwrap();
            read(&conn)
        };
        assert_eq!(before.len(), 5);
        let j = Journal::open(&path).unwrap();
        assert_eq!(j.pragma("user_version").unwrap(), "5");
        assert_eq!(read(&j.conn), before);
        // 0004 starts the verdict chain with a record of each row already final, in key
        // order, its answer's time unknown, its reason the row's last error.
        let records = verdict_rows(&j.conn);
        assert_eq!(
            records,
            [
                ((1, 1), (1, 1), "sent".to_owned(), None, None),
                (
                    (1, 2),
                    (1, 2),
                    "conflict".to_owned(),
                    None,
                    Some("already_paid".to_owned())
                ),
                (
                    (2, 1),
                    (2, 1),
                    "rejected".to_owned(),
                    None,
                    Some("invalid".to_owned())
                ),
            ]
        );
        assert!(
            !outbox_sql(&j.conn).contains(" IN "),
            "{}",
            outbox_sql(&j.conn)
        );
        let bad = j
            .conn
            .execute(
                "UPDATE outbox SET state = 'lost' WHERE sale_seq = 2 AND idx = 2",
                [],
            )
            .unwrap_err();
        assert!(bad.to_string().contains("CHECK constraint failed"), "{bad}");
        // Still STRICT, WITHOUT ROWID, and a child of slips.
        let (strict, without_rowid): (i64, i64) = j
            .conn
            .query_row(
                "SELECT strict, wr FROM pragma_table_list WHERE name = 'outbox'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!((strict, without_rowid), (1, 1));
        let parent: String = j
            .conn
            .query_row(
                "SELECT \"table\" FROM pragma_foreign_key_list('outbox')",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(parent, "slips");
        assert_eq!(j.pragma("foreign_keys").unwrap(), "1");
        // The orphan row is kept, and verify names it.
        let problem = j.verify(None).unwrap_err().to_string();
        assert!(
            problem.contains("outbox row sale 2 slip 9: belongs to no slip"),
            "{problem}"
        );
        // The keyed-in slip of sale 2 is the one still pending (the orphan has no slip).
        assert_eq!(j.pending_from((0, 0), 10).unwrap().len(), 1);
    }

    fn has_sales_at(conn: &rusqlite::Connection) -> bool {
        conn.prepare("SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = 'sales_at' AND tbl_name = 'sales'")
            .unwrap()
            .exists([])
            .unwrap()
    }

    #[test]
    fn a_journal_made_by_0001_alone_upgrades_and_keeps_its_sales() {
        let dir = TempDir::new().unwrap();
        let path = dir.path().join("old.db");
        let first = sale(
            "2026-11-28T09:00:00+09:00",
            None,
            vec![barcode(1, 1_000, false)],
            1_000,
        );
        let second = sale(
            "2026-11-28T09:05:00+09:00",
            Some(Chain::Lawson),
            vec![barcode(2, 2_000, false), key_in("ministop", 2, 3_000)],
            5_000,
        );
        {
            // The schema of a journal written by the first release, and two sales in it.
            let (mut conn, id) = journal_at_schema(&path, 1);
            let version: i64 = conn
                .pragma_query_value(None, "user_version", |r| r.get(0))
                .unwrap();
            assert_eq!(version, 1);
            assert!(!has_sales_at(&conn));
            let tx = conn.transaction().unwrap();
            append_sale(&tx, &id, &first).unwrap();
            append_sale(&tx, &id, &second).unwrap();
            tx.commit().unwrap();
        }
        {
            // A reader reads an old journal as it is and never migrates it.
            let r = Journal::open_read_only(&path).unwrap();
            assert_eq!(r.pragma("user_version").unwrap(), "1");
            assert_eq!(r.verify(None).unwrap().sales, 2);
        }
        let mut j = Journal::open(&path).unwrap();
        assert_eq!(j.pragma("user_version").unwrap(), "5");
        assert!(has_sales_at(&j.conn));
        assert_eq!(j.verify(None).unwrap().sales, 2);
        assert_eq!(seqs(&j.recent_sales("2026-11-28", 10).unwrap()), [2, 1]);
        assert_eq!(
            j.day_totals("2026-11-28", "2026-11-29").unwrap().total,
            Yen::new(6_000)
        );
        let third = sale(
            "2026-11-28T09:10:00+09:00",
            None,
            vec![barcode(3, 300, false)],
            300,
        );
        assert_eq!(j.commit_sale(&third, None).unwrap().seq, 3);
        assert_eq!(j.verify(None).unwrap().sales, 3);
        drop(j);
        // Opening it again changes nothing.
        let j = Journal::open(&path).unwrap();
        assert_eq!(j.pragma("user_version").unwrap(), "5");
        assert_eq!(j.head().unwrap().0, 3);
    }

    /// Twelve sales of one to three slips, barcodes and keyed-in payments, at three stores.
    fn batch() -> Vec<NewSale> {
        (1..=12u32)
            .map(|i| {
                let mut slips = vec![barcode(i * 10, 120 + u64::from(i) * 1_000, i % 4 == 0)];
                if i % 2 == 0 {
                    slips.push(key_in(
                        ["lawson", "familymart", "seicomart"][i as usize % 3],
                        i,
                        50_000,
                    ));
                }
                if i % 3 == 0 {
                    slips.push(barcode(i * 10 + 1, 300_000, true));
                }
                let total: u64 = slips.iter().map(|s| s.amount().get()).sum();
                let store = [None, Some(Chain::Lawson), Some(Chain::Ministop)][i as usize % 3];
                sale(
                    &format!("2026-11-28T{:02}:{:02}:00+09:00", 8 + i / 4, i * 3),
                    store,
                    slips,
                    total + u64::from(i) * 10,
                )
            })
            .collect()
    }

    /// Every row of every table, ids of the journal itself left out (each journal makes its
    /// own at creation).
    fn dump(j: &Journal) -> Vec<Vec<Value>> {
        let mut rows = Vec::new();
        for sql in [
            "SELECT * FROM sales ORDER BY seq",
            "SELECT * FROM slips ORDER BY sale_seq, idx",
            "SELECT * FROM outbox ORDER BY sale_seq, idx",
            "SELECT * FROM print_queue ORDER BY sale_seq",
            "SELECT * FROM meta WHERE key NOT IN ('journal_id', 'created_at') ORDER BY key",
        ] {
            let mut st = j.conn.prepare(sql).unwrap();
            let n = st.column_count();
            let mut q = st.query([]).unwrap();
            while let Some(r) = q.next().unwrap() {
                rows.push((0..n).map(|i| r.get::<_, Value>(i).unwrap()).collect());
            }
        }
        rows
    }

    #[test]
    fn commit_sales_writes_exactly_what_commit_sale_does_one_by_one() {
        let dir = TempDir::new().unwrap();
        let sales = batch();
        let mut bulk = open(&dir, "bulk.db");
        let mut single = open(&dir, "single.db");
        let bulk_committed = bulk.commit_sales(&sales).unwrap();
        let single_committed: Vec<Committed> = sales
            .iter()
            .map(|s| single.commit_sale(s, None).unwrap())
            .collect();
        assert_eq!(bulk_committed, single_committed);
        assert_eq!(seqs_of(&bulk_committed), (1..=12).collect::<Vec<u64>>());

        let rows = dump(&bulk);
        assert!(rows.len() > 12 * 3, "sales, slips, outbox and print rows");
        assert_eq!(rows, dump(&single));
        let export = |j: &Journal| {
            let mut out = Vec::new();
            assert_eq!(j.export(&mut out, false).unwrap(), 12);
            out
        };
        assert_eq!(export(&bulk), export(&single));
        assert_eq!(
            bulk.queued_prints().unwrap(),
            (1..=12).collect::<Vec<u64>>()
        );

        let (b, s) = (bulk.verify(None).unwrap(), single.verify(None).unwrap());
        assert_eq!(b, s);
        assert_eq!(b.sales, 12);
        assert_eq!(b.head.as_deref(), Some(bulk_committed[11].hash.as_str()));
        // Slip ids carry each journal's own id.
        let slip = &bulk.sale(4).unwrap().unwrap().slips[1];
        assert_eq!(slip.id, format!("{}-4-2", bulk.journal_id()));

        // A second batch continues the chain like single commits would.
        let more = vec![sale(
            "2026-11-28T20:00:00+09:00",
            None,
            vec![barcode(999, 500, false)],
            500,
        )];
        let next = bulk.commit_sales(&more).unwrap();
        assert_eq!(next, [single.commit_sale(&more[0], None).unwrap()]);
        assert_eq!(next[0].seq, 13);
        assert!(bulk.commit_sales(&[]).unwrap().is_empty());
        assert_eq!(dump(&bulk), dump(&single));
    }

    fn seqs_of(committed: &[Committed]) -> Vec<u64> {
        committed.iter().map(|c| c.seq).collect()
    }

    #[test]
    fn commit_sales_is_all_or_nothing() {
        let dir = TempDir::new().unwrap();
        let mut j = open(&dir, "batch.db");
        let mut sales = batch();
        // The fourth sale pays the first one's slip again: the whole batch is refused.
        let repeat = sales[0].slips[0].clone();
        sales[3].slips.push(repeat);
        sales[3].total = Yen::new(sales[3].slips.iter().map(|s| s.amount().get()).sum());
        sales[3].tendered = sales[3].total;
        sales[3].change = Yen::ZERO;
        assert!(matches!(
            j.commit_sales(&sales),
            Err(JournalError::Sqlite { .. })
        ));
        assert_eq!(j.head().unwrap(), (0, None));
        assert!(j.queued_prints().unwrap().is_empty());
        assert!(j.recent_sales("", 100).unwrap().is_empty());
        assert_eq!(j.first_pending().unwrap(), None);
        // Nothing of it stayed behind: the good sales go in afterwards from seq 1.
        sales.remove(3);
        let committed = j.commit_sales(&sales).unwrap();
        assert_eq!(committed.first().map(|c| c.seq), Some(1));
        assert_eq!(j.verify(None).unwrap().sales, 11);
    }
}
