//! Code 128 and GS1-128 symbols as bar widths, without allocation: the printer's own bar
//! code rendering (GS k m = 73 / 74), and the network's voucher SVG, which draws the
//! konbini bill barcode (Start C, FNC1, 22 digit pairs, check, stop). A decoder from bar
//! widths back to values lets tests read a drawn symbol back.
//!
//! Each symbol is three bars and three spaces, 11 modules in all; the stop symbol has a
//! fourth bar, 13 modules. The check symbol is the start value plus each value times its
//! position, modulo 103.

/// Bar and space widths of symbol values 0-105 (bar, space, bar, space, bar, space).
pub const PATTERNS: [[u8; 6]; 106] = [
    [2, 1, 2, 2, 2, 2],
    [2, 2, 2, 1, 2, 2],
    [2, 2, 2, 2, 2, 1],
    [1, 2, 1, 2, 2, 3],
    [1, 2, 1, 3, 2, 2],
    [1, 3, 1, 2, 2, 2],
    [1, 2, 2, 2, 1, 3],
    [1, 2, 2, 3, 1, 2],
    [1, 3, 2, 2, 1, 2],
    [2, 2, 1, 2, 1, 3],
    [2, 2, 1, 3, 1, 2],
    [2, 3, 1, 2, 1, 2],
    [1, 1, 2, 2, 3, 2],
    [1, 2, 2, 1, 3, 2],
    [1, 2, 2, 2, 3, 1],
    [1, 1, 3, 2, 2, 2],
    [1, 2, 3, 1, 2, 2],
    [1, 2, 3, 2, 2, 1],
    [2, 2, 3, 2, 1, 1],
    [2, 2, 1, 1, 3, 2],
    [2, 2, 1, 2, 3, 1],
    [2, 1, 3, 2, 1, 2],
    [2, 2, 3, 1, 1, 2],
    [3, 1, 2, 1, 3, 1],
    [3, 1, 1, 2, 2, 2],
    [3, 2, 1, 1, 2, 2],
    [3, 2, 1, 2, 2, 1],
    [3, 1, 2, 2, 1, 2],
    [3, 2, 2, 1, 1, 2],
    [3, 2, 2, 2, 1, 1],
    [2, 1, 2, 1, 2, 3],
    [2, 1, 2, 3, 2, 1],
    [2, 3, 2, 1, 2, 1],
    [1, 1, 1, 3, 2, 3],
    [1, 3, 1, 1, 2, 3],
    [1, 3, 1, 3, 2, 1],
    [1, 1, 2, 3, 1, 3],
    [1, 3, 2, 1, 1, 3],
    [1, 3, 2, 3, 1, 1],
    [2, 1, 1, 3, 1, 3],
    [2, 3, 1, 1, 1, 3],
    [2, 3, 1, 3, 1, 1],
    [1, 1, 2, 1, 3, 3],
    [1, 1, 2, 3, 3, 1],
    [1, 3, 2, 1, 3, 1],
    [1, 1, 3, 1, 2, 3],
    [1, 1, 3, 3, 2, 1],
    [1, 3, 3, 1, 2, 1],
    [3, 1, 3, 1, 2, 1],
    [2, 1, 1, 3, 3, 1],
    [2, 3, 1, 1, 3, 1],
    [2, 1, 3, 1, 1, 3],
    [2, 1, 3, 3, 1, 1],
    [2, 1, 3, 1, 3, 1],
    [3, 1, 1, 1, 2, 3],
    [3, 1, 1, 3, 2, 1],
    [3, 3, 1, 1, 2, 1],
    [3, 1, 2, 1, 1, 3],
    [3, 1, 2, 3, 1, 1],
    [3, 3, 2, 1, 1, 1],
    [3, 1, 4, 1, 1, 1],
    [2, 2, 1, 4, 1, 1],
    [4, 3, 1, 1, 1, 1],
    [1, 1, 1, 2, 2, 4],
    [1, 1, 1, 4, 2, 2],
    [1, 2, 1, 1, 2, 4],
    [1, 2, 1, 4, 2, 1],
    [1, 4, 1, 1, 2, 2],
    [1, 4, 1, 2, 2, 1],
    [1, 1, 2, 2, 1, 4],
    [1, 1, 2, 4, 1, 2],
    [1, 2, 2, 1, 1, 4],
    [1, 2, 2, 4, 1, 1],
    [1, 4, 2, 1, 1, 2],
    [1, 4, 2, 2, 1, 1],
    [2, 4, 1, 2, 1, 1],
    [2, 2, 1, 1, 1, 4],
    [4, 1, 3, 1, 1, 1],
    [2, 4, 1, 1, 1, 2],
    [1, 3, 4, 1, 1, 1],
    [1, 1, 1, 2, 4, 2],
    [1, 2, 1, 1, 4, 2],
    [1, 2, 1, 2, 4, 1],
    [1, 1, 4, 2, 1, 2],
    [1, 2, 4, 1, 1, 2],
    [1, 2, 4, 2, 1, 1],
    [4, 1, 1, 2, 1, 2],
    [4, 2, 1, 1, 1, 2],
    [4, 2, 1, 2, 1, 1],
    [2, 1, 2, 1, 4, 1],
    [2, 1, 4, 1, 2, 1],
    [4, 1, 2, 1, 2, 1],
    [1, 1, 1, 1, 4, 3],
    [1, 1, 1, 3, 4, 1],
    [1, 3, 1, 1, 4, 1],
    [1, 1, 4, 1, 1, 3],
    [1, 1, 4, 3, 1, 1],
    [4, 1, 1, 1, 1, 3],
    [4, 1, 1, 3, 1, 1],
    [1, 1, 3, 1, 4, 1],
    [1, 1, 4, 1, 3, 1],
    [3, 1, 1, 1, 4, 1],
    [4, 1, 1, 1, 3, 1],
    [2, 1, 1, 4, 1, 2],
    [2, 1, 1, 2, 1, 4],
    [2, 1, 1, 2, 3, 2],
];
/// The stop symbol: bar, space, bar, space, bar, space, bar.
pub const STOP_PATTERN: [u8; 7] = [2, 3, 3, 1, 1, 1, 2];
/// Start in code set A.
pub const START_A: u8 = 103;
/// Start in code set B.
pub const START_B: u8 = 104;
/// Start in code set C.
pub const START_C: u8 = 105;
/// FNC1 (in every code set): marks GS1-128 after the start.
pub const FNC1: u8 = 102;
/// Switch to code set C (from A or B).
pub const CODE_C: u8 = 99;
/// Switch to code set B (from A or C).
pub const CODE_B: u8 = 100;

