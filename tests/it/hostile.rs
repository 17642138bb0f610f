//! The network against strangers and careless clients (issue 21), over real loopback
//! sockets: uploads refused before their body, half-sent heads and silent connections
//! closed, a connection cap answered with a 503, JSON bodies on protocol errors, `paid_at`
//! judged in the network's time, slip ids scoped per terminal, clock bounds, Stripe's
//! metadata limits and an idempotency fingerprint over the request as sent.
//!
//! Every wait here is for an event (a byte, an EOF, an answer), never a timed assertion: a
//! socket read timeout only turns a hang (the bug) into a failure.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use chrono::Utc;
use konbini_protocol::sign;
use serde_json::{Value, json};

use crate::common::{tempdir, until};
use crate::network::{Net, barcode_of, slip};

const CONFIRMATIONS: &str = "/terminal/v1/confirmations";

/// A raw connection to the network.
fn connect(net: &Net) -> TcpStream {
    let addr = net.url.strip_prefix("http://").unwrap();
    let s = TcpStream::connect(addr).unwrap();
    // Long enough for any loaded machine; only a hang (the bug) reaches it.
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    s
}

/// Read one HTTP answer: status, head (lowercase) and body (by content-length, or to EOF).
fn read_answer(s: &mut TcpStream) -> (u16, String, String) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = s
            .read(&mut chunk)
            .unwrap_or_else(|e| panic!("no answer: {e}"));
        assert!(
            n > 0,
            "closed without an answer: {:?}",
            String::from_utf8_lossy(&buf)
        );
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    let status = head[9..12].parse().unwrap();
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length: "))
        .map_or(0, |v| v.trim().parse().unwrap());
    while buf.len() < head_end + len {
        let n = s.read(&mut chunk).unwrap();
        assert!(n > 0, "body cut short");
        buf.extend_from_slice(&chunk[..n]);
    }
    let body = String::from_utf8_lossy(&buf[head_end..head_end + len]).into_owned();
    (status, head, body)
}

/// The connection is closed by the server (EOF, or a reset).
fn closed_by_server(s: &mut TcpStream) -> bool {
    let mut b = [0u8; 1024];
    loop {
        match s.read(&mut b) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
            Err(_) => return false,
        }
    }
}

fn json_error(body: &str) -> Value {
    let v: Value =
        serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body:?}"));
    assert!(v["error"]["message"].is_string(), "{v}");
    v
}

/// A confirmation upload's head, declaring a body of `len` bytes (none of it sent).
fn upload_head(net: &Net, terminal: &str, signature: &str, len: usize) -> String {
    format!(
        "POST {CONFIRMATIONS} HTTP/1.1\r\nhost: {}\r\ncontent-type: application/json\r\nkonbini-terminal: {terminal}\r\nkonbini-signature: {signature}\r\ncontent-length: {len}\r\n\r\n",
        net.url.strip_prefix("http://").unwrap()
    )
}

#[test]
fn uploads_are_refused_before_their_body_when_the_headers_cannot_be_a_terminals() {
    let dir = tempdir();
    let net = Net::start(&dir.path().join("net.db"), &[]);
    let t = Utc::now().timestamp();
    let stale = sign("secret-one", t - 301, "POST", CONFIRMATIONS, b"");
    let fresh_unknown = sign("whatever", t, "POST", CONFIRMATIONS, b"");
    let mut messages = Vec::new();
    for (terminal, sig) in [
        ("reg-9", fresh_unknown.as_str()),
        ("reg-1", stale.as_str()),
        ("reg-1", "t=0"),
        ("", ""),
    ] {
        // A megabyte declared, not a byte of it sent: the answer comes all the same.
        let mut s = connect(&net);
        s.write_all(upload_head(&net, terminal, sig, 1_000_000).as_bytes())
            .unwrap();
        let (status, _, body) = read_answer(&mut s);
        assert_eq!(status, 401, "{terminal} {sig}: {body}");
        messages.push(json_error(&body)["error"]["message"].clone());
    }
    messages.dedup();
    assert_eq!(
        messages.len(),
        1,
        "one message for every failure: {messages:?}"
    );

    // A known terminal's well-formed, fresh header may need its body to be judged: at most
    // eight of its uploads are read at once, and a ninth is refused at once, before its body.
    let wrong = sign("not-the-secret", t, "POST", CONFIRMATIONS, b"x");
    let mut held = Vec::new();
    for _ in 0..8 {
        let mut s = connect(&net);
        s.write_all(upload_head(&net, "reg-1", &wrong, 1_000_000).as_bytes())
            .unwrap();
        s.write_all(&[b' '; 10]).unwrap();
        held.push(s);
    }
    // The eight are being read once the network says so.
    until("the eight uploads are being read", || {
        net.get("/health").1["uploads"] == 8
    });
    let mut third = connect(&net);
    third
        .write_all(upload_head(&net, "reg-1", &wrong, 1_000_000).as_bytes())
        .unwrap();
    let (status, _, body) = read_answer(&mut third);
    assert_eq!(status, 429, "{body}");
    assert_eq!(json_error(&body)["error"]["code"], "too_many_uploads");
    // Another terminal is not held up by them.
    let (s, v) = net.terminal(1, "POST", CONFIRMATIONS, &json!({"confirmations": []}));
    assert_eq!(s, 200, "{v}");
    // An upload finished with the wrong MAC is a 401 with the same message, and frees its slot.
    let mut first = held.remove(0);
    first.write_all(&vec![b' '; 1_000_000 - 10]).unwrap();
    let (status, _, body) = read_answer(&mut first);
    assert_eq!(status, 401, "{body}");
    assert_eq!(json_error(&body)["error"]["message"], messages[0]);
    let (s, v) = net.terminal(0, "POST", CONFIRMATIONS, &json!({"confirmations": []}));
    assert_eq!(s, 200, "a slot is free again: {v}");
}

