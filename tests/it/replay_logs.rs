//! `konbini replay` on the shipped logs, through the real binary: summaries, exports,
//! receipts, re-runs, and bad input that must stop it with one clear error.

use serde_json::{Value, json};

use crate::common::*;

/// The summary as a golden file holds it.
fn golden_summary(summary: Value) -> String {
    serde_json::to_string_pretty(&portable(summary)).unwrap() + "\n"
}

#[test]
fn edge_case_log_counts_every_rule() {
    let dir = tempdir();
    let journal = dir.path().join("edge.db");
    let s = replay_json(&shipped_log("edge-cases.jsonl"), &journal, &[]);
    // Hand-counted from tests/logs/make_edge_cases.py.
    assert_eq!(s["events"], 70);
    assert_eq!(
        s["sales"],
        json!({"completed": 3, "cancelled": 1, "abandoned": 1})
    );
    assert_eq!(s["slips_paid"], 23);
    assert_eq!(s["paid_yen"], 1500 + 300_120 + 20_190);
    assert_eq!(s["tendered_yen"], 2000 + 300_120 + 50_000);
    assert_eq!(s["change_yen"], 500 + 29_810);
    assert_eq!(s["stamp_slips"], 1);
    assert_eq!(
        s["rejected"],
        json!({
            "malformed": 11, "check_digit": 1, "expired": 2, "below_minimum": 1,
            "above_maximum": 1, "already_in_sale": 2, "already_paid": 1, "sale_full": 1,
            "offline": 1
        })
    );
    assert_eq!(
        s["ignored"],
        json!({"no_open_sale": 4, "insufficient_tender": 1, "bad_line": 9})
    );
    assert_eq!(s["journal"]["sales"], 3);
    golden("edge-cases.summary.json", &golden_summary(s));
    golden("edge-cases.export.jsonl", &export(&journal));
    assert!(verify(&journal).is_ok());
}

#[test]
fn store_day_matches_its_golden_summary_and_export() {
    let dir = tempdir();
    let journal = dir.path().join("day.db");
    let s = replay_json(&shipped_log("store-day.jsonl"), &journal, &[]);
    assert_eq!(s["sales"]["completed"], 300);
    golden("store-day.summary.json", &golden_summary(s));
    golden("store-day.export.jsonl", &export(&journal));
}

#[test]
fn the_shipped_store_day_is_what_synth_log_generates() {
    let out = run(&["synth-log"]);
    assert!(out.status.success());
    let shipped = std::fs::read(shipped_log("store-day.jsonl")).unwrap();
    assert!(
        out.stdout == shipped,
        "regenerate with: konbini synth-log -o tests/logs/store-day.jsonl"
    );
}

