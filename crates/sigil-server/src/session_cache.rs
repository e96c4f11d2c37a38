//! The in-memory session cache in front of the store, for the read paths (`/token`,
//! `/get-session` and its `set-auth-jwt`): a live session, its user and the user's public view
//! (the claims' ingredients), so that a token costs no database round trip.
//!
//! What it promises:
//! * **Keyed by a hash**: entries are keyed by SHA-256 of the session token, so a dump of this
//!   process's memory holds no usable session token.
//! * **Bounded**: at most `max_entries` entries and about `max_bytes` of their contents (each
//!   entry weighs its estimated size, and never less than `max_bytes / max_entries`).
//! * **Expiry at once**: a hit is checked against the session's own expiry on every use.
//! * **This instance's changes at once**: [`SessionCache::forget`] (sign-out, an expired session)
//!   removes the entry, and an entry loaded from the store while a `forget` ran is not kept
//!   (see [`SessionCache::insert`]).
//! * **Other processes' changes within the lifetime**: an entry is used for at most `ttl` after
//!   it was read from the store, by the server's clock; then the store is read again.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use chrono::{DateTime, TimeDelta, Utc};
use sigil_proto::UserView;

use crate::config::SessionCacheConfig;
use crate::store::{Session, User};
use crate::tokens::ClaimsTemplate;

/// A live session with what a token for it needs.
#[derive(Debug)]
pub(crate) struct LiveSession {
    pub(crate) session: Session,
    pub(crate) user: User,
    /// The public user object with its additional fields.
    pub(crate) view: UserView,
    /// Its tokens' claims but for the times, worked out by the first token signed for it.
    pub(crate) claims: OnceLock<ClaimsTemplate>,
    /// The `/get-session` body (`{session, user}`), serialized by the first request for it.
    pub(crate) session_body: OnceLock<axum::body::Bytes>,
}

impl LiveSession {
    pub(crate) fn new(session: Session, user: User, view: UserView) -> Self {
        LiveSession {
            session,
            user,
            view,
            claims: OnceLock::new(),
            session_body: OnceLock::new(),
        }
    }
}

/// The cache key: SHA-256 of the session token.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct TokenHash([u8; 32]);

impl TokenHash {
    pub(crate) fn of(token: &str) -> Self {
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes());
        let mut key = [0; 32];
        key.copy_from_slice(digest.as_ref());
        TokenHash(key)
    }
}

#[derive(Clone)]
struct Entry {
    live: Arc<LiveSession>,
    /// When it was read from the store (or last written there by this instance).
    read_at: DateTime<Utc>,
}

/// An entry's weight: its estimated size in bytes, at least the floor that bounds the count.
#[derive(Clone)]
struct Weight {
    floor: u64,
}

/// Bytes an entry takes besides its strings and fields (the structs, the session's fields in the
/// get-session body, two `Arc`s, the map slot).
const ENTRY_OVERHEAD: usize = 1024;

impl quick_cache::Weighter<TokenHash, Entry> for Weight {
    fn weight(&self, _: &TokenHash, entry: &Entry) -> u64 {
        let LiveSession {
            session,
            user,
            view,
            claims: _,
            session_body: _,
        } = &*entry.live;
        let optional = |s: &Option<String>| s.as_ref().map_or(0, String::len);
        let fields: usize = view
            .additional
            .iter()
            .map(|(name, value)| name.len() + value.to_string().len())
            .sum();
        let bytes = ENTRY_OVERHEAD
            + session.id.len()
            + session.token.len()
            + session.user_id.len()
            + optional(&session.ip_address)
            + optional(&session.user_agent)
            // The user's strings are held four times: in the row, in its public view, in the
            // claims template and in the get-session body (both filled in after the entry is
            // weighed, so counted here).
            + 4 * (user.id.len() + user.name.len() + user.email.len() + optional(&user.image))
            + 3 * fields;
        u64::try_from(bytes).map_or(u64::MAX, |b| b.max(self.floor))
    }
}

