//! Serving HTTP/1 with limits that slow or idle clients cannot get around: a deadline for each
//! request head, an idle limit between requests, a bound on open connections and a deadline
//! for graceful shutdown.
//!
//! `axum::serve` (0.8) sets none of these: a client that sends half a request head holds its
//! connection (and a file descriptor) for ever, and graceful shutdown waits for it.
//!
//! Each connection moves between three phases, like Go's `ReadHeaderTimeout`/`IdleTimeout`:
//!
//! * **head**: from the connection's start, or from the first byte after an idle spell, the
//!   client has [`ServeLimits::header_read_timeout`] to complete the request head;
//! * **busy**: from the complete head until the response body is done, the client has
//!   [`ServeLimits::request_timeout`] (a body sent slowly, or responses never read while more
//!   requests are pipelined, cannot hold the connection);
//! * **idle**: after a response, the client has [`ServeLimits::keep_alive_timeout`] to start
//!   the next request.
//!
//! When a deadline passes the connection is closed.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tower::ServiceExt;

/// The limits of [`serve`]; [`Config`](crate::Config) builds them from the settings
/// `header_read_timeout`, `max_connections`, `keep_alive_timeout` and `shutdown_timeout`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServeLimits {
    /// Time a client has to send a complete request head, counted from the connection's start
    /// or from the first byte of a request that follows an idle keep-alive spell.
    pub header_read_timeout: Duration,
    /// Connections served at once; further clients wait in the kernel's listen backlog, holding
    /// no file descriptor of this process.
    pub max_connections: usize,
    /// Time an idle keep-alive connection may wait for its next request.
    pub keep_alive_timeout: Duration,
    /// Time from a complete request head until its response is done (body read, response
    /// written); longer than any handler may take (they are bounded by the database timeout).
    pub request_timeout: Duration,
    /// After the shutdown signal, time requests in flight have to finish; then every
    /// connection still open is closed and [`serve`] returns.
    pub shutdown_timeout: Duration,
}

/// Connections allowed when `max_connections` is not set and the file-descriptor limit is not
/// known (or is higher than needed).
pub const DEFAULT_MAX_CONNECTIONS: usize = 4096;

/// File descriptors left to the rest of the process (database pool, SQLite files, the
/// listener, logs) when the connection bound is derived from the descriptor limit.
const RESERVED_FDS: u64 = 128;

impl Default for ServeLimits {
    fn default() -> Self {
        ServeLimits {
            header_read_timeout: Duration::from_secs(10),
            max_connections: default_max_connections(),
            keep_alive_timeout: Duration::from_secs(60),
            request_timeout: Duration::from_secs(60),
            shutdown_timeout: Duration::from_secs(10),
        }
    }
}

/// [`DEFAULT_MAX_CONNECTIONS`], or fewer when the process's soft limit on open files would run
/// out first: that limit less 128 descriptors kept for the rest of the process (at least 16).
pub fn default_max_connections() -> usize {
    match open_files_limit() {
        Some(limit) => {
            let usable = limit.saturating_sub(RESERVED_FDS).max(16);
            usize::try_from(usable)
                .unwrap_or(DEFAULT_MAX_CONNECTIONS)
                .min(DEFAULT_MAX_CONNECTIONS)
        }
        None => DEFAULT_MAX_CONNECTIONS,
    }
}

/// The soft `RLIMIT_NOFILE`, read from `/proc/self/limits` (Linux); `None` elsewhere or when
/// unlimited.
fn open_files_limit() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = text.lines().find(|l| l.starts_with("Max open files"))?;
    line.trim_start_matches("Max open files")
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Serves `app` on `listener` within `limits` until `shutdown` completes; then stops accepting,
/// lets requests in flight finish for up to [`ServeLimits::shutdown_timeout`], closes what is
/// still open and returns.
///
/// HTTP/1 only (Sigil sits behind a proxy or is called by servers). Each request carries
/// [`ConnectInfo<SocketAddr>`] with the peer address, as
/// `into_make_service_with_connect_info` would provide it.
pub async fn serve<F>(
    listener: TcpListener,
    app: axum::Router,
    limits: ServeLimits,
    shutdown: F,
) -> io::Result<()>
where
    F: Future<Output = ()> + Send,
{
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut connections = JoinSet::new();
    let mut full = false;
    tokio::pin!(shutdown);
    loop {
        // Reap finished tasks so the set does not grow with the number ever served.
        while connections.try_join_next().is_some() {}
        let permit = match slots.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                if !full {
                    full = true;
                    tracing::warn!(
                        max_connections = limits.max_connections,
                        "connection limit reached: new clients wait until connections close"
                    );
                }
                tokio::select! {
                    permit = slots.clone().acquire_owned() => match permit {
                        Ok(permit) => permit,
                        Err(_) => break,
                    },
                    () = &mut shutdown => break,
                }
            }
        };
        // Warn again only once the connections have drained to half the limit.
        if full && slots.available_permits() >= limits.max_connections.div_ceil(2) {
            full = false;
            tracing::info!("connections below half the limit again");
        }
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of descriptors (or a connection reset before accept): wait rather
                    // than spin.
                    tracing::error!(error = %e, "accept error");
                    tokio::select! {
                        () = tokio::time::sleep(Duration::from_millis(250)) => continue,
                        () = &mut shutdown => break,
                    }
                }
            },
            () = &mut shutdown => break,
        };
        let app = app.clone();
        let stop = stop_rx.clone();
        connections.spawn(async move {
            connection(stream, peer, app, limits, stop).await;
            drop(permit);
        });
    }
    drop(listener);
    let _ = stop_tx.send(true);
    let open = connections.len();
    if open > 0 {
        tracing::info!(
            open,
            "finishing requests in flight (at most {:?})",
            limits.shutdown_timeout
        );
    }
    let drained = tokio::time::timeout(limits.shutdown_timeout, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            closed = connections.len(),
            "shutdown deadline passed: closing the connections still open"
        );
        connections.shutdown().await;
    }
    Ok(())
}

