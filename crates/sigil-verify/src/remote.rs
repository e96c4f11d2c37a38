//! A JWKS fetched over HTTP and cached: the key source for services that verify tokens issued
//! elsewhere. Policies follow the strictest common practice (see `reference/security.md` §4):
//! bounded cache lifetime, rate-limited refetch on unknown `kid`, one fetch in flight, bounded
//! stale-if-error, refresh ahead of expiry, and no lock held across I/O.

use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use futures_util::future::{BoxFuture, Shared};
use reqwest::header::{ACCEPT, CACHE_CONTROL, HeaderMap};
use sigil_jose::JwkSet;

use crate::clock::{Clock, SystemClock};
use crate::error::{ConfigError, FetchError};
use crate::metrics;

/// Default time a JWKS is cached when the response says nothing (`Cache-Control: max-age`).
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(600);
/// Shortest cache lifetime a response's `max-age` can ask for.
pub const MIN_MAX_AGE: Duration = Duration::from_secs(60);
/// Longest cache lifetime a response's `max-age` can ask for.
pub const MAX_MAX_AGE: Duration = Duration::from_secs(24 * 3600);
/// Default minimum time between fetches caused by unknown key ids or failed fetches.
pub const DEFAULT_COOLDOWN: Duration = Duration::from_secs(30);
/// Default fetch timeout (connect, headers and body together).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
/// Default time cached keys keep being used past expiry while the endpoint fails.
pub const DEFAULT_MAX_STALE: Duration = Duration::from_secs(3600);
/// Default cap on the response body.
pub const DEFAULT_MAX_BYTES: usize = 512 * 1024;
/// How long before expiry a background refresh starts (at most half the lifetime).
pub const REFRESH_AHEAD: Duration = Duration::from_secs(30);
/// Configured durations are capped here (see `capped`).
pub const MAX_SETTING: Duration = Duration::from_secs(10 * 365 * 24 * 3600);

/// A remote JWKS with its cache. Cheap to clone; clones share the cache.
#[derive(Clone)]
pub struct RemoteJwks {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for RemoteJwks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteJwks")
            .field("url", &self.inner.url.as_str())
            .finish_non_exhaustive()
    }
}

/// Configures a [`RemoteJwks`]; every setting has a safe default.
#[must_use]
pub struct RemoteJwksBuilder {
    url: String,
    allow_http: bool,
    settings: Settings,
    clock: Arc<dyn Clock>,
}

/// The fetch and cache policy, as the builder's setters describe it. Durations are capped at
/// [`MAX_SETTING`] when set.
#[derive(Clone, Copy, Debug)]
struct Settings {
    timeout: Duration,
    max_bytes: usize,
    default_max_age: Duration,
    fixed_max_age: Option<Duration>,
    cooldown: Duration,
    max_stale: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            timeout: DEFAULT_TIMEOUT,
            max_bytes: DEFAULT_MAX_BYTES,
            default_max_age: DEFAULT_MAX_AGE,
            fixed_max_age: None,
            cooldown: DEFAULT_COOLDOWN,
            max_stale: DEFAULT_MAX_STALE,
        }
    }
}

/// "Forever" for practical purposes: no time arithmetic on a capped duration can overflow.
fn capped(d: Duration) -> Duration {
    d.min(MAX_SETTING)
}

type SharedFetch = Shared<BoxFuture<'static, Result<Arc<JwkSet>, FetchError>>>;

struct Inner {
    url: reqwest::Url,
    client: reqwest::Client,
    settings: Settings,
    clock: Arc<dyn Clock>,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    cached: Option<Cached>,
    /// When the last fetch asked for by an unknown key id started: such fetches are rate-limited
    /// (one per cooldown), the regular refreshes are not counted against them.
    last_unknown_kid_fetch: Option<Instant>,
    /// The last failure, when no fetch has succeeded since.
    last_failure: Option<(Instant, FetchError)>,
    /// The fetch in flight and its number (to tell it from later ones).
    in_flight: Option<(u64, SharedFetch)>,
    fetches: u64,
    /// A fetch decided on under the lock, spawned once the lock is released (spawning can drop
    /// the task at once on a runtime that is shutting down, and its guard takes the lock).
    to_launch: Option<Launch>,
}

