//! The register screen's state and its one `handle` function: an input (a key, a paste, a
//! scanner frame, a worker's answer, a clock tick) in, the jobs for the workers out.
//!
//! It owns what the clerk sees and the order inputs reach the register core; the core
//! makes every decision about slips and sales. It never does I/O and never reads a clock:
//! the time comes in with each input, so tests drive it exactly as the terminal does.
//!
//! Inputs that go to the core (scan, key-in, tender, complete, cancel) are fed one at a time:
//! while the core waits for an answer (the journal's "paid before?", the network's look-up,
//! the commit), later inputs wait in `held`, in order, and are fed when it is answered. So
//! the core sees exactly the sequence the session log records, and a replay of that log
//! makes the same sales.
//!
//! Money is never moved on one key: a void (Delete on a selected slip), a cancel (Esc)
//! and the day close (counted cash, Enter) each ask first, and the answer (Enter or Y,
//! Esc or N) is what goes to the core.

use std::collections::VecDeque;

use chrono::{DateTime, FixedOffset, NaiveDate};
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use crate::replay::Event;
use crate::sync::SyncStatus;
use konbini_devices::receipt::StampDuty;
use konbini_domain::{Chain, PaperlessRef, Yen, time::business_date};
use konbini_journal::{Alert, DayReport, SaleRow};
use konbini_register::day::CloseRefused;
use konbini_register::{
    CancelledSale, DayCloseRequest, Effect, Ignored, LinkState, Msg, NewSale, Reason, Register,
    Slip, Voided,
};

use super::tender;
use super::text::Lang;

/// Longest input line kept (a scan frame is at most a few hundred bytes).
pub const INPUT_MAX_CHARS: usize = 256;
/// Most inputs waiting for the core; more are refused with a notice (a held key, a flood).
pub const HELD_MAX: usize = 64;
/// Most lines of one paste that are used.
pub const PASTE_MAX_LINES: usize = 100;

/// An input to the app.
#[derive(Debug, Clone)]
pub enum Input {
    /// A key pressed.
    Key(KeyEvent),
    /// Text pasted into the terminal (bracketed paste).
    Paste(String),
    /// A frame from the serial scanner.
    Scanned(String),
    /// The serial scanner's state.
    Scanner(ScannerState),
    /// A worker's answer.
    Answer(Answer),
    /// The clock moved (once a second or so).
    Tick,
    /// The terminal changed size (nothing to do but draw again).
    Resize,
    /// The terminal is gone: end the session (an open sale is abandoned, never journaled).
    Hangup,
}

/// What a worker answers to a [`Job`].
#[derive(Debug, Clone)]
pub enum Answer {
    /// The answer to one of the core's questions (`PaidChecked`, `LookedUp`,
    /// `Committed`, `CommitFailed`).
    Core(Msg),
    /// A receipt was printed.
    Printed {
        /// Its sale.
        seq: u64,
    },
    /// The printer cannot print; the receipt stays queued and prints when it can.
    PrintHeld {
        /// The sale whose receipt waits.
        seq: u64,
        /// Why (paper end, cover open, offline, unplugged).
        why: String,
    },
    /// A receipt was printed again, marked as a reprint: where it went, or why not.
    Reprinted {
        /// Its sale.
        seq: u64,
        /// Where the reprint went, or why it did not print.
        printed: Result<String, String>,
    },
    /// Today's sales, newest first.
    Journal(Vec<SaleRow>),
    /// The X report of the open business day (a reading).
    Day(Box<DayReport>),
    /// The day close: its Z report, or why the day could not be closed.
    DayClosed(Result<Box<DayReport>, CloseRefused>),
    /// An X or Z report printed: where it went, or why it did not print.
    ReportPrinted(Result<String, String>),
    /// The slips in conflict or rejected not yet acknowledged (the oldest), and how many.
    Alerts(Vec<Alert>, u64),
    /// The next demo voucher's barcode, to be scanned, and its voucher page (None: no
    /// demo voucher left or ready).
    DemoScan(Option<(String, String)>),
    /// The next demo voucher's paperless numbers, for the key-in dialog, and its page.
    DemoKeyIn(Option<(Chain, String, String, String)>),
    /// The payment network link and the unsent slips.
    Link(SyncStatus),
    /// The journal's hash chain was checked at start: the number of sales, or what is wrong.
    JournalChecked(Result<u64, String>),
    /// Print jobs still queued.
    PrintQueue(usize),
    /// A job failed in a way the clerk must know about (the session log cannot be written).
    Trouble(String),
}

/// Work for the workers, in the order given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Job {
    /// Append this event to the session log.
    Record {
        /// When.
        at: DateTime<FixedOffset>,
        /// What.
        event: Event,
    },
    /// The core asks whether a slip was paid before; answer `Core(PaidChecked)`.
    CheckPaid(Slip),
    /// The core asks the network about keyed-in numbers; answer `Core(LookedUp)`.
    Lookup {
        /// When the key-in happened.
        at: DateTime<FixedOffset>,
        /// The numbers.
        reference: PaperlessRef,
    },
    /// Commit a sale with the records of the slips voided from it; answer
    /// `Core(Committed)` or `Core(CommitFailed)`.
    Commit {
        /// The sale.
        sale: NewSale,
        /// Its voided slips.
        voided: Vec<Voided>,
    },
    /// Journal a cancelled sale (a non-sale record).
    RecordCancel(CancelledSale),
    /// Close the business day with the drawer's float; then log the `close` (closed or
    /// refused: either replays the same); answer `DayClosed`.
    CloseDay {
        /// What the core asked.
        request: DayCloseRequest,
        /// The drawer's float.
        float: Yen,
    },
    /// Read the open business day (X report) at `at`; answer `Day`.
    LoadDay {
        /// When.
        at: DateTime<FixedOffset>,
        /// The drawer's float.
        float: Yen,
    },
    /// Print an X or Z report (`again`: a Z report printed again, marked as a reprint).
    PrintReport {
        /// The report.
        report: Box<DayReport>,
        /// Printed again.
        again: bool,
    },
    /// Load the alert list; answer `Alerts`.
    LoadAlerts,
    /// The clerk has seen to this slip's alert; answer `Alerts`.
    Acknowledge {
        /// Its sale.
        sale_seq: u64,
        /// Its place in the sale.
        idx: u32,
        /// When.
        at: DateTime<FixedOffset>,
    },
    /// Kick the cash drawer.
    OpenDrawer,
    /// Print the queued receipts (a sale's print job was queued with its commit).
    Print,
    /// Print sale `seq`'s receipt again, whatever its job's state.
    Reprint(u64),
    /// Wake the sync task.
    WakeSync,
    /// Load today's sales (at or after this `at` prefix) for the journal screen.
    LoadJournal {
        /// `YYYY-MM-DD` of today in Japan.
        since: String,
    },
    /// Hand over the next demo voucher's barcode.
    NextDemoScan,
    /// Hand over the next demo voucher's paperless numbers.
    NextDemoKeyIn,
}

