//! Read-only inspection of a database Sigil is about to take over (`sigil migrate
//! --from-better-auth --check`): which tables and columns it has, how many rows, the key rows and
//! the credential hashes. Nothing here writes: the store is opened read-only (SQLite
//! `SQLITE_OPEN_READONLY`, no journal-mode change; PostgreSQL with
//! `default_transaction_read_only`), no migration runs, and every read happens in one read-only
//! transaction, so the figures are one consistent snapshot.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::AssertSqlSafe;
use sqlx::postgres::PgPoolOptions;
use sqlx::sqlite::SqlitePoolOptions;

use super::dialect::{Dialect, ReadRow, Timestamp};
use super::keys::key_from;
use super::{DatabaseUrl, KeyRow, Pool, Store, StoreError, on_pool, sqlite_file_on_disk};

/// One column of a table, as far as inserting into it goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ColumnInfo {
    /// The column's name.
    pub(crate) name: String,
    /// `NOT NULL`.
    pub(crate) not_null: bool,
    /// Whether an insert that leaves it out still gets a value (a default, an identity, a
    /// generated column, SQLite's integer primary key).
    pub(crate) has_default: bool,
}

/// A key row, or why it could not be read (its id when that much was readable).
#[derive(Debug)]
pub(crate) enum SurveyedKey {
    /// A readable row.
    Row(KeyRow),
    /// A row that cannot be read into Sigil's types (a time that is not one, a wrong type).
    Unreadable {
        /// The row's id, if readable.
        id: Option<String>,
        /// Its `expiresAt`, if that much is readable and set (a key retired long enough ago can
        /// be ignored even unread).
        expires_at: Option<DateTime<Utc>>,
        /// Why.
        reason: String,
    },
}

/// A time column Sigil reads, with what its declared type and (SQLite) a sample of its values
/// say about whether Sigil can read it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct DateColumn {
    /// The table.
    pub(crate) table: &'static str,
    /// The column.
    pub(crate) column: &'static str,
    /// The declared type: PostgreSQL's `data_type` (`timestamp with time zone`), SQLite's
    /// declared type (free text, not enforced).
    pub(crate) declared_type: String,
    /// SQLite: values stored as something other than text (an integer, a real, a blob).
    pub(crate) not_text: i64,
    /// SQLite: text values of the sample that do not parse as RFC 3339.
    pub(crate) unparsable: i64,
    /// SQLite: how many text values were sampled.
    pub(crate) sampled: i64,
}

/// The time columns Sigil reads, by table.
pub(crate) const DATE_COLUMNS: [(&str, &[&str]); 4] = [
    ("user", &["createdAt", "updatedAt"]),
    ("session", &["expiresAt", "createdAt", "updatedAt"]),
    ("account", &["createdAt", "updatedAt"]),
    ("jwks", &["createdAt", "expiresAt"]),
];

/// How many text values of a SQLite time column are parsed (a sample: a column written by one
/// adapter holds one format throughout).
pub(crate) const DATE_SAMPLE: i64 = 1000;

/// What a read-only look at a database found: the raw facts, judged by `crate::takeover`.
#[derive(Debug, Default)]
pub(crate) struct Survey {
    /// Every base table of the schema (SQLite's own excluded), sorted.
    pub(crate) tables: Vec<String>,
    /// The columns of the tables Sigil knows, by table (only tables that exist).
    pub(crate) columns: BTreeMap<String, Vec<ColumnInfo>>,
    /// Row counts of the tables Sigil knows that exist.
    pub(crate) counts: BTreeMap<String, i64>,
    /// Sessions that have not expired at the survey's `now` (when `session` exists).
    pub(crate) live_sessions: Option<i64>,
    /// Accounts by `providerId`, sorted by provider (when `account` has that column).
    pub(crate) providers: Vec<(String, i64)>,
    /// The `password` column of every `credential` account. Hashes: only ever classified, never
    /// printed or logged.
    pub(crate) credential_passwords: Vec<Option<String>>,
    /// The key rows, oldest first (when `jwks` exists).
    pub(crate) keys: Vec<SurveyedKey>,
    /// The time columns Sigil reads that exist.
    pub(crate) date_columns: Vec<DateColumn>,
}

