//! `konbini network`: the payment network simulator that registers confirm to and merchants
//! integrate with (`docs/terminal-api.md`; the merchant API is Stripe's shape).
//!
//! - `http/`: the axum router, one module per resource. The merchant API is a
//!   Stripe-compatible subset (form bodies with bracket nesting, bearer keys, Stripe-shaped
//!   errors, idempotency keys) so the official Stripe libraries work against it; the
//!   terminal API is signed JSON (`konbini-protocol`).
//! - `payments.rs`: the konbini rules and the life of a payment and its refunds.
//! - `checkout.rs`: Checkout Sessions and Payment Links (the hosted checkout page's rules).
//! - `terminal.rs`: look-ups, confirmations, each terminal's journal chain.
//! - `webhooks.rs`: Stripe-signed event delivery from an outbox, with backoff.
//! - `voucher.rs`: the hosted voucher page with its GS1-128 barcode in SVG.
//! - `storage/`: the [`Storage`](storage::Storage) trait every rule reads and writes
//!   through, and its backends (`storage/sqlite/`, the only code that names SQLite).
//! - `clock.rs`, `business_days.rs`: the one movable clock; payout dates.
//!
//! Every unit of work runs in one storage transaction and is answered only once what it
//! could have seen is durable. Confirmation batches are grouped writes: the storage may
//! commit several terminals' batches together (the SQLite backend does, with one fsync).
//! The network never depends on the register, its journal or its UI.
#![recursion_limit = "256"]

pub mod business_days;
pub mod catalog;
pub mod checkout;
pub mod clock;
pub mod customers;
pub mod error;
pub mod form;
mod http;
pub mod ids;
pub mod objects;
pub mod payments;
pub mod search;
pub mod storage;
pub mod terminal;
pub mod voucher;
pub mod webhooks;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use clock::Clock;
pub use http::server::{DEFAULT_MAX_CONNECTIONS, MAX_HEAD_BYTES, ServerLimits};
pub use storage::{OpenStorageError, open_storage};
use storage::{SqliteStorage, Storage, StorageError, sqlite::OpenError};

/// The network's company code in the bill barcodes it issues (the biller field). Slips of
/// other company codes are other billers' and are collected on their behalf.
pub const DEFAULT_COMPANY_CODE: &str = "958001";
/// How long after a voucher's deadline a store's confirmation is still credited, and when
/// the payment is failed (Stripe: "typically about an hour").
pub const DEFAULT_EXPIRY_GRACE_SECONDS: i64 = 3600;
/// Largest merchant API body.
pub const MAX_MERCHANT_BODY_BYTES: usize = 64 * 1024;

/// How the network is set up.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The merchant's secret key (`sk_test_...`).
    pub api_key: String,
    /// The merchant's publishable key (`pk_test_...`): what a page's Stripe.js sends. It may
    /// only read and confirm a PaymentIntent whose `client_secret` it holds
    /// (`http/publishable.rs`).
    pub publishable_key: String,
    /// Terminal id -> shared secret.
    pub terminals: HashMap<String, String>,
    /// Six digits: the biller code in this network's barcodes.
    pub company_code: String,
    /// The merchant's name, as registers show it.
    pub merchant_name: String,
    /// `http://host:port` as customers reach the voucher pages.
    pub public_url: String,
    /// See [`DEFAULT_EXPIRY_GRACE_SECONDS`].
    pub expiry_grace_seconds: i64,
    /// Stripe test mode's "any email succeeds after 3 minutes". Off by default: this
    /// network's payments are paid by registers.
    pub test_autopay: bool,
    /// Where webhook endpoints may point: anywhere (a developer's laptop, the default), or
    /// only public addresses (a network shared by a team). See [`webhooks::targets`].
    pub webhook_targets: webhooks::targets::WebhookTargets,
    /// How long one webhook delivery may take, connecting included, before it counts as
    /// failed and is retried ([`webhooks::DEFAULT_DELIVERY_TIMEOUT`] by default). A
    /// delivery's claim outlasts it by 5 s (see `webhooks::claim_seconds`).
    pub webhook_timeout: std::time::Duration,
    /// What one peer may take of the server: connections, header and body timeouts.
    pub limits: ServerLimits,
}

