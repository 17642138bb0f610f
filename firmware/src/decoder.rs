//! The streaming ESC/POS decoder: bytes in, one at a time, events out, in constant memory.
//!
//! It separates "not enough bytes yet" (no event) from a complete command, and never
//! fails: an unknown command is skipped (and counted) the way a printer ignores it, a
//! command's parameters are taken from whatever bytes follow, as a printer would. Payloads
//! of any declared length (barcode data, a QR symbol's data, raster image rows) are not
//! held here: they stream out as [`Event::Payload`] bytes between a command that announces
//! them and [`Event::PayloadEnd`], so a huge length field costs time, never memory. The
//! engine that consumes them bounds what it keeps.

use crate::escpos::{DLE, ESC, FS, GS, Justify, LF, StatusKind};

/// What a command's payload is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadKind {
    /// GS k: barcode data of `system` (0-6 Function A, NUL-terminated; 65-79 Function B).
    Barcode {
        /// The barcode system byte `m`.
        system: u8,
    },
    /// GS ( k, fn 80: data to store in the QR symbol.
    QrData,
    /// GS ( k, cn 48 fn 80: data to store in the PDF417 symbol.
    Pdf417Data,
    /// GS v 0 (and the graphics functions GS ( L / GS 8 L fn 112, printed as they are
    /// stored: the print that follows them, fn 50, then has nothing left to do): raster
    /// image rows, `width_bytes` bytes each, `height` rows, mode `m`.
    Raster {
        /// Scaling mode (0 normal, 1 double width, 2 double height, 3 quadruple).
        mode: u8,
        /// Bytes per row (8 dots each).
        width_bytes: u16,
        /// Rows.
        height: u16,
    },
}

/// A command without a payload, decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmd {
    /// ESC @.
    Initialize,
    /// LF.
    LineFeed,
    /// CR (ignored by most printers in LF mode).
    CarriageReturn,
    /// ESC ! n: print mode bits (font B, emphasis, double height, double width, underline).
    PrintMode(u8),
    /// ESC E n.
    Emphasis(bool),
    /// ESC - n: underline 0, 1 or 2 dots.
    Underline(u8),
    /// ESC a n.
    Justify(Justify),
    /// ESC d n.
    FeedLines(u8),
    /// ESC J n: feed n dots.
    FeedDots(u8),
    /// ESC t n.
    CodeTable(u8),
    /// ESC R n.
    International(u8),
    /// ESC p m t1 t2 (times in units of 2 ms).
    DrawerKick {
        /// 0: pin 2, 1: pin 5.
        pin: u8,
        /// On time, units of 2 ms.
        on: u8,
        /// Off time, units of 2 ms.
        off: u8,
    },
    /// GS ! n: width and height multipliers.
    Size {
        /// 1-8.
        width: u8,
        /// 1-8.
        height: u8,
    },
    /// GS B n: white on black.
    Reverse(bool),
    /// GS h n: barcode height in dots.
    BarcodeHeight(u8),
    /// GS w n: barcode module width in dots.
    BarcodeWidth(u8),
    /// GS H n: HRI position (0 none, 1 above, 2 below, 3 both).
    HriPosition(u8),
    /// GS V: cut, with the feed before it in dots (0 for m = 0/1/48/49).
    Cut {
        /// Partial (leaves a hinge).
        partial: bool,
        /// Dots fed before the cut.
        feed: u8,
    },
    /// GS r n: transmit status (1 paper, 2 drawer).
    TransmitStatus(u8),
    /// DLE EOT n: real-time status request.
    Status(StatusKind),
    /// FS C n.
    KanjiCodeSystem(u8),
    /// FS &.
    KanjiOn,
    /// FS ..
    KanjiOff,
    /// FS ! n: kanji print mode (bit 2 double width, bit 3 double height, bit 7 underline).
    KanjiPrintMode(u8),
    /// GS ( k fn 65: QR model (49 model 1, 50 model 2, 51 micro).
    QrModel(u8),
    /// GS ( k fn 67: QR module size in dots.
    QrModuleSize(u8),
    /// GS ( k fn 69: QR error correction (48 L, 49 M, 50 Q, 51 H).
    QrErrorLevel(u8),
    /// GS ( k fn 81: print the stored QR symbol.
    QrPrint,
    /// GS ( k cn 48 fn 65: PDF417 columns (0 automatic, 1-30).
    Pdf417Columns(u8),
    /// GS ( k cn 48 fn 66: PDF417 rows (0 automatic, 3-90).
    Pdf417Rows(u8),
    /// GS ( k cn 48 fn 67: PDF417 module width in dots (2-8).
    Pdf417ModuleWidth(u8),
    /// GS ( k cn 48 fn 68: PDF417 row height in module widths (2-8).
    Pdf417RowHeight(u8),
    /// GS ( k cn 48 fn 69 m n: PDF417 error correction, by level (m 48, n 48-56) or by
    /// ratio (m 49, n 1-40: n × 10 %).
    Pdf417ErrorLevel {
        /// 48 level, 49 ratio.
        m: u8,
        /// The level or the ratio.
        n: u8,
    },
    /// GS ( k cn 48 fn 70: PDF417 options (0 standard, 1 truncated).
    Pdf417Options(u8),
    /// GS ( k cn 48 fn 81: print the stored PDF417 symbol.
    Pdf417Print,
    /// ESC 3 n: line spacing in dots; ESC 2 sets the default (`None`).
    LineSpacing(Option<u8>),
    /// ESC $ nL nH: the next character at this many dots from the print area's left edge.
    AbsolutePosition(u16),
    /// ESC \ nL nH: the next character this many dots right (negative: left).
    RelativePosition(i16),
    /// GS L nL nH: left margin in dots.
    LeftMargin(u16),
    /// GS W nL nH: print area width in dots.
    PrintAreaWidth(u16),
    /// FS - n: kanji underline 0, 1 or 2 dots.
    KanjiUnderline(u8),
    /// A command a printer takes that changes nothing this engine draws, for the values
    /// host libraries send: ESC M (font; only Font A is built in), ESC SP and FS S
    /// (character spacing), ESC { (upside down), GS a (automatic status back), FS ( A
    /// (kanji font), GS ( L fn 50 (print the graphics already printed as stored).
    NoEffect {
        /// ESC, GS or FS.
        prefix: u8,
        /// The command byte (for GS ( and FS ( functions, the function's letter).
        cmd: u8,
    },
}

