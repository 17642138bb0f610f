//! The SQLite backend's write-ahead log, handled off the writer's thread: checkpoints
//! ([`Checkpointer`]), the fsync after each commit with a ticket per commit that answers
//! wait for ([`WalSyncer`], [`Tickets`]), and stable query plans.
//!
//! In WAL mode a commit appends the changed pages to the `-wal` file and fsyncs it; copying
//! them back into the database file (a checkpoint) is separate work that SQLite by default
//! does inside the commit that takes the WAL past 1,000 pages, on the writer's own thread
//! (<https://www.sqlite.org/wal.html#automatic_checkpoint>). On a store with one busy
//! writer that is the writer stalling for the copy and two more fsyncs. A [`Checkpointer`]
//! runs `PRAGMA wal_checkpoint(PASSIVE)` on a connection and thread of its own after
//! commits instead; a passive checkpoint never blocks the writer
//! (<https://www.sqlite.org/c3ref/wal_checkpoint_v2.html>). Durability is not touched by it;
//! the WAL's fsync after each commit is the [`WalSyncer`]'s.
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

/// The writer's own automatic checkpoint, as a backstop (pages; 256 MiB of 4 KiB pages).
/// Each time it fires, the writer copies what the thread has not yet copied and fsyncs the
/// database file, between two of its transactions: the larger the backstop, the rarer that
/// stall. Measured on the confirmation benchmark: 64 MiB spent about 9% of the writer's
/// time there; at 256 MiB it fires a quarter as often. The cost: once a busy store has
/// reached it, the WAL file stays about this size (SQLite reuses it from its start rather
/// than shrinking it), and opening after a crash reads what of it is still uncopied.
pub const WRITER_BACKSTOP_PAGES: i64 = 65_536;
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
    pub fn start(
        writer: &Connection,
        path: &Path,
        name: &str,
    ) -> Result<Option<Self>, super::OpenError> {
        let sqlite = |source| super::OpenError::Sqlite {
            path: path.display().to_string(),
            source,
        };
        if path == Path::new(":memory:") {
            return Ok(None);
        }
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(sqlite)?;
        conn.busy_timeout(Duration::from_secs(5)).map_err(sqlite)?;
        // A checkpoint fsyncs the WAL before copying and the database after.
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(sqlite)?;
        writer
            .pragma_update(None, "wal_autocheckpoint", WRITER_BACKSTOP_PAGES)
            .map_err(sqlite)?;
        let shared = Arc::new(Shared::default());
        let s = shared.clone();
        let path: PathBuf = path.to_owned();
        let thread = std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || run(&conn, &path, &s))
            .map_err(|source| super::OpenError::Thread {
                what: "its checkpoint thread",
                source,
            })?;
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

/// Commits made durable off the writer's thread: the writer commits with
/// `synchronous=NORMAL` (its frames are written to the WAL, not fsynced), and a thread of its
/// own fsyncs the WAL after it while the writer goes on with the next transaction. Nothing
/// is answered before its commit is synced: each commit gets a ticket, and the answer waits
/// for it ([`Tickets::wait`], or [`Tickets::after`] for a callback). One fsync covers every
/// commit written before it: it is the group commit, without the writer standing idle
/// through it.
///
/// This is as durable as `synchronous=FULL`, which differs from NORMAL in WAL mode only by a
/// sync of the WAL after each commit (<https://www.sqlite.org/pragma.html#pragma_synchronous>):
/// the sync here is the same `fdatasync` of the same file, through a descriptor of its own
/// (Linux's fsync writes back the file, whichever descriptor asks). SQLite still syncs the
/// WAL's header when the WAL starts over, and the WAL before every checkpoint copies it into
/// the database.
///
/// Reads may see a commit before its sync; their answers wait for it too, so no client sees
/// what a crash could take back. If an fsync fails, what was written since the last one may
/// be lost: every waiting and later answer is that error, and the store takes no more writes.
pub struct WalSyncer {
    handle: Tickets,
    thread: Option<JoinHandle<()>>,
}

