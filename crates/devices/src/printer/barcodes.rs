//! The bar codes the host asks the printer for, as GS k jobs: the receipt number in the
//! system a setting names, each slip's bill barcode as GS1-128, and the sample of every
//! system `konbini devices print-test` prints. It decides only how data becomes GS k data
//! (digits padded, characters a system lacks left out); the printer (and the firmware's
//! engine in the virtual printer) draws them, and refuses what it would refuse.

use konbini_firmware::barcode::Symbol;
use konbini_firmware::escpos::{BarcodeSystem, Command, HriPosition, Justify, Pdf417};
use konbini_journal::{SaleRecord, SlipPay};

/// Height of a receipt's bar codes, dots (7.5 mm).
pub const RECEIPT_BARCODE_HEIGHT_DOTS: u8 = 60;
/// Module (narrowest bar) width of a receipt's bar codes, dots.
pub const RECEIPT_BARCODE_MODULE_DOTS: u8 = 2;

/// Which bar codes a receipt carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReceiptBarcodes {
    /// The receipt number's system; None prints the number as text only.
    pub number: Option<BarcodeSystem>,
    /// Each bill payment slip's 44-digit barcode again, as GS1-128 (AI 91 and the
    /// rest of the code, as on the slip).
    pub bills: bool,
}

impl Default for ReceiptBarcodes {
    /// The receipt number as CODE128, no bill barcodes (what receipts have always had).
    fn default() -> Self {
        ReceiptBarcodes {
            number: Some(BarcodeSystem::Code128),
            bills: false,
        }
    }
}

/// The name `konbini.toml` gives each system (`[devices] receipt_barcode`; `"none"` is
/// the number as text only).
pub const SYSTEM_NAMES: [(&str, BarcodeSystem); 14] = [
    ("upc-a", BarcodeSystem::UpcA),
    ("upc-e", BarcodeSystem::UpcE),
    ("jan13", BarcodeSystem::Jan13),
    ("jan8", BarcodeSystem::Jan8),
    ("code39", BarcodeSystem::Code39),
    ("itf", BarcodeSystem::Itf),
    ("codabar", BarcodeSystem::Codabar),
    ("code93", BarcodeSystem::Code93),
    ("code128", BarcodeSystem::Code128),
    ("gs1-128", BarcodeSystem::Gs1_128),
    ("databar", BarcodeSystem::DataBarOmnidirectional),
    ("databar-truncated", BarcodeSystem::DataBarTruncated),
    ("databar-limited", BarcodeSystem::DataBarLimited),
    ("databar-expanded", BarcodeSystem::DataBarExpanded),
];

/// The systems too short for any receipt number, and the digits each holds: a receipt
/// number is the terminal's digits and a sequence number of 6 digits or more
/// (`<terminal>-<seq, 6 digits>`), so UPC-E's 6 and JAN8's 7 digits run out at once
/// (with terminal `T01`, the first sale's `01000001` already has 8).
const TOO_SHORT: [(BarcodeSystem, usize); 2] = [(BarcodeSystem::UpcE, 6), (BarcodeSystem::Jan8, 7)];

/// The receipt number's system named `name` (one of [`SYSTEM_NAMES`], or `"none"`: Ok(None));
/// Err for any other name, and for the systems that cannot hold a receipt number (UPC-E
/// and JAN8).
pub fn system_named(name: &str) -> Result<Option<BarcodeSystem>, ReceiptSystemError> {
    if name == "none" {
        return Ok(None);
    }
    let system = SYSTEM_NAMES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|&(_, system)| system)
        .ok_or_else(|| ReceiptSystemError::Unknown(name.to_owned()))?;
    match TOO_SHORT.iter().find(|(s, _)| *s == system) {
        Some(&(_, digits)) => Err(ReceiptSystemError::TooShort {
            name: name.to_owned(),
            digits,
        }),
        None => Ok(Some(system)),
    }
}

