//! The PostgreSQL backend of the network's [`Storage`]: one database shared by any number of
//! network processes (nodes). The only code of the network that names PostgreSQL or its
//! client (tokio-postgres, pooled by deadpool-postgres).
//!
//! Every rule the SQLite backend makes true by having one writer is made true here by the
//! database itself, never by a lock inside one process:
//!
//! - every unit of work runs in one transaction at `REPEATABLE READ` isolation (one snapshot),
//!   and is run again from the start (a fresh transaction) when PostgreSQL answers
//!   `serialization_failure` (40001: the unit updated a row another transaction changed
//!   since its snapshot), `deadlock_detected` (40P01) or `unique_violation` (23505: the unit
//!   inserted a key another transaction inserted first), a bounded number of times with
//!   jittered backoff ([`RETRY`]). Every rule that a second writer could break is a write to
//!   one row or one key, so two nodes that confirm the same slip (the key terminal + slip id),
//!   pay the same payment (its row), refund the same charge (its row), save the same
//!   Idempotency-Key's answer (its key), keep the same link of a terminal's chain (terminal +
//!   seq) or collect the same slip of another biller (a partial unique index, migration 0004)
//!   are put in an order: the second sees what the first wrote and answers as a second
//!   request would (a duplicate, a conflict, the saved answer).
//!
//!   Why not `SERIALIZABLE`: it was measured first. Its predicate locks are taken on index
//!   pages, and every creation reads and inserts into the same few pages of a young store's
//!   indexes (payment codes, events): with four clients, 2,065 of 2,000 creations lost a
//!   race, some twelve times in a row, and a batch of 100 confirmations was run about 20
//!   times before it committed (0.02x the SQLite backend's rate). Repeatable read conflicts
//!   only where two units really wrote the same row or key, and the rules above are all
//!   such writes;
//! - a payment code is unique among the payable payments of a chain by the key of
//!   `payable_codes` (migration 0009; a partial unique index of `payment_codes` before);
//! - webhook deliveries are taken with a claim
//!   ([`Tx::claim_due_deliveries`](crate::storage::Tx::claim_due_deliveries)): `FOR UPDATE
//!   SKIP LOCKED` and a `claimed_until` lease on the clock's base (the delivery timeout and
//!   5 s), so two nodes do not send one delivery at once while its sender lives and answers
//!   within it, and a node that dies mid-delivery leaves it to another once the lease lapses.
//!   A node slower than its lease may see the event sent again (webhooks are at least once);
//!   a delivered event is never made due again.
//!
//! Reads run in `READ ONLY` transactions at `REPEATABLE READ` (one snapshot, taken after every
//! write answered before the read began). Grouped writes are plain writes: PostgreSQL's group
//! commit is its own (`commit_delay`), and each unit keeps its own transaction.
//!
//! A unit's statements are sent in as few round trips as its reads allow, and the writes it
//! needs no answer from go as multi-row statements (see `tx.rs`): a confirmation batch of 100
//! is three round trips. The batches of one terminal take turns (a session advisory lock
//! taken before the transaction begins), so that they queue rather than lose races.
//!
//! Durability: each session runs with `synchronous_commit=on` (read back at open), so a unit
//! is answered only after its commit is flushed on the server.
//!
//! Where the units run: each on tokio's blocking pool, holding one pooled connection for its
//! whole transaction; inside, each statement of the (synchronous) unit is driven through the
//! runtime's [`Handle::block_on`](tokio::runtime::Handle::block_on), prepared once per
//! connection (`prepare_cached`; those whose plan depends on how big the tables are now,
//! planned afresh each time: `tx.rs`), and bounded by a client-side timeout as well as the
//! server's `statement_timeout`, so a lost connection or a vanished server fails the unit
//! ([`StorageError::Failed`], answered 500 by the callers) and never hangs it. A pool whose
//! every connection is busy makes a unit wait at most [`POOL_WAIT`], then fails it with a
//! message that says "pool exhausted" ([`StorageError::Unavailable`]: a `503` with
//! `Retry-After`, as is a server that cannot be reached when a unit asks for a connection;
//! a connection lost inside a transaction is a `500`, as its commit may have landed).

mod migrate;
#[cfg(test)]
pub(crate) mod testdb;
mod tx;

use std::cell::Cell;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, PoolError, RecyclingMethod, Runtime};
use konbini_domain::retry::{Jitter, Retry, RetryPolicy};
use tokio_postgres::NoTls;
use tokio_postgres::error::SqlState;

use self::tx::PgTx;
use super::{Boxed, Storage, StorageError, StorageFuture, Work};

