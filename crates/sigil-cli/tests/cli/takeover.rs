//! `sigil migrate --from-better-auth --check` on databases laid out the way Better Auth leaves
//! them (its tables and column names, a key row and a password hash Better Auth 1.7.25 wrote):
//! what the report says, its exit code, that it never prints a hash, and that it writes nothing
//! (SQLite: the file's bytes and mtime, no `-wal`/`-journal` left; PostgreSQL: as a role that
//! may only read, and no table created). Then `sigil migrate` upgrades a key table from before
//! Better Auth 1.7. PostgreSQL variants run when `SIGIL_TEST_POSTGRES_URL` is set.

use std::path::{Path, PathBuf};
use std::process::Output;

use sqlx::Connection;

use crate::sigil;

/// The key row, secret and hash below were written by Better Auth 1.7.25 (the same as in
/// sigil-server's tests: `tests/server/tokens.rs`, `src/password.rs`).
const BA_SECRET: &str = "anchor-dev-secret-0123456789abcdef0123456789abcdef";
const WRONG_SECRET: &str = "not-the-better-auth-secret-Q8vF2lMz7Xt1Rb9nK4pW6sY0";
const BA_KID: &str = "3ikONh7TpPt5JQIESmTv56dTS2oBJ2q6";
const BA_PUBLIC: &str =
    r#"{"crv":"Ed25519","x":"G1FcfvsILVardEgy6Vdhcw4rLtD1IJZR9xCxPnupe0I","kty":"OKP"}"#;
const BA_PRIVATE: &str = "\"0cc369fb90a8d0681ceb10f389b478b3d6bac38368a5ee8c61c5c2af6d0bd19ad00c8a0a6792249e31508d008793589e7692f8b8a8128c4d6b3c4a3f3fa8dd714b45240c5728a2e2a8d595ebc56233d51d9b37c9bd1d1b7dda37819c7dac8e35700fb0654868c39613f4a43c082383e64c9c7e1789cd5c39a33fef357e3d4cb7d7768d26c681cea25498a0931c1bb7228865d1edb5449b0acdd03428a4041242fdc40cc3778f94b099\"";
const BA_HASH: &str = "e892ea95d0de19fabbaa7003cb2272bf:cf532430ed9fe0b8f2270555b53e1fe884dffcd834e94005a93f548c657aff9e856b464b53fa433d0f0615ba5e183e4e7e32ea7a8fc93f185829e9cc7db9582a";
const BCRYPT_HASH: &str = "$2b$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy";

/// A database under test.
#[derive(Clone, Debug)]
enum Db {
    Sqlite(PathBuf),
    Postgres(String),
}

impl Db {
    fn url(&self) -> String {
        match self {
            Db::Sqlite(path) => format!("sqlite://{}", path.display()),
            Db::Postgres(url) => url.clone(),
        }
    }

    /// Runs `sql` (several statements) as the owner.
    async fn exec(&self, sql: &str) {
        match self {
            Db::Sqlite(path) => {
                let options = sqlx::sqlite::SqliteConnectOptions::new()
                    .filename(path)
                    .create_if_missing(true)
                    // better-sqlite3's default, which Better Auth keeps.
                    .journal_mode(sqlx::sqlite::SqliteJournalMode::Delete);
                let mut conn = sqlx::SqliteConnection::connect_with(&options)
                    .await
                    .unwrap();
                sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
                    .execute(&mut conn)
                    .await
                    .unwrap();
                conn.close().await.unwrap();
            }
            Db::Postgres(url) => {
                let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
                sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
                    .execute(&mut conn)
                    .await
                    .unwrap();
                conn.close().await.unwrap();
            }
        }
    }

