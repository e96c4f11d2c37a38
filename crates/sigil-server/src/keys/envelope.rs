//! Private keys at rest in Better Auth's envelope, so that Better Auth and Sigil nodes can read
//! each other's keys: XChaCha20-Poly1305 under SHA-256(secret), no AAD, a 24-byte random nonce,
//! lowercase hex of `nonce ‖ ciphertext ‖ tag`, optionally prefixed `$ba$<version>$` for
//! versioned secrets, stored as a JSON string literal (quotes included).
//!
//! aws-lc-rs has no XChaCha20-Poly1305, hence the RustCrypto `chacha20poly1305` crate here: the
//! format is Better Auth's, not a choice.

use std::collections::BTreeMap;

use aws_lc_rs::digest::{SHA256, digest};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use chacha20poly1305::aead::Aead;
use chacha20poly1305::{KeyInit, XChaCha20Poly1305, XNonce};
use thiserror::Error;
use zeroize::Zeroizing;

use crate::config::{Secret, Secrets};

/// Why a stored private key could not be opened.
#[derive(Debug, Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum EnvelopeError {
    /// The column is not the envelope format (nor a private JWK when encryption is off).
    #[error("the stored private key is not in Better Auth's envelope format")]
    Format,
    /// The value names a secret version that is not configured.
    #[error("the key was encrypted with secret version {0}, which is not configured")]
    UnknownVersion(u32),
    /// Authentication failed: encrypted under another secret, or altered.
    #[error("the key cannot be decrypted with the configured secret(s)")]
    WrongSecret,
    /// The system RNG failed.
    #[error("random number generator failure")]
    Rng,
}

/// The secrets keys are encrypted under: the current one (new keys use it) and older versions
/// that can still open existing keys.
#[derive(Clone, Debug)]
pub struct SecretRing {
    current: Secret,
    current_version: Option<u32>,
    versions: BTreeMap<u32, Secret>,
    legacy: Option<Secret>,
}

impl SecretRing {
    /// The ring of the configured secrets: versioned when versions are configured, else the one
    /// plain secret.
    pub fn from_secrets(secrets: &Secrets) -> Self {
        if secrets.versions.is_empty() {
            return SecretRing::single(secrets.current.clone());
        }
        SecretRing::versioned(secrets.versions.clone(), secrets.legacy.clone())
            .unwrap_or_else(|| SecretRing::single(secrets.current.clone()))
    }

    /// One plain secret (Better Auth's `secret`): envelopes without a version prefix.
    pub fn single(secret: Secret) -> Self {
        SecretRing {
            current: secret,
            current_version: None,
            versions: BTreeMap::new(),
            legacy: None,
        }
    }

    /// Versioned secrets (Better Auth's `secrets` / `BETTER_AUTH_SECRETS`, first = current) plus
    /// the plain `legacy` secret that opens unprefixed envelopes written before versioning.
    pub fn versioned(ordered: Vec<(u32, Secret)>, legacy: Option<Secret>) -> Option<Self> {
        let (current_version, current) = ordered.first().cloned()?;
        Some(SecretRing {
            current,
            current_version: Some(current_version),
            versions: ordered.into_iter().collect(),
            legacy,
        })
    }

    fn key(secret: &Secret) -> Zeroizing<[u8; 32]> {
        let mut out = Zeroizing::new([0u8; 32]);
        out.copy_from_slice(digest(&SHA256, secret.expose().as_bytes()).as_ref());
        out
    }

    /// Encrypts a private JWK (JSON text) into the column value.
    pub fn seal(&self, private_jwk: &str) -> Result<String, EnvelopeError> {
        let key = Self::key(&self.current);
        let cipher = XChaCha20Poly1305::new(&(*key).into());
        let mut nonce = [0u8; 24];
        SystemRandom::new()
            .fill(&mut nonce)
            .map_err(|_| EnvelopeError::Rng)?;
        let sealed = cipher
            .encrypt(&XNonce::from(nonce), private_jwk.as_bytes())
            .map_err(|_| EnvelopeError::Rng)?;
        let mut hex_text = hex::encode(nonce);
        hex_text.push_str(&hex::encode(sealed));
        let text = match self.current_version {
            Some(v) => format!("$ba${v}${hex_text}"),
            None => hex_text,
        };
        serde_json::to_string(&text).map_err(|_| EnvelopeError::Format)
    }

