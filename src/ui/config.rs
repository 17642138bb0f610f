//! How a register is set up: `konbini.toml` (serde), overridden by the flags of
//! `konbini register`, resolved into one [`RegisterConfig`] with every default filled in. With no
//! file and no flags it is the embedded defaults of `docs/cli.md` (keys: `docs/config.md`): journal `./konbini.db`,
//! an in-process payment network, the keyboard as scanner, the virtual printer into
//! `./receipts/`, sessions recorded into `./sessions/`.
//!
//! A file that does not parse, or names a field this version does not know, is an error
//! naming the file and the field: a typo must never silently fall back to a default.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use konbini_devices::printer::ReceiptBarcodes;
use konbini_devices::receipt::{ReceiptLang, ReceiptStyle, StampDuty};
use konbini_domain::{Chain, Yen};
use konbini_register::{OfflineLimits, Station, Store};

use super::text::Lang;

/// The config file read when `--config` is not given and it exists.
pub const DEFAULT_CONFIG: &str = "konbini.toml";

/// `konbini.toml`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// Terminal id (register number).
    pub terminal: Option<String>,
    /// The clerk's language.
    pub language: Option<Lang>,
    /// The receipts' language (a setting of its own; Japanese unless set).
    pub receipt_language: Option<Lang>,
    /// The journal.
    pub journal: Option<PathBuf>,
    /// Directory of receipt pictures and texts (virtual printer) and Z reports.
    pub receipts: Option<PathBuf>,
    /// Directory of session logs.
    pub sessions: Option<PathBuf>,
    /// The store.
    #[serde(default)]
    pub store: StoreConfig,
    /// The payment network.
    #[serde(default)]
    pub network: NetworkConfig,
    /// Devices.
    #[serde(default)]
    pub devices: DevicesConfig,
    /// Offline limits.
    #[serde(default)]
    pub limits: LimitsConfig,
}

/// `[store]`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// Store code.
    pub code: Option<String>,
    /// Chain.
    pub chain: Option<Chain>,
    /// Name as printed.
    pub name: Option<String>,
    /// The drawer's float (釣銭準備金) in yen, counted on by the day close.
    pub drawer_float: Option<u64>,
    /// How stamp duty on receipts of ¥50,000 and more is paid: `affix` (the clerk affixes
    /// a revenue stamp, the default) or `declaration` (paid by declaration; needs
    /// `tax_office`).
    pub stamp_duty: Option<String>,
    /// The tax office that approved payment by declaration (`札幌北税務署`).
    pub tax_office: Option<String>,
}

/// The drawer's float when `[store] drawer_float` is not set.
pub const DEFAULT_DRAWER_FLOAT: Yen = Yen::new(30_000);

impl FileConfig {
    /// The receipts' style: `receipt_language` (or `lang`), `[store] stamp_duty` and
    /// `tax_office`.
    pub fn receipt_style(&self, lang: Option<Lang>) -> Result<ReceiptStyle, ConfigError> {
        let lang = match lang.or(self.receipt_language).unwrap_or_default() {
            Lang::Ja => ReceiptLang::Ja,
            Lang::En => ReceiptLang::En,
        };
        let office = self
            .store
            .tax_office
            .as_deref()
            .map(str::trim)
            .filter(|o| !o.is_empty());
        let stamp = match (self.store.stamp_duty.as_deref(), office) {
            (None | Some("affix"), None) => StampDuty::Affix,
            (Some("declaration"), Some(office)) => StampDuty::Declaration {
                tax_office: office.to_owned(),
            },
            (Some("declaration"), None) => {
                return Err(ConfigError::Invalid(
                    "store.stamp_duty = \"declaration\" needs store.tax_office, the tax office that approved it (e.g. \"札幌北税務署\")".to_owned(),
                ));
            }
            (None | Some("affix"), Some(_)) => {
                return Err(ConfigError::Invalid(
                    "store.tax_office is only for store.stamp_duty = \"declaration\"".to_owned(),
                ));
            }
            (Some(other), _) => {
                return Err(ConfigError::Invalid(format!(
                    "store.stamp_duty {other:?} is not \"affix\" or \"declaration\""
                )));
            }
        };
        Ok(ReceiptStyle { lang, stamp })
    }
}

