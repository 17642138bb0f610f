//! Store-and-forward: the task that carries every journaled slip's confirmation to the
//! payment network, exactly once, through any outage.
//!
//! - Wakes on a commit ([`SyncHandle::wake`]) or a timer; reads pending outbox rows by a
//!   low-water mark and sends them in signed batches of at most [`BATCH_MAX`], up to
//!   [`IN_FLIGHT`] on the wire at once (an answer out of turn frees its place at once).
//! - The verdicts are recorded in the journal in the order the batches were sent, a batch
//!   or several (those answered during the previous write) per transaction: accepted or duplicate ->
//!   `sent`, conflict -> `conflict`, rejected -> `rejected` with its reason.
//! - Timeouts, connection errors, 5xx, 429 and garbled answers are retried with exponential
//!   backoff and jitter (the house's `RetryPolicy`), honouring `Retry-After`; never a busy loop.
//! - A 401 is a configuration error: reported at once in the status and on stderr, then
//!   retried only slowly.
//! - All of its state is in the journal: killed mid-batch, it resends the same slip ids and
//!   the network answers `duplicate`. Only the backoff, and answers that came out of turn
//!   and wait for the batches sent before them, are in memory.
//!
//! It never decides whether a sale happened (the journal did), and never holds the journal
//! lock while waiting on the network.

pub mod upstream;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use konbini_domain::retry::{Jitter, Retry, RetryPolicy};
use konbini_journal::{Journal, JournalError, OutboxSummary, SlipAnswer, SyncState};
use konbini_protocol::Verdict;
use upstream::{Confirmation, Upstream, UpstreamError};

/// Most confirmations in one request (the network's limit).
pub use konbini_protocol::MAX_BATCH as BATCH_MAX;
/// Batches on the wire at once.
pub const IN_FLIGHT: usize = 3;
/// Batches sent and not yet recorded, at most: those on the wire and those answered before
/// an earlier one (their verdicts are recorded in the order the batches were sent).
const OUTSTANDING_MAX: usize = 2 * IN_FLIGHT;
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
    /// Commit-to-accepted latency, when asked for (`konbini fleet`).
    latency: std::sync::OnceLock<LatencyTracker>,
    /// The network's verdicts counted as they come, when asked for (`konbini fleet`).
    verdicts: std::sync::OnceLock<Arc<VerdictCounts>>,
}

/// The network's verdicts on the slips sent in this run, counted as each batch's answer is
/// recorded (many registers may add to one). A slip counts once: a duplicate is a slip the
/// network already had, sent again because the answer that accepted it was lost.
#[derive(Debug, Default)]
pub struct VerdictCounts {
    counts: [std::sync::atomic::AtomicU64; 4],
}

impl VerdictCounts {
    fn count(&self, verdict: Verdict) {
        let i = match verdict {
            Verdict::Accepted => 0,
            Verdict::Duplicate => 1,
            Verdict::Conflict => 2,
            Verdict::Rejected => 3,
        };
        self.counts[i].fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// Accepted, duplicate, conflict, rejected.
    pub fn get(&self) -> [u64; 4] {
        self.counts
            .each_ref()
            .map(|c| c.load(std::sync::atomic::Ordering::Relaxed))
    }
}

/// When each group of sales was committed, to time each slip from its commit to the
/// network's acceptance.
#[derive(Debug)]
struct LatencyTracker {
    histogram: Arc<LatencyHistogram>,
    /// (the last sale of a committed group, when it was committed), oldest first.
    commits: Mutex<std::collections::VecDeque<(u64, std::time::Instant)>>,
}

/// Durations in buckets 2 % wide (from 1 µs to about 3 hours), in fixed memory: many
/// registers add to one histogram at once.
#[derive(Debug)]
pub struct LatencyHistogram {
    counts: Vec<std::sync::atomic::AtomicU64>,
}

const LATENCY_BUCKETS: usize = 1200;
const LATENCY_STEP: f64 = 1.02;

impl Default for LatencyHistogram {
    fn default() -> LatencyHistogram {
        LatencyHistogram {
            counts: (0..LATENCY_BUCKETS)
                .map(|_| std::sync::atomic::AtomicU64::new(0))
                .collect(),
        }
    }
}

impl LatencyHistogram {
    /// Count one duration.
    pub fn record(&self, d: Duration) {
        let us = (d.as_secs_f64() * 1e6).max(1.0);
        let i = (us.ln() / LATENCY_STEP.ln()) as usize;
        self.counts[i.min(LATENCY_BUCKETS - 1)].fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// Durations counted.
    pub fn count(&self) -> u64 {
        self.counts
            .iter()
            .map(|c| c.load(std::sync::atomic::Ordering::Relaxed))
            .sum()
    }

    /// The duration below which `p` (0-1) of the counted ones fall (the bucket's upper
    /// bound, within 2 %).
    pub fn percentile(&self, p: f64) -> Option<Duration> {
        let total = self.count();
        if total == 0 {
            return None;
        }
        let want = ((total as f64 * p).ceil() as u64).clamp(1, total);
        let mut seen = 0;
        for (i, c) in self.counts.iter().enumerate() {
            seen += c.load(std::sync::atomic::Ordering::Relaxed);
            if seen >= want {
                return Some(Duration::from_secs_f64(
                    LATENCY_STEP.powi(i as i32 + 1) / 1e6,
                ));
            }
        }
        None
    }
}

impl SyncHandle {
    /// A sale was committed: look at the outbox now.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Time each slip from its sale's commit to its acceptance into `histogram` (the
    /// committer then calls [`SyncHandle::note_commit`] after each commit).
    pub fn track_latency(&self, histogram: Arc<LatencyHistogram>) {
        let _ = self.latency.set(LatencyTracker {
            histogram,
            commits: Mutex::new(std::collections::VecDeque::new()),
        });
    }

