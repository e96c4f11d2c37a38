//! The store on SQLite, in process: times as Better Auth writes them, URL parsing, conflicts.

use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::json;

use super::dialect::Timestamp;
use super::*;
use crate::user_fields::{FieldKind, UserField};

/// A store on a fresh SQLite file, migrated; the directory to remove after.
async fn sqlite_store() -> (Store, PathBuf) {
    let dir = std::env::temp_dir().join(format!("sigil-store-{}", crate::ids::random_string(8)));
    let url: DatabaseUrl = format!("sqlite://{}", dir.join("sigil.db").display())
        .parse()
        .unwrap();
    let store = Store::connect(&url, Duration::from_secs(2)).unwrap();
    store.migrate().await.unwrap();
    (store, dir)
}

fn at(millis: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(millis).unwrap()
}

fn user(id: &str, email: &str) -> User {
    User {
        id: id.to_owned(),
        name: "Ada".to_owned(),
        email: email.to_owned(),
        email_verified: false,
        image: None,
        created_at: at(1_700_000_000_000),
        updated_at: at(1_700_000_000_000),
    }
}

fn session(id: &str, token: &str, user_id: &str) -> Session {
    Session {
        id: id.to_owned(),
        token: token.to_owned(),
        user_id: user_id.to_owned(),
        expires_at: at(1_800_000_000_000),
        created_at: at(1_700_000_000_000),
        updated_at: at(1_700_000_000_000),
        ip_address: None,
        user_agent: None,
    }
}

/// Signs up user `id` with `email` and a first session holding `token`.
async fn sign_up(store: &Store, id: &str, email: &str, token: &str) -> Result<(), StoreError> {
    let first = session(&format!("{id}-{token}"), token, id);
    store.create_user(&user(id, email), "hash", &first).await
}

