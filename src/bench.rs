//! `konbini bench`: the performance figures, each printed with its ratio to the limit that
//! bounds it, measured in the same run on the same disk. Figures, never assertions.

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use rusqlite::{Connection, TransactionBehavior};

use crate::domain::BillBarcode;
use crate::register::check_barcode;
use crate::replay::synth::{SynthOptions, store_day};
use crate::replay::{Observer, ReplayOptions, replay};

/// Durable replay against raw SQLite commits.
#[derive(Debug, Clone)]
pub struct ReplayFigures {
    /// Sales replayed.
    pub sales: u64,
    /// Durable replay throughput (one synchronous=FULL commit per sale).
    pub replay_sales_per_s: f64,
    /// Raw single-row synchronous=FULL commits on the same disk, SQLite's defaults.
    pub raw_commits_per_s: f64,
    /// The same with the journal's page size.
    pub raw_small_page_commits_per_s: f64,
}

struct Quiet;
impl Observer for Quiet {
    fn bad_line(&mut self, _line: u64, _reason: &str) {}
}

/// Measure durable replay and raw commits in `dir` (same disk), `sales` of each, in
/// `rounds` interleaved rounds; the medians are reported, since this machine is shared.
pub fn replay_figures(dir: &Path, sales: u64, rounds: u32) -> anyhow::Result<ReplayFigures> {
    let work = dir.join(format!("konbini-bench-{}", std::process::id()));
    std::fs::create_dir_all(&work)?;
    let result = (|| {
        let log = work.join("bench.jsonl");
        let text = store_day(&SynthOptions {
            sales,
            seed: 7,
            date: NaiveDate::from_ymd_opt(2026, 11, 28).expect("valid date"),
            mistakes: false,
            max_slips: 1,
        });
        std::fs::write(&log, text)?;
        let mut raw = Vec::new();
        let mut raw_small = Vec::new();
        let mut replays = Vec::new();
        for round in 0..rounds.max(1) {
            raw.push(per_second(
                sales,
                raw_commits(&work.join(format!("raw{round}.db")), sales, None)?,
            ));
            raw_small.push(per_second(
                sales,
                raw_commits(
                    &work.join(format!("raw-small{round}.db")),
                    sales,
                    Some(crate::journal::JOURNAL_PAGE_SIZE),
                )?,
            ));
            let opts = ReplayOptions {
                log: log.clone(),
                journal: work.join(format!("journal{round}.db")),
                receipts: None,
            };
            let start = Instant::now();
            let summary = replay(&opts, &mut Quiet)?;
            replays.push(per_second(sales, start.elapsed()));
            anyhow::ensure!(
                summary.tally.sales.completed == sales,
                "replay completed {} sales, expected {sales}",
                summary.tally.sales.completed
            );
        }
        Ok(ReplayFigures {
            sales,
            replay_sales_per_s: median(&mut replays),
            raw_commits_per_s: median(&mut raw),
            raw_small_page_commits_per_s: median(&mut raw_small),
        })
    })();
    let _ = std::fs::remove_dir_all(&work);
    result
}

fn median(xs: &mut [f64]) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

/// Time `n` single-row commits, each its own `BEGIN IMMEDIATE` transaction, in WAL mode
/// with synchronous=FULL: the most a durable journal can do on this disk. `page_size` None
/// is SQLite's default (4 KB); the journal's own page size is measured too.
fn raw_commits(path: &Path, n: u64, page_size: Option<i64>) -> anyhow::Result<Duration> {
    let mut conn = Connection::open(path)?;
    if let Some(size) = page_size {
        conn.pragma_update(None, "page_size", size)?;
    }
    let mode: String = conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))?;
    anyhow::ensure!(mode == "wal", "raw bench database is not in WAL mode");
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)")?;
    let row = "x".repeat(200);
    let start = Instant::now();
    for i in 0..n {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute(
            "INSERT INTO t (id, v) VALUES (?1, ?2)",
            rusqlite::params![i as i64, row],
        )?;
        tx.commit()?;
    }
    Ok(start.elapsed())
}

