//! The register driven inline, for tests and the benchmark: the same `App`, the same
//! `Services` against a real journal, virtual printer and session log, and the same
//! `view::draw`, onto ratatui's `TestBackend`. Every job is run at once, in order, and its
//! answers fed back until nothing is left, so a test reads the screen a clerk would see
//! once the register has settled. The clock is the harness's own and moves only when told.

use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};

use chrono::{DateTime, FixedOffset};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use konbini_journal::Journal;
use konbini_pos::replay::ReceiptDir;
use konbini_register::{OfflineLimits, Register, Station};

use konbini_pos::ui::app::{App, Input, Job, JournalState, PrinterState, ScannerState, Status};
use konbini_pos::ui::record::Recorder;
use konbini_pos::ui::text::Lang;
use konbini_pos::ui::worker::{Demo, NetLink, Printer, Services};

/// A register on a test terminal.
pub struct Harness {
    /// The screen's state.
    pub app: App,
    /// The real parts.
    pub services: Arc<Services>,
    /// The test terminal.
    pub terminal: Terminal<TestBackend>,
    /// The harness's clock.
    pub now: DateTime<FixedOffset>,
    /// Jobs wait in `pending` until [`Harness::settle`], as slow workers would make them.
    pub defer: bool,
    pending: std::collections::VecDeque<Job>,
}

impl Harness {
    /// A register at `station` with its journal, receipts and session log in `dir`
    /// (`konbini.db`, `receipts/`, `session.jsonl`), on a `width` x `height` terminal.
    pub fn open(
        dir: &Path,
        station: Station,
        now: DateTime<FixedOffset>,
        size: (u16, u16),
    ) -> anyhow::Result<Harness> {
        let journal = Journal::open(&dir.join("konbini.db"))?;
        Harness::with_journal(journal, dir, station, now, size)
    }

    /// The same on a journal already open (anywhere), with receipts and the session log
    /// in `dir`.
    pub fn with_journal(
        journal: Journal,
        dir: &Path,
        station: Station,
        now: DateTime<FixedOffset>,
        (width, height): (u16, u16),
    ) -> anyhow::Result<Harness> {
        let sales = journal.head()?.0;
        let receipts = dir.join("receipts");
        let receipt_dir = ReceiptDir::create(&receipts)?;
        let services = Services {
            journal: Arc::new(Mutex::new(journal)),
            printer: Printer::Virtual(receipt_dir.clone()),
            reports: Some(receipt_dir),
            recorder: Some(Mutex::new(Recorder::create(
                &dir.join("session.jsonl"),
                &station,
            )?)),
            net: OnceLock::new(),
            demo: Mutex::new(Demo::default()),
            station: station.clone(),
            broken: Default::default(),
            print_floor: Default::default(),
            auto_print: true.into(),
        };
        let status = Status {
            link: None,
            scanner: ScannerState::Keyboard,
            printer: PrinterState::Virtual(receipts.display().to_string()),
            print_queue: 0,
            journal: JournalState::Ok(sales),
        };
        let register = Register::new(station).with_limits(OfflineLimits::default());
        Ok(Harness::assemble(
            App::new(register, Lang::Ja, status, now),
            Arc::new(services),
            Terminal::new(TestBackend::new(width, height))?,
            now,
        ))
    }

    /// A harness from parts made elsewhere (the benchmark's own journal).
    pub fn assemble(
        app: App,
        services: Arc<Services>,
        terminal: Terminal<TestBackend>,
        now: DateTime<FixedOffset>,
    ) -> Harness {
        Harness {
            app,
            services,
            terminal,
            now,
            defer: false,
            pending: Default::default(),
        }
    }

    /// Use this payment network for look-ups (and demo vouchers, if it is embedded).
    pub fn with_network(self, net: NetLink) -> Harness {
        let _ = self.services.net.set(net);
        self
    }

    /// Feed one input and run every job it leads to.
    pub fn input(&mut self, input: Input) {
        let jobs = self.app.handle(input, self.now);
        self.run(jobs);
    }

    fn run(&mut self, jobs: Vec<Job>) {
        self.pending.extend(jobs);
        if !self.defer {
            self.settle();
        }
    }

    /// Run every waiting job, and the jobs their answers lead to, until none is left.
    pub fn settle(&mut self) {
        while let Some(job) = self.pending.pop_front() {
            for answer in self.services.run(job) {
                let more = self.app.handle(Input::Answer(answer), self.now);
                self.pending.extend(more);
            }
        }
    }

    /// Jobs waiting (with `defer`).
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Press a key.
    pub fn key(&mut self, code: KeyCode) {
        self.input(Input::Key(KeyEvent::new(code, KeyModifiers::NONE)));
    }

    /// Press a key with modifiers.
    pub fn key_with(&mut self, code: KeyCode, modifiers: KeyModifiers) {
        self.input(Input::Key(KeyEvent::new(code, modifiers)));
    }

    /// Type `text` (no Enter).
    pub fn type_text(&mut self, text: &str) {
        for c in text.chars() {
            self.key(KeyCode::Char(c));
        }
    }

    /// Type `text`, then Enter.
    pub fn line(&mut self, text: &str) {
        self.type_text(text);
        self.key(KeyCode::Enter);
    }

    /// Move the clock.
    pub fn advance(&mut self, by: chrono::Duration) {
        self.now += by;
    }

    /// Draw the screen; the buffer.
    pub fn draw(&mut self) -> &Buffer {
        let app = &self.app;
        let frame = self
            .terminal
            .draw(|f| konbini_pos::ui::view::draw(f, app))
            .expect("a test backend draws");
        frame.buffer
    }

    /// The screen as text, one line per row (trailing spaces removed).
    pub fn screen(&mut self) -> String {
        let buffer = self.draw().clone();
        let mut out = String::new();
        for y in 0..buffer.area.height {
            let mut line = String::new();
            let mut x = 0;
            while x < buffer.area.width {
                let symbol = buffer[(x, y)].symbol();
                line.push_str(symbol);
                // A wide character covers the next cell too.
                x += (unicode_width::UnicodeWidthStr::width(symbol) as u16).max(1);
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}