/// The serial scanner, as the status bar shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScannerState {
    /// No serial scanner: the keyboard (or a keyboard-wedge scanner) is the scanner.
    Keyboard,
    /// Open.
    Connected(String),
    /// Gone; the reader keeps trying. The path and the error.
    Unplugged(String, String),
}

/// The printer, as the status bar shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrinterState {
    /// The virtual printer (PNG and text files).
    Virtual(String),
    /// A real printer that took the last job.
    Ready,
    /// A real printer that cannot print now, and why.
    Held(String),
}

/// The journal, as the status bar shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JournalState {
    /// The hash chain is being checked (in the background, sales go on).
    Checking,
    /// Checked: this many sales.
    Ok(u64),
    /// Broken: new sales are refused.
    Broken(String),
}

/// Which screen is up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Screen {
    /// The sale.
    Sale,
    /// Today's sales.
    Journal,
    /// The day close: the X report, the counted cash, then the Z report.
    DayClose,
    /// The slips in conflict or rejected, to acknowledge.
    Alerts,
}

/// What the last input did, for the notice line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// A slip was refused: the reason and the core's detail.
    Rejected(Reason, String),
    /// An input changed nothing.
    Ignored(Ignored, Yen),
    /// A slip joined the sale.
    SlipAdded(Yen),
    /// Cash was tendered: the tender now.
    Tendered(Yen),
    /// A typed line that looks like a barcode was read as one (never as cash), and refused.
    NotCash(Reason, String),
    /// The tender keyed was cleared.
    TenderCleared,
    /// The tender already given to the core (a sale whose commit failed) cannot be cleared.
    TenderKept(Yen),
    /// The clerk said no to a tender's question: it was not taken.
    TenderDeclined(Yen),
    /// A slip was voided: its position and amount.
    Voided(u32, Yen),
    /// The clerk said no to a void or a cancel: the sale is as it was.
    KeptSale,
    /// A receipt was printed again (a reprint, marked 再発行), or why not.
    Reprinted(u64, Result<String, String>),
    /// The day is closed: its Z report's number and business day, and where the report
    /// was printed once it is.
    DayClosed(u64, NaiveDate, Option<String>),
    /// The day close was refused.
    CloseRefused(CloseRefused),
    /// The counted cash typed is not an amount.
    BadCount,
    /// An X or Z report printed, or why not.
    ReportPrinted(Result<String, String>),
    /// An alert was acknowledged.
    Acknowledged,
    /// The sale is committed: its number and change.
    Completed(u64, Yen),
    /// The journal refused the sale; it is open again.
    CommitFailed(String),
    /// The sale was cancelled.
    Cancelled,
    /// A receipt printed (after being held, or a reprint).
    Printed(u64),
    /// A receipt could not print yet.
    PrintHeld(u64, String),
    /// The input line is full.
    InputTooLong,
    /// A tender of nothing.
    ZeroTender,
    /// Too many inputs waiting.
    TooManyHeld,
    /// A paste had more lines than are used.
    PasteTruncated(usize),
    /// No demo voucher to hand out.
    NoDemo,
    /// A sale is open: this needs none open.
    SaleOpen,
    /// Quit asked with a sale open.
    QuitWithSale,
    /// Something the clerk must know that is not about a slip.
    Trouble(String),
    /// Enter with cash keyed while a slip is still being checked: the change is not known.
    WaitForTotal,
    /// The clerk said no to completing with this much change: nothing done.
    ChangeNotConfirmed(Yen),
}

impl Notice {
    /// Whether it is bad news (drawn in red).
    pub fn is_error(&self) -> bool {
        matches!(
            self,
            Notice::Rejected(..)
                | Notice::NotCash(..)
                | Notice::TenderKept(_)
                | Notice::CommitFailed(_)
                | Notice::PrintHeld(..)
                | Notice::InputTooLong
                | Notice::ZeroTender
                | Notice::TooManyHeld
                | Notice::PasteTruncated(_)
                | Notice::NoDemo
                | Notice::SaleOpen
                | Notice::QuitWithSale
                | Notice::Reprinted(_, Err(_))
                | Notice::CloseRefused(_)
                | Notice::BadCount
                | Notice::ReportPrinted(Err(_))
                | Notice::Trouble(_)
                | Notice::WaitForTotal
                | Notice::Ignored(..)
        )
    }
}

/// The last completed sale, shown until the next slip.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Completed {
    /// Journal sequence number.
    pub seq: u64,
    /// Its total.
    pub total: Yen,
    /// Cash handed over.
    pub tendered: Yen,
    /// Change handed back.
    pub change: Yen,
}

/// The key-in dialog (F2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInForm {
    /// The chain chosen.
    pub chain: Chain,
    /// The payment code typed.
    pub payment_code: String,
    /// The confirmation number typed.
    pub confirmation_number: String,
    /// 0 chain, 1 payment code, 2 confirmation number.
    pub field: usize,
}

