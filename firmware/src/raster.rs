//! The raster engine: decoded ESC/POS events in, dot lines of the paper's width out, to a
//! [`Paper`] (the thermal head on the printer, a PNG and text transcript on the host).
//!
//! It owns the print modes (character size, emphasis, underline, reverse, justification,
//! kanji code system), the line being composed, and the bar code, QR and raster image
//! state. Text is composed a line at a time, as a printer's print buffer is: a line is
//! printed at LF, ESC d, ESC J, before a bar code, QR symbol or image, before a cut, and
//! when the next character would not fit (the line wraps). Each printed text line is also
//! handed to the paper as UTF-8 (the transcript).
//!
//! Memory budget (fixed, no allocation): the line band is `MAX_DOTS / 8` bytes ×
//! [`MAX_BAND_ROWS`] rows (72 × 192 = 13,824 bytes: the widest paper times the tallest
//! character, 8 × 24 dots), one output line (72 bytes), the transcript line
//! ([`TEXT_MAX_BYTES`]), one bar code ([`BARCODE_DATA_MAX_BYTES`] of data, its values,
//! runs and HRI: under 4.5 KB), the QR store (`qr` module: about 6 KB) and the PDF417
//! store (`pdf417` module: about 4.8 KB). About 30 KB in all, whatever the input. The kanji font (248 KiB) is read-only data, not RAM.
//!
//! What it never does: allocate, panic on any event sequence, or write past the paper
//! width: text that does not fit wraps, bar codes and QR symbols wider than the paper are
//! not printed (counted in [`Faults`]), images wider than the paper are clipped.
//!
//! Not drawn, by design for now: Font B (ESC ! bit 0; drawn as Font A), upside-down and
//! rotated printing, character spacing (ESC SP, FS S), line spacing other than the
//! default 30 dots, code pages other than katakana (their bytes print as replacement
//! glyphs).

use crate::barcode::{BARCODE_DATA_MAX_BYTES, MODULE_DOTS_RANGE, Symbol};
use crate::decoder::{Cmd, Decoder, Event, PayloadKind};
use crate::escpos::Justify;
use crate::fonts::{self, ANK_WIDTH_DOTS, CELL_HEIGHT_DOTS, CellGlyph, KANJI_WIDTH_DOTS};
use crate::pdf417::Pdf417Store;
use crate::qr::QrStore;

/// The widest paper the engine composes for (80 mm).
pub const MAX_DOTS: u16 = crate::DOTS_80MM;
const MAX_LINE_BYTES: usize = MAX_DOTS as usize / 8;
/// Rows of the line band: the tallest character (8 × 24 dots).
pub const MAX_BAND_ROWS: usize = 8 * CELL_HEIGHT_DOTS as usize;
/// Bytes of one transcript line: 48 cells of up to 3 UTF-8 bytes, with room to spare.
pub const TEXT_MAX_BYTES: usize = 192;
/// Default line spacing (ESC 2): a text line feeds at least this many dots.
pub const LINE_SPACING_DOTS: u16 = 30;
/// Default bar code height (GS h), dots.
pub const BARCODE_DEFAULT_HEIGHT_DOTS: u8 = 162;
/// Default bar code module width (GS w), dots.
pub const BARCODE_DEFAULT_MODULE_DOTS: u8 = 3;

/// Where the engine's output goes. Dot lines are `dots / 8` bytes, most significant bit
/// leftmost, top of the paper first. Every method may fail (a head out of paper); the
/// engine passes the error on and drops the rest of what it was printing.
pub trait Paper {
    /// Why the paper could not take the output.
    type Error;
    /// Print one dot line.
    fn dot_line(&mut self, dots: &[u8]) -> Result<(), Self::Error>;
    /// Feed `dots` blank dot lines (the motor alone: nothing to burn).
    fn feed(&mut self, dots: u16) -> Result<(), Self::Error>;
    /// The characters of the text line just printed, as UTF-8 (an empty line is "").
    /// Replacement glyphs appear as U+FFFD.
    fn text_line(&mut self, text: &str) -> Result<(), Self::Error>;
    /// Cut the paper here.
    fn cut(&mut self, partial: bool) -> Result<(), Self::Error>;
}