impl Settings {
    /// Settings with the defaults and this secret key; the publishable key is
    /// [`publishable_key_for`] it.
    pub fn new(api_key: &str) -> Settings {
        Settings {
            api_key: api_key.to_owned(),
            publishable_key: publishable_key_for(api_key),
            terminals: HashMap::new(),
            company_code: DEFAULT_COMPANY_CODE.to_owned(),
            merchant_name: "Konbini Demo Shop".to_owned(),
            public_url: String::new(),
            expiry_grace_seconds: DEFAULT_EXPIRY_GRACE_SECONDS,
            test_autopay: false,
            webhook_targets: webhooks::targets::WebhookTargets::Any,
            webhook_timeout: webhooks::DEFAULT_DELIVERY_TIMEOUT,
            limits: ServerLimits::default(),
        }
    }
}

/// The publishable key that goes with a secret key by default: `sk_test_X` gives
/// `pk_test_X` (`sk_live_X`, `pk_live_X`); any other key `K` gives `pk_test_K`.
pub fn publishable_key_for(secret_key: &str) -> String {
    match secret_key.strip_prefix("sk_") {
        Some(rest) if !rest.is_empty() => format!("pk_{rest}"),
        _ => format!("pk_test_{secret_key}"),
    }
}

/// Why a publishable key cannot be used.
pub fn check_publishable_key(key: &str, secret_key: &str) -> Result<(), String> {
    if !key.starts_with("pk_") || key.len() < 4 {
        return Err(format!(
            "{key:?} is not a publishable key: it must start with pk_ (pk_test_...)"
        ));
    }
    if !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(format!(
            "{key:?} is not a publishable key: only visible ASCII characters may be used"
        ));
    }
    if key == secret_key {
        return Err("the publishable key must differ from the secret key".to_owned());
    }
    Ok(())
}

/// A running network's state.
pub struct Network {
    settings: Settings,
    /// The one clock.
    pub clock: Clock,
    storage: Arc<dyn Storage>,
    wake_webhooks: Notify,
    wake_scheduler: Notify,
    /// Terminal uploads being read, per terminal.
    uploads: http::Uploads,
    /// Confirmations this node has judged since it started (`/health` says).
    pub(crate) confirmations_seen: std::sync::atomic::AtomicU64,
    /// Terminals registered in the store, as last read: (secret or none, when read).
    terminal_cache: std::sync::Mutex<HashMap<String, KnownTerminal>>,
}

/// A terminal as the store last said: its secret (none: unknown), and when that was read.
type KnownTerminal = (Option<Arc<str>>, std::time::Instant);

/// How long a terminal read from the store is believed before it is read again (another
/// node may have registered it or changed its secret).
const TERMINAL_KNOWN_FOR: Duration = Duration::from_secs(60);
/// How long an unknown terminal is believed unknown: a stranger's guesses cost the store at
/// most one read per id per this long.
const TERMINAL_UNKNOWN_FOR: Duration = Duration::from_secs(2);
/// Terminals remembered at most; past it, the unknown ones are forgotten.
const TERMINAL_CACHE_MAX: usize = 100_000;

/// Where the clock's offset is kept in the storage.
pub(crate) const CLOCK_META_KEY: &str = "clock_offset_ms";

