//! A fault-injecting TCP proxy for the sync tests. It sits between a register's sync task
//! (reqwest, HTTP/1.1, JSON POST bodies, keep-alive) and the payment network on loopback and,
//! request by request, forwards, delays, truncates, resets or answers by itself, so a test can
//! check that every confirmation still arrives exactly once whatever the network does. It is
//! std only: one thread per client connection, each with its own upstream connection, just
//! enough HTTP/1.1 to find where messages end (`Content-Length`, chunked, close-delimited),
//! every read under a timeout, and no panic off the test thread: an I/O error ends that one
//! connection quietly.
//!
//! ```ignore
//! let proxy = Proxy::start(network_addr); // and give the register proxy.url()
//! proxy.set_mode(Mode::ResetMidResponse); // the network records it, the register never hears
//! // ... let the register try, then heal the network and wait for the retry ...
//! proxy.set_mode(Mode::Pass);
//! assert!(proxy.requests_forwarded() >= 2);
//! ```
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{self, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// The longest wait for the next bytes of a request from the client.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest wait for the next bytes of a response from the upstream.
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(30);
/// How often an idle kept-alive connection looks at the mode, the pause and the upstream.
const POLL: Duration = Duration::from_millis(20);
/// A kept-alive connection with no request for this long is closed.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// How long `ResetMidRequest` waits for the whole request head to be in the kernel.
const RESET_WAIT: Duration = Duration::from_secs(2);
const MAX_HEAD: usize = 64 * 1024;
const MAX_BODY: usize = 64 * 1024 * 1024;

/// What the proxy does with the next request (or connection).
///
/// The mode is read when a connection is accepted (for `Down`) and again when each request
/// starts, so a change applies to kept-alive connections from their next request on; an idle
/// kept-alive connection is also closed within [`POLL`] when the mode turns `Down` (a server
/// that goes down drops its connections).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Forward both ways, unchanged.
    Pass,
    /// Accept and close at once (FIN, or RST if the client had already sent bytes). For a
    /// refused connection, see [`Proxy::pause`].
    Down,
    /// Forward the request at once, then hold the whole response this long before sending it.
    Slow(Duration),
    /// Wait until the request head has arrived, then reset the connection (RST) without
    /// reading it: the upstream never sees the request.
    ResetMidRequest,
    /// Forward the request, read the whole response, send the client its head and the first
    /// half of its body (half of all the bytes if the body is empty), then close (FIN): the
    /// upstream processed the request but the client cannot know it.
    ResetMidResponse,
    /// Answer `200 OK` with `<html>oops</html>` (`text/html`) without contacting the upstream.
    Garbage,
    /// Answer this status, with `Retry-After: N` if given and a small JSON error body, without
    /// contacting the upstream.
    Status(u16, Option<u32>),
    /// Answer the first this many confirmation batches (`POST /terminal/v1/confirmations`,
    /// counted from `set_mode`) `503` without contacting the upstream; `Pass` otherwise.
    FailFirstBatches(u64),
    /// `Pass` for `period`, then `Down` for `period`, and so on, counted from `set_mode`.
    Flaky {
        /// The length of each phase; zero means always `Pass`.
        period: Duration,
    },
}

/// The fault-injecting proxy; stops accepting and closes its connections when dropped.
pub struct Proxy {
    shared: Arc<Shared>,
    /// The accept thread, `None` while paused.
    accept: Mutex<Option<JoinHandle<()>>>,
}

