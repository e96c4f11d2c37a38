//! The rows of the `user` and `session` tables and how they are read and written, shared by
//! `users` (sign-up writes a user and its first session in one transaction) and `sessions` (a
//! session is read with its user), which therefore do not depend on each other.

use chrono::{DateTime, Utc};
use sqlx::query::Query;
use sqlx::{Database, Encode, Type};

use super::dialect::{ReadRow, Timestamp};

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

/// The columns [`user_from`] reads, for `select` lists that alias the `user` table as `u`.
macro_rules! user_columns {
    () => {
        r#"u."id", u."name", u."email", u."emailVerified", u."image", u."createdAt", u."updatedAt""#
    };
}
pub(super) use user_columns;

/// The user in the [`user_columns!`] of a row, starting at column `at`.
pub(super) fn user_from(row: &impl ReadRow, at: usize) -> Result<User, sqlx::Error> {
    Ok(User {
        id: row.text(at)?,
        name: row.text(at + 1)?,
        email: row.text(at + 2)?,
        email_verified: row.flag(at + 3)?,
        image: row.opt_text(at + 4)?,
        created_at: row.time(at + 5)?,
        updated_at: row.time(at + 6)?,
    })
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

/// The columns [`session_from`] reads, for `select` lists that alias the `session` table as `s`.
macro_rules! session_columns {
    () => {
        r#"s."id", s."token", s."userId", s."expiresAt", s."createdAt", s."updatedAt", s."ipAddress", s."userAgent""#
    };
}
pub(super) use session_columns;

/// The session in the first [`session_columns!`] of a row.
pub(super) fn session_from(row: &impl ReadRow) -> Result<Session, sqlx::Error> {
    Ok(Session {
        id: row.text(0)?,
        token: row.text(1)?,
        user_id: row.text(2)?,
        expires_at: row.time(3)?,
        created_at: row.time(4)?,
        updated_at: row.time(5)?,
        ip_address: row.opt_text(6)?,
        user_agent: row.opt_text(7)?,
    })
}

/// The statement inserting `s`, for a pool or a transaction of either dialect (sign-up inserts
/// the first session in the transaction that creates the user).
pub(super) fn session_insert<DB>(s: &Session) -> Query<'_, DB, DB::Arguments>
where
    DB: Database,
    for<'q> String: Encode<'q, DB> + Type<DB>,
    for<'q> Option<String>: Encode<'q, DB>,
    for<'q> Timestamp: Encode<'q, DB> + Type<DB>,
{
    const SQL: &str = r#"insert into "session" ("id", "token", "userId", "expiresAt", "createdAt", "updatedAt", "ipAddress", "userAgent") values ($1, $2, $3, $4, $5, $6, $7, $8)"#;
    sqlx::query(SQL)
        .bind(&s.id)
        .bind(&s.token)
        .bind(&s.user_id)
        .bind(Timestamp(s.expires_at))
        .bind(Timestamp(s.created_at))
        .bind(Timestamp(s.updated_at))
        .bind(&s.ip_address)
        .bind(&s.user_agent)
}
