//! The serial scanner reader: opens a port by path (a udev name such as
//! `/dev/konbini/scanner`, any symlink, or a tty), frames what it reads with [`ScanCodec`],
//! drops partial frames after an inter-byte gap and re-reads within the debounce window, and
//! reconnects for as long as it takes when the device goes away (EOF, EIO, a vanished
//! path), backing off between tries. Frames and status changes go to the app over a
//! channel; shutdown is a `CancellationToken`.
//!
//! An unplugged USB serial device reads `Ok(0)` at once and forever (tokio-serial, and the
//! kernel's tty layer): that is treated as a disconnect, never as "no data yet", so the
//! reader never spins.

use std::path::PathBuf;
use std::time::Duration;

use bytes::BytesMut;
use konbini_domain::retry::{Retry, RetryPolicy};
use tokio::io::AsyncReadExt;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_serial::SerialPortBuilderExt;
use tokio_util::codec::Decoder;
use tokio_util::sync::CancellationToken;

use super::codec::{CodecStats, Frame, Framing, SCAN_FRAME_MAX_BYTES, ScanCodec};
use super::debounce::{DEFAULT_DEBOUNCE, Debouncer};

/// How to read one scanner.
#[derive(Debug, Clone)]
pub struct ReaderConfig {
    /// The device path (kept as given: a symlink is re-resolved on every reconnect).
    pub path: PathBuf,
    /// Line speed (ignored by USB CDC-ACM scanners, used by RS-232 ones).
    pub baud: u32,
    /// How frames are delimited.
    pub framing: Framing,
    /// The longest frame kept.
    pub max_frame: usize,
    /// A partial frame with no byte for this long is dropped.
    pub inter_byte_timeout: Duration,
    /// Identical frames within this window are re-reads.
    pub debounce: Duration,
    /// Reopening a vanished device: the wait after each failed open (or lost device), reset
    /// once it is open again.
    pub reconnect: RetryPolicy,
}

impl ReaderConfig {
    /// The defaults for `path`: 9,600 baud, CR/LF/CRLF frames, 100 ms inter-byte timeout,
    /// 500 ms debounce, reconnect backoff 100 ms to 2 s.
    pub fn new(path: impl Into<PathBuf>) -> ReaderConfig {
        ReaderConfig {
            path: path.into(),
            baud: 9600,
            framing: Framing::Line,
            max_frame: SCAN_FRAME_MAX_BYTES,
            inter_byte_timeout: Duration::from_millis(100),
            debounce: DEFAULT_DEBOUNCE,
            reconnect: RetryPolicy::exponential(Duration::from_millis(100), Duration::from_secs(2)),
        }
    }
}

/// What the reader tells the app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScannerEvent {
    /// A scan.
    Frame(Frame),
    /// The device is (again) open.
    Connected,
    /// The device went away or could not be opened; the reader keeps trying.
    Disconnected {
        /// Why, for the status line.
        error: String,
    },
}

/// Counters the app can show.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReaderStats {
    /// The codec's counters (frames, oversize, partial, noise, invalid UTF-8).
    pub codec: CodecStats,
    /// Re-reads dropped by the debouncer.
    pub rereads: u64,
    /// Times the device was (re)opened.
    pub connects: u64,
}

/// Read the scanner until `cancel`; returns the counters.
pub async fn run(
    config: ReaderConfig,
    events: mpsc::Sender<ScannerEvent>,
    cancel: CancellationToken,
) -> ReaderStats {
    let mut codec = ScanCodec::new(config.framing, config.max_frame);
    let mut debouncer = Debouncer::new(config.debounce);
    let mut stats = ReaderStats::default();
    let mut backoff = Retry::new(config.reconnect);
    let mut reported_error: Option<String> = None;
    while !cancel.is_cancelled() {
        let error = match tokio_serial::new(config.path.to_string_lossy(), config.baud)
            .exclusive(false)
            .open_native_async()
        {
            Ok(mut port) => {
                stats.connects += 1;
                reported_error = None;
                backoff.reset();
                if events.send(ScannerEvent::Connected).await.is_err() {
                    break;
                }
                let outcome = read_port(
                    &mut port,
                    &config,
                    &mut codec,
                    &mut debouncer,
                    &events,
                    &cancel,
                )
                .await;
                stats.codec = codec.stats();
                stats.rereads = debouncer.dropped();
                match outcome {
                    ReadEnd::Cancelled | ReadEnd::AppGone => break,
                    ReadEnd::Lost(error) => error,
                }
            }
            Err(e) => e.to_string(),
        };
        // Report each distinct error once, not once per retry.
        if reported_error.as_deref() != Some(error.as_str()) {
            if events
                .send(ScannerEvent::Disconnected {
                    error: error.clone(),
                })
                .await
                .is_err()
            {
                break;
            }
            reported_error = Some(error);
        }
        // The policy is unbounded: a register waits for its scanner as long as it runs.
        let wait = backoff.failed().unwrap_or(config.reconnect.max);
        tokio::select! {
            _ = cancel.cancelled() => break,
            _ = tokio::time::sleep(wait) => {}
        }
    }
    stats.codec = codec.stats();
    stats.rereads = debouncer.dropped();
    stats
}

enum ReadEnd {
    Cancelled,
    AppGone,
    Lost(String),
}

async fn read_port(
    port: &mut tokio_serial::SerialStream,
    config: &ReaderConfig,
    codec: &mut ScanCodec,
    debouncer: &mut Debouncer,
    events: &mpsc::Sender<ScannerEvent>,
    cancel: &CancellationToken,
) -> ReadEnd {
    let mut buf = BytesMut::with_capacity(4096);
    loop {
        // Wait without a deadline when nothing is pending; with one while a frame is
        // half-read, so a scanner that lost its suffix does not glue frames together.
        let partial = !buf.is_empty();
        let deadline = Instant::now() + config.inter_byte_timeout;
        let read = tokio::select! {
            _ = cancel.cancelled() => return ReadEnd::Cancelled,
            _ = tokio::time::sleep_until(deadline), if partial => {
                codec.drop_partial(&mut buf);
                continue;
            }
            read = port.read_buf(&mut buf) => read,
        };
        match read {
            Ok(0) => {
                codec.drop_partial(&mut buf);
                return ReadEnd::Lost("the device was closed or unplugged".to_owned());
            }
            Ok(_) => loop {
                match codec.decode(&mut buf) {
                    Ok(Some(frame)) => {
                        if debouncer.accept(&frame.text, std::time::Instant::now())
                            && events.send(ScannerEvent::Frame(frame)).await.is_err()
                        {
                            return ReadEnd::AppGone;
                        }
                    }
                    Ok(None) => break,
                    Err(e) => return ReadEnd::Lost(e.to_string()),
                }
            },
            Err(e) => {
                codec.drop_partial(&mut buf);
                return ReadEnd::Lost(e.to_string());
            }
        }
        // Bound memory whatever the device sends: the codec discards overlong frames, so
        // the buffer never holds more than one frame's worth plus one read.
        if buf.capacity() > 64 * 1024 && buf.is_empty() {
            buf = BytesMut::with_capacity(4096);
        }
    }
}
