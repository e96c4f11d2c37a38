//! `GET /token` (a JWT for the session) and `GET /jwks` (the published keys, from memory).

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, ETAG, IF_NONE_MATCH};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sigil_proto::{ErrorBody, ErrorCode, KeyTimeline, KeyTimelineEntry, TokenResponse};

use super::no_store;
use crate::error::ApiError;
use crate::extract::Presented;
use crate::keys::{JwksDocument, KeyManager, KeyState};
use crate::state::SharedState;
use crate::store::KeyRow;
use crate::telemetry::TokenRoute;
use chrono::{DateTime, Utc};
use utoipa::ToSchema;

/// A published key set (RFC 7517), as `GET` of the key set answers it.
#[derive(ToSchema)]
#[allow(dead_code)] // Only a schema: the body is built by `sigil-jose`.
pub(super) struct Jwks {
    /// The public keys, current and recently retired.
    keys: Vec<Jwk>,
}

/// One public key (RFC 7517). Which members are present depends on `kty`.
#[derive(ToSchema)]
#[allow(dead_code)] // Only a schema.
pub(super) struct Jwk {
    /// Key type: `OKP`, `EC` or `RSA`.
    kty: String,
    /// Key id, the `kid` of the tokens it signed.
    kid: Option<String>,
    /// Signing algorithm, e.g. `EdDSA`, `ES256`, `RS256`.
    alg: Option<String>,
    /// Intended use (`sig`).
    #[serde(rename = "use")]
    use_: Option<String>,
    /// Curve (`OKP`, `EC`).
    crv: Option<String>,
    /// Public point, base64url (`OKP`, `EC`).
    x: Option<String>,
    /// Public point's y, base64url (`EC`).
    y: Option<String>,
    /// Modulus, base64url (`RSA`).
    n: Option<String>,
    /// Exponent, base64url (`RSA`).
    e: Option<String>,
}

/// The query of `GET /token` (a schema for the document; the handler reads the raw query, so
/// that a parameter given twice is refused rather than one of its values picked).
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // Only a schema.
pub(super) struct TokenParams {
    /// An audience from the server's allow-list (`[jwt] allowed_audiences`): the token's `aud`
    /// is then this one value. Without it, the configured audience (Better Auth's behaviour).
    audience: Option<String>,
    /// One of the server's algorithms (`[jwt] algs`) to sign with. Without it, the one
    /// configured for the audience (`[jwt.audience_algs]`), else the default (the first).
    alg: Option<String>,
}

/// What a `GET /token` query asks for: each parameter at most once, known and allowed.
struct TokenAsk {
    audience: Option<String>,
    alg: Option<sigil_jose::Alg>,
}

impl TokenAsk {
    fn parse(query: Option<&str>, state: &SharedState) -> Result<TokenAsk, ErrorCode> {
        let (mut audience, mut alg) = (None, None);
        for (name, value) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
            match &*name {
                "audience" if audience.is_none() => audience = Some(value.into_owned()),
                "audience" => return Err(ErrorCode::AudienceNotAllowed),
                "alg" if alg.is_none() => alg = Some(value.into_owned()),
                "alg" => return Err(ErrorCode::AlgNotAllowed),
                // Other parameters are ignored, as Better Auth ignores them.
                _ => {}
            }
        }
        let jwt = &state.config.jwt;
        if let Some(a) = &audience
            && !jwt.allowed_audiences.contains(a)
        {
            return Err(ErrorCode::AudienceNotAllowed);
        }
        let alg = match alg {
            Some(name) => Some(
                name.parse::<sigil_jose::Alg>()
                    .ok()
                    .filter(|a| state.config.keys.algs.contains(a))
                    .ok_or(ErrorCode::AlgNotAllowed)?,
            ),
            None => audience
                .as_ref()
                .and_then(|a| jwt.audience_algs.get(a))
                .copied(),
        };
        Ok(TokenAsk { audience, alg })
    }
}

