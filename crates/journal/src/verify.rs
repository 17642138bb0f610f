//! Verification: the hash chain and the invariants, sale by sale, naming the first bad sale;
//! then the rows that are not sales, naming the first bad one: the verdict chain, the outbox
//! against it and the print queue.
//! Catches a changed sale or slip (its hash no longer matches), a deleted sale (a gap, or a
//! head that no longer matches), an inserted sale (a broken link) and reordered sales (seq is
//! part of the hashed content); the same of verdict records; an outbox state that no verdict
//! record proves (a row made `sent` by hand, so never sent) or that went back; a value SQLite
//! stored but no konbini writes (a one-byte change of the file), reported as that row's,
//! whether or not SQLite's own check noticed it.

use rusqlite::types::ValueRef;

use super::record::{GENESIS_HASH, SaleRecord, SlipPay, SyncState, VerdictRecord};
use super::{Journal, JournalError};
use konbini_domain::{BillBarcode, Yen};

/// What a successful verification covered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    /// Sales checked.
    pub sales: u64,
    /// Slips checked.
    pub slips: u64,
    /// The newest sale's hash (None when empty).
    pub head: Option<String>,
    /// Verdict records checked, which prove every outbox state; None for a journal made
    /// before there were any (schema 3 or older, not yet opened by a writer of this
    /// version): its outbox states were only checked to be states.
    pub verdicts: Option<u64>,
    /// Non-sale records checked (voids, cancels, closes: their chain, and each close's
    /// figures against its day); None for a journal made before there were any (schema 4
    /// or older, not yet opened by a writer of this version).
    pub records: Option<u64>,
}

impl Journal {
    /// Check SQLite's own integrity, then every sale in order, then the verdict chain, the
    /// outbox and the print queue, all in one read snapshot (a writer may go on meanwhile).
    /// The first problem is the error. With `expect_head`, the chain must also end at that
    /// hash: a head kept elsewhere (the payment network keeps each terminal's) catches
    /// sales removed or rewritten together with the local head.
    ///
    /// When SQLite's check fails, the walk still runs: a value of the wrong type or outside
    /// its column's rule (which SQLite's check reports by table only) is named as the row
    /// it is in; anything else is [`JournalError::Damaged`] with SQLite's words.
    pub fn verify(&self, expect_head: Option<&str>) -> Result<VerifyReport, JournalError> {
        let snapshot = self.conn.unchecked_transaction().map_err(self.err())?;
        let integrity = self.quick_check()?;
        let walked = self.walk(expect_head);
        drop(snapshot);
        match integrity {
            None => walked,
            Some(detail) => Err(match walked {
                Err(e @ (JournalError::Tampered { .. } | JournalError::TamperedRow { .. })) => e,
                _ => JournalError::Damaged {
                    path: self.path.clone(),
                    detail: format!("SQLite's integrity check failed: {detail}"),
                },
            }),
        }
    }

    /// SQLite's `quick_check`: None when "ok", else its first few findings.
    fn quick_check(&self) -> Result<Option<String>, JournalError> {
        let mut st = self
            .conn
            .prepare("PRAGMA quick_check(10)")
            .map_err(self.err())?;
        let found: Vec<String> = st
            .query_map([], |r| r.get(0))
            .and_then(|rows| rows.collect())
            .map_err(self.err())?;
        Ok((found != ["ok"]).then(|| found.join("; ")))
    }

