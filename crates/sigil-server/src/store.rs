//! Storage of users, accounts and sessions in Better Auth's tables, on SQLite (embedded default)
//! or PostgreSQL (several instances). Times are written the way Better Auth's Kysely dialects
//! write them — ISO-8601 text with milliseconds on SQLite, `timestamptz` on PostgreSQL — so a
//! Better Auth process reads what Sigil writes and the other way round.

use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::postgres::{PgPool, PgPoolOptions, PgRow};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
};
use thiserror::Error;

use crate::time::{iso, parse_iso};
use crate::user_fields::{FieldKind, UserField};

/// A storage failure, classified by what the caller should answer.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database is down, unreachable or too slow: retry later (HTTP 503).
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// A unique constraint refused the write (e.g. the email exists).
    #[error("conflict with an existing row")]
    Conflict,
    /// A row could not be read into Sigil's types (HTTP 500; the log says which).
    #[error("unreadable row: {0}")]
    Corrupt(String),
    /// Migrating the schema failed.
    #[error("migration failed: {0}")]
    Migration(String),
}

impl StoreError {
    /// Whether the database is down or too slow (retry later), rather than the data wrong.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, StoreError::Unavailable(_))
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict,
            sqlx::Error::ColumnDecode { .. }
            | sqlx::Error::Decode(_)
            | sqlx::Error::ColumnNotFound(_) => StoreError::Corrupt(e.to_string()),
            _ => StoreError::Unavailable(e.to_string()),
        }
    }
}

/// A user row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    /// Id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Lowercased email.
    pub email: String,
    /// Whether the email was verified.
    pub email_verified: bool,
    /// Avatar URL.
    pub image: Option<String>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Updated.
    pub updated_at: DateTime<Utc>,
}

/// A session row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    /// Id.
    pub id: String,
    /// The 32-character session token.
    pub token: String,
    /// Owner.
    pub user_id: String,
    /// Expiry.
    pub expires_at: DateTime<Utc>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Updated.
    pub updated_at: DateTime<Utc>,
    /// Client IP.
    pub ip_address: Option<String>,
    /// Client user agent.
    pub user_agent: Option<String>,
}

#[derive(Clone, Debug)]
enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// A connection pool to one database, with a timeout on every call.
#[derive(Clone, Debug)]
pub struct Store {
    pool: Pool,
    timeout: Duration,
}

fn parse_time(text: &str) -> Result<DateTime<Utc>, StoreError> {
    parse_iso(text).map_err(|e| StoreError::Corrupt(format!("time {text:?}: {e}")))
}

macro_rules! user_columns {
    () => {
        r#"u."id", u."name", u."email", u."emailVerified", u."image", u."createdAt", u."updatedAt""#
    };
}
macro_rules! session_columns {
    () => {
        r#"s."id", s."token", s."userId", s."expiresAt", s."createdAt", s."updatedAt", s."ipAddress", s."userAgent""#
    };
}

/// Reading a row the same way on both dialects; only times differ: ISO-8601 text in SQLite (as
/// Better Auth writes them), `timestamptz` in PostgreSQL.
trait RowTimes: Row {
    fn time(&self, i: usize) -> Result<DateTime<Utc>, StoreError>;
    fn opt_time(&self, i: usize) -> Result<Option<DateTime<Utc>>, StoreError>;
}

impl RowTimes for SqliteRow {
    fn time(&self, i: usize) -> Result<DateTime<Utc>, StoreError> {
        parse_time(&self.try_get::<String, _>(i)?)
    }
    fn opt_time(&self, i: usize) -> Result<Option<DateTime<Utc>>, StoreError> {
        let text: Option<String> = self.try_get(i)?;
        text.as_deref().map(parse_time).transpose()
    }
}

impl RowTimes for PgRow {
    fn time(&self, i: usize) -> Result<DateTime<Utc>, StoreError> {
        Ok(self.try_get(i)?)
    }
    fn opt_time(&self, i: usize) -> Result<Option<DateTime<Utc>>, StoreError> {
        Ok(self.try_get(i)?)
    }
}

fn user_from<R>(row: &R, at: usize) -> Result<User, StoreError>
where
    R: RowTimes,
    usize: sqlx::ColumnIndex<R>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> bool: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    Ok(User {
        id: row.try_get(at)?,
        name: row.try_get(at + 1)?,
        email: row.try_get(at + 2)?,
        email_verified: row.try_get(at + 3)?,
        image: row.try_get(at + 4)?,
        created_at: row.time(at + 5)?,
        updated_at: row.time(at + 6)?,
    })
}

