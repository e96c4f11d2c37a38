//! The `session` table: sessions by token, with their user.

use chrono::{DateTime, Utc};

use super::dialect::{Dialect, Timestamp};
use super::rows::{
    Session, User, session_columns, session_from, session_insert, user_columns, user_from,
};
use super::{Store, StoreError, execute, on_pool};
use crate::changes::{Change, TokenHash};

impl Store {
    /// Stores a new session.
    pub(crate) async fn insert_session(&self, session: &Session) -> Result<(), StoreError> {
        self.timed(async {
            on_pool!(self, |pool| {
                session_insert(session).execute(pool).await?;
            });
            Ok(())
        })
        .await
    }

    /// The session with this token and its user.
    pub(crate) async fn session_with_user(
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
            Ok(on_pool!(self, |pool| {
                match sqlx::query(SQL).bind(token).fetch_optional(pool).await? {
                    Some(row) => Some((session_from(&row)?, user_from(&row, 8)?)),
                    None => None,
                }
            }))
        })
        .await
    }

    /// Deletes the session with this token (nothing if there is none) and announces it to the
    /// other processes, in one transaction; whether there was one.
    pub(crate) async fn delete_session(&self, token: &str) -> Result<bool, StoreError> {
        const SQL: &str = r#"delete from "session" where "token" = $1"#;
        self.timed(async {
            on_pool!(self, |pool, Db| {
                let mut tx = pool.begin().await?;
                let deleted = sqlx::query(SQL)
                    .bind(token)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if deleted > 0 {
                    let change = Change::SessionEnded(TokenHash::of(token));
                    Db::announce(&mut tx, &change).await?;
                }
                tx.commit().await?;
                Ok(deleted > 0)
            })
        })
        .await
    }

    /// Moves a session's expiry (sliding refresh). Returns whether the session still existed.
    pub(crate) async fn refresh_session(
        &self,
        id: &str,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        const SQL: &str =
            r#"update "session" set "expiresAt" = $1, "updatedAt" = $2 where "id" = $3"#;
        let updated = execute!(self, SQL, Timestamp(expires_at), Timestamp(now), id).await?;
        Ok(updated > 0)
    }
}