/// A question the clerk answers before anything happens (Enter or Y: yes; Esc or N: no).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Confirm {
    /// Add `add` to the tender, which would give `change` (¥10,000 or more).
    Tender {
        /// The cash to add.
        add: Yen,
        /// The change it would give.
        change: Yen,
    },
    /// Remove the slip at `position` (1-based) from the open sale.
    Void {
        /// Its position.
        position: u32,
        /// Its amount.
        amount: Yen,
    },
    /// Cancel the open sale (Esc).
    CancelSale {
        /// Its slips.
        slips: usize,
        /// Their total.
        total: Yen,
        /// Cash handed over, to hand back.
        tendered: Yen,
    },
    /// Complete the sale with `tendered` on `total`, giving `change` (¥10,000 or more) that
    /// the clerk has not confirmed yet (the cash was keyed before the total was known, or a
    /// void raised the change after the tender was confirmed).
    Complete {
        /// The sale's total.
        total: Yen,
        /// The cash tendered.
        tendered: Yen,
        /// The change it gives.
        change: Yen,
    },
    /// Close the business day with `counted` cash in the drawer.
    Close {
        /// The business day.
        date: NaiveDate,
        /// The cash counted.
        counted: Yen,
        /// The cash expected.
        expected: Yen,
    },
}

/// The link and the devices, as the status bar shows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// The payment network: None when no network is configured.
    pub link: Option<SyncStatus>,
    /// The scanner.
    pub scanner: ScannerState,
    /// The printer.
    pub printer: PrinterState,
    /// Receipts waiting to print.
    pub print_queue: usize,
    /// The journal.
    pub journal: JournalState,
}

/// The register screen.
#[derive(Debug, Clone)]
pub struct App {
    register: Register,
    /// The clerk's language.
    pub lang: Lang,
    /// The screen up.
    pub screen: Screen,
    /// The key-in dialog, when open.
    pub dialog: Option<KeyInForm>,
    /// The help overlay is up.
    pub help: bool,
    /// The input line.
    pub input: String,
    /// Cash keyed for the open sale and not yet given to the core (`tender.rs`): fed as
    /// one `tender` when the clerk completes, so it can be cleared until then.
    pub tender: Yen,
    /// A question up, waiting for the clerk's answer.
    pub confirm: Option<Confirm>,
    /// What the last input did.
    pub notice: Option<Notice>,
    /// The last completed sale.
    pub completed: Option<Completed>,
    /// The status bar.
    pub status: Status,
    /// Today's sales (journal screen).
    pub journal_rows: Vec<SaleRow>,
    /// The row selected on the journal screen.
    pub selected: usize,
    /// The day close screen's report: the X report of the open day, or the Z report
    /// just made (None while adding up).
    pub day: Option<DayReport>,
    /// The slip selected in the open sale (↑↓), 0-based: Delete voids it.
    pub sale_cursor: Option<usize>,
    /// The slips in conflict or rejected not yet acknowledged (the oldest few).
    pub alerts: Vec<Alert>,
    /// How many there are.
    pub alert_count: u64,
    /// The alert selected on the alert screen.
    pub alert_selected: usize,
    /// The drawer's float (釣銭準備金), for the day close.
    pub float: Yen,
    /// How the store pays stamp duty (what the screen tells the clerk).
    pub stamp: StampDuty,
    /// The voucher page of the demo payment last scanned (F5) or keyed (F6).
    pub demo_url: Option<String>,
    /// The time of the last input.
    pub now: DateTime<FixedOffset>,
    /// The clerk asked to quit (with no sale open).
    pub quit: bool,
    /// Answers the core waits for.
    awaiting: usize,
    /// A network look-up is under way.
    pub looking_up: bool,
    /// Inputs for the core waiting for those answers, with their times.
    held: VecDeque<(DateTime<FixedOffset>, Event)>,
    /// The sale being committed (for the change shown once it is).
    committing: Option<NewSale>,
    /// The printer's state when nothing is wrong (virtual, or ready).
    printer_idle: PrinterState,
    /// The (total, tendered) whose change of ¥10,000 or more the clerk confirmed: the
    /// sale completes without asking again only for exactly these.
    confirmed_change: Option<(Yen, Yen)>,
}

impl App {
    /// A register screen for `register`, at `now`.
    pub fn new(register: Register, lang: Lang, status: Status, now: DateTime<FixedOffset>) -> App {
        let printer_idle = status.printer.clone();
        App {
            register,
            lang,
            screen: Screen::Sale,
            dialog: None,
            help: false,
            input: String::new(),
            tender: Yen::ZERO,
            confirm: None,
            notice: None,
            completed: None,
            status,
            journal_rows: Vec::new(),
            selected: 0,
            day: None,
            sale_cursor: None,
            alerts: Vec::new(),
            alert_count: 0,
            alert_selected: 0,
            float: Yen::ZERO,
            stamp: StampDuty::default(),
            demo_url: None,
            now,
            quit: false,
            awaiting: 0,
            looking_up: false,
            held: VecDeque::new(),
            committing: None,
            printer_idle,
            confirmed_change: None,
        }
    }

    /// With the store's settings: the drawer's float and how stamp duty is paid.
    pub fn with_store_settings(mut self, float: Yen, stamp: StampDuty) -> App {
        self.float = float;
        self.stamp = stamp;
        self
    }

    /// The register core (read-only: only `handle` feeds it).
    pub fn register(&self) -> &Register {
        &self.register
    }

    /// Whether the core waits for an answer (inputs are held meanwhile).
    pub fn busy(&self) -> bool {
        self.awaiting > 0
    }

    /// Whether a sale is open (or being committed).
    pub fn sale_open(&self) -> bool {
        self.register.open_sale().is_some()
    }

    /// The cash tendered for the open sale: what the core has, and what is keyed.
    pub fn tendered(&self) -> Yen {
        let fed = self
            .register
            .open_sale()
            .map_or(Yen::ZERO, |s| s.tendered());
        fed.checked_add(self.tender).unwrap_or(fed)
    }