fn session_from<R>(row: &R) -> Result<Session, StoreError>
where
    R: RowTimes,
    usize: sqlx::ColumnIndex<R>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    Ok(Session {
        id: row.try_get(0)?,
        token: row.try_get(1)?,
        user_id: row.try_get(2)?,
        expires_at: row.time(3)?,
        created_at: row.time(4)?,
        updated_at: row.time(5)?,
        ip_address: row.try_get(6)?,
        user_agent: row.try_get(7)?,
    })
}

impl Store {
    /// Connects (lazily: a database that is down now is retried on each request). SQLite files
    /// are created if missing and run in WAL mode with foreign keys on.
    pub fn connect(url: &str, timeout: Duration) -> Result<Store, StoreError> {
        let pool = if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)
                .map_err(|e| StoreError::Unavailable(format!("bad SQLite URL: {e}")))?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .foreign_keys(true)
                .busy_timeout(timeout);
            // A database file in a directory that does not exist yet (the data directory on
            // first start, when a secret is configured and none had to be generated).
            if let Some(dir) = options
                .get_filename()
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
            {
                std::fs::create_dir_all(dir).map_err(|e| {
                    StoreError::Unavailable(format!("cannot create {}: {e}", dir.display()))
                })?;
            }
            Pool::Sqlite(
                SqlitePoolOptions::new()
                    .max_connections(8)
                    .acquire_timeout(timeout)
                    .connect_lazy_with(options),
            )
        } else {
            Pool::Postgres(
                PgPoolOptions::new()
                    .max_connections(16)
                    .acquire_timeout(timeout)
                    .connect_lazy(url)
                    .map_err(|e| StoreError::Unavailable(format!("bad PostgreSQL URL: {e}")))?,
            )
        };
        Ok(Store { pool, timeout })
    }

    /// `"sqlite"` or `"postgres"`.
    pub fn engine(&self) -> &'static str {
        match self.pool {
            Pool::Sqlite(_) => "sqlite",
            Pool::Postgres(_) => "postgres",
        }
    }

    async fn timed<T>(
        &self,
        work: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        tokio::time::timeout(self.timeout, work)
            .await
            .unwrap_or_else(|_| {
                Err(StoreError::Unavailable(format!(
                    "no answer within {:?}",
                    self.timeout
                )))
            })
    }

    /// Creates Better Auth's tables where missing (an existing Better Auth database is left as
    /// it is).
    pub async fn migrate(&self) -> Result<(), StoreError> {
        // PostgreSQL migrations take an advisory lock; SQLite's do not, so two processes starting
        // at once on one file can collide on the bookkeeping row. The loser retries and then
        // finds the migration applied.
        let mut attempt = 0;
        loop {
            let result = match &self.pool {
                Pool::Sqlite(p) => sqlx::migrate!("./migrations/sqlite").run(p).await,
                Pool::Postgres(p) => sqlx::migrate!("./migrations/postgres").run(p).await,
            };
            match result {
                Ok(()) => return Ok(()),
                Err(e) if attempt < 5 && matches!(self.pool, Pool::Sqlite(_)) => {
                    tracing::debug!(error = %e, "migration collided with another process; retrying");
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(100 * attempt)).await;
                }
                Err(e) => return Err(StoreError::Migration(e.to_string())),
            }
        }
    }

    /// Creates a user with a credential account (the password hash) and a first session, in one
    /// transaction. An existing email gives [`StoreError::Conflict`].
    pub async fn create_user(
        &self,
        user: &User,
        password_hash: &str,
        session: &Session,
    ) -> Result<(), StoreError> {
        const USER: &str = r#"insert into "user" ("id", "name", "email", "emailVerified", "image", "createdAt", "updatedAt") values ($1, $2, $3, $4, $5, $6, $7)"#;
        const ACCOUNT: &str = r#"insert into "account" ("id", "accountId", "providerId", "userId", "password", "createdAt", "updatedAt") values ($1, $2, 'credential', $3, $4, $5, $6)"#;
        let account_id = crate::ids::new_id();
        self.timed(async {
            match &self.pool {
                Pool::Sqlite(p) => {
                    let mut tx = p.begin().await?;
                    sqlx::query(USER)
                        .bind(&user.id)
                        .bind(&user.name)
                        .bind(&user.email)
                        .bind(user.email_verified)
                        .bind(&user.image)
                        .bind(iso(user.created_at))
                        .bind(iso(user.updated_at))
                        .execute(&mut *tx)
                        .await?;
                    sqlx::query(ACCOUNT)
                        .bind(&account_id)
                        .bind(&user.id)
                        .bind(&user.id)
                        .bind(password_hash)
                        .bind(iso(user.created_at))
                        .bind(iso(user.updated_at))
                        .execute(&mut *tx)
                        .await?;
                    insert_session_sqlite(&mut *tx, session).await?;
                    tx.commit().await?;
                }
                Pool::Postgres(p) => {
                    let mut tx = p.begin().await?;
                    sqlx::query(USER)
                        .bind(&user.id)
                        .bind(&user.name)
                        .bind(&user.email)
                        .bind(user.email_verified)
                        .bind(&user.image)
                        .bind(user.created_at)
                        .bind(user.updated_at)
                        .execute(&mut *tx)
                        .await?;
                    sqlx::query(ACCOUNT)
                        .bind(&account_id)
                        .bind(&user.id)
                        .bind(&user.id)
                        .bind(password_hash)
                        .bind(user.created_at)
                        .bind(user.updated_at)
                        .execute(&mut *tx)
                        .await?;
                    insert_session_pg(&mut *tx, session).await?;
                    tx.commit().await?;
                }
            }
            Ok(())
        })
        .await
    }

    /// The user with this (lowercased) email and the password hash of its credential account.
    pub async fn user_with_password(
        &self,
        email: &str,
    ) -> Result<Option<(User, Option<String>)>, StoreError> {
        const SQL: &str = concat!(
            "select ",
            user_columns!(),
            r#", a."password" from "user" u left join "account" a on a."userId" = u."id" and a."providerId" = 'credential' where u."email" = $1 limit 1"#
        );
        self.timed(async {
            Ok(match &self.pool {
                Pool::Sqlite(p) => match sqlx::query(SQL).bind(email).fetch_optional(p).await? {
                    Some(row) => Some((user_from(&row, 0)?, row.try_get(7)?)),
                    None => None,
                },
                Pool::Postgres(p) => match sqlx::query(SQL).bind(email).fetch_optional(p).await? {
                    Some(row) => Some((user_from(&row, 0)?, row.try_get(7)?)),
                    None => None,
                },
            })
        })
        .await
    }

    /// Stores a new session.
    pub async fn insert_session(&self, session: &Session) -> Result<(), StoreError> {
        self.timed(async {
            match &self.pool {
                Pool::Sqlite(p) => insert_session_sqlite(p, session).await,
                Pool::Postgres(p) => insert_session_pg(p, session).await,
            }
        })
        .await
    }

    /// The session with this token and its user.
    pub async fn session_with_user(
        &self,
        token: &str,
    ) -> Result<Option<(Session, User)>, StoreError> {
        const SQL: &str = concat!(
            "select ",
            session_columns!(),
            ", ",
            user_columns!(),
            r#" from "session" s join "user" u on u."id" = s."userId" where s."token" = $1"#
        );
        self.timed(async {
            Ok(match &self.pool {
                Pool::Sqlite(p) => match sqlx::query(SQL).bind(token).fetch_optional(p).await? {
                    Some(row) => Some((session_from(&row)?, user_from(&row, 8)?)),
                    None => None,
                },
                Pool::Postgres(p) => match sqlx::query(SQL).bind(token).fetch_optional(p).await? {
                    Some(row) => Some((session_from(&row)?, user_from(&row, 8)?)),
                    None => None,
                },
            })
        })
        .await
    }

    /// Deletes the session with this token (nothing if there is none).
    pub async fn delete_session(&self, token: &str) -> Result<(), StoreError> {
        const SQL: &str = r#"delete from "session" where "token" = $1"#;
        self.timed(async {
            match &self.pool {
                Pool::Sqlite(p) => {
                    sqlx::query(SQL).bind(token).execute(p).await?;
                }
                Pool::Postgres(p) => {
                    sqlx::query(SQL).bind(token).execute(p).await?;
                }
            }
            Ok(())
        })
        .await
    }

    /// Moves a session's expiry (sliding refresh).
    pub async fn refresh_session(
        &self,
        id: &str,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        const SQL: &str =
            r#"update "session" set "expiresAt" = $1, "updatedAt" = $2 where "id" = $3"#;
        self.timed(async {
            match &self.pool {
                Pool::Sqlite(p) => {
                    sqlx::query(SQL)
                        .bind(iso(expires_at))
                        .bind(iso(now))
                        .bind(id)
                        .execute(p)
                        .await?;
                }
                Pool::Postgres(p) => {
                    sqlx::query(SQL)
                        .bind(expires_at)
                        .bind(now)
                        .bind(id)
                        .execute(p)
                        .await?;
                }
            }
            Ok(())
        })
        .await
    }
}

