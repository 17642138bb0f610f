//! The embedded payment network: the in-process `konbini network` the register UI starts
//! when no upstream is configured, and the demo payments a newcomer pays with.
//!
//! It owns two things. [`start`] opens the network's store, makes a fresh random merchant
//! key and terminal secret (they live only in [`Settings`]: the store keeps no keys, so an
//! old store from a run with other keys opens as well as a new one), and serves on a
//! loopback port until [`Embedded::stop`] or drop. [`make_demo_payments`] creates and
//! confirms konbini PaymentIntents over HTTP exactly as a merchant's server would (form
//! bodies with Stripe's bracket nesting, a bearer key, an `Idempotency-Key`) and reads each
//! voucher back from the answer, believing nothing it has not checked.
//!
//! It must never touch the network's store other than through [`Network::open`] and HTTP,
//! never listen anywhere but 127.0.0.1, and never print: the register UI owns the terminal.

use std::fmt;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde_json::Value;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use konbini_domain::{BillBarcode, Chain, KONBINI_MAX, KONBINI_MIN, STAMP_THRESHOLD, Yen};
use konbini_network::ids::random_alnum;
use konbini_network::{Network, Settings, StartError};

use crate::sync::upstream::describe;

/// The demo payments' amounts in yen: everyday orders, one under ¥1,000, and one at or over
/// the ¥50,000 revenue-stamp threshold on purpose (its slip carries the stamp flag).
pub const DEMO_AMOUNTS: [u64; 5] = [1980, 3500, 12800, 550, 54000];

// Every demo amount is a valid konbini payment, and one needs a revenue stamp.
const _: () = {
    let mut i = 0;
    let mut stamped = false;
    while i < DEMO_AMOUNTS.len() {
        assert!(DEMO_AMOUNTS[i] >= KONBINI_MIN.get() && DEMO_AMOUNTS[i] <= KONBINI_MAX.get());
        stamped |= DEMO_AMOUNTS[i] >= STAMP_THRESHOLD.get();
        i += 1;
    }
    assert!(stamped);
};

/// The demo customers: name (stores show at most 20 characters) and email. None of the
/// emails is one of Stripe's test-mode magic addresses (`...succeed_immediately@`,
/// `...expire_immediately@`, `...expire_with_delay@`, `...fill_never@`): a demo payment
/// waits for a register to take the cash, like a real one.
const DEMO_CUSTOMERS: [(&str, &str); 5] = [
    ("山田 花子", "hanako.yamada@example.jp"),
    ("佐藤 健太", "kenta.sato@example.jp"),
    ("鈴木 さくら", "sakura.suzuki@example.jp"),
    ("高橋 大輔", "daisuke.takahashi@example.jp"),
    ("田中 美咲", "misaki.tanaka@example.jp"),
];

/// The next demo order number, so that the orders of one session read #1001, #1002, ...
static NEXT_ORDER: AtomicU64 = AtomicU64::new(1001);

/// How long one merchant API call may take.
const HTTP_TIMEOUT: Duration = Duration::from_secs(10);

/// Characters of random in the merchant key (after `sk_test_`) and the terminal secret.
const KEY_CHARS: usize = 24;
const SECRET_CHARS: usize = 32;

/// Longest terminal id taken: it travels in the `Konbini-Terminal` header.
const TERMINAL_ID_MAX_CHARS: usize = 64;