/// Barcode parse + checks 1-4 per second on one core, for about `duration`.
pub fn barcode_per_second(duration: Duration) -> f64 {
    let today = NaiveDate::from_ymd_opt(2026, 11, 28).expect("valid date");
    let frames: Vec<String> = (0..4096u64)
        .map(|i| {
            let code = BillBarcode::build(&crate::domain::BillFields {
                company_code: "912345",
                free_area: &format!("{:021}", i * 104_729),
                reissue: 0,
                deadline: crate::domain::Deadline::On(today + chrono::Duration::days(30)),
                stamp: false,
                amount: crate::domain::Yen::new(1_000 + i),
            })
            .expect("valid fields");
            format!("]C1{code}")
        })
        .collect();
    let start = Instant::now();
    let mut done = 0u64;
    while start.elapsed() < duration {
        for f in &frames {
            let _ = black_box(check_barcode(black_box(f), today));
        }
        done += frames.len() as u64;
    }
    per_second(done, start.elapsed())
}

fn per_second(n: u64, t: Duration) -> f64 {
    n as f64 / t.as_secs_f64().max(1e-9)
}

/// Scanner frames per second through the codec (CRLF suffix, 44-digit GS1-128 frames) for
/// about `duration`, and the wire time of one such frame at 9,600 baud 8N1 (10 bits a byte).
pub fn codec_frames_per_second(duration: Duration) -> (f64, Duration) {
    use bytes::BytesMut;
    use tokio_util::codec::Decoder;

    use crate::scanner::{Framing, SCAN_FRAME_MAX_BYTES, ScanCodec};
    let frame = "]C191912345012345678901234567890101033101230003\r\n";
    let wire: Vec<u8> = frame.repeat(10_000).into_bytes();
    let mut codec = ScanCodec::new(Framing::Line, SCAN_FRAME_MAX_BYTES);
    let start = Instant::now();
    let mut frames = 0u64;
    while start.elapsed() < duration {
        let mut buf = BytesMut::from(&wire[..]);
        while let Ok(Some(f)) = codec.decode(black_box(&mut buf)) {
            black_box(f);
            frames += 1;
        }
    }
    let wire_time = Duration::from_secs_f64(frame.len() as f64 * 10.0 / 9600.0);
    (per_second(frames, start.elapsed()), wire_time)
}

/// Scan-to-message latency through a real pseudo-terminal: the virtual scanner writes a
/// whole frame, the reader task delivers it; `n` samples. Returns (p50, p99) and the wire
/// time of the same frame at 9,600 baud, the latency a real RS-232 scanner adds anyway.
pub fn scan_latency(n: usize) -> anyhow::Result<(Duration, Duration, Duration)> {
    use crate::scanner::reader::{self, ReaderConfig, ScannerEvent};
    use crate::scanner::sim::{Suffix, VirtualPort};

    let frame_base = "]C19191234501234567890123456789010103310123000";
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let mut port = VirtualPort::open()?;
    let mut config = ReaderConfig::new(port.path());
    // Every sample is a different frame, so none is a re-read.
    config.debounce = Duration::ZERO;
    let (tx, mut rx) = tokio::sync::mpsc::channel(16);
    let cancel = tokio_util::sync::CancellationToken::new();
    let task = runtime.spawn(reader::run(config, tx, cancel.clone()));
    let mut samples = Vec::with_capacity(n);
    runtime.block_on(async { while !matches!(rx.recv().await, Some(ScannerEvent::Connected)) {} });
    for i in 0..n {
        let wire = Suffix::Crlf.wire(&format!("{frame_base}{}", i % 10));
        let start = Instant::now();
        port.send(&wire, None)?;
        let got = runtime.block_on(async {
            tokio::time::timeout(Duration::from_secs(5), async {
                loop {
                    match rx.recv().await {
                        Some(ScannerEvent::Frame(_)) => return true,
                        Some(_) => {}
                        None => return false,
                    }
                }
            })
            .await
        });
        anyhow::ensure!(got == Ok(true), "the reader lost frame {i}");
        samples.push(start.elapsed());
    }
    cancel.cancel();
    let _ = runtime.block_on(task);
    samples.sort();
    let wire_time = Duration::from_secs_f64(49.0 * 10.0 / 9600.0);
    Ok((samples[n / 2], samples[n * 99 / 100], wire_time))
}

/// ESC/POS decoder throughput in MB/s over typical receipt jobs, for about `duration`.
pub fn decoder_mb_per_second(duration: Duration) -> f64 {
    let receipt = crate::devices::test_receipt(Path::new("/dev/usb/lp0"));
    let job = crate::printer::encode_receipt(&receipt, crate::receipt::COLUMNS_80MM);
    let jobs = job.repeat(64);
    let start = Instant::now();
    let mut bytes = 0u64;
    let mut events = 0u64;
    while start.elapsed() < duration {
        let mut decoder = konbini_firmware::decoder::Decoder::new();
        for &b in black_box(&jobs) {
            decoder.push(b, &mut |e| {
                black_box(e);
                events += 1;
            });
        }
        bytes += jobs.len() as u64;
    }
    black_box(events);
    bytes as f64 / 1e6 / start.elapsed().as_secs_f64()
}

