//! `konbini network`: the payment network simulator that registers confirm to and merchants
//! integrate with (spec/network-api.md).
//!
//! - `http.rs`: the axum router. The merchant API is a Stripe-compatible subset (form
//!   bodies with bracket nesting, bearer keys, Stripe-shaped errors, idempotency keys) so
//!   the official Stripe libraries work against it; the terminal API is signed JSON.
//! - `payments.rs`: the konbini rules and the life of a payment and its refunds.
//! - `terminal.rs`: signatures, look-ups, confirmations, each terminal's journal chain.
//! - `webhooks.rs`: Stripe-signed event delivery from an outbox, with backoff.
//! - `voucher.rs`: the hosted voucher page with its GS1-128 barcode in SVG.
//! - `store.rs`: the SQLite store, the only code touching the network's database.
//! - `clock.rs`, `business_days.rs`: the one movable clock; payout dates.
//! - `embedded.rs`: the in-process network the register UI starts when no upstream is
//!   configured, and the demo payments made through its merchant API.
//!
//! The network owns one store connection behind a mutex: one writer, so concurrent
//! confirmations of one payment are decided one after the other. Store work runs on
//! tokio's blocking pool and never holds the lock across an await. Commits are synced by a
//! thread of their own ([`crate::wal::Syncer`]); every answer waits, outside the lock, for
//! the sync of the last commit it could have seen.

pub mod business_days;
pub mod clock;
pub mod embedded;
pub mod error;
pub mod form;
mod http;
pub mod ids;
pub mod objects;
pub mod payments;
pub mod store;
pub mod terminal;
pub mod voucher;
pub mod webhooks;

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use clock::Clock;
use store::{Store, StoreError};

/// The network's company code in the bill barcodes it issues (the biller field). Slips of
/// other company codes are other billers' and are collected on their behalf.
pub const DEFAULT_COMPANY_CODE: &str = "958001";
/// How long after a voucher's deadline a store's confirmation is still credited, and when
/// the payment is failed (Stripe: "typically about an hour").
pub const DEFAULT_EXPIRY_GRACE_SECONDS: i64 = 3600;
/// Largest merchant API body.
pub const MAX_MERCHANT_BODY_BYTES: usize = 64 * 1024;
/// Largest terminal API body (500 confirmations of about 400 bytes, with room).
pub const MAX_TERMINAL_BODY_BYTES: usize = 1024 * 1024;

/// How the network is set up.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The merchant's secret key (`sk_test_...`).
    pub api_key: String,
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
}

impl Settings {
    /// Settings with the defaults and this key.
    pub fn new(api_key: &str) -> Settings {
        Settings {
            api_key: api_key.to_owned(),
            terminals: HashMap::new(),
            company_code: DEFAULT_COMPANY_CODE.to_owned(),
            merchant_name: "Konbini Demo Shop".to_owned(),
            public_url: String::new(),
            expiry_grace_seconds: DEFAULT_EXPIRY_GRACE_SECONDS,
            test_autopay: false,
        }
    }
}

/// A running network's state.
pub struct Network {
    settings: Settings,
    /// The one clock.
    pub clock: Clock,
    store: Mutex<Store>,
    /// The store's commit syncs (none in memory).
    sync: Option<crate::wal::SyncHandle>,
    /// Shared with the answers the sync thread sends (which must not own the network).
    wake_webhooks: Arc<Notify>,
    wake_scheduler: Notify,
    /// Confirmation batches waiting for the confirmer (group commit).
    confirm_tx: std::sync::mpsc::SyncSender<ConfirmJob>,
    confirm_rx: Mutex<Option<std::sync::mpsc::Receiver<ConfirmJob>>>,
}

/// One terminal's parsed batch, and where its answer goes.
struct ConfirmJob {
    terminal: String,
    items: Vec<terminal::Parsed>,
    reply: tokio::sync::oneshot::Sender<Result<Vec<terminal::Outcome>, error::TerminalError>>,
}

/// Most batches committed together.
const GROUP_COMMIT_MAX_BATCHES: usize = 16;

const CLOCK_META_KEY: &str = "clock_offset_ms";

