//! Delivery over real loopback HTTP servers: a healthy endpoint, one that accepts and never
//! answers, one that refuses connections. Every assertion is about order (what had
//! happened when something else was seen), never about how long it took; the waits only
//! guard against a hang.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

use super::*;
use crate::Settings;
use crate::clock::Clock;
use crate::objects::{Snapshot, WebhookEndpoint};
use crate::storage::DeliveryReport;

/// Fail the test (rather than hang) if `f` does not hold within a minute. Not a measure of
/// speed: the machine is shared and slow at times.
async fn until(what: &str, mut f: impl AsyncFnMut() -> bool) {
    let give_up = tokio::time::Instant::now() + Duration::from_secs(60);
    while !f().await {
        assert!(tokio::time::Instant::now() < give_up, "never: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Read one HTTP request's body from `r`; `None` at the end of the connection.
async fn read_request(r: &mut BufReader<tokio::net::tcp::OwnedReadHalf>) -> Option<Vec<u8>> {
    let mut len = 0usize;
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).await.ok()? == 0 {
            return None;
        }
        if line == "\r\n" {
            break;
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            len = v.trim().parse().ok()?;
        }
    }
    let mut body = vec![0; len];
    r.read_exact(&mut body).await.ok()?;
    Some(body)
}

/// An endpoint that answers 200 at once and records the event ids it got, in arrival order.
struct Healthy {
    url: String,
    got: Arc<Mutex<Vec<String>>>,
    connections: Arc<AtomicUsize>,
}

impl Healthy {
    async fn start() -> Healthy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let got = Arc::new(Mutex::new(Vec::new()));
        let connections = Arc::new(AtomicUsize::new(0));
        let (g, c) = (got.clone(), connections.clone());
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                c.fetch_add(1, Ordering::SeqCst);
                let g = g.clone();
                tokio::spawn(async move {
                    let (r, mut w) = stream.into_split();
                    let mut r = BufReader::new(r);
                    while let Some(body) = read_request(&mut r).await {
                        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
                        g.lock().unwrap().push(v["id"].as_str().unwrap().to_owned());
                        let ok = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
                        if w.write_all(ok).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        Healthy {
            url,
            got,
            connections,
        }
    }

    fn got(&self) -> Vec<String> {
        self.got.lock().unwrap().clone()
    }
}

/// An endpoint that accepts every connection, reads the request and never answers. It
/// counts the connections it holds and those the client gave up on.
struct Holding {
    url: String,
    accepted: Arc<AtomicUsize>,
    requests: Arc<AtomicUsize>,
    closed: Arc<AtomicUsize>,
}

impl Holding {
    async fn start() -> Holding {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let accepted = Arc::new(AtomicUsize::new(0));
        let requests = Arc::new(AtomicUsize::new(0));
        let closed = Arc::new(AtomicUsize::new(0));
        let (a, q, c) = (accepted.clone(), requests.clone(), closed.clone());
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                a.fetch_add(1, Ordering::SeqCst);
                let (q, c) = (q.clone(), c.clone());
                tokio::spawn(async move {
                    let (r, _w) = stream.into_split();
                    let mut r = BufReader::new(r);
                    while read_request(&mut r).await.is_some() {
                        q.fetch_add(1, Ordering::SeqCst);
                    }
                    // The client hung up (its timeout): the request is no longer held.
                    c.fetch_add(1, Ordering::SeqCst);
                });
            }
        });
        Holding {
            url,
            accepted,
            requests,
            closed,
        }
    }
}

/// A URL on a loopback port nothing listens on: connections are refused at once.
fn refusing_url() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    format!("http://{}/hook", l.local_addr().unwrap())
}

async fn open(db: &Path, targets: WebhookTargets) -> Arc<Network> {
    let mut settings = Settings::new("sk_test_webhooks");
    settings.webhook_targets = targets;
    Network::open(db, settings).await.unwrap()
}

fn endpoint(id: &str, url: &str) -> WebhookEndpoint {
    WebhookEndpoint {
        id: id.to_owned(),
        created: 0,
        url: url.to_owned(),
        enabled_events: vec!["*".to_owned()],
        secret: "whsec_test".to_owned(),
        description: None,
        metadata: Default::default(),
        disabled: false,
    }
}

async fn add_endpoints(net: &Network, eps: Vec<WebhookEndpoint>) {
    net.storage()
        .run_write(move |tx| {
            for ep in &eps {
                tx.insert_endpoint(ep)?;
            }
            Ok::<_, StorageError>(())
        })
        .await
        .unwrap();
}

