//! Configuration: one validated [`Config`], built from defaults, a `sigil.toml` file, environment
//! variables and command-line overrides, in rising order of precedence.

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use thiserror::Error;

use crate::origin::origin_of;
use crate::store::{DatabaseUrl, DatabaseUrlError};
pub use crate::user_fields::{FieldKind, UserField};

/// Why a configuration was refused.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
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
    #[error("data directory {path}: {source}")]
    DataDir {
        /// The path.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

fn invalid(key: &str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.to_owned(),
        message: message.into(),
    }
}

/// Production refuses weak secrets and limits rates; dev only warns and does not limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// The default.
    Production,
    /// For local development.
    Dev,
}

/// A secret string whose `Debug` never shows it.
#[derive(Clone)]
pub struct Secret(zeroize::Zeroizing<String>);

impl Secret {
    /// Wraps a secret.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(zeroize::Zeroizing::new(value.into()))
    }

    /// The secret itself.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(…)")
    }
}

/// One layer of settings: a file, the environment or the command line. Every field is optional;
/// later layers override earlier ones.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Address to listen on (`127.0.0.1:3000`).
    pub listen: Option<String>,
    /// Public URL of this server; its origin is the cookie scope and default token issuer.
    pub base_url: Option<String>,
    /// Path prefix of the routes (`/api/auth`).
    pub base_path: Option<String>,
    /// Directory for the SQLite file and the generated secret (`./sigil-data`).
    pub data_dir: Option<PathBuf>,
    /// `sqlite://…` or `postgres://…`.
    pub database_url: Option<String>,
    /// Secret for cookie signatures and key encryption (at least 32 characters).
    pub secret: Option<String>,
    /// Versioned secrets, `"2:new-secret,1:old-secret"`, first = current (Better Auth's
    /// `BETTER_AUTH_SECRETS`): new keys are encrypted under the first, older ones still open.
    pub secrets: Option<String>,
    /// Extra origins allowed to call the API with credentials (`https://app.example.com`,
    /// `*.example.com`).
    pub trusted_origins: Option<Vec<String>>,
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Option<Vec<IpAddr>>,
    /// `production` (default) or `dev`.
    pub mode: Option<Mode>,
    /// Rate limits on or off (default: on in production, off in dev).
    pub rate_limit: Option<bool>,
    /// Run migrations at start (default true).
    pub migrate: Option<bool>,
    /// Largest request body accepted, in bytes (default 64 KiB).
    pub max_body_bytes: Option<usize>,
    /// How long a database call may take before the request gets a 503 (default 5 s).
    pub database_timeout_secs: Option<u64>,
    /// Token settings (`[jwt]`).
    #[serde(default)]
    pub jwt: JwtSettings,
    /// Key settings (`[jwks]`).
    #[serde(default)]
    pub jwks: JwksSettings,
    /// Additional user fields (`[[user_fields]]`), stored as columns of the `user` table as
    /// Better Auth's `additionalFields` are.
    pub user_fields: Option<Vec<UserFieldSettings>>,
}

/// `[[user_fields]]`: one additional user field.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserFieldSettings {
    /// Column and JSON name (`role`).
    pub name: String,
    /// `string`, `number` or `boolean`.
    #[serde(rename = "type")]
    pub kind: FieldKind,
    /// Value for users that have none.
    pub default: Option<serde_json::Value>,
}

/// `[jwt]`: how tokens are issued.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JwtSettings {
    /// `EdDSA` (default), `ES256`, `ES512`, `PS256` or `RS256`.
    pub alg: Option<String>,
    /// Token lifetime: a Better Auth time span (`"15m"`) or seconds (default `"15m"`).
    pub expiration_time: Option<TimeSpan>,
    /// `iss` (default: the base URL's origin).
    pub issuer: Option<String>,
    /// `aud`: one value or a list (default: the base URL's origin).
    pub audience: Option<Audiences>,
    /// Claims taken from the user or the session: `role = "user.role"`, `sid = "session.id"`.
    /// When this or `static_claims` is set, they replace the default payload.
    pub claims: Option<std::collections::BTreeMap<String, String>>,
    /// Fixed claims added to every session token.
    pub static_claims: Option<serde_json::Map<String, serde_json::Value>>,
    /// Do not add `set-auth-jwt` to get-session responses (Better Auth's `disableSettingJwtHeader`).
    pub disable_setting_jwt_header: Option<bool>,
}

