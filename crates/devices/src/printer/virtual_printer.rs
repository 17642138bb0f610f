//! The virtual printer: the firmware's own decoder and raster engine running on the host,
//! printing onto a capturing [`Paper`] that keeps the dot lines (for a 1-bit PNG: white paper,
//! black dots, one pixel a dot) and the text lines (the transcript).
//!
//! It owns the captured paper and its bounds: at most [`PAPER_MAX_DOT_LINES`] dot lines
//! (feeds included) and [`TRANSCRIPT_MAX_BYTES`] of text on one sheet; a job that would
//! print more is an error, [`PaperError::TooLong`], never an unbounded allocation. It never
//! interprets ESC/POS itself (that is the firmware's job, the same code a real printer
//! runs), and never writes files: callers decide where pictures go (and write them whole).

use std::io::Write;

use konbini_firmware::decoder::Decoder;
use konbini_firmware::raster::{Engine, Faults, Paper};

/// Most dot lines on one sheet: 40,000 dots is 5 m of paper at 8 dots/mm, far beyond any
/// receipt (a few thousand), small enough to keep (2.9 MB at 576 dots).
pub const PAPER_MAX_DOT_LINES: u32 = 40_000;
/// Most bytes of transcript on one sheet.
pub const TRANSCRIPT_MAX_BYTES: usize = 1 << 20;
/// The row drawn where paper was cut (not printed: a mark for the viewer): one dot in
/// eight.
const CUT_MARK_DOTS: u8 = 0x80;

/// Why the paper could not take more.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PaperError {
    /// The job prints more than one sheet may hold.
    #[error(
        "the job prints more than {PAPER_MAX_DOT_LINES} dot lines ({} m of paper) or {TRANSCRIPT_MAX_BYTES} bytes of text without a cut; no receipt is that long",
        PAPER_MAX_DOT_LINES / 8000
    )]
    TooLong,
    /// The virtual paper has run out (the printer simulator's paper-end switch).
    #[error("paper end")]
    PaperOut,
}

/// A piece of paper: dot lines `dots` wide (1 bit a dot, most significant bit leftmost,
/// 1 = black) and the text printed on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sheet {
    dots: u16,
    rows: Vec<u8>,
    /// Dot-line indexes at which the paper was cut (a cut mark is drawn above each).
    cuts: Vec<u32>,
    text: String,
}

impl Sheet {
    pub(crate) fn new(dots: u16) -> Sheet {
        Sheet {
            dots,
            rows: Vec::new(),
            cuts: Vec::new(),
            text: String::new(),
        }
    }

    /// Paper width in dots.
    pub fn dots(&self) -> u16 {
        self.dots
    }

    fn line_bytes(&self) -> usize {
        usize::from(self.dots / 8)
    }

    /// Dot lines on the sheet (blank feeds included).
    pub fn dot_lines(&self) -> u32 {
        (self.rows.len() / self.line_bytes().max(1)) as u32
    }

    /// One dot line, `dots / 8` bytes.
    pub fn row(&self, y: u32) -> Option<&[u8]> {
        let n = self.line_bytes();
        let start = (y as usize).checked_mul(n)?;
        self.rows.get(start..start + n)
    }

    /// Dots burnt on the whole sheet.
    pub fn black_dots(&self) -> u64 {
        self.rows.iter().map(|b| u64::from(b.count_ones())).sum()
    }

    /// The text printed, one line per printed text line, each ending in `\n`.
    pub fn transcript(&self) -> &str {
        &self.text
    }

