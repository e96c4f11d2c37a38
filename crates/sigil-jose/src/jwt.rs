//! JWTs: claims, validation policy, and the sign/verify entry points.

use std::sync::OnceLock;

use serde::de::{DeserializeOwned, MapAccess};
use serde::{Serialize, Serializer};
use serde_json::{Map, Value};

use crate::jws::{self, Header};
use crate::{Alg, Error, JwkSet, KeyPair, json};

/// Default limit on the size of a token, checked before anything is parsed.
pub const DEFAULT_MAX_TOKEN_BYTES: usize = 16 * 1024;

/// The `aud` claim: one audience or several.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Audience {
    /// `"aud": "x"`
    One(String),
    /// `"aud": ["x", "y"]`
    Many(Vec<String>),
}

impl Audience {
    /// Whether `audience` is one of the values.
    pub fn contains(&self, audience: &str) -> bool {
        match self {
            Audience::One(a) => a == audience,
            Audience::Many(all) => all.iter().any(|a| a == audience),
        }
    }

    fn to_value(&self) -> Value {
        match self {
            Audience::One(a) => Value::String(a.clone()),
            Audience::Many(all) => Value::Array(all.iter().cloned().map(Value::String).collect()),
        }
    }
}

/// A claims set: registered claims typed, every other member kept as JSON.
///
/// Time claims are whole seconds since the epoch. A fractional value in a token is rounded in the
/// strict direction for validation: `exp` down, `nbf` and `iat` up.
///
/// Claims read from a token keep its verified payload: the other members ([`Claims::extra`]) are
/// only materialized when asked for, and [`Claims::deserialize`] reads the caller's type straight
/// from the payload. Verification itself checks every member strictly either way.
#[derive(Clone, Debug, Default)]
pub struct Claims {
    /// `iss`
    pub iss: Option<String>,
    /// `sub`
    pub sub: Option<String>,
    /// `aud`
    pub aud: Option<Audience>,
    /// `exp`
    pub exp: Option<i64>,
    /// `nbf`
    pub nbf: Option<i64>,
    /// `iat`
    pub iat: Option<i64>,
    /// `jti`
    pub jti: Option<String>,
    extra: OnceLock<Map<String, Value>>,
    payload: Option<Box<[u8]>>,
}

impl PartialEq for Claims {
    fn eq(&self, other: &Self) -> bool {
        (
            &self.iss, &self.sub, &self.aud, self.exp, self.nbf, self.iat, &self.jti,
        ) == (
            &other.iss, &other.sub, &other.aud, other.exp, other.nbf, other.iat, &other.jti,
        ) && self.extra() == other.extra()
    }
}

#[derive(Clone, Copy)]
enum Rounding {
    Down,
    Up,
}

/// The registered claim names (RFC 7519 §4.1).
const REGISTERED: [&str; 7] = ["iss", "sub", "aud", "exp", "nbf", "iat", "jti"];

/// The registered claims as read, before their types are checked.
#[derive(Default)]
struct RawRegistered {
    iss: Option<Value>,
    sub: Option<Value>,
    aud: Option<Value>,
    exp: Option<Value>,
    nbf: Option<Value>,
    iat: Option<Value>,
    jti: Option<Value>,
}

impl RawRegistered {
    fn slot(&mut self, name: &str) -> Option<&mut Option<Value>> {
        Some(match name {
            "iss" => &mut self.iss,
            "sub" => &mut self.sub,
            "aud" => &mut self.aud,
            "exp" => &mut self.exp,
            "nbf" => &mut self.nbf,
            "iat" => &mut self.iat,
            "jti" => &mut self.jti,
            _ => return None,
        })
    }
}

/// Reading claims from any serde source (for example as the target type of
/// `Verifier::verify::<Claims>`): the same rules as [`Claims::from_object`].
impl<'de> serde::Deserialize<'de> for Claims {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let map = Map::<String, Value>::deserialize(deserializer)?;
        Claims::from_object(map).map_err(serde::de::Error::custom)
    }
}

impl Claims {
    /// Reads a claims object; registered claims of the wrong JSON type are an error.
    pub fn from_object(mut map: Map<String, Value>) -> Result<Self, Error> {
        let mut raw = RawRegistered::default();
        for name in REGISTERED {
            if let (Some(value), Some(slot)) = (map.remove(name), raw.slot(name)) {
                *slot = Some(value);
            }
        }
        Self::from_parts(raw, Some(map))
    }

