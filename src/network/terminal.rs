//! The terminal API (`/terminal/v1`): what registers call. Request signatures, payment
//! look-ups for keyed-in codes, and batches of cash confirmations with the
//! accepted / duplicate / conflict / rejected semantics of spec/network-api.md; and each
//! terminal's journal chain, with forks flagged and gaps reported.
//!
//! The confirmation logic runs inside one store transaction per batch; the network holds one
//! writer, so two terminals confirming the same payment at once are serialised and exactly
//! one is `accepted`.

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use rusqlite::{OptionalExtension, params};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::Sha256;

use super::Settings;
use super::error::TerminalError;
use super::objects::PiStatus;
use super::payments::{self, PaidAt};
use super::store::Tx;
use crate::domain::{BillBarcode, Chain};

/// Seconds a signature stays valid either side of the network's clock.
pub const SIGNATURE_WINDOW_SECONDS: i64 = 300;
/// The largest journal sequence number taken (JSON's safe integers): the chain arithmetic
/// around it (seq - 1, seq + 1) never overflows.
const MAX_JOURNAL_SEQ: i64 = (1 << 53) - 1;
/// Most confirmations in one batch.
pub const MAX_BATCH: usize = 500;
/// Customer names are cut to this many characters in stores.
const STORE_NAME_CHARS: usize = 20;
/// What stores show when the merchant gave no product description.
const DEFAULT_PRODUCT_DESCRIPTION: &str = "お買い上げ商品・サービス";

type HmacSha256 = Hmac<Sha256>;

/// The lowercase hex HMAC-SHA256 of `message` under `secret`.
pub fn hmac_hex(secret: &[u8], message: &[u8]) -> String {
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(message);
    use std::fmt::Write;
    mac.finalize()
        .into_bytes()
        .iter()
        .fold(String::with_capacity(64), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// The `Konbini-Signature` value a terminal sends for a request.
pub fn sign(secret: &str, t: i64, method: &str, path_and_query: &str, body: &[u8]) -> String {
    let mut msg = format!("{t}.{method}.{path_and_query}.").into_bytes();
    msg.extend_from_slice(body);
    format!("t={t},v1={}", hmac_hex(secret.as_bytes(), &msg))
}

/// Check a request's terminal headers; returns the terminal id.
///
/// A request replayed within the window is let through on purpose: a register resending a
/// batch in the same second signs it identically, and every write is idempotent by slip id
/// (a replay is answered `duplicate` and changes nothing). Outside the window it is stale.
pub fn authenticate(
    settings: &Settings,
    terminal: Option<&str>,
    signature: Option<&str>,
    method: &str,
    path_and_query: &str,
    body: &[u8],
    now: i64,
) -> Result<String, TerminalError> {
    let terminal = terminal
        .ok_or_else(|| TerminalError::unauthorized("the Konbini-Terminal header is missing"))?;
    let secret = settings.terminals.get(terminal).ok_or_else(|| {
        TerminalError::unauthorized(format!(
            "terminal {terminal:?} is not known to this network"
        ))
    })?;
    let signature = signature
        .ok_or_else(|| TerminalError::unauthorized("the Konbini-Signature header is missing"))?;
    let mut t = None;
    let mut v1 = Vec::new();
    for part in signature.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => t = v.parse::<i64>().ok(),
            Some(("v1", v)) => v1.push(v),
            _ => {}
        }
    }
    let t = t.ok_or_else(|| {
        TerminalError::unauthorized("the Konbini-Signature header has no t=<unix seconds>")
    })?;
    if now.abs_diff(t) > SIGNATURE_WINDOW_SECONDS as u64 {
        return Err(TerminalError::unauthorized(format!(
            "the signature's time {t} is more than {SIGNATURE_WINDOW_SECONDS} s from the network's clock ({now})"
        )));
    }
    let expected = sign(secret, t, method, path_and_query, body);
    let expected_v1 = &expected[expected.find("v1=").map_or(0, |i| i + 3)..];
    let ok = v1
        .iter()
        .any(|v| constant_time_eq(v.as_bytes(), expected_v1.as_bytes()));
    if !ok {
        return Err(TerminalError::unauthorized(
            "the signature does not match (wrong secret, or the request was changed)",
        ));
    }
    Ok(terminal.to_owned())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// `GET /terminal/v1/lookup`.
pub fn lookup(
    tx: &Tx<'_>,
    settings: &Settings,
    chain: &str,
    code: &str,
    number: &str,
    now: i64,
) -> Result<Value, TerminalError> {
    let unknown = || TerminalError {
        status: axum::http::StatusCode::NOT_FOUND,
        code: "unknown_payment",
        message: "no payment has this code and confirmation number at this chain".into(),
        payment_status: None,
    };
    if chain.parse::<Chain>().is_err() {
        return Err(TerminalError::invalid(format!(
            "chain {chain:?} is not familymart, lawson, ministop or seicomart"
        )));
    }
    let pi = tx.pi_by_code(chain, code)?.ok_or_else(unknown)?;
    let Some(voucher) = &pi.voucher else {
        return Err(unknown());
    };
    if voucher.confirmation_number != number {
        return Err(unknown());
    }
    let current =
        voucher.codes.get(&chain.parse::<Chain>().expect("checked")) == Some(&code.to_owned());
    let state = match pi.status {
        PiStatus::Succeeded => Some("succeeded"),
        PiStatus::Canceled => Some("canceled"),
        PiStatus::RequiresAction if current && now <= voucher.expires_at => None,
        _ => Some("expired"),
    };
    if let Some(s) = state {
        return Err(TerminalError {
            status: axum::http::StatusCode::CONFLICT,
            code: "not_payable",
            message: format!("payment {} is {s}", pi.id),
            payment_status: Some(s),
        });
    }
    let name = pi.billing.as_ref().map_or(String::new(), |b| {
        b.name.chars().take(STORE_NAME_CHARS).collect()
    });
    Ok(json!({
        "payment": pi.id,
        "amount": pi.amount,
        "currency": "jpy",
        "merchant": settings.merchant_name,
        "description": pi.konbini.product_description.as_deref().unwrap_or(DEFAULT_PRODUCT_DESCRIPTION),
        "customer_name": name,
        "expires_at": voucher.expires_at,
    }))
}

/// A terminal's link in its journal chain.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct JournalLink {
    seq: i64,
    prev: String,
    hash: String,
}

