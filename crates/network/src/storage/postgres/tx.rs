//! One run of a unit of work in one PostgreSQL transaction: the [`Tx`] the rules see. Each
//! method is one or two statements, prepared once per connection (or planned afresh each
//! time: [`Stmt::Fresh`]) and driven to completion on the calling (blocking) thread through
//! the runtime's handle.
//!
//! Round trips, not rows, are what a unit's statements cost most on both sides (a network
//! node and the server each spend some 50 us of CPU per statement, whatever it does), so:
//!
//! - `BEGIN` is sent with the unit's first statement, not on its own;
//! - the writes whose answer the unit does not need (a payment saved, a charge, an event and
//!   its deliveries, a confirmation, a chain link, a fork) wait in [`Pending`] and go with
//!   the unit's next statement, those of a kind as one multi-row statement (`unnest` of
//!   arrays), all of them pipelined ahead of that statement in one round trip (tokio-postgres
//!   sends the requests of futures polled together back to back). Every read waits for them,
//!   so a unit always reads its own writes; the commit sends them, checks their answers, and
//!   only then sends `COMMIT`. A pending write that fails (a key another writer took) fails
//!   the unit as it would have failed at once: the first error is kept, and decides;
//! - a confirmation batch asks for everything its slips need in one round trip
//!   ([`Tx::slip_facts`]: one statement per kind of question);
//! - a batch waits for its terminal's turn before its transaction begins
//!   ([`Tx::chain_turn`]): see there.
//!
//! The first error the database raises is kept ([`PgTx::failure`]): PostgreSQL aborts the
//! transaction there, so every later statement fails at once without a round trip, and the
//! runner decides from it whether the unit is run again (a serialization failure) or fails,
//! whatever the unit itself made of the error.

use std::cell::{Cell, RefCell};
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

use konbini_domain::Chain;
use konbini_protocol::Verdict;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio_postgres::Row;
use tokio_postgres::types::{FromSql, ToSql, Type as PgType};

use super::{STATEMENT_TIMEOUT, db_message, retryable};
use crate::checkout::{PaymentLink, Session};
use crate::objects::{
    Charge, Customer, EventRow, Numbered, PaymentIntent, PaymentMethod, PiStatus, Price, Product,
    Refund, Snapshot, WebhookEndpoint,
};
use crate::search::{Field as SearchField, Join, Op, Query, Type, Value as SearchValue};
use crate::storage::{
    ConfirmationRecord, Created, Cursor, CustomerFilter, DeliveryReport, DueDelivery,
    EndpointHealth, EventFilter, Fork, Page, PastConfirmation, PaymentMethodFilter, PriceFilter,
    ProductFilter, SavedAnswer, SlipFacts, SlipQuestions, StorageError, Tx,
};
use crate::storage::{Lease, MAX_CLAIM_SECONDS, SessionFilter};

/// The client's own bound on a statement: the server's `statement_timeout` and a little
/// more, for a server that answers nothing at all.
const CLIENT_TIMEOUT: Duration = STATEMENT_TIMEOUT.saturating_add(Duration::from_secs(5));

const PI_BY_SEQ: &str = "SELECT doc FROM payment_intents WHERE seq = $1";
/// The test clock's offset (`crate::CLOCK_META_KEY`).
const CLOCK_OFFSET: &str = "SELECT value FROM meta WHERE key = 'clock_offset_ms'";
const ENDPOINTS: &str =
    "SELECT doc, status = 'disabled' FROM webhook_endpoints ORDER BY created, id";

type Params<'p> = &'p [&'p (dyn ToSql + Sync)];

/// The advisory lock class of a terminal's turn ([`Tx::chain_turn`]); the other key is
/// drawn from the terminal's id ([`turn_key`]).
const TURN_CLASS: i32 = 0x6b6f_6e62;

/// One statement of a round trip.
enum Stmt<'p> {
    /// Without parameters, in the simple protocol (transaction control, advisory locks).
    Simple(&'p str),
    /// Prepared, answering rows.
    Query(&'p str, Vec<&'p (dyn ToSql + Sync)>),
    /// Prepared, answering how many rows it changed.
    Execute(&'p str, Vec<&'p (dyn ToSql + Sync)>),
    /// Planned afresh for its parameters each time it is sent (the unnamed statement, in the
    /// same one message as its execution), answering rows. For the statements that join
    /// against arrays or look keys up in them: a plan prepared once per connection is
    /// planned on the table sizes of then, and one made while a table was small (a new
    /// chain's first minutes, before autovacuum's first ANALYZE) scanned all of
    /// `payment_intents` for each batch from then on: found with `auto_explain` on `bench
    /// network --db`, a fifth of the server's time. Planning a batch's few statements costs
    /// far less than that.
    Fresh(&'p str, Vec<(&'p (dyn ToSql + Sync), PgType)>),
}

/// What a statement answered.
enum Answer {
    Rows(Vec<Row>),
    Count(u64),
}

type StmtFuture<'f> = Pin<Box<dyn Future<Output = Result<Answer, tokio_postgres::Error>> + 'f>>;

/// Poll every future, first to last, until all are done; their outputs in that order. The
/// order of the first polls is the order tokio-postgres sends their requests in.
async fn in_order<'f>(
    mut futures: Vec<StmtFuture<'f>>,
) -> Vec<Result<Answer, tokio_postgres::Error>> {
    let mut out: Vec<Option<Result<Answer, tokio_postgres::Error>>> =
        futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut done = true;
        for (future, slot) in futures.iter_mut().zip(out.iter_mut()) {
            if slot.is_none() {
                match future.as_mut().poll(cx) {
                    Poll::Ready(v) => *slot = Some(v),
                    Poll::Pending => done = false,
                }
            }
        }
        if done { Poll::Ready(()) } else { Poll::Pending }
    })
    .await;
    out.into_iter()
        .map(|v| v.expect("every future is done"))
        .collect()
}

/// The second key of a terminal's turn: the first four bytes of its id's SHA-256 (two
/// terminals that share one only take turns with each other too).
fn turn_key(terminal: &str) -> i32 {
    use sha2::Digest;
    let d = sha2::Sha256::digest(terminal.as_bytes());
    i32::from_be_bytes([d[0], d[1], d[2], d[3]])
}

/// Writes waiting to be sent with the unit's next statement (see the module's doc), in
/// rows; [`Columns`] turns them into one statement per kind.
#[derive(Default)]
struct Pending {
    /// Terminals whose chain head row this unit writes ([`Tx::chain_turn`]), each once.
    heads: Vec<String>,
    /// Payments saved: (seq, due_at, voucher token, doc); a payment saved again keeps its
    /// place and the last save.
    pis: Vec<(i64, Option<i64>, Option<String>, String)>,
    /// The payment codes that stay live, per payment saved (none once it is not payable);
    /// a payment saved again with the same codes keeps one entry (with
    /// other codes, the pending writes are sent first: [`Tx::update_pi`]).
    live: Vec<(i64, Vec<(&'static str, String)>)>,
    /// Charges: (id, txn_id, pi_seq, doc).
    charges: Vec<(String, String, i64, String)>,
    /// Events, in the order emitted.
    events: Vec<EventRowOut>,
    /// Deliveries of those events: (event id, endpoint, next_at).
    deliveries: Vec<(String, String, i64)>,
    /// Confirmations kept.
    confirmations: Vec<ConfirmationRow>,
    /// Chain links: (terminal, seq, prev, hash).
    links: Vec<(String, i64, String, String)>,
    /// Forks flagged: (terminal, seq, detail, at), in the order flagged.
    forks: Vec<(String, i64, String, i64)>,
}

/// An event kept for later: (id, type, created, kind, doc, previous attributes).
type EventRowOut = (String, String, i64, &'static str, String, Option<String>);

/// A [`ConfirmationRecord`] kept for later.
struct ConfirmationRow {
    id: String,
    terminal: String,
    fingerprint: String,
    status: &'static str,
    reason: Option<String>,
    pi_seq: Option<i64>,
    chain: &'static str,
    store: String,
    amount: i64,
    paid_at: String,
    barcode: Option<String>,
    received_at: i64,
}

impl Pending {
    fn is_empty(&self) -> bool {
        self.heads.is_empty()
            && self.pis.is_empty()
            && self.charges.is_empty()
            && self.events.is_empty()
            && self.confirmations.is_empty()
            && self.links.is_empty()
            && self.forks.is_empty()
    }
}

const WRITE_HEADS: &str = "INSERT INTO terminal_chain_heads (terminal, batches)
     SELECT terminal, 1 FROM unnest($1::text[]) AS h(terminal)
     ON CONFLICT (terminal) DO UPDATE SET batches = terminal_chain_heads.batches + 1";
/// The payments' documents: no indexed column changes unless the voucher was reissued, so
/// PostgreSQL rewrites each row on its own page with no new index entry (HOT; migration
/// 0009 moved the due time, which paying clears, out to `payment_dues`).
const SAVE_PIS: &str = "UPDATE payment_intents AS p
     SET voucher_token = u.voucher_token, doc = u.doc
     FROM unnest($1::bigint[], $2::text[], $3::text[]) AS u(seq, voucher_token, doc)
     WHERE p.seq = u.seq";
/// The saved payments' due times: a row for each that has one (written only when it
/// changed), none for the others.
const SAVE_DUES: &str = "WITH gone AS (
         DELETE FROM payment_dues AS d
         USING unnest($1::bigint[], $2::bigint[]) AS u(seq, due_at)
         WHERE d.seq = u.seq AND u.due_at IS NULL)
     INSERT INTO payment_dues (seq, due_at)
     SELECT seq, due_at FROM unnest($1::bigint[], $2::bigint[]) AS u(seq, due_at)
     WHERE due_at IS NOT NULL
     ON CONFLICT (seq) DO UPDATE SET due_at = EXCLUDED.due_at
         WHERE payment_dues.due_at <> EXCLUDED.due_at";
/// A payment's codes that are no longer on a payable voucher of it stop being payable: their
/// rows leave `payable_codes` (a delete writes no index entry; the update of a `live` flag
/// it replaced wrote one per code, four per payment paid: migration 0009).
const UNLIVE_CODES: &str = "DELETE FROM payable_codes AS c
     WHERE c.pi_seq = ANY($1::bigint[])
     AND (c.pi_seq, c.chain, c.code) NOT IN
         (SELECT * FROM unnest($2::bigint[], $3::text[], $4::text[]))";
const INSERT_CHARGES: &str = "INSERT INTO charges (id, txn_id, pi_seq, doc)
     SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[])";
const INSERT_EVENTS: &str = "WITH new AS (
         INSERT INTO events (id, type, created, kind, doc, previous)
         SELECT id, type, created, kind, doc, previous
         FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[], $9::text[])
              WITH ORDINALITY AS e(id, type, created, kind, doc, previous, n)
         ORDER BY n
         RETURNING seq, id)
     INSERT INTO deliveries (event_seq, endpoint, next_at)
     SELECT new.seq, d.endpoint, d.next_at
     FROM new JOIN unnest($6::text[], $7::text[], $8::bigint[]) AS d(event, endpoint, next_at)
          ON d.event = new.id";
