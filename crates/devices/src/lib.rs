//! The register's devices, host side: the barcode scanner (the wire codec, re-read debounce,
//! the serial reader that survives unplugs, the keyboard-wedge rule, a virtual scanner on a
//! pseudo-terminal), the receipt (its layout as lines, then ESC/POS bytes for a real printer
//! or the virtual one, the printer simulator, the print queue drained from the journal), and
//! the device profiles of `hardware/`.
//!
//! The receipt layout sits here, above the journal, because it lays out what the journal
//! gives back (a committed sale, a day's totals): a receipt always has a journal row behind
//! it. Nothing here decides whether a slip or a sale is valid (the register core does) or
//! commits a sale (the journal does).

pub mod printer;
pub mod profiles;
pub mod receipt;
pub mod scanner;
