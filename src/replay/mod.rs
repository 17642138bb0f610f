//! `konbini replay`: a scan log through the register core into the journal, headless.
//!
//! Streaming: one line in memory at a time. Deterministic: only the log's `at` times are
//! used, never the wall clock. Resumable: every committed sale carries the replay's position
//! and counters in its own transaction (keyed by the log's SHA-256), so a replay killed at
//! any instant and run again continues right after its last committed sale and ends with
//! the same summary and journal as a run never interrupted. Receipts still queued (killed
//! between commit and print) are printed first.

mod log;
mod receipts;
mod summary;
pub mod synth;

use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::sync::upstream::{
    HttpUpstream, LOOKUP_ATTEMPT_TIMEOUT, Upstream, UpstreamError, lookup_with_retries,
};
use crate::sync::{SharedJournal, SyncHandle};
use konbini_devices::receipt::ReceiptStyle;
use konbini_journal::failpoint;
use konbini_journal::{Journal, JournalError, ReplayProgress};
use konbini_register::{Effect, LinkState, LookupAnswer, Msg, OfflineLimits, Register, Station};
pub use log::{Entry, Event, FORMAT_VERSION, LINE_MAX_BYTES, LineReader, parse_line};
pub use receipts::ReceiptDir;
pub use summary::{JournalSummary, SaleCounts, Summary, SyncSummary, Tally};

/// What to replay, and where.
#[derive(Debug, Clone)]
pub struct ReplayOptions {
    /// The scan log.
    pub log: PathBuf,
    /// The journal (created if missing).
    pub journal: PathBuf,
    /// Print receipts into this directory.
    pub receipts: Option<PathBuf>,
    /// Post confirmations to this payment network and look key-ins up there.
    pub upstream: Option<UpstreamOptions>,
    /// Sales committed together in one transaction (group commit): at most this many, and
    /// the rest at the end of the log. Receipts are printed and the sync task woken only
    /// once their sales' transaction is committed. 1: a transaction per sale.
    pub group_sales: usize,
    /// The bar codes the receipts carry (`konbini.toml`'s `[devices] receipt_barcode` and
    /// `bill_barcodes`).
    pub barcodes: konbini_devices::printer::ReceiptBarcodes,
}

/// Sales committed together by default: each group is one `synchronous=FULL` commit.
pub const DEFAULT_GROUP_SALES: usize = 1000;

/// The payment network a replay confirms to.
#[derive(Debug, Clone)]
pub struct UpstreamOptions {
    /// `http://host:port` or `https://...`.
    pub url: String,
    /// This register's terminal id at the network.
    pub terminal_id: String,
    /// Its shared secret.
    pub terminal_secret: String,
    /// How long to wait at the end for the outbox to drain.
    pub drain_timeout: Duration,
    /// How far to sell while the network is unreachable.
    pub limits: OfflineLimits,
    /// Run the sync task on this runtime (many replays in one process: `konbini fleet`)
    /// instead of one of its own. The replay itself must then run where it may block (a
    /// thread of its own, or the runtime's blocking pool).
    pub runtime: Option<tokio::runtime::Handle>,
    /// Time each slip from its sale's commit to its acceptance into this histogram.
    pub latency: Option<Arc<crate::sync::LatencyHistogram>>,
    /// Count the network's verdicts on this run's slips into this.
    pub verdicts: Option<Arc<crate::sync::VerdictCounts>>,
}

/// The runtime an online replay's sync task runs on.
enum SyncRuntime {
    /// Its own, stopped with it.
    Own(tokio::runtime::Runtime),
    /// A shared one (`konbini fleet`): its task is cancelled, the runtime goes on.
    Shared(tokio::runtime::Handle),
}

impl SyncRuntime {
    fn handle(&self) -> tokio::runtime::Handle {
        match self {
            SyncRuntime::Own(rt) => rt.handle().clone(),
            SyncRuntime::Shared(h) => h.clone(),
        }
    }
}

