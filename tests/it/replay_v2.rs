//! Scan log format version 2 through the real binary: voids and day closes replay into the
//! journal's non-sale records (never the outbox), a replay killed anywhere ends with the
//! same journal, the Z report is printed under its number, and a version 1 log reads the
//! new keys as it always did (unknown events).

use serde_json::{Value, json};

use crate::common::*;
use konbini_domain::{BillBarcode, BillFields, Deadline, Yen};

fn slip(free: &str, amount: u64) -> String {
    BillBarcode::build(&BillFields {
        company_code: "958001",
        free_area: free,
        reissue: 0,
        deadline: Deadline::None,
        stamp: amount >= 50_000,
        amount: Yen::new(amount),
    })
    .unwrap()
    .to_string()
}

/// A day with a void, a cancel, a close, a refused second close and a sale of the next
/// business day, as the register records it (`version`: the header's).
fn day_log(dir: &std::path::Path, version: u64) -> std::path::PathBuf {
    let mut header = json!({"konbini_scan_log": version, "terminal": "T05",
        "store": {"code": "0042", "chain": "lawson", "name": "ローソン 札幌北口店"}});
    if version >= 2 {
        header["drawer_float_yen"] = json!(30_000);
    }
    let t = |hms: &str| format!("2026-12-01T{hms}+09:00");
    let lines = [
        header,
        json!({"at": t("09:00:00"), "scan": slip("5001", 1_000)}),
        json!({"at": t("09:00:05"), "scan": slip("5002", 2_000)}),
        json!({"at": t("09:00:06"), "scan": slip("5003", 60_000)}),
        json!({"at": t("09:00:09"), "void": 2}),
        json!({"at": t("09:00:10"), "void": 9}),
        json!({"at": t("09:00:12"), "tender": 61_000}),
        json!({"at": t("09:00:13"), "complete": true}),
        json!({"at": t("10:00:00"), "scan": slip("5004", 500)}),
        json!({"at": t("10:00:01"), "tender": 1_000}),
        json!({"at": t("10:00:02"), "cancel": true}),
        json!({"at": t("22:00:00"), "close": {"counted_yen": 91_000}}),
        json!({"at": t("22:05:00"), "close": {"counted_yen": 0}}),
        json!({"at": t("23:00:00"), "scan": slip("5005", 700)}),
        json!({"at": t("23:00:05"), "tender": 700}),
        json!({"at": t("23:00:06"), "complete": true}),
    ];
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    let log = dir.join(format!("day-v{version}.jsonl"));
    std::fs::write(&log, text).unwrap();
    log
}

fn records(export: &str) -> Vec<Value> {
    export
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .collect()
}

#[test]
fn voids_and_a_close_replay_into_records_and_the_z_report() {
    let dir = tempdir();
    let log = day_log(dir.path(), 2);
    let journal = dir.path().join("j.db");
    let receipts = dir.path().join("receipts");
    let s = replay_json(&log, &journal, &["--receipts", receipts.to_str().unwrap()]);
    assert_eq!(
        s["sales"],
        json!({"completed": 2, "cancelled": 1, "abandoned": 0})
    );
    assert_eq!(s["voided_slips"], 1, "{s}");
    assert_eq!(s["day_closes"], 1, "{s}");
    assert_eq!(s["ignored"]["no_such_slip"], 1, "{s}");
    assert_eq!(s["ignored"]["day_already_closed"], 1, "{s}");
    assert_eq!(s["journal"]["sales"], 2, "the sales' seq has no gaps: {s}");
    let all = records(&export_with_records(&journal));
    let kinds: Vec<&str> = all
        .iter()
        .map(|r| r["record"].as_str().unwrap_or("sale"))
        .collect();
    assert_eq!(kinds, ["sale", "void", "cancel", "close", "sale"]);
    assert_eq!(all[1]["slip"]["amount_yen"], 2_000);
    assert_eq!(all[1]["position"], 2);
    let close = &all[3];
    assert_eq!(close["business_date"], "2026-12-01");
    assert_eq!(close["z"], 1);
    assert_eq!(close["float_yen"], 30_000);
    assert_eq!(close["expected_yen"], 30_000 + 61_000);
    assert_eq!(close["difference_yen"], 0);
    assert_eq!(close["cancelled_sales"], 1);
    assert_eq!(close["voided_slips"], 1);
    assert_eq!(close["voided_yen"], 2_000);
    assert!(verify(&journal).unwrap().contains("3 non-sale records"));
    // The Z report is printed under its number; the refused close printed nothing.
    let z = std::fs::read_to_string(receipts.join("Z-T05-0001.txt")).unwrap();
    assert!(z.contains("精算レポート（Z） No.0001"), "{z}");
    assert!(z.contains("釣銭準備金"), "{z}");
    assert!(!receipts.join("Z-T05-0002.txt").exists());
    // Only sales are ever sent: two slips in the outbox, none for the voided one.
    let sales = records(&export(&journal));
    assert_eq!(sales.len(), 2);
    // Run again: nothing changes.
    let again = replay_json(&log, &journal, &[]);
    assert_eq!(portable(again), portable(s));
    assert_eq!(records(&export_with_records(&journal)), all);
}

