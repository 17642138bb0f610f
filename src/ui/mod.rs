//! `konbini register`: the clerk's terminal UI, and the one place its parts are wired.
//!
//! - `app`: the screen's state and `handle(Input) -> Vec<Job>`; feeds the register core.
//! - `view`: draws an `App` (read-only).
//! - `tender`: the rules of keyed cash (a barcode attempt is never cash).
//! - `text`: every word, Japanese and English.
//! - `worker`: carries out jobs against the journal, printer, session log and network.
//! - `record`: the session log (a scan log a replay turns into the same sales).
//! - `config`: `konbini.toml` and the flags.
//!
//! Threads: the main thread only waits for inputs, updates the app and draws. Keys come
//! from a reader thread; journal jobs (record, paid-before, commit) run in order on one
//! worker thread; printing, the drawer, reports and demo vouchers on another; network
//! look-ups each on their own thread; the payment network (embedded or not), the sync
//! task and a serial scanner on a small tokio runtime. Nothing slow ever runs between two
//! frames.

pub mod app;
pub mod config;
pub mod record;
pub mod tender;
pub mod text;
pub mod view;
pub mod worker;

use std::sync::atomic::Ordering;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{DateTime, FixedOffset};
use ratatui::crossterm::event::{self, DisableBracketedPaste, EnableBracketedPaste, Event};
use tokio_util::sync::CancellationToken;

use crate::replay::ReceiptDir;
use crate::sync::upstream::{HttpUpstream, LOOKUP_ATTEMPT_TIMEOUT, UpstreamError};
use crate::sync::{SharedJournal, SyncHandle};
use konbini_domain::time::in_japan;
use konbini_journal::Journal;
use konbini_register::Register;

pub use app::{Answer, App, Input, Job, JournalState, PrinterState, ScannerState, Screen, Status};
pub use config::RegisterArgs;
pub use text::Lang;
pub use worker::{Demo, NetLink, Printer, Services};

/// How often the clock on screen and the link status are refreshed.
const TICK: Duration = Duration::from_secs(1);
/// Longest wait at quit for a worker to finish its jobs.
const WORKER_EXIT_WAIT: Duration = Duration::from_secs(5);
/// How often a held receipt is tried again.
const PRINT_RETRY: Duration = Duration::from_secs(2);

/// Now, in Japan, to the millisecond (the scan log's precision, so a replay reads back
/// exactly the time the core was given).
pub fn now_jst() -> DateTime<FixedOffset> {
    let now = in_japan(&chrono::Utc::now());
    let ms = now.timestamp_subsec_millis();
    now.with_nanosecond(ms * 1_000_000).unwrap_or(now)
}

use chrono::Timelike;

/// The status bar before anything has been heard from the devices.
pub fn initial_status(settings: &config::RegisterConfig) -> Status {
    Status {
        link: None,
        scanner: match &settings.scanner {
            None => ScannerState::Keyboard,
            Some(c) => ScannerState::Unplugged(c.path.display().to_string(), "opening".into()),
        },
        printer: match &settings.printer {
            None => PrinterState::Virtual(settings.receipts.display().to_string()),
            Some(_) => PrinterState::Ready,
        },
        print_queue: 0,
        journal: JournalState::Checking,
    }
}

