//! Token minting: the claims of session tokens (Better Auth's default payload, configured claims,
//! or the caller's hooks), and the server-side `sign_jwt` / `verify_jwt` API (Better Auth's
//! `signJWT` / `verifyJWT`). One `Minter` serves the routes and [`crate::Auth`] alike.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Serialize, Serializer, ser::SerializeMap};
use serde_json::{Map, Value};
use sigil_proto::UserView;
use thiserror::Error;

use crate::config::{ClaimSource, JwtConfig};
use crate::keys::{KeyError, KeyManager};
use crate::session_cache::LiveSession;
use crate::store::{Session, User};
use crate::time::{Clock, iso};

/// The future a claims hook returns.
pub type HookFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// Better Auth's `definePayload`: the claims of a session token, from its user and session. Its
/// result replaces the default payload (the public user object); it cannot set `sub`.
pub type PayloadHook = Arc<dyn Fn(User, Session) -> HookFuture<Map<String, Value>> + Send + Sync>;

/// Better Auth's `getSubject`: the `sub` of a session token (default: the user id).
pub type SubjectHook = Arc<dyn Fn(User, Session) -> HookFuture<Option<String>> + Send + Sync>;

/// The claims hooks of session tokens.
#[derive(Clone, Default)]
pub(crate) struct Hooks {
    pub(crate) payload: Option<PayloadHook>,
    pub(crate) subject: Option<SubjectHook>,
}

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

