//! The network's SQLite store: the only code that touches the network's database.
//!
//! One connection, owned by the [`Network`](super::Network) behind a mutex: one writer, every
//! change in one `BEGIN IMMEDIATE` transaction, `journal_mode=WAL` read back at open. Commits
//! are fsynced by a [`Syncer`](crate::wal::Syncer) thread (`synchronous=NORMAL` on this
//! connection, also read back) and every answer waits for its commit's sync
//! ([`Store::ticket`]), so a stopped, killed or crashed simulator has lost nothing it answered.
//! Records are JSON documents (see `objects.rs`) beside the columns searched by.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension, Transaction, params};
use rusqlite_migration::{M, Migrations};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::objects::{
    Charge, EventRow, PaymentIntent, PiStatus, Refund, Snapshot, WebhookEndpoint,
};
use crate::domain::Chain;

const MIGRATION_FILES: &[&str] = &[
    include_str!("../../migrations/network/0001_network.sql"),
    include_str!("../../migrations/network/0002_collected_index.sql"),
];

fn migrations() -> Migrations<'static> {
    Migrations::new(MIGRATION_FILES.iter().map(|sql| M::up(sql)).collect())
}

/// The store could not be opened or used.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
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
}

/// The open store.
pub struct Store {
    /// Checkpoints the WAL off the writer's thread (none in memory); stopped before `conn`
    /// closes.
    checkpointer: Option<crate::wal::Checkpointer>,
    /// Syncs the WAL after commits (none in memory); dropped before `conn`, syncing what
    /// is left.
    syncer: Option<crate::wal::Syncer>,
    conn: Connection,
}

fn doc<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("records serialize")
}

fn undoc<T: DeserializeOwned>(text: &str) -> rusqlite::Result<T> {
    serde_json::from_str(text).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
    })
}

impl Store {
    /// Open (creating if missing) the store at `path`; `:memory:` for a throwaway one.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let p = path.display().to_string();
        let err = |source| StoreError::Sqlite {
            path: p.clone(),
            source,
        };
        let mut conn = Connection::open(path).map_err(err)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(err)?;
        crate::wal::stable_plans(&conn).map_err(err)?;
        // More distinct statements than rusqlite's default cache of 16: without room for
        // all of them, a confirmation batch re-prepares statements over and over.
        conn.set_prepared_statement_cache_capacity(128);
        let mode: String = conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))
            .map_err(err)?;
        let memory = path == Path::new(":memory:");
        if !memory && mode.to_lowercase() != "wal" {
            return Err(StoreError::Pragma {
                path: p,
                pragma: "journal_mode",
                found: mode,
                expected: "wal",
            });
        }
        // Durable all the same: see the Syncer started below.
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(err)?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(err)?;
        let sync: i64 = conn
            .pragma_query_value(None, "synchronous", |r| r.get(0))
            .map_err(err)?;
        if sync != 1 {
            return Err(StoreError::Pragma {
                path: p,
                pragma: "synchronous",
                found: sync.to_string(),
                expected: "1 (NORMAL)",
            });
        }
        migrations()
            .to_latest(&mut conn)
            .map_err(|e| StoreError::Schema {
                path: p.clone(),
                detail: e.to_string(),
            })?;
        let checkpointer =
            crate::wal::Checkpointer::start(&conn, path, "konbini-net-wal").map_err(err)?;
        // A file store has a checkpointer; one in memory has neither.
        let syncer = match checkpointer {
            Some(_) => Some(
                crate::wal::Syncer::start(path, "konbini-net-sync")
                    .map_err(|source| StoreError::Wal { path: p, source })?,
            ),
            None => None,
        };
        Ok(Store {
            checkpointer,
            syncer,
            conn,
        })
    }

    /// Tickets and waits for the syncs of this store's commits; `None` in memory, where
    /// nothing is durable and nothing waits.
    pub fn sync_handle(&self) -> Option<crate::wal::SyncHandle> {
        self.syncer.as_ref().map(|s| s.handle().clone())
    }

    /// The ticket of the last commit: an answer built from what this connection has seen
    /// is given once that ticket is synced.
    pub fn ticket(&self) -> u64 {
        self.syncer.as_ref().map_or(0, |s| s.handle().latest())
    }

    /// Start a write transaction (`BEGIN IMMEDIATE`).
    pub fn write(&mut self) -> rusqlite::Result<Tx<'_>> {
        if let Some(failed) = self.syncer.as_ref().and_then(|s| s.handle().failed()) {
            return Err(failed.into());
        }
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        Ok(Tx {
            tx,
            endpoints: std::cell::RefCell::new(None),
            checkpointer: self.checkpointer.as_ref(),
            syncer: self.syncer.as_ref(),
        })
    }

    /// A read through the same connection (reads see every committed write).
    pub fn read(&mut self) -> rusqlite::Result<Tx<'_>> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Deferred)?;
        Ok(Tx {
            tx,
            endpoints: std::cell::RefCell::new(None),
            checkpointer: None,
            syncer: None,
        })
    }
}

