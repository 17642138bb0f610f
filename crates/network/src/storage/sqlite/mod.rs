//! The SQLite backend of the network's [`Storage`]: the embedded default, one file. The only
//! code of the network that names SQLite.
//!
//! One connection behind a mutex: one writer, every unit of work in one transaction
//! (`BEGIN IMMEDIATE` for writes), `journal_mode=WAL` read back at open. Commits are
//! fsynced by a [`WalSyncer`] thread (`synchronous=NORMAL` on this connection, also read
//! back), and every answer waits for the sync of the last commit it could have seen
//! ([`Tickets`]), so a stopped, killed or crashed network has lost nothing it answered.
//! Grouped writes (the registers' confirmation batches) go to a thread of their own that
//! commits every unit waiting at that moment in one transaction (a unit that fails is dropped
//! and the rest run again) and answers them once that one commit is synced, while it goes on
//! with the next.
//! Records are JSON documents (see `objects.rs`) beside the columns searched by.

mod wal;

use std::cell::RefCell;
use std::path::Path;
use std::sync::{Arc, Mutex};

use konbini_domain::Chain;
use konbini_protocol::Verdict;
use rusqlite::{Connection, OptionalExtension, params};
use rusqlite_migration::{M, Migrations};
use serde::Serialize;
use serde::de::DeserializeOwned;

use self::wal::{Checkpointer, Tickets, Unsynced, WalSyncer};
use super::{
    Boxed, ConfirmationRecord, Created, Cursor, DeliveryReport, DueDelivery, EndpointHealth,
    EventFilter, Fork, Page, PastConfirmation, SavedAnswer, SlipFacts, SlipQuestions, Storage,
    StorageError, StorageFuture, Tx, Work,
};
use super::{CustomerFilter, PaymentMethodFilter, PriceFilter, ProductFilter};
use super::{Lease, MAX_CLAIM_SECONDS, SessionFilter};
use crate::checkout::{PaymentLink, Session};
use crate::objects::{
    Charge, Customer, EventRow, Numbered, PaymentIntent, PaymentMethod, PiStatus, Price, Product,
    Refund, Snapshot, WebhookEndpoint,
};
use crate::search::{Field as SearchField, Join, Op, Query, Type, Value as SearchValue};

const MIGRATION_FILES: &[&str] = &[
    include_str!("../../../migrations/sqlite/0001_network.sql"),
    include_str!("../../../migrations/sqlite/0002_collected_index.sql"),
    include_str!("../../../migrations/sqlite/0003_webhook_endpoint_status.sql"),
    include_str!("../../../migrations/sqlite/0004_confirmations_per_terminal.sql"),
    include_str!("../../../migrations/sqlite/0005_delivery_claims.sql"),
    include_str!("../../../migrations/sqlite/0006_terminals.sql"),
    include_str!("../../../migrations/sqlite/0007_customer_journey.sql"),
    include_str!("../../../migrations/sqlite/0008_checkout.sql"),
];

fn migrations() -> Migrations<'static> {
    Migrations::new(MIGRATION_FILES.iter().map(|sql| M::up(sql)).collect())
}

/// Migrate to this build's schema with foreign keys off, as SQLite's ALTER TABLE procedure
/// asks of a table rebuilt under references (0007 rebuilds `events`, which `deliveries`
/// references; `PRAGMA foreign_keys` is a no-op inside the migrations' transactions, so it is
/// set around them), then check every reference and turn them on.
fn migrate(conn: &mut Connection) -> Result<(), String> {
    conn.pragma_update(None, "foreign_keys", "OFF")
        .map_err(|e| e.to_string())?;
    migrations().to_latest(conn).map_err(|e| e.to_string())?;
    let broken: Option<String> = conn
        .query_row("PRAGMA foreign_key_check", [], |r| r.get(0))
        .optional()
        .map_err(|e| e.to_string())?;
    if let Some(table) = broken {
        return Err(format!(
            "after migrating, table {table} has a row whose reference is missing"
        ));
    }
    conn.pragma_update(None, "foreign_keys", "ON")
        .map_err(|e| e.to_string())
}

const PI_BY_SEQ: &str = "SELECT doc FROM payment_intents WHERE seq = ?1";
const ENDPOINTS: &str =
    "SELECT doc, status = 'disabled' FROM webhook_endpoints ORDER BY created, id";

/// Most grouped units committed together.
const GROUP_MAX_UNITS: usize = 16;
/// Grouped units waiting for the group thread; a full queue makes the next one wait.
const GROUP_QUEUE: usize = 256;

/// The store could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// SQLite failed.
    #[error("network database {path}: {source}")]
    Sqlite {
        /// The file.
        path: String,
        /// What SQLite said.
        source: rusqlite::Error,
    },
    /// A PRAGMA did not take.
    #[error("network database {path}: {pragma} is {found}, expected {expected}")]
    Pragma {
        /// The file.
        path: String,
        /// Which.
        pragma: &'static str,
        /// Read back.
        found: String,
        /// Wanted.
        expected: &'static str,
    },
    /// Its WAL file could not be opened or synced.
    #[error("network database {path}: its WAL file, to sync it: {source}")]
    Wal {
        /// The file.
        path: String,
        /// What the system said.
        source: std::io::Error,
    },
    /// Not a network database, or a newer one.
    #[error("network database {path}: {detail}")]
    Schema {
        /// The file.
        path: String,
        /// What is wrong.
        detail: String,
    },
    /// A thread of the store could not be started.
    #[error("network database: cannot start {what}: {source}")]
    Thread {
        /// Which thread.
        what: &'static str,
        /// What the system said.
        source: std::io::Error,
    },
}

/// The open connection and the threads that serve it.
struct Db {
    /// Checkpoints the WAL off the writer's thread (none in memory); stopped before `conn`
    /// closes.
    checkpointer: Option<Checkpointer>,
    /// Syncs the WAL after commits (none in memory); dropped before `conn`, syncing what
    /// is left.
    syncer: Option<WalSyncer>,
    conn: Connection,
}

/// What every unit of work shares: the connection under its lock, and the commit tickets.
struct Shared {
    db: Mutex<Db>,
    /// The syncs of the commits (none in memory, where nothing is durable and nothing
    /// waits); usable without the lock.
    tickets: Option<Tickets>,
}

/// A grouped unit, and where its answer goes.
struct GroupJob {
    work: Work,
    reply: tokio::sync::oneshot::Sender<Result<Result<Boxed, Boxed>, StorageError>>,
}

/// The network's storage in one SQLite file.
pub struct SqliteStorage {
    shared: Arc<Shared>,
    group: std::sync::mpsc::SyncSender<GroupJob>,
}

fn doc<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("records serialize")
}

fn undoc<T: DeserializeOwned>(text: &str) -> rusqlite::Result<T> {
    serde_json::from_str(text).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
    })
}

fn verdict_column(v: Verdict) -> &'static str {
    v.as_str()
}

/// A kept confirmation's verdict: `accepted`, or anything else (`conflict`), which is not
/// credited.
fn verdict_of(text: &str) -> Verdict {
    if text == "accepted" {
        Verdict::Accepted
    } else {
        Verdict::Conflict
    }
}

impl SqliteStorage {
    /// Open (creating if missing) the store at `path`; `:memory:` for a throwaway one.
    pub fn open(path: &Path) -> Result<SqliteStorage, OpenError> {
        let p = path.display().to_string();
        let err = |source| OpenError::Sqlite {
            path: p.clone(),
            source,
        };
        let mut conn = Connection::open(path).map_err(err)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(err)?;
        wal::stable_plans(&conn).map_err(err)?;
        // More distinct statements than rusqlite's default cache of 16: without room for
        // all of them, a confirmation batch re-prepares statements over and over.
        conn.set_prepared_statement_cache_capacity(128);
        let mode: String = conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))
            .map_err(err)?;
        let memory = path == Path::new(":memory:");
        if !memory && mode.to_lowercase() != "wal" {
            return Err(OpenError::Pragma {
                path: p,
                pragma: "journal_mode",
                found: mode,
                expected: "wal",
            });
        }
        // Durable all the same: see the syncer started below.
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(err)?;
        let sync: i64 = conn
            .pragma_query_value(None, "synchronous", |r| r.get(0))
            .map_err(err)?;
        if sync != 1 {
            return Err(OpenError::Pragma {
                path: p,
                pragma: "synchronous",
                found: sync.to_string(),
                expected: "1 (NORMAL)",
            });
        }
        migrate(&mut conn).map_err(|detail| OpenError::Schema {
            path: p.clone(),
            detail,
        })?;
        let fk: i64 = conn
            .pragma_query_value(None, "foreign_keys", |r| r.get(0))
            .map_err(err)?;
        if fk != 1 {
            return Err(OpenError::Pragma {
                path: p,
                pragma: "foreign_keys",
                found: fk.to_string(),
                expected: "1 (ON)",
            });
        }
        // Claims on deliveries are a previous run's: one SQLite store has one network, so
        // nobody holds them now, and a restarted network sends them at once rather than
        // when they lapse.
        conn.execute(
            "UPDATE deliveries SET claimed_until = NULL WHERE claimed_until IS NOT NULL",
            [],
        )
        .map_err(err)?;
        let checkpointer = Checkpointer::start(&conn, path, "konbini-net-wal")?;
        // A file store has a checkpointer; one in memory has neither.
        let syncer = match checkpointer {
            Some(_) => Some(
                WalSyncer::start(path, "konbini-net-sync").map_err(|source| OpenError::Wal {
                    path: p.clone(),
                    source,
                })?,
            ),
            None => None,
        };
        let tickets = syncer.as_ref().map(|s| s.handle().clone());
        let shared = Arc::new(Shared {
            db: Mutex::new(Db {
                checkpointer,
                syncer,
                conn,
            }),
            tickets,
        });
        let (group, jobs) = std::sync::mpsc::sync_channel(GROUP_QUEUE);
        let s = shared.clone();
        // The thread ends when the storage is dropped (its sender with it).
        std::thread::Builder::new()
            .name("konbini-net-group".into())
            .spawn(move || group_writer(&s, jobs))
            .map_err(|source| OpenError::Thread {
                what: "its group-commit thread",
                source,
            })?;
        Ok(SqliteStorage { shared, group })
    }

    /// Tests: hold every WAL sync back (`true`) or let them go; `false` when there is no
    /// sync to hold (in memory).
    #[cfg(test)]
    fn hold_syncs(&self, held: bool) -> bool {
        self.shared.tickets.as_ref().map(|t| t.hold(held)).is_some()
    }
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Db> {
        self.db.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn failed(&self, e: rusqlite::Error) -> StorageError {
        failed(e)
    }

    /// No more writes once a sync has failed: what they would build on may be lost.
    fn check_synced_so_far(&self) -> Result<(), StorageError> {
        match self.tickets.as_ref().and_then(Tickets::failed) {
            Some(e) => Err(unsynced(e)),
            None => Ok(()),
        }
    }

    /// Run `work` in one transaction on the blocking thread calling this, and return once
    /// every commit it could have seen is synced.
    fn run(&self, mut work: Work, write: bool) -> Result<Result<Boxed, Boxed>, StorageError> {
        let (committed, out, ticket) = {
            let mut db = self.lock();
            let db = &mut *db;
            if write {
                self.check_synced_so_far()?;
            }
            let behavior = if write {
                rusqlite::TransactionBehavior::Immediate
            } else {
                rusqlite::TransactionBehavior::Deferred
            };
            let tx = db
                .conn
                .transaction_with_behavior(behavior)
                .map_err(|e| self.failed(e))?;
            let out = work(&SqliteTx::new(&tx));
            let committed = match out {
                Ok(_) if write => Some(commit(db.syncer.as_ref(), db.checkpointer.as_ref(), tx)),
                // A read, or a unit that failed: nothing to keep.
                _ => None,
            };
            let ticket = db.syncer.as_ref().map_or(0, |s| s.handle().latest());
            (committed, out, ticket)
        };
        // Even after a failed commit: its frames may be in the WAL, and seen.
        if let Some(t) = &self.tickets {
            t.wait(ticket).map_err(unsynced)?;
        }
        if let Some(Err(e)) = committed {
            return Err(self.failed(e));
        }
        Ok(out)
    }
}