impl Network {
    /// Open the network's store (created if missing) and resume its clock.
    pub fn open(db: &Path, settings: Settings) -> Result<Arc<Network>, StoreError> {
        let mut store = Store::open(db)?;
        let offset = {
            let tx = store.read().map_err(|source| StoreError::Sqlite {
                path: db.display().to_string(),
                source,
            })?;
            tx.meta(CLOCK_META_KEY)
                .ok()
                .flatten()
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        };
        let (confirm_tx, confirm_rx) = std::sync::mpsc::sync_channel(256);
        let sync = store.sync_handle();
        Ok(Arc::new(Network {
            sync,
            confirm_tx,
            confirm_rx: Mutex::new(Some(confirm_rx)),
            settings,
            clock: Clock::with_offset_ms(offset),
            store: Mutex::new(store),
            wake_webhooks: Arc::new(Notify::new()),
            wake_scheduler: Notify::new(),
        }))
    }

    /// The settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Run `f` with the store (blocking: call from the blocking pool), and return once
    /// every commit it could have seen is synced.
    pub fn with_store<T, E: From<rusqlite::Error>>(
        &self,
        f: impl FnOnce(&mut Store) -> Result<T, E>,
    ) -> Result<T, E> {
        let (out, ticket) = self.locked(f);
        self.synced(ticket)?;
        out
    }

    /// Run `f` with the store under its lock; also the ticket of the last commit `f` could
    /// have seen. Nothing may be answered from `f`'s result before that ticket is synced.
    fn locked<R>(&self, f: impl FnOnce(&mut Store) -> R) -> (R, u64) {
        let mut store = self.store.lock().unwrap_or_else(|e| e.into_inner());
        let out = f(&mut store);
        (out, store.ticket())
    }

    /// Wait for commit `ticket`'s sync.
    fn synced(&self, ticket: u64) -> rusqlite::Result<()> {
        match &self.sync {
            Some(h) => h.wait(ticket).map_err(Into::into),
            None => Ok(()),
        }
    }

    /// Run `f` with the store on tokio's blocking pool, never on an async worker (the
    /// store's lock can be held through a commit, and the answer waits for its sync).
    async fn on_store<T: Send + 'static, E: From<rusqlite::Error> + Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&Network, &mut Store) -> Result<T, E> + Send + 'static,
    ) -> Result<T, E> {
        let net = self.clone();
        tokio::task::spawn_blocking(move || net.with_store(|store| f(&net, store)))
            .await
            .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))
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
    let Some(rx) = net
        .confirm_rx
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take()
    else {
        return Err(std::io::Error::other(
            "this network is already being served",
        ));
    };
    let confirmer = {
        let n = net.clone();
        std::thread::Builder::new()
            .name("konbini-confirm".into())
            .spawn(move || confirmer(n, rx))?
    };
    let tasks = [
        tokio::spawn(scheduler(net.clone(), cancel.clone())),
        tokio::spawn(webhooks::run(net.clone(), cancel.clone())),
    ];
    let app = http::router(net);
    let shutdown = cancel.clone();
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await;
    cancel.cancel();
    for t in tasks {
        let _ = t.await;
    }
    // The router (and its senders) are gone; the confirmer ends when the channel closes
    // or, as the network itself still holds a sender, is left to end with the process.
    drop(confirmer);
    served
}