/// `GET /token`: a JWT for the session. A JWT is never accepted as a session credential here.
#[utoipa::path(
    get,
    path = "/token",
    tag = "jwt",
    security((), ("bearer" = []), ("session_cookie" = [])),
    params(TokenParams),
    responses(
        (status = 200, description = "A JWT for the session", body = TokenResponse),
        (status = 400, description = "`AUDIENCE_NOT_ALLOWED`: the audience asked for is not on the allow-list; `ALG_NOT_ALLOWED`: the algorithm asked for is not one the server signs with", body = ErrorBody),
        (status = 401, description = "`UNAUTHORIZED`: no valid session", body = ErrorBody),
        (status = 429, description = "`TOO_MANY_REQUESTS`: rate limited", body = ErrorBody,
            headers(("x-retry-after" = u64, description = "Seconds until a retry may succeed"))),
        (status = 500, description = "`INTERNAL_SERVER_ERROR` or `SIGNING_KEY_UNAVAILABLE`", body = ErrorBody),
        (status = 503, description = "`DATABASE_UNAVAILABLE` or `SERVER_BUSY`: retry shortly", body = ErrorBody),
    )
)]
pub(super) async fn token(
    State(state): State<SharedState>,
    presented: Presented,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let token = presented.token.ok_or(ErrorCode::Unauthorized)?;
    let live = state
        .sessions
        .live(&token, state.now())
        .await?
        .ok_or(ErrorCode::Unauthorized)?;
    // Checked once the session is known, so that the allow-lists are not told to strangers.
    let ask = TokenAsk::parse(query.as_deref(), &state)?;
    let jwt = state
        .minter
        .session_token(
            &live,
            &token,
            TokenRoute::Token,
            ask.audience.as_deref(),
            ask.alg,
        )
        .await?;
    let mut response = token_response(jwt);
    no_store(&mut response);
    Ok(response)
}

/// `GET /key-timeline`: every stored key with its state and dates, for signed-in callers (the
/// console's key timeline). Public data only: no private key, nothing of a key's material but its
/// id. Reads the key table once (and opens each published key, to tell an undecryptable one).
/// Routed only with the console: it shows every signed-in user the keys' history and health.
#[utoipa::path(
    get,
    path = "/key-timeline",
    tag = "jwt",
    security(("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "Every stored key and its state, from the future to the past", body = KeyTimeline),
        (status = 401, description = "`UNAUTHORIZED`: no valid session", body = ErrorBody),
        (status = 429, description = "`TOO_MANY_REQUESTS`: rate limited", body = ErrorBody,
            headers(("x-retry-after" = u64, description = "Seconds until a retry may succeed"))),
        (status = 503, description = "`DATABASE_UNAVAILABLE`: retry shortly", body = ErrorBody),
    )
)]
pub(super) async fn key_timeline(
    State(state): State<SharedState>,
    presented: Presented,
) -> Result<Response, ApiError> {
    let token = presented.token.ok_or(ErrorCode::Unauthorized)?;
    state
        .sessions
        .live(&token, state.now())
        .await?
        .ok_or(ErrorCode::Unauthorized)?;
    let keys = state.minter.keys();
    let mut listed = keys.listing().await?;
    listed.sort_by(|(a, a_state, a_starts), (b, b_state, b_starts)| {
        timeline_order((a, *a_state, *a_starts), (b, *b_state, *b_starts))
    });
    let iso = crate::time::iso;
    let config = &state.config;
    let timeline = KeyTimeline {
        now: iso(state.now()),
        issuer: config.jwt.issuer.clone(),
        audience: config.jwt.audience.clone(),
        allowed_audiences: config.jwt.allowed_audiences.clone(),
        jwks_uri: format!(
            "{}{}{}",
            config.origin, config.base_path, config.keys.jwks_path
        ),
        algs: config.keys.algs.iter().map(ToString::to_string).collect(),
        keys: listed
            .into_iter()
            .map(|(row, key_state, starts)| KeyTimelineEntry {
                starts_at: starts.map(iso),
                published_until: keys.published_until(&row).map(iso),
                alg: row
                    .alg
                    .clone()
                    .or_else(|| keys.configured_alg(&row).map(|a| a.to_string())),
                state: key_state.to_string(),
                created_at: iso(row.created_at),
                expires_at: row.expires_at.map(iso),
                kid: row.id,
            })
            .collect(),
    };
    let mut response = axum::Json(timeline).into_response();
    no_store(&mut response);
    Ok(response)
}