/// Why [`crate::Auth::verify_jwt`] refused a token.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The token is invalid (the code says why).
    #[error(transparent)]
    Token(#[from] sigil_jose::Error),
    /// The keys could not be loaded.
    #[error(transparent)]
    Keys(#[from] KeyError),
}

/// Mints and checks this server's tokens: the claim rules, the hooks and the signing keys.
pub(crate) struct Minter {
    keys: Arc<KeyManager>,
    config: JwtConfig,
    hooks: Hooks,
    clock: Clock,
}

impl Minter {
    pub(crate) fn new(
        keys: Arc<KeyManager>,
        config: JwtConfig,
        hooks: Hooks,
        clock: Clock,
    ) -> Self {
        Minter {
            keys,
            config,
            hooks,
            clock,
        }
    }

    /// The signing keys.
    pub(crate) fn keys(&self) -> &Arc<KeyManager> {
        &self.keys
    }

    /// Whether get-session carries `set-auth-jwt`.
    pub(crate) fn sets_jwt_header(&self) -> bool {
        self.config.set_jwt_header
    }

    /// The token of a live session: `{iat, ...payload, sub}` under the claim rules, where the
    /// payload is the hook's, the configured claims, or the public user object. Without hooks
    /// the claims do not change while the session is cached, except `iat` and `exp`: they are
    /// worked out once per cached session and only the times are added per token.
    pub(crate) async fn session_token(
        &self,
        live: &LiveSession,
        token: &str,
    ) -> Result<String, KeyError> {
        if self.hooks.payload.is_some() || self.hooks.subject.is_some() {
            return self.hooked_session_token(live, token).await;
        }
        let template = live.claims.get_or_init(|| {
            let payload = self.configured_payload(&live.view, &live.session);
            ClaimsTemplate::new(payload, live.user.id.clone(), &self.config)
        });
        let now = (self.clock)();
        let key = self.keys.signing_key().await?;
        sigil_jose::sign_jwt(&key.pair, &template.at(now)).map_err(KeyError::Sign)
    }

    /// The payload without hooks: the configured claims, or the public user object.
    fn configured_payload(&self, view: &UserView, session: &Session) -> Map<String, Value> {
        if self.config.claims.is_empty() && self.config.static_claims.is_empty() {
            public_user_claims(view)
        } else {
            mapped_payload(&self.config, view, session)
        }
    }

    /// [`Minter::session_token`] with the caller's hooks, which run for every token and see the
    /// session row as stored (its `token` given back).
    async fn hooked_session_token(
        &self,
        live: &LiveSession,
        token: &str,
    ) -> Result<String, KeyError> {
        let LiveSession { user, view, .. } = live;
        let session = &live.session_with_token(token);
        let payload = match &self.hooks.payload {
            Some(hook) => hook(user.clone(), session.clone()).await,
            None => self.configured_payload(view, session),
        };
        let subject = match &self.hooks.subject {
            Some(hook) => hook(user.clone(), session.clone()).await,
            None => None,
        }
        .unwrap_or_else(|| user.id.clone());
        let now = (self.clock)();
        let template = ClaimsTemplate::new(payload, subject, &self.config);
        // Taken last, after every await above, so that a key revoked meanwhile is not used.
        let key = self.keys.signing_key().await?;
        sigil_jose::sign_jwt(&key.pair, &template.at(now)).map_err(KeyError::Sign)
    }

    /// Signs any claims with the current key; `exp`, `iss` and `aud` are filled in when absent.
    pub(crate) async fn sign(
        &self,
        payload: Map<String, Value>,
        overrides: &SignOverrides,
    ) -> Result<String, KeyError> {
        let key = self.keys.signing_key().await?;
        let claims = apply_claim_rules(payload, &self.config, overrides, (self.clock)());
        sigil_jose::sign_jwt(&key.pair, &claims).map_err(KeyError::Sign)
    }

    /// Verifies a token issued here: a published key, the configured issuer and audience,
    /// `exp`/`nbf`, and a `sub`.
    pub(crate) async fn verify(&self, token: &str) -> Result<sigil_jose::Claims, VerifyError> {
        let doc = self.keys.jwks().await?;
        let algs: Vec<sigil_jose::Alg> = doc
            .set
            .keys()
            .iter()
            .filter_map(sigil_jose::PublicKey::alg)
            .collect();
        let mut policy = sigil_jose::Validation::new(algs).issuer(self.config.issuer.clone());
        for aud in &self.config.audience {
            policy = policy.audience(aud.clone());
        }
        let now = (self.clock)().timestamp();
        let claims = sigil_jose::verify_jwt(token, &doc.set, &policy, now)?;
        if claims.sub.as_deref().is_none_or(str::is_empty) {
            return Err(VerifyError::Token(sigil_jose::Error::ClaimsInvalid(
                "\"sub\" is required".into(),
            )));
        }
        Ok(claims)
    }
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
fn apply_claim_rules(
    mut claims: Map<String, Value>,
    config: &JwtConfig,
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
            .unwrap_or_else(|| config.expiration.num_seconds());
        claims.insert("exp".into(), Value::from(base.saturating_add(lifetime)));
    }
    fill_issuer_audience(&mut claims, config, overrides);
    claims
}

/// `iss` and `aud` from the overrides or the configuration, where the claims have none.
fn fill_issuer_audience(
    claims: &mut Map<String, Value>,
    config: &JwtConfig,
    overrides: &SignOverrides,
) {
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
}

/// The default payload: the public user object as Better Auth serializes it.
fn public_user_claims(view: &UserView) -> Map<String, Value> {
    match serde_json::to_value(view) {
        Ok(Value::Object(map)) => map,
        // A struct of strings, booleans and a map always serializes to an object.
        _ => Map::new(),
    }
}

/// The payload from `[jwt] claims` (user and session fields) and `[jwt] static_claims`.
fn mapped_payload(config: &JwtConfig, view: &UserView, session: &Session) -> Map<String, Value> {
    let user = public_user_claims(view);
    let mut payload = config.static_claims.clone();
    for (claim, source) in &config.claims {
        let value = match source {
            ClaimSource::User(field) => user.get(field).cloned(),
            ClaimSource::Session(field) => match field.as_str() {
                "id" => Some(Value::String(session.id.clone())),
                "userId" => Some(Value::String(session.user_id.clone())),
                "expiresAt" => Some(Value::String(iso(session.expires_at))),
                "createdAt" => Some(Value::String(iso(session.created_at))),
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

/// The claims of a session token, `{iat, ...payload, sub}` under the claim rules, less what
/// depends on the time of signing: `iat` (unless the payload sets it) and `exp` (unless the
/// payload sets it, or sets an integer `iat` it follows from).
#[derive(Clone, Debug)]
pub(crate) struct ClaimsTemplate {
    fixed: Map<String, Value>,
    /// `iat` is the time of signing.
    iat_now: bool,
    /// `exp` is the time of signing plus this many seconds.
    exp_after: Option<i64>,
}

impl ClaimsTemplate {
    pub(crate) fn new(payload: Map<String, Value>, subject: String, config: &JwtConfig) -> Self {
        let mut fixed = payload;
        fixed.insert("sub".into(), Value::String(subject));
        let iat_now = !fixed.contains_key("iat");
        let lifetime = config.expiration.num_seconds();
        let mut exp_after = None;
        if !fixed.contains_key("exp") {
            match fixed.get("iat").and_then(Value::as_i64) {
                Some(iat) if !iat_now => {
                    fixed.insert("exp".into(), Value::from(iat.saturating_add(lifetime)));
                }
                _ => exp_after = Some(lifetime),
            }
        }
        fill_issuer_audience(&mut fixed, config, &SignOverrides::default());
        ClaimsTemplate {
            fixed,
            iat_now,
            exp_after,
        }
    }

    /// The claims for a token signed at `now`.
    pub(crate) fn at(&self, now: DateTime<Utc>) -> TimedClaims<'_> {
        let now = now.timestamp();
        TimedClaims {
            fixed: &self.fixed,
            exp: self.exp_after.map(|after| now.saturating_add(after)),
            iat: self.iat_now.then_some(now),
        }
    }
}

/// A [`ClaimsTemplate`] at a time of signing: serializes as the claims object, members in the
/// order a `serde_json::Map` keeps them (sorted), with `exp` and `iat` in their places; no map
/// is built per token.
pub(crate) struct TimedClaims<'a> {
    fixed: &'a Map<String, Value>,
    exp: Option<i64>,
    iat: Option<i64>,
}

impl Serialize for TimedClaims<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // The merge below needs the map's keys sorted, as serde_json keeps them unless its
        // `preserve_order` feature is on somewhere in the build.
        debug_assert!(
            self.fixed
                .keys()
                .zip(self.fixed.keys().skip(1))
                .all(|(a, b)| a < b)
        );
        let timed = [("exp", self.exp), ("iat", self.iat)];
        let mut timed = timed
            .into_iter()
            .filter_map(|(name, at)| at.map(|at| (name, at)))
            .peekable();
        let count =
            self.fixed.len() + usize::from(self.exp.is_some()) + usize::from(self.iat.is_some());
        let mut map = serializer.serialize_map(Some(count))?;
        for (name, value) in self.fixed {
            while let Some((timed_name, at)) = timed.next_if(|(n, _)| *n < name.as_str()) {
                map.serialize_entry(timed_name, &at)?;
            }
            map.serialize_entry(name, value)?;
        }
        for (timed_name, at) in timed {
            map.serialize_entry(timed_name, &at)?;
        }
        map.end()
    }
}

/// The claims of a session token as a map: `{iat, ...payload, sub}` then the claim rules.
#[cfg(test)]
fn session_claims(
    payload: Map<String, Value>,
    subject: String,
    config: &JwtConfig,
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

    fn config() -> JwtConfig {
        JwtConfig {
            expiration: chrono::TimeDelta::seconds(900),
            issuer: "https://iss".into(),
            audience: vec!["https://aud".into()],
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

    /// What the template signs is, byte for byte, the claims map the rules build.
    #[test]
    fn a_template_at_a_time_is_the_session_claims() {
        let now = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let payloads = [
            serde_json::json!({}),
            serde_json::json!({"name": "Ada", "email": "a@b.co", "id": "u1", "image": null}),
            serde_json::json!({"a": 1, "exp": 5, "z": 2}),
            serde_json::json!({"iat": 100, "role": "x"}),
            serde_json::json!({"iat": "not a number", "f": true}),
            serde_json::json!({"iat": 100, "exp": 7}),
            serde_json::json!({"iss": "other", "aud": ["x", "y"], "exq": 1, "eaa": 0, "iaa": 1, "ib": 2}),
        ];
        for payload in payloads {
            let payload: Map<String, Value> = serde_json::from_value(payload).unwrap();
            let expected = serde_json::to_string(&session_claims(
                payload.clone(),
                "u1".into(),
                &config(),
                now,
            ))
            .unwrap();
            let template = ClaimsTemplate::new(payload, "u1".into(), &config());
            assert_eq!(serde_json::to_string(&template.at(now)).unwrap(), expected);
        }
    }
}