    fn walk(&self, expect_head: Option<&str>) -> Result<VerifyReport, JournalError> {
        let mut expected_seq = 1u64;
        let mut prev = GENESIS_HASH.to_owned();
        let mut slips = 0u64;
        self.for_each_sale(|sale| {
            let bad = |seq: u64, problem: String| JournalError::Tampered {
                path: self.path.clone(),
                seq,
                problem,
            };
            if sale.seq != expected_seq {
                return Err(bad(
                    expected_seq,
                    format!("is missing (the next sale is {})", sale.seq),
                ));
            }
            if sale.prev_hash != prev {
                return Err(bad(
                    sale.seq,
                    "does not follow the sale before it (a sale was inserted, deleted or moved)"
                        .to_owned(),
                ));
            }
            if let Some(problem) = self.invariant_problem(&sale)? {
                return Err(bad(sale.seq, problem));
            }
            if sale.content_hash() != sale.hash {
                return Err(bad(
                    sale.seq,
                    "its content does not match its hash (it was changed)".to_owned(),
                ));
            }
            slips += sale.slips.len() as u64;
            prev = sale.hash;
            expected_seq += 1;
            Ok(())
        })?;
        let sales = expected_seq - 1;
        let (head_seq, head_hash) = self.head()?;
        if head_seq != sales || (sales > 0 && head_hash.as_deref() != Some(prev.as_str())) {
            return Err(JournalError::Tampered {
                path: self.path.clone(),
                seq: head_seq.max(sales),
                problem: format!(
                    "the journal's head is sale {head_seq} but the chain ends at sale {sales} \
                     (a sale was deleted or added at the end)"
                ),
            });
        }
        let schema: i64 = self
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(self.err())?;
        // Schema 4 added the verdict chain.
        let verdicts = if schema >= 4 {
            Some(self.walk_verdicts()?)
        } else {
            None
        };
        // Schema 5 added the non-sale records.
        let records = if schema >= 5 {
            Some(self.walk_records(sales)?)
        } else {
            None
        };
        self.walk_outbox(verdicts.is_some())?;
        self.walk_prints(sales)?;
        let orphans: i64 = self
            .conn
            .query_row(
                "SELECT count(*) FROM slips WHERE sale_seq NOT IN (SELECT seq FROM sales)",
                [],
                |r| r.get(0),
            )
            .map_err(self.err())?;
        if orphans > 0 {
            return Err(JournalError::Tampered {
                path: self.path.clone(),
                seq: sales + 1,
                problem: format!("{orphans} slips belong to no sale"),
            });
        }
        if let Some(expected) = expect_head
            && expected != prev
        {
            return Err(JournalError::Tampered {
                path: self.path.clone(),
                seq: sales,
                problem: format!(
                    "the chain ends at hash {prev}, not the expected {expected} \
                     (sales were removed or rewritten)"
                ),
            });
        }
        Ok(VerifyReport {
            sales,
            slips,
            head: (sales > 0).then_some(prev),
            verdicts,
            records,
        })
    }

    /// The invariants a sale must keep whatever its hash says. (Its outbox rows and print
    /// job are checked with all the others, by [`Journal::walk_outbox`] and
    /// [`Journal::walk_prints`].)
    fn invariant_problem(&self, sale: &SaleRecord) -> Result<Option<String>, JournalError> {
        if sale.slips.is_empty() {
            return Ok(Some("has no slips".to_owned()));
        }
        for (slip, idx) in sale.slips.iter().zip(1u32..) {
            if slip.idx != idx {
                return Ok(Some(format!("slip {idx} is missing")));
            }
            if let SlipPay::Barcode(digits) = &slip.pay {
                match BillBarcode::parse(digits) {
                    Ok(code)
                        if code.amount() == slip.amount && code.needs_stamp() == slip.stamp => {}
                    Ok(_) => {
                        return Ok(Some(format!(
                            "slip {idx}'s amount or stamp differs from its barcode"
                        )));
                    }
                    Err(e) => return Ok(Some(format!("slip {idx}'s barcode is invalid: {e}"))),
                }
            }
        }
        let total = sale
            .slips
            .iter()
            .try_fold(Yen::ZERO, |sum, s| sum.checked_add(s.amount));
        if total != Some(sale.total) {
            return Ok(Some("its total is not the sum of its slips".to_owned()));
        }
        if sale.tendered.checked_sub(sale.total) != Some(sale.change) {
            return Ok(Some("its change is not tendered minus total".to_owned()));
        }
        Ok(None)
    }
}

/// A verdict record as the outbox walk steps through them.
struct Covering {
    first: (i64, i64),
    last: (i64, i64),
    state: String,
    seq: i64,
    /// Its last row was found.
    last_seen: bool,
}

/// A stored value as a message shows it.
fn describe(v: ValueRef<'_>) -> String {
    match v {
        ValueRef::Null => "NULL".to_owned(),
        ValueRef::Integer(i) => i.to_string(),
        ValueRef::Real(f) => format!("the real number {f}"),
        ValueRef::Text(t) => {
            let t = String::from_utf8_lossy(t);
            let short: String = t.chars().take(40).collect();
            if short.len() < t.len() {
                format!("'{short}...'")
            } else {
                format!("'{short}'")
            }
        }
        ValueRef::Blob(b) => format!("a blob of {} bytes", b.len()),
    }
}

/// An outbox or print-queue state as stored: its text, or what it is instead.
fn state_text(v: ValueRef<'_>) -> Result<&str, String> {
    match v {
        ValueRef::Text(t) => std::str::from_utf8(t).map_err(|_| describe(v)),
        _ => Err(describe(v)),
    }
}

/// A key part: a positive integer that fits `max`.
fn key_part(v: ValueRef<'_>, max: i64) -> Option<u64> {
    match v {
        ValueRef::Integer(i) if i > 0 && i <= max => Some(i as u64),
        _ => None,
    }
}

