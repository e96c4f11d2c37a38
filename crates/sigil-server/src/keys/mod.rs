//! Signing keys: storage envelope, lifecycle and the in-memory signing state.

pub mod envelope;
pub mod manager;

pub use envelope::{EnvelopeError, SecretRing};
pub use manager::{JwksDocument, KeyError, KeyManager, SigningKey};