/// The sync task and the online look-ups of a replay with an upstream.
struct Online {
    rt: SyncRuntime,
    lookups: HttpUpstream,
    handle: Arc<SyncHandle>,
    cancel: CancellationToken,
    /// While offline: no slip before this outbox key is pending (saves rescanning).
    mark: std::cell::Cell<Option<(u64, u32)>>,
}

impl Online {
    /// The link for the offline limits. Online, the limits do not apply; offline, the
    /// unsent amount and age are read from the journal itself (not from the sync task's
    /// last refresh, which may lag a commit), from a low-water mark.
    fn link(&self, journal: &SharedJournal) -> Result<LinkState, ReplayError> {
        if self.handle.status().online {
            self.mark.set(None);
            return Ok(LinkState {
                online: true,
                pending: konbini_domain::Yen::ZERO,
                oldest_pending_at: None,
            });
        }
        let j = lock(journal);
        let mark = match self.mark.get() {
            Some(m) => m,
            None => {
                let m = match j.first_pending()? {
                    Some(m) => m,
                    None => (j.head()?.0 + 1, 0),
                };
                self.mark.set(Some(m));
                m
            }
        };
        let s = j.pending_summary(mark)?;
        Ok(LinkState {
            online: false,
            pending: konbini_domain::Yen::new(s.pending_yen),
            oldest_pending_at: s
                .oldest_pending_at
                .as_deref()
                .and_then(|t| DateTime::parse_from_rfc3339(t).ok()),
        })
    }

    fn start(opts: &UpstreamOptions, journal: &SharedJournal) -> Result<Online, ReplayError> {
        let bad = |detail: String| ReplayError::Upstream { detail };
        let upstream = HttpUpstream::new(
            &opts.url,
            &opts.terminal_id,
            &opts.terminal_secret,
            Duration::from_secs(10),
        )
        .map_err(bad)?;
        let lookups = HttpUpstream::new(
            &opts.url,
            &opts.terminal_id,
            &opts.terminal_secret,
            LOOKUP_ATTEMPT_TIMEOUT,
        )
        .map_err(bad)?;
        let rt = match &opts.runtime {
            Some(h) => SyncRuntime::Shared(h.clone()),
            None => SyncRuntime::Own(
                tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(1)
                    .enable_all()
                    .build()
                    .map_err(|e| bad(format!("cannot start the sync runtime: {e}")))?,
            ),
        };
        let handle_rt = rt.handle();
        let handle = Arc::new(SyncHandle::default());
        if let Some(h) = &opts.latency {
            handle.track_latency(h.clone());
        }
        if let Some(c) = &opts.verdicts {
            handle.count_verdicts(c.clone());
        }
        // Know the link before the first slip: the offline limits apply only once the
        // network is known to be unreachable (not while nothing has been tried yet).
        match handle_rt.block_on(lookups.probe()) {
            Ok(()) => handle.note_link(true, None, false),
            Err(e @ UpstreamError::Unauthorized(_)) => {
                eprintln!("konbini sync: {e}");
                handle.note_link(false, Some(e.to_string()), true);
            }
            Err(e) => handle.note_link(false, Some(e.to_string()), false),
        }
        let cancel = CancellationToken::new();
        handle_rt.spawn({
            let (journal, handle, cancel) = (journal.clone(), handle.clone(), cancel.clone());
            async move {
                if let Err(e) = crate::sync::run(journal, upstream, handle.clone(), cancel).await {
                    eprintln!("konbini sync stopped: {e}");
                    handle.note_link(false, Some(format!("the sync task stopped: {e}")), false);
                }
            }
        });
        Ok(Online {
            rt,
            lookups,
            handle,
            cancel,
            mark: std::cell::Cell::new(None),
        })
    }

    /// Look a key-in up, a few attempts within about 3 s, else `Offline`.
    fn lookup(&self, reference: &konbini_domain::PaperlessRef) -> LookupAnswer {
        let rt = self.rt.handle();
        lookup_with_retries(|| rt.block_on(self.lookups.lookup(reference)))
    }

