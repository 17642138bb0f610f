//! The host side of receipt printing: the receipt layout turned into the ESC/POS bytes a
//! Japanese thermal printer takes (Shift_JIS text, kanji on, ¥ for 0x5C, the receipt
//! number as a CODE128 bar code, a partial cut), using the firmware crate's command types;
//! the port the bytes go to (a serial printer or a `/dev/usb/lp*` device file) and the DLE
//! EOT status query; the virtual printer (the firmware's engine on the host, to PNG); the
//! printer simulator on a pseudo-terminal; and the print queue drained to a real printer.
//! It never decides what a receipt says (`receipt.rs` does).

pub mod barcodes;
mod port;
pub mod queue;
pub mod sim;
pub mod virtual_printer;

pub use barcodes::ReceiptBarcodes;
pub use port::{PrinterPort, StatusReport, status_problems};
pub use virtual_printer::{PaperError, Sheet, VirtualPrinter, render};

use std::io::Write;
use std::path::Path;

use konbini_firmware::escpos::{Command, GS, Justify};
use unicode_width::UnicodeWidthStr;

use crate::receipt::{Line, Receipt, ReceiptStyle, Reprint};

use barcodes::{RECEIPT_BARCODE_HEIGHT_DOTS, RECEIPT_BARCODE_MODULE_DOTS};

/// The ESC/POS job for `receipt` on a printer `columns` characters wide (Font A: 48 on
/// 80 mm paper, 32 on 58 mm), with the receipt number as CODE128.
pub fn encode_receipt(receipt: &Receipt, columns: usize) -> Vec<u8> {
    encode_receipt_with(receipt, columns, ReceiptBarcodes::default(), &[])
}

/// The ESC/POS job for a committed sale's receipt with the bar codes `barcodes` asks
/// for: the receipt number, and its slips' bill barcodes when `barcodes.bills`.
pub fn encode_sale_receipt(
    sale: &konbini_journal::SaleRecord,
    columns: usize,
    barcodes: ReceiptBarcodes,
) -> Vec<u8> {
    encode_sale_receipt_styled(sale, columns, barcodes, &ReceiptStyle::default(), None)
}

/// [`encode_sale_receipt`] in `style` (language, stamp duty); a `reprint` is marked as one.
pub fn encode_sale_receipt_styled(
    sale: &konbini_journal::SaleRecord,
    columns: usize,
    barcodes: ReceiptBarcodes,
    style: &ReceiptStyle,
    reprint: Option<&Reprint>,
) -> Vec<u8> {
    let bills = barcodes::bills_of(sale);
    let receipt = Receipt::for_sale_styled(sale, style, reprint);
    encode_receipt_with(&receipt, columns, barcodes, &bills)
}

/// The ESC/POS job for `receipt` with the bar codes `barcodes` asks for: the receipt
/// number in its system, and (when `barcodes.bills`) each of `bills` (the sale's 44-digit
/// slip barcodes) as GS1-128 before it. A bill barcode is 576 dots wide at module 2, so
/// it prints only on 80 mm paper (48 columns); narrower receipts leave it out.
pub fn encode_receipt_with(
    receipt: &Receipt,
    columns: usize,
    barcodes: ReceiptBarcodes,
    bills: &[&str],
) -> Vec<u8> {
    let mut job = Vec::with_capacity(2048);
    let mut put = |c: Command<'_>| c.encode(&mut |b: &[u8]| job.extend_from_slice(b));
    // Japanese preamble: katakana table, Shift_JIS kanji, Japan's ¥ at 0x5C.
    put(Command::Initialize);
    put(Command::CodeTable(1));
    put(Command::KanjiCodeSystem(1));
    put(Command::International(8));
    // The modes as last sent: a command goes out only when a line needs a change (after
    // ESC @: left, normal size, no emphasis).
    let mut sent = (Justify::Left, 1u8, 1u8, false);
    for line in &receipt.lines {
        let (justify, size, bold, text): (_, u8, _, std::borrow::Cow<'_, str>) = match line {
            Line::Title(t) => (Justify::Center, 2, true, t.as_str().into()),
            Line::Center(t) => (Justify::Center, 1, false, t.as_str().into()),
            Line::BigPair(..) => (Justify::Left, 1, true, line.to_text(columns).into()),
            Line::Notice(t) => (Justify::Left, 1, true, t.as_str().into()),
            _ => (Justify::Left, 1, false, line.to_text(columns).into()),
        };
        // Double width only when the line still fits: a long store name is printed
        // double height alone rather than wrapped.
        let width = if size > 1 && text.width() * usize::from(size) > columns {
            1
        } else {
            size
        };
        if sent.0 != justify {
            put(Command::Justify(justify));
        }
        if (sent.1, sent.2) != (width, size) {
            put(Command::Size {
                width,
                height: size,
            });
        }
        if sent.3 != bold {
            put(Command::Emphasis(bold));
        }
        sent = (justify, width, size, bold);
        let bytes = shift_jis(&text);
        put(Command::Text(&bytes));
        put(Command::LineFeed);
    }
    put(Command::Size {
        width: 1,
        height: 1,
    });
    put(Command::Emphasis(false));
    if barcodes.bills && columns >= 48 {
        for bars in bills
            .iter()
            .filter_map(|digits| barcodes::bill_barcode(digits))
        {
            let mut put = |c: Command<'_>| c.encode(&mut |b: &[u8]| job.extend_from_slice(b));
            put(Command::LineFeed);
            put(Command::Justify(Justify::Center));
            job.extend_from_slice(&bars);
        }
    }
    let number = barcodes
        .number
        .and_then(|system| barcodes::receipt_number_barcode(&receipt.number, system));
    if let Some(bars) = number {
        let mut put = |c: Command<'_>| c.encode(&mut |b: &[u8]| job.extend_from_slice(b));
        put(Command::LineFeed);
        put(Command::Justify(Justify::Center));
        job.extend_from_slice(&bars);
    }
    let mut put = |c: Command<'_>| c.encode(&mut |b: &[u8]| job.extend_from_slice(b));
    put(Command::Justify(Justify::Left));
    put(Command::FeedLines(3));
    put(Command::Cut {
        partial: true,
        feed: 0,
    });
    job
}

