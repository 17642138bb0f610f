//! Where a replay of a scan log got to. Saved in the same transaction as each sale the
//! replay commits, so after a kill the replay resumes right after the last committed sale
//! with the counters it had then.

use rusqlite::{OptionalExtension, TransactionBehavior, params};

use super::{Journal, JournalError};

/// A replay's position in one log (identified by the log's SHA-256).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayProgress {
    /// Bytes of the log fully processed.
    pub offset: u64,
    /// Lines of the log fully processed.
    pub line: u64,
    /// The replay's own state at that point (JSON; the journal does not read it).
    pub state: String,
    /// Whether the whole log was processed.
    pub finished: bool,
}

impl ReplayProgress {
    pub(super) fn save(
        &self,
        conn: &rusqlite::Connection,
        log_sha256: &str,
    ) -> rusqlite::Result<()> {
        conn.prepare_cached(
            "INSERT INTO replay_progress (log_sha256, offset, line, state, finished)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (log_sha256) DO UPDATE SET offset = excluded.offset,
                 line = excluded.line, state = excluded.state, finished = excluded.finished",
        )?
        .execute(params![
            log_sha256,
            self.offset as i64,
            self.line as i64,
            self.state,
            self.finished
        ])?;
        Ok(())
    }
}

impl Journal {
    /// Where the replay of the log with this SHA-256 got to, if it ever started.
    pub fn replay_progress(
        &self,
        log_sha256: &str,
    ) -> Result<Option<ReplayProgress>, JournalError> {
        self.conn
            .query_row(
                "SELECT offset, line, state, finished FROM replay_progress WHERE log_sha256 = ?1",
                [log_sha256],
                |r| {
                    Ok(ReplayProgress {
                        offset: r.get::<_, i64>(0)? as u64,
                        line: r.get::<_, i64>(1)? as u64,
                        state: r.get(2)?,
                        finished: r.get(3)?,
                    })
                },
            )
            .optional()
            .map_err(self.err())
    }

    /// Record a replay's position on its own (at the end of the log).
    pub fn save_replay_progress(
        &mut self,
        log_sha256: &str,
        progress: &ReplayProgress,
    ) -> Result<(), JournalError> {
        let err = super::sqlite_error(&self.path);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(&err)?;
        progress.save(&tx, log_sha256).map_err(&err)?;
        tx.commit().map_err(&err)
    }
}
