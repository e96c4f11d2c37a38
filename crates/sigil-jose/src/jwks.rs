//! JWK Sets: the published form of public keys, and the key lookup used by verification.

use std::collections::HashMap;

use serde_json::Value;

use crate::{Alg, Error, PublicKey, json};

/// A set of public keys, each bound to one algorithm (or, published without `alg`, to those its
/// type fits), where a key id and an algorithm never name more than one key.
#[derive(Clone, Debug, Default)]
pub struct JwkSet {
    keys: Vec<PublicKey>,
}

/// A key left out of a JWKS by [`JwkSet::from_json_lenient`], and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SkippedKey {
    /// Position of the entry in the `keys` array.
    pub index: usize,
    /// Its `kid`, when it had a string one.
    pub kid: Option<String>,
    /// Why it was left out.
    pub error: Error,
}

impl JwkSet {
    /// Builds a set from keys; two keys with the same `kid` that fit a common algorithm are an
    /// error (see [`JwkSet::from_json_lenient`]).
    pub fn new(keys: Vec<PublicKey>) -> Result<Self, Error> {
        let ambiguous = ambiguous_kids(keys.iter());
        let first = keys
            .iter()
            .zip(ambiguous)
            .find_map(|(key, ambiguous)| if ambiguous { key.kid() } else { None });
        match first {
            Some(kid) => Err(duplicate_kid(kid)),
            None => Ok(JwkSet { keys }),
        }
    }

    /// Parses a JWKS document strictly: every entry must be a valid public signing key and no
    /// `kid` ambiguous, or the whole document is refused.
    pub fn from_json(bytes: &[u8]) -> Result<Self, Error> {
        let (set, skipped) = Self::from_json_lenient(bytes)?;
        match skipped.into_iter().next() {
            Some(s) => Err(s.error),
            None => Ok(set),
        }
    }

    /// Parses a JWKS document, leaving out entries that are not valid public signing keys, and
    /// reporting them. Fails only when the document itself is not a JSON object with a `keys`
    /// array.
    ///
    /// A key without `alg` serves the algorithms its type fits (see [`PublicKey::from_jwk_value`]).
    /// Keys may share a `kid` only when no algorithm fits two of them (an RSA and an EC key, say):
    /// otherwise every entry of that `kid` is left out, as the token could not name one key.
    pub fn from_json_lenient(bytes: &[u8]) -> Result<(Self, Vec<SkippedKey>), Error> {
        let doc = json::parse_object(bytes).map_err(|e| Error::malformed(format!("JWKS: {e}")))?;
        let Some(Value::Array(entries)) = doc.get("keys") else {
            return Err(Error::malformed("JWKS has no \"keys\" array"));
        };
        let mut skipped = Vec::new();
        let mut parsed: Vec<(usize, PublicKey)> = Vec::with_capacity(entries.len());
        for (index, entry) in entries.iter().enumerate() {
            let kid = entry.get("kid").and_then(Value::as_str).map(str::to_owned);
            let result = match entry.as_object() {
                Some(map) => PublicKey::from_jwk_map(map, None),
                None => Err(Error::key("JWKS entry is not an object")),
            };
            match result {
                Ok(key) => parsed.push((index, key)),
                Err(error) => skipped.push(SkippedKey { index, kid, error }),
            }
        }
        let ambiguous = ambiguous_kids(parsed.iter().map(|(_, key)| key));
        let mut keys = Vec::with_capacity(parsed.len());
        for ((index, key), ambiguous) in parsed.into_iter().zip(ambiguous) {
            match key.kid() {
                Some(kid) if ambiguous => {
                    skipped.push(SkippedKey {
                        index,
                        kid: Some(kid.to_owned()),
                        error: duplicate_kid(kid),
                    });
                }
                _ => keys.push(key),
            }
        }
        skipped.sort_by_key(|s| s.index);
        Ok((JwkSet { keys }, skipped))
    }

    /// The JWKS document: `{"keys":[…]}` with every key's public JWK.
    pub fn to_json(&self) -> String {
        let keys: Vec<Value> = self.keys.iter().map(PublicKey::to_jwk).collect();
        serde_json::json!({ "keys": keys }).to_string()
    }

    /// The keys of the set.
    pub fn keys(&self) -> &[PublicKey] {
        &self.keys
    }

