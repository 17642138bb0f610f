//! Non-sale records (`migrations/0005_records.sql`): a slip voided from a sale, a cancelled
//! sale, the day close. Each is appended to a hash chain of its own, apart from the sales
//! (so the sales' seq, which the payment network checks for gaps, is untouched), in the
//! transaction of what it belongs to: a completed sale's voids with the sale, a cancelled
//! sale's voids with its cancel record. None is ever put in the outbox: nothing here is a
//! payment the network should hear about.
//!
//! The content is canonical JSON (the serde field order of the types below), hashed as
//! stored; `verify` parses it back and checks each close's figures against its day.

use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};

use super::record::{GENESIS_HASH, RecordKind, RegisterRecord, journal_time};
use super::{Journal, JournalError, ReplayProgress};
use crate::failpoint;
use konbini_domain::Chain;
use konbini_register::{CancelledSale, Slip, SlipKind, Voided};

/// A slip as a non-sale record keeps it: what it would have paid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordSlip {
    /// When it was scanned or keyed in, RFC 3339 in Japan time.
    pub at: String,
    /// Its amount in yen.
    pub amount_yen: u64,
    /// Whether it needed a revenue stamp.
    pub stamp: bool,
    /// A bill barcode's 44 digits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub barcode: Option<String>,
    /// A keyed-in payment's chain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chain: Option<Chain>,
    /// A keyed-in payment's code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_code: Option<String>,
    /// A keyed-in payment's confirmation number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirmation_number: Option<String>,
    /// The network's payment id of a keyed-in payment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment: Option<String>,
    /// The merchant of a keyed-in payment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merchant: Option<String>,
}

impl RecordSlip {
    /// The record of `slip`.
    pub fn of(slip: &Slip) -> RecordSlip {
        let mut r = RecordSlip {
            at: journal_time(&slip.at),
            amount_yen: slip.amount().get(),
            stamp: slip.needs_stamp(),
            barcode: None,
            chain: None,
            payment_code: None,
            confirmation_number: None,
            payment: None,
            merchant: None,
        };
        match &slip.kind {
            SlipKind::Barcode(code) => r.barcode = Some(code.as_str().to_owned()),
            SlipKind::KeyIn { reference, payment } => {
                r.chain = Some(reference.chain);
                r.payment_code = Some(reference.payment_code.clone());
                r.confirmation_number = Some(reference.confirmation_number.clone());
                r.payment = Some(payment.payment.clone());
                r.merchant = Some(payment.merchant.clone());
            }
        }
        r
    }
}

/// How the sale a slip was voided from ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VoidedFrom {
    /// It was completed (the record's `sale_seq` is that sale).
    Completed,
    /// It was cancelled (the cancel record follows).
    Cancelled,
}

/// A void record's content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VoidBody {
    /// The register.
    pub terminal: String,
    /// How the sale it was voided from ended.
    pub sale: VoidedFrom,
    /// Its 1-based position in the open sale when it was voided.
    pub position: u32,
    /// The slip.
    pub slip: RecordSlip,
}

/// A cancel record's content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CancelBody {
    /// The register.
    pub terminal: String,
    /// The slips the sale held when it was cancelled (handed back).
    pub slips: Vec<RecordSlip>,
    /// Their sum.
    pub total_yen: u64,
    /// Cash that had been handed over (handed back).
    pub tendered_yen: u64,
    /// Slips voided from it before the cancel (each has its own record, just before).
    pub voided: u64,
}

/// The record chain's head: its last seq and hash (`""` while empty).
pub(crate) fn head(conn: &Connection) -> rusqlite::Result<(u64, String)> {
    conn.prepare_cached(
        "SELECT (SELECT value FROM meta WHERE key = 'record_head_seq'),
                (SELECT value FROM meta WHERE key = 'record_head_hash')",
    )?
    .query_row([], |r| {
        let seq: Option<String> = r.get(0)?;
        let hash: Option<String> = r.get(1)?;
        let seq = seq.unwrap_or_default().parse::<u64>().map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, e.into())
        })?;
        Ok((seq, hash.unwrap_or_default()))
    })
}

/// The sales chain's head seq (0 while empty).
pub(crate) fn sale_head(conn: &Connection) -> rusqlite::Result<u64> {
    let v: String = conn
        .prepare_cached("SELECT value FROM meta WHERE key = 'head_seq'")?
        .query_row([], |r| r.get(0))?;
    v.parse::<u64>().map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, e.into())
    })
}

/// Append one record after the chain's head, inside the caller's write transaction.
pub(crate) fn append(
    tx: &Connection,
    kind: RecordKind,
    at: &str,
    sale_seq: u64,
    business_date: Option<&str>,
    body: String,
) -> rusqlite::Result<RegisterRecord> {
    let (head_seq, head_hash) = head(tx)?;
    let prev = if head_seq == 0 {
        GENESIS_HASH.to_owned()
    } else {
        head_hash
    };
    let mut record = RegisterRecord {
        seq: head_seq + 1,
        kind,
        at: at.to_owned(),
        sale_seq,
        business_date: business_date.map(str::to_owned),
        body,
        hash: String::new(),
    };
    record.hash = record.content_hash(&prev);
    tx.prepare_cached(
        "INSERT INTO records (seq, kind, at, sale_seq, business_date, body, hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        record.seq as i64,
        kind.as_str(),
        record.at,
        record.sale_seq as i64,
        record.business_date,
        record.body,
        record.hash,
    ])?;
    let mut meta = tx.prepare_cached("UPDATE meta SET value = ?2 WHERE key = ?1")?;
    meta.execute(params!["record_head_seq", record.seq.to_string()])?;
    meta.execute(params!["record_head_hash", record.hash])?;
    Ok(record)
}

