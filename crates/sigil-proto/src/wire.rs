//! Request and response bodies of the `/api/auth` routes, in Better Auth's shapes.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// What `Debug` shows in place of a password, session token or JWT: these types are logged and
/// printed in errors, their secrets never are.
const REDACTED: &str = "<redacted>";

/// `POST /sign-up/email`. Unknown members are kept in `additional` (additional user fields).
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct SignUpRequest {
    /// Display name.
    pub name: String,
    /// Email address (stored lowercased).
    pub email: String,
    /// Password (8 to 128 characters).
    pub password: String,
    /// Avatar URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Where to go after sign-up (checked against the trusted origins).
    #[serde(
        default,
        rename = "callbackURL",
        skip_serializing_if = "Option::is_none"
    )]
    pub callback_url: Option<String>,
    /// `false` for a browser-session cookie and a 1-day session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remember_me: Option<bool>,
    /// Additional user fields.
    #[serde(flatten)]
    #[cfg_attr(feature = "openapi", schema(ignore))]
    pub additional: Map<String, Value>,
}

/// `POST /sign-in/email`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct SignInRequest {
    /// Email address (matched case-insensitively).
    pub email: String,
    /// Password.
    pub password: String,
    /// Where to go after sign-in.
    #[serde(
        default,
        rename = "callbackURL",
        skip_serializing_if = "Option::is_none"
    )]
    pub callback_url: Option<String>,
    /// Defaults to `true`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remember_me: Option<bool>,
}

/// The public user object (Better Auth's `user` in every response).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct UserView {
    /// User id (32 characters `[A-Za-z0-9]`).
    pub id: String,
    /// Display name.
    pub name: String,
    /// Email address, lowercased.
    pub email: String,
    /// Whether the email was verified.
    pub email_verified: bool,
    /// Avatar URL or `null`.
    pub image: Option<String>,
    /// ISO-8601 creation time.
    pub created_at: String,
    /// ISO-8601 update time.
    pub updated_at: String,
    /// Additional user fields.
    #[serde(flatten)]
    #[cfg_attr(feature = "openapi", schema(ignore))]
    pub additional: Map<String, Value>,
}

/// The public session object.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct SessionView {
    /// Session id.
    pub id: String,
    /// ISO-8601 expiry.
    pub expires_at: String,
    /// The session token (the value before the `.` in the cookie).
    pub token: String,
    /// ISO-8601 creation time.
    pub created_at: String,
    /// ISO-8601 update time.
    pub updated_at: String,
    /// Client IP address as seen through trusted proxies, or `""`.
    pub ip_address: Option<String>,
    /// Client user agent, or `""`.
    pub user_agent: Option<String>,
    /// Owner.
    pub user_id: String,
}

/// `GET /get-session` with a session (without one the body is `null`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SessionResponse {
    /// The session.
    pub session: SessionView,
    /// Its user.
    pub user: UserView,
}

/// `POST /sign-up/email` → 200.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SignUpResponse {
    /// The new session token.
    pub token: Option<String>,
    /// The new user.
    pub user: UserView,
}

/// `POST /sign-in/email` → 200.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SignInResponse {
    /// `true` when a `callbackURL` was given (the client then navigates to `url`).
    pub redirect: bool,
    /// The new session token.
    pub token: String,
    /// Where to go, with `redirect`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The user.
    pub user: UserView,
}

/// `POST /sign-out` → 200.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SignOutResponse {
    /// Always `true`.
    pub success: bool,
}

/// `GET /token` → 200.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TokenResponse {
    /// The compact JWS.
    pub token: String,
}

/// `GET /key-timeline` → 200: every stored signing key and its state, for the console's key
/// timeline and for operators (the key set itself carries no states). Public halves only.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct KeyTimeline {
    /// The server's time, ISO 8601 (the states are as of then).
    pub now: String,
    /// The tokens' `iss`.
    pub issuer: String,
    /// The tokens' default `aud` (one value or several).
    pub audience: Vec<String>,
    /// The audiences a session may ask a token for instead (`GET /token?audience=`).
    pub allowed_audiences: Vec<String>,
    /// Where the key set is published.
    pub jwks_uri: String,
    /// The algorithms tokens are signed with, the default first.
    pub algs: Vec<String>,
    /// Every stored key, from the future to the past: the keys waiting their turn (the latest
    /// start first), the keys that sign now, then the others by their end (the latest first).
    pub keys: Vec<KeyTimelineEntry>,
}