/// Commit: written to the WAL, synced by the sync thread. Answer only once the commit's
/// ticket is synced.
fn commit(
    syncer: Option<&WalSyncer>,
    checkpointer: Option<&Checkpointer>,
    tx: rusqlite::Transaction<'_>,
) -> rusqlite::Result<()> {
    let done = tx.commit();
    // A ticket even for a failed commit: SQLite may have written its frames before
    // failing, and a later read may see them. An extra sync costs little.
    if let Some(s) = syncer {
        s.committed();
    }
    done?;
    if let Some(c) = checkpointer {
        c.committed();
    }
    Ok(())
}

/// SQLite's error as the storage's. Answers do not name the file (a client has no use for
/// the server's paths); the open errors and the network's log do.
fn failed(e: rusqlite::Error) -> StorageError {
    StorageError::Failed(format!("the network's database failed: {e}"))
}

/// A failed WAL sync as the storage's (its message names the WAL file).
fn unsynced(e: Unsynced) -> StorageError {
    StorageError::Failed(format!("the network's database failed: {e}"))
}

/// Commit the grouped units waiting at each moment (up to [`GROUP_MAX_UNITS`]) in one
/// transaction: one fsync for several terminals. A unit that fails is dropped from the group
/// and the others are run again in a fresh transaction (the trait lets a backend run a unit
/// again), so it keeps nothing and the others keep everything. (Not a savepoint per unit:
/// SQLite copies every page a savepoint changes into a statement journal, which spills to a
/// temporary file past 64 KiB; with them the confirmation benchmark lost a fifth.) A commit
/// that fails answers every unit of the group with the error. The answers go out once the
/// commit is synced, from the sync thread; this thread goes on with the next group
/// meanwhile.
fn group_writer(shared: &Shared, jobs: std::sync::mpsc::Receiver<GroupJob>) {
    while let Ok(first) = jobs.recv() {
        let mut group = vec![first];
        while group.len() < GROUP_MAX_UNITS {
            match jobs.try_recv() {
                Ok(j) => group.push(j),
                Err(_) => break,
            }
        }
        let (outcome, failed, ticket) = {
            let mut db = shared.lock();
            let db = &mut *db;
            let mut failed = Vec::new();
            let outcome = shared
                .check_synced_so_far()
                .and_then(|()| commit_group(shared, db, &mut group, &mut failed));
            let ticket = db.syncer.as_ref().map_or(0, |s| s.handle().latest());
            (outcome, failed, ticket)
        };
        // The failed units are answered with the group: what they saw (the others' work)
        // is answered only once durable too.
        let answer = move |synced: Result<(), Unsynced>| {
            for (job, out) in failed {
                let _ = job.reply.send(Ok(out));
            }
            match outcome.and_then(|outs| synced.map(|()| outs).map_err(unsynced)) {
                Ok(outs) => {
                    for (job, out) in group.into_iter().zip(outs) {
                        let _ = job.reply.send(Ok(out));
                    }
                }
                Err(e) => {
                    for job in group {
                        let _ = job.reply.send(Err(e.clone()));
                    }
                }
            }
        };
        match &shared.tickets {
            Some(t) => t.after(ticket, Box::new(answer)),
            None => answer(Ok(())),
        }
    }
}

/// One group in one transaction: every unit of `group` committed, or the error. A unit that
/// fails is moved to `failed` with its answer, and the rest run again.
fn commit_group(
    shared: &Shared,
    db: &mut Db,
    group: &mut Vec<GroupJob>,
    failed: &mut Vec<(GroupJob, Result<Boxed, Boxed>)>,
) -> Result<Vec<Result<Boxed, Boxed>>, StorageError> {
    'again: loop {
        if group.is_empty() {
            return Ok(Vec::new());
        }
        let tx = db
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(|e| shared.failed(e))?;
        let mut outs = Vec::with_capacity(group.len());
        for i in 0..group.len() {
            let out = (group[i].work)(&SqliteTx::new(&tx));
            // Some failures (a full disk, an I/O error) make SQLite roll the whole
            // transaction back by itself: then nothing of the group is kept.
            if tx.is_autocommit() {
                return Err(StorageError::Failed(
                    "the network's database failed: SQLite rolled the transaction back".into(),
                ));
            }
            if out.is_err() {
                drop(tx);
                failed.push((group.remove(i), out));
                continue 'again;
            }
            outs.push(out);
        }
        commit(db.syncer.as_ref(), db.checkpointer.as_ref(), tx).map_err(|e| shared.failed(e))?;
        return Ok(outs);
    }
}

impl Storage for SqliteStorage {
    fn write(&self, work: Work) -> StorageFuture<'_> {
        let shared = self.shared.clone();
        Box::pin(on_blocking_pool(move || shared.run(work, true)))
    }

    fn read(&self, work: Work) -> StorageFuture<'_> {
        let shared = self.shared.clone();
        Box::pin(on_blocking_pool(move || shared.run(work, false)))
    }

    fn write_grouped(&self, work: Work) -> StorageFuture<'_> {
        let group = self.group.clone();
        Box::pin(async move {
            let (reply, answer) = tokio::sync::oneshot::channel();
            let job = GroupJob { work, reply };
            // Straight onto the queue; only a full queue waits, on the blocking pool rather
            // than stalling an async worker.
            match group.try_send(job) {
                Ok(()) => {}
                Err(std::sync::mpsc::TrySendError::Full(job)) => {
                    tokio::task::spawn_blocking(move || group.send(job))
                        .await
                        .map_err(|_| StorageError::Closed)?
                        .map_err(|_| StorageError::Closed)?;
                }
                Err(std::sync::mpsc::TrySendError::Disconnected(_)) => {
                    return Err(StorageError::Closed);
                }
            }
            answer.await.map_err(|_| StorageError::Closed)?
        })
    }
}

/// Run `f` on tokio's blocking pool, never on an async worker: the store's lock can be held
/// through a commit, and the answer waits for its sync.
async fn on_blocking_pool<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))
}

/// One transaction (or savepoint) of the store.
struct SqliteTx<'a> {
    tx: &'a Connection,
    /// The webhook endpoints, read once per transaction for [`Tx::emit`].
    endpoints: RefCell<Option<Vec<WebhookEndpoint>>>,
}