#[test]
fn half_sent_heads_silent_connections_and_stalled_bodies_are_closed() {
    let dir = tempdir();
    let net = Net::start(
        &dir.path().join("net.db"),
        &["--idle-timeout", "1", "--body-timeout", "1"],
    );
    // A head never finished.
    let mut half = connect(&net);
    half.write_all(b"GET /health HTTP/1.1\r\nhost: x\r\nx-slow: ")
        .unwrap();
    // A connection that never says anything.
    let mut silent = connect(&net);
    // A keep-alive connection after one answered request.
    let mut kept = connect(&net);
    kept.write_all(b"GET /health HTTP/1.1\r\nhost: x\r\n\r\n")
        .unwrap();
    let (status, _, _) = read_answer(&mut kept);
    assert_eq!(status, 200);
    assert!(closed_by_server(&mut half), "a half-sent head is closed");
    assert!(
        closed_by_server(&mut silent),
        "a silent connection is closed"
    );
    assert!(
        closed_by_server(&mut kept),
        "an idle keep-alive connection is closed"
    );
    // A body that stops coming is a 408 with a JSON body.
    let mut stalled = connect(&net);
    stalled
        .write_all(
            format!(
                "POST /v1/payment_intents HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {}\r\ncontent-type: application/x-www-form-urlencoded\r\ncontent-length: 100\r\n\r\namount=12",
                crate::network::KEY
            )
            .as_bytes(),
        )
        .unwrap();
    let (status, _, body) = read_answer(&mut stalled);
    assert_eq!(status, 408, "{body}");
    assert_eq!(json_error(&body)["error"]["type"], "invalid_request_error");
    // The network still answers.
    assert_eq!(net.get("/v1/test_helpers/clock").0, 200);
}

