//! One suite of the storage's behaviour, run against every backend: each family of [`Tx`]
//! methods (payments, codes, charges and refunds, events and deliveries, endpoints and their
//! health, idempotency, confirmations per terminal, chain links and forks, meta), units that
//! fail or roll back part of themselves, and the rules under concurrency (one slip accepted
//! once, one payment paid by one slip), driven through the network's own rules.
//!
//! Each check is an `async fn(Arc<dyn Storage>)`; [`suite!`] makes a test of it per backend:
//! `storage::tests::sqlite::<check>` on a SQLite file, `storage::tests::postgres::<check>`
//! on a fresh PostgreSQL database of its own (skipped, saying why, where no server is
//! reachable and `CI` is unset).

use std::future::Future;
use std::sync::Arc;

use konbini_domain::Chain;
use konbini_protocol::Verdict;

use super::postgres::testdb::TestDb;
use super::{
    ConfirmationRecord, Created, Cursor, EndpointHealth, EventFilter, Lease, MAX_CLAIM_SECONDS,
    Page, PostgresStorage, SavedAnswer, SlipQuestions, SqliteStorage, Storage, StorageError, Tx,
};
use crate::Settings;
use crate::error::{ApiError, TerminalError};
use crate::form::Form;
use crate::objects::{PaymentIntent, PiStatus, Snapshot, WebhookEndpoint};
use crate::{payments, terminal};

/// The network's clock in these tests: 2026-12-07 09:46:40 JST.
const NOW: i64 = 1_796_604_000;

const CONFIRMED: &str = "amount=1200&currency=jpy&confirm=true&payment_method_data[type]=konbini\
    &payment_method_data[billing_details][name]=Taro\
    &payment_method_data[billing_details][email]=taro@example.com";
const UNCONFIRMED: &str = "amount=1500&currency=jpy";

fn page(limit: i64, cursor: Cursor) -> Page {
    Page { limit, cursor }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn on_sqlite<F: Future<Output = ()>>(check: impl FnOnce(Arc<dyn Storage>) -> F) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStorage::open(&dir.path().join("network.db")).unwrap();
    runtime().block_on(check(Arc::new(store)));
}

fn on_postgres<F: Future<Output = ()>>(test: &str, check: impl FnOnce(Arc<dyn Storage>) -> F) {
    let Some(db) = TestDb::create(test) else {
        return;
    };
    let rt = runtime();
    let store = rt.block_on(PostgresStorage::open(&db.url)).unwrap();
    rt.block_on(check(Arc::new(store)));
    // The runtime (and the pool's connections) goes before the database is dropped.
    drop(rt);
    drop(db);
}

macro_rules! suite {
    ($($check:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[test]
                fn $check() {
                    super::on_sqlite(super::$check)
                }
            )*
        }
        mod postgres {
            $(
                #[test]
                fn $check() {
                    super::on_postgres(concat!("storage::tests::postgres::", stringify!($check)), super::$check)
                }
            )*
        }
    };
}

suite!(
    meta_and_atomic_units,
    payment_intents,
    payment_codes_are_unique_among_payable_payments,
    charges_and_refunds,
    events_deliveries_and_endpoints,
    idempotency,
    confirmations_are_kept_per_terminal,
    chain_links_and_forks,
    deliveries_are_claimed_by_one_worker_at_a_time,
    one_idempotency_key_runs_once_under_concurrent_requests,
    one_slip_is_accepted_once_and_one_payment_paid_once_under_concurrency,
    another_billers_slip_is_collected_once_under_concurrency,
    a_fork_between_two_concurrent_batches_of_one_terminal_is_flagged,
    a_batchs_questions_are_answered_at_once_as_one_by_one,
    payment_lists_filter_by_customer_and_created_and_page_both_ways,
    event_lists_filter_by_type_and_created_and_page_both_ways,
    an_updated_voucher_frees_its_old_codes,
    payment_searches_match_each_field_and_page,
    products_and_prices_filter_search_and_page_both_ways,
    lookup_keys_are_unique_and_move_only_when_asked,
    customers_filter_search_and_page_both_ways_without_the_deleted,
    payment_methods_attach_detach_and_list_by_customer,
    updates_carry_previous_attributes_in_their_events,
    a_lookup_key_is_taken_once_under_concurrency,
);

fn form(body: &str) -> Form {
    Form::parse(body.as_bytes()).unwrap()
}

async fn create(store: &Arc<dyn Storage>, body: &'static str) -> PaymentIntent {
    store
        .run_write(move |tx| {
            payments::create(tx, &Settings::new("sk_test_x"), &form(body), NOW).map(|(pi, _)| pi)
        })
        .await
        .unwrap()
}

async fn read<T: Send + 'static>(
    store: &Arc<dyn Storage>,
    f: impl FnMut(&dyn Tx) -> Result<T, StorageError> + Send + 'static,
) -> T {
    store.run_read(f).await.unwrap()
}

async fn write<T: Send + 'static>(
    store: &Arc<dyn Storage>,
    f: impl FnMut(&dyn Tx) -> Result<T, StorageError> + Send + 'static,
) -> T {
    store.run_write(f).await.unwrap()
}

/// One payment's confirmation by keyed-in code, as terminal `terminal` sends it under the
/// slip id `slip`.
fn slip_body(pi: &PaymentIntent, slip: &str) -> Vec<u8> {
    let v = pi.voucher.as_ref().unwrap();
    let (chain, code) = v.codes.iter().next().unwrap();
    let paid_at = chrono::DateTime::from_timestamp(NOW - 60, 0)
        .unwrap()
        .to_rfc3339();
    serde_json::json!({"confirmations": [{
        "id": slip,
        "store": "0042",
        "chain": chain.as_str(),
        "paid_at": paid_at,
        "amount": pi.amount,
        "payment_code": code,
        "confirmation_number": v.confirmation_number,
    }]})
    .to_string()
    .into_bytes()
}

/// Send one confirmation through the terminal API's rules, in a grouped write as the
/// terminal route does: its verdict.
async fn confirm(store: &Arc<dyn Storage>, terminal: &'static str, body: Vec<u8>) -> Verdict {
    let (outcomes, _) = store
        .run_grouped(move |tx| {
            let items = terminal::parse_batch(&body)?;
            terminal::apply_batch(tx, &Settings::new("sk_test_x"), terminal, &items, |_| NOW)
        })
        .await
        .unwrap_or_else(|e: TerminalError| panic!("{e:?}"));
    outcomes[0].verdict
}

/// Each batch of `bodies` sent by `terminal` from a task of its own, all released at once
/// (on PostgreSQL: each on a connection of its own); their verdicts, in order.
async fn confirm_together(
    store: &Arc<dyn Storage>,
    terminal: &'static str,
    bodies: Vec<Vec<u8>>,
) -> Vec<Verdict> {
    confirm_each(store, bodies.into_iter().map(|b| (terminal, b)).collect()).await
}

/// [`confirm_together`] with each batch sent by a terminal of its own choosing.
async fn confirm_each(
    store: &Arc<dyn Storage>,
    batches: Vec<(&'static str, Vec<u8>)>,
) -> Vec<Verdict> {
    let start = Arc::new(tokio::sync::Barrier::new(batches.len()));
    let handles: Vec<_> = batches
        .into_iter()
        .map(|(terminal, body)| {
            let (store, start) = (store.clone(), start.clone());
            tokio::spawn(async move {
                start.wait().await;
                confirm(&store, terminal, body).await
            })
        })
        .collect();
    let mut verdicts = Vec::new();
    for h in handles {
        verdicts.push(h.await.unwrap());
    }
    verdicts
}

async fn meta_and_atomic_units(store: Arc<dyn Storage>) {
    assert_eq!(read(&store, |tx| tx.meta("k")).await, None);
    write(&store, |tx| tx.set_meta("k", "v1")).await;
    write(&store, |tx| tx.set_meta("k", "v2")).await;
    assert_eq!(read(&store, |tx| tx.meta("k")).await.as_deref(), Some("v2"));

    // The clock's offset: a store several nodes share says where it stands with a batch's
    // facts, and its server's time; one a single node owns says neither (its node's own
    // clock is the network's).
    write(&store, |tx| tx.set_meta(crate::CLOCK_META_KEY, "86400000")).await;
    let (facts, server) = write(&store, |tx| {
        Ok((
            tx.slip_facts(&SlipQuestions {
                terminal: "reg-1",
                ..SlipQuestions::default()
            })?,
            tx.database_now_ms()?,
        ))
    })
    .await;
    if store.shared() {
        assert_eq!(facts.clock_offset_ms, Some(86_400_000));
        let wall = chrono::Utc::now().timestamp_millis();
        assert!((server.unwrap() - wall).abs() < 60_000, "{server:?} {wall}");
    } else {
        assert_eq!((facts.clock_offset_ms, server), (None, None));
    }

    // A unit that fails keeps nothing.
    let failed: Result<(), StorageError> = store
        .run_write(|tx| {
            tx.set_meta("gone", "1")?;
            Err(StorageError::Failed("the unit changed its mind".into()))
        })
        .await;
    assert!(failed.is_err());
    assert_eq!(read(&store, |tx| tx.meta("gone")).await, None);

    // A savepoint that answers false undoes only its own work.
    write(&store, |tx| {
        tx.set_meta("a", "1")?;
        tx.savepoint(&mut |tx| {
            tx.set_meta("b", "2").unwrap();
            false
        })?;
        tx.savepoint(&mut |tx| {
            tx.set_meta("c", "3").unwrap();
            true
        })
    })
    .await;
    let kept = read(&store, |tx| {
        Ok([tx.meta("a")?, tx.meta("b")?, tx.meta("c")?])
    })
    .await;
    assert_eq!(kept, [Some("1".into()), None, Some("3".into())]);

    // Grouped units at once: the failing one alone is rolled back.
    let units: Vec<_> = (0..6)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .run_grouped(move |tx| {
                        tx.set_meta(&format!("g{i}"), "x")?;
                        if i == 3 {
                            return Err(StorageError::Failed("no".into()));
                        }
                        Ok(i)
                    })
                    .await
            })
        })
        .collect();
    for (i, u) in units.into_iter().enumerate() {
        assert_eq!(u.await.unwrap().is_ok(), i != 3, "unit {i}");
        let kept = read(&store, move |tx| tx.meta(&format!("g{i}"))).await;
        assert_eq!(kept.is_some(), i != 3, "unit {i}");
    }
}

