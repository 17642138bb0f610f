//! The command line (`docs/cli.md`): clap definitions, each flag's help beside it, and the
//! dispatch. Errors come back to `main` as one sentence naming what is wrong.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use chrono::NaiveDate;
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::replay::synth::{SynthOptions, write_log};
use crate::replay::{Observer, ReplayOptions};
use konbini_journal::Journal;

/// A konbini point-of-sale terminal simulator.
#[derive(Debug, Parser)]
#[command(name = "konbini", version, about, propagate_version = true)]
pub struct Cli {
    /// Without a subcommand: the register (`konbini register` on embedded defaults).
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// The clerk's register (terminal UI). With no flags: journal ./konbini.db, an
    /// embedded payment network with demo payments, the keyboard as the scanner, the
    /// virtual printer into ./receipts/, the session recorded into ./sessions/.
    Register(crate::ui::RegisterArgs),
    /// Replay a scan log through the register core into a journal, headless.
    Replay {
        /// The scan log (JSON Lines, docs/scan-log.md).
        log: PathBuf,
        /// The SQLite journal to write (created if missing).
        #[arg(long, default_value = "konbini.db")]
        journal: PathBuf,
        /// Print the replay summary as the only thing on stdout (JSON).
        #[arg(long)]
        json: bool,
        /// Also print every receipt into this directory: per sale, `<receipt no>.txt` and
        /// `<receipt no>.png` (the virtual printer's picture, 80 mm).
        #[arg(long, value_name = "DIR")]
        receipts: Option<PathBuf>,
        /// Post confirmations to this payment network (`konbini network`) and look key-ins
        /// up there; the replay ends when the outbox is drained or --drain-timeout passed.
        #[arg(long, value_name = "URL", requires_all = ["terminal_id", "terminal_secret"])]
        upstream: Option<String>,
        /// This register's terminal id at the network.
        #[arg(long, value_name = "ID")]
        terminal_id: Option<String>,
        /// The terminal's shared secret.
        #[arg(long, value_name = "SECRET")]
        terminal_secret: Option<String>,
        /// Seconds to wait at the end for every confirmation to be sent.
        #[arg(long, value_name = "SECONDS", default_value_t = 30.0, value_parser = parse_drain)]
        drain_timeout: f64,
        /// Offline, refuse new slips once this many yen are unsent (`offline_limit`).
        #[arg(long, value_name = "YEN", default_value_t = 3_000_000)]
        max_unsent_yen: u64,
        /// Offline, refuse new slips once the oldest unsent one is this many hours old.
        #[arg(long, value_name = "HOURS", default_value_t = 72, value_parser = clap::value_parser!(u32).range(1..=8760))]
        max_offline_hours: u32,
        /// Sales committed together in one synchronous=FULL transaction (receipts and the
        /// sync follow each commit); 1 commits every sale on its own.
        #[arg(long, value_name = "N", default_value_t = crate::replay::DEFAULT_GROUP_SALES, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=100_000))]
        group_sales: usize,
        /// The konbini.toml whose receipt settings the receipts follow: `receipt_language`,
        /// `[store] stamp_duty` and `tax_office`, `[devices] receipt_barcode` and
        /// `bill_barcodes` (default: ./konbini.toml when it exists).
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
    /// Check or export a journal.
    Journal {
        #[command(subcommand)]
        command: JournalCommand,
    },
    /// Write a synthetic scan log of a store day (deterministic for a seed).
    SynthLog {
        /// Completed sales to generate (at most 10,000,000).
        #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u64).range(0..=10_000_000))]
        sales: u64,
        /// Seed of the generator.
        #[arg(long, default_value_t = 2026)]
        seed: u64,
        /// The store's day (YYYY-MM-DD, 2000 to 2060: slips carry two-digit years).
        #[arg(long, default_value = "2026-11-28", value_parser = parse_synth_date)]
        date: NaiveDate,
        /// A clerk who makes no mistakes.
        #[arg(long)]
        no_mistakes: bool,
        /// At most this many slips in one sale.
        #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=20))]
        max_slips: u32,
        /// Write here instead of stdout.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Drive a chain's worth of registers at a payment network: each register with its own
    /// journal, terminal id and secret (registered with the network), replaying a synthetic
    /// store day through the register core, journal and sync task, all in this process.
    Fleet {
        /// The network: a URL, or the nodes of one network (URL,URL,...).
        #[arg(long, default_value = "http://127.0.0.1:4242")]
        network: String,
        /// The merchant's secret key (registers the terminals).
        #[arg(long, default_value = "sk_test_konbini")]
        api_key: String,
        /// Stores.
        #[arg(long, default_value_t = 10, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=9_999))]
        stores: usize,
        /// Registers per store.
        #[arg(long, default_value_t = 2, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=99))]
        registers: usize,
        /// Sales in each register's day.
        #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u64).range(1..=100_000))]
        sales: u64,
        /// The first register's seed (the others follow).
        #[arg(long, default_value_t = 2026)]
        seed: u64,
        /// The store day (default: yesterday in Japan, so no sale is in the network's future).
        #[arg(long, value_parser = parse_synth_date)]
        date: Option<NaiveDate>,
        /// Where the registers' journals go.
        #[arg(long, default_value = "fleet")]
        dir: PathBuf,
        /// Registers replaying at once.
        #[arg(long, default_value_t = 32, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=1024))]
        concurrency: usize,
        /// Seconds each register waits at the end of its day for its outbox to drain.
        #[arg(long, default_value_t = 60.0, value_parser = parse_drain)]
        drain_timeout: f64,
        /// Sales each register commits together (1: each sale at once, as at a counter).
        #[arg(long, default_value_t = 1, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=100_000))]
        group_sales: usize,
        /// Print the summary as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Find and test the register's devices.
    Devices {
        #[command(subcommand)]
        command: DevicesCommand,
    },
    /// A virtual serial barcode scanner on a pseudo-terminal, scanning lines of a file or
    /// stdin (`\x1d` in a line stands for GS, FNC1).
    ScannerSim {
        /// Barcodes to scan, one per line (default: stdin).
        #[arg(long)]
        input: Option<PathBuf>,
        /// Also point this path at the device (a stable name, as udev would make).
        #[arg(long)]
        link: Option<PathBuf>,
        /// What the scanner appends to each frame.
        #[arg(long, value_enum, default_value_t = konbini_devices::scanner::sim::Suffix::Crlf)]
        suffix: konbini_devices::scanner::sim::Suffix,
        /// Pace bytes as on a serial line at this baud rate (0: as fast as possible).
        #[arg(long, default_value_t = 9600)]
        baud: u32,
        /// Pause between two scans, in milliseconds.
        #[arg(long, default_value_t = 800)]
        gap_ms: u64,
        /// After the input ends, keep the device open until Ctrl+C.
        #[arg(long)]
        hold: bool,
    },
    /// Run an ESC/POS job through the printer firmware's interpreter and raster engine and
    /// write the picture of the paper (PNG, one pixel a dot) and the text it printed.
    PrintRender {
        /// The ESC/POS byte stream.
        #[arg(long, value_name = "JOB.bin")]
        input: PathBuf,
        /// The picture to write (1-bit PNG: white paper, black dots, a dotted row where it was cut).
        #[arg(long, value_name = "OUT.png")]
        png: PathBuf,
        /// The transcript to write: one line per printed text line, UTF-8.
        #[arg(long, value_name = "OUT.txt")]
        text: PathBuf,
        /// Paper width in dots: 576 (80 mm) or 384 (58 mm).
        #[arg(long, default_value_t = 576, value_parser = parse_dots)]
        dots: u16,
    },
    /// A virtual serial ESC/POS printer on a pseudo-terminal: the printer firmware prints
    /// each job (cut to cut) as job-NNNN.png and job-NNNN.txt and answers DLE EOT status.
    PrinterSim {
        /// Directory for the printed jobs (created if missing).
        #[arg(long, default_value = "receipts")]
        out: PathBuf,
        /// Also point this path at the device (a stable name, as udev would make).
        #[arg(long)]
        link: Option<PathBuf>,
        /// Paper width in dots: 576 (80 mm) or 384 (58 mm).
        #[arg(long, default_value_t = 576, value_parser = parse_dots)]
        dots: u16,
        /// Start with the paper out (DLE EOT reports paper end; nothing prints).
        #[arg(long)]
        paper_out: bool,
        /// The paper is out while this file exists (touch it to pull the paper, remove it
        /// to load paper again).
        #[arg(long, value_name = "PATH")]
        paper_out_file: Option<PathBuf>,
    },
    /// Print the journal's queued receipts on a printer, oldest first; at paper end (or
    /// cover open, offline) they stay queued: exit 1, run again when paper is back.
    PrintQueue {
        /// The journal whose print queue to drain.
        #[arg(long)]
        journal: PathBuf,
        #[command(flatten)]
        printer: PrinterArgs,
        /// The konbini.toml whose receipt settings the receipts follow, as the register
        /// prints them: `receipt_language`, `[store] stamp_duty` and `tax_office`, `[devices]
        /// receipt_barcode` and `bill_barcodes` (default: ./konbini.toml when it exists).
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
    /// The payment network simulator: a Stripe-compatible merchant API, the terminal API
    /// registers confirm to, hosted vouchers and signed webhooks (docs/terminal-api.md; the merchant API is Stripe's).
    Network(NetworkArgs),
}

#[derive(Debug, clap::Args)]
struct NetworkArgs {
    /// Address to serve on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:4242")]
    listen: String,
    /// The network's store: a SQLite file (created if missing), or a PostgreSQL database
    /// (`postgres://user@host:port/dbname`), which several nodes may share.
    #[arg(long, default_value = "network.db")]
    db: String,
    /// The merchant's secret key that the Stripe libraries send as a bearer token.
    #[arg(long, default_value = "sk_test_konbini")]
    api_key: String,
    /// The merchant's publishable key, which pages send through the network's Stripe.js
    /// (default: the secret key with pk_ for sk_, so pk_test_konbini).
    #[arg(long, value_name = "KEY")]
    publishable_key: Option<String>,
    /// A terminal allowed to confirm payments, as ID=SECRET (repeatable).
    #[arg(long = "terminal", value_name = "ID=SECRET", value_parser = parse_terminal)]
    terminals: Vec<(String, String)>,
    /// The base address customers reach voucher pages at (default: the listening address).
    #[arg(long)]
    public_url: Option<String>,
    /// The six-digit biller code in this network's bill barcodes.
    #[arg(long, default_value = konbini_network::DEFAULT_COMPANY_CODE, value_parser = parse_company_code)]
    company_code: String,
    /// The merchant's name, as registers and vouchers show it.
    #[arg(long, default_value = "Konbini Demo Shop")]
    merchant_name: String,
    /// Seconds after a voucher's deadline that store confirmations are still credited and
    /// before the payment fails.
    #[arg(long, default_value_t = konbini_network::DEFAULT_EXPIRY_GRACE_SECONDS)]
    expiry_grace: i64,
    /// Stripe test mode's rule that any confirmed payment succeeds by itself after 3 minutes.
    #[arg(long)]
    test_autopay: bool,
    /// Where webhook endpoints may point: `any` (loopback and private addresses too: one
    /// developer's machine), or `public` (a network shared by a team: private, loopback,
    /// link-local and other non-public addresses are refused, at creation and after DNS at
    /// each delivery).
    #[arg(long, value_name = "any|public", default_value = "any", value_parser = parse_webhook_targets)]
    webhook_targets: konbini_network::webhooks::targets::WebhookTargets,
    /// Seconds one webhook delivery may take (connecting, sending, the endpoint's answer)
    /// before it counts as failed and is retried.
    #[arg(long, value_name = "SECONDS", default_value_t = konbini_network::webhooks::DEFAULT_DELIVERY_TIMEOUT.as_secs(), value_parser = clap::value_parser!(u64).range(1..=3600))]
    webhook_timeout: u64,
    /// Connections served at once; one more is answered 503 and closed (kept below the
    /// process's descriptor limit).
    #[arg(long, default_value_t = konbini_network::DEFAULT_MAX_CONNECTIONS)]
    max_connections: usize,
    /// Seconds a connection may take to send a request's headers, or stay silent between
    /// requests, before it is closed.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600))]
    idle_timeout: u64,
    /// Seconds a request body may take to arrive (408 after).
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600))]
    body_timeout: u64,
}

fn parse_terminal(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((id, secret)) if !id.is_empty() && !secret.is_empty() => {
            Ok((id.to_owned(), secret.to_owned()))
        }
        _ => Err(format!("{s:?} is not ID=SECRET")),
    }
}