/// The network could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Its SQLite store could not be opened.
    #[error(transparent)]
    Open(#[from] OpenError),
    /// Its storage failed at the first read.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// Its store (SQLite or PostgreSQL) could not be opened.
    #[error(transparent)]
    OpenStorage(#[from] OpenStorageError),
}

impl Network {
    /// Open the network's store named by `db` (a SQLite path, created if missing, or a
    /// `postgres://` URL) and resume its clock.
    pub async fn open_db(db: &str, settings: Settings) -> Result<Arc<Network>, StartError> {
        let storage = open_storage(db).await?;
        Ok(Network::start(storage, settings).await?)
    }

    /// Open the network's SQLite store at `db` (created if missing) and resume its clock.
    pub async fn open(db: &Path, settings: Settings) -> Result<Arc<Network>, StartError> {
        let db = db.to_owned();
        let storage = tokio::task::spawn_blocking(move || SqliteStorage::open(&db))
            .await
            .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))?;
        Ok(Network::start(Arc::new(storage), settings).await?)
    }

    /// The network over `storage`, its clock resumed from it.
    pub async fn start(
        storage: Arc<dyn Storage>,
        settings: Settings,
    ) -> Result<Arc<Network>, StorageError> {
        let offset = storage
            .run_read(|tx| tx.meta(CLOCK_META_KEY))
            .await?
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let net = Arc::new(Network {
            settings,
            clock: Clock::with_offset_ms(offset),
            storage,
            wake_webhooks: Notify::new(),
            wake_scheduler: Notify::new(),
            uploads: http::Uploads::default(),
            terminal_cache: std::sync::Mutex::new(HashMap::new()),
            confirmations_seen: std::sync::atomic::AtomicU64::new(0),
        });
        // The base before the first request: a few exchanges, one quick one is enough.
        if net.storage.shared() {
            for _ in 0..3 {
                let n = net.clone();
                net.storage()
                    .run_read(move |tx| n.note_server_time(tx))
                    .await?;
            }
        }
        Ok(net)
    }

    /// The settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The storage.
    pub fn storage(&self) -> &dyn Storage {
        &*self.storage
    }

    /// Now (Unix seconds), inside a unit of work: over a store that several nodes share, the
    /// clock's offset is first read from the store in `tx` (a move made at another node holds
    /// at once) and the time counted from the value read; on a SQLite store, which one
    /// process owns, the node's own clock.
    pub(crate) fn now_in(&self, tx: &dyn storage::Tx) -> Result<i64, StorageError> {
        let stored = if self.storage.shared() {
            tx.meta(CLOCK_META_KEY)?.and_then(|v| v.parse::<i64>().ok())
        } else {
            None
        };
        Ok(self.now_from(stored))
    }

    /// Now (Unix seconds), counted from `stored`, the offset just read from the store where
    /// there is one (kept for the scheduler and the webhook workers too); else the node's
    /// own clock.
    pub(crate) fn now_from(&self, stored: Option<i64>) -> i64 {
        match stored {
            Some(offset) => {
                self.clock.set_offset_ms(offset);
                self.clock.now_with(offset).timestamp()
            }
            None => self.clock.unix(),
        }
    }

    /// Now (Unix seconds), for a request whose work does not run in one unit that could
    /// read it: as [`Network::now_in`], with a small read of its own over a shared store. A
    /// failed read leaves the node's own clock: the request's own reads meet the same
    /// failure and answer it.
    pub(crate) async fn now_synced(&self) -> i64 {
        if !self.storage.shared() {
            return self.clock.unix();
        }
        let stored = self
            .storage()
            .run_read(|tx| {
                Ok::<_, StorageError>(tx.meta(CLOCK_META_KEY)?.and_then(|v| v.parse::<i64>().ok()))
            })
            .await;
        self.now_from(stored.ok().flatten())
    }

    /// Measure the database server's time against this machine's (see [`clock`]).
    fn note_server_time(&self, tx: &dyn storage::Tx) -> Result<(), StorageError> {
        let asked = chrono::Utc::now().timestamp_millis();
        if let Some(server) = tx.database_now_ms()? {
            let answered = chrono::Utc::now().timestamp_millis();
            self.clock.note_server_time(server, asked, answered);
        }
        Ok(())
    }

    /// A terminal's shared secret: from `--terminal ID=SECRET`, else registered in the store
    /// (by any node), read through a short cache.
    pub async fn terminal_secret(&self, id: &str) -> Result<Option<Arc<str>>, StorageError> {
        if let Some(s) = self.settings.terminals.get(id) {
            return Ok(Some(Arc::from(s.as_str())));
        }
        {
            let cache = self
                .terminal_cache
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            if let Some((secret, at)) = cache.get(id) {
                let fresh = if secret.is_some() {
                    TERMINAL_KNOWN_FOR
                } else {
                    TERMINAL_UNKNOWN_FOR
                };
                if at.elapsed() < fresh {
                    return Ok(secret.clone());
                }
            }
        }
        self.read_terminal(id).await
    }

    /// A terminal's secret as the store has it now, remembered.
    async fn read_terminal(&self, id: &str) -> Result<Option<Arc<str>>, StorageError> {
        let key = id.to_owned();
        let secret = self
            .storage()
            .run_read(move |tx| tx.terminal_secret(&key))
            .await?
            .map(Arc::from);
        self.remember_terminal(id, secret.clone());
        Ok(secret)
    }

    /// After a signature failed under the cached secret of a terminal registered in the
    /// store: the store's secret now, if what the cache holds was read more than
    /// [`TERMINAL_UNKNOWN_FOR`] ago (another node may have given the terminal a new secret
    /// since). `None` when there is nothing newer to try: a terminal of the flags, a store
    /// no other node writes (this node's cache is then the store's word), one read just now,
    /// or a read that failed. The entry is stamped before the read, so requests at once
    /// do not each read: a stranger's bad signatures cost the store at most one read per
    /// terminal per that long.
    pub async fn terminal_secret_again(&self, id: &str) -> Option<Arc<str>> {
        if self.settings.terminals.contains_key(id) || !self.storage.shared() {
            return None;
        }
        {
            let mut cache = self
                .terminal_cache
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            match cache.get_mut(id) {
                Some((_, at)) if at.elapsed() < TERMINAL_UNKNOWN_FOR => return None,
                Some((_, at)) => *at = std::time::Instant::now(),
                None => {}
            }
        }
        self.read_terminal(id).await.ok().flatten()
    }

    /// Note what the store says of a terminal.
    pub(crate) fn remember_terminal(&self, id: &str, secret: Option<Arc<str>>) {
        let mut cache = self
            .terminal_cache
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if cache.len() >= TERMINAL_CACHE_MAX {
            cache.retain(|_, (s, _)| s.is_some());
        }
        cache.insert(id.to_owned(), (secret, std::time::Instant::now()));
    }

    fn wake(&self, scheduler: bool, webhooks: bool) {
        if scheduler {
            self.wake_scheduler.notify_one();
        }
        if webhooks {
            self.wake_webhooks.notify_one();
        }
    }
}