/// One thing the decoder found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// A byte to print (ANK, or one byte of a two-byte kanji: the engine pairs them).
    Data(u8),
    /// A command.
    Command(Cmd),
    /// A command whose payload follows as `Payload` bytes, then `PayloadEnd`.
    PayloadStart(PayloadKind),
    /// One payload byte.
    Payload(u8),
    /// The end of the payload.
    PayloadEnd,
    /// A byte the printer ignores (an unknown command, or a stray control byte).
    Skipped(u8),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Ground,
    /// After ESC, GS, FS or DLE.
    Prefix(u8),
    /// A command's parameters so far.
    Params {
        prefix: u8,
        cmd: u8,
        got: u8,
        p: [u8; PARAMS_MAX],
    },
    /// Payload bytes left, announced by a length.
    Counted(u32),
    /// Function A barcode data, ended by NUL.
    UntilNul,
    /// Bytes of an unsupported function to drop silently.
    Discard(u32),
    /// GS ( k function parameters (QR, cn 49, or PDF417, cn 48): which function, bytes
    /// left, the first one.
    SymbolParams {
        cn: u8,
        function: u8,
        left: u32,
        first: Option<u8>,
    },
    /// GS ( k fn 80: the `m` byte before `data` bytes of QR (cn 49) or PDF417 (cn 48)
    /// data.
    SymbolStore {
        cn: u8,
        data: u32,
    },
}

/// Most parameter bytes a command has before its payload: GS 8 L p1-p4 m fn a bx by c xL
/// xH yL yH.
const PARAMS_MAX: usize = 15;

/// The decoder. Feed it bytes with [`Decoder::push`]; it keeps at most a command's few
/// parameter bytes.
#[derive(Debug, Clone)]
pub struct Decoder {
    state: State,
    skipped: u32,
}

impl Default for Decoder {
    fn default() -> Self {
        Decoder::new()
    }
}

