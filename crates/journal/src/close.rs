//! The business day and its close (精算): the X report (a reading of the open day, which
//! changes nothing) and the Z report, a close record that ends the day.
//!
//! A business day is what lies between two closes: the sales after the last close's
//! `sale_seq`, and the non-sale records after the last close record. Which date names it,
//! and whether it may be closed now, is the register core's rule
//! (`konbini_register::day`); this module hands it what the journal holds and writes the
//! close in one transaction with the figures it adds up, so nothing sold meanwhile can fall
//! between the figures and the record. Each close takes the next Z number; a date is closed
//! once (the `records_closed_day` index backs the rule).
//!
//! The close record's figures are the day's sales and records, which `verify` adds up
//! again; the outbox states of the day's slips are not in it (they change as the network
//! answers): a report reads them when it is made.

use chrono::{DateTime, FixedOffset, NaiveDate};
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};

use super::day::{DayTotals, MethodTotal, PayMethod, seq_totals};
use super::record::{RecordKind, journal_time};
use super::records::{append, sale_head};
use super::{Journal, JournalError, ReplayProgress};
use crate::failpoint;
use konbini_domain::time::business_date;
use konbini_domain::{Chain, Yen};
use konbini_register::DayCloseRequest;
use konbini_register::day::{CloseRefused, business_day_to_close, open_business_day};

/// Sales the clerk cancelled in a day.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CancelCounts {
    /// How many sales.
    pub sales: u64,
    /// The slips they held when cancelled.
    pub slips: u64,
    /// Their sum.
    pub yen: Yen,
}

/// Slips voided from sales in a day.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VoidCounts {
    /// How many slips.
    pub slips: u64,
    /// Their sum.
    pub yen: Yen,
}

/// The business day still open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenDay {
    /// Its date.
    pub business_date: NaiveDate,
    /// The day closed last, if any.
    pub last_closed: Option<NaiveDate>,
    /// The last sale of the closed days (0: none): the open day's sales come after it.
    pub after_sale: u64,
    /// The last close's record (0: none): the open day's records come after it.
    pub after_record: u64,
    /// The number its Z report will take.
    pub z_next: u64,
}

/// An X report (a reading) or a Z report (a close).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayReport {
    /// The business day.
    pub business_date: NaiveDate,
    /// The Z report's number; None for an X report.
    pub z: Option<u64>,
    /// When it was read or closed, RFC 3339 in Japan time.
    pub at: String,
    /// The day's sales (their slips' outbox states as of when the report is made).
    pub sales: DayTotals,
    /// Sales cancelled.
    pub cancelled: CancelCounts,
    /// Slips voided.
    pub voided: VoidCounts,
    /// The drawer's float (釣銭準備金).
    pub float: Yen,
    /// The cash the drawer should hold: the float and the day's cash taken (sales' totals).
    pub expected: Yen,
    /// The cash the clerk counted (a Z report).
    pub counted: Option<Yen>,
    /// Counted minus expected (過不足): over when positive, short when negative.
    pub difference: Option<i64>,
}

/// One line of a close record's figures by method and chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MethodBody {
    /// How they were paid.
    pub method: PayMethod,
    /// At which chain.
    pub chain: Option<Chain>,
    /// How many slips.
    pub slips: u64,
    /// Their yen.
    pub amount_yen: u64,
}

/// A close record's content: the Z report's figures.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CloseBody {
    /// The Z report's number: 1, 2, 3 ... in the journal.
    pub z: u64,
    /// The business day closed, `YYYY-MM-DD`.
    pub business_date: String,
    /// The register.
    pub terminal: String,
    /// The store's code.
    pub store_code: String,
    /// The store's chain.
    pub store_chain: Option<Chain>,
    /// The store's name.
    pub store_name: String,
    /// Sales completed in the day.
    pub sales: u64,
    /// Its first sale.
    pub first_sale: Option<u64>,
    /// Its last sale.
    pub last_sale: Option<u64>,
    /// Slips paid.
    pub slips: u64,
    /// Of those, slips needing a revenue stamp.
    pub stamp_slips: u64,
    /// Sum of the sales.
    pub total_yen: u64,
    /// Cash handed over.
    pub tendered_yen: u64,
    /// Change handed back.
    pub change_yen: u64,
    /// The slips by method and chain.
    pub by_method: Vec<MethodBody>,
    /// Sales cancelled.
    pub cancelled_sales: u64,
    /// Slips they held.
    pub cancelled_slips: u64,
    /// Their sum.
    pub cancelled_yen: u64,
    /// Slips voided.
    pub voided_slips: u64,
    /// Their sum.
    pub voided_yen: u64,
    /// The drawer's float.
    pub float_yen: u64,
    /// The cash expected in the drawer: float plus the sales' totals.
    pub expected_yen: u64,
    /// The cash counted.
    pub counted_yen: u64,
    /// Counted minus expected.
    pub difference_yen: i64,
}

