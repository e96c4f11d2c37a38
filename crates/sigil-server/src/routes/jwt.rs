//! `GET /token` (a JWT for the session) and `GET /jwks` (the published keys, from memory).

use axum::extract::State;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, ETAG, IF_NONE_MATCH};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sigil_proto::ErrorCode;

use super::no_store;
use crate::error::ApiError;
use crate::extract::Presented;
use crate::state::SharedState;

/// `GET /token`: a JWT for the session. A JWT is never accepted as a session credential here.
pub(super) async fn token(
    State(state): State<SharedState>,
    presented: Presented,
) -> Result<Response, ApiError> {
    let token = presented.token.ok_or(ErrorCode::Unauthorized)?;
    let live = state
        .sessions
        .live(&token, state.now())
        .await?
        .ok_or(ErrorCode::Unauthorized)?;
    let jwt = state.minter.session_token(&live).await?;
    let mut response = token_response(jwt);
    no_store(&mut response);
    Ok(response)
}

/// `{"token": jwt}`, written directly: a compact JWS from sigil-jose is base64url segments and
/// dots, which JSON takes as they are.
fn token_response(jwt: String) -> Response {
    debug_assert!(
        jwt.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
    );
    let mut body = Vec::with_capacity(jwt.len() + 12);
    body.extend_from_slice(b"{\"token\":\"");
    body.extend_from_slice(jwt.as_bytes());
    body.extend_from_slice(b"\"}");
    (
        [(CONTENT_TYPE, HeaderValue::from_static("application/json"))],
        body,
    )
        .into_response()
}

/// `GET /jwks`: the published keys, from memory, with `Cache-Control` bounded by the next key
/// change and a strong `ETag`.
pub(super) async fn jwks(
    State(state): State<SharedState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let keys = state.minter.keys();
    let doc = match keys.cached_jwks() {
        Some(doc) => doc,
        None => keys.jwks().await?,
    };
    let max_age = keys.cache_max_age(&doc).as_secs();
    let cache = HeaderValue::from_str(&format!("public, max-age={max_age}"))
        .unwrap_or_else(|_| HeaderValue::from_static("no-cache"));
    let etag =
        HeaderValue::from_str(&doc.etag).unwrap_or_else(|_| HeaderValue::from_static("\"\""));
    let matches = headers
        .get(IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|t| t.trim() == doc.etag || t.trim() == "*")
        });
    let mut response = if matches {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        (
            [(CONTENT_TYPE, HeaderValue::from_static("application/json"))],
            doc.body.clone(),
        )
            .into_response()
    };
    response.headers_mut().insert(CACHE_CONTROL, cache);
    response.headers_mut().insert(ETAG, etag);
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body_of(response: Response) -> Vec<u8> {
        axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap()
            .to_vec()
    }

    #[tokio::test]
    async fn the_token_body_is_the_serializers() {
        for jwt in ["aGVhZA.cGF5bG9hZA.c2ln-_", "a.b.c"] {
            let direct = token_response(jwt.to_owned());
            assert_eq!(direct.headers()[CONTENT_TYPE], "application/json");
            let expected = serde_json::to_vec(&sigil_proto::TokenResponse {
                token: jwt.to_owned(),
            })
            .unwrap();
            assert_eq!(body_of(direct).await, expected, "{jwt}");
        }
    }
}
