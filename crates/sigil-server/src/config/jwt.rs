//! The `[jwt]` and `[jwks]` settings resolved: how session tokens are minted, which claims they
//! carry, and how signing keys live (algorithm, rotation, publication). Also the validation of
//! `[[user_fields]]`, since claims may name those fields.

use chrono::TimeDelta;
use serde_json::{Map, Value};

use super::settings::{Audiences, JwksSettings, JwtSettings, TimeSpan, UserFieldSettings};
use super::{ConfigError, invalid};
use crate::user_fields::UserField;

/// How session tokens are minted (`[jwt]`).
#[derive(Clone, Debug)]
pub struct JwtConfig {
    /// Token lifetime.
    pub expiration: TimeDelta,
    /// `iss`.
    pub issuer: String,
    /// `aud` (serialized as a string when there is one).
    pub audience: Vec<String>,
    /// Audiences a session may ask a token for instead (`GET /token?audience=…`).
    pub allowed_audiences: Vec<String>,
    /// The algorithm of tokens for some of those audiences (others: the default one).
    pub audience_algs: std::collections::BTreeMap<String, sigil_jose::Alg>,
    /// Claims mapped from user/session fields (empty: the default payload).
    pub claims: Vec<(String, ClaimSource)>,
    /// Fixed claims.
    pub static_claims: Map<String, Value>,
    /// Whether get-session carries `set-auth-jwt`.
    pub set_jwt_header: bool,
}

/// How signing keys are made, rotated and published (`[jwks]`, and `[jwt] alg`/`algs`).
#[derive(Clone, Debug)]
pub struct KeysConfig {
    /// The default signing algorithm: the first of `algs`.
    pub alg: sigil_jose::Alg,
    /// Every algorithm Sigil keeps keys for and signs with (the default first, no repeats).
    pub algs: Vec<sigil_jose::Alg>,
    /// RSA modulus size.
    pub rsa_bits: usize,
    /// Route of the key set.
    pub jwks_path: String,
    /// Rotation interval, if any.
    pub rotation_interval: Option<TimeDelta>,
    /// How long retired keys stay published.
    pub grace_period: TimeDelta,
    /// JWKS `Cache-Control: max-age`.
    pub max_age: TimeDelta,
    /// Whether private keys are encrypted at rest.
    pub encrypt_private_keys: bool,
}

impl KeysConfig {
    /// The algorithm of a stored RSA key with no `alg` (written before Better Auth 1.7): the
    /// first configured RSA algorithm, else RS256.
    pub fn legacy_rsa_alg(&self) -> sigil_jose::Alg {
        self.algs
            .iter()
            .copied()
            .find(|a| a.is_rsa())
            .unwrap_or(sigil_jose::Alg::RS256)
    }
}

/// Where a mapped claim comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClaimSource {
    /// A user field (core or additional).
    User(String),
    /// A session field.
    Session(String),
}

/// Registered claim names: set by Sigil's rules, never by configuration or user data.
pub const REGISTERED_CLAIMS: [&str; 7] = ["iss", "sub", "aud", "exp", "nbf", "iat", "jti"];

/// The user fields a claim may name (besides additional fields).
pub const USER_FIELDS: [&str; 7] = [
    "id",
    "name",
    "email",
    "emailVerified",
    "image",
    "createdAt",
    "updatedAt",
];
/// The session fields a claim may name (never the session token).
pub const SESSION_FIELDS: [&str; 6] = [
    "id",
    "userId",
    "expiresAt",
    "createdAt",
    "ipAddress",
    "userAgent",
];

/// A positive span, in seconds, of at most ten years (so that date arithmetic cannot overflow).
fn span(value: Option<&TimeSpan>, key: &str, default: i64) -> Result<TimeDelta, ConfigError> {
    let seconds = value.map_or(Ok(default), |s| s.seconds(key))?;
    if seconds <= 0 {
        return Err(invalid(key, "must be a positive time span"));
    }
    if seconds > 10 * 366 * 86_400 {
        return Err(invalid(key, "must be at most 10 years"));
    }
    TimeDelta::try_seconds(seconds).ok_or_else(|| invalid(key, "is out of range"))
}

