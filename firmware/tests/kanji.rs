//! Every JIS X 0208 character printed by the engine: none drawn as the box glyph, no two
//! distinct kanji alike; and the NEC and IBM extensions that Shift_JIS printers take, sent
//! as a job: how many are drawn, and the rest printed as the box and counted by the engine.

use std::collections::HashMap;
use std::convert::Infallible;

use konbini_firmware::decoder::Decoder;
use konbini_firmware::fonts::{self, KANJI_WIDTH_DOTS};
use konbini_firmware::raster::{Engine, Paper};

#[derive(Default)]
struct Transcript {
    text: String,
    dot_lines: usize,
}

impl Paper for Transcript {
    type Error = Infallible;
    fn dot_line(&mut self, _: &[u8]) -> Result<(), Infallible> {
        self.dot_lines += 1;
        Ok(())
    }
    fn feed(&mut self, _: u16) -> Result<(), Infallible> {
        Ok(())
    }
    fn text_line(&mut self, text: &str) -> Result<(), Infallible> {
        self.text.push_str(text);
        Ok(())
    }
    fn cut(&mut self, _: bool) -> Result<(), Infallible> {
        Ok(())
    }
}

/// Every JIS X 0208 code point with a character: (row, cell, character).
fn jis_x_0208() -> Vec<(u8, u8, char)> {
    let mut all = Vec::new();
    for row in (1..=8u8).chain(16..=84) {
        for cell in 1..=94u8 {
            if let Some(c) = fonts::jis_char(row + 0x20, cell + 0x20) {
                all.push((row, cell, c));
            }
        }
    }
    all
}

/// The Shift_JIS pair of JIS X 0208 row `row`, cell `cell`.
fn shift_jis(row: u8, cell: u8) -> [u8; 2] {
    let (j1, j2) = (row + 0x20, cell + 0x20);
    let s1 = j1.div_ceil(2) + if j1 <= 0x5E { 0x70 } else { 0xB0 };
    let s2 = if j1 % 2 == 1 {
        j2 + if j2 >= 0x60 { 0x20 } else { 0x1F }
    } else {
        j2 + 0x7E
    };
    [s1, s2]
}

#[test]
fn every_jis_x_0208_character_prints_in_every_size_and_none_as_the_box() {
    let all = jis_x_0208();
    // 524 non-kanji, 2,965 level 1 and 3,390 level 2 kanji.
    assert_eq!(all.len(), 6879);
    // The whole set in JIS (FS C 0, FS &), then in Shift_JIS, through the engine, at
    // each size GS ! offers (1-8 times, which scale the same 24-dot glyphs).
    let mut jis = b"\x1b@\x1cC\x00\x1c&".to_vec();
    for &(row, cell, _) in &all {
        jis.extend_from_slice(&[row + 0x20, cell + 0x20]);
    }
    let mut sjis = b"\x1b@\x1cC\x01".to_vec();
    for &(row, cell, c) in &all {
        let pair = shift_jis(row, cell);
        assert_eq!(fonts::shift_jis_char(pair[0], pair[1]), Some(c));
        sjis.extend_from_slice(&pair);
    }
    let expected: String = all.iter().map(|&(_, _, c)| c).collect();
    for (job, size) in [(&jis, 0x00u8), (&sjis, 0x00), (&jis, 0x11), (&sjis, 0x77)] {
        let mut job = job.clone();
        job.splice(2..2, [0x1d, b'!', size]);
        let mut engine = Engine::new(576);
        let mut paper = Transcript::default();
        let Ok(()) = engine.print_bytes(&mut Decoder::new(), &job, &mut paper);
        let Ok(()) = engine.finish(&mut paper);
        assert_eq!(engine.faults().replaced_chars, 0, "size {size:#x}");
        assert_eq!(paper.text, expected, "size {size:#x}");
        let per_line = 576 / (24 * (usize::from(size & 0x0F) + 1));
        let rows = 24 * (usize::from(size & 0x0F) + 1);
        assert_eq!(paper.dot_lines, all.len().div_ceil(per_line) * rows);
    }
    // And no glyph is the box.
    let boxed = fonts::replacement(KANJI_WIDTH_DOTS);
    let as_box: String = all
        .iter()
        .filter(|&&(_, _, c)| fonts::kanji_glyph(c) == Some(boxed))
        .map(|&(_, _, c)| c)
        .collect();
    assert!(as_box.is_empty(), "drawn as the box: {as_box}");
}

#[test]
fn no_two_distinct_kanji_share_a_glyph() {
    let mut seen: HashMap<[u32; 24], char> = HashMap::new();
    let mut alike = Vec::new();
    for (row, _, c) in jis_x_0208() {
        if row < 16 {
            // Non-kanji: Greek and Cyrillic capitals may look like Latin ones.
            continue;
        }
        let glyph = fonts::kanji_glyph(c).expect("every kanji has a glyph");
        if let Some(other) = seen.insert(glyph.rows, c) {
            alike.push(format!("{other}{c}"));
        }
    }
    assert!(alike.is_empty(), "kanji drawn alike: {alike:?}");
}

/// The NEC and IBM extensions' Shift_JIS pairs that decode to a character, with it.
fn nec_and_ibm_extensions() -> Vec<([u8; 2], char)> {
    // NEC row 13 (Shift_JIS 0x8740-0x879C), the NEC-selected IBM extensions
    // (0xED40-0xEEFC) and the IBM extensions (0xFA40-0xFC4B).
    let mut all = Vec::new();
    for lead in [0x87u8, 0xED, 0xEE, 0xFA, 0xFB, 0xFC] {
        for trail in (0x40u8..=0x7E).chain(0x80..=0xFC) {
            if let Some(c) = fonts::shift_jis_char(lead, trail) {
                all.push(([lead, trail], c));
            }
        }
    }
    all
}

#[test]
fn the_nec_and_ibm_extensions_sent_as_a_job_are_152_drawn_and_693_counted_by_the_engine() {
    // Through the decoder and engine, as a host would send them: the figure the firmware
    // README states is what the engine reports.
    let all = nec_and_ibm_extensions();
    let mut job = b"\x1b@\x1cC\x01".to_vec();
    for (pair, _) in &all {
        job.extend_from_slice(pair);
    }
    let mut engine = Engine::new(576);
    let mut paper = Transcript::default();
    let Ok(()) = engine.print_bytes(&mut Decoder::new(), &job, &mut paper);
    let Ok(()) = engine.finish(&mut paper);
    // The engine reports 693 printed as the box; the transcript keeps every character
    // sent, in order (the box is in the dots only).
    assert_eq!(all.len(), 845);
    assert_eq!(engine.faults().replaced_chars, 693);
    let sent: String = all.iter().map(|&(_, c)| c).collect();
    assert_eq!(paper.text, sent);
    // Exactly those the font lacks: the other 152 are drawn.
    let lacking = all
        .iter()
        .filter(|&&(_, c)| fonts::kanji_glyph(c).is_none())
        .count();
    assert_eq!((lacking, all.len() - lacking), (693, 152));
}