/// The embedded network could not start, or a demo payment could not be made.
#[derive(Debug, thiserror::Error)]
pub enum EmbeddedError {
    /// The terminal id cannot be sent in a `Konbini-Terminal` header.
    #[error(
        "terminal id {0:?} cannot be used with the embedded network: it must be 1-{TERMINAL_ID_MAX_CHARS} visible ASCII characters"
    )]
    TerminalId(String),
    /// No loopback port to listen on.
    #[error("the embedded network cannot listen on 127.0.0.1: {0}")]
    Listen(#[source] std::io::Error),
    /// The network's store would not open (its message names the file).
    #[error("the embedded network cannot open its store: {source}")]
    Store {
        /// The store's file.
        db: PathBuf,
        /// Why.
        source: StartError,
    },
    /// The server failed or its task was lost.
    #[error("the embedded network's server failed: {0}")]
    Server(String),
    /// No HTTP client.
    #[error("cannot build the HTTP client for the demo payments: {0}")]
    Client(#[source] reqwest::Error),
    /// The request got no answer (connection refused, timeout, ...).
    #[error("{method} {url}: no answer: {detail}")]
    Transport {
        /// `POST` or `GET`.
        method: &'static str,
        /// The address called.
        url: String,
        /// reqwest's error with its causes.
        detail: String,
    },
    /// The network answered with an error (Stripe's `error.message`, and `param`).
    #[error("{url} answered {status}: {message}")]
    Refused {
        /// The address called.
        url: String,
        /// The HTTP status.
        status: u16,
        /// What the network said.
        message: String,
    },
    /// The answer is not JSON.
    #[error("the answer of {url} is not JSON: {detail}")]
    NotJson {
        /// The address called.
        url: String,
        /// The parse error.
        detail: String,
    },
    /// The answer lacks a field a voucher needs.
    #[error("the answer of {url} has no {field}")]
    MissingField {
        /// The address called.
        url: String,
        /// The field, dotted (`next_action.konbini_display_details.barcode`).
        field: String,
    },
    /// A field of the answer is there but wrong.
    #[error("the answer of {url} has a bad {field}: {detail}")]
    BadField {
        /// The address called.
        url: String,
        /// The field, dotted.
        field: String,
        /// What is wrong with it.
        detail: String,
    },
}

/// A running embedded network. Stopped by [`Embedded::stop`] or when dropped.
pub struct Embedded {
    /// `http://127.0.0.1:PORT`: the merchant API, the terminal API and the voucher pages.
    pub url: String,
    /// This run's merchant key (`sk_test_...`), fresh and random at every start.
    pub api_key: String,
    /// The register's terminal id at this network.
    pub terminal_id: String,
    /// The terminal's shared secret, fresh and random at every start.
    pub terminal_secret: String,
    cancel: CancellationToken,
    /// The server task: ends after `cancel`, with the server's outcome.
    server: JoinHandle<std::io::Result<()>>,
}

impl fmt::Debug for Embedded {
    /// The keys are secrets: only their kind is shown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Embedded")
            .field("url", &self.url)
            .field("api_key", &"sk_test_…")
            .field("terminal_id", &self.terminal_id)
            .field("terminal_secret", &"…")
            .field("stopped", &self.cancel.is_cancelled())
            .finish()
    }
}

impl Embedded {
    /// Stop serving: the listener closes and open requests finish. Idempotent.
    pub fn stop(&self) {
        self.cancel.cancel();
    }

    /// Stop, and wait until the server has closed its port and answered its open requests;
    /// the server's failure, if it failed.
    pub async fn shutdown(mut self) -> Result<(), EmbeddedError> {
        self.stop();
        match (&mut self.server).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(EmbeddedError::Server(e.to_string())),
            Err(e) => Err(EmbeddedError::Server(e.to_string())),
        }
    }
}

