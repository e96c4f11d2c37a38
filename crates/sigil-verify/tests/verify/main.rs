//! sigil-verify against a loopback JWKS server whose behaviour each test sets: caching, refetch
//! limits, rotation, stale-if-error, timeouts, size caps, redirects, `jku`, cold-start stampedes,
//! and the axum layer's responses. Cache time is a [`ManualClock`]; nothing sleeps to make time pass.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod jwks_server;
mod layer;
mod remote;

use std::sync::Arc;

use serde_json::{Value, json};
use sigil_jose::{Alg, Header, JwkSet, KeyPair};
use sigil_verify::{ManualClock, RemoteJwks, Verifier};

/// A fixed "now" for tokens and caches (2026-11-27).
pub const NOW: i64 = 1_795_780_800;

/// A fresh Ed25519 key with its thumbprint as kid.
pub fn key() -> KeyPair {
    KeyPair::generate(Alg::EdDSA).unwrap()
}

/// The JWKS document publishing `keys`.
pub fn jwks(keys: &[&KeyPair]) -> Value {
    let set = JwkSet::new(keys.iter().map(|k| k.public_key().clone()).collect()).unwrap();
    serde_json::from_str(&set.to_json()).unwrap()
}

/// A token valid for 15 minutes from [`NOW`].
pub fn token(key: &KeyPair) -> String {
    token_with(key, json!({"sub": "user-1", "iat": NOW, "exp": NOW + 900}))
}

/// A token with these claims.
pub fn token_with(key: &KeyPair, claims: Value) -> String {
    sigil_jose::sign_jwt(key, &claims).unwrap()
}

/// A token whose header carries extra members (such as `jku`).
pub fn token_with_header(key: &KeyPair, extra: Value) -> String {
    let mut header = Header::for_key(key);
    header.extra = extra.as_object().unwrap().clone();
    sigil_jose::sign_jwt_with_header(key, &header, &json!({"sub": "u", "exp": NOW + 900})).unwrap()
}

/// A verifier of EdDSA tokens on `source`, judged at the clock's time.
pub fn verifier(source: impl Into<sigil_verify::KeySource>, clock: &ManualClock) -> Verifier {
    Verifier::builder(source)
        .alg(Alg::EdDSA)
        .clock(Arc::new(clock.clone()))
        .build()
        .unwrap()
}

/// A remote source on `url` reading the cache clock from `clock`.
pub fn remote(url: &str, clock: &ManualClock) -> sigil_verify::RemoteJwksBuilder {
    RemoteJwks::builder(url).clock(Arc::new(clock.clone()))
}