/// The key timeline's order, from the future to the past: keys waiting their turn (whatever
/// this server can open of them; the latest start first), the keys that sign now, then the
/// others; within the last two, by their end, the latest first and no end latest of all. Not by
/// `createdAt`: a successor is written just older than the key it follows.
fn timeline_order(
    (a, a_state, a_starts): (&KeyRow, KeyState, Option<DateTime<Utc>>),
    (b, b_state, b_starts): (&KeyRow, KeyState, Option<DateTime<Utc>>),
) -> std::cmp::Ordering {
    let rank = |state: KeyState, starts: Option<DateTime<Utc>>| match (state, starts) {
        (KeyState::Current, _) => 1,
        (_, Some(_)) => 0,
        _ => 2,
    };
    // No end sorts after every end, so that reversed it comes first.
    let end = |row: &KeyRow| (row.expires_at.is_none(), row.expires_at);
    rank(a_state, a_starts)
        .cmp(&rank(b_state, b_starts))
        .then_with(|| b_starts.cmp(&a_starts))
        .then_with(|| end(b).cmp(&end(a)))
        .then_with(|| a.id.cmp(&b.id))
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
#[utoipa::path(
    get,
    path = "/jwks",
    tag = "jwt",
    description = "At its configured path. Not rate limited.",
    params(
        ("if-none-match" = Option<String>, Header, description = "An `ETag` from an earlier answer"),
    ),
    responses(
        (status = 200, description = "The published keys", body = Jwks,
            headers(
                ("etag" = String, description = "Strong tag of the key set"),
                ("cache-control" = String, description = "`public, max-age=...`, bounded by the next key change"),
            )),
        (status = 304, description = "Not modified (the `If-None-Match` tag matches)"),
        (status = 500, description = "`SIGNING_KEY_UNAVAILABLE` or `INTERNAL_SERVER_ERROR`", body = ErrorBody),
        (status = 503, description = "`DATABASE_UNAVAILABLE`: the first key could not be created", body = ErrorBody),
    )
)]
pub(super) async fn jwks(
    State(state): State<SharedState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let keys = state.minter.keys();
    let doc = match keys.cached_jwks() {
        Some(doc) => doc,
        // Boxed: the first key's creation (database queries) is a future of tens of kilobytes,
        // which held inline made this handler's future that large, copied on every request.
        None => Box::pin(keys.jwks()).await?,
    };
    Ok(jwks_response(keys, &doc, headers.get(IF_NONE_MATCH)))
}

/// The key set's response, given the request's `If-None-Match`: the body (or `304 Not Modified`
/// when a tag matches), with `Cache-Control` bounded by the next key change and a strong `ETag`.
/// Everything but the counted-down max-age was built with the document.
pub(super) fn jwks_response(
    keys: &KeyManager,
    doc: &JwksDocument,
    if_none_match: Option<&HeaderValue>,
) -> Response {
    let cache = doc
        .response
        .cache_control(keys.cache_max_age(doc).as_secs());
    let not_modified = not_modified(doc, if_none_match);
    crate::telemetry::jwks_request(not_modified);
    jwks_answer(doc, cache, not_modified)
}

/// Whether `If-None-Match` names the document's tag (or is `*`).
pub(super) fn not_modified(doc: &JwksDocument, if_none_match: Option<&HeaderValue>) -> bool {
    crate::etag::matches(if_none_match, &doc.etag)
}

/// The `200` with the body, or the `304`, with `cache` as `Cache-Control`.
pub(super) fn jwks_answer(doc: &JwksDocument, cache: HeaderValue, not_modified: bool) -> Response {
    let mut response = if not_modified {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut response = Response::new(Body::from(doc.response.body.clone()));
        response
            .headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        response
    };
    let headers = response.headers_mut();
    headers.insert(CACHE_CONTROL, cache);
    headers.insert(ETAG, doc.response.etag.clone());
    response
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

    /// Waiting keys first (an undecryptable one too), then the current keys, then the rest;
    /// within those, no end counts as the latest.
    #[test]
    fn the_timeline_runs_from_the_future_to_the_past() {
        let t = |s: i64| DateTime::from_timestamp(1_000_000 + s, 0);
        let row = |id: &str, expires: Option<DateTime<Utc>>| KeyRow {
            id: id.into(),
            public_key: String::new(),
            private_key: String::new(),
            created_at: t(0).unwrap(),
            expires_at: expires,
            alg: None,
            crv: None,
        };
        let rows = [
            (row("expired", t(10)), KeyState::Expired, None),
            (row("retired-no-end", None), KeyState::Undecryptable, None),
            (row("current-ends", t(100)), KeyState::Current, None),
            (row("next-soon", t(300)), KeyState::Next, t(100)),
            (row("current-no-end", None), KeyState::Current, None),
            (
                row("waiting-undecryptable", None),
                KeyState::Undecryptable,
                t(200),
            ),
            (row("retired", t(50)), KeyState::Retired, None),
        ];
        let mut listed: Vec<_> = rows.iter().collect();
        listed.sort_by(|(a, a_state, a_starts), (b, b_state, b_starts)| {
            timeline_order((a, *a_state, *a_starts), (b, *b_state, *b_starts))
        });
        let order: Vec<&str> = listed.iter().map(|(r, ..)| r.id.as_str()).collect();
        assert_eq!(
            order,
            [
                "waiting-undecryptable",
                "next-soon",
                "current-no-end",
                "current-ends",
                "retired-no-end",
                "retired",
                "expired",
            ]
        );
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