    /// Nothing printed and nothing fed.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty() && self.text.is_empty()
    }

    pub(crate) fn push_text(&mut self, text: &str) -> Result<(), PaperError> {
        if self.text.len() + text.len() + 1 > TRANSCRIPT_MAX_BYTES {
            return Err(PaperError::TooLong);
        }
        self.text.push_str(text);
        self.text.push('\n');
        Ok(())
    }

    pub(crate) fn push_row(&mut self, dots: &[u8]) -> Result<(), PaperError> {
        if self.dot_lines() >= PAPER_MAX_DOT_LINES {
            return Err(PaperError::TooLong);
        }
        let n = self.line_bytes();
        let start = self.rows.len();
        self.rows.resize(start + n, 0);
        let take = dots.len().min(n);
        self.rows[start..start + take].copy_from_slice(&dots[..take]);
        Ok(())
    }

    /// Write the sheet as a 1-bit greyscale PNG, one pixel a dot: white paper, black
    /// dots, and a dotted line (every eighth dot, an extra row) where the paper was cut.
    /// The dot lines are already packed bits, so each row goes out as it is, inverted.
    pub fn write_png<W: Write>(&self, out: W) -> Result<(), png::EncodingError> {
        let width = u32::from(self.dots);
        let height = (self.dot_lines() + self.cuts.len() as u32).max(1);
        let mut encoder = png::Encoder::new(out, width, height);
        encoder.set_color(png::ColorType::Grayscale);
        encoder.set_depth(png::BitDepth::One);
        encoder.set_compression(png::Compression::Fast);
        let mut writer = encoder.write_header()?;
        let mut stream = writer.stream_writer()?;
        let n = self.line_bytes();
        let mut row = vec![0u8; n];
        let cut_mark = vec![!CUT_MARK_DOTS; n];
        let mut cuts = self.cuts.iter().peekable();
        let mut written = 0u32;
        for (y, dots) in self.rows.chunks_exact(n.max(1)).enumerate() {
            while cuts.next_if(|&&c| c as usize == y).is_some() {
                stream.write_all(&cut_mark)?;
                written += 1;
            }
            // PNG greyscale: 1 is white; a dot is 1 on our paper.
            for (o, d) in row.iter_mut().zip(dots) {
                *o = !d;
            }
            stream.write_all(&row)?;
            written += 1;
        }
        for _ in cuts {
            stream.write_all(&cut_mark)?;
            written += 1;
        }
        if written == 0 {
            row.fill(0xFF);
            stream.write_all(&row)?;
        }
        stream.finish()
    }

    /// The sheet as PNG bytes.
    pub fn png_bytes(&self) -> Result<Vec<u8>, png::EncodingError> {
        let mut out = Vec::with_capacity(self.rows.len() / 4 + 1024);
        self.write_png(&mut out)?;
        Ok(out)
    }
}

/// The capturing paper: dot lines and text onto the current sheet; at a cut, either a new
/// sheet (the printer simulator: one sheet a job) or a cut mark (print-render: the whole
/// paper).
#[derive(Debug)]
struct Capture {
    sheet: Sheet,
    split_at_cuts: bool,
    done: Vec<Sheet>,
    paper_out: bool,
}

impl Paper for Capture {
    type Error = PaperError;

    fn dot_line(&mut self, dots: &[u8]) -> Result<(), PaperError> {
        if self.paper_out {
            return Err(PaperError::PaperOut);
        }
        self.sheet.push_row(dots)
    }

    fn feed(&mut self, dots: u16) -> Result<(), PaperError> {
        if self.paper_out {
            return Err(PaperError::PaperOut);
        }
        for _ in 0..dots {
            self.sheet.push_row(&[])?;
        }
        Ok(())
    }

    fn text_line(&mut self, text: &str) -> Result<(), PaperError> {
        self.sheet.push_text(text)
    }

    fn cut(&mut self, _partial: bool) -> Result<(), PaperError> {
        if self.split_at_cuts {
            let next = Sheet::new(self.sheet.dots);
            self.done.push(std::mem::replace(&mut self.sheet, next));
        } else {
            let at = self.sheet.dot_lines();
            self.sheet.cuts.push(at);
        }
        Ok(())
    }
}

/// The firmware's decoder and engine on a capturing paper. See the module documentation.
pub struct VirtualPrinter {
    decoder: Decoder,
    // Boxed: the engine holds its fixed ~22 KB of buffers, too much to move about on
    // the stack.
    engine: Box<Engine>,
    paper: Capture,
}

impl VirtualPrinter {
    /// A printer for paper `dots` wide (576: 80 mm, 384: 58 mm) that keeps the whole
    /// paper on one sheet, cuts marked.
    pub fn new(dots: u16) -> VirtualPrinter {
        VirtualPrinter::with_cuts(dots, false)
    }