    /// The column names of `table`.
    async fn columns(&self, table: &str) -> Vec<String> {
        match self {
            Db::Sqlite(path) => {
                let options = sqlx::sqlite::SqliteConnectOptions::new()
                    .filename(path)
                    .read_only(true);
                let mut conn = sqlx::SqliteConnection::connect_with(&options)
                    .await
                    .unwrap();
                let cols = sqlx::query_scalar("select name from pragma_table_info($1)")
                    .bind(table)
                    .fetch_all(&mut conn)
                    .await
                    .unwrap();
                conn.close().await.unwrap();
                cols
            }
            Db::Postgres(url) => {
                let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
                sqlx::query_scalar("select column_name::text from information_schema.columns where table_name = $1 and table_schema = current_schema()")
                    .bind(table)
                    .fetch_all(&mut conn)
                    .await
                    .unwrap()
            }
        }
    }

    /// Every table of the schema.
    async fn tables(&self) -> Vec<String> {
        match self {
            Db::Sqlite(_) => unreachable!("SQLite is checked by its bytes"),
            Db::Postgres(url) => {
                let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
                let mut t: Vec<String> = sqlx::query_scalar("select table_name::text from information_schema.tables where table_schema = current_schema()")
                    .fetch_all(&mut conn)
                    .await
                    .unwrap();
                t.sort();
                t
            }
        }
    }
}