/// Connecting to the server, whether at open or for a new pooled connection.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest one statement may run on the server (`statement_timeout`); the client gives up a
/// little after it (a server that vanished answers nothing at all).
pub const STATEMENT_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest the migrations at open may take (another node may hold their lock meanwhile).
const CLIENT_TIMEOUT_OPEN: Duration = Duration::from_secs(60);
/// How long a unit waits for a pooled connection before it fails ("pool exhausted").
pub const POOL_WAIT: Duration = Duration::from_secs(10);
/// Connections in the pool of one node.
pub const POOL_SIZE: usize = 16;
/// Retrying a unit that lost a serialization race or a deadlock: at most 12 runs in all,
/// delays drawn up to 2 ms doubling to 200 ms, so that the units that collided do not
/// collide again in step.
pub const RETRY: RetryPolicy =
    RetryPolicy::exponential(Duration::from_millis(2), Duration::from_millis(200))
        .with_attempts(12)
        .with_jitter(Jitter::Full);

/// The store could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The URL is not a PostgreSQL connection string.
    #[error("network database URL {url:?}: {detail}")]
    Url {
        /// The URL given, its password hidden.
        url: String,
        /// What is wrong with it.
        detail: String,
    },
    /// The server could not be reached, refused us, or failed.
    #[error("network database {target}: {detail}")]
    Database {
        /// `host:port/dbname`.
        target: String,
        /// What the client or the server said.
        detail: String,
    },
    /// Not a network database, or one newer than this build.
    #[error("network database {target}: {detail}")]
    Schema {
        /// `host:port/dbname`.
        target: String,
        /// What is wrong.
        detail: String,
    },
}

/// The network's storage in a PostgreSQL database.
pub struct PostgresStorage {
    shared: Arc<Shared>,
}

/// What every unit shares.
struct Shared {
    pool: Pool,
    /// The pool's connections, and how long a unit waits for one (for messages).
    size: usize,
    wait: Duration,
    /// `host:port/dbname`, for messages (never the password).
    target: String,
    /// Units run again after a serialization failure or a deadlock, since open.
    retries: AtomicU64,
}

impl PostgresStorage {
    /// Open the store at `url` (`postgres://user@host:port/dbname`), creating or migrating
    /// its schema. Refuses a database whose schema is newer than this build's, or that holds
    /// tables of another application.
    pub async fn open(url: &str) -> Result<PostgresStorage, OpenError> {
        PostgresStorage::open_with(url, POOL_SIZE, POOL_WAIT).await
    }

    /// [`open`](Self::open) with a pool of `size` connections that a unit waits for at most
    /// `wait`.
    async fn open_with(
        url: &str,
        size: usize,
        wait: Duration,
    ) -> Result<PostgresStorage, OpenError> {
        let mut config: tokio_postgres::Config = url.parse().map_err(|e| OpenError::Url {
            url: hide_password(url),
            detail: format!("{e}; expected postgres://user@host:port/dbname"),
        })?;
        let target = describe(&config);
        config.connect_timeout(CONNECT_TIMEOUT);
        config.keepalives(true);
        config.keepalives_idle(Duration::from_secs(30));
        // Every session: the statement bound, and commits flushed before they answer.
        let mut options = config.get_options().unwrap_or("").to_owned();
        options.push_str(&format!(
            " -c statement_timeout={} -c synchronous_commit=on -c idle_in_transaction_session_timeout={}",
            STATEMENT_TIMEOUT.as_millis(),
            (STATEMENT_TIMEOUT * 2).as_millis()
        ));
        config.options(options.trim());
        if config.get_application_name().is_none() {
            config.application_name("konbini-network");
        }
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(size)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(wait))
            .create_timeout(Some(CONNECT_TIMEOUT))
            .recycle_timeout(Some(CONNECT_TIMEOUT))
            .build()
            .map_err(|e| OpenError::Database {
                target: target.clone(),
                detail: e.to_string(),
            })?;
        let client = pool.get().await.map_err(|e| OpenError::Database {
            target: target.clone(),
            detail: pool_error(&e, size, wait),
        })?;
        let err = |e: tokio_postgres::Error| OpenError::Database {
            target: target.clone(),
            detail: db_message(&e),
        };
        let sync: String = tokio::time::timeout(
            STATEMENT_TIMEOUT,
            client.query_one("SHOW synchronous_commit", &[]),
        )
        .await
        .map_err(|_| OpenError::Database {
            target: target.clone(),
            detail: "no answer to SHOW synchronous_commit".into(),
        })?
        .map_err(err)?
        .try_get(0)
        .map_err(err)?;
        if sync != "on" {
            return Err(OpenError::Database {
                target,
                detail: format!("synchronous_commit is {sync}, expected on"),
            });
        }
        migrate::to_latest(&client, &target).await?;
        drop(client);
        Ok(PostgresStorage {
            shared: Arc::new(Shared {
                pool,
                size,
                wait,
                target,
                retries: AtomicU64::new(0),
            }),
        })
    }

    /// Units run again after a serialization failure or a deadlock since the store was
    /// opened (what the concurrency tests and an operator look at).
    pub fn serialization_retries(&self) -> u64 {
        self.shared.retries.load(Ordering::Relaxed)
    }

    fn run(&self, work: Work, write: bool) -> StorageFuture<'_> {
        let shared = self.shared.clone();
        Box::pin(async move {
            let client = shared
                .pool
                .get()
                .await
                .map_err(|e| shared.pool_failed(&e))?;
            let handle = tokio::runtime::Handle::current();
            tokio::task::spawn_blocking(move || {
                let broken = Cell::new(false);
                let out = shared.run_blocking(&client, &handle, &broken, work, write);
                if broken.get() {
                    // It may still be inside the transaction: never hand it out again.
                    drop(deadpool_postgres::Object::take(client));
                }
                out
            })
            .await
            .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))
        })
    }
}

