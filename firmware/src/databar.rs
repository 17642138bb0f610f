//! GS1 DataBar (GS k m = 75-78), data to bars: Omnidirectional, Truncated (the same
//! symbol, drawn to the GS h height as every system is) and Limited, from the 13 digits of
//! a GTIN without its check digit (AI (01) is implied; the printer computes the check
//! digit, and a 14th digit given is checked); and Expanded, from application identifiers
//! and their data, each AI in parentheses as for GS1-128 (`(01)04912345678904(10)ABC`),
//! in one row (not stacked), through the general-purpose encodation (method "00": numeric,
//! alphanumeric and ISO/IEC 646 modes, FNC1 after each AI not of a predefined length).
//!
//! The element widths follow ISO/IEC 24724: each data character's value splits into an
//! odd and an even part, each spread over four (seven for Limited) elements by the
//! standard's combinatorial width algorithm; a checksum picks the finder patterns (the
//! check characters). The tables are the standard's. Nothing here allocates or panics.

use crate::barcode::{BarcodeError, Symbol};
use crate::linear::gs1_check_digit;

/// Omnidirectional data characters: outside groups 0-4, inside groups 5-8.
const G_SUM: [u16; 9] = [0, 161, 961, 2015, 2715, 0, 336, 1036, 1516];
const T: [u16; 9] = [1, 10, 34, 70, 126, 4, 20, 48, 81];
const MODULES_ODD: [u8; 9] = [12, 10, 8, 6, 4, 5, 7, 9, 11];
const MODULES_EVEN: [u8; 9] = [4, 6, 8, 10, 12, 10, 8, 6, 4];
const WIDEST_ODD: [u8; 9] = [8, 6, 4, 3, 1, 2, 4, 6, 8];
const WIDEST_EVEN: [u8; 9] = [1, 3, 5, 6, 8, 7, 5, 3, 1];
/// The nine finder patterns, five elements each.
const FINDER: [[u8; 5]; 9] = [
    [3, 8, 2, 1, 1],
    [3, 5, 5, 1, 1],
    [3, 3, 7, 1, 1],
    [3, 1, 9, 1, 1],
    [2, 7, 4, 1, 1],
    [2, 5, 6, 1, 1],
    [2, 3, 8, 1, 1],
    [1, 5, 7, 1, 1],
    [1, 3, 9, 1, 1],
];
/// Checksum weights of the 32 data elements (ISO/IEC 24724 table 5).
const WEIGHTS: [u8; 32] = [
    1, 3, 9, 27, 2, 6, 18, 54, 4, 12, 36, 29, 8, 24, 72, 58, 16, 48, 65, 37, 32, 17, 51, 74, 64,
    34, 23, 69, 49, 68, 46, 59,
];

