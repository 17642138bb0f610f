//! `konbini devices`: what a person setting up a register needs. `list` finds serial ports
//! and receipt printers with their stable names; `scan-test` shows what a scanner sends and
//! how the register would judge it, through unplugs.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use konbini_devices::scanner::reader::{self, ReaderConfig, ScannerEvent};
use konbini_domain::time::{business_date, jst};
use konbini_register::check_barcode;

/// A device found by `list`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FoundDevice {
    /// The kernel's device node.
    pub path: PathBuf,
    /// `serial` or `printer`.
    pub kind: &'static str,
    /// Stable names pointing at it (`/dev/konbini/...`, `/dev/serial/by-id/...`).
    pub names: Vec<PathBuf>,
    /// USB `vendor:product`, when it hangs off USB.
    pub usb_id: Option<String>,
    /// The device profile matching its USB ids.
    pub profile: Option<String>,
}

/// Serial ports (USB serial and CDC-ACM) and USB printers under `/dev`, with the names
/// udev gave them. `root` is `/` except in tests.
pub fn list(root: &Path, profiles: &konbini_devices::profiles::Profiles) -> Vec<FoundDevice> {
    let dev = root.join("dev");
    let mut found = Vec::new();
    let mut add = |dir: PathBuf, prefixes: &[&str], kind: &'static str| {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return;
        };
        let mut paths: Vec<PathBuf> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| prefixes.iter().any(|pre| n.starts_with(pre)))
            })
            .collect();
        paths.sort();
        for path in paths {
            let usb_id = usb_id(root, &path);
            found.push(FoundDevice {
                profile: usb_id
                    .as_deref()
                    .and_then(|id| profiles.name_of(id))
                    .map(str::to_owned),
                usb_id,
                names: Vec::new(),
                path,
                kind,
            });
        }
    };
    add(dev.clone(), &["ttyUSB", "ttyACM"], "serial");
    add(dev.join("usb"), &["lp"], "printer");
    for links in [
        dev.join("konbini"),
        dev.join("serial/by-id"),
        dev.join("pos"),
    ] {
        let Ok(entries) = std::fs::read_dir(&links) else {
            continue;
        };
        for link in entries.flatten().map(|e| e.path()) {
            let Ok(target) = std::fs::canonicalize(&link) else {
                continue;
            };
            if let Some(d) = found
                .iter_mut()
                .find(|d| std::fs::canonicalize(&d.path).ok().as_ref() == Some(&target))
            {
                d.names.push(link);
                d.names.sort();
            }
        }
    }
    found
}

/// `idVendor:idProduct` of the USB device a tty or lp node belongs to, from sysfs.
fn usb_id(root: &Path, node: &Path) -> Option<String> {
    let name = node.file_name()?.to_str()?;
    let class = if name.starts_with("lp") {
        "usbmisc"
    } else {
        "tty"
    };
    let mut dir =
        std::fs::canonicalize(root.join("sys/class").join(class).join(name).join("device")).ok()?;
    for _ in 0..4 {
        let vendor = std::fs::read_to_string(dir.join("idVendor"));
        let product = std::fs::read_to_string(dir.join("idProduct"));
        if let (Ok(v), Ok(p)) = (vendor, product) {
            return Some(format!("{}:{}", v.trim(), p.trim()));
        }
        dir = dir.parent()?.to_owned();
    }
    None
}

/// One line of `scan-test` output.
#[derive(Debug, Serialize)]
struct ScanLine<'a> {
    at: String,
    frame: &'a str,
    symbology: Option<&'a str>,
    outcome: &'a str,
}

/// Read frames from `config.path` and print each as a JSON line with the register's
/// verdict (checks 1-4 at today's date in Japan), until `count` frames or Ctrl+C. Status
/// changes go to stderr. Keeps reading through unplugs.
pub fn scan_test(config: ReaderConfig, count: Option<u64>) -> anyhow::Result<u64> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let path = config.path.display().to_string();
        let (tx, mut rx) = mpsc::channel(64);
        let cancel = CancellationToken::new();
        let reader = tokio::spawn(reader::run(config, tx, cancel.clone()));
        let mut seen = 0u64;
        let stdout = std::io::stdout();
        while count.is_none_or(|c| seen < c) {
            let event = tokio::select! {
                _ = tokio::signal::ctrl_c() => break,
                e = rx.recv() => match e { Some(e) => e, None => break },
            };
            match event {
                ScannerEvent::Connected => eprintln!("scanner {path}: connected"),
                ScannerEvent::Disconnected { error } => {
                    eprintln!("scanner {path}: not connected ({error}); waiting for it")
                }
                ScannerEvent::Frame(frame) => {
                    let now = chrono::Utc::now().with_timezone(&jst());
                    let verdict = check_barcode(&frame.text, business_date(&now));
                    let outcome = match &verdict {
                        Ok(_) => "accepted",
                        Err(r) => r.reason.as_str(),
                    };
                    let line = ScanLine {
                        at: now.to_rfc3339_opts(chrono::SecondsFormat::Millis, false),
                        frame: &frame.text,
                        symbology: frame.symbology(),
                        outcome,
                    };
                    let mut out = stdout.lock();
                    writeln!(out, "{}", serde_json::to_string(&line)?)?;
                    out.flush()?;
                    seen += 1;
                }
            }
        }
        cancel.cancel();
        let stats = reader.await?;
        eprintln!(
            "scanner {path}: {} frames, {} re-reads dropped, {} oversize, {} partial, {} not UTF-8",
            stats.codec.frames,
            stats.rereads,
            stats.codec.oversize,
            stats.codec.partial,
            stats.codec.invalid_utf8
        );
        Ok(seen)
    })
}

