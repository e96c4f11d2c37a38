//! The store on SQLite, in process: times as Better Auth writes them.

use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::dialect::Timestamp;
use super::*;

/// A store on a fresh SQLite file, migrated; the directory to remove after.
async fn sqlite_store() -> (Store, PathBuf) {
    let dir = std::env::temp_dir().join(format!("sigil-store-{}", crate::ids::random_string(8)));
    let url = format!("sqlite://{}", dir.join("sigil.db").display());
    let store = Store::connect(&url, Duration::from_secs(2)).unwrap();
    store.migrate().await.unwrap();
    (store, dir)
}

fn at(millis: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(millis).unwrap()
}

#[tokio::test]
async fn sqlite_file_in_a_missing_directory() {
    let dir = std::env::temp_dir().join(format!("sigil-store-{}", crate::ids::random_string(8)));
    let url = format!("sqlite://{}", dir.join("nested/sigil.db").display());
    let store = Store::connect(&url, Duration::from_secs(2)).unwrap();
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
    assert!(matches!(StoreError::from(bad), StoreError::Corrupt(_)));
    std::fs::remove_dir_all(&dir).unwrap();
}