fn parse_webhook_targets(
    s: &str,
) -> Result<konbini_network::webhooks::targets::WebhookTargets, String> {
    s.parse()
}

fn parse_company_code(s: &str) -> Result<String, String> {
    if s.len() == 6 && s.bytes().all(|b| b.is_ascii_digit()) {
        Ok(s.to_owned())
    } else {
        Err(format!("{s:?} is not six digits"))
    }
}

#[derive(Debug, Subcommand)]
enum JournalCommand {
    /// Check the hash chain and invariants; name the first bad sale.
    Verify {
        /// The journal.
        #[arg(long)]
        journal: PathBuf,
        /// Also require the chain to end at this hash (a head recorded elsewhere).
        #[arg(long, value_name = "HASH")]
        expect_head: Option<String>,
    },
    /// One JSON object per completed sale, in journal order.
    Export {
        /// The journal.
        #[arg(long)]
        journal: PathBuf,
        /// Include each slip's id (the upstream idempotency key; unique per journal).
        #[arg(long)]
        with_ids: bool,
        /// Also the non-sale records (voids, cancelled sales, day closes), each placed
        /// after the sale it follows, with `"record"` naming its kind.
        #[arg(long)]
        with_records: bool,
    },
}

#[derive(Debug, Subcommand)]
enum DevicesCommand {
    /// Serial ports and receipt printers found, with their stable names.
    List {
        /// One JSON object per device instead of a table.
        #[arg(long)]
        json: bool,
        /// Device profiles to recognise devices by.
        #[arg(long, default_value = "hardware")]
        profiles: PathBuf,
    },
    /// Print each frame a scanner sends as a JSON line with the register's verdict.
    ScanTest {
        /// The scanner's device (a udev name such as /dev/konbini/scanner, or a tty).
        #[arg(long)]
        port: PathBuf,
        /// Line speed (RS-232 scanners; USB CDC-ACM ones ignore it).
        #[arg(long, default_value_t = 9600)]
        baud: u32,
        /// Stop after this many frames (default: until Ctrl+C).
        #[arg(long)]
        count: Option<u64>,
        /// How frames are delimited.
        #[arg(long, value_enum, default_value_t = FramingArg::Line)]
        framing: FramingArg,
        /// Take baud, framing and debounce from this scanner profile instead.
        #[arg(long, conflicts_with_all = ["baud", "framing"])]
        profile: Option<String>,
        /// Where the device profiles are.
        #[arg(long, default_value = "hardware")]
        profiles: PathBuf,
    },
    /// Print a test receipt (ESC/POS, Shift_JIS) and report the printer's status; exit 1
    /// when it reports a problem (offline, cover open, paper end, an error).
    PrintTest {
        #[command(flatten)]
        printer: PrinterArgs,
        /// Also kick the cash drawer (pin 2, 100 ms on, 200 ms off).
        #[arg(long)]
        drawer: bool,
    },
}

