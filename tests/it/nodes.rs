//! Several `konbini network` nodes over one PostgreSQL database (issue 17), and `konbini
//! fleet` driving many registers at a network. The database is a fresh one per test on the
//! server at 127.0.0.1:5432 (user postgres, trust auth; `KONBINI_TEST_POSTGRES` names
//! another server as `host:port`), made and dropped with `psql`. Without a server these
//! tests say SKIPPED on stderr and pass, unless `CI` is set: there they fail.

use std::io::{BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::{konbini, read_request, stdout, tempdir, until};
use crate::network::{KEY, Net, TERMINALS, barcode_of, slip};

/// A database of its own on the test server, dropped when this is dropped.
struct Db {
    server: (String, String),
    name: String,
}

impl Db {
    fn url(&self) -> String {
        format!(
            "postgres://postgres@{}:{}/{}",
            self.server.0, self.server.1, self.name
        )
    }
}

fn psql(server: &(String, String), sql: &str) -> Result<String, String> {
    psql_in(server, "postgres", sql)
}

/// `sql` run in database `db` of `server`; its rows, `|`-separated.
fn psql_in(server: &(String, String), db: &str, sql: &str) -> Result<String, String> {
    let out = Command::new("psql")
        .args(["-h", &server.0, "-p", &server.1, "-U", "postgres", "-d", db])
        .args(["-v", "ON_ERROR_STOP=1", "-Atc", sql])
        .env("PGCONNECT_TIMEOUT", "5")
        .output()
        .map_err(|e| format!("cannot run psql: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_owned())
    }
}

/// A fresh database, or None (and a SKIPPED line) when no server can be reached outside CI.
fn fresh_db(test: &str) -> Option<Db> {
    let server = std::env::var("KONBINI_TEST_POSTGRES").unwrap_or("127.0.0.1:5432".into());
    let (host, port) = server.split_once(':').unwrap_or((&server, "5432"));
    let server = (host.to_owned(), port.to_owned());
    let name = format!("konbini_it_{}_{:x}", std::process::id(), rand_u64());
    match psql(&server, &format!("CREATE DATABASE {name}")) {
        Ok(_) => Some(Db { server, name }),
        Err(e) if std::env::var_os("CI").is_some() => {
            panic!("{test}: PostgreSQL is required in CI and is unreachable: {e}")
        }
        Err(e) => {
            skipped(&format!(
                "{test} needs PostgreSQL on {}:{} (user postgres, trust auth; KONBINI_TEST_POSTGRES=host:port names another): {e}",
                server.0, server.1
            ));
            None
        }
    }
}

/// Say that a test was skipped where a plain `cargo test` shows it: on the process's
/// stderr, which the test harness does not capture (`eprintln!` in a passing test is hidden).
fn skipped(why: &str) {
    let _ = writeln!(std::io::stderr().lock(), "\nSKIPPED: {why}\n");
}

fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos(),
    );
    h.finish()
}

impl Drop for Db {
    fn drop(&mut self) {
        let _ = psql(
            &self.server,
            &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
        );
    }
}

