//! The classic one-dimensional bar code systems of GS k, data to bars: UPC-A, UPC-E,
//! JAN13 (EAN-13), JAN8 (EAN-8), CODE39, ITF, CODABAR (NW-7) and CODE93, with the check
//! digits the printer computes and the data rules it enforces (length, characters).
//!
//! Each encoder writes the symbol's run widths (bar first, then space, alternating) and
//! its HRI text into a [`Symbol`]. EAN/UPC and CODE93 runs are in modules; CODE39, ITF
//! and CODABAR are two-width systems whose runs are 1 (narrow) or 2 (wide), drawn with the
//! narrow and wide dots GS w gives. Nothing here allocates or panics on any data: data a
//! printer refuses is an error.

use crate::barcode::{BarcodeError, Symbol};

/// EAN/UPC digit patterns, set A (odd parity, "L"): space, bar, space, bar widths.
/// Set C ("R") is the same widths as bar, space, bar, space; set B ("G") is set A reversed.
const EAN_L: [[u8; 4]; 10] = [
    [3, 2, 1, 1],
    [2, 2, 2, 1],
    [2, 1, 2, 2],
    [1, 4, 1, 1],
    [1, 1, 3, 2],
    [1, 2, 3, 1],
    [1, 1, 1, 4],
    [1, 3, 1, 2],
    [1, 2, 1, 3],
    [3, 1, 1, 2],
];

/// EAN-13: which of the left six digits use set B, by the first (implied) digit; bit 5
/// is the leftmost digit.
const EAN13_PARITY: [u8; 10] = [
    0b000000, 0b001011, 0b001101, 0b001110, 0b010011, 0b011001, 0b011100, 0b010101, 0b010110,
    0b011010,
];

/// UPC-E with number system 0: which of the six digits use set B (even parity), by the
/// check digit; bit 5 is the leftmost digit. Number system 1 is the complement.
const UPCE_PARITY: [u8; 10] = [
    0b111000, 0b110100, 0b110010, 0b110001, 0b101100, 0b100110, 0b100011, 0b101010, 0b101001,
    0b100101,
];

/// The GS1 (EAN/UPC, ITF, DataBar) modulo-10 check digit of `digits` (values 0-9, the
/// check digit not included): weights 3, 1, 3, … from the right.
pub fn gs1_check_digit(digits: &[u8]) -> u8 {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| u32::from(d) * if i % 2 == 0 { 3 } else { 1 })
        .sum();
    ((10 - sum % 10) % 10) as u8
}

/// `data` as digit values, refused unless every byte is 0-9. Returns how many.
fn digits<const N: usize>(data: &[u8], out: &mut [u8; N]) -> Result<usize, BarcodeError> {
    if data.len() > N {
        return Err(BarcodeError::Length);
    }
    for (o, &b) in out.iter_mut().zip(data) {
        if !b.is_ascii_digit() {
            return Err(BarcodeError::BadData);
        }
        *o = b - b'0';
    }
    Ok(data.len())
}

/// The full digits of a fixed-length EAN/UPC symbol: `len` of them with the check digit;
/// `len - 1` given means the printer computes it, `len` given means it is checked.
fn with_check<const N: usize>(data: &[u8], len: usize) -> Result<[u8; N], BarcodeError> {
    let mut d = [0u8; N];
    let n = digits(data, &mut d)?;
    if n == len - 1 {
        d[len - 1] = gs1_check_digit(&d[..len - 1]);
    } else if n != len || d[len - 1] != gs1_check_digit(&d[..len - 1]) {
        return Err(if n == len {
            BarcodeError::BadCheckDigit
        } else {
            BarcodeError::Length
        });
    }
    Ok(d)
}

fn ean_digit(s: &mut Symbol, d: u8, set_b: bool) -> Result<(), BarcodeError> {
    let p = EAN_L[usize::from(d)];
    if set_b {
        s.runs(&[p[3], p[2], p[1], p[0]])
    } else {
        s.runs(&p)
    }
}

fn hri_digits(s: &mut Symbol, d: &[u8]) {
    for &v in d {
        s.hri_byte(b'0' + v);
    }
}

