//! The changes one process announces to every other process on the same PostgreSQL database
//! (`NOTIFY` on [`CHANNEL`]), so that their session caches and key managers act on them at once:
//! a session ended, a user changed, the key table changed. See `push.rs` for the receiving end.
//!
//! A payload never holds a session token: an ended session is named by the SHA-256 of its token,
//! the key the session cache already uses.

use std::fmt;

/// The PostgreSQL notification channel every Sigil process listens on.
pub(crate) const CHANNEL: &str = "sigil_changes";

/// SHA-256 of a session token: the session cache's key, and how a change names a session.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct TokenHash(pub(crate) [u8; 32]);

impl TokenHash {
    pub(crate) fn of(token: &str) -> Self {
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes());
        let mut key = [0; 32];
        key.copy_from_slice(digest.as_ref());
        TokenHash(key)
    }

    fn parse_hex(text: &str) -> Option<Self> {
        let bytes = text.as_bytes();
        if bytes.len() != 64 {
            return None;
        }
        let mut key = [0; 32];
        for (byte, pair) in key.iter_mut().zip(bytes.chunks_exact(2)) {
            let pair = std::str::from_utf8(pair).ok()?;
            *byte = u8::from_str_radix(pair, 16).ok()?;
        }
        Some(TokenHash(key))
    }
}

impl fmt::Display for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

/// One announced change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Change {
    /// The session with this token hash was deleted (sign-out, expiry).
    SessionEnded(TokenHash),
    /// The user with this id changed (a field set by `sigil user set`): its sessions' cached
    /// user objects are out of date.
    UserChanged(String),
    /// A signing key was created, rotated, revoked or re-encrypted.
    Keys,
}

impl Change {
    /// The notification payload: `session:<hex>`, `user:<id>` or `keys`.
    pub(crate) fn payload(&self) -> String {
        match self {
            Change::SessionEnded(hash) => format!("session:{hash}"),
            Change::UserChanged(id) => format!("user:{id}"),
            Change::Keys => "keys".to_owned(),
        }
    }

    /// Reads a payload; `None` for one this version does not know (the receiver then assumes
    /// that anything may have changed).
    pub(crate) fn parse(payload: &str) -> Option<Change> {
        if payload == "keys" {
            return Some(Change::Keys);
        }
        if let Some(hex) = payload.strip_prefix("session:") {
            return TokenHash::parse_hex(hex).map(Change::SessionEnded);
        }
        payload
            .strip_prefix("user:")
            .filter(|id| !id.is_empty())
            .map(|id| Change::UserChanged(id.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn payloads_round_trip_and_hold_no_token() {
        let token = "secret-session-token";
        let ended = Change::SessionEnded(TokenHash::of(token));
        let payload = ended.payload();
        assert!(!payload.contains(token));
        assert_eq!(payload.len(), "session:".len() + 64);
        for change in [ended, Change::UserChanged("u1".into()), Change::Keys] {
            assert_eq!(Change::parse(&change.payload()), Some(change));
        }
    }

    #[test]
    fn unknown_payloads_are_none() {
        for payload in [
            "",
            "key",
            "user:",
            "session:",
            "session:zz",
            "session:abc",
            "x:y",
        ] {
            assert_eq!(Change::parse(payload), None, "{payload}");
        }
        let wide = format!("session:{}", "é".repeat(32));
        assert_eq!(Change::parse(&wide), None);
    }

    proptest! {
        /// Any payload (the channel is open to every client of the database) parses or is
        /// refused, without a panic.
        #[test]
        fn any_payload_is_safe(payload in ".{0,80}") {
            if let Some(change) = Change::parse(&payload) {
                prop_assert_eq!(Change::parse(&change.payload()), Some(change));
            }
        }

        #[test]
        fn any_hash_round_trips(bytes in proptest::array::uniform32(any::<u8>())) {
            let change = Change::SessionEnded(TokenHash(bytes));
            prop_assert_eq!(Change::parse(&change.payload()), Some(change));
        }
    }
}
