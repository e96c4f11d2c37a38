//! Sessions: sign-up and sign-in with email and password, get-session (with the sliding refresh
//! and `set-auth-jwt`), sign-out.

use axum::Json;
use axum::extract::{FromRequestParts, State};
use axum::http::header::{CONTENT_TYPE, LOCATION, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};
use sigil_proto::{
    ErrorBody, ErrorCode, SessionResponse, SignInRequest, SignInResponse, SignOutResponse,
    SignUpRequest, SignUpResponse,
};

use super::no_store;
use crate::cookies::{DONT_REMEMBER, SESSION_TOKEN};
use crate::error::ApiError;
use crate::extract::{ClientIp, JsonOrForm, Presented, UserAgent};
use crate::guard;
use crate::report::Chain;
use crate::sessions::{SESSION_DAYS, new_session};
use crate::state::{AppState, SharedState};
use crate::store::User;
use crate::views::session_view;
use crate::{ids, password};

/// Better Auth's email rule: the pattern of zod 4's `z.email()`, which is ASCII only. The local
/// part is `[A-Za-z0-9_'+.-]`, not starting with `.` and ending in `[A-Za-z0-9_+-]`; the domain is
/// one or more labels of `[A-Za-z0-9-]` that start with a letter or digit, then a top-level label
/// of two or more letters; nowhere two dots in a row. Sigil adds a cap of 254 bytes (RFC 5321).
fn valid_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    let Some((labels, tld)) = domain.rsplit_once('.') else {
        return false;
    };
    let local_ok = !local.starts_with('.')
        && local
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_'+-.".contains(&b))
        && local
            .bytes()
            .last()
            .is_some_and(|b| b.is_ascii_alphanumeric() || b"_+-".contains(&b));
    let labels_ok = labels.split('.').all(|label| {
        label
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric())
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    });
    let tld_ok = tld.len() >= 2 && tld.bytes().all(|b| b.is_ascii_alphabetic());
    email.len() <= 254 && !email.contains("..") && local_ok && labels_ok && tld_ok
}

/// The looser shape sign-up accepted before Better Auth's rule was adopted (one `@`, a dotted
/// domain, no spaces): sign-in still takes it, so that no existing account is locked out.
fn earlier_email_shape(email: &str) -> bool {
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

/// Characters no sign-up text field may hold: controls (C0, DEL, C1), zero-width characters
/// (U+200B–U+200D, U+2060, U+FEFF) and bidirectional marks and controls (U+200E, U+200F, U+061C,
/// U+202A–U+202E, U+2066–U+2069). They hide text or reorder it, so that one name or link can pass
/// for another.
fn is_deceptive(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{200B}'..='\u{200F}'
                | '\u{2060}'
                | '\u{FEFF}'
                | '\u{061C}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2066}'..='\u{2069}'
        )
}

/// A 400 `VALIDATION_ERROR` that names what is wrong with a field.
fn invalid_field(message: String) -> ApiError {
    ApiError::with_message(ErrorCode::ValidationError, message)
}

/// A sign-up text field: no [deceptive](is_deceptive) characters, at most `max` characters.
fn check_text(field: &str, value: &str, max: usize) -> Result<(), ApiError> {
    if value.chars().any(is_deceptive) {
        return Err(invalid_field(format!(
            "{field} must not contain control, zero-width or bidirectional characters"
        )));
    }
    if value.chars().nth(max).is_some() {
        return Err(invalid_field(format!(
            "{field} must be at most {max} characters"
        )));
    }
    Ok(())
}

/// The sign-up `image`: an absolute `http:` or `https:` URL of at most `max` characters, kept as
/// sent. Anything else (`javascript:`, `data:`, relative, …) is refused: an avatar is shown from a
/// URL, and a `data:` URL would put the picture itself, unchecked, into every session token. An
/// empty string is taken as no image.
fn checked_image(image: Option<String>, max: usize) -> Result<Option<String>, ApiError> {
    let Some(image) = image.filter(|i| !i.is_empty()) else {
        return Ok(None);
    };
    check_text("image", &image, max)?;
    let web = image.trim() == image
        && url::Url::parse(&image)
            .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some());
    if !web {
        return Err(invalid_field(
            "image must be an absolute http or https URL".to_owned(),
        ));
    }
    Ok(Some(image))
}

/// A `callbackURL` must be relative or on a trusted origin (no open redirects).
fn check_callback(state: &AppState, url: Option<&str>) -> Result<(), ApiError> {
    match url {
        Some(url) if !state.trusted.allows_callback(url) => {
            Err(ErrorCode::InvalidCallbackUrl.into())
        }
        _ => Ok(()),
    }
}