/// Serve the network on `listener` until `cancel`, with its scheduler and webhook delivery.
pub async fn serve(
    net: Arc<Network>,
    listener: tokio::net::TcpListener,
    cancel: CancellationToken,
) -> std::io::Result<()> {
    let tasks = [
        tokio::spawn(scheduler(net.clone(), cancel.clone())),
        tokio::spawn(webhooks::run(net.clone(), cancel.clone())),
    ];
    let limits = net.settings.limits;
    let app = http::router(net);
    let served = http::server::serve(listener, app, limits, cancel.clone()).await;
    cancel.cancel();
    for t in tasks {
        let _ = t.await;
    }
    served
}

/// Expire vouchers, run test-mode outcomes and refund deadlines when they fall due.
async fn scheduler(net: Arc<Network>, cancel: CancellationToken) {
    let mut last_prune: Option<std::time::Instant> = None;
    loop {
        let notified = net.wake_scheduler.notified();
        // Old idempotency keys are a scan of their table: once a minute is plenty.
        let prune = last_prune.is_none_or(|t| t.elapsed() >= Duration::from_secs(60));
        if prune {
            last_prune = Some(std::time::Instant::now());
        }
        let n = net.clone();
        let ran = net
            .storage()
            .run_write(move |tx| {
                // The clock is shared through the store: a move made on another node over
                // the same database reaches this one here, within a second (and each
                // request reads it: `now_in`); and the base is the database server's
                // time when this machine's is far from it.
                if let Some(offset) = tx.meta(CLOCK_META_KEY)?.and_then(|v| v.parse().ok())
                    && offset != n.clock.offset_ms()
                {
                    n.clock.set_offset_ms(offset);
                }
                n.note_server_time(tx)?;
                let now = n.clock.unix();
                let changed = payments::run_due(tx, now)?;
                if prune {
                    tx.prune_idempotency(now - 86_400)?;
                }
                Ok::<_, error::ApiError>(changed)
            })
            .await;
        match ran {
            Ok(changed) if changed > 0 => {
                net.wake(false, true);
                continue;
            }
            Ok(_) => {}
            Err(e) => eprintln!("konbini network: scheduler: {}", e.message),
        }
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = notified => {}
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_publishable_key_is_the_secret_keys_with_pk() {
        assert_eq!(publishable_key_for("sk_test_konbini"), "pk_test_konbini");
        assert_eq!(publishable_key_for("sk_live_abc"), "pk_live_abc");
        assert_eq!(publishable_key_for("secret"), "pk_test_secret");
        assert_eq!(Settings::new("sk_test_it").publishable_key, "pk_test_it");
    }

    #[test]
    fn a_publishable_key_must_look_like_one_and_differ_from_the_secret_key() {
        assert_eq!(
            check_publishable_key("pk_test_shop", "sk_test_shop"),
            Ok(())
        );
        for bad in ["sk_test_shop", "pk_", "pk_test_a b", "pk_test_ü", ""] {
            let e = check_publishable_key(bad, "sk_test_shop").unwrap_err();
            assert!(e.contains("not a publishable key"), "{bad}: {e}");
        }
        let e = check_publishable_key("pk_same", "pk_same").unwrap_err();
        assert!(e.contains("differ from the secret key"), "{e}");
    }
}
