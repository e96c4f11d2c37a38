//! One layer of settings — a `sigil.toml` file, the environment or the command line — and how
//! layers combine. Each setting is declared once, as a field below; the environment table names
//! its variables; layering is generic (a later layer's value wins wherever it sets one).

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{ConfigError, Mode, invalid};
use crate::user_fields::FieldKind;

/// One layer of settings: a file, the environment or the command line. Every field is optional;
/// later layers override earlier ones.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Address to listen on (`127.0.0.1:3000`).
    pub listen: Option<String>,
    /// Address of the Prometheus metrics endpoint (`GET /metrics`); none unless set, and never
    /// the public port.
    pub metrics_listen: Option<String>,
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
    /// The console page at `/` (default: on in dev, off in production).
    pub console: Option<bool>,
    /// IPv6 clients share a rate-limit bucket per network of this prefix length (default 64,
    /// 1 to 128).
    pub rate_limit_ipv6_prefix: Option<u8>,
    /// Run migrations at start (default true).
    pub migrate: Option<bool>,
    /// Largest request body accepted, in bytes (default 64 KiB).
    pub max_body_bytes: Option<usize>,
    /// How long a database call may take before the request gets a 503 (default 5 s).
    pub database_timeout_secs: Option<u64>,
    /// Longest `name` accepted at sign-up, in characters (default 256).
    pub max_name_length: Option<usize>,
    /// Longest `image` URL accepted at sign-up, in characters (default 2048).
    pub max_image_url_length: Option<usize>,
    /// Time a client has to send a complete request head (default 10 s); a time span or seconds.
    pub header_read_timeout: Option<TimeSpan>,
    /// Time from a complete request head until its response is done (default 60 s).
    pub request_timeout: Option<TimeSpan>,
    /// Connections served at once; more clients wait in the listen backlog (default 4096, or
    /// fewer when the open-files limit is lower).
    pub max_connections: Option<usize>,
    /// Time an idle keep-alive connection may wait for its next request (default 60 s).
    pub keep_alive_timeout: Option<TimeSpan>,
    /// At shutdown, time requests in flight have to finish before every connection is closed
    /// (default 10 s).
    pub shutdown_timeout: Option<TimeSpan>,
    /// Token settings (`[jwt]`).
    #[serde(default)]
    pub jwt: JwtSettings,
    /// Key settings (`[jwks]`).
    #[serde(default)]
    pub jwks: JwksSettings,
    /// The in-memory session cache (`[session_cache]`).
    #[serde(default)]
    pub session_cache: SessionCacheSettings,
    /// Additional user fields (`[[user_fields]]`), stored as columns of the `user` table as
    /// Better Auth's `additionalFields` are.
    pub user_fields: Option<Vec<UserFieldSettings>>,
}

/// `[[user_fields]]`: one additional user field.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct UserFieldSettings {
    /// Column and JSON name (`role`).
    pub name: String,
    /// `string`, `number` or `boolean`.
    #[serde(rename = "type")]
    pub kind: FieldKind,
    /// Value for users that have none.
    pub default: Option<Value>,
}

/// `[jwt]`: how tokens are issued.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct JwtSettings {
    /// `EdDSA` (default), `ES256`, `ES512`, `PS256` or `RS256`.
    pub alg: Option<String>,
    /// Several algorithms at once, each with its own keys (the first signs by default; `alg`
    /// is the one-algorithm shorthand).
    pub algs: Option<Vec<String>>,
    /// Token lifetime: a Better Auth time span (`"15m"`) or seconds (default `"15m"`).
    pub expiration_time: Option<TimeSpan>,
    /// `iss` (default: the base URL's origin).
    pub issuer: Option<String>,
    /// `aud`: one value or a list (default: the base URL's origin).
    pub audience: Option<Audiences>,
    /// Audiences a session may ask a token for (`GET /token?audience=…`); empty: none.
    pub allowed_audiences: Option<Vec<String>>,
    /// The algorithm tokens for an allowed audience are signed with, when its consumer needs
    /// another than the default: `"https://api.example" = "RS256"`.
    pub audience_algs: Option<std::collections::BTreeMap<String, String>>,
    /// Claims taken from the user or the session: `role = "user.role"`, `sid = "session.id"`.
    /// When this or `static_claims` is set, they replace the default payload.
    pub claims: Option<std::collections::BTreeMap<String, String>>,
    /// Fixed claims added to every session token.
    pub static_claims: Option<Map<String, Value>>,
    /// Do not add `set-auth-jwt` to get-session responses (Better Auth's `disableSettingJwtHeader`).
    pub disable_setting_jwt_header: Option<bool>,
}

