//! The PostgreSQL schema's migrations: the numbered files of `migrations/postgres/`, applied
//! in order, each in the transaction that records its number in `schema_version`.
//!
//! Nodes may start together on one new database: each migrates under a transaction-level
//! advisory lock, so one applies the files and the others find them applied. A database
//! whose version is newer than this build's is refused untouched (an older network must not
//! write into a schema it does not know), and so is one that has tables but no
//! `schema_version` of this network's (another application's database, or the wrong URL).

use super::{CLIENT_TIMEOUT_OPEN, OpenError, db_message};

/// The migrations, oldest first; version `n` is `MIGRATIONS[n - 1]`.
pub(super) const MIGRATIONS: &[&str] = &[
    include_str!("../../../migrations/postgres/0001_network.sql"),
    include_str!("../../../migrations/postgres/0002_terminals.sql"),
    include_str!("../../../migrations/postgres/0003_pi_sequence.sql"),
    include_str!("../../../migrations/postgres/0004_collected_once.sql"),
    include_str!("../../../migrations/postgres/0005_chain_heads.sql"),
    include_str!("../../../migrations/postgres/0006_customer_journey.sql"),
    include_str!("../../../migrations/postgres/0007_checkout.sql"),
    include_str!("../../../migrations/postgres/0008_voucher_token.sql"),
    include_str!("../../../migrations/postgres/0009_confirmation_rows.sql"),
];

/// The name this network's schema goes by in `schema_version`.
const APPLICATION: &str = "konbini-network";

/// Any number unique to this lock: "konbini" in ASCII.
const MIGRATION_LOCK: i64 = 0x006b_6f6e_6269_6e69;

/// The newest schema this build knows.
pub(super) fn latest() -> i64 {
    MIGRATIONS.len() as i64
}

/// Bring the database `client` is connected to up to [`latest`].
pub(super) async fn to_latest(
    client: &tokio_postgres::Client,
    target: &str,
) -> Result<(), OpenError> {
    let schema = |detail: String| OpenError::Schema {
        target: target.to_owned(),
        detail,
    };
    let db = |e: tokio_postgres::Error| OpenError::Database {
        target: target.to_owned(),
        detail: db_message(&e),
    };
    let run = async {
        client.batch_execute("BEGIN").await.map_err(db)?;
        client
            .execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .await
            .map_err(db)?;
        let has_versions: bool = client
            .query_one("SELECT to_regclass('schema_version') IS NOT NULL", &[])
            .await
            .map_err(db)?
            .get(0);
        let current: i64 = if has_versions {
            let rows = client
                .query("SELECT application, version FROM schema_version", &[])
                .await
                .map_err(|e| {
                    schema(format!(
                        "its schema_version table is not this network's ({})",
                        db_message(&e)
                    ))
                })?;
            match rows.as_slice() {
                [row] => {
                    let app: String = row.try_get(0).map_err(db)?;
                    if app != APPLICATION {
                        return Err(schema(format!(
                            "it holds the schema of {app:?}, not of the konbini network"
                        )));
                    }
                    row.try_get(1).map_err(db)?
                }
                _ => {
                    return Err(schema(format!(
                        "its schema_version table has {} rows, expected one",
                        rows.len()
                    )));
                }
            }
        } else {
            let tables: Vec<String> = client
                .query(
                    "SELECT tablename::text FROM pg_tables WHERE schemaname = current_schema()
                     ORDER BY tablename LIMIT 5",
                    &[],
                )
                .await
                .map_err(db)?
                .iter()
                .map(|r| r.get(0))
                .collect();
            if !tables.is_empty() {
                return Err(schema(format!(
                    "it has tables of another schema ({}) and no konbini network schema_version; give the network a database of its own",
                    tables.join(", ")
                )));
            }
            client
                .batch_execute(
                    "CREATE TABLE schema_version (application TEXT NOT NULL, version BIGINT NOT NULL)",
                )
                .await
                .map_err(db)?;
            client
                .execute(
                    "INSERT INTO schema_version (application, version) VALUES ($1, 0)",
                    &[&APPLICATION],
                )
                .await
                .map_err(db)?;
            0
        };
        if current > latest() {
            return Err(schema(format!(
                "its schema is version {current}, newer than this build's {}; use a newer konbini",
                latest()
            )));
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
            let version = i as i64 + 1;
            client
                .batch_execute(sql)
                .await
                .map_err(|e| schema(format!("migration {version} failed: {}", db_message(&e))))?;
            client
                .execute("UPDATE schema_version SET version = $1", &[&version])
                .await
                .map_err(db)?;
        }
        client.batch_execute("COMMIT").await.map_err(db)?;
        Ok(())
    };
    match tokio::time::timeout(CLIENT_TIMEOUT_OPEN, run).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => {
            let _ = client.batch_execute("ROLLBACK").await;
            Err(e)
        }
        Err(_) => Err(OpenError::Database {
            target: target.to_owned(),
            detail: format!(
                "migrating took longer than {} s",
                CLIENT_TIMEOUT_OPEN.as_secs()
            ),
        }),
    }
}