    /// One input at `now`; the jobs it makes, in order.
    pub fn handle(&mut self, input: Input, now: DateTime<FixedOffset>) -> Vec<Job> {
        // Never backwards (a clock stepped back): the session log's `at` may not decrease.
        self.now = now.max(self.now);
        let mut jobs = Vec::new();
        match input {
            Input::Key(key) => self.key(key, &mut jobs),
            Input::Paste(text) => self.paste(&text, &mut jobs),
            Input::Scanned(frame) => self.submit(Event::Scan(frame), &mut jobs),
            Input::Scanner(state) => self.status.scanner = state,
            Input::Answer(answer) => self.answer(answer, &mut jobs),
            Input::Resize => {}
            Input::Hangup => self.quit = true,
            Input::Tick => {
                if self.screen == Screen::Journal {
                    jobs.push(self.load_journal());
                }
                jobs.push(Job::LoadAlerts);
            }
        }
        // Cash keyed for a sale that never opened (its slip refused) or is gone; a
        // question about a sale that is gone.
        if !self.sale_open() && !self.busy() && self.held.is_empty() {
            self.tender = Yen::ZERO;
            self.confirmed_change = None;
            if matches!(
                self.confirm,
                Some(Confirm::Tender { .. } | Confirm::Void { .. } | Confirm::CancelSale { .. })
            ) {
                self.confirm = None;
            }
        }
        let slips = self.register.open_sale().map_or(0, |s| s.slips().len());
        self.sale_cursor = self.sale_cursor.filter(|i| *i < slips);
        jobs
    }

    fn today(&self) -> NaiveDate {
        business_date(&self.now)
    }

    fn load_journal(&self) -> Job {
        Job::LoadJournal {
            since: self.today().format("%Y-%m-%d").to_string(),
        }
    }

    fn key(&mut self, key: KeyEvent, jobs: &mut Vec<Job>) {
        if key.kind == KeyEventKind::Release {
            return;
        }
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        if ctrl && key.code == KeyCode::Char('c') {
            return self.ask_quit();
        }
        if key.code == KeyCode::F(9) {
            self.lang = self.lang.toggled();
            return;
        }
        if self.help {
            self.help = false;
            return;
        }
        if key.code == KeyCode::F(1) {
            self.help = true;
            return;
        }
        if let Some(question) = self.confirm.take() {
            return self.confirm_key(key, question, jobs);
        }
        if self.dialog.is_some() {
            return self.dialog_key(key, jobs);
        }
        match self.screen {
            Screen::Sale => self.sale_key(key, ctrl, jobs),
            Screen::Journal => self.journal_key(key, jobs),
            Screen::DayClose => self.day_key(key, jobs),
            Screen::Alerts => self.alerts_key(key, jobs),
        }
    }

    /// The clerk's answer to `question`; any other key leaves it up.
    fn confirm_key(&mut self, key: KeyEvent, question: Confirm, jobs: &mut Vec<Job>) {
        let yes = matches!(
            key.code,
            KeyCode::Enter | KeyCode::Char('y') | KeyCode::Char('Y')
        );
        let no = matches!(
            key.code,
            KeyCode::Esc | KeyCode::Char('n') | KeyCode::Char('N')
        );
        match question {
            Confirm::Tender { add, .. } if yes => self.take_tender(add),
            Confirm::Tender { add, .. } if no => self.notice = Some(Notice::TenderDeclined(add)),
            Confirm::Void { position, .. } if yes => {
                self.sale_cursor = None;
                self.submit(Event::Void(position), jobs);
            }
            Confirm::CancelSale { .. } if yes => {
                // Cash keyed and handed back goes to the core first, so the cancel record
                // (and the session log) says how much was handed back.
                let cash = std::mem::replace(&mut self.tender, Yen::ZERO);
                if cash > Yen::ZERO {
                    self.submit(Event::Tender(cash), jobs);
                }
                self.confirmed_change = None;
                self.sale_cursor = None;
                self.submit(Event::Cancel, jobs);
            }
            Confirm::Close { counted, .. } if yes => {
                self.input.clear();
                self.submit(Event::Close(counted), jobs);
            }
            Confirm::Void { .. } | Confirm::CancelSale { .. } if no => {
                self.notice = Some(Notice::KeptSale)
            }
            Confirm::Close { .. } if no => {}
            Confirm::Complete {
                total, tendered, ..
            } if yes => {
                self.confirmed_change = Some((total, tendered));
                self.complete(jobs);
            }
            Confirm::Complete { change, .. } if no => {
                self.notice = Some(Notice::ChangeNotConfirmed(change))
            }
            _ => self.confirm = Some(question),
        }
    }

    /// Add `add` to the keyed tender, asking first when the change would be large.
    fn add_tender(&mut self, add: Yen) {
        if !(self.sale_open() || self.busy()) {
            self.notice = Some(Notice::Ignored(Ignored::NoOpenSale, Yen::ZERO));
            return;
        }
        let Some(after) = self.tendered().checked_add(add) else {
            self.notice = Some(Notice::Ignored(Ignored::TenderOverflow, Yen::ZERO));
            return;
        };
        // Asked only once the total is known (a first slip still being checked has none).
        let change = self
            .register
            .open_sale()
            .and_then(|s| tender::change(s.total(), after));
        if tender::needs_confirm(change) {
            self.confirm = Some(Confirm::Tender {
                add,
                change: change.unwrap_or(Yen::ZERO),
            });
            return;
        }
        self.take_tender(add);
    }

    fn take_tender(&mut self, add: Yen) {
        // Taken after the question (or below its threshold): this total and tender need
        // no second question at completion.
        if let Some(sale) = self.register.open_sale()
            && let Some(after) = self.tendered().checked_add(add)
        {
            self.confirmed_change = Some((sale.total(), after));
        }
        match self.tender.checked_add(add) {
            Some(t) => {
                self.tender = t;
                self.notice = Some(Notice::Tendered(self.tendered()));
            }
            None => self.notice = Some(Notice::Ignored(Ignored::TenderOverflow, Yen::ZERO)),
        }
    }

