//! Configuration: one validated [`Config`], built from defaults, a `sigil.toml` file, environment
//! variables and command-line overrides, in rising order of precedence.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use thiserror::Error;

mod jwt;
mod secret;
mod settings;

pub use jwt::{ClaimSource, JwtConfig, KeysConfig, REGISTERED_CLAIMS, SESSION_FIELDS, USER_FIELDS};
pub use secret::{Secret, SecretSource, Secrets};
pub use settings::{
    Audiences, JwksSettings, JwtSettings, SessionCacheSettings, Settings, TimeSpan,
    UserFieldSettings,
};

use crate::origin::origin_of;
use crate::report::Chain;
pub use crate::serve::ServeLimits;
use crate::store::{DatabaseUrl, DatabaseUrlError};
pub use crate::user_fields::{FieldKind, UserField};

/// Why a configuration was refused.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not valid TOML or has unknown keys.
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A value is out of range or inconsistent.
    #[error("invalid setting {key}: {message}")]
    Invalid {
        /// The setting (`base_url`, `SIGIL_LISTEN`, …).
        key: String,
        /// What is wrong and how to fix it.
        message: String,
    },
    /// The data directory or its secret file could not be created.
    #[error("data directory {path}")]
    DataDir {
        /// The path.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

pub(crate) fn invalid(key: &str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.to_owned(),
        message: message.into(),
    }
}

/// Production refuses weak secrets and limits rates; dev only warns and does not limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(try_from = "String", into = "&'static str")]
pub enum Mode {
    /// The default.
    Production,
    /// For local development.
    Dev,
}

impl Mode {
    /// `production` or `dev`.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Production => "production",
            Mode::Dev => "dev",
        }
    }
}

impl FromStr for Mode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "production" => Ok(Mode::Production),
            "dev" => Ok(Mode::Dev),
            _ => Err(format!("{s:?}: expected production or dev")),
        }
    }
}

impl TryFrom<String> for Mode {
    type Error = String;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Mode> for &'static str {
    fn from(mode: Mode) -> Self {
        mode.as_str()
    }
}

/// The validated configuration of a Sigil server.
#[derive(Clone, Debug)]
pub struct Config {
    /// Listen address.
    pub listen: SocketAddr,
    /// Where the Prometheus metrics are served, if anywhere (never on `listen`).
    pub metrics_listen: Option<SocketAddr>,
    /// Public base URL, without a trailing slash.
    pub base_url: String,
    /// Origin of the base URL (`scheme://host[:port]`).
    pub origin: String,
    /// Route prefix, e.g. `/api/auth`.
    pub base_path: String,
    /// Data directory.
    pub data_dir: PathBuf,
    /// Database URL (its password is never shown).
    pub database_url: DatabaseUrl,
    /// The secrets (cookie signatures, key encryption).
    pub secrets: Secrets,
    /// Trusted origins besides the base URL's.
    pub trusted_origins: Vec<String>,
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpAddr>,
    /// Mode.
    pub mode: Mode,
    /// Whether rate limits apply.
    pub rate_limit: bool,
    /// Whether the console page is served at `/`.
    pub console: bool,
    /// IPv6 clients share a rate-limit bucket per network of this prefix length (1..=128).
    pub rate_limit_ipv6_prefix: u8,
    /// Whether to migrate at start.
    pub migrate: bool,
    /// Body size limit.
    pub max_body_bytes: usize,
    /// Database call timeout.
    pub database_timeout: Duration,
    /// Longest `name` accepted at sign-up, in characters.
    pub max_name_length: usize,
    /// Longest `image` URL accepted at sign-up, in characters.
    pub max_image_url_length: usize,
    /// How session tokens are minted.
    pub jwt: JwtConfig,
    /// How signing keys are made, rotated and published.
    pub keys: KeysConfig,
    /// Additional user fields.
    pub user_fields: Vec<UserField>,
    /// Limits on connections: head and idle deadlines, how many at once, shutdown deadline.
    pub serve: ServeLimits,
    /// The in-memory session cache.
    pub session_cache: SessionCacheConfig,
}

/// The in-memory session cache's settings, validated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionCacheConfig {
    /// Whether sessions are cached.
    pub enabled: bool,
    /// How long an entry is used after it was read from the database.
    pub ttl: chrono::TimeDelta,
    /// Most entries.
    pub max_entries: usize,
    /// Most bytes of entry contents (estimated).
    pub max_bytes: u64,
    /// How long after it was read a cached session may still be used while the database is
    /// unavailable (no longer than `ttl` when zero or shorter).
    pub stale_if_unavailable: chrono::TimeDelta,
}

