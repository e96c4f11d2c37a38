//! The verifier: a key source plus a policy, turning a token into the caller's claims type.

use std::sync::Arc;
use std::time::Duration;

use serde::de::DeserializeOwned;
use sigil_jose::{Alg, JwkSet, Validation, VerifiedJws};

use crate::clock::{Clock, SystemClock};
use crate::error::{ConfigError, Error, FetchError};
use crate::{LocalJwks, RemoteJwks, metrics};

/// Where a verifier gets its keys.
#[derive(Clone, Debug)]
pub enum KeySource {
    /// A JWKS fetched over HTTP and cached.
    Remote(RemoteJwks),
    /// A fixed JWKS.
    Local(LocalJwks),
}

impl From<RemoteJwks> for KeySource {
    fn from(source: RemoteJwks) -> Self {
        KeySource::Remote(source)
    }
}

impl From<LocalJwks> for KeySource {
    fn from(source: LocalJwks) -> Self {
        KeySource::Local(source)
    }
}

impl KeySource {
    /// The keys to verify with now.
    pub async fn keys(&self) -> Result<Arc<JwkSet>, FetchError> {
        match self {
            KeySource::Remote(r) => r.keys().await,
            KeySource::Local(l) => l.keys().await,
        }
    }

    /// A newer set than `seen`, when one can be had now (see
    /// [`RemoteJwks::refresh_for_unknown_kid`]).
    pub async fn refresh_for_unknown_kid(&self, seen: &Arc<JwkSet>) -> Option<Arc<JwkSet>> {
        match self {
            KeySource::Remote(r) => r.refresh_for_unknown_kid(seen).await,
            KeySource::Local(l) => l.refresh_for_unknown_kid(seen).await,
        }
    }
}

/// Verifies tokens against a key source and a fixed policy. Cheap to clone.
#[derive(Clone)]
pub struct Verifier {
    inner: Arc<VerifierInner>,
}

struct VerifierInner {
    source: KeySource,
    validation: Validation,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("source", &self.inner.source)
            .field("validation", &self.inner.validation)
            .finish_non_exhaustive()
    }
}

/// Configures a [`Verifier`]. The algorithm allow-list is required; the rest is strict by
/// default (`exp` required, no leeway, 16 KiB token limit, a token with `aud` refused unless an
/// audience is expected).
#[must_use]
pub struct VerifierBuilder {
    source: KeySource,
    algs: Vec<Alg>,
    issuer: Option<String>,
    audiences: Vec<String>,
    typ: Option<String>,
    leeway: u32,
    max_token_bytes: Option<usize>,
    clock: Arc<dyn Clock>,
}

impl Verifier {
    /// Starts configuring a verifier reading keys from `source`.
    pub fn builder(source: impl Into<KeySource>) -> VerifierBuilder {
        VerifierBuilder {
            source: source.into(),
            algs: Vec::new(),
            issuer: None,
            audiences: Vec::new(),
            typ: None,
            leeway: 0,
            max_token_bytes: None,
            clock: Arc::new(SystemClock),
        }
    }

    /// Verifies a JWT and deserializes its claims into `C` (use [`sigil_jose::Claims`] for the
    /// registered claims plus the rest as JSON).
    pub async fn verify<C: DeserializeOwned>(&self, token: &str) -> Result<C, Error> {
        let result = match self.claims(token).await {
            Ok(claims) => claims.deserialize::<C>().map_err(Error::from),
            Err(e) => Err(e),
        };
        counted(result)
    }

    /// Verifies a JWT: signature, header policy and claims.
    pub async fn verify_claims(&self, token: &str) -> Result<sigil_jose::Claims, Error> {
        counted(self.claims(token).await)
    }

    async fn claims(&self, token: &str) -> Result<sigil_jose::Claims, Error> {
        let validation = &self.inner.validation;
        // The clock is read once the keys are in hand: getting them may have taken a fetch.
        let clock = &self.inner.clock;
        self.with_keys(token, |keys| {
            sigil_jose::verify_jwt(token, keys, validation, clock.unix_seconds())
        })
        .await
    }

