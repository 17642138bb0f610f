//! The terminal API's rules (`docs/terminal-api.md`; the wire types and signatures are
//! `konbini-protocol`'s): who a request comes from, payment look-ups for keyed-in codes, and
//! batches of cash confirmations with the accepted / duplicate / conflict / rejected
//! verdicts; and each terminal's journal chain, with forks flagged and gaps reported.
//!
//! A batch is judged inside one storage transaction, a grouped write: the storage keeps two
//! terminals confirming one payment at once apart, and exactly one is `accepted`. The batch
//! asks the store everything its slips need at once ([`Tx::slip_facts`]) and then judges
//! them in order from what it read and what it changed since (`Known`), so that a backend
//! behind a network round trip answers a batch in a few statements, not a few per slip.

use chrono::{DateTime, Utc};
use konbini_domain::{BillBarcode, Chain};
use konbini_protocol::{
    Confirmation, JournalLink, LookupQuery, MAX_BATCH, Outcome, Payable, RawBatch, Verdict,
};
use serde_json::{Value, json};

use crate::Settings;
use crate::error::TerminalError;
use crate::objects::{PaymentIntent, PiStatus};
use crate::payments::{self, PaidAt};
use crate::storage::{
    ConfirmationRecord, PastConfirmation, SlipFacts, SlipQuestions, StorageError, Tx,
};

/// The largest journal sequence number taken (JSON's safe integers): the chain arithmetic
/// around it (seq - 1, seq + 1) never overflows.
const MAX_JOURNAL_SEQ: i64 = (1 << 53) - 1;
/// Customer names are cut to this many characters in stores.
const STORE_NAME_CHARS: usize = 20;
/// What stores show when the merchant gave no product description.
const DEFAULT_PRODUCT_DESCRIPTION: &str = "お買い上げ商品・サービス";

/// The one answer to every authentication failure of the terminal API: an unknown terminal,
/// a missing or malformed header, a stale time and a wrong MAC all read the same, so terminal
/// ids cannot be enumerated by asking.
pub const UNAUTHENTICATED: &str = "The request is not signed by a terminal this network knows: check the terminal id, its secret, and that the register's clock is within 300 s of the network's.";

/// A request whose terminal headers passed every check that needs no body: the terminal is
/// known, the signature well-formed and fresh. Only the MAC over the body is left.
#[derive(Debug)]
pub struct Caller<'a> {
    /// The terminal the request says it comes from.
    pub terminal: &'a str,
    secret: std::sync::Arc<str>,
    signed: konbini_protocol::Signed<'a>,
}

/// Check the terminal headers' form and time, before any body is read (`now`: the wall
/// clock, as registers sign with theirs): the terminal id, and a fresh, well-formed
/// signature. Whether the terminal is known is the caller's next question.
pub fn parse_headers<'a>(
    terminal: Option<&'a str>,
    signature: Option<&'a str>,
    now: i64,
) -> Result<(&'a str, konbini_protocol::Signed<'a>), TerminalError> {
    let refused = || TerminalError::unauthorized(UNAUTHENTICATED);
    let terminal = terminal.filter(|t| !t.is_empty()).ok_or_else(refused)?;
    let signed = konbini_protocol::Signed::parse(signature.ok_or_else(refused)?, now)
        .map_err(|_| refused())?;
    Ok((terminal, signed))
}

impl<'a> Caller<'a> {
    /// A caller whose terminal is known, with its secret.
    pub fn new(
        terminal: &'a str,
        secret: std::sync::Arc<str>,
        signed: konbini_protocol::Signed<'a>,
    ) -> Caller<'a> {
        Caller {
            terminal,
            secret,
            signed,
        }
    }

    /// Whether `secret` is the one the MAC is checked with.
    pub fn has_secret(&self, secret: &str) -> bool {
        *self.secret == *secret
    }

    /// Check the MAC with `secret` from now on (the store's newer one).
    pub fn set_secret(&mut self, secret: std::sync::Arc<str>) {
        self.secret = secret;
    }

    /// Check the MAC over the request as received; the terminal's id.
    pub fn verify(
        &self,
        method: &str,
        path_and_query: &str,
        body: &[u8],
    ) -> Result<String, TerminalError> {
        self.signed
            .verify(&self.secret, method, path_and_query, body)
            .map_err(|_| TerminalError::unauthorized(UNAUTHENTICATED))?;
        Ok(self.terminal.to_owned())
    }
}