/// One stored signing key in a [`KeyTimeline`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct KeyTimelineEntry {
    /// Key id (the `kid` of the tokens it signs).
    pub kid: String,
    /// Its algorithm, when known.
    pub alg: Option<String>,
    /// `next`, `current`, `retired`, `expired`, `undecryptable` or `unusable`.
    pub state: String,
    /// Its `createdAt` (ISO 8601): the order keys take turns in. A successor is written just
    /// older than the key it follows, so this is not when it was made or starts.
    pub created_at: String,
    /// When it stops signing, if it does.
    pub expires_at: Option<String>,
    /// When a key waiting its turn starts signing.
    pub starts_at: Option<String>,
    /// Until when a key that stopped (or will stop) signing stays in the key set.
    pub published_until: Option<String>,
}

/// `GET /ok` → 200.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OkResponse {
    /// Always `true`.
    pub ok: bool,
}

impl fmt::Debug for SignUpRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignUpRequest")
            .field("name", &self.name)
            .field("email", &self.email)
            .field("password", &REDACTED)
            .field("image", &self.image)
            .field("callback_url", &self.callback_url)
            .field("remember_me", &self.remember_me)
            .field("additional", &self.additional)
            .finish()
    }
}

impl fmt::Debug for SignInRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignInRequest")
            .field("email", &self.email)
            .field("password", &REDACTED)
            .field("callback_url", &self.callback_url)
            .field("remember_me", &self.remember_me)
            .finish()
    }
}

impl fmt::Debug for SessionView {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionView")
            .field("id", &self.id)
            .field("expires_at", &self.expires_at)
            .field("token", &REDACTED)
            .field("created_at", &self.created_at)
            .field("updated_at", &self.updated_at)
            .field("ip_address", &self.ip_address)
            .field("user_agent", &self.user_agent)
            .field("user_id", &self.user_id)
            .finish()
    }
}

impl fmt::Debug for SignUpResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignUpResponse")
            .field("token", &self.token.as_ref().map(|_| REDACTED))
            .field("user", &self.user)
            .finish()
    }
}

impl fmt::Debug for SignInResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignInResponse")
            .field("redirect", &self.redirect)
            .field("token", &REDACTED)
            .field("url", &self.url)
            .field("user", &self.user)
            .finish()
    }
}

impl fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenResponse")
            .field("token", &REDACTED)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_up_keeps_additional_fields() {
        let req: SignUpRequest = serde_json::from_str(
            r#"{"name":"A","email":"a@x.io","password":"p4ssword!","callbackURL":"/home","role":"admin"}"#,
        )
        .unwrap();
        assert_eq!(req.callback_url.as_deref(), Some("/home"));
        assert_eq!(req.additional["role"], "admin");
    }

    #[test]
    fn debug_hides_passwords_and_tokens() {
        let req: SignInRequest =
            serde_json::from_str(r#"{"email":"a@x.io","password":"p4ssword!"}"#).unwrap();
        let token = TokenResponse {
            token: "eyJhbGciOiJFZERTQSJ9.e30.c2ln".into(),
        };
        let debug = format!("{req:?} {token:?}");
        assert!(
            debug.contains("a@x.io") && debug.contains(REDACTED),
            "{debug}"
        );
        assert!(
            !debug.contains("p4ssword!") && !debug.contains("eyJ"),
            "{debug}"
        );
    }

    #[test]
    fn user_view_is_better_auths_shape() {
        let user = UserView {
            id: "u1".into(),
            name: "A".into(),
            email: "a@x.io".into(),
            email_verified: false,
            image: None,
            created_at: "2026-11-27T10:00:00.000Z".into(),
            updated_at: "2026-11-27T10:00:00.000Z".into(),
            additional: Map::new(),
        };
        assert_eq!(
            serde_json::to_string(&user).unwrap(),
            r#"{"id":"u1","name":"A","email":"a@x.io","emailVerified":false,"image":null,"createdAt":"2026-11-27T10:00:00.000Z","updatedAt":"2026-11-27T10:00:00.000Z"}"#
        );
    }
}