const INSERT_SESSION: &str = r#"insert into "session" ("id", "token", "userId", "expiresAt", "createdAt", "updatedAt", "ipAddress", "userAgent") values ($1, $2, $3, $4, $5, $6, $7, $8)"#;

async fn insert_session_sqlite<'c>(
    executor: impl sqlx::Executor<'c, Database = sqlx::Sqlite>,
    s: &Session,
) -> Result<(), StoreError> {
    sqlx::query(INSERT_SESSION)
        .bind(&s.id)
        .bind(&s.token)
        .bind(&s.user_id)
        .bind(iso(s.expires_at))
        .bind(iso(s.created_at))
        .bind(iso(s.updated_at))
        .bind(&s.ip_address)
        .bind(&s.user_agent)
        .execute(executor)
        .await?;
    Ok(())
}

async fn insert_session_pg<'c>(
    executor: impl sqlx::Executor<'c, Database = sqlx::Postgres>,
    s: &Session,
) -> Result<(), StoreError> {
    sqlx::query(INSERT_SESSION)
        .bind(&s.id)
        .bind(&s.token)
        .bind(&s.user_id)
        .bind(s.expires_at)
        .bind(s.created_at)
        .bind(s.updated_at)
        .bind(&s.ip_address)
        .bind(&s.user_agent)
        .execute(executor)
        .await?;
    Ok(())
}

