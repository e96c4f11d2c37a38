//! The one error type of this crate, with a stable string code per variant.

use thiserror::Error;

/// Everything that can go wrong when parsing keys, signing or verifying.
///
/// Every variant has a stable machine-readable [`Error::code`]; the `Display` text is for humans and
/// may change. Verification errors never reveal key material.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum Error {
    /// The token (or a JWK/JWKS document) is not well-formed: wrong number of segments, bad
    /// base64url, invalid or duplicate-member JSON, a header member of the wrong type.
    #[error("malformed: {0}")]
    Malformed(String),
    /// The token is longer than the configured limit; nothing was parsed.
    #[error("token is {size} bytes, over the limit of {limit}")]
    TooLarge {
        /// Size of the input in bytes.
        size: usize,
        /// The configured limit.
        limit: usize,
    },
    /// The `alg` is unknown, `none`, symmetric, not in the allow-list, or not an algorithm the
    /// selected key fits.
    #[error("algorithm not allowed: {0}")]
    AlgNotAllowed(String),
    /// The header has a `crit` member (or a JWS extension such as `b64`); no extension is supported.
    #[error("critical header extension not supported: {0}")]
    CritUnsupported(String),
    /// No key of the key set fits the token's `kid` and `alg`.
    #[error("no matching key: {0}")]
    NoMatchingKey(String),
    /// A key could not be imported or generated: weak, malformed, of the wrong type or curve.
    #[error("invalid key: {0}")]
    KeyInvalid(String),
    /// The signature does not verify (or has the wrong length or encoding).
    #[error("bad signature")]
    BadSignature,
    /// `exp` has passed (taking leeway into account).
    #[error("token expired")]
    Expired,
    /// `nbf` is still in the future (taking leeway into account).
    #[error("token not yet valid")]
    NotYetValid,
    /// `iat` is in the future (taking leeway into account).
    #[error("token issued in the future")]
    IatInFuture,
    /// `iss` is missing or differs from the expected issuer.
    #[error("issuer mismatch")]
    IssMismatch,
    /// `aud` is missing, malformed or does not contain an expected audience.
    #[error("audience mismatch")]
    AudMismatch,
    /// The header `typ` differs from the expected type.
    #[error("type mismatch")]
    TypMismatch,
    /// The claims are not a JSON object, a registered claim has the wrong type, or a required
    /// claim is missing.
    #[error("invalid claims: {0}")]
    ClaimsInvalid(String),
    /// A time span string (`"15m"`, `"7d"`) could not be parsed.
    #[error("invalid time span: {0}")]
    InvalidTimeSpan(String),
    /// The crypto backend refused an operation that should not fail (signing, key generation).
    #[error("crypto operation failed: {0}")]
    Crypto(String),
}

impl Error {
    /// The stable, machine-readable code of this error (`"bad_signature"`, `"expired"`, …).
    pub fn code(&self) -> &'static str {
        match self {
            Error::Malformed(_) => "malformed",
            Error::TooLarge { .. } => "too_large",
            Error::AlgNotAllowed(_) => "alg_not_allowed",
            Error::CritUnsupported(_) => "crit_unsupported",
            Error::NoMatchingKey(_) => "no_matching_key",
            Error::KeyInvalid(_) => "key_invalid",
            Error::BadSignature => "bad_signature",
            Error::Expired => "expired",
            Error::NotYetValid => "not_yet_valid",
            Error::IatInFuture => "iat_in_future",
            Error::IssMismatch => "iss_mismatch",
            Error::AudMismatch => "aud_mismatch",
            Error::TypMismatch => "typ_mismatch",
            Error::ClaimsInvalid(_) => "claims_invalid",
            Error::InvalidTimeSpan(_) => "invalid_time_span",
            Error::Crypto(_) => "crypto_failure",
        }
    }

    pub(crate) fn malformed(msg: impl Into<String>) -> Self {
        Error::Malformed(msg.into())
    }

    pub(crate) fn key(msg: impl Into<String>) -> Self {
        Error::KeyInvalid(msg.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct() {
        let all = [
            Error::Malformed(String::new()),
            Error::TooLarge { size: 0, limit: 0 },
            Error::AlgNotAllowed(String::new()),
            Error::CritUnsupported(String::new()),
            Error::NoMatchingKey(String::new()),
            Error::KeyInvalid(String::new()),
            Error::BadSignature,
            Error::Expired,
            Error::NotYetValid,
            Error::IatInFuture,
            Error::IssMismatch,
            Error::AudMismatch,
            Error::TypMismatch,
            Error::ClaimsInvalid(String::new()),
            Error::InvalidTimeSpan(String::new()),
            Error::Crypto(String::new()),
        ];
        let mut codes: Vec<_> = all.iter().map(Error::code).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), all.len());
    }
}