/// The checks sign-up and sign-in share: a valid email (trimmed, checked as sent and returned
/// lowercased: Better Auth too checks before it lowercases), a password of acceptable length (the
/// minimum only at sign-up; Better Auth counts UTF-16 code units), a safe callbackURL.
fn checked_credentials(
    state: &AppState,
    email: &str,
    password: &str,
    callback_url: Option<&str>,
    sign_up: bool,
) -> Result<String, ApiError> {
    let email = email.trim();
    let email = if valid_email(email) {
        email.to_ascii_lowercase()
    } else if !sign_up && earlier_email_shape(email) && !email.chars().any(is_deceptive) {
        // Accounts made before the stricter rule (`josé@…`, `a.@b.co`) can still sign in.
        email.to_lowercase()
    } else {
        return Err(ErrorCode::InvalidEmail.into());
    };
    let len = password.encode_utf16().count();
    if sign_up && len < password::MIN_LENGTH {
        return Err(ErrorCode::PasswordTooShort.into());
    }
    if len > password::MAX_LENGTH {
        return Err(ErrorCode::PasswordTooLong.into());
    }
    check_callback(state, callback_url)?;
    Ok(email)
}

/// Session cookies (and `set-auth-token` for bearer clients) for a new or refreshed session.
fn set_session_headers(state: &AppState, response: &mut Response, token: &str, remember: bool) {
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

fn expire_session_cookies(state: &AppState, headers: &mut HeaderMap) {
    for name in [SESSION_TOKEN, DONT_REMEMBER] {
        if let Ok(v) = HeaderValue::from_str(&state.cookies.expire_cookie(name)) {
            headers.append(SET_COOKIE, v);
        }
    }
}

/// `POST /sign-up/email`: a user, its credential account and a first session, in one write. The
/// name and image are checked first: bounded, no hidden or reordering characters, and the image an
/// http(s) URL. (Additional fields in the body are not taken at sign-up, so need no check.)
#[utoipa::path(
    post,
    path = "/sign-up/email",
    tag = "session",
    request_body(content(
        (SignUpRequest = "application/json"),
        (SignUpRequest = "application/x-www-form-urlencoded"),
    ), description = "Unknown members are additional user fields"),
    responses(
        (status = 200, description = "Signed up and signed in", body = SignUpResponse,
            headers(
                ("set-cookie" = String, description = "The session cookie (and, with `rememberMe: false`, the dont-remember cookie)"),
                ("set-auth-token" = String, description = "The session token, for `Authorization: Bearer`"),
            )),
        (status = 400, description = "`VALIDATION_ERROR`, `INVALID_EMAIL`, `PASSWORD_TOO_SHORT` or `PASSWORD_TOO_LONG`", body = ErrorBody),
        (status = 403, description = "`INVALID_ORIGIN`, `MISSING_OR_NULL_ORIGIN`, `CROSS_SITE_NAVIGATION_LOGIN_BLOCKED` or `INVALID_CALLBACK_URL`", body = ErrorBody),
        (status = 413, description = "`PAYLOAD_TOO_LARGE`", body = ErrorBody),
        (status = 415, description = "`UNSUPPORTED_MEDIA_TYPE`", body = ErrorBody),
        (status = 422, description = "`USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL`", body = ErrorBody),
        (status = 429, description = "`TOO_MANY_REQUESTS`: rate limited", body = ErrorBody,
            headers(("x-retry-after" = u64, description = "Seconds until a retry may succeed"))),
        (status = 500, description = "`INTERNAL_SERVER_ERROR`", body = ErrorBody),
        (status = 503, description = "`DATABASE_UNAVAILABLE` or `SERVER_BUSY`: retry shortly", body = ErrorBody),
    )
)]
pub(super) async fn sign_up(
    state: State<SharedState>,
    ip: ClientIp,
    agent: UserAgent,
    req: JsonOrForm<SignUpRequest>,
) -> Result<Response, ApiError> {
    counted(
        create_user(state, ip, agent, req).await,
        crate::telemetry::sign_up,
    )
}

