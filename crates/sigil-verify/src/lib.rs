//! Verify tokens issued by Sigil (or Better Auth's JWT plugin) in any Rust service, with no call
//! back to the issuer per request.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use sigil_verify::{Alg, RemoteJwks, Verifier};
//!
//! let keys = RemoteJwks::new("https://auth.example.com/api/auth/jwks")?;
//! let verifier = Verifier::builder(keys)
//!     .alg(Alg::EdDSA)
//!     .issuer("https://auth.example.com")
//!     .audience("https://auth.example.com")
//!     .build()?;
//! let claims: sigil_verify::Claims = verifier.verify("eyJ…").await?;
//! println!("caller is {:?}", claims.sub);
//! # Ok(()) }
//! ```
//!
//! - [`RemoteJwks`] fetches and caches the issuer's JWKS (bounded lifetime, rate-limited refetch
//!   on unknown `kid`, single-flight, stale-if-error, refresh ahead); [`LocalJwks`] pins one.
//! - [`Verifier`] holds the policy: a required algorithm allow-list, issuer, audiences, `typ`,
//!   leeway, size limit; strict by default.
//! - `axum` (default feature): [`axum::VerifyLayer`] and the [`axum::Claims`] extractor.
//! - `metrics`: counters of verifications and fetches, and the key set's age.

pub mod clock;
mod error;
mod local;
mod metrics;
pub mod remote;
mod verifier;

#[cfg(feature = "axum")]
pub mod axum;

pub use clock::{Clock, ManualClock, SystemClock};
pub use error::{ConfigError, Error, FetchError};
pub use local::LocalJwks;
pub use remote::{RemoteJwks, RemoteJwksBuilder};
pub use sigil_jose::{Alg, Claims, JwkSet};
pub use verifier::{KeySource, Verifier, VerifierBuilder};
