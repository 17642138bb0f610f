//! `konbini-bench soak`: the release `konbini network` (beside this program) under hostile
//! load on loopback, bounded in count and time:
//!
//! - `--slow` connections (default 5,000) kept open for the whole run: half trickle a
//!   request head a byte at a time and never finish it, half connect and say nothing; the
//!   ones the network closes (its idle timeout) are opened again;
//! - `--uploads` unfinished uploads (default 300) of confirmations, never authenticated: a
//!   third with no terminal headers, a third with an unknown terminal, a third naming a known
//!   terminal with a fresh, well-formed but wrong signature, each declaring a 1 MiB body,
//!   sending half of it and stalling;
//! - a webhook endpoint that accepts connections and never answers, beside a healthy one.
//!
//! Meanwhile it times `/health` and a signed confirmation (another terminal's), each on a new
//! connection, and the healthy endpoint's delivery of each payment's event, and reads the
//! network's peak memory (VmHWM). The figures are printed with their ratio to the goals:
//! under 200 MB; `/health` and a confirmation within 1 s; each event within 1 s.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What to run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Slow or half-open connections held.
    pub slow: usize,
    /// Unfinished unauthenticated uploads.
    pub uploads: usize,
    /// Samples of each timing.
    pub samples: usize,
    /// How long the load is held while the samples are taken, spread evenly (longer than
    /// the network's 30 s idle timeout, so closed connections are opened again meanwhile).
    pub seconds: f64,
}

/// What was measured.
#[derive(Debug)]
pub struct Figures {
    /// Slow connections open when the timings were taken (the least seen).
    pub slow_open: usize,
    /// Uploads answered at once (401 or 429) and uploads still held open.
    pub uploads_refused: usize,
    /// See [`Figures::uploads_refused`].
    pub uploads_held: usize,
    /// The network's peak RSS, bytes.
    pub peak_rss: f64,
    /// Its RSS once it had started, with the webhook endpoints and payments made, before any
    /// load.
    pub idle_rss: f64,
    /// Slow connections the network closed (its idle timeout), each opened again.
    pub reopened: usize,
    /// How long the load was held.
    pub held: Duration,
    /// `/health` on a new connection, sorted.
    pub health: Vec<Duration>,
    /// A signed confirmation on a new connection, sorted.
    pub confirm: Vec<Duration>,
    /// Confirmation answered to event at the healthy endpoint, sorted.
    pub webhook: Vec<Duration>,
}

const API_KEY: &str = "sk_test_soak";
const REAL: (&str, &str) = ("soak-real", "real-secret");
const ATTACKED: (&str, &str) = ("soak-attacked", "attacked-secret");

fn konbini_beside_us() -> anyhow::Result<PathBuf> {
    let me = std::env::current_exe().context("cannot find this program's own path")?;
    let exe = me.with_file_name("konbini");
    anyhow::ensure!(
        exe.is_file(),
        "{} is missing: build it first with `cargo build --release` (the soak runs the real network)",
        exe.display()
    );
    Ok(exe)
}

/// Run the soak.
pub fn run(opts: &Options) -> anyhow::Result<Figures> {
    // Our own side holds thousands of sockets too.
    konbini_pos::fd_limit::raise();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let scratch = tempfile_dir()?;
    let result = rt.block_on(soak(opts, &scratch));
    let _ = std::fs::remove_dir_all(&scratch);
    result
}

