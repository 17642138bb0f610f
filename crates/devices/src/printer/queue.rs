//! The print queue drained to a real printer: each committed sale's receipt, oldest first,
//! sent only when the printer says (DLE EOT) it can print, and marked printed only when it
//! still says so after the job. At paper end (or cover open, or offline) the job stays
//! queued with the reason and draining stops; run again when paper is back and it prints.
//!
//! It owns that order of asking, sending and marking; it never commits, changes or
//! deletes a sale (the sale is already committed: only its print job's state moves), and
//! never marks a job printed that the printer reported failing.
//!
//! Gap: a printer that cannot answer DLE EOT (a USB printer-class device without a read
//! channel) is trusted: the job is sent and marked printed, as nothing better is known.

use std::sync::Mutex;

use konbini_firmware::escpos::PrinterStatus;

use super::{PrinterPort, ReceiptBarcodes, StatusReport, encode_sale_receipt_styled};
use crate::receipt::ReceiptStyle;
use konbini_journal::{Journal, JournalError};

/// Why draining stopped early.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// The journal failed.
    #[error(transparent)]
    Journal(#[from] JournalError),
    /// The printer port failed (unplugged, not writable).
    #[error("printer {path}: {source}")]
    Port {
        /// The printer.
        path: std::path::PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}

/// What one pass over the queue did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DrainReport {
    /// Sales whose receipts were printed, in order.
    pub printed: Vec<u64>,
    /// The sale whose receipt is held, and why (paper end, cover open, offline).
    pub held: Option<(u64, String)>,
    /// Jobs still queued after this pass (the held one included).
    pub still_queued: usize,
}

/// The problem that stops printing, if any.
fn problem(status: &StatusReport) -> Option<String> {
    match status {
        StatusReport::Status(s) => status_problem(s),
        StatusReport::Garbled(b) => Some(format!("status reply 0x{b:02x} is not a status byte")),
        StatusReport::NoReply => None,
    }
}

fn status_problem(s: &PrinterStatus) -> Option<String> {
    let p = super::status_problems(s);
    (!p.is_empty()).then(|| p.join(", "))
}

/// Print every queued receipt of a sale from `from` on, on `port` (`columns` wide),
/// oldest first, stopping at the first the printer cannot take. The journal is locked only
/// for its own reads and writes, never while the printer is being talked to (a printer
/// out of paper can block a write for long): commits go on meanwhile.
pub fn drain(
    journal: &Mutex<Journal>,
    port: &mut PrinterPort,
    columns: usize,
    from: u64,
) -> Result<DrainReport, QueueError> {
    drain_with(journal, port, columns, ReceiptBarcodes::default(), from)
}

/// [`drain`], the receipts carrying the bar codes `barcodes` asks for.
pub fn drain_with(
    journal: &Mutex<Journal>,
    port: &mut PrinterPort,
    columns: usize,
    barcodes: ReceiptBarcodes,
    from: u64,
) -> Result<DrainReport, QueueError> {
    drain_styled(
        journal,
        port,
        columns,
        barcodes,
        &ReceiptStyle::default(),
        from,
    )
}

/// [`drain_with`], the receipts in `style` (language, stamp duty).
pub fn drain_styled(
    journal: &Mutex<Journal>,
    port: &mut PrinterPort,
    columns: usize,
    barcodes: ReceiptBarcodes,
    style: &ReceiptStyle,
    from: u64,
) -> Result<DrainReport, QueueError> {
    let lock = || journal.lock().unwrap_or_else(|e| e.into_inner());
    let port_err = |path: &std::path::Path| {
        let path = path.to_owned();
        move |source| QueueError::Port { path, source }
    };
    let queued = lock().queued_prints_from(from, usize::MAX)?;
    let mut report = DrainReport::default();
    for (i, &seq) in queued.iter().enumerate() {
        let Some(sale) = lock().sale(seq)? else {
            continue;
        };
        // The paper sensor, not the full status: a printer stopped by paper end keeps
        // saying so until the next job starts (ESC @), which is this one.
        let before = port.paper_sensor().map_err(port_err(port.path()))?;
        if let Some(why) = problem(&before) {
            lock().print_failed(seq, &why)?;
            report.held = Some((seq, why));
            report.still_queued = queued.len() - i;
            return Ok(report);
        }
        let job = encode_sale_receipt_styled(&sale, columns, barcodes, style, None);
        port.send(&job).map_err(port_err(port.path()))?;
        // The status queries follow the job on the wire: the answer is the state after it.
        let after = port.status().map_err(port_err(port.path()))?;
        if let Some(why) = problem(&after) {
            // Part of it may be on paper; the whole receipt prints again when paper is back.
            lock().print_failed(seq, &why)?;
            report.held = Some((seq, why));
            report.still_queued = queued.len() - i;
            return Ok(report);
        }
        lock().mark_printed(seq)?;
        report.printed.push(seq);
    }
    Ok(report)
}
