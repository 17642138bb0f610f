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

use crate::embedded::DemoVoucher;
use crate::replay::ReceiptDir;
use crate::sync::upstream::{HttpUpstream, Upstream, lookup_with_retries};
use crate::sync::{SharedJournal, SyncHandle};
use konbini_devices::printer::{
    PrinterPort, ReceiptBarcodes, encode_receipt_with, encode_sale_receipt_styled, queue,
};
use konbini_devices::receipt::{Receipt, ReceiptStyle, Reprint};
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
        /// The receipts' language and stamp duty setting.
        style: ReceiptStyle,
        /// The open port, if it is open.
        port: Mutex<Option<PrinterPort>>,
    },
}

impl Printer {
    /// The style its receipts are printed in.
    fn style(&self) -> &ReceiptStyle {
        match self {
            Printer::Virtual(dir) => dir.style(),
            Printer::Port { style, .. } => style,
        }
    }
}

/// Most alerts loaded for the screen (the oldest first; the count says how many in all).
const ALERTS_SHOWN: usize = 50;

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
            Job::Commit { sale, voided } => {
                if self.broken.load(Ordering::Relaxed) {
                    return vec![Answer::Core(Msg::CommitFailed {
                        reason: "the journal's hash chain is broken: no sale is added to it"
                            .to_owned(),
                    })];
                }
                let committed = lock(&self.journal).commit_sale_voided(&sale, &voided, None);
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
            Job::Reprint(seq) => vec![self.reprint(seq)],
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
            Job::RecordCancel(cancelled) => {
                if self.broken.load(Ordering::Relaxed) {
                    return vec![];
                }
                match lock(&self.journal).record_cancel(&cancelled, None) {
                    Ok(_) => vec![],
                    Err(e) => vec![Answer::Trouble(e.to_string())],
                }
            }
            Job::CloseDay { request, float } => self.close_day(&request, float),
            // On a connection of its own: adding up a long day must not hold the writer
            // (commits go on meanwhile). One read snapshot, as every report.
            Job::LoadDay { at, float } => {
                let path = lock(&self.journal).path().to_owned();
                match Journal::open_read_only(&path).and_then(|j| j.x_report(&at, float)) {
                    Ok(report) => vec![Answer::Day(Box::new(report))],
                    Err(e) => vec![Answer::Trouble(e.to_string())],
                }
            }
            Job::PrintReport { report, again } => {
                let receipt =
                    Receipt::for_report(&self.station, &report, self.printer.style().lang);
                vec![Answer::ReportPrinted(self.print_report(&receipt, again))]
            }
            Job::LoadAlerts => self.alerts(),
            Job::Acknowledge { sale_seq, idx, at } => {
                let acked = lock(&self.journal).acknowledge(sale_seq, idx, &at);
                let mut answers = self.alerts();
                if let Err(e) = acked {
                    answers.push(Answer::Trouble(e.to_string()));
                }
                answers
            }
            Job::NextDemoScan => vec![Answer::DemoScan(
                self.next_demo().map(|v| (v.barcode, v.voucher_url)),
            )],
            Job::NextDemoKeyIn => {
                let chain = self.station.store.chain;
                vec![Answer::DemoKeyIn(self.next_demo().and_then(|v| {
                    let (c, code) = v
                        .payment_codes
                        .iter()
                        .find(|(c, _)| Some(*c) == chain)
                        .or(v.payment_codes.first())?
                        .clone();
                    Some((c, code, v.confirmation_number, v.voucher_url))
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
                style,
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
                let report =
                    queue::drain_styled(&self.journal, p, *columns, *barcodes, style, floor);
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

    /// Print sale `seq`'s receipt again, marked 再発行 with its number. The original's
    /// print job is not touched (it is printed, or still queued to print as the original).
    fn reprint(&self, seq: u64) -> Answer {
        let sale = match lock(&self.journal).sale(seq) {
            Ok(Some(s)) => s,
            Ok(None) => {
                return Answer::Reprinted {
                    seq,
                    printed: Err(format!("sale {seq} is not in the journal")),
                };
            }
            Err(e) => return Answer::Trouble(e.to_string()),
        };
        let at = konbini_journal::journal_time(&super::now_jst());
        let printed = match &self.printer {
            Printer::Virtual(dir) => dir
                .reprint(&sale, &at)
                .map(|p| p.display().to_string())
                .map_err(|e| format!("{}: {e}", dir.dir().display())),
            Printer::Port {
                path,
                baud,
                columns,
                barcodes,
                style,
                port,
            } => {
                let reprint = Reprint { count: 1, at };
                let job =
                    encode_sale_receipt_styled(&sale, *columns, *barcodes, style, Some(&reprint));
                send(port, path, *baud, &job).map(|()| path.display().to_string())
            }
        };
        Answer::Reprinted { seq, printed }
    }

    fn alerts(&self) -> Vec<Answer> {
        match lock(&self.journal).alerts(ALERTS_SHOWN) {
            Ok((list, count)) => vec![Answer::Alerts(list, count)],
            Err(e) => vec![Answer::Trouble(e.to_string())],
        }
    }

    /// Close the business day; the `close` goes into the session log once the journal
    /// answered (closed, or refused as already closed: a replay does the same), never
    /// when the journal failed (a full disk): that close did not happen.
    fn close_day(
        &self,
        request: &konbini_register::DayCloseRequest,
        float: konbini_domain::Yen,
    ) -> Vec<Answer> {
        if self.broken.load(Ordering::Relaxed) {
            return vec![Answer::Trouble(
                "the journal's hash chain is broken: the day cannot be closed on it".to_owned(),
            )];
        }
        let closed = lock(&self.journal).close_day(request, float, None);
        match closed {
            Ok(result) => {
                let mut answers = vec![Answer::DayClosed(result.map(Box::new))];
                if let Some(r) = &self.recorder
                    && let Err(e) =
                        lock(r).record(&request.at, &crate::replay::Event::Close(request.counted))
                {
                    answers.push(Answer::Trouble(e.to_string()));
                }
                answers
            }
            Err(e) => vec![Answer::Trouble(e.to_string())],
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

    /// Print a report: kept as files in the reports directory (a Z report under its own
    /// number; printed `again`, as a marked reprint beside it, never over it), and on a
    /// real printer when there is one.
    fn print_report(&self, receipt: &Receipt, again: bool) -> Result<String, String> {
        let mut done = Err("no printer".to_owned());
        let receipt = if again {
            let mut r = receipt.clone();
            let mark = match self.printer.style().lang {
                konbini_devices::receipt::ReceiptLang::Ja => "【再発行】",
                konbini_devices::receipt::ReceiptLang::En => "[REPRINT]",
            };
            r.lines
                .insert(3, konbini_devices::receipt::Line::Notice(mark.to_owned()));
            r
        } else {
            receipt.clone()
        };
        let receipt = &receipt;
        if let Some(dir) = &self.reports {
            done = if again {
                dir.print_receipt_again(receipt)
            } else {
                dir.print_receipt(receipt)
            }
            .map(|p| p.display().to_string())
            .map_err(|e| format!("{}: {e}", dir.dir().display()));
        }
        if let Printer::Port {
            path,
            baud,
            columns,
            barcodes,
            port,
            ..
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
