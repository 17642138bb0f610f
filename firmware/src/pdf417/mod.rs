//! The printer's PDF417 symbol store (GS ( k, cn = 48): the settings (columns, rows,
//! module width, row height, error correction, standard or truncated), the stored data,
//! and its encoding into a symbol (ISO/IEC 15438): data compaction (`compaction`), the
//! symbol length descriptor and pad codewords, Reed-Solomon error correction over GF(929)
//! (the generator polynomial computed at print time), and each row's start pattern, row
//! indicators, data codewords and stop pattern in the row's cluster (`patterns`).
//!
//! Memory budget: fixed at build time, no allocation. The store holds
//! [`PDF417_DATA_MAX_BYTES`] (1,850 bytes: the most text a symbol's 925 data codewords can
//! carry), the symbol's codewords are [`PDF417_MAX_CODEWORDS`] `u16` (1,856 bytes) and the
//! generator polynomial at most 513 `u16` (1,026 bytes): about 4.8 KB in all. The pattern
//! table (3 × 929 `u16`, 5.4 KB) is read-only data. Data beyond the store, data whose
//! codewords do not fit a symbol (928 codewords at most), or do not fit the columns and
//! rows set, make no symbol ([`Pdf417Error`]): the printer prints nothing for them, never
//! a wrong symbol. This module must never panic on any setting or data.

mod compaction;
mod patterns;

use patterns::PATTERNS;

/// Most data bytes stored.
pub const PDF417_DATA_MAX_BYTES: usize = 1850;
/// Most codewords in a symbol (data, padding and error correction).
pub const PDF417_MAX_CODEWORDS: usize = 928;
/// Most columns of data codewords (GS ( k fn 65).
pub const PDF417_MAX_COLUMNS: u8 = 30;
/// Fewest and most rows (GS ( k fn 66).
pub const PDF417_ROWS: (u8, u8) = (3, 90);
/// Default module width in dots (fn 67) and row height in modules (fn 68).
pub const PDF417_DEFAULT_MODULE_DOTS: u8 = 3;
/// Default row height, in module widths (fn 68).
pub const PDF417_DEFAULT_ROW_HEIGHT: u8 = 3;

/// Modules of the start pattern, of a codeword, and of the stop pattern.
const START: (u32, u16) = (0b1_1111_1110_1010_1000, 17);
const STOP: (u32, u16) = (0b11_1111_1010_0010_1001, 18);
const CODEWORD_MODULES: u16 = 17;
const PAD: u16 = 900;
const GF: u32 = 929;

/// Why the stored data makes no symbol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pdf417Error {
    /// Nothing is stored.
    Empty,
    /// More data than the store or a symbol's 928 codewords hold.
    TooLong,
    /// The codewords do not fit the columns and rows set (or no columns fit the paper).
    DoesNotFit,
}

/// GS ( k fn 69: the error correction level, given (0-8) or as a share of the data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Correction {
    Level(u8),
    /// n × 10 % of the data codewords (n = 1-40).
    Ratio(u8),
}

/// The shape of the symbol last encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pdf417Layout {
    /// Rows, 3-90.
    pub rows: u8,
    /// Columns of data codewords, 1-30.
    pub columns: u8,
    /// Error correction level, 0-8 (2^(level+1) codewords).
    pub level: u8,
    /// Truncated PDF417: no right row indicator, the stop pattern one bar.
    pub truncated: bool,
}

impl Pdf417Layout {
    /// Modules across a row.
    pub fn width_modules(&self) -> u16 {
        let data = CODEWORD_MODULES * u16::from(self.columns);
        if self.truncated {
            START.1 + CODEWORD_MODULES + data + 1
        } else {
            START.1 + 2 * CODEWORD_MODULES + data + STOP.1
        }
    }
}

/// The PDF417 store, its settings and its work buffers.
pub struct Pdf417Store {
    data: [u8; PDF417_DATA_MAX_BYTES],
    len: usize,
    overflow: bool,
    columns: u8,
    rows: u8,
    module_dots: u8,
    row_height: u8,
    correction: Correction,
    truncated: bool,
    codewords: [u16; PDF417_MAX_CODEWORDS],
    generator: [u16; 513],
}

