//! [`AuthClient`]: the auth routes, the session, and the per-audience JWT cache.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use reqwest::header::{AUTHORIZATION, COOKIE, HeaderMap, HeaderValue, ORIGIN, SET_COOKIE};
use reqwest::{RequestBuilder, Response, StatusCode};
use serde::de::DeserializeOwned;
use sigil_proto::{
    ErrorBody, ErrorCode, SessionResponse, SignInRequest, SignInResponse, SignOutResponse,
    SignUpRequest, SignUpResponse, TokenResponse,
};

use crate::{Clock, Error, Jwt, SystemClock};

/// The session cookie's name (with `__Secure-` in front on https servers).
const SESSION_COOKIE: &str = "better-auth.session_token";
/// Default refresh margin: a cached token is replaced this long before its `exp`.
const DEFAULT_MARGIN: Duration = Duration::from_secs(60);
/// Default limit on one request to the auth server.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// How the client presents its session to the auth server.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SessionTransport {
    /// `Authorization: Bearer <session token>` (the `set-auth-token` value), Better Auth's bearer
    /// plugin. Needs no `Origin` header: the choice for services, scripts and CLIs.
    #[default]
    Bearer,
    /// The `better-auth.session_token` cookie, as a browser holds it; state-changing requests
    /// then carry `Origin` (the base URL's origin unless [`AuthClientBuilder::origin`] says
    /// otherwise), as the server's CSRF check requires.
    Cookie,
}

/// The session credential the client holds.
#[derive(Clone)]
enum Credential {
    Bearer(String),
    Cookie { name: String, value: String },
}

/// A JWT in the cache, with the session generation it was fetched under and when (by the
/// client's clock).
struct Cached {
    jwt: Jwt,
    generation: u64,
    fetched_at: i64,
}

/// What one audience's slot holds: the cached token, and the failure of the last fetch.
#[derive(Default)]
struct SlotState {
    cached: Option<Cached>,
    failure: Option<Error>,
}

/// One audience's cache slot. Its async mutex makes concurrent callers share one fetch;
/// `fetches` counts the fetches finished, so that callers who queued behind a fetch that failed
/// get its failure at once instead of each trying again in turn.
#[derive(Default)]
struct Slot {
    fetches: AtomicU64,
    state: tokio::sync::Mutex<SlotState>,
}

/// A token a callee refused is fetched anew only once it has been held this long: a token
/// refused as soon as it was fetched is refused for a reason a new one does not fix (the
/// callee's audience, issuer or keys), and refetching for every refused request would flood the
/// auth server.
const MIN_AGE_TO_REPLACE_REFUSED: i64 = 10;

#[derive(Default)]
struct State {
    credential: Option<Credential>,
    /// Bumped whenever the session changes (sign-in, sign-out, a 401): older cached tokens and
    /// fetches in flight are no longer used.
    generation: u64,
    /// Key `None`: the server's default audience.
    slots: HashMap<Option<String>, Arc<Slot>>,
}

struct Inner {
    http: reqwest::Client,
    /// Base URL and base path, without a trailing `/`: `https://auth.example.com/api/auth`.
    base: String,
    origin: String,
    jwks_path: String,
    transport: SessionTransport,
    margin: i64,
    clock: Arc<dyn Clock>,
    state: Mutex<State>,
}

/// A client of one Sigil (or Better Auth) server, holding at most one session. Cheap to clone:
/// clones share the session and the token cache.
///
/// Every method that needs a session answers [`Error::SessionGone`] when the server says there
/// is none (401), distinct from [`Error::Network`] (the server could not be reached).
#[derive(Clone)]
pub struct AuthClient {
    inner: Arc<Inner>,
}

impl fmt::Debug for AuthClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.inner.lock();
        f.debug_struct("AuthClient")
            .field("base", &self.inner.base)
            .field("transport", &self.inner.transport)
            .field("has_session", &state.credential.is_some())
            .field("session", &"<redacted>")
            .finish_non_exhaustive()
    }
}

/// Settings of an [`AuthClient`]; from [`AuthClient::builder`].
pub struct AuthClientBuilder {
    base_url: String,
    base_path: String,
    jwks_path: String,
    http: Option<reqwest::Client>,
    margin: Duration,
    clock: Arc<dyn Clock>,
    transport: SessionTransport,
    origin: Option<String>,
    session_token: Option<String>,
    allow_http: bool,
}

