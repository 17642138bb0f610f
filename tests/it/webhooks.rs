//! Webhook delivery by the real `konbini network` binary (issue 21, points 3 and 10): an
//! endpoint that never answers delays only itself, one that fails for days is disabled and
//! re-enabled by the merchant, and `--webhook-targets public` refuses non-public targets.
//!
//! Every assertion is about order (what had happened when something else was seen); the
//! waits only guard against a hang. No traffic leaves loopback: the `public` tests check
//! refusals, which happen before anything is connected.

use std::io::BufReader;
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::Value;

use crate::common::{read_request, tempdir, until};
use crate::network::{Hook, Net};

/// An endpoint on loopback that accepts every connection, reads the request and never
/// answers. It counts the requests it holds and the connections the network gave up on.
struct Holding {
    url: String,
    requests: Arc<AtomicUsize>,
    closed: Arc<AtomicUsize>,
}

impl Holding {
    fn start() -> Holding {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let requests = Arc::new(AtomicUsize::new(0));
        let closed = Arc::new(AtomicUsize::new(0));
        let (q, c) = (requests.clone(), closed.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let (q, c) = (q.clone(), c.clone());
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(stream);
                    while read_request(&mut reader).is_some() {
                        q.fetch_add(1, Ordering::SeqCst);
                    }
                    c.fetch_add(1, Ordering::SeqCst);
                });
            }
        });
        Holding {
            url,
            requests,
            closed,
        }
    }
}

fn deliveries(net: &Net) -> Vec<Value> {
    let (s, v) = net.get("/v1/test_helpers/deliveries");
    assert_eq!(s, 200, "{v}");
    v["data"].as_array().unwrap().clone()
}

fn delivered_to(net: &Net, endpoint: &str) -> usize {
    deliveries(net)
        .iter()
        .filter(|d| d["endpoint"] == endpoint && d["delivered"] == true)
        .count()
}

fn create_endpoint(net: &Net, url: &str, events: &str) -> String {
    let (s, ep) = net.post(
        "/v1/webhook_endpoints",
        &[("url", url), ("enabled_events[]", events)],
    );
    assert_eq!(s, 200, "{ep}");
    assert_eq!(ep["status"], "enabled");
    ep["id"].as_str().unwrap().to_owned()
}

#[test]
fn a_webhook_endpoint_that_never_answers_delays_only_itself() {
    let dir = tempdir();
    // The held request must outlast the 100 payments and their deliveries on a slow
    // machine: with the default 10 s, a busy run could see it closed by the timeout.
    let net = Net::start(&dir.path().join("net.db"), &["--webhook-timeout", "600"]);
    let dead = Holding::start();
    let hook = Hook::start(0);
    let event = "payment_intent.requires_action";
    // The dead endpoint is the older one: it comes first wherever order could favour it.
    create_endpoint(&net, &dead.url, event);
    let ok = create_endpoint(&net, &hook.url, event);

    let first = net.pay(1000, &[]);
    until("the dead endpoint holds a request", || {
        dead.requests.load(Ordering::SeqCst) >= 1
    });
    until("the healthy endpoint's delivery is recorded", || {
        delivered_to(&net, &ok) == 1
    });
    hook.wait_for(event, first["id"].as_str().unwrap());
    assert_eq!(
        dead.closed.load(Ordering::SeqCst),
        0,
        "the healthy endpoint's delivery completed while the dead one's request was held"
    );

    let ids: Vec<String> = (0..99)
        .map(|i| net.pay(1001 + i, &[])["id"].as_str().unwrap().to_owned())
        .collect();
    until(
        "100 deliveries to the healthy endpoint are recorded",
        || delivered_to(&net, &ok) == 100,
    );
    for id in &ids {
        hook.wait_for(event, id);
    }
    assert_eq!(hook.all().len(), 100, "each event once");
    assert_eq!(
        dead.closed.load(Ordering::SeqCst),
        0,
        "100 events reached the healthy endpoint while the dead one still held its first"
    );
    assert!(dead.requests.load(Ordering::SeqCst) <= 4);
}