#[test]
fn nodes_over_one_postgres_database_serve_one_network() {
    let Some(db) = fresh_db("nodes_over_one_postgres_database_serve_one_network") else {
        return;
    };
    let dir = tempdir();
    let url = db.url();
    let nodes: Vec<Net> = (0..3)
        .map(|_| Net::start(std::path::Path::new(&url), &[]))
        .collect();
    // A terminal registered at one node is known at every node.
    let (s, v) = nodes[0].post(
        "/v1/test_helpers/terminals",
        &[("id", "fleet-T1"), ("secret", "a-secret-of-sixteen")],
    );
    assert_eq!(s, 200, "{v}");
    // A payment made at one node is seen at the others.
    let pi = nodes[1].pay(1200, &[]);
    let id = pi["id"].as_str().unwrap();
    for n in &nodes {
        let (s, v) = n.get(&format!("/v1/payment_intents/{id}"));
        assert_eq!(
            (s, v["status"].as_str()),
            (200, Some("requires_action")),
            "{v}"
        );
    }
    // The same slip sent to every node at once, by a terminal of the flags and by the
    // registered one with its own slip for the same payment: exactly one accepted, the
    // resends duplicates, the other slip a conflict.
    let now = nodes[0].now();
    let body = |sid: &str| json!({"confirmations": [slip(sid, "lawson", 1200, now, json!({"barcode": barcode_of(&pi)}))]});
    let results: Vec<String> = std::thread::scope(|scope| {
        let mut handles = Vec::new();
        for round in 0..2 {
            for n in &nodes {
                let b = body("one-slip");
                handles.push(scope.spawn(move || {
                    let (s, v) = n.terminal(0, "POST", "/terminal/v1/confirmations", &b);
                    assert_eq!(s, 200, "{v}");
                    v["results"][0]["status"].as_str().unwrap().to_owned()
                }));
            }
            let n = &nodes[round % 3];
            let b = body("registered-slip");
            handles.push(scope.spawn(move || {
                let bytes = b.to_string().into_bytes();
                let path = "/terminal/v1/confirmations";
                let sig = konbini_protocol::sign(
                    "a-secret-of-sixteen",
                    chrono::Utc::now().timestamp(),
                    "POST",
                    path,
                    &bytes,
                );
                let (s, v) = n.raw(
                    "POST",
                    path,
                    &[
                        ("Konbini-Terminal", "fleet-T1"),
                        ("Konbini-Signature", &sig),
                        ("content-type", "application/json"),
                    ],
                    bytes,
                );
                assert_eq!(s, 200, "{v}");
                v["results"][0]["status"].as_str().unwrap().to_owned()
            }));
        }
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let count = |s: &str| results.iter().filter(|r| *r == s).count();
    assert_eq!(count("accepted"), 1, "{results:?}");
    assert_eq!(
        count("accepted") + count("duplicate") + count("conflict"),
        results.len(),
        "{results:?}"
    );
    let (_, charges) = nodes[2].get("/v1/events?type=charge.succeeded");
    assert_eq!(charges["data"].as_array().unwrap().len(), 1, "{charges}");
    // A new secret given at one node is taken at once at a node that had the old one
    // (nodes 0 and 1 read it above; a failed MAC reads the store again when what the node
    // holds is more than 2 s old).
    let chain_with = |n: &Net, secret: &str| {
        let path = konbini_protocol::CHAIN_PATH;
        let sig = konbini_protocol::sign(secret, chrono::Utc::now().timestamp(), "GET", path, b"");
        n.raw(
            "GET",
            path,
            &[
                ("Konbini-Terminal", "fleet-T1"),
                ("Konbini-Signature", &sig),
            ],
            Vec::new(),
        )
        .0
    };
    assert_eq!(chain_with(&nodes[1], "a-secret-of-sixteen"), 200);
    std::thread::sleep(Duration::from_millis(2100));
    let (s, v) = nodes[0].post(
        "/v1/test_helpers/terminals",
        &[("id", "fleet-T1"), ("secret", "another-secret-of-16")],
    );
    assert_eq!(s, 200, "{v}");
    assert_eq!(chain_with(&nodes[1], "another-secret-of-16"), 200);
    assert_eq!(chain_with(&nodes[2], "another-secret-of-16"), 200);
    assert_eq!(chain_with(&nodes[2], "a-secret-of-sixteen"), 401);
    // The clock is shared: moved at one node, it has moved at the others at once (each
    // request reads the stored offset), for the clock, for a terminal's batch and for what
    // a request stamps.
    let before = nodes[2].now();
    let to_pay = nodes[0].pay(800, &[]);
    nodes[0].advance(86_400);
    let paid_at = nodes[0].now();
    // A slip paid a day on: in the future of a node that had not heard of the move.
    let (s, v) = nodes[1].terminal(
        0,
        "POST",
        "/terminal/v1/confirmations",
        &json!({"confirmations": [slip("paid-a-day-on", "lawson", 800, paid_at, json!({"barcode": barcode_of(&to_pay)}))]}),
    );
    assert_eq!(
        (s, v["results"][0]["status"].as_str()),
        (200, Some("accepted")),
        "{v}"
    );
    assert!(nodes[2].now() >= before + 86_400, "the third node's clock");
    let (s, later) = nodes[1].post(
        "/v1/payment_intents",
        &[("amount", "900"), ("currency", "jpy")],
    );
    assert_eq!(s, 200, "{later}");
    assert!(
        later["created"].as_i64().unwrap() >= before + 86_400,
        "{later}"
    );
    nodes[2].advance(-86_400);
    assert!(
        nodes[1].now() < before + 86_400,
        "moved back at one node, back at the others"
    );
    // A node killed does not take the network with it.
    let mut nodes = nodes;
    nodes.remove(0).kill();
    let (s, v) = nodes[0].get(&format!("/v1/payment_intents/{id}"));
    assert_eq!((s, v["status"].as_str()), (200, Some("succeeded")), "{v}");
    drop(nodes);
    drop(dir);
}

#[test]
fn two_nodes_given_the_same_slips_at_once_accept_each_once() {
    let Some(db) = fresh_db("two_nodes_given_the_same_slips_at_once_accept_each_once") else {
        return;
    };
    let url = db.url();
    let nodes: Vec<Net> = (0..2)
        .map(|_| Net::start(std::path::Path::new(&url), &[]))
        .collect();
    let pis: Vec<Value> = (0..10)
        .map(|i| nodes[i % 2].pay(1000 + i as i64, &[]))
        .collect();
    let now = nodes[0].now();
    // Each slip three times to each node, all at once (a terminal has at most eight
    // uploads read at once by a node); and, with the first, a second slip for the same
    // payment from another terminal, to both.
    let mut results: Vec<(usize, String)> = Vec::new();
    for (i, pi) in pis.iter().enumerate() {
        results.extend(std::thread::scope(|scope| {
            let mut handles = Vec::new();
            for n in nodes.iter().cycle().take(6) {
                let b = json!({"confirmations": [slip(&format!("slip-{i}"), "familymart", 1000 + i as i64, now, json!({"barcode": barcode_of(pi)}))]});
                handles.push(scope.spawn(move || {
                    let (s, v) = n.terminal(0, "POST", "/terminal/v1/confirmations", &b);
                    assert_eq!(s, 200, "{v}");
                    (i, v["results"][0]["status"].as_str().unwrap().to_owned())
                }));
            }
            for n in nodes.iter().filter(|_| i == 0) {
                let b = json!({"confirmations": [slip("other-slip", "familymart", 1000, now, json!({"barcode": barcode_of(pi)}))]});
                handles.push(scope.spawn(move || {
                    let (s, v) = n.terminal(1, "POST", "/terminal/v1/confirmations", &b);
                    assert_eq!(s, 200, "{v}");
                    (usize::MAX, v["results"][0]["status"].as_str().unwrap().to_owned())
                }));
            }
            handles
                .into_iter()
                .map(|h| h.join().unwrap())
                .collect::<Vec<_>>()
        }));
    }
    for i in 1..10 {
        let mut mine: Vec<&str> = results
            .iter()
            .filter(|(p, _)| *p == i)
            .map(|(_, s)| s.as_str())
            .collect();
        mine.sort();
        assert_eq!(
            mine,
            [
                "accepted",
                "duplicate",
                "duplicate",
                "duplicate",
                "duplicate",
                "duplicate"
            ],
            "payment {i}: {results:?}"
        );
    }
    // The first payment: its slip and the other one raced; one of them was accepted.
    let first: Vec<&str> = results
        .iter()
        .filter(|(p, _)| *p == 0 || *p == usize::MAX)
        .map(|(_, s)| s.as_str())
        .collect();
    assert_eq!(
        first.iter().filter(|s| **s == "accepted").count(),
        1,
        "{first:?}"
    );
    assert!(
        first
            .iter()
            .all(|s| ["accepted", "duplicate", "conflict"].contains(s)),
        "{first:?}"
    );
    let (_, charges) = nodes[1].get("/v1/events?type=charge.succeeded&limit=100");
    assert_eq!(charges["data"].as_array().unwrap().len(), 10, "{charges}");
}

#[test]
fn a_store_of_another_schema_or_a_wrong_url_is_one_clear_error() {
    let Some(db) = fresh_db("a_store_of_another_schema_or_a_wrong_url_is_one_clear_error") else {
        return;
    };
    // Another application's table in the database: refused, untouched.
    let out = Command::new("psql")
        .args([
            "-h",
            &db.server.0,
            "-p",
            &db.server.1,
            "-U",
            "postgres",
            "-d",
            &db.name,
        ])
        .args(["-Atc", "CREATE TABLE orders (id int)"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let out = konbini()
        .args(["network", "--listen", "127.0.0.1:0", "--db", &db.url()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&db.name), "{err}");
    // Nothing listens there: refused within the connect timeout, naming the address.
    let out = konbini()
        .args(["network", "--listen", "127.0.0.1:0", "--db"])
        .arg("postgres://postgres@127.0.0.1:1/nothing")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("127.0.0.1:1"), "{err}");
}

#[test]
fn a_database_url_is_never_taken_for_a_file_name() {
    let dir = tempdir();
    let run = |db: &str| {
        let out = konbini()
            .current_dir(dir.path())
            .args(["network", "--listen", "127.0.0.1:0", "--db", db])
            .output()
            .unwrap();
        assert!(!out.status.success(), "{db}");
        crate::common::stderr(&out)
    };
    // Another kind of database: one clear error, and no file made.
    let err = run("mysql://root:hunter2@127.0.0.1/shop");
    assert!(
        err.contains("mysql://") && err.contains("postgres://"),
        "{err}"
    );
    assert!(
        !err.contains("hunter2"),
        "a password is not repeated: {err}"
    );
    // PostgreSQL's scheme in capitals is PostgreSQL's (nothing listens on port 1).
    let err = run("POSTGRESQL://postgres@127.0.0.1:1/x");
    assert!(err.contains("127.0.0.1:1"), "{err}");
    assert_eq!(crate::common::file_names(dir.path()), Vec::<String>::new());
}

#[test]
fn a_fleet_of_registers_confirms_every_slip_once() {
    let dir = tempdir();
    let net = Net::start(&dir.path().join("net.db"), &[]);
    let fleet_dir = dir.path().join("fleet");
    let out = konbini()
        .args(["fleet", "--network", &net.url, "--api-key", KEY])
        .args(["--stores", "4", "--registers", "2", "--sales", "15"])
        .args(["--concurrency", "4", "--json", "--dir"])
        .arg(&fleet_dir)
        .output()
        .unwrap();
    let s = finished_fleet(&out);
    assert_eq!(s["registers"], 8, "{s}");
    assert!(s["sales"].as_u64().unwrap() >= 8 * 15, "{s}");
    let sent = s["sent"].as_u64().unwrap();
    assert!(sent > 0, "{s}");
    // Every slip of these new journals was answered in this run, accepted or (a resend
    // after a lost answer) a duplicate; none conflicts, none is refused.
    let verdict = |k: &str| s[k].as_u64().unwrap_or_else(|| panic!("no {k}: {s}"));
    assert_eq!(verdict("accepted") + verdict("duplicate"), sent, "{s}");
    assert_eq!((verdict("conflicts"), verdict("rejected")), (0, 0), "{s}");
    // Accepted slips were timed from their sale's commit (one accepted in the instant
    // between its commit and the commit being noted is not), and the one node judged all.
    let timed = s["latency_samples"].as_u64().unwrap();
    assert!(timed > 0 && timed <= sent, "{s}");
    let [p50, p99, max] = [0, 1, 2].map(|i| s["latency_ms"][i].as_f64().unwrap());
    assert!(p50 > 0.0 && p50 <= p99 && p99 <= max, "{s}");
    assert!(s["per_node"][0][1].as_u64().unwrap() >= sent, "{s}");
    // Each register has its own journal, and each verifies.
    for store in 1..=4 {
        for register in 1..=2 {
            let j = fleet_dir.join(format!("S{store:04}-R{register:02}.db"));
            crate::common::verify(&j).unwrap_or_else(|e| panic!("{}: {e}", j.display()));
        }
    }
}

#[test]
fn a_fleet_passes_over_a_dead_node_and_stops_at_a_wrong_key() {
    let dir = tempdir();
    let net = Net::start(&dir.path().join("net.db"), &[]);
    // Port 1: nothing listens, connections are refused. Register 1 of each two starts
    // there; its terminal is registered, and its slips confirmed, at the live node.
    let nodes = format!("http://127.0.0.1:1,{}", net.url);
    let out = konbini()
        .args(["fleet", "--network", &nodes, "--api-key", KEY])
        .args(["--stores", "2", "--registers", "1", "--sales", "5"])
        .args(["--concurrency", "2", "--json", "--dir"])
        .arg(dir.path().join("fleet"))
        .output()
        .unwrap();
    let s = finished_fleet(&out);
    assert_eq!(s["registers"], 2, "{s}");
    assert_eq!(s["per_node"][0][1], 0, "{s}");
    // The live node judged every slip (a batch resent after a lost answer counts again).
    assert!(
        s["per_node"][1][1].as_u64().unwrap() >= s["sent"].as_u64().unwrap(),
        "{s}"
    );
    // A wrong key is no outage: one clear error, at once.
    let out = konbini()
        .args(["fleet", "--network", &net.url, "--api-key", "sk_test_wrong"])
        .args(["--stores", "1", "--registers", "1", "--sales", "5", "--dir"])
        .arg(dir.path().join("wrong"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = crate::common::stderr(&out);
    assert!(
        err.contains("refused terminal S0001-R01") && err.contains("401"),
        "{err}"
    );
}

impl Db {
    /// One value `sql` reads in this database.
    fn query(&self, sql: &str) -> String {
        psql_in(&self.server, &self.name, sql)
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
            .trim()
            .to_owned()
    }
}

/// POST a signed batch to `base` as terminal 0, tolerating a node that dies meanwhile.
fn send_batch(base: &str, body: &Value) -> Result<Value, String> {
    let (id, secret) = TERMINALS[0];
    let path = "/terminal/v1/confirmations";
    let bytes = body.to_string().into_bytes();
    let sig = konbini_protocol::sign(secret, chrono::Utc::now().timestamp(), "POST", path, &bytes);
    let r = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
        .post(format!("{base}{path}"))
        .header("Konbini-Terminal", id)
        .header("Konbini-Signature", sig)
        .header("content-type", "application/json")
        .body(bytes)
        .send()
        .map_err(|e| e.to_string())?;
    let status = r.status().as_u16();
    let v: Value = r.json().map_err(|e| e.to_string())?;
    if status == 200 {
        Ok(v)
    } else {
        Err(format!("{status}: {v}"))
    }
}

/// A psql session holding `LOCK TABLE table IN ACCESS EXCLUSIVE MODE` until dropped (then
/// it commits and ends).
struct TableLock {
    psql: Child,
}

impl TableLock {
    fn take(db: &Db, table: &str) -> TableLock {
        let mut psql = Command::new("psql")
            .args(["-h", &db.server.0, "-p", &db.server.1, "-U", "postgres"])
            .args(["-d", &db.name, "-v", "ON_ERROR_STOP=1", "-q"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("run psql");
        let stdin = psql.stdin.as_mut().unwrap();
        writeln!(stdin, "BEGIN; LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE;").unwrap();
        stdin.flush().unwrap();
        until("the test's lock on the table", || {
            db.query(&format!(
                "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation \
                 WHERE c.relname = '{table}' AND l.mode = 'AccessExclusiveLock' AND l.granted"
            )) == "1"
        });
        TableLock { psql }
    }
}

impl Drop for TableLock {
    fn drop(&mut self) {
        if let Some(mut stdin) = self.psql.stdin.take() {
            let _ = writeln!(stdin, "COMMIT;");
        }
        let _ = self.psql.wait();
    }
}

#[test]
fn a_node_killed_mid_batch_loses_nothing_and_doubles_nothing() {
    let Some(db) = fresh_db("a_node_killed_mid_batch_loses_nothing_and_doubles_nothing") else {
        return;
    };
    let url = db.url();
    let a = Net::start(Path::new(&url), &[]);
    let b = Net::start(Path::new(&url), &[]);
    let pis: Vec<Value> = (0..20).map(|i| b.pay(1_000 + i, &[])).collect();
    let now = b.now();
    let batch = json!({"confirmations": pis.iter().enumerate().map(|(i, pi)| {
        slip(&format!("kill-{i}"), "lawson", 1_000 + i as i64, now, json!({"barcode": barcode_of(pi)}))
    }).collect::<Vec<_>>()});
    // The events table held by the test: node A's batch goes into its transaction, writes
    // its first confirmation's rows, and waits there, at its first event.
    let lock = TableLock::take(&db, "events");
    let sent = {
        let (base, batch) = (a.url.clone(), batch.clone());
        std::thread::spawn(move || send_batch(&base, &batch))
    };
    until("node A's batch waiting inside its transaction", || {
        db.query(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() \
             AND wait_event_type = 'Lock' AND query ILIKE '%events%'",
        ) == "1"
    });
    // Mid-batch: its transaction has already written (it holds a transaction id).
    assert_eq!(
        db.query(
            "SELECT backend_xid IS NOT NULL FROM pg_stat_activity WHERE datname = current_database() \
             AND wait_event_type = 'Lock' AND query ILIKE '%events%'"
        ),
        "t",
        "node A's batch has written rows inside its transaction"
    );
    a.kill();
    assert!(
        sent.join().unwrap().is_err(),
        "the killed node cannot have answered"
    );
    drop(lock);
    // The register sends its batch again, to the node still up: every slip accepted once.
    let v = send_batch(&b.url, &batch).unwrap();
    let results = v["results"].as_array().unwrap();
    assert_eq!(results.len(), 20, "{v}");
    assert!(
        results.iter().all(|r| r["status"] == "accepted"),
        "nothing of the killed node's batch was kept: {v}"
    );
    assert_eq!(db.query("SELECT count(*) FROM confirmations"), "20");
    assert_eq!(db.query("SELECT count(*) FROM charges"), "20");
    assert_eq!(
        db.query("SELECT count(*) FROM events WHERE type = 'payment_intent.succeeded'"),
        "20"
    );
    // And again: duplicates, nothing doubled.
    let v = send_batch(&b.url, &batch).unwrap();
    assert!(
        v["results"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["status"] == "duplicate"),
        "{v}"
    );
    assert_eq!(db.query("SELECT count(*) FROM charges"), "20");
}

/// A webhook endpoint on loopback that holds the first request it gets (reads it, never
/// answers) and answers 200 to every later one; it keeps every body it read.
struct HoldFirst {
    url: String,
    bodies: Arc<Mutex<Vec<Value>>>,
    answered: Arc<AtomicUsize>,
}

impl HoldFirst {
    fn start() -> HoldFirst {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let answered = Arc::new(AtomicUsize::new(0));
        let (b, n) = (bodies.clone(), answered.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let (b, n) = (b.clone(), n.clone());
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(stream.try_clone().unwrap());
                    let Some((_, body)) = read_request(&mut reader) else {
                        return;
                    };
                    let first = {
                        let mut bodies = b.lock().unwrap();
                        bodies.push(serde_json::from_slice(&body).unwrap());
                        bodies.len() == 1
                    };
                    if first {
                        // Held: the connection stays open and silent until the test ends.
                        std::thread::sleep(Duration::from_secs(120));
                        return;
                    }
                    n.fetch_add(1, Ordering::SeqCst);
                    let _ = write!(
                        stream,
                        "HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                    );
                });
            }
        });
        HoldFirst {
            url,
            bodies,
            answered,
        }
    }
}

#[test]
fn a_node_killed_mid_delivery_leaves_the_event_to_another_node() {
    let Some(db) = fresh_db("a_node_killed_mid_delivery_leaves_the_event_to_another_node") else {
        return;
    };
    let url = db.url();
    let hook = HoldFirst::start();
    // A gives a delivery the default 10 s: its claim lasts 15 s of the clock's base, long
    // enough that A's own attempt does not time out while B starts and the clock moves.
    let a = Net::start(Path::new(&url), &[]);
    let (s, ep) = a.post(
        "/v1/webhook_endpoints",
        &[
            ("url", &hook.url),
            ("enabled_events[]", "payment_intent.succeeded"),
        ],
    );
    assert_eq!(s, 200, "{ep}");
    let pi = a.pay(1_500, &[]);
    let now = a.now();
    let (s, v) = a.terminal(
        0,
        "POST",
        "/terminal/v1/confirmations",
        &json!({"confirmations": [slip("hook-1", "lawson", 1_500, now, json!({"barcode": barcode_of(&pi)}))]}),
    );
    assert_eq!(
        (s, v["results"][0]["status"].as_str()),
        (200, Some("accepted")),
        "{v}"
    );
    // Node A sends the event; the endpoint holds it; A is killed mid-delivery.
    until("node A's delivery reaching the endpoint", || {
        !hook.bodies.lock().unwrap().is_empty()
    });
    let event_id = hook.bodies.lock().unwrap()[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // Moving the test clock a day on does not end A's claim: B, over the same database,
    // does not send the event while A is sending it.
    let b = Net::start(Path::new(&url), &[]);
    b.advance(86_400);
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(hook.bodies.lock().unwrap().len(), 1, "sent twice at once");
    a.kill();
    // B takes it once A's claim has lapsed (15 s of the base after A took it).
    until("node B delivering the event", || {
        hook.answered.load(Ordering::SeqCst) >= 1
    });
    let bodies = hook.bodies.lock().unwrap().clone();
    assert_eq!(bodies.len(), 2, "{bodies:?}");
    assert_eq!(bodies[1]["id"], event_id.as_str(), "{bodies:?}");
    // Delivered once, answered 2xx once, and never again after that.
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(hook.bodies.lock().unwrap().len(), 2);
    let (s, d) = b.get("/v1/test_helpers/deliveries");
    assert_eq!(s, 200, "{d}");
    let ours: Vec<&Value> = d["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["event"] == event_id.as_str())
        .collect();
    assert_eq!(ours.len(), 1, "{d}");
    assert_eq!(ours[0]["delivered"], true, "{d}");
}

/// A PostgreSQL cluster of the test's own (initdb and pg_ctl, as the `postgres` user when
/// the test runs as root), in a temporary directory, on a port of its own: stopped and
/// started by the test without touching the shared server. Removed when dropped.
struct OwnCluster {
    dir: PathBuf,
    bin: PathBuf,
    port: u16,
    as_postgres: bool,
}

impl OwnCluster {
    /// Made and started, or None (and a SKIPPED line) where initdb cannot be found outside CI.
    fn start(test: &str) -> Option<OwnCluster> {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .into_iter()
            .flatten()
            .filter_map(|e| Some(e.ok()?.path().join("bin")))
            .filter(|b| b.join("initdb").exists())
            .max();
        let Some(bin) = bin else {
            if std::env::var_os("CI").is_some() {
                panic!("{test}: initdb is required in CI and is not under /usr/lib/postgresql");
            }
            skipped(&format!("{test} needs PostgreSQL's initdb and pg_ctl"));
            return None;
        };
        let uid = Command::new("id").arg("-u").output().unwrap();
        let as_postgres = String::from_utf8_lossy(&uid.stdout).trim() == "0";
        let dir = std::env::temp_dir().join(format!(
            "konbini-pg-{}-{:x}",
            std::process::id(),
            rand_u64()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let cluster = OwnCluster {
            dir,
            bin,
            port,
            as_postgres,
        };
        if as_postgres {
            let ok = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&cluster.dir)
                .status()
                .unwrap();
            assert!(ok.success(), "chown the cluster's directory to postgres");
        }
        let data = cluster.dir.join("data");
        cluster.run(
            "initdb",
            &[
                "-D",
                data.to_str().unwrap(),
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
            ],
        );
        cluster.pg_ctl_start();
        Some(cluster)
    }

    fn run(&self, tool: &str, args: &[&str]) {
        let exe = self.bin.join(tool);
        let mut cmd = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&exe);
            c
        } else {
            Command::new(&exe)
        };
        let out = cmd.args(args).current_dir(&self.dir).output().unwrap();
        assert!(
            out.status.success(),
            "{tool} {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn pg_ctl_start(&self) {
        let data = self.dir.join("data");
        let log = self.dir.join("log");
        let opts = format!(
            "-p {} -c listen_addresses=127.0.0.1 -k {} -c shared_buffers=16MB -c max_connections=60",
            self.port,
            self.dir.display()
        );
        self.run(
            "pg_ctl",
            &[
                "-D",
                data.to_str().unwrap(),
                "-l",
                log.to_str().unwrap(),
                "-w",
                "-o",
                &opts,
                "start",
            ],
        );
    }

    /// Stopped as by a crash (`-m immediate`: no shutdown checkpoint, connections cut).
    fn crash(&self) {
        let data = self.dir.join("data");
        self.run(
            "pg_ctl",
            &[
                "-D",
                data.to_str().unwrap(),
                "-m",
                "immediate",
                "-w",
                "stop",
            ],
        );
    }

    fn server(&self) -> (String, String) {
        ("127.0.0.1".to_owned(), self.port.to_string())
    }
}

impl Drop for OwnCluster {
    fn drop(&mut self) {
        let data = self.dir.join("data");
        let exe = self.bin.join("pg_ctl");
        let mut cmd = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&exe);
            c
        } else {
            Command::new(&exe)
        };
        let _ = cmd
            .args(["-D", data.to_str().unwrap(), "-m", "immediate", "stop"])
            .output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn registers_keep_selling_through_a_database_restart_and_then_drain() {
    let test = "registers_keep_selling_through_a_database_restart_and_then_drain";
    let Some(cluster) = OwnCluster::start(test) else {
        return;
    };
    psql(&cluster.server(), "CREATE DATABASE konbini").unwrap();
    let url = format!("postgres://postgres@127.0.0.1:{}/konbini", cluster.port);
    let node = Net::start(Path::new(&url), &[]);
    let dir = tempdir();
    let mut fleet = konbini()
        .args(["fleet", "--network", &node.url, "--api-key", KEY])
        // Days long enough that the registers are still selling when the server goes down,
        // even where they sell fast: 600 sales each were once done in about a second.
        .args(["--stores", "1", "--registers", "3", "--sales", "3000"])
        .args([
            "--concurrency",
            "3",
            "--drain-timeout",
            "300",
            "--json",
            "--dir",
        ])
        .arg(dir.path().join("fleet"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let confirmed = || -> u64 {
        let (_, h) = node.get("/health");
        h["confirmations"].as_u64().unwrap_or(0)
    };
    until("the first confirmations", || confirmed() > 0);
    cluster.crash();
    let at_crash = confirmed();
    assert!(
        fleet.try_wait().unwrap().is_none(),
        "the fleet had finished its days before the server went down: no outage to sell through"
    );
    // Meanwhile the network answers at once, a Stripe-shaped error, never a hang.
    let asked = Instant::now();
    let (s, v) = node.get("/v1/payment_intents");
    assert!(s == 500 || s == 503, "{s} {v}");
    assert_eq!(v["error"]["type"], "api_error", "{v}");
    assert!(
        asked.elapsed() < Duration::from_secs(20),
        "{:?}",
        asked.elapsed()
    );
    std::thread::sleep(Duration::from_secs(3));
    let (s, v) = node.get("/v1/payment_intents");
    assert!(s == 500 || s == 503, "{s} {v}");
    cluster.pg_ctl_start();
    let out = fleet.wait_with_output().unwrap();
    let summary = finished_fleet(&out);
    let sent = summary["sent"].as_u64().unwrap();
    assert_eq!(
        summary["accepted"].as_u64().unwrap() + summary["duplicate"].as_u64().unwrap(),
        sent,
        "{summary}"
    );
    assert!(
        at_crash < sent,
        "slips sold during the outage queued and drained after it: {at_crash} before, {summary}"
    );
    let stored = psql_in(
        &cluster.server(),
        "konbini",
        "SELECT count(*) FROM confirmations",
    )
    .unwrap();
    assert_eq!(stored.trim(), sent.to_string(), "{summary}");
    drop(node);
}

#[test]
fn a_fleet_spreads_its_registers_over_the_nodes() {
    let Some(db) = fresh_db("a_fleet_spreads_its_registers_over_the_nodes") else {
        return;
    };
    let url = db.url();
    let nodes: Vec<Net> = (0..2).map(|_| Net::start(Path::new(&url), &[])).collect();
    let dir = tempdir();
    let out = konbini()
        .args(["fleet", "--api-key", KEY, "--network"])
        .arg(format!("{},{}", nodes[0].url, nodes[1].url))
        .args(["--stores", "2", "--registers", "2", "--sales", "10"])
        .args(["--concurrency", "4", "--json", "--dir"])
        .arg(dir.path().join("fleet"))
        .output()
        .unwrap();
    let s = finished_fleet(&out);
    // Each register starts at its own node: both judged some of the slips.
    let per_node: Vec<u64> = s["per_node"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n[1].as_u64().unwrap())
        .collect();
    assert_eq!(per_node.len(), 2, "{s}");
    assert!(per_node.iter().all(|n| *n > 0), "{s}");
    assert_eq!(
        db.query("SELECT count(*) FROM confirmations"),
        s["sent"].as_u64().unwrap().to_string(),
        "{s}"
    );
}

/// A `konbini fleet --json` run that succeeded, every register finished and nothing left
/// pending: its summary.
fn finished_fleet(out: &std::process::Output) -> Value {
    assert!(
        out.status.success(),
        "{}{}",
        stdout(out),
        String::from_utf8_lossy(&out.stderr)
    );
    let s: Value = serde_json::from_str(&stdout(out)).unwrap();
    assert_eq!(
        (s["failed"].as_u64(), s["pending"].as_u64()),
        (Some(0), Some(0)),
        "{s}"
    );
    s
}

#[test]
fn an_expiry_is_run_once_whichever_nodes_are_alive() {
    let Some(db) = fresh_db("an_expiry_is_run_once_whichever_nodes_are_alive") else {
        return;
    };
    let url = db.url();
    let nodes: Vec<Net> = (0..3).map(|_| Net::start(Path::new(&url), &[])).collect();
    let ids: Vec<String> = (0..5)
        .map(|i| {
            nodes[i % 3].pay(1_000 + i as i64, &[])["id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    // Past every deadline and its grace: each node's scheduler finds the payments due.
    nodes[0].advance(5 * 86_400);
    for id in &ids {
        nodes[1].wait_pi(id, |pi| pi["status"] == "requires_payment_method");
    }
    // Every scheduler has had its turns (each looks at least once a second).
    std::thread::sleep(Duration::from_secs(3));
    let (s, v) = nodes[2].get("/v1/events?type=payment_intent.payment_failed&limit=100");
    assert_eq!(s, 200, "{v}");
    let mut failed: Vec<&str> = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["data"]["object"]["id"].as_str().unwrap())
        .collect();
    failed.sort_unstable();
    let mut want: Vec<&str> = ids.iter().map(String::as_str).collect();
    want.sort_unstable();
    assert_eq!(
        failed, want,
        "one payment_failed per payment, from whichever node: {v}"
    );
}
