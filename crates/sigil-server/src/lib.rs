//! Sigil's auth server as a library: Better Auth-compatible email/password sign-up and sign-in,
//! sessions by cookie or `Authorization: Bearer`, over SQLite or PostgreSQL.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use sigil_server::{Auth, Config, Settings};
//!
//! let config = Config::from_settings(Settings::default())?; // ./sigil-data, generated secret
//! let limits = config.serve;
//! let auth = Auth::builder(config).build().await?;
//! let app = axum::Router::new().nest("/api/auth", auth.router());
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//! // Head and idle deadlines, a connection bound and a shutdown deadline; the peer address
//! // reaches the rate limits as `ConnectInfo<SocketAddr>`.
//! sigil_server::serve(listener, app, limits, async {
//!     let _ = tokio::signal::ctrl_c().await;
//! })
//! .await?;
//! # Ok(()) }
//! ```

#![forbid(unsafe_code)]
#![warn(unreachable_pub)]

mod changes;
mod claims;
pub mod config;
mod cookies;
mod error;
mod etag;
mod extract;
mod files;
mod guard;
mod ids;
pub mod keys;
mod origin;
mod password;
mod paths;
mod push;
mod report;
pub mod request_log;
mod routes;
pub mod serve;
mod session_cache;
mod sessions;
mod state;
pub mod store;
pub mod takeover;
pub mod telemetry;
pub mod time;
pub mod tokens;
pub mod user_fields;
mod views;

use std::sync::Arc;

use thiserror::Error;

pub use config::{Config, ConfigError, Mode, Secret, Settings};
pub use error::ApiError;
pub use keys::{KeyError, KeyManager, KeyState};
pub use push::{PushState, PushStatus};
pub use serve::{ServeLimits, serve};
pub use sigil_proto::ErrorCode;
pub use store::{Store, StoreError};
pub use time::Clock;
pub use tokens::{SignOverrides, VerifyError};

/// How often the key table is checked for changes made by other processes (`sigil keys`, other
/// instances) and for changes that time brings: on SQLite, and on PostgreSQL while changes are
/// not pushed, the bound on how long a rotation or revocation takes to reach this process.
pub const KEY_WATCH_INTERVAL: std::time::Duration = std::time::Duration::from_secs(1);

fn spawn_key_watch(manager: std::sync::Weak<KeyManager>, every: std::time::Duration) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let Some(manager) = manager.upgrade() else {
                return;
            };
            if let Err(e) = manager.tick().await {
                tracing::warn!(error = %report::Chain(&e), "key watch");
            }
        }
    });
}