    /// Reads claims from a verified payload in one strict pass; registered claims are read,
    /// the others only checked (they are materialized on demand by [`Claims::extra`]).
    fn parse(payload: Vec<u8>) -> Result<Self, Error> {
        struct Sink<'de> {
            raw: RawRegistered,
            others: json::SeenNames<'de>,
        }
        impl<'de> json::Members<'de> for Sink<'de> {
            fn member<A: MapAccess<'de>>(
                &mut self,
                name: json::Key<'de>,
                access: &mut A,
            ) -> Result<(), A::Error> {
                if let Some(slot) = self.raw.slot(&name.0) {
                    let value = json::read_value(access)?;
                    if slot.replace(value).is_some() {
                        return Err(json::duplicate(&name.0));
                    }
                    return Ok(());
                }
                json::skip_value(access)?;
                let text = name.0.clone();
                if self.others.insert(name) {
                    Ok(())
                } else {
                    Err(json::duplicate(&text))
                }
            }
        }
        let sink = Sink {
            raw: RawRegistered::default(),
            others: json::SeenNames::default(),
        };
        let raw = json::visit_object(&payload, sink)
            .map_err(|e| match e {
                json::JsonError::NotAnObject => {
                    Error::ClaimsInvalid("claims are not a JSON object".into())
                }
                json::JsonError::Syntax(msg) => Error::malformed(format!("claims: {msg}")),
            })?
            .raw;
        let mut claims = Self::from_parts(raw, None)?;
        claims.payload = Some(payload.into_boxed_slice());
        Ok(claims)
    }

    /// The claims other than the registered ones.
    pub fn extra(&self) -> &Map<String, Value> {
        self.extra.get_or_init(|| {
            // The payload was checked strictly when the claims were read, so this cannot fail;
            // an empty map is the safe answer if it somehow did.
            let mut map = self
                .payload
                .as_deref()
                .and_then(|p| json::parse_object(p).ok())
                .unwrap_or_default();
            for name in REGISTERED {
                map.remove(name);
            }
            map
        })
    }

    /// Replaces the claims other than the registered ones (registered names in `extra` are
    /// dropped: set them through the fields).
    #[must_use]
    pub fn with_extra(mut self, mut extra: Map<String, Value>) -> Self {
        for name in REGISTERED {
            extra.remove(name);
        }
        self.extra = OnceLock::from(extra);
        self.payload = None;
        self
    }

    fn from_parts(raw: RawRegistered, extra: Option<Map<String, Value>>) -> Result<Self, Error> {
        let text = |name: &str, v: Option<Value>| match v {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(Error::ClaimsInvalid(format!("\"{name}\" must be a string"))),
        };
        let iss = text("iss", raw.iss)?;
        let sub = text("sub", raw.sub)?;
        let jti = text("jti", raw.jti)?;
        let aud = match raw.aud {
            None => None,
            Some(Value::String(a)) => Some(Audience::One(a)),
            Some(Value::Array(items)) => {
                let all = items
                    .into_iter()
                    .map(|v| match v {
                        Value::String(s) => Ok(s),
                        _ => Err(Error::ClaimsInvalid("\"aud\" must hold strings".into())),
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                Some(Audience::Many(all))
            }
            Some(_) => {
                return Err(Error::ClaimsInvalid(
                    "\"aud\" must be a string or an array of strings".into(),
                ));
            }
        };
        let time = |name: &str, v: Option<Value>, rounding: Rounding| match v {
            None => Ok(None),
            Some(Value::Number(n)) => Ok(Some(numeric_date(&n, rounding))),
            Some(_) => Err(Error::ClaimsInvalid(format!("\"{name}\" must be a number"))),
        };
        let exp = time("exp", raw.exp, Rounding::Down)?;
        let nbf = time("nbf", raw.nbf, Rounding::Up)?;
        let iat = time("iat", raw.iat, Rounding::Up)?;
        Ok(Claims {
            iss,
            sub,
            aud,
            exp,
            nbf,
            iat,
            jti,
            extra: extra.map(OnceLock::from).unwrap_or_default(),
            payload: None,
        })
    }

    /// The claims as one JSON object (registered claims first, then the others).
    pub fn to_object(&self) -> Map<String, Value> {
        let mut map = Map::new();
        let mut put = |k: &str, v: Option<Value>| {
            if let Some(v) = v {
                map.insert(k.to_owned(), v);
            }
        };
        put("iss", self.iss.clone().map(Value::String));
        put("sub", self.sub.clone().map(Value::String));
        put("aud", self.aud.as_ref().map(Audience::to_value));
        put("exp", self.exp.map(Value::from));
        put("nbf", self.nbf.map(Value::from));
        put("iat", self.iat.map(Value::from));
        put("jti", self.jti.clone().map(Value::String));
        for (k, v) in self.extra() {
            map.insert(k.clone(), v.clone());
        }
        map
    }

    /// The verified payload of the token these claims were read from, as compact JSON text:
    /// exactly as signed, every member in its order with its value as written (a fractional
    /// `exp` stays fractional; only the typed fields round it, for judging), with the whitespace
    /// between tokens removed so that it fits on one line. `None` for claims not read from a
    /// token or given new members with [`Claims::with_extra`]; changes to the public fields are
    /// not reflected here.
    pub fn payload_json(&self) -> Option<String> {
        self.payload.as_deref().map(json::compact)
    }

    /// Deserializes the whole claims set into the caller's own type (straight from the token's
    /// payload when the claims came from a token).
    pub fn deserialize<T: DeserializeOwned>(&self) -> Result<T, Error> {
        let result = match &self.payload {
            Some(payload) => serde_json::from_slice(payload),
            None => serde_json::from_value(Value::Object(self.to_object())),
        };
        result.map_err(|e| Error::ClaimsInvalid(e.to_string()))
    }
}

impl Serialize for Claims {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_object().serialize(s)
    }
}

