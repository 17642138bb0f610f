//! Every GS k bar code system, printed by the firmware's engine and read back by zxing-cpp
//! (a decoder this project did not write, from PyPI in `target/zxing-venv`, which
//! `.ci/run` installs): for each system a job made by the crate's encoder and one written
//! by hand from the command reference (Function A where the system has it, else
//! Function B), both read back to the same data. Also: GS1-128 by Epson's data rules
//! (AIs in parentheses, `*` check digits, `{1` FNC1 between fields) and as python-escpos
//! sends it, HRI positions, GS w (2-6, others ignored) and GS h, refused jobs skipped and
//! counted, and the check digits as properties. PDF417 (GS ( k
//! cn 48) likewise: its compactions and settings read back byte for byte, and symbols the
//! printer would refuse skipped and counted.

use std::convert::Infallible;
use std::path::PathBuf;
use std::process::Command as Process;
use std::sync::atomic::{AtomicUsize, Ordering};

use konbini_firmware::barcode::Symbol;
use konbini_firmware::decoder::Decoder;
use konbini_firmware::escpos::{BarcodeSystem, Command, HriPosition, Pdf417};
use konbini_firmware::linear::gs1_check_digit;
use konbini_firmware::raster::{Engine, Faults, Paper};
use proptest::prelude::*;

/// Paper that keeps every dot line and the transcript.
#[derive(Default)]
struct Capture {
    rows: Vec<Vec<u8>>,
    text: Vec<String>,
}

impl Paper for Capture {
    type Error = Infallible;
    fn dot_line(&mut self, dots: &[u8]) -> Result<(), Infallible> {
        self.rows.push(dots.to_vec());
        Ok(())
    }
    fn feed(&mut self, dots: u16) -> Result<(), Infallible> {
        let width = self.rows.first().map_or(72, Vec::len);
        for _ in 0..dots {
            self.rows.push(vec![0; width]);
        }
        Ok(())
    }
    fn text_line(&mut self, text: &str) -> Result<(), Infallible> {
        self.text.push(text.to_owned());
        Ok(())
    }
    fn cut(&mut self, _partial: bool) -> Result<(), Infallible> {
        Ok(())
    }
}

impl Capture {
    fn dot(&self, x: usize, y: usize) -> bool {
        self.rows[y][x / 8] & (0x80 >> (x % 8)) != 0
    }
    /// The picture as a PGM, with a white quiet zone of `margin` dots all round.
    fn pgm(&self, margin: usize) -> Vec<u8> {
        let width = self.rows.first().map_or(0, Vec::len) * 8;
        let (w, h) = (width + 2 * margin, self.rows.len() + 2 * margin);
        let mut out = format!("P5 {w} {h} 255\n").into_bytes();
        for y in 0..h {
            for x in 0..w {
                let black = (margin..margin + self.rows.len()).contains(&y)
                    && (margin..margin + width).contains(&x)
                    && self.dot(x - margin, y - margin);
                out.push(if black { 0 } else { 255 });
            }
        }
        out
    }
}

fn render(dots: u16, job: &[u8]) -> (Capture, Faults) {
    let mut engine = Engine::new(dots);
    let mut paper = Capture::default();
    let mut decoder = Decoder::new();
    let Ok(()) = engine.print_bytes(&mut decoder, job, &mut paper);
    let Ok(()) = engine.finish(&mut paper);
    (paper, engine.faults())
}

fn encode(commands: &[Command<'_>]) -> Vec<u8> {
    let mut bytes = Vec::new();
    for c in commands {
        c.encode(&mut |b| bytes.extend_from_slice(b));
    }
    bytes
}

/// The Python that has zxing-cpp: `KONBINI_ZXING_PYTHON`, or the venv `tests/zxing-venv.sh`
/// makes (once, from PyPI) when it is missing.
fn zxing_python() -> PathBuf {
    if let Some(p) = std::env::var_os("KONBINI_ZXING_PYTHON") {
        return p.into();
    }
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/zxing-venv.sh");
    let out = Process::new("bash")
        .arg(&script)
        .output()
        .expect("bash runs");
    assert!(
        out.status.success(),
        "{} could not install zxing-cpp from PyPI: {}",
        script.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}

/// What zxing-cpp reads in each picture: `format|text` per symbol found.
fn read_back(pictures: &[Capture]) -> Vec<Vec<String>> {
    zxing(pictures, false)
}

/// What zxing-cpp reads in each picture: `format|hex` of each symbol's data bytes.
fn read_back_bytes(pictures: &[Capture]) -> Vec<Vec<String>> {
    zxing(pictures, true)
}

fn zxing(pictures: &[Capture], as_bytes: bool) -> Vec<Vec<String>> {
    static RUN: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "konbini-barcodes-{}-{}",
        std::process::id(),
        RUN.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let paths: Vec<PathBuf> = pictures
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let path = dir.join(format!("{i}.pgm"));
            std::fs::write(&path, p.pgm(40)).unwrap();
            path
        })
        .collect();
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/zxing_read.py");
    let out = Process::new(zxing_python())
        .arg(script)
        .args(as_bytes.then_some("--bytes"))
        .args(&paths)
        .output()
        .expect("zxing-cpp runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(&dir);
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| l.split('\t').skip(1).map(str::to_owned).collect())
        .collect()
}

