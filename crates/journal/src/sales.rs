//! Committing a sale (one `BEGIN IMMEDIATE` transaction), or a batch of sales (one
//! transaction for all of them, written sale by sale exactly as one at a time), and reading
//! sales back.

use rusqlite::{OptionalExtension, Row, params};

use super::record::{GENESIS_HASH, SaleRecord, SlipPay, SlipRecord, SyncState};
use super::{Journal, JournalError, ReplayProgress};
use crate::failpoint;
use konbini_domain::{Chain, Yen};
use konbini_register::{NewSale, Store, Voided};

/// A sale now in the journal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Committed {
    /// Its sequence number (also its receipt number).
    pub seq: u64,
    /// Its hash: the new head of the chain.
    pub hash: String,
}

impl Journal {
    /// Record `sale` durably: the sale, its slips, their outbox rows, its print job and the
    /// new chain head, plus where a replay got to if `progress` is given, in one
    /// transaction. When this returns Ok the sale survives a crash or power loss.
    pub fn commit_sale(
        &mut self,
        sale: &NewSale,
        progress: Option<(&str, &ReplayProgress)>,
    ) -> Result<Committed, JournalError> {
        self.commit_sale_voided(sale, &[], progress)
    }

    /// [`Journal::commit_sale`], with a void record (`records.rs`) of each slip voided from
    /// the sale before it was completed, in the same transaction: the sale and its voids
    /// are in the journal together or not at all.
    pub fn commit_sale_voided(
        &mut self,
        sale: &NewSale,
        voided: &[Voided],
        progress: Option<(&str, &ReplayProgress)>,
    ) -> Result<Committed, JournalError> {
        let err = super::sqlite_error(&self.path);
        let tx = super::WriteTx::begin(&mut self.conn, self.group, &self.path)?;
        let committed = append_sale(&tx, &self.journal_id, sale).map_err(&err)?;
        if !voided.is_empty() {
            super::records::append_voids(
                &tx,
                &sale.station.terminal,
                super::records::VoidedFrom::Completed,
                committed.seq,
                voided,
            )
            .map_err(&err)?;
        }
        if let Some((log_sha256, progress)) = progress {
            progress.save(&tx, log_sha256).map_err(&err)?;
        }
        // In a group the sale is written, not yet committed: the group's commit is.
        if tx.is_own() {
            failpoint::hit("journal-before-commit");
            tx.commit().map_err(&err)?;
            failpoint::hit("journal-after-commit");
        }
        Ok(committed)
    }

    /// Record every sale of `sales`, in order, in ONE transaction: the same rows, chain,
    /// outbox rows and print jobs as [`Journal::commit_sale`] once per sale (without replay
    /// progress), but one `COMMIT` and one sync to disk for all of them. All or nothing: if
    /// any sale cannot be written (a slip already paid, a full disk), none is. For imports
    /// and benchmarks; the register commits each sale as it completes.
    pub fn commit_sales(&mut self, sales: &[NewSale]) -> Result<Vec<Committed>, JournalError> {
        if sales.is_empty() {
            return Ok(Vec::new());
        }
        let err = super::sqlite_error(&self.path);
        let tx = super::WriteTx::begin(&mut self.conn, self.group, &self.path)?;
        let committed = sales
            .iter()
            .map(|sale| append_sale(&tx, &self.journal_id, sale))
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(&err)?;
        if tx.is_own() {
            failpoint::hit("journal-before-commit");
            tx.commit().map_err(&err)?;
            failpoint::hit("journal-after-commit");
        }
        Ok(committed)
    }

    /// Whether a slip with this pay key (see `Slip::pay_key`) was paid in any sale.
    pub fn is_paid(&self, pay_key: &str) -> Result<bool, JournalError> {
        self.conn
            .prepare_cached("SELECT 1 FROM slips WHERE pay_key = ?1")
            .and_then(|mut st| st.exists([pay_key]))
            .map_err(self.err())
    }

    /// How many sales, and the newest one's hash (None while empty).
    pub fn head(&self) -> Result<(u64, Option<String>), JournalError> {
        let (seq, hash) = head_of(&self.conn).map_err(self.err())?;
        Ok((seq, (seq > 0).then_some(hash)))
    }

    /// Sale `seq`, with its slips, or None.
    pub fn sale(&self, seq: u64) -> Result<Option<SaleRecord>, JournalError> {
        let sale = self
            .conn
            .prepare_cached(&format!("{SALE_COLUMNS} WHERE seq = ?1"))
            .and_then(|mut st| st.query_row([seq as i64], sale_from_row).optional())
            .map_err(self.err())?;
        match sale {
            Some(mut sale) => {
                sale.slips = self.slips_of(sale.seq)?;
                Ok(Some(sale))
            }
            None => Ok(None),
        }
    }

