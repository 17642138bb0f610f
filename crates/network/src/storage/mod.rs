//! The network's storage, as its rules see it: a [`Storage`] runs units of work, each in
//! one transaction, and a unit of work reads and writes through [`Tx`], whose every method
//! is a question or a change in the network's own terms (a PaymentIntent by id, claim a
//! payment code, record a confirmation, queue an event for the endpoints that want it).
//!
//! No SQL, no database type and no backend notion (write-ahead logs, fsync tickets, query
//! hints) crosses this boundary: the rules in `payments.rs`, `terminal.rs`, `webhooks.rs`
//! and `http/` are the same whatever keeps the data. Each backend lives in a module of its
//! own and is the only code that names its database client:
//!
//! - [`sqlite`]: the embedded default, one file, one writer, commits grouped and synced off
//!   the writer's thread;
//! - [`postgres`]: one PostgreSQL database shared by several network processes (nodes),
//!   every unit a repeatable-read transaction run again when it loses a race.
//!
//! [`open_storage`] picks one by the `--db` given: a `postgres://` URL or a file path. What
//! the traits promise, every backend keeps:
//!
//! - a unit of work is atomic: committed when it returns `Ok`, rolled back when it returns
//!   `Err` (nothing of it is kept), and no unit sees another half-done;
//! - nothing is answered from a unit (its result is not returned) before everything it
//!   could have seen is durable: a stopped, killed or crashed network has lost nothing it
//!   answered;
//! - a backend may retry a unit (a serialization failure, say), so a unit must not act on
//!   the world outside its transaction; the rules' work is pure apart from `Tx`.
//!
//! The units are synchronous closures: the rules run inside one transaction without
//! awaiting anything, and each backend runs them where it can block (SQLite on tokio's
//! blocking pool; an async client from there through its runtime handle). The boundary the
//! rest of the network awaits is [`Storage`], which is asynchronous.

pub mod postgres;
pub mod sqlite;
#[cfg(test)]
pub(crate) mod tests;

use std::any::Any;
use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;

use konbini_domain::Chain;
use konbini_protocol::Verdict;

pub use postgres::PostgresStorage;
pub use sqlite::SqliteStorage;

use crate::checkout::{PaymentLink, Session};
use crate::objects::{
    Charge, Customer, EventRow, PaymentIntent, PaymentMethod, Price, Product, Refund, Snapshot,
    WebhookEndpoint,
};

/// A claim on webhook deliveries, in seconds of the clock's base (`Clock::base`: no test
/// clock offset, so moving the test clock neither ends a claim nor stretches one). A stored
/// claim is in force while `now < claimed_until <= now + MAX_CLAIM_SECONDS`: one further
/// off was stamped on another time scale (before claims were kept on the base) and is
/// taken as lapsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lease {
    /// The time now.
    pub now: i64,
    /// Until when the deliveries taken are claimed.
    pub until: i64,
}

/// The longest a claim may run (the longest delivery timeout, an hour, and a margin).
pub const MAX_CLAIM_SECONDS: i64 = 3700;

/// The network's storage could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenStorageError {
    /// The SQLite file.
    #[error(transparent)]
    Sqlite(#[from] sqlite::OpenError),
    /// The PostgreSQL database.
    #[error(transparent)]
    Postgres(#[from] postgres::OpenError),
    /// A URL of another kind of database (its scheme; the rest, which may hold a password,
    /// is not repeated): not a file name either.
    #[error(
        "--db: a {0}:// URL names a database this network cannot use: give a postgres:// (or postgresql://) URL, or the path of a SQLite file"
    )]
    OtherScheme(String),
}

/// Open the network's storage named by `db`: a `postgres://` (or `postgresql://`) URL opens
/// the PostgreSQL backend, anything else is the path of a SQLite file (created if missing;
/// `:memory:` for a throwaway one). Either is migrated to this build's schema.
pub async fn open_storage(db: &str) -> Result<std::sync::Arc<dyn Storage>, OpenStorageError> {
    if is_postgres_url(db) {
        // The scheme as PostgreSQL's client takes it (lower case); the rest as given.
        let (scheme, rest) = db.split_once("://").unwrap_or_default();
        let url = format!("{}://{rest}", scheme.to_ascii_lowercase());
        return Ok(std::sync::Arc::new(PostgresStorage::open(&url).await?));
    }
    // `mysql://...`, `sqlite://...`: a URL, not a file to create.
    if let Some((scheme, _)) = db.split_once("://")
        && !scheme.is_empty()
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
    {
        return Err(OpenStorageError::OtherScheme(scheme.to_owned()));
    }
    let path = std::path::PathBuf::from(db);
    let storage = tokio::task::spawn_blocking(move || SqliteStorage::open(&path))
        .await
        .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))?;
    Ok(std::sync::Arc::new(storage))
}

