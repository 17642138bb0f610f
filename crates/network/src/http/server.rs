//! The network's own accept loop over hyper, so that strangers cannot stall it:
//!
//! - a cap on concurrent connections ([`ServerLimits::max_connections`]); a connection past
//!   it is answered `503` with a JSON body and closed, so the ones already open keep working;
//! - a header timeout that is also the idle timeout: hyper starts the clock whenever it waits
//!   for a request head, on a new connection and between keep-alive requests alike (hyper
//!   1.x `proto/h1/conn.rs`, `poll_read_head`), so a half-sent head or a silent connection is
//!   closed after [`ServerLimits::header_timeout`]; a long-lived answer (a stream) is not
//!   waiting for a head and is not cut;
//! - a small head: at most [`MAX_HEAD_BYTES`] of request line and headers are buffered
//!   (hyper answers `431` past it), so 5,000 slow connections cost little memory;
//! - JSON bodies on the errors hyper answers by itself (`400`, `414`, `431` for a request it
//!   cannot parse): hyper writes those heads with no body, and [`JsonErrors`] gives them one
//!   in the shape every other error of the network has.
//!
//! Request bodies are read by the handlers, each with its route's limit and
//! [`ServerLimits::body_timeout`] (`super::read_body`).

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use serde_json::json;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// The most request line and headers hyper buffers for one request (its minimum is 8 KiB).
pub const MAX_HEAD_BYTES: usize = 64 * 1024;
/// How long a shutting-down server waits for requests in flight.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// What one peer may take of the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerLimits {
    /// Connections served at once; one more is answered 503 and closed.
    pub max_connections: usize,
    /// The longest wait for a request's head, on a new connection or between keep-alive
    /// requests (the idle timeout).
    pub header_timeout: Duration,
    /// The longest a request body may take to arrive, and the longest pause within it.
    pub body_timeout: Duration,
}

/// The defaults: room for a chain's fleet of registers, each with a connection or two
/// kept alive, under the common 20,000-descriptor limit.
pub const DEFAULT_MAX_CONNECTIONS: usize = 10_000;

impl Default for ServerLimits {
    fn default() -> ServerLimits {
        ServerLimits {
            max_connections: DEFAULT_MAX_CONNECTIONS,
            header_timeout: Duration::from_secs(30),
            body_timeout: Duration::from_secs(30),
        }
    }
}

/// The body of an error answered outside any route: the merchant API's shape (`type`,
/// `message`) and the terminal API's (`code`, `message`) at once, so both kinds of client
/// read it.
pub(crate) fn error_json(kind: &str, code: &str, message: &str) -> Vec<u8> {
    json!({"error": {"type": kind, "code": code, "message": message}})
        .to_string()
        .into_bytes()
}

/// Serve `app` on `listener` until `cancel`, then let requests in flight finish (for up to
/// [`SHUTDOWN_GRACE`]).
pub(crate) async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ServerLimits,
    cancel: CancellationToken,
) -> io::Result<()> {
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let connections = TaskTracker::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_header_size(MAX_HEAD_BYTES)
        .max_buf_size(MAX_HEAD_BYTES)
        .keep_alive(true);
    loop {
        let accepted = tokio::select! {
            _ = cancel.cancelled() => break,
            a = listener.accept() => a,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of descriptors (EMFILE/ENFILE) or a connection reset before accept:
                // the listener itself is fine. Pause so a full table is not a busy loop.
                eprintln!("konbini network: accept: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            connections.spawn(refuse(stream, limits.max_connections));
            continue;
        };
        let _ = stream.set_nodelay(true);
        let io = TokioIo::new(JsonErrors::new(stream));
        let conn = http.serve_connection(io, TowerToHyperService::new(app.clone()));
        let cancel = cancel.clone();
        connections.spawn(async move {
            let _slot = slot;
            let mut conn = std::pin::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => {}
                _ = cancel.cancelled() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.await;
                }
            }
        });
    }
    connections.close();
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, connections.wait()).await;
    Ok(())
}