/// Counts what a sign-up or sign-in came to (`ok` or the error code, with `record`) and the
/// session it opened.
fn counted(
    answer: Result<Response, ApiError>,
    record: fn(&'static str),
) -> Result<Response, ApiError> {
    match &answer {
        Ok(_) => {
            record("ok");
            crate::telemetry::session_created();
        }
        Err(e) => record(e.code().as_str()),
    }
    answer
}

async fn create_user(
    State(state): State<SharedState>,
    ClientIp(ip): ClientIp,
    UserAgent(agent): UserAgent,
    JsonOrForm(req): JsonOrForm<SignUpRequest>,
) -> Result<Response, ApiError> {
    let email = checked_credentials(
        &state,
        &req.email,
        &req.password,
        req.callback_url.as_deref(),
        true,
    )?;
    check_text("name", &req.name, state.config.max_name_length)?;
    let image = checked_image(req.image, state.config.max_image_url_length)?;
    let hash = state.hasher.hash(req.password).await?;
    let now = state.now();
    let user = User {
        id: ids::new_id(),
        name: req.name,
        email,
        email_verified: false,
        image,
        created_at: now,
        updated_at: now,
    };
    let remember = req.remember_me.unwrap_or(true);
    let session = new_session(&user.id, remember, ip, agent.as_deref(), now);
    state.store.create_user(&user, &hash, &session).await?;
    tracing::info!(user = %user.id, "user signed up");
    let body = SignUpResponse {
        token: Some(session.token.clone()),
        user: state.sessions.public_user(&user).await?,
    };
    let mut response = Json(body).into_response();
    set_session_headers(&state, &mut response, &session.token, remember);
    Ok(response)
}

/// `POST /sign-in/email`: a new session for the right password. Unknown users and users without
/// a password cost the same scrypt run as a wrong password.
#[utoipa::path(
    post,
    path = "/sign-in/email",
    tag = "session",
    request_body(content(
        (SignInRequest = "application/json"),
        (SignInRequest = "application/x-www-form-urlencoded"),
    )),
    responses(
        (status = 200, description = "Signed in", body = SignInResponse,
            headers(
                ("set-cookie" = String, description = "The session cookie (and, with `rememberMe: false`, the dont-remember cookie)"),
                ("set-auth-token" = String, description = "The session token, for `Authorization: Bearer`"),
                ("location" = String, description = "The `callbackURL`, when one was given"),
            )),
        (status = 400, description = "`VALIDATION_ERROR`, `INVALID_EMAIL`, `PASSWORD_TOO_SHORT` or `PASSWORD_TOO_LONG`", body = ErrorBody),
        (status = 403, description = "`INVALID_ORIGIN`, `MISSING_OR_NULL_ORIGIN`, `CROSS_SITE_NAVIGATION_LOGIN_BLOCKED` or `INVALID_CALLBACK_URL`", body = ErrorBody),
        (status = 413, description = "`PAYLOAD_TOO_LARGE`", body = ErrorBody),
        (status = 415, description = "`UNSUPPORTED_MEDIA_TYPE`", body = ErrorBody),
        (status = 401, description = "`INVALID_EMAIL_OR_PASSWORD`", body = ErrorBody),
        (status = 429, description = "`TOO_MANY_REQUESTS`: rate limited", body = ErrorBody,
            headers(("x-retry-after" = u64, description = "Seconds until a retry may succeed"))),
        (status = 500, description = "`INTERNAL_SERVER_ERROR`", body = ErrorBody),
        (status = 503, description = "`DATABASE_UNAVAILABLE` or `SERVER_BUSY`: retry shortly", body = ErrorBody),
    )
)]
pub(super) async fn sign_in(
    state: State<SharedState>,
    ip: ClientIp,
    agent: UserAgent,
    req: JsonOrForm<SignInRequest>,
) -> Result<Response, ApiError> {
    counted(
        open_session(state, ip, agent, req).await,
        crate::telemetry::sign_in,
    )
}

async fn open_session(
    State(state): State<SharedState>,
    ClientIp(ip): ClientIp,
    UserAgent(agent): UserAgent,
    JsonOrForm(req): JsonOrForm<SignInRequest>,
) -> Result<Response, ApiError> {
    let email = checked_credentials(
        &state,
        &req.email,
        &req.password,
        req.callback_url.as_deref(),
        false,
    )?;
    let (user, hash) = match state.store.user_with_password(&email).await? {
        Some((user, Some(hash))) => (Some(user), hash),
        _ => (None, password::DUMMY_HASH.to_owned()),
    };
    let matches = state.hasher.verify(req.password, hash).await?;
    let user = match (user, matches) {
        (Some(user), true) => user,
        _ => return Err(ErrorCode::InvalidEmailOrPassword.into()),
    };
    let remember = req.remember_me.unwrap_or(true);
    let session = new_session(&user.id, remember, ip, agent.as_deref(), state.now());
    state.store.insert_session(&session).await?;
    let location = req
        .callback_url
        .as_deref()
        .and_then(|u| HeaderValue::from_str(u).ok());
    let body = SignInResponse {
        redirect: req.callback_url.is_some(),
        token: session.token.clone(),
        url: req.callback_url,
        user: state.sessions.public_user(&user).await?,
    };
    let mut response = Json(body).into_response();
    if let Some(location) = location {
        response.headers_mut().insert(LOCATION, location);
    }
    set_session_headers(&state, &mut response, &session.token, remember);
    Ok(response)
}

