//! The payment network simulator over real HTTP: the real `konbini network` binary on a
//! loopback port with its own SQLite file, driven as a merchant (form bodies, bearer key),
//! as registers (signed terminal requests) and as a webhook endpoint (a TCP server here
//! whose signatures are checked by Python's `hmac`, an implementation independent of ours).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use konbini_domain::{BillBarcode, Deadline};
use konbini_protocol::sign;
use serde_json::{Value, json};

use crate::common::{konbini, tempdir};

pub const KEY: &str = "sk_test_it";
pub const TERMINALS: [(&str, &str); 2] = [("reg-1", "secret-one"), ("reg-2", "secret-two")];

/// A running `konbini network`; killed when dropped.
pub struct Net {
    child: Child,
    pub url: String,
    http: reqwest::blocking::Client,
}

impl Drop for Net {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Net {
    pub fn start(db: &Path, extra: &[&str]) -> Net {
        let mut cmd = konbini();
        cmd.args(["network", "--listen", "127.0.0.1:0", "--db"])
            .arg(db)
            .args(["--api-key", KEY]);
        for (id, secret) in TERMINALS {
            cmd.arg("--terminal").arg(format!("{id}={secret}"));
        }
        let mut child = cmd
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start konbini network");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("first line is {line:?}"))
            .to_owned();
        Net {
            child,
            url,
            http: reqwest::blocking::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
        }
    }

    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn answer(r: reqwest::blocking::Response) -> (u16, Value) {
        let status = r.status().as_u16();
        let text = r.text().unwrap();
        let v = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("status {status}: not JSON ({e}): {text}"));
        (status, v)
    }

    /// A merchant POST with a form body (`key=value` pairs, sent percent-encoded).
    pub fn post(&self, path: &str, form: &[(&str, &str)]) -> (u16, Value) {
        self.post_with(path, form, None)
    }