/// One confirmation as a register sends it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfirmationIn {
    id: String,
    store: String,
    /// The store's chain; may be unknown for a scanned bill barcode.
    #[serde(default)]
    chain: Option<Chain>,
    paid_at: String,
    amount: i64,
    #[serde(default)]
    barcode: Option<String>,
    #[serde(default)]
    payment_code: Option<String>,
    #[serde(default)]
    confirmation_number: Option<String>,
    #[serde(default)]
    journal: Option<JournalLink>,
}

/// The result for one confirmation, as the response lists it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Outcome {
    /// The slip id (empty when the item had none).
    pub id: String,
    /// `accepted`, `duplicate`, `conflict`, `rejected`.
    pub status: &'static str,
    /// Why, for conflicts and rejections.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The body of a confirmations response.
#[derive(serde::Serialize)]
pub struct Results<'a> {
    /// One per confirmation, in the batch's order.
    pub results: &'a [Outcome],
}

fn rejected(id: &str, reason: impl Into<String>) -> Outcome {
    Outcome {
        id: id.to_owned(),
        status: "rejected",
        reason: Some(reason.into()),
    }
}

fn is_hex64(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// One confirmation of a batch, read and checked as far as it can be without the store, in
/// the request's own task (so the single writer does less): ready for the writer, or its
/// answer already (`rejected`).
#[derive(Debug)]
pub struct Parsed(Result<Prepared, Outcome>);

/// A confirmation whose fields are valid.
#[derive(Debug)]
pub struct Prepared {
    c: ConfirmationIn,
    paid_at: DateTime<Utc>,
    /// What a resend must repeat exactly.
    fingerprint: String,
    /// Scanned: the bill barcode read, or why it cannot be (answered after the duplicate check,
    /// as the writer would).
    barcode: Option<Result<BillBarcode, String>>,
}

/// Check what needs no store: the id, amount, time, the way it was paid, the journal link.
fn prepare(c: ConfirmationIn) -> Result<Prepared, Outcome> {
    let id = c.id.as_str();
    if c.id.is_empty() || c.id.len() > 255 {
        return Err(rejected(id, "invalid: id must be 1-255 characters"));
    }
    if c.amount <= 0 {
        return Err(rejected(
            id,
            "invalid: amount must be a positive number of yen",
        ));
    }
    let Ok(paid_at) = DateTime::parse_from_rfc3339(&c.paid_at) else {
        return Err(rejected(id, "invalid: paid_at is not an RFC 3339 time"));
    };
    let paid_at = paid_at.with_timezone(&Utc);
    match (&c.barcode, &c.payment_code, &c.confirmation_number) {
        (Some(_), None, None) | (None, Some(_), Some(_)) => {}
        _ => {
            return Err(rejected(
                id,
                "invalid: send either barcode, or payment_code and confirmation_number",
            ));
        }
    }
    if let Some(j) = &c.journal
        && (!(1..=MAX_JOURNAL_SEQ).contains(&j.seq) || !is_hex64(&j.prev) || !is_hex64(&j.hash))
    {
        return Err(rejected(
            id,
            "invalid_journal: seq must be 1 to 2^53 - 1 and prev and hash 64 lowercase hex digits",
        ));
    }
    let fingerprint = format!(
        "{}|{}|{}|{}|{}|{}|{}",
        c.store,
        c.chain.map_or("", Chain::as_str),
        paid_at.timestamp_millis(),
        c.amount,
        c.barcode.as_deref().unwrap_or(""),
        c.payment_code.as_deref().unwrap_or(""),
        c.confirmation_number.as_deref().unwrap_or("")
    );
    let barcode = c
        .barcode
        .as_deref()
        .map(|text| BillBarcode::parse(text).map_err(|e| e.to_string()));
    Ok(Prepared {
        c,
        paid_at,
        fingerprint,
        barcode,
    })
}

#[derive(Deserialize)]
struct BatchIn<'a> {
    #[serde(borrow)]
    confirmations: Vec<&'a serde_json::value::RawValue>,
}

