//! The payment network as the register sees it: a trait, and its HTTP implementation
//! (reqwest, https through rustls) speaking the terminal API of `konbini-protocol`
//! (`docs/terminal-api.md`), signing every request.
//!
//! Answers are checked before they are believed: a body that is not the expected JSON, or
//! results that do not match the ids sent one for one, are errors to retry, never results.

use std::borrow::Cow;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use konbini_domain::retry::{Retry, RetryPolicy};
use konbini_domain::{PaperlessRef, Yen};
use konbini_journal::{PendingSlip, SlipPay};
use konbini_protocol::{BatchAnswer, BatchRef, JournalLink, LookupQuery, Outcome, Payable};
use konbini_register::{LookupAnswer, PaymentInfo};
use serde::Serialize;

/// One confirmation as the terminal API takes it: the pending slip itself, written out as a
/// [`konbini_protocol::Confirmation`] borrowed from it when the batch is serialized. The
/// slip is moved in, not copied: a drain sends every slip it reads, and copying its seven
/// strings cost as much as serializing them.
#[derive(Debug, Clone)]
pub struct Confirmation(PendingSlip);

impl From<PendingSlip> for Confirmation {
    fn from(slip: PendingSlip) -> Confirmation {
        Confirmation(slip)
    }
}

impl Serialize for Confirmation {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let slip = &self.0;
        let (chain, barcode, code, number) = match &slip.pay {
            SlipPay::Barcode(b) => (slip.sale.store_chain, Some(b), None, None),
            SlipPay::KeyIn {
                chain,
                payment_code,
                confirmation_number,
                ..
            } => (
                Some(*chain),
                None,
                Some(payment_code),
                Some(confirmation_number),
            ),
        };
        konbini_protocol::Confirmation {
            id: borrowed(&slip.id),
            store: borrowed(&slip.sale.store_code),
            chain,
            paid_at: borrowed(&slip.sale.paid_at),
            // Slip amounts are at most six digits of yen.
            amount: i64::try_from(slip.amount.get()).unwrap_or(i64::MAX),
            barcode: barcode.map(|b| borrowed(b)),
            payment_code: code.map(|c| borrowed(c)),
            confirmation_number: number.map(|n| borrowed(n)),
            journal: Some(JournalLink {
                seq: i64::try_from(slip.seq).unwrap_or(i64::MAX),
                prev: borrowed(&slip.sale.prev_hash),
                hash: borrowed(&slip.sale.hash),
            }),
        }
        .serialize(serializer)
    }
}

fn borrowed(s: &str) -> Cow<'_, str> {
    Cow::Borrowed(s)
}

impl Confirmation {
    /// The slip id.
    pub fn id(&self) -> &str {
        &self.0.id
    }

    /// The slip's outbox key.
    pub fn key(&self) -> (u64, u32) {
        self.0.key()
    }
}

/// Why a call did not produce an answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UpstreamError {
    /// Connection refused or reset, timeout, DNS: try again later.
    #[error("network unreachable: {0}")]
    Transport(String),
    /// 5xx or 429: try again later, not before `retry_after`.
    #[error("network answered {status}")]
    Unavailable {
        /// The HTTP status.
        status: u16,
        /// From `Retry-After`.
        retry_after: Option<Duration>,
    },
    /// 401: the terminal id or secret is wrong. A configuration error, not an outage.
    #[error(
        "the network refused this terminal's signature (401): check --terminal-id and --terminal-secret ({0})"
    )]
    Unauthorized(String),
    /// An answer that cannot be believed (not JSON, wrong shape, other ids).
    #[error("the network's answer makes no sense: {0}")]
    Garbled(String),
}

/// What the register needs from a payment network.
pub trait Upstream: Send + Sync + 'static {
    /// Send a batch of confirmations; the verdicts, one per confirmation, in order.
    fn confirm(
        &self,
        batch: &[Confirmation],
    ) -> impl Future<Output = Result<Vec<Outcome>, UpstreamError>> + Send;

    /// Look a keyed-in payment up.
    fn lookup(
        &self,
        reference: &PaperlessRef,
    ) -> impl Future<Output = Result<LookupAnswer, UpstreamError>> + Send;
}

