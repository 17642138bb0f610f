//! The storage suite's Checkout Sessions and Payment Links, on every backend: kept and read
//! back by id, by payment and by token; listed with each filter, both ways; and open
//! sessions falling due at their `expires_at` (the scheduler's work), and no longer once
//! complete or expired.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::{NOW, create, form, on_postgres, on_sqlite, page, read, write};
use crate::checkout::{self, AfterCompletion, PaymentLink, PiData, Session, SessionStatus};
use crate::storage::{Created, Cursor, EventFilter, SessionFilter, Storage};

suite!(
    a_session_submitted_twice_at_once_makes_one_payment,
    a_sessions_events_follow_its_payment,
    checkout_sessions_are_kept_listed_and_fall_due,
    payment_links_are_kept_by_token_and_listed_by_active,
);

/// A session of one `price_data` line (¥600 × 2) at `NOW + offset`, with `extra` params.
async fn session(store: &Arc<dyn Storage>, offset: i64, extra: String) -> Session {
    store
        .run_write(move |tx| {
            let body = format!(
                "line_items[0][price_data][currency]=jpy\
                 &line_items[0][price_data][product_data][name]=Tea\
                 &line_items[0][price_data][unit_amount]=600\
                 &line_items[0][quantity]=2{extra}",
            );
            checkout::create_session(tx, &form(&body), NOW + offset)
        })
        .await
        .unwrap()
}

async fn checkout_sessions_are_kept_listed_and_fall_due(store: Arc<dyn Storage>) {
    let cus = store
        .run_write(|tx| crate::customers::create_customer(tx, &form("email=a@example.jp"), NOW))
        .await
        .unwrap()
        .id;
    let a = session(&store, 0, format!("&customer={cus}")).await;
    let b = session(&store, 1, "&expires_at=1796606000".into()).await;
    let c = session(&store, 2, format!("&customer={cus}")).await;
    assert_eq!((a.seq, b.seq, c.seq), (1, 2, 3));
    assert_eq!(a.total(), 1200);
    let id = a.id.clone();
    let back = read(&store, move |tx| tx.session(&id)).await.unwrap();
    assert_eq!(back, a);
    assert!(
        read(&store, |tx| tx.session("cs_test_none"))
            .await
            .is_none()
    );

    let list = |filter: SessionFilter, limit, cursor| {
        let store = store.clone();
        async move {
            read(&store, move |tx| {
                tx.list_sessions(&filter, page(limit, cursor))
            })
            .await
            .iter()
            .map(|s| s.seq)
            .collect::<Vec<_>>()
        }
    };
    let all = SessionFilter::default();
    assert_eq!(list(all.clone(), 2, Cursor::First).await, [3, 2, 1]);
    assert_eq!(list(all.clone(), 2, Cursor::After(2)).await, [1]);
    assert_eq!(list(all.clone(), 1, Cursor::Before(1)).await, [2, 3]);
    let of_a = SessionFilter {
        customer: Some(cus.clone()),
        ..SessionFilter::default()
    };
    assert_eq!(list(of_a, 10, Cursor::First).await, [3, 1]);
    let later = SessionFilter {
        created: Created {
            gte: Some(NOW + 1),
            ..Created::default()
        },
        ..SessionFilter::default()
    };
    assert_eq!(list(later, 10, Cursor::First).await, [3, 2]);

    // Open sessions are due at their expires_at (b's is 2000 s after NOW: the earliest).
    assert_eq!(b.expires_at, NOW + 2000);
    assert_eq!(read(&store, |tx| tx.next_due()).await, Some(NOW + 2000));
    let due = |now| {
        let store = store.clone();
        async move {
            read(&store, move |tx| tx.due_sessions(now, 10))
                .await
                .iter()
                .map(|s| s.seq)
                .collect::<Vec<_>>()
        }
    };
    assert!(due(NOW + 1999).await.is_empty());
    assert_eq!(due(NOW + 2000).await, [2]);
    assert_eq!(due(NOW + 86_402).await, [2, 1, 3]);

    // A session completed with a payment is found by it, and no longer due; an expired one
    // neither.
    let pi = create(&store, super::UNCONFIRMED).await;
    let (mut done, mut gone) = (a.clone(), b.clone());
    done.status = SessionStatus::Complete;
    done.pi_seq = Some(pi.seq);
    done.payment_intent = Some(pi.id.clone());
    done.customer_details = Some(checkout::CustomerDetails {
        name: "Taro".into(),
        email: "taro@example.jp".into(),
        phone: None,
    });
    gone.status = SessionStatus::Expired;
    let (d, g) = (done.clone(), gone.clone());
    write(&store, move |tx| {
        tx.update_session(&d)?;
        tx.update_session(&g)
    })
    .await;
    let seq = pi.seq;
    assert_eq!(
        read(&store, move |tx| tx.session_by_pi(seq)).await,
        Some(done.clone())
    );
    assert!(read(&store, |tx| tx.session_by_pi(999)).await.is_none());
    assert_eq!(due(NOW + 86_402).await, [3]);
    assert_eq!(
        read(&store, |tx| tx.next_due()).await,
        Some(NOW + 2 + 86_400)
    );
    let by = |filter: SessionFilter| list(filter, 10, Cursor::First);
    let complete = SessionFilter {
        status: Some("complete".into()),
        ..SessionFilter::default()
    };
    assert_eq!(by(complete).await, [1]);
    let email = SessionFilter {
        email: Some("taro@example.jp".into()),
        ..SessionFilter::default()
    };
    assert_eq!(by(email).await, [1]);
    let paid_by = SessionFilter {
        pi_seq: Some(pi.seq),
        ..SessionFilter::default()
    };
    assert_eq!(by(paid_by).await, [1]);
    let expired = SessionFilter {
        status: Some("expired".into()),
        ..SessionFilter::default()
    };
    assert_eq!(by(expired).await, [2]);
}

