//! The verdict chain: appended, hash-chained records of what the network answered, and
//! when, for the outbox rows that leave `pending` (one record per answer, or per run of
//! plain `sent` answers written as one key range), written in the transaction that moves
//! them, so that `verify` can prove every state the outbox shows and that states only
//! moved forward. Its head is kept in `meta` (`verdict_head_seq`, `verdict_head_hash`) as
//! the sale chain's is. Records are only ever appended here; nothing changes or deletes one.

use rusqlite::{Connection, params};

use super::record::{GENESIS_HASH, SyncState, VerdictRecord};

/// The verdict chain's head: how many records, and the last one's hash (`""` while none).
pub(crate) fn head(conn: &Connection) -> rusqlite::Result<(u64, String)> {
    let mut st = conn.prepare_cached(
        "SELECT (SELECT value FROM meta WHERE key = 'verdict_head_seq'),
                (SELECT value FROM meta WHERE key = 'verdict_head_hash')",
    )?;
    st.query_row([], |r| {
        let seq: String = r.get(0)?;
        let hash: String = r.get(1)?;
        let seq = seq.parse::<u64>().map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, e.into())
        })?;
        Ok((seq, hash))
    })
}

/// Appends records after the chain's head inside the caller's write transaction; the head
/// in `meta` is written once, by [`Appender::finish`], whatever the number of records.
pub(crate) struct Appender {
    seq: u64,
    hash: String,
    appended: bool,
}

impl Appender {
    /// Start after the current head.
    pub(crate) fn start(conn: &Connection) -> rusqlite::Result<Appender> {
        let (seq, hash) = head(conn)?;
        Ok(Appender {
            seq,
            hash: if seq == 0 {
                GENESIS_HASH.to_owned()
            } else {
                hash
            },
            appended: false,
        })
    }

    /// Append the record of the rows from `first` to `last` still pending moving to
    /// `state` (one row when `first == last`).
    pub(crate) fn append(
        &mut self,
        conn: &Connection,
        (first, last): ((u64, u32), (u64, u32)),
        state: SyncState,
        answered_at_ms: Option<i64>,
        detail: Option<&str>,
    ) -> rusqlite::Result<()> {
        let record = VerdictRecord {
            seq: self.seq + 1,
            first,
            last,
            state,
            answered_at_ms,
            detail: detail.map(str::to_owned),
        };
        let hash = record.hash(&self.hash);
        conn.prepare_cached(
            "INSERT INTO verdicts (seq, sale_seq, idx, last_sale_seq, last_idx, state,
                                   answered_at, detail, hash)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )?
        .execute(params![
            record.seq as i64,
            first.0 as i64,
            first.1,
            last.0 as i64,
            last.1,
            state.as_str(),
            answered_at_ms,
            detail,
            hash,
        ])?;
        self.seq = record.seq;
        self.hash = hash;
        self.appended = true;
        Ok(())
    }

    /// Write the new head (nothing when nothing was appended).
    pub(crate) fn finish(self, conn: &Connection) -> rusqlite::Result<()> {
        if self.appended {
            let mut meta = conn.prepare_cached("UPDATE meta SET value = ?2 WHERE key = ?1")?;
            meta.execute(params!["verdict_head_seq", self.seq.to_string()])?;
            meta.execute(params!["verdict_head_hash", self.hash])?;
        }
        Ok(())
    }
}

/// The migration that adds the chain (0004): records of the outbox rows already out of
/// `pending`, in key order, their answers' time not known: a run of consecutive `sent`
/// rows without a reason as one range (as the sync task records them), any other as one
/// row, its reason the row's last error. Those states are taken as they are: before this
/// migration nothing recorded them. A row whose state or key is not one konbini writes is
/// left out (verify reports it).
pub(crate) fn record_existing(tx: &rusqlite::Transaction) -> rusqlite_migration::HookResult {
    use rusqlite::types::ValueRef;
    let mut appender = Appender::start(tx)?;
    let mut st =
        tx.prepare("SELECT sale_seq, idx, state, last_error FROM outbox ORDER BY sale_seq, idx")?;
    let mut rows = st.query([])?;
    // The run of plain `sent` rows being gathered: its first and last keys.
    let mut run: Option<((u64, u32), (u64, u32))> = None;
    while let Some(r) = rows.next()? {
        let key = match (r.get_ref(0)?, r.get_ref(1)?) {
            (ValueRef::Integer(seq), ValueRef::Integer(idx)) => {
                match (u64::try_from(seq), u32::try_from(idx)) {
                    (Ok(seq), Ok(idx)) => Some((seq, idx)),
                    _ => None,
                }
            }
            _ => None,
        };
        let state = match r.get_ref(2)? {
            ValueRef::Text(t) => std::str::from_utf8(t).ok().and_then(SyncState::parse),
            _ => None,
        };
        let detail = match r.get_ref(3)? {
            ValueRef::Text(t) => std::str::from_utf8(t).ok(),
            _ => None,
        };
        match (key, state) {
            (Some(key), Some(SyncState::Sent)) if detail.is_none() => {
                run = Some(run.map_or((key, key), |(first, _)| (first, key)));
                continue;
            }
            (Some(key), Some(state)) if state != SyncState::Pending => {
                if let Some(range) = run.take() {
                    appender.append(tx, range, SyncState::Sent, None, None)?;
                }
                appender.append(tx, (key, key), state, None, detail)?;
            }
            // A pending row (or one verify will report) ends the run.
            _ => {
                if let Some(range) = run.take() {
                    appender.append(tx, range, SyncState::Sent, None, None)?;
                }
            }
        }
    }
    if let Some(range) = run {
        appender.append(tx, range, SyncState::Sent, None, None)?;
    }
    appender.finish(tx)?;
    Ok(())
}