/// What the engine left out or replaced, counted since it was made.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Faults {
    /// Characters printed as the replacement glyph (invalid Shift_JIS or JIS pairs, bytes
    /// without a character, characters the font lacks).
    pub replaced_chars: u32,
    /// Bar codes not printed (bad data, unsupported system, wider than the paper).
    pub barcodes_dropped: u32,
    /// QR symbols not printed (no data, too much data, wider than the paper).
    pub qr_dropped: u32,
    /// PDF417 symbols not printed (no data, too much data for a symbol or for the rows
    /// and columns set, wider than the paper).
    pub pdf417_dropped: u32,
    /// Raster images clipped at the paper's right edge.
    pub images_clipped: u32,
}

/// Character size multipliers, 1-8.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Size {
    width: u8,
    height: u8,
}

const NORMAL: Size = Size {
    width: 1,
    height: 1,
};

/// The print modes ESC @ resets.
#[derive(Debug, Clone, Copy)]
struct Modes {
    ank: Size,
    kanji: Size,
    emphasis: bool,
    underline_dots: u8,
    reverse: bool,
    justify: Justify,
    /// FS C: Shift_JIS (true) or JIS (false).
    shift_jis: bool,
    /// FS & / FS . (JIS only: in Shift_JIS lead bytes are recognised by themselves).
    kanji_mode: bool,
    /// ESC R 8: 0x5C prints as ¥.
    japan: bool,
    barcode_height: u8,
    barcode_module: u8,
    hri: u8,
    /// ESC 3 / ESC 2: dots a text line feeds at least.
    line_spacing: u16,
    /// GS L: left margin, dots.
    left_margin: u16,
    /// GS W: print area width, dots (clipped to the paper at use).
    area_width: u16,
}

impl Modes {
    const fn reset() -> Modes {
        Modes {
            ank: NORMAL,
            kanji: NORMAL,
            emphasis: false,
            underline_dots: 0,
            reverse: false,
            justify: Justify::Left,
            shift_jis: true,
            kanji_mode: false,
            japan: false,
            barcode_height: BARCODE_DEFAULT_HEIGHT_DOTS,
            barcode_module: BARCODE_DEFAULT_MODULE_DOTS,
            hri: 0,
            line_spacing: LINE_SPACING_DOTS,
            left_margin: 0,
            area_width: u16::MAX,
        }
    }
}

/// Style of one character cell.
#[derive(Debug, Clone, Copy)]
struct Style {
    size: Size,
    emphasis: bool,
    underline_dots: u8,
    reverse: bool,
}

const PLAIN: Style = Style {
    size: NORMAL,
    emphasis: false,
    underline_dots: 0,
    reverse: false,
};

/// What a payload being received is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Receiving {
    Nothing,
    Barcode { system: u8 },
    Qr,
    Pdf417,
    Raster(RasterImage),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct RasterImage {
    width_bytes: u16,
    x_scale: u16,
    y_scale: u16,
    /// Dot offset of the image's left edge (justification).
    offset: u16,
    /// Byte of the current row being received.
    column: u16,
}

/// The raster engine for paper `dots` wide. See the module documentation.
pub struct Engine {
    dots: u16,
    modes: Modes,
    /// The line being composed; row 0 is the bottom row of the line.
    band: [[u8; MAX_LINE_BYTES]; MAX_BAND_ROWS],
    /// Dots used on the line, from the left.
    line_used: u16,
    /// Height of the line in dots (the tallest character on it).
    line_height: u16,
    /// Justification latched when the line's first character was placed.
    line_justify: Justify,
    text: [u8; TEXT_MAX_BYTES],
    text_len: usize,
    /// A kanji's first byte, waiting for its second.
    lead: Option<u8>,
    out: [u8; MAX_LINE_BYTES],
    receiving: Receiving,
    barcode_data: [u8; BARCODE_DATA_MAX_BYTES],
    barcode_len: usize,
    barcode_overflow: bool,
    symbol: Symbol,
    qr: QrStore,
    pdf417: Pdf417Store,
    faults: Faults,
}

