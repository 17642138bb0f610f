//! The slips the clerk must see to: those the payment network found in conflict (the store
//! holds cash the network will not credit) or rejected, until the clerk acknowledges each.
//! Read through the `outbox_trouble` partial index (`migrations/0005_records.sql`), so a
//! long journal costs nothing here; an acknowledgement is a row of `acknowledged`, outside
//! every chain: it changes no money.

use rusqlite::params;

use super::record::{SlipPay, SyncState, journal_time};
use super::sales::{slip_pay, yen};
use super::{Journal, JournalError};
use konbini_domain::Yen;

/// A slip in conflict or rejected, not yet acknowledged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    /// Its sale (the receipt number).
    pub sale_seq: u64,
    /// Its place in the sale.
    pub idx: u32,
    /// `Conflict` or `Rejected`.
    pub state: SyncState,
    /// The network's reason, as it gave it.
    pub reason: Option<String>,
    /// Its amount: cash in the drawer.
    pub amount: Yen,
    /// What it paid.
    pub pay: SlipPay,
    /// When its sale was completed, RFC 3339 in Japan time.
    pub at: String,
}

const ALERTS_SQL: &str = "
    SELECT o.sale_seq, o.idx, o.state, o.last_error, l.amount_yen,
           l.barcode, l.chain, l.payment_code, l.confirmation_number, l.payment, l.merchant,
           s.at
    FROM outbox o INDEXED BY outbox_trouble
    JOIN slips l ON l.sale_seq = o.sale_seq AND l.idx = o.idx
    JOIN sales s ON s.seq = o.sale_seq
    WHERE (o.state = 'conflict' OR o.state = 'rejected')
      AND NOT EXISTS (SELECT 1 FROM acknowledged a
                      WHERE a.sale_seq = o.sale_seq AND a.idx = o.idx)
    ORDER BY o.sale_seq, o.idx
    LIMIT ?1";

const ALERT_COUNT_SQL: &str = "
    SELECT COUNT(*) FROM outbox o INDEXED BY outbox_trouble
    WHERE (o.state = 'conflict' OR o.state = 'rejected')
      AND NOT EXISTS (SELECT 1 FROM acknowledged a
                      WHERE a.sale_seq = o.sale_seq AND a.idx = o.idx)";

impl Journal {
    /// The oldest `limit` slips in conflict or rejected that the clerk has not
    /// acknowledged, and how many there are in all.
    pub fn alerts(&self, limit: usize) -> Result<(Vec<Alert>, u64), JournalError> {
        if !self.has_records()? {
            return Ok((Vec::new(), 0));
        }
        let snapshot = self.conn.unchecked_transaction().map_err(self.err())?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let list = self
            .conn
            .prepare_cached(ALERTS_SQL)
            .and_then(|mut st| {
                st.query_map([limit], |r| {
                    let state: String = r.get(2)?;
                    Ok(Alert {
                        sale_seq: r.get::<_, i64>(0)? as u64,
                        idx: r.get(1)?,
                        state: SyncState::parse(&state).unwrap_or(SyncState::Conflict),
                        reason: r.get(3)?,
                        amount: yen(r, 4)?,
                        pay: slip_pay(r, 5)?,
                        at: r.get(11)?,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()
            })
            .map_err(self.err())?;
        let count = self
            .conn
            .prepare_cached(ALERT_COUNT_SQL)
            .and_then(|mut st| st.query_row([], |r| r.get::<_, i64>(0)))
            .map_err(self.err())?;
        drop(snapshot);
        Ok((list, count.max(0) as u64))
    }

    /// The clerk has seen to slip `idx` of sale `sale_seq` (at `at`): it leaves the list.
    pub fn acknowledge(
        &mut self,
        sale_seq: u64,
        idx: u32,
        at: &chrono::DateTime<chrono::FixedOffset>,
    ) -> Result<(), JournalError> {
        let err = super::sqlite_error(&self.path);
        let tx = super::WriteTx::begin(&mut self.conn, self.group, &self.path)?;
        tx.prepare_cached(
            "INSERT INTO acknowledged (sale_seq, idx, at) VALUES (?1, ?2, ?3)
             ON CONFLICT DO NOTHING",
        )
        .and_then(|mut st| st.execute(params![sale_seq as i64, idx, journal_time(at)]))
        .map_err(&err)?;
        tx.commit().map_err(&err)
    }
}

#[cfg(test)]
mod tests {
    use tempfile::TempDir;

    use crate::day::tests::{barcode, sale};
    use crate::{Journal, SlipAnswer, SyncState};

    #[test]
    fn conflicts_and_rejections_are_listed_until_acknowledged() {
        let dir = TempDir::new().unwrap();
        let mut j = Journal::open(&dir.path().join("j.db")).unwrap();
        for n in 1..=3 {
            j.commit_sale(
                &sale(
                    "2026-12-01T09:00:00+09:00",
                    None,
                    vec![barcode(n, 1_000 * u64::from(n), false)],
                    10_000,
                ),
                None,
            )
            .unwrap();
        }
        let answer = |seq, state, reason: &str| SlipAnswer {
            key: (seq, 1),
            state,
            reason: Some(reason.to_owned()),
            answered_at_ms: 1,
        };
        j.record_batch(&[
            answer(1, SyncState::Conflict, "already_paid"),
            answer(2, SyncState::Sent, "x"),
            answer(3, SyncState::Rejected, "amount_mismatch"),
        ])
        .unwrap();
        let (list, count) = j.alerts(10).unwrap();
        assert_eq!(count, 2);
        let got: Vec<(u64, SyncState, Option<String>, u64)> = list
            .iter()
            .map(|a| (a.sale_seq, a.state, a.reason.clone(), a.amount.get()))
            .collect();
        assert_eq!(
            got,
            [
                (1, SyncState::Conflict, Some("already_paid".into()), 1_000),
                (
                    3,
                    SyncState::Rejected,
                    Some("amount_mismatch".into()),
                    3_000
                )
            ]
        );
        let now = chrono::DateTime::parse_from_rfc3339("2026-12-01T10:00:00+09:00").unwrap();
        j.acknowledge(1, 1, &now).unwrap();
        j.acknowledge(1, 1, &now).unwrap();
        let (list, count) = j.alerts(10).unwrap();
        assert_eq!((list.len(), count), (1, 1));
        assert_eq!(list[0].sale_seq, 3);
        j.verify(None).unwrap();
    }
}