/// `[jwks]`: keys and their publication.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JwksSettings {
    /// Route of the key set (default `/jwks`), validated like Better Auth's `jwksPath`.
    pub path: Option<String>,
    /// Rotate keys this often (unset: never, as Better Auth).
    pub rotation_interval: Option<TimeSpan>,
    /// How long a retired key stays published (default 30 days).
    pub grace_period: Option<TimeSpan>,
    /// `Cache-Control: max-age` of the key set (default 5 minutes).
    pub max_age: Option<TimeSpan>,
    /// Store private keys as plain JWK JSON (Better Auth's `disablePrivateKeyEncryption`).
    pub disable_private_key_encryption: Option<bool>,
    /// RSA modulus size for RS256/PS256 keys (default 2048).
    pub rsa_modulus_bits: Option<usize>,
}

/// A time span: Better Auth's grammar (`"15m"`, `"7d"`) or a number of seconds.
#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
pub enum TimeSpan {
    /// Seconds.
    Seconds(i64),
    /// A time-span string.
    Text(String),
}

impl TimeSpan {
    fn seconds(&self, key: &str) -> Result<i64, ConfigError> {
        match self {
            TimeSpan::Seconds(s) => Ok(*s),
            TimeSpan::Text(t) => {
                sigil_jose::parse_time_span(t).map_err(|e| invalid(key, e.to_string()))
            }
        }
    }
}

/// One audience or several.
#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
pub enum Audiences {
    /// A single audience.
    One(String),
    /// Several audiences.
    Many(Vec<String>),
}

/// The resolved `[jwt]` and `[jwks]` settings.
#[derive(Clone, Debug)]
pub struct TokenConfig {
    /// Signing algorithm.
    pub alg: sigil_jose::Alg,
    /// Token lifetime.
    pub expiration: Duration,
    /// `iss`.
    pub issuer: String,
    /// `aud` (serialized as a string when there is one).
    pub audience: Vec<String>,
    /// Route of the key set.
    pub jwks_path: String,
    /// Rotation interval, if any.
    pub rotation_interval: Option<Duration>,
    /// How long retired keys stay published.
    pub grace_period: Duration,
    /// JWKS `Cache-Control: max-age`.
    pub jwks_max_age: Duration,
    /// Whether private keys are encrypted at rest.
    pub encrypt_private_keys: bool,
    /// RSA modulus size.
    pub rsa_bits: usize,
    /// Claims mapped from user/session fields (empty: the default payload).
    pub claims: Vec<(String, ClaimSource)>,
    /// Fixed claims.
    pub static_claims: serde_json::Map<String, serde_json::Value>,
    /// Whether get-session carries `set-auth-jwt`.
    pub set_jwt_header: bool,
}

/// Where a mapped claim comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClaimSource {
    /// A user field (core or additional).
    User(String),
    /// A session field.
    Session(String),
}

/// Registered claim names: set by Sigil's rules, never by configuration or user data.
pub const REGISTERED_CLAIMS: [&str; 7] = ["iss", "sub", "aud", "exp", "nbf", "iat", "jti"];

/// The user fields a claim may name (besides additional fields).
pub const USER_FIELDS: [&str; 7] = [
    "id",
    "name",
    "email",
    "emailVerified",
    "image",
    "createdAt",
    "updatedAt",
];
/// The session fields a claim may name (never the session token).
pub const SESSION_FIELDS: [&str; 6] = [
    "id",
    "userId",
    "expiresAt",
    "createdAt",
    "ipAddress",
    "userAgent",
];