/// Check a `POST /terminal/v1/confirmations` body's shape and parse its confirmations, at
/// most [`MAX_BATCH`]. A confirmation that cannot be read is kept, to be answered
/// `rejected`; a body that is not a batch at all is refused whole.
pub fn parse_batch(body: &[u8]) -> Result<Vec<Parsed>, TerminalError> {
    let batch: BatchIn<'_> = serde_json::from_slice(body).map_err(|e| {
        TerminalError::invalid(format!(
            "the body is not {{\"confirmations\": [...]}} JSON: {e}"
        ))
    })?;
    if batch.confirmations.len() > MAX_BATCH {
        return Err(TerminalError::invalid(format!(
            "{} confirmations in one batch; at most {MAX_BATCH}",
            batch.confirmations.len()
        )));
    }
    Ok(batch
        .confirmations
        .into_iter()
        .map(|raw| {
            Parsed(
                serde_json::from_str::<ConfirmationIn>(raw.get())
                    .map_err(|e| {
                        let id = serde_json::from_str::<Value>(raw.get())
                            .ok()
                            .and_then(|v| v.get("id").and_then(Value::as_str).map(str::to_owned))
                            .unwrap_or_default();
                        rejected(&id, format!("invalid: {e}"))
                    })
                    .and_then(prepare),
            )
        })
        .collect())
}

/// Judge and record a parsed batch in `tx`. Returns the outcomes, in order, and whether
/// anything was accepted (to wake webhook delivery).
pub fn apply_batch(
    tx: &Tx<'_>,
    settings: &Settings,
    terminal: &str,
    items: Vec<Parsed>,
    now: i64,
) -> Result<(Vec<Outcome>, bool), TerminalError> {
    let mut results = Vec::with_capacity(items.len());
    let mut any = false;
    let mut chain = ChainCursor {
        max_seq: tx
            .conn()
            .prepare_cached("SELECT MAX(seq) FROM terminal_chain WHERE terminal = ?1")?
            .query_row([terminal], |r| r.get(0))?,
        last: None,
    };
    for item in items {
        let outcome = confirm_one(tx, settings, terminal, item, now, &mut chain)?;
        any |= outcome.status == "accepted";
        results.push(outcome);
    }
    Ok((results, any))
}