impl Storage for PostgresStorage {
    fn write(&self, work: Work) -> StorageFuture<'_> {
        self.run(work, true)
    }

    /// Each unit in its own transaction: see the module's doc.
    fn write_grouped(&self, work: Work) -> StorageFuture<'_> {
        self.run(work, true)
    }

    fn read(&self, work: Work) -> StorageFuture<'_> {
        self.run(work, false)
    }

    fn shared(&self) -> bool {
        true
    }
}

/// How one run of a unit ended.
enum Ran {
    /// Committed (a write) or finished (a read, or a unit that failed on its own and was
    /// rolled back): the answer.
    Done(Result<Boxed, Boxed>),
    /// Lost a serialization race or a deadlock: rolled back, to run again.
    Again(String),
}

impl Shared {
    /// Run `work` on this blocking thread with `client`, again after each serialization
    /// failure, up to [`RETRY`]'s attempts.
    fn run_blocking(
        &self,
        client: &deadpool_postgres::Object,
        handle: &tokio::runtime::Handle,
        broken: &Cell<bool>,
        mut work: Work,
        write: bool,
    ) -> Result<Result<Boxed, Boxed>, StorageError> {
        let mut retry = Retry::new(RETRY);
        loop {
            match self.run_once(client, handle, broken, &mut work, write)? {
                Ran::Done(out) => return Ok(out),
                Ran::Again(why) => match retry.failed() {
                    Some(delay) => {
                        self.retries.fetch_add(1, Ordering::Relaxed);
                        std::thread::sleep(delay);
                    }
                    None => {
                        return Err(StorageError::Failed(format!(
                            "the network's database (PostgreSQL {}) failed: the unit of work lost {} serialization races in a row: {why}",
                            self.target,
                            retry.failures()
                        )));
                    }
                },
            }
        }
    }

    fn run_once(
        &self,
        client: &deadpool_postgres::Object,
        handle: &tokio::runtime::Handle,
        broken: &Cell<bool>,
        work: &mut Work,
        write: bool,
    ) -> Result<Ran, StorageError> {
        // Sent with the unit's first statement.
        let begin = if write {
            "BEGIN ISOLATION LEVEL REPEATABLE READ"
        } else {
            "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"
        };
        let tx = PgTx::new(client, handle, broken, &self.target, begin);
        // A unit that panics leaves no transaction open on a pooled connection.
        let out = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work(&tx))) {
            Ok(out) => out,
            Err(panic) => {
                tx.rollback();
                std::panic::resume_unwind(panic);
            }
        };
        // An error the database raised aborts the transaction whatever the unit made of it
        // (a COMMIT would only roll back): the unit failed, or is run again.
        if let Some(failure) = tx.failure() {
            tx.rollback();
            return match failure {
                tx::Failure::Retry(why) => Ok(Ran::Again(why)),
                tx::Failure::Failed(e) => Err(e),
            };
        }
        match out {
            Ok(answer) if write => match tx.commit() {
                Ok(()) => Ok(Ran::Done(Ok(answer))),
                // A write sent with the commit can still lose (a key another writer took).
                Err(_) => match tx.failure() {
                    Some(tx::Failure::Retry(why)) => Ok(Ran::Again(why)),
                    Some(tx::Failure::Failed(e)) => Err(e),
                    None => Err(StorageError::Failed(format!(
                        "the network's database (PostgreSQL {}) failed at commit",
                        self.target
                    ))),
                },
            },
            // A read, or a unit that failed by itself: nothing to keep, and its answer stands
            // even if the rollback fails (the connection is then not pooled again).
            out => {
                tx.rollback();
                Ok(Ran::Done(out))
            }
        }
    }

    /// No connection could be had: nothing was begun, so the work may simply be tried again
    /// (`Unavailable`: a 503 with `Retry-After`), whether the pool stayed busy for the whole
    /// wait or the server cannot be reached now.
    fn pool_failed(&self, e: &PoolError) -> StorageError {
        StorageError::Unavailable(format!(
            "the network's database (PostgreSQL {}) is unavailable: {}",
            self.target,
            pool_error(e, self.size, self.wait)
        ))
    }
}

/// The pool's error, in words: a wait that timed out is an exhausted pool.
fn pool_error(e: &PoolError, size: usize, wait: Duration) -> String {
    match e {
        PoolError::Timeout(deadpool_postgres::TimeoutType::Wait) => format!(
            "connection pool exhausted: all {size} connections busy for {} ms; retry",
            wait.as_millis()
        ),
        PoolError::Timeout(deadpool_postgres::TimeoutType::Create) => format!(
            "cannot connect within {} s (is the server up and the address right?)",
            CONNECT_TIMEOUT.as_secs()
        ),
        PoolError::Timeout(deadpool_postgres::TimeoutType::Recycle) => {
            "a pooled connection did not answer".to_owned()
        }
        PoolError::Backend(e) => db_message(e),
        other => other.to_string(),
    }
}

