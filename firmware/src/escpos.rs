//! The ESC/POS commands a receipt needs, as types, and their encoding. No allocation: a
//! command writes its bytes through a sink. The decoder (bytes to commands, for the
//! printer side) comes with the raster engine (issue 5).
//!
//! Byte values follow Epson's ESC/POS command reference
//! (<https://download4.epson.biz/sec_pubs/pos/reference_en/escpos/>; for example GS V 66 n
//! is a partial cut after feeding n dots; DLE EOT n asks for a real-time status byte).

/// ESC.
pub const ESC: u8 = 0x1B;
/// GS.
pub const GS: u8 = 0x1D;
/// FS.
pub const FS: u8 = 0x1C;
/// DLE.
pub const DLE: u8 = 0x10;
/// EOT.
pub const EOT: u8 = 0x04;
/// LF.
pub const LF: u8 = 0x0A;

/// Text justification (ESC a n).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Justify {
    /// Left.
    Left,
    /// Centre.
    Center,
    /// Right.
    Right,
}

/// Which real-time status DLE EOT n asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusKind {
    /// n = 1: printer status (drawer, online).
    Printer = 1,
    /// n = 2: offline cause (cover, paper end stop).
    Offline = 2,
    /// n = 3: error cause (cutter, unrecoverable).
    Error = 3,
    /// n = 4: roll paper sensor (near end, end).
    Paper = 4,
}

/// One ESC/POS command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command<'a> {
    /// ESC @: clear the buffer and reset modes.
    Initialize,
    /// ESC t n: character code table (1 = half-width katakana).
    CodeTable(u8),
    /// ESC R n: international character set (8 = Japan: 0x5C prints as ¥).
    International(u8),
    /// FS C n: kanji code system (0 = JIS, 1 = Shift_JIS).
    KanjiCodeSystem(u8),
    /// FS &: kanji mode on.
    KanjiOn,
    /// FS .: kanji mode off.
    KanjiOff,
    /// Bytes of text already in the printer's encoding. Must not contain DLE EOT.
    Text(&'a [u8]),
    /// LF: print and feed one line.
    LineFeed,
    /// ESC E n: emphasis.
    Emphasis(bool),
    /// ESC a n: justification.
    Justify(Justify),
    /// GS ! n: character size, width and height multipliers 1-8.
    Size {
        /// Width multiplier.
        width: u8,
        /// Height multiplier.
        height: u8,
    },
    /// ESC d n: print and feed n lines.
    FeedLines(u8),
    /// GS V 66 n: feed n dots, then cut (partial when the cutter has one).
    Cut {
        /// Leave a hinge.
        partial: bool,
        /// Dots to feed before cutting.
        feed: u8,
    },
    /// ESC p m t1 t2: drawer kick on pin 2 or 5, pulse times in milliseconds.
    DrawerKick {
        /// Connector pin, 2 or 5.
        pin: u8,
        /// On time.
        on_ms: u16,
        /// Off time.
        off_ms: u16,
    },
    /// DLE EOT n: ask for a status byte, answered at once.
    Status(StatusKind),
    /// GS h n: bar code height in dots (1-255).
    BarcodeHeight(u8),
    /// GS w n: bar code module width, 2-6 dots (the TM-T88's range: it ignores other
    /// values, so they are encoded as the nearest of 2-6).
    BarcodeWidth(u8),
    /// GS H n: where the HRI characters print.
    Hri(HriPosition),
    /// GS k m n d1…dn (Function B): a bar code of `system`, at most 255 data bytes (more
    /// are cut). The data is as the command reference gives it for the system: digits for
    /// EAN/UPC (the check digit may be left to the printer), `{B…` for CODE128, and so on.
    Barcode {
        /// The bar code system.
        system: BarcodeSystem,
        /// The data bytes.
        data: &'a [u8],
    },
    /// GS ( k pL pH 48 fn …: a PDF417 setting, its data, or its print.
    Pdf417(Pdf417<'a>),
}

/// The PDF417 functions of GS ( k (cn = 48).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pdf417<'a> {
    /// fn 65: columns of data codewords, 0 (automatic) or 1-30.
    Columns(u8),
    /// fn 66: rows, 0 (automatic) or 3-90.
    Rows(u8),
    /// fn 67: module width in dots, 2-8.
    ModuleWidth(u8),
    /// fn 68: row height in module widths, 2-8.
    RowHeight(u8),
    /// fn 69 m = 48: error correction level 0-8.
    ErrorLevel(u8),
    /// fn 69 m = 49: error correction codewords as n × 10 % of the data (1-40).
    ErrorRatio(u8),
    /// fn 70: truncated PDF417 (true) or standard.
    Truncated(bool),
    /// fn 80: store the data (at most 65,532 bytes; more are cut).
    Store(&'a [u8]),
    /// fn 81: print the stored symbol.
    Print,
}

/// Where GS H prints the HRI characters of a bar code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HriPosition {
    /// Not printed.
    None = 0,
    /// Above the bars.
    Above = 1,
    /// Below the bars.
    Below = 2,
    /// Above and below.
    Both = 3,
}

