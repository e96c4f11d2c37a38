//! A JWT as the client holds it: the compact token and the times read from its payload.

use std::fmt;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::Error;

/// A JWT handed out by the auth server. Its `Debug` shows only the times, never the token.
///
/// The times are read **without verifying** the token: the client trusts its own server (over
/// TLS) for what it is handed, and only needs `exp` to know when to fetch a new one.
#[derive(Clone)]
pub struct Jwt {
    token: Arc<str>,
    exp: Option<i64>,
    iat: Option<i64>,
}

impl fmt::Debug for Jwt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Jwt")
            .field("token", &"<redacted>")
            .field("exp", &self.exp)
            .field("iat", &self.iat)
            .finish()
    }
}

impl Jwt {
    /// Reads a compact JWT's payload (not verified). An error when it is not three segments with
    /// a base64url JSON object in the middle.
    pub fn parse(token: impl Into<String>) -> Result<Jwt, Error> {
        let token: String = token.into();
        let claims = payload(&token)?;
        let time = |name: &str| claims.get(name).and_then(Value::as_f64).map(|t| t as i64);
        Ok(Jwt {
            exp: time("exp"),
            iat: time("iat"),
            token: token.into(),
        })
    }

    /// The compact token, for an `Authorization: Bearer` header. Do not log it.
    pub fn as_str(&self) -> &str {
        &self.token
    }

    /// `exp`, seconds since the epoch (rounded down), if the token has one.
    pub fn expires_at(&self) -> Option<i64> {
        self.exp
    }

    /// `iat`, seconds since the epoch, if the token has one.
    pub fn issued_at(&self) -> Option<i64> {
        self.iat
    }

    /// The claims, read **without verification** (for display and routing, not for trust).
    pub fn claims_unverified(&self) -> Result<sigil_jose::Claims, Error> {
        sigil_jose::Claims::from_object(payload(&self.token)?)
            .map_err(|e| Error::Decode(format!("token claims: {e}")))
    }

    /// Whether the token is still good for more than `margin` seconds at `now`. The margin is
    /// capped at half the token's lifetime (`exp - iat`), so that a token that lives less than
    /// twice the margin is still reused for a while instead of being fetched on every call. A
    /// token without `exp` is never reused.
    pub(crate) fn fresh_at(&self, now: i64, margin: i64) -> bool {
        let Some(exp) = self.exp else {
            return false;
        };
        let margin = match self.iat {
            Some(iat) if exp > iat => margin.min((exp - iat) / 2),
            _ => margin,
        };
        now.saturating_add(margin) < exp
    }
}

fn payload(token: &str) -> Result<Map<String, Value>, Error> {
    let mut parts = token.split('.');
    let (Some(_), Some(payload), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Error::Decode("the token is not a compact JWT".into()));
    };
    let bytes = sigil_jose::b64::decode(payload)
        .ok_or_else(|| Error::Decode("the token's payload is not base64url".into()))?;
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(Error::Decode(
            "the token's payload is not a JSON object".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(claims: &str) -> String {
        let b = |s: &str| sigil_jose::b64::encode(s.as_bytes());
        format!("{}.{}.{}", b(r#"{"alg":"EdDSA"}"#), b(claims), b("sig"))
    }

    #[test]
    fn reads_times_and_redacts_debug() {
        let jwt = Jwt::parse(token(r#"{"sub":"u","iat":1000,"exp":1900.7}"#)).ok();
        let jwt = jwt.as_ref();
        assert_eq!(jwt.and_then(Jwt::expires_at), Some(1900));
        assert_eq!(jwt.and_then(Jwt::issued_at), Some(1000));
        let debug = format!("{jwt:?}");
        assert!(
            debug.contains("<redacted>") && !debug.contains("eyJ"),
            "{debug}"
        );
    }

    #[test]
    fn freshness_and_margin_cap() {
        let Ok(jwt) = Jwt::parse(token(r#"{"iat":1000,"exp":1900}"#)) else {
            panic!("parse")
        };
        assert!(jwt.fresh_at(1839, 60));
        assert!(!jwt.fresh_at(1840, 60));
        assert!(!jwt.fresh_at(1900, 60));
        // A 30 s token with a 60 s margin: reused for its first half.
        let Ok(short) = Jwt::parse(token(r#"{"iat":1000,"exp":1030}"#)) else {
            panic!("parse")
        };
        assert!(short.fresh_at(1014, 60));
        assert!(!short.fresh_at(1015, 60));
        let Ok(no_exp) = Jwt::parse(token(r#"{"iat":1000}"#)) else {
            panic!("parse")
        };
        assert!(!no_exp.fresh_at(0, 0));
    }

    #[test]
    fn malformed() {
        for bad in ["", "a.b", "a.b.c.d", "a.!!.c", &token("[1]")] {
            assert!(matches!(Jwt::parse(bad), Err(Error::Decode(_))), "{bad}");
        }
    }
}