impl CloseBody {
    /// The figures of a day, as a close record keeps them.
    fn of(
        z: u64,
        date: NaiveDate,
        request: &DayCloseRequest,
        float: Yen,
        sales: &DayTotals,
        cancelled: CancelCounts,
        voided: VoidCounts,
    ) -> CloseBody {
        let expected = float.checked_add(sales.total).unwrap_or(Yen::MAX);
        let store = &request.station.store;
        CloseBody {
            z,
            business_date: date.format("%Y-%m-%d").to_string(),
            terminal: request.station.terminal.clone(),
            store_code: store.code.clone(),
            store_chain: store.chain,
            store_name: store.name.clone(),
            sales: sales.sales,
            first_sale: sales.first_seq,
            last_sale: sales.last_seq,
            slips: sales.slips,
            stamp_slips: sales.stamp_slips,
            total_yen: sales.total.get(),
            tendered_yen: sales.tendered.get(),
            change_yen: sales.change.get(),
            by_method: sales
                .by_method
                .iter()
                .map(|m| MethodBody {
                    method: m.method,
                    chain: m.chain,
                    slips: m.slips,
                    amount_yen: m.amount.get(),
                })
                .collect(),
            cancelled_sales: cancelled.sales,
            cancelled_slips: cancelled.slips,
            cancelled_yen: cancelled.yen.get(),
            voided_slips: voided.slips,
            voided_yen: voided.yen.get(),
            float_yen: float.get(),
            expected_yen: expected.get(),
            counted_yen: request.counted.get(),
            difference_yen: difference(request.counted, expected),
        }
    }

    /// The Z report these figures make, with the slips' outbox states `sync` read now.
    fn report(&self, at: String, sync: super::SyncCounts) -> DayReport {
        DayReport {
            business_date: self.business_date.parse().unwrap_or(NaiveDate::MIN),
            z: Some(self.z),
            at,
            sales: DayTotals {
                sales: self.sales,
                slips: self.slips,
                stamp_slips: self.stamp_slips,
                total: Yen::new(self.total_yen),
                tendered: Yen::new(self.tendered_yen),
                change: Yen::new(self.change_yen),
                by_method: self
                    .by_method
                    .iter()
                    .map(|m| MethodTotal {
                        method: m.method,
                        chain: m.chain,
                        slips: m.slips,
                        amount: Yen::new(m.amount_yen),
                    })
                    .collect(),
                sync,
                first_seq: self.first_sale,
                last_seq: self.last_sale,
            },
            cancelled: CancelCounts {
                sales: self.cancelled_sales,
                slips: self.cancelled_slips,
                yen: Yen::new(self.cancelled_yen),
            },
            voided: VoidCounts {
                slips: self.voided_slips,
                yen: Yen::new(self.voided_yen),
            },
            float: Yen::new(self.float_yen),
            expected: Yen::new(self.expected_yen),
            counted: Some(Yen::new(self.counted_yen)),
            difference: Some(self.difference_yen),
        }
    }
}

fn difference(counted: Yen, expected: Yen) -> i64 {
    i64::from(counted).saturating_sub(i64::from(expected))
}

/// The last close: its record, the last sale of its day, its date.
struct LastClose {
    record: u64,
    sale_seq: u64,
    date: Option<NaiveDate>,
}

