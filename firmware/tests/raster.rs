//! The raster engine end to end: ESC/POS bytes (from the crate's own encoder where it has
//! the command) through the decoder and the engine onto a capturing paper, with the
//! dots and the transcript checked as a person reading the receipt would.

use std::convert::Infallible;

use konbini_firmware::code128;
use konbini_firmware::decoder::Decoder;
use konbini_firmware::escpos::{Command, Justify};
use konbini_firmware::fonts;
use konbini_firmware::raster::{Engine, Faults, LINE_SPACING_DOTS, Paper, TEXT_MAX_BYTES};
use proptest::prelude::*;

/// Paper that keeps every dot line (feeds as blank lines), the transcript and the cuts.
#[derive(Default)]
struct Capture {
    rows: Vec<Vec<u8>>,
    text: Vec<String>,
    cuts: Vec<(usize, bool)>,
    width_bytes: usize,
}

impl Paper for Capture {
    type Error = Infallible;
    fn dot_line(&mut self, dots: &[u8]) -> Result<(), Infallible> {
        assert_eq!(
            dots.len(),
            self.width_bytes,
            "every line is the paper width"
        );
        self.rows.push(dots.to_vec());
        Ok(())
    }
    fn feed(&mut self, dots: u16) -> Result<(), Infallible> {
        for _ in 0..dots {
            self.rows.push(vec![0; self.width_bytes]);
        }
        Ok(())
    }
    fn text_line(&mut self, text: &str) -> Result<(), Infallible> {
        self.text.push(text.to_owned());
        Ok(())
    }
    fn cut(&mut self, partial: bool) -> Result<(), Infallible> {
        self.cuts.push((self.rows.len(), partial));
        Ok(())
    }
}

impl Capture {
    fn dot(&self, x: usize, y: usize) -> bool {
        self.rows[y][x / 8] & (0x80 >> (x % 8)) != 0
    }
    fn dots_in_row(&self, y: usize) -> usize {
        self.rows[y].iter().map(|b| b.count_ones() as usize).sum()
    }
    fn black(&self) -> usize {
        (0..self.rows.len()).map(|y| self.dots_in_row(y)).sum()
    }
    /// Leftmost black dot of any row.
    fn left_edge(&self) -> Option<usize> {
        (0..self.width_bytes * 8).find(|&x| (0..self.rows.len()).any(|y| self.dot(x, y)))
    }
}

fn render(dots: u16, job: &[u8]) -> (Capture, Faults) {
    let mut engine = Engine::new(dots);
    let mut paper = Capture {
        width_bytes: engine.line_bytes(),
        ..Capture::default()
    };
    let mut decoder = Decoder::new();
    let Ok(()) = engine.print_bytes(&mut decoder, job, &mut paper);
    let Ok(()) = engine.finish(&mut paper);
    (paper, engine.faults())
}