fn unique() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!(
        "{}x{nanos}x{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// A fresh empty database per engine: SQLite always, PostgreSQL when configured; and a working
/// directory for the command.
async fn fresh(name: &str) -> Vec<(Db, PathBuf)> {
    let mut out = Vec::new();
    let dir = std::env::temp_dir().join(format!("sigil-takeover-{name}-{}", unique()));
    std::fs::create_dir_all(&dir).unwrap();
    out.push((Db::Sqlite(dir.join("better-auth.db")), dir));
    match std::env::var("SIGIL_TEST_POSTGRES_URL") {
        Ok(admin) if !admin.is_empty() => {
            let db = format!("sigil_takeover_{}", unique());
            let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap();
            sqlx::query(sqlx::AssertSqlSafe(format!("create database {db}")))
                .execute(&mut conn)
                .await
                .unwrap();
            let (base, _) = admin.rsplit_once('/').unwrap();
            let dir = std::env::temp_dir().join(format!("sigil-takeover-{name}-{}", unique()));
            std::fs::create_dir_all(&dir).unwrap();
            out.push((Db::Postgres(format!("{base}/{db}")), dir));
        }
        _ => eprintln!("SKIPPED PostgreSQL variant: SIGIL_TEST_POSTGRES_URL is not set"),
    }
    out
}

/// How the Better Auth database of a test is laid out.
#[derive(Clone, Copy)]
struct Layout {
    /// `jwks.alg`/`jwks.crv` (Better Auth 1.7.0 and later).
    key_alg_columns: bool,
    /// The required `account.issuer` of Better Auth 1.7.0–1.7.1.
    account_issuer: bool,
}

const CURRENT: Layout = Layout {
    key_alg_columns: true,
    account_issuer: false,
};

/// Better Auth's core tables as its migration planner creates them (SQLite: dates as text;
/// PostgreSQL: timestamptz and boolean), a plugin's table, one user with a live and an expired
/// session, its credential account, and the key row.
fn better_auth_sql(db: &Db, layout: Layout) -> String {
    let (date, boolean) = match db {
        Db::Sqlite(_) => ("date", "integer"),
        Db::Postgres(_) => ("timestamptz", "boolean"),
    };
    let issuer = if layout.account_issuer {
        r#", "issuer" text not null"#
    } else {
        ""
    };
    let alg = if layout.key_alg_columns {
        r#", "alg" text, "crv" text"#
    } else {
        ""
    };
    let issuer_value = if layout.account_issuer {
        ", 'local:credential'"
    } else {
        ""
    };
    let alg_value = if layout.key_alg_columns {
        ", 'EdDSA', 'Ed25519'"
    } else {
        ""
    };
    let t = "'2026-01-01T00:00:00.000Z'";
    format!(
        r#"
create table "user" ("id" text not null primary key, "name" text not null, "email" text not null unique, "emailVerified" {boolean} not null, "image" text, "createdAt" {date} not null, "updatedAt" {date} not null);
create table "session" ("id" text not null primary key, "expiresAt" {date} not null, "token" text not null unique, "createdAt" {date} not null, "updatedAt" {date} not null, "ipAddress" text, "userAgent" text, "userId" text not null references "user" ("id") on delete cascade);
create table "account" ("id" text not null primary key, "accountId" text not null, "providerId" text not null, "userId" text not null references "user" ("id") on delete cascade, "accessToken" text, "refreshToken" text, "idToken" text, "accessTokenExpiresAt" {date}, "refreshTokenExpiresAt" {date}, "scope" text, "password" text, "createdAt" {date} not null, "updatedAt" {date} not null{issuer});
create table "verification" ("id" text not null primary key, "identifier" text not null, "value" text not null, "expiresAt" {date} not null, "createdAt" {date} not null, "updatedAt" {date} not null);
create table "jwks" ("id" text not null primary key, "publicKey" text not null, "privateKey" text not null, "createdAt" {date} not null, "expiresAt" {date}{alg});
create table "twoFactor" ("id" text not null primary key, "secret" text not null, "userId" text not null);
insert into "user" values ('u1', 'Ada', 'ada@example.com', true, null, {t}, {t});
insert into "session" values ('s1', '2099-01-01T00:00:00.000Z', 'tok-live', {t}, {t}, '127.0.0.1', 'test', 'u1');
insert into "session" values ('s2', '2020-01-01T00:00:00.000Z', 'tok-expired', {t}, {t}, '127.0.0.1', 'test', 'u1');
insert into "account" ("id", "accountId", "providerId", "userId", "password", "createdAt", "updatedAt"{issuer_col}) values ('a1', 'u1', 'credential', 'u1', '{BA_HASH}', {t}, {t}{issuer_value});
insert into "jwks" values ('{BA_KID}', '{BA_PUBLIC}', '{BA_PRIVATE}', {t}, null{alg_value});
"#,
        issuer_col = if layout.account_issuer {
            r#", "issuer""#
        } else {
            ""
        },
    )
}

async fn better_auth_database(db: &Db, layout: Layout) {
    db.exec(&better_auth_sql(db, layout)).await;
}

/// Runs `sigil ARGS --database-url URL` in `dir` with `secret` as BETTER_AUTH_SECRET.
fn run(dir: &Path, db: &Db, secret: &str, args: &[&str]) -> Output {
    sigil()
        .current_dir(dir)
        .env("BETTER_AUTH_SECRET", secret)
        .env("SIGIL_DATA_DIR", dir.join("sigil-data"))
        .env_remove("RUST_LOG")
        .args(args)
        .args(["--database-url", &db.url()])
        .output()
        .unwrap()
}

fn check(dir: &Path, db: &Db, secret: &str) -> (i32, String) {
    check_with(dir, db, secret, &[])
}

/// [`check`] with more environment variables.
fn check_with(dir: &Path, db: &Db, secret: &str, env: &[(&str, &str)]) -> (i32, String) {
    let out = sigil()
        .current_dir(dir)
        .env("BETTER_AUTH_SECRET", secret)
        .env("SIGIL_DATA_DIR", dir.join("sigil-data"))
        .env_remove("RUST_LOG")
        .envs(env.iter().copied())
        .args(["migrate", "--from-better-auth", "--check"])
        .args(["--database-url", &db.url()])
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

/// The names, bytes and mtimes of every file in `dir`.
fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>, std::time::SystemTime)> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let meta = e.metadata().unwrap();
            let bytes = if meta.is_file() {
                std::fs::read(e.path()).unwrap()
            } else {
                Vec::new()
            };
            (
                e.file_name().to_string_lossy().into_owned(),
                bytes,
                meta.modified().unwrap(),
            )
        })
        .collect();
    files.sort();
    files
}

