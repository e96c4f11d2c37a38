//! The `jwks` table: signing keys, shared with Better Auth's JWT plugin and with every Sigil
//! process on the database.

use chrono::{DateTime, Utc};

use super::dialect::{Dialect, ReadRow, Timestamp};
use super::{Store, StoreError, on_pool};
use crate::changes::Change;

/// A row of the `jwks` table (Better Auth's columns; `id` is the `kid`).
#[derive(Clone, PartialEq, Eq)]
pub struct KeyRow {
    /// Key id.
    pub id: String,
    /// The public JWK as JSON, without `alg`, `kid` and `use` (as `jose` exports it).
    pub public_key: String,
    /// The envelope (or the plain private JWK when encryption is off).
    pub private_key: String,
    /// When the key was created, and its place in the signing order: among the started
    /// (`createdAt` ≤ now), unexpired keys of the signing algorithm, the newest signs. A
    /// successor is written just older than the key it follows (see `keys::succession`).
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

/// The columns of a key row, in [`key_from`]'s order.
macro_rules! key_columns {
    () => {
        r#""id", "publicKey", "privateKey", "createdAt", "expiresAt", "alg", "crv""#
    };
}

/// Every key row, oldest first.
const SELECT_KEYS: &str = concat!(
    "select ",
    key_columns!(),
    r#" from "jwks" order by "createdAt", "id""#
);

/// A key row read from [`key_columns!`].
pub(super) fn key_from(row: &impl ReadRow) -> Result<KeyRow, sqlx::Error> {
    Ok(KeyRow {
        id: row.text(0)?,
        public_key: row.text(1)?,
        private_key: row.text(2)?,
        created_at: row.time(3)?,
        expires_at: row.opt_time(4)?,
        alg: row.opt_text(5)?,
        crv: row.opt_text(6)?,
    })
}

/// Sets one key's expiry.
const SET_EXPIRY: &str = r#"update "jwks" set "expiresAt" = $1 where "id" = $2"#;
/// Deletes one key.
const DELETE_KEY: &str = r#"delete from "jwks" where "id" = $1"#;
/// Moves one key's `createdAt` (its place in the signing order).
const SET_CREATED: &str = r#"update "jwks" set "createdAt" = $1 where "id" = $2"#;

/// The rows that could be read; one that cannot (a time that is not RFC 3339, a wrong column
/// type) is logged and left out, so that one bad row never stops the others.
fn readable(rows: impl Iterator<Item = Result<KeyRow, sqlx::Error>>) -> Vec<KeyRow> {
    rows.filter_map(|row| {
        row.map_err(|e| {
            let e = StoreError::from(e);
            tracing::error!(error = %crate::report::Chain(&e), "unreadable jwks row left out");
        })
        .ok()
    })
    .collect()
}

/// Keys whose expiry changes, and to what.
pub type ExpiryChanges = Vec<(String, Option<DateTime<Utc>>)>;

/// Where a new key goes in the table, decided under the key lock: see [`Store::insert_key_if`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Placement {
    /// The new key's `createdAt`: its place in the signing order.
    pub created_at: DateTime<Utc>,
    /// The new key's expiry.
    pub expires_at: Option<DateTime<Utc>>,
    /// Other keys whose expiry changes with it (a rotation ends the keys it replaces).
    pub expire: ExpiryChanges,
    /// Other keys whose `createdAt` moves with it (a successor kept waiting behind it).
    pub moves: Vec<(String, DateTime<Utc>)>,
}

impl Placement {
    /// The row's own times, nothing else changed.
    pub fn as_is(row: &KeyRow) -> Placement {
        Placement {
            created_at: row.created_at,
            expires_at: row.expires_at,
            expire: Vec::new(),
            moves: Vec::new(),
        }
    }
}