/// Limited: groups by value.
const LTD_GROUP_START: [u32; 7] = [
    0, 183_064, 820_064, 1_000_776, 1_491_021, 1_979_845, 1_996_939,
];
const LTD_T_EVEN: [u32; 7] = [28, 728, 6454, 203, 2408, 1, 16632];
const LTD_MODULES_ODD: [u8; 7] = [17, 13, 9, 15, 11, 19, 7];
const LTD_MODULES_EVEN: [u8; 7] = [9, 13, 17, 11, 15, 7, 19];
const LTD_WIDEST_ODD: [u8; 7] = [6, 5, 3, 5, 4, 8, 1];
const LTD_WIDEST_EVEN: [u8; 7] = [3, 4, 6, 4, 5, 1, 8];
/// Checksum weights of Limited's 28 data elements (ISO/IEC 24724 table 7).
const LTD_WEIGHTS: [u8; 28] = [
    1, 3, 9, 27, 81, 65, 17, 51, 64, 14, 42, 37, 22, 66, 20, 60, 2, 6, 18, 54, 73, 41, 34, 13, 39,
    28, 84, 74,
];
/// Limited's 89 check characters, 14 element widths each, as digits.
const LTD_CHECK: &str = concat!(
    "11111111113311",
    "11111111123211",
    "11111111133111",
    "11111112113211",
    "11111112123111",
    "11111113113111",
    "11111211113211",
    "11111211123111",
    "11111212113111",
    "11111311113111",
    "11121111113211",
    "11121111123111",
    "11121112113111",
    "11121211113111",
    "11131111113111",
    "12111111113211",
    "12111111123111",
    "12111112113111",
    "12111211113111",
    "12121111113111",
    "13111111113111",
    "11111111212311",
    "11111111222211",
    "11111111232111",
    "11111112212211",
    "11111112222111",
    "11111113212111",
    "11111211212211",
    "11111211222111",
    "11111212212111",
    "11111311212111",
    "11121111212211",
    "11121111222111",
    "11121112212111",
    "11121211212111",
    "11131111212111",
    "12111111212211",
    "12111111222111",
    "12111112212111",
    "12111211212111",
    "12121111212111",
    "13111111212111",
    "11111111311311",
    "11111111321211",
    "11111112311211",
    "11121111311211",
    "12111111311211",
    "11111121112311",
    "11111121122211",
    "11111121132111",
    "11111122112211",
    "11121121112211",
    "11121121122111",
    "11121122112111",
    "11121221112111",
    "11131121112111",
    "12111121112211",
    "12111121122111",
    "12121121112111",
    "11112111112311",
    "11112111122211",
    "11112111132111",
    "11112112112211",
    "11112112122111",
    "11112211112211",
    "12112111112211",
    "12112111122111",
    "12112112112111",
    "12112211112111",
    "12122111112111",
    "13112111112111",
    "11211111112311",
    "11211111122211",
    "11211111132111",
    "11211112112211",
    "11211112122111",
    "11211113112111",
    "11211211112211",
    "11211211122111",
    "11221111112211",
    "21111111122211",
    "21111111132111",
    "21111112112211",
    "21111112122111",
    "21111113112111",
    "21111211122111",
    "21111212112111",
    "21121111122111",
    "21111111221211",
);

/// n choose r.
fn combins(n: i64, r: i64) -> i64 {
    if r < 0 || r > n {
        return 0;
    }
    let r = r.min(n - r);
    (0..r).fold(1, |acc, i| acc * (n - i) / (i + 1))
}

/// The element widths of value `val` spread over `elements` elements of `n` modules in
/// all, none wider than `max_width`; with `no_narrow` false, at least one element is
/// one module wide (ISO/IEC 24724's width algorithm).
fn rss_widths(
    mut val: i64,
    mut n: i64,
    elements: usize,
    max_width: i64,
    no_narrow: bool,
    out: &mut [u8],
) {
    let e = elements as i64;
    let mut narrow_mask = 0u32;
    for (bar, slot) in out.iter_mut().enumerate().take(elements - 1) {
        let b = bar as i64;
        let mut elm_width = 1;
        narrow_mask |= 1 << bar;
        let mut sub_val;
        loop {
            sub_val = combins(n - elm_width - 1, e - b - 2);
            if !no_narrow && narrow_mask == 0 && n - elm_width - (e - b - 1) >= e - b - 1 {
                sub_val -= combins(n - elm_width - (e - b), e - b - 2);
            }
            if e - b - 1 > 1 {
                let mut less = 0;
                let mut mxw = n - elm_width - (e - b - 2);
                while mxw > max_width {
                    less += combins(n - elm_width - mxw - 1, e - b - 3);
                    mxw -= 1;
                }
                sub_val -= less * (e - 1 - b);
            } else if n - elm_width > max_width {
                sub_val -= 1;
            }
            val -= sub_val;
            if val < 0 {
                break;
            }
            elm_width += 1;
            narrow_mask &= !(1 << bar);
        }
        val += sub_val;
        n -= elm_width;
        *slot = elm_width as u8;
    }
    out[elements - 1] = n as u8;
}

