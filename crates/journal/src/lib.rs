//! The journal: the register's durable record of every cash receipt, in SQLite. It owns the
//! database file and is the only code that touches it.
//!
//! House rules, checked at open and kept by every write:
//! - one writer: a process holds an exclusive `flock` on the journal file while it writes
//!   (see `lock`; readers take none);
//! - `journal_mode=WAL`, `synchronous=FULL`, `foreign_keys=ON`, each read back and checked
//!   (SQLite ignores a misspelled PRAGMA in silence);
//! - every write transaction is `BEGIN IMMEDIATE`;
//! - a sale, its slips, one outbox row per slip, its print job, the chain head and the
//!   replay position are written in one transaction: a sale is all there or not at all;
//! - sales are hash-chained (see `record`), so `verify` catches any change, deletion,
//!   insertion or reordering;
//! - the outbox rows an answer moves out of `pending` get a record in a second chain, the
//!   verdicts (see `verdicts`), in the same transaction, so `verify` proves every outbox
//!   state;
//! - the register's views of a day (recent sales, the Z report) are aggregate queries on
//!   the `sales_at` index (see `day`), never sales loaded into memory;
//! - what happens at the register that is not a payment (a void, a cancelled sale, the day
//!   close) is a non-sale record in a chain of its own (see `records`, `close`), never in
//!   the outbox, so the sales' chain the network checks keeps its seq without gaps.
//!
//! It never decides whether a sale is valid: that is the register core's job.

mod alerts;
mod close;
mod day;
mod export;
pub mod failpoint;
mod lock;
mod outbox;
mod print_queue;
mod progress;
mod record;
mod records;
mod sales;
mod verdicts;
mod verify;

use std::path::{Path, PathBuf};

use rusqlite::{Connection, ErrorCode, OpenFlags};

use rusqlite_migration::{M, Migrations};

pub use alerts::Alert;
pub use close::{CancelCounts, CloseBody, DayReport, OpenDay, VoidCounts};
pub use day::{DayTotals, MethodTotal, PayMethod, PrintState, SaleRow, SyncCounts};
pub use outbox::{OutboxSummary, PendingSale, PendingSlip, SlipAnswer, unix_ms};
pub use progress::ReplayProgress;
pub use record::{
    GENESIS_HASH, RecordKind, RegisterRecord, SaleRecord, SlipPay, SlipRecord, SyncState,
    journal_time, slip_id,
};
pub use records::{CancelBody, RecordSlip, VoidBody, VoidedFrom};
pub use sales::Committed;
pub use verify::VerifyReport;

/// The schema, one numbered file per version. Never edit a released file: add one.
const MIGRATION_FILES: &[&str] = &[
    include_str!("../migrations/0001_journal.sql"),
    include_str!("../migrations/0002_sales_at.sql"),
    include_str!("../migrations/0003_outbox_check.sql"),
    include_str!("../migrations/0004_verdicts.sql"),
    include_str!("../migrations/0005_records.sql"),
];

/// The page size of new journals, in bytes.
pub const JOURNAL_PAGE_SIZE: i64 = 1024;

fn migrations() -> Migrations<'static> {
    Migrations::new(
        MIGRATION_FILES
            .iter()
            .enumerate()
            .map(|(i, sql)| match i + 1 {
                // The verdict chain starts with a record of each row already final.
                4 => M::up_with_hook(sql, verdicts::record_existing),
                _ => M::up(sql),
            })
            .collect(),
    )
}