const INSERT_CONFIRMATIONS: &str = "INSERT INTO confirmations (id, terminal, fingerprint, status,
     reason, pi_seq, chain, store, amount, paid_at, barcode, received_at)
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
         $6::bigint[], $7::text[], $8::text[], $9::bigint[], $10::text[], $11::text[],
         $12::bigint[])";
const INSERT_LINKS: &str = "INSERT INTO terminal_chain (terminal, seq, prev, hash)
     SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[])";
const INSERT_FORKS: &str = "INSERT INTO chain_flags (terminal, seq, kind, detail, at)
     SELECT terminal, seq, 'fork', detail, at
     FROM unnest($1::text[], $2::bigint[], $3::text[], $4::bigint[])
          WITH ORDINALITY AS f(terminal, seq, detail, at, n)
     ORDER BY n";

/// [`Pending`]'s writes as the arrays of their statements.
#[derive(Default)]
struct Columns {
    heads: Vec<String>,
    pi_seq: Vec<i64>,
    pi_due: Vec<Option<i64>>,
    pi_token: Vec<Option<String>>,
    pi_doc: Vec<String>,
    live_seq: Vec<i64>,
    keep_seq: Vec<i64>,
    keep_chain: Vec<&'static str>,
    keep_code: Vec<String>,
    ch: [Vec<String>; 3],
    ch_pi: Vec<i64>,
    ev: [Vec<String>; 3],
    ev_created: Vec<i64>,
    ev_kind: Vec<&'static str>,
    ev_previous: Vec<Option<String>>,
    dl: [Vec<String>; 2],
    dl_next: Vec<i64>,
    cf_text: [Vec<String>; 6],
    cf_status: Vec<&'static str>,
    cf_chain: Vec<&'static str>,
    cf_opt: [Vec<Option<String>>; 2],
    cf_pi: Vec<Option<i64>>,
    cf_int: [Vec<i64>; 2],
    ln: [Vec<String>; 3],
    ln_seq: Vec<i64>,
    fk: [Vec<String>; 2],
    fk_int: [Vec<i64>; 2],
}

impl Columns {
    fn of(p: Pending) -> Columns {
        let mut c = Columns {
            heads: p.heads,
            ..Columns::default()
        };
        for (seq, due, token, doc) in p.pis {
            c.pi_seq.push(seq);
            c.pi_due.push(due);
            c.pi_token.push(token);
            c.pi_doc.push(doc);
        }
        for (seq, keep) in p.live {
            c.live_seq.push(seq);
            for (chain, code) in keep {
                c.keep_seq.push(seq);
                c.keep_chain.push(chain);
                c.keep_code.push(code);
            }
        }
        for (id, txn, pi, doc) in p.charges {
            c.ch[0].push(id);
            c.ch[1].push(txn);
            c.ch[2].push(doc);
            c.ch_pi.push(pi);
        }
        for (id, kind_of, created, kind, doc, previous) in p.events {
            c.ev_previous.push(previous);
            c.ev[0].push(id);
            c.ev[1].push(kind_of);
            c.ev[2].push(doc);
            c.ev_created.push(created);
            c.ev_kind.push(kind);
        }
        for (event, endpoint, next) in p.deliveries {
            c.dl[0].push(event);
            c.dl[1].push(endpoint);
            c.dl_next.push(next);
        }
        for r in p.confirmations {
            let [id, terminal, fingerprint, store, paid_at, _] = &mut c.cf_text;
            id.push(r.id);
            terminal.push(r.terminal);
            fingerprint.push(r.fingerprint);
            store.push(r.store);
            paid_at.push(r.paid_at);
            c.cf_status.push(r.status);
            c.cf_chain.push(r.chain);
            c.cf_opt[0].push(r.reason);
            c.cf_opt[1].push(r.barcode);
            c.cf_pi.push(r.pi_seq);
            c.cf_int[0].push(r.amount);
            c.cf_int[1].push(r.received_at);
        }
        for (terminal, seq, prev, hash) in p.links {
            c.ln[0].push(terminal);
            c.ln[1].push(prev);
            c.ln[2].push(hash);
            c.ln_seq.push(seq);
        }
        for (terminal, seq, detail, at) in p.forks {
            c.fk[0].push(terminal);
            c.fk[1].push(detail);
            c.fk_int[0].push(seq);
            c.fk_int[1].push(at);
        }
        c
    }

    /// One statement per kind of write, payments before what refers to them and events with
    /// their deliveries, the chain heads first (the unit's order with its terminal's other
    /// batches).
    fn statements(&self) -> Vec<Stmt<'_>> {
        let mut out = Vec::new();
        if !self.heads.is_empty() {
            out.push(Stmt::Execute(WRITE_HEADS, vec![&self.heads]));
        }
        if !self.pi_seq.is_empty() {
            out.push(Stmt::Fresh(
                SAVE_PIS,
                vec![
                    (&self.pi_seq, PgType::INT8_ARRAY),
                    (&self.pi_token, PgType::TEXT_ARRAY),
                    (&self.pi_doc, PgType::TEXT_ARRAY),
                ],
            ));
            out.push(Stmt::Fresh(
                SAVE_DUES,
                vec![
                    (&self.pi_seq, PgType::INT8_ARRAY),
                    (&self.pi_due, PgType::INT8_ARRAY),
                ],
            ));
        }
        if !self.live_seq.is_empty() {
            out.push(Stmt::Fresh(
                UNLIVE_CODES,
                vec![
                    (&self.live_seq, PgType::INT8_ARRAY),
                    (&self.keep_seq, PgType::INT8_ARRAY),
                    (&self.keep_chain, PgType::TEXT_ARRAY),
                    (&self.keep_code, PgType::TEXT_ARRAY),
                ],
            ));
        }
        if !self.ch_pi.is_empty() {
            out.push(Stmt::Execute(
                INSERT_CHARGES,
                vec![&self.ch[0], &self.ch[1], &self.ch_pi, &self.ch[2]],
            ));
        }
        if !self.ev_created.is_empty() {
            out.push(Stmt::Execute(
                INSERT_EVENTS,
                vec![
                    &self.ev[0],
                    &self.ev[1],
                    &self.ev_created,
                    &self.ev_kind,
                    &self.ev[2],
                    &self.dl[0],
                    &self.dl[1],
                    &self.dl_next,
                    &self.ev_previous,
                ],
            ));
        }
        if !self.cf_int[0].is_empty() {
            let [id, terminal, fingerprint, store, paid_at, _] = &self.cf_text;
            out.push(Stmt::Execute(
                INSERT_CONFIRMATIONS,
                vec![
                    id,
                    terminal,
                    fingerprint,
                    &self.cf_status,
                    &self.cf_opt[0],
                    &self.cf_pi,
                    &self.cf_chain,
                    store,
                    &self.cf_int[0],
                    paid_at,
                    &self.cf_opt[1],
                    &self.cf_int[1],
                ],
            ));
        }
        if !self.ln_seq.is_empty() {
            out.push(Stmt::Execute(
                INSERT_LINKS,
                vec![&self.ln[0], &self.ln_seq, &self.ln[1], &self.ln[2]],
            ));
        }
        if !self.fk_int[0].is_empty() {
            out.push(Stmt::Execute(
                INSERT_FORKS,
                vec![&self.fk[0], &self.fk_int[0], &self.fk[1], &self.fk_int[1]],
            ));
        }
        out
    }
}

/// Why a run of a unit cannot commit.
#[derive(Debug, Clone)]
pub(super) enum Failure {
    /// A serialization failure or a deadlock: run the unit again.
    Retry(String),
    /// Anything else: the unit fails with this.
    Failed(StorageError),
}

pub(super) struct PgTx<'a> {
    client: &'a deadpool_postgres::Object,
    handle: &'a tokio::runtime::Handle,
    target: &'a str,
    /// Set when the connection may be left in an unknown state (a statement that never
    /// answered, a rollback that failed): the runner drops it instead of pooling it.
    broken: &'a Cell<bool>,
    failure: RefCell<Option<Failure>>,
    /// The webhook endpoints, read once per transaction for [`Tx::emit`].
    endpoints: RefCell<Option<Vec<WebhookEndpoint>>>,
    /// `BEGIN ...`, until it is sent with the unit's first statement.
    begin: Cell<Option<&'static str>>,
    /// Writes not sent yet.
    pending: RefCell<Pending>,
    /// The terminal's turn this run holds (the key of its session advisory lock), released
    /// with the transaction's end.
    turn: Cell<Option<i32>>,
    /// What waits for that turn, sent before `BEGIN`.
    wait_turn: RefCell<Option<String>>,
}

fn doc<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("records serialize")
}

/// A kept confirmation's verdict: `accepted`, or anything else (`conflict`).
/// The payment's hosted voucher token, kept in a column of its own.
fn voucher_token(pi: &PaymentIntent) -> Option<String> {
    pi.voucher.as_ref().map(|v| v.token.clone())
}

fn verdict_of(text: &str) -> Verdict {
    if text == "accepted" {
        Verdict::Accepted
    } else {
        Verdict::Conflict
    }
}