    pub fn post_with(&self, path: &str, form: &[(&str, &str)], key: Option<&str>) -> (u16, Value) {
        let body: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let mut req = self
            .http
            .post(format!("{}{path}", self.url))
            .bearer_auth(KEY)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body);
        if let Some(k) = key {
            req = req.header("Idempotency-Key", k);
        }
        Net::answer(req.send().unwrap())
    }

    pub fn get(&self, path: &str) -> (u16, Value) {
        Net::answer(
            self.http
                .get(format!("{}{path}", self.url))
                .bearer_auth(KEY)
                .send()
                .unwrap(),
        )
    }

    pub fn raw(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> (u16, Value) {
        let mut req = self
            .http
            .request(method.parse().unwrap(), format!("{}{path}", self.url))
            .body(body);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        Net::answer(req.send().unwrap())
    }

    /// A signed terminal request.
    pub fn terminal(
        &self,
        terminal: usize,
        method: &str,
        path: &str,
        body: &Value,
    ) -> (u16, Value) {
        let (id, secret) = TERMINALS[terminal];
        let bytes = if method == "GET" {
            Vec::new()
        } else {
            body.to_string().into_bytes()
        };
        let t = Utc::now().timestamp();
        let sig = sign(secret, t, method, path, &bytes);
        self.raw(
            method,
            path,
            &[
                ("Konbini-Terminal", id),
                ("Konbini-Signature", &sig),
                ("content-type", "application/json"),
            ],
            bytes,
        )
    }

    /// The network's clock.
    /// A new customer's id.
    pub fn customer(&self, name: &str) -> String {
        let (s, c) = self.post("/v1/customers", &[("name", name)]);
        assert_eq!(s, 200, "{c}");
        c["id"].as_str().unwrap().to_owned()
    }

    pub fn now(&self) -> i64 {
        self.get("/v1/test_helpers/clock").1["now"]
            .as_i64()
            .unwrap()
    }

    pub fn advance(&self, seconds: i64) {
        let (s, v) = self.post(
            "/v1/test_helpers/clock",
            &[("advance_seconds", &seconds.to_string())],
        );
        assert_eq!(s, 200, "{v}");
    }

    /// Create and confirm a konbini payment of `amount` yen.
    pub fn pay(&self, amount: i64, extra: &[(&str, &str)]) -> Value {
        let amount = amount.to_string();
        let mut form = vec![
            ("amount", amount.as_str()),
            ("currency", "jpy"),
            ("payment_method_types[0]", "konbini"),
            ("confirm", "true"),
            ("payment_method_data[type]", "konbini"),
            ("payment_method_data[billing_details][name]", "山田 太郎"),
            (
                "payment_method_data[billing_details][email]",
                "taro@example.jp",
            ),
        ];
        form.extend_from_slice(extra);
        let (s, v) = self.post("/v1/payment_intents", &form);
        assert_eq!(s, 200, "{v}");
        v
    }

    /// Wait (up to 10 s) until `check` holds for the payment.
    pub fn wait_pi(&self, id: &str, check: impl Fn(&Value) -> bool) -> Value {
        let start = Instant::now();
        loop {
            let (_, v) = self.get(&format!("/v1/payment_intents/{id}"));
            if check(&v) {
                return v;
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "payment never got there: {v}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// The payment code and confirmation number at `chain`.
pub fn codes(pi: &Value, chain: &str) -> (String, String) {
    let s = &pi["next_action"]["konbini_display_details"]["stores"][chain];
    (
        s["payment_code"].as_str().unwrap().to_owned(),
        s["confirmation_number"].as_str().unwrap().to_owned(),
    )
}

pub fn barcode_of(pi: &Value) -> String {
    pi["next_action"]["konbini_display_details"]["barcode"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// One confirmation as a register sends it.
pub fn slip(id: &str, chain: &str, amount: i64, paid_at: i64, pay: Value) -> Value {
    let mut v = json!({
        "id": id,
        "store": "0042",
        "chain": chain,
        "paid_at": DateTime::<Utc>::from_timestamp(paid_at, 0).unwrap().to_rfc3339(),
        "amount": amount,
    });
    for (k, val) in pay.as_object().unwrap() {
        v[k] = val.clone();
    }
    v
}

fn confirm(net: &Net, terminal: usize, slips: Vec<Value>) -> Vec<Value> {
    let (s, v) = net.terminal(
        terminal,
        "POST",
        "/terminal/v1/confirmations",
        &json!({ "confirmations": slips }),
    );
    assert_eq!(s, 200, "{v}");
    v["results"].as_array().unwrap().clone()
}

/// A webhook endpoint on loopback: records (signature header, body) and answers 500 to the
/// first `fail_first` requests, then 200.
pub struct Hook {
    pub url: String,
    pub got: Arc<Mutex<Vec<(String, String)>>>,
}

impl Hook {
    pub fn start(fail_first: usize) -> Hook {
        Hook::start_at("127.0.0.1:0", fail_first)
    }

    /// A hook listening at `addr` (a fixed port: an endpoint that comes back).
    pub fn start_at(addr: &str, fail_first: usize) -> Hook {
        let listener = TcpListener::bind(addr).unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let got = Arc::new(Mutex::new(Vec::new()));
        let g = got.clone();
        std::thread::spawn(move || {
            let mut served = 0;
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut sig = String::new();
                let mut len = 0usize;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    let lower = line.to_ascii_lowercase();
                    if let Some(v) = lower.strip_prefix("content-length:") {
                        len = v.trim().parse().unwrap_or(0);
                    }
                    if lower.starts_with("stripe-signature:") {
                        sig = line["stripe-signature:".len()..].trim().to_owned();
                    }
                }
                let mut body = vec![0; len];
                if reader.read_exact(&mut body).is_err() {
                    continue;
                }
                served += 1;
                let status = if served <= fail_first {
                    "500 Internal Server Error"
                } else {
                    "200 OK"
                };
                if served > fail_first {
                    g.lock()
                        .unwrap()
                        .push((sig, String::from_utf8(body).unwrap()));
                }
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                );
            }
        });
        Hook { url, got }
    }

    /// Wait (up to 20 s) until an event of this type arrived; return (signature, body).
    pub fn wait_for(&self, event_type: &str, object_id: &str) -> (String, Value) {
        let start = Instant::now();
        loop {
            for (sig, body) in self.got.lock().unwrap().iter() {
                let v: Value = serde_json::from_str(body).unwrap();
                if v["type"] == event_type && v["data"]["object"]["id"] == object_id {
                    return (sig.clone(), v);
                }
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "no {event_type} for {object_id}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Every delivered (signature, raw body).
    pub fn all(&self) -> Vec<(String, String)> {
        self.got.lock().unwrap().clone()
    }
}

/// Verify a Stripe-Signature with Python's hmac, as Stripe's libraries do: HMAC-SHA256 of
/// "<t>.<body>" under the whole whsec_ secret, hex, any v1 matching.
fn python_verifies(secret: &str, header: &str, body: &str) -> bool {
    let script = r#"
import hmac, hashlib, sys
secret, header, body = sys.argv[1], sys.argv[2], sys.stdin.buffer.read()
parts = [p.split("=", 1) for p in header.split(",")]
t = [v for k, v in parts if k == "t"][0]
sigs = [v for k, v in parts if k == "v1"]
mac = hmac.new(secret.encode(), t.encode() + b"." + body, hashlib.sha256).hexdigest()
sys.exit(0 if any(hmac.compare_digest(mac, s) for s in sigs) else 1)
"#;
    let mut child = std::process::Command::new("python3")
        .args(["-c", script, secret, header])
        .stdin(Stdio::piped())
        .spawn()
        .expect("python3");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(body.as_bytes())
        .unwrap();
    child.wait().unwrap().success()
}

/// Read the SVG's bar rectangles back into module widths and decode them as Code 128.
fn decode_svg_barcode(svg: &str) -> String {
    let mut bars: Vec<(u32, u32)> = Vec::new();
    for part in svg.split("<rect ").skip(2) {
        let attr = |name: &str| -> u32 {
            let i = part.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
            part[i..].split('"').next().unwrap().parse().unwrap()
        };
        bars.push((attr("x"), attr("width")));
    }
    let module = bars.iter().map(|b| b.1).min().unwrap();
    let mut widths = Vec::new();
    for (i, (x, w)) in bars.iter().enumerate() {
        if i > 0 {
            let (px, pw) = bars[i - 1];
            widths.push(((x - px - pw) / module) as u8);
        }
        widths.push((w / module) as u8);
    }
    let mut values = [0u8; 40];
    let n = konbini_firmware::code128::decode_widths(&widths, &mut values).expect("readable bars");
    assert_eq!(values[0], konbini_firmware::code128::START_C);
    assert_eq!(values[1], konbini_firmware::code128::FNC1);
    values[2..n].iter().map(|v| format!("{v:02}")).collect()
}

#[test]
fn a_konbini_payment_goes_from_voucher_to_paid_to_refunded() {
    let dir = tempdir();
    let net = Net::start(&dir.path().join("net.db"), &[]);
    let hook = Hook::start(2); // the first two deliveries fail: retried until a 2xx
    let (s, ep) = net.post(
        "/v1/webhook_endpoints",
        &[("url", &hook.url), ("enabled_events[]", "*")],
    );
    assert_eq!(s, 200, "{ep}");
    let secret = ep["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"));

    let pi = net.pay(
        52_000,
        &[(
            "payment_method_options[konbini][product_description]",
            "ご注文の商品",
        )],
    );
    let id = pi["id"].as_str().unwrap().to_owned();
    assert_eq!(pi["status"], "requires_action");
    assert_eq!(pi["next_action"]["type"], "konbini_display_details");
    let details = &pi["next_action"]["konbini_display_details"];
    let expires_at = details["expires_at"].as_i64().unwrap();
    for chain in ["familymart", "lawson", "ministop", "seicomart"] {
        let (code, number) = codes(&pi, chain);
        assert_eq!(code.len(), 6, "{code}");
        assert_eq!(number.len(), 11, "{number}");
    }
    // The barcode: this network's biller code, the amount, the stamp flag, the deadline.
    let barcode = BillBarcode::parse(&barcode_of(&pi)).expect("a valid bill barcode");
    assert_eq!(barcode.company_code(), "958001");
    assert_eq!(barcode.amount().get(), 52_000);
    assert!(barcode.needs_stamp(), "52,000 yen needs a revenue stamp");
    let deadline = konbini_domain::time::business_date(
        &DateTime::<Utc>::from_timestamp(expires_at, 0).unwrap(),
    );
    assert_eq!(barcode.deadline(), Deadline::On(deadline));
    // Expiry defaults to 23:59:59 JST.
    assert_eq!((expires_at + 9 * 3600) % 86_400, 86_399);

    // The hosted voucher: Japanese, English on request, codes, and a barcode that decodes.
    let url = details["hosted_voucher_url"].as_str().unwrap();
    let page = reqwest::blocking::get(url).unwrap().text().unwrap();
    assert!(page.contains("¥52,000"), "{page}");
    assert!(page.contains("お支払い期限"));
    assert!(page.contains(&codes(&pi, "lawson").0));
    let svg = &page[page.find("<svg").unwrap()..page.find("</svg>").unwrap() + 6];
    assert_eq!(decode_svg_barcode(svg), barcode.as_str());
    let en = reqwest::blocking::get(format!("{url}?lang=en"))
        .unwrap()
        .text()
        .unwrap();
    assert!(en.contains("Pay by") && en.contains("Payment code"));

    // A register keys in the Lawson code: look-up, then confirmation.
    let (code, number) = codes(&pi, "lawson");
    let (s, found) = net.terminal(
        0,
        "GET",
        &format!(
            "/terminal/v1/lookup?chain=lawson&payment_code={code}&confirmation_number={number}"
        ),
        &Value::Null,
    );
    assert_eq!(s, 200, "{found}");
    assert_eq!(found["payment"], id.as_str());
    assert_eq!(found["amount"], 52_000);
    assert_eq!(found["description"], "ご注文の商品");
    let paid_at = net.now();
    let pay = json!({"payment_code": code, "confirmation_number": number});
    let results = confirm(
        &net,
        0,
        vec![slip("j1-1-0", "lawson", 52_000, paid_at, pay.clone())],
    );
    assert_eq!(results[0]["status"], "accepted", "{results:?}");
    // The same slip again: duplicate. Another slip for the paid payment: conflict.
    let again = confirm(
        &net,
        0,
        vec![slip("j1-1-0", "lawson", 52_000, paid_at, pay.clone())],
    );
    assert_eq!(again[0]["status"], "duplicate");
    let other = confirm(
        &net,
        1,
        vec![slip("j2-7-0", "lawson", 52_000, paid_at, pay.clone())],
    );
    assert_eq!(other[0]["status"], "conflict");
    assert_eq!(other[0]["reason"], "already_paid");
    // The same id with other content: rejected.
    let changed = confirm(
        &net,
        0,
        vec![slip("j1-1-0", "lawson", 52_000, paid_at + 5, pay)],
    );
    assert_eq!(changed[0]["status"], "rejected");
    assert_eq!(changed[0]["reason"], "idempotency_mismatch");
    // The paid code is no longer payable.
    let (s, gone) = net.terminal(
        0,
        "GET",
        &format!(
            "/terminal/v1/lookup?chain=lawson&payment_code={code}&confirmation_number={number}"
        ),
        &Value::Null,
    );
    assert_eq!(
        (s, gone["error"]["status"].as_str()),
        (409, Some("succeeded"))
    );

    // Succeeded, with the chain and a payout date four business days on.
    let (_, paid) = net.get(&format!(
        "/v1/payment_intents/{id}?expand[]=latest_charge.balance_transaction"
    ));
    assert_eq!(paid["status"], "succeeded");
    assert_eq!(paid["amount_received"], 52_000);
    let charge = &paid["latest_charge"];
    assert_eq!(
        charge["payment_method_details"]["konbini"]["store"]["chain"],
        "lawson"
    );
    let txn = &charge["balance_transaction"];
    let expect = konbini_network::business_days::available_on(
        DateTime::<Utc>::from_timestamp(paid_at, 0).unwrap(),
    );
    assert_eq!(txn["available_on"], expect);
    assert_eq!(txn["status"], "pending");

    // Webhooks: each event once, signed so an independent HMAC accepts it.
    for ty in ["payment_intent.requires_action", "payment_intent.succeeded"] {
        let (sig, body) = hook.wait_for(ty, &id);
        let raw = body.to_string();
        let original = hook
            .all()
            .into_iter()
            .find(|(_, b)| serde_json::from_str::<Value>(b).unwrap() == body)
            .unwrap();
        assert!(python_verifies(&secret, &sig, &original.1), "{ty}: {sig}");
        assert!(!python_verifies("whsec_wrong", &sig, &original.1));
        assert!(!raw.is_empty());
    }
    let (_, events) = net.get("/v1/events?limit=100");
    let types: Vec<&str> = events["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert!(types.contains(&"charge.succeeded"), "{types:?}");

    // Refunds: partial, too much, bank details, success; and a 45-day failure.
    let (s, r1) = net.post(
        "/v1/refunds",
        &[("payment_intent", &id), ("amount", "2000")],
    );
    assert_eq!(s, 200, "{r1}");
    assert_eq!(r1["status"], "requires_action");
    assert_eq!(
        r1["next_action"]["display_details"]["email_sent"]["email_sent_to"],
        "taro@example.jp"
    );
    let (s, too_much) = net.post(
        "/v1/refunds",
        &[("payment_intent", &id), ("amount", "50001")],
    );
    assert_eq!(
        (s, too_much["error"]["code"].as_str()),
        (400, Some("amount_too_large"))
    );
    assert_eq!(too_much["error"]["param"], "amount");
    let r1_id = r1["id"].as_str().unwrap();
    // The customer's page takes the bank account.
    let page_url = r1["next_action"]["display_details"]["bank_details_url"]
        .as_str()
        .unwrap();
    let form = reqwest::blocking::Client::new()
        .post(page_url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("routing_number=1100000&account_number=0001234")
        .send()
        .unwrap();
    assert_eq!(form.status().as_u16(), 200);
    let start = Instant::now();
    loop {
        let (_, r) = net.get(&format!("/v1/refunds/{r1_id}"));
        if r["status"] == "succeeded" {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "{r}");
        std::thread::sleep(Duration::from_millis(50));
    }
    let (_, r2) = net.post(
        "/v1/refunds",
        &[("payment_intent", &id), ("amount", "10000")],
    );
    assert_eq!(r2["status"], "requires_action");
    net.advance(45 * 86_400 + 5);
    let r2_id = r2["id"].as_str().unwrap();
    let start = Instant::now();
    loop {
        let (_, r) = net.get(&format!("/v1/refunds/{r2_id}"));
        if r["status"] == "failed" {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "{r}");
        std::thread::sleep(Duration::from_millis(50));
    }
    // The failed refund gave its amount back: 50,000 yen may still be refunded.
    let (_, ch) = net.get(&format!("/v1/charges/{}", charge["id"].as_str().unwrap()));
    assert_eq!(ch["amount_refunded"], 2000);
    let (_, txn_now) = net.get(&format!(
        "/v1/balance_transactions/{}",
        txn["id"].as_str().unwrap()
    ));
    assert_eq!(
        txn_now["status"], "available",
        "45 days later the funds are available"
    );
    hook.wait_for("refund.failed", r2_id);
}

#[test]
fn vouchers_expire_by_the_clock_and_late_confirmations_are_judged_by_paid_at() {
    let dir = tempdir();
    let net = Net::start(&dir.path().join("net.db"), &["--expiry-grace", "3600"]);
    let hook = Hook::start(0);
    net.post(
        "/v1/webhook_endpoints",
        &[
            ("url", &hook.url),
            ("enabled_events[0]", "payment_intent.payment_failed"),
        ],
    );
    let a = net.pay(
        1200,
        &[("payment_method_options[konbini][expires_after_days]", "1")],
    );
    let b = net.pay(
        1300,
        &[("payment_method_options[konbini][expires_after_days]", "1")],
    );
    let expires_at = a["next_action"]["konbini_display_details"]["expires_at"]
        .as_i64()
        .unwrap();
    let now = net.now();
    // Past the deadline and the hour of grace.
    net.advance(expires_at - now + 3601);
    let a_id = a["id"].as_str().unwrap();
    let failed = net.wait_pi(a_id, |v| v["status"] == "requires_payment_method");
    assert_eq!(
        failed["last_payment_error"]["code"],
        "payment_intent_payment_attempt_expired"
    );
    assert!(failed["next_action"].is_null());
    hook.wait_for("payment_intent.payment_failed", a_id);
    // A kiosk can no longer start it.
    let (code, number) = codes(&a, "familymart");
    let (s, v) = net.terminal(
        1,
        "GET",
        &format!(
            "/terminal/v1/lookup?chain=familymart&payment_code={code}&confirmation_number={number}"
        ),
        &Value::Null,
    );
    assert_eq!((s, v["error"]["status"].as_str()), (409, Some("expired")));
    // A store that took the cash before the deadline (offline until now) is credited...
    let late = confirm(
        &net,
        0,
        vec![slip(
            "late-1",
            "familymart",
            1200,
            expires_at - 60,
            json!({"barcode": barcode_of(&a)}),
        )],
    );
    assert_eq!(late[0]["status"], "accepted", "{late:?}");
    net.wait_pi(a_id, |v| v["status"] == "succeeded");
    // ...one that took it after the grace is a conflict: cash the network will not credit.
    let too_late = confirm(
        &net,
        0,
        vec![slip(
            "late-2",
            "familymart",
            1300,
            expires_at + 3700,
            json!({"barcode": barcode_of(&b)}),
        )],
    );
    assert_eq!(too_late[0]["status"], "conflict");
    assert_eq!(too_late[0]["reason"], "expired");
}

#[test]
fn stripe_test_mode_magic_values_behave_as_documented() {
    let dir = tempdir();
    let net = Net::start(&dir.path().join("net.db"), &[]);
    let quick = net.pay(
        2000,
        &[(
            "payment_method_data[billing_details][email]",
            "ok+succeed_immediately@example.jp",
        )],
    );
    net.wait_pi(quick["id"].as_str().unwrap(), |v| {
        v["status"] == "succeeded"
    });
    let expire = net.pay(
        2000,
        &[(
            "payment_method_options[konbini][confirmation_number]",
            "33333333330",
        )],
    );
    net.wait_pi(expire["id"].as_str().unwrap(), |v| {
        v["status"] == "requires_payment_method"
    });
    let delayed = net.pay(
        2000,
        &[(
            "payment_method_options[konbini][confirmation_number]",
            "11111111110",
        )],
    );
    let delayed_id = delayed["id"].as_str().unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        net.get(&format!("/v1/payment_intents/{delayed_id}")).1["status"],
        "requires_action"
    );
    net.advance(181);
    let paid = net.wait_pi(delayed_id, |v| v["status"] == "succeeded");
    assert!(paid["latest_charge"].is_string());
    // A plain email waits for a store (autopay is off by default).
    let plain = net.pay(2000, &[]);
    net.advance(600);
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        net.get(&format!(
            "/v1/payment_intents/{}",
            plain["id"].as_str().unwrap()
        ))
        .1["status"],
        "requires_action"
    );
    let (s, v) = net.post(
        "/v1/payment_intents",
        &[
            ("amount", "2000"),
            ("currency", "jpy"),
            ("confirm", "true"),
            ("payment_method_data[billing_details][name]", "A"),
            ("payment_method_data[billing_details][email]", "a@b.jp"),
            (
                "payment_method_options[konbini][confirmation_number]",
                "01234567890",
            ),
        ],
    );
    assert_eq!(s, 400);
    assert_eq!(
        v["error"]["code"],
        "payment_intent_konbini_rejected_confirmation_number"
    );
}

#[test]
fn bad_merchant_requests_get_stripe_shaped_errors_never_a_500() {
    let dir = tempdir();
    let net = Net::start(&dir.path().join("net.db"), &[]);
    let base = [("currency", "jpy")];
    let with = |extra: &[(&'static str, &'static str)]| -> Vec<(&'static str, &'static str)> {
        let mut v = base.to_vec();
        if !extra.iter().any(|(k, _)| *k == "amount") {
            v.push(("amount", "1200"));
        }
        v.extend_from_slice(extra);
        v
    };
    // (form, expected code, expected param)
    type Case<'a> = (Vec<(&'a str, &'a str)>, &'a str, &'a str);
    let cases: Vec<Case> = vec![
        (with(&[("surprise", "1")]), "parameter_unknown", "surprise"),
        (
            with(&[(
                "payment_method_options[konbini][tos_shown_and_accepted]",
                "true",
            )]),
            "parameter_unknown",
            "payment_method_options[konbini][tos_shown_and_accepted]",
        ),
        (
            with(&[("amount", "12x")]),
            "parameter_invalid_integer",
            "amount",
        ),
        (
            vec![("amount", "1200"), ("currency", "usd")],
            "payment_intent_invalid_parameter",
            "currency",
        ),
        (vec![("currency", "jpy")], "parameter_missing", "amount"),
        (with(&[("amount", "119")]), "amount_too_small", "amount"),
        (with(&[("amount", "300001")]), "amount_too_large", "amount"),
        (
            with(&[("confirm", "maybe")]),
            "parameter_invalid_boolean",
            "confirm",
        ),
        (
            with(&[("payment_method_options[konbini][expires_after_days]", "61")]),
            "parameter_invalid_integer",
            "payment_method_options[konbini][expires_after_days]",
        ),
        (
            with(&[
                ("payment_method_options[konbini][expires_after_days]", "2"),
                ("payment_method_options[konbini][expires_at]", "4102444800"),
            ]),
            "payment_intent_invalid_parameter",
            "payment_method_options[konbini][expires_at]",
        ),
        (
            with(&[(
                "payment_method_options[konbini][confirmation_number]",
                "12345",
            )]),
            "payment_intent_invalid_parameter",
            "payment_method_options[konbini][confirmation_number]",
        ),
        (
            with(&[(
                "payment_method_options[konbini][confirmation_number]",
                "00000000000",
            )]),
            "payment_intent_invalid_parameter",
            "payment_method_options[konbini][confirmation_number]",
        ),
        (
            with(&[(
                "payment_method_options[konbini][product_description]",
                "あいうえおかきくけこさしすせそたちつてとなにぬ",
            )]),
            "payment_intent_invalid_parameter",
            "payment_method_options[konbini][product_description]",
        ),
        (
            with(&[(
                "payment_method_options[konbini][product_description]",
                "ケーキ🎂",
            )]),
            "payment_intent_invalid_parameter",
            "payment_method_options[konbini][product_description]",
        ),
        (
            with(&[
                ("confirm", "true"),
                ("payment_method_data[billing_details][email]", "a@b.jp"),
            ]),
            "parameter_missing",
            "payment_method_data[billing_details][name]",
        ),
        (
            with(&[
                ("confirm", "true"),
                ("payment_method_data[billing_details][name]", "A"),
            ]),
            "parameter_missing",
            "payment_method_data[billing_details][email]",
        ),
        (
            with(&[("payment_method_types[0]", "card")]),
            "payment_intent_invalid_parameter",
            "payment_method_types",
        ),
    ];
    for (form, code, param) in cases {
        let (s, v) = net.post("/v1/payment_intents", &form);
        assert_eq!(s, 400, "{form:?}: {v}");
        assert_eq!(v["error"]["type"], "invalid_request_error", "{form:?}");
        assert_eq!(v["error"]["code"], code, "{form:?}: {v}");
        assert_eq!(v["error"]["param"], param, "{form:?}: {v}");
        assert!(v["error"]["message"].as_str().unwrap().len() > 10);
    }
    // Keys.
    let (s, v) = net.raw("GET", "/v1/payment_intents", &[], vec![]);
    assert_eq!(s, 401);
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("did not provide an API key")
    );
    let (s, v) = net.raw(
        "GET",
        "/v1/payment_intents",
        &[("authorization", "Bearer sk_test_wrong9876")],
        vec![],
    );
    assert_eq!(s, 401);
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .ends_with("****9876"),
        "{v}"
    );
    // Oversized, malformed and unknown.
    let big = format!(
        "amount=1200&currency=jpy&description={}",
        "x".repeat(200_000)
    );
    let (s, v) = net.raw(
        "POST",
        "/v1/payment_intents",
        &[
            ("authorization", &format!("Bearer {KEY}")),
            ("content-type", "application/x-www-form-urlencoded"),
        ],
        big.into_bytes(),
    );
    assert_eq!(s, 413, "{v}");
    assert_eq!(v["error"]["type"], "invalid_request_error");
    let (s, v) = net.raw(
        "POST",
        "/v1/payment_intents",
        &[("authorization", &format!("Bearer {KEY}"))],
        b"amount[=1&%ff%fe=\x00".to_vec(),
    );
    assert_eq!(s, 400, "{v}");
    let (s, v) = net.get("/v1/payment_intents/pi_nothere");
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (404, Some("resource_missing"))
    );
    let (s, v) = net.get("/v1/checkout/orders");
    assert_eq!(s, 404);
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Unrecognized request URL")
    );
    // State errors: a paid payment cannot be cancelled.
    let pi = net.pay(
        1500,
        &[(
            "payment_method_data[billing_details][email]",
            "x+succeed_immediately@e.jp",
        )],
    );
    let id = pi["id"].as_str().unwrap();
    net.wait_pi(id, |v| v["status"] == "succeeded");
    let (s, v) = net.post(&format!("/v1/payment_intents/{id}/cancel"), &[]);
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (400, Some("payment_intent_unexpected_state"))
    );
}