/// The day's non-sale records (after record `after`): cancels, voids.
const RECORD_COUNTS_SQL: &str = "
    SELECT COALESCE(SUM(kind = 'cancel'), 0),
           COALESCE(SUM(CASE WHEN kind = 'cancel'
                             THEN json_array_length(body, '$.slips') END), 0),
           COALESCE(SUM(CASE WHEN kind = 'cancel'
                             THEN json_extract(body, '$.total_yen') END), 0),
           COALESCE(SUM(kind = 'void'), 0),
           COALESCE(SUM(CASE WHEN kind = 'void'
                             THEN json_extract(body, '$.slip.amount_yen') END), 0)
    FROM records WHERE seq > ?1 AND seq <= ?2 AND kind <> 'close'";

fn last_close(conn: &Connection) -> rusqlite::Result<Option<LastClose>> {
    conn.prepare_cached(
        "SELECT seq, sale_seq, business_date FROM records INDEXED BY records_closes
         WHERE kind = 'close' ORDER BY seq DESC LIMIT 1",
    )?
    .query_row([], |r| {
        let date: Option<String> = r.get(2)?;
        Ok(LastClose {
            record: r.get::<_, i64>(0)? as u64,
            sale_seq: r.get::<_, i64>(1)? as u64,
            date: date.and_then(|d| d.parse().ok()),
        })
    })
    .optional()
}

fn closes(conn: &Connection) -> rusqlite::Result<u64> {
    conn.prepare_cached(
        "SELECT COUNT(*) FROM records INDEXED BY records_closes WHERE kind = 'close'",
    )?
    .query_row([], |r| r.get::<_, i64>(0))
    .map(|n| n as u64)
}

/// The last sale before this journal had non-sale records (migration 0005): the first
/// close covers the sales after it (0 for a journal made with records).
pub(crate) fn records_after_sale(conn: &Connection) -> rusqlite::Result<u64> {
    let value: Option<String> = conn
        .prepare_cached("SELECT value FROM meta WHERE key = 'records_after_sale'")?
        .query_row([], |r| r.get(0))
        .optional()?;
    Ok(value.and_then(|v| v.parse().ok()).unwrap_or(0))
}

/// The open day as `conn` sees it, on `today`.
fn open_day(conn: &Connection, today: NaiveDate) -> rusqlite::Result<OpenDay> {
    let last = last_close(conn)?;
    let after_sale = match &last {
        Some(l) => l.sale_seq,
        None => records_after_sale(conn)?,
    };
    let first_sale: Option<String> = conn
        .prepare_cached("SELECT at FROM sales WHERE seq = ?1")?
        .query_row([after_sale as i64 + 1], |r| r.get(0))
        .optional()?;
    let first_sale = first_sale
        .and_then(|at| DateTime::parse_from_rfc3339(&at).ok())
        .map(|at| business_date(&at));
    let last_closed = last.as_ref().and_then(|l| l.date);
    Ok(OpenDay {
        business_date: open_business_day(last_closed, first_sale, today),
        last_closed,
        after_sale,
        after_record: last.as_ref().map_or(0, |l| l.record),
        z_next: closes(conn)? + 1,
    })
}

/// The cancels and voids among the records `after < seq <= upto`.
pub(crate) fn record_counts(
    conn: &Connection,
    after: u64,
    upto: Option<u64>,
) -> rusqlite::Result<(CancelCounts, VoidCounts)> {
    let upto = upto.map_or(i64::MAX, |u| i64::try_from(u).unwrap_or(i64::MAX));
    conn.prepare_cached(RECORD_COUNTS_SQL)?.query_row(
        params![i64::try_from(after).unwrap_or(i64::MAX), upto],
        |r| {
            let n = |i| r.get::<_, i64>(i).map(|v| v.max(0) as u64);
            Ok((
                CancelCounts {
                    sales: n(0)?,
                    slips: n(1)?,
                    yen: Yen::new(n(2)?),
                },
                VoidCounts {
                    slips: n(3)?,
                    yen: Yen::new(n(4)?),
                },
            ))
        },
    )
}

impl Journal {
    /// The business day still open, as of `today` (a Japan date).
    pub fn open_day(&self, today: NaiveDate) -> Result<OpenDay, JournalError> {
        if !self.has_records()? {
            return Ok(OpenDay {
                business_date: today,
                last_closed: None,
                after_sale: 0,
                after_record: 0,
                z_next: 1,
            });
        }
        open_day(&self.conn, today).map_err(self.err())
    }

