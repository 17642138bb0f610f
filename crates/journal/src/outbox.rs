//! The store-and-forward outbox: which slips' confirmations are still to be sent, and
//! what the network answered. Written by the sync task through the same journal (one
//! writer); the results of one batch, or of several consecutive ones, are one transaction.
//!
//! The outbox has no index on its state (a sale commit writes as few pages as it can), so
//! the sync task reads pending rows by a low-water mark: the first pending key is found
//! once, then each read continues from the last key seen. Rows behind the mark never
//! become pending again (`sent`, `conflict` and `rejected` are final).

use std::sync::Arc;

use rusqlite::params;

use super::record::{SlipPay, SyncState, slip_id};
use super::sales::{chain, slip_pay};
use super::verdicts::Appender;
use super::{Journal, JournalError};
use konbini_domain::{Chain, Yen};

/// A slip whose confirmation is still to be sent, with what the confirmation carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingSlip {
    /// Its sale.
    pub seq: u64,
    /// Its place in the sale.
    pub idx: u32,
    /// `<journal id>-<seq>-<idx>`: the network's idempotency key.
    pub id: String,
    /// What its sale gives every confirmation of it (shared by the sale's slips).
    pub sale: Arc<PendingSale>,
    /// What was paid.
    pub pay: SlipPay,
    /// Its amount.
    pub amount: Yen,
    /// Attempts so far.
    pub attempts: u32,
}

/// The part of a pending slip's confirmation that is its sale's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingSale {
    /// When the sale (and the cash) was taken, RFC 3339 in Japan time.
    pub paid_at: String,
    /// The store's code.
    pub store_code: String,
    /// The store's chain, when known.
    pub store_chain: Option<Chain>,
    /// The sale's link in the journal chain.
    pub prev_hash: String,
    /// The sale's hash.
    pub hash: String,
}

/// What the network answered for one slip, and when: one entry of
/// [`Journal::record_batch`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlipAnswer {
    /// The slip's outbox key.
    pub key: (u64, u32),
    /// Where the answer leaves it (`Pending`: the attempt failed, to be tried again).
    pub state: SyncState,
    /// The network's reason or the attempt's error, if any.
    pub reason: Option<String>,
    /// When the answer came, unix milliseconds (see [`unix_ms`]).
    pub answered_at_ms: i64,
}

/// An instant as unix milliseconds, as the verdict records keep it.
pub fn unix_ms(at: std::time::SystemTime) -> i64 {
    match at.duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
        Err(before) => i64::try_from(before.duration().as_millis()).map_or(i64::MIN, |ms| -ms),
    }
}

impl PendingSlip {
    /// The outbox key.
    pub fn key(&self) -> (u64, u32) {
        (self.seq, self.idx)
    }
}

/// The outbox at a glance (the UI's network status and the replay summary).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct OutboxSummary {
    /// Slips not yet accepted upstream.
    pub pending: u64,
    /// Their yen.
    pub pending_yen: u64,
    /// When the oldest of them was paid (RFC 3339, Japan time).
    pub oldest_pending_at: Option<String>,
    /// Accepted (or duplicates of accepted ones).
    pub sent: u64,
    /// Cash the network will not credit: to reconcile.
    pub conflicts: u64,
    /// Refused by the network as invalid.
    pub rejected: u64,
}

impl Journal {
    /// The first pending outbox key, if any (a scan of the outbox: call once, then keep a
    /// low-water mark).
    pub fn first_pending(&self) -> Result<Option<(u64, u32)>, JournalError> {
        self.conn
            .prepare_cached(
                "SELECT sale_seq, idx FROM outbox WHERE state = 'pending' ORDER BY sale_seq, idx LIMIT 1",
            )
            .and_then(|mut st| {
                let mut rows = st.query([])?;
                match rows.next()? {
                    Some(r) => Ok(Some((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u32))),
                    None => Ok(None),
                }
            })
            .map_err(self.err())
    }