/// One transaction on the store, with the operations the network needs.
pub struct Tx<'a> {
    tx: Transaction<'a>,
    /// The webhook endpoints, read once per transaction for [`Tx::emit`].
    endpoints: std::cell::RefCell<Option<Vec<WebhookEndpoint>>>,
    /// Told of each commit of a write transaction.
    checkpointer: Option<&'a crate::wal::Checkpointer>,
    /// Told of each commit of a write transaction, to sync it.
    syncer: Option<&'a crate::wal::Syncer>,
}

/// A saved idempotent answer.
pub struct SavedAnswer {
    /// The parameters' fingerprint when first used.
    pub fingerprint: String,
    /// The HTTP status.
    pub status: u16,
    /// The JSON body.
    pub body: String,
}

/// A webhook delivery waiting for its time.
pub struct DueDelivery {
    /// The event's row.
    pub event_seq: i64,
    /// The endpoint.
    pub endpoint: String,
    /// Attempts so far.
    pub attempts: i64,
}

impl Tx<'_> {
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

    /// Commit: written to the WAL, synced by the sync thread. Answer only once the
    /// store's [`ticket`](Store::ticket) is synced.
    pub fn commit(self) -> rusqlite::Result<()> {
        let done = self.tx.commit();
        // A ticket even for a failed commit: SQLite may have written its frames before
        // failing, and a later read may see them. An extra sync costs little.
        if let Some(s) = self.syncer {
            s.committed();
        }
        done?;
        if let Some(c) = self.checkpointer {
            c.committed();
        }
        Ok(())
    }

    /// A meta value.
    pub fn meta(&self, key: &str) -> rusqlite::Result<Option<String>> {
        self.tx
            .prepare_cached("SELECT value FROM meta WHERE key = ?1")?
            .query_row([key], |r| r.get(0))
            .optional()
    }

    /// Set a meta value.
    pub fn set_meta(&self, key: &str, value: &str) -> rusqlite::Result<()> {
        self.tx
            .prepare_cached("INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)")?
            .execute([key, value])?;
        Ok(())
    }

    /// The next payment number.
    pub fn next_pi_seq(&self) -> rusqlite::Result<i64> {
        self.tx
            .prepare_cached("SELECT COALESCE(MAX(seq), 0) + 1 FROM payment_intents")?
            .query_row([], |r| r.get(0))
    }

    /// Insert a new PaymentIntent.
    pub fn insert_pi(&self, pi: &PaymentIntent) -> rusqlite::Result<()> {
        self.tx
            .prepare_cached(
                "INSERT INTO payment_intents (seq, id, created, due_at, doc) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![pi.seq, pi.id, pi.created, pi.due_at(), doc(pi)])?;
        Ok(())
    }

    /// Save a changed PaymentIntent; returns the stored document.
    pub fn update_pi(&self, pi: &PaymentIntent) -> rusqlite::Result<String> {
        let text = doc(pi);
        self.tx
            .prepare_cached("UPDATE payment_intents SET due_at = ?2, doc = ?3 WHERE seq = ?1")?
            .execute(params![pi.seq, pi.due_at(), text])?;
        Ok(text)
    }

    /// A PaymentIntent by id.
    pub fn pi(&self, id: &str) -> rusqlite::Result<Option<PaymentIntent>> {
        self.one_doc("SELECT doc FROM payment_intents WHERE id = ?1", id)
    }

    /// A PaymentIntent by its number.
    pub fn pi_by_seq(&self, seq: i64) -> rusqlite::Result<Option<PaymentIntent>> {
        self.one_doc("SELECT doc FROM payment_intents WHERE seq = ?1", seq)
    }

    /// PaymentIntents newest first, after (older than) `starting_after` or before (newer
    /// than) `ending_before`, at most `limit` plus one (to tell `has_more`).
    pub fn list_pis(
        &self,
        limit: i64,
        starting_after: Option<i64>,
        ending_before: Option<i64>,
    ) -> rusqlite::Result<Vec<PaymentIntent>> {
        let rows: Vec<String> = if let Some(before) = ending_before {
            let mut v: Vec<String> = self
                .tx
                .prepare_cached(
                    "SELECT doc FROM payment_intents WHERE seq > ?1 ORDER BY seq ASC LIMIT ?2",
                )?
                .query_map(params![before, limit + 1], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            v.reverse();
            v
        } else {
            self.tx
                .prepare_cached(
                    "SELECT doc FROM payment_intents WHERE seq < ?1 ORDER BY seq DESC LIMIT ?2",
                )?
                .query_map(
                    params![starting_after.unwrap_or(i64::MAX), limit + 1],
                    |r| r.get(0),
                )?
                .collect::<Result<_, _>>()?
        };
        rows.iter().map(|t| undoc(t)).collect()
    }

    /// PaymentIntents the scheduler must look at by `now`.
    pub fn due_pis(&self, now: i64, limit: i64) -> rusqlite::Result<Vec<PaymentIntent>> {
        self.docs(
            "SELECT doc FROM payment_intents WHERE due_at <= ?1 ORDER BY due_at LIMIT ?2",
            params![now, limit],
        )
    }

    /// The earliest time any payment or refund is due.
    pub fn next_due(&self) -> rusqlite::Result<Option<i64>> {
        self.tx
            .prepare_cached(
                "SELECT MIN(t) FROM (SELECT MIN(due_at) AS t FROM payment_intents WHERE due_at IS NOT NULL
                 UNION ALL SELECT MIN(due_at) FROM refunds WHERE due_at IS NOT NULL)",
            )?
            .query_row([], |r| r.get(0))
    }

    /// Claim a payment code for a chain; false when a payable payment holds it.
    pub fn claim_code(&self, chain: Chain, code: &str, pi_seq: i64) -> rusqlite::Result<bool> {
        let holders: Vec<i64> = self
            .tx
            .prepare_cached("SELECT pi_seq FROM payment_codes WHERE chain = ?1 AND code = ?2")?
            .query_map([chain.as_str(), code], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        for seq in holders {
            if let Some(pi) = self.pi_by_seq(seq)?
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
    }

    /// The payment a chain's code names: the one whose live voucher carries it, else its
    /// latest holder (to say why it is no longer payable).
    pub fn pi_by_code(&self, chain: &str, code: &str) -> rusqlite::Result<Option<PaymentIntent>> {
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
            let Some(pi) = self.pi_by_seq(seq)? else {
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
    }

    /// Insert a charge.
    pub fn insert_charge(&self, pi_seq: i64, charge: &Charge) -> rusqlite::Result<String> {
        let text = doc(charge);
        self.tx
            .prepare_cached(
                "INSERT INTO charges (id, txn_id, pi_seq, doc) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![charge.id, charge.balance_transaction, pi_seq, text])?;
        Ok(text)
    }

    /// Save a changed charge.
    pub fn update_charge(&self, charge: &Charge) -> rusqlite::Result<()> {
        self.tx
            .prepare_cached("UPDATE charges SET doc = ?2 WHERE id = ?1")?
            .execute(params![charge.id, doc(charge)])?;
        Ok(())
    }

    /// A charge by id.
    pub fn charge(&self, id: &str) -> rusqlite::Result<Option<Charge>> {
        self.one_doc("SELECT doc FROM charges WHERE id = ?1", id)
    }

    /// A charge by its balance transaction's id.
    pub fn charge_by_txn(&self, txn: &str) -> rusqlite::Result<Option<Charge>> {
        self.one_doc("SELECT doc FROM charges WHERE txn_id = ?1", txn)
    }

    /// Insert a refund.
    pub fn insert_refund(&self, pi_seq: i64, refund: &Refund) -> rusqlite::Result<()> {
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
    }

    /// Save a changed refund.
    pub fn update_refund(&self, refund: &Refund) -> rusqlite::Result<()> {
        self.tx
            .prepare_cached("UPDATE refunds SET due_at = ?2, doc = ?3 WHERE id = ?1")?
            .execute(params![refund.id, refund.due_at(), doc(refund)])?;
        Ok(())
    }

    /// A refund by id.
    pub fn refund(&self, id: &str) -> rusqlite::Result<Option<Refund>> {
        self.one_doc("SELECT doc FROM refunds WHERE id = ?1", id)
    }

    /// A refund by its bank-details page token.
    pub fn refund_by_token(&self, token: &str) -> rusqlite::Result<Option<Refund>> {
        self.one_doc(
            "SELECT doc FROM refunds WHERE json_extract(doc, '$.token') = ?1",
            token,
        )
    }

    /// Every refund of a payment.
    pub fn refunds_of(&self, pi_seq: i64) -> rusqlite::Result<Vec<Refund>> {
        self.docs(
            "SELECT doc FROM refunds WHERE pi_seq = ?1 ORDER BY seq",
            [pi_seq],
        )
    }

    /// Refunds due by `now`.
    pub fn due_refunds(&self, now: i64, limit: i64) -> rusqlite::Result<Vec<Refund>> {
        self.docs(
            "SELECT doc FROM refunds WHERE due_at <= ?1 ORDER BY due_at LIMIT ?2",
            params![now, limit],
        )
    }

    /// The PaymentIntent a voucher token belongs to.
    pub fn pi_by_voucher(&self, token: &str) -> rusqlite::Result<Option<PaymentIntent>> {
        self.one_doc(
            "SELECT doc FROM payment_intents WHERE json_extract(doc, '$.voucher.token') = ?1",
            token,
        )
    }

    /// Record an event about `object` as it is now, and queue it for every endpoint that
    /// wants it.
    pub fn emit(
        &self,
        event_type: &str,
        created: i64,
        object: Snapshot<'_>,
    ) -> rusqlite::Result<()> {
        let event_id = super::ids::new_id("evt");
        self.tx
            .prepare_cached(
                "INSERT INTO events (id, type, created, kind, doc) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![
                event_id,
                event_type,
                created,
                object.kind(),
                object.doc()
            ])?;
        let seq = self.tx.last_insert_rowid();
        if self.endpoints.borrow().is_none() {
            *self.endpoints.borrow_mut() = Some(self.endpoints()?);
        }
        let cached = self.endpoints.borrow();
        for ep in cached.iter().flatten() {
            if ep.wants(event_type) {
                self.tx
                    .prepare_cached(
                        "INSERT INTO deliveries (event_seq, endpoint, next_at) VALUES (?1, ?2, ?3)",
                    )?
                    .execute(params![seq, ep.id, created])?;
            }
        }
        Ok(())
    }

    fn event_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<EventRow> {
        Ok(EventRow {
            id: r.get(0)?,
            event_type: r.get(1)?,
            created: r.get(2)?,
            kind: r.get(3)?,
            doc: r.get(4)?,
        })
    }

    /// Events newest first, optionally of one type, after (older than) `starting_after`, at
    /// most `limit` plus one (to tell `has_more`).
    pub fn list_events(
        &self,
        limit: i64,
        starting_after: Option<&str>,
        event_type: Option<&str>,
    ) -> rusqlite::Result<Vec<EventRow>> {
        let after: i64 = match starting_after {
            Some(id) => self
                .tx
                .prepare_cached("SELECT seq FROM events WHERE id = ?1")?
                .query_row([id], |r| r.get(0))
                .optional()?
                .unwrap_or(i64::MAX),
            None => i64::MAX,
        };
        self.tx
            .prepare_cached(
                "SELECT id, type, created, kind, doc FROM events WHERE seq < ?1 AND (?2 IS NULL OR type = ?2)
                 ORDER BY seq DESC LIMIT ?3",
            )?
            .query_map(params![after, event_type, limit + 1], Tx::event_row)?
            .collect()
    }

    /// One event by id.
    pub fn event(&self, id: &str) -> rusqlite::Result<Option<EventRow>> {
        self.tx
            .prepare_cached("SELECT id, type, created, kind, doc FROM events WHERE id = ?1")?
            .query_row([id], Tx::event_row)
            .optional()
    }

    /// Insert a webhook endpoint.
    pub fn insert_endpoint(&self, ep: &WebhookEndpoint) -> rusqlite::Result<()> {
        self.tx
            .prepare_cached("INSERT INTO webhook_endpoints (id, created, doc) VALUES (?1, ?2, ?3)")?
            .execute(params![ep.id, ep.created, doc(ep)])?;
        *self.endpoints.borrow_mut() = None;
        Ok(())
    }

    /// Delete a webhook endpoint and its undelivered events; true if it existed.
    pub fn delete_endpoint(&self, id: &str) -> rusqlite::Result<bool> {
        self.tx
            .prepare_cached("DELETE FROM deliveries WHERE endpoint = ?1 AND delivered = 0")?
            .execute([id])?;
        let n = self
            .tx
            .prepare_cached("DELETE FROM webhook_endpoints WHERE id = ?1")?
            .execute([id])?;
        *self.endpoints.borrow_mut() = None;
        Ok(n == 1)
    }

    /// Every webhook endpoint, oldest first.
    pub fn endpoints(&self) -> rusqlite::Result<Vec<WebhookEndpoint>> {
        self.docs("SELECT doc FROM webhook_endpoints ORDER BY created, id", [])
    }

    /// One webhook endpoint.
    pub fn endpoint(&self, id: &str) -> rusqlite::Result<Option<WebhookEndpoint>> {
        self.one_doc("SELECT doc FROM webhook_endpoints WHERE id = ?1", id)
    }

    /// Deliveries due by `now`.
    pub fn due_deliveries(&self, now: i64, limit: i64) -> rusqlite::Result<Vec<DueDelivery>> {
        self.tx
            .prepare_cached(
                "SELECT event_seq, endpoint, attempts FROM deliveries
                 WHERE delivered = 0 AND next_at <= ?1 ORDER BY next_at, event_seq LIMIT ?2",
            )?
            .query_map(params![now, limit], |r| {
                Ok(DueDelivery {
                    event_seq: r.get(0)?,
                    endpoint: r.get(1)?,
                    attempts: r.get(2)?,
                })
            })?
            .collect()
    }

    /// The earliest undelivered delivery's time.
    pub fn next_delivery(&self) -> rusqlite::Result<Option<i64>> {
        self.tx
            .prepare_cached("SELECT MIN(next_at) FROM deliveries WHERE delivered = 0")?
            .query_row([], |r| r.get(0))
    }

    /// An event by row.
    pub fn event_by_seq(&self, seq: i64) -> rusqlite::Result<Option<EventRow>> {
        self.tx
            .prepare_cached("SELECT id, type, created, kind, doc FROM events WHERE seq = ?1")?
            .query_row([seq], Tx::event_row)
            .optional()
    }

    /// Record a delivery attempt's outcome.
    pub fn delivery_done(
        &self,
        d: &DueDelivery,
        delivered: bool,
        status: Option<u16>,
        error: Option<&str>,
        next_at: i64,
    ) -> rusqlite::Result<()> {
        self.tx
            .prepare_cached(
                "UPDATE deliveries SET delivered = ?3, attempts = attempts + 1, last_status = ?4,
                 last_error = ?5, next_at = ?6 WHERE event_seq = ?1 AND endpoint = ?2",
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
    }

    /// Deliveries of every event: (event id, endpoint, delivered, attempts).
    pub fn delivery_report(&self) -> rusqlite::Result<Vec<(String, String, bool, i64)>> {
        self.tx
            .prepare_cached(
                "SELECT e.id, d.endpoint, d.delivered, d.attempts FROM deliveries d
                 JOIN events e ON e.seq = d.event_seq ORDER BY d.event_seq",
            )?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
            .collect()
    }

    /// A saved idempotent answer.
    pub fn idempotent(&self, key: &str) -> rusqlite::Result<Option<SavedAnswer>> {
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
    }

    /// Save an answer under an idempotency key.
    pub fn save_idempotent(
        &self,
        key: &str,
        fingerprint: &str,
        status: u16,
        body: &str,
        now: i64,
    ) -> rusqlite::Result<()> {
        self.tx
            .prepare_cached(
                "INSERT OR REPLACE INTO idempotency (key, fingerprint, status, body, created)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![key, fingerprint, status, body, now])?;
        Ok(())
    }

    /// Forget idempotency keys older than `before` (Stripe prunes after 24 h).
    pub fn prune_idempotency(&self, before: i64) -> rusqlite::Result<usize> {
        self.tx
            .prepare_cached("DELETE FROM idempotency WHERE created < ?1")?
            .execute([before])
    }

    /// The raw connection, for the terminal API's own statements (`terminal.rs`).
    pub fn conn(&self) -> &Transaction<'_> {
        &self.tx
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_valid() {
        migrations().validate().unwrap();
    }

    #[test]
    fn pragmas_are_read_back_on_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("net.db");
        let mut store = Store::open(&path).unwrap();
        let tx = store.read().unwrap();
        let mode: String = tx
            .conn()
            .pragma_query_value(None, "journal_mode", |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        drop(tx);
        drop(store);
        // Reopening an existing store works and keeps its data.
        let mut store = Store::open(&path).unwrap();
        let tx = store.write().unwrap();
        tx.set_meta("k", "v").unwrap();
        tx.commit().unwrap();
        drop(store);
        let mut store = Store::open(&path).unwrap();
        assert_eq!(
            store.read().unwrap().meta("k").unwrap().as_deref(),
            Some("v")
        );
    }
}