/// A row of the `jwks` table (Better Auth's columns; `id` is the `kid`).
#[derive(Clone, PartialEq, Eq)]
pub struct KeyRow {
    /// Key id.
    pub id: String,
    /// The public JWK as JSON, without `alg`, `kid` and `use` (as `jose` exports it).
    pub public_key: String,
    /// The envelope (or the plain private JWK when encryption is off).
    pub private_key: String,
    /// When the key was created — for Sigil, when it may start signing.
    pub created_at: DateTime<Utc>,
    /// When it stops signing (rotation); it stays published for the grace period after.
    pub expires_at: Option<DateTime<Utc>>,
    /// Algorithm (null on rows written before Better Auth 1.7).
    pub alg: Option<String>,
    /// Curve, for OKP and EC keys.
    pub crv: Option<String>,
}

impl std::fmt::Debug for KeyRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The private key column is plain JWK text when encryption is off: never print it.
        f.debug_struct("KeyRow")
            .field("id", &self.id)
            .field("alg", &self.alg)
            .field("created_at", &self.created_at)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

macro_rules! key_columns {
    () => {
        r#""id", "publicKey", "privateKey", "createdAt", "expiresAt", "alg", "crv""#
    };
}

fn key_from<R>(row: &R) -> Result<KeyRow, StoreError>
where
    R: RowTimes,
    usize: sqlx::ColumnIndex<R>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    Ok(KeyRow {
        id: row.try_get(0)?,
        public_key: row.try_get(1)?,
        private_key: row.try_get(2)?,
        created_at: row.time(3)?,
        expires_at: row.opt_time(4)?,
        alg: row.try_get(5)?,
        crv: row.try_get(6)?,
    })
}

const INSERT_KEY: &str = concat!(
    r#"insert into "jwks" ("#,
    key_columns!(),
    r#") values ($1, $2, $3, $4, $5, $6, $7)"#
);
const SELECT_KEYS: &str = concat!(
    "select ",
    key_columns!(),
    r#" from "jwks" order by "createdAt", "id""#
);