/// `GET /get-session` query: Better Auth's `disableRefresh`, as a boolean or its text forms.
/// (`disableCookieCache` and any other member are ignored: there is no cookie cache here.)
pub(super) struct SessionQuery {
    disable_refresh: bool,
}

impl<S: Send + Sync> FromRequestParts<S> for SessionQuery {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Raw {
            disable_refresh: Option<String>,
        }
        let raw: Raw = serde_urlencoded::from_str(parts.uri.query().unwrap_or_default())
            .map_err(|e| ApiError::with_message(ErrorCode::ValidationError, e.to_string()))?;
        let disable_refresh = match raw.disable_refresh.as_deref() {
            None | Some("false") | Some("0") => false,
            Some("true") | Some("1") | Some("") => true,
            Some(other) => {
                return Err(ApiError::with_message(
                    ErrorCode::ValidationError,
                    format!("disableRefresh must be a boolean, not {other:?}"),
                ));
            }
        };
        Ok(SessionQuery { disable_refresh })
    }
}

/// `GET /get-session`: the session and its user, or `null`. Slides the expiry when due and adds
/// `set-auth-jwt` unless turned off; a key problem leaves the header out, never fails the call.
#[utoipa::path(
    get,
    path = "/get-session",
    tag = "session",
    params(
        ("disableRefresh" = Option<bool>, Query, description = "Do not extend the session's expiry"),
    ),
    security((), ("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "The session and its user, or `null` without a valid session", body = Option<SessionResponse>,
            headers(
                ("set-auth-jwt" = String, description = "A JWT for the session (unless turned off or no key is usable)"),
                ("set-auth-token" = String, description = "The session token, when the session was refreshed"),
                ("set-cookie" = String, description = "The refreshed session cookie, or expired cookies for an invalid session"),
            )),
        (status = 400, description = "`VALIDATION_ERROR`: a bad `disableRefresh`", body = ErrorBody),
        (status = 429, description = "`TOO_MANY_REQUESTS`: rate limited", body = ErrorBody,
            headers(("x-retry-after" = u64, description = "Seconds until a retry may succeed"))),
        (status = 500, description = "`INTERNAL_SERVER_ERROR`", body = ErrorBody),
        (status = 503, description = "`DATABASE_UNAVAILABLE` or `SERVER_BUSY`: retry shortly", body = ErrorBody),
    )
)]
pub(super) async fn get_session(
    State(state): State<SharedState>,
    query: SessionQuery,
    presented: Presented,
) -> Result<Response, ApiError> {
    let null = |clear: bool| {
        let mut response = Json(Value::Null).into_response();
        no_store(&mut response);
        if clear {
            expire_session_cookies(&state, response.headers_mut());
        }
        response
    };
    let Some(token) = presented.token else {
        return Ok(null(false));
    };
    let now = state.now();
    let Some(live) = state.sessions.live(&token, now).await? else {
        return Ok(null(presented.had_cookie));
    };
    let (live, refreshed) = if query.disable_refresh {
        (live, false)
    } else {
        match state
            .sessions
            .refresh(&token, live, presented.dont_remember, now)
            .await?
        {
            Some(refreshed) => refreshed,
            // Signed out between the read and the refresh.
            None => return Ok(null(presented.had_cookie)),
        }
    };
    let jwt = if state.minter.sets_jwt_header() {
        match state
            .minter
            .session_token(
                &live,
                &token,
                crate::telemetry::TokenRoute::GetSession,
                None,
                None,
            )
            .await
        {
            Ok(jwt) => HeaderValue::from_str(&jwt).ok(),
            Err(e) => {
                crate::telemetry::set_auth_jwt_failed();
                tracing::error!(error = %Chain(&e), "set-auth-jwt left out: no token could be signed");
                None
            }
        }
    } else {
        None
    };
    let mut response = match live.session_body(&token) {
        Some(body) => (
            [(CONTENT_TYPE, HeaderValue::from_static("application/json"))],
            body,
        )
            .into_response(),
        None => Json(SessionResponse {
            session: session_view(&live.session_with_token(&token)),
            user: live.view.clone(),
        })
        .into_response(),
    };
    no_store(&mut response);
    if let Some(jwt) = jwt {
        response.headers_mut().insert("set-auth-jwt", jwt);
        guard::expose_header(response.headers_mut(), "set-auth-jwt");
    }
    if refreshed {
        set_session_headers(&state, &mut response, &token, true);
    }
    Ok(response)
}