/// What PostgreSQL (or the client) said: the server's own message and code, or the client's
/// error with its causes (tokio-postgres's own text is only "db error" or "error connecting
/// to server").
fn db_message(e: &tokio_postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return format!("{}: {} ({})", db.severity(), db.message(), db.code().code());
    }
    let mut text = e.to_string();
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        let more = c.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        cause = c.source();
    }
    text
}

/// Whether the unit that met `e` must be run again from the start.
fn retryable(e: &tokio_postgres::Error) -> bool {
    match e.code() {
        Some(c) if *c == SqlState::T_R_SERIALIZATION_FAILURE => true,
        Some(c) if *c == SqlState::T_R_DEADLOCK_DETECTED => true,
        // A key another transaction inserted first (a slip id, an Idempotency-Key, a chain
        // link; a payment code's claim loses with a serialization failure instead, being an
        // `ON CONFLICT DO NOTHING`): the loser runs again from a new snapshot and sees the
        // winner's row (see the module's doc).
        Some(c) if *c == SqlState::UNIQUE_VIOLATION => true,
        _ => false,
    }
}

/// `host:port/dbname` of a config, for messages.
fn describe(config: &tokio_postgres::Config) -> String {
    let host = match config.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
        Some(tokio_postgres::config::Host::Unix(p)) => p.display().to_string(),
        None => "localhost".to_owned(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let db = config
        .get_dbname()
        .or(config.get_user())
        .unwrap_or("postgres");
    format!("{host}:{port}/{db}")
}

/// `url` with any password replaced by `***`.
fn hide_password(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://")
        && let Some((userinfo, host)) = rest.split_once('@')
        && let Some((user, _)) = userinfo.split_once(':')
    {
        return format!("{scheme}://{user}:***@{host}");
    }
    url.to_owned()
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::sync::mpsc;

    use super::testdb::TestDb;
    use super::*;
    use crate::storage::tests::{race, race_from};

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
    }

    /// Run `sql` on the test's database with a client of its own (what another program, or
    /// an operator, does to it).
    async fn raw(url: &str, sql: &str) {
        let (client, conn) = tokio_postgres::connect(url, NoTls).await.unwrap();
        let driver = tokio::spawn(conn);
        client.batch_execute(sql).await.unwrap();
        drop(client);
        let _ = driver.await;
    }

    #[test]
    fn a_password_never_reaches_a_message() {
        assert_eq!(
            hide_password("postgres://net:s3cret@db:5432/konbini"),
            "postgres://net:***@db:5432/konbini"
        );
        assert_eq!(
            hide_password("postgres://net@db/konbini"),
            "postgres://net@db/konbini"
        );
    }

    #[test]
    fn a_wrong_or_unreachable_url_is_refused_clearly_and_soon() {
        let rt = runtime();
        let e = rt
            .block_on(PostgresStorage::open("postgres://net:pw@127.0.0.1:99999/x"))
            .err()
            .unwrap();
        assert!(matches!(e, OpenError::Url { .. }), "{e}");
        assert!(!e.to_string().contains("pw"), "{e}");
        // Nothing listens on port 1: refused at once, and named.
        let started = std::time::Instant::now();
        let e = rt
            .block_on(PostgresStorage::open(
                "postgres://postgres@127.0.0.1:1/konbini",
            ))
            .err()
            .unwrap();
        let text = e.to_string();
        assert!(text.contains("127.0.0.1:1/konbini"), "{text}");
        assert!(started.elapsed() < CONNECT_TIMEOUT * 2, "{text}");
    }

    #[test]
    fn a_database_that_does_not_exist_is_named_with_what_the_server_said() {
        let Some(db) = TestDb::create("a_database_that_does_not_exist_is_named") else {
            return;
        };
        let url = format!("{}_missing", db.url);
        let e = runtime()
            .block_on(PostgresStorage::open(&url))
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.contains("_missing") && e.contains("does not exist"),
            "{e}"
        );
    }

    #[test]
    fn a_newer_schema_or_another_applications_tables_are_refused_untouched() {
        let rt = runtime();
        if let Some(db) = TestDb::create("a_newer_schema_is_refused") {
            rt.block_on(async {
                drop(PostgresStorage::open(&db.url).await.unwrap());
                raw(&db.url, "UPDATE schema_version SET version = 99").await;
                let e = PostgresStorage::open(&db.url).await.err().unwrap();
                assert!(matches!(e, OpenError::Schema { .. }), "{e}");
                assert!(e.to_string().contains("version 99, newer"), "{e}");
            });
        }
        if let Some(db) = TestDb::create("another_applications_tables_are_refused") {
            rt.block_on(async {
                raw(&db.url, "CREATE TABLE invoices (id INT)").await;
                let e = PostgresStorage::open(&db.url).await.err().unwrap();
                assert!(e.to_string().contains("invoices"), "{e}");
                // Untouched: no schema_version was made.
                raw(&db.url, "SELECT * FROM invoices").await;
                let (client, conn) = tokio_postgres::connect(&db.url, NoTls).await.unwrap();
                let driver = tokio::spawn(conn);
                let ours: bool = client
                    .query_one("SELECT to_regclass('schema_version') IS NOT NULL", &[])
                    .await
                    .unwrap()
                    .get(0);
                assert!(!ours);
                drop(client);
                let _ = driver.await;
            });
        }
    }

    /// Run `test` with the URL of a new database of its own (see [`TestDb`]: without a
    /// server the test is skipped, or fails under CI), on a runtime of its own.
    fn on_new_db<F: Future<Output = ()>>(name: &str, test: impl FnOnce(String) -> F) {
        let Some(db) = TestDb::create(name) else {
            return;
        };
        runtime().block_on(test(db.url.clone()));
    }

    /// A unit that creates and confirms a konbini payment of `amount` yen.
    fn new_payment(
        amount: i64,
    ) -> impl FnMut(
        &dyn crate::storage::Tx,
    ) -> Result<crate::objects::PaymentIntent, crate::error::ApiError>
    + Send
    + 'static {
        let body = format!(
            "amount={amount}&currency=jpy&confirm=true&payment_method_data[type]=konbini&payment_method_data[billing_details][name]=A&payment_method_data[billing_details][email]=a%40example.jp"
        );
        move |tx| {
            crate::payments::create(
                tx,
                &crate::Settings::new("sk_test_x"),
                &crate::form::Form::parse(body.as_bytes()).unwrap(),
                1_800_000_000,
            )
            .map(|(pi, _)| pi)
        }
    }

    /// 0006 widens the events' kinds and adds `previous`: a database of schema 5 with events
    /// and deliveries keeps them, and takes the new kinds.
    #[test]
    fn a_schema_5_database_with_events_keeps_them_and_takes_the_new_kinds() {
        on_new_db("a_schema_5_database_with_events", |url| async move {
            let mut sql = String::from(
                "CREATE TABLE schema_version (application TEXT NOT NULL, version BIGINT NOT NULL);
                 INSERT INTO schema_version VALUES ('konbini-network', 5);",
            );
            for m in &migrate::MIGRATIONS[..5] {
                sql.push_str(m);
            }
            sql.push_str(
                "INSERT INTO events (id, type, created, kind, doc)
                     VALUES ('evt_1', 'charge.succeeded', 10, 'charge', '{}');
                 INSERT INTO webhook_endpoints (id, created, doc) VALUES ('we_1', 1,
                     '{\"id\":\"we_1\",\"created\":1,\"url\":\"http://127.0.0.1:9/\",\"enabled_events\":[\"*\"],\"secret\":\"whsec_x\",\"description\":null,\"metadata\":{}}');
                 INSERT INTO deliveries (event_seq, endpoint, next_at)
                     SELECT seq, 'we_1', 10 FROM events;",
            );
            raw(&url, &sql).await;
            let store: Arc<dyn Storage> = Arc::new(PostgresStorage::open(&url).await.unwrap());
            let kept = store
                .run_read(|tx| tx.event("evt_1"))
                .await
                .unwrap()
                .unwrap();
            assert_eq!((kept.kind.as_str(), kept.previous), ("charge", None));
            let due = store
                .run_read(|tx| tx.endpoint_due_deliveries("we_1", 10, 10))
                .await
                .unwrap();
            assert_eq!(due.len(), 1, "the delivery of the kept event is still due");
            store
                .run_write(|tx| {
                    tx.emit_update(
                        "customer.updated",
                        11,
                        crate::objects::Snapshot::Stored {
                            kind: "customer",
                            doc: "{}",
                        },
                        Some("{\"name\":null}"),
                    )
                })
                .await
                .unwrap();
            let e = store
                .run_read(|tx| tx.event_by_seq(2))
                .await
                .unwrap()
                .unwrap();
            assert_eq!(e.previous.as_deref(), Some("{\"name\":null}"));
            let refused = store
                .run_write(|tx| {
                    tx.emit(
                        "x.y",
                        12,
                        crate::objects::Snapshot::Stored {
                            kind: "nothing",
                            doc: "{}",
                        },
                    )
                })
                .await;
            assert!(refused.is_err(), "the kind CHECK still holds");
        });
    }

    /// Migration 0008 moves the voucher token out of the document into a column: a payment
    /// kept by schema 7 (the token only in its document, found by the expression index) is
    /// still found by its voucher once the database is opened by this build.
    #[test]
    fn a_schema_7_payment_is_found_by_its_voucher_after_0008() {
        on_new_db(
            "a_schema_7_payment_is_found_by_its_voucher",
            |url| async move {
                let store: Arc<dyn Storage> = Arc::new(PostgresStorage::open(&url).await.unwrap());
                let pi = store.run_write(new_payment(1200)).await.unwrap();
                drop(store);
                // Back to schema 7 as it kept payments: no column, the expression index.
                raw(&url, UNDO_0009).await;
                raw(
                    &url,
                    "DROP INDEX payment_intents_voucher_token;
                 ALTER TABLE payment_intents DROP COLUMN voucher_token;
                 CREATE INDEX payment_intents_voucher
                     ON payment_intents (((doc::jsonb) #>> '{voucher,token}'));
                 UPDATE schema_version SET version = 7;",
                )
                .await;
                let store: Arc<dyn Storage> = Arc::new(PostgresStorage::open(&url).await.unwrap());
                let token = pi.voucher.as_ref().unwrap().token.clone();
                let found = store
                    .run_read(move |tx| tx.pi_by_voucher(&token))
                    .await
                    .unwrap();
                assert_eq!(found.map(|p| p.id), Some(pi.id));
            },
        );
    }

    /// What migration 0009 did, undone: the schema of 8 with its rows, for the tests of
    /// migrations from before it.
    const UNDO_0009: &str = "
        ALTER TABLE payment_codes ADD COLUMN live BOOLEAN NOT NULL DEFAULT FALSE;
        UPDATE payment_codes AS c SET live = TRUE FROM payable_codes AS p
            WHERE (p.chain, p.code, p.pi_seq) = (c.chain, c.code, c.pi_seq);
        ALTER TABLE payment_codes ALTER COLUMN live SET DEFAULT TRUE;
        DROP TABLE payable_codes;
        CREATE UNIQUE INDEX payment_codes_live ON payment_codes (chain, code) WHERE live;
        CREATE INDEX payment_codes_pi ON payment_codes (pi_seq) WHERE live;
        ALTER TABLE charges ADD FOREIGN KEY (pi_seq) REFERENCES payment_intents (seq);
        ALTER TABLE payment_codes ADD FOREIGN KEY (pi_seq) REFERENCES payment_intents (seq);
        ALTER TABLE deliveries ADD FOREIGN KEY (event_seq) REFERENCES events (seq);
        ALTER TABLE payment_intents ADD COLUMN due_at BIGINT;
        UPDATE payment_intents AS p SET due_at = d.due_at FROM payment_dues AS d
            WHERE d.seq = p.seq;
        DROP TABLE payment_dues;
        CREATE INDEX payment_intents_due ON payment_intents (due_at) WHERE due_at IS NOT NULL;
        ALTER TABLE payment_intents RESET (fillfactor);
        UPDATE schema_version SET version = 8;";

    /// Migration 0009 moves the payable codes out of `payment_codes.live` into a table of
    /// their own, and the due times out of `payment_intents`: a database of schema 8 with a
    /// live code and a dead one comes out with the live one still refused to another
    /// payment, the dead one free, and both still found; its payments are still due when
    /// they were.
    #[test]
    fn a_schema_8_database_keeps_its_payable_codes_after_0009() {
        on_new_db(
            "a_schema_8_database_keeps_its_payable_codes",
            |url| async move {
                let store: Arc<dyn Storage> = Arc::new(PostgresStorage::open(&url).await.unwrap());
                let pi = store.run_write(new_payment(1200)).await.unwrap();
                let other = store.run_write(new_payment(1300)).await.unwrap();
                drop(store);
                // Back to schema 8 as it kept codes, with one more code the payment held once.
                raw(
                    &url,
                    &format!(
                        "{UNDO_0009}
                     INSERT INTO payment_codes (chain, code, pi_seq, live)
                         VALUES ('lawson', 'GONE-1', {}, FALSE);",
                        pi.seq
                    ),
                )
                .await;
                let store: Arc<dyn Storage> = Arc::new(PostgresStorage::open(&url).await.unwrap());
                let due_before = (pi.due_at().unwrap(), other.due_at().unwrap());
                let due = store.run_read(|tx| tx.due_pis(i64::MAX, 10)).await.unwrap();
                assert_eq!(
                    due.iter().map(|p| (p.seq, p.due_at())).collect::<Vec<_>>(),
                    vec![
                        (pi.seq, Some(due_before.0)),
                        (other.seq, Some(due_before.1))
                    ],
                    "both payments are still due, in order"
                );
                let next = store.run_read(|tx| tx.next_due()).await.unwrap();
                assert_eq!(next, Some(due_before.0.min(due_before.1)));
                let (chain, code) = pi
                    .voucher
                    .as_ref()
                    .unwrap()
                    .codes
                    .iter()
                    .next()
                    .map(|(c, code)| (*c, code.clone()))
                    .unwrap();
                use konbini_domain::Chain;
                let (taken, code2) = (other.seq, code.clone());
                let refused = store
                    .run_write(move |tx| tx.claim_code(chain, &code2, taken))
                    .await
                    .unwrap();
                assert!(!refused, "a code live in schema 8 is still payable, held");
                let free = store
                    .run_write(move |tx| tx.claim_code(Chain::Lawson, "GONE-1", taken))
                    .await
                    .unwrap();
                assert!(free, "a code dead in schema 8 is free to claim");
                let (chain_s, code3) = (chain.as_str(), code.clone());
                let found = store
                    .run_read(move |tx| tx.pi_by_code(chain_s, &code3))
                    .await
                    .unwrap();
                assert_eq!(found.map(|p| p.id), Some(pi.id.clone()));
                let held = store
                    .run_read(|tx| tx.pi_by_code("lawson", "GONE-1"))
                    .await
                    .unwrap();
                assert_eq!(
                    held.map(|p| p.id),
                    Some(other.id),
                    "the newest holder of a code is found first"
                );
            },
        );
    }

    #[test]
    fn nodes_opening_one_new_database_together_migrate_it_once_and_reopen_it() {
        on_new_db(
            "nodes_opening_one_new_database_together",
            |url| async move {
                let opens: Vec<_> = (0..3)
                    .map(|_| {
                        let url = url.clone();
                        tokio::spawn(async move { PostgresStorage::open(&url).await })
                    })
                    .collect();
                for o in opens {
                    o.await.unwrap().unwrap();
                }
                let store: Arc<dyn Storage> = Arc::new(PostgresStorage::open(&url).await.unwrap());
                store.run_write(|tx| tx.set_meta("k", "v")).await.unwrap();
                drop(store);
                let store: Arc<dyn Storage> = Arc::new(PostgresStorage::open(&url).await.unwrap());
                assert_eq!(
                    store.run_read(|tx| tx.meta("k")).await.unwrap().as_deref(),
                    Some("v")
                );
            },
        );
    }

    /// Several connections at once, each for a terminal of its own, pay the same payment:
    /// exactly one is accepted each round, and PostgreSQL made some of them run again (the
    /// rule is kept by serialization failures and retries, not by a lock in this process).
    #[test]
    fn concurrent_confirmations_are_put_in_order_by_serialization_retries() {
        on_new_db(
            "concurrent_confirmations_are_put_in_order",
            |url| async move {
                let pg = Arc::new(PostgresStorage::open(&url).await.unwrap());
                let store: Arc<dyn Storage> = pg.clone();
                let terminals = ["T01", "T02", "T03", "T04", "T05", "T06", "T07", "T08"];
                for round in 0..20 {
                    let (accepted, verdicts) = race_from(&store, 8, |i| terminals[i]).await;
                    assert_eq!(accepted, 1, "round {round}: {verdicts:?}");
                    if pg.serialization_retries() > 0 && round >= 2 {
                        break;
                    }
                }
                eprintln!(
                    "{} units ran again after a serialization failure",
                    pg.serialization_retries()
                );
                assert!(
                    pg.serialization_retries() > 0,
                    "8 units raced for one payment 20 times and none had to run again"
                );
            },
        );
    }

    /// The batches of one terminal sent on several connections at once take turns (the
    /// terminal's advisory lock, taken before each transaction begins): each begins from a
    /// snapshot that holds the one before it, so exactly one pays the payment and none
    /// loses a race and runs again.
    #[test]
    fn batches_of_one_terminal_take_turns_without_running_again() {
        on_new_db("batches_of_one_terminal_take_turns", |url| async move {
            let pg = Arc::new(PostgresStorage::open(&url).await.unwrap());
            let store: Arc<dyn Storage> = pg.clone();
            for round in 0..5 {
                let (accepted, verdicts) = race(&store, 8).await;
                assert_eq!(accepted, 1, "round {round}: {verdicts:?}");
            }
            assert_eq!(pg.serialization_retries(), 0);
            // Every turn was given back: no session of the network's holds one.
            let name = url.rsplit('/').next().unwrap().to_owned();
            let (client, conn) = tokio_postgres::connect(&url, NoTls).await.unwrap();
            let driver = tokio::spawn(conn);
            let held: i64 = client
                .query_one(
                    "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
                     WHERE l.locktype = 'advisory' AND l.granted AND a.datname = $1",
                    &[&name],
                )
                .await
                .unwrap()
                .get(0);
            assert_eq!(held, 0);
            drop(client);
            let _ = driver.await;
        });
    }

    /// A unit that meets a database error and carries on as if nothing happened does not
    /// commit: PostgreSQL aborted its transaction, and the storage says so.
    #[test]
    fn a_database_error_the_unit_ignores_still_fails_the_unit() {
        let Some(db) = TestDb::create("a_database_error_the_unit_ignores") else {
            return;
        };
        runtime().block_on(async {
            let store: Arc<dyn Storage> = Arc::new(PostgresStorage::open(&db.url).await.unwrap());
            store
                .run_write(|tx| tx.insert_chain_link("T01", 1, "a", "b"))
                .await
                .unwrap();
            let r: Result<(), StorageError> = store
                .run_write(|tx| {
                    tx.set_meta("kept", "no")?;
                    tx.flag_fork("T01", 1, "x", 0)?;
                    let slip = crate::storage::ConfirmationRecord {
                        id: "J1-1-0",
                        terminal: "T01",
                        fingerprint: "f",
                        verdict: konbini_protocol::Verdict::Accepted,
                        reason: None,
                        pi_seq: None,
                        chain: None,
                        store: "0042",
                        amount: 1,
                        paid_at: "2026-12-07T10:00:00+09:00",
                        barcode: None,
                        received_at: 0,
                    };
                    tx.insert_confirmation(&slip)?;
                    // The same (terminal, id) again, its error ignored.
                    let _ = tx.insert_confirmation(&slip);
                    Ok(())
                })
                .await;
            let e = r.unwrap_err().to_string();
            assert!(
                e.contains("PostgreSQL") && e.contains("duplicate key"),
                "{e}"
            );
            assert_eq!(store.run_read(|tx| tx.meta("kept")).await.unwrap(), None);
            assert!(
                store
                    .run_read(|tx| tx.forks("T01"))
                    .await
                    .unwrap()
                    .is_empty()
            );
        });
    }

    /// A unit whose connection is killed halfway fails with the database's message (never
    /// hangs, keeps nothing), and the next unit gets a working connection.
    #[test]
    fn a_connection_lost_mid_unit_fails_that_unit_only() {
        on_new_db("a_connection_lost_mid_unit", |url| async move {
            let store: Arc<dyn Storage> = Arc::new(
                PostgresStorage::open_with(&url, 2, POOL_WAIT)
                    .await
                    .unwrap(),
            );
            let (started, is_started) = mpsc::channel::<()>();
            let (go, wait_go) = mpsc::channel::<()>();
            let wait_go = Mutex::new(wait_go);
            let unit = {
                let store = store.clone();
                tokio::spawn(async move {
                    store
                        .run_write(move |tx| {
                            tx.set_meta("half", "1")?;
                            let _ = started.send(());
                            let _ = wait_go.lock().unwrap().recv();
                            tx.set_meta("done", "1")
                        })
                        .await
                })
            };
            tokio::task::spawn_blocking(move || is_started.recv().unwrap())
                .await
                .unwrap();
            // Kill every session of the network's on this database.
            let name = url.rsplit('/').next().unwrap().to_owned();
            raw(
                &url,
                &format!(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                     WHERE datname = '{name}' AND pid <> pg_backend_pid()"
                ),
            )
            .await;
            go.send(()).unwrap();
            let e = tokio::time::timeout(STATEMENT_TIMEOUT, unit)
                .await
                .expect("a lost connection must not hang the unit")
                .unwrap()
                .unwrap_err()
                .to_string();
            assert!(e.contains("PostgreSQL") && e.contains(&name), "{e}");
            // A dead connection may be handed out once more before the pool notices.
            let mut kept = None;
            for _ in 0..3 {
                if let Ok(v) = store.run_read(|tx| tx.meta("half")).await {
                    kept = Some(v);
                    break;
                }
            }
            assert_eq!(kept, Some(None), "nothing of the failed unit was kept");
        });
    }

    /// The units block a thread of the blocking pool on statements that the runtime's own
    /// threads carry: on a one-thread runtime too (as `#[tokio::test]` makes).
    #[tokio::test]
    async fn units_run_on_a_current_thread_runtime_too() {
        let Some(db) = TestDb::create("units_run_on_a_current_thread_runtime_too") else {
            return;
        };
        let store: Arc<dyn Storage> = Arc::new(PostgresStorage::open(&db.url).await.unwrap());
        store.run_write(|tx| tx.set_meta("k", "v")).await.unwrap();
        assert_eq!(
            store.run_read(|tx| tx.meta("k")).await.unwrap().as_deref(),
            Some("v")
        );
    }

    /// Every connection busy: a unit waits its bounded time, then fails saying why.
    #[test]
    fn an_exhausted_pool_fails_a_unit_after_a_bounded_wait() {
        on_new_db("an_exhausted_pool", |url| async move {
            let wait = Duration::from_millis(300);
            let store: Arc<dyn Storage> =
                Arc::new(PostgresStorage::open_with(&url, 1, wait).await.unwrap());
            let (started, is_started) = mpsc::channel::<()>();
            let (go, wait_go) = mpsc::channel::<()>();
            let wait_go = Mutex::new(wait_go);
            let holder = {
                let store = store.clone();
                tokio::spawn(async move {
                    store
                        .run_write(move |tx| {
                            let _ = started.send(());
                            let _ = wait_go.lock().unwrap().recv();
                            tx.set_meta("held", "1")
                        })
                        .await
                })
            };
            tokio::task::spawn_blocking(move || is_started.recv().unwrap())
                .await
                .unwrap();
            let e = store.run_read(|tx| tx.meta("held")).await.unwrap_err();
            // Retryable: the HTTP layer answers it 503 with Retry-After.
            assert!(matches!(e, StorageError::Unavailable(_)), "{e:?}");
            assert!(e.to_string().contains("pool exhausted"), "{e}");
            let answer = crate::error::ApiError::from(e);
            assert_eq!(answer.status.as_u16(), 503, "{answer:?}");
            go.send(()).unwrap();
            holder.await.unwrap().unwrap();
            assert_eq!(
                store
                    .run_read(|tx| tx.meta("held"))
                    .await
                    .unwrap()
                    .as_deref(),
                Some("1")
            );
        });
    }
}