    /// Wait until nothing is pending, or `timeout`.
    fn drain(&self, journal: &SharedJournal, timeout: Duration) -> Result<(), ReplayError> {
        let start = std::time::Instant::now();
        // Watched by a low-water mark: each look scans only what was sent since the last.
        let mut mark = (0u64, 0u32);
        loop {
            let first = lock(journal)
                .pending_from(mark, 1)?
                .first()
                .map(|p| p.key());
            match first {
                None => return Ok(()),
                Some(_) if start.elapsed() >= timeout => return Ok(()),
                Some(key) => mark = key,
            }
            self.handle.wake();
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn stop(self) {
        self.cancel.cancel();
        if let SyncRuntime::Own(rt) = self.rt {
            rt.shutdown_timeout(Duration::from_secs(2));
        }
    }
}

/// A register with the offline limits of the upstream, if any.
fn new_register(opts: &ReplayOptions, station: Station) -> Register {
    let register = Register::new(station);
    match &opts.upstream {
        Some(u) => register.with_limits(u.limits),
        None => register,
    }
}

fn lock(journal: &SharedJournal) -> std::sync::MutexGuard<'_, Journal> {
    journal.lock().unwrap_or_else(|e| e.into_inner())
}

/// What can stop a replay. Each names the file at fault.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// The log cannot be read.
    #[error("scan log {path}: {source}")]
    Log {
        /// The log.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The log's header asks for a format this build does not read.
    #[error(
        "scan log {path}:{line}: format version {version} is not supported (this konbini reads versions 1 and 2)"
    )]
    Version {
        /// The log.
        path: PathBuf,
        /// The header's line.
        line: u64,
        /// The version it asks for.
        version: u64,
    },
    /// The journal failed.
    #[error(transparent)]
    Journal(#[from] JournalError),
    /// The upstream cannot be used as given.
    #[error("upstream: {detail}")]
    Upstream {
        /// What is wrong.
        detail: String,
    },
    /// A receipt could not be written.
    #[error("receipts directory {path}: {source}")]
    Receipts {
        /// The directory.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}

/// Everything a replay needs to resume: saved with each committed sale.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct ReplayState {
    tally: Tally,
    /// From the header, if there was one.
    station: Option<Station>,
    /// Whether a non-blank line has been read (a header is only valid before that).
    started: bool,
    /// The latest `at` read: times may not go backwards.
    last_at: Option<DateTime<FixedOffset>>,
    /// The header's format version (0: no header, read as version 1): version 2's events
    /// are unknown events in an older log, as they always were.
    #[serde(default)]
    version: u64,
    /// The drawer's float from a version 2 header (the day close counts on it).
    #[serde(default)]
    float: konbini_domain::Yen,
}

/// How the replay reports what a person should see while it runs.
pub trait Observer {
    /// A bad line, with its 1-based number and the reason.
    fn bad_line(&mut self, line: u64, reason: &str);
    /// Progress in bytes of the log.
    fn progress(&mut self, _offset: u64, _len: u64) {}
}

/// Replay `opts.log` into `opts.journal`; the summary when the log was read to its end.
/// Receipts (with `opts.receipts`) are printed in the default style: Japanese, stamps
/// affixed.
pub fn replay(opts: &ReplayOptions, observer: &mut dyn Observer) -> Result<Summary, ReplayError> {
    replay_styled(opts, &ReceiptStyle::default(), observer)
}

/// [`replay`], the receipts printed in `style` (`konbini.toml`'s receipt language and
/// stamp duty setting).
pub fn replay_styled(
    opts: &ReplayOptions,
    style: &ReceiptStyle,
    observer: &mut dyn Observer,
) -> Result<Summary, ReplayError> {
    let log_err = |source| ReplayError::Log {
        path: opts.log.clone(),
        source,
    };
    let (log_sha256, log_len) = hash_file(&opts.log).map_err(log_err)?;
    let journal = Journal::open(&opts.journal)?;
    // Never append to a journal whose chain is broken: that would bury the evidence.
    journal.verify(None)?;
    let journal: SharedJournal = Arc::new(Mutex::new(journal));
    let printer = opts
        .receipts
        .as_deref()
        .map(|dir| {
            ReceiptDir::create(dir)
                .map(|d| {
                    d.with_barcodes(opts.barcodes)
                        .with_style(style.clone())
                        .with_journal_id(lock(&journal).journal_id())
                })
                .map_err(|source| ReplayError::Receipts {
                    path: dir.to_owned(),
                    source,
                })
        })
        .transpose()?;
    if let Some(printer) = &printer {
        let queued = lock(&journal).queued_prints()?;
        for seq in queued {
            print_receipt(&mut lock(&journal), printer, seq)?;
        }
    }
    let online = opts
        .upstream
        .as_ref()
        .map(|u| Online::start(u, &journal))
        .transpose()?;

    let saved = lock(&journal).replay_progress(&log_sha256)?;
    let (mut state, start) = match &saved {
        Some(p) => (
            serde_json::from_str::<ReplayState>(&p.state).map_err(|e| {
                JournalError::NotAJournal {
                    path: opts.journal.clone(),
                    detail: format!("unreadable replay progress: {e}"),
                }
            })?,
            (p.offset, p.line),
        ),
        None => (ReplayState::default(), (0, 0)),
    };
    // A close committed by a run killed before it printed its Z report: printed now.
    if let Some(printer) = &printer {
        let station = state.station.clone().unwrap_or_default();
        print_pending_z(&mut lock(&journal), printer, &station, false)?;
    }
    if !saved.as_ref().is_some_and(|p| p.finished) {
        let mut run = Run {
            opts,
            log_sha256: &log_sha256,
            journal: &journal,
            online: online.as_ref(),
            printer: printer.as_ref(),
            register: new_register(opts, state.station.clone().unwrap_or_default()),
            offset: start.0,
            line: start.1,
            grouped: 0,
            unprinted: Vec::new(),
        };
        run.read_log(&mut state, log_len, observer)?;
    }
    let sync = match online {
        Some(online) => {
            let timeout = opts
                .upstream
                .as_ref()
                .map_or(Duration::ZERO, |u| u.drain_timeout);
            let drained = online.drain(&journal, timeout);
            online.stop();
            drained?;
            let s = lock(&journal).outbox_summary((0, 0))?;
            Some(SyncSummary {
                sent: s.sent,
                pending: s.pending,
                conflicts: s.conflicts,
                rejected: s.rejected,
            })
        }
        None => None,
    };
    let (sales, head) = lock(&journal).head()?;
    Ok(Summary {
        tally: state.tally,
        journal: JournalSummary {
            path: opts.journal.display().to_string(),
            sales,
            head,
        },
        sync,
    })
}

/// One pass over the rest of a log.
struct Run<'a> {
    opts: &'a ReplayOptions,
    log_sha256: &'a str,
    journal: &'a SharedJournal,
    online: Option<&'a Online>,
    printer: Option<&'a ReceiptDir>,
    register: Register,
    /// Bytes and lines fully processed.
    offset: u64,
    line: u64,
    /// Sales written in the open group, not yet committed.
    grouped: usize,
    /// Receipts of those sales, printed once the group is committed.
    unprinted: Vec<u64>,
}