/// The 13 digits (with the check digit, 14) of the GTIN, and its value without the check.
fn gtin(data: &[u8]) -> Result<([u8; 14], u64), BarcodeError> {
    if data.len() != 13 && data.len() != 14 {
        return Err(BarcodeError::Length);
    }
    let mut d = [0u8; 14];
    for (o, &b) in d.iter_mut().zip(data) {
        if !b.is_ascii_digit() {
            return Err(BarcodeError::BadData);
        }
        *o = b - b'0';
    }
    let check = gs1_check_digit(&d[..13]);
    if data.len() == 14 && d[13] != check {
        return Err(BarcodeError::BadCheckDigit);
    }
    d[13] = check;
    let value = d[..13].iter().fold(0u64, |a, &v| a * 10 + u64::from(v));
    Ok((d, value))
}

fn hri_gtin(s: &mut Symbol, d: &[u8; 14]) {
    for &b in b"(01)" {
        s.hri_byte(b);
    }
    for &v in d {
        s.hri_byte(b'0' + v);
    }
}

/// Encode GS k m = 75-78 data into `s`.
pub(crate) fn encode(s: &mut Symbol, system: u8, data: &[u8]) -> Result<(), BarcodeError> {
    match system {
        75 | 76 => omnidirectional(s, data),
        77 => limited(s, data),
        78 => expanded(s, data),
        _ => Err(BarcodeError::Unsupported),
    }
}

