//! Webhook delivery: every stored event is POSTed to each endpoint that wants it, signed
//! exactly as Stripe signs (`Stripe-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret,
//! "<t>.<body>")>`, <https://docs.stripe.com/webhooks/signature>; checked as stripe-node's
//! `Webhooks.ts` checks it), and retried with exponential backoff until the endpoint answers
//! 2xx or is disabled.
//!
//! The deliveries are an outbox in the network's store: a restart resumes them. Each
//! endpoint has a worker of its own (spawned when the endpoint is created or re-enabled,
//! stopped when it is deleted or disabled), which takes that endpoint's due deliveries in
//! event order with at most [`IN_FLIGHT_PER_ENDPOINT`] requests in flight, starting the next
//! as soon as one ends. So an endpoint that never answers holds only its own few requests
//! until they time out; every other endpoint goes at its own pace. The workers wake when an
//! event is committed (so a merchant hears of a payment at once) and look again every second
//! (a retry falls due, the clock is moved); none holds the store while waiting on an
//! endpoint.
//!
//! An endpoint whose every attempt keeps failing is disabled, as Stripe disables one
//! ([`DisablePolicy`]); `targets.rs` decides where an endpoint may point.

pub mod targets;

use std::collections::{HashMap, HashSet};
use std::error::Error;
use std::sync::Arc;
use std::time::Duration;

use konbini_domain::retry::RetryPolicy;
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use self::targets::WebhookTargets;
use crate::Network;
use crate::storage::{DueDelivery, EndpointHealth, Lease, StorageError};

/// How long one delivery may take before it counts as failed, unless
/// [`crate::Settings::webhook_timeout`] says otherwise.
pub const DEFAULT_DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);
/// Retrying a delivery: 1 s after the first failure, doubling up to an hour, until a 2xx.
const RETRY: RetryPolicy =
    RetryPolicy::exponential(Duration::from_secs(1), Duration::from_secs(3600));
/// How long a delivery taken to be sent is claimed (seconds of the clock's base, which
/// moving the test clock leaves alone: `storage::Lease`): the delivery timeout, which
/// bounds an attempt, and 5 s to record its result. A node that stopped leaves its claim
/// to lapse, and another node sends the delivery then. A node slower than that to record
/// an answer may see the event sent again by another (webhooks are delivered at least
/// once, as Stripe's are: <https://docs.stripe.com/webhooks#handle-duplicate-events>), and
/// never loses it; a delivered event is never made due again (`Tx::delivery_done`).
fn claim_seconds(timeout: Duration) -> i64 {
    i64::try_from(timeout.as_secs())
        .unwrap_or(i64::MAX / 2)
        .saturating_add(5)
        .min(crate::storage::MAX_CLAIM_SECONDS)
}
/// Requests in flight to one endpoint at once: enough that one slow answer does not hold
/// up the endpoint's next events, few enough not to flood a receiver that is struggling.
pub const IN_FLIGHT_PER_ENDPOINT: usize = 4;
/// How often an idle worker (and the supervisor) looks at the outbox unasked: retries fall
/// due and the test clock moves without anyone waking them.
const IDLE_LOOK: Duration = Duration::from_secs(1);

/// When an endpoint that keeps failing is disabled (Stripe's webhook endpoint object then has
/// `status: "disabled"`, <https://docs.stripe.com/api/webhook_endpoints/object>; the
/// merchant re-enables it with `disabled=false`,
/// <https://docs.stripe.com/api/webhook_endpoints/update>).
///
/// Stripe retries an event for up to three days in live mode and disables an endpoint that
/// has not answered for days. The rule here is an age, in the network's own clock: every
/// attempt has failed for at least [`failing_for_seconds`](Self::failing_for_seconds) since
/// the last delivered one, as Stripe counts. An age, not a count, because the count an
/// endpoint reaches in three days depends on how many events there are, and on the backoff;
/// the age is what an operator reasons about ("down since Friday"). But the clock can be
/// moved by days in a test, so at least [`min_failures`](Self::min_failures) attempts in a
/// row must have failed too: one failure on each side of a jump is not "failing for days".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DisablePolicy {
    /// Every attempt has failed for at least this long (network clock, seconds).
    pub failing_for_seconds: i64,
    /// And at least this many attempts in a row have failed.
    pub min_failures: i64,
}

impl DisablePolicy {
    /// Stripe's live-mode window: three days of failures, and at least five attempts.
    pub const STRIPE: DisablePolicy = DisablePolicy {
        failing_for_seconds: 3 * 86_400,
        min_failures: 5,
    };