/// The terminal API over HTTP(S), at one node or several nodes of one network.
///
/// With several (`--upstream URL,URL,...`: nodes over one database), every request goes to
/// the node that answered last; a node that cannot be reached or answers 5xx hands the
/// request to the next, each node tried once per request, so a dead node's work moves on at
/// once. Resending to another node is safe: every confirmation is idempotent by terminal
/// and slip id, wherever it lands.
#[derive(Debug, Clone)]
pub struct HttpUpstream {
    client: reqwest::Client,
    bases: Arc<[String]>,
    /// The node to try first (the last one that answered).
    current: Arc<AtomicUsize>,
    terminal: String,
    secret: String,
}

impl HttpUpstream {
    /// A client for `base` (`http://host:port` or `https://...`, or several of them separated
    /// by commas: the nodes of one network), signing as `terminal`.
    pub fn new(
        base: &str,
        terminal: &str,
        secret: &str,
        timeout: Duration,
    ) -> Result<HttpUpstream, String> {
        let bases: Vec<String> = base
            .split(',')
            .map(|b| b.trim().trim_end_matches('/').to_owned())
            .collect();
        for b in &bases {
            if !(b.starts_with("http://") || b.starts_with("https://")) {
                return Err(format!(
                    "upstream {b:?} is not an http:// or https:// URL (several nodes: URL,URL,...)"
                ));
            }
        }
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(3)))
            .redirect(reqwest::redirect::Policy::none())
            // The network closes a connection silent for 30 s (its idle timeout): reuse
            // one only well within that, so a request is never sent on a closing socket.
            .pool_idle_timeout(Duration::from_secs(15))
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(HttpUpstream {
            client,
            bases: bases.into(),
            current: Arc::new(AtomicUsize::new(0)),
            terminal: terminal.to_owned(),
            secret: secret.to_owned(),
        })
    }

    /// The nodes, in the order given.
    pub fn nodes(&self) -> &[String] {
        &self.bases
    }

    /// Send to the current node, and on to the next ones while a node cannot be reached or
    /// answers 5xx.
    async fn send(
        &self,
        method: &str,
        path_and_query: &str,
        mut body: Vec<u8>,
    ) -> Result<(u16, Vec<u8>), UpstreamError> {
        let n = self.bases.len();
        let first = self.current.load(Ordering::Relaxed) % n;
        let mut last = None;
        for step in 0..n {
            let node = (first + step) % n;
            // Copied only while another node may still need it (one node: never).
            let this = if step + 1 == n {
                std::mem::take(&mut body)
            } else {
                body.clone()
            };
            match self.send_to(node, method, path_and_query, this).await {
                Err(e @ UpstreamError::Transport(_))
                | Err(e @ UpstreamError::Unavailable { status: 500.., .. }) => last = Some(e),
                answer => {
                    self.current.store(node, Ordering::Relaxed);
                    return answer;
                }
            }
        }
        Err(last.expect("at least one node"))
    }

    async fn send_to(
        &self,
        node: usize,
        method: &str,
        path_and_query: &str,
        body: Vec<u8>,
    ) -> Result<(u16, Vec<u8>), UpstreamError> {
        let t = chrono::Utc::now().timestamp();
        let signature = konbini_protocol::sign(&self.secret, t, method, path_and_query, &body);
        let url = format!("{}{path_and_query}", self.bases[node]);
        let req = if method == "GET" {
            self.client.get(url)
        } else {
            self.client
                .post(url)
                .header("content-type", "application/json")
                .body(body)
        };
        let resp = req
            .header(konbini_protocol::TERMINAL_HEADER, &self.terminal)
            .header(konbini_protocol::SIGNATURE_HEADER, signature)
            .send()
            .await
            .map_err(|e| UpstreamError::Transport(describe(&e)))?;
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| UpstreamError::Transport(describe(&e)))?;
        match status {
            401 => Err(UpstreamError::Unauthorized(
                String::from_utf8_lossy(&bytes[..bytes.len().min(300)]).into_owned(),
            )),
            429 | 500..=599 => Err(UpstreamError::Unavailable {
                status,
                retry_after,
            }),
            _ => Ok((status, bytes.to_vec())),
        }
    }
}

