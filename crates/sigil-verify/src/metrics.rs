//! Metrics hooks through the `metrics` facade (feature `metrics`); no-ops without it.
//!
//! Names: `sigil_verify_verifications_total{result}` (result = `ok` or an error code),
//! `sigil_verify_jwks_fetches_total{outcome}` (`ok` or a [`crate::FetchError::code`]), and
//! `sigil_verify_jwks_age_seconds` (age of the key set last used).

use std::time::Duration;

/// Counts one verification by its result code.
#[inline]
pub(crate) fn verification(result: &'static str) {
    #[cfg(feature = "metrics")]
    metrics::counter!("sigil_verify_verifications_total", "result" => result).increment(1);
    #[cfg(not(feature = "metrics"))]
    let _ = result;
}

/// Counts one JWKS fetch by its outcome.
#[inline]
pub(crate) fn fetch(outcome: &'static str) {
    #[cfg(feature = "metrics")]
    metrics::counter!("sigil_verify_jwks_fetches_total", "outcome" => outcome).increment(1);
    #[cfg(not(feature = "metrics"))]
    let _ = outcome;
}

/// Records the age of the cached key set.
#[inline]
pub(crate) fn key_age(age: Duration) {
    #[cfg(feature = "metrics")]
    metrics::gauge!("sigil_verify_jwks_age_seconds").set(age.as_secs_f64());
    #[cfg(not(feature = "metrics"))]
    let _ = age;
}