/// What answers need of a [`WalSyncer`]: tickets, and waiting for them. Cheap to clone, usable
/// without the store's lock.
#[derive(Clone)]
pub struct Tickets(Arc<SyncShared>);

/// Run once a commit is synced (or could not be).
pub type AfterSync = Box<dyn FnOnce(Result<(), Unsynced>) + Send>;

/// The WAL could not be synced: nothing committed since the last sync can be promised.
#[derive(Debug, Clone, thiserror::Error)]
#[error(
    "could not sync {path}: {detail}; what was committed since the last sync may be lost, and the store takes no more writes until it is restarted"
)]
pub struct Unsynced {
    /// The WAL file.
    pub path: String,
    /// What the system said.
    pub detail: String,
}

#[derive(Default)]
struct SyncState {
    /// Commits written to the WAL: the last ticket handed out.
    written: u64,
    /// Commits known durable.
    synced: u64,
    failed: Option<Unsynced>,
    stop: bool,
    after: Vec<(u64, AfterSync)>,
    /// No sync starts while set: only tests set it ([`Tickets::hold`]).
    held: bool,
}

#[derive(Default)]
struct SyncShared {
    state: Mutex<SyncState>,
    /// To the thread: a commit was written, or stop.
    work: Condvar,
    /// To waiters: `synced` moved, or the sync failed.
    done: Condvar,
}

impl SyncShared {
    fn lock(&self) -> std::sync::MutexGuard<'_, SyncState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl WalSyncer {
    /// Sync the WAL of the database at `path` (its `-wal` file, which must exist: the
    /// database is open in WAL mode) on a thread named `name`. The connections writing it
    /// must run with `synchronous=NORMAL` and call [`committed`](WalSyncer::committed).
    pub fn start(path: &Path, name: &str) -> std::io::Result<WalSyncer> {
        let mut wal = path.as_os_str().to_owned();
        wal.push("-wal");
        let wal = PathBuf::from(wal);
        let file = std::fs::File::open(&wal)?;
        // What is already in the WAL may never have been synced: written by the commits
        // before a kill, or by this open's migrations. Answers may be built from it.
        file.sync_data()?;
        WalSyncer::with_file(file, wal.display().to_string(), name)
    }

    fn with_file(file: std::fs::File, path: String, name: &str) -> std::io::Result<WalSyncer> {
        let shared = Arc::new(SyncShared::default());
        let s = shared.clone();
        let thread = std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || sync_loop(&file, &path, &s))?;
        Ok(WalSyncer {
            handle: Tickets(shared),
            thread: Some(thread),
        })
    }

    /// A commit was written to the WAL: its ticket.
    pub fn committed(&self) -> u64 {
        let mut st = self.handle.0.lock();
        st.written += 1;
        self.handle.0.work.notify_one();
        st.written
    }

    /// Tickets and waits, for use outside the store's lock.
    pub fn handle(&self) -> &Tickets {
        &self.handle
    }
}

impl Tickets {
    /// Tests: hold every sync back (`true`) or let them go.
    #[cfg(test)]
    pub fn hold(&self, held: bool) {
        self.0.lock().held = held;
        self.0.work.notify_one();
    }

    /// The ticket of the last commit written: what a read may have seen.
    pub fn latest(&self) -> u64 {
        self.0.lock().written
    }

    /// The failed sync, once one has failed.
    pub fn failed(&self) -> Option<Unsynced> {
        self.0.lock().failed.clone()
    }

