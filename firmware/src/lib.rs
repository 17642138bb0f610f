//! konbini-firmware: the receipt printer's firmware, `#![no_std]`.
//!
//! It owns the ESC/POS command set (`escpos`: commands as types, their encoding, status
//! replies), and will own the decoder, the raster engine and the thermal-head driver over
//! embedded-hal (issue 5). The host encodes its receipts with the same types, so the
//! virtual printer and a real one receive the same bytes.
#![no_std]
#![deny(missing_docs)]

pub mod barcode;
pub mod code128;
pub mod decoder;
pub mod escpos;
pub mod fonts;
pub mod head;
pub mod qr;
pub mod raster;

/// Print-head dots per line on 80 mm paper.
pub const DOTS_80MM: u16 = 576;
/// Print-head dots per line on 58 mm paper.
pub const DOTS_58MM: u16 = 384;
/// Width in dots of one Font A (12 × 24) character cell.
pub const FONT_A_WIDTH_DOTS: u16 = 12;

/// Characters of Font A that fit on a line `dots` wide.
pub const fn font_a_columns(dots: u16) -> u16 {
    dots / FONT_A_WIDTH_DOTS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_per_paper_width() {
        assert_eq!(font_a_columns(DOTS_80MM), 48);
        assert_eq!(font_a_columns(DOTS_58MM), 32);
    }
}
