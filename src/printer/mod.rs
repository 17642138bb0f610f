//! The host side of receipt printing: the receipt layout turned into the ESC/POS bytes a
//! Japanese thermal printer takes (Shift_JIS text, kanji on, ¥ for 0x5C, a partial cut),
//! using the firmware crate's command types; the port the bytes go to (a serial printer or
//! a `/dev/usb/lp*` device file); and the DLE EOT status query. Issue 5 adds the virtual
//! printer, barcodes and the print queue's paper-out handling.

mod port;

pub use port::{PrinterPort, StatusReport};

use konbini_firmware::escpos::{Command, Justify};

use crate::receipt::{Line, Receipt};

/// The ESC/POS job for `receipt` on a printer `columns` characters wide (Font A: 48 on
/// 80 mm paper, 32 on 58 mm).
pub fn encode_receipt(receipt: &Receipt, columns: usize) -> Vec<u8> {
    let mut job = Vec::with_capacity(2048);
    let mut put = |c: Command<'_>| c.encode(&mut |b: &[u8]| job.extend_from_slice(b));
    // Japanese preamble: katakana table, Shift_JIS kanji, Japan's ¥ at 0x5C.
    put(Command::Initialize);
    put(Command::CodeTable(1));
    put(Command::KanjiCodeSystem(1));
    put(Command::International(8));
    for line in &receipt.lines {
        let (justify, size, bold, text) = match line {
            Line::Title(t) => (Justify::Center, 2, true, t.clone()),
            Line::Center(t) => (Justify::Center, 1, false, t.clone()),
            Line::BigPair(..) => (Justify::Left, 1, true, line.to_text(columns)),
            Line::Notice(t) => (Justify::Left, 1, true, t.clone()),
            _ => (Justify::Left, 1, false, line.to_text(columns)),
        };
        put(Command::Justify(justify));
        put(Command::Size {
            width: size,
            height: size,
        });
        put(Command::Emphasis(bold));
        let bytes = shift_jis(&text);
        put(Command::Text(&bytes));
        put(Command::LineFeed);
    }
    put(Command::Size {
        width: 1,
        height: 1,
    });
    put(Command::Emphasis(false));
    put(Command::Justify(Justify::Left));
    put(Command::FeedLines(3));
    put(Command::Cut {
        partial: true,
        feed: 0,
    });
    job
}

/// Text in Shift_JIS for the printer. Control characters become spaces (so no text can
/// smuggle a command, DLE EOT included); what Shift_JIS cannot encode becomes `?`.
pub fn shift_jis(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() * 2);
    let mut buf = [0u8; 4];
    for c in text.chars() {
        let c = if c.is_control() { ' ' } else { c };
        let (bytes, _, unmappable) = encoding_rs::SHIFT_JIS.encode(c.encode_utf8(&mut buf));
        if unmappable {
            out.push(b'?');
        } else {
            out.extend_from_slice(&bytes);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shift_jis_as_printers_take_it() {
        assert_eq!(shift_jis("領収書"), [0x97, 0xCC, 0x8E, 0xFB, 0x8F, 0x91]);
        assert_eq!(shift_jis("¥"), [0x5C]);
        assert_eq!(shift_jis("a\u{10}\u{4}b"), b"a  b");
        assert_eq!(shift_jis("😀"), b"?");
    }
}
