//! A JWKS held in memory: for tests, air-gapped services, and keys pinned by configuration.

use std::io::Read;
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

    /// [`LocalJwks::from_json`] on a file's contents. Only a regular file of at most
    /// [`crate::remote::DEFAULT_MAX_BYTES`] is read: a FIFO or device would block or never end.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, ConfigError> {
        let path = path.as_ref();
        let io = |source| ConfigError::Io {
            path: path.to_owned(),
            source,
        };
        let refuse = |why: &str| io(std::io::Error::new(std::io::ErrorKind::InvalidInput, why));
        if !std::fs::metadata(path).map_err(io)?.is_file() {
            return Err(refuse("not a regular file"));
        }
        let limit = crate::remote::DEFAULT_MAX_BYTES;
        let mut bytes = Vec::new();
        std::fs::File::open(path)
            .and_then(|f| f.take(limit as u64 + 1).read_to_end(&mut bytes))
            .map_err(io)?;
        if bytes.len() > limit {
            return Err(refuse("larger than 512 KiB"));
        }
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
