//! Session lifetimes (Better Auth's `expiresIn`, `updateAge`, "remember me") and live sessions
//! (read through the session cache, ended, refreshed).

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, Duration, Utc};
use sigil_proto::UserView;

use crate::config::SessionCacheConfig;
use crate::ids;
use crate::report::Chain;
pub(crate) use crate::session_cache::LiveSession;
use crate::session_cache::{Miss, POLL_TTL, SessionCache, Ticket};
use crate::store::{Session, Store, StoreError, User};
use crate::telemetry::Lookup;
use crate::user_fields::UserField;
use crate::views::user_view;

/// Session lifetime (Better Auth's `session.expiresIn`).
pub(crate) const SESSION_DAYS: i64 = 7;
/// Lifetime when the user chose not to be remembered.
pub(crate) const SHORT_SESSION_DAYS: i64 = 1;
/// How old a session gets before its expiry slides (Better Auth's `updateAge`).
const UPDATE_AGE_DAYS: i64 = 1;

/// A new session for `user_id`, starting `now`.
pub(crate) fn new_session(
    user_id: &str,
    remember: bool,
    ip: Option<IpAddr>,
    user_agent: Option<&str>,
    now: DateTime<Utc>,
) -> Session {
    let days = if remember {
        SESSION_DAYS
    } else {
        SHORT_SESSION_DAYS
    };
    Session {
        id: ids::new_id(),
        token: ids::new_id(),
        user_id: user_id.to_owned(),
        expires_at: now + Duration::days(days),
        created_at: now,
        updated_at: now,
        ip_address: Some(ip.map(|ip| ip.to_string()).unwrap_or_default()),
        user_agent: Some(user_agent.unwrap_or_default().to_owned()),
    }
}

/// The sessions of the store, read through the session cache: every read, end and refresh of a
/// session by the routes goes through here, so that the cache never misses a change made by
/// this process.
pub(crate) struct Sessions {
    store: Store,
    cache: SessionCache,
    fields: Vec<UserField>,
    /// Bytes the configured static claims add to each cached session's claims (its weight).
    claims_extra: usize,
    /// When (Unix milliseconds, by the server's clock) the store last failed as unavailable:
    /// for [`POLL_TTL`] after it, a stale entry answers without waiting on the store again.
    unavailable_at: AtomicI64,
}

impl Sessions {
    pub(crate) fn new(
        store: Store,
        cache: &SessionCacheConfig,
        fields: Vec<UserField>,
        claims_extra: usize,
    ) -> Self {
        Sessions {
            cache: SessionCache::new(cache, store.postgres_pool().is_some()),
            store,
            fields,
            claims_extra,
            unavailable_at: AtomicI64::new(i64::MIN),
        }
    }

    /// The session cache (for the changes other processes announce).
    pub(crate) fn cache(&self) -> &SessionCache {
        &self.cache
    }

