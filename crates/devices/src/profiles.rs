//! Device profiles (`hardware/*/*.toml`): what the register needs to know about a scanner,
//! a printer or a directly driven print head, and how udev names it. Loaded with serde;
//! a profile that does not parse is an error naming the file and the field.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::scanner::sim::Suffix;

/// A scanner profile.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScannerProfile {
    /// The profile's name (the file's stem).
    pub name: String,
    /// The device, for people.
    pub model: String,
    /// USB vendor id, 4 hex digits.
    pub usb_vendor_id: String,
    /// USB product id, 4 hex digits.
    pub usb_product_id: String,
    /// The name udev gives it under /dev.
    pub stable_name: String,
    /// Line speed (RS-232; ignored over USB CDC).
    pub baud: u32,
    /// What it appends to a frame.
    pub suffix: Suffix,
    /// Whether it sends AIM symbology identifiers.
    pub aim_prefix: bool,
    /// Identical frames within this many milliseconds are re-reads.
    pub debounce_ms: u64,
    /// How to program it with setup barcodes.
    pub programming: String,
}

/// The cash drawer's kick pulse (ESC p).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DrawerPulse {
    /// Connector pin, 2 or 5.
    pub pin: u8,
    /// Pulse on time.
    pub on_ms: u32,
    /// Pulse off time.
    pub off_ms: u32,
}

/// A receipt printer profile.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrinterProfile {
    /// The profile's name.
    pub name: String,
    /// The printer, for people.
    pub model: String,
    /// USB vendor id.
    pub usb_vendor_id: String,
    /// USB product id.
    pub usb_product_id: String,
    /// The name udev gives it under /dev.
    pub stable_name: String,
    /// Dots per line (576 for 80 mm, 384 for 58 mm).
    pub dots_per_line: u16,
    /// Character encoding of text.
    pub code_page: String,
    /// Whether kanji mode (FS &) is used.
    pub kanji_mode: bool,
    /// The drawer kick.
    pub drawer_pulse: DrawerPulse,
}

/// A directly driven thermal head's wiring on a Linux board.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeadProfile {
    /// The profile's name.
    pub name: String,
    /// The head, for people.
    pub model: String,
    /// Dots per line.
    pub dots_per_line: u16,
    /// The SPI device the dot line is shifted through.
    pub spi_device: String,
    /// SPI clock.
    pub spi_hz: u32,
    /// The GPIO chip of the lines below.
    pub gpio_chip: String,
    /// Latch line.
    pub latch_line: u32,
    /// Strobe group lines.
    pub strobe_lines: Vec<u32>,
    /// Stepper motor phase lines.
    pub motor_lines: Vec<u32>,
    /// Head power enable line.
    pub power_line: u32,
    /// Paper sensor input line.
    pub paper_sensor_line: u32,
    /// Most dots heated at once.
    pub max_dots_heated: u16,
    /// Strobe time per group, microseconds.
    pub strobe_us: u32,
}

/// One profile file.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileFile {
    scanner: Option<ScannerProfile>,
    printer: Option<PrinterProfile>,
    head: Option<HeadProfile>,
}

/// Every profile of a `hardware/` directory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Profiles {
    /// Scanners.
    pub scanners: Vec<ScannerProfile>,
    /// Printers.
    pub printers: Vec<PrinterProfile>,
    /// Heads.
    pub heads: Vec<HeadProfile>,
}

/// A profile that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("device profile {path}: {detail}")]
pub struct ProfileError {
    /// The file.
    pub path: PathBuf,
    /// What is wrong.
    pub detail: String,
}

impl Profiles {
    /// Load `dir/scanners/*.toml`, `dir/printers/*.toml` and `dir/heads/*.toml`.
    pub fn load(dir: &Path) -> Result<Profiles, ProfileError> {
        let mut profiles = Profiles::default();
        for sub in ["scanners", "printers", "heads"] {
            let Ok(entries) = std::fs::read_dir(dir.join(sub)) else {
                continue;
            };
            let mut files: Vec<PathBuf> = entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "toml"))
                .collect();
            files.sort();
            for path in files {
                let bad = |detail: String| ProfileError {
                    path: path.clone(),
                    detail,
                };
                let text = std::fs::read_to_string(&path).map_err(|e| bad(e.to_string()))?;
                let file: ProfileFile = toml::from_str(&text).map_err(|e| bad(e.to_string()))?;
                let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
                let name = match (file.scanner, file.printer, file.head) {
                    (Some(s), None, None) => {
                        check_usb_id(&s.usb_vendor_id, &s.usb_product_id).map_err(bad)?;
                        let name = s.name.clone();
                        profiles.scanners.push(s);
                        name
                    }
                    (None, Some(p), None) => {
                        check_usb_id(&p.usb_vendor_id, &p.usb_product_id).map_err(bad)?;
                        let name = p.name.clone();
                        profiles.printers.push(p);
                        name
                    }
                    (None, None, Some(h)) => {
                        let name = h.name.clone();
                        profiles.heads.push(h);
                        name
                    }
                    _ => {
                        return Err(bad(
                            "expected exactly one [scanner], [printer] or [head] table".into(),
                        ));
                    }
                };
                if name != stem {
                    return Err(bad(format!(
                        "name {name:?} differs from the file name {stem:?}"
                    )));
                }
            }
        }
        Ok(profiles)
    }

    /// The profile name of a USB device (`vendor:product`), if one matches.
    pub fn name_of(&self, usb_id: &str) -> Option<&str> {
        let matches = |v: &str, p: &str| usb_id.eq_ignore_ascii_case(&format!("{v}:{p}"));
        self.scanners
            .iter()
            .find(|s| matches(&s.usb_vendor_id, &s.usb_product_id))
            .map(|s| s.name.as_str())
            .or_else(|| {
                self.printers
                    .iter()
                    .find(|p| matches(&p.usb_vendor_id, &p.usb_product_id))
                    .map(|p| p.name.as_str())
            })
    }
}

impl ScannerProfile {
    /// A reader configuration for this scanner at `path`.
    pub fn reader_config(&self, path: &Path) -> crate::scanner::ReaderConfig {
        let mut config = crate::scanner::ReaderConfig::new(path);
        config.baud = self.baud;
        config.framing = match self.suffix {
            Suffix::StxEtx => crate::scanner::Framing::StxEtx,
            _ => crate::scanner::Framing::Line,
        };
        config.debounce = std::time::Duration::from_millis(self.debounce_ms);
        config
    }
}

fn check_usb_id(vendor: &str, product: &str) -> Result<(), String> {
    let hex4 = |s: &str| {
        s.len() == 4
            && s.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    };
    if hex4(vendor) && hex4(product) {
        Ok(())
    } else {
        Err(format!(
            "USB ids {vendor:?}:{product:?} are not 4 lowercase hex digits each"
        ))
    }
}