impl fmt::Debug for AuthClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthClientBuilder")
            .field("base_url", &self.base_url)
            .field("base_path", &self.base_path)
            .field("margin", &self.margin)
            .field("transport", &self.transport)
            .finish_non_exhaustive()
    }
}

impl AuthClientBuilder {
    /// Where the auth routes are mounted (default `/api/auth`, Better Auth's and Sigil's).
    pub fn base_path(mut self, path: impl Into<String>) -> Self {
        self.base_path = path.into();
        self
    }

    /// The key set's route under the base path (default `/jwks`; Sigil's `[jwks] path`).
    pub fn jwks_path(mut self, path: impl Into<String>) -> Self {
        self.jwks_path = path.into();
        self
    }

    /// The HTTP client to use (timeouts, proxies, TLS roots). The default follows no redirects
    /// and gives each request 30 s.
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http = Some(client);
        self
    }

    /// How long before its `exp` a cached JWT is replaced (default 60 s), so that a token handed
    /// out is still valid when the callee checks it. Capped at half a token's lifetime.
    pub fn token_margin(mut self, margin: Duration) -> Self {
        self.margin = margin;
        self
    }

    /// Where the cache reads the time (default [`SystemClock`]); tests pass a
    /// [`crate::ManualClock`].
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Bearer session token (default) or session cookie.
    pub fn session_transport(mut self, transport: SessionTransport) -> Self {
        self.transport = transport;
        self
    }

    /// The `Origin` sent with state-changing requests in cookie mode (default: the base URL's
    /// origin). Must be the server's base URL origin or one of its trusted origins.
    pub fn origin(mut self, origin: impl Into<String>) -> Self {
        self.origin = Some(origin.into());
        self
    }

    /// Starts with an existing session: the `set-auth-token` value of an earlier sign-in (sent
    /// as `Authorization: Bearer`, whatever the transport).
    pub fn session_token(mut self, token: impl Into<String>) -> Self {
        self.session_token = Some(token.into());
        self
    }

    /// Allows plain `http` to any host. By default `http` is refused except to `localhost` and
    /// loopback addresses: passwords, session tokens and JWTs travel in these requests.
    pub fn allow_insecure_http(mut self) -> Self {
        self.allow_http = true;
        self
    }

    /// The client; an error when the base URL is not an absolute http(s) URL (plain http only to
    /// a loopback host, unless allowed) or the default HTTP client cannot be built.
    pub fn build(self) -> Result<AuthClient, Error> {
        let url = url::Url::parse(&self.base_url)
            .map_err(|_| Error::Config("the base URL is not a URL".into()))?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(Error::Config("the base URL is not an http(s) URL".into()));
        }
        if url.scheme() == "http" && !self.allow_http && !is_loopback(&url) {
            return Err(Error::Config(
                "plain http to a host that is not loopback would send passwords and tokens in \
                 the clear: use https (or allow_insecure_http)"
                    .into(),
            ));
        }
        let origin = match self.origin {
            Some(o) => o,
            None => url.origin().ascii_serialization(),
        };
        HeaderValue::from_str(&origin)
            .map_err(|_| Error::Config(format!("origin {origin:?} is not a header value")))?;
        let path = self.base_path.trim_end_matches('/');
        if !(path.is_empty() || path.starts_with('/')) {
            return Err(Error::Config(format!(
                "base path {:?} must start with /",
                self.base_path
            )));
        }
        let base = format!("{}{path}", self.base_url.trim_end_matches('/'));
        let http = match self.http {
            Some(c) => c,
            None => reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(DEFAULT_TIMEOUT)
                .build()
                .map_err(|e| Error::Config(format!("HTTP client: {e}")))?,
        };
        let state = State {
            credential: self.session_token.map(Credential::Bearer),
            ..State::default()
        };
        Ok(AuthClient {
            inner: Arc::new(Inner {
                http,
                base,
                origin,
                jwks_path: self.jwks_path,
                transport: self.transport,
                margin: i64::try_from(self.margin.as_secs()).unwrap_or(i64::MAX),
                clock: self.clock,
                state: Mutex::new(state),
            }),
        })
    }
}