    /// The X report: a reading of the open business day at `at` with the drawer's
    /// `float`. Changes nothing.
    pub fn x_report(
        &self,
        at: &DateTime<FixedOffset>,
        float: Yen,
    ) -> Result<DayReport, JournalError> {
        let snapshot = self.conn.unchecked_transaction().map_err(self.err())?;
        let day = self.open_day(business_date(at))?;
        let sales = seq_totals(&self.conn, &self.path, day.after_sale, None)?;
        let (cancelled, voided) = if self.has_records()? {
            record_counts(&self.conn, day.after_record, None).map_err(self.err())?
        } else {
            Default::default()
        };
        drop(snapshot);
        let expected = float.checked_add(sales.total).unwrap_or(Yen::MAX);
        Ok(DayReport {
            business_date: day.business_date,
            z: None,
            at: journal_time(at),
            sales,
            cancelled,
            voided,
            float,
            expected,
            counted: None,
            difference: None,
        })
    }

    /// Close the open business day as `request` asks, with the drawer's `float`: its
    /// figures and the counted cash become a close record, in one transaction (with where
    /// a replay got to, if given). The Z report, or why the day cannot be closed now
    /// (nothing is written then).
    pub fn close_day(
        &mut self,
        request: &DayCloseRequest,
        float: Yen,
        progress: Option<(&str, &ReplayProgress)>,
    ) -> Result<Result<DayReport, CloseRefused>, JournalError> {
        let path = self.path.clone();
        let err = super::sqlite_error(&path);
        let tx = super::WriteTx::begin(&mut self.conn, self.group, &self.path)?;
        let today = business_date(&request.at);
        let day = open_day(&tx, today).map_err(&err)?;
        let first_sale = tx
            .prepare_cached("SELECT at FROM sales WHERE seq = ?1")
            .and_then(|mut st| {
                st.query_row([day.after_sale as i64 + 1], |r| r.get::<_, String>(0))
                    .optional()
            })
            .map_err(&err)?
            .and_then(|at| DateTime::parse_from_rfc3339(&at).ok())
            .map(|at| business_date(&at));
        let date = match business_day_to_close(day.last_closed, first_sale, today) {
            Ok(date) => date,
            // Nothing written: a transaction of its own rolls back when dropped.
            Err(refused) => return Ok(Err(refused)),
        };
        let sales = seq_totals(&tx, &path, day.after_sale, None)?;
        let (cancelled, voided) = record_counts(&tx, day.after_record, None).map_err(&err)?;
        let body = CloseBody::of(day.z_next, date, request, float, &sales, cancelled, voided);
        let at = journal_time(&request.at);
        (|| {
            let head = sale_head(&tx)?;
            append(
                &tx,
                RecordKind::Close,
                &at,
                head,
                Some(&body.business_date),
                serde_json::to_string(&body).expect("records serialize"),
            )?;
            if let Some((log_sha256, progress)) = progress {
                progress.save(&tx, log_sha256)?;
            }
            Ok(())
        })()
        .map_err(&err)?;
        if tx.is_own() {
            failpoint::hit("journal-before-commit");
            tx.commit().map_err(&err)?;
            failpoint::hit("journal-after-commit");
        }
        Ok(Ok(body.report(at, sales.sync)))
    }