/// Parameter bytes a command needs, given those read so far; None for an unknown command.
fn needed(prefix: u8, cmd: u8, p: &[u8]) -> Option<usize> {
    Some(match (prefix, cmd) {
        (ESC, b'@' | b'2') | (FS, b'&' | b'.') => 0,
        (ESC, b'!' | b'E' | b'-' | b'a' | b'd' | b'J' | b't' | b'R') => 1,
        (ESC, b'M' | b' ' | b'3' | b'{') => 1,
        (GS, b'!' | b'B' | b'h' | b'w' | b'H' | b'r' | b'a') => 1,
        (FS, b'C' | b'!' | b'-') | (DLE, 0x04) => 1,
        (ESC, b'$' | b'\\') | (GS, b'L' | b'W') | (FS, b'S') => 2,
        (ESC, b'p') => 3,
        // GS V m, and n when m is 65 or 66.
        (GS, b'V') => match p.first() {
            Some(65 | 66) => 2,
            _ => 1,
        },
        // GS k m, and n when m is 65 or more (Function B).
        (GS, b'k') => match p.first() {
            Some(&m) if m >= 65 => 2,
            _ => 1,
        },
        // GS v 0 m xL xH yL yH.
        (GS, b'v') => 6,
        // GS ( k pL pH cn fn, then per function; GS ( L pL pH m fn, and for fn 112 (store
        // a raster graphic) a bx by c xL xH yL yH; FS ( A pL pH fn m.
        (GS | FS, b'(') => match p.get(4) {
            Some(112) if prefix == GS && p[0] == b'L' => 13,
            _ => 5,
        },
        // GS 8 L p1 p2 p3 p4 m fn, and for fn 112 as GS ( L.
        (GS, b'8') => match p.get(6) {
            Some(112) if p[0] == b'L' => 15,
            _ => 7,
        },
        _ => return None,
    })
}

impl Decoder {
    /// A decoder at the start of a job.
    pub const fn new() -> Decoder {
        Decoder {
            state: State::Ground,
            skipped: 0,
        }
    }

    /// Bytes skipped so far (unknown commands, stray control bytes, unsupported functions).
    pub fn skipped(&self) -> u32 {
        self.skipped
    }

    /// Whether the decoder is between commands.
    pub fn idle(&self) -> bool {
        self.state == State::Ground
    }