/// Whether `db` names a PostgreSQL database rather than a file.
pub fn is_postgres_url(db: &str) -> bool {
    db.split_once("://").is_some_and(|(scheme, _)| {
        scheme.eq_ignore_ascii_case("postgres") || scheme.eq_ignore_ascii_case("postgresql")
    })
}

/// The storage failed: nothing of the unit of work was kept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StorageError {
    /// The database failed, or what was written could not be made durable. The message
    /// names the database and what it said.
    #[error("{0}")]
    Failed(String),
    /// The storage is shutting down and takes no more work.
    #[error("the network is shutting down; retry")]
    Closed,
    /// Nothing was done, and the same work may succeed soon: the database cannot be reached
    /// now, or every pooled connection stayed busy for the whole wait (answered `503` with
    /// `Retry-After`, never queued without bound). The message names the database.
    #[error("{0}")]
    Unavailable(String),
}

/// What a unit of work hands back, boxed so that [`Storage`] can be a trait object (the
/// typed wrappers [`run_write`] and friends unbox it).
pub type Boxed = Box<dyn Any + Send>;

/// A unit of work: run once (or again, after a retry) inside one transaction. `Ok` commits,
/// `Err` rolls back; both carry the unit's own result out.
pub type Work = Box<dyn FnMut(&dyn Tx) -> Result<Boxed, Boxed> + Send>;

/// A future the storage answers with.
pub type StorageFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Result<Boxed, Boxed>, StorageError>> + Send + 'a>>;

/// Where the network keeps its objects.
pub trait Storage: Send + Sync + 'static {
    /// Run `work` in one read-write transaction.
    fn write(&self, work: Work) -> StorageFuture<'_>;

    /// Run `work` in one read-write transaction that the storage may share with other
    /// grouped writes waiting at the same moment (one commit for all: the registers'
    /// confirmation batches). Each unit is still atomic on its own: one that returns `Err`
    /// is rolled back without touching the others.
    fn write_grouped(&self, work: Work) -> StorageFuture<'_>;

    /// Run `work` in one read-only transaction (it sees every write answered before it).
    fn read(&self, work: Work) -> StorageFuture<'_>;

    /// Whether other processes (nodes) write to this store too: then what one node keeps
    /// in memory (the clock's offset) is read from the store where it must be exact.
    fn shared(&self) -> bool {
        false
    }
}

impl dyn Storage {
    /// [`Storage::write`] with the unit's own types.
    pub async fn run_write<T, E>(
        &self,
        work: impl FnMut(&dyn Tx) -> Result<T, E> + Send + 'static,
    ) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StorageError> + Send + 'static,
    {
        unbox(self.write(boxed(work)).await)
    }

    /// [`Storage::write_grouped`] with the unit's own types.
    pub async fn run_grouped<T, E>(
        &self,
        work: impl FnMut(&dyn Tx) -> Result<T, E> + Send + 'static,
    ) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StorageError> + Send + 'static,
    {
        unbox(self.write_grouped(boxed(work)).await)
    }

    /// [`Storage::read`] with the unit's own types.
    pub async fn run_read<T, E>(
        &self,
        work: impl FnMut(&dyn Tx) -> Result<T, E> + Send + 'static,
    ) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StorageError> + Send + 'static,
    {
        unbox(self.read(boxed(work)).await)
    }
}

fn boxed<T, E>(mut work: impl FnMut(&dyn Tx) -> Result<T, E> + Send + 'static) -> Work
where
    T: Send + 'static,
    E: Send + 'static,
{
    Box::new(move |tx| match work(tx) {
        Ok(t) => Ok(Box::new(t) as Boxed),
        Err(e) => Err(Box::new(e) as Boxed),
    })
}

fn unbox<T: 'static, E: From<StorageError> + 'static>(
    answer: Result<Result<Boxed, Boxed>, StorageError>,
) -> Result<T, E> {
    match answer {
        Ok(Ok(t)) => Ok(*t
            .downcast::<T>()
            .expect("a unit of work answers its own type")),
        Ok(Err(e)) => Err(*e
            .downcast::<E>()
            .expect("a unit of work fails with its own type")),
        Err(e) => Err(E::from(e)),
    }
}

/// Creation times a list keeps (`created[gt|gte|lt|lte]`, `created=N`), unix seconds; an
/// unset bound keeps everything on its side.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Created {
    /// Later than.
    pub gt: Option<i64>,
    /// At or later than.
    pub gte: Option<i64>,
    /// Earlier than.
    pub lt: Option<i64>,
    /// At or earlier than.
    pub lte: Option<i64>,
}