impl Default for Pdf417Store {
    fn default() -> Self {
        Pdf417Store {
            data: [0; PDF417_DATA_MAX_BYTES],
            len: 0,
            overflow: false,
            columns: 0,
            rows: 0,
            module_dots: PDF417_DEFAULT_MODULE_DOTS,
            row_height: PDF417_DEFAULT_ROW_HEIGHT,
            correction: Correction::Ratio(1),
            truncated: false,
            codewords: [0; PDF417_MAX_CODEWORDS],
            generator: [0; 513],
        }
    }
}

impl Pdf417Store {
    /// Settings back to their defaults (ESC @); the stored data stays.
    pub fn reset_settings(&mut self) {
        self.columns = 0;
        self.rows = 0;
        self.module_dots = PDF417_DEFAULT_MODULE_DOTS;
        self.row_height = PDF417_DEFAULT_ROW_HEIGHT;
        self.correction = Correction::Ratio(1);
        self.truncated = false;
    }

    /// fn 65: columns of data codewords, 0 (as many as fit the paper) or 1-30; others
    /// are ignored, as a printer does.
    pub fn set_columns(&mut self, n: u8) {
        if n <= PDF417_MAX_COLUMNS {
            self.columns = n;
        }
    }

    /// fn 66: rows, 0 (as many as the data needs) or 3-90.
    pub fn set_rows(&mut self, n: u8) {
        if n == 0 || (PDF417_ROWS.0..=PDF417_ROWS.1).contains(&n) {
            self.rows = n;
        }
    }

    /// fn 67: module width in dots, 2-8.
    pub fn set_module_dots(&mut self, n: u8) {
        if (2..=8).contains(&n) {
            self.module_dots = n;
        }
    }

    /// The module width in dots.
    pub fn module_dots(&self) -> u8 {
        self.module_dots
    }

    /// fn 68: row height, 2-8 times the module width.
    pub fn set_row_height(&mut self, n: u8) {
        if (2..=8).contains(&n) {
            self.row_height = n;
        }
    }

    /// The row height in dots.
    pub fn row_dots(&self) -> u16 {
        u16::from(self.row_height) * u16::from(self.module_dots)
    }

    /// fn 69: m = 48 with n = 48-56 (levels 0-8), or m = 49 with n = 1-40 (n × 10 % of
    /// the data codewords).
    pub fn set_correction(&mut self, m: u8, n: u8) {
        match (m, n) {
            (48, 48..=56) => self.correction = Correction::Level(n - 48),
            (49, 1..=40) => self.correction = Correction::Ratio(n),
            _ => {}
        }
    }

    /// fn 70: 0 standard, 1 truncated.
    pub fn set_options(&mut self, n: u8) {
        match n {
            0 | 48 => self.truncated = false,
            1 | 49 => self.truncated = true,
            _ => {}
        }
    }

    /// fn 80 begins: the old data is gone.
    pub fn begin(&mut self) {
        self.len = 0;
        self.overflow = false;
    }

    /// One byte of the data being stored.
    pub fn push(&mut self, byte: u8) {
        match self.data.get_mut(self.len) {
            Some(slot) => {
                *slot = byte;
                self.len += 1;
            }
            None => self.overflow = true,
        }
    }

    /// Encode the stored data (which stays stored, to print again) for a print area
    /// `area_dots` wide (for columns set to 0); then [`Pdf417Store::row`] gives the rows.
    pub fn encode(&mut self, area_dots: u16) -> Result<Pdf417Layout, Pdf417Error> {
        if self.overflow {
            return Err(Pdf417Error::TooLong);
        }
        if self.len == 0 {
            return Err(Pdf417Error::Empty);
        }
        // Data codewords after the length descriptor, leaving room for level 0's two.
        let room = PDF417_MAX_CODEWORDS - 2;
        let n = compaction::encode(&self.data[..self.len], &mut self.codewords[1..room])
            .ok_or(Pdf417Error::TooLong)?;
        let data = n + 1;
        let level = match self.correction {
            Correction::Level(l) => l,
            Correction::Ratio(r) => {
                let want = (data * usize::from(r)).div_ceil(10).max(2);
                (0..=8u8).find(|&l| 2usize << l >= want).unwrap_or(8)
            }
        };
        let ecc = 2usize << level;
        let total = data + ecc;
        if total > PDF417_MAX_CODEWORDS {
            return Err(Pdf417Error::TooLong);
        }
        let (rows, columns) = self.shape(total, area_dots)?;
        let slots = usize::from(rows) * usize::from(columns);
        // The length descriptor counts itself, the data and the padding.
        self.codewords[0] = (slots - ecc) as u16;
        self.codewords[data..slots - ecc].fill(PAD);
        self.correct(slots - ecc, level);
        Ok(Pdf417Layout {
            rows,
            columns,
            level,
            truncated: self.truncated,
        })
    }