/// JAN13 / EAN-13 (12 digits, or 13 with a correct check digit); UPC-A is EAN-13 with a
/// leading 0 and prints its 12 digits as HRI.
pub(crate) fn ean13(s: &mut Symbol, data: &[u8], upc_a: bool) -> Result<(), BarcodeError> {
    let d: [u8; 13] = if upc_a {
        let a: [u8; 12] = with_check(data, 12)?;
        let mut d = [0u8; 13];
        d[1..].copy_from_slice(&a);
        d
    } else {
        with_check(data, 13)?
    };
    s.runs(&[1, 1, 1])?;
    let parity = EAN13_PARITY[usize::from(d[0])];
    for (i, &v) in d[1..7].iter().enumerate() {
        ean_digit(s, v, parity & (0b100000 >> i) != 0)?;
    }
    s.runs(&[1, 1, 1, 1, 1])?;
    for &v in &d[7..] {
        s.runs(&EAN_L[usize::from(v)])?;
    }
    s.runs(&[1, 1, 1])?;
    hri_digits(s, if upc_a { &d[1..] } else { &d });
    Ok(())
}

/// JAN8 / EAN-8 (7 digits, or 8 with a correct check digit).
pub(crate) fn ean8(s: &mut Symbol, data: &[u8]) -> Result<(), BarcodeError> {
    let d: [u8; 8] = with_check(data, 8)?;
    s.runs(&[1, 1, 1])?;
    for &v in &d[..4] {
        ean_digit(s, v, false)?;
    }
    s.runs(&[1, 1, 1, 1, 1])?;
    for &v in &d[4..] {
        s.runs(&EAN_L[usize::from(v)])?;
    }
    s.runs(&[1, 1, 1])?;
    hri_digits(s, &d);
    Ok(())
}

/// The UPC-A digits (number system, 10 digits; no check) a UPC-E number stands for.
fn upce_expand(ns: u8, e: &[u8; 6]) -> [u8; 11] {
    let [d1, d2, d3, d4, d5, d6] = *e;
    let body = match d6 {
        0..=2 => [d1, d2, d6, 0, 0, 0, 0, d3, d4, d5],
        3 => [d1, d2, d3, 0, 0, 0, 0, 0, d4, d5],
        4 => [d1, d2, d3, d4, 0, 0, 0, 0, 0, d5],
        _ => [d1, d2, d3, d4, d5, 0, 0, 0, 0, d6],
    };
    let mut a = [ns; 11];
    a[1..].copy_from_slice(&body);
    a
}

/// The six UPC-E digits of a UPC-A number (11 digits, no check), None when it has no
/// UPC-E form.
fn upce_compress(a: &[u8; 11]) -> Option<[u8; 6]> {
    let m = &a[1..6];
    let p = &a[6..11];
    let candidates = [
        [m[0], m[1], p[2], p[3], p[4], m[2]],
        [m[0], m[1], m[2], p[3], p[4], 3],
        [m[0], m[1], m[2], m[3], p[4], 4],
        [m[0], m[1], m[2], m[3], m[4], p[4]],
    ];
    candidates.into_iter().find(|e| upce_expand(a[0], e) == *a)
}

/// UPC-E: 6 digits (number system 0), 7 (number system first), 8 (and a correct check
/// digit), or the UPC-A form of 11 or 12 digits when it compresses. The number system
/// must be 0 or 1.
pub(crate) fn upc_e(s: &mut Symbol, data: &[u8]) -> Result<(), BarcodeError> {
    let mut d = [0u8; 12];
    let n = digits(data, &mut d)?;
    let (ns, e, given_check) = match n {
        6 => (0, [d[0], d[1], d[2], d[3], d[4], d[5]], None),
        7 | 8 => (
            d[0],
            [d[1], d[2], d[3], d[4], d[5], d[6]],
            (n == 8).then_some(d[7]),
        ),
        11 | 12 => {
            let mut a = [0u8; 11];
            a.copy_from_slice(&d[..11]);
            let e = upce_compress(&a).ok_or(BarcodeError::BadData)?;
            (d[0], e, (n == 12).then_some(d[11]))
        }
        _ => return Err(BarcodeError::Length),
    };
    if ns > 1 {
        return Err(BarcodeError::BadData);
    }
    let check = gs1_check_digit(&upce_expand(ns, &e));
    if given_check.is_some_and(|c| c != check) {
        return Err(BarcodeError::BadCheckDigit);
    }
    let parity = UPCE_PARITY[usize::from(check)] ^ if ns == 1 { 0b111111 } else { 0 };
    s.runs(&[1, 1, 1])?;
    for (i, &v) in e.iter().enumerate() {
        ean_digit(s, v, parity & (0b100000 >> i) != 0)?;
    }
    s.runs(&[1, 1, 1, 1, 1, 1])?;
    s.hri_byte(b'0' + ns);
    hri_digits(s, &e);
    s.hri_byte(b'0' + check);
    Ok(())
}

