//! The `/api/auth` routes: sign-up, sign-in, get-session, sign-out, ok.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State as AxumState};
use axum::http::header::{AUTHORIZATION, CACHE_CONTROL, COOKIE, SET_COOKIE, USER_AGENT};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Duration, Utc};
use sigil_proto::{
    ErrorCode, OkResponse, SessionResponse, SessionView, SignInRequest, SignInResponse,
    SignOutResponse, SignUpRequest, SignUpResponse, UserView,
};

use crate::cookies::{CookieSigner, DONT_REMEMBER, SESSION_TOKEN};
use crate::error::ApiError;
use crate::guard::{self, RateLimiter, TrustedOrigins};
use crate::keys::{KeyError, KeyManager};
use crate::store::{Session, Store, User};
use crate::time::Clock;
use crate::time::iso;
use crate::{Config, ids, password};

/// Session lifetime (Better Auth's `session.expiresIn`).
const SESSION_DAYS: i64 = 7;
/// Lifetime when the user chose not to be remembered.
const SHORT_SESSION_DAYS: i64 = 1;
/// How old a session gets before its expiry slides (Better Auth's `updateAge`).
const UPDATE_AGE_DAYS: i64 = 1;

/// The claims hooks of session tokens.
#[derive(Clone, Default)]
pub(crate) struct Hooks {
    pub(crate) payload: Option<crate::tokens::PayloadHook>,
    pub(crate) subject: Option<crate::tokens::SubjectHook>,
}

pub(crate) struct State {
    hooks: Hooks,
    pub(crate) config: Config,
    pub(crate) store: Store,
    cookies: CookieSigner,
    trusted: TrustedOrigins,
    limiter: RateLimiter,
    clock: Clock,
    /// Bounds concurrent scrypt runs (32 MiB each) to the number of cores.
    hashing: tokio::sync::Semaphore,
    pub(crate) keys: Arc<KeyManager>,
    /// `set-auth-jwt` headers left out because no token could be signed.
    pub(crate) jwt_header_failures: std::sync::atomic::AtomicU64,
}

impl State {
    pub(crate) fn new(
        config: Config,
        store: Store,
        clock: Clock,
        keys: Arc<KeyManager>,
        hooks: Hooks,
    ) -> Self {
        State {
            hooks,
            keys,
            jwt_header_failures: std::sync::atomic::AtomicU64::new(0),
            cookies: CookieSigner::new(&config.secret, config.secure_cookies()),
            trusted: TrustedOrigins::new(&config.origin, &config.trusted_origins),
            limiter: RateLimiter::default(),
            hashing: tokio::sync::Semaphore::new(
                std::thread::available_parallelism().map_or(2, |n| n.get().max(2)),
            ),
            config,
            store,
            clock,
        }
    }

    pub(crate) fn now(&self) -> DateTime<Utc> {
        (self.clock)()
    }
}

type Shared = Arc<State>;

pub(crate) fn router(state: Shared) -> Router {
    Router::new()
        .route("/sign-up/email", post(sign_up))
        .route("/sign-in/email", post(sign_in))
        .route(
            "/get-session",
            get(get_session)
                .post(|| async { ApiError::new(ErrorCode::MethodNotAllowedDeferSessionRequired) }),
        )
        .route("/sign-out", post(sign_out))
        .route("/ok", get(ok))
        .route("/token", get(token))
        .route(&state.config.tokens.jwks_path, get(jwks))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(state.clone(), guards))
        .layer(cors(&state.trusted))
        .with_state(state)
}

