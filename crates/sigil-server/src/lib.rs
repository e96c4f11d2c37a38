//! Sigil's auth server as a library: Better Auth-compatible email/password sign-up and sign-in,
//! sessions by cookie or `Authorization: Bearer`, over SQLite or PostgreSQL.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use sigil_server::{Auth, Config, Settings};
//!
//! let config = Config::from_settings(Settings::default())?; // ./sigil-data, generated secret
//! let auth = Auth::builder(config).build().await?;
//! let app = axum::Router::new().nest("/api/auth", auth.router());
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//! axum::serve(listener, app.into_make_service_with_connect_info::<std::net::SocketAddr>()).await?;
//! # Ok(()) }
//! ```

#![forbid(unsafe_code)]

pub mod config;
pub mod cookies;
mod error;
pub mod guard;
pub mod ids;
pub mod keys;
pub mod password;
mod routes;
pub mod store;
pub mod tokens;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use thiserror::Error;

pub use config::{Config, ConfigError, Mode, Secret, Settings};
pub use error::ApiError;
pub use sigil_proto::ErrorCode;
pub use store::{Store, StoreError};

/// How often the key table is checked for changes made by other processes (`sigil keys`, other
/// instances): the bound on how long a rotation or revocation takes to reach this process.
pub const KEY_WATCH_INTERVAL: std::time::Duration = std::time::Duration::from_secs(2);

fn spawn_key_watch(manager: std::sync::Weak<keys::KeyManager>, every: std::time::Duration) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let Some(manager) = manager.upgrade() else {
                return;
            };
            if let Err(e) = manager.tick().await {
                tracing::warn!(error = %e, "key watch");
            }
        }
    });
}

/// The clock the server reads; tests replace it to control expiry.
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// Why [`Auth::verify_jwt`] refused a token.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The token is invalid (the code says why).
    #[error(transparent)]
    Token(#[from] sigil_jose::Error),
    /// The keys could not be loaded.
    #[error(transparent)]
    Keys(#[from] keys::KeyError),
}

/// Why the server could not start.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum StartError {
    /// The database could not be opened or migrated.
    #[error("database: {0}")]
    Store(#[from] StoreError),
    /// A stored signing key cannot be used with this configuration.
    #[error("signing keys: {0}")]
    Keys(#[from] keys::KeyError),
}

/// A configured auth server: build it once, mount [`Auth::router`] where you like.
#[derive(Clone)]
pub struct Auth {
    state: Arc<routes::State>,
}

/// Builds an [`Auth`].
pub struct AuthBuilder {
    config: Config,
    clock: Clock,
    hooks: routes::Hooks,
}

impl Auth {
    /// Starts building an auth server from a validated configuration.
    pub fn builder(config: Config) -> AuthBuilder {
        AuthBuilder {
            config,
            clock: Arc::new(Utc::now),
            hooks: routes::Hooks::default(),
        }
    }

    /// The routes (`/sign-up/email`, `/sign-in/email`, `/get-session`, `/sign-out`, `/ok`), to be
    /// nested under the base path. Serve with `into_make_service_with_connect_info::<SocketAddr>`
    /// so that rate limits see client addresses.
    pub fn router(&self) -> axum::Router {
        routes::router(self.state.clone())
    }

    /// The configuration in use.
    pub fn config(&self) -> &Config {
        &self.state.config
    }

    /// The store, for tools that work on the same database.
    pub fn store(&self) -> &Store {
        &self.state.store
    }

    /// The signing keys (rotation, revocation, listing).
    pub fn keys(&self) -> &keys::KeyManager {
        &self.state.keys
    }

    /// Signs any claims with the current key (Better Auth's server-only `signJWT`; no HTTP
    /// route). `exp`, `iss` and `aud` are filled in when absent; no `iat` is added.
    pub async fn sign_jwt(
        &self,
        payload: serde_json::Map<String, serde_json::Value>,
        overrides: tokens::SignOverrides,
    ) -> Result<String, keys::KeyError> {
        let key = self.state.keys.signing_key().await?;
        let claims = tokens::apply_claim_rules(
            payload,
            &self.state.config.tokens,
            &overrides,
            self.state.now(),
        );
        sigil_jose::sign_jwt(&key.pair, &claims)
            .map_err(|e| keys::KeyError::Generation(e.to_string()))
    }

    /// Verifies a token issued here (Better Auth's server-only `verifyJWT`): a published key, the
    /// configured issuer and audience, `exp`/`nbf`, and a `sub`.
    pub async fn verify_jwt(&self, token: &str) -> Result<sigil_jose::Claims, VerifyError> {
        let keys = self.state.keys.published_set().await?;
        // Sigil's own keys are each bound to the algorithm they sign with.
        let algs: Vec<sigil_jose::Alg> = keys
            .keys()
            .iter()
            .filter_map(sigil_jose::PublicKey::alg)
            .collect();
        let tokens = &self.state.config.tokens;
        let mut policy = sigil_jose::Validation::new(algs).issuer(tokens.issuer.clone());
        for aud in &tokens.audience {
            policy = policy.audience(aud.clone());
        }
        let claims = sigil_jose::verify_jwt(token, &keys, &policy, self.state.now().timestamp())?;
        if claims.sub.as_deref().is_none_or(str::is_empty) {
            return Err(VerifyError::Token(sigil_jose::Error::ClaimsInvalid(
                "\"sub\" is required".into(),
            )));
        }
        Ok(claims)
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
        let store = Store::connect(&self.config.database_url, self.config.database_timeout)?;
        if self.config.migrate {
            store.migrate().await?;
            store.ensure_user_fields(&self.config.user_fields).await?;
        }
        let ring = if self.config.secret_versions.is_empty() {
            keys::SecretRing::single(self.config.secret.clone())
        } else {
            keys::SecretRing::versioned(
                self.config.secret_versions.clone(),
                self.config.legacy_secret.clone(),
            )
            .unwrap_or_else(|| keys::SecretRing::single(self.config.secret.clone()))
        };
        let manager = Arc::new(keys::KeyManager::new(
            store.clone(),
            ring,
            self.config.tokens.clone(),
            self.clock.clone(),
        ));
        match manager.self_test().await {
            Ok(checked) => {
                manager.reload().await?;
                tracing::info!(keys = checked, "signing keys checked");
            }
            // A database that is down now is not a configuration error: start, answer 503, and
            // load the keys when it is back (the key watch below does).
            Err(keys::KeyError::Store(StoreError::Unavailable(why))) => {
                tracing::warn!(error = %why, "database unavailable at start; keys load when it answers");
            }
            Err(other) => return Err(other.into()),
        }
        spawn_key_watch(Arc::downgrade(&manager), KEY_WATCH_INTERVAL);
        Ok(Auth {
            state: Arc::new(routes::State::new(
                self.config,
                store,
                self.clock,
                manager,
                self.hooks,
            )),
        })
    }
}