/// Serves one connection until it closes, a deadline passes, or shutdown lets it finish.
async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    app: axum::Router,
    limits: ServeLimits,
    mut stop: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    let phase = Arc::new(Phase::new(limits));
    let io = TokioIo::new(Watched {
        inner: stream,
        phase: phase.clone(),
    });
    let on_request = phase.clone();
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        on_request.busy();
        let done = IdleOnDrop(on_request.clone());
        request.extensions_mut().insert(ConnectInfo(peer));
        let app = app.clone();
        async move {
            let response = match app.oneshot(request.map(Body::new)).await {
                Ok(response) => response,
                Err(never) => match never {},
            };
            Ok::<_, Infallible>(response.map(|body| Tracked {
                inner: body,
                _done: done,
            }))
        }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    // The deadlines are kept here, not by hyper (whose head timer also runs while idle).
    builder.header_read_timeout(None).keep_alive(true);
    let conn = builder.serve_connection(io, service);
    tokio::pin!(conn);
    let mut stopping = false;
    // One timer per connection, never moved by the request cycle itself: every phase change
    // sets a deadline at least the shortest limit away, so a timer armed no later than that
    // (see `Phase::next_check`) fires before any deadline can pass; when it fires it checks the
    // deadline and is set again.
    let sleep = tokio::time::sleep_until(phase.next_check());
    tokio::pin!(sleep);
    loop {
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(%peer, error = %e, "connection ended with an error");
                }
                return;
            }
            () = sleep.as_mut() => {
                if phase.expired() {
                    tracing::debug!(%peer, "connection closed: deadline passed");
                    return;
                }
                sleep.as_mut().reset(phase.next_check());
            }
            changed = stop.changed(), if !stopping => {
                stopping = true;
                if changed.is_ok() {
                    conn.as_mut().graceful_shutdown();
                }
            }
        }
    }
}

/// Where a connection is in its request cycle, and until when it may stay there.
struct Phase {
    limits: ServeLimits,
    /// The shortest of the three limits (at least a millisecond): no phase change sets a
    /// deadline sooner than this after it.
    shortest: Duration,
    state: Mutex<PhaseState>,
}

#[derive(Clone, Copy)]
struct PhaseState {
    idle: bool,
    deadline: Instant,
}

impl Phase {
    fn new(limits: ServeLimits) -> Phase {
        let shortest = limits
            .header_read_timeout
            .min(limits.request_timeout)
            .min(limits.keep_alive_timeout)
            .max(Duration::from_millis(1));
        Phase {
            limits,
            shortest,
            state: Mutex::new(PhaseState {
                idle: false,
                deadline: Instant::now() + limits.header_read_timeout,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, PhaseState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// When to look at the deadline next: at the deadline, or sooner, since a phase change
    /// before then may set a deadline as soon as the shortest limit after it.
    fn next_check(&self) -> Instant {
        // The time first: a change after it sets a deadline at least `shortest` after it.
        let soonest = Instant::now() + self.shortest;
        self.lock().deadline.min(soonest)
    }

    fn expired(&self) -> bool {
        self.lock().deadline <= Instant::now()
    }

    /// A complete head arrived: the response must be done within the request timeout.
    fn busy(&self) {
        let at = Instant::now() + self.limits.request_timeout;
        *self.lock() = PhaseState {
            idle: false,
            deadline: at,
        };
    }

    /// The response is done: the next request must start within the keep-alive limit.
    fn idle(&self) {
        let at = Instant::now() + self.limits.keep_alive_timeout;
        *self.lock() = PhaseState {
            idle: true,
            deadline: at,
        };
    }

    /// Bytes arrived: if the connection was idle, a new head has begun.
    fn read_some(&self) {
        let mut state = self.lock();
        if state.idle {
            *state = PhaseState {
                idle: false,
                deadline: Instant::now() + self.limits.header_read_timeout,
            };
        }
    }
}

/// Marks the connection idle when the response body is finished (or dropped).
struct IdleOnDrop(Arc<Phase>);

impl Drop for IdleOnDrop {
    fn drop(&mut self) {
        self.0.idle();
    }
}

/// A response body that marks its connection idle once hyper has sent and dropped it.
struct Tracked {
    inner: Body,
    _done: IdleOnDrop,
}

impl http_body::Body for Tracked {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// The socket, noticing when bytes arrive on an idle connection.
struct Watched {
    inner: TcpStream,
    phase: Arc<Phase>,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(result, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.phase.read_some();
        }
        result
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
