//! `konbini printer-sim`: a virtual serial ESC/POS printer on a pseudo-terminal. The
//! firmware loop itself (`konbini_firmware::firmware_loop::Printer`: decoder, raster
//! engine, DLE EOT / GS r answered from the sensors, stopped by paper end) runs over the
//! pty's far end, on a simulated mechanism that keeps the paper; each piece of paper cut
//! off becomes `job-NNNN.png` and `job-NNNN.txt` in the output directory.
//!
//! It owns the simulated mechanism (paper, paper-end switch, the job files it writes);
//! it never interprets ESC/POS (the firmware does), never stops on what a client sends
//! (a sheet too long for memory is written out and a new one started), and never leaves
//! half a file (temporary file, then rename).
//!
//! The paper-end switch: `--paper-out` starts without paper; `--paper-out-file PATH` says
//! "no paper" for as long as PATH exists (`touch` it to pull the paper, `rm` it to load).
//! Paper pulled in the middle of a job ends its sheet as `job-NNNN-paper-end.png`: what a
//! real printer leaves hanging out of its slot.

use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use konbini_firmware::firmware_loop::{Mechanism, Printer, Sensors};

use super::virtual_printer::{PaperError, Sheet};
use super::write_whole;
use crate::scanner::sim::VirtualPort;

/// How long a read waits before it looks at the stop flag again.
const STOP_POLL: Duration = Duration::from_millis(200);

/// What the simulator is told.
#[derive(Debug, Clone)]
pub struct SimOptions {
    /// Where job pictures and transcripts go (created if missing).
    pub out_dir: PathBuf,
    /// Paper width in dots.
    pub dots: u16,
    /// Start with the paper out.
    pub paper_out: bool,
    /// No paper while this file exists.
    pub paper_out_file: Option<PathBuf>,
}

/// The pty's far end as the firmware's serial port: reads block until a byte comes or
/// `stop` is set (then the port "ends": 0 bytes).
struct PtySerial {
    port: VirtualPort,
    stop: Arc<AtomicBool>,
}

impl embedded_io::ErrorType for PtySerial {
    type Error = std::io::Error;
}

impl embedded_io::Read for PtySerial {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, std::io::Error> {
        if buf.is_empty() {
            return Ok(0);
        }
        let file = self.port.far_end();
        loop {
            if self.stop.load(Ordering::Relaxed) {
                return Ok(0);
            }
            let mut pfd = libc::pollfd {
                fd: file.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: poll on one pollfd that lives across the call, on a descriptor we own.
            let ready = unsafe { libc::poll(&mut pfd, 1, STOP_POLL.as_millis() as libc::c_int) };
            if ready < 0 {
                let e = std::io::Error::last_os_error();
                if e.kind() == std::io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            if ready == 0 {
                continue;
            }
            match file.read(buf) {
                Ok(0) => continue,
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                // EIO: no program has the device open (we hold it, so only transiently).
                Err(e) if e.raw_os_error() == Some(libc::EIO) => {
                    std::thread::sleep(STOP_POLL);
                    continue;
                }
                Err(e) => return Err(e),
            }
        }
    }
}

impl embedded_io::Write for PtySerial {
    fn write(&mut self, buf: &[u8]) -> Result<usize, std::io::Error> {
        self.port.far_end().write(buf)
    }
    fn flush(&mut self) -> Result<(), std::io::Error> {
        self.port.far_end().flush()
    }
}

/// The simulated mechanism: the paper (a [`Sheet`]), the paper-end switch, the drawer,
/// and the job files.
struct SimMechanism {
    sheet: Sheet,
    out_dir: PathBuf,
    next_job: u32,
    paper_out: bool,
    paper_out_file: Option<PathBuf>,
    /// Jobs written, and writes that failed.
    written: u32,
    failed: u32,
}

impl SimMechanism {
    fn paper_end(&self) -> bool {
        self.paper_out || self.paper_out_file.as_deref().is_some_and(Path::exists)
    }

    fn check_paper(&mut self) -> Result<(), PaperError> {
        if self.paper_end() {
            if !self.sheet.is_empty() {
                self.write_job("-paper-end");
            }
            return Err(PaperError::PaperOut);
        }
        Ok(())
    }

    fn push(&mut self, dots: &[u8]) -> Result<(), PaperError> {
        if self.sheet.push_row(dots) == Err(PaperError::TooLong) {
            eprintln!("printer-sim: a sheet reached its length limit; starting a new one");
            self.write_job("-continued");
            self.sheet.push_row(dots)?;
        }
        Ok(())
    }