/// A fetch task waiting to be spawned.
struct Launch {
    runtime: tokio::runtime::Handle,
    job: BoxFuture<'static, ()>,
}

struct Cached {
    set: Arc<JwkSet>,
    fetched_at: Instant,
    expires_at: Instant,
}

/// Clears a fetch that ended without storing its result (task cancelled or panicked), so the
/// source does not keep waiting on it, and counts it as a failure for the cooldown.
struct FetchGuard {
    inner: Arc<Inner>,
    number: u64,
    stored: bool,
}

impl FetchGuard {
    /// The result was stored: nothing to clean up.
    fn disarm(&mut self) {
        self.stored = true;
    }
}

impl Drop for FetchGuard {
    fn drop(&mut self) {
        if self.stored {
            return;
        }
        let now = self.inner.clock.instant();
        let mut st = self.inner.lock();
        if st
            .in_flight
            .as_ref()
            .is_some_and(|(n, _)| *n == self.number)
        {
            st.in_flight = None;
        }
        st.last_failure = Some((
            now,
            FetchError::Unreachable("the fetch ended before completing".into()),
        ));
    }
}

/// What a caller does once the state lock is released.
enum Next {
    Ready(Arc<JwkSet>),
    Wait {
        fetch: SharedFetch,
        stale: Option<Arc<JwkSet>>,
    },
    Fail(FetchError),
}

impl RemoteJwks {
    /// A source for the JWKS at `url` with default settings.
    pub fn new(url: &str) -> Result<Self, ConfigError> {
        Self::builder(url).build()
    }

    /// Starts configuring a source for the JWKS at `url`.
    pub fn builder(url: &str) -> RemoteJwksBuilder {
        RemoteJwksBuilder {
            url: url.to_owned(),
            allow_http: false,
            settings: Settings::default(),
            clock: Arc::new(SystemClock),
        }
    }

    /// The configured URL.
    pub fn url(&self) -> &str {
        self.inner.url.as_str()
    }

    /// Whether a fetch is running now (for health checks and tests).
    pub fn fetch_in_flight(&self) -> bool {
        self.inner.lock().in_flight.is_some()
    }

    /// The keys to verify with now: the cached set while it is fresh (starting a background
    /// refresh shortly before it expires), otherwise the result of a fetch shared with every
    /// concurrent caller. While fetches fail, an expired set keeps being served for the stale
    /// window, and failed fetches are retried at most once per cooldown.
    pub async fn keys(&self) -> Result<Arc<JwkSet>, FetchError> {
        let now = self.inner.clock.instant();
        let next = self.inner.locked(|st| self.inner.plan_keys(st, now));
        self.inner.finish(next).await
    }

    /// Called when a token names a key the set `seen` does not have: a newer set if one was
    /// fetched since, or one fetch if the cooldown allows it; `None` when no newer set can be had
    /// now. A failed refetch is logged and answers `None` (the cached keys still stand).
    pub async fn refresh_for_unknown_kid(&self, seen: &Arc<JwkSet>) -> Option<Arc<JwkSet>> {
        let now = self.inner.clock.instant();
        let next = self.inner.locked(|st| {
            Some(match &st.cached {
                Some(c) if !Arc::ptr_eq(&c.set, seen) => Next::Ready(c.set.clone()),
                _ => match &st.in_flight {
                    Some((_, fetch)) => Next::Wait {
                        fetch: fetch.clone(),
                        stale: None,
                    },
                    None if self.inner.cooling_down(st, now) => return None,
                    None => {
                        st.last_unknown_kid_fetch = Some(now);
                        Next::Wait {
                            fetch: self.inner.start_fetch(st, now),
                            stale: None,
                        }
                    }
                },
            })
        })?;
        match self.inner.finish(next).await {
            Ok(set) if !Arc::ptr_eq(&set, seen) => Some(set),
            Ok(_) => None,
            Err(e) => {
                tracing::warn!(url = %self.inner.url, error = %e, "JWKS refetch for an unknown kid failed");
                None
            }
        }
    }
}

