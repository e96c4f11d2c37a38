//! Every error path answers with the right status and a `{"message","code"}` body, and writes
//! nothing.

use serde_json::{Value, json};

use crate::harness::{Engine, TestServer, cookie_pair, engines};

async fn expect(r: reqwest::Response, status: u16, code: &str) -> reqwest::header::HeaderMap {
    let headers = r.headers().clone();
    assert_eq!(r.status(), status, "expected {code}");
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["code"], code, "{body}");
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
    headers
}

#[tokio::test]
async fn bad_sign_up_input() {
    for engine in engines() {
        let s = TestServer::start(&engine, |_| {}).await;
        let cases = [
            (
                json!({"name": "A", "email": "not-an-email", "password": "correct horse"}),
                400,
                "INVALID_EMAIL",
            ),
            (
                json!({"name": "A", "email": "a@b.co", "password": "short"}),
                400,
                "PASSWORD_TOO_SHORT",
            ),
            (
                json!({"name": "A", "email": "a@b.co", "password": "x".repeat(129)}),
                400,
                "PASSWORD_TOO_LONG",
            ),
            (
                json!({"name": "A", "email": "a@b.co"}),
                400,
                "VALIDATION_ERROR",
            ),
            (
                json!({"email": "a@b.co", "password": "correct horse"}),
                400,
                "VALIDATION_ERROR",
            ),
            (
                json!({"name": 5, "email": "a@b.co", "password": "correct horse"}),
                400,
                "VALIDATION_ERROR",
            ),
            (
                json!({"name": "A", "email": "a@b.co", "password": ["correct horse"]}),
                400,
                "VALIDATION_ERROR",
            ),
            (
                json!({"name": "A", "email": "a@b.co", "password": "correct horse", "rememberMe": "yes"}),
                400,
                "VALIDATION_ERROR",
            ),
            (
                json!({"name": "A", "email": "a@b.co", "password": "correct horse", "callbackURL": "https://evil.example/"}),
                403,
                "INVALID_CALLBACK_URL",
            ),
            (json!(["not", "an", "object"]), 400, "VALIDATION_ERROR"),
        ];
        for (body, status, code) in cases {
            expect(s.post_json("/sign-up/email", body).await, status, code).await;
        }
        let raw = |body: &'static str, ct: &'static str| {
            s.client
                .post(s.url("/sign-up/email"))
                .header("content-type", ct)
                .body(body)
                .send()
        };
        expect(
            raw("{\"name\":", "application/json").await.unwrap(),
            400,
            "VALIDATION_ERROR",
        )
        .await;
        expect(
            raw("name=A", "text/plain").await.unwrap(),
            415,
            "UNSUPPORTED_MEDIA_TYPE",
        )
        .await;
        let huge = format!("{{\"name\":\"{}\"}}", "x".repeat(100 * 1024));
        let r = s
            .client
            .post(s.url("/sign-up/email"))
            .header("content-type", "application/json")
            .body(huge)
            .send()
            .await
            .unwrap();
        expect(r, 413, "PAYLOAD_TOO_LARGE").await;

        // None of that created a user: the email is still free.
        assert_eq!(s.sign_up("a@b.co", "correct horse").await.status(), 200);
        // Duplicate (also in another case).
        expect(
            s.sign_up("A@B.CO", "another horse").await,
            422,
            "USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL",
        )
        .await;
    }
}

