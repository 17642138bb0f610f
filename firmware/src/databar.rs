//! GS1 DataBar (GS k m = 75-78), data to bars: Omnidirectional, Truncated (the same
//! symbol, drawn to the GS h height as every system is) and Limited, from the 13 digits of
//! a GTIN without its check digit (AI (01) is implied; the printer computes the check
//! digit, and a 14th digit given is checked); and Expanded, from application identifiers
//! and their data, each AI in parentheses as for GS1-128 (`(01)04912345678904(10)ABC`),
//! in one row (not stacked), through the general-purpose encodation (method "00": numeric,
//! alphanumeric and ISO/IEC 646 modes, FNC1 after each AI not of a predefined length).
//!
//! The facts are ISO/IEC 24724:2011's (its clauses are cited where they are used): the
//! value groups and their element counts, the checksum weights, the finder patterns and
//! Limited's check characters are the standard's tables. Each data character's value
//! splits into an odd and an even part, and each part picks one of the ways to spread the
//! part's modules over its elements, counted in the standard's order ([`element_widths`]).
//! A symbol is then built left to right from its named pieces (guards, characters,
//! finders). Nothing here allocates or panics.

use crate::barcode::{BarcodeError, Symbol};
use crate::linear::gs1_check_digit;

/// How one part (the odd or the even elements) of a data character is spread: its
/// modules, the widest an element may be, and whether one element must be one module wide.
#[derive(Debug, Clone, Copy)]
struct Spread {
    modules: u8,
    widest: u8,
    narrow: bool,
}

/// One group of a data character's values: from `first` on, a value's offset in the
/// group gives its odd and even parts, `fast` values of one part for each of the other.
#[derive(Debug, Clone, Copy)]
struct Group {
    first: u32,
    odd: Spread,
    even: Spread,
    /// How many values the part that varies fastest has.
    fast: u32,
    /// Whether that part is the even one (else the odd one).
    even_fast: bool,
}

const fn group(first: u32, fast: u32, even_fast: bool, odd: Spread, even: Spread) -> Group {
    Group {
        first,
        odd,
        even,
        fast,
        even_fast,
    }
}

const fn spread(modules: u8, widest: u8, narrow: bool) -> Spread {
    Spread {
        modules,
        widest,
        narrow,
    }
}

