//! konbini-bench: the benchmarks and test harnesses of konbini-pos, kept out of the product
//! (`publish = false`; the `konbini` binary links none of it).
//!
//! - [`figures`]: the performance figures `konbini-bench` prints (replay, barcode, codec,
//!   decoder, network, sync, printer), each against the limit measured in the same run.
//! - [`ui`]: `konbini-bench ui`, the register UI's figures.
//! - [`harness`]: the register driven inline on ratatui's `TestBackend`, for the tests and
//!   the UI bench.
//! - [`pty`]: a program in a real pseudo-terminal, for the tests and the UI bench.
//!
//! The integration tests of `konbini-pos` use it as a dev-dependency.

pub mod figures;
pub mod harness;
pub mod pty;
pub mod soak;
pub mod ui;

pub use figures::{bench_network, sale_of, sample_sale};