impl Config {
    /// Validates merged settings. When no secret is configured, one is read from (or generated
    /// into) `<data_dir>/secret`, created with mode 0600.
    pub fn from_settings(s: Settings) -> Result<Config, ConfigError> {
        let mode = s.mode.unwrap_or(Mode::Production);
        let serve = serve_limits(&s)?;
        let listen: SocketAddr = s
            .listen
            .as_deref()
            .unwrap_or("127.0.0.1:3000")
            .parse()
            .map_err(|_| invalid("listen", "expected ADDRESS:PORT, e.g. 127.0.0.1:3000"))?;
        let metrics_listen = s
            .metrics_listen
            .as_deref()
            .map(|text| {
                text.parse::<SocketAddr>().map_err(|_| {
                    invalid(
                        "metrics_listen",
                        "expected ADDRESS:PORT, e.g. 127.0.0.1:9464",
                    )
                })
            })
            .transpose()?;
        if metrics_listen == Some(listen) {
            return Err(invalid(
                "metrics_listen",
                "must differ from listen: metrics are never served on the public port",
            ));
        }
        let base_url = s
            .base_url
            .clone()
            .unwrap_or_else(|| format!("http://{listen}"))
            .trim_end_matches('/')
            .to_owned();
        let origin = origin_of(&base_url).ok_or_else(|| {
            invalid(
                "base_url",
                format!("{base_url:?} is not an http(s) URL like https://auth.example.com"),
            )
        })?;
        let base_path = s.base_path.unwrap_or_else(|| "/api/auth".to_owned());
        if !base_path.starts_with('/') || base_path.ends_with('/') || base_path.contains("//") {
            return Err(invalid(
                "base_path",
                "must start with / and not end with / (e.g. /api/auth)",
            ));
        }
        let data_dir = s.data_dir.unwrap_or_else(|| PathBuf::from("./sigil-data"));
        let database_url: DatabaseUrl = s
            .database_url
            .unwrap_or_else(|| format!("sqlite://{}", data_dir.join("sigil.db").display()))
            .parse()
            .map_err(|e: DatabaseUrlError| invalid("database_url", Chain(&e).to_string()))?;
        let secrets = Secrets::resolve(s.secrets.as_deref(), s.secret, &data_dir, mode)?;
        for o in s.trusted_origins.iter().flatten() {
            if o.is_empty() || o.contains(char::is_whitespace) {
                return Err(invalid(
                    "trusted_origins",
                    format!("{o:?} is not an origin or pattern"),
                ));
            }
        }
        let max_body_bytes = s.max_body_bytes.unwrap_or(64 * 1024);
        if max_body_bytes < 1024 {
            return Err(invalid("max_body_bytes", "must be at least 1024"));
        }
        let timeout = s.database_timeout_secs.unwrap_or(5);
        if !(1..=300).contains(&timeout) {
            return Err(invalid(
                "database_timeout_secs",
                "must be between 1 and 300",
            ));
        }
        // A handler may wait the database timeout for a hashing slot and again for the
        // database: the request timeout must leave room for both.
        if serve.request_timeout < Duration::from_secs(2 * timeout) {
            return Err(invalid(
                "request_timeout",
                "must be at least twice database_timeout_secs",
            ));
        }
        let rate_limit_ipv6_prefix = s
            .rate_limit_ipv6_prefix
            .unwrap_or(crate::guard::DEFAULT_IPV6_PREFIX);
        if !(1..=128).contains(&rate_limit_ipv6_prefix) {
            return Err(invalid(
                "rate_limit_ipv6_prefix",
                "must be between 1 and 128 (64: one bucket per /64)",
            ));
        }
        let max_name_length = s.max_name_length.unwrap_or(256);
        if max_name_length == 0 {
            return Err(invalid("max_name_length", "must be at least 1"));
        }
        let max_image_url_length = s.max_image_url_length.unwrap_or(2048);
        if max_image_url_length == 0 {
            return Err(invalid("max_image_url_length", "must be at least 1"));
        }
        let session_cache = session_cache(&s.session_cache)?;
        let user_fields = jwt::user_fields(s.user_fields.as_deref().unwrap_or_default())?;
        let jwt = jwt::jwt_config(&s.jwt, &origin, &user_fields)?;
        let keys = jwt::keys_config(&s.jwt, &s.jwks, jwt.expiration)?;
        if let Some((audience, alg)) = jwt
            .audience_algs
            .iter()
            .find(|(_, alg)| !keys.algs.contains(alg))
        {
            return Err(invalid(
                "jwt.audience_algs",
                format!("{audience:?} asks for {alg}, which is not in jwt.algs"),
            ));
        }
        Ok(Config {
            jwt,
            keys,
            user_fields,
            listen,
            metrics_listen,
            base_url,
            origin,
            base_path,
            data_dir,
            database_url,
            secrets,
            trusted_origins: s.trusted_origins.unwrap_or_default(),
            trusted_proxies: s.trusted_proxies.unwrap_or_default(),
            mode,
            rate_limit: s.rate_limit.unwrap_or(mode == Mode::Production),
            console: s.console.unwrap_or(mode == Mode::Dev),
            rate_limit_ipv6_prefix,
            migrate: s.migrate.unwrap_or(true),
            max_body_bytes,
            database_timeout: Duration::from_secs(timeout),
            max_name_length,
            max_image_url_length,
            serve,
            session_cache,
        })
    }