#[tokio::test]
async fn a_healthy_better_auth_database_is_ready_and_left_as_it_was() {
    for (db, dir) in fresh("healthy").await {
        better_auth_database(&db, CURRENT).await;
        let before = snapshot(&dir);
        let pg_tables = match &db {
            Db::Postgres(_) => Some(db.tables().await),
            Db::Sqlite(_) => None,
        };
        let (code, text) = check(&dir, &db, BA_SECRET);
        assert_eq!(code, 0, "{db:?}\n{text}");
        for expected in [
            "Better Auth tables found: user, session, account, verification, jwks",
            "missing: none",
            "other tables (kept untouched): twoFactor",
            "user: 1",
            "session: 1 live, 1 expired",
            "account: 1",
            "jwks: 1",
            "required columns: all present",
            BA_KID,
            "alg: EdDSA",
            "expires never: live",
            "opens with this secret; unversioned envelope",
            "credential: 1 (email/password: supported)",
            "Better Auth scrypt salt:key: 1 (supported)",
            "ready: Sigil can serve this database",
        ] {
            assert!(text.contains(expected), "{db:?}: {expected:?} in\n{text}");
        }
        assert!(!text.contains(BA_HASH), "{text}");
        // Read-only: nothing in the directory changed (no -journal, -wal or -shm; the same bytes
        // and mtime), and on PostgreSQL no table appeared (no _sqlx_migrations).
        assert_eq!(snapshot(&dir), before, "{db:?}: the check wrote");
        if let Some(tables) = pg_tables {
            assert_eq!(db.tables().await, tables, "the check created a table");
        }

        // --json: the same report for machines.
        let out = run(
            &dir,
            &db,
            BA_SECRET,
            &["migrate", "--from-better-auth", "--check", "--json"],
        );
        assert!(out.status.success());
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(report["blockers"], serde_json::json!([]));
        assert_eq!(report["keys"][0]["id"], BA_KID);
        assert_eq!(report["keys"][0]["opening"]["result"], "opens");
        assert_eq!(report["counts"]["sessions_live"], 1);
        assert_eq!(snapshot(&dir), before);
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[tokio::test]
async fn blockers_are_named_and_exit_1() {
    for (db, dir) in fresh("blocked").await {
        better_auth_database(
            &db,
            Layout {
                key_alg_columns: true,
                account_issuer: true,
            },
        )
        .await;
        db.exec(&format!(
            r#"insert into "user" values ('u2', 'Bob', 'bob@example.com', false, null, '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z');
insert into "account" ("id", "accountId", "providerId", "userId", "password", "createdAt", "updatedAt", "issuer") values ('a2', 'u2', 'credential', 'u2', '{BCRYPT_HASH}', '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z', 'local:credential');
insert into "jwks" values ('old-key', '{BA_PUBLIC}', '{BA_PRIVATE}', '2019-01-01T00:00:00.000Z', '2020-01-01T00:00:00.000Z', 'EdDSA', 'Ed25519');"#
        ))
        .await;
        let (code, text) = check(&dir, &db, WRONG_SECRET);
        assert_eq!(code, 1, "{db:?}\n{text}");
        for expected in [
            "blocked: 3 problems",
            // A live key the secret cannot open, by its id.
            &format!("key {BA_KID} is live but does not open with the configured secret"),
            "does NOT open with this secret",
            // The extra required column of Better Auth 1.7.0–1.7.1.
            "account.issuer is NOT NULL without a default",
            // A hash format Sigil cannot verify, described, never printed.
            "1 password hash(es) in an unknown format (starting `$2b$`)",
            // A key past its grace period that does not open: a note, pointing to prune.
            "key old-key does not open with this secret, but it is past its grace period: Sigil ignores it (`sigil keys prune` deletes keys past their grace period)",
        ] {
            assert!(text.contains(expected), "{db:?}: {expected:?} in\n{text}");
        }
        // Sigil will not make a key of its own beside one it cannot open: no such promise.
        assert!(!text.contains("creates one on first use"), "{text}");
        assert!(!text.contains(BCRYPT_HASH), "{text}");
        assert!(!text.contains("N9qo8uLOickgx2ZMRZoMye"), "{text}");
        assert!(!text.contains(BA_HASH), "{text}");
        assert!(!text.contains(WRONG_SECRET), "{text}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[tokio::test]
async fn social_accounts_and_many_keys_are_reported_without_blocking() {
    for (db, dir) in fresh("social").await {
        better_auth_database(&db, CURRENT).await;
        // A GitHub login, and 101 more keys retired long ago: Better Auth's findMany reads 100.
        let mut sql = String::from(
            r#"insert into "account" ("id", "accountId", "providerId", "userId", "accessToken", "createdAt", "updatedAt") values ('a9', '5550123', 'github', 'u1', 'gho_x', '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z');"#,
        );
        for i in 0..101 {
            sql.push_str(&format!(
                r#"insert into "jwks" values ('old-{i:03}', '{BA_PUBLIC}', '{BA_PRIVATE}', '2019-01-01T00:00:00.000Z', '2020-01-01T00:00:00.000Z', 'EdDSA', 'Ed25519');"#
            ));
        }
        db.exec(&sql).await;
        let (code, text) = check(&dir, &db, BA_SECRET);
        assert_eq!(code, 0, "{db:?}\n{text}");
        for expected in [
            "github: 1 (social/OAuth: users cannot sign in through Sigil; kept untouched)",
            "1 account(s) of other providers",
            "jwks: 102",
            "expired, past grace",
            "jwks has 102 rows; Better Auth nodes read only 100 of them",
            "ready: Sigil can serve this database",
        ] {
            assert!(text.contains(expected), "{db:?}: {expected:?} in\n{text}");
        }
        assert!(!text.contains("gho_x"), "{text}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[tokio::test]
async fn a_key_table_from_before_better_auth_1_7_is_upgraded_by_migrate() {
    for (db, dir) in fresh("legacy-keys").await {
        better_auth_database(
            &db,
            Layout {
                key_alg_columns: false,
                account_issuer: false,
            },
        )
        .await;
        let (code, text) = check(&dir, &db, BA_SECRET);
        assert_eq!(code, 0, "{db:?}\n{text}");
        for expected in [
            "jwks.alg, jwks.crv: missing, will be added by `sigil migrate`",
            "alg: unset → inferred EdDSA from its key type",
            "opens with this secret",
            "ready: Sigil can serve this database",
        ] {
            assert!(text.contains(expected), "{db:?}: {expected:?} in\n{text}");
        }
        assert!(!db.columns("jwks").await.contains(&"alg".to_owned()));

        // Migrating adds the columns (nullable: the old row keeps alg unset), twice is harmless.
        for _ in 0..2 {
            let out = run(&dir, &db, BA_SECRET, &["migrate", "--from-better-auth"]);
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let columns = db.columns("jwks").await;
        assert!(
            columns.contains(&"alg".to_owned()) && columns.contains(&"crv".to_owned()),
            "{columns:?}"
        );
        let (code, text) = check(&dir, &db, BA_SECRET);
        assert_eq!(code, 0, "{text}");
        assert!(!text.contains("will be added"), "{text}");
        assert!(
            text.contains("other tables (kept untouched): twoFactor\n")
                && text.contains("_sqlx_migrations is Sigil's record of its migrations"),
            "{text}"
        );

        // Sigil now reads Better Auth's key: it is the current one.
        let list = sigil()
            .current_dir(&dir)
            .env("BETTER_AUTH_SECRET", BA_SECRET)
            .env("SIGIL_DATA_DIR", dir.join("sigil-data"))
            .args(["keys", "--database-url", &db.url(), "list"])
            .output()
            .unwrap();
        let listed = String::from_utf8_lossy(&list.stdout);
        assert!(
            list.status.success(),
            "{}",
            String::from_utf8_lossy(&list.stderr)
        );
        let row = listed
            .lines()
            .find(|l| l.starts_with(BA_KID))
            .unwrap_or_default();
        assert!(row.contains("current"), "{listed}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// The check on a SQLite file in WAL mode (as Sigil leaves it) that no process has open: still
/// no `-wal`/`-shm` left behind, the same bytes; and on a file whose mode forbids writing.
#[tokio::test]
async fn the_check_leaves_a_wal_mode_or_read_only_file_untouched() {
    let dir = std::env::temp_dir().join(format!("sigil-takeover-wal-{}", unique()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("better-auth.db");
    let db = Db::Sqlite(path.clone());
    better_auth_database(&db, CURRENT).await;
    db.exec("pragma journal_mode = wal").await;
    assert!(!dir.join("better-auth.db-wal").exists());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o444)).unwrap();
    }
    let before = snapshot(&dir);
    let (code, text) = check(&dir, &db, BA_SECRET);
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("ready: Sigil can serve this database"),
        "{text}"
    );
    assert_eq!(snapshot(&dir), before, "the check wrote");
    let _ = std::fs::remove_dir_all(&dir);
}

/// On PostgreSQL the check runs as a role that may only read, and creates nothing.
#[tokio::test]
async fn the_check_needs_only_select_on_postgres() {
    for (db, dir) in fresh("pg-read-only").await {
        let Db::Postgres(owner_url) = &db else {
            continue;
        };
        better_auth_database(&db, CURRENT).await;
        let role = format!("sigil_ro_{}", unique());
        let name = owner_url.rsplit_once('/').unwrap().1.to_owned();
        db.exec(&format!(
            "create role {role} login; grant connect on database {name} to {role}; grant usage on schema public to {role}; grant select on all tables in schema public to {role}; alter role {role} set default_transaction_read_only = on;"
        ))
        .await;
        let tables = db.tables().await;
        let reader = Db::Postgres(owner_url.replacen("://sigil@", &format!("://{role}@"), 1));
        assert_ne!(reader.url(), db.url(), "the admin URL names the user sigil");
        let (code, text) = check(&dir, &reader, BA_SECRET);
        assert_eq!(code, 0, "{text}");
        assert!(
            text.contains("ready: Sigil can serve this database"),
            "{text}"
        );
        assert!(text.contains(BA_KID), "{text}");
        assert_eq!(db.tables().await, tables, "the check created a table");
        // The same role cannot migrate: what the check avoids is indeed a write.
        let out = run(&dir, &reader, BA_SECRET, &["migrate"]);
        assert!(!out.status.success());
        assert_eq!(db.tables().await, tables);
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// A key row or a time Sigil cannot read blocks, by row id and by `table.column`: on SQLite a
/// time that is not RFC 3339 text (or not text at all); on PostgreSQL a time column that is not
/// `timestamp with time zone` (as Drizzle and Prisma schemas often declare it). An unreadable key
/// retired long ago is only a note.
#[tokio::test]
async fn unreadable_keys_and_times_block() {
    for (db, dir) in fresh("unreadable").await {
        match &db {
            Db::Sqlite(_) => {
                better_auth_database(&db, CURRENT).await;
                db.exec(&format!(
                    r#"insert into "jwks" values ('bad-date-key', '{BA_PUBLIC}', '{BA_PRIVATE}', 'last tuesday', null, 'EdDSA', 'Ed25519');
insert into "jwks" values ('old-bad-key', '{BA_PUBLIC}', '{BA_PRIVATE}', 'long ago', '2020-01-01T00:00:00.000Z', 'EdDSA', 'Ed25519');
insert into "user" values ('u2', 'Bob', 'bob@example.com', 0, null, 'yesterday', '2026-01-01T00:00:00.000Z');
update "session" set "createdAt" = 1767225600000 where "id" = 's2';"#
                ))
                .await;
                let (code, text) = check(&dir, &db, BA_SECRET);
                assert_eq!(code, 1, "{text}");
                for expected in [
                    "key bad-date-key is unreadable (",
                    "not known to be past its grace period",
                    "key old-bad-key is unreadable (",
                    "but it is past its grace period: Sigil ignores it",
                    "user.createdAt cannot be read by Sigil: 1 of 2 sampled text value(s) do not parse as RFC 3339 times",
                    "session.createdAt cannot be read by Sigil: 1 value(s) stored as numbers",
                    "jwks.createdAt cannot be read by Sigil: 2 of 3 sampled",
                    "blocked: 4 problems",
                ] {
                    assert!(text.contains(expected), "{expected:?} in\n{text}");
                }
                assert!(!text.contains("creates one on first use"), "{text}");
                // The key retired long ago is a note, not a blocker.
                let blockers = text.split("\nblocked:").nth(1).unwrap();
                assert!(!blockers.contains("old-bad-key"), "{text}");
            }
            Db::Postgres(_) => {
                let sql = better_auth_sql(&db, CURRENT).replace("timestamptz", "timestamp");
                db.exec(&sql).await;
                let (code, text) = check(&dir, &db, BA_SECRET);
                assert_eq!(code, 1, "{text}");
                for column in [
                    "user.createdAt",
                    "user.updatedAt",
                    "session.expiresAt",
                    "session.createdAt",
                    "session.updatedAt",
                    "account.createdAt",
                    "account.updatedAt",
                    "jwks.createdAt",
                    "jwks.expiresAt",
                ] {
                    let expected = format!(
                        "{column} cannot be read by Sigil: its type is `timestamp without time zone`"
                    );
                    assert!(text.contains(&expected), "{expected:?} in\n{text}");
                }
                assert!(
                    text.contains(&format!("key {BA_KID} is unreadable (")),
                    "{text}"
                );
                assert!(!text.contains("ready:"), "{text}");
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// Better Auth's live keys are of another algorithm than Sigil's: Sigil would make its own and
/// sign with it while Better Auth nodes sign with theirs. It blocks, naming both and the setting.
#[tokio::test]
async fn live_keys_of_another_algorithm_block() {
    for (db, dir) in fresh("alg").await {
        better_auth_database(&db, CURRENT).await;
        let (code, text) = check_with(&dir, &db, BA_SECRET, &[("SIGIL_JWT_ALG", "RS256")]);
        assert_eq!(code, 1, "{db:?}\n{text}");
        for expected in [
            "the live key(s) use EdDSA but Sigil's default algorithm is RS256",
            "SIGIL_JWT_ALG=EdDSA",
            "[jwt] alg = \"EdDSA\"",
            "blocked: 1 problem",
        ] {
            assert!(text.contains(expected), "{db:?}: {expected:?} in\n{text}");
        }
        assert!(!text.contains("creates one on first use"), "{text}");
        // Several algorithms: Better Auth's must be the first (the one `/token` signs with).
        let (code, text) = check_with(
            &dir,
            &db,
            BA_SECRET,
            &[
                ("SIGIL_JWT_ALG", "RS256"),
                ("SIGIL_JWT_ALGS", "RS256,EdDSA"),
            ],
        );
        assert_eq!(code, 1, "{db:?}\n{text}");
        assert!(
            text.contains("put EdDSA first in SIGIL_JWT_ALGS (EdDSA,RS256)"),
            "{text}"
        );
        let (code, text) = check_with(
            &dir,
            &db,
            BA_SECRET,
            &[
                ("SIGIL_JWT_ALG", "EdDSA"),
                ("SIGIL_JWT_ALGS", "EdDSA,RS256"),
            ],
        );
        assert_eq!(code, 0, "{db:?}\n{text}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// Better Auth's tables under other names (`usePlural`): not a database Sigil can take over, and
/// `sigil migrate` would create empty ones beside them.
#[tokio::test]
async fn renamed_core_tables_block() {
    for (db, dir) in fresh("plural").await {
        db.exec(
            r#"create table "users" ("id" text not null primary key);
create table "sessions" ("id" text not null primary key);
create table "accounts" ("id" text not null primary key);"#,
        )
        .await;
        let (code, text) = check(&dir, &db, BA_SECRET);
        assert_eq!(code, 1, "{db:?}\n{text}");
        for expected in [
            "Better Auth table(s) user, session, account not found: none of Better Auth's tables is here",
            "`usePlural` and `modelName` options are not supported",
            "`sigil migrate` would create empty tables beside renamed ones",
            "other tables (kept untouched): accounts, sessions, users",
            "missing: user, session, account (blocks: Sigil takes over only Better Auth's default table names); verification, jwks (`sigil migrate` creates them)",
        ] {
            assert!(text.contains(expected), "{db:?}: {expected:?} in\n{text}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// With migrations off, a key table from before Better Auth 1.7 (no alg/crv) blocks: Sigil could
/// not read the keys.
#[tokio::test]
async fn missing_key_columns_block_when_migrations_are_off() {
    for (db, dir) in fresh("no-migrate").await {
        better_auth_database(
            &db,
            Layout {
                key_alg_columns: false,
                account_issuer: false,
            },
        )
        .await;
        let (code, text) = check_with(&dir, &db, BA_SECRET, &[("SIGIL_MIGRATE", "false")]);
        assert_eq!(code, 1, "{db:?}\n{text}");
        assert!(
            text.contains("jwks.alg, jwks.crv missing (a key table from before Better Auth 1.7) and migrations are turned off (SIGIL_MIGRATE=false / `migrate = false`): Sigil could not read the keys"),
            "{db:?}\n{text}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// A database that cannot be read exits 3, distinct from blocked (1) and usage (2).
#[tokio::test]
async fn an_unreadable_database_exits_3() {
    // --help documents every exit code; --check alone is a usage error.
    let help = sigil().args(["migrate", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    for expected in [
        "Exit 0: Sigil can serve the database",
        "1: something blocks",
        "2: usage or configuration error",
        "3: the database could not be opened or read",
    ] {
        assert!(help.contains(expected), "{expected:?} in\n{help}");
    }
    let usage = sigil().args(["migrate", "--check"]).output().unwrap();
    assert_eq!(usage.status.code(), Some(2));
    for (db, dir) in fresh("unreachable").await {
        let missing = match &db {
            Db::Sqlite(path) => Db::Sqlite(path.with_file_name("no-such.db")),
            Db::Postgres(url) => {
                let (base, _) = url.rsplit_once('/').unwrap();
                Db::Postgres(format!("{base}/no_such_database_{}", unique()))
            }
        };
        let before = snapshot(&dir);
        let (code, text) = check(&dir, &missing, BA_SECRET);
        assert_eq!(code, 3, "{db:?}\n{text}");
        assert!(text.contains("Error: checking the database"), "{text}");
        assert!(!text.contains("blocked"), "{text}");
        assert_eq!(snapshot(&dir), before, "the check wrote");
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// The check never generates a secret: `secrets = ","` (no secret in it) and nothing else is a
/// configuration error (exit 2) that leaves no data directory; an existing data-directory secret
/// file is read, and left as it was.
#[tokio::test]
async fn the_check_never_generates_a_secret() {
    let dir = std::env::temp_dir().join(format!("sigil-takeover-secret-{}", unique()));
    std::fs::create_dir_all(&dir).unwrap();
    let db = Db::Sqlite(dir.join("better-auth.db"));
    better_auth_database(&db, CURRENT).await;
    let data_dir = dir.join("sigil-data");
    let run_check = |secrets: Option<&str>| {
        let mut cmd = sigil();
        cmd.current_dir(&dir)
            .env("SIGIL_DATA_DIR", &data_dir)
            .env_remove("RUST_LOG")
            .env_remove("SIGIL_SECRETS")
            .env_remove("BETTER_AUTH_SECRETS");
        if let Some(s) = secrets {
            cmd.env("BETTER_AUTH_SECRETS", s);
        }
        let out = cmd
            .args(["migrate", "--from-better-auth", "--check"])
            .args(["--database-url", &db.url()])
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    };
    for secrets in [Some(","), Some(" , "), Some(""), None] {
        let (code, text) = run_check(secrets);
        assert_eq!(code, 2, "{secrets:?}\n{text}");
        assert!(text.contains("no secret configured"), "{text}");
        assert!(
            !data_dir.exists(),
            "{secrets:?}: the check created the data dir"
        );
    }
    // The secret file of an earlier Sigil start is read, not rewritten.
    std::fs::create_dir_all(&data_dir).unwrap();
    std::fs::write(data_dir.join("secret"), format!("{BA_SECRET}\n")).unwrap();
    let before = snapshot(&data_dir);
    let (code, text) = run_check(Some(","));
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("opens with this secret"), "{text}");
    assert_eq!(snapshot(&data_dir), before);
    let _ = std::fs::remove_dir_all(&dir);
}