/// Emit `n` events and wake delivery; their ids, oldest first.
async fn emit(net: &Network, n: usize) -> Vec<String> {
    let now = net.clock.unix();
    let ids = net
        .storage()
        .run_write(move |tx| {
            for _ in 0..n {
                let doc = Snapshot::Stored {
                    kind: "charge",
                    doc: "{}",
                };
                tx.emit("charge.succeeded", now, doc)?;
            }
            let mut ids: Vec<String> = tx
                .list_events(
                    &crate::storage::EventFilter::default(),
                    crate::storage::Page {
                        limit: n as i64,
                        cursor: crate::storage::Cursor::First,
                    },
                )?
                .into_iter()
                .take(n)
                .map(|e| e.id)
                .collect();
            ids.reverse();
            Ok::<_, StorageError>(ids)
        })
        .await
        .unwrap();
    net.wake(false, true);
    ids
}

async fn report(net: &Network) -> Vec<DeliveryReport> {
    net.storage()
        .run_read(|tx| tx.delivery_report())
        .await
        .unwrap()
}

async fn health(net: &Network, id: &str) -> EndpointHealth {
    let id = id.to_owned();
    net.storage()
        .run_read(move |tx| tx.endpoint_health(&id))
        .await
        .unwrap()
        .expect("the endpoint exists")
}

