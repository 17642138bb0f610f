//! `konbini bench ui`: the register UI's performance figures (issue 7), each printed with its
//! ratio to its goal and to a limit measured in the same run on the same machine and disk:
//! frame render time, key-to-screen latency in process, the real binary's memory on a
//! journal of a million sales, and start to first frame.
//!
//! It owns the benchmark's million-sale journal (built once through `Journal::commit_sales`
//! and cached under `target/`) and the pseudo-terminal it drives the real release binary in.
//! It prints figures and never asserts on them; it never commits to the cached journal once
//! built (so the cache keeps exactly a million sales), and it never changes the UI.

use std::ffi::OsStr;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{DateTime, FixedOffset, NaiveDate};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::KeyCode;
use rusqlite::{Connection, TransactionBehavior};

use konbini_domain::time::{business_date, jst};
use konbini_domain::{BillBarcode, BillFields, Deadline, Yen};
use konbini_journal::{Journal, SyncState};
use konbini_register::{NewSale, Slip, SlipKind, Station};

use crate::harness::Harness;
use konbini_pos::ui::app::Notice;

/// The terminal the register is designed for.
const SIZE: (u16, u16) = (120, 40);
/// Goal: a frame's p99 render time.
const FRAME_GOAL: Duration = Duration::from_millis(1);
/// Goal: peak resident memory with a million-sale journal.
const RSS_GOAL_BYTES: f64 = 50e6;
/// Goal: start to first frame.
const START_GOAL: Duration = Duration::from_millis(200);
/// No key-to-screen goal is set; one refresh of a 60 Hz display is what a clerk can notice.
const REFRESH_60HZ: Duration = Duration::from_micros(16_667);
/// Sales in the big journal, a day's worth of them, and how many go in one transaction.
const MILLION: u64 = 1_000_000;
const SALES_PER_DAY: u64 = 5_000;
const BUILD_BATCH: u64 = 10_000;
/// Rows the journal screen loads (`Job::LoadJournal` asks for 500).
const JOURNAL_ROWS: usize = 500;
/// Slips in the open sale drawn.
const OPEN_SLIPS: usize = 10;
/// Samples of the in-process key latencies.
const TYPED_SAMPLES: usize = 3_000;
const SCAN_SAMPLES: usize = 500;
const COMPLETE_SAMPLES: usize = 300;
/// Keys as a terminal sends them.
const F3: &[u8] = b"\x1bOR";
const F4: &[u8] = b"\x1bOS";
const ESC: &[u8] = b"\x1b";

/// What `konbini bench ui` measures and where it keeps the big journal.
#[derive(Debug, Clone)]
pub struct Options {
    /// Frames timed per screen.
    pub frames: usize,
    /// Start-up runs per case.
    pub runs: usize,
    /// The cached million-sale journal (built when missing or not exactly a million sales).
    pub journal: PathBuf,
}

/// Sorted samples, read by nearest rank.
struct Spread(Vec<Duration>);

impl Spread {
    fn of(mut samples: Vec<Duration>) -> Spread {
        samples.sort();
        Spread(samples)
    }

    fn at(&self, q: f64) -> Duration {
        let n = self.0.len();
        if n == 0 {
            return Duration::ZERO;
        }
        let rank = ((q * n as f64).ceil() as usize).clamp(1, n);
        self.0[rank - 1]
    }

    fn p50(&self) -> Duration {
        self.at(0.5)
    }

    fn p90(&self) -> Duration {
        self.at(0.9)
    }

    fn p99(&self) -> Duration {
        self.at(0.99)
    }

