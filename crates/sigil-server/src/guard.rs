//! Request guards that run before the handlers: origin and CSRF checks, the client address
//! behind trusted proxies, per-client rate limits.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
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

/// The client address: the socket peer; when the peer is a trusted proxy, `X-Forwarded-For` walked
/// from the right: the right-most entry that is not itself a trusted proxy (entries to its left
/// are whatever the client sent). An entry that does not parse ends the walk, and the hop to its
/// right is the client (the peer, when it is the right-most): skipping it would let a proxy that
/// writes a form not understood here hand the choice to the client. Entries may carry a port
/// (`1.2.3.4:5678`, `[2001:db8::1]:443`). IPv4-mapped IPv6 addresses are compared as IPv4.
pub(crate) fn client_ip(
    peer: Option<SocketAddr>,
    headers: &HeaderMap,
    trusted_proxies: &[IpAddr],
) -> Option<IpAddr> {
    let mut current = peer?.ip().to_canonical();
    if !trusted_proxies.contains(&current) {
        return Some(current);
    }
    // A header line that is not text counts as one unreadable entry.
    let lines: Vec<Option<&str>> = headers
        .get_all("x-forwarded-for")
        .iter()
        .map(|v| v.to_str().ok())
        .collect();
    let entries = lines.into_iter().rev().flat_map(|line| match line {
        Some(text) => text.rsplit(',').map(Some).collect::<Vec<_>>(),
        None => vec![None],
    });
    for entry in entries {
        let Some(hop) = entry.and_then(forwarded_address) else {
            break;
        };
        current = hop;
        if !trusted_proxies.contains(&hop) {
            break;
        }
    }
    Some(current)
}

/// One `X-Forwarded-For` entry: `1.2.3.4`, `1.2.3.4:5678`, `2001:db8::1`, `[2001:db8::1]` or
/// `[2001:db8::1]:443`, with surrounding spaces.
fn forwarded_address(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    let ip = match entry.parse::<IpAddr>() {
        Ok(ip) => ip,
        Err(_) => match entry.parse::<SocketAddr>() {
            Ok(socket) => socket.ip(),
            Err(_) => IpAddr::V6(
                entry
                    .strip_prefix('[')?
                    .strip_suffix(']')?
                    .parse::<Ipv6Addr>()
                    .ok()?,
            ),
        },
    };
    Some(ip.to_canonical())
}

/// The default prefix length under which IPv6 clients share a rate-limit bucket: a /64 is what
/// one subscriber or host usually gets, so its addresses are one client.
pub(crate) const DEFAULT_IPV6_PREFIX: u8 = 64;

/// Fixed-window rate limits per client and route, with Better Auth's defaults: 100 requests per
/// 10 s, 3 per 10 s on sign-in and sign-up. Keys are bounded: known routes by name, every other
/// path in one bucket per client, and the table is swept once per window and capped.
#[derive(Debug)]
pub(crate) struct RateLimiter {
    window: Duration,
    /// IPv6 clients are counted per network of this prefix length (1..=128).
    ipv6_prefix: u8,
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
        RateLimiter::new(DEFAULT_IPV6_PREFIX)
    }
}

impl RateLimiter {
    /// A limiter that counts IPv6 clients per `/ipv6_prefix` network (clamped to 1..=128).
    pub(crate) fn new(ipv6_prefix: u8) -> Self {
        RateLimiter {
            window: Duration::from_secs(10),
            ipv6_prefix: ipv6_prefix.clamp(1, 128),
            windows: Mutex::new(Windows {
                counts: HashMap::new(),
                last_sweep: None,
            }),
        }
    }