impl Run<'_> {
    fn read_log(
        &mut self,
        state: &mut ReplayState,
        log_len: u64,
        observer: &mut dyn Observer,
    ) -> Result<(), ReplayError> {
        let log_err = |source| ReplayError::Log {
            path: self.opts.log.clone(),
            source,
        };
        let mut file = File::open(&self.opts.log).map_err(log_err)?;
        file.seek(SeekFrom::Start(self.offset)).map_err(log_err)?;
        let mut reader = LineReader::new(BufReader::with_capacity(64 * 1024, file), self.offset);
        observer.progress(self.offset, log_len);
        let mut buf = Vec::new();
        while let Some(read) = reader.next_line(&mut buf).map_err(log_err)? {
            self.line += 1;
            self.offset = read.end_offset;
            if self.line.is_multiple_of(256) {
                observer.progress(self.offset, log_len);
            }
            let entry = if read.too_long {
                Entry::Bad(format!("longer than {LINE_MAX_BYTES} bytes"))
            } else {
                parse_line(&buf)
            };
            self.entry(state, entry, observer)?;
            if self.grouped >= self.opts.group_sales.max(1) {
                self.commit_group()?;
            }
            failpoint::hit("replay-line");
        }
        for effect in self.register.update(Msg::EndOfInput) {
            if effect == Effect::SaleAbandoned {
                state.tally.sales.abandoned += 1;
            }
        }
        observer.progress(self.offset, log_len);
        // The end of the log joins the open group, so that its sales are never committed
        // without the position after them; then their receipts, whose print marks go into
        // one last commit.
        lock(self.journal).save_replay_progress(
            self.log_sha256,
            &ReplayProgress {
                offset: self.offset,
                line: self.line,
                state: serde_json::to_string(&*state).expect("state serializes"),
                finished: true,
            },
        )?;
        self.commit_group()?;
        lock(self.journal).commit_group()?;
        // A close in a last group without sales: committed just now, printed now.
        if let Some(printer) = self.printer {
            print_pending_z(
                &mut lock(self.journal),
                printer,
                self.register.station(),
                false,
            )?;
        }
        Ok(())
    }

    /// Commit the open group of sales; then print their receipts and wake the sync task,
    /// as "journal first" wants. The receipts' print marks go into the next group (a kill
    /// before it commits leaves them queued, and the re-run prints them again, the same).
    fn commit_group(&mut self) -> Result<(), ReplayError> {
        if self.grouped == 0 {
            return Ok(());
        }
        lock(self.journal).commit_group()?;
        self.grouped = 0;
        if let Some(online) = self.online {
            if online.handle.tracks_latency() {
                online.handle.note_commit(lock(self.journal).head()?.0);
            }
            online.handle.wake();
        }
        let printed = std::mem::take(&mut self.unprinted);
        if let Some(printer) = self.printer {
            let mut journal = lock(self.journal);
            for seq in printed {
                write_receipt(&mut journal, printer, seq)?;
                failpoint::hit("replay-after-print");
                journal.begin_group()?;
                journal.mark_printed(seq)?;
            }
            print_pending_z(&mut journal, printer, self.register.station(), true)?;
        }
        Ok(())
    }

    fn entry(
        &mut self,
        state: &mut ReplayState,
        entry: Entry,
        observer: &mut dyn Observer,
    ) -> Result<(), ReplayError> {
        let first = !state.started;
        match entry {
            Entry::Blank => return Ok(()),
            Entry::Header(header) if first => {
                state.started = true;
                if !(1..=FORMAT_VERSION).contains(&header.version) {
                    return Err(ReplayError::Version {
                        path: self.opts.log.clone(),
                        line: self.line,
                        version: header.version,
                    });
                }
                state.version = header.version;
                match header.station {
                    Ok((station, float)) => {
                        self.register = new_register(self.opts, station.clone());
                        state.station = Some(station);
                        state.float = float.unwrap_or_default();
                    }
                    // A header of the wrong form is a bad line; the defaults stand.
                    Err(detail) => {
                        state.tally.events += 1;
                        state.tally.ignore("bad_line");
                        observer.bad_line(self.line, &format!("bad header: {detail}"));
                    }
                }
                return Ok(());
            }
            _ => {}
        }
        state.started = true;
        state.tally.events += 1;
        let bad = match entry {
            Entry::Blank => unreachable!("returned above"),
            Entry::Header(_) => "a header after the first line".to_owned(),
            Entry::Bad(reason) => reason,
            Entry::Event { event, .. } if event.since_version() > state.version.max(1) => {
                format!("unknown event `{}`", event.key())
            }
            Entry::Event { at, event } => {
                if let Some(last) = state.last_at
                    && at < last
                {
                    format!(
                        "`at` {} is before the previous line's {}",
                        at.to_rfc3339(),
                        last.to_rfc3339()
                    )
                } else {
                    state.last_at = Some(at);
                    if let Some(online) = self.online
                        && matches!(event, Event::Scan(_) | Event::KeyIn { .. })
                    {
                        let link = online.link(self.journal)?;
                        self.register.update(Msg::Link(link));
                    }
                    return self.feed(state, event.into_msg(at));
                }
            }
        };
        state.tally.ignore("bad_line");
        observer.bad_line(self.line, &bad);
        Ok(())
    }

    /// Run one message through the core, answering its questions and carrying out its
    /// effects in order until it has nothing more to say.
    fn feed(&mut self, state: &mut ReplayState, msg: Msg) -> Result<(), ReplayError> {
        let mut queue = VecDeque::from([msg]);
        while let Some(msg) = queue.pop_front() {
            for effect in self.register.update(msg) {
                match effect {
                    Effect::CheckPaid(slip) => queue.push_back(Msg::PaidChecked {
                        already_paid: lock(self.journal).is_paid(&slip.pay_key())?,
                        slip,
                    }),
                    // Without a payment network every key-in is offline.
                    Effect::Lookup { at, reference } => {
                        let answer = self
                            .online
                            .map_or(LookupAnswer::Offline, |o| o.lookup(&reference));
                        queue.push_back(Msg::LookedUp {
                            at,
                            reference,
                            answer,
                        })
                    }
                    Effect::Rejected(rejection) => state.tally.reject(rejection.reason),
                    Effect::Ignored(reason) => state.tally.ignore(reason.as_str()),
                    Effect::CommitSale { sale, voided } => {
                        // The state after this line, saved atomically with the sale. In a
                        // group only the sale that closes it needs it: a group is committed
                        // whole or not at all, and the end of the log saves its own.
                        let mut after = state.clone();
                        after.tally.completed(&sale);
                        after.tally.voided_slips += voided.len() as u64;
                        let closes_group = self.grouped + 1 >= self.opts.group_sales.max(1);
                        let progress = closes_group.then(|| ReplayProgress {
                            offset: self.offset,
                            line: self.line,
                            state: serde_json::to_string(&after).expect("state serializes"),
                            finished: false,
                        });
                        // Written into the open group: the register goes on as if committed,
                        // and nothing leaves (receipt, sync) until the group is.
                        let committed = {
                            let mut journal = lock(self.journal);
                            if self.opts.group_sales > 1 {
                                journal.begin_group()?;
                            }
                            journal.commit_sale_voided(
                                &sale,
                                &voided,
                                progress.as_ref().map(|p| (self.log_sha256, p)),
                            )?
                        };
                        *state = after;
                        if self.opts.group_sales > 1 {
                            self.grouped += 1;
                        } else if let Some(online) = self.online {
                            online.handle.note_commit(committed.seq);
                            online.handle.wake();
                        }
                        queue.push_back(Msg::Committed { seq: committed.seq });
                    }
                    Effect::PrintReceipt { seq } => {
                        if let Some(printer) = self.printer {
                            if self.grouped > 0 {
                                self.unprinted.push(seq);
                            } else {
                                print_receipt(&mut lock(self.journal), printer, seq)?;
                            }
                        }
                    }
                    Effect::SaleCancelled(cancelled) => {
                        let mut after = state.clone();
                        after.tally.sales.cancelled += 1;
                        after.tally.voided_slips += cancelled.voided.len() as u64;
                        self.record(&after, |journal, progress| {
                            journal.record_cancel(&cancelled, progress).map(|_| ())
                        })?;
                        *state = after;
                    }
                    Effect::CloseDay(request) => {
                        let float = state.float;
                        let mut after = state.clone();
                        after.tally.day_closes += 1;
                        let closed = self.record(&after, |journal, progress| {
                            journal.close_day(&request, float, progress)
                        })?;
                        match closed {
                            Ok(_) => {
                                *state = after;
                                // Printed once committed: at once, or after its group's
                                // commit (a kill before the print leaves it unprinted, and
                                // the next run prints it).
                                if let Some(printer) = self.printer
                                    && self.opts.group_sales <= 1
                                {
                                    print_pending_z(
                                        &mut lock(self.journal),
                                        printer,
                                        &request.station,
                                        false,
                                    )?;
                                }
                            }
                            // Nothing written: the day was closed already.
                            Err(_) => state.tally.ignore("day_already_closed"),
                        }
                    }
                    Effect::SaleAbandoned => state.tally.sales.abandoned += 1,
                    // Counted at commit; no drawer, no sync, nothing to show in a replay.
                    Effect::SaleCompleted { .. }
                    | Effect::SlipAdded { .. }
                    | Effect::SlipVoided { .. }
                    | Effect::Tendered { .. }
                    | Effect::OpenDrawer
                    | Effect::WakeSync
                    | Effect::CommitFailed { .. } => {}
                }
            }
        }
        Ok(())
    }
}

