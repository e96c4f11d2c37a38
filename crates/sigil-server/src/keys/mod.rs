//! Signing keys: storage envelope, lifecycle and the in-memory signing state.

pub mod envelope;

pub use envelope::{EnvelopeError, SecretRing};