    /// The session with this token, its user and the user's public view, if it exists and has
    /// not expired at `now`. From the cache when it holds a fresh entry; else from the store,
    /// where an expired session's row is deleted on the way (a failed delete is only logged: it
    /// is over either way). While the store is unavailable, an entry past its lifetime but within
    /// the configured stale limit answers instead of an error.
    pub(crate) async fn live(
        &self,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Arc<LiveSession>>, StoreError> {
        match self.cache.get(token, now) {
            Ok(live) => {
                crate::telemetry::cache_lookup(Lookup::Hit);
                Ok(Some(live))
            }
            // Boxed: the store's futures would otherwise make the future of every request that
            // reads a session (moved through each router layer) many kilobytes larger.
            Err(miss) => Box::pin(self.load_or_stale(token, miss, now)).await,
        }
    }

    /// [`Sessions::live`] on a cache miss: the store's answer, or the stale entry if the store is
    /// unavailable (or was a moment ago: a database that hangs is not waited on by every request).
    async fn load_or_stale(
        &self,
        token: &str,
        miss: Miss,
        now: DateTime<Utc>,
    ) -> Result<Option<Arc<LiveSession>>, StoreError> {
        let recently_down = now.timestamp_millis()
            < self
                .unavailable_at
                .load(Ordering::Relaxed)
                .saturating_add(POLL_TTL.num_milliseconds());
        if let Some(stale) = miss.stale.as_ref().filter(|_| recently_down) {
            crate::telemetry::cache_lookup(Lookup::Stale);
            return Ok(Some(stale.clone()));
        }
        match self.load(token, miss.ticket, now).await {
            Err(e) if e.is_unreachable() => {
                let before = self
                    .unavailable_at
                    .swap(now.timestamp_millis(), Ordering::Relaxed);
                let Some(stale) = miss.stale else {
                    crate::telemetry::cache_lookup(Lookup::Miss);
                    return Err(e);
                };
                // Said once per outage (a failure after a second without one).
                if before.saturating_add(POLL_TTL.num_milliseconds()) < now.timestamp_millis() {
                    tracing::warn!(error = %crate::report::Chain(&e), "database unreachable; cached sessions answer for up to stale_if_unavailable after their read");
                }
                crate::telemetry::cache_lookup(Lookup::Stale);
                Ok(Some(stale))
            }
            other => {
                crate::telemetry::cache_lookup(Lookup::Miss);
                other
            }
        }
    }

    /// [`Sessions::live`] from the store, kept in the cache.
    async fn load(
        &self,
        token: &str,
        ticket: Ticket,
        now: DateTime<Utc>,
    ) -> Result<Option<Arc<LiveSession>>, StoreError> {
        let Some((session, user)) = self.store.session_with_user(token).await? else {
            // Gone: its stale entry, if any, must never stand in later.
            self.cache.forget(token);
            return Ok(None);
        };
        if session.expires_at <= now {
            self.cache.forget(token);
            if let Err(e) = self.store.delete_session(token).await {
                tracing::warn!(error = %Chain(&e), "could not delete an expired session");
            }
            return Ok(None);
        }
        let view = self.public_user(&user).await?;
        let live = Arc::new(LiveSession::new(
            session,
            user,
            view,
            now,
            self.claims_extra,
        ));
        self.cache.insert(ticket, live.clone());
        Ok(Some(live))
    }

    /// Slides the expiry of `live` (the session of `token`) when due (see [`slide`]) and writes
    /// it. `Ok(None)` when the session was deleted meanwhile; otherwise the session as it now
    /// stands and whether it slid.
    pub(crate) async fn refresh(
        &self,
        token: &str,
        live: Arc<LiveSession>,
        dont_remember: bool,
        now: DateTime<Utc>,
    ) -> Result<Option<(Arc<LiveSession>, bool)>, StoreError> {
        let mut session = live.session.clone();
        if !slide(&mut session, dont_remember, now) {
            return Ok(Some((live, false)));
        }
        let ticket = self.cache.ticket(token);
        // Boxed, as the store read in `live`.
        let still_there = Box::pin(self.store.refresh_session(
            &session.id,
            session.expires_at,
            now,
        ))
        .await?;
        if !still_there {
            self.cache.forget(token);
            return Ok(None);
        }
        // The user was read with the session: the cache lifetime still counts from then.
        let slid = Arc::new(LiveSession::new(
            session,
            live.user.clone(),
            live.view.clone(),
            live.read_at,
            self.claims_extra,
        ));
        self.cache.insert(ticket, slid.clone());
        Ok(Some((slid, true)))
    }

    /// Ends the session with this token (sign-out): its row and its cache entry. The entry goes
    /// before the delete (no token is handed out for it meanwhile) and again after it (a load
    /// that raced the delete), even when the delete fails, so that the next request asks the
    /// store again.
    pub(crate) async fn end(&self, token: &str) -> Result<(), StoreError> {
        self.cache.forget(token);
        let deleted = self.store.delete_session(token).await;
        self.cache.forget(token);
        if deleted? {
            crate::telemetry::session_ended();
        }
        Ok(())
    }

    /// The public user object with its additional fields (one query, only when fields are
    /// declared): the `user` of every response and the default payload of session tokens.
    pub(crate) async fn public_user(&self, user: &User) -> Result<UserView, StoreError> {
        let fields = self.store.user_fields(&user.id, &self.fields).await?;
        Ok(user_view(user, fields))
    }
}

/// Slides a session's expiry when it is due (Better Auth's `updateAge`) and the session is a
/// "remember me" one: the signed `dont_remember` cookie says it is not, and so does a one-day
/// lifetime when it arrives as a bearer token without cookies. Returns whether it slid; the
/// caller writes the new expiry.
pub(crate) fn slide(session: &mut Session, dont_remember: bool, now: DateTime<Utc>) -> bool {
    let remembered = !dont_remember
        && session.expires_at - session.created_at > Duration::days(SHORT_SESSION_DAYS);
    let due =
        session.expires_at - Duration::days(SESSION_DAYS) + Duration::days(UPDATE_AGE_DAYS) <= now;
    if !(remembered && due) {
        return false;
    }
    session.expires_at = now + Duration::days(SESSION_DAYS);
    session.updated_at = now;
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(day: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + day * 86_400, 0).unwrap()
    }

    #[test]
    fn sliding_follows_update_age_and_remember_me() {
        let mut s = new_session("u", true, None, None, at(0));
        assert!(
            !slide(&mut s, false, at(0)),
            "a fresh session does not slide"
        );
        assert!(slide(&mut s, false, at(1)), "one day old: slides");
        assert_eq!(s.expires_at, at(1 + SESSION_DAYS));
        assert!(
            !slide(&mut s, true, at(3)),
            "the dont_remember cookie stops it"
        );
        let mut short = new_session("u", false, None, None, at(0));
        assert!(!slide(&mut short, false, at(0) + Duration::hours(23)));
    }
}