/// Anything that went wrong with a journal. Every message names the file.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// No journal at that path (for commands that only read one).
    #[error("journal {path} does not exist")]
    Missing {
        /// The journal.
        path: PathBuf,
    },
    /// SQLite could not open or create the file.
    #[error(
        "journal {path} cannot be opened (does its directory exist and is it writable?): {source}"
    )]
    Open {
        /// The journal.
        path: PathBuf,
        /// SQLite's error.
        source: rusqlite::Error,
    },
    /// The file is not a konbini journal.
    #[error("journal {path} is not a konbini journal: {detail}")]
    NotAJournal {
        /// The journal.
        path: PathBuf,
        /// What gave it away.
        detail: String,
    },
    /// A newer konbini-pos wrote it; this one must not touch it.
    #[error(
        "journal {path} has schema version {found}, newer than this konbini-pos knows ({known}); use a newer konbini"
    )]
    TooNew {
        /// The journal.
        path: PathBuf,
        /// Its schema version.
        found: i64,
        /// The newest this build knows.
        known: usize,
    },
    /// A PRAGMA did not take.
    #[error("journal {path}: PRAGMA {pragma} is {found}, expected {expected}")]
    Pragma {
        /// The journal.
        path: PathBuf,
        /// Which.
        pragma: &'static str,
        /// What SQLite reported.
        found: String,
        /// What the house rules need.
        expected: &'static str,
    },
    /// The file or its directory cannot be written.
    #[error("journal {path} is read-only: nothing can be recorded in it")]
    ReadOnly {
        /// The journal.
        path: PathBuf,
    },
    /// Another writer holds the journal (its pid when known).
    #[error("journal {path} is in use by {}", match pid {
        Some(pid) => format!("pid {pid}"),
        None => "another konbini process".to_owned(),
    })]
    Busy {
        /// The journal.
        path: PathBuf,
        /// The writer's process, when it could be found.
        pid: Option<u32>,
    },
    /// A write failed for lack of space; the transaction was rolled back.
    #[error(
        "journal {path}: the disk is full or the write failed ({source}); the sale was not recorded"
    )]
    DiskFull {
        /// The journal.
        path: PathBuf,
        /// SQLite's error.
        source: rusqlite::Error,
    },
    /// The file is a journal, but SQLite found it damaged (its own integrity check, or a
    /// read): a page or record broken in a way that names no one row of the journal.
    #[error("journal {path} is damaged: {detail}")]
    Damaged {
        /// The journal.
        path: PathBuf,
        /// What SQLite said.
        detail: String,
    },
    /// Verification found a bad row that is not a sale's: an outbox row, a verdict record,
    /// a print job.
    #[error("journal {path}: {row}: {problem}")]
    TamperedRow {
        /// The journal.
        path: PathBuf,
        /// The first bad row, by its key ("outbox row sale 12 slip 1").
        row: String,
        /// What is wrong with it.
        problem: String,
    },
    /// Verification found a bad sale.
    #[error("journal {path}: sale {seq}: {problem}")]
    Tampered {
        /// The journal.
        path: PathBuf,
        /// The first bad sale (or where one is missing).
        seq: u64,
        /// What is wrong with it.
        problem: String,
    },
    /// A sum of the journal's figures does not fit (only a tampered journal gets there).
    #[error("journal {path}: {what} too large to add up")]
    Overflow {
        /// The journal.
        path: PathBuf,
        /// Which sum.
        what: &'static str,
    },
    /// Any other SQLite error.
    #[error("journal {path}: {source}")]
    Sqlite {
        /// The journal.
        path: PathBuf,
        /// SQLite's error.
        source: rusqlite::Error,
    },
    /// A long read was stopped by its caller before it was done.
    #[error("journal {path}: {what} was stopped before it was done")]
    Stopped {
        /// The journal.
        path: PathBuf,
        /// Which read.
        what: &'static str,
    },
    /// The export could not be written.
    #[error("cannot write the export: {source}")]
    Output {
        /// The OS error.
        source: std::io::Error,
    },
    /// The file cannot be opened or made where it is: the directory is missing or cannot
    /// be written.
    #[error(
        "journal {path} cannot be opened (does its directory exist and is it writable?): {source}"
    )]
    Create {
        /// The journal.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The writer lock could not be taken for another reason.
    #[error("journal {path}: cannot lock it for writing: {source}")]
    Lock {
        /// The journal.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}

/// The oldest schema a read-only open (verify, export) reads as it is: 0002 only added an
/// index, so a journal no writer has upgraded yet is still read, never refused.
const OLDEST_READABLE_SCHEMA: i64 = 1;

/// An open journal. Writable ones hold the writer lock until dropped.
pub struct Journal {
    // Declared first, so dropped first: the connection is closed before `_file` may close
    // the descriptor the writer lock is on (closing it would drop SQLite's own locks).
    conn: Connection,
    path: PathBuf,
    journal_id: String,
    /// A group of writes is open ([`Journal::begin_group`]): every write joins its one
    /// transaction until [`Journal::commit_group`].
    group: bool,
    /// This journal's use of the file (with the writer lock, for a writer): taken before
    /// the connection was opened, given up after it is closed.
    _file: Option<lock::FileUse>,
}

/// A write on the journal: a transaction of its own (`BEGIN IMMEDIATE`), or, while a group
/// is open, the group's.
pub(crate) enum WriteTx<'a> {
    Own(rusqlite::Transaction<'a>),
    Group(&'a Connection),
}

impl std::ops::Deref for WriteTx<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        match self {
            WriteTx::Own(tx) => tx,
            WriteTx::Group(conn) => conn,
        }
    }
}

impl<'a> WriteTx<'a> {
    /// Begin a write on the journal at `path` through `conn`: a transaction of its own, or
    /// the open group's when `group`. (Takes the journal's fields, not the journal, so a
    /// caller keeps the others, its path and id, borrowed beside it.)
    pub(crate) fn begin(
        conn: &'a mut Connection,
        group: bool,
        path: &Path,
    ) -> Result<WriteTx<'a>, JournalError> {
        if group {
            return Ok(WriteTx::Group(conn));
        }
        conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map(WriteTx::Own)
            .map_err(sqlite_error(path))
    }

    /// Commit a transaction of its own; in a group, nothing yet (the group commits).
    pub(crate) fn commit(self) -> rusqlite::Result<()> {
        match self {
            WriteTx::Own(tx) => tx.commit(),
            WriteTx::Group(_) => Ok(()),
        }
    }

    /// Whether this write commits on its own.
    pub(crate) fn is_own(&self) -> bool {
        matches!(self, WriteTx::Own(_))
    }
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Journal")
            .field("path", &self.path)
            .field("journal_id", &self.journal_id)
            .finish()
    }
}

