//! The claims of this server's tokens: Better Auth's rules for `exp`, `iss` and `aud`, the
//! default payload (the public user object) or the configured one, and the claims template of a
//! session token, which only needs the time of signing added.

use chrono::{DateTime, Utc};
use serde::{Serialize, Serializer, ser::SerializeMap};
use serde_json::{Map, Value};
use sigil_proto::UserView;

use crate::config::{ClaimSource, JwtConfig};
use crate::store::Session;
use crate::time::iso;

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
pub(crate) fn apply_claim_rules(
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
pub(crate) fn public_user_claims(view: &UserView) -> Map<String, Value> {
    match serde_json::to_value(view) {
        Ok(Value::Object(map)) => map,
        // A struct of strings, booleans and a map always serializes to an object.
        _ => Map::new(),
    }
}

/// The payload from `[jwt] claims` (user and session fields) and `[jwt] static_claims`.
pub(crate) fn mapped_payload(
    config: &JwtConfig,
    view: &UserView,
    session: &Session,
) -> Map<String, Value> {
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

    /// The same claims for another audience (an audience-scoped token): `aud` is that one value.
    pub(crate) fn for_audience(&self, audience: &str) -> ClaimsTemplate {
        let mut scoped = self.clone();
        scoped
            .fixed
            .insert("aud".into(), Value::String(audience.to_owned()));
        scoped
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
            allowed_audiences: Vec::new(),
            audience_algs: Default::default(),
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