    /// The Delete key: the keyed tender is cleared (the core's, after a failed commit, stays).
    fn clear_tender(&mut self) {
        self.tender = Yen::ZERO;
        self.confirmed_change = None;
        let fed = self.tendered();
        self.notice = Some(if fed > Yen::ZERO {
            Notice::TenderKept(fed)
        } else {
            Notice::TenderCleared
        });
    }

    fn ask_quit(&mut self) {
        if self.sale_open() || self.busy() {
            self.notice = Some(Notice::QuitWithSale);
        } else {
            self.quit = true;
        }
    }

    fn sale_key(&mut self, key: KeyEvent, ctrl: bool, jobs: &mut Vec<Job>) {
        match key.code {
            KeyCode::Enter => self.enter(jobs),
            // `docs/cli.md`: Esc clears what is being typed; with nothing typed, it asks
            // before it cancels the open sale.
            KeyCode::Esc => {
                if !self.input.is_empty() {
                    self.input.clear();
                } else if let Some(sale) = self.register.open_sale()
                    && !self.busy()
                {
                    self.confirm = Some(Confirm::CancelSale {
                        slips: sale.slips().len(),
                        total: sale.total(),
                        tendered: self.tendered(),
                    });
                }
            }
            KeyCode::Backspace => {
                self.input.pop();
            }
            KeyCode::Up | KeyCode::Down => self.move_cursor(key.code == KeyCode::Up),
            // Delete: voids the selected slip (asking first); with none selected, clears
            // the tender.
            KeyCode::Delete => match (self.sale_cursor, self.register.open_sale()) {
                (Some(i), Some(sale)) if !self.busy() && i < sale.slips().len() => {
                    self.confirm = Some(Confirm::Void {
                        position: i as u32 + 1,
                        amount: sale.slips()[i].amount(),
                    });
                }
                _ => self.clear_tender(),
            },
            KeyCode::F(n) if tender::note_for_key(n).is_some() => {
                if let Some(note) = tender::note_for_key(n) {
                    self.add_tender(note);
                }
            }
            KeyCode::F(2) => {
                self.dialog = Some(KeyInForm {
                    chain: self
                        .register
                        .station()
                        .store
                        .chain
                        .unwrap_or(Chain::FamilyMart),
                    payment_code: String::new(),
                    confirmation_number: String::new(),
                    field: 1,
                })
            }
            KeyCode::F(3) => {
                self.screen = Screen::Journal;
                self.selected = 0;
                jobs.push(self.load_journal());
            }
            KeyCode::F(4) => {
                if self.sale_open() || self.busy() {
                    self.notice = Some(Notice::SaleOpen);
                } else {
                    self.screen = Screen::DayClose;
                    self.day = None;
                    self.input.clear();
                    jobs.push(self.load_day());
                }
            }
            KeyCode::F(5) => jobs.push(Job::NextDemoScan),
            KeyCode::F(6) => jobs.push(Job::NextDemoKeyIn),
            // The alert list: a letter on an empty line, as `q` is (a scan never starts so).
            KeyCode::Char('a') | KeyCode::Char('A') if self.input.is_empty() && !ctrl => {
                self.screen = Screen::Alerts;
                self.alert_selected = 0;
                jobs.push(Job::LoadAlerts);
            }
            // A scanner sends GS (FNC1) as Ctrl+].
            // crossterm reads byte 0x1D as Ctrl+5 (legacy terminals) or Ctrl+].
            KeyCode::Char(']') | KeyCode::Char('5') if ctrl => self.type_char('\u{1d}'),
            KeyCode::Char('q') if self.input.is_empty() && !self.sale_open() && !self.busy() => {
                self.quit = true;
            }
            KeyCode::Char(c) if !ctrl && !c.is_control() => self.type_char(c),
            _ => {}
        }
    }

    /// ↑↓ on the sale screen: select a slip of the open sale (for a void).
    fn move_cursor(&mut self, up: bool) {
        let n = self.register.open_sale().map_or(0, |s| s.slips().len());
        if n == 0 {
            self.sale_cursor = None;
            return;
        }
        self.sale_cursor = Some(match (self.sale_cursor, up) {
            (None, true) => n - 1,
            (None, false) => 0,
            (Some(i), true) => i.saturating_sub(1),
            (Some(i), false) => (i + 1).min(n - 1),
        });
    }

    fn load_day(&self) -> Job {
        Job::LoadDay {
            at: self.now,
            float: self.float,
        }
    }

    fn type_char(&mut self, c: char) {
        if self.input.chars().count() >= INPUT_MAX_CHARS {
            self.notice = Some(Notice::InputTooLong);
        } else {
            self.input.push(c);
        }
    }

    /// Enter on the input line: a scan, a tender, or complete (`docs/cli.md`).
    fn enter(&mut self, jobs: &mut Vec<Job>) {
        let text = std::mem::take(&mut self.input);
        let text = text.trim();
        if text.is_empty() {
            // A second Enter while the first completes is the same press, not a new
            // `complete` (which would find no sale open).
            // (With inputs held after the commit, this Enter belongs to them: a new sale.)
            let completing = matches!(self.held.back(), Some((_, Event::Complete)))
                || (self.committing.is_some() && self.held.is_empty());
            if (self.sale_open() || self.busy()) && !completing {
                self.complete(jobs);
            }
            return;
        }
        self.line(text, jobs);
    }

