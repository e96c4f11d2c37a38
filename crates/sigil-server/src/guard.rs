//! Request guards that run before the handlers: origin and CSRF checks, the client address
//! behind trusted proxies, per-client rate limits.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::header::{COOKIE, ORIGIN, REFERER};
use axum::http::{HeaderMap, HeaderValue, Method};
use sigil_proto::ErrorCode;

use crate::error::ApiError;
use crate::origin::{TrustedOrigins, origin_of};

/// The request's claimed origin: `Origin`, else the origin of `Referer`; `None` when absent or
/// `"null"` — except that `Origin: null` with `Sec-Fetch-Site: same-origin` (a same-origin request
/// from a privacy-sensitive context) counts as the base origin, as in Better Auth 1.7.25.
fn request_origin(headers: &HeaderMap, trusted: &TrustedOrigins) -> Option<String> {
    let origin = headers.get(ORIGIN).and_then(|v| v.to_str().ok());
    let same_origin =
        headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) == Some("same-origin");
    match origin {
        Some("null") if same_origin => Some(trusted.base().to_owned()),
        Some("null") => None,
        Some(o) => Some(o.to_owned()),
        None => headers
            .get(REFERER)
            .and_then(|v| v.to_str().ok())
            .and_then(origin_of),
    }
}

/// Better Auth's origin checks for state-changing requests. `login` marks sign-in and sign-up,
/// which also get the Fetch-Metadata checks when no cookie is present.
pub(crate) fn check_origin(
    method: &Method,
    headers: &HeaderMap,
    trusted: &TrustedOrigins,
    login: bool,
) -> Result<(), ApiError> {
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return Ok(());
    }
    let must_match = |origin: Option<String>| match origin {
        None => Err(ApiError::new(ErrorCode::MissingOrNullOrigin)),
        Some(o) if trusted.allows(&o) => Ok(()),
        Some(_) => Err(ApiError::new(ErrorCode::InvalidOrigin)),
    };
    if headers.contains_key(COOKIE) {
        return must_match(request_origin(headers, trusted));
    }
    if login {
        let fetch = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        if fetch("sec-fetch-site") == Some("cross-site")
            && fetch("sec-fetch-mode") == Some("navigate")
        {
            return Err(ErrorCode::CrossSiteNavigationLoginBlocked.into());
        }
        let has_metadata = ["sec-fetch-site", "sec-fetch-mode", "sec-fetch-dest"]
            .iter()
            .any(|h| headers.contains_key(*h));
        if has_metadata || headers.contains_key(ORIGIN) || headers.contains_key(REFERER) {
            return must_match(request_origin(headers, trusted));
        }
    }
    Ok(())
}

/// The client address: the socket peer; when the peer is a trusted proxy, the right-most
/// `X-Forwarded-For` entry that is not itself a trusted proxy (entries to its left are whatever the
/// client sent). IPv4-mapped IPv6 addresses are compared as IPv4.
pub(crate) fn client_ip(
    peer: Option<SocketAddr>,
    headers: &HeaderMap,
    trusted_proxies: &[IpAddr],
) -> Option<IpAddr> {
    let mut current = peer?.ip().to_canonical();
    if !trusted_proxies.contains(&current) {
        return Some(current);
    }
    let chain: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|v| v.trim().parse::<IpAddr>().ok())
        .map(|ip| ip.to_canonical())
        .collect();
    for hop in chain.into_iter().rev() {
        current = hop;
        if !trusted_proxies.contains(&hop) {
            break;
        }
    }
    Some(current)
}

/// Fixed-window rate limits per client and route, with Better Auth's defaults: 100 requests per
/// 10 s, 3 per 10 s on sign-in and sign-up. Keys are bounded: known routes by name, every other
/// path in one bucket per client, and the table is swept once per window and capped.
#[derive(Debug)]
pub(crate) struct RateLimiter {
    window: Duration,
    windows: Mutex<Windows>,
}