impl Settings {
    /// Reads a `sigil.toml`.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.to_owned(),
            message: e.to_string(),
        })
    }

    /// Reads `SIGIL_*` variables (and `BETTER_AUTH_SECRET`, `BETTER_AUTH_URL` for drop-in use;
    /// the `SIGIL_` names win).
    pub fn from_env(env: &HashMap<String, String>) -> Result<Self, ConfigError> {
        let get = |names: &[&str]| {
            names
                .iter()
                .find_map(|n| env.get(*n).filter(|v| !v.is_empty()).cloned())
        };
        let list = |v: String| -> Vec<String> {
            v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        };
        let boolean = |key: &str, v: String| match v.to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" | "on" => Ok(true),
            "0" | "false" | "no" | "off" => Ok(false),
            _ => Err(invalid(key, format!("{v:?} is not a boolean"))),
        };
        let number = |key: &str, v: String| {
            v.parse::<u64>()
                .map_err(|_| invalid(key, format!("{v:?} is not a whole number")))
        };
        let mode = match get(&["SIGIL_MODE"]) {
            None => None,
            Some(m) => Some(match m.as_str() {
                "production" => Mode::Production,
                "dev" => Mode::Dev,
                _ => return Err(invalid("SIGIL_MODE", "must be production or dev")),
            }),
        };
        let proxies = match get(&["SIGIL_TRUSTED_PROXIES"]) {
            None => None,
            Some(v) => Some(
                list(v)
                    .into_iter()
                    .map(|p| {
                        p.parse().map_err(|_| {
                            invalid("SIGIL_TRUSTED_PROXIES", format!("{p:?} is not an IP"))
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()?,
            ),
        };
        Ok(Settings {
            listen: get(&["SIGIL_LISTEN"]),
            base_url: get(&["SIGIL_BASE_URL", "BETTER_AUTH_URL"]),
            base_path: get(&["SIGIL_BASE_PATH"]),
            data_dir: get(&["SIGIL_DATA_DIR"]).map(PathBuf::from),
            database_url: get(&["SIGIL_DATABASE_URL"]),
            secret: get(&["SIGIL_SECRET", "BETTER_AUTH_SECRET"]),
            secrets: get(&["SIGIL_SECRETS", "BETTER_AUTH_SECRETS"]),
            trusted_origins: get(&["SIGIL_TRUSTED_ORIGINS", "BETTER_AUTH_TRUSTED_ORIGINS"])
                .map(list),
            trusted_proxies: proxies,
            mode,
            rate_limit: get(&["SIGIL_RATE_LIMIT"])
                .map(|v| boolean("SIGIL_RATE_LIMIT", v))
                .transpose()?,
            migrate: get(&["SIGIL_MIGRATE"])
                .map(|v| boolean("SIGIL_MIGRATE", v))
                .transpose()?,
            max_body_bytes: get(&["SIGIL_MAX_BODY_BYTES"])
                .map(|v| number("SIGIL_MAX_BODY_BYTES", v).map(|n| n as usize))
                .transpose()?,
            database_timeout_secs: get(&["SIGIL_DATABASE_TIMEOUT_SECS"])
                .map(|v| number("SIGIL_DATABASE_TIMEOUT_SECS", v))
                .transpose()?,
            jwt: JwtSettings {
                alg: get(&["SIGIL_JWT_ALG"]),
                expiration_time: get(&["SIGIL_JWT_EXPIRATION_TIME"]).map(TimeSpan::Text),
                issuer: get(&["SIGIL_JWT_ISSUER"]),
                audience: get(&["SIGIL_JWT_AUDIENCE"]).map(|v| {
                    let all = list(v);
                    if all.len() == 1 {
                        Audiences::One(all.into_iter().next().unwrap_or_default())
                    } else {
                        Audiences::Many(all)
                    }
                }),
                claims: None,
                static_claims: None,
                disable_setting_jwt_header: get(&["SIGIL_JWT_DISABLE_SETTING_JWT_HEADER"])
                    .map(|v| boolean("SIGIL_JWT_DISABLE_SETTING_JWT_HEADER", v))
                    .transpose()?,
            },
            jwks: JwksSettings {
                path: get(&["SIGIL_JWKS_PATH"]),
                rotation_interval: get(&["SIGIL_JWKS_ROTATION_INTERVAL"]).map(TimeSpan::Text),
                grace_period: get(&["SIGIL_JWKS_GRACE_PERIOD"]).map(TimeSpan::Text),
                max_age: get(&["SIGIL_JWKS_MAX_AGE"]).map(TimeSpan::Text),
                disable_private_key_encryption: get(&["SIGIL_JWKS_DISABLE_PRIVATE_KEY_ENCRYPTION"])
                    .map(|v| boolean("SIGIL_JWKS_DISABLE_PRIVATE_KEY_ENCRYPTION", v))
                    .transpose()?,
                rsa_modulus_bits: get(&["SIGIL_JWKS_RSA_MODULUS_BITS"])
                    .map(|v| number("SIGIL_JWKS_RSA_MODULUS_BITS", v).map(|n| n as usize))
                    .transpose()?,
            },
            user_fields: None,
        })
    }

    /// `other`'s values where set, else `self`'s.
    #[must_use]
    pub fn overridden_by(self, other: Settings) -> Settings {
        Settings {
            listen: other.listen.or(self.listen),
            base_url: other.base_url.or(self.base_url),
            base_path: other.base_path.or(self.base_path),
            data_dir: other.data_dir.or(self.data_dir),
            database_url: other.database_url.or(self.database_url),
            secret: other.secret.or(self.secret),
            secrets: other.secrets.or(self.secrets),
            trusted_origins: other.trusted_origins.or(self.trusted_origins),
            trusted_proxies: other.trusted_proxies.or(self.trusted_proxies),
            mode: other.mode.or(self.mode),
            rate_limit: other.rate_limit.or(self.rate_limit),
            migrate: other.migrate.or(self.migrate),
            max_body_bytes: other.max_body_bytes.or(self.max_body_bytes),
            database_timeout_secs: other.database_timeout_secs.or(self.database_timeout_secs),
            jwt: JwtSettings {
                alg: other.jwt.alg.or(self.jwt.alg),
                expiration_time: other.jwt.expiration_time.or(self.jwt.expiration_time),
                issuer: other.jwt.issuer.or(self.jwt.issuer),
                audience: other.jwt.audience.or(self.jwt.audience),
                claims: other.jwt.claims.or(self.jwt.claims),
                static_claims: other.jwt.static_claims.or(self.jwt.static_claims),
                disable_setting_jwt_header: other
                    .jwt
                    .disable_setting_jwt_header
                    .or(self.jwt.disable_setting_jwt_header),
            },
            jwks: JwksSettings {
                path: other.jwks.path.or(self.jwks.path),
                rotation_interval: other.jwks.rotation_interval.or(self.jwks.rotation_interval),
                grace_period: other.jwks.grace_period.or(self.jwks.grace_period),
                max_age: other.jwks.max_age.or(self.jwks.max_age),
                disable_private_key_encryption: other
                    .jwks
                    .disable_private_key_encryption
                    .or(self.jwks.disable_private_key_encryption),
                rsa_modulus_bits: other.jwks.rsa_modulus_bits.or(self.jwks.rsa_modulus_bits),
            },
            user_fields: other.user_fields.or(self.user_fields),
        }
    }
}

/// Where the secret came from, for the start-up log line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SecretSource {
    /// File, environment or command line.
    Configured,
    /// Read from `<data_dir>/secret`, generated on an earlier start.
    DataDir(PathBuf),
    /// Generated now and written to `<data_dir>/secret`.
    Generated(PathBuf),
}

/// The validated configuration of a Sigil server.
#[derive(Clone, Debug)]
pub struct Config {
    /// Listen address.
    pub listen: SocketAddr,
    /// Public base URL, without a trailing slash.
    pub base_url: String,
    /// Origin of the base URL (scheme://host[:port]).
    pub origin: String,
    /// Route prefix, e.g. `/api/auth`.
    pub base_path: String,
    /// Data directory.
    pub data_dir: PathBuf,
    /// Database URL.
    pub database_url: DatabaseUrl,
    /// Current secret (cookie signatures; new keys are encrypted under it).
    pub secret: Secret,
    /// Versioned secrets, current first (empty: the single `secret`).
    pub secret_versions: Vec<(u32, Secret)>,
    /// The plain secret that opens unversioned key envelopes when versioned secrets are used.
    pub legacy_secret: Option<Secret>,
    /// Where the secret came from.
    pub secret_source: SecretSource,
    /// Trusted origins besides the base URL's.
    pub trusted_origins: Vec<String>,
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpAddr>,
    /// Mode.
    pub mode: Mode,
    /// Whether rate limits apply.
    pub rate_limit: bool,
    /// Whether to migrate at start.
    pub migrate: bool,
    /// Body size limit.
    pub max_body_bytes: usize,
    /// Database call timeout.
    pub database_timeout: Duration,
    /// Token and key settings.
    pub tokens: TokenConfig,
    /// Additional user fields.
    pub user_fields: Vec<UserField>,
}

/// Secrets that appear in documentation and examples; never acceptable in production.
const KNOWN_SECRETS: [&str; 3] = [
    "better-auth-secret-12345678901234567890",
    "better-auth-secret-123456789",
    "your-secret-key-at-least-32-characters-long",
];

impl Config {
    /// Validates merged settings. When no secret is configured, one is read from (or generated
    /// into) `<data_dir>/secret`, created with mode 0600.
    pub fn from_settings(s: Settings) -> Result<Config, ConfigError> {
        let mode = s.mode.unwrap_or(Mode::Production);
        let listen: SocketAddr = s
            .listen
            .as_deref()
            .unwrap_or("127.0.0.1:3000")
            .parse()
            .map_err(|_| invalid("listen", "expected ADDRESS:PORT, e.g. 127.0.0.1:3000"))?;
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
            .map_err(|e: DatabaseUrlError| invalid("database_url", e.to_string()))?;
        let mut secret_versions = Vec::new();
        for entry in s
            .secrets
            .iter()
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|e| !e.is_empty())
        {
            let (version, value) = entry
                .split_once(':')
                .and_then(|(v, value)| Some((v.trim().parse::<u32>().ok()?, value)))
                .ok_or_else(|| {
                    invalid(
                        "secrets",
                        "expected \"VERSION:SECRET,…\", e.g. \"2:new,1:old\"",
                    )
                })?;
            check_secret(value, mode)?;
            if secret_versions.iter().any(|(v, _)| *v == version) {
                return Err(invalid(
                    "secrets",
                    format!("version {version} appears twice"),
                ));
            }
            secret_versions.push((version, Secret::new(value)));
        }
        let (secret, secret_source, legacy_secret) = match (secret_versions.first(), s.secret) {
            (Some((_, current)), legacy) => {
                if let Some(l) = &legacy {
                    check_secret(l, mode)?;
                }
                (
                    current.expose().to_owned(),
                    SecretSource::Configured,
                    legacy.map(Secret::new),
                )
            }
            (None, Some(secret)) => (secret, SecretSource::Configured, None),
            (None, None) => {
                let (secret, source) = data_dir_secret(&data_dir)?;
                (secret, source, None)
            }
        };
        check_secret(&secret, mode)?;
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
        let user_fields = user_fields(s.user_fields.as_deref().unwrap_or_default())?;
        let tokens = token_config(&s.jwt, &s.jwks, &origin, &user_fields)?;
        Ok(Config {
            tokens,
            user_fields,
            listen,
            base_url,
            origin,
            base_path,
            data_dir,
            database_url,
            secret: Secret::new(secret),
            secret_versions,
            legacy_secret,
            secret_source,
            trusted_origins: s.trusted_origins.unwrap_or_default(),
            trusted_proxies: s.trusted_proxies.unwrap_or_default(),
            mode,
            rate_limit: s.rate_limit.unwrap_or(mode == Mode::Production),
            migrate: s.migrate.unwrap_or(true),
            max_body_bytes,
            database_timeout: Duration::from_secs(timeout),
        })
    }

    /// Whether cookies get `Secure` and the `__Secure-` prefix (an https base URL).
    pub fn secure_cookies(&self) -> bool {
        self.origin.starts_with("https://")
    }
}