/// The names a receipt number may print in: `none` and every system that can hold one.
fn receipt_system_names() -> String {
    let names = SYSTEM_NAMES
        .iter()
        .filter(|(_, s)| TOO_SHORT.iter().all(|(short, _)| short != s))
        .map(|(n, _)| *n);
    std::iter::once("none")
        .chain(names)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Why a name is no system a receipt number can print in.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReceiptSystemError {
    /// None of [`SYSTEM_NAMES`] nor `"none"`.
    #[error("{0:?} is no bar code system: one of {names}", names = receipt_system_names())]
    Unknown(String),
    /// A system with fewer digits than any receipt number has.
    #[error(
        "{name:?} holds only {digits} digits, too few for a receipt number (the terminal's digits and a sequence number of 6 digits or more): one of {names}",
        names = receipt_system_names()
    )]
    TooShort {
        /// The name given.
        name: String,
        /// The digits the system holds.
        digits: usize,
    },
}

/// The 44-digit bill barcodes of `sale`'s slips (keyed-in payments have none), in order.
pub fn bills_of(sale: &SaleRecord) -> Vec<&str> {
    sale.slips
        .iter()
        .filter_map(|slip| match &slip.pay {
            SlipPay::Barcode(digits) => Some(digits.as_str()),
            _ => None,
        })
        .collect()
}

/// One sample a system prints in `print-test`: the system and its data, valid for it.
pub const SAMPLES: [(BarcodeSystem, &[u8]); 14] = [
    (BarcodeSystem::UpcA, b"03600029145"),
    (BarcodeSystem::UpcE, b"0425261"),
    (BarcodeSystem::Jan13, b"490123456789"),
    (BarcodeSystem::Jan8, b"4901234"),
    (BarcodeSystem::Code39, b"KONBINI-22"),
    (BarcodeSystem::Itf, b"14901234567891"),
    (BarcodeSystem::Codabar, b"A40156B"),
    (BarcodeSystem::Code93, b"Konbini 93"),
    (BarcodeSystem::Code128, b"{BNo.123"),
    (BarcodeSystem::Gs1_128, b"(91)912345"),
    (BarcodeSystem::DataBarOmnidirectional, b"0950110153000"),
    (BarcodeSystem::DataBarTruncated, b"0950110153000"),
    (BarcodeSystem::DataBarLimited, b"1501234567890"),
    // Two fields, a best-before date and a batch: fits 58 mm at module 2.
    (BarcodeSystem::DataBarExpanded, b"(15)261231(10)AB1"),
];

/// The PDF417 sample of `print-test` (GS ( k cn 48).
pub const PDF417_SAMPLE: &[u8] = b"konbini-pos PDF417 print test 0001-000042";

/// `GS h`, `GS w`, `GS H 2` and `GS k` for `data` in `system`.
fn barcode_job(system: BarcodeSystem, data: &[u8], module: u8) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 16);
    for c in [
        Command::BarcodeHeight(RECEIPT_BARCODE_HEIGHT_DOTS),
        Command::BarcodeWidth(module),
        Command::Hri(HriPosition::Below),
        Command::Barcode { system, data },
    ] {
        c.encode(&mut |b: &[u8]| out.extend_from_slice(b));
    }
    out
}