impl HttpUpstream {
    /// Check the link and the terminal's credentials with a signed read (the terminal's
    /// own chain): Ok when the network answers 200.
    pub async fn probe(&self) -> Result<(), UpstreamError> {
        let (status, bytes) = self
            .send("GET", konbini_protocol::CHAIN_PATH, Vec::new())
            .await?;
        if status == 200 {
            Ok(())
        } else {
            Err(UpstreamError::Garbled(format!(
                "status {status}: {}",
                String::from_utf8_lossy(&bytes[..bytes.len().min(120)])
            )))
        }
    }
}

/// reqwest's error with its causes, on one line.
pub fn describe(e: &reqwest::Error) -> String {
    let mut s = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        s.push_str(": ");
        s.push_str(&cause.to_string());
        source = cause.source();
    }
    s
}

impl Upstream for HttpUpstream {
    async fn confirm(&self, batch: &[Confirmation]) -> Result<Vec<Outcome>, UpstreamError> {
        let body = serde_json::to_vec(&BatchRef {
            confirmations: batch,
        })
        .expect("confirmations serialize");
        let (status, bytes) = self
            .send("POST", konbini_protocol::CONFIRMATIONS_PATH, body)
            .await?;
        if status != 200 {
            return Err(UpstreamError::Garbled(format!(
                "status {status}: {}",
                String::from_utf8_lossy(&bytes[..bytes.len().min(200)])
            )));
        }
        let results: BatchAnswer = serde_json::from_slice(&bytes).map_err(|e| {
            UpstreamError::Garbled(format!(
                "not the results JSON ({e}): {}",
                String::from_utf8_lossy(&bytes[..bytes.len().min(120)])
            ))
        })?;
        check_verdicts(batch, &results.results)?;
        Ok(results.results)
    }

    async fn lookup(&self, reference: &PaperlessRef) -> Result<LookupAnswer, UpstreamError> {
        let path = LookupQuery {
            chain: reference.chain.as_str().to_owned(),
            payment_code: reference.payment_code.clone(),
            confirmation_number: reference.confirmation_number.clone(),
        }
        .path_and_query();
        let (status, bytes) = self.send("GET", &path, Vec::new()).await?;
        match status {
            200 => {
                let f: Payable = serde_json::from_slice(&bytes)
                    .map_err(|e| UpstreamError::Garbled(format!("not a payment ({e})")))?;
                Ok(LookupAnswer::Payable(PaymentInfo {
                    payment: f.payment,
                    amount: Yen::new(f.amount),
                    merchant: f.merchant,
                    description: f.description,
                    customer_name: f.customer_name,
                    expires_at: f.expires_at,
                }))
            }
            404 => Ok(LookupAnswer::Unknown),
            409 => {
                let state = serde_json::from_slice::<konbini_protocol::ErrorAnswer>(&bytes)
                    .ok()
                    .and_then(|a| a.error.status)
                    .unwrap_or_else(|| "not_payable".to_owned());
                Ok(LookupAnswer::NotPayable(state))
            }
            other => Err(UpstreamError::Garbled(format!("look-up answered {other}"))),
        }
    }
}

/// Each look-up attempt's time limit: three attempts and their pauses fit in about 3 s.
pub const LOOKUP_ATTEMPT_TIMEOUT: Duration = Duration::from_millis(900);

/// A key-in look-up: three attempts, 100 ms apart, each within the client's timeout (about
/// 3 s in all), then the slip is refused `offline`.
pub const LOOKUP_RETRY: RetryPolicy =
    RetryPolicy::constant(Duration::from_millis(100)).with_attempts(3);

