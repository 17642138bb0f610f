//! The session log: every input the register core was fed, as a scan log
//! (`docs/scan-log.md`), so `konbini replay` on a fresh journal makes the same sales.
//!
//! It writes the header once (format version 2, with the drawer's float), then one line per
//! event, each written whole and flushed to the OS as it happens (a crash loses at most the
//! line being written); a `complete` or `close` line is also synced to disk, as those make
//! a sale or close a day. It never reads the clock:
//! the times are the ones the core was given.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, FixedOffset, SecondsFormat};
use serde_json::{Value, json};

use crate::replay::Event;
use konbini_domain::Yen;
use konbini_register::Station;

/// The session log could not be written.
#[derive(Debug, thiserror::Error)]
#[error("session log {path}: {source}")]
pub struct RecordError {
    /// The log.
    pub path: PathBuf,
    /// The OS error.
    pub source: std::io::Error,
}

/// An open session log.
#[derive(Debug)]
pub struct Recorder {
    path: PathBuf,
    file: File,
}

impl Recorder {
    /// Create `path` (its directory too) and write the header for `station`. An existing
    /// file is an error: two sessions never share a log.
    pub fn create(path: &Path, station: &Station) -> Result<Recorder, RecordError> {
        Recorder::create_with_float(path, station, Yen::ZERO)
    }

    /// [`Recorder::create`], the header naming the drawer's `float` (the day close counts
    /// on it, so a replay closes the day with the same figures).
    pub fn create_with_float(
        path: &Path,
        station: &Station,
        float: Yen,
    ) -> Result<Recorder, RecordError> {
        let err = |source| RecordError {
            path: path.to_owned(),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(err)?;
        }
        let file = OpenOptions::new()
            .create_new(true)
            .write(true)
            .open(path)
            .map_err(err)?;
        let mut recorder = Recorder {
            path: path.to_owned(),
            file,
        };
        let mut store = json!({"code": station.store.code, "name": station.store.name});
        if let Some(chain) = station.store.chain {
            store["chain"] = Value::from(chain.as_str());
        }
        // Version 2: a session may hold voids and a day close.
        recorder.line(&json!({
            "konbini_scan_log": crate::replay::FORMAT_VERSION,
            "terminal": station.terminal,
            "store": store,
            "drawer_float_yen": float.get(),
        }))?;
        Ok(recorder)
    }

    /// The log's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Append one event.
    pub fn record(&mut self, at: &DateTime<FixedOffset>, event: &Event) -> Result<(), RecordError> {
        let at = at.to_rfc3339_opts(SecondsFormat::AutoSi, false);
        let line = match event {
            Event::Scan(frame) => json!({"at": at, "scan": frame}),
            Event::KeyIn {
                chain,
                payment_code,
                confirmation_number,
            } => json!({"at": at, "key_in": {
                "chain": chain,
                "payment_code": payment_code,
                "confirmation_number": confirmation_number,
            }}),
            Event::Tender(yen) => json!({"at": at, "tender": yen.get()}),
            Event::Complete => json!({"at": at, "complete": true}),
            Event::Cancel => json!({"at": at, "cancel": true}),
            Event::Void(position) => json!({"at": at, "void": position}),
            Event::Close(counted) => json!({"at": at, "close": {"counted_yen": counted.get()}}),
        };
        self.line(&line)?;
        if matches!(event, Event::Complete | Event::Close(_)) {
            self.file.sync_data().map_err(|source| RecordError {
                path: self.path.clone(),
                source,
            })?;
        }
        Ok(())
    }

    fn line(&mut self, value: &Value) -> Result<(), RecordError> {
        let mut bytes = serde_json::to_vec(value).expect("JSON values serialize");
        bytes.push(b'\n');
        self.file.write_all(&bytes).map_err(|source| RecordError {
            path: self.path.clone(),
            source,
        })
    }
}