/// Run the register until the clerk quits.
pub fn run(args: &RegisterArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let settings = config::resolve(args, now_jst())?;
    // Before anything is created: without a terminal there is no register to run.
    // SAFETY: isatty on the standard descriptors.
    if unsafe { libc::isatty(0) != 1 || libc::isatty(1) != 1 } {
        anyhow::bail!(
            "the register needs a terminal: stdin and stdout must be a tty (for scripts, `konbini replay` takes a scan log)"
        );
    }
    // Everything that can refuse to start does so before the terminal is taken over.
    let journal = Journal::open(&settings.journal)?;
    let print_floor = first_sale_of_today(&journal)?;
    let journal_id = journal.journal_id().to_owned();
    let journal: SharedJournal = Arc::new(Mutex::new(journal));
    let receipts = ReceiptDir::create(&settings.receipts)
        .with_context(|| format!("receipts directory {}", settings.receipts.display()))?
        .with_barcodes(settings.barcodes)
        .with_style(settings.receipt_style.clone())
        .with_journal_id(&journal_id);
    let reports = receipts.clone();
    let recorder = record::Recorder::create_with_float(
        &settings.record,
        &settings.station,
        settings.drawer_float,
    )?;
    let printer = match &settings.printer {
        None => Printer::Virtual(receipts),
        Some((path, baud, columns)) => Printer::Port {
            path: path.clone(),
            baud: *baud,
            columns: *columns,
            barcodes: settings.barcodes,
            style: settings.receipt_style.clone(),
            port: Mutex::new(None),
        },
    };
    let services = Arc::new(Services {
        journal: journal.clone(),
        printer,
        reports: Some(reports),
        recorder: Some(Mutex::new(recorder)),
        net: OnceLock::new(),
        demo: Mutex::new(Demo::default()),
        station: settings.station.clone(),
        broken: Default::default(),
        print_floor: print_floor.into(),
        auto_print: true.into(),
    });
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .context("cannot start the register's runtime")?;
    let cancel = CancellationToken::new();

    let register = Register::new(settings.station.clone()).with_limits(settings.limits);
    let mut app = App::new(
        register,
        settings.lang,
        initial_status(&settings),
        now_jst(),
    )
    .with_store_settings(settings.drawer_float, settings.receipt_style.stamp.clone());

    // Anything written to stderr while the screen is up (a library's warning, the network
    // simulator's log lines) would be drawn over it: it goes to a log beside the session.
    let log = {
        let mut name = settings.record.clone().into_os_string();
        name.push(".stderr");
        std::path::PathBuf::from(name)
    };
    let stderr_saved = redirect_stderr(&log);
    // Installed first: ratatui's own hook (restore the terminal) then runs before it.
    restore_stderr_on_panic(stderr_saved);
    let mut terminal = match ratatui::try_init() {
        Ok(t) => t,
        Err(e) => {
            restore_stderr(stderr_saved);
            ratatui::restore();
            anyhow::bail!("the register needs a terminal (stdin and stdout a tty): {e}");
        }
    };
    let _ = ratatui::crossterm::execute!(std::io::stdout(), EnableBracketedPaste);
    let drawn = terminal.draw(|f| view::draw(f, &app));
    if settings.exit_after_first_frame || drawn.is_err() {
        let _ = ratatui::crossterm::execute!(std::io::stdout(), DisableBracketedPaste);
        ratatui::restore();
        restore_stderr(stderr_saved);
        drawn.context("cannot draw on this terminal")?;
        println!(
            "first frame after {:.1} ms",
            started.elapsed().as_secs_f64() * 1e3
        );
        return Ok(());
    }

    let (tx, rx) = mpsc::channel::<Input>();
    spawn_input_reader(tx.clone());
    let (journal_jobs, journal_done) = spawn_worker("journal", services.clone(), tx.clone(), None);
    let (device_jobs, device_done) =
        spawn_worker("devices", services.clone(), tx.clone(), Some(PRINT_RETRY));
    {
        let (services, tx, path) = (services.clone(), tx.clone(), settings.journal.clone());
        std::thread::spawn(move || {
            let checked = worker::check_journal(&path);
            if checked.is_err() {
                services.broken.store(true, Ordering::Relaxed);
            }
            let _ = tx.send(Input::Answer(Answer::JournalChecked(checked)));
        });
    }
    // Receipts a killed session left queued print first.
    let _ = device_jobs.send(Job::Print);
    rt.spawn(start_network(
        settings.clone(),
        services.clone(),
        tx.clone(),
        cancel.clone(),
    ));
    if let Some(config) = settings.scanner.clone() {
        spawn_scanner(&rt, config, tx.clone(), cancel.clone());
    }

    let outcome = main_loop(
        &mut terminal,
        &mut app,
        &rx,
        &services,
        &journal_jobs,
        &device_jobs,
        &tx,
    );
    let _ = ratatui::crossterm::execute!(std::io::stdout(), DisableBracketedPaste);
    ratatui::restore();
    cancel.cancel();
    // The workers finish what they were given (a commit under way, the session log's last
    // lines, a receipt being printed) before the runtime they use goes away; a device that
    // hangs is not waited for past a few seconds.
    drop(journal_jobs);
    drop(device_jobs);
    let _ = journal_done.recv_timeout(WORKER_EXIT_WAIT);
    let _ = device_done.recv_timeout(WORKER_EXIT_WAIT);
    rt.shutdown_timeout(Duration::from_secs(2));
    restore_stderr(stderr_saved);
    // Nothing was said: no empty log left beside the session.
    if std::fs::metadata(&log).is_ok_and(|m| m.len() == 0) {
        let _ = std::fs::remove_file(&log);
    }
    outcome?;
    let sales = services
        .journal
        .lock()
        .map(|j| j.head().map(|(n, _)| n).unwrap_or(0))
        .unwrap_or(0);
    println!(
        "konbini register: {sales} sales in {}; session recorded in {}",
        settings.journal.display(),
        settings.record.display()
    );
    Ok(())
}