#[tokio::test]
async fn sqlite_file_in_a_missing_directory() {
    let dir = std::env::temp_dir().join(format!("sigil-store-{}", crate::ids::random_string(8)));
    let url = format!("sqlite://{}", dir.join("nested/sigil.db").display());
    let store = Store::connect(&url.parse().unwrap(), Duration::from_secs(2)).unwrap();
    store.migrate().await.unwrap();
    assert!(store.list_keys().await.unwrap().is_empty());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn timestamps_are_iso_text_on_sqlite() {
    let (store, dir) = sqlite_store().await;
    let Pool::Sqlite(pool) = &store.pool else {
        unreachable!()
    };
    let t = at(1_700_000_000_123);
    let (text, back): (String, Timestamp) = sqlx::query_as("select $1, $1")
        .bind(Timestamp(t))
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(text, "2023-11-14T22:13:20.123Z", "as Date.toJSON writes it");
    assert_eq!(back, Timestamp(t));
    // Another offset reads as the same instant; text that is no time is a corrupt row.
    let other: Timestamp = sqlx::query_scalar("select '2023-11-15T00:13:20.123+02:00'")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(other, Timestamp(t));
    let bad = sqlx::query_scalar::<_, Timestamp>("select 'yesterday'")
        .fetch_one(pool)
        .await
        .unwrap_err();
    assert!(matches!(StoreError::from(bad), StoreError::Corrupt { .. }));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn database_urls_are_parsed_when_read() {
    for good in [
        "sqlite::memory:",
        "sqlite://./sigil-data/sigil.db",
        "sqlite:sigil.db",
        "sqlite:///tmp/sigil.db?mode=rwc",
        "postgres://sigil@127.0.0.1:5432/sigil",
        "postgresql://localhost/sigil?sslmode=disable",
    ] {
        let url: DatabaseUrl = good.parse().unwrap();
        assert_eq!(url.to_string(), good, "shown as configured");
    }
    assert!(matches!(
        "sqlite://x.db".parse(),
        Ok(DatabaseUrl::Sqlite { .. })
    ));
    assert!(matches!(
        "postgres://h/db".parse(),
        Ok(DatabaseUrl::Postgres { .. })
    ));
    for (bad, scheme) in [
        ("mysql://x", true),
        ("", true),
        ("SQLITE:x.db", true),
        ("postgres://user:pw@localhost:99999/sigil", false),
        ("postgres://user:pw@localhost:port/sigil", false),
        ("sqlite://x.db?bogus=1", false),
    ] {
        match bad.parse::<DatabaseUrl>() {
            Err(DatabaseUrlError::Scheme) => assert!(scheme, "{bad}"),
            Err(e @ DatabaseUrlError::Invalid { .. }) => {
                assert!(!scheme, "{bad}");
                let chain = crate::report::Chain(&e).to_string();
                assert!(chain.contains("URL"), "{chain}");
                assert!(!chain.contains("user:pw"), "the URL is not quoted: {chain}");
            }
            Ok(url) => panic!("{bad} accepted as {url}"),
        }
    }
}

#[test]
fn database_urls_never_show_a_password() {
    for (url, shown) in [
        (
            "postgres://sigil:s3cret@db:5432/sigil",
            "postgres://sigil:***@db:5432/sigil",
        ),
        (
            "postgresql://sigil:p%40ss@db/sigil?sslmode=require",
            "postgresql://sigil:***@db/sigil?sslmode=require",
        ),
        (
            "postgres://db/sigil?user=sigil&password=s3cret&p%61ssword=s3cret",
            "postgres://db/sigil?user=sigil&password=***&p%61ssword=***",
        ),
        ("postgres://sigil@db/sigil", "postgres://sigil@db/sigil"),
    ] {
        let parsed: DatabaseUrl = url.parse().unwrap();
        assert_eq!(parsed.to_string(), shown);
        let debug = format!("{parsed:?}");
        assert_eq!(debug, format!("Postgres({shown:?})"));
        assert!(!debug.contains("s3cret") && !debug.contains("p%40ss"));
    }
}

#[tokio::test]
async fn only_an_existing_email_is_email_taken() {
    let (store, dir) = sqlite_store().await;
    sign_up(&store, "u1", "a@b.co", "token-1").await.unwrap();
    // The same email: the one conflict a client causes.
    let taken = sign_up(&store, "u2", "a@b.co", "token-2").await;
    assert!(matches!(taken, Err(StoreError::EmailTaken)), "{taken:?}");
    // Another id collision or a session token in use: conflicts, not the client's email.
    for (id, email, token) in [("u1", "c@d.co", "token-3"), ("u4", "e@f.co", "token-1")] {
        let conflict = sign_up(&store, id, email, token).await;
        assert!(
            matches!(conflict, Err(StoreError::Conflict(_))),
            "{id} {email} {token}: {conflict:?}"
        );
    }
    let again = store.insert_session(&session("s5", "token-1", "u1")).await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
    // The failed sign-ups left nothing behind.
    assert!(store.user_with_password("e@f.co").await.unwrap().is_none());
    assert!(!StoreError::EmailTaken.is_unavailable());
    assert!(StoreError::Timeout(Duration::from_secs(1)).is_unavailable());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn set_user_field_stamps_the_given_time() {
    let (store, dir) = sqlite_store().await;
    let role = UserField {
        name: "role".to_owned(),
        kind: FieldKind::String,
        default: json!("member"),
    };
    let level = UserField {
        name: "level".to_owned(),
        kind: FieldKind::Number,
        default: json!(0),
    };
    let fields = [role, level];
    store.ensure_user_fields(&fields).await.unwrap();
    store.ensure_user_fields(&fields).await.unwrap();
    sign_up(&store, "u1", "a@b.co", "token-1").await.unwrap();
    assert_eq!(
        store.user_fields("u1", &fields).await.unwrap(),
        json!({"role": "member", "level": 0})
            .as_object()
            .unwrap()
            .clone()
    );
    let now = at(1_750_000_000_456);
    for (email, field, value, exists) in [
        ("a@b.co", &fields[0], json!("admin"), true),
        ("a@b.co", &fields[1], json!(3), true),
        ("nobody@b.co", &fields[0], json!("admin"), false),
    ] {
        let found = store.set_user_field(email, field, &value, now).await;
        assert_eq!(found.unwrap(), exists, "{email}");
    }
    let (user, hash) = store.user_with_password("a@b.co").await.unwrap().unwrap();
    assert_eq!(user.updated_at, now);
    assert_eq!(user.created_at, at(1_700_000_000_000), "creation untouched");
    assert_eq!(hash.as_deref(), Some("hash"));
    assert_eq!(
        store.user_fields("u1", &fields).await.unwrap(),
        json!({"role": "admin", "level": 3})
            .as_object()
            .unwrap()
            .clone()
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn in_memory_databases_are_not_files() {
    let url: DatabaseUrl = "sqlite::memory:".parse().unwrap();
    let store = Store::connect(&url, Duration::from_secs(2)).unwrap();
    assert!(store.file.is_none(), "no file is tracked");
    store.migrate().await.unwrap();
    assert!(store.check_file().is_ok());
    assert!(!std::path::Path::new("file:sqlx-in-memory-0").exists());
    assert!(!super::sqlite_file_on_disk(
        "sqlite:x.db?mode=memory",
        std::path::Path::new("x.db")
    ));
    assert!(super::sqlite_file_on_disk(
        "sqlite:///tmp/x.db",
        std::path::Path::new("/tmp/x.db")
    ));
}