fn numeric_date(n: &serde_json::Number, rounding: Rounding) -> i64 {
    if let Some(i) = n.as_i64() {
        return i;
    }
    if n.is_u64() {
        return i64::MAX;
    }
    let f = n.as_f64().unwrap_or(0.0);
    let r = match rounding {
        Rounding::Down => f.floor(),
        Rounding::Up => f.ceil(),
    };
    // `as` saturates at the i64 bounds; JSON numbers are always finite.
    #[allow(clippy::cast_possible_truncation)]
    let r = r as i64;
    r
}

/// What a verifier accepts. The algorithm allow-list is required; everything else defaults to
/// strict: `exp` required, no leeway, 16 KiB size limit, and a token carrying `aud` is refused
/// unless an expected audience is configured.
#[derive(Clone, Debug)]
pub struct Validation {
    algs: Vec<Alg>,
    issuer: Option<String>,
    audiences: Vec<String>,
    typ: Option<String>,
    leeway: i64,
    require_exp: bool,
    max_token_bytes: usize,
}

impl Validation {
    /// A policy accepting only `algs` (an empty list accepts nothing).
    pub fn new(algs: impl IntoIterator<Item = Alg>) -> Self {
        Validation {
            algs: algs.into_iter().collect(),
            issuer: None,
            audiences: Vec::new(),
            typ: None,
            leeway: 0,
            require_exp: true,
            max_token_bytes: DEFAULT_MAX_TOKEN_BYTES,
        }
    }

    /// Requires `iss` to equal `issuer` exactly.
    #[must_use]
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// Adds an accepted audience; `aud` must contain at least one accepted audience.
    #[must_use]
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audiences.push(audience.into());
        self
    }

    /// Requires the header `typ` to equal `typ` (case-insensitive, `application/` optional).
    #[must_use]
    pub fn typ(mut self, typ: impl Into<String>) -> Self {
        self.typ = Some(typ.into());
        self
    }

    /// Clock skew tolerated on `exp`, `nbf` and `iat`, in seconds.
    #[must_use]
    pub fn leeway(mut self, seconds: u32) -> Self {
        self.leeway = i64::from(seconds);
        self
    }

    /// Accepts tokens without `exp` (they are refused by default).
    #[must_use]
    pub fn allow_missing_exp(mut self) -> Self {
        self.require_exp = false;
        self
    }

    /// The size limit checked before any parsing.
    #[must_use]
    pub fn max_token_bytes(mut self, bytes: usize) -> Self {
        self.max_token_bytes = bytes;
        self
    }

    /// The algorithm allow-list.
    pub fn algs(&self) -> &[Alg] {
        &self.algs
    }

    pub(crate) fn typ_value(&self) -> Option<&str> {
        self.typ.as_deref()
    }

    pub(crate) fn max_token_bytes_value(&self) -> usize {
        self.max_token_bytes
    }

    /// Checks the claims against this policy at time `now` (seconds since the epoch).
    pub fn check_claims(&self, claims: &Claims, now: i64) -> Result<(), Error> {
        let leeway = self.leeway;
        match claims.exp {
            Some(exp) if now >= exp.saturating_add(leeway) => return Err(Error::Expired),
            None if self.require_exp => {
                return Err(Error::ClaimsInvalid("\"exp\" is required".into()));
            }
            _ => {}
        }
        if let Some(nbf) = claims.nbf
            && now.saturating_add(leeway) < nbf
        {
            return Err(Error::NotYetValid);
        }
        if let Some(iat) = claims.iat
            && iat > now.saturating_add(leeway)
        {
            return Err(Error::IatInFuture);
        }
        if let Some(issuer) = &self.issuer
            && claims.iss.as_deref() != Some(issuer.as_str())
        {
            return Err(Error::IssMismatch);
        }
        match &claims.aud {
            None if self.audiences.is_empty() => {}
            None => return Err(Error::AudMismatch),
            Some(aud) => {
                if !self.audiences.iter().any(|a| aud.contains(a)) {
                    return Err(Error::AudMismatch);
                }
            }
        }
        Ok(())
    }
}