/// Expanded: data character groups by value (ISO/IEC 24724 table 12).
const EXP_G_SUM: [u16; 5] = [0, 348, 1388, 2948, 3988];
const EXP_T_EVEN: [u16; 5] = [4, 20, 52, 104, 204];
const EXP_MODULES_ODD: [u8; 5] = [12, 10, 8, 6, 4];
const EXP_MODULES_EVEN: [u8; 5] = [5, 7, 9, 11, 13];
const EXP_WIDEST_ODD: [u8; 5] = [7, 5, 4, 3, 1];
const EXP_WIDEST_EVEN: [u8; 5] = [2, 4, 5, 6, 8];
/// Checksum weights of the 23 character positions (table 14), eight elements each.
const EXP_WEIGHTS: [u8; 184] = [
    1, 3, 9, 27, 81, 32, 96, 77, 20, 60, 180, 118, 143, 7, 21, 63, 189, 145, 13, 39, 117, 140, 209,
    205, 193, 157, 49, 147, 19, 57, 171, 91, 62, 186, 136, 197, 169, 85, 44, 132, 185, 133, 188,
    142, 4, 12, 36, 108, 113, 128, 173, 97, 80, 29, 87, 50, 150, 28, 84, 41, 123, 158, 52, 156, 46,
    138, 203, 187, 139, 206, 196, 166, 76, 17, 51, 153, 37, 111, 122, 155, 43, 129, 176, 106, 107,
    110, 119, 146, 16, 48, 144, 10, 30, 90, 59, 177, 109, 116, 137, 200, 178, 112, 125, 164, 70,
    210, 208, 202, 184, 130, 179, 115, 134, 191, 151, 31, 93, 68, 204, 190, 148, 22, 66, 198, 172,
    94, 71, 2, 6, 18, 54, 162, 64, 192, 154, 40, 120, 149, 25, 75, 14, 42, 126, 167, 79, 26, 78,
    23, 69, 207, 199, 175, 103, 98, 83, 38, 114, 131, 182, 124, 161, 61, 183, 127, 170, 88, 53,
    159, 55, 165, 73, 8, 24, 72, 5, 15, 45, 135, 194, 160, 58, 174, 100, 89,
];
/// The six finder patterns A-F and their mirror images, in table 15's order (A1, A2, B1,
/// B2, …).
const EXP_FINDERS: [[u8; 5]; 12] = [
    [1, 8, 4, 1, 1],
    [1, 1, 4, 8, 1],
    [3, 6, 4, 1, 1],
    [1, 1, 4, 6, 3],
    [3, 4, 6, 1, 1],
    [1, 1, 6, 4, 3],
    [3, 2, 8, 1, 1],
    [1, 1, 8, 2, 3],
    [2, 6, 5, 1, 1],
    [1, 1, 5, 6, 2],
    [2, 2, 9, 1, 1],
    [1, 1, 9, 2, 2],
];
/// The finder sequence for 2-11 finders (table 16), 1-based into [`EXP_FINDERS`].
const EXP_SEQUENCES: [[u8; 11]; 10] = [
    [1, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    [1, 4, 3, 0, 0, 0, 0, 0, 0, 0, 0],
    [1, 6, 3, 8, 0, 0, 0, 0, 0, 0, 0],
    [1, 10, 3, 8, 5, 0, 0, 0, 0, 0, 0],
    [1, 10, 3, 8, 7, 12, 0, 0, 0, 0, 0],
    [1, 10, 3, 8, 9, 12, 11, 0, 0, 0, 0],
    [1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0],
    [1, 2, 3, 4, 5, 6, 7, 10, 9, 0, 0],
    [1, 2, 3, 4, 5, 6, 7, 10, 11, 12, 0],
    [1, 2, 3, 4, 5, 8, 7, 10, 9, 12, 11],
];
/// For each finder count (2-11), the weight row (into [`EXP_WEIGHTS`]) of each data
/// character by its position.
const EXP_WEIGHT_ROWS: [[u8; 21]; 10] = [
    [
        0, 1, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ],
    [
        0, 5, 6, 3, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ],
    [
        0, 9, 10, 3, 4, 13, 14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ],
    [
        0, 17, 18, 3, 4, 13, 14, 7, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ],
    [
        0, 17, 18, 3, 4, 13, 14, 11, 12, 21, 22, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ],
    [
        0, 17, 18, 3, 4, 13, 14, 15, 16, 21, 22, 19, 20, 0, 0, 0, 0, 0, 0, 0, 0,
    ],
    [
        0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 0, 0, 0, 0, 0, 0,
    ],
    [
        0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 17, 18, 15, 16, 0, 0, 0, 0,
    ],
    [
        0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 17, 18, 19, 20, 21, 22, 0, 0,
    ],
    [
        0, 1, 2, 3, 4, 5, 6, 7, 8, 13, 14, 11, 12, 17, 18, 15, 16, 21, 22, 19, 20,
    ],
];
/// Most data characters (12 bits each) of an Expanded symbol.
const EXP_DATA_CHARS_MAX: usize = 21;
/// FNC1 in the element string (a byte no AI data has).
const FNC1_MARK: u8 = 0;

/// The bits of an Expanded symbol's data characters.
struct Bits {
    bits: [u8; EXP_DATA_CHARS_MAX * 12],
    len: usize,
    full: bool,
}

impl Bits {
    fn push(&mut self, value: u32, n: usize) {
        for i in (0..n).rev() {
            match self.bits.get_mut(self.len) {
                Some(b) => {
                    *b = (value >> i & 1) as u8;
                    self.len += 1;
                }
                None => self.full = true,
            }
        }
    }
}

/// AIs whose data has a predefined length: no FNC1 follows them (by their first two
/// digits).
fn predefined_length(ai: &[u8]) -> bool {
    matches!(
        ai,
        [b'0', b'0'..=b'4', ..]
            | [b'1', b'1'..=b'9', ..]
            | [b'2', b'0', ..]
            | [b'3', b'1'..=b'6', ..]
            | [b'4', b'1', ..]
    )
}

/// The element string of `(AI)data…` (FNC1 marked after each field not of predefined
/// length, but the last), or of data without parentheses as it is; its length.
fn element_string(
    data: &[u8],
    out: &mut [u8; 2 * crate::barcode::BARCODE_DATA_MAX_BYTES],
) -> Result<usize, BarcodeError> {
    let mut n = 0;
    let mut put = |b: u8, n: &mut usize| -> Result<(), BarcodeError> {
        *out.get_mut(*n).ok_or(BarcodeError::Length)? = b;
        *n += 1;
        Ok(())
    };
    if data.first() != Some(&b'(') {
        for &b in data {
            put(b, &mut n)?;
        }
        return Ok(n);
    }
    let mut i = 0;
    let mut needs_fnc1 = false;
    while i < data.len() {
        // "(" AI ")" then the field up to the next "(".
        if data[i] != b'(' {
            return Err(BarcodeError::BadData);
        }
        let close = data[i..]
            .iter()
            .position(|&b| b == b')')
            .ok_or(BarcodeError::BadData)?
            + i;
        let ai = &data[i + 1..close];
        if !(2..=4).contains(&ai.len()) || !ai.iter().all(u8::is_ascii_digit) {
            return Err(BarcodeError::BadData);
        }
        let end = data[close..]
            .iter()
            .position(|&b| b == b'(')
            .map_or(data.len(), |p| p + close);
        let field = &data[close + 1..end];
        if field.is_empty() {
            return Err(BarcodeError::BadData);
        }
        if needs_fnc1 {
            put(FNC1_MARK, &mut n)?;
        }
        for &b in ai.iter().chain(field) {
            put(b, &mut n)?;
        }
        needs_fnc1 = !predefined_length(ai);
        i = end;
    }
    Ok(n)
}

fn numeric_item(b: u8) -> Option<u32> {
    match b {
        b'0'..=b'9' => Some(u32::from(b - b'0')),
        FNC1_MARK => Some(10),
        _ => None,
    }
}

/// Alphanumeric mode: (value, bits).
fn alpha_item(b: u8) -> Option<(u32, usize)> {
    Some(match b {
        b'0'..=b'9' => (u32::from(b - b'0') + 5, 5),
        FNC1_MARK => (15, 5),
        b'A'..=b'Z' => (u32::from(b - b'A') + 32, 6),
        b'*' => (58, 6),
        b',' => (59, 6),
        b'-' => (60, 6),
        b'.' => (61, 6),
        b'/' => (62, 6),
        _ => return None,
    })
}

/// ISO/IEC 646 mode: (value, bits).
fn iso_item(b: u8) -> Option<(u32, usize)> {
    const SPECIALS: &[u8] = b"!\"%&'()*+,-./:;<=>?_ ";
    Some(match b {
        b'0'..=b'9' | FNC1_MARK => alpha_item(b)?,
        b'A'..=b'Z' => (u32::from(b - b'A') + 64, 7),
        b'a'..=b'z' => (u32::from(b - b'a') + 90, 7),
        _ => {
            let at = SPECIALS.iter().position(|&s| s == b)?;
            (232 + at as u32, 8)
        }
    })
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum GpMode {
    Numeric,
    Alpha,
    Iso,
}

/// The general-purpose encodation of the element string `items` into `bits`.
fn general_purpose(items: &[u8], bits: &mut Bits) -> Result<GpMode, BarcodeError> {
    let numeric_run = |i: usize| {
        items[i..]
            .iter()
            .take_while(|&&b| numeric_item(b).is_some())
            .count()
    };
    let mut mode = GpMode::Numeric;
    let mut i = 0;
    while i < items.len() {
        let b = items[i];
        match mode {
            GpMode::Numeric => {
                let pair = (
                    numeric_item(b),
                    items.get(i + 1).and_then(|&n| numeric_item(n)),
                );
                match pair {
                    (Some(a), Some(c)) if !(a == 10 && c == 10) => {
                        bits.push(11 * a + c + 8, 7);
                        i += 2;
                    }
                    _ => {
                        // A lone digit, or not a digit: latch to alphanumeric.
                        bits.push(0, 4);
                        mode = GpMode::Alpha;
                    }
                }
            }
            GpMode::Alpha | GpMode::Iso if numeric_run(i) >= 4 => {
                bits.push(0, 3);
                mode = GpMode::Numeric;
            }
            GpMode::Alpha => match alpha_item(b) {
                Some((v, n)) => {
                    bits.push(v, n);
                    i += 1;
                }
                None if iso_item(b).is_some() => {
                    bits.push(4, 5);
                    mode = GpMode::Iso;
                }
                None => return Err(BarcodeError::BadData),
            },
            GpMode::Iso => {
                let alpha_ahead = items[i..].iter().take(5).all(|&c| alpha_item(c).is_some())
                    && items.len() - i >= 5;
                if alpha_ahead {
                    bits.push(4, 5);
                    mode = GpMode::Alpha;
                    continue;
                }
                let (v, n) = iso_item(b).ok_or(BarcodeError::BadData)?;
                bits.push(v, n);
                i += 1;
            }
        }
        if bits.full {
            return Err(BarcodeError::Length);
        }
    }
    Ok(mode)
}

fn expanded(s: &mut Symbol, data: &[u8]) -> Result<(), BarcodeError> {
    let mut items = [0u8; 2 * crate::barcode::BARCODE_DATA_MAX_BYTES];
    let n = element_string(data, &mut items)?;
    if n == 0 {
        return Err(BarcodeError::Length);
    }
    let mut bits = Bits {
        bits: [0; EXP_DATA_CHARS_MAX * 12],
        len: 0,
        full: false,
    };
    // Linkage flag 0, encodation method "00", the variable length field (set below).
    bits.push(0, 5);
    let mode = general_purpose(&items[..n], &mut bits)?;
    if bits.full {
        return Err(BarcodeError::Length);
    }
    // Symbol characters: the data characters and the check character, at least 4.
    let symbol_chars = (bits.len.div_ceil(12) + 1).max(4);
    let data_chars = symbol_chars - 1;
    if data_chars > EXP_DATA_CHARS_MAX {
        return Err(BarcodeError::Length);
    }
    let end = 12 * data_chars;
    if mode == GpMode::Numeric {
        bits.push(0, 4.min(end - bits.len));
    }
    // Padding: "00100" repeated, the last cut short.
    while bits.len < end {
        let k = 5.min(end - bits.len);
        bits.push(4 >> (5 - k), k);
    }
    // The variable length field: symbol characters odd, and more than 14.
    bits.bits[3] = (symbol_chars & 1) as u8;
    bits.bits[4] = u8::from(symbol_chars > 14);
    let mut widths = [[0u8; 8]; EXP_DATA_CHARS_MAX];
    for (c, w) in widths.iter_mut().enumerate().take(data_chars) {
        let value = bits.bits[12 * c..12 * c + 12]
            .iter()
            .fold(0u16, |a, &b| (a << 1) | u16::from(b));
        *w = exp_char_widths(value);
    }
    let finders = symbol_chars.div_ceil(2);
    let weight_row = &EXP_WEIGHT_ROWS[(data_chars - 2) / 2];
    let checksum: u32 = (0..data_chars)
        .map(|c| {
            let row = usize::from(weight_row[c]);
            (0..8)
                .map(|j| u32::from(widths[c][j]) * u32::from(EXP_WEIGHTS[row * 8 + j]))
                .sum::<u32>()
        })
        .sum();
    let check = 211 * (symbol_chars as u32 - 4) + checksum % 211;
    let check_widths = exp_char_widths(check as u16);
    // Elements: leading space, guard bar, then per finder: (left char,) finder, right char.
    let mut elements = [0u8; 5 * 11 + 8 * 22 + 4];
    let count = finders * 5 + symbol_chars * 8 + 4;
    let sequence = &EXP_SEQUENCES[finders - 2];
    for (f, &pattern) in sequence.iter().take(finders).enumerate() {
        let finder = &EXP_FINDERS[usize::from(pattern) - 1];
        elements[21 * f + 10..21 * f + 15].copy_from_slice(finder);
    }
    elements[2..10].copy_from_slice(&check_widths);
    for (c, w) in widths.iter().enumerate().take(data_chars) {
        let pair = c / 2;
        if c % 2 == 1 {
            elements[21 * pair + 23..21 * pair + 31].copy_from_slice(w);
        } else {
            for j in 0..8 {
                elements[21 * pair + 15 + j] = w[7 - j];
            }
        }
    }
    elements[0] = 1;
    elements[1] = 1;
    elements[count - 2] = 1;
    elements[count - 1] = 1;
    // Runs start with the guard bar; a trailing space is the quiet zone's.
    let mut runs = &elements[1..count];
    if runs.len() % 2 == 0 {
        runs = &runs[..runs.len() - 1];
    }
    s.runs(runs)?;
    for &b in data {
        s.hri_byte(b);
    }
    Ok(())
}

/// The eight element widths of an Expanded data or check character of `value` (0-4095).
fn exp_char_widths(value: u16) -> [u8; 8] {
    let group = (0..5).rev().find(|&g| value >= EXP_G_SUM[g]).unwrap_or(0);
    let v = value - EXP_G_SUM[group];
    let (odd, even) = (v / EXP_T_EVEN[group], v % EXP_T_EVEN[group]);
    let mut w = [0u8; 4];
    let mut out = [0u8; 8];
    rss_widths(
        i64::from(odd),
        i64::from(EXP_MODULES_ODD[group]),
        4,
        i64::from(EXP_WIDEST_ODD[group]),
        false,
        &mut w,
    );
    for k in 0..4 {
        out[2 * k] = w[k];
    }
    rss_widths(
        i64::from(even),
        i64::from(EXP_MODULES_EVEN[group]),
        4,
        i64::from(EXP_WIDEST_EVEN[group]),
        true,
        &mut w,
    );
    for k in 0..4 {
        out[2 * k + 1] = w[k];
    }
    out
}

fn omnidirectional(s: &mut Symbol, data: &[u8]) -> Result<(), BarcodeError> {
    let (d, value) = gtin(data)?;
    let (left, right) = (value / 4_537_077, value % 4_537_077);
    let chars = [left / 1597, left % 1597, right / 1597, right % 1597];
    // widths[element][character]
    let mut widths = [[0u8; 4]; 8];
    for (i, &c) in chars.iter().enumerate() {
        let outside = i % 2 == 0;
        let group = if outside {
            (0..5)
                .rev()
                .find(|&g| c >= u64::from(G_SUM[g]))
                .unwrap_or(0)
        } else {
            (5..9)
                .rev()
                .find(|&g| c >= u64::from(G_SUM[g]))
                .unwrap_or(5)
        };
        let v = c - u64::from(G_SUM[group]);
        let t = u64::from(T[group]);
        let (odd, even) = if outside {
            (v / t, v % t)
        } else {
            (v % t, v / t)
        };
        let mut w = [0u8; 4];
        rss_widths(
            odd as i64,
            i64::from(MODULES_ODD[group]),
            4,
            i64::from(WIDEST_ODD[group]),
            outside,
            &mut w,
        );
        for k in 0..4 {
            widths[2 * k][i] = w[k];
        }
        rss_widths(
            even as i64,
            i64::from(MODULES_EVEN[group]),
            4,
            i64::from(WIDEST_EVEN[group]),
            !outside,
            &mut w,
        );
        for k in 0..4 {
            widths[2 * k + 1][i] = w[k];
        }
    }
    let mut checksum = 0u32;
    for (i, row) in widths.iter().enumerate() {
        for (c, &w) in row.iter().enumerate() {
            checksum += u32::from(WEIGHTS[i + 8 * c]) * u32::from(w);
        }
    }
    let mut checksum = checksum % 79;
    if checksum >= 8 {
        checksum += 1;
    }
    if checksum >= 72 {
        checksum += 1;
    }
    let (c_left, c_right) = ((checksum / 9) as usize, (checksum % 9) as usize);
    let mut total = [1u8; 46];
    for i in 0..8 {
        total[i + 2] = widths[i][0];
        total[i + 15] = widths[7 - i][1];
        total[i + 23] = widths[i][3];
        total[i + 36] = widths[7 - i][2];
    }
    for i in 0..5 {
        total[i + 10] = FINDER[c_left][i];
        total[i + 31] = FINDER[c_right][4 - i];
    }
    // Element 0 is the leading space (the quiet zone has it).
    s.runs(&total[1..])?;
    hri_gtin(s, &d);
    Ok(())
}

fn limited(s: &mut Symbol, data: &[u8]) -> Result<(), BarcodeError> {
    let (d, value) = gtin(data)?;
    if d[0] > 1 {
        return Err(BarcodeError::BadData);
    }
    let halves = [value / 2_013_571, value % 2_013_571];
    let mut widths = [[0u8; 14]; 2];
    for (half, &reg) in widths.iter_mut().zip(&halves) {
        let reg = reg as u32;
        let group = (0..7)
            .rev()
            .find(|&g| reg >= LTD_GROUP_START[g])
            .unwrap_or(0);
        let v = reg - LTD_GROUP_START[group];
        let (odd, even) = (v / LTD_T_EVEN[group], v % LTD_T_EVEN[group]);
        let mut w = [0u8; 7];
        rss_widths(
            i64::from(odd),
            i64::from(LTD_MODULES_ODD[group]),
            7,
            i64::from(LTD_WIDEST_ODD[group]),
            true,
            &mut w,
        );
        for k in 0..7 {
            half[2 * k] = w[k];
        }
        rss_widths(
            i64::from(even),
            i64::from(LTD_MODULES_EVEN[group]),
            7,
            i64::from(LTD_WIDEST_EVEN[group]),
            false,
            &mut w,
        );
        for k in 0..7 {
            half[2 * k + 1] = w[k];
        }
    }
    let checksum: u32 = (0..14)
        .map(|i| {
            u32::from(LTD_WEIGHTS[i]) * u32::from(widths[0][i])
                + u32::from(LTD_WEIGHTS[i + 14]) * u32::from(widths[1][i])
        })
        .sum::<u32>()
        % 89;
    let check = &LTD_CHECK.as_bytes()[14 * checksum as usize..][..14];
    let mut total = [1u8; 46];
    for i in 0..14 {
        total[i + 2] = widths[0][i];
        total[i + 16] = check[i] - b'0';
        total[i + 30] = widths[1][i];
    }
    s.runs(&total[1..])?;
    hri_gtin(s, &d);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tables_have_their_sizes() {
        assert_eq!(LTD_CHECK.len(), 89 * 14);
        assert!(LTD_CHECK.bytes().all(|b| (b'1'..=b'3').contains(&b)));
    }

    #[test]
    fn every_character_has_its_module_count() {
        let mut s = Symbol::default();
        s.encode(75, b"0950110153000").unwrap();
        // 96 modules less the leading space.
        assert_eq!(
            s.runs_widths().iter().map(|&w| u32::from(w)).sum::<u32>(),
            95
        );
        assert_eq!(s.hri(), b"(01)09501101530003");
        s.encode(77, b"1501234567890").unwrap();
        assert_eq!(
            s.runs_widths().iter().map(|&w| u32::from(w)).sum::<u32>(),
            73
        );
        assert_eq!(s.encode(77, b"2501234567890"), Err(BarcodeError::BadData));
        assert_eq!(
            s.encode(75, b"09501101530001"),
            Err(BarcodeError::BadCheckDigit)
        );
    }
}