/// The first sale of today in Japan (or the next sale's number): the register prints
/// queued receipts from there on.
fn first_sale_of_today(journal: &Journal) -> anyhow::Result<u64> {
    let today = konbini_domain::time::business_date(&now_jst());
    Ok(
        match journal.first_sale_since(&today.format("%Y-%m-%d").to_string())? {
            Some(seq) => seq,
            None => journal.head()?.0 + 1,
        },
    )
}

fn main_loop(
    terminal: &mut ratatui::DefaultTerminal,
    app: &mut App,
    rx: &Receiver<Input>,
    services: &Arc<Services>,
    journal_jobs: &Sender<Job>,
    device_jobs: &Sender<Job>,
    tx: &Sender<Input>,
) -> anyhow::Result<()> {
    let mut next_tick = Instant::now() + TICK;
    loop {
        let wait = next_tick.saturating_duration_since(Instant::now());
        let first = match rx.recv_timeout(wait) {
            Ok(input) => Some(input),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => return Ok(()),
        };
        let mut inputs: Vec<Input> = first.into_iter().collect();
        // Everything already waiting is handled before the next frame (a scanner burst,
        // a paste, a flood of answers): one frame for all of it.
        inputs.extend(rx.try_iter().take(1024));
        if Instant::now() >= next_tick {
            next_tick = Instant::now() + TICK;
            if let Some(net) = services.net.get() {
                inputs.push(Input::Answer(Answer::Link(net.sync.status())));
            }
            inputs.push(Input::Tick);
        }
        for input in inputs {
            // The clerk's screen says trouble in the clerk's language; its words (a path,
            // an OS error, in English) go to the session's stderr log, where they are kept.
            if let Input::Answer(Answer::Trouble(why)) = &input {
                eprintln!("konbini register: {why}");
            }
            let jobs = app.handle(input, now_jst());
            dispatch(jobs, services, journal_jobs, device_jobs, tx);
        }
        if app.quit {
            return Ok(());
        }
        terminal
            .draw(|f| view::draw(f, app))
            .context("cannot draw on this terminal")?;
    }
}