/// One system's sample: the data for the encoder, the same symbol written by hand, and
/// what a decoder reads (`format|text`).
struct Case {
    system: BarcodeSystem,
    data: &'static [u8],
    by_hand: &'static [u8],
    reads: &'static str,
}

const SETUP: &[u8] = b"\x1b@\x1dw\x02\x1dh\x50\x1dH\x02";

fn cases() -> Vec<Case> {
    use BarcodeSystem::*;
    vec![
        Case {
            system: UpcA,
            data: b"03600029145",
            // Function A, m = 0, NUL-terminated, check digit given.
            by_hand: b"\x1dk\x00036000291452\x00",
            // zxing-cpp reports UPC-A as the EAN-13 it is, with a leading 0.
            reads: "EAN13|0036000291452",
        },
        Case {
            system: UpcE,
            data: b"0425261",
            // The UPC-A form, compressed by the printer.
            by_hand: b"\x1dk\x01042100005264\x00",
            // zxing-cpp gives UPC-E expanded to its EAN-13 form.
            reads: "UPCE|0042100005264",
        },
        Case {
            system: Jan13,
            data: b"490123456789",
            by_hand: b"\x1dk\x02490123456789\x00",
            reads: "EAN13|4901234567894",
        },
        Case {
            system: Jan8,
            data: b"4901234",
            by_hand: b"\x1dk\x0349012347\x00",
            reads: "EAN8|49012347",
        },
        Case {
            system: Code39,
            data: b"KONBINI-22",
            by_hand: b"\x1dk\x04*KONBINI-22*\x00",
            reads: "Code39|KONBINI-22",
        },
        Case {
            system: Itf,
            data: b"14901234567891",
            by_hand: b"\x1dk\x0514901234567891\x00",
            reads: "ITF|14901234567891",
        },
        Case {
            system: Codabar,
            data: b"A40156B",
            by_hand: b"\x1dk\x06a40156b\x00",
            reads: "Codabar|A40156B",
        },
        Case {
            system: Code93,
            data: b"KONBINI 93",
            by_hand: b"\x1dk\x48\x0aKONBINI 93",
            reads: "Code93|KONBINI 93",
        },
        Case {
            system: Code128,
            data: b"{BNo.123",
            by_hand: b"\x1dk\x49\x08{BNo.123",
            reads: "Code128|No.123",
        },
        Case {
            system: Gs1_128,
            data: b"(91)912345",
            by_hand: b"\x1dk\x4a\x0a(91)912345",
            reads: "Code128|(91)912345",
        },
        Case {
            system: DataBarOmnidirectional,
            data: b"0950110153000",
            by_hand: b"\x1dk\x4b\x0d0950110153000",
            reads: "DataBarOmni|(01)09501101530003",
        },
        Case {
            system: DataBarTruncated,
            data: b"0950110153000",
            by_hand: b"\x1dk\x4c\x0e09501101530003",
            reads: "DataBarOmni|(01)09501101530003",
        },
        Case {
            system: DataBarLimited,
            data: b"1501234567890",
            by_hand: b"\x1dk\x4d\x0d1501234567890",
            reads: "DataBarLtd|(01)15012345678907",
        },
        Case {
            system: DataBarExpanded,
            data: b"(01)04912345678904(10)ABC123",
            by_hand: b"\x1dk\x4e\x1c(01)04912345678904(10)ABC123",
            reads: "DataBarExp|(01)04912345678904(10)ABC123",
        },
    ]
}