    /// Rows and columns for `total` codewords under the settings, or why none.
    fn shape(&self, total: usize, area_dots: u16) -> Result<(u8, u8), Pdf417Error> {
        let fits = |rows: usize, cols: usize| {
            (usize::from(PDF417_ROWS.0)..=usize::from(PDF417_ROWS.1)).contains(&rows)
                && (1..=usize::from(PDF417_MAX_COLUMNS)).contains(&cols)
                && rows * cols >= total
                && rows * cols <= PDF417_MAX_CODEWORDS
        };
        let rows_for = |cols: usize| total.div_ceil(cols).max(usize::from(PDF417_ROWS.0));
        let (rows, cols) = match (usize::from(self.rows), usize::from(self.columns)) {
            (0, 0) => {
                // As many columns as the print area takes, fewer if the rows would make
                // more than 928 codewords.
                let module = u16::from(self.module_dots);
                let widest = (1..=PDF417_MAX_COLUMNS)
                    .rev()
                    .find(|&c| {
                        let layout = Pdf417Layout {
                            rows: 3,
                            columns: c,
                            level: 0,
                            truncated: self.truncated,
                        };
                        layout.width_modules() * module <= area_dots
                    })
                    .ok_or(Pdf417Error::DoesNotFit)?;
                let cols = (1..=usize::from(widest))
                    .rev()
                    .find(|&c| fits(rows_for(c), c))
                    .ok_or(Pdf417Error::DoesNotFit)?;
                (rows_for(cols), cols)
            }
            (0, cols) => (rows_for(cols), cols),
            (rows, 0) => (rows, total.div_ceil(rows)),
            (rows, cols) => (rows, cols),
        };
        if !fits(rows, cols) {
            return Err(Pdf417Error::DoesNotFit);
        }
        Ok((rows as u8, cols as u8))
    }

    /// Reed-Solomon: the `2^(level+1)` codewords after the first `data` (ISO/IEC 15438
    /// Annex A), from the generator (x - 3)(x - 3²)…(x - 3^k) over GF(929).
    fn correct(&mut self, data: usize, level: u8) {
        let k = 2usize << level;
        let g = &mut self.generator[..=k];
        g.fill(0);
        g[0] = 1;
        let mut root = 1u32;
        for degree in 1..=k {
            root = root * 3 % GF;
            for j in (1..=degree).rev() {
                let lower = u32::from(g[j - 1]);
                g[j] = ((lower + GF - root * u32::from(g[j]) % GF) % GF) as u16;
            }
            g[0] = ((GF - root * u32::from(g[0]) % GF) % GF) as u16;
        }
        // g[j] is the coefficient of x^j (g[k] = 1).
        let (head, ecc) = self.codewords.split_at_mut(data);
        let ecc = &mut ecc[..k];
        ecc.fill(0);
        for &d in head.iter() {
            let t = (u32::from(d) + u32::from(ecc[k - 1])) % GF;
            for j in (1..k).rev() {
                let a = u32::from(g[j]);
                ecc[j] = ((u32::from(ecc[j - 1]) + GF - t * a % GF) % GF) as u16;
            }
            ecc[0] = ((GF - t * u32::from(g[0]) % GF) % GF) as u16;
        }
        for e in ecc.iter_mut() {
            *e = ((GF - u32::from(*e)) % GF) as u16;
        }
        ecc.reverse();
    }