/// The test receipt `print-test` prints: the printer's name, the time, Japanese text, an
/// amount and a rule, so a person can check the code page, kanji, ¥ and the cut at once.
pub fn test_receipt(port: &Path) -> konbini_devices::receipt::Receipt {
    use konbini_devices::receipt::{Line, Receipt};
    let now = chrono::Utc::now().with_timezone(&jst());
    Receipt {
        number: "TEST".to_owned(),
        lines: vec![
            Line::Title("テスト印字".to_owned()),
            Line::Center("konbini-pos".to_owned()),
            Line::Text(format!("{}", now.format("%Y-%m-%d %H:%M:%S JST"))),
            Line::Text(port.display().to_string()),
            Line::Rule,
            Line::Text("漢字 かな カナ ｶﾅ ABC abc 0123456789".to_owned()),
            Line::Pair("収納代行".to_owned(), "¥1,200".to_owned()),
            Line::Notice("収入印紙 印紙税申告納付につき税務署承認済".to_owned()),
            Line::BigPair("合計".to_owned(), "¥1,200".to_owned()),
            Line::Rule,
            Line::Center("印字テスト完了".to_owned()),
        ],
    }
}

/// Print the test receipt and a sample of every bar code system on `port`, optionally
/// kick the drawer, and report the status.
/// Ok(true) when the printer reports no problem (or cannot report at all).
pub fn print_test(
    port: &Path,
    baud: u32,
    columns: usize,
    drawer: Option<(u8, u16, u16)>,
) -> anyhow::Result<bool> {
    use anyhow::Context;

    use konbini_devices::printer::{PrinterPort, StatusReport, encode_receipt};
    let mut printer = PrinterPort::open(port, baud)
        .with_context(|| format!("printer {}: cannot open", port.display()))?;
    let mut job = encode_receipt(&test_receipt(port), columns);
    // Then a sample of every bar code system (GS k), each named, to check a real printer
    // against the virtual one (`konbini devices render`), each at a module that fits the
    // paper (Font A's 12-dot columns: 48 on 80 mm, 32 on 58 mm).
    let dots = (columns as u16).saturating_mul(konbini_firmware::FONT_A_WIDTH_DOTS);
    job.extend(konbini_devices::printer::barcodes::sample_job(dots));
    for c in [
        konbini_firmware::escpos::Command::FeedLines(3),
        konbini_firmware::escpos::Command::Cut {
            partial: true,
            feed: 0,
        },
    ] {
        c.encode(&mut |b: &[u8]| job.extend_from_slice(b));
    }
    if let Some((pin, on_ms, off_ms)) = drawer {
        konbini_firmware::escpos::Command::DrawerKick { pin, on_ms, off_ms }
            .encode(&mut |b: &[u8]| job.extend_from_slice(b));
    }
    printer
        .send(&job)
        .with_context(|| format!("printer {}: cannot write", port.display()))?;
    println!("sent {} bytes to {}", job.len(), port.display());
    let report = printer
        .status()
        .with_context(|| format!("printer {}: cannot ask its status", port.display()))?;
    Ok(match report {
        StatusReport::NoReply => {
            println!(
                "status: no reply to DLE EOT (a USB printer without a read channel, or nothing there)"
            );
            true
        }
        StatusReport::Garbled(b) => {
            println!("status: reply 0x{b:02x} is not a status byte (is Auto Status Back on?)");
            false
        }
        StatusReport::Status(s) => {
            let problems = konbini_devices::printer::status_problems(&s);
            println!(
                "status: {}; paper {}; drawer pin 3 {}",
                if problems.is_empty() {
                    "ready".to_owned()
                } else {
                    problems.join(", ")
                },
                if s.paper_end {
                    "out"
                } else if s.paper_near_end {
                    "near end"
                } else {
                    "ok"
                },
                if s.drawer_pin_high { "high" } else { "low" }
            );
            problems.is_empty()
        }
    })
}