impl Engine {
    /// An engine for paper `dots` wide (384 for 58 mm, 576 for 80 mm), rounded down to a
    /// whole byte and kept within 8..=[`MAX_DOTS`].
    pub fn new(dots: u16) -> Engine {
        let dots = (dots.clamp(8, MAX_DOTS) / 8) * 8;
        Engine {
            dots,
            modes: Modes::reset(),
            band: [[0; MAX_LINE_BYTES]; MAX_BAND_ROWS],
            line_used: 0,
            line_height: 0,
            line_justify: Justify::Left,
            text: [0; TEXT_MAX_BYTES],
            text_len: 0,
            lead: None,
            out: [0; MAX_LINE_BYTES],
            receiving: Receiving::Nothing,
            barcode_data: [0; BARCODE_DATA_MAX_BYTES],
            barcode_len: 0,
            barcode_overflow: false,
            symbol: Symbol::default(),
            qr: QrStore::default(),
            pdf417: Pdf417Store::default(),
            faults: Faults::default(),
        }
    }

    /// The paper width in dots.
    pub fn dots(&self) -> u16 {
        self.dots
    }

    /// Bytes of one dot line.
    pub fn line_bytes(&self) -> usize {
        usize::from(self.dots / 8)
    }

    /// What was left out or replaced so far.
    pub fn faults(&self) -> Faults {
        self.faults
    }

    /// Run `bytes` through `decoder` and this engine. Events the engine does not print
    /// (DLE EOT, GS r, ESC p) are passed over: a caller that answers them drives the
    /// decoder itself and hands the rest to [`Engine::handle`]. Stops at the first paper
    /// error.
    pub fn print_bytes<P: Paper>(
        &mut self,
        decoder: &mut Decoder,
        bytes: &[u8],
        paper: &mut P,
    ) -> Result<(), P::Error> {
        let mut result = Ok(());
        for &b in bytes {
            decoder.push(b, &mut |event| {
                if result.is_ok() {
                    result = self.handle(event, paper);
                }
            });
            if result.is_err() {
                break;
            }
        }
        result
    }

    /// Take one decoded event.
    pub fn handle<P: Paper>(&mut self, event: Event, paper: &mut P) -> Result<(), P::Error> {
        // A kanji's first byte followed by anything but data is an incomplete pair.
        if self.lead.is_some() && !matches!(event, Event::Data(_) | Event::Skipped(_)) {
            self.lead = None;
            self.replacement(KANJI_WIDTH_DOTS, paper)?;
        }
        match event {
            Event::Data(byte) => self.data(byte, paper),
            Event::Command(cmd) => self.command(cmd, paper),
            Event::PayloadStart(kind) => self.payload_start(kind, paper),
            Event::Payload(byte) => {
                self.payload(byte, paper)?;
                Ok(())
            }
            Event::PayloadEnd => self.payload_end(paper),
            Event::Skipped(_) => Ok(()),
        }
    }

    /// End of job: print what is left in the line (as a printer does when its buffer
    /// is flushed), without a feed.
    pub fn finish<P: Paper>(&mut self, paper: &mut P) -> Result<(), P::Error> {
        if self.lead.take().is_some() {
            self.replacement(KANJI_WIDTH_DOTS, paper)?;
        }
        if self.line_used > 0 {
            self.print_line(paper, false)?;
        }
        Ok(())
    }

