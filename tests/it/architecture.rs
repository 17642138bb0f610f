//! The house's dependency rules (ARCHITECTURE.md), checked on the resolved dependency graph
//! that `cargo metadata` reports: what each crate may link, transitively, in a normal build
//! (dev-dependencies apart). A crate that grows a forbidden dependency fails here, naming
//! the path that brings it in.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use serde_json::Value;

/// This machine's target triple (the graph is resolved for it: packages for other
/// platforms are not downloaded, and the check runs offline).
fn host() -> String {
    let out = Command::new("rustc")
        .arg("-vV")
        .output()
        .expect("run rustc -vV");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .expect("rustc -vV names the host")
        .to_owned()
}

/// Package name -> its normal (non-dev, non-build) dependencies' package names.
fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let out = Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1", "--locked", "--offline"])
        .args(["--filter-platform", &host()])
        .current_dir(super::common::repo())
        .output()
        .expect("run cargo metadata");
    assert!(
        out.status.success(),
        "cargo metadata: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: Value = serde_json::from_slice(&out.stdout).expect("metadata JSON");
    let name_of: BTreeMap<&str, &str> = meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["id"].as_str().unwrap(), p["name"].as_str().unwrap()))
        .collect();
    let mut graph = BTreeMap::new();
    for node in meta["resolve"]["nodes"].as_array().unwrap() {
        let name = name_of[node["id"].as_str().unwrap()].to_owned();
        let deps: BTreeSet<String> = node["deps"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| {
                d["dep_kinds"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|k| k["kind"].is_null())
            })
            .map(|d| name_of[d["pkg"].as_str().unwrap()].to_owned())
            .collect();
        graph.entry(name).or_insert_with(BTreeSet::new).extend(deps);
    }
    graph
}

/// The first path from `from` to a package in `forbidden`, if any.
fn path_to(
    graph: &BTreeMap<String, BTreeSet<String>>,
    from: &str,
    forbidden: &[&str],
) -> Option<Vec<String>> {
    let mut seen = BTreeSet::new();
    let mut stack = vec![vec![from.to_owned()]];
    while let Some(path) = stack.pop() {
        let last = path.last().unwrap();
        if path.len() > 1 && forbidden.contains(&last.as_str()) {
            return Some(path);
        }
        if !seen.insert(last.clone()) {
            continue;
        }
        for d in graph.get(last).into_iter().flatten() {
            let mut next = path.clone();
            next.push(d.clone());
            stack.push(next);
        }
    }
    None
}

#[test]
fn each_crate_links_only_what_the_house_allows() {
    let graph = graph();
    let rules: &[(&str, &[&str])] = &[
        // Pure values: no I/O crates at all.
        (
            "konbini-domain",
            &[
                "tokio",
                "rusqlite",
                "libsqlite3-sys",
                "axum",
                "reqwest",
                "ratatui",
                "crossterm",
            ],
        ),
        (
            "konbini-protocol",
            &["tokio", "rusqlite", "axum", "reqwest", "konbini-register"],
        ),
        // The register core: no runtime, database, terminal, serial port or HTTP.
        (
            "konbini-register",
            &[
                "tokio",
                "rusqlite",
                "libsqlite3-sys",
                "ratatui",
                "crossterm",
                "serialport",
                "tokio-serial",
                "axum",
                "hyper",
                "reqwest",
            ],
        ),
        // The network: never the register, its journal, its devices or its UI.
        (
            "konbini-network",
            &[
                "konbini-register",
                "konbini-journal",
                "konbini-devices",
                "konbini-pos",
                "ratatui",
                "crossterm",
                "serialport",
                "tokio-serial",
            ],
        ),
        (
            "konbini-journal",
            &["tokio", "axum", "reqwest", "ratatui", "konbini-network"],
        ),
        (
            "konbini-devices",
            &["axum", "reqwest", "ratatui", "konbini-network"],
        ),
        // The product: no benchmark or test harness.
        (
            "konbini-pos",
            &["konbini-bench", "insta", "vt100", "proptest", "tempfile"],
        ),
    ];
    for (krate, forbidden) in rules {
        assert!(
            graph.contains_key(*krate),
            "{krate} is not in the workspace"
        );
        if let Some(path) = path_to(&graph, krate, forbidden) {
            panic!(
                "{krate} must not depend on {}: {}",
                path.last().unwrap(),
                path.join(" -> ")
            );
        }
    }
    // And the check itself can see a dependency: the application links every crate.
    assert!(path_to(&graph, "konbini-pos", &["konbini-network"]).is_some());
    assert!(path_to(&graph, "konbini-network", &["rusqlite"]).is_some());
    assert!(path_to(&graph, "konbini-network", &["tokio-postgres"]).is_some());
}

/// Every `.rs` file under `dir`, recursively.
fn rust_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out
}

#[test]
fn inside_the_network_only_its_sqlite_backend_names_sqlite() {
    let src = super::common::repo().join("crates/network/src");
    let backend = src.join("storage/sqlite");
    let files = rust_files(&src);
    assert!(files.len() > 10, "{files:?}");
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for word in ["rusqlite", "INDEXED BY", "wal::"] {
            assert!(
                file.starts_with(&backend) || !text.contains(word),
                "{} names {word:?}: only storage/sqlite/ may",
                file.display()
            );
        }
    }
}

#[test]
fn inside_the_network_only_its_postgres_backend_names_postgresql_s_client() {
    let src = super::common::repo().join("crates/network/src");
    let backend = src.join("storage/postgres");
    let files = rust_files(&src);
    assert!(files.iter().any(|f| f.starts_with(&backend)), "{files:?}");
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for word in ["tokio_postgres", "deadpool", "postgres_types"] {
            assert!(
                file.starts_with(&backend) || !text.contains(word),
                "{} names {word:?}: only storage/postgres/ may",
                file.display()
            );
        }
    }
}
