//! `GET /openapi.json`: the OpenAPI 3.1 document of these routes, generated from the handlers'
//! `#[utoipa::path]` attributes and the wire types of `sigil-proto`.
//!
//! The document's paths are the real ones: the configured base path is prepended and the key
//! set's path is the configured one (the attributes name it `/jwks`). There is no `servers`
//! entry, so the paths resolve against the host that served the document.

use axum::body::Bytes;
use axum::http::HeaderValue;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use sigil_proto::{
    ErrorBody, ErrorCode, KeyTimeline, KeyTimelineEntry, OkResponse, SessionResponse, SessionView,
    SignInRequest, SignInResponse, SignOutResponse, SignUpRequest, SignUpResponse, TokenResponse,
    UserView,
};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{OpenApi as Document, Paths};
use utoipa::{Modify, OpenApi};

use crate::config::Config;

/// The path the `#[utoipa::path]` of the key set names; replaced by the configured one.
pub(super) const JWKS_PLACEHOLDER: &str = "/jwks";

/// `POST /get-session`: answered `405` (Better Auth allows it only with deferred session
/// refresh). Documents the route that `routes::router` registers as a closure.
#[utoipa::path(
    post,
    path = "/get-session",
    tag = "session",
    responses(
        (status = 405, description = "`METHOD_NOT_ALLOWED_DEFER_SESSION_REQUIRED`", body = ErrorBody),
        (status = 403, description = "Untrusted or missing origin", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody,
            headers(("x-retry-after" = u64, description = "Seconds until a retry may succeed"))),
    )
)]
#[allow(dead_code)] // Only documentation: the route is a closure in `routes::router`.
fn get_session_post() {}

/// `GET /openapi.json`: this document.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "meta",
    responses(
        (status = 200, description = "The OpenAPI 3.1 document of this API", body = Object),
        (status = 429, description = "Rate limited", body = ErrorBody,
            headers(("x-retry-after" = u64, description = "Seconds until a retry may succeed"))),
    )
)]
#[allow(dead_code)] // Only documentation: the handler is the closure `serve` returns.
fn openapi_json() {}

/// The document, before the paths are made real (see [`document`]).
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Sigil",
        description = "Better Auth-compatible sessions and JWTs. Errors are `{\"message\", \"code\"}` with a `code` from `ErrorCode`; every route also answers `404 NOT_FOUND` for an unknown path and `405 METHOD_NOT_ALLOWED` for an unsupported method."
    ),
    paths(
        super::session::sign_up,
        super::session::sign_in,
        super::session::get_session,
        get_session_post,
        super::session::sign_out,
        super::health::ok,
        super::health::ready,
        super::jwt::token,
        super::jwt::jwks,
        super::jwt::key_timeline,
        openapi_json,
    ),
    components(schemas(
        ErrorBody, ErrorCode, KeyTimeline, KeyTimelineEntry, OkResponse, SessionResponse, SessionView, SignInRequest,
        SignInResponse, SignOutResponse, SignUpRequest, SignUpResponse, TokenResponse, UserView,
        super::jwt::Jwks, super::jwt::Jwk
    )),
    modifiers(&SecuritySchemes),
    tags(
        (name = "session", description = "Sign-up, sign-in, the current session, sign-out"),
        (name = "jwt", description = "JWTs for the session and the published key set"),
        (name = "health", description = "Liveness"),
        (name = "meta", description = "This document"),
    )
)]
struct ApiDoc;

/// The two ways a session is presented: the session cookie or `Authorization: Bearer`.
struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut Document) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("The session token (as in `set-auth-token`)"))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "session_cookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                "better-auth.session_token",
                "The signed session cookie (its name carries the configured prefix)",
            ))),
        );
    }
}

