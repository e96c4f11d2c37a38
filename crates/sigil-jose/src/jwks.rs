//! JWK Sets: the published form of public keys, and the key lookup used by verification.

use std::collections::HashMap;

use serde_json::Value;

use crate::{Alg, Error, PublicKey, json};

/// A set of public keys, each bound to one algorithm, with unique key ids.
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
    /// Builds a set from keys; two keys with the same `kid` are an error.
    pub fn new(keys: Vec<PublicKey>) -> Result<Self, Error> {
        let mut seen = HashMap::new();
        for key in &keys {
            if let Some(kid) = key.kid()
                && seen.insert(kid, ()).is_some()
            {
                return Err(Error::key(format!("duplicate kid {kid:?} in key set")));
            }
        }
        Ok(JwkSet { keys })
    }

    /// Parses a JWKS document strictly: every entry must be a valid public signing key and every
    /// `kid` unique, or the whole document is refused.
    pub fn from_json(bytes: &[u8]) -> Result<Self, Error> {
        let (set, skipped) = Self::from_json_lenient(bytes)?;
        match skipped.into_iter().next() {
            Some(s) => Err(s.error),
            None => Ok(set),
        }
    }

    /// Parses a JWKS document, leaving out entries that are not valid public signing keys (and
    /// every entry of a duplicated `kid`), and reporting them. Fails only when the document itself
    /// is not a JSON object with a `keys` array.
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
        let mut counts: HashMap<String, usize> = HashMap::new();
        for (_, key) in &parsed {
            if let Some(kid) = key.kid() {
                *counts.entry(kid.to_owned()).or_default() += 1;
            }
        }
        let mut keys = Vec::with_capacity(parsed.len());
        for (index, key) in parsed {
            match key.kid() {
                Some(kid) if counts.get(kid).copied().unwrap_or(0) > 1 => {
                    skipped.push(SkippedKey {
                        index,
                        kid: Some(kid.to_owned()),
                        error: Error::key(format!("duplicate kid {kid:?} in key set")),
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

    /// Finds the key for a token: by exact `kid` when the token has one (the key's algorithm must
    /// then be `alg`), otherwise the single key bound to `alg` — never a guess among several.
    pub fn find(&self, kid: Option<&str>, alg: Alg) -> Result<&PublicKey, Error> {
        match kid {
            Some(kid) => {
                let key = self
                    .keys
                    .iter()
                    .find(|k| k.kid() == Some(kid))
                    .ok_or_else(|| Error::NoMatchingKey(format!("no key with kid {kid:?}")))?;
                if key.alg() != alg {
                    return Err(Error::AlgNotAllowed(format!(
                        "key {kid:?} is bound to {}, the token says {alg}",
                        key.alg()
                    )));
                }
                Ok(key)
            }
            None => {
                let mut fitting = self.keys.iter().filter(|k| k.alg() == alg);
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