/// CODE39 characters, in the order of [`CODE39_WIDE`].
const CODE39_CHARS: &[u8; 44] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-. $/+%*";
/// Which of a CODE39 character's nine elements (bar, space, … bar; bit 8 first) are wide.
const CODE39_WIDE: [u16; 44] = [
    0x034, 0x121, 0x061, 0x160, 0x031, 0x130, 0x070, 0x025, 0x124, 0x064, 0x109, 0x049, 0x148,
    0x019, 0x118, 0x058, 0x00D, 0x10C, 0x04C, 0x01C, 0x103, 0x043, 0x142, 0x013, 0x112, 0x052,
    0x007, 0x106, 0x046, 0x016, 0x181, 0x0C1, 0x1C0, 0x091, 0x190, 0x0D0, 0x085, 0x184, 0x0C4,
    0x0A8, 0x0A2, 0x08A, 0x02A, 0x094,
];

/// Two-width elements, `count` of them, bit `count - 1` first; a narrow space follows
/// when `gap`.
fn two_width(s: &mut Symbol, wide: u16, count: u32, gap: bool) -> Result<(), BarcodeError> {
    for i in (0..count).rev() {
        s.run(if wide >> i & 1 == 1 { 2 } else { 1 })?;
    }
    if gap { s.run(1) } else { Ok(()) }
}

/// CODE39: 0-9, A-Z, space and `$ % + - . /`. The printer adds the start and stop `*`
/// unless the data begins with `*`, in which case it must end with one too. No check
/// character (the printer adds none). The HRI shows the `*`s.
pub(crate) fn code39(s: &mut Symbol, data: &[u8]) -> Result<(), BarcodeError> {
    let inner = match data {
        [b'*', inner @ .., b'*'] => inner,
        [b'*'] | [b'*', ..] => return Err(BarcodeError::BadData),
        _ => data,
    };
    if inner.is_empty() {
        return Err(BarcodeError::Length);
    }
    let index = |b: u8| {
        CODE39_CHARS[..43]
            .iter()
            .position(|&c| c == b)
            .ok_or(BarcodeError::BadData)
    };
    two_width(s, CODE39_WIDE[43], 9, true)?;
    s.hri_byte(b'*');
    for &b in inner {
        two_width(s, CODE39_WIDE[index(b)?], 9, true)?;
        s.hri_byte(b);
    }
    two_width(s, CODE39_WIDE[43], 9, false)?;
    s.hri_byte(b'*');
    Ok(())
}

/// ITF digit patterns: which of five elements are wide (bit 4 first).
const ITF_WIDE: [u16; 10] = [
    0b00110, 0b10001, 0b01001, 0b11000, 0b00101, 0b10100, 0b01100, 0b00011, 0b10010, 0b01010,
];

/// ITF (Interleaved 2 of 5): an even number of digits, in pairs (the first in bars, the
/// second in the spaces between them). No check digit is added.
pub(crate) fn itf(s: &mut Symbol, data: &[u8]) -> Result<(), BarcodeError> {
    if data.len() < 2 || !data.len().is_multiple_of(2) {
        return Err(BarcodeError::Length);
    }
    if !data.iter().all(u8::is_ascii_digit) {
        return Err(BarcodeError::BadData);
    }
    s.runs(&[1, 1, 1, 1])?;
    for pair in data.chunks_exact(2) {
        let (bars, spaces) = (
            ITF_WIDE[usize::from(pair[0] - b'0')],
            ITF_WIDE[usize::from(pair[1] - b'0')],
        );
        for i in (0..5).rev() {
            s.run(if bars >> i & 1 == 1 { 2 } else { 1 })?;
            s.run(if spaces >> i & 1 == 1 { 2 } else { 1 })?;
        }
        s.hri_byte(pair[0]);
        s.hri_byte(pair[1]);
    }
    s.runs(&[2, 1, 1])
}