/// A signing algorithm's name, parsed.
fn signing_alg(name: &str, key: &str) -> Result<sigil_jose::Alg, ConfigError> {
    name.parse()
        .ok()
        .filter(|a: &sigil_jose::Alg| a.can_sign())
        .ok_or_else(|| {
            invalid(
                key,
                format!("{name:?} is not one of EdDSA, ES256, ES512, PS256, RS256"),
            )
        })
}

/// `[jwt] algs`, or `alg` alone: never empty, no repeats, the default first.
fn signing_algs(jwt: &JwtSettings) -> Result<Vec<sigil_jose::Alg>, ConfigError> {
    let one = jwt
        .alg
        .as_deref()
        .map(|a| signing_alg(a, "jwt.alg"))
        .transpose()?;
    let Some(names) = &jwt.algs else {
        return Ok(vec![one.unwrap_or(sigil_jose::Alg::EdDSA)]);
    };
    let mut algs = Vec::new();
    for name in names {
        let alg = signing_alg(name, "jwt.algs")?;
        if algs.contains(&alg) {
            return Err(invalid("jwt.algs", format!("{alg} is listed twice")));
        }
        algs.push(alg);
    }
    match (algs.first(), one) {
        (None, _) => Err(invalid("jwt.algs", "must name at least one algorithm")),
        (Some(first), Some(one)) if *first != one => Err(invalid(
            "jwt.alg",
            format!(
                "is {one} but jwt.algs starts with {first}: the first of jwt.algs is the default; set one of them"
            ),
        )),
        _ => Ok(algs),
    }
}

/// The key settings; `expiration` is the token lifetime the grace period must cover.
pub(super) fn keys_config(
    jwt: &JwtSettings,
    jwks: &JwksSettings,
    expiration: TimeDelta,
) -> Result<KeysConfig, ConfigError> {
    let algs = signing_algs(jwt)?;
    let alg = algs[0];
    let max_age = span(jwks.max_age.as_ref(), "jwks.max_age", 300)?;
    let rotation_interval = jwks
        .rotation_interval
        .as_ref()
        .map(|s| span(Some(s), "jwks.rotation_interval", 0))
        .transpose()?;
    let grace_period = span(jwks.grace_period.as_ref(), "jwks.grace_period", 30 * 86_400)?;
    // The successor is published max-age + 1 min before it signs; the interval must leave room
    // for that twice over.
    if let Some(interval) = rotation_interval
        && interval < (max_age + TimeDelta::minutes(1)) * 2
    {
        return Err(invalid(
            "jwks.rotation_interval",
            "must be at least twice (JWKS max-age + 1 minute), so that each key is published ahead of use",
        ));
    }
    if grace_period < expiration + max_age {
        return Err(invalid(
            "jwks.grace_period",
            "must be at least the token lifetime plus the JWKS max-age, or verifiers could meet a \
             token whose key is no longer published",
        ));
    }
    let jwks_path = jwks.path.clone().unwrap_or_else(|| "/jwks".to_owned());
    if !jwks_path.starts_with('/')
        || jwks_path.len() < 2
        || jwks_path.ends_with('/')
        || jwks_path.contains("//")
        || jwks_path.contains("..")
        || jwks_path.contains(['?', '#', ' ', '{', '}', '*', ':'])
        || crate::paths::FIXED.contains(&jwks_path.as_str())
    {
        return Err(invalid(
            "jwks.path",
            "must be a path like /jwks or /.well-known/jwks.json, not another route",
        ));
    }
    let rsa_bits = jwks.rsa_modulus_bits.unwrap_or(2048);
    if ![2048, 3072, 4096].contains(&rsa_bits) {
        return Err(invalid(
            "jwks.rsa_modulus_bits",
            "must be 2048, 3072 or 4096",
        ));
    }
    Ok(KeysConfig {
        alg,
        algs,
        rsa_bits,
        jwks_path,
        rotation_interval,
        grace_period,
        max_age,
        encrypt_private_keys: !jwks.disable_private_key_encryption.unwrap_or(false),
    })
}

