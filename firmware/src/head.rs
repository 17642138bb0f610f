//! The thermal-head driver over embedded-hal 1.0: a dot line is shifted into the head over
//! `SpiDevice`, latched, then burnt by strobing the head's groups, a few at a time so that
//! no more than `max_dots_heated` dots draw current at once; then the stepper motor feeds
//! the paper one dot line. Head power is on only while printing, and switched off at rest
//! and as soon as the paper sensor reports paper out. `release()` hands the parts back.
//!
//! The paper sensor reads low with paper (a reflective sensor pulled up), as the
//! `hardware/heads/` profile describes.

use embedded_hal::delay::DelayNs;
use embedded_hal::digital::{InputPin, OutputPin};
use embedded_hal::spi::SpiDevice;

/// Timing of one dot line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// Latch pulse width, nanoseconds.
    pub latch_ns: u32,
    /// Strobe (burn) time per batch of groups, microseconds.
    pub strobe_us: u32,
    /// Time per motor step, microseconds.
    pub step_us: u32,
    /// Motor steps per dot line.
    pub steps_per_line: u8,
}

/// What went wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error<SpiE, PinE> {
    /// The SPI bus failed.
    Spi(SpiE),
    /// A GPIO line failed.
    Pin(PinE),
    /// The paper ran out; head power is off.
    PaperOut,
    /// The line is not `dots / 8` bytes long.
    LineLength,
}

/// The parts a head is driven by, handed back by [`ThermalHead::release`].
pub struct Parts<SPI, P, I, D, const STROBES: usize> {
    /// The SPI device the dot line is shifted through.
    pub spi: SPI,
    /// The latch line (active low).
    pub latch: P,
    /// One line per strobe group (active high).
    pub strobes: [P; STROBES],
    /// Stepper phases A, B, A', B'.
    pub motor: [P; 4],
    /// Head power enable.
    pub power: P,
    /// The paper sensor.
    pub paper: I,
    /// The delay provider.
    pub delay: D,
}

/// A thermal print head with `STROBES` strobe groups.
pub struct ThermalHead<SPI, P, I, D, const STROBES: usize> {
    parts: Parts<SPI, P, I, D, STROBES>,
    line_bytes: usize,
    max_heated: u32,
    timing: Timing,
    phase: u8,
    powered: bool,
}