    /// Take one byte; hand what it completes (none, one or two events) to `emit`.
    pub fn push(&mut self, byte: u8, emit: &mut impl FnMut(Event)) {
        match self.state {
            State::Ground => match byte {
                ESC | GS | FS | DLE => self.state = State::Prefix(byte),
                LF => emit(Event::Command(Cmd::LineFeed)),
                b'\r' => emit(Event::Command(Cmd::CarriageReturn)),
                0x00..=0x1F | 0x7F => self.skip(byte, emit),
                _ => emit(Event::Data(byte)),
            },
            State::Prefix(prefix) => match needed(prefix, byte, &[]) {
                Some(0) => {
                    self.state = State::Ground;
                    emit(Event::Command(simple(prefix, byte, &[])));
                }
                Some(_) => {
                    self.state = State::Params {
                        prefix,
                        cmd: byte,
                        got: 0,
                        p: [0; PARAMS_MAX],
                    }
                }
                None => {
                    // Unknown: a printer drops the prefix and the command byte.
                    self.state = State::Ground;
                    self.skipped += 1;
                    self.skip(byte, emit);
                }
            },
            State::Params {
                prefix,
                cmd,
                got,
                mut p,
            } => {
                p[usize::from(got)] = byte;
                let got = got + 1;
                let have = &p[..usize::from(got)];
                if needed(prefix, cmd, have).is_some_and(|n| usize::from(got) < n) {
                    self.state = State::Params {
                        prefix,
                        cmd,
                        got,
                        p,
                    };
                    return;
                }
                self.state = State::Ground;
                self.complete(prefix, cmd, have, emit);
            }
            State::Counted(left) => {
                emit(Event::Payload(byte));
                if left <= 1 {
                    self.state = State::Ground;
                    emit(Event::PayloadEnd);
                } else {
                    self.state = State::Counted(left - 1);
                }
            }
            State::UntilNul => {
                if byte == 0 {
                    self.state = State::Ground;
                    emit(Event::PayloadEnd);
                } else {
                    emit(Event::Payload(byte));
                }
            }
            State::SymbolParams {
                cn,
                function,
                left,
                first,
            } => {
                let first = first.or(Some(byte));
                if left > 1 {
                    self.state = State::SymbolParams {
                        cn,
                        function,
                        left: left - 1,
                        first,
                    };
                    return;
                }
                self.state = State::Ground;
                let n = first.unwrap_or(byte);
                emit(Event::Command(match (cn, function) {
                    (49, 65) => Cmd::QrModel(n),
                    (49, 67) => Cmd::QrModuleSize(byte),
                    (49, 69) => Cmd::QrErrorLevel(byte),
                    (49, _) => Cmd::QrPrint,
                    (_, 65) => Cmd::Pdf417Columns(byte),
                    (_, 66) => Cmd::Pdf417Rows(byte),
                    (_, 67) => Cmd::Pdf417ModuleWidth(byte),
                    (_, 68) => Cmd::Pdf417RowHeight(byte),
                    (_, 69) => Cmd::Pdf417ErrorLevel { m: n, n: byte },
                    (_, 70) => Cmd::Pdf417Options(byte),
                    _ => Cmd::Pdf417Print,
                }));
            }
            State::SymbolStore { cn, data } => {
                // `byte` is m (48); the data follows.
                self.state = State::Ground;
                emit(Event::PayloadStart(if cn == 49 {
                    PayloadKind::QrData
                } else {
                    PayloadKind::Pdf417Data
                }));
                self.payload(data, emit);
            }
            State::Discard(left) => {
                self.skipped += 1;
                self.state = if left <= 1 {
                    State::Ground
                } else {
                    State::Discard(left - 1)
                };
            }
        }
    }

    /// A command's parameters are all there.
    fn complete(&mut self, prefix: u8, cmd: u8, p: &[u8], emit: &mut impl FnMut(Event)) {
        match (prefix, cmd) {
            (GS, b'k') => match (p[0], p.get(1)) {
                (system @ 0..=6, _) => {
                    emit(Event::PayloadStart(PayloadKind::Barcode { system }));
                    self.state = State::UntilNul;
                }
                (system, Some(&len)) => {
                    emit(Event::PayloadStart(PayloadKind::Barcode { system }));
                    self.payload(u32::from(len), emit);
                }
                // m 7-64 is no barcode system: the printer drops the command.
                (_, None) => self.skipped += 3,
            },
            (GS, b'v') => {
                if p[0] != b'0' && p[0] != 0 {
                    // Not GS v 0: unknown; drop the command byte and parameters.
                    self.skipped += 8;
                    return;
                }
                let width_bytes = u16::from_le_bytes([p[2], p[3]]);
                let height = u16::from_le_bytes([p[4], p[5]]);
                emit(Event::PayloadStart(PayloadKind::Raster {
                    mode: p[1] & 0x03,
                    width_bytes,
                    height,
                }));
                self.payload(u32::from(width_bytes) * u32::from(height), emit);
            }
            (GS | FS, b'(') => {
                // GS ( k pL pH cn fn: the length counts cn, fn and what follows.
                let len = u32::from(u16::from_le_bytes([p[1], p[2]]));
                let (cn, function) = (p[3], p[4]);
                let rest = len.saturating_sub(2);
                match (prefix, p[0], cn, function) {
                    (GS, b'k', 49, 65 | 67 | 69 | 81) | (GS, b'k', 48, 65..=70 | 81)
                        if (1..=2).contains(&rest) =>
                    {
                        self.state = State::SymbolParams {
                            cn,
                            function,
                            left: rest,
                            first: None,
                        };
                    }
                    (GS, b'k', 48 | 49, 80) if rest >= 1 => {
                        self.state = State::SymbolStore { cn, data: rest - 1 };
                    }
                    (GS, b'L', _, 112) => self.graphic(len, &p[5..13], emit),
                    (GS, b'L', _, 2 | 50) | (FS, b'A', _, _) => {
                        emit(Event::Command(Cmd::NoEffect { prefix, cmd: p[0] }));
                        self.discard(rest);
                    }
                    _ => {
                        // Another 2D symbol or function: skipped by its length.
                        self.skipped += 7;
                        self.discard(rest);
                    }
                }
            }
            (GS, b'8') => {
                // GS 8 L p1-p4 m fn: a 32-bit length counting m, fn and what follows.
                let len = u32::from_le_bytes([p[1], p[2], p[3], p[4]]);
                if p[0] == b'L' && p[6] == 112 {
                    self.graphic(len, &p[7..15], emit);
                } else {
                    self.skipped += 9;
                    self.discard(len.saturating_sub(2));
                }
            }
            _ => emit(Event::Command(simple(prefix, cmd, p))),
        }
    }

