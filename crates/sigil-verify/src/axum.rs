//! axum integration: a tower layer that verifies `Authorization: Bearer` tokens, and the
//! [`Claims`] extractor that hands the verified claims to handlers.
//!
//! Rejections follow RFC 6750 §3: 401 with `WWW-Authenticate: Bearer` (plus
//! `error="invalid_token"` and a description when a token was presented), and a JSON body
//! `{"code": "<stable code>", "message": "…"}`. Keys that cannot be fetched are the service's
//! problem, not the caller's: 503 with `Retry-After`, so clients do not discard good tokens.

use std::sync::Arc;
use std::task::{Context, Poll};

use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::future::BoxFuture;
use serde::de::DeserializeOwned;

use crate::{Error, Verifier};

/// The verified claims the layer stores in request extensions; [`Claims`] reads them.
#[derive(Clone, Debug)]
pub struct VerifiedClaims(pub Arc<sigil_jose::Claims>);

/// Extracts the verified claims as the handler's type `C`. Needs [`VerifyLayer`] on the route;
/// without it every request gets a 500 `layer_missing`, never an unauthenticated pass.
#[derive(Clone, Debug)]
pub struct Claims<C>(pub C);

impl<S, C> FromRequestParts<S> for Claims<C>
where
    S: Send + Sync,
    C: DeserializeOwned,
{
    type Rejection = Rejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Rejection> {
        let verified = parts
            .extensions
            .get::<VerifiedClaims>()
            .ok_or(Rejection::LayerMissing)?;
        verified
            .0
            .deserialize::<C>()
            .map(Claims)
            .map_err(|e| Rejection::Invalid(e.into()))
    }
}

/// Why a request was not let through.
#[derive(Debug)]
#[non_exhaustive]
pub enum Rejection {
    /// No `Authorization: Bearer` credentials (401, code `missing_token`).
    Missing,
    /// The credentials are not one well-formed bearer token: several `Authorization` headers,
    /// non-ASCII bytes, an empty token or one with spaces (400, code `invalid_request`).
    BadRequest(&'static str),
    /// A token was presented and refused, or keys were unavailable (503).
    Invalid(Error),
    /// The [`Claims`] extractor ran on a route without [`VerifyLayer`] (500, `layer_missing`).
    LayerMissing,
}

impl Rejection {
    /// The stable code carried in the JSON body.
    pub fn code(&self) -> &'static str {
        match self {
            Rejection::Missing => "missing_token",
            Rejection::BadRequest(_) => "invalid_request",
            Rejection::Invalid(e) => e.code(),
            Rejection::LayerMissing => "layer_missing",
        }
    }
}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        let code = self.code();
        let (status, message, challenge) = match &self {
            Rejection::Missing => (
                StatusCode::UNAUTHORIZED,
                "a bearer token is required".to_owned(),
                Some("Bearer".to_owned()),
            ),
            Rejection::BadRequest(why) => (
                StatusCode::BAD_REQUEST,
                (*why).to_owned(),
                Some(format!(
                    "Bearer error=\"invalid_request\", error_description=\"{why}\""
                )),
            ),
            // The verifier's own keys or crypto failed: not the caller's fault.
            Rejection::Invalid(Error::Token(
                e @ (sigil_jose::Error::KeyInvalid(_) | sigil_jose::Error::Crypto(_)),
            )) => {
                tracing::error!(error = %e, "token verification failed on the server side");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "token verification failed on the server".to_owned(),
                    None,
                )
            }
            Rejection::Invalid(Error::KeysUnavailable(_)) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "the keys to verify tokens with are unavailable; retry later".to_owned(),
                None,
            ),
            Rejection::Invalid(e) => {
                let message = e.to_string();
                let challenge = format!(
                    "Bearer error=\"invalid_token\", error_description=\"{}\"",
                    quoted_string_safe(&message)
                );
                (StatusCode::UNAUTHORIZED, message, Some(challenge))
            }
            Rejection::LayerMissing => {
                tracing::error!(
                    "the Claims extractor ran without sigil_verify::axum::VerifyLayer on the route"
                );
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "server misconfiguration: token verification layer missing".to_owned(),
                    None,
                )
            }
        };
        let body = serde_json::json!({ "code": code, "message": message });
        let mut response = (status, axum::Json(body)).into_response();
        if let Some(challenge) = challenge.and_then(|c| HeaderValue::from_str(&c).ok()) {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, challenge);
        }
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("30"));
        }
        response
    }
}