    /// Visit every sale in journal order, slips included, without loading them all. A row
    /// that cannot be read is reported as tampering with that sale.
    pub fn for_each_sale(
        &self,
        mut visit: impl FnMut(SaleRecord) -> Result<(), JournalError>,
    ) -> Result<(), JournalError> {
        let mut st = self
            .conn
            .prepare(&format!("{SALE_COLUMNS} ORDER BY seq"))
            .map_err(self.err())?;
        let mut rows = st.query([]).map_err(self.err())?;
        while let Some(row) = rows.next().map_err(self.err())? {
            let seq = row.get::<_, i64>(0).map_err(self.err())? as u64;
            let unreadable = |e: rusqlite::Error| match e {
                rusqlite::Error::FromSqlConversionFailure(..)
                | rusqlite::Error::InvalidColumnType(..)
                | rusqlite::Error::IntegralValueOutOfRange(..) => JournalError::Tampered {
                    path: self.path.clone(),
                    seq,
                    problem: format!("cannot be read ({e})"),
                },
                other => super::sqlite_error(&self.path)(other),
            };
            let mut sale = sale_from_row(row).map_err(unreadable)?;
            sale.slips = self.read_slips(seq).map_err(unreadable)?;
            visit(sale)?;
        }
        Ok(())
    }

    pub(super) fn slips_of(&self, seq: u64) -> Result<Vec<SlipRecord>, JournalError> {
        self.read_slips(seq).map_err(self.err())
    }

    fn read_slips(&self, seq: u64) -> rusqlite::Result<Vec<SlipRecord>> {
        self.conn
            .prepare_cached(
                "SELECT s.sale_seq, s.idx, s.at, s.barcode, s.chain, s.payment_code,
                        s.confirmation_number, s.payment, s.merchant, s.amount_yen, s.stamp,
                        o.state
                 FROM slips s LEFT JOIN outbox o ON o.sale_seq = s.sale_seq AND o.idx = s.idx
                 WHERE s.sale_seq = ?1 ORDER BY s.idx",
            )?
            .query_map([seq as i64], |row| slip_from_row(row, &self.journal_id))?
            .collect()
    }
}

const SALE_COLUMNS: &str = "SELECT seq, at, terminal, store_code, store_chain, store_name,
        total_yen, tendered_yen, change_yen, prev_hash, hash FROM sales";

fn head_of(conn: &rusqlite::Connection) -> rusqlite::Result<(u64, String)> {
    let mut st = conn.prepare_cached(
        "SELECT (SELECT value FROM meta WHERE key = 'head_seq'),
                (SELECT value FROM meta WHERE key = 'head_hash')",
    )?;
    st.query_row([], |r| {
        let seq: String = r.get(0)?;
        let hash: String = r.get(1)?;
        let seq = seq.parse::<u64>().map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, e.into())
        })?;
        Ok((seq, hash))
    })
}

/// Write `sale` as the next sale after the chain head, inside the caller's write
/// transaction: its row, slips, outbox rows, print job and the new head. The
/// one place a sale is written, for [`Journal::commit_sale`] and [`Journal::commit_sales`].
pub(super) fn append_sale(
    tx: &rusqlite::Connection,
    journal_id: &str,
    sale: &NewSale,
) -> rusqlite::Result<Committed> {
    let (head_seq, head_hash) = head_of(tx)?;
    let seq = head_seq + 1;
    let prev = if head_seq == 0 {
        GENESIS_HASH.to_owned()
    } else {
        head_hash
    };
    let record = SaleRecord::from_new(seq, sale, journal_id, &prev);
    insert_sale(tx, &record)?;
    Ok(Committed {
        seq,
        hash: record.hash,
    })
}

fn insert_sale(tx: &rusqlite::Connection, r: &SaleRecord) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "INSERT INTO sales (seq, at, terminal, store_code, store_chain, store_name,
                            total_yen, tendered_yen, change_yen, prev_hash, hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )?
    .execute(params![
        r.seq as i64,
        r.at,
        r.terminal,
        r.store.code,
        r.store.chain.map(Chain::as_str),
        r.store.name,
        i64::from(r.total),
        i64::from(r.tendered),
        i64::from(r.change),
        r.prev_hash,
        r.hash,
    ])?;
    let mut slip_st = tx.prepare_cached(
        "INSERT INTO slips (sale_seq, idx, at, barcode, chain, payment_code,
                            confirmation_number, payment, merchant, amount_yen, stamp)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )?;
    let mut outbox_st = tx.prepare_cached("INSERT INTO outbox (sale_seq, idx) VALUES (?1, ?2)")?;
    for s in &r.slips {
        let [barcode, chain, code, conf, payment, merchant] = slip_columns(&s.pay);
        slip_st.execute(params![
            r.seq as i64,
            s.idx,
            s.at,
            barcode,
            chain,
            code,
            conf,
            payment,
            merchant,
            i64::from(s.amount),
            s.stamp,
        ])?;
        outbox_st.execute(params![r.seq as i64, s.idx])?;
    }
    tx.prepare_cached("INSERT INTO print_queue (sale_seq) VALUES (?1)")?
        .execute([r.seq as i64])?;
    let mut meta = tx.prepare_cached("UPDATE meta SET value = ?2 WHERE key = ?1")?;
    meta.execute(params!["head_seq", r.seq.to_string()])?;
    meta.execute(params!["head_hash", r.hash])?;
    Ok(())
}