    fn max(&self) -> Duration {
        self.at(1.0)
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn ratio(a: Duration, b: Duration) -> f64 {
    a.as_secs_f64() / b.as_secs_f64().max(1e-12)
}

fn mb(bytes: f64) -> f64 {
    bytes / 1e6
}

/// Run every part of `konbini bench ui`, printing each figure to `out` as it is measured;
/// progress goes to stderr.
pub fn run(opts: &Options, out: &mut dyn Write) -> anyhow::Result<()> {
    let scratch = std::env::temp_dir().join(format!("konbini-bench-ui-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&scratch);
    std::fs::create_dir_all(&scratch)
        .with_context(|| format!("cannot create {}", scratch.display()))?;
    let result = run_in(opts, &scratch, out);
    let _ = std::fs::remove_dir_all(&scratch);
    result
}

/// The `konbini` binary of the same build, beside this program (`target/release/` when run
/// with `cargo run --release -p konbini-bench`): the one a clerk runs.
fn konbini_beside_us() -> anyhow::Result<std::path::PathBuf> {
    let me = std::env::current_exe().context("cannot find this program's own path")?;
    let exe = me.with_file_name("konbini");
    anyhow::ensure!(
        exe.is_file(),
        "{} is missing: build it first with `cargo build --release` (the UI bench times the real binary)",
        exe.display()
    );
    Ok(exe)
}

fn run_in(opts: &Options, scratch: &Path, out: &mut dyn Write) -> anyhow::Result<()> {
    let exe = konbini_beside_us()?;
    // The register runs in other directories: the journal is named absolutely.
    let opts = &Options {
        journal: std::path::absolute(&opts.journal)
            .with_context(|| format!("journal {}", opts.journal.display()))?,
        ..opts.clone()
    };
    let now = konbini_pos::ui::now_jst();
    let today = business_date(&now);

    in_process(opts, &scratch.join("harness"), now, out)?;

    let (built, today_sales) = million_journal(&opts.journal, today, out)?;
    on_the_million(&opts.journal, &scratch.join("harness-1m"), now, out)?;

    let size = journal_bytes(&opts.journal);
    let today_rows = (today_sales as usize).min(JOURNAL_ROWS);
    eprintln!("konbini bench ui: the register on a fresh journal in a pseudo-terminal...");
    let floor = register_run(
        &exe,
        &scratch.join("fresh").join("konbini.db"),
        &scratch.join("rss-fresh"),
        0,
        0,
    )?;
    // Cold, as at power-on: the journal's pages out of the page cache (only this file's);
    // then warm, straight after.
    eprintln!(
        "konbini bench ui: the register on the million-sale journal, cold, then warm (the check takes a while)..."
    );
    let evicted = evict_from_page_cache(&opts.journal);
    let cold = register_run(
        &exe,
        &opts.journal,
        &scratch.join("rss-1m-cold"),
        MILLION,
        today_rows,
    )?;
    let warm = register_run(
        &exe,
        &opts.journal,
        &scratch.join("rss-1m-warm"),
        MILLION,
        today_rows,
    )?;
    let peak = if cold.hwm_bytes >= warm.hwm_bytes {
        &cold
    } else {
        &warm
    };
    writeln!(
        out,
        "ui memory, the release binary in a {}x{} pseudo-terminal on a journal of 1,000,000 sales ({:.0} MB on disk, {}): peak RSS (VmHWM) {:.1} MB (goal < 50 MB: {:.2} of it; {:.1} MB cold, {:.1} MB warm); the same binary on a fresh journal: {:.1} MB ({:.2} x that floor); RSS at the end {:.1} MB",
        SIZE.0,
        SIZE.1,
        mb(size as f64),
        if built { "built in this run" } else { "cached" },
        mb(peak.hwm_bytes),
        peak.hwm_bytes / RSS_GOAL_BYTES,
        mb(cold.hwm_bytes),
        mb(warm.hwm_bytes),
        mb(floor.hwm_bytes),
        peak.hwm_bytes / floor.hwm_bytes.max(1.0),
        mb(peak.rss_bytes),
    )?;
    writeln!(
        out,
        "ui memory, where the peak comes from (1M journal, the peak run): {:.1} MB when the journal check finished, {:.1} MB after F3 (today's {} rows), {:.1} MB after F4 (day close of {} sales)",
        mb(peak.hwm_checked),
        mb(peak.hwm_after_f3),
        today_rows,
        mb(peak.hwm_after_f4),
        today_sales,
    )?;
    for (what, run) in [
        (
            match &evicted {
                Ok(()) => {
                    "cold (the journal evicted from the page cache first, as after a power-on)"
                        .to_owned()
                }
                Err(e) => {
                    format!("first run (the journal could not be evicted from the page cache: {e})")
                }
            },
            &cold,
        ),
        ("warm (straight after)".to_owned(), &warm),
    ] {
        check_line(out, &what, run, &floor, today_rows)?;
    }
    out.flush()?;

    start_up(opts, &exe, scratch, out)?;
    Ok(())
}

/// The journal check's figures of one session on the big journal.
fn check_line(
    out: &mut dyn Write,
    what: &str,
    run: &RegisterRun,
    floor: &RegisterRun,
    today_rows: usize,
) -> anyhow::Result<()> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let (user, system) = run.cpu_until_checked;
    writeln!(
        out,
        "ui journal check at start, {what}: the hash chain of 1,000,000 sales on its own thread finished {:.1} s after start, {:.1} s of CPU by then ({:.0} % of one of this machine's {cores} cores throughout; {:.1} s user, {:.1} s system; {:.0} MB read from disk, the rest from the page cache); F3 pressed at once showed today's {today_rows} rows in {}{}; F4 after the check (the X reading: every sale since the last close, here all of them) showed in {}; idle afterwards: {:.1} % of a core (fresh journal: {:.1} %)",
        run.checked_after.as_secs_f64(),
        (user + system).as_secs_f64(),
        100.0 * (user + system).as_secs_f64() / run.checked_after.as_secs_f64().max(1e-9),
        user.as_secs_f64(),
        system.as_secs_f64(),
        mb(run.disk_until_checked),
        run.f3_during_check
            .map_or("-".to_owned(), |(d, _)| format!("{:.0} ms", ms(d))),
        match run.f3_during_check {
            Some((_, true)) => " (the check still running)",
            Some((_, false)) => " (the check had finished)",
            None => "",
        },
        run.f4_after
            .map_or("-".to_owned(), |d| format!("{:.0} ms", ms(d))),
        run.idle_core * 100.0,
        floor.idle_core * 100.0,
    )?;
    Ok(())
}

/// Drop `path`'s clean pages from the page cache (this file's only), so that the next
/// reader finds it on disk as after a power-on.
fn evict_from_page_cache(path: &Path) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    let file = File::open(path)?;
    file.sync_all()?;
    // SAFETY: posix_fadvise on a descriptor we own; it only advises the kernel.
    let rc = unsafe { libc::posix_fadvise(file.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) };
    if rc != 0 {
        return Err(std::io::Error::from_raw_os_error(rc));
    }
    Ok(())
}

/// A valid bill barcode: `company`'s slip number `n` for `amount`, payable any time.
fn barcode(company: &str, n: u64, amount: u64) -> anyhow::Result<BillBarcode> {
    BillBarcode::build(&BillFields {
        company_code: company,
        free_area: &format!("{n:021}"),
        reissue: 0,
        deadline: Deadline::None,
        stamp: amount >= 50_000,
        amount: Yen::new(amount),
    })
    .map_err(|e| anyhow::anyhow!("bench barcode {n}: {e}"))
}

/// Amounts from ¥1,000 to ¥99,999, spread.
fn amount_of(n: u64) -> u64 {
    1_000 + (n * 7_919) % 99_000
}

/// A one-slip sale at `at` paid with the next ¥10,000 up.
fn one_slip_sale(code: BillBarcode, at: DateTime<FixedOffset>) -> NewSale {
    let total = code.amount();
    let tendered = Yen::new(total.get().div_ceil(10_000) * 10_000);
    NewSale {
        at,
        station: Station::default(),
        slips: vec![Slip {
            at,
            kind: SlipKind::Barcode(code),
        }],
        total,
        tendered,
        change: Yen::new(tendered.get() - total.get()),
    }
}

/// The next slip of biller 958001, as the scanner sends it.
fn scan_code(next: &mut u64) -> anyhow::Result<String> {
    *next += 1;
    Ok(barcode("958001", *next, amount_of(*next))?.to_string())
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Draw `n` frames, the clock moving a second each time as it does on screen; each timed.
fn time_draws(h: &mut Harness, n: usize) -> Spread {
    let mut samples = Vec::with_capacity(n);
    for i in 0..n {
        h.app.now = h.now + chrono::Duration::seconds(i as i64);
        let start = Instant::now();
        std::hint::black_box(h.draw());
        samples.push(start.elapsed());
    }
    h.app.now = h.now;
    Spread::of(samples)
}

/// Parts 1 and 2 on a small journal: frames and key-to-screen latencies.
fn in_process(
    opts: &Options,
    dir: &Path,
    now: DateTime<FixedOffset>,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    let mut h = Harness::open(dir, Station::default(), now, SIZE)?;

    // Today's 500 sales for the journal screen, already printed (as a day's sales are).
    let midnight = now
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .and_then(|d| d.and_local_timezone(jst()).single())
        .ok_or_else(|| anyhow::anyhow!("no midnight in Japan today"))?;
    let sales = (0..JOURNAL_ROWS as u64)
        .map(|i| {
            let at = (now - chrono::Duration::seconds(7 * (JOURNAL_ROWS as i64 - i as i64)))
                .max(midnight);
            barcode("912345", i, amount_of(i)).map(|code| one_slip_sale(code, at))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    {
        let mut j = lock(&h.services.journal);
        for c in j.commit_sales(&sales)? {
            j.mark_printed(c.seq)?;
        }
    }

    // The open sale.
    let mut next_slip = 0u64;
    for _ in 0..OPEN_SLIPS {
        let code = scan_code(&mut next_slip)?;
        h.line(&code);
    }
    let open = h.app.register().open_sale().map_or(0, |s| s.slips().len());
    anyhow::ensure!(
        open == OPEN_SLIPS,
        "the bench sale has {open} slips, not {OPEN_SLIPS}: {:?}",
        h.app.notice
    );

    // Part 1: frames, with ratatui's own floor (an empty frame on the same backend).
    let mut blank = Terminal::new(TestBackend::new(SIZE.0, SIZE.1))?;
    let mut blank_samples = Vec::with_capacity(opts.frames);
    for _ in 0..opts.frames {
        let start = Instant::now();
        blank.draw(|_| {})?;
        blank_samples.push(start.elapsed());
    }
    let blank = Spread::of(blank_samples);
    let sale = time_draws(&mut h, opts.frames);
    h.key(KeyCode::F(3));
    anyhow::ensure!(
        h.app.journal_rows.len() == JOURNAL_ROWS,
        "the journal screen has {} rows, not {JOURNAL_ROWS}",
        h.app.journal_rows.len()
    );
    let journal = time_draws(&mut h, opts.frames);
    h.key(KeyCode::Esc);
    for (what, s) in [
        (
            format!("sale screen, an open sale of {OPEN_SLIPS} slips"),
            &sale,
        ),
        (
            format!("journal screen, {JOURNAL_ROWS} rows loaded"),
            &journal,
        ),
    ] {
        writeln!(
            out,
            "ui frame at {}x{}, {what}: p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms (goal p99 < 1 ms: {:.2} of it); ratatui's own floor, an empty frame on the same TestBackend: p50 {:.3} ms ({:.1} x) [{} draws, the clock ticking each frame]",
            SIZE.0,
            SIZE.1,
            ms(s.p50()),
            ms(s.p99()),
            ms(s.max()),
            ratio(s.p99(), FRAME_GOAL),
            ms(blank.p50()),
            ratio(s.p50(), blank.p50()),
            opts.frames,
        )?;
    }
    out.flush()?;

    // Part 2: a typed character (no I/O).
    let mut typed = Vec::with_capacity(TYPED_SAMPLES);
    for _ in 0..TYPED_SAMPLES {
        if h.app.input.len() >= 200 {
            h.key(KeyCode::Esc); // clears the input line (the sale stays open)
        }
        let start = Instant::now();
        h.key(KeyCode::Char('1'));
        std::hint::black_box(h.draw());
        typed.push(start.elapsed());
    }
    if !h.app.input.is_empty() {
        h.key(KeyCode::Esc);
    }
    let typed = Spread::of(typed);

    // A scan: Enter after the 44 digits; the session log and the paid-before check.
    let scans = time_scans(&mut h, SCAN_SAMPLES, &mut next_slip, "958001")?;

    // Enter completing a sale, against raw synchronous=FULL commits on the same disk,
    // interleaved so that both see the same disk.
    let mut raw = RawCommits::open(&dir.join("raw.db"))?;
    let mut completes = Vec::with_capacity(COMPLETE_SAMPLES);
    let mut raws = Vec::with_capacity(COMPLETE_SAMPLES);
    if h.app.register().open_sale().is_some() {
        h.key(KeyCode::Esc);
        h.key(KeyCode::Char('y'));
    }
    for _ in 0..COMPLETE_SAMPLES {
        let code = scan_code(&mut next_slip)?;
        h.line(&code);
        // The exact amount: ¥10,000 or more of change would be a question, not the commit.
        let total = h.app.register().open_sale().map_or(0, |s| s.total().get());
        h.line(&total.to_string());
        let start = Instant::now();
        h.key(KeyCode::Enter);
        std::hint::black_box(h.draw());
        completes.push(start.elapsed());
        anyhow::ensure!(
            matches!(h.app.notice, Some(Notice::Completed(..))),
            "a bench sale did not complete: {:?}",
            h.app.notice
        );
        raws.push(raw.commit()?);
    }
    let completes = Spread::of(completes);
    let raws = Spread::of(raws);

    for (what, s) in [
        ("a typed character (no I/O)", &typed),
        (
            "a scan (Enter after 44 digits: session log line, paid-before check)",
            &scans,
        ),
    ] {
        writeln!(
            out,
            "ui key to screen, {what}: p50 {:.3} ms, p99 {:.3} ms (no goal set; one 60 Hz refresh is 16.7 ms: p99 {:.3} of it; the frame alone is p50 {:.3} ms: {:.1} x)",
            ms(s.p50()),
            ms(s.p99()),
            ratio(s.p99(), REFRESH_60HZ),
            ms(sale.p50()),
            ratio(s.p50(), sale.p50()),
        )?;
    }
    writeln!(
        out,
        "ui key to screen, Enter completing a sale (session log synced, the sale's FULL commit, receipt PNG and text written and synced, the print marked with a second FULL commit): p50 {:.2} ms, p99 {:.2} ms; raw single-row synchronous=FULL SQLite commits (the journal's {} B pages, same disk, interleaved): p50 {:.2} ms, p99 {:.2} ms; ratio {:.1} x (p50), {:.1} x (p99); one 60 Hz refresh: p99 {:.2} of it [{} sales]",
        ms(completes.p50()),
        ms(completes.p99()),
        konbini_journal::JOURNAL_PAGE_SIZE,
        ms(raws.p50()),
        ms(raws.p99()),
        ratio(completes.p50(), raws.p50()),
        ratio(completes.p99(), raws.p99()),
        ratio(completes.p99(), REFRESH_60HZ),
        COMPLETE_SAMPLES,
    )?;
    out.flush()?;
    Ok(())
}

/// `n` scans of fresh slips, each timed from Enter to the frame drawn. A sale nearly full
/// is cancelled (untimed) so every scan adds a slip.
fn time_scans(
    h: &mut Harness,
    n: usize,
    next_slip: &mut u64,
    company: &str,
) -> anyhow::Result<Spread> {
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        let slips = h.app.register().open_sale().map_or(0, |s| s.slips().len());
        if slips >= konbini_register::MAX_SLIPS_PER_SALE - 1 {
            // The input line is empty: Esc asks before it cancels the sale; yes.
            h.key(KeyCode::Esc);
            h.key(KeyCode::Char('y'));
        }
        *next_slip += 1;
        let code = barcode(company, *next_slip, amount_of(*next_slip))?.to_string();
        h.type_text(&code);
        let start = Instant::now();
        h.key(KeyCode::Enter);
        std::hint::black_box(h.draw());
        samples.push(start.elapsed());
        anyhow::ensure!(
            matches!(h.app.notice, Some(Notice::SlipAdded(_))),
            "a bench scan was not added: {:?}",
            h.app.notice
        );
    }
    if h.app.register().open_sale().is_some() {
        h.key(KeyCode::Esc);
        h.key(KeyCode::Char('y'));
    }
    Ok(Spread::of(samples))
}

/// Single-row commits, each its own `BEGIN IMMEDIATE` transaction, WAL, synchronous=FULL,
/// the journal's page size: the least a durable commit costs on this disk.
struct RawCommits {
    conn: Connection,
    next: i64,
    row: String,
}

impl RawCommits {
    fn open(path: &Path) -> anyhow::Result<RawCommits> {
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "page_size", konbini_journal::JOURNAL_PAGE_SIZE)?;
        let mode: String =
            conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))?;
        anyhow::ensure!(mode == "wal", "the raw bench database is not in WAL mode");
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)")?;
        Ok(RawCommits {
            conn,
            next: 0,
            row: "x".repeat(200),
        })
    }