    /// The bucket of a client: an IPv4 address itself, an IPv6 address masked to the prefix.
    fn bucket(&self, client: IpAddr) -> IpAddr {
        match client.to_canonical() {
            IpAddr::V6(v6) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.ipv6_prefix))
                    .unwrap_or(0);
                IpAddr::V6(Ipv6Addr::from(u128::from(v6) & mask))
            }
            v4 => v4,
        }
    }

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
        let client = client.map(|ip| self.bucket(ip));
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

    /// The forms proxies write into `X-Forwarded-For`, with and without ports.
    #[test]
    fn forwarded_forms() {
        let peer: SocketAddr = "10.0.0.1:5000".parse().unwrap();
        let proxies = [peer.ip()];
        for (entry, client) in [
            ("1.2.3.4", "1.2.3.4"),
            ("1.2.3.4:5678", "1.2.3.4"),
            ("2001:db8::1", "2001:db8::1"),
            ("[2001:db8::1]", "2001:db8::1"),
            ("[2001:db8::1]:443", "2001:db8::1"),
            (" ::ffff:1.2.3.4 ", "1.2.3.4"),
        ] {
            let mut h = HeaderMap::new();
            h.insert("x-forwarded-for", HeaderValue::from_str(entry).unwrap());
            assert_eq!(
                client_ip(Some(peer), &h, &proxies).unwrap().to_string(),
                client,
                "{entry}"
            );
        }
    }

    /// Walking from the right, the first entry that does not parse ends the walk: the client is
    /// the hop to its right, never an entry the client wrote further left.
    #[test]
    fn forwarded_garbage_stops_the_walk() {
        let peer: SocketAddr = "10.0.0.1:5000".parse().unwrap();
        let proxies = [peer.ip(), "10.0.0.2".parse().unwrap()];
        let ip = |xff: &'static str| {
            client_ip(Some(peer), &headers(&[("x-forwarded-for", xff)]), &proxies)
                .unwrap()
                .to_string()
        };
        // The client sent `X-Forwarded-For: 6.6.6.6`, the proxy appended `ip:port`.
        assert_eq!(ip("6.6.6.6, 1.2.3.4:5678"), "1.2.3.4");
        assert_eq!(ip("6.6.6.6, [2001:db8::7]:443"), "2001:db8::7");
        assert_eq!(ip("6.6.6.6, unknown, 1.2.3.4"), "1.2.3.4");
        assert_eq!(ip("6.6.6.6, 1.2.3.4, 10.0.0.2"), "1.2.3.4");
        // Garbage right of the trusted hops: the last trusted hop is the client.
        assert_eq!(ip("6.6.6.6, garbage, 10.0.0.2"), "10.0.0.2");
        // The rightmost entry itself is garbage: the proxy's peer.
        assert_eq!(ip("6.6.6.6, nonsense"), "10.0.0.1");
        assert_eq!(ip("6.6.6.6, 1.2.3.4:notaport"), "10.0.0.1");
        assert_eq!(ip("6.6.6.6, "), "10.0.0.1");
        // Several header lines read as one list, in order.
        let mut h = HeaderMap::new();
        h.append("x-forwarded-for", HeaderValue::from_static("6.6.6.6"));
        h.append("x-forwarded-for", HeaderValue::from_static("1.2.3.4:5678"));
        assert_eq!(
            client_ip(Some(peer), &h, &proxies).unwrap().to_string(),
            "1.2.3.4"
        );
    }

    /// IPv6 clients share a bucket per /64 by default (one host usually holds a whole /64);
    /// IPv4 clients one per address.
    #[test]
    fn ipv6_clients_share_a_bucket_per_prefix() {
        let limiter = RateLimiter::default();
        let t0 = Instant::now();
        let v6 = |i: u32| Some(format!("2001:db8:1:2::{i:x}").parse().unwrap());
        for i in 1..=3 {
            assert!(limiter.check(v6(i), "/sign-in/email", t0).is_ok());
        }
        for i in 4..=12 {
            assert!(
                limiter.check(v6(i), "/sign-in/email", t0).is_err(),
                "address {i} of the same /64"
            );
        }
        let other_net = Some("2001:db8:1:3::1".parse().unwrap());
        assert!(limiter.check(other_net, "/sign-in/email", t0).is_ok());
        for v4 in ["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"] {
            assert!(
                limiter
                    .check(Some(v4.parse().unwrap()), "/sign-in/email", t0)
                    .is_ok()
            );
        }
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