fn tempfile_dir() -> anyhow::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("konbini-soak-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

async fn soak(opts: &Options, scratch: &Path) -> anyhow::Result<Figures> {
    let mut child = std::process::Command::new(konbini_beside_us()?)
        .args(["network", "--listen", "127.0.0.1:0", "--api-key", API_KEY])
        .arg("--db")
        .arg(scratch.join("net.db"))
        .arg("--terminal")
        .arg(format!("{}={}", REAL.0, REAL.1))
        .arg("--terminal")
        .arg(format!("{}={}", ATTACKED.0, ATTACKED.1))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .context("cannot start konbini network")?;
    let pid = child.id();
    let mut first = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().context("no stdout")?),
        &mut first,
    )?;
    let url = first
        .trim()
        .strip_prefix("listening on ")
        .with_context(|| format!("the network's first line is {first:?}"))?
        .to_owned();
    let result = under_load(opts, &url, pid).await;
    let _ = child.kill();
    let _ = child.wait();
    result
}

async fn under_load(opts: &Options, url: &str, pid: u32) -> anyhow::Result<Figures> {
    let addr = url.trim_start_matches("http://").to_owned();
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(30))
        .build()?;

    // The webhook endpoints: one that never answers, one that notes each event's arrival.
    let dead = TcpListener::bind("127.0.0.1:0").await?;
    let dead_url = format!("http://{}/hook", dead.local_addr()?);
    let held_dead = Arc::new(tokio::sync::Mutex::new(Vec::new()));
    {
        let held = held_dead.clone();
        tokio::spawn(async move {
            while let Ok((s, _)) = dead.accept().await {
                held.lock().await.push(s);
            }
        });
    }
    let (got_tx, mut got_rx) = tokio::sync::mpsc::unbounded_channel::<(String, Instant)>();
    let healthy = TcpListener::bind("127.0.0.1:0").await?;
    let healthy_url = format!("http://{}/hook", healthy.local_addr()?);
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |body: bytes::Bytes| {
            let tx = got_tx.clone();
            async move {
                let at = Instant::now();
                if let Ok(v) = serde_json::from_slice::<Value>(&body)
                    && v["type"] == "payment_intent.succeeded"
                {
                    let id = v["data"]["object"]["id"].as_str().unwrap_or("").to_owned();
                    let _ = tx.send((id, at));
                }
                "ok"
            }
        }),
    );
    tokio::spawn(async move { axum::serve(healthy, app).await });
    for hook in [&dead_url, &healthy_url] {
        let r = http
            .post(format!("{url}/v1/webhook_endpoints"))
            .bearer_auth(API_KEY)
            .form(&[
                ("url", hook.as_str()),
                ("enabled_events[0]", "payment_intent.succeeded"),
            ])
            .send()
            .await?;
        anyhow::ensure!(
            r.status().is_success(),
            "webhook endpoint: {}",
            r.text().await?
        );
    }
    // The payments the timed confirmations pay.
    let mut payments = Vec::new();
    for _ in 0..opts.samples {
        let v: Value = http
            .post(format!("{url}/v1/payment_intents"))
            .bearer_auth(API_KEY)
            .form(&[
                ("amount", "1200"),
                ("currency", "jpy"),
                ("payment_method_types[0]", "konbini"),
                ("confirm", "true"),
                ("payment_method_data[type]", "konbini"),
                ("payment_method_data[billing_details][name]", "Soak"),
                (
                    "payment_method_data[billing_details][email]",
                    "soak@example.jp",
                ),
            ])
            .send()
            .await?
            .json()
            .await?;
        let id = v["id"].as_str().context("a payment id")?.to_owned();
        let barcode = v["next_action"]["konbini_display_details"]["barcode"]
            .as_str()
            .context("a barcode")?
            .to_owned();
        payments.push((id, barcode));
    }

    let idle_rss = proc_bytes(pid, "VmRSS")?;
    // The slow connections, kept at their number until `stop`.
    let stop = Arc::new(AtomicBool::new(false));
    let open = Arc::new(AtomicUsize::new(0));
    let reopened = Arc::new(AtomicUsize::new(0));
    let mut slow_tasks = Vec::new();
    for i in 0..opts.slow {
        let (addr, stop, open, reopened) =
            (addr.clone(), stop.clone(), open.clone(), reopened.clone());
        slow_tasks.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let Ok(mut s) = TcpStream::connect(&addr).await else {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                };
                open.fetch_add(1, Ordering::Relaxed);
                let head = b"GET /health HTTP/1.1\r\nhost: soak\r\nx-slow: ";
                let mut sent = 0;
                let mut buf = [0u8; 256];
                loop {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    if i % 2 == 0 {
                        // A byte of head every half second, never the end of it.
                        let b = if sent < head.len() { head[sent] } else { b'a' };
                        if s.write_all(&[b]).await.is_err() {
                            break;
                        }
                        sent += 1;
                    }
                    // Closed by the network (its idle timeout)? Then open another.
                    match tokio::time::timeout(Duration::from_millis(500), s.read(&mut buf)).await {
                        Ok(Ok(0)) | Ok(Err(_)) => {
                            reopened.fetch_add(1, Ordering::Relaxed);
                            break;
                        }
                        _ => {}
                    }
                }
                open.fetch_sub(1, Ordering::Relaxed);
            }
        }));
    }
    // Let them all connect.
    let start = Instant::now();
    while open.load(Ordering::Relaxed) < opts.slow * 95 / 100
        && start.elapsed() < Duration::from_secs(30)
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // The unfinished uploads.
    let t = chrono::Utc::now().timestamp();
    let path = konbini_protocol::CONFIRMATIONS_PATH;
    let wrong = konbini_protocol::sign("not-the-secret", t, "POST", path, b"x");
    let mut uploads = Vec::new();
    let (mut refused, mut held) = (0, 0);
    for i in 0..opts.uploads {
        let auth = match i % 3 {
            0 => String::new(),
            1 => format!("konbini-terminal: soak-unknown\r\nkonbini-signature: {wrong}\r\n"),
            _ => format!(
                "konbini-terminal: {}\r\nkonbini-signature: {wrong}\r\n",
                ATTACKED.0
            ),
        };
        let Ok(mut s) = TcpStream::connect(&addr).await else {
            continue;
        };
        let head = format!(
            "POST {path} HTTP/1.1\r\nhost: soak\r\ncontent-type: application/json\r\n{auth}content-length: {}\r\n\r\n",
            1 << 20
        );
        if s.write_all(head.as_bytes()).await.is_err() {
            refused += 1;
            continue;
        }
        // Half a megabyte, unless the network has answered already.
        let half = vec![b' '; 512 * 1024];
        let _ = tokio::time::timeout(Duration::from_millis(200), s.write_all(&half)).await;
        let mut buf = [0u8; 512];
        match tokio::time::timeout(Duration::from_millis(50), s.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => refused += 1,
            Ok(_) => refused += 1,
            Err(_) => held += 1,
        }
        uploads.push(s);
    }

    // The timings, under all of that.
    let mut health = Vec::new();
    let mut confirm = Vec::new();
    let mut webhook = Vec::new();
    let mut slow_open = usize::MAX;
    let load_start = Instant::now();
    let every = Duration::from_secs_f64(opts.seconds / payments.len().max(1) as f64);
    for (i, (pi, barcode)) in payments.iter().enumerate() {
        // Spread over the run: the samples see the load as it goes on.
        let due = load_start + every * i as u32;
        tokio::time::sleep_until(due.into()).await;
        slow_open = slow_open.min(open.load(Ordering::Relaxed));
        let t0 = Instant::now();
        let r = http.get(format!("{url}/health")).send().await?;
        anyhow::ensure!(r.status().is_success(), "/health: {}", r.status());
        r.bytes().await?;
        health.push(t0.elapsed());

        let body = json!({"confirmations": [{
            "id": format!("soak-{i}"),
            "store": "0042",
            "chain": "lawson",
            "paid_at": chrono::Utc::now().to_rfc3339(),
            "amount": 1200,
            "barcode": barcode,
        }]})
        .to_string();
        let t = chrono::Utc::now().timestamp();
        let sig = konbini_protocol::sign(REAL.1, t, "POST", path, body.as_bytes());
        let t0 = Instant::now();
        let r = http
            .post(format!("{url}{path}"))
            .header(konbini_protocol::TERMINAL_HEADER, REAL.0)
            .header(konbini_protocol::SIGNATURE_HEADER, sig)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await?;
        let status = r.status();
        let v: Value = r.json().await?;
        let answered = Instant::now();
        confirm.push(answered - t0);
        anyhow::ensure!(
            status.is_success() && v["results"][0]["status"] == "accepted",
            "confirmation: {status} {v}"
        );
        // Its event at the healthy endpoint (the dead one holds its own).
        let deadline = Duration::from_secs(30);
        loop {
            let (id, at) = tokio::time::timeout(deadline, got_rx.recv())
                .await
                .context("the healthy endpoint got no event within 30 s")?
                .context("the healthy endpoint stopped")?;
            if &id == pi {
                webhook.push(at.saturating_duration_since(answered));
                break;
            }
        }
    }
    let held_for = load_start.elapsed();
    let peak_rss = proc_bytes(pid, "VmHWM")?;
    let dead_held = held_dead.lock().await.len();
    stop.store(true, Ordering::Relaxed);
    drop(uploads);
    for t in slow_tasks {
        t.abort();
    }
    anyhow::ensure!(dead_held > 0, "the dead endpoint was never called");
    health.sort();
    confirm.sort();
    webhook.sort();
    Ok(Figures {
        slow_open,
        uploads_refused: refused,
        uploads_held: held,
        peak_rss,
        idle_rss,
        reopened: reopened.load(Ordering::Relaxed),
        held: held_for,
        health,
        confirm,
        webhook,
    })
}

