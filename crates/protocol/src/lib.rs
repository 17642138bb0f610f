//! The terminal API: what a register and the payment network say to each other, and
//! nothing else. Both sides build on this crate, so the shape of a confirmation, the limits
//! of a batch, the verdicts and the request signature are defined once (`docs/terminal-api.md`
//! describes the same in prose).
//!
//! - [`wire`]: the request and answer bodies, serialized with serde.
//! - [`signature`]: `Konbini-Signature`, made by the register and checked by the network.
//!
//! It never does I/O: no HTTP client or server, no clock reads (the time to sign with, or
//! to check against, is passed in).

pub mod signature;
pub mod wire;

pub use signature::{SignatureError, Signed, sign, verify};
pub use wire::{
    BatchAnswer, BatchRef, Confirmation, ErrorAnswer, ErrorBody, JournalLink, LookupQuery, Outcome,
    Payable, RawBatch, Verdict,
};

/// Most confirmations in one batch. The network refuses a larger batch whole; the register
/// never sends one.
pub const MAX_BATCH: usize = 500;
/// Largest terminal API request body: [`MAX_BATCH`] confirmations of about 400 bytes, with
/// room.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// Seconds a signature stays valid either side of the network's clock.
pub const SIGNATURE_WINDOW_SECONDS: i64 = 300;

/// The header naming the terminal.
pub const TERMINAL_HEADER: &str = "Konbini-Terminal";
/// The header carrying the signature (`t=<unix seconds>,v1=<hex>`).
pub const SIGNATURE_HEADER: &str = "Konbini-Signature";

/// `POST`: a batch of confirmations ([`BatchRef`] in, [`BatchAnswer`] out).
pub const CONFIRMATIONS_PATH: &str = "/terminal/v1/confirmations";
/// `GET` with a [`LookupQuery`]: a keyed-in payment ([`Payable`], or an [`ErrorAnswer`]).
pub const LOOKUP_PATH: &str = "/terminal/v1/lookup";
/// `GET`: the terminal's own journal chain as the network holds it.
pub const CHAIN_PATH: &str = "/terminal/v1/chain";