/// Why data cannot be encoded, or widths not decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code128Error {
    /// The output buffer is too small.
    TooLong,
    /// Set C needs an even number of ASCII digits.
    NotDigitPairs,
    /// Set B takes ASCII 32-127 only.
    NotSetB,
    /// The widths are not a Code 128 symbol (unknown pattern, no stop, bad check).
    Unreadable,
}

/// The check value of `values` (start first).
pub fn check_value(values: &[u8]) -> u8 {
    let sum: u32 = values
        .iter()
        .enumerate()
        .map(|(i, &v)| u32::from(v) * (i as u32).max(1))
        .sum();
    (sum % 103) as u8
}

/// Symbol values of a GS1-128 symbol holding `digits` (an even count of ASCII digits,
/// application identifier first): Start C, FNC1, the pairs, the check. Returns how many
/// values were written to `out`.
pub fn gs1_numeric(digits: &[u8], out: &mut [u8]) -> Result<usize, Code128Error> {
    if !digits.len().is_multiple_of(2) || !digits.iter().all(u8::is_ascii_digit) {
        return Err(Code128Error::NotDigitPairs);
    }
    let n = 2 + digits.len() / 2 + 1;
    if out.len() < n {
        return Err(Code128Error::TooLong);
    }
    out[0] = START_C;
    out[1] = FNC1;
    for (i, pair) in digits.chunks(2).enumerate() {
        out[2 + i] = (pair[0] - b'0') * 10 + (pair[1] - b'0');
    }
    out[n - 1] = check_value(&out[..n - 1]);
    Ok(n)
}

/// Symbol values of a Code 128 set B symbol holding `text` (ASCII 32-127).
pub fn set_b(text: &[u8], out: &mut [u8]) -> Result<usize, Code128Error> {
    if !text.iter().all(|&c| (32..=127).contains(&c)) {
        return Err(Code128Error::NotSetB);
    }
    let n = text.len() + 2;
    if out.len() < n {
        return Err(Code128Error::TooLong);
    }
    out[0] = START_B;
    for (i, &c) in text.iter().enumerate() {
        out[1 + i] = c - 32;
    }
    out[n - 1] = check_value(&out[..n - 1]);
    Ok(n)
}