#[test]
fn idempotency_keys_replay_the_first_answer_and_refuse_other_parameters() {
    let dir = tempdir();
    let net = Net::start(&dir.path().join("net.db"), &[]);
    let form = [("amount", "1200"), ("currency", "jpy")];
    let (s1, a) = net.post_with("/v1/payment_intents", &form, Some("order-17"));
    let (s2, b) = net.post_with("/v1/payment_intents", &form, Some("order-17"));
    assert_eq!((s1, s2), (200, 200));
    assert_eq!(a, b, "the replay is the saved answer");
    let (_, list) = net.get("/v1/payment_intents?limit=100");
    assert_eq!(
        list["data"].as_array().unwrap().len(),
        1,
        "one payment, not two"
    );
    let (s, v) = net.post_with(
        "/v1/payment_intents",
        &[("amount", "1300"), ("currency", "jpy")],
        Some("order-17"),
    );
    assert_eq!(s, 400);
    assert_eq!(v["error"]["type"], "idempotency_error");
    // Validation failures are not saved: the key can be used once the request is right.
    let (s, _) = net.post_with(
        "/v1/payment_intents",
        &[("amount", "1"), ("currency", "jpy")],
        Some("order-18"),
    );
    assert_eq!(s, 400);
    let (s, _) = net.post_with(
        "/v1/payment_intents",
        &[("amount", "1200"), ("currency", "jpy")],
        Some("order-18"),
    );
    assert_eq!(s, 200);
    // Lists page newest first.
    for _ in 0..4 {
        net.post("/v1/payment_intents", &form);
    }
    let (_, page1) = net.get("/v1/payment_intents?limit=2");
    assert_eq!(page1["has_more"], true);
    let last = page1["data"][1]["id"].as_str().unwrap();
    let (_, page2) = net.get(&format!(
        "/v1/payment_intents?limit=10&starting_after={last}"
    ));
    assert_eq!(page2["data"].as_array().unwrap().len(), 4);
    assert_eq!(page2["has_more"], false);
}

/// An error raised while executing is saved under its key in the request's own transaction
/// and replayed, even once the payment has moved on; the failed work kept nothing.
#[test]
fn an_error_raised_while_executing_is_replayed_under_its_key() {
    let dir = tempdir();
    let net = Net::start(&dir.path().join("net.db"), &[]);
    let (s, pi) = net.post(
        "/v1/payment_intents",
        &[
            ("amount", "2000"),
            ("currency", "jpy"),
            ("payment_method_types[0]", "konbini"),
        ],
    );
    assert_eq!(s, 200, "{pi}");
    let confirm = format!("/v1/payment_intents/{}/confirm", pi["id"].as_str().unwrap());
    let rejected = [
        ("payment_method_data[type]", "konbini"),
        ("payment_method_data[billing_details][name]", "A"),
        ("payment_method_data[billing_details][email]", "a@b.jp"),
        (
            "payment_method_options[konbini][confirmation_number]",
            "01234567890",
        ),
    ];
    let (s1, first) = net.post_with(&confirm, &rejected, Some("confirm-1"));
    assert_eq!(s1, 400, "{first}");
    assert_eq!(
        first["error"]["code"],
        "payment_intent_konbini_rejected_confirmation_number"
    );
    let (_, after) = net.get(&format!(
        "/v1/payment_intents/{}",
        pi["id"].as_str().unwrap()
    ));
    assert_eq!(
        after["status"], "requires_payment_method",
        "the failed confirm kept nothing"
    );
    // The payment moves on under another request; the key still answers what it answered.
    let (s, ok) = net.post(&confirm, &rejected[..3]);
    assert_eq!(s, 200, "{ok}");
    assert_eq!(ok["status"], "requires_action");
    let (s2, again) = net.post_with(&confirm, &rejected, Some("confirm-1"));
    assert_eq!((s2, &again), (400, &first), "the saved error, replayed");
}

/// Two clock moves at once both count: the new offset is worked out from the stored one
/// inside the write transaction.
#[test]
fn two_clock_moves_at_once_move_the_clock_twice() {
    let dir = tempdir();
    let net = Net::start(&dir.path().join("net.db"), &[]);
    std::thread::scope(|scope| {
        for _ in 0..2 {
            scope.spawn(|| {
                let (s, v) = net.post("/v1/test_helpers/clock", &[("advance_seconds", "3600")]);
                assert_eq!(s, 200, "{v}");
            });
        }
    });
    let (_, clock) = net.get("/v1/test_helpers/clock");
    assert_eq!(clock["offset_ms"], 7_200_000, "{clock}");
}

#[test]
fn terminal_requests_need_a_fresh_valid_signature() {
    let dir = tempdir();
    let net = Net::start(&dir.path().join("net.db"), &[]);
    let path = "/terminal/v1/confirmations";
    let body = json!({"confirmations": []}).to_string().into_bytes();
    let t = Utc::now().timestamp();
    let good = sign("secret-one", t, "POST", path, &body);
    // Every way of failing reads the same, so terminal ids cannot be found by asking.
    let cases: Vec<Vec<(&str, String)>> = vec![
        vec![],
        vec![("Konbini-Signature", good.clone())],
        vec![
            ("Konbini-Terminal", "reg-9".into()),
            ("Konbini-Signature", good.clone()),
        ],
        vec![
            ("Konbini-Terminal", "reg-1".into()),
            ("Konbini-Signature", sign("guess", t, "POST", path, &body)),
        ],
        vec![
            ("Konbini-Terminal", "reg-1".into()),
            (
                "Konbini-Signature",
                sign("secret-one", t - 301, "POST", path, &body),
            ),
        ],
        vec![
            ("Konbini-Terminal", "reg-1".into()),
            ("Konbini-Signature", format!("t={t},v1=nothex")),
        ],
        vec![
            ("Konbini-Terminal", "reg-2".into()),
            ("Konbini-Signature", good.clone()),
        ],
    ];
    // A time at the edge of i64: stale, not an overflow.
    let edge = format!("t={},v1={}", i64::MIN, "0".repeat(64));
    let (s, v) = net.raw(
        "POST",
        path,
        &[("Konbini-Terminal", "reg-1"), ("Konbini-Signature", &edge)],
        body.clone(),
    );
    assert_eq!(s, 401, "{v}");
    let one_message = v["error"]["message"].clone();
    assert!(
        one_message.as_str().unwrap().contains("300 s"),
        "it says what to check: {v}"
    );
    for headers in cases {
        let h: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (s, v) = net.raw("POST", path, &h, body.clone());
        assert_eq!(s, 401, "{h:?}: {v}");
        assert_eq!(v["error"]["code"], "unauthorized", "{h:?}: {v}");
        assert_eq!(v["error"]["message"], one_message, "{h:?}: {v}");
    }
    let h = [
        ("Konbini-Terminal", "reg-1"),
        ("Konbini-Signature", good.as_str()),
    ];
    let (s, v) = net.raw("POST", path, &h, body.clone());
    assert_eq!(s, 200, "{v}");
    // Replayed within the window: answered, and harmless (writes are idempotent by slip id).
    let pi = net.pay(1200, &[]);
    let one = json!({"confirmations": [slip("replayed-1", "lawson", 1200, net.now(), json!({"barcode": barcode_of(&pi)}))]});
    let one = one.to_string().into_bytes();
    let sig = sign("secret-one", Utc::now().timestamp(), "POST", path, &one);
    let h = [
        ("Konbini-Terminal", "reg-1"),
        ("Konbini-Signature", sig.as_str()),
    ];
    let (_, first) = net.raw("POST", path, &h, one.clone());
    let (_, replayed) = net.raw("POST", path, &h, one);
    assert_eq!(first["results"][0]["status"], "accepted");
    assert_eq!(replayed["results"][0]["status"], "duplicate");
    let (_, charges) = net.get("/v1/events?type=charge.succeeded");
    assert_eq!(
        charges["data"].as_array().unwrap().len(),
        1,
        "one charge, not two"
    );
    // A body that is not the confirmations shape is a 400, not a 500.
    let (s, v) = net.terminal(0, "POST", path, &json!({"confirmation": 1}));
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (400, Some("invalid_request"))
    );
    let many: Vec<Value> = (0..501).map(|i| json!({"id": i.to_string()})).collect();
    let (s, _) = net.terminal(0, "POST", path, &json!({ "confirmations": many }));
    assert_eq!(s, 400);
}

