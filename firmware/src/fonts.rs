//! Character glyphs for the raster engine, and the byte-to-character conversions behind
//! them: ANK bytes (ASCII with Japan's ¥ at 0x5C, half-width katakana) and two-byte kanji
//! (Shift_JIS, or JIS inside FS & … FS .) to Unicode, then Unicode to a glyph.
//!
//! Kanji-cell glyphs of JIS X 0208 (all 6,879 characters: the non-kanji rows 1-8 and the
//! level 1 and 2 kanji, rows 16-84) come from the Shinonome 16-dot Gothic font (public
//! domain; `firmware/fonts/shinonome16.bin`, 248 KiB of read-only data, built by
//! `fonts/shinonome16.py` from Debian's `xfonts-shinonome`), looked up by the character's
//! JIS row and cell. Everything else (ANK, and the NEC and IBM extensions Shift_JIS
//! printers take) comes from GNU Unifont's sets in `u8g2-fonts` (`unifont_t_japanese3`:
//! 8 × 16 ANK, 16 × 16 kana and kanji). Each is drawn into a 16 × 16 bitmap and scaled by
//! 3/2 into the printer's cells: 12 × 24 for ANK (Font A) and 24 × 24 for kanji. Half-width
//! katakana, which Unifont lacks, are drawn from their full-width forms squeezed into a
//! 12-dot cell. A character no font has prints as a box (the replacement glyph).
//!
//! This module never allocates and never panics on any byte or character; it owns no state.

use embedded_graphics_core::Pixel;
use embedded_graphics_core::draw_target::DrawTarget;
use embedded_graphics_core::geometry::{OriginDimensions, Point, Size};
use embedded_graphics_core::pixelcolor::BinaryColor;
use encoding_rs::{DecoderResult, EUC_JP, EncoderResult, SHIFT_JIS};
use u8g2_fonts::FontRenderer;
use u8g2_fonts::fonts;
use u8g2_fonts::types::{FontColor, VerticalPosition};

/// Height of a character cell in dots (Font A, and kanji).
pub const CELL_HEIGHT_DOTS: u16 = 24;
/// Width of an ANK (half-width) cell in dots: Font A.
pub const ANK_WIDTH_DOTS: u16 = 12;
/// Width of a kanji (full-width) cell in dots.
pub const KANJI_WIDTH_DOTS: u16 = 24;

/// Row of the 16-row bitmap the baseline sits on (Unifont: 14 above, 2 below).
const BASELINE: i32 = 14;

/// The fonts searched for a glyph, in order: Unifont's Japanese set, then its GB 2312 set
/// for the JIS X 0208 kanji and symbols the Japanese set lacks (the same Unifont glyphs:
/// one glyph per code point), then its symbols set (arrows, stars).
static FONTS: [FontRenderer; 3] = [
    FontRenderer::new::<fonts::u8g2_font_unifont_t_japanese3>(),
    FontRenderer::new::<fonts::u8g2_font_unifont_t_gb2312>(),
    FontRenderer::new::<fonts::u8g2_font_unifont_t_symbols>(),
];

/// The Shinonome 16-dot kanji font, JIS X 0208 rows 1-84 (see `fonts/shinonome16.py`
/// for the layout): a presence bitmap, then 32 bytes a code point.
static SHINONOME16: &[u8; SHINONOME16_BYTES] = include_bytes!("../fonts/shinonome16.bin");
const JIS_ROWS: usize = 84;
const JIS_CELLS: usize = 94;
const PRESENCE_BYTES: usize = (JIS_ROWS * JIS_CELLS).div_ceil(8) + 1;
const GLYPH_BYTES: usize = 32;
/// Bytes of the kanji font in the firmware image.
pub const SHINONOME16_BYTES: usize = PRESENCE_BYTES + JIS_ROWS * JIS_CELLS * GLYPH_BYTES;

/// The JIS X 0208 row and cell (each 1-94) of `ch`, None when it has none. NEC's row 13
/// is given too (the Shift_JIS printers' extension).
pub fn jis_row_cell(ch: char) -> Option<(u8, u8)> {
    let mut utf8 = [0u8; 4];
    let mut out = [0u8; 8];
    let mut encoder = EUC_JP.new_encoder();
    let (result, _, written) =
        encoder.encode_from_utf8_without_replacement(ch.encode_utf8(&mut utf8), &mut out, true);
    match (result, &out[..written]) {
        (EncoderResult::InputEmpty, &[a @ 0xA1..=0xFE, b @ 0xA1..=0xFE]) => {
            Some((a - 0xA0, b - 0xA0))
        }
        _ => None,
    }
}