/// What `get-session` answered: the session and its user, and the JWT the server sent along in
/// `set-auth-jwt` (absent when the server is configured not to send it). Its `Debug` hides the
/// session token and the JWT.
#[derive(Clone)]
pub struct SessionInfo {
    /// The session and the user, as the server sent them (`session.token` is the session token:
    /// do not log it).
    pub session: SessionResponse,
    /// The `set-auth-jwt` header's token, if any.
    pub jwt: Option<Jwt>,
}

impl fmt::Debug for SessionInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionInfo")
            .field("session_id", &self.session.session.id)
            .field("expires_at", &self.session.session.expires_at)
            .field("user_id", &self.session.user.id)
            .field("jwt", &self.jwt)
            .finish_non_exhaustive()
    }
}

/// Which calls a 401 means "no session" for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum On401 {
    SessionGone,
    ServerError,
}

impl Inner {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl AuthClient {
    /// A client of the server at `base_url` (its origin, e.g. `https://auth.example.com`), routes
    /// under `/api/auth`, no session yet.
    pub fn new(base_url: impl Into<String>) -> Result<AuthClient, Error> {
        Self::builder(base_url).build()
    }

    /// Settings beyond the defaults: base path, HTTP client, refresh margin, clock, transport.
    pub fn builder(base_url: impl Into<String>) -> AuthClientBuilder {
        AuthClientBuilder {
            base_url: base_url.into(),
            base_path: "/api/auth".into(),
            jwks_path: "/jwks".into(),
            http: None,
            margin: DEFAULT_MARGIN,
            clock: Arc::new(SystemClock),
            transport: SessionTransport::default(),
            origin: None,
            session_token: None,
            allow_http: false,
        }
    }

    /// A new client with this one's settings holding an existing session: the
    /// `set-auth-token` value of an earlier sign-in (e.g. from a secret store), sent as
    /// `Authorization: Bearer`. This client (and its clones) keep their own session and cache.
    pub fn with_session_token(&self, token: impl Into<String>) -> AuthClient {
        let inner = &self.inner;
        AuthClient {
            inner: Arc::new(Inner {
                http: inner.http.clone(),
                base: inner.base.clone(),
                origin: inner.origin.clone(),
                jwks_path: inner.jwks_path.clone(),
                transport: inner.transport,
                margin: inner.margin,
                clock: inner.clock.clone(),
                state: Mutex::new(State {
                    credential: Some(Credential::Bearer(token.into())),
                    ..State::default()
                }),
            }),
        }
    }

    /// The session token held (the `set-auth-token` form, or the cookie's value in cookie
    /// mode), to store and restore with [`AuthClient::with_session_token`]. A secret: do not log
    /// it.
    pub fn session_token(&self) -> Option<String> {
        match &self.inner.lock().credential {
            Some(Credential::Bearer(token)) => Some(token.clone()),
            Some(Credential::Cookie { value, .. }) => Some(decode_cookie_value(value)),
            None => None,
        }
    }

    /// Whether the client holds a session credential (it may have expired on the server).
    pub fn has_session(&self) -> bool {
        self.inner.lock().credential.is_some()
    }

    /// `POST /sign-up/email`: creates the user and holds the new session. The request's other
    /// fields (`image`, `callback_url`, additional user fields) are sent as given.
    pub async fn sign_up(&self, request: &SignUpRequest) -> Result<SignUpResponse, Error> {
        let response = self
            .send(
                self.post("/sign-up/email").json(request),
                On401::ServerError,
            )
            .await?;
        let credential = self.credential_from(response.headers())?;
        let body = read_json(response).await?;
        self.set_session(Some(credential));
        Ok(body)
    }

    /// `POST /sign-up/email` with a name, email and password.
    pub async fn sign_up_email(
        &self,
        name: &str,
        email: &str,
        password: &str,
    ) -> Result<SignUpResponse, Error> {
        self.sign_up(&SignUpRequest {
            name: name.into(),
            email: email.into(),
            password: password.into(),
            image: None,
            callback_url: None,
            remember_me: None,
            additional: serde_json::Map::new(),
        })
        .await
    }

    /// `POST /sign-in/email`: holds the new session and drops every cached token. A wrong email
    /// or password is [`Error::Server`] with [`ErrorCode::InvalidEmailOrPassword`].
    pub async fn sign_in_email(
        &self,
        email: &str,
        password: &str,
    ) -> Result<SignInResponse, Error> {
        let request = SignInRequest {
            email: email.into(),
            password: password.into(),
            callback_url: None,
            remember_me: None,
        };
        let response = self
            .send(
                self.post("/sign-in/email").json(&request),
                On401::ServerError,
            )
            .await?;
        let credential = self.credential_from(response.headers())?;
        let body = read_json(response).await?;
        self.set_session(Some(credential));
        Ok(body)
    }