fn confirm_one(
    tx: &Tx<'_>,
    settings: &Settings,
    terminal: &str,
    item: Parsed,
    now: i64,
    chain: &mut ChainCursor,
) -> Result<Outcome, TerminalError> {
    let Prepared {
        c,
        paid_at,
        fingerprint,
        barcode: read,
    } = match item.0 {
        Ok(p) => p,
        Err(outcome) => return Ok(outcome),
    };
    let id = c.id.clone();
    let conn = tx.conn();
    let before: Option<(String, String, Option<String>)> = conn
        .prepare_cached("SELECT fingerprint, status, reason FROM confirmations WHERE id = ?1")?
        .query_row([&c.id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?;
    if let Some((fp, status, reason)) = before {
        if fp != fingerprint {
            return Ok(rejected(&id, "idempotency_mismatch"));
        }
        return Ok(Outcome {
            id,
            status: if status == "accepted" {
                "duplicate"
            } else {
                "conflict"
            },
            reason,
        });
    }
    if let Some(j) = &c.journal {
        track_chain(tx, terminal, j, now, chain)?;
    }
    // Which payment, and may it be paid?
    // A keyed-in code from a voucher the payment no longer has (it was confirmed again and
    // given new codes) is not payable, as its look-up says.
    let mut stale_code = false;
    let (pi, barcode) = if let Some(read) = read {
        let code = match read {
            Ok(b) => b,
            Err(e) => return Ok(rejected(&id, format!("invalid_barcode: {e}"))),
        };
        if code.amount().get() != c.amount as u64 {
            return Ok(rejected(&id, "amount_mismatch"));
        }
        if code.company_code() != settings.company_code {
            return collect_for_other_biller(tx, terminal, &c, &fingerprint, code.as_str(), now);
        }
        let seq = code
            .free_area()
            .parse::<u128>()
            .ok()
            .and_then(|n| i64::try_from(n).ok());
        let Some(pi) = seq.map(|s| tx.pi_by_seq(s)).transpose()?.flatten() else {
            return Ok(rejected(&id, "unknown_payment"));
        };
        (pi, Some(code.as_str().to_owned()))
    } else {
        let code = c.payment_code.as_deref().unwrap_or("");
        let number = c.confirmation_number.as_deref().unwrap_or("");
        let Some(chain) = c.chain else {
            return Ok(rejected(&id, "invalid: a keyed-in payment needs its chain"));
        };
        let Some(pi) = tx.pi_by_code(chain.as_str(), code)? else {
            return Ok(rejected(&id, "unknown_payment"));
        };
        if pi.voucher.as_ref().map(|v| v.confirmation_number.as_str()) != Some(number) {
            return Ok(rejected(
                &id,
                "unknown_payment: the confirmation number does not match",
            ));
        }
        stale_code = pi
            .voucher
            .as_ref()
            .and_then(|v| v.codes.get(&chain))
            .map(String::as_str)
            != Some(code);
        (pi, None)
    };
    if pi.amount != c.amount {
        return Ok(rejected(&id, "amount_mismatch"));
    }
    let pi_seq = pi.seq;
    let deadline = pi.voucher.as_ref().map(|v| v.expires_at + v.grace_seconds);
    let in_time = deadline.is_some_and(|d| paid_at.timestamp() <= d);
    let verdict: Result<(), &str> = match pi.status {
        PiStatus::RequiresAction if in_time && !stale_code => Ok(()),
        PiStatus::RequiresPaymentMethod if pi.expired && in_time && !stale_code => Ok(()),
        PiStatus::RequiresAction | PiStatus::RequiresPaymentMethod if pi.voucher.is_some() => {
            Err("expired")
        }
        PiStatus::Succeeded => Err("already_paid"),
        PiStatus::Canceled => Err("canceled"),
        _ => return Ok(rejected(&id, "not_payable: the payment has no voucher")),
    };
    let (status, reason) = match verdict {
        Ok(()) => {
            let mut pi = pi;
            let paid = PaidAt {
                chain: c.chain,
                store: Some(&c.store),
                confirmation: Some(&c.id),
                at: paid_at,
            };
            payments::succeed(tx, &mut pi, &paid, now).map_err(|e| TerminalError {
                status: axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                code: "internal",
                message: e.message,
                payment_status: None,
            })?;
            ("accepted", None)
        }
        Err(r) => ("conflict", Some(r.to_owned())),
    };
    let outcome = Outcome { id, status, reason };
    record(
        tx,
        terminal,
        &c,
        &fingerprint,
        &outcome,
        Some(pi_seq),
        barcode.as_deref(),
        now,
    )?;
    Ok(outcome)
}

/// Keep an accepted or conflicting confirmation under its slip id.
#[allow(clippy::too_many_arguments)]
fn record(
    tx: &Tx<'_>,
    terminal: &str,
    c: &ConfirmationIn,
    fingerprint: &str,
    outcome: &Outcome,
    pi_seq: Option<i64>,
    barcode: Option<&str>,
    now: i64,
) -> rusqlite::Result<()> {
    tx.conn()
        .prepare_cached(
            "INSERT INTO confirmations (id, terminal, fingerprint, status, reason, pi_seq, chain, store,
             amount, paid_at, barcode, received_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
        )?
        .execute(params![
            c.id,
            terminal,
            fingerprint,
            outcome.status,
            outcome.reason,
            pi_seq,
            c.chain.map_or("", Chain::as_str),
            c.store,
            c.amount,
            c.paid_at,
            barcode,
            now
        ])?;
    Ok(())
}

/// A slip of another biller: the network collects for it (no PaymentIntent). Paying the
/// same slip twice is a conflict.
fn collect_for_other_biller(
    tx: &Tx<'_>,
    terminal: &str,
    c: &ConfirmationIn,
    fingerprint: &str,
    barcode: &str,
    now: i64,
) -> Result<Outcome, TerminalError> {
    let conn = tx.conn();
    let paid_before: bool = conn
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM confirmations INDEXED BY confirmations_collected
             WHERE barcode = ?1 AND pi_seq IS NULL AND status = 'accepted')",
        )?
        .query_row([barcode], |r| r.get(0))?;
    let (status, reason) = if paid_before {
        ("conflict", Some("already_paid".to_owned()))
    } else {
        ("accepted", None)
    };
    let outcome = Outcome {
        id: c.id.clone(),
        status,
        reason,
    };
    record(
        tx,
        terminal,
        c,
        fingerprint,
        &outcome,
        None,
        Some(barcode),
        now,
    )?;
    Ok(outcome)
}

