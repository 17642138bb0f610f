//! The firmware loop: bytes in from a serial port (`embedded_io::Read`), through the
//! decoder and the raster engine onto the print mechanism (the thermal head, the cutter,
//! the drawer driver), and DLE EOT / GS r status answered on the same port
//! (`embedded_io::Write`) from the mechanism's real sensor state.
//!
//! Paper out: when the mechanism fails and its sensor says the paper has ended, the
//! printer goes offline ("printing stopped by paper end" in DLE EOT 2) and drops what it
//! is sent to print until paper is back and a job starts again with ESC @; a host that
//! polls DLE EOT resends the job then. Status requests are answered all the while.
//!
//! It owns the decoder, the engine and the status it reports; it never allocates, never
//! panics on any input, and never heats the head with paper out (the mechanism's driver
//! switches head power off; this loop stops sending it lines).
//!
//! Not done: DLE EOT inside a command's payload (raster image data) is taken as payload,
//! as the decoder streams it; a real printer answers it there too. Flow control (a full
//! receive buffer) is the serial driver's.

use embedded_io::{Read, Write};

use crate::decoder::{Cmd, Decoder, Event};
use crate::escpos::StatusKind;
use crate::head::{self, ThermalHead};
use crate::raster::{Engine, Paper};

/// What the sensors say.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sensors {
    /// No paper in front of the head.
    pub paper_end: bool,
    /// The roll is nearly used up.
    pub paper_near_end: bool,
    /// The cover is open.
    pub cover_open: bool,
    /// Drawer-kick connector pin 3 reads high.
    pub drawer_pin_high: bool,
}

/// The print mechanism: head, motor, cutter, drawer driver and sensors.
pub trait Mechanism {
    /// Why the mechanism failed.
    type Error;
    /// Burn one dot line and feed one dot.
    fn print_line(&mut self, dots: &[u8]) -> Result<(), Self::Error>;
    /// Feed `dots` dot lines.
    fn feed(&mut self, dots: u16) -> Result<(), Self::Error>;
    /// Cut the paper.
    fn cut(&mut self, partial: bool) -> Result<(), Self::Error>;
    /// Pulse the drawer-kick connector (`pin` 0: pin 2, 1: pin 5).
    fn kick_drawer(&mut self, pin: u8, on_ms: u16, off_ms: u16) -> Result<(), Self::Error>;
    /// Head power and motor off, between jobs.
    fn rest(&mut self) -> Result<(), Self::Error>;
    /// Read the sensors.
    fn sensors(&mut self) -> Sensors;
    /// The text of the line just printed (UTF-8). A real mechanism has no use for it (the
    /// default drops it); a simulated one keeps it as the job's transcript.
    fn text_line(&mut self, _text: &str) -> Result<(), Self::Error> {
        Ok(())
    }
}

/// A mechanism that is only a thermal head: cuts feed nothing and cut nothing, the drawer
/// is not wired, the cover is not sensed; the paper sensor is the head's.
pub struct HeadOnly<T>(pub T);

impl<SPI, P, I, D, const N: usize, PinE> Mechanism for HeadOnly<ThermalHead<SPI, P, I, D, N>>
where
    SPI: embedded_hal::spi::SpiDevice,
    P: embedded_hal::digital::OutputPin<Error = PinE>,
    I: embedded_hal::digital::InputPin<Error = PinE>,
    D: embedded_hal::delay::DelayNs,
{
    type Error = head::Error<SPI::Error, PinE>;
    fn print_line(&mut self, dots: &[u8]) -> Result<(), Self::Error> {
        self.0.print_line(dots)
    }
    fn feed(&mut self, dots: u16) -> Result<(), Self::Error> {
        self.0.feed(dots)
    }
    fn cut(&mut self, _partial: bool) -> Result<(), Self::Error> {
        Ok(())
    }
    fn kick_drawer(&mut self, _pin: u8, _on_ms: u16, _off_ms: u16) -> Result<(), Self::Error> {
        Ok(())
    }
    fn rest(&mut self) -> Result<(), Self::Error> {
        self.0.rest()
    }
    fn sensors(&mut self) -> Sensors {
        Sensors {
            // A sensor that cannot be read counts as no paper: never heat blind.
            paper_end: !self.0.paper_present().unwrap_or(false),
            ..Sensors::default()
        }
    }
}

/// What stopped the loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error<SerialE, MechE> {
    /// The serial port failed.
    Serial(SerialE),
    /// The mechanism failed with paper present (a real fault).
    Mechanism(MechE),
}

/// The printer: serial port, mechanism, decoder, engine.
pub struct Printer<S, M> {
    serial: S,
    mechanism: M,
    decoder: Decoder,
    engine: Engine,
    /// Printing stopped by paper end, until paper is back and ESC @ starts a job.
    stopped: bool,
}

/// The engine's paper is the mechanism (the transcript goes to `Mechanism::text_line`,
/// which drops it on a real printer).
struct OnMechanism<'a, M>(&'a mut M);