impl Drop for Embedded {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

/// Start the embedded network on a free loopback port, its store at `db` (created if
/// missing; an existing one keeps its payments), with `terminal_id` as the one terminal
/// allowed to look up and confirm. Call inside a multi-thread tokio runtime (one worker is
/// enough): the store opens on the blocking pool and the server runs as a task.
pub async fn start(db: &Path, terminal_id: &str) -> Result<Embedded, EmbeddedError> {
    let id_ok = (1..=TERMINAL_ID_MAX_CHARS).contains(&terminal_id.len())
        && terminal_id.bytes().all(|b| b.is_ascii_graphic());
    if !id_ok {
        return Err(EmbeddedError::TerminalId(terminal_id.to_owned()));
    }
    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .map_err(EmbeddedError::Listen)?;
    let addr = listener.local_addr().map_err(EmbeddedError::Listen)?;
    let url = format!("http://{addr}");
    let api_key = format!("sk_test_{}", random_alnum(KEY_CHARS));
    let terminal_secret = random_alnum(SECRET_CHARS);

    let mut settings = Settings::new(&api_key);
    settings
        .terminals
        .insert(terminal_id.to_owned(), terminal_secret.clone());
    settings.public_url = url.clone();
    // Demo payments are paid at the register, never by the network on its own.
    settings.test_autopay = false;
    // One developer's machine: an endpoint on localhost is how its webhooks are received.
    settings.webhook_targets = konbini_network::webhooks::targets::WebhookTargets::Any;

    let net = Network::open(db, settings)
        .await
        .map_err(|source| EmbeddedError::Store {
            db: db.to_owned(),
            source,
        })?;

    let cancel = CancellationToken::new();
    let server = tokio::spawn(konbini_network::serve(net, listener, cancel.clone()));
    Ok(Embedded {
        url,
        api_key,
        terminal_id: terminal_id.to_owned(),
        terminal_secret,
        cancel,
        server,
    })
}

/// A confirmed demo payment: what its customer brings to the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoVoucher {
    /// `pi_...`.
    pub payment_intent: String,
    /// The amount to pay.
    pub amount: Yen,
    /// The customer's name.
    pub customer: String,
    /// What stores show for it (`product_description`), e.g. `オンラインストア ご注文 #1001`.
    pub description: String,
    /// The 44-digit GS1-128 bill barcode, checked to parse.
    pub barcode: String,
    /// The customer's number, the same at every chain.
    pub confirmation_number: String,
    /// The payment code at each chain, in [`Chain::ALL`] order.
    pub payment_codes: Vec<(Chain, String)>,
    /// When the voucher stops being payable, Unix seconds.
    pub expires_at: i64,
    /// The voucher page the customer was given (`hosted_voucher_url`), for a trainer to
    /// open; empty when the network gave none.
    pub voucher_url: String,
}