/// The GS k data of a receipt number in `system`, None when the number cannot be put in
/// it (too long, or no character of it that the system has). Numeric systems take the
/// number's digits, zero-padded on the left; CODE39 upper-cases; CODABAR is A…B around
/// the digits and dashes; GS1-128 carries it under AI 90 (internal use).
pub fn receipt_number_data(number: &str, system: BarcodeSystem) -> Option<Vec<u8>> {
    use BarcodeSystem::*;
    if number.is_empty() || !number.is_ascii() {
        return None;
    }
    let digits: Vec<u8> = number.bytes().filter(u8::is_ascii_digit).collect();
    let padded = |len: usize| -> Option<Vec<u8>> {
        let mut d = digits.clone();
        if d.len() > len {
            return None;
        }
        d.splice(0..0, std::iter::repeat_n(b'0', len - d.len()));
        Some(d)
    };
    let data = match system {
        UpcA => padded(11)?,
        UpcE => {
            // UPC-E holds six digits of number system 0.
            let mut d = padded(6)?;
            d.insert(0, b'0');
            d
        }
        Jan13 => padded(12)?,
        Jan8 => padded(7)?,
        DataBarOmnidirectional | DataBarTruncated | DataBarLimited => padded(13)?,
        Itf => {
            let mut d = digits.clone();
            if d.len() % 2 == 1 {
                d.insert(0, b'0');
            }
            d
        }
        Code39 => number
            .to_ascii_uppercase()
            .bytes()
            .filter(|b| b.is_ascii_alphanumeric() || b" -.$/+%".contains(b))
            .collect(),
        Codabar => {
            let mut d = vec![b'A'];
            d.extend(number.bytes().filter(|b| b.is_ascii_digit() || *b == b'-'));
            d.push(b'B');
            d
        }
        Code93 => number.bytes().collect(),
        Code128 => {
            // Set B; a `{` in the data is written `{{`.
            let mut d = b"{B".to_vec();
            for b in number.bytes().filter(|b| (0x20..0x7F).contains(b)) {
                d.push(b);
                if b == b'{' {
                    d.push(b'{');
                }
            }
            d
        }
        Gs1_128 | DataBarExpanded => {
            let mut d = b"(90)".to_vec();
            d.extend(number.bytes().filter(u8::is_ascii_alphanumeric));
            d
        }
    };
    let empty = match system {
        Codabar => data.len() <= 2,
        Code128 => data.len() <= 2,
        Gs1_128 | DataBarExpanded => data.len() <= 4,
        _ => data.is_empty(),
    };
    (!empty && data.len() <= 255).then_some(data)
}

/// The receipt number as a bar code of `system` with its HRI below, None when it cannot
/// be put in that system (the receipt then carries the number as text only).
pub fn receipt_number_barcode(number: &str, system: BarcodeSystem) -> Option<Vec<u8>> {
    let data = receipt_number_data(number, system)?;
    Some(barcode_job(system, &data, RECEIPT_BARCODE_MODULE_DOTS))
}

/// A slip's 44-digit bill barcode as GS1-128 (the printer adds Start C and FNC1), HRI
/// below; None for anything but 44 digits. At module 2 it is 576 dots: 80 mm paper only.
pub fn bill_barcode(digits: &str) -> Option<Vec<u8>> {
    (digits.len() == 44 && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| barcode_job(BarcodeSystem::Gs1_128, digits.as_bytes(), 2))
}

/// The module of a `print-test` sample: the printer's default (3 dots) where the symbol
/// fits paper `dots` wide, else GS w's narrowest (2).
fn sample_module(system: BarcodeSystem, data: &[u8], dots: u16) -> u8 {
    let mut symbol = Symbol::default();
    if symbol.encode(system as u8, data).is_err() {
        return 2;
    }
    if symbol.width_dots(3) <= u32::from(dots) {
        3
    } else {
        2
    }
}