impl Store {
    /// Every readable key row, oldest first. A row that cannot be read (a time that is not
    /// RFC 3339, a wrong column type) is logged and left out, so that one bad row never stops
    /// the others.
    pub async fn list_keys(&self) -> Result<Vec<KeyRow>, StoreError> {
        fn keep(rows: Vec<Result<KeyRow, StoreError>>) -> Vec<KeyRow> {
            rows.into_iter()
                .filter_map(|r| {
                    r.map_err(|e| tracing::error!(error = %e, "unreadable jwks row left out"))
                        .ok()
                })
                .collect()
        }
        self.timed(async {
            Ok(match &self.pool {
                Pool::Sqlite(p) => keep(
                    sqlx::query(SELECT_KEYS)
                        .fetch_all(p)
                        .await?
                        .iter()
                        .map(key_from)
                        .collect(),
                ),
                Pool::Postgres(p) => keep(
                    sqlx::query(SELECT_KEYS)
                        .fetch_all(p)
                        .await?
                        .iter()
                        .map(key_from)
                        .collect(),
                ),
            })
        })
        .await
    }

    /// A cheap summary of the key table (ids, expiries, ciphertext lengths) that changes whenever
    /// another process adds, rotates, revokes or rewraps a key.
    pub async fn keys_fingerprint(&self) -> Result<String, StoreError> {
        const SQL: &str = r#"select "id", coalesce(cast("expiresAt" as text), ''), length("privateKey") from "jwks" order by "id""#;
        self.timed(async {
            let rows: Vec<(String, String, i64)> = match &self.pool {
                Pool::Sqlite(p) => sqlx::query_as(SQL).fetch_all(p).await?,
                Pool::Postgres(p) => {
                    let rows: Vec<(String, String, i32)> = sqlx::query_as(SQL).fetch_all(p).await?;
                    rows.into_iter()
                        .map(|(a, b, c)| (a, b, i64::from(c)))
                        .collect()
                }
            };
            Ok(rows
                .iter()
                .map(|(id, exp, len)| format!("{id}|{exp}|{len}"))
                .collect::<Vec<_>>()
                .join(";"))
        })
        .await
    }

    /// Inserts `candidate` unless `still_needed(existing rows)` says otherwise, under a lock that
    /// serializes key creation across processes (SQLite: an immediate write transaction;
    /// PostgreSQL: a transaction-scoped advisory lock). With `retire`, the same transaction sets
    /// that key's expiry (a rotation is one change, never half done). Returns whether the row was
    /// inserted.
    pub async fn insert_key_if(
        &self,
        candidate: &KeyRow,
        retire: Option<(&str, DateTime<Utc>)>,
        still_needed: impl Fn(&[KeyRow]) -> bool,
    ) -> Result<bool, StoreError> {
        const EXPIRE: &str = r#"update "jwks" set "expiresAt" = $1 where "id" = $2"#;
        /// Arbitrary constant naming Sigil's key-creation lock.
        const LOCK_ID: i64 = 0x5_1617_0001;
        self.timed(async {
            match &self.pool {
                Pool::Sqlite(p) => {
                    let mut tx = p.begin_with("BEGIN IMMEDIATE").await?;
                    let rows: Vec<KeyRow> = sqlx::query(SELECT_KEYS)
                        .fetch_all(&mut *tx)
                        .await?
                        .iter()
                        .map(key_from)
                        .collect::<Result<_, _>>()?;
                    if !still_needed(&rows) {
                        return Ok(false);
                    }
                    let c = candidate;
                    sqlx::query(INSERT_KEY)
                        .bind(&c.id)
                        .bind(&c.public_key)
                        .bind(&c.private_key)
                        .bind(iso(c.created_at))
                        .bind(c.expires_at.map(iso))
                        .bind(&c.alg)
                        .bind(&c.crv)
                        .execute(&mut *tx)
                        .await?;
                    if let Some((id, at)) = retire {
                        sqlx::query(EXPIRE)
                            .bind(iso(at))
                            .bind(id)
                            .execute(&mut *tx)
                            .await?;
                    }
                    tx.commit().await?;
                    Ok(true)
                }
                Pool::Postgres(p) => {
                    let mut tx = p.begin().await?;
                    sqlx::query("select pg_advisory_xact_lock($1)")
                        .bind(LOCK_ID)
                        .execute(&mut *tx)
                        .await?;
                    let rows: Vec<KeyRow> = sqlx::query(SELECT_KEYS)
                        .fetch_all(&mut *tx)
                        .await?
                        .iter()
                        .map(key_from)
                        .collect::<Result<_, _>>()?;
                    if !still_needed(&rows) {
                        return Ok(false);
                    }
                    let c = candidate;
                    sqlx::query(INSERT_KEY)
                        .bind(&c.id)
                        .bind(&c.public_key)
                        .bind(&c.private_key)
                        .bind(c.created_at)
                        .bind(c.expires_at)
                        .bind(&c.alg)
                        .bind(&c.crv)
                        .execute(&mut *tx)
                        .await?;
                    if let Some((id, at)) = retire {
                        sqlx::query(EXPIRE)
                            .bind(at)
                            .bind(id)
                            .execute(&mut *tx)
                            .await?;
                    }
                    tx.commit().await?;
                    Ok(true)
                }
            }
        })
        .await
    }

