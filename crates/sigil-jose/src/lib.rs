//! Keys and tokens for Sigil, with no I/O: algorithms, JWK and JWKS, compact JWS/JWT signing and
//! strict verification, and Better Auth's time-span strings.
//!
//! Strict by construction: the verifier owns the algorithm allow-list and every key is bound to the
//! algorithm its JWK names (without one, to those its type fits: an RSA key never verifies an EC
//! or EdDSA signature); `none` and HMAC do not exist here; keys come only from the [`JwkSet`] you
//! pass (never from `jwk`, `jku`, `x5u` or `x5c` headers); `crit` is refused; segments must be
//! canonical base64url; JSON must be an object without duplicate members; ECDSA signatures must be
//! r‖s of the exact length; the size limit is checked before parsing. Time is always a parameter.
//!
//! ```
//! use sigil_jose::{Alg, JwkSet, KeyPair, Validation, sign_jwt, verify_jwt};
//!
//! let key = KeyPair::generate(Alg::EdDSA)?;
//! let now = 1_700_000_000;
//! let token = sign_jwt(&key, &serde_json::json!({"sub": "u1", "iat": now, "exp": now + 900}))?;
//!
//! let keys = JwkSet::new(vec![key.public_key().clone()])?;
//! let claims = verify_jwt(&token, &keys, &Validation::new([Alg::EdDSA]), now)?;
//! assert_eq!(claims.sub.as_deref(), Some("u1"));
//! # Ok::<(), sigil_jose::Error>(())
//! ```

#![forbid(unsafe_code)]

mod alg;
pub mod b64;
mod error;
pub mod json;
mod jwks;
pub mod jws;
mod jwt;
mod key;
mod timespan;

pub use alg::{Alg, Curve};
pub use error::Error;
pub use jwks::{JwkSet, SkippedKey};
pub use jws::{Header, VerifiedJws, check_header, verify_jws};
pub use jwt::{
    Audience, Claims, DEFAULT_MAX_TOKEN_BYTES, Validation, sign_jwt, sign_jwt_with_header,
    verify_jwt, verify_jwt_as,
};
pub use key::{KeyPair, PublicKey};
pub use timespan::parse_time_span;