/// Where a page of a list starts, by the objects' numbers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Cursor {
    /// The newest.
    #[default]
    First,
    /// Older than this one (`starting_after`).
    After(i64),
    /// Newer than this one (`ending_before`).
    Before(i64),
}

/// One page of a list: at most `limit` objects from `cursor`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    /// How many the page holds (the storage fetches one more, to tell `has_more`).
    pub limit: i64,
    /// Where it starts.
    pub cursor: Cursor,
}

/// Which events a list keeps.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventFilter {
    /// Only these types (`types[]`, or `type=` one exact name); empty keeps every type.
    pub types: Vec<String>,
    /// Only types starting with this (`type=payment_intent.*` is `payment_intent.`).
    pub type_prefix: Option<String>,
    /// Created within.
    pub created: Created,
}

/// Which Checkout Sessions a list keeps (each unset filter keeps all).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionFilter {
    /// Created within.
    pub created: Created,
    /// Of this customer (`cus_...`).
    pub customer: Option<String>,
    /// Whose customer gave this email on the page (`customer_details[email]`).
    pub email: Option<String>,
    /// That made this PaymentIntent (its number).
    pub pi_seq: Option<i64>,
    /// Made by this Payment Link.
    pub payment_link: Option<String>,
    /// In this status (`open`, `complete`, `expired`).
    pub status: Option<String>,
}

/// Which customers a list keeps (deleted ones never).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CustomerFilter {
    /// Only those with exactly this email (case-sensitive, as Stripe's `email` filter).
    pub email: Option<String>,
    /// Created within.
    pub created: Created,
}

/// Which payment methods a list keeps.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PaymentMethodFilter {
    /// Only those attached to this customer.
    pub customer: Option<String>,
    /// Only those of this type (`konbini`).
    pub kind: Option<String>,
}

/// Which products a list keeps.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProductFilter {
    /// Only active (or inactive) ones.
    pub active: Option<bool>,
    /// Only these ids (`ids[]`); empty keeps every id.
    pub ids: Vec<String>,
    /// Only shippable (or not) ones.
    pub shippable: Option<bool>,
    /// Only this `type` (`service`, `good`).
    pub kind: Option<String>,
    /// Only this `url`.
    pub url: Option<String>,
    /// Created within.
    pub created: Created,
}

/// Which prices a list keeps.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PriceFilter {
    /// Only active (or inactive) ones.
    pub active: Option<bool>,
    /// Only this product's.
    pub product: Option<String>,
    /// Only this `type` (`one_time`, `recurring`).
    pub kind: Option<String>,
    /// Only this currency.
    pub currency: Option<String>,
    /// Only these lookup keys (`lookup_keys[]`); empty keeps every price.
    pub lookup_keys: Vec<String>,
    /// Only recurring ones of this interval (`recurring[interval]`).
    pub interval: Option<String>,
    /// Only recurring ones of this usage type (`recurring[usage_type]`).
    pub usage_type: Option<String>,
    /// Created within.
    pub created: Created,
}

/// A saved idempotent answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedAnswer {
    /// The parameters' fingerprint when first used.
    pub fingerprint: String,
    /// The HTTP status.
    pub status: u16,
    /// The JSON body.
    pub body: String,
}

/// A webhook delivery waiting for its time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueDelivery {
    /// The event's number.
    pub event_seq: i64,
    /// The endpoint.
    pub endpoint: String,
    /// Attempts so far.
    pub attempts: i64,
}

/// One delivery of an event to an endpoint, for the test helper's report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryReport {
    /// The event's id.
    pub event: String,
    /// The endpoint's id.
    pub endpoint: String,
    /// Answered 2xx.
    pub delivered: bool,
    /// Attempts so far.
    pub attempts: i64,
    /// The last attempt's HTTP status, if it got one.
    pub last_status: Option<u16>,
    /// Why the last attempt failed without a status (refused target, timeout, connection).
    pub last_error: Option<String>,
}

/// How a webhook endpoint's deliveries have gone: what decides whether it is disabled.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EndpointHealth {
    /// Disabled (by the merchant, or after failing persistently): nothing is sent to it and
    /// no new event is queued for it.
    pub disabled: bool,
    /// Failed attempts in a row since the last delivered one.
    pub failures: i64,
    /// When the first of those failed, in the network's clock (unix seconds).
    pub failing_since: Option<i64>,
}