impl Store {
    /// Every readable key row, oldest first. A row that cannot be read (a time that is not
    /// RFC 3339, a wrong column type) is logged and left out, so that one bad row never stops
    /// the others.
    pub(crate) async fn list_keys(&self) -> Result<Vec<KeyRow>, StoreError> {
        self.timed(async {
            Ok(on_pool!(self, |pool| {
                readable(
                    sqlx::query(SELECT_KEYS)
                        .fetch_all(pool)
                        .await?
                        .iter()
                        .map(key_from),
                )
            }))
        })
        .await
    }

    /// A cheap summary of the key table (ids, starts, expiries, ciphertext lengths) that changes
    /// whenever another process adds, rotates, revokes, rewraps or brings forward a key.
    pub(crate) async fn keys_fingerprint(&self) -> Result<String, StoreError> {
        const SQL: &str = r#"select "id", cast("createdAt" as text) || '|' || coalesce(cast("expiresAt" as text), ''), length("privateKey") from "jwks" order by "id""#;
        self.timed(async {
            let rows: Vec<String> = on_pool!(self, |pool, Db| {
                sqlx::query_as::<_, (String, String, <Db as Dialect>::Int)>(SQL)
                    .fetch_all(pool)
                    .await?
                    .iter()
                    .map(|(id, expires, length)| format!("{id}|{expires}|{length}"))
                    .collect()
            });
            Ok(rows.join(";"))
        })
        .await
    }

    /// Inserts `candidate` where `place(existing rows)` puts it — its `createdAt`, its expiry, and
    /// the other keys whose expiry changes with it — or not at all when `place` says `None`,
    /// under a lock that serializes key changes across processes (SQLite: an immediate write
    /// transaction; PostgreSQL: a transaction-scoped advisory lock): a rotation is decided on the
    /// rows as they are and written as one change, never half done. Whether the row was inserted.
    pub async fn insert_key_if(
        &self,
        candidate: &KeyRow,
        place: impl Fn(&[KeyRow]) -> Option<Placement>,
    ) -> Result<bool, StoreError> {
        const INSERT: &str = concat!(
            r#"insert into "jwks" ("#,
            key_columns!(),
            r#") values ($1, $2, $3, $4, $5, $6, $7)"#
        );
        self.timed(async {
            on_pool!(self, |pool, Db| {
                let mut tx = Db::begin_serialized(pool).await?;
                let rows = readable(
                    sqlx::query(SELECT_KEYS)
                        .fetch_all(&mut *tx)
                        .await?
                        .iter()
                        .map(key_from),
                );
                let Some(placement) = place(&rows) else {
                    return Ok(false);
                };
                let c = candidate;
                sqlx::query(INSERT)
                    .bind(&c.id)
                    .bind(&c.public_key)
                    .bind(&c.private_key)
                    .bind(Timestamp(placement.created_at))
                    .bind(placement.expires_at.map(Timestamp))
                    .bind(&c.alg)
                    .bind(&c.crv)
                    .execute(&mut *tx)
                    .await?;
                for (id, at) in &placement.expire {
                    sqlx::query(SET_EXPIRY)
                        .bind(at.map(Timestamp))
                        .bind(id)
                        .execute(&mut *tx)
                        .await?;
                }
                for (id, at) in &placement.moves {
                    sqlx::query(SET_CREATED)
                        .bind(Timestamp(*at))
                        .bind(id)
                        .execute(&mut *tx)
                        .await?;
                }
                Db::announce(&mut tx, &Change::Keys).await?;
                tx.commit().await?;
                Ok(true)
            })
        })
        .await
    }