struct Shared {
    upstream: SocketAddr,
    addr: SocketAddr,
    mode: Mutex<(Mode, Instant)>,
    stop: AtomicBool,
    paused: AtomicBool,
    connections: AtomicU64,
    forwarded: AtomicU64,
    /// Batches seen under `FailFirstBatches` since `set_mode`.
    failed: AtomicU64,
    next_id: AtomicU64,
    /// A clone of every open socket, to shut them down when the proxy goes.
    live: Mutex<HashMap<u64, TcpStream>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Proxy {
    /// Listens on `127.0.0.1:0` and forwards to `upstream`, in [`Mode::Pass`].
    pub fn start(upstream: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("proxy: bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("proxy: local_addr");
        let shared = Arc::new(Shared {
            upstream,
            addr,
            mode: Mutex::new((Mode::Pass, Instant::now())),
            stop: AtomicBool::new(false),
            paused: AtomicBool::new(false),
            connections: AtomicU64::new(0),
            forwarded: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            next_id: AtomicU64::new(0),
            live: Mutex::new(HashMap::new()),
        });
        let handle = spawn_accept(listener, Arc::clone(&shared));
        Proxy {
            shared,
            accept: Mutex::new(Some(handle)),
        }
    }

    /// `http://127.0.0.1:PORT`, the base URL to give the client instead of the upstream's.
    pub fn url(&self) -> String {
        format!("http://{}", self.shared.addr)
    }

    /// The address the proxy listens on (the same port across pause and resume).
    pub fn addr(&self) -> SocketAddr {
        self.shared.addr
    }

    /// Applies from the next connection or request on (and restarts a `Flaky` cycle).
    pub fn set_mode(&self, mode: Mode) {
        let mut m = lock(&self.shared.mode);
        self.shared.failed.store(0, Ordering::SeqCst);
        *m = (mode, Instant::now());
    }

    /// The mode last set.
    pub fn mode(&self) -> Mode {
        lock(&self.shared.mode).0
    }

    /// Stops listening (connecting now fails with "connection refused") and closes idle
    /// kept-alive connections within [`POLL`]; exchanges in flight finish. Returns once the
    /// listening socket is closed. Does nothing if already paused.
    pub fn pause(&self) {
        let mut accept = lock(&self.accept);
        if let Some(handle) = accept.take() {
            self.shared.paused.store(true, Ordering::SeqCst);
            self.shared.wake_and_join(handle);
        }
    }

    /// Listens again on the same port. std's `TcpListener` sets `SO_REUSEADDR` on Unix, so
    /// connections left in TIME_WAIT do not block the bind; the port could still be taken by
    /// another socket meanwhile (very unlikely on loopback), so this retries for 5 s and then
    /// panics, on the test thread. Does nothing if not paused.
    pub fn resume(&self) {
        let mut accept = lock(&self.accept);
        if accept.is_some() {
            return;
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        let listener = loop {
            match TcpListener::bind(self.shared.addr) {
                Ok(l) => break l,
                Err(_) if Instant::now() < deadline => thread::sleep(Duration::from_millis(50)),
                Err(e) => panic!("proxy: cannot listen on {} again: {e}", self.shared.addr),
            }
        };
        self.shared.paused.store(false, Ordering::SeqCst);
        *accept = Some(spawn_accept(listener, Arc::clone(&self.shared)));
    }

    /// Whether [`Proxy::pause`] is in effect.
    pub fn is_paused(&self) -> bool {
        lock(&self.accept).is_none()
    }

    /// Client connections accepted so far (whatever the mode did with them).
    pub fn connections(&self) -> u64 {
        self.shared.connections.load(Ordering::SeqCst)
    }

    /// Requests written in full to the upstream so far.
    pub fn requests_forwarded(&self) -> u64 {
        self.shared.forwarded.load(Ordering::SeqCst)
    }

    /// Shuts down every open connection now, both ways (a network blip); keeps listening.
    pub fn drop_connections(&self) {
        self.shared.shutdown_all();
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        if let Some(handle) = lock(&self.accept).take() {
            self.shared.wake_and_join(handle);
        }
        self.shared.shutdown_all();
    }
}

impl Shared {
    /// Unblocks the accept loop (which sees `stop` or `paused` and drops the listener).
    fn wake_and_join(&self, handle: JoinHandle<()>) {
        match TcpStream::connect_timeout(&self.addr, Duration::from_secs(2)) {
            Ok(_) => {
                let _ = handle.join();
            }
            // Not joined: better a leaked thread than a test hung forever.
            Err(_) => drop(handle),
        }
    }

    fn shutdown_all(&self) {
        for s in lock(&self.live).values() {
            let _ = s.shutdown(Shutdown::Both);
        }
    }

    fn stopping(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    /// The mode now, with `Flaky` resolved to `Pass` or `Down`.
    fn effective_mode(&self) -> Mode {
        let (mode, since) = *lock(&self.mode);
        match mode {
            Mode::Flaky { period } if !period.is_zero() => {
                if (since.elapsed().as_nanos() / period.as_nanos()) % 2 == 0 {
                    Mode::Pass
                } else {
                    Mode::Down
                }
            }
            Mode::Flaky { .. } => Mode::Pass,
            m => m,
        }
    }

    /// Sleeps, but no longer than the proxy lives; false if it was dropped meanwhile.
    fn nap(&self, d: Duration) -> bool {
        let end = Instant::now() + d;
        loop {
            if self.stopping() {
                return false;
            }
            let now = Instant::now();
            if now >= end {
                return true;
            }
            thread::sleep(POLL.min(end - now));
        }
    }

    /// Keeps a clone of `s` so `Drop` can shut it down; forgotten when the guard drops.
    fn track(&self, s: &TcpStream) -> Option<Tracked<'_>> {
        let clone = s.try_clone().ok()?;
        let id = self.next_id.fetch_add(1, Ordering::SeqCst);
        lock(&self.live).insert(id, clone);
        if self.stopping() {
            let _ = s.shutdown(Shutdown::Both);
        }
        Some(Tracked { shared: self, id })
    }
}

struct Tracked<'a> {
    shared: &'a Shared,
    id: u64,
}

impl Drop for Tracked<'_> {
    fn drop(&mut self) {
        lock(&self.shared.live).remove(&self.id);
    }
}

fn spawn_accept(listener: TcpListener, shared: Arc<Shared>) -> JoinHandle<()> {
    thread::Builder::new()
        .name("proxy-accept".into())
        .spawn(move || accept_loop(listener, shared))
        .expect("proxy: spawn the accept thread")
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let accepted = listener.accept();
        if shared.stopping() || shared.paused.load(Ordering::SeqCst) {
            return; // drops the listener: the port stops listening
        }
        match accepted {
            Ok((stream, _)) => {
                shared.connections.fetch_add(1, Ordering::SeqCst);
                let shared = Arc::clone(&shared);
                // If the thread cannot be spawned the connection is simply dropped.
                let _ = thread::Builder::new()
                    .name("proxy-conn".into())
                    .spawn(move || serve(stream, &shared));
            }
            Err(_) => thread::sleep(POLL),
        }
    }
}