impl RemoteJwksBuilder {
    /// Allows plain `http://` to hosts other than loopback (never do this across a network you do
    /// not control: whoever can change the response can mint tokens).
    pub fn allow_insecure_http(mut self) -> Self {
        self.allow_http = true;
        self
    }

    /// Limit on one whole fetch (default 5 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.settings.timeout = capped(timeout);
        self
    }

    /// Cap on the response body (default 512 KiB).
    pub fn max_bytes(mut self, bytes: usize) -> Self {
        self.settings.max_bytes = bytes;
        self
    }

    /// Cache lifetime when the response has no `Cache-Control: max-age` (default 10 min). A
    /// response's `max-age` is honoured within [1 min, 24 h].
    pub fn default_max_age(mut self, max_age: Duration) -> Self {
        self.settings.default_max_age = capped(max_age);
        self
    }

    /// A cache lifetime that overrides whatever the response says (an operator's decision).
    pub fn fixed_max_age(mut self, max_age: Duration) -> Self {
        self.settings.fixed_max_age = Some(capped(max_age));
        self
    }

    /// Minimum time between fetches caused by unknown key ids, and between a failed fetch and the
    /// next attempt (default 30 s).
    pub fn cooldown(mut self, cooldown: Duration) -> Self {
        self.settings.cooldown = capped(cooldown);
        self
    }

    /// How long past expiry cached keys are still used while fetches fail (default 1 h); after
    /// that, verification fails closed.
    pub fn max_stale(mut self, max_stale: Duration) -> Self {
        self.settings.max_stale = capped(max_stale);
        self
    }

    /// The clock cache ages are measured with (tests use [`crate::ManualClock`]).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Checks the URL and builds the source. Nothing is fetched until keys are first needed.
    pub fn build(self) -> Result<RemoteJwks, ConfigError> {
        let url = reqwest::Url::parse(&self.url)
            .map_err(|e| ConfigError::InvalidUrl(format!("{}: {e}", self.url)))?;
        match url.scheme() {
            "https" => {}
            "http" if self.allow_http || is_loopback(&url) => {}
            "http" => return Err(ConfigError::InsecureUrl(self.url)),
            other => {
                return Err(ConfigError::InvalidUrl(format!(
                    "{}: scheme {other:?} is not http(s)",
                    self.url
                )));
            }
        }
        let mut client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(self.settings.timeout)
            .connect_timeout(self.settings.timeout)
            .user_agent(concat!("sigil-verify/", env!("CARGO_PKG_VERSION")));
        if url.scheme() == "http" {
            // Plain HTTP is allowed because the bytes never leave the host; an HTTP proxy from
            // the environment would carry them (and could answer them) in the clear.
            client = client.no_proxy();
        }
        let client = client
            .build()
            .map_err(|e| ConfigError::Client(e.to_string()))?;
        Ok(RemoteJwks {
            inner: Arc::new(Inner {
                url,
                client,
                settings: self.settings,
                clock: self.clock,
                state: Mutex::new(State::default()),
            }),
        })
    }
}