fn user_fields(declared: &[UserFieldSettings]) -> Result<Vec<UserField>, ConfigError> {
    let mut out: Vec<UserField> = Vec::new();
    for f in declared {
        let name_ok = f.name.len() <= 63
            && f.name
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && f.name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !name_ok {
            return Err(invalid(
                "user_fields.name",
                format!("{:?} must be letters, digits and _", f.name),
            ));
        }
        let taken = |n: &str| n.eq_ignore_ascii_case(&f.name);
        if USER_FIELDS.iter().any(|n| taken(n))
            || REGISTERED_CLAIMS.iter().any(|n| taken(n))
            || out.iter().any(|o| taken(&o.name))
        {
            return Err(invalid(
                "user_fields.name",
                format!("{:?} is already a user field", f.name),
            ));
        }
        let default = f.default.clone().unwrap_or(serde_json::Value::Null);
        if !f.kind.accepts(&default) {
            return Err(invalid(
                "user_fields.default",
                format!("default of {:?} is not a {:?}", f.name, f.kind),
            ));
        }
        out.push(UserField {
            name: f.name.clone(),
            kind: f.kind,
            default,
        });
    }
    Ok(out)
}

fn token_config(
    jwt: &JwtSettings,
    jwks: &JwksSettings,
    origin: &str,
    fields: &[UserField],
) -> Result<TokenConfig, ConfigError> {
    let alg: sigil_jose::Alg = jwt
        .alg
        .as_deref()
        .unwrap_or("EdDSA")
        .parse()
        .ok()
        .filter(|a: &sigil_jose::Alg| a.can_sign())
        .ok_or_else(|| {
            invalid(
                "jwt.alg",
                "must be one of EdDSA, ES256, ES512, PS256, RS256",
            )
        })?;
    let secs = |span: &Option<TimeSpan>, key: &str, default: i64| -> Result<i64, ConfigError> {
        span.as_ref().map_or(Ok(default), |s| s.seconds(key))
    };
    let positive = |n: i64, key: &str| -> Result<Duration, ConfigError> {
        u64::try_from(n)
            .ok()
            .filter(|n| *n > 0)
            .map(Duration::from_secs)
            .ok_or_else(|| invalid(key, "must be a positive time span"))
    };
    let expiration = positive(
        secs(&jwt.expiration_time, "jwt.expiration_time", 900)?,
        "jwt.expiration_time",
    )?;
    let max_age = positive(secs(&jwks.max_age, "jwks.max_age", 300)?, "jwks.max_age")?;
    let rotation_interval = match &jwks.rotation_interval {
        None => None,
        Some(span) => Some(positive(
            span.seconds("jwks.rotation_interval")?,
            "jwks.rotation_interval",
        )?),
    };
    let grace_period = positive(
        secs(&jwks.grace_period, "jwks.grace_period", 30 * 86_400)?,
        "jwks.grace_period",
    )?;
    if let Some(interval) = rotation_interval {
        // The successor is published max-age + 1 min before it signs; the interval must leave
        // room for that twice over, and stay a sane length.
        if interval < 2 * (max_age + Duration::from_secs(60)) {
            return Err(invalid(
                "jwks.rotation_interval",
                "must be at least twice (JWKS max-age + 1 minute), so that each key is published ahead of use",
            ));
        }
        if interval > Duration::from_secs(10 * 366 * 86_400) {
            return Err(invalid(
                "jwks.rotation_interval",
                "must be at most 10 years",
            ));
        }
    }
    if grace_period < expiration + max_age {
        return Err(invalid(
            "jwks.grace_period",
            "must be at least the token lifetime plus the JWKS max-age, or verifiers could meet a \
             token whose key is no longer published",
        ));
    }
    let jwks_path = jwks.path.clone().unwrap_or_else(|| "/jwks".to_owned());
    if !jwks_path.starts_with('/')
        || jwks_path.len() < 2
        || jwks_path.ends_with('/')
        || jwks_path.contains("//")
        || jwks_path.contains("..")
        || jwks_path.contains(['?', '#', ' ', '{', '}', '*', ':'])
        || crate::paths::FIXED.contains(&jwks_path.as_str())
    {
        return Err(invalid(
            "jwks.path",
            "must be a path like /jwks or /.well-known/jwks.json, not another route",
        ));
    }
    let rsa_bits = jwks.rsa_modulus_bits.unwrap_or(2048);
    if ![2048, 3072, 4096].contains(&rsa_bits) {
        return Err(invalid(
            "jwks.rsa_modulus_bits",
            "must be 2048, 3072 or 4096",
        ));
    }
    let audience = match &jwt.audience {
        None => vec![origin.to_owned()],
        Some(Audiences::One(a)) => vec![a.clone()],
        Some(Audiences::Many(all)) if !all.is_empty() => all.clone(),
        Some(Audiences::Many(_)) => {
            return Err(invalid("jwt.audience", "must not be an empty list"));
        }
    };
    let mut claims = Vec::new();
    for (claim, source) in jwt.claims.iter().flatten() {
        if REGISTERED_CLAIMS.contains(&claim.as_str()) {
            return Err(invalid(
                "jwt.claims",
                format!("{claim} is a registered claim that Sigil sets; it cannot be mapped"),
            ));
        }
        let parsed = match source.split_once('.') {
            Some(("user", f)) if USER_FIELDS.contains(&f) || fields.iter().any(|u| u.name == f) => {
                ClaimSource::User(f.to_owned())
            }
            Some(("session", f)) if SESSION_FIELDS.contains(&f) => {
                ClaimSource::Session(f.to_owned())
            }
            _ => {
                return Err(invalid(
                    "jwt.claims",
                    format!(
                        "{claim} = {source:?}: expected \"user.<field>\" or \"session.<field>\" naming an existing field"
                    ),
                ));
            }
        };
        claims.push((claim.clone(), parsed));
    }
    let static_claims = jwt.static_claims.clone().unwrap_or_default();
    if let Some(name) = REGISTERED_CLAIMS
        .iter()
        .find(|n| static_claims.contains_key(**n))
    {
        return Err(invalid(
            "jwt.static_claims",
            format!("{name} is a registered claim that Sigil sets; it cannot be static"),
        ));
    }
    Ok(TokenConfig {
        set_jwt_header: !jwt.disable_setting_jwt_header.unwrap_or(false),
        claims,
        static_claims,
        alg,
        expiration,
        issuer: jwt.issuer.clone().unwrap_or_else(|| origin.to_owned()),
        audience,
        jwks_path,
        rotation_interval,
        grace_period,
        jwks_max_age: max_age,
        encrypt_private_keys: !jwks.disable_private_key_encryption.unwrap_or(false),
        rsa_bits,
    })
}