/// CORS for the trusted origins, with credentials: browsers on those origins may call the API
/// with cookies.
fn cors(trusted: &TrustedOrigins) -> tower_http::cors::CorsLayer {
    use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
    use tower_http::cors::{AllowOrigin, CorsLayer};
    let trusted = trusted.clone();
    CorsLayer::new()
        .allow_origin(AllowOrigin::predicate(move |origin, _| {
            origin.to_str().is_ok_and(|o| trusted.allows(o))
        }))
        .allow_credentials(true)
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([CONTENT_TYPE, AUTHORIZATION])
        // `Access-Control-Expose-Headers` is merged by the handlers that set the exposed
        // headers, so that the layer does not overwrite it.
        .max_age(std::time::Duration::from_secs(600))
}

/// Origin/CSRF checks and rate limits, before any handler.
async fn guards(AxumState(state): AxumState<Shared>, request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    let login = path.starts_with("/sign-in") || path.starts_with("/sign-up");
    if let Err(e) = guard::check_origin(request.method(), request.headers(), &state.trusted, login)
    {
        return e.into_response();
    }
    // The key set and the health check are served from memory; limiting them protects nothing.
    let exempt = path == "/ok" || path == state.config.tokens.jwks_path;
    if state.config.rate_limit && !exempt {
        let peer = request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0);
        let ip = guard::client_ip(peer, request.headers(), &state.config.trusted_proxies);
        if let Err(retry) = state.limiter.check(ip, &path, std::time::Instant::now()) {
            let value = HeaderValue::from(retry);
            return ApiError::new(ErrorCode::TooManyRequests)
                .header(axum::http::HeaderName::from_static("x-retry-after"), value)
                .into_response();
        }
    }
    next.run(request).await
}

async fn not_found() -> ApiError {
    ErrorCode::NotFound.into()
}

async fn method_not_allowed() -> ApiError {
    ErrorCode::MethodNotAllowed.into()
}

async fn ok() -> Json<OkResponse> {
    Json(OkResponse { ok: true })
}

/// The public user object with its additional fields (one query, only when fields are declared).
async fn full_user_view(state: &State, user: &User) -> Result<UserView, ApiError> {
    let mut view = user_view(user);
    view.additional = state
        .store
        .user_fields(&user.id, &state.config.user_fields)
        .await?;
    Ok(view)
}

fn user_view(user: &User) -> UserView {
    UserView {
        id: user.id.clone(),
        name: user.name.clone(),
        email: user.email.clone(),
        email_verified: user.email_verified,
        image: user.image.clone(),
        created_at: iso(user.created_at),
        updated_at: iso(user.updated_at),
        additional: Default::default(),
    }
}

fn session_view(session: &Session) -> SessionView {
    SessionView {
        id: session.id.clone(),
        expires_at: iso(session.expires_at),
        token: session.token.clone(),
        created_at: iso(session.created_at),
        updated_at: iso(session.updated_at),
        ip_address: session.ip_address.clone(),
        user_agent: session.user_agent.clone(),
        user_id: session.user_id.clone(),
    }
}

/// Better Auth's email check: one `@`, a non-empty local part, a dotted domain, no spaces.
fn valid_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
}

fn check_password_length(password: &str, sign_up: bool) -> Result<(), ApiError> {
    // Better Auth counts JavaScript string length: UTF-16 code units.
    let len = password.encode_utf16().count();
    if sign_up && len < password::MIN_LENGTH {
        return Err(ErrorCode::PasswordTooShort.into());
    }
    if len > password::MAX_LENGTH {
        return Err(ErrorCode::PasswordTooLong.into());
    }
    Ok(())
}

/// A `callbackURL` must be relative or on a trusted origin (no open redirects).
fn check_callback(state: &State, url: Option<&str>) -> Result<(), ApiError> {
    match url {
        Some(url) if !state.trusted.allows_callback(url) => {
            Err(ErrorCode::InvalidCallbackUrl.into())
        }
        _ => Ok(()),
    }
}

fn header_text(headers: &HeaderMap, name: axum::http::HeaderName) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

