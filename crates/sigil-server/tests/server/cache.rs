//! The session cache's rules, each on both engines with the test's clock: sign-out and expiry take
//! effect at once on the instance that handles them, the sliding refresh still writes when due, a
//! change made by another process is seen once the cache lifetime has passed, and the cache can
//! be turned off.

use chrono::Duration;
use serde_json::{Value, json};
use sigil_server::config::TimeSpan;

use crate::harness::{Engine, TestServer, engines, parse_time};

/// Signs up `email` on `s`; the bearer credential.
async fn bearer_for(s: &TestServer, email: &str, remember: bool) -> String {
    let r = s
        .post_json(
            "/sign-up/email",
            json!({"name": "Cache User", "email": email, "password": "correct horse", "rememberMe": remember}),
        )
        .await;
    assert_eq!(r.status(), 200);
    r.headers()["set-auth-token"].to_str().unwrap().to_owned()
}

async fn token_status(s: &TestServer, bearer: &str) -> u16 {
    s.token_by_bearer(bearer).await.status().as_u16()
}

async fn session_of(
    s: &TestServer,
    bearer: &str,
    query: &str,
) -> (Value, reqwest::header::HeaderMap) {
    let r = s
        .client
        .get(s.url(&format!("/get-session{query}")))
        .header("authorization", format!("Bearer {bearer}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let headers = r.headers().clone();
    (r.json().await.unwrap(), headers)
}

/// Two servers on one database: `a` with the settings `tweak` gives, `b` with the cache off.
async fn pair(
    engine: &Engine,
    tweak: impl Fn(&mut sigil_server::Settings),
) -> (TestServer, TestServer) {
    let url = TestServer::fresh_database(engine).await;
    let a = TestServer::start(engine, |c| {
        c.database_url = Some(url.clone());
        tweak(c);
    })
    .await;
    let b = TestServer::start(engine, |c| {
        c.database_url = Some(url.clone());
        c.session_cache.enabled = Some(false);
    })
    .await;
    (a, b)
}

#[tokio::test]
async fn sign_out_takes_effect_at_once_on_the_same_instance() {
    for engine in engines() {
        let s = TestServer::start(&engine, |c| {
            c.session_cache.ttl = Some(TimeSpan::Text("1h".into()))
        })
        .await;
        let bearer = bearer_for(&s, "a@b.co", true).await;
        assert_eq!(token_status(&s, &bearer).await, 200);
        assert_eq!(token_status(&s, &bearer).await, 200, "{engine:?}: cached");
        s.sign_out_by_bearer(&bearer).await;
        assert_eq!(token_status(&s, &bearer).await, 401, "{engine:?}");
        let (body, _) = session_of(&s, &bearer, "").await;
        assert_eq!(body, Value::Null, "{engine:?}");
    }
}

#[tokio::test]
async fn expiry_takes_effect_at_once_within_the_cache_lifetime() {
    for engine in engines() {
        let s = TestServer::start(&engine, |c| {
            c.session_cache.ttl = Some(TimeSpan::Text("1h".into()))
        })
        .await;
        // Not remembered: a one-day session that never slides.
        let bearer = bearer_for(&s, "a@b.co", false).await;
        s.advance(Duration::hours(23) + Duration::minutes(30));
        assert_eq!(
            token_status(&s, &bearer).await,
            200,
            "cached now, fresh for an hour"
        );
        s.advance(Duration::minutes(31));
        assert_eq!(token_status(&s, &bearer).await, 401, "{engine:?}: expired");
        let (body, _) = session_of(&s, &bearer, "").await;
        assert_eq!(body, Value::Null);
    }
}

#[tokio::test]
async fn the_sliding_refresh_still_writes_when_due() {
    for engine in engines() {
        let (a, b) = pair(&engine, |c| {
            c.session_cache.ttl = Some(TimeSpan::Text("1h".into()))
        })
        .await;
        let bearer = bearer_for(&a, "a@b.co", true).await;
        let (first, _) = session_of(&b, &bearer, "").await;
        let expires0 = parse_time(first["session"]["expiresAt"].as_str().unwrap());

        // Read into a's cache shortly before the refresh is due, then used from it once due.
        a.advance(Duration::hours(23) + Duration::minutes(50));
        let (cached, headers) = session_of(&a, &bearer, "").await;
        assert!(headers.get("set-cookie").is_none(), "not due yet");
        assert_eq!(
            cached["session"]["expiresAt"],
            first["session"]["expiresAt"]
        );
        a.advance(Duration::minutes(15));
        let (slid, headers) = session_of(&a, &bearer, "").await;
        assert!(headers.get("set-cookie").is_some(), "{engine:?}: refreshed");
        let expires1 = parse_time(slid["session"]["expiresAt"].as_str().unwrap());
        assert!(
            expires1 > expires0 + Duration::hours(23),
            "{expires0} -> {expires1}"
        );

        // Written to the database: the instance without a cache reads the new expiry.
        let (stored, _) = session_of(&b, &bearer, "?disableRefresh=true").await;
        assert_eq!(
            stored["session"]["expiresAt"], slid["session"]["expiresAt"],
            "{engine:?}"
        );
        // And the cached copy moved with it: no second refresh.
        let (again, headers) = session_of(&a, &bearer, "").await;
        assert!(headers.get("set-cookie").is_none());
        assert_eq!(again["session"]["expiresAt"], slid["session"]["expiresAt"]);
    }
}

/// A sign-out on another instance and a user field changed by `sigil user set` reach this
/// instance once its cache lifetime (5 s by default) has passed; until then it may answer from
/// memory (SQLite; PostgreSQL pushes changes at once, and this bound still holds).
#[tokio::test]
async fn another_process_is_seen_within_the_cache_lifetime() {
    for engine in engines() {
        let (a, b) = pair(&engine, |c| {
            c.user_fields = Some(vec![sigil_server::config::UserFieldSettings {
                name: "role".into(),
                kind: sigil_server::config::FieldKind::String,
                default: Some(json!("user")),
            }]);
        })
        .await;
        let bearer = bearer_for(&a, "a@b.co", true).await;
        let (body, _) = session_of(&a, &bearer, "").await;
        assert_eq!(body["user"]["role"], "user");

        // `sigil user set a@b.co role=admin`, from another process on the same database.
        let field = a.auth.config().user_fields[0].clone();
        assert!(
            b.auth
                .store()
                .set_user_field("a@b.co", &field, &json!("admin"), chrono::Utc::now())
                .await
                .unwrap()
        );
        if matches!(engine, Engine::Sqlite) {
            // (On PostgreSQL the change is pushed: see `push.rs`.)
            let (body, _) = session_of(&a, &bearer, "").await;
            assert_eq!(
                body["user"]["role"], "user",
                "{engine:?}: from memory within the lifetime"
            );
        }
        a.advance(Duration::seconds(5));
        let (body, _) = session_of(&a, &bearer, "").await;
        assert_eq!(body["user"]["role"], "admin", "{engine:?}");

        // A sign-out on the other instance.
        assert_eq!(token_status(&a, &bearer).await, 200);
        b.sign_out_by_bearer(&bearer).await;
        a.advance(Duration::seconds(5));
        assert_eq!(token_status(&a, &bearer).await, 401, "{engine:?}");
    }
}

#[tokio::test]
async fn turned_off_every_request_reads_the_database() {
    for engine in engines() {
        let (a, b) = pair(&engine, |c| c.session_cache.enabled = Some(false)).await;
        let bearer = bearer_for(&a, "a@b.co", true).await;
        assert_eq!(token_status(&a, &bearer).await, 200);
        b.sign_out_by_bearer(&bearer).await;
        assert_eq!(token_status(&a, &bearer).await, 401, "{engine:?}: at once");
    }
}
