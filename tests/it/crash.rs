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

/// A replay committing `group` sales a transaction (the re-runs that finish it, and the
/// uninterrupted reference, use the default: the outcome may not depend on it).
fn replay_cmd(log: &Path, journal: &Path, receipts: &Path, group: usize) -> std::process::Command {
    let mut cmd = konbini();
    cmd.args([
        "replay",
        log.to_str().unwrap(),
        "--journal",
        journal.to_str().unwrap(),
        "--receipts",
        receipts.to_str().unwrap(),
        "--json",
        "--group-sales",
        &group.to_string(),
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
    // (sales a transaction, point, the how-manieth time it is reached). With one sale a
    // transaction the commit points are per sale; in groups, per group; the default group
    // holds the whole log (600 sales), so its one commit is killed on either side.
    let points = [
        (1, "journal-before-commit", 1),
        (1, "journal-before-commit", 250),
        (1, "journal-after-commit", 1),
        (1, "journal-after-commit", 377),
        (1, "replay-after-print", 40),
        (7, "journal-before-commit", 1),
        (7, "journal-before-commit", 40),
        (7, "journal-after-commit", 1),
        (7, "journal-after-commit", 60),
        (7, "replay-after-print", 40),
        (7, "replay-line", 1),
        (7, "replay-line", 1203),
        (1000, "journal-before-commit", 1),
        (1000, "journal-after-commit", 1),
        (1000, "replay-after-print", 40),
    ];
    for (i, (group, point, n)) in points.into_iter().enumerate() {
        let journal = dir.path().join(format!("j{i}.db"));
        let receipts = dir.path().join(format!("r{i}"));
        let status = replay_cmd(&log, &journal, &receipts, group)
            .env("KONBINI_CRASH_AT", format!("{point}:{n}"))
            .output()
            .unwrap()
            .status;
        assert_eq!(
            status.signal(),
            Some(libc::SIGKILL),
            "{point}:{n} (groups of {group}) must have killed the replay"
        );
        finish_and_compare(
            &log,
            &journal,
            &receipts,
            &want,
            &format!("{point}:{n}, groups of {group}"),
        );
    }
}

/// Group commit keeps "journal first": no receipt is printed before the transaction that
/// holds its sale is committed, and a kill inside a group loses the group, never a part of it.
#[test]
fn in_a_group_nothing_is_printed_before_its_commit() {
    let dir = tempdir();
    let log = long_log(dir.path());
    let sales_printed = |receipts: &Path| {
        let mut stems: Vec<String> = receipts_in(receipts)
            .into_iter()
            .map(|(name, _)| name.split('.').next().unwrap().to_owned())
            .collect();
        stems.dedup();
        stems.len()
    };
    // Killed before the first commit of groups of 1,000 (the whole log): nothing.
    let (journal, receipts) = (dir.path().join("g0.db"), dir.path().join("g0"));
    let status = replay_cmd(&log, &journal, &receipts, 1000)
        .env("KONBINI_CRASH_AT", "journal-before-commit:1")
        .output()
        .unwrap()
        .status;
    assert_eq!(status.signal(), Some(libc::SIGKILL));
    assert_eq!(committed(&journal), 0);
    assert_eq!(
        sales_printed(&receipts),
        0,
        "a receipt before its sale's commit"
    );
    // Killed just after the second commit of groups of 100: two whole groups, and the
    // receipts of the first only (the second's are printed after the point of the kill).
    let (journal, receipts) = (dir.path().join("g1.db"), dir.path().join("g1"));
    let status = replay_cmd(&log, &journal, &receipts, 100)
        .env("KONBINI_CRASH_AT", "journal-after-commit:2")
        .output()
        .unwrap()
        .status;
    assert_eq!(status.signal(), Some(libc::SIGKILL));
    assert_eq!(committed(&journal), 200);
    assert_eq!(sales_printed(&receipts), 100);
    let want = reference(&log, dir.path());
    finish_and_compare(&log, &journal, &receipts, &want, "after two groups");
}

#[test]
fn killed_again_and_again_still_ends_identically() {
    let dir = tempdir();
    let log = long_log(dir.path());
    let want = reference(&log, dir.path());
    let journal = dir.path().join("j.db");
    let receipts = dir.path().join("r");
    // Groups of 3 sales: 200 commits for the whole log, more than the kills below take.
    for n in [30, 1, 50, 7, 20] {
        let status = replay_cmd(&log, &journal, &receipts, 3)
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
    // Groups of 50 sales, and the default groups of 1,000 (killed inside the second and
    // the third group).
    for (i, (group, after)) in [
        (50, 1i64),
        (50, 900),
        (50, 2100),
        (1000, 1000),
        (1000, 2000),
    ]
    .into_iter()
    .enumerate()
    {
        let journal = dir.path().join(format!("k{i}.db"));
        let receipts = dir.path().join(format!("kr{i}"));
        // A try in which this thread was not scheduled until the replay had finished is
        // no kill at all: it is made again, from nothing, up to five times.
        let mut tries = 0;
        let status = loop {
            let mut child = replay_cmd(&log, &journal, &receipts, group)
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
            tries += 1;
            if status.signal() == Some(libc::SIGKILL) || tries == 5 {
                break status;
            }
            for ext in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{ext}", journal.display()));
            }
            let _ = std::fs::remove_dir_all(&receipts);
        };
        assert_eq!(
            status.signal(),
            Some(libc::SIGKILL),
            "the replay finished before the kill at {after} (groups of {group}), {tries} times"
        );
        let done = committed(&journal);
        assert!(done >= after && done < 3000, "killed after {done} sales");
        finish_and_compare(
            &log,
            &journal,
            &receipts,
            &want,
            &format!("kill after {after} sales, groups of {group}"),
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
        // Small groups, so that some are committed before the disk is full.
        "--group-sales",
        "10",
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
    // The log's own bad lines are reported as they are read; the failure is one line.
    let failures = err.lines().filter(|l| !l.contains(": bad line: ")).count();
    assert_eq!(failures, 1, "one clear error: {err}");
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