/// The sample of every system for `print-test` on paper `dots` wide (576 for 80 mm, 384
/// for 58 mm): each system's name, then its symbol (HRI below), centred, each at the
/// widest module that fits the paper ([`SAMPLES`] all fit 58 mm at module 2).
pub fn sample_job(dots: u16) -> Vec<u8> {
    let mut job = Vec::new();
    let mut put = |c: Command<'_>| c.encode(&mut |b: &[u8]| job.extend_from_slice(b));
    put(Command::Justify(Justify::Center));
    for (system, data) in SAMPLES {
        let mut put = |c: Command<'_>| c.encode(&mut |b: &[u8]| job.extend_from_slice(b));
        put(Command::Text(system.name().as_bytes()));
        put(Command::LineFeed);
        job.extend(barcode_job(system, data, sample_module(system, data, dots)));
        let mut put = |c: Command<'_>| c.encode(&mut |b: &[u8]| job.extend_from_slice(b));
        put(Command::FeedLines(1));
    }
    let mut put = |c: Command<'_>| c.encode(&mut |b: &[u8]| job.extend_from_slice(b));
    put(Command::Text(b"PDF417"));
    put(Command::LineFeed);
    // Its columns follow the print area, so the default module fits either paper.
    put(Command::Pdf417(Pdf417::ModuleWidth(3)));
    put(Command::Pdf417(Pdf417::Store(PDF417_SAMPLE)));
    put(Command::Pdf417(Pdf417::Print));
    put(Command::FeedLines(1));
    put(Command::Justify(Justify::Left));
    job
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::printer::render;

    #[test]
    fn the_sample_prints_every_system_with_nothing_refused_on_80_and_58_mm() {
        for dots in [konbini_firmware::DOTS_80MM, konbini_firmware::DOTS_58MM] {
            let (sheet, faults) = render(&sample_job(dots), dots).unwrap();
            assert_eq!(faults.barcodes_dropped, 0, "{dots} dots");
            assert_eq!(faults.pdf417_dropped, 0, "{dots} dots");
            let text = sheet.transcript();
            assert!(text.contains("PDF417"));
            for (system, _) in SAMPLES {
                assert!(text.contains(system.name()), "{}", system.name());
            }
            assert!(text.contains("4901234567894"));
            assert!(text.contains("(15)261231(10)AB1"), "{text}");
        }
        // On 80 mm the symbols that fit take the printer's default module, 3 dots.
        let module_of = |dots| {
            SAMPLES
                .iter()
                .map(|&(system, data)| sample_module(system, data, dots))
                .collect::<Vec<_>>()
        };
        assert!(module_of(konbini_firmware::DOTS_80MM).contains(&3));
        assert!(module_of(konbini_firmware::DOTS_58MM).contains(&2));
    }

    #[test]
    fn a_receipt_number_prints_in_every_system_the_config_takes() {
        for system in BarcodeSystem::ALL {
            let name = SYSTEM_NAMES.iter().find(|(_, s)| *s == system).unwrap().0;
            if system_named(name).is_err() {
                continue;
            }
            for number in ["T01-000042", "0001-1234567"] {
                let job = receipt_number_barcode(number, system)
                    .unwrap_or_else(|| panic!("{} {number}", system.name()));
                let (_, faults) = render(&job, konbini_firmware::DOTS_80MM).unwrap();
                assert_eq!(faults.barcodes_dropped, 0, "{} {number}", system.name());
            }
        }
        assert_eq!(
            receipt_number_data("T01-000042", BarcodeSystem::Jan13).unwrap(),
            b"000001000042"
        );
        assert!(receipt_number_data("レジ-1", BarcodeSystem::Code128).is_none());
        // What the config refuses could never hold a receipt number: "T01"'s first one.
        assert!(receipt_number_data("T01-000001", BarcodeSystem::UpcE).is_none());
        assert!(receipt_number_data("T01-000001", BarcodeSystem::Jan8).is_none());
    }

    #[test]
    fn every_system_has_a_name_and_the_config_refuses_upc_e_and_jan8() {
        for system in BarcodeSystem::ALL {
            let (name, _) = SYSTEM_NAMES.iter().find(|(_, s)| *s == system).unwrap();
            if matches!(system, BarcodeSystem::UpcE | BarcodeSystem::Jan8) {
                continue;
            }
            assert_eq!(system_named(name), Ok(Some(system)));
        }
        assert_eq!(system_named("none"), Ok(None));
        let err = system_named("qr").unwrap_err().to_string();
        assert!(
            err.contains("\"qr\" is no bar code system") && err.contains("jan13"),
            "{err}"
        );
        assert!(!err.contains("upc-e") && !err.contains("jan8"), "{err}");
        for (name, digits) in [("upc-e", 6), ("jan8", 7)] {
            let err = system_named(name).unwrap_err();
            assert_eq!(
                err,
                ReceiptSystemError::TooShort {
                    name: name.to_owned(),
                    digits
                }
            );
            let text = err.to_string();
            assert!(
                text.starts_with(&format!(
                    "\"{name}\" holds only {digits} digits, too few for a receipt number"
                )),
                "{text}"
            );
            assert!(text.contains("code128") && text.contains("upc-a"), "{text}");
        }
    }

    #[test]
    fn a_bill_barcode_prints_as_gs1_128_on_80mm_paper() {
        let digits = "91912345012345678901234567890101033101230003";
        let job = bill_barcode(digits).unwrap();
        let (sheet, faults) = render(&job, konbini_firmware::DOTS_80MM).unwrap();
        assert_eq!(faults.barcodes_dropped, 0);
        assert!(sheet.transcript().contains(digits));
        assert!(bill_barcode("123").is_none());
    }
}
