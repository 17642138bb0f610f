//! GS k bar code data to a symbol's bars (run widths) and human-readable (HRI) text, for
//! every system the command has: Function A (m = 0-6) and Function B (m = 65-78), see
//! [`Symbol::encode`]. CODE128 (m = 73, data led by `{A`, `{B` or `{C`, with `{S` shift,
//! `{1`-`{4` FNC1-4 and `{{`) and GS1-128 (m = 74: digits and set-B characters, Start and
//! FNC1 added here, `(` `)` shown in the HRI only) are encoded here into Code 128 values
//! (bars from `code128::widths`); the classic systems are in `linear`, GS1 DataBar in
//! `databar`.
//!
//! It owns no state beyond one symbol's fixed buffers; it never allocates and never
//! panics on any data: data a printer would refuse is an error, and nothing is printed.

use crate::code128::{self, CODE_B, CODE_C, FNC1, START_A, START_B, START_C};
use crate::linear;

/// Most data bytes a GS k command carries (Function B's length byte; Function A data is
/// cut here too).
pub const BARCODE_DATA_MAX_BYTES: usize = 255;
/// Most symbol values one symbol holds (data, start, code changes and the check).
const VALUES_MAX: usize = 2 * BARCODE_DATA_MAX_BYTES + 4;
/// Most HRI characters (set C prints two digits a byte).
const HRI_MAX: usize = 2 * BARCODE_DATA_MAX_BYTES;
/// Most bar and space runs of one symbol (CODE128's values at six runs each, with room
/// for CODE93's two-value characters and CODE39's ten runs a character).
pub const RUNS_MAX: usize = 6 * VALUES_MAX + 16;

/// Switch to code set A (from B or C); FNC4 in set A.
const CODE_A: u8 = 101;
/// Shift: the next character is from the other of sets A and B.
const SHIFT: u8 = 98;
const FNC2: u8 = 97;
const FNC3: u8 = 96;

/// Why data makes no symbol (the printer prints nothing for it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BarcodeError {
    /// CODE128 data did not start with a code set selector.
    NoCodeSet,
    /// A byte outside the current code set, or a bad `{` sequence.
    BadData,
    /// No data, or more than the buffers hold.
    Length,
    /// A bar code system this printer does not draw.
    Unsupported,
    /// A check digit given with the data that is not the right one.
    BadCheckDigit,
}

/// How a symbol's runs are measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Widths {
    /// In modules (EAN/UPC, CODE93, CODE128, GS1 DataBar): each run is that many times
    /// the GS w module.
    Modules,
    /// Narrow (1) and wide (2) elements (CODE39, ITF, CODABAR): GS w gives both widths.
    NarrowWide,
}

/// One symbol: its runs (bar first, alternating with spaces), how they are measured, and
/// its HRI text; for CODE128 and GS1-128 also its values (start first, check last).
#[derive(Debug, Clone)]
pub struct Symbol {
    values: [u8; VALUES_MAX],
    len: usize,
    runs: [u8; RUNS_MAX],
    runs_len: usize,
    widths: Widths,
    hri: [u8; HRI_MAX],
    hri_len: usize,
}