impl<'a> SqliteTx<'a> {
    fn new(tx: &'a Connection) -> SqliteTx<'a> {
        SqliteTx {
            tx,
            endpoints: RefCell::new(None),
        }
    }

    /// SQLite's error as the storage's.
    fn run<T>(&self, f: impl FnOnce() -> rusqlite::Result<T>) -> Result<T, StorageError> {
        f().map_err(failed)
    }

    /// The record whose `doc` the one-row query `sql` selects, if any.
    fn one_doc<T: DeserializeOwned>(
        &self,
        sql: &str,
        param: impl rusqlite::ToSql,
    ) -> rusqlite::Result<Option<T>> {
        let text: Option<String> = self
            .tx
            .prepare_cached(sql)?
            .query_row([param], |r| r.get(0))
            .optional()?;
        text.map(|t| undoc(&t)).transpose()
    }

    /// The records whose `doc`s the query `sql` selects, in its order.
    fn docs<T: DeserializeOwned>(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
    ) -> rusqlite::Result<Vec<T>> {
        let rows: Vec<String> = self
            .tx
            .prepare_cached(sql)?
            .query_map(params, |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        rows.iter().map(|t| undoc(t)).collect()
    }

    /// The webhook endpoints the query `sql` selects as (doc, disabled), in its order.
    fn endpoint_rows(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
    ) -> rusqlite::Result<Vec<WebhookEndpoint>> {
        let rows: Vec<(String, bool)> = self
            .tx
            .prepare_cached(sql)?
            .query_map(params, |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        rows.iter()
            .map(|(text, disabled)| {
                let mut ep: WebhookEndpoint = undoc(text)?;
                ep.disabled = *disabled;
                Ok(ep)
            })
            .collect()
    }

    /// A page (the trait's note on lists) of `table`'s records that `b`'s conditions keep.
    fn numbered_page<T: Numbered>(
        &self,
        table: &str,
        mut b: Built,
        page: Page,
    ) -> rusqlite::Result<Vec<T>> {
        let (order, cmp) = match page.cursor {
            Cursor::Before(_) => ("ASC", ">"),
            Cursor::First | Cursor::After(_) => ("DESC", "<"),
        };
        let at = b.bind(cursor_seq(page.cursor));
        b.and(format!("seq {cmp} {at}"));
        let limit = b.bind(page.limit + 1);
        let sql = format!(
            "SELECT seq, doc FROM {table} WHERE {} ORDER BY seq {order} LIMIT {limit}",
            b.conds.join(" AND ")
        );
        self.numbered_rows(&sql, b.binds)
    }

    /// `table`'s records that `cond` (a search) and `b`'s conditions keep, newest first,
    /// older than `after`, at most `limit` plus one; with their numbers.
    fn numbered_search<T: serde::de::DeserializeOwned>(
        &self,
        table: &str,
        mut b: Built,
        cond: String,
        limit: i64,
        after: Option<i64>,
    ) -> rusqlite::Result<Vec<(i64, T)>> {
        b.and(cond);
        let at = b.bind(after.unwrap_or(i64::MAX));
        b.and(format!("seq < {at}"));
        let limit = b.bind(limit + 1);
        let sql = format!(
            "SELECT seq, doc FROM {table} WHERE {} ORDER BY seq DESC LIMIT {limit}",
            b.conds.join(" AND ")
        );
        let rows: Vec<(i64, String)> = self
            .tx
            .prepare(&sql)?
            .query_map(rusqlite::params_from_iter(b.binds), |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?
            .collect::<Result<_, _>>()?;
        rows.into_iter()
            .map(|(seq, text)| Ok((seq, undoc(&text)?)))
            .collect()
    }

    /// The records `sql` selects as (seq, doc), with their numbers.
    fn numbered_rows<T: Numbered>(
        &self,
        sql: &str,
        binds: Vec<rusqlite::types::Value>,
    ) -> rusqlite::Result<Vec<T>> {
        let rows: Vec<(i64, String)> = self
            .tx
            .prepare_cached(sql)?
            .query_map(rusqlite::params_from_iter(binds), |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?
            .collect::<Result<_, _>>()?;
        rows.into_iter()
            .map(|(seq, text)| Ok(undoc::<T>(&text)?.numbered(seq)))
            .collect()
    }

    /// The one record `sql` selects as (seq, doc) by `param`, with its number.
    fn numbered_one<T: Numbered>(&self, sql: &str, param: &str) -> rusqlite::Result<Option<T>> {
        Ok(self
            .numbered_rows(sql, vec![param.to_owned().into()])?
            .into_iter()
            .next())
    }

    fn event_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<EventRow> {
        Ok(EventRow {
            id: r.get(0)?,
            event_type: r.get(1)?,
            created: r.get(2)?,
            kind: r.get(3)?,
            doc: r.get(4)?,
            seq: r.get(5)?,
            previous: r.get(6)?,
        })
    }
}

/// A statement's conditions built one by one, each value bound, never spliced into the SQL.
#[derive(Default)]
struct Built {
    conds: Vec<String>,
    binds: Vec<rusqlite::types::Value>,
}

impl Built {
    /// Bind `v`; its placeholder.
    fn bind(&mut self, v: impl Into<rusqlite::types::Value>) -> String {
        self.binds.push(v.into());
        format!("?{}", self.binds.len())
    }

    /// Keep only rows where `cond` holds.
    fn and(&mut self, cond: String) {
        self.conds.push(cond);
    }

    /// `column = value`, if a value is given.
    fn eq(&mut self, column: &str, value: Option<impl Into<rusqlite::types::Value>>) {
        if let Some(v) = value {
            let p = self.bind(v);
            self.and(format!("{column} = {p}"));
        }
    }

    /// `column` among `values`, unless there are none.
    fn any_of(&mut self, column: &str, values: &[String]) {
        if !values.is_empty() {
            let list = serde_json::to_string(values).expect("strings serialize");
            let p = self.bind(list);
            self.and(format!("{column} IN (SELECT value FROM json_each({p}))"));
        }
    }

    /// `created` within the range.
    fn created(&mut self, c: Created) {
        for (op, v) in [(">", c.gt), (">=", c.gte), ("<", c.lt), ("<=", c.lte)] {
            if let Some(v) = v {
                let p = self.bind(v);
                self.and(format!("created {op} {p}"));
            }
        }
    }

    /// A search query as one condition; `field` gives a named field's SQL expression.
    fn search(&mut self, query: &Query, field: &dyn Fn(&str, Type) -> String) -> String {
        let mut conds = Vec::new();
        for c in &query.clauses {
            let (expr, metadata) = match &c.field {
                SearchField::Named(name, t) => (field(name, *t), false),
                SearchField::Metadata(k) => {
                    let key = self.bind(k.clone());
                    (
                        format!(
                            "(SELECT value FROM json_each(doc, '$.metadata') WHERE key = {key})"
                        ),
                        true,
                    )
                }
            };
            let cmp = match &c.value {
                SearchValue::Null => format!("{expr} IS NULL"),
                SearchValue::Int(n) => format!("{expr} {} {}", c.op.sql(), self.bind(*n)),
                SearchValue::Bool(v) => format!("{expr} = {}", self.bind(i64::from(*v))),
                SearchValue::Str(v) if c.op == Op::Contains => {
                    format!("instr(lower({expr}), lower({})) > 0", self.bind(v.clone()))
                }
                SearchValue::Str(v) if metadata => format!("{expr} = {}", self.bind(v.clone())),
                SearchValue::Str(v) => {
                    format!("lower({expr}) = lower({})", self.bind(v.clone()))
                }
            };
            let not = if c.negated { "NOT " } else { "" };
            conds.push(format!("{not}COALESCE(({cmp}), 0)"));
        }
        let join = match query.join {
            Join::And => " AND ",
            Join::Or => " OR ",
        };
        format!("({})", conds.join(join))
    }
}

/// A search field of a document: `created` is its column; a boolean is 1 or 0.
fn doc_field(name: &str, t: Type) -> String {
    match (name, t) {
        ("created", _) => "created".to_owned(),
        (_, Type::Bool) => {
            format!("(CASE json_type(doc, '$.{name}') WHEN 'true' THEN 1 WHEN 'false' THEN 0 END)")
        }
        _ => format!("json_extract(doc, '$.{name}')"),
    }
}

/// A page's order and where it starts, as SQL on `seq` with the cursor's number as `?1`.
fn order_of(cursor: Cursor) -> (&'static str, &'static str) {
    match cursor {
        Cursor::Before(_) => ("ASC", "seq > ?1"),
        Cursor::First | Cursor::After(_) => ("DESC", "seq < ?1"),
    }
}

/// The cursor's number (past every object for the first page).
fn cursor_seq(cursor: Cursor) -> i64 {
    match cursor {
        Cursor::First => i64::MAX,
        Cursor::After(n) | Cursor::Before(n) => n,
    }
}

impl Tx for SqliteTx<'_> {
    fn savepoint(&self, work: &mut dyn FnMut(&dyn Tx) -> bool) -> Result<(), StorageError> {
        self.run(|| self.tx.execute_batch("SAVEPOINT unit"))?;
        if work(self) {
            self.run(|| self.tx.execute_batch("RELEASE unit"))
        } else {
            // What the work read of the endpoints may be gone with it.
            *self.endpoints.borrow_mut() = None;
            self.run(|| self.tx.execute_batch("ROLLBACK TO unit; RELEASE unit"))
        }
    }

    /// A meta value.
    fn meta(&self, key: &str) -> Result<Option<String>, StorageError> {
        self.run(|| {
            self.tx
                .prepare_cached("SELECT value FROM meta WHERE key = ?1")?
                .query_row([key], |r| r.get(0))
                .optional()
        })
    }

    /// Set a meta value.
    fn set_meta(&self, key: &str, value: &str) -> Result<(), StorageError> {
        self.run(|| {
            self.tx
                .prepare_cached("INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)")?
                .execute([key, value])?;
            Ok(())
        })
    }

    fn terminal_secret(&self, id: &str) -> Result<Option<String>, StorageError> {
        self.run(|| {
            self.tx
                .prepare_cached("SELECT secret FROM terminals WHERE id = ?1")?
                .query_row([id], |r| r.get(0))
                .optional()
        })
    }

    fn put_terminal(&self, id: &str, secret: &str, now: i64) -> Result<(), StorageError> {
        self.run(|| {
            self.tx
                .prepare_cached(
                    "INSERT INTO terminals (id, secret, created) VALUES (?1, ?2, ?3)
                     ON CONFLICT (id) DO UPDATE SET secret = excluded.secret",
                )?
                .execute(params![id, secret, now])?;
            Ok(())
        })
    }

    /// The next payment number.
    fn next_pi_seq(&self) -> Result<i64, StorageError> {
        self.run(|| {
            self.tx
                .prepare_cached("SELECT COALESCE(MAX(seq), 0) + 1 FROM payment_intents")?
                .query_row([], |r| r.get(0))
        })
    }

    /// Insert a new PaymentIntent.
    fn insert_pi(&self, pi: &PaymentIntent) -> Result<(), StorageError> {
        self.run(|| {
            self.tx
                .prepare_cached(
                    "INSERT INTO payment_intents (seq, id, created, due_at, doc) VALUES (?1, ?2, ?3, ?4, ?5)",
                )?
                .execute(params![pi.seq, pi.id, pi.created, pi.due_at(), doc(pi)])?;
            Ok(())
        })
    }

    /// Save a changed PaymentIntent; returns the stored document.
    fn update_pi(&self, pi: &PaymentIntent) -> Result<String, StorageError> {
        self.run(|| {
            let text = doc(pi);
            self.tx
                .prepare_cached("UPDATE payment_intents SET due_at = ?2, doc = ?3 WHERE seq = ?1")?
                .execute(params![pi.seq, pi.due_at(), text])?;
            Ok(text)
        })
    }

    /// A PaymentIntent by id.
    fn pi(&self, id: &str) -> Result<Option<PaymentIntent>, StorageError> {
        self.run(|| self.one_doc("SELECT doc FROM payment_intents WHERE id = ?1", id))
    }

    /// A PaymentIntent by its number.
    fn pi_by_seq(&self, seq: i64) -> Result<Option<PaymentIntent>, StorageError> {
        self.run(|| self.one_doc(PI_BY_SEQ, seq))
    }

    /// A page of PaymentIntents (the trait's note on lists), with their filters.
    fn list_pis(
        &self,
        customer: Option<&str>,
        created: Created,
        page: Page,
    ) -> Result<Vec<PaymentIntent>, StorageError> {
        self.run(|| {
            let (order, from) = order_of(page.cursor);
            let sql = format!(
                "SELECT doc FROM payment_intents WHERE {from}
                 AND (?2 IS NULL OR json_extract(doc, '$.customer') = ?2)
                 AND (?3 IS NULL OR created > ?3) AND (?4 IS NULL OR created >= ?4)
                 AND (?5 IS NULL OR created < ?5) AND (?6 IS NULL OR created <= ?6)
                 ORDER BY seq {order} LIMIT ?7"
            );
            let rows: Vec<String> = self
                .tx
                .prepare_cached(&sql)?
                .query_map(
                    params![
                        cursor_seq(page.cursor),
                        customer,
                        created.gt,
                        created.gte,
                        created.lt,
                        created.lte,
                        page.limit + 1
                    ],
                    |r| r.get(0),
                )?
                .collect::<Result<_, _>>()?;
            rows.iter().map(|t| undoc(t)).collect()
        })
    }

    /// PaymentIntents a search matches: each clause bound, never spliced into the SQL.
    fn search_pis(
        &self,
        query: &Query,
        limit: i64,
        after: Option<i64>,
    ) -> Result<Vec<PaymentIntent>, StorageError> {
        self.run(|| {
            let mut b = Built::default();
            let cond = b.search(query, &doc_field);
            Ok(self
                .numbered_search::<PaymentIntent>("payment_intents", b, cond, limit, after)?
                .into_iter()
                .map(|(_, pi)| pi)
                .collect())
        })
    }

    /// PaymentIntents the scheduler must look at by `now`.
    fn due_pis(&self, now: i64, limit: i64) -> Result<Vec<PaymentIntent>, StorageError> {
        self.run(|| {
            self.docs(
                "SELECT doc FROM payment_intents WHERE due_at <= ?1 ORDER BY due_at, seq LIMIT ?2",
                params![now, limit],
            )
        })
    }

    /// The earliest time any payment or refund is due.
    fn next_due(&self) -> Result<Option<i64>, StorageError> {
        self.run(|| {
            self.tx
                .prepare_cached(
                    "SELECT MIN(t) FROM (SELECT MIN(due_at) AS t FROM payment_intents WHERE due_at IS NOT NULL
                     UNION ALL SELECT MIN(due_at) FROM refunds WHERE due_at IS NOT NULL
                     UNION ALL SELECT MIN(due_at) FROM checkout_sessions WHERE due_at IS NOT NULL)",
                )?
                .query_row([], |r| r.get(0))
        })
    }

    /// Claim a payment code for a chain; false when a payable payment holds it.
    fn claim_code(&self, chain: Chain, code: &str, pi_seq: i64) -> Result<bool, StorageError> {
        self.run(|| {
            let holders: Vec<i64> = self
                .tx
                .prepare_cached("SELECT pi_seq FROM payment_codes WHERE chain = ?1 AND code = ?2")?
                .query_map([chain.as_str(), code], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            for seq in holders {
                if let Some(pi) = self.one_doc::<PaymentIntent>(PI_BY_SEQ, seq)?
                    && pi.status == PiStatus::RequiresAction
                    && pi
                        .voucher
                        .as_ref()
                        .and_then(|v| v.codes.get(&chain))
                        .map(String::as_str)
                        == Some(code)
                {
                    return Ok(false);
                }
            }
            self.tx
                .prepare_cached(
                    "INSERT OR IGNORE INTO payment_codes (chain, code, pi_seq) VALUES (?1, ?2, ?3)",
                )?
                .execute(params![chain.as_str(), code, pi_seq])?;
            Ok(true)
        })
    }

    /// The payment a chain's code names: the one whose live voucher carries it, else its
    /// latest holder (to say why it is no longer payable).
    fn pi_by_code(&self, chain: &str, code: &str) -> Result<Option<PaymentIntent>, StorageError> {
        self.run(|| {
            let holders: Vec<i64> = self
                .tx
                .prepare_cached(
                    "SELECT pi_seq FROM payment_codes WHERE chain = ?1 AND code = ?2 ORDER BY pi_seq DESC",
                )?
                .query_map([chain, code], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            let chain: Option<Chain> = chain.parse().ok();
            let mut latest = None;
            for seq in holders {
                let Some(pi) = self.one_doc::<PaymentIntent>(PI_BY_SEQ, seq)? else {
                    continue;
                };
                let live = pi.status == PiStatus::RequiresAction
                    && chain.is_some_and(|c| {
                        pi.voucher
                            .as_ref()
                            .and_then(|v| v.codes.get(&c))
                            .map(String::as_str)
                            == Some(code)
                    });
                if live {
                    return Ok(Some(pi));
                }
                latest.get_or_insert(pi);
            }
            Ok(latest)
        })
    }

    /// Insert a charge.
    fn insert_charge(&self, pi_seq: i64, charge: &Charge) -> Result<String, StorageError> {
        self.run(|| {
            let text = doc(charge);
            self.tx
                .prepare_cached(
                    "INSERT INTO charges (id, txn_id, pi_seq, doc) VALUES (?1, ?2, ?3, ?4)",
                )?
                .execute(params![charge.id, charge.balance_transaction, pi_seq, text])?;
            Ok(text)
        })
    }

    /// Save a changed charge.
    fn update_charge(&self, charge: &Charge) -> Result<(), StorageError> {
        self.run(|| {
            self.tx
                .prepare_cached("UPDATE charges SET doc = ?2 WHERE id = ?1")?
                .execute(params![charge.id, doc(charge)])?;
            Ok(())
        })
    }

    /// A charge by id.
    fn charge(&self, id: &str) -> Result<Option<Charge>, StorageError> {
        self.run(|| self.one_doc("SELECT doc FROM charges WHERE id = ?1", id))
    }

    /// A charge by its balance transaction's id.
    fn charge_by_txn(&self, txn: &str) -> Result<Option<Charge>, StorageError> {
        self.run(|| self.one_doc("SELECT doc FROM charges WHERE txn_id = ?1", txn))
    }

    /// Insert a refund.
    fn insert_refund(&self, pi_seq: i64, refund: &Refund) -> Result<(), StorageError> {
        self.run(|| {
            self.tx
                .prepare_cached(
                    "INSERT INTO refunds (id, pi_seq, created, due_at, doc) VALUES (?1, ?2, ?3, ?4, ?5)",
                )?
                .execute(params![
                    refund.id,
                    pi_seq,
                    refund.created,
                    refund.due_at(),
                    doc(refund)
                ])?;
            Ok(())
        })
    }

    /// Save a changed refund.
    fn update_refund(&self, refund: &Refund) -> Result<(), StorageError> {
        self.run(|| {
            self.tx
                .prepare_cached("UPDATE refunds SET due_at = ?2, doc = ?3 WHERE id = ?1")?
                .execute(params![refund.id, refund.due_at(), doc(refund)])?;
            Ok(())
        })
    }

    /// A refund by id.
    fn refund(&self, id: &str) -> Result<Option<Refund>, StorageError> {
        self.run(|| self.one_doc("SELECT doc FROM refunds WHERE id = ?1", id))
    }

    /// A refund by its bank-details page token.
    fn refund_by_token(&self, token: &str) -> Result<Option<Refund>, StorageError> {
        self.run(|| {
            self.one_doc(
                "SELECT doc FROM refunds WHERE json_extract(doc, '$.token') = ?1",
                token,
            )
        })
    }

    /// Every refund of a payment.
    fn refunds_of(&self, pi_seq: i64) -> Result<Vec<Refund>, StorageError> {
        self.run(|| {
            self.docs(
                "SELECT doc FROM refunds WHERE pi_seq = ?1 ORDER BY seq",
                [pi_seq],
            )
        })
    }

    /// Refunds due by `now`.
    fn due_refunds(&self, now: i64, limit: i64) -> Result<Vec<Refund>, StorageError> {
        self.run(|| {
            self.docs(
                "SELECT doc FROM refunds WHERE due_at <= ?1 ORDER BY due_at LIMIT ?2",
                params![now, limit],
            )
        })
    }

    fn next_session_seq(&self) -> Result<i64, StorageError> {
        self.run(|| {
            self.tx
                .prepare_cached("SELECT COALESCE(MAX(seq), 0) + 1 FROM checkout_sessions")?
                .query_row([], |r| r.get(0))
        })
    }

    fn insert_session(&self, s: &Session) -> Result<(), StorageError> {
        self.run(|| {
            self.tx
                .prepare_cached(
                    "INSERT INTO checkout_sessions
                     (seq, id, created, status, due_at, pi_seq, payment_link, customer, email, doc)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                )?
                .execute(params![
                    s.seq,
                    s.id,
                    s.created,
                    s.status.as_str(),
                    s.due_at(),
                    s.pi_seq,
                    s.payment_link,
                    s.customer,
                    s.customer_details.as_ref().map(|d| &d.email),
                    doc(s)
                ])?;
            Ok(())
        })
    }

    fn update_session(&self, s: &Session) -> Result<String, StorageError> {
        self.run(|| {
            let text = doc(s);
            self.tx
                .prepare_cached(
                    "UPDATE checkout_sessions SET status = ?2, due_at = ?3, pi_seq = ?4,
                     customer = ?5, email = ?6, doc = ?7 WHERE seq = ?1",
                )?
                .execute(params![
                    s.seq,
                    s.status.as_str(),
                    s.due_at(),
                    s.pi_seq,
                    s.customer,
                    s.customer_details.as_ref().map(|d| &d.email),
                    text
                ])?;
            Ok(text)
        })
    }

    fn session(&self, id: &str) -> Result<Option<Session>, StorageError> {
        self.run(|| self.one_doc("SELECT doc FROM checkout_sessions WHERE id = ?1", id))
    }

    fn session_by_pi(&self, pi_seq: i64) -> Result<Option<Session>, StorageError> {
        self.run(|| {
            self.one_doc(
                "SELECT doc FROM checkout_sessions WHERE pi_seq = ?1",
                pi_seq,
            )
        })
    }

    fn list_sessions(&self, f: &SessionFilter, page: Page) -> Result<Vec<Session>, StorageError> {
        self.run(|| {
            let (order, from) = order_of(page.cursor);
            let sql = format!(
                "SELECT doc FROM checkout_sessions WHERE {from}
                 AND (?2 IS NULL OR customer = ?2) AND (?3 IS NULL OR email = ?3)
                 AND (?4 IS NULL OR pi_seq = ?4) AND (?5 IS NULL OR payment_link = ?5)
                 AND (?6 IS NULL OR status = ?6)
                 AND (?7 IS NULL OR created > ?7) AND (?8 IS NULL OR created >= ?8)
                 AND (?9 IS NULL OR created < ?9) AND (?10 IS NULL OR created <= ?10)
                 ORDER BY seq {order} LIMIT ?11"
            );
            let c = f.created;
            self.docs(
                &sql,
                params![
                    cursor_seq(page.cursor),
                    f.customer,
                    f.email,
                    f.pi_seq,
                    f.payment_link,
                    f.status,
                    c.gt,
                    c.gte,
                    c.lt,
                    c.lte,
                    page.limit + 1
                ],
            )
        })
    }

    fn due_sessions(&self, now: i64, limit: i64) -> Result<Vec<Session>, StorageError> {
        self.run(|| {
            self.docs(
                "SELECT doc FROM checkout_sessions WHERE due_at <= ?1 ORDER BY due_at LIMIT ?2",
                params![now, limit],
            )
        })
    }

    fn next_link_seq(&self) -> Result<i64, StorageError> {
        self.run(|| {
            self.tx
                .prepare_cached("SELECT COALESCE(MAX(seq), 0) + 1 FROM payment_links")?
                .query_row([], |r| r.get(0))
        })
    }

    fn insert_link(&self, l: &PaymentLink) -> Result<(), StorageError> {
        self.run(|| {
            self.tx
                .prepare_cached(
                    "INSERT INTO payment_links (seq, id, created, active, token, doc)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )?
                .execute(params![l.seq, l.id, l.created, l.active, l.token, doc(l)])?;
            Ok(())
        })
    }

    fn update_link(&self, l: &PaymentLink) -> Result<(), StorageError> {
        self.run(|| {
            self.tx
                .prepare_cached("UPDATE payment_links SET active = ?2, doc = ?3 WHERE seq = ?1")?
                .execute(params![l.seq, l.active, doc(l)])?;
            Ok(())
        })
    }

    fn link(&self, id: &str) -> Result<Option<PaymentLink>, StorageError> {
        self.run(|| self.one_doc("SELECT doc FROM payment_links WHERE id = ?1", id))
    }

    fn link_by_token(&self, token: &str) -> Result<Option<PaymentLink>, StorageError> {
        self.run(|| self.one_doc("SELECT doc FROM payment_links WHERE token = ?1", token))
    }

    fn list_links(
        &self,
        active: Option<bool>,
        page: Page,
    ) -> Result<Vec<PaymentLink>, StorageError> {
        self.run(|| {
            let (order, from) = order_of(page.cursor);
            let sql = format!(
                "SELECT doc FROM payment_links WHERE {from} AND (?2 IS NULL OR active = ?2)
                 ORDER BY seq {order} LIMIT ?3"
            );
            self.docs(
                &sql,
                params![cursor_seq(page.cursor), active, page.limit + 1],
            )
        })
    }

    /// The PaymentIntent a voucher token belongs to.
    fn pi_by_voucher(&self, token: &str) -> Result<Option<PaymentIntent>, StorageError> {
        self.run(|| {
            self.one_doc(
                "SELECT doc FROM payment_intents WHERE json_extract(doc, '$.voucher.token') = ?1",
                token,
            )
        })
    }

    /// Record an event about `object` as it is now, and queue it for every endpoint that
    /// wants it.
    fn emit_update(
        &self,
        event_type: &str,
        created: i64,
        object: Snapshot<'_>,
        previous: Option<&str>,
    ) -> Result<(), StorageError> {
        self.run(|| {
            let event_id = crate::ids::new_id("evt");
            self.tx
                .prepare_cached(
                    "INSERT INTO events (id, type, created, kind, doc, previous)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )?
                .execute(params![
                    event_id,
                    event_type,
                    created,
                    object.kind(),
                    object.doc(),
                    previous
                ])?;
            let seq = self.tx.last_insert_rowid();
            if self.endpoints.borrow().is_none() {
                *self.endpoints.borrow_mut() = Some(self.endpoint_rows(ENDPOINTS, [])?);
            }
            let cached = self.endpoints.borrow();
            // A disabled endpoint gets no new event (Stripe does not send events created
            // while an endpoint is disabled); the events themselves are kept and listed.
            for ep in cached.iter().flatten() {
                if !ep.disabled && ep.wants(event_type) {
                    self.tx
                        .prepare_cached(
                            "INSERT INTO deliveries (event_seq, endpoint, next_at) VALUES (?1, ?2, ?3)",
                        )?
                        .execute(params![seq, ep.id, created])?;
                }
            }
            Ok(())
        })
    }

    /// Events newest first, optionally of one type, after (older than) `starting_after`, at
    /// most `limit` plus one (to tell `has_more`).
    fn list_events(&self, filter: &EventFilter, page: Page) -> Result<Vec<EventRow>, StorageError> {
        self.run(|| {
            let (order, from) = order_of(page.cursor);
            let types = (!filter.types.is_empty())
                .then(|| serde_json::to_string(&filter.types).expect("strings serialize"));
            let prefix = filter.type_prefix.as_ref().map(|p| {
                // LIKE's own characters in the prefix stand for themselves.
                let escaped = p
                    .replace('\\', "\\\\")
                    .replace('%', "\\%")
                    .replace('_', "\\_");
                format!("{escaped}%")
            });
            let sql = format!(
                "SELECT id, type, created, kind, doc, seq, previous FROM events WHERE {from}
                 AND (?2 IS NULL OR type IN (SELECT value FROM json_each(?2)))
                 AND (?3 IS NULL OR type LIKE ?3 ESCAPE '\\')
                 AND (?4 IS NULL OR created > ?4) AND (?5 IS NULL OR created >= ?5)
                 AND (?6 IS NULL OR created < ?6) AND (?7 IS NULL OR created <= ?7)
                 ORDER BY seq {order} LIMIT ?8"
            );
            let c = filter.created;
            self.tx
                .prepare_cached(&sql)?
                .query_map(
                    params![
                        cursor_seq(page.cursor),
                        types,
                        prefix,
                        c.gt,
                        c.gte,
                        c.lt,
                        c.lte,
                        page.limit + 1
                    ],
                    SqliteTx::event_row,
                )?
                .collect()
        })
    }

    /// One event by id.
    fn event(&self, id: &str) -> Result<Option<EventRow>, StorageError> {
        self.run(|| {
            self.tx
                .prepare_cached(
                    "SELECT id, type, created, kind, doc, seq, previous FROM events WHERE id = ?1",
                )?
                .query_row([id], SqliteTx::event_row)
                .optional()
        })
    }

    fn insert_customer(&self, c: &Customer) -> Result<i64, StorageError> {
        self.run(|| {
            self.tx
                .prepare_cached(
                    "INSERT INTO customers (id, created, email, deleted, doc) VALUES (?1, ?2, ?3, ?4, ?5)",
                )?
                .execute(params![c.id, c.created, c.email, c.deleted, doc(c)])?;
            Ok(self.tx.last_insert_rowid())
        })
    }

    fn update_customer(&self, c: &Customer) -> Result<(), StorageError> {
        self.run(|| {
            self.tx
                .prepare_cached(
                    "UPDATE customers SET email = ?2, deleted = ?3, doc = ?4 WHERE id = ?1",
                )?
                .execute(params![c.id, c.email, c.deleted, doc(c)])?;
            Ok(())
        })
    }

    fn customer(&self, id: &str) -> Result<Option<Customer>, StorageError> {
        self.run(|| self.numbered_one("SELECT seq, doc FROM customers WHERE id = ?1", id))
    }

    fn list_customers(
        &self,
        filter: &CustomerFilter,
        page: Page,
    ) -> Result<Vec<Customer>, StorageError> {
        self.run(|| {
            let mut b = Built::default();
            b.and("deleted = 0".into());
            b.eq("email", filter.email.clone());
            b.created(filter.created);
            self.numbered_page("customers", b, page)
        })
    }

    fn search_customers(
        &self,
        query: &Query,
        limit: i64,
        after: Option<i64>,
    ) -> Result<Vec<Customer>, StorageError> {
        self.run(|| {
            let mut b = Built::default();
            b.and("deleted = 0".into());
            let cond = b.search(query, &doc_field);
            Ok(self
                .numbered_search::<Customer>("customers", b, cond, limit, after)?
                .into_iter()
                .map(|(seq, c)| c.numbered(seq))
                .collect())
        })
    }

    fn insert_pm(&self, pm: &PaymentMethod) -> Result<i64, StorageError> {
        self.run(|| {
            self.tx
                .prepare_cached(
                    "INSERT INTO payment_methods (id, created, customer, doc) VALUES (?1, ?2, ?3, ?4)",
                )?
                .execute(params![pm.id, pm.created, pm.customer, doc(pm)])?;
            Ok(self.tx.last_insert_rowid())
        })
    }

    fn update_pm(&self, pm: &PaymentMethod) -> Result<(), StorageError> {
        self.run(|| {
            self.tx
                .prepare_cached("UPDATE payment_methods SET customer = ?2, doc = ?3 WHERE id = ?1")?
                .execute(params![pm.id, pm.customer, doc(pm)])?;
            Ok(())
        })
    }

    fn pm(&self, id: &str) -> Result<Option<PaymentMethod>, StorageError> {
        self.run(|| self.numbered_one("SELECT seq, doc FROM payment_methods WHERE id = ?1", id))
    }

    fn list_pms(
        &self,
        filter: &PaymentMethodFilter,
        page: Page,
    ) -> Result<Vec<PaymentMethod>, StorageError> {
        self.run(|| {
            let mut b = Built::default();
            b.eq("customer", filter.customer.clone());
            b.eq("json_extract(doc, '$.type')", filter.kind.clone());
            self.numbered_page("payment_methods", b, page)
        })
    }

    fn insert_product(&self, p: &Product) -> Result<i64, StorageError> {
        self.run(|| {
            self.tx
                .prepare_cached(
                    "INSERT INTO products (id, created, active, doc) VALUES (?1, ?2, ?3, ?4)",
                )?
                .execute(params![p.id, p.created, p.active, doc(p)])?;
            Ok(self.tx.last_insert_rowid())
        })
    }

    fn update_product(&self, p: &Product) -> Result<(), StorageError> {
        self.run(|| {
            self.tx
                .prepare_cached("UPDATE products SET active = ?2, doc = ?3 WHERE id = ?1")?
                .execute(params![p.id, p.active, doc(p)])?;
            Ok(())
        })
    }

    fn delete_product(&self, id: &str) -> Result<bool, StorageError> {
        self.run(|| {
            Ok(self
                .tx
                .prepare_cached("DELETE FROM products WHERE id = ?1")?
                .execute([id])?
                > 0)
        })
    }

    fn product(&self, id: &str) -> Result<Option<Product>, StorageError> {
        self.run(|| self.numbered_one("SELECT seq, doc FROM products WHERE id = ?1", id))
    }

    fn list_products(
        &self,
        filter: &ProductFilter,
        page: Page,
    ) -> Result<Vec<Product>, StorageError> {
        self.run(|| {
            let mut b = Built::default();
            b.eq("active", filter.active);
            b.any_of("id", &filter.ids);
            b.eq(&doc_field("shippable", Type::Bool), filter.shippable);
            b.eq("json_extract(doc, '$.type')", filter.kind.clone());
            b.eq("json_extract(doc, '$.url')", filter.url.clone());
            b.created(filter.created);
            self.numbered_page("products", b, page)
        })
    }

    fn search_products(
        &self,
        query: &Query,
        limit: i64,
        after: Option<i64>,
    ) -> Result<Vec<Product>, StorageError> {
        self.run(|| {
            let mut b = Built::default();
            let cond = b.search(query, &doc_field);
            Ok(self
                .numbered_search::<Product>("products", b, cond, limit, after)?
                .into_iter()
                .map(|(seq, p)| p.numbered(seq))
                .collect())
        })
    }

    fn insert_price(&self, p: &Price) -> Result<i64, StorageError> {
        self.run(|| {
            self.tx
                .prepare_cached(
                    "INSERT INTO prices (id, created, product, active, lookup_key, doc)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )?
                .execute(params![
                    p.id,
                    p.created,
                    p.product,
                    p.active,
                    p.lookup_key,
                    doc(p)
                ])?;
            Ok(self.tx.last_insert_rowid())
        })
    }

    fn update_price(&self, p: &Price) -> Result<(), StorageError> {
        self.run(|| {
            self.tx
                .prepare_cached(
                    "UPDATE prices SET active = ?2, lookup_key = ?3, doc = ?4 WHERE id = ?1",
                )?
                .execute(params![p.id, p.active, p.lookup_key, doc(p)])?;
            Ok(())
        })
    }

    fn price(&self, id: &str) -> Result<Option<Price>, StorageError> {
        self.run(|| self.numbered_one("SELECT seq, doc FROM prices WHERE id = ?1", id))
    }

    fn price_by_lookup_key(&self, key: &str) -> Result<Option<Price>, StorageError> {
        self.run(|| self.numbered_one("SELECT seq, doc FROM prices WHERE lookup_key = ?1", key))
    }

    fn count_prices_of(&self, product: &str) -> Result<i64, StorageError> {
        self.run(|| {
            self.tx
                .prepare_cached("SELECT COUNT(*) FROM prices WHERE product = ?1")?
                .query_row([product], |r| r.get(0))
        })
    }

    fn list_prices(&self, filter: &PriceFilter, page: Page) -> Result<Vec<Price>, StorageError> {
        self.run(|| {
            let mut b = Built::default();
            b.eq("active", filter.active);
            b.eq("product", filter.product.clone());
            b.eq("json_extract(doc, '$.type')", filter.kind.clone());
            b.eq("json_extract(doc, '$.currency')", filter.currency.clone());
            b.any_of("lookup_key", &filter.lookup_keys);
            b.eq(
                "json_extract(doc, '$.recurring.interval')",
                filter.interval.clone(),
            );
            b.eq(
                "json_extract(doc, '$.recurring.usage_type')",
                filter.usage_type.clone(),
            );
            b.created(filter.created);
            self.numbered_page("prices", b, page)
        })
    }

    fn search_prices(
        &self,
        query: &Query,
        limit: i64,
        after: Option<i64>,
    ) -> Result<Vec<Price>, StorageError> {
        self.run(|| {
            let mut b = Built::default();
            let cond = b.search(query, &doc_field);
            Ok(self
                .numbered_search::<Price>("prices", b, cond, limit, after)?
                .into_iter()
                .map(|(seq, p)| p.numbered(seq))
                .collect())
        })
    }

    /// Insert a webhook endpoint.
    fn insert_endpoint(&self, ep: &WebhookEndpoint) -> Result<(), StorageError> {
        self.run(|| {
            self.tx
                .prepare_cached(
                    "INSERT INTO webhook_endpoints (id, created, doc) VALUES (?1, ?2, ?3)",
                )?
                .execute(params![ep.id, ep.created, doc(ep)])?;
            *self.endpoints.borrow_mut() = None;
            Ok(())
        })
    }

    /// Save a webhook endpoint's document.
    fn update_endpoint(&self, ep: &WebhookEndpoint) -> Result<bool, StorageError> {
        self.run(|| {
            let n = self
                .tx
                .prepare_cached("UPDATE webhook_endpoints SET doc = ?2 WHERE id = ?1")?
                .execute(params![ep.id, doc(ep)])?;
            *self.endpoints.borrow_mut() = None;
            Ok(n == 1)
        })
    }

    /// Delete a webhook endpoint and its undelivered events; true if it existed.
    fn delete_endpoint(&self, id: &str) -> Result<bool, StorageError> {
        self.run(|| {
            self.tx
                .prepare_cached("DELETE FROM deliveries WHERE endpoint = ?1 AND delivered = 0")?
                .execute([id])?;
            let n = self
                .tx
                .prepare_cached("DELETE FROM webhook_endpoints WHERE id = ?1")?
                .execute([id])?;
            *self.endpoints.borrow_mut() = None;
            Ok(n == 1)
        })
    }

    /// Every webhook endpoint, oldest first.
    fn endpoints(&self) -> Result<Vec<WebhookEndpoint>, StorageError> {
        self.run(|| self.endpoint_rows(ENDPOINTS, []))
    }

    /// One webhook endpoint.
    fn endpoint(&self, id: &str) -> Result<Option<WebhookEndpoint>, StorageError> {
        self.run(|| {
            Ok(self
                .endpoint_rows(
                    "SELECT doc, status = 'disabled' FROM webhook_endpoints WHERE id = ?1",
                    [id],
                )?
                .pop())
        })
    }

    /// An endpoint's status and failure streak.
    fn endpoint_health(&self, id: &str) -> Result<Option<EndpointHealth>, StorageError> {
        self.run(|| {
            self.tx
                .prepare_cached(
                    "SELECT status = 'disabled', failures, failing_since FROM webhook_endpoints
                     WHERE id = ?1",
                )?
                .query_row([id], |r| {
                    Ok(EndpointHealth {
                        disabled: r.get(0)?,
                        failures: r.get(1)?,
                        failing_since: r.get(2)?,
                    })
                })
                .optional()
        })
    }

    /// Save an endpoint's status and failure streak.
    fn set_endpoint_health(&self, id: &str, h: &EndpointHealth) -> Result<bool, StorageError> {
        self.run(|| {
            let n = self
                .tx
                .prepare_cached(
                    "UPDATE webhook_endpoints SET status = ?2, failures = ?3, failing_since = ?4
                     WHERE id = ?1",
                )?
                .execute(params![
                    id,
                    if h.disabled { "disabled" } else { "enabled" },
                    h.failures,
                    h.failing_since
                ])?;
            *self.endpoints.borrow_mut() = None;
            Ok(n == 1)
        })
    }

    /// One endpoint's deliveries due by `now`, in event order.
    fn endpoint_due_deliveries(
        &self,
        endpoint: &str,
        now: i64,
        limit: i64,
    ) -> Result<Vec<DueDelivery>, StorageError> {
        self.run(|| {
            self.tx
                .prepare_cached(
                    "SELECT event_seq, endpoint, attempts FROM deliveries
                     WHERE endpoint = ?1 AND delivered = 0 AND next_at <= ?2
                     ORDER BY event_seq LIMIT ?3",
                )?
                .query_map(params![endpoint, now, limit], |r| {
                    Ok(DueDelivery {
                        event_seq: r.get(0)?,
                        endpoint: r.get(1)?,
                        attempts: r.get(2)?,
                    })
                })?
                .collect()
        })
    }

    /// The same rule as on PostgreSQL (see [`Tx::claim_due_deliveries`]); here one writer
    /// takes them, so no row needs locking.
    fn claim_due_deliveries(
        &self,
        endpoint: &str,
        now: i64,
        lease: Lease,
        limit: i64,
    ) -> Result<Vec<DueDelivery>, StorageError> {
        let longest = lease.now.saturating_add(MAX_CLAIM_SECONDS);
        self.run(|| {
            let due: Vec<DueDelivery> = self
                .tx
                .prepare_cached(
                    "SELECT event_seq, endpoint, attempts FROM deliveries
                     WHERE endpoint = ?1 AND delivered = 0 AND next_at <= ?2
                       AND (claimed_until IS NULL OR claimed_until <= ?4
                            OR claimed_until > ?5)
                     ORDER BY event_seq LIMIT ?3",
                )?
                .query_map(params![endpoint, now, limit, lease.now, longest], |r| {
                    Ok(DueDelivery {
                        event_seq: r.get(0)?,
                        endpoint: r.get(1)?,
                        attempts: r.get(2)?,
                    })
                })?
                .collect::<Result<_, _>>()?;
            let mut claim = self.tx.prepare_cached(
                "UPDATE deliveries SET claimed_until = ?3 WHERE event_seq = ?1 AND endpoint = ?2",
            )?;
            for d in &due {
                claim.execute(params![d.event_seq, d.endpoint, lease.until])?;
            }
            Ok(due)
        })
    }

    /// Make the endpoint's undelivered deliveries due now.
    fn resume_deliveries(&self, endpoint: &str, now: i64) -> Result<(), StorageError> {
        self.run(|| {
            self.tx
                .prepare_cached(
                    "UPDATE deliveries SET next_at = ?2
                     WHERE endpoint = ?1 AND delivered = 0 AND next_at > ?2",
                )?
                .execute(params![endpoint, now])?;
            Ok(())
        })
    }

    /// An event by row.
    fn event_by_seq(&self, seq: i64) -> Result<Option<EventRow>, StorageError> {
        self.run(|| {
            self.tx
                .prepare_cached(
                    "SELECT id, type, created, kind, doc, seq, previous FROM events WHERE seq = ?1",
                )?
                .query_row([seq], SqliteTx::event_row)
                .optional()
        })
    }

    /// Record a delivery attempt's outcome.
    fn delivery_done(
        &self,
        d: &DueDelivery,
        delivered: bool,
        status: Option<u16>,
        error: Option<&str>,
        next_at: i64,
    ) -> Result<(), StorageError> {
        self.run(|| {
            self.tx
                .prepare_cached(
                    "UPDATE deliveries SET delivered = ?3, attempts = attempts + 1, last_status = ?4,
                     last_error = ?5, next_at = ?6, claimed_until = NULL
                     WHERE event_seq = ?1 AND endpoint = ?2 AND delivered = 0",
                )?
                .execute(params![
                    d.event_seq,
                    d.endpoint,
                    delivered,
                    status,
                    error,
                    next_at
                ])?;
            Ok(())
        })
    }

    /// Deliveries of every event: (event id, endpoint, delivered, attempts).
    fn delivery_report(&self) -> Result<Vec<DeliveryReport>, StorageError> {
        self.run(|| {
            self.tx
                .prepare_cached(
                    "SELECT e.id, d.endpoint, d.delivered, d.attempts, d.last_status, d.last_error
                     FROM deliveries d JOIN events e ON e.seq = d.event_seq ORDER BY d.event_seq",
                )?
                .query_map([], |r| {
                    Ok(DeliveryReport {
                        event: r.get(0)?,
                        endpoint: r.get(1)?,
                        delivered: r.get(2)?,
                        attempts: r.get(3)?,
                        last_status: r.get(4)?,
                        last_error: r.get(5)?,
                    })
                })?
                .collect()
        })
    }

    /// A saved idempotent answer.
    fn idempotent(&self, key: &str) -> Result<Option<SavedAnswer>, StorageError> {
        self.run(|| {
            self.tx
                .prepare_cached("SELECT fingerprint, status, body FROM idempotency WHERE key = ?1")?
                .query_row([key], |r| {
                    Ok(SavedAnswer {
                        fingerprint: r.get(0)?,
                        status: r.get(1)?,
                        body: r.get(2)?,
                    })
                })
                .optional()
        })
    }

    /// Save an answer under an idempotency key.
    fn save_idempotent(
        &self,
        key: &str,
        fingerprint: &str,
        status: u16,
        body: &str,
        now: i64,
    ) -> Result<(), StorageError> {
        self.run(|| {
            self.tx
                .prepare_cached(
                    "INSERT OR REPLACE INTO idempotency (key, fingerprint, status, body, created)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                )?
                .execute(params![key, fingerprint, status, body, now])?;
            Ok(())
        })
    }

    /// Forget idempotency keys older than `before` (Stripe prunes after 24 h).
    fn prune_idempotency(&self, before: i64) -> Result<usize, StorageError> {
        self.run(|| {
            self.tx
                .prepare_cached("DELETE FROM idempotency WHERE created < ?1")?
                .execute([before])
        })
    }
    fn confirmation(
        &self,
        terminal: &str,
        id: &str,
    ) -> Result<Option<PastConfirmation>, StorageError> {
        self.run(|| {
            let row: Option<(String, String, Option<String>)> = self
                .tx
                .prepare_cached(
                    "SELECT fingerprint, status, reason FROM confirmations
                     WHERE terminal = ?1 AND id = ?2",
                )?
                .query_row([terminal, id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .optional()?;
            row.map(|(fingerprint, status, reason)| {
                Ok(PastConfirmation {
                    fingerprint,
                    verdict: verdict_of(&status),
                    reason,
                })
            })
            .transpose()
        })
    }

    fn insert_confirmation(&self, c: &ConfirmationRecord<'_>) -> Result<(), StorageError> {
        self.run(|| {
            self.tx
                .prepare_cached(
                    "INSERT INTO confirmations (id, terminal, fingerprint, status, reason, pi_seq, chain, store,
                     amount, paid_at, barcode, received_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                )?
                .execute(params![
                    c.id,
                    c.terminal,
                    c.fingerprint,
                    verdict_column(c.verdict),
                    c.reason,
                    c.pi_seq,
                    c.chain.map_or("", Chain::as_str),
                    c.store,
                    c.amount,
                    c.paid_at,
                    c.barcode,
                    c.received_at
                ])?;
            Ok(())
        })
    }

    fn collected_before(&self, barcode: &str) -> Result<bool, StorageError> {
        // INDEXED BY: the partial index of other billers' accepted slips, which SQLite's
        // planner would otherwise pass over for the wider barcode index.
        self.run(|| {
            self.tx
                .prepare_cached(
                    "SELECT EXISTS (SELECT 1 FROM confirmations INDEXED BY confirmations_collected
                     WHERE barcode = ?1 AND pi_seq IS NULL AND status = 'accepted')",
                )?
                .query_row([barcode], |r| r.get(0))
        })
    }

    /// One prepared statement per question, as the single writer asks them one by one
    /// anyway (each an in-process call, no round trip to save).
    fn slip_facts(&self, ask: &SlipQuestions<'_>) -> Result<SlipFacts, StorageError> {
        let mut facts = SlipFacts::default();
        for id in &ask.slips {
            if let Some(past) = self.confirmation(ask.terminal, id)? {
                facts.past.insert((*id).to_owned(), past);
            }
        }
        for seq in &ask.payments {
            if let Some(pi) = self.pi_by_seq(*seq)? {
                facts.payments.insert(*seq, pi);
            }
        }
        for (chain, code) in &ask.codes {
            let holders: Vec<i64> = self.run(|| {
                let seqs = self
                    .tx
                    .prepare_cached(
                        "SELECT pi_seq FROM payment_codes WHERE chain = ?1 AND code = ?2 ORDER BY pi_seq DESC",
                    )?
                    .query_map([chain.as_str(), code], |r| r.get(0))?
                    .collect::<Result<_, _>>()?;
                Ok(seqs)
            })?;
            for seq in &holders {
                if !facts.payments.contains_key(seq)
                    && let Some(pi) = self.pi_by_seq(*seq)?
                {
                    facts.payments.insert(*seq, pi);
                }
            }
            if !holders.is_empty() {
                facts.holders.insert((*chain, (*code).to_owned()), holders);
            }
        }
        // Nothing is held after the chain's highest sale: those are not looked up.
        let max_seq = match ask.links.is_empty() {
            true => None,
            false => self.chain_max_seq(ask.terminal)?,
        };
        for seq in ask
            .links
            .iter()
            .filter(|s| max_seq.is_some_and(|m| **s <= m))
        {
            if let Some(link) = self.chain_link(ask.terminal, *seq)? {
                facts.links.insert(*seq, link);
            }
        }
        for barcode in &ask.collected {
            if self.collected_before(barcode)? {
                facts.collected.insert((*barcode).to_owned());
            }
        }
        Ok(facts)
    }

    /// The single writer already puts every unit in order.
    fn chain_turn(&self, _terminal: &str) -> Result<(), StorageError> {
        Ok(())
    }

    fn chain_max_seq(&self, terminal: &str) -> Result<Option<i64>, StorageError> {
        self.run(|| {
            self.tx
                .prepare_cached("SELECT MAX(seq) FROM terminal_chain WHERE terminal = ?1")?
                .query_row([terminal], |r| r.get(0))
        })
    }

    fn chain_link(
        &self,
        terminal: &str,
        seq: i64,
    ) -> Result<Option<(String, String)>, StorageError> {
        self.run(|| {
            self.tx
                .prepare_cached(
                    "SELECT prev, hash FROM terminal_chain WHERE terminal = ?1 AND seq = ?2",
                )?
                .query_row(params![terminal, seq], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()
        })
    }

    fn add_chain_link(
        &self,
        terminal: &str,
        seq: i64,
        prev: &str,
        hash: &str,
    ) -> Result<(), StorageError> {
        self.run(|| {
            self.tx
                .prepare_cached(
                    "INSERT INTO terminal_chain (terminal, seq, prev, hash) VALUES (?1, ?2, ?3, ?4)",
                )?
                .execute(params![terminal, seq, prev, hash])?;
            Ok(())
        })
    }

    fn insert_chain_link(
        &self,
        terminal: &str,
        seq: i64,
        prev: &str,
        hash: &str,
    ) -> Result<bool, StorageError> {
        self.run(|| {
            Ok(self
                .tx
                .prepare_cached(
                    "INSERT OR IGNORE INTO terminal_chain (terminal, seq, prev, hash) VALUES (?1, ?2, ?3, ?4)",
                )?
                .execute(params![terminal, seq, prev, hash])?
                == 1)
        })
    }

    fn flag_fork(
        &self,
        terminal: &str,
        seq: i64,
        detail: &str,
        at: i64,
    ) -> Result<(), StorageError> {
        self.run(|| {
            self.tx
                .prepare_cached(
                    "INSERT INTO chain_flags (terminal, seq, kind, detail, at) VALUES (?1, ?2, 'fork', ?3, ?4)",
                )?
                .execute(params![terminal, seq, detail, at])?;
            Ok(())
        })
    }

    fn chain_seqs(&self, terminal: &str) -> Result<Vec<i64>, StorageError> {
        self.run(|| {
            self.tx
                .prepare_cached("SELECT seq FROM terminal_chain WHERE terminal = ?1 ORDER BY seq")?
                .query_map([terminal], |r| r.get(0))?
                .collect()
        })
    }

    fn chain_head(&self, terminal: &str) -> Result<Option<(i64, String)>, StorageError> {
        self.run(|| {
            self.tx
                .prepare_cached(
                    "SELECT seq, hash FROM terminal_chain WHERE terminal = ?1 ORDER BY seq DESC LIMIT 1",
                )?
                .query_row([terminal], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()
        })
    }

    fn forks(&self, terminal: &str) -> Result<Vec<Fork>, StorageError> {
        self.run(|| {
            self.tx
                .prepare_cached(
                    "SELECT seq, detail, at FROM chain_flags WHERE terminal = ?1 AND kind = 'fork' ORDER BY id",
                )?
                .query_map([terminal], |r| {
                    Ok(Fork {
                        seq: r.get(0)?,
                        detail: r.get(1)?,
                        at: r.get(2)?,
                    })
                })?
                .collect()
        })
    }
}

/// Tests elsewhere in the crate: run `f` in a write transaction of a fresh in-memory store.
#[cfg(test)]
pub(crate) fn in_memory_tx<T>(f: impl FnOnce(&dyn Tx) -> T) -> T {
    let store = SqliteStorage::open(Path::new(":memory:")).unwrap();
    let mut db = store.shared.lock();
    let tx = db.conn.transaction().unwrap();
    f(&SqliteTx::new(&tx))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn migrations_are_valid() {
        migrations().validate().unwrap();
    }

    /// 0007 rebuilds `events`, which `deliveries` references: a store of the previous
    /// schema with events and deliveries keeps them all, and its references hold.
    #[test]
    fn a_store_with_events_and_deliveries_keeps_them_through_the_events_rebuild() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("network.db");
        {
            let mut conn = Connection::open(&path).unwrap();
            conn.pragma_update(None, "foreign_keys", "ON").unwrap();
            migrations().to_version(&mut conn, 6).unwrap();
            conn.execute_batch(
                "INSERT INTO events (seq, id, type, created, kind, doc)
                     VALUES (1, 'evt_1', 'payment_intent.succeeded', 10, 'payment_intent', '{}'),
                            (2, 'evt_2', 'charge.succeeded', 11, 'charge', '{}');
                 INSERT INTO webhook_endpoints (id, created, doc) VALUES ('we_1', 1, '{}');
                 INSERT INTO deliveries (event_seq, endpoint, delivered, attempts, next_at)
                     VALUES (1, 'we_1', 1, 1, 10), (2, 'we_1', 0, 3, 99);",
            )
            .unwrap();
        }
        let store = SqliteStorage::open(&path).unwrap();
        let db = store.shared.lock();
        let conn = &db.conn;
        let events: Vec<(i64, String, Option<String>)> = conn
            .prepare("SELECT seq, id, previous FROM events ORDER BY seq")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            events,
            [(1, "evt_1".to_owned(), None), (2, "evt_2".to_owned(), None)]
        );
        let deliveries: Vec<(i64, i64)> = conn
            .prepare("SELECT event_seq, attempts FROM deliveries ORDER BY event_seq")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(deliveries, [(1, 1), (2, 3)]);
        let fk: i64 = conn
            .pragma_query_value(None, "foreign_keys", |r| r.get(0))
            .unwrap();
        assert_eq!(fk, 1, "foreign keys are on again after migrating");
        // The references still point at the rebuilt table, and are enforced.
        assert!(
            conn.execute(
                "INSERT INTO deliveries (event_seq, endpoint, next_at) VALUES (3, 'we_1', 1)",
                []
            )
            .is_err()
        );
        // The new kinds are taken.
        conn.execute(
            "INSERT INTO events (id, type, created, kind, doc, previous)
             VALUES ('evt_3', 'customer.updated', 12, 'customer', '{}', '{\"name\": null}')",
            [],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO deliveries (event_seq, endpoint, next_at) VALUES (3, 'we_1', 1)",
            [],
        )
        .unwrap();
        assert!(
            conn.execute(
                "INSERT INTO events (id, type, created, kind, doc) VALUES ('evt_4', 'x', 1, 'nope', '{}')",
                []
            )
            .is_err()
        );
    }

    #[test]
    fn a_store_keyed_by_slip_id_alone_keeps_its_confirmations_per_terminal() {
        let mut conn = Connection::open_in_memory().unwrap();
        // The store as it was before slip ids were scoped to their terminal.
        migrations().to_version(&mut conn, 3).unwrap();
        conn.execute(
            "INSERT INTO confirmations (id, terminal, fingerprint, status, reason, pi_seq, chain,
             store, amount, paid_at, barcode, received_at)
             VALUES ('J1-1-0', 'reg-1', 'fp', 'accepted', NULL, 1, 'lawson', '0042', 1200,
                     '2026-12-07T10:00:00+09:00', NULL, 1)",
            [],
        )
        .unwrap();
        migrations().to_latest(&mut conn).unwrap();
        let tx = conn.transaction().unwrap();
        let stx = SqliteTx::new(&tx);
        let kept = stx.confirmation("reg-1", "J1-1-0").unwrap().unwrap();
        assert_eq!(
            (kept.fingerprint.as_str(), kept.verdict),
            ("fp", Verdict::Accepted)
        );
        assert_eq!(stx.confirmation("reg-2", "J1-1-0").unwrap(), None);
        // The same id from another terminal is another confirmation.
        stx.insert_confirmation(&ConfirmationRecord {
            id: "J1-1-0",
            terminal: "reg-2",
            fingerprint: "other",
            verdict: Verdict::Conflict,
            reason: Some("already_paid"),
            pi_seq: Some(1),
            chain: None,
            store: "0043",
            amount: 1200,
            paid_at: "2026-12-07T10:00:00+09:00",
            barcode: None,
            received_at: 2,
        })
        .unwrap();
        assert_eq!(
            stx.confirmation("reg-2", "J1-1-0")
                .unwrap()
                .unwrap()
                .fingerprint,
            "other"
        );
    }

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
    }

    #[test]
    fn pragmas_are_read_back_on_a_file_and_a_reopened_store_keeps_its_data() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("net.db");
        let store = SqliteStorage::open(&path).unwrap();
        let mode: String = store
            .shared
            .lock()
            .conn
            .pragma_query_value(None, "journal_mode", |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        let rt = runtime();
        let store: Box<dyn Storage> = Box::new(store);
        rt.block_on(store.run_write(|tx| tx.set_meta("k", "v")))
            .unwrap();
        drop(store);
        let store: Box<dyn Storage> = Box::new(SqliteStorage::open(&path).unwrap());
        assert_eq!(
            rt.block_on(store.run_read(|tx| tx.meta("k")))
                .unwrap()
                .as_deref(),
            Some("v")
        );
    }

    /// A network killed while it sent a delivery sends it again as soon as it restarts, not
    /// once its claim lapses: the claims in one SQLite store are all its own.
    #[test]
    fn a_reopened_store_forgets_its_previous_runs_claims() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("net.db");
        let rt = runtime();
        let claim = |store: &dyn Storage| {
            let lease = Lease { now: 10, until: 70 };
            rt.block_on(store.run_write(move |tx| tx.claim_due_deliveries("we_1", 10, lease, 10)))
                .unwrap()
                .len()
        };
        let store: Box<dyn Storage> = Box::new(SqliteStorage::open(&path).unwrap());
        rt.block_on(store.run_write(|tx| {
            tx.insert_endpoint(&WebhookEndpoint {
                id: "we_1".into(),
                created: 1,
                url: "http://127.0.0.1:9/".into(),
                enabled_events: vec!["*".into()],
                secret: "whsec_x".into(),
                description: None,
                metadata: Default::default(),
                disabled: false,
            })?;
            tx.emit(
                "charge.succeeded",
                5,
                Snapshot::Stored {
                    kind: "charge",
                    doc: "{}",
                },
            )
        }))
        .unwrap();
        assert_eq!(claim(&*store), 1);
        assert_eq!(claim(&*store), 0, "claimed until 70");
        drop(store);
        let store: Box<dyn Storage> = Box::new(SqliteStorage::open(&path).unwrap());
        assert_eq!(claim(&*store), 1);
    }

    #[test]
    fn a_unit_that_fails_keeps_nothing_and_a_grouped_one_fails_alone() {
        let rt = runtime();
        let store: Arc<dyn Storage> = Arc::new(SqliteStorage::open(Path::new(":memory:")).unwrap());
        let r: Result<(), StorageError> = rt.block_on(store.run_write(|tx| {
            tx.set_meta("a", "1")?;
            Err(StorageError::Failed("the unit changed its mind".into()))
        }));
        assert!(r.is_err());
        assert_eq!(
            rt.block_on(store.run_read(|tx| tx.meta("a"))).unwrap(),
            None
        );
        // Several grouped units at once: the failing one is rolled back, the others kept.
        let answers = rt.block_on(async {
            let units = (0..6).map(|i| {
                let store = store.clone();
                async move {
                    store
                        .run_grouped(move |tx| {
                            tx.set_meta(&format!("g{i}"), "x")?;
                            if i == 3 {
                                return Err(StorageError::Failed("no".into()));
                            }
                            Ok(i)
                        })
                        .await
                }
            });
            let mut out = Vec::new();
            for u in units.map(tokio::spawn).collect::<Vec<_>>() {
                out.push(u.await.unwrap());
            }
            out
        });
        for (i, a) in answers.iter().enumerate() {
            assert_eq!(a.is_ok(), i != 3, "unit {i}: {a:?}");
            let kept = rt
                .block_on(store.run_read(move |tx| tx.meta(&format!("g{i}"))))
                .unwrap();
            assert_eq!(kept.is_some(), i != 3, "unit {i}");
        }
    }

    /// Long enough for an answer that does not wait to have come. The checks below can
    /// only pass wrongly on a slow machine, never fail wrongly.
    const WHILE: Duration = Duration::from_millis(300);

    #[test]
    fn no_answer_leaves_before_the_commit_it_saw_is_synced() {
        let dir = tempfile::tempdir().unwrap();
        let rt = runtime();
        let sqlite = SqliteStorage::open(&dir.path().join("n.db")).unwrap();
        assert!(sqlite.hold_syncs(true), "a file store syncs its commits");
        let sqlite = Arc::new(sqlite);
        let store: Arc<dyn Storage> = sqlite.clone();

        // A write is answered after its sync; so is a read that can see it, and grouped
        // writes, whose group thread goes on meanwhile.
        let write = {
            let s = store.clone();
            rt.spawn(async move { s.run_write(|tx| tx.set_meta("k", "v")).await })
        };
        // Committed (another connection sees it), not yet synced: only now may the read
        // below see it, and so wait for the sync.
        let raw = rusqlite::Connection::open(dir.path().join("n.db")).unwrap();
        let seen = || {
            raw.query_row("SELECT count(*) FROM meta WHERE key = 'k'", [], |r| {
                r.get::<_, i64>(0)
            })
            .unwrap_or(0)
                == 1
        };
        let looking = std::time::Instant::now();
        while !seen() {
            assert!(
                looking.elapsed() < Duration::from_secs(60),
                "never committed"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        let read = {
            let s = store.clone();
            rt.spawn(async move { s.run_read(|tx| tx.meta("k")).await })
        };
        let grouped: Vec<_> = (0..2)
            .map(|i| {
                let s = store.clone();
                rt.spawn(async move {
                    s.run_grouped(move |tx| tx.set_meta(&format!("g{i}"), "x"))
                        .await
                })
            })
            .collect();
        std::thread::sleep(WHILE);
        assert!(!write.is_finished(), "a write answered before its sync");
        assert!(!read.is_finished(), "a read answered before its sync");
        for g in &grouped {
            assert!(!g.is_finished(), "a grouped write answered before its sync");
        }
        sqlite.hold_syncs(false);
        rt.block_on(async {
            write.await.unwrap().unwrap();
            assert_eq!(read.await.unwrap().unwrap().as_deref(), Some("v"));
            for g in grouped {
                g.await.unwrap().unwrap();
            }
        });
    }
}