/// `localhost` and loopback addresses: the only hosts plain HTTP is allowed to by default.
fn is_loopback(url: &reqwest::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        // The state is left consistent at every point a panic could occur, so a poisoned lock
        // (a panic elsewhere while holding it) is recovered rather than propagated.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `f` under the state lock, then spawns the fetch it decided on, if any, after the
    /// lock is released.
    fn locked<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        let (out, launch) = {
            let mut st = self.lock();
            let out = f(&mut st);
            (out, st.to_launch.take())
        };
        if let Some(Launch { runtime, job }) = launch {
            drop(runtime.spawn(job));
        }
        out
    }

    /// Whether a fetch for an unknown key id must wait: one such fetch per cooldown, and none
    /// within a cooldown of a failed fetch. A regular refresh does not count, so that a key
    /// published just after it is fetched when its first token arrives.
    fn cooling_down(&self, st: &State, now: Instant) -> bool {
        st.last_unknown_kid_fetch
            .is_some_and(|t| now.saturating_duration_since(t) < self.settings.cooldown)
            || self.recently_failed(st, now).is_some()
    }

    fn recently_failed(&self, st: &State, now: Instant) -> Option<FetchError> {
        match &st.last_failure {
            Some((t, e)) if now.saturating_duration_since(*t) < self.settings.cooldown => {
                Some(e.clone())
            }
            _ => None,
        }
    }

    fn plan_keys(self: &Arc<Self>, st: &mut State, now: Instant) -> Next {
        let (set, expires_at, fetched_at) = match &st.cached {
            Some(c) => (Some(c.set.clone()), c.expires_at, c.fetched_at),
            None => (None, now, now),
        };
        if let Some(set) = &set {
            metrics::key_age(now.saturating_duration_since(fetched_at));
            if now < expires_at {
                let lifetime = expires_at.saturating_duration_since(fetched_at);
                let ahead = REFRESH_AHEAD.min(lifetime / 2);
                if expires_at.saturating_duration_since(now) <= ahead
                    && st.in_flight.is_none()
                    && self.recently_failed(st, now).is_none()
                {
                    // Refresh ahead: the caller goes on with the fresh set; the spawned fetch
                    // runs to completion on its own.
                    drop(self.start_fetch(st, now));
                }
                return Next::Ready(set.clone());
            }
        }
        let stale = set.filter(|_| {
            expires_at
                .checked_add(self.settings.max_stale)
                .is_none_or(|end| now < end)
        });
        if let Some(set) = &stale
            && st.last_failure.is_some()
        {
            // An outage: callers do not wait on the endpoint. The expired set answers at once,
            // and at most one fetch per cooldown probes in the background.
            if st.in_flight.is_none() && self.recently_failed(st, now).is_none() {
                drop(self.start_fetch(st, now));
            }
            return Next::Ready(set.clone());
        }
        if let Some((_, fetch)) = &st.in_flight {
            return Next::Wait {
                fetch: fetch.clone(),
                stale,
            };
        }
        if let Some(error) = self.recently_failed(st, now) {
            return match stale {
                Some(set) => Next::Ready(set),
                None => Next::Fail(error),
            };
        }
        Next::Wait {
            fetch: self.start_fetch(st, now),
            stale,
        }
    }

    async fn finish(&self, next: Next) -> Result<Arc<JwkSet>, FetchError> {
        match next {
            Next::Ready(set) => Ok(set),
            Next::Fail(e) => Err(e),
            Next::Wait { fetch, stale } => match fetch.await {
                Ok(set) => Ok(set),
                Err(e) => match stale {
                    Some(set) => {
                        tracing::warn!(url = %self.url, error = %e, "JWKS refresh failed; using the expired key set");
                        Ok(set)
                    }
                    None => Err(e),
                },
            },
        }
    }

    /// Prepares one fetch, records it as the one in flight and leaves it in `to_launch` for
    /// [`Inner::locked`] to spawn. The task stores its result before it resolves, so every waiter
    /// sees the updated cache; if it ends any other way (dropped unspawned, cancelled at runtime
    /// shutdown, panicked), its guard clears it and records a failure, and waiters get an error.
    fn start_fetch(self: &Arc<Self>, st: &mut State, now: Instant) -> SharedFetch {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            let e = FetchError::Unreachable("no tokio runtime to fetch the JWKS on".into());
            st.last_failure = Some((now, e.clone()));
            return futures_util::future::ready(Err(e)).boxed().shared();
        };
        st.fetches += 1;
        let mut guard = FetchGuard {
            inner: Arc::clone(self),
            number: st.fetches,
            stored: false,
        };
        let (done, result) = tokio::sync::oneshot::channel();
        let job = async move {
            let fetched = guard.inner.fetch().await;
            let stored = guard.inner.store(guard.number, fetched);
            guard.disarm();
            // Nobody may be waiting (refresh ahead); that is fine.
            let _ = done.send(stored);
        }
        .boxed();
        let fetch = async move {
            result.await.unwrap_or_else(|_| {
                Err(FetchError::Unreachable(
                    "the fetch ended before completing".into(),
                ))
            })
        }
        .boxed()
        .shared();
        st.in_flight = Some((st.fetches, fetch.clone()));
        st.to_launch = Some(Launch { runtime, job });
        tracing::debug!(url = %self.url, "fetching JWKS");
        fetch
    }

    fn store(
        &self,
        number: u64,
        result: Result<(JwkSet, Option<Duration>), FetchError>,
    ) -> Result<Arc<JwkSet>, FetchError> {
        let now = self.clock.instant();
        let mut st = self.lock();
        if st.in_flight.as_ref().is_some_and(|(n, _)| *n == number) {
            st.in_flight = None;
        }
        match result {
            Ok((set, header_max_age)) => {
                let max_age = self.settings.fixed_max_age.unwrap_or_else(|| {
                    header_max_age.map_or(self.settings.default_max_age, |a| {
                        a.clamp(MIN_MAX_AGE, MAX_MAX_AGE)
                    })
                });
                let set = Arc::new(set);
                st.cached = Some(Cached {
                    set: set.clone(),
                    fetched_at: now,
                    // max_age is capped at MAX_SETTING; should even that overflow the clock, the
                    // longest lifetime a server may ask for applies.
                    expires_at: now
                        .checked_add(max_age)
                        .or_else(|| now.checked_add(MAX_MAX_AGE))
                        .unwrap_or(now),
                });
                st.last_failure = None;
                metrics::fetch("ok");
                tracing::debug!(url = %self.url, keys = set.keys().len(), ?max_age, "JWKS cached");
                Ok(set)
            }
            Err(e) => {
                metrics::fetch(e.code());
                tracing::warn!(url = %self.url, error = %e, "JWKS fetch failed");
                st.last_failure = Some((now, e.clone()));
                Err(e)
            }
        }
    }

    /// One HTTP round trip, bounded in time and size; answers the set and the response's max-age.
    async fn fetch(&self) -> Result<(JwkSet, Option<Duration>), FetchError> {
        match tokio::time::timeout(self.settings.timeout, self.fetch_unbounded()).await {
            Ok(result) => result,
            Err(_) => Err(FetchError::Timeout(self.settings.timeout)),
        }
    }

    async fn fetch_unbounded(&self) -> Result<(JwkSet, Option<Duration>), FetchError> {
        let mut response = self
            .client
            .get(self.url.clone())
            .header(ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| self.request_error(&e))?;
        let status = response.status();
        if status.is_redirection() {
            return Err(FetchError::Redirect(status.as_u16()));
        }
        if status != reqwest::StatusCode::OK {
            return Err(FetchError::Status(status.as_u16()));
        }
        if response
            .content_length()
            .is_some_and(|n| n > self.settings.max_bytes as u64)
        {
            return Err(FetchError::TooLarge(self.settings.max_bytes));
        }
        let max_age = max_age(response.headers());
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| self.request_error(&e))? {
            if body.len() + chunk.len() > self.settings.max_bytes {
                return Err(FetchError::TooLarge(self.settings.max_bytes));
            }
            body.extend_from_slice(&chunk);
        }
        let (set, skipped) =
            JwkSet::from_json_lenient(&body).map_err(|e| FetchError::Invalid(e.to_string()))?;
        for s in &skipped {
            tracing::warn!(url = %self.url, index = s.index, kid = ?s.kid, error = %s.error, "JWKS key skipped");
        }
        if set.is_empty() {
            // An empty set (a misconfigured or half-deployed issuer) must not replace good keys.
            return Err(FetchError::Invalid("no usable key in the set".into()));
        }
        Ok((set, max_age))
    }

    fn request_error(&self, e: &reqwest::Error) -> FetchError {
        if e.is_timeout() {
            FetchError::Timeout(self.settings.timeout)
        } else {
            // reqwest's Display carries the URL and the cause chain's first link; the source
            // chain says what actually failed (refused, reset, DNS).
            let mut msg = e.to_string();
            let mut source = std::error::Error::source(e);
            while let Some(s) = source {
                msg.push_str(": ");
                msg.push_str(&s.to_string());
                source = s.source();
            }
            FetchError::Unreachable(msg)
        }
    }
}