/// CODABAR characters, in the order of [`CODABAR_WIDE`].
const CODABAR_CHARS: &[u8; 20] = b"0123456789-$:/.+ABCD";
/// Which of a CODABAR character's seven elements (bar first, bit 6 first) are wide.
const CODABAR_WIDE: [u16; 20] = [
    0x003, 0x006, 0x009, 0x060, 0x012, 0x042, 0x021, 0x024, 0x030, 0x048, 0x00C, 0x018, 0x045,
    0x051, 0x054, 0x015, 0x01A, 0x029, 0x00B, 0x00E,
];

/// CODABAR (NW-7): a start character A-D (or a-d), data of 0-9 and `$ + - . / :`, a stop
/// character A-D. No check character is added. The HRI shows start and stop.
pub(crate) fn codabar(s: &mut Symbol, data: &[u8]) -> Result<(), BarcodeError> {
    let (first, last) = match data {
        [first, .., last] => (first.to_ascii_uppercase(), last.to_ascii_uppercase()),
        _ => return Err(BarcodeError::Length),
    };
    if !(b'A'..=b'D').contains(&first) || !(b'A'..=b'D').contains(&last) {
        return Err(BarcodeError::BadData);
    }
    let n = data.len();
    for (i, &b) in data.iter().enumerate() {
        let c = if i == 0 || i == n - 1 {
            b.to_ascii_uppercase()
        } else {
            b
        };
        let limit = if i == 0 || i == n - 1 { 20 } else { 16 };
        let index = CODABAR_CHARS[..limit]
            .iter()
            .position(|&x| x == c)
            .ok_or(BarcodeError::BadData)?;
        two_width(s, CODABAR_WIDE[index], 7, i + 1 < n)?;
        s.hri_byte(c);
    }
    Ok(())
}

/// CODE93 character patterns, nine modules each, bit 8 first (1 = bar), for the values
/// 0-47: `0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-. $/+%`, the shifts ($), (%), (/), (+), and
/// the start/stop.
const CODE93_MODULES: [u16; 48] = [
    0x114, 0x148, 0x144, 0x142, 0x128, 0x124, 0x122, 0x150, 0x112, 0x10A, 0x1A8, 0x1A4, 0x1A2,
    0x194, 0x192, 0x18A, 0x168, 0x164, 0x162, 0x134, 0x11A, 0x158, 0x14C, 0x146, 0x12C, 0x116,
    0x1B4, 0x1B2, 0x1AC, 0x1A6, 0x196, 0x19A, 0x16C, 0x166, 0x136, 0x13A, 0x12E, 0x1D4, 0x1D2,
    0x1CA, 0x16E, 0x176, 0x1AE, 0x126, 0x1DA, 0x1D6, 0x132, 0x15E,
];
const CODE93_START: usize = 47;
/// Most CODE93 values: two for each data byte, the two check characters.
const CODE93_VALUES_MAX: usize = 2 * crate::barcode::BARCODE_DATA_MAX_BYTES + 2;

/// The CODE93 values (0-46) of one ASCII byte: the character itself, or a shift and a
/// character (the "full ASCII" table).
fn code93_ascii(b: u8) -> Result<(Option<u8>, u8), BarcodeError> {
    let (dollar, percent, slash, plus) = (43, 44, 45, 46);
    let letter = |c: u8| c - b'A' + 10;
    Ok(match b {
        b'0'..=b'9' => (None, b - b'0'),
        b'A'..=b'Z' => (None, letter(b)),
        b'-' => (None, 36),
        b'.' => (None, 37),
        b' ' => (None, 38),
        0 => (Some(percent), letter(b'U')),
        1..=26 => (Some(dollar), letter(b'A' + b - 1)),
        27..=31 => (Some(percent), letter(b'A' + b - 27)),
        b'!'..=b',' => (Some(slash), letter(b'A' + b - b'!')),
        b'/' => (Some(slash), letter(b'O')),
        b':' => (Some(slash), letter(b'Z')),
        b';'..=b'?' => (Some(percent), letter(b'F' + b - b';')),
        b'@' => (Some(percent), letter(b'V')),
        b'['..=b'_' => (Some(percent), letter(b'K' + b - b'[')),
        b'`' => (Some(percent), letter(b'W')),
        b'a'..=b'z' => (Some(plus), letter(b'A' + b - b'a')),
        b'{'..=0x7F => (Some(percent), letter(b'P' + b - b'{')),
        _ => return Err(BarcodeError::BadData),
    })
}

