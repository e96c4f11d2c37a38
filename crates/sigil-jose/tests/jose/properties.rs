//! Property tests: sign→verify round-trips for every algorithm with arbitrary claims, and any
//! single-byte change of a valid token is rejected.

use std::sync::OnceLock;

use proptest::prelude::*;
use serde_json::{Map, Value};
use sigil_jose::{Alg, JwkSet, KeyPair, Validation, sign_jwt, verify_jwt};

const NOW: i64 = 1_700_000_000;

fn keys() -> &'static (Vec<KeyPair>, JwkSet) {
    static KEYS: OnceLock<(Vec<KeyPair>, JwkSet)> = OnceLock::new();
    KEYS.get_or_init(|| {
        let pairs: Vec<KeyPair> = Alg::SIGNING
            .iter()
            .map(|a| KeyPair::generate(*a).unwrap())
            .collect();
        let set = JwkSet::new(pairs.iter().map(|k| k.public_key().clone()).collect()).unwrap();
        (pairs, set)
    })
}

fn json_leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        "\\PC{0,12}".prop_map(Value::String),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    json_leaf().prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::btree_map("[a-z]{1,6}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn extra_claims() -> impl Strategy<Value = Map<String, Value>> {
    proptest::collection::btree_map("[a-zA-Z_]{1,10}", json_value(), 0..8).prop_map(|m| {
        m.into_iter()
            .filter(|(k, _)| {
                !["iss", "sub", "aud", "exp", "nbf", "iat", "jti"].contains(&k.as_str())
            })
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn sign_verify_round_trip(which in 0usize..5, extra in extra_claims(), sub in "\\PC{0,20}", ttl in 1i64..100_000) {
        let (pairs, set) = keys();
        let key = &pairs[which];
        let mut claims = extra.clone();
        claims.insert("sub".into(), Value::String(sub.clone()));
        claims.insert("exp".into(), Value::from(NOW + ttl));
        let token = sign_jwt(key, &Value::Object(claims)).unwrap();
        let got = verify_jwt(&token, set, &Validation::new(Alg::SIGNING), NOW).unwrap();
        prop_assert_eq!(got.sub.as_deref(), Some(sub.as_str()));
        prop_assert_eq!(got.exp, Some(NOW + ttl));
        prop_assert_eq!(got.extra(), &extra);
    }

    #[test]
    fn any_single_byte_change_is_rejected(which in 0usize..5, position in any::<prop::sample::Index>(), replacement in any::<u8>()) {
        let (pairs, set) = keys();
        let key = &pairs[which];
        let token = sign_jwt(key, &serde_json::json!({"sub": "u", "exp": NOW + 60})).unwrap();
        let mut bytes = token.into_bytes();
        let i = position.index(bytes.len());
        prop_assume!(bytes[i] != replacement);
        bytes[i] = replacement;
        // A change may leave invalid UTF-8; such input cannot even be a &str, which is a rejection.
        if let Ok(mutated) = String::from_utf8(bytes) {
            prop_assert!(verify_jwt(&mutated, set, &Validation::new(Alg::SIGNING), NOW).is_err());
        }
    }

    #[test]
    fn arbitrary_input_never_panics(text in "\\PC{0,300}") {
        let (_, set) = keys();
        let _ = verify_jwt(&text, set, &Validation::new(Alg::SIGNING), NOW);
    }
}
