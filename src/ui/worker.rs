//! The register's I/O: every [`Job`] the app asks for, carried out against the real
//! journal, printer, session log and payment network, and answered as [`Answer`]s.
//!
//! `Services::run` is synchronous and is the only place jobs are done: the terminal runs
//! it on worker threads (so drawing never waits for a commit, a print or a look-up), and
//! the tests and the benchmark run it inline, in order, against the same real parts.
//! It never draws and never decides anything about a sale: the core did.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use chrono::{DateTime, FixedOffset, NaiveDate};

use crate::embedded::DemoVoucher;
use crate::replay::ReceiptDir;
use crate::sync::upstream::{HttpUpstream, Upstream, lookup_with_retries};
use crate::sync::{SharedJournal, SyncHandle};
use konbini_devices::printer::{
    PrinterPort, ReceiptBarcodes, encode_receipt_with, encode_sale_receipt, queue,
};
use konbini_devices::receipt::Receipt;
use konbini_journal::Journal;
use konbini_register::{LookupAnswer, Msg, Station};

use super::app::{Answer, Job};
use super::record::Recorder;

/// How many demo vouchers are made when all are handed out.
const DEMO_BATCH: usize = 5;

/// Where receipts go.
pub enum Printer {
    /// The virtual printer: PNG and text files in a directory.
    Virtual(ReceiptDir),
    /// A real ESC/POS printer (serial, USB or `tcp://`), opened when needed.
    Port {
        /// Its path.
        path: PathBuf,
        /// Serial line speed.
        baud: u32,
        /// Characters a line.
        columns: usize,
        /// The bar codes its receipts carry.
        barcodes: ReceiptBarcodes,
        /// The open port, if it is open.
        port: Mutex<Option<PrinterPort>>,
    },
}

/// The payment network as the register uses it.
pub struct NetLink {
    /// The runtime the look-ups run on.
    pub rt: tokio::runtime::Handle,
    /// Look-ups (short time limit).
    pub lookups: HttpUpstream,
    /// The sync task's handle (wake, status).
    pub sync: Arc<SyncHandle>,
    /// The embedded network's merchant API, for more demo vouchers (None: an outside network).
    pub demo_api: Option<(String, String)>,
}

/// The demo vouchers of the embedded network, handed out in turn.
#[derive(Default)]
pub struct Demo {
    vouchers: Vec<DemoVoucher>,
    next: usize,
}

impl Demo {
    /// Vouchers to hand out.
    pub fn extend(&mut self, vouchers: Vec<DemoVoucher>) {
        self.vouchers.extend(vouchers);
    }

    fn take(&mut self) -> Option<DemoVoucher> {
        let v = self.vouchers.get(self.next)?.clone();
        self.next += 1;
        Some(v)
    }
}

/// The real parts the jobs run against.
pub struct Services {
    /// The journal (shared with the sync task).
    pub journal: SharedJournal,
    /// The receipt printer.
    pub printer: Printer,
    /// Where Z reports are written when the printer is virtual (and kept anyway).
    pub reports: Option<ReceiptDir>,
    /// The session log.
    pub recorder: Option<Mutex<Recorder>>,
    /// The payment network, once it is up.
    pub net: OnceLock<NetLink>,
    /// Demo vouchers.
    pub demo: Mutex<Demo>,
    /// This register.
    pub station: Station,
    /// The journal's chain was found broken: no new sale is committed on top of it.
    pub broken: AtomicBool,
    /// The first sale whose queued receipt the register prints by itself: today's first at
    /// start. Older backlogs (a replay without a printer) are `konbini print-queue`'s, not
    /// something to pour out of a register at opening time.
    pub print_floor: AtomicU64,
    /// Whether held receipts are retried by themselves. Off after a receipt printed but
    /// could not be marked printed (the journal failed): retrying would print it again and
    /// again. On again with the next sale's print job.
    pub auto_print: AtomicBool,
}