/// Look a keyed-in payment up with `attempt` (one call to the network), retried as
/// [`LOOKUP_RETRY`] says. A wrong terminal secret is not retried: the slip is `offline`,
/// and the sync task reports the secret. The replay and the register UI both look up
/// this way.
pub fn lookup_with_retries(
    mut attempt: impl FnMut() -> Result<LookupAnswer, UpstreamError>,
) -> LookupAnswer {
    let mut retry = Retry::new(LOOKUP_RETRY);
    loop {
        match attempt() {
            Ok(answer) => return answer,
            Err(UpstreamError::Unauthorized(_)) => return LookupAnswer::Offline,
            Err(_) => match retry.failed() {
                Some(pause) => std::thread::sleep(pause),
                None => return LookupAnswer::Offline,
            },
        }
    }
}

/// The verdicts must answer exactly the ids sent, in order (an unknown verdict is not even
/// read: see [`Outcome`]).
pub fn check_verdicts(batch: &[Confirmation], verdicts: &[Outcome]) -> Result<(), UpstreamError> {
    if verdicts.len() != batch.len() {
        return Err(UpstreamError::Garbled(format!(
            "{} results for {} confirmations",
            verdicts.len(),
            batch.len()
        )));
    }
    for (c, v) in batch.iter().zip(verdicts) {
        if v.id != c.id() {
            return Err(UpstreamError::Garbled(format!(
                "a result for {:?} where {:?} was sent",
                v.id,
                c.id()
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use konbini_domain::{Chain, Yen};
    use konbini_protocol::Verdict;

    fn pending(idx: u32, pay: SlipPay) -> PendingSlip {
        PendingSlip {
            seq: 7,
            idx,
            id: format!("j-7-{idx}"),
            sale: std::sync::Arc::new(konbini_journal::PendingSale {
                paid_at: "2026-11-28T10:15:03+09:00".into(),
                store_code: "0042".into(),
                store_chain: None,
                prev_hash: "a".repeat(64),
                hash: "b".repeat(64),
            }),
            pay,
            amount: Yen::new(1200),
            attempts: 0,
        }
    }

    #[test]
    fn confirmations_carry_the_fields_of_the_terminal_api() {
        let c = Confirmation::from(pending(1, SlipPay::Barcode("9".repeat(44))));
        let v = serde_json::to_value(&c).unwrap();
        // The whole object: nothing more, nothing less (no store chain known: none sent).
        assert_eq!(
            v,
            serde_json::json!({
                "id": "j-7-1",
                "store": "0042",
                "paid_at": "2026-11-28T10:15:03+09:00",
                "amount": 1200,
                "barcode": "9".repeat(44),
                "journal": {"seq": 7, "prev": "a".repeat(64), "hash": "b".repeat(64)},
            })
        );
        assert_eq!(c.id(), "j-7-1");
        assert_eq!(c.key(), (7, 1));
        let k = Confirmation::from(pending(
            2,
            SlipPay::KeyIn {
                chain: Chain::Ministop,
                payment_code: "123456".into(),
                confirmation_number: "09012345678".into(),
                payment: "pi_x".into(),
                merchant: "m".into(),
            },
        ));
        let v = serde_json::to_value(&k).unwrap();
        assert_eq!(v["chain"], "ministop");
        assert_eq!(v["payment_code"], "123456");
        assert!(v.get("barcode").is_none());
    }

    #[test]
    fn verdicts_for_other_ids_or_of_another_count_are_not_believed() {
        let batch = vec![
            Confirmation::from(pending(1, SlipPay::Barcode("1".repeat(44)))),
            Confirmation::from(pending(2, SlipPay::Barcode("2".repeat(44)))),
        ];
        let v = |id: &str, verdict: Verdict| Outcome {
            id: id.into(),
            verdict,
            reason: None,
        };
        let (a, d) = (Verdict::Accepted, Verdict::Duplicate);
        assert!(check_verdicts(&batch, &[v("j-7-1", a), v("j-7-2", d)]).is_ok());
        for bad in [
            vec![v("j-7-1", a)],
            vec![v("j-7-2", a), v("j-7-1", a)],
            vec![v("j-7-1", a), v("someone-else", a)],
        ] {
            assert!(
                matches!(check_verdicts(&batch, &bad), Err(UpstreamError::Garbled(_))),
                "{bad:?}"
            );
        }
    }
}