#[test]
fn a_webhook_endpoint_failing_for_days_is_disabled_until_the_merchant_re_enables_it() {
    let dir = tempdir();
    let db = dir.path().join("net.db");
    let net = Net::start(&db, &[]);
    // A port nothing listens on: every attempt is refused at once.
    let down = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = down.local_addr().unwrap().port();
    drop(down);
    let url = format!("http://127.0.0.1:{port}/hook");
    let ep = create_endpoint(&net, &url, "*");
    let pi = net.pay(1200, &[]);
    let id = pi["id"].as_str().unwrap().to_owned();
    let attempts = |net: &Net| -> i64 {
        deliveries(net)
            .iter()
            .filter(|d| d["endpoint"] == ep.as_str())
            .map(|d| d["attempts"].as_i64().unwrap())
            .max()
            .unwrap_or(0)
    };
    until("a first failed attempt", || attempts(&net) >= 1);
    let d = deliveries(&net);
    let failed = d
        .iter()
        .find(|d| d["attempts"].as_i64() >= Some(1))
        .unwrap();
    assert_eq!(failed["delivered"], false);
    assert!(failed["last_error"].is_string(), "{failed}");
    assert_eq!(
        net.get(&format!("/v1/webhook_endpoints/{ep}")).1["status"],
        "enabled",
        "one failure does not disable"
    );

    // A day at a time, each followed by a failed attempt, until Stripe's three days.
    let mut days = 0;
    loop {
        let (_, now) = net.get(&format!("/v1/webhook_endpoints/{ep}"));
        if now["status"] == "disabled" {
            break;
        }
        assert!(
            days < 10,
            "still enabled after {days} days of failures: {now}"
        );
        let before = attempts(&net);
        net.advance(86_400);
        days += 1;
        until("another failed attempt", || {
            attempts(&net) > before
                || net.get(&format!("/v1/webhook_endpoints/{ep}")).1["status"] == "disabled"
        });
    }
    assert!(days >= 3, "disabled after {days} days: Stripe waits three");

    // Disabled: new events are kept and listed, but none is queued for it.
    let later = net.pay(1300, &[]);
    let later_id = later["id"].as_str().unwrap();
    let (_, events) = net.get("/v1/events");
    let listed = events["data"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["data"]["object"]["id"] == later_id);
    assert!(listed, "the event is kept");
    let (_, all) = net.get("/v1/events");
    let later_events: Vec<&str> = all["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["data"]["object"]["id"] == later_id)
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    assert!(
        deliveries(&net)
            .iter()
            .all(|d| !later_events.contains(&d["event"].as_str().unwrap())),
        "nothing queued for a disabled endpoint"
    );

    // A restart keeps it disabled.
    net.kill();
    let net = Net::start(&db, &[]);
    let (s, again) = net.get(&format!("/v1/webhook_endpoints/{ep}"));
    assert_eq!((s, again["status"].as_str()), (200, Some("disabled")));
    let (_, list) = net.get("/v1/webhook_endpoints");
    assert_eq!(list["data"][0]["status"], "disabled");

    // The merchant fixes the endpoint and re-enables it: what waited is delivered.
    let hook = Hook::start_at(&format!("127.0.0.1:{port}"), 0);
    let (s, v) = net.post(
        &format!("/v1/webhook_endpoints/{ep}"),
        &[("disabled", "false")],
    );
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["status"], "enabled");
    hook.wait_for("payment_intent.requires_action", &id);
    // And can disable it by hand.
    let (s, v) = net.post(
        &format!("/v1/webhook_endpoints/{ep}"),
        &[("disabled", "true"), ("description", "paused")],
    );
    assert_eq!((s, v["status"].as_str()), (200, Some("disabled")), "{v}");
    assert_eq!(v["description"], "paused");
    assert_eq!(v["url"], url.as_str());
}