/// The receipt number as a CODE128 bar code (set B) with its digits printed below: GS h,
/// GS w, GS H 2, GS k 73. None when the number is not printable ASCII or too long for one
/// symbol (the receipt then carries the number as text only).
pub fn receipt_barcode(number: &str) -> Option<Vec<u8>> {
    if number.is_empty() || !number.bytes().all(|b| (0x20..0x7F).contains(&b)) {
        return None;
    }
    // Set B; a `{` in the data is written `{{`.
    let mut data = b"{B".to_vec();
    for b in number.bytes() {
        data.push(b);
        if b == b'{' {
            data.push(b'{');
        }
    }
    let len = u8::try_from(data.len()).ok()?;
    let mut out = vec![
        GS,
        b'h',
        RECEIPT_BARCODE_HEIGHT_DOTS,
        GS,
        b'w',
        RECEIPT_BARCODE_MODULE_DOTS,
        GS,
        b'H',
        2,
        GS,
        b'k',
        73,
        len,
    ];
    out.extend_from_slice(&data);
    Some(out)
}

/// A file that could not be written.
#[derive(Debug, thiserror::Error)]
#[error("cannot write {}: {source}", path.display())]
pub struct WriteError {
    /// The file.
    pub path: std::path::PathBuf,
    /// The OS error.
    pub source: std::io::Error,
}

/// Write each `(path, bytes)` whole: every file to a temporary file beside it first, and
/// only when all are written, each renamed into place. On failure the temporary files are
/// removed and the files already there are untouched.
pub fn write_files(files: &[(&Path, &[u8])]) -> Result<(), WriteError> {
    let tmp_of = |path: &Path| {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        path.with_file_name(format!(".{name}.tmp"))
    };
    let mut written = Vec::with_capacity(files.len());
    for &(path, bytes) in files {
        let tmp = tmp_of(path);
        let result = (|| {
            let mut file = std::fs::File::create(&tmp)?;
            file.write_all(bytes)?;
            file.sync_data()
        })();
        if let Err(source) = result {
            let _ = std::fs::remove_file(&tmp);
            for t in &written {
                let _ = std::fs::remove_file(t);
            }
            return Err(WriteError {
                path: path.to_owned(),
                source,
            });
        }
        written.push(tmp);
    }
    for (&(path, _), tmp) in files.iter().zip(&written) {
        std::fs::rename(tmp, path).map_err(|source| WriteError {
            path: path.to_owned(),
            source,
        })?;
    }
    Ok(())
}

/// `path` holds `bytes`, written whole (see [`write_files`]).
pub fn write_whole(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_files(&[(path, bytes)]).map_err(|e| e.source)
}

/// Text in Shift_JIS for the printer. Control characters become spaces (so no text can
/// smuggle a command, DLE EOT included); what Shift_JIS cannot encode becomes `?`.
pub fn shift_jis(text: &str) -> Vec<u8> {
    use encoding_rs::EncoderResult;
    // Control characters would be commands to the printer: they print as spaces.
    let cleaned: std::borrow::Cow<'_, str> = if text.chars().any(char::is_control) {
        text.chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect::<String>()
            .into()
    } else {
        text.into()
    };
    let mut encoder = encoding_rs::SHIFT_JIS.new_encoder();
    let mut out = Vec::with_capacity(
        encoder
            .max_buffer_length_from_utf8_without_replacement(cleaned.len())
            .unwrap_or(cleaned.len() * 2),
    );
    let mut rest: &str = &cleaned;
    loop {
        let (result, read) =
            encoder.encode_from_utf8_to_vec_without_replacement(rest, &mut out, true);
        rest = &rest[read..];
        match result {
            EncoderResult::InputEmpty => return out,
            // Not in Shift_JIS: a question mark, as printers show.
            EncoderResult::Unmappable(_) => out.push(b'?'),
            EncoderResult::OutputFull => out.reserve(rest.len() * 2 + 8),
        }
    }
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

    #[test]
    fn receipt_numbers_become_code128_set_b() {
        let bars = receipt_barcode("T09-000002").unwrap();
        assert!(bars.ends_with(&[
            0x1D, b'k', 73, 12, b'{', b'B', b'T', b'0', b'9', b'-', b'0', b'0', b'0', b'0', b'0',
            b'2'
        ]));
        assert!(receipt_barcode("レジ-1").is_none());
        assert!(receipt_barcode(&"9".repeat(300)).is_none());
        assert!(receipt_barcode("a{b").unwrap().ends_with(b"{Ba{{b"));
    }
}
