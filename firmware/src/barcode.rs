//! GS k bar code data to a symbol's bars (run widths) and human-readable (HRI) text, for
//! every system the command has: Function A (m = 0-6) and Function B (m = 65-78), see
//! [`Symbol::encode`]. CODE128 (m = 73, data led by `{A`, `{B` or `{C`, with `{S` shift,
//! `{1`-`{4` FNC1-4 and `{{`) and GS1-128 (m = 74, by Epson's data rules: `(` AI `)` and
//! spaces in the HRI only, `*` the check digit the printer computes, `{1` FNC1 between
//! fields; see `Symbol::gs1_128`) are encoded here into Code 128 values (bars from
//! `code128::widths`); the classic systems are in `linear`, GS1 DataBar in `databar`.
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

/// The GS w values the TM-T88 takes (its command reference: 2 ≤ n ≤ 6, default 3); it
/// ignores any other, keeping the module it had.
pub const MODULE_DOTS_RANGE: core::ops::RangeInclusive<u8> = 2..=6;

/// The dots of a narrow and a wide element under GS w `module` (2-6; others are taken as
/// the nearest): a module system's module is `module` dots; a two-width system's narrow
/// element is `module` dots and its wide one the TM-T88's GS w table gives (0.706,
/// 1.129, 1.411, 1.834 and 2.258 mm for n = 2-6: 5, 8, 10, 13 and 16 dots at 180 dpi).
pub fn element_dots(widths: Widths, module: u8) -> (u8, u8) {
    let module = module.clamp(*MODULE_DOTS_RANGE.start(), *MODULE_DOTS_RANGE.end());
    match widths {
        Widths::Modules => (module, module),
        Widths::NarrowWide => (module, [5, 8, 10, 13, 16][usize::from(module - 2)]),
    }
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

    /// The dots of one run of [`Symbol::runs_widths`] under GS w `module`.
    pub fn run_dots(&self, width: u8, module: u8) -> u32 {
        let (narrow, wide) = element_dots(self.widths, module);
        match self.widths {
            Widths::Modules => u32::from(width) * u32::from(narrow),
            Widths::NarrowWide if width == 1 => u32::from(narrow),
            Widths::NarrowWide => u32::from(wide),
        }
    }

    /// The symbol's width in dots under GS w `module`, quiet zones not included.
    pub fn width_dots(&self, module: u8) -> u32 {
        self.runs_widths()
            .iter()
            .map(|&w| self.run_dots(w, module))
            .sum()
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

    /// GS1-128 data as Epson's ESC/POS reference gives it (GS k m = 74: the common
    /// "Specifications" command volume, Ver. 10.05, GS k, pp. 347-349, as published for the
    /// TM-J2000; and the TM-C3500 technical reference's GS1-128 rules): the printer adds
    /// the start character, FNC1 after it, the symbol check character and the stop; in
    /// the data
    /// - `(` AI `)` marks an application identifier (2-4 digits): the AI's digits are
    ///   encoded, the parentheses printed in the HRI only ("an error occurs" when the AI is
    ///   not digits; a `)` that closes no AI is refused here for the same reason);
    /// - a space is HRI only, not encoded;
    /// - `*` is the data part's check digit (modulo 10, weights 3, 1, … from the right,
    ///   over the digits since the AI's `)`), computed by the printer, encoded there and
    ///   printed in the HRI; refused when that part holds anything but digits, or no AI
    ///   precedes it;
    /// - `{1` is FNC1 (the separator a field of variable length needs before the next
    ///   AI: the printer adds none by itself), `{3` FNC3, both printed as spaces;
    ///   `{(`, `{)`, `{*` and `{{` are the characters themselves; any other `{` sequence
    ///   is an error;
    /// - control characters (0x00-0x1F, 0x7F) are encoded (code set A) and print as
    ///   spaces; bytes over 0x7F are refused.
    ///
    /// Code sets are the printer's choice: C for runs of digits, A for control characters,
    /// B otherwise.
    fn gs1_128(&mut self, data: &[u8]) -> Result<(), BarcodeError> {
        // "Specify the data of 2 to 255 digits."
        if data.len() < 2 {
            return Err(BarcodeError::Length);
        }
        let mut items = [Gs1Item::Fnc1; BARCODE_DATA_MAX_BYTES];
        let mut n = 0;
        let push = |items: &mut [Gs1Item], item: Gs1Item, n: &mut usize| {
            *items.get_mut(*n).ok_or(BarcodeError::Length)? = item;
            *n += 1;
            Ok::<(), BarcodeError>(())
        };
        // Where the current data part's digits start (in `items`): after an AI's `)`.
        let mut part: Option<usize> = None;
        let mut i = 0;
        while i < data.len() {
            let b = data[i];
            i += 1;
            match b {
                b'(' => {
                    let ai_len = data[i..]
                        .iter()
                        .take(5)
                        .position(|&c| c == b')')
                        .ok_or(BarcodeError::BadData)?;
                    let ai = &data[i..i + ai_len];
                    if !(2..=4).contains(&ai.len()) || !ai.iter().all(u8::is_ascii_digit) {
                        return Err(BarcodeError::BadData);
                    }
                    self.hri_byte(b'(');
                    for &d in ai {
                        push(&mut items, Gs1Item::Char(d), &mut n)?;
                        self.hri_byte(d);
                    }
                    self.hri_byte(b')');
                    i += ai_len + 1;
                    part = Some(n);
                }
                b')' => return Err(BarcodeError::BadData),
                b' ' => self.hri_byte(b' '),
                b'*' => {
                    let from = part.ok_or(BarcodeError::BadData)?;
                    let mut digits = [0u8; BARCODE_DATA_MAX_BYTES];
                    let mut count = 0;
                    for item in &items[from..n] {
                        let Gs1Item::Char(d @ b'0'..=b'9') = *item else {
                            return Err(BarcodeError::BadData);
                        };
                        digits[count] = d - b'0';
                        count += 1;
                    }
                    if count == 0 {
                        return Err(BarcodeError::BadData);
                    }
                    let check = b'0' + crate::linear::gs1_check_digit(&digits[..count]);
                    push(&mut items, Gs1Item::Char(check), &mut n)?;
                    self.hri_byte(check);
                }
                b'{' => {
                    let c = *data.get(i).ok_or(BarcodeError::BadData)?;
                    i += 1;
                    let item = match c {
                        b'1' => {
                            part = None;
                            Gs1Item::Fnc1
                        }
                        b'3' => Gs1Item::Fnc3,
                        b'(' | b')' | b'*' | b'{' => Gs1Item::Char(c),
                        _ => return Err(BarcodeError::BadData),
                    };
                    push(&mut items, item, &mut n)?;
                    self.hri_byte(if let Gs1Item::Char(c) = item { c } else { b' ' });
                }
                0x80.. => return Err(BarcodeError::BadData),
                _ => {
                    push(&mut items, Gs1Item::Char(b), &mut n)?;
                    self.hri_byte(b);
                }
            }
        }
        if n == 0 {
            return Err(BarcodeError::Length);
        }
        self.gs1_values(&items[..n])
    }

    /// Start, FNC1 and `items` as Code 128 values, in the code sets the printer would pick.
    fn gs1_values(&mut self, items: &[Gs1Item]) -> Result<(), BarcodeError> {
        let digits_from = |k: usize| {
            items[k..]
                .iter()
                .take_while(|item| matches!(item, Gs1Item::Char(b'0'..=b'9')))
                .count()
        };
        let control = |item: Gs1Item| matches!(item, Gs1Item::Char(b) if b < 0x20);
        let mut set = if digits_from(0) >= 2 {
            Set::C
        } else if items
            .iter()
            .find(|i| matches!(i, Gs1Item::Char(_)))
            .is_some_and(|&i| control(i))
        {
            Set::A
        } else {
            Set::B
        };
        self.value(match set {
            Set::A => START_A,
            Set::B => START_B,
            Set::C => START_C,
        })?;
        self.value(FNC1)?;
        let mut k = 0;
        while k < items.len() {
            let item = items[k];
            let run = digits_from(k);
            if set == Set::C {
                if run >= 2 {
                    let pair = |j: usize| match items[j] {
                        Gs1Item::Char(d) => d - b'0',
                        _ => 0,
                    };
                    self.value(pair(k) * 10 + pair(k + 1))?;
                    k += 2;
                    continue;
                }
                if item == Gs1Item::Fnc1 {
                    self.value(FNC1)?;
                    k += 1;
                    continue;
                }
                set = if control(item) { Set::A } else { Set::B };
                self.value(if set == Set::A { CODE_A } else { CODE_B })?;
            } else if run >= 4 {
                // An odd run leaves its first digit in this set.
                if run % 2 == 1 {
                    self.gs1_item(set, item)?;
                    k += 1;
                }
                self.value(CODE_C)?;
                set = Set::C;
                continue;
            }
            match item {
                Gs1Item::Char(b) if set == Set::B && b < 0x20 => {
                    self.value(CODE_A)?;
                    set = Set::A;
                }
                Gs1Item::Char(b) if set == Set::A && b >= 0x60 => {
                    self.value(CODE_B)?;
                    set = Set::B;
                }
                _ => {}
            }
            self.gs1_item(set, item)?;
            k += 1;
        }
        Ok(())
    }

    /// One GS1-128 item in set A or B (its HRI is already written).
    fn gs1_item(&mut self, set: Set, item: Gs1Item) -> Result<(), BarcodeError> {
        let v = match (item, set) {
            (Gs1Item::Fnc1, _) => FNC1,
            (Gs1Item::Fnc3, _) => FNC3,
            (Gs1Item::Char(b), Set::A) if b < 0x20 => b + 64,
            (Gs1Item::Char(b), Set::A) if b < 0x60 => b - 32,
            (Gs1Item::Char(b), Set::B) if (0x20..0x80).contains(&b) => b - 32,
            _ => return Err(BarcodeError::BadData),
        };
        self.value(v)
    }
}

/// What one position of GS1-128 data encodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Gs1Item {
    /// An ASCII character (0-127).
    Char(u8),
    Fnc1,
    Fnc3,
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
    #[test]
    fn gs1_128_check_digit_fnc1_and_code_sets() {
        let mut s = Symbol::default();
        // `*`: the check digit of the data part, computed here.
        s.encode(74, b"(01)9501234567890*").unwrap();
        assert_eq!(
            &s.values()[..10],
            &[START_C, FNC1, 1, 95, 1, 23, 45, 67, 89, 3]
        );
        assert_eq!(s.hri(), b"(01)95012345678903");
        // `{1` is FNC1, which set C has too; a space is HRI only.
        s.encode(74, b"(10)12{1 (17)261231").unwrap();
        assert_eq!(
            &s.values()[..9],
            &[START_C, FNC1, 10, 12, FNC1, 17, 26, 12, 31]
        );
        assert_eq!(s.hri(), b"(10)12  (17)261231");
        // A control character takes set A, lower case set B; `{{` is `{`.
        s.encode(74, b"(90)A\x09b{{").unwrap();
        assert_eq!(
            &s.values()[..10],
            &[START_C, FNC1, 90, CODE_B, 33, CODE_A, 73, CODE_B, 66, 91]
        );
        assert_eq!(s.hri(), b"(90)A b{");
        // FNC3 leaves set C for B.
        s.encode(74, b"(90)12{3").unwrap();
        assert_eq!(&s.values()[..5], &[START_C, FNC1, 90, 12, CODE_B]);
        assert_eq!(s.values()[5], FNC3);
    }
}