async fn payment_intents(store: Arc<dyn Storage>) {
    assert_eq!(read(&store, |tx| tx.next_due()).await, None);
    let first = create(&store, UNCONFIRMED).await;
    let second = create(&store, CONFIRMED).await;
    assert_eq!((first.seq, second.seq), (1, 2));
    assert_eq!(second.status, PiStatus::RequiresAction);
    // Past every number given (a sequence may have skipped some).
    assert!(write(&store, |tx| tx.next_pi_seq()).await >= 3);

    let id = second.id.clone();
    assert_eq!(
        read(&store, move |tx| tx.pi(&id)).await,
        Some(second.clone())
    );
    assert_eq!(
        read(&store, |tx| tx.pi_by_seq(1)).await,
        Some(first.clone())
    );
    assert_eq!(read(&store, |tx| tx.pi("pi_missing")).await, None);
    let seqs = |pis: Vec<PaymentIntent>| pis.iter().map(|p| p.seq).collect::<Vec<_>>();
    assert_eq!(
        seqs(
            read(&store, |tx| tx.list_pis(
                None,
                Created::default(),
                page(10, Cursor::First)
            ))
            .await
        ),
        [2, 1]
    );
    // At most `limit` plus one, newest first; then the older and the newer pages.
    assert_eq!(
        seqs(
            read(&store, |tx| tx.list_pis(
                None,
                Created::default(),
                page(0, Cursor::First)
            ))
            .await
        ),
        [2]
    );
    assert_eq!(
        seqs(
            read(&store, |tx| tx.list_pis(
                None,
                Created::default(),
                page(10, Cursor::After(2))
            ))
            .await
        ),
        [1]
    );
    assert_eq!(
        seqs(
            read(&store, |tx| tx.list_pis(
                None,
                Created::default(),
                page(10, Cursor::Before(1))
            ))
            .await
        ),
        [2]
    );

    let token = second.voucher.as_ref().unwrap().token.clone();
    assert_eq!(
        read(&store, move |tx| tx.pi_by_voucher(&token)).await,
        Some(second.clone())
    );
    assert_eq!(read(&store, |tx| tx.pi_by_voucher("nope")).await, None);

    // The confirmed payment's expiry is the next deadline.
    let due = second.due_at().unwrap();
    assert_eq!(read(&store, |tx| tx.next_due()).await, Some(due));
    assert!(
        read(&store, move |tx| tx.due_pis(due - 1, 10))
            .await
            .is_empty()
    );
    assert_eq!(seqs(read(&store, move |tx| tx.due_pis(due, 10)).await), [2]);

    // A change is saved, and its stored document is what is read back.
    let mut changed = second.clone();
    changed.description = Some("changed".into());
    let stored = {
        let c = changed.clone();
        write(&store, move |tx| tx.update_pi(&c)).await
    };
    let read_back = read(&store, |tx| tx.pi_by_seq(2)).await.unwrap();
    assert_eq!(read_back, changed);
    assert_eq!(stored, serde_json::to_string(&changed).unwrap());
}

async fn payment_codes_are_unique_among_payable_payments(store: Arc<dyn Storage>) {
    let a = create(&store, CONFIRMED).await;
    let b = create(&store, UNCONFIRMED).await;
    let (chain, code) = {
        let (c, code) = a.voucher.as_ref().unwrap().codes.iter().next().unwrap();
        (*c, code.clone())
    };
    // Every chain got a code.
    assert_eq!(a.voucher.as_ref().unwrap().codes.len(), Chain::ALL.len());
    let claim = |code: String, seq: i64| {
        let store = store.clone();
        async move {
            store
                .run_write(move |tx| tx.claim_code(chain, &code, seq))
                .await
                .unwrap()
        }
    };
    // A payable payment holds its code: nobody else gets it, whatever happens to other
    // claims (a claim is kept only with the unit that made it).
    assert!(!claim(code.clone(), b.seq).await);
    let c = code.clone();
    let held = read(&store, move |tx| tx.pi_by_code(chain.as_str(), &c)).await;
    assert_eq!(held.map(|p| p.seq), Some(a.seq));

    // Canceled, it holds it no more.
    let a_id = a.id.clone();
    store
        .run_write(move |tx| -> Result<(), ApiError> {
            let mut pi = tx.pi(&a_id)?.unwrap();
            payments::cancel(tx, &mut pi, &form(""), NOW)
        })
        .await
        .unwrap();
    // B claims it, and confirms with a voucher of its own (other codes: B's claim of A's old
    // code went with the unit that made it, being not on B's voucher).
    let b_id = b.id.clone();
    let b = store
        .run_write(move |tx| -> Result<PaymentIntent, ApiError> {
            assert!(tx.claim_code(chain, &code, b.seq)?);
            let mut pi = tx.pi(&b_id)?.unwrap();
            payments::confirm(
                tx,
                &Settings::new("sk_test_x"),
                &mut pi,
                &form(CONFIRMED.split_once("confirm=true&").unwrap().1),
                NOW,
            )?;
            Ok(pi)
        })
        .await
        .unwrap();
    let b_code = b.voucher.as_ref().unwrap().codes[&chain].clone();
    let c = b_code.clone();
    assert_eq!(
        read(&store, move |tx| tx.pi_by_code(chain.as_str(), &c))
            .await
            .map(|p| p.seq),
        Some(b.seq)
    );
    // A fresh payment cannot take B's live code, and can take a code nobody holds.
    let d = create(&store, UNCONFIRMED).await;
    assert!(!claim(b_code, d.seq).await);
    assert!(claim("0000000000".into(), d.seq).await);
}

async fn charges_and_refunds(store: Arc<dyn Storage>) {
    let pi = create(&store, CONFIRMED).await;
    assert_eq!(
        confirm(&store, "T01", slip_body(&pi, "J1-1-0")).await,
        Verdict::Accepted
    );
    let id = pi.id.clone();
    let paid = read(&store, move |tx| tx.pi(&id)).await.unwrap();
    assert_eq!(paid.status, PiStatus::Succeeded);
    let charge_id = paid.latest_charge.clone().unwrap();
    let c = charge_id.clone();
    let charge = read(&store, move |tx| tx.charge(&c)).await.unwrap();
    let txn = charge.balance_transaction.clone();
    assert_eq!(
        read(&store, move |tx| tx.charge_by_txn(&txn)).await,
        Some(charge.clone())
    );
    assert_eq!(read(&store, |tx| tx.charge("ch_missing")).await, None);

    let id = pi.id.clone();
    let refund = store
        .run_write(move |tx| {
            payments::create_refund(tx, &form(&format!("payment_intent={id}&amount=200")), NOW)
        })
        .await
        .unwrap_or_else(|e: ApiError| panic!("{e:?}"));
    let r = refund.id.clone();
    assert_eq!(
        read(&store, move |tx| tx.refund(&r)).await,
        Some(refund.clone())
    );
    let token = refund.token.clone();
    assert_eq!(
        read(&store, move |tx| tx.refund_by_token(&token)).await,
        Some(refund.clone())
    );
    let seq = pi.seq;
    assert_eq!(
        read(&store, move |tx| tx.refunds_of(seq)).await,
        std::slice::from_ref(&refund)
    );
    assert_eq!(read(&store, |tx| tx.refunds_of(999)).await, []);
    // A konbini refund waits for the customer's bank details: it has a deadline.
    if let Some(due) = refund.due_at() {
        assert_eq!(
            read(&store, move |tx| tx.due_refunds(due, 10)).await,
            std::slice::from_ref(&refund)
        );
        assert!(
            read(&store, move |tx| tx.due_refunds(due - 1, 10))
                .await
                .is_empty()
        );
    }
}

fn endpoint(id: &str, events: &[&str], created: i64) -> WebhookEndpoint {
    WebhookEndpoint {
        id: id.to_owned(),
        created,
        url: format!("http://127.0.0.1:9/{id}"),
        enabled_events: events.iter().map(|s| (*s).to_owned()).collect(),
        secret: "whsec_x".to_owned(),
        description: None,
        metadata: Default::default(),
        disabled: false,
    }
}

