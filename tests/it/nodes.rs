//! Several `konbini network` nodes over one PostgreSQL database (issue 17), and `konbini
//! fleet` driving many registers at a network. The database is a fresh one per test on the
//! server at 127.0.0.1:5432 (user postgres, trust auth; `KONBINI_TEST_POSTGRES` names
//! another server as `host:port`), made and dropped with `psql`. Without a server these
//! tests say SKIPPED on stderr and pass, unless `CI` is set: there they fail.

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::{konbini, stdout, tempdir};
use crate::network::{KEY, Net, barcode_of, slip};

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
    let out = Command::new("psql")
        .args([
            "-h", &server.0, "-p", &server.1, "-U", "postgres", "-d", "postgres",
        ])
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
            eprintln!(
                "\nSKIPPED: {test} needs PostgreSQL on {}:{} (user postgres, trust auth): {e}\n",
                server.0, server.1
            );
            None
        }
    }
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

/// Wait (up to 30 s: only a hang reaches it) until `check` holds.
fn until(what: &str, mut check: impl FnMut() -> bool) {
    let start = Instant::now();
    while !check() {
        assert!(start.elapsed() < Duration::from_secs(30), "never: {what}");
        std::thread::sleep(Duration::from_millis(50));
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
    // The clock is shared: moved at one node, it moves at the others.
    let before = nodes[2].now();
    nodes[0].advance(86_400);
    until("the clock move reaches the third node", || {
        nodes[2].now() >= before + 86_400
    });
    // A node killed does not take the network with it.
    let mut nodes = nodes;
    nodes.remove(0).kill();
    let (s, v) = nodes[0].get(&format!("/v1/payment_intents/{id}"));
    assert_eq!((s, v["status"].as_str()), (200, Some("succeeded")), "{v}");
    drop(nodes);
    drop(dir);
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
    assert!(
        out.status.success(),
        "{}{}",
        stdout(&out),
        String::from_utf8_lossy(&out.stderr)
    );
    let s: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(s["registers"], 8, "{s}");
    assert_eq!(s["failed"], 0, "{s}");
    assert_eq!(s["pending"], 0, "{s}");
    assert!(s["sales"].as_u64().unwrap() >= 8 * 15, "{s}");
    let sent = s["sent"].as_u64().unwrap();
    assert!(sent > 0, "{s}");
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
