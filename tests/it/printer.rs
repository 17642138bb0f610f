//! `konbini devices print-test` against a serial printer played by the test on a real
//! pseudo-terminal: the exact ESC/POS bytes it sends, and the status it reports from the
//! printer's DLE EOT replies.

use std::io::{Read, Write};
use std::process::Output;

use konbini_devices::printer::shift_jis;
use konbini_devices::scanner::sim::VirtualPort;

/// Run print-test against a printer that answers DLE EOT n with `replies[n - 1]` (None: it
/// never answers). Returns the job bytes the printer received and the command's output.
fn print_test_against(replies: [Option<u8>; 4]) -> (Vec<u8>, Output) {
    let mut port = VirtualPort::open().unwrap();
    let path = port.path().to_owned();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_konbini"))
        .args(["devices", "print-test", "--port", path.to_str().unwrap()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut job = Vec::new();
    let mut answered = 0;
    let mut buf = [0u8; 4096];
    let mut child = child;
    while answered < 4 {
        let n = port.far_end().read(&mut buf).unwrap();
        job.extend_from_slice(&buf[..n]);
        // A status query is DLE EOT n; text never holds DLE, so this is unambiguous.
        let tail = &job[job.len().saturating_sub(3)..];
        if tail.len() == 3 && tail[0] == 0x10 && tail[1] == 0x04 {
            let n = tail[2];
            assert_eq!(n as usize, answered + 1, "queries in order 1-4");
            answered += 1;
            match replies[n as usize - 1] {
                Some(byte) => port.far_end().write_all(&[byte]).unwrap(),
                None => break,
            }
        }
    }
    let status = child.wait().unwrap();
    let mut stdout = Vec::new();
    let mut stderr = Vec::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_end(&mut stdout)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_end(&mut stderr)
        .unwrap();
    (
        job,
        Output {
            status,
            stdout,
            stderr,
        },
    )
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn a_ready_printer_gets_a_whole_japanese_job_and_reports_ready() {
    let (job, out) = print_test_against([Some(0x12); 4]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("status: ready; paper ok"), "{stdout}");
    // ESC @, then the Japanese preamble: ESC t 1, FS C 1 (Shift_JIS), ESC R 8 (¥).
    assert_eq!(
        &job[..11],
        &[0x1B, 0x40, 0x1B, 0x74, 1, 0x1C, 0x43, 1, 0x1B, 0x52, 8]
    );
    assert!(contains(&job, &shift_jis("テスト印字")));
    assert!(contains(&job, &shift_jis("漢字 かな カナ ｶﾅ")));
    assert!(
        contains(&job, &[0x5C, b'1', b',', b'2']),
        "¥1,2.. as 0x5C under ESC R 8"
    );
    assert!(contains(&job, &[0x1D, 0x56, 66, 0]), "a partial cut");
    assert!(
        contains(&job, &[0x1D, 0x21, 0x11]),
        "the title at double size"
    );
    let queries: Vec<u8> = job
        .windows(3)
        .filter(|w| w[0] == 0x10 && w[1] == 0x04)
        .map(|w| w[2])
        .collect();
    assert_eq!(queries, [1, 2, 3, 4]);
}

#[test]
fn paper_end_and_cover_open_are_reported_and_fail() {
    let (_, out) = print_test_against([
        Some(0x12),
        Some(0x12 | 0x04 | 0x20),
        Some(0x12),
        Some(0x12 | 0x0C | 0x60),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success());
    assert!(stdout.contains("cover open, paper end"), "{stdout}");
    assert!(stdout.contains("paper out"), "{stdout}");
}

#[test]
fn near_end_is_a_warning_not_a_failure() {
    let (_, out) = print_test_against([Some(0x12), Some(0x12), Some(0x12), Some(0x12 | 0x0C)]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("paper near end"), "{stdout}");
}

#[test]
fn a_printer_that_never_answers_is_said_so() {
    let (job, out) = print_test_against([None; 4]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("no reply to DLE EOT"), "{stdout}");
    assert!(contains(&job, &[0x1D, 0x56, 66, 0]));
}

#[test]
fn a_missing_printer_is_one_clear_error() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_konbini"))
        .args([
            "devices",
            "print-test",
            "--port",
            "/dev/konbini/no-such-printer",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("printer /dev/konbini/no-such-printer: cannot open"),
        "{err}"
    );
}

/// The receipt layout → ESC/POS bytes → the firmware's decoder → the same lines of text:
/// nothing skipped, every line there, in order.
#[test]
fn a_receipt_job_decodes_back_to_its_lines() {
    use konbini_devices::printer::encode_receipt;
    use konbini_devices::receipt::COLUMNS_80MM;
    use konbini_firmware::decoder::{Cmd, Decoder, Event};

    let receipt = konbini_pos::devices::test_receipt(std::path::Path::new("/dev/usb/lp0"));
    let job = encode_receipt(&receipt, COLUMNS_80MM);
    let mut decoder = Decoder::new();
    let mut lines: Vec<Vec<u8>> = vec![Vec::new()];
    let mut cut = false;
    for &b in &job {
        decoder.push(b, &mut |e| match e {
            Event::Data(d) => lines.last_mut().unwrap().push(d),
            Event::Command(Cmd::LineFeed) => lines.push(Vec::new()),
            Event::Command(Cmd::Cut { partial: true, .. }) => cut = true,
            Event::Skipped(s) => panic!("skipped byte {s:#04x}"),
            _ => {}
        });
    }
    assert!(cut);
    assert_eq!(decoder.skipped(), 0);
    let text: Vec<String> = lines
        .iter()
        .map(|l| encoding_rs::SHIFT_JIS.decode(l).0.replace('\\', "¥"))
        .filter(|l| !l.is_empty())
        .collect();
    let expected: Vec<String> = receipt
        .lines
        .iter()
        .map(|l| match l {
            konbini_devices::receipt::Line::Title(t)
            | konbini_devices::receipt::Line::Center(t) => t.clone(),
            other => other.to_text(COLUMNS_80MM),
        })
        .filter(|l| !l.is_empty())
        .collect();
    assert_eq!(text, expected);
}

proptest::proptest! {
    #[test]
    fn the_decoder_takes_any_bytes(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..2000)) {
        let mut decoder = konbini_firmware::decoder::Decoder::new();
        let mut events = 0usize;
        for &b in &bytes {
            decoder.push(b, &mut |_| events += 1);
        }
        // At most two events a byte (a payload's last byte and its end).
        proptest::prop_assert!(events <= 2 * bytes.len());
    }
}

// ---- The virtual printer: layout → bytes → firmware → PNG and transcript ----

use std::io::BufRead;
use std::path::Path;

use crate::common::{run, shipped_log, stderr, stdout, tempdir};

/// A PNG's width, height and count of black pixels (1-bit greyscale, as the virtual
/// printer writes; the cut mark's dots count too).
fn decode_png(bytes: &[u8]) -> (u32, u32, u64) {
    let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    let mut reader = decoder.read_info().expect("a PNG");
    let mut buf = vec![0; reader.output_buffer_size().expect("size")];
    let info = reader.next_frame(&mut buf).expect("a frame");
    assert_eq!(info.color_type, png::ColorType::Grayscale);
    assert_eq!(info.bit_depth, png::BitDepth::One);
    let row_bytes = info.width.div_ceil(8) as usize;
    let mut black = 0u64;
    for row in buf[..info.buffer_size()].chunks_exact(row_bytes) {
        for x in 0..info.width as usize {
            if row[x / 8] & (0x80 >> (x % 8)) == 0 {
                black += 1;
            }
        }
    }
    (info.width, info.height, black)
}

/// Every non-blank line of the receipt's layout, in order, appears in the transcript
/// (the printer justifies with dots, not spaces, so lines compare trimmed). At 48 columns
/// every line fits and is one transcript line; at 32 the printer wraps the layout's long
/// lines (a 21-digit customer number with its label), so there the content is looked for
/// in order across line breaks.
fn assert_transcript_holds(
    receipt: &konbini_devices::receipt::Receipt,
    columns: usize,
    transcript: &str,
) {
    let wrapped = columns < konbini_devices::receipt::COLUMNS_80MM;
    let joined: String = transcript.lines().map(str::trim).collect();
    let mut printed = transcript.lines().map(str::trim);
    let mut at = 0;
    for line in &receipt.lines {
        let want = match line {
            konbini_devices::receipt::Line::Title(t)
            | konbini_devices::receipt::Line::Center(t) => t.trim().to_owned(),
            other => other.to_text(columns).trim().to_owned(),
        };
        if want.is_empty() {
            continue;
        }
        let found = if wrapped {
            joined[at..]
                .find(&want)
                .map(|i| at += i + want.len())
                .is_some()
        } else {
            printed.any(|p| p == want)
        };
        assert!(
            found,
            "{want:?} is not in the transcript (in order):\n{transcript}"
        );
    }
    // The receipt number's bar code prints its HRI below it, after the last line.
    assert_eq!(
        transcript.lines().map(str::trim).rfind(|l| !l.is_empty()),
        Some(receipt.number.as_str()),
        "no HRI under the bars at the end:\n{transcript}"
    );
}

#[test]
fn a_sale_receipt_prints_every_line_and_its_number_as_bars_on_80_and_58_mm() {
    use konbini_devices::printer::{encode_receipt, render};
    use konbini_devices::receipt::{COLUMNS_58MM, COLUMNS_80MM, Receipt};

    let receipt = Receipt::for_sale(&konbini_bench::sample_sale());
    for (columns, dots) in [(COLUMNS_80MM, 576u16), (COLUMNS_58MM, 384)] {
        let job = encode_receipt(&receipt, columns);
        let (sheet, faults) = render(&job, dots).unwrap();
        assert_eq!(
            faults,
            Default::default(),
            "nothing replaced or dropped at {dots} dots"
        );
        assert_transcript_holds(&receipt, columns, sheet.transcript());
        assert!(sheet.transcript().contains("ファミリーマート 札幌駅前店"));
        assert!(
            sheet.transcript().contains("¥55,400"),
            "{}",
            sheet.transcript()
        );
        let (w, h, black) = decode_png(&sheet.png_bytes().unwrap());
        assert_eq!(w, u32::from(dots));
        // One pixel row a dot line, plus the cut mark (one dot in eight).
        assert_eq!(h, sheet.dot_lines() + 1);
        assert_eq!(black, sheet.black_dots() + u64::from(dots) / 8);
        assert!(black > 10_000, "a receipt's worth of ink: {black}");
    }
}

fn render_cli(job: &Path, png: &Path, txt: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "print-render",
        "--input",
        job.to_str().unwrap(),
        "--png",
        png.to_str().unwrap(),
        "--text",
        txt.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    run(&args)
}

#[test]
fn print_render_writes_the_picture_and_the_text_of_a_job() {
    use konbini_devices::printer::encode_receipt;
    use konbini_devices::receipt::{COLUMNS_58MM, COLUMNS_80MM};

    let dir = tempdir();
    let receipt = konbini_pos::devices::test_receipt(Path::new("/dev/usb/lp0"));
    for (columns, dots) in [(COLUMNS_80MM, "576"), (COLUMNS_58MM, "384")] {
        let job = dir.path().join(format!("job{dots}.bin"));
        std::fs::write(&job, encode_receipt(&receipt, columns)).unwrap();
        let png = dir.path().join(format!("out{dots}.png"));
        let txt = dir.path().join(format!("out{dots}.txt"));
        let out = render_cli(&job, &png, &txt, &["--dots", dots]);
        assert!(out.status.success(), "{}", stderr(&out));
        let (w, _, black) = decode_png(&std::fs::read(&png).unwrap());
        assert_eq!(w.to_string(), dots);
        assert!(black > 1000);
        let text = std::fs::read_to_string(&txt).unwrap();
        assert_transcript_holds(&receipt, columns, &text);
        assert!(text.contains("漢字 かな カナ ｶﾅ"), "{text}");
    }
    // No leftovers: only what was asked for.
    let names = crate::common::file_names(dir.path());
    assert_eq!(
        names,
        [
            "job384.bin",
            "job576.bin",
            "out384.png",
            "out384.txt",
            "out576.png",
            "out576.txt"
        ]
    );
}

/// A job as the receiptline npm package (pinned in tests/node) emits it for a Japanese
/// document: its own preamble (GS a, ESC M, FS ( A, ESC SP, FS S, ESC 3, ESC {), print
/// areas and positions for two-column amounts (GS L, GS W, ESC $, ESC \), rules drawn
/// with the katakana table's box characters, CODE128 with HRI, and the QR code as a raster
/// graphic (GS 8 L, GS ( L). `npm ci` fetches the package if it is not installed yet.
#[test]
fn print_render_draws_a_receiptline_job_with_japanese_text_bars_and_a_raster_qr() {
    let node_dir = crate::common::node_packages();
    let dir = tempdir();
    let (with_qr, without_qr) = (dir.path().join("qr.bin"), dir.path().join("plain.bin"));
    let out = std::process::Command::new("node")
        .arg(node_dir.join("receiptline-job.mjs"))
        .args([&with_qr, &without_qr])
        .output()
        .expect("node");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let mut heights = Vec::new();
    for job in [&with_qr, &without_qr] {
        let (png, txt) = (job.with_extension("png"), job.with_extension("txt"));
        let out = render_cli(job, &png, &txt, &[]);
        assert!(out.status.success(), "{}", stderr(&out));
        // Every byte understood: no skipped bytes, replaced characters or dropped symbols.
        assert!(!stdout(&out).contains("left out"), "{}", stdout(&out));
        let text = std::fs::read_to_string(&txt).unwrap();
        let lines: Vec<&str> = text.lines().map(str::trim).collect();
        let rule = "─".repeat(48);
        for want in [
            "ローソン 大通公園店",
            rule.as_str(),
            "合計",
            "T02-000777",
            "ありがとうございました",
        ] {
            assert!(
                lines.iter().any(|l| l.starts_with(want)),
                "{want:?} not in:\n{text}"
            );
        }
        // Two columns: the label on the left, the amount flush right at 48 columns.
        for (label, amount) in [("店舗 0815", "レジ T02"), ("おにぎり 鮭", "¥150")] {
            let line = text
                .lines()
                .find(|l| l.starts_with(label))
                .unwrap_or_else(|| panic!("{label:?} not in:\n{text}"));
            assert!(line.ends_with(amount), "{line:?}");
            assert!(line.chars().count() > 30, "not flush right: {line:?}");
        }
        let (w, h, black) = decode_png(&std::fs::read(&png).unwrap());
        assert_eq!(w, 576);
        assert!(black > 5_000, "{black}");
        heights.push(h);
    }
    // The QR code (21 modules or more, 4 dots each) is on the paper.
    assert!(
        heights[0] >= heights[1] + 21 * 4,
        "the QR job is {} dots tall, without it {}",
        heights[0],
        heights[1]
    );
}

#[test]
fn print_render_of_a_missing_or_absurd_job_is_one_error_and_writes_nothing() {
    let dir = tempdir();
    let png = dir.path().join("out.png");
    let txt = dir.path().join("out.txt");

    let missing = dir.path().join("no-such-job.bin");
    let out = render_cli(&missing, &png, &txt, &[]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("no-such-job.bin"), "{}", stderr(&out));

    // A job that feeds paper for ever (ESC J 255 without end) is refused, not drawn.
    let endless = dir.path().join("endless.bin");
    std::fs::write(&endless, [0x1b, b'J', 255].repeat(2000)).unwrap();
    let out = render_cli(&endless, &png, &txt, &[]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("endless.bin"), "{}", stderr(&out));
    assert!(stderr(&out).contains("dot lines"), "{}", stderr(&out));

    // A directory as the input.
    let out = render_cli(dir.path(), &png, &txt, &[]);
    assert!(!out.status.success());

    // A width no printer has.
    std::fs::write(dir.path().join("ok.bin"), b"\x1b@hi\n").unwrap();
    let out = render_cli(&dir.path().join("ok.bin"), &png, &txt, &["--dots", "500"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("--dots"), "{}", stderr(&out));

    // An output that cannot be written: neither file appears.
    let out = render_cli(
        &dir.path().join("ok.bin"),
        &png,
        &dir.path().join("no-such-dir/out.txt"),
        &[],
    );
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("no-such-dir/out.txt"),
        "{}",
        stderr(&out)
    );

    assert!(!png.exists() && !txt.exists());
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n.to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn print_render_shows_garbage_as_skipped_bytes_not_a_crash() {
    let dir = tempdir();
    let job = dir.path().join("junk.bin");
    let mut bytes: Vec<u8> = (0..=255u8).cycle().take(20_000).collect();
    bytes.extend_from_slice(b"\x1b@END\n");
    std::fs::write(&job, &bytes).unwrap();
    let png = dir.path().join("j.png");
    let txt = dir.path().join("j.txt");
    let out = render_cli(&job, &png, &txt, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(std::fs::read_to_string(&txt).unwrap().ends_with("END\n"));
}

/// `konbini printer-sim`, started on a real pseudo-terminal; stopped with SIGTERM on drop.
pub struct PrinterSim {
    child: std::process::Child,
    pub device: String,
    lines: std::io::Lines<std::io::BufReader<std::process::ChildStdout>>,
}

impl PrinterSim {
    pub fn start(out: &Path, extra: &[&str]) -> PrinterSim {
        let mut child = crate::common::konbini()
            .args(["printer-sim", "--out", out.to_str().unwrap()])
            .args(extra)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
        let first = lines.next().unwrap().unwrap();
        let device = first
            .strip_prefix("printer on ")
            .unwrap_or_else(|| panic!("first line: {first}"))
            .split(' ')
            .next()
            .unwrap()
            .to_owned();
        PrinterSim {
            child,
            device,
            lines,
        }
    }

    /// The next line the simulator prints (a written job), waiting for it.
    pub fn next_line(&mut self) -> String {
        self.lines.next().unwrap().unwrap()
    }

    pub fn stop(mut self) -> std::process::Output {
        // SAFETY: kill(2) on the pid of a child we started and have not reaped.
        unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
        let rest: Vec<String> = self.lines.by_ref().map_while(Result::ok).collect();
        let mut out = self.child.wait_with_output().unwrap();
        out.stdout = rest.join("\n").into_bytes();
        out
    }
}

fn job_files(dir: &Path) -> Vec<String> {
    crate::common::file_names(dir)
}

#[test]
fn printer_sim_prints_a_job_to_png_and_answers_print_test_status() {
    let dir = tempdir();
    let out_dir = dir.path().join("printed");
    let link = dir.path().join("printer");
    let paper_out = dir.path().join("paper-out");
    let mut sim = PrinterSim::start(
        &out_dir,
        &[
            "--link",
            link.to_str().unwrap(),
            "--paper-out-file",
            paper_out.to_str().unwrap(),
        ],
    );
    assert!(sim.device.starts_with("/dev/pts/"), "{}", sim.device);

    let out = run(&["devices", "print-test", "--port", link.to_str().unwrap()]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert!(
        stdout(&out).contains("status: ready; paper ok"),
        "{}",
        stdout(&out)
    );
    let line = sim.next_line();
    assert!(line.starts_with("job-0001: "), "{line}");
    let png = std::fs::read(out_dir.join("job-0001.png")).unwrap();
    let (w, _, black) = decode_png(&png);
    assert_eq!(w, 576);
    assert!(black > 1000);
    let text = std::fs::read_to_string(out_dir.join("job-0001.txt")).unwrap();
    assert!(text.contains("テスト印字"), "{text}");
    assert!(text.contains("印字テスト完了"), "{text}");
    // After the receipt's cut, a sheet with a sample of every bar code system.
    let line = sim.next_line();
    assert!(line.starts_with("job-0002: "), "{line}");
    let sample = std::fs::read_to_string(out_dir.join("job-0002.txt")).unwrap();
    for name in [
        "JAN13 (EAN13)",
        "CODABAR (NW-7)",
        "CODE39",
        "ITF",
        "GS1-128",
    ] {
        assert!(sample.contains(name), "{name}: {sample}");
    }

    // Pull the paper: the status says so, print-test fails, and no new job appears.
    std::fs::write(&paper_out, b"").unwrap();
    let out = run(&["devices", "print-test", "--port", link.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(stdout(&out).contains("paper end"), "{}", stdout(&out));
    assert!(stdout(&out).contains("paper out"), "{}", stdout(&out));

    std::fs::remove_file(&paper_out).unwrap();
    let out = run(&["devices", "print-test", "--port", link.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stdout(&out));
    assert!(sim.next_line().starts_with("job-0003: "));
    assert!(sim.next_line().starts_with("job-0004: "));

    let done = sim.stop();
    assert!(done.status.success(), "{}", stderr(&done));
    assert!(!link.exists(), "the link goes with the simulator");
    assert_eq!(
        job_files(&out_dir),
        [
            "job-0001.png",
            "job-0001.txt",
            "job-0002.png",
            "job-0002.txt",
            "job-0003.png",
            "job-0003.txt",
            "job-0004.png",
            "job-0004.txt"
        ]
    );
}

#[test]
fn paper_end_keeps_sales_committed_and_receipts_queued_until_paper_is_back() {
    let dir = tempdir();
    let journal = dir.path().join("j.db");
    // Replayed with no printer: three committed sales, three queued print jobs.
    crate::common::replay_json(&shipped_log("edge-cases.jsonl"), &journal, &[]);
    let export_before = crate::common::export(&journal);

    let out_dir = dir.path().join("printed");
    let paper_out = dir.path().join("paper-out");
    std::fs::write(&paper_out, b"").unwrap();
    let mut sim = PrinterSim::start(&out_dir, &["--paper-out-file", paper_out.to_str().unwrap()]);
    let queue = |sim: &PrinterSim| {
        run(&[
            "print-queue",
            "--journal",
            journal.to_str().unwrap(),
            "--port",
            &sim.device,
        ])
    };

    let out = queue(&sim);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("paper end; the receipt of sale 1 and 2 after it stay queued"),
        "{}",
        stderr(&out)
    );
    assert!(
        job_files(&out_dir).is_empty(),
        "nothing printed without paper"
    );
    assert_eq!(
        crate::common::export(&journal),
        export_before,
        "sales untouched"
    );
    assert!(crate::common::verify(&journal).is_ok());

    std::fs::remove_file(&paper_out).unwrap();
    let out = queue(&sim);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("printed 3 receipts"),
        "{}",
        stdout(&out)
    );
    for n in 1..=3 {
        assert!(sim.next_line().starts_with(&format!("job-000{n}: ")));
    }
    let second = std::fs::read_to_string(out_dir.join("job-0002.txt")).unwrap();
    assert!(second.contains("レシート No. T09-000002"), "{second}");
    assert!(
        second.lines().any(|l| l == "T09-000002"),
        "HRI under the bars"
    );

    // Printed once: a second run has nothing left to print.
    let out = queue(&sim);
    assert!(out.status.success());
    assert!(
        stdout(&out).contains("printed 0 receipts"),
        "{}",
        stdout(&out)
    );
    assert!(crate::common::verify(&journal).is_ok());
    sim.stop();
}

#[test]
fn replay_receipts_have_a_picture_beside_each_text() {
    let dir = tempdir();
    let receipts = dir.path().join("r");
    crate::common::replay_json(
        &shipped_log("edge-cases.jsonl"),
        &dir.path().join("j.db"),
        &["--receipts", receipts.to_str().unwrap()],
    );
    for n in 1..=3 {
        let png = std::fs::read(receipts.join(format!("T09-00000{n}.png"))).unwrap();
        let (w, h, black) = decode_png(&png);
        assert_eq!(w, 576);
        assert!(h > 500 && black > 10_000, "{h} rows, {black} black");
    }
    // The picture is the journal's sale through encode_receipt and the virtual printer.
    let journal = konbini_journal::Journal::open_read_only(&dir.path().join("j.db")).unwrap();
    let sale = journal.sale(2).unwrap().unwrap();
    let job = konbini_devices::printer::encode_receipt(
        &konbini_devices::receipt::Receipt::for_sale(&sale),
        konbini_devices::receipt::COLUMNS_80MM,
    );
    let (sheet, _) = konbini_devices::printer::render(&job, 576).unwrap();
    assert!(
        sheet.png_bytes().unwrap() == std::fs::read(receipts.join("T09-000002.png")).unwrap(),
        "the replay's picture is the printer's"
    );
}

/// The PNG as a PGM (white 0xFF, black 0), with a white quiet zone of `margin` pixels.
fn png_to_pgm(bytes: &[u8], margin: usize) -> Vec<u8> {
    let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    let mut reader = decoder.read_info().expect("a PNG");
    let mut buf = vec![0; reader.output_buffer_size().expect("size")];
    let info = reader.next_frame(&mut buf).expect("a frame");
    let (w, h) = (info.width as usize, info.height as usize);
    let row_bytes = w.div_ceil(8);
    let (pw, ph) = (w + 2 * margin, h + 2 * margin);
    let mut out = format!("P5 {pw} {ph} 255\n").into_bytes();
    for y in 0..ph {
        for x in 0..pw {
            let inside = (margin..margin + w).contains(&x) && (margin..margin + h).contains(&y);
            let white = !inside || {
                let row = &buf[(y - margin) * row_bytes..][..row_bytes];
                row[(x - margin) / 8] & (0x80 >> ((x - margin) % 8)) != 0
            };
            out.push(if white { 255 } else { 0 });
        }
    }
    out
}

/// What zxing-cpp (firmware/tests/zxing_read.py, in the venv firmware/tests/zxing-venv.sh
/// makes when it is missing) reads in a PGM picture: `format|text` per symbol.
pub(crate) fn zxing_reads(pgm: &Path) -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let python = match std::env::var_os("KONBINI_ZXING_PYTHON") {
        Some(p) => std::path::PathBuf::from(p),
        None => {
            let out = std::process::Command::new("bash")
                .arg(root.join("firmware/tests/zxing-venv.sh"))
                .output()
                .expect("bash runs");
            assert!(
                out.status.success(),
                "zxing-cpp could not be installed from PyPI: {}",
                stderr(&out)
            );
            std::path::PathBuf::from(stdout(&out).trim())
        }
    };
    let out = std::process::Command::new(python)
        .arg(root.join("firmware/tests/zxing_read.py"))
        .arg(pgm)
        .output()
        .expect("zxing-cpp runs");
    assert!(out.status.success(), "{}", stderr(&out));
    stdout(&out)
        .lines()
        .flat_map(|l| l.split('\t').skip(1).map(str::to_owned).collect::<Vec<_>>())
        .collect()
}

#[test]
fn replay_receipts_carry_the_configured_number_barcode_and_bill_barcodes() {
    use konbini_devices::printer::barcodes::bills_of;
    use konbini_devices::printer::{ReceiptBarcodes, encode_sale_receipt};
    use konbini_firmware::escpos::BarcodeSystem;

    let dir = tempdir();
    let config = dir.path().join("konbini.toml");
    std::fs::write(
        &config,
        "[devices]\nreceipt_barcode = \"code39\"\nbill_barcodes = true\n",
    )
    .unwrap();
    let receipts = dir.path().join("r");
    crate::common::replay_json(
        &shipped_log("edge-cases.jsonl"),
        &dir.path().join("j.db"),
        &[
            "--receipts",
            receipts.to_str().unwrap(),
            "--config",
            config.to_str().unwrap(),
        ],
    );
    let journal = konbini_journal::Journal::open_read_only(&dir.path().join("j.db")).unwrap();
    let sale = journal.sale(2).unwrap().unwrap();
    let number = konbini_devices::receipt::Receipt::for_sale(&sale).number;
    let bills = bills_of(&sale);
    assert!(!bills.is_empty(), "sale 2 pays a bill by its barcode");
    // The receipt's bytes: GS k 69 (CODE39) with the number, GS k 74 (GS1-128) per bill.
    let setting = ReceiptBarcodes {
        number: Some(BarcodeSystem::Code39),
        bills: true,
    };
    let job = encode_sale_receipt(&sale, konbini_devices::receipt::COLUMNS_80MM, setting);
    let mut code39 = vec![0x1d, b'k', 69, number.len() as u8];
    code39.extend_from_slice(number.as_bytes());
    assert!(contains(&job, &code39), "GS k 69 {number}");
    for bill in &bills {
        let mut gs1 = vec![0x1d, b'k', 74, 44];
        gs1.extend_from_slice(bill.as_bytes());
        assert!(contains(&job, &gs1), "GS k 74 {bill}");
    }
    // The replay printed exactly that job.
    let png = std::fs::read(receipts.join(format!("{number}.png"))).unwrap();
    let (sheet, faults) = konbini_devices::printer::render(&job, 576).unwrap();
    assert_eq!(faults.barcodes_dropped, 0);
    assert!(
        sheet.png_bytes().unwrap() == png,
        "the replay's picture is this job's"
    );
    // And a decoder the project did not write reads the number and the bills off it.
    let pgm = dir.path().join("receipt.pgm");
    std::fs::write(&pgm, png_to_pgm(&png, 40)).unwrap();
    let read = zxing_reads(&pgm);
    assert!(
        read.contains(&format!("Code39|{number}")),
        "{number} not in {read:?}"
    );
    for bill in &bills {
        assert!(
            read.iter()
                .any(|r| r.starts_with("Code128|") && r[8..].replace(['(', ')'], "") == **bill),
            "{bill} not in {read:?}"
        );
    }
    // Without the setting, the receipt number is CODE128 and no bill barcode prints.
    let plain = dir.path().join("plain");
    crate::common::replay_json(
        &shipped_log("edge-cases.jsonl"),
        &dir.path().join("j2.db"),
        &["--receipts", plain.to_str().unwrap()],
    );
    let pgm = dir.path().join("plain.pgm");
    let png = std::fs::read(plain.join(format!("{number}.png"))).unwrap();
    std::fs::write(&pgm, png_to_pgm(&png, 40)).unwrap();
    assert_eq!(zxing_reads(&pgm), [format!("Code128|{number}")]);
}

#[test]
fn an_unknown_receipt_barcode_name_is_one_error_naming_the_key() {
    let dir = tempdir();
    let config = dir.path().join("konbini.toml");
    std::fs::write(&config, "[devices]\nreceipt_barcode = \"qr\"\n").unwrap();
    let out = run(&[
        "replay",
        shipped_log("edge-cases.jsonl").to_str().unwrap(),
        "--journal",
        dir.path().join("j.db").to_str().unwrap(),
        "--config",
        config.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("devices.receipt_barcode") && err.contains("\"qr\""),
        "{err}"
    );
}