    /// Z report number `z` as it was closed (its slips' outbox states read now), if the
    /// journal has it.
    pub fn z_report(&self, z: u64) -> Result<Option<DayReport>, JournalError> {
        if z == 0 || !self.has_records()? {
            return Ok(None);
        }
        // One snapshot for the record and its slips' states (inside an open group, the
        // group's transaction is that snapshot already).
        let snapshot = if self.conn.is_autocommit() {
            Some(self.conn.unchecked_transaction().map_err(self.err())?)
        } else {
            None
        };
        let row = self
            .conn
            .prepare_cached(
                "SELECT at, body FROM records INDEXED BY records_closes
                 WHERE kind = 'close' ORDER BY seq LIMIT 1 OFFSET ?1",
            )
            .and_then(|mut st| {
                st.query_row([z as i64 - 1], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
                })
                .optional()
            })
            .map_err(self.err())?;
        let Some((at, body)) = row else {
            return Ok(None);
        };
        let body: CloseBody =
            serde_json::from_str(&body).map_err(|e| JournalError::TamperedRow {
                path: self.path.clone(),
                row: format!("Z report {z}"),
                problem: format!("cannot be read ({e})"),
            })?;
        let sync = match (body.first_sale, body.last_sale) {
            (Some(first), Some(last)) => {
                seq_totals(&self.conn, &self.path, first - 1, Some(last))?.sync
            }
            _ => Default::default(),
        };
        drop(snapshot);
        Ok(Some(body.report(at, sync)))
    }

    /// The Z reports closed and not yet marked printed ([`mark_z_printed`](Self::mark_z_printed)),
    /// oldest first: a run killed between a close's commit and its print prints it when it
    /// is run again.
    pub fn unprinted_z(&self) -> Result<Vec<u64>, JournalError> {
        if !self.has_records()? {
            return Ok(Vec::new());
        }
        let upto: Option<String> = self
            .conn
            .prepare_cached("SELECT value FROM meta WHERE key = 'z_printed_upto'")
            .and_then(|mut st| st.query_row([], |r| r.get(0)).optional())
            .map_err(self.err())?;
        let upto = upto.and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
        Ok((upto + 1..=self.z_count()?).collect())
    }

    /// Z report `z` (and every one before it) printed. In an open group, it joins it.
    pub fn mark_z_printed(&mut self, z: u64) -> Result<(), JournalError> {
        let err = super::sqlite_error(&self.path);
        let tx = super::WriteTx::begin(&mut self.conn, self.group, &self.path)?;
        tx.prepare_cached(
            "INSERT INTO meta (key, value) VALUES ('z_printed_upto', ?1)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )
        .and_then(|mut st| st.execute([z.to_string()]))
        .map_err(&err)?;
        tx.commit().map_err(&err)
    }

    /// How many Z reports (closes) the journal holds.
    pub fn z_count(&self) -> Result<u64, JournalError> {
        if !self.has_records()? {
            return Ok(0);
        }
        closes(&self.conn).map_err(self.err())
    }
}

/// What `verify` checks of each close record: its figures are its day's, added up again.
pub(crate) struct CloseCheck {
    /// The previous close: its record, the last sale of its day, its date, its number.
    prev_record: u64,
    prev_sale: u64,
    prev_date: Option<NaiveDate>,
    z: u64,
}

impl CloseCheck {
    /// The check of a journal whose first close covers the sales after `after_sale`
    /// ([`records_after_sale`]).
    pub(crate) fn new(after_sale: u64) -> CloseCheck {
        CloseCheck {
            prev_record: 0,
            prev_sale: after_sale,
            prev_date: None,
            z: 0,
        }
    }

    /// The problem with close record `seq` (ending its day at sale `sale_seq`, content
    /// `body`), if any; then it is the previous close for the next.
    pub(crate) fn check(
        &mut self,
        conn: &Connection,
        path: &std::path::Path,
        seq: u64,
        sale_seq: u64,
        business_date: Option<&str>,
        body: &str,
    ) -> Result<Option<String>, JournalError> {
        let body: CloseBody = match serde_json::from_str(body) {
            Ok(b) => b,
            Err(e) => return Ok(Some(format!("its content cannot be read ({e})"))),
        };
        if business_date != Some(body.business_date.as_str()) {
            return Ok(Some(
                "its business day is not the one its content names".to_owned(),
            ));
        }
        let Ok(date) = body.business_date.parse::<NaiveDate>() else {
            return Ok(Some(format!(
                "its business day {:?} is not a date",
                body.business_date
            )));
        };
        if self.prev_date.is_some_and(|p| date <= p) {
            return Ok(Some(format!(
                "it closes {date}, not after the day closed before it"
            )));
        }
        if body.z != self.z + 1 {
            return Ok(Some(format!(
                "it is Z report {} but follows Z report {}",
                body.z, self.z
            )));
        }
        let sales = seq_totals(conn, path, self.prev_sale, Some(sale_seq))?;
        let (cancelled, voided) =
            record_counts(conn, self.prev_record, Some(seq)).map_err(super::sqlite_error(path))?;
        let request = DayCloseRequest {
            at: chrono::DateTime::<chrono::Utc>::MIN_UTC.fixed_offset(),
            station: konbini_register::Station {
                terminal: body.terminal.clone(),
                store: konbini_register::Store {
                    code: body.store_code.clone(),
                    chain: body.store_chain,
                    name: body.store_name.clone(),
                },
            },
            counted: Yen::new(body.counted_yen),
        };
        let again = CloseBody::of(
            body.z,
            date,
            &request,
            Yen::new(body.float_yen),
            &sales,
            cancelled,
            voided,
        );
        if again != body {
            return Ok(Some(
                "its figures are not those of its day's sales and records (the Z report \
                 or a sale or record of its day was changed)"
                    .to_owned(),
            ));
        }
        self.prev_record = seq;
        self.prev_sale = sale_seq;
        self.prev_date = Some(date);
        self.z = body.z;
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, FixedOffset};
    use tempfile::TempDir;

