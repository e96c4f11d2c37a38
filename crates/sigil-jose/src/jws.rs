//! Compact JWS: signing, and strict verification of header and signature.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::{Alg, Error, JwkSet, KeyPair, Validation, b64, json};

/// Header members this crate understands; everything else is kept in [`Header::extra`] and never
/// acted upon (in particular `jwk`, `jku`, `x5u` and `x5c` are never a source of keys).
const KNOWN: [&str; 4] = ["alg", "kid", "typ", "cty"];

/// A JOSE header.
#[derive(Clone, Debug, PartialEq)]
pub struct Header {
    /// The signature algorithm.
    pub alg: Alg,
    /// The key id.
    pub kid: Option<String>,
    /// The media type of the whole token, `"JWT"` for Sigil's tokens.
    pub typ: Option<String>,
    /// The media type of the payload.
    pub cty: Option<String>,
    /// Other members, kept for inspection only.
    pub extra: Map<String, Value>,
}

impl Header {
    /// The default header for a key: `{alg, kid, typ: "JWT"}`.
    pub fn for_key(key: &KeyPair) -> Self {
        Header {
            alg: key.alg(),
            kid: key.kid().map(str::to_owned),
            typ: Some("JWT".to_owned()),
            cty: None,
            extra: Map::new(),
        }
    }

    fn from_map(mut map: Map<String, Value>) -> Result<Self, Error> {
        if let Some(crit) = map.get("crit") {
            return Err(Error::CritUnsupported(format!("crit {crit}")));
        }
        // RFC 7797 unencoded payloads and compressed payloads change what is signed.
        if map.contains_key("b64") {
            return Err(Error::CritUnsupported("b64".into()));
        }
        if map.contains_key("zip") {
            return Err(Error::CritUnsupported("zip".into()));
        }
        let alg = match map.get("alg") {
            Some(Value::String(s)) => s
                .parse::<Alg>()
                .map_err(|_| Error::AlgNotAllowed(format!("{s:?} is not an accepted algorithm")))?,
            Some(_) => return Err(Error::malformed("\"alg\" must be a string")),
            None => return Err(Error::malformed("header has no \"alg\"")),
        };
        let text = |name: &str| match map.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(Error::malformed(format!("\"{name}\" must be a string"))),
        };
        let kid = text("kid")?;
        let typ = text("typ")?;
        let cty = text("cty")?;
        for name in KNOWN {
            map.remove(name);
        }
        Ok(Header {
            alg,
            kid,
            typ,
            cty,
            extra: map,
        })
    }
}

#[derive(Serialize)]
struct WireHeader<'a> {
    alg: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    kid: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    typ: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cty: Option<&'a str>,
    #[serde(flatten)]
    extra: &'a Map<String, Value>,
}

/// Signs `payload` as a compact JWS. The header's `alg` must be the key's algorithm; `crit` and
/// other extension members are refused so that this crate never emits what it would not accept.
pub fn sign(key: &KeyPair, header: &Header, payload: &[u8]) -> Result<String, Error> {
    if header.alg != key.alg() {
        return Err(Error::AlgNotAllowed(format!(
            "key is bound to {}, header says {}",
            key.alg(),
            header.alg
        )));
    }
    if let Some(name) = ["crit", "b64", "zip"]
        .into_iter()
        .find(|n| header.extra.contains_key(*n))
    {
        return Err(Error::CritUnsupported(name.into()));
    }
    if KNOWN.iter().any(|n| header.extra.contains_key(*n)) {
        return Err(Error::malformed("header extra repeats a standard member"));
    }
    let wire = WireHeader {
        alg: header.alg.as_str(),
        kid: header.kid.as_deref(),
        typ: header.typ.as_deref(),
        cty: header.cty.as_deref(),
        extra: &header.extra,
    };
    let header_json =
        serde_json::to_vec(&wire).map_err(|e| Error::malformed(format!("header: {e}")))?;
    sign_parts(key, &header_json, payload)
}

/// Signs already-serialized header and payload bytes.
pub(crate) fn sign_parts(
    key: &KeyPair,
    header_json: &[u8],
    payload: &[u8],
) -> Result<String, Error> {
    let mut token = String::with_capacity((header_json.len() + payload.len()) * 4 / 3 + 200);
    b64::encode_into(header_json, &mut token);
    token.push('.');
    b64::encode_into(payload, &mut token);
    let signature = key.sign(token.as_bytes())?;
    token.push('.');
    b64::encode_into(&signature, &mut token);
    Ok(token)
}

