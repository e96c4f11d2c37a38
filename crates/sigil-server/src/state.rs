//! The application state every route shares: the configuration, the store, and the services
//! built from them once at start.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::config::Config;
use crate::cookies::CookieSigner;
use crate::guard::RateLimiter;
use crate::origin::TrustedOrigins;
use crate::password::Hasher;
use crate::push::Push;
use crate::sessions::Sessions;
use crate::store::Store;
use crate::time::Clock;
use crate::tokens::Minter;

/// What the routes share, behind one `Arc`.
pub(crate) struct AppState {
    pub(crate) config: Config,
    pub(crate) store: Store,
    /// Sessions, read through the session cache (shared with push invalidation).
    pub(crate) sessions: Arc<Sessions>,
    pub(crate) cookies: CookieSigner,
    pub(crate) trusted: TrustedOrigins,
    pub(crate) limiter: RateLimiter,
    pub(crate) hasher: Hasher,
    pub(crate) minter: Minter,
    /// Push invalidation's status; the listener stops when the state is dropped.
    pub(crate) push: Push,
    clock: Clock,
}

/// The state as axum hands it to handlers.
pub(crate) type SharedState = Arc<AppState>;

impl AppState {
    pub(crate) fn new(
        config: Config,
        store: Store,
        minter: Minter,
        clock: Clock,
        push: Push,
    ) -> Self {
        AppState {
            cookies: CookieSigner::new(&config.secrets.current, config.secure_cookies()),
            trusted: TrustedOrigins::new(&config.origin, &config.trusted_origins),
            limiter: RateLimiter::new(config.rate_limit_ipv6_prefix),
            hasher: Hasher::new(config.database_timeout),
            sessions: Arc::new(Sessions::new(
                store.clone(),
                &config.session_cache,
                config.user_fields.clone(),
                serde_json::to_string(&config.jwt.static_claims).map_or(0, |c| c.len()),
            )),
            minter,
            push,
            config,
            store,
            clock,
        }
    }

    /// Now, by the configured clock.
    pub(crate) fn now(&self) -> DateTime<Utc> {
        (self.clock)()
    }
}