/// A confirmation the network has already judged, under its slip id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PastConfirmation {
    /// What its resends must repeat exactly.
    pub fingerprint: String,
    /// `Accepted` or `Conflict` (rejections are not kept).
    pub verdict: Verdict,
    /// Why, for a conflict.
    pub reason: Option<String>,
}

/// A confirmation to keep: accepted or in conflict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfirmationRecord<'a> {
    /// The slip id.
    pub id: &'a str,
    /// The terminal that sent it.
    pub terminal: &'a str,
    /// See [`PastConfirmation::fingerprint`].
    pub fingerprint: &'a str,
    /// `Accepted` or `Conflict`.
    pub verdict: Verdict,
    /// Why, for a conflict.
    pub reason: Option<&'a str>,
    /// The payment it paid; `None` for another biller's slip, collected on its behalf.
    pub pi_seq: Option<i64>,
    /// The store's chain, when known.
    pub chain: Option<Chain>,
    /// The store's code.
    pub store: &'a str,
    /// Yen.
    pub amount: i64,
    /// When the cash was taken, as sent (RFC 3339).
    pub paid_at: &'a str,
    /// The bill barcode, for a scanned slip.
    pub barcode: Option<&'a str>,
    /// When the network received it, unix seconds.
    pub received_at: i64,
}

/// A fork the network flagged in a terminal's journal chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fork {
    /// The sale number where the chain forks.
    pub seq: i64,
    /// What contradicts what.
    pub detail: String,
    /// When it was flagged, unix seconds.
    pub at: i64,
}

/// Everything a batch of confirmations asks of the store before it judges its slips, asked
/// at once ([`Tx::slip_facts`]): a backend may answer it with one statement per kind of
/// question instead of one per slip.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SlipQuestions<'a> {
    /// The terminal that sent the batch (slip ids and chain links are its own).
    pub terminal: &'a str,
    /// Slip ids: their past confirmations.
    pub slips: Vec<&'a str>,
    /// PaymentIntents by number (the scanned slips' bill barcodes).
    pub payments: Vec<i64>,
    /// Payment codes at a chain (the keyed-in slips): every payment that ever held each.
    pub codes: Vec<(Chain, &'a str)>,
    /// Sale numbers of the terminal's journal chain: the links held there.
    pub links: Vec<i64>,
    /// Other billers' bill barcodes: whether each was accepted before.
    pub collected: Vec<&'a str>,
}

/// The store's answers to [`SlipQuestions`], as one read inside the unit's transaction sees
/// them. What was not found is absent.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SlipFacts {
    /// Past confirmations by slip id ([`Tx::confirmation`]).
    pub past: HashMap<String, PastConfirmation>,
    /// PaymentIntents by number: those asked for, and every holder of an asked code.
    pub payments: HashMap<i64, PaymentIntent>,
    /// Every payment that held each asked code, newest first (the numbers of
    /// [`SlipFacts::payments`]); [`Tx::pi_by_code`] chooses among them.
    pub holders: HashMap<(Chain, String), Vec<i64>>,
    /// Links held by sale number: (prev, hash) ([`Tx::chain_link`]).
    pub links: HashMap<i64, (String, String)>,
    /// The asked barcodes accepted before ([`Tx::collected_before`]).
    pub collected: HashSet<String>,
    /// The test clock's offset as the store holds it, where other nodes may have moved it
    /// (a shared store: read with the rest, no extra round trip); `None` where this node's
    /// own clock is the network's.
    pub clock_offset_ms: Option<i64>,
}

/// One transaction of a [`Storage`]: everything the network's rules read and write.
///
/// Lists fetch at most `limit` plus one (so the caller can tell `has_more`), newest first;
/// a page [`Cursor::Before`] an object holds the ones just newer than it, nearest first
/// (oldest first), so that the extra one is the farthest: the caller cuts it and reverses. Ids are the objects' own (`pi_...`, `ch_...`); a PaymentIntent also has a
/// number (`seq`, its order of creation), which its bill barcode carries.
pub trait Tx {
    /// Run `work` inside this transaction so that, if it answers `false`, what it changed is
    /// undone and the transaction goes on (a savepoint): how a failed request's work is
    /// rolled back while its idempotency key is still saved in the same transaction.
    fn savepoint(&self, work: &mut dyn FnMut(&dyn Tx) -> bool) -> Result<(), StorageError>;

