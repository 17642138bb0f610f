//! Store-and-forward: the task that carries every journaled slip's confirmation to the
//! payment network, exactly once, through any outage.
//!
//! - Wakes on a commit ([`SyncHandle::wake`]) or a timer; reads pending outbox rows by a
//!   low-water mark and sends them in signed batches of at most [`BATCH_MAX`].
//! - Each verdict is recorded in the journal in one transaction: accepted or duplicate ->
//!   `sent`, conflict -> `conflict`, rejected -> `rejected` with its reason.
//! - Timeouts, connection errors, 5xx, 429 and garbled answers are retried with exponential
//!   backoff and full jitter (`backoff.rs`), honouring `Retry-After`; never a busy loop.
//! - A 401 is a configuration error: reported at once in the status and on stderr, then
//!   retried only slowly.
//! - All of its state is in the journal: killed mid-batch, it resends the same slip ids and
//!   the network answers `duplicate`. Only the backoff is in memory.
//!
//! It never decides whether a sale happened (the journal did), and never holds the journal
//! lock while waiting on the network.

pub mod backoff;
pub mod upstream;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::journal::{Journal, JournalError, OutboxSummary, SyncState};
use backoff::Backoff;
use upstream::{Confirmation, Upstream, UpstreamError};

/// Most confirmations in one request (the network's limit).
pub const BATCH_MAX: usize = 500;
/// How often an idle task looks at the outbox anyway.
const IDLE_POLL: Duration = Duration::from_secs(5);
/// How often the pending figures are recomputed while draining.
const REFRESH_EVERY: Duration = Duration::from_secs(5);
/// How long a terminal with a wrong secret waits between attempts.
const UNAUTHORIZED_RETRY: Duration = Duration::from_secs(60);

/// What the UI and the summary show about the link.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SyncStatus {
    /// The last exchange with the network worked.
    pub online: bool,
    /// The outbox: pending count, yen and oldest (refreshed every few seconds while
    /// draining), and the final states counted as they are recorded.
    #[serde(flatten)]
    pub outbox: OutboxSummary,
    /// The last failure, while it lasts.
    pub last_error: Option<String>,
    /// A configuration problem (wrong terminal secret): needs a person.
    pub config_error: Option<String>,
}

/// Shared between the sync task and whoever commits sales or shows the status.
#[derive(Debug, Default)]
pub struct SyncHandle {
    wake: Notify,
    status: Mutex<SyncStatus>,
}

impl SyncHandle {
    /// A sale was committed: look at the outbox now.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Record a check of the link made outside the task (a probe at start, or the task
    /// having stopped): online or not, and the error if any.
    pub fn note_link(&self, online: bool, error: Option<String>, config: bool) {
        self.update(|st| {
            st.online = online;
            st.config_error = if config { error.clone() } else { None };
            st.last_error = error;
        });
    }