/// Where a receipt printer is, and its paper.
#[derive(Debug, clap::Args)]
struct PrinterArgs {
    /// The printer: a serial port, a /dev/usb/lp* device (or /dev/konbini/printer), or a
    /// network printer's raw port as tcp://HOST:9100.
    #[arg(long)]
    port: PathBuf,
    /// Line speed of a serial printer.
    #[arg(long, default_value_t = 38400)]
    baud: u32,
    /// Paper width in millimetres.
    #[arg(long, value_enum, default_value_t = PaperArg::Mm80)]
    paper: PaperArg,
}

impl PrinterArgs {
    /// Font A columns on the paper.
    fn columns(&self) -> usize {
        match self.paper {
            PaperArg::Mm80 => konbini_devices::receipt::COLUMNS_80MM,
            PaperArg::Mm58 => konbini_devices::receipt::COLUMNS_58MM,
        }
    }
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum PaperArg {
    /// 80 mm paper, 48 columns.
    #[value(name = "80")]
    Mm80,
    /// 58 mm paper, 32 columns.
    #[value(name = "58")]
    Mm58,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum FramingArg {
    /// Frames end at CR, LF or CRLF.
    Line,
    /// STX frame ETX.
    StxEtx,
}

fn parse_synth_date(s: &str) -> Result<NaiveDate, String> {
    let date: NaiveDate = s.parse().map_err(|e| format!("{e}"))?;
    if (2000..=2060).contains(&chrono::Datelike::year(&date)) {
        Ok(date)
    } else {
        Err("the year must be 2000 to 2060".to_owned())
    }
}

fn parse_dots(s: &str) -> Result<u16, String> {
    match s {
        "576" => Ok(576),
        "384" => Ok(384),
        _ => Err("paper is 576 dots (80 mm) or 384 dots (58 mm) wide".to_owned()),
    }
}

fn parse_drain(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if (0.0..=86_400.0).contains(&v) => Ok(v),
        _ => Err("expected a number of seconds from 0 to 86400".to_owned()),
    }
}

/// Run a parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let command = cli
        .command
        .unwrap_or_else(|| Command::Register(crate::ui::RegisterArgs::default()));
    match command {
        Command::Register(args) => {
            crate::ui::run(&args)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Replay {
            log,
            journal,
            json,
            receipts,
            upstream,
            terminal_id,
            terminal_secret,
            drain_timeout,
            max_unsent_yen,
            max_offline_hours,
            group_sales,
            config,
        } => {
            let (barcodes, style) = crate::ui::config::replay_receipts(config.as_deref())?;
            run_replay(
                ReplayOptions {
                    barcodes,
                    log,
                    journal,
                    receipts,
                    upstream: upstream.map(|url| crate::replay::UpstreamOptions {
                        url,
                        terminal_id: terminal_id.unwrap_or_default(),
                        terminal_secret: terminal_secret.unwrap_or_default(),
                        drain_timeout: Duration::from_secs_f64(drain_timeout),
                        limits: konbini_register::OfflineLimits {
                            max_unsent: konbini_domain::Yen::new(max_unsent_yen),
                            max_age: chrono::Duration::hours(i64::from(max_offline_hours)),
                        },
                        runtime: None,
                        latency: None,
                        verdicts: None,
                    }),
                    group_sales,
                },
                &style,
                json,
            )
        }
        Command::Journal { command } => run_journal(command),
        Command::SynthLog {
            sales,
            seed,
            date,
            no_mistakes,
            max_slips,
            output,
        } => {
            let opts = SynthOptions {
                sales,
                seed,
                date,
                mistakes: !no_mistakes,
                max_slips,
            };
            // Streamed: a large synthetic log never sits in memory.
            match output {
                Some(path) => {
                    let file = std::fs::File::create(&path)
                        .with_context(|| format!("cannot write {}", path.display()))?;
                    let mut out = std::io::BufWriter::new(file);
                    write_log(&opts, &mut out)
                        .and_then(|()| out.flush())
                        .with_context(|| format!("cannot write {}", path.display()))?;
                }
                None => {
                    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
                    write_log(&opts, &mut out)
                        .and_then(|()| out.flush())
                        .context("cannot write the log to stdout")?;
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::PrintRender {
            input,
            png,
            text,
            dots,
        } => run_print_render(&input, &png, &text, dots),
        Command::PrinterSim {
            out,
            link,
            dots,
            paper_out,
            paper_out_file,
        } => run_printer_sim(
            konbini_devices::printer::sim::SimOptions {
                out_dir: out,
                dots,
                paper_out,
                paper_out_file,
            },
            link,
        ),
        Command::PrintQueue {
            journal,
            printer,
            config,
        } => run_print_queue(&journal, &printer, config.as_deref()),
        Command::Network(args) => run_network(args),
        Command::Fleet {
            network,
            api_key,
            stores,
            registers,
            sales,
            seed,
            date,
            dir,
            concurrency,
            drain_timeout,
            group_sales,
            json,
        } => {
            let date = date.unwrap_or_else(|| {
                (chrono::Utc::now().with_timezone(&konbini_domain::time::jst())
                    - chrono::Duration::days(1))
                .date_naive()
            });
            let opts = crate::fleet::FleetOptions {
                network,
                api_key,
                stores,
                registers,
                sales,
                seed,
                date,
                dir,
                concurrency,
                drain_timeout: Duration::from_secs_f64(drain_timeout),
                group_sales,
            };
            let bar = (!json && std::io::stderr().is_terminal()).then(|| {
                let bar = ProgressBar::with_draw_target(
                    Some((stores * registers) as u64),
                    ProgressDrawTarget::stderr(),
                );
                bar.set_style(
                    ProgressStyle::with_template("fleet {wide_bar} {pos}/{len} registers {eta}")
                        .expect("valid template"),
                );
                bar
            });
            let b = bar.clone();
            let summary = crate::fleet::run(&opts, move |done, _| {
                if let Some(b) = &b {
                    b.set_position(done);
                }
            })?;
            if let Some(b) = bar {
                b.finish_and_clear();
            }
            if json {
                println!("{}", serde_json::to_string(&summary)?);
            } else {
                println!(
                    "{} registers ({} failed) in {:.1} s: {} sales, {} slips; confirmations {} accepted, {} duplicate, {} conflict, {} rejected, {} pending; {:.0} sales/s",
                    summary.registers,
                    summary.failed,
                    summary.seconds,
                    summary.sales,
                    summary.slips,
                    summary.accepted,
                    summary.duplicate,
                    summary.conflicts,
                    summary.rejected,
                    summary.pending,
                    summary.sales as f64 / summary.seconds.max(1e-9)
                );
                if let Some([p50, p99, max]) = summary.latency_ms {
                    println!(
                        "commit to accepted: p50 {p50:.1} ms, p99 {p99:.1} ms, max {max:.1} ms over {} slips",
                        summary.latency_samples
                    );
                }
                if let Some(mb) = summary.peak_rss_mb {
                    println!("peak RSS of this process: {mb:.1} MB");
                }
                for (node, n) in &summary.per_node {
                    println!("{node}: {n} confirmations judged");
                }
            }
            // A slip still pending after the drain timeout is a run that did not finish.
            Ok(if summary.failed == 0 && summary.pending == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Command::Devices { command } => run_devices(command),
        Command::ScannerSim {
            input,
            link,
            suffix,
            baud,
            gap_ms,
            hold,
        } => run_scanner_sim(input, link, suffix, baud, gap_ms, hold),
    }
}

/// Bad lines on stderr, and a progress bar when stderr is a terminal and JSON is off.
struct CliObserver {
    log: PathBuf,
    bar: Option<ProgressBar>,
}

impl Observer for CliObserver {
    fn bad_line(&mut self, line: u64, reason: &str) {
        let message = format!("{}:{line}: bad line: {reason}", self.log.display());
        match &self.bar {
            Some(bar) => bar.suspend(|| eprintln!("{message}")),
            None => eprintln!("{message}"),
        }
    }

    fn progress(&mut self, offset: u64, len: u64) {
        if let Some(bar) = &self.bar {
            bar.set_length(len);
            bar.set_position(offset);
        }
    }
}

fn run_network(args: NetworkArgs) -> anyhow::Result<ExitCode> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&args.listen)
            .await
            .with_context(|| format!("cannot listen on {} (--listen)", args.listen))?;
        let addr = listener.local_addr()?;
        let mut settings = konbini_network::Settings::new(&args.api_key);
        if let Some(pk) = args.publishable_key {
            konbini_network::check_publishable_key(&pk, &args.api_key)
                .map_err(|e| anyhow::anyhow!("--publishable-key: {e}"))?;
            settings.publishable_key = pk;
        }
        settings.terminals = args.terminals.into_iter().collect();
        settings.company_code = args.company_code;
        settings.merchant_name = args.merchant_name;
        settings.expiry_grace_seconds = args.expiry_grace;
        settings.test_autopay = args.test_autopay;
        settings.webhook_targets = args.webhook_targets;
        settings.webhook_timeout = std::time::Duration::from_secs(args.webhook_timeout);
        settings.limits = konbini_network::ServerLimits {
            max_connections: crate::fd_limit::connections_within(args.max_connections),
            header_timeout: std::time::Duration::from_secs(args.idle_timeout),
            body_timeout: std::time::Duration::from_secs(args.body_timeout),
        };
        settings.public_url = args
            .public_url
            .unwrap_or_else(|| format!("http://{addr}"))
            .trim_end_matches('/')
            .to_owned();
        let net = konbini_network::Network::open_db(&args.db, settings).await?;
        let mut out = std::io::stdout().lock();
        writeln!(out, "listening on http://{addr}")?;
        out.flush()?;
        drop(out);
        let cancel = tokio_util::sync::CancellationToken::new();
        let stop = cancel.clone();
        tokio::spawn(async move {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                    .expect("SIGTERM handler");
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            stop.cancel();
        });
        konbini_network::serve(net, listener, cancel)
            .await
            .context("the network server failed")?;
        Ok(ExitCode::SUCCESS)
    })
}

fn run_replay(
    opts: ReplayOptions,
    style: &konbini_devices::receipt::ReceiptStyle,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let bar = (!json && std::io::stderr().is_terminal()).then(|| {
        let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template("replay {wide_bar} {bytes}/{total_bytes} {eta}")
                .expect("valid template"),
        );
        bar
    });
    let mut observer = CliObserver {
        log: opts.log.clone(),
        bar,
    };
    let result = crate::replay::replay_styled(&opts, style, &mut observer);
    if let Some(bar) = &observer.bar {
        bar.finish_and_clear();
    }
    let summary = result?;
    if json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        println!("replayed {}", opts.log.display());
        println!("{}", summary.human());
    }
    Ok(ExitCode::SUCCESS)
}