fn new_session(
    state: &State,
    user_id: &str,
    remember: bool,
    headers: &HeaderMap,
    peer: Option<SocketAddr>,
) -> Session {
    let now = state.now();
    let days = if remember {
        SESSION_DAYS
    } else {
        SHORT_SESSION_DAYS
    };
    let ip = guard::client_ip(peer, headers, &state.config.trusted_proxies)
        .map(|ip| ip.to_string())
        .unwrap_or_default();
    Session {
        id: ids::new_id(),
        token: ids::new_id(),
        user_id: user_id.to_owned(),
        expires_at: now + Duration::days(days),
        created_at: now,
        updated_at: now,
        ip_address: Some(ip),
        user_agent: Some(header_text(headers, USER_AGENT).unwrap_or_default()),
    }
}

/// Session cookies (and `set-auth-token` for bearer clients) for a new or refreshed session.
fn session_headers(state: &State, response: &mut Response, token: &str, remember: bool) {
    let headers = response.headers_mut();
    let max_age = remember.then_some(SESSION_DAYS * 86_400);
    let cookie = state.cookies.set_cookie(SESSION_TOKEN, token, max_age);
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        headers.append(SET_COOKIE, v);
    }
    if !remember {
        let flag = state.cookies.set_cookie(DONT_REMEMBER, "true", None);
        if let Ok(v) = HeaderValue::from_str(&flag) {
            headers.append(SET_COOKIE, v);
        }
    }
    if let Ok(v) = HeaderValue::from_str(&state.cookies.sign(token)) {
        headers.insert("set-auth-token", v);
        guard::expose_header(headers, "set-auth-token");
    }
}

fn expire_session_cookies(state: &State, headers: &mut HeaderMap) {
    for name in [SESSION_TOKEN, DONT_REMEMBER] {
        if let Ok(v) = HeaderValue::from_str(&state.cookies.expire_cookie(name)) {
            headers.append(SET_COOKIE, v);
        }
    }
}

/// Waits (at most the database timeout) for a hashing slot, so that a flood of sign-ins queues
/// instead of running hundreds of 32 MiB scrypt instances at once.
async fn hashing_slot(state: &State) -> Result<tokio::sync::SemaphorePermit<'_>, ApiError> {
    match tokio::time::timeout(state.config.database_timeout, state.hashing.acquire()).await {
        Ok(Ok(permit)) => Ok(permit),
        _ => Err(ErrorCode::ServerBusy.into()),
    }
}

async fn hash_password(state: &State, password: String) -> Result<String, ApiError> {
    let _slot = hashing_slot(state).await?;
    tokio::task::spawn_blocking(move || password::hash(&password))
        .await
        .ok()
        .flatten()
        .ok_or_else(|| {
            tracing::error!("password hashing failed");
            ApiError::new(ErrorCode::InternalError)
        })
}

async fn verify_password(state: &State, password: String, hash: String) -> Result<bool, ApiError> {
    let _slot = hashing_slot(state).await?;
    Ok(
        tokio::task::spawn_blocking(move || password::verify(&password, &hash))
            .await
            .unwrap_or(false),
    )
}

/// The body, client address and headers of a sign-up or sign-in request.
async fn credentials_request<T: serde::de::DeserializeOwned>(
    state: &State,
    request: Request,
) -> Result<(T, Option<SocketAddr>, HeaderMap), ApiError> {
    let (parts, body) = request.into_parts();
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    let body = guard::read_body(&parts.headers, body, state.config.max_body_bytes).await?;
    Ok((body, peer, parts.headers))
}

/// The checks sign-up and sign-in share: a valid email (returned lowercased), a password of
/// acceptable length (the minimum only at sign-up), a safe callbackURL.
fn checked_credentials(
    state: &State,
    email: &str,
    password: &str,
    callback_url: Option<&str>,
    sign_up: bool,
) -> Result<String, ApiError> {
    let email = email.trim().to_lowercase();
    if !valid_email(&email) {
        return Err(ErrorCode::InvalidEmail.into());
    }
    check_password_length(password, sign_up)?;
    check_callback(state, callback_url)?;
    Ok(email)
}

