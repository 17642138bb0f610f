//! Helpers shared by the integration tests: running the real `konbini` binary, temporary
//! directories, and golden files (`KONBINI_BLESS=1` rewrites them).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use chrono::{DateTime, FixedOffset};

/// Wait until `check` holds, looking every 50 ms; fail (rather than hang) after two
/// minutes, which only a hang reaches.
pub fn until(what: &str, mut check: impl FnMut() -> bool) {
    let start = std::time::Instant::now();
    while !check() {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(120),
            "never: {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

pub fn konbini() -> Command {
    Command::new(env!("CARGO_BIN_EXE_konbini"))
}

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn shipped_log(name: &str) -> PathBuf {
    repo().join("tests/logs").join(name)
}

pub fn tempdir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("konbini-it-")
        .tempdir()
        .expect("temp dir")
}

/// Run the binary; return its output whatever the exit status.
pub fn run(args: &[&str]) -> Output {
    konbini().args(args).output().expect("run konbini")
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).expect("stdout is UTF-8")
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `konbini replay LOG --journal J --json [extra]`, which must succeed; its summary.
pub fn replay_json(log: &Path, journal: &Path, extra: &[&str]) -> serde_json::Value {
    let mut args = vec![
        "replay",
        log.to_str().unwrap(),
        "--journal",
        journal.to_str().unwrap(),
        "--json",
    ];
    args.extend_from_slice(extra);
    let out = run(&args);
    assert!(out.status.success(), "replay failed: {}", stderr(&out));
    serde_json::from_str(&stdout(&out))
        .unwrap_or_else(|e| panic!("stdout is not one JSON object ({e}): {}", stdout(&out)))
}

/// `konbini journal export` of a journal, which must succeed.
pub fn export(journal: &Path) -> String {
    let out = run(&["journal", "export", "--journal", journal.to_str().unwrap()]);
    assert!(out.status.success(), "export failed: {}", stderr(&out));
    stdout(&out)
}

/// `konbini journal export --with-records`: the sales and the non-sale records (voids,
/// cancels, day closes), in order.
pub fn export_with_records(journal: &Path) -> String {
    let out = run(&[
        "journal",
        "export",
        "--with-records",
        "--journal",
        journal.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "export failed: {}", stderr(&out));
    stdout(&out)
}

/// `konbini journal verify`: Ok(stdout) or Err(stderr).
pub fn verify(journal: &Path) -> Result<String, String> {
    let out = run(&["journal", "verify", "--journal", journal.to_str().unwrap()]);
    if out.status.success() {
        Ok(stdout(&out))
    } else {
        Err(stderr(&out))
    }
}

/// Compare `actual` with the golden file, or rewrite it under `KONBINI_BLESS=1`.
pub fn golden(name: &str, actual: &str) {
    let path = repo().join("tests/golden").join(name);
    if std::env::var_os("KONBINI_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (run with KONBINI_BLESS=1 to create)",
            path.display()
        )
    });
    assert!(
        expected == actual,
        "{} differs from the actual output:\n{actual}",
        path.display()
    );
}

pub fn at(s: &str) -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339(s).expect("test time")
}

/// A summary without the journal path (which is a temp dir's), for comparisons.
pub fn portable(mut summary: serde_json::Value) -> serde_json::Value {
    summary["journal"]["path"] = serde_json::json!("<journal>");
    summary
}

/// `konbini synth-log` of `sales` sales with `seed` into `dir`; the log's path.
pub fn synth_log(dir: &Path, sales: u64, seed: u64) -> PathBuf {
    let log = dir.join(format!("synth-{sales}-{seed}.jsonl"));
    let out = run(&[
        "synth-log",
        "--sales",
        &sales.to_string(),
        "--seed",
        &seed.to_string(),
        "-o",
        log.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    log
}

/// `tests/node`, with its pinned npm packages installed. The tests that need them run in
/// parallel threads of this binary: one lock, so `npm ci` (which empties `node_modules`
/// first) never runs under another test's feet, and at most once.
pub fn node_packages() -> PathBuf {
    static INSTALL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let dir = repo().join("tests/node");
    let _guard = INSTALL.lock().unwrap_or_else(|e| e.into_inner());
    let installed = ["stripe", "receiptline", "playwright-core"]
        .iter()
        .all(|p| {
            dir.join("node_modules")
                .join(p)
                .join("package.json")
                .exists()
        });
    if !installed {
        let out = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&dir)
            .output()
            .expect("npm (Node.js) is needed for the tests that use tests/node");
        assert!(
            out.status.success(),
            "npm ci in tests/node failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    dir
}

/// The names of the files in `dir`, sorted.
pub fn file_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("a readable directory")
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

/// Read one HTTP/1.1 request from `reader` (a test's own endpoint on loopback): its header
/// lines, lower-cased, and its body (`content-length` bytes). None when the peer closed the
/// connection or sent less than it announced.
pub fn read_request(reader: &mut impl std::io::BufRead) -> Option<(Vec<String>, Vec<u8>)> {
    let mut headers = Vec::new();
    let mut len = 0usize;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return None;
        }
        if line == "\r\n" {
            break;
        }
        let lower = line.trim_end().to_ascii_lowercase();
        if let Some(v) = lower.strip_prefix("content-length:") {
            len = v.trim().parse().unwrap_or(0);
        }
        headers.push(lower);
    }
    let mut body = vec![0; len];
    reader.read_exact(&mut body).ok()?;
    Some((headers, body))
}