    fn commit(&mut self) -> anyhow::Result<Duration> {
        self.next += 1;
        let start = Instant::now();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute(
            "INSERT INTO t (id, v) VALUES (?1, ?2)",
            rusqlite::params![self.next, self.row],
        )?;
        tx.commit()?;
        Ok(start.elapsed())
    }
}

/// The million-sale journal at `path`: reused when it holds exactly a million sales, else
/// built. Whether it was built now, and how many of its sales are dated `today`.
fn million_journal(
    path: &Path,
    today: NaiveDate,
    out: &mut dyn Write,
) -> anyhow::Result<(bool, u64)> {
    let cached = path.exists()
        && Journal::open_read_only(path)
            .and_then(|j| j.head())
            .is_ok_and(|(n, _)| n == MILLION);
    let built = !cached;
    if built {
        let start = Instant::now();
        build_million(path, today)?;
        writeln!(
            out,
            "ui: built the 1,000,000-sale journal {} in {:.0} s (Journal::commit_sales, batches of {BUILD_BATCH}; then every receipt marked printed, one commit each, as no batch call exists)",
            path.display(),
            start.elapsed().as_secs_f64()
        )?;
    }
    let j = Journal::open_read_only(path)?;
    let tomorrow = today.succ_opt().unwrap_or(today);
    let day = j.day_totals(
        &today.format("%Y-%m-%d").to_string(),
        &tomorrow.format("%Y-%m-%d").to_string(),
    )?;
    let pending = j.pending_summary((0, 0))?.pending;
    if cached {
        writeln!(
            out,
            "ui: reusing the cached 1,000,000-sale journal {} (delete it to rebuild)",
            path.display()
        )?;
    }
    writeln!(
        out,
        "ui: that journal: 1,000,000 sales of one slip over {} days, {} dated today ({today}){}, {} slips unsent (today's; earlier days' marked sent), every receipt printed",
        MILLION / SALES_PER_DAY,
        day.sales,
        if day.sales == 0 {
            ": it was built on another day, so the journal screen and the day close have nothing today"
        } else {
            ""
        },
        pending,
    )?;
    out.flush()?;
    Ok((built, day.sales))
}