    fn command<P: Paper>(&mut self, cmd: Cmd, paper: &mut P) -> Result<(), P::Error> {
        let m = &mut self.modes;
        match cmd {
            Cmd::Initialize => {
                // ESC @ clears the print buffer too.
                self.clear_line();
                self.receiving = Receiving::Nothing;
                self.modes = Modes::reset();
                self.qr.reset_settings();
                self.pdf417.reset_settings();
            }
            Cmd::LineFeed => self.print_line(paper, true)?,
            Cmd::CarriageReturn => {}
            Cmd::PrintMode(n) => {
                let size = Size {
                    width: if n & 0x20 != 0 { 2 } else { 1 },
                    height: if n & 0x10 != 0 { 2 } else { 1 },
                };
                m.ank = size;
                m.emphasis = n & 0x08 != 0;
                m.underline_dots = if n & 0x80 != 0 { 1 } else { 0 };
            }
            Cmd::Emphasis(on) => m.emphasis = on,
            Cmd::Underline(n) => m.underline_dots = n.min(2),
            Cmd::Justify(j) => m.justify = j,
            Cmd::FeedLines(n) => {
                if n > 0 {
                    self.print_line(paper, true)?;
                    for _ in 1..n {
                        self.print_line(paper, true)?;
                    }
                } else if self.line_used > 0 {
                    self.print_line(paper, false)?;
                }
            }
            Cmd::FeedDots(n) => {
                if self.line_used > 0 {
                    self.print_line(paper, false)?;
                }
                paper.feed(u16::from(n))?;
            }
            Cmd::CodeTable(_) => {}
            Cmd::International(n) => m.japan = n == 8,
            Cmd::DrawerKick { .. } | Cmd::TransmitStatus(_) | Cmd::Status(_) => {}
            Cmd::Size { width, height } => {
                let size = Size {
                    width: width.clamp(1, 8),
                    height: height.clamp(1, 8),
                };
                m.ank = size;
                m.kanji = size;
            }
            Cmd::Reverse(on) => m.reverse = on,
            Cmd::BarcodeHeight(n) => m.barcode_height = n.max(1),
            // The TM-T88 takes 2-6 and ignores any other value.
            Cmd::BarcodeWidth(n) if MODULE_DOTS_RANGE.contains(&n) => m.barcode_module = n,
            Cmd::BarcodeWidth(_) => {}
            Cmd::HriPosition(n) => m.hri = n & 3,
            Cmd::Cut { partial, feed } => {
                if self.line_used > 0 {
                    self.print_line(paper, true)?;
                }
                paper.feed(u16::from(feed))?;
                paper.cut(partial)?;
            }
            Cmd::KanjiCodeSystem(n) => m.shift_jis = matches!(n, 1 | b'1'),
            Cmd::KanjiOn => m.kanji_mode = true,
            Cmd::KanjiOff => m.kanji_mode = false,
            Cmd::KanjiPrintMode(n) => {
                m.kanji = Size {
                    width: if n & 0x04 != 0 { 2 } else { 1 },
                    height: if n & 0x08 != 0 { 2 } else { 1 },
                };
                m.underline_dots = if n & 0x80 != 0 { 1 } else { 0 };
            }
            Cmd::QrModel(_) => {}
            Cmd::QrModuleSize(n) => self.qr.set_module_dots(n),
            Cmd::QrErrorLevel(n) => self.qr.set_level(n),
            Cmd::QrPrint => self.print_qr(paper)?,
            Cmd::Pdf417Columns(n) => self.pdf417.set_columns(n),
            Cmd::Pdf417Rows(n) => self.pdf417.set_rows(n),
            Cmd::Pdf417ModuleWidth(n) => self.pdf417.set_module_dots(n),
            Cmd::Pdf417RowHeight(n) => self.pdf417.set_row_height(n),
            Cmd::Pdf417ErrorLevel { m, n } => self.pdf417.set_correction(m, n),
            Cmd::Pdf417Options(n) => self.pdf417.set_options(n),
            Cmd::Pdf417Print => self.print_pdf417(paper)?,
            Cmd::LineSpacing(n) => m.line_spacing = n.map_or(LINE_SPACING_DOTS, u16::from),
            Cmd::KanjiUnderline(n) => m.underline_dots = n.min(2),
            // Set at the start of a line, as a printer takes them.
            Cmd::LeftMargin(n) => m.left_margin = n,
            Cmd::PrintAreaWidth(n) => m.area_width = n,
            Cmd::AbsolutePosition(x) => self.move_to(i32::from(x)),
            Cmd::RelativePosition(dx) => self.move_to(i32::from(self.line_used) + i32::from(dx)),
            Cmd::NoEffect { .. } => {}
        }
        Ok(())
    }