impl Journal {
    fn tampered_row(&self, row: String, problem: String) -> JournalError {
        JournalError::TamperedRow {
            path: self.path.clone(),
            row,
            problem,
        }
    }

    /// The non-sale records in order: numbered 1, 2, 3 ... without gaps, each one's hash
    /// over the previous one's and its content, the head in `meta` at the end; each placed
    /// after a sale that exists and never before the one placing the record before it;
    /// each one's content of its kind; and each close's figures those of its day's sales
    /// and records, added up again. The number of records.
    fn walk_records(&self, sales: u64) -> Result<u64, JournalError> {
        let mut prev = GENESIS_HASH.to_owned();
        let mut expected = 1u64;
        let mut last_sale = 0u64;
        let after_sale = super::close::records_after_sale(&self.conn).map_err(self.err())?;
        let mut closes = super::close::CloseCheck::new(after_sale);
        self.for_each_record(|record| {
            let row = format!("record {}", record.seq);
            if record.seq != expected {
                return Err(self.tampered_row(
                    format!("record {expected}"),
                    format!("is missing (the next record is {})", record.seq),
                ));
            }
            if record.content_hash(&prev) != record.hash {
                return Err(self.tampered_row(
                    row,
                    "its content does not match its hash (it was changed, or a record \
                     before it was removed or moved)"
                        .to_owned(),
                ));
            }
            if record.sale_seq < last_sale || record.sale_seq > sales {
                return Err(self.tampered_row(
                    row,
                    format!(
                        "it follows sale {}, which is not between the sale the record \
                         before it follows ({last_sale}) and the last sale ({sales})",
                        record.sale_seq
                    ),
                ));
            }
            let problem = match record.kind {
                super::RecordKind::Void => serde_json::from_str::<super::VoidBody>(&record.body)
                    .err()
                    .map(|e| format!("its content is not a void's ({e})")),
                super::RecordKind::Cancel => {
                    serde_json::from_str::<super::CancelBody>(&record.body)
                        .err()
                        .map(|e| format!("its content is not a cancel's ({e})"))
                }
                super::RecordKind::Close => closes.check(
                    &self.conn,
                    &self.path,
                    record.seq,
                    record.sale_seq,
                    record.business_date.as_deref(),
                    &record.body,
                )?,
            };
            if let Some(problem) = problem {
                return Err(self.tampered_row(row, problem));
            }
            last_sale = record.sale_seq;
            prev = record.hash;
            expected += 1;
            Ok(())
        })?;
        let count = expected - 1;
        let (head_seq, head_hash) = super::records::head(&self.conn).map_err(|e| {
            self.tampered_row(
                "the record chain's head in meta".to_owned(),
                format!("cannot be read ({e})"),
            )
        })?;
        if head_seq != count || (count > 0 && head_hash != prev) {
            return Err(self.tampered_row(
                format!("record {}", head_seq.max(count)),
                format!(
                    "the record chain's head is record {head_seq} but the chain ends at \
                     record {count} (a record was deleted or added at the end)"
                ),
            ));
        }
        Ok(count)
    }

