//! What differs between SQLite and PostgreSQL beyond the text of a statement: how a time is
//! stored ([`Timestamp`]), the width of an integer column, and the few statements that have no
//! common form ([`Dialect`]). Row mappers read columns through [`ReadRow`], so that they too are
//! written once.

use chrono::{DateTime, Utc};
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::migrate::Migrator;
use sqlx::postgres::PgValueRef;
use sqlx::sqlite::SqliteValueRef;
use sqlx::{ColumnIndex, Database, Decode, Encode, Postgres, Row, Sqlite, Transaction, Type};

use crate::changes::{CHANNEL, Change};
use crate::time::{iso, parse_iso};

/// A point in time as Better Auth stores it: ISO-8601 text with milliseconds (`Date.toJSON`) on
/// SQLite, `timestamptz` on PostgreSQL. Bind and read times through it, never as
/// `DateTime<Utc>`: sqlx's own SQLite encoding of `DateTime` is a different text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Timestamp(pub(crate) DateTime<Utc>);

impl Type<Sqlite> for Timestamp {
    fn type_info() -> <Sqlite as Database>::TypeInfo {
        <str as Type<Sqlite>>::type_info()
    }

    fn compatible(ty: &<Sqlite as Database>::TypeInfo) -> bool {
        <str as Type<Sqlite>>::compatible(ty)
    }
}

impl Encode<'_, Sqlite> for Timestamp {
    fn encode_by_ref(
        &self,
        buf: &mut <Sqlite as Database>::ArgumentBuffer,
    ) -> Result<IsNull, BoxDynError> {
        Encode::<Sqlite>::encode(iso(self.0), buf)
    }
}

impl<'r> Decode<'r, Sqlite> for Timestamp {
    fn decode(value: SqliteValueRef<'r>) -> Result<Self, BoxDynError> {
        let text = <&str as Decode<Sqlite>>::decode(value)?;
        parse_iso(text)
            .map(Timestamp)
            .map_err(|e| format!("time {text:?}: {e}").into())
    }
}

impl Type<Postgres> for Timestamp {
    fn type_info() -> <Postgres as Database>::TypeInfo {
        <DateTime<Utc> as Type<Postgres>>::type_info()
    }

    fn compatible(ty: &<Postgres as Database>::TypeInfo) -> bool {
        <DateTime<Utc> as Type<Postgres>>::compatible(ty)
    }
}

impl Encode<'_, Postgres> for Timestamp {
    fn encode_by_ref(
        &self,
        buf: &mut <Postgres as Database>::ArgumentBuffer,
    ) -> Result<IsNull, BoxDynError> {
        Encode::<Postgres>::encode_by_ref(&self.0, buf)
    }
}

impl<'r> Decode<'r, Postgres> for Timestamp {
    fn decode(value: PgValueRef<'r>) -> Result<Self, BoxDynError> {
        <DateTime<Utc> as Decode<Postgres>>::decode(value).map(Timestamp)
    }
}

/// Names Sigil's key-creation lock among PostgreSQL advisory locks (an arbitrary constant).
const KEY_LOCK: i64 = 0x5_1617_0001;

/// A database Sigil stores into, with what cannot be said the same way on both. The statements
/// here differ in their SQL itself, which is why they are per dialect.
pub(crate) trait Dialect: Database {
    /// The Rust type of an `integer` column (a `number` user field, `length()`): INTEGER is 64
    /// bits on SQLite, `integer` (int4) is 32 bits on PostgreSQL.
    type Int: for<'r> Decode<'r, Self>
        + for<'q> Encode<'q, Self>
        + Type<Self>
        + Into<i64>
        + TryFrom<i64>
        + Send
        + Sync
        + 'static;

    /// The column type of a boolean user field (SQLite has no boolean: Better Auth uses 0/1).
    const BOOLEAN_COLUMN: &'static str;

