//! The clerk's cash tender: the UI's rules that keep a mistyped or damaged barcode from
//! ever being taken as cash, and the tender being keyed (notes, a typed amount) before it
//! goes to the register core.
//!
//! These are rules of the keyboard, not of the sale: the core (and a replay of a recorded
//! `tender` event) takes any positive amount as it always did. The tender keyed here is
//! held by the UI until the clerk completes the sale, so it can be cleared or asked about
//! without the core (or the session log) ever seeing it; only the final amount is fed.
//! Never does I/O.

use konbini_domain::Yen;

/// A typed line of this many digits or more is a barcode attempt, never cash (no cash
/// tender at a konbini counter reaches ¥10,000,000; a slip's barcode has 44 digits, a JAN
/// code 8 or 13).
pub const BARCODE_MIN_DIGITS: usize = 8;

/// Change of this much or more is asked about before the tender is taken (a ¥10,000 note
/// keyed as ¥100,000, an amount typed twice).
pub const CONFIRM_CHANGE: Yen = Yen::new(10_000);

/// The notes a key adds to the tender: F7 ¥1,000, F8 ¥5,000, F10 ¥10,000.
pub const NOTE_KEYS: [(u8, Yen); 3] = [
    (7, Yen::new(1_000)),
    (8, Yen::new(5_000)),
    (10, Yen::new(10_000)),
];

/// The note function key `n` adds, if it is one.
pub fn note_for_key(n: u8) -> Option<Yen> {
    NOTE_KEYS.iter().find(|(k, _)| *k == n).map(|(_, y)| *y)
}

/// Whether a typed line looks like an attempt at a barcode rather than an amount of cash:
/// `BARCODE_MIN_DIGITS` digits or more, or an AIM symbology identifier (`]C1`, `]E0`, ...)
/// at its start. Such a line is scanned (and refused as a bad slip when it is not one),
/// never tendered.
pub fn looks_like_barcode(text: &str) -> bool {
    let b = text.as_bytes();
    let aim = b.len() >= 3 && b[0] == b']' && b[1].is_ascii_alphabetic() && b[2].is_ascii_digit();
    let digits = b.iter().filter(|c| c.is_ascii_digit()).count();
    aim || (digits >= BARCODE_MIN_DIGITS && b.iter().all(|c| c.is_ascii_digit() || *c == 0x1d))
}

/// The change a tender of `tendered` gives on `total`, if it covers it.
pub fn change(total: Yen, tendered: Yen) -> Option<Yen> {
    tendered.checked_sub(total)
}

/// Whether a tender giving `change` is asked about first.
pub fn needs_confirm(change: Option<Yen>) -> bool {
    change.is_some_and(|c| c >= CONFIRM_CHANGE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eight_digits_or_an_aim_prefix_is_a_barcode_attempt() {
        assert!(looks_like_barcode("12345678"));
        assert!(looks_like_barcode("4901234567894"));
        assert!(looks_like_barcode("]C1123"));
        assert!(looks_like_barcode("]E04901234567894"));
        assert!(!looks_like_barcode("1234567"));
        assert!(!looks_like_barcode("10000"));
        assert!(!looks_like_barcode("]"));
        assert!(!looks_like_barcode("hello"));
    }

    #[test]
    fn ten_thousand_yen_of_change_is_asked_about() {
        assert!(!needs_confirm(change(Yen::new(1_000), Yen::new(10_999))));
        assert!(needs_confirm(change(Yen::new(1_000), Yen::new(11_000))));
        assert!(!needs_confirm(change(Yen::new(5_000), Yen::new(1_000))));
    }

    #[test]
    fn the_note_keys_are_the_common_notes() {
        assert_eq!(note_for_key(7), Some(Yen::new(1_000)));
        assert_eq!(note_for_key(8), Some(Yen::new(5_000)));
        assert_eq!(note_for_key(10), Some(Yen::new(10_000)));
        assert_eq!(note_for_key(9), None);
    }
}