    /// Whether the set has no keys.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Finds the key for a token: by exact `kid` when the token has one (the key must then fit
    /// `alg`, see [`PublicKey::fits`]), otherwise the single key that fits `alg` — never a guess
    /// among several.
    pub fn find(&self, kid: Option<&str>, alg: Alg) -> Result<&PublicKey, Error> {
        match kid {
            Some(kid) => {
                let named = self.keys.iter().filter(|k| k.kid() == Some(kid));
                // At most one key of a kid fits an algorithm (see `ambiguous_kids`).
                if let Some(key) = named.clone().find(|k| k.fits(alg)) {
                    return Ok(key);
                }
                let algs: Vec<String> = named.map(PublicKey::algs_text).collect();
                if algs.is_empty() {
                    return Err(Error::NoMatchingKey(format!("no key with kid {kid:?}")));
                }
                Err(Error::AlgNotAllowed(format!(
                    "key {kid:?} is for {}, the token says {alg}",
                    algs.join(", ")
                )))
            }
            None => {
                let mut fitting = self.keys.iter().filter(|k| k.fits(alg));
                match (fitting.next(), fitting.next()) {
                    (Some(key), None) => Ok(key),
                    (None, _) => Err(Error::NoMatchingKey(format!("no {alg} key"))),
                    (Some(_), Some(_)) => Err(Error::NoMatchingKey(format!(
                        "token has no kid and several {alg} keys fit"
                    ))),
                }
            }
        }
    }
}

/// For each key, whether its `kid` is ambiguous: another key has the same `kid` and fits an
/// algorithm it fits. Linear in the number of keys.
fn ambiguous_kids<'a>(keys: impl Iterator<Item = &'a PublicKey> + Clone) -> Vec<bool> {
    let mut fitting: HashMap<(&str, Alg), usize> = HashMap::new();
    for key in keys.clone() {
        if let Some(kid) = key.kid() {
            for alg in key.algs() {
                *fitting.entry((kid, alg)).or_default() += 1;
            }
        }
    }
    keys.map(|key| {
        key.kid().is_some_and(|kid| {
            key.algs()
                .any(|alg| fitting.get(&(kid, alg)).is_some_and(|n| *n > 1))
        })
    })
    .collect()
}