impl<M: Mechanism> Paper for OnMechanism<'_, M> {
    type Error = M::Error;
    fn dot_line(&mut self, dots: &[u8]) -> Result<(), M::Error> {
        self.0.print_line(dots)
    }
    fn feed(&mut self, dots: u16) -> Result<(), M::Error> {
        self.0.feed(dots)
    }
    fn text_line(&mut self, text: &str) -> Result<(), M::Error> {
        self.0.text_line(text)
    }
    fn cut(&mut self, partial: bool) -> Result<(), M::Error> {
        self.0.cut(partial)
    }
}

/// Bytes read from the port at a time.
const READ_CHUNK_BYTES: usize = 64;

impl<S, M> Printer<S, M>
where
    S: Read + Write,
    M: Mechanism,
{
    /// A printer for paper `dots` wide.
    pub fn new(serial: S, mechanism: M, dots: u16) -> Self {
        Printer {
            serial,
            mechanism,
            decoder: Decoder::new(),
            engine: Engine::new(dots),
            stopped: false,
        }
    }

    /// Read what the port has (blocking until at least a byte, as `Read` does) and carry
    /// it out. Returns the bytes taken; 0 means the port reached its end.
    pub fn poll(&mut self) -> Result<usize, Error<S::Error, M::Error>> {
        let mut buf = [0u8; READ_CHUNK_BYTES];
        let n = self.serial.read(&mut buf).map_err(Error::Serial)?;
        for &b in &buf[..n] {
            self.byte(b)?;
        }
        if n > 0 && self.decoder.idle() {
            // Nothing more is coming at once: let the head cool and the motor rest.
            self.mechanism.rest().map_err(Error::Mechanism)?;
        }
        Ok(n)
    }

    /// Run until the port ends.
    pub fn run(&mut self) -> Result<(), Error<S::Error, M::Error>> {
        while self.poll()? > 0 {}
        Ok(())
    }

    /// Hand the port and the mechanism back.
    pub fn release(self) -> (S, M) {
        (self.serial, self.mechanism)
    }

    fn byte(&mut self, b: u8) -> Result<(), Error<S::Error, M::Error>> {
        // A byte completes at most two events.
        let mut events: [Option<Event>; 2] = [None; 2];
        let mut count = 0;
        self.decoder.push(b, &mut |e| {
            if let Some(slot) = events.get_mut(count) {
                *slot = Some(e);
                count += 1;
            }
        });
        for event in events.into_iter().flatten() {
            self.event(event)?;
        }
        Ok(())
    }

    fn event(&mut self, event: Event) -> Result<(), Error<S::Error, M::Error>> {
        match event {
            Event::Command(Cmd::Status(kind)) => {
                let reply = self.status_byte(kind);
                return self.reply(reply);
            }
            Event::Command(Cmd::TransmitStatus(n)) => {
                let s = self.mechanism.sensors();
                let reply = match n {
                    2 | b'2' => u8::from(s.drawer_pin_high),
                    _ => {
                        (if s.paper_near_end { 0x03 } else { 0 })
                            | (if s.paper_end { 0x0C } else { 0 })
                    }
                };
                return self.reply(reply);
            }
            Event::Command(Cmd::Initialize) if self.stopped => {
                if self.mechanism.sensors().paper_end {
                    return Ok(());
                }
                self.stopped = false;
            }
            Event::Command(Cmd::DrawerKick { pin, on, off }) => {
                return self
                    .mechanism
                    .kick_drawer(pin, u16::from(on) * 2, u16::from(off) * 2)
                    .map_err(Error::Mechanism);
            }
            _ => {}
        }
        if self.stopped {
            return Ok(());
        }
        let result = self
            .engine
            .handle(event, &mut OnMechanism(&mut self.mechanism));
        match result {
            Ok(()) => Ok(()),
            Err(e) => {
                if self.mechanism.sensors().paper_end {
                    self.stopped = true;
                    Ok(())
                } else {
                    Err(Error::Mechanism(e))
                }
            }
        }
    }

    /// The DLE EOT reply to `kind`: fixed bits 0x12, then the kind's flags (see
    /// `escpos::PrinterStatus::apply`, which reads these back).
    fn status_byte(&mut self, kind: StatusKind) -> u8 {
        let s = self.mechanism.sensors();
        let offline = self.stopped || s.cover_open || s.paper_end;
        let bit = |on: bool, mask: u8| if on { mask } else { 0 };
        0x12 | match kind {
            StatusKind::Printer => bit(s.drawer_pin_high, 0x04) | bit(offline, 0x08),
            StatusKind::Offline => bit(s.cover_open, 0x04) | bit(self.stopped || s.paper_end, 0x20),
            StatusKind::Error => 0,
            StatusKind::Paper => bit(s.paper_near_end, 0x0C) | bit(s.paper_end, 0x60),
        }
    }

    fn reply(&mut self, byte: u8) -> Result<(), Error<S::Error, M::Error>> {
        self.serial.write_all(&[byte]).map_err(Error::Serial)?;
        self.serial.flush().map_err(Error::Serial)
    }
}