    /// Block until commit `ticket` is durable.
    pub fn wait(&self, ticket: u64) -> Result<(), Unsynced> {
        let mut st = self.0.lock();
        loop {
            if let Some(e) = &st.failed {
                return Err(e.clone());
            }
            if st.synced >= ticket {
                return Ok(());
            }
            st = self.0.done.wait(st).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Run `f` once commit `ticket` is durable: at once, here, if it already is; otherwise
    /// on the sync thread, right after the fsync (keep it short).
    pub fn after(&self, ticket: u64, f: AfterSync) {
        let now = {
            let mut st = self.0.lock();
            if let Some(e) = &st.failed {
                Some(Err(e.clone()))
            } else if st.synced >= ticket {
                Some(Ok(()))
            } else {
                st.after.push((ticket, f));
                return;
            }
        };
        if let Some(r) = now {
            f(r);
        }
    }
}

impl Drop for WalSyncer {
    /// Sync what was committed, then stop.
    fn drop(&mut self) {
        {
            let mut st = self.handle.0.lock();
            st.stop = true;
            self.handle.0.work.notify_one();
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Should the sync thread end any other way than asked (a panic in a callback), no answer
/// waits forever: every wait fails, and the waiting callbacks are dropped (their
/// receivers see the sender gone).
struct ExitGuard<'a>(&'a SyncShared, &'a str);

impl Drop for ExitGuard<'_> {
    fn drop(&mut self) {
        let dropped = {
            let mut st = self.0.lock();
            if st.failed.is_none() && !(st.stop && st.written == st.synced) {
                st.failed = Some(Unsynced {
                    path: self.1.to_owned(),
                    detail: "the sync thread stopped".into(),
                });
            }
            self.0.done.notify_all();
            std::mem::take(&mut st.after)
        };
        drop(dropped);
    }
}

fn sync_loop(file: &std::fs::File, path: &str, shared: &SyncShared) {
    let _guard = ExitGuard(shared, path);
    loop {
        let target = {
            let mut st = shared.lock();
            while (st.written == st.synced || st.held) && !st.stop {
                st = shared.work.wait(st).unwrap_or_else(|e| e.into_inner());
            }
            if st.written == st.synced {
                return;
            }
            st.written
        };
        let result = file.sync_data().map_err(|e| Unsynced {
            path: path.to_owned(),
            detail: e.to_string(),
        });
        let (ready, outcome) = {
            let mut st = shared.lock();
            let ready: Vec<AfterSync>;
            match &result {
                Ok(()) => {
                    st.synced = target;
                    let (now, later) = std::mem::take(&mut st.after)
                        .into_iter()
                        .partition(|(t, _)| *t <= target);
                    st.after = later;
                    ready = now.into_iter().map(|(_, f)| f).collect();
                }
                Err(e) => {
                    eprintln!("konbini: {e}");
                    st.failed = Some(e.clone());
                    ready = std::mem::take(&mut st.after)
                        .into_iter()
                        .map(|(_, f)| f)
                        .collect();
                }
            }
            shared.done.notify_all();
            (ready, result)
        };
        for f in ready {
            f(outcome.clone());
        }
        if outcome.is_err() {
            return;
        }
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

    /// A WAL database at `dir/s.db` written by `writer` with `synchronous=NORMAL`.
    fn normal_writer(dir: &Path) -> (Connection, PathBuf) {
        let path = dir.join("s.db");
        let writer = Connection::open(&path).unwrap();
        writer
            .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get::<_, String>(0))
            .unwrap();
        writer.pragma_update(None, "synchronous", "NORMAL").unwrap();
        writer.execute_batch("CREATE TABLE t (x)").unwrap();
        (writer, path)
    }

    #[test]
    fn a_commit_is_answered_only_after_the_sync_thread_synced_it() {
        let dir = tempfile::tempdir().unwrap();
        let (writer, path) = normal_writer(dir.path());
        let syncer = WalSyncer::start(&path, "test-sync").unwrap();
        let sync = syncer.handle().clone();
        let (tx, rx) = std::sync::mpsc::channel();
        for i in 0..50 {
            writer
                .execute("INSERT INTO t VALUES (?1)", [i as i64])
                .unwrap();
            let ticket = syncer.committed();
            assert_eq!(ticket, i + 1);
            let tx = tx.clone();
            let shared = sync.0.clone();
            sync.after(
                ticket,
                Box::new(move |r| {
                    // Called once the thread has marked this ticket synced, never before.
                    let synced = shared.lock().synced;
                    tx.send((ticket, r.is_ok(), synced)).unwrap();
                }),
            );
        }
        sync.wait(sync.latest()).unwrap();
        drop(tx);
        let answers: Vec<(u64, bool, u64)> = rx.iter().collect();
        assert_eq!(answers.len(), 50);
        for (ticket, ok, synced) in answers {
            assert!(
                ok && synced >= ticket,
                "ticket {ticket} answered at synced {synced}"
            );
        }
        // One fsync covers the commits written before it: fewer syncs than commits is
        // the point, but on an idle machine each may get its own; either is right.
        let st = sync.0.lock();
        assert_eq!((st.written, st.synced), (50, 50));
        assert!(st.after.is_empty());
    }

    #[test]
    fn a_failed_sync_fails_every_waiting_and_later_answer() {
        // fdatasync on a FIFO fails (EINVAL): a stand-in for a disk that refuses the sync.
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("wal-fifo");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        // Read and write, so opening does not wait for a writer.
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&fifo)
            .unwrap();
        let syncer = WalSyncer::with_file(file, "wal-fifo".into(), "test-sync-fail").unwrap();
        let sync = syncer.handle().clone();
        let ticket = syncer.committed();
        let err = sync.wait(ticket).unwrap_err();
        assert!(err.to_string().contains("could not sync wal-fifo"), "{err}");
        assert!(sync.failed().is_some());
        // Later commits are never promised either.
        let later = syncer.committed();
        assert!(sync.wait(later).is_err());
        let (tx, rx) = std::sync::mpsc::channel();
        sync.after(later, Box::new(move |r| tx.send(r.is_err()).unwrap()));
        assert!(rx.recv().unwrap());
        // As the storage reports it: the sync that failed, by name.
        let storage = super::super::unsynced(err);
        assert!(
            storage.to_string().contains("could not sync wal-fifo"),
            "{storage}"
        );
    }

    #[test]
    fn a_sync_thread_that_dies_leaves_no_answer_waiting_forever() {
        let dir = tempfile::tempdir().unwrap();
        let (writer, path) = normal_writer(dir.path());
        let syncer = WalSyncer::start(&path, "test-sync-dies").unwrap();
        let sync = syncer.handle().clone();
        sync.hold(true);
        writer.execute("INSERT INTO t VALUES (1)", []).unwrap();
        let first = syncer.committed();
        sync.after(
            first,
            Box::new(|_| panic!("a callback panics (on purpose)")),
        );
        let (tx, rx) = std::sync::mpsc::channel::<bool>();
        sync.after(first, Box::new(move |r| tx.send(r.is_ok()).unwrap()));
        sync.hold(false);
        // The second callback never ran: dropped with the thread, so its sender is gone.
        assert!(rx.recv().is_err());
        let later = syncer.committed();
        let err = sync.wait(later).unwrap_err();
        assert!(err.to_string().contains("the sync thread stopped"), "{err}");
        drop(syncer);
    }

    #[test]
    fn dropping_the_syncer_syncs_what_was_committed() {
        let dir = tempfile::tempdir().unwrap();
        let (writer, path) = normal_writer(dir.path());
        let syncer = WalSyncer::start(&path, "test-sync-drop").unwrap();
        writer.execute("INSERT INTO t VALUES (1)", []).unwrap();
        let ticket = syncer.committed();
        let shared = syncer.handle().0.clone();
        drop(syncer);
        let st = shared.lock();
        assert!(st.synced >= ticket && st.failed.is_none());
    }

    /// .cargo/config.toml builds SQLite without the process-wide page cache lock and
    /// without the malloc statistics lock: every connection of the process (journal, sync
    /// task, network) took them on every page and every allocation.
    #[test]
    fn sqlite_is_built_without_its_process_wide_locks() {
        let conn = Connection::open_in_memory().unwrap();
        let options: Vec<String> = conn
            .prepare("PRAGMA compile_options")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(
            !options.iter().any(|o| o == "ENABLE_MEMORY_MANAGEMENT"),
            "{options:?}"
        );
        assert!(
            options.iter().any(|o| o == "DEFAULT_MEMSTATUS=0"),
            "{options:?}"
        );
        assert!(options.iter().any(|o| o == "THREADSAFE=1"), "{options:?}");
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
