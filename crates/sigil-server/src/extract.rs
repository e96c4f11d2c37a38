//! Extractors, so that handlers name what they need: the client's address, the session the
//! request presents, its user agent, and a JSON or form body within the size limit.

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};

use axum::body::Body;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::header::{AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, COOKIE, USER_AGENT};
use axum::http::request::Parts;
use axum::http::{Extensions, HeaderMap};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use sigil_proto::ErrorCode;

use crate::error::ApiError;
use crate::guard;
use crate::state::SharedState;

/// The client's address: the socket peer, or the forwarded address when the peer is a trusted
/// proxy. `None` when the server was not started with connect info.
pub(crate) struct ClientIp(pub(crate) Option<IpAddr>);

impl ClientIp {
    /// The client address of a request whose connect info and headers are these.
    pub(crate) fn of(extensions: &Extensions, headers: &HeaderMap, state: &SharedState) -> Self {
        let peer = extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0);
        ClientIp(guard::client_ip(
            peer,
            headers,
            &state.config.trusted_proxies,
        ))
    }
}

impl FromRequestParts<SharedState> for ClientIp {
    type Rejection = Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &SharedState,
    ) -> Result<Self, Infallible> {
        Ok(ClientIp::of(&parts.extensions, &parts.headers, state))
    }
}

/// The `User-Agent` header, when it is text.
pub(crate) struct UserAgent(pub(crate) Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for UserAgent {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Infallible> {
        Ok(UserAgent(header_text(&parts.headers, USER_AGENT)))
    }
}

/// The session a request presents: a valid `Authorization: Bearer` (a signed session token),
/// else the signed session cookie.
pub(crate) struct Presented {
    /// The session token, if any was validly signed.
    pub(crate) token: Option<String>,
    /// Whether a session cookie came with the request (so that a dead one can be cleared).
    pub(crate) had_cookie: bool,
    /// Whether the signed "don't remember me" cookie came with it.
    pub(crate) dont_remember: bool,
}

impl FromRequestParts<SharedState> for Presented {
    type Rejection = Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &SharedState,
    ) -> Result<Self, Infallible> {
        let bearer = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| state.cookies.session_from_authorization(v));
        let cookies = header_text(&parts.headers, COOKIE).unwrap_or_default();
        let cookie = state.cookies.session_from_cookie_header(&cookies);
        Ok(Presented {
            had_cookie: cookie.is_some(),
            dont_remember: state.cookies.dont_remember(&cookies),
            token: bearer.or(cookie),
        })
    }
}

fn header_text(headers: &HeaderMap, name: axum::http::HeaderName) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// A JSON or `application/x-www-form-urlencoded` body, at most `max_body_bytes`, parsed into
/// `T`. An empty body without a content type reads as `{}`. Errors are Better Auth's codes.
pub(crate) struct JsonOrForm<T>(pub(crate) T);

impl<T: DeserializeOwned> FromRequest<SharedState> for JsonOrForm<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &SharedState) -> Result<Self, ApiError> {
        let (parts, body) = request.into_parts();
        read_body(&parts.headers, body, state.config.max_body_bytes)
            .await
            .map(JsonOrForm)
    }
}

async fn read_body<T: DeserializeOwned>(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<T, ApiError> {
    if let Some(len) = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        && len > limit as u64
    {
        return Err(ErrorCode::PayloadTooLarge.into());
    }
    let bytes = axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| ApiError::new(ErrorCode::PayloadTooLarge))?;
    let content_type = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        });
    let value: Value = match content_type.as_deref() {
        Some("application/json") | None if !bytes.is_empty() || content_type.is_some() => {
            serde_json::from_slice(&bytes).map_err(|e| {
                ApiError::with_message(ErrorCode::ValidationError, format!("invalid JSON: {e}"))
            })?
        }
        None => Value::Object(Map::new()),
        Some("application/x-www-form-urlencoded") => {
            let pairs: Vec<(String, String)> =
                serde_urlencoded::from_bytes(&bytes).map_err(|e| {
                    ApiError::with_message(ErrorCode::ValidationError, format!("invalid form: {e}"))
                })?;
            Value::Object(
                pairs
                    .into_iter()
                    .map(|(k, v)| {
                        // Form fields are text; booleans Better Auth's schemas coerce.
                        let value = match (k.as_str(), v.as_str()) {
                            ("rememberMe", "true") => Value::Bool(true),
                            ("rememberMe", "false") => Value::Bool(false),
                            _ => Value::String(v),
                        };
                        (k, value)
                    })
                    .collect(),
            )
        }
        Some(_) => return Err(ErrorCode::UnsupportedMediaType.into()),
    };
    if !value.is_object() {
        return Err(ApiError::with_message(
            ErrorCode::ValidationError,
            "the body must be a JSON object",
        ));
    }
    serde_json::from_value(value)
        .map_err(|e| ApiError::with_message(ErrorCode::ValidationError, e.to_string()))
}