    /// The modules of row `row` of the symbol last encoded as `layout`, left to right:
    /// `module(true)` for a bar, `module(false)` for a space.
    pub fn row(&self, layout: &Pdf417Layout, row: u8, mut module: impl FnMut(bool)) {
        let mut bits = |pattern: u32, n: u16| {
            for i in (0..n).rev() {
                module(pattern >> i & 1 == 1);
            }
        };
        let cluster = usize::from(row % 3);
        let codeword =
            |value: u16| (1u32 << 16) | u32::from(PATTERNS[cluster][usize::from(value % 929)]);
        let (rows, cols) = (u16::from(layout.rows), u16::from(layout.columns));
        let base = 30 * u16::from(row / 3);
        let (r, c, e) = (
            (rows - 1) / 3,
            cols - 1,
            u16::from(layout.level) * 3 + (rows - 1) % 3,
        );
        let (left, right) = match cluster {
            0 => (base + r, base + c),
            1 => (base + e, base + r),
            _ => (base + c, base + e),
        };
        bits(START.0, START.1);
        bits(codeword(left), CODEWORD_MODULES);
        let first = usize::from(row) * usize::from(cols);
        for &value in &self.codewords[first..first + usize::from(cols)] {
            bits(codeword(value), CODEWORD_MODULES);
        }
        if layout.truncated {
            bits(1, 1);
        } else {
            bits(codeword(right), CODEWORD_MODULES);
            bits(STOP.0, STOP.1);
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::boxed::Box;
    use std::vec::Vec;

    use super::*;

    #[test]
    fn every_pattern_is_a_codeword_of_its_cluster() {
        for (c, cluster) in PATTERNS.iter().enumerate() {
            let mut seen = Vec::new();
            for &p in cluster {
                let p = (1u32 << 16) | u32::from(p);
                let mut runs = Vec::new();
                let mut last = None;
                for i in (0..17).rev() {
                    let bit = p >> i & 1;
                    if last == Some(bit) {
                        *runs.last_mut().unwrap() += 1;
                    } else {
                        runs.push(1);
                    }
                    last = Some(bit);
                }
                assert_eq!(runs.len(), 8, "{p:#x}");
                assert!(runs.iter().all(|&w| w <= 6), "{p:#x}");
                assert_eq!((runs[0] + 9 - runs[2] + runs[4] - runs[6]) % 9, 3 * c);
                seen.push(p);
            }
            seen.sort_unstable();
            seen.dedup();
            assert_eq!(seen.len(), 929);
        }
    }

    #[test]
    fn the_generator_is_the_standards() {
        // ISO/IEC 15438 Annex A: level 0 is 27, 917; level 1 is 522, 568, 723, 809.
        let mut s = Box::<Pdf417Store>::default();
        s.correct(1, 0);
        assert_eq!(&s.generator[..3], &[27, 917, 1]);
        s.correct(1, 1);
        assert_eq!(&s.generator[..5], &[522, 568, 723, 809, 1]);
    }

    #[test]
    fn dimensions_follow_the_settings_and_refuse_what_does_not_fit() {
        let mut s = Box::<Pdf417Store>::default();
        s.begin();
        for &b in b"KONBINI RECEIPT 0001-000042" {
            s.push(b);
        }
        s.set_correction(48, 50);
        // Auto: as many columns as 576 dots take at module 3: (69 + 17c) * 3 <= 576.
        let auto = s.encode(576).unwrap();
        assert_eq!((auto.columns, auto.rows, auto.level), (7, 4, 2));
        assert_eq!(auto.width_modules() * 3, (69 + 17 * 7) * 3);
        s.set_columns(2);
        let two = s.encode(576).unwrap();
        // 1 + 14 data codewords + 8: 23 in 2 columns.
        assert_eq!((two.columns, two.rows), (2, 12));
        s.set_rows(4);
        assert_eq!(s.encode(576), Err(Pdf417Error::DoesNotFit));
        s.set_columns(0);
        assert_eq!(s.encode(576).map(|l| (l.columns, l.rows)), Ok((6, 4)));
        s.begin();
        assert_eq!(s.encode(576), Err(Pdf417Error::Empty));
        for _ in 0..=PDF417_DATA_MAX_BYTES {
            s.push(b'A');
        }
        assert_eq!(s.encode(576), Err(Pdf417Error::TooLong));
    }
}