/// Issue 10, findings 7 and 8: look-alike addresses, invisible or bidirectional characters and
/// oversized or non-http(s) profile fields are refused at sign-up, and create nothing.
#[tokio::test]
async fn look_alikes_and_unbounded_profile_fields() {
    for engine in engines() {
        let s = TestServer::start(&engine, |_| {}).await;
        let body = |name: &str, email: &str, image: Option<&str>| {
            let mut body = json!({"name": name, "email": email, "password": "correct horse"});
            if let Some(image) = image {
                body["image"] = json!(image);
            }
            body
        };
        let refused = [
            (
                body("Ada", "ada\u{200b}@example.com", None),
                "INVALID_EMAIL",
            ),
            (body("Ada", "a\u{202e}b@example.com", None), "INVALID_EMAIL"),
            (body("Ada", "\u{ff41}da@example.com", None), "INVALID_EMAIL"),
            (body("Ada", "ada@ex\u{e4}mple.com", None), "INVALID_EMAIL"),
            (
                body("Ada\u{200b}", "case1@example.com", None),
                "VALIDATION_ERROR",
            ),
            (
                body("Ada\u{202e}", "case2@example.com", None),
                "VALIDATION_ERROR",
            ),
            (
                body("\u{2066}Ada", "case3@example.com", None),
                "VALIDATION_ERROR",
            ),
            (
                body("Ada\u{feff}", "case4@example.com", None),
                "VALIDATION_ERROR",
            ),
            (
                body("Ada\u{7}", "case5@example.com", None),
                "VALIDATION_ERROR",
            ),
            (
                body(&"n".repeat(300), "case6@example.com", None),
                "VALIDATION_ERROR",
            ),
            (
                body("Ada", "case7@example.com", Some("javascript:alert(1)")),
                "VALIDATION_ERROR",
            ),
            (
                body(
                    "Ada",
                    "case8@example.com",
                    Some("data:image/png;base64,AAAA"),
                ),
                "VALIDATION_ERROR",
            ),
            (
                body("Ada", "case9@example.com", Some("/avatar.png")),
                "VALIDATION_ERROR",
            ),
            (
                body(
                    "Ada",
                    "case10@example.com",
                    Some("https://cdn.example/\u{202e}gnp.exe"),
                ),
                "VALIDATION_ERROR",
            ),
            (
                body(
                    "Ada",
                    "case11@example.com",
                    Some(&format!("https://cdn.example/{}", "a".repeat(2048))),
                ),
                "VALIDATION_ERROR",
            ),
        ];
        for (body, code) in refused {
            expect(s.post_json("/sign-up/email", body.clone()).await, 400, code).await;
        }
        // An account made before the stricter rule can still sign in (no lock-out)...
        expect(
            s.post_json(
                "/sign-in/email",
                json!({"email": "a.@b.co", "password": "correct horse"}),
            )
            .await,
            401,
            "INVALID_EMAIL_OR_PASSWORD",
        )
        .await;
        // ...but sign-in with hidden characters answers INVALID_EMAIL, as before.
        expect(
            s.post_json(
                "/sign-in/email",
                json!({"email": "ada\u{200b}@example.com", "password": "correct horse"}),
            )
            .await,
            400,
            "INVALID_EMAIL",
        )
        .await;
        // Nothing was created: the plain address is still free (and so are the others); a
        // long-but-bounded name and an https image are fine.
        let name = "n".repeat(200);
        let image = "https://cdn.example/avatars/ada.png?size=64";
        let r = s
            .post_json(
                "/sign-up/email",
                body(&name, "ada@example.com", Some(image)),
            )
            .await;
        assert_eq!(r.status(), 200);
        let user: Value = r.json().await.unwrap();
        assert_eq!(user["user"]["name"], name.as_str());
        assert_eq!(user["user"]["image"], image);
    }
}

/// The bounds on name and image follow `max_name_length` and `max_image_url_length`.
#[tokio::test]
async fn profile_field_bounds_are_configurable() {
    let engine = &engines()[0];
    let s = TestServer::start(engine, |c| {
        c.max_name_length = Some(4);
        c.max_image_url_length = Some(24);
    })
    .await;
    let sign_up = |name: &str, email: &str, image: &str| json!({"name": name, "email": email, "password": "correct horse", "image": image});
    for body in [
        sign_up("Adams", "a@b.co", "https://x.example/a.png"),
        sign_up("Ada", "a@b.co", "https://x.example/ada.png"),
    ] {
        expect(
            s.post_json("/sign-up/email", body).await,
            400,
            "VALIDATION_ERROR",
        )
        .await;
    }
    let ok = sign_up("Ada", "a@b.co", "http://x.example/a.png");
    assert_eq!(s.post_json("/sign-up/email", ok).await.status(), 200);
}

#[tokio::test]
async fn bad_sign_in() {
    for engine in engines() {
        let s = TestServer::start(&engine, |_| {}).await;
        s.sign_up("a@b.co", "correct horse").await;
        for (body, status, code) in [
            (
                json!({"email": "a@b.co", "password": "wrong horse"}),
                401,
                "INVALID_EMAIL_OR_PASSWORD",
            ),
            (
                json!({"email": "nobody@b.co", "password": "correct horse"}),
                401,
                "INVALID_EMAIL_OR_PASSWORD",
            ),
            (
                json!({"email": "nope", "password": "correct horse"}),
                400,
                "INVALID_EMAIL",
            ),
            (
                json!({"email": "a@b.co", "password": "x".repeat(129)}),
                400,
                "PASSWORD_TOO_LONG",
            ),
            (json!({"email": "a@b.co"}), 400, "VALIDATION_ERROR"),
        ] {
            expect(s.post_json("/sign-in/email", body).await, status, code).await;
        }
    }
}