async fn events_deliveries_and_endpoints(store: Arc<dyn Storage>) {
    let all = endpoint("we_all", &["*"], 1);
    let charges = endpoint("we_charges", &["charge.succeeded"], 2);
    let (a, c) = (all.clone(), charges.clone());
    write(&store, move |tx| {
        tx.insert_endpoint(&a)?;
        tx.insert_endpoint(&c)
    })
    .await;
    assert_eq!(
        read(&store, |tx| tx.endpoints()).await,
        [all.clone(), charges.clone()]
    );
    let emit = |t: &'static str, at: i64| {
        let store = store.clone();
        async move {
            store
                .run_write(move |tx| {
                    tx.emit(
                        t,
                        at,
                        Snapshot::Stored {
                            kind: "charge",
                            doc: "{\"n\":1}",
                        },
                    )
                })
                .await
                .unwrap()
        }
    };
    emit("payment_intent.created", NOW).await;
    emit("charge.succeeded", NOW + 1).await;
    let events = read(&store, |tx| {
        tx.list_events(&EventFilter::default(), page(10, Cursor::First))
    })
    .await;
    let types: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(types, ["charge.succeeded", "payment_intent.created"]);
    assert_eq!(events[0].doc, "{\"n\":1}");
    let first = events[1].clone();
    let f = first.id.clone();
    assert_eq!(
        read(&store, move |tx| tx.event(&f)).await,
        Some(first.clone())
    );
    let first_seq = first.seq;
    let older = read(&store, move |tx| {
        tx.list_events(&EventFilter::default(), page(10, Cursor::After(first_seq)))
    })
    .await;
    assert!(older.is_empty());
    let only = read(&store, |tx| {
        let only = EventFilter {
            types: vec!["payment_intent.created".into()],
            ..EventFilter::default()
        };
        tx.list_events(&only, page(10, Cursor::First))
    })
    .await;
    assert_eq!(only, std::slice::from_ref(&first));

    // we_all wants both, in event order; we_charges one.
    let due = read(&store, |tx| {
        tx.endpoint_due_deliveries("we_all", NOW + 1, 10)
    })
    .await;
    assert_eq!(due.len(), 2);
    assert!(due[0].event_seq < due[1].event_seq);
    assert_eq!(
        read(&store, move |tx| tx.event_by_seq(due[0].event_seq)).await,
        Some(first.clone())
    );
    assert_eq!(
        read(&store, |tx| tx.endpoint_due_deliveries(
            "we_charges",
            NOW + 1,
            10
        ))
        .await
        .len(),
        1
    );
    assert!(
        read(&store, |tx| tx.endpoint_due_deliveries(
            "we_all",
            NOW - 1,
            10
        ))
        .await
        .is_empty()
    );

    // Claims: what one worker took is not taken again until its claim lapses. (Here the
    // test clock and the base agree; a lease is the base's time.)
    let claim_at = |now: i64, lease: Lease, limit: i64| {
        let store = store.clone();
        async move {
            store
                .run_write(move |tx| tx.claim_due_deliveries("we_all", now, lease, limit))
                .await
                .unwrap()
        }
    };
    let claim = |now: i64, limit: i64| {
        claim_at(
            now,
            Lease {
                now,
                until: now + 60,
            },
            limit,
        )
    };
    let one = claim(NOW + 1, 1).await;
    assert_eq!(one.len(), 1);
    let two = claim(NOW + 1, 10).await;
    assert_eq!(two.len(), 1);
    assert!(two[0].event_seq > one[0].event_seq);
    assert!(claim(NOW + 2, 10).await.is_empty());
    // The test clock moved a week on: due by then, but the claims are on the base, which
    // has not moved, and hold.
    let week_on = Lease {
        now: NOW + 2,
        until: NOW + 62,
    };
    assert!(claim_at(NOW + 7 * 86_400, week_on, 10).await.is_empty());
    // Lapsed (its node died): taken again, in event order.
    let again = claim(NOW + 61, 10).await;
    assert_eq!(
        again.iter().map(|d| d.event_seq).collect::<Vec<_>>(),
        [one[0].event_seq, two[0].event_seq]
    );

    // Done: delivered, or failed and due again later (its claim ended either way).
    let (d1, d2) = (again[0].clone(), again[1].clone());
    write(&store, move |tx| {
        tx.delivery_done(&d1, true, Some(200), None, NOW + 61)?;
        tx.delivery_done(&d2, false, None, Some("connection refused"), NOW + 100)
    })
    .await;
    assert!(claim(NOW + 99, 10).await.is_empty());
    // A late failure of the delivered one (a node whose claim lapsed) undoes nothing.
    let late = again[0].clone();
    write(&store, move |tx| {
        tx.delivery_done(&late, false, None, Some("timed out"), NOW + 200)
    })
    .await;
    let report = read(&store, |tx| tx.delivery_report()).await;
    let mine: Vec<_> = report.iter().filter(|r| r.endpoint == "we_all").collect();
    assert_eq!(mine.len(), 2);
    assert!(mine[0].delivered && mine[0].attempts == 1 && mine[0].last_status == Some(200));
    assert!(!mine[1].delivered && mine[1].attempts == 1);
    assert_eq!(mine[1].last_error.as_deref(), Some("connection refused"));
    assert_eq!(mine[1].event, events[0].id);
    // Resumed: due now, and claimable (no claim left behind by delivery_done).
    write(&store, |tx| tx.resume_deliveries("we_all", NOW + 62)).await;
    // Claimed until a time no lease reaches (stamped on the test clock's scale, as claims
    // were before they were kept on the base): taken as lapsed.
    let far = Lease {
        now: NOW + 62,
        until: NOW + 62 + 30 * 86_400,
    };
    assert_eq!(claim_at(NOW + 62, far, 10).await.len(), 1);
    const { assert!(30 * 86_400 > MAX_CLAIM_SECONDS) };
    assert_eq!(claim(NOW + 63, 10).await.len(), 1);
    assert!(claim(NOW + 64, 10).await.is_empty());

    // Health: a disabled endpoint is listed as such and gets no new event.
    assert_eq!(
        read(&store, |tx| tx.endpoint_health("we_all")).await,
        Some(EndpointHealth::default())
    );
    let sick = EndpointHealth {
        disabled: true,
        failures: 7,
        failing_since: Some(NOW),
    };
    assert!(write(&store, move |tx| tx.set_endpoint_health("we_all", &sick)).await);
    assert!(!write(&store, move |tx| tx.set_endpoint_health("we_gone", &sick)).await);
    assert_eq!(
        read(&store, |tx| tx.endpoint_health("we_all")).await,
        Some(sick)
    );
    assert!(
        read(&store, |tx| tx.endpoint("we_all"))
            .await
            .unwrap()
            .disabled
    );
    emit("charge.succeeded", NOW + 200).await;
    assert!(
        read(&store, |tx| tx.endpoint_due_deliveries(
            "we_all",
            NOW + 300,
            10
        ))
        .await
        .iter()
        .all(|d| d.event_seq <= again[1].event_seq)
    );
    assert_eq!(
        read(&store, |tx| tx.endpoint_due_deliveries(
            "we_charges",
            NOW + 300,
            10
        ))
        .await
        .len(),
        2
    );

    // The document is updated; the status stays the storage's.
    let mut moved = all.clone();
    moved.url = "http://127.0.0.1:9/moved".into();
    let m = moved.clone();
    assert!(write(&store, move |tx| tx.update_endpoint(&m)).await);
    let got = read(&store, |tx| tx.endpoint("we_all")).await.unwrap();
    assert_eq!(
        (got.url.as_str(), got.disabled),
        ("http://127.0.0.1:9/moved", true)
    );

    // Deleted with its undelivered deliveries; the delivered ones stay in the report.
    assert!(write(&store, |tx| tx.delete_endpoint("we_charges")).await);
    assert!(!write(&store, |tx| tx.delete_endpoint("we_charges")).await);
    assert_eq!(read(&store, |tx| tx.endpoint("we_charges")).await, None);
    assert!(
        read(&store, |tx| tx.delivery_report())
            .await
            .iter()
            .all(|r| r.endpoint != "we_charges")
    );
}

async fn idempotency(store: Arc<dyn Storage>) {
    assert_eq!(read(&store, |tx| tx.idempotent("k1")).await, None);
    write(&store, |tx| {
        tx.save_idempotent("k1", "fp1", 200, "{\"a\":1}", NOW)
    })
    .await;
    write(&store, |tx| {
        tx.save_idempotent("k2", "fp2", 402, "{}", NOW + 10)
    })
    .await;
    assert_eq!(
        read(&store, |tx| tx.idempotent("k1")).await,
        Some(SavedAnswer {
            fingerprint: "fp1".into(),
            status: 200,
            body: "{\"a\":1}".into()
        })
    );
    // Saved again (a replaced answer): the last one stands.
    write(&store, |tx| {
        tx.save_idempotent("k2", "fp3", 500, "{\"b\":2}", NOW + 10)
    })
    .await;
    assert_eq!(
        read(&store, |tx| tx.idempotent("k2")).await.unwrap().status,
        500
    );
    assert_eq!(write(&store, |tx| tx.prune_idempotency(NOW + 5)).await, 1);
    assert_eq!(read(&store, |tx| tx.idempotent("k1")).await, None);
    assert!(read(&store, |tx| tx.idempotent("k2")).await.is_some());
}