impl<'a> PgTx<'a> {
    /// A run of a unit in a transaction that `begin` (`BEGIN ...`) starts, sent with its
    /// first statement.
    pub(super) fn new(
        client: &'a deadpool_postgres::Object,
        handle: &'a tokio::runtime::Handle,
        broken: &'a Cell<bool>,
        target: &'a str,
        begin: &'static str,
    ) -> PgTx<'a> {
        PgTx {
            client,
            handle,
            target,
            broken,
            failure: RefCell::new(None),
            endpoints: RefCell::new(None),
            begin: Cell::new(Some(begin)),
            pending: RefCell::new(Pending::default()),
            turn: Cell::new(None),
            wait_turn: RefCell::new(None),
        }
    }

    /// Why this run cannot commit, if it cannot.
    pub(super) fn failure(&self) -> Option<Failure> {
        self.failure.borrow().clone()
    }

    fn message(&self, what: &str) -> StorageError {
        StorageError::Failed(format!(
            "the network's database (PostgreSQL {}) failed: {what}",
            self.target
        ))
    }

    /// The error already met, as the unit sees it.
    fn check(&self) -> Result<(), StorageError> {
        match &*self.failure.borrow() {
            None => Ok(()),
            Some(Failure::Failed(e)) => Err(e.clone()),
            Some(Failure::Retry(why)) => Err(self.message(why)),
        }
    }

    /// Keep the first failure and hand the unit its error.
    fn fail(&self, e: &tokio_postgres::Error) -> StorageError {
        let text = db_message(e);
        let err = self.message(&text);
        let mut failure = self.failure.borrow_mut();
        if failure.is_none() {
            *failure = Some(if retryable(e) {
                Failure::Retry(text)
            } else {
                Failure::Failed(err.clone())
            });
        }
        err
    }

    /// Send, in one round trip, the wait for a terminal's turn (before the transaction), then
    /// `BEGIN` if it was not sent yet, then the pending writes if `flush`, then `stmts`, and
    /// wait for every answer (within [`CLIENT_TIMEOUT`]); the answers to `stmts`. The first
    /// error, in that order, is the one kept: those after it are its consequence.
    fn send(&self, flush: bool, stmts: Vec<Stmt<'_>>) -> Result<Vec<Answer>, StorageError> {
        self.check()?;
        let first = self.wait_turn.borrow_mut().take();
        let pending = if flush {
            std::mem::take(&mut *self.pending.borrow_mut())
        } else {
            Pending::default()
        };
        let columns = Columns::of(pending);
        let mut all: Vec<Stmt<'_>> = Vec::new();
        all.extend(first.as_deref().map(Stmt::Simple));
        all.extend(self.begin.take().map(Stmt::Simple));
        all.extend(columns.statements());
        let theirs = all.len();
        all.extend(stmts);
        if all.is_empty() {
            return Ok(Vec::new());
        }
        let answers = self.round_trip(&all)?;
        let mut out = Vec::with_capacity(answers.len() - theirs);
        for (i, answer) in answers.into_iter().enumerate() {
            let answer = answer.map_err(|e| self.fail(&e))?;
            if i >= theirs {
                out.push(answer);
            }
        }
        Ok(out)
    }

    /// Send `all` in one round trip and wait for every answer, within [`CLIENT_TIMEOUT`]
    /// (a connection that does not answer is marked broken).
    fn round_trip(
        &self,
        all: &[Stmt<'_>],
    ) -> Result<Vec<Result<Answer, tokio_postgres::Error>>, StorageError> {
        let client = self.client;
        let answers = self
            .handle
            .block_on(tokio::time::timeout(CLIENT_TIMEOUT, async {
                // Statements new to this connection are prepared first, each in a round trip
                // of its own (once per connection): the requests below then go out in order.
                let mut prepared = Vec::with_capacity(all.len());
                for stmt in all {
                    prepared.push(match stmt {
                        Stmt::Simple(_) | Stmt::Fresh(..) => None,
                        Stmt::Query(sql, _) | Stmt::Execute(sql, _) => {
                            Some(client.prepare_cached(sql).await?)
                        }
                    });
                }
                let futures: Vec<StmtFuture<'_>> =
                    all.iter()
                        .zip(&prepared)
                        .map(|(stmt, st)| -> StmtFuture<'_> {
                            match (stmt, st) {
                                (Stmt::Query(_, params), Some(st)) => Box::pin(async move {
                                    client.query(st, params).await.map(Answer::Rows)
                                }),
                                (Stmt::Execute(_, params), Some(st)) => Box::pin(async move {
                                    client.execute(st, params).await.map(Answer::Count)
                                }),
                                (Stmt::Simple(sql), _) => Box::pin(async move {
                                    client.batch_execute(sql).await.map(|()| Answer::Count(0))
                                }),
                                (Stmt::Fresh(sql, params), _) => Box::pin(async move {
                                    client.query_typed(sql, params).await.map(Answer::Rows)
                                }),
                                (_, None) => {
                                    unreachable!("every prepared statement was prepared above")
                                }
                            }
                        })
                        .collect();
                Ok::<_, tokio_postgres::Error>(in_order(futures).await)
            }));
        match answers {
            Ok(Ok(answers)) => Ok(answers),
            Ok(Err(e)) => Err(self.fail(&e)),
            Err(_) => {
                self.broken.set(true);
                let err = self.message(&format!(
                    "no answer within {} s (connection lost?)",
                    CLIENT_TIMEOUT.as_secs()
                ));
                self.failure
                    .borrow_mut()
                    .get_or_insert(Failure::Failed(err.clone()));
                Err(err)
            }
        }
    }

    /// A statement without parameters or rows (transaction control), after the pending
    /// writes.
    pub(super) fn simple(&self, sql: &str) -> Result<(), StorageError> {
        self.send(true, vec![Stmt::Simple(sql)])?;
        Ok(())
    }

    /// Commit: the pending writes first, their answers checked, and only then `COMMIT` (a
    /// node that dies before it leaves nothing); the terminal's turn is released with it.
    /// Whatever fails, the transaction is ended (rolled back) and the turn released.
    pub(super) fn commit(&self) -> Result<(), StorageError> {
        if self.begin.get().is_some() && self.pending.borrow().is_empty() {
            // Nothing was sent: nothing to commit.
            return Ok(());
        }
        if let Err(e) = self.send(true, Vec::new()) {
            self.rollback();
            return Err(e);
        }
        let unlock = self
            .turn
            .take()
            .map(|key| format!("SELECT pg_advisory_unlock({TURN_CLASS}, {key})"));
        let mut all = vec![Stmt::Simple("COMMIT")];
        all.extend(unlock.as_deref().map(Stmt::Simple));
        let mut answers = match self.round_trip(&all) {
            Ok(answers) => answers.into_iter(),
            Err(e) => {
                self.broken.set(true);
                return Err(e);
            }
        };
        match answers.next() {
            Some(Ok(_)) => {}
            Some(Err(e)) => {
                let err = self.fail(&e);
                if unlock.is_some() {
                    self.turn.set(None);
                    // The turn may still be held: never pool the connection again.
                    self.broken.set(true);
                }
                return Err(err);
            }
            None => return Err(self.message("COMMIT answered nothing")),
        }
        // Committed. A turn that could not be released goes with its connection.
        if answers.any(|a| a.is_err()) {
            self.broken.set(true);
        }
        Ok(())
    }

    /// Roll back, whatever happened before (the error, if any, is the caller's to report; a
    /// connection that cannot roll back is marked broken, and is not pooled again), and
    /// release the terminal's turn. What was never sent is dropped.
    pub(super) fn rollback(&self) {
        *self.pending.borrow_mut() = Pending::default();
        let sql = match self.turn.take() {
            Some(key) => format!("ROLLBACK; SELECT pg_advisory_unlock({TURN_CLASS}, {key})"),
            // Nothing was begun.
            None if self.begin.get().is_some() => return,
            None => "ROLLBACK".to_owned(),
        };
        let done = self.handle.block_on(tokio::time::timeout(
            CLIENT_TIMEOUT,
            self.client.batch_execute(&sql),
        ));
        if !matches!(done, Ok(Ok(()))) {
            self.broken.set(true);
        }
    }

    fn query(&self, sql: &str, params: Params<'_>) -> Result<Vec<Row>, StorageError> {
        match self
            .send(true, vec![Stmt::Query(sql, params.to_vec())])?
            .pop()
        {
            Some(Answer::Rows(rows)) => Ok(rows),
            _ => Err(self.message("a query answered no rows")),
        }
    }

    fn query_opt(&self, sql: &str, params: Params<'_>) -> Result<Option<Row>, StorageError> {
        Ok(self.query(sql, params)?.into_iter().next())
    }

    fn execute(&self, sql: &str, params: Params<'_>) -> Result<u64, StorageError> {
        match self
            .send(true, vec![Stmt::Execute(sql, params.to_vec())])?
            .pop()
        {
            Some(Answer::Count(n)) => Ok(n),
            _ => Err(self.message("a statement answered no count")),
        }
    }

    /// Keep a write for the unit's next statement (after the error already met, if any).
    fn later(&self, add: impl FnOnce(&mut Pending)) -> Result<(), StorageError> {
        self.check()?;
        add(&mut self.pending.borrow_mut());
        Ok(())
    }

    /// Column `i` of `row`.
    fn col<'r, T: FromSql<'r>>(&self, row: &'r Row, i: usize) -> Result<T, StorageError> {
        row.try_get(i)
            .map_err(|e| self.message(&format!("column {i}: {}", db_message(&e))))
    }

    fn undoc<T: DeserializeOwned>(&self, text: &str) -> Result<T, StorageError> {
        serde_json::from_str(text)
            .map_err(|e| self.message(&format!("a stored document is unreadable: {e}")))
    }

    /// The record whose `doc` the one-row query `sql` selects, if any.
    fn one_doc<T: DeserializeOwned>(
        &self,
        sql: &str,
        params: Params<'_>,
    ) -> Result<Option<T>, StorageError> {
        match self.query_opt(sql, params)? {
            Some(row) => Ok(Some(self.undoc(&self.col::<String>(&row, 0)?)?)),
            None => Ok(None),
        }
    }

    /// The records whose `doc`s the query `sql` selects, in its order.
    fn docs<T: DeserializeOwned>(
        &self,
        sql: &str,
        params: Params<'_>,
    ) -> Result<Vec<T>, StorageError> {
        self.query(sql, params)?
            .iter()
            .map(|row| self.undoc(&self.col::<String>(row, 0)?))
            .collect()
    }

    /// The webhook endpoints the query `sql` selects as (doc, disabled), in its order.
    fn endpoint_rows(
        &self,
        sql: &str,
        params: Params<'_>,
    ) -> Result<Vec<WebhookEndpoint>, StorageError> {
        self.endpoints_of(&self.query(sql, params)?)
    }

    /// Webhook endpoints from rows of (doc, disabled).
    fn endpoints_of(&self, rows: &[Row]) -> Result<Vec<WebhookEndpoint>, StorageError> {
        rows.iter()
            .map(|row| {
                let mut ep: WebhookEndpoint = self.undoc(&self.col::<String>(row, 0)?)?;
                ep.disabled = self.col(row, 1)?;
                Ok(ep)
            })
            .collect()
    }

    /// A page (the trait's note on lists) of `table`'s records that `b`'s conditions keep.
    fn numbered_page<T: Numbered>(
        &self,
        table: &str,
        mut b: Built,
        page: Page,
    ) -> Result<Vec<T>, StorageError> {
        let (order, cmp) = match page.cursor {
            Cursor::Before(_) => ("ASC", ">"),
            Cursor::First | Cursor::After(_) => ("DESC", "<"),
        };
        let at = b.bind(Bound::Int(cursor_seq(page.cursor)));
        b.and(format!("seq {cmp} {at}"));
        let limit = b.bind(Bound::Int(page.limit + 1));
        let sql = format!(
            "SELECT seq, doc FROM {table} WHERE {} ORDER BY seq {order} LIMIT {limit}",
            b.conds.join(" AND ")
        );
        self.numbered_rows(&sql, &b.params())
    }

    /// `table`'s records that `cond` (a search) and `b`'s conditions keep, newest first,
    /// older than `after`, at most `limit` plus one; with their numbers.
    fn numbered_search<T: DeserializeOwned>(
        &self,
        table: &str,
        mut b: Built,
        cond: String,
        limit: i64,
        after: Option<i64>,
    ) -> Result<Vec<(i64, T)>, StorageError> {
        b.and(cond);
        let at = b.bind(Bound::Int(after.unwrap_or(i64::MAX)));
        b.and(format!("seq < {at}"));
        let limit = b.bind(Bound::Int(limit + 1));
        let sql = format!(
            "SELECT seq, doc FROM {table} WHERE {} ORDER BY seq DESC LIMIT {limit}",
            b.conds.join(" AND ")
        );
        self.query(&sql, &b.params())?
            .iter()
            .map(|row| Ok((self.col(row, 0)?, self.undoc(&self.col::<String>(row, 1)?)?)))
            .collect()
    }

    /// The records `sql` selects as (seq, doc), with their numbers.
    fn numbered_rows<T: Numbered>(
        &self,
        sql: &str,
        params: Params<'_>,
    ) -> Result<Vec<T>, StorageError> {
        self.query(sql, params)?
            .iter()
            .map(|row| {
                let seq: i64 = self.col(row, 0)?;
                Ok(self.undoc::<T>(&self.col::<String>(row, 1)?)?.numbered(seq))
            })
            .collect()
    }

    /// The one record `sql` selects as (seq, doc) by `param`, with its number.
    fn numbered_one<T: Numbered>(&self, sql: &str, param: &str) -> Result<Option<T>, StorageError> {
        Ok(self.numbered_rows(sql, &[&param])?.into_iter().next())
    }

    /// The number `INSERT ... RETURNING seq` answered.
    fn returned_seq(&self, sql: &str, params: Params<'_>) -> Result<i64, StorageError> {
        match self.query_opt(sql, params)? {
            Some(row) => self.col(&row, 0),
            None => Err(self.message("an INSERT returned no seq")),
        }
    }

    fn event_row(&self, row: &Row) -> Result<EventRow, StorageError> {
        Ok(EventRow {
            id: self.col(row, 0)?,
            event_type: self.col(row, 1)?,
            created: self.col(row, 2)?,
            kind: self.col(row, 3)?,
            doc: self.col(row, 4)?,
            seq: self.col(row, 5)?,
            previous: self.col(row, 6)?,
        })
    }

    fn due_delivery(&self, row: &Row) -> Result<DueDelivery, StorageError> {
        Ok(DueDelivery {
            event_seq: self.col(row, 0)?,
            endpoint: self.col(row, 1)?,
            attempts: self.col(row, 2)?,
        })
    }
}