    /// `GET /get-session`: the session and user, with the `set-auth-jwt` token when the server
    /// sends one; [`Error::SessionGone`] when the server has no session for this client.
    pub async fn get_session(&self) -> Result<SessionInfo, Error> {
        let generation = self.generation();
        let response = match self
            .send(self.get("/get-session"), On401::SessionGone)
            .await
        {
            Err(Error::SessionGone) => {
                self.forget_tokens();
                return Err(Error::SessionGone);
            }
            other => other?,
        };
        let jwt = match response.headers().get("set-auth-jwt") {
            Some(v) => Some(
                v.to_str()
                    .map_err(|_| Error::Decode("set-auth-jwt is not text".into()))
                    .and_then(Jwt::parse)?,
            ),
            None => None,
        };
        self.refresh_credential(generation, response.headers());
        let body: Option<SessionResponse> = read_json(response).await?;
        match body {
            Some(session) => Ok(SessionInfo { session, jwt }),
            None => {
                self.forget_tokens();
                Err(Error::SessionGone)
            }
        }
    }

    /// `POST /sign-out`: ends the session on the server and forgets it here, with every cached
    /// token. JWTs already handed out stay valid until their `exp` (they are not revocable).
    pub async fn sign_out(&self) -> Result<(), Error> {
        let generation = self.generation();
        let result = self
            .send(
                self.post("/sign-out").json(&serde_json::json!({})),
                On401::SessionGone,
            )
            .await;
        match result {
            Ok(response) => {
                // Forgotten first: the server has ended it, whatever the body says. A sign-in
                // that finished meanwhile holds a newer session, which stays.
                self.end_session(generation);
                let body: SignOutResponse = read_json(response).await?;
                if body.success {
                    Ok(())
                } else {
                    Err(Error::Decode("sign-out answered success: false".into()))
                }
            }
            Err(Error::SessionGone) => {
                self.end_session(generation);
                Err(Error::SessionGone)
            }
            Err(e) => Err(e),
        }
    }

    /// `GET /jwks`: the server's published keys (keys this build cannot use are skipped).
    pub async fn jwks(&self) -> Result<sigil_jose::JwkSet, Error> {
        let url = format!("{}{}", self.inner.base, self.inner.jwks_path);
        let response = self
            .send(self.inner.http.get(url), On401::ServerError)
            .await?;
        let bytes = response.bytes().await?;
        sigil_jose::JwkSet::from_json_lenient(&bytes)
            .map(|(keys, _skipped)| keys)
            .map_err(|e| Error::Decode(format!("key set: {e}")))
    }

    /// A JWT for the session, with the server's default audience: the cached one while it is
    /// valid for longer than the margin, else a new one from `GET /token` (concurrent callers
    /// share that one request).
    pub async fn token(&self) -> Result<Jwt, Error> {
        self.cached_token(None, None).await
    }

    /// A JWT whose `aud` is `audience` (`GET /token?audience=…`), cached per audience like
    /// [`AuthClient::token`]. The server issues it only for audiences on its allow-list
    /// (`[jwt] allowed_audiences`); otherwise [`Error::Server`] with status 400 and code
    /// `AUDIENCE_NOT_ALLOWED`.
    pub async fn token_for(&self, audience: &str) -> Result<Jwt, Error> {
        self.cached_token(Some(audience), None).await
    }

    /// A new JWT in place of `rejected`, which a callee refused: fetched anew unless another
    /// caller already replaced it (then that replacement is answered).
    pub async fn refresh_token(
        &self,
        audience: Option<&str>,
        rejected: &Jwt,
    ) -> Result<Jwt, Error> {
        self.cached_token(audience, Some(rejected.as_str())).await
    }

    /// Drops every cached JWT (the session is kept): the next `token()` fetches anew.
    pub fn clear_token_cache(&self) {
        self.forget_tokens();
    }

    /// A middleware adding `Authorization: Bearer <token()>` to outgoing requests (see
    /// [`crate::BearerMiddleware`]).
    pub fn middleware(&self) -> crate::BearerMiddleware {
        crate::BearerMiddleware::new(self.clone())
    }

