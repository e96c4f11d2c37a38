//! The console page (on in dev mode, off in production unless set) and the key timeline route it
//! reads. The page itself is driven in a real browser by `interop/console.sh`.

use serde_json::Value;
use sigil_server::Mode;

use crate::harness::{Engine, TestServer};

#[tokio::test]
async fn the_console_is_on_in_dev_and_off_in_production_unless_set() {
    for (mode, setting, served) in [
        (Mode::Dev, None, true),
        (Mode::Production, None, false),
        (Mode::Production, Some(true), true),
        (Mode::Dev, Some(false), false),
    ] {
        let s = TestServer::start(&Engine::Sqlite, |c| {
            c.mode = Some(mode);
            c.console = setting;
        })
        .await;
        let r = s.client.get(format!("{}/", s.root())).send().await.unwrap();
        assert_eq!(r.status() == 200, served, "{mode:?} {setting:?}");
        if !served {
            continue;
        }
        let headers = r.headers().clone();
        assert_eq!(headers["content-type"], "text/html; charset=utf-8");
        let policy = headers["content-security-policy"].to_str().unwrap();
        for directive in [
            "default-src 'none'",
            "script-src 'self'",
            "frame-ancestors 'none'",
        ] {
            assert!(policy.contains(directive), "{policy}");
        }
        assert!(!policy.contains("unsafe"), "{policy}");
        assert_eq!(headers["x-content-type-options"], "nosniff");
        let page = r.text().await.unwrap();
        assert!(page.contains(r#"data-base-path="/api/auth""#), "{page}");
        assert!(page.contains(r#"data-jwks-path="/jwks""#));
        assert!(page.contains(&format!(r#"data-issuer="{}""#, s.origin())));
        assert!(page.contains("data-audience=\"[&quot;"), "{page}");
        for (asset, kind) in [
            ("/console/console.js", "text/javascript; charset=utf-8"),
            ("/console/console.css", "text/css; charset=utf-8"),
            ("/console/icon.svg", "image/svg+xml"),
        ] {
            let r = s
                .client
                .get(format!("{}{asset}", s.root()))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200, "{asset}");
            assert_eq!(r.headers()["content-type"], kind, "{asset}");
            // Revalidated by its tag.
            let tag = r.headers()["etag"].to_str().unwrap().to_owned();
            let r = s.revalidate(&format!("{}{asset}", s.root()), &tag).await;
            assert_eq!(r.status(), 304, "{asset}");
        }
    }
}

/// `GET /key-timeline`, with the console: a session is required; the answer lists every key with
/// its state and dates, newest first, and carries no private material.
#[tokio::test]
async fn the_key_timeline_needs_a_session_and_shows_states() {
    // Without the console, there is no timeline (and the OpenAPI document does not name it).
    let s = TestServer::start(&Engine::Sqlite, |_| {}).await;
    assert_eq!(s.get("/key-timeline").await.status(), 404);
    let doc: Value = s.get("/openapi.json").await.json().await.unwrap();
    assert!(doc["paths"].get("/api/auth/key-timeline").is_none());

    let s = TestServer::start(&Engine::Sqlite, |c| c.console = Some(true)).await;
    let doc: Value = s.get("/openapi.json").await.json().await.unwrap();
    assert!(doc["paths"].get("/api/auth/key-timeline").is_some());
    let r = s.get("/key-timeline").await;
    assert_eq!(r.status(), 401);
    assert_eq!(r.json::<Value>().await.unwrap()["code"], "UNAUTHORIZED");
    let r = s.sign_up("a@b.co", "correct horse").await;
    let bearer = r.headers()["set-auth-token"].to_str().unwrap().to_owned();
    let first = s.auth.keys().signing_key().await.unwrap();
    let first = first.pair.kid().unwrap().to_owned();
    let next = s.auth.keys().rotate(false).await.unwrap();
    let r = s.get_with_bearer("/key-timeline", &bearer).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let text = r.text().await.unwrap();
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["issuer"], s.origin());
    assert_eq!(
        body["jwksUri"],
        s.url("/jwks").replace(&s.root(), &s.origin())
    );
    assert_eq!(body["algs"], serde_json::json!(["EdDSA"]));
    assert_eq!(body["allowedAudiences"], serde_json::json!([]));
    let keys = body["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 2, "{body}");
    // From the future to the past: the next key (whose `createdAt` is older), then the current.
    assert_eq!(keys[0]["kid"], next.as_str(), "{body}");
    assert_eq!(keys[1]["kid"], first.as_str(), "{body}");
    assert_eq!(
        keys[0]["startsAt"], keys[1]["expiresAt"],
        "it starts when the current ends"
    );
    assert!(keys[1]["startsAt"].is_null(), "{body}");
    let by_kid = |kid: &str| keys.iter().find(|k| k["kid"] == kid).unwrap().clone();
    assert_eq!(by_kid(&first)["state"], "current");
    assert_eq!(by_kid(&next)["state"], "next");
    assert!(by_kid(&next)["startsAt"].is_string());
    assert!(
        by_kid(&first)["expiresAt"].is_string(),
        "it ends when the next starts"
    );
    assert!(by_kid(&first)["publishedUntil"].is_string());
    for secret in ["privateKey", "\"d\"", "\"x\""] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
    // An ended session does not.
    s.sign_out_by_bearer(&bearer).await;
    let r = s.get_with_bearer("/key-timeline", &bearer).await;
    assert_eq!(r.status(), 401);
}