/// Most receipts printed in one go (the device thread comes back for the rest).
const PRINT_BATCH: usize = 100;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Services {
    /// Carry out one job; its answers, in order.
    pub fn run(&self, job: Job) -> Vec<Answer> {
        match job {
            Job::Record { at, event } => match &self.recorder {
                Some(r) => match lock(r).record(&at, &event) {
                    Ok(()) => vec![],
                    Err(e) => vec![Answer::Trouble(e.to_string())],
                },
                None => vec![],
            },
            Job::CheckPaid(slip) => {
                let paid = lock(&self.journal).is_paid(&slip.pay_key());
                match paid {
                    Ok(already_paid) => vec![Answer::Core(Msg::PaidChecked { slip, already_paid })],
                    // The journal cannot say: refuse nothing silently, tell the clerk, and
                    // let the commit (which checks the unique key again) be the judge.
                    Err(e) => vec![
                        Answer::Trouble(e.to_string()),
                        Answer::Core(Msg::PaidChecked {
                            slip,
                            already_paid: false,
                        }),
                    ],
                }
            }
            Job::Lookup { at, reference } => {
                let answer = match self.net.get() {
                    Some(net) => lookup(net, &reference),
                    None => LookupAnswer::Offline,
                };
                vec![Answer::Core(Msg::LookedUp {
                    at,
                    reference,
                    answer,
                })]
            }
            Job::Commit(sale) => {
                if self.broken.load(Ordering::Relaxed) {
                    return vec![Answer::Core(Msg::CommitFailed {
                        reason: "the journal's hash chain is broken: no sale is added to it"
                            .to_owned(),
                    })];
                }
                let committed = lock(&self.journal).commit_sale(&sale, None);
                match committed {
                    Ok(c) => {
                        // The `complete` that made the sale goes into the session log only
                        // now: a complete whose commit failed (a full disk) reopened the
                        // sale and must not replay as a sale.
                        // (The trouble after the sale's own notice, or it would be hidden.)
                        let mut answers = vec![Answer::Core(Msg::Committed { seq: c.seq })];
                        if let Some(r) = &self.recorder
                            && let Err(e) =
                                lock(r).record(&sale.at, &crate::replay::Event::Complete)
                        {
                            answers.push(Answer::Trouble(e.to_string()));
                        }
                        answers
                    }
                    Err(e) => vec![Answer::Core(Msg::CommitFailed {
                        reason: e.to_string(),
                    })],
                }
            }
            Job::OpenDrawer => self.open_drawer(),
            Job::Print => {
                self.auto_print.store(true, Ordering::Relaxed);
                self.drain_prints()
            }
            Job::Reprint(seq) => self.reprint(seq),
            Job::WakeSync => {
                if let Some(net) = self.net.get() {
                    net.sync.wake();
                }
                vec![]
            }
            Job::LoadJournal { since } => match lock(&self.journal).recent_sales(&since, 500) {
                Ok(rows) => vec![Answer::Journal(rows)],
                Err(e) => vec![Answer::Trouble(e.to_string())],
            },
            Job::DayClose { date } => self.day_close(date),
            Job::NextDemoScan => vec![Answer::DemoScan(self.next_demo().map(|v| v.barcode))],
            Job::NextDemoKeyIn => {
                let chain = self.station.store.chain;
                vec![Answer::DemoKeyIn(self.next_demo().and_then(|v| {
                    let (c, code) = v
                        .payment_codes
                        .iter()
                        .find(|(c, _)| Some(*c) == chain)
                        .or(v.payment_codes.first())?
                        .clone();
                    Some((c, code, v.confirmation_number))
                }))]
            }
        }
    }

    /// Whether the device thread should retry held receipts now.
    pub fn retry_prints(&self) -> bool {
        self.auto_print.load(Ordering::Relaxed) && self.print_queue_len() > 0
    }

    /// Receipts waiting to print.
    pub fn print_queue_len(&self) -> usize {
        let floor = self.print_floor.load(Ordering::Relaxed);
        lock(&self.journal).queued_count_from(floor).unwrap_or(0)
    }

    /// Print every queued receipt the printer can take (also the retry after paper end).
    pub fn drain_prints(&self) -> Vec<Answer> {
        let mut answers = Vec::new();
        match &self.printer {
            Printer::Virtual(dir) => {
                let floor = self.print_floor.load(Ordering::Relaxed);
                let queued = lock(&self.journal).queued_prints_from(floor, PRINT_BATCH);
                match queued {
                    Ok(queued) => {
                        for seq in queued {
                            answers.push(self.print_virtual(dir, seq));
                        }
                    }
                    Err(e) => answers.push(Answer::Trouble(e.to_string())),
                }
            }
            Printer::Port {
                path,
                baud,
                columns,
                barcodes,
                port,
            } => {
                if self.print_queue_len() == 0 {
                    return vec![Answer::PrintQueue(0)];
                }
                let mut port = lock(port);
                let p = match open_port(&mut port, path, *baud) {
                    Ok(p) => p,
                    Err(why) => {
                        return vec![
                            Answer::PrintHeld {
                                seq: self.first_queued(),
                                why,
                            },
                            Answer::PrintQueue(self.print_queue_len()),
                        ];
                    }
                };
                let floor = self.print_floor.load(Ordering::Relaxed);
                let report = queue::drain_with(&self.journal, p, *columns, *barcodes, floor);
                match report {
                    Ok(report) => {
                        answers.extend(report.printed.iter().map(|&seq| Answer::Printed { seq }));
                        if let Some((seq, why)) = report.held {
                            answers.push(Answer::PrintHeld { seq, why });
                        }
                    }
                    Err(e @ queue::QueueError::Journal(_)) => {
                        self.auto_print.store(false, Ordering::Relaxed);
                        answers.push(Answer::Trouble(e.to_string()));
                    }
                    Err(e) => {
                        // Unplugged or gone: open it again next time.
                        *port = None;
                        answers.push(Answer::PrintHeld {
                            seq: self.first_queued(),
                            why: e.to_string(),
                        });
                    }
                }
            }
        }
        answers.push(Answer::PrintQueue(self.print_queue_len()));
        answers
    }

    fn first_queued(&self) -> u64 {
        let floor = self.print_floor.load(Ordering::Relaxed);
        lock(&self.journal)
            .queued_prints_from(floor, 1)
            .ok()
            .and_then(|q| q.first().copied())
            .unwrap_or(0)
    }

    fn print_virtual(&self, dir: &ReceiptDir, seq: u64) -> Answer {
        let sale = lock(&self.journal).sale(seq);
        let sale = match sale {
            Ok(Some(sale)) => sale,
            Ok(None) => return Answer::Trouble(format!("sale {seq} is not in the journal")),
            Err(e) => return Answer::Trouble(e.to_string()),
        };
        match dir.print(&sale) {
            Ok(_) => match lock(&self.journal).mark_printed(seq) {
                Ok(()) => Answer::Printed { seq },
                Err(e) => {
                    self.auto_print.store(false, Ordering::Relaxed);
                    Answer::Trouble(e.to_string())
                }
            },
            Err(e) => {
                let why = format!("{}: {e}", dir.dir().display());
                let _ = lock(&self.journal).print_failed(seq, &why);
                Answer::PrintHeld { seq, why }
            }
        }
    }

    fn reprint(&self, seq: u64) -> Vec<Answer> {
        match &self.printer {
            Printer::Virtual(dir) => vec![self.print_virtual(dir, seq)],
            Printer::Port {
                path,
                baud,
                columns,
                barcodes,
                port,
            } => {
                let sale = match lock(&self.journal).sale(seq) {
                    Ok(Some(s)) => s,
                    Ok(None) => return vec![],
                    Err(e) => return vec![Answer::Trouble(e.to_string())],
                };
                let job = encode_sale_receipt(&sale, *columns, *barcodes);
                match send(port, path, *baud, &job) {
                    Ok(()) => vec![Answer::Printed { seq }],
                    Err(why) => vec![Answer::PrintHeld { seq, why }],
                }
            }
        }
    }

    fn open_drawer(&self) -> Vec<Answer> {
        let Printer::Port {
            path, baud, port, ..
        } = &self.printer
        else {
            return vec![];
        };
        let mut kick = Vec::new();
        konbini_firmware::escpos::Command::DrawerKick {
            pin: 2,
            on_ms: 100,
            off_ms: 200,
        }
        .encode(&mut |b: &[u8]| kick.extend_from_slice(b));
        match send(port, path, *baud, &kick) {
            Ok(()) => vec![],
            Err(why) => vec![Answer::Trouble(why)],
        }
    }

    fn day_close(&self, date: NaiveDate) -> Vec<Answer> {
        let next = date.succ_opt().unwrap_or(date);
        let totals = lock(&self.journal).day_totals(
            &date.format("%Y-%m-%d").to_string(),
            &next.format("%Y-%m-%d").to_string(),
        );
        let totals = match totals {
            Ok(t) => t,
            Err(e) => return vec![Answer::Trouble(e.to_string())],
        };
        let now: DateTime<FixedOffset> = konbini_domain::time::in_japan(&chrono::Utc::now());
        let receipt = Receipt::for_day(&self.station, date, &now, &totals);
        let printed = self.print_report(&receipt);
        vec![Answer::DayClosed {
            date,
            totals,
            printed,
        }]
    }

    fn print_report(&self, receipt: &Receipt) -> Result<String, String> {
        let mut done = Err("no printer".to_owned());
        if let Some(dir) = &self.reports {
            done = dir
                .print_receipt(receipt)
                .map(|p| p.display().to_string())
                .map_err(|e| format!("{}: {e}", dir.dir().display()));
        }
        if let Printer::Port {
            path,
            baud,
            columns,
            barcodes,
            port,
        } = &self.printer
        {
            let job = encode_receipt_with(receipt, *columns, *barcodes, &[]);
            send(port, path, *baud, &job)?;
            done = Ok(path.display().to_string());
        }
        done
    }

    fn next_demo(&self) -> Option<DemoVoucher> {
        if let Some(v) = lock(&self.demo).take() {
            return Some(v);
        }
        // All handed out: the embedded network makes more, as a merchant would.
        let net = self.net.get()?;
        let (url, key) = net.demo_api.as_ref()?;
        let amounts = &crate::embedded::DEMO_AMOUNTS[..DEMO_BATCH];
        let more = net
            .rt
            .block_on(crate::embedded::make_demo_payments(url, key, amounts))
            .ok()?;
        let mut demo = lock(&self.demo);
        demo.extend(more);
        demo.take()
    }
}