    /// A value of the network's own settings (its clock's offset, say).
    fn meta(&self, key: &str) -> Result<Option<String>, StorageError>;
    /// The database server's own time (Unix milliseconds), where it has one of its own: a
    /// store that several nodes share.
    fn database_now_ms(&self) -> Result<Option<i64>, StorageError> {
        Ok(None)
    }
    /// Set a value of the network's own settings.
    fn set_meta(&self, key: &str, value: &str) -> Result<(), StorageError>;

    /// A terminal registered in the store: its shared secret.
    fn terminal_secret(&self, id: &str) -> Result<Option<String>, StorageError>;
    /// Register a terminal in the store, or give it a new secret.
    fn put_terminal(&self, id: &str, secret: &str, now: i64) -> Result<(), StorageError>;

    /// A number for the PaymentIntent this unit inserts: greater than every payment's stored
    /// (a rolled-back unit may leave a gap). Only in a write.
    fn next_pi_seq(&self) -> Result<i64, StorageError>;
    /// Keep a new PaymentIntent.
    fn insert_pi(&self, pi: &PaymentIntent) -> Result<(), StorageError>;
    /// Save a changed PaymentIntent; returns its stored document (for an event).
    fn update_pi(&self, pi: &PaymentIntent) -> Result<String, StorageError>;
    /// A PaymentIntent by id.
    fn pi(&self, id: &str) -> Result<Option<PaymentIntent>, StorageError>;
    /// A PaymentIntent by number.
    fn pi_by_seq(&self, seq: i64) -> Result<Option<PaymentIntent>, StorageError>;
    /// PaymentIntents of a page (see the trait's note on lists), only those of `customer`
    /// if given, created within `created`.
    fn list_pis(
        &self,
        customer: Option<&str>,
        created: Created,
        page: Page,
    ) -> Result<Vec<PaymentIntent>, StorageError>;
    /// PaymentIntents that `query` matches, newest first, older than `after` if given, at
    /// most `limit` plus one.
    fn search_pis(
        &self,
        query: &crate::search::Query,
        limit: i64,
        after: Option<i64>,
    ) -> Result<Vec<PaymentIntent>, StorageError>;
    /// PaymentIntents whose next deadline (expiry, a test-mode outcome) is at or before
    /// `now`, soonest first.
    fn due_pis(&self, now: i64, limit: i64) -> Result<Vec<PaymentIntent>, StorageError>;
    /// The earliest deadline of any payment or refund.
    fn next_due(&self) -> Result<Option<i64>, StorageError>;
    /// Claim `code` at `chain` for the PaymentIntent `pi_seq`; false when a payable payment
    /// holds it.
    fn claim_code(&self, chain: Chain, code: &str, pi_seq: i64) -> Result<bool, StorageError>;
    /// The payment a chain's code names: the one whose live voucher carries it, else its
    /// latest holder (to say why it is no longer payable).
    fn pi_by_code(&self, chain: &str, code: &str) -> Result<Option<PaymentIntent>, StorageError>;
    /// The PaymentIntent a voucher page's token belongs to.
    fn pi_by_voucher(&self, token: &str) -> Result<Option<PaymentIntent>, StorageError>;

    /// Keep a new charge of the PaymentIntent `pi_seq`; returns its stored document.
    fn insert_charge(&self, pi_seq: i64, charge: &Charge) -> Result<String, StorageError>;
    /// Save a changed charge.
    fn update_charge(&self, charge: &Charge) -> Result<(), StorageError>;
    /// A charge by id.
    fn charge(&self, id: &str) -> Result<Option<Charge>, StorageError>;
    /// A charge by its balance transaction's id.
    fn charge_by_txn(&self, txn: &str) -> Result<Option<Charge>, StorageError>;

    /// Keep a new refund of the PaymentIntent `pi_seq`.
    fn insert_refund(&self, pi_seq: i64, refund: &Refund) -> Result<(), StorageError>;
    /// Save a changed refund.
    fn update_refund(&self, refund: &Refund) -> Result<(), StorageError>;
    /// A refund by id.
    fn refund(&self, id: &str) -> Result<Option<Refund>, StorageError>;
    /// A refund by its bank-details page token.
    fn refund_by_token(&self, token: &str) -> Result<Option<Refund>, StorageError>;
    /// Every refund of a PaymentIntent, oldest first.
    fn refunds_of(&self, pi_seq: i64) -> Result<Vec<Refund>, StorageError>;
    /// Refunds whose deadline is at or before `now`, soonest first.
    fn due_refunds(&self, now: i64, limit: i64) -> Result<Vec<Refund>, StorageError>;