/// The tables whose columns and row counts a survey reads.
pub(crate) const KNOWN_TABLES: [&str; 5] = ["user", "session", "account", "verification", "jwks"];

impl Survey {
    /// Whether `table` has `column`.
    pub(crate) fn has_column(&self, table: &str, column: &str) -> bool {
        self.columns
            .get(table)
            .is_some_and(|cols| cols.iter().any(|c| c.name == column))
    }
}

/// Whether the SQLite file at `path` is in WAL mode (header bytes 18–19 are 2) with no `-wal`
/// file beside it: checkpointed and not open in any process, everything is in the file itself.
/// A read-only connection to it would leave `-wal` and `-shm` files behind (it may create them
/// but not remove them), so it is opened `immutable` instead, which creates nothing. With a
/// `-wal` file present the files exist already and the normal read-only open uses them.
fn wal_without_log(path: &std::path::Path) -> bool {
    use std::io::Read;
    let mut header = [0u8; 20];
    let wal_mode = std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut header))
        .is_ok_and(|()| header[18] == 2 && header[19] == 2);
    let mut log = path.as_os_str().to_owned();
    log.push("-wal");
    wal_mode && !std::path::Path::new(&log).exists()
}

impl Store {
    /// Opens `url` for reading only: SQLite with `SQLITE_OPEN_READONLY` (a missing file is an
    /// error, nothing is created, the journal mode is left as it is); PostgreSQL with every
    /// transaction read-only. One connection. Run no migration on it: it would fail. A SQLite
    /// file in WAL mode that no process has open is opened `immutable` (see `wal_without_log`), so
    /// that no `-wal`/`-shm` file is left behind.
    pub(crate) fn connect_read_only(
        url: &DatabaseUrl,
        timeout: Duration,
    ) -> Result<Store, StoreError> {
        let pool = match url {
            DatabaseUrl::Sqlite { options, url } => {
                let path = options.get_filename();
                if sqlite_file_on_disk(url, path) && !path.exists() {
                    return Err(StoreError::NotFound {
                        path: path.to_owned(),
                    });
                }
                let immutable = sqlite_file_on_disk(url, path) && wal_without_log(path);
                let options = options
                    .clone()
                    .read_only(true)
                    .create_if_missing(false)
                    .immutable(immutable)
                    .busy_timeout(timeout);
                Pool::Sqlite(
                    SqlitePoolOptions::new()
                        .max_connections(1)
                        .acquire_timeout(timeout)
                        .connect_lazy_with(options),
                )
            }
            DatabaseUrl::Postgres { options, .. } => Pool::Postgres(
                PgPoolOptions::new()
                    .max_connections(1)
                    .acquire_timeout(timeout)
                    .connect_lazy_with(
                        options
                            .clone()
                            .options([("default_transaction_read_only", "on")]),
                    ),
            ),
        };
        Ok(Store {
            pool,
            timeout,
            file: None,
        })
    }

    /// Closes the pool's connections (a read-only check leaves nothing open behind it).
    pub(crate) async fn close(&self) {
        on_pool!(self, |pool| pool.close().await);
    }

