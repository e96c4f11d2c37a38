//! The in-memory session cache in front of the store, for the read paths (`/token`,
//! `/get-session` and its `set-auth-jwt`): a live session, its user and the user's public view
//! (the claims' ingredients), so that a token costs no database round trip.
//!
//! What it promises:
//! * **No usable token in memory**: entries are keyed by SHA-256 of the session token, and what
//!   they hold has the token blanked (the get-session body is kept in two parts around it); the
//!   request that presents the token supplies it.
//! * **Bounded**: at most `max_entries` entries and about `max_bytes` of their contents (each
//!   entry weighs its estimated size, and never less than `max_bytes / max_entries`; an entry
//!   larger than a shard's share is not kept).
//! * **Expiry at once**: a hit is checked against the session's own expiry on every use.
//! * **This instance's changes at once**: [`SessionCache::forget`] (sign-out, an expired session)
//!   removes the entry and moves its key's generation on; an entry stamped with an older
//!   generation (a load that raced the sign-out) is never used.
//! * **Other processes' changes within the lifetime**: an entry is used for at most `ttl` after
//!   its session and user were read from the store, by the server's clock.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use axum::body::Bytes;
use chrono::{DateTime, TimeDelta, Utc};
use sigil_proto::{SessionResponse, UserView};

use crate::changes::TokenHash;
use crate::claims::ClaimsTemplate;
use crate::config::SessionCacheConfig;
use crate::store::{Session, User};
use crate::views::session_view;

/// A live session with what a token and a get-session answer for it need.
#[derive(Debug)]
pub(crate) struct LiveSession {
    /// The session row, its token blanked.
    pub(crate) session: Session,
    pub(crate) user: User,
    /// The public user object with its additional fields.
    pub(crate) view: UserView,
    /// When the session and user were read from the store: the start of the cache lifetime.
    pub(crate) read_at: DateTime<Utc>,
    /// The get-session body (`{session, user}`) before and after the token's JSON string;
    /// `None` if it could not be split (the route then serializes it whole).
    body: Option<(Bytes, Bytes)>,
    /// Its tokens' claims but for the times, worked out by the first token signed for it.
    pub(crate) claims: OnceLock<ClaimsTemplate>,
    /// Estimated bytes held, for the cache's bound.
    weight: usize,
}

/// Where the session token goes in the serialized get-session body: its `session.token`, the
/// first `"token":` member (the session object comes first, and only its generated `id` and
/// `expiresAt` precede the token).
const TOKEN_MEMBER: &[u8] = br#""token":"""#;

impl LiveSession {
    /// A live session read at `read_at`; `session.token` is blanked here. `claims_extra` is what
    /// configured static claims add to each claims template (for the weight).
    pub(crate) fn new(
        mut session: Session,
        user: User,
        view: UserView,
        read_at: DateTime<Utc>,
        claims_extra: usize,
    ) -> Self {
        session.token = String::new();
        let whole = serde_json::to_vec(&SessionResponse {
            session: session_view(&session),
            user: view.clone(),
        })
        .ok();
        let body = whole.as_deref().and_then(|whole| {
            let at = whole
                .windows(TOKEN_MEMBER.len())
                .position(|w| w == TOKEN_MEMBER)?;
            let value = at + TOKEN_MEMBER.len() - 2;
            Some((
                Bytes::copy_from_slice(&whole[..value]),
                Bytes::copy_from_slice(&whole[value + 2..]),
            ))
        });
        // The body holds the session and the public user; the row, the view and the claims
        // template each hold about as much again.
        let serialized = whole.as_ref().map_or(4096, Vec::len);
        LiveSession {
            session,
            user,
            view,
            read_at,
            body,
            claims: OnceLock::new(),
            weight: ENTRY_OVERHEAD + 4 * serialized + claims_extra,
        }
    }

    /// The get-session body with `token` in its place, if the body could be prepared.
    pub(crate) fn session_body(&self, token: &str) -> Option<Bytes> {
        let (before, after) = self.body.as_ref()?;
        let quoted = serde_json::to_string(token).ok()?;
        let mut body = Vec::with_capacity(before.len() + quoted.len() + after.len());
        body.extend_from_slice(before);
        body.extend_from_slice(quoted.as_bytes());
        body.extend_from_slice(after);
        Some(Bytes::from(body))
    }

