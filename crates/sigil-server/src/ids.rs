//! Random identifiers and session tokens: `[A-Za-z0-9]`, from the OS CSPRNG (via aws-lc-rs), as
//! Better Auth's `generateId` makes them.

use aws_lc_rs::rand::{SecureRandom, SystemRandom};

const ALPHABET: &[u8; 62] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// A random string of `len` characters from `[A-Za-z0-9]`, without modulo bias.
pub(crate) fn random_string(len: usize) -> String {
    let rng = SystemRandom::new();
    let mut out = String::with_capacity(len);
    let mut buf = [0u8; 64];
    while out.len() < len {
        // If the system RNG ever failed, retrying is the only safe answer: never fall back to a
        // predictable value.
        if rng.fill(&mut buf).is_err() {
            continue;
        }
        for b in buf {
            // 248 = 4 * 62: accept only bytes that map uniformly.
            if b < 248 && out.len() < len {
                out.push(char::from(ALPHABET[usize::from(b % 62)]));
            }
        }
    }
    out
}

/// A new 32-character id (users, sessions, accounts).
pub(crate) fn new_id() -> String {
    random_string(32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shape() {
        let a = new_id();
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_ne!(a, new_id());
    }
}