    /// Write the sheet as the next job's PNG and TXT and start a new sheet.
    fn write_job(&mut self, suffix: &str) {
        let fresh = Sheet::new(self.sheet.dots());
        let sheet = std::mem::replace(&mut self.sheet, fresh);
        let name = format!("job-{:04}{suffix}", self.next_job);
        self.next_job += 1;
        let png = self.out_dir.join(format!("{name}.png"));
        let txt = self.out_dir.join(format!("{name}.txt"));
        let result = sheet
            .png_bytes()
            .map_err(std::io::Error::other)
            .and_then(|bytes| write_whole(&png, &bytes))
            .and_then(|()| write_whole(&txt, sheet.transcript().as_bytes()));
        match result {
            Ok(()) => {
                self.written += 1;
                println!(
                    "{name}: {} ({} dot lines, {} text lines)",
                    png.display(),
                    sheet.dot_lines(),
                    sheet.transcript().lines().count()
                );
                let _ = std::io::stdout().flush();
            }
            Err(e) => {
                self.failed += 1;
                eprintln!("printer-sim: cannot write {}: {e}", png.display());
            }
        }
    }
}

impl Mechanism for SimMechanism {
    type Error = PaperError;

    fn print_line(&mut self, dots: &[u8]) -> Result<(), PaperError> {
        self.check_paper()?;
        self.push(dots)
    }

    fn feed(&mut self, dots: u16) -> Result<(), PaperError> {
        self.check_paper()?;
        for _ in 0..dots {
            self.push(&[])?;
        }
        Ok(())
    }

    fn cut(&mut self, _partial: bool) -> Result<(), PaperError> {
        self.check_paper()?;
        self.write_job("");
        Ok(())
    }

    fn kick_drawer(&mut self, pin: u8, on_ms: u16, off_ms: u16) -> Result<(), PaperError> {
        println!(
            "drawer kick: pin {}, {on_ms} ms on, {off_ms} ms off",
            if pin == 1 { 5 } else { 2 }
        );
        let _ = std::io::stdout().flush();
        Ok(())
    }

    fn rest(&mut self) -> Result<(), PaperError> {
        Ok(())
    }

    fn sensors(&mut self) -> Sensors {
        Sensors {
            paper_end: self.paper_end(),
            ..Sensors::default()
        }
    }

    fn text_line(&mut self, text: &str) -> Result<(), PaperError> {
        if self.sheet.push_text(text) == Err(PaperError::TooLong) {
            self.write_job("-continued");
            self.sheet.push_text(text)?;
        }
        Ok(())
    }
}

/// The number after the last `job-NNNN` in `dir`, so a restarted simulator never writes
/// over earlier jobs.
fn next_job_number(dir: &Path) -> u32 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| {
                    let name = e.file_name().into_string().ok()?;
                    name.strip_prefix("job-")?.get(..4)?.parse::<u32>().ok()
                })
                .max()
                .map_or(1, |n| n + 1)
        })
        .unwrap_or(1)
}

/// A running simulator's device.
pub struct Sim {
    printer: Printer<PtySerial, SimMechanism>,
    path: PathBuf,
}

impl Sim {
    /// Open the pseudo-terminal and the output directory.
    pub fn open(opts: &SimOptions, stop: Arc<AtomicBool>) -> std::io::Result<Sim> {
        std::fs::create_dir_all(&opts.out_dir)?;
        let port = VirtualPort::open()?;
        let path = port.path().to_owned();
        let dots = opts.dots;
        let mechanism = SimMechanism {
            sheet: Sheet::new((dots / 8) * 8),
            next_job: next_job_number(&opts.out_dir),
            out_dir: opts.out_dir.clone(),
            paper_out: opts.paper_out,
            paper_out_file: opts.paper_out_file.clone(),
            written: 0,
            failed: 0,
        };
        Ok(Sim {
            printer: Printer::new(PtySerial { port, stop }, mechanism, dots),
            path,
        })
    }

    /// The device programs print to (`/dev/pts/N`).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Point `link` at the device, atomically (as the scanner simulator does).
    pub fn link(&self, link: &Path) -> std::io::Result<()> {
        crate::scanner::sim::point_link(&self.path, link)
    }

    /// Serve until `stop` is set; then write what is left on the paper (a job without a
    /// cut) as a last job. Returns (jobs written, writes failed).
    pub fn run(self) -> std::io::Result<(u32, u32)> {
        let mut printer = self.printer;
        let result = printer.run();
        let (_serial, mut mechanism) = printer.release();
        if !mechanism.sheet.is_empty() {
            mechanism.write_job("-uncut");
        }
        match result {
            Ok(()) => Ok((mechanism.written, mechanism.failed)),
            Err(konbini_firmware::firmware_loop::Error::Serial(e)) => Err(e),
            // Paper end stops printing inside the loop; any other paper error is a bug.
            Err(konbini_firmware::firmware_loop::Error::Mechanism(e)) => {
                Err(std::io::Error::other(e))
            }
        }
    }
}