    use super::*;
    use crate::day::tests::{barcode, sale};
    use crate::{RecordKind, SlipAnswer, SyncState};
    use konbini_register::{CancelledSale, Voided};

    fn at(text: &str) -> DateTime<FixedOffset> {
        DateTime::parse_from_rfc3339(text).unwrap()
    }

    fn close(at_text: &str, counted: u64) -> DayCloseRequest {
        DayCloseRequest {
            at: at(at_text),
            station: sale("2026-12-01T10:00:00+09:00", None, vec![], 0).station,
            counted: Yen::new(counted),
        }
    }

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    /// A journal with two sales on 1 Dec, the second with a voided slip, and a cancelled
    /// sale with a void of its own.
    fn day_one(dir: &TempDir) -> Journal {
        let mut j = Journal::open(&dir.path().join("j.db")).unwrap();
        j.commit_sale(
            &sale(
                "2026-12-01T09:00:00+09:00",
                Some(Chain::Lawson),
                vec![barcode(1, 1_000, false)],
                1_000,
            ),
            None,
        )
        .unwrap();
        let voided = Voided {
            at: at("2026-12-01T09:10:00+09:00"),
            position: 2,
            slip: barcode(2, 2_500, false),
        };
        j.commit_sale_voided(
            &sale(
                "2026-12-01T09:11:00+09:00",
                Some(Chain::Lawson),
                vec![barcode(3, 3_000, false)],
                5_000,
            ),
            std::slice::from_ref(&voided),
            None,
        )
        .unwrap();
        let cancelled = CancelledSale {
            at: at("2026-12-01T09:20:00+09:00"),
            station: sale("2026-12-01T09:20:00+09:00", None, vec![], 0).station,
            slips: vec![barcode(4, 4_000, false), barcode(5, 500, false)],
            tendered: Yen::new(1_000),
            voided: vec![Voided {
                at: at("2026-12-01T09:19:00+09:00"),
                position: 1,
                slip: barcode(6, 600, false),
            }],
        };
        j.record_cancel(&cancelled, None).unwrap();
        j
    }

    /// [`day_one`], closed with its drawer counted exactly (Z No.1, record 4).
    fn day_one_closed(dir: &TempDir) -> Journal {
        let mut j = day_one(dir);
        j.close_day(
            &close("2026-12-01T22:00:00+09:00", 34_000),
            Yen::new(30_000),
            None,
        )
        .unwrap()
        .unwrap();
        j
    }

    #[test]
    fn voids_and_cancels_are_records_apart_from_the_sales_and_never_in_the_outbox() {
        let dir = TempDir::new().unwrap();
        let j = day_one(&dir);
        // The sales keep their seq without gaps: two sales, two slips to confirm.
        assert_eq!(j.head().unwrap().0, 2);
        assert_eq!(j.pending_summary((0, 0)).unwrap().pending, 2);
        let mut kinds = Vec::new();
        j.for_each_record(|r| {
            kinds.push((r.kind, r.sale_seq));
            Ok(())
        })
        .unwrap();
        assert_eq!(
            kinds,
            [
                (RecordKind::Void, 2),
                (RecordKind::Void, 2),
                (RecordKind::Cancel, 2)
            ]
        );
        let report = j.verify(None).unwrap();
        assert_eq!((report.sales, report.records), (2, Some(3)));
        let x = j
            .x_report(&at("2026-12-01T12:00:00+09:00"), Yen::new(30_000))
            .unwrap();
        assert_eq!(x.business_date, d("2026-12-01"));
        assert_eq!(x.z, None);
        assert_eq!((x.sales.sales, x.sales.total), (2, Yen::new(4_000)));
        assert_eq!(
            x.cancelled,
            CancelCounts {
                sales: 1,
                slips: 2,
                yen: Yen::new(4_500)
            }
        );
        assert_eq!(
            x.voided,
            VoidCounts {
                slips: 2,
                yen: Yen::new(3_100)
            }
        );
        assert_eq!(x.expected, Yen::new(34_000));
    }