/// A value bound to a statement built clause by clause.
enum Bound {
    Int(i64),
    Text(String),
    Bool(bool),
    Texts(Vec<String>),
}

/// A statement's conditions built one by one, each value bound, never spliced into the SQL.
#[derive(Default)]
struct Built {
    conds: Vec<String>,
    binds: Vec<Bound>,
}

impl Built {
    /// Bind `v`; its placeholder, cast to its type.
    fn bind(&mut self, v: Bound) -> String {
        let cast = match v {
            Bound::Int(_) => "bigint",
            Bound::Text(_) => "text",
            Bound::Bool(_) => "boolean",
            Bound::Texts(_) => "text[]",
        };
        self.binds.push(v);
        format!("${}::{cast}", self.binds.len())
    }

    /// Keep only rows where `cond` holds.
    fn and(&mut self, cond: String) {
        self.conds.push(cond);
    }

    /// `expr = value`, if a value is given.
    fn eq(&mut self, expr: &str, value: Option<Bound>) {
        if let Some(v) = value {
            let p = self.bind(v);
            self.and(format!("{expr} = {p}"));
        }
    }

    /// `column` among `values`, unless there are none.
    fn any_of(&mut self, column: &str, values: &[String]) {
        if !values.is_empty() {
            let p = self.bind(Bound::Texts(values.to_vec()));
            self.and(format!("{column} = ANY({p})"));
        }
    }

    /// `created` within the range.
    fn created(&mut self, c: Created) {
        for (op, v) in [(">", c.gt), (">=", c.gte), ("<", c.lt), ("<=", c.lte)] {
            if let Some(v) = v {
                let p = self.bind(Bound::Int(v));
                self.and(format!("created {op} {p}"));
            }
        }
    }

    /// A search query as one condition; `field` gives a named field's SQL expression.
    fn search(&mut self, query: &Query, field: &dyn Fn(&str, Type) -> String) -> String {
        let mut conds = Vec::new();
        for c in &query.clauses {
            let (expr, metadata) = match &c.field {
                SearchField::Named(name, t) => (field(name, *t), false),
                SearchField::Metadata(k) => {
                    let key = self.bind(Bound::Text(k.clone()));
                    (format!("((doc::jsonb) -> 'metadata' ->> {key})"), true)
                }
            };
            let cmp = match &c.value {
                SearchValue::Null => format!("{expr} IS NULL"),
                SearchValue::Int(n) => {
                    format!("{expr} {} {}", c.op.sql(), self.bind(Bound::Int(*n)))
                }
                SearchValue::Bool(v) => format!("{expr} = {}", self.bind(Bound::Bool(*v))),
                SearchValue::Str(v) if c.op == Op::Contains => format!(
                    "strpos(lower({expr}), lower({})) > 0",
                    self.bind(Bound::Text(v.clone()))
                ),
                SearchValue::Str(v) if metadata => {
                    format!("{expr} = {}", self.bind(Bound::Text(v.clone())))
                }
                SearchValue::Str(v) => format!(
                    "lower({expr}) = lower({})",
                    self.bind(Bound::Text(v.clone()))
                ),
            };
            let not = if c.negated { "NOT " } else { "" };
            conds.push(format!("{not}COALESCE(({cmp}), FALSE)"));
        }
        let join = match query.join {
            Join::And => " AND ",
            Join::Or => " OR ",
        };
        format!("({})", conds.join(join))
    }

    fn params(&self) -> Vec<&(dyn ToSql + Sync)> {
        self.binds
            .iter()
            .map(|b| match b {
                Bound::Int(n) => n as &(dyn ToSql + Sync),
                Bound::Text(t) => t as &(dyn ToSql + Sync),
                Bound::Bool(v) => v as &(dyn ToSql + Sync),
                Bound::Texts(v) => v as &(dyn ToSql + Sync),
            })
            .collect()
    }
}

/// A search field of a document: `created` is its column.
fn doc_field(name: &str, t: Type) -> String {
    match (name, t) {
        ("created", _) => "created".to_owned(),
        (_, Type::Int) => format!("(((doc::jsonb) ->> '{name}')::bigint)"),
        (_, Type::Bool) => format!("(((doc::jsonb) ->> '{name}')::boolean)"),
        (_, Type::Text { .. }) => format!("((doc::jsonb) ->> '{name}')"),
    }
}

/// A page's order and where it starts, as SQL on `seq` with the cursor's number as `$1`.
fn order_of(cursor: Cursor) -> (&'static str, &'static str) {
    match cursor {
        Cursor::Before(_) => ("ASC", "seq > $1"),
        Cursor::First | Cursor::After(_) => ("DESC", "seq < $1"),
    }
}

/// The cursor's number (past every object for the first page).
fn cursor_seq(cursor: Cursor) -> i64 {
    match cursor {
        Cursor::First => i64::MAX,
        Cursor::After(n) | Cursor::Before(n) => n,
    }
}

