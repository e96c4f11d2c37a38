//! Storage of users, accounts, sessions and signing keys in Better Auth's tables, on SQLite
//! (embedded default) or PostgreSQL (several instances). Times are written the way Better Auth's
//! Kysely dialects write them — ISO-8601 text with milliseconds on SQLite, `timestamptz` on
//! PostgreSQL — so a Better Auth process reads what Sigil writes and the other way round.
//!
//! Every statement is written once: the `on_pool!` macro compiles one body for each dialect's
//! pool, and what really differs between the dialects (how a time is stored, the width of an
//! integer, the few statements that have no common form) lives in the `dialect` module. The
//! methods of [`Store`] are split by table: `users`, `sessions`, `keys` (`jwks`) and `fields`
//! (additional user columns); `rows` holds the user and session rows that two of them share.

use std::path::PathBuf;
use std::time::Duration;

use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteJournalMode, SqlitePool, SqlitePoolOptions};
use thiserror::Error;

mod dialect;
mod fields;
mod file;
pub(crate) mod inspect;
mod keys;
mod rows;
mod sessions;
#[cfg(test)]
mod tests;
mod url;
mod users;

pub use keys::{ExpiryChanges, KeyRow, Placement};
pub use rows::{Session, User};
pub use url::{DatabaseUrl, DatabaseUrlError};

use dialect::Dialect;

