//! Push invalidation on PostgreSQL: what one instance changes reaches another's session cache and
//! key set at once, without the cache lifetime passing (every server here caches for an hour and
//! no clock moves); a listener that loses its connection falls back to polling and comes back.
//! PostgreSQL only (SQLite has one process).

use std::time::Duration;

use serde_json::{Value, json};
use sigil_server::config::TimeSpan;
use sigil_server::{PushState, PushStatus};
use tokio::sync::watch;

use crate::harness::{Engine, TestServer, engines, fresh_pg_database, proxy_to};

fn postgres() -> Option<String> {
    engines().into_iter().find_map(|e| match e {
        Engine::Postgres(url) => Some(url),
        Engine::Sqlite => None,
    })
}

/// Caches sessions for an hour: only a push can make the instance see another's change.
fn long_cache(c: &mut sigil_server::Settings) {
    c.session_cache.ttl = Some(TimeSpan::Text("1h".into()));
    c.user_fields = Some(vec![sigil_server::config::UserFieldSettings {
        name: "role".into(),
        kind: sigil_server::config::FieldKind::String,
        default: Some(json!("user")),
    }]);
}

async fn on(url: &str, tweak: impl FnOnce(&mut sigil_server::Settings)) -> TestServer {
    let url = url.to_owned();
    TestServer::start(&Engine::Sqlite, move |c| {
        c.database_url = Some(url);
        long_cache(c);
        tweak(c);
    })
    .await
}

async fn bearer_for(s: &TestServer, email: &str) -> String {
    let r = s.sign_up(email, "correct horse").await;
    assert_eq!(r.status(), 200);
    r.headers()["set-auth-token"].to_str().unwrap().to_owned()
}

/// Waits (up to 5 s, without moving any clock) until `holds` is true, checking again after each
/// change applied by push: the arrival of a push is asynchronous, and other changes (a key made
/// on first use) may arrive in between.
async fn eventually(push: &mut watch::Receiver<PushStatus>, holds: impl AsyncFn() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        push.borrow_and_update();
        if holds().await {
            return;
        }
        tokio::time::timeout_at(deadline, push.changed())
            .await
            .expect("the change arrives within 5 s")
            .unwrap();
    }
}

/// Waits (up to 5 s) until the status satisfies `ready`: the arrival of a push is asynchronous.
async fn until(push: &mut watch::Receiver<PushStatus>, ready: impl Fn(&PushStatus) -> bool) {
    tokio::time::timeout(Duration::from_secs(5), push.wait_for(|s| ready(s)))
        .await
        .expect("push status within 5 s")
        .unwrap();
}