    /// Count the network's verdicts into `counts`.
    pub fn count_verdicts(&self, counts: Arc<VerdictCounts>) {
        let _ = self.verdicts.set(counts);
    }

    /// Whether latency is tracked.
    pub fn tracks_latency(&self) -> bool {
        self.latency.get().is_some()
    }

    /// Sales up to `last_seq` were committed now.
    pub fn note_commit(&self, last_seq: u64) {
        if let Some(t) = self.latency.get() {
            t.commits
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push_back((last_seq, std::time::Instant::now()));
        }
    }

    /// The network accepted the slips of these sales now.
    fn note_accepted(&self, seqs: impl Iterator<Item = u64>) {
        let Some(t) = self.latency.get() else {
            return;
        };
        let now = std::time::Instant::now();
        let mut commits = t.commits.lock().unwrap_or_else(|e| e.into_inner());
        for seq in seqs {
            // Groups before this sale's are all sent (slips go in order): forget them.
            while commits.len() > 1 && commits[0].0 < seq {
                commits.pop_front();
            }
            if let Some(&(last, at)) = commits.front()
                && seq <= last
            {
                t.histogram.record(now.saturating_duration_since(at));
            }
        }
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

/// A batch's answers, each with the time it came (the journal keeps it in the slip's
/// verdict record).
type Verdicts = Vec<SlipAnswer>;

/// Writes the batches' verdicts to the journal, in the order the batches were sent, without
/// the sync task waiting for each write: answers that come while a write (and its fsync)
/// is running are queued and written together by the next one, one transaction for them
/// all. Consecutive answered batches are consecutive reads of the outbox, so together they
/// still meet [`Journal::record_batch`]'s rule: every slip pending between two of them is
/// among them (a sale committed after a read comes after every slip read).
///
/// It also holds the start's count of the outbox (a scan of it all, slow on a long journal),
/// read in the background while the first batches go out, at a low CPU priority: nothing is
/// written before that read has taken its snapshot, so the snapshot holds none of this run's
/// verdicts, and the verdicts counted meanwhile are added to it whenever it comes. Only the
/// snapshot is waited for, never the scan.
struct Recorder {
    journal: SharedJournal,
    running: Option<tokio::task::JoinHandle<Result<(), JournalError>>>,
    queued: Verdicts,
    counting: Option<Counting>,
    handle: Arc<SyncHandle>,
    /// The status's pending figures were refreshed since the start: newer than the count's.
    refreshed: bool,
}

/// The start's count of the outbox, read in the background ([`start_count`]). Dropped, it
/// stops the count.
struct Counting {
    /// Fires once the count's read snapshot is taken (with the means to interrupt the scan,
    /// when it runs on a connection of its own); `None` once it has.
    began: Option<tokio::sync::oneshot::Receiver<Option<rusqlite::InterruptHandle>>>,
    interrupt: Option<rusqlite::InterruptHandle>,
    /// The count. Closed without one if its thread could not run.
    done: tokio::sync::oneshot::Receiver<Result<OutboxSummary, JournalError>>,
    /// Set when the count is no longer wanted: looked at before each of its scans.
    stopped: Arc<std::sync::atomic::AtomicBool>,
}

impl Drop for Counting {
    fn drop(&mut self) {
        self.stopped
            .store(true, std::sync::atomic::Ordering::SeqCst);
        self.before_snapshot();
        if let Some(interrupt) = &self.interrupt {
            interrupt.interrupt();
        }
    }
}

impl Counting {
    /// Whether the snapshot is still to be taken, without waiting.
    fn before_snapshot(&mut self) -> bool {
        use tokio::sync::oneshot::error::TryRecvError;
        let Some(began) = &mut self.began else {
            return false;
        };
        match began.try_recv() {
            Err(TryRecvError::Empty) => true,
            Ok(interrupt) => {
                self.interrupt = interrupt;
                self.began = None;
                false
            }
            // Its thread ended without taking one: it wrote nothing and counts nothing.
            Err(TryRecvError::Closed) => {
                self.began = None;
                false
            }
        }
    }
}

/// Count the outbox in the background on a thread of its own: on a read-only connection of
/// its own, whose snapshot is taken at normal priority and signalled, the scan then run at
/// the lowest CPU priority (nice 19: the status can wait where sending and the register's
/// sales cannot). Without such a connection, on the shared one under its lock, at normal
/// priority (it holds the register's journal), and signalled only once done.
fn start_count(journal: &SharedJournal) -> Counting {
    let (began_tx, began) = tokio::sync::oneshot::channel();
    let (done_tx, done) = tokio::sync::oneshot::channel();
    let stopped = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let j = journal.clone();
    let stop = stopped.clone();
    let count = move || {
        let path = with_journal(&j, |j| j.path().to_owned());
        let summary = match Journal::open_read_only(&path) {
            Ok(counter) => counter.outbox_summary_in_snapshot(
                |interrupt| {
                    let _ = began_tx.send(Some(interrupt));
                    lower_this_threads_priority();
                },
                &stop,
            ),
            Err(_) => {
                let summary = with_journal(&j, |j| j.outbox_summary((0, 0)));
                let _ = began_tx.send(None);
                summary
            }
        };
        let _ = done_tx.send(summary);
    };
    // If no thread can be made, the channels close: no count, nothing waits for one.
    let _ = std::thread::Builder::new()
        .name("konbini-count".into())
        .spawn(count);
    Counting {
        began: Some(began),
        interrupt: None,
        done,
        stopped,
    }
}

/// Nice 19 for the calling thread. On Linux the nice value is a thread's own (who = 0 is
/// the calling thread, setpriority(2)); an unprivileged thread cannot raise it again, so
/// only a thread made for the job may call this.
fn lower_this_threads_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: a plain system call about the calling thread; no memory is involved.
    unsafe {
        libc::setpriority(libc::PRIO_PROCESS, 0, 19);
    }
}

impl Recorder {
    fn new(
        journal: SharedJournal,
        counting: Option<Counting>,
        handle: Arc<SyncHandle>,
    ) -> Recorder {
        Recorder {
            journal,
            running: None,
            queued: Vec::new(),
            counting,
            handle,
            refreshed: false,
        }
    }