#[test]
fn confirmations_are_judged_one_by_one_and_other_billers_are_collected() {
    let dir = tempdir();
    let net = Net::start(&dir.path().join("net.db"), &[]);
    let pi = net.pay(3000, &[]);
    let now = net.now();
    let bc = barcode_of(&pi);
    let other = "91912345012345678901234567890101033101230003"; // another biller, 123,000 yen
    let results = confirm(
        &net,
        0,
        vec![
            slip("s-1", "ministop", 3000, now, json!({"barcode": bc})),
            slip("s-2", "ministop", 123000, now, json!({"barcode": other})),
            slip("s-3", "ministop", 123000, now, json!({"barcode": other})),
            slip("s-4", "ministop", 999, now, json!({"barcode": other})),
            slip(
                "s-5",
                "ministop",
                3000,
                now,
                json!({"barcode": "91958001000000000000000000099926120100030001"}),
            ),
            slip(
                "s-6",
                "ministop",
                3000,
                now,
                json!({"payment_code": "000000", "confirmation_number": "09012345678"}),
            ),
            json!({"id": "s-7", "store": "1", "chain": "7eleven", "paid_at": "x", "amount": 1}),
            slip(
                "s-8",
                "ministop",
                3000,
                now,
                json!({"barcode": bc, "payment_code": "1"}),
            ),
            json!("not an object"),
        ],
    );
    let got: Vec<(&str, &str)> = results
        .iter()
        .map(|r| {
            (
                r["status"].as_str().unwrap(),
                r["reason"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(got[0], ("accepted", ""));
    assert_eq!(
        got[1],
        ("accepted", ""),
        "another biller's slip is collected"
    );
    assert_eq!(
        got[2],
        ("conflict", "already_paid"),
        "the same slip paid twice"
    );
    assert_eq!(got[3], ("rejected", "amount_mismatch"));
    assert!(
        got[4].1.starts_with("invalid_barcode") || got[4].1 == "unknown_payment",
        "{got:?}"
    );
    assert_eq!(got[5], ("rejected", "unknown_payment"));
    assert!(got[6].1.starts_with("invalid"), "{got:?}");
    assert!(got[7].1.starts_with("invalid"), "{got:?}");
    assert_eq!(got[8].0, "rejected");
    net.wait_pi(pi["id"].as_str().unwrap(), |v| v["status"] == "succeeded");
}

#[test]
fn two_terminals_paying_one_payment_at_once_get_exactly_one_accepted() {
    let dir = tempdir();
    let net = Arc::new(Net::start(&dir.path().join("net.db"), &[]));
    for round in 0..5 {
        let pi = net.pay(5000, &[]);
        let bc = barcode_of(&pi);
        let now = net.now();
        let handles: Vec<_> = (0..8)
            .map(|i| {
                let net = net.clone();
                let bc = bc.clone();
                std::thread::spawn(move || {
                    confirm(
                        &net,
                        i % 2,
                        vec![slip(
                            &format!("r{round}-t{i}"),
                            "seicomart",
                            5000,
                            now,
                            json!({"barcode": bc}),
                        )],
                    )[0]["status"]
                        .as_str()
                        .unwrap()
                        .to_owned()
                })
            })
            .collect();
        let statuses: Vec<String> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        let accepted = statuses.iter().filter(|s| *s == "accepted").count();
        assert_eq!(accepted, 1, "{statuses:?}");
        assert_eq!(statuses.iter().filter(|s| *s == "conflict").count(), 7);
    }
}

#[test]
fn each_terminals_journal_chain_is_tracked_with_gaps_and_forks() {
    let dir = tempdir();
    let net = Net::start(&dir.path().join("net.db"), &[]);
    let h = |n: u8| format!("{n:02x}").repeat(32);
    let link = |seq: i64, prev: &str, hash: &str| json!({"seq": seq, "prev": prev, "hash": hash});
    let other = "91912345012345678901234567890101033101230003";
    let now = net.now();
    let s = |id: &str, j: Value| {
        let mut v = slip(id, "lawson", 123000, now, json!({"barcode": other}));
        v["journal"] = j;
        v
    };
    let batch = vec![
        s("c-1", link(1, &h(0), &h(1))),
        s("c-2", link(2, &h(1), &h(2))),
        s("c-4", link(4, &h(3), &h(4))),
    ];
    confirm(&net, 0, batch);
    let (_, report) = net.get("/v1/test_helpers/terminals/reg-1/chain");
    assert_eq!(report["gaps"], json!([{"from": 3, "to": 3}]), "{report}");
    assert_eq!(report["forks"], json!([]));
    assert_eq!(report["intact"], false);
    // Sale 5 links to something other than sale 4's hash: a fork.
    let r = confirm(&net, 0, vec![s("c-5", link(5, &h(9), &h(5)))]);
    assert_eq!(
        r[0]["status"], "conflict",
        "the barcode was already paid: {r:?}"
    );
    let (_, report) = net.get("/v1/test_helpers/terminals/reg-1/chain");
    assert_eq!(report["forks"].as_array().unwrap().len(), 1, "{report}");
    assert_eq!(report["forks"][0]["seq"], 5);
    // The terminal can read its own chain; a malformed link is rejected.
    let (st, own) = net.terminal(0, "GET", "/terminal/v1/chain", &Value::Null);
    assert_eq!((st, own["head"]["seq"].as_i64()), (200, Some(5)));
    let r = confirm(&net, 0, vec![s("c-6", link(6, "zz", &h(6)))]);
    assert!(
        r[0]["reason"]
            .as_str()
            .unwrap()
            .starts_with("invalid_journal"),
        "{r:?}"
    );
    // Sequence numbers at the edges of i64 are refused, never an overflow.
    for seq in [i64::MAX, 0, -1] {
        let r = confirm(
            &net,
            0,
            vec![s(&format!("c-edge{seq}"), link(seq, &h(1), &h(2)))],
        );
        assert!(
            r[0]["reason"]
                .as_str()
                .unwrap()
                .starts_with("invalid_journal"),
            "{seq}: {r:?}"
        );
    }
}

#[test]
fn a_restarted_network_has_lost_nothing_and_delivers_what_was_pending() {
    let dir = tempdir();
    let db = dir.path().join("net.db");
    let net = Net::start(&db, &[]);
    // An endpoint that is down: events wait in the outbox.
    let dead = TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_port = dead.local_addr().unwrap().port();
    drop(dead);
    let (_, ep) = net.post(
        "/v1/webhook_endpoints",
        &[
            ("url", &format!("http://127.0.0.1:{dead_port}/hook")),
            ("enabled_events[]", "*"),
        ],
    );
    let pi = net.pay(4000, &[]);
    let id = pi["id"].as_str().unwrap().to_owned();
    net.advance(7 * 86_400);
    let offset = |net: &Net| net.get("/v1/test_helpers/clock").1["offset_ms"].clone();
    let moved = offset(&net);
    assert!(moved.as_i64().unwrap() >= 7 * 86_400_000, "{moved}");
    net.kill();
    let net = Net::start(&db, &[]);
    // Exactly: the offset is kept, not recomputed from however long the restart took.
    assert_eq!(offset(&net), moved, "the clock resumes where it was");
    let (s, again) = net.get(&format!("/v1/payment_intents/{id}"));
    assert_eq!(s, 200);
    assert_eq!(again["id"], id.as_str());
    let (_, events) = net.get("/v1/events");
    assert!(!events["data"].as_array().unwrap().is_empty());
    let (_, deliveries) = net.get("/v1/test_helpers/deliveries");
    assert!(
        deliveries["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["delivered"] == false)
    );
    assert!(ep["secret"].is_string());
    // The endpoint comes back: the restarted network delivers what waited in its outbox.
    let hook = Hook::start_at(&format!("127.0.0.1:{dead_port}"), 0);
    hook.wait_for("payment_intent.requires_action", &id);
}

/// Runs tests/node/lifecycle.mjs with the official `stripe` npm package against the
/// simulator. `npm ci` fetches the pinned package if it is not installed yet.
#[test]
fn the_official_stripe_node_library_works_unmodified() {
    let node_dir = crate::common::node_packages();
    let dir = tempdir();
    let net = Net::start(&dir.path().join("net.db"), &[]);
    let out = std::process::Command::new("node")
        .arg(node_dir.join("lifecycle.mjs"))
        .env("NETWORK_URL", &net.url)
        .env("STRIPE_KEY", KEY)
        .env("TERMINAL_ID", TERMINALS[0].0)
        .env("TERMINAL_SECRET", TERMINALS[0].1)
        .output()
        .expect("node");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "stripe-node run failed:\n{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("ok: lifecycle"), "{text}");
}

/// Every field of `object` in `keys`, and no other (the version's reference lists them all).
fn assert_fields(object: &Value, keys: &[&str]) {
    let mut got: Vec<&str> = object
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    got.sort_unstable();
    let mut want = keys.to_vec();
    want.sort_unstable();
    assert_eq!(got, want);
}

/// The PaymentIntent fields of 2026-10-28.endive that are always present (stripe-node
/// 23.1.0's `PaymentIntent` less its optional `hooks`, `payment_details`,
/// `presentment_details`), plus `amount_details`.
const PI_FIELDS: &[&str] = &[
    "id",
    "object",
    "allowed_payment_method_types",
    "amount",
    "amount_capturable",
    "amount_details",
    "amount_received",
    "application",
    "application_fee_amount",
    "automatic_payment_methods",
    "canceled_at",
    "cancellation_reason",
    "capture_method",
    "client_secret",
    "confirmation_method",
    "created",
    "currency",
    "customer",
    "customer_account",
    "description",
    "excluded_payment_method_types",
    "last_payment_error",
    "latest_charge",
    "livemode",
    "managed_payments",
    "metadata",
    "next_action",
    "on_behalf_of",
    "payment_method",
    "payment_method_configuration_details",
    "payment_method_options",
    "payment_method_types",
    "payment_record",
    "processing",
    "receipt_email",
    "review",
    "setup_future_usage",
    "shipping",
    "source",
    "statement_descriptor",
    "statement_descriptor_suffix",
    "status",
    "transfer_data",
    "transfer_group",
];

/// The Charge fields of 2026-10-28.endive returned by default (stripe-node 23.1.0's
/// `Charge` less the optional `authorization_code`, `level3`, `presentment_details`,
/// `radar_options`, `transfer` and the includable `refunds`).
const CHARGE_FIELDS: &[&str] = &[
    "id",
    "object",
    "amount",
    "amount_captured",
    "amount_refunded",
    "application",
    "application_fee",
    "application_fee_amount",
    "balance_transaction",
    "billing_details",
    "calculated_statement_descriptor",
    "captured",
    "created",
    "currency",
    "customer",
    "description",
    "disputed",
    "failure_balance_transaction",
    "failure_code",
    "failure_message",
    "fraud_details",
    "livemode",
    "metadata",
    "on_behalf_of",
    "outcome",
    "paid",
    "payment_intent",
    "payment_method",
    "payment_method_details",
    "receipt_email",
    "receipt_number",
    "receipt_url",
    "refunded",
    "review",
    "shipping",
    "source",
    "source_transfer",
    "statement_descriptor",
    "statement_descriptor_suffix",
    "status",
    "transfer_data",
    "transfer_group",
];

fn lookup(net: &Net, chain: &str, code: &str, number: &str) -> (u16, Value) {
    net.terminal(
        0,
        "GET",
        &format!(
            "/terminal/v1/lookup?chain={chain}&payment_code={code}&confirmation_number={number}"
        ),
        &Value::Null,
    )
}

#[test]
fn a_payment_intent_is_updated_as_stripe_allows_and_a_replaced_voucher_is_not_payable() {
    let dir = tempdir();
    let net = Net::start(&dir.path().join("net.db"), &[]);
    let kept = net.customer("Kept");
    let (s, pi) = net.post(
        "/v1/payment_intents",
        &[
            ("amount", "1200"),
            ("currency", "jpy"),
            ("customer", &kept),
            ("receipt_email", "r@example.jp"),
            ("statement_descriptor", "KONBINI SHOP"),
            ("metadata[a]", "1"),
        ],
    );
    assert_eq!(s, 200, "{pi}");
    assert_fields(&pi, PI_FIELDS);
    assert_eq!(
        (
            &pi["customer"],
            &pi["receipt_email"],
            &pi["statement_descriptor"]
        ),
        (&json!(kept), &json!("r@example.jp"), &json!("KONBINI SHOP"))
    );
    let id = pi["id"].as_str().unwrap().to_owned();
    let path = format!("/v1/payment_intents/{id}");

    // Before confirmation: fields change, metadata merges, an empty value unsets.
    let (s, v) = net.post(
        &path,
        &[
            ("amount", "1500"),
            ("description", "注文 42"),
            ("metadata[b]", "2"),
            ("metadata[a]", ""),
            (
                "payment_method_options[konbini][product_description]",
                "お弁当",
            ),
        ],
    );
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["amount"], 1500);
    assert_eq!(v["description"], "注文 42");
    assert_eq!(v["metadata"], json!({"b": "2"}));
    assert_eq!(v["status"], "requires_payment_method");
    assert_eq!(
        v["payment_method_options"]["konbini"]["product_description"],
        "お弁当"
    );
    let (s, e) = net.post(&path, &[("amount", "100")]);
    assert_eq!((s, &e["error"]["code"]), (400, &json!("amount_too_small")));
    let (s, e) = net.post(&path, &[("payment_method_types[]", "konbini")]);
    assert_eq!((s, &e["error"]["code"]), (400, &json!("parameter_unknown")));

    // In requires_action: a new voucher; the old codes and barcode are no longer payable.
    let (s, old) = net.post(
        &format!("{path}/confirm"),
        &[
            ("payment_method_data[billing_details][name]", "山田 太郎"),
            (
                "payment_method_data[billing_details][email]",
                "taro@example.jp",
            ),
        ],
    );
    assert_eq!(s, 200, "{old}");
    let (old_code, number) = codes(&old, "lawson");
    assert_eq!(lookup(&net, "lawson", &old_code, &number).0, 200);
    let (s, new) = net.post(&path, &[("amount", "1800")]);
    assert_eq!(s, 200, "{new}");
    assert_eq!(new["status"], "requires_action");
    assert_eq!(new["amount"], 1800);
    let (new_code, new_number) = codes(&new, "lawson");
    assert_ne!(new_code, old_code);
    assert_eq!(new_number, number, "the customer's number stays");
    assert_ne!(barcode_of(&new), barcode_of(&old));
    let (s, e) = lookup(&net, "lawson", &old_code, &number);
    assert_eq!(
        (s, &e["error"]["code"]),
        (409, &json!("not_payable")),
        "{e}"
    );
    let (s, ok) = lookup(&net, "lawson", &new_code, &number);
    assert_eq!((s, &ok["amount"]), (200, &json!(1800)), "{ok}");
    let (_, events) = net.get("/v1/events?type=payment_intent.requires_action");
    let vouchers: Vec<&Value> = events["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["data"]["object"]["id"] == json!(id))
        .collect();
    assert_eq!(vouchers.len(), 2, "one event per voucher");
    assert_eq!(vouchers[0]["data"]["object"]["amount"], 1800);
    assert_eq!(vouchers[0]["api_version"], "2026-10-28.endive");
    // Only metadata: the voucher stays.
    let (_, same) = net.post(&path, &[("metadata[c]", "3")]);
    assert_eq!(codes(&same, "lawson").0, new_code);

    // A barcode of a replaced voucher, at the same amount, is a conflict; the live one pays.
    let (s, newer) = net.post(
        &path,
        &[("payment_method_options[konbini][expires_after_days]", "5")],
    );
    assert_eq!(s, 200, "{newer}");
    assert_ne!(barcode_of(&newer), barcode_of(&new));
    let now = net.now();
    let r = confirm(
        &net,
        0,
        vec![slip(
            "s-old",
            "lawson",
            1800,
            now,
            json!({"barcode": barcode_of(&new)}),
        )],
    );
    assert_eq!(r[0]["status"], "conflict", "{r:?}");
    let r = confirm(
        &net,
        0,
        vec![slip(
            "s-new",
            "lawson",
            1800,
            now,
            json!({"barcode": barcode_of(&newer)}),
        )],
    );
    assert_eq!(r[0]["status"], "accepted", "{r:?}");

    // Succeeded: the charge carries every field; money-shaping updates are refused as
    // Stripe refuses them, annotations are not.
    let (_, paid) = net.get(&format!("{path}?expand[]=latest_charge"));
    assert_eq!(paid["status"], "succeeded");
    let charge = &paid["latest_charge"];
    assert_fields(charge, CHARGE_FIELDS);
    assert_eq!(charge["receipt_email"], "r@example.jp");
    assert_eq!(charge["calculated_statement_descriptor"], "KONBINI SHOP");
    assert_eq!(charge["customer"], json!(kept));
    assert_eq!(charge["billing_details"]["tax_id"], Value::Null);
    assert_eq!(charge["outcome"]["risk_level"], "not_assessed");
    let (s, e) = net.post(&path, &[("amount", "2000")]);
    assert_eq!(s, 400, "{e}");
    assert_eq!(e["error"]["type"], "invalid_request_error");
    assert_eq!(e["error"]["code"], "payment_intent_unexpected_state");
    assert_eq!(e["error"]["param"], "amount");
    assert_eq!(
        e["error"]["message"],
        "This PaymentIntent's amount could not be updated because it has a status of succeeded. You may only update the amount of a PaymentIntent with one of the following statuses: requires_payment_method, requires_confirmation, requires_action."
    );
    assert_eq!(e["error"]["payment_intent"]["id"], json!(id));
    let (s, e) = net.post(
        &path,
        &[("payment_method_options[konbini][expires_after_days]", "5")],
    );
    assert_eq!(
        (s, &e["error"]["param"]),
        (400, &json!("payment_method_options"))
    );
    let (s, v) = net.post(&path, &[("metadata[shipped]", "yes"), ("description", "")]);
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["metadata"]["shipped"], "yes");
    assert_eq!(v["description"], Value::Null);
    let (s, v) = net.post(&path, &[("metadata", "")]);
    assert_eq!((s, &v["metadata"]), (200, &json!({})), "{v}");
}

/// A PaymentMethod given by id (with the publishable key, as Stripe.js confirms) or made
/// with a billing address from `payment_method_data`, and a PaymentIntent's
/// `payment_method` updated as Stripe allows it: before confirmation it waits for the
/// confirmation, in `requires_action` the voucher is reissued to the new details (the old
/// one no longer payable), after success it is refused.
#[test]
fn payment_methods_are_given_by_id_or_with_an_address_and_updated_on_a_payment() {
    let dir = tempdir();
    let net = Net::start(&dir.path().join("net.db"), &[]);
    // A POST as a page's Stripe.js makes it: the publishable key.
    let pk_post = |path: &str, form: &[(&str, &str)]| {
        let body: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        net.raw(
            "POST",
            path,
            &[
                ("authorization", &format!("Bearer {PUBLISHABLE_KEY}")),
                ("content-type", "application/x-www-form-urlencoded"),
            ],
            body.into_bytes(),
        )
    };
    let new_pi = || {
        let (s, pi) = net.post(
            "/v1/payment_intents",
            &[("amount", "1500"), ("currency", "jpy")],
        );
        assert_eq!(s, 200, "{pi}");
        (
            pi["id"].as_str().unwrap().to_owned(),
            pi["client_secret"].as_str().unwrap().to_owned(),
        )
    };
    // Made with the publishable key, address and all; confirmed by its id.
    let (s, pm) = pk_post(
        "/v1/payment_methods",
        &[
            ("type", "konbini"),
            ("billing_details[name]", "Kenji Mori"),
            ("billing_details[email]", "kenji@example.jp"),
            ("billing_details[address][country]", "JP"),
            ("billing_details[address][postal_code]", "150-0001"),
        ],
    );
    assert_eq!(s, 200, "{pm}");
    let pm_id = pm["id"].as_str().unwrap();
    let (id, secret) = new_pi();
    let (s, pi) = pk_post(
        &format!("/v1/payment_intents/{id}/confirm"),
        &[("client_secret", &secret), ("payment_method", pm_id)],
    );
    assert_eq!(s, 200, "{pi}");
    assert_eq!(
        (&pi["status"], &pi["payment_method"]),
        (&json!("requires_action"), &json!(pm_id))
    );
    assert_eq!(pi.get("metadata"), None, "the publishable subset");
    let (_, full) = net.get(&format!("/v1/payment_intents/{id}?expand[]=latest_charge"));
    assert_eq!(full["payment_method"], json!(pm_id));
    // Both at once is refused, naming payment_method_data.
    let (id2, secret2) = new_pi();
    let (s, e) = pk_post(
        &format!("/v1/payment_intents/{id2}/confirm"),
        &[
            ("client_secret", &secret2),
            ("payment_method", pm_id),
            ("payment_method_data[type]", "konbini"),
        ],
    );
    assert_eq!(
        (s, &e["error"]["param"]),
        (400, &json!("payment_method_data")),
        "{e}"
    );
    // An address (and metadata) in payment_method_data go to the PaymentMethod it makes.
    let (s, pi) = pk_post(
        &format!("/v1/payment_intents/{id2}/confirm"),
        &[
            ("client_secret", &secret2),
            ("payment_method_data[type]", "konbini"),
            ("payment_method_data[billing_details][name]", "Yumi Aoki"),
            (
                "payment_method_data[billing_details][email]",
                "yumi@example.jp",
            ),
            (
                "payment_method_data[billing_details][address][city]",
                "渋谷区",
            ),
            (
                "payment_method_data[billing_details][address][line1]",
                "神宮前1-1-1",
            ),
            ("payment_method_data[metadata][source]", "web"),
        ],
    );
    assert_eq!(s, 200, "{pi}");
    let (_, made) = net.get(&format!(
        "/v1/payment_intents/{id2}?expand[]=payment_method"
    ));
    let details = &made["payment_method"]["billing_details"];
    assert_eq!(
        details["address"],
        json!({"city": "渋谷区", "country": null, "line1": "神宮前1-1-1", "line2": null, "postal_code": null, "state": null})
    );
    assert_eq!(details["name"], "Yumi Aoki");
    assert_eq!(made["payment_method"]["metadata"], json!({"source": "web"}));
    let (s, e) = pk_post(
        &format!("/v1/payment_intents/{id2}/confirm"),
        &[
            ("client_secret", &secret2),
            (
                "payment_method_data[billing_details][address][planet]",
                "Mars",
            ),
        ],
    );
    assert_eq!(
        (s, &e["error"]["code"], &e["error"]["param"]),
        (
            400,
            &json!("parameter_unknown"),
            &json!("payment_method_data[billing_details][address][planet]")
        ),
        "{e}"
    );

    // Update: before confirmation the payment waits for its confirmation.
    let (id3, _) = new_pi();
    let path = format!("/v1/payment_intents/{id3}");
    let (_, pm) = net.post(
        "/v1/payment_methods",
        &[
            ("type", "konbini"),
            ("billing_details[name]", "Hiro Ono"),
            ("billing_details[email]", "hiro@example.jp"),
        ],
    );
    let pm_id = pm["id"].as_str().unwrap();
    let (s, v) = net.post(&path, &[("payment_method", pm_id)]);
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        (&v["status"], &v["payment_method"]),
        (&json!("requires_confirmation"), &json!(pm_id))
    );
    let (s, e) = net.post(&path, &[("payment_method", "pm_nosuchthing")]);
    assert_eq!(
        (s, &e["error"]["code"], &e["error"]["param"]),
        (404, &json!("resource_missing"), &json!("payment_method")),
        "{e}"
    );
    // payment_method_data makes a new one, address and all, which the payment names.
    let (s, v) = net.post(
        &path,
        &[
            ("payment_method_data[type]", "konbini"),
            ("payment_method_data[billing_details][name]", "Hiro Ono"),
            (
                "payment_method_data[billing_details][email]",
                "hiro@example.jp",
            ),
            (
                "payment_method_data[billing_details][address][postal_code]",
                "060-0001",
            ),
            ("expand[]", "payment_method"),
        ],
    );
    assert_eq!(s, 200, "{v}");
    assert_ne!(v["payment_method"]["id"], json!(pm_id));
    assert_eq!(
        v["payment_method"]["billing_details"]["address"]["postal_code"],
        "060-0001"
    );
    assert_eq!(v["status"], "requires_confirmation");
    let (s, e) = net.post(&path, &[("payment_method_data[type]", "card")]);
    assert_eq!(
        (s, &e["error"]["param"]),
        (400, &json!("payment_method_data[type]")),
        "{e}"
    );
    let (s, e) = net.post(&path, &[("payment_method", "")]);
    assert_eq!(
        (s, &e["error"]["code"]),
        (400, &json!("parameter_invalid_empty")),
        "{e}"
    );
    // The publishable key may not update.
    let (s, e) = pk_post(&path, &[("payment_method", pm_id)]);
    assert_eq!(
        (s, &e["error"]["code"]),
        (401, &json!("secret_key_required")),
        "{e}"
    );
    let (s, v) = net.post(&format!("{path}/confirm"), &[]);
    assert_eq!(s, 200, "{v}");
    let (old_code, old_number) = codes(&v, "lawson");

    // In requires_action: a PaymentMethod attached to another customer is refused; one of
    // the payment's own customer reissues the voucher with its details.
    let owner = net.customer("Owner");
    let (_, theirs) = net.post(
        "/v1/payment_methods",
        &[
            ("type", "konbini"),
            ("billing_details[name]", "Owner Two"),
            ("billing_details[email]", "owner@example.jp"),
        ],
    );
    let theirs = theirs["id"].as_str().unwrap();
    let (s, v) = net.post(
        &format!("/v1/payment_methods/{theirs}/attach"),
        &[("customer", &owner)],
    );
    assert_eq!(s, 200, "{v}");
    let (s, e) = net.post(&path, &[("payment_method", theirs)]);
    assert_eq!(
        (s, &e["error"]["param"]),
        (400, &json!("payment_method")),
        "{e}"
    );
    let (s, v) = net.post(&path, &[("customer", &owner), ("payment_method", theirs)]);
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        (&v["status"], &v["payment_method"], &v["customer"]),
        (&json!("requires_action"), &json!(theirs), &json!(owner))
    );
    let (new_code, new_number) = codes(&v, "lawson");
    assert_ne!(new_code, old_code);
    assert_eq!(new_number, old_number, "the customer's number stays");
    assert_eq!(
        lookup(&net, "lawson", &old_code, &old_number).1["error"]["code"],
        "not_payable"
    );
    assert_eq!(lookup(&net, "lawson", &new_code, &new_number).0, 200);
    let (_, charge_side) = net.get(&format!("{path}?expand[]=payment_method"));
    assert_eq!(
        charge_side["payment_method"]["billing_details"]["name"],
        "Owner Two"
    );

    // Succeeded: refused as Stripe refuses money-shaping updates.
    let r = confirm(
        &net,
        0,
        vec![slip(
            "s-pm",
            "lawson",
            1500,
            net.now(),
            json!({"payment_code": new_code, "confirmation_number": new_number}),
        )],
    );
    assert_eq!(r[0]["status"], "accepted", "{r:?}");
    let (s, e) = net.post(&path, &[("payment_method", theirs)]);
    assert_eq!(
        (s, &e["error"]["code"], &e["error"]["param"]),
        (
            400,
            &json!("payment_intent_unexpected_state"),
            &json!("payment_method")
        ),
        "{e}"
    );
}

/// Stripe takes the key as HTTP Basic's user name too (`curl -u sk_test_...:`, as its API
/// reference shows every call); a wrong one is named as with Bearer, a credential that is
/// not Basic's is no key at all.
#[test]
fn the_key_is_taken_as_a_basic_auth_user_name_as_stripe_takes_it() {
    let dir = tempdir();
    let net = Net::start(&dir.path().join("net.db"), &[]);
    let basic = |user: &str| {
        Net::answer(
            net.http
                .post(format!("{}/v1/payment_intents", net.url))
                .basic_auth(user, None::<&str>)
                .form(&[("amount", "1200"), ("currency", "jpy")])
                .send()
                .unwrap(),
        )
    };
    let (s, pi) = basic(KEY);
    assert_eq!((s, &pi["object"]), (200, &json!("payment_intent")), "{pi}");
    let (s, e) = basic("sk_test_wrongkey9876");
    assert_eq!(s, 401, "{e}");
    assert_eq!(
        e["error"]["message"],
        "Invalid API Key provided: sk_test_****9876"
    );
    let (s, e) = net.raw(
        "GET",
        "/v1/payment_intents",
        &[("authorization", "Basic %%%not-base64%%%")],
        Vec::new(),
    );
    assert_eq!(s, 401, "{e}");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("You did not provide an API key."),
        "{e}"
    );
    // The publishable key as Basic's user: only where a publishable key may go.
    let (s, e) = basic(PUBLISHABLE_KEY);
    assert_eq!(
        (s, &e["error"]["code"]),
        (401, &json!("secret_key_required")),
        "{e}"
    );
}

/// A Customer's includable fields (Stripe answers them only when `expand[]` names them):
/// empty lists, no cash or credit balance, and Stripe Tax's view of where the customer is.
#[test]
fn a_customers_includable_fields_come_only_when_expanded() {
    let dir = tempdir();
    let net = Net::start(&dir.path().join("net.db"), &[]);
    let (_, c) = net.post(
        "/v1/customers",
        &[
            ("name", "Taro"),
            ("address[country]", "JP"),
            ("address[state]", "東京都"),
        ],
    );
    let id = c["id"].as_str().unwrap();
    for field in [
        "tax",
        "invoice_credit_balance",
        "subscriptions",
        "sources",
        "tax_ids",
        "cash_balance",
    ] {
        assert_eq!(c.get(field), None, "{field} only when expanded");
    }
    let (s, v) = net.get(&format!(
        "/v1/customers/{id}?expand[]=tax&expand[]=invoice_credit_balance&expand[]=subscriptions"
    ));
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        v["tax"],
        json!({
            "automatic_tax": "not_collecting",
            "ip_address": null,
            "location": {"country": "JP", "source": "billing_address", "state": "東京都"},
            "provider": "stripe",
        })
    );
    assert_eq!(v["invoice_credit_balance"], json!({}));
    assert_eq!(v["subscriptions"]["object"], "list");
    let (_, bare) = net.post("/v1/customers", &[("name", "Nowhere")]);
    let (_, v) = net.get("/v1/customers?expand[]=data.tax&limit=1");
    assert_eq!(v["data"][0]["id"], bare["id"], "newest first");
    assert_eq!(
        v["data"][0]["tax"]["automatic_tax"], "unrecognized_location",
        "{v}"
    );
    assert_eq!(v["data"][0]["tax"]["location"], Value::Null);
    let (s, e) = net.get(&format!("/v1/customers/{id}?expand[]=tax.location"));
    assert_eq!(s, 400, "{e}");
}