    /// A number for the Checkout Session this unit inserts: greater than every session's
    /// stored. Only in a write.
    fn next_session_seq(&self) -> Result<i64, StorageError>;
    /// Keep a new Checkout Session.
    fn insert_session(&self, session: &Session) -> Result<(), StorageError>;
    /// Save a changed Checkout Session; returns its stored document (for an event).
    fn update_session(&self, session: &Session) -> Result<String, StorageError>;
    /// A Checkout Session by id.
    fn session(&self, id: &str) -> Result<Option<Session>, StorageError>;
    /// The Checkout Session whose submission made the PaymentIntent `pi_seq`.
    fn session_by_pi(&self, pi_seq: i64) -> Result<Option<Session>, StorageError>;
    /// Checkout Sessions of a page (see the trait's note on lists) that `filter` keeps.
    fn list_sessions(
        &self,
        filter: &SessionFilter,
        page: Page,
    ) -> Result<Vec<Session>, StorageError>;
    /// Open Checkout Sessions whose `expires_at` is at or before `now`, soonest first.
    fn due_sessions(&self, now: i64, limit: i64) -> Result<Vec<Session>, StorageError>;

    /// A number for the Payment Link this unit inserts. Only in a write.
    fn next_link_seq(&self) -> Result<i64, StorageError>;
    /// Keep a new Payment Link.
    fn insert_link(&self, link: &PaymentLink) -> Result<(), StorageError>;
    /// Save a changed Payment Link.
    fn update_link(&self, link: &PaymentLink) -> Result<(), StorageError>;
    /// A Payment Link by id.
    fn link(&self, id: &str) -> Result<Option<PaymentLink>, StorageError>;
    /// The Payment Link whose address carries `token`.
    fn link_by_token(&self, token: &str) -> Result<Option<PaymentLink>, StorageError>;
    /// Payment Links of a page (see the trait's note on lists), only active (or inactive)
    /// ones if `active` is given.
    fn list_links(
        &self,
        active: Option<bool>,
        page: Page,
    ) -> Result<Vec<PaymentLink>, StorageError>;

    /// Record an event about `object` as it is now, and queue it for every endpoint that
    /// wants it.
    fn emit(
        &self,
        event_type: &str,
        created: i64,
        object: Snapshot<'_>,
    ) -> Result<(), StorageError> {
        self.emit_update(event_type, created, object, None)
    }
    /// [`Tx::emit`] for an update: `previous` is what it changed, as Stripe's
    /// `data.previous_attributes` (JSON).
    fn emit_update(
        &self,
        event_type: &str,
        created: i64,
        object: Snapshot<'_>,
        previous: Option<&str>,
    ) -> Result<(), StorageError>;
    /// Events of a page (see the trait's note on lists) that `filter` keeps.
    fn list_events(&self, filter: &EventFilter, page: Page) -> Result<Vec<EventRow>, StorageError>;
    /// An event by id.
    fn event(&self, id: &str) -> Result<Option<EventRow>, StorageError>;
    /// An event by number.
    fn event_by_seq(&self, seq: i64) -> Result<Option<EventRow>, StorageError>;

    /// Keep a new customer; returns its number.
    fn insert_customer(&self, customer: &Customer) -> Result<i64, StorageError>;
    /// Save a changed customer (a deleted one included).
    fn update_customer(&self, customer: &Customer) -> Result<(), StorageError>;
    /// A customer by id, deleted or not.
    fn customer(&self, id: &str) -> Result<Option<Customer>, StorageError>;
    /// Customers of a page (see the trait's note on lists) that `filter` keeps; never the
    /// deleted.
    fn list_customers(
        &self,
        filter: &CustomerFilter,
        page: Page,
    ) -> Result<Vec<Customer>, StorageError>;
    /// Customers (not deleted) that `query` matches, newest first, older than `after` if
    /// given, at most `limit` plus one.
    fn search_customers(
        &self,
        query: &crate::search::Query,
        limit: i64,
        after: Option<i64>,
    ) -> Result<Vec<Customer>, StorageError>;

    /// Keep a new payment method; returns its number.
    fn insert_pm(&self, pm: &PaymentMethod) -> Result<i64, StorageError>;
    /// Save a changed payment method.
    fn update_pm(&self, pm: &PaymentMethod) -> Result<(), StorageError>;
    /// A payment method by id.
    fn pm(&self, id: &str) -> Result<Option<PaymentMethod>, StorageError>;
    /// Payment methods of a page (see the trait's note on lists) that `filter` keeps.
    fn list_pms(
        &self,
        filter: &PaymentMethodFilter,
        page: Page,
    ) -> Result<Vec<PaymentMethod>, StorageError>;