impl Tx for PgTx<'_> {
    fn savepoint(&self, work: &mut dyn FnMut(&dyn Tx) -> bool) -> Result<(), StorageError> {
        self.simple("SAVEPOINT unit")?;
        if work(self) {
            // Sends the work's pending writes; fails if the work met an error it did not
            // report: the transaction is aborted.
            return self.simple("RELEASE SAVEPOINT unit");
        }
        // The work's writes not sent yet are dropped with it.
        *self.pending.borrow_mut() = Pending::default();
        // What the work read of the endpoints may be gone with it.
        *self.endpoints.borrow_mut() = None;
        // An error inside is undone with the work, unless the whole unit must run again (a
        // serialization failure holds for the transaction, not the savepoint).
        let inside = self.failure.borrow_mut().take();
        if let Some(Failure::Retry(why)) = inside {
            *self.failure.borrow_mut() = Some(Failure::Retry(why.clone()));
            return Err(self.message(&why));
        }
        self.simple("ROLLBACK TO SAVEPOINT unit")?;
        self.simple("RELEASE SAVEPOINT unit")
    }

    fn meta(&self, key: &str) -> Result<Option<String>, StorageError> {
        match self.query_opt("SELECT value FROM meta WHERE key = $1", &[&key])? {
            Some(row) => Ok(Some(self.col(&row, 0)?)),
            None => Ok(None),
        }
    }

    fn database_now_ms(&self) -> Result<Option<i64>, StorageError> {
        // clock_timestamp(): the time now, not the transaction's start.
        match self.query_opt(
            "SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint",
            &[],
        )? {
            Some(row) => Ok(Some(self.col(&row, 0)?)),
            None => Ok(None),
        }
    }

    fn set_meta(&self, key: &str, value: &str) -> Result<(), StorageError> {
        self.execute(
            "INSERT INTO meta (key, value) VALUES ($1, $2)
             ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
            &[&key, &value],
        )?;
        Ok(())
    }

    fn terminal_secret(&self, id: &str) -> Result<Option<String>, StorageError> {
        match self.query_opt("SELECT secret FROM terminals WHERE id = $1", &[&id])? {
            Some(row) => Ok(Some(self.col(&row, 0)?)),
            None => Ok(None),
        }
    }

    fn put_terminal(&self, id: &str, secret: &str, now: i64) -> Result<(), StorageError> {
        self.execute(
            "INSERT INTO terminals (id, secret, created) VALUES ($1, $2, $3)
             ON CONFLICT (id) DO UPDATE SET secret = EXCLUDED.secret",
            &[&id, &secret, &now],
        )?;
        Ok(())
    }

    fn next_pi_seq(&self) -> Result<i64, StorageError> {
        // Drawn from a sequence (migration 0003), not MAX(seq) + 1: see there.
        let row = self.query_opt("SELECT nextval('payment_intents_seq_gen')", &[])?;
        match row {
            Some(row) => self.col(&row, 0),
            None => Ok(1),
        }
    }

    fn insert_pi(&self, pi: &PaymentIntent) -> Result<(), StorageError> {
        self.execute(
            "WITH pi AS (
                 INSERT INTO payment_intents (seq, id, created, voucher_token, doc)
                 VALUES ($1, $2, $3, $5, $6))
             INSERT INTO payment_dues (seq, due_at)
             SELECT $1, $4::bigint WHERE $4::bigint IS NOT NULL",
            &[
                &pi.seq,
                &pi.id,
                &pi.created,
                &pi.due_at(),
                &voucher_token(pi),
                &doc(pi),
            ],
        )?;
        Ok(())
    }

    /// Also keeps in `payable_codes` exactly the codes on the payment's voucher while it is
    /// payable (their key is the rule "a code is unique among the payable payments of a
    /// chain"). Sent with the unit's next statement.
    fn update_pi(&self, pi: &PaymentIntent) -> Result<String, StorageError> {
        let text = doc(pi);
        let keep: Vec<(&'static str, String)> = match &pi.voucher {
            Some(v) if pi.status == PiStatus::RequiresAction => v
                .codes
                .iter()
                .map(|(chain, code)| (chain.as_str(), code.clone()))
                .collect(),
            _ => Vec::new(),
        };
        // A payment saved again with other live codes than a save still pending (a voucher
        // reissued, then made unpayable, in one unit): the pending save is sent first, so
        // each save's codes are judged in order, as one statement at a time would.
        let other_codes = self
            .pending
            .borrow()
            .live
            .iter()
            .any(|(seq, kept)| *seq == pi.seq && *kept != keep);
        if other_codes {
            self.send(true, Vec::new())?;
        }
        self.later(|p| {
            let saved = (pi.seq, pi.due_at(), voucher_token(pi), text.clone());
            match p.pis.iter_mut().find(|(seq, ..)| *seq == pi.seq) {
                Some(was) => *was = saved,
                None => p.pis.push(saved),
            }
            if !p.live.iter().any(|(seq, _)| *seq == pi.seq) {
                p.live.push((pi.seq, keep));
            }
        })?;
        Ok(text)
    }

    fn pi(&self, id: &str) -> Result<Option<PaymentIntent>, StorageError> {
        self.one_doc("SELECT doc FROM payment_intents WHERE id = $1", &[&id])
    }

    fn pi_by_seq(&self, seq: i64) -> Result<Option<PaymentIntent>, StorageError> {
        self.one_doc(PI_BY_SEQ, &[&seq])
    }

    fn list_pis(
        &self,
        customer: Option<&str>,
        created: Created,
        page: Page,
    ) -> Result<Vec<PaymentIntent>, StorageError> {
        let (order, from) = order_of(page.cursor);
        let sql = format!(
            "SELECT doc FROM payment_intents WHERE {from}
             AND ($2::text IS NULL OR (doc::jsonb) ->> 'customer' = $2::text)
             AND ($3::bigint IS NULL OR created > $3) AND ($4::bigint IS NULL OR created >= $4)
             AND ($5::bigint IS NULL OR created < $5) AND ($6::bigint IS NULL OR created <= $6)
             ORDER BY seq {order} LIMIT $7"
        );
        self.docs(
            &sql,
            &[
                &cursor_seq(page.cursor),
                &customer,
                &created.gt,
                &created.gte,
                &created.lt,
                &created.lte,
                &(page.limit + 1),
            ],
        )
    }

    /// PaymentIntents a search matches: each clause bound, never spliced into the SQL.
    fn search_pis(
        &self,
        query: &Query,
        limit: i64,
        after: Option<i64>,
    ) -> Result<Vec<PaymentIntent>, StorageError> {
        let mut b = Built::default();
        let cond = b.search(query, &doc_field);
        Ok(self
            .numbered_search::<PaymentIntent>("payment_intents", b, cond, limit, after)?
            .into_iter()
            .map(|(_, pi)| pi)
            .collect())
    }

    fn due_pis(&self, now: i64, limit: i64) -> Result<Vec<PaymentIntent>, StorageError> {
        self.docs(
            "SELECT p.doc FROM payment_dues AS d JOIN payment_intents AS p ON p.seq = d.seq
             WHERE d.due_at <= $1 ORDER BY d.due_at, d.seq LIMIT $2",
            &[&now, &limit],
        )
    }

    fn next_due(&self) -> Result<Option<i64>, StorageError> {
        let row = self.query_opt(
            "SELECT MIN(t) FROM (SELECT MIN(due_at) AS t FROM payment_dues
             UNION ALL SELECT MIN(due_at) FROM refunds WHERE due_at IS NOT NULL
             UNION ALL SELECT MIN(due_at) FROM checkout_sessions WHERE due_at IS NOT NULL) AS due",
            &[],
        )?;
        match row {
            Some(row) => self.col(&row, 0),
            None => Ok(None),
        }
    }

    /// A code is payable while its `payable_codes` row stands; the claim is that row, whose
    /// key refuses a second (a claim of another node not yet in this unit's snapshot fails
    /// it with a serialization failure, and it runs again). The code is also kept in
    /// `payment_codes`, every payment that ever held it, for the register's questions
    /// about a code no longer payable.
    fn claim_code(&self, chain: Chain, code: &str, pi_seq: i64) -> Result<bool, StorageError> {
        let row = self.query_opt(
            "WITH claim AS (
                 INSERT INTO payable_codes (chain, code, pi_seq) VALUES ($1, $2, $3)
                 ON CONFLICT (chain, code) DO NOTHING
                 RETURNING chain, code, pi_seq),
             held AS (
                 INSERT INTO payment_codes (chain, code, pi_seq) SELECT * FROM claim
                 ON CONFLICT (chain, code, pi_seq) DO NOTHING)
             SELECT count(*) FROM claim",
            &[&chain.as_str(), &code, &pi_seq],
        )?;
        match row {
            Some(row) => Ok(self.col::<i64>(&row, 0)? == 1),
            None => Err(self.message("a code's claim answered no row")),
        }
    }

    fn pi_by_code(&self, chain: &str, code: &str) -> Result<Option<PaymentIntent>, StorageError> {
        let holders: Vec<PaymentIntent> = self.docs(
            "SELECT p.doc FROM payment_codes c JOIN payment_intents p ON p.seq = c.pi_seq
             WHERE c.chain = $1 AND c.code = $2 ORDER BY c.pi_seq DESC",
            &[&chain, &code],
        )?;
        let parsed: Option<Chain> = chain.parse().ok();
        let mut latest = None;
        for pi in holders {
            let live = pi.status == PiStatus::RequiresAction
                && parsed.is_some_and(|c| {
                    pi.voucher
                        .as_ref()
                        .and_then(|v| v.codes.get(&c))
                        .map(String::as_str)
                        == Some(code)
                });
            if live {
                return Ok(Some(pi));
            }
            latest.get_or_insert(pi);
        }
        Ok(latest)
    }

    fn pi_by_voucher(&self, token: &str) -> Result<Option<PaymentIntent>, StorageError> {
        self.one_doc(
            "SELECT doc FROM payment_intents WHERE voucher_token = $1",
            &[&token],
        )
    }

    /// Sent with the unit's next statement.
    fn insert_charge(&self, pi_seq: i64, charge: &Charge) -> Result<String, StorageError> {
        let text = doc(charge);
        self.later(|p| {
            p.charges.push((
                charge.id.clone(),
                charge.balance_transaction.clone(),
                pi_seq,
                text.clone(),
            ));
        })?;
        Ok(text)
    }

    fn update_charge(&self, charge: &Charge) -> Result<(), StorageError> {
        self.execute(
            "UPDATE charges SET doc = $2 WHERE id = $1",
            &[&charge.id, &doc(charge)],
        )?;
        Ok(())
    }

    fn charge(&self, id: &str) -> Result<Option<Charge>, StorageError> {
        self.one_doc("SELECT doc FROM charges WHERE id = $1", &[&id])
    }

    fn charge_by_txn(&self, txn: &str) -> Result<Option<Charge>, StorageError> {
        self.one_doc("SELECT doc FROM charges WHERE txn_id = $1", &[&txn])
    }

    fn insert_refund(&self, pi_seq: i64, refund: &Refund) -> Result<(), StorageError> {
        self.execute(
            "INSERT INTO refunds (id, pi_seq, created, due_at, doc) VALUES ($1, $2, $3, $4, $5)",
            &[
                &refund.id,
                &pi_seq,
                &refund.created,
                &refund.due_at(),
                &doc(refund),
            ],
        )?;
        Ok(())
    }

    fn update_refund(&self, refund: &Refund) -> Result<(), StorageError> {
        self.execute(
            "UPDATE refunds SET due_at = $2, doc = $3 WHERE id = $1",
            &[&refund.id, &refund.due_at(), &doc(refund)],
        )?;
        Ok(())
    }

    fn refund(&self, id: &str) -> Result<Option<Refund>, StorageError> {
        self.one_doc("SELECT doc FROM refunds WHERE id = $1", &[&id])
    }

    fn refund_by_token(&self, token: &str) -> Result<Option<Refund>, StorageError> {
        self.one_doc(
            "SELECT doc FROM refunds WHERE (doc::jsonb) ->> 'token' = $1",
            &[&token],
        )
    }

    fn refunds_of(&self, pi_seq: i64) -> Result<Vec<Refund>, StorageError> {
        self.docs(
            "SELECT doc FROM refunds WHERE pi_seq = $1 ORDER BY seq",
            &[&pi_seq],
        )
    }

    fn due_refunds(&self, now: i64, limit: i64) -> Result<Vec<Refund>, StorageError> {
        self.docs(
            "SELECT doc FROM refunds WHERE due_at <= $1 ORDER BY due_at LIMIT $2",
            &[&now, &limit],
        )
    }

    fn next_session_seq(&self) -> Result<i64, StorageError> {
        let row = self.query_opt(
            "SELECT COALESCE(MAX(seq), 0) + 1 FROM checkout_sessions",
            &[],
        )?;
        match row {
            Some(row) => self.col(&row, 0),
            None => Ok(1),
        }
    }

    fn insert_session(&self, s: &Session) -> Result<(), StorageError> {
        self.execute(
            "INSERT INTO checkout_sessions
             (seq, id, created, status, due_at, pi_seq, payment_link, customer, email, doc)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            &[
                &s.seq,
                &s.id,
                &s.created,
                &s.status.as_str(),
                &s.due_at(),
                &s.pi_seq,
                &s.payment_link,
                &s.customer,
                &s.customer_details.as_ref().map(|d| d.email.as_str()),
                &doc(s),
            ],
        )?;
        Ok(())
    }

    fn update_session(&self, s: &Session) -> Result<String, StorageError> {
        let text = doc(s);
        self.execute(
            "UPDATE checkout_sessions SET status = $2, due_at = $3, pi_seq = $4, customer = $5,
             email = $6, doc = $7 WHERE seq = $1",
            &[
                &s.seq,
                &s.status.as_str(),
                &s.due_at(),
                &s.pi_seq,
                &s.customer,
                &s.customer_details.as_ref().map(|d| d.email.as_str()),
                &text,
            ],
        )?;
        Ok(text)
    }

    fn session(&self, id: &str) -> Result<Option<Session>, StorageError> {
        self.one_doc("SELECT doc FROM checkout_sessions WHERE id = $1", &[&id])
    }

    fn session_by_pi(&self, pi_seq: i64) -> Result<Option<Session>, StorageError> {
        self.one_doc(
            "SELECT doc FROM checkout_sessions WHERE pi_seq = $1",
            &[&pi_seq],
        )
    }

    fn list_sessions(&self, f: &SessionFilter, page: Page) -> Result<Vec<Session>, StorageError> {
        let (order, from) = order_of(page.cursor);
        let sql = format!(
            "SELECT doc FROM checkout_sessions WHERE {from}
             AND ($2::text IS NULL OR customer = $2::text) AND ($3::text IS NULL OR email = $3::text)
             AND ($4::bigint IS NULL OR pi_seq = $4::bigint)
             AND ($5::text IS NULL OR payment_link = $5::text)
             AND ($6::text IS NULL OR status = $6::text)
             AND ($7::bigint IS NULL OR created > $7) AND ($8::bigint IS NULL OR created >= $8)
             AND ($9::bigint IS NULL OR created < $9) AND ($10::bigint IS NULL OR created <= $10)
             ORDER BY seq {order} LIMIT $11"
        );
        let c = f.created;
        self.docs(
            &sql,
            &[
                &cursor_seq(page.cursor),
                &f.customer,
                &f.email,
                &f.pi_seq,
                &f.payment_link,
                &f.status,
                &c.gt,
                &c.gte,
                &c.lt,
                &c.lte,
                &(page.limit + 1),
            ],
        )
    }

    fn due_sessions(&self, now: i64, limit: i64) -> Result<Vec<Session>, StorageError> {
        self.docs(
            "SELECT doc FROM checkout_sessions WHERE due_at <= $1 ORDER BY due_at LIMIT $2",
            &[&now, &limit],
        )
    }

    fn next_link_seq(&self) -> Result<i64, StorageError> {
        let row = self.query_opt("SELECT COALESCE(MAX(seq), 0) + 1 FROM payment_links", &[])?;
        match row {
            Some(row) => self.col(&row, 0),
            None => Ok(1),
        }
    }

    fn insert_link(&self, l: &PaymentLink) -> Result<(), StorageError> {
        self.execute(
            "INSERT INTO payment_links (seq, id, created, active, token, doc)
             VALUES ($1, $2, $3, $4, $5, $6)",
            &[&l.seq, &l.id, &l.created, &l.active, &l.token, &doc(l)],
        )?;
        Ok(())
    }

    fn update_link(&self, l: &PaymentLink) -> Result<(), StorageError> {
        self.execute(
            "UPDATE payment_links SET active = $2, doc = $3 WHERE seq = $1",
            &[&l.seq, &l.active, &doc(l)],
        )?;
        Ok(())
    }

    fn link(&self, id: &str) -> Result<Option<PaymentLink>, StorageError> {
        self.one_doc("SELECT doc FROM payment_links WHERE id = $1", &[&id])
    }

    fn link_by_token(&self, token: &str) -> Result<Option<PaymentLink>, StorageError> {
        self.one_doc("SELECT doc FROM payment_links WHERE token = $1", &[&token])
    }

    fn list_links(
        &self,
        active: Option<bool>,
        page: Page,
    ) -> Result<Vec<PaymentLink>, StorageError> {
        let (order, from) = order_of(page.cursor);
        let sql = format!(
            "SELECT doc FROM payment_links WHERE {from} AND ($2::boolean IS NULL OR active = $2)
             ORDER BY seq {order} LIMIT $3"
        );
        self.docs(
            &sql,
            &[&cursor_seq(page.cursor), &active, &(page.limit + 1)],
        )
    }

    /// Sent with the unit's next statement, with its deliveries.
    fn emit_update(
        &self,
        event_type: &str,
        created: i64,
        object: Snapshot<'_>,
        previous: Option<&str>,
    ) -> Result<(), StorageError> {
        self.check()?;
        let event_id = crate::ids::new_id("evt");
        if self.endpoints.borrow().is_none() {
            // No pending write touches the endpoints: they need not be sent first.
            let rows = match self
                .send(false, vec![Stmt::Query(ENDPOINTS, Vec::new())])?
                .pop()
            {
                Some(Answer::Rows(rows)) => rows,
                _ => return Err(self.message("the endpoints' query answered no rows")),
            };
            let endpoints = self.endpoints_of(&rows)?;
            *self.endpoints.borrow_mut() = Some(endpoints);
        }
        let cached = self.endpoints.borrow();
        self.later(|p| {
            // A disabled endpoint gets no new event (Stripe does not send events created
            // while an endpoint is disabled); the events themselves are kept and listed.
            for ep in cached.iter().flatten() {
                if !ep.disabled && ep.wants(event_type) {
                    p.deliveries
                        .push((event_id.clone(), ep.id.clone(), created));
                }
            }
            p.events.push((
                event_id,
                event_type.to_owned(),
                created,
                object.kind(),
                object.doc().into_owned(),
                previous.map(str::to_owned),
            ));
        })
    }

    fn list_events(&self, filter: &EventFilter, page: Page) -> Result<Vec<EventRow>, StorageError> {
        let (order, from) = order_of(page.cursor);
        let types: Option<&Vec<String>> = (!filter.types.is_empty()).then_some(&filter.types);
        let sql = format!(
            "SELECT id, type, created, kind, doc, seq, previous FROM events WHERE {from}
             AND ($2::text[] IS NULL OR type = ANY($2::text[]))
             AND ($3::text IS NULL OR starts_with(type, $3::text))
             AND ($4::bigint IS NULL OR created > $4) AND ($5::bigint IS NULL OR created >= $5)
             AND ($6::bigint IS NULL OR created < $6) AND ($7::bigint IS NULL OR created <= $7)
             ORDER BY seq {order} LIMIT $8"
        );
        let c = filter.created;
        self.query(
            &sql,
            &[
                &cursor_seq(page.cursor),
                &types,
                &filter.type_prefix,
                &c.gt,
                &c.gte,
                &c.lt,
                &c.lte,
                &(page.limit + 1),
            ],
        )?
        .iter()
        .map(|row| self.event_row(row))
        .collect()
    }

    fn event(&self, id: &str) -> Result<Option<EventRow>, StorageError> {
        self.query_opt(
            "SELECT id, type, created, kind, doc, seq, previous FROM events WHERE id = $1",
            &[&id],
        )?
        .map(|row| self.event_row(&row))
        .transpose()
    }

    fn event_by_seq(&self, seq: i64) -> Result<Option<EventRow>, StorageError> {
        self.query_opt(
            "SELECT id, type, created, kind, doc, seq, previous FROM events WHERE seq = $1",
            &[&seq],
        )?
        .map(|row| self.event_row(&row))
        .transpose()
    }

    fn insert_customer(&self, c: &Customer) -> Result<i64, StorageError> {
        self.returned_seq(
            "INSERT INTO customers (id, created, email, deleted, doc) VALUES ($1, $2, $3, $4, $5)
             RETURNING seq",
            &[&c.id, &c.created, &c.email, &c.deleted, &doc(c)],
        )
    }

    fn update_customer(&self, c: &Customer) -> Result<(), StorageError> {
        self.execute(
            "UPDATE customers SET email = $2, deleted = $3, doc = $4 WHERE id = $1",
            &[&c.id, &c.email, &c.deleted, &doc(c)],
        )?;
        Ok(())
    }

    fn customer(&self, id: &str) -> Result<Option<Customer>, StorageError> {
        self.numbered_one("SELECT seq, doc FROM customers WHERE id = $1", id)
    }

    fn list_customers(
        &self,
        filter: &CustomerFilter,
        page: Page,
    ) -> Result<Vec<Customer>, StorageError> {
        let mut b = Built::default();
        b.and("NOT deleted".into());
        b.eq("email", filter.email.clone().map(Bound::Text));
        b.created(filter.created);
        self.numbered_page("customers", b, page)
    }

    fn search_customers(
        &self,
        query: &Query,
        limit: i64,
        after: Option<i64>,
    ) -> Result<Vec<Customer>, StorageError> {
        let mut b = Built::default();
        b.and("NOT deleted".into());
        let cond = b.search(query, &doc_field);
        Ok(self
            .numbered_search::<Customer>("customers", b, cond, limit, after)?
            .into_iter()
            .map(|(seq, c)| c.numbered(seq))
            .collect())
    }

    fn insert_pm(&self, pm: &PaymentMethod) -> Result<i64, StorageError> {
        self.returned_seq(
            "INSERT INTO payment_methods (id, created, customer, doc) VALUES ($1, $2, $3, $4)
             RETURNING seq",
            &[&pm.id, &pm.created, &pm.customer, &doc(pm)],
        )
    }

    fn update_pm(&self, pm: &PaymentMethod) -> Result<(), StorageError> {
        self.execute(
            "UPDATE payment_methods SET customer = $2, doc = $3 WHERE id = $1",
            &[&pm.id, &pm.customer, &doc(pm)],
        )?;
        Ok(())
    }

    fn pm(&self, id: &str) -> Result<Option<PaymentMethod>, StorageError> {
        self.numbered_one("SELECT seq, doc FROM payment_methods WHERE id = $1", id)
    }

    fn list_pms(
        &self,
        filter: &PaymentMethodFilter,
        page: Page,
    ) -> Result<Vec<PaymentMethod>, StorageError> {
        let mut b = Built::default();
        b.eq("customer", filter.customer.clone().map(Bound::Text));
        b.eq(
            "((doc::jsonb) ->> 'type')",
            filter.kind.clone().map(Bound::Text),
        );
        self.numbered_page("payment_methods", b, page)
    }

    fn insert_product(&self, p: &Product) -> Result<i64, StorageError> {
        self.returned_seq(
            "INSERT INTO products (id, created, active, doc) VALUES ($1, $2, $3, $4) RETURNING seq",
            &[&p.id, &p.created, &p.active, &doc(p)],
        )
    }

    fn update_product(&self, p: &Product) -> Result<(), StorageError> {
        self.execute(
            "UPDATE products SET active = $2, doc = $3 WHERE id = $1",
            &[&p.id, &p.active, &doc(p)],
        )?;
        Ok(())
    }

    fn delete_product(&self, id: &str) -> Result<bool, StorageError> {
        Ok(self.execute("DELETE FROM products WHERE id = $1", &[&id])? > 0)
    }

    fn product(&self, id: &str) -> Result<Option<Product>, StorageError> {
        self.numbered_one("SELECT seq, doc FROM products WHERE id = $1", id)
    }

    fn list_products(
        &self,
        filter: &ProductFilter,
        page: Page,
    ) -> Result<Vec<Product>, StorageError> {
        let mut b = Built::default();
        b.eq("active", filter.active.map(Bound::Bool));
        b.any_of("id", &filter.ids);
        b.eq(
            &doc_field("shippable", Type::Bool),
            filter.shippable.map(Bound::Bool),
        );
        b.eq(
            "((doc::jsonb) ->> 'type')",
            filter.kind.clone().map(Bound::Text),
        );
        b.eq(
            "((doc::jsonb) ->> 'url')",
            filter.url.clone().map(Bound::Text),
        );
        b.created(filter.created);
        self.numbered_page("products", b, page)
    }

    fn search_products(
        &self,
        query: &Query,
        limit: i64,
        after: Option<i64>,
    ) -> Result<Vec<Product>, StorageError> {
        let mut b = Built::default();
        let cond = b.search(query, &doc_field);
        Ok(self
            .numbered_search::<Product>("products", b, cond, limit, after)?
            .into_iter()
            .map(|(seq, p)| p.numbered(seq))
            .collect())
    }

    fn insert_price(&self, p: &Price) -> Result<i64, StorageError> {
        self.returned_seq(
            "INSERT INTO prices (id, created, product, active, lookup_key, doc)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING seq",
            &[
                &p.id,
                &p.created,
                &p.product,
                &p.active,
                &p.lookup_key,
                &doc(p),
            ],
        )
    }

    fn update_price(&self, p: &Price) -> Result<(), StorageError> {
        self.execute(
            "UPDATE prices SET active = $2, lookup_key = $3, doc = $4 WHERE id = $1",
            &[&p.id, &p.active, &p.lookup_key, &doc(p)],
        )?;
        Ok(())
    }

    fn price(&self, id: &str) -> Result<Option<Price>, StorageError> {
        self.numbered_one("SELECT seq, doc FROM prices WHERE id = $1", id)
    }

    fn price_by_lookup_key(&self, key: &str) -> Result<Option<Price>, StorageError> {
        self.numbered_one("SELECT seq, doc FROM prices WHERE lookup_key = $1", key)
    }

    fn count_prices_of(&self, product: &str) -> Result<i64, StorageError> {
        match self.query_opt(
            "SELECT COUNT(*) FROM prices WHERE product = $1",
            &[&product],
        )? {
            Some(row) => self.col(&row, 0),
            None => Ok(0),
        }
    }

    fn list_prices(&self, filter: &PriceFilter, page: Page) -> Result<Vec<Price>, StorageError> {
        let mut b = Built::default();
        b.eq("active", filter.active.map(Bound::Bool));
        b.eq("product", filter.product.clone().map(Bound::Text));
        b.eq(
            "((doc::jsonb) ->> 'type')",
            filter.kind.clone().map(Bound::Text),
        );
        b.eq(
            "((doc::jsonb) ->> 'currency')",
            filter.currency.clone().map(Bound::Text),
        );
        b.any_of("lookup_key", &filter.lookup_keys);
        b.eq(
            "((doc::jsonb) #>> '{recurring,interval}')",
            filter.interval.clone().map(Bound::Text),
        );
        b.eq(
            "((doc::jsonb) #>> '{recurring,usage_type}')",
            filter.usage_type.clone().map(Bound::Text),
        );
        b.created(filter.created);
        self.numbered_page("prices", b, page)
    }

    fn search_prices(
        &self,
        query: &Query,
        limit: i64,
        after: Option<i64>,
    ) -> Result<Vec<Price>, StorageError> {
        let mut b = Built::default();
        let cond = b.search(query, &doc_field);
        Ok(self
            .numbered_search::<Price>("prices", b, cond, limit, after)?
            .into_iter()
            .map(|(seq, p)| p.numbered(seq))
            .collect())
    }

    fn insert_endpoint(&self, ep: &WebhookEndpoint) -> Result<(), StorageError> {
        self.execute(
            "INSERT INTO webhook_endpoints (id, created, doc) VALUES ($1, $2, $3)",
            &[&ep.id, &ep.created, &doc(ep)],
        )?;
        *self.endpoints.borrow_mut() = None;
        Ok(())
    }

    fn update_endpoint(&self, ep: &WebhookEndpoint) -> Result<bool, StorageError> {
        let n = self.execute(
            "UPDATE webhook_endpoints SET doc = $2 WHERE id = $1",
            &[&ep.id, &doc(ep)],
        )?;
        *self.endpoints.borrow_mut() = None;
        Ok(n == 1)
    }

    fn delete_endpoint(&self, id: &str) -> Result<bool, StorageError> {
        self.execute(
            "DELETE FROM deliveries WHERE endpoint = $1 AND NOT delivered",
            &[&id],
        )?;
        let n = self.execute("DELETE FROM webhook_endpoints WHERE id = $1", &[&id])?;
        *self.endpoints.borrow_mut() = None;
        Ok(n == 1)
    }

    fn endpoints(&self) -> Result<Vec<WebhookEndpoint>, StorageError> {
        self.endpoint_rows(ENDPOINTS, &[])
    }

    fn endpoint(&self, id: &str) -> Result<Option<WebhookEndpoint>, StorageError> {
        Ok(self
            .endpoint_rows(
                "SELECT doc, status = 'disabled' FROM webhook_endpoints WHERE id = $1",
                &[&id],
            )?
            .pop())
    }

    fn endpoint_health(&self, id: &str) -> Result<Option<EndpointHealth>, StorageError> {
        self.query_opt(
            "SELECT status = 'disabled', failures, failing_since FROM webhook_endpoints
             WHERE id = $1",
            &[&id],
        )?
        .map(|row| {
            Ok(EndpointHealth {
                disabled: self.col(&row, 0)?,
                failures: self.col(&row, 1)?,
                failing_since: self.col(&row, 2)?,
            })
        })
        .transpose()
    }

    fn set_endpoint_health(&self, id: &str, h: &EndpointHealth) -> Result<bool, StorageError> {
        let status = if h.disabled { "disabled" } else { "enabled" };
        let n = self.execute(
            "UPDATE webhook_endpoints SET status = $2, failures = $3, failing_since = $4
             WHERE id = $1",
            &[&id, &status, &h.failures, &h.failing_since],
        )?;
        *self.endpoints.borrow_mut() = None;
        Ok(n == 1)
    }

    fn endpoint_due_deliveries(
        &self,
        endpoint: &str,
        now: i64,
        limit: i64,
    ) -> Result<Vec<DueDelivery>, StorageError> {
        self.query(
            "SELECT event_seq, endpoint, attempts FROM deliveries
             WHERE endpoint = $1 AND NOT delivered AND next_at <= $2
             ORDER BY event_seq LIMIT $3",
            &[&endpoint, &now, &limit],
        )?
        .iter()
        .map(|row| self.due_delivery(row))
        .collect()
    }

    /// Rows another node is claiming at this moment are skipped, not waited for (`SKIP
    /// LOCKED`); the claim is written in the same statement.
    fn claim_due_deliveries(
        &self,
        endpoint: &str,
        now: i64,
        lease: Lease,
        limit: i64,
    ) -> Result<Vec<DueDelivery>, StorageError> {
        let longest = lease.now.saturating_add(MAX_CLAIM_SECONDS);
        let mut due = self
            .query(
                "WITH due AS (
                     SELECT event_seq FROM deliveries
                     WHERE endpoint = $1 AND NOT delivered AND next_at <= $2
                       AND (claimed_until IS NULL OR claimed_until <= $5
                            OR claimed_until > $6)
                     ORDER BY event_seq LIMIT $4
                     FOR UPDATE SKIP LOCKED)
                 UPDATE deliveries AS d SET claimed_until = $3 FROM due
                 WHERE d.endpoint = $1 AND d.event_seq = due.event_seq
                 RETURNING d.event_seq, d.endpoint, d.attempts",
                &[&endpoint, &now, &lease.until, &limit, &lease.now, &longest],
            )?
            .iter()
            .map(|row| self.due_delivery(row))
            .collect::<Result<Vec<_>, _>>()?;
        due.sort_by_key(|d| d.event_seq);
        Ok(due)
    }

    fn resume_deliveries(&self, endpoint: &str, now: i64) -> Result<(), StorageError> {
        self.execute(
            "UPDATE deliveries SET next_at = $2
             WHERE endpoint = $1 AND NOT delivered AND next_at > $2",
            &[&endpoint, &now],
        )?;
        Ok(())
    }

    fn delivery_done(
        &self,
        d: &DueDelivery,
        delivered: bool,
        status: Option<u16>,
        error: Option<&str>,
        next_at: i64,
    ) -> Result<(), StorageError> {
        let status = status.map(i32::from);
        self.execute(
            "UPDATE deliveries SET delivered = $3, attempts = attempts + 1, last_status = $4,
             last_error = $5, next_at = $6, claimed_until = NULL
             WHERE event_seq = $1 AND endpoint = $2 AND NOT delivered",
            &[
                &d.event_seq,
                &d.endpoint,
                &delivered,
                &status,
                &error,
                &next_at,
            ],
        )?;
        Ok(())
    }

    fn delivery_report(&self) -> Result<Vec<DeliveryReport>, StorageError> {
        self.query(
            "SELECT e.id, d.endpoint, d.delivered, d.attempts, d.last_status, d.last_error
             FROM deliveries d JOIN events e ON e.seq = d.event_seq
             ORDER BY d.event_seq, d.endpoint",
            &[],
        )?
        .iter()
        .map(|row| {
            let status: Option<i32> = self.col(row, 4)?;
            Ok(DeliveryReport {
                event: self.col(row, 0)?,
                endpoint: self.col(row, 1)?,
                delivered: self.col(row, 2)?,
                attempts: self.col(row, 3)?,
                last_status: status.and_then(|s| u16::try_from(s).ok()),
                last_error: self.col(row, 5)?,
            })
        })
        .collect()
    }

    fn idempotent(&self, key: &str) -> Result<Option<SavedAnswer>, StorageError> {
        self.query_opt(
            "SELECT fingerprint, status, body FROM idempotency WHERE key = $1",
            &[&key],
        )?
        .map(|row| {
            let status: i32 = self.col(&row, 1)?;
            Ok(SavedAnswer {
                fingerprint: self.col(&row, 0)?,
                status: u16::try_from(status)
                    .map_err(|_| self.message(&format!("a saved answer's status {status}")))?,
                body: self.col(&row, 2)?,
            })
        })
        .transpose()
    }

    fn save_idempotent(
        &self,
        key: &str,
        fingerprint: &str,
        status: u16,
        body: &str,
        now: i64,
    ) -> Result<(), StorageError> {
        self.execute(
            "INSERT INTO idempotency (key, fingerprint, status, body, created)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (key) DO UPDATE SET fingerprint = EXCLUDED.fingerprint,
             status = EXCLUDED.status, body = EXCLUDED.body, created = EXCLUDED.created",
            &[&key, &fingerprint, &i32::from(status), &body, &now],
        )?;
        Ok(())
    }

    fn prune_idempotency(&self, before: i64) -> Result<usize, StorageError> {
        let n = self.execute("DELETE FROM idempotency WHERE created < $1", &[&before])?;
        Ok(usize::try_from(n).unwrap_or(usize::MAX))
    }

    fn confirmation(
        &self,
        terminal: &str,
        id: &str,
    ) -> Result<Option<PastConfirmation>, StorageError> {
        self.query_opt(
            "SELECT fingerprint, status, reason FROM confirmations
             WHERE terminal = $1 AND id = $2",
            &[&terminal, &id],
        )?
        .map(|row| {
            let status: String = self.col(&row, 1)?;
            Ok(PastConfirmation {
                fingerprint: self.col(&row, 0)?,
                verdict: verdict_of(&status),
                reason: self.col(&row, 2)?,
            })
        })
        .transpose()
    }

    /// Sent with the unit's next statement.
    fn insert_confirmation(&self, c: &ConfirmationRecord<'_>) -> Result<(), StorageError> {
        self.later(|p| {
            p.confirmations.push(ConfirmationRow {
                id: c.id.to_owned(),
                terminal: c.terminal.to_owned(),
                fingerprint: c.fingerprint.to_owned(),
                status: c.verdict.as_str(),
                reason: c.reason.map(str::to_owned),
                pi_seq: c.pi_seq,
                chain: c.chain.map_or("", Chain::as_str),
                store: c.store.to_owned(),
                amount: c.amount,
                paid_at: c.paid_at.to_owned(),
                barcode: c.barcode.map(str::to_owned),
                received_at: c.received_at,
            });
        })
    }

    fn collected_before(&self, barcode: &str) -> Result<bool, StorageError> {
        let row = self.query_opt(
            "SELECT EXISTS (SELECT 1 FROM confirmations
             WHERE barcode = $1 AND pi_seq IS NULL AND status = 'accepted')",
            &[&barcode],
        )?;
        match row {
            Some(row) => self.col(&row, 0),
            None => Ok(false),
        }
    }

    /// Two batches of one terminal at repeatable read would each miss the other's links (no
    /// row in common): both write the terminal's head row first, so the second waits for the
    /// first and runs again from a snapshot that holds its links (migration 0005). That
    /// alone keeps the rule.
    ///
    /// So that the second does not lose a race and run again (nor the third, twice), a unit
    /// whose first statement this is first waits for the terminal's turn, before its
    /// transaction (and so its snapshot) begins: a session advisory lock on the terminal,
    /// held until the transaction ends ([`PgTx::commit`], [`PgTx::rollback`]; a node that
    /// dies loses its session, and the lock with it). The batches of one terminal then run
    /// one after the other on every node, each from a snapshot that holds the one before.
    /// All of it goes with the unit's next statement.
    fn chain_turn(&self, terminal: &str) -> Result<(), StorageError> {
        self.check()?;
        if self.begin.get().is_some() && self.turn.get().is_none() {
            let key = turn_key(terminal);
            self.turn.set(Some(key));
            *self.wait_turn.borrow_mut() =
                Some(format!("SELECT pg_advisory_lock({TURN_CLASS}, {key})"));
        }
        self.later(|p| {
            if !p.heads.iter().any(|t| t == terminal) {
                p.heads.push(terminal.to_owned());
            }
        })
    }

    fn chain_max_seq(&self, terminal: &str) -> Result<Option<i64>, StorageError> {
        self.chain_turn(terminal)?;
        match self.query_opt(
            "SELECT MAX(seq) FROM terminal_chain WHERE terminal = $1",
            &[&terminal],
        )? {
            Some(row) => self.col(&row, 0),
            None => Ok(None),
        }
    }

    fn chain_link(
        &self,
        terminal: &str,
        seq: i64,
    ) -> Result<Option<(String, String)>, StorageError> {
        self.query_opt(
            "SELECT prev, hash FROM terminal_chain WHERE terminal = $1 AND seq = $2",
            &[&terminal, &seq],
        )?
        .map(|row| Ok((self.col(&row, 0)?, self.col(&row, 1)?)))
        .transpose()
    }

    fn insert_chain_link(
        &self,
        terminal: &str,
        seq: i64,
        prev: &str,
        hash: &str,
    ) -> Result<bool, StorageError> {
        Ok(self.execute(
            "INSERT INTO terminal_chain (terminal, seq, prev, hash) VALUES ($1, $2, $3, $4)
             ON CONFLICT (terminal, seq) DO NOTHING",
            &[&terminal, &seq, &prev, &hash],
        )? == 1)
    }

    /// Sent with the unit's next statement.
    fn add_chain_link(
        &self,
        terminal: &str,
        seq: i64,
        prev: &str,
        hash: &str,
    ) -> Result<(), StorageError> {
        self.later(|p| {
            p.links
                .push((terminal.to_owned(), seq, prev.to_owned(), hash.to_owned()));
        })
    }

    /// Sent with the unit's next statement.
    fn flag_fork(
        &self,
        terminal: &str,
        seq: i64,
        detail: &str,
        at: i64,
    ) -> Result<(), StorageError> {
        self.later(|p| {
            p.forks
                .push((terminal.to_owned(), seq, detail.to_owned(), at));
        })
    }

    /// One statement per kind of question, all in one round trip.
    fn slip_facts(&self, ask: &SlipQuestions<'_>) -> Result<SlipFacts, StorageError> {
        let chains: Vec<&str> = ask.codes.iter().map(|(chain, _)| chain.as_str()).collect();
        let codes: Vec<&str> = ask.codes.iter().map(|(_, code)| *code).collect();
        let terminal = &ask.terminal;
        let mut stmts = Vec::new();
        let mut asked = [false; 5];
        if !ask.slips.is_empty() {
            asked[0] = true;
            stmts.push(Stmt::Fresh(
                "SELECT id, fingerprint, status, reason FROM confirmations
                 WHERE terminal = $1 AND id = ANY($2::text[])",
                vec![(terminal, PgType::TEXT), (&ask.slips, PgType::TEXT_ARRAY)],
            ));
        }
        if !ask.payments.is_empty() {
            asked[1] = true;
            stmts.push(Stmt::Fresh(
                "SELECT doc FROM payment_intents WHERE seq = ANY($1::bigint[])",
                vec![(&ask.payments, PgType::INT8_ARRAY)],
            ));
        }
        if !ask.codes.is_empty() {
            asked[2] = true;
            stmts.push(Stmt::Fresh(
                "SELECT c.chain, c.code, c.pi_seq, p.doc FROM payment_codes c
                 JOIN payment_intents p ON p.seq = c.pi_seq
                 WHERE (c.chain, c.code) IN (SELECT * FROM unnest($1::text[], $2::text[]))
                 ORDER BY c.pi_seq DESC",
                vec![(&chains, PgType::TEXT_ARRAY), (&codes, PgType::TEXT_ARRAY)],
            ));
        }
        if !ask.links.is_empty() {
            asked[3] = true;
            stmts.push(Stmt::Fresh(
                "SELECT seq, prev, hash FROM terminal_chain
                 WHERE terminal = $1 AND seq = ANY($2::bigint[])",
                vec![(terminal, PgType::TEXT), (&ask.links, PgType::INT8_ARRAY)],
            ));
        }
        if !ask.collected.is_empty() {
            asked[4] = true;
            stmts.push(Stmt::Fresh(
                "SELECT DISTINCT barcode FROM confirmations
                 WHERE barcode = ANY($1::text[]) AND pi_seq IS NULL AND status = 'accepted'",
                vec![(&ask.collected, PgType::TEXT_ARRAY)],
            ));
        }
        // The test clock's offset, which another node may have moved: read with the rest.
        stmts.push(Stmt::Query(CLOCK_OFFSET, Vec::new()));
        // The batch's events will need the endpoints: read with the rest.
        let endpoints = self.endpoints.borrow().is_none();
        if endpoints {
            stmts.push(Stmt::Query(ENDPOINTS, Vec::new()));
        }
        let mut answers = self.send(true, stmts)?;
        if endpoints {
            match answers.pop() {
                Some(Answer::Rows(rows)) => {
                    let read = self.endpoints_of(&rows)?;
                    *self.endpoints.borrow_mut() = Some(read);
                }
                _ => return Err(self.message("the endpoints' query answered no rows")),
            }
        }
        let clock = match answers.pop() {
            Some(Answer::Rows(rows)) => rows,
            _ => return Err(self.message("the clock's query answered no rows")),
        };
        let mut answers = answers.into_iter();
        let mut facts = SlipFacts::default();
        if let Some(row) = clock.first() {
            facts.clock_offset_ms = self.col::<String>(row, 0)?.parse().ok();
        }
        let mut next = |wanted: bool| -> Result<Vec<Row>, StorageError> {
            if !wanted {
                return Ok(Vec::new());
            }
            match answers.next() {
                Some(Answer::Rows(rows)) => Ok(rows),
                _ => Err(self.message("a question of the batch answered no rows")),
            }
        };
        for row in next(asked[0])? {
            let status: String = self.col(&row, 2)?;
            facts.past.insert(
                self.col(&row, 0)?,
                PastConfirmation {
                    fingerprint: self.col(&row, 1)?,
                    verdict: verdict_of(&status),
                    reason: self.col(&row, 3)?,
                },
            );
        }
        for row in next(asked[1])? {
            let pi: PaymentIntent = self.undoc(&self.col::<String>(&row, 0)?)?;
            facts.payments.insert(pi.seq, pi);
        }
        for row in next(asked[2])? {
            let chain: String = self.col(&row, 0)?;
            let Ok(chain) = chain.parse::<Chain>() else {
                continue;
            };
            let seq: i64 = self.col(&row, 2)?;
            if let std::collections::hash_map::Entry::Vacant(e) = facts.payments.entry(seq) {
                e.insert(self.undoc(&self.col::<String>(&row, 3)?)?);
            }
            facts
                .holders
                .entry((chain, self.col(&row, 1)?))
                .or_default()
                .push(seq);
        }
        for row in next(asked[3])? {
            facts
                .links
                .insert(self.col(&row, 0)?, (self.col(&row, 1)?, self.col(&row, 2)?));
        }
        for row in next(asked[4])? {
            facts.collected.insert(self.col(&row, 0)?);
        }
        Ok(facts)
    }

    fn chain_seqs(&self, terminal: &str) -> Result<Vec<i64>, StorageError> {
        self.query(
            "SELECT seq FROM terminal_chain WHERE terminal = $1 ORDER BY seq",
            &[&terminal],
        )?
        .iter()
        .map(|row| self.col(row, 0))
        .collect()
    }

    fn chain_head(&self, terminal: &str) -> Result<Option<(i64, String)>, StorageError> {
        self.query_opt(
            "SELECT seq, hash FROM terminal_chain WHERE terminal = $1 ORDER BY seq DESC LIMIT 1",
            &[&terminal],
        )?
        .map(|row| Ok((self.col(&row, 0)?, self.col(&row, 1)?)))
        .transpose()
    }

    fn forks(&self, terminal: &str) -> Result<Vec<Fork>, StorageError> {
        self.query(
            "SELECT seq, detail, at FROM chain_flags WHERE terminal = $1 AND kind = 'fork' ORDER BY id",
            &[&terminal],
        )?
        .iter()
        .map(|row| {
            Ok(Fork {
                seq: self.col(row, 0)?,
                detail: self.col(row, 1)?,
                at: self.col(row, 2)?,
            })
        })
        .collect()
    }
}

#[cfg(test)]
mod clock_query {
    #[test]
    fn reads_the_key_the_network_keeps_its_clock_under() {
        let key = format!("'{}'", crate::CLOCK_META_KEY);
        assert!(
            super::CLOCK_OFFSET.ends_with(&key),
            "{}",
            super::CLOCK_OFFSET
        );
    }
}
