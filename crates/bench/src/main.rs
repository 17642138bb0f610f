//! `konbini-bench`: the performance figures of konbini-pos, each printed with its ratio to
//! the limit that bounds it, measured in the same run. Not part of the product: a default
//! `cargo build --release` of `konbini` compiles none of this.
//!
//! `cargo run --release -p konbini-bench -- [replay|barcode|codec|decoder|network|sync|printer]`
//! (no argument: all of those); `... -- ui` needs the release `konbini` binary beside it
//! (`cargo build --release` first).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use konbini_bench::figures;

/// Print the performance figures with their ratios to the limits that bound them.
#[derive(Debug, Parser)]
#[command(name = "konbini-bench", version)]
struct Cli {
    #[command(subcommand)]
    what: Option<BenchCommand>,
}

fn parse_seconds(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 && v <= 3600.0 => Ok(v),
        _ => Err("expected a number of seconds above 0 and at most 3600".to_owned()),
    }
}

fn main() -> ExitCode {
    match run_bench(Cli::parse().what) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("konbini-bench: {e:#}");
            ExitCode::FAILURE
        }
    }
}

#[derive(Debug, Subcommand)]
enum BenchCommand {
    /// Durable replay sales/s against raw synchronous=FULL SQLite commits/s.
    Replay {
        /// Sales to replay (and raw commits to time) in each round.
        #[arg(long, default_value_t = 3000)]
        sales: u64,
        /// Interleaved rounds; the medians are reported.
        #[arg(long, default_value_t = 5)]
        rounds: u32,
        /// Directory on the disk to measure (a scratch folder is made and removed there).
        #[arg(long, default_value = ".")]
        dir: PathBuf,
    },
    /// The release `konbini` (beside this program) replaying a synthetic log of a million
    /// sales into a fresh journal: its time and peak memory, then `journal verify` and
    /// `journal export` of that journal: their rates. Not part of `bench` (minutes, and
    /// about 900 MB of disk in `--dir`).
    Million {
        /// Sales in the log.
        #[arg(long, default_value_t = 1_000_000)]
        sales: u64,
        /// Directory on the disk to measure (a scratch folder is made and removed there).
        #[arg(long, default_value = ".")]
        dir: PathBuf,
    },
    /// Scanner frames per second through the serial codec, and scan-to-message latency.
    Codec {
        /// How long to run, in seconds.
        #[arg(long, default_value_t = 2.0, value_parser = parse_seconds)]
        seconds: f64,
    },
    /// The payment network: confirmations/s in signed batches of 100 and PaymentIntent
    /// creations/s, against raw `GET /health` round trips/s on the same server.
    Network {
        /// PaymentIntents to create and then confirm.
        #[arg(long, default_value_t = 20_000)]
        payments: usize,
        /// Clients sending at once.
        #[arg(long, default_value_t = 4)]
        clients: usize,
        /// Also measure the PostgreSQL backend, in a scratch database made (and dropped)
        /// on this server (`postgres://user@host:port/any`), against SQLite in the same run.
        #[arg(long)]
        db: Option<String>,
    },
    /// Store-and-forward: drain a journal of N slips to a local network against the
    /// network's own rate for the same confirmations; commit-to-webhook latency.
    Sync {
        /// Slips to journal and drain.
        #[arg(long, default_value_t = 100_000)]
        slips: usize,
        /// Sales timed from commit to webhook.
        #[arg(long, default_value_t = 200)]
        samples: usize,
        /// Rounds of the network alone then the drain, interleaved; medians are printed.
        #[arg(long, default_value_t = 5)]
        rounds: usize,
    },
    /// The release `konbini network` (beside this program) under hostile load on
    /// loopback: slow and half-open connections, unfinished unauthenticated uploads, a
    /// webhook endpoint that never answers; its memory, `/health`, a signed confirmation and
    /// a healthy endpoint's events timed meanwhile. Not part of `bench` (about a minute).
    Soak {
        /// Slow or half-open connections held open.
        #[arg(long, default_value_t = 5000)]
        slow: usize,
        /// Unfinished unauthenticated uploads.
        #[arg(long, default_value_t = 300)]
        uploads: usize,
        /// Samples of each timing (each a payment confirmed and its event).
        #[arg(long, default_value_t = 50)]
        samples: usize,
        /// Seconds the load is held while the samples are taken.
        #[arg(long, default_value_t = 45.0, value_parser = parse_seconds)]
        seconds: f64,
    },
    /// ESC/POS decoder throughput.
    Decoder {
        /// How long to run, in seconds.
        #[arg(long, default_value_t = 2.0, value_parser = parse_seconds)]
        seconds: f64,
    },
    /// Receipt to ESC/POS bytes per second, and receipt to raster lines, against the
    /// receipt's serial wire time at 38,400 baud.
    Printer {
        /// How long to run each measurement, in seconds.
        #[arg(long, default_value_t = 2.0, value_parser = parse_seconds)]
        seconds: f64,
    },
    /// Bill barcode parse + validate per second on one core.
    Barcode {
        /// How long to run, in seconds.
        #[arg(long, default_value_t = 2.0, value_parser = parse_seconds)]
        seconds: f64,
    },
    /// The register UI: frame render time, key-to-screen latency, the real binary's memory
    /// on a journal of a million sales, and start to first frame. Not part of `bench`.
    Ui {
        /// Frames timed on each screen.
        #[arg(long, default_value_t = 3000)]
        frames: usize,
        /// Start-up runs of each kind.
        #[arg(long, default_value_t = 20)]
        runs: usize,
        /// The million-sale journal, built here once (minutes) and reused while it holds
        /// exactly 1,000,000 sales.
        #[arg(long, default_value = "target/konbini-bench/journal-1m.db")]
        journal: PathBuf,
    },
}

