//! The `user` table and its credential `account` rows: sign-up and the lookup of sign-in.

use super::dialect::{ReadRow, Timestamp};
use super::rows::{Session, User, session_insert, user_columns, user_from};
use super::{Store, StoreError, on_pool};

/// Whether a write was refused by a unique constraint.
fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.is_unique_violation())
}

impl Store {
    /// Creates a user with a credential account (the password hash) and a first session, in one
    /// transaction. An existing email gives [`StoreError::EmailTaken`]; any other unique conflict
    /// (an id or a session token in use) is a [`StoreError::Conflict`].
    pub(crate) async fn create_user(
        &self,
        user: &User,
        password_hash: &str,
        session: &Session,
    ) -> Result<(), StoreError> {
        const USER: &str = r#"insert into "user" ("id", "name", "email", "emailVerified", "image", "createdAt", "updatedAt") values ($1, $2, $3, $4, $5, $6, $7)"#;
        const ACCOUNT: &str = r#"insert into "account" ("id", "accountId", "providerId", "userId", "password", "createdAt", "updatedAt") values ($1, $2, 'credential', $3, $4, $5, $6)"#;
        const EMAIL_EXISTS: &str = r#"select count(*) > 0 from "user" where "email" = $1"#;
        let account_id = crate::ids::new_id();
        self.timed(async {
            on_pool!(self, |pool| {
                let mut tx = pool.begin().await?;
                let inserted = sqlx::query(USER)
                    .bind(&user.id)
                    .bind(&user.name)
                    .bind(&user.email)
                    .bind(user.email_verified)
                    .bind(&user.image)
                    .bind(Timestamp(user.created_at))
                    .bind(Timestamp(user.updated_at))
                    .execute(&mut *tx)
                    .await;
                if let Err(e) = inserted {
                    // The user row is unique by id and by email. Which constraint refused it is
                    // named differently by each dialect and by each tool that created the table,
                    // so ask instead whether the email is now in use, outside this transaction
                    // (a concurrent sign-up with the same email has committed by then).
                    tx.rollback().await?;
                    if is_unique_violation(&e) {
                        let taken: bool = sqlx::query_scalar(EMAIL_EXISTS)
                            .bind(&user.email)
                            .fetch_one(pool)
                            .await?;
                        if taken {
                            return Err(StoreError::EmailTaken);
                        }
                    }
                    return Err(e.into());
                }
                sqlx::query(ACCOUNT)
                    .bind(&account_id)
                    .bind(&user.id)
                    .bind(&user.id)
                    .bind(password_hash)
                    .bind(Timestamp(user.created_at))
                    .bind(Timestamp(user.updated_at))
                    .execute(&mut *tx)
                    .await?;
                session_insert(session).execute(&mut *tx).await?;
                tx.commit().await?;
            });
            Ok(())
        })
        .await
    }

    /// The user with this (lowercased) email and the password hash of its credential account.
    pub(crate) async fn user_with_password(
        &self,
        email: &str,
    ) -> Result<Option<(User, Option<String>)>, StoreError> {
        const SQL: &str = concat!(
            "select ",
            user_columns!(),
            r#", a."password" from "user" u left join "account" a on a."userId" = u."id" and a."providerId" = 'credential' where u."email" = $1 limit 1"#
        );
        self.timed(async {
            Ok(on_pool!(self, |pool| {
                match sqlx::query(SQL).bind(email).fetch_optional(pool).await? {
                    Some(row) => Some((user_from(&row, 0)?, row.opt_text(7)?)),
                    None => None,
                }
            }))
        })
        .await
    }
}
