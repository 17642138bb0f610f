//! Store-and-forward over real HTTP: `konbini replay --upstream` against the real
//! `konbini network` binary, through outages, kills and (with `proxy.rs`) a faulty link.
//! Every test ends with every slip accepted exactly once: each payment succeeded, one
//! charge per payment, one `payment_intent.succeeded` webhook per payment.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Output;

use serde_json::{Value, json};

use crate::common::{konbini, stderr, stdout, tempdir};
use crate::network::{Hook, Net, TERMINALS, barcode_of, codes};

/// A scan log time `offset` seconds after `base` (Unix seconds), in Japan time.
pub(crate) fn log_time(base: i64, offset: usize) -> String {
    chrono::DateTime::from_timestamp(base + offset as i64, 0)
        .unwrap()
        .with_timezone(&chrono::FixedOffset::east_opt(9 * 3600).unwrap())
        .to_rfc3339()
}

/// Create `n` payments (amounts 1000 + i) and write a scan log paying them, one sale each:
/// barcodes, and every third one keyed in at Lawson. The sales are timed after the payments
/// were created, on the network's clock, which is then moved past the last of them: the
/// network judges `paid_at` in its own time.
fn payments_and_log(net: &Net, n: usize, log: &Path) -> Vec<String> {
    let pis: Vec<Value> = (0..n).map(|i| net.pay(1000 + i as i64, &[])).collect();
    let base = net.now() + 1;
    let mut ids = Vec::new();
    let mut lines = vec![json!({"konbini_scan_log": 1, "terminal": TERMINALS[0].0,
        "store": {"code": "0042", "chain": "lawson", "name": "ローソン 札幌北口店"}})];
    for (i, pi) in pis.iter().enumerate() {
        ids.push(pi["id"].as_str().unwrap().to_owned());
        let at = |s: usize| log_time(base, i * 30 + s);
        if i % 3 == 2 {
            let (code, number) = codes(pi, "lawson");
            lines.push(json!({"at": at(0), "key_in": {"chain": "lawson", "payment_code": code, "confirmation_number": number}}));
        } else {
            lines.push(json!({"at": at(0), "scan": format!("]C1{}", barcode_of(pi))}));
        }
        lines.push(json!({"at": at(10), "tender": 5000}));
        lines.push(json!({"at": at(20), "complete": true}));
    }
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(log, text).unwrap();
    net.advance((n * 30 + 60) as i64);
    ids
}