/// The publishable key that goes with [`KEY`] when none is given (`pk_` for `sk_`).
pub const PUBLISHABLE_KEY: &str = "pk_test_it";

/// Run a script of tests/node against a fresh network; it prints `ok: <name>`.
fn run_node(script: &str, ok: &str) {
    run_node_with(script, ok, &[]);
}

/// [`run_node`] with more environment for the script.
pub(crate) fn run_node_with(script: &str, ok: &str, env: &[(&str, &std::ffi::OsStr)]) {
    let node_dir = crate::common::node_packages();
    let dir = tempdir();
    let net = Net::start(&dir.path().join("net.db"), &[]);
    let out = std::process::Command::new("node")
        .arg(node_dir.join(script))
        .env("NETWORK_URL", &net.url)
        .env("STRIPE_KEY", KEY)
        .env("STRIPE_PUBLISHABLE_KEY", PUBLISHABLE_KEY)
        .envs(env.iter().copied())
        .output()
        .expect("node");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{script} failed:\n{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains(ok), "{text}");
}

#[test]
fn stripe_node_auto_pages_lists_backward_and_forward_without_dropping_objects() {
    run_node("lists.mjs", "ok: lists");
}

/// Customers, payment methods, products and prices refuse what Stripe refuses, naming it:
/// an unknown id (404 `resource_missing` on `id`), an unknown parameter, a missing one, a
/// path that cannot be expanded; and a price in another currency than yen says why.
#[test]
fn customers_payment_methods_products_and_prices_refuse_bad_requests_as_stripe_does() {
    let dir = tempdir();
    let net = Net::start(&dir.path().join("net.db"), &[]);
    for (resource, kind) in [
        ("customers", "customer"),
        ("payment_methods", "PaymentMethod"),
        ("products", "product"),
        ("prices", "price"),
    ] {
        let (s, e) = net.get(&format!("/v1/{resource}/nope_1"));
        assert_eq!(
            (s, &e["error"]["code"], &e["error"]["param"]),
            (404, &json!("resource_missing"), &json!("id")),
            "{resource}: {e}"
        );
        assert_eq!(
            e["error"]["message"],
            json!(format!("No such {kind}: 'nope_1'"))
        );
        let (s, e) = net.post(&format!("/v1/{resource}"), &[("bogus[x]", "1")]);
        assert_eq!(
            (s, &e["error"]["code"], &e["error"]["param"]),
            (400, &json!("parameter_unknown"), &json!("bogus[x]")),
            "{resource}: {e}"
        );
        let (s, e) = net.get(&format!("/v1/{resource}?expand[]=data.nope"));
        assert_eq!(s, 400, "{resource}: {e}");
        assert_eq!(
            e["error"]["message"],
            json!("This property cannot be expanded (data.nope).")
        );
        let (s, e) = net.get(&format!("/v1/{resource}?limit=0"));
        assert_eq!((s, &e["error"]["param"]), (400, &json!("limit")), "{e}");
    }
    let (s, e) = net.post("/v1/products", &[("description", "no name")]);
    assert_eq!(
        (s, &e["error"]["code"], &e["error"]["param"]),
        (400, &json!("parameter_missing"), &json!("name"))
    );
    let (_, product) = net.post("/v1/products", &[("name", "Tea")]);
    let product = product["id"].as_str().unwrap();
    let (s, e) = net.post(
        "/v1/prices",
        &[
            ("product", product),
            ("currency", "eur"),
            ("unit_amount", "5"),
        ],
    );
    assert_eq!((s, &e["error"]["param"]), (400, &json!("currency")), "{e}");
    let message = e["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("eur") && message.contains("jpy"),
        "{message}"
    );
    let (s, e) = net.post("/v1/prices", &[("product", product), ("currency", "jpy")]);
    assert_eq!(
        (s, &e["error"]["code"], &e["error"]["param"]),
        (400, &json!("parameter_missing"), &json!("unit_amount"))
    );
    let (s, e) = net.post(
        "/v1/prices",
        &[
            ("product", product),
            ("currency", "jpy"),
            ("unit_amount", "100"),
            ("recurring[interval]", "fortnight"),
        ],
    );
    assert_eq!(
        (s, &e["error"]["param"]),
        (400, &json!("recurring[interval]")),
        "{e}"
    );
    let (s, e) = net.post(
        "/v1/products",
        &[
            ("name", "Bento"),
            ("default_price_data[currency]", "usd"),
            ("default_price_data[unit_amount]", "5"),
        ],
    );
    assert_eq!(
        (s, &e["error"]["param"]),
        (400, &json!("default_price_data[currency]")),
        "{e}"
    );
    // Nothing of a refused request was kept.
    let (_, list) = net.get("/v1/products");
    assert_eq!(list["data"].as_array().unwrap().len(), 1, "{list}");
    let (s, e) = net.post("/v1/customers", &[("email", "two words@example.jp")]);
    assert_eq!((s, &e["error"]["param"]), (400, &json!("email")), "{e}");
    let (s, e) = net.get("/v1/customers/search?query=email~'ab'");
    assert_eq!((s, &e["error"]["param"]), (400, &json!("query")), "{e}");
}