    /// An endpoint's health after one more attempt at `now`. Only the merchant re-enables a
    /// disabled endpoint: an answer that comes back after it was disabled does not.
    pub fn after_attempt(&self, h: EndpointHealth, delivered: bool, now: i64) -> EndpointHealth {
        if delivered {
            return EndpointHealth {
                disabled: h.disabled,
                failures: 0,
                failing_since: None,
            };
        }
        let failures = h.failures.saturating_add(1);
        let since = h.failing_since.unwrap_or(now);
        EndpointHealth {
            disabled: h.disabled
                || (failures >= self.min_failures
                    && now.saturating_sub(since) >= self.failing_for_seconds),
            failures,
            failing_since: Some(since),
        }
    }
}

impl Default for DisablePolicy {
    fn default() -> DisablePolicy {
        DisablePolicy::STRIPE
    }
}

/// The `Stripe-Signature` header for `body` sent at `t`.
pub fn signature_header(secret: &str, t: i64, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(format!("{t}.").as_bytes());
    mac.update(body);
    format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// Seconds to wait after a failed attempt that had `attempts` failed attempts before it:
/// 1, 2, 4, ... up to an hour ([`RETRY`]).
pub fn backoff_seconds(attempts: i64) -> i64 {
    let failures = u32::try_from(attempts.saturating_add(1)).unwrap_or(u32::MAX);
    RETRY.delay(failures).map_or(3600, |d| d.as_secs() as i64)
}

/// One attempt's outcome.
#[derive(Debug)]
struct Attempt {
    /// Answered 2xx.
    delivered: bool,
    /// The HTTP status, if one came.
    status: Option<u16>,
    /// Why there was no answer: a refused target, a timeout, the connection.
    error: Option<String>,
}

/// Deliver events until cancelled, disabling endpoints by [`DisablePolicy::STRIPE`].
pub async fn run(net: Arc<Network>, cancel: CancellationToken) {
    run_with(net, cancel, DisablePolicy::STRIPE).await
}

/// Deliver events until cancelled, disabling endpoints by `policy`: keep one worker per
/// enabled endpoint and wake them all when events are committed.
pub async fn run_with(net: Arc<Network>, cancel: CancellationToken, policy: DisablePolicy) {
    let settings = net.settings();
    let client = match client(settings.webhook_targets, settings.webhook_timeout) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("konbini network: webhook delivery is off: no HTTP client ({e})");
            return;
        }
    };
    let mut workers: HashMap<String, Worker> = HashMap::new();
    loop {
        let notified = net.wake_webhooks.notified();
        // The running workers look at once (an event was committed, or a second passed);
        // a new worker looks when it starts.
        for w in workers.values() {
            w.wake.notify_one();
        }
        match net.storage().run_read(|tx| tx.endpoints()).await {
            Ok(endpoints) => {
                let enabled: HashSet<String> = endpoints
                    .into_iter()
                    .filter(|e| !e.disabled)
                    .map(|e| e.id)
                    .collect();
                workers.retain(|id, w| {
                    let keep = enabled.contains(id) && !w.task.is_finished();
                    if !keep {
                        w.cancel.cancel();
                    }
                    keep
                });
                for id in enabled {
                    workers.entry(id).or_insert_with_key(|id| {
                        Worker::spawn(&net, &client, policy, id.clone(), &cancel)
                    });
                }
            }
            Err(e) => eprintln!("konbini network: webhook endpoints unreadable: {e}"),
        }
        tokio::select! {
            _ = cancel.cancelled() => break,
            _ = notified => {}
            _ = tokio::time::sleep(IDLE_LOOK) => {}
        }
    }
    for w in workers.into_values() {
        w.cancel.cancel();
        let _ = w.task.await;
    }
}

/// The HTTP client of every delivery: no redirects followed (a redirect could lead anywhere),
/// and under [`WebhookTargets::Public`] a resolver that hands over only public addresses and
/// no proxy (a proxy would resolve the name itself, unchecked).
fn client(targets: WebhookTargets, timeout: Duration) -> reqwest::Result<reqwest::Client> {
    let builder = reqwest::Client::builder()
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none());
    match targets {
        WebhookTargets::Any => builder,
        WebhookTargets::Public => builder
            .no_proxy()
            .dns_resolver(Arc::new(targets::PublicOnly)),
    }
    .build()
}