    /// Lists the column names of the `user` table (a pragma on SQLite, the information schema on
    /// PostgreSQL).
    const USER_COLUMNS: &'static str;

    /// Starts adding a column to the `user` table. PostgreSQL skips a column that another process
    /// has just added (`if not exists`); SQLite has no such clause, and its "duplicate column"
    /// error is tolerated instead.
    const ADD_USER_COLUMN: &'static str;

    /// Lists the column names of the table named by the one parameter.
    const COLUMN_NAMES: &'static str;

    /// Lists the columns of the table named by the one parameter: name, `NOT NULL`, and whether
    /// an insert leaving it out still gets a value (a default, an identity or generated column,
    /// SQLite's integer primary key).
    const TABLE_COLUMNS: &'static str;

    /// Lists the base tables of the schema in use (not the database's own).
    const TABLES: &'static str;

    /// Begins a transaction that only reads, on one snapshot.
    const BEGIN_READ_ONLY: &'static str;

    /// Adds a nullable text column to the `jwks` table: `{ADD_KEY_COLUMN} "alg" text`. As with
    /// [`Dialect::ADD_USER_COLUMN`], PostgreSQL skips an existing column by itself.
    const ADD_KEY_COLUMN: &'static str;

    /// The migrations creating Better Auth's tables with this dialect's column types.
    fn migrator() -> &'static Migrator;

    /// Announces a change to the other processes on the database, from within the transaction
    /// that makes it: delivered when it commits, never without it (PostgreSQL `NOTIFY`; nothing
    /// on SQLite, which one process serves).
    fn announce(
        tx: &mut Transaction<'_, Self>,
        change: &Change,
    ) -> impl Future<Output = Result<(), sqlx::Error>> + Send;

    /// Begins a transaction that one process at a time holds: SQLite takes the write lock at once
    /// (`BEGIN IMMEDIATE`); PostgreSQL takes a transaction-scoped advisory lock.
    fn begin_serialized(
        pool: &sqlx::Pool<Self>,
    ) -> impl Future<Output = Result<Transaction<'static, Self>, sqlx::Error>> + Send;
}

impl Dialect for Sqlite {
    type Int = i64;
    const BOOLEAN_COLUMN: &'static str = "integer";
    const USER_COLUMNS: &'static str = "select name from pragma_table_info('user')";
    const ADD_USER_COLUMN: &'static str = r#"alter table "user" add column"#;
    const COLUMN_NAMES: &'static str = "select name from pragma_table_info($1)";
    const TABLE_COLUMNS: &'static str = r#"select name, "notnull" <> 0, dflt_value is not null or (pk > 0 and upper(type) = 'INTEGER') from pragma_table_info($1)"#;
    const TABLES: &'static str = "select name from sqlite_master where type = 'table' and name not like 'sqlite\\_%' escape '\\'";
    const BEGIN_READ_ONLY: &'static str = "BEGIN";
    const ADD_KEY_COLUMN: &'static str = r#"alter table "jwks" add column"#;

    fn migrator() -> &'static Migrator {
        static MIGRATOR: Migrator = sqlx::migrate!("./migrations/sqlite");
        &MIGRATOR
    }

    async fn announce(_: &mut Transaction<'_, Self>, _: &Change) -> Result<(), sqlx::Error> {
        Ok(())
    }

    async fn begin_serialized(
        pool: &sqlx::Pool<Self>,
    ) -> Result<Transaction<'static, Self>, sqlx::Error> {
        pool.begin_with("BEGIN IMMEDIATE").await
    }
}

