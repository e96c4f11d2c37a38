//! Additional user fields (`[[user_fields]]`): columns of the `user` table, as Better Auth's
//! `additionalFields` are. Names are validated by the configuration (letters, digits, `_`), which
//! is what makes the dynamic SQL here safe.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use sqlx::AssertSqlSafe;

use super::dialect::{Dialect, ReadRow, Timestamp};
use super::{Store, StoreError, on_pool};
use crate::changes::Change;
use crate::user_fields::{FieldKind, UserField};

/// The SQL type of a field's column in dialect `DB`.
fn column_type<DB: Dialect>(kind: FieldKind) -> &'static str {
    match kind {
        FieldKind::String => "text",
        FieldKind::Number => "integer",
        FieldKind::Boolean => DB::BOOLEAN_COLUMN,
    }
}

/// The declared user fields of one row, in `fields` order, a field's default where the column is
/// null.
fn field_values(
    row: &impl ReadRow,
    fields: &[UserField],
) -> Result<Map<String, Value>, sqlx::Error> {
    let mut out = Map::new();
    for (i, f) in fields.iter().enumerate() {
        let v = match f.kind {
            FieldKind::String => row.opt_text(i)?.map(Value::String),
            FieldKind::Number => row.opt_int(i)?.map(Value::from),
            FieldKind::Boolean => row.opt_flag(i)?.map(Value::Bool),
        };
        out.insert(f.name.clone(), v.unwrap_or_else(|| f.default.clone()));
    }
    Ok(out)
}

impl Store {
    /// Adds the columns of declared fields that the `user` table lacks.
    pub(crate) async fn ensure_user_fields(&self, fields: &[UserField]) -> Result<(), StoreError> {
        if fields.is_empty() {
            return Ok(());
        }
        self.timed(async {
            on_pool!(self, |pool, Db| {
                let existing: Vec<String> =
                    sqlx::query_scalar(Db::USER_COLUMNS).fetch_all(pool).await?;
                for f in fields.iter().filter(|f| !existing.contains(&f.name)) {
                    let sql = format!(
                        r#"{} "{}" {}"#,
                        Db::ADD_USER_COLUMN,
                        f.name,
                        column_type::<Db>(f.kind)
                    );
                    // Two processes may start together: on SQLite the loser's "duplicate
                    // column" is the column it wanted (PostgreSQL skips it by itself).
                    match sqlx::query(AssertSqlSafe(sql)).execute(pool).await {
                        Ok(_) => tracing::info!(field = %f.name, "added a user field column"),
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

    /// The additional fields of a user (declared defaults where the column is null).
    pub(crate) async fn user_fields(
        &self,
        user_id: &str,
        fields: &[UserField],
    ) -> Result<Map<String, Value>, StoreError> {
        if fields.is_empty() {
            return Ok(Map::new());
        }
        let columns: Vec<String> = fields.iter().map(|f| format!("\"{}\"", f.name)).collect();
        let sql = format!(
            r#"select {} from "user" where "id" = $1"#,
            columns.join(", ")
        );
        let values = self
            .timed(async {
                Ok(on_pool!(self, |pool| {
                    let row = sqlx::query(AssertSqlSafe(sql))
                        .bind(user_id)
                        .fetch_optional(pool)
                        .await?;
                    row.map(|r| field_values(&r, fields)).transpose()?
                }))
            })
            .await?;
        Ok(values.unwrap_or_default())
    }

    /// Sets one additional field of the user with this email, stamps the user updated at `now`
    /// and announces the change to the other processes (one transaction); whether the user
    /// exists. A value of
    /// another type than the field's (or a number the column cannot hold) clears the field.
    pub async fn set_user_field(
        &self,
        email: &str,
        field: &UserField,
        value: &Value,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let sql = format!(
            r#"update "user" set "{}" = $1, "updatedAt" = $2 where "email" = $3 returning "id""#,
            field.name
        );
        self.timed(async {
            Ok(on_pool!(self, |pool, Db| {
                let mut tx = pool.begin().await?;
                let query = sqlx::query_scalar(AssertSqlSafe(sql));
                let query = match field.kind {
                    FieldKind::String => query.bind(value.as_str()),
                    FieldKind::Number => query.bind(
                        value
                            .as_i64()
                            .and_then(|n| <Db as Dialect>::Int::try_from(n).ok()),
                    ),
                    FieldKind::Boolean => query.bind(value.as_bool()),
                };
                let ids: Vec<String> = query
                    .bind(Timestamp(now))
                    .bind(email)
                    .fetch_all(&mut *tx)
                    .await?;
                for id in &ids {
                    Db::announce(&mut tx, &Change::UserChanged(id.clone())).await?;
                }
                tx.commit().await?;
                !ids.is_empty()
            }))
        })
        .await
    }
}