/// A field of /proc/<pid>/status in bytes (the kernel counts in kB).
fn proc_bytes(pid: u32, field: &str) -> anyhow::Result<f64> {
    let path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&path).with_context(|| format!("cannot read {path}"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().strip_suffix("kB"))
        .and_then(|kb| kb.trim().parse::<f64>().ok())
        .map(|kb| kb * 1024.0)
        .ok_or_else(|| anyhow::anyhow!("{path} has no {field}"))
}

/// Print the figures with their ratios to the goals.
pub fn print(opts: &Options, f: &Figures, out: &mut dyn std::io::Write) -> std::io::Result<()> {
    let ms = |d: &Duration| d.as_secs_f64() * 1e3;
    let max = |v: &[Duration]| v.last().map_or(0.0, ms);
    let p50 = |v: &[Duration]| v.get(v.len() / 2).map_or(0.0, ms);
    writeln!(
        out,
        "soak: {:.0} s under {} slow or half-open connections (at least {} open at each sample; {} closed by the network's idle timeout and opened again), {} unfinished unauthenticated 1 MiB uploads ({} refused before their body, {} held open), a webhook endpoint that never answers",
        f.held.as_secs_f64(),
        opts.slow,
        f.slow_open,
        f.reopened,
        opts.uploads,
        f.uploads_refused,
        f.uploads_held
    )?;
    writeln!(
        out,
        "soak: network peak RSS {:.1} MB (goal < 200 MB: {:.2} of it; the same network before the load: {:.1} MB)",
        f.peak_rss / 1e6,
        f.peak_rss / 1e6 / 200.0,
        f.idle_rss / 1e6
    )?;
    for (what, v) in [
        ("/health on a new connection", &f.health),
        ("a signed confirmation on a new connection", &f.confirm),
        (
            "the healthy endpoint's event after the confirmation",
            &f.webhook,
        ),
    ] {
        writeln!(
            out,
            "soak: {what}: p50 {:.1} ms, max {:.1} ms over {} (goal < 1 s: max {:.3} of it)",
            p50(v),
            max(v),
            v.len(),
            max(v) / 1000.0
        )?;
    }
    Ok(())
}