/// Send `bytes` to a real printer, opening it if needed.
fn send(
    port: &Mutex<Option<PrinterPort>>,
    path: &std::path::Path,
    baud: u32,
    bytes: &[u8],
) -> Result<(), String> {
    let mut port = lock(port);
    open_port(&mut port, path, baud)?.send(bytes).map_err(|e| {
        *port = None;
        format!("{}: {e}", path.display())
    })
}

/// The printer, opened now if it is not open (the first use, or after it went away).
fn open_port<'a>(
    port: &'a mut Option<PrinterPort>,
    path: &std::path::Path,
    baud: u32,
) -> Result<&'a mut PrinterPort, String> {
    if port.is_none() {
        *port =
            Some(PrinterPort::open(path, baud).map_err(|e| format!("{}: {e}", path.display()))?);
    }
    Ok(port.as_mut().expect("opened above"))
}

/// A look-up: a few attempts within about 3 s, else `Offline`.
fn lookup(net: &NetLink, reference: &konbini_domain::PaperlessRef) -> LookupAnswer {
    lookup_with_retries(|| net.rt.block_on(net.lookups.lookup(reference)))
}

/// Check the journal's hash chain on its own read-only connection (sales go on meanwhile).
pub fn check_journal(path: &std::path::Path) -> Result<u64, String> {
    let j = Journal::open_read_only(path).map_err(|e| e.to_string())?;
    j.verify(None).map_err(|e| e.to_string())?;
    j.head().map(|(n, _)| n).map_err(|e| e.to_string())
}