/// A void record for each of `voided`, in order.
pub(crate) fn append_voids(
    tx: &Connection,
    terminal: &str,
    from: VoidedFrom,
    sale_seq: u64,
    voided: &[Voided],
) -> rusqlite::Result<()> {
    for v in voided {
        let body = VoidBody {
            terminal: terminal.to_owned(),
            sale: from,
            position: v.position,
            slip: RecordSlip::of(&v.slip),
        };
        append(
            tx,
            RecordKind::Void,
            &journal_time(&v.at),
            sale_seq,
            None,
            serde_json::to_string(&body).expect("records serialize"),
        )?;
    }
    Ok(())
}

const RECORD_COLUMNS: &str =
    "SELECT seq, kind, at, sale_seq, business_date, body, hash FROM records";

fn record_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<RegisterRecord> {
    let kind: String = row.get(1)?;
    Ok(RegisterRecord {
        seq: row.get::<_, i64>(0)? as u64,
        kind: RecordKind::parse(&kind).ok_or_else(|| {
            rusqlite::Error::FromSqlConversionFailure(
                1,
                rusqlite::types::Type::Text,
                format!("unknown record kind {kind:?}").into(),
            )
        })?,
        at: row.get(2)?,
        sale_seq: row.get::<_, i64>(3)? as u64,
        business_date: row.get(4)?,
        body: row.get(5)?,
        hash: row.get(6)?,
    })
}

impl Journal {
    /// Whether this journal has the non-sale records (schema 5; a read-only open of an
    /// older journal reads it as having none).
    pub(crate) fn has_records(&self) -> Result<bool, JournalError> {
        let schema: i64 = self
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(self.err())?;
        Ok(schema >= 5)
    }

    /// Record a cancelled sale durably: a void record for each slip voided from it, then
    /// its cancel record, in one transaction (with where a replay got to, if given).
    /// Nothing goes to the outbox. Returns the cancel record's number.
    pub fn record_cancel(
        &mut self,
        cancelled: &CancelledSale,
        progress: Option<(&str, &ReplayProgress)>,
    ) -> Result<u64, JournalError> {
        let err = super::sqlite_error(&self.path);
        let tx = super::WriteTx::begin(&mut self.conn, self.group, &self.path)?;
        let written = (|| {
            let sale_seq = sale_head(&tx)?;
            let terminal = &cancelled.station.terminal;
            append_voids(
                &tx,
                terminal,
                VoidedFrom::Cancelled,
                sale_seq,
                &cancelled.voided,
            )?;
            let body = CancelBody {
                terminal: terminal.clone(),
                slips: cancelled.slips.iter().map(RecordSlip::of).collect(),
                total_yen: cancelled.total().get(),
                tendered_yen: cancelled.tendered.get(),
                voided: cancelled.voided.len() as u64,
            };
            let record = append(
                &tx,
                RecordKind::Cancel,
                &journal_time(&cancelled.at),
                sale_seq,
                None,
                serde_json::to_string(&body).expect("records serialize"),
            )?;
            if let Some((log_sha256, progress)) = progress {
                progress.save(&tx, log_sha256)?;
            }
            Ok(record.seq)
        })()
        .map_err(&err)?;
        if tx.is_own() {
            failpoint::hit("journal-before-commit");
            tx.commit().map_err(&err)?;
            failpoint::hit("journal-after-commit");
        }
        Ok(written)
    }

    /// The record chain's head: how many records, and the last one's hash.
    pub fn record_head(&self) -> Result<(u64, Option<String>), JournalError> {
        if !self.has_records()? {
            return Ok((0, None));
        }
        let (seq, hash) = head(&self.conn).map_err(self.err())?;
        Ok((seq, (seq > 0).then_some(hash)))
    }

    /// Record `seq`, if there is one.
    pub fn record(&self, seq: u64) -> Result<Option<RegisterRecord>, JournalError> {
        if !self.has_records()? {
            return Ok(None);
        }
        self.conn
            .prepare_cached(&format!("{RECORD_COLUMNS} WHERE seq = ?1"))
            .and_then(|mut st| st.query_row([seq as i64], record_from_row).optional())
            .map_err(self.err())
    }

    /// Visit every record in order, without loading them all.
    pub fn for_each_record(
        &self,
        mut visit: impl FnMut(RegisterRecord) -> Result<(), JournalError>,
    ) -> Result<(), JournalError> {
        if !self.has_records()? {
            return Ok(());
        }
        let mut st = self
            .conn
            .prepare(&format!("{RECORD_COLUMNS} ORDER BY seq"))
            .map_err(self.err())?;
        let mut rows = st.query([]).map_err(self.err())?;
        while let Some(row) = rows.next().map_err(self.err())? {
            let seq = row.get::<_, i64>(0).map_err(self.err())? as u64;
            let record = record_from_row(row).map_err(|e| JournalError::TamperedRow {
                path: self.path.clone(),
                row: format!("record {seq}"),
                problem: format!("cannot be read ({e})"),
            })?;
            visit(record)?;
        }
        Ok(())
    }
}
