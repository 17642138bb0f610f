//! konbini-firmware: the receipt printer's firmware, `#![no_std]`, without allocation.
//!
//! A tour, in the order bytes travel:
//! - `escpos`: the ESC/POS commands as types, their encoding, and status replies. The
//!   host encodes its receipts with these, so the virtual printer and a real one receive
//!   the same bytes.
//! - `decoder`: bytes to events, one byte at a time, in constant memory.
//! - `raster`: events to dot lines of the paper width and a UTF-8 transcript, through the
//!   [`raster::Paper`] trait; with `fonts` (Unifont glyphs, Shift_JIS / JIS to Unicode),
//!   `barcode`, `code128`, `linear` and `databar` (the GS k systems), `qr` and `pdf417`
//!   (the 2D symbol stores).
//! - `head`: the thermal-head driver over embedded-hal 1.0.
//! - `firmware_loop`: serial bytes in (`embedded-io`), the engine onto the mechanism,
//!   DLE EOT answered from the sensors.
//!
//! The host's virtual printer runs the same `Decoder` and `Engine` with a `Paper` that
//! collects dot lines into a picture and text lines into a transcript.
#![no_std]
#![deny(missing_docs)]

pub mod barcode;
pub mod code128;
pub mod databar;
pub mod decoder;
pub mod escpos;
pub mod firmware_loop;
pub mod fonts;
pub mod head;
pub mod linear;
pub mod pdf417;
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