/// URLs a shared network must refuse, however they are spelled.
const NON_PUBLIC: &[&str] = &[
    "http://127.0.0.1:4242/hook",
    "http://localhost:8080/hook",
    "http://LocalHost./hook",
    "http://169.254.169.254/latest/meta-data/",
    "http://10.1.2.3/hook",
    "http://172.16.0.1/hook",
    "http://192.168.1.10/hook",
    "http://100.64.0.1/hook",
    "http://0.0.0.0:4242/hook",
    "http://224.0.0.1/hook",
    "http://192.0.2.1/hook",
    "http://2130706433/hook",
    "http://0x7f.1/hook",
    "http://[::1]/hook",
    "http://[::ffff:127.0.0.1]/hook",
    "http://[::ffff:169.254.169.254]/hook",
    "http://[fe80::1]/hook",
    "http://[fd00::1]/hook",
    "http://[2001:db8::1]/hook",
];

fn assert_url_refused(status: u16, v: &Value, url: &str) {
    assert_eq!(status, 400, "{url}: {v}");
    let e = &v["error"];
    assert_eq!(e["type"], "invalid_request_error", "{url}: {v}");
    assert_eq!(e["code"], "url_invalid", "{url}: {v}");
    assert_eq!(e["param"], "url", "{url}: {v}");
    assert!(
        e["message"].as_str().unwrap().starts_with("Invalid URL"),
        "{v}"
    );
}

#[test]
fn webhook_targets_public_refuses_non_public_urls_with_a_stripe_400() {
    let dir = tempdir();
    let net = Net::start(&dir.path().join("net.db"), &["--webhook-targets", "public"]);
    for url in NON_PUBLIC {
        let (s, v) = net.post(
            "/v1/webhook_endpoints",
            &[("url", url), ("enabled_events[]", "*")],
        );
        assert_url_refused(s, &v, url);
        assert!(
            v["error"]["message"]
                .as_str()
                .unwrap()
                .contains("--webhook-targets public"),
            "{v}"
        );
    }
    // A public name is taken (nothing is sent: no event is ever made in this test), and
    // cannot be turned into a private one by an update.
    let (s, ep) = net.post(
        "/v1/webhook_endpoints",
        &[
            ("url", "https://hooks.example.com/stripe"),
            ("enabled_events[]", "*"),
        ],
    );
    assert_eq!(s, 200, "{ep}");
    let id = ep["id"].as_str().unwrap();
    let (s, v) = net.post(
        &format!("/v1/webhook_endpoints/{id}"),
        &[("url", "http://169.254.169.254/")],
    );
    assert_url_refused(s, &v, "update");
    let (_, same) = net.get(&format!("/v1/webhook_endpoints/{id}"));
    assert_eq!(same["url"], "https://hooks.example.com/stripe");
    let (_, list) = net.get("/v1/webhook_endpoints");
    assert_eq!(list["data"].as_array().unwrap().len(), 1, "{list}");
}

#[test]
fn webhook_targets_any_takes_local_urls_but_no_other_scheme() {
    let dir = tempdir();
    let net = Net::start(&dir.path().join("net.db"), &[]);
    for url in NON_PUBLIC {
        let (s, v) = net.post(
            "/v1/webhook_endpoints",
            &[
                ("url", url),
                ("enabled_events[]", "payment_intent.canceled"),
            ],
        );
        assert_eq!(s, 200, "{url}: {v}");
        // Deleted at once: no event is ever sent anywhere.
        let id = v["id"].as_str().unwrap();
        assert_eq!(
            net.raw(
                "DELETE",
                &format!("/v1/webhook_endpoints/{id}"),
                &[("authorization", &format!("Bearer {}", crate::network::KEY))],
                Vec::new(),
            )
            .0,
            200
        );
    }
    for url in [
        "ftp://127.0.0.1/hook",
        "file:///etc/passwd",
        "gopher://localhost/",
        "not a url",
    ] {
        let (s, v) = net.post(
            "/v1/webhook_endpoints",
            &[("url", url), ("enabled_events[]", "*")],
        );
        assert_url_refused(s, &v, url);
    }
}