/// The document for `config`: paths under the base path, the key set at its configured path.
pub(crate) fn document(config: &Config) -> Document {
    let mut doc = ApiDoc::openapi();
    let mut paths = Paths::new();
    for (path, item) in std::mem::take(&mut doc.paths.paths) {
        // The console's data: routed only with the console.
        if path == crate::paths::KEY_TIMELINE && !config.console {
            continue;
        }
        let path = if path == JWKS_PLACEHOLDER {
            config.keys.jwks_path.as_str()
        } else {
            path.as_str()
        };
        paths
            .paths
            .insert(format!("{}{path}", config.base_path), item);
    }
    doc.paths = paths;
    doc
}

/// The handler of `GET /openapi.json`: the document, serialized once.
pub(super) fn serve(
    config: &Config,
) -> impl Fn() -> std::future::Ready<axum::response::Response> + Clone + Send + Sync + 'static {
    let body = match serde_json::to_vec(&document(config)) {
        Ok(json) => Bytes::from(json),
        Err(e) => {
            tracing::error!(error = %e, "could not serialize the OpenAPI document");
            Bytes::new()
        }
    };
    move || {
        std::future::ready(
            (
                [(CONTENT_TYPE, HeaderValue::from_static("application/json"))],
                body.clone(),
            )
                .into_response(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The router's source: its `.route(...)` calls are the route table.
    const ROUTER_SOURCE: &str = include_str!("mod.rs");

    /// The first argument of every `.route(` call in the router's source.
    fn routed_paths() -> Vec<String> {
        ROUTER_SOURCE
            .split(".route(")
            .skip(1)
            .filter_map(|rest| rest.split(',').next())
            .map(|arg| arg.trim().to_owned())
            .collect()
    }

    /// Every route registered in `routes::router` is a documented path: a route added there
    /// without a `#[utoipa::path]` in [`ApiDoc`] fails here. (The integration test
    /// `openapi::document_covers_the_routes` checks the methods against the running server.)
    #[test]
    fn every_route_is_documented() {
        let documented: Vec<String> = ApiDoc::openapi().paths.paths.keys().cloned().collect();
        let routed = routed_paths();
        assert!(!routed.is_empty());
        for arg in &routed {
            let path = match arg.as_str() {
                "&state.config.keys.jwks_path" => JWKS_PLACEHOLDER,
                constant => {
                    let name = constant.strip_prefix("paths::").unwrap_or_else(|| {
                        panic!("route {constant}: use a `paths::` constant (and document it)")
                    });
                    crate::paths::FIXED
                        .iter()
                        .copied()
                        .find(|p| name == constant_name(p))
                        .unwrap_or_else(|| panic!("paths::{name} is not in paths::FIXED"))
                }
            };
            assert!(
                documented.iter().any(|d| d == path),
                "route {arg} ({path}) is not in the OpenAPI document"
            );
        }
        assert_eq!(
            routed.len(),
            documented.len(),
            "routes {routed:?} vs documented {documented:?}"
        );
    }

    /// The name of the `paths::` constant whose value is `path`.
    fn constant_name(path: &str) -> &'static str {
        use crate::paths::*;
        match path {
            p if p == SIGN_UP => "SIGN_UP",
            p if p == SIGN_IN => "SIGN_IN",
            p if p == GET_SESSION => "GET_SESSION",
            p if p == SIGN_OUT => "SIGN_OUT",
            p if p == OK => "OK",
            p if p == READY => "READY",
            p if p == TOKEN => "TOKEN",
            p if p == OPENAPI => "OPENAPI",
            p if p == KEY_TIMELINE => "KEY_TIMELINE",
            _ => "",
        }
    }

    #[test]
    fn paths_are_under_the_base_path() {
        let config = crate::config::Config::from_settings(crate::config::Settings {
            secret: Some("test-secret-Q8vF2lMz7Xt1Rb9nK4pW6sY0cH3jD5gA".into()),
            ..Default::default()
        })
        .expect("default settings with a secret are valid");
        let doc = document(&config);
        assert!(
            doc.paths
                .paths
                .keys()
                .all(|p| p.starts_with(&config.base_path))
        );
        let jwks = format!("{}{}", config.base_path, config.keys.jwks_path);
        assert!(doc.paths.paths.contains_key(&jwks));
    }
}