fn record<'a>(
    terminal: &'a str,
    id: &'a str,
    verdict: Verdict,
    barcode: Option<&'a str>,
) -> ConfirmationRecord<'a> {
    ConfirmationRecord {
        id,
        terminal,
        fingerprint: "fp",
        verdict,
        reason: (verdict == Verdict::Conflict).then_some("already_paid"),
        pi_seq: None,
        chain: Some(Chain::Lawson),
        store: "0042",
        amount: 1200,
        paid_at: "2026-12-07T10:00:00+09:00",
        barcode,
        received_at: NOW,
    }
}

async fn confirmations_are_kept_per_terminal(store: Arc<dyn Storage>) {
    write(&store, |tx| {
        tx.insert_confirmation(&record("T01", "J1-1-0", Verdict::Accepted, Some("b1")))?;
        // The same slip id from another terminal is another confirmation.
        tx.insert_confirmation(&record("T02", "J1-1-0", Verdict::Conflict, Some("b2")))
    })
    .await;
    let t1 = read(&store, |tx| tx.confirmation("T01", "J1-1-0"))
        .await
        .unwrap();
    assert_eq!((t1.verdict, t1.reason), (Verdict::Accepted, None));
    let t2 = read(&store, |tx| tx.confirmation("T02", "J1-1-0"))
        .await
        .unwrap();
    assert_eq!(
        (t2.verdict, t2.reason.as_deref()),
        (Verdict::Conflict, Some("already_paid"))
    );
    assert_eq!(
        read(&store, |tx| tx.confirmation("T03", "J1-1-0")).await,
        None
    );
    // Another biller's slip collected: only an accepted one counts.
    assert!(read(&store, |tx| tx.collected_before("b1")).await);
    assert!(!read(&store, |tx| tx.collected_before("b2")).await);
    assert!(!read(&store, |tx| tx.collected_before("b3")).await);
    // The same (terminal, id) twice is refused by the storage itself.
    let again: Result<(), StorageError> = store
        .run_write(|tx| tx.insert_confirmation(&record("T01", "J1-1-0", Verdict::Accepted, None)))
        .await;
    assert!(again.is_err());
}

async fn chain_links_and_forks(store: Arc<dyn Storage>) {
    let h = |n: u8| format!("{n:02x}").repeat(32);
    assert_eq!(write(&store, |tx| tx.chain_max_seq("T01")).await, None);
    assert_eq!(read(&store, |tx| tx.chain_head("T01")).await, None);
    let (p1, h1, h3) = (h(0), h(1), h(3));
    let kept = write(&store, move |tx| {
        Ok([
            tx.insert_chain_link("T01", 1, &p1, &h1)?,
            // A sale already held is kept once.
            tx.insert_chain_link("T01", 1, &p1, &h3)?,
            tx.insert_chain_link("T01", 3, &h(2), &h3)?,
            tx.insert_chain_link("T02", 7, &p1, &h1)?,
        ])
    })
    .await;
    assert_eq!(kept, [true, false, true, true]);
    assert_eq!(write(&store, |tx| tx.chain_max_seq("T01")).await, Some(3));
    assert_eq!(read(&store, |tx| tx.chain_seqs("T01")).await, [1, 3]);
    assert_eq!(
        read(&store, |tx| tx.chain_link("T01", 1)).await,
        Some((h(0), h(1)))
    );
    assert_eq!(read(&store, |tx| tx.chain_link("T01", 2)).await, None);
    assert_eq!(
        read(&store, |tx| tx.chain_head("T01")).await,
        Some((3, h(3)))
    );
    write(&store, |tx| {
        tx.flag_fork("T01", 3, "3 does not follow 1", NOW)?;
        tx.flag_fork("T01", 1, "1 again with another hash", NOW + 1)
    })
    .await;
    let forks = read(&store, |tx| tx.forks("T01")).await;
    assert_eq!(
        forks.iter().map(|f| (f.seq, f.at)).collect::<Vec<_>>(),
        [(3, NOW), (1, NOW + 1)]
    );
    assert_eq!(forks[0].detail, "3 does not follow 1");
    assert!(read(&store, |tx| tx.forks("T02")).await.is_empty());
}

/// Six workers (on PostgreSQL: six connections, as six nodes would) claim one endpoint's
/// deliveries at once until none is left: each delivery is taken by exactly one of them.
async fn deliveries_are_claimed_by_one_worker_at_a_time(store: Arc<dyn Storage>) {
    let ep = endpoint("we_all", &["*"], 1);
    write(&store, move |tx| {
        tx.insert_endpoint(&ep)?;
        for i in 0..30 {
            tx.emit(
                "charge.succeeded",
                NOW + i,
                Snapshot::Stored {
                    kind: "charge",
                    doc: "{}",
                },
            )?;
        }
        Ok(())
    })
    .await;
    let start = Arc::new(tokio::sync::Barrier::new(6));
    let workers: Vec<_> = (0..6)
        .map(|_| {
            let store = store.clone();
            let start = start.clone();
            tokio::spawn(async move {
                start.wait().await;
                let mut mine = Vec::new();
                loop {
                    let got = store
                        .run_write(|tx| {
                            let lease = Lease {
                                now: NOW + 30,
                                until: NOW + 90,
                            };
                            tx.claim_due_deliveries("we_all", NOW + 30, lease, 4)
                        })
                        .await
                        .unwrap();
                    if got.is_empty() {
                        return mine;
                    }
                    mine.extend(got.into_iter().map(|d| d.event_seq));
                }
            })
        })
        .collect();
    let mut taken = Vec::new();
    for w in workers {
        taken.extend(w.await.unwrap());
    }
    taken.sort_unstable();
    let all: Vec<i64> = read(&store, |tx| {
        tx.endpoint_due_deliveries("we_all", NOW + 30, 100)
    })
    .await
    .iter()
    .map(|d| d.event_seq)
    .collect();
    assert_eq!(all.len(), 30);
    assert_eq!(taken, all, "every delivery taken exactly once");
}

/// Six merchant requests at once over HTTP, one Idempotency-Key: one payment is created, and
/// every answer is that payment.
async fn one_idempotency_key_runs_once_under_concurrent_requests(store: Arc<dyn Storage>) {
    let net = crate::Network::start(store.clone(), Settings::new("sk_test_x"))
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://{}/v1/payment_intents",
        listener.local_addr().unwrap()
    );
    let cancel = tokio_util::sync::CancellationToken::new();
    let server = tokio::spawn(crate::serve(net, listener, cancel.clone()));
    let client = reqwest::Client::new();
    let start = Arc::new(tokio::sync::Barrier::new(6));
    let requests: Vec<_> = (0..6)
        .map(|_| {
            let (client, url, start) = (client.clone(), url.clone(), start.clone());
            tokio::spawn(async move {
                start.wait().await;
                let r = client
                    .post(&url)
                    .bearer_auth("sk_test_x")
                    .header("Idempotency-Key", "order-42")
                    .header("Content-Type", "application/x-www-form-urlencoded")
                    .body(CONFIRMED)
                    .send()
                    .await
                    .unwrap();
                let status = r.status().as_u16();
                let body: serde_json::Value = r.json().await.unwrap();
                (status, body["id"].as_str().map(str::to_owned))
            })
        })
        .collect();
    let mut answers = Vec::new();
    for r in requests {
        answers.push(r.await.unwrap());
    }
    cancel.cancel();
    server.await.unwrap().unwrap();
    let first = answers[0].clone();
    assert!(first.0 == 200 && first.1.is_some(), "{answers:?}");
    assert!(answers.iter().all(|a| *a == first), "{answers:?}");
    assert_eq!(
        read(&store, |tx| tx.list_pis(
            None,
            Created::default(),
            page(10, Cursor::First)
        ))
        .await
        .len(),
        1
    );
}

/// Several tasks (on PostgreSQL: several connections) at once send the same slip, and other
/// slips paying the same payment: exactly one is accepted; every other answer is a
/// duplicate of it or a conflict.
async fn one_slip_is_accepted_once_and_one_payment_paid_once_under_concurrency(
    store: Arc<dyn Storage>,
) {
    let (accepted, _) = race(&store, 8).await;
    assert_eq!(accepted, 1);
}

/// One round of the race: a fresh payment; `tasks` tasks, half resending one slip, half
/// each with a slip of its own for the same payment. Returns how many were accepted, and
/// the verdicts.
pub(super) async fn race(store: &Arc<dyn Storage>, tasks: usize) -> (usize, Vec<Verdict>) {
    race_from(store, tasks, |_| "T01").await
}

