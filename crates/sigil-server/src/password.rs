//! Passwords in Better Auth's format: scrypt (N=16384, r=16, p=1, 64-byte key) over the
//! NFKC-normalized password, stored as `"<salt hex>:<key hex>"` where the 32-character salt *hex
//! string* is the scrypt salt. Hashing is CPU-heavy (32 MiB, tens of milliseconds), so the
//! [`Hasher`] runs it on the blocking pool, a bounded number at a time.

use std::time::Duration;

use aws_lc_rs::constant_time::verify_slices_are_equal;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use thiserror::Error;
use unicode_normalization::UnicodeNormalization;
use zeroize::Zeroizing;

/// Shortest password accepted at sign-up.
pub(crate) const MIN_LENGTH: usize = 8;
/// Longest password accepted.
pub(crate) const MAX_LENGTH: usize = 128;

const LOG_N: u8 = 14;
const R: u32 = 16;
const P: u32 = 1;
const KEY_LEN: usize = 64;

fn derive(password: &str, salt_hex: &str) -> Option<Zeroizing<[u8; KEY_LEN]>> {
    let normalized: Zeroizing<String> = Zeroizing::new(password.nfkc().collect());
    let params = scrypt::Params::new(LOG_N, R, P).ok()?;
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    scrypt::scrypt(
        normalized.as_bytes(),
        salt_hex.as_bytes(),
        &params,
        key.as_mut(),
    )
    .ok()?;
    Some(key)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Hashes a password into Better Auth's `salt:key` format. `None` only if the system RNG or the
/// scrypt parameters fail, which does not happen on a working system.
pub(crate) fn hash(password: &str) -> Option<String> {
    let mut salt = [0u8; 16];
    SystemRandom::new().fill(&mut salt).ok()?;
    let salt_hex = hex(&salt);
    let key = derive(password, &salt_hex)?;
    Some(format!("{salt_hex}:{}", hex(key.as_ref())))
}

/// Checks a password against a stored `salt:key` hash in constant time. A malformed hash never
/// matches.
pub(crate) fn verify(password: &str, stored: &str) -> bool {
    let Some((salt_hex, key_hex)) = stored.split_once(':') else {
        return false;
    };
    let Some(expected) = unhex(key_hex) else {
        return false;
    };
    let Some(key) = derive(password, salt_hex) else {
        return false;
    };
    expected.len() == KEY_LEN && verify_slices_are_equal(key.as_ref(), &expected).is_ok()
}

/// A fixed hash to verify against when the user does not exist, so that an unknown email costs
/// the same time as a wrong password.
pub(crate) const DUMMY_HASH: &str = "00000000000000000000000000000000:\
0000000000000000000000000000000000000000000000000000000000000000\
0000000000000000000000000000000000000000000000000000000000000000";

/// Why a password could not be hashed or checked.
#[derive(Debug, Error)]
pub(crate) enum HashError {
    /// Every hashing slot stayed busy for the whole wait: the server is overloaded.
    #[error("no password hashing slot within {0:?}")]
    Busy(Duration),
    /// The hashing task panicked or was cancelled.
    #[error("the password hashing task did not finish")]
    Task(#[source] tokio::task::JoinError),
    /// The system RNG or the scrypt parameters failed.
    #[error("password hashing failed")]
    Failed,
}

/// Hashes and checks passwords on the blocking pool, at most one per core at a time, so that a
/// flood of sign-ins queues (for at most `wait`) instead of running hundreds of 32 MiB scrypt
/// instances at once.
pub(crate) struct Hasher {
    slots: tokio::sync::Semaphore,
    wait: Duration,
}

impl Hasher {
    /// One slot per core (at least two); a request waits at most `wait` for one.
    pub(crate) fn new(wait: Duration) -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get().max(2));
        Hasher {
            slots: tokio::sync::Semaphore::new(cores),
            wait,
        }
    }

    async fn slot(&self) -> Result<tokio::sync::SemaphorePermit<'_>, HashError> {
        match tokio::time::timeout(self.wait, self.slots.acquire()).await {
            Ok(Ok(permit)) => Ok(permit),
            _ => Err(HashError::Busy(self.wait)),
        }
    }

    /// A new `salt:key` hash of `password`.
    pub(crate) async fn hash(&self, password: String) -> Result<String, HashError> {
        let _slot = self.slot().await?;
        tokio::task::spawn_blocking(move || hash(&password))
            .await
            .map_err(HashError::Task)?
            .ok_or(HashError::Failed)
    }

    /// Whether `password` matches the stored `hash`.
    pub(crate) async fn verify(&self, password: String, hash: String) -> Result<bool, HashError> {
        let _slot = self.slot().await?;
        tokio::task::spawn_blocking(move || verify(&password, &hash))
            .await
            .map_err(HashError::Task)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Made by Better Auth 1.7.25 (the Node peer in shared/anchors/better-auth) for the password
    /// "correct horse battery".
    const BETTER_AUTH_HASH: &str = "e892ea95d0de19fabbaa7003cb2272bf:cf532430ed9fe0b8f2270555b53e1fe884dffcd834e94005a93f548c657aff9e856b464b53fa433d0f0615ba5e183e4e7e32ea7a8fc93f185829e9cc7db9582a";

    #[test]
    fn verifies_better_auth_hash() {
        assert!(verify("correct horse battery", BETTER_AUTH_HASH));
        assert!(!verify("correct horse batterY", BETTER_AUTH_HASH));
    }

    #[test]
    fn round_trip_and_format() {
        let h = hash("pässwörd-Ω").unwrap();
        let (salt, key) = h.split_once(':').unwrap();
        assert_eq!((salt.len(), key.len()), (32, 128));
        assert!(verify("pässwörd-Ω", &h));
        // NFKC: the compatibility form of the ligature matches the plain letters.
        let h = hash("ﬁsh-and-chips").unwrap();
        assert!(verify("fish-and-chips", &h));
    }

    #[test]
    fn malformed_hashes_never_match() {
        for bad in ["", ":", "abc", "zz:zz", "00:0", DUMMY_HASH] {
            assert!(!verify("anything", bad), "{bad}");
        }
    }
}