    /// Under the key lock (see [`Store::insert_key_if`]): deletes a key row and sets the expiry
    /// of the keys `adjust(existing rows)` names, in one change. Whether the row existed.
    pub(crate) async fn delete_key_adjusting(
        &self,
        id: &str,
        adjust: impl Fn(&[KeyRow]) -> ExpiryChanges,
    ) -> Result<bool, StoreError> {
        self.timed(async {
            on_pool!(self, |pool, Db| {
                let mut tx = Db::begin_serialized(pool).await?;
                let rows = readable(
                    sqlx::query(SELECT_KEYS)
                        .fetch_all(&mut *tx)
                        .await?
                        .iter()
                        .map(key_from),
                );
                let changes = adjust(&rows);
                let deleted = sqlx::query(DELETE_KEY)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected()
                    > 0;
                if !deleted {
                    return Ok(false);
                }
                for (other, at) in &changes {
                    sqlx::query(SET_EXPIRY)
                        .bind(at.map(Timestamp))
                        .bind(other)
                        .execute(&mut *tx)
                        .await?;
                }
                Db::announce(&mut tx, &Change::Keys).await?;
                tx.commit().await?;
                Ok(true)
            })
        })
        .await
    }

    /// Deletes the key rows `choose(existing rows)` names, in one change; the ids deleted.
    pub(crate) async fn delete_keys_where(
        &self,
        choose: impl Fn(&KeyRow) -> bool,
    ) -> Result<Vec<String>, StoreError> {
        self.timed(async {
            on_pool!(self, |pool, Db| {
                let mut tx = Db::begin_serialized(pool).await?;
                let rows = readable(
                    sqlx::query(SELECT_KEYS)
                        .fetch_all(&mut *tx)
                        .await?
                        .iter()
                        .map(key_from),
                );
                let mut deleted = Vec::new();
                for row in rows.iter().filter(|r| choose(r)) {
                    if sqlx::query(DELETE_KEY)
                        .bind(&row.id)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected()
                        > 0
                    {
                        deleted.push(row.id.clone());
                    }
                }
                if !deleted.is_empty() {
                    Db::announce(&mut tx, &Change::Keys).await?;
                }
                tx.commit().await?;
                Ok(deleted)
            })
        })
        .await
    }

    /// Replaces a key's stored private key (re-encryption under another secret).
    pub(crate) async fn set_key_private(
        &self,
        id: &str,
        private_key: &str,
    ) -> Result<bool, StoreError> {
        const SQL: &str = r#"update "jwks" set "privateKey" = $1 where "id" = $2"#;
        self.change_keys(SQL, &[private_key, id]).await
    }

    /// Under the key-creation lock (see [`Store::insert_key_if`]): `choose(rows)` names a key
    /// whose start moves to `at` (a successor brought forward when nothing may sign), or none.
    /// Announced with the change; the id moved, if any.
    pub(crate) async fn start_key_if(
        &self,
        at: DateTime<Utc>,
        choose: impl Fn(&[KeyRow]) -> Option<String>,
    ) -> Result<Option<String>, StoreError> {
        const START: &str = r#"update "jwks" set "createdAt" = $1 where "id" = $2"#;
        self.timed(async {
            on_pool!(self, |pool, Db| {
                let mut tx = Db::begin_serialized(pool).await?;
                let rows = readable(
                    sqlx::query(SELECT_KEYS)
                        .fetch_all(&mut *tx)
                        .await?
                        .iter()
                        .map(key_from),
                );
                let Some(id) = choose(&rows) else {
                    return Ok(None);
                };
                sqlx::query(START)
                    .bind(Timestamp(at))
                    .bind(&id)
                    .execute(&mut *tx)
                    .await?;
                Db::announce(&mut tx, &Change::Keys).await?;
                tx.commit().await?;
                Ok(Some(id))
            })
        })
        .await
    }

    /// Runs one statement on the key table with text parameters and, when it changed a row,
    /// announces it in the same transaction; whether it changed one.
    async fn change_keys(&self, sql: &'static str, params: &[&str]) -> Result<bool, StoreError> {
        self.timed(async {
            Ok(on_pool!(self, |pool, Db| {
                let mut tx = pool.begin().await?;
                let mut query = sqlx::query(sql);
                for param in params {
                    query = query.bind(*param);
                }
                let changed = query.execute(&mut *tx).await?.rows_affected() > 0;
                if changed {
                    Db::announce(&mut tx, &Change::Keys).await?;
                }
                tx.commit().await?;
                changed
            }))
        })
        .await
    }
}