/// The cache, or nothing when it is turned off.
pub(crate) struct SessionCache {
    entries: Option<quick_cache::sync::Cache<TokenHash, Entry, Weight>>,
    ttl: TimeDelta,
    /// Counts [`SessionCache::forget`] calls, so that a load racing one is not kept.
    forgets: AtomicU64,
}

/// Where a lookup stands, to be handed back to [`SessionCache::insert`] after a store read.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Ticket {
    key: TokenHash,
    forgets: u64,
}

impl SessionCache {
    pub(crate) fn new(config: &SessionCacheConfig) -> Self {
        let entries = config.enabled.then(|| {
            let floor = (config.max_bytes / config.max_entries.max(1) as u64).max(1);
            quick_cache::sync::Cache::with_weighter(
                config.max_entries,
                config.max_bytes,
                Weight { floor },
            )
        });
        SessionCache {
            entries,
            ttl: config.ttl,
            forgets: AtomicU64::new(0),
        }
    }

    /// The cached session for `token` if it is fresh (read within the lifetime) and live at
    /// `now`; otherwise `None` and a ticket for [`SessionCache::insert`]. An entry past either
    /// bound is dropped.
    pub(crate) fn get(&self, token: &str, now: DateTime<Utc>) -> Result<Arc<LiveSession>, Ticket> {
        // Taken before the lookup, and so before any store read that follows a miss.
        let ticket = self.ticket(token);
        let key = ticket.key;
        let Some(entries) = &self.entries else {
            return Err(ticket);
        };
        let Some(entry) = entries.get(&key) else {
            return Err(ticket);
        };
        let fresh = entry.read_at <= now && now - entry.read_at < self.ttl;
        if fresh && entry.live.session.expires_at > now {
            return Ok(entry.live);
        }
        entries.remove(&key);
        Err(ticket)
    }

    /// A ticket for `token`, to be taken before the store is read or written: what is read or
    /// written after it may be kept with [`SessionCache::insert`].
    pub(crate) fn ticket(&self, token: &str) -> Ticket {
        Ticket {
            key: TokenHash::of(token),
            forgets: self.forgets.load(Ordering::SeqCst),
        }
    }

    /// Keeps a session read from (or just written to) the store at `now`. Not kept when a
    /// [`SessionCache::forget`] ran since the ticket was taken: the session read may be one
    /// that has since been signed out.
    pub(crate) fn insert(&self, ticket: Ticket, live: Arc<LiveSession>, now: DateTime<Utc>) {
        let Some(entries) = &self.entries else {
            return;
        };
        entries.insert(ticket.key, Entry { live, read_at: now });
        // A forget counts before it removes; so either it removes what was inserted above, or
        // it counted before this check.
        if self.forgets.load(Ordering::SeqCst) != ticket.forgets {
            entries.remove(&ticket.key);
        }
    }

    /// Drops `token`'s entry (a sign-out, an expired session), and any entry being loaded
    /// meanwhile.
    pub(crate) fn forget(&self, token: &str) {
        let Some(entries) = &self.entries else {
            return;
        };
        self.forgets.fetch_add(1, Ordering::SeqCst);
        entries.remove(&TokenHash::of(token));
    }

    /// Entries held (tests and metrics).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.as_ref().map_or(0, |e| e.len())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Map;