fn duplicate_kid(kid: &str) -> Error {
    Error::key(format!(
        "kid {kid:?} is on several keys of one algorithm in the key set"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::KeyPair;

    fn set_of(keys: &[&KeyPair]) -> String {
        let keys: Vec<Value> = keys.iter().map(|k| k.public_key().to_jwk()).collect();
        serde_json::json!({ "keys": keys }).to_string()
    }

    #[test]
    fn round_trip_and_lookup() {
        let a = KeyPair::generate(Alg::EdDSA).unwrap();
        let b = KeyPair::generate(Alg::ES256).unwrap();
        let set = JwkSet::from_json(set_of(&[&a, &b]).as_bytes()).unwrap();
        let again = JwkSet::from_json(set.to_json().as_bytes()).unwrap();
        assert_eq!(again.keys().len(), 2);
        assert!(
            set.find(a.kid(), Alg::EdDSA)
                .unwrap()
                .same_key_as(a.public_key())
        );
        assert_eq!(
            set.find(a.kid(), Alg::ES256).unwrap_err().code(),
            "alg_not_allowed"
        );
        assert_eq!(
            set.find(Some("nope"), Alg::EdDSA).unwrap_err().code(),
            "no_matching_key"
        );
        assert!(
            set.find(None, Alg::ES256)
                .unwrap()
                .same_key_as(b.public_key())
        );
        assert_eq!(
            set.find(None, Alg::PS256).unwrap_err().code(),
            "no_matching_key"
        );
    }

    #[test]
    fn kidless_token_needs_exactly_one_fitting_key() {
        let a = KeyPair::generate(Alg::EdDSA).unwrap();
        let b = KeyPair::generate(Alg::EdDSA).unwrap();
        let set = JwkSet::new(vec![a.public_key().clone(), b.public_key().clone()]).unwrap();
        assert_eq!(
            set.find(None, Alg::EdDSA).unwrap_err().code(),
            "no_matching_key"
        );
    }

    #[test]
    fn duplicate_kids_are_refused() {
        let a = KeyPair::generate(Alg::EdDSA).unwrap();
        let b = KeyPair::generate(Alg::EdDSA)
            .unwrap()
            .with_kid(a.kid().unwrap());
        let c = KeyPair::generate(Alg::ES256).unwrap();
        let doc = set_of(&[&a, &b, &c]);
        assert_eq!(
            JwkSet::from_json(doc.as_bytes()).unwrap_err().code(),
            "key_invalid"
        );
        let (set, skipped) = JwkSet::from_json_lenient(doc.as_bytes()).unwrap();
        assert_eq!(set.keys().len(), 1);
        assert_eq!(skipped.len(), 2);
        assert!(JwkSet::new(vec![a.public_key().clone(), b.public_key().clone()]).is_err());
    }

    /// A JWK without `alg` (as Microsoft Entra ID publishes its keys, and RFC 7515 A.2): an RSA
    /// key then serves every RSA algorithm and nothing else, EC and OKP keys their curve's one.
    #[test]
    fn keys_without_alg_serve_the_algorithms_their_type_fits() {
        let rs = KeyPair::generate(Alg::RS256).unwrap();
        let es = KeyPair::generate(Alg::ES256).unwrap();
        let ed = KeyPair::generate(Alg::EdDSA).unwrap();
        let no_alg = |k: &KeyPair| {
            let mut jwk = k.public_key().to_jwk();
            jwk.as_object_mut().unwrap().remove("alg");
            jwk
        };
        let doc = serde_json::json!({"keys": [no_alg(&rs), no_alg(&es), no_alg(&ed)]}).to_string();
        let set = JwkSet::from_json(doc.as_bytes()).unwrap();
        assert_eq!(set.keys().len(), 3);
        let found = |kid: Option<&str>, alg: Alg| {
            set.find(kid, alg)
                .map(PublicKey::thumbprint)
                .map_err(|e| e.code())
        };
        let rs_print = Ok(rs.public_key().thumbprint());
        for alg in Alg::ALL.into_iter().filter(|a| a.is_rsa()) {
            assert_eq!(found(rs.kid(), alg), rs_print, "{alg}");
            // The only RSA key: found for a token without kid too.
            assert_eq!(found(None, alg), rs_print, "{alg}");
        }
        for alg in [Alg::ES256, Alg::ES512, Alg::EdDSA] {
            assert_eq!(found(rs.kid(), alg), Err("alg_not_allowed"), "{alg}");
        }
        assert_eq!(
            found(es.kid(), Alg::ES256),
            Ok(es.public_key().thumbprint())
        );
        assert_eq!(found(es.kid(), Alg::ES512), Err("alg_not_allowed"));
        assert_eq!(found(es.kid(), Alg::RS256), Err("alg_not_allowed"));
        assert_eq!(
            found(ed.kid(), Alg::EdDSA),
            Ok(ed.public_key().thumbprint())
        );
        assert_eq!(found(None, Alg::ES384), Err("no_matching_key"));
        // Published again, the RSA key still has no `alg`, and still serves both families.
        let again = JwkSet::from_json(set.to_json().as_bytes()).unwrap();
        assert!(again.find(rs.kid(), Alg::PS256).is_ok());
        assert!(again.find(rs.kid(), Alg::RS256).is_ok());
        // A key with `alg` serves that algorithm only.
        let bound = JwkSet::from_json(set_of(&[&rs]).as_bytes()).unwrap();
        assert_eq!(
            bound.find(rs.kid(), Alg::PS256).unwrap_err().code(),
            "alg_not_allowed"
        );
        // Two RSA keys without `alg` and a token without kid: never a guess.
        let other = KeyPair::generate(Alg::RS256).unwrap();
        let doc = serde_json::json!({"keys": [no_alg(&rs), no_alg(&other)]}).to_string();
        let two = JwkSet::from_json(doc.as_bytes()).unwrap();
        assert_eq!(
            two.find(None, Alg::RS256).unwrap_err().code(),
            "no_matching_key"
        );
        // One kid on an RSA key without `alg` and on an RS256 key: ambiguous for RS256, refused.
        let twin = other.with_kid(rs.kid().unwrap());
        let doc =
            serde_json::json!({"keys": [no_alg(&rs), twin.public_key().to_jwk()]}).to_string();
        assert_eq!(
            JwkSet::from_json(doc.as_bytes()).unwrap_err().code(),
            "key_invalid"
        );
        // One kid on an RSA and an EC key (RFC 7520 does this): no algorithm fits both, so the
        // kid and the token's alg always name one key.
        let es_twin = es.with_kid(rs.kid().unwrap());
        let doc =
            serde_json::json!({"keys": [no_alg(&rs), no_alg(&es_twin), no_alg(&ed)]}).to_string();
        let shared = JwkSet::from_json(doc.as_bytes()).unwrap();
        assert_eq!(shared.keys().len(), 3);
        let by = |alg| shared.find(rs.kid(), alg).map(PublicKey::thumbprint);
        assert_eq!(by(Alg::PS256), Ok(rs.public_key().thumbprint()));
        assert_eq!(by(Alg::ES256), Ok(es_twin.public_key().thumbprint()));
        assert_eq!(by(Alg::EdDSA).unwrap_err().code(), "alg_not_allowed");
    }

    #[test]
    fn lenient_skips_bad_entries() {
        let a = KeyPair::generate(Alg::EdDSA).unwrap();
        let mut private: Value = serde_json::from_str(&a.to_private_jwk().unwrap()).unwrap();
        private["kid"] = "p".into();
        let doc = serde_json::json!({"keys": [a.public_key().to_jwk(), private, 7, {"kty":"oct","k":"AA"}]});
        let (set, skipped) = JwkSet::from_json_lenient(doc.to_string().as_bytes()).unwrap();
        assert_eq!(set.keys().len(), 1);
        assert_eq!(
            skipped.iter().map(|s| s.index).collect::<Vec<_>>(),
            vec![1, 2, 3]
        );
        assert_eq!(skipped[0].kid.as_deref(), Some("p"));
    }

    #[test]
    fn document_shape_errors() {
        for bad in [
            &b"[]"[..],
            b"{}",
            b"{\"keys\":{}}",
            b"{\"keys\":[],\"keys\":[]}",
            b"nope",
        ] {
            assert_eq!(JwkSet::from_json(bad).unwrap_err().code(), "malformed");
        }
        assert!(JwkSet::from_json(b"{\"keys\":[]}").unwrap().is_empty());
    }
}
