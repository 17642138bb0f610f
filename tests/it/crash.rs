//! A killed replay (SIGKILL at chosen points, and at arbitrary instants), a full disk and a
//! read-only journal: re-running ends with the same summary, journal and receipts as a run
//! never interrupted, and nothing is ever half-written.

use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use crate::common::*;

/// A busier day than the shipped one: 600 sales with mistakes.
fn long_log(dir: &Path) -> PathBuf {
    synth_log(dir, 600, 99)
}

struct Reference {
    summary: Value,
    export: String,
    receipts: Vec<(String, Vec<u8>)>,
}

fn receipts_in(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.map(|e| {
                let e = e.unwrap();
                (
                    e.file_name().into_string().unwrap(),
                    std::fs::read(e.path()).unwrap(),
                )
            })
            .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

fn reference(log: &Path, dir: &Path) -> Reference {
    let journal = dir.join("ref.db");
    let receipts = dir.join("ref-receipts");
    let summary = portable(replay_json(
        log,
        &journal,
        &["--receipts", receipts.to_str().unwrap()],
    ));
    Reference {
        summary,
        export: export(&journal),
        receipts: receipts_in(&receipts),
    }
}

fn replay_cmd(log: &Path, journal: &Path, receipts: &Path) -> std::process::Command {
    let mut cmd = konbini();
    cmd.args([
        "replay",
        log.to_str().unwrap(),
        "--journal",
        journal.to_str().unwrap(),
        "--receipts",
        receipts.to_str().unwrap(),
        "--json",
    ]);
    cmd
}

/// Re-run to completion and compare everything with the uninterrupted run.
fn finish_and_compare(log: &Path, journal: &Path, receipts: &Path, want: &Reference, what: &str) {
    let summary = portable(replay_json(
        log,
        journal,
        &["--receipts", receipts.to_str().unwrap()],
    ));
    assert_eq!(summary, want.summary, "{what}: summary differs");
    assert!(
        export(journal) == want.export,
        "{what}: journal export differs"
    );
    assert!(verify(journal).is_ok(), "{what}: verify failed");
    let got = receipts_in(receipts);
    assert_eq!(got.len(), want.receipts.len(), "{what}: receipt count");
    assert!(got == want.receipts, "{what}: receipts differ");
}

#[test]
fn killed_at_chosen_points_resumes_identically() {
    let dir = tempdir();
    let log = long_log(dir.path());
    let want = reference(&log, dir.path());
    let points = [
        ("journal-before-commit", 1),
        ("journal-before-commit", 250),
        ("journal-after-commit", 1),
        ("journal-after-commit", 377),
        ("replay-after-print", 40),
        ("replay-line", 1),
        ("replay-line", 1203),
    ];
    for (i, (point, n)) in points.into_iter().enumerate() {
        let journal = dir.path().join(format!("j{i}.db"));
        let receipts = dir.path().join(format!("r{i}"));
        let status = replay_cmd(&log, &journal, &receipts)
            .env("KONBINI_CRASH_AT", format!("{point}:{n}"))
            .output()
            .unwrap()
            .status;
        assert_eq!(
            status.signal(),
            Some(libc::SIGKILL),
            "{point}:{n} must have killed the replay"
        );
        finish_and_compare(&log, &journal, &receipts, &want, &format!("{point}:{n}"));
    }
}

#[test]
fn killed_again_and_again_still_ends_identically() {
    let dir = tempdir();
    let log = long_log(dir.path());
    let want = reference(&log, dir.path());
    let journal = dir.path().join("j.db");
    let receipts = dir.path().join("r");
    for n in [30, 1, 100, 7, 200] {
        let status = replay_cmd(&log, &journal, &receipts)
            .env("KONBINI_CRASH_AT", format!("journal-after-commit:{n}"))
            .output()
            .unwrap()
            .status;
        assert_eq!(status.signal(), Some(libc::SIGKILL));
        assert!(
            verify(&journal).is_ok(),
            "the journal is whole after every kill"
        );
    }
    finish_and_compare(&log, &journal, &receipts, &want, "repeated kills");
}

/// Sales committed so far in a journal another process is writing (0 before it exists).
fn committed(journal: &Path) -> i64 {
    rusqlite::Connection::open_with_flags(journal, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .and_then(|c| c.query_row("SELECT count(*) FROM sales", [], |r| r.get(0)))
        .unwrap_or(0)
}

#[test]
fn killed_at_arbitrary_instants_resumes_identically() {
    let dir = tempdir();
    let log = synth_log(dir.path(), 3000, 5);
    let want = reference(&log, dir.path());
    for (i, after) in [1i64, 900, 2100].into_iter().enumerate() {
        let journal = dir.path().join(format!("k{i}.db"));
        let receipts = dir.path().join(format!("kr{i}"));
        let mut child = replay_cmd(&log, &journal, &receipts)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        // Kill it from outside once it has committed `after` sales: wherever it is then.
        while committed(&journal) < after && child.try_wait().unwrap().is_none() {
            std::thread::sleep(Duration::from_micros(300));
        }
        child.kill().unwrap();
        let status = child.wait().unwrap();
        assert_eq!(
            status.signal(),
            Some(libc::SIGKILL),
            "the replay finished before the kill at {after}"
        );
        let done = committed(&journal);
        assert!(done >= after && done < 3000, "killed after {done} sales");
        finish_and_compare(
            &log,
            &journal,
            &receipts,
            &want,
            &format!("kill after {after} sales"),
        );
    }
}

#[test]
fn verify_reads_a_consistent_snapshot_while_a_replay_writes() {
    let dir = tempdir();
    let log = synth_log(dir.path(), 3000, 2026);
    let journal = dir.path().join("j.db");
    let mut child = konbini()
        .args([
            "replay",
            log.to_str().unwrap(),
            "--journal",
            journal.to_str().unwrap(),
            "--json",
        ])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut checks = 0;
    while child.try_wait().unwrap().is_none() {
        if committed(&journal) > 0 {
            verify(&journal).expect("a journal being written verifies at every instant");
            checks += 1;
        }
    }
    assert!(child.wait().unwrap().success());
    assert!(checks > 0, "verify never ran while the replay wrote");
}

/// Run `konbini` with the largest file it may write limited to `bytes` (EFBIG past it),
/// the way a full disk stops writes: a real write failure under SQLite.
fn with_file_size_limit(cmd: &mut std::process::Command, bytes: u64) {
    // SAFETY: only async-signal-safe calls (signal, setrlimit) between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            let limit = libc::rlimit {
                rlim_cur: bytes,
                rlim_max: bytes,
            };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

#[test]
fn a_full_disk_stops_the_replay_cleanly_and_a_rerun_finishes_it() {
    let dir = tempdir();
    let log = shipped_log("store-day.jsonl");
    let want_journal = dir.path().join("ref.db");
    let want = portable(replay_json(&log, &want_journal, &[]));
    let journal = dir.path().join("full.db");
    let mut cmd = konbini();
    cmd.args([
        "replay",
        log.to_str().unwrap(),
        "--journal",
        journal.to_str().unwrap(),
        "--json",
    ]);
    with_file_size_limit(&mut cmd, 160 * 1024);
    let out = cmd.output().unwrap();
    assert!(
        !out.status.success(),
        "the replay must fail when writes fail"
    );
    let err = stderr(&out);
    assert!(
        err.contains("full.db") && err.contains("the disk is full"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "one clear error: {err}");
    assert!(stdout(&out).is_empty(), "no summary for a failed replay");
    // Every sale that made it is whole, and the rest are not there at all.
    let ok = verify(&journal).expect("intact after the failure");
    assert!(
        !ok.contains(" 0 sales") && !ok.contains(" 300 sales"),
        "{ok}"
    );
    // Space again: the same command finishes as if nothing had happened.
    assert_eq!(portable(replay_json(&log, &journal, &[])), want);
    assert!(export(&journal) == export(&want_journal));
}

#[test]
fn a_read_only_journal_is_one_clear_error() {
    let dir = tempdir();
    let journal = dir.path().join("ro.db");
    replay_json(&shipped_log("edge-cases.jsonl"), &journal, &[]);
    let before = export(&journal);
    // A copy in a directory nobody may write, the file itself read-only.
    let ro_dir = dir.path().join("ro");
    std::fs::create_dir(&ro_dir).unwrap();
    let ro = ro_dir.join("ro.db");
    std::fs::copy(&journal, &ro).unwrap();
    let mut perms = std::fs::metadata(&ro).unwrap().permissions();
    perms.set_readonly(true);
    std::fs::set_permissions(&ro, perms.clone()).unwrap();
    std::fs::set_permissions(&ro_dir, std::os::unix::fs::PermissionsExt::from_mode(0o555)).unwrap();
    let root = unsafe { libc::geteuid() } == 0;
    let mut cmd = konbini();
    cmd.args([
        "replay",
        shipped_log("store-day.jsonl").to_str().unwrap(),
        "--journal",
        ro.to_str().unwrap(),
    ]);
    if root {
        // Root ignores permission bits; drop to nobody for this one command.
        cmd.uid(65534).gid(65534);
        std::fs::set_permissions(
            dir.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .unwrap();
    }
    let out = cmd.output().unwrap();
    std::fs::set_permissions(&ro_dir, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("ro.db"), "{err}");
    assert!(
        err.contains("read-only") || err.contains("cannot be opened"),
        "{err}"
    );
    assert!(export(&ro) == before, "nothing was written");
}