/// Judge confirmation batches, committing every batch waiting at that moment (up to
/// [`GROUP_COMMIT_MAX_BATCHES`]) in one transaction: one fsync for several terminals.
/// A store failure answers every batch of the group with the error; nothing is half-kept.
fn confirmer(net: Arc<Network>, rx: std::sync::mpsc::Receiver<ConfirmJob>) {
    while let Ok(first) = rx.recv() {
        let mut jobs = vec![first];
        while jobs.len() < GROUP_COMMIT_MAX_BATCHES {
            match rx.try_recv() {
                Ok(j) => jobs.push(j),
                Err(_) => break,
            }
        }
        let now = net.clock.unix();
        let mut answers = Vec::with_capacity(jobs.len());
        let mut any = false;
        let (outcome, ticket) = net.locked(|s| -> Result<(), error::TerminalError> {
            let tx = s.write()?;
            for job in &mut jobs {
                let items = std::mem::take(&mut job.items);
                let (v, accepted) =
                    terminal::apply_batch(&tx, &net.settings, &job.terminal, items, now)?;
                any |= accepted;
                answers.push(v);
            }
            tx.commit()?;
            Ok(())
        });
        // The answers go out once the commit is synced, by the sync thread; this thread
        // goes on with the next batches meanwhile.
        let webhooks = net.wake_webhooks.clone();
        let answer = move |synced: Result<(), crate::wal::Unsynced>| {
            let outcome = outcome.and_then(|()| {
                synced.map_err(|e| error::TerminalError::from(rusqlite::Error::from(e)))
            });
            match outcome {
                Ok(()) => {
                    for (job, v) in jobs.into_iter().zip(answers) {
                        let _ = job.reply.send(Ok(v));
                    }
                    if any {
                        webhooks.notify_one();
                    }
                }
                Err(e) => {
                    for job in jobs {
                        let _ = job.reply.send(Err(e.clone()));
                    }
                }
            }
        };
        match &net.sync {
            Some(h) => h.after(ticket, Box::new(answer)),
            None => answer(Ok(())),
        }
    }
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
        let ran = net
            .on_store(move |n, s| {
                let now = n.clock.unix();
                let tx = s.write()?;
                let changed = payments::run_due(&tx, now)?;
                if prune {
                    tx.prune_idempotency(now - 86_400)?;
                }
                tx.commit()?;
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

    /// Long enough for an answer that does not wait to have come. The checks below can
    /// only pass wrongly on a slow machine, never fail wrongly.
    const WHILE: Duration = Duration::from_millis(300);

    #[test]
    fn no_answer_leaves_before_the_commit_it_saw_is_synced() {
        let dir = tempfile::tempdir().unwrap();
        let net = Network::open(&dir.path().join("n.db"), Settings::new("sk_test_x")).unwrap();
        let sync = net.sync.clone().expect("a file store syncs its commits");
        sync.hold(true);

        // A write is answered after its sync.
        let (tx, rx) = std::sync::mpsc::channel();
        let n = net.clone();
        let writer = std::thread::spawn(move || {
            let r = n.with_store(|s| {
                let t = s.write()?;
                t.set_meta("k", "v")?;
                t.commit()
            });
            tx.send(r.is_ok()).unwrap();
        });
        assert!(
            rx.recv_timeout(WHILE).is_err(),
            "a write answered before its sync"
        );

        // So is a read that can see it.
        let (tx2, rx2) = std::sync::mpsc::channel();
        let n = net.clone();
        let reader = std::thread::spawn(move || {
            let r = n.with_store(|s| s.read()?.meta("k"));
            tx2.send(r.unwrap()).unwrap();
        });
        assert!(
            rx2.recv_timeout(WHILE).is_err(),
            "a read answered before its sync"
        );
        sync.hold(false);
        assert!(rx.recv().unwrap());
        assert_eq!(rx2.recv().unwrap().as_deref(), Some("v"));
        writer.join().unwrap();
        reader.join().unwrap();

        // A confirmation batch's answer is sent after its group's sync, while the
        // confirmer is free for the next group.
        let (jobs, rx) = std::sync::mpsc::sync_channel(4);
        let n = net.clone();
        let confirming = std::thread::spawn(move || confirmer(n, rx));
        sync.hold(true);
        let mut answers = Vec::new();
        for _ in 0..2 {
            let (reply, answer) = tokio::sync::oneshot::channel();
            jobs.send(ConfirmJob {
                terminal: "t".into(),
                items: Vec::new(),
                reply,
            })
            .unwrap();
            answers.push(answer);
        }
        std::thread::sleep(WHILE);
        for a in &mut answers {
            assert!(a.try_recv().is_err(), "a batch answered before its sync");
        }
        sync.hold(false);
        for a in answers {
            assert!(a.blocking_recv().unwrap().unwrap().is_empty());
        }
        drop(jobs);
        confirming.join().unwrap();
    }
}