    fn data<P: Paper>(&mut self, byte: u8, paper: &mut P) -> Result<(), P::Error> {
        if let Some(lead) = self.lead.take() {
            let ch = if self.modes.shift_jis {
                fonts::shift_jis_char(lead, byte)
            } else {
                fonts::jis_char(lead, byte)
            };
            return match ch {
                Some(ch) => self.character(ch, true, paper),
                None => self.replacement(KANJI_WIDTH_DOTS, paper),
            };
        }
        let kanji_lead = if self.modes.shift_jis {
            fonts::is_shift_jis_lead(byte)
        } else {
            self.modes.kanji_mode
        };
        if kanji_lead {
            self.lead = Some(byte);
            return Ok(());
        }
        match fonts::ank_char(byte, self.modes.japan) {
            Some(ch) => self.character(ch, false, paper),
            None => self.replacement(ANK_WIDTH_DOTS, paper),
        }
    }

    fn style(&self, kanji: bool) -> Style {
        Style {
            size: if kanji {
                self.modes.kanji
            } else {
                self.modes.ank
            },
            emphasis: self.modes.emphasis,
            underline_dots: self.modes.underline_dots,
            reverse: self.modes.reverse,
        }
    }

    /// Print `ch` (kanji: in a full-width cell).
    fn character<P: Paper>(
        &mut self,
        ch: char,
        kanji: bool,
        paper: &mut P,
    ) -> Result<(), P::Error> {
        let glyph = if kanji {
            fonts::kanji_glyph(ch)
        } else {
            fonts::ank_glyph(ch)
        };
        let glyph = glyph.unwrap_or_else(|| {
            self.faults.replaced_chars += 1;
            fonts::replacement(if kanji {
                KANJI_WIDTH_DOTS
            } else {
                ANK_WIDTH_DOTS
            })
        });
        self.place(&glyph, self.style(kanji), ch, paper)
    }

    fn replacement<P: Paper>(&mut self, width: u16, paper: &mut P) -> Result<(), P::Error> {
        self.faults.replaced_chars += 1;
        let kanji = width == KANJI_WIDTH_DOTS;
        self.place(
            &fonts::replacement(width),
            self.style(kanji),
            char::REPLACEMENT_CHARACTER,
            paper,
        )
    }

    /// Put a glyph on the line (printing the line first if it would not fit).
    fn place<P: Paper>(
        &mut self,
        glyph: &CellGlyph,
        style: Style,
        ch: char,
        paper: &mut P,
    ) -> Result<(), P::Error> {
        let w = u16::from(style.size.width);
        let h = u16::from(style.size.height);
        let width = glyph.width * w;
        if self.line_used > 0 && self.line_used + width > self.area_width() {
            self.print_line(paper, true)?;
        }
        if self.line_used == 0 {
            self.line_justify = self.modes.justify;
        }
        let x0 = self.line_used;
        let height = CELL_HEIGHT_DOTS * h;
        let cell_mask = if glyph.width >= 32 {
            u32::MAX
        } else {
            !(u32::MAX >> glyph.width)
        };
        for y in 0..CELL_HEIGHT_DOTS {
            let mut row = glyph.rows[usize::from(y)];
            if style.emphasis {
                // Overstrike one dot to the right.
                row |= row >> 1;
            }
            if style.reverse {
                row = !row;
            }
            row &= cell_mask;
            for k in 0..h {
                let r = usize::from(height - 1 - (y * h + k));
                for x in 0..glyph.width {
                    if row >> (31 - x) & 1 == 1 {
                        self.set_dots(r, x0 + x * w, w);
                    }
                }
            }
        }
        for r in 0..usize::from(style.underline_dots) {
            self.set_dots(r, x0, width);
        }
        self.line_used = (x0 + width).min(self.dots);
        self.line_height = self.line_height.max(height);
        let mut utf8 = [0u8; 4];
        let encoded = ch.encode_utf8(&mut utf8).as_bytes();
        if let Some(slot) = self
            .text
            .get_mut(self.text_len..self.text_len + encoded.len())
        {
            slot.copy_from_slice(encoded);
            self.text_len += encoded.len();
        }
        Ok(())
    }

    /// Set `n` dots from `x` in band row `r` (clipped at the paper width).
    fn set_dots(&mut self, r: usize, x: u16, n: u16) {
        let Some(row) = self.band.get_mut(r) else {
            return;
        };
        for x in x..(x + n).min(self.dots) {
            row[usize::from(x / 8)] |= 0x80 >> (x % 8);
        }
    }