fn run_bench(what: Option<BenchCommand>) -> anyhow::Result<ExitCode> {
    if let Some(BenchCommand::Million { sales, dir }) = &what {
        let f = figures::million_figures(dir, (*sales).max(1))?;
        let rate = |t: Duration| f.sales as f64 / t.as_secs_f64();
        println!(
            "replay of a {}-sale log ({} MB, with mistakes) by the release binary into a fresh journal (groups of {}): {:.1} s, {:.0} sales/s; peak RSS {:.1} MB (goal < 50 MB: {:.2} of it)",
            f.sales,
            f.log_bytes / 1_000_000,
            konbini_pos::replay::DEFAULT_GROUP_SALES,
            f.replay.as_secs_f64(),
            rate(f.replay),
            f.replay_peak_rss_kb as f64 / 1024.0,
            f.replay_peak_rss_kb as f64 / 1024.0 / 50.0
        );
        println!(
            "journal verify of it ({} MB): {:.1} s, {:.0} sales/s ({:.1} x the replay's rate); journal export: {:.1} s, {:.0} sales/s ({:.1} x); peak RSS of either at most {:.1} MB",
            f.journal_bytes / 1_000_000,
            f.verify.as_secs_f64(),
            rate(f.verify),
            f.replay.as_secs_f64() / f.verify.as_secs_f64(),
            f.export.as_secs_f64(),
            rate(f.export),
            f.replay.as_secs_f64() / f.export.as_secs_f64(),
            f.tools_peak_rss_kb as f64 / 1024.0
        );
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(BenchCommand::Soak {
        slow,
        uploads,
        samples,
        seconds,
    }) = &what
    {
        let opts = konbini_bench::soak::Options {
            slow: *slow,
            uploads: *uploads,
            samples: (*samples).max(1),
            seconds: *seconds,
        };
        let f = konbini_bench::soak::run(&opts)?;
        konbini_bench::soak::print(&opts, &f, &mut std::io::stdout().lock())?;
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(BenchCommand::Ui {
        frames,
        runs,
        journal,
    }) = &what
    {
        let opts = konbini_bench::ui::Options {
            frames: (*frames).max(1),
            runs: (*runs).max(1),
            journal: journal.clone(),
        };
        konbini_bench::ui::run(&opts, &mut std::io::stdout().lock())?;
        return Ok(ExitCode::SUCCESS);
    }
    let network = match &what {
        None => Some((20_000, 4)),
        Some(BenchCommand::Network {
            payments, clients, ..
        }) => Some((*payments, *clients)),
        Some(_) => None,
    };
    if let Some(BenchCommand::Network {
        payments,
        clients,
        db: Some(url),
    }) = &what
    {
        use figures::Terminals;
        let (payments, clients) = ((*payments).max(100), (*clients).max(1));
        let on_sqlite =
            |terminals| figures::network_figures_on(payments, clients, None, 1, terminals);
        // Each PostgreSQL round on a scratch database of its own, made and dropped here.
        let on_pg = |nodes: usize, terminals| -> anyhow::Result<figures::NetworkFigures> {
            let scratch = figures::ScratchPostgres::create(url)?;
            figures::network_figures_on(payments, clients, Some(&scratch.url()), nodes, terminals)
        };
        // A chain's registers (a terminal per client) first: the figures the goals are for.
        // Then one terminal's batches from every client: they take turns (a terminal's
        // journal chain is judged in order), so they show one register's ceiling instead.
        let sqlite = on_sqlite(Terminals::PerClient)?;
        let one = on_pg(1, Terminals::PerClient)?;
        let two = on_pg(2, Terminals::PerClient)?;
        let sqlite_1 = on_sqlite(Terminals::One)?;
        let one_1 = on_pg(1, Terminals::One)?;
        let sqlite_line = |f: &figures::NetworkFigures, who: &str| {
            println!(
                "network on SQLite, {who}: confirmations in signed batches of 100, {clients} clients: {:.0}/s (goal >= 20,000/s: {:.2}x); PaymentIntent create+confirm {:.0}/s; /health {:.0}/s; CPU {:.1} us/confirmation",
                f.confirmations_per_second,
                f.confirmations_per_second / 20_000.0,
                f.creations_per_second,
                f.health_per_second,
                f.cpu_us_per_confirmation.0,
            );
        };
        let pg_line = |f: &figures::NetworkFigures, sqlite: &figures::NetworkFigures, who: &str| {
            println!(
                "network on PostgreSQL, {} node(s) on one database (same machine as the server), {who}: confirmations {:.0}/s ({:.2}x SQLite, goal >= 0.5x; {:.2}x one node, goal >= 0.9x); PaymentIntent create+confirm {:.0}/s ({:.2}x SQLite); CPU per confirmation: {:.1} us in the nodes and clients, {:.1} us in PostgreSQL's processes",
                f.nodes,
                f.confirmations_per_second,
                f.confirmations_per_second / sqlite.confirmations_per_second,
                f.confirmations_per_second / one.confirmations_per_second,
                f.creations_per_second,
                f.creations_per_second / sqlite.creations_per_second,
                f.cpu_us_per_confirmation.0,
                f.cpu_us_per_confirmation.1.unwrap_or(f64::NAN),
            );
            if let Some(stats) = &f.db_stats {
                println!("  database statistics over the confirmations: {stats}");
            }
        };
        let chain = format!("{clients} terminals, one per client");
        sqlite_line(&sqlite, &chain);
        pg_line(&one, &sqlite, &chain);
        pg_line(&two, &sqlite, &chain);
        let single = "one terminal's batches from every client";
        sqlite_line(&sqlite_1, single);
        println!(
            "network on PostgreSQL, 1 node, {single}: confirmations {:.0}/s ({:.2}x SQLite's one terminal; batches of one terminal take turns); CPU per confirmation: {:.1} us in the node and clients, {:.1} us in PostgreSQL's processes",
            one_1.confirmations_per_second,
            one_1.confirmations_per_second / sqlite_1.confirmations_per_second,
            one_1.cpu_us_per_confirmation.0,
            one_1.cpu_us_per_confirmation.1.unwrap_or(f64::NAN),
        );
        return Ok(ExitCode::SUCCESS);
    }
    let sync = match &what {
        None => Some((100_000, 200, 5)),
        Some(BenchCommand::Sync {
            slips,
            samples,
            rounds,
        }) => Some((*slips, *samples, *rounds)),
        Some(_) => None,
    };
    if let Some((slips, samples, rounds)) = sync {
        let f = figures::sync_figures(slips.max(500), samples.max(1), rounds.max(1))?;
        let pct = |p: f64| {
            f.latencies
                .get(((f.latencies.len() as f64 * p) as usize).min(f.latencies.len() - 1))
                .map_or(0.0, |d| d.as_secs_f64() * 1e3)
        };
        let us = |d: std::time::Duration| d.as_secs_f64() * 1e6;
        let (lo, hi) = f
            .rounds
            .iter()
            .map(|r| r.ratio())
            .fold((f64::MAX, 0.0f64), |(lo, hi), r| (lo.min(r), hi.max(r)));
        println!(
            "sync: drained {} slips at {:.0}/s; the network alone took the same confirmations at {:.0}/s, {} requests at once as the sync task sends them (ratio {:.2}, {:.2}-{:.2} over {} rounds, goal >= 0.8); CPU per slip of the whole process, which holds the network too: {:.1} us draining (network + sync task + journal), {:.1} us alone (network + the bench's senders); commit to webhook p50 {:.1} ms, p99 {:.1} ms (goal p99 < 100 ms, {} sales)",
            f.slips,
            f.median(|r| r.drain_per_second),
            f.median(|r| r.network_alone_per_second),
            konbini_pos::sync::IN_FLIGHT,
            f.median(|r| r.ratio()),
            lo,
            hi,
            f.rounds.len(),
            f.median(|r| us(r.drain_cpu_per_slip)),
            f.median(|r| us(r.alone_cpu_per_slip)),
            pct(0.5),
            pct(0.99),
            f.latencies.len()
        );
        if matches!(what, Some(BenchCommand::Sync { .. })) {
            return Ok(ExitCode::SUCCESS);
        }
    }
    if let Some((payments, clients)) = network {
        let f = figures::network_figures(payments.max(100), clients.max(1))?;
        println!(
            "network: GET /health {:.0} round trips/s; PaymentIntent create+confirm {:.0}/s; confirmations in signed batches of 100: {:.0}/s (goal 20,000/s: {:.2}x), {:.1} confirmations per /health round trip ({} clients)",
            f.health_per_second,
            f.creations_per_second,
            f.confirmations_per_second,
            f.confirmations_per_second / 20_000.0,
            f.confirmations_per_second / f.health_per_second,
            f.clients
        );
        if matches!(what, Some(BenchCommand::Network { .. })) {
            return Ok(ExitCode::SUCCESS);
        }
    }
    let (replay, barcode, codec, decoder, printer) = match what {
        None => (
            Some((3000, 5, PathBuf::from("."))),
            Some(2.0),
            Some(2.0),
            Some(2.0),
            Some(2.0),
        ),
        Some(BenchCommand::Replay { sales, rounds, dir }) => {
            (Some((sales, rounds, dir)), None, None, None, None)
        }
        Some(BenchCommand::Barcode { seconds }) => (None, Some(seconds), None, None, None),
        Some(BenchCommand::Codec { seconds }) => (None, None, Some(seconds), None, None),
        Some(BenchCommand::Decoder { seconds }) => (None, None, None, Some(seconds), None),
        Some(BenchCommand::Printer { seconds }) => (None, None, None, None, Some(seconds)),
        Some(
            BenchCommand::Network { .. }
            | BenchCommand::Sync { .. }
            | BenchCommand::Ui { .. }
            | BenchCommand::Soak { .. }
            | BenchCommand::Million { .. },
        ) => (None, None, None, None, None),
    };
    if let Some(seconds) = printer {
        let f = figures::printer_figures(Duration::from_secs_f64(seconds))?;
        let wire_ms = f.wire.as_secs_f64() * 1e3;
        println!(
            "receipt -> ESC/POS (from the committed sale: layout, then bytes): {:.0} receipts/s ({:.1} MB/s of job bytes; a {} B job, {} lines of layout)",
            f.encode_per_s,
            f.encode_per_s * f.job_bytes as f64 / 1e6,
            f.job_bytes,
            f.layout_lines
        );
        println!(
            "receipt -> raster lines (firmware decoder + engine, 576 dots): {:.3} ms per receipt, {} dot lines (goal < 2 ms: {:.2} of it); PNG encoding adds {:.3} ms",
            f.raster.as_secs_f64() * 1e3,
            f.dot_lines,
            f.raster.as_secs_f64() * 1e3 / 2.0,
            f.png.as_secs_f64() * 1e3
        );
        println!(
            "the same job on a serial line at 38,400 baud: {wire_ms:.0} ms ({} bytes x 10 bits); encoding takes {:.5} of it, rastering {:.4}",
            f.job_bytes,
            1.0 / f.encode_per_s / f.wire.as_secs_f64(),
            f.raster.as_secs_f64() / f.wire.as_secs_f64()
        );
        match &f.receiptline {
            Ok(r) => println!(
                "receiptline (npm {}), the same receipt ({} B job): from its document, prebuilt, to ESC/POS {:.0} receipts/s, ours from the sale {:.1} x that (goal >= 10x); like for like, from the receipt's lines (the document built in JavaScript each time) to ESC/POS {:.0} receipts/s, ours from the sale {:.1} x that",
                r.version,
                r.job_bytes,
                r.receipts_per_s,
                f.encode_per_s / r.receipts_per_s,
                r.built_receipts_per_s,
                f.encode_per_s / r.built_receipts_per_s
            ),
            Err(why) => println!("receiptline (npm): not measured: {why}"),
        }
        // Each bar code system at its largest size, against its job's wire time.
        for s in figures::symbol_figures(Duration::from_secs_f64(seconds / 10.0))? {
            let what = if s.system == "PDF417" {
                "GS ( k"
            } else {
                "GS k"
            };
            let shape = if s.system == "PDF417" {
                format!(
                    "its whole store: {} digits, 12 columns, row height 3",
                    s.data_bytes
                )
            } else {
                "255 rows, HRI above and below".to_owned()
            };
            println!(
                "{what} {} at module {} ({shape}, {} dot lines): drawn in {:.3} ms; its {:.1} ms on the wire at 38,400 baud ({:.3} of it)",
                s.system,
                s.module,
                s.dot_lines,
                s.raster.as_secs_f64() * 1e3,
                s.wire.as_secs_f64() * 1e3,
                s.raster.as_secs_f64() / s.wire.as_secs_f64()
            );
        }
    }
    if let Some(seconds) = decoder {
        let mb_s = figures::decoder_mb_per_second(Duration::from_secs_f64(seconds));
        println!(
            "ESC/POS decoder: {mb_s:.0} MB/s (goal 100 MB/s: {:.2}x); a serial printer at 38,400 baud takes 0.0038 MB/s",
            mb_s / 100.0
        );
    }
    if let Some(seconds) = codec {
        let (p50, p99, wire) = figures::scan_latency(1000)?;
        println!(
            "scan-to-message over a pseudo-terminal: p50 {:.3} ms, p99 {:.3} ms (goal p99 < 2 ms); a 44-digit frame's wire time at 9,600 baud is {:.1} ms ({:.3} of it)",
            p50.as_secs_f64() * 1e3,
            p99.as_secs_f64() * 1e3,
            wire.as_secs_f64() * 1e3,
            p99.as_secs_f64() / wire.as_secs_f64()
        );
        let (per_s, wire) = figures::codec_frames_per_second(Duration::from_secs_f64(seconds));
        println!(
            "scanner codec: {:.2} M frames/s (goal 1 M/s: {:.2}x); one frame's wire time at 9,600 baud: {:.1} ms, i.e. {:.0} frames/s on the wire",
            per_s / 1e6,
            per_s / 1e6,
            wire.as_secs_f64() * 1e3,
            1.0 / wire.as_secs_f64()
        );
    }
    if let Some(seconds) = barcode {
        let per_s = figures::barcode_per_second(Duration::from_secs_f64(seconds));
        println!(
            "barcode parse+validate: {:.2} M/s on one core (goal 5 M/s: {:.2}x)",
            per_s / 1e6,
            per_s / 5e6
        );
    }
    if let Some((sales, rounds, dir)) = replay {
        let f = figures::replay_figures(&dir, sales, rounds)?;
        println!(
            "raw single-row synchronous=FULL commits, SQLite defaults (4 KB pages): {:.0}/s (median, same disk: {})",
            f.raw_commits_per_s,
            dir.display()
        );
        println!(
            "raw single-row synchronous=FULL commits, the journal's {} B pages: {:.0}/s",
            konbini_journal::JOURNAL_PAGE_SIZE,
            f.raw_small_page_commits_per_s
        );
        println!(
            "durable replay, one commit per sale (--group-sales 1): {:.0} sales/s (median of {rounds} rounds of {} sales, one FULL commit per sale)",
            f.replay_sales_per_s, f.sales
        );
        println!(
            "ratio to raw commits: {:.2} (defaults), {:.2} (same page size); goal >= 0.80",
            f.replay_sales_per_s / f.raw_commits_per_s,
            f.replay_sales_per_s / f.raw_small_page_commits_per_s
        );
        println!(
            "durable replay in groups of {} sales (the default; one FULL commit a group): {:.0} sales/s, {:.1} x one commit per sale",
            konbini_pos::replay::DEFAULT_GROUP_SALES,
            f.grouped_sales_per_s,
            f.grouped_sales_per_s / f.replay_sales_per_s
        );
        println!(
            "raw SQLite inserts of the same rows (sales, slips, outbox, print jobs, chain head and replay position), same transactions of {} sales, FULL, same disk: {:.0} sales/s; grouped replay / raw: {:.2} (goal >= 0.5)",
            konbini_pos::replay::DEFAULT_GROUP_SALES,
            f.raw_grouped_sales_per_s,
            f.grouped_sales_per_s / f.raw_grouped_sales_per_s
        );
    }
    Ok(ExitCode::SUCCESS)
}