/// The Shinonome bitmap of JIS row `row`, cell `cell`, None when the font has none.
fn shinonome16(row: u8, cell: u8) -> Option<[u16; 16]> {
    let (row, cell) = (usize::from(row), usize::from(cell));
    if !(1..=JIS_ROWS).contains(&row) || !(1..=JIS_CELLS).contains(&cell) {
        return None;
    }
    let i = (row - 1) * JIS_CELLS + (cell - 1);
    if SHINONOME16[i / 8] & (0x80 >> (i % 8)) == 0 {
        return None;
    }
    let glyph = &SHINONOME16[PRESENCE_BYTES + i * GLYPH_BYTES..][..GLYPH_BYTES];
    let mut rows = [0u16; 16];
    for (r, pair) in rows.iter_mut().zip(glyph.chunks_exact(2)) {
        *r = u16::from_be_bytes([pair[0], pair[1]]);
    }
    Some(rows)
}

/// A glyph scaled into its cell: row `y` (0 at the top, 24 rows) holds the cell's dots
/// in its high bits, bit 31 leftmost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CellGlyph {
    /// Rows, top first; bit 31 of a row is the leftmost dot.
    pub rows: [u32; CELL_HEIGHT_DOTS as usize],
    /// Cell width in dots: 12 or 24.
    pub width: u16,
}

impl CellGlyph {
    /// Whether the dot at column `x`, row `y` is black.
    pub fn dot(&self, x: u16, y: u16) -> bool {
        x < self.width && y < CELL_HEIGHT_DOTS && self.rows[usize::from(y)] >> (31 - x) & 1 == 1
    }
}

/// A 16 × 16 bitmap the font renders into: bit 15 of a row is the leftmost dot.
struct Bitmap16 {
    rows: [u16; 16],
}

impl OriginDimensions for Bitmap16 {
    fn size(&self) -> Size {
        Size::new(16, 16)
    }
}

impl DrawTarget for Bitmap16 {
    type Color = BinaryColor;
    type Error = core::convert::Infallible;

    fn draw_iter<I>(&mut self, pixels: I) -> Result<(), Self::Error>
    where
        I: IntoIterator<Item = Pixel<Self::Color>>,
    {
        for Pixel(Point { x, y }, color) in pixels {
            if (0..16).contains(&x) && (0..16).contains(&y) && color == BinaryColor::On {
                self.rows[y as usize] |= 0x8000 >> x;
            }
        }
        Ok(())
    }
}

/// The font's 16 × 16 bitmap of `ch` (an ANK glyph fills the left 8 columns), or None
/// when the font has no glyph for it.
fn bitmap16(ch: char) -> Option<[u16; 16]> {
    FONTS.iter().find_map(|font| bitmap16_with(font, ch))
}

fn bitmap16_with(renderer: &FontRenderer, ch: char) -> Option<[u16; 16]> {
    let mut bitmap = Bitmap16 { rows: [0; 16] };
    renderer
        .render(
            ch,
            Point::new(0, BASELINE),
            VerticalPosition::Baseline,
            FontColor::Transparent(BinaryColor::On),
            &mut bitmap,
        )
        .ok()?;
    Some(bitmap.rows)
}

/// Scale the left `src_width` columns (8 or 16) of `bitmap` into a cell `width` dots
/// wide, 24 high. Each source dot covers the destination dots its area overlaps, so a
/// one-dot stroke becomes an even two-dot stroke (3/2 scaling by nearest neighbour would
/// leave strokes of one and two dots side by side), and a one-dot gap stays open.
fn scale(bitmap: &[u16; 16], src_width: u16, width: u16) -> CellGlyph {
    // Destination dot d of n covers source [d·s/n, (d+1)·s/n): take every source dot it
    // overlaps.
    let span = |d: u16, n: u16, s: u16| (d * s / n, ((d + 1) * s).div_ceil(n).min(s));
    let mut rows = [0u32; CELL_HEIGHT_DOTS as usize];
    for (y, row) in rows.iter_mut().enumerate() {
        let (y0, y1) = span(y as u16, CELL_HEIGHT_DOTS, 16);
        let src = bitmap[usize::from(y0)..usize::from(y1)]
            .iter()
            .fold(0u16, |a, r| a | r);
        for x in 0..width {
            let (x0, x1) = span(x, width, src_width);
            let mask = (0xFFFFu16 >> x0) & !(0xFFFFu16.checked_shr(u32::from(x1)).unwrap_or(0));
            if src & mask != 0 {
                *row |= 1 << (31 - x);
            }
        }
    }
    CellGlyph { rows, width }
}

