//! A JWKS held in memory: for tests, air-gapped services, and keys pinned by configuration.

use std::path::Path;
use std::sync::Arc;

use sigil_jose::JwkSet;

use crate::error::ConfigError;

/// A fixed key set with the same interface as [`crate::RemoteJwks`]; never refreshed.
#[derive(Clone, Debug)]
pub struct LocalJwks {
    set: Arc<JwkSet>,
}

impl LocalJwks {
    /// Wraps an already parsed key set.
    pub fn new(set: JwkSet) -> Self {
        LocalJwks { set: Arc::new(set) }
    }

    /// Parses a JWKS document strictly: a key that is not valid refuses the whole document, so a
    /// typo in a pinned key is found at start-up, not at the first token.
    pub fn from_json(bytes: &[u8]) -> Result<Self, ConfigError> {
        JwkSet::from_json(bytes)
            .map(Self::new)
            .map_err(ConfigError::InvalidJwks)
    }

    /// [`LocalJwks::from_json`] on a JSON value.
    pub fn from_value(value: &serde_json::Value) -> Result<Self, ConfigError> {
        Self::from_json(value.to_string().as_bytes())
    }

    /// [`LocalJwks::from_json`] on a file's contents.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, ConfigError> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| ConfigError::Io {
            path: path.to_owned(),
            source,
        })?;
        Self::from_json(&bytes)
    }

    /// The keys (always the same set).
    pub async fn keys(&self) -> Result<Arc<JwkSet>, crate::FetchError> {
        Ok(self.set.clone())
    }

    /// A local set never changes: always `None`.
    pub async fn refresh_for_unknown_kid(&self, _seen: &Arc<JwkSet>) -> Option<Arc<JwkSet>> {
        None
    }
}