    /// Decrypts a column value into the private JWK text.
    pub fn open(&self, column: &str) -> Result<Zeroizing<String>, EnvelopeError> {
        let text: String = serde_json::from_str(column).map_err(|_| EnvelopeError::Format)?;
        let (secret, hex_text) = match text.strip_prefix("$ba$") {
            Some(rest) => {
                let (version, hex_text) = rest.split_once('$').ok_or(EnvelopeError::Format)?;
                let version: u32 = version.parse().map_err(|_| EnvelopeError::Format)?;
                let secret = match self.current_version {
                    Some(_) => self
                        .versions
                        .get(&version)
                        .ok_or(EnvelopeError::UnknownVersion(version))?,
                    None => &self.current,
                };
                (secret, hex_text)
            }
            None => match self.current_version {
                Some(_) => (self.legacy.as_ref().unwrap_or(&self.current), text.as_str()),
                None => (&self.current, text.as_str()),
            },
        };
        let bytes = hex::decode(hex_text).map_err(|_| EnvelopeError::Format)?;
        if bytes.len() < 24 + 16 {
            return Err(EnvelopeError::Format);
        }
        let (nonce, sealed) = bytes.split_at(24);
        let nonce = XNonce::try_from(nonce).map_err(|_| EnvelopeError::Format)?;
        let key = Self::key(secret);
        let cipher = XChaCha20Poly1305::new(&(*key).into());
        let plain = Zeroizing::new(
            cipher
                .decrypt(&nonce, sealed)
                .map_err(|_| EnvelopeError::WrongSecret)?,
        );
        String::from_utf8(plain.to_vec())
            .map(Zeroizing::new)
            .map_err(|_| EnvelopeError::Format)
    }

    /// Whether a column value is sealed under the current secret (else `rewrap` would change it).
    pub fn is_current(&self, column: &str) -> bool {
        let Ok(text) = serde_json::from_str::<String>(column) else {
            return false;
        };
        match self.current_version {
            Some(v) => text.starts_with(&format!("$ba${v}$")),
            None => !text.starts_with("$ba$"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Written by Better Auth 1.7.25 (the Node peer) for an EdDSA key, secret below.
    const BA_SECRET: &str = "anchor-dev-secret-0123456789abcdef0123456789abcdef";
    const BA_COLUMN: &str = "\"0cc369fb90a8d0681ceb10f389b478b3d6bac38368a5ee8c61c5c2af6d0bd19ad00c8a0a6792249e31508d008793589e7692f8b8a8128c4d6b3c4a3f3fa8dd714b45240c5728a2e2a8d595ebc56233d51d9b37c9bd1d1b7dda37819c7dac8e35700fb0654868c39613f4a43c082383e64c9c7e1789cd5c39a33fef357e3d4cb7d7768d26c681cea25498a0931c1bb7228865d1edb5449b0acdd03428a4041242fdc40cc3778f94b099\"";
    const BA_PUBLIC_X: &str = "G1FcfvsILVardEgy6Vdhcw4rLtD1IJZR9xCxPnupe0I";

    #[test]
    fn opens_better_auth_envelope() {
        let ring = SecretRing::single(Secret::new(BA_SECRET));
        let jwk = ring.open(BA_COLUMN).unwrap();
        let pair = sigil_jose::KeyPair::from_jwk(&jwk, Some(sigil_jose::Alg::EdDSA)).unwrap();
        assert_eq!(pair.public_key().to_jwk()["x"], BA_PUBLIC_X);
        assert!(ring.is_current(BA_COLUMN));
    }

    #[test]
    fn wrong_secret_and_tampering_are_refused() {
        let other = SecretRing::single(Secret::new("another-secret-0123456789abcdef0123456789"));
        assert_eq!(
            other.open(BA_COLUMN).unwrap_err(),
            EnvelopeError::WrongSecret
        );
        let ring = SecretRing::single(Secret::new(BA_SECRET));
        let tampered = BA_COLUMN.replacen("0cc3", "0cc4", 1);
        assert_eq!(
            ring.open(&tampered).unwrap_err(),
            EnvelopeError::WrongSecret
        );
        for bad in [
            "",
            "\"\"",
            "\"zz\"",
            "{}",
            "\"$ba$x$00\"",
            BA_COLUMN.trim_matches('"'),
        ] {
            assert_eq!(ring.open(bad).unwrap_err(), EnvelopeError::Format, "{bad}");
        }
    }

    #[test]
    fn round_trip_and_versions() {
        let plain = r#"{"kty":"OKP","crv":"Ed25519","x":"x","d":"d"}"#;
        let single = SecretRing::single(Secret::new(BA_SECRET));
        let sealed = single.seal(plain).unwrap();
        assert!(sealed.starts_with('"') && sealed.ends_with('"'));
        assert_eq!(&*single.open(&sealed).unwrap(), plain);

        let ring = SecretRing::versioned(
            vec![
                (2, Secret::new("new-secret-0123456789abcdef0123456789ab")),
                (1, Secret::new("old-secret-0123456789abcdef0123456789ab")),
            ],
            Some(Secret::new(BA_SECRET)),
        )
        .unwrap();
        let v2 = ring.seal(plain).unwrap();
        assert!(v2.starts_with("\"$ba$2$"));
        assert_eq!(&*ring.open(&v2).unwrap(), plain);
        // Unprefixed envelopes open with the legacy secret.
        assert_eq!(&*ring.open(&sealed).unwrap(), plain);
        assert!(!ring.is_current(&sealed));
        let v9 = v2.replacen("$ba$2$", "$ba$9$", 1);
        assert_eq!(
            ring.open(&v9).unwrap_err(),
            EnvelopeError::UnknownVersion(9)
        );
    }
}