/// Create and confirm one konbini PaymentIntent per amount at the network at `url` (its
/// base, `http://host:port`) with the merchant key `api_key`, as a merchant's server does,
/// and read each voucher from the answer. Stops at the first failure.
pub async fn make_demo_payments(
    url: &str,
    api_key: &str,
    amounts: &[u64],
) -> Result<Vec<DemoVoucher>, EmbeddedError> {
    let client = reqwest::Client::builder()
        .timeout(HTTP_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        // Within the network's 30 s idle timeout (see `sync::upstream`).
        .pool_idle_timeout(std::time::Duration::from_secs(15))
        // The embedded network is on loopback: a proxy from the environment could only
        // get in the way.
        .no_proxy()
        .build()
        .map_err(EmbeddedError::Client)?;
    let endpoint = format!("{}/v1/payment_intents", url.trim_end_matches('/'));
    let mut vouchers = Vec::with_capacity(amounts.len());
    for &amount in amounts {
        let order = NEXT_ORDER.fetch_add(1, Ordering::Relaxed);
        let (customer, email) = DEMO_CUSTOMERS[(order % DEMO_CUSTOMERS.len() as u64) as usize];
        let description = format!("オンラインストア ご注文 #{order}");
        let amount_text = amount.to_string();
        let order_text = order.to_string();
        let params: [(&str, &str); 10] = [
            ("amount", &amount_text),
            ("currency", "jpy"),
            ("payment_method_types[]", "konbini"),
            ("confirm", "true"),
            ("description", &description),
            ("metadata[order]", &order_text),
            ("payment_method_data[type]", "konbini"),
            ("payment_method_data[billing_details][name]", customer),
            ("payment_method_data[billing_details][email]", email),
            (
                "payment_method_options[konbini][product_description]",
                &description,
            ),
        ];
        let answer = post_form(&client, &endpoint, api_key, &params).await?;
        let voucher = voucher_of(&endpoint, &answer, customer, &description)?;
        if voucher.amount != Yen::new(amount) {
            return Err(EmbeddedError::BadField {
                url: endpoint,
                field: "amount".into(),
                detail: format!("{} where {} was asked", voucher.amount, Yen::new(amount)),
            });
        }
        vouchers.push(voucher);
    }
    Ok(vouchers)
}

/// POST a form body to the merchant API; the JSON answer of a 2xx, or the error it names.
async fn post_form(
    client: &reqwest::Client,
    url: &str,
    api_key: &str,
    params: &[(&str, &str)],
) -> Result<Value, EmbeddedError> {
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish();
    let resp = client
        .post(url)
        .bearer_auth(api_key)
        .header("content-type", "application/x-www-form-urlencoded")
        // A retried request must not make a second payment.
        .header("idempotency-key", format!("demo-{}", random_alnum(24)))
        .body(body)
        .send()
        .await
        .map_err(|e| EmbeddedError::Transport {
            method: "POST",
            url: url.to_owned(),
            detail: describe(&e),
        })?;
    let status = resp.status();
    let bytes = resp.bytes().await.map_err(|e| EmbeddedError::Transport {
        method: "POST",
        url: url.to_owned(),
        detail: describe(&e),
    })?;
    let json = serde_json::from_slice::<Value>(&bytes);
    if !status.is_success() {
        let said = json.ok().and_then(|v| {
            let message = v["error"]["message"].as_str()?.to_owned();
            Some(match v["error"]["param"].as_str() {
                Some(p) => format!("{message} (param {p})"),
                None => message,
            })
        });
        return Err(EmbeddedError::Refused {
            url: url.to_owned(),
            status: status.as_u16(),
            message: said
                .unwrap_or_else(|| String::from_utf8_lossy(&bytes[..bytes.len().min(200)]).into()),
        });
    }
    json.map_err(|e| EmbeddedError::NotJson {
        url: url.to_owned(),
        detail: e.to_string(),
    })
}

/// The voucher in a confirmed PaymentIntent's JSON; a missing or wrong field is an error
/// naming it.
fn voucher_of(
    url: &str,
    pi: &Value,
    customer: &str,
    description: &str,
) -> Result<DemoVoucher, EmbeddedError> {
    let missing = |field: &str| EmbeddedError::MissingField {
        url: url.to_owned(),
        field: field.to_owned(),
    };
    let bad = |field: &str, detail: String| EmbeddedError::BadField {
        url: url.to_owned(),
        field: field.to_owned(),
        detail,
    };
    let text = |v: &Value, field: &str| -> Result<String, EmbeddedError> {
        match v {
            Value::Null => Err(missing(field)),
            Value::String(s) => Ok(s.clone()),
            other => Err(bad(field, format!("{other} is not a string"))),
        }
    };
    let integer = |v: &Value, field: &str| -> Result<i64, EmbeddedError> {
        match v {
            Value::Null => Err(missing(field)),
            other => other
                .as_i64()
                .ok_or_else(|| bad(field, format!("{other} is not an integer"))),
        }
    };

    let payment_intent = text(&pi["id"], "id")?;
    let status = text(&pi["status"], "status")?;
    if status != "requires_action" {
        return Err(bad(
            "status",
            format!("{status:?}, where a confirmed konbini payment is \"requires_action\""),
        ));
    }
    let amount = integer(&pi["amount"], "amount")?;
    let amount = Yen::try_from(amount).map_err(|_| bad("amount", format!("{amount} < 0")))?;

    const DETAILS: &str = "next_action.konbini_display_details";
    let details = &pi["next_action"]["konbini_display_details"];
    if details.is_null() {
        return Err(missing(DETAILS));
    }
    let expires_at = integer(&details["expires_at"], &format!("{DETAILS}.expires_at"))?;
    let voucher_url = details["hosted_voucher_url"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let barcode_field = format!("{DETAILS}.barcode");
    let barcode = text(&details["barcode"], &barcode_field)?;
    if let Err(e) = BillBarcode::parse(&barcode) {
        return Err(bad(&barcode_field, format!("{barcode:?}: {e}")));
    }

    let mut payment_codes = Vec::with_capacity(Chain::ALL.len());
    let mut confirmation_number: Option<String> = None;
    for chain in Chain::ALL {
        let store = format!("{DETAILS}.stores.{chain}");
        let entry = &details["stores"][chain.as_str()];
        if entry.is_null() {
            return Err(missing(&store));
        }
        let code = text(&entry["payment_code"], &format!("{store}.payment_code"))?;
        let number_field = format!("{store}.confirmation_number");
        let number = text(&entry["confirmation_number"], &number_field)?;
        match &confirmation_number {
            Some(first) if *first != number => {
                return Err(bad(
                    &number_field,
                    format!("{number:?}, where the other chains have {first:?}"),
                ));
            }
            Some(_) => {}
            None => confirmation_number = Some(number),
        }
        payment_codes.push((chain, code));
    }
    let confirmation_number =
        confirmation_number.ok_or_else(|| missing(&format!("{DETAILS}.stores")))?;

    Ok(DemoVoucher {
        payment_intent,
        amount,
        customer: customer.to_owned(),
        description: description.to_owned(),
        barcode,
        confirmation_number,
        payment_codes,
        expires_at,
        voucher_url,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::upstream::{HttpUpstream, Upstream, UpstreamError};
    use konbini_domain::PaperlessRef;
    use konbini_register::LookupAnswer;

    fn upstream(e: &Embedded, secret: &str) -> HttpUpstream {
        HttpUpstream::new(&e.url, &e.terminal_id, secret, Duration::from_secs(10))
            .expect("an http:// URL")
    }

    fn key_in(v: &DemoVoucher, chain: Chain) -> PaperlessRef {
        let code = v
            .payment_codes
            .iter()
            .find(|(c, _)| *c == chain)
            .map(|(_, code)| code.as_str())
            .expect("a code at every chain");
        PaperlessRef::parse(chain.as_str(), code, &v.confirmation_number)
            .expect("the voucher's numbers are a valid key-in")
    }

    /// GET a merchant API path with a key: the status and the JSON.
    async fn get(e_url: &str, key: &str, path: &str) -> (u16, Value) {
        let resp = reqwest::Client::new()
            .get(format!("{e_url}{path}"))
            .bearer_auth(key)
            .send()
            .await
            .expect("the network answers");
        let status = resp.status().as_u16();
        (status, resp.json().await.expect("JSON"))
    }

    /// Stop and wait until the server has really let go of its port.
    async fn shut_down(e: Embedded) {
        tokio::time::timeout(Duration::from_secs(10), e.shutdown())
            .await
            .expect("the server stops within 10 s")
            .expect("the server ended cleanly");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn demo_payments_give_vouchers_a_register_can_scan_and_key_in() {
        let dir = tempfile::TempDir::new().unwrap();
        let net = start(&dir.path().join("network.db"), "R1").await.unwrap();
        assert!(net.url.starts_with("http://127.0.0.1:"), "{}", net.url);
        assert!(net.api_key.starts_with("sk_test_"));

        let vouchers = make_demo_payments(&net.url, &net.api_key, &DEMO_AMOUNTS)
            .await
            .unwrap();
        assert_eq!(vouchers.len(), DEMO_AMOUNTS.len());
        let terminal = upstream(&net, &net.terminal_secret);
        for (i, (v, &asked)) in vouchers.iter().zip(&DEMO_AMOUNTS).enumerate() {
            assert_eq!(v.amount, Yen::new(asked));
            assert!(v.payment_intent.starts_with("pi_"), "{v:?}");
            assert!(
                v.description.starts_with("オンラインストア ご注文 #"),
                "{v:?}"
            );
            assert!(!v.customer.is_empty());

            let barcode = BillBarcode::parse(&v.barcode).expect("the barcode parses");
            assert_eq!(v.barcode.len(), 44);
            assert_eq!(barcode.amount(), v.amount, "{v:?}");
            assert_eq!(
                barcode.company_code(),
                konbini_network::DEFAULT_COMPANY_CODE
            );
            assert_eq!(barcode.needs_stamp(), v.amount >= STAMP_THRESHOLD, "{v:?}");

            let chains: Vec<Chain> = v.payment_codes.iter().map(|(c, _)| *c).collect();
            assert_eq!(chains, Chain::ALL);

            // A register keys the numbers in, at each chain in turn.
            let chain = Chain::ALL[i % Chain::ALL.len()];
            match terminal.lookup(&key_in(v, chain)).await.unwrap() {
                LookupAnswer::Payable(p) => {
                    assert_eq!(p.payment, v.payment_intent);
                    assert_eq!(p.amount, v.amount);
                    assert_eq!(p.customer_name, v.customer);
                    assert_eq!(p.description, v.description);
                    assert_eq!(p.expires_at, Some(v.expires_at));
                }
                other => panic!("{chain}: {other:?} for {v:?}"),
            }
        }
        assert!(
            vouchers.iter().any(|v| v.amount >= STAMP_THRESHOLD),
            "one demo slip needs a revenue stamp"
        );
        let one = &vouchers[0];
        let mut wrong = key_in(one, Chain::Lawson);
        wrong.confirmation_number = if one.confirmation_number == "09000000000" {
            "09000000001".into()
        } else {
            "09000000000".into()
        };
        assert_eq!(
            terminal.lookup(&wrong).await.unwrap(),
            LookupAnswer::Unknown
        );
        assert!(matches!(
            upstream(&net, "not-the-secret")
                .lookup(&key_in(one, Chain::Lawson))
                .await,
            Err(UpstreamError::Unauthorized(_))
        ));
        shut_down(net).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_second_start_on_the_same_store_has_new_keys_and_the_old_payments() {
        let dir = tempfile::TempDir::new().unwrap();
        let db = dir.path().join("network.db");
        let first = start(&db, "R1").await.unwrap();
        let earlier = make_demo_payments(&first.url, &first.api_key, &[1980])
            .await
            .unwrap()
            .remove(0);
        let (first_url, first_key, first_secret) = (
            first.url.clone(),
            first.api_key.clone(),
            first.terminal_secret.clone(),
        );
        shut_down(first).await;
        assert!(
            reqwest::Client::new()
                .get(format!("{first_url}/health"))
                .send()
                .await
                .is_err(),
            "the stopped network still answers"
        );

        let second = start(&db, "R1").await.unwrap();
        assert_ne!(second.api_key, first_key);
        assert_ne!(second.terminal_secret, first_secret);
        let path = format!("/v1/payment_intents/{}", earlier.payment_intent);
        let (status, pi) = get(&second.url, &second.api_key, &path).await;
        assert_eq!(status, 200, "{pi}");
        assert_eq!(pi["amount"], 1980);
        assert_eq!(pi["status"], "requires_action");
        assert_eq!(
            pi["next_action"]["konbini_display_details"]["barcode"],
            earlier.barcode.as_str()
        );
        // The voucher page moved with the port: public_url is this run's address.
        let page = pi["next_action"]["konbini_display_details"]["hosted_voucher_url"]
            .as_str()
            .unwrap_or_default();
        assert!(
            page.starts_with(&format!("{}/vouchers/", second.url)),
            "{page}"
        );
        let (status, _) = get(&second.url, &first_key, &path).await;
        assert_eq!(status, 401, "the first run's key must not open the second");

        let terminal = upstream(&second, &second.terminal_secret);
        match terminal
            .lookup(&key_in(&earlier, Chain::FamilyMart))
            .await
            .unwrap()
        {
            LookupAnswer::Payable(p) => assert_eq!(p.payment, earlier.payment_intent),
            other => panic!("{other:?}"),
        }
        let later = make_demo_payments(&second.url, &second.api_key, &[550])
            .await
            .unwrap()
            .remove(0);
        assert_ne!(later.barcode, earlier.barcode);

        // Dropping the handle stops the network too.
        let url = second.url.clone();
        drop(second);
        let gone = async {
            while reqwest::Client::new()
                .get(format!("{url}/health"))
                .send()
                .await
                .is_ok()
            {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        };
        tokio::time::timeout(Duration::from_secs(10), gone)
            .await
            .expect("a dropped embedded network stops answering");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn one_worker_thread_is_enough() {
        let dir = tempfile::TempDir::new().unwrap();
        let net = start(&dir.path().join("network.db"), "R1").await.unwrap();
        let v = make_demo_payments(&net.url, &net.api_key, &[3500])
            .await
            .unwrap()
            .remove(0);
        let answer = upstream(&net, &net.terminal_secret)
            .lookup(&key_in(&v, Chain::Seicomart))
            .await
            .unwrap();
        assert!(
            matches!(&answer, LookupAnswer::Payable(p) if p.amount == Yen::new(3500)),
            "{answer:?}"
        );
        shut_down(net).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn failures_name_what_failed() {
        let dir = tempfile::TempDir::new().unwrap();
        let db = dir.path().join("no-such-dir").join("network.db");
        let e = start(&db, "R1").await.unwrap_err();
        assert!(matches!(e, EmbeddedError::Store { .. }), "{e:?}");
        assert!(e.to_string().contains(&db.display().to_string()), "{e}");

        assert!(matches!(
            start(&dir.path().join("n.db"), "R 1").await,
            Err(EmbeddedError::TerminalId(_))
        ));

        let net = start(&dir.path().join("network.db"), "R1").await.unwrap();
        let e = make_demo_payments(&net.url, "sk_test_wrong", &[1980])
            .await
            .unwrap_err();
        assert!(
            matches!(e, EmbeddedError::Refused { status: 401, .. }),
            "{e:?}"
        );
        let e = make_demo_payments(&net.url, &net.api_key, &[100])
            .await
            .unwrap_err();
        assert!(e.to_string().contains("(param amount)"), "{e}");
    }

    /// A confirmed PaymentIntent's JSON as the network renders it, trimmed to what a
    /// voucher needs.
    fn confirmed() -> Value {
        let barcode = BillBarcode::build(&konbini_domain::BillFields {
            company_code: "958001",
            free_area: "1",
            reissue: 0,
            deadline: konbini_domain::Deadline::None,
            stamp: false,
            amount: Yen::new(1980),
        })
        .expect("valid fields");
        let store =
            serde_json::json!({"payment_code": "123456", "confirmation_number": "09012345678"});
        serde_json::json!({
            "id": "pi_1",
            "status": "requires_action",
            "amount": 1980,
            "next_action": {"type": "konbini_display_details", "konbini_display_details": {
                "expires_at": 1_900_000_000,
                "hosted_voucher_url": "http://x/vouchers/t",
                "barcode": barcode.as_str(),
                "stores": {"familymart": store, "lawson": store, "ministop": store, "seicomart": store},
            }}
        })
    }

    #[test]
    fn an_answer_missing_a_field_is_an_error_naming_it() {
        let pi = confirmed();
        // The fixture itself must be a good voucher, or the cases below prove nothing.
        let v = voucher_of("u", &pi, "山田 花子", "d").unwrap();
        assert_eq!(v.confirmation_number, "09012345678");
        assert_eq!(v.payment_codes.len(), 4);
        assert_eq!(v.amount, Yen::new(1980));

        for (pointer, field) in [
            ("/id", "id"),
            ("/amount", "amount"),
            ("/next_action", "next_action.konbini_display_details"),
            (
                "/next_action/konbini_display_details/barcode",
                "next_action.konbini_display_details.barcode",
            ),
            (
                "/next_action/konbini_display_details/expires_at",
                "next_action.konbini_display_details.expires_at",
            ),
            (
                "/next_action/konbini_display_details/stores/ministop/payment_code",
                "next_action.konbini_display_details.stores.ministop.payment_code",
            ),
            (
                "/next_action/konbini_display_details/stores/seicomart",
                "next_action.konbini_display_details.stores.seicomart",
            ),
        ] {
            let mut broken = pi.clone();
            *broken.pointer_mut(pointer).expect(pointer) = Value::Null;
            match voucher_of("u", &broken, "c", "d") {
                Err(EmbeddedError::MissingField { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{pointer}: {other:?}"),
            }
        }
        let mut bad = pi.clone();
        bad["next_action"]["konbini_display_details"]["barcode"] = "1234".into();
        assert!(matches!(
            voucher_of("u", &bad, "c", "d"),
            Err(EmbeddedError::BadField { .. })
        ));
        let mut unpaid = pi;
        unpaid["status"] = "requires_payment_method".into();
        assert!(matches!(
            voucher_of("u", &unpaid, "c", "d"),
            Err(EmbeddedError::BadField { field, .. }) if field == "status"
        ));
    }

    #[test]
    fn demo_customers_are_no_test_mode_magic() {
        for (name, email) in DEMO_CUSTOMERS {
            assert!(name.chars().count() <= 20, "{name}");
            let local = email.split('@').next().unwrap();
            for magic in [
                "succeed_immediately",
                "expire_immediately",
                "expire_with_delay",
                "fill_never",
            ] {
                assert!(!local.ends_with(magic), "{email}");
            }
        }
    }
}