/// `[network]`: absent, the embedded network.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct NetworkConfig {
    /// `http(s)://...` of a payment network.
    pub upstream: Option<String>,
    /// This terminal's secret there.
    pub terminal_secret: Option<String>,
    /// The embedded network's store (when no upstream).
    pub db: Option<PathBuf>,
}

/// `[devices]`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DevicesConfig {
    /// A serial scanner: a path (`/dev/konbini/scanner`), or a profile name from
    /// `hardware/scanners/`, whose udev name is used.
    pub scanner: Option<String>,
    /// A receipt printer: a path, `tcp://HOST:9100`, or a profile name from
    /// `hardware/printers/`. Absent: the virtual printer.
    pub printer: Option<String>,
    /// Serial speed of the printer.
    pub printer_baud: Option<u32>,
    /// Paper width in millimetres (58 or 80).
    pub paper_mm: Option<u32>,
    /// Where the device profiles are (default `hardware`).
    pub profiles: Option<PathBuf>,
    /// How a receipt's number prints: a bar code system's name (`code128`, `jan13`, …)
    /// or `none` (text only). Default `code128`.
    pub receipt_barcode: Option<String>,
    /// Whether a receipt repeats each bill slip's barcode as GS1-128 (80 mm paper only).
    pub bill_barcodes: Option<bool>,
}

impl FileConfig {
    /// The bar codes receipts carry, from `[devices] receipt_barcode` and `bill_barcodes`.
    pub fn receipt_barcodes(&self) -> Result<ReceiptBarcodes, ConfigError> {
        let default = ReceiptBarcodes::default();
        let number = match &self.devices.receipt_barcode {
            None => default.number,
            Some(name) => konbini_devices::printer::barcodes::system_named(name)
                .map_err(|e| ConfigError::Invalid(format!("devices.receipt_barcode {e}")))?,
        };
        Ok(ReceiptBarcodes {
            number,
            bills: self.devices.bill_barcodes.unwrap_or(default.bills),
        })
    }
}

/// `[limits]`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    /// Most yen unsent while offline.
    pub max_unsent_yen: Option<u64>,
    /// Oldest an unsent slip may be while offline, hours.
    pub max_offline_hours: Option<u32>,
}

/// The flags of `konbini register` (each overrides the file).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct RegisterArgs {
    /// The config file (default: ./konbini.toml when it exists).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// The SQLite journal (default ./konbini.db).
    #[arg(long)]
    pub journal: Option<PathBuf>,
    /// Terminal id (default T01).
    #[arg(long)]
    pub terminal_id: Option<String>,
    /// Store code.
    #[arg(long)]
    pub store_code: Option<String>,
    /// Store chain: familymart, lawson, ministop or seicomart.
    #[arg(long)]
    pub store_chain: Option<Chain>,
    /// Store name as printed on receipts.
    #[arg(long)]
    pub store_name: Option<String>,
    /// A payment network to confirm to, instead of the embedded one.
    #[arg(long)]
    pub upstream: Option<String>,
    /// This terminal's secret at the upstream.
    #[arg(long)]
    pub terminal_secret: Option<String>,
    /// A serial scanner (path or profile name); default: the keyboard.
    #[arg(long)]
    pub scanner: Option<String>,
    /// A receipt printer (path, tcp://HOST:9100, or profile name); default: the virtual printer.
    #[arg(long)]
    pub printer: Option<String>,
    /// Receipts directory (default ./receipts).
    #[arg(long)]
    pub receipts: Option<PathBuf>,
    /// Record the session into this scan log (default: a new file in ./sessions/).
    #[arg(long)]
    pub record: Option<PathBuf>,
    /// The clerk's language.
    #[arg(long, value_enum)]
    pub lang: Option<Lang>,
    /// The receipts' language (default ja, whatever the clerk's is).
    #[arg(long, value_enum)]
    pub receipt_lang: Option<Lang>,
    /// Most yen unsent while offline (default 3,000,000).
    #[arg(long)]
    pub max_unsent_yen: Option<u64>,
    /// Oldest an unsent slip may be while offline, in hours (default 72).
    #[arg(long)]
    pub max_offline_hours: Option<u32>,
    /// Draw the first frame, then exit (for start-up timing).
    #[arg(long, hide = true)]
    pub exit_after_first_frame: bool,
}