    /// A middleware adding `Authorization: Bearer <token_for(audience)>`.
    pub fn middleware_for(&self, audience: impl Into<String>) -> crate::BearerMiddleware {
        crate::BearerMiddleware::for_audience(self.clone(), audience)
    }

    async fn cached_token(
        &self,
        audience: Option<&str>,
        refused: Option<&str>,
    ) -> Result<Jwt, Error> {
        let (slot, generation) = {
            let mut state = self.inner.lock();
            let generation = state.generation;
            let slot = state
                .slots
                .entry(audience.map(str::to_owned))
                .or_default()
                .clone();
            (slot, generation)
        };
        let seen = slot.fetches.load(Ordering::SeqCst);
        let mut held = slot.state.lock().await;
        // The session may have changed while this caller waited for the slot.
        let generation = generation.max(self.inner.lock().generation);
        let now = self.inner.clock.unix_seconds();
        let previous = held
            .cached
            .as_ref()
            .filter(|c| c.generation == generation)
            .map(|c| (c.jwt.clone(), c.fetched_at));
        if let Some((jwt, fetched_at)) = &previous {
            let was_refused = refused == Some(jwt.as_str());
            if !was_refused && jwt.fresh_at(now, self.inner.margin) {
                return Ok(jwt.clone());
            }
            if was_refused && now - fetched_at < MIN_AGE_TO_REPLACE_REFUSED {
                return Ok(jwt.clone());
            }
        }
        // While the server cannot be reached, a token still valid (inside the margin, not
        // refused) is better than none.
        let fallback = previous.map(|(jwt, _)| jwt).filter(|jwt| {
            refused != Some(jwt.as_str()) && jwt.expires_at().is_none_or(|exp| exp > now)
        });
        let answer_failure = |failure: &Error| match &fallback {
            Some(jwt) if failure.is_unavailable() => Ok(jwt.clone()),
            _ => Err(failure.clone()),
        };
        if slot.fetches.load(Ordering::SeqCst) != seen
            && let Some(failure) = &held.failure
        {
            return answer_failure(failure);
        }
        let fetched = self.fetch_token(audience).await;
        slot.fetches.fetch_add(1, Ordering::SeqCst);
        match fetched {
            Ok(jwt) => {
                held.failure = None;
                if self.inner.lock().generation == generation {
                    held.cached = Some(Cached {
                        jwt: jwt.clone(),
                        generation,
                        fetched_at: now,
                    });
                }
                Ok(jwt)
            }
            Err(Error::SessionGone) => {
                held.cached = None;
                held.failure = Some(Error::SessionGone);
                drop(held);
                self.forget_tokens();
                Err(Error::SessionGone)
            }
            Err(e) => {
                held.failure = Some(e.clone());
                answer_failure(&e)
            }
        }
    }

    async fn fetch_token(&self, audience: Option<&str>) -> Result<Jwt, Error> {
        let mut request = self.get("/token");
        if let Some(audience) = audience {
            request = request.query(&[("audience", audience)]);
        }
        let response = self.send(request, On401::SessionGone).await?;
        let body: TokenResponse = read_json(response).await?;
        Jwt::parse(body.token)
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.inner.base)
    }

    fn get(&self, path: &str) -> RequestBuilder {
        self.inner.http.get(self.url(path))
    }

    fn post(&self, path: &str) -> RequestBuilder {
        let request = self.inner.http.post(self.url(path));
        match self.inner.transport {
            SessionTransport::Cookie => request.header(ORIGIN, &self.inner.origin),
            SessionTransport::Bearer => request,
        }
    }

