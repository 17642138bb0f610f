//! konbini-pos: the `konbini` application. The libraries it is built from are crates of
//! their own (see ARCHITECTURE.md): `konbini-domain` (yen, chains, the bill barcode),
//! `konbini-protocol` (the terminal API), `konbini-register` (the pure register core),
//! `konbini-journal` (the durable SQLite journal), `konbini-devices` (scanner, receipts and
//! printers), `konbini-network` (the payment network simulator). This crate wires them:
//!
//! - [`cli`]: the command line.
//! - [`replay`]: `konbini replay`, a scan log through the core into the journal.
//! - [`sync`]: store-and-forward: the journal's outbox carried to the payment network.
//! - [`ui`]: `konbini register`, the clerk's terminal UI.
//! - [`embedded`]: the in-process payment network of the register's embedded defaults.
//! - [`devices`]: `konbini devices`, real devices checked from the command line.

pub mod cli;
pub mod devices;
pub mod embedded;
pub mod fd_limit;
pub mod fleet;
pub mod replay;
pub mod sync;
pub mod ui;