/// Omnidirectional's outside characters (1 and 3), values 0-2840 (5.2.2): 16 modules,
/// the even part varies fastest and has a one-module element.
const OMNI_OUTSIDE: [Group; 5] = [
    group(0, 1, true, spread(12, 8, false), spread(4, 1, true)),
    group(161, 10, true, spread(10, 6, false), spread(6, 3, true)),
    group(961, 34, true, spread(8, 4, false), spread(8, 5, true)),
    group(2015, 70, true, spread(6, 3, false), spread(10, 6, true)),
    group(2715, 126, true, spread(4, 1, false), spread(12, 8, true)),
];
/// Omnidirectional's inside characters (2 and 4), values 0-1596 (5.2.2): 15 modules,
/// the odd part varies fastest and has a one-module element.
const OMNI_INSIDE: [Group; 4] = [
    group(0, 4, false, spread(5, 2, true), spread(10, 7, false)),
    group(336, 20, false, spread(7, 4, true), spread(8, 5, false)),
    group(1036, 48, false, spread(9, 6, true), spread(6, 3, false)),
    group(1516, 81, false, spread(11, 8, true), spread(4, 1, false)),
];
/// Omnidirectional's nine finder patterns, five elements each, left to right as they
/// stand on the left (5.2.4); the right finder is drawn mirrored.
const OMNI_FINDERS: [[u8; 5]; 9] = [
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
/// Omnidirectional's checksum weights (5.2.4): eight for each of the characters 1-4, in
/// the character's own element order.
const OMNI_WEIGHTS: [[u8; 8]; 4] = [
    [1, 3, 9, 27, 2, 6, 18, 54],
    [4, 12, 36, 29, 8, 24, 72, 58],
    [16, 48, 65, 37, 32, 17, 51, 74],
    [64, 34, 23, 69, 49, 68, 46, 59],
];

/// Limited's characters, values 0-2,013,570 (6.2.2): 26 modules over 14 elements, the
/// even part varies fastest and has a one-module element.
const LIMITED: [Group; 7] = [
    group(0, 28, true, spread(17, 6, false), spread(9, 3, true)),
    group(
        183_064,
        728,
        true,
        spread(13, 5, false),
        spread(13, 4, true),
    ),
    group(
        820_064,
        6454,
        true,
        spread(9, 3, false),
        spread(17, 6, true),
    ),
    group(
        1_000_776,
        203,
        true,
        spread(15, 5, false),
        spread(11, 4, true),
    ),
    group(
        1_491_021,
        2408,
        true,
        spread(11, 4, false),
        spread(15, 5, true),
    ),
    group(1_979_845, 1, true, spread(19, 8, false), spread(7, 1, true)),
    group(
        1_996_939,
        16632,
        true,
        spread(7, 1, false),
        spread(19, 8, true),
    ),
];
/// Limited's checksum weights (6.2.4): fourteen for the left character, then fourteen
/// for the right.
const LIMITED_WEIGHTS: [[u8; 14]; 2] = [
    [1, 3, 9, 27, 81, 65, 17, 51, 64, 14, 42, 37, 22, 66],
    [20, 60, 2, 6, 18, 54, 73, 41, 34, 13, 39, 28, 84, 74],
];

/// Limited's 89 check characters (6.2.4), 14 element widths each, as digits.
const LIMITED_CHECKS: &str = concat!(
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

/// Expanded's characters, values 0-4095 (7.2.3): 17 modules over 8 elements, the even
/// part varies fastest, the odd part has a one-module element.
const EXPANDED: [Group; 5] = [
    group(0, 4, true, spread(12, 7, true), spread(5, 2, false)),
    group(348, 20, true, spread(10, 5, true), spread(7, 4, false)),
    group(1388, 52, true, spread(8, 4, true), spread(9, 5, false)),
    group(2948, 104, true, spread(6, 3, true), spread(11, 6, false)),
    group(3988, 204, true, spread(4, 1, true), spread(13, 8, false)),
];
/// Expanded's checksum weights (7.2.6): a row of eight for each position a data
/// character can have beside a finder, in the order A1 right, A2 left, A2 right, B1 left,
/// … F2 right (so the character left of finder pattern `p`, counted from 1 in
/// [`EXPANDED_FINDERS`], has row `2p - 3`, the one right of it row `2p - 2`).
const EXPANDED_WEIGHTS: [[u8; 8]; 23] = [
    [1, 3, 9, 27, 81, 32, 96, 77],
    [20, 60, 180, 118, 143, 7, 21, 63],
    [189, 145, 13, 39, 117, 140, 209, 205],
    [193, 157, 49, 147, 19, 57, 171, 91],
    [62, 186, 136, 197, 169, 85, 44, 132],
    [185, 133, 188, 142, 4, 12, 36, 108],
    [113, 128, 173, 97, 80, 29, 87, 50],
    [150, 28, 84, 41, 123, 158, 52, 156],
    [46, 138, 203, 187, 139, 206, 196, 166],
    [76, 17, 51, 153, 37, 111, 122, 155],
    [43, 129, 176, 106, 107, 110, 119, 146],
    [16, 48, 144, 10, 30, 90, 59, 177],
    [109, 116, 137, 200, 178, 112, 125, 164],
    [70, 210, 208, 202, 184, 130, 179, 115],
    [134, 191, 151, 31, 93, 68, 204, 190],
    [148, 22, 66, 198, 172, 94, 71, 2],
    [6, 18, 54, 162, 64, 192, 154, 40],
    [120, 149, 25, 75, 14, 42, 126, 167],
    [79, 26, 78, 23, 69, 207, 199, 175],
    [103, 98, 83, 38, 114, 131, 182, 124],
    [161, 61, 183, 127, 170, 88, 53, 159],
    [55, 165, 73, 8, 24, 72, 5, 15],
    [45, 135, 194, 160, 58, 174, 100, 89],
];
/// Expanded's finder patterns A1, A2, B1, B2, … F2 (7.2.7): each letter's pattern and its
/// mirror image.
const EXPANDED_FINDERS: [[u8; 5]; 12] = [
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
/// The finder patterns of a symbol with 2-11 finders, left to right (7.2.7), counted from
/// 1 in [`EXPANDED_FINDERS`].
const EXPANDED_SEQUENCES: [&[u8]; 10] = [
    &[1, 2],
    &[1, 4, 3],
    &[1, 6, 3, 8],
    &[1, 10, 3, 8, 5],
    &[1, 10, 3, 8, 7, 12],
    &[1, 10, 3, 8, 9, 12, 11],
    &[1, 2, 3, 4, 5, 6, 7, 8],
    &[1, 2, 3, 4, 5, 6, 7, 10, 9],
    &[1, 2, 3, 4, 5, 6, 7, 10, 11, 12],
    &[1, 2, 3, 4, 5, 8, 7, 10, 9, 12, 11],
];

/// `n` choose `k`; 0 when `k` is out of 0..=n.
fn binomial(n: i32, k: i32) -> i64 {
    if n < 0 || k < 0 || k > n {
        return 0;
    }
    let k = k.min(n - k);
    (0..k).fold(1i64, |acc, i| acc * i64::from(n - i) / i64::from(i + 1))
}

/// The ways to write `modules` as `elements` widths (in order) of 1 to `widest` modules
/// each: by inclusion and exclusion over the elements made wider than `widest`.
fn compositions(modules: i32, elements: i32, widest: i32) -> i64 {
    if elements == 0 {
        return i64::from(modules == 0);
    }
    (0..=elements)
        .map(|over| {
            let ways =
                binomial(elements, over) * binomial(modules - over * widest - 1, elements - 1);
            if over % 2 == 0 { ways } else { -ways }
        })
        .sum()
}

/// The ways to finish a part: `elements` widths of 1 to `widest` summing to `modules`,
/// one of them a single module if `narrow` (the ways with every width 2 or more, less one
/// module each, are those without).
fn ways(modules: i32, elements: i32, widest: i32, narrow: bool) -> i64 {
    let all = compositions(modules, elements, widest);
    if narrow {
        all - compositions(modules - elements, elements, widest - 1)
    } else {
        all
    }
}

/// The element widths of the part value `value` of `spread` over `out.len()` elements.
/// The standard orders a part's ways by their widths read left to right, narrower first
/// (its width algorithm, given as C in Annex B, counts them the same way): each element
/// takes the narrowest width whose ways of finishing the rest still reach `value`.
fn element_widths(mut value: i64, spread: Spread, out: &mut [u8]) {
    let widest = i32::from(spread.widest);
    let mut left = i32::from(spread.modules);
    let mut narrow = spread.narrow;
    let count = out.len() as i32;
    for (i, slot) in out.iter_mut().enumerate() {
        let after = count - 1 - i as i32;
        let mut width = 1;
        while width < widest.min(left) {
            let finishing = ways(left - width, after, widest, narrow && width != 1);
            if value < finishing {
                break;
            }
            value -= finishing;
            width += 1;
        }
        *slot = width as u8;
        left -= width;
        narrow &= width != 1;
    }
}

/// A data character of `value` in the group of `groups` it falls in: its `2 * E`
/// element widths in the character's own order (odd elements first, alternating).
fn character<const E: usize>(value: u32, groups: &[Group]) -> [[u8; E]; 2] {
    let group = groups
        .iter()
        .rev()
        .find(|g| value >= g.first)
        .unwrap_or(&groups[0]);
    let offset = value - group.first;
    let (slow, fast) = (offset / group.fast, offset % group.fast);
    let (odd, even) = if group.even_fast {
        (slow, fast)
    } else {
        (fast, slow)
    };
    let mut parts = [[0u8; E]; 2];
    element_widths(i64::from(odd), group.odd, &mut parts[0]);
    element_widths(i64::from(even), group.even, &mut parts[1]);
    parts
}

/// Interleave a character's odd and even widths into its element order.
fn interleave<const E: usize, const W: usize>(parts: [[u8; E]; 2]) -> [u8; W] {
    let mut out = [0u8; W];
    for (k, pair) in out.chunks_mut(2).enumerate() {
        pair[0] = parts[0][k];
        pair[1] = parts[1][k];
    }
    out
}

/// The elements of one symbol row, left to right, built from its pieces: at most
/// Expanded's 21 data characters, check character, 11 finders and guards.
struct Row {
    elements: [u8; 2 + 22 * 8 + 11 * 5 + 2],
    len: usize,
}

impl Row {
    /// A row starting with the left guard's bar (its narrow space is the quiet zone's).
    fn new() -> Row {
        let mut row = Row {
            elements: [0; 2 + 22 * 8 + 11 * 5 + 2],
            len: 0,
        };
        row.push(&[1]);
        row
    }

    fn push(&mut self, widths: &[u8]) {
        for &w in widths {
            if let Some(slot) = self.elements.get_mut(self.len) {
                *slot = w;
                self.len += 1;
            }
        }
    }

    /// A piece drawn mirrored (read right to left).
    fn push_mirrored(&mut self, widths: &[u8]) {
        for &w in widths.iter().rev() {
            self.push(&[w]);
        }
    }

    /// The right guard, a narrow space and a narrow bar (a space after the last bar is
    /// the quiet zone's), then the row's runs into `s`.
    fn finish(mut self, s: &mut Symbol) -> Result<(), BarcodeError> {
        self.push(&[1, 1]);
        let mut runs = &self.elements[..self.len];
        if runs.len().is_multiple_of(2) {
            runs = &runs[..runs.len() - 1];
        }
        s.runs(runs)
    }
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

/// Omnidirectional (and Truncated, the same row): 5.2.
fn omnidirectional(s: &mut Symbol, data: &[u8]) -> Result<(), BarcodeError> {
    let (d, value) = gtin(data)?;
    // 5.2.3: the left and right pairs' values, each an outside and an inside character.
    let (left, right) = ((value / 4_537_077) as u32, (value % 4_537_077) as u32);
    let outer_left: [u8; 8] = interleave(character::<4>(left / 1597, &OMNI_OUTSIDE));
    let inner_left: [u8; 8] = interleave(character::<4>(left % 1597, &OMNI_INSIDE));
    let outer_right: [u8; 8] = interleave(character::<4>(right / 1597, &OMNI_OUTSIDE));
    let inner_right: [u8; 8] = interleave(character::<4>(right % 1597, &OMNI_INSIDE));
    // 5.2.4: the checksum over characters 1-4, modulo 79, picks the left and right finders
    // (as a number 0-80 in base 9 with 8 and 72 left out).
    let checksum = [&outer_left, &inner_left, &outer_right, &inner_right]
        .iter()
        .zip(&OMNI_WEIGHTS)
        .flat_map(|(c, w)| c.iter().zip(w))
        .map(|(&e, &w)| u32::from(e) * u32::from(w))
        .sum::<u32>()
        % 79;
    let mut checksum = checksum;
    if checksum >= 8 {
        checksum += 1;
    }
    if checksum >= 72 {
        checksum += 1;
    }
    let (left_finder, right_finder) = ((checksum / 9) as usize, (checksum % 9) as usize);
    let mut row = Row::new();
    row.push(&outer_left);
    row.push(&OMNI_FINDERS[left_finder]);
    row.push_mirrored(&inner_left);
    row.push(&inner_right);
    row.push_mirrored(&OMNI_FINDERS[right_finder]);
    row.push_mirrored(&outer_right);
    row.finish(s)?;
    hri_gtin(s, &d);
    Ok(())
}

/// Limited: 6.2. The GTIN's first digit is 0 or 1.
fn limited(s: &mut Symbol, data: &[u8]) -> Result<(), BarcodeError> {
    let (d, value) = gtin(data)?;
    if d[0] > 1 {
        return Err(BarcodeError::BadData);
    }
    // 6.2.3: the left and right characters' values.
    let left: [u8; 14] = interleave(character::<7>((value / 2_013_571) as u32, &LIMITED));
    let right: [u8; 14] = interleave(character::<7>((value % 2_013_571) as u32, &LIMITED));
    // 6.2.4: the check character, by the checksum over both.
    let checksum = [&left, &right]
        .iter()
        .zip(&LIMITED_WEIGHTS)
        .flat_map(|(c, w)| c.iter().zip(w))
        .map(|(&e, &w)| u32::from(e) * u32::from(w))
        .sum::<u32>()
        % 89;
    let mut check = [0u8; 14];
    for (c, digit) in check
        .iter_mut()
        .zip(&LIMITED_CHECKS.as_bytes()[14 * checksum as usize..][..14])
    {
        *c = digit - b'0';
    }
    let mut row = Row::new();
    row.push(&left);
    row.push(&check);
    row.push(&right);
    row.finish(s)?;
    hri_gtin(s, &d);
    Ok(())
}

/// Expanded: 7.2. The element string, its general-purpose bits (7.2.5), then the row.
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
    // Symbol character 0 is the check character, 1.. the data characters; character k
    // stands left (k even) or right (k odd) of finder k / 2.
    let finders = EXPANDED_SEQUENCES[symbol_chars.div_ceil(2) - 2];
    let mut chars = [[0u8; 8]; EXP_DATA_CHARS_MAX + 1];
    let mut checksum = 0u32;
    for k in 1..symbol_chars {
        let value = bits.bits[12 * (k - 1)..12 * k]
            .iter()
            .fold(0u32, |a, &b| (a << 1) | u32::from(b));
        chars[k] = interleave(character::<4>(value, &EXPANDED));
        // 7.2.6: each data character weighted by its place beside its finder.
        let pattern = usize::from(finders[k / 2]);
        let weights = &EXPANDED_WEIGHTS[2 * pattern + k % 2 - 3];
        checksum += chars[k]
            .iter()
            .zip(weights)
            .map(|(&e, &w)| u32::from(e) * u32::from(w))
            .sum::<u32>();
    }
    let check = 211 * (symbol_chars as u32 - 4) + checksum % 211;
    chars[0] = interleave(character::<4>(check, &EXPANDED));
    let mut row = Row::new();
    for (k, c) in chars.iter().enumerate().take(symbol_chars) {
        if k % 2 == 0 {
            row.push(c);
            row.push(&EXPANDED_FINDERS[usize::from(finders[k / 2]) - 1]);
        } else {
            row.push_mirrored(c);
        }
    }
    row.finish(s)?;
    for &b in data {
        s.hri_byte(b);
    }
    Ok(())
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tables_have_their_sizes() {
        assert_eq!(LIMITED_CHECKS.len(), 89 * 14);
        assert!(LIMITED_CHECKS.bytes().all(|b| (b'1'..=b'3').contains(&b)));
    }

    /// Each group's values: `fast` values of the fast part for each value of the other,
    /// the next group starting where it ends, and neither part given more values than it
    /// has ways (a group may use only the first of them: Omnidirectional's inside groups
    /// 7 and 8 use 48 of 52 and 81 of 100); and each way's widths are a way of its part
    /// (its modules, none too wide, a narrow one where needed), in the standard's order
    /// (the widths read left to right grow with the value).
    fn check_groups<const E: usize>(groups: &[Group], values: u32) {
        let ways_of = |p: Spread| {
            ways(
                i32::from(p.modules),
                E as i32,
                i32::from(p.widest),
                p.narrow,
            )
        };
        for (i, g) in groups.iter().enumerate() {
            let (odd, even) = (ways_of(g.odd), ways_of(g.even));
            let (fast, slow) = if g.even_fast {
                (even, odd)
            } else {
                (odd, even)
            };
            let end = groups.get(i + 1).map_or(values, |n| n.first);
            let size = i64::from(end - g.first);
            assert!(i64::from(g.fast) <= fast, "group {i}: {} of {fast}", g.fast);
            assert_eq!(size % i64::from(g.fast), 0, "group {i}");
            assert!(size / i64::from(g.fast) <= slow, "group {i}");
            for (part, spread) in [(odd, g.odd), (even, g.even)] {
                let mut before = [0u8; E];
                for v in 0..part {
                    let mut w = [0u8; E];
                    element_widths(v, spread, &mut w);
                    assert_eq!(
                        w.iter().map(|&x| u32::from(x)).sum::<u32>(),
                        u32::from(spread.modules)
                    );
                    assert!(w.iter().all(|&x| (1..=spread.widest).contains(&x)), "{w:?}");
                    assert!(!spread.narrow || w.contains(&1), "{w:?}");
                    assert!(v == 0 || w > before, "{v}: {w:?} after {before:?}");
                    before = w;
                }
            }
        }
    }

    #[test]
    fn the_standards_value_groups_match_the_width_algorithm() {
        check_groups::<4>(&OMNI_OUTSIDE, 2841);
        check_groups::<4>(&OMNI_INSIDE, 1597);
        check_groups::<7>(&LIMITED, 2_013_571);
        check_groups::<4>(&EXPANDED, 4192);
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
        assert_eq!(s.runs_widths().len(), 45);
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