fn check_secret(secret: &str, mode: Mode) -> Result<(), ConfigError> {
    let problem = if secret.chars().count() < 32 {
        Some("is shorter than 32 characters")
    } else if KNOWN_SECRETS.contains(&secret) {
        Some("is a published example value")
    } else if low_entropy(secret) {
        Some("has too little variety (low entropy)")
    } else {
        None
    };
    match (problem, mode) {
        (None, _) => Ok(()),
        (Some(p), Mode::Dev) => {
            tracing::warn!("the secret {p}; accepted only because mode = dev");
            Ok(())
        }
        (Some(p), Mode::Production) => Err(invalid(
            "secret",
            format!(
                "the secret {p}; use at least 32 random characters (e.g. `openssl rand -base64 32`), \
                 or unset it to let Sigil generate one in the data directory"
            ),
        )),
    }
}

/// Fewer than 10 distinct characters, or under 3 bits of Shannon entropy per character.
fn low_entropy(secret: &str) -> bool {
    let mut counts: HashMap<char, usize> = HashMap::new();
    for c in secret.chars() {
        *counts.entry(c).or_default() += 1;
    }
    let n = secret.chars().count() as f64;
    let entropy: f64 = counts
        .values()
        .map(|&c| {
            let p = c as f64 / n;
            -p * p.log2()
        })
        .sum();
    counts.len() < 10 || entropy < 3.0
}