    /// Deletes a key row; whether it existed.
    pub async fn delete_key(&self, id: &str) -> Result<bool, StoreError> {
        const SQL: &str = r#"delete from "jwks" where "id" = $1"#;
        self.timed(async {
            let affected = match &self.pool {
                Pool::Sqlite(p) => sqlx::query(SQL).bind(id).execute(p).await?.rows_affected(),
                Pool::Postgres(p) => sqlx::query(SQL).bind(id).execute(p).await?.rows_affected(),
            };
            Ok(affected > 0)
        })
        .await
    }
}

impl Store {
    /// Replaces a key's stored private key (re-encryption under another secret).
    pub async fn set_key_private(&self, id: &str, private_key: &str) -> Result<bool, StoreError> {
        const SQL: &str = r#"update "jwks" set "privateKey" = $1 where "id" = $2"#;
        self.timed(async {
            let affected = match &self.pool {
                Pool::Sqlite(p) => sqlx::query(SQL)
                    .bind(private_key)
                    .bind(id)
                    .execute(p)
                    .await?
                    .rows_affected(),
                Pool::Postgres(p) => sqlx::query(SQL)
                    .bind(private_key)
                    .bind(id)
                    .execute(p)
                    .await?
                    .rows_affected(),
            };
            Ok(affected > 0)
        })
        .await
    }
}