#[test]
fn connections_past_the_cap_get_a_503_and_the_rest_keep_working() {
    let dir = tempdir();
    let net = Net::start(&dir.path().join("net.db"), &["--max-connections", "3"]);
    // Three connections hold the three slots (the test's own client holds none yet: each
    // of these has been accepted once it is answered).
    let mut held = Vec::new();
    for _ in 0..3 {
        let mut s = connect(&net);
        s.write_all(b"GET /health HTTP/1.1\r\nhost: x\r\n\r\n")
            .unwrap();
        assert_eq!(read_answer(&mut s).0, 200);
        held.push(s);
    }
    let mut over = connect(&net);
    over.write_all(b"GET /health HTTP/1.1\r\nhost: x\r\n\r\n")
        .unwrap();
    let (status, head, body) = read_answer(&mut over);
    assert_eq!(status, 503, "{body}");
    assert!(head.contains("retry-after: 1"), "{head}");
    let v = json_error(&body);
    assert_eq!(v["error"]["code"], "too_many_connections", "{v}");
    assert!(v["error"]["message"].as_str().unwrap().contains('3'), "{v}");
    // The held ones still work.
    held[0]
        .write_all(b"GET /health HTTP/1.1\r\nhost: x\r\n\r\n")
        .unwrap();
    assert_eq!(read_answer(&mut held[0]).0, 200);
    // Closing one frees its slot: a new connection is served once the network has seen it
    // close (retried until then; each try is answered, 503 or 200).
    drop(held.pop());
    let mut served = false;
    for _ in 0..200 {
        let mut s = connect(&net);
        s.write_all(b"GET /health HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
            .unwrap();
        match read_answer(&mut s).0 {
            200 => {
                served = true;
                break;
            }
            503 => std::thread::sleep(Duration::from_millis(20)),
            other => panic!("status {other}"),
        }
    }
    assert!(served, "a freed slot is used again");
}

#[test]
fn protocol_errors_have_json_bodies() {
    let dir = tempdir();
    let net = Net::start(&dir.path().join("net.db"), &[]);
    let huge_header = format!(
        "GET /health HTTP/1.1\r\nhost: x\r\nx-big: {}\r\n\r\n",
        "a".repeat(70 * 1024)
    );
    for (request, want) in [
        ("NOT HTTP AT ALL\r\n\r\n".to_owned(), 400),
        ("GET /health HTTP/9.9\r\nhost: x\r\n\r\n".to_owned(), 400),
        ("GET /he\x7fllo HTTP/1.1\r\nhost: x\r\n\r\n".to_owned(), 400),
        (huge_header, 431),
    ] {
        let mut s = connect(&net);
        s.write_all(request.as_bytes()).unwrap();
        let (status, head, body) = read_answer(&mut s);
        assert_eq!(status, want, "{head}{body}");
        assert!(head.contains("content-type: application/json"), "{head}");
        let v = json_error(&body);
        assert_eq!(v["error"]["type"], "invalid_request_error", "{v}");
    }
    for path in ["/v1", "/v1/", "/nothing"] {
        let (s, v) = net.get(path);
        assert_eq!(s, 404, "{path}: {v}");
        assert_eq!(v["error"]["type"], "invalid_request_error", "{path}: {v}");
    }
}

#[test]
fn paid_at_is_judged_in_the_networks_time() {
    let dir = tempdir();
    let net = Net::start(&dir.path().join("net.db"), &[]);
    // Move the network's clock a day ahead of the wall clock: its time, not the wall
    // clock, judges.
    net.advance(86_400);
    let pi = net.pay(1200, &[]);
    let created = pi["created"].as_i64().unwrap();
    let now = net.now();
    let bar = || json!({"barcode": barcode_of(&pi)});
    let mut slips = vec![
        slip("p-1900", "lawson", 1200, -2_208_988_800, bar()),
        slip("p-year1", "lawson", 1200, -62_135_596_800, bar()),
        // Before the payment existed (by more than the skew allowed).
        slip("p-early", "lawson", 1200, created - 3600, bar()),
        // In the network's future.
        slip("p-future", "lawson", 1200, now + 3600, bar()),
    ];
    // The wall clock's now is a day before the network's: before the payment existed.
    slips.push(slip(
        "p-wall",
        "lawson",
        1200,
        Utc::now().timestamp(),
        bar(),
    ));
    let (s, v) = net.terminal(0, "POST", CONFIRMATIONS, &json!({ "confirmations": slips }));
    assert_eq!(s, 200, "{v}");
    for r in v["results"].as_array().unwrap() {
        assert_eq!(r["status"], "rejected", "{r}");
        assert!(
            r["reason"].as_str().unwrap().starts_with("invalid_paid_at"),
            "{r}"
        );
    }
    let (_, still) = net.get(&format!(
        "/v1/payment_intents/{}",
        pi["id"].as_str().unwrap()
    ));
    assert_eq!(still["status"], "requires_action", "nothing was paid");
    // Within the skew allowance, in the network's time: accepted, and the funds become
    // available on a business day after the payment, never before it.
    let ok = slip("p-ok", "lawson", 1200, now + 60, bar());
    let (_, v) = net.terminal(0, "POST", CONFIRMATIONS, &json!({ "confirmations": [ok] }));
    assert_eq!(v["results"][0]["status"], "accepted", "{v}");
    let paid = net.wait_pi(pi["id"].as_str().unwrap(), |v| v["status"] == "succeeded");
    let charge = paid["latest_charge"].as_str().unwrap();
    let (s, c) = net.get(&format!(
        "/v1/charges/{charge}?expand[]=balance_transaction"
    ));
    assert_eq!(s, 200, "{c}");
    let available_on = c["balance_transaction"]["available_on"].as_i64().unwrap();
    assert!(available_on > now, "{c}");
}

#[test]
fn slip_ids_are_scoped_to_their_terminal() {
    let dir = tempdir();
    let net = Net::start(&dir.path().join("net.db"), &[]);
    let a = net.pay(1200, &[]);
    let b = net.pay(1500, &[]);
    let now = net.now();
    // reg-2 confirms its slip under the id reg-1's journal will use next.
    let (_, v) = net.terminal(
        1,
        "POST",
        CONFIRMATIONS,
        &json!({"confirmations": [slip("J1-7-0", "lawson", 1200, now, json!({"barcode": barcode_of(&a)}))]}),
    );
    assert_eq!(v["results"][0]["status"], "accepted", "{v}");
    // reg-1's real slip under that id is its own: accepted, not idempotency_mismatch.
    let (_, v) = net.terminal(
        0,
        "POST",
        CONFIRMATIONS,
        &json!({"confirmations": [slip("J1-7-0", "lawson", 1500, now, json!({"barcode": barcode_of(&b)}))]}),
    );
    assert_eq!(v["results"][0]["status"], "accepted", "{v}");
    // Each terminal's resend is still a duplicate of its own.
    let (_, v) = net.terminal(
        0,
        "POST",
        CONFIRMATIONS,
        &json!({"confirmations": [slip("J1-7-0", "lawson", 1500, now, json!({"barcode": barcode_of(&b)}))]}),
    );
    assert_eq!(v["results"][0]["status"], "duplicate", "{v}");
}

#[test]
fn the_clock_moves_only_where_vouchers_can_be_issued() {
    let dir = tempdir();
    let net = Net::start(&dir.path().join("net.db"), &[]);
    for (param, value) in [
        ("now", "4102444800"), // 2100-01-01
        ("now", "946684799"),  // 1999-12-31T23:59:59Z
        ("advance_seconds", "4000000000"),
        ("advance_seconds", "-2000000000"),
    ] {
        let (s, v) = net.post("/v1/test_helpers/clock", &[(param, value)]);
        assert_eq!(s, 400, "{param}={value}: {v}");
        assert_eq!(v["error"]["type"], "invalid_request_error", "{v}");
        assert_eq!(v["error"]["param"], param, "{v}");
    }
    // At the bounds, a payment can still be made.
    for t in ["946684800", "4094496000"] {
        let (s, v) = net.post("/v1/test_helpers/clock", &[("now", t)]);
        assert_eq!(s, 200, "{v}");
        let pi = net.pay(
            1200,
            &[("payment_method_options[konbini][expires_after_days]", "60")],
        );
        assert_eq!(pi["status"], "requires_action", "{pi}");
    }
}

#[test]
fn metadata_limits_and_the_idempotency_fingerprint_are_stripes() {
    let dir = tempdir();
    let net = Net::start(&dir.path().join("net.db"), &[]);
    let base = [("currency", "jpy"), ("payment_method_types[0]", "konbini")];
    let keys: Vec<(String, String)> = (0..51)
        .map(|i| (format!("metadata[k{i}]"), "v".to_owned()))
        .collect();
    let long_key = format!("metadata[{}]", "k".repeat(41));
    let long_value = "値".repeat(501);
    let cases: Vec<Vec<(&str, &str)>> = vec![
        keys.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect(),
        vec![(long_key.as_str(), "v")],
        vec![("metadata[order]", long_value.as_str())],
    ];
    for extra in cases {
        let mut form = vec![("amount", "1200")];
        form.extend_from_slice(&base);
        form.extend_from_slice(&extra);
        let (s, v) = net.post("/v1/payment_intents", &form);
        assert_eq!(s, 400, "{v}");
        assert_eq!(v["error"]["type"], "invalid_request_error", "{v}");
        assert_eq!(v["error"]["param"], "metadata", "{v}");
    }
    // Up to the limits is fine (characters, not bytes).
    let at_key = "k".repeat(40);
    let at_value = "値".repeat(500);
    let mut form = vec![("amount", "1200")];
    form.extend_from_slice(&base);
    let k = format!("metadata[{at_key}]");
    form.push((k.as_str(), at_value.as_str()));
    let (s, v) = net.post("/v1/payment_intents", &form);
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["metadata"][at_key.as_str()], at_value);

    // A repeated key: the last value wins, and the order of the values is part of the
    // request. 999999 then 1200 is a valid request of 1,200 yen...
    let mut first = vec![("amount", "999999"), ("amount", "1200")];
    first.extend_from_slice(&base);
    let (s, v) = net.post_with("/v1/payment_intents", &first, Some("key-order"));
    assert_eq!((s, v["amount"].as_i64()), (200, Some(1200)), "{v}");
    // ...and 1200 then 999999 under the same key is another request: refused, not replayed.
    let mut second = vec![("amount", "1200"), ("amount", "999999")];
    second.extend_from_slice(&base);
    let (s, v) = net.post_with("/v1/payment_intents", &second, Some("key-order"));
    assert_eq!(s, 400, "{v}");
    assert_eq!(v["error"]["type"], "idempotency_error", "{v}");
}