    /// Verifies a JWS's header and signature only; the payload is returned as bytes, whatever it
    /// holds. For tokens that are not JWTs.
    pub async fn verify_jws(&self, token: &str) -> Result<VerifiedJws, Error> {
        let validation = &self.inner.validation;
        counted(
            self.with_keys(token, |keys| {
                sigil_jose::verify_jws(token, keys, validation)
            })
            .await,
        )
    }

    /// The key source.
    pub fn source(&self) -> &KeySource {
        &self.inner.source
    }

    /// Runs `check` with the current keys; on an unknown key, once more with a newer set if the
    /// source can get one now (the refetch is rate limited by the source).
    async fn with_keys<T>(
        &self,
        token: &str,
        check: impl Fn(&JwkSet) -> Result<T, sigil_jose::Error>,
    ) -> Result<T, Error> {
        let keys = match self.inner.source.keys().await {
            Ok(keys) => keys,
            Err(unavailable) => {
                // A token that is broken regardless of keys is the caller's problem, and is
                // reported as such even while the keys cannot be had.
                sigil_jose::check_header(token, &self.inner.validation)?;
                return Err(unavailable.into());
            }
        };
        match check(&keys) {
            Err(sigil_jose::Error::NoMatchingKey(why)) => {
                match self.inner.source.refresh_for_unknown_kid(&keys).await {
                    Some(newer) => Ok(check(&newer)?),
                    None => Err(sigil_jose::Error::NoMatchingKey(why).into()),
                }
            }
            other => Ok(other?),
        }
    }
}

/// Reports a verification's result to the metrics hooks.
fn counted<T>(result: Result<T, Error>) -> Result<T, Error> {
    metrics::verification(match &result {
        Ok(_) => "ok",
        Err(e) => e.code(),
    });
    result
}

impl VerifierBuilder {
    /// Accepts tokens signed with `alg` (add each allowed algorithm; at least one is required).
    pub fn alg(mut self, alg: Alg) -> Self {
        if !self.algs.contains(&alg) {
            self.algs.push(alg);
        }
        self
    }

    /// Accepts tokens signed with any of `algs`.
    pub fn algs(self, algs: impl IntoIterator<Item = Alg>) -> Self {
        algs.into_iter().fold(self, Self::alg)
    }

    /// Requires `iss` to equal `issuer` exactly.
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// Adds an accepted audience; a token's `aud` must name at least one accepted audience.
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audiences.push(audience.into());
        self
    }

    /// Requires the header `typ` (case-insensitive, `application/` optional).
    pub fn typ(mut self, typ: impl Into<String>) -> Self {
        self.typ = Some(typ.into());
        self
    }

    /// Clock skew tolerated on `exp`, `nbf` and `iat` (default none).
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = u32::try_from(leeway.as_secs()).unwrap_or(u32::MAX);
        self
    }

    /// Tokens longer than this are refused before parsing (default 16 KiB).
    pub fn max_token_bytes(mut self, bytes: usize) -> Self {
        self.max_token_bytes = Some(bytes);
        self
    }

    /// The clock tokens are judged by (tests use [`crate::ManualClock`]).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Builds the verifier; fails when no algorithm was allowed.
    pub fn build(self) -> Result<Verifier, ConfigError> {
        if self.algs.is_empty() {
            return Err(ConfigError::NoAlgorithms);
        }
        let mut validation = Validation::new(self.algs).leeway(self.leeway);
        if let Some(issuer) = self.issuer {
            validation = validation.issuer(issuer);
        }
        for audience in self.audiences {
            validation = validation.audience(audience);
        }
        if let Some(typ) = self.typ {
            validation = validation.typ(typ);
        }
        if let Some(bytes) = self.max_token_bytes {
            validation = validation.max_token_bytes(bytes);
        }
        Ok(Verifier {
            inner: Arc::new(VerifierInner {
                source: self.source,
                validation,
                clock: self.clock,
            }),
        })
    }
}