    /// Complete the open sale with the keyed tender, unless the tender is short or its
    /// change of ¥10,000 or more was never confirmed for this total (then ask).
    fn complete(&mut self, jobs: &mut Vec<Job>) {
        if self.tender > Yen::ZERO {
            // While a slip is still being checked the total is not known, and neither is
            // the change. Cash under ¥10,000 cannot give ¥10,000 of change: the sale is
            // completed in turn, as typed ahead. More waits for the total (the clerk
            // presses Enter again once it shows).
            if self.busy() {
                if self.tendered() >= tender::CONFIRM_CHANGE {
                    self.notice = Some(Notice::WaitForTotal);
                    return;
                }
                let cash = std::mem::replace(&mut self.tender, Yen::ZERO);
                self.submit(Event::Tender(cash), jobs);
                self.confirmed_change = None;
                self.submit(Event::Complete, jobs);
                return;
            }
            if let Some(sale) = self.register.open_sale() {
                let (total, tendered) = (sale.total(), self.tendered());
                // Short of the total: said now, and the keyed cash stays keyed (the core,
                // given it, could not give it back).
                if let Some(short) = total.checked_sub(tendered).filter(|s| *s > Yen::ZERO) {
                    self.notice = Some(Notice::Ignored(Ignored::InsufficientTender, short));
                    return;
                }
                let change = tender::change(total, tendered);
                if tender::needs_confirm(change) && self.confirmed_change != Some((total, tendered))
                {
                    self.confirm = Some(Confirm::Complete {
                        total,
                        tendered,
                        change: change.unwrap_or(Yen::ZERO),
                    });
                    return;
                }
            }
            let cash = std::mem::replace(&mut self.tender, Yen::ZERO);
            self.submit(Event::Tender(cash), jobs);
        }
        self.confirmed_change = None;
        self.submit(Event::Complete, jobs);
    }

    /// A whole line of input (typed, scanned by a wedge, or pasted).
    fn line(&mut self, text: &str, jobs: &mut Vec<Job>) {
        let digits = text.bytes().all(|b| b.is_ascii_digit());
        let open = self.sale_open() || self.busy();
        // A barcode attempt (8 digits or more, an AIM prefix) is scanned, never cash.
        if open && digits && !tender::looks_like_barcode(text) {
            match text.parse::<u64>() {
                Ok(yen) if yen > 0 => self.add_tender(Yen::new(yen)),
                _ => self.notice = Some(Notice::ZeroTender),
            }
        } else {
            self.submit(Event::Scan(text.to_owned()), jobs);
        }
    }

    fn paste(&mut self, text: &str, jobs: &mut Vec<Job>) {
        if self.dialog.is_some() {
            // Into the field being typed: digits only.
            for c in text.chars().filter(char::is_ascii_digit) {
                self.dialog_char(c);
            }
            return;
        }
        if self.screen != Screen::Sale {
            return;
        }
        let mut lines = text.split(['\r', '\n']).filter(|l| !l.trim().is_empty());
        let mut used = 0;
        for l in lines.by_ref().take(PASTE_MAX_LINES) {
            used += 1;
            // What is already typed is the start of the first line.
            let mut whole = std::mem::take(&mut self.input);
            whole.extend(
                l.chars()
                    .filter(|c| !c.is_control() || *c == '\u{1d}')
                    .take(INPUT_MAX_CHARS),
            );
            let whole = whole.trim().to_owned();
            if !whole.is_empty() {
                self.line(&whole, jobs);
            }
        }
        let dropped = lines.count();
        if dropped > 0 {
            self.notice = Some(Notice::PasteTruncated(used + dropped));
        }
    }

    fn dialog_key(&mut self, key: KeyEvent, jobs: &mut Vec<Job>) {
        let Some(form) = self.dialog.as_mut() else {
            return;
        };
        match key.code {
            KeyCode::Esc => self.dialog = None,
            // The next demo voucher's numbers, into this dialog.
            KeyCode::F(6) => jobs.push(Job::NextDemoKeyIn),
            KeyCode::Tab | KeyCode::Down => form.field = (form.field + 1) % 3,
            KeyCode::BackTab | KeyCode::Up => form.field = (form.field + 2) % 3,
            KeyCode::Left | KeyCode::Right if form.field == 0 => {
                let i = Chain::ALL
                    .iter()
                    .position(|c| *c == form.chain)
                    .unwrap_or(0);
                let n = Chain::ALL.len();
                let i = if key.code == KeyCode::Left {
                    (i + n - 1) % n
                } else {
                    (i + 1) % n
                };
                form.chain = Chain::ALL[i];
            }
            KeyCode::Char(c @ '1'..='4') if form.field == 0 => {
                form.chain = Chain::ALL[(c as u8 - b'1') as usize];
                form.field = 1;
            }
            KeyCode::Backspace => match form.field {
                1 => {
                    form.payment_code.pop();
                }
                2 => {
                    form.confirmation_number.pop();
                }
                _ => {}
            },
            KeyCode::Enter => {
                if form.field < 2 && form.confirmation_number.is_empty() {
                    form.field += 1;
                    return;
                }
                let form = self.dialog.take().expect("open");
                self.submit(
                    Event::KeyIn {
                        chain: form.chain.as_str().to_owned(),
                        payment_code: form.payment_code,
                        confirmation_number: form.confirmation_number,
                    },
                    jobs,
                );
            }
            KeyCode::Char(c) => self.dialog_char(c),
            _ => {}
        }
    }

    fn dialog_char(&mut self, c: char) {
        let Some(form) = self.dialog.as_mut() else {
            return;
        };
        // The numbers are digits; hyphens as printed on some vouchers are dropped.
        if !c.is_ascii_digit() {
            return;
        }
        let field = match form.field {
            1 => &mut form.payment_code,
            2 => &mut form.confirmation_number,
            _ => return,
        };
        if field.len() < 20 {
            field.push(c);
        }
    }

    fn journal_key(&mut self, key: KeyEvent, jobs: &mut Vec<Job>) {
        match key.code {
            KeyCode::Esc | KeyCode::F(3) => self.screen = Screen::Sale,
            KeyCode::Up => self.selected = self.selected.saturating_sub(1),
            KeyCode::Down => {
                self.selected = (self.selected + 1).min(self.journal_rows.len().saturating_sub(1))
            }
            KeyCode::Enter | KeyCode::Char('r') | KeyCode::Char('R') => {
                if let Some(row) = self.journal_rows.get(self.selected) {
                    jobs.push(Job::Reprint(row.seq));
                }
            }
            KeyCode::Char('q') => self.ask_quit(),
            _ => {}
        }
    }