async fn sign_up(
    AxumState(state): AxumState<Shared>,
    request: Request,
) -> Result<Response, ApiError> {
    let (req, peer, headers): (SignUpRequest, _, _) = credentials_request(&state, request).await?;
    let email = checked_credentials(
        &state,
        &req.email,
        &req.password,
        req.callback_url.as_deref(),
        true,
    )?;
    let hash = hash_password(&state, req.password).await?;
    let now = state.now();
    let user = User {
        id: ids::new_id(),
        name: req.name,
        email,
        email_verified: false,
        image: req.image,
        created_at: now,
        updated_at: now,
    };
    let remember = req.remember_me.unwrap_or(true);
    let session = new_session(&state, &user.id, remember, &headers, peer);
    state.store.create_user(&user, &hash, &session).await?;
    tracing::info!(user = %user.id, "user signed up");
    let body = SignUpResponse {
        token: Some(session.token.clone()),
        user: full_user_view(&state, &user).await?,
    };
    let mut response = Json(body).into_response();
    session_headers(&state, &mut response, &session.token, remember);
    Ok(response)
}

async fn sign_in(
    AxumState(state): AxumState<Shared>,
    request: Request,
) -> Result<Response, ApiError> {
    let (req, peer, headers): (SignInRequest, _, _) = credentials_request(&state, request).await?;
    let email = checked_credentials(
        &state,
        &req.email,
        &req.password,
        req.callback_url.as_deref(),
        false,
    )?;
    let found = state.store.user_with_password(&email).await?;
    // Unknown users and users without a password cost the same scrypt run as a wrong password.
    let (user, hash) = match found {
        Some((user, Some(hash))) => (Some(user), hash),
        _ => (None, password::DUMMY_HASH.to_owned()),
    };
    let matches = verify_password(&state, req.password, hash).await?;
    let user = match (user, matches) {
        (Some(user), true) => user,
        _ => return Err(ErrorCode::InvalidEmailOrPassword.into()),
    };
    let remember = req.remember_me.unwrap_or(true);
    let session = new_session(&state, &user.id, remember, &headers, peer);
    state.store.insert_session(&session).await?;
    let location = req
        .callback_url
        .as_deref()
        .and_then(|u| HeaderValue::from_str(u).ok());
    let body = SignInResponse {
        redirect: req.callback_url.is_some(),
        token: session.token.clone(),
        url: req.callback_url,
        user: full_user_view(&state, &user).await?,
    };
    let mut response = Json(body).into_response();
    if let Some(location) = location {
        response
            .headers_mut()
            .insert(axum::http::header::LOCATION, location);
    }
    session_headers(&state, &mut response, &session.token, remember);
    Ok(response)
}

/// The session token a request carries: a valid `Authorization: Bearer`, else the signed cookie.
/// Also says whether a session cookie was presented (so that a dead one can be cleared).
fn presented_token(state: &State, headers: &HeaderMap) -> (Option<String>, bool) {
    let bearer = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| state.cookies.session_from_authorization(v));
    let cookie_header = header_text(headers, COOKIE).unwrap_or_default();
    let cookie = state.cookies.session_from_cookie_header(&cookie_header);
    let had_cookie = cookie.is_some();
    (bearer.or(cookie), had_cookie)
}

fn no_store(response: &mut Response) {
    let headers = response.headers_mut();
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert("pragma", HeaderValue::from_static("no-cache"));
}

/// `GET /get-session` query: Better Auth's `disableRefresh` (and `disableCookieCache`, which has
/// nothing to disable here), as booleans or their text forms.
#[derive(serde::Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct SessionQuery {
    #[serde(default)]
    disable_refresh: Option<String>,
    #[serde(default)]
    #[allow(dead_code)]
    disable_cookie_cache: Option<String>,
}