impl Journal {
    /// Open the journal at `path` for writing, creating it if missing; migrate it to the
    /// current schema and check every house rule.
    pub fn open(path: &Path) -> Result<Journal, JournalError> {
        let lock = lock::FileUse::writer(path)?;
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|source| JournalError::Open {
            path: path.to_owned(),
            source,
        })?;
        Self::setup(conn, path, true, Some(lock))
    }

    /// Open an existing journal to read it (verify, export). Never creates or migrates.
    pub fn open_read_only(path: &Path) -> Result<Journal, JournalError> {
        if !path.exists() {
            return Err(JournalError::Missing {
                path: path.to_owned(),
            });
        }
        let file = lock::FileUse::reader(path);
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|source| JournalError::Open {
            path: path.to_owned(),
            source,
        })?;
        Self::setup(conn, path, false, file)
    }

    /// Check and (for a writer) migrate the journal `conn` opened. On an error `conn` is
    /// closed before `file` is given up (see [`Journal`]'s fields).
    fn setup(
        conn: Connection,
        path: &Path,
        writable: bool,
        file: Option<lock::FileUse>,
    ) -> Result<Journal, JournalError> {
        match Self::check(conn, path, writable) {
            Ok((conn, journal_id)) => Ok(Journal {
                conn,
                path: path.to_owned(),
                journal_id,
                group: false,
                _file: file,
            }),
            Err(e) => {
                drop(file);
                Err(e)
            }
        }
    }

    fn check(
        mut conn: Connection,
        path: &Path,
        writable: bool,
    ) -> Result<(Connection, String), JournalError> {
        let err = sqlite_error(path);
        stable_plans(&conn).map_err(&err)?;
        let version: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(&err)?;
        let known = MIGRATION_FILES.len();
        if version > known as i64 {
            return Err(JournalError::TooNew {
                path: path.to_owned(),
                found: version,
                known,
            });
        }
        if writable {
            if conn.is_readonly(rusqlite::MAIN_DB).map_err(&err)? {
                return Err(JournalError::ReadOnly {
                    path: path.to_owned(),
                });
            }
            if version == 0 {
                // A new journal: small pages, because every commit writes each page it
                // touches (about six) to the WAL and syncs them; a sale is a few hundred
                // bytes. Only possible before the first table and before WAL mode.
                conn.pragma_update(None, "page_size", JOURNAL_PAGE_SIZE)
                    .map_err(&err)?;
            }
            let mode: String = conn
                .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))
                .map_err(&err)?;
            expect_pragma(path, "journal_mode", mode.to_lowercase(), "wal")?;
            conn.pragma_update(None, "synchronous", "FULL")
                .map_err(&err)?;
            // Foreign keys off while migrating, as SQLite's procedure for rebuilding a table
            // says (https://sqlite.org/lang_altertable.html, "otheralter"): a rebuild copies
            // the rows as they are, and a damaged journal (an outbox row without its slip,
            // which verify reports) must still open, not fail its migration.
            conn.pragma_update(None, "foreign_keys", "OFF")
                .map_err(&err)?;
            migrations().to_latest(&mut conn).map_err(|e| match e {
                rusqlite_migration::Error::RusqliteError { err: source, .. } => err(source),
                other => JournalError::NotAJournal {
                    path: path.to_owned(),
                    detail: other.to_string(),
                },
            })?;
            conn.pragma_update(None, "foreign_keys", "ON")
                .map_err(&err)?;
        } else if version < OLDEST_READABLE_SCHEMA {
            return Err(JournalError::NotAJournal {
                path: path.to_owned(),
                detail: format!("schema version {version}, expected {known}"),
            });
        }
        let mode: String = conn
            .pragma_query_value(None, "journal_mode", |r| r.get(0))
            .map_err(&err)?;
        expect_pragma(path, "journal_mode", mode.to_lowercase(), "wal")?;
        if writable {
            let sync: i64 = conn
                .pragma_query_value(None, "synchronous", |r| r.get(0))
                .map_err(&err)?;
            expect_pragma(path, "synchronous", sync.to_string(), "2")?;
            let fk: i64 = conn
                .pragma_query_value(None, "foreign_keys", |r| r.get(0))
                .map_err(&err)?;
            expect_pragma(path, "foreign_keys", fk.to_string(), "1")?;
        }
        let journal_id: String = conn
            .query_row("SELECT value FROM meta WHERE key = 'journal_id'", [], |r| {
                r.get(0)
            })
            .map_err(|e| JournalError::NotAJournal {
                path: path.to_owned(),
                detail: format!("no journal id ({e})"),
            })?;
        Ok((conn, journal_id))
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// This journal's id, made once when it was created.
    pub fn journal_id(&self) -> &str {
        &self.journal_id
    }

    /// The current value of a PRAGMA, for checks and tests.
    pub fn pragma(&self, name: &str) -> Result<String, JournalError> {
        self.conn
            .pragma_query_value(None, name, |r| {
                let v: rusqlite::types::Value = r.get(0)?;
                Ok(match v {
                    rusqlite::types::Value::Integer(i) => i.to_string(),
                    rusqlite::types::Value::Text(t) => t,
                    other => format!("{other:?}"),
                })
            })
            .map_err(sqlite_error(&self.path))
    }

    fn err(&self) -> impl Fn(rusqlite::Error) -> JournalError + '_ {
        sqlite_error(&self.path)
    }

    /// Open a group: every write from now on (sales, verdicts, print marks, replay
    /// progress) joins one transaction, committed by [`Journal::commit_group`] with one
    /// `synchronous=FULL` sync for all of it. Reads on this connection see the group's
    /// writes; other connections see none of them until the commit. A crash before the
    /// commit loses the whole group and nothing before it. For replay; the register
    /// commits each sale on its own.
    pub fn begin_group(&mut self) -> Result<(), JournalError> {
        if self.group {
            return Ok(());
        }
        self.conn
            .execute_batch("BEGIN IMMEDIATE")
            .map_err(self.err())?;
        self.group = true;
        Ok(())
    }

    /// Commit the open group (nothing when none is open). On failure the group is rolled
    /// back whole and closed.
    pub fn commit_group(&mut self) -> Result<(), JournalError> {
        if !self.group {
            return Ok(());
        }
        self.group = false;
        failpoint::hit("journal-before-commit");
        if let Err(e) = self.conn.execute_batch("COMMIT") {
            // SQLite may have rolled it back already; make sure.
            if !self.conn.is_autocommit() {
                let _ = self.conn.execute_batch("ROLLBACK");
            }
            return Err(self.err()(e));
        }
        failpoint::hit("journal-after-commit");
        Ok(())
    }
}