    fn clear_line(&mut self) {
        let bytes = self.line_bytes();
        for row in self.band.iter_mut().take(usize::from(self.line_height)) {
            row[..bytes].fill(0);
        }
        self.line_used = 0;
        self.line_height = 0;
        self.text_len = 0;
        self.lead = None;
    }

    /// The print area's left edge and width (GS L, GS W) on this paper: at least one
    /// character cell wide, as printers enforce.
    fn area(&self) -> (u16, u16) {
        let left = self.modes.left_margin.min(self.dots - ANK_WIDTH_DOTS);
        let width = self
            .modes
            .area_width
            .clamp(ANK_WIDTH_DOTS, self.dots - left);
        (left, width)
    }

    fn area_width(&self) -> u16 {
        self.area().1
    }

    /// Left offset of something `width` dots wide under justification `j`, in the print
    /// area.
    fn offset(&self, j: Justify, width: u16) -> u16 {
        justified(self.area(), self.dots, j, width)
    }

    /// ESC $ / ESC \: the next character at `x` dots from the print area's left edge;
    /// ignored outside the area, as printers do. A move right shows in the transcript as
    /// the spaces it stands for (at least one).
    fn move_to(&mut self, x: i32) {
        let Ok(x) = u16::try_from(x) else {
            return;
        };
        if x > self.area_width() {
            return;
        }
        if self.line_used == 0 {
            self.line_justify = self.modes.justify;
        }
        if x > self.line_used && self.text_len > 0 {
            let spaces = usize::from((x - self.line_used) / ANK_WIDTH_DOTS).max(1);
            let end = (self.text_len + spaces).min(TEXT_MAX_BYTES);
            self.text[self.text_len..end].fill(b' ');
            self.text_len = end;
        }
        self.line_used = x;
    }

    /// Print the composed line: its rows, then (with `spacing`) the rest of the line
    /// spacing; then its text. An empty line with `spacing` is a blank line.
    fn print_line<P: Paper>(&mut self, paper: &mut P, spacing: bool) -> Result<(), P::Error> {
        let result = self.emit_line(paper, spacing);
        self.clear_line();
        result
    }

    fn emit_line<P: Paper>(&mut self, paper: &mut P, spacing: bool) -> Result<(), P::Error> {
        let offset = self.offset(self.line_justify, self.line_used);
        let bytes = self.line_bytes();
        for r in (0..usize::from(self.line_height)).rev() {
            shift_into(&self.band[r][..bytes], offset, &mut self.out[..bytes]);
            paper.dot_line(&self.out[..bytes])?;
        }
        if spacing {
            let rest = self.modes.line_spacing.saturating_sub(self.line_height);
            if rest > 0 {
                paper.feed(rest)?;
            }
        }
        let text = core::str::from_utf8(&self.text[..self.text_len]).unwrap_or("");
        paper.text_line(text)
    }

    fn payload_start<P: Paper>(
        &mut self,
        kind: PayloadKind,
        paper: &mut P,
    ) -> Result<(), P::Error> {
        match kind {
            PayloadKind::Barcode { system } => {
                self.barcode_len = 0;
                self.barcode_overflow = false;
                self.receiving = Receiving::Barcode { system };
            }
            PayloadKind::QrData => {
                self.qr.begin();
                self.receiving = Receiving::Qr;
            }
            PayloadKind::Pdf417Data => {
                self.pdf417.begin();
                self.receiving = Receiving::Pdf417;
            }
            PayloadKind::Raster {
                mode,
                width_bytes,
                height: _,
            } => {
                if self.line_used > 0 {
                    self.print_line(paper, true)?;
                }
                let x_scale = if mode & 1 != 0 { 2 } else { 1 };
                let y_scale = if mode & 2 != 0 { 2 } else { 1 };
                let width = u32::from(width_bytes) * 8 * u32::from(x_scale);
                if width > u32::from(self.dots) {
                    self.faults.images_clipped += 1;
                }
                let offset = self.offset(self.modes.justify, width.min(0xFFFF) as u16);
                self.out.fill(0);
                self.receiving = Receiving::Raster(RasterImage {
                    width_bytes,
                    x_scale,
                    y_scale,
                    offset,
                    column: 0,
                });
            }
        }
        Ok(())
    }

