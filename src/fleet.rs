//! `konbini fleet`: a chain's worth of registers driven at a payment network, in one process
//! on one runtime. Each register is what `konbini replay --upstream` is: its own journal
//! file, terminal id and secret (registered with the network first), a synthetic store day
//! (the `synth-log` generator, one seed per register) through the real register core,
//! journal and sync task. At most `concurrency` registers run at once, each on a thread of
//! the runtime's blocking pool, their sync tasks on the shared runtime; a register that has
//! finished leaves only its files and its counts, so memory stays flat in the number of
//! registers done.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::NaiveDate;
use konbini_domain::retry::{Jitter, Retry, RetryPolicy};
use tokio::sync::Semaphore;

use crate::replay::synth::{SynthOptions, write_log};
use crate::replay::{Observer, ReplayOptions, UpstreamOptions, replay};

/// What to run.
#[derive(Debug, Clone)]
pub struct FleetOptions {
    /// The network: one URL, or the nodes of one network (`URL,URL,...`).
    pub network: String,
    /// The merchant's secret key, to register the terminals.
    pub api_key: String,
    /// Stores.
    pub stores: usize,
    /// Registers per store.
    pub registers: usize,
    /// Sales in each register's day.
    pub sales: u64,
    /// The first register's seed (each register has its own, following).
    pub seed: u64,
    /// The store day (its sales must not be in the network's future).
    pub date: NaiveDate,
    /// Where the registers' journals and logs go.
    pub dir: PathBuf,
    /// Registers replaying at once.
    pub concurrency: usize,
    /// How long each register waits at the end of its day for its outbox to drain.
    pub drain_timeout: Duration,
    /// Sales each register commits together (1: each sale at once, as at a counter).
    pub group_sales: usize,
}

/// What the fleet did.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct FleetSummary {
    /// Registers run to the end of their day.
    pub registers: u64,
    /// Registers that failed (the first error is printed).
    pub failed: u64,
    /// Sales completed.
    pub sales: u64,
    /// Slips paid.
    pub slips: u64,
    /// Slips the network has (accepted now or before: the outboxes' `sent`).
    pub sent: u64,
    /// The network's verdicts on this run's slips, as they were answered: accepted...
    pub accepted: u64,
    /// ...a duplicate of one it had already accepted (a resend after a lost answer)...
    pub duplicate: u64,
    /// Still pending at the end (not drained in time).
    pub pending: u64,
    /// Conflicts (cash the network will not credit).
    pub conflicts: u64,
    /// Rejected.
    pub rejected: u64,
    /// Wall time of the whole run.
    pub seconds: f64,
    /// Commit to accepted, per slip: median, 99th percentile, slowest (ms).
    pub latency_ms: Option<[f64; 3]>,
    /// Slips timed for the latency.
    pub latency_samples: u64,
    /// This process's peak resident memory (MB).
    pub peak_rss_mb: Option<f64>,
    /// Confirmations each node judged during the run (from its `/health`), in the order
    /// of `--network`.
    pub per_node: Vec<(String, u64)>,
}

struct Quiet;

impl Observer for Quiet {
    fn bad_line(&mut self, _line: u64, _reason: &str) {}
}

/// The counts, added to by every register as it finishes.
#[derive(Default)]
struct Totals {
    registers: AtomicU64,
    failed: AtomicU64,
    sales: AtomicU64,
    slips: AtomicU64,
    sent: AtomicU64,
    pending: AtomicU64,
    conflicts: AtomicU64,
    rejected: AtomicU64,
}

/// A register's terminal id: store and register numbers.
pub fn terminal_id(store: usize, register: usize) -> String {
    format!("S{store:04}-R{register:02}")
}