fn code93_char(s: &mut Symbol, v: usize) -> Result<(), BarcodeError> {
    let p = CODE93_MODULES[v];
    let mut run = 0u8;
    let mut colour = true;
    for i in (0..9).rev() {
        if (p >> i & 1 == 1) == colour {
            run += 1;
        } else {
            s.run(run)?;
            run = 1;
            colour = !colour;
        }
    }
    s.run(run)
}

/// CODE93: any ASCII byte 0-127 (full ASCII, through the shift characters); the printer
/// adds the start and stop and the two check characters C and K. The HRI shows the data
/// (control characters as spaces).
pub(crate) fn code93(s: &mut Symbol, data: &[u8]) -> Result<(), BarcodeError> {
    let mut values = [0u8; CODE93_VALUES_MAX];
    let mut n = 0;
    for &b in data {
        let (shift, v) = code93_ascii(b)?;
        for v in shift.into_iter().chain([v]) {
            *values.get_mut(n).ok_or(BarcodeError::Length)? = v;
            n += 1;
        }
        s.hri_byte(b);
    }
    for max_weight in [20u32, 15] {
        let sum: u32 = values[..n]
            .iter()
            .rev()
            .enumerate()
            .map(|(i, &v)| (i as u32 % max_weight + 1) * u32::from(v))
            .sum();
        *values.get_mut(n).ok_or(BarcodeError::Length)? = (sum % 47) as u8;
        n += 1;
    }
    code93_char(s, CODE93_START)?;
    for &v in &values[..n] {
        code93_char(s, usize::from(v))?;
    }
    code93_char(s, CODE93_START)?;
    // The termination bar.
    s.run(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_digits_of_known_numbers() {
        // 4901234567894: a JAN number worked by hand.
        assert_eq!(gs1_check_digit(&[4, 9, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9]), 4);
        // UPC-A 03600029145 2.
        assert_eq!(gs1_check_digit(&[0, 3, 6, 0, 0, 0, 2, 9, 1, 4, 5]), 2);
        // EAN-8 9638507 4.
        assert_eq!(gs1_check_digit(&[9, 6, 3, 8, 5, 0, 7]), 4);
    }

    #[test]
    fn upc_e_compresses_what_it_expands() {
        for e in [
            [1, 2, 3, 4, 5, 0],
            [1, 2, 3, 4, 5, 3],
            [1, 2, 3, 4, 5, 4],
            [6, 5, 4, 3, 2, 7],
        ] {
            let a = upce_expand(0, &e);
            assert_eq!(upce_compress(&a), Some(e), "{a:?}");
        }
        assert_eq!(upce_compress(&[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0]), None);
    }

    #[test]
    fn refused_data() {
        let mut s = Symbol::default();
        assert_eq!(s.encode(67, b"490123456789"), Ok(()));
        assert_eq!(
            s.encode(67, b"4901234567890"),
            Err(BarcodeError::BadCheckDigit)
        );
        assert_eq!(s.encode(67, b"49012345678"), Err(BarcodeError::Length));
        assert_eq!(s.encode(67, b"49012345678A"), Err(BarcodeError::BadData));
        assert_eq!(s.encode(70, b"123"), Err(BarcodeError::Length));
        assert_eq!(s.encode(69, b"abc"), Err(BarcodeError::BadData));
        assert_eq!(s.encode(69, b"*ABC"), Err(BarcodeError::BadData));
        assert_eq!(s.encode(71, b"A123"), Err(BarcodeError::BadData));
        assert_eq!(s.encode(71, b"A12E3B"), Err(BarcodeError::BadData));
        assert_eq!(s.encode(66, b"21234565"), Err(BarcodeError::BadData));
    }
}
