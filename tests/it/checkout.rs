//! Checkout Sessions, their hosted page and Payment Links against a real `konbini network`:
//! the official stripe-node (with the page driven in Chromium: tests/node/checkout.mjs) and
//! stripe-python (tests/python/checkout.py), and the page's answers to every kind of input
//! over plain HTTP (an HTML page each time, never an error dump).

use serde_json::Value;

use crate::common::tempdir;
use crate::network::{Net, TERMINALS};

/// A session of one ¥1,200 line whose product name carries HTML.
fn session(net: &Net, extra: &[(&str, &str)]) -> Value {
    let mut form = vec![
        ("line_items[0][price_data][currency]", "jpy"),
        (
            "line_items[0][price_data][product_data][name]",
            "<script>alert(1)</script>Tea",
        ),
        ("line_items[0][price_data][unit_amount]", "600"),
        ("line_items[0][quantity]", "2"),
        (
            "success_url",
            "https://shop.example/done?id={CHECKOUT_SESSION_ID}",
        ),
    ];
    form.extend_from_slice(extra);
    let (s, v) = net.post("/v1/checkout/sessions", &form);
    assert_eq!(s, 200, "{v}");
    v
}

/// The page at `url` (GET, or POST of `form`), not following redirects: status, location,
/// content type and body.
fn page(url: &str, form: Option<&[(&str, &str)]>) -> (u16, String, String, String) {
    let http = reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = match form {
        None => http.get(url).send().unwrap(),
        Some(f) => http.post(url).form(f).send().unwrap(),
    };
    let header = |name: &str| {
        r.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    let (location, kind) = (header("location"), header("content-type"));
    (r.status().as_u16(), location, kind, r.text().unwrap())
}

#[test]
fn the_checkout_page_answers_every_input_with_a_page() {
    let dir = tempdir();
    let net = Net::start(&dir.path().join("net.db"), &[]);
    let s = session(&net, &[("customer_email", "hanako@example.jp")]);
    let url = s["url"].as_str().unwrap().to_owned();
    let id = s["id"].as_str().unwrap();

    let (status, _, kind, body) = page(&url, None);
    assert_eq!(status, 200);
    assert!(kind.starts_with("text/html"), "{kind}");
    assert!(
        body.contains("&lt;script&gt;alert(1)&lt;/script&gt;Tea"),
        "{body}"
    );
    assert!(!body.contains("<script>"), "{body}");
    assert!(body.contains("value=\"hanako@example.jp\""));
    assert!(body.contains("lang=\"ja\""));
    let (_, _, _, en) = page(&format!("{url}?lang=en"), None);
    assert!(en.contains("lang=\"en\"") && en.contains("Get my payment number"));

    // Bad input comes back as the form with its message; nothing is kept.
    for (form, message) in [
        (
            vec![("name", ""), ("email", "hanako@example.jp")],
            "お名前を入力してください",
        ),
        (
            vec![
                ("name", "あいうえおかきくけこさしすせそたちつてとな"),
                ("email", "hanako@example.jp"),
            ],
            "20文字以内",
        ),
        (
            vec![("name", "Hanako"), ("email", "hanako")],
            "メールアドレス",
        ),
        (
            vec![
                ("name", "Hanako"),
                ("email", "hanako@example.jp"),
                ("phone", "12345"),
            ],
            "10桁または11桁",
        ),
    ] {
        let (status, _, kind, body) = page(&url, Some(&form));
        assert_eq!(status, 400, "{form:?}");
        assert!(kind.starts_with("text/html"));
        assert!(body.contains(message), "{form:?}: {body}");
        assert!(body.contains("role=\"alert\""));
    }
    assert_eq!(
        net.get(&format!("/v1/checkout/sessions/{id}")).1["status"],
        "open"
    );

    // Submitted: 303 to the voucher, which links on to success_url.
    let (status, location, _, _) = page(
        &url,
        Some(&[
            ("name", "Hanako <b>"),
            ("email", "hanako@example.jp"),
            ("phone", "09012345678"),
        ]),
    );
    assert_eq!(status, 303);
    assert!(location.starts_with("/vouchers/"), "{location}");
    let (status, _, _, voucher) = page(&format!("{}{location}", net.url), None);
    assert_eq!(status, 200);
    assert!(
        voucher.contains(&format!("https://shop.example/done?id={id}")),
        "{voucher}"
    );
    let (_, v) = net.get(&format!(
        "/v1/checkout/sessions/{id}?expand[]=payment_intent"
    ));
    assert_eq!(v["status"], "complete");
    assert_eq!(v["payment_status"], "unpaid");
    assert_eq!(v["customer_details"]["name"], "Hanako <b>");
    assert_eq!(v["payment_intent"]["amount"], 1200);
    assert_eq!(
        v["payment_intent"]["payment_method_options"]["konbini"]["confirmation_number"],
        "09012345678"
    );

    // Once completed: the page says so, and a second submission is refused.
    let (status, _, _, body) = page(&url, None);
    assert_eq!(status, 200);
    assert!(body.contains("すでに完了") && body.contains("/vouchers/"));
    let again = [("name", "Jiro"), ("email", "jiro@example.jp")];
    let (status, _, _, body) = page(&url, Some(&again));
    assert_eq!(status, 409);
    assert!(body.contains("すでに完了"));

    // Expired by the merchant: the page says so.
    let other = session(&net, &[]);
    let other_id = other["id"].as_str().unwrap();
    let (s, v) = net.post(&format!("/v1/checkout/sessions/{other_id}/expire"), &[]);
    assert_eq!((s, &v["status"]), (200, &Value::from("expired")));
    let (s, e) = net.post(&format!("/v1/checkout/sessions/{other_id}/expire"), &[]);
    assert_eq!(s, 400, "{e}");
    assert_eq!(
        e["error"]["message"],
        "Only Checkout Sessions with a status in [\"open\"] can be expired. This Checkout Session has a status of `expired`."
    );
    let other_url = format!("{}/checkout/{other_id}", net.url);
    let (status, _, _, body) = page(&other_url, None);
    assert_eq!(status, 200);
    assert!(body.contains("有効期限が切れています"));
    let (status, _, _, _) = page(&other_url, Some(&again));
    assert_eq!(status, 409);

    // A customer's session: the email comes from the customer, and the payment is theirs.
    let (_, customer) = net.post(
        "/v1/customers",
        &[("email", "saburo@example.jp"), ("name", "Saburo")],
    );
    let cus = customer["id"].as_str().unwrap();
    let theirs = session(&net, &[("customer", cus)]);
    let theirs_url = theirs["url"].as_str().unwrap();
    let (_, _, _, body) = page(theirs_url, None);
    assert!(body.contains("value=\"saburo@example.jp\""), "{body}");
    let (status, _, _, _) = page(
        theirs_url,
        Some(&[("name", "Saburo"), ("email", "saburo@example.jp")]),
    );
    assert_eq!(status, 303);
    let (_, v) = net.get(&format!(
        "/v1/checkout/sessions/{}?expand[]=payment_intent&expand[]=customer",
        theirs["id"].as_str().unwrap()
    ));
    assert_eq!(v["payment_intent"]["customer"], cus);
    assert_eq!(v["customer"]["email"], "saburo@example.jp");
    let (s, e) = net.post(
        "/v1/checkout/sessions",
        &[
            ("line_items[0][price_data][currency]", "jpy"),
            ("line_items[0][price_data][product_data][name]", "Tea"),
            ("line_items[0][price_data][unit_amount]", "600"),
            ("customer", "cus_nobody"),
        ],
    );
    assert_eq!((s, &e["error"]["param"]), (404, &Value::from("customer")));

    // Unknown ids are 404 pages, in HTML, on every page route, in the page's language.
    for (path, lang, says) in [
        ("/checkout/cs_test_missing", "ja", "ページが見つかりません"),
        ("/checkout/cs_test_missing?lang=en", "en", "Not found"),
        ("/pay/no-such-link", "ja", "ページが見つかりません"),
        (
            "/vouchers/no-such-voucher",
            "ja",
            "この払込票は見つかりません",
        ),
        (
            "/vouchers/no-such-voucher?lang=en",
            "en",
            "This payment voucher does not exist",
        ),
        (
            "/refunds/no-such-refund",
            "ja",
            "This refund page does not exist",
        ),
    ] {
        let (status, _, kind, body) = page(&format!("{}{path}", net.url), None);
        assert_eq!(status, 404, "{path}");
        assert!(kind.starts_with("text/html"), "{path}: {kind}");
        assert!(body.starts_with("<!DOCTYPE html>"));
        assert!(
            body.contains(&format!("<html lang=\"{lang}\">")),
            "{path}: {body}"
        );
        assert!(
            body.contains("name=\"viewport\""),
            "{path}: made for a phone"
        );
        assert!(body.contains(says), "{path}: {body}");
    }
    let (status, _, kind, _) = page(
        &format!("{}/checkout/cs_test_missing", net.url),
        Some(&again),
    );
    assert_eq!((status, kind.starts_with("text/html")), (404, true));
}

/// Runs tests/node/checkout.mjs: stripe-node makes sessions and links, Chromium completes
/// the page on a phone viewport, a signed register confirmation pays the voucher, the test
/// clock expires a session and a voucher, every webhook verified by the library.
#[test]
fn stripe_node_and_a_browser_run_checkout_and_payment_links() {
    let (id, secret) = TERMINALS[0];
    crate::network::run_node_with(
        "checkout.mjs",
        "ok: checkout",
        &[
            ("TERMINAL_ID", id.as_ref()),
            ("TERMINAL_SECRET", secret.as_ref()),
        ],
    );
}

/// Runs tests/python/checkout.py: stripe-python makes, reads, lists and expires sessions,
/// is refused as Stripe refuses, and makes and deactivates a Payment Link.
#[test]
fn stripe_python_makes_sessions_and_payment_links() {
    crate::network::run_python_with("checkout.py", "ok: python checkout", &[]);
}

/// `customer_creation: always` makes a Customer from what the customer gives on the page
/// (`customer.created`), named by the session and its PaymentIntent; `if_required` (the
/// default) makes none for a one-time konbini payment; a session with a `customer` uses it.
#[test]
fn customer_creation_always_makes_a_customer_from_the_page_and_if_required_none() {
    let dir = tempdir();
    let net = Net::start(&dir.path().join("net.db"), &[]);
    let submit = |s: &Value, form: &[(&str, &str)]| {
        let (status, location, _, body) = page(s["url"].as_str().unwrap(), Some(form));
        assert_eq!(status, 303, "{body}");
        assert!(location.starts_with("/vouchers/"), "{location}");
        let (_, v) = net.get(&format!(
            "/v1/checkout/sessions/{}?expand[]=customer&expand[]=payment_intent",
            s["id"].as_str().unwrap()
        ));
        v
    };
    let customers = |net: &Net| net.get("/v1/customers").1["data"].as_array().unwrap().len();

    let plain = session(&net, &[]);
    assert_eq!(plain["customer_creation"], "if_required");
    let done = submit(&plain, &[("name", "Jiro"), ("email", "jiro@example.jp")]);
    assert_eq!(done["customer"], Value::Null);
    assert_eq!(done["payment_intent"]["customer"], Value::Null);
    assert_eq!(customers(&net), 0, "if_required makes no Customer");

    let always = session(&net, &[("customer_creation", "always")]);
    assert_eq!(
        (&always["customer_creation"], &always["customer"]),
        (&Value::from("always"), &Value::Null)
    );
    let done = submit(
        &always,
        &[
            ("name", "Hanako <b>"),
            ("email", "hanako@example.jp"),
            ("phone", "090-1234-5678"),
        ],
    );
    let customer = &done["customer"];
    assert_eq!(customer["object"], "customer");
    assert_eq!(
        (&customer["name"], &customer["email"], &customer["phone"]),
        (
            &Value::from("Hanako <b>"),
            &Value::from("hanako@example.jp"),
            &Value::from("09012345678")
        )
    );
    let cus = customer["id"].as_str().unwrap();
    assert_eq!(done["payment_intent"]["customer"], cus);
    assert_eq!(done["customer_creation"], "always");
    assert_eq!(customers(&net), 1);
    let (_, events) = net.get("/v1/events?type=customer.created");
    assert_eq!(events["data"][0]["data"]["object"]["id"], cus);
    let (_, listed) = net.get(&format!("/v1/checkout/sessions?customer={cus}"));
    assert_eq!(listed["data"][0]["id"], always["id"]);

    // A refused submission (a rejected confirmation number) keeps no Customer.
    let refused = session(&net, &[("customer_creation", "always")]);
    let (status, _, _, _) = page(
        refused["url"].as_str().unwrap(),
        Some(&[
            ("name", "Saburo"),
            ("email", "saburo@example.jp"),
            ("phone", "01234567890"),
        ]),
    );
    assert_eq!(status, 400);
    assert_eq!(customers(&net), 1);

    // A session for a customer uses that one, and says null for customer_creation.
    let theirs = session(&net, &[("customer", cus)]);
    assert_eq!(theirs["customer_creation"], Value::Null);
    let done = submit(
        &theirs,
        &[("name", "Hanako"), ("email", "hanako@example.jp")],
    );
    assert_eq!(done["payment_intent"]["customer"], cus);
    assert_eq!(customers(&net), 1);

    // Payment Links take it and pass it on to each session.
    let (s, link) = net.post(
        "/v1/payment_links",
        &[
            ("line_items[0][price]", &price(&net)),
            ("line_items[0][quantity]", "1"),
            ("customer_creation", "always"),
        ],
    );
    assert_eq!(s, 200, "{link}");
    assert_eq!(link["customer_creation"], "always");
    let (status, location, _, _) = page(link["url"].as_str().unwrap(), None);
    assert_eq!(status, 303);
    let made = location
        .rsplit('/')
        .next()
        .unwrap()
        .split('?')
        .next()
        .unwrap();
    let (_, from_link) = net.get(&format!("/v1/checkout/sessions/{made}"));
    assert_eq!(from_link["customer_creation"], "always");
    for path in ["/v1/checkout/sessions", "/v1/payment_links"] {
        let (s, e) = net.post(
            path,
            &[
                ("line_items[0][price]", &price(&net)),
                ("line_items[0][quantity]", "1"),
                ("customer_creation", "sometimes"),
            ],
        );
        assert_eq!(
            (s, &e["error"]["param"]),
            (400, &Value::from("customer_creation")),
            "{path}: {e}"
        );
    }
}

/// A ¥800 Price of a new Product.
fn price(net: &Net) -> String {
    let (s, p) = net.post(
        "/v1/prices",
        &[
            ("currency", "jpy"),
            ("unit_amount", "800"),
            ("product_data[name]", "Tea"),
        ],
    );
    assert_eq!(s, 200, "{p}");
    p["id"].as_str().unwrap().to_owned()
}

/// The whole journey with a register in it: a customer completes a session's page, takes
/// the voucher to a store, and `konbini replay` (the register's core, journal and sync task)
/// scans its barcode, takes the cash and sends the slip up; the session becomes `paid` and
/// the merchant hears `checkout.session.async_payment_succeeded`, once.
#[test]
fn a_replayed_register_pays_a_checkout_voucher_and_the_session_is_paid() {
    use serde_json::json;
    let dir = tempdir();
    let net = Net::start(&dir.path().join("net.db"), &[]);
    let s = session(&net, &[]);
    let (url, id) = (s["url"].as_str().unwrap(), s["id"].as_str().unwrap());
    let (status, location, _, _) = page(
        url,
        Some(&[("name", "Hanako"), ("email", "hanako@example.jp")]),
    );
    assert_eq!(status, 303, "{location}");
    let (_, v) = net.get(&format!(
        "/v1/checkout/sessions/{id}?expand[]=payment_intent"
    ));
    assert_eq!(v["payment_status"], "unpaid");
    let barcode = crate::network::barcode_of(&v["payment_intent"]);

    let base = net.now() + 1;
    let at = |s: usize| crate::sync::log_time(base, s);
    let lines = [
        json!({"konbini_scan_log": 1, "terminal": TERMINALS[0].0,
            "store": {"code": "0042", "chain": "lawson", "name": "ローソン 札幌北口店"}}),
        json!({"at": at(0), "scan": format!("]C1{barcode}")}),
        json!({"at": at(10), "tender": 2000}),
        json!({"at": at(20), "complete": true}),
    ];
    let log = dir.path().join("store.jsonl");
    std::fs::write(
        &log,
        lines.iter().map(|l| format!("{l}\n")).collect::<String>(),
    )
    .unwrap();
    net.advance(60);
    let journal = dir.path().join("journal.db");
    let summary = crate::sync::summary(&crate::sync::replay(
        &log,
        &journal,
        &net.url,
        TERMINALS[0].1,
        "30",
        &[],
    ));
    assert_eq!(summary["sales"]["completed"], 1, "{summary}");
    assert_eq!(summary["sync"]["sent"], 1, "{summary}");

    let start = std::time::Instant::now();
    let paid = loop {
        let (_, v) = net.get(&format!("/v1/checkout/sessions/{id}"));
        if v["payment_status"] == "paid" || start.elapsed() > std::time::Duration::from_secs(10) {
            break v;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert_eq!(paid["payment_status"], "paid", "{paid}");
    assert_eq!(paid["status"], "complete");
    let (_, events) = net.get("/v1/events?type=checkout.session.async_payment_succeeded");
    let for_this: Vec<_> = events["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["data"]["object"]["id"] == id)
        .collect();
    assert_eq!(for_this.len(), 1, "{events}");
    assert_eq!(for_this[0]["data"]["object"]["payment_status"], "paid");
}