impl<SPI, P, I, D, const STROBES: usize, PinE> ThermalHead<SPI, P, I, D, STROBES>
where
    SPI: SpiDevice,
    P: OutputPin<Error = PinE>,
    I: InputPin<Error = PinE>,
    D: DelayNs,
{
    /// A head `dots` wide (a multiple of 8; the strobe groups share its bytes), burning at most
    /// `max_heated` dots at once. Nothing is switched until the first line.
    pub fn new(
        parts: Parts<SPI, P, I, D, STROBES>,
        dots: u16,
        max_heated: u16,
        timing: Timing,
    ) -> Self {
        ThermalHead {
            parts,
            line_bytes: usize::from(dots / 8),
            max_heated: u32::from(max_heated.max(1)),
            timing,
            phase: 0,
            powered: false,
        }
    }

    /// Whether paper is in front of the head.
    pub fn paper_present(&mut self) -> Result<bool, Error<SPI::Error, PinE>> {
        self.parts.paper.is_low().map_err(Error::Pin)
    }

    /// Print one dot line (`dots / 8` bytes, most significant bit leftmost) and feed.
    pub fn print_line(&mut self, line: &[u8]) -> Result<(), Error<SPI::Error, PinE>> {
        if line.len() != self.line_bytes {
            return Err(Error::LineLength);
        }
        if !self.paper_present()? {
            self.rest()?;
            return Err(Error::PaperOut);
        }
        if !self.powered {
            self.parts.power.set_high().map_err(Error::Pin)?;
            self.powered = true;
        }
        self.parts.spi.write(line).map_err(Error::Spi)?;
        self.parts.latch.set_low().map_err(Error::Pin)?;
        self.parts.delay.delay_ns(self.timing.latch_ns);
        self.parts.latch.set_high().map_err(Error::Pin)?;
        self.burn(line)?;
        for _ in 0..self.timing.steps_per_line {
            self.step()?;
        }
        Ok(())
    }

    /// Feed the paper `lines` dot lines without printing.
    pub fn feed(&mut self, lines: u16) -> Result<(), Error<SPI::Error, PinE>> {
        for _ in 0..u32::from(lines) * u32::from(self.timing.steps_per_line) {
            self.step()?;
        }
        Ok(())
    }

    /// Head power and motor off: call at rest.
    pub fn rest(&mut self) -> Result<(), Error<SPI::Error, PinE>> {
        for pin in self.parts.motor.iter_mut() {
            pin.set_low().map_err(Error::Pin)?;
        }
        self.parts.power.set_low().map_err(Error::Pin)?;
        self.powered = false;
        Ok(())
    }

    /// Hand the parts back.
    pub fn release(self) -> Parts<SPI, P, I, D, STROBES> {
        self.parts
    }

    /// Strobe the groups in batches of at most `max_heated` dots (a group hotter than
    /// that alone is burnt alone); groups without a dot are not strobed at all. Group `g`
    /// covers bytes `g·len/STROBES .. (g+1)·len/STROBES`, so every byte belongs to exactly
    /// one group whatever the width.
    fn burn(&mut self, line: &[u8]) -> Result<(), Error<SPI::Error, PinE>> {
        let dots = |g: usize| -> u32 {
            line[g * line.len() / STROBES..(g + 1) * line.len() / STROBES]
                .iter()
                .map(|b| b.count_ones())
                .sum()
        };
        let mut batch = [false; STROBES];
        let mut heated = 0u32;
        for g in 0..STROBES {
            let d = dots(g);
            if d == 0 {
                continue;
            }
            if heated > 0 && heated + d > self.max_heated {
                self.fire(&batch)?;
                batch = [false; STROBES];
                heated = 0;
            }
            batch[g] = true;
            heated += d;
        }
        if heated > 0 {
            self.fire(&batch)?;
        }
        Ok(())
    }

    fn fire(&mut self, batch: &[bool; STROBES]) -> Result<(), Error<SPI::Error, PinE>> {
        self.set_strobes(batch, true)?;
        self.parts.delay.delay_us(self.timing.strobe_us);
        self.set_strobes(batch, false)
    }

    fn set_strobes(
        &mut self,
        batch: &[bool; STROBES],
        on: bool,
    ) -> Result<(), Error<SPI::Error, PinE>> {
        for (pin, _) in self
            .parts
            .strobes
            .iter_mut()
            .zip(batch)
            .filter(|(_, b)| **b)
        {
            if on {
                pin.set_high().map_err(Error::Pin)?;
            } else {
                pin.set_low().map_err(Error::Pin)?;
            }
        }
        Ok(())
    }

    /// One full step (two-phase on: AB, A'B, A'B', AB').
    fn step(&mut self) -> Result<(), Error<SPI::Error, PinE>> {
        self.phase = (self.phase + 1) % 4;
        const PHASES: [[bool; 4]; 4] = [
            [true, true, false, false],
            [false, true, true, false],
            [false, false, true, true],
            [true, false, false, true],
        ];
        for (pin, on) in self
            .parts
            .motor
            .iter_mut()
            .zip(PHASES[usize::from(self.phase)])
        {
            if on {
                pin.set_high().map_err(Error::Pin)?;
            } else {
                pin.set_low().map_err(Error::Pin)?;
            }
        }
        self.parts.delay.delay_us(self.timing.step_us);
        Ok(())
    }
}

#[cfg(test)]
// Expected transactions read best as literal slices, one per pin.
#[allow(clippy::cloned_ref_to_slice_refs)]
mod tests {
    extern crate std;
    use std::vec::Vec;

    use embedded_hal_mock::eh1::delay::{CheckedDelay, Transaction as DelayT};
    use embedded_hal_mock::eh1::digital::{Mock as Pin, State, Transaction as PinT};
    use embedded_hal_mock::eh1::spi::{Mock as Spi, Transaction as SpiT};

    use super::*;

    const TIMING: Timing = Timing {
        latch_ns: 100,
        strobe_us: 1200,
        step_us: 500,
        steps_per_line: 1,
    };

    fn pin(t: &[PinT]) -> Pin {
        Pin::new(t)
    }

    /// A 32-dot head (4 bytes) with 4 strobe groups of one byte each, 10 dots at most.
    fn head(
        spi: &[SpiT<u8>],
        latch: &[PinT],
        strobes: [&[PinT]; 4],
        motor: [&[PinT]; 4],
        power: &[PinT],
        paper: &[PinT],
        delay: &[DelayT],
    ) -> ThermalHead<Spi<u8>, Pin, Pin, CheckedDelay, 4> {
        head_with(32, spi, latch, strobes, motor, power, paper, delay)
    }

    #[allow(clippy::too_many_arguments)]
    fn head_with(
        dots: u16,
        spi: &[SpiT<u8>],
        latch: &[PinT],
        strobes: [&[PinT]; 4],
        motor: [&[PinT]; 4],
        power: &[PinT],
        paper: &[PinT],
        delay: &[DelayT],
    ) -> ThermalHead<Spi<u8>, Pin, Pin, CheckedDelay, 4> {
        ThermalHead::new(
            Parts {
                spi: Spi::new(spi),
                latch: pin(latch),
                strobes: strobes.map(pin),
                motor: motor.map(pin),
                power: pin(power),
                paper: pin(paper),
                delay: CheckedDelay::new(delay),
            },
            dots,
            10,
            TIMING,
        )
    }

    fn done(head: ThermalHead<Spi<u8>, Pin, Pin, CheckedDelay, 4>) {
        let mut p = head.release();
        p.spi.done();
        p.latch.done();
        for s in p.strobes.iter_mut() {
            s.done();
        }
        for m in p.motor.iter_mut() {
            m.done();
        }
        p.power.done();
        p.paper.done();
        p.delay.done();
    }