    /// Queue a batch's verdicts; start writing if no write is running (and the start's
    /// count has its snapshot).
    async fn push(&mut self, verdicts: Verdicts) -> Result<(), JournalError> {
        self.queued.extend(verdicts);
        if self
            .counting
            .as_mut()
            .is_some_and(Counting::before_snapshot)
            || self.running.as_ref().is_some_and(|h| !h.is_finished())
        {
            return Ok(());
        }
        self.merge_count();
        self.reap().await?;
        self.start();
        Ok(())
    }

    /// Every verdict queued so far, written.
    async fn flush(&mut self) -> Result<(), JournalError> {
        if let Some(c) = &mut self.counting
            && let Some(began) = c.began.take()
        {
            c.interrupt = began.await.unwrap_or(None);
        }
        self.merge_count();
        self.reap().await?;
        self.start();
        self.reap().await
    }

    /// Stopping: the start's count is stopped and let go (it only feeds the status, which
    /// stops here too) and what was answered is written.
    async fn stop(&mut self) -> Result<(), JournalError> {
        self.counting = None;
        self.flush().await
    }

    /// The start's count, waited for and put in the status ([`Recorder::merge_count`]).
    /// Never ends when there is none; cancel-safe.
    async fn counted(&mut self) {
        let count = match &mut self.counting {
            Some(c) => (&mut c.done).await.ok(),
            None => std::future::pending().await,
        };
        self.counting = None;
        if let Some(summary) = count {
            self.add_count(summary);
        }
    }

    /// The start's count, if it came, put in the status with what was counted since.
    fn merge_count(&mut self) {
        use tokio::sync::oneshot::error::TryRecvError;
        let Some(c) = &mut self.counting else {
            return;
        };
        match c.done.try_recv() {
            Err(TryRecvError::Empty) => {}
            Err(TryRecvError::Closed) => self.counting = None,
            Ok(summary) => {
                self.counting = None;
                self.add_count(summary);
            }
        }
    }

    /// Put the start's count in the status, adding what was counted since; its pending
    /// figures only if no refresh has given newer ones. A count that failed only feeds the
    /// status: it is reported, and the status goes on counting from zero.
    fn add_count(&mut self, summary: Result<OutboxSummary, JournalError>) {
        let summary = match summary {
            Ok(summary) => summary,
            Err(e) => {
                eprintln!("konbini sync: the outbox count at start failed: {e}");
                return;
            }
        };
        let refreshed = self.refreshed;
        self.handle.update(|st| {
            let since = std::mem::replace(&mut st.outbox, summary);
            st.outbox.sent += since.sent;
            st.outbox.conflicts += since.conflicts;
            st.outbox.rejected += since.rejected;
            if refreshed {
                st.outbox.pending = since.pending;
                st.outbox.pending_yen = since.pending_yen;
                st.outbox.oldest_pending_at = since.oldest_pending_at;
            }
        });
    }

    /// The running write's result, waiting for it.
    async fn reap(&mut self) -> Result<(), JournalError> {
        match self.running.take() {
            Some(h) => h.await.expect("the journal task ran"),
            None => Ok(()),
        }
    }