/// Signs `claims` as a JWT with the default header `{alg, kid, typ: "JWT"}`.
pub fn sign_jwt<C: Serialize + ?Sized>(key: &KeyPair, claims: &C) -> Result<String, Error> {
    sign_jwt_with_header(key, &Header::for_key(key), claims)
}

/// Signs `claims` as a JWT with a custom header (its `alg` must be the key's).
pub fn sign_jwt_with_header<C: Serialize + ?Sized>(
    key: &KeyPair,
    header: &Header,
    claims: &C,
) -> Result<String, Error> {
    let payload =
        serde_json::to_vec(claims).map_err(|e| Error::ClaimsInvalid(format!("claims: {e}")))?;
    if payload.first() != Some(&b'{') {
        return Err(Error::ClaimsInvalid(
            "claims must serialize to a JSON object".into(),
        ));
    }
    jws::sign(key, header, &payload)
}

/// Verifies a JWT: everything [`jws::verify_jws`] checks, then a strict JSON claims object, then
/// the claims against `validation` at time `now` (seconds since the epoch).
pub fn verify_jwt(
    token: &str,
    keys: &JwkSet,
    validation: &Validation,
    now: i64,
) -> Result<Claims, Error> {
    let verified = jws::verify_jws(token, keys, validation)?;
    if verified
        .header
        .cty
        .as_deref()
        .is_some_and(|c| c.eq_ignore_ascii_case("JWT"))
    {
        return Err(Error::malformed("nested JWTs are not supported"));
    }
    let claims = Claims::parse(verified.payload)?;
    validation.check_claims(&claims, now)?;
    Ok(claims)
}