/// A publishable key may make a konbini PaymentMethod (what Stripe.js does), and nothing
/// else of customers, payment methods, products or prices: Stripe's 401
/// `secret_key_required`.
#[test]
fn a_publishable_key_makes_payment_methods_and_reaches_no_customer_or_catalog() {
    let dir = tempdir();
    let net = Net::start(
        &dir.path().join("net.db"),
        &["--publishable-key", "pk_test_shop"],
    );
    let pk = |method: &str, path: &str, body: &str| {
        net.raw(
            method,
            path,
            &[
                ("authorization", "Bearer pk_test_shop"),
                ("content-type", "application/x-www-form-urlencoded"),
            ],
            body.as_bytes().to_vec(),
        )
    };
    let (s, pm) = pk(
        "POST",
        "/v1/payment_methods",
        "type=konbini&billing_details[name]=Taro&billing_details[email]=t@example.jp",
    );
    assert_eq!((s, &pm["type"]), (200, &json!("konbini")), "{pm}");
    let pm_id = pm["id"].as_str().unwrap();
    let cus = net.customer("Taro");
    for (method, path) in [
        ("GET", "/v1/customers".to_owned()),
        ("POST", "/v1/customers".to_owned()),
        ("GET", format!("/v1/customers/{cus}")),
        ("DELETE", format!("/v1/customers/{cus}")),
        ("GET", "/v1/customers/search?query=name~'Taro'".to_owned()),
        ("GET", format!("/v1/payment_methods/{pm_id}")),
        ("POST", format!("/v1/payment_methods/{pm_id}/attach")),
        ("GET", "/v1/products".to_owned()),
        ("POST", "/v1/products".to_owned()),
        ("GET", "/v1/prices".to_owned()),
        ("POST", "/v1/prices".to_owned()),
    ] {
        let (s, e) = pk(method, &path, "");
        assert_eq!(
            (s, &e["error"]["code"]),
            (401, &json!("secret_key_required")),
            "{method} {path}: {e}"
        );
    }
    // The customer is untouched.
    let (s, c) = net.get(&format!("/v1/customers/{cus}"));
    assert_eq!((s, &c["name"]), (200, &json!("Taro")));
}

/// Stripe removed `payment_method_types` from PaymentIntents in 2026-09-30.endive: a caller
/// on that version or later (its `Stripe-Version`) is refused; an older one, or one sending
/// no version (curl), keeps it.
#[test]
fn payment_method_types_is_refused_from_endive_on_and_kept_for_older_callers() {
    let dir = tempdir();
    let net = Net::start(&dir.path().join("net.db"), &[]);
    let body = b"amount=1200&currency=jpy&payment_method_types[]=konbini".to_vec();
    let auth = format!("Bearer {KEY}");
    let create = |version: Option<&str>| {
        let mut headers = vec![
            ("authorization", auth.as_str()),
            ("content-type", "application/x-www-form-urlencoded"),
        ];
        if let Some(v) = version {
            headers.push(("stripe-version", v));
        }
        net.raw("POST", "/v1/payment_intents", &headers, body.clone())
    };
    for version in [
        "2026-10-28.endive",
        "2026-09-30.endive",
        "2027-01-27.future",
    ] {
        let (s, e) = create(Some(version));
        assert_eq!(
            (s, &e["error"]["code"], &e["error"]["param"]),
            (
                400,
                &json!("payment_method_types_no_longer_supported"),
                &json!("payment_method_types")
            ),
            "{version}: {e}"
        );
    }
    for version in [None, Some("2026-07-29.dahlia"), Some("2024-06-20")] {
        let (s, pi) = create(version);
        assert_eq!(s, 200, "{version:?}: {pi}");
        assert_eq!(pi["payment_method_types"], json!(["konbini"]));
        // Named types: no automatic payment methods.
        assert_eq!(pi["automatic_payment_methods"], Value::Null);
    }
    // None named: automatic payment methods, on since 2023-08-16 (konbini is the one here).
    let (s, pi) = net.post(
        "/v1/payment_intents",
        &[("amount", "1200"), ("currency", "jpy")],
    );
    assert_eq!(
        (
            s,
            &pi["automatic_payment_methods"],
            &pi["payment_method_types"]
        ),
        (
            200,
            &json!({"enabled": true, "allow_redirects": "always"}),
            &json!(["konbini"])
        )
    );
    let (s, e) = net.post(
        "/v1/payment_intents",
        &[
            ("amount", "1200"),
            ("currency", "jpy"),
            ("automatic_payment_methods[enabled]", "true"),
            ("payment_method_types[]", "konbini"),
        ],
    );
    assert_eq!(
        (s, &e["error"]["code"], &e["error"]["param"]),
        (
            400,
            &json!("parameters_exclusive"),
            &json!("automatic_payment_methods")
        )
    );
    // The same on update and confirm.
    let (_, pi) = create(None);
    let id = pi["id"].as_str().unwrap();
    for path in [
        format!("/v1/payment_intents/{id}"),
        format!("/v1/payment_intents/{id}/confirm"),
    ] {
        let (s, e) = net.raw(
            "POST",
            &path,
            &[
                ("authorization", auth.as_str()),
                ("stripe-version", "2026-10-28.endive"),
            ],
            b"payment_method_types[]=konbini".to_vec(),
        );
        assert_eq!(
            (s, &e["error"]["code"]),
            (400, &json!("payment_method_types_no_longer_supported")),
            "{path}: {e}"
        );
    }
    // allowed_payment_method_types is the version's way, echoed; not both.
    let (s, pi) = net.post(
        "/v1/payment_intents",
        &[
            ("amount", "1200"),
            ("currency", "jpy"),
            ("allowed_payment_method_types[]", "konbini"),
        ],
    );
    assert_eq!(
        (s, &pi["allowed_payment_method_types"]),
        (200, &json!(["konbini"]))
    );
    let (s, e) = net.post(
        "/v1/payment_intents",
        &[
            ("amount", "1200"),
            ("currency", "jpy"),
            ("allowed_payment_method_types[]", "konbini"),
            ("payment_method_types[]", "konbini"),
        ],
    );
    assert_eq!(
        (s, &e["error"]["code"]),
        (400, &json!("parameters_exclusive"))
    );
    let (s, e) = net.post(
        "/v1/payment_intents",
        &[
            ("amount", "1200"),
            ("currency", "jpy"),
            ("allowed_payment_method_types[]", "card"),
        ],
    );
    assert_eq!(
        (s, &e["error"]["param"]),
        (400, &json!("allowed_payment_method_types"))
    );
}