impl Run<'_> {
    /// Write a non-sale record with `write`: into the open group when sales are grouped
    /// (the group's commit carries the position), else in a transaction of its own that
    /// also saves the position after this line (`after`), so a kill never writes it twice.
    fn record<T>(
        &mut self,
        after: &ReplayState,
        write: impl FnOnce(&mut Journal, Option<(&str, &ReplayProgress)>) -> Result<T, JournalError>,
    ) -> Result<T, ReplayError> {
        let mut journal = lock(self.journal);
        if self.opts.group_sales > 1 {
            journal.begin_group()?;
            return Ok(write(&mut journal, None)?);
        }
        let progress = ReplayProgress {
            offset: self.offset,
            line: self.line,
            state: serde_json::to_string(after).expect("state serializes"),
            finished: false,
        };
        Ok(write(&mut journal, Some((self.log_sha256, &progress)))?)
    }
}

/// Print the Z reports closed and not yet printed, oldest first, each marked printed after
/// its files are written (in the next group when `grouped`). Printing one again gives the
/// same files, which are kept.
fn print_pending_z(
    journal: &mut Journal,
    printer: &ReceiptDir,
    station: &konbini_register::Station,
    grouped: bool,
) -> Result<(), ReplayError> {
    for z in journal.unprinted_z()? {
        let Some(report) = journal.z_report(z)? else {
            continue;
        };
        let receipt =
            konbini_devices::receipt::Receipt::for_report(station, &report, printer.style().lang);
        let path = printer
            .print_receipt(&receipt)
            .map_err(|source| ReplayError::Receipts {
                path: printer.dir().to_owned(),
                source,
            })?;
        say_if_renamed(&path, &receipt.number);
        failpoint::hit("replay-after-print");
        if grouped {
            journal.begin_group()?;
        }
        journal.mark_z_printed(z)?;
    }
    Ok(())
}