/// Everything resolved.
#[derive(Debug, Clone)]
pub struct RegisterConfig {
    /// The register.
    pub station: Station,
    /// The language.
    pub lang: Lang,
    /// The journal.
    pub journal: PathBuf,
    /// Receipts and Z reports.
    pub receipts: PathBuf,
    /// The session log to write.
    pub record: PathBuf,
    /// An outside network (URL, secret), or None for the embedded one.
    pub upstream: Option<(String, String)>,
    /// The embedded network's store.
    pub network_db: PathBuf,
    /// A serial scanner's reader configuration.
    pub scanner: Option<konbini_devices::scanner::ReaderConfig>,
    /// A real printer: path, baud, columns.
    pub printer: Option<(PathBuf, u32, usize)>,
    /// The bar codes receipts carry (`[devices] receipt_barcode`, `bill_barcodes`).
    pub barcodes: ReceiptBarcodes,
    /// The receipts' language and stamp duty setting.
    pub receipt_style: ReceiptStyle,
    /// The drawer's float.
    pub drawer_float: Yen,
    /// Offline limits.
    pub limits: OfflineLimits,
    /// Exit after the first frame.
    pub exit_after_first_frame: bool,
}

/// The config could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("config {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file is not a valid config.
    #[error("config {path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What and where (the toml parser names the line and the key).
        message: String,
    },
    /// A value makes no sense.
    #[error("{0}")]
    Invalid(String),
}

/// Read `path` as a config.
pub fn read_file(path: &Path) -> Result<FileConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    toml::from_str(&text).map_err(|e| ConfigError::Parse {
        path: path.to_owned(),
        message: e.to_string(),
    })
}

/// The receipt bar codes and style of `konbini replay`: from `config`, or ./konbini.toml
/// when it exists, or the defaults.
pub fn replay_receipts(
    config: Option<&Path>,
) -> Result<(ReceiptBarcodes, ReceiptStyle), ConfigError> {
    let file = match config {
        Some(path) => read_file(path)?,
        None if Path::new(DEFAULT_CONFIG).exists() => read_file(Path::new(DEFAULT_CONFIG))?,
        None => FileConfig::default(),
    };
    Ok((file.receipt_barcodes()?, file.receipt_style(None)?))
}

