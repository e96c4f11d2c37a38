//! The console page at `/`: sign in, get a token, see it decoded and verified in the page, and
//! see the key timeline. Three files embedded in the binary (it works with no network), served
//! under a strict Content-Security-Policy: scripts and styles from this origin only, no inline
//! script, no framing.

use axum::Router;
use axum::body::Bytes;
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, ETAG, IF_NONE_MATCH, REFERRER_POLICY,
    X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::config::Config;

const INDEX: &str = include_str!("../../assets/console/index.html");
const SCRIPT: &str = include_str!("../../assets/console/console.js");
const STYLE: &str = include_str!("../../assets/console/console.css");
const ICON: &str = include_str!("../../assets/console/icon.svg");

/// What the page may load and do: its own script, style and API calls; nothing else.
const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
     img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// Text safe inside a double-quoted HTML attribute.
fn attribute(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The page with this server's base path, key set path, issuer, audience (a JSON list) and
/// origin filled in (read by the script from `data-` attributes, so that no inline script is
/// needed): what a token must say to be this server's.
fn index_for(config: &Config) -> String {
    let audience = serde_json::Value::from(config.jwt.audience.clone()).to_string();
    INDEX
        .replace("{{BASE_PATH}}", &attribute(&config.base_path))
        .replace("{{JWKS_PATH}}", &attribute(&config.keys.jwks_path))
        .replace("{{ISSUER}}", &attribute(&config.jwt.issuer))
        .replace("{{AUDIENCE}}", &attribute(&audience))
        .replace("{{ORIGIN}}", &attribute(&config.origin))
}

/// One file of the console: its bytes, type and tag.
#[derive(Clone)]
struct Asset {
    body: Bytes,
    content_type: &'static str,
    etag: HeaderValue,
}

impl Asset {
    fn new(content_type: &'static str, body: impl Into<Bytes>) -> Asset {
        let body = body.into();
        Asset {
            etag: HeaderValue::from_str(&crate::etag::strong(&body))
                .unwrap_or_else(|_| HeaderValue::from_static("\"\"")),
            body,
            content_type,
        }
    }

    /// The file with the console's security headers, or `304` when the request names its tag.
    /// `no-cache` with an `ETag`: a browser revalidates each time (a small request) and a new
    /// binary's files are never served stale.
    fn answer(&self, request: &HeaderMap) -> Response {
        let fresh = self
            .etag
            .to_str()
            .is_ok_and(|tag| crate::etag::matches(request.get(IF_NONE_MATCH), tag));
        let mut response = if fresh {
            StatusCode::NOT_MODIFIED.into_response()
        } else {
            (
                [(CONTENT_TYPE, HeaderValue::from_static(self.content_type))],
                self.body.clone(),
            )
                .into_response()
        };
        response.headers_mut().insert(ETAG, self.etag.clone());
        secure(response)
    }

    /// A route answering this file.
    fn route(self) -> axum::routing::MethodRouter {
        get(move |headers: HeaderMap| {
            let asset = self.clone();
            async move { asset.answer(&headers) }
        })
    }
}

/// The console's security headers on `response`.
fn secure(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(POLICY));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(
        HeaderName::from_static("cross-origin-opener-policy"),
        HeaderValue::from_static("same-origin"),
    );
    response
}

/// The console's routes (`/` and its assets under `/console/`), to be merged at the
/// root of the host's router; empty when the console is off.
pub(crate) fn router(config: &Config) -> Router {
    if !config.console {
        return Router::new();
    }
    // Built once; each answer shares the bytes.
    Router::new()
        .route(
            "/",
            Asset::new("text/html; charset=utf-8", index_for(config)).route(),
        )
        .route(
            "/console/console.js",
            Asset::new("text/javascript; charset=utf-8", SCRIPT).route(),
        )
        .route(
            "/console/console.css",
            Asset::new("text/css; charset=utf-8", STYLE).route(),
        )
        .route(
            "/console/icon.svg",
            Asset::new("image/svg+xml", ICON).route(),
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_are_escaped() {
        assert_eq!(attribute(r#"/a"b<c>&"#), "/a&quot;b&lt;c&gt;&amp;");
    }

    /// The page loads nothing inline: no `<script>` body, no `style=` attribute, no `on…=`
    /// handler (the policy would block them, and the page would break).
    #[test]
    fn nothing_inline() {
        for (i, chunk) in INDEX.split("<script").enumerate().skip(1) {
            let tag_end = chunk.find('>').unwrap();
            assert!(
                chunk[tag_end + 1..].trim_start().starts_with("</script>"),
                "script {i} has an inline body"
            );
        }
        assert!(!INDEX.contains("style="));
        let handler = INDEX.split(" on").skip(1).any(|rest| {
            let name_end = rest
                .find(|c: char| !c.is_ascii_alphabetic())
                .unwrap_or(rest.len());
            name_end > 0 && rest[name_end..].starts_with('=')
        });
        assert!(!handler, "an on…= handler attribute");
        assert!(!SCRIPT.contains("innerHTML"), "text only, never markup");
        assert!(!SCRIPT.contains("eval("));
    }
}
