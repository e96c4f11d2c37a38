//! `GET` of the key set answered in front of the router.
//!
//! Verifiers fetch the key set more than anything else, and for a `GET` of it every layer of the
//! router does nothing but cost: the origin checks pass every `GET`, the key set is exempt from
//! rate limits, and CORS only adds fixed headers (and `Access-Control-Allow-Origin` for a trusted
//! `Origin`). [`FastJwks`] answers it from the prebuilt response parts with the very headers the
//! router would send (the tests compare both), and hands everything else — other methods
//! (`OPTIONS` preflights, `HEAD`), other paths, the key set while no key is loaded yet — to the
//! router unchanged.

use std::convert::Infallible;
use std::future::{Future, Ready, ready};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::Router;
use axum::body::Body;
use axum::extract::{MatchedPath, Request};
use axum::http::header::{
    ACCESS_CONTROL_ALLOW_CREDENTIALS, ACCESS_CONTROL_ALLOW_ORIGIN, CACHE_CONTROL, CONTENT_LENGTH,
    IF_NONE_MATCH, ORIGIN, VARY,
};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::Response;
use tower::Service;

use super::{cors_allows, jwt};
use crate::keys::{JwksDocument, KeyManager};
use crate::origin::TrustedOrigins;
use crate::state::SharedState;

/// `app` (in which the auth router is nested at the configured base path) behind a router whose
/// only route is the key set's full path, served by [`FastJwks`].
pub(crate) fn in_front_of(state: SharedState, app: Router) -> Router {
    let path = format!("{}{}", state.config.base_path, state.config.keys.jwks_path);
    let fast = FastJwks {
        state,
        path: path.as_str().into(),
        app: app.clone(),
    };
    Router::new()
        .route_service(&path, fast)
        .fallback_service(app)
}

/// Answers `GET` of the key set from memory; passes every other request to `app`.
#[derive(Clone)]
pub(crate) struct FastJwks {
    state: SharedState,
    /// The key set's path, base path included.
    path: Arc<str>,
    app: Router,
}

impl Service<Request> for FastJwks {
    type Response = Response;
    type Error = Infallible;
    type Future = FastFuture<<Router as Service<Request>>::Future>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut request: Request) -> Self::Future {
        if request.method() == Method::GET && request.uri().path() == &*self.path {
            let keys = self.state.minter.keys();
            if let Some(doc) = keys.cached_jwks() {
                let headers = request.headers();
                let response = answer(
                    keys,
                    &doc,
                    &self.state.trusted,
                    headers.get(IF_NONE_MATCH),
                    headers.get(ORIGIN),
                );
                return FastFuture::Ready(ready(Ok(response)));
            }
        }
        // The router in front matched the path; `app` matches it again from the start.
        request.extensions_mut().remove::<MatchedPath>();
        FastFuture::App(self.app.call(request))
    }
}

/// What the router answers to `GET` of the key set: its response (see [`jwt::jwks_response`])
/// and the CORS headers its layer adds. Every header comes prebuilt with the document (for the
/// configured max-age and no `Origin`); only a counted-down max-age and a trusted `Origin` are
/// set per request.
fn answer(
    keys: &KeyManager,
    doc: &JwksDocument,
    trusted: &TrustedOrigins,
    if_none_match: Option<&HeaderValue>,
    origin: Option<&HeaderValue>,
) -> Response {
    let parts = &doc.response;
    let configured = parts.configured_max_age();
    let front = parts.front.get_or_init(|| {
        [false, true].map(|not_modified| {
            let cache = parts.cache_control(configured);
            let mut response = jwt::jwks_answer(doc, cache, not_modified);
            let length = if not_modified { 0 } else { parts.body.len() };
            cors_headers(response.headers_mut(), length);
            std::mem::take(response.headers_mut())
        })
    });
    let not_modified = jwt::not_modified(doc, if_none_match);
    crate::telemetry::jwks_request(not_modified);
    let mut response = if not_modified {
        let mut response = Response::new(Body::empty());
        *response.status_mut() = StatusCode::NOT_MODIFIED;
        response
    } else {
        Response::new(Body::from(parts.body.clone()))
    };
    let headers = response.headers_mut();
    *headers = front[usize::from(not_modified)].clone();
    let max_age = keys.cache_max_age(doc).as_secs();
    if max_age != configured {
        headers.insert(CACHE_CONTROL, parts.cache_control(max_age));
    }
    if let Some(origin) = origin.filter(|o| cors_allows(trusted, o)) {
        // Before `Content-Length`, as the router has it.
        let length = headers.remove(CONTENT_LENGTH);
        headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
        if let Some(length) = length {
            headers.insert(CONTENT_LENGTH, length);
        }
    }
    response
}

/// What the router's CORS layer (see [`super::cors`]) adds to every response that is not a
/// preflight, in the same order: `Vary: origin` (appended; the only part of the request the
/// layer's answer depends on) and `Access-Control-Allow-Credentials`. (It then echoes a trusted
/// `Origin` in `Access-Control-Allow-Origin`.) Then the router's route sets `Content-Length`.
fn cors_headers(headers: &mut HeaderMap, content_length: usize) {
    headers.append(VARY, HeaderValue::from_static("origin"));
    headers.insert(
        ACCESS_CONTROL_ALLOW_CREDENTIALS,
        HeaderValue::from_static("true"),
    );
    headers.insert(CONTENT_LENGTH, HeaderValue::from(content_length));
}

/// The response of [`FastJwks`]: ready at once, or the router's.
pub(crate) enum FastFuture<F> {
    Ready(Ready<Result<Response, Infallible>>),
    App(F),
}

impl<F> Future for FastFuture<F>
where
    F: Future<Output = Result<Response, Infallible>> + Unpin,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.get_mut() {
            FastFuture::Ready(ready) => Pin::new(ready).poll(cx),
            FastFuture::App(app) => Pin::new(app).poll(cx),
        }
    }
}