fn link(seq: i64, token: &str, active: bool) -> PaymentLink {
    PaymentLink {
        id: format!("plink_{seq}"),
        seq,
        created: NOW + seq,
        active,
        token: token.to_owned(),
        line_items: Vec::new(),
        metadata: BTreeMap::new(),
        inactive_message: None,
        after_completion: AfterCompletion::HostedConfirmation {
            custom_message: None,
        },
        payment_intent_data: PiData::default(),
        payment_method_types: None,
        phone_number_collection: false,
        customer_creation: None,
    }
}

async fn payment_links_are_kept_by_token_and_listed_by_active(store: Arc<dyn Storage>) {
    let seqs = write(&store, |tx| {
        let mut seqs = Vec::new();
        for (token, active) in [("tok-a", true), ("tok-b", false), ("tok-c", true)] {
            let seq = tx.next_link_seq()?;
            tx.insert_link(&link(seq, token, active))?;
            seqs.push(seq);
        }
        Ok(seqs)
    })
    .await;
    assert_eq!(seqs, [1, 2, 3]);
    assert_eq!(
        read(&store, |tx| tx.link_by_token("tok-b")).await,
        Some(link(2, "tok-b", false))
    );
    assert_eq!(
        read(&store, |tx| tx.link("plink_3")).await,
        Some(link(3, "tok-c", true))
    );
    assert!(read(&store, |tx| tx.link_by_token("tok-z")).await.is_none());
    let list = |active: Option<bool>, limit, cursor| {
        let store = store.clone();
        async move {
            read(&store, move |tx| tx.list_links(active, page(limit, cursor)))
                .await
                .iter()
                .map(|l| l.seq)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(list(None, 10, Cursor::First).await, [3, 2, 1]);
    assert_eq!(list(Some(true), 10, Cursor::First).await, [3, 1]);
    assert_eq!(list(Some(false), 10, Cursor::First).await, [2]);
    assert_eq!(list(None, 1, Cursor::Before(1)).await, [2, 3]);
    // Deactivated: kept, listed as inactive.
    write(&store, |tx| tx.update_link(&link(3, "tok-c", false))).await;
    assert_eq!(list(Some(false), 10, Cursor::First).await, [3, 2]);
    assert!(
        !read(&store, |tx| tx.link_by_token("tok-c"))
            .await
            .unwrap()
            .active
    );
}

/// The types of every event so far, oldest first.
async fn event_types(store: &Arc<dyn Storage>) -> Vec<String> {
    let mut types: Vec<String> = read(store, |tx| {
        tx.list_events(&EventFilter::default(), page(100, Cursor::First))
    })
    .await
    .iter()
    .map(|e| e.event_type.clone())
    .collect();
    types.reverse();
    types
}

/// Complete `session` as its page does, with `name`.
async fn complete(store: &Arc<dyn Storage>, session: &Session, at: i64) -> Session {
    let id = session.id.clone();
    store
        .run_write(move |tx| {
            let mut s = tx.session(&id)?.expect("the session");
            let input = checkout::Submission {
                name: "Taro".into(),
                email: "taro@example.jp".into(),
                phone: String::new(),
            };
            checkout::complete(
                tx,
                &crate::Settings::new("sk_test_x"),
                &mut s,
                &input,
                false,
                at,
            )
            .map_err(|r| crate::error::ApiError::internal(format!("{r:?}")))?;
            Ok::<_, crate::error::ApiError>(s)
        })
        .await
        .unwrap()
}

/// Section 6 of the design brief, through the rules on each backend: completed (unpaid) after
/// the payment's voucher, paid after the payment's success, failed after its expiry, expired
/// by the scheduler at `expires_at`, each event after the payment's own.
async fn a_sessions_events_follow_its_payment(store: Arc<dyn Storage>) {
    let paid = session(&store, 0, String::new()).await;
    let paid = complete(&store, &paid, NOW + 10).await;
    assert_eq!(paid.status, SessionStatus::Complete);
    let pi_id = paid.payment_intent.clone().unwrap();
    let pi = {
        let id = pi_id.clone();
        read(&store, move |tx| tx.pi(&id)).await.unwrap()
    };
    assert_eq!(pi.amount, 1200);
    let types = event_types(&store).await;
    let completed = types
        .iter()
        .position(|t| t == "checkout.session.completed")
        .unwrap();
    let voucher = types
        .iter()
        .position(|t| t == "payment_intent.requires_action")
        .unwrap();
    assert!(voucher < completed, "{types:?}");
    // Completed once: a second submission is refused and keeps nothing.
    let again = paid.clone();
    let refused = store
        .run_write(move |tx| {
            let mut s = again.clone();
            let input = checkout::Submission {
                name: "Jiro".into(),
                email: "jiro@example.jp".into(),
                phone: String::new(),
            };
            match checkout::complete(tx, &crate::Settings::new("k"), &mut s, &input, false, NOW) {
                Err(r) => Ok::<_, crate::storage::StorageError>(r),
                Ok(_) => panic!("completed twice"),
            }
        })
        .await
        .unwrap();
    assert_eq!(refused, checkout::Refusal::NotOpen(SessionStatus::Complete));

    let id = pi_id.clone();
    store
        .run_write(move |tx| {
            let mut pi = tx.pi(&id)?.unwrap();
            let at = chrono::DateTime::from_timestamp(NOW + 20, 0).unwrap();
            let paid_at = crate::payments::PaidAt {
                chain: None,
                store: None,
                confirmation: None,
                at,
            };
            crate::payments::succeed(tx, &mut pi, &paid_at, NOW + 20)
        })
        .await
        .unwrap();
    let types = event_types(&store).await;
    assert_eq!(
        types[types.len() - 2..],
        [
            "payment_intent.succeeded",
            "checkout.session.async_payment_succeeded"
        ]
    );
    let id = paid.id.clone();
    assert!(read(&store, move |tx| tx.session(&id)).await.unwrap().paid);

    // Another's voucher runs out: the session stays complete and unpaid.
    let lapsed = session(&store, 1, String::new()).await;
    let lapsed = complete(&store, &lapsed, NOW + 30).await;
    let id = lapsed.payment_intent.clone().unwrap();
    store
        .run_write(move |tx| {
            let mut pi = tx.pi(&id)?.unwrap();
            crate::payments::expire(tx, &mut pi, NOW + 40)
        })
        .await
        .unwrap();
    let types = event_types(&store).await;
    assert_eq!(
        types[types.len() - 2..],
        [
            "payment_intent.payment_failed",
            "checkout.session.async_payment_failed"
        ]
    );
    let id = lapsed.id.clone();
    let after = read(&store, move |tx| tx.session(&id)).await.unwrap();
    assert_eq!((after.status, after.paid), (SessionStatus::Complete, false));

    // Nobody completes a third: the scheduler's run at its expires_at expires it, once.
    let idle = session(&store, 2, String::new()).await;
    let ran = |at| {
        let store = store.clone();
        async move {
            store
                .run_write(move |tx| crate::payments::run_due(tx, at))
                .await
                .unwrap()
        }
    };
    assert_eq!(ran(idle.expires_at - 1).await, 0);
    // Two schedulers (two nodes over one database) at once: one expires it.
    let (one, other) = tokio::join!(ran(idle.expires_at), ran(idle.expires_at));
    assert_eq!(one + other, 1);
    assert_eq!(ran(idle.expires_at + 5).await, 0);
    let types = event_types(&store).await;
    assert_eq!(types.last().unwrap(), "checkout.session.expired");
    assert_eq!(
        types
            .iter()
            .filter(|t| *t == "checkout.session.expired")
            .count(),
        1
    );
    let id = idle.id.clone();
    let idle = read(&store, move |tx| tx.session(&id)).await.unwrap();
    assert_eq!(idle.status, SessionStatus::Expired);
    let rendered = idle.render("http://net");
    assert_eq!(rendered["url"], serde_json::Value::Null);
}

/// The page submitted twice at the same moment (a double tap, or two nodes): one submission
/// makes the payment, the other is told the session is already complete, and one
/// `checkout.session.completed` is sent.
async fn a_session_submitted_twice_at_once_makes_one_payment(store: Arc<dyn Storage>) {
    let s = session(&store, 0, String::new()).await;
    let submit = |name: &'static str| {
        let (store, id) = (store.clone(), s.id.clone());
        async move {
            store
                .run_write(move |tx| {
                    let mut s = tx.session(&id)?.expect("the session");
                    let input = checkout::Submission {
                        name: name.into(),
                        email: "taro@example.jp".into(),
                        phone: String::new(),
                    };
                    let settings = crate::Settings::new("k");
                    Ok::<_, crate::storage::StorageError>(
                        checkout::complete(tx, &settings, &mut s, &input, false, NOW + 5)
                            .map(|(pi, _)| pi.id),
                    )
                })
                .await
                .unwrap()
        }
    };
    let (a, b) = tokio::join!(submit("Taro"), submit("Jiro"));
    let made: Vec<String> = [&a, &b]
        .iter()
        .filter_map(|r| r.as_ref().ok().cloned())
        .collect();
    assert_eq!(made.len(), 1, "{a:?} {b:?}");
    let refused = if a.is_err() { a } else { b };
    assert_eq!(
        refused.unwrap_err(),
        checkout::Refusal::NotOpen(SessionStatus::Complete)
    );
    let id = s.id.clone();
    let kept = read(&store, move |tx| tx.session(&id)).await.unwrap();
    assert_eq!(kept.payment_intent.as_ref(), Some(&made[0]));
    let completed = event_types(&store)
        .await
        .iter()
        .filter(|t| *t == "checkout.session.completed")
        .count();
    assert_eq!(completed, 1);
}