/// The bars and spaces of `values` followed by the stop: `emit(width, is_bar)`, left to
/// right, in modules. Quiet zones (10 modules each side) are the caller's.
pub fn widths(values: &[u8], mut emit: impl FnMut(u8, bool)) {
    for &v in values {
        for (i, &w) in PATTERNS[usize::from(v.min(105))].iter().enumerate() {
            emit(w, i % 2 == 0);
        }
    }
    for (i, &w) in STOP_PATTERN.iter().enumerate() {
        emit(w, i % 2 == 0);
    }
}

/// Read bar/space widths (in modules, starting with a bar, quiet zones removed) back into
/// symbol values, checking the stop and the check value. Returns the values written,
/// start included, check excluded.
pub fn decode_widths(w: &[u8], out: &mut [u8]) -> Result<usize, Code128Error> {
    if w.len() < 6 + 6 + 7 || !(w.len() - 7).is_multiple_of(6) || w[w.len() - 7..] != STOP_PATTERN {
        return Err(Code128Error::Unreadable);
    }
    let symbols = (w.len() - 7) / 6;
    if out.len() < symbols {
        return Err(Code128Error::TooLong);
    }
    for (i, chunk) in w[..w.len() - 7].chunks(6).enumerate() {
        out[i] = PATTERNS
            .iter()
            .position(|p| p == chunk)
            .ok_or(Code128Error::Unreadable)? as u8;
    }
    let (data, check) = out[..symbols].split_at(symbols - 1);
    if check_value(data) != check[0] {
        return Err(Code128Error::Unreadable);
    }
    Ok(symbols - 1)
}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::vec::Vec;

    use super::*;

    #[test]
    fn the_table_is_a_code_128_table() {
        // 11 modules a symbol, an even number of bar modules, no two alike.
        for (v, p) in PATTERNS.iter().enumerate() {
            assert_eq!(
                p.iter().map(|&w| u32::from(w)).sum::<u32>(),
                11,
                "value {v}"
            );
            assert_eq!((p[0] + p[2] + p[4]) % 2, 0, "value {v}");
            assert!(PATTERNS[..v].iter().all(|q| q != p), "value {v} repeats");
        }
        assert_eq!(STOP_PATTERN.iter().map(|&w| u32::from(w)).sum::<u32>(), 13);
    }

    #[test]
    fn a_konbini_bill_barcode_round_trips() {
        let digits = b"91912345012345678901234567890101033101230003";
        let mut values = [0u8; 32];
        let n = gs1_numeric(digits, &mut values).unwrap();
        assert_eq!(n, 2 + 22 + 1);
        assert_eq!(&values[..3], &[START_C, FNC1, 91]);
        let mut w = Vec::new();
        widths(&values[..n], |width, _| w.push(width));
        // 11 modules a symbol, 13 for the stop.
        assert_eq!(w.iter().map(|&x| u32::from(x)).sum::<u32>(), 11 * 25 + 13);
        let mut back = [0u8; 32];
        let m = decode_widths(&w, &mut back).unwrap();
        assert_eq!(&back[..m], &values[..n - 1]);
        let read: Vec<u8> = back[2..m]
            .iter()
            .flat_map(|&v| [b'0' + v / 10, b'0' + v % 10])
            .collect();
        assert_eq!(read, digits);
        // One module wrong anywhere and it does not read.
        w[40] += 1;
        w[41] -= 1;
        assert_eq!(decode_widths(&w, &mut back), Err(Code128Error::Unreadable));
    }

    #[test]
    fn the_check_value_of_a_known_symbol() {
        // "PJJ123C" in set B, worked by hand: 104 + 48·1 + 42·2 + 42·3 + 17·4 + 18·5
        // + 19·6 + 35·7 = 879, and 879 mod 103 = 55.
        let mut values = [0u8; 16];
        let n = set_b(b"PJJ123C", &mut values).unwrap();
        assert_eq!(&values[..n - 1], &[104, 48, 42, 42, 17, 18, 19, 35]);
        assert_eq!(values[n - 1], 55);
    }

    #[test]
    fn bad_input_is_refused() {
        let mut out = [0u8; 4];
        assert_eq!(
            gs1_numeric(b"123", &mut out),
            Err(Code128Error::NotDigitPairs)
        );
        assert_eq!(
            gs1_numeric(b"12345678", &mut out),
            Err(Code128Error::TooLong)
        );
        assert_eq!(set_b(b"\x01", &mut out), Err(Code128Error::NotSetB));
        assert_eq!(
            decode_widths(&[1, 2, 3], &mut out),
            Err(Code128Error::Unreadable)
        );
    }
}