    #[test]
    fn the_first_close_of_a_journal_made_before_records_covers_only_the_sales_after_them() {
        let dir = TempDir::new().unwrap();
        let path = dir.path().join("v4.db");
        {
            // A journal of schema 4 (before non-sale records) with two sales, reported by
            // that release's own Z reports.
            let (mut conn, id) = crate::day::tests::journal_at_schema(&path, 4);
            let tx = conn.transaction().unwrap();
            for (n, when) in [
                (1, "2026-11-30T09:00:00+09:00"),
                (2, "2026-11-30T10:00:00+09:00"),
            ] {
                crate::sales::append_sale(
                    &tx,
                    &id,
                    &sale(when, None, vec![barcode(n, 5_000, false)], 5_000),
                )
                .unwrap();
            }
            tx.commit().unwrap();
        }
        let mut j = Journal::open(&path).unwrap();
        j.commit_sale(
            &sale(
                "2026-12-01T09:00:00+09:00",
                None,
                vec![barcode(3, 700, false)],
                1_000,
            ),
            None,
        )
        .unwrap();
        let x = j
            .x_report(&at("2026-12-01T21:00:00+09:00"), Yen::new(30_000))
            .unwrap();
        assert_eq!(
            (x.business_date, x.sales.sales, x.sales.first_seq),
            (d("2026-12-01"), 1, Some(3))
        );
        assert_eq!(x.expected, Yen::new(30_700));
        let z = j
            .close_day(
                &close("2026-12-01T22:00:00+09:00", 30_700),
                Yen::new(30_000),
                None,
            )
            .unwrap()
            .unwrap();
        assert_eq!((z.z, z.sales.sales, z.difference), (Some(1), 1, Some(0)));
        j.verify(None).unwrap();
    }

    #[test]
    fn a_close_is_final_numbered_and_the_next_sales_belong_to_the_next_day() {
        let dir = TempDir::new().unwrap();
        let mut j = day_one(&dir);
        // Some answers first: the report reads the outbox states when it is made.
        j.record_batch(&[SlipAnswer {
            key: (1, 1),
            state: SyncState::Conflict,
            reason: Some("already_paid".into()),
            answered_at_ms: 1,
        }])
        .unwrap();
        let z = j
            .close_day(
                &close("2026-12-01T22:00:00+09:00", 33_900),
                Yen::new(30_000),
                None,
            )
            .unwrap()
            .unwrap();
        assert_eq!((z.z, z.business_date), (Some(1), d("2026-12-01")));
        assert_eq!(z.expected, Yen::new(34_000));
        assert_eq!(
            (z.counted, z.difference),
            (Some(Yen::new(33_900)), Some(-100))
        );
        assert_eq!((z.sales.sync.conflict, z.sales.sync.pending), (1, 1));
        assert_eq!((z.cancelled.sales, z.voided.slips), (1, 2));
        // The same date again: refused, nothing written.
        let refused = j
            .close_day(
                &close("2026-12-01T22:05:00+09:00", 0),
                Yen::new(30_000),
                None,
            )
            .unwrap();
        assert_eq!(
            refused,
            Err(CloseRefused::AlreadyClosed {
                closed: d("2026-12-01"),
                next: d("2026-12-02")
            })
        );
        assert_eq!(j.z_count().unwrap(), 1);
        // A sale made after the close, still on 1 Dec, is 2 Dec's.
        j.commit_sale(
            &sale(
                "2026-12-01T23:00:00+09:00",
                Some(Chain::Lawson),
                vec![barcode(7, 700, false)],
                1_000,
            ),
            None,
        )
        .unwrap();
        let x = j
            .x_report(&at("2026-12-01T23:30:00+09:00"), Yen::new(30_000))
            .unwrap();
        assert_eq!((x.business_date, x.sales.sales), (d("2026-12-02"), 1));
        assert_eq!((x.sales.first_seq, x.cancelled.sales), (Some(3), 0));
        assert_eq!(x.expected, Yen::new(30_700));
        assert!(
            j.close_day(
                &close("2026-12-01T23:59:00+09:00", 0),
                Yen::new(30_000),
                None
            )
            .unwrap()
            .is_err()
        );
        let z2 = j
            .close_day(
                &close("2026-12-02T21:00:00+09:00", 30_700),
                Yen::new(30_000),
                None,
            )
            .unwrap()
            .unwrap();
        assert_eq!((z2.z, z2.business_date), (Some(2), d("2026-12-02")));
        assert_eq!((z2.sales.sales, z2.difference), (1, Some(0)));
        // Each Z report is kept under its number, as it was closed.
        assert_eq!(
            j.z_report(1).unwrap().unwrap().counted,
            Some(Yen::new(33_900))
        );
        assert_eq!(j.z_report(2).unwrap().unwrap().sales.first_seq, Some(3));
        assert_eq!(j.z_report(3).unwrap(), None);
        let v = j.verify(None).unwrap();
        assert_eq!((v.sales, v.records), (3, Some(5)));
    }