pub(crate) fn replay(
    log: &Path,
    journal: &Path,
    url: &str,
    secret: &str,
    drain: &str,
    env: &[(&str, &str)],
) -> Output {
    let mut cmd = konbini();
    cmd.args(["replay"])
        .arg(log)
        .arg("--journal")
        .arg(journal)
        .args(["--json", "--upstream", url, "--terminal-id", TERMINALS[0].0])
        .args(["--terminal-secret", secret, "--drain-timeout", drain]);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

pub(crate) fn summary(out: &Output) -> Value {
    assert!(out.status.success(), "replay failed: {}", stderr(out));
    serde_json::from_str(&stdout(out)).unwrap_or_else(|e| panic!("{e}: {}", stdout(out)))
}

/// Every payment succeeded, with one charge each, and (if a hook) one succeeded webhook each.
pub fn assert_each_paid_once(net: &Net, ids: &[String], hook: Option<&Hook>) {
    for id in ids {
        let pi = net.wait_pi(id, |v| v["status"] == "succeeded");
        assert!(pi["latest_charge"].is_string(), "{pi}");
    }
    let (_, charges) = net.get("/v1/events?type=charge.succeeded&limit=100");
    let mut per_pi: BTreeMap<String, usize> = BTreeMap::new();
    for e in charges["data"].as_array().unwrap() {
        *per_pi
            .entry(
                e["data"]["object"]["payment_intent"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            )
            .or_default() += 1;
    }
    for id in ids {
        assert_eq!(per_pi.get(id), Some(&1), "charges of {id}: {per_pi:?}");
    }
    if let Some(hook) = hook {
        for id in ids {
            hook.wait_for("payment_intent.succeeded", id);
        }
        let mut seen: BTreeMap<String, usize> = BTreeMap::new();
        for (_, body) in hook.all() {
            let v: Value = serde_json::from_str(&body).unwrap();
            if v["type"] == "payment_intent.succeeded" {
                *seen
                    .entry(v["data"]["object"]["id"].as_str().unwrap().to_owned())
                    .or_default() += 1;
            }
        }
        for id in ids {
            assert_eq!(seen.get(id), Some(&1), "webhooks for {id}");
        }
    }
}

#[test]
fn a_dead_node_first_in_the_upstream_list_hands_every_request_to_the_next() {
    let dir = tempdir();
    let net = Net::start(&dir.path().join("net.db"), &[]);
    let log = dir.path().join("day.jsonl");
    let ids = payments_and_log(&net, 6, &log);
    // A port nothing listens on any more: connection refused, at once.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_url = format!("http://{}", dead.local_addr().unwrap());
    drop(dead);
    let journal = dir.path().join("j.db");
    let nodes = format!("{dead_url},{}", net.url);
    let s = summary(&replay(&log, &journal, &nodes, TERMINALS[0].1, "30", &[]));
    assert_eq!(s["sync"]["sent"], 6, "{s}");
    assert_eq!(s["sync"]["pending"], 0, "{s}");
    assert_each_paid_once(&net, &ids, None);
    // A list whose every node is dead keeps the slips pending, and says so.
    let log2 = dir.path().join("day2.jsonl");
    payments_and_log(&net, 2, &log2);
    let journal2 = dir.path().join("j2.db");
    let all_dead = format!("{dead_url},{dead_url}");
    let s = summary(&replay(
        &log2,
        &journal2,
        &all_dead,
        TERMINALS[0].1,
        "1",
        &[],
    ));
    assert_eq!(s["sync"]["pending"], 2, "{s}");
}

#[test]
fn a_replay_with_an_upstream_confirms_every_slip_and_the_merchant_hears_once() {
    let dir = tempdir();
    let net = Net::start(&dir.path().join("net.db"), &[]);
    let hook = Hook::start(0);
    net.post(
        "/v1/webhook_endpoints",
        &[
            ("url", &hook.url),
            ("enabled_events[]", "payment_intent.succeeded"),
        ],
    );
    let log = dir.path().join("day.jsonl");
    let ids = payments_and_log(&net, 12, &log);
    let journal = dir.path().join("j.db");
    let s = summary(&replay(&log, &journal, &net.url, TERMINALS[0].1, "30", &[]));
    assert_eq!(s["sales"]["completed"], 12, "{s}");
    assert_eq!(
        s["sync"],
        json!({"sent": 12, "pending": 0, "conflicts": 0, "rejected": 0})
    );
    assert_each_paid_once(&net, &ids, Some(&hook));
    // The network saw the register's journal chain whole.
    let (_, chain) = net.get(&format!(
        "/v1/test_helpers/terminals/{}/chain",
        TERMINALS[0].0
    ));
    assert_eq!(chain["intact"], true, "{chain}");
    assert_eq!(chain["head"]["hash"], s["journal"]["head"]);
    // The export shows every slip sent.
    let export = crate::common::export(&journal);
    assert_eq!(export.matches("\"sync\":\"sent\"").count(), 12);
}

#[test]
fn the_network_down_for_the_whole_replay_and_back_later_loses_nothing() {
    let dir = tempdir();
    let db = dir.path().join("net.db");
    let net = Net::start(&db, &[]);
    let log = dir.path().join("day.jsonl");
    let ids = payments_and_log(&net, 9, &log);
    let url = net.url.clone();
    net.kill();
    let journal = dir.path().join("j.db");
    let down = summary(&replay(&log, &journal, &url, TERMINALS[0].1, "1", &[]));
    // The barcodes sell offline; the key-ins need the network and are refused offline.
    assert_eq!(down["sales"]["completed"], 6, "{down}");
    assert_eq!(down["rejected"]["offline"], 3, "{down}");
    assert_eq!(down["sync"]["pending"], 6);
    assert_eq!(down["sync"]["sent"], 0);
    // Back (on another port): re-running drains what is pending, and sells nothing twice.
    let net = Net::start(&db, &[]);
    let again = summary(&replay(&log, &journal, &net.url, TERMINALS[0].1, "30", &[]));
    assert_eq!(
        again["sync"],
        json!({"sent": 6, "pending": 0, "conflicts": 0, "rejected": 0})
    );
    assert_eq!(again["journal"], down["journal"]);
    let paid: Vec<String> = ids
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 3 != 2)
        .map(|(_, id)| id.clone())
        .collect();
    assert_each_paid_once(&net, &paid, None);
}

#[test]
fn killed_between_the_networks_answer_and_the_journal_write_it_resends_and_nothing_doubles() {
    let dir = tempdir();
    let net = Net::start(&dir.path().join("net.db"), &[]);
    let log = dir.path().join("day.jsonl");
    let ids = payments_and_log(&net, 8, &log);
    let journal = dir.path().join("j.db");
    let out = replay(
        &log,
        &journal,
        &net.url,
        TERMINALS[0].1,
        "30",
        &[("KONBINI_CRASH_AT", "sync-before-record:1")],
    );
    assert!(!out.status.success(), "the failpoint kills the replay");
    let s = summary(&replay(&log, &journal, &net.url, TERMINALS[0].1, "30", &[]));
    assert_eq!(s["sync"]["pending"], 0, "{s}");
    assert_eq!(s["sync"]["sent"], 8, "{s}");
    assert_each_paid_once(&net, &ids, None);
}

#[test]
fn a_wrong_terminal_secret_is_reported_at_once_and_nothing_is_lost() {
    let dir = tempdir();
    let net = Net::start(&dir.path().join("net.db"), &[]);
    let log = dir.path().join("day.jsonl");
    payments_and_log(&net, 3, &log);
    let journal = dir.path().join("j.db");
    let out = replay(&log, &journal, &net.url, "not-the-secret", "5", &[]);
    let s = summary(&out);
    assert!(stderr(&out).contains("401"), "stderr: {}", stderr(&out));
    assert!(
        stderr(&out).contains("--terminal-secret"),
        "stderr: {}",
        stderr(&out)
    );
    assert_eq!(s["sync"]["pending"], 2, "{s}");
    assert_eq!(
        s["rejected"]["offline"], 1,
        "the key-in could not be looked up: {s}"
    );
}

#[test]
fn an_upstream_that_is_not_a_url_is_a_clear_error() {
    let dir = tempdir();
    let log = dir.path().join("day.jsonl");
    std::fs::write(&log, "").unwrap();
    let out = konbini()
        .args(["replay"])
        .arg(&log)
        .arg("--journal")
        .arg(dir.path().join("j.db"))
        .args([
            "--upstream",
            "ftp://x",
            "--terminal-id",
            "T",
            "--terminal-secret",
            "s",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(stderr(&out).contains("ftp://x"), "{}", stderr(&out));
    let out = konbini()
        .args(["replay"])
        .arg(&log)
        .args(["--upstream", "http://127.0.0.1:1"])
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "--upstream needs the terminal id and secret"
    );
}

#[test]
fn offline_past_the_unsent_limit_new_slips_are_refused_offline_limit() {
    let dir = tempdir();
    let net = Net::start(&dir.path().join("net.db"), &[]);
    let log = dir.path().join("day.jsonl");
    payments_and_log(&net, 9, &log);
    let url = net.url.clone();
    net.kill();
    let mut cmd = konbini();
    let out = cmd
        .args(["replay"])
        .arg(&log)
        .arg("--journal")
        .arg(dir.path().join("j.db"))
        .args([
            "--json",
            "--upstream",
            &url,
            "--terminal-id",
            TERMINALS[0].0,
        ])
        .args([
            "--terminal-secret",
            TERMINALS[0].1,
            "--drain-timeout",
            "0.5",
        ])
        .args(["--max-unsent-yen", "3000"])
        .output()
        .unwrap();
    let s = summary(&out);
    // Barcodes of 1000, 1001 and 1003 yen sell (3004 unsent); the next barcodes are refused;
    // the key-ins cannot be looked up at all.
    assert_eq!(s["sales"]["completed"], 3, "{s}");
    assert_eq!(s["rejected"]["offline_limit"], 3, "{s}");
    assert_eq!(s["rejected"]["offline"], 3, "{s}");
    assert_eq!(s["sync"]["pending"], 3);
}

/// Payments paid by barcode only (key-ins would need a look-up through the faulty link),
/// timed as [`payments_and_log`] times them.
fn barcode_payments_and_log(net: &Net, n: usize, log: &Path) -> Vec<String> {
    let pis: Vec<Value> = (0..n).map(|i| net.pay(1000 + i as i64, &[])).collect();
    let base = net.now() + 1;
    let mut ids = Vec::new();
    let mut lines = vec![json!({"konbini_scan_log": 1, "terminal": TERMINALS[0].0,
        "store": {"code": "0042", "chain": "familymart", "name": "ファミリーマート 札幌駅前店"}})];
    for (i, pi) in pis.iter().enumerate() {
        ids.push(pi["id"].as_str().unwrap().to_owned());
        let t = |s: usize| log_time(base, i * 3 + s);
        lines.push(json!({"at": t(0), "scan": format!("]C1{}", barcode_of(pi))}));
        lines.push(json!({"at": t(1), "tender": 10000}));
        lines.push(json!({"at": t(2), "complete": true}));
    }
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(log, text).unwrap();
    net.advance((n * 3 + 60) as i64);
    ids
}

fn network_addr(net: &Net) -> std::net::SocketAddr {
    net.url.trim_start_matches("http://").parse().unwrap()
}

fn spawn_replay(log: &Path, journal: &Path, url: &str, drain: &str) -> std::process::Child {
    konbini()
        .args(["replay"])
        .arg(log)
        .arg("--journal")
        .arg(journal)
        .args(["--json", "--upstream", url, "--terminal-id", TERMINALS[0].0])
        .args([
            "--terminal-secret",
            TERMINALS[0].1,
            "--drain-timeout",
            drain,
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

/// The end-to-end test of issue 4: payments made through the Stripe-compatible API, a scan
/// log paying them replayed through a link that answers garbage, resets connections
/// mid-request and mid-response, answers 503 and 429 with Retry-After, goes slow, and flaps
/// up and down; in the end every payment succeeded once and every webhook came once.
#[test]
fn through_a_faulty_link_every_payment_is_confirmed_exactly_once() {
    use crate::proxy::{Mode, Proxy};
    use std::time::Duration;
    let dir = tempdir();
    let net = Net::start(&dir.path().join("net.db"), &[]);
    let hook = Hook::start(1);
    net.post(
        "/v1/webhook_endpoints",
        &[("url", &hook.url), ("enabled_events[]", "*")],
    );
    let log = dir.path().join("day.jsonl");
    let ids = barcode_payments_and_log(&net, 15, &log);
    let proxy = Proxy::start(network_addr(&net));
    proxy.set_mode(Mode::Garbage);
    let journal = dir.path().join("j.db");
    let child = spawn_replay(&log, &journal, &proxy.url(), "120");
    for mode in [
        Mode::Garbage,
        Mode::ResetMidRequest,
        Mode::ResetMidResponse,
        Mode::Status(503, Some(1)),
        Mode::Status(429, Some(1)),
        Mode::Slow(Duration::from_millis(1500)),
        Mode::Flaky {
            period: Duration::from_millis(700),
        },
        Mode::ResetMidResponse,
    ] {
        proxy.set_mode(mode);
        std::thread::sleep(Duration::from_millis(1200));
    }
    proxy.set_mode(Mode::Pass);
    let out = child.wait_with_output().unwrap();
    let s = summary(&out);
    assert_eq!(s["sales"]["completed"], 15, "{s}");
    assert_eq!(
        s["sync"],
        json!({"sent": 15, "pending": 0, "conflicts": 0, "rejected": 0}),
        "{s}"
    );
    // (The proxy keeps connections alive across modes, so its connection count says
    // nothing about faults met; every mode before Pass fails or delays the first sends.)
    assert!(proxy.connections() >= 1);
    assert_each_paid_once(&net, &ids, Some(&hook));
}

#[test]
fn killed_with_a_batch_on_a_slow_wire_the_rerun_confirms_each_once() {
    use crate::proxy::{Mode, Proxy};
    use std::time::Duration;
    let dir = tempdir();
    let net = Net::start(&dir.path().join("net.db"), &[]);
    let log = dir.path().join("day.jsonl");
    let ids = barcode_payments_and_log(&net, 10, &log);
    let proxy = Proxy::start(network_addr(&net));
    proxy.set_mode(Mode::Slow(Duration::from_secs(2)));
    let journal = dir.path().join("j.db");
    let mut child = spawn_replay(&log, &journal, &proxy.url(), "60");
    // The network has the batch (the proxy forwards at once) while the answer is held.
    let start = std::time::Instant::now();
    while proxy.requests_forwarded() == 0 {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "nothing was sent"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL
    let _ = child.wait();
    proxy.set_mode(Mode::Pass);
    let s = summary(&replay(
        &log,
        &journal,
        &proxy.url(),
        TERMINALS[0].1,
        "30",
        &[],
    ));
    assert_eq!(s["sales"]["completed"], 10, "{s}");
    assert_eq!(s["sync"]["sent"], 10, "{s}");
    assert_eq!(s["sync"]["pending"], 0, "{s}");
    assert_each_paid_once(&net, &ids, None);
}

/// A scan log of `sales` sales of 20 slips each, all other billers' (collected by the
/// network without a PaymentIntent); the number of slips.
fn other_billers_log(sales: usize, log: &Path) -> usize {
    use konbini_domain::{BillBarcode, BillFields, Deadline, Yen};
    let mut lines = vec![json!({"konbini_scan_log": 1, "terminal": TERMINALS[0].0,
        "store": {"code": "0042", "chain": "lawson", "name": "ローソン 札幌北口店"}})];
    for sale in 0..sales {
        let t = |s: usize| {
            format!(
                "2026-11-28T11:{:02}:{:02}+09:00",
                (sale * 30 + s) / 60 % 60,
                (sale * 30 + s) % 60
            )
        };
        for i in 0..20 {
            let code = BillBarcode::build(&BillFields {
                company_code: "912345",
                free_area: &format!("{:021}", sale * 20 + i),
                reissue: 0,
                deadline: Deadline::None,
                stamp: false,
                amount: Yen::new(1000 + i as u64),
            })
            .unwrap();
            lines.push(json!({"at": t(i), "scan": format!("]C1{}", code.as_str())}));
        }
        lines.push(json!({"at": t(21), "tender": 30000}));
        lines.push(json!({"at": t(22), "complete": true}));
    }
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(log, text).unwrap();
    sales * 20
}

/// Two batches are on the wire at once. With 1,200 slips waiting (the network was down
/// through the replay), the first batch sent when it is back is answered 503 while the
/// next goes through: the later batch's answer is dropped, its slips stay pending and are
/// sent again (the network answers `duplicate`), and every slip is taken exactly once.
#[test]
fn a_failed_batch_with_the_next_one_on_the_wire_loses_and_doubles_nothing() {
    use crate::proxy::{Mode, Proxy};
    use std::time::{Duration, Instant};
    let dir = tempdir();
    let db = dir.path().join("net.db");
    let net = Net::start(&db, &[]);
    let log = dir.path().join("day.jsonl");
    // Three batches of at most 500.
    let slips = other_billers_log(60, &log);
    let proxy = Proxy::start(network_addr(&net));
    proxy.set_mode(Mode::Down);
    let journal = dir.path().join("j.db");
    let child = spawn_replay(&log, &journal, &proxy.url(), "60");
    let start = Instant::now();
    loop {
        let sales: i64 = rusqlite::Connection::open(&journal)
            .and_then(|c| c.query_row("SELECT COUNT(*) FROM sales", [], |r| r.get(0)))
            .unwrap_or(0);
        if sales == 60 {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "{sales} sales");
        std::thread::sleep(Duration::from_millis(50));
    }
    proxy.set_mode(Mode::FailFirstBatches(1));
    let s = summary(&child.wait_with_output().unwrap());
    assert_eq!(s["sales"]["completed"], 60, "{s}");
    assert_eq!(
        s["sync"],
        json!({"sent": slips, "pending": 0, "conflicts": 0, "rejected": 0}),
        "{s}"
    );
    // The network kept each slip once, accepted, under its own barcode.
    let conn = rusqlite::Connection::open(&db).unwrap();
    let kept: Vec<(String, i64, i64)> = conn
        .prepare(
            "SELECT status, COUNT(*), COUNT(DISTINCT barcode) FROM confirmations GROUP BY status",
        )
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        kept,
        vec![("accepted".to_owned(), slips as i64, slips as i64)]
    );
}