fn run_devices(command: DevicesCommand) -> anyhow::Result<ExitCode> {
    match command {
        DevicesCommand::List { json, profiles } => {
            let profiles = konbini_devices::profiles::Profiles::load(&profiles)?;
            let found = crate::devices::list(std::path::Path::new("/"), &profiles);
            for d in &found {
                if json {
                    println!("{}", serde_json::to_string(d)?);
                } else {
                    let names: Vec<String> =
                        d.names.iter().map(|n| n.display().to_string()).collect();
                    println!(
                        "{:8} {:20} usb {:10} profile {:18} {}",
                        d.kind,
                        d.path.display(),
                        d.usb_id.as_deref().unwrap_or("-"),
                        d.profile.as_deref().unwrap_or("-"),
                        if names.is_empty() {
                            "(no stable name: see udev/README.md)".to_owned()
                        } else {
                            names.join(" ")
                        }
                    );
                }
            }
            if found.is_empty() && !json {
                eprintln!("no serial ports or USB printers found under /dev");
            }
        }
        DevicesCommand::ScanTest {
            port,
            baud,
            count,
            framing,
            profile,
            profiles,
        } => {
            let config = match profile {
                Some(name) => konbini_devices::profiles::Profiles::load(&profiles)?
                    .scanners
                    .into_iter()
                    .find(|s| s.name == name)
                    .with_context(|| {
                        format!("no scanner profile {name:?} in {}", profiles.display())
                    })?
                    .reader_config(&port),
                None => {
                    let mut config = konbini_devices::scanner::ReaderConfig::new(port);
                    config.baud = baud;
                    config.framing = match framing {
                        FramingArg::Line => konbini_devices::scanner::Framing::Line,
                        FramingArg::StxEtx => konbini_devices::scanner::Framing::StxEtx,
                    };
                    config
                }
            };
            crate::devices::scan_test(config, count)?;
        }
        DevicesCommand::PrintTest { printer, drawer } => {
            let ok = crate::devices::print_test(
                &printer.port,
                printer.baud,
                printer.columns(),
                drawer.then_some((2, 100, 200)),
            )?;
            if !ok {
                return Ok(ExitCode::FAILURE);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn run_scanner_sim(
    input: Option<PathBuf>,
    link: Option<PathBuf>,
    suffix: konbini_devices::scanner::sim::Suffix,
    baud: u32,
    gap_ms: u64,
    hold: bool,
) -> anyhow::Result<ExitCode> {
    let mut port = konbini_devices::scanner::sim::VirtualPort::open()
        .context("cannot open a pseudo-terminal for the virtual scanner")?;
    if let Some(link) = &link {
        port.link(link)
            .with_context(|| format!("cannot point {} at the virtual scanner", link.display()))?;
        println!("scanner on {} as {}", port.path().display(), link.display());
    } else {
        println!("scanner on {}", port.path().display());
    }
    std::io::stdout().flush()?;
    let mut reader: Box<dyn std::io::BufRead> = match &input {
        Some(path) => Box::new(std::io::BufReader::new(
            std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?,
        )),
        None => Box::new(std::io::stdin().lock()),
    };
    let n = konbini_devices::scanner::sim::scan_lines(
        &mut port,
        &mut reader,
        suffix,
        (baud > 0).then_some(baud),
        Duration::from_millis(gap_ms),
    )?;
    eprintln!("scanned {n} barcodes");
    if hold {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
            .block_on(tokio::signal::ctrl_c())?;
    } else {
        // Give a reader time to take the last frame before the cable goes.
        std::thread::sleep(Duration::from_millis(500));
    }
    if let Some(link) = &link {
        let _ = std::fs::remove_file(link);
    }
    Ok(ExitCode::SUCCESS)
}

fn run_print_render(
    input: &std::path::Path,
    png: &std::path::Path,
    text: &std::path::Path,
    dots: u16,
) -> anyhow::Result<ExitCode> {
    use std::io::Read;

    use konbini_devices::printer::VirtualPrinter;
    let mut file = std::fs::File::open(input)
        .with_context(|| format!("cannot read the job {}", input.display()))?;
    let mut printer = VirtualPrinter::new(dots);
    // Streamed: the job is never held whole; the paper's own bound stops absurd jobs.
    let mut buf = vec![0u8; 64 * 1024];
    let mut bytes = 0u64;
    loop {
        let n = match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(e).with_context(|| format!("cannot read the job {}", input.display()));
            }
        };
        bytes += n as u64;
        printer
            .print(&buf[..n])
            .with_context(|| format!("cannot render the job {}", input.display()))?;
    }
    printer
        .finish()
        .with_context(|| format!("cannot render the job {}", input.display()))?;
    let (faults, skipped) = (printer.faults(), printer.skipped_bytes());
    let sheet = printer.take_sheet();
    let picture = sheet
        .png_bytes()
        .with_context(|| format!("cannot encode the picture {}", png.display()))?;
    konbini_devices::printer::write_files(&[
        (png, &picture),
        (text, sheet.transcript().as_bytes()),
    ])?;
    println!(
        "{}: {bytes} bytes, {} dot lines ({:.1} mm of paper), {} text lines -> {}, {}",
        input.display(),
        sheet.dot_lines(),
        f64::from(sheet.dot_lines()) / 8.0,
        sheet.transcript().lines().count(),
        png.display(),
        text.display()
    );
    if skipped > 0
        || faults.replaced_chars > 0
        || faults.barcodes_dropped > 0
        || faults.qr_dropped > 0
        || faults.pdf417_dropped > 0
        || faults.images_clipped > 0
    {
        println!(
            "left out: {skipped} bytes skipped, {} characters replaced, {} bar codes, {} QR and {} PDF417 symbols not printed, {} images clipped",
            faults.replaced_chars,
            faults.barcodes_dropped,
            faults.qr_dropped,
            faults.pdf417_dropped,
            faults.images_clipped
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn run_printer_sim(
    opts: konbini_devices::printer::sim::SimOptions,
    link: Option<PathBuf>,
) -> anyhow::Result<ExitCode> {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    let stop = Arc::new(AtomicBool::new(false));
    let sim = konbini_devices::printer::sim::Sim::open(&opts, stop.clone()).with_context(|| {
        format!(
            "cannot open a pseudo-terminal or the output directory {} for the virtual printer",
            opts.out_dir.display()
        )
    })?;
    if let Some(link) = &link {
        sim.link(link)
            .with_context(|| format!("cannot point {} at the virtual printer", link.display()))?;
        println!("printer on {} as {}", sim.path().display(), link.display());
    } else {
        println!("printer on {}", sim.path().display());
    }
    std::io::stdout().flush()?;
    // Ctrl+C or SIGTERM: the serial read sees the flag and the loop ends cleanly.
    let signals = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    std::thread::spawn(move || {
        signals.block_on(async {
            let Ok(mut term) =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            else {
                return;
            };
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        });
        stop.store(true, Ordering::Relaxed);
    });
    let result = sim.run();
    if let Some(link) = &link {
        let _ = std::fs::remove_file(link);
    }
    let (written, failed) = result.context("the virtual printer stopped")?;
    eprintln!(
        "printer-sim: {written} jobs written into {}",
        opts.out_dir.display()
    );
    if failed > 0 {
        anyhow::bail!(
            "printer-sim: {failed} jobs could not be written into {}",
            opts.out_dir.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn run_print_queue(
    journal: &std::path::Path,
    printer: &PrinterArgs,
    config: Option<&std::path::Path>,
) -> anyhow::Result<ExitCode> {
    let (port, baud, columns) = (printer.port.as_path(), printer.baud, printer.columns());
    // The register's receipt settings, read before anything is opened.
    let (barcodes, style) = crate::ui::config::replay_receipts(config)?;
    anyhow::ensure!(
        journal.exists(),
        "journal {} does not exist",
        journal.display()
    );
    let journal = std::sync::Mutex::new(Journal::open(journal)?);
    let mut printer = konbini_devices::printer::PrinterPort::open(port, baud)
        .with_context(|| format!("printer {}: cannot open", port.display()))?;
    let report = konbini_devices::printer::queue::drain_styled(
        &journal,
        &mut printer,
        columns,
        barcodes,
        &style,
        0,
    )?;
    println!(
        "printed {} receipts on {}",
        report.printed.len(),
        port.display()
    );
    if let Some((seq, why)) = report.held {
        eprintln!(
            "printer {}: {why}; the receipt of sale {seq} and {} after it stay queued: print again when the printer is ready",
            port.display(),
            report.still_queued.saturating_sub(1)
        );
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

fn run_journal(command: JournalCommand) -> anyhow::Result<ExitCode> {
    match command {
        JournalCommand::Verify {
            journal,
            expect_head,
        } => {
            let report = Journal::open_read_only(&journal)?.verify(expect_head.as_deref())?;
            println!(
                "OK: journal {} holds {} sales ({} slips), chain intact, head {}; {}{}",
                journal.display(),
                report.sales,
                report.slips,
                report.head.as_deref().unwrap_or("(empty)"),
                match report.verdicts {
                    Some(n) => format!("every outbox state proven by the {n} verdict records"),
                    None => "outbox states not provable (the journal predates verdict \
                             records: open it with `konbini replay` or `register` to add them)"
                        .to_owned(),
                },
                match report.records {
                    Some(n) if n > 0 =>
                        format!("; {n} non-sale records (voids, cancels, day closes) intact"),
                    _ => String::new(),
                }
            );
        }
        JournalCommand::Export {
            journal,
            with_ids,
            with_records,
        } => {
            let stdout = std::io::stdout();
            let mut out = std::io::BufWriter::new(stdout.lock());
            Journal::open_read_only(&journal)?.export_with(&mut out, with_ids, with_records)?;
            out.flush().context("cannot write the export to stdout")?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