/// The bar code systems of GS k, by their Function B number `m`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BarcodeSystem {
    /// UPC-A: 11 digits (or 12 with the check digit).
    UpcA = 65,
    /// UPC-E: 6, 7 or 8 digits, or a compressible UPC-A of 11 or 12.
    UpcE = 66,
    /// JAN13 (EAN-13): 12 digits (or 13).
    Jan13 = 67,
    /// JAN8 (EAN-8): 7 digits (or 8).
    Jan8 = 68,
    /// CODE39: 0-9, A-Z, space, `$ % + - . /`.
    Code39 = 69,
    /// ITF (Interleaved 2 of 5): an even number of digits.
    Itf = 70,
    /// CODABAR (NW-7): start A-D, 0-9 and `$ + - . / :`, stop A-D.
    Codabar = 71,
    /// CODE93: ASCII 0-127.
    Code93 = 72,
    /// CODE128: data led by a code set selector `{A`, `{B` or `{C`.
    Code128 = 73,
    /// GS1-128: application identifiers and their data; `(` `)` are HRI only.
    Gs1_128 = 74,
    /// GS1 DataBar Omnidirectional: 13 digits of a GTIN, (01) implied.
    DataBarOmnidirectional = 75,
    /// GS1 DataBar Truncated: 13 digits.
    DataBarTruncated = 76,
    /// GS1 DataBar Limited: 13 digits, the first 0 or 1.
    DataBarLimited = 77,
    /// GS1 DataBar Expanded: AIs in parentheses and their data, `(01)04912345678904(10)AB`.
    DataBarExpanded = 78,
}

impl BarcodeSystem {
    /// Every system, in the order of their numbers.
    pub const ALL: [BarcodeSystem; 14] = [
        BarcodeSystem::UpcA,
        BarcodeSystem::UpcE,
        BarcodeSystem::Jan13,
        BarcodeSystem::Jan8,
        BarcodeSystem::Code39,
        BarcodeSystem::Itf,
        BarcodeSystem::Codabar,
        BarcodeSystem::Code93,
        BarcodeSystem::Code128,
        BarcodeSystem::Gs1_128,
        BarcodeSystem::DataBarOmnidirectional,
        BarcodeSystem::DataBarTruncated,
        BarcodeSystem::DataBarLimited,
        BarcodeSystem::DataBarExpanded,
    ];