/// `[jwks]`: keys and their publication.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
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

/// `[session_cache]`: the in-memory cache of live sessions that `/token` and `/get-session`
/// read before the database.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SessionCacheSettings {
    /// On (default) or off.
    pub enabled: Option<bool>,
    /// How long a session read from the database is used before it is read again (default 5 s,
    /// at most 1 hour): the bound on how late this process sees a change made elsewhere (a
    /// sign-out on another instance, `sigil user set`).
    pub ttl: Option<TimeSpan>,
    /// Most sessions held (default 10000).
    pub max_entries: Option<usize>,
    /// Most memory their contents take, in MiB (default 32).
    pub max_memory_mib: Option<u64>,
    /// How long after it was read a cached session still gets tokens while the database is
    /// unavailable (default 1 min, at most 1 hour; 0 turns it off): a database restart does not
    /// stop the token path.
    pub stale_if_unavailable: Option<TimeSpan>,
}

/// A time span: Better Auth's grammar (`"15m"`, `"7d"`) or a number of seconds.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(untagged)]
pub enum TimeSpan {
    /// Seconds.
    Seconds(i64),
    /// A time-span string.
    Text(String),
}

impl TimeSpan {
    /// The span in seconds; `key` names the setting in the error.
    pub(crate) fn seconds(&self, key: &str) -> Result<i64, ConfigError> {
        match self {
            TimeSpan::Seconds(s) => Ok(*s),
            TimeSpan::Text(t) => {
                sigil_jose::parse_time_span(t).map_err(|e| invalid(key, e.to_string()))
            }
        }
    }
}

/// One audience or several.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(untagged)]
pub enum Audiences {
    /// A single audience.
    One(String),
    /// Several audiences.
    Many(Vec<String>),
}

/// How an environment variable's text becomes a setting's value.
#[derive(Clone, Copy)]
enum EnvKind {
    Text,
    Bool,
    Number,
    /// Comma-separated text.
    List,
    /// Comma-separated IP addresses.
    Ips,
    Mode,
    /// One audience, or a comma-separated list of several.
    Audience,
    /// A time span (`"10s"`) or a whole number of seconds.
    Span,
    /// Comma-separated `name=value` pairs (split at the last `=`, so a name may hold one).
    Pairs,
}