fn serve(client: TcpStream, shared: &Shared) {
    if shared.effective_mode() == Mode::Down {
        return; // accept and close
    }
    let Some(tracked) = shared.track(&client) else {
        return;
    };
    let _ = client.set_nodelay(true);
    let mut conn = Conn {
        shared,
        client: Stream::new(client, tracked),
        upstream: None,
    };
    let _ = conn.run();
}

/// A socket with the bytes read from it but not consumed yet.
struct Stream<'a> {
    tcp: TcpStream,
    buf: Vec<u8>,
    _tracked: Tracked<'a>,
}

impl<'a> Stream<'a> {
    fn new(tcp: TcpStream, tracked: Tracked<'a>) -> Stream<'a> {
        Stream {
            tcp,
            buf: Vec::new(),
            _tracked: tracked,
        }
    }

    /// Reads more into `buf`; 0 at end of stream.
    fn fill(&mut self) -> io::Result<usize> {
        let mut chunk = [0u8; 16 * 1024];
        loop {
            match self.tcp.read(&mut chunk) {
                Ok(n) => {
                    self.buf.extend_from_slice(&chunk[..n]);
                    return Ok(n);
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// A message head up to and including the blank line; `None` at a clean end of stream.
    fn read_head(&mut self) -> io::Result<Option<Vec<u8>>> {
        loop {
            if let Some(i) = find(&self.buf, b"\r\n\r\n") {
                return Ok(Some(self.buf.drain(..i + 4).collect()));
            }
            if self.buf.len() > MAX_HEAD {
                return Err(invalid("message head too long"));
            }
            if self.fill()? == 0 {
                return if self.buf.is_empty() {
                    Ok(None)
                } else {
                    Err(ErrorKind::UnexpectedEof.into())
                };
            }
        }
    }

    fn take(&mut self, n: usize) -> io::Result<Vec<u8>> {
        if n > MAX_BODY {
            return Err(invalid("body too long"));
        }
        while self.buf.len() < n {
            if self.fill()? == 0 {
                return Err(ErrorKind::UnexpectedEof.into());
            }
        }
        Ok(self.buf.drain(..n).collect())
    }

    /// One line, with its `\r\n`.
    fn line(&mut self) -> io::Result<Vec<u8>> {
        loop {
            if let Some(i) = find(&self.buf, b"\r\n") {
                return Ok(self.buf.drain(..i + 2).collect());
            }
            if self.buf.len() > MAX_HEAD {
                return Err(invalid("line too long"));
            }
            if self.fill()? == 0 {
                return Err(ErrorKind::UnexpectedEof.into());
            }
        }
    }

    fn read_to_close(&mut self) -> io::Result<Vec<u8>> {
        while self.fill()? > 0 {
            if self.buf.len() > MAX_BODY {
                return Err(invalid("body too long"));
            }
        }
        Ok(std::mem::take(&mut self.buf))
    }

    /// A chunked body, raw (sizes, chunks, trailers), to be forwarded as is.
    fn chunked(&mut self) -> io::Result<Vec<u8>> {
        let mut raw = Vec::new();
        loop {
            let line = self.line()?;
            let text = std::str::from_utf8(&line).map_err(|_| invalid("chunk size"))?;
            let size = text.split(';').next().unwrap_or("").trim();
            let size = usize::from_str_radix(size, 16).map_err(|_| invalid("chunk size"))?;
            raw.extend_from_slice(&line);
            if raw.len().saturating_add(size) > MAX_BODY {
                return Err(invalid("body too long"));
            }
            if size == 0 {
                // Trailers, up to the blank line.
                loop {
                    let line = self.line()?;
                    raw.extend_from_slice(&line);
                    if line == b"\r\n" {
                        return Ok(raw);
                    }
                }
            }
            raw.extend_from_slice(&self.take(size + 2)?);
        }
    }
}

/// One client connection and its upstream connection (opened at the first forward).
struct Conn<'a> {
    shared: &'a Shared,
    client: Stream<'a>,
    upstream: Option<Stream<'a>>,
}

impl Conn<'_> {
    fn run(&mut self) -> io::Result<()> {
        loop {
            if !self.wait_for_request()? {
                return Ok(());
            }
            let mode = self.shared.effective_mode();
            match mode {
                // Dropped with the request unread: Linux answers RST.
                Mode::Down => return Ok(()),
                Mode::ResetMidRequest => {
                    self.wait_for_head_unread();
                    return Ok(());
                }
                _ => {}
            }
            self.client.tcp.set_read_timeout(Some(CLIENT_TIMEOUT))?;
            let Some(raw_head) = self.client.read_head()? else {
                return Ok(());
            };
            let head = Head::parse(&raw_head)?;
            let body = if head.chunked() {
                self.client.chunked()?
            } else {
                let n = head.content_length()?.unwrap_or(0);
                self.client.take(n)?
            };
            let close = head.wants_close();
            let keep = match mode {
                Mode::Garbage => {
                    let html = b"<html>oops</html>";
                    self.respond(200, "text/html", html, None, close)?;
                    !close
                }
                Mode::FailFirstBatches(n)
                    if head.start.starts_with("POST /terminal/v1/confirmations ")
                        && self.shared.failed.fetch_add(1, Ordering::SeqCst) < n =>
                {
                    let json =
                        r#"{"error":{"type":"api_error","message":"injected by the test proxy"}}"#;
                    self.respond(503, "application/json", json.as_bytes(), None, close)?;
                    !close
                }
                Mode::Status(status, retry_after) => {
                    let json = format!(
                        r#"{{"error":{{"type":"api_error","message":"injected by the test proxy: {status} {}"}}}}"#,
                        reason(status)
                    );
                    self.respond(
                        status,
                        "application/json",
                        json.as_bytes(),
                        retry_after,
                        close,
                    )?;
                    !close
                }
                _ => self.forward(&head, &raw_head, &body, mode)? && !close,
            };
            if !keep {
                return Ok(());
            }
        }
    }

    /// Waits for the first byte of the next request, without reading it. False when the
    /// connection should end instead: the client closed, the proxy is dropped or paused, the
    /// mode is `Down`, the upstream connection closed, or nothing came for [`IDLE_TIMEOUT`].
    fn wait_for_request(&mut self) -> io::Result<bool> {
        if !self.client.buf.is_empty() {
            return Ok(true);
        }
        self.client.tcp.set_read_timeout(Some(POLL))?;
        let start = Instant::now();
        let mut probe = [0u8; 1];
        loop {
            match self.client.tcp.peek(&mut probe) {
                Ok(0) => return Ok(false),
                Ok(_) => return Ok(true),
                Err(e) if is_timeout(&e) || e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
            if self.shared.stopping()
                || self.shared.paused.load(Ordering::SeqCst)
                || self.shared.effective_mode() == Mode::Down
                || self.upstream_gone()
                || start.elapsed() > IDLE_TIMEOUT
            {
                return Ok(false);
            }
        }
    }

    /// Whether the kept-alive upstream connection was closed (the client, talking to the
    /// upstream directly, would have seen it close too).
    fn upstream_gone(&self) -> bool {
        let Some(up) = &self.upstream else {
            return false;
        };
        if up.tcp.set_nonblocking(true).is_err() {
            return true;
        }
        let gone = match up.tcp.peek(&mut [0u8; 1]) {
            Ok(0) => true,
            Ok(_) => false,
            Err(e) => e.kind() != ErrorKind::WouldBlock,
        };
        gone || up.tcp.set_nonblocking(false).is_err()
    }

    /// Peeks until the request head is in the socket's receive queue (or [`RESET_WAIT`]
    /// passes), so that closing with it unread makes the kernel send RST, not FIN.
    fn wait_for_head_unread(&mut self) {
        let deadline = Instant::now() + RESET_WAIT;
        let mut probe = vec![0u8; MAX_HEAD];
        while Instant::now() < deadline && !self.shared.stopping() {
            match self.client.tcp.peek(&mut probe) {
                Ok(0) => return,
                Ok(n) if find(&probe[..n], b"\r\n\r\n").is_some() => return,
                Ok(_) => thread::sleep(Duration::from_millis(5)),
                Err(e) if is_timeout(&e) || e.kind() == ErrorKind::Interrupted => {}
                Err(_) => return,
            }
        }
    }

    /// An answer made up here; the request never reaches the upstream.
    fn respond(
        &mut self,
        status: u16,
        content_type: &str,
        body: &[u8],
        retry_after: Option<u32>,
        close: bool,
    ) -> io::Result<()> {
        let body = if no_body(status) { &[][..] } else { body };
        let mut out = format!("HTTP/1.1 {status} {}\r\n", reason(status));
        if !no_body(status) {
            out.push_str(&format!(
                "content-type: {content_type}\r\ncontent-length: {}\r\n",
                body.len()
            ));
        }
        if let Some(secs) = retry_after {
            out.push_str(&format!("retry-after: {secs}\r\n"));
        }
        if close {
            out.push_str("connection: close\r\n");
        }
        out.push_str("\r\n");
        let mut out = out.into_bytes();
        out.extend_from_slice(body);
        self.client.tcp.write_all(&out)?;
        self.client.tcp.flush()
    }

    /// Sends the request upstream and the response back, as `mode` says. True if both
    /// connections can carry another request.
    fn forward(
        &mut self,
        head: &Head,
        raw_head: &[u8],
        body: &[u8],
        mode: Mode,
    ) -> io::Result<bool> {
        if self.upstream.is_none() {
            // A refused or failed upstream connection: close the client's, as the upstream
            // would have refused it.
            let Ok(tcp) = TcpStream::connect_timeout(&self.shared.upstream, Duration::from_secs(5))
            else {
                return Ok(false);
            };
            let Some(tracked) = self.shared.track(&tcp) else {
                return Ok(false);
            };
            let _ = tcp.set_nodelay(true);
            tcp.set_read_timeout(Some(UPSTREAM_TIMEOUT))?;
            tcp.set_write_timeout(Some(UPSTREAM_TIMEOUT))?;
            self.upstream = Some(Stream::new(tcp, tracked));
        }
        let Some(up) = self.upstream.as_mut() else {
            return Ok(false);
        };
        let mut request = raw_head.to_vec();
        request.extend_from_slice(body);
        if up
            .tcp
            .write_all(&request)
            .and_then(|()| up.tcp.flush())
            .is_err()
        {
            self.upstream = None;
            return Ok(false);
        }
        self.shared.forwarded.fetch_add(1, Ordering::SeqCst);

        // The response, whole; interim (1xx) responses are passed on in front of it.
        let mut out = Vec::new();
        let (head_end, upstream_close) = match read_response(up, head.is_head(), &mut out) {
            Ok(r) => r,
            // The upstream failed mid-response: the client sees its connection close.
            Err(_) => {
                self.upstream = None;
                return Ok(false);
            }
        };
        if upstream_close {
            self.upstream = None;
        }
        if let Mode::Slow(delay) = mode
            && !self.shared.nap(delay)
        {
            return Ok(false);
        }
        if mode == Mode::ResetMidResponse {
            let body_len = out.len() - head_end;
            let cut = if body_len > 0 {
                head_end + body_len / 2
            } else {
                out.len() / 2
            };
            self.client.tcp.write_all(&out[..cut])?;
            self.client.tcp.flush()?;
            self.upstream = None;
            return Ok(false);
        }
        self.client.tcp.write_all(&out)?;
        self.client.tcp.flush()?;
        Ok(!upstream_close)
    }
}

/// Reads one response (after any interim ones) into `out`. Returns where the final head
/// ends in `out`, and whether the upstream connection ends with this response.
fn read_response(up: &mut Stream, to_head: bool, out: &mut Vec<u8>) -> io::Result<(usize, bool)> {
    loop {
        let raw = up.read_head()?.ok_or(ErrorKind::UnexpectedEof)?;
        let head = Head::parse(&raw)?;
        let status = head.status()?;
        out.extend_from_slice(&raw);
        if (100..200).contains(&status) && status != 101 {
            continue;
        }
        let head_end = out.len();
        let mut close = head.wants_close() || status == 101;
        if !(to_head || no_body(status)) {
            if head.chunked() {
                out.extend_from_slice(&up.chunked()?);
            } else if let Some(n) = head.content_length()? {
                out.extend_from_slice(&up.take(n)?);
            } else {
                out.extend_from_slice(&up.read_to_close()?);
                close = true;
            }
        }
        return Ok((head_end, close));
    }
}

/// A parsed message head: the start line and the header fields.
struct Head {
    start: String,
    fields: Vec<(String, String)>,
}

impl Head {
    fn parse(raw: &[u8]) -> io::Result<Head> {
        let text = std::str::from_utf8(raw).map_err(|_| invalid("head is not UTF-8"))?;
        let mut lines = text.split("\r\n");
        let start = lines.next().unwrap_or("").to_owned();
        let fields = lines
            .filter(|l| !l.is_empty())
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        Ok(Head { start, fields })
    }

    fn values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.fields
            .iter()
            .filter(move |(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Whether a comma-separated field (`Connection`, `Transfer-Encoding`) has `token`.
    fn has_token(&self, name: &str, token: &str) -> bool {
        self.values(name)
            .flat_map(|v| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    }

    fn http_1_0(&self) -> bool {
        // "GET / HTTP/1.0" for a request, "HTTP/1.0 200 OK" for a response.
        self.start.ends_with("HTTP/1.0") || self.start.starts_with("HTTP/1.0 ")
    }

    fn wants_close(&self) -> bool {
        self.has_token("connection", "close")
            || (self.http_1_0() && !self.has_token("connection", "keep-alive"))
    }

    fn chunked(&self) -> bool {
        self.has_token("transfer-encoding", "chunked")
    }

    fn content_length(&self) -> io::Result<Option<usize>> {
        match self.values("content-length").next() {
            None => Ok(None),
            Some(v) => v.parse().map(Some).map_err(|_| invalid("content-length")),
        }
    }

    fn is_head(&self) -> bool {
        self.start.starts_with("HEAD ")
    }

    /// A response's status code.
    fn status(&self) -> io::Result<u16> {
        self.start
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| invalid("status line"))
    }
}

fn no_body(status: u16) -> bool {
    (100..200).contains(&status) || status == 204 || status == 304
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        408 => "Request Timeout",
        409 => "Conflict",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Injected",
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(ErrorKind::InvalidData, what.to_owned())
}
