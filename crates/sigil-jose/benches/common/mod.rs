//! What the sigil-jose and sigil-verify benchmarks share: a realistic claims set, and the same
//! key as a raw aws-lc-rs verifier and as jsonwebtoken keys.
#![allow(dead_code)]

use std::time::Duration;

use aws_lc_rs::signature::{self, ParsedPublicKey};
use criterion::Criterion;
use serde::{Deserialize, Serialize};
use sigil_jose::{Alg, KeyPair};

/// A fixed "now" for tokens judged with a fixed clock.
pub const NOW: i64 = 1_764_000_000;
/// Issuer and audience of the benchmark tokens.
pub const ISS: &str = "https://auth.example.com";

/// What Sigil's default payload looks like: registered claims plus Better Auth's public user.
#[derive(Serialize, Deserialize, Clone)]
#[serde(rename_all = "camelCase")]
pub struct Claims {
    pub iss: String,
    pub aud: String,
    pub sub: String,
    pub iat: i64,
    pub exp: i64,
    pub id: String,
    pub name: String,
    pub email: String,
    pub email_verified: bool,
    pub image: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

/// The benchmark claims, issued at [`NOW`] for 15 minutes.
pub fn claims() -> Claims {
    Claims {
        iss: ISS.into(),
        aud: ISS.into(),
        sub: "kX3JdyG9sUw2oV7qLmZ1aB4c".into(),
        iat: NOW,
        exp: NOW + 900,
        id: "kX3JdyG9sUw2oV7qLmZ1aB4c".into(),
        name: "Ada Lovelace".into(),
        email: "ada@example.com".into(),
        email_verified: true,
        image: None,
        created_at: "2026-11-27T10:00:00.000Z".into(),
        updated_at: "2026-11-27T10:00:00.000Z".into(),
    }
}

/// The key as aws-lc-rs parses it once, for raw signature checks.
pub fn raw_verifier(key: &KeyPair) -> ParsedPublicKey {
    let alg: &'static dyn signature::VerificationAlgorithm = match key.alg() {
        Alg::EdDSA => &signature::ED25519,
        Alg::ES256 => &signature::ECDSA_P256_SHA256_FIXED,
        Alg::ES512 => &signature::ECDSA_P521_SHA512_FIXED,
        Alg::RS256 => &signature::RSA_PKCS1_2048_8192_SHA256,
        Alg::PS256 => &signature::RSA_PSS_2048_8192_SHA256,
        _ => unreachable!(),
    };
    ParsedPublicKey::new(alg, key.public_key().to_spki_der().unwrap()).unwrap()
}

/// The key as jsonwebtoken sees it (`None` for ES512, which it lacks).
pub fn jsonwebtoken_keys(
    key: &KeyPair,
) -> Option<(
    jsonwebtoken::Algorithm,
    jsonwebtoken::EncodingKey,
    jsonwebtoken::DecodingKey,
)> {
    use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
    let private = key.to_pkcs8_pem().unwrap();
    let public = key.public_key().to_spki_pem().unwrap();
    Some(match key.alg() {
        Alg::EdDSA => (
            Algorithm::EdDSA,
            EncodingKey::from_ed_pem(private.as_bytes()).unwrap(),
            DecodingKey::from_ed_pem(public.as_bytes()).unwrap(),
        ),
        Alg::ES256 => (
            Algorithm::ES256,
            EncodingKey::from_ec_pem(private.as_bytes()).unwrap(),
            DecodingKey::from_ec_pem(public.as_bytes()).unwrap(),
        ),
        Alg::RS256 | Alg::PS256 => (
            if key.alg() == Alg::RS256 {
                Algorithm::RS256
            } else {
                Algorithm::PS256
            },
            EncodingKey::from_rsa_pem(private.as_bytes()).unwrap(),
            DecodingKey::from_rsa_pem(public.as_bytes()).unwrap(),
        ),
        _ => return None, // ES512: not supported by jsonwebtoken
    })
}

/// [`claims`] issued now and valid for an hour: jsonwebtoken reads the wall clock, so tokens it
/// checks must be valid now.
pub fn fresh_claims() -> Claims {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    Claims {
        iat: now,
        exp: now + 3600,
        ..claims()
    }
}

/// jsonwebtoken's validation equivalent to the benchmarks' policy: issuer and audience, no leeway.
pub fn jsonwebtoken_validation(alg: jsonwebtoken::Algorithm) -> jsonwebtoken::Validation {
    let mut v = jsonwebtoken::Validation::new(alg);
    v.set_issuer(&[ISS]);
    v.set_audience(&[ISS]);
    v.leeway = 0;
    v
}

/// Criterion settings shared by the benchmarks (short runs; the scripts repeat them in rounds).
pub fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(40)
}