    /// The verdict chain in order: numbered 1, 2, 3 ... without gaps, each record readable,
    /// its hash over the previous one's and its content, and the head in `meta` at its end.
    /// The number of records.
    fn walk_verdicts(&self) -> Result<u64, JournalError> {
        let err = self.err();
        let mut st = self
            .conn
            .prepare(
                "SELECT seq, sale_seq, idx, last_sale_seq, last_idx, state, answered_at,
                        detail, hash
                 FROM verdicts ORDER BY seq",
            )
            .map_err(&err)?;
        let mut rows = st.query([]).map_err(&err)?;
        let mut prev = GENESIS_HASH.to_owned();
        let mut expected = 1u64;
        while let Some(r) = rows.next().map_err(&err)? {
            let cell = |i| r.get_ref(i).map_err(&err);
            // An INTEGER PRIMARY KEY is always an integer.
            let seq = r.get::<_, i64>(0).map_err(&err)?;
            if seq != expected as i64 {
                return Err(self.tampered_row(
                    format!("verdict record {expected}"),
                    format!("is missing (the next record is {seq})"),
                ));
            }
            let row = format!("verdict record {seq}");
            let unreadable = |what: &str, v: ValueRef<'_>| {
                self.tampered_row(
                    row.clone(),
                    format!("its {what} {} cannot be read", describe(v)),
                )
            };
            let key = |at: usize| -> Result<(u64, u32), JournalError> {
                let (a, b) = (cell(at)?, cell(at + 1)?);
                match (key_part(a, i64::MAX), key_part(b, i64::from(u32::MAX))) {
                    (Some(s), Some(i)) => Ok((s, i as u32)),
                    (None, _) => Err(unreadable("sale", a)),
                    (_, None) => Err(unreadable("slip", b)),
                }
            };
            let (first, last) = (key(1)?, key(3)?);
            if last < first {
                return Err(self.tampered_row(
                    row,
                    "its range of outbox rows ends before it starts".to_owned(),
                ));
            }
            let state = match state_text(cell(5)?).map(SyncState::parse) {
                Ok(Some(s)) if s != SyncState::Pending => s,
                _ => {
                    return Err(self.tampered_row(
                        row,
                        format!("its state {} is not a verdict's", describe(cell(5)?)),
                    ));
                }
            };
            let answered_at_ms = match cell(6)? {
                ValueRef::Null => None,
                ValueRef::Integer(ms) => Some(ms),
                v => return Err(unreadable("time", v)),
            };
            let detail = match cell(7)? {
                ValueRef::Null => None,
                ValueRef::Text(t) => Some(String::from_utf8_lossy(t).into_owned()),
                v => return Err(unreadable("reason", v)),
            };
            let hash = match cell(8)? {
                ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned(),
                v => return Err(unreadable("hash", v)),
            };
            let record = VerdictRecord {
                seq: seq as u64,
                first,
                last,
                state,
                answered_at_ms,
                detail,
            };
            if record.hash(&prev) != hash {
                return Err(self.tampered_row(
                    row,
                    "its content does not match its hash (it was changed, or a record \
                     before it was removed or moved)"
                        .to_owned(),
                ));
            }
            prev = hash;
            expected += 1;
        }
        let count = expected - 1;
        let (head_seq, head_hash) = super::verdicts::head(&self.conn).map_err(|e| {
            self.tampered_row(
                "the verdict chain's head in meta".to_owned(),
                format!("cannot be read ({e})"),
            )
        })?;
        if head_seq != count || (count > 0 && head_hash != prev) {
            return Err(self.tampered_row(
                format!("verdict record {}", head_seq.max(count)),
                format!(
                    "the verdict chain's head is record {head_seq} but the chain ends at \
                     record {count} (a record was deleted or added at the end)"
                ),
            ));
        }
        Ok(count)
    }

    /// The outbox in key order beside the slips and (when `proven`) the verdict records in
    /// the order of their first rows: one outbox row per slip and none without one, every
    /// value one a konbini writes, and each row's state the one the first record covering
    /// it says (`pending` when none does). A record's first and last rows exist; a record of
    /// one row is written only when that row moves, so it is always the first to cover it
    /// (a state moves forward once). Sorted reads stepped side by side: memory stays flat
    /// (beside the records covering the current row, a handful).
    fn walk_outbox(&self, proven: bool) -> Result<(), JournalError> {
        let err = self.err();
        let mut slip_st = self
            .conn
            .prepare("SELECT sale_seq, idx FROM slips ORDER BY sale_seq, idx")
            .map_err(&err)?;
        let mut slips = slip_st.query([]).map_err(&err)?;
        let next_slip =
            |slips: &mut rusqlite::Rows<'_>| -> Result<Option<(i64, i64)>, JournalError> {
                match slips.next().map_err(&err)? {
                    Some(r) => Ok(Some((r.get(0).map_err(&err)?, r.get(1).map_err(&err)?))),
                    None => Ok(None),
                }
            };
        let mut record_st = self
            .conn
            .prepare(if proven {
                "SELECT sale_seq, idx, last_sale_seq, last_idx, state, seq
                 FROM verdicts ORDER BY sale_seq, idx, seq"
            } else {
                "SELECT 0, 0, 0, 0, '', 0 WHERE 0"
            })
            .map_err(&err)?;
        let mut records = record_st.query([]).map_err(&err)?;
        // The records were read and checked by `walk_verdicts`: their types are sound.
        let next_record =
            |records: &mut rusqlite::Rows<'_>| -> Result<Option<Covering>, JournalError> {
                match records.next().map_err(&err)? {
                    Some(r) => Ok(Some(Covering {
                        first: (r.get(0).map_err(&err)?, r.get(1).map_err(&err)?),
                        last: (r.get(2).map_err(&err)?, r.get(3).map_err(&err)?),
                        state: r.get(4).map_err(&err)?,
                        seq: r.get(5).map_err(&err)?,
                        last_seen: false,
                    })),
                    None => Ok(None),
                }
            };
        let no_row = |seq: i64, key: (i64, i64)| {
            self.tampered_row(
                format!("verdict record {seq}"),
                format!(
                    "records outbox row sale {} slip {}, which does not exist",
                    key.0, key.1
                ),
            )
        };
        let no_outbox = |key: (i64, i64)| {
            self.tampered_row(
                format!("slip sale {} slip {}", key.0, key.1),
                "has no outbox row".to_owned(),
            )
        };
        let mut slip = next_slip(&mut slips)?;
        let mut record = next_record(&mut records)?;
        // The records whose range has begun and not yet ended.
        let mut open: Vec<Covering> = Vec::new();
        let mut st = self
            .conn
            .prepare(
                "SELECT sale_seq, idx, state, attempts, next_attempt_at, last_error
                 FROM outbox ORDER BY sale_seq, idx",
            )
            .map_err(&err)?;
        let mut rows = st.query([]).map_err(&err)?;
        while let Some(r) = rows.next().map_err(&err)? {
            let cell = |i| r.get_ref(i).map_err(&err);
            let (a, b) = (cell(0)?, cell(1)?);
            let key = match (key_part(a, i64::MAX), key_part(b, i64::from(u32::MAX))) {
                (Some(s), Some(i)) => (s as i64, i as i64),
                _ => {
                    return Err(self.tampered_row(
                        format!("outbox row ({}, {})", describe(a), describe(b)),
                        "its key cannot be read".to_owned(),
                    ));
                }
            };
            let row = format!("outbox row sale {} slip {}", key.0, key.1);
            if let Some(s) = slip.filter(|s| *s < key) {
                return Err(no_outbox(s));
            }
            if slip == Some(key) {
                slip = next_slip(&mut slips)?;
            } else {
                return Err(self.tampered_row(row, "belongs to no slip".to_owned()));
            }
            let state = match state_text(cell(2)?).map(SyncState::parse) {
                Ok(Some(state)) => state,
                _ => {
                    return Err(self.tampered_row(
                        row,
                        format!("its state {} is not an outbox state", describe(cell(2)?)),
                    ));
                }
            };
            match cell(3)? {
                ValueRef::Integer(n) if n >= 0 => {}
                v => {
                    return Err(self.tampered_row(
                        row,
                        format!("its attempt count {} cannot be read", describe(v)),
                    ));
                }
            }
            if !matches!(cell(4)?, ValueRef::Integer(_)) {
                return Err(self.tampered_row(
                    row,
                    format!(
                        "its next attempt time {} cannot be read",
                        describe(cell(4)?)
                    ),
                ));
            }
            if !matches!(cell(5)?, ValueRef::Null | ValueRef::Text(_)) {
                return Err(self.tampered_row(
                    row,
                    format!("its last error {} cannot be read", describe(cell(5)?)),
                ));
            }
            if !proven {
                continue;
            }
            // The records ended before this row: their last row was seen.
            if let Some(c) = open.iter().find(|c| c.last < key && !c.last_seen) {
                return Err(no_row(c.seq, c.last));
            }
            open.retain(|c| c.last >= key);
            // The records beginning here (none may begin at a row that is not there).
            while let Some(c) = record.take_if(|c| c.first <= key) {
                if c.first < key {
                    return Err(no_row(c.seq, c.first));
                }
                open.push(c);
                record = next_record(&mut records)?;
            }
            for c in open.iter_mut().filter(|c| c.last == key) {
                c.last_seen = true;
            }
            let proof = open.iter().min_by_key(|c| c.seq);
            // A record of this row alone, not the first to cover it.
            if let Some(single) = open
                .iter()
                .find(|c| c.first == key && c.last == key && Some(c.seq) != proof.map(|p| p.seq))
            {
                return Err(self.tampered_row(
                    row,
                    format!(
                        "verdict records {} and {} both record it (a state moves forward \
                         only once)",
                        proof.map_or(0, |p| p.seq),
                        single.seq
                    ),
                ));
            }
            let state = state.as_str();
            match proof {
                None if state == "pending" => {}
                None => {
                    return Err(self
                        .tampered_row(row, format!("state '{state}' but no verdict records it")));
                }
                Some(p) if state == "pending" => {
                    return Err(self.tampered_row(
                        row,
                        format!(
                            "state 'pending' but verdict record {} moved it to '{}' \
                             (states only move forward)",
                            p.seq, p.state
                        ),
                    ));
                }
                Some(p) if p.state != state => {
                    return Err(self.tampered_row(
                        row,
                        format!(
                            "state '{state}' but verdict record {} says '{}'",
                            p.seq, p.state
                        ),
                    ));
                }
                Some(_) => {}
            }
        }
        if let Some(s) = slip {
            return Err(no_outbox(s));
        }
        if let Some(c) = open.iter().find(|c| !c.last_seen) {
            return Err(no_row(c.seq, c.last));
        }
        if let Some(c) = record {
            return Err(no_row(c.seq, c.first));
        }
        Ok(())
    }

    /// The print queue in order beside the sales 1 ..= `sales` (the sale walk found them
    /// without gaps): one job per sale and none without one, its state `queued` or
    /// `printed`, and a printed job as marking it printed leaves it (at least one attempt,
    /// no error).
    fn walk_prints(&self, sales: u64) -> Result<(), JournalError> {
        let err = self.err();
        let mut st = self
            .conn
            .prepare(
                "SELECT sale_seq, state, attempts, last_error FROM print_queue ORDER BY sale_seq",
            )
            .map_err(&err)?;
        let mut rows = st.query([]).map_err(&err)?;
        let mut next = 1u64;
        let no_job = |seq: u64| JournalError::Tampered {
            path: self.path.clone(),
            seq,
            problem: "it has no print job".to_owned(),
        };
        while let Some(r) = rows.next().map_err(&err)? {
            let cell = |i| r.get_ref(i).map_err(&err);
            // An INTEGER PRIMARY KEY is always an integer.
            let seq = r.get::<_, i64>(0).map_err(&err)?;
            let row = format!("print job of sale {seq}");
            if seq < 1 || seq as u64 > sales {
                return Err(self.tampered_row(row, "belongs to no sale".to_owned()));
            }
            if seq as u64 != next {
                return Err(no_job(next));
            }
            next += 1;
            let printed = match state_text(cell(1)?) {
                Ok("queued") => false,
                Ok("printed") => true,
                _ => {
                    return Err(self.tampered_row(
                        row,
                        format!("its state {} is not a print job's", describe(cell(1)?)),
                    ));
                }
            };
            let attempts = match cell(2)? {
                ValueRef::Integer(n) if n >= 0 => n,
                v => {
                    return Err(self.tampered_row(
                        row,
                        format!("its attempt count {} cannot be read", describe(v)),
                    ));
                }
            };
            let error = cell(3)?;
            if !matches!(error, ValueRef::Null | ValueRef::Text(_)) {
                return Err(self.tampered_row(
                    row,
                    format!("its last error {} cannot be read", describe(error)),
                ));
            }
            if printed && (attempts == 0 || error != ValueRef::Null) {
                return Err(self.tampered_row(
                    row,
                    "printed, but not as the printer taking it leaves a job (no attempt, or \
                     an error)"
                        .to_owned(),
                ));
            }
        }
        if next <= sales {
            return Err(no_job(next));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use tempfile::TempDir;

    use crate::day::tests::{barcode, open, sale};
    use crate::{Journal, JournalError, SlipAnswer, SyncState};

    /// Four sales of two slips; the first five slips answered in one batch: verdict record
    /// 1 the range of sale 1's two `sent`, record 2 the conflict of slip 1 of sale 2, record
    /// 3 the range from slip 2 of sale 2 to slip 1 of sale 3, `sent`. The rest pending.
    /// Verifies as it is.
    fn answered(dir: &TempDir) -> Journal {
        let mut j = open(dir, "v.db");
        for n in 0..4 {
            let slips = vec![
                barcode(2 * n + 1, 1_000, false),
                barcode(2 * n + 2, 500, false),
            ];
            j.commit_sale(&sale("2026-11-28T09:00:00+09:00", None, slips, 1_500), None)
                .unwrap();
        }
        let batch = j.pending_from((0, 0), 5).unwrap();
        let answers: Vec<SlipAnswer> = batch
            .iter()
            .enumerate()
            .map(|(i, p)| SlipAnswer {
                key: p.key(),
                state: if i == 2 {
                    SyncState::Conflict
                } else {
                    SyncState::Sent
                },
                reason: (i == 2).then(|| "already_paid".to_owned()),
                answered_at_ms: 1_700_000_000_000,
            })
            .collect();
        j.record_batch(&answers).unwrap();
        let report = j.verify(None).unwrap();
        assert_eq!(
            (report.sales, report.slips, report.verdicts),
            (4, 8, Some(3))
        );
        j
    }

    /// `sql` run on the journal's file by someone else, as the operator did.
    fn tamper(j: &Journal, sql: &str) {
        let conn = rusqlite::Connection::open(j.path()).unwrap();
        conn.execute_batch(sql).unwrap();
    }

    fn fails(j: &Journal, words: &str) -> JournalError {
        let e = j.verify(None).expect_err("verify must fail");
        assert!(
            e.to_string().contains(words),
            "expected {words:?}, got: {e}"
        );
        assert!(e.to_string().contains("v.db"), "{e}");
        e
    }

    #[test]
    fn outbox_rows_marked_sent_by_hand_are_named_as_unproven() {
        let dir = TempDir::new().unwrap();
        let j = answered(&dir);
        // The tampering: the resumed sync would send none of these.
        tamper(
            &j,
            "UPDATE outbox SET state = 'sent' WHERE state = 'pending'",
        );
        let e = fails(
            &j,
            "outbox row sale 3 slip 2: state 'sent' but no verdict records it",
        );
        assert!(matches!(e, JournalError::TamperedRow { .. }), "{e:?}");
    }

    #[test]
    fn an_answered_row_put_back_to_pending_or_to_another_state_is_caught() {
        let dir = TempDir::new().unwrap();
        let j = answered(&dir);
        tamper(
            &j,
            "UPDATE outbox SET state = 'pending' WHERE sale_seq = 1 AND idx = 2",
        );
        fails(
            &j,
            "outbox row sale 1 slip 2: state 'pending' but verdict record 1 moved it to 'sent'",
        );
        tamper(
            &j,
            "UPDATE outbox SET state = 'sent' WHERE sale_seq = 1 AND idx = 2;
             UPDATE outbox SET state = 'sent' WHERE sale_seq = 2 AND idx = 1",
        );
        fails(
            &j,
            "outbox row sale 2 slip 1: state 'sent' but verdict record 2 says 'conflict'",
        );
    }

    #[test]
    fn a_verdict_record_deleted_reordered_or_rewritten_is_caught() {
        let dir = TempDir::new().unwrap();
        let j = answered(&dir);
        let copy = |name: &str| {
            let to = dir.path().join(name);
            std::fs::copy(j.path(), &to).unwrap();
            (Journal::open_read_only(&to).unwrap(), to)
        };
        // Deleted in the middle, with its row put back to pending: a gap.
        tamper(&j, "PRAGMA wal_checkpoint(TRUNCATE)");
        let (middle, _) = copy("middle.db");
        tamper(
            &middle,
            "DELETE FROM verdicts WHERE seq = 2;
             UPDATE outbox SET state = 'pending' WHERE (sale_seq, idx) = (2, 1)",
        );
        let e = middle.verify(None).unwrap_err().to_string();
        assert!(
            e.contains("verdict record 2: is missing (the next record is 3)"),
            "{e}"
        );
        // Deleted and the later ones renumbered: the next one's hash no longer matches.
        let (renumbered, _) = copy("renumbered.db");
        tamper(
            &renumbered,
            "DELETE FROM verdicts WHERE seq = 2;
             UPDATE verdicts SET seq = seq - 1 WHERE seq > 2;
             UPDATE outbox SET state = 'pending' WHERE (sale_seq, idx) = (2, 1);
             UPDATE meta SET value = '2' WHERE key = 'verdict_head_seq'",
        );
        let e = renumbered.verify(None).unwrap_err().to_string();
        assert!(
            e.contains("verdict record 2: its content does not match its hash"),
            "{e}"
        );
        // The last one deleted: the head in meta catches it.
        let (last, _) = copy("last.db");
        tamper(
            &last,
            "DELETE FROM verdicts WHERE seq = 3;
             UPDATE outbox SET state = 'pending' WHERE (sale_seq, idx) >= (2, 2)",
        );
        let e = last.verify(None).unwrap_err().to_string();
        assert!(
            e.contains("the verdict chain's head is record 3 but the chain ends at record 2"),
            "{e}"
        );
        // Two records swapped (the rows they prove swapped with them).
        let (swapped, _) = copy("swapped.db");
        tamper(
            &swapped,
            "UPDATE verdicts SET seq = 100 WHERE seq = 1;
             UPDATE verdicts SET seq = 1 WHERE seq = 2;
             UPDATE verdicts SET seq = 2 WHERE seq = 100",
        );
        let e = swapped.verify(None).unwrap_err().to_string();
        assert!(
            e.contains("verdict record 1: its content does not match its hash"),
            "{e}"
        );
        // A conflict rewritten as sent, record and row alike.
        let (rewritten, _) = copy("rewritten.db");
        tamper(
            &rewritten,
            "UPDATE verdicts SET state = 'sent', detail = NULL WHERE seq = 2;
             UPDATE outbox SET state = 'sent' WHERE (sale_seq, idx) = (2, 1)",
        );
        let e = rewritten.verify(None).unwrap_err().to_string();
        assert!(
            e.contains("verdict record 2: its content does not match its hash"),
            "{e}"
        );
        // A range stretched over a pending row made `sent` by hand.
        let (stretched, _) = copy("stretched.db");
        tamper(
            &stretched,
            "UPDATE verdicts SET last_idx = 2 WHERE seq = 3;
             UPDATE outbox SET state = 'sent' WHERE (sale_seq, idx) = (3, 2)",
        );
        let e = stretched.verify(None).unwrap_err().to_string();
        assert!(
            e.contains("verdict record 3: its content does not match its hash"),
            "{e}"
        );
    }

    #[test]
    fn values_sqlite_stores_but_konbini_never_writes_are_named_by_their_row() {
        let dir = TempDir::new().unwrap();
        let j = answered(&dir);
        // Past the state rule (SQLite's own check reports the table, not the row).
        tamper(
            &j,
            "PRAGMA ignore_check_constraints = ON;
             UPDATE outbox SET state = 'sant' WHERE sale_seq = 3 AND idx = 2",
        );
        let e = fails(
            &j,
            "outbox row sale 3 slip 2: its state 'sant' is not an outbox state",
        );
        assert!(!e.to_string().contains("not a konbini journal"), "{e}");
        tamper(
            &j,
            "PRAGMA ignore_check_constraints = ON;
             UPDATE outbox SET state = 'pending' WHERE sale_seq = 3 AND idx = 2;
             UPDATE print_queue SET state = 'lost' WHERE sale_seq = 2",
        );
        fails(
            &j,
            "print job of sale 2: its state 'lost' is not a print job's",
        );
        // A job marked printed by hand, not as the printer taking it leaves one.
        tamper(
            &j,
            "UPDATE print_queue SET state = 'queued' WHERE sale_seq = 2;
             UPDATE print_queue SET state = 'printed' WHERE sale_seq = 4",
        );
        fails(&j, "print job of sale 4: printed, but not as the printer");
    }

    /// A journal answered before there were verdict records (schema 3) is read as it is,
    /// its states only checked to be states; the writer that migrates it starts the chain
    /// with records of the rows already answered, so it verifies, and goes on.
    #[test]
    fn a_journal_answered_before_the_verdict_chain_verifies_once_migrated() {
        let dir = TempDir::new().unwrap();
        let path = dir.path().join("v3.db");
        {
            let (mut conn, id) = crate::day::tests::journal_at_schema(&path, 3);
            let tx = conn.transaction().unwrap();
            for n in 0..3 {
                let slips = vec![
                    barcode(2 * n + 1, 1_000, false),
                    barcode(2 * n + 2, 500, false),
                ];
                crate::sales::append_sale(
                    &tx,
                    &id,
                    &sale("2026-11-28T09:00:00+09:00", None, slips, 1_500),
                )
                .unwrap();
            }
            // Sent, sent, conflict, sent, pending, rejected.
            tx.execute_batch(
                "UPDATE outbox SET state = 'sent', attempts = 1 WHERE sale_seq = 1 OR (sale_seq, idx) = (2, 2);
                 UPDATE outbox SET state = 'conflict', attempts = 1, last_error = 'already_paid'
                  WHERE (sale_seq, idx) = (2, 1);
                 UPDATE outbox SET state = 'rejected', attempts = 1, last_error = 'invalid'
                  WHERE (sale_seq, idx) = (3, 2);",
            )
            .unwrap();
            tx.commit().unwrap();
        }
        let old = Journal::open_read_only(&path).unwrap();
        assert_eq!(old.verify(None).unwrap().verdicts, None);
        drop(old);
        let mut j = Journal::open(&path).unwrap();
        // (1,1)-(1,2) sent; (2,1) conflict; (2,2) sent; (3,2) rejected.
        assert_eq!(j.verify(None).unwrap().verdicts, Some(4));
        let answer = SlipAnswer {
            key: (3, 1),
            state: SyncState::Sent,
            reason: None,
            answered_at_ms: 1_700_000_000_000,
        };
        j.record_batch(&[answer]).unwrap();
        assert_eq!(j.verify(None).unwrap().verdicts, Some(5));
        // And what the migration recorded is proven like the rest.
        tamper(
            &j,
            "UPDATE outbox SET state = 'sent' WHERE (sale_seq, idx) = (2, 1)",
        );
        let e = j.verify(None).unwrap_err().to_string();
        assert!(
            e.contains(
                "outbox row sale 2 slip 1: state 'sent' but verdict record 2 says 'conflict'"
            ),
            "{e}"
        );
    }

    #[test]
    fn a_journal_printed_and_synced_as_the_program_does_verifies() {
        let dir = TempDir::new().unwrap();
        let mut j = answered(&dir);
        j.mark_printed(1).unwrap();
        j.print_failed(2, "paper out").unwrap();
        // Answers for rows already final change nothing and record nothing.
        j.record_sync(&[((1, 1), SyncState::Rejected, Some("late".into()))])
            .unwrap();
        j.record_sync(&[((4, 2), SyncState::Pending, Some("timeout".into()))])
            .unwrap();
        j.record_sync(&[((4, 2), SyncState::Rejected, Some("invalid".into()))])
            .unwrap();
        assert_eq!(j.verify(None).unwrap().verdicts, Some(4));
    }
}
