//! Signing keys: the storage envelope, the in-memory signing state, and the key lifecycle
//! (creation, rotation, revocation, re-encryption).

mod envelope;
mod lifecycle;
mod manager;
mod succession;

use thiserror::Error;

pub use envelope::{EnvelopeError, SecretRing};
pub use lifecycle::{IMMEDIATE_SETTLE, KeyState};
pub(crate) use manager::row_alg;
pub use manager::{JwksDocument, KeyManager, SigningKey};

use crate::store::StoreError;

/// A key-management failure. Each variant's message says what failed; the cause, when there is
/// one, is its `source` (so an error chain prints every message once).
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A stored private key cannot be opened with the configured secrets.
    #[error(
        "key {kid} cannot be opened. Restore the secret it was written with (or add it as an older version in SIGIL_SECRETS), or revoke the key with `sigil keys revoke {kid}`"
    )]
    Undecryptable {
        /// The key.
        kid: String,
        /// Why.
        #[source]
        reason: EnvelopeError,
    },
    /// A stored key names an algorithm Sigil does not know.
    #[error("key {kid} has an unknown alg {alg:?}")]
    UnknownAlg {
        /// The key.
        kid: String,
        /// The stored `alg`.
        alg: String,
    },
    /// A stored private key does not match the public key published under its kid.
    #[error("key {kid}: the private key does not match the published public key")]
    Mismatch {
        /// The key.
        kid: String,
    },
    /// A stored key is not a valid key.
    #[error("key {kid} is unusable")]
    Invalid {
        /// The key.
        kid: String,
        /// Why.
        #[source]
        reason: sigil_jose::Error,
    },
    /// A stored public key is not a JSON object of a known key type.
    #[error("key {kid} has an unreadable public key")]
    PublicKey {
        /// The key.
        kid: String,
        /// Why, when the JSON itself is broken.
        #[source]
        reason: Option<serde_json::Error>,
    },
    /// Generating a key failed.
    #[error("generating a {alg} key")]
    Generate {
        /// The algorithm.
        alg: sigil_jose::Alg,
        /// Why.
        #[source]
        reason: sigil_jose::Error,
    },
    /// Exporting or sealing a new private key failed.
    #[error("sealing a private key")]
    Seal(#[source] EnvelopeError),
    /// Exporting a private key as a JWK failed.
    #[error("exporting a private key")]
    Export(#[source] sigil_jose::Error),
    /// Signing a token failed.
    #[error("signing a token")]
    Sign(#[source] sigil_jose::Error),
    /// The key-generation task panicked or was cancelled.
    #[error("the key generation task did not finish")]
    Task(#[source] tokio::task::JoinError),
    /// A key was created but none can sign (it did not open or does not match its public half).
    #[error("no signing key after creating one")]
    Missing,
    /// A key of an algorithm the server is not configured for was asked for.
    #[error("{alg} is not one of the configured algorithms (jwt.algs)")]
    NotConfigured {
        /// The algorithm asked for.
        alg: sigil_jose::Alg,
    },
}