#[test]
fn a_version_2_replay_killed_anywhere_ends_with_the_same_journal() {
    let dir = tempdir();
    let log = day_log(dir.path(), 2);
    let clean = dir.path().join("clean.db");
    let clean_receipts = dir.path().join("clean-receipts");
    let receipts_arg = |d: &std::path::Path| d.to_str().unwrap().to_owned();
    let want = replay_json(
        &log,
        &clean,
        &[
            "--group-sales",
            "1",
            "--receipts",
            &receipts_arg(&clean_receipts),
        ],
    );
    let want_export = export_with_records(&clean);
    let want_files = crate::common::file_names(&clean_receipts);
    assert!(
        want_files.iter().any(|f| f.starts_with("Z-")),
        "{want_files:?}"
    );
    // Every commit point of the run: after the sale with its void, the cancel record,
    // the close (killed before its Z report is printed), the next sale.
    for n in 1..=4 {
        let journal = dir.path().join(format!("killed-{n}.db"));
        let receipts = dir.path().join(format!("killed-{n}-receipts"));
        let out = konbini()
            .args([
                "replay",
                log.to_str().unwrap(),
                "--journal",
                journal.to_str().unwrap(),
                "--json",
                "--group-sales",
                "1",
                "--receipts",
                &receipts_arg(&receipts),
            ])
            .env("KONBINI_CRASH_AT", format!("journal-after-commit:{n}"))
            .output()
            .unwrap();
        assert!(!out.status.success(), "crash point {n} was reached");
        let got = replay_json(
            &log,
            &journal,
            &["--group-sales", "1", "--receipts", &receipts_arg(&receipts)],
        );
        assert_eq!(
            portable(got),
            portable(want.clone()),
            "killed after commit {n}"
        );
        assert_eq!(
            export_with_records(&journal),
            want_export,
            "killed after commit {n}"
        );
        // The same receipts, the Z report among them, printed once.
        assert_eq!(
            crate::common::file_names(&receipts),
            want_files,
            "killed after commit {n}"
        );
        verify(&journal).unwrap();
    }
    // Grouped (the default), the Z report is printed after its group's commit, once.
    let grouped = dir.path().join("grouped.db");
    let grouped_receipts = dir.path().join("grouped-receipts");
    replay_json(
        &log,
        &grouped,
        &["--receipts", &receipts_arg(&grouped_receipts)],
    );
    assert_eq!(crate::common::file_names(&grouped_receipts), want_files);
}