fn job(commands: &[Command<'_>]) -> Vec<u8> {
    let mut bytes = Vec::new();
    for c in commands {
        c.encode(&mut |b| bytes.extend_from_slice(b));
    }
    bytes
}

#[test]
fn a_character_prints_its_font_glyph_then_the_line_spacing() {
    let (paper, faults) = render(384, b"A\n");
    let glyph = fonts::ank_glyph('A').unwrap();
    assert_eq!(paper.rows.len(), usize::from(LINE_SPACING_DOTS));
    for y in 0..24 {
        for x in 0..12 {
            assert_eq!(paper.dot(x, y), glyph.dot(x as u16, y as u16), "({x},{y})");
        }
        assert!(
            (12..384).all(|x| !paper.dot(x, y)),
            "nothing else on row {y}"
        );
    }
    assert!((24..30).all(|y| paper.dots_in_row(y) == 0));
    assert_eq!(paper.text, ["A"]);
    assert_eq!(faults, Faults::default());
    // The glyph is a real A: a crossbar row with both legs, and dots in the top half.
    assert!(paper.black() > 40);
}

#[test]
fn justification_moves_the_line_by_the_free_space() {
    let left = render(384, b"AB\n").0.left_edge().unwrap();
    let centre = job(&[
        Command::Justify(Justify::Center),
        Command::Text(b"AB"),
        Command::LineFeed,
    ]);
    let right = job(&[
        Command::Justify(Justify::Right),
        Command::Text(b"AB"),
        Command::LineFeed,
    ]);
    // Two cells: 24 dots; 360 free on 58 mm paper.
    assert_eq!(render(384, &centre).0.left_edge().unwrap(), left + 180);
    assert_eq!(render(384, &right).0.left_edge().unwrap(), left + 360);
    assert_eq!(render(576, &right).0.left_edge().unwrap(), left + 552);
}

#[test]
fn emphasis_overstrikes_one_dot_to_the_right() {
    let (plain, _) = render(384, b"I\n");
    let (bold, _) = render(384, &job(&[Command::Emphasis(true), Command::Text(b"I")]));
    assert!(bold.black() > plain.black());
    for y in 0..24 {
        for x in 1..12 {
            let expected = plain.dot(x, y) || plain.dot(x - 1, y);
            assert_eq!(bold.dot(x, y), expected, "({x},{y})");
        }
    }
}

#[test]
fn character_size_scales_the_glyph() {
    let (one, _) = render(384, b"A\n");
    let (big, _) = render(
        384,
        &job(&[
            Command::Size {
                width: 2,
                height: 3,
            },
            Command::Text(b"A"),
            Command::LineFeed,
        ]),
    );
    // 72 rows of glyph, no extra spacing (taller than the 30-dot spacing).
    assert_eq!(big.rows.len(), 72);
    assert_eq!(big.black(), one.black() * 6);
    for y in 0..72 {
        for x in 0..24 {
            assert_eq!(big.dot(x, y), one.dot(x / 2, y / 3), "({x},{y})");
        }
    }
}

#[test]
fn underline_runs_under_the_whole_cell() {
    let (paper, _) = render(384, b"\x1b-\x02a b\n");
    for y in [22, 23] {
        assert!((0..36).all(|x| paper.dot(x, y)), "row {y}");
        assert!(!paper.dot(36, y));
    }
}

#[test]
fn a_line_wider_than_the_paper_wraps() {
    let text = "0123456789".repeat(4); // 40 cells; 32 fit on 58 mm
    let (paper, _) = render(384, format!("{text}\n").as_bytes());
    assert_eq!(paper.text, [&text[..32], &text[32..]]);
    assert_eq!(paper.rows.len(), 2 * usize::from(LINE_SPACING_DOTS));
    // Double width on 80 mm: 24 cells a line.
    let (wide, _) = render(576, format!("\x1d!\x10{text}\n").as_bytes());
    assert_eq!(wide.text, [&text[..24], &text[24..]]);
}

#[test]
fn shift_jis_and_jis_kanji_print_in_full_width_cells() {
    // 領収書 in Shift_JIS; ¥ at 0x5C under ESC R 8; half-width katakana ｶ at 0xB6.
    let bytes = job(&[
        Command::Initialize,
        Command::KanjiCodeSystem(1),
        Command::International(8),
        Command::Text(b"\x97\xcc\x8e\xfb\x8f\x91 \\1,000 \xb6"),
        Command::LineFeed,
    ]);
    let (paper, faults) = render(576, &bytes);
    assert_eq!(paper.text, ["領収書 ¥1,000 ｶ"]);
    assert_eq!(faults.replaced_chars, 0);
    // 領 occupies the first 24 dots and matches the kanji glyph.
    let ryo = fonts::kanji_glyph('領').unwrap();
    for y in 0..24 {
        for x in 0..24 {
            assert_eq!(paper.dot(x, y), ryo.dot(x as u16, y as u16));
        }
    }
    // JIS: FS C 0, FS & then the pair 0x4E 0x4E is 領 too; FS . back to ANK.
    let (jis, _) = render(384, b"\x1cC\x00\x1c&\x4e\x4e\x1c.N\n");
    assert_eq!(jis.text, ["領N"]);
}

#[test]
fn invalid_shift_jis_prints_replacement_glyphs() {
    // 0x81 0x20 is no pair; 0xFF is no character; a lead byte cut off by LF.
    let (paper, faults) = render(384, b"a\x81\x20b\xffc\x97\n");
    assert_eq!(paper.text, ["a\u{FFFD}b\u{FFFD}c\u{FFFD}"]);
    assert_eq!(faults.replaced_chars, 3);
    // The replacement box is drawn: its top edge at row 3 of the cell after 'a'.
    assert!((14..34).all(|x| paper.dot(x, 3)));
}

/// Bars and spaces of dot row `y`, in dots, first bar first (quiet zones dropped).
fn runs(paper: &Capture, y: usize) -> Vec<usize> {
    let width = paper.width_bytes * 8;
    let first = (0..width).find(|&x| paper.dot(x, y)).unwrap();
    let last = (0..width).rev().find(|&x| paper.dot(x, y)).unwrap();
    let mut out = vec![];
    let mut x = first;
    while x <= last {
        let colour = paper.dot(x, y);
        let start = x;
        while x <= last && paper.dot(x, y) == colour {
            x += 1;
        }
        out.push(x - start);
    }
    out
}

fn read_bars(paper: &Capture, y: usize, module: usize) -> Vec<u8> {
    let widths: Vec<u8> = runs(paper, y)
        .iter()
        .map(|&w| {
            assert_eq!(w % module, 0, "whole modules");
            (w / module) as u8
        })
        .collect();
    let mut values = [0u8; 64];
    let n = code128::decode_widths(&widths, &mut values).expect("the bars read back");
    values[..n].to_vec()
}

#[test]
fn code128_bars_read_back_with_hri_below() {
    // GS h 40, GS w 2, GS H 2, GS k 73 "{BNo.123".
    let mut bytes = b"\x1dh\x28\x1dw\x02\x1dH\x02".to_vec();
    bytes.extend_from_slice(b"\x1dk\x49\x08{BNo.123");
    let (paper, faults) = render(384, &bytes);
    assert_eq!(faults, Faults::default());
    assert_eq!(paper.rows.len(), 40 + 24);
    let values = read_bars(&paper, 0, 2);
    assert_eq!(values[0], code128::START_B);
    let text: Vec<u8> = values[1..].iter().map(|v| v + 32).collect();
    assert_eq!(text, b"No.123");
    assert_eq!(paper.text, ["No.123"]);
    // Every bar row is the same.
    assert!((1..40).all(|y| paper.rows[y] == paper.rows[0]));
}

#[test]
fn the_konbini_gs1_128_code_fits_80mm_and_reads_back() {
    let digits = b"91912345012345678901234567890101033101230003";
    let mut bytes = b"\x1dw\x02\x1dh\x50\x1dH\x01\x1ba\x01".to_vec();
    bytes.extend_from_slice(&[0x1d, b'k', 74, digits.len() as u8]);
    bytes.extend_from_slice(digits);
    let (paper, faults) = render(576, &bytes);
    assert_eq!(faults, Faults::default());
    // HRI above (24 rows), then 80 rows of bars: 288 modules of 2 dots, centred.
    assert_eq!(paper.rows.len(), 24 + 80);
    let values = read_bars(&paper, 24, 2);
    assert_eq!(&values[..2], &[code128::START_C, code128::FNC1]);
    let read: Vec<u8> = values[2..]
        .iter()
        .flat_map(|&v| [b'0' + v / 10, b'0' + v % 10])
        .collect();
    assert_eq!(read, digits);
    assert_eq!(paper.text, [std::str::from_utf8(digits).unwrap()]);
    // Too wide for 58 mm at module 2: not printed, counted.
    let (narrow, faults) = render(384, &bytes);
    assert_eq!(faults.barcodes_dropped, 1);
    assert_eq!(narrow.black(), 0);
}

fn qr_job(data: &[u8], module: u8) -> Vec<u8> {
    let mut bytes = vec![0x1d, b'(', b'k', 4, 0, 49, 65, 50, 0];
    bytes.extend_from_slice(&[0x1d, b'(', b'k', 3, 0, 49, 67, module]);
    bytes.extend_from_slice(&[0x1d, b'(', b'k', 3, 0, 49, 69, 48]);
    let len = data.len() + 3;
    bytes.extend_from_slice(&[0x1d, b'(', b'k', len as u8, (len >> 8) as u8, 49, 80, 48]);
    bytes.extend_from_slice(data);
    bytes.extend_from_slice(&[0x1d, b'(', b'k', 3, 0, 49, 81, 48]);
    bytes
}

#[test]
fn a_qr_symbol_has_its_size_and_finder_patterns() {
    let (paper, faults) = render(384, &qr_job(b"https://example.jp/r/1", 4));
    assert_eq!(faults, Faults::default());
    // Version 2: 25 modules of 4 dots.
    assert_eq!(paper.rows.len(), 100);
    let module = |mx: usize, my: usize| paper.dot(mx * 4 + 1, my * 4 + 1);
    let finder = |ox: usize, oy: usize| {
        for y in 0..7 {
            for x in 0..7 {
                let ring = x == 0 || x == 6 || y == 0 || y == 6;
                let core = (2..5).contains(&x) && (2..5).contains(&y);
                assert_eq!(module(ox + x, oy + y), ring || core, "finder at {ox},{oy}");
            }
        }
    };
    finder(0, 0);
    finder(18, 0);
    finder(0, 18);
    // Separators are white, and nothing lies beyond the 25th module.
    assert!(!module(7, 0) && !module(17, 0));
    assert!((100..384).all(|x| (0..100).all(|y| !paper.dot(x, y))));
    // Timing pattern on row 6 alternates.
    assert!((8..17).all(|x| module(x, 6) == (x % 2 == 0)));
}

#[test]
fn oversized_qr_data_prints_nothing() {
    let (paper, faults) = render(576, &qr_job(&[b'x'; 2000], 1));
    assert_eq!(faults.qr_dropped, 1);
    assert_eq!(paper.black(), 0);
    // A symbol that fits the store but not the paper at its module size.
    let (paper, faults) = render(384, &qr_job(&[b'x'; 1000], 8));
    assert_eq!(faults.qr_dropped, 1);
    assert_eq!(paper.black(), 0);
}

#[test]
fn raster_images_are_drawn_and_clipped_at_the_paper_edge() {
    // 2 bytes x 2 rows, centred: rows 0xF0 0x0F and 0xFF 0x00.
    let mut bytes = b"\x1ba\x01\x1dv0\x00\x02\x00\x02\x00".to_vec();
    bytes.extend_from_slice(&[0xF0, 0x0F, 0xFF, 0x00]);
    let (paper, faults) = render(384, &bytes);
    assert_eq!(faults.images_clipped, 0);
    assert_eq!(paper.rows.len(), 2);
    assert_eq!(&paper.rows[0][23..25], &[0xF0, 0x0F]);
    assert_eq!(&paper.rows[1][23..25], &[0xFF, 0x00]);
    // 100 bytes (800 dots) wide on 384 dots, double height: clipped, never panics.
    let mut wide = b"\x1dv0\x02\x64\x00\x03\x00".to_vec();
    wide.extend(std::iter::repeat_n(0xFF, 300));
    wide.extend_from_slice(b"x\n");
    let (paper, faults) = render(384, &wide);
    assert_eq!(faults.images_clipped, 1);
    assert_eq!(paper.rows.len(), 6 + 30);
    assert!(paper.rows[..6].iter().all(|r| r.iter().all(|&b| b == 0xFF)));
    assert_eq!(paper.text, ["x"], "the job goes on after the image");
}

#[test]
fn a_receipt_from_the_encoder_keeps_every_line_and_ends_with_its_cut() {
    let lines: [&[u8]; 4] = [
        b"\x97\xcc\x8e\xfb\x8f\x91",              // 領収書
        b"\x83\x74\x83\x40\x83\x7e\x83\x8a\x81[", // ファミリー
        b"TOTAL          \\1,280",
        b"",
    ];
    let mut commands = vec![
        Command::Initialize,
        Command::CodeTable(1),
        Command::KanjiCodeSystem(1),
        Command::International(8),
    ];
    for (i, line) in lines.iter().enumerate() {
        commands.push(Command::Justify(if i == 0 {
            Justify::Center
        } else {
            Justify::Left
        }));
        commands.push(Command::Size {
            width: if i == 0 { 2 } else { 1 },
            height: if i == 0 { 2 } else { 1 },
        });
        commands.push(Command::Emphasis(i == 0));
        commands.push(Command::Text(line));
        commands.push(Command::LineFeed);
    }
    commands.push(Command::FeedLines(3));
    commands.push(Command::Cut {
        partial: true,
        feed: 0,
    });
    let (paper, faults) = render(576, &job(&commands));
    assert_eq!(faults, Faults::default());
    assert_eq!(
        paper.text,
        [
            "領収書",
            "ファミリー",
            "TOTAL          ¥1,280",
            "",
            "",
            "",
            ""
        ]
    );
    // Title: 48 rows; three lines of 30; three more blank lines of 30.
    assert_eq!(paper.rows.len(), 48 + 3 * 30 + 3 * 30);
    assert_eq!(paper.cuts, [(paper.rows.len(), true)]);
    // The title is centred: 3 kanji at double width = 144 dots, 216 free each side.
    let title_left = (0..576)
        .find(|&x| (0..48).any(|y| paper.dot(x, y)))
        .unwrap();
    assert!((216..216 + 12).contains(&title_left), "{title_left}");
}

#[test]
fn esc_at_clears_a_half_composed_line() {
    let (paper, _) = render(384, b"lost\x1b@kept\n");
    assert_eq!(paper.text, ["kept"]);
}

proptest! {
    #[test]
    fn any_bytes_print_without_panic_in_bounded_lines(
        bytes in proptest::collection::vec(any::<u8>(), 0..3000),
        wide in any::<bool>(),
    ) {
        let (paper, _) = render(if wide { 576 } else { 384 }, &bytes);
        // Lines are the paper width (checked in Capture) and the transcript bounded.
        prop_assert!(paper.text.iter().all(|t| t.len() <= TEXT_MAX_BYTES));
        // A bounded amount of paper per input byte: at most one 8x-tall line, a 255-dot
        // bar code (and HRI), a QR symbol or an image row (x2) per byte, plus spacing.
        prop_assert!(paper.rows.len() <= 400 * (bytes.len() + 1));
    }

    #[test]
    fn escpos_heavy_input_prints_without_panic(
        parts in proptest::collection::vec(
            prop_oneof![
                Just(vec![0x1b, b'@']),
                Just(vec![0x1d, b'!', 0x77]),
                Just(vec![0x1c, b'C', 0]),
                Just(vec![0x1c, b'&']),
                Just(vec![0x1d, b'k', 73]),
                Just(vec![0x1d, b'k', 74]),
                Just(vec![0x1d, b'v', b'0', 3]),
                Just(vec![0x1d, b'(', b'k']),
                Just(vec![0x1b, b'a', 2]),
                Just(vec![0x0a]),
                proptest::collection::vec(any::<u8>(), 0..12),
            ],
            0..60,
        ),
    ) {
        let bytes: Vec<u8> = parts.concat();
        let (paper, _) = render(384, &bytes);
        prop_assert!(paper.text.iter().all(|t| t.len() <= TEXT_MAX_BYTES));
    }
}