    /// GS ( L / GS 8 L fn 112 with its `len` (counting m, fn, the eight parameters in `p`
    /// and the data) and `p` = a bx by c xL xH yL yH: a monochrome graphic (a = 48)
    /// streams out as a raster image of the data the length announces; others (multiple
    /// tone) are skipped by their length.
    fn graphic(&mut self, len: u32, p: &[u8], emit: &mut impl FnMut(Event)) {
        let data = len.saturating_sub(10);
        if p[0] != 48 || len < 10 {
            self.skipped += 15;
            self.discard(data);
            return;
        }
        let width_dots = u16::from_le_bytes([p[4], p[5]]);
        emit(Event::PayloadStart(PayloadKind::Raster {
            mode: u8::from(p[1] == 2) | (u8::from(p[2] == 2) << 1),
            width_bytes: width_dots.div_ceil(8),
            height: u16::from_le_bytes([p[6], p[7]]),
        }));
        self.payload(data, emit);
    }

    /// `n` payload bytes follow (none: the payload ends at once).
    fn payload(&mut self, n: u32, emit: &mut impl FnMut(Event)) {
        if n == 0 {
            emit(Event::PayloadEnd);
        } else {
            self.state = State::Counted(n);
        }
    }

    fn discard(&mut self, n: u32) {
        if n > 0 {
            self.state = State::Discard(n);
        }
    }

    fn skip(&mut self, byte: u8, emit: &mut impl FnMut(Event)) {
        self.skipped += 1;
        emit(Event::Skipped(byte));
    }
}