/// The settings from the flags, the config file and the defaults, at `now` (for the
/// session log's name).
pub fn resolve(
    args: &RegisterArgs,
    now: chrono::DateTime<chrono::FixedOffset>,
) -> Result<RegisterConfig, ConfigError> {
    let file = match &args.config {
        Some(path) => read_file(path)?,
        None if Path::new(DEFAULT_CONFIG).exists() => read_file(Path::new(DEFAULT_CONFIG))?,
        None => FileConfig::default(),
    };
    let default = Station::register_default();
    let station = Station {
        terminal: args
            .terminal_id
            .clone()
            .or(file.terminal.clone())
            .unwrap_or(default.terminal),
        store: Store {
            code: args
                .store_code
                .clone()
                .or(file.store.code.clone())
                .unwrap_or(default.store.code),
            chain: args
                .store_chain
                .or(file.store.chain)
                .or(default.store.chain),
            name: args
                .store_name
                .clone()
                .or(file.store.name.clone())
                .unwrap_or(default.store.name),
        },
    };
    if station.terminal.is_empty() || station.terminal.len() > 32 {
        return Err(ConfigError::Invalid(format!(
            "terminal id {:?} must be 1 to 32 characters",
            station.terminal
        )));
    }
    let upstream = match (
        args.upstream.clone().or(file.network.upstream.clone()),
        args.terminal_secret
            .clone()
            .or(file.network.terminal_secret.clone()),
    ) {
        (Some(url), Some(secret)) => Some((url, secret)),
        (None, None) => None,
        (Some(_), None) => {
            return Err(ConfigError::Invalid(
                "an upstream needs a terminal secret (--terminal-secret or network.terminal_secret)"
                    .to_owned(),
            ));
        }
        (None, Some(_)) => {
            return Err(ConfigError::Invalid(
                "a terminal secret was given without an upstream (--upstream or network.upstream)"
                    .to_owned(),
            ));
        }
    };
    let profiles_dir = file
        .devices
        .profiles
        .clone()
        .unwrap_or_else(|| PathBuf::from("hardware"));
    let scanner = match args.scanner.clone().or(file.devices.scanner.clone()) {
        None => None,
        Some(s) if s.contains('/') => Some(konbini_devices::scanner::ReaderConfig::new(s)),
        Some(name) => {
            let profiles = konbini_devices::profiles::Profiles::load(&profiles_dir)
                .map_err(|e| ConfigError::Invalid(e.to_string()))?;
            let p = profiles
                .scanners
                .iter()
                .find(|p| p.name == name)
                .ok_or_else(|| {
                    ConfigError::Invalid(format!(
                        "no scanner profile {name:?} in {}",
                        profiles_dir.display()
                    ))
                })?;
            Some(p.reader_config(&Path::new("/dev").join(&p.stable_name)))
        }
    };
    let paper_mm = file.devices.paper_mm.unwrap_or(80);
    let columns = match paper_mm {
        80 => konbini_devices::receipt::COLUMNS_80MM,
        58 => konbini_devices::receipt::COLUMNS_58MM,
        other => {
            return Err(ConfigError::Invalid(format!(
                "devices.paper_mm {other} is not 58 or 80"
            )));
        }
    };
    let baud = file.devices.printer_baud.unwrap_or(38400);
    let printer = match args.printer.clone().or(file.devices.printer.clone()) {
        None => None,
        Some(p) if p.contains('/') => Some((PathBuf::from(p), baud, columns)),
        Some(name) => {
            let profiles = konbini_devices::profiles::Profiles::load(&profiles_dir)
                .map_err(|e| ConfigError::Invalid(e.to_string()))?;
            let p = profiles
                .printers
                .iter()
                .find(|p| p.name == name)
                .ok_or_else(|| {
                    ConfigError::Invalid(format!(
                        "no printer profile {name:?} in {}",
                        profiles_dir.display()
                    ))
                })?;
            // The profile knows its paper: 576 dots is 80 mm, 384 is 58 mm.
            let columns = if file.devices.paper_mm.is_some() {
                columns
            } else if p.dots_per_line <= 384 {
                konbini_devices::receipt::COLUMNS_58MM
            } else {
                konbini_devices::receipt::COLUMNS_80MM
            };
            Some((Path::new("/dev").join(&p.stable_name), baud, columns))
        }
    };
    let defaults = OfflineLimits::default();
    let limits = OfflineLimits {
        max_unsent: args
            .max_unsent_yen
            .or(file.limits.max_unsent_yen)
            .map_or(defaults.max_unsent, Yen::new),
        max_age: args
            .max_offline_hours
            .or(file.limits.max_offline_hours)
            .map_or(defaults.max_age, |h| chrono::Duration::hours(i64::from(h))),
    };
    let sessions = file
        .sessions
        .clone()
        .unwrap_or_else(|| PathBuf::from("sessions"));
    let record = args.record.clone().unwrap_or_else(|| {
        // To the millisecond: two registers (or two starts) in one second get two logs.
        sessions.join(format!(
            "{}-{}.jsonl",
            now.format("%Y%m%d-%H%M%S-%3f"),
            station.terminal
        ))
    });
    let barcodes = file.receipt_barcodes()?;
    let receipt_style = file.receipt_style(args.receipt_lang)?;
    Ok(RegisterConfig {
        barcodes,
        receipt_style,
        drawer_float: file
            .store
            .drawer_float
            .map_or(DEFAULT_DRAWER_FLOAT, Yen::new),
        lang: args.lang.or(file.language).unwrap_or_default(),
        journal: args
            .journal
            .clone()
            .or(file.journal.clone())
            .unwrap_or_else(|| PathBuf::from("konbini.db")),
        receipts: args
            .receipts
            .clone()
            .or(file.receipts.clone())
            .unwrap_or_else(|| PathBuf::from("receipts")),
        record,
        upstream,
        network_db: file
            .network
            .db
            .clone()
            .unwrap_or_else(|| PathBuf::from("konbini-network.db")),
        scanner,
        printer,
        limits,
        station,
        exit_after_first_frame: args.exit_after_first_frame,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_misspelled_key_is_an_error_naming_it() {
        let e = toml::from_str::<FileConfig>("[store]\nnmae = \"x\"\n").unwrap_err();
        assert!(e.to_string().contains("nmae"), "{e}");
    }

    #[test]
    fn the_file_is_read_and_flags_override_it() {
        let f: FileConfig = toml::from_str(
            r#"
terminal = "R7"
language = "en"
[store]
code = "0042"
chain = "familymart"
name = "ファミリーマート 札幌店"
[limits]
max_unsent_yen = 100000
"#,
        )
        .unwrap();
        assert_eq!(f.terminal.as_deref(), Some("R7"));
        assert_eq!(f.store.chain, Some(Chain::FamilyMart));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.toml");
        std::fs::write(
            &path,
            "terminal = \"R7\"\n[limits]\nmax_unsent_yen = 100000\n",
        )
        .unwrap();
        let args = RegisterArgs {
            config: Some(path),
            terminal_id: Some("R9".into()),
            ..RegisterArgs::default()
        };
        let now = konbini_domain::time::in_japan(&chrono::Utc::now());
        let s = resolve(&args, now).unwrap();
        assert_eq!(s.station.terminal, "R9");
        assert_eq!(s.limits.max_unsent, Yen::new(100_000));
        assert_eq!(s.journal, PathBuf::from("konbini.db"));
        assert!(s.upstream.is_none());
    }

    #[test]
    fn the_register_takes_the_receipt_bar_codes_from_the_file() {
        use konbini_firmware::escpos::BarcodeSystem;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.toml");
        std::fs::write(
            &path,
            "[devices]\nreceipt_barcode = \"jan13\"\nbill_barcodes = true\n",
        )
        .unwrap();
        let args = RegisterArgs {
            config: Some(path.clone()),
            ..RegisterArgs::default()
        };
        let now = konbini_domain::time::in_japan(&chrono::Utc::now());
        let s = resolve(&args, now).unwrap();
        let want = ReceiptBarcodes {
            number: Some(BarcodeSystem::Jan13),
            bills: true,
        };
        assert_eq!(s.barcodes, want);
        assert_eq!(replay_receipts(Some(&path)).unwrap().0, want);
        std::fs::write(&path, "[devices]\nreceipt_barcode = \"none\"\n").unwrap();
        let s = resolve(&args, now).unwrap();
        assert_eq!(s.barcodes.number, None);
        assert!(!s.barcodes.bills);
        // Without the keys: the number as CODE128, no bill barcodes.
        assert_eq!(
            FileConfig::default().receipt_barcodes().unwrap(),
            ReceiptBarcodes::default()
        );
    }

    #[test]
    fn the_stamp_duty_setting_names_its_tax_office_and_the_receipt_has_its_own_language() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.toml");
        let args = RegisterArgs {
            config: Some(path.clone()),
            ..RegisterArgs::default()
        };
        let now = konbini_domain::time::in_japan(&chrono::Utc::now());
        std::fs::write(
            &path,
            "language = \"en\"\n[store]\nstamp_duty = \"declaration\"\ntax_office = \"札幌北税務署\"\ndrawer_float = 50000\n",
        )
        .unwrap();
        let s = resolve(&args, now).unwrap();
        assert_eq!(s.lang, Lang::En);
        // The clerk reads English; the receipts stay Japanese unless set.
        assert_eq!(s.receipt_style.lang, ReceiptLang::Ja);
        assert_eq!(
            s.receipt_style.stamp,
            StampDuty::Declaration {
                tax_office: "札幌北税務署".to_owned()
            }
        );
        assert_eq!(s.drawer_float, Yen::new(50_000));
        std::fs::write(&path, "receipt_language = \"en\"\n").unwrap();
        let s = resolve(&args, now).unwrap();
        assert_eq!(s.receipt_style.lang, ReceiptLang::En);
        assert_eq!(s.receipt_style.stamp, StampDuty::Affix);
        assert_eq!(s.drawer_float, DEFAULT_DRAWER_FLOAT);
        for (bad, words) in [
            (
                "[store]\nstamp_duty = \"declaration\"\n",
                "needs store.tax_office",
            ),
            (
                "[store]\ntax_office = \"札幌北税務署\"\n",
                "only for store.stamp_duty",
            ),
            (
                "[store]\nstamp_duty = \"paid\"\n",
                "is not \"affix\" or \"declaration\"",
            ),
        ] {
            std::fs::write(&path, bad).unwrap();
            let e = resolve(&args, now).unwrap_err().to_string();
            assert!(e.contains(words), "{e}");
        }
    }

    #[test]
    fn an_upstream_without_a_secret_is_refused() {
        let args = RegisterArgs {
            upstream: Some("http://127.0.0.1:1".into()),
            ..RegisterArgs::default()
        };
        let now = konbini_domain::time::in_japan(&chrono::Utc::now());
        let e = resolve(&args, now).unwrap_err();
        assert!(e.to_string().contains("terminal secret"), "{e}");
    }
}