    /// Up to `limit` pending slips from `from` (inclusive) on, in journal order.
    ///
    /// Three reads in key order, merged here: the pending outbox keys, then the slips and
    /// the sales of the range they span. Each row is read once by stepping a cursor,
    /// rather than two b-tree searches per slip (a join), and each sale once for all its
    /// slips. The ranges hold no more rows than the outbox read passed over, so a sparse
    /// outbox costs no more than the outbox scan itself. Sales and slips are never changed
    /// once committed, so the reads need no common snapshot: the slips of a pending key
    /// are there in every later one. A pending key without its slip (a damaged journal,
    /// which verify reports) is passed over, as the join passed over it, and does not count
    /// against `limit`.
    pub fn pending_from(
        &self,
        from: (u64, u32),
        limit: usize,
    ) -> Result<Vec<PendingSlip>, JournalError> {
        let mut out = Vec::new();
        let mut from = from;
        while out.len() < limit {
            match self.pending_chunk(from, limit - out.len(), &mut out)? {
                Some(next) => from = next,
                None => break,
            }
        }
        Ok(out)
    }

    /// One round of [`Journal::pending_from`]: up to `limit` pending keys from `from` on,
    /// their slips appended to `out`. The key just past them when all `limit` were read
    /// (more may follow); `None` when the outbox had no more.
    fn pending_chunk(
        &self,
        from: (u64, u32),
        limit: usize,
        out: &mut Vec<PendingSlip>,
    ) -> Result<Option<(u64, u32)>, JournalError> {
        let err = self.err();
        let mut keys: Vec<((u64, u32), u32)> = Vec::with_capacity(limit.min(4096));
        {
            let mut st = self
                .conn
                .prepare_cached(
                    "SELECT sale_seq, idx, attempts FROM outbox
                     WHERE state = 'pending' AND (sale_seq, idx) >= (?1, ?2)
                     ORDER BY sale_seq, idx LIMIT ?3",
                )
                .map_err(&err)?;
            let mut rows = st
                .query(params![from.0 as i64, from.1, limit as i64])
                .map_err(&err)?;
            while let Some(r) = rows.next().map_err(&err)? {
                let key = (
                    r.get::<_, i64>(0).map_err(&err)? as u64,
                    r.get::<_, i64>(1).map_err(&err)? as u32,
                );
                keys.push((key, r.get::<_, i64>(2).map_err(&err)? as u32));
            }
        }
        let (Some(&(first, _)), Some(&(last, _))) = (keys.first(), keys.last()) else {
            return Ok(None);
        };
        let more = keys.len() == limit;
        // The sales from the first key's to the last's, by seq.
        let mut sales: Vec<(u64, Arc<PendingSale>)> = Vec::new();
        {
            let mut st = self
                .conn
                .prepare_cached(
                    "SELECT seq, at, store_code, store_chain, prev_hash, hash FROM sales
                     WHERE seq >= ?1 AND seq <= ?2 ORDER BY seq",
                )
                .map_err(&err)?;
            let mut rows = st
                .query(params![first.0 as i64, last.0 as i64])
                .map_err(&err)?;
            while let Some(r) = rows.next().map_err(&err)? {
                let sale = PendingSale {
                    paid_at: r.get(1).map_err(&err)?,
                    store_code: r.get(2).map_err(&err)?,
                    store_chain: chain(r, 3).map_err(&err)?,
                    prev_hash: r.get(4).map_err(&err)?,
                    hash: r.get(5).map_err(&err)?,
                };
                sales.push((r.get::<_, i64>(0).map_err(&err)? as u64, Arc::new(sale)));
            }
        }
        // The slips of the range, stepped through beside the keys.
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT sale_seq, idx, barcode, chain, payment_code, confirmation_number,
                        payment, merchant, amount_yen
                 FROM slips
                 WHERE (sale_seq, idx) >= (?1, ?2) AND (sale_seq, idx) <= (?3, ?4)
                 ORDER BY sale_seq, idx",
            )
            .map_err(&err)?;
        let mut rows = st
            .query(params![first.0 as i64, first.1, last.0 as i64, last.1])
            .map_err(&err)?;
        out.reserve(keys.len());
        let mut keys = keys.into_iter().peekable();
        let mut sales = sales.into_iter().peekable();
        while let Some(r) = rows.next().map_err(&err)? {
            let key = (
                r.get::<_, i64>(0).map_err(&err)? as u64,
                r.get::<_, i64>(1).map_err(&err)? as u32,
            );
            // Keys without a slip (a damaged journal, which verify reports) are passed
            // over, as the join this replaces did.
            while keys.next_if(|(k, _)| *k < key).is_some() {}
            let Some((_, attempts)) = keys.next_if(|(k, _)| *k == key) else {
                continue;
            };
            while sales.next_if(|(seq, _)| *seq < key.0).is_some() {}
            let Some(sale) = sales.peek().filter(|(seq, _)| *seq == key.0) else {
                continue;
            };
            let pay = slip_pay(r, 2).map_err(&err)?;
            out.push(PendingSlip {
                seq: key.0,
                idx: key.1,
                id: slip_id(&self.journal_id, key.0, key.1),
                sale: sale.1.clone(),
                pay,
                amount: Yen::new(r.get::<_, i64>(8).map_err(&err)? as u64),
                attempts,
            });
        }
        Ok(more.then_some((last.0, last.1 + 1)))
    }

    /// Record the network's answers for a batch, in one transaction, as answered now.
    /// `Pending` keeps a row pending (its attempt is counted, with the error). Any slips,
    /// in any order.
    pub fn record_sync(
        &mut self,
        results: &[((u64, u32), SyncState, Option<String>)],
    ) -> Result<(), JournalError> {
        let now = unix_ms(std::time::SystemTime::now());
        let answers: Vec<SlipAnswer> = results
            .iter()
            .map(|(key, state, reason)| SlipAnswer {
                key: *key,
                state: *state,
                reason: reason.clone(),
                answered_at_ms: now,
            })
            .collect();
        self.record_verdicts(&answers, false)
    }

    /// [`Journal::record_sync`] for the answers to one read of [`Journal::pending_from`]
    /// (or to consecutive reads), in its order, each with the time it came: every slip
    /// pending between two of them is among them. A run of `sent` verdicts is then written
    /// as one update of its key range (a drain's usual batch: one statement instead of
    /// 500), which changes exactly the run's slips still pending, and in a damaged journal
    /// any pending outbox key inside the range that has no slip (which `pending_from`
    /// passes over and verify reports); and recorded as one verdict record of the range.
    pub fn record_batch(&mut self, answers: &[SlipAnswer]) -> Result<(), JournalError> {
        self.record_verdicts(answers, true)
    }

    /// The rows that leave `pending` get their record in the verdict chain (`verdicts`), in
    /// the same transaction, in the order of `answers`: one per answer, and one per run of
    /// plain `sent` answers written as a range.
    fn record_verdicts(
        &mut self,
        answers: &[SlipAnswer],
        contiguous: bool,
    ) -> Result<(), JournalError> {
        let err = super::sqlite_error(&self.path);
        let tx = super::WriteTx::begin(&mut self.conn, self.group, &self.path)?;
        {
            let mut chain = Appender::start(&tx).map_err(&err)?;
            let mut one = tx
                .prepare_cached(
                    "UPDATE outbox SET state = ?3, attempts = attempts + 1, last_error = ?4
                     WHERE sale_seq = ?1 AND idx = ?2 AND state = 'pending'",
                )
                .map_err(&err)?;
            let mut range = tx
                .prepare_cached(
                    "UPDATE outbox SET state = 'sent', attempts = attempts + 1, last_error = NULL
                     WHERE (sale_seq, idx) >= (?1, ?2) AND (sale_seq, idx) <= (?3, ?4)
                       AND state = 'pending'",
                )
                .map_err(&err)?;
            let plain_sent = |r: &SlipAnswer| r.state == SyncState::Sent && r.reason.is_none();
            let mut rest = answers;
            while let Some(first) = rest.first() {
                // The run of plain `sent` verdicts at the front, keys rising, answered at
                // one time (one batch's: the record keeps one time).
                let run = if contiguous && plain_sent(first) {
                    1 + rest
                        .windows(2)
                        .take_while(|w| {
                            plain_sent(&w[1])
                                && w[1].key > w[0].key
                                && w[1].answered_at_ms == w[0].answered_at_ms
                        })
                        .count()
                } else {
                    1
                };
                if run > 1 {
                    let (a, b) = (rest[0].key, rest[run - 1].key);
                    let moved = range
                        .execute(params![a.0 as i64, a.1, b.0 as i64, b.1])
                        .map_err(&err)?;
                    // The rows of the range already answered keep their records: a
                    // row's state is the first covering record's.
                    if moved > 0 {
                        chain
                            .append(
                                &tx,
                                (a, b),
                                SyncState::Sent,
                                Some(first.answered_at_ms),
                                None,
                            )
                            .map_err(&err)?;
                    }
                } else {
                    let SlipAnswer {
                        key,
                        state,
                        reason,
                        answered_at_ms,
                    } = first;
                    let changed = one
                        .execute(params![key.0 as i64, key.1, state.as_str(), reason])
                        .map_err(&err)?;
                    if changed == 1 && *state != SyncState::Pending {
                        chain
                            .append(
                                &tx,
                                (*key, *key),
                                *state,
                                Some(*answered_at_ms),
                                reason.as_deref(),
                            )
                            .map_err(&err)?;
                    }
                }
                rest = &rest[run..];
            }
            chain.finish(&tx).map_err(&err)?;
        }
        crate::failpoint::hit("sync-before-record");
        tx.commit().map_err(&err)
    }

    /// [`Journal::outbox_summary`] of the whole outbox in one read snapshot: `began` is
    /// called once the snapshot is taken (nothing written after that is counted), with the
    /// means to interrupt the scan from another thread.
    /// `stopped` is looked at before each of its two scans: a scan already running is
    /// stopped through the interrupt handle, one not yet started is not started.
    pub fn outbox_summary_in_snapshot(
        &self,
        began: impl FnOnce(rusqlite::InterruptHandle),
        stopped: &std::sync::atomic::AtomicBool,
    ) -> Result<OutboxSummary, JournalError> {
        use std::sync::atomic::Ordering;
        let err = self.err();
        let tx = self.conn.unchecked_transaction().map_err(&err)?;
        // In WAL mode a read transaction's snapshot is taken by its first read.
        tx.query_row("SELECT COUNT(*) FROM meta", [], |_| Ok(()))
            .map_err(&err)?;
        began(self.conn.get_interrupt_handle());
        let interrupted = || JournalError::Stopped {
            path: self.path.clone(),
            what: "the outbox count",
        };
        if stopped.load(Ordering::SeqCst) {
            return Err(interrupted());
        }
        let mut summary = self.pending_summary((0, 0))?;
        if stopped.load(Ordering::SeqCst) {
            return Err(interrupted());
        }
        self.final_counts(&mut summary)?;
        Ok(summary)
    }

    /// Counts of the outbox by state (a scan of the whole outbox), and the pending amount
    /// and oldest pending payment from `from` on (the caller's low-water mark).
    pub fn outbox_summary(&self, from: (u64, u32)) -> Result<OutboxSummary, JournalError> {
        let mut summary = self.pending_summary(from)?;
        self.final_counts(&mut summary)?;
        Ok(summary)
    }

    /// The sent, conflict and rejected counts of the whole outbox, into `summary`.
    fn final_counts(&self, summary: &mut OutboxSummary) -> Result<(), JournalError> {
        self.conn
            .prepare_cached(
                "SELECT state, COUNT(*) FROM outbox WHERE state != 'pending' GROUP BY state",
            )
            .and_then(|mut st| {
                let rows =
                    st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
                for row in rows {
                    let (state, n) = row?;
                    match state.as_str() {
                        "sent" => summary.sent = n as u64,
                        "conflict" => summary.conflicts = n as u64,
                        "rejected" => summary.rejected = n as u64,
                        _ => {}
                    }
                }
                Ok(())
            })
            .map_err(self.err())
    }

    /// Only the pending part of [`Journal::outbox_summary`], reading from `from` on: cheap
    /// when `from` is a low-water mark.
    pub fn pending_summary(&self, from: (u64, u32)) -> Result<OutboxSummary, JournalError> {
        let mut summary = OutboxSummary::default();
        self.conn
            .prepare_cached(
                "SELECT COUNT(*), COALESCE(SUM(l.amount_yen), 0), MIN(s.at)
                 FROM outbox o JOIN slips l ON l.sale_seq = o.sale_seq AND l.idx = o.idx
                 JOIN sales s ON s.seq = o.sale_seq
                 WHERE o.state = 'pending' AND (o.sale_seq > ?1 OR (o.sale_seq = ?1 AND o.idx >= ?2))",
            )
            .and_then(|mut st| {
                st.query_row(params![from.0 as i64, from.1], |r| {
                    summary.pending = r.get::<_, i64>(0)? as u64;
                    summary.pending_yen = r.get::<_, i64>(1)? as u64;
                    summary.oldest_pending_at = r.get(2)?;
                    Ok(())
                })
            })
            .map_err(self.err())?;
        Ok(summary)
    }
}