async fn get_session(
    AxumState(state): AxumState<Shared>,
    query: Result<axum::extract::Query<SessionQuery>, axum::extract::rejection::QueryRejection>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let query = query
        .map(|q| q.0)
        .map_err(|e| ApiError::with_message(ErrorCode::ValidationError, e.body_text()))?;
    let disable_refresh = match query.disable_refresh.as_deref() {
        None | Some("false") | Some("0") => false,
        Some("true") | Some("1") | Some("") => true,
        Some(other) => {
            return Err(ApiError::with_message(
                ErrorCode::ValidationError,
                format!("disableRefresh must be a boolean, not {other:?}"),
            ));
        }
    };
    let (token, had_cookie) = presented_token(&state, &headers);
    let null = |clear: bool| {
        let mut response = Json(serde_json::Value::Null).into_response();
        no_store(&mut response);
        if clear {
            expire_session_cookies(&state, response.headers_mut());
        }
        response
    };
    let Some(token) = token else {
        return Ok(null(false));
    };
    let Some((mut session, user)) = state.store.session_with_user(&token).await? else {
        return Ok(null(had_cookie));
    };
    let now = state.now();
    if session.expires_at <= now {
        // The session is over either way; a failed cleanup is only logged.
        if let Err(e) = state.store.delete_session(&token).await {
            tracing::warn!(error = %e, "could not delete an expired session");
        }
        return Ok(null(had_cookie));
    }
    // A "don't remember me" session never slides: the signed cookie says so, and so does its
    // one-day lifetime when it arrives as a bearer token without cookies.
    let cookie_header = header_text(&headers, COOKIE).unwrap_or_default();
    let remembered = !state.cookies.dont_remember(&cookie_header)
        && session.expires_at - session.created_at > Duration::days(SHORT_SESSION_DAYS);
    let refresh_due =
        session.expires_at - Duration::days(SESSION_DAYS) + Duration::days(UPDATE_AGE_DAYS) <= now;
    let refreshed = remembered && refresh_due && !disable_refresh;
    if refreshed {
        session.expires_at = now + Duration::days(SESSION_DAYS);
        session.updated_at = now;
        state
            .store
            .refresh_session(&session.id, session.expires_at, now)
            .await?;
    }
    let jwt = if state.config.tokens.set_jwt_header {
        match issue_token(&state, &user, &session).await {
            Ok(jwt) => HeaderValue::from_str(&jwt).ok(),
            Err(e) => {
                // A key problem never turns get-session into an error: the header is left out.
                state
                    .jwt_header_failures
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                tracing::error!(error = %e, "set-auth-jwt left out: no token could be signed");
                None
            }
        }
    } else {
        None
    };
    let user_json = full_user_view(&state, &user).await?;
    let mut response = Json(SessionResponse {
        session: session_view(&session),
        user: user_json,
    })
    .into_response();
    no_store(&mut response);
    if let Some(jwt) = jwt {
        response.headers_mut().insert("set-auth-jwt", jwt);
        guard::expose_header(response.headers_mut(), "set-auth-jwt");
    }
    if refreshed {
        session_headers(&state, &mut response, &session.token, true);
    }
    Ok(response)
}

async fn sign_out(
    AxumState(state): AxumState<Shared>,
    method: Method,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    debug_assert_eq!(method, Method::POST);
    // The body is optional ({callbackURL?, ...}); it must still be well-formed if present.
    let body: serde_json::Map<String, serde_json::Value> =
        guard::read_body(&headers, body, state.config.max_body_bytes).await?;
    check_callback(&state, body.get("callbackURL").and_then(|v| v.as_str()))?;
    let (token, _) = presented_token(&state, &headers);
    if let Some(token) = token {
        // As Better Auth: the cookies are cleared and the answer is success even if the row
        // could not be deleted (the failure is logged; the session then lapses at its expiry).
        if let Err(e) = state.store.delete_session(&token).await {
            tracing::warn!(error = %e, "sign-out could not delete the session row");
        }
    }
    let mut response = (StatusCode::OK, Json(SignOutResponse { success: true })).into_response();
    expire_session_cookies(&state, response.headers_mut());
    Ok(response)
}