/// The environment variables of each setting (the first set one wins; `SIGIL_` names come
/// first, Better Auth's names are read for drop-in use), as `section.field` paths of [`Settings`].
const ENVIRONMENT: &[(&[&str], &str, EnvKind)] = {
    use EnvKind::*;
    &[
        (&["SIGIL_LISTEN"], "listen", Text),
        (&["SIGIL_METRICS_LISTEN"], "metrics_listen", Text),
        (&["SIGIL_BASE_URL", "BETTER_AUTH_URL"], "base_url", Text),
        (&["SIGIL_BASE_PATH"], "base_path", Text),
        (&["SIGIL_DATA_DIR"], "data_dir", Text),
        (&["SIGIL_DATABASE_URL"], "database_url", Text),
        (&["SIGIL_SECRET", "BETTER_AUTH_SECRET"], "secret", Text),
        (&["SIGIL_SECRETS", "BETTER_AUTH_SECRETS"], "secrets", Text),
        (
            &["SIGIL_TRUSTED_ORIGINS", "BETTER_AUTH_TRUSTED_ORIGINS"],
            "trusted_origins",
            List,
        ),
        (&["SIGIL_TRUSTED_PROXIES"], "trusted_proxies", Ips),
        (&["SIGIL_MODE"], "mode", Mode),
        (&["SIGIL_RATE_LIMIT"], "rate_limit", Bool),
        (&["SIGIL_CONSOLE"], "console", Bool),
        (
            &["SIGIL_RATE_LIMIT_IPV6_PREFIX"],
            "rate_limit_ipv6_prefix",
            Number,
        ),
        (&["SIGIL_MIGRATE"], "migrate", Bool),
        (&["SIGIL_MAX_BODY_BYTES"], "max_body_bytes", Number),
        (
            &["SIGIL_DATABASE_TIMEOUT_SECS"],
            "database_timeout_secs",
            Number,
        ),
        (&["SIGIL_MAX_NAME_LENGTH"], "max_name_length", Number),
        (
            &["SIGIL_MAX_IMAGE_URL_LENGTH"],
            "max_image_url_length",
            Number,
        ),
        (&["SIGIL_HEADER_READ_TIMEOUT"], "header_read_timeout", Span),
        (&["SIGIL_REQUEST_TIMEOUT"], "request_timeout", Span),
        (&["SIGIL_MAX_CONNECTIONS"], "max_connections", Number),
        (&["SIGIL_KEEP_ALIVE_TIMEOUT"], "keep_alive_timeout", Span),
        (&["SIGIL_SHUTDOWN_TIMEOUT"], "shutdown_timeout", Span),
        (&["SIGIL_JWT_ALG"], "jwt.alg", Text),
        (&["SIGIL_JWT_ALGS"], "jwt.algs", List),
        (&["SIGIL_JWT_EXPIRATION_TIME"], "jwt.expiration_time", Text),
        (&["SIGIL_JWT_ISSUER"], "jwt.issuer", Text),
        (&["SIGIL_JWT_AUDIENCE"], "jwt.audience", Audience),
        (
            &["SIGIL_JWT_ALLOWED_AUDIENCES"],
            "jwt.allowed_audiences",
            List,
        ),
        (&["SIGIL_JWT_AUDIENCE_ALGS"], "jwt.audience_algs", Pairs),
        (
            &["SIGIL_JWT_DISABLE_SETTING_JWT_HEADER"],
            "jwt.disable_setting_jwt_header",
            Bool,
        ),
        (&["SIGIL_JWKS_PATH"], "jwks.path", Text),
        (
            &["SIGIL_JWKS_ROTATION_INTERVAL"],
            "jwks.rotation_interval",
            Text,
        ),
        (&["SIGIL_JWKS_GRACE_PERIOD"], "jwks.grace_period", Text),
        (&["SIGIL_JWKS_MAX_AGE"], "jwks.max_age", Text),
        (
            &["SIGIL_JWKS_DISABLE_PRIVATE_KEY_ENCRYPTION"],
            "jwks.disable_private_key_encryption",
            Bool,
        ),
        (
            &["SIGIL_JWKS_RSA_MODULUS_BITS"],
            "jwks.rsa_modulus_bits",
            Number,
        ),
        (
            &["SIGIL_SESSION_CACHE_ENABLED"],
            "session_cache.enabled",
            Bool,
        ),
        (&["SIGIL_SESSION_CACHE_TTL"], "session_cache.ttl", Span),
        (
            &["SIGIL_SESSION_CACHE_MAX_ENTRIES"],
            "session_cache.max_entries",
            Number,
        ),
        (
            &["SIGIL_SESSION_CACHE_MAX_MEMORY_MIB"],
            "session_cache.max_memory_mib",
            Number,
        ),
        (
            &["SIGIL_SESSION_CACHE_STALE_IF_UNAVAILABLE"],
            "session_cache.stale_if_unavailable",
            Span,
        ),
    ]
};

/// Sections of [`Settings`] whose members layer one by one; every other value (lists, claim
/// maps) is replaced whole by a later layer.
const SECTIONS: [&str; 3] = ["jwt", "jwks", "session_cache"];