/// Why the server (or a tool on its database) could not start. The message says which part
/// failed; the cause is the `source`.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum StartError {
    /// The database could not be opened or migrated.
    #[error("database")]
    Store(#[from] StoreError),
    /// A stored signing key cannot be used with this configuration.
    #[error("signing keys")]
    Keys(#[from] KeyError),
}

/// Connects to the configured database and, unless turned off, migrates it and adds the
/// declared user-field columns. What the server and the one-shot commands share.
pub async fn open_store(config: &Config) -> Result<Store, StoreError> {
    let store = Store::connect(&config.database_url, config.database_timeout)?;
    if config.migrate {
        store.migrate().await?;
        store.ensure_user_fields(&config.user_fields).await?;
    }
    Ok(store)
}

/// The key manager of the configured database, for key administration (`sigil keys`): it
/// decrypts nothing until asked, so keys the secret cannot open can still be listed and revoked.
pub async fn key_admin(config: &Config) -> Result<KeyManager, StartError> {
    let store = open_store(config).await?;
    Ok(KeyManager::new(
        store,
        keys::SecretRing::from_secrets(&config.secrets),
        config.keys.clone(),
        time::system_clock(),
    ))
}

/// A configured auth server: build it once, mount [`Auth::router`] where you like.
#[derive(Clone)]
pub struct Auth {
    state: Arc<state::AppState>,
}

/// Builds an [`Auth`].
pub struct AuthBuilder {
    config: Config,
    clock: Clock,
    hooks: tokens::Hooks,
}

impl Auth {
    /// Starts building an auth server from a validated configuration.
    pub fn builder(config: Config) -> AuthBuilder {
        AuthBuilder {
            config,
            clock: time::system_clock(),
            hooks: tokens::Hooks::default(),
        }
    }

    /// The routes (`/sign-up/email`, `/sign-in/email`, `/get-session`, `/sign-out`, `/token`,
    /// the key set, `/ok`), to be nested under the base path. Serve with
    /// `into_make_service_with_connect_info::<SocketAddr>` so that rate limits see client
    /// addresses.
    pub fn router(&self) -> axum::Router {
        routes::router(self.state.clone())
    }

    /// The console page at `/` and its two assets under `/console/` (on by default in `dev`
    /// mode; `console` in the configuration), to be merged at the root of the host's router.
    /// Empty when the console is off.
    pub fn console_router(&self) -> axum::Router {
        routes::console_router(&self.state)
    }

    /// `GET {issuer}/.well-known/openid-configuration` (OIDC discovery: how API gateways find
    /// the key set), at the issuer's own path, to be merged at the root of the host's router
    /// (`Router::new().nest("/api/auth", auth.router()).merge(auth.discovery_router())`). Empty
    /// when the issuer is not an `http(s)` URL.
    pub fn discovery_router(&self) -> axum::Router {
        routes::discovery_router(self.state.clone())
    }

    /// `app` — a router in which [`Auth::router`] is nested at the configured base path — with
    /// `GET` of the key set answered in front of it, from memory, without `app`'s routing and
    /// layers (which do nothing for that request) and with the same response. Every other
    /// request goes to `app` unchanged. What `sigil serve` runs.
    ///
    /// `app`'s responses carry their route template (see [`request_log::RouteTagLayer`]), so that
    /// [`Auth::with_request_log`] applied to the result logs it.
    pub fn with_fast_jwks(&self, app: axum::Router) -> axum::Router {
        routes::with_fast_jwks(self.state.clone(), app.layer(request_log::RouteTagLayer))
    }

    /// `app` with one log line per request and a request id (see [`request_log`]): opt-in, and
    /// to be applied last, to the outermost router (after [`Auth::with_fast_jwks`], so that the
    /// key set's fast answers are logged too). What `sigil serve` runs.
    pub fn with_request_log(&self, app: axum::Router) -> axum::Router {
        app.layer(request_log::RequestLogLayer)
    }

    /// The configuration in use.
    pub fn config(&self) -> &Config {
        &self.state.config
    }

    /// The store, for tools that work on the same database.
    pub fn store(&self) -> &Store {
        &self.state.store
    }

    /// Whether changes made by other instances (sign-outs, user changes, key changes) are pushed
    /// to this one, and how many have arrived: a watch that follows it.
    pub fn push_status(&self) -> tokio::sync::watch::Receiver<PushStatus> {
        self.state.push.status.clone()
    }

    /// The signing keys (rotation, revocation, listing).
    pub fn keys(&self) -> &KeyManager {
        self.state.minter.keys()
    }

    /// Signs any claims with the current key (Better Auth's server-only `signJWT`; no HTTP
    /// route). `exp`, `iss` and `aud` are filled in when absent; no `iat` is added.
    pub async fn sign_jwt(
        &self,
        payload: serde_json::Map<String, serde_json::Value>,
        overrides: SignOverrides,
    ) -> Result<String, KeyError> {
        self.state.minter.sign(payload, &overrides).await
    }

    /// Verifies a token issued here (Better Auth's server-only `verifyJWT`): a published key, the
    /// configured issuer and audience, `exp`/`nbf`, and a `sub`.
    pub async fn verify_jwt(&self, token: &str) -> Result<sigil_jose::Claims, VerifyError> {
        self.state.minter.verify(token).await
    }
}

impl AuthBuilder {
    /// Replaces the clock (tests).
    #[must_use]
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Custom claims for session tokens (Better Auth's `definePayload`): the returned map replaces
    /// the default payload (the public user object); `sub`, `exp`, `iss` and `aud` follow the
    /// usual rules (a payload may set `exp`/`iss`/`aud`, never `sub`).
    #[must_use]
    pub fn define_payload<F, Fut>(mut self, hook: F) -> Self
    where
        F: Fn(store::User, store::Session) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = serde_json::Map<String, serde_json::Value>> + Send + 'static,
    {
        self.hooks.payload = Some(Arc::new(move |u, s| Box::pin(hook(u, s))));
        self
    }

    /// The `sub` of session tokens (Better Auth's `getSubject`); `None` falls back to the user id.
    #[must_use]
    pub fn subject<F, Fut>(mut self, hook: F) -> Self
    where
        F: Fn(store::User, store::Session) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Option<String>> + Send + 'static,
    {
        self.hooks.subject = Some(Arc::new(move |u, s| Box::pin(hook(u, s))));
        self
    }

    /// Connects to the database, migrates it (unless turned off), decrypts every live signing key
    /// once (a key the secret cannot open stops the start, naming the key), and starts watching
    /// the key table for changes made by other processes.
    pub async fn build(self) -> Result<Auth, StartError> {
        let store = open_store(&self.config).await?;
        let manager = Arc::new(KeyManager::new(
            store.clone(),
            keys::SecretRing::from_secrets(&self.config.secrets),
            self.config.keys.clone(),
            self.clock.clone(),
        ));
        match manager.self_test().await {
            Ok(checked) => {
                manager.reload().await?;
                tracing::info!(keys = checked, "signing keys checked");
                // With several algorithms, each has its key from the start, so that the first
                // key set served already holds every one (one alone is made on first use, as
                // Better Auth does). A failure is logged; the key watch tries again.
                if self.config.keys.algs.len() > 1 {
                    let _ = manager.ensure_every_alg().await;
                }
            }
            // A database that is down now is not a configuration error: start, answer 503, and
            // load the keys when it is back (the key watch below does).
            Err(KeyError::Store(e)) if e.is_unavailable() => {
                tracing::warn!(error = %report::Chain(&e), "database unavailable at start; keys load when it answers");
            }
            Err(other) => return Err(other.into()),
        }
        spawn_key_watch(Arc::downgrade(&manager), KEY_WATCH_INTERVAL);
        let keys = Arc::downgrade(&manager);
        let minter = tokens::Minter::new(
            manager,
            self.config.jwt.clone(),
            self.hooks,
            self.clock.clone(),
        );
        let (push, listener) = push::Push::new(store.postgres_pool(), self.config.database_timeout);
        let state = Arc::new(state::AppState::new(
            self.config,
            store,
            minter,
            self.clock,
            push,
        ));
        if let Some(listener) = listener {
            listener.spawn(Arc::downgrade(&state.sessions), keys);
        }
        Ok(Auth { state })
    }
}