#[test]
fn a_version_1_log_reads_void_and_close_as_unknown_events_as_it_always_did() {
    let dir = tempdir();
    let log = day_log(dir.path(), 1);
    let journal = dir.path().join("j.db");
    let out = run(&[
        "replay",
        log.to_str().unwrap(),
        "--journal",
        journal.to_str().unwrap(),
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains(":5: bad line: unknown event `void`"), "{err}");
    assert!(
        err.contains(":12: bad line: unknown event `close`"),
        "{err}"
    );
    let s: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(s["ignored"]["bad_line"], 4, "{s}");
    assert!(
        s.get("voided_slips").is_none() && s.get("day_closes").is_none(),
        "{s}"
    );
    // Without the void the first sale's three slips come to ¥63,000: ¥61,000 is not
    // enough, the sale stays open and is cancelled with the next slip, as a version 1
    // replay always had it. Only the late sale is made.
    assert_eq!(s["ignored"]["insufficient_tender"], 1, "{s}");
    assert_eq!(
        s["sales"],
        json!({"completed": 1, "cancelled": 1, "abandoned": 0})
    );
    let sales = records(&export(&journal));
    assert_eq!(sales.len(), 1);
    assert_eq!(sales[0]["total_yen"], 700);
}

#[test]
fn receipts_follow_the_receipt_language_and_the_stamp_duty_setting() {
    let dir = tempdir();
    let log = day_log(dir.path(), 2);
    let config = dir.path().join("konbini.toml");
    std::fs::write(
        &config,
        "receipt_language = \"en\"\n[store]\nstamp_duty = \"declaration\"\ntax_office = \"札幌北税務署\"\n",
    )
    .unwrap();
    let receipts = dir.path().join("receipts");
    replay_json(
        &log,
        &dir.path().join("j.db"),
        &[
            "--receipts",
            receipts.to_str().unwrap(),
            "--config",
            config.to_str().unwrap(),
        ],
    );
    let first = std::fs::read_to_string(receipts.join("T05-000001.txt")).unwrap();
    for words in [
        "Receipt No. T05-000001",
        "Statement and receipt",
        "TOTAL",
        "Stamp duty paid by declaration, approved by 札幌北税務署",
    ] {
        assert!(first.contains(words), "{words:?} not in\n{first}");
    }
    assert!(!first.contains("領収"), "one language: {first}");
    let z = std::fs::read_to_string(receipts.join("Z-T05-0001.txt")).unwrap();
    assert!(z.contains("Day close (Z) No.0001"), "{z}");
    assert!(z.contains("Drawer float"), "{z}");
}

#[test]
fn voiding_the_last_slip_leaves_the_sale_open_for_the_script_s_next_events() {
    let dir = tempdir();
    let t = |hms: &str| format!("2026-12-01T{hms}+09:00");
    let lines = [
        json!({"konbini_scan_log": 2, "terminal": "T05"}),
        // Emptied, then a new slip: one sale with its void.
        json!({"at": t("09:00:00"), "scan": slip("6001", 1_000)}),
        json!({"at": t("09:00:01"), "void": 1}),
        json!({"at": t("09:00:02"), "tender": 2_000}),
        json!({"at": t("09:00:03"), "complete": true}),
        json!({"at": t("09:00:04"), "scan": slip("6002", 2_000)}),
        json!({"at": t("09:00:05"), "complete": true}),
        // Emptied, then cancelled: the cancel ends it.
        json!({"at": t("10:00:00"), "scan": slip("6003", 500)}),
        json!({"at": t("10:00:01"), "void": 1}),
        json!({"at": t("10:00:02"), "cancel": true}),
        json!({"at": t("10:00:03"), "cancel": true}),
    ];
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    let log = dir.path().join("emptied.jsonl");
    std::fs::write(&log, text).unwrap();
    let journal = dir.path().join("j.db");
    let s = replay_json(&log, &journal, &[]);
    assert_eq!(
        s["sales"],
        json!({"completed": 1, "cancelled": 1, "abandoned": 0}),
        "{s}"
    );
    assert_eq!(s["ignored"]["empty_sale"], 1, "{s}");
    assert_eq!(
        s["ignored"]["no_open_sale"], 1,
        "only the second cancel: {s}"
    );
    assert_eq!(s["voided_slips"], 2, "{s}");
    assert_eq!(s["tendered_yen"], 2_000, "{s}");
    let kinds: Vec<String> = records(&export_with_records(&journal))
        .iter()
        .map(|r| r["record"].as_str().unwrap_or("sale").to_owned())
        .collect();
    assert_eq!(kinds, ["sale", "void", "void", "cancel"]);
    verify(&journal).unwrap();
}

/// Two journals of one terminal close their first day into one receipts folder: each
/// writes `Z-T05-0001` (and receipt `T05-000001`); the second never overwrites the first,
/// prints under a name with its journal's id and says so.
#[test]
fn two_journals_never_overwrite_each_other_s_z_report_or_receipts() {
    let dir = tempdir();
    let receipts = dir.path().join("receipts");
    let t = |hms: &str| format!("2026-12-01T{hms}+09:00");
    let write_log = |name: &str, amount: u64, counted: u64| {
        let lines = [
            json!({"konbini_scan_log": 2, "terminal": "T05"}),
            json!({"at": t("09:00:00"), "scan": slip("7001", amount)}),
            json!({"at": t("09:00:01"), "tender": amount}),
            json!({"at": t("09:00:02"), "complete": true}),
            json!({"at": t("22:00:00"), "close": {"counted_yen": counted}}),
        ];
        let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
        let log = dir.path().join(name);
        std::fs::write(&log, text).unwrap();
        log
    };
    let run_replay = |log: &std::path::Path, journal: &std::path::Path| {
        let out = run(&[
            "replay",
            log.to_str().unwrap(),
            "--journal",
            journal.to_str().unwrap(),
            "--json",
            "--receipts",
            receipts.to_str().unwrap(),
        ]);
        assert!(out.status.success(), "{}", stderr(&out));
        stderr(&out)
    };
    let (a, b) = (dir.path().join("a.db"), dir.path().join("b.db"));
    let first = run_replay(&write_log("a.jsonl", 1_000, 1_000), &a);
    assert!(!first.contains("instead"), "{first}");
    let z_a = std::fs::read_to_string(receipts.join("Z-T05-0001.txt")).unwrap();
    let r_a = std::fs::read_to_string(receipts.join("T05-000001.txt")).unwrap();
    let second = run_replay(&write_log("b.jsonl", 2_000, 1_500), &b);
    // The first journal's files are as they were.
    assert_eq!(
        std::fs::read_to_string(receipts.join("Z-T05-0001.txt")).unwrap(),
        z_a
    );
    assert_eq!(
        std::fs::read_to_string(receipts.join("T05-000001.txt")).unwrap(),
        r_a
    );
    // The second's went under its journal's id, and it said so.
    let id = konbini_journal::Journal::open_read_only(&b)
        .unwrap()
        .journal_id()
        .to_owned();
    let tag = &id[..8];
    let z_b = std::fs::read_to_string(receipts.join(format!("Z-T05-0001-{tag}.txt"))).unwrap();
    assert!(z_b.contains("1,500"), "{z_b}");
    assert!(receipts.join(format!("Z-T05-0001-{tag}.png")).exists());
    assert!(receipts.join(format!("T05-000001-{tag}.txt")).exists());
    assert!(
        second.contains("Z-T05-0001.txt") && second.contains(&format!("Z-T05-0001-{tag}.txt")),
        "{second}"
    );
    // Two receipts and two Z reports, each a .txt and a .png; no temporary files left.
    let names = file_names(&receipts);
    assert_eq!(names.len(), 8, "{names:?}");
}

/// `konbini print-queue` prints queued receipts as the register would: the store's
/// `receipt_language` and stamp duty by declaration with its tax office, never "affixed".
#[test]
fn print_queue_follows_the_store_s_receipt_settings() {
    let dir = tempdir();
    let log = day_log(dir.path(), 2);
    let journal = dir.path().join("j.db");
    // No printer: the receipts stay queued.
    replay_json(&log, &journal, &[]);
    let config = dir.path().join("store.toml");
    std::fs::write(
        &config,
        "receipt_language = \"en\"\n[store]\nstamp_duty = \"declaration\"\ntax_office = \"札幌北税務署\"\n",
    )
    .unwrap();
    let out_dir = dir.path().join("printed");
    let mut sim = crate::printer::PrinterSim::start(&out_dir, &[]);
    let out = run(&[
        "print-queue",
        "--journal",
        journal.to_str().unwrap(),
        "--port",
        &sim.device,
        "--config",
        config.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(sim.next_line().starts_with("job-0001: "));
    // The paper's text, its lines joined (the tax office's name wraps at 48 columns).
    let first = std::fs::read_to_string(out_dir.join("job-0001.txt"))
        .unwrap()
        .replace('\n', "");
    for words in [
        "Receipt No. T05-000001",
        "Stamp duty paid by declaration, approved by 札幌北税務署",
    ] {
        assert!(first.contains(words), "{words:?} not in\n{first}");
    }
    assert!(!first.to_lowercase().contains("affix"), "{first}");
    assert!(!first.contains("領収"), "one language: {first}");
    // A config the register would refuse is refused here too, naming the key.
    std::fs::write(&config, "[store]\nstamp_duty = \"declaration\"\n").unwrap();
    let out = run(&[
        "print-queue",
        "--journal",
        journal.to_str().unwrap(),
        "--port",
        &sim.device,
        "--config",
        config.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("tax_office"), "{}", stderr(&out));
    sim.stop();
}