fn env_value(name: &str, text: &str, kind: EnvKind) -> Result<Value, ConfigError> {
    let list = || -> Vec<String> {
        text.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    };
    Ok(match kind {
        EnvKind::Text => Value::String(text.to_owned()),
        EnvKind::Bool => Value::Bool(match text.to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" | "on" => true,
            "0" | "false" | "no" | "off" => false,
            _ => return Err(invalid(name, format!("{text:?} is not a boolean"))),
        }),
        EnvKind::Number => Value::from(
            text.parse::<u64>()
                .map_err(|_| invalid(name, format!("{text:?} is not a whole number")))?,
        ),
        EnvKind::List => Value::from(list()),
        EnvKind::Ips => {
            for ip in list() {
                ip.parse::<IpAddr>()
                    .map_err(|_| invalid(name, format!("{ip:?} is not an IP")))?;
            }
            Value::from(list())
        }
        EnvKind::Mode => {
            let mode: Mode = text.parse().map_err(|e: String| invalid(name, e))?;
            Value::String(mode.as_str().to_owned())
        }
        EnvKind::Audience => match list().as_slice() {
            [one] => Value::String(one.clone()),
            all => Value::from(all.to_vec()),
        },
        EnvKind::Span => match text.trim().parse::<u64>() {
            Ok(seconds) => Value::from(seconds),
            Err(_) => Value::String(text.to_owned()),
        },
        EnvKind::Pairs => {
            let mut pairs = Map::new();
            for item in list() {
                let (name, value) = item
                    .rsplit_once('=')
                    .ok_or_else(|| invalid(name, format!("{item:?} is not name=value")))?;
                if pairs
                    .insert(name.trim().to_owned(), Value::from(value.trim()))
                    .is_some()
                {
                    return Err(invalid(name, format!("{:?} is given twice", name.trim())));
                }
            }
            Value::Object(pairs)
        }
    })
}