#[derive(Debug)]
struct Windows {
    counts: HashMap<(Option<IpAddr>, &'static str), (Instant, u32)>,
    last_sweep: Option<Instant>,
}

/// Most clients tracked at once; beyond it the table is cleared (a flood of distinct addresses
/// must not exhaust memory).
const MAX_TRACKED: usize = 100_000;

impl Default for RateLimiter {
    fn default() -> Self {
        RateLimiter {
            window: Duration::from_secs(10),
            windows: Mutex::new(Windows {
                counts: HashMap::new(),
                last_sweep: None,
            }),
        }
    }
}

impl RateLimiter {
    /// Counts a request at `now`; `Err(retry_after_secs)` when over the limit.
    pub(crate) fn check(
        &self,
        client: Option<IpAddr>,
        path: &str,
        now: Instant,
    ) -> Result<(), u64> {
        let route = crate::paths::FIXED
            .iter()
            .copied()
            .find(|r| *r == path)
            .unwrap_or("other");
        let limit = if route.starts_with("/sign-in") || route.starts_with("/sign-up") {
            3
        } else {
            100
        };
        // A poisoned lock only means another request panicked while counting; the counts are
        // still usable.
        let mut w = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        let window = self.window;
        if w.last_sweep.is_none_or(|t| now.duration_since(t) >= window) {
            w.counts
                .retain(|_, (start, _)| now.duration_since(*start) < window);
            w.last_sweep = Some(now);
        }
        if w.counts.len() >= MAX_TRACKED {
            w.counts.clear();
        }
        let entry = w.counts.entry((client, route)).or_insert((now, 0));
        if now.duration_since(entry.0) >= window {
            *entry = (now, 0);
        }
        if entry.1 >= limit {
            let retry = window.saturating_sub(now.duration_since(entry.0));
            return Err(retry.as_secs().max(1));
        }
        entry.1 += 1;
        Ok(())
    }
}

/// Adds `name` to `Access-Control-Expose-Headers`, keeping what is there.
pub(crate) fn expose_header(headers: &mut HeaderMap, name: &str) {
    let key = axum::http::header::ACCESS_CONTROL_EXPOSE_HEADERS;
    let mut names: Vec<String> = headers
        .get(&key)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(',')
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default();
    if !names.iter().any(|n| n.eq_ignore_ascii_case(name)) {
        names.push(name.to_owned());
    }
    if let Ok(value) = HeaderValue::from_str(&names.join(", ")) {
        headers.insert(key, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn csrf_rules() {
        let t = crate::origin::example_trusted();
        let post = Method::POST;
        let code = |h: HeaderMap, login: bool| {
            check_origin(&post, &h, &t, login)
                .err()
                .map(|e| e.code().as_str())
        };
        assert_eq!(code(headers(&[]), true), None, "curl-style request");
        assert_eq!(
            code(headers(&[("cookie", "a=b")]), false),
            Some("MISSING_OR_NULL_ORIGIN")
        );
        assert_eq!(
            code(headers(&[("cookie", "a=b"), ("origin", "null")]), false),
            Some("MISSING_OR_NULL_ORIGIN")
        );
        assert_eq!(
            code(
                headers(&[("cookie", "a=b"), ("origin", "https://evil.com")]),
                false
            ),
            Some("INVALID_ORIGIN")
        );
        assert_eq!(
            code(
                headers(&[("cookie", "a=b"), ("origin", "http://127.0.0.1:3000")]),
                false
            ),
            None
        );
        assert_eq!(
            code(
                headers(&[("cookie", "a=b"), ("referer", "http://127.0.0.1:3000/page")]),
                false
            ),
            None
        );
        assert_eq!(
            code(headers(&[("sec-fetch-mode", "cors")]), true),
            Some("MISSING_OR_NULL_ORIGIN")
        );
        assert_eq!(
            code(
                headers(&[
                    ("sec-fetch-site", "cross-site"),
                    ("sec-fetch-mode", "navigate")
                ]),
                true
            ),
            Some("CROSS_SITE_NAVIGATION_LOGIN_BLOCKED")
        );
        assert_eq!(
            code(headers(&[("origin", "https://evil.com")]), true),
            Some("INVALID_ORIGIN")
        );
        assert_eq!(
            code(headers(&[("origin", "https://evil.com")]), false),
            None,
            "no cookie, not a login"
        );
        assert!(check_origin(&Method::GET, &headers(&[("cookie", "a=b")]), &t, false).is_ok());
        assert_eq!(
            code(
                headers(&[
                    ("cookie", "a=b"),
                    ("origin", "null"),
                    ("sec-fetch-site", "same-origin")
                ]),
                false
            ),
            None
        );
    }

    #[test]
    fn rate_limit_windows() {
        let limiter = RateLimiter::default();
        let ip = Some("10.0.0.1".parse().unwrap());
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(limiter.check(ip, "/sign-in/email", t0).is_ok());
        }
        assert_eq!(
            limiter.check(ip, "/sign-in/email", t0 + Duration::from_secs(1)),
            Err(9)
        );
        assert!(
            limiter
                .check(Some("10.0.0.2".parse().unwrap()), "/sign-in/email", t0)
                .is_ok()
        );
        assert!(limiter.check(ip, "/get-session", t0).is_ok());
        assert!(
            limiter
                .check(ip, "/sign-in/email", t0 + Duration::from_secs(10))
                .is_ok()
        );
    }

    #[test]
    fn proxies() {
        let h = headers(&[("x-forwarded-for", "203.0.113.9, 10.0.0.1")]);
        let peer: SocketAddr = "10.0.0.1:5000".parse().unwrap();
        assert_eq!(
            client_ip(Some(peer), &h, &[]).unwrap().to_string(),
            "10.0.0.1"
        );
        assert_eq!(
            client_ip(Some(peer), &h, &[peer.ip()]).unwrap().to_string(),
            "203.0.113.9"
        );
    }

    #[test]
    fn expose_merges() {
        let mut h = headers(&[("access-control-expose-headers", "set-auth-jwt")]);
        expose_header(&mut h, "set-auth-token");
        expose_header(&mut h, "set-auth-token");
        assert_eq!(
            h["access-control-expose-headers"],
            "set-auth-jwt, set-auth-token"
        );
    }
}
