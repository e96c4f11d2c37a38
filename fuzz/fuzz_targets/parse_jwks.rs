//! JWK and JWKS parsing: must never panic; whatever parses must serialize and parse again to the
//! same keys.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sigil_jose::{JwkSet, KeyPair, PublicKey};

fuzz_target!(|data: &[u8]| {
    if let Ok((set, _skipped)) = JwkSet::from_json_lenient(data) {
        let again = JwkSet::from_json(set.to_json().as_bytes()).expect("re-parse of own output");
        assert_eq!(again.keys().len(), set.keys().len());
        for (a, b) in set.keys().iter().zip(again.keys()) {
            assert!(a.same_key_as(b));
        }
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = PublicKey::from_jwk(text);
        let _ = KeyPair::from_jwk(text, None);
    }
});