/// Run the fleet; `progress(done, total)` after each register.
pub fn run(
    opts: &FleetOptions,
    progress: impl Fn(u64, u64) + Send + Sync + 'static,
) -> anyhow::Result<FleetSummary> {
    anyhow::ensure!(
        opts.stores > 0 && opts.registers > 0,
        "--stores and --registers must be at least 1"
    );
    // Every register holds its journal's descriptors while it runs, and its connections.
    crate::fd_limit::raise();
    std::fs::create_dir_all(&opts.dir)
        .with_context(|| format!("cannot create {}", opts.dir.display()))?;
    let concurrency = opts.concurrency.max(1);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(concurrency + 4)
        .build()?;
    let started = Instant::now();
    let total = (opts.stores * opts.registers) as u64;
    let totals = Arc::new(Totals::default());
    let latency = Arc::new(crate::sync::LatencyHistogram::default());
    let verdicts = Arc::new(crate::sync::VerdictCounts::default());
    let progress = Arc::new(progress);
    let per_node = rt.block_on(async {
        // A node that drops packets rather than refusing them is passed over in 2 s.
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(2))
            .timeout(Duration::from_secs(30))
            .build()?;
        let nodes: Vec<String> = opts
            .network
            .split(',')
            .map(|n| n.trim().trim_end_matches('/').to_owned())
            .collect();
        let before = node_counts(&http, &nodes).await;
        let slots = Arc::new(Semaphore::new(concurrency));
        let mut tasks = tokio::task::JoinSet::new();
        let mut n = 0u64;
        for store in 1..=opts.stores {
            for register in 1..=opts.registers {
                let id = terminal_id(store, register);
                let secret = format!("{:032x}", rand::random::<u128>());
                register_terminal(
                    &http,
                    &rotated_list(&nodes, n as usize),
                    &opts.api_key,
                    (&id, &secret),
                    opts.drain_timeout,
                )
                .await?;
                let slot = slots.clone().acquire_owned().await?;
                let job = RegisterJob {
                    latency: latency.clone(),
                    verdicts: verdicts.clone(),
                    opts: opts.clone(),
                    store,
                    id,
                    secret,
                    seed: opts.seed.wrapping_add(n),
                    runtime: tokio::runtime::Handle::current(),
                    // Register n starts at node n mod N and fails over along the list, so
                    // the registers spread over the nodes as a chain's load balancer would.
                    upstream: rotated(&nodes, n as usize),
                };
                n += 1;
                let (totals, progress) = (totals.clone(), progress.clone());
                tasks.spawn_blocking(move || {
                    let _slot = slot;
                    match job.run() {
                        Ok(s) => {
                            totals.registers.fetch_add(1, Ordering::Relaxed);
                            totals
                                .sales
                                .fetch_add(s.tally.sales.completed, Ordering::Relaxed);
                            totals
                                .slips
                                .fetch_add(s.tally.slips_paid, Ordering::Relaxed);
                            if let Some(sync) = s.sync {
                                totals.sent.fetch_add(sync.sent, Ordering::Relaxed);
                                totals.pending.fetch_add(sync.pending, Ordering::Relaxed);
                                totals
                                    .conflicts
                                    .fetch_add(sync.conflicts, Ordering::Relaxed);
                                totals.rejected.fetch_add(sync.rejected, Ordering::Relaxed);
                            }
                        }
                        Err(e) => {
                            if totals.failed.fetch_add(1, Ordering::Relaxed) == 0 {
                                eprintln!("konbini fleet: register {}: {e:#}", job.id);
                            }
                        }
                    }
                    let done = totals.registers.load(Ordering::Relaxed)
                        + totals.failed.load(Ordering::Relaxed);
                    progress(done, total);
                });
                // Reap as we go, so finished registers leave nothing behind.
                while let Some(r) = tasks.try_join_next() {
                    r?;
                }
            }
        }
        while let Some(r) = tasks.join_next().await {
            r?;
        }
        let after = node_counts(&http, &nodes).await;
        anyhow::Ok(
            nodes
                .iter()
                .zip(before.iter().zip(after))
                .map(|(n, (b, a))| (n.clone(), a.saturating_sub(*b)))
                .collect::<Vec<_>>(),
        )
    })?;
    let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
    let answered = verdicts.get();
    let ms = |p: f64| latency.percentile(p).map_or(0.0, |d| d.as_secs_f64() * 1e3);
    Ok(FleetSummary {
        registers: get(&totals.registers),
        failed: get(&totals.failed),
        sales: get(&totals.sales),
        slips: get(&totals.slips),
        sent: get(&totals.sent),
        accepted: answered[0],
        duplicate: answered[1],
        pending: get(&totals.pending),
        conflicts: get(&totals.conflicts),
        rejected: get(&totals.rejected),
        seconds: started.elapsed().as_secs_f64(),
        latency_ms: (latency.count() > 0).then(|| [ms(0.5), ms(0.99), ms(1.0)]),
        latency_samples: latency.count(),
        peak_rss_mb: peak_rss_mb(),
        per_node,
    })
}

/// Each node's count of confirmations judged (0 for a node that does not answer).
async fn node_counts(http: &reqwest::Client, nodes: &[String]) -> Vec<u64> {
    let mut counts = Vec::with_capacity(nodes.len());
    for n in nodes {
        let count = match http.get(format!("{n}/health")).send().await {
            Ok(r) => r
                .json::<serde_json::Value>()
                .await
                .ok()
                .and_then(|v| v["confirmations"].as_u64())
                .unwrap_or(0),
            Err(_) => 0,
        };
        counts.push(count);
    }
    counts
}

/// VmHWM of this process, in MB (Linux).
fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().strip_suffix("kB"))
        .and_then(|kb| kb.trim().parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
}