    /// Keep a new product; returns its number.
    fn insert_product(&self, product: &Product) -> Result<i64, StorageError>;
    /// Save a changed product.
    fn update_product(&self, product: &Product) -> Result<(), StorageError>;
    /// Delete a product (the rules allow it only when it has no prices); true if it existed.
    fn delete_product(&self, id: &str) -> Result<bool, StorageError>;
    /// A product by id.
    fn product(&self, id: &str) -> Result<Option<Product>, StorageError>;
    /// Products of a page (see the trait's note on lists) that `filter` keeps.
    fn list_products(
        &self,
        filter: &ProductFilter,
        page: Page,
    ) -> Result<Vec<Product>, StorageError>;
    /// Products that `query` matches, newest first, older than `after` if given, at most
    /// `limit` plus one.
    fn search_products(
        &self,
        query: &crate::search::Query,
        limit: i64,
        after: Option<i64>,
    ) -> Result<Vec<Product>, StorageError>;

    /// Keep a new price; returns its number. Its lookup key, if any, is unique among prices.
    fn insert_price(&self, price: &Price) -> Result<i64, StorageError>;
    /// Save a changed price.
    fn update_price(&self, price: &Price) -> Result<(), StorageError>;
    /// A price by id.
    fn price(&self, id: &str) -> Result<Option<Price>, StorageError>;
    /// The price holding a lookup key.
    fn price_by_lookup_key(&self, key: &str) -> Result<Option<Price>, StorageError>;
    /// How many prices a product has.
    fn count_prices_of(&self, product: &str) -> Result<i64, StorageError>;
    /// Prices of a page (see the trait's note on lists) that `filter` keeps.
    fn list_prices(&self, filter: &PriceFilter, page: Page) -> Result<Vec<Price>, StorageError>;
    /// Prices that `query` matches, newest first, older than `after` if given, at most
    /// `limit` plus one.
    fn search_prices(
        &self,
        query: &crate::search::Query,
        limit: i64,
        after: Option<i64>,
    ) -> Result<Vec<Price>, StorageError>;

    /// Keep a new webhook endpoint (enabled, healthy).
    fn insert_endpoint(&self, endpoint: &WebhookEndpoint) -> Result<(), StorageError>;
    /// Save a changed webhook endpoint's document (url, events, description, metadata; its
    /// status is [`Tx::set_endpoint_health`]'s); true if it exists.
    fn update_endpoint(&self, endpoint: &WebhookEndpoint) -> Result<bool, StorageError>;
    /// Delete a webhook endpoint and its undelivered events; true if it existed.
    fn delete_endpoint(&self, id: &str) -> Result<bool, StorageError>;
    /// Every webhook endpoint, oldest first, with its status.
    fn endpoints(&self) -> Result<Vec<WebhookEndpoint>, StorageError>;
    /// A webhook endpoint by id, with its status.
    fn endpoint(&self, id: &str) -> Result<Option<WebhookEndpoint>, StorageError>;
    /// How a webhook endpoint's deliveries have gone.
    fn endpoint_health(&self, id: &str) -> Result<Option<EndpointHealth>, StorageError>;
    /// Save how a webhook endpoint's deliveries have gone (its status with it); true if it
    /// exists.
    fn set_endpoint_health(&self, id: &str, health: &EndpointHealth) -> Result<bool, StorageError>;
    /// One endpoint's undelivered deliveries due at or before `now`, in event order.
    fn endpoint_due_deliveries(
        &self,
        endpoint: &str,
        now: i64,
        limit: i64,
    ) -> Result<Vec<DueDelivery>, StorageError>;
    /// Take up to `limit` of one endpoint's undelivered deliveries that are due at or before
    /// `now` (the network's clock) and not under a claim, in event order, and claim each
    /// under `lease`, in this transaction. What a webhook worker sends: with several nodes
    /// over one store, a delivery one node has taken is not taken by another while its claim
    /// lasts (so it is not sent twice at once), and a node killed mid-delivery loses nothing:
    /// its claim lapses and another node sends the delivery. [`Tx::delivery_done`] ends the
    /// claim. A write: run it in a write unit.
    fn claim_due_deliveries(
        &self,
        endpoint: &str,
        now: i64,
        lease: Lease,
        limit: i64,
    ) -> Result<Vec<DueDelivery>, StorageError>;
    /// Make every undelivered delivery of the endpoint due at `now` (it was re-enabled).
    fn resume_deliveries(&self, endpoint: &str, now: i64) -> Result<(), StorageError>;
    /// Record a delivery attempt: delivered or not, the HTTP status or the transport error,
    /// and when to try again; the delivery's claim ends. An attempt that ends after the
    /// delivery was delivered (by another node, once this one's claim had lapsed) changes
    /// nothing: a delivered event is never made due again.
    fn delivery_done(
        &self,
        delivery: &DueDelivery,
        delivered: bool,
        status: Option<u16>,
        error: Option<&str>,
        next_at: i64,
    ) -> Result<(), StorageError>;
    /// Every delivery of every event, in event order.
    fn delivery_report(&self) -> Result<Vec<DeliveryReport>, StorageError>;