    /// The name the command reference gives the system.
    pub fn name(self) -> &'static str {
        match self {
            BarcodeSystem::UpcA => "UPC-A",
            BarcodeSystem::UpcE => "UPC-E",
            BarcodeSystem::Jan13 => "JAN13 (EAN13)",
            BarcodeSystem::Jan8 => "JAN8 (EAN8)",
            BarcodeSystem::Code39 => "CODE39",
            BarcodeSystem::Itf => "ITF",
            BarcodeSystem::Codabar => "CODABAR (NW-7)",
            BarcodeSystem::Code93 => "CODE93",
            BarcodeSystem::Code128 => "CODE128",
            BarcodeSystem::Gs1_128 => "GS1-128",
            BarcodeSystem::DataBarOmnidirectional => "GS1 DataBar Omnidirectional",
            BarcodeSystem::DataBarTruncated => "GS1 DataBar Truncated",
            BarcodeSystem::DataBarLimited => "GS1 DataBar Limited",
            BarcodeSystem::DataBarExpanded => "GS1 DataBar Expanded",
        }
    }
}

impl Command<'_> {
    /// Write this command's bytes through `out`.
    pub fn encode(&self, out: &mut impl FnMut(&[u8])) {
        match *self {
            Command::Initialize => out(&[ESC, b'@']),
            Command::CodeTable(n) => out(&[ESC, b't', n]),
            Command::International(n) => out(&[ESC, b'R', n]),
            Command::KanjiCodeSystem(n) => out(&[FS, b'C', n]),
            Command::KanjiOn => out(&[FS, b'&']),
            Command::KanjiOff => out(&[FS, b'.']),
            Command::Text(bytes) => out(bytes),
            Command::LineFeed => out(&[LF]),
            Command::Emphasis(on) => out(&[ESC, b'E', u8::from(on)]),
            Command::Justify(j) => out(&[
                ESC,
                b'a',
                match j {
                    Justify::Left => 0,
                    Justify::Center => 1,
                    Justify::Right => 2,
                },
            ]),
            Command::Size { width, height } => {
                let w = width.clamp(1, 8) - 1;
                let h = height.clamp(1, 8) - 1;
                out(&[GS, b'!', (w << 4) | h])
            }
            Command::FeedLines(n) => out(&[ESC, b'd', n]),
            Command::Cut { partial, feed } => out(&[GS, b'V', if partial { 66 } else { 65 }, feed]),
            Command::DrawerKick { pin, on_ms, off_ms } => {
                // Pulse times are in units of 2 ms, at most 255 units.
                let units = |ms: u16| (ms / 2).clamp(1, 255) as u8;
                out(&[
                    ESC,
                    b'p',
                    if pin == 5 { 1 } else { 0 },
                    units(on_ms),
                    units(off_ms),
                ])
            }
            Command::Status(kind) => out(&[DLE, EOT, kind as u8]),
            Command::BarcodeHeight(n) => out(&[GS, b'h', n.max(1)]),
            Command::BarcodeWidth(n) => out(&[GS, b'w', n.clamp(2, 6)]),
            Command::Hri(position) => out(&[GS, b'H', position as u8]),
            Command::Barcode { system, data } => {
                let data = &data[..data.len().min(255)];
                out(&[GS, b'k', system as u8, data.len() as u8]);
                out(data);
            }
            Command::Pdf417(function) => {
                let short = |f: u8, n: u8| [GS, b'(', b'k', 3, 0, 48, f, n];
                match function {
                    Pdf417::Columns(n) => out(&short(65, n)),
                    Pdf417::Rows(n) => out(&short(66, n)),
                    Pdf417::ModuleWidth(n) => out(&short(67, n)),
                    Pdf417::RowHeight(n) => out(&short(68, n)),
                    Pdf417::ErrorLevel(n) => out(&[GS, b'(', b'k', 4, 0, 48, 69, 48, 48 + n]),
                    Pdf417::ErrorRatio(n) => out(&[GS, b'(', b'k', 4, 0, 48, 69, 49, n]),
                    Pdf417::Truncated(on) => out(&short(70, u8::from(on))),
                    Pdf417::Store(data) => {
                        let data = &data[..data.len().min(0xFFFF - 3)];
                        let [pl, ph] = ((data.len() + 3) as u16).to_le_bytes();
                        out(&[GS, b'(', b'k', pl, ph, 48, 80, 48]);
                        out(data);
                    }
                    Pdf417::Print => out(&short(81, 48)),
                }
            }
        }
    }
}