    /// Sends with the session credential; a non-2xx answer becomes an error.
    async fn send(&self, request: RequestBuilder, on_401: On401) -> Result<Response, Error> {
        let credential = self.inner.lock().credential.clone();
        let request = match credential {
            Some(Credential::Bearer(token)) => {
                let mut value = HeaderValue::from_str(&format!("Bearer {token}"))
                    .map_err(|_| Error::Config("the session token is not a header value".into()))?;
                value.set_sensitive(true);
                request.header(AUTHORIZATION, value)
            }
            Some(Credential::Cookie { name, value }) => {
                let mut value =
                    HeaderValue::from_str(&format!("{name}={value}")).map_err(|_| {
                        Error::Config("the session cookie is not a header value".into())
                    })?;
                value.set_sensitive(true);
                request.header(COOKIE, value)
            }
            None => request,
        };
        let response = request.send().await?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let bytes = response.bytes().await.unwrap_or_default();
        let body = serde_json::from_slice::<ErrorBody>(&bytes).ok();
        let code = body.as_ref().and_then(|b| ErrorCode::from_name(&b.code));
        if status == StatusCode::UNAUTHORIZED
            && on_401 == On401::SessionGone
            && matches!(code, None | Some(ErrorCode::Unauthorized))
        {
            return Err(Error::SessionGone);
        }
        Err(match body {
            Some(body) => Error::Server {
                status: status.as_u16(),
                code,
                raw_code: Some(body.code),
                message: body.message,
            },
            None => Error::Server {
                status: status.as_u16(),
                code: None,
                raw_code: None,
                message: status
                    .canonical_reason()
                    .unwrap_or("no error body")
                    .to_owned(),
            },
        })
    }

    /// The session credential of a sign-in or sign-up answer.
    fn credential_from(&self, headers: &HeaderMap) -> Result<Credential, Error> {
        match self.inner.transport {
            SessionTransport::Bearer => headers
                .get("set-auth-token")
                .and_then(|v| v.to_str().ok())
                .filter(|v| !v.is_empty())
                .map(|v| Credential::Bearer(v.to_owned()))
                .ok_or_else(|| Error::Decode("no set-auth-token header in the answer".into())),
            SessionTransport::Cookie => session_cookie(headers)
                .and_then(|(name, value)| value.map(|value| Credential::Cookie { name, value }))
                .ok_or_else(|| Error::Decode("no session cookie in the answer".into())),
        }
    }

    /// Takes a refreshed or expired session cookie (cookie mode) from an answer to a request
    /// sent under session `generation`; ignored when the session changed meanwhile.
    fn refresh_credential(&self, generation: u64, headers: &HeaderMap) {
        if self.inner.transport != SessionTransport::Cookie {
            return;
        }
        let Some((name, value)) = session_cookie(headers) else {
            return;
        };
        let mut state = self.inner.lock();
        if state.generation != generation {
            return;
        }
        match value {
            // The same session, its cookie refreshed: the cached tokens stay good.
            Some(value) => state.credential = Some(Credential::Cookie { name, value }),
            None => {
                state.credential = None;
                state.generation += 1;
                state.slots.clear();
            }
        }
    }

    /// The current session generation.
    fn generation(&self) -> u64 {
        self.inner.lock().generation
    }

    /// Forgets the session (and every cached token) if it is still the one of `generation`.
    fn end_session(&self, generation: u64) {
        let mut state = self.inner.lock();
        if state.generation == generation {
            state.credential = None;
            state.generation += 1;
            state.slots.clear();
        }
    }

    /// Replaces the session and drops every cached token.
    fn set_session(&self, credential: Option<Credential>) {
        let mut state = self.inner.lock();
        state.credential = credential;
        state.generation += 1;
        state.slots.clear();
    }

    fn forget_tokens(&self) {
        let mut state = self.inner.lock();
        state.generation += 1;
        state.slots.clear();
    }
}

/// `localhost` and loopback addresses.
fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// The session cookie in `Set-Cookie` headers: its name and its value, `None` when the cookie is
/// being deleted (empty, or `Max-Age=0`).
fn session_cookie(headers: &HeaderMap) -> Option<(String, Option<String>)> {
    headers
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|cookie| {
            let mut attributes = cookie.split(';');
            let (name, value) = attributes.next()?.trim().split_once('=')?;
            if !(name == SESSION_COOKIE || name == format!("__Secure-{SESSION_COOKIE}")) {
                return None;
            }
            let deleted =
                value.is_empty() || attributes.any(|a| a.trim().eq_ignore_ascii_case("max-age=0"));
            Some((name.to_owned(), (!deleted).then(|| value.to_owned())))
        })
}

/// A cookie value as the server URL-encodes it, decoded to the `set-auth-token` form.
fn decode_cookie_value(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && let (Some(h), Some(l)) = (
                bytes.get(i + 1).copied().and_then(hex),
                bytes.get(i + 2).copied().and_then(hex),
            )
        {
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

async fn read_json<T: DeserializeOwned>(response: Response) -> Result<T, Error> {
    let bytes = response.bytes().await?;
    serde_json::from_slice(&bytes).map_err(|e| Error::Decode(format!("response body: {e}")))
}