#[tokio::test]
async fn origin_checks() {
    for engine in engines() {
        let s = TestServer::start(&engine, |_| {}).await;
        let r = s.sign_up("a@b.co", "correct horse").await;
        let cookie = cookie_pair(&r, "better-auth.session_token").unwrap();
        let post = |origin: Option<&str>| {
            let mut b = s.client.post(s.url("/sign-out")).header("cookie", &cookie);
            if let Some(o) = origin {
                b = b.header("origin", o);
            }
            b.send()
        };
        expect(post(None).await.unwrap(), 403, "MISSING_OR_NULL_ORIGIN").await;
        expect(
            post(Some("null")).await.unwrap(),
            403,
            "MISSING_OR_NULL_ORIGIN",
        )
        .await;
        expect(
            post(Some("https://evil.example")).await.unwrap(),
            403,
            "INVALID_ORIGIN",
        )
        .await;
        // Refused sign-outs did nothing: the session is alive.
        let r = s
            .client
            .get(s.url("/get-session"))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_ne!(r.text().await.unwrap(), "null");
        // Fetch-Metadata on sign-in without cookies.
        let r = s
            .client
            .post(s.url("/sign-in/email"))
            .header("sec-fetch-site", "cross-site")
            .header("sec-fetch-mode", "navigate")
            .json(&json!({"email": "a@b.co", "password": "correct horse"}))
            .send()
            .await
            .unwrap();
        expect(r, 403, "CROSS_SITE_NAVIGATION_LOGIN_BLOCKED").await;
        let r = s
            .client
            .post(s.url("/sign-in/email"))
            .header("sec-fetch-mode", "cors")
            .header("origin", s.origin())
            .json(&json!({"email": "a@b.co", "password": "correct horse"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
}

#[tokio::test]
async fn rate_limit_on_sign_in() {
    for engine in engines() {
        let s = TestServer::start(&engine, |c| c.rate_limit = Some(true)).await;
        let body = json!({"email": "a@b.co", "password": "wrong horse"});
        for _ in 0..3 {
            assert_eq!(
                s.post_json("/sign-in/email", body.clone()).await.status(),
                401
            );
        }
        let headers = expect(
            s.post_json("/sign-in/email", body.clone()).await,
            429,
            "TOO_MANY_REQUESTS",
        )
        .await;
        let retry: u64 = headers["x-retry-after"].to_str().unwrap().parse().unwrap();
        assert!((1..=10).contains(&retry));
        // Other paths have their own budget.
        assert_eq!(s.get("/ok").await.status(), 200);
    }
}

/// Behind a trusted proxy that appends `ip:port`, the client's own `X-Forwarded-For` entries do
/// not choose its bucket; the addresses of one IPv6 /64 share one.
#[tokio::test]
async fn rate_limit_behind_a_proxy() {
    let s = TestServer::start(&crate::harness::Engine::Sqlite, |c| {
        c.rate_limit = Some(true);
        c.trusted_proxies = Some(vec!["127.0.0.1".parse().unwrap()]);
    })
    .await;
    let sign_in = |xff: String| {
        s.client
            .post(s.url("/sign-in/email"))
            .header("x-forwarded-for", xff)
            .json(&json!({"email": "a@b.co", "password": "wrong horse"}))
            .send()
    };
    for i in 0..3 {
        let r = sign_in(format!("6.6.6.{i}, 1.2.3.4:{}", 5000 + i))
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
    }
    expect(
        sign_in("6.6.6.9, 1.2.3.4:5678".into()).await.unwrap(),
        429,
        "TOO_MANY_REQUESTS",
    )
    .await;
    assert_eq!(
        sign_in("1.2.3.5:5678".into()).await.unwrap().status(),
        401,
        "another client has its own budget"
    );
    for i in 1..=3 {
        let r = sign_in(format!("[2001:db8:5:6::{i}]:443")).await.unwrap();
        assert_eq!(r.status(), 401);
    }
    expect(
        sign_in("2001:db8:5:6:ffff::1".into()).await.unwrap(),
        429,
        "TOO_MANY_REQUESTS",
    )
    .await;
}

/// An `Origin` longer than any real one is not trusted, whatever the patterns; many stars do not
/// make matching slow.
#[tokio::test]
async fn overlong_origins_are_invalid() {
    let s = TestServer::start(&crate::harness::Engine::Sqlite, |c| {
        c.trusted_origins = Some(vec![
            "https://*.example.org".into(),
            "https://*.*.example.com".into(),
        ]);
    })
    .await;
    let sign_in = |origin: String| {
        s.client
            .post(s.url("/sign-in/email"))
            .header("origin", origin)
            .json(&json!({"email": "a@b.co", "password": "wrong horse"}))
            .send()
    };
    assert_eq!(
        sign_in("https://a.example.org".into())
            .await
            .unwrap()
            .status(),
        401
    );
    let long_label = format!("https://{}.example.org", "a".repeat(3000));
    expect(sign_in(long_label).await.unwrap(), 403, "INVALID_ORIGIN").await;
    let dots = format!("https://{}example.com", ".".repeat(32_000));
    expect(sign_in(dots).await.unwrap(), 403, "INVALID_ORIGIN").await;
}

#[tokio::test]
async fn unknown_routes_and_methods() {
    for engine in engines() {
        let s = TestServer::start(&engine, |_| {}).await;
        expect(s.get("/nope").await, 404, "NOT_FOUND").await;
        expect(s.get("/sign-in/email").await, 405, "METHOD_NOT_ALLOWED").await;
        expect(
            s.client.post(s.url("/get-session")).send().await.unwrap(),
            405,
            "METHOD_NOT_ALLOWED_DEFER_SESSION_REQUIRED",
        )
        .await;
        let bad_query = s.client.get(s.url("/get-session?disableRefresh=perhaps"));
        expect(bad_query.send().await.unwrap(), 400, "VALIDATION_ERROR").await;
    }
}

#[tokio::test]
async fn database_down_is_503_within_the_timeout() {
    // Nothing listens on port 9 of the loopback: every connection attempt fails at once.
    let s = TestServer::start(&crate::harness::Engine::Sqlite, |c| {
        c.database_url = Some("postgres://sigil:sigil@127.0.0.1:9/sigil".into());
        c.migrate = Some(false);
        c.database_timeout_secs = Some(1);
    })
    .await;
    let started = std::time::Instant::now();
    expect(
        s.sign_up("a@b.co", "correct horse").await,
        503,
        "DATABASE_UNAVAILABLE",
    )
    .await;
    let r = s
        .client
        .get(s.url("/get-session"))
        .header("authorization", "Bearer abcdefghijklmnopqrstuvwxyz012345")
        .send()
        .await
        .unwrap();
    expect(r, 503, "DATABASE_UNAVAILABLE").await;
    // A sign-out that cannot reach the database does not claim success (issue 10): 503, and the
    // cookies stay so that the client retries.
    let r = s
        .client
        .post(s.url("/sign-out"))
        .header("authorization", "Bearer abcdefghijklmnopqrstuvwxyz012345")
        .send()
        .await
        .unwrap();
    assert!(cookie_pair(&r, "better-auth.session_token").is_none());
    expect(r, 503, "DATABASE_UNAVAILABLE").await;
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
}

#[tokio::test]
async fn cors_only_for_trusted_origins() {
    let s = TestServer::start(&crate::harness::Engine::Sqlite, |c| {
        c.trusted_origins = Some(vec!["https://app.example.com".into()]);
    })
    .await;
    let preflight = |origin: &'static str| {
        s.client
            .request(reqwest::Method::OPTIONS, s.url("/sign-in/email"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type")
            .send()
    };
    let r = preflight("https://app.example.com").await.unwrap();
    assert_eq!(
        r.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    assert_eq!(r.headers()["access-control-allow-credentials"], "true");
    let r = preflight("https://evil.example").await.unwrap();
    assert!(r.headers().get("access-control-allow-origin").is_none());

    // An actual request from the trusted origin can read set-auth-token.
    let r = s
        .client
        .post(s.url("/sign-up/email"))
        .header("origin", "https://app.example.com")
        .json(&json!({"name": "A", "email": "a@b.co", "password": "correct horse"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    let exposed: Vec<String> = r
        .headers()
        .get_all("access-control-expose-headers")
        .iter()
        .flat_map(|v| {
            v.to_str()
                .unwrap()
                .split(',')
                .map(|s| s.trim().to_owned())
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(exposed.iter().any(|h| h == "set-auth-token"), "{exposed:?}");
}

#[tokio::test]
async fn recovers_when_the_database_comes_back() {
    let Some((s, proxy)) = crate::harness::server_behind_proxy().await else {
        return; // reported as SKIPPED by engines()
    };
    let r = s.sign_up("a@b.co", "correct horse").await;
    assert_eq!(r.status(), 200);
    let bearer = r.headers()["set-auth-token"].to_str().unwrap().to_owned();
    let session = || {
        s.client
            .get(s.url("/get-session"))
            .header("authorization", format!("Bearer {bearer}"))
            .send()
    };

    proxy.set_up(false);
    let started = std::time::Instant::now();
    expect(session().await.unwrap(), 503, "DATABASE_UNAVAILABLE").await;
    assert!(started.elapsed() < std::time::Duration::from_secs(5));

    proxy.set_up(true);
    // The pool drops dead connections and opens new ones; allow it a few attempts.
    let mut recovered = false;
    for _ in 0..20 {
        let r = session().await.unwrap();
        if r.status() == 200 {
            let body: Value = r.json().await.unwrap();
            assert_eq!(body["user"]["email"], "a@b.co");
            recovered = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(
        recovered,
        "the server did not recover after the database came back"
    );
}

/// A sign-out that could not delete the session says so (503, cookies kept) instead of
/// reporting success while the session stays valid; once the database answers, it works.
#[tokio::test]
async fn sign_out_that_did_not_happen_is_not_reported_done() {
    let Some((s, proxy)) = crate::harness::server_behind_proxy().await else {
        return; // reported as SKIPPED by engines()
    };
    let r = s.sign_up("a@b.co", "correct horse").await;
    assert_eq!(r.status(), 200);
    let bearer = r.headers()["set-auth-token"].to_str().unwrap().to_owned();
    let sign_out = || {
        s.client
            .post(s.url("/sign-out"))
            .header("authorization", format!("Bearer {bearer}"))
            .send()
    };
    proxy.set_up(false);
    let r = sign_out().await.unwrap();
    assert!(r.headers().get("set-cookie").is_none(), "cookies kept");
    expect(r, 503, "DATABASE_UNAVAILABLE").await;
    proxy.set_up(true);
    let mut done = false;
    for _ in 0..20 {
        let r = sign_out().await.unwrap();
        if r.status() == 200 {
            done = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(done, "sign-out works once the database answers");
    let r = s.session_by_bearer(&bearer).await;
    assert_eq!(r.text().await.unwrap(), "null", "the session is gone");
}

/// The SQLite file deleted and restored from a copy while the server runs: pooled connections
/// would keep writing into the deleted file, so every call answers 503 instead — no sign-up is
/// reported done that is not in the file at the path — and `file_lost` fires for the supervisor.
#[tokio::test]
async fn a_replaced_sqlite_file_is_never_written_through() {
    let s = TestServer::start(&Engine::Sqlite, |_| {}).await;
    assert_eq!(s.sign_up("first@b.co", "correct horse").await.status(), 200);
    let db = s.auth.config().data_dir.join("t.db");
    let copy = db.with_extension("copy");
    std::fs::copy(&db, &copy).unwrap();
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
    std::fs::copy(&copy, &db).unwrap();
    for email in ["second@b.co", "third@b.co"] {
        expect(
            s.sign_up(email, "correct horse").await,
            503,
            "DATABASE_UNAVAILABLE",
        )
        .await;
    }
    assert!(s.auth.store().check_file().is_err());
    tokio::time::timeout(
        std::time::Duration::from_secs(1),
        s.auth.store().file_lost(),
    )
    .await
    .expect("file_lost resolves");
}

/// Readiness: 200 with the signing key once the database answers (the first key is made on the
/// way, as a first token would); 503 `NOT_READY` naming the database when it does not, within the
/// check's second; 200 again once it is back. Liveness (`/ok`) answers throughout.
#[tokio::test]
async fn readiness_follows_the_database_and_the_signing_key() {
    let s = TestServer::start(&Engine::Sqlite, |_| {}).await;
    let r = s.get("/ready").await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["ready"], true);
    assert_eq!(body["database"], "ok");
    assert!(
        body["signingKey"].as_str().is_some_and(|k| !k.is_empty()),
        "{body}"
    );
    assert_eq!(body["changes"], "none", "SQLite: nothing is pushed");

    let Some((s, proxy)) = crate::harness::server_behind_proxy().await else {
        return; // reported as SKIPPED by engines()
    };
    let body: Value = s.get("/ready").await.json().await.unwrap();
    assert_eq!(body["changes"], "listening", "{body}");
    proxy.set_up(false);
    let started = std::time::Instant::now();
    let r = s.get("/ready").await;
    assert!(started.elapsed() < std::time::Duration::from_secs(3));
    let status = r.status();
    let body: Value = r.json().await.unwrap();
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["code"], "NOT_READY");
    assert!(
        body["message"].as_str().unwrap().contains("database"),
        "{body}"
    );
    assert_eq!(s.get("/ok").await.status(), 200, "alive all the same");
    proxy.set_up(true);
    let mut ready = false;
    for _ in 0..30 {
        if s.get("/ready").await.status() == 200 {
            ready = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(ready, "ready again once the database answers");
}