/// A command whose parameters are all in `p` (as many as `needed` said).
fn simple(prefix: u8, cmd: u8, p: &[u8]) -> Cmd {
    let n = p.first().copied().unwrap_or(0);
    match (prefix, cmd) {
        (ESC, b'@') => Cmd::Initialize,
        (ESC, b'2') => Cmd::LineSpacing(None),
        (ESC, b'3') => Cmd::LineSpacing(Some(n)),
        (ESC, b'$') => Cmd::AbsolutePosition(u16::from_le_bytes([n, p[1]])),
        (ESC, b'\\') => Cmd::RelativePosition(i16::from_le_bytes([n, p[1]])),
        (GS, b'L') => Cmd::LeftMargin(u16::from_le_bytes([n, p[1]])),
        (GS, b'W') => Cmd::PrintAreaWidth(u16::from_le_bytes([n, p[1]])),
        (FS, b'-') => Cmd::KanjiUnderline(match n {
            0 | b'0' => 0,
            1 | b'1' => 1,
            _ => 2,
        }),
        (ESC, b'M' | b' ' | b'{') | (GS, b'a') | (FS, b'S') => Cmd::NoEffect { prefix, cmd },
        (ESC, b'!') => Cmd::PrintMode(n),
        (ESC, b'E') => Cmd::Emphasis(n & 1 == 1),
        (ESC, b'-') => Cmd::Underline(match n {
            0 | b'0' => 0,
            1 | b'1' => 1,
            _ => 2,
        }),
        (ESC, b'a') => Cmd::Justify(match n {
            1 | b'1' => Justify::Center,
            2 | b'2' => Justify::Right,
            _ => Justify::Left,
        }),
        (ESC, b'd') => Cmd::FeedLines(n),
        (ESC, b'J') => Cmd::FeedDots(n),
        (ESC, b't') => Cmd::CodeTable(n),
        (ESC, b'R') => Cmd::International(n),
        (ESC, b'p') => Cmd::DrawerKick {
            pin: n & 1,
            on: p[1],
            off: p[2],
        },
        (GS, b'!') => Cmd::Size {
            width: (n >> 4 & 0x07) + 1,
            height: (n & 0x07) + 1,
        },
        (GS, b'B') => Cmd::Reverse(n & 1 == 1),
        (GS, b'h') => Cmd::BarcodeHeight(n),
        (GS, b'w') => Cmd::BarcodeWidth(n),
        (GS, b'H') => Cmd::HriPosition(n & 0x03),
        (GS, b'V') => Cmd::Cut {
            partial: matches!(n, 1 | 49 | 66),
            feed: if matches!(n, 65 | 66) { p[1] } else { 0 },
        },
        (GS, b'r') => Cmd::TransmitStatus(n),
        (DLE, 0x04) => Cmd::Status(match n {
            2 => StatusKind::Offline,
            3 => StatusKind::Error,
            4 => StatusKind::Paper,
            _ => StatusKind::Printer,
        }),
        (FS, b'C') => Cmd::KanjiCodeSystem(n),
        (FS, b'&') => Cmd::KanjiOn,
        (FS, b'.') => Cmd::KanjiOff,
        (FS, b'!') => Cmd::KanjiPrintMode(n),
        _ => Cmd::Initialize, // unreachable: `needed` knows only the commands above
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::vec::Vec;

    use super::*;
    use crate::escpos::Command;

    fn decode(bytes: &[u8]) -> Vec<Event> {
        let mut d = Decoder::new();
        let mut out = Vec::new();
        for &b in bytes {
            d.push(b, &mut |e| out.push(e));
        }
        out
    }

    fn encode(c: Command<'_>) -> Vec<u8> {
        let mut v = Vec::new();
        c.encode(&mut |b| v.extend_from_slice(b));
        v
    }

    #[test]
    fn every_encoded_command_decodes_to_itself() {
        use Cmd as C;
        let cases: [(Command<'_>, Vec<Event>); 14] = [
            (Command::Initialize, [Event::Command(C::Initialize)].into()),
            (
                Command::CodeTable(1),
                [Event::Command(C::CodeTable(1))].into(),
            ),
            (
                Command::International(8),
                [Event::Command(C::International(8))].into(),
            ),
            (
                Command::KanjiCodeSystem(1),
                [Event::Command(C::KanjiCodeSystem(1))].into(),
            ),
            (Command::KanjiOn, [Event::Command(C::KanjiOn)].into()),
            (Command::KanjiOff, [Event::Command(C::KanjiOff)].into()),
            (
                Command::Text(b"Ab\x97\xcc"),
                [
                    Event::Data(b'A'),
                    Event::Data(b'b'),
                    Event::Data(0x97),
                    Event::Data(0xcc),
                ]
                .into(),
            ),
            (Command::LineFeed, [Event::Command(C::LineFeed)].into()),
            (
                Command::Emphasis(true),
                [Event::Command(C::Emphasis(true))].into(),
            ),
            (
                Command::Justify(Justify::Right),
                [Event::Command(C::Justify(Justify::Right))].into(),
            ),
            (
                Command::Size {
                    width: 2,
                    height: 3,
                },
                [Event::Command(C::Size {
                    width: 2,
                    height: 3,
                })]
                .into(),
            ),
            (
                Command::Cut {
                    partial: true,
                    feed: 5,
                },
                [Event::Command(C::Cut {
                    partial: true,
                    feed: 5,
                })]
                .into(),
            ),
            (
                Command::DrawerKick {
                    pin: 5,
                    on_ms: 100,
                    off_ms: 200,
                },
                [Event::Command(C::DrawerKick {
                    pin: 1,
                    on: 50,
                    off: 100,
                })]
                .into(),
            ),
            (
                Command::Status(StatusKind::Paper),
                [Event::Command(C::Status(StatusKind::Paper))].into(),
            ),
        ];
        for (command, events) in cases {
            assert_eq!(decode(&encode(command)), events, "{command:?}");
        }
    }

    #[test]
    fn barcodes_function_a_and_b() {
        let a = decode(b"\x1dk\x04ABC\x00x");
        assert_eq!(
            a,
            [
                Event::PayloadStart(PayloadKind::Barcode { system: 4 }),
                Event::Payload(b'A'),
                Event::Payload(b'B'),
                Event::Payload(b'C'),
                Event::PayloadEnd,
                Event::Data(b'x'),
            ]
        );
        // GS k 73 (CODE128) n=4 "{C" 0x0c 0x22.
        let b = decode(&[0x1d, b'k', 73, 4, b'{', b'C', 12, 34, b'y']);
        assert_eq!(b.len(), 7);
        assert_eq!(
            b[0],
            Event::PayloadStart(PayloadKind::Barcode { system: 73 })
        );
        assert_eq!(b[5], Event::PayloadEnd);
        assert_eq!(b[6], Event::Data(b'y'));
    }

    #[test]
    fn qr_functions() {
        let mut job = Vec::new();
        job.extend_from_slice(&[0x1d, b'(', b'k', 4, 0, 49, 65, 50, 0]); // model 2
        job.extend_from_slice(&[0x1d, b'(', b'k', 3, 0, 49, 67, 6]); // module 6
        job.extend_from_slice(&[0x1d, b'(', b'k', 3, 0, 49, 69, 49]); // level M
        job.extend_from_slice(&[0x1d, b'(', b'k', 6, 0, 49, 80, 48, b'a', b'b', b'c']); // store
        job.extend_from_slice(&[0x1d, b'(', b'k', 3, 0, 49, 81, 48]); // print
        assert_eq!(
            decode(&job),
            [
                Event::Command(Cmd::QrModel(50)),
                Event::Command(Cmd::QrModuleSize(6)),
                Event::Command(Cmd::QrErrorLevel(49)),
                Event::PayloadStart(PayloadKind::QrData),
                Event::Payload(b'a'),
                Event::Payload(b'b'),
                Event::Payload(b'c'),
                Event::PayloadEnd,
                Event::Command(Cmd::QrPrint),
            ]
        );
    }

    #[test]
    fn pdf417_functions() {
        let mut job = Vec::new();
        job.extend_from_slice(&[0x1d, b'(', b'k', 3, 0, 48, 65, 4]); // 4 columns
        job.extend_from_slice(&[0x1d, b'(', b'k', 3, 0, 48, 66, 10]); // 10 rows
        job.extend_from_slice(&[0x1d, b'(', b'k', 3, 0, 48, 67, 2]); // module 2
        job.extend_from_slice(&[0x1d, b'(', b'k', 3, 0, 48, 68, 5]); // row height 5
        job.extend_from_slice(&[0x1d, b'(', b'k', 4, 0, 48, 69, 48, 51]); // level 3
        job.extend_from_slice(&[0x1d, b'(', b'k', 3, 0, 48, 70, 1]); // truncated
        job.extend_from_slice(&[0x1d, b'(', b'k', 5, 0, 48, 80, 48, b'a', b'b']); // store
        job.extend_from_slice(&[0x1d, b'(', b'k', 3, 0, 48, 81, 48]); // print
        job.extend_from_slice(&[0x1d, b'(', b'k', 3, 0, 48, 82, 48]); // size: skipped
        assert_eq!(
            decode(&job),
            Vec::from([
                Event::Command(Cmd::Pdf417Columns(4)),
                Event::Command(Cmd::Pdf417Rows(10)),
                Event::Command(Cmd::Pdf417ModuleWidth(2)),
                Event::Command(Cmd::Pdf417RowHeight(5)),
                Event::Command(Cmd::Pdf417ErrorLevel { m: 48, n: 51 }),
                Event::Command(Cmd::Pdf417Options(1)),
                Event::PayloadStart(PayloadKind::Pdf417Data),
                Event::Payload(b'a'),
                Event::Payload(b'b'),
                Event::PayloadEnd,
                Event::Command(Cmd::Pdf417Print),
            ])
        );
    }

    #[test]
    fn raster_images_stream_their_rows() {
        let mut job = Vec::from([0x1d, b'v', b'0', 0, 2, 0, 2, 0]);
        job.extend_from_slice(&[1, 2, 3, 4, b'z']);
        let events = decode(&job);
        assert_eq!(
            events[0],
            Event::PayloadStart(PayloadKind::Raster {
                mode: 0,
                width_bytes: 2,
                height: 2
            })
        );
        assert_eq!(events[5], Event::PayloadEnd);
        assert_eq!(events[6], Event::Data(b'z'));
        // An empty image ends at once.
        assert_eq!(
            decode(&[0x1d, b'v', b'0', 0, 0, 0, 0, 0]).last(),
            Some(&Event::PayloadEnd)
        );
    }

    #[test]
    fn host_library_preambles_positions_and_graphics() {
        // receiptline's preamble: GS a 0, ESC M 0, FS ( A (kanji font), ESC SP 0, FS S 0 0,
        // ESC 3 0, ESC { 0: all taken, nothing skipped, nothing printed.
        let preamble =
            b"\x1da\x00\x1bM0\x1c(A\x02\x000\x00\x1b \x00\x1cS\x00\x00\x1b3\x00\x1b{\x00";
        let mut d = Decoder::new();
        let mut events = Vec::new();
        for &b in preamble.iter() {
            d.push(b, &mut |e| events.push(e));
        }
        assert_eq!(d.skipped(), 0, "{events:?}");
        assert!(d.idle());
        assert!(events.contains(&Event::Command(Cmd::LineSpacing(Some(0)))));
        assert!(!events.iter().any(|e| matches!(e, Event::Data(_))));
        assert_eq!(
            decode(b"\x1b$\x20\x01\x1b\\\xf4\xff\x1dL\x0c\x00\x1dW\x40\x02"),
            [
                Event::Command(Cmd::AbsolutePosition(288)),
                Event::Command(Cmd::RelativePosition(-12)),
                Event::Command(Cmd::LeftMargin(12)),
                Event::Command(Cmd::PrintAreaWidth(576)),
            ]
        );
        // GS 8 L fn 112: a 10 x 2 dot monochrome graphic (2 bytes a row), then GS ( L fn 50.
        let mut job = Vec::from(*b"\x1d8L\x0e\x00\x00\x000p0\x01\x011\x0a\x00\x02\x00");
        job.extend_from_slice(&[0xff, 0xc0, 0x80, 0x40]);
        job.extend_from_slice(b"\x1d(L\x02\x0002z");
        let events = decode(&job);
        assert_eq!(
            events[0],
            Event::PayloadStart(PayloadKind::Raster {
                mode: 0,
                width_bytes: 2,
                height: 2
            })
        );
        assert_eq!(events[5], Event::PayloadEnd);
        assert_eq!(
            events[6],
            Event::Command(Cmd::NoEffect {
                prefix: GS,
                cmd: b'L'
            })
        );
        assert_eq!(events[7], Event::Data(b'z'));
        // Multiple-tone graphics are skipped by their length.
        let mut d = Decoder::new();
        for &b in b"\x1d(L\x0e\x000p4\x01\x011\x0a\x00\x02\x00\x01\x02\x03\x04" {
            d.push(b, &mut |_| {});
        }
        assert!(d.idle() && d.skipped() > 0);
    }

    #[test]
    fn huge_lengths_cost_no_memory() {
        // 65,535-byte QR store and a 65,535 x 65,535 raster: streamed, never held.
        let mut d = Decoder::new();
        let mut n = 0u32;
        for &b in &[0x1d, b'(', b'k', 0xff, 0xff, 49, 80, 48] {
            d.push(b, &mut |_| n += 1);
        }
        for _ in 0..100_000 {
            d.push(b'x', &mut |_| n += 1);
        }
        assert!(n > 65_000);
        assert!(d.idle(), "the store ended after its declared length");
        assert!(core::mem::size_of::<Decoder>() <= 32);
    }

    #[test]
    fn unknown_commands_and_stray_controls_are_skipped() {
        let events = decode(b"\x1b\x7fA\x07B\x1d(Z\x02\x00\x01\x02C");
        assert_eq!(
            events
                .iter()
                .filter(|e| matches!(e, Event::Data(_)))
                .count(),
            3
        );
        assert_eq!(events.last(), Some(&Event::Data(b'C')));
    }
}