    /// Whether cookies get `Secure` and the `__Secure-` prefix (an https base URL).
    pub fn secure_cookies(&self) -> bool {
        self.origin.starts_with("https://")
    }
}

/// A span in whole seconds within `range`, or `default`.
fn seconds_in(
    value: Option<&TimeSpan>,
    key: &str,
    range: std::ops::RangeInclusive<i64>,
    default: Duration,
) -> Result<Duration, ConfigError> {
    let Some(span) = value else {
        return Ok(default);
    };
    let seconds = span.seconds(key)?;
    if !range.contains(&seconds) {
        return Err(invalid(
            key,
            format!(
                "must be between {} and {} seconds",
                range.start(),
                range.end()
            ),
        ));
    }
    Ok(Duration::from_secs(seconds.unsigned_abs()))
}

fn session_cache(s: &SessionCacheSettings) -> Result<SessionCacheConfig, ConfigError> {
    let ttl = seconds_in(
        s.ttl.as_ref(),
        "session_cache.ttl",
        1..=3600,
        Duration::from_secs(5),
    )?;
    let max_entries = s.max_entries.unwrap_or(10_000);
    if !(1..=10_000_000).contains(&max_entries) {
        return Err(invalid(
            "session_cache.max_entries",
            "must be between 1 and 10000000",
        ));
    }
    let mib = s.max_memory_mib.unwrap_or(32);
    if !(1..=65_536).contains(&mib) {
        return Err(invalid(
            "session_cache.max_memory_mib",
            "must be between 1 and 65536",
        ));
    }
    let stale = seconds_in(
        s.stale_if_unavailable.as_ref(),
        "session_cache.stale_if_unavailable",
        0..=3600,
        Duration::from_secs(60),
    )?;
    let delta = |what: &str, d: Duration| {
        chrono::TimeDelta::from_std(d).map_err(|e| invalid(what, e.to_string()))
    };
    Ok(SessionCacheConfig {
        enabled: s.enabled.unwrap_or(true),
        ttl: delta("session_cache.ttl", ttl)?,
        max_entries,
        max_bytes: mib * 1024 * 1024,
        stale_if_unavailable: delta("session_cache.stale_if_unavailable", stale)?,
    })
}

fn serve_limits(s: &Settings) -> Result<ServeLimits, ConfigError> {
    let defaults = ServeLimits::default();
    let max_connections = s.max_connections.unwrap_or(defaults.max_connections);
    if !(1..=1_000_000).contains(&max_connections) {
        return Err(invalid("max_connections", "must be between 1 and 1000000"));
    }
    Ok(ServeLimits {
        header_read_timeout: seconds_in(
            s.header_read_timeout.as_ref(),
            "header_read_timeout",
            1..=300,
            defaults.header_read_timeout,
        )?,
        max_connections,
        keep_alive_timeout: seconds_in(
            s.keep_alive_timeout.as_ref(),
            "keep_alive_timeout",
            1..=3600,
            defaults.keep_alive_timeout,
        )?,
        request_timeout: seconds_in(
            s.request_timeout.as_ref(),
            "request_timeout",
            1..=3600,
            defaults.request_timeout,
        )?,
        shutdown_timeout: seconds_in(
            s.shutdown_timeout.as_ref(),
            "shutdown_timeout",
            0..=3600,
            defaults.shutdown_timeout,
        )?,
    })
}

#[cfg(test)]
mod tests;
