//! Token verification with a fixed key set: must never panic, and must never accept a token that
//! the fixed keys did not sign (the fuzzer cannot forge signatures, so any acceptance is a bug).
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use sigil_jose::{Alg, JwkSet, KeyPair, Validation, verify_jws, verify_jwt};

fn keys() -> &'static JwkSet {
    static KEYS: OnceLock<JwkSet> = OnceLock::new();
    KEYS.get_or_init(|| {
        let keys = [Alg::EdDSA, Alg::ES256, Alg::ES512, Alg::PS256, Alg::RS256]
            .into_iter()
            .map(|alg| KeyPair::generate(alg).map(|k| k.public_key().clone()))
            .collect::<Result<Vec<_>, _>>();
        keys.and_then(JwkSet::new).unwrap_or_default()
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let policy = Validation::new(Alg::ALL).allow_missing_exp();
    assert!(verify_jws(text, keys(), &policy).is_err(), "accepted a forged JWS");
    assert!(verify_jwt(text, keys(), &policy, 0).is_err(), "accepted a forged JWT");
});