    /// The session row with its token given back (for hooks, which see the row as stored).
    pub(crate) fn session_with_token(&self, token: &str) -> Session {
        Session {
            token: token.to_owned(),
            ..self.session.clone()
        }
    }
}

/// Which generation counter a key's entries are stamped from.
fn stripe(key: &TokenHash) -> usize {
    usize::from(key.0[0]) % GENERATIONS
}

#[derive(Clone)]
struct Entry {
    live: Arc<LiveSession>,
    /// The key's generation when the load that made the entry started.
    generation: u64,
}

/// An entry's weight: its estimated size in bytes, at least the floor that bounds the count.
#[derive(Clone)]
struct Weight {
    floor: u64,
}

/// Bytes an entry takes besides its contents (the structs, two `Arc`s, the map slot).
const ENTRY_OVERHEAD: usize = 512;

impl quick_cache::Weighter<TokenHash, Entry> for Weight {
    fn weight(&self, _: &TokenHash, entry: &Entry) -> u64 {
        u64::try_from(entry.live.weight).map_or(u64::MAX, |w| w.max(self.floor))
    }
}

/// Generation counters, shared by the keys whose hashes start alike: a forget moves on only
/// its stripe, so a sign-out cancels the loads in flight of about 1/256 of the sessions.
const GENERATIONS: usize = 256;

/// How long entries are used while changes made elsewhere are not pushed to this process (on
/// a shared database whose notifications are not being received): the polling bound.
pub(crate) const POLL_TTL: TimeDelta = TimeDelta::seconds(1);

/// The cache, or nothing when it is turned off.
pub(crate) struct SessionCache {
    entries: Option<quick_cache::sync::Cache<TokenHash, Entry, Weight>>,
    ttl: TimeDelta,
    /// How long after its read an entry may stand in while the database is unavailable.
    stale_limit: TimeDelta,
    /// Whether the database is shared with other processes that push their changes (then, while
    /// no push arrives, entries are used for [`POLL_TTL`] at most).
    shared: bool,
    /// Whether changes made elsewhere are being pushed to this process now.
    pushed: AtomicBool,
    generations: Box<[AtomicU64]>,
    user_changes: UserChanges,
}

/// The last users changed elsewhere, counted, so that a load which began before a change of its
/// user is not kept.
#[derive(Default)]
struct UserChanges {
    count: AtomicU64,
    /// The most recent changes: (count after it, user id; `None`: every user).
    recent: std::sync::Mutex<std::collections::VecDeque<(u64, Option<String>)>>,
}

/// Changes remembered; a load older than all of them is not kept.
const USER_CHANGES_KEPT: usize = 64;