    #[test]
    fn a_line_is_shifted_latched_burnt_in_capped_batches_and_fed() {
        // Groups: 8 dots, 0 dots, 3 dots, 8 dots. Cap 10: batch {0}, then {2} (8+3 > 10),
        // then {3} (3+8 > 10); group 1 has nothing to burn and is never strobed.
        let line = [0xFF, 0x00, 0b1010_1000, 0xFF];
        let hi = PinT::set(State::High);
        let lo = PinT::set(State::Low);
        let h = head(
            &[
                SpiT::transaction_start(),
                SpiT::write_vec(line.to_vec()),
                SpiT::transaction_end(),
            ],
            &[lo.clone(), hi.clone()],
            [
                &[hi.clone(), lo.clone()],
                &[],
                &[hi.clone(), lo.clone()],
                &[hi.clone(), lo.clone()],
            ],
            // Step to phase 1: A' B on (pins B and A'), others off.
            [&[lo.clone()], &[hi.clone()], &[hi.clone()], &[lo.clone()]],
            &[hi.clone()],
            &[PinT::get(State::Low)],
            &[
                DelayT::delay_ns(100),
                DelayT::delay_us(1200),
                DelayT::delay_us(1200),
                DelayT::delay_us(1200),
                DelayT::delay_us(500),
            ],
        );
        let mut h = h;
        h.print_line(&line).unwrap();
        done(h);
    }

    #[test]
    fn every_byte_belongs_to_a_group_when_the_width_does_not_divide() {
        // 24 dots (3 bytes) over 4 groups: bytes split 0 / 1 / 1 / 1. The first and the
        // last byte's dots are both burnt, in one batch (2 dots); group 0 holds no byte.
        let line = [0x01, 0x00, 0x80];
        let hi = PinT::set(State::High);
        let lo = PinT::set(State::Low);
        let mut h = head_with(
            24,
            &[
                SpiT::transaction_start(),
                SpiT::write_vec(line.to_vec()),
                SpiT::transaction_end(),
            ],
            &[lo.clone(), hi.clone()],
            [
                &[],
                &[hi.clone(), lo.clone()],
                &[],
                &[hi.clone(), lo.clone()],
            ],
            [&[lo.clone()], &[hi.clone()], &[hi.clone()], &[lo.clone()]],
            &[hi.clone()],
            &[PinT::get(State::Low)],
            &[
                DelayT::delay_ns(100),
                DelayT::delay_us(1200),
                DelayT::delay_us(500),
            ],
        );
        h.print_line(&line).unwrap();
        done(h);
    }

    #[test]
    fn paper_out_switches_head_power_off_and_prints_nothing() {
        let lo = PinT::set(State::Low);
        let mut h = head(
            &[],
            &[],
            [&[], &[], &[], &[]],
            [&[lo.clone()], &[lo.clone()], &[lo.clone()], &[lo.clone()]],
            &[lo.clone()],
            &[PinT::get(State::High)],
            &[],
        );
        assert_eq!(h.print_line(&[1, 2, 3, 4]), Err(Error::PaperOut));
        done(h);
    }

    #[test]
    fn a_line_of_the_wrong_length_touches_nothing() {
        let mut h = head(
            &[],
            &[],
            [&[], &[], &[], &[]],
            [&[], &[], &[], &[]],
            &[],
            &[],
            &[],
        );
        assert_eq!(h.print_line(&[0; 3]), Err(Error::LineLength));
        done(h);
    }

    #[test]
    fn power_is_switched_on_once_and_off_at_rest() {
        let hi = PinT::set(State::High);
        let lo = PinT::set(State::Low);
        let blank = [0u8; 4];
        let spi = [
            SpiT::transaction_start(),
            SpiT::write_vec(blank.to_vec()),
            SpiT::transaction_end(),
        ];
        let spi2: Vec<SpiT<u8>> = spi.iter().chain(spi.iter()).cloned().collect();
        let mut h = head(
            &spi2,
            &[lo.clone(), hi.clone(), lo.clone(), hi.clone()],
            [&[], &[], &[], &[]],
            // Two steps (phases 1 and 2), then rest.
            [
                &[lo.clone(), lo.clone(), lo.clone()],
                &[hi.clone(), lo.clone(), lo.clone()],
                &[hi.clone(), hi.clone(), lo.clone()],
                &[lo.clone(), hi.clone(), lo.clone()],
            ],
            &[hi.clone(), lo.clone()],
            &[PinT::get(State::Low), PinT::get(State::Low)],
            &[
                DelayT::delay_ns(100),
                DelayT::delay_us(500),
                DelayT::delay_ns(100),
                DelayT::delay_us(500),
            ],
        );
        h.print_line(&blank).unwrap();
        h.print_line(&blank).unwrap();
        h.rest().unwrap();
        done(h);
    }
}