    use super::*;
    use crate::sessions::{new_session, user_view};

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + seconds, 0).unwrap()
    }

    fn config(enabled: bool) -> SessionCacheConfig {
        SessionCacheConfig {
            enabled,
            ttl: TimeDelta::seconds(5),
            max_entries: 100,
            max_bytes: 1 << 20,
        }
    }

    fn live(token: &str, expires: DateTime<Utc>) -> Arc<LiveSession> {
        let user = User {
            id: "u1".into(),
            name: "Ada".into(),
            email: "ada@example.com".into(),
            email_verified: false,
            image: None,
            created_at: at(0),
            updated_at: at(0),
        };
        let mut session = new_session(&user.id, true, None, None, at(0));
        session.token = token.into();
        session.expires_at = expires;
        Arc::new(LiveSession::new(
            session,
            user.clone(),
            user_view(&user, Map::new()),
        ))
    }

    fn miss(cache: &SessionCache, token: &str, now: DateTime<Utc>) -> Ticket {
        cache.get(token, now).expect_err("a miss")
    }

    #[test]
    fn a_hit_within_the_lifetime_and_the_session_expiry() {
        let cache = SessionCache::new(&config(true));
        let ticket = miss(&cache, "t", at(0));
        cache.insert(ticket, live("t", at(100)), at(0));
        assert!(cache.get("t", at(4)).is_ok(), "fresh");
        assert!(cache.get("other", at(4)).is_err());
        assert!(cache.get("t", at(5)).is_err(), "the lifetime is over");
        assert_eq!(cache.len(), 0, "a stale entry is dropped");

        cache.insert(miss(&cache, "t", at(98)), live("t", at(100)), at(98));
        assert!(cache.get("t", at(99)).is_ok());
        assert!(
            cache.get("t", at(100)).is_err(),
            "expired sessions never hit"
        );
        // A clock set back does not make an entry younger than it is.
        cache.insert(miss(&cache, "t", at(50)), live("t", at(100)), at(50));
        assert!(cache.get("t", at(49)).is_err());
    }

    #[test]
    fn forget_drops_the_entry_and_a_load_that_raced_it() {
        let cache = SessionCache::new(&config(true));
        cache.insert(miss(&cache, "t", at(0)), live("t", at(100)), at(0));
        cache.forget("t");
        assert!(cache.get("t", at(1)).is_err());

        // A request looked "t" up and went to the store; a sign-out of any session ran before
        // its answer came back: what it read is not kept.
        let ticket = miss(&cache, "t", at(1));
        cache.forget("t");
        cache.insert(ticket, live("t", at(100)), at(1));
        assert!(cache.get("t", at(2)).is_err());
        // A later load is kept again.
        cache.insert(miss(&cache, "t", at(2)), live("t", at(100)), at(2));
        assert!(cache.get("t", at(3)).is_ok());
    }

    #[test]
    fn turned_off_it_holds_nothing() {
        let cache = SessionCache::new(&config(false));
        cache.insert(miss(&cache, "t", at(0)), live("t", at(100)), at(0));
        assert!(cache.get("t", at(0)).is_err());
        assert_eq!(cache.len(), 0);
    }

    #[test]
    fn bounded_in_entries_and_bytes() {
        let mut small = config(true);
        small.max_entries = 10;
        let cache = SessionCache::new(&small);
        for i in 0..100 {
            let token = format!("t{i}");
            cache.insert(miss(&cache, &token, at(0)), live(&token, at(100)), at(0));
        }
        assert!(cache.len() <= 10, "{} entries", cache.len());

        let mut tight = config(true);
        tight.max_bytes = 16 * 1024;
        let cache = SessionCache::new(&tight);
        let small = live("big", at(100));
        let mut big = LiveSession::new(
            small.session.clone(),
            small.user.clone(),
            small.view.clone(),
        );
        big.view
            .additional
            .insert("bio".into(), "x".repeat(64 * 1024).into());
        cache.insert(miss(&cache, "big", at(0)), Arc::new(big), at(0));
        assert!(
            cache.get("big", at(0)).is_err(),
            "larger than the whole cache"
        );
    }

    #[test]
    fn keys_are_hashes_not_tokens() {
        let key = TokenHash::of("secret-session-token");
        assert_ne!(&key.0[..], b"secret-session-token".as_slice());
        assert_eq!(key, TokenHash::of("secret-session-token"));
        assert_ne!(key, TokenHash::of("secret-session-tokeN"));
    }

    #[test]
    fn a_ticket_is_taken_before_the_lookup() {
        let cache = SessionCache::new(&config(true));
        let before = miss(&cache, "t", at(0));
        cache.forget("x");
        let after = miss(&cache, "t", at(0));
        assert_ne!(before.forgets, after.forgets);
    }
}
