//! `GET {issuer}/.well-known/openid-configuration`: where API gateways and OIDC libraries (AWS
//! API Gateway, Azure API Management, go-oidc, Auth0's express middleware, mod_auth_openidc) look
//! for the key set of an issuer. Sigil is not an OpenID provider: the document carries what those
//! consumers read (`issuer`, `jwks_uri`, the algorithms) and fills the other members the
//! specification requires with the nearest thing Sigil has; the README says which mean nothing.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::header::{
    ACCESS_CONTROL_ALLOW_ORIGIN, CACHE_CONTROL, CONTENT_TYPE, ETAG, IF_NONE_MATCH,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;
use sigil_jose::Alg;

use crate::config::Config;
use crate::error::ApiError;
use crate::keys::JwksDocument;
use crate::state::SharedState;

/// The discovery document's path for `issuer`: the issuer's own path followed by
/// `/.well-known/openid-configuration` (OpenID Connect Discovery 1.0, section 4). `None` when the
/// issuer is not an `http(s)` URL without query or fragment: no consumer could find it then.
pub(crate) fn path_for(issuer: &str) -> Option<String> {
    let url = url::Url::parse(issuer).ok()?;
    if !matches!(url.scheme(), "http" | "https")
        || url.host().is_none()
        || url.query().is_some()
        || url.fragment().is_some()
        || !url.username().is_empty()
        || url.password().is_some()
    {
        return None;
    }
    // Url normalizes an empty path to "/".
    let prefix = url.path().trim_end_matches('/');
    // Url percent-encodes braces; a segment starting with `:` or `*` (which the router refuses
    // as a pattern from before axum 0.8) is left out, as is an empty one.
    if prefix.contains("//")
        || prefix
            .split('/')
            .any(|segment| segment.starts_with([':', '*']))
    {
        return None;
    }
    Some(format!("{prefix}/.well-known/openid-configuration"))
}

/// A router answering the discovery document at the issuer's path (empty when the issuer is
/// not a URL), to be merged at the root of the host's router.
pub(crate) fn router(state: SharedState) -> Router {
    let config = &state.config;
    let path = path_for(&config.jwt.issuer);
    // Under the base path, it must not stand where a route of the auth router is.
    let taken = path.as_deref().is_some_and(|p| {
        p.strip_prefix(config.base_path.as_str())
            .is_some_and(|rest| {
                rest == config.keys.jwks_path || crate::paths::FIXED.contains(&rest)
            })
    });
    if taken {
        tracing::warn!(
            "no discovery document: its path under the issuer is taken by another route (jwks.path)"
        );
    }
    match path.filter(|_| !taken) {
        Some(path) => Router::new()
            .route(&path, get(openid_configuration))
            .method_not_allowed_fallback(|| async {
                ApiError::new(sigil_proto::ErrorCode::MethodNotAllowed)
            })
            .with_state(state),
        None => Router::new(),
    }
}

/// The algorithms a consumer should accept: each configured one that has a published key, in
/// the configured order, then any other published key's (a key another node wrote, still in its
/// grace period).
fn published_algs(config: &Config, doc: &JwksDocument) -> Vec<Alg> {
    let present: Vec<Alg> = doc
        .set
        .keys()
        .iter()
        .filter_map(sigil_jose::PublicKey::alg)
        .collect();
    let mut algs: Vec<Alg> = config
        .keys
        .algs
        .iter()
        .copied()
        .filter(|a| present.contains(a))
        .collect();
    let mut others: Vec<Alg> = present
        .into_iter()
        .filter(|a| !config.keys.algs.contains(a))
        .collect();
    others.sort_by_key(ToString::to_string);
    others.dedup();
    algs.extend(others);
    algs
}

/// The document's body for the key set `doc`.
fn document(config: &Config, doc: &JwksDocument) -> String {
    let base = format!("{}{}", config.origin, config.base_path);
    let algs: Vec<String> = published_algs(config, doc)
        .iter()
        .map(ToString::to_string)
        .collect();
    json!({
        "issuer": config.jwt.issuer,
        "jwks_uri": format!("{base}{}", config.keys.jwks_path),
        "id_token_signing_alg_values_supported": algs,
        // Required by the specification; not an OAuth flow (see the README).
        "authorization_endpoint": format!("{base}{}", crate::paths::SIGN_IN),
        "token_endpoint": format!("{base}{}", crate::paths::TOKEN),
        "response_types_supported": ["id_token"],
        "subject_types_supported": ["public"],
    })
    .to_string()
}

/// `GET {issuer}/.well-known/openid-configuration`, cached like the key set: `Cache-Control`
/// with the key set's max-age and a strong `ETag` (it changes when an algorithm gains or loses
/// its last published key).
async fn openid_configuration(
    State(state): State<SharedState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let keys = state.minter.keys();
    let doc: Arc<JwksDocument> = match keys.cached_jwks() {
        Some(doc) => doc,
        None => Box::pin(keys.jwks()).await?,
    };
    let body = document(&state.config, &doc);
    let etag = crate::etag::strong(body.as_bytes());
    let not_modified = crate::etag::matches(headers.get(IF_NONE_MATCH), &etag);
    let mut response = if not_modified {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut response = Response::new(Body::from(body));
        response
            .headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        response
    };
    let max_age = state.config.keys.max_age.num_seconds().max(0);
    let headers = response.headers_mut();
    // Public metadata without credentials: any page may read it (browser OIDC libraries do).
    headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    if let Ok(cache) = HeaderValue::from_str(&format!("public, max-age={max_age}")) {
        headers.insert(CACHE_CONTROL, cache);
    }
    if let Ok(tag) = HeaderValue::from_str(&etag) {
        headers.insert(ETAG, tag);
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::path_for;

    #[test]
    fn the_document_sits_under_the_issuers_path() {
        for (issuer, path) in [
            (
                "https://auth.example.com",
                "/.well-known/openid-configuration",
            ),
            (
                "https://auth.example.com/",
                "/.well-known/openid-configuration",
            ),
            ("http://127.0.0.1:3000", "/.well-known/openid-configuration"),
            (
                "https://example.com/tenants/a",
                "/tenants/a/.well-known/openid-configuration",
            ),
            (
                "https://example.com/{x}",
                "/%7Bx%7D/.well-known/openid-configuration",
            ),
            (
                "https://example.com/api/auth/",
                "/api/auth/.well-known/openid-configuration",
            ),
        ] {
            assert_eq!(path_for(issuer).as_deref(), Some(path), "{issuer}");
        }
        for issuer in [
            "sigil",
            "urn:example:issuer",
            "ftp://example.com",
            "https://example.com/?tenant=a",
            "https://example.com/#a",
            "https://user:pw@example.com",
            "https://example.com/a//b",
            "https://example.com/:tenant",
            "https://example.com/a/*rest",
        ] {
            assert_eq!(path_for(issuer), None, "{issuer}");
        }
    }
}
