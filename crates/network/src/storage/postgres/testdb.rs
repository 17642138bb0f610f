//! Tests: a fresh database on the PostgreSQL server the tests use, made for one test and
//! dropped after it (on a panic too: the drop runs while the test unwinds).
//!
//! The server is `postgres://postgres@127.0.0.1:5432` (trust auth), or the one in the
//! environment variable [`SERVER_VAR`]: `host:port` as the README, `.ci/run` and the
//! integration tests take it, or a URL without a database name. Where it cannot be reached, [`TestDb::create`] says
//! so on stderr and the test passes without running, unless `CI` is set: there an
//! unreachable server fails the test.

use std::io::Write;
use std::sync::OnceLock;
use std::time::Duration;

use tokio_postgres::NoTls;

/// The environment variable naming another server: `host:port` (user postgres), or a URL
/// without a database name.
pub(crate) const SERVER_VAR: &str = "KONBINI_TEST_POSTGRES";
const DEFAULT_SERVER: &str = "postgres://postgres@127.0.0.1:5432";

/// A database of one test's own.
pub(crate) struct TestDb {
    /// Its URL, for [`super::PostgresStorage::open`].
    pub(crate) url: String,
    server: String,
    name: String,
}

fn server() -> String {
    server_of(std::env::var(SERVER_VAR).ok().as_deref())
}

fn server_of(var: Option<&str>) -> String {
    let var = var.map(str::trim).filter(|s| !s.is_empty());
    let server = match var {
        None => DEFAULT_SERVER.to_owned(),
        Some(url) if url.contains("://") => url.to_owned(),
        Some(host_port) => format!("postgres://postgres@{host_port}"),
    };
    server.trim_end_matches('/').to_owned()
}

#[test]
fn the_server_variable_takes_host_port_or_a_url() {
    assert_eq!(server_of(None), DEFAULT_SERVER);
    assert_eq!(server_of(Some("")), DEFAULT_SERVER);
    assert_eq!(
        server_of(Some("127.0.0.1:5433")),
        "postgres://postgres@127.0.0.1:5433"
    );
    assert_eq!(
        server_of(Some("postgres://me@db.local:6543/")),
        "postgres://me@db.local:6543"
    );
}

/// Run `sql` on the server's maintenance database `postgres`, on a thread and runtime of its
/// own (so it works inside a test's runtime, and in a drop).
fn maintenance(server: &str, sql: String) -> Result<(), String> {
    let url = format!("{server}/postgres");
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        rt.block_on(async {
            let mut config: tokio_postgres::Config =
                url.parse().map_err(|e| format!("{url}: {e}"))?;
            config.connect_timeout(Duration::from_secs(3));
            let (client, conn) = config
                .connect(NoTls)
                .await
                .map_err(|e| format!("cannot connect to {url}: {}", super::db_message(&e)))?;
            let driver = tokio::spawn(conn);
            let done = client
                .batch_execute(&sql)
                .await
                .map_err(|e| format!("{sql}: {}", super::db_message(&e)));
            drop(client);
            let _ = driver.await;
            done
        })
    })
    .join()
    .unwrap_or_else(|_| Err("the maintenance thread panicked".to_owned()))
}

impl TestDb {
    /// A fresh, empty database for the test `test`; `None` (after saying why on stderr)
    /// when no server can be reached and `CI` is not set.
    pub(crate) fn create(test: &str) -> Option<TestDb> {
        // Once one test found no server, the others do not wait for it again.
        static UNREACHABLE: OnceLock<String> = OnceLock::new();
        let server = server();
        let name = format!("konbini_test_{:016x}", rand::random::<u64>());
        let made = match UNREACHABLE.get() {
            Some(e) => Err(e.clone()),
            None => maintenance(&server, format!("CREATE DATABASE {name}")),
        };
        match made {
            Ok(()) => Some(TestDb {
                url: format!("{server}/{name}"),
                server,
                name,
            }),
            Err(e) if std::env::var_os("CI").is_some() => {
                panic!("{test}: PostgreSQL is required in CI and is unreachable: {e}")
            }
            Err(e) => {
                // Straight to the process's stderr, past the test harness's capture (which
                // shows a passing test's output to nobody), once per run.
                if UNREACHABLE.set(e.clone()).is_ok() {
                    let _ = writeln!(
                        std::io::stderr(),
                        "\nSKIPPED: the PostgreSQL storage tests ({test} and the others) need a server: {e}. Start one on 127.0.0.1:5432 (user postgres, trust auth) or set {SERVER_VAR}; with CI set they fail instead.\n"
                    );
                }
                None
            }
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Err(e) = maintenance(
            &self.server,
            format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
        ) {
            eprintln!("could not drop the test database {}: {e}", self.name);
        }
    }
}