    /// The day close screen: the X report of the open day; the counted cash typed and
    /// Enter close it (asking first); X prints the reading. Once closed, the Z report:
    /// P prints it again (marked as a reprint).
    fn day_key(&mut self, key: KeyEvent, jobs: &mut Vec<Job>) {
        let closed = self.day.as_ref().is_some_and(|d| d.z.is_some());
        match key.code {
            KeyCode::Esc | KeyCode::F(4) => {
                self.input.clear();
                self.screen = Screen::Sale;
            }
            KeyCode::Char(c @ '0'..='9') if !closed && self.input.len() < 12 => {
                self.input.push(c);
            }
            KeyCode::Backspace => {
                self.input.pop();
            }
            KeyCode::Char('x') | KeyCode::Char('X') if !closed => {
                if let Some(report) = &self.day {
                    jobs.push(Job::PrintReport {
                        report: Box::new(report.clone()),
                        again: false,
                    });
                }
            }
            KeyCode::Char('p') | KeyCode::Char('P') if closed => {
                if let Some(report) = &self.day {
                    jobs.push(Job::PrintReport {
                        report: Box::new(report.clone()),
                        again: true,
                    });
                }
            }
            KeyCode::Enter if !closed => {
                let Some(report) = &self.day else {
                    return;
                };
                match self.input.parse::<u64>() {
                    Ok(counted) => {
                        self.confirm = Some(Confirm::Close {
                            date: report.business_date,
                            counted: Yen::new(counted),
                            expected: report.expected,
                        })
                    }
                    Err(_) => self.notice = Some(Notice::BadCount),
                }
            }
            KeyCode::Char('q') if self.input.is_empty() => self.ask_quit(),
            _ => {}
        }
    }

    /// The alert list: ↑↓ select, Enter acknowledges the selected slip, Esc goes back.
    fn alerts_key(&mut self, key: KeyEvent, jobs: &mut Vec<Job>) {
        match key.code {
            KeyCode::Esc | KeyCode::Char('a') | KeyCode::Char('A') => self.screen = Screen::Sale,
            KeyCode::Up => self.alert_selected = self.alert_selected.saturating_sub(1),
            KeyCode::Down => {
                self.alert_selected =
                    (self.alert_selected + 1).min(self.alerts.len().saturating_sub(1))
            }
            KeyCode::Enter => {
                if let Some(alert) = self.alerts.get(self.alert_selected) {
                    jobs.push(Job::Acknowledge {
                        sale_seq: alert.sale_seq,
                        idx: alert.idx,
                        at: self.now,
                    });
                    self.notice = Some(Notice::Acknowledged);
                }
            }
            KeyCode::Char('q') => self.ask_quit(),
            _ => {}
        }
    }

    /// An input for the core: fed now, or held until the core's pending answers are in.
    fn submit(&mut self, event: Event, jobs: &mut Vec<Job>) {
        if self.awaiting > 0 {
            if self.held.len() >= HELD_MAX {
                self.notice = Some(Notice::TooManyHeld);
            } else {
                self.held.push_back((self.now, event));
            }
            return;
        }
        self.feed_event(self.now, event, jobs);
    }

    fn feed_event(&mut self, at: DateTime<FixedOffset>, event: Event, jobs: &mut Vec<Job>) {
        // The session log is written first: it is what a replay will feed. A `complete`
        // that commits a sale is the exception: the journal worker logs it once the commit
        // succeeded (a failed commit reopens the sale and must not replay as one).
        let first = jobs.len();
        let complete = event == Event::Complete;
        // A close is logged by the journal worker once the journal answered (closed, or
        // refused as already closed): one that failed for the disk must not replay.
        let close = matches!(event, Event::Close(_));
        // Digits typed during a sale and read as a barcode: its refusal says it was no cash.
        let not_cash = self.sale_open()
            && matches!(&event, Event::Scan(f)
                if f.bytes().all(|b| b.is_ascii_digit()) && tender::looks_like_barcode(f));
        if !complete && !close {
            jobs.push(Job::Record {
                at,
                event: event.clone(),
            });
        }
        let msg = event.into_msg(at);
        self.feed(msg, jobs);
        if not_cash && let Some(Notice::Rejected(r, detail)) = &self.notice {
            self.notice = Some(Notice::NotCash(*r, detail.clone()));
        }
        if complete
            && !jobs[first..]
                .iter()
                .any(|j| matches!(j, Job::Commit { .. }))
        {
            jobs.insert(
                first,
                Job::Record {
                    at,
                    event: Event::Complete,
                },
            );
        }
    }

