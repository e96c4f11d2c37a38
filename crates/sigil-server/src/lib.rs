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

use std::sync::Arc;

use chrono::{DateTime, Utc};
use thiserror::Error;

pub use config::{Config, ConfigError, Mode, Secret, Settings};
pub use error::ApiError;
pub use sigil_proto::ErrorCode;
pub use store::{Store, StoreError};

/// The clock the server reads; tests replace it to control expiry.
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// Why the server could not start.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum StartError {
    /// The database could not be opened or migrated.
    #[error("database: {0}")]
    Store(#[from] StoreError),
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
}

impl Auth {
    /// Starts building an auth server from a validated configuration.
    pub fn builder(config: Config) -> AuthBuilder {
        AuthBuilder {
            config,
            clock: Arc::new(Utc::now),
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
}

impl AuthBuilder {
    /// Replaces the clock (tests).
    #[must_use]
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Connects to the database and, unless turned off, migrates it.
    pub async fn build(self) -> Result<Auth, StartError> {
        let store = Store::connect(&self.config.database_url, self.config.database_timeout)?;
        if self.config.migrate {
            store.migrate().await?;
        }
        Ok(Auth {
            state: Arc::new(routes::State::new(self.config, store, self.clock)),
        })
    }
}