/// What the four DLE EOT replies say, decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PrinterStatus {
    /// The printer is offline.
    pub offline: bool,
    /// The cover is open.
    pub cover_open: bool,
    /// Printing stopped at the end of the paper.
    pub paper_end: bool,
    /// The roll is nearly used up.
    pub paper_near_end: bool,
    /// The autocutter failed.
    pub cutter_error: bool,
    /// An unrecoverable error occurred.
    pub unrecoverable: bool,
    /// Drawer-kick connector pin 3 is high (drawer open or closed depends on the drawer).
    pub drawer_pin_high: bool,
}

/// A reply byte that does not carry the fixed bits of a status reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotAStatusByte(pub u8);

impl PrinterStatus {
    /// Fold one reply to `kind` into the status. Every reply has bit 1 and bit 4 set and
    /// bits 0 and 7 clear: `(b & 0x93) == 0x12`.
    pub fn apply(&mut self, kind: StatusKind, byte: u8) -> Result<(), NotAStatusByte> {
        if byte & 0x93 != 0x12 {
            return Err(NotAStatusByte(byte));
        }
        let bit = |mask: u8| byte & mask != 0;
        match kind {
            StatusKind::Printer => {
                self.drawer_pin_high = bit(0x04);
                self.offline = bit(0x08);
            }
            StatusKind::Offline => {
                self.cover_open = bit(0x04);
                self.paper_end |= bit(0x20);
            }
            StatusKind::Error => {
                self.cutter_error = bit(0x08);
                self.unrecoverable = bit(0x20);
            }
            StatusKind::Paper => {
                self.paper_near_end = byte & 0x0C == 0x0C;
                self.paper_end |= byte & 0x60 == 0x60;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::vec::Vec;

    use super::*;

    fn bytes(c: Command<'_>) -> Vec<u8> {
        let mut v = Vec::new();
        c.encode(&mut |b| v.extend_from_slice(b));
        v
    }

    #[test]
    fn encodes_the_documented_bytes() {
        assert_eq!(bytes(Command::Initialize), [0x1B, 0x40]);
        assert_eq!(bytes(Command::KanjiCodeSystem(1)), [0x1C, 0x43, 1]);
        assert_eq!(bytes(Command::International(8)), [0x1B, 0x52, 8]);
        assert_eq!(
            bytes(Command::Size {
                width: 2,
                height: 2
            }),
            [0x1D, 0x21, 0x11]
        );
        assert_eq!(
            bytes(Command::Cut {
                partial: true,
                feed: 3
            }),
            [0x1D, 0x56, 66, 3]
        );
        assert_eq!(
            bytes(Command::DrawerKick {
                pin: 2,
                on_ms: 100,
                off_ms: 200
            }),
            [0x1B, 0x70, 0, 50, 100]
        );
        assert_eq!(bytes(Command::Status(StatusKind::Paper)), [0x10, 0x04, 4]);
        assert_eq!(bytes(Command::Justify(Justify::Center)), [0x1B, 0x61, 1]);
    }

    #[test]
    fn decodes_status_replies() {
        let mut s = PrinterStatus::default();
        s.apply(StatusKind::Printer, 0x16).unwrap();
        assert!(s.drawer_pin_high && !s.offline);
        s.apply(StatusKind::Paper, 0x12 | 0x0C).unwrap();
        assert!(s.paper_near_end && !s.paper_end);
        s.apply(StatusKind::Offline, 0x12 | 0x04 | 0x20).unwrap();
        assert!(s.cover_open && s.paper_end);
        assert_eq!(s.apply(StatusKind::Paper, 0xFF), Err(NotAStatusByte(0xFF)));
    }
}