/// A storage failure, classified by what the caller should answer. The database driver's error,
/// when there is one, is kept as the [source](std::error::Error::source); the message repeats it
/// because the server logs errors by their message.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database is down or unreachable, or refused the statement: retry later (HTTP 503).
    #[error("database unavailable")]
    Unavailable(#[source] sqlx::Error),
    /// The database gave no answer within the configured timeout (HTTP 503).
    #[error("no answer from the database within {0:?}")]
    Timeout(Duration),
    /// The email of a new user belongs to an existing user.
    #[error("a user with this email exists")]
    EmailTaken,
    /// A unique constraint other than the user's email refused the write (an id or a session
    /// token already in use): a bug or a broken random source, never the client's fault.
    #[error("conflict with an existing row")]
    Conflict(#[source] sqlx::Error),
    /// A row could not be read into Sigil's types (HTTP 500; the log says which).
    #[error("unreadable {what}")]
    Corrupt {
        /// What could not be read (a column).
        what: String,
        /// Why.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// Migrating the schema failed.
    #[error("migration failed")]
    Migration(#[source] sqlx::migrate::MigrateError),
    /// The SQLite database file was deleted or replaced while the server ran (HTTP 503 until
    /// the process is restarted; see [`Store::check_file`]).
    #[error("the database file {} was deleted or replaced while in use", path.display())]
    FileReplaced {
        /// The file.
        path: PathBuf,
    },
    /// The SQLite database file does not exist (and was not to be created: a read-only check).
    #[error("no database file at {}", path.display())]
    NotFound {
        /// The file.
        path: PathBuf,
    },
    /// The directory or the file of an SQLite database could not be created.
    #[error("cannot create {}", path.display())]
    Directory {
        /// The directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

impl StoreError {
    /// Whether the database could not be reached or did not answer in time: a condition that
    /// passes (answer 503, keep starting), as opposed to a failure of Sigil or of the data.
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            StoreError::Unavailable(_) | StoreError::Timeout(_) | StoreError::FileReplaced { .. }
        )
    }
}

impl StoreError {
    /// Whether the database could not be reached at all (no answer in time, no connection, the
    /// server shutting down or starting up), as opposed to an answer that refused the work (a
    /// permission, a missing table): only then may a cached session stand in for a read.
    pub fn is_unreachable(&self) -> bool {
        match self {
            StoreError::Timeout(_) => true,
            StoreError::Unavailable(e) => match e {
                // A protocol error: something other than a healthy server answered (a closed
                // connection read as a reply).
                sqlx::Error::Io(_)
                | sqlx::Error::Tls(_)
                | sqlx::Error::Protocol(_)
                | sqlx::Error::PoolTimedOut
                | sqlx::Error::PoolClosed
                | sqlx::Error::WorkerCrashed => true,
                // SQLSTATE class 08 (connection exception) and 57P01–57P03 (shut down, crashed,
                // not accepting connections yet).
                sqlx::Error::Database(db) => db.code().is_some_and(|code| {
                    code.starts_with("08") || matches!(&*code, "57P01" | "57P02" | "57P03")
                }),
                _ => false,
            },
            _ => false,
        }
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::Database(ref db) if db.is_unique_violation() => StoreError::Conflict(e),
            sqlx::Error::ColumnDecode { index, source } => StoreError::Corrupt {
                what: format!("column {index}"),
                source,
            },
            sqlx::Error::Decode(source) => StoreError::Corrupt {
                what: "value".to_owned(),
                source,
            },
            sqlx::Error::ColumnNotFound(ref name) => StoreError::Corrupt {
                what: format!("column {name}"),
                source: Box::new(e),
            },
            other => StoreError::Unavailable(other),
        }
    }
}

/// The connection pool of one dialect.
#[derive(Clone, Debug)]
enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs one body against the store's pool, whichever dialect it is: `on_pool!(store, |pool| …)`
/// expands the body once per dialect, with `pool` bound to that dialect's pool, so that each
/// statement is written once and type-checked against both drivers. `|pool, Db| …` also names
/// the dialect's [`sqlx::Database`] as `Db`, for the items of [`Dialect`].
macro_rules! on_pool {
    ($store:expr, |$pool:ident, $db:ident| $body:expr) => {
        match &$store.pool {
            $crate::store::Pool::Sqlite($pool) => {
                type $db = ::sqlx::Sqlite;
                $body
            }
            $crate::store::Pool::Postgres($pool) => {
                type $db = ::sqlx::Postgres;
                $body
            }
        }
    };
    ($store:expr, |$pool:ident| $body:expr) => {
        match &$store.pool {
            $crate::store::Pool::Sqlite($pool) => $body,
            $crate::store::Pool::Postgres($pool) => $body,
        }
    };
}
use on_pool;

/// Runs one statement with its parameters against the store's pool, within the store's timeout:
/// `execute!(store, SQL, param…)` is a future of the number of rows the statement changed.
macro_rules! execute {
    ($store:expr, $sql:expr $(, $param:expr)* $(,)?) => {
        $store.timed(async {
            Ok($crate::store::on_pool!($store, |pool| {
                ::sqlx::query($sql)
                    $(.bind($param))*
                    .execute(pool)
                    .await?
                    .rows_affected()
            }))
        })
    };
}
use execute;

/// A connection pool to one database, with a timeout on every call.
#[derive(Clone, Debug)]
pub struct Store {
    pool: Pool,
    timeout: Duration,
    /// The SQLite file opened, when there is one.
    file: Option<std::sync::Arc<file::OpenedFile>>,
}

/// Whether a SQLite URL names a file on disk (not an in-memory database, which sqlx names
/// `file:sqlx-in-memory-…`).
fn sqlite_file_on_disk(url: &str, path: &std::path::Path) -> bool {
    !(url.contains(":memory:")
        || url.contains("mode=memory")
        || path.as_os_str().is_empty()
        || path.to_string_lossy().starts_with("file:"))
}

impl Store {
    /// Connects (lazily: a database that is down now is retried on each request). SQLite files
    /// are created if missing, with their directory, and run in WAL mode with foreign keys on.
    pub(crate) fn connect(url: &DatabaseUrl, timeout: Duration) -> Result<Store, StoreError> {
        let pool = match url {
            DatabaseUrl::Sqlite { options, url } => {
                let options = options
                    .clone()
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .foreign_keys(true)
                    .busy_timeout(timeout);
                // A database file in a directory that does not exist yet (the data directory on
                // first start, when a secret is configured and none had to be generated): the
                // directory 0700, the file 0600, whatever the umask (see `crate::files`).
                let file = options.get_filename();
                if sqlite_file_on_disk(url, file) && !url.contains("mode=ro") {
                    if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
                        crate::files::private_dir(dir).map_err(|source| StoreError::Directory {
                            path: dir.to_owned(),
                            source,
                        })?;
                    }
                    crate::files::private_file(file).map_err(|source| StoreError::Directory {
                        path: file.to_owned(),
                        source,
                    })?;
                }
                Pool::Sqlite(
                    SqlitePoolOptions::new()
                        .max_connections(8)
                        .acquire_timeout(timeout)
                        .connect_lazy_with(options),
                )
            }
            DatabaseUrl::Postgres { options, .. } => Pool::Postgres(
                PgPoolOptions::new()
                    .max_connections(16)
                    .acquire_timeout(timeout)
                    .connect_lazy_with(options.clone()),
            ),
        };
        let file = match (&pool, url) {
            (Pool::Sqlite(_), DatabaseUrl::Sqlite { options, url }) => {
                let path = options.get_filename();
                sqlite_file_on_disk(url, path)
                    .then(|| std::sync::Arc::new(file::OpenedFile::new(path)))
            }
            _ => None,
        };
        Ok(Store {
            pool,
            timeout,
            file,
        })
    }

    /// Whether the SQLite file at the configured path is still the one this store opened. Every
    /// call checks it first (a `stat`), so nothing is read from or written to a file that was
    /// deleted or replaced; the server's supervisor can also poll it. Always `Ok` on PostgreSQL.
    pub fn check_file(&self) -> Result<(), StoreError> {
        self.file.as_ref().map_or(Ok(()), |f| f.check())
    }

    /// Resolves when the SQLite file is found deleted or replaced (never on PostgreSQL), so that
    /// a server can stop and let its supervisor start it on the file now at the path.
    pub async fn file_lost(&self) {
        match &self.file {
            Some(f) => f.lost().await,
            None => std::future::pending().await,
        }
    }

    /// `"sqlite"` or `"postgres"`.
    pub fn engine(&self) -> &'static str {
        match self.pool {
            Pool::Sqlite(_) => "sqlite",
            Pool::Postgres(_) => "postgres",
        }
    }

    /// One trivial query: whether the database answers (readiness).
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.timed(async {
            on_pool!(self, |pool| {
                sqlx::query("select 1").execute(pool).await?;
            });
            Ok(())
        })
        .await
    }

    /// The PostgreSQL pool, on which other processes' changes can be listened for.
    pub(crate) fn postgres_pool(&self) -> Option<&PgPool> {
        match &self.pool {
            Pool::Postgres(pool) => Some(pool),
            Pool::Sqlite(_) => None,
        }
    }

    /// Runs `work` within the store's timeout: a database that does not answer is reported as
    /// [`StoreError::Timeout`] instead of holding the request.
    async fn timed<T>(
        &self,
        work: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        self.check_file()?;
        let started = std::time::Instant::now();
        let result = tokio::time::timeout(self.timeout, work)
            .await
            .unwrap_or(Err(StoreError::Timeout(self.timeout)));
        let error = result.as_ref().err().map(|e| match e {
            StoreError::Timeout(_) => "timeout",
            e if e.is_unavailable() => "unavailable",
            _ => "other",
        });
        crate::telemetry::db_call(started.elapsed(), error);
        result
    }

    /// Creates Better Auth's tables where missing (an existing Better Auth database is left as
    /// it is).
    pub(crate) async fn migrate(&self) -> Result<(), StoreError> {
        // PostgreSQL migrations take an advisory lock; SQLite's do not, so two processes starting
        // at once on one file can collide on the bookkeeping row. The loser retries and then
        // finds the migration applied.
        let mut attempt = 0;
        loop {
            let result = on_pool!(self, |pool, Db| Db::migrator().run(pool).await);
            match result {
                Ok(()) => return self.add_key_columns().await,
                Err(e) if attempt < 5 && matches!(self.pool, Pool::Sqlite(_)) => {
                    tracing::debug!(error = %e, "migration collided with another process; retrying");
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(100 * attempt)).await;
                }
                Err(e) => return Err(StoreError::Migration(e)),
            }
        }
    }

    /// Adds `jwks.alg` and `jwks.crv` (nullable text) where missing: Better Auth added them in
    /// 1.7.0, and the migration's `create table if not exists` leaves an older key table as it
    /// is. Idempotent; a concurrent process adding the same column is tolerated.
    async fn add_key_columns(&self) -> Result<(), StoreError> {
        self.timed(async {
            on_pool!(self, |pool, Db| {
                let existing: Vec<String> = sqlx::query_scalar(Db::COLUMN_NAMES)
                    .bind("jwks")
                    .fetch_all(pool)
                    .await?;
                for column in ["alg", "crv"] {
                    if existing.iter().any(|c| c == column) {
                        continue;
                    }
                    let sql = format!(r#"{} "{column}" text"#, Db::ADD_KEY_COLUMN);
                    match sqlx::query(sqlx::AssertSqlSafe(sql)).execute(pool).await {
                        Ok(_) => tracing::info!(column, "added a column to jwks (Better Auth 1.7)"),
                        Err(sqlx::Error::Database(e))
                            if e.message().contains("duplicate column") => {}
                        Err(e) => return Err(e.into()),
                    }
                }
            });
            Ok(())
        })
        .await
    }
}