/// [`race`] with task `i`'s batch sent by terminal `terminal(i)` (slip ids are per
/// terminal: a resent slip from another terminal is another slip).
pub(super) async fn race_from(
    store: &Arc<dyn Storage>,
    tasks: usize,
    terminal: impl Fn(usize) -> &'static str,
) -> (usize, Vec<Verdict>) {
    let pi = create(store, CONFIRMED).await;
    let bodies = (0..tasks)
        .map(|i| {
            // Slip ids of this round's own (ids are per terminal, forever).
            let slip = if i % 2 == 0 {
                format!("J{}-1-0", pi.seq)
            } else {
                format!("J{}-{}-0", pi.seq, i + 1)
            };
            (terminal(i), slip_body(&pi, &slip))
        })
        .collect();
    let verdicts = confirm_each(store, bodies).await;
    let accepted = verdicts.iter().filter(|v| **v == Verdict::Accepted).count();
    let conflicts = verdicts.iter().filter(|v| **v == Verdict::Conflict).count();
    let duplicates = verdicts
        .iter()
        .filter(|v| **v == Verdict::Duplicate)
        .count();
    assert_eq!(accepted + conflicts + duplicates, tasks, "{verdicts:?}");
    let id = pi.id.clone();
    let paid = read(store, move |tx| tx.pi(&id)).await.unwrap();
    assert_eq!(paid.status, PiStatus::Succeeded);
    assert_eq!(paid.amount_received, pi.amount, "paid once");
    (accepted, verdicts)
}

/// Several tasks at once (on PostgreSQL: several connections, each at repeatable read) send
/// the same slip of another biller under slip ids of their own: it is collected once, and
/// every other is a conflict (`already_paid`).
async fn another_billers_slip_is_collected_once_under_concurrency(store: Arc<dyn Storage>) {
    let tasks = 8;
    let bodies = (0..tasks)
        .map(|i| {
            serde_json::json!({"confirmations": [foreign_slip(&format!("F-{i}"))]})
                .to_string()
                .into_bytes()
        })
        .collect();
    let verdicts = confirm_together(&store, "T01", bodies).await;
    let accepted = verdicts.iter().filter(|v| **v == Verdict::Accepted).count();
    let conflicts = verdicts.iter().filter(|v| **v == Verdict::Conflict).count();
    assert_eq!((accepted, conflicts), (1, tasks - 1), "{verdicts:?}");
}

/// Two batches of one terminal's chain at once (on PostgreSQL: two connections at
/// repeatable read): sales 1-20, and 21-40 whose first link does not follow sale 20. The
/// fork at 21 is flagged once, whichever batch runs first; a batch that missed the other's
/// links would flag nothing. Several rounds, each a terminal of its own.
async fn a_fork_between_two_concurrent_batches_of_one_terminal_is_flagged(store: Arc<dyn Storage>) {
    let hash = |t: &str, seq: i64| format!("{:064x}", seq * 1_000 + t.len() as i64);
    for round in 0..6 {
        let terminal: &'static str = Box::leak(format!("TF{round}").into_boxed_str());
        let batch = |from: i64, to: i64| {
            let items: Vec<serde_json::Value> = (from..=to)
                .map(|seq| {
                    let prev = if seq == 21 {
                        format!("{:064x}", 7)
                    } else {
                        hash(terminal, seq - 1)
                    };
                    let mut slip = foreign_slip(&format!("{terminal}-{seq}"));
                    slip["journal"] =
                        serde_json::json!({"seq": seq, "prev": prev, "hash": hash(terminal, seq)});
                    slip
                })
                .collect();
            serde_json::json!({ "confirmations": items })
                .to_string()
                .into_bytes()
        };
        confirm_together(&store, terminal, vec![batch(1, 20), batch(21, 40)]).await;
        let forks = read(&store, move |tx| tx.forks(terminal)).await;
        assert_eq!(
            forks.iter().map(|f| f.seq).collect::<Vec<_>>(),
            [21],
            "round {round}: {forks:?}"
        );
    }
}

/// [`Tx::slip_facts`] answers every question of a batch at once as the one-by-one questions
/// answer it, including what the same unit wrote just before (on PostgreSQL those writes are
/// still held back when the questions are asked): what is not held is absent.
async fn a_batchs_questions_are_answered_at_once_as_one_by_one(store: Arc<dyn Storage>) {
    let a = create(&store, CONFIRMED).await;
    let b = create(&store, CONFIRMED).await;
    let (chain, code) = {
        let (chain, code) = a.voucher.as_ref().unwrap().codes.iter().next().unwrap();
        (*chain, code.clone())
    };
    let h = |n: u8| format!("{n:02x}").repeat(32);
    let (a_seq, b_seq) = (a.seq, b.seq);
    let asked = code.clone();
    let (facts, one_by_one) = write(&store, move |tx| {
        tx.insert_confirmation(&record("T01", "J1-1-0", Verdict::Accepted, Some("b1")))?;
        tx.chain_turn("T01")?;
        tx.add_chain_link("T01", 1, &h(0), &h(1))?;
        tx.add_chain_link("T01", 2, &h(1), &h(2))?;
        let mut changed = a.clone();
        changed.description = Some("changed in this unit".into());
        tx.update_pi(&changed)?;
        let ask = SlipQuestions {
            terminal: "T01",
            slips: vec!["J1-1-0", "J9-9-9"],
            payments: vec![a_seq, b_seq, 999_999],
            codes: vec![(chain, asked.as_str()), (chain, "000000")],
            links: vec![0, 1, 2, 3],
            collected: vec!["b1", "b2"],
        };
        let facts = tx.slip_facts(&ask)?;
        let one_by_one = (
            tx.confirmation("T01", "J1-1-0")?,
            tx.pi_by_seq(a_seq)?,
            tx.pi_by_code(chain.as_str(), &asked)?,
            tx.chain_link("T01", 2)?,
            tx.collected_before("b1")?,
        );
        Ok((facts, one_by_one))
    })
    .await;
    assert_eq!(facts.past.len(), 1);
    assert_eq!(facts.past.get("J1-1-0"), one_by_one.0.as_ref());
    let mut numbers: Vec<i64> = facts.payments.keys().copied().collect();
    numbers.sort_unstable();
    assert_eq!(numbers, [a_seq, b_seq]);
    assert_eq!(facts.payments.get(&a_seq), one_by_one.1.as_ref());
    assert_eq!(
        facts.payments[&a_seq].description.as_deref(),
        Some("changed in this unit")
    );
    assert_eq!(facts.holders.len(), 1);
    assert_eq!(facts.holders[&(chain, code.clone())], [a_seq]);
    assert_eq!(one_by_one.2.map(|pi| pi.seq), Some(a_seq));
    let mut links: Vec<i64> = facts.links.keys().copied().collect();
    links.sort_unstable();
    assert_eq!(links, [1, 2]);
    assert_eq!(facts.links.get(&2), one_by_one.3.as_ref());
    assert!(one_by_one.4);
    assert_eq!(
        facts.collected.into_iter().collect::<Vec<_>>(),
        ["b1".to_owned()]
    );
    // Kept: the links written behind were committed with the unit.
    assert_eq!(read(&store, |tx| tx.chain_seqs("T01")).await, [1, 2]);
}

/// A confirmation of another biller's slip (company code 919123, not ours; 123,000 yen),
/// paid a minute before `NOW`, under slip id `id`.
fn foreign_slip(id: &str) -> serde_json::Value {
    let paid_at = chrono::DateTime::from_timestamp(NOW - 60, 0)
        .unwrap()
        .to_rfc3339();
    serde_json::json!({
        "id": id,
        "store": "0042",
        "chain": "lawson",
        "paid_at": paid_at,
        "amount": 123_000,
        "barcode": "91912345012345678901234567890101033101230003",
    })
}

/// Payment `i` (1-7) created at `NOW + i`, for `cus_odd` or `cus_even`.
/// A customer kept under the id `id` (a payment may name only a kept customer).
async fn customer_named(store: &Arc<dyn Storage>, id: &'static str) {
    store
        .run_write(move |tx| {
            let mut c = crate::customers::create_customer(tx, &form("name=Test"), NOW)?;
            c.id = id.to_owned();
            tx.insert_customer(&c)?;
            Ok::<_, ApiError>(())
        })
        .await
        .unwrap();
}

async fn seven_payments(store: &Arc<dyn Storage>) {
    customer_named(store, "cus_odd").await;
    customer_named(store, "cus_even").await;
    for i in 1..=7 {
        let customer = if i % 2 == 1 { "cus_odd" } else { "cus_even" };
        let body = format!("amount=1500&currency=jpy&customer={customer}");
        store
            .run_write(move |tx| {
                payments::create(tx, &Settings::new("sk_test_x"), &form(&body), NOW + i)
                    .map(|(pi, _)| pi)
            })
            .await
            .unwrap();
    }
}

