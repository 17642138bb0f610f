//! konbini-pos: a konbini point-of-sale terminal simulator.
//!
//! A tour, in the order a payment flows (see ARCHITECTURE.md for the rules of the house):
//!
//! - [`domain`]: yen, the four chains, the GS1-128 bill barcode, the paperless reference,
//!   Japan time. Pure values.
//! - [`register`]: the pure register core. `Register::update(Msg) -> Vec<Effect>`; every
//!   rule of a sale lives here and nowhere else.
//! - [`journal`]: the durable SQLite journal, the only code that touches the database.
//! - [`receipt`]: the receipt layout, independent of any printer.
//! - [`printer`]: receipts to ESC/POS, printer ports and status, the virtual printer (the
//!   firmware's engine to PNG), `printer-sim` and the print queue.
//! - [`replay`]: `konbini replay`, a scan log through the core into the journal.
//! - [`sync`]: store-and-forward: the journal's outbox carried to the payment network.
//! - [`network`]: `konbini network`, the payment network simulator (Stripe-compatible
//!   merchant API, terminal API, vouchers, webhooks).
//! - [`printer`], [`scanner`], [`devices`]: the register's devices, real and simulated.
//! - [`bench`]: the performance figures.
//! - [`cli`]: the command line.

pub mod bench;
pub mod cli;
pub mod devices;
pub mod domain;
pub mod failpoint;
pub mod hardware;
pub mod journal;
pub mod network;
pub mod printer;
pub mod receipt;
pub mod register;
pub mod replay;
pub mod scanner;
pub mod sync;
pub mod ui;
pub mod wal;