#[test]
fn json_mode_prints_only_the_summary_and_bad_lines_go_to_stderr() {
    let dir = tempdir();
    let journal = dir.path().join("j.db");
    let log = shipped_log("edge-cases.jsonl");
    let out = run(&[
        "replay",
        log.to_str().unwrap(),
        "--journal",
        journal.to_str().unwrap(),
        "--json",
    ]);
    assert!(out.status.success());
    let _: Value = serde_json::from_str(&stdout(&out)).expect("stdout is exactly one JSON value");
    let err = stderr(&out);
    assert!(
        err.contains("edge-cases.jsonl:35: bad line: not JSON"),
        "{err}"
    );
    assert!(
        err.contains("edge-cases.jsonl:36: bad line: not UTF-8"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 9, "{err}");
}

#[test]
fn without_json_a_human_summary() {
    let dir = tempdir();
    let journal = dir.path().join("j.db");
    let log = shipped_log("store-day.jsonl");
    let out = run(&[
        "replay",
        log.to_str().unwrap(),
        "--journal",
        journal.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    let text = stdout(&out);
    assert!(text.contains("sales: 300 completed"), "{text}");
    assert!(
        text.contains(&format!("journal {}: 300 sales", journal.display())),
        "{text}"
    );
}

#[test]
fn running_the_same_replay_again_changes_nothing() {
    let dir = tempdir();
    let journal = dir.path().join("j.db");
    let log = shipped_log("store-day.jsonl");
    let first = replay_json(&log, &journal, &[]);
    let export1 = export(&journal);
    let second = replay_json(&log, &journal, &[]);
    assert_eq!(first, second);
    assert_eq!(export1, export(&journal));
}

#[test]
fn a_second_log_into_the_same_journal_sees_earlier_payments() {
    let dir = tempdir();
    let journal = dir.path().join("j.db");
    replay_json(&shipped_log("edge-cases.jsonl"), &journal, &[]);
    // The same day again under another name is the same log (same SHA-256): nothing new.
    let copy = dir.path().join("copy.jsonl");
    std::fs::copy(shipped_log("edge-cases.jsonl"), &copy).unwrap();
    assert_eq!(replay_json(&copy, &journal, &[])["journal"]["sales"], 3);
    // A different log paying the same slips: already_paid.
    let text = std::fs::read(shipped_log("edge-cases.jsonl")).unwrap();
    let mut changed = text.clone();
    changed.extend_from_slice(b"\n");
    let other = dir.path().join("other.jsonl");
    std::fs::write(&other, changed).unwrap();
    let s = replay_json(&other, &journal, &[]);
    // Sale 1's slip, sale 2's two slips (each scanned twice) and again later, sale 3's 20.
    assert_eq!(s["rejected"]["already_paid"], 1 + 4 + 1 + 20, "{s}");
    // The 21st slip, refused sale_full the first time, now fits in a sale of its own.
    assert_eq!(s["sales"]["completed"], 1, "{s}");
    assert_eq!(s["journal"]["sales"], 4);
}

#[test]
fn receipts_are_written_per_sale_in_japanese() {
    let dir = tempdir();
    let journal = dir.path().join("j.db");
    let receipts = dir.path().join("receipts");
    replay_json(
        &shipped_log("edge-cases.jsonl"),
        &journal,
        &["--receipts", receipts.to_str().unwrap()],
    );
    let names = crate::common::file_names(&receipts);
    assert_eq!(
        names,
        [
            "T09-000001.png",
            "T09-000001.txt",
            "T09-000002.png",
            "T09-000002.txt",
            "T09-000003.png",
            "T09-000003.txt"
        ]
    );
    let second = std::fs::read_to_string(receipts.join("T09-000002.txt")).unwrap();
    for expected in [
        "ファミリーマート 札幌駅前店",
        "店舗 0815  レジ T09",
        "2026年11月28日(土) 09:00",
        "レシート No. T09-000002",
        "取扱明細兼領収書",
        "収納企業 912345",
        "収納代行",
        "¥300,000",
        "収入印紙",
        "¥300,120",
        "お預り",
        "お釣り",
    ] {
        assert!(
            second.contains(expected),
            "missing {expected:?} in\n{second}"
        );
    }
    // No stamp notice on a receipt whose slips need none.
    let first = std::fs::read_to_string(receipts.join("T09-000001.txt")).unwrap();
    assert!(!first.contains("収入印紙"), "{first}");
    assert!(first.contains("支払期限 2026/11/27"), "{first}");
    golden("edge-cases.receipt-2.txt", &second);
}

#[test]
fn receipts_queued_without_a_printer_print_on_a_later_run() {
    let dir = tempdir();
    let journal = dir.path().join("j.db");
    let receipts = dir.path().join("r");
    replay_json(&shipped_log("edge-cases.jsonl"), &journal, &[]);
    assert!(!receipts.exists());
    replay_json(
        &shipped_log("edge-cases.jsonl"),
        &journal,
        &["--receipts", receipts.to_str().unwrap()],
    );
    // A picture and a text per sale.
    assert_eq!(std::fs::read_dir(&receipts).unwrap().count(), 6);
}

#[test]
fn a_missing_log_is_one_clear_error() {
    let dir = tempdir();
    let journal = dir.path().join("j.db");
    let out = run(&[
        "replay",
        "/no/such/log.jsonl",
        "--journal",
        journal.to_str().unwrap(),
        "--json",
    ]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("scan log /no/such/log.jsonl"),
        "{}",
        stderr(&out)
    );
    // One sentence, its cause said once.
    assert_eq!(
        stderr(&out).matches("(os error 2)").count(),
        1,
        "{}",
        stderr(&out)
    );
    assert_eq!(stderr(&out).lines().count(), 1, "{}", stderr(&out));
    assert!(stdout(&out).is_empty());
    assert!(
        !journal.exists(),
        "nothing is created for a log that cannot be read"
    );
}

#[test]
fn a_journal_in_a_missing_directory_is_one_clear_error() {
    let out = run(&[
        "replay",
        shipped_log("edge-cases.jsonl").to_str().unwrap(),
        "--journal",
        "/no/such/dir/j.db",
    ]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("journal /no/such/dir/j.db"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}

#[test]
fn a_newer_log_format_is_refused() {
    let dir = tempdir();
    let log = dir.path().join("v3.jsonl");
    std::fs::write(
        &log,
        "{\"konbini_scan_log\": 3}\n{\"at\":\"2026-11-28T10:00:00+09:00\",\"cancel\":true}\n",
    )
    .unwrap();
    let out = run(&[
        "replay",
        log.to_str().unwrap(),
        "--journal",
        dir.path().join("j.db").to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains(
            "v3.jsonl:1: format version 3 is not supported (this konbini reads versions 1 and 2)"
        ),
        "{}",
        stderr(&out)
    );
}

#[test]
fn an_empty_log_is_an_empty_day() {
    let dir = tempdir();
    let log = dir.path().join("empty.jsonl");
    std::fs::write(&log, "").unwrap();
    let s = replay_json(&log, &dir.path().join("j.db"), &[]);
    assert_eq!(s["events"], 0);
    assert_eq!(s["journal"]["sales"], 0);
    assert_eq!(s["journal"]["head"], Value::Null);
}

#[test]
fn memory_stays_flat_with_a_huge_line() {
    // A 64 MB line without a newline is one bad line, never 64 MB held in memory: the
    // replay runs with its address space capped at 40 MB, so holding the line would abort.
    use std::os::unix::process::CommandExt;
    let dir = tempdir();
    let log = dir.path().join("huge.jsonl");
    {
        use std::io::Write;
        let mut f = std::io::BufWriter::new(std::fs::File::create(&log).unwrap());
        let chunk = vec![b'x'; 1 << 20];
        for _ in 0..64 {
            f.write_all(&chunk).unwrap();
        }
        f.write_all(b"\n{\"at\":\"2026-11-28T10:00:00+09:00\",\"cancel\":true}\n")
            .unwrap();
    }
    let mut cmd = konbini();
    cmd.args([
        "replay",
        log.to_str().unwrap(),
        "--journal",
        dir.path().join("j.db").to_str().unwrap(),
        "--json",
    ]);
    // SAFETY: only setrlimit, async-signal-safe, between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            let limit = libc::rlimit {
                rlim_cur: 40 << 20,
                rlim_max: 40 << 20,
            };
            if libc::setrlimit(libc::RLIMIT_AS, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let s: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(s["ignored"]["bad_line"], 1);
    assert_eq!(s["ignored"]["no_open_sale"], 1);
}

#[test]
fn a_synthetic_day_completes_exactly_the_sales_it_promises() {
    // Every mistake the generator makes is refused or made good, so the benchmark and
    // the demos replay exactly the sales they ask for.
    let dir = tempdir();
    let log = synth_log(dir.path(), 1500, 11);
    let s = replay_json(&log, &dir.path().join("j.db"), &[]);
    assert_eq!(s["sales"]["completed"], 1500, "{s}");
    assert_eq!(s["sales"]["abandoned"], 0);
    assert_eq!(s["rejected"].get("sale_full"), None, "{s}");
}

/// Run the command in a pseudo-terminal (util-linux `script`) and return what the terminal
/// showed, stdout and stderr together.
fn on_a_terminal(args: &[&str]) -> String {
    let dir = tempdir();
    let typescript = dir.path().join("typescript");
    let bin = env!("CARGO_BIN_EXE_konbini");
    let command = std::iter::once(bin)
        .chain(args.iter().copied())
        .collect::<Vec<_>>()
        .join(" ");
    let out = std::process::Command::new("script")
        .args(["-q", "-e", "-c", &command, typescript.to_str().unwrap()])
        .stdin(std::process::Stdio::null())
        .output()
        .expect("script(1) from util-linux runs commands in a pseudo-terminal");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&std::fs::read(typescript).unwrap()).into_owned()
}

#[test]
fn a_progress_bar_on_a_terminal_unless_json() {
    let dir = tempdir();
    let log = shipped_log("store-day.jsonl");
    let shown = on_a_terminal(&[
        "replay",
        log.to_str().unwrap(),
        "--journal",
        dir.path().join("a.db").to_str().unwrap(),
    ]);
    assert!(
        shown.contains("replay ") && shown.contains("KiB"),
        "no progress bar in:\n{shown}"
    );
    assert!(shown.contains("sales: 300 completed"), "{shown}");
    let shown = on_a_terminal(&[
        "replay",
        log.to_str().unwrap(),
        "--journal",
        dir.path().join("b.db").to_str().unwrap(),
        "--json",
    ]);
    assert!(
        !shown.contains("KiB"),
        "a progress bar with --json:\n{shown}"
    );
    assert!(shown.contains("\"events\": 1129"), "{shown}");
}

#[test]
fn a_bad_header_is_a_bad_line_and_the_defaults_stand() {
    let dir = tempdir();
    let log = dir.path().join("h.jsonl");
    std::fs::write(
        &log,
        concat!(
            r#"{"konbini_scan_log": 1, "terminal": "../../etc", "store": {"code": "1"}}"#, "\n",
            r#"{"at":"2026-11-28T10:00:00+09:00","scan":"]C191912345012345678901234567890101033101230003"}"#, "\n",
        ),
    )
    .unwrap();
    let receipts = dir.path().join("r");
    let out = run(&[
        "replay",
        log.to_str().unwrap(),
        "--journal",
        dir.path().join("j.db").to_str().unwrap(),
        "--json",
        "--receipts",
        receipts.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("h.jsonl:1: bad line: bad header: `terminal`"),
        "{}",
        stderr(&out)
    );
    let s: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(s["ignored"]["bad_line"], 1);
    assert_eq!(s["events"], 2);
    // That published test slip expired in 2001: nothing to print, nothing outside the dir.
    assert_eq!(s["rejected"]["expired"], 1);
}

#[test]
fn a_pipe_is_refused_with_a_reason() {
    let out = konbini()
        .args(["replay", "/dev/stdin", "--journal", "/tmp/konbini-never.db"])
        .stdin(std::process::Stdio::piped())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("scan log /dev/stdin: not a regular file"),
        "{}",
        stderr(&out)
    );
    assert!(!std::path::Path::new("/tmp/konbini-never.db").exists());
}

#[test]
fn a_tender_beyond_any_till_is_a_bad_line() {
    let dir = tempdir();
    let log = dir.path().join("t.jsonl");
    std::fs::write(
        &log,
        concat!(
            r#"{"at":"2026-11-28T10:00:00+09:00","scan":"]C191912345012345678901234567890101033101230003"}"#, "\n",
            r#"{"at":"2026-11-28T10:00:01+09:00","tender":9223372036854775807}"#, "\n",
            r#"{"at":"2026-11-28T10:00:02+09:00","tender":9223372036854775807}"#, "\n",
        ),
    )
    .unwrap();
    let s = replay_json(&log, &dir.path().join("j.db"), &[]);
    assert_eq!(s["ignored"]["bad_line"], 2, "{s}");
    assert_eq!(
        s["ignored"].as_object().unwrap().len(),
        3,
        "only the spec's reasons: {s}"
    );
}
