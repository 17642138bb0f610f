//! The firmware loop with an in-test serial port and mechanism: jobs print, DLE EOT is
//! answered from the sensors, paper out stops printing and ESC @ with paper resumes it.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::convert::Infallible;
use std::rc::Rc;

use konbini_firmware::escpos::{PrinterStatus, StatusKind};
use konbini_firmware::firmware_loop::{Mechanism, Printer, Sensors};

/// A port that hands out its input a few bytes at a time and keeps what is written.
#[derive(Clone, Default)]
struct Port {
    input: Rc<RefCell<VecDeque<u8>>>,
    output: Rc<RefCell<Vec<u8>>>,
}

impl Port {
    fn send(&self, bytes: &[u8]) {
        self.input.borrow_mut().extend(bytes);
    }
    fn replies(&self) -> Vec<u8> {
        std::mem::take(&mut self.output.borrow_mut())
    }
}

impl embedded_io::ErrorType for Port {
    type Error = Infallible;
}

impl embedded_io::Read for Port {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Infallible> {
        let mut input = self.input.borrow_mut();
        let n = input.len().min(buf.len()).min(7);
        for (slot, b) in buf.iter_mut().zip(input.drain(..n)) {
            *slot = b;
        }
        Ok(n)
    }
}

impl embedded_io::Write for Port {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Infallible> {
        self.output.borrow_mut().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> Result<(), Infallible> {
        Ok(())
    }
}

#[derive(Default)]
struct MechState {
    lines: usize,
    black_lines: usize,
    fed: usize,
    cuts: usize,
    kicks: Vec<(u8, u16, u16)>,
    rests: usize,
    sensors: Sensors,
    /// Dot lines left on the roll.
    paper_left: Option<usize>,
}

#[derive(Clone, Default)]
struct Mech(Rc<RefCell<MechState>>);

#[derive(Debug, PartialEq)]
struct PaperOut;

impl Mechanism for Mech {
    type Error = PaperOut;
    fn print_line(&mut self, dots: &[u8]) -> Result<(), PaperOut> {
        let mut s = self.0.borrow_mut();
        if s.sensors.paper_end {
            return Err(PaperOut);
        }
        if let Some(left) = s.paper_left.as_mut() {
            if *left == 0 {
                s.sensors.paper_end = true;
                return Err(PaperOut);
            }
            *left -= 1;
        }
        s.lines += 1;
        if dots.iter().any(|&b| b != 0) {
            s.black_lines += 1;
        }
        Ok(())
    }
    fn feed(&mut self, dots: u16) -> Result<(), PaperOut> {
        self.0.borrow_mut().fed += usize::from(dots);
        Ok(())
    }
    fn cut(&mut self, _partial: bool) -> Result<(), PaperOut> {
        self.0.borrow_mut().cuts += 1;
        Ok(())
    }
    fn kick_drawer(&mut self, pin: u8, on_ms: u16, off_ms: u16) -> Result<(), PaperOut> {
        self.0.borrow_mut().kicks.push((pin, on_ms, off_ms));
        Ok(())
    }
    fn rest(&mut self) -> Result<(), PaperOut> {
        self.0.borrow_mut().rests += 1;
        Ok(())
    }
    fn sensors(&mut self) -> Sensors {
        self.0.borrow().sensors
    }
}

fn printer(mech: &Mech) -> (Printer<Port, Mech>, Port) {
    let port = Port::default();
    (Printer::new(port.clone(), mech.clone(), 384), port)
}

#[test]
fn a_job_prints_on_the_mechanism_and_the_head_rests_after() {
    let mech = Mech::default();
    let (mut p, port) = printer(&mech);
    port.send(b"\x1b@Hello\n\x1bp\x00\x19\xfa\x1dV\x42\x00");
    p.run().unwrap();
    let s = mech.0.borrow();
    assert_eq!(s.lines, 24);
    assert!(s.black_lines > 10);
    assert_eq!(s.fed, 6);
    assert_eq!(s.cuts, 1);
    assert_eq!(s.kicks, [(0, 50, 500)]);
    assert!(s.rests >= 1);
    assert!(port.replies().is_empty(), "nothing asked, nothing answered");
}

#[test]
fn dle_eot_is_answered_from_the_sensors() {
    let mech = Mech::default();
    mech.0.borrow_mut().sensors = Sensors {
        paper_near_end: true,
        drawer_pin_high: true,
        ..Sensors::default()
    };
    let (mut p, port) = printer(&mech);
    port.send(b"\x10\x04\x01\x10\x04\x04\x10\x04\x02\x10\x04\x03\x1dr\x01");
    p.run().unwrap();
    let out = port.replies();
    assert_eq!(out.len(), 5);
    let mut status = PrinterStatus::default();
    status.apply(StatusKind::Printer, out[0]).unwrap();
    status.apply(StatusKind::Paper, out[1]).unwrap();
    status.apply(StatusKind::Offline, out[2]).unwrap();
    status.apply(StatusKind::Error, out[3]).unwrap();
    assert_eq!(
        status,
        PrinterStatus {
            drawer_pin_high: true,
            paper_near_end: true,
            ..PrinterStatus::default()
        }
    );
    assert_eq!(out[4], 0x03, "GS r 1: near end");
}

#[test]
fn paper_out_stops_printing_until_paper_is_back_and_a_job_starts() {
    let mech = Mech::default();
    mech.0.borrow_mut().paper_left = Some(40);
    let (mut p, port) = printer(&mech);
    // The roll ends in the second line; then the host asks why.
    port.send(b"\x1b@one\ntwo\nthree\n\x10\x04\x02\x10\x04\x04\x10\x04\x01");
    p.run().unwrap();
    assert_eq!(
        mech.0.borrow().lines,
        40,
        "nothing heated after the roll ended"
    );
    let out = port.replies();
    let mut status = PrinterStatus::default();
    status.apply(StatusKind::Offline, out[0]).unwrap();
    status.apply(StatusKind::Paper, out[1]).unwrap();
    status.apply(StatusKind::Printer, out[2]).unwrap();
    assert!(status.paper_end && status.offline);

    // ESC @ while the paper is still out: still stopped, still answering.
    port.send(b"\x1b@again\n\x10\x04\x02");
    p.run().unwrap();
    assert_eq!(mech.0.borrow().lines, 40);
    assert_eq!(port.replies(), [0x12 | 0x20]);

    // Paper back: data before ESC @ is still dropped; the resent job prints whole.
    {
        let mut s = mech.0.borrow_mut();
        s.sensors.paper_end = false;
        s.paper_left = None;
        s.lines = 0;
    }
    port.send(b"tail of the old job\n\x1b@one\ntwo\n\x10\x04\x02");
    p.run().unwrap();
    assert_eq!(mech.0.borrow().lines, 48);
    assert_eq!(port.replies(), [0x12], "online, no cause");
}
