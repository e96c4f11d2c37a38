//! One log line per request, with a request id.
//!
//! [`RequestLogLayer`] logs every request it sees once it is answered, at `INFO` with the target
//! [`TARGET`] (`sigil::request`): the method, the route template (`/api/auth/token`, never the
//! path as sent, nor its query string; [`UNMATCHED`] when no route matched), the status, the
//! latency in milliseconds and the request id. Nothing else of the request or the response is
//! logged: no header, no body, no query, so no password, cookie, session token or JWT.
//!
//! The request id is the incoming `x-request-id` when it is sane (1 to 64 characters of
//! `[A-Za-z0-9._:-]`), otherwise a new random one (32 hex digits). Either way the request passes
//! on with that id in its `x-request-id` header (an insane one replaced) and the response echoes
//! it in `x-request-id`.
//!
//! The route template is axum's [`MatchedPath`]: the request's when the layer is applied with
//! [`axum::Router::layer`] to the router that matched it, otherwise the one an inner
//! [`RouteTagLayer`] copied onto the response (a router reached as another router's fallback, as
//! in [`crate::Auth::with_fast_jwks`], which tags for this reason).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use axum::extract::MatchedPath;
use axum::http::{HeaderName, HeaderValue, Method, Request, Response};
use tower::{Layer, Service};

/// The `tracing` target of the per-request lines.
pub const TARGET: &str = "sigil::request";

/// The route logged for a request that no route matched.
pub const UNMATCHED: &str = "<unmatched>";

/// The request and response header that carries the request id.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The longest incoming request id that is kept.
pub const MAX_REQUEST_ID_LEN: usize = 64;

/// Whether an incoming request id is kept: 1 to [`MAX_REQUEST_ID_LEN`] characters of
/// `[A-Za-z0-9._:-]` (nothing a log line or a header could be confused by).
pub fn is_sane_request_id(value: &[u8]) -> bool {
    !value.is_empty()
        && value.len() <= MAX_REQUEST_ID_LEN
        && value
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
}

/// A new request id: 16 random bytes in lowercase hex.
fn new_request_id() -> HeaderValue {
    let mut bytes = [0u8; 16];
    // Not a secret: should the system RNG ever fail, a zero id is still a valid (if useless) one.
    let _ = SystemRandom::new().fill(&mut bytes);
    let mut out = [0u8; 32];
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for (i, b) in bytes.iter().enumerate() {
        out[2 * i] = HEX[usize::from(b >> 4)];
        out[2 * i + 1] = HEX[usize::from(b & 0x0f)];
    }
    // Hex digits are always a valid header value.
    HeaderValue::from_bytes(&out).unwrap_or_else(|_| HeaderValue::from_static("0"))
}

/// Logs each request once answered and gives it a request id (see the [module](self)).
#[derive(Clone, Copy, Debug, Default)]
pub struct RequestLogLayer;

impl<S> Layer<S> for RequestLogLayer {
    type Service = RequestLog<S>;

    fn layer(&self, inner: S) -> RequestLog<S> {
        RequestLog { inner }
    }
}

/// The service of [`RequestLogLayer`].
#[derive(Clone, Debug)]
pub struct RequestLog<S> {
    inner: S,
}

impl<S, B, R> Service<Request<B>> for RequestLog<S>
where
    S: Service<Request<B>, Response = Response<R>>,
    S::Future: Unpin,
{
    type Response = Response<R>;
    type Error = S::Error;
    type Future = RequestLogFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        let id = match request.headers().get(REQUEST_ID) {
            Some(v) if is_sane_request_id(v.as_bytes()) => v.clone(),
            _ => {
                let id = new_request_id();
                request.headers_mut().insert(REQUEST_ID, id.clone());
                id
            }
        };
        let method = request.method().clone();
        let route = request.extensions().get::<MatchedPath>().cloned();
        let started = Instant::now();
        RequestLogFuture {
            inner: self.inner.call(request),
            logged: Some(Logged {
                method,
                route,
                id,
                started,
            }),
        }
    }
}

/// What the log line needs from the request.
#[derive(Debug)]
struct Logged {
    method: Method,
    route: Option<MatchedPath>,
    id: HeaderValue,
    started: Instant,
}

/// The response of [`RequestLog`]: the inner one, logged and with `x-request-id`.
#[derive(Debug)]
pub struct RequestLogFuture<F> {
    inner: F,
    logged: Option<Logged>,
}

impl<F, R, E> Future for RequestLogFuture<F>
where
    F: Future<Output = Result<Response<R>, E>> + Unpin,
{
    type Output = Result<Response<R>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let mut response = match Pin::new(&mut this.inner).poll(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            Poll::Ready(Ok(response)) => response,
        };
        if let Some(logged) = this.logged.take() {
            let route = logged
                .route
                .as_ref()
                .or_else(|| response.extensions().get::<MatchedPath>())
                .map_or(UNMATCHED, MatchedPath::as_str);
            tracing::info!(
                target: TARGET,
                method = logged.method.as_str(),
                route,
                status = response.status().as_u16(),
                // Whole microseconds, so that the number prints short.
                latency_ms = logged.started.elapsed().as_micros() as f64 / 1000.0,
                request_id = logged.id.to_str().unwrap_or_default(),
                "request",
            );
            response.headers_mut().insert(REQUEST_ID, logged.id);
        }
        Poll::Ready(Ok(response))
    }
}

/// Copies the request's [`MatchedPath`] (when a route matched) onto the response's extensions,
/// for a [`RequestLogLayer`] further out that sees the request before any routing.
#[derive(Clone, Copy, Debug, Default)]
pub struct RouteTagLayer;

impl<S> Layer<S> for RouteTagLayer {
    type Service = RouteTag<S>;

    fn layer(&self, inner: S) -> RouteTag<S> {
        RouteTag { inner }
    }
}

/// The service of [`RouteTagLayer`].
#[derive(Clone, Debug)]
pub struct RouteTag<S> {
    inner: S,
}

impl<S, B, R> Service<Request<B>> for RouteTag<S>
where
    S: Service<Request<B>, Response = Response<R>>,
    S::Future: Unpin,
{
    type Response = Response<R>;
    type Error = S::Error;
    type Future = RouteTagFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let route = request.extensions().get::<MatchedPath>().cloned();
        RouteTagFuture {
            inner: self.inner.call(request),
            route,
        }
    }
}

/// The response of [`RouteTag`].
#[derive(Debug)]
pub struct RouteTagFuture<F> {
    inner: F,
    route: Option<MatchedPath>,
}

impl<F, R, E> Future for RouteTagFuture<F>
where
    F: Future<Output = Result<Response<R>, E>> + Unpin,
{
    type Output = Result<Response<R>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let mut response = match Pin::new(&mut this.inner).poll(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            Poll::Ready(Ok(response)) => response,
        };
        if let Some(route) = this.route.take() {
            response.extensions_mut().insert(route);
        }
        Poll::Ready(Ok(response))
    }
}