#[test]
fn stripe_node_sells_products_at_one_time_and_recurring_yen_prices() {
    run_node("catalog.mjs", "ok: catalog");
}

#[test]
fn stripe_node_keeps_customers_and_their_konbini_payment_methods() {
    run_node("customers.mjs", "ok: customers");
}

#[test]
fn lists_filter_by_customer_created_and_event_types() {
    let dir = tempdir();
    let net = Net::start(&dir.path().join("net.db"), &[]);
    let mut ids = Vec::new();
    let mut times = Vec::new();
    let (even, odd) = (net.customer("Even"), net.customer("Odd"));
    for i in 0..4 {
        let customer = if i % 2 == 0 {
            even.as_str()
        } else {
            odd.as_str()
        };
        let (s, pi) = net.post(
            "/v1/payment_intents",
            &[
                ("amount", "1200"),
                ("currency", "jpy"),
                ("customer", customer),
            ],
        );
        assert_eq!(s, 200, "{pi}");
        ids.push(pi["id"].as_str().unwrap().to_owned());
        // The payment's own time, not the clock read before it: a second may
        // turn between the two.
        times.push(pi["created"].as_i64().unwrap());
        net.advance(100);
    }
    let listed = |query: &str| -> Vec<String> {
        let (s, v) = net.get(&format!("/v1/payment_intents?{query}"));
        assert_eq!(s, 200, "{v}");
        v["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        listed(&format!("customer={odd}")),
        [ids[3].clone(), ids[1].clone()]
    );
    assert_eq!(
        listed(&format!(
            "created[gte]={}&created[lt]={}",
            times[1], times[3]
        )),
        [ids[2].clone(), ids[1].clone()]
    );
    assert_eq!(
        listed(&format!("created[gt]={}&customer={even}", times[0])),
        [ids[2].clone()]
    );
    assert_eq!(listed(&format!("created={}", times[2])), [ids[2].clone()]);
    let (s, e) = net.get("/v1/payment_intents?ending_before=pi_nope");
    assert_eq!((s, &e["error"]["param"]), (404, &json!("ending_before")));
    let (s, e) = net.get(&format!(
        "/v1/payment_intents?ending_before={}&starting_after={}",
        ids[0], ids[1]
    ));
    assert_eq!(s, 400, "{e}");
    let (s, e) = net.get("/v1/payment_intents?created[gte]=soon");
    assert_eq!((s, &e["error"]["param"]), (400, &json!("created[gte]")));

    // Events: types[], a group with *, created. The cut is read before the
    // events it splits are made, and the clock only moves forward, so a turning
    // second cannot move an event across it.
    let cut = net.now();
    for id in &ids[..2] {
        let (s, v) = net.post(&format!("/v1/payment_intents/{id}/cancel"), &[]);
        assert_eq!(s, 200, "{v}");
    }
    net.pay(1500, &[]);
    let types = |query: &str| -> Vec<String> {
        let (s, v) = net.get(&format!("/v1/events?{query}"));
        assert_eq!(s, 200, "{v}");
        v["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["type"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        types("types[]=payment_intent.canceled&types[]=payment_intent.requires_action"),
        [
            "payment_intent.requires_action",
            "payment_intent.canceled",
            "payment_intent.canceled"
        ]
    );
    assert_eq!(types("type=payment_intent.*").len(), 3);
    assert_eq!(types("type=charge.*").len(), 0);
    assert_eq!(types(&format!("created[gte]={cut}")).len(), 3);
    // Only the two customers were made before.
    assert_eq!(
        types(&format!("created[lt]={cut}")),
        ["customer.created", "customer.created"]
    );
    let (s, e) = net.get("/v1/events?type=x&types[]=y");
    assert_eq!(s, 400, "{e}");
}

#[test]
fn expand_fills_what_the_version_lets_expand_and_refuses_the_rest_as_stripe_does() {
    let dir = tempdir();
    let net = Net::start(&dir.path().join("net.db"), &[]);
    let bare = net.post(
        "/v1/payment_intents",
        &[("amount", "1200"), ("currency", "jpy")],
    );
    let cus = net.customer("山田 太郎");
    let pi = net.pay(1300, &[("customer", &cus)]);
    let id = pi["id"].as_str().unwrap();
    let (code, number) = codes(&pi, "lawson");
    let r = confirm(
        &net,
        0,
        vec![slip(
            "s1",
            "lawson",
            1300,
            net.now(),
            json!({"payment_code": code, "confirmation_number": number}),
        )],
    );
    assert_eq!(r[0]["status"], "accepted", "{r:?}");
    let (s, v) = net.get(&format!(
        "/v1/payment_intents/{id}?expand[]=payment_method&expand[]=customer&expand[]=latest_charge.balance_transaction&expand[]=review"
    ));
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["payment_method"]["object"], "payment_method");
    assert_eq!(v["payment_method"]["type"], "konbini");
    assert_eq!(v["payment_method"]["billing_details"]["name"], "山田 太郎");
    // The payment method the confirmation left is kept: it is retrieved on its own too.
    let pm_id = v["payment_method"]["id"].as_str().unwrap();
    let (s, pm) = net.get(&format!("/v1/payment_methods/{pm_id}"));
    assert_eq!(
        (s, &pm["billing_details"]["name"]),
        (200, &json!("山田 太郎"))
    );
    assert_eq!(v["customer"]["object"], "customer");
    assert_eq!(v["customer"]["name"], "山田 太郎");
    assert_eq!(v["review"], Value::Null);
    assert_eq!(v["latest_charge"]["object"], "charge");
    assert_eq!(
        v["latest_charge"]["balance_transaction"]["object"],
        "balance_transaction"
    );
    assert_eq!(
        v["latest_charge"]["balance_transaction"]["balance_type"],
        "payments"
    );
    // A deleted customer expands to its stub.
    let (s, gone) = net.raw(
        "DELETE",
        &format!("/v1/customers/{cus}"),
        &[("authorization", &format!("Bearer {KEY}"))],
        Vec::new(),
    );
    assert_eq!((s, &gone["deleted"]), (200, &json!(true)), "{gone}");
    let (_, v2) = net.get(&format!("/v1/payment_intents/{id}?expand[]=customer"));
    assert_eq!(
        v2["customer"],
        json!({"id": cus, "object": "customer", "deleted": true})
    );
    // A payment may not name a customer that is not kept (or is deleted).
    for missing in ["cus_nobody", cus.as_str()] {
        let (s, e) = net.post(
            "/v1/payment_intents",
            &[
                ("amount", "1200"),
                ("currency", "jpy"),
                ("customer", missing),
            ],
        );
        assert_eq!(
            (s, &e["error"]["code"], &e["error"]["param"]),
            (404, &json!("resource_missing"), &json!("customer")),
            "{e}"
        );
        assert_eq!(
            e["error"]["message"],
            json!(format!("No such customer: '{missing}'"))
        );
    }
    // Not expanded unless asked.
    let (_, plain) = net.get(&format!("/v1/payment_intents/{id}"));
    assert!(plain["latest_charge"].is_string() && plain["payment_method"].is_string());
    // Null stays null.
    let bare_id = bare.1["id"].as_str().unwrap();
    let (_, b) = net.get(&format!(
        "/v1/payment_intents/{bare_id}?expand[]=customer&expand[]=latest_charge&expand[]=payment_method"
    ));
    assert_eq!(
        (&b["customer"], &b["latest_charge"], &b["payment_method"]),
        (&Value::Null, &Value::Null, &Value::Null)
    );
    // A charge: its refunds only when expanded, its payment intent.
    let charge_id = v["latest_charge"]["id"].as_str().unwrap();
    let (_, c) = net.get(&format!("/v1/charges/{charge_id}"));
    assert!(c.get("refunds").is_none(), "{c}");
    let (_, c) = net.get(&format!(
        "/v1/charges/{charge_id}?expand[]=refunds&expand[]=payment_intent"
    ));
    assert_eq!(c["refunds"]["object"], "list");
    assert_eq!(c["payment_intent"]["id"], json!(id));

    // Lists: data.*.
    let (s, l) = net.get("/v1/payment_intents?expand[]=data.latest_charge");
    assert_eq!(s, 200, "{l}");
    assert_eq!(l["data"][0]["latest_charge"]["object"], "charge");
    assert_eq!(l["data"][1]["latest_charge"], Value::Null);

    // Refused as Stripe refuses them: no code, no param, before the object is looked up.
    for (path, query, message) in [
        (
            "/v1/payment_intents/pi_missing",
            "expand[]=latest_charge.bogus.x",
            "This property cannot be expanded (latest_charge.bogus).",
        ),
        (
            "/v1/payment_intents",
            "expand[]=latest_charge",
            "This property cannot be expanded (latest_charge). You may want to try expanding 'data.latest_charge' instead.",
        ),
        (
            "/v1/charges/ch_missing",
            "expand[]=amount",
            "This property cannot be expanded (amount).",
        ),
    ] {
        let (s, e) = net.get(&format!("{path}?{query}"));
        assert_eq!(s, 400, "{e}");
        assert_eq!(
            e,
            json!({"error": {"type": "invalid_request_error", "message": message}})
        );
    }
    let (s, _) = net.post(
        "/v1/payment_intents",
        &[
            ("amount", "1200"),
            ("currency", "jpy"),
            ("expand[]", "nope"),
        ],
    );
    assert_eq!(s, 400);
    let (_, all) = net.get("/v1/payment_intents?limit=100");
    assert_eq!(
        all["data"].as_array().unwrap().len(),
        2,
        "the refused create made nothing"
    );
}

#[test]
fn payment_intents_are_searched_with_stripes_query_language() {
    let dir = tempdir();
    let net = Net::start(&dir.path().join("net.db"), &[]);
    let mut ids = Vec::new();
    for (amount, order) in [("1200", "a"), ("1300", "b"), ("1400", "a")] {
        let (s, pi) = net.post(
            "/v1/payment_intents",
            &[
                ("amount", amount),
                ("currency", "jpy"),
                ("metadata[order]", order),
            ],
        );
        assert_eq!(s, 200, "{pi}");
        ids.push(pi["id"].as_str().unwrap().to_owned());
    }
    let q = |query: &str, extra: &str| {
        let query: String = form_urlencoded::byte_serialize(query.as_bytes()).collect();
        net.get(&format!("/v1/payment_intents/search?query={query}{extra}"))
    };
    let (s, v) = q("metadata['order']:'a' AND amount>1200", "");
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["object"], "search_result");
    assert_eq!(v["url"], "/v1/payment_intents/search");
    assert_eq!(v["has_more"], false);
    assert_eq!(v["next_page"], Value::Null);
    assert_eq!(v["data"].as_array().unwrap().len(), 1);
    assert_eq!(v["data"][0]["id"], json!(ids[2]));
    let (_, p1) = q("amount>0", "&limit=2");
    assert_eq!(p1["has_more"], true);
    let next = p1["next_page"].as_str().unwrap().to_owned();
    let (_, p2) = q("amount>0", &format!("&limit=2&page={next}"));
    assert_eq!(p2["data"][0]["id"], json!(ids[0]));
    assert_eq!(p2["has_more"], false);
    // A page token of another query, a bad query, no query.
    let (s, e) = q("amount>1", &format!("&page={next}"));
    assert_eq!((s, &e["error"]["param"]), (400, &json!("page")));
    let (s, e) = q("status:'a' AND amount>1 OR amount<5", "");
    assert_eq!(s, 400, "{e}");
    assert_eq!(e["error"]["type"], "invalid_request_error");
    assert_eq!(e["error"]["param"], "query");
    assert_eq!(
        e["error"]["message"],
        "AND and OR cannot be combined in one query."
    );
    let (s, e) = net.get("/v1/payment_intents/search");
    assert_eq!((s, &e["error"]["code"]), (400, &json!("parameter_missing")));
}