    /// Reads everything [`Survey`] holds in one read-only transaction; `now` divides live from
    /// expired sessions.
    pub(crate) async fn survey(&self, now: DateTime<Utc>) -> Result<Survey, StoreError> {
        let sqlite = self.engine() == "sqlite";
        self.timed(async {
            on_pool!(self, |pool, Db| {
                let mut tx = pool.begin_with(Db::BEGIN_READ_ONLY).await?;
                let mut survey = Survey {
                    tables: sqlx::query_scalar(Db::TABLES).fetch_all(&mut *tx).await?,
                    ..Survey::default()
                };
                survey.tables.sort();
                for table in KNOWN_TABLES {
                    if !survey.tables.iter().any(|t| t == table) {
                        continue;
                    }
                    let columns = sqlx::query_as::<_, (String, bool, bool)>(Db::TABLE_COLUMNS)
                        .bind(table)
                        .fetch_all(&mut *tx)
                        .await?
                        .into_iter()
                        .map(|(name, not_null, has_default)| ColumnInfo {
                            name,
                            not_null,
                            has_default,
                        })
                        .collect();
                    survey.columns.insert(table.to_owned(), columns);
                    // The table name is one of the constants above, never input.
                    let count: i64 = sqlx::query_scalar(AssertSqlSafe(format!(
                        r#"select count(*) from "{table}""#
                    )))
                    .fetch_one(&mut *tx)
                    .await?;
                    survey.counts.insert(table.to_owned(), count);
                }
                if survey.has_column("session", "expiresAt") {
                    const LIVE: &str = r#"select count(*) from "session" where "expiresAt" > $1"#;
                    survey.live_sessions = Some(
                        sqlx::query_scalar(LIVE)
                            .bind(Timestamp(now))
                            .fetch_one(&mut *tx)
                            .await?,
                    );
                }
                if survey.has_column("account", "providerId") {
                    const PROVIDERS: &str = r#"select "providerId", count(*) from "account" group by "providerId" order by "providerId""#;
                    survey.providers = sqlx::query_as(PROVIDERS).fetch_all(&mut *tx).await?;
                    if survey.has_column("account", "password") {
                        const PASSWORDS: &str =
                            r#"select "password" from "account" where "providerId" = 'credential'"#;
                        survey.credential_passwords =
                            sqlx::query_scalar(PASSWORDS).fetch_all(&mut *tx).await?;
                    }
                }
                if survey.columns.contains_key("jwks") {
                    // Tables from before Better Auth 1.7 have no alg/crv: read them as null.
                    let optional = |c: &str| {
                        if survey.has_column("jwks", c) {
                            format!(r#""{c}""#)
                        } else {
                            "cast(null as text)".to_owned()
                        }
                    };
                    let sql = format!(
                        r#"select "id", "publicKey", "privateKey", "createdAt", "expiresAt", {}, {} from "jwks" order by "createdAt", "id""#,
                        optional("alg"),
                        optional("crv"),
                    );
                    survey.keys = sqlx::query(AssertSqlSafe(sql))
                        .fetch_all(&mut *tx)
                        .await?
                        .iter()
                        .map(|row| match key_from(row) {
                            Ok(key) => SurveyedKey::Row(key),
                            Err(e) => SurveyedKey::Unreadable {
                                id: sqlx::Row::try_get::<String, _>(row, 0).ok(),
                                expires_at: row.opt_time(4).ok().flatten(),
                                reason: crate::report::Chain(&StoreError::from(e)).to_string(),
                            },
                        })
                        .collect();
                }
                for (table, columns) in DATE_COLUMNS {
                    for column in columns {
                        if !survey.has_column(table, column) {
                            continue;
                        }
                        let type_sql = if sqlite {
                            "select type from pragma_table_info($1) where name = $2"
                        } else {
                            "select data_type::text from information_schema.columns where table_name = $1 and column_name = $2 and table_schema = current_schema()"
                        };
                        let declared_type: String = sqlx::query_scalar(type_sql)
                            .bind(table)
                            .bind(*column)
                            .fetch_one(&mut *tx)
                            .await?;
                        let mut date = DateColumn {
                            table,
                            column,
                            declared_type,
                            not_text: 0,
                            unparsable: 0,
                            sampled: 0,
                        };
                        // SQLite enforces no type: look at the values (PostgreSQL's type says it
                        // all). Table and column names are constants above, never input.
                        if sqlite {
                            date.not_text = sqlx::query_scalar(AssertSqlSafe(format!(
                                r#"select count(*) from "{table}" where "{column}" is not null and typeof("{column}") <> 'text'"#
                            )))
                            .fetch_one(&mut *tx)
                            .await?;
                            let sample: Vec<String> = sqlx::query_scalar(AssertSqlSafe(format!(
                                r#"select "{column}" from "{table}" where typeof("{column}") = 'text' limit {DATE_SAMPLE}"#
                            )))
                            .fetch_all(&mut *tx)
                            .await?;
                            date.sampled = i64::try_from(sample.len()).unwrap_or(i64::MAX);
                            date.unparsable = i64::try_from(
                                sample
                                    .iter()
                                    .filter(|t| crate::time::parse_iso(t).is_err())
                                    .count(),
                            )
                            .unwrap_or(i64::MAX);
                        }
                        survey.date_columns.push(date);
                    }
                }
                tx.rollback().await?;
                Ok(survey)
            })
        })
        .await
    }
}
