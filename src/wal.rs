//! SQLite connection settings shared by the journal and the network store: WAL checkpoints
//! off the writer's thread, and stable query plans.
//!
//! In WAL mode a commit appends the changed pages to the `-wal` file and fsyncs it; copying
//! them back into the database file (a checkpoint) is separate work that SQLite by default
//! does inside the commit that takes the WAL past 1,000 pages, on the writer's own thread
//! (<https://www.sqlite.org/wal.html#automatic_checkpoint>). On a store with one busy
//! writer that is the writer stalling for the copy and two more fsyncs. A [`Checkpointer`]
//! runs `PRAGMA wal_checkpoint(PASSIVE)` on a connection and thread of its own after
//! commits instead; a passive checkpoint never blocks the writer
//! (<https://www.sqlite.org/c3ref/wal_checkpoint_v2.html>). Durability is the same: every
//! commit is still fsynced to the WAL before it returns.
//!
//! The writer keeps a backstop: its own automatic checkpoint at [`WRITER_BACKSTOP_PAGES`].
//! A passive checkpoint can finish only up to the frames committed when it started; the WAL
//! starts over from its beginning only when a write begins with every frame copied, which
//! under a constant stream of commits may not happen. Past the backstop the writer copies
//! the few frames left itself, between two transactions, and the WAL restarts.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

/// The writer's own automatic checkpoint, as a backstop (pages; 64 MiB of 4 KiB pages).
pub const WRITER_BACKSTOP_PAGES: i64 = 16_384;
/// Least time between two background checkpoints, so one copies many commits' pages.
const PACE: Duration = Duration::from_millis(50);

/// Plan each statement once, whatever its parameters are bound to: SQLite's query planner
/// stability guarantee (`SQLITE_DBCONFIG_ENABLE_QPSG`). Without it, a statement whose plan
/// used a bound value (a `LIMIT ?`, since SQLite 3.47) is prepared again every time that
/// parameter is bound: in a profile of the sync drain, the outbox read spent a quarter of
/// its time in `sqlite3Reprepare`. <https://www.sqlite.org/c3ref/c_dbconfig_defensive.html>
pub fn stable_plans(conn: &Connection) -> rusqlite::Result<()> {
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )
    .map(|_| ())
}

#[derive(Default)]
struct State {
    committed: bool,
    stop: bool,
}

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    wake: Condvar,
}

/// A thread checkpointing one database's WAL after the writer's commits.
pub struct Checkpointer {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    /// Take over the checkpoints of the WAL database at `path`, whose writing connection is
    /// `writer`: the writer keeps only the backstop, and a thread named `name` checkpoints
    /// after each [`committed`](Checkpointer::committed). `None` for an in-memory database.
    pub fn start(writer: &Connection, path: &Path, name: &str) -> rusqlite::Result<Option<Self>> {
        if path == Path::new(":memory:") {
            return Ok(None);
        }
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(Duration::from_secs(5))?;
        // A checkpoint fsyncs the WAL before copying and the database after.
        conn.pragma_update(None, "synchronous", "FULL")?;
        writer.pragma_update(None, "wal_autocheckpoint", WRITER_BACKSTOP_PAGES)?;
        let shared = Arc::new(Shared::default());
        let s = shared.clone();
        let path: PathBuf = path.to_owned();
        let thread = std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || run(&conn, &path, &s))
            .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
        Ok(Some(Checkpointer {
            shared,
            thread: Some(thread),
        }))
    }

    /// A commit went into the WAL: checkpoint soon.
    pub fn committed(&self) {
        let mut st = self.shared.state.lock().unwrap_or_else(|e| e.into_inner());
        if !st.committed {
            st.committed = true;
            self.shared.wake.notify_one();
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        {
            let mut st = self.shared.state.lock().unwrap_or_else(|e| e.into_inner());
            st.stop = true;
            self.shared.wake.notify_one();
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn run(conn: &Connection, path: &Path, shared: &Shared) {
    let mut reported = false;
    loop {
        {
            let mut st = shared.state.lock().unwrap_or_else(|e| e.into_inner());
            while !st.committed && !st.stop {
                st = shared.wake.wait(st).unwrap_or_else(|e| e.into_inner());
            }
            if st.stop {
                return;
            }
            st.committed = false;
        }
        let done = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, i64>(2)?,
            ))
        });
        match done {
            Ok(_) => reported = false,
            // The writer's backstop still checkpoints; say it once, not on every commit.
            Err(e) if !reported => {
                reported = true;
                eprintln!("konbini: checkpoint of {}: {e}", path.display());
            }
            Err(_) => {}
        }
        std::thread::sleep(PACE);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commits_are_copied_into_the_database_by_the_thread_not_the_writer() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.db");
        let writer = Connection::open(&path).unwrap();
        writer
            .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get::<_, String>(0))
            .unwrap();
        writer.execute_batch("CREATE TABLE t (x BLOB)").unwrap();
        let ckpt = Checkpointer::start(&writer, &path, "test-wal")
            .unwrap()
            .unwrap();
        let backstop: i64 = writer
            .pragma_query_value(None, "wal_autocheckpoint", |r| r.get(0))
            .unwrap();
        assert_eq!(backstop, WRITER_BACKSTOP_PAGES);
        let db_size = || std::fs::metadata(&path).unwrap().len();
        let before = db_size();
        // 2,000 pages: past SQLite's default automatic checkpoint, which the writer no
        // longer takes; the database file grows only by the thread's checkpoints.
        for _ in 0..20 {
            writer
                .execute_batch(
                    "BEGIN; WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100)
                     INSERT INTO t SELECT randomblob(4000) FROM n; COMMIT;",
                )
                .unwrap();
            ckpt.committed();
        }
        let start = std::time::Instant::now();
        while db_size() < before + 20 * 100 * 4000 {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "the checkpoint thread copied nothing: {} bytes",
                db_size()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        drop(ckpt);
    }

    /// Times `SELECT ... LIMIT ?` was prepared again over three calls with other limits.
    fn reprepares(conn: &Connection) -> i32 {
        conn.execute_batch(
            "CREATE TABLE t (x INTEGER PRIMARY KEY); INSERT INTO t VALUES (1), (2), (3);",
        )
        .unwrap();
        let mut st = conn.prepare("SELECT x FROM t ORDER BY x LIMIT ?1").unwrap();
        for limit in 1..=3 {
            let n = st
                .query_map([limit], |r| r.get::<_, i64>(0))
                .unwrap()
                .count();
            assert_eq!(n, limit as usize);
        }
        st.get_status(rusqlite::StatementStatus::RePrepare)
    }

    #[test]
    fn a_bound_limit_does_not_make_sqlite_prepare_the_statement_again() {
        let plain = Connection::open_in_memory().unwrap();
        assert!(
            reprepares(&plain) > 0,
            "SQLite no longer re-plans on a bound LIMIT"
        );
        let stable = Connection::open_in_memory().unwrap();
        stable_plans(&stable).unwrap();
        assert_eq!(reprepares(&stable), 0);
    }

    #[test]
    fn an_in_memory_database_has_no_checkpointer() {
        let conn = Connection::open_in_memory().unwrap();
        assert!(
            Checkpointer::start(&conn, Path::new(":memory:"), "x")
                .unwrap()
                .is_none()
        );
    }
}