#[test]
fn every_system_reads_back_from_the_encoders_job_and_a_hand_written_one() {
    let cases = cases();
    let mut pictures = Vec::new();
    for case in &cases {
        let mut encoded = SETUP.to_vec();
        encoded.extend(encode(&[Command::Barcode {
            system: case.system,
            data: case.data,
        }]));
        let mut by_hand = SETUP.to_vec();
        by_hand.extend_from_slice(case.by_hand);
        for job in [encoded, by_hand] {
            let (paper, faults) = render(576, &job);
            assert_eq!(faults, Faults::default(), "{}", case.system.name());
            pictures.push(paper);
        }
    }
    let read = read_back(&pictures);
    let mut wrong = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        for (j, how) in ["encoder", "by hand"].iter().enumerate() {
            let got = &read[2 * i + j];
            if got != &[case.reads.to_owned()] {
                wrong.push(format!("{} ({how}): {got:?}", case.system.name()));
            }
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

/// `symbol`'s bars drawn straight from its runs, one dot a module, `height` rows: the
/// encoder's symbol without the engine (for symbols wider than any paper at GS w 2).
fn draw_runs(symbol: &Symbol, height: usize) -> Capture {
    let width: usize = symbol.runs_widths().iter().map(|&w| usize::from(w)).sum();
    let mut row = vec![0u8; width.div_ceil(8)];
    let mut x = 0;
    for (i, &w) in symbol.runs_widths().iter().enumerate() {
        for d in x..x + usize::from(w) {
            if i % 2 == 0 {
                row[d / 8] |= 0x80 >> (d % 8);
            }
        }
        x += usize::from(w);
    }
    Capture {
        rows: vec![row; height],
        text: Vec::new(),
    }
}

#[test]
fn databar_expanded_reads_back_every_mode_and_fnc1_between_fields() {
    // Numeric, alphanumeric and ISO/IEC 646 data; FNC1 after variable-length fields; from
    // the fewest symbol characters (4) to 20. At GS w 2 (the TM-T88's narrowest) 80 mm
    // takes 11 symbol characters: those print through the engine; the wider ones are
    // refused whole by it, and their bars, drawn from the encoder at one dot a module,
    // read back all the same.
    let samples: [&[u8]; 9] = [
        b"(90)1",
        b"(01)04912345678904",
        b"(10)AB(90)1",
        b"(01)04912345678904(10)AB1",
        b"(90)Konbini receipt 0001-000042",
        b"(21)ABC-12/3.4*5(91)912345678901",
        b"(01)04912345678904(3103)001250(15)261231",
        b"(8020)1234567890123456789012345(91)12345678901234567890123456789",
        // Parentheses mark the AIs, so they cannot be data.
        b"(90)a!\"%&'*+,-./:;<=>?_ z",
    ];
    let (mut printed, mut refused) = (0, 0);
    let pictures: Vec<Capture> = samples
        .iter()
        .map(|data| {
            let what = String::from_utf8_lossy(data);
            let mut symbol = Symbol::default();
            symbol.encode(78, data).unwrap();
            let job = encode(&[
                Command::BarcodeWidth(2),
                Command::BarcodeHeight(60),
                Command::Barcode {
                    system: BarcodeSystem::DataBarExpanded,
                    data,
                },
            ]);
            let (paper, faults) = render(576, &job);
            if symbol.width_dots(2) <= 576 {
                printed += 1;
                assert_eq!(faults, Faults::default(), "{what}");
                paper
            } else {
                refused += 1;
                assert_eq!(faults.barcodes_dropped, 1, "{what}");
                assert!(inked_rows(&paper).is_empty(), "{what}");
                draw_runs(&symbol, 60)
            }
        })
        .collect();
    assert!(
        printed >= 3 && refused >= 3,
        "{printed} printed, {refused} refused"
    );
    let read = read_back(&pictures);
    for (data, got) in samples.iter().zip(&read) {
        let want = format!("DataBarExp|{}", String::from_utf8_lossy(data));
        assert_eq!(got, &[want], "{}", String::from_utf8_lossy(data));
    }
}

/// Rows holding any black dot.
fn inked_rows(paper: &Capture) -> Vec<usize> {
    (0..paper.rows.len())
        .filter(|&y| paper.rows[y].iter().any(|&b| b != 0))
        .collect()
}

#[test]
fn hri_prints_above_below_both_or_not_at_all_and_gs_h_sets_the_height() {
    for (position, texts, rows) in [
        (HriPosition::None, 0, 60),
        (HriPosition::Above, 1, 60 + 24),
        (HriPosition::Below, 1, 60 + 24),
        (HriPosition::Both, 2, 60 + 48),
    ] {
        let job = encode(&[
            Command::BarcodeHeight(60),
            Command::BarcodeWidth(2),
            Command::Hri(position),
            Command::Barcode {
                system: BarcodeSystem::Jan13,
                data: b"490123456789",
            },
        ]);
        let (paper, _) = render(576, &job);
        assert_eq!(paper.rows.len(), rows, "{position:?}");
        assert_eq!(
            paper.text,
            vec!["4901234567894".to_owned(); texts],
            "{position:?}"
        );
    }
}

#[test]
fn gs_w_sets_the_module_and_the_narrow_and_wide_elements() {
    // JAN13 is 95 modules; CODE39 "*1*" is 3 characters of 6 narrow and 3 wide, 2 gaps.
    for module in 2..=6u8 {
        let jan = encode(&[
            Command::BarcodeWidth(module),
            Command::Barcode {
                system: BarcodeSystem::Jan13,
                data: b"490123456789",
            },
        ]);
        let (paper, _) = render(576, &jan);
        let width = |paper: &Capture| {
            let xs: Vec<usize> = (0..576).filter(|&x| paper.dot(x, 0)).collect();
            xs.last().unwrap() - xs[0] + 1
        };
        assert_eq!(width(&paper), 95 * usize::from(module));
        let code39 = encode(&[
            Command::BarcodeWidth(module),
            Command::Barcode {
                system: BarcodeSystem::Code39,
                data: b"1",
            },
        ]);
        let (paper, _) = render(576, &code39);
        // The TM-T88's GS w table: wide elements of 0.706-2.258 mm, at 180 dpi.
        let wide = [5usize, 8, 10, 13, 16][usize::from(module) - 2];
        let narrow = usize::from(module);
        assert_eq!(width(&paper), 3 * (6 * narrow + 3 * wide) + 2 * narrow);
    }
}

#[test]
fn gs_w_outside_2_to_6_is_ignored_and_the_module_kept() {
    // The TM-T88 takes 2 ≤ n ≤ 6 (its command reference, GS w); other values change
    // nothing. Written by hand: the encoder clamps.
    let width_after = |gs_w: &[u8]| {
        let mut job = b"\x1dw\x04".to_vec();
        job.extend_from_slice(gs_w);
        job.extend_from_slice(b"\x1dk\x02490123456789\x00");
        let (paper, faults) = render(576, &job);
        assert_eq!(faults, Faults::default());
        let xs: Vec<usize> = (0..576).filter(|&x| paper.dot(x, 0)).collect();
        xs.last().unwrap() - xs[0] + 1
    };
    assert_eq!(width_after(b""), 95 * 4);
    for ignored in [0u8, 1, 7, 255] {
        assert_eq!(
            width_after(&[0x1d, b'w', ignored]),
            95 * 4,
            "GS w {ignored}"
        );
    }
    assert_eq!(width_after(b"\x1dw\x02"), 95 * 2);
    assert_eq!(width_after(b"\x1dw\x06"), 95 * 6);
    // The encoder sends the nearest value the printer takes.
    assert_eq!(encode(&[Command::BarcodeWidth(1)]), b"\x1dw\x02");
    assert_eq!(encode(&[Command::BarcodeWidth(9)]), b"\x1dw\x06");
}

#[test]
fn refused_jobs_print_nothing_are_counted_and_the_next_job_prints() {
    let refused: [&[u8]; 23] = [
        b"\x1dk\x012425261\x00",       // UPC-E of number system 2
        b"\x1dk\x0104252615\x00",      // UPC-E with a wrong check digit (4)
        b"\x1dk\x0112345\x00",         // UPC-E too short
        b"\x1dk\x0104252A1\x00",       // UPC-E with a letter
        b"\x1dk\x0101234567890\x00",   // UPC-E: a UPC-A that does not compress
        b"\x1dk\x42\x09042526140",     // UPC-E (Function B) too long
        b"\x1dk\x0349012345\x00",      // JAN8 with a wrong check digit (7)
        b"\x1dk\x03490123\x00",        // JAN8 too short
        b"\x1dk\x44\x09490123470",     // JAN8 (Function B) too long
        b"\x1dk\x0349O1234\x00",       // JAN8 with a letter
        b"\x1dk\x48\x08KONBINI\x80",   // CODE93: a byte over 0x7F
        b"\x1dk\x48\x03\xff93",        // CODE93: a byte over 0x7F first
        b"\x1dk\x024901234567890\x00", // JAN13 with a wrong check digit
        b"\x1dk\x0249012345\x00",      // JAN13 too short
        b"\x1dk\x43\x0c49012345678A",  // JAN13 with letters
        b"\x1dk\x05123\x00",           // ITF with an odd number of digits
        b"\x1dk\x04abc\x00",           // CODE39 lower case
        b"\x1dk\x0612345\x00",         // CODABAR without start and stop
        b"\x1dk\x4d\x0d2501234567890", // DataBar Limited over 1
        b"\x1dk\x4b\x0c095011015300",  // DataBar with 12 digits
        b"\x1dk\x49\x02AB",            // CODE128 without a code set
        b"\x1dk\x4e\x06(90)\x80b",     // DataBar Expanded: a byte it has no character for
        b"\x1dk\x4e\x04(9)1",          // DataBar Expanded: a one-digit AI
    ];
    for job in refused {
        let mut bytes = job.to_vec();
        bytes.extend_from_slice(b"OK\n");
        let (paper, faults) = render(576, &bytes);
        assert_eq!(faults.barcodes_dropped, 1, "{job:?}");
        assert_eq!(paper.text, ["OK"], "{job:?}");
        // Only the text line (24 rows and its spacing) was printed.
        assert!(inked_rows(&paper).iter().all(|&y| y < 24), "{job:?}");
    }
}

#[test]
fn every_system_at_its_largest_size_fits_or_is_refused_whole() {
    // Module 6 makes the wide systems too wide for 80 mm: dropped whole, counted.
    for case in cases() {
        let job = encode(&[
            Command::BarcodeWidth(6),
            Command::BarcodeHeight(255),
            Command::Hri(HriPosition::Both),
            Command::Barcode {
                system: case.system,
                data: case.data,
            },
        ]);
        let (paper, faults) = render(576, &job);
        let mut symbol = Symbol::default();
        symbol.encode(case.system as u8, case.data).unwrap();
        if faults.barcodes_dropped == 1 {
            assert!(inked_rows(&paper).is_empty(), "{}", case.system.name());
        } else {
            assert_eq!(paper.rows.len(), 255 + 48, "{}", case.system.name());
        }
    }
}

/// GS1-128 data as Epson's command reference gives it, and what zxing-cpp reads.
const GS1_128_CASES: [(&[u8], &str); 6] = [
    // `*`: the check digit the printer computes (the reference's own example).
    (b"(01)9501234567890*", "(01)95012345678903"),
    // The reference's two fields: a space (HRI only) and `{1` (FNC1) between them.
    (
        b"(01)9501234567890* {1(3102)000400",
        "(01)95012345678903(3102)000400",
    ),
    // A field of variable length (10, a batch) before another AI ends with FNC1 ...
    (b"(10)ABC123{1(17)261231", "(10)ABC123(17)261231"),
    // ... which the printer does not add by itself: without it the next AI is read as
    // more of the batch.
    (b"(10)ABC123(17)261231", "(10)ABC12317261231"),
    // `{(`, `{)`, `{*` are the characters themselves.
    (b"(21)A{(1{)2{*3{1(91)x y", "(21)A(1)2*3(91)xy"),
    // The bill barcode's form: digits only, no parentheses.
    (
        b"91912345012345678901234567890101033101230003",
        "(91)912345012345678901234567890101033101230003",
    ),
];

#[test]
fn gs1_128_follows_epsons_data_rules_and_reads_back() {
    let mut pictures = Vec::new();
    for (data, _) in GS1_128_CASES {
        let mut job = SETUP.to_vec();
        job.extend(encode(&[Command::Barcode {
            system: BarcodeSystem::Gs1_128,
            data,
        }]));
        let (paper, faults) = render(576, &job);
        assert_eq!(
            faults,
            Faults::default(),
            "{}",
            String::from_utf8_lossy(data)
        );
        pictures.push(paper);
    }
    // The HRI is the data with the parentheses, the check digit for `*`, a space for a
    // space and for FNC1.
    assert_eq!(pictures[0].text, ["(01)95012345678903"]);
    assert_eq!(pictures[1].text, ["(01)95012345678903  (3102)000400"]);
    assert_eq!(pictures[2].text, ["(10)ABC123 (17)261231"]);
    assert_eq!(pictures[4].text, ["(21)A(1)2*3 (91)x y"]);
    let read = read_back(&pictures);
    for ((data, want), got) in GS1_128_CASES.iter().zip(&read) {
        assert_eq!(
            got,
            &[format!("Code128|{want}")],
            "{}",
            String::from_utf8_lossy(data)
        );
    }
}

#[test]
fn a_python_escpos_gs1_128_job_prints_with_epsons_data_and_is_refused_with_a_code_set() {
    // The bytes python-escpos 3 sends for `barcode(code, "GS1-128", function_type="B")`:
    // ESC a 1, GS h 64, GS w 3, GS f 0, GS H 2, GS k 74 n code. Its own check (on by
    // default) asks GS1-128 data to start with a CODE128 code set (`{A`-`{C`), which the
    // command reference makes an error: with `check=False` and the reference's data it
    // prints; with a code set it is refused, as the printer refuses it.
    let job = |code: &[u8]| {
        let mut job = b"\x1ba\x01\x1dh\x40\x1dw\x03\x1df\x00\x1dH\x02\x1dk\x4a".to_vec();
        job.push(code.len() as u8);
        job.extend_from_slice(code);
        job
    };
    let (paper, faults) = render(576, &job(b"(01)9501234567890*"));
    assert_eq!(faults, Faults::default());
    assert_eq!(
        read_back(&[paper]),
        [["Code128|(01)95012345678903".to_owned()]]
    );
    let (paper, faults) = render(576, &job(b"{C0195012345678903"));
    assert_eq!(faults.barcodes_dropped, 1);
    assert!(inked_rows(&paper).is_empty());
}

#[test]
fn gs1_128_data_the_printer_refuses_prints_nothing_and_is_counted() {
    let refused: [(&[u8], &str); 11] = [
        (b"{C0195012345678903", "a CODE128 code set"),
        (b"(90)AB{2", "FNC2, which GS1-128 has not"),
        (b"(90)AB{", "a `{` ending the data"),
        (b"(01)950123456789A*", "`*` after a letter"),
        (b"12345*", "`*` without an AI"),
        (b"(01)*", "`*` with no digits before it"),
        (b"(1)23", "a one-digit AI"),
        (b"(0A)12", "an AI that is not digits"),
        (b"(90)12)3", "a `)` that closes no AI"),
        (b"(90)AB\x80", "a byte over 0x7F"),
        (b"9", "one byte (the reference asks 2 to 255)"),
    ];
    for (data, what) in refused {
        let job = encode(&[
            Command::Barcode {
                system: BarcodeSystem::Gs1_128,
                data,
            },
            Command::Text(b"OK"),
            Command::LineFeed,
        ]);
        let (paper, faults) = render(576, &job);
        assert_eq!(faults.barcodes_dropped, 1, "{what}");
        assert_eq!(paper.text, ["OK"], "{what}");
        assert!(inked_rows(&paper).iter().all(|&y| y < 24), "{what}");
    }
}

/// One PDF417 sample: its settings and data for the encoder, the same job written by hand
/// from the command reference, and what it shows (which compactions, which settings).
struct Pdf417Case {
    what: &'static str,
    settings: Vec<Pdf417<'static>>,
    data: Vec<u8>,
    by_hand: Vec<u8>,
}

/// `GS ( k pL pH 48 fn` and its parameters, as the command reference lays them out.
fn gs_k_48(function: u8, params: &[u8]) -> Vec<u8> {
    let len = (params.len() + 2) as u16;
    let mut v = vec![0x1d, b'(', b'k'];
    v.extend_from_slice(&len.to_le_bytes());
    v.extend_from_slice(&[48, function]);
    v.extend_from_slice(params);
    v
}

fn store_48(data: &[u8]) -> Vec<u8> {
    let mut params = vec![48];
    params.extend_from_slice(data);
    gs_k_48(80, &params)
}

fn pdf417_cases() -> Vec<Pdf417Case> {
    let shift_jis = b"\x97\xcc\x8e\xfb\x8f\x91 \x5c1,280 \x83\x52\x83\x93\x83\x72\x83\x6a".to_vec();
    let bill = b"91912345678901234567890123456789012345678901".to_vec();
    let text = b"Konbini receipt No.0001-000042 (total: 1,280 yen) [paid]".to_vec();
    let mut binary: Vec<u8> = (0..=255u8).collect();
    binary.extend_from_slice(&binary.clone()[..4]); // 260 bytes: 43 groups of six and 2
    let cat = |parts: &[Vec<u8>]| parts.concat();
    vec![
        Pdf417Case {
            what: "text compaction, every submode, defaults",
            settings: vec![],
            data: text.clone(),
            by_hand: cat(&[store_48(&text), gs_k_48(81, &[48])]),
        },
        Pdf417Case {
            what: "numeric compaction, 4 columns, level 5",
            settings: vec![Pdf417::Columns(4), Pdf417::ErrorLevel(5)],
            data: bill.clone(),
            by_hand: cat(&[
                gs_k_48(65, &[4]),
                gs_k_48(69, &[48, 53]),
                store_48(&bill),
                gs_k_48(81, &[48]),
            ]),
        },
        Pdf417Case {
            what: "byte compaction (Shift_JIS), 20 rows, module 2, row height 4",
            settings: vec![
                Pdf417::Rows(20),
                Pdf417::ModuleWidth(2),
                Pdf417::RowHeight(4),
            ],
            data: shift_jis.clone(),
            by_hand: cat(&[
                gs_k_48(66, &[20]),
                gs_k_48(67, &[2]),
                gs_k_48(68, &[4]),
                store_48(&shift_jis),
                gs_k_48(81, &[48]),
            ]),
        },
        Pdf417Case {
            what: "every byte value, truncated, 30 % correction",
            settings: vec![Pdf417::Truncated(true), Pdf417::ErrorRatio(3)],
            data: binary.clone(),
            by_hand: cat(&[
                gs_k_48(70, &[1]),
                gs_k_48(69, &[49, 3]),
                store_48(&binary),
                gs_k_48(81, &[48]),
            ]),
        },
        Pdf417Case {
            what: "text, bytes and digits mixed, 3 columns and 30 rows",
            settings: vec![Pdf417::Columns(3), Pdf417::Rows(30)],
            data: cat(&[b"No. ".to_vec(), shift_jis.clone(), bill.clone()]),
            by_hand: cat(&[
                gs_k_48(65, &[3]),
                gs_k_48(66, &[30]),
                store_48(&cat(&[b"No. ".to_vec(), shift_jis.clone(), bill.clone()])),
                gs_k_48(81, &[48]),
            ]),
        },
    ]
}

#[test]
fn pdf417_reads_back_from_the_encoders_job_and_a_hand_written_one() {
    let cases = pdf417_cases();
    let mut pictures = Vec::new();
    for case in &cases {
        let mut commands = vec![Command::Initialize];
        commands.extend(case.settings.iter().map(|&f| Command::Pdf417(f)));
        commands.push(Command::Pdf417(Pdf417::Store(&case.data)));
        commands.push(Command::Pdf417(Pdf417::Print));
        let encoded = encode(&commands);
        let mut by_hand = b"\x1b@".to_vec();
        by_hand.extend_from_slice(&case.by_hand);
        assert_eq!(encoded, by_hand, "{}: the encoder's bytes", case.what);
        for job in [encoded, by_hand] {
            let (paper, faults) = render(576, &job);
            assert_eq!(faults, Faults::default(), "{}", case.what);
            assert!(!inked_rows(&paper).is_empty(), "{}", case.what);
            pictures.push(paper);
        }
    }
    let read = read_back_bytes(&pictures);
    let mut wrong = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        let want = format!("PDF417|{}", hex(&case.data));
        for (j, how) in ["encoder", "by hand"].iter().enumerate() {
            let got = &read[2 * i + j];
            if got != std::slice::from_ref(&want) {
                wrong.push(format!("{} ({how}): {got:?}", case.what));
            }
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn pdf417_settings_shape_the_symbol() {
    let data = b"KONBINI RECEIPT 0001-000042";
    let render_with = |settings: &[Pdf417<'_>]| {
        let mut commands: Vec<Command<'_>> = settings.iter().map(|&f| Command::Pdf417(f)).collect();
        commands.push(Command::Pdf417(Pdf417::Store(data)));
        commands.push(Command::Pdf417(Pdf417::Print));
        render(576, &encode(&commands)).0
    };
    let width = |paper: &Capture| {
        let xs: Vec<usize> = (0..576).filter(|&x| paper.dot(x, 0)).collect();
        xs.last().unwrap() - xs[0] + 1
    };
    // 15 data codewords (the descriptor and 14), level 2 (8): 23, in 2 columns 12 rows.
    let two = render_with(&[Pdf417::Columns(2), Pdf417::ErrorLevel(2)]);
    assert_eq!(two.rows.len(), 12 * 3 * 3, "rows × row height 3 × module 3");
    assert_eq!(width(&two), (69 + 2 * 17) * 3);
    let truncated = render_with(&[
        Pdf417::Columns(2),
        Pdf417::ErrorLevel(2),
        Pdf417::Truncated(true),
        Pdf417::ModuleWidth(2),
        Pdf417::RowHeight(5),
    ]);
    assert_eq!(truncated.rows.len(), 12 * 5 * 2);
    assert_eq!(width(&truncated), (35 + 2 * 17) * 2);
}

#[test]
fn pdf417_the_printer_would_refuse_prints_nothing_is_counted_and_the_next_job_prints() {
    let long = vec![b'A'; 200];
    let too_much: Vec<u8> = (0..1200u32).map(|i| (i * 7) as u8).collect();
    let refused: Vec<(&str, Vec<Command<'_>>)> = vec![
        (
            "too much data for 1 column and 3 rows",
            vec![Pdf417::Columns(1), Pdf417::Rows(3), Pdf417::Store(&long)],
        ),
        (
            "too much data for 10 rows of 2 columns at level 8",
            vec![
                Pdf417::Columns(2),
                Pdf417::Rows(10),
                Pdf417::ErrorLevel(8),
                Pdf417::Store(b"123"),
            ],
        ),
        (
            "more than a symbol's 928 codewords",
            vec![Pdf417::Store(&too_much)],
        ),
        (
            "30 columns are wider than 80 mm",
            vec![Pdf417::Columns(30), Pdf417::Store(b"WIDE")],
        ),
        ("nothing stored", vec![Pdf417::Store(b"")]),
    ]
    .into_iter()
    .map(|(what, fs)| (what, fs.into_iter().map(Command::Pdf417).collect()))
    .collect();
    for (what, mut commands) in refused {
        commands.push(Command::Pdf417(Pdf417::Print));
        commands.push(Command::Text(b"OK"));
        commands.push(Command::LineFeed);
        let (paper, faults) = render(576, &encode(&commands));
        assert_eq!(faults.pdf417_dropped, 1, "{what}");
        assert_eq!(paper.text, ["OK"], "{what}");
        assert!(inked_rows(&paper).iter().all(|&y| y < 24), "{what}");
    }
}

proptest! {
    #[test]
    fn a_jan13_check_digit_is_the_one_that_makes_the_symbol(digits in proptest::collection::vec(0u8..10, 12)) {
        let check = gs1_check_digit(&digits);
        prop_assert!(check < 10);
        let text: Vec<u8> = digits.iter().map(|d| b'0' + d).collect();
        let mut s = Symbol::default();
        s.encode(67, &text).unwrap();
        let computed = s.runs_widths().to_vec();
        let mut with_check = text.clone();
        with_check.push(b'0' + check);
        s.encode(67, &with_check).unwrap();
        prop_assert_eq!(s.runs_widths(), &computed[..]);
        // Any other check digit is refused.
        for wrong in (0..10).filter(|&d| d != check) {
            *with_check.last_mut().unwrap() = b'0' + wrong;
            prop_assert!(s.encode(67, &with_check).is_err());
        }
    }

    #[test]
    fn a_gs1_check_digit_catches_any_single_digit_error(
        digits in proptest::collection::vec(0u8..10, 7..17),
        at in any::<prop::sample::Index>(),
        delta in 1u8..10,
    ) {
        let mut changed = digits.clone();
        let i = at.index(digits.len());
        changed[i] = (changed[i] + delta) % 10;
        prop_assert_ne!(gs1_check_digit(&digits), gs1_check_digit(&changed));
    }

    #[test]
    fn upc_e_takes_its_upc_a_form_and_its_short_forms_alike(e in proptest::collection::vec(0u8..10, 6)) {
        let short: Vec<u8> = e.iter().map(|d| b'0' + d).collect();
        let mut s = Symbol::default();
        s.encode(66, &short).unwrap();
        let hri = s.hri().to_vec();
        let runs = s.runs_widths().to_vec();
        let mut with_ns = b"0".to_vec();
        with_ns.extend_from_slice(&short);
        s.encode(66, &with_ns).unwrap();
        prop_assert_eq!(s.runs_widths(), &runs[..]);
        // HRI: number system, six digits, check digit; the check digit given is taken.
        with_ns.push(hri[7]);
        s.encode(66, &with_ns).unwrap();
        prop_assert_eq!(s.runs_widths(), &runs[..]);
    }

    #[test]
    fn any_pdf417_job_prints_whole_or_is_refused_without_panic(
        columns in 0u8..=32,
        rows in 0u8..=95,
        module in 0u8..=9,
        level in 0u8..=9,
        truncated in any::<bool>(),
        data in proptest::collection::vec(any::<u8>(), 0..2000),
    ) {
        let job = encode(&[
            Command::Pdf417(Pdf417::Columns(columns)),
            Command::Pdf417(Pdf417::Rows(rows)),
            Command::Pdf417(Pdf417::ModuleWidth(module)),
            Command::Pdf417(Pdf417::ErrorLevel(level)),
            Command::Pdf417(Pdf417::Truncated(truncated)),
            Command::Pdf417(Pdf417::Store(&data)),
            Command::Pdf417(Pdf417::Print),
        ]);
        let (paper, faults) = render(576, &job);
        // Printed, a symbol of whole rows; refused, nothing.
        if faults.pdf417_dropped == 0 {
            prop_assert!(!paper.rows.is_empty());
        } else {
            prop_assert!(paper.rows.is_empty());
        }
    }

    #[test]
    fn any_data_for_any_system_encodes_or_is_refused_without_panic(
        system in 0u8..=80,
        data in proptest::collection::vec(any::<u8>(), 0..300),
    ) {
        let mut s = Symbol::default();
        if s.encode(system, &data).is_ok() {
            // Bars first and last: an odd number of runs.
            prop_assert_eq!(s.runs_widths().len() % 2, 1);
        }
    }
}