/// `GET /terminal/v1/lookup`.
pub fn lookup(
    tx: &dyn Tx,
    settings: &Settings,
    q: &LookupQuery,
    now: i64,
) -> Result<Payable, TerminalError> {
    let (chain, code, number) = (
        q.chain.as_str(),
        q.payment_code.as_str(),
        q.confirmation_number.as_str(),
    );
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
    Ok(Payable {
        payment: pi.id.clone(),
        amount: u64::try_from(pi.amount).unwrap_or(0),
        currency: "jpy".into(),
        merchant: settings.merchant_name.clone(),
        description: pi
            .konbini
            .product_description
            .as_deref()
            .unwrap_or(DEFAULT_PRODUCT_DESCRIPTION)
            .to_owned(),
        customer_name: name,
        expires_at: Some(voucher.expires_at),
    })
}

fn rejected(id: &str, reason: impl Into<String>) -> Outcome {
    Outcome {
        id: id.to_owned(),
        verdict: Verdict::Rejected,
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
    c: Confirmation<'static>,
    paid_at: DateTime<Utc>,
    /// What a resend must repeat exactly.
    fingerprint: String,
    /// Scanned: the bill barcode read, or why it cannot be (answered after the duplicate check,
    /// as the writer would).
    barcode: Option<Result<BillBarcode, String>>,
}

/// Check what needs no store: the id, amount, time, the way it was paid, the journal link.
fn prepare(c: Confirmation<'static>) -> Result<Prepared, Outcome> {
    let id: &str = &c.id;
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

/// Check a `POST /terminal/v1/confirmations` body's shape and parse its confirmations, at
/// most [`MAX_BATCH`]. A confirmation that cannot be read is kept, to be answered
/// `rejected`; a body that is not a batch at all is refused whole.
pub fn parse_batch(body: &[u8]) -> Result<Vec<Parsed>, TerminalError> {
    let batch: RawBatch<'_> = serde_json::from_slice(body).map_err(|e| {
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
                serde_json::from_str::<Confirmation<'static>>(raw.get())
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
    tx: &dyn Tx,
    settings: &Settings,
    terminal: &str,
    items: &[Parsed],
    now: impl FnOnce(Option<i64>) -> i64,
) -> Result<(Vec<Outcome>, bool), TerminalError> {
    let mut results = Vec::with_capacity(items.len());
    let mut any = false;
    // First: it puts this batch in order with the terminal's other batches (see there).
    tx.chain_turn(terminal)?;
    let ask = questions(settings, terminal, items);
    let mut known = Known {
        facts: tx.slip_facts(&ask)?,
    };
    // The time, once the store has said where the test clock stands (with several nodes,
    // another may have moved it).
    let now = now(known.facts.clock_offset_ms);
    for item in items {
        let outcome = confirm_one(tx, settings, terminal, item, now, &mut known)?;
        any |= outcome.verdict == Verdict::Accepted;
        results.push(outcome);
    }
    Ok((results, any))
}

/// What the store holds that a batch's slips may need, by what the slips say: their ids,
/// the payments their barcodes or codes name, the journal links [`track_chain`] may look at
/// (each sale's own, its predecessor's and its successor's), the other billers' barcodes.
/// Asking for more than is used is harmless; nothing used is left out.
fn questions<'a>(settings: &Settings, terminal: &'a str, items: &'a [Parsed]) -> SlipQuestions<'a> {
    let mut ask = SlipQuestions {
        terminal,
        ..SlipQuestions::default()
    };
    for Parsed(item) in items {
        let Ok(p) = item else { continue };
        ask.slips.push(&p.c.id);
        if let Some(j) = &p.c.journal {
            ask.links.extend([j.seq - 1, j.seq, j.seq + 1]);
        }
        match &p.barcode {
            Some(Ok(code)) if code.company_code() == settings.company_code => {
                ask.payments.extend(pi_seq_of(code));
            }
            Some(Ok(code)) => ask.collected.push(code.as_str()),
            Some(Err(_)) => {}
            None => {
                if let (Some(chain), Some(code)) = (p.c.chain, p.c.payment_code.as_deref()) {
                    ask.codes.push((chain, code));
                }
            }
        }
    }
    ask.slips.sort_unstable();
    ask.slips.dedup();
    ask.payments.sort_unstable();
    ask.payments.dedup();
    ask.codes.sort_unstable();
    ask.codes.dedup();
    ask.links.sort_unstable();
    ask.links.dedup();
    ask.collected.sort_unstable();
    ask.collected.dedup();
    ask
}

/// The payment number a bill barcode of this network carries in its free area.
fn pi_seq_of(code: &BillBarcode) -> Option<i64> {
    code.free_area()
        .parse::<u128>()
        .ok()
        .and_then(|n| i64::try_from(n).ok())
}

/// What a batch knows of the store: the facts it read at its start, with its own changes
/// since applied to them (a slip judged, a payment paid, a link kept, a barcode collected).
/// Each question is answered exactly as the store would answer it at that point of the
/// unit's transaction (its one snapshot plus its own writes), without asking again.
struct Known {
    facts: SlipFacts,
}

impl Known {
    /// [`Tx::pi_by_code`]: the holder whose live voucher carries the code, else the latest.
    fn pi_by_code(&self, chain: Chain, code: &str) -> Option<PaymentIntent> {
        let holders = self.facts.holders.get(&(chain, code.to_owned()))?;
        let mut latest = None;
        for pi in holders
            .iter()
            .filter_map(|seq| self.facts.payments.get(seq))
        {
            let live = pi.status == PiStatus::RequiresAction
                && pi
                    .voucher
                    .as_ref()
                    .and_then(|v| v.codes.get(&chain))
                    .map(String::as_str)
                    == Some(code);
            if live {
                return Some(pi.clone());
            }
            latest.get_or_insert(pi);
        }
        latest.cloned()
    }
}

fn confirm_one(
    tx: &dyn Tx,
    settings: &Settings,
    terminal: &str,
    item: &Parsed,
    now: i64,
    known: &mut Known,
) -> Result<Outcome, TerminalError> {
    let Prepared {
        c,
        paid_at,
        fingerprint,
        barcode: read,
    } = match &item.0 {
        Ok(p) => p,
        Err(outcome) => return Ok(outcome.clone()),
    };
    let id = c.id.to_string();
    if let Some(before) = known.facts.past.get(&*c.id) {
        if before.fingerprint != *fingerprint {
            return Ok(rejected(&id, "idempotency_mismatch"));
        }
        return Ok(Outcome {
            id,
            verdict: if before.verdict == Verdict::Accepted {
                Verdict::Duplicate
            } else {
                Verdict::Conflict
            },
            reason: before.reason.clone(),
        });
    }
    if let Some(j) = &c.journal {
        track_chain(tx, known, terminal, j, now)?;
    }
    // Which payment, and may it be paid?
    // A keyed-in code or a barcode from a voucher the payment no longer has (it was
    // confirmed again or updated, and given new codes) is not payable, as its look-up says.
    let stale_code;
    let (pi, barcode) = if let Some(read) = read {
        let code = match read {
            Ok(b) => b,
            Err(e) => return Ok(rejected(&id, format!("invalid_barcode: {e}"))),
        };
        if code.amount().get() != c.amount as u64 {
            return Ok(rejected(&id, "amount_mismatch"));
        }
        if code.company_code() != settings.company_code {
            if let Err(reason) = judge_paid_at(*paid_at, None, now) {
                return Ok(rejected(&id, reason));
            }
            return collect_for_other_biller(
                tx,
                known,
                terminal,
                c,
                fingerprint,
                code.as_str(),
                now,
            );
        }
        let Some(pi) = pi_seq_of(code).and_then(|s| known.facts.payments.get(&s).cloned()) else {
            return Ok(rejected(&id, "unknown_payment"));
        };
        // A barcode from a voucher the payment no longer has (reissued by an update or a
        // second confirmation: its reissue digit, amount or deadline differ) is stale.
        stale_code = pi
            .voucher
            .as_ref()
            .is_some_and(|v| v.barcode != code.as_str());
        (pi, Some(code.as_str()))
    } else {
        let code = c.payment_code.as_deref().unwrap_or("");
        let number = c.confirmation_number.as_deref().unwrap_or("");
        let Some(chain) = c.chain else {
            return Ok(rejected(&id, "invalid: a keyed-in payment needs its chain"));
        };
        let Some(pi) = known.pi_by_code(chain, code) else {
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
    if let Err(reason) = judge_paid_at(*paid_at, Some(pi.created), now) {
        return Ok(rejected(&id, reason));
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
    let (verdict, reason) = match verdict {
        Ok(()) => {
            let mut pi = pi;
            let paid = PaidAt {
                chain: c.chain,
                store: Some(&c.store),
                confirmation: Some(&c.id),
                at: *paid_at,
            };
            payments::succeed(tx, &mut pi, &paid, now).map_err(|e| TerminalError {
                status: axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                code: "internal",
                message: e.message,
                payment_status: None,
            })?;
            known.facts.payments.insert(pi.seq, pi);
            (Verdict::Accepted, None)
        }
        Err(r) => (Verdict::Conflict, Some(r.to_owned())),
    };
    let outcome = Outcome {
        id,
        verdict,
        reason,
    };
    record(
        tx,
        known,
        terminal,
        c,
        fingerprint,
        &outcome,
        Some(pi_seq),
        barcode,
        now,
    )?;
    Ok(outcome)
}

/// How far a register's clock may be from the network's, either way, when it stamps
/// `paid_at` (the signature window's width).
pub const PAID_AT_SKEW_SECONDS: i64 = konbini_protocol::SIGNATURE_WINDOW_SECONDS;

/// Is `paid_at` possible, judged in the network's time `now` (its movable clock, so a test
/// that moves it keeps working)? Not before the payment existed (`created`), nor in the
/// future, beyond [`PAID_AT_SKEW_SECONDS`]; a slip of another biller, whose bill this
/// network never saw, only not before the years a bill barcode can carry. A time after the
/// deadline is judged later, as a `conflict` (`expired`): the store did take the cash.
fn judge_paid_at(paid_at: DateTime<Utc>, created: Option<i64>, now: i64) -> Result<(), String> {
    let t = paid_at.timestamp();
    let at = |unix: i64| {
        DateTime::<Utc>::from_timestamp(unix, 0)
            .map_or_else(|| unix.to_string(), |d| d.to_rfc3339())
    };
    if t > now.saturating_add(PAID_AT_SKEW_SECONDS) {
        return Err(format!(
            "invalid_paid_at: paid_at {} is in the future of the network's clock ({}), beyond the {PAID_AT_SKEW_SECONDS} s allowed for clock skew",
            paid_at.to_rfc3339(),
            at(now)
        ));
    }
    let earliest = created.map_or(crate::clock::EARLIEST_UNIX, |c| {
        c.saturating_sub(PAID_AT_SKEW_SECONDS)
    });
    if t < earliest {
        return Err(match created {
            Some(c) => format!(
                "invalid_paid_at: paid_at {} is before the payment was created ({}), beyond the {PAID_AT_SKEW_SECONDS} s allowed for clock skew",
                paid_at.to_rfc3339(),
                at(c)
            ),
            None => format!(
                "invalid_paid_at: paid_at {} is before {}",
                paid_at.to_rfc3339(),
                crate::clock::EARLIEST
            ),
        });
    }
    Ok(())
}

/// Keep an accepted or conflicting confirmation under its slip id.
#[allow(clippy::too_many_arguments)]
fn record(
    tx: &dyn Tx,
    known: &mut Known,
    terminal: &str,
    c: &Confirmation<'_>,
    fingerprint: &str,
    outcome: &Outcome,
    pi_seq: Option<i64>,
    barcode: Option<&str>,
    now: i64,
) -> Result<(), StorageError> {
    tx.insert_confirmation(&ConfirmationRecord {
        id: &c.id,
        terminal,
        fingerprint,
        verdict: outcome.verdict,
        reason: outcome.reason.as_deref(),
        pi_seq,
        chain: c.chain,
        store: &c.store,
        amount: c.amount,
        paid_at: &c.paid_at,
        barcode,
        received_at: now,
    })?;
    known.facts.past.insert(
        c.id.to_string(),
        PastConfirmation {
            fingerprint: fingerprint.to_owned(),
            verdict: outcome.verdict,
            reason: outcome.reason.clone(),
        },
    );
    Ok(())
}

/// A slip of another biller: the network collects for it (no PaymentIntent). Paying the
/// same slip twice is a conflict.
fn collect_for_other_biller(
    tx: &dyn Tx,
    known: &mut Known,
    terminal: &str,
    c: &Confirmation<'_>,
    fingerprint: &str,
    barcode: &str,
    now: i64,
) -> Result<Outcome, TerminalError> {
    let (verdict, reason) = if known.facts.collected.contains(barcode) {
        (Verdict::Conflict, Some("already_paid".to_owned()))
    } else {
        known.facts.collected.insert(barcode.to_owned());
        (Verdict::Accepted, None)
    };
    let outcome = Outcome {
        id: c.id.to_string(),
        verdict,
        reason,
    };
    record(
        tx,
        known,
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

/// Record a journal link; flag a fork when it contradicts what the network already holds
/// (the links the batch read, and those it kept since).
fn track_chain(
    tx: &dyn Tx,
    known: &mut Known,
    terminal: &str,
    j: &JournalLink<'_>,
    now: i64,
) -> Result<(), StorageError> {
    let flag = |seq: i64, detail: String| tx.flag_fork(terminal, seq, &detail, now);
    let links = &mut known.facts.links;
    if let Some((prev, hash)) = links.get(&j.seq) {
        if *prev != j.prev || *hash != j.hash {
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
    tx.add_chain_link(terminal, j.seq, &j.prev, &j.hash)?;
    links.insert(j.seq, (j.prev.to_string(), j.hash.to_string()));
    if let Some((_, before_hash)) = links.get(&(j.seq - 1))
        && *before_hash != j.prev
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
    if let Some((after_prev, _)) = links.get(&(j.seq + 1))
        && *after_prev != j.hash
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
    Ok(())
}

/// A terminal's chain as the network holds it: head, gaps (missing sale numbers below the
/// head) and forks.
pub fn chain_report(tx: &dyn Tx, terminal: &str) -> Result<Value, TerminalError> {
    let seqs = tx.chain_seqs(terminal)?;
    let mut gaps = Vec::new();
    let mut expect = 1;
    for s in &seqs {
        if *s > expect {
            gaps.push(json!({"from": expect, "to": s - 1}));
        }
        expect = s + 1;
    }
    let head = tx.chain_head(terminal)?;
    let forks: Vec<Value> = tx
        .forks(terminal)?
        .into_iter()
        .map(|f| json!({"seq": f.seq, "detail": f.detail, "at": f.at}))
        .collect();
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
    use std::borrow::Cow;

    use super::*;

    /// Sale numbers of the forks the network flagged, in order.
    fn forks(tx: &dyn Tx) -> Vec<i64> {
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
            prev: Cow::Owned(h(prev)),
            hash: Cow::Owned(h(hash)),
        };
        crate::storage::sqlite::in_memory_tx(|tx| {
            let batch = |links: &[JournalLink<'_>]| {
                tx.chain_turn("t1").unwrap();
                let ask = SlipQuestions {
                    terminal: "t1",
                    links: links
                        .iter()
                        .flat_map(|l| [l.seq - 1, l.seq, l.seq + 1])
                        .collect(),
                    ..SlipQuestions::default()
                };
                let mut known = Known {
                    facts: tx.slip_facts(&ask).unwrap(),
                };
                for l in links {
                    track_chain(tx, &mut known, "t1", l, 0).unwrap();
                }
            };
            // In one batch: 2 follows 1 (the link known to the batch), 3 does not follow 2.
            batch(&[link(1, 0, 1), link(2, 1, 2), link(3, 9, 3)]);
            assert_eq!(forks(tx), [3]);
            // Sale 6 first, then 5 whose hash is not what 6 links to: the successor is read.
            batch(&[link(6, 5, 6)]);
            batch(&[link(5, 4, 7)]);
            assert_eq!(forks(tx), [3, 6]);
            // Sale 2 again with another hash: a fork at 2; the same link again is nothing.
            batch(&[link(2, 1, 8), link(1, 0, 1)]);
            assert_eq!(forks(tx), [3, 6, 2]);
        });
    }
}