/// The token settings; `origin` is the default issuer and audience.
pub(super) fn jwt_config(
    jwt: &JwtSettings,
    origin: &str,
    fields: &[UserField],
) -> Result<JwtConfig, ConfigError> {
    let audience = match &jwt.audience {
        None => vec![origin.to_owned()],
        Some(Audiences::One(a)) => vec![a.clone()],
        Some(Audiences::Many(all)) if !all.is_empty() => all.clone(),
        Some(Audiences::Many(_)) => {
            return Err(invalid("jwt.audience", "must not be an empty list"));
        }
    };
    let mut claims = Vec::new();
    for (claim, source) in jwt.claims.iter().flatten() {
        if REGISTERED_CLAIMS.contains(&claim.as_str()) {
            return Err(invalid(
                "jwt.claims",
                format!("{claim} is a registered claim that Sigil sets; it cannot be mapped"),
            ));
        }
        let parsed = match source.split_once('.') {
            Some(("user", f)) if USER_FIELDS.contains(&f) || fields.iter().any(|u| u.name == f) => {
                ClaimSource::User(f.to_owned())
            }
            Some(("session", f)) if SESSION_FIELDS.contains(&f) => {
                ClaimSource::Session(f.to_owned())
            }
            _ => {
                return Err(invalid(
                    "jwt.claims",
                    format!(
                        "{claim} = {source:?}: expected \"user.<field>\" or \"session.<field>\" naming an existing field"
                    ),
                ));
            }
        };
        claims.push((claim.clone(), parsed));
    }
    let allowed_audiences = jwt.allowed_audiences.clone().unwrap_or_default();
    if let Some(bad) = allowed_audiences
        .iter()
        .find(|a| a.trim().is_empty() || a.trim() != a.as_str())
    {
        return Err(invalid(
            "jwt.allowed_audiences",
            format!("{bad:?}: an audience is a non-empty value without surrounding spaces"),
        ));
    }
    let mut audience_algs = std::collections::BTreeMap::new();
    for (audience, name) in jwt.audience_algs.iter().flatten() {
        if !allowed_audiences.contains(audience) {
            return Err(invalid(
                "jwt.audience_algs",
                format!("{audience:?} is not in jwt.allowed_audiences"),
            ));
        }
        audience_algs.insert(audience.clone(), signing_alg(name, "jwt.audience_algs")?);
    }
    let static_claims = jwt.static_claims.clone().unwrap_or_default();
    if let Some(name) = REGISTERED_CLAIMS
        .iter()
        .find(|n| static_claims.contains_key(**n))
    {
        return Err(invalid(
            "jwt.static_claims",
            format!("{name} is a registered claim that Sigil sets; it cannot be static"),
        ));
    }
    Ok(JwtConfig {
        expiration: span(jwt.expiration_time.as_ref(), "jwt.expiration_time", 900)?,
        issuer: jwt.issuer.clone().unwrap_or_else(|| origin.to_owned()),
        audience,
        allowed_audiences,
        audience_algs,
        claims,
        static_claims,
        set_jwt_header: !jwt.disable_setting_jwt_header.unwrap_or(false),
    })
}

/// The declared user fields, validated (names safe as SQL columns, defaults of their type).
pub(super) fn user_fields(declared: &[UserFieldSettings]) -> Result<Vec<UserField>, ConfigError> {
    let mut out: Vec<UserField> = Vec::new();
    for f in declared {
        let name_ok = f.name.len() <= 63
            && f.name
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && f.name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !name_ok {
            return Err(invalid(
                "user_fields.name",
                format!("{:?} must be letters, digits and _", f.name),
            ));
        }
        let taken = |n: &str| n.eq_ignore_ascii_case(&f.name);
        if USER_FIELDS.iter().any(|n| taken(n))
            || REGISTERED_CLAIMS.iter().any(|n| taken(n))
            || out.iter().any(|o| taken(&o.name))
        {
            return Err(invalid(
                "user_fields.name",
                format!("{:?} is already a user field", f.name),
            ));
        }
        let default = f.default.clone().unwrap_or(Value::Null);
        if !f.kind.accepts(&default) {
            return Err(invalid(
                "user_fields.default",
                format!("default of {:?} is not a {:?}", f.name, f.kind),
            ));
        }
        out.push(UserField {
            name: f.name.clone(),
            kind: f.kind,
            default,
        });
    }
    Ok(out)
}