impl Dialect for Postgres {
    type Int = i32;
    const BOOLEAN_COLUMN: &'static str = "boolean";
    const USER_COLUMNS: &'static str = "select column_name::text from information_schema.columns where table_name = 'user' and table_schema = current_schema()";
    const ADD_USER_COLUMN: &'static str = r#"alter table "user" add column if not exists"#;
    const COLUMN_NAMES: &'static str = "select column_name::text from information_schema.columns where table_name = $1 and table_schema = current_schema()";
    const TABLE_COLUMNS: &'static str = "select column_name::text, is_nullable = 'NO', column_default is not null or is_identity = 'YES' or is_generated <> 'NEVER' from information_schema.columns where table_name = $1 and table_schema = current_schema()";
    const TABLES: &'static str = "select table_name::text from information_schema.tables where table_schema = current_schema() and table_type = 'BASE TABLE'";
    const BEGIN_READ_ONLY: &'static str =
        "begin transaction isolation level repeatable read, read only";
    const ADD_KEY_COLUMN: &'static str = r#"alter table "jwks" add column if not exists"#;

    fn migrator() -> &'static Migrator {
        static MIGRATOR: Migrator = sqlx::migrate!("./migrations/postgres");
        &MIGRATOR
    }

    async fn announce(tx: &mut Transaction<'_, Self>, change: &Change) -> Result<(), sqlx::Error> {
        sqlx::query("select pg_notify($1, $2)")
            .bind(CHANNEL)
            .bind(change.payload())
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    async fn begin_serialized(
        pool: &sqlx::Pool<Self>,
    ) -> Result<Transaction<'static, Self>, sqlx::Error> {
        let mut tx = pool.begin().await?;
        sqlx::query("select pg_advisory_xact_lock($1)")
            .bind(KEY_LOCK)
            .execute(&mut *tx)
            .await?;
        Ok(tx)
    }
}

/// Reads the column types Sigil stores, the same way on every [`Dialect`]: row mappers take
/// `&impl ReadRow` and are written once for both.
pub(crate) trait ReadRow {
    /// A non-null text column.
    fn text(&self, i: usize) -> Result<String, sqlx::Error>;
    /// A nullable text column.
    fn opt_text(&self, i: usize) -> Result<Option<String>, sqlx::Error>;
    /// A non-null boolean column (0/1 on SQLite).
    fn flag(&self, i: usize) -> Result<bool, sqlx::Error>;
    /// A nullable boolean column.
    fn opt_flag(&self, i: usize) -> Result<Option<bool>, sqlx::Error>;
    /// A nullable integer column, widened to 64 bits.
    fn opt_int(&self, i: usize) -> Result<Option<i64>, sqlx::Error>;
    /// A non-null time column.
    fn time(&self, i: usize) -> Result<DateTime<Utc>, sqlx::Error>;
    /// A nullable time column.
    fn opt_time(&self, i: usize) -> Result<Option<DateTime<Utc>>, sqlx::Error>;
}

impl<R> ReadRow for R
where
    R: Row,
    R::Database: Dialect,
    usize: ColumnIndex<R>,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> bool: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> Timestamp: Decode<'r, R::Database> + Type<R::Database>,
{
    fn text(&self, i: usize) -> Result<String, sqlx::Error> {
        self.try_get(i)
    }
    fn opt_text(&self, i: usize) -> Result<Option<String>, sqlx::Error> {
        self.try_get(i)
    }
    fn flag(&self, i: usize) -> Result<bool, sqlx::Error> {
        self.try_get(i)
    }
    fn opt_flag(&self, i: usize) -> Result<Option<bool>, sqlx::Error> {
        self.try_get(i)
    }
    fn opt_int(&self, i: usize) -> Result<Option<i64>, sqlx::Error> {
        let n: Option<<R::Database as Dialect>::Int> = self.try_get(i)?;
        Ok(n.map(Into::into))
    }
    fn time(&self, i: usize) -> Result<DateTime<Utc>, sqlx::Error> {
        self.try_get(i).map(|Timestamp(t)| t)
    }
    fn opt_time(&self, i: usize) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
        let t: Option<Timestamp> = self.try_get(i)?;
        Ok(t.map(|Timestamp(t)| t))
    }
}