/// Print a committed sale's receipt and mark its job done.
fn print_receipt(journal: &mut Journal, printer: &ReceiptDir, seq: u64) -> Result<(), ReplayError> {
    write_receipt(journal, printer, seq)?;
    failpoint::hit("replay-after-print");
    journal.mark_printed(seq)?;
    Ok(())
}

/// Write a committed sale's receipt files (the job stays queued until marked).
fn write_receipt(journal: &mut Journal, printer: &ReceiptDir, seq: u64) -> Result<(), ReplayError> {
    let Some(sale) = journal.sale(seq)? else {
        return Ok(());
    };
    let path = printer
        .print(&sale)
        .map_err(|source| ReplayError::Receipts {
            path: printer.dir().to_owned(),
            source,
        })?;
    say_if_renamed(&path, &konbini_devices::receipt::receipt_number(&sale));
    Ok(())
}

/// On stderr: a receipt printed under another name than its number, because another
/// journal's receipt (or another file) held that name. Nothing is ever overwritten.
fn say_if_renamed(path: &Path, number: &str) {
    if receipts::renamed(path, number) {
        eprintln!(
            "receipts: {number}.txt is another journal's (or another file): printed as {} instead, nothing overwritten",
            path.display()
        );
    }
}

/// SHA-256 (hex) and length of a file, read in a stream.
fn hash_file(path: &Path) -> std::io::Result<(String, u64)> {
    let mut file = File::open(path)?;
    // Read twice (hashed, then replayed) and resumed by offset: a pipe cannot be.
    if !file.metadata()?.is_file() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a regular file (a pipe or a directory cannot be replayed and resumed)",
        ));
    }
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut len = 0u64;
    loop {
        let n = match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&buf[..n]);
        len += n as u64;
    }
    Ok((hex::encode(hasher.finalize()), len))
}