/// What a batch knows of its terminal's chain, to spare the look-ups whose answers it
/// already has (terminal_chain rows are never changed once written).
struct ChainCursor {
    /// The highest sale number held: nothing is held after it.
    max_seq: Option<i64>,
    /// The link this batch recorded last: sale number and hash.
    last: Option<(i64, String)>,
}

/// Record a journal link; flag a fork when it contradicts what the network already holds.
fn track_chain(
    tx: &Tx<'_>,
    terminal: &str,
    j: &JournalLink,
    now: i64,
    cursor: &mut ChainCursor,
) -> Result<(), TerminalError> {
    let conn = tx.conn();
    let get = |seq: i64| -> rusqlite::Result<Option<(String, String)>> {
        conn.prepare_cached(
            "SELECT prev, hash FROM terminal_chain WHERE terminal = ?1 AND seq = ?2",
        )?
        .query_row(params![terminal, seq], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()
    };
    let flag = |seq: i64, detail: String| -> rusqlite::Result<()> {
        conn.prepare_cached(
            "INSERT INTO chain_flags (terminal, seq, kind, detail, at) VALUES (?1, ?2, 'fork', ?3, ?4)",
        )?
        .execute(params![terminal, seq, detail, now])?;
        Ok(())
    };
    let inserted = conn
        .prepare_cached(
            "INSERT OR IGNORE INTO terminal_chain (terminal, seq, prev, hash) VALUES (?1, ?2, ?3, ?4)",
        )?
        .execute(params![terminal, j.seq, j.prev, j.hash])?
        == 1;
    if !inserted {
        if let Some((prev, hash)) = get(j.seq)?
            && (prev != j.prev || hash != j.hash)
        {
            flag(
                j.seq,
                format!(
                    "sale {} was first sent with hash {hash}, now with {}",
                    j.seq, j.hash
                ),
            )?;
        }
        return Ok(());
    }
    let before_hash = match &cursor.last {
        Some((seq, hash)) if *seq == j.seq - 1 => Some(hash.clone()),
        _ => get(j.seq - 1)?.map(|(_, hash)| hash),
    };
    if let Some(before_hash) = before_hash
        && before_hash != j.prev
    {
        flag(
            j.seq,
            format!(
                "sale {} links to {} but sale {} has hash {before_hash}",
                j.seq,
                j.prev,
                j.seq - 1
            ),
        )?;
    }
    if cursor.max_seq.is_some_and(|max| j.seq < max)
        && let Some((after_prev, _)) = get(j.seq + 1)?
        && after_prev != j.hash
    {
        flag(
            j.seq + 1,
            format!(
                "sale {} links to {after_prev} but sale {} has hash {}",
                j.seq + 1,
                j.seq,
                j.hash
            ),
        )?;
    }
    cursor.max_seq = Some(cursor.max_seq.map_or(j.seq, |m| m.max(j.seq)));
    cursor.last = Some((j.seq, j.hash.clone()));
    Ok(())
}

/// A terminal's chain as the network holds it: head, gaps (missing sale numbers below the
/// head) and forks.
pub fn chain_report(tx: &Tx<'_>, terminal: &str) -> Result<Value, TerminalError> {
    let conn = tx.conn();
    let seqs: Vec<i64> = conn
        .prepare_cached("SELECT seq FROM terminal_chain WHERE terminal = ?1 ORDER BY seq")?
        .query_map([terminal], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let mut gaps = Vec::new();
    let mut expect = 1;
    for s in &seqs {
        if *s > expect {
            gaps.push(json!({"from": expect, "to": s - 1}));
        }
        expect = s + 1;
    }
    let head: Option<(i64, String)> = conn
        .prepare_cached(
            "SELECT seq, hash FROM terminal_chain WHERE terminal = ?1 ORDER BY seq DESC LIMIT 1",
        )?
        .query_row([terminal], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let forks: Vec<Value> = conn
        .prepare_cached(
            "SELECT seq, detail, at FROM chain_flags WHERE terminal = ?1 AND kind = 'fork' ORDER BY id",
        )?
        .query_map([terminal], |r| {
            Ok(json!({"seq": r.get::<_, i64>(0)?, "detail": r.get::<_, String>(1)?, "at": r.get::<_, i64>(2)?}))
        })?
        .collect::<Result<_, _>>()?;
    Ok(json!({
        "terminal": terminal,
        "head": head.as_ref().map(|(s, h)| json!({"seq": s, "hash": h})),
        "sales_seen": seqs.len(),
        "gaps": gaps,
        "forks": forks,
        "intact": gaps.is_empty() && forks.is_empty(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_hmac_of_time_method_path_and_body() {
        // Computed independently: python3 -c "import hmac,hashlib;
        // print(hmac.new(b's3cret', b'1700000000.POST./terminal/v1/confirmations.{}', hashlib.sha256).hexdigest())"
        let s = sign(
            "s3cret",
            1_700_000_000,
            "POST",
            "/terminal/v1/confirmations",
            b"{}",
        );
        assert_eq!(
            s,
            "t=1700000000,v1=128d24da00f5004bd987ea0a194890afbe07160adf7ee466bc7a9f9852ab2c76"
        );
    }

    /// Sale numbers of the forks the network flagged, in order.
    fn forks(tx: &Tx<'_>) -> Vec<i64> {
        chain_report(tx, "t1").unwrap()["forks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["seq"].as_i64().unwrap())
            .collect()
    }

    #[test]
    fn links_known_to_the_batch_are_checked_as_if_read_back() {
        let h = |n: u8| format!("{n:02x}").repeat(32);
        let link = |seq: i64, prev: u8, hash: u8| JournalLink {
            seq,
            prev: h(prev),
            hash: h(hash),
        };
        let mut store =
            crate::network::store::Store::open(std::path::Path::new(":memory:")).unwrap();
        let tx = store.write().unwrap();
        let batch = |links: &[JournalLink]| {
            let mut cursor = ChainCursor {
                max_seq: tx
                    .conn()
                    .query_row(
                        "SELECT MAX(seq) FROM terminal_chain WHERE terminal = 't1'",
                        [],
                        |r| r.get(0),
                    )
                    .unwrap(),
                last: None,
            };
            for l in links {
                track_chain(&tx, "t1", l, 0, &mut cursor).unwrap();
            }
        };
        // In one batch: 2 follows 1 (the link known to the batch), 3 does not follow 2.
        batch(&[link(1, 0, 1), link(2, 1, 2), link(3, 9, 3)]);
        assert_eq!(forks(&tx), [3]);
        // Sale 6 first, then 5 whose hash is not what 6 links to: the successor is read.
        batch(&[link(6, 5, 6)]);
        batch(&[link(5, 4, 7)]);
        assert_eq!(forks(&tx), [3, 6]);
        // Sale 2 again with another hash: a fork at 2; the same link again is nothing.
        batch(&[link(2, 1, 8), link(1, 0, 1)]);
        assert_eq!(forks(&tx), [3, 6, 2]);
    }
}