/// The printer figures for a typical receipt (two bill payments, one with a revenue stamp).
#[derive(Debug, Clone)]
pub struct PrinterFigures {
    /// Lines of the receipt's layout.
    pub layout_lines: usize,
    /// Receipts laid out and encoded to ESC/POS per second.
    pub encode_per_s: f64,
    /// Bytes of the job.
    pub job_bytes: usize,
    /// Job to dot lines through the firmware's decoder and engine (median).
    pub raster: Duration,
    /// Dot lines printed.
    pub dot_lines: u32,
    /// Dot lines to PNG bytes (median).
    pub png: Duration,
    /// The job's wire time on a serial printer at 38,400 baud, 8N1 (10 bits a byte).
    pub wire: Duration,
}

/// A typical committed sale: two bill payments, one of them stamped.
pub fn sample_sale() -> crate::journal::SaleRecord {
    use crate::domain::{BillFields, Deadline, Yen};
    use crate::journal::{SaleRecord, SlipPay, SlipRecord, SyncState};
    let deadline = NaiveDate::from_ymd_opt(2026, 12, 15).expect("valid date");
    let slip = |idx: u32, free: &str, yen: u64| {
        let code = BillBarcode::build(&BillFields {
            company_code: "912345",
            free_area: free,
            reissue: 0,
            deadline: Deadline::On(deadline),
            stamp: yen >= 50_000,
            amount: Yen::new(yen),
        })
        .expect("valid fields");
        SlipRecord {
            id: format!("bench-1-{idx}"),
            idx,
            at: "2026-11-28T10:14:40+09:00".to_owned(),
            pay: SlipPay::Barcode(code.to_string()),
            amount: Yen::new(yen),
            stamp: yen >= 50_000,
            sync: SyncState::Pending,
        }
    };
    SaleRecord {
        seq: 42,
        at: "2026-11-28T10:15:03+09:00".to_owned(),
        terminal: "T01".to_owned(),
        store: crate::register::Store {
            code: "0815".to_owned(),
            chain: Some(crate::domain::Chain::FamilyMart),
            name: "ファミリーマート 札幌駅前店".to_owned(),
        },
        total: Yen::new(55_400),
        tendered: Yen::new(60_000),
        change: Yen::new(4_600),
        slips: vec![
            slip(1, "112000000000000000001", 5_400),
            slip(2, "113000000000000000002", 50_000),
        ],
        prev_hash: String::new(),
        hash: String::new(),
    }
}

/// Receipt → ESC/POS per second, and receipt → raster lines (and → PNG) per receipt, each
/// for about `duration`; beside the job's wire time at 38,400 baud.
pub fn printer_figures(duration: Duration) -> anyhow::Result<PrinterFigures> {
    use crate::printer::{encode_receipt, render};
    use crate::receipt::{COLUMNS_80MM, Receipt};

    let sale = sample_sale();
    let start = Instant::now();
    let mut encoded = 0u64;
    let mut job = Vec::new();
    while start.elapsed() < duration {
        for _ in 0..100 {
            job = encode_receipt(&Receipt::for_sale(black_box(&sale)), COLUMNS_80MM);
            black_box(&job);
        }
        encoded += 100;
    }
    let encode_per_s = per_second(encoded, start.elapsed());
    let mut raster = Vec::new();
    let mut pngs = Vec::new();
    let mut dot_lines = 0;
    let start = Instant::now();
    while start.elapsed() < duration || raster.is_empty() {
        let t = Instant::now();
        let (sheet, _) = render(black_box(&job), konbini_firmware::DOTS_80MM)?;
        raster.push(t.elapsed().as_secs_f64());
        dot_lines = sheet.dot_lines();
        let t = Instant::now();
        black_box(sheet.png_bytes()?);
        pngs.push(t.elapsed().as_secs_f64());
    }
    Ok(PrinterFigures {
        layout_lines: Receipt::for_sale(&sale).lines.len(),
        encode_per_s,
        job_bytes: job.len(),
        raster: Duration::from_secs_f64(median(&mut raster)),
        dot_lines,
        png: Duration::from_secs_f64(median(&mut pngs)),
        wire: Duration::from_secs_f64(job.len() as f64 * 10.0 / 38_400.0),
    })
}
