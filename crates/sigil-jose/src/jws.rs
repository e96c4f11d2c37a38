//! Compact JWS: signing, and strict verification of header and signature.

use serde::Serialize;
use serde::de::MapAccess;
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

    /// Reads a header in one strict pass (see [`json::visit_object`]), then applies the rules.
    fn parse(bytes: &[u8]) -> Result<Self, Error> {
        #[derive(Default)]
        struct Raw {
            alg: Option<Value>,
            kid: Option<Value>,
            typ: Option<Value>,
            cty: Option<Value>,
            extra: Map<String, Value>,
        }
        impl<'de> json::Members<'de> for Raw {
            fn member<A: MapAccess<'de>>(
                &mut self,
                name: json::Key<'de>,
                access: &mut A,
            ) -> Result<(), A::Error> {
                let value = json::read_value(access)?;
                let fresh = match &*name.0 {
                    "alg" => self.alg.replace(value).is_none(),
                    "kid" => self.kid.replace(value).is_none(),
                    "typ" => self.typ.replace(value).is_none(),
                    "cty" => self.cty.replace(value).is_none(),
                    other => self.extra.insert(other.to_owned(), value).is_none(),
                };
                if fresh {
                    Ok(())
                } else {
                    Err(json::duplicate(&name.0))
                }
            }
        }
        let raw = json::visit_object(bytes, Raw::default())
            .map_err(|e| Error::malformed(format!("header: {e}")))?;

        if let Some(crit) = raw.extra.get("crit") {
            return Err(Error::CritUnsupported(format!("crit {crit}")));
        }
        // RFC 7797 unencoded payloads and compressed payloads change what is signed.
        for ext in ["b64", "zip"] {
            if raw.extra.contains_key(ext) {
                return Err(Error::CritUnsupported(ext.into()));
            }
        }
        let alg = match raw.alg {
            Some(Value::String(s)) => s
                .parse::<Alg>()
                .map_err(|_| Error::AlgNotAllowed(format!("{s:?} is not an accepted algorithm")))?,
            Some(_) => return Err(Error::malformed("\"alg\" must be a string")),
            None => return Err(Error::malformed("header has no \"alg\"")),
        };
        let text = |name: &str, v: Option<Value>| match v {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(Error::malformed(format!("\"{name}\" must be a string"))),
        };
        Ok(Header {
            alg,
            kid: text("kid", raw.kid)?,
            typ: text("typ", raw.typ)?,
            cty: text("cty", raw.cty)?,
            extra: raw.extra,
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
    let (header, [h, p, s]) = split_checked(token, validation)?;
    let key = keys.find(header.kid.as_deref(), header.alg)?;
    // The longest signature is RSA-8192's 1024 bytes; decode on the stack.
    let mut signature = [0u8; 1024];
    if s.len() > 1366 {
        return Err(Error::BadSignature);
    }
    let signature_len = b64::decode_into(s, &mut signature)
        .ok_or_else(|| Error::malformed("signature is not canonical base64url"))?;
    let payload =
        b64::decode(p).ok_or_else(|| Error::malformed("payload is not canonical base64url"))?;
    let signing_input = &token[..h.len() + 1 + p.len()];
    key.verify_with(
        header.alg,
        signing_input.as_bytes(),
        &signature[..signature_len],
    )?;
    Ok(VerifiedJws { header, payload })
}

/// The checks of [`verify_jws`] that need no key: size, three segments, a strict header without
/// `crit`, an allowed `alg`, the expected `typ`. Answers the header. For telling a broken token
/// from a good one when the keys are unavailable; a pass here proves nothing about the token.
pub fn check_header(token: &str, validation: &Validation) -> Result<Header, Error> {
    split_checked(token, validation).map(|(header, _)| header)
}

fn split_checked<'t>(
    token: &'t str,
    validation: &Validation,
) -> Result<(Header, [&'t str; 3]), Error> {
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
    let header = Header::parse(&header_bytes)?;
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
    Ok((header, [h, p, s]))
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
