//! The barcode scanner: framing of the serial wire (`codec`), re-read suppression
//! (`debounce`), the serial reader with reconnect (`reader`), and the keyboard-wedge rule
//! (`wedge`). It turns bytes into frames; judging a frame is the register core's job.

pub mod codec;
pub mod debounce;
pub mod reader;
pub mod sim;
pub mod wedge;

pub use codec::{CodecStats, Frame, Framing, SCAN_FRAME_MAX_BYTES, ScanCodec};
pub use debounce::Debouncer;
pub use reader::{ReaderConfig, ReaderStats, ScannerEvent};
pub use wedge::{WedgeDetector, WedgeInput};
