//! Where a replay of a scan log got to. Saved in the same transaction as each sale the
//! replay commits (as the meta row `replay:<log sha256>`, on the same page as the chain
//! head), so after a kill the replay resumes right after the last committed sale with the
//! counters it had then.

use rusqlite::{OptionalExtension, params};

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

fn key(log_sha256: &str) -> String {
    format!("replay:{log_sha256}")
}

impl ReplayProgress {
    pub(super) fn save(
        &self,
        conn: &rusqlite::Connection,
        log_sha256: &str,
    ) -> rusqlite::Result<()> {
        let value = format!(
            "{} {} {} {}",
            self.offset,
            self.line,
            u8::from(self.finished),
            self.state
        );
        conn.prepare_cached(
            "INSERT INTO meta (key, value) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )?
        .execute(params![key(log_sha256), value])?;
        Ok(())
    }

    fn parse(value: &str) -> Option<ReplayProgress> {
        let mut parts = value.splitn(4, ' ');
        Some(ReplayProgress {
            offset: parts.next()?.parse().ok()?,
            line: parts.next()?.parse().ok()?,
            finished: match parts.next()? {
                "0" => false,
                "1" => true,
                _ => return None,
            },
            state: parts.next()?.to_owned(),
        })
    }
}

impl Journal {
    /// Where the replay of the log with this SHA-256 got to, if it ever started.
    pub fn replay_progress(
        &self,
        log_sha256: &str,
    ) -> Result<Option<ReplayProgress>, JournalError> {
        let value: Option<String> = self
            .conn
            .query_row(
                "SELECT value FROM meta WHERE key = ?1",
                [key(log_sha256)],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.err())?;
        value
            .map(|v| {
                ReplayProgress::parse(&v).ok_or_else(|| JournalError::NotAJournal {
                    path: self.path.clone(),
                    detail: format!("unreadable replay progress {v:?}"),
                })
            })
            .transpose()
    }

    /// Record a replay's position on its own (at the end of the log).
    pub fn save_replay_progress(
        &mut self,
        log_sha256: &str,
        progress: &ReplayProgress,
    ) -> Result<(), JournalError> {
        let err = super::sqlite_error(&self.path);
        let tx = super::WriteTx::begin(&mut self.conn, self.group, &self.path)?;
        progress.save(&tx, log_sha256).map_err(&err)?;
        tx.commit().map_err(&err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_round_trips_through_its_text() {
        let p = ReplayProgress {
            offset: 123,
            line: 4,
            state: r#"{"a": "b c"}"#.to_owned(),
            finished: true,
        };
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
            .unwrap();
        p.save(&conn, "abc").unwrap();
        let v: String = conn
            .query_row("SELECT value FROM meta", [], |r| r.get(0))
            .unwrap();
        assert_eq!(ReplayProgress::parse(&v), Some(p));
        assert_eq!(ReplayProgress::parse("1 2 x {}"), None);
    }
}