/// The replacement glyph: an outlined box filling most of the cell.
pub fn replacement(width: u16) -> CellGlyph {
    let mut rows = [0u32; CELL_HEIGHT_DOTS as usize];
    let inner_width = width.saturating_sub(4).max(1);
    let span = (u32::MAX << (32 - inner_width)) >> 2;
    let sides = (1u32 << 29) | (1u32 << (31 - (2 + inner_width - 1)));
    for (y, row) in rows.iter_mut().enumerate() {
        *row = match y {
            3 | 20 => span,
            4..=19 => sides,
            _ => 0,
        };
    }
    CellGlyph { rows, width }
}

/// The glyph of `ch` in a half-width (12-dot) cell, or None when the font lacks it.
pub fn ank_glyph(ch: char) -> Option<CellGlyph> {
    if let Some(full) = full_width_katakana(ch) {
        // The font has no half-width katakana: squeeze the full-width form.
        return bitmap16(full).map(|b| scale(&b, 16, ANK_WIDTH_DOTS));
    }
    bitmap16(ch).map(|b| scale(&b, 8, ANK_WIDTH_DOTS))
}

/// The glyph of `ch` in a full-width (24-dot) cell, or None when the font lacks it.
pub fn kanji_glyph(ch: char) -> Option<CellGlyph> {
    jis_row_cell(ch)
        .and_then(|(row, cell)| shinonome16(row, cell))
        .or_else(|| bitmap16(ch))
        .map(|b| scale(&b, 16, KANJI_WIDTH_DOTS))
}

/// The character an ANK byte (0x20-0x7E, 0x80-0x9F, 0xA1-0xDF) prints as; None for bytes
/// with no character in the tables this printer has (code page bytes other than katakana).
/// `japan` is ESC R 8: 0x5C prints as ¥.
pub fn ank_char(byte: u8, japan: bool) -> Option<char> {
    match byte {
        0x5C if japan => Some('¥'),
        0x20..=0x7E => Some(char::from(byte)),
        // The katakana table's block elements and box drawing (host libraries draw rules
        // and table borders with them).
        0x80..=0x9F => Some(KATAKANA_TABLE_GRAPHICS[usize::from(byte - 0x80)]),
        // Half-width katakana U+FF61-U+FF9F sit at 0xA1-0xDF in order.
        0xA1..=0xDF => char::from_u32(0xFF61 + u32::from(byte - 0xA1)),
        _ => None,
    }
}

/// Bytes 0x80-0x9F of the katakana code table (ESC t 1), as Epson's Japanese printers have
/// them.
const KATAKANA_TABLE_GRAPHICS: [char; 32] = [
    '▁', '▂', '▃', '▄', '▅', '▆', '▇', '█', '▏', '▎', '▍', '▌', '▋', '▊', '▉', '┼', '┴', '┬', '┤',
    '├', '▔', '─', '│', '▕', '┌', '┐', '└', '┘', '╭', '╮', '╰', '╯',
];

/// Whether `byte` starts a two-byte Shift_JIS character.
pub fn is_shift_jis_lead(byte: u8) -> bool {
    matches!(byte, 0x81..=0x9F | 0xE0..=0xFC)
}

/// The character of a Shift_JIS pair, None when the pair is not a character.
pub fn shift_jis_char(lead: u8, trail: u8) -> Option<char> {
    decode_pair(SHIFT_JIS, [lead, trail])
}

/// The character of a JIS X 0208 pair (both bytes 0x21-0x7E), None when it is not one.
pub fn jis_char(first: u8, second: u8) -> Option<char> {
    if !(0x21..=0x7E).contains(&first) || !(0x21..=0x7E).contains(&second) {
        return None;
    }
    // JIS X 0208 in EUC-JP is the same pair with the high bits set.
    decode_pair(EUC_JP, [first | 0x80, second | 0x80])
}

fn decode_pair(encoding: &'static encoding_rs::Encoding, pair: [u8; 2]) -> Option<char> {
    let mut decoder = encoding.new_decoder_without_bom_handling();
    let mut out = [0u8; 8];
    let (result, read, written) = decoder.decode_to_utf8_without_replacement(&pair, &mut out, true);
    if result != DecoderResult::InputEmpty || read != 2 {
        return None;
    }
    let mut chars = core::str::from_utf8(&out[..written]).ok()?.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) => Some(c),
        _ => None,
    }
}