/// Register a terminal with the network (`POST /v1/test_helpers/terminals`), trying the
/// nodes in the order its register will (`nodes`, already rotated). A node that cannot be
/// reached, or answers 5xx or 429, is passed over for the next; when all have failed, the
/// round is tried again after a backoff (0.2 s doubling to 5 s), until `patience` has
/// passed. So a node killed mid-run, or the database restarting, does not end the fleet
/// (registrations go on while registers sell); a refusal (a wrong key: 4xx) ends it at once.
async fn register_terminal(
    http: &reqwest::Client,
    nodes: &[String],
    api_key: &str,
    (id, secret): (&str, &str),
    patience: Duration,
) -> anyhow::Result<()> {
    const RETRY: RetryPolicy =
        RetryPolicy::exponential(Duration::from_millis(200), Duration::from_secs(5))
            .with_jitter(Jitter::Full);
    let started = Instant::now();
    let mut retry = Retry::new(RETRY);
    loop {
        let mut last = String::new();
        for node in nodes {
            let sent = http
                .post(format!("{node}/v1/test_helpers/terminals"))
                .bearer_auth(api_key)
                .form(&[("id", id), ("secret", secret)])
                .send()
                .await;
            match sent {
                Ok(r) if r.status().is_success() => return Ok(()),
                Ok(r) => {
                    let status = r.status();
                    let body = r.text().await.unwrap_or_default();
                    anyhow::ensure!(
                        status.is_server_error()
                            || status == reqwest::StatusCode::TOO_MANY_REQUESTS,
                        "the network at {node} refused terminal {id}: {status} {body}"
                    );
                    last = format!("{node} answered {status} {body}");
                }
                Err(e) => last = format!("cannot reach the network at {node}: {e}"),
            }
        }
        let delay = retry.failed().unwrap_or(RETRY.max);
        anyhow::ensure!(
            started.elapsed() + delay <= patience,
            "cannot register terminal {id} within {} s: {last}",
            patience.as_secs()
        );
        tokio::time::sleep(delay).await;
    }
}

/// One register's day.
struct RegisterJob {
    latency: Arc<crate::sync::LatencyHistogram>,
    verdicts: Arc<crate::sync::VerdictCounts>,
    opts: FleetOptions,
    store: usize,
    id: String,
    secret: String,
    seed: u64,
    runtime: tokio::runtime::Handle,
    /// The nodes as this register tries them (`URL,URL,...`).
    upstream: String,
}

/// `nodes` as a list starting at node `start mod N`, the others after it in order.
fn rotated(nodes: &[String], start: usize) -> String {
    rotated_list(nodes, start).join(",")
}

/// The nodes from `start` (mod their number) on, round the list.
fn rotated_list(nodes: &[String], start: usize) -> Vec<String> {
    let n = nodes.len().max(1);
    (0..nodes.len())
        .map(|i| nodes[(start + i) % n].clone())
        .collect()
}

impl RegisterJob {
    fn run(&self) -> anyhow::Result<crate::replay::Summary> {
        let log = self.opts.dir.join(format!("{}.jsonl", self.id));
        let journal = self.opts.dir.join(format!("{}.db", self.id));
        let mut text = Vec::new();
        write_log(
            &SynthOptions {
                sales: self.opts.sales,
                seed: self.seed,
                date: self.opts.date,
                mistakes: true,
                max_slips: 3,
            },
            &mut text,
        )?;
        // The generator's header is one store's; each register says which it is.
        let body_at = text.iter().position(|&b| b == b'\n').map_or(0, |i| i + 1);
        let header = serde_json::json!({
            "konbini_scan_log": 1,
            "terminal": self.id,
            "store": {
                "code": format!("{:04}", self.store % 10_000),
                "chain": "lawson",
                "name": format!("ローソン 第{}店", self.store),
            },
        });
        let mut file = header.to_string().into_bytes();
        file.push(b'\n');
        file.extend_from_slice(&text[body_at..]);
        std::fs::write(&log, file).with_context(|| format!("cannot write {}", log.display()))?;
        let summary = replay(
            &ReplayOptions {
                log: log.clone(),
                journal,
                receipts: None,
                upstream: Some(UpstreamOptions {
                    url: self.upstream.clone(),
                    terminal_id: self.id.clone(),
                    terminal_secret: self.secret.clone(),
                    drain_timeout: self.opts.drain_timeout,
                    limits: konbini_register::OfflineLimits::default(),
                    runtime: Some(self.runtime.clone()),
                    latency: Some(self.latency.clone()),
                    verdicts: Some(self.verdicts.clone()),
                }),
                group_sales: self.opts.group_sales.max(1),
                barcodes: Default::default(),
            },
            &mut Quiet,
        )?;
        let _ = std::fs::remove_file(&log);
        Ok(summary)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn registers_start_at_successive_nodes() {
        let nodes = ["a".to_owned(), "b".to_owned(), "c".to_owned()];
        assert_eq!(super::rotated(&nodes, 0), "a,b,c");
        assert_eq!(super::rotated(&nodes, 1), "b,c,a");
        assert_eq!(super::rotated(&nodes, 5), "c,a,b");
    }
}
