//! The print queue: one job per committed sale, queued in the sale's transaction and marked
//! printed only once the printer took it. A receipt is never printed without a sale behind
//! it, and a sale whose receipt could not be printed (paper out, crash) is printed later.

use rusqlite::params;

use super::{Journal, JournalError};

impl Journal {
    /// Sales whose receipt is still to be printed, oldest first.
    pub fn queued_prints(&self) -> Result<Vec<u64>, JournalError> {
        self.queued_prints_from(0, usize::MAX)
    }

    /// How many sales from `from` on have a receipt still to be printed.
    pub fn queued_count_from(&self, from: u64) -> Result<usize, JournalError> {
        self.conn
            .prepare_cached(
                "SELECT COUNT(*) FROM print_queue WHERE sale_seq >= ?1 AND state = 'queued'",
            )
            .and_then(|mut st| {
                st.query_row([from.min(i64::MAX as u64) as i64], |r| r.get::<_, i64>(0))
            })
            .map(|n| n as usize)
            .map_err(self.err())
    }

    /// At most `limit` sales from `from` on whose receipt is still to be printed, oldest
    /// first (a range of the primary key: cheap however long the journal).
    pub fn queued_prints_from(&self, from: u64, limit: usize) -> Result<Vec<u64>, JournalError> {
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT sale_seq FROM print_queue WHERE sale_seq >= ?1 AND state = 'queued'
                 ORDER BY sale_seq LIMIT ?2",
            )
            .map_err(self.err())?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        st.query_map(
            rusqlite::params![from.min(i64::MAX as u64) as i64, limit],
            |r| r.get::<_, i64>(0).map(|s| s as u64),
        )
        .and_then(|rows| rows.collect())
        .map_err(self.err())
    }

    /// The printer took sale `seq`'s receipt.
    pub fn mark_printed(&mut self, seq: u64) -> Result<(), JournalError> {
        self.update_print_job(seq, "UPDATE print_queue SET state = 'printed', attempts = attempts + 1, last_error = NULL WHERE sale_seq = ?1", None)
    }

    /// Printing sale `seq`'s receipt failed; it stays queued.
    pub fn print_failed(&mut self, seq: u64, error: &str) -> Result<(), JournalError> {
        self.update_print_job(
            seq,
            "UPDATE print_queue SET attempts = attempts + 1, last_error = ?2 WHERE sale_seq = ?1",
            Some(error),
        )
    }

    fn update_print_job(
        &mut self,
        seq: u64,
        sql: &str,
        error: Option<&str>,
    ) -> Result<(), JournalError> {
        let err = super::sqlite_error(&self.path);
        let tx = super::WriteTx::begin(&mut self.conn, self.group, &self.path)?;
        {
            let mut st = tx.prepare_cached(sql).map_err(&err)?;
            match error {
                Some(e) => st.execute(params![seq as i64, e]),
                None => st.execute(params![seq as i64]),
            }
            .map_err(&err)?;
        }
        tx.commit().map_err(&err)
    }
}