/// Run a script of tests/python with stripe-python (in the venv tests/python/stripe-venv.sh
/// makes) against a fresh network; it prints `ok: <name>`.
fn run_python(script: &str, ok: &str) {
    run_python_with(script, ok, &[]);
}

/// [`run_python`] with more environment for the script.
pub(crate) fn run_python_with(script: &str, ok: &str, env: &[(&str, &str)]) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = std::process::Command::new("bash")
        .arg(root.join("tests/python/stripe-venv.sh"))
        .output()
        .expect("bash runs");
    assert!(
        out.status.success(),
        "stripe-python could not be installed from PyPI: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let python = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let dir = tempdir();
    let net = Net::start(&dir.path().join("net.db"), &[]);
    let out = std::process::Command::new(python)
        .arg(root.join("tests/python").join(script))
        .env("NETWORK_URL", &net.url)
        .env("STRIPE_KEY", KEY)
        .envs(env.iter().copied())
        .output()
        .expect("python");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "stripe-python run of {script} failed:\n{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains(ok), "{text}");
}

#[test]
fn the_official_stripe_python_library_works_unmodified() {
    run_python("payment_intents.py", "ok: python");
}

#[test]
fn stripe_python_sells_products_at_one_time_and_recurring_yen_prices() {
    run_python("catalog.py", "ok: catalog");
}

#[test]
fn stripe_python_keeps_customers_and_their_konbini_payment_methods() {
    run_python("customers.py", "ok: customers");
}

/// A browser screenshot (8-bit RGB or RGBA PNG) as a grey PGM for zxing-cpp.
fn screenshot_pgm(png_path: &Path, pgm_path: &Path) {
    let bytes = std::fs::read(png_path).unwrap();
    let mut decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder.read_info().expect("a PNG");
    let mut buf = vec![0; reader.output_buffer_size().expect("size")];
    let info = reader.next_frame(&mut buf).expect("a frame");
    let channels = info.color_type.samples();
    let mut out = format!("P5 {} {} 255\n", info.width, info.height).into_bytes();
    for px in buf[..info.buffer_size()].chunks_exact(channels) {
        // Rec. 601 luma of the colour channels; grey pictures pass through.
        let luma = if channels >= 3 {
            (299 * u32::from(px[0]) + 587 * u32::from(px[1]) + 114 * u32::from(px[2])) / 1000
        } else {
            u32::from(px[0])
        };
        out.push(luma as u8);
    }
    std::fs::write(pgm_path, out).unwrap();
}

/// Issue 18 point 7: the hosted voucher in Chromium on a phone (390 px at scale 2) and a
/// desktop (1280 px at scale 1), and on a 320-pixel phone at scale 2 and a 360-pixel one at
/// scale 3, draws each module on whole device pixels
/// (tests/node/voucher-page.mjs checks the layout, names, markup and void vouchers), and
/// zxing-cpp, a decoder this project did not write, reads the 44 digits off a full-page
/// screenshot of each; a cancelled voucher's screenshot has nothing to read.
#[test]
fn the_voucher_barcode_is_read_by_zxing_from_phone_and_desktop_screenshots() {
    let shots = tempdir();
    run_node_with(
        "voucher-page.mjs",
        "ok: voucher page",
        &[("OUT_DIR", shots.path().as_os_str())],
    );
    let barcode = std::fs::read_to_string(shots.path().join("barcode.txt")).unwrap();
    assert_eq!(barcode.len(), 44, "{barcode}");
    for shot in [
        "voucher-phone",
        "voucher-desktop",
        "voucher-small",
        "voucher-dense",
    ] {
        let pgm = shots.path().join(format!("{shot}.pgm"));
        screenshot_pgm(&shots.path().join(format!("{shot}.png")), &pgm);
        let read = crate::printer::zxing_reads(&pgm);
        assert!(
            read.iter()
                .any(|r| r.starts_with("Code128|") && r[8..].replace(['(', ')'], "") == barcode),
            "{shot}: {barcode} not in {read:?}"
        );
    }
    let pgm = shots.path().join("voucher-cancelled.pgm");
    screenshot_pgm(&shots.path().join("voucher-cancelled.png"), &pgm);
    assert_eq!(
        crate::printer::zxing_reads(&pgm),
        Vec::<String>::new(),
        "a cancelled voucher shows no barcode"
    );
}

/// Issue 18 point 6: the Stripe.js stand-in and the example shop
/// (examples/konbini-stripe-js) in Chromium: confirmKonbiniPayment with handleActions true
/// (the voucher over the page) and false, retrievePaymentIntent with only the publishable
/// fields, errors as `{error}`, and the publishable key refused with Stripe's 401
/// `secret_key_required` everywhere else (tests/node/stripe-js.mjs).
#[test]
fn stripe_js_confirms_konbini_payments_with_the_publishable_key_in_a_browser() {
    run_node("stripe-js.mjs", "ok: stripe.js");
}

/// Issue 18 point 6 without a browser: `--publishable-key` replaces the default one; the
/// publishable key reads and confirms a PaymentIntent only with its `client_secret`, is shown
/// only the publishable fields, and gets Stripe's 401 `secret_key_required` anywhere else;
/// `/v1` answers carry CORS headers and a browser's preflight is answered; a key that is not
/// a publishable one is refused at start, naming the flag.
#[test]
fn a_publishable_key_does_only_what_stripe_lets_it() {
    let dir = tempdir();
    let net = Net::start(
        &dir.path().join("net.db"),
        &["--publishable-key", "pk_test_shop"],
    );
    let pi = net.pay(1200, &[]);
    let id = pi["id"].as_str().unwrap();
    let secret = pi["client_secret"].as_str().unwrap();
    let pk = |method: &str, path: &str, body: &str| {
        net.raw(
            method,
            path,
            &[
                ("authorization", "Bearer pk_test_shop"),
                ("content-type", "application/x-www-form-urlencoded"),
            ],
            body.as_bytes().to_vec(),
        )
    };
    let required = json!({"error": {
        "type": "invalid_request_error",
        "code": "secret_key_required",
        "message": "This API call cannot be made with a publishable API key. Please use a secret API key. You can find a list of your API keys at https://dashboard.stripe.com/account/apikeys.",
    }});
    for (method, path) in [
        ("GET", "/v1/payment_intents".to_owned()),
        ("POST", "/v1/payment_intents".to_owned()),
        ("POST", format!("/v1/payment_intents/{id}")),
        ("POST", format!("/v1/payment_intents/{id}/cancel")),
        ("GET", "/v1/events".to_owned()),
        ("GET", "/v1/no_such_thing".to_owned()),
    ] {
        assert_eq!(
            pk(method, &path, "amount=1300"),
            (401, required.clone()),
            "{method} {path}"
        );
    }
    // Retrieve: with the client secret only, and only the publishable fields.
    let (s, v) = pk(
        "GET",
        &format!("/v1/payment_intents/{id}?client_secret={secret}"),
        "",
    );
    assert_eq!(s, 200, "{v}");
    let mut keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "amount",
            "automatic_payment_methods",
            "canceled_at",
            "cancellation_reason",
            "capture_method",
            "client_secret",
            "confirmation_method",
            "created",
            "currency",
            "description",
            "id",
            "last_payment_error",
            "livemode",
            "next_action",
            "object",
            "payment_method",
            "payment_method_types",
            "processing",
            "receipt_email",
            "setup_future_usage",
            "shipping",
            "status"
        ]
    );
    assert_eq!(v["next_action"], pi["next_action"]);
    let (s, v) = pk("GET", &format!("/v1/payment_intents/{id}"), "");
    assert_eq!(
        (s, &v["error"]["code"], &v["error"]["param"]),
        (400, &json!("parameter_missing"), &json!("client_secret"))
    );
    let (s, v) = pk(
        "GET",
        &format!("/v1/payment_intents/{id}?client_secret={id}_secret_guess"),
        "",
    );
    assert_eq!(s, 400, "{v}");
    assert_eq!(
        v["error"]["message"],
        "The client_secret provided does not match the client_secret associated with the PaymentIntent."
    );
    // Confirm: the same rule; a confirm with the right secret issues a new voucher.
    let confirm = format!("/v1/payment_intents/{id}/confirm");
    let (s, v) = pk(
        "POST",
        &confirm,
        "payment_method_options[konbini][confirmation_number]=09012345678",
    );
    assert_eq!(
        (s, &v["error"]["param"]),
        (400, &json!("client_secret")),
        "{v}"
    );
    let (s, v) = pk(
        "POST",
        &confirm,
        &format!(
            "client_secret={secret}&payment_method_options[konbini][confirmation_number]=09012345678"
        ),
    );
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        v["next_action"]["konbini_display_details"]["stores"]["lawson"]["confirmation_number"],
        "09012345678"
    );
    assert!(v.get("payment_method_options").is_none(), "{v}");
    // An idempotency key the secret key used is never replayed to the publishable key.
    let form = ("content-type", "application/x-www-form-urlencoded");
    let body = format!("client_secret={secret}");
    let sk_auth = format!("Bearer {KEY}");
    let (s, v) = net.raw(
        "POST",
        &confirm,
        &[
            ("authorization", &sk_auth),
            form,
            ("idempotency-key", "k-1"),
        ],
        body.clone().into_bytes(),
    );
    assert_eq!(s, 200, "{v}");
    let (s, v) = net.raw(
        "POST",
        &confirm,
        &[
            ("authorization", "Bearer pk_test_shop"),
            form,
            ("idempotency-key", "k-1"),
        ],
        body.into_bytes(),
    );
    assert_eq!(
        (s, &v["error"]["type"]),
        (400, &json!("idempotency_error")),
        "{v}"
    );
    // The secret key may send a client secret too, but not a wrong one.
    let (s, _) = net.get(&format!("/v1/payment_intents/{id}?client_secret={secret}"));
    assert_eq!(s, 200);
    let (s, v) = net.get(&format!(
        "/v1/payment_intents/{id}?client_secret=pi_x_secret_y"
    ));
    assert_eq!((s, &v["error"]["param"]), (400, &json!("client_secret")));
    // The default publishable key is gone once another is given; a wrong one is named as one.
    let (s, v) = net.raw(
        "GET",
        "/v1/payment_intents",
        &[("authorization", "Bearer pk_test_it")],
        Vec::new(),
    );
    assert_eq!(s, 401);
    assert_eq!(
        v["error"]["message"],
        "Invalid API Key provided: pk_test_****t_it"
    );

    // CORS: an answer says who may read it; a preflight is answered without a key.
    let r = reqwest::blocking::Client::new()
        .get(format!(
            "{}/v1/payment_intents/{id}?client_secret={secret}",
            net.url
        ))
        .bearer_auth("pk_test_shop")
        .header("origin", "http://shop.example")
        .send()
        .unwrap();
    assert_eq!(r.headers()["access-control-allow-origin"], "*");
    let r = reqwest::blocking::Client::new()
        .request(
            reqwest::Method::OPTIONS,
            format!("{}/v1/payment_intents/{id}/confirm", net.url),
        )
        .header("origin", "http://shop.example")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization,content-type",
        )
        .send()
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(r.headers()["access-control-allow-origin"], "*");
    let allowed = r.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap();
    assert!(
        allowed.contains("Authorization") && allowed.contains("Content-Type"),
        "{allowed}"
    );
    assert!(
        r.headers()["access-control-allow-methods"]
            .to_str()
            .unwrap()
            .contains("POST")
    );
    // The script pages load.
    let r = reqwest::blocking::get(format!("{}/js/v3/stripe.js", net.url)).unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["content-type"],
        "text/javascript; charset=utf-8"
    );
    assert_eq!(r.headers()["cache-control"], "public, max-age=300");
    assert!(r.text().unwrap().contains("confirmKonbiniPayment"));
    net.kill();

    // A key that is not publishable is refused at start, naming the flag.
    for bad in ["sk_test_other", "sk_test_it", "pk_test_with space"] {
        let out = konbini()
            .args([
                "network",
                "--listen",
                "127.0.0.1:0",
                "--api-key",
                KEY,
                "--db",
            ])
            .arg(dir.path().join("bad.db"))
            .args(["--publishable-key", bad])
            .output()
            .unwrap();
        assert!(!out.status.success(), "{bad}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("--publishable-key"), "{bad}: {err}");
    }
}

/// Issue 18 point 6 with stripe-python 16.1.0, unmodified (tests/python/publishable_key.py):
/// the publishable key's 401 `secret_key_required` is its `AuthenticationError`, as from
/// Stripe, and it still retrieves a PaymentIntent with the client secret.
#[test]
fn stripe_python_raises_an_authentication_error_for_a_publishable_key() {
    run_python_with(
        "publishable_key.py",
        "ok: python publishable key",
        &[("STRIPE_PUBLISHABLE_KEY", PUBLISHABLE_KEY)],
    );
}