async fn payment_lists_filter_by_customer_and_created_and_page_both_ways(store: Arc<dyn Storage>) {
    seven_payments(&store).await;
    let list = |customer: Option<&'static str>, created: Created, limit, cursor| {
        let store = store.clone();
        async move {
            read(&store, move |tx| {
                tx.list_pis(customer, created, page(limit, cursor))
            })
            .await
            .iter()
            .map(|p| p.seq)
            .collect::<Vec<_>>()
        }
    };
    let all = Created::default();
    // Newest first, one more than the limit.
    assert_eq!(list(None, all, 3, Cursor::First).await, [7, 6, 5, 4]);
    assert_eq!(list(None, all, 3, Cursor::After(4)).await, [3, 2, 1]);
    // Before a cursor: the nearest first, the extra one the farthest.
    assert_eq!(list(None, all, 3, Cursor::Before(2)).await, [3, 4, 5, 6]);
    assert_eq!(list(None, all, 3, Cursor::Before(5)).await, [6, 7]);
    assert_eq!(
        list(Some("cus_odd"), all, 10, Cursor::First).await,
        [7, 5, 3, 1]
    );
    assert_eq!(
        list(Some("cus_odd"), all, 10, Cursor::After(5)).await,
        [3, 1]
    );
    assert_eq!(
        list(Some("cus_even"), all, 10, Cursor::Before(2)).await,
        [4, 6]
    );
    assert!(
        list(Some("cus_none"), all, 10, Cursor::First)
            .await
            .is_empty()
    );
    let range = |gt, gte, lt, lte| Created { gt, gte, lt, lte };
    assert_eq!(
        list(
            None,
            range(None, Some(NOW + 3), None, Some(NOW + 5)),
            10,
            Cursor::First
        )
        .await,
        [5, 4, 3]
    );
    assert_eq!(
        list(
            None,
            range(Some(NOW + 3), None, Some(NOW + 5), None),
            10,
            Cursor::First
        )
        .await,
        [4]
    );
    assert_eq!(
        list(
            Some("cus_odd"),
            range(Some(NOW + 1), None, None, None),
            1,
            Cursor::Before(3)
        )
        .await,
        [5, 7]
    );
}

async fn event_lists_filter_by_type_and_created_and_page_both_ways(store: Arc<dyn Storage>) {
    let types = [
        "payment_intent.created",
        "payment_intent.succeeded",
        "charge.succeeded",
        "payment_intent.canceled",
        "charge.refunded",
    ];
    for (i, t) in types.iter().enumerate() {
        let t = *t;
        write(&store, move |tx| {
            tx.emit(
                t,
                NOW + i as i64,
                Snapshot::Stored {
                    kind: "charge",
                    doc: "{}",
                },
            )
        })
        .await;
    }
    let list = |filter: EventFilter, limit, cursor| {
        let store = store.clone();
        async move {
            read(&store, move |tx| {
                tx.list_events(&filter, page(limit, cursor))
            })
            .await
            .into_iter()
            .map(|e| e.event_type)
            .collect::<Vec<_>>()
        }
    };
    let of = |types: &[&str]| EventFilter {
        types: types.iter().map(|t| t.to_string()).collect(),
        ..EventFilter::default()
    };
    assert_eq!(
        list(
            of(&["charge.succeeded", "charge.refunded"]),
            10,
            Cursor::First
        )
        .await,
        ["charge.refunded", "charge.succeeded"]
    );
    let group = EventFilter {
        type_prefix: Some("payment_intent.".into()),
        ..EventFilter::default()
    };
    assert_eq!(
        list(group, 10, Cursor::First).await,
        [
            "payment_intent.canceled",
            "payment_intent.succeeded",
            "payment_intent.created"
        ]
    );
    // `_` in a prefix is itself, not any character.
    let odd = EventFilter {
        type_prefix: Some("payment_intent_".into()),
        ..EventFilter::default()
    };
    assert!(list(odd, 10, Cursor::First).await.is_empty());
    let window = EventFilter {
        created: Created {
            gte: Some(NOW + 1),
            lt: Some(NOW + 3),
            ..Created::default()
        },
        ..EventFilter::default()
    };
    assert_eq!(
        list(window, 10, Cursor::First).await,
        ["charge.succeeded", "payment_intent.succeeded"]
    );
    let all = read(&store, |tx| {
        tx.list_events(&EventFilter::default(), page(10, Cursor::First))
    })
    .await;
    let oldest = all.last().unwrap().seq;
    assert_eq!(
        list(EventFilter::default(), 2, Cursor::Before(oldest)).await,
        [
            "payment_intent.succeeded",
            "charge.succeeded",
            "payment_intent.canceled"
        ]
    );
}

/// A voucher reissued by an update takes new codes; its old codes are free for another
/// payment at once, and name the updated payment no more as payable.
async fn an_updated_voucher_frees_its_old_codes(store: Arc<dyn Storage>) {
    let pi = create(&store, CONFIRMED).await;
    let (chain, old_code) = {
        let (c, code) = pi.voucher.as_ref().unwrap().codes.iter().next().unwrap();
        (*c, code.clone())
    };
    let other = create(&store, UNCONFIRMED).await;
    let code = old_code.clone();
    assert!(
        !write(&store, move |tx| tx.claim_code(chain, &code, other.seq)).await,
        "held while payable"
    );
    let id = pi.id.clone();
    let updated = store
        .run_write(move |tx| {
            let mut pi = tx.pi(&id)?.unwrap();
            payments::update(
                tx,
                &Settings::new("sk_test_x"),
                &mut pi,
                &form("amount=1800"),
                NOW,
                &|_| serde_json::Value::Null,
            )?;
            Ok::<_, ApiError>(pi)
        })
        .await
        .unwrap();
    let new_code = updated.voucher.as_ref().unwrap().codes[&chain].clone();
    assert_ne!(new_code, old_code);
    let code = old_code.clone();
    let holder = read(&store, move |tx| tx.pi_by_code(chain.as_str(), &code))
        .await
        .unwrap();
    assert_eq!(holder.id, updated.id);
    assert_ne!(holder.voucher.unwrap().codes[&chain], old_code);
    let other_seq = other.seq;
    let code = old_code.clone();
    assert!(
        write(&store, move |tx| tx.claim_code(chain, &code, other_seq)).await,
        "free once replaced"
    );
    let code = new_code.clone();
    assert!(
        !write(&store, move |tx| tx.claim_code(chain, &code, other_seq)).await,
        "the new code is held"
    );
}