/// One endpoint's delivery task, as the supervisor holds it.
struct Worker {
    wake: Arc<Notify>,
    cancel: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl Worker {
    fn spawn(
        net: &Arc<Network>,
        client: &reqwest::Client,
        policy: DisablePolicy,
        endpoint: String,
        parent: &CancellationToken,
    ) -> Worker {
        let wake = Arc::new(Notify::new());
        let cancel = parent.child_token();
        let task = tokio::spawn(deliver_to(
            net.clone(),
            client.clone(),
            policy,
            endpoint,
            wake.clone(),
            cancel.clone(),
        ));
        Worker { wake, cancel, task }
    }
}

/// What a worker reads before sending: the endpoint as it is now (its URL may have
/// changed), and the deliveries to start with their bodies.
struct Due {
    url: String,
    secret: String,
    jobs: Vec<(DueDelivery, String)>,
}

/// Deliver one endpoint's events until it is deleted or disabled, or `cancel`.
async fn deliver_to(
    net: Arc<Network>,
    client: reqwest::Client,
    policy: DisablePolicy,
    endpoint: String,
    wake: Arc<Notify>,
    cancel: CancellationToken,
) {
    let targets = net.settings().webhook_targets;
    // The requests in flight, each with its event's number.
    let mut requests: JoinSet<(DueDelivery, Attempt)> = JoinSet::new();
    let mut in_flight: HashMap<tokio::task::Id, i64> = HashMap::new();
    loop {
        let notified = wake.notified();
        let now = net.clock.unix();
        let free = IN_FLIGHT_PER_ENDPOINT.saturating_sub(requests.len());
        if free > 0 {
            let flying: HashSet<i64> = in_flight.values().copied().collect();
            match read_due(&net, &endpoint, now, free, flying).await {
                // Deleted or disabled: the supervisor starts another if it is re-enabled.
                Ok(None) => return,
                Ok(Some(due)) => {
                    for (d, body) in due.jobs {
                        let seq = d.event_seq;
                        let abort = requests.spawn(attempt(
                            client.clone(),
                            targets,
                            due.url.clone(),
                            due.secret.clone(),
                            d,
                            body,
                        ));
                        in_flight.insert(abort.id(), seq);
                    }
                }
                Err(e) => eprintln!("konbini network: webhook outbox of {endpoint}: {e}"),
            }
        }
        tokio::select! {
            // Dropping the set aborts what is in flight; those deliveries stay pending.
            _ = cancel.cancelled() => return,
            Some(first) = requests.join_next_with_id(), if !requests.is_empty() => {
                let mut done = Vec::new();
                let mut next = Some(first);
                while let Some(r) = next {
                    match r {
                        Ok((id, outcome)) => {
                            in_flight.remove(&id);
                            done.push(outcome);
                        }
                        // A panicked attempt: its delivery stays pending and is retried.
                        Err(e) => {
                            in_flight.remove(&e.id());
                        }
                    }
                    next = requests.try_join_next_with_id();
                }
                match record(&net, policy, &endpoint, done).await {
                    Ok(Some(h)) if h.disabled => {
                        eprintln!(
                            "konbini network: webhook endpoint {endpoint} disabled: {} attempts in a row failed since {} (network clock); POST /v1/webhook_endpoints/{endpoint} with disabled=false re-enables it",
                            h.failures,
                            h.failing_since.map_or_else(String::new, |t| {
                                chrono::DateTime::from_timestamp(t, 0)
                                    .map_or_else(|| t.to_string(), |d| d.to_rfc3339())
                            }),
                        );
                        return;
                    }
                    Ok(_) => {}
                    Err(e) => eprintln!("konbini network: could not record webhook deliveries to {endpoint}: {e}"),
                }
            }
            _ = notified => {}
            _ = tokio::time::sleep(IDLE_LOOK) => {}
        }
    }
}

/// Take (claim) what `endpoint` has due at `now`, up to `free` deliveries not already
/// `flying`, in event order. `None`: the endpoint is gone or disabled.
async fn read_due(
    net: &Arc<Network>,
    endpoint: &str,
    now: i64,
    free: usize,
    flying: HashSet<i64>,
) -> Result<Option<Due>, StorageError> {
    // A look first, in a read: an idle endpoint (the common case, once a second) costs no
    // write.
    let id = endpoint.to_owned();
    let seen = flying.clone();
    let look = net
        .storage()
        .run_read(move |tx| {
            let Some(ep) = tx.endpoint(&id)? else {
                return Ok(None);
            };
            if ep.disabled {
                return Ok(None);
            }
            let limit = i64::try_from(free + seen.len()).unwrap_or(i64::MAX);
            let due = tx.endpoint_due_deliveries(&id, now, limit)?;
            Ok(Some((ep, due.iter().any(|d| !seen.contains(&d.event_seq)))))
        })
        .await?;
    match look {
        None => return Ok(None),
        Some((ep, false)) => {
            return Ok(Some(Due {
                url: ep.url,
                secret: ep.secret,
                jobs: Vec::new(),
            }));
        }
        Some((_, true)) => {}
    }
    let n = net.clone();
    let id = endpoint.to_owned();
    net.storage()
        .run_write(move |tx| {
            let Some(ep) = tx.endpoint(&id)? else {
                return Ok(None);
            };
            if ep.disabled {
                return Ok(None);
            }
            let limit = i64::try_from(free).unwrap_or(i64::MAX);
            let mut jobs = Vec::with_capacity(free);
            // Claimed, not just read: another node over the same store does not take these
            // while this one sends them (see `Tx::claim_due_deliveries`). The claim is on
            // the clock's base, which moving the test clock leaves alone.
            let base = n.clock.base().timestamp();
            let lease = Lease {
                now: base,
                until: base.saturating_add(claim_seconds(n.settings().webhook_timeout)),
            };
            for d in tx.claim_due_deliveries(&id, now, lease, limit)? {
                // Still in flight here: a claim that lapsed meanwhile (this node was too
                // slow to hear the answer) is still ours to finish.
                if flying.contains(&d.event_seq) {
                    continue;
                }
                if let Some(event) = tx.event_by_seq(d.event_seq)? {
                    let body = event.render(&n.settings().public_url).to_string();
                    jobs.push((d, body));
                }
            }
            Ok(Some(Due {
                url: ep.url,
                secret: ep.secret,
                jobs,
            }))
        })
        .await
}

/// POST one event to `url`. A URL that `targets` refuses is not contacted.
async fn attempt(
    client: reqwest::Client,
    targets: WebhookTargets,
    url: String,
    secret: String,
    d: DueDelivery,
    body: String,
) -> (DueDelivery, Attempt) {
    if let Err(e) = targets::check_before_sending(&url, targets) {
        let refused = Attempt {
            delivered: false,
            status: None,
            error: Some(e.to_string()),
        };
        return (d, refused);
    }
    // Signed with the wall clock, as receivers check freshness against theirs.
    let t = chrono::Utc::now().timestamp();
    let sig = signature_header(&secret, t, body.as_bytes());
    let res = client
        .post(&url)
        .header("Content-Type", "application/json; charset=utf-8")
        .header("Stripe-Signature", sig)
        .header(
            "User-Agent",
            "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
        )
        .body(body)
        .send()
        .await;
    let outcome = match res {
        Ok(r) => Attempt {
            delivered: r.status().is_success(),
            status: Some(r.status().as_u16()),
            error: None,
        },
        Err(e) => Attempt {
            delivered: false,
            status: None,
            error: Some(with_causes(&e)),
        },
    };
    (d, outcome)
}

/// An error with the chain of its causes: reqwest's own message only names the URL, the
/// reason (a refused address, a timeout, a refused connection) is in its sources.
fn with_causes(e: &dyn Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let more = c.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        cause = c.source();
    }
    text
}

/// Record the outcomes of attempts to `endpoint`: each delivery done or rescheduled with
/// backoff, and the endpoint's health after them. Returns that health (`None`: the
/// endpoint was deleted meanwhile).
async fn record(
    net: &Arc<Network>,
    policy: DisablePolicy,
    endpoint: &str,
    done: Vec<(DueDelivery, Attempt)>,
) -> Result<Option<EndpointHealth>, StorageError> {
    if done.is_empty() {
        return Ok(None);
    }
    let now = net.clock.unix();
    let id = endpoint.to_owned();
    net.storage()
        .run_write(move |tx| {
            let Some(mut health) = tx.endpoint_health(&id)? else {
                return Ok(None);
            };
            for (d, a) in &done {
                let next_at = if a.delivered {
                    now
                } else {
                    now.saturating_add(backoff_seconds(d.attempts))
                };
                tx.delivery_done(d, a.delivered, a.status, a.error.as_deref(), next_at)?;
                health = policy.after_attempt(health, a.delivered, now);
            }
            tx.set_endpoint_health(&id, &health)?;
            Ok(Some(health))
        })
        .await
}

#[cfg(test)]
mod tests;