/// [`verify_jwt`], then deserializes the claims into the caller's type.
pub fn verify_jwt_as<T: DeserializeOwned>(
    token: &str,
    keys: &JwkSet,
    validation: &Validation,
    now: i64,
) -> Result<T, Error> {
    verify_jwt(token, keys, validation, now)?.deserialize()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(v: Value) -> Claims {
        Claims::from_object(v.as_object().unwrap().clone()).unwrap()
    }

    #[test]
    fn time_boundaries() {
        let v = Validation::new([Alg::EdDSA]);
        let c = claims(json!({"exp": 100, "nbf": 50, "iat": 50}));
        assert!(v.check_claims(&c, 99).is_ok());
        assert_eq!(v.check_claims(&c, 100).unwrap_err(), Error::Expired);
        assert_eq!(v.check_claims(&c, 49).unwrap_err(), Error::NotYetValid);
        let v = v.leeway(5);
        assert!(v.check_claims(&c, 104).is_ok());
        assert_eq!(v.check_claims(&c, 105).unwrap_err(), Error::Expired);
        assert!(v.check_claims(&c, 45).is_ok());
        // nbf and iat both fail at 44; nbf is checked first.
        assert_eq!(v.check_claims(&c, 44).unwrap_err(), Error::NotYetValid);
    }

    #[test]
    fn iat_in_future() {
        let v = Validation::new([Alg::EdDSA]);
        let c = claims(json!({"exp": 1000, "iat": 60}));
        assert_eq!(v.check_claims(&c, 59).unwrap_err(), Error::IatInFuture);
        assert!(v.check_claims(&c, 60).is_ok());
    }

    #[test]
    fn fractional_times_round_strictly() {
        let c = claims(json!({"exp": 100.9, "nbf": 50.1, "iat": 1e300}));
        assert_eq!((c.exp, c.nbf, c.iat), (Some(100), Some(51), Some(i64::MAX)));
        let c = claims(json!({"exp": 18446744073709551615u64}));
        assert_eq!(c.exp, Some(i64::MAX));
        assert!(
            Validation::new([Alg::EdDSA])
                .check_claims(&c, i64::MAX - 1)
                .is_ok()
        );
    }

    #[test]
    fn payload_json_is_the_payload_as_signed() {
        let payload =
            b"{\"sub\":\"u1\",\r\n \"exp\":1800000600.5, \"nbf\":1.7999e9,\n\"x\":[1.50]}";
        let c = Claims::parse(payload.to_vec()).unwrap();
        assert_eq!((c.exp, c.nbf), (Some(1_800_000_600), Some(1_799_900_000)));
        assert_eq!(
            c.payload_json().as_deref(),
            Some(r#"{"sub":"u1","exp":1800000600.5,"nbf":1.7999e9,"x":[1.50]}"#)
        );
        // The whole token round: signed, verified, printed as signed.
        let key = KeyPair::generate(Alg::EdDSA).unwrap();
        let text = r#"{"exp":1800000600.25,"sub":"u1","big":123456789012345678901234567890}"#;
        let token = crate::jws::sign(&key, &Header::for_key(&key), text.as_bytes()).unwrap();
        let keys = JwkSet::new(vec![key.public_key().clone()]).unwrap();
        let verified = verify_jwt(&token, &keys, &Validation::new([Alg::EdDSA]), 0).unwrap();
        assert_eq!(verified.payload_json().as_deref(), Some(text));
        // Claims made in code, or given other members, have no payload.
        assert_eq!(claims(json!({"exp": 1})).payload_json(), None);
        assert_eq!(verified.with_extra(Map::new()).payload_json(), None);
    }

    #[test]
    fn exp_required_unless_allowed() {
        let c = claims(json!({"sub": "x"}));
        assert_eq!(
            Validation::new([Alg::EdDSA])
                .check_claims(&c, 0)
                .unwrap_err()
                .code(),
            "claims_invalid"
        );
        assert!(
            Validation::new([Alg::EdDSA])
                .allow_missing_exp()
                .check_claims(&c, 0)
                .is_ok()
        );
    }

    #[test]
    fn wrong_types_are_refused() {
        for bad in [
            json!({"exp": "100"}),
            json!({"exp": true}),
            json!({"exp": null}),
            json!({"nbf": [1]}),
            json!({"iat": {}}),
            json!({"iss": 1}),
            json!({"sub": null}),
            json!({"aud": 1}),
            json!({"aud": [1]}),
            json!({"aud": ["a", null]}),
            json!({"jti": 5}),
        ] {
            let err = Claims::from_object(bad.as_object().unwrap().clone()).unwrap_err();
            assert_eq!(err.code(), "claims_invalid", "{bad}");
        }
    }

    #[test]
    fn issuer_and_audience() {
        let v = Validation::new([Alg::EdDSA])
            .issuer("https://a")
            .audience("svc");
        let ok = claims(json!({"exp": 10, "iss": "https://a", "aud": ["x", "svc"]}));
        assert!(v.check_claims(&ok, 0).is_ok());
        for (bad, code) in [
            (
                json!({"exp": 10, "iss": "https://a/", "aud": "svc"}),
                "iss_mismatch",
            ),
            (json!({"exp": 10, "aud": "svc"}), "iss_mismatch"),
            (
                json!({"exp": 10, "iss": "https://a", "aud": "svc2"}),
                "aud_mismatch",
            ),
            (
                json!({"exp": 10, "iss": "https://a", "aud": "sv"}),
                "aud_mismatch",
            ),
            (
                json!({"exp": 10, "iss": "https://a", "aud": []}),
                "aud_mismatch",
            ),
            (
                json!({"exp": 10, "iss": "https://a", "aud": ""}),
                "aud_mismatch",
            ),
            (json!({"exp": 10, "iss": "https://a"}), "aud_mismatch"),
        ] {
            assert_eq!(
                v.check_claims(&claims(bad.clone()), 0).unwrap_err().code(),
                code,
                "{bad}"
            );
        }
        // A token with an audience needs a verifier that expects one.
        let open = Validation::new([Alg::EdDSA]);
        assert_eq!(
            open.check_claims(&claims(json!({"exp": 10, "aud": "svc"})), 0)
                .unwrap_err()
                .code(),
            "aud_mismatch"
        );
        assert!(open.check_claims(&claims(json!({"exp": 10})), 0).is_ok());
    }

    #[test]
    fn typed_deserialize_and_round_trip() {
        #[derive(serde::Deserialize)]
        struct Mine {
            sub: String,
            role: String,
        }
        let c = claims(json!({"sub": "u1", "role": "admin", "exp": 5, "aud": ["a"]}));
        let mine: Mine = c.deserialize().unwrap();
        assert_eq!((mine.sub.as_str(), mine.role.as_str()), ("u1", "admin"));
        assert_eq!(claims(Value::Object(c.to_object())), c);
        assert_eq!(c.extra().len(), 1);
    }
}