fn build_million(path: &Path, today: NaiveDate) -> anyhow::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    for suffix in ["", "-wal", "-shm"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        match std::fs::remove_file(&p) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("cannot remove {p:?}")),
        }
    }
    let mut journal = Journal::open(path)?;
    let days = MILLION / SALES_PER_DAY;
    let start = Instant::now();
    for first in (0..MILLION).step_by(BUILD_BATCH as usize) {
        let sales = (first..(first + BUILD_BATCH).min(MILLION))
            .map(|n| {
                // Day 0 is the oldest; the last day is today. 07:00 to 23:00 each day.
                let date = today - chrono::Days::new(days - 1 - n / SALES_PER_DAY);
                let secs = 7 * 3600 + (n % SALES_PER_DAY) * 16 * 3600 / SALES_PER_DAY;
                let at = date
                    .and_hms_opt(0, 0, 0)
                    .and_then(|d| d.and_local_timezone(jst()).single())
                    .ok_or_else(|| anyhow::anyhow!("no midnight on {date}"))?
                    + chrono::Duration::seconds(secs as i64);
                Ok(one_slip_sale(barcode("912345", n, amount_of(n))?, at))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let committed = journal.commit_sales(&sales)?;
        let sent: Vec<_> = committed
            .iter()
            .zip(&sales)
            .filter(|(_, s)| business_date(&s.at) < today)
            .map(|(c, _)| ((c.seq, 1), SyncState::Sent, None))
            .collect();
        journal.record_sync(&sent)?;
        for c in &committed {
            journal.mark_printed(c.seq)?;
        }
        let done = first + BUILD_BATCH;
        if done.is_multiple_of(100_000) {
            eprintln!(
                "konbini bench ui: journal {done} / {MILLION} sales ({:.0} s)",
                start.elapsed().as_secs_f64()
            );
        }
    }
    Ok(())
}

fn journal_bytes(path: &Path) -> u64 {
    ["", "-wal"]
        .iter()
        .map(|suffix| {
            let mut p = path.as_os_str().to_owned();
            p.push(suffix);
            std::fs::metadata(&p).map_or(0, |m| m.len())
        })
        .sum()
}

/// In process on the million-sale journal: a scan (the paid-before check among a million
/// slips), F3 (today's 500 rows) and F4 (the day close). Nothing is committed, so the
/// cached journal keeps exactly a million sales.
fn on_the_million(
    path: &Path,
    dir: &Path,
    now: DateTime<FixedOffset>,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    let journal = Journal::open(path)?;
    let mut h = Harness::with_journal(journal, dir, Station::default(), now, SIZE)?;
    let mut f3 = Vec::new();
    let mut rows = 0;
    for _ in 0..30 {
        let start = Instant::now();
        h.key(KeyCode::F(3));
        std::hint::black_box(h.draw());
        f3.push(start.elapsed());
        rows = h.app.journal_rows.len();
        h.key(KeyCode::Esc);
    }
    let mut f4 = Vec::new();
    for _ in 0..10 {
        let start = Instant::now();
        h.key(KeyCode::F(4));
        std::hint::black_box(h.draw());
        f4.push(start.elapsed());
        anyhow::ensure!(
            h.app.day.is_some(),
            "the day close did not add up: {:?}",
            h.app.notice
        );
        h.key(KeyCode::Esc);
    }
    let mut next = 0;
    let scans = time_scans(&mut h, SCAN_SAMPLES, &mut next, "958002")?;
    drop(h);
    let (f3, f4) = (Spread::of(f3), Spread::of(f4));
    writeln!(
        out,
        "ui key to screen on the 1,000,000-sale journal, in process: a scan p50 {:.3} ms, p99 {:.3} ms; F3 (today's {rows} rows) p50 {:.1} ms, p99 {:.1} ms; F4 (the X reading of every sale since the last close, here all of them) p50 {:.1} ms, max {:.1} ms (one 60 Hz refresh is 16.7 ms: F3 p99 {:.2}, F4 max {:.2} of it)",
        ms(scans.p50()),
        ms(scans.p99()),
        ms(f3.p50()),
        ms(f3.p99()),
        ms(f4.p50()),
        ms(f4.max()),
        ratio(f3.p99(), REFRESH_60HZ),
        ratio(f4.max(), REFRESH_60HZ),
    )?;
    out.flush()?;
    Ok(())
}

/// What one session of the real register showed and cost.
struct RegisterRun {
    checked_after: Duration,
    /// CPU time (user, system) when the check had finished.
    cpu_until_checked: (Duration, Duration),
    /// Bytes read from storage by then (a journal not in the page cache is read from disk).
    disk_until_checked: f64,
    hwm_checked: f64,
    /// F3's first load and whether the check was still running when it showed.
    f3_during_check: Option<(Duration, bool)>,
    hwm_after_f3: f64,
    f4_after: Option<Duration>,
    hwm_after_f4: f64,
    idle_core: f64,
    hwm_bytes: f64,
    rss_bytes: f64,
}

/// The release binary as a clerk starts it, offline, on `journal` holding `sales` sales:
/// wait for the journal check, F3, Esc, F4, Esc, then read its memory and quit.
fn register_run(
    exe: &Path,
    journal: &Path,
    dir: &Path,
    sales: u64,
    today_rows: usize,
) -> anyhow::Result<RegisterRun> {
    std::fs::create_dir_all(dir)?;
    if let Some(parent) = journal.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let receipts = dir.join("receipts");
    let record = dir.join("s.jsonl");
    let args: [&OsStr; 13] = [
        "register".as_ref(),
        "--journal".as_ref(),
        journal.as_os_str(),
        "--receipts".as_ref(),
        receipts.as_os_str(),
        "--record".as_ref(),
        record.as_os_str(),
        "--upstream".as_ref(),
        "http://127.0.0.1:9".as_ref(),
        "--terminal-secret".as_ref(),
        "x".as_ref(),
        "--lang".as_ref(),
        "ja".as_ref(),
    ];
    let start = Instant::now();
    let mut pty = Pty::spawn(exe, &args, dir, SIZE)?;
    let pid = pty.child.id();
    pty.wait_for("コンビニ収納レジ", 0, Duration::from_secs(60))?;
    let checked = format!("正常{sales}件");

    // F3 at once, while the check runs: the first load of the session (the title goes
    // from 0 rows to today's), so its time is the load's, not a redraw of rows held.
    let mut f3_during_check = None;
    if today_rows > 0 {
        let mark = pty.dense.len();
        pty.send(F3)?;
        let f3_start = Instant::now();
        pty.wait_for(&format!("{today_rows}件)"), mark, Duration::from_secs(120))?;
        let took = f3_start.elapsed();
        f3_during_check = Some((took, !contains(&pty.dense, checked.as_bytes())));
        pty.pump_for(Duration::from_millis(500));
        pty.send(ESC)?;
        pty.pump_for(Duration::from_millis(500));
    }
    pty.wait_until(Duration::from_secs(3600), |text| {
        if contains(text, "ジャーナル異常".as_bytes()) {
            return Err(anyhow::anyhow!("the register found the journal broken"));
        }
        Ok(contains(text, checked.as_bytes()))
    })?;
    let checked_after = start.elapsed();
    let cpu_until_checked = cpu_times(pid)?;
    let disk_until_checked = disk_read_bytes(pid)?;
    let hwm_checked = proc_bytes(pid, "VmHWM")?;
    pty.pump_for(Duration::from_millis(500));

    pty.send(F3)?;
    pty.pump_for(Duration::from_secs(1));
    let hwm_after_f3 = proc_bytes(pid, "VmHWM")?;
    pty.send(ESC)?;
    pty.pump_for(Duration::from_millis(500));

    let mark = pty.dense.len();
    pty.send(F4)?;
    let f4_start = Instant::now();
    // The X reading (every sale since the last close, added up on a thread of its own)
    // is on screen once its title names the business day.
    pty.wait_for("営業日", mark, Duration::from_secs(600))?;
    let f4_after = Some(f4_start.elapsed());
    pty.pump_for(Duration::from_secs(1));
    let hwm_after_f4 = proc_bytes(pid, "VmHWM")?;
    pty.send(ESC)?;
    pty.pump_for(Duration::from_millis(500));

    let idle = Duration::from_secs(6);
    let cpu0 = cpu_time(pid)?;
    pty.pump_for(idle);
    let idle_core = (cpu_time(pid)? - cpu0).as_secs_f64() / idle.as_secs_f64();
    let hwm_bytes = proc_bytes(pid, "VmHWM")?;
    let rss_bytes = proc_bytes(pid, "VmRSS")?;
    pty.send(b"q")?;
    let status = pty.wait_exit(Duration::from_secs(60))?;
    anyhow::ensure!(
        status.success(),
        "konbini register exited {status}: {}",
        pty.stderr()
    );
    Ok(RegisterRun {
        checked_after,
        cpu_until_checked,
        disk_until_checked,
        hwm_checked,
        f3_during_check,
        hwm_after_f3,
        f4_after,
        hwm_after_f4,
        idle_core,
        hwm_bytes,
        rss_bytes,
    })
}

/// Part 4: spawn to exit of `--exit-after-first-frame` (fresh journal, the big one) against
/// `--version`, round-robin so the three see the same machine.
fn start_up(opts: &Options, exe: &Path, scratch: &Path, out: &mut dyn Write) -> anyhow::Result<()> {
    let runs = opts.runs.max(1);
    let mut version = Vec::with_capacity(runs);
    let mut fresh = Vec::with_capacity(runs);
    let mut big = Vec::with_capacity(runs);
    let mut fresh_self = Vec::with_capacity(runs);
    let mut big_self = Vec::with_capacity(runs);
    for i in 0..runs {
        let cwd = scratch.join(format!("start-{i}"));
        std::fs::create_dir_all(cwd.join("v"))?;
        version.push(time_exit(exe, &["--version".as_ref()], &cwd.join("v"))?.0);
        std::fs::create_dir_all(cwd.join("f"))?;
        let (t, own) = time_exit(
            exe,
            &[
                "register".as_ref(),
                "--exit-after-first-frame".as_ref(),
                "--journal".as_ref(),
                "konbini.db".as_ref(),
            ],
            &cwd.join("f"),
        )?;
        fresh.push(t);
        fresh_self.extend(own);
        std::fs::create_dir_all(cwd.join("m"))?;
        let (t, own) = time_exit(
            exe,
            &[
                "register".as_ref(),
                "--exit-after-first-frame".as_ref(),
                "--journal".as_ref(),
                opts.journal.as_os_str(),
            ],
            &cwd.join("m"),
        )?;
        big.push(t);
        big_self.extend(own);
    }
    let version = Spread::of(version);
    for (what, s, own) in [
        ("a fresh journal (created)", Spread::of(fresh), fresh_self),
        ("the 1,000,000-sale journal", Spread::of(big), big_self),
    ] {
        let own = Spread::of(own);
        writeln!(
            out,
            "ui start to first frame, {what}, spawn to exit in a {}x{} pseudo-terminal: median {:.1} ms, p90 {:.1} ms (goal < 200 ms: {:.2} of it); the process start floor, `konbini --version` in the same pseudo-terminal: median {:.1} ms ({:.1} x); the binary's own count to the frame: median {:.1} ms [{runs} runs each]",
            SIZE.0,
            SIZE.1,
            ms(s.p50()),
            ms(s.p90()),
            ratio(s.p50(), START_GOAL),
            ms(version.p50()),
            ratio(s.p50(), version.p50()),
            ms(own.p50()),
        )?;
    }
    out.flush()?;
    Ok(())
}

/// Spawn to exit of `exe args` in a pseudo-terminal in `cwd`; and for the register, the
/// "first frame after X ms" it prints.
fn time_exit(
    exe: &Path,
    args: &[&OsStr],
    cwd: &Path,
) -> anyhow::Result<(Duration, Option<Duration>)> {
    let start = Instant::now();
    let mut pty = Pty::spawn(exe, args, cwd, SIZE)?;
    let status = pty.child.wait()?;
    let took = start.elapsed();
    pty.drain(Duration::from_secs(2));
    anyhow::ensure!(
        status.success(),
        "konbini {:?} exited {status}: {}",
        args,
        pty.stderr()
    );
    let text = String::from_utf8_lossy(&pty.text);
    let own = text
        .split("first frame after ")
        .nth(1)
        .and_then(|rest| rest.split(" ms").next())
        .and_then(|n| n.trim().parse::<f64>().ok())
        .map(|n| Duration::from_secs_f64(n / 1e3));
    Ok((took, own))
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}

/// A field of /proc/<pid>/status in bytes (`VmHWM`, `VmRSS`; the kernel counts in kB).
fn proc_bytes(pid: u32, field: &str) -> anyhow::Result<f64> {
    let path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&path).with_context(|| format!("cannot read {path}"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().strip_suffix("kB"))
        .and_then(|kb| kb.trim().parse::<f64>().ok())
        .map(|kb| kb * 1024.0)
        .ok_or_else(|| anyhow::anyhow!("{path} has no {field}"))
}

/// CPU time of every thread of `pid` so far: (user, system).
fn cpu_times(pid: u32) -> anyhow::Result<(Duration, Duration)> {
    static TICKS: OnceLock<f64> = OnceLock::new();
    // SAFETY: sysconf only reads a configuration value.
    let ticks = *TICKS.get_or_init(|| unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64);
    let path = format!("/proc/{pid}/stat");
    let stat = std::fs::read_to_string(&path).with_context(|| format!("cannot read {path}"))?;
    // The command name may hold spaces: fields are counted after its closing parenthesis,
    // where state is the first and utime, stime the 12th and 13th.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let tick = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok());
    match (tick(11), tick(12)) {
        (Some(user), Some(system)) => Ok((
            Duration::from_secs_f64(user as f64 / ticks),
            Duration::from_secs_f64(system as f64 / ticks),
        )),
        _ => Err(anyhow::anyhow!("{path} does not read as a stat line")),
    }
}

/// User plus system CPU time of every thread of `pid` so far (clock ticks: 10 ms).
pub(crate) fn cpu_time(pid: u32) -> anyhow::Result<Duration> {
    cpu_times(pid).map(|(user, system)| user + system)
}

/// Bytes `pid` had fetched from storage so far (not from the page cache): /proc/<pid>/io.
fn disk_read_bytes(pid: u32) -> anyhow::Result<f64> {
    let path = format!("/proc/{pid}/io");
    let io = std::fs::read_to_string(&path).with_context(|| format!("cannot read {path}"))?;
    io.lines()
        .find_map(|l| l.strip_prefix("read_bytes:"))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .ok_or_else(|| anyhow::anyhow!("{path} has no read_bytes"))
}

/// Removes terminal control sequences (CSI, OSC and two-byte escapes) from a byte stream
/// split anywhere, keeping the text a screen would show, in the order it was written.
/// Blanks are not reliable in that text (after a clear, a frame skips blank cells and moves
/// the cursor instead), so the text is also kept without spaces, for matching.
#[derive(Default)]
struct Strip {
    state: StripState,
}

#[derive(Default, Clone, Copy)]
enum StripState {
    #[default]
    Text,
    Escape,
    Csi,
    Osc,
}

impl Strip {
    fn feed(&mut self, bytes: &[u8], text: &mut Vec<u8>, dense: &mut Vec<u8>) {
        for &b in bytes {
            self.state = match (self.state, b) {
                (StripState::Text, 0x1b) => StripState::Escape,
                (StripState::Text, _) => {
                    text.push(b);
                    if b != b' ' {
                        dense.push(b);
                    }
                    StripState::Text
                }
                (StripState::Escape, b'[') => StripState::Csi,
                (StripState::Escape, b']') => StripState::Osc,
                (StripState::Escape, _) => StripState::Text,
                (StripState::Csi, 0x40..=0x7e) => StripState::Text,
                (StripState::Csi, _) => StripState::Csi,
                (StripState::Osc, 0x07) => StripState::Text,
                (StripState::Osc, 0x1b) => StripState::Escape,
                (StripState::Osc, _) => StripState::Osc,
            };
        }
    }
}

/// A program in a pseudo-terminal of its own (its controlling terminal), its output read
/// on a thread and kept as text without control sequences (and without spaces, `dense`).
struct Pty {
    master: File,
    child: Child,
    chunks: Receiver<Vec<u8>>,
    strip: Strip,
    text: Vec<u8>,
    dense: Vec<u8>,
    stderr: PathBuf,
}

impl Pty {
    fn spawn(
        exe: &Path,
        args: &[&OsStr],
        cwd: &Path,
        (cols, rows): (u16, u16),
    ) -> anyhow::Result<Pty> {
        let stderr = cwd.join("stderr.txt");
        let mut cmd = Command::new(exe);
        cmd.args(args)
            .current_dir(cwd)
            .env("TERM", "xterm-256color")
            .stderr(Stdio::from(File::create(&stderr).with_context(|| {
                format!("cannot create {}", stderr.display())
            })?));
        let crate::pty::PtyChild {
            master,
            child,
            output: chunks,
        } = crate::pty::spawn(cmd, (cols, rows))
            .with_context(|| format!("cannot start {} in a pseudo-terminal", exe.display()))?;
        Ok(Pty {
            master,
            child,
            chunks,
            strip: Strip::default(),
            text: Vec::new(),
            dense: Vec::new(),
            stderr,
        })
    }

    /// Take in what arrives within `wait`; false once the program's side is closed.
    fn pump(&mut self, wait: Duration) -> bool {
        match self.chunks.recv_timeout(wait) {
            Ok(chunk) => {
                self.strip.feed(&chunk, &mut self.text, &mut self.dense);
                while let Ok(chunk) = self.chunks.try_recv() {
                    self.strip.feed(&chunk, &mut self.text, &mut self.dense);
                }
                true
            }
            Err(RecvTimeoutError::Timeout) => true,
            Err(RecvTimeoutError::Disconnected) => false,
        }
    }

    fn pump_for(&mut self, how_long: Duration) {
        let end = Instant::now() + how_long;
        while Instant::now() < end {
            if !self.pump(Duration::from_millis(20)) {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }

    /// Everything written until the program's side closes (at most `limit`).
    fn drain(&mut self, limit: Duration) {
        let end = Instant::now() + limit;
        while Instant::now() < end && self.pump(Duration::from_millis(20)) {}
    }

    /// Wait until `done(dense)` says so; an error when the program exits first, or at `timeout`.
    fn wait_until(
        &mut self,
        timeout: Duration,
        mut done: impl FnMut(&[u8]) -> anyhow::Result<bool>,
    ) -> anyhow::Result<()> {
        let end = Instant::now() + timeout;
        loop {
            self.pump(Duration::from_millis(20));
            if done(&self.dense)? {
                return Ok(());
            }
            if let Some(status) = self.child.try_wait()? {
                self.drain(Duration::from_secs(1));
                anyhow::bail!(
                    "konbini exited {status} while the bench waited: {}",
                    self.stderr()
                );
            }
            if Instant::now() > end {
                anyhow::bail!(
                    "the bench waited {timeout:?} in vain; the program's stderr: {}",
                    self.stderr()
                );
            }
        }
    }

    /// Wait until `needle` (spaces aside) shows in what was written after `from` (a length
    /// of `dense`).
    fn wait_for(&mut self, needle: &str, from: usize, timeout: Duration) -> anyhow::Result<()> {
        let dense_needle: Vec<u8> = needle.bytes().filter(|&b| b != b' ').collect();
        self.wait_until(timeout, |dense| {
            Ok(contains(dense.get(from..).unwrap_or(&[]), &dense_needle))
        })
        .with_context(|| format!("waiting for {needle:?}"))
    }

    fn send(&mut self, keys: &[u8]) -> anyhow::Result<()> {
        self.master.write_all(keys)?;
        self.master.flush()?;
        Ok(())
    }

    fn wait_exit(&mut self, timeout: Duration) -> anyhow::Result<ExitStatus> {
        let end = Instant::now() + timeout;
        loop {
            self.pump(Duration::from_millis(20));
            if let Some(status) = self.child.try_wait()? {
                return Ok(status);
            }
            if Instant::now() > end {
                anyhow::bail!("konbini did not exit within {timeout:?} of q");
            }
        }
    }

    /// The program's stderr so far (its first lines).
    fn stderr(&self) -> String {
        let text = std::fs::read_to_string(&self.stderr).unwrap_or_default();
        text.lines().take(5).collect::<Vec<_>>().join(" / ")
    }
}

impl Drop for Pty {
    fn drop(&mut self) {
        // Only our own child, and only if it is still running.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stripping_keeps_the_text_of_a_frame_split_anywhere() {
        let frame =
            "\x1b[1;1H\x1b[38;5;2m正\x1b[2;3H常 1000000件\x1b]0;title\x07 end\x1b7".as_bytes();
        for cut in 0..frame.len() {
            let mut strip = Strip::default();
            let (mut text, mut dense) = (Vec::new(), Vec::new());
            strip.feed(&frame[..cut], &mut text, &mut dense);
            strip.feed(&frame[cut..], &mut text, &mut dense);
            assert_eq!(
                String::from_utf8_lossy(&text),
                "正常 1000000件 end",
                "cut at {cut}"
            );
            assert_eq!(
                String::from_utf8_lossy(&dense),
                "正常1000000件end",
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn percentiles_are_by_nearest_rank() {
        let s = Spread::of((1..=100).rev().map(Duration::from_millis).collect());
        assert_eq!(s.p50(), Duration::from_millis(50));
        assert_eq!(s.p99(), Duration::from_millis(99));
        assert_eq!(s.max(), Duration::from_millis(100));
        assert_eq!(Spread::of(Vec::new()).p99(), Duration::ZERO);
    }
}