/// `POST /sign-out`: deletes the session and clears the cookies. A sign-out that did not happen
/// does not say it did: when the row could not be deleted the answer is the store's error (503
/// while the database is unavailable) and the cookies stay, so that the client retries — where
/// Better Auth answers success and the session stays valid until it expires.
#[utoipa::path(
    post,
    path = "/sign-out",
    tag = "session",
    request_body(content(
        (Object = "application/json"),
        (Object = "application/x-www-form-urlencoded"),
    ), description = "Optional; `callbackURL` is checked against the trusted origins"),
    security((), ("bearer" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "Signed out (the session, if any, is deleted)", body = SignOutResponse,
            headers(("set-cookie" = String, description = "Expired session cookies"))),
        (status = 400, description = "`VALIDATION_ERROR`, `INVALID_EMAIL`, `PASSWORD_TOO_SHORT` or `PASSWORD_TOO_LONG`", body = ErrorBody),
        (status = 403, description = "`INVALID_ORIGIN`, `MISSING_OR_NULL_ORIGIN`, `CROSS_SITE_NAVIGATION_LOGIN_BLOCKED` or `INVALID_CALLBACK_URL`", body = ErrorBody),
        (status = 413, description = "`PAYLOAD_TOO_LARGE`", body = ErrorBody),
        (status = 415, description = "`UNSUPPORTED_MEDIA_TYPE`", body = ErrorBody),
        (status = 429, description = "`TOO_MANY_REQUESTS`: rate limited", body = ErrorBody,
            headers(("x-retry-after" = u64, description = "Seconds until a retry may succeed"))),
        (status = 500, description = "`INTERNAL_SERVER_ERROR`", body = ErrorBody),
        (status = 503, description = "`DATABASE_UNAVAILABLE` or `SERVER_BUSY`: retry shortly", body = ErrorBody),
    )
)]
pub(super) async fn sign_out(
    State(state): State<SharedState>,
    presented: Presented,
    JsonOrForm(body): JsonOrForm<Map<String, Value>>,
) -> Result<Response, ApiError> {
    // The body is optional ({callbackURL?, ...}); it must still be well-formed if present.
    check_callback(&state, body.get("callbackURL").and_then(Value::as_str))?;
    if let Some(token) = presented.token {
        state.sessions.end(&token).await?;
    }
    let mut response = Json(SignOutResponse { success: true }).into_response();
    expire_session_cookies(&state, response.headers_mut());
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        for ok in [
            "a@b.co",
            "first.last+tag@sub.example.com",
            "o'brien@example.com",
            "x_y-z@a-b.example.org",
            "ADA@Example.COM",
            "a@b-.co",
        ] {
            assert!(valid_email(ok), "{ok}");
        }
        for bad in [
            "",
            "a",
            "a@b",
            "@b.co",
            "a@.co",
            "a@b.",
            "a b@c.co",
            "a@b..co",
            "a@b@c.co",
            ".a@b.co",
            "a.@b.co",
            "a..b@c.co",
            "a'@b.co",
            "a@-b.co",
            "a@b.c",
            "a@b.c0",
            "a@b_c.co",
            "a\"b@c.co",
            "a@b.co\n",
        ] {
            assert!(!valid_email(bad), "{bad}");
        }
    }

    /// Issue 10, finding 7: addresses that look like `ada@example.com` are not new accounts.
    #[test]
    fn look_alike_emails_are_refused() {
        for bad in [
            "ada\u{200b}@example.com",
            "a\u{202e}b@example.com",
            "\u{ff41}da@example.com",
            "ada@ex\u{e4}mple.com",
            "ada@xn--exmple-cua.com\u{feff}",
            "\u{212a}@example.com",
        ] {
            assert!(!valid_email(bad), "{bad:?}");
        }
    }
}
