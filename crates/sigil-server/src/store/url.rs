//! The database URL, parsed when the configuration is read so that a URL the driver cannot use is
//! refused at start rather than answered with 503 on every request.

use std::fmt;
use std::str::FromStr;

use sqlx::postgres::PgConnectOptions;
use sqlx::sqlite::SqliteConnectOptions;
use thiserror::Error;

/// A validated database URL: `sqlite:…` (a file, or memory) or `postgres://…` /
/// `postgresql://…`. Its [`Display`](fmt::Display) and [`Debug`] show the URL with any password
/// replaced by `***`, so that it can be logged.
#[derive(Clone)]
pub enum DatabaseUrl {
    /// An SQLite database.
    #[non_exhaustive]
    Sqlite {
        /// The connection options the URL gives.
        options: SqliteConnectOptions,
        /// The URL as configured.
        url: String,
    },
    /// A PostgreSQL server.
    #[non_exhaustive]
    Postgres {
        /// The connection options the URL gives. They may hold a password: never print them.
        options: PgConnectOptions,
        /// The URL as configured, its password replaced by `***`.
        url: String,
    },
}

/// Why a database URL was refused.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum DatabaseUrlError {
    /// The URL names no database Sigil supports.
    #[error("must start with sqlite: or postgres://")]
    Scheme,
    /// The driver cannot use the URL (a bad port, an unknown option…).
    #[error("not a valid {dialect} URL")]
    Invalid {
        /// `SQLite` or `PostgreSQL`.
        dialect: &'static str,
        /// The driver's reason (it never quotes the URL).
        #[source]
        source: sqlx::Error,
    },
}

impl FromStr for DatabaseUrl {
    type Err = DatabaseUrlError;

    fn from_str(url: &str) -> Result<Self, Self::Err> {
        if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url).map_err(|source| {
                DatabaseUrlError::Invalid {
                    dialect: "SQLite",
                    source,
                }
            })?;
            Ok(DatabaseUrl::Sqlite {
                options,
                url: url.to_owned(),
            })
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let options =
                PgConnectOptions::from_str(url).map_err(|source| DatabaseUrlError::Invalid {
                    dialect: "PostgreSQL",
                    source,
                })?;
            Ok(DatabaseUrl::Postgres {
                options,
                url: redact(url),
            })
        } else {
            Err(DatabaseUrlError::Scheme)
        }
    }
}

impl DatabaseUrl {
    /// The URL to show: as configured, without its password.
    fn shown(&self) -> &str {
        match self {
            DatabaseUrl::Sqlite { url, .. } | DatabaseUrl::Postgres { url, .. } => url,
        }
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.shown())
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Not derived: PostgreSQL's options print their password.
        let dialect = match self {
            DatabaseUrl::Sqlite { .. } => "Sqlite",
            DatabaseUrl::Postgres { .. } => "Postgres",
        };
        f.debug_tuple(dialect).field(&self.shown()).finish()
    }
}

/// A PostgreSQL URL with the password of its user info and any `password` query parameter
/// replaced by `***`. The URL is split the way the URL parser that read it splits it: ASCII tabs
/// and newlines are dropped, the authority ends at the first `/`, `?` or `#`, the user info at
/// its last `@`, and query keys are percent-decoded.
fn redact(url: &str) -> String {
    let url: String = url
        .chars()
        .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
        .collect();
    let (scheme, rest) = url.split_once("://").unwrap_or(("", &url));
    let (authority, tail) = rest.split_at(rest.find(['/', '?', '#']).unwrap_or(rest.len()));
    let authority = match authority.rsplit_once('@') {
        Some((user_info, host)) => match user_info.split_once(':') {
            Some((user, _password)) => format!("{user}:***@{host}"),
            None => authority.to_owned(),
        },
        None => authority.to_owned(),
    };
    let (before_fragment, fragment) = tail.split_at(tail.find('#').unwrap_or(tail.len()));
    let tail = match before_fragment.split_once('?') {
        Some((path, query)) => {
            let pairs: Vec<String> = query
                .split('&')
                .map(|pair| {
                    let key = pair.split_once('=').map_or(pair, |(key, _)| key);
                    let decoded = percent_encoding::percent_decode_str(key).decode_utf8_lossy();
                    if decoded == "password" {
                        format!("{key}=***")
                    } else {
                        pair.to_owned()
                    }
                })
                .collect();
            format!("{path}?{}", pairs.join("&"))
        }
        None => before_fragment.to_owned(),
    };
    format!("{scheme}://{authority}{tail}{fragment}")
}
