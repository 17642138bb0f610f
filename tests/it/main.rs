//! The integration tests: one binary (builds are slow on two cores). Each module is one
//! area; helpers live in `common`.

mod architecture;
mod checkout;
mod common;
mod crash;
mod hostile;
mod journal;
mod network;
mod nodes;
mod printer;
mod printer_tcp;
mod props;
mod proxy;
mod register_rules;
mod replay_logs;
mod replay_v2;
mod scanner;
mod sync;
mod udev;
mod ui;
mod ui_pty;
mod webhooks;
