//! The printer's QR symbol store (GS ( k): the settings (model, module size, error
//! correction level), the stored data, and its encoding into modules by
//! `qrcodegen-no-heap`.
//!
//! Memory budget: fixed at build time, no allocation. Symbols go up to version
//! [`QR_MAX_VERSION`] (117 × 117 modules, which at module size 3 is 351 dots and fits
//! 58 mm paper); the store holds [`QR_DATA_MAX_BYTES`], the most bytes such a symbol can
//! carry at level L. Two work buffers of `Version::buffer_len()` (1,713 bytes each) do the
//! encoding: about 4.7 KB in all. Data beyond the store is dropped and the whole symbol is
//! refused at print time ([`QrError::TooLong`]), as is data that does not fit the chosen
//! level within the version limit: the printer prints nothing for it, never a wrong symbol.
//!
//! Model 1 and Micro QR are not drawn as such: every symbol is Model 2.
//! This module must never panic on any setting or data.

use qrcodegen_no_heap::{QrCode, QrCodeEcc, Version};

/// Largest symbol version drawn.
pub const QR_MAX_VERSION: u8 = 25;
/// Most data bytes stored: the byte-mode capacity of version 25 at level L.
pub const QR_DATA_MAX_BYTES: usize = 1273;
const WORK_BYTES: usize = Version::new(QR_MAX_VERSION).buffer_len();

/// Default module size in dots (GS ( k fn 167).
pub const QR_DEFAULT_MODULE_DOTS: u8 = 3;

/// Why the stored data makes no symbol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QrError {
    /// Nothing is stored.
    Empty,
    /// More data than the store or a version-25 symbol at the chosen level holds.
    TooLong,
}

/// The QR store and its work buffers.
pub struct QrStore {
    data: [u8; QR_DATA_MAX_BYTES],
    len: usize,
    overflow: bool,
    module_dots: u8,
    level: QrCodeEcc,
    temp: [u8; WORK_BYTES],
    out: [u8; WORK_BYTES],
}

impl Default for QrStore {
    fn default() -> Self {
        QrStore {
            data: [0; QR_DATA_MAX_BYTES],
            len: 0,
            overflow: false,
            module_dots: QR_DEFAULT_MODULE_DOTS,
            level: QrCodeEcc::Low,
            temp: [0; WORK_BYTES],
            out: [0; WORK_BYTES],
        }
    }
}

impl QrStore {
    /// Settings back to their defaults (ESC @); the stored data stays.
    pub fn reset_settings(&mut self) {
        self.module_dots = QR_DEFAULT_MODULE_DOTS;
        self.level = QrCodeEcc::Low;
    }

    /// GS ( k fn 167: module size in dots, 1-16 (others are ignored, as a printer does).
    pub fn set_module_dots(&mut self, n: u8) {
        if (1..=16).contains(&n) {
            self.module_dots = n;
        }
    }

    /// The module size in dots.
    pub fn module_dots(&self) -> u8 {
        self.module_dots
    }

    /// GS ( k fn 169: 48 L, 49 M, 50 Q, 51 H (others are ignored).
    pub fn set_level(&mut self, n: u8) {
        self.level = match n {
            48 => QrCodeEcc::Low,
            49 => QrCodeEcc::Medium,
            50 => QrCodeEcc::Quartile,
            51 => QrCodeEcc::High,
            _ => self.level,
        };
    }

    /// GS ( k fn 180 begins: the old data is gone.
    pub fn begin(&mut self) {
        self.len = 0;
        self.overflow = false;
    }

    /// One byte of the data being stored.
    pub fn push(&mut self, byte: u8) {
        match self.data.get_mut(self.len) {
            Some(slot) => {
                *slot = byte;
                self.len += 1;
            }
            None => self.overflow = true,
        }
    }

    /// Encode the stored data (which stays stored, to print again).
    pub fn encode(&mut self) -> Result<QrCode<'_>, QrError> {
        if self.overflow {
            return Err(QrError::TooLong);
        }
        if self.len == 0 {
            return Err(QrError::Empty);
        }
        let (min, max) = (Version::MIN, Version::new(QR_MAX_VERSION));
        let data = &self.data[..self.len];
        let code = match core::str::from_utf8(data) {
            // Text: numeric or alphanumeric mode where the data allows.
            Ok(text) => QrCode::encode_text(
                text,
                &mut self.temp,
                &mut self.out,
                self.level,
                min,
                max,
                None,
                false,
            ),
            Err(_) => {
                // Shift_JIS or binary: byte mode. Capacity at v25 is below the store.
                let Some(head) = self.temp.get_mut(..data.len()) else {
                    return Err(QrError::TooLong);
                };
                head.copy_from_slice(data);
                QrCode::encode_binary(
                    &mut self.temp,
                    data.len(),
                    &mut self.out,
                    self.level,
                    min,
                    max,
                    None,
                    false,
                )
            }
        };
        code.map_err(|_| QrError::TooLong)
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::boxed::Box;

    use super::*;

    #[test]
    fn the_store_is_sized_for_its_version() {
        let mut store = Box::<QrStore>::default();
        store.set_level(48);
        store.begin();
        for _ in 0..QR_DATA_MAX_BYTES {
            store.push(0xFF);
        }
        // Full at level L: version 25 exactly.
        assert_eq!(store.encode().map(|c| c.version().value()), Ok(25));
        // At level H the same data cannot fit a version-25 symbol.
        store.set_level(51);
        assert_eq!(store.encode().err(), Some(QrError::TooLong));
        // One byte more than the store: refused.
        store.set_level(48);
        store.push(0);
        assert_eq!(store.encode().err(), Some(QrError::TooLong));
        store.begin();
        assert_eq!(store.encode().err(), Some(QrError::Empty));
        for &b in b"https://example.jp/r/1" {
            store.push(b);
        }
        let code = store.encode().unwrap();
        assert_eq!(code.size(), 25, "version 2");
    }
}