/// Send each job to the worker that does it.
fn dispatch(
    jobs: Vec<Job>,
    services: &Arc<Services>,
    journal_jobs: &Sender<Job>,
    device_jobs: &Sender<Job>,
    tx: &Sender<Input>,
) {
    for job in jobs {
        match job {
            Job::Record { .. }
            | Job::CheckPaid(_)
            | Job::Commit { .. }
            | Job::RecordCancel(_)
            | Job::CloseDay { .. }
            | Job::LoadAlerts
            | Job::Acknowledge { .. }
            | Job::WakeSync
            | Job::LoadJournal { .. } => {
                let _ = journal_jobs.send(job);
            }
            // A look-up can take seconds when the network is down, and adding up a long
            // day (the reading) as long: each on its own thread.
            Job::Lookup { .. } | Job::LoadDay { .. } => {
                let (services, tx) = (services.clone(), tx.clone());
                std::thread::spawn(move || {
                    for answer in services.run(job) {
                        let _ = tx.send(Input::Answer(answer));
                    }
                });
            }
            Job::OpenDrawer
            | Job::Print
            | Job::Reprint(_)
            | Job::PrintReport { .. }
            | Job::NextDemoScan
            | Job::NextDemoKeyIn => {
                let _ = device_jobs.send(job);
            }
        }
    }
}

/// A worker thread running jobs in order. With `retry`, it also drains held receipts that
/// often while a print job is queued.
fn spawn_worker(
    name: &str,
    services: Arc<Services>,
    tx: Sender<Input>,
    retry: Option<Duration>,
) -> (Sender<Job>, Receiver<()>) {
    let (jobs_tx, jobs_rx) = mpsc::channel::<Job>();
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let _ = std::thread::Builder::new()
        .name(format!("konbini-{name}"))
        .spawn(move || {
            // Dropped when the thread ends, however: the main thread's wait ends then.
            let _done = done_tx;
            loop {
                let job = match retry {
                    None => match jobs_rx.recv() {
                        Ok(j) => Some(j),
                        Err(_) => return,
                    },
                    Some(every) => match jobs_rx.recv_timeout(every) {
                        Ok(j) => Some(j),
                        Err(RecvTimeoutError::Timeout) => None,
                        Err(RecvTimeoutError::Disconnected) => return,
                    },
                };
                let answers = match job {
                    Some(job) => services.run(job),
                    None if services.retry_prints() => services.drain_prints(),
                    None => continue,
                };
                for answer in answers {
                    if tx.send(Input::Answer(answer)).is_err() {
                        return;
                    }
                }
            }
        });
    (jobs_tx, done_rx)
}

fn spawn_input_reader(tx: Sender<Input>) {
    std::thread::spawn(move || {
        loop {
            let input = match event::read() {
                Ok(Event::Key(key)) => Input::Key(key),
                Ok(Event::Paste(text)) => Input::Paste(text),
                Ok(Event::Resize(..)) => Input::Resize,
                Ok(_) => continue,
                // The terminal is gone (hung up): end the session.
                Err(_) => Input::Hangup,
            };
            let hangup = matches!(input, Input::Hangup);
            if tx.send(input).is_err() || hangup {
                return;
            }
        }
    });
}

fn spawn_scanner(
    rt: &tokio::runtime::Runtime,
    config: konbini_devices::scanner::ReaderConfig,
    tx: Sender<Input>,
    cancel: CancellationToken,
) {
    let (events_tx, mut events_rx) = tokio::sync::mpsc::channel(64);
    let path = config.path.display().to_string();
    rt.spawn(konbini_devices::scanner::reader::run(
        config, events_tx, cancel,
    ));
    rt.spawn(async move {
        use konbini_devices::scanner::reader::ScannerEvent;
        while let Some(ev) = events_rx.recv().await {
            let input = match ev {
                ScannerEvent::Frame(frame) => Input::Scanned(frame.text),
                ScannerEvent::Connected => Input::Scanner(ScannerState::Connected(path.clone())),
                ScannerEvent::Disconnected { error } => {
                    Input::Scanner(ScannerState::Unplugged(path.clone(), error))
                }
            };
            if tx.send(input).is_err() {
                return;
            }
        }
    });
}