fn data_dir_secret(dir: &Path) -> Result<(String, SecretSource), ConfigError> {
    let dir_err = |source| ConfigError::DataDir {
        path: dir.to_owned(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(dir_err)?;
    let path = dir.join("secret");
    match std::fs::read_to_string(&path) {
        Ok(text) => return Ok((text.trim().to_owned(), SecretSource::DataDir(path))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(dir_err(e)),
    }
    let secret = crate::ids::random_string(48);
    write_private(&path, &secret).map_err(dir_err)?;
    Ok((secret, SecretSource::Generated(path)))
}

#[cfg(unix)]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(text.as_bytes())?;
    file.write_all(b"\n")
}

#[cfg(not(unix))]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    std::fs::write(path, format!("{text}\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(secret: &str) -> Settings {
        Settings {
            secret: Some(secret.to_owned()),
            ..Settings::default()
        }
    }

    const GOOD: &str = "q8Vf2LmZ7xT1rB9nK4pW6sY0cH3jD5gA";

    #[test]
    fn defaults() {
        let c = Config::from_settings(settings(GOOD)).unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:3000");
        assert_eq!(c.base_url, "http://127.0.0.1:3000");
        assert_eq!(c.origin, "http://127.0.0.1:3000");
        assert_eq!(c.base_path, "/api/auth");
        assert!(c.rate_limit);
        assert!(!c.secure_cookies());
        assert_eq!(c.database_url.to_string(), "sqlite://./sigil-data/sigil.db");
        assert!(
            !format!("{c:?}").contains(GOOD),
            "Debug never shows the secret"
        );
    }

    #[test]
    fn weak_secrets_refused_in_production_only() {
        for weak in [
            "short",
            "better-auth-secret-12345678901234567890",
            &"a".repeat(40),
            "abababababababababababababababab",
        ] {
            let err = Config::from_settings(settings(weak)).unwrap_err();
            assert!(err.to_string().contains("secret"), "{weak}: {err}");
            let dev = Settings {
                mode: Some(Mode::Dev),
                ..settings(weak)
            };
            assert!(Config::from_settings(dev).is_ok());
        }
    }

    #[test]
    fn precedence_file_env_flags() {
        let file: Settings =
            toml::from_str("listen = \"127.0.0.1:1\"\nbase_path = \"/auth\"").unwrap();
        let env = Settings::from_env(&HashMap::from([
            ("SIGIL_LISTEN".to_owned(), "127.0.0.1:2".to_owned()),
            ("BETTER_AUTH_SECRET".to_owned(), GOOD.to_owned()),
            (
                "BETTER_AUTH_URL".to_owned(),
                "https://Auth.Example.com:443/x".to_owned(),
            ),
        ]))
        .unwrap();
        let flags = Settings {
            listen: Some("127.0.0.1:3".into()),
            ..Settings::default()
        };
        let c = Config::from_settings(file.overridden_by(env).overridden_by(flags)).unwrap();
        assert_eq!(c.listen.port(), 3);
        assert_eq!(c.base_path, "/auth");
        assert_eq!(c.origin, "https://auth.example.com");
        assert!(c.secure_cookies());
        let upper = Settings {
            base_url: Some("HTTPS://A.EXAMPLE".into()),
            ..settings(GOOD)
        };
        assert!(Config::from_settings(upper).unwrap().secure_cookies());
    }

    #[test]
    fn unknown_keys_and_bad_values_are_refused() {
        assert!(toml::from_str::<Settings>("lisen = \"x\"").is_err());
        for bad in [
            Settings {
                listen: Some("nope".into()),
                ..settings(GOOD)
            },
            Settings {
                base_url: Some("ftp://x".into()),
                ..settings(GOOD)
            },
            Settings {
                base_path: Some("api".into()),
                ..settings(GOOD)
            },
            Settings {
                database_url: Some("mysql://x".into()),
                ..settings(GOOD)
            },
            Settings {
                max_body_bytes: Some(10),
                ..settings(GOOD)
            },
            Settings {
                database_timeout_secs: Some(0),
                ..settings(GOOD)
            },
        ] {
            assert!(matches!(
                Config::from_settings(bad),
                Err(ConfigError::Invalid { .. })
            ));
        }
        let env = HashMap::from([("SIGIL_RATE_LIMIT".to_owned(), "maybe".to_owned())]);
        assert!(Settings::from_env(&env).is_err());
    }

    #[test]
    fn generated_secret_is_private_and_stable() {
        let dir = std::env::temp_dir().join(format!(
            "sigil-config-test-{}",
            crate::ids::random_string(8)
        ));
        let s = || Settings {
            data_dir: Some(dir.clone()),
            ..Settings::default()
        };
        let first = Config::from_settings(s()).unwrap();
        assert!(matches!(first.secret_source, SecretSource::Generated(_)));
        let second = Config::from_settings(s()).unwrap();
        assert!(matches!(second.secret_source, SecretSource::DataDir(_)));
        assert_eq!(first.secret.expose(), second.secret.expose());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.join("secret"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn token_settings() {
        let c = Config::from_settings(settings(GOOD)).unwrap();
        assert_eq!(c.tokens.alg, sigil_jose::Alg::EdDSA);
        assert_eq!(c.tokens.expiration, Duration::from_secs(900));
        assert_eq!(c.tokens.issuer, "http://127.0.0.1:3000");
        assert_eq!(c.tokens.audience, vec!["http://127.0.0.1:3000".to_owned()]);
        assert_eq!(c.tokens.jwks_path, "/jwks");
        assert!(c.tokens.encrypt_private_keys);
        let file: Settings = toml::from_str(
            "[jwt]\nalg = \"ES512\"\nexpiration_time = \"1h\"\naudience = [\"a\", \"b\"]\n[jwks]\nmax_age = 60\npath = \"/.well-known/jwks.json\"",
        )
        .unwrap();
        let c = Config::from_settings(Settings {
            secret: Some(GOOD.into()),
            ..file
        })
        .unwrap();
        assert_eq!(c.tokens.alg, sigil_jose::Alg::ES512);
        assert_eq!(c.tokens.expiration, Duration::from_secs(3600));
        assert_eq!(c.tokens.audience, vec!["a".to_owned(), "b".to_owned()]);
        assert_eq!(c.tokens.jwks_max_age, Duration::from_secs(60));
        for bad in [
            "[jwt]\nalg = \"HS256\"",
            "[jwt]\nalg = \"ES384\"",
            "[jwt]\nexpiration_time = \"soon\"",
            "[jwt]\nexpiration_time = -5",
            "[jwks]\npath = \"/token\"",
            "[jwks]\npath = \"jwks\"",
            "[jwks]\ngrace_period = \"10m\"",
            "[jwks]\nrsa_modulus_bits = 1024",
            "[jwks]\npath = \"/a/../token\"",
            "[jwks]\nrotation_interval = \"5m\"",
            "[jwks]\nrotation_interval = \"300000y\"",
            "[jwt.claims]\nexp = \"user.id\"",
            "[jwt.claims]\nrole = \"user.nope\"",
            "[jwt.claims]\ntoken = \"session.token\"",
            "[jwt.static_claims]\naud = \"x\"",
            "[[user_fields]]\nname = \"Email\"\ntype = \"string\"",
            "[[user_fields]]\nname = \"iss\"\ntype = \"string\"",
            "[[user_fields]]\nname = \"x y\"\ntype = \"string\"",
            "[[user_fields]]\nname = \"n\"\ntype = \"number\"\ndefault = \"one\"",
        ] {
            let file: Settings = toml::from_str(bad).unwrap();
            let err = Config::from_settings(Settings {
                secret: Some(GOOD.into()),
                ..file
            });
            assert!(matches!(err, Err(ConfigError::Invalid { .. })), "{bad}");
        }
        assert!(toml::from_str::<Settings>("[jwt]\nalgo = \"EdDSA\"").is_err());
    }

    #[test]
    fn versioned_secrets() {
        let s = Settings {
            secrets: Some(format!("2:{GOOD}x, 1:{GOOD}")),
            secret: Some("legacy-secret-Q8vF2lMz7Xt1Rb9nK4pW6sY0cH3j".into()),
            ..Settings::default()
        };
        let c = Config::from_settings(s).unwrap();
        assert_eq!(c.secret.expose(), format!("{GOOD}x"));
        assert_eq!(
            c.secret_versions
                .iter()
                .map(|(v, _)| *v)
                .collect::<Vec<_>>(),
            vec![2, 1]
        );
        assert!(c.legacy_secret.is_some());
        for bad in ["2", "x:abc", &format!("1:{GOOD},1:{GOOD}y"), "1:short"] {
            let s = Settings {
                secrets: Some(bad.to_owned()),
                ..Settings::default()
            };
            assert!(
                matches!(Config::from_settings(s), Err(ConfigError::Invalid { .. })),
                "{bad}"
            );
        }
    }
}
