//! PDF417 data compaction (ISO/IEC 15438 §5.4): bytes to data codewords. Runs of 13 or more
//! digits go in numeric compaction (44 digits in 15 codewords), runs of text (printable
//! ASCII, CR, LF, HT) of 5 or more in text compaction (two characters a codeword, through
//! its four submodes), and anything else in byte compaction (six bytes in five codewords).
//! The symbol starts in text compaction, alpha submode, as the standard has it.
//!
//! It writes into the caller's fixed buffer and fails (None) when the data does not fit;
//! it never allocates and never panics.

const LATCH_TEXT: u16 = 900;
const LATCH_BYTE: u16 = 901;
const LATCH_NUMERIC: u16 = 902;
/// Byte compaction for a count of bytes that is a multiple of six.
const LATCH_BYTE_6: u16 = 924;

/// A run of at least this many digits goes in numeric compaction.
const NUMERIC_RUN_MIN: usize = 13;
/// A run of at least this many text characters goes in text compaction (from bytes).
const TEXT_RUN_MIN: usize = 5;

/// Mixed submode values of ASCII (0x00-0x7F), 0xFF where it has none.
const MIXED: [u8; 128] = table(&[
    b'0', b'1', b'2', b'3', b'4', b'5', b'6', b'7', b'8', b'9', b'&', b'\r', b'\t', b',', b':',
    b'#', b'-', b'.', b'$', b'/', b'+', b'%', b'*', b'=', b'^', 0, b' ',
]);
/// Punctuation submode values of ASCII, 0xFF where it has none.
const PUNCT: [u8; 128] = table(b";<>@[\\]_`~!\r\t,:\n-.$/\"|*()?{}'");

/// ASCII to submode value, from the submode's characters in value order (0: none).
const fn table(raw: &[u8]) -> [u8; 128] {
    let mut t = [0xFF; 128];
    let mut i = 0;
    while i < raw.len() {
        if raw[i] != 0 {
            t[raw[i] as usize] = i as u8;
        }
        i += 1;
    }
    t
}

/// Submode latches and shifts.
const LL: u8 = 27;
const AS: u8 = 27;
const ML: u8 = 28;
const AL_FROM_MIXED: u8 = 28;
const PL: u8 = 25;
const PS: u8 = 29;
const AL_FROM_PUNCT: u8 = 29;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Submode {
    Alpha,
    Lower,
    Mixed,
    Punct,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Text,
    Byte,
    Numeric,
}

fn is_text(b: u8) -> bool {
    matches!(b, b'\t' | b'\n' | b'\r' | 0x20..=0x7E)
}
fn is_upper(b: u8) -> bool {
    b == b' ' || b.is_ascii_uppercase()
}
fn is_lower(b: u8) -> bool {
    b == b' ' || b.is_ascii_lowercase()
}
fn is_mixed(b: u8) -> bool {
    b < 128 && MIXED[usize::from(b)] != 0xFF
}
fn is_punct(b: u8) -> bool {
    b < 128 && PUNCT[usize::from(b)] != 0xFF
}

/// Codewords written into a fixed buffer; `full` once one did not fit.
struct Out<'a> {
    buf: &'a mut [u16],
    len: usize,
    full: bool,
}

impl Out<'_> {
    fn push(&mut self, cw: u16) {
        match self.buf.get_mut(self.len) {
            Some(slot) => {
                *slot = cw;
                self.len += 1;
            }
            None => self.full = true,
        }
    }
}

/// Digits from `at`.
fn digit_run(data: &[u8], at: usize) -> usize {
    data[at..].iter().take_while(|b| b.is_ascii_digit()).count()
}

/// Text characters from `at`, stopping before a run of digits numeric compaction takes.
fn text_run(data: &[u8], at: usize) -> usize {
    let mut i = at;
    while i < data.len() && is_text(data[i]) {
        if digit_run(data, i) >= NUMERIC_RUN_MIN {
            break;
        }
        i += 1;
    }
    i - at
}

