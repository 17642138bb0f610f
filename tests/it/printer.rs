//! `konbini devices print-test` against a serial printer played by the test on a real
//! pseudo-terminal: the exact ESC/POS bytes it sends, and the status it reports from the
//! printer's DLE EOT replies.

use std::io::{Read, Write};
use std::process::Output;

use konbini_pos::printer::shift_jis;
use konbini_pos::scanner::sim::VirtualPort;

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
    use konbini_firmware::decoder::{Cmd, Decoder, Event};
    use konbini_pos::printer::encode_receipt;
    use konbini_pos::receipt::COLUMNS_80MM;

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
            konbini_pos::receipt::Line::Title(t) | konbini_pos::receipt::Line::Center(t) => {
                t.clone()
            }
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