/// Additional user fields (`[[user_fields]]`): columns of the `user` table, as Better Auth's
/// `additionalFields` are. Names are validated by the configuration (letters, digits, `_`), which
/// is what makes the dynamic SQL below safe.
impl Store {
    fn column_type(&self, kind: FieldKind) -> &'static str {
        match (&self.pool, kind) {
            (_, FieldKind::String) => "text",
            (_, FieldKind::Number) => "integer",
            (Pool::Sqlite(_), FieldKind::Boolean) => "integer",
            (Pool::Postgres(_), FieldKind::Boolean) => "boolean",
        }
    }

    /// Adds the columns of declared fields that the `user` table lacks.
    pub async fn ensure_user_fields(&self, fields: &[UserField]) -> Result<(), StoreError> {
        if fields.is_empty() {
            return Ok(());
        }
        self.timed(async {
            let existing: Vec<String> = match &self.pool {
                Pool::Sqlite(p) => sqlx::query_scalar(r#"select name from pragma_table_info('user')"#).fetch_all(p).await?,
                Pool::Postgres(p) => sqlx::query_scalar(
                    "select column_name::text from information_schema.columns where table_name = 'user' and table_schema = current_schema()",
                )
                .fetch_all(p)
                .await?,
            };
            for f in fields.iter().filter(|f| !existing.contains(&f.name)) {
                let kind = self.column_type(f.kind);
                // Two processes may start together: PostgreSQL skips an existing column itself;
                // on SQLite the loser's "duplicate column" is the column it wanted.
                let result = match &self.pool {
                    Pool::Sqlite(p) => {
                        let sql = format!(r#"alter table "user" add column "{}" {kind}"#, f.name);
                        sqlx::query(sqlx::AssertSqlSafe(sql)).execute(p).await.map(|_| ())
                    }
                    Pool::Postgres(p) => {
                        let sql = format!(r#"alter table "user" add column if not exists "{}" {kind}"#, f.name);
                        sqlx::query(sqlx::AssertSqlSafe(sql)).execute(p).await.map(|_| ())
                    }
                };
                match result {
                    Ok(()) => tracing::info!(field = %f.name, "added a user field column"),
                    Err(sqlx::Error::Database(e)) if e.message().contains("duplicate column") => {}
                    Err(e) => return Err(e.into()),
                }
            }
            Ok(())
        })
        .await
    }

    /// The additional fields of a user (declared defaults where the column is null).
    pub async fn user_fields(
        &self,
        user_id: &str,
        fields: &[UserField],
    ) -> Result<serde_json::Map<String, serde_json::Value>, StoreError> {
        if fields.is_empty() {
            return Ok(serde_json::Map::new());
        }
        let columns: Vec<String> = fields.iter().map(|f| format!("\"{}\"", f.name)).collect();
        let sql = format!(
            r#"select {} from "user" where "id" = $1"#,
            columns.join(", ")
        );
        let row = self
            .timed(async {
                Ok(match &self.pool {
                    // The column type of numbers differs: INTEGER (i64) in SQLite, int4 in PostgreSQL.
                    Pool::Sqlite(p) => {
                        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
                            .bind(user_id)
                            .fetch_optional(p)
                            .await?;
                        row.map(|r| field_values(&r, fields, |i| r.try_get::<Option<i64>, _>(i)))
                            .transpose()?
                    }
                    Pool::Postgres(p) => {
                        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
                            .bind(user_id)
                            .fetch_optional(p)
                            .await?;
                        row.map(|r| {
                            field_values(&r, fields, |i| {
                                Ok(r.try_get::<Option<i32>, _>(i)?.map(i64::from))
                            })
                        })
                        .transpose()?
                    }
                })
            })
            .await?;
        Ok(row.unwrap_or_default())
    }

    /// Sets one additional field of the user with this email; whether the user exists.
    pub async fn set_user_field(
        &self,
        email: &str,
        field: &UserField,
        value: &serde_json::Value,
    ) -> Result<bool, StoreError> {
        use serde_json::Value;
        let sql = format!(
            r#"update "user" set "{}" = $1, "updatedAt" = $2 where "email" = $3"#,
            field.name
        );
        let now = Utc::now();
        self.timed(async {
            let affected = match &self.pool {
                Pool::Sqlite(p) => {
                    let q = sqlx::query(sqlx::AssertSqlSafe(sql));
                    let q = match (field.kind, value) {
                        (FieldKind::String, Value::String(s)) => q.bind(Some(s.clone())),
                        (FieldKind::Number, Value::Number(n)) => q.bind(n.as_i64()),
                        (FieldKind::Boolean, Value::Bool(b)) => q.bind(Some(*b)),
                        _ => q.bind(None::<String>),
                    };
                    q.bind(iso(now))
                        .bind(email)
                        .execute(p)
                        .await?
                        .rows_affected()
                }
                Pool::Postgres(p) => {
                    let q = sqlx::query(sqlx::AssertSqlSafe(sql));
                    let q = match (field.kind, value) {
                        (FieldKind::String, v) => q.bind(v.as_str().map(str::to_owned)),
                        (FieldKind::Number, v) => {
                            q.bind(v.as_i64().and_then(|n| i32::try_from(n).ok()))
                        }
                        (FieldKind::Boolean, v) => q.bind(v.as_bool()),
                    };
                    q.bind(now).bind(email).execute(p).await?.rows_affected()
                }
            };
            Ok(affected > 0)
        })
        .await
    }
}

/// The declared user fields of one row, in `fields` order, a field's default where the column is
/// null; `number` reads a numeric column (its SQL type differs per dialect).
fn field_values<R>(
    row: &R,
    fields: &[UserField],
    number: impl Fn(usize) -> Result<Option<i64>, sqlx::Error>,
) -> Result<serde_json::Map<String, serde_json::Value>, sqlx::Error>
where
    R: sqlx::Row,
    usize: sqlx::ColumnIndex<R>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> bool: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    use serde_json::Value;
    let mut out = serde_json::Map::new();
    for (i, f) in fields.iter().enumerate() {
        let v = match f.kind {
            FieldKind::String => row.try_get::<Option<String>, _>(i)?.map(Value::String),
            FieldKind::Number => number(i)?.map(Value::from),
            FieldKind::Boolean => row.try_get::<Option<bool>, _>(i)?.map(Value::Bool),
        };
        out.insert(f.name.clone(), v.unwrap_or_else(|| f.default.clone()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn sqlite_file_in_a_missing_directory() {
        let dir =
            std::env::temp_dir().join(format!("sigil-store-{}", crate::ids::random_string(8)));
        let url = format!("sqlite://{}", dir.join("nested/sigil.db").display());
        let store = Store::connect(&url, Duration::from_secs(2)).unwrap();
        store.migrate().await.unwrap();
        assert!(store.list_keys().await.unwrap().is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