    /// The latest status.
    pub fn status(&self) -> SyncStatus {
        self.status
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn update(&self, f: impl FnOnce(&mut SyncStatus)) {
        f(&mut self.status.lock().unwrap_or_else(|e| e.into_inner()));
    }
}

/// The journal, shared by the register (commits) and the sync task (outbox).
pub type SharedJournal = Arc<Mutex<Journal>>;

fn with_journal<T>(journal: &SharedJournal, f: impl FnOnce(&mut Journal) -> T) -> T {
    f(&mut journal.lock().unwrap_or_else(|e| e.into_inner()))
}

/// Refresh the status's pending figures from the journal, from the low-water mark.
fn refresh(
    journal: &SharedJournal,
    handle: &SyncHandle,
    mark: (u64, u32),
) -> Result<(), JournalError> {
    // From the mark on only: a range of the outbox's key, short once drained.
    let s = with_journal(journal, |j| j.pending_summary(mark))?;
    handle.update(|st| {
        st.outbox.pending = s.pending;
        st.outbox.pending_yen = s.pending_yen;
        st.outbox.oldest_pending_at = s.oldest_pending_at;
    });
    Ok(())
}

/// Wait for the previous batch's verdicts to be written.
async fn finish(
    recording: &mut Option<tokio::task::JoinHandle<Result<(), JournalError>>>,
) -> Result<(), JournalError> {
    match recording.take() {
        Some(h) => h.await.expect("the journal task ran"),
        None => Ok(()),
    }
}

/// Run until `cancel`: send what is pending, wait for more.
pub async fn run<U: Upstream>(
    journal: SharedJournal,
    upstream: U,
    handle: Arc<SyncHandle>,
    cancel: CancellationToken,
) -> Result<(), JournalError> {
    let mut backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(30));
    let mut last_refresh: Option<std::time::Instant> = None;
    // At start, two scans of the outbox: the final states' counts (then counted as
    // recorded) and the low-water mark (nothing before it is pending). On a long journal
    // they take a while, so they read their own snapshot on a read-only connection and
    // the register's commits go on meanwhile. The mark stays valid: what was pending then
    // is at or after it, and new slips come after every sale of that snapshot. From then
    // on the mark only moves forward, past each batch whose verdicts are recorded (a
    // verdict is never `pending`), so an idle task never scans the outbox again.
    let mut mark = {
        let j = journal.clone();
        let (summary, mark) = tokio::task::spawn_blocking(move || {
            let path = with_journal(&j, |j| j.path().to_owned());
            let start = |j: &Journal| -> Result<_, JournalError> {
                // The head first: a sale committed between the two reads is then after
                // the head, so the scan finds it pending or the mark is not past it.
                let head = j.head()?.0;
                let mark = match j.first_pending()? {
                    Some(m) => m,
                    None => (head + 1, 0),
                };
                Ok((j.outbox_summary((0, 0))?, mark))
            };
            match Journal::open_read_only(&path) {
                Ok(reader) => start(&reader),
                Err(_) => with_journal(&j, |j| start(j)),
            }
        })
        .await
        .expect("the journal task ran")?;
        handle.update(|st| st.outbox = summary);
        mark
    };
    // Pipelined: while batch N is on the wire the next one is read, and while batch N's
    // verdicts are being written the next one is sent. Verdicts are still written in order
    // (each write waits for the one before), and a crash before a write only means a resend.
    let mut recording: Option<tokio::task::JoinHandle<Result<(), JournalError>>> = None;
    let mut prefetched: Option<Vec<crate::journal::PendingSlip>> = None;
    loop {
        let woken = handle.wake.notified();
        let batch = match prefetched.take() {
            Some(b) => b,
            None => {
                // Verdicts of the last batch first: the read must not see them pending.
                finish(&mut recording).await?;
                let j = journal.clone();
                tokio::task::spawn_blocking(move || {
                    with_journal(&j, |j| j.pending_from(mark, BATCH_MAX))
                })
                .await
                .expect("the journal task ran")?
            }
        };
        // The pending figures cost a scan of what is pending: refreshed at most every
        // few seconds while draining, and whenever there is nothing to send.
        if batch.is_empty() || last_refresh.is_none_or(|t| t.elapsed() >= REFRESH_EVERY) {
            finish(&mut recording).await?;
            let j = journal.clone();
            let h = handle.clone();
            tokio::task::spawn_blocking(move || refresh(&j, &h, mark))
                .await
                .expect("the journal task ran")?;
            last_refresh = Some(std::time::Instant::now());
        }
        if batch.is_empty() {
            tokio::select! {
                _ = cancel.cancelled() => return Ok(()),
                _ = woken => {}
                _ = tokio::time::sleep(IDLE_POLL) => {}
            }
            continue;
        }
        let confirmations: Vec<Confirmation> = batch.iter().map(Confirmation::of).collect();
        let last = batch.last().expect("not empty").key();
        let after = (last.0, last.1 + 1);
        let prefetch = {
            let j = journal.clone();
            tokio::task::spawn_blocking(move || {
                with_journal(&j, |j| j.pending_from(after, BATCH_MAX))
            })
        };
        let sent = tokio::select! {
            _ = cancel.cancelled() => return Ok(()),
            r = upstream.confirm(&confirmations) => r,
        };
        let next = prefetch.await.expect("the journal task ran");
        finish(&mut recording).await?;
        let wait = match sent {
            Ok(verdicts) => {
                let results: Vec<((u64, u32), SyncState, Option<String>)> = batch
                    .iter()
                    .zip(&verdicts)
                    .map(|(slip, v)| {
                        let state = match v.status.as_str() {
                            "accepted" | "duplicate" => SyncState::Sent,
                            "conflict" => SyncState::Conflict,
                            _ => SyncState::Rejected,
                        };
                        (slip.key(), state, v.reason.clone())
                    })
                    .collect();
                let j = journal.clone();
                recording = Some(tokio::task::spawn_blocking(move || {
                    with_journal(&j, |j| j.record_sync(&results))
                }));
                mark = after;
                prefetched = Some(next?);
                backoff.reset();
                handle.update(|st| {
                    for v in &verdicts {
                        match v.status.as_str() {
                            "accepted" | "duplicate" => st.outbox.sent += 1,
                            "conflict" => st.outbox.conflicts += 1,
                            _ => st.outbox.rejected += 1,
                        }
                    }
                    st.online = true;
                    st.last_error = None;
                    st.config_error = None;
                });
                continue;
            }
            Err(UpstreamError::Unauthorized(detail)) => {
                let message = UpstreamError::Unauthorized(detail).to_string();
                if handle.status().config_error.as_deref() != Some(message.as_str()) {
                    eprintln!("konbini sync: {message}");
                }
                handle.update(|st| {
                    st.online = false;
                    st.last_error = Some(message.clone());
                    st.config_error = Some(message);
                });
                UNAUTHORIZED_RETRY
            }
            Err(e) => {
                let retry_after = match &e {
                    UpstreamError::Unavailable { retry_after, .. } => *retry_after,
                    _ => None,
                };
                handle.update(|st| {
                    st.online = false;
                    st.last_error = Some(e.to_string());
                });
                backoff.next_delay(retry_after)
            }
        };
        // A failed batch is retried after the delay, not on every new sale: a commit does
        // not make the network come back.
        tokio::select! {
            _ = cancel.cancelled() => return Ok(()),
            _ = tokio::time::sleep(wait) => {}
        }
    }
}