    fn payload<P: Paper>(&mut self, byte: u8, paper: &mut P) -> Result<(), P::Error> {
        match &mut self.receiving {
            Receiving::Nothing => {}
            Receiving::Barcode { .. } => match self.barcode_data.get_mut(self.barcode_len) {
                Some(slot) => {
                    *slot = byte;
                    self.barcode_len += 1;
                }
                None => self.barcode_overflow = true,
            },
            Receiving::Qr => self.qr.push(byte),
            Receiving::Pdf417 => self.pdf417.push(byte),
            Receiving::Raster(image) => {
                // Dots of this byte, scaled, from the image's left edge.
                let x = image.offset + image.column.saturating_mul(8).saturating_mul(image.x_scale);
                for bit in 0..8u16 {
                    if byte & (0x80 >> bit) != 0 {
                        for k in 0..image.x_scale {
                            let dot = u32::from(x) + u32::from(bit * image.x_scale + k);
                            if dot < u32::from(self.dots) {
                                self.out[dot as usize / 8] |= 0x80 >> (dot % 8);
                            }
                        }
                    }
                }
                image.column += 1;
                if image.column >= image.width_bytes {
                    image.column = 0;
                    let rows = image.y_scale;
                    let bytes = self.line_bytes();
                    let result = (0..rows).try_for_each(|_| paper.dot_line(&self.out[..bytes]));
                    self.out.fill(0);
                    result?;
                }
            }
        }
        Ok(())
    }

    fn payload_end<P: Paper>(&mut self, paper: &mut P) -> Result<(), P::Error> {
        let receiving = core::mem::replace(&mut self.receiving, Receiving::Nothing);
        match receiving {
            Receiving::Barcode { system } => self.print_barcode(system, paper),
            Receiving::Nothing | Receiving::Qr | Receiving::Pdf417 => Ok(()),
            Receiving::Raster(_) => {
                self.out.fill(0);
                Ok(())
            }
        }
    }

    fn print_barcode<P: Paper>(&mut self, system: u8, paper: &mut P) -> Result<(), P::Error> {
        if self.line_used > 0 {
            self.print_line(paper, true)?;
        }
        let data = &self.barcode_data[..self.barcode_len];
        if self.barcode_overflow || self.symbol.encode(system, data).is_err() {
            self.faults.barcodes_dropped += 1;
            return Ok(());
        }
        let module = self.modes.barcode_module;
        let width = self.symbol.width_dots(module);
        if width > u32::from(self.dots) {
            self.faults.barcodes_dropped += 1;
            return Ok(());
        }
        let width = width as u16;
        let x0 = self.offset(self.modes.justify, width);
        let hri = self.modes.hri;
        if hri & 1 != 0 {
            self.print_hri(x0, width, paper)?;
        }
        // The bar row, repeated for the height.
        let bytes = self.line_bytes();
        self.out.fill(0);
        let mut x = x0;
        for (i, &w) in self.symbol.runs_widths().iter().enumerate() {
            let n = self.symbol.run_dots(w, module) as u16;
            if i % 2 == 0 {
                for d in x..x + n {
                    self.out[usize::from(d / 8)] |= 0x80 >> (d % 8);
                }
            }
            x += n;
        }
        for _ in 0..self.modes.barcode_height {
            paper.dot_line(&self.out[..bytes])?;
        }
        if hri & 2 != 0 {
            self.print_hri(x0, width, paper)?;
        }
        Ok(())
    }