async fn issue_token(state: &State, user: &User, session: &Session) -> Result<String, KeyError> {
    let tokens = &state.config.tokens;
    let payload = match &state.hooks.payload {
        Some(hook) => hook(user.clone(), session.clone()).await,
        None => {
            let additional = state
                .store
                .user_fields(&user.id, &state.config.user_fields)
                .await?;
            if tokens.claims.is_empty() && tokens.static_claims.is_empty() {
                let mut payload = crate::tokens::default_payload(user);
                payload.extend(additional);
                payload
            } else {
                crate::tokens::mapped_payload(tokens, user, session, &additional)
            }
        }
    };
    let subject = match &state.hooks.subject {
        Some(hook) => hook(user.clone(), session.clone()).await,
        None => None,
    }
    .unwrap_or_else(|| user.id.clone());
    let claims = crate::tokens::session_claims(payload, subject, &state.config.tokens, state.now());
    // Taken last, after every await above, so that a key revoked meanwhile is not used.
    let key = state.keys.signing_key().await?;
    sigil_jose::sign_jwt(&key.pair, &claims).map_err(|e| KeyError::Generation(e.to_string()))
}

fn key_error(e: KeyError) -> ApiError {
    match e {
        KeyError::Store(store) => store.into(),
        other => {
            tracing::error!(error = %other, "no usable signing key");
            ApiError::new(ErrorCode::SigningKeyUnavailable)
        }
    }
}

/// `GET /token`: a JWT for the session. A JWT is never accepted as a session credential here.
async fn token(
    AxumState(state): AxumState<Shared>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (token, _) = presented_token(&state, &headers);
    let token = token.ok_or(ErrorCode::Unauthorized)?;
    let (session, user) = state
        .store
        .session_with_user(&token)
        .await?
        .ok_or(ErrorCode::Unauthorized)?;
    if session.expires_at <= state.now() {
        return Err(ErrorCode::Unauthorized.into());
    }
    let jwt = issue_token(&state, &user, &session)
        .await
        .map_err(key_error)?;
    let mut response = Json(sigil_proto::TokenResponse { token: jwt }).into_response();
    no_store(&mut response);
    Ok(response)
}

/// `GET /jwks`: the published keys, from memory, with `Cache-Control` bounded by the next key
/// change and a strong `ETag`.
async fn jwks(
    AxumState(state): AxumState<Shared>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let doc = match state.keys.cached_jwks() {
        Some(doc) => doc,
        None => state.keys.jwks().await.map_err(key_error)?,
    };
    let max_age = state.keys.cache_max_age(&doc).as_secs();
    let cache = HeaderValue::from_str(&format!("public, max-age={max_age}"))
        .unwrap_or_else(|_| HeaderValue::from_static("no-cache"));
    let etag =
        HeaderValue::from_str(&doc.etag).unwrap_or_else(|_| HeaderValue::from_static("\"\""));
    let matches = headers
        .get(axum::http::header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|t| t.trim() == doc.etag || t.trim() == "*")
        });
    let mut response = if matches {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        (
            [(
                axum::http::header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            doc.body.clone(),
        )
            .into_response()
    };
    response.headers_mut().insert(CACHE_CONTROL, cache);
    response
        .headers_mut()
        .insert(axum::http::header::ETAG, etag);
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        for ok in ["a@b.co", "first.last+tag@sub.example.com"] {
            assert!(valid_email(ok), "{ok}");
        }
        for bad in [
            "", "a", "a@b", "@b.co", "a@.co", "a@b.", "a b@c.co", "a@b..co", "a@b@c.co",
        ] {
            assert!(!valid_email(bad), "{bad}");
        }
    }
}