/// RFC 6750 limits `error_description` to printable ASCII without `"` and `\`.
fn quoted_string_safe(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            ' ' | '!' | '#'..='[' | ']'..='~' => c,
            _ => '?',
        })
        .collect()
}

/// The bearer token of a request: `Ok(None)` when there are no bearer credentials at all.
fn bearer(headers: &HeaderMap) -> Result<Option<&str>, Rejection> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(Rejection::BadRequest("more than one Authorization header"));
    }
    let Ok(value) = value.to_str() else {
        return Err(Rejection::BadRequest(
            "the Authorization header is not ASCII",
        ));
    };
    let Some((scheme, token)) = value.split_once(' ') else {
        return Ok(None);
    };
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Ok(None);
    }
    let token = token.trim_matches(' ');
    if token.is_empty() || token.contains(' ') {
        return Err(Rejection::BadRequest(
            "the bearer token is empty or has spaces",
        ));
    }
    Ok(Some(token))
}

/// A tower layer that lets a request through only with a valid bearer token, and stores its
/// claims for [`Claims`].
#[derive(Clone, Debug)]
pub struct VerifyLayer {
    verifier: Verifier,
}

impl VerifyLayer {
    /// Protects the wrapped routes with `verifier`.
    pub fn new(verifier: Verifier) -> Self {
        VerifyLayer { verifier }
    }
}

impl<S> tower::Layer<S> for VerifyLayer {
    type Service = VerifyService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        VerifyService {
            inner,
            verifier: self.verifier.clone(),
        }
    }
}

/// The service [`VerifyLayer`] wraps routes in.
#[derive(Clone, Debug)]
pub struct VerifyService<S> {
    inner: S,
    verifier: Verifier,
}

impl<S> tower::Service<Request> for VerifyService<S>
where
    S: tower::Service<Request, Response = Response> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request) -> Self::Future {
        // The clone that was driven to readiness serves this request (tower's usual pattern).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let verifier = self.verifier.clone();
        Box::pin(async move {
            let token = match bearer(request.headers()) {
                Ok(Some(token)) => token.to_owned(),
                Ok(None) => return Ok(Rejection::Missing.into_response()),
                Err(rejection) => return Ok(rejection.into_response()),
            };
            match verifier.verify_claims(&token).await {
                Ok(claims) => {
                    request
                        .extensions_mut()
                        .insert(VerifiedClaims(Arc::new(claims)));
                    inner.call(request).await
                }
                Err(e) => Ok(Rejection::Invalid(e).into_response()),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(header::AUTHORIZATION, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn bearer_parsing() {
        assert_eq!(bearer(&headers(&[])).unwrap(), None);
        assert_eq!(bearer(&headers(&["Basic abc"])).unwrap(), None);
        assert_eq!(bearer(&headers(&["Bearer"])).unwrap(), None);
        assert_eq!(bearer(&headers(&["Bearer a.b.c"])).unwrap(), Some("a.b.c"));
        assert_eq!(
            bearer(&headers(&["bearer  a.b.c "])).unwrap(),
            Some("a.b.c")
        );
        assert!(bearer(&headers(&["Bearer "])).is_err());
        assert!(bearer(&headers(&["Bearer a b"])).is_err());
        assert!(bearer(&headers(&["Bearer a", "Bearer b"])).is_err());
    }

    #[test]
    fn descriptions_are_header_safe() {
        assert_eq!(quoted_string_safe("a \"b\" \\ é\n"), "a ?b? ? ??");
    }
}
