//! The barcode scanner: framing of the serial wire (`codec`), re-read suppression
//! (`debounce`). The serial reader with reconnect, the keyboard-wedge rule and the device
//! profiles are issue 6's remaining work.

pub mod codec;
pub mod debounce;

pub use codec::{CodecStats, Frame, Framing, SCAN_FRAME_MAX_BYTES, ScanCodec};
pub use debounce::Debouncer;