/// Bring up the payment network (the embedded one, or the configured upstream), the sync
/// task and the demo vouchers. Runs on the runtime; the clerk can sell meanwhile.
async fn start_network(
    settings: config::RegisterConfig,
    services: Arc<Services>,
    tx: Sender<Input>,
    cancel: CancellationToken,
) {
    let trouble = |e: String| {
        let _ = tx.send(Input::Answer(Answer::Trouble(e)));
    };
    let terminal = settings.station.terminal.clone();
    let mut embedded = None;
    let (url, secret) = match &settings.upstream {
        Some((url, secret)) => (url.clone(), secret.clone()),
        None => match crate::embedded::start(&settings.network_db, &terminal).await {
            Ok(e) => {
                let pair = (e.url.clone(), e.terminal_secret.clone());
                embedded = Some(e);
                pair
            }
            Err(e) => return trouble(format!("embedded payment network: {e}")),
        },
    };
    let made =
        HttpUpstream::new(&url, &terminal, &secret, Duration::from_secs(10)).and_then(|sync| {
            HttpUpstream::new(&url, &terminal, &secret, LOOKUP_ATTEMPT_TIMEOUT)
                .map(|lookups| (sync, lookups))
        });
    let (upstream, lookups) = match made {
        Ok(pair) => pair,
        Err(e) => return trouble(format!("upstream {url}: {e}")),
    };
    let handle = Arc::new(SyncHandle::default());
    match lookups.probe().await {
        Ok(()) => handle.note_link(true, None, false),
        Err(e @ UpstreamError::Unauthorized(_)) => {
            handle.note_link(false, Some(e.to_string()), true)
        }
        Err(e) => handle.note_link(false, Some(e.to_string()), false),
    }
    let demo_api = embedded
        .as_ref()
        .map(|e| (e.url.clone(), e.api_key.clone()));
    let _ = services.net.set(NetLink {
        rt: tokio::runtime::Handle::current(),
        lookups,
        sync: handle.clone(),
        demo_api: demo_api.clone(),
    });
    let _ = tx.send(Input::Answer(Answer::Link(handle.status())));
    tokio::spawn({
        let (journal, handle, cancel) = (services.journal.clone(), handle.clone(), cancel.clone());
        async move {
            if let Err(e) = crate::sync::run(journal, upstream, handle.clone(), cancel).await {
                handle.note_link(false, Some(format!("the sync task stopped: {e}")), false);
            }
        }
    });
    if let Some((url, key)) = demo_api {
        match crate::embedded::make_demo_payments(&url, &key, &crate::embedded::DEMO_AMOUNTS).await
        {
            Ok(vouchers) => services
                .demo
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .extend(vouchers),
            Err(e) => trouble(format!("demo payments: {e}")),
        }
    }
    // The embedded network lives as long as the session.
    cancel.cancelled().await;
    drop(embedded);
}

/// The original stderr while it is redirected (-1: not redirected), for the panic hook.
static SAVED_STDERR: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(-1);

/// Point fd 2 at `log` (appended); the original stderr, to put back.
fn redirect_stderr(log: &std::path::Path) -> Option<i32> {
    use std::os::fd::AsRawFd;
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .ok()?;
    // SAFETY: dup and dup2 on descriptors this process owns; `file` outlives the dup2.
    unsafe {
        let saved = libc::dup(2);
        if saved < 0 {
            return None;
        }
        if libc::dup2(file.as_raw_fd(), 2) < 0 {
            libc::close(saved);
            return None;
        }
        SAVED_STDERR.store(saved, Ordering::SeqCst);
        Some(saved)
    }
}

/// Put the original stderr back.
fn restore_stderr(saved: Option<i32>) {
    if let Some(fd) = saved
        && SAVED_STDERR.swap(-1, Ordering::SeqCst) == fd
    {
        // SAFETY: `fd` is the descriptor `redirect_stderr` saved and nobody closed.
        unsafe {
            libc::dup2(fd, 2);
            libc::close(fd);
        }
    }
}

/// A panic restores the terminal (ratatui's hook) and is reported on the real stderr.
fn restore_stderr_on_panic(saved: Option<i32>) {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore_stderr(saved);
        previous(info);
    }));
}