fn expect_pragma(
    path: &Path,
    pragma: &'static str,
    found: String,
    expected: &'static str,
) -> Result<(), JournalError> {
    if found == expected {
        Ok(())
    } else {
        Err(JournalError::Pragma {
            path: path.to_owned(),
            pragma,
            found,
            expected,
        })
    }
}

/// Turn an SQLite error into one that names the journal and says what it means.
fn sqlite_error(path: &Path) -> impl Fn(rusqlite::Error) -> JournalError + '_ {
    move |source| {
        let path = path.to_owned();
        match source.sqlite_error_code() {
            Some(ErrorCode::DiskFull | ErrorCode::SystemIoFailure) => {
                JournalError::DiskFull { path, source }
            }
            Some(ErrorCode::ReadOnly) => JournalError::ReadOnly { path },
            Some(ErrorCode::NotADatabase) => JournalError::NotAJournal {
                path,
                detail: source.to_string(),
            },
            Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => {
                JournalError::Busy { path, pid: None }
            }
            Some(ErrorCode::DatabaseCorrupt) => JournalError::Damaged {
                path,
                detail: source.to_string(),
            },
            _ => JournalError::Sqlite { path, source },
        }
    }
}

/// Plan each statement once, whatever its parameters are bound to (SQLite's query planner
/// stability guarantee, `SQLITE_DBCONFIG_ENABLE_QPSG`): otherwise a statement whose plan
/// used a bound value (a `LIMIT ?`) is prepared again at every bind, which was a quarter of
/// the sync drain's outbox reads. <https://www.sqlite.org/c3ref/c_dbconfig_defensive.html>
fn stable_plans(conn: &Connection) -> rusqlite::Result<()> {
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )
    .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_valid() {
        migrations().validate().unwrap();
    }
}