    /// Run one message through the core and carry out what it says.
    fn feed(&mut self, msg: Msg, jobs: &mut Vec<Job>) {
        for effect in self.register.update(msg) {
            match effect {
                Effect::CheckPaid(slip) => {
                    self.awaiting += 1;
                    jobs.push(Job::CheckPaid(slip));
                }
                Effect::Lookup { at, reference } => {
                    self.awaiting += 1;
                    self.looking_up = true;
                    jobs.push(Job::Lookup { at, reference });
                }
                Effect::Rejected(r) => self.notice = Some(Notice::Rejected(r.reason, r.detail)),
                Effect::Ignored(i) => {
                    let short = self
                        .register
                        .open_sale()
                        .and_then(|s| s.total().checked_sub(s.tendered()))
                        .unwrap_or(Yen::ZERO);
                    self.notice = Some(Notice::Ignored(i, short));
                }
                Effect::SlipAdded { slip, .. } => {
                    self.completed = None;
                    self.notice = Some(Notice::SlipAdded(slip.amount()));
                }
                Effect::Tendered { tendered } => self.notice = Some(Notice::Tendered(tendered)),
                Effect::CommitSale { sale, voided } => {
                    self.awaiting += 1;
                    self.committing = Some(sale.clone());
                    self.sale_cursor = None;
                    jobs.push(Job::Commit { sale, voided });
                }
                Effect::SlipVoided { position, slip, .. } => {
                    self.notice = Some(Notice::Voided(position, slip.amount()));
                }
                Effect::CloseDay(request) => jobs.push(Job::CloseDay {
                    request,
                    float: self.float,
                }),
                Effect::SaleCompleted { seq, change } => {
                    if let Some(sale) = self.committing.take() {
                        self.completed = Some(Completed {
                            seq,
                            total: sale.total,
                            tendered: sale.tendered,
                            change,
                        });
                    }
                    if let JournalState::Ok(n) = &mut self.status.journal {
                        *n += 1;
                    }
                    self.notice = Some(Notice::Completed(seq, change));
                }
                Effect::OpenDrawer => jobs.push(Job::OpenDrawer),
                Effect::PrintReceipt { .. } => jobs.push(Job::Print),
                Effect::WakeSync => jobs.push(Job::WakeSync),
                Effect::CommitFailed { reason } => {
                    self.committing = None;
                    self.notice = Some(Notice::CommitFailed(reason));
                }
                Effect::SaleCancelled(cancelled) => {
                    self.completed = None;
                    self.sale_cursor = None;
                    self.notice = Some(Notice::Cancelled);
                    jobs.push(Job::RecordCancel(cancelled));
                }
                Effect::SaleAbandoned => {}
            }
        }
    }

    fn answer(&mut self, answer: Answer, jobs: &mut Vec<Job>) {
        match answer {
            Answer::Core(msg) => {
                if matches!(msg, Msg::LookedUp { .. }) {
                    self.looking_up = false;
                }
                self.awaiting = self.awaiting.saturating_sub(1);
                self.feed(msg, jobs);
                // Feed what waited, until the core asks again.
                while self.awaiting == 0 {
                    let Some((at, event)) = self.held.pop_front() else {
                        break;
                    };
                    self.feed_event(at, event, jobs);
                }
            }
            Answer::Printed { seq } => {
                if matches!(self.status.printer, PrinterState::Held(_)) {
                    self.status.printer = self.printer_idle.clone();
                    self.notice = Some(Notice::Printed(seq));
                }
            }
            Answer::PrintHeld { seq, why } => {
                // Retried every few seconds: say it once, not over every later notice.
                let held = PrinterState::Held(why.clone());
                if self.status.printer != held {
                    self.status.printer = held;
                    self.notice = Some(Notice::PrintHeld(seq, why));
                }
            }
            Answer::PrintQueue(n) => self.status.print_queue = n,
            Answer::Journal(rows) => {
                self.journal_rows = rows;
                self.selected = self.selected.min(self.journal_rows.len().saturating_sub(1));
            }
            Answer::Reprinted { seq, printed } => {
                self.notice = Some(Notice::Reprinted(seq, printed));
            }
            Answer::Day(report) => {
                // A reading arriving after the day was closed on this screen is stale.
                if self.screen == Screen::DayClose
                    && self.day.as_ref().is_none_or(|d| d.z.is_none())
                {
                    self.day = Some(*report);
                }
            }
            Answer::DayClosed(Ok(report)) => {
                self.notice = Some(Notice::DayClosed(
                    report.z.unwrap_or_default(),
                    report.business_date,
                    None,
                ));
                jobs.push(Job::PrintReport {
                    report: report.clone(),
                    again: false,
                });
                self.screen = Screen::DayClose;
                self.day = Some(*report);
            }
            Answer::DayClosed(Err(refused)) => {
                self.notice = Some(Notice::CloseRefused(refused));
                if self.screen == Screen::DayClose {
                    jobs.push(self.load_day());
                }
            }
            Answer::ReportPrinted(printed) => match (&mut self.notice, printed) {
                // After a close, its notice (the Z number) says where the report went.
                (Some(Notice::DayClosed(_, _, path @ None)), Ok(p)) => *path = Some(p),
                (_, printed) => self.notice = Some(Notice::ReportPrinted(printed)),
            },
            Answer::Alerts(list, count) => {
                self.alerts = list;
                self.alert_count = count;
                self.alert_selected = self.alert_selected.min(self.alerts.len().saturating_sub(1));
            }
            Answer::DemoScan(Some((frame, url))) => {
                self.demo_url = Some(url);
                self.submit(Event::Scan(frame), jobs)
            }
            Answer::DemoScan(None) | Answer::DemoKeyIn(None) => self.notice = Some(Notice::NoDemo),
            Answer::DemoKeyIn(Some((chain, payment_code, confirmation_number, url))) => {
                if self.screen == Screen::Sale {
                    self.demo_url = Some(url);
                    self.dialog = Some(KeyInForm {
                        chain,
                        payment_code,
                        confirmation_number,
                        field: 2,
                    });
                }
            }
            Answer::Link(status) => {
                let link = LinkState {
                    online: status.online,
                    pending: Yen::new(status.outbox.pending_yen),
                    oldest_pending_at: status
                        .outbox
                        .oldest_pending_at
                        .as_deref()
                        .and_then(|t| DateTime::parse_from_rfc3339(t).ok()),
                };
                // Not a clerk's input: never held, never recorded, never a notice. While a
                // commit is under way the core ignores it; the next tick brings it again.
                let _ = self.register.update(Msg::Link(link));
                self.status.link = Some(status);
            }
            Answer::JournalChecked(Ok(n)) => self.status.journal = JournalState::Ok(n),
            Answer::JournalChecked(Err(e)) => {
                self.status.journal = JournalState::Broken(e.clone());
                self.notice = Some(Notice::Trouble(e));
            }
            Answer::Trouble(e) => self.notice = Some(Notice::Trouble(e)),
        }
    }
}