fn advance(net: &Network, seconds: i64) {
    net.clock
        .set_offset_ms(Clock::offset_advanced(net.clock.offset_ms(), seconds));
    net.wake(false, true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_endpoint_delays_only_itself() {
    let dir = tempfile::tempdir().unwrap();
    // The held request must not time out while the 100 deliveries are made, however slow
    // this machine is today: a closed request would then be the timeout, not a wrong order.
    let mut settings = Settings::new("sk_test_webhooks");
    settings.webhook_timeout = Duration::from_secs(600);
    let net = Network::open(&dir.path().join("net.db"), settings)
        .await
        .unwrap();
    let dead = Holding::start().await;
    let healthy = Healthy::start().await;
    // The dead endpoint is the older one: it comes first wherever order could favour it.
    add_endpoints(
        &net,
        vec![
            endpoint("we_dead", &dead.url),
            endpoint("we_ok", &healthy.url),
        ],
    )
    .await;
    let cancel = CancellationToken::new();
    let task = tokio::spawn(run(net.clone(), cancel.clone()));

    let first = emit(&net, 1).await;
    until("the dead endpoint holds a request", async || {
        dead.requests.load(Ordering::SeqCst) >= 1
    })
    .await;
    // Completed: received, answered, and recorded as delivered by the network.
    until(
        "the delivery to the healthy endpoint is recorded",
        async || {
            report(&net)
                .await
                .iter()
                .any(|d| d.endpoint == "we_ok" && d.delivered)
        },
    )
    .await;
    assert_eq!(healthy.got(), first);
    assert_eq!(
        dead.closed.load(Ordering::SeqCst),
        0,
        "the healthy endpoint's delivery completed while the dead one's request was still held"
    );

    let rest = emit(&net, 99).await;
    until(
        "100 deliveries to the healthy endpoint are recorded",
        async || {
            report(&net)
                .await
                .iter()
                .filter(|d| d.endpoint == "we_ok" && d.delivered)
                .count()
                == 100
        },
    )
    .await;
    let got = healthy.got();
    let all: BTreeSet<&String> = first.iter().chain(&rest).collect();
    assert_eq!(got.len(), 100, "each event once");
    assert_eq!(got.iter().collect::<BTreeSet<_>>(), all);
    assert_eq!(
        dead.closed.load(Ordering::SeqCst),
        0,
        "100 events reached the healthy endpoint while the dead one still held its first"
    );
    let held = dead.accepted.load(Ordering::SeqCst);
    assert!(
        (1..=IN_FLIGHT_PER_ENDPOINT).contains(&held),
        "the dead endpoint holds at most {IN_FLIGHT_PER_ENDPOINT} requests, not {held}"
    );
    // The healthy endpoint's deliveries are recorded; the dead one's still pending.
    let r = report(&net).await;
    assert!(
        r.iter()
            .filter(|d| d.endpoint == "we_ok")
            .all(|d| d.delivered && d.attempts == 1)
    );
    assert!(
        r.iter()
            .filter(|d| d.endpoint == "we_dead")
            .all(|d| !d.delivered)
    );
    cancel.cancel();
    task.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endpoint_failing_for_days_is_disabled_gets_no_new_events_and_stays_so_after_a_restart()
{
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("net.db");
    let net = open(&db, WebhookTargets::Any).await;
    let healthy = Healthy::start().await;
    add_endpoints(
        &net,
        vec![
            endpoint("we_down", &refusing_url()),
            endpoint("we_ok", &healthy.url),
        ],
    )
    .await;
    let policy = DisablePolicy {
        failing_for_seconds: 86_400,
        min_failures: 3,
    };
    let cancel = CancellationToken::new();
    let task = tokio::spawn(run_with(net.clone(), cancel.clone(), policy));
    emit(&net, 1).await;

    // Three failures within a minute of the clock: many, but not for a day yet.
    let mut seen = 0;
    while seen < 3 {
        until("another failed attempt", async || {
            health(&net, "we_down").await.failures > seen
        })
        .await;
        seen = health(&net, "we_down").await.failures;
        advance(&net, 10); // past the backoff (1, 2, 4 s)
    }
    let h = health(&net, "we_down").await;
    assert!(
        !h.disabled,
        "failing for seconds is not failing for days: {h:?}"
    );

    // A day later it still fails: disabled.
    advance(&net, 86_400);
    until("the endpoint is disabled", async || {
        health(&net, "we_down").await.disabled
    })
    .await;
    let h = health(&net, "we_down").await;
    let now = net.clock.unix();
    assert!(h.failures >= 4, "{h:?}");
    assert!(now - h.failing_since.unwrap() >= 86_400, "{h:?}");
    let ep = net
        .storage()
        .run_read(|tx| tx.endpoint("we_down"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ep.render(false)["status"], "disabled");
    let last = report(&net)
        .await
        .into_iter()
        .find(|d| d.endpoint == "we_down")
        .unwrap();
    assert!(!last.delivered);
    assert!(last.last_error.is_some(), "{last:?}");

    // A new event goes to the healthy endpoint only.
    let new = emit(&net, 1).await;
    until("the healthy endpoint has the new event", async || {
        healthy.got().contains(&new[0])
    })
    .await;
    let r = report(&net).await;
    assert!(
        !r.iter()
            .any(|d| d.event == new[0] && d.endpoint == "we_down"),
        "nothing is queued for a disabled endpoint"
    );
    cancel.cancel();
    task.await.unwrap();
    drop(net);

    // A restart keeps the endpoint disabled and its streak.
    let net = open(&db, WebhookTargets::Any).await;
    let again = health(&net, "we_down").await;
    assert_eq!(again, h);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_public_targets_a_loopback_endpoint_is_never_contacted() {
    let dir = tempfile::tempdir().unwrap();
    let net = open(&dir.path().join("net.db"), WebhookTargets::Public).await;
    let listening = Healthy::start().await;
    let port = listening
        .url
        .split(':')
        .nth(2)
        .unwrap()
        .trim_end_matches("/hook");
    // Made before the network took public targets only (here: straight into the store).
    add_endpoints(
        &net,
        vec![
            endpoint("we_literal", &listening.url),
            endpoint("we_name", &format!("http://localhost:{port}/hook")),
            endpoint(
                "we_mapped",
                &format!("http://[::ffff:127.0.0.1]:{port}/hook"),
            ),
        ],
    )
    .await;
    let cancel = CancellationToken::new();
    let task = tokio::spawn(run(net.clone(), cancel.clone()));
    emit(&net, 1).await;
    until("each endpoint was attempted", async || {
        let r = report(&net).await;
        r.len() == 3 && r.iter().all(|d| d.attempts >= 1)
    })
    .await;
    for d in report(&net).await {
        assert!(!d.delivered, "{d:?}");
        assert_eq!(d.last_status, None, "{d:?}");
        let e = d.last_error.unwrap();
        assert!(
            e.contains("is a loopback address") && e.contains("--webhook-targets public"),
            "{}: {e}",
            d.endpoint
        );
    }
    assert_eq!(listening.connections.load(Ordering::SeqCst), 0);
    cancel.cancel();
    task.await.unwrap();
}

#[test]
fn a_failure_streak_disables_only_when_both_long_and_repeated() {
    let p = DisablePolicy {
        failing_for_seconds: 100,
        min_failures: 3,
    };
    let h = EndpointHealth::default();
    let h = p.after_attempt(h, false, 1000);
    assert_eq!(
        h,
        EndpointHealth {
            disabled: false,
            failures: 1,
            failing_since: Some(1000)
        }
    );
    // Long enough but too few: a clock jump between two failures.
    let h = p.after_attempt(h, false, 5000);
    assert!(!h.disabled);
    // Many, and the first was long enough ago.
    let h3 = p.after_attempt(h, false, 5001);
    assert!(h3.disabled);
    assert_eq!(h3.failing_since, Some(1000));
    // Many but recent.
    let mut quick = EndpointHealth::default();
    for t in 0..10 {
        quick = p.after_attempt(quick, false, t);
    }
    assert!(!quick.disabled && quick.failures == 10);
    // A success ends the streak; it does not re-enable a disabled endpoint.
    let ok = p.after_attempt(h, true, 5002);
    assert_eq!(ok, EndpointHealth::default());
    let still = p.after_attempt(h3, true, 5002);
    assert!(still.disabled && still.failures == 0 && still.failing_since.is_none());
    // Stripe's default: three days.
    assert_eq!(DisablePolicy::default().failing_for_seconds, 3 * 86_400);
}

#[test]
fn an_endpoints_outbox_is_read_in_event_order_and_resumed_when_re_enabled() {
    crate::storage::sqlite::in_memory_tx(|tx| {
        tx.insert_endpoint(&endpoint("we_a", "http://a.example/"))
            .unwrap();
        tx.insert_endpoint(&endpoint("we_b", "http://b.example/"))
            .unwrap();
        for _ in 0..5 {
            tx.emit(
                "charge.succeeded",
                100,
                Snapshot::Stored {
                    kind: "charge",
                    doc: "{}",
                },
            )
            .unwrap();
        }
        let due = tx.endpoint_due_deliveries("we_a", 100, 10).unwrap();
        let seqs: Vec<i64> = due.iter().map(|d| d.event_seq).collect();
        assert_eq!(seqs.len(), 5);
        assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
        assert!(due.iter().all(|d| d.endpoint == "we_a"));
        // The first fails and is put back by a minute: the others come first now.
        tx.delivery_done(&due[0], false, Some(500), None, 160)
            .unwrap();
        let after: Vec<i64> = tx
            .endpoint_due_deliveries("we_a", 100, 10)
            .unwrap()
            .iter()
            .map(|d| d.event_seq)
            .collect();
        assert_eq!(after, seqs[1..]);
        // Disabled: no new event is queued for it; the other endpoint gets it.
        let disabled = EndpointHealth {
            disabled: true,
            failures: 7,
            failing_since: Some(1),
        };
        assert!(tx.set_endpoint_health("we_a", &disabled).unwrap());
        assert_eq!(tx.endpoint_health("we_a").unwrap(), Some(disabled));
        assert!(tx.endpoint("we_a").unwrap().unwrap().disabled);
        tx.emit(
            "charge.succeeded",
            101,
            Snapshot::Stored {
                kind: "charge",
                doc: "{}",
            },
        )
        .unwrap();
        assert_eq!(
            tx.endpoint_due_deliveries("we_a", 200, 10).unwrap().len(),
            5
        );
        assert_eq!(
            tx.endpoint_due_deliveries("we_b", 200, 10).unwrap().len(),
            6
        );
        // Re-enabled: the one put back is due at once.
        tx.set_endpoint_health("we_a", &EndpointHealth::default())
            .unwrap();
        tx.resume_deliveries("we_a", 120).unwrap();
        assert_eq!(
            tx.endpoint_due_deliveries("we_a", 120, 10).unwrap().len(),
            5
        );
        assert!(!tx.set_endpoint_health("we_gone", &disabled).unwrap());
    });
}

#[test]
fn signature_matches_the_reference_vector() {
    // Computed independently with Python's hmac (not a vector of Stripe's).
    assert_eq!(
        signature_header(
            "whsec_test_secret",
            1_700_000_000,
            br#"{"id":"evt_test","object":"event"}"#
        ),
        "t=1700000000,v1=8042376f6ca064adbe037642a718227dfd59047137eb49497a54c49eb0cfb724"
    );
}

#[test]
fn backoff_doubles_up_to_an_hour() {
    assert_eq!(backoff_seconds(0), 1);
    assert_eq!(backoff_seconds(3), 8);
    assert_eq!(backoff_seconds(12), 3600);
    assert_eq!(backoff_seconds(1000), 3600);
}