/// Bytes from `at` (at least one), stopping before a run that text or numeric compaction
/// takes.
fn byte_run(data: &[u8], at: usize) -> usize {
    let mut i = at;
    while i < data.len() {
        if i > at && (digit_run(data, i) >= NUMERIC_RUN_MIN || text_run(data, i) >= TEXT_RUN_MIN) {
            break;
        }
        i += 1;
    }
    i - at
}

/// `data` as data codewords in `buf` (without the symbol length descriptor): how many, or
/// None when they do not fit.
pub(super) fn encode(data: &[u8], buf: &mut [u16]) -> Option<usize> {
    let mut out = Out {
        buf,
        len: 0,
        full: false,
    };
    let mut mode = Mode::Text;
    let mut submode = Submode::Alpha;
    let mut at = 0;
    while at < data.len() && !out.full {
        let digits = digit_run(data, at);
        if digits >= NUMERIC_RUN_MIN {
            out.push(LATCH_NUMERIC);
            mode = Mode::Numeric;
            numeric(&data[at..at + digits], &mut out);
            at += digits;
            continue;
        }
        let text = text_run(data, at);
        // Short runs of text go in text compaction unless bytes are latched: there a latch
        // to text and back would cost more than the bytes.
        if text >= TEXT_RUN_MIN || (text > 0 && mode != Mode::Byte) {
            if mode != Mode::Text {
                out.push(LATCH_TEXT);
                mode = Mode::Text;
                submode = Submode::Alpha;
            }
            submode = text_compaction(&data[at..at + text], submode, &mut out);
            at += text;
            continue;
        }
        let bytes = byte_run(data, at);
        out.push(if bytes.is_multiple_of(6) {
            LATCH_BYTE_6
        } else {
            LATCH_BYTE
        });
        mode = Mode::Byte;
        byte_compaction(&data[at..at + bytes], &mut out);
        at += bytes;
    }
    (!out.full).then_some(out.len)
}

/// Text compaction of `text` (text characters only) from `submode`; the submode it ends in.
fn text_compaction(text: &[u8], mut submode: Submode, out: &mut Out<'_>) -> Submode {
    // Values are paired into codewords as they come: `half` holds a first one.
    let half = core::cell::Cell::new(None::<u8>);
    let value = |v: u8, out: &mut Out<'_>| match half.take() {
        Some(h) => out.push(u16::from(h) * 30 + u16::from(v)),
        None => half.set(Some(v)),
    };
    let mut i = 0;
    while i < text.len() {
        let b = text[i];
        match submode {
            Submode::Alpha => {
                if is_upper(b) {
                    value(if b == b' ' { 26 } else { b - b'A' }, out);
                } else if is_lower(b) {
                    value(LL, out);
                    submode = Submode::Lower;
                    continue;
                } else if is_mixed(b) {
                    value(ML, out);
                    submode = Submode::Mixed;
                    continue;
                } else {
                    value(PS, out);
                    value(PUNCT[usize::from(b)], out);
                }
            }
            Submode::Lower => {
                if is_lower(b) {
                    value(if b == b' ' { 26 } else { b - b'a' }, out);
                } else if b.is_ascii_uppercase() {
                    value(AS, out);
                    value(b - b'A', out);
                } else if is_mixed(b) {
                    value(ML, out);
                    submode = Submode::Mixed;
                    continue;
                } else {
                    value(PS, out);
                    value(PUNCT[usize::from(b)], out);
                }
            }
            Submode::Mixed => {
                if is_mixed(b) {
                    value(MIXED[usize::from(b)], out);
                } else if is_upper(b) {
                    value(AL_FROM_MIXED, out);
                    submode = Submode::Alpha;
                    continue;
                } else if is_lower(b) {
                    value(LL, out);
                    submode = Submode::Lower;
                    continue;
                } else if text.get(i + 1).is_some_and(|&n| is_punct(n)) {
                    value(PL, out);
                    submode = Submode::Punct;
                    continue;
                } else {
                    value(PS, out);
                    value(PUNCT[usize::from(b)], out);
                }
            }
            Submode::Punct => {
                if is_punct(b) {
                    value(PUNCT[usize::from(b)], out);
                } else {
                    value(AL_FROM_PUNCT, out);
                    submode = Submode::Alpha;
                    continue;
                }
            }
        }
        i += 1;
    }
    if half.get().is_some() {
        // Padded with 29: a shift to punctuation with nothing after it, or in the
        // punctuation submode a latch to alpha.
        if submode == Submode::Punct {
            submode = Submode::Alpha;
        }
        value(29, out);
    }
    submode
}