    #[test]
    fn verify_catches_a_changed_close_and_a_deleted_record() {
        let dir = TempDir::new().unwrap();
        let j = day_one_closed(&dir);
        j.verify(None).unwrap();
        // The close's counted cash rewritten (its hash no longer matches).
        j.conn
            .execute(
                "UPDATE records SET body = replace(body, '\"counted_yen\":34000', '\"counted_yen\":40000') WHERE kind = 'close'",
                [],
            )
            .unwrap();
        let e = j.verify(None).unwrap_err().to_string();
        assert!(
            e.contains("record 4") && e.contains("does not match its hash"),
            "{e}"
        );
        drop(j);

        // Rewritten with a fresh hash too: its figures no longer add up to its day.
        let dir = TempDir::new().unwrap();
        let j = day_one_closed(&dir);
        let mut record = j.record(4).unwrap().unwrap();
        record.body = record
            .body
            .replace("\"voided_slips\":2", "\"voided_slips\":1");
        let prev = j.record(3).unwrap().unwrap().hash;
        record.hash = record.content_hash(&prev);
        j.conn
            .execute(
                "UPDATE records SET body = ?1, hash = ?2 WHERE seq = 4",
                rusqlite::params![record.body, record.hash],
            )
            .unwrap();
        j.conn
            .execute(
                "UPDATE meta SET value = ?1 WHERE key = 'record_head_hash'",
                [&record.hash],
            )
            .unwrap();
        let e = j.verify(None).unwrap_err().to_string();
        assert!(e.contains("record 4") && e.contains("its figures"), "{e}");
        drop(j);

        // A record deleted at the end: the head says so.
        let dir = TempDir::new().unwrap();
        let j = day_one_closed(&dir);
        j.conn
            .execute("DELETE FROM records WHERE seq = 4", [])
            .unwrap();
        let e = j.verify(None).unwrap_err().to_string();
        assert!(e.contains("head is record 4"), "{e}");
    }

    #[test]
    fn the_export_places_each_record_after_the_sale_it_follows() {
        let dir = TempDir::new().unwrap();
        let j = day_one_closed(&dir);
        let mut out = Vec::new();
        assert_eq!(j.export_with(&mut out, false, true).unwrap(), 6);
        let lines: Vec<serde_json::Value> = String::from_utf8(out)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let kinds: Vec<String> = lines
            .iter()
            .map(|l| match &l["record"] {
                serde_json::Value::String(k) => k.clone(),
                _ => format!("sale {}", l["seq"]),
            })
            .collect();
        assert_eq!(
            kinds,
            ["sale 1", "sale 2", "void", "void", "cancel", "close"]
        );
        assert_eq!(lines[2]["sale"], "completed");
        assert_eq!(lines[2]["slip"]["amount_yen"], 2_500);
        assert_eq!(lines[5]["z"], 1);
        assert_eq!(lines[5]["difference_yen"], 0);
        // Without the flag: the sales only, as always.
        let mut out = Vec::new();
        assert_eq!(j.export(&mut out, false).unwrap(), 2);
    }
}