    fn start(&mut self) {
        if self.queued.is_empty() {
            return;
        }
        let verdicts = std::mem::take(&mut self.queued);
        let j = self.journal.clone();
        self.running = Some(tokio::task::spawn_blocking(move || {
            with_journal(&j, |j| j.record_batch(&verdicts))
        }));
    }
}

/// Retrying a batch: exponential backoff from 200 ms to 30 s with full jitter, so that
/// registers coming back from one outage do not all retry in step.
const RETRY: RetryPolicy =
    RetryPolicy::exponential(Duration::from_millis(200), Duration::from_secs(30))
        .with_jitter(Jitter::Full);

/// The delay after a failed batch: [`RETRY`]'s, and never shorter than the network's
/// `Retry-After` (itself believed up to five minutes).
fn retry_delay(retry: &mut Retry, retry_after: Option<Duration>) -> Duration {
    let drawn = retry.failed().unwrap_or(RETRY.max);
    drawn.max(
        retry_after
            .unwrap_or_default()
            .min(RETRY.max.max(Duration::from_secs(300))),
    )
}

/// What the network answered to one batch.
type BatchResult = Result<Vec<konbini_protocol::Outcome>, UpstreamError>;

/// Where a slip's confirmation stands once the network has judged it.
fn sync_state(verdict: Verdict) -> SyncState {
    match verdict {
        Verdict::Accepted | Verdict::Duplicate => SyncState::Sent,
        Verdict::Conflict => SyncState::Conflict,
        Verdict::Rejected => SyncState::Rejected,
    }
}

/// A batch sent and not yet recorded: on the wire, or answered out of turn and waiting for
/// the batches sent before it.
struct InFlight {
    /// Its slips' outbox keys, in order (the slips went into the request).
    keys: Vec<(u64, u32)>,
    /// The outbox key just past the batch.
    after: (u64, u32),
    request: tokio::task::JoinHandle<BatchResult>,
    /// The answer, once it came.
    answer: Option<BatchResult>,
}

/// The first answer to come among the batches still on the wire: its place and the answer.
async fn next_answer(in_flight: &mut std::collections::VecDeque<InFlight>) -> (usize, BatchResult) {
    std::future::poll_fn(|cx| {
        for (i, f) in in_flight.iter_mut().enumerate() {
            // A handle is never polled again once it has answered.
            if f.answer.is_none()
                && let std::task::Poll::Ready(r) = std::pin::Pin::new(&mut f.request).poll(cx)
            {
                let answer = r.unwrap_or_else(|e| {
                    Err(UpstreamError::Transport(format!(
                        "the request task failed: {e}"
                    )))
                });
                return std::task::Poll::Ready((i, answer));
            }
        }
        std::task::Poll::Pending
    })
    .await
}

/// A read of the outbox on the blocking pool.
type PendingRead = tokio::task::JoinHandle<Result<Vec<konbini_journal::PendingSlip>, JournalError>>;

/// Read up to a batch of pending slips from `from` on, on the blocking pool.
fn read_pending(journal: &SharedJournal, from: (u64, u32)) -> PendingRead {
    let j = journal.clone();
    tokio::task::spawn_blocking(move || with_journal(&j, |j| j.pending_from(from, BATCH_MAX)))
}

/// Drop the batches still on the wire: they stay pending and are sent again.
fn abandon(in_flight: &mut std::collections::VecDeque<InFlight>) {
    for f in in_flight.drain(..) {
        f.request.abort();
    }
}

/// Run until `cancel`: send what is pending, wait for more.
pub async fn run<U: Upstream>(
    journal: SharedJournal,
    upstream: U,
    handle: Arc<SyncHandle>,
    cancel: CancellationToken,
) -> Result<(), JournalError> {
    let mut backoff = Retry::new(RETRY);
    // At start, the low-water mark (nothing before it is pending) and the counts of the
    // outbox, on a read-only connection of their own so the register's commits go on
    // meanwhile. The mark stays valid: what was pending then is at or after it, and new
    // slips come after every sale of that snapshot. From then on the mark only moves
    // forward, past each batch recorded in turn, whose verdicts are written or queued to be (a
    // verdict is never `pending`; the refresh waits for the queue), so an idle task never
    // scans the outbox again. The counts (a scan of all of it) are
    // read in the background while the first batches go out; see `Recorder`.
    let (mut mark, reader) = {
        let j = journal.clone();
        tokio::task::spawn_blocking(move || {
            let path = with_journal(&j, |j| j.path().to_owned());
            let start = |j: &Journal| -> Result<_, JournalError> {
                // The head first: a sale committed between the two reads is then after
                // the head, so the scan finds it pending or the mark is not past it.
                let head = j.head()?.0;
                Ok(match j.first_pending()? {
                    Some(m) => m,
                    None => (head + 1, 0),
                })
            };
            // The reader also serves the outbox reads: they never wait behind a verdict
            // write's fsync on the register's connection.
            match Journal::open_read_only(&path) {
                Ok(reader) => Ok((start(&reader)?, Arc::new(Mutex::new(reader)))),
                Err(_) => Ok((with_journal(&j, |j| start(j))?, j.clone())),
            }
        })
        .await
        .expect("the journal task ran")?
    };
    // Counted from zero until the start's count comes in and is added.
    handle.update(|st| st.outbox = OutboxSummary::default());
    // On a connection of its own too, so the outbox reads do not wait for it.
    let counting = start_count(&journal);
    // The start's count has the pending figures: the first refresh is a full period
    // away, not a second scan of the whole outbox before the first answer is recorded.
    let mut last_refresh = std::time::Instant::now();
    // Pipelined: up to IN_FLIGHT batches are on the wire at once, so the network always
    // has the next batch while this side reads the answer, records the verdicts and reads
    // more. A batch answered before an earlier one gives its place on the wire to the next
    // batch at once (the network commits several waiting batches together, so answers do
    // come out of turn), but its verdicts wait: they are handled in the order the batches
    // were sent and written in that order by the Recorder, several batches to a write when
    // answers come faster than writes; outbox reads go through a read-only connection. A
    // failed batch stops the pipeline: nothing more is sent, the batches after it are
    // abandoned when it comes to its turn, stay pending, and are sent again (the network
    // answers `duplicate` for any it had taken). A crash before a write only means a resend.
    let upstream = Arc::new(upstream);
    let mut recorder = Recorder::new(journal.clone(), Some(counting), handle.clone());
    let mut in_flight: std::collections::VecDeque<InFlight> = std::collections::VecDeque::new();
    // Where the next read starts: past every batch in flight; and that read, started early.
    let mut read_from = mark;
    let mut prefetch: Option<PendingRead> = None;
    loop {
        let woken = handle.wake.notified();
        // Sent while fewer than IN_FLIGHT are on the wire (an answer out of turn frees its
        // place at once, as independent clients would), at most OUTSTANDING_MAX batches are
        // waiting to be recorded, and no failure is held.
        while in_flight.iter().filter(|f| f.answer.is_none()).count() < IN_FLIGHT
            && in_flight.len() < OUTSTANDING_MAX
            && !in_flight.iter().any(|f| matches!(f.answer, Some(Err(_))))
        {
            let batch = match prefetch.take() {
                Some(read) => read.await.expect("the journal task ran")?,
                None => read_pending(&reader, read_from)
                    .await
                    .expect("the journal task ran")?,
            };
            let Some(last) = batch.last().map(|b| b.key()) else {
                break;
            };
            read_from = (last.0, last.1 + 1);
            let keys = batch.iter().map(|s| s.key()).collect();
            let confirmations: Vec<Confirmation> =
                batch.into_iter().map(Confirmation::from).collect();
            let u = upstream.clone();
            let request = tokio::spawn(async move { u.confirm(&confirmations).await });
            in_flight.push_back(InFlight {
                keys,
                after: read_from,
                request,
                answer: None,
            });
            // The next batch is read while the network works on this one.
            prefetch = Some(read_pending(&reader, read_from));
        }
        // The pending figures cost a scan of what is pending: refreshed at most every
        // few seconds while draining, and whenever there is nothing to send.
        if in_flight.is_empty() || last_refresh.elapsed() >= REFRESH_EVERY {
            recorder.flush().await?;
            let j = reader.clone();
            let h = handle.clone();
            tokio::task::spawn_blocking(move || refresh(&j, &h, mark))
                .await
                .expect("the journal task ran")?;
            recorder.refreshed = true;
            last_refresh = std::time::Instant::now();
        }
        let Some(front) = in_flight.front() else {
            tokio::select! {
                _ = cancel.cancelled() => return Ok(()),
                _ = woken => {}
                _ = tokio::time::sleep(IDLE_POLL) => {}
                _ = recorder.counted() => {}
            }
            continue;
        };
        if front.answer.is_none() {
            let (i, answer) = tokio::select! {
                _ = cancel.cancelled() => {
                    abandon(&mut in_flight);
                    // What was answered is written; the abandoned batches stay pending.
                    recorder.stop().await?;
                    return Ok(());
                }
                a = next_answer(&mut in_flight) => a,
            };
            in_flight[i].answer = Some(answer);
            if i != 0 {
                // Out of turn: its place on the wire goes to the next batch; its verdicts
                // wait for the batches before it.
                continue;
            }
        }
        let InFlight {
            keys,
            after,
            answer,
            ..
        } = in_flight.pop_front().expect("the front");
        let sent = answer.expect("the front was answered");
        let wait = match sent {
            Ok(verdicts) => {
                let answered_at_ms = konbini_journal::unix_ms(std::time::SystemTime::now());
                let results: Verdicts = keys
                    .iter()
                    .zip(&verdicts)
                    .map(|(key, v)| SlipAnswer {
                        key: *key,
                        state: sync_state(v.verdict),
                        reason: v.reason.clone(),
                        answered_at_ms,
                    })
                    .collect();
                handle.note_accepted(
                    keys.iter()
                        .zip(&verdicts)
                        .filter(|(_, v)| sync_state(v.verdict) == SyncState::Sent)
                        .map(|(key, _)| key.0),
                );
                recorder.push(results).await?;
                if let Some(counts) = handle.verdicts.get() {
                    for v in &verdicts {
                        counts.count(v.verdict);
                    }
                }
                mark = after;
                backoff.reset();
                handle.update(|st| {
                    for v in &verdicts {
                        match sync_state(v.verdict) {
                            SyncState::Sent => st.outbox.sent += 1,
                            SyncState::Conflict => st.outbox.conflicts += 1,
                            SyncState::Rejected | SyncState::Pending => st.outbox.rejected += 1,
                        }
                    }
                    st.online = true;
                    st.last_error = None;
                    st.config_error = None;
                });
                continue;
            }
            Err(e) => {
                // The batches sent after this one are dropped (still pending) and read
                // again from the mark once the delay is over.
                abandon(&mut in_flight);
                read_from = mark;
                prefetch = None;
                match e {
                    UpstreamError::Unauthorized(detail) => {
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
                    e => {
                        let retry_after = match &e {
                            UpstreamError::Unavailable { retry_after, .. } => *retry_after,
                            _ => None,
                        };
                        handle.update(|st| {
                            st.online = false;
                            st.last_error = Some(e.to_string());
                        });
                        retry_delay(&mut backoff, retry_after)
                    }
                }
            }
        };
        // A failed batch is retried after the delay, not on every new sale: a commit does
        // not make the network come back.
        tokio::select! {
            _ = cancel.cancelled() => {
                recorder.stop().await?;
                return Ok(());
            }
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_retry_after_is_waited_for_up_to_five_minutes() {
        let mut retry = super::Retry::new(super::RETRY);
        let d = super::retry_delay(&mut retry, Some(std::time::Duration::from_secs(7)));
        assert!(d >= std::time::Duration::from_secs(7), "{d:?}");
        let d = super::retry_delay(&mut retry, Some(std::time::Duration::from_secs(86_400)));
        assert_eq!(d, std::time::Duration::from_secs(300));
        // Without one, the policy's own delay: at most its ceiling.
        let d = super::retry_delay(&mut retry, None);
        assert!(d <= super::RETRY.ceiling(3), "{d:?}");
    }

    use super::*;
    use konbini_domain::{BillBarcode, BillFields, Deadline, Yen};

    /// The network accepted the slip at `key`, just now.
    fn sent(key: (u64, u32)) -> SlipAnswer {
        SlipAnswer {
            key,
            state: SyncState::Sent,
            reason: None,
            answered_at_ms: konbini_journal::unix_ms(std::time::SystemTime::now()),
        }
    }

    /// A journal in `dir` with `sales` sales of `slips` other billers' slips of 1,000 yen.
    fn journal_of(dir: &std::path::Path, sales: u32, slips: u32) -> SharedJournal {
        let mut journal = Journal::open(&dir.join("journal.db")).unwrap();
        for sale in 0..sales {
            let codes: Vec<BillBarcode> = (0..slips)
                .map(|i| {
                    BillBarcode::build(&BillFields {
                        company_code: "912345",
                        free_area: &format!("{:021}", sale * slips + i),
                        reissue: 0,
                        deadline: Deadline::None,
                        stamp: false,
                        amount: Yen::new(1000),
                    })
                    .unwrap()
                })
                .collect();
            journal
                .commit_sale(&konbini_bench::sale_of(&codes), None)
                .unwrap();
        }
        Arc::new(Mutex::new(journal))
    }

    /// A Recorder whose start count is the test's: its snapshot signal and its result.
    fn recorder_counting(
        shared: &SharedJournal,
        began: tokio::sync::oneshot::Receiver<Option<rusqlite::InterruptHandle>>,
        done: tokio::sync::oneshot::Receiver<Result<OutboxSummary, JournalError>>,
    ) -> (Recorder, Arc<SyncHandle>) {
        let counting = Counting {
            began: Some(began),
            interrupt: None,
            done,
            stopped: Arc::default(),
        };
        let handle = Arc::new(SyncHandle::default());
        let recorder = Recorder::new(shared.clone(), Some(counting), handle.clone());
        (recorder, handle)
    }

    /// Nothing is written before the start's count has its snapshot; from then on writes go
    /// on while the count scans, and the count, whenever it comes, gets the verdicts counted
    /// since added to it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn nothing_is_written_before_the_counts_snapshot_and_counts_add_up() {
        let dir = tempfile::tempdir().unwrap();
        let shared = journal_of(dir.path(), 1, 4);
        let slips = with_journal(&shared, |j| j.pending_from((0, 0), 10)).unwrap();
        // A count that takes its time: it reads before any of this run's verdicts are
        // written, signals its snapshot when told, and gives its figures when told.
        let (began_tx, began) = tokio::sync::oneshot::channel();
        let (done_tx, done) = tokio::sync::oneshot::channel();
        let (snapshot, at_snapshot) = std::sync::mpsc::channel::<()>();
        let (finish, at_finish) = std::sync::mpsc::channel::<()>();
        let j = shared.clone();
        let count = std::thread::spawn(move || {
            let seen = with_journal(&j, |j| j.outbox_summary((0, 0)));
            at_snapshot.recv().unwrap();
            assert!(began_tx.send(None).is_ok());
            at_finish.recv().unwrap();
            assert!(done_tx.send(seen).is_ok());
        });
        let (mut recorder, handle) = recorder_counting(&shared, began, done);
        let verdict = |i: usize| vec![sent(slips[i].key())];
        // Two answers before the snapshot: queued, not written.
        for i in 0..2 {
            handle.update(|st| st.outbox.sent += 1);
            recorder.push(verdict(i)).await.unwrap();
        }
        assert!(
            recorder.running.is_none(),
            "a write started before the count's snapshot"
        );
        assert_eq!(recorder.queued.len(), 2);
        snapshot.send(()).unwrap();
        // Once the snapshot is taken, a write starts with the next answer although the
        // count is still scanning.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            assert!(std::time::Instant::now() < deadline);
            if !recorder.counting.as_mut().unwrap().before_snapshot() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        handle.update(|st| st.outbox.sent += 1);
        recorder.push(verdict(2)).await.unwrap();
        assert!(recorder.running.is_some() || recorder.queued.is_empty());
        recorder.flush().await.unwrap();
        let written = with_journal(&shared, |j| j.outbox_summary((0, 0))).unwrap();
        assert_eq!((written.pending, written.sent), (1, 3));
        assert!(recorder.counting.is_some(), "the scan is not waited for");
        // Counted from zero until the count comes.
        assert_eq!(handle.status().outbox.sent, 3);
        finish.send(()).unwrap();
        recorder.counted().await;
        count.join().unwrap();
        let outbox = handle.status().outbox;
        // The count saw 4 pending, 0 sent; the 3 answered since are added, not lost.
        assert_eq!((outbox.pending, outbox.sent), (4, 3));
    }

    /// The start's count only feeds the status: when it fails, the status goes on counting
    /// from zero and the verdicts are written all the same. When it is stopped before its
    /// scans, it does not scan.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_or_stopped_count_changes_nothing_but_the_status() {
        let dir = tempfile::tempdir().unwrap();
        let shared = journal_of(dir.path(), 1, 2);
        let slips = with_journal(&shared, |j| j.pending_from((0, 0), 10)).unwrap();
        let (began_tx, began) = tokio::sync::oneshot::channel();
        let (done_tx, done) = tokio::sync::oneshot::channel();
        assert!(began_tx.send(None).is_ok());
        let failed = Err(JournalError::Missing {
            path: dir.path().join("gone.db"),
        });
        assert!(done_tx.send(failed).is_ok());
        let (mut recorder, handle) = recorder_counting(&shared, began, done);
        handle.update(|st| st.outbox.sent += 1);
        recorder.push(vec![sent(slips[0].key())]).await.unwrap();
        recorder.flush().await.unwrap();
        assert!(recorder.counting.is_none());
        assert_eq!(handle.status().outbox.sent, 1);
        let written = with_journal(&shared, |j| j.outbox_summary((0, 0))).unwrap();
        assert_eq!((written.pending, written.sent), (1, 1));

        let reader = Journal::open_read_only(&dir.path().join("journal.db")).unwrap();
        let stopped = std::sync::atomic::AtomicBool::new(false);
        let stop = |_| stopped.store(true, std::sync::atomic::Ordering::SeqCst);
        let err = reader
            .outbox_summary_in_snapshot(stop, &stopped)
            .unwrap_err();
        assert!(err.to_string().contains("stopped"), "{err}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn verdicts_answered_during_a_write_are_written_together_after_it() {
        let dir = tempfile::tempdir().unwrap();
        let shared = journal_of(dir.path(), 3, 5);
        // Three consecutive reads of five, as the sync task sends them.
        let mut from = (0, 0);
        let mut batches = Vec::new();
        for _ in 0..3 {
            let batch = with_journal(&shared, |j| j.pending_from(from, 5)).unwrap();
            let last = batch.last().unwrap().key();
            from = (last.0, last.1 + 1);
            batches.push(batch.iter().map(|s| sent(s.key())).collect::<Verdicts>());
        }
        let mut recorder = Recorder::new(shared.clone(), None, Arc::new(SyncHandle::default()));
        // The register holds the journal: the first write waits for it.
        let (locked, is_locked) = std::sync::mpsc::channel();
        let (release, released) = std::sync::mpsc::channel::<()>();
        let s = shared.clone();
        let register = std::thread::spawn(move || {
            let _held = s.lock().unwrap();
            locked.send(()).unwrap();
            released.recv().unwrap();
        });
        is_locked.recv().unwrap();
        let mut batches = batches.into_iter();
        recorder.push(batches.next().unwrap()).await.unwrap();
        assert!(recorder.running.is_some() && recorder.queued.is_empty());
        // The next answers neither wait nor start writes of their own.
        for b in batches {
            // Waiting for the held write would never end: give up loudly instead.
            tokio::time::timeout(Duration::from_secs(20), recorder.push(b))
                .await
                .expect("an answer waited for the running write")
                .unwrap();
        }
        assert_eq!(recorder.queued.len(), 10);
        release.send(()).unwrap();
        register.join().unwrap();
        recorder.flush().await.unwrap();
        assert!(recorder.running.is_none() && recorder.queued.is_empty());
        let j = shared.lock().unwrap();
        assert!(j.pending_from((0, 0), 100).unwrap().is_empty());
        assert_eq!(j.outbox_summary((0, 0)).unwrap().sent, 15);
        // The moved rows have their verdict records, written in the same writes (a run
        // of one batch's plain `sent` answers as one): verify proves every state.
        let records = j.verify(None).unwrap().verdicts.unwrap();
        assert!((1..=15).contains(&records), "{records}");
    }

    /// A real network behind an upstream that holds the first batch the first time it is
    /// sent, until told to send it or to fail it, and fails the batch starting at `fail`
    /// (if any) at once, the first time it is sent.
    struct Scripted {
        inner: upstream::HttpUpstream,
        calls: Arc<std::sync::atomic::AtomicUsize>,
        /// Requests that have their answer (or failure).
        answered: Arc<std::sync::atomic::AtomicUsize>,
        first: Mutex<Option<tokio::sync::oneshot::Receiver<bool>>>,
        /// The first slip of the batch to fail, the first time it is sent.
        fail: Mutex<Option<(u64, u32)>>,
    }

    /// The first slip of the journal's first batch.
    const FIRST_BATCH: (u64, u32) = (1, 1);

    impl Upstream for Scripted {
        async fn confirm(
            &self,
            batch: &[Confirmation],
        ) -> Result<Vec<konbini_protocol::Outcome>, UpstreamError> {
            self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            // Batches are told apart by their first slip: the requests are tasks of their
            // own, and need not reach here in the order they were sent.
            let key = batch.first().map(Confirmation::key);
            let failing = key.is_some() && {
                let mut fail = self.fail.lock().unwrap();
                key == fail.take_if(|k| Some(*k) == key)
            };
            let answer = if failing {
                Err(UpstreamError::Unavailable {
                    status: 503,
                    retry_after: None,
                })
            } else {
                let gate = match key {
                    Some(FIRST_BATCH) => self.first.lock().unwrap().take(),
                    _ => None,
                };
                let go = match gate {
                    Some(gate) => gate.await.unwrap_or(false),
                    None => true,
                };
                if go {
                    self.inner.confirm(batch).await
                } else {
                    Err(UpstreamError::Transport("the held request failed".into()))
                }
            };
            self.answered
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            answer
        }

        async fn lookup(
            &self,
            reference: &konbini_domain::PaperlessRef,
        ) -> Result<konbini_register::LookupAnswer, UpstreamError> {
            self.inner.lookup(reference).await
        }
    }

    /// A journal of ten batches of 500, a network, and the sync task running through a
    /// [`Scripted`] upstream failing the batch at `fail`: the journal, the request count, the
    /// gate of the first batch, and what stops it all.
    struct Scene {
        dir: tempfile::TempDir,
        journal: SharedJournal,
        calls: Arc<std::sync::atomic::AtomicUsize>,
        answered: Arc<std::sync::atomic::AtomicUsize>,
        first: Option<tokio::sync::oneshot::Sender<bool>>,
        cancel: CancellationToken,
        task: tokio::task::JoinHandle<Result<(), JournalError>>,
        network: CancellationToken,
    }

    impl Scene {
        async fn start(fail: Option<(u64, u32)>) -> Scene {
            let dir = tempfile::tempdir().unwrap();
            let journal = journal_of(dir.path(), 20, 250);
            let (url, network) = konbini_bench::bench_network(dir.path(), "network")
                .await
                .unwrap();
            let (first, held) = tokio::sync::oneshot::channel();
            let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
            let answered = Arc::new(std::sync::atomic::AtomicUsize::new(0));
            let upstream = Scripted {
                inner: upstream::HttpUpstream::new(
                    &url,
                    "bench",
                    "bench-secret",
                    Duration::from_secs(30),
                )
                .unwrap(),
                calls: calls.clone(),
                answered: answered.clone(),
                first: Mutex::new(Some(held)),
                fail: Mutex::new(fail),
            };
            let cancel = CancellationToken::new();
            let task = tokio::spawn(run(
                journal.clone(),
                upstream,
                Arc::new(SyncHandle::default()),
                cancel.clone(),
            ));
            Scene {
                dir,
                journal,
                calls,
                answered,
                first: Some(first),
                cancel,
                task,
                network,
            }
        }

        fn calls(&self) -> usize {
            self.calls.load(std::sync::atomic::Ordering::SeqCst)
        }

        fn sent(&self) -> (u64, u64) {
            let s = with_journal(&self.journal, |j| j.outbox_summary((0, 0))).unwrap();
            (s.pending, s.sent)
        }

        /// Wait until `calls` requests were made and `answered` of them have their answer,
        /// then a little longer: no more come.
        async fn settles_at(&self, calls: impl Fn(usize) -> bool, answered: usize) -> usize {
            let deadline = std::time::Instant::now() + Duration::from_secs(20);
            while !calls(self.calls())
                || self.answered.load(std::sync::atomic::Ordering::SeqCst) < answered
            {
                assert!(
                    std::time::Instant::now() < deadline,
                    "{} requests",
                    self.calls()
                );
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            let seen = self.calls();
            tokio::time::sleep(Duration::from_millis(300)).await;
            assert_eq!(self.calls(), seen, "more requests came");
            seen
        }

        /// Release the first batch (to be sent, or failed), wait for every slip to be recorded
        /// `sent`, stop, and check that the network took each slip once.
        async fn finish(mut self, send_first: bool) {
            assert!(self.first.take().unwrap().send(send_first).is_ok());
            let deadline = std::time::Instant::now() + Duration::from_secs(30);
            while self.sent() != (0, 5000) {
                assert!(std::time::Instant::now() < deadline, "{:?}", self.sent());
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            self.cancel.cancel();
            self.task.await.unwrap().unwrap();
            self.network.cancel();
            let net = rusqlite::Connection::open(self.dir.path().join("network.db")).unwrap();
            let (rows, ids): (i64, i64) = net
                .query_row(
                    "SELECT COUNT(*), COUNT(DISTINCT id) FROM confirmations WHERE status = 'accepted'",
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .unwrap();
            assert_eq!((rows, ids), (5000, 5000));
        }
    }

    /// Answers out of turn: the first batch is held while the next ones are answered. Their
    /// places on the wire go to the batches after them, up to six batches between sent and
    /// recorded (not three), and nothing is recorded before the first is answered. Then
    /// the first fails: every batch is sent again, and each slip is taken by the network
    /// once.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_answer_out_of_turn_frees_its_place_and_waits_for_the_first_to_be_recorded() {
        let scene = Scene::start(None).await;
        assert_eq!(
            scene
                .settles_at(|n| n >= OUTSTANDING_MAX, OUTSTANDING_MAX - 1)
                .await,
            OUTSTANDING_MAX
        );
        assert_eq!(scene.sent(), (5000, 0), "recorded out of turn");
        scene.finish(false).await;
    }

    /// A failure held behind an unanswered batch stops the sending at once: nothing more
    /// goes out until its turn comes; then the batches from it on are sent again.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failure_out_of_turn_stops_the_sending() {
        // The third batch (sales 5 and 6) fails.
        let scene = Scene::start(Some((5, 1))).await;
        // The first batch (held), the second (answered) and the third (failed); a fourth
        // only if the second was answered before the third failed.
        let calls = scene.settles_at(|n| n >= 3, 2).await;
        assert!(calls <= 4, "{calls} requests with a failure held");
        assert_eq!(scene.sent(), (5000, 0));
        scene.finish(true).await;
    }
}