async fn payment_searches_match_each_field_and_page(store: Arc<dyn Storage>) {
    seven_payments(&store).await;
    // Metadata on payments 7 and 6 (all seven stay requires_payment_method).
    for (seq, body) in [
        (7, "metadata[order]=A-7&metadata[k'ey]=x"),
        (6, "metadata[order]=a-7"),
    ] {
        store
            .run_write(move |tx| {
                let mut pi = tx.pi_by_seq(seq)?.unwrap();
                payments::update(
                    tx,
                    &Settings::new("sk_test_x"),
                    &mut pi,
                    &form(body),
                    NOW,
                    &|_| serde_json::Value::Null,
                )
            })
            .await
            .unwrap();
    }
    let search = |q: &'static str, limit, after| {
        let store = store.clone();
        async move {
            let query = crate::search::parse(q, &crate::search::PAYMENT_INTENTS).unwrap();
            read(&store, move |tx| tx.search_pis(&query, limit, after))
                .await
                .iter()
                .map(|p| p.seq)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(search("customer:'CUS_ODD'", 10, None).await, [7, 5, 3, 1]);
    assert_eq!(search("customer:'cus_odd'", 1, Some(5)).await, [3, 1]);
    assert_eq!(
        search("amount>=1500 created>1796604005", 10, None).await,
        [7, 6]
    );
    assert_eq!(
        search("created<1796604002 OR created=1796604007", 10, None).await,
        [7, 1]
    );
    assert_eq!(search("-customer:'cus_odd'", 10, None).await, [6, 4, 2]);
    assert_eq!(search("metadata['order']:'A-7'", 10, None).await, [7]);
    assert_eq!(search(r#"metadata["k'ey"]:"x""#, 10, None).await, [7]);
    assert_eq!(search("-metadata['order']:null", 10, None).await, [7, 6]);
    assert_eq!(
        search("status:'requires_payment_method' currency:'JPY'", 2, None).await,
        [7, 6, 5]
    );
    assert_eq!(search("customer:null", 10, None).await, Vec::<i64>::new());
    // Text is bound, never SQL.
    assert!(
        search("customer:\"x') OR 1=1 --\"", 10, None)
            .await
            .is_empty()
    );
}

fn cat<T: Send + 'static>(
    store: &Arc<dyn Storage>,
    f: impl FnMut(&dyn Tx) -> Result<T, ApiError> + Send + 'static,
) -> impl Future<Output = Result<T, ApiError>> + '_ {
    store.run_write(f)
}

async fn product(store: &Arc<dyn Storage>, body: String, at: i64) -> crate::objects::Product {
    cat(store, move |tx| {
        crate::catalog::create_product(tx, &form(&body), at)
    })
    .await
    .unwrap()
}

async fn price(store: &Arc<dyn Storage>, body: String, at: i64) -> crate::objects::Price {
    cat(store, move |tx| {
        crate::catalog::create_price(tx, &form(&body), at)
    })
    .await
    .unwrap()
}

/// Six products (the even ones inactive, the first three goods), each with a one-time price
/// made by `default_price_data`, and a recurring one for the odd ones.
async fn six_products(store: &Arc<dyn Storage>) -> Vec<crate::objects::Product> {
    let mut made = Vec::new();
    for i in 1..=6i64 {
        let kind = if i <= 3 { "good" } else { "service" };
        let p = product(
            store,
            format!(
                "name=Onigiri {i}&type={kind}&description=Rice ball number {i}&metadata[n]={i}\
                 &default_price_data[currency]=jpy&default_price_data[unit_amount]={}",
                100 * i
            ),
            NOW + i,
        )
        .await;
        if i % 2 == 1 {
            price(
                store,
                format!(
                    "product={}&currency=JPY&unit_amount=980&recurring[interval]=month&lookup_key=plan-{i}",
                    p.id
                ),
                NOW + i,
            )
            .await;
        }
        if i % 2 == 0 {
            let id = p.id.clone();
            cat(store, move |tx| {
                let mut p = crate::catalog::find_product(tx, &id, "id")?;
                crate::catalog::update_product(tx, &mut p, &form("active=false"), NOW + 10)?;
                Ok(p)
            })
            .await
            .unwrap();
        }
        made.push(p);
    }
    made
}

async fn products_and_prices_filter_search_and_page_both_ways(store: Arc<dyn Storage>) {
    let made = six_products(&store).await;
    let seqs: Vec<i64> = made.iter().map(|p| p.seq).collect();
    let products = |filter: super::ProductFilter, limit, cursor| {
        let store = store.clone();
        async move {
            read(&store, move |tx| {
                tx.list_products(&filter, page(limit, cursor))
            })
            .await
            .iter()
            .map(|p| p.name.clone())
            .collect::<Vec<_>>()
        }
    };
    let names = |ns: &[i64]| {
        ns.iter()
            .map(|n| format!("Onigiri {n}"))
            .collect::<Vec<_>>()
    };
    let all = super::ProductFilter::default();
    assert_eq!(
        products(all.clone(), 2, Cursor::First).await,
        names(&[6, 5, 4])
    );
    assert_eq!(
        products(all.clone(), 2, Cursor::After(seqs[3])).await,
        names(&[3, 2, 1])
    );
    // Before a cursor: the nearest first, the extra one the farthest.
    assert_eq!(
        products(all.clone(), 2, Cursor::Before(seqs[0])).await,
        names(&[2, 3, 4])
    );
    let active = super::ProductFilter {
        active: Some(true),
        ..Default::default()
    };
    assert_eq!(products(active, 10, Cursor::First).await, names(&[5, 3, 1]));
    let goods = super::ProductFilter {
        kind: Some("good".into()),
        active: Some(false),
        ..Default::default()
    };
    assert_eq!(products(goods, 10, Cursor::First).await, names(&[2]));
    let ids = super::ProductFilter {
        ids: vec![made[0].id.clone(), made[4].id.clone(), "prod_none".into()],
        created: Created {
            gte: Some(NOW + 1),
            ..Created::default()
        },
        ..Default::default()
    };
    assert_eq!(products(ids, 10, Cursor::First).await, names(&[5, 1]));

    let prices = |filter: super::PriceFilter, limit, cursor| {
        let store = store.clone();
        async move {
            read(&store, move |tx| {
                tx.list_prices(&filter, page(limit, cursor))
            })
            .await
            .iter()
            .map(|p| (p.unit_amount.unwrap(), p.kind.clone()))
            .collect::<Vec<_>>()
        }
    };
    let one = |a: i64| (a, "one_time".to_owned());
    let rec = (980, "recurring".to_owned());
    let of_first = super::PriceFilter {
        product: Some(made[0].id.clone()),
        ..Default::default()
    };
    assert_eq!(
        prices(of_first, 10, Cursor::First).await,
        [rec.clone(), one(100)]
    );
    let monthly = super::PriceFilter {
        interval: Some("month".into()),
        lookup_keys: vec!["plan-1".into(), "plan-5".into()],
        ..Default::default()
    };
    assert_eq!(
        prices(monthly, 10, Cursor::First).await,
        [rec.clone(), rec.clone()]
    );
    let one_time = super::PriceFilter {
        kind: Some("one_time".into()),
        currency: Some("jpy".into()),
        active: Some(true),
        ..Default::default()
    };
    assert_eq!(
        prices(one_time.clone(), 2, Cursor::First).await,
        [one(600), one(500), one(400)]
    );
    let first_price = read(&store, {
        let f = one_time.clone();
        move |tx| tx.list_prices(&f, page(10, Cursor::First))
    })
    .await
    .last()
    .unwrap()
    .seq;
    assert_eq!(
        prices(one_time, 2, Cursor::Before(first_price)).await,
        [one(200), one(300), one(400)]
    );
    let search = |q: &'static str, fields: &'static crate::search::Fields, limit, after| {
        let store = store.clone();
        async move {
            let query = crate::search::parse(q, fields).unwrap();
            if fields.object == "products" {
                read(&store, move |tx| tx.search_products(&query, limit, after))
                    .await
                    .iter()
                    .map(|p| p.name.clone())
                    .collect::<Vec<_>>()
            } else {
                read(&store, move |tx| tx.search_prices(&query, limit, after))
                    .await
                    .iter()
                    .map(|p| p.unit_amount.unwrap().to_string())
                    .collect::<Vec<_>>()
            }
        }
    };
    use crate::search::{PRICES, PRODUCTS};
    assert_eq!(
        search("active:'true'", &PRODUCTS, 10, None).await,
        names(&[5, 3, 1])
    );
    assert_eq!(
        search(
            "name~'GIRI 2' OR description~'number 4'",
            &PRODUCTS,
            10,
            None
        )
        .await,
        names(&[4, 2])
    );
    assert_eq!(
        search("-metadata['n']:'3' active:'true'", &PRODUCTS, 1, None).await,
        names(&[5, 1])
    );
    assert_eq!(
        search("active:'true'", &PRODUCTS, 1, Some(seqs[4])).await,
        names(&[3, 1])
    );
    let product_1 = format!("product:'{}' type:'recurring'", made[0].id);
    let q: &'static str = Box::leak(product_1.into_boxed_str());
    assert_eq!(search(q, &PRICES, 10, None).await, ["980"]);
    assert_eq!(
        search(
            "lookup_key:'plan-3' OR lookup_key:'plan-5'",
            &PRICES,
            10,
            None
        )
        .await,
        ["980", "980"]
    );
    assert!(search("currency:'usd'", &PRICES, 10, None).await.is_empty());
}

async fn lookup_keys_are_unique_and_move_only_when_asked(store: Arc<dyn Storage>) {
    let p = product(&store, "name=Bento".into(), NOW).await;
    let a = price(
        &store,
        format!(
            "product={}&currency=jpy&unit_amount=500&lookup_key=bento",
            p.id
        ),
        NOW,
    )
    .await;
    let body = format!(
        "product={}&currency=jpy&unit_amount=550&lookup_key=bento",
        p.id
    );
    let e = cat(&store, move |tx| {
        crate::catalog::create_price(tx, &form(&body), NOW)
    })
    .await
    .unwrap_err();
    assert_eq!(e.param.as_deref(), Some("lookup_key"));
    assert!(e.message.contains(&a.id), "{}", e.message);
    let b = price(
        &store,
        format!(
            "product={}&currency=jpy&unit_amount=550&lookup_key=bento&transfer_lookup_key=true",
            p.id
        ),
        NOW,
    )
    .await;
    let holder = read(&store, |tx| tx.price_by_lookup_key("bento"))
        .await
        .unwrap();
    assert_eq!(holder.id, b.id);
    let a_id = a.id.clone();
    assert_eq!(
        read(&store, move |tx| tx.price(&a_id))
            .await
            .unwrap()
            .lookup_key,
        None
    );
    // A price in another currency could never be paid at a konbini.
    let body = format!("product={}&currency=usd&unit_amount=5", p.id);
    let e = cat(&store, move |tx| {
        crate::catalog::create_price(tx, &form(&body), NOW)
    })
    .await
    .unwrap_err();
    assert_eq!(e.param.as_deref(), Some("currency"));
    assert!(e.message.contains("jpy"), "{}", e.message);
    // A product with prices is not deleted; one without is.
    let id = p.id.clone();
    let e = cat(&store, move |tx| {
        let p = crate::catalog::find_product(tx, &id, "id")?;
        crate::catalog::delete_product(tx, &p, NOW)
    })
    .await
    .unwrap_err();
    assert!(e.message.contains("user-created prices"), "{}", e.message);
    let lone = product(&store, "name=Lone".into(), NOW).await;
    let id = lone.id.clone();
    cat(&store, move |tx| {
        let p = crate::catalog::find_product(tx, &id, "id")?;
        crate::catalog::delete_product(tx, &p, NOW)
    })
    .await
    .unwrap();
    let id = lone.id.clone();
    assert!(read(&store, move |tx| tx.product(&id)).await.is_none());
    assert_eq!(read(&store, |tx| tx.count_prices_of("prod_none")).await, 0);
}

async fn customer(store: &Arc<dyn Storage>, body: String, at: i64) -> crate::objects::Customer {
    cat(store, move |tx| {
        crate::customers::create_customer(tx, &form(&body), at)
    })
    .await
    .unwrap()
}

async fn customers_filter_search_and_page_both_ways_without_the_deleted(store: Arc<dyn Storage>) {
    let mut made = Vec::new();
    for i in 1..=6i64 {
        let email = if i % 2 == 0 {
            "even@example.jp".to_owned()
        } else {
            format!("odd{i}@example.jp")
        };
        made.push(
            customer(
                &store,
                format!(
                    "email={email}&name=Yamada {i}&phone=090000000{i}&metadata[tier]={}",
                    i % 3
                ),
                NOW + i,
            )
            .await,
        );
    }
    // The fifth is deleted: kept as a stub, never listed or found.
    let id = made[4].id.clone();
    cat(&store, move |tx| {
        let mut c = crate::customers::find_customer(tx, &id, "id")?;
        crate::customers::delete_customer(tx, &mut c, NOW + 20)
    })
    .await
    .unwrap();
    let id = made[4].id.clone();
    let stub = read(&store, move |tx| tx.customer(&id)).await.unwrap();
    assert!(stub.deleted);
    assert_eq!(
        stub.render(),
        serde_json::json!({"id": made[4].id, "object": "customer", "deleted": true})
    );
    let list = |filter: super::CustomerFilter, limit, cursor| {
        let store = store.clone();
        async move {
            read(&store, move |tx| {
                tx.list_customers(&filter, page(limit, cursor))
            })
            .await
            .iter()
            .map(|c| c.name.clone().unwrap())
            .collect::<Vec<_>>()
        }
    };
    let names = |ns: &[i64]| ns.iter().map(|n| format!("Yamada {n}")).collect::<Vec<_>>();
    let all = super::CustomerFilter::default();
    assert_eq!(list(all.clone(), 2, Cursor::First).await, names(&[6, 4, 3]));
    assert_eq!(
        list(all.clone(), 2, Cursor::After(made[3].seq)).await,
        names(&[3, 2, 1])
    );
    assert_eq!(
        list(all.clone(), 2, Cursor::Before(made[1].seq)).await,
        names(&[3, 4, 6])
    );
    let even = super::CustomerFilter {
        email: Some("even@example.jp".into()),
        ..Default::default()
    };
    assert_eq!(list(even, 10, Cursor::First).await, names(&[6, 4, 2]));
    // Stripe's email filter is case-sensitive.
    let upper = super::CustomerFilter {
        email: Some("EVEN@example.jp".into()),
        ..Default::default()
    };
    assert!(list(upper, 10, Cursor::First).await.is_empty());
    let window = super::CustomerFilter {
        created: Created {
            gt: Some(NOW + 1),
            lte: Some(NOW + 3),
            ..Created::default()
        },
        ..Default::default()
    };
    assert_eq!(list(window, 10, Cursor::First).await, names(&[3, 2]));
    let search = |q: &'static str, limit, after| {
        let store = store.clone();
        async move {
            let query = crate::search::parse(q, &crate::search::CUSTOMERS).unwrap();
            read(&store, move |tx| tx.search_customers(&query, limit, after))
                .await
                .iter()
                .map(|c| c.name.clone().unwrap())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(search("email~'ODD'", 10, None).await, names(&[3, 1]));
    assert_eq!(
        search("email:'even@example.jp'", 2, None).await,
        names(&[6, 4, 2])
    );
    assert_eq!(
        search("email:'even@example.jp'", 2, Some(made[3].seq)).await,
        names(&[2])
    );
    assert_eq!(
        search("name~'mada 6' OR phone~'0003'", 10, None).await,
        names(&[6, 3])
    );
    assert_eq!(
        search("metadata['tier']:'2' created>1796604000", 10, None).await,
        names(&[2])
    );
    assert_eq!(
        search("-metadata['tier']:'0'", 10, None).await,
        names(&[4, 2, 1])
    );
}

async fn payment_methods_attach_detach_and_list_by_customer(store: Arc<dyn Storage>) {
    let taro = customer(&store, "email=taro@example.jp".into(), NOW).await;
    let hanako = customer(&store, "email=hanako@example.jp".into(), NOW).await;
    let mut pms = Vec::new();
    for i in 0..5 {
        let pm = cat(&store, move |tx| {
            crate::customers::create_pm(
                tx,
                &form(&format!(
                    "type=konbini&billing_details[name]=Taro {i}&billing_details[email]=t{i}@example.jp"
                )),
                NOW + i,
            )
        })
        .await
        .unwrap();
        pms.push(pm);
    }
    for (i, pm) in pms.iter().enumerate() {
        let (pm_id, owner) = (
            pm.id.clone(),
            if i == 1 {
                hanako.id.clone()
            } else {
                taro.id.clone()
            },
        );
        cat(&store, move |tx| {
            let mut pm = crate::customers::find_pm(tx, &pm_id, "id")?;
            crate::customers::attach_request(
                tx,
                &mut pm,
                &form(&format!("customer={owner}")),
                NOW,
            )?;
            Ok(pm)
        })
        .await
        .unwrap();
    }
    // Attached elsewhere: refused.
    let (pm_id, to) = (pms[1].id.clone(), taro.id.clone());
    let e = cat(&store, move |tx| {
        let mut pm = crate::customers::find_pm(tx, &pm_id, "id")?;
        crate::customers::attach_request(tx, &mut pm, &form(&format!("customer={to}")), NOW)
    })
    .await
    .unwrap_err();
    assert!(e.message.contains("already attached"), "{}", e.message);
    let pm_id = pms[3].id.clone();
    cat(&store, move |tx| {
        let mut pm = crate::customers::find_pm(tx, &pm_id, "id")?;
        crate::customers::detach(tx, &mut pm, &form(""), NOW)
    })
    .await
    .unwrap();
    let list = |customer: Option<String>, limit, cursor| {
        let store = store.clone();
        async move {
            let filter = super::PaymentMethodFilter {
                customer,
                kind: Some("konbini".into()),
            };
            read(&store, move |tx| tx.list_pms(&filter, page(limit, cursor)))
                .await
                .iter()
                .map(|p| p.billing_details.name.clone().unwrap())
                .collect::<Vec<_>>()
        }
    };
    let names = |ns: &[i64]| ns.iter().map(|n| format!("Taro {n}")).collect::<Vec<_>>();
    let of_taro = Some(taro.id.clone());
    assert_eq!(
        list(of_taro.clone(), 10, Cursor::First).await,
        names(&[4, 2, 0])
    );
    assert_eq!(
        list(of_taro.clone(), 1, Cursor::After(pms[4].seq)).await,
        names(&[2, 0])
    );
    assert_eq!(
        list(of_taro.clone(), 1, Cursor::Before(pms[0].seq)).await,
        names(&[2, 4])
    );
    assert_eq!(
        list(Some(hanako.id.clone()), 10, Cursor::First).await,
        names(&[1])
    );
    assert_eq!(list(None, 10, Cursor::First).await, names(&[4, 3, 2, 1, 0]));
}

async fn updates_carry_previous_attributes_in_their_events(store: Arc<dyn Storage>) {
    let c = customer(
        &store,
        "email=a@example.jp&name=Before&metadata[k]=v".into(),
        NOW,
    )
    .await;
    let id = c.id.clone();
    cat(&store, move |tx| {
        let mut c = crate::customers::find_customer(tx, &id, "id")?;
        crate::customers::update_customer(
            tx,
            &mut c,
            &form("name=After&metadata[k]=&metadata[n]=1&email=a@example.jp"),
            NOW + 1,
        )
    })
    .await
    .unwrap();
    let events = read(&store, |tx| {
        tx.list_events(&EventFilter::default(), page(10, Cursor::First))
    })
    .await;
    let types: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(types, ["customer.updated", "customer.created"]);
    let updated = events[0].render("http://net");
    assert_eq!(updated["data"]["object"]["name"], "After");
    assert_eq!(
        updated["data"]["previous_attributes"],
        serde_json::json!({"name": "Before", "metadata": {"k": "v", "n": null}})
    );
    assert!(
        events[1].render("http://net")["data"]
            .get("previous_attributes")
            .is_none()
    );
}

/// Prices made at once with one lookup key: exactly one takes it, the others are refused
/// naming `lookup_key` (with several nodes, the unique index settles it and the loser, run
/// again, sees the winner); with `transfer_lookup_key`, each moves it in turn and the key
/// ends on exactly one price.
async fn a_lookup_key_is_taken_once_under_concurrency(store: Arc<dyn Storage>) {
    let p = product(&store, "name=Onigiri".into(), NOW).await;
    for transfer in [false, true] {
        let key = if transfer { "moved" } else { "once" };
        let start = Arc::new(tokio::sync::Barrier::new(4));
        let handles: Vec<_> = (0..4)
            .map(|i| {
                let (store, start) = (store.clone(), start.clone());
                let body = format!(
                    "product={}&currency=jpy&unit_amount={}&lookup_key={key}&transfer_lookup_key={transfer}",
                    p.id,
                    100 + i
                );
                tokio::spawn(async move {
                    start.wait().await;
                    store
                        .run_write(move |tx| crate::catalog::create_price(tx, &form(&body), NOW))
                        .await
                })
            })
            .collect();
        let mut made = 0;
        for h in handles {
            match h.await.unwrap() {
                Ok(_) => made += 1,
                Err(e) => {
                    assert!(!transfer, "a transfer was refused: {e:?}");
                    assert_eq!(e.param.as_deref(), Some("lookup_key"), "{e:?}");
                }
            }
        }
        assert_eq!(made, if transfer { 4 } else { 1 });
        let holders = read(&store, move |tx| {
            tx.list_prices(
                &super::PriceFilter {
                    lookup_keys: vec![key.to_owned()],
                    ..Default::default()
                },
                page(10, Cursor::First),
            )
        })
        .await;
        assert_eq!(holders.len(), 1, "{key}: {holders:?}");
    }
}

mod checkout;