    /// The answer saved under an idempotency key.
    fn idempotent(&self, key: &str) -> Result<Option<SavedAnswer>, StorageError>;
    /// Save an answer under an idempotency key.
    fn save_idempotent(
        &self,
        key: &str,
        fingerprint: &str,
        status: u16,
        body: &str,
        now: i64,
    ) -> Result<(), StorageError>;
    /// Forget idempotency keys saved before `before` (Stripe keeps them 24 hours).
    fn prune_idempotency(&self, before: i64) -> Result<usize, StorageError>;

    /// A confirmation already judged under this slip id of this terminal (slip ids are
    /// scoped to their terminal).
    fn confirmation(
        &self,
        terminal: &str,
        id: &str,
    ) -> Result<Option<PastConfirmation>, StorageError>;
    /// Keep a judged confirmation.
    fn insert_confirmation(&self, c: &ConfirmationRecord<'_>) -> Result<(), StorageError>;
    /// Whether another biller's slip with this barcode was already accepted.
    fn collected_before(&self, barcode: &str) -> Result<bool, StorageError>;
    /// Everything a confirmation batch reads, asked at once: what [`Tx::confirmation`],
    /// [`Tx::pi_by_seq`], [`Tx::pi_by_code`]'s holders, [`Tx::chain_link`] and
    /// [`Tx::collected_before`] would answer for each, read in this transaction.
    fn slip_facts(&self, ask: &SlipQuestions<'_>) -> Result<SlipFacts, StorageError>;

    /// Put this unit in order with every other unit adding to `terminal`'s chain, so that
    /// each sees the links the ones before it kept (a fork between two batches is flagged,
    /// never missed). Called first by a unit that adds links to the chain (a confirmation
    /// batch). Only in a write. A backend may send it with the unit's next statement.
    fn chain_turn(&self, terminal: &str) -> Result<(), StorageError>;
    /// The highest sale number of a terminal's chain held; it takes the unit's
    /// [`Tx::chain_turn`] first. Only in a write.
    fn chain_max_seq(&self, terminal: &str) -> Result<Option<i64>, StorageError>;
    /// A terminal's link at sale `seq`: (prev, hash).
    fn chain_link(
        &self,
        terminal: &str,
        seq: i64,
    ) -> Result<Option<(String, String)>, StorageError>;
    /// Keep a link the unit found not held (after [`Tx::chain_turn`], by
    /// [`Tx::chain_link`] or [`Tx::slip_facts`]). Should another writer hold it after all,
    /// the unit fails (a backend with several writers runs it again), so the link is never
    /// silently not kept. A backend may send it with the unit's next statement.
    fn add_chain_link(
        &self,
        terminal: &str,
        seq: i64,
        prev: &str,
        hash: &str,
    ) -> Result<(), StorageError>;
    /// Keep a link unless the sale is already held; true if it was kept.
    fn insert_chain_link(
        &self,
        terminal: &str,
        seq: i64,
        prev: &str,
        hash: &str,
    ) -> Result<bool, StorageError>;
    /// Flag a fork of a terminal's chain at sale `seq`.
    fn flag_fork(
        &self,
        terminal: &str,
        seq: i64,
        detail: &str,
        at: i64,
    ) -> Result<(), StorageError>;
    /// Every sale number of a terminal's chain held, ascending.
    fn chain_seqs(&self, terminal: &str) -> Result<Vec<i64>, StorageError>;
    /// The terminal's chain head: its highest sale number and that sale's hash.
    fn chain_head(&self, terminal: &str) -> Result<Option<(i64, String)>, StorageError>;
    /// The forks flagged in a terminal's chain, in the order flagged.
    fn forks(&self, terminal: &str) -> Result<Vec<Fork>, StorageError>;
}