/// Answer a connection past the cap: a 503 that says so, then close. The request is read
/// (briefly) first, so the client is not reset before it sees the answer.
async fn refuse(mut stream: TcpStream, cap: usize) {
    let body = error_json(
        "api_error",
        "too_many_connections",
        &format!(
            "The network is serving its limit of {cap} connections; retry shortly (--max-connections raises the limit)."
        ),
    );
    let head = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncontent-length: {}\r\nretry-after: 1\r\nconnection: close\r\n\r\n",
        body.len()
    );
    let mut scratch = [0u8; 4096];
    let _ = tokio::time::timeout(Duration::from_millis(200), async {
        use tokio::io::AsyncReadExt;
        let _ = stream.read(&mut scratch).await;
    })
    .await;
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        stream.write_all(head.as_bytes()).await?;
        stream.write_all(&body).await?;
        stream.shutdown().await
    })
    .await;
}

/// A connection whose automatic error answers get a JSON body.
///
/// hyper answers a request it cannot parse by itself, with a bodiless head
/// (`content-length: 0`) and closes the connection (hyper 1.x `proto/h1/role.rs`,
/// `Server::on_error`: 400 for a bad method, URI, version or header, 414 for a long URI,
/// 431 for a large head). Such a head is the only 4xx with an empty body this server
/// writes (every route answers errors with JSON), so it is recognised and replaced whole.
/// The write is taken whole (hyper writes flattened buffers here: see
/// [`is_write_vectored`](AsyncWrite::is_write_vectored)) and the replacement is flushed
/// before anything else.
pub(crate) struct JsonErrors<S> {
    inner: S,
    /// A replacement answer still to be written.
    pending: Vec<u8>,
    written: usize,
}

impl<S> JsonErrors<S> {
    pub(crate) fn new(inner: S) -> JsonErrors<S> {
        JsonErrors {
            inner,
            pending: Vec::new(),
            written: 0,
        }
    }
}

/// The JSON answer that replaces hyper's bodiless automatic error head `buf`, if it is one.
fn replace_automatic_error(buf: &[u8]) -> Option<Vec<u8>> {
    let head = buf.strip_prefix(b"HTTP/1.1 ")?;
    if !buf.ends_with(b"\r\n\r\n") || buf.len() > 1024 {
        return None;
    }
    let text = std::str::from_utf8(head).ok()?;
    let lower = text.to_ascii_lowercase();
    if !lower.contains("\r\ncontent-length: 0\r\n") || lower.contains("\r\ncontent-type:") {
        return None;
    }
    let (status, message) = match text.get(..3)? {
        "400" => (
            "400 Bad Request",
            "The request could not be parsed as HTTP/1.1 (its method, URI, version or a header is malformed).",
        ),
        "414" => ("414 URI Too Long", "The request's URI is too long."),
        "431" => (
            "431 Request Header Fields Too Large",
            "The request's line and headers are larger than the network accepts (64 KiB).",
        ),
        _ => return None,
    };
    let body = error_json("invalid_request_error", "invalid_request", message);
    let mut out = format!(
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(&body);
    Some(out)
}

impl<S: AsyncWrite + Unpin> JsonErrors<S> {
    /// Write out a pending replacement.
    fn poll_pending(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.written < self.pending.len() {
            let n =
                ready!(Pin::new(&mut self.inner).poll_write(cx, &self.pending[self.written..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.written += n;
        }
        self.pending.clear();
        self.written = 0;
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for JsonErrors<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for JsonErrors<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        ready!(this.poll_pending(cx))?;
        if let Some(replacement) = replace_automatic_error(buf) {
            this.pending = replacement;
            this.written = 0;
            // Taken whole; written by the flush hyper does next.
            return Poll::Ready(Ok(buf.len()));
        }
        Pin::new(&mut this.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_pending(cx))?;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_pending(cx))?;
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn is_write_vectored(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hyper_automatic_errors_get_json_bodies() {
        let head = b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\ndate: Mon, 07 Dec 2026 06:00:00 GMT\r\n\r\n";
        let out = String::from_utf8(replace_automatic_error(head).unwrap()).unwrap();
        let (head, body) = out.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 431 "));
        assert!(head.contains(&format!("content-length: {}", body.len())));
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(v["error"]["type"], "invalid_request_error");
        assert_eq!(v["error"]["code"], "invalid_request");
    }

    #[test]
    fn answers_with_bodies_pass_untouched() {
        for buf in [
            &b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: 0\r\n\r\n"[..],
            b"HTTP/1.1 400 Bad Request\r\ncontent-length: 12\r\n\r\n",
            b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n",
            b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n",
            b"HTTP/1.1 431 x\r\ncontent-length: 0\r\n\r\nbody",
        ] {
            assert_eq!(replace_automatic_error(buf), None, "{:?}", String::from_utf8_lossy(buf));
        }
    }
}