/// Byte compaction: six bytes to five base-900 codewords, the rest one codeword each.
fn byte_compaction(bytes: &[u8], out: &mut Out<'_>) {
    let mut chunks = bytes.chunks_exact(6);
    for six in &mut chunks {
        let mut v = six.iter().fold(0u64, |a, &b| (a << 8) | u64::from(b));
        let mut cws = [0u16; 5];
        for cw in cws.iter_mut().rev() {
            *cw = (v % 900) as u16;
            v /= 900;
        }
        cws.iter().for_each(|&cw| out.push(cw));
    }
    for &b in chunks.remainder() {
        out.push(u16::from(b));
    }
}

/// Numeric compaction: groups of 44 digits, each "1" followed by the digits, in base 900.
fn numeric(digits: &[u8], out: &mut Out<'_>) {
    for group in digits.chunks(44) {
        // The decimal number 1<group>, divided by 900 until nothing is left.
        let mut num = [0u8; 45];
        num[0] = 1;
        for (d, &b) in num[1..].iter_mut().zip(group) {
            *d = b - b'0';
        }
        let num = &mut num[..=group.len()];
        let mut cws = [0u16; 16];
        let mut n = 0;
        let mut start = 0;
        while start < num.len() {
            let mut rem = 0u32;
            for d in num[start..].iter_mut() {
                let cur = rem * 10 + u32::from(*d);
                *d = (cur / 900) as u8;
                rem = cur % 900;
            }
            cws[n] = rem as u16;
            n += 1;
            while start < num.len() && num[start] == 0 {
                start += 1;
            }
        }
        cws[..n].iter().rev().for_each(|&cw| out.push(cw));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cws(data: &[u8]) -> ([u16; 64], usize) {
        let mut buf = [0u16; 64];
        let n = encode(data, &mut buf).unwrap();
        (buf, n)
    }

    #[test]
    fn text_pairs_values_and_pads_with_29() {
        // "PDF417": P D F (alpha), ml, 4 1 7 (mixed), pad.
        let (c, n) = cws(b"PDF417");
        assert_eq!(
            &c[..n],
            &[15 * 30 + 3, 5 * 30 + 28, 4 * 30 + 1, 7 * 30 + 29]
        );
    }

    #[test]
    fn numeric_compaction_matches_the_standard_example() {
        // ISO/IEC 15438 Annex D: 000213298174000 -> 1000213298174000 -> 1, 624, 434, 632, 282, 200.
        let (c, n) = cws(b"000213298174000");
        assert_eq!(&c[..n], &[LATCH_NUMERIC, 1, 624, 434, 632, 282, 200]);
    }

    #[test]
    fn bytes_go_six_to_five() {
        let (c, n) = cws(&[0xFF; 7]);
        assert_eq!(c[0], LATCH_BYTE);
        assert_eq!(n, 1 + 5 + 1);
        let (c, n) = cws(&[0x80; 12]);
        assert_eq!((c[0], n), (LATCH_BYTE_6, 11));
    }

    #[test]
    fn too_much_for_the_buffer_is_none() {
        let mut buf = [0u16; 3];
        assert_eq!(encode(b"ABCDEFGH", &mut buf), None);
        assert_eq!(encode(b"ABCDEF", &mut buf), Some(3));
    }
}
