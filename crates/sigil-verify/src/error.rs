//! Errors of this crate: a token rejected, keys unavailable, or a verifier misconfigured.

use thiserror::Error;

/// Why a verification did not accept a token.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum Error {
    /// The token was examined and refused (bad signature, expired, wrong audience, …).
    #[error(transparent)]
    Token(#[from] sigil_jose::Error),
    /// No keys could be had to judge the token with: the JWKS endpoint failed and nothing usable
    /// is cached. Not the caller's fault; retrying later may succeed.
    #[error("keys unavailable: {0}")]
    KeysUnavailable(#[from] FetchError),
}

impl Error {
    /// The stable, machine-readable code: the token's rejection code from
    /// [`sigil_jose::Error::code`], or `"keys_unavailable"`.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Token(e) => e.code(),
            Error::KeysUnavailable(_) => "keys_unavailable",
        }
    }
}

/// Why fetching a remote JWKS failed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum FetchError {
    /// The whole fetch (connect, headers, body) took longer than the configured timeout.
    #[error("JWKS fetch timed out after {0:?}")]
    Timeout(std::time::Duration),
    /// The endpoint could not be reached or the connection broke.
    #[error("JWKS endpoint unreachable: {0}")]
    Unreachable(String),
    /// The endpoint answered a redirect; redirects are never followed.
    #[error("JWKS endpoint answered a redirect ({0}); redirects are not followed")]
    Redirect(u16),
    /// The endpoint answered with a status other than 200.
    #[error("JWKS endpoint answered HTTP {0}")]
    Status(u16),
    /// The body is larger than the configured cap.
    #[error("JWKS response is over the {0}-byte limit")]
    TooLarge(usize),
    /// The body is not a JSON object with a `keys` array, or none of its keys is usable.
    #[error("JWKS response is invalid: {0}")]
    Invalid(String),
}

impl FetchError {
    /// A stable code for logs and metrics (`"timeout"`, `"status"`, …).
    pub fn code(&self) -> &'static str {
        match self {
            FetchError::Timeout(_) => "timeout",
            FetchError::Unreachable(_) => "unreachable",
            FetchError::Redirect(_) => "redirect",
            FetchError::Status(_) => "status",
            FetchError::TooLarge(_) => "too_large",
            FetchError::Invalid(_) => "invalid",
        }
    }
}

/// A verifier or key source that cannot be built as configured.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The JWKS URL does not parse or is not http(s).
    #[error("invalid JWKS URL: {0}")]
    InvalidUrl(String),
    /// The JWKS URL is plain HTTP to a host other than loopback, and that was not allowed.
    #[error("JWKS URL must use https (plain http is allowed for loopback hosts only): {0}")]
    InsecureUrl(String),
    /// The algorithm allow-list is empty: a verifier must be told what it accepts.
    #[error("the algorithm allow-list is required and must not be empty")]
    NoAlgorithms,
    /// A local JWKS document could not be read.
    #[error("cannot read JWKS file {path}: {source}")]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
    /// A local JWKS document is not a valid key set.
    #[error("invalid JWKS: {0}")]
    InvalidJwks(sigil_jose::Error),
    /// The HTTP client could not be set up.
    #[error("HTTP client: {0}")]
    Client(String),
}