/// Deep-merges `over` into `base` for the sections; elsewhere a non-null `over` value wins.
fn layer(base: &mut Map<String, Value>, over: Map<String, Value>, sections: &[&str]) {
    for (key, value) in over {
        match (base.get_mut(&key), value) {
            (Some(Value::Object(inner)), Value::Object(top))
                if sections.contains(&key.as_str()) =>
            {
                layer(inner, top, &[]);
            }
            (_, Value::Null) => {}
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

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

    /// Reads `SIGIL_*` variables (and `BETTER_AUTH_SECRET`, `BETTER_AUTH_URL`, … for drop-in
    /// use; the `SIGIL_` names win). Empty variables count as unset.
    pub fn from_env(env: &HashMap<String, String>) -> Result<Self, ConfigError> {
        let mut root = Map::new();
        for (names, path, kind) in ENVIRONMENT {
            let Some((name, text)) = names
                .iter()
                .find_map(|n| env.get(*n).filter(|v| !v.is_empty()).map(|v| (*n, v)))
            else {
                continue;
            };
            let value = env_value(name, text, *kind)?;
            match path.split_once('.') {
                Some((section, field)) => {
                    let entry = root
                        .entry(section)
                        .or_insert_with(|| Value::Object(Map::new()));
                    if let Value::Object(inner) = entry {
                        inner.insert(field.to_owned(), value);
                    }
                }
                None => {
                    root.insert((*path).to_owned(), value);
                }
            }
        }
        serde_json::from_value(Value::Object(root))
            .map_err(|e| invalid("environment", e.to_string()))
    }

    /// `other`'s values where set, else `self`'s.
    pub fn overridden_by(mut self, mut other: Settings) -> Result<Settings, ConfigError> {
        // A path need not be UTF-8, so it does not go through JSON; everything else does.
        let data_dir = other.data_dir.take().or(self.data_dir.take());
        let as_map = |s: &Settings| match serde_json::to_value(s) {
            Ok(Value::Object(map)) => Ok(map),
            Ok(_) => Err(invalid("settings", "settings are not a table")),
            Err(e) => Err(invalid("settings", e.to_string())),
        };
        let mut merged = as_map(&self)?;
        layer(&mut merged, as_map(&other)?, &SECTIONS);
        let mut settings: Settings = serde_json::from_value(Value::Object(merged))
            .map_err(|e| invalid("settings", e.to_string()))?;
        settings.data_dir = data_dir;
        Ok(settings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variable_reaches_its_setting() {
        let mut env = HashMap::new();
        for (names, path, kind) in ENVIRONMENT {
            let text = match kind {
                EnvKind::Text => "x",
                EnvKind::Bool => "true",
                EnvKind::Number => "7",
                EnvKind::List => "a, b",
                EnvKind::Ips => "10.0.0.1",
                EnvKind::Mode => "dev",
                EnvKind::Audience => "a,b",
                EnvKind::Span => "5s",
                EnvKind::Pairs => "https://a?b=c=RS256",
            };
            env.insert(names[0].to_owned(), text.to_owned());
            let _ = path;
        }
        let s = Settings::from_env(&env).unwrap();
        let json = serde_json::to_value(&s).unwrap();
        for (_, path, _) in ENVIRONMENT {
            let pointer = format!("/{}", path.replace('.', "/"));
            assert!(
                !json.pointer(&pointer).unwrap_or(&Value::Null).is_null(),
                "{path} not set from the environment"
            );
        }
        assert_eq!(s.trusted_origins, Some(vec!["a".into(), "b".into()]));
        // Split at the last `=`: an audience may hold one.
        assert_eq!(
            s.jwt.audience_algs,
            Some([("https://a?b=c".to_owned(), "RS256".to_owned())].into())
        );
    }

    /// The variables Sigil has always read (an oracle independent of the table above), and the
    /// Better Auth names read for drop-in use, which lose to the `SIGIL_` ones.
    #[test]
    fn the_documented_variables_and_their_aliases() {
        let names = [
            ("SIGIL_LISTEN", "listen"),
            ("SIGIL_METRICS_LISTEN", "metrics_listen"),
            ("SIGIL_BASE_URL", "base_url"),
            ("BETTER_AUTH_URL", "base_url"),
            ("SIGIL_BASE_PATH", "base_path"),
            ("SIGIL_DATA_DIR", "data_dir"),
            ("SIGIL_DATABASE_URL", "database_url"),
            ("SIGIL_SECRET", "secret"),
            ("BETTER_AUTH_SECRET", "secret"),
            ("SIGIL_SECRETS", "secrets"),
            ("BETTER_AUTH_SECRETS", "secrets"),
            ("SIGIL_TRUSTED_ORIGINS", "trusted_origins"),
            ("BETTER_AUTH_TRUSTED_ORIGINS", "trusted_origins"),
            ("SIGIL_JWT_ALG", "jwt/alg"),
            ("SIGIL_JWT_EXPIRATION_TIME", "jwt/expiration_time"),
            ("SIGIL_JWT_ISSUER", "jwt/issuer"),
            ("SIGIL_JWT_AUDIENCE", "jwt/audience"),
            ("SIGIL_JWT_ALLOWED_AUDIENCES", "jwt/allowed_audiences"),
            ("SIGIL_JWT_ALGS", "jwt/algs"),
            ("SIGIL_JWKS_PATH", "jwks/path"),
            ("SIGIL_JWKS_ROTATION_INTERVAL", "jwks/rotation_interval"),
            ("SIGIL_JWKS_GRACE_PERIOD", "jwks/grace_period"),
            ("SIGIL_JWKS_MAX_AGE", "jwks/max_age"),
        ];
        for (name, path) in names {
            let env = HashMap::from([(name.to_owned(), "x".to_owned())]);
            let json = serde_json::to_value(Settings::from_env(&env).unwrap()).unwrap();
            let value = json.pointer(&format!("/{path}")).unwrap();
            assert!(
                value == "x" || value == &serde_json::json!(["x"]),
                "{name}: {value}"
            );
        }
        for (name, path, text) in [
            ("SIGIL_TRUSTED_PROXIES", "trusted_proxies", "10.0.0.1"),
            ("SIGIL_MODE", "mode", "dev"),
            ("SIGIL_RATE_LIMIT", "rate_limit", "off"),
            (
                "SIGIL_RATE_LIMIT_IPV6_PREFIX",
                "rate_limit_ipv6_prefix",
                "56",
            ),
            ("SIGIL_MIGRATE", "migrate", "no"),
            ("SIGIL_MAX_BODY_BYTES", "max_body_bytes", "2048"),
            ("SIGIL_DATABASE_TIMEOUT_SECS", "database_timeout_secs", "3"),
            ("SIGIL_MAX_NAME_LENGTH", "max_name_length", "64"),
            ("SIGIL_MAX_IMAGE_URL_LENGTH", "max_image_url_length", "512"),
            ("SIGIL_HEADER_READ_TIMEOUT", "header_read_timeout", "5"),
            ("SIGIL_REQUEST_TIMEOUT", "request_timeout", "30"),
            ("SIGIL_MAX_CONNECTIONS", "max_connections", "100"),
            ("SIGIL_KEEP_ALIVE_TIMEOUT", "keep_alive_timeout", "1m"),
            ("SIGIL_SHUTDOWN_TIMEOUT", "shutdown_timeout", "3s"),
            (
                "SIGIL_JWT_DISABLE_SETTING_JWT_HEADER",
                "jwt/disable_setting_jwt_header",
                "1",
            ),
            (
                "SIGIL_JWKS_DISABLE_PRIVATE_KEY_ENCRYPTION",
                "jwks/disable_private_key_encryption",
                "true",
            ),
            (
                "SIGIL_JWKS_RSA_MODULUS_BITS",
                "jwks/rsa_modulus_bits",
                "3072",
            ),
            (
                "SIGIL_SESSION_CACHE_ENABLED",
                "session_cache/enabled",
                "false",
            ),
            ("SIGIL_SESSION_CACHE_TTL", "session_cache/ttl", "30s"),
            (
                "SIGIL_SESSION_CACHE_STALE_IF_UNAVAILABLE",
                "session_cache/stale_if_unavailable",
                "0",
            ),
        ] {
            let env = HashMap::from([(name.to_owned(), text.to_owned())]);
            let json = serde_json::to_value(Settings::from_env(&env).unwrap()).unwrap();
            assert!(
                !json.pointer(&format!("/{path}")).unwrap().is_null(),
                "{name}"
            );
        }
        let both = HashMap::from([
            ("SIGIL_SECRET".to_owned(), "sigil".to_owned()),
            ("BETTER_AUTH_SECRET".to_owned(), "better-auth".to_owned()),
            (
                "BETTER_AUTH_URL".to_owned(),
                "https://ba.example".to_owned(),
            ),
        ]);
        let s = Settings::from_env(&both).unwrap();
        assert_eq!(s.secret.as_deref(), Some("sigil"));
        assert_eq!(s.base_url.as_deref(), Some("https://ba.example"));
    }

    #[test]
    fn sections_layer_by_member_and_maps_replace() {
        let file: Settings = toml::from_str(
            "listen = \"127.0.0.1:1\"\n[jwt]\nalg = \"ES256\"\nissuer = \"i\"\n[jwt.static_claims]\na = 1\nb = 2",
        )
        .unwrap();
        let over: Settings =
            toml::from_str("[jwt]\nissuer = \"j\"\n[jwt.static_claims]\nc = 3").unwrap();
        let s = file.overridden_by(over).unwrap();
        assert_eq!(s.listen.as_deref(), Some("127.0.0.1:1"));
        assert_eq!(s.jwt.alg.as_deref(), Some("ES256"));
        assert_eq!(s.jwt.issuer.as_deref(), Some("j"));
        let claims = s.jwt.static_claims.unwrap();
        assert_eq!(
            claims.len(),
            1,
            "a later claim map replaces the earlier one"
        );
    }

    #[test]
    fn bad_environment_values_name_the_variable() {
        for (name, value) in [
            ("SIGIL_RATE_LIMIT", "maybe"),
            ("SIGIL_MODE", "staging"),
            ("SIGIL_TRUSTED_PROXIES", "10.0.0.1, nope"),
            ("SIGIL_MAX_BODY_BYTES", "-1"),
        ] {
            let env = HashMap::from([(name.to_owned(), value.to_owned())]);
            let err = Settings::from_env(&env).unwrap_err();
            assert!(err.to_string().contains(name), "{err}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_data_dir_that_is_not_utf8_survives_layering() {
        use std::os::unix::ffi::OsStrExt;
        let odd = PathBuf::from(std::ffi::OsStr::from_bytes(b"/tmp/sigil-\xff"));
        let flags = Settings {
            data_dir: Some(odd.clone()),
            ..Settings::default()
        };
        let file = Settings {
            listen: Some("127.0.0.1:1".into()),
            ..Settings::default()
        };
        let s = file.overridden_by(flags).unwrap();
        assert_eq!(s.data_dir, Some(odd));
        assert_eq!(s.listen.as_deref(), Some("127.0.0.1:1"));
    }
}