/// The `max-age` of a `Cache-Control` header (`no-cache`/`no-store` count as 0), if any.
pub fn max_age(headers: &HeaderMap) -> Option<Duration> {
    let mut found = None;
    for value in headers.get_all(CACHE_CONTROL) {
        let Ok(value) = value.to_str() else { continue };
        if let Some(age) = parse_cache_control(value) {
            found = Some(found.map_or(age, |f: Duration| f.min(age)));
        }
    }
    found
}

/// Parses one `Cache-Control` value for the lifetime it allows: the smallest `max-age`, or 0 for
/// `no-cache`/`no-store`. Written by hand: the directive grammar is a few lines and the usual
/// crates parse far more than this needs.
pub fn parse_cache_control(value: &str) -> Option<Duration> {
    let mut found: Option<Duration> = None;
    for directive in value.split(',') {
        let directive = directive.trim();
        let (name, arg) = match directive.split_once('=') {
            Some((n, a)) => (n.trim(), Some(a.trim())),
            None => (directive, None),
        };
        let age = if name.eq_ignore_ascii_case("no-cache") || name.eq_ignore_ascii_case("no-store")
        {
            Some(0)
        } else if name.eq_ignore_ascii_case("max-age") {
            arg.map(|a| a.trim_matches('"'))
                .filter(|a| !a.is_empty() && a.bytes().all(|b| b.is_ascii_digit()))
                // Digits beyond u64 mean "a very long time" (RFC 9111 §1.2.2).
                .map(|a| a.parse::<u64>().unwrap_or(u64::MAX))
        } else {
            None
        };
        if let Some(age) = age {
            let age = Duration::from_secs(age);
            found = Some(found.map_or(age, |f| f.min(age)));
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn cache_control_directives() {
        let s = Duration::from_secs;
        assert_eq!(parse_cache_control("public, max-age=300"), Some(s(300)));
        assert_eq!(parse_cache_control("MAX-AGE=\"60\""), Some(s(60)));
        assert_eq!(parse_cache_control("max-age=300, no-cache"), Some(s(0)));
        assert_eq!(parse_cache_control("max-age=10, max-age=5"), Some(s(5)));
        assert_eq!(
            parse_cache_control("max-age=99999999999999999999999"),
            Some(s(u64::MAX))
        );
        assert_eq!(parse_cache_control("max-age=-1"), None);
        assert_eq!(parse_cache_control("max-age="), None);
        assert_eq!(parse_cache_control("max-age=1x"), None);
        assert_eq!(parse_cache_control("s-maxage=10, public"), None);
        assert_eq!(parse_cache_control(""), None);
    }

    #[test]
    fn plain_http_only_to_loopback() {
        for ok in [
            "http://127.0.0.1:1/jwks",
            "http://localhost/jwks",
            "http://[::1]:8/jwks",
            "https://auth.example.com/api/auth/jwks",
        ] {
            assert!(RemoteJwks::new(ok).is_ok(), "{ok}");
        }
        for bad in ["http://auth.example.com/jwks", "http://10.0.0.1/jwks"] {
            assert!(
                matches!(RemoteJwks::new(bad), Err(ConfigError::InsecureUrl(_))),
                "{bad}"
            );
            assert!(
                RemoteJwks::builder(bad)
                    .allow_insecure_http()
                    .build()
                    .is_ok()
            );
        }
        for bad in ["ftp://x/jwks", "not a url", "file:///etc/passwd"] {
            assert!(
                matches!(RemoteJwks::new(bad), Err(ConfigError::InvalidUrl(_))),
                "{bad}"
            );
        }
    }

    proptest! {
        #[test]
        fn cache_control_never_panics_and_reads_plain_max_age(s in ".{0,64}", n in 0u64..10_000_000) {
            let _ = parse_cache_control(&s);
            prop_assert_eq!(parse_cache_control(&format!("max-age={n}")), Some(Duration::from_secs(n)));
        }
    }
}