pub(super) fn yen(row: &Row<'_>, idx: usize) -> rusqlite::Result<Yen> {
    let v: i64 = row.get(idx)?;
    Yen::try_from(v).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(idx, rusqlite::types::Type::Integer, e.into())
    })
}

pub(super) fn chain(row: &Row<'_>, idx: usize) -> rusqlite::Result<Option<Chain>> {
    let v: Option<String> = row.get(idx)?;
    v.map(|s| {
        s.parse::<Chain>().map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(idx, rusqlite::types::Type::Text, e.into())
        })
    })
    .transpose()
}

fn sale_from_row(row: &Row<'_>) -> rusqlite::Result<SaleRecord> {
    Ok(SaleRecord {
        seq: row.get::<_, i64>(0)? as u64,
        at: row.get(1)?,
        terminal: row.get(2)?,
        store: Store {
            code: row.get(3)?,
            chain: chain(row, 4)?,
            name: row.get(5)?,
        },
        total: yen(row, 6)?,
        tendered: yen(row, 7)?,
        change: yen(row, 8)?,
        slips: Vec::new(),
        prev_hash: row.get(9)?,
        hash: row.get(10)?,
    })
}

/// A slip's six pay columns as written: `barcode`, `chain`, `payment_code`,
/// `confirmation_number`, `payment`, `merchant` (read back by [`slip_pay`]).
pub(super) fn slip_columns(pay: &SlipPay) -> [Option<&str>; 6] {
    match pay {
        SlipPay::Barcode(d) => [Some(d.as_str()), None, None, None, None, None],
        SlipPay::KeyIn {
            chain,
            payment_code,
            confirmation_number,
            payment,
            merchant,
        } => [
            None,
            Some(chain.as_str()),
            Some(payment_code.as_str()),
            Some(confirmation_number.as_str()),
            Some(payment.as_str()),
            Some(merchant.as_str()),
        ],
    }
}

/// What a slip paid, from its row's six columns from `first` on, as [`slip_columns`]
/// writes them.
pub(super) fn slip_pay(row: &Row<'_>, first: usize) -> rusqlite::Result<SlipPay> {
    let barcode: Option<String> = row.get(first)?;
    Ok(match barcode {
        Some(digits) => SlipPay::Barcode(digits),
        None => SlipPay::KeyIn {
            chain: chain(row, first + 1)?.ok_or(rusqlite::Error::InvalidColumnType(
                first + 1,
                "chain".into(),
                rusqlite::types::Type::Null,
            ))?,
            payment_code: row.get::<_, Option<String>>(first + 2)?.unwrap_or_default(),
            confirmation_number: row.get::<_, Option<String>>(first + 3)?.unwrap_or_default(),
            payment: row.get::<_, Option<String>>(first + 4)?.unwrap_or_default(),
            merchant: row.get::<_, Option<String>>(first + 5)?.unwrap_or_default(),
        },
    })
}

fn slip_from_row(row: &Row<'_>, journal_id: &str) -> rusqlite::Result<SlipRecord> {
    let pay = slip_pay(row, 3)?;
    // Read as what it is: an outbox state that is not one (caught and named by verify)
    // must not make the slip unreadable.
    let sync = match row.get_ref(11)? {
        rusqlite::types::ValueRef::Text(t) => std::str::from_utf8(t).ok(),
        _ => None,
    };
    let seq: i64 = row.get(0)?;
    let idx: u32 = row.get(1)?;
    Ok(SlipRecord {
        id: super::record::slip_id(journal_id, seq as u64, idx),
        idx,
        at: row.get(2)?,
        pay,
        amount: yen(row, 9)?,
        stamp: row.get(10)?,
        // A slip without an outbox row, or with a state that is none, is caught by
        // verify; read it as pending.
        sync: sync
            .and_then(SyncState::parse)
            .unwrap_or(SyncState::Pending),
    })
}