/// The full-width katakana (or sign) a half-width katakana is drawn from.
fn full_width_katakana(ch: char) -> Option<char> {
    // U+FF61-U+FF9F in order.
    const FULL: &str = "。「」、・ヲァィゥェォャュョッーアイウエオカキクケコサシスセソタチツテトナニヌネノハヒフヘホマミムメモヤユヨラリルレロワン゛゜";
    let index = (ch as u32).checked_sub(0xFF61)?;
    FULL.chars().nth(index as usize)
}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::string::String;

    use super::*;

    fn picture(g: &CellGlyph) -> String {
        let mut s = String::new();
        for y in 0..CELL_HEIGHT_DOTS {
            for x in 0..g.width {
                s.push(if g.dot(x, y) { '#' } else { '.' });
            }
            s.push('\n');
        }
        s
    }

    #[test]
    fn ank_glyphs_sit_on_the_baseline_in_two_dot_strokes() {
        let a = ank_glyph('A').unwrap();
        assert_eq!(a.width, ANK_WIDTH_DOTS);
        // Cap height: nothing in the top 6 rows; the legs stand on row 20.
        assert!((0..6).all(|y| (0..12).all(|x| !a.dot(x, y))));
        assert!(a.dot(1, 20) && a.dot(2, 20) && a.dot(9, 20) && a.dot(10, 20));
        assert!(
            !a.dot(0, 20) && !a.dot(3, 20),
            "two-dot strokes:\n{}",
            picture(&a)
        );
        // A descender reaches below the baseline.
        let g = ank_glyph('g').unwrap();
        assert!((21..24).any(|y| (0..12).any(|x| g.dot(x, y))));
        // Half-width katakana come from the full-width forms, in a 12-dot cell.
        assert_eq!(ank_glyph('ｶ').map(|g| g.width), Some(ANK_WIDTH_DOTS));
        assert_ne!(ank_glyph('ｶ'), ank_glyph('ｷ'));
    }

    #[test]
    fn the_kanji_font_has_every_jis_x_0208_character_and_nothing_else() {
        let mut present = 0;
        for row in 1..=84u8 {
            for cell in 1..=94u8 {
                let has = shinonome16(row, cell).is_some();
                let defined = jis_char(row + 0x20, cell + 0x20).is_some() && row != 13;
                assert!(!defined || has, "{row}-{cell}");
                present += usize::from(has);
            }
        }
        assert_eq!(present, 6879);
        assert_eq!(jis_row_cell('領'), Some((0x4E - 0x20, 0x4E - 0x20)));
        assert_eq!(jis_row_cell('A'), None);
    }

    #[test]
    fn jis_x_0208_level_1_kanji_are_all_covered() {
        let (mut chars, mut covered) = (0, 0);
        let mut missing = String::new();
        // Rows 16-47 (0x30-0x4F) are the level-1 kanji.
        for first in 0x30..=0x4F {
            for second in 0x21..=0x7E {
                if let Some(c) = jis_char(first, second) {
                    chars += 1;
                    match kanji_glyph(c) {
                        Some(_) => covered += 1,
                        None => missing.push(c),
                    }
                }
            }
        }
        assert_eq!(chars, 2965);
        // Every one, from the Shinonome font.
        assert_eq!(covered, chars, "missing {missing}");
        for c in "領収書払込済合計現金釣銭税込品番号店様".chars() {
            assert!(kanji_glyph(c).is_some(), "{c}");
        }
        for c in "￥※★→○●×".chars() {
            assert!(kanji_glyph(c).is_some(), "{c}");
        }
    }

    #[test]
    fn bytes_to_characters() {
        assert_eq!(ank_char(0x5C, true), Some('¥'));
        assert_eq!(ank_char(0x5C, false), Some('\\'));
        assert_eq!(ank_char(0xB6, false), Some('ｶ'));
        assert_eq!(ank_char(0x95, true), Some('─'));
        assert_eq!(ank_char(0x9F, true), Some('╯'));
        assert_eq!(ank_char(0xA0, true), None);
        assert_eq!(ank_char(0xE0, true), None);
        assert_eq!(shift_jis_char(0x97, 0xCC), Some('領'));
        assert_eq!(shift_jis_char(0x81, 0x20), None);
        assert_eq!(jis_char(0x4E, 0x4E), Some('領'));
        assert_eq!(jis_char(0x7F, 0x21), None);
        let b = replacement(KANJI_WIDTH_DOTS);
        assert!(b.dot(2, 3) && b.dot(21, 20) && !b.dot(10, 10));
    }
}