    /// A printer whose cuts end sheets: each cut-off piece is taken with
    /// [`VirtualPrinter::take_sheets`].
    pub fn cutting(dots: u16) -> VirtualPrinter {
        VirtualPrinter::with_cuts(dots, true)
    }

    fn with_cuts(dots: u16, split_at_cuts: bool) -> VirtualPrinter {
        let engine = Box::new(Engine::new(dots));
        VirtualPrinter {
            paper: Capture {
                sheet: Sheet::new(engine.dots()),
                split_at_cuts,
                done: Vec::new(),
                paper_out: false,
            },
            decoder: Decoder::new(),
            engine,
        }
    }

    /// Print `bytes` (any part of a stream: commands may span calls).
    pub fn print(&mut self, bytes: &[u8]) -> Result<(), PaperError> {
        self.engine
            .print_bytes(&mut self.decoder, bytes, &mut self.paper)
    }

    /// End of the stream: print what is left in the line buffer.
    pub fn finish(&mut self) -> Result<(), PaperError> {
        self.engine.finish(&mut self.paper)
    }

    /// What the engine left out or replaced so far.
    pub fn faults(&self) -> Faults {
        self.engine.faults()
    }

    /// Bytes the decoder skipped (unknown commands, stray control bytes).
    pub fn skipped_bytes(&self) -> u32 {
        self.decoder.skipped()
    }

    /// Sheets cut off so far (a cutting printer), oldest first.
    pub fn take_sheets(&mut self) -> Vec<Sheet> {
        std::mem::take(&mut self.paper.done)
    }

    /// The paper still in the printer (everything, for a printer that keeps one sheet).
    pub fn sheet(&self) -> &Sheet {
        &self.paper.sheet
    }

    /// Take the paper still in the printer, leaving a fresh sheet.
    pub fn take_sheet(&mut self) -> Sheet {
        let next = Sheet::new(self.paper.sheet.dots);
        std::mem::replace(&mut self.paper.sheet, next)
    }

    /// The paper runs out (`true`) or is loaded again.
    pub fn set_paper_out(&mut self, out: bool) {
        self.paper.paper_out = out;
    }
}

/// Render a whole ESC/POS job on paper `dots` wide: the sheet and what was left out.
pub fn render(job: &[u8], dots: u16) -> Result<(Sheet, Faults), PaperError> {
    let mut printer = VirtualPrinter::new(dots);
    printer.print(job)?;
    printer.finish()?;
    let faults = printer.faults();
    Ok((printer.take_sheet(), faults))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_becomes_black_dots_and_a_transcript_line() {
        let (sheet, faults) = render(b"\x1b@Hello\n", 576).unwrap();
        assert_eq!(sheet.transcript(), "Hello\n");
        assert!(sheet.black_dots() > 50);
        assert_eq!(sheet.dot_lines(), 30, "one line at the default spacing");
        assert_eq!(faults, Faults::default());
        let png = sheet.png_bytes().unwrap();
        assert_eq!(&png[1..4], b"PNG");
    }

    #[test]
    fn an_endless_feed_is_an_error_not_a_huge_picture() {
        // ESC J 255, many times: 255 dots each, no cut.
        let job: Vec<u8> = [0x1b, b'J', 255].repeat(1000);
        assert_eq!(render(&job, 384).unwrap_err(), PaperError::TooLong);
    }

    #[test]
    fn a_cutting_printer_hands_out_one_sheet_per_cut() {
        let mut p = VirtualPrinter::cutting(384);
        p.print(b"\x1b@one\n\x1dV\x42\x00\x1b@two\n\x1dV\x42\x00three")
            .unwrap();
        p.finish().unwrap();
        let sheets = p.take_sheets();
        assert_eq!(sheets.len(), 2);
        assert_eq!(sheets[0].transcript(), "one\n");
        assert_eq!(sheets[1].transcript(), "two\n");
        assert_eq!(p.sheet().transcript(), "three\n");
    }

    #[test]
    fn paper_out_stops_printing() {
        let mut p = VirtualPrinter::new(576);
        p.set_paper_out(true);
        assert_eq!(p.print(b"x\n").unwrap_err(), PaperError::PaperOut);
    }
}