impl UserChanges {
    fn count(&self) -> u64 {
        self.count.load(Ordering::SeqCst)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, std::collections::VecDeque<(u64, Option<String>)>> {
        self.recent.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn push(&self, user: Option<&str>) {
        let mut recent = self.lock();
        let count = self.count.fetch_add(1, Ordering::SeqCst) + 1;
        if recent.len() == USER_CHANGES_KEPT {
            recent.pop_front();
        }
        recent.push_back((count, user.map(str::to_owned)));
    }

    fn record(&self, user: &str) {
        self.push(Some(user));
    }

    fn record_everyone(&self) {
        self.push(None);
    }

    /// Whether `user` (or everyone) changed after the count was `seen`.
    fn since(&self, seen: u64, user: &str) -> bool {
        if self.count() == seen {
            return false;
        }
        let recent = self.lock();
        match recent.front() {
            // Older than every change remembered: assume it concerned this user.
            Some((oldest, _)) if *oldest > seen + 1 => true,
            _ => recent
                .iter()
                .any(|(n, who)| *n > seen && who.as_deref().is_none_or(|w| w == user)),
        }
    }
}

/// Where a lookup stands, to be handed back to [`SessionCache::insert`] after a store read
/// (nothing when the cache is off): the key, its generation and the user-change count.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Ticket(Option<(TokenHash, u64, u64)>);

/// A lookup that found no fresh entry.
#[derive(Debug)]
pub(crate) struct Miss {
    /// For [`SessionCache::insert`] after the store is read.
    pub(crate) ticket: Ticket,
    /// An entry past its lifetime but within the stale limit (still live, never forgotten):
    /// what may answer if the store cannot.
    pub(crate) stale: Option<Arc<LiveSession>>,
}

impl Miss {
    fn cold(ticket: Ticket) -> Self {
        Miss {
            ticket,
            stale: None,
        }
    }
}

impl SessionCache {
    /// A cache by `config`; `shared` when other processes use the same database and push their
    /// changes (PostgreSQL).
    pub(crate) fn new(config: &SessionCacheConfig, shared: bool) -> Self {
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
            stale_limit: config.stale_if_unavailable,
            shared,
            pushed: AtomicBool::new(false),
            generations: (0..GENERATIONS).map(|_| AtomicU64::new(0)).collect(),
            user_changes: UserChanges::default(),
        }
    }

    fn generation(&self, key: &TokenHash) -> u64 {
        self.generations[stripe(key)].load(Ordering::SeqCst)
    }

    /// Says whether other processes' changes are being pushed to this one now. While they are
    /// not (on a shared database), entries are used for [`POLL_TTL`] at most.
    pub(crate) fn set_pushed(&self, pushed: bool) {
        self.pushed.store(pushed, Ordering::SeqCst);
    }

    /// How long an entry is used after its read, now.
    fn lifetime(&self) -> TimeDelta {
        if self.shared && !self.pushed.load(Ordering::SeqCst) {
            self.ttl.min(POLL_TTL)
        } else {
            self.ttl
        }
    }

    /// The cached session for `token` if it is fresh (read within the lifetime, not older than
    /// the last forget of its key) and live at `now`; otherwise a [`Miss`] with a ticket for
    /// [`SessionCache::insert`] and, within the stale limit, the entry past its lifetime. An
    /// entry past every bound is dropped.
    pub(crate) fn get(&self, token: &str, now: DateTime<Utc>) -> Result<Arc<LiveSession>, Miss> {
        let Some(entries) = &self.entries else {
            return Err(Miss::cold(Ticket(None)));
        };
        let key = TokenHash::of(token);
        // Taken before the lookup, and so before any store read that follows a miss.
        let generation = self.generation(&key);
        let ticket = Ticket(Some((key, generation, self.user_changes.count())));
        let Some(entry) = entries.get(&key) else {
            return Err(Miss::cold(ticket));
        };
        let live = &entry.live;
        if live.read_at > now {
            // Read after this request took its time (or the clock went back): not for us.
            return Err(Miss::cold(ticket));
        }
        if entry.generation == generation && live.session.expires_at > now {
            let age = now - live.read_at;
            if age < self.lifetime() {
                return Ok(entry.live);
            }
            if age < self.stale_limit {
                return Err(Miss {
                    ticket,
                    stale: Some(entry.live),
                });
            }
        }
        entries.remove(&key);
        Err(Miss::cold(ticket))
    }

    /// A ticket for `token`, to be taken before the store is read or written: what is read or
    /// written after it may be kept with [`SessionCache::insert`].
    pub(crate) fn ticket(&self, token: &str) -> Ticket {
        if self.entries.is_none() {
            return Ticket(None);
        }
        let key = TokenHash::of(token);
        Ticket(Some((
            key,
            self.generation(&key),
            self.user_changes.count(),
        )))
    }

    /// Keeps a session read from (or just written to) the store, stamped with the ticket's
    /// generation: if its key was forgotten since the ticket was taken, the entry is never used
    /// (and is dropped here or by the next lookup).
    pub(crate) fn insert(&self, ticket: Ticket, live: Arc<LiveSession>) {
        let (Some(entries), Ticket(Some((key, generation, users_seen)))) = (&self.entries, ticket)
        else {
            return;
        };
        let user = live.user.id.clone();
        entries.insert(key, Entry { live, generation });
        // Checked after the insert: a forget that comes later finds the entry and removes it.
        if self.generation(&key) != generation || self.user_changes.since(users_seen, &user) {
            entries.remove(&key);
        }
    }
    /// Drops `token`'s entry (a sign-out, an expired session), and makes any entry a load in
    /// flight puts back unusable.
    pub(crate) fn forget(&self, token: &str) {
        if self.entries.is_some() {
            self.forget_hash(&TokenHash::of(token));
        }
    }

    /// [`SessionCache::forget`] by the token's hash (a sign-out announced by another process).
    pub(crate) fn forget_hash(&self, key: &TokenHash) {
        let Some(entries) = &self.entries else {
            return;
        };
        self.generations[stripe(key)].fetch_add(1, Ordering::SeqCst);
        if entries.remove(key).is_some() {
            crate::telemetry::cache_invalidated("session");
        }
    }

    /// Drops the entries of this user's sessions (the user changed elsewhere), and keeps loads
    /// in flight from putting the user back as it was.
    pub(crate) fn forget_user(&self, user_id: &str) {
        let Some(entries) = &self.entries else {
            return;
        };
        // Recorded before the walk: a load that inserts after the walk sees the record.
        self.user_changes.record(user_id);
        let theirs: Vec<TokenHash> = entries
            .iter()
            .filter(|(_, entry)| entry.live.user.id == user_id)
            .map(|(key, _)| key)
            .collect();
        for key in theirs {
            if entries.remove(&key).is_some() {
                crate::telemetry::cache_invalidated("user");
            }
        }
    }
    /// Drops every entry and makes every load in flight unusable: when changes made elsewhere
    /// may have been missed (the push was down, or said something this version cannot read).
    pub(crate) fn forget_all(&self) {
        let Some(entries) = &self.entries else {
            return;
        };
        self.next_generation_everywhere();
        entries.clear();
        crate::telemetry::cache_invalidated("all");
    }

    fn next_generation_everywhere(&self) {
        self.user_changes.record_everyone();
        for generation in &self.generations {
            generation.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// Entries held (tests and metrics).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.as_ref().map_or(0, |e| e.len())
    }

    /// Every entry's contents (tests).
    #[cfg(test)]
    fn dump(&self) -> Vec<Arc<LiveSession>> {
        self.entries
            .as_ref()
            .map(|e| e.iter().map(|(_, entry)| entry.live).collect())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Map;

    use super::*;
    use crate::sessions::new_session;
    use crate::views::user_view;

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + seconds, 0).unwrap()
    }

    fn config(enabled: bool) -> SessionCacheConfig {
        SessionCacheConfig {
            enabled,
            ttl: TimeDelta::seconds(5),
            max_entries: 100,
            max_bytes: 1 << 20,
            stale_if_unavailable: TimeDelta::seconds(60),
        }
    }

    fn session(token: &str, expires: DateTime<Utc>) -> (Session, User) {
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
        (session, user)
    }

    fn live(token: &str, expires: DateTime<Utc>, read_at: DateTime<Utc>) -> Arc<LiveSession> {
        let (session, user) = session(token, expires);
        let view = user_view(&user, Map::new());
        Arc::new(LiveSession::new(session, user, view, read_at, 0))
    }

    fn miss(cache: &SessionCache, token: &str, now: DateTime<Utc>) -> Ticket {
        cache.get(token, now).expect_err("a miss").ticket
    }

    #[test]
    fn a_hit_within_the_lifetime_and_the_session_expiry() {
        let cache = SessionCache::new(&config(true), false);
        let ticket = miss(&cache, "t", at(0));
        cache.insert(ticket, live("t", at(100), at(0)));
        assert!(cache.get("t", at(4)).is_ok(), "fresh");
        assert!(cache.get("other", at(4)).is_err());
        let over = cache.get("t", at(5)).expect_err("the lifetime is over");
        assert!(
            over.stale.is_some(),
            "kept for when the store is unavailable"
        );
        assert!(cache.get("t", at(59)).unwrap_err().stale.is_some());
        assert!(cache.get("t", at(60)).unwrap_err().stale.is_none());
        assert_eq!(cache.len(), 0, "an entry past the stale limit is dropped");

        cache.insert(miss(&cache, "t", at(98)), live("t", at(100), at(98)));
        assert!(cache.get("t", at(99)).is_ok());
        assert!(
            cache.get("t", at(100)).is_err(),
            "expired sessions never hit"
        );
        // An entry read after a request's time is not that request's (nor a clock set back's).
        cache.insert(miss(&cache, "t", at(50)), live("t", at(100), at(50)));
        assert!(cache.get("t", at(49)).is_err());
        assert!(cache.get("t", at(50)).is_ok(), "and it is kept");
    }

    /// Nothing that may not be used stands in when the store is unavailable: an expired
    /// session, a forgotten one.
    #[test]
    fn stale_entries_are_live_and_never_forgotten() {
        let cache = SessionCache::new(&config(true), false);
        cache.insert(miss(&cache, "t", at(0)), live("t", at(10), at(0)));
        assert!(cache.get("t", at(6)).unwrap_err().stale.is_some());
        assert!(cache.get("t", at(10)).unwrap_err().stale.is_none());

        cache.insert(miss(&cache, "t", at(0)), live("t", at(100), at(0)));
        cache.forget("t");
        assert!(cache.get("t", at(6)).unwrap_err().stale.is_none());

        let mut strict = config(true);
        strict.stale_if_unavailable = TimeDelta::zero();
        let cache = SessionCache::new(&strict, false);
        cache.insert(miss(&cache, "t", at(0)), live("t", at(100), at(0)));
        assert!(cache.get("t", at(5)).unwrap_err().stale.is_none());
    }

    /// On a shared database, entries last the configured lifetime only while changes are pushed.
    #[test]
    fn without_push_a_shared_cache_polls() {
        let cache = SessionCache::new(&config(true), true);
        cache.insert(miss(&cache, "t", at(0)), live("t", at(100), at(0)));
        assert!(cache.get("t", at(0)).is_ok());
        assert!(cache.get("t", at(1)).is_err(), "not pushed yet: {POLL_TTL}");
        cache.set_pushed(true);
        assert!(cache.get("t", at(4)).is_ok(), "pushed: the configured 5 s");
        cache.set_pushed(false);
        assert!(cache.get("t", at(1)).is_err());
    }

    #[test]
    fn forget_by_hash_by_user_and_everything() {
        let cache = SessionCache::new(&config(true), false);
        let put = |token: &str, user: &str| {
            let (mut session, mut u) = session(token, at(100));
            u.id = user.into();
            session.user_id = user.into();
            let view = user_view(&u, Map::new());
            let live = Arc::new(LiveSession::new(session, u, view, at(0), 0));
            cache.insert(miss(&cache, token, at(0)), live);
        };
        put("a1", "a");
        put("a2", "a");
        put("b1", "b");
        cache.forget_hash(&TokenHash::of("a1"));
        assert!(cache.get("a1", at(1)).is_err());
        assert!(cache.get("a2", at(1)).is_ok());

        // A load of a's session in flight when a changes is never used.
        let ticket = miss(&cache, "a3", at(1));
        cache.forget_user("a");
        let (mut session, mut user) = session("a3", at(100));
        user.id = "a".into();
        session.user_id = "a".into();
        let view = user_view(&user, Map::new());
        cache.insert(
            ticket,
            Arc::new(LiveSession::new(session, user, view, at(1), 0)),
        );
        assert!(cache.get("a3", at(1)).is_err());
        assert!(cache.get("a2", at(1)).is_err());
        assert!(cache.get("b1", at(1)).is_ok(), "other users' stay");
        // Another user's load in flight is kept.
        let ticket = miss(&cache, "b3", at(1));
        cache.forget_user("a");
        cache.insert(ticket, live("b3", at(100), at(1)));
        assert!(cache.get("b3", at(1)).is_ok());
        // A load older than every change remembered is not.
        let ticket = miss(&cache, "b4", at(1));
        for i in 0..=USER_CHANGES_KEPT {
            cache.forget_user(&format!("x{i}"));
        }
        cache.insert(ticket, live("b4", at(100), at(1)));
        assert!(cache.get("b4", at(1)).is_err());

        let ticket = miss(&cache, "b2", at(1));
        cache.forget_all();
        assert_eq!(cache.len(), 0);
        cache.insert(ticket, live("b2", at(100), at(1)));
        assert!(cache.get("b2", at(1)).is_err());
    }

    #[test]
    fn forget_drops_the_entry_and_a_load_that_raced_it() {
        let cache = SessionCache::new(&config(true), false);
        cache.insert(miss(&cache, "t", at(0)), live("t", at(100), at(0)));
        cache.forget("t");
        assert!(cache.get("t", at(1)).is_err());

        // A request looked "t" up and went to the store; the session was signed out before its
        // answer came back: what it read is never used.
        let ticket = miss(&cache, "t", at(1));
        cache.forget("t");
        cache.insert(ticket, live("t", at(100), at(1)));
        assert!(cache.get("t", at(2)).is_err());
        // A later load is kept again.
        cache.insert(miss(&cache, "t", at(2)), live("t", at(100), at(2)));
        assert!(cache.get("t", at(3)).is_ok());
    }

    /// The window between a raced load's insert and its own check: a request arriving then
    /// does not get the signed-out session either.
    #[test]
    fn an_entry_from_before_a_forget_is_never_used() {
        let cache = SessionCache::new(&config(true), false);
        let (key, generation, _) = miss(&cache, "t", at(0)).0.unwrap();
        cache.forget("t");
        // The load's insert, before its generation check has run.
        cache.entries.as_ref().unwrap().insert(
            key,
            Entry {
                live: live("t", at(100), at(0)),
                generation,
            },
        );
        assert!(cache.get("t", at(1)).is_err());
    }

    #[test]
    fn a_forget_leaves_other_stripes_loads_alone() {
        let cache = SessionCache::new(&config(true), false);
        let other = (0..)
            .map(|i| format!("t{i}"))
            .find(|t| stripe(&TokenHash::of(t)) != stripe(&TokenHash::of("t")))
            .unwrap();
        let ticket = miss(&cache, &other, at(0));
        cache.forget("t");
        cache.insert(ticket, live(&other, at(100), at(0)));
        assert!(cache.get(&other, at(1)).is_ok());
    }

    #[test]
    fn turned_off_it_holds_nothing() {
        let cache = SessionCache::new(&config(false), false);
        let ticket = miss(&cache, "t", at(0));
        assert!(ticket.0.is_none(), "no hashing when off");
        cache.insert(ticket, live("t", at(100), at(0)));
        assert!(cache.get("t", at(0)).is_err());
        assert_eq!(cache.len(), 0);
    }

    #[test]
    fn bounded_in_entries_and_bytes() {
        let mut small = config(true);
        small.max_entries = 10;
        let cache = SessionCache::new(&small, false);
        for i in 0..100 {
            let token = format!("t{i}");
            cache.insert(miss(&cache, &token, at(0)), live(&token, at(100), at(0)));
        }
        assert!(cache.len() <= 10, "{} entries", cache.len());

        let mut tight = config(true);
        tight.max_bytes = 16 * 1024;
        let cache = SessionCache::new(&tight, false);
        let (session, user) = session("big", at(100));
        let mut view = user_view(&user, Map::new());
        view.additional
            .insert("bio".into(), "x".repeat(64 * 1024).into());
        let big = LiveSession::new(session, user, view, at(0), 0);
        assert!(big.weight > 64 * 1024);
        cache.insert(miss(&cache, "big", at(0)), Arc::new(big));
        assert!(
            cache.get("big", at(0)).is_err(),
            "larger than the whole cache"
        );
    }

    #[test]
    fn keys_are_hashes_and_entries_hold_no_token() {
        let token = "secret-session-token-0123456789x";
        let key = TokenHash::of(token);
        assert_ne!(&key.0[..], token.as_bytes());
        assert_eq!(key, TokenHash::of(token));
        assert_ne!(key, TokenHash::of("secret-session-token-0123456789X"));

        let cache = SessionCache::new(&config(true), false);
        cache.insert(miss(&cache, token, at(0)), live(token, at(100), at(0)));
        let held = cache.dump();
        assert_eq!(held.len(), 1);
        let live = &held[0];
        assert_eq!(live.session.token, "");
        let (before, after) = live.body.as_ref().unwrap();
        let text = format!("{live:?}{before:?}{after:?}");
        assert!(!text.contains(token), "{text}");
    }

    /// The body put back together is what serializing it whole with the token gives.
    #[test]
    fn the_session_body_around_the_token() {
        let (session, user) = session("tok\"en", at(100));
        let view = user_view(&user, Map::new());
        let expected = serde_json::to_vec(&SessionResponse {
            session: session_view(&session),
            user: view.clone(),
        })
        .unwrap();
        let live = LiveSession::new(session, user, view, at(0), 0);
        assert_eq!(live.session_body("tok\"en").unwrap().to_vec(), expected);
    }
}
