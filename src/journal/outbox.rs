//! The store-and-forward outbox: which slips' confirmations are still to be sent, and
//! what the network answered. Written by the sync task through the same journal (one
//! writer); the results of one batch, or of several consecutive ones, are one transaction.
//!
//! The outbox has no index on its state (a sale commit writes as few pages as it can), so
//! the sync task reads pending rows by a low-water mark: the first pending key is found
//! once, then each read continues from the last key seen. Rows behind the mark never
//! become pending again (`sent`, `conflict` and `rejected` are final).

use rusqlite::params;

use super::record::{SlipPay, SyncState, slip_id};
use super::{Journal, JournalError};
use crate::domain::{Chain, Yen};

/// A slip whose confirmation is still to be sent, with what the confirmation carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingSlip {
    /// Its sale.
    pub seq: u64,
    /// Its place in the sale.
    pub idx: u32,
    /// `<journal id>-<seq>-<idx>`: the network's idempotency key.
    pub id: String,
    /// When the sale (and the cash) was taken, RFC 3339 in Japan time.
    pub paid_at: String,
    /// The store's code.
    pub store_code: String,
    /// The store's chain, when known.
    pub store_chain: Option<Chain>,
    /// What was paid.
    pub pay: SlipPay,
    /// Its amount.
    pub amount: Yen,
    /// The sale's link in the journal chain.
    pub prev_hash: String,
    /// The sale's hash.
    pub hash: String,
    /// Attempts so far.
    pub attempts: u32,
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
    pub fn pending_from(
        &self,
        from: (u64, u32),
        limit: usize,
    ) -> Result<Vec<PendingSlip>, JournalError> {
        let journal_id = self.journal_id.clone();
        self.conn
            .prepare_cached(
                "SELECT o.sale_seq, o.idx, o.attempts, s.at, s.store_code, s.store_chain, s.prev_hash, s.hash,
                        l.barcode, l.chain, l.payment_code, l.confirmation_number, l.payment, l.merchant, l.amount_yen
                 FROM outbox o
                 JOIN sales s ON s.seq = o.sale_seq
                 JOIN slips l ON l.sale_seq = o.sale_seq AND l.idx = o.idx
                 WHERE o.state = 'pending' AND (o.sale_seq, o.idx) >= (?1, ?2)
                 ORDER BY o.sale_seq, o.idx LIMIT ?3",
            )
            .and_then(|mut st| {
                st.query_map(params![from.0 as i64, from.1, limit as i64], |r| {
                    let seq = r.get::<_, i64>(0)? as u64;
                    let idx = r.get::<_, i64>(1)? as u32;
                    let chain_of = |v: Option<String>| v.and_then(|c| c.parse::<Chain>().ok());
                    let barcode: Option<String> = r.get(8)?;
                    let pay = match barcode {
                        Some(b) => SlipPay::Barcode(b),
                        None => SlipPay::KeyIn {
                            chain: chain_of(r.get(9)?).unwrap_or(Chain::Lawson),
                            payment_code: r.get::<_, Option<String>>(10)?.unwrap_or_default(),
                            confirmation_number: r
                                .get::<_, Option<String>>(11)?
                                .unwrap_or_default(),
                            payment: r.get::<_, Option<String>>(12)?.unwrap_or_default(),
                            merchant: r.get::<_, Option<String>>(13)?.unwrap_or_default(),
                        },
                    };
                    Ok(PendingSlip {
                        seq,
                        idx,
                        id: slip_id(&journal_id, seq, idx),
                        attempts: r.get::<_, i64>(2)? as u32,
                        paid_at: r.get(3)?,
                        store_code: r.get(4)?,
                        store_chain: chain_of(r.get(5)?),
                        prev_hash: r.get(6)?,
                        hash: r.get(7)?,
                        pay,
                        amount: Yen::new(r.get::<_, i64>(14)? as u64),
                    })
                })?
                .collect()
            })
            .map_err(self.err())
    }

    /// Record the network's answers for a batch, in one transaction. `Pending` keeps a row
    /// pending (its attempt is counted, with the error). Any slips, in any order.
    pub fn record_sync(
        &mut self,
        results: &[((u64, u32), SyncState, Option<String>)],
    ) -> Result<(), JournalError> {
        self.record_verdicts(results, false)
    }

    /// [`Journal::record_sync`] for the answers to one read of [`Journal::pending_from`],
    /// in its order: every slip pending between two of them is among them. A run of `sent`
    /// verdicts is then written as one update of its key range (a drain's usual batch: one
    /// statement instead of 500), which changes exactly the run's slips still pending.
    pub fn record_batch(
        &mut self,
        results: &[((u64, u32), SyncState, Option<String>)],
    ) -> Result<(), JournalError> {
        self.record_verdicts(results, true)
    }

    fn record_verdicts(
        &mut self,
        results: &[((u64, u32), SyncState, Option<String>)],
        contiguous: bool,
    ) -> Result<(), JournalError> {
        let err = super::sqlite_error(&self.path);
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(&err)?;
        {
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
            let plain_sent = |r: &((u64, u32), SyncState, Option<String>)| {
                r.1 == SyncState::Sent && r.2.is_none()
            };
            let mut rest = results;
            while let Some(first) = rest.first() {
                // The run of plain `sent` verdicts at the front, keys rising.
                let run = if contiguous && plain_sent(first) {
                    1 + rest
                        .windows(2)
                        .take_while(|w| plain_sent(&w[1]) && w[1].0 > w[0].0)
                        .count()
                } else {
                    1
                };
                if run > 1 {
                    let (a, b) = (rest[0].0, rest[run - 1].0);
                    range
                        .execute(params![a.0 as i64, a.1, b.0 as i64, b.1])
                        .map_err(&err)?;
                } else {
                    let ((seq, idx), state, error) = first;
                    let state = match state {
                        SyncState::Pending => "pending",
                        SyncState::Sent => "sent",
                        SyncState::Conflict => "conflict",
                        SyncState::Rejected => "rejected",
                    };
                    one.execute(params![*seq as i64, idx, state, error])
                        .map_err(&err)?;
                }
                rest = &rest[run..];
            }
        }
        crate::failpoint::hit("sync-before-record");
        tx.commit().map_err(&err)
    }

    /// Counts of the outbox by state (a scan of the whole outbox), and the pending amount
    /// and oldest pending payment from `from` on (the caller's low-water mark).
    pub fn outbox_summary(&self, from: (u64, u32)) -> Result<OutboxSummary, JournalError> {
        let mut summary = self.pending_summary(from)?;
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
            .map_err(self.err())?;
        Ok(summary)
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
