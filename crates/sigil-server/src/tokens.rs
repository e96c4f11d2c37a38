//! Token minting: the claims of session tokens (Better Auth's default payload, or the caller's),
//! and the server-side `sign_jwt` / `verify_jwt` API (Better Auth's `signJWT` / `verifyJWT`).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use crate::config::TokenConfig;
use crate::store::{Session, User};

/// The future a claims hook returns.
pub type HookFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// Better Auth's `definePayload`: the claims of a session token, from its user and session. Its
/// result replaces the default payload (the public user object); it cannot set `sub`.
pub type PayloadHook = Arc<dyn Fn(User, Session) -> HookFuture<Map<String, Value>> + Send + Sync>;

/// Better Auth's `getSubject`: the `sub` of a session token (default: the user id).
pub type SubjectHook = Arc<dyn Fn(User, Session) -> HookFuture<Option<String>> + Send + Sync>;

/// Overrides for [`crate::Auth::sign_jwt`], like Better Auth's `overrideOptions.jwt`.
#[derive(Clone, Debug, Default)]
pub struct SignOverrides {
    /// Lifetime in seconds (when the payload has no `exp`).
    pub expiration_secs: Option<i64>,
    /// `iss` (when the payload has none).
    pub issuer: Option<String>,
    /// `aud` (when the payload has none).
    pub audience: Option<Vec<String>>,
}

fn audience_value(audience: &[String]) -> Value {
    match audience {
        [one] => Value::String(one.clone()),
        many => Value::Array(many.iter().cloned().map(Value::String).collect()),
    }
}

/// Better Auth's claim rules for every signing path: `exp` from the payload or `iat` (or now) +
/// lifetime; `iss`/`aud` from the payload or the configuration; everything else passes through.
/// No `iat` is added here.
pub fn apply_claim_rules(
    mut claims: Map<String, Value>,
    config: &TokenConfig,
    overrides: &SignOverrides,
    now: DateTime<Utc>,
) -> Map<String, Value> {
    if !claims.contains_key("exp") {
        let base = claims
            .get("iat")
            .and_then(Value::as_i64)
            .unwrap_or_else(|| now.timestamp());
        let lifetime = overrides
            .expiration_secs
            .unwrap_or_else(|| i64::try_from(config.expiration.as_secs()).unwrap_or(900));
        claims.insert("exp".into(), Value::from(base.saturating_add(lifetime)));
    }
    if !claims.contains_key("iss") {
        let issuer = overrides
            .issuer
            .clone()
            .unwrap_or_else(|| config.issuer.clone());
        claims.insert("iss".into(), Value::String(issuer));
    }
    if !claims.contains_key("aud") {
        let audience = overrides.audience.as_deref().unwrap_or(&config.audience);
        claims.insert("aud".into(), audience_value(audience));
    }
    claims
}

/// The default payload: the public user object as Better Auth serializes it.
pub fn default_payload(user: &User) -> Map<String, Value> {
    let mut map = Map::new();
    map.insert("id".into(), Value::String(user.id.clone()));
    map.insert("name".into(), Value::String(user.name.clone()));
    map.insert("email".into(), Value::String(user.email.clone()));
    map.insert("emailVerified".into(), Value::Bool(user.email_verified));
    map.insert(
        "image".into(),
        user.image.clone().map_or(Value::Null, Value::String),
    );
    map.insert(
        "createdAt".into(),
        Value::String(crate::time::iso(user.created_at)),
    );
    map.insert(
        "updatedAt".into(),
        Value::String(crate::time::iso(user.updated_at)),
    );
    map
}

/// The payload from `[jwt] claims` (user and session fields) and `[jwt] static_claims`.
pub fn mapped_payload(
    config: &TokenConfig,
    user: &User,
    session: &Session,
    additional: &Map<String, Value>,
) -> Map<String, Value> {
    use crate::config::ClaimSource;
    let user_json = default_payload(user);
    let mut payload = config.static_claims.clone();
    for (claim, source) in &config.claims {
        let value = match source {
            ClaimSource::User(field) => user_json
                .get(field)
                .or_else(|| additional.get(field))
                .cloned(),
            ClaimSource::Session(field) => match field.as_str() {
                "id" => Some(Value::String(session.id.clone())),
                "userId" => Some(Value::String(session.user_id.clone())),
                "expiresAt" => Some(Value::String(crate::time::iso(session.expires_at))),
                "createdAt" => Some(Value::String(crate::time::iso(session.created_at))),
                "ipAddress" => session.ip_address.clone().map(Value::String),
                "userAgent" => session.user_agent.clone().map(Value::String),
                _ => None,
            },
        };
        // A missing value leaves the claim out rather than putting a null in every token.
        if let Some(value) = value.filter(|v| !v.is_null()) {
            payload.insert(claim.clone(), value);
        }
    }
    payload
}

/// The claims of a session token: `{iat, ...payload, sub}` then the claim rules.
pub fn session_claims(
    payload: Map<String, Value>,
    subject: String,
    config: &TokenConfig,
    now: DateTime<Utc>,
) -> Map<String, Value> {
    let mut claims = Map::new();
    claims.insert("iat".into(), Value::from(now.timestamp()));
    claims.extend(payload);
    claims.insert("sub".into(), Value::String(subject));
    apply_claim_rules(claims, config, &SignOverrides::default(), now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn config() -> TokenConfig {
        TokenConfig {
            alg: sigil_jose::Alg::EdDSA,
            expiration: Duration::from_secs(900),
            issuer: "https://iss".into(),
            audience: vec!["https://aud".into()],
            jwks_path: "/jwks".into(),
            rotation_interval: None,
            grace_period: Duration::from_secs(86_400),
            jwks_max_age: Duration::from_secs(300),
            encrypt_private_keys: true,
            rsa_bits: 2048,
            claims: Vec::new(),
            static_claims: Map::new(),
            set_jwt_header: true,
        }
    }

    #[test]
    fn rules_match_better_auth() {
        let now = DateTime::from_timestamp(1_000_000, 0).unwrap();
        let c = apply_claim_rules(Map::new(), &config(), &SignOverrides::default(), now);
        assert_eq!(c.get("iat"), None, "signJWT adds no iat");
        assert_eq!(c["exp"], 1_000_900);
        assert_eq!(c["iss"], "https://iss");
        assert_eq!(c["aud"], "https://aud");
        let given: Map<String, Value> = serde_json::from_value(
            serde_json::json!({"iat": 10, "iss": "x", "aud": ["a", "b"], "custom": 1}),
        )
        .unwrap();
        let c = apply_claim_rules(
            given,
            &config(),
            &SignOverrides {
                expiration_secs: Some(5),
                ..Default::default()
            },
            now,
        );
        assert_eq!(
            (c["exp"].as_i64(), c["iss"].as_str(), c["custom"].as_i64()),
            (Some(15), Some("x"), Some(1))
        );
        // A payload cannot set sub on session tokens; it can set iat and exp.
        let payload: Map<String, Value> =
            serde_json::from_value(serde_json::json!({"sub": "evil", "role": "admin", "exp": 42}))
                .unwrap();
        let c = session_claims(payload, "u1".into(), &config(), now);
        assert_eq!(
            (c["sub"].as_str(), c["role"].as_str(), c["exp"].as_i64()),
            (Some("u1"), Some("admin"), Some(42))
        );
        assert_eq!(c["iat"], 1_000_000);
    }
}
