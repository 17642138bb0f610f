//! The performance figures, each printed with its ratio to the limit that
//! bounds it, measured in the same run on the same disk. Figures, never assertions.

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use rusqlite::{Connection, TransactionBehavior};

use konbini_domain::BillBarcode;
use konbini_pos::replay::synth::{SynthOptions, store_day};
use konbini_pos::replay::{Observer, ReplayOptions, replay};
use konbini_register::check_barcode;

/// Durable replay against raw SQLite commits.
#[derive(Debug, Clone)]
pub struct ReplayFigures {
    /// Sales replayed.
    pub sales: u64,
    /// Durable replay throughput, one synchronous=FULL commit per sale (`--group-sales 1`).
    pub replay_sales_per_s: f64,
    /// The same with the default group commit (a FULL commit per group of sales).
    pub grouped_sales_per_s: f64,
    /// Raw SQLite inserts of the very rows the grouped replay wrote (sales, slips, outbox,
    /// print jobs, and the chain head and replay position in `meta` for each sale), in
    /// transactions of the same size, synchronous=FULL, into a fresh journal's schema:
    /// sales per second.
    pub raw_grouped_sales_per_s: f64,
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
        let mut grouped = Vec::new();
        let mut raw_grouped = Vec::new();
        let rounds = rounds.max(1);
        for round in 0..rounds {
            raw.push(per_second(
                sales,
                raw_commits(&work.join(format!("raw{round}.db")), sales, None)?,
            ));
            raw_small.push(per_second(
                sales,
                raw_commits(
                    &work.join(format!("raw-small{round}.db")),
                    sales,
                    Some(konbini_journal::JOURNAL_PAGE_SIZE),
                )?,
            ));
            for (group_sales, rates) in [
                (1, &mut replays),
                (konbini_pos::replay::DEFAULT_GROUP_SALES, &mut grouped),
            ] {
                let opts = ReplayOptions {
                    barcodes: Default::default(),
                    log: log.clone(),
                    journal: work.join(format!("journal{round}-{group_sales}.db")),
                    receipts: None,
                    upstream: None,
                    group_sales,
                };
                let start = Instant::now();
                let summary = replay(&opts, &mut Quiet)?;
                rates.push(per_second(sales, start.elapsed()));
                anyhow::ensure!(
                    summary.tally.sales.completed == sales,
                    "replay completed {} sales, expected {sales}",
                    summary.tally.sales.completed
                );
            }
            let grouped_journal = work.join(format!(
                "journal{round}-{}.db",
                konbini_pos::replay::DEFAULT_GROUP_SALES
            ));
            raw_grouped.push(per_second(
                sales,
                raw_inserts_of(
                    &grouped_journal,
                    &work.join(format!("raw-rows{round}.db")),
                    konbini_pos::replay::DEFAULT_GROUP_SALES,
                )?,
            ));
        }
        Ok(ReplayFigures {
            sales,
            replay_sales_per_s: median(&mut replays),
            grouped_sales_per_s: median(&mut grouped),
            raw_grouped_sales_per_s: median(&mut raw_grouped),
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

/// The rows of one table, in key order, as bound values.
fn rows_of(src: &Connection, sql: &str) -> anyhow::Result<Vec<Vec<rusqlite::types::Value>>> {
    let mut st = src.prepare(sql)?;
    let n = st.column_count();
    let rows = st
        .query_map([], |r| (0..n).map(|i| r.get(i)).collect())?
        .collect::<Result<Vec<Vec<rusqlite::types::Value>>, _>>()?;
    Ok(rows)
}

/// Time raw inserts of the rows journal `src` holds into a fresh journal's schema at `dst`,
/// `group` sales a transaction (synchronous=FULL, the journal's own PRAGMAs): per sale its
/// row, its slips, their outbox rows, its print job, and three `meta` upserts (the chain
/// head's seq and hash, the replay's position), each a prepared statement bound to values
/// read beforehand. No hashing, no rules, no log: what SQLite itself costs for those rows.
fn raw_inserts_of(src: &Path, dst: &Path, group: usize) -> anyhow::Result<Duration> {
    use rusqlite::params_from_iter;
    drop(konbini_journal::Journal::open(dst)?);
    let read = Connection::open_with_flags(src, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let sales = rows_of(
        &read,
        "SELECT seq, at, terminal, store_code, store_chain, store_name, total_yen, tendered_yen, change_yen, prev_hash, hash FROM sales ORDER BY seq",
    )?;
    let slips = rows_of(
        &read,
        "SELECT sale_seq, idx, at, barcode, chain, payment_code, confirmation_number, payment, merchant, amount_yen, stamp FROM slips ORDER BY sale_seq, idx",
    )?;
    let outbox = rows_of(
        &read,
        "SELECT sale_seq, idx, state, attempts, next_attempt_at, last_error FROM outbox ORDER BY sale_seq, idx",
    )?;
    let prints = rows_of(
        &read,
        "SELECT sale_seq, state, attempts, last_error FROM print_queue ORDER BY sale_seq",
    )?;
    let progress: String = read.query_row(
        "SELECT value FROM meta WHERE key LIKE 'replay:%' LIMIT 1",
        [],
        |r| r.get(0),
    )?;
    drop(read);
    let mut conn = Connection::open(dst)?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    let seq_of = |row: &[rusqlite::types::Value]| match row[0] {
        rusqlite::types::Value::Integer(n) => n,
        _ => 0,
    };
    let (mut slip, mut out, mut print) = (0, 0, 0);
    let start = Instant::now();
    for chunk in sales.chunks(group.max(1)) {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        {
            let mut ins_sale = tx.prepare_cached("INSERT INTO sales (seq, at, terminal, store_code, store_chain, store_name, total_yen, tendered_yen, change_yen, prev_hash, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)")?;
            let mut ins_slip = tx.prepare_cached("INSERT INTO slips (sale_seq, idx, at, barcode, chain, payment_code, confirmation_number, payment, merchant, amount_yen, stamp) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)")?;
            let mut ins_out = tx.prepare_cached("INSERT INTO outbox (sale_seq, idx, state, attempts, next_attempt_at, last_error) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")?;
            let mut ins_print = tx.prepare_cached(
                "INSERT INTO print_queue (sale_seq, state, attempts, last_error) VALUES (?1, ?2, ?3, ?4)",
            )?;
            let mut meta = tx.prepare_cached(
                "INSERT INTO meta (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            )?;
            for sale in chunk {
                let seq = seq_of(sale);
                ins_sale.execute(params_from_iter(sale.iter()))?;
                while slip < slips.len() && seq_of(&slips[slip]) == seq {
                    ins_slip.execute(params_from_iter(slips[slip].iter()))?;
                    slip += 1;
                }
                while out < outbox.len() && seq_of(&outbox[out]) == seq {
                    ins_out.execute(params_from_iter(outbox[out].iter()))?;
                    out += 1;
                }
                while print < prints.len() && seq_of(&prints[print]) == seq {
                    ins_print.execute(params_from_iter(prints[print].iter()))?;
                    print += 1;
                }
                meta.execute(rusqlite::params!["head_seq", seq.to_string()])?;
                meta.execute(rusqlite::params!["head_hash", &sale[10]])?;
                meta.execute(rusqlite::params!["replay:bench", &progress])?;
            }
        }
        tx.commit()?;
    }
    Ok(start.elapsed())
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
            let code = BillBarcode::build(&konbini_domain::BillFields {
                company_code: "912345",
                free_area: &format!("{:021}", i * 104_729),
                reissue: 0,
                deadline: konbini_domain::Deadline::On(today + chrono::Duration::days(30)),
                stamp: false,
                amount: konbini_domain::Yen::new(1_000 + i),
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

    use konbini_devices::scanner::{Framing, SCAN_FRAME_MAX_BYTES, ScanCodec};
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
    use konbini_devices::scanner::reader::{self, ReaderConfig, ScannerEvent};
    use konbini_devices::scanner::sim::{Suffix, VirtualPort};

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
    let receipt = konbini_pos::devices::test_receipt(Path::new("/dev/usb/lp0"));
    let job =
        konbini_devices::printer::encode_receipt(&receipt, konbini_devices::receipt::COLUMNS_80MM);
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

/// The payment network's figures, all on one in-process server over loopback HTTP.
#[derive(Debug, Clone)]
pub struct NetworkFigures {
    /// Raw `GET /health` round trips per second (the HTTP stack's own limit).
    pub health_per_second: f64,
    /// Konbini PaymentIntents created and confirmed per second (`confirm=true`).
    pub creations_per_second: f64,
    /// Confirmations per second through the signed terminal API, in batches of 100.
    pub confirmations_per_second: f64,
    /// Clients sending at once.
    pub clients: usize,
    /// Nodes serving (each its own `Network` and listener over one store).
    pub nodes: usize,
    /// CPU per confirmation, in microseconds: (this process: the network nodes and the
    /// clients; every `postgres` process of the machine, when the store is PostgreSQL).
    pub cpu_us_per_confirmation: (f64, Option<f64>),
    /// The PostgreSQL database's own statistics over the confirmations, when it is one.
    pub db_stats: Option<String>,
}

/// Measure the network: `payments` PaymentIntents created, then all confirmed by barcode
/// in signed batches of 100, against raw `/health` round trips, with `clients` at once.
pub fn network_figures(payments: usize, clients: usize) -> anyhow::Result<NetworkFigures> {
    network_figures_on(payments, clients, None, 1, Terminals::One)
}

/// Who sends a bench's confirmation batches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Terminals {
    /// One terminal, its batches taken by whichever client is free (out of order): one
    /// register's worst case, every batch in the same terminal's turn.
    One,
    /// A terminal per client, each sending its own journal chain's batches in order, as a
    /// chain's registers do.
    PerClient,
}

/// [`network_figures`] on the store `db` names (a `postgres://` URL), or a fresh SQLite file,
/// served by `nodes` networks on one store (client `i` talks to node `i % nodes`).
pub fn network_figures_on(
    payments: usize,
    clients: usize,
    db: Option<&str>,
    nodes: usize,
    terminals: Terminals,
) -> anyhow::Result<NetworkFigures> {
    use konbini_protocol::sign;
    use tokio_util::sync::CancellationToken;

    let dir = std::env::temp_dir().join(format!("konbini-bench-net-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let figures = rt.block_on(async {
        anyhow::ensure!(
            nodes == 1 || db.is_some(),
            "several nodes need a shared store (a postgres:// URL)"
        );
        let cancel = CancellationToken::new();
        let mut bases = Vec::new();
        let mut servers = Vec::new();
        let store = match db {
            Some(url) => url.to_owned(),
            None => dir.join("network.db").to_string_lossy().into_owned(),
        };
        for _ in 0..nodes.max(1) {
            let (base, server) = bench_node(&store, &cancel).await?;
            servers.push(server);
            bases.push(base);
        }
        let base = bases[0].clone();
        let client = reqwest::Client::new();

        // Raw round trips.
        let health_n = 4000;
        let start = Instant::now();
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..clients {
            let (client, url) = (client.clone(), format!("{base}/health"));
            set.spawn(async move {
                for _ in 0..health_n / clients {
                    client.get(&url).send().await?.bytes().await?;
                }
                Ok::<_, reqwest::Error>(())
            });
        }
        while let Some(r) = set.join_next().await {
            r??;
        }
        // What was sent: each client sends its share, the remainder of the division none.
        let health_per_second = per_second((health_n / clients * clients) as u64, start.elapsed());

        // Creations.
        let start = Instant::now();
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..clients {
            let (client, url) = (client.clone(), format!("{base}/v1/payment_intents"));
            set.spawn(async move {
                let mut barcodes = Vec::new();
                for i in 0..payments / clients {
                    let body = format!(
                        "amount={}&currency=jpy&payment_method_types[0]=konbini&confirm=true&payment_method_data[type]=konbini&payment_method_data[billing_details][name]=Bench&payment_method_data[billing_details][email]=bench%40example.jp",
                        1000 + i
                    );
                    let v: serde_json::Value = client
                        .post(&url)
                        .bearer_auth("sk_test_bench")
                        .header("content-type", "application/x-www-form-urlencoded")
                        .body(body)
                        .send()
                        .await?
                        .json()
                        .await?;
                    let Some(code) = v["next_action"]["konbini_display_details"]["barcode"]
                        .as_str()
                        .map(str::to_owned)
                    else {
                        anyhow::bail!("a payment came back without its barcode: {v}");
                    };
                    barcodes.push((code, 1000 + i as i64));
                }
                Ok::<_, anyhow::Error>(barcodes)
            });
        }
        let mut all = Vec::new();
        while let Some(r) = set.join_next().await {
            all.extend(r??);
        }
        let creations_per_second = per_second(all.len() as u64, start.elapsed());
        anyhow::ensure!(
            all.iter().all(|(b, _)| b.len() == 44),
            "a payment came back without its barcode"
        );

        // Confirmations, signed batches of 100: each client's queue of (terminal, batch),
        // taken from its end. One terminal: one queue shared by every client. A terminal per
        // client: client c sends every clients-th batch, numbered along its own chain.
        let senders = match terminals {
            Terminals::One => 1,
            Terminals::PerClient => clients,
        };
        anyhow::ensure!(senders <= 64, "at most 64 clients send as terminals of their own");
        let mut queues: Vec<Vec<(String, Vec<serde_json::Value>)>> = vec![Vec::new(); senders];
        for (b, chunk) in all.chunks(100).enumerate() {
            let (sender, nth) = (b % senders, b / senders);
            let terminal = match terminals {
                Terminals::One => "bench".to_owned(),
                Terminals::PerClient => format!("bench-{sender}"),
            };
            let batch = chunk
                .iter()
                .enumerate()
                .map(|(i, (barcode, amount))| {
                    let seq = (nth * 100 + i + 1) as i64;
                    serde_json::json!({
                        "id": format!("{terminal}-{seq}"),
                        "store": "0001",
                        "chain": "lawson",
                        "paid_at": chrono::Utc::now().to_rfc3339(),
                        "amount": amount,
                        "barcode": barcode,
                        "journal": {"seq": seq, "prev": format!("{:064x}", seq - 1), "hash": format!("{seq:064x}")},
                    })
                })
                .collect();
            queues[sender].push((terminal, batch));
        }
        let queues: Vec<_> = queues
            .into_iter()
            .map(|mut q| {
                q.reverse();
                std::sync::Arc::new(std::sync::Mutex::new(q))
            })
            .collect();
        // As pgbench does before it measures: the creations' rows vacuumed and analyzed now,
        // so that autovacuum's first pass over them (20,000 new payments and what came with
        // them) does not land inside the confirmations' second or two, as it did in about
        // one PostgreSQL round in four without this (the server's CPU per confirmation up by
        // a third). A long-running database has had that pass long before.
        if let Some(url) = db {
            let out = std::process::Command::new("psql")
                .args([url, "-v", "ON_ERROR_STOP=1", "-Atc", "VACUUM (ANALYZE)"])
                .output()?;
            anyhow::ensure!(
                out.status.success(),
                "psql VACUUM: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        let stats_before = match db {
            Some(url) => Some(pg_stats(url)?),
            None => None,
        };
        let pg_cpu_before = db.map(|_| postgres_cpu());
        let profiler = Profiler::start()?;
        let cpu_before = process_cpu()?;
        let start = Instant::now();
        let mut set = tokio::task::JoinSet::new();
        for c in 0..clients {
            let (client, queue) = (client.clone(), queues[c % queues.len()].clone());
            let url = format!("{}/terminal/v1/confirmations", bases[c % bases.len()]);
            set.spawn(async move {
                let mut accepted = 0usize;
                loop {
                    let Some((terminal, batch)) = queue.lock().map_err(|_| anyhow::anyhow!("poisoned"))?.pop() else {
                        break;
                    };
                    let body = serde_json::json!({ "confirmations": batch }).to_string();
                    let t = chrono::Utc::now().timestamp();
                    let sig = sign("bench-secret", t, "POST", "/terminal/v1/confirmations", body.as_bytes());
                    let v: serde_json::Value = client
                        .post(&url)
                        .header("Konbini-Terminal", terminal)
                        .header("Konbini-Signature", sig)
                        .header("content-type", "application/json")
                        .body(body)
                        .send()
                        .await?
                        .json()
                        .await?;
                    accepted += v["results"]
                        .as_array()
                        .map_or(0, |r| r.iter().filter(|x| x["status"] == "accepted").count());
                }
                Ok::<_, anyhow::Error>(accepted)
            });
        }
        let mut accepted = 0;
        while let Some(r) = set.join_next().await {
            accepted += r??;
        }
        let confirmations_per_second = per_second(accepted as u64, start.elapsed());
        profiler.stop();
        let per = |d: Duration| d.as_secs_f64() * 1e6 / accepted.max(1) as f64;
        let cpu = per(process_cpu()?.saturating_sub(cpu_before));
        let pg_cpu = pg_cpu_before.map(|before| per(postgres_cpu().saturating_sub(before)));
        let db_stats = match (db, stats_before) {
            (Some(url), Some(before)) => Some(pg_stats(url)?.since(&before, accepted)),
            _ => None,
        };
        anyhow::ensure!(
            accepted == all.len(),
            "only {accepted} of {} confirmations were accepted",
            all.len()
        );
        cancel.cancel();
        for server in servers {
            let _ = server.await;
        }
        Ok::<_, anyhow::Error>(NetworkFigures {
            health_per_second,
            creations_per_second,
            confirmations_per_second,
            clients,
            nodes: bases.len(),
            cpu_us_per_confirmation: (cpu, pg_cpu),
            db_stats,
        })
    });
    let _ = std::fs::remove_dir_all(&dir);
    figures
}

/// A profiler run around the confirmations alone: the shell command in
/// `KONBINI_BENCH_PROFILE` (for example `perf record -a -g -o /tmp/confirm.data`), started
/// as they begin and stopped with SIGINT when they end; the figures are then those of a
/// profiled run.
struct Profiler(Option<std::process::Child>);

impl Profiler {
    fn start() -> anyhow::Result<Profiler> {
        let Ok(command) = std::env::var("KONBINI_BENCH_PROFILE") else {
            return Ok(Profiler(None));
        };
        let child = std::process::Command::new("sh")
            .args(["-c", &format!("exec {command}")])
            .spawn()?;
        // Let it attach before the first batch.
        std::thread::sleep(Duration::from_millis(300));
        Ok(Profiler(Some(child)))
    }

    fn stop(self) {
        if let Some(mut child) = self.0 {
            // SAFETY: kill(2) on the child this struct started and has not yet reaped.
            unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
            let _ = child.wait();
        }
    }
}

/// Store-and-forward figures: draining a journal's outbox to a local network, and the time
/// from a sale's commit to the merchant's webhook.
#[derive(Debug, Clone)]
pub struct SyncFigures {
    /// Slips drained in each round.
    pub slips: usize,
    /// The rounds, in the order they ran.
    pub rounds: Vec<SyncRound>,
    /// Commit-to-webhook latencies, sorted.
    pub latencies: Vec<Duration>,
}

/// One round of the sync bench: the network alone, then the drain, back to back.
#[derive(Debug, Clone, Copy)]
pub struct SyncRound {
    /// The network taking the same confirmations alone, per second, with as many requests
    /// at once as the sync task sends ([`konbini_pos::sync::IN_FLIGHT`]).
    pub network_alone_per_second: f64,
    /// The sync task draining the journal to a fresh network, per second.
    pub drain_per_second: f64,
    /// CPU time of the whole process (every thread, user and system) per slip, alone.
    pub alone_cpu_per_slip: Duration,
    /// The same while draining: the network's share plus the register's.
    pub drain_cpu_per_slip: Duration,
}

impl SyncRound {
    /// Drain against the network alone in the same round.
    pub fn ratio(&self) -> f64 {
        self.drain_per_second / self.network_alone_per_second
    }
}

impl SyncFigures {
    /// The median of `f` over the rounds.
    pub fn median(&self, f: impl Fn(&SyncRound) -> f64) -> f64 {
        median(&mut self.rounds.iter().map(f).collect::<Vec<_>>())
    }
}

/// CPU time of this process so far, every thread, user and system.
fn process_cpu() -> anyhow::Result<Duration> {
    crate::ui::cpu_time(std::process::id())
}

/// Start an in-process network on loopback with terminal `bench`; its base URL and its stop.
pub async fn bench_network(
    dir: &Path,
    name: &str,
) -> anyhow::Result<(String, tokio_util::sync::CancellationToken)> {
    let cancel = tokio_util::sync::CancellationToken::new();
    let db = dir.join(format!("{name}.db"));
    let (base, _) = bench_node(&db.to_string_lossy(), &cancel).await?;
    Ok((base, cancel))
}

/// One network node on loopback over the store `db` (a SQLite path or a `postgres://` URL)
/// with terminal `bench`, serving until `cancel`: its base URL and its task.
async fn bench_node(
    db: &str,
    cancel: &tokio_util::sync::CancellationToken,
) -> anyhow::Result<(String, tokio::task::JoinHandle<std::io::Result<()>>)> {
    use konbini_network::{Network, Settings, serve};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let mut settings = Settings::new("sk_test_bench");
    settings.public_url = base.clone();
    settings
        .terminals
        .insert("bench".to_owned(), "bench-secret".to_owned());
    // The network bench's terminals when each client is a register of its own.
    for i in 0..64 {
        settings
            .terminals
            .insert(format!("bench-{i}"), "bench-secret".to_owned());
    }
    let net = Network::open_db(db, settings).await?;
    Ok((base, tokio::spawn(serve(net, listener, cancel.clone()))))
}

/// One sale paying all of `barcodes`, a slip each, completed now (20 barcodes: a sale of 20
/// slips).
pub fn sale_of(barcodes: &[BillBarcode]) -> konbini_register::NewSale {
    use konbini_register::{NewSale, Slip, SlipKind, Station};
    let at = chrono::Utc::now().with_timezone(&konbini_domain::time::jst());
    let slips: Vec<Slip> = barcodes
        .iter()
        .map(|b| Slip {
            at,
            kind: SlipKind::Barcode(*b),
        })
        .collect();
    let total = barcodes.iter().fold(konbini_domain::Yen::ZERO, |t, b| {
        konbini_domain::Yen::new(t.get() + b.amount().get())
    });
    NewSale {
        at,
        station: Station::default(),
        slips,
        total,
        tendered: total,
        change: konbini_domain::Yen::ZERO,
    }
}

/// Measure the sync task: `slips` journaled slips (other billers' barcodes, 20 a sale)
/// drained to a fresh network, against the same confirmations posted to another fresh
/// network alone, from as many requests at once as the sync task keeps on the wire; that
/// pair `rounds` times, interleaved, each drain from its own copy of the journal, so that
/// the machine's drift falls on both sides of each round's ratio. Then `samples` sales each
/// paying a fresh PaymentIntent, timed from commit to the `payment_intent.succeeded`
/// webhook, on the last round's network.
pub fn sync_figures(slips: usize, samples: usize, rounds: usize) -> anyhow::Result<SyncFigures> {
    use konbini_domain::{BillFields, Deadline, Yen};
    use konbini_journal::Journal;
    use konbini_pos::sync::upstream::Confirmation;
    use std::sync::Arc;

    let dir = std::env::temp_dir().join(format!("konbini-bench-sync-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    // The journal: 20 slips a sale, written once and closed (which checkpoints its WAL
    // into the file), then copied for each drain.
    let pristine = dir.join("journal.db");
    {
        let mut journal = Journal::open(&pristine)?;
        let deadline = Deadline::On(NaiveDate::from_ymd_opt(2099, 12, 31).expect("a date"));
        let codes: Vec<BillBarcode> = (0..slips)
            .map(|i| {
                BillBarcode::build(&BillFields {
                    company_code: "912345",
                    free_area: &format!("{i:021}"),
                    reissue: 0,
                    deadline,
                    stamp: false,
                    amount: Yen::new(1000 + (i % 1000) as u64),
                })
                .expect("valid fields")
            })
            .collect();
        for chunk in codes.chunks(20) {
            journal.commit_sale(&sale_of(chunk), None)?;
        }
    }
    // The confirmations the network alone takes: the very ones the sync task will send.
    let batches: Arc<Vec<Vec<Confirmation>>> = {
        let j = Journal::open_read_only(&pristine)?;
        let mut batches = Vec::new();
        let mut from = (0, 0);
        loop {
            let batch = j.pending_from(from, konbini_pos::sync::BATCH_MAX)?;
            let Some(last) = batch.last() else { break };
            from = (last.seq, last.idx + 1);
            batches.push(batch.into_iter().map(Confirmation::from).collect());
        }
        Arc::new(batches)
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let figures = rt.block_on(async {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(String, Instant)>();
        let hook = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let hook_url = format!("http://{}/hook", hook.local_addr()?);
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |body: axum::body::Bytes| {
                let tx = tx.clone();
                async move {
                    let now = Instant::now();
                    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&body)
                        && v["type"] == "payment_intent.succeeded"
                    {
                        let id = v["data"]["object"]["id"].as_str().unwrap_or("").to_owned();
                        let _ = tx.send((id, now));
                    }
                    "ok"
                }
            }),
        );
        tokio::spawn(async move { axum::serve(hook, app).await });
        let client = reqwest::Client::new();
        let mut results = Vec::with_capacity(rounds);
        let mut last = None;
        let rounds = rounds.max(1);
        for round in 0..rounds {
            // Each side goes first in every other round, so that the machine's drift and
            // the files left by the phase before fall on both.
            let ((alone_time, alone_cpu), (drain_time, drain_cpu, drained)) = if round % 2 == 0 {
                let alone = sync_bench_alone(&dir, round, &batches, &hook_url, &client).await?;
                let (time, cpu, drained) =
                    sync_bench_drain(&dir, round, &pristine, slips, &hook_url, &client).await?;
                (alone, (time, cpu, Some(drained)))
            } else {
                let (time, cpu, drained) =
                    sync_bench_drain(&dir, round, &pristine, slips, &hook_url, &client).await?;
                // Settled before the network alone goes, as the alone network is before a
                // drain: stopped, or (the last round's, kept for the latency samples) idle.
                let drained = if round + 1 < rounds {
                    drained.stop().await;
                    None
                } else {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    Some(drained)
                };
                let alone = sync_bench_alone(&dir, round, &batches, &hook_url, &client).await?;
                (alone, (time, cpu, drained))
            };
            let per_slip = |cpu: Duration| cpu / slips.max(1) as u32;
            results.push(SyncRound {
                network_alone_per_second: per_second(slips as u64, alone_time),
                drain_per_second: per_second(slips as u64, drain_time),
                alone_cpu_per_slip: per_slip(alone_cpu),
                drain_cpu_per_slip: per_slip(drain_cpu),
            });
            if let Some(drained) = drained {
                if round + 1 < rounds {
                    drained.stop().await;
                } else {
                    last = Some(drained);
                }
            }
        }
        let last = last.expect("one round at least");
        let (url, journal, handle) = (&last.url, &last.journal, &last.handle);

        // Commit to webhook, one sale at a time with the link up.
        let mut latencies = Vec::with_capacity(samples);
        for i in 0..samples {
            let v: serde_json::Value = client
                .post(format!("{url}/v1/payment_intents"))
                .bearer_auth("sk_test_bench")
                .form(&[
                    ("amount", (1000 + i).to_string().as_str()),
                    ("currency", "jpy"),
                    ("confirm", "true"),
                    ("payment_method_data[billing_details][name]", "Bench"),
                    (
                        "payment_method_data[billing_details][email]",
                        "bench@example.jp",
                    ),
                ])
                .send()
                .await?
                .json()
                .await?;
            let id = v["id"].as_str().unwrap_or_default().to_owned();
            let code = BillBarcode::parse(
                v["next_action"]["konbini_display_details"]["barcode"]
                    .as_str()
                    .unwrap_or_default(),
            )
            .map_err(|e| anyhow::anyhow!("the network's barcode: {e}"))?;
            let j = journal.clone();
            let committed = tokio::task::spawn_blocking(move || {
                let mut j = j.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
                j.commit_sale(&sale_of(&[code]), None)?;
                Ok::<_, anyhow::Error>(Instant::now())
            })
            .await??;
            handle.wake();
            loop {
                let (got, at) = tokio::time::timeout(Duration::from_secs(30), rx.recv())
                    .await?
                    .ok_or_else(|| anyhow::anyhow!("the webhook receiver stopped"))?;
                if got == id {
                    latencies.push(at.saturating_duration_since(committed));
                    break;
                }
            }
        }
        latencies.sort();
        last.stop().await;
        Ok::<_, anyhow::Error>(SyncFigures {
            slips,
            rounds: results,
            latencies,
        })
    });
    drop(rt);
    let _ = std::fs::remove_dir_all(&dir);
    figures
}

/// A fresh bench network with a webhook endpoint for `payment_intent.succeeded` at
/// `hook_url` (both sides of the sync bench have one, as a merchant's network would).
async fn bench_network_with_hook(
    dir: &Path,
    name: &str,
    hook_url: &str,
    client: &reqwest::Client,
) -> anyhow::Result<(String, tokio_util::sync::CancellationToken)> {
    let (url, stop) = bench_network(dir, name).await?;
    client
        .post(format!("{url}/v1/webhook_endpoints"))
        .bearer_auth("sk_test_bench")
        .form(&[
            ("url", hook_url),
            ("enabled_events[]", "payment_intent.succeeded"),
        ])
        .send()
        .await?
        .error_for_status()?;
    Ok((url, stop))
}

/// The network alone taking `batches` from as many requests at once as the sync task keeps
/// on the wire, each sent as soon as the one before it on its connection is answered: the
/// wall time and the process's CPU time.
async fn sync_bench_alone(
    dir: &Path,
    round: usize,
    batches: &std::sync::Arc<Vec<Vec<konbini_pos::sync::upstream::Confirmation>>>,
    hook_url: &str,
    client: &reqwest::Client,
) -> anyhow::Result<(Duration, Duration)> {
    use konbini_pos::sync::upstream::{HttpUpstream, Upstream};
    let (url, stop) =
        bench_network_with_hook(dir, &format!("alone-{round}"), hook_url, client).await?;
    let upstream = HttpUpstream::new(&url, "bench", "bench-secret", Duration::from_secs(30))
        .map_err(anyhow::Error::msg)?;
    let next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let (start, cpu) = (Instant::now(), process_cpu()?);
    let mut senders = tokio::task::JoinSet::new();
    for _ in 0..konbini_pos::sync::IN_FLIGHT {
        let (batches, next, upstream) = (batches.clone(), next.clone(), upstream.clone());
        senders.spawn(async move {
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(batch) = batches.get(i) else {
                    return Ok::<_, anyhow::Error>(());
                };
                upstream.confirm(batch).await?;
            }
        });
    }
    while let Some(r) = senders.join_next().await {
        r??;
    }
    let figures = (start.elapsed(), process_cpu()? - cpu);
    stop.cancel();
    // Let the stopped network's last checkpoint finish before the next phase.
    tokio::time::sleep(Duration::from_millis(200)).await;
    Ok(figures)
}

/// A drain's sync task and network, kept running for the latency samples after the last.
struct Drained {
    cancel: tokio_util::sync::CancellationToken,
    task: tokio::task::JoinHandle<Result<(), konbini_journal::JournalError>>,
    stop: tokio_util::sync::CancellationToken,
    url: String,
    journal: konbini_pos::sync::SharedJournal,
    handle: std::sync::Arc<konbini_pos::sync::SyncHandle>,
}

impl Drained {
    async fn stop(self) {
        self.cancel.cancel();
        let _ = self.task.await;
        self.stop.cancel();
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The sync task draining a fresh copy of the journal at `pristine` (`slips` pending) to a
/// fresh network: the wall time and the process's CPU time until every verdict is written.
async fn sync_bench_drain(
    dir: &Path,
    round: usize,
    pristine: &Path,
    slips: usize,
    hook_url: &str,
    client: &reqwest::Client,
) -> anyhow::Result<(Duration, Duration, Drained)> {
    use konbini_journal::Journal;
    use konbini_pos::sync::upstream::HttpUpstream;
    use konbini_pos::sync::{SharedJournal, SyncHandle};
    use std::sync::{Arc, Mutex};
    let copy = dir.join(format!("journal-{round}.db"));
    std::fs::copy(pristine, &copy)?;
    let journal: SharedJournal = Arc::new(Mutex::new(Journal::open(&copy)?));
    let (url, stop) =
        bench_network_with_hook(dir, &format!("drain-{round}"), hook_url, client).await?;
    let handle = Arc::new(SyncHandle::default());
    let cancel = tokio_util::sync::CancellationToken::new();
    let upstream = HttpUpstream::new(&url, "bench", "bench-secret", Duration::from_secs(30))
        .map_err(anyhow::Error::msg)?;
    let (start, cpu) = (Instant::now(), process_cpu()?);
    let task = tokio::spawn(konbini_pos::sync::run(
        journal.clone(),
        upstream,
        handle.clone(),
        cancel.clone(),
    ));
    // Watched through the task's status (a lock, no journal read) until every slip is
    // answered, then by a low-water mark in the journal until every verdict is written:
    // watching costs no rescans nor journal reads beside the task's.
    let deadline = Instant::now() + Duration::from_secs(600);
    let answered = |h: &SyncHandle| {
        let o = h.status().outbox;
        o.sent + o.conflicts + o.rejected
    };
    while answered(&handle) < slips as u64 && !task.is_finished() {
        anyhow::ensure!(Instant::now() < deadline, "the drain took over 10 minutes");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let mut mark = (0u64, 0u32);
    loop {
        let j = journal.clone();
        let first = tokio::task::spawn_blocking(move || {
            let j = j.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
            Ok::<_, anyhow::Error>(j.pending_from(mark, 1)?.first().map(|p| p.key()))
        })
        .await??;
        match first {
            None => break,
            Some(_) if task.is_finished() => {
                anyhow::bail!("the sync task stopped before the drain ended")
            }
            Some(_) if Instant::now() > deadline => {
                anyhow::bail!("the drain took over 10 minutes")
            }
            Some(key) => mark = key,
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let figures = (start.elapsed(), process_cpu()? - cpu);
    Ok((
        figures.0,
        figures.1,
        Drained {
            cancel,
            task,
            stop,
            url,
            journal,
            handle,
        },
    ))
}

/// The time to draw one bar code system at its largest on 80 mm paper.
#[derive(Debug, Clone)]
pub struct SymbolFigure {
    /// The system's name and how much data it draws (`CODE39 with 20 data bytes`); for
    /// PDF417 the name alone.
    pub system: String,
    /// The module it is drawn at (GS w; GS ( k fn 67 for PDF417): the largest at which
    /// the symbol fits 576 dots.
    pub module: u8,
    /// Data bytes in the job (GS k's, or the PDF417 store's).
    pub data_bytes: usize,
    /// Dot lines drawn (255 rows of bars, HRI above and below; PDF417's rows).
    pub dot_lines: u32,
    /// Job to dot lines through the firmware's decoder and engine (median).
    pub raster: Duration,
    /// The job's wire time at 38,400 baud, 8N1.
    pub wire: Duration,
}

/// `n` data bytes of `system` for its largest symbol: the fixed-length systems' longest
/// form (check digit given), the others the densest data they take (digits where they
/// pack two a symbol character), `n` bytes long; None for a length it cannot have.
fn largest_data(system: konbini_firmware::escpos::BarcodeSystem, n: usize) -> Option<Vec<u8>> {
    use konbini_firmware::escpos::BarcodeSystem::*;
    let cycle = |alphabet: &[u8], len: usize| -> Vec<u8> {
        alphabet.iter().copied().cycle().take(len).collect()
    };
    let digits = |len: usize| cycle(b"0123456789", len);
    let fixed = |data: &[u8]| (n == data.len()).then(|| data.to_vec());
    match system {
        UpcA => fixed(b"036000291452"),
        UpcE => fixed(b"042100005264"),
        Jan13 => fixed(b"4901234567894"),
        Jan8 => fixed(b"49012347"),
        DataBarOmnidirectional | DataBarTruncated => fixed(b"09501101530003"),
        DataBarLimited => fixed(b"15012345678907"),
        Code39 => Some(cycle(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-. $/+%", n)),
        Itf => n.is_multiple_of(2).then(|| digits(n)),
        Codabar => (n >= 2).then(|| [b"A".to_vec(), digits(n - 2), b"B".to_vec()].concat()),
        Code93 => Some(cycle(b"KONBINI93", n)),
        // Set C: each byte 0-99 is two digits.
        Code128 => (n >= 3).then(|| {
            let mut d = b"{C".to_vec();
            d.extend((0..n - 2).map(|i| (i * 7 % 100) as u8));
            d
        }),
        Gs1_128 | DataBarExpanded => (n > 4).then(|| [b"(91)".to_vec(), digits(n - 4)].concat()),
    }
}

/// Each bar code system at its largest on 80 mm paper: the most data the firmware takes
/// for it (at most 255 bytes) whose symbol still fits 576 dots at GS w 2, drawn at the
/// largest module that fits, GS h 255, HRI above and below; and PDF417 with its whole
/// store. Each drawn for about `duration`.
pub fn symbol_figures(duration: Duration) -> anyhow::Result<Vec<SymbolFigure>> {
    use konbini_devices::printer::render;
    use konbini_firmware::barcode::{BARCODE_DATA_MAX_BYTES, MODULE_DOTS_RANGE, Symbol};
    use konbini_firmware::escpos::{BarcodeSystem, Command, HriPosition};

    let paper = u32::from(konbini_firmware::DOTS_80MM);
    let mut figures = Vec::new();
    for system in BarcodeSystem::ALL {
        let mut symbol = Symbol::default();
        let fits = |symbol: &mut Symbol, data: &[u8], module: u8| {
            symbol.encode(system as u8, data).is_ok() && symbol.width_dots(module) <= paper
        };
        let narrowest = *MODULE_DOTS_RANGE.start();
        let data = (1..=BARCODE_DATA_MAX_BYTES)
            .rev()
            .filter_map(|n| largest_data(system, n))
            .find(|data| fits(&mut symbol, data, narrowest));
        let Some(data) = data else {
            anyhow::bail!("{}: no data fits 80 mm", system.name());
        };
        let module = MODULE_DOTS_RANGE
            .rev()
            .find(|&m| fits(&mut symbol, &data, m))
            .unwrap_or(narrowest);
        let mut job = Vec::new();
        for c in [
            Command::BarcodeWidth(module),
            Command::BarcodeHeight(255),
            Command::Hri(HriPosition::Both),
            Command::Barcode {
                system,
                data: &data,
            },
        ] {
            c.encode(&mut |b: &[u8]| job.extend_from_slice(b));
        }
        let (sheet, faults) = render(&job, konbini_firmware::DOTS_80MM)?;
        anyhow::ensure!(
            faults.barcodes_dropped == 0,
            "{}: its largest symbol was refused",
            system.name()
        );
        let mut times = Vec::new();
        let start = Instant::now();
        while start.elapsed() < duration || times.is_empty() {
            let t = Instant::now();
            black_box(render(black_box(&job), konbini_firmware::DOTS_80MM)?);
            times.push(t.elapsed().as_secs_f64());
        }
        figures.push(SymbolFigure {
            system: format!("{} with {} data bytes", system.name(), data.len()),
            module,
            data_bytes: data.len(),
            dot_lines: sheet.dot_lines(),
            raster: Duration::from_secs_f64(median(&mut times)),
            wire: Duration::from_secs_f64(job.len() as f64 * 10.0 / 38_400.0),
        });
    }
    figures.push(pdf417_figure(duration)?);
    Ok(figures)
}

/// PDF417 with its whole store on 80 mm paper: 1,850 digits (`PDF417_DATA_MAX_BYTES`;
/// as text the store's 1,850 bytes would need more than a symbol's 928 codewords), module
/// 2 (the widest columns that fit 576 dots: 12), the default row height (3) and error
/// correction (10 %).
fn pdf417_figure(duration: Duration) -> anyhow::Result<SymbolFigure> {
    use konbini_devices::printer::render;
    use konbini_firmware::escpos::{Command, Pdf417};
    use konbini_firmware::pdf417::PDF417_DATA_MAX_BYTES;

    let data: Vec<u8> = b"0123456789"
        .iter()
        .copied()
        .cycle()
        .take(PDF417_DATA_MAX_BYTES)
        .collect();
    let mut job = Vec::new();
    for c in [
        Command::Pdf417(Pdf417::ModuleWidth(2)),
        Command::Pdf417(Pdf417::Store(&data)),
        Command::Pdf417(Pdf417::Print),
    ] {
        c.encode(&mut |b: &[u8]| job.extend_from_slice(b));
    }
    let (sheet, faults) = render(&job, konbini_firmware::DOTS_80MM)?;
    anyhow::ensure!(
        faults.pdf417_dropped == 0,
        "PDF417: the whole store does not print"
    );
    let mut times = Vec::new();
    let start = Instant::now();
    while start.elapsed() < duration || times.is_empty() {
        let t = Instant::now();
        black_box(render(black_box(&job), konbini_firmware::DOTS_80MM)?);
        times.push(t.elapsed().as_secs_f64());
    }
    Ok(SymbolFigure {
        system: "PDF417".to_owned(),
        module: 2,
        data_bytes: data.len(),
        dot_lines: sheet.dot_lines(),
        raster: Duration::from_secs_f64(median(&mut times)),
        wire: Duration::from_secs_f64(job.len() as f64 * 10.0 / 38_400.0),
    })
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
    /// receiptline (npm) encoding the same receipt to ESC/POS in the same run, or why it
    /// was not measured (no Node.js, the package not installed).
    pub receiptline: Result<ReceiptlineFigures, String>,
}

/// The receiptline npm package encoding the bench's receipt (tests/node/receiptline-bench.mjs).
#[derive(Debug, Clone, serde::Deserialize)]
pub struct ReceiptlineFigures {
    /// The package's version.
    pub version: String,
    /// Receipts per second from the prebuilt document to ESC/POS (its parser and encoder).
    pub receipts_per_s: f64,
    /// Receipts per second from the receipt's lines to ESC/POS: the document built in
    /// JavaScript from the lines each time, then encoded. Like ours, which goes from the
    /// sale to its layout to bytes each time.
    pub built_receipts_per_s: f64,
    /// Bytes of its job.
    pub job_bytes: usize,
}

/// A typical committed sale: two bill payments, one of them stamped.
pub fn sample_sale() -> konbini_journal::SaleRecord {
    use konbini_domain::{BillFields, Deadline, Yen};
    use konbini_journal::{SaleRecord, SlipPay, SlipRecord, SyncState};
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
        store: konbini_register::Store {
            code: "0815".to_owned(),
            chain: Some(konbini_domain::Chain::FamilyMart),
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
    use konbini_devices::printer::{encode_receipt, render};
    use konbini_devices::receipt::{COLUMNS_80MM, Receipt};

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
        receiptline: receiptline_figures(&Receipt::for_sale(&sale), duration),
    })
}

/// Runs tests/node/receiptline-bench.mjs on the receipt's receiptline document for about
/// `duration`. Any failure is the reason it was not measured, never an error of the bench.
fn receiptline_figures(
    receipt: &konbini_devices::receipt::Receipt,
    duration: Duration,
) -> Result<ReceiptlineFigures, String> {
    use std::io::Write;
    use std::process::{Command, Stdio};

    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/node");
    if !dir.join("node_modules/receiptline").is_dir() {
        return Err(format!(
            "the package is not installed (npm ci --prefix {})",
            dir.display()
        ));
    }
    let mut child = Command::new("node")
        .arg(dir.join("receiptline-bench.mjs"))
        .arg(duration.as_secs_f64().to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run node: {e}"))?;
    let columns = konbini_devices::receipt::COLUMNS_80MM;
    let input = serde_json::json!({
        "doc": receiptline_document(receipt, columns),
        "lines": receipt_lines_json(receipt, columns),
        "number": receipt.number,
    });
    if let Some(mut stdin) = child.stdin.take() {
        // A failed write shows as the script's own failure below.
        let _ = stdin.write_all(input.to_string().as_bytes());
    }
    let out = child.wait_with_output().map_err(|e| format!("node: {e}"))?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        return Err(format!(
            "node failed ({}): {}",
            out.status,
            stderr.lines().next().unwrap_or("")
        ));
    }
    serde_json::from_slice(&out.stdout).map_err(|e| format!("unexpected output from node: {e}"))
}

/// The receipt's lines as data, for the script to build the same document from: each
/// `{"kind", "text", "right"}`, and for a title whether it fits in double width (the
/// script has no East Asian width table).
fn receipt_lines_json(
    receipt: &konbini_devices::receipt::Receipt,
    columns: usize,
) -> serde_json::Value {
    use konbini_devices::receipt::Line;
    use serde_json::json;
    use unicode_width::UnicodeWidthStr;
    let lines: Vec<serde_json::Value> = receipt
        .lines
        .iter()
        .map(|line| match line {
            Line::Title(t) => {
                json!({"kind": "title", "text": t, "double_width": t.width() * 2 <= columns})
            }
            Line::Center(t) => json!({"kind": "center", "text": t}),
            Line::Text(t) => json!({"kind": "text", "text": t}),
            Line::Notice(t) => json!({"kind": "notice", "text": t}),
            Line::Pair(l, r) => json!({"kind": "pair", "text": l, "right": r}),
            Line::BigPair(l, r) => json!({"kind": "big_pair", "text": l, "right": r}),
            Line::Rule => json!({"kind": "rule"}),
            Line::Blank => json!({"kind": "blank"}),
        })
        .collect();
    serde_json::Value::Array(lines)
}

/// The receipt as a receiptline document laid out as `encode_receipt` prints it: the
/// title large, centred lines centred, amounts flush right, emphasis where ours has it,
/// rules, and the receipt number as CODE128 (module 2, 60 dots, text below).
fn receiptline_document(receipt: &konbini_devices::receipt::Receipt, columns: usize) -> String {
    use konbini_devices::receipt::Line;
    use unicode_width::UnicodeWidthStr;

    // receiptline's markup characters escaped; leading spaces kept as `~`.
    let text = |t: &str| {
        let body = t.trim_start_matches(' ');
        let mut out = "~".repeat(t.len() - body.len());
        for c in body.chars() {
            if "\\|{}-=~_\"`^".contains(c) {
                out.push('\\');
            }
            out.push(c);
        }
        out
    };
    let mut doc = String::new();
    for line in &receipt.lines {
        let l = match line {
            Line::Title(t) if t.width() * 2 > columns => format!("^^\"{}", text(t)),
            Line::Title(t) => format!("^^^\"{}", text(t)),
            Line::Center(t) => text(t),
            Line::Text(t) => format!("|{}", text(t)),
            Line::Notice(t) => format!("|\"{}", text(t)),
            Line::Pair(l, r) if l.is_empty() => format!("| {}", text(r)),
            Line::Pair(l, r) => format!("{} | {}", text(l), text(r)),
            Line::BigPair(l, r) => format!("\"{}\" | \"{}", text(l), text(r)),
            Line::Rule => "---".to_owned(),
            Line::Blank => String::new(),
        };
        doc.push_str(&l);
        doc.push('\n');
    }
    doc.push_str(&format!(
        "{{code:{}; option:code128,2,60,hri}}\n",
        receipt.number
    ));
    doc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_receipt_lines_given_to_the_script_are_every_line_with_its_kind() {
        let receipt = konbini_devices::receipt::Receipt::for_sale(&sample_sale());
        let lines = receipt_lines_json(&receipt, konbini_devices::receipt::COLUMNS_80MM);
        let lines = lines.as_array().unwrap();
        assert_eq!(lines.len(), receipt.lines.len());
        // The store name is too wide for double width (as in the document below).
        assert_eq!(lines[0]["kind"], "title");
        assert_eq!(lines[0]["double_width"], false);
        assert!(
            lines
                .iter()
                .any(|l| l["kind"] == "big_pair" && l["text"] == "合計" && l["right"] == "¥55,400"),
            "{lines:?}"
        );
    }

    #[test]
    fn the_receiptline_document_has_every_line_of_the_bench_receipt() {
        let receipt = konbini_devices::receipt::Receipt::for_sale(&sample_sale());
        let doc = receiptline_document(&receipt, konbini_devices::receipt::COLUMNS_80MM);
        let lines: Vec<&str> = doc.lines().collect();
        // The store name is too wide for double width: double height, emphasised.
        assert_eq!(lines[0], "^^\"ファミリーマート 札幌駅前店");
        assert!(lines.contains(&"|~~収納企業 912345"), "{doc}");
        assert!(lines.contains(&"| ¥50,000"), "{doc}");
        assert!(lines.contains(&"\"合計\" | \"¥55,400"), "{doc}");
        assert!(lines.contains(&"---"), "{doc}");
        assert_eq!(
            lines.last(),
            Some(&"{code:T01-000042; option:code128,2,60,hri}")
        );
        assert_eq!(lines.len(), receipt.lines.len() + 1);
        println!("{doc}");
    }
}

/// A million-sale replay by the real binary, and verify and export of its journal.
#[derive(Debug, Clone)]
pub struct MillionFigures {
    /// Sales completed.
    pub sales: u64,
    /// The log's size.
    pub log_bytes: u64,
    /// The journal's size after the replay.
    pub journal_bytes: u64,
    /// The replay's wall time.
    pub replay: Duration,
    /// The replay's peak resident memory, KiB.
    pub replay_peak_rss_kb: i64,
    /// `journal verify`'s wall time.
    pub verify: Duration,
    /// `journal export` (to /dev/null)'s wall time.
    pub export: Duration,
    /// The larger of verify's and export's peak resident memory, KiB.
    pub tools_peak_rss_kb: i64,
}

/// Run the release `konbini` beside this program with `args`, stdout to `out`: its wall
/// time and peak resident memory (KiB, from wait4's rusage).
fn timed_child(
    exe: &Path,
    args: &[&std::ffi::OsStr],
    out: std::process::Stdio,
) -> anyhow::Result<(Duration, i64)> {
    use std::os::unix::process::ExitStatusExt;
    let start = Instant::now();
    let child = std::process::Command::new(exe)
        .args(args)
        .stdout(out)
        .stderr(std::process::Stdio::null())
        .spawn()?;
    let mut status = 0;
    // SAFETY: wait4 on our own child, into locals.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    let elapsed = start.elapsed();
    anyhow::ensure!(pid > 0, "wait4: {}", std::io::Error::last_os_error());
    let status = std::process::ExitStatus::from_raw(status);
    anyhow::ensure!(status.success(), "{} {:?}: {status}", exe.display(), args);
    Ok((elapsed, usage.ru_maxrss))
}

/// Write a synthetic log of `sales` sales (with the usual mistakes) in `dir`, replay it
/// into a fresh journal with the release binary, then verify and export that journal.
pub fn million_figures(dir: &Path, sales: u64) -> anyhow::Result<MillionFigures> {
    let me = std::env::current_exe()?;
    let exe = me.with_file_name("konbini");
    anyhow::ensure!(
        exe.is_file(),
        "{} is missing: build it first with `cargo build --release`",
        exe.display()
    );
    let work = dir.join(format!("konbini-bench-million-{}", std::process::id()));
    std::fs::create_dir_all(&work)?;
    let result = (|| {
        let log = work.join("million.jsonl");
        let journal = work.join("million.db");
        let (log_s, journal_s) = (log.as_os_str(), journal.as_os_str());
        let n = sales.to_string();
        timed_child(
            &exe,
            &[
                "synth-log".as_ref(),
                "--sales".as_ref(),
                n.as_ref(),
                "-o".as_ref(),
                log_s,
            ],
            std::process::Stdio::null(),
        )?;
        let (replay, replay_rss) = timed_child(
            &exe,
            &[
                "replay".as_ref(),
                log_s,
                "--journal".as_ref(),
                journal_s,
                "--json".as_ref(),
            ],
            std::process::Stdio::null(),
        )?;
        let (verify, verify_rss) = timed_child(
            &exe,
            &[
                "journal".as_ref(),
                "verify".as_ref(),
                "--journal".as_ref(),
                journal_s,
            ],
            std::process::Stdio::null(),
        )?;
        let (export, export_rss) = timed_child(
            &exe,
            &[
                "journal".as_ref(),
                "export".as_ref(),
                "--journal".as_ref(),
                journal_s,
            ],
            std::process::Stdio::null(),
        )?;
        Ok(MillionFigures {
            sales,
            log_bytes: std::fs::metadata(&log)?.len(),
            journal_bytes: std::fs::metadata(&journal)?.len(),
            replay,
            replay_peak_rss_kb: replay_rss,
            verify,
            export,
            tools_peak_rss_kb: verify_rss.max(export_rss),
        })
    })();
    let _ = std::fs::remove_dir_all(&work);
    result
}

/// A scratch PostgreSQL database on the server of `url` (`postgres://user@host:port/...`),
/// made with `psql` and dropped when this is dropped.
pub struct ScratchPostgres {
    host: String,
    port: String,
    user: String,
    /// The database's name.
    pub name: String,
}

impl ScratchPostgres {
    /// Make one on the server `url` names.
    pub fn create(url: &str) -> anyhow::Result<ScratchPostgres> {
        let rest = url
            .strip_prefix("postgres://")
            .or_else(|| url.strip_prefix("postgresql://"))
            .ok_or_else(|| anyhow::anyhow!("{url} is not a postgres:// URL"))?;
        let authority = rest.split('/').next().unwrap_or("");
        let (user, hostport) = authority
            .rsplit_once('@')
            .unwrap_or(("postgres", authority));
        let user = user.split(':').next().unwrap_or("postgres").to_owned();
        let (host, port) = hostport.split_once(':').unwrap_or((hostport, "5432"));
        let db = ScratchPostgres {
            host: host.to_owned(),
            port: port.to_owned(),
            user,
            name: format!("konbini_bench_{}", std::process::id()),
        };
        db.psql(&format!("CREATE DATABASE {}", db.name))?;
        Ok(db)
    }

    /// Its URL.
    pub fn url(&self) -> String {
        format!(
            "postgres://{}@{}:{}/{}",
            self.user, self.host, self.port, self.name
        )
    }

    fn psql(&self, sql: &str) -> anyhow::Result<()> {
        let out = std::process::Command::new("psql")
            .args([
                "-h", &self.host, "-p", &self.port, "-U", &self.user, "-d", "postgres",
            ])
            .args(["-v", "ON_ERROR_STOP=1", "-Atc", sql])
            .output()?;
        anyhow::ensure!(
            out.status.success(),
            "psql: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
        Ok(())
    }
}

impl Drop for ScratchPostgres {
    fn drop(&mut self) {
        let _ = self.psql(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        ));
    }
}

/// CPU time of every `postgres` process of this machine so far (the server's backends,
/// WAL writer and checkpointer; a backend that exits takes its share with it).
fn postgres_cpu() -> Duration {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Duration::ZERO;
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|c| c.trim() == "postgres")
        })
        .filter_map(|pid| crate::ui::cpu_time(pid).ok())
        .sum()
}

/// A reading of PostgreSQL's own counters for one database (`pg_stat_database`,
/// `pg_stat_wal`): transactions, rollbacks (serialization retries among them), blocks,
/// WAL records, bytes and syncs.
#[derive(Debug, Clone, Default)]
pub struct PgStats {
    values: Vec<(String, f64)>,
}

impl PgStats {
    /// The counters' growth since `before`, per confirmation where that reads better.
    pub fn since(&self, before: &PgStats, confirmations: usize) -> String {
        let n = confirmations.max(1) as f64;
        self.values
            .iter()
            .map(|(name, v)| {
                let was = before
                    .values
                    .iter()
                    .find(|(b, _)| b == name)
                    .map_or(0.0, |(_, v)| *v);
                format!("{name} {:.0} ({:.2}/confirmation)", v - was, (v - was) / n)
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Read `pg_stat_database` and `pg_stat_wal` for the database of `url` with `psql`.
fn pg_stats(url: &str) -> anyhow::Result<PgStats> {
    let sql = "SELECT 'xact_commit', xact_commit FROM pg_stat_database WHERE datname = current_database() \
         UNION ALL SELECT 'xact_rollback', xact_rollback FROM pg_stat_database WHERE datname = current_database() \
         UNION ALL SELECT 'blks_hit', blks_hit FROM pg_stat_database WHERE datname = current_database() \
         UNION ALL SELECT 'blks_read', blks_read FROM pg_stat_database WHERE datname = current_database() \
         UNION ALL SELECT 'tup_inserted', tup_inserted FROM pg_stat_database WHERE datname = current_database() \
         UNION ALL SELECT 'tup_updated', tup_updated FROM pg_stat_database WHERE datname = current_database() \
         UNION ALL SELECT 'wal_records', wal_records FROM pg_stat_wal \
         UNION ALL SELECT 'wal_bytes', wal_bytes::bigint FROM pg_stat_wal \
         UNION ALL SELECT 'wal_sync', wal_sync FROM pg_stat_wal";
    // Counters are sent to the statistics collector at a transaction's end, not at once.
    std::thread::sleep(Duration::from_millis(600));
    let out = std::process::Command::new("psql")
        .args(["-d", url, "-v", "ON_ERROR_STOP=1", "-AtF", " ", "-c"])
        .arg(sql)
        .output()
        .map_err(|e| anyhow::anyhow!("cannot run psql: {e}"))?;
    anyhow::ensure!(
        out.status.success(),
        "psql: {}",
        String::from_utf8_lossy(&out.stderr).trim()
    );
    let values = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let (name, v) = l.split_once(' ')?;
            Some((name.to_owned(), v.trim().parse().ok()?))
        })
        .collect();
    Ok(PgStats { values })
}