fn kid_of(jwt: &str) -> String {
    use base64::Engine as _;
    let header = jwt.split('.').next().unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header)
        .unwrap();
    serde_json::from_slice::<Value>(&bytes).unwrap()["kid"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn token_of(s: &TestServer, bearer: &str) -> reqwest::Response {
    s.token_by_bearer(bearer).await
}

#[tokio::test]
async fn changes_on_one_instance_reach_another_at_once() {
    let Some(admin) = postgres() else {
        return; // reported as SKIPPED by engines()
    };
    let url = fresh_pg_database(&admin).await;
    let a = on(&url, |_| {}).await;
    let b = on(&url, |_| {}).await;
    let mut pushed_to_b = b.auth.push_status();
    assert_eq!(pushed_to_b.borrow().state, PushState::Listening);

    // A sign-out on a: b, which holds the session in its cache, refuses it.
    let bearer = bearer_for(&a, "a@b.co").await;
    assert_eq!(token_of(&b, &bearer).await.status(), 200);
    a.sign_out_by_bearer(&bearer).await;
    eventually(&mut pushed_to_b, async || {
        token_of(&b, &bearer).await.status() == 401
    })
    .await;

    // A user changed by another process (`sigil user set`): b's cached user follows.
    let bearer = bearer_for(&a, "c@d.co").await;
    let r = b.session_by_bearer(&bearer).await;
    assert_eq!(r.json::<Value>().await.unwrap()["user"]["role"], "user");
    let field = a.auth.config().user_fields[0].clone();
    assert!(
        a.auth
            .store()
            .set_user_field("c@d.co", &field, &json!("admin"), chrono::Utc::now())
            .await
            .unwrap()
    );
    eventually(&mut pushed_to_b, async || {
        let r = b.session_by_bearer(&bearer).await;
        r.json::<Value>().await.unwrap()["user"]["role"] == "admin"
    })
    .await;

    // A key rotated with `--now` on a: b publishes it at once, and signs with it once it may.
    let before = kid_of(
        token_of(&b, &bearer).await.json::<Value>().await.unwrap()["token"]
            .as_str()
            .unwrap(),
    );
    let rotated = a.auth.keys().rotate(true).await.unwrap();
    assert_ne!(rotated, before);
    eventually(&mut pushed_to_b, async || published(&b, &rotated).await).await;
    b.advance(sigil_server::keys::IMMEDIATE_SETTLE);
    let token: Value = token_of(&b, &bearer).await.json().await.unwrap();
    assert_eq!(kid_of(token["token"].as_str().unwrap()), rotated);

    // Revoked on a: gone from b's key set at once.
    assert!(a.auth.keys().revoke(&before).await.unwrap());
    eventually(&mut pushed_to_b, async || !published(&b, &before).await).await;
}

async fn published(s: &TestServer, kid: &str) -> bool {
    let jwks: Value = s.get("/jwks").await.json().await.unwrap();
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .any(|k| k["kid"] == kid)
}

/// The listener's connection cut (the database unreachable from that instance): it says so,
/// polls (a cached session is read again after a second — here it cannot be, so the answer is
/// 503 where a listening instance would answer from memory for an hour), and once the database is
/// back it listens again, having dropped what it may have missed.
#[tokio::test]
async fn a_dropped_listener_falls_back_to_polling_and_recovers() {
    let Some(admin) = postgres() else {
        return; // reported as SKIPPED by engines()
    };
    let url = fresh_pg_database(&admin).await;
    let (proxy, via_proxy) = proxy_to(&url).await;
    // `a` reaches the database through the proxy, with no stale answers: what it does while the
    // database is unreachable shows how long it trusts its cache.
    let a = on(&via_proxy, |c| {
        c.database_timeout_secs = Some(1);
        c.session_cache.stale_if_unavailable = Some(TimeSpan::Seconds(0));
    })
    .await;
    let b = on(&url, |_| {}).await;
    let mut pushed_to_a = a.auth.push_status();
    assert_eq!(pushed_to_a.borrow().state, PushState::Listening);
    assert_eq!(pushed_to_a.borrow().connects, 1);

    let kept = bearer_for(&b, "kept@b.co").await;
    let ended = bearer_for(&b, "ended@b.co").await;
    assert_eq!(token_of(&a, &kept).await.status(), 200);
    assert_eq!(token_of(&a, &ended).await.status(), 200);

    proxy.set_up(false);
    until(&mut pushed_to_a, |s| s.state == PushState::Polling).await;
    // Not pushed: a second after its read, `a` asks the database again.
    a.advance(chrono::Duration::seconds(1));
    let r = token_of(&a, &kept).await;
    assert_eq!(r.status(), 503, "polled the database, which is unreachable");
    assert_eq!(
        r.json::<Value>().await.unwrap()["code"],
        "DATABASE_UNAVAILABLE"
    );

    // Signed out on `b` while `a` cannot hear it.
    b.sign_out_by_bearer(&ended).await;
    proxy.set_up(true);
    until(&mut pushed_to_a, |s| {
        s.state == PushState::Listening && s.connects == 2
    })
    .await;
    assert_eq!(
        token_of(&a, &ended).await.status(),
        401,
        "missed, then caught up"
    );
    assert_eq!(token_of(&a, &kept).await.status(), 200);

    // Pushed again: a sign-out on `b` reaches `a` at once, though `a` cached the session for an
    // hour.
    b.sign_out_by_bearer(&kept).await;
    eventually(&mut pushed_to_a, async || {
        token_of(&a, &kept).await.status() == 401
    })
    .await;
}