impl Default for Symbol {
    fn default() -> Self {
        Symbol {
            values: [0; VALUES_MAX],
            len: 0,
            runs: [0; RUNS_MAX],
            runs_len: 0,
            widths: Widths::Modules,
            hri: [0; HRI_MAX],
            hri_len: 0,
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Set {
    A,
    B,
    C,
}

impl Symbol {
    /// The Code 128 symbol values, start first, check value last (empty for the other
    /// systems).
    pub fn values(&self) -> &[u8] {
        &self.values[..self.len]
    }

    /// The runs: bar, space, bar, … (an odd number), measured as [`Symbol::widths`] says.
    pub fn runs_widths(&self) -> &[u8] {
        &self.runs[..self.runs_len]
    }

    /// How [`Symbol::runs_widths`] are measured.
    pub fn widths(&self) -> Widths {
        self.widths
    }

    /// The HRI text (ASCII).
    pub fn hri(&self) -> &[u8] {
        &self.hri[..self.hri_len]
    }

    /// Encode GS k data of bar code system `system` into this symbol. Function A numbers
    /// (0 UPC-A, 1 UPC-E, 2 JAN13, 3 JAN8, 4 CODE39, 5 ITF, 6 CODABAR) and Function B
    /// numbers (65-71 the same, 72 CODE93, 73 CODE128, 74 GS1-128, 75 GS1 DataBar
    /// Omnidirectional, 76 Truncated, 77 Limited, 78 Expanded) are taken.
    pub fn encode(&mut self, system: u8, data: &[u8]) -> Result<(), BarcodeError> {
        self.len = 0;
        self.runs_len = 0;
        self.hri_len = 0;
        self.widths = Widths::Modules;
        if data.is_empty() {
            return Err(BarcodeError::Length);
        }
        let system = if system <= 6 { system + 65 } else { system };
        match system {
            65 => linear::ean13(self, data, true),
            66 => linear::upc_e(self, data),
            67 => linear::ean13(self, data, false),
            68 => linear::ean8(self, data),
            69..=71 => {
                self.widths = Widths::NarrowWide;
                match system {
                    69 => linear::code39(self, data),
                    70 => linear::itf(self, data),
                    _ => linear::codabar(self, data),
                }
            }
            72 => linear::code93(self, data),
            73 | 74 => self.code128_symbol(system, data),
            75..=78 => crate::databar::encode(self, system, data),
            _ => Err(BarcodeError::Unsupported),
        }
    }

    fn code128_symbol(&mut self, system: u8, data: &[u8]) -> Result<(), BarcodeError> {
        if system == 73 {
            self.code128(data)?;
        } else {
            self.gs1_128(data)?;
        }
        if self.len >= VALUES_MAX {
            return Err(BarcodeError::Length);
        }
        self.values[self.len] = code128::check_value(&self.values[..self.len]);
        self.len += 1;
        let (runs, mut n) = (&mut self.runs, 0);
        code128::widths(&self.values[..self.len], |w, _| {
            if let Some(slot) = runs.get_mut(n) {
                *slot = w;
                n += 1;
            }
        });
        if n >= RUNS_MAX {
            return Err(BarcodeError::Length);
        }
        self.runs_len = n;
        Ok(())
    }

    /// Append one run (the next bar or space), `width` modules or narrow/wide.
    pub(crate) fn run(&mut self, width: u8) -> Result<(), BarcodeError> {
        let slot = self
            .runs
            .get_mut(self.runs_len)
            .ok_or(BarcodeError::Length)?;
        *slot = width;
        self.runs_len += 1;
        Ok(())
    }

    /// Append runs in order.
    pub(crate) fn runs(&mut self, widths: &[u8]) -> Result<(), BarcodeError> {
        widths.iter().try_for_each(|&w| self.run(w))
    }

    fn value(&mut self, v: u8) -> Result<(), BarcodeError> {
        // Leave room for the check value.
        if self.len + 1 >= VALUES_MAX {
            return Err(BarcodeError::Length);
        }
        self.values[self.len] = v;
        self.len += 1;
        Ok(())
    }

    /// Append one HRI character.
    pub(crate) fn hri_byte(&mut self, b: u8) {
        if self.hri_len < HRI_MAX {
            // Control characters (set A) show as spaces.
            self.hri[self.hri_len] = if b < 0x20 || b == 0x7F { b' ' } else { b };
            self.hri_len += 1;
        }
    }

    /// A data character in set A or B.
    fn char_in(&mut self, set: Set, b: u8) -> Result<(), BarcodeError> {
        let v = match set {
            Set::A if b < 0x20 => b + 64,
            Set::A if b < 0x60 => b - 32,
            Set::B if (0x20..0x80).contains(&b) => b - 32,
            _ => return Err(BarcodeError::BadData),
        };
        self.value(v)?;
        self.hri_byte(b);
        Ok(())
    }

    fn code128(&mut self, data: &[u8]) -> Result<(), BarcodeError> {
        let mut set: Option<Set> = None;
        let mut i = 0;
        while i < data.len() {
            let b = data[i];
            if b == b'{' {
                let c = *data.get(i + 1).ok_or(BarcodeError::BadData)?;
                i += 2;
                let select = match c {
                    b'A' => Some(Set::A),
                    b'B' => Some(Set::B),
                    b'C' => Some(Set::C),
                    _ => None,
                };
                match (select, set) {
                    (Some(new), None) => {
                        self.value(match new {
                            Set::A => START_A,
                            Set::B => START_B,
                            Set::C => START_C,
                        })?;
                        set = Some(new);
                    }
                    (Some(new), Some(_)) => {
                        self.value(match new {
                            Set::A => CODE_A,
                            Set::B => CODE_B,
                            Set::C => CODE_C,
                        })?;
                        set = Some(new);
                    }
                    (None, None) => return Err(BarcodeError::NoCodeSet),
                    (None, Some(current)) => match c {
                        b'1' => self.value(FNC1)?,
                        b'2' if current != Set::C => self.value(FNC2)?,
                        b'3' if current != Set::C => self.value(FNC3)?,
                        // FNC4 is 101 in set A, 100 in set B.
                        b'4' if current == Set::A => self.value(CODE_A)?,
                        b'4' if current == Set::B => self.value(CODE_B)?,
                        b'{' if current == Set::B => self.char_in(Set::B, b'{')?,
                        b'S' if current != Set::C => {
                            let next = *data.get(i).ok_or(BarcodeError::BadData)?;
                            i += 1;
                            self.value(SHIFT)?;
                            let other = if current == Set::A { Set::B } else { Set::A };
                            self.char_in(other, next)?;
                        }
                        _ => return Err(BarcodeError::BadData),
                    },
                }
                continue;
            }
            match set {
                None => return Err(BarcodeError::NoCodeSet),
                Some(Set::C) => {
                    if b > 99 {
                        return Err(BarcodeError::BadData);
                    }
                    self.value(b)?;
                    self.hri_byte(b'0' + b / 10);
                    self.hri_byte(b'0' + b % 10);
                }
                Some(s) => self.char_in(s, b)?,
            }
            i += 1;
        }
        if self.len <= 1 {
            return Err(BarcodeError::Length);
        }
        Ok(())
    }

    fn gs1_128(&mut self, data: &[u8]) -> Result<(), BarcodeError> {
        // Parentheses are HRI only; `*` (check digit by the printer) is not supported
        // and dropped.
        let bars = |i: usize| data[i] != b'(' && data[i] != b')' && data[i] != b'*';
        let digits_from = |mut i: usize| {
            let mut n = 0;
            while i < data.len() {
                if bars(i) {
                    if !data[i].is_ascii_digit() {
                        break;
                    }
                    n += 1;
                }
                i += 1;
            }
            n
        };
        let first = (0..data.len()).find(|&i| bars(i));
        let Some(first) = first else {
            return Err(BarcodeError::Length);
        };
        let mut set = if digits_from(first) >= 2 {
            Set::C
        } else {
            Set::B
        };
        self.value(if set == Set::C { START_C } else { START_B })?;
        self.value(FNC1)?;
        let mut i = 0;
        while i < data.len() {
            let b = data[i];
            if !bars(i) {
                if b != b'*' {
                    self.hri_byte(b);
                }
                i += 1;
                continue;
            }
            let run = digits_from(i);
            if set == Set::C {
                if run >= 2 {
                    // The next two digits, skipping HRI-only bytes between them.
                    let mut pair = [0u8; 2];
                    for p in pair.iter_mut() {
                        while !bars(i) {
                            self.hri_byte(data[i]);
                            i += 1;
                        }
                        *p = data[i] - b'0';
                        self.hri_byte(data[i]);
                        i += 1;
                    }
                    self.value(pair[0] * 10 + pair[1])?;
                    continue;
                }
                self.value(CODE_B)?;
                set = Set::B;
            } else if run >= 4 && run % 2 == 0 {
                self.value(CODE_C)?;
                set = Set::C;
                continue;
            }
            self.char_in(Set::B, b)?;
            i += 1;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code128_sets_and_specials() {
        let mut s = Symbol::default();
        s.encode(73, b"{BAb{{{C\x0c\x22").unwrap();
        // Start B, 'A', 'b', '{', Code C, 12, 34, check.
        assert_eq!(&s.values()[..7], &[START_B, 33, 66, 91, CODE_C, 12, 34]);
        assert_eq!(s.hri(), b"Ab{1234");
        assert_eq!(s.encode(73, b"AB"), Err(BarcodeError::NoCodeSet));
        assert_eq!(s.encode(73, b"{C\x64"), Err(BarcodeError::BadData));
        assert_eq!(s.encode(73, b"{A\x7f"), Err(BarcodeError::BadData));
        assert_eq!(s.encode(79, b"123"), Err(BarcodeError::Unsupported));
    }

    #[test]
    fn gs1_128_adds_start_and_fnc1_and_hides_parentheses() {
        let mut s = Symbol::default();
        s.encode(74, b"(91)91234").unwrap();
        assert_eq!(&s.values()[..5], &[START_C, FNC1, 91, 91, 23]);
        // Odd digit count: the last one goes in set B.
        assert_eq!(&s.values()[5..7], &[CODE_B, b'4' - 32]);
        assert_eq!(s.hri(), b"(91)91234");
        s.encode(74, b"10AB1234").unwrap();
        assert_eq!(
            &s.values()[..8],
            &[START_C, FNC1, 10, CODE_B, 33, 34, CODE_C, 12]
        );
    }
}