    /// The HRI text, Font A, centred under (or over) a bar code at `x0`, `width` wide.
    fn print_hri<P: Paper>(&mut self, x0: u16, width: u16, paper: &mut P) -> Result<(), P::Error> {
        let mut hri = [0u8; 48];
        let n = self
            .symbol
            .hri()
            .len()
            .min(usize::from(self.dots / ANK_WIDTH_DOTS))
            .min(48);
        hri[..n].copy_from_slice(&self.symbol.hri()[..n]);
        for &b in &hri[..n] {
            let ch = char::from(b);
            let glyph = fonts::ank_glyph(ch).unwrap_or_else(|| fonts::replacement(ANK_WIDTH_DOTS));
            self.place(&glyph, PLAIN, ch, paper)?;
        }
        // Centre under the bars: a left-justified line moved right.
        let text_width = self.line_used;
        let left = (x0 + width / 2).saturating_sub(text_width / 2);
        let left = left.min(self.dots.saturating_sub(text_width));
        let bytes = self.line_bytes();
        let result = (|| {
            for r in (0..usize::from(self.line_height)).rev() {
                shift_into(&self.band[r][..bytes], left, &mut self.out[..bytes]);
                paper.dot_line(&self.out[..bytes])?;
            }
            let text = core::str::from_utf8(&self.text[..self.text_len]).unwrap_or("");
            paper.text_line(text)
        })();
        self.clear_line();
        result
    }

    fn print_qr<P: Paper>(&mut self, paper: &mut P) -> Result<(), P::Error> {
        if self.line_used > 0 {
            self.print_line(paper, true)?;
        }
        let module = u16::from(self.qr.module_dots());
        let dots = self.dots;
        let justify = self.modes.justify;
        let area = self.area();
        let bytes = self.line_bytes();
        let Ok(code) = self.qr.encode() else {
            self.faults.qr_dropped += 1;
            return Ok(());
        };
        let size = code.size() as u16;
        let width = size * module;
        if width > dots {
            self.faults.qr_dropped += 1;
            return Ok(());
        }
        let x0 = justified(area, dots, justify, width);
        let out = &mut self.out;
        for y in 0..size {
            out.fill(0);
            for x in 0..size {
                if code.get_module(i32::from(x), i32::from(y)) {
                    let d0 = x0 + x * module;
                    for d in d0..d0 + module {
                        out[usize::from(d / 8)] |= 0x80 >> (d % 8);
                    }
                }
            }
            for _ in 0..module {
                paper.dot_line(&out[..bytes])?;
            }
        }
        Ok(())
    }
}

impl Engine {
    fn print_pdf417<P: Paper>(&mut self, paper: &mut P) -> Result<(), P::Error> {
        if self.line_used > 0 {
            self.print_line(paper, true)?;
        }
        let area = self.area();
        let Ok(layout) = self.pdf417.encode(area.1) else {
            self.faults.pdf417_dropped += 1;
            return Ok(());
        };
        let module = u16::from(self.pdf417.module_dots());
        let width = u32::from(layout.width_modules()) * u32::from(module);
        if width > u32::from(self.dots) {
            self.faults.pdf417_dropped += 1;
            return Ok(());
        }
        let x0 = justified(area, self.dots, self.modes.justify, width as u16);
        let bytes = self.line_bytes();
        for row in 0..layout.rows {
            let out = &mut self.out;
            out.fill(0);
            let mut x = x0;
            self.pdf417.row(&layout, row, |bar| {
                if bar {
                    for d in x..x + module {
                        out[usize::from(d / 8)] |= 0x80 >> (d % 8);
                    }
                }
                x += module;
            });
            for _ in 0..self.pdf417.row_dots() {
                paper.dot_line(&self.out[..bytes])?;
            }
        }
        Ok(())
    }
}

/// Left offset of something `width` dots wide under justification `j` in the print
/// area `(left, width)` of paper `dots` wide; something wider than the area still stays on
/// the paper.
fn justified((left, area): (u16, u16), dots: u16, j: Justify, width: u16) -> u16 {
    let room = area.saturating_sub(width);
    let x = left
        + match j {
            Justify::Left => 0,
            Justify::Center => room / 2,
            Justify::Right => room,
        };
    x.min(dots.saturating_sub(width))
}

/// `out` = `row` moved right by `offset` dots (dots pushed past the end are dropped).
fn shift_into(row: &[u8], offset: u16, out: &mut [u8]) {
    out.fill(0);
    let (bytes, bits) = (usize::from(offset / 8), u32::from(offset % 8));
    for (i, &b) in row.iter().enumerate() {
        if b == 0 {
            continue;
        }
        if let Some(o) = out.get_mut(i + bytes) {
            *o |= b >> bits;
        }
        if bits > 0
            && let Some(o) = out.get_mut(i + bytes + 1)
        {
            *o |= b << (8 - bits);
        }
    }
}