/// A JWS whose header passed the policy and whose signature verified.
#[derive(Clone, Debug)]
pub struct VerifiedJws {
    /// The protected header.
    pub header: Header,
    /// The payload bytes (not necessarily JSON).
    pub payload: Vec<u8>,
}

/// Verifies a compact JWS: size limit, exactly three canonical base64url segments, a strict JSON
/// header without `crit`, an allowed `alg`, the expected `typ` (when configured), a key found by
/// [`JwkSet::find`], and the signature. Claims are not looked at; see [`crate::verify_jwt`].
pub fn verify_jws(
    token: &str,
    keys: &JwkSet,
    validation: &Validation,
) -> Result<VerifiedJws, Error> {
    let limit = validation.max_token_bytes_value();
    if token.len() > limit {
        return Err(Error::TooLarge {
            size: token.len(),
            limit,
        });
    }
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Error::malformed("a compact JWS has exactly three segments"));
    };
    let header_bytes =
        b64::decode(h).ok_or_else(|| Error::malformed("header is not canonical base64url"))?;
    let header_map =
        json::parse_object(&header_bytes).map_err(|e| Error::malformed(format!("header: {e}")))?;
    let header = Header::from_map(header_map)?;
    if !validation.algs().contains(&header.alg) {
        return Err(Error::AlgNotAllowed(format!(
            "{} is not in the allow-list",
            header.alg
        )));
    }
    if let Some(expected) = validation.typ_value() {
        match &header.typ {
            Some(typ) if typ_eq(typ, expected) => {}
            _ => return Err(Error::TypMismatch),
        }
    }
    let key = keys.find(header.kid.as_deref(), header.alg)?;
    let signature =
        b64::decode(s).ok_or_else(|| Error::malformed("signature is not canonical base64url"))?;
    let payload =
        b64::decode(p).ok_or_else(|| Error::malformed("payload is not canonical base64url"))?;
    let signing_input = &token[..h.len() + 1 + p.len()];
    key.verify(signing_input.as_bytes(), &signature)?;
    Ok(VerifiedJws { header, payload })
}

/// RFC 7515 §4.1.9: media types compare case-insensitively, and `application/` may be omitted.
fn typ_eq(a: &str, b: &str) -> bool {
    fn strip(s: &str) -> &str {
        match (s.get(..12), s.get(12..)) {
            (Some(prefix), Some(rest))
                if prefix.eq_ignore_ascii_case("application/") && !rest.contains('/') =>
            {
                rest
            }
            _ => s,
        }
    }
    strip(a).eq_ignore_ascii_case(strip(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typ_comparison() {
        assert!(typ_eq("JWT", "jwt"));
        assert!(typ_eq("application/at+jwt", "at+JWT"));
        assert!(typ_eq("at+jwt", "APPLICATION/at+jwt"));
        assert!(!typ_eq("JWT", "at+jwt"));
        assert!(!typ_eq("application/", "JWT"));
        assert!(!typ_eq("é", "JWT"));
    }

    #[test]
    fn sign_refuses_foreign_alg_and_extensions() {
        let key = KeyPair::generate(Alg::EdDSA).unwrap();
        let mut header = Header::for_key(&key);
        header.alg = Alg::ES256;
        assert_eq!(
            sign(&key, &header, b"{}").unwrap_err().code(),
            "alg_not_allowed"
        );
        let mut header = Header::for_key(&key);
        header
            .extra
            .insert("crit".into(), serde_json::json!(["exp"]));
        assert_eq!(
            sign(&key, &header, b"{}").unwrap_err().code(),
            "crit_unsupported"
        );
    }

    #[test]
    fn default_header_shape() {
        let key = KeyPair::generate(Alg::ES256).unwrap();
        let token = sign(&key, &Header::for_key(&key), b"{}").unwrap();
        let header = b64::decode(token.split('.').next().unwrap()).unwrap();
        assert_eq!(
            String::from_utf8(header).unwrap(),
            format!(
                r#"{{"alg":"ES256","kid":"{}","typ":"JWT"}}"#,
                key.kid().unwrap()
            )
        );
    }
}
