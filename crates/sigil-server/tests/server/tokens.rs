//! JWT issuing: `/token`, `set-auth-jwt`, `/jwks` — Better Auth's plugin checklist (reference §7,
//! the items that apply) over all five algorithms × key encryption on/off, on every engine; key
//! creation under concurrency; faults.

use serde_json::{Value, json};
use sigil_jose::{Alg, Validation, b64, verify_jwt};
use sigil_server::KeyState;
use sigil_server::store::Placement;

use crate::harness::{Engine, TestServer, engines, header_of, jwks};

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

async fn bearer_for(s: &TestServer, email: &str) -> (String, Value) {
    let r = s.sign_up(email, "correct horse").await;
    assert_eq!(r.status(), 200);
    let bearer = r.headers()["set-auth-token"].to_str().unwrap().to_owned();
    let body: Value = r.json().await.unwrap();
    (bearer, body["user"].clone())
}

/// Each stored key's state, as `sigil keys list` shows it.
async fn key_states(s: &TestServer) -> std::collections::HashMap<String, KeyState> {
    s.auth
        .keys()
        .list()
        .await
        .unwrap()
        .into_iter()
        .map(|(r, st)| (r.id, st))
        .collect()
}

/// The kid of the token `/token` answers for this session.
async fn signing_kid(s: &TestServer, bearer: &str) -> String {
    header_of(&token_for(s, bearer).await)["kid"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The JWT `/token` answers for this session (which must be valid).
async fn token_for(s: &TestServer, bearer: &str) -> String {
    let body: Value = s.token_by_bearer(bearer).await.json().await.unwrap();
    body["token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn every_alg_with_and_without_encryption() {
    for engine in engines() {
        for alg in Alg::SIGNING {
            for encrypted in [true, false] {
                let case = format!("{engine:?} {alg} encrypted={encrypted}");
                let s = TestServer::start(&engine, |c| {
                    c.jwt.alg = Some(alg.to_string());
                    c.jwks.disable_private_key_encryption = Some(!encrypted);
                })
                .await;
                let (bearer, user) = bearer_for(&s, "a@b.co").await;

                // /token (§7 items 2, 8)
                let r = s.token_by_bearer(&bearer).await;
                assert_eq!(r.status(), 200, "{case}");
                assert_eq!(r.headers()["cache-control"], "no-store");
                let token = r.json::<Value>().await.unwrap()["token"]
                    .as_str()
                    .unwrap()
                    .to_owned();
                let header = header_of(&token);
                assert_eq!(header["alg"], alg.as_str(), "{case}");
                assert_eq!(header["typ"], "JWT");

                // /jwks (items 3, 6): kty, crv, alg, member lengths, public members only.
                let (doc, set) = jwks(&s).await;
                let key = &doc["keys"][0];
                assert_eq!(doc["keys"].as_array().unwrap().len(), 1, "{case}");
                assert_eq!(key["alg"], alg.as_str());
                assert_eq!(key["use"], "sig");
                assert_eq!(key["kid"], header["kid"]);
                let len = |m: &str| key[m].as_str().unwrap().len();
                match alg {
                    Alg::EdDSA => assert_eq!(
                        (key["kty"].as_str(), key["crv"].as_str(), len("x")),
                        (Some("OKP"), Some("Ed25519"), 43)
                    ),
                    Alg::ES256 => assert_eq!(
                        (key["crv"].as_str(), len("x"), len("y")),
                        (Some("P-256"), 43, 43)
                    ),
                    Alg::ES512 => assert_eq!(
                        (key["crv"].as_str(), len("x"), len("y")),
                        (Some("P-521"), 88, 88)
                    ),
                    _ => assert_eq!((key["kty"].as_str(), len("n")), (Some("RSA"), 342)),
                }
                for private in ["d", "p", "q", "dp", "dq", "qi"] {
                    assert!(key.get(private).is_none(), "{case}: {private} published");
                }
                // The row carries alg and crv (§7 items 64-65); the kid is the RFC 7638 thumbprint.
                let rows = s.auth.keys().list().await.unwrap();
                let (row, state) = &rows[0];
                assert_eq!(
                    (row.alg.as_deref(), *state),
                    (Some(alg.as_str()), KeyState::Current)
                );
                let want_crv = match alg {
                    Alg::EdDSA => Some("Ed25519"),
                    Alg::ES256 => Some("P-256"),
                    Alg::ES512 => Some("P-521"),
                    _ => None,
                };
                assert_eq!(row.crv.as_deref(), want_crv, "{case}");
                assert_eq!(Some(row.id.as_str()), set.keys()[0].kid());
                assert_eq!(row.id, set.keys()[0].thumbprint());
                assert_eq!(
                    row.private_key.starts_with('{'),
                    !encrypted,
                    "{case}: encryption at rest"
                );

                // Verifies against the JWKS with iss and aud (items 4, 10); sub = user id (5, 11).
                let origin = s.origin();
                let policy = Validation::new([alg]).issuer(&origin).audience(&origin);
                let claims = verify_jwt(&token, &set, &policy, now()).unwrap();
                assert_eq!(claims.sub.as_deref(), user["id"].as_str(), "{case}");
                assert_eq!(claims.extra()["id"], user["id"]);
                assert_eq!(claims.extra()["email"], "a@b.co");
                assert_eq!(claims.exp.unwrap() - claims.iat.unwrap(), 900);

                // set-auth-jwt on get-session (items 1, 9), verifiable the same way.
                let r = s.session_by_bearer(&bearer).await;
                let jwt = r.headers()["set-auth-jwt"].to_str().unwrap().to_owned();
                let exposed = r.headers()["access-control-expose-headers"]
                    .to_str()
                    .unwrap()
                    .to_owned();
                assert!(exposed.contains("set-auth-jwt"), "{exposed}");
                verify_jwt(&jwt, &set, &policy, now()).unwrap();
            }
        }
    }
}

/// An expired session gets no token, and its row is deleted on the way (as get-session does):
/// turning the clock back does not revive it.
#[tokio::test]
async fn token_deletes_an_expired_session() {
    for engine in engines() {
        let s = TestServer::start(&engine, |_| {}).await;
        let (bearer, _) = bearer_for(&s, "a@b.co").await;
        assert_eq!(s.token_by_bearer(&bearer).await.status(), 200);
        s.advance(chrono::Duration::days(8));
        assert_eq!(s.token_by_bearer(&bearer).await.status(), 401);
        s.advance(chrono::Duration::days(-8));
        assert_eq!(
            s.token_by_bearer(&bearer).await.status(),
            401,
            "the row is gone"
        );
    }
}

#[tokio::test]
async fn token_needs_a_session_and_never_accepts_a_jwt() {
    for engine in engines() {
        let s = TestServer::start(&engine, |_| {}).await;
        let r = s.get("/token").await;
        assert_eq!(r.status(), 401);
        assert_eq!(
            r.json::<Value>().await.unwrap(),
            json!({"message": "Unauthorized", "code": "UNAUTHORIZED"})
        );
        let (bearer, _) = bearer_for(&s, "a@b.co").await;
        let token = token_for(&s, &bearer).await;
        // The JWT itself is not a session credential, for /token or get-session.
        let r = s.token_by_bearer(&token).await;
        assert_eq!(r.status(), 401);
        let r = s.session_by_bearer(&token).await;
        assert!(r.headers().get("set-auth-jwt").is_none());
        assert_eq!(r.text().await.unwrap(), "null");
        // No session, no set-auth-jwt.
        let r = s.get("/get-session").await;
        assert!(r.headers().get("set-auth-jwt").is_none());
        // Server-only: there is no HTTP route for signing arbitrary payloads (§7 item 14).
        assert_eq!(
            s.client
                .post(s.url("/sign-jwt"))
                .send()
                .await
                .unwrap()
                .status(),
            404
        );
    }
}

#[tokio::test]
async fn jwks_caching_headers() {
    let s = TestServer::start(&Engine::Sqlite, |c| {
        c.jwks.max_age = Some(sigil_server::config::TimeSpan::Seconds(120))
    })
    .await;
    let r = s.get("/jwks").await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "public, max-age=120");
    let etag = r.headers()["etag"].to_str().unwrap().to_owned();
    assert!(etag.starts_with('"') && etag.ends_with('"') && etag.len() > 10);
    let r = s.revalidate(&s.url("/jwks"), &etag).await;
    assert_eq!(r.status(), 304);
    assert_eq!(r.headers()["etag"], etag.as_str());
    assert!(r.text().await.unwrap().is_empty());
    let r = s
        .client
        .get(s.url("/jwks"))
        .header("if-none-match", "\"other\"")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // A configured path replaces /jwks (§7 item 27).
    let moved = TestServer::start(&Engine::Sqlite, |c| {
        c.jwks.path = Some("/.well-known/jwks.json".into())
    })
    .await;
    assert_eq!(moved.get("/.well-known/jwks.json").await.status(), 200);
    assert_eq!(moved.get("/jwks").await.status(), 404);
}

#[tokio::test]
async fn concurrent_first_requests_create_one_key() {
    for engine in engines() {
        let s = TestServer::start(&engine, |c| c.jwt.alg = Some("ES256".into())).await;
        let (bearer, _) = bearer_for(&s, "a@b.co").await;
        let mut requests = tokio::task::JoinSet::new();
        for _ in 0..50 {
            let (client, url, auth) = (
                s.client.clone(),
                s.url("/token"),
                format!("Bearer {bearer}"),
            );
            requests.spawn(async move {
                client
                    .get(url)
                    .header("authorization", auth)
                    .send()
                    .await
                    .unwrap()
            });
        }
        let mut kids = std::collections::BTreeSet::new();
        while let Some(r) = requests.join_next().await {
            let r = r.unwrap();
            assert_eq!(r.status(), 200);
            let token = r.json::<Value>().await.unwrap()["token"]
                .as_str()
                .unwrap()
                .to_owned();
            kids.insert(header_of(&token)["kid"].as_str().unwrap().to_owned());
        }
        assert_eq!(kids.len(), 1, "{engine:?}: {kids:?}");
        let (doc, _) = jwks(&s).await;
        assert_eq!(doc["keys"].as_array().unwrap().len(), 1, "{engine:?}");
    }
}

#[tokio::test]
async fn two_servers_on_one_database_create_one_key() {
    for engine in engines() {
        let url = TestServer::fresh_database(&engine).await;
        let (a, b) = tokio::join!(
            TestServer::start(&engine, |c| c.database_url = Some(url.clone())),
            TestServer::start(&engine, |c| c.database_url = Some(url.clone())),
        );
        let (bearer, _) = bearer_for(&a, "a@b.co").await;
        let (ta, tb) = tokio::join!(a.token_by_bearer(&bearer), b.token_by_bearer(&bearer));
        let ka =
            header_of(ta.json::<Value>().await.unwrap()["token"].as_str().unwrap())["kid"].clone();
        let kb =
            header_of(tb.json::<Value>().await.unwrap()["token"].as_str().unwrap())["kid"].clone();
        assert_eq!(ka, kb, "{engine:?}");
        assert_eq!(jwks(&a).await.0["keys"].as_array().unwrap().len(), 1);
        assert_eq!(jwks(&b).await.0["keys"].as_array().unwrap().len(), 1);
    }
}

#[tokio::test]
async fn changed_alg_gets_its_own_key_and_old_tokens_still_verify() {
    for engine in engines() {
        let url = TestServer::fresh_database(&engine).await;
        let public = Some("https://auth.example.test".to_owned());
        let first = TestServer::start(&engine, |c| {
            c.database_url = Some(url.clone());
            c.base_url = public.clone();
        })
        .await;
        let (bearer, _) = bearer_for(&first, "a@b.co").await;
        let old = token_for(&first, &bearer).await;
        assert_eq!(header_of(&old)["alg"], "EdDSA");
        drop(first);
        let second = TestServer::start(&engine, |c| {
            c.database_url = Some(url.clone());
            c.base_url = public.clone();
            c.jwt.alg = Some("ES256".into());
        })
        .await;
        let new = token_for(&second, &bearer).await;
        assert_eq!(header_of(&new)["alg"], "ES256");
        let (doc, set) = jwks(&second).await;
        assert_eq!(doc["keys"].as_array().unwrap().len(), 2, "{engine:?}");
        let origin = second.origin();
        let policy = Validation::new([Alg::EdDSA, Alg::ES256])
            .issuer(&origin)
            .audience(&origin);
        verify_jwt(&old, &set, &policy, now()).unwrap();
        verify_jwt(&new, &set, &policy, now()).unwrap();
    }
}

#[tokio::test]
async fn wrong_secret_refuses_to_start_with_the_key_named() {
    for engine in engines() {
        let url = TestServer::fresh_database(&engine).await;
        let first = TestServer::start(&engine, |c| c.database_url = Some(url.clone())).await;
        let (doc, _) = jwks(&first).await;
        let kid = doc["keys"][0]["kid"].as_str().unwrap().to_owned();
        let err = TestServer::try_start(&engine, |c| {
            c.database_url = Some(url.clone());
            c.secret = Some("a-different-secret-Q8vF2lMz7Xt1Rb9nK4pW6sY0cH3j".into());
        })
        .await
        .err()
        .expect("start must be refused");
        // The error chain, as `sigil serve` prints it: each message once.
        let mut message = err.to_string();
        let mut cause = std::error::Error::source(&err);
        while let Some(c) = cause {
            message = format!("{message}: {c}");
            cause = c.source();
        }
        assert_eq!(message.matches(&kid).count(), 2, "{message}"); // the key, and its revoke command
        assert!(message.contains("secret"), "{message}");
    }
}

#[tokio::test]
async fn database_down_jwks_from_memory_token_503() {
    let Some((s, proxy)) = crate::harness::server_behind_proxy().await else {
        return; // reported as SKIPPED by engines()
    };
    let (bearer, _) = bearer_for(&s, "a@b.co").await;
    assert_eq!(s.token_by_bearer(&bearer).await.status(), 200);
    proxy.set_up(false);
    let r = s.get("/jwks").await;
    assert_eq!(r.status(), 200, "the key set is served from memory");
    let r = s.token_by_bearer(&bearer).await;
    assert_eq!(
        r.status(),
        200,
        "the session is in the cache for its lifetime"
    );
    // Past its lifetime, the cached session still answers while the database is unavailable
    // (`stale_if_unavailable`, 1 min by default)...
    s.advance(chrono::Duration::seconds(5));
    assert_eq!(s.token_by_bearer(&bearer).await.status(), 200);
    s.advance(chrono::Duration::seconds(30));
    assert_eq!(s.token_by_bearer(&bearer).await.status(), 200);
    // ...and not past that.
    s.advance(chrono::Duration::seconds(25));
    let r = s.token_by_bearer(&bearer).await;
    assert_eq!(r.status(), 503);
    assert_eq!(
        r.json::<Value>().await.unwrap()["code"],
        "DATABASE_UNAVAILABLE"
    );
    proxy.set_up(true);
}

/// A session the database said is gone never stands in for it later: deleted by a writer that
/// announces nothing (by hand, a Better Auth node), refused once the cache lifetime has passed,
/// and still refused when the database then becomes unreachable.
#[tokio::test]
async fn a_session_the_database_denied_never_stands_in() {
    use sqlx::Connection;
    let Some((s, proxy, direct)) = crate::harness::server_behind_proxy_with_url().await else {
        return; // reported as SKIPPED by engines()
    };
    let (bearer, _) = bearer_for(&s, "a@b.co").await;
    assert_eq!(s.token_by_bearer(&bearer).await.status(), 200);
    let mut conn = sqlx::PgConnection::connect(&direct).await.unwrap();
    sqlx::query(r#"delete from "session""#)
        .execute(&mut conn)
        .await
        .unwrap();
    s.advance(chrono::Duration::seconds(6));
    assert_eq!(s.token_by_bearer(&bearer).await.status(), 401);
    proxy.set_up(false);
    let r = s.token_by_bearer(&bearer).await;
    assert_eq!(r.status(), 503, "not the entry from before the delete");
    proxy.set_up(true);
}

/// Rotation with a controlled clock: the next key is published before it signs, no token ever
/// carries a kid that was not already published, the retired key stays for the grace period and
/// then leaves, revoke is immediate.
#[tokio::test]
async fn rotation_lifecycle() {
    use chrono::Duration;
    use sigil_server::config::TimeSpan;
    for engine in engines() {
        let s = TestServer::start(&engine, |c| {
            c.jwks.rotation_interval = Some(TimeSpan::Text("1h".into()));
            c.jwks.max_age = Some(TimeSpan::Text("5m".into()));
            c.jwks.grace_period = Some(TimeSpan::Text("2h".into()));
        })
        .await;
        let (bearer, _) = bearer_for(&s, "a@b.co").await;
        let mut published = std::collections::BTreeSet::new();
        let kids_of = |doc: &Value| -> Vec<String> {
            doc["keys"]
                .as_array()
                .unwrap()
                .iter()
                .map(|k| k["kid"].as_str().unwrap().to_owned())
                .collect()
        };
        let token_kid = async || {
            let t = token_for(&s, &bearer).await;
            header_of(&t)["kid"].as_str().unwrap().to_owned()
        };

        let k1 = token_kid().await;
        let doc = jwks(&s).await.0;
        published.extend(kids_of(&doc));
        assert_eq!(kids_of(&doc), vec![k1.clone()]);

        // 50 minutes in: nothing to do yet.
        s.advance(Duration::minutes(50));
        s.auth.keys().tick().await.unwrap();
        assert_eq!(kids_of(&jwks(&s).await.0).len(), 1);
        // 54 minutes in (within max-age + 1 min of the switch): the key watch publishes the
        // successor...
        s.advance(Duration::minutes(4));
        s.auth.keys().tick().await.unwrap();
        let r = s.get("/jwks").await;
        let max_age: u64 = r.headers()["cache-control"]
            .to_str()
            .unwrap()
            .trim_start_matches("public, max-age=")
            .parse()
            .unwrap();
        assert_eq!(max_age, 300);
        let doc: Value = r.json().await.unwrap();
        published.extend(kids_of(&doc));
        assert_eq!(kids_of(&doc).len(), 2, "{engine:?}");
        let k2 = kids_of(&doc).into_iter().find(|k| *k != k1).unwrap();
        // ...but does not sign yet; as the switch nears, caches are told to expire by then.
        assert_eq!(token_kid().await, k1);
        s.advance(Duration::minutes(4));
        let r = s.get("/jwks").await;
        let cache = r.headers()["cache-control"].to_str().unwrap().to_owned();
        let max_age: u64 = cache
            .trim_start_matches("public, max-age=")
            .parse()
            .unwrap();
        assert!(
            max_age <= 120,
            "cache lifetime bounded by the switch at 60 min: {max_age}"
        );

        // Past the hour: the successor signs; the old key is retired but still published.
        s.advance(Duration::minutes(3));
        let kid = token_kid().await;
        assert_eq!(kid, k2);
        assert!(
            published.contains(&kid),
            "a token carried a kid that was never published"
        );
        let doc = jwks(&s).await.0;
        assert!(kids_of(&doc).contains(&k1));
        let states = key_states(&s).await;
        assert_eq!(
            (states.get(&k1), states.get(&k2)),
            (Some(&KeyState::Retired), Some(&KeyState::Current)),
            "{states:?}"
        );

        // After the grace period (2 h after k1 stopped signing), k1 leaves the key set.
        s.advance(Duration::hours(2));
        s.auth.keys().tick().await.unwrap();
        let doc = jwks(&s).await.0;
        assert!(
            !kids_of(&doc).contains(&k1),
            "{engine:?}: retired key still published after grace"
        );

        // Revoke is immediate: the current key disappears and a new one signs.
        let current = token_kid().await;
        assert!(s.auth.keys().revoke(&current).await.unwrap());
        let doc = jwks(&s).await.0;
        assert!(!kids_of(&doc).contains(&current));
        let after = token_kid().await;
        assert_ne!(after, current);
        assert!(kids_of(&jwks(&s).await.0).contains(&after));
    }
}

#[tokio::test]
async fn scheduled_and_immediate_rotate() {
    for engine in engines() {
        let s = TestServer::start(&engine, |_| {}).await;
        let (bearer, _) = bearer_for(&s, "a@b.co").await;
        let kid = |t: String| header_of(&t)["kid"].as_str().unwrap().to_owned();
        let token = async || token_for(&s, &bearer).await;
        let k1 = kid(token().await);
        let k2 = s.auth.keys().rotate(false).await.unwrap();
        // Published now, signing only after the lead.
        let doc = jwks(&s).await.0;
        assert_eq!(doc["keys"].as_array().unwrap().len(), 2);
        assert_eq!(kid(token().await), k1);
        s.advance(s.auth.keys().publish_lead() + chrono::Duration::seconds(1));
        assert_eq!(kid(token().await), k2);
        // `--now`: published at once, signing once every instance has it.
        let k3 = s.auth.keys().rotate(true).await.unwrap();
        let doc = jwks(&s).await.0;
        assert!(
            doc["keys"]
                .as_array()
                .unwrap()
                .iter()
                .any(|k| k["kid"] == k3.as_str())
        );
        assert_eq!(kid(token().await), k2);
        s.advance(sigil_server::keys::IMMEDIATE_SETTLE);
        assert_eq!(kid(token().await), k3);
        // Revoking the key that signs: nothing else is published, so a new key signs.
        assert!(s.auth.keys().revoke(&k3).await.unwrap());
        let k4 = kid(token().await);
        assert!(k4 != k3 && k4 != k2, "{k4}");
        // Rewrap with the same secret changes nothing.
        assert_eq!(s.auth.keys().rewrap().await.unwrap(), 0);
    }
}

/// The key a Better Auth node sharing the database signs with, by its rule (the newest row of its
/// algorithm, or with no `alg`, that has not expired, by `createdAt` — a `createdAt` in the future
/// counts as the newest; ties go to the database's order, so a tie is a failure here): Sigil
/// writes rotations so that this is always Sigil's own signing key.
async fn better_auth_signing_kid(s: &TestServer) -> Option<String> {
    let now = s.now();
    let live: Vec<_> = s
        .auth
        .keys()
        .list()
        .await
        .unwrap()
        .into_iter()
        .map(|(row, _)| row)
        .filter(|r| r.alg.as_deref().is_none_or(|a| a == "EdDSA"))
        .filter(|r| r.expires_at.is_none_or(|e| e > now))
        .collect();
    let newest = live.iter().map(|r| r.created_at).max()?;
    let chosen: Vec<String> = live
        .into_iter()
        .filter(|r| r.created_at == newest)
        .map(|r| r.id)
        .collect();
    assert_eq!(
        chosen.len(),
        1,
        "Better Auth would pick by the database's order: {chosen:?}"
    );
    chosen.into_iter().next()
}

/// Through scheduled and immediate rotations, a successor replaced before its start, and its
/// revocation, a Better Auth node on the same table would sign with the key Sigil signs with —
/// never with a successor before its start — and `sigil keys list` says which one waits.
#[tokio::test]
async fn better_auth_nodes_sign_with_sigils_key_through_rotations() {
    for engine in engines() {
        let s = TestServer::start(&engine, |_| {}).await;
        let (bearer, _) = bearer_for(&s, "a@b.co").await;
        let sigil_kid = async || {
            header_of(&token_for(&s, &bearer).await)["kid"]
                .as_str()
                .unwrap()
                .to_owned()
        };
        let agree = async |expected: &str, step: &str| {
            assert_eq!(sigil_kid().await, expected, "{engine:?} {step}: Sigil");
            assert_eq!(
                better_auth_signing_kid(&s).await.as_deref(),
                Some(expected),
                "{engine:?} {step}: Better Auth's rule"
            );
        };
        let k1 = sigil_kid().await;
        agree(&k1, "first key").await;
        let k2 = s.auth.keys().rotate(false).await.unwrap();
        agree(&k1, "scheduled rotation, before its start").await;
        assert_eq!(key_states(&s).await[&k2], KeyState::Next);
        s.advance(s.auth.keys().publish_lead() + chrono::Duration::seconds(1));
        agree(&k2, "after the start").await;
        assert_eq!(key_states(&s).await[&k1], KeyState::Retired);
        let k3 = s.auth.keys().rotate(true).await.unwrap();
        agree(&k2, "--now, within the settle time").await;
        assert_eq!(key_states(&s).await[&k3], KeyState::Next);
        // Rotating again while k3 waits: k3 is retired unused, k4 waits the full lead.
        let k4 = s.auth.keys().rotate(false).await.unwrap();
        let states = key_states(&s).await;
        assert_eq!(states[&k3], KeyState::Retired, "{engine:?}");
        assert_eq!(states[&k4], KeyState::Next, "{engine:?}");
        s.advance(sigil_server::keys::IMMEDIATE_SETTLE);
        agree(&k2, "past k3's settle time, k4 not due").await;
        s.advance(s.auth.keys().publish_lead());
        agree(&k4, "k4's start").await;
        // Revoking the signing key while a successor waits: the successor signs at once.
        let k5 = s.auth.keys().rotate(false).await.unwrap();
        assert!(s.auth.keys().revoke(&k4).await.unwrap());
        agree(&k5, "the signing key revoked").await;
        assert_eq!(
            key_states(&s).await.len(),
            4,
            "{engine:?}: no key made besides"
        );
    }
}

/// Two keys made in the same instant that never expire (Better Auth's concurrent first
/// requests), then two rotations on two instances at once: after the start one key signs, the
/// same for Sigil and for Better Auth's rule, and no key is made besides.
#[tokio::test]
async fn rotations_over_duplicate_keys_and_at_once_agree() {
    for engine in engines() {
        let url = TestServer::fresh_database(&engine).await;
        let start = async || {
            TestServer::start(&engine, |c| {
                c.database_url = Some(url.clone());
                c.secret = Some(BA_SECRET.into());
            })
            .await
        };
        let a = start().await;
        let created = a.now() - chrono::Duration::hours(1);
        for id in ["dup-a", "dup-b"] {
            let mut r = row(id, BA_PUBLIC, BA_PRIVATE, Some("EdDSA"));
            r.created_at = created;
            a.auth
                .store()
                .insert_key_if(&r, |_| Some(Placement::as_is(&r)))
                .await
                .unwrap();
        }
        a.auth.keys().reload().await.unwrap();
        let b = start().await;
        let (bearer, _) = bearer_for(&a, "a@b.co").await;
        let kid = async |s: &TestServer| {
            header_of(&token_for(s, &bearer).await)["kid"]
                .as_str()
                .unwrap()
                .to_owned()
        };
        let (k1, k2) = tokio::join!(a.auth.keys().rotate(false), b.auth.keys().rotate(false));
        let (k1, k2) = (k1.unwrap(), k2.unwrap());
        let lead = a.auth.keys().publish_lead() + chrono::Duration::seconds(1);
        a.advance(lead);
        b.advance(lead);
        b.auth.keys().refresh_if_changed().await.unwrap();
        let signing = kid(&a).await;
        assert!(signing == k1 || signing == k2, "{engine:?}: {signing}");
        assert_eq!(kid(&b).await, signing, "{engine:?}");
        assert_eq!(
            better_auth_signing_kid(&a).await.as_deref(),
            Some(signing.as_str())
        );
        assert_eq!(
            key_states(&a).await.len(),
            4,
            "{engine:?}: no key made besides"
        );
    }
}

/// A scheduled rotation, then `--now`: the immediate key signs from its settle time until the
/// scheduled key's start, which then takes over; revoking the immediate key lets the scheduled
/// one (published since the first rotation) sign at once, with no key made — for Sigil and for
/// Better Auth's rule.
#[tokio::test]
async fn an_immediate_rotation_keeps_the_scheduled_successor() {
    for engine in engines() {
        let s = TestServer::start(&engine, |_| {}).await;
        let (bearer, _) = bearer_for(&s, "a@b.co").await;
        let kid = async || signing_kid(&s, &bearer).await;
        let k1 = kid().await;
        let scheduled = s.auth.keys().rotate(false).await.unwrap();
        let immediate = s.auth.keys().rotate(true).await.unwrap();
        let states = key_states(&s).await;
        assert_eq!(states[&scheduled], KeyState::Next, "{engine:?}");
        assert_eq!(states[&immediate], KeyState::Next, "{engine:?}");
        assert_eq!(kid().await, k1);
        s.advance(sigil_server::keys::IMMEDIATE_SETTLE);
        assert_eq!(kid().await, immediate, "{engine:?}");
        assert_eq!(
            better_auth_signing_kid(&s).await.as_deref(),
            Some(immediate.as_str())
        );
        assert_eq!(
            key_states(&s).await[&scheduled],
            KeyState::Next,
            "{engine:?}"
        );
        assert!(s.auth.keys().revoke(&immediate).await.unwrap());
        assert_eq!(kid().await, scheduled, "{engine:?}");
        assert_eq!(
            better_auth_signing_kid(&s).await.as_deref(),
            Some(scheduled.as_str())
        );
        assert_eq!(key_states(&s).await.len(), 2, "{engine:?}: no key made");
    }
}

/// Revoking a successor before its start: the key it was to follow signs on in its place, and
/// no key is made at the start for want of one.
#[tokio::test]
async fn revoking_a_waiting_successor_keeps_the_current_key() {
    for engine in engines() {
        let s = TestServer::start(&engine, |_| {}).await;
        let (bearer, _) = bearer_for(&s, "a@b.co").await;
        let kid = async || signing_kid(&s, &bearer).await;
        let k1 = kid().await;
        let k2 = s.auth.keys().rotate(false).await.unwrap();
        assert!(s.auth.keys().revoke(&k2).await.unwrap());
        s.advance(s.auth.keys().publish_lead() + chrono::Duration::seconds(1));
        assert_eq!(kid().await, k1, "{engine:?}");
        assert_eq!(
            better_auth_signing_kid(&s).await.as_deref(),
            Some(k1.as_str())
        );
        let states = key_states(&s).await;
        assert_eq!(states.len(), 1, "{engine:?}: no key made");
        assert_eq!(states[&k1], KeyState::Current);
    }
}

/// Revoking the key that signs while its successor waits for its start: the successor, published
/// already, signs at once (no answer without a token, no key made besides), on every instance.
#[tokio::test]
async fn revoking_the_signing_key_brings_its_successor_forward() {
    for engine in engines() {
        let url = TestServer::fresh_database(&engine).await;
        let a = TestServer::start(&engine, |c| c.database_url = Some(url.clone())).await;
        let b = TestServer::start(&engine, |c| c.database_url = Some(url.clone())).await;
        let (bearer, _) = bearer_for(&a, "a@b.co").await;
        let kid = |t: String| header_of(&t)["kid"].as_str().unwrap().to_owned();
        let k1 = kid(token_for(&a, &bearer).await);
        assert_eq!(kid(token_for(&b, &bearer).await), k1);
        let k2 = a.auth.keys().rotate(false).await.unwrap();
        assert!(a.auth.keys().revoke(&k1).await.unwrap());
        assert_eq!(kid(token_for(&a, &bearer).await), k2, "{engine:?}");
        // The other instance, told or not yet: its key is gone, the successor signs.
        b.auth.keys().refresh_if_changed().await.unwrap();
        assert_eq!(kid(token_for(&b, &bearer).await), k2, "{engine:?}");
        let listed = a.auth.keys().list().await.unwrap();
        assert_eq!(listed.len(), 1, "{engine:?}: no key made besides");
    }
}

#[tokio::test]
async fn custom_claims_hooks() {
    let s = TestServer::start_with(
        &Engine::Sqlite,
        |_| {},
        |b| {
            b.define_payload(|user, session| async move {
                let mut claims = serde_json::Map::new();
                claims.insert(
                    "role".into(),
                    json!(if user.email.starts_with("admin") {
                        "admin"
                    } else {
                        "user"
                    }),
                );
                claims.insert("permissions".into(), json!(["read", "write"]));
                claims.insert("sid".into(), json!(session.id));
                claims.insert("sub".into(), json!("an attempt to override sub"));
                claims
            })
            .subject(|user, _| async move { Some(format!("user:{}", user.id)) })
        },
    )
    .await
    .unwrap();
    let (bearer, user) = bearer_for(&s, "admin@b.co").await;
    let token = token_for(&s, &bearer).await;
    let (_, set) = jwks(&s).await;
    let origin = s.origin();
    let claims = verify_jwt(
        &token,
        &set,
        &Validation::new([Alg::EdDSA])
            .issuer(&origin)
            .audience(&origin),
        now(),
    )
    .unwrap();
    assert_eq!(
        claims.sub,
        Some(format!("user:{}", user["id"].as_str().unwrap()))
    );
    assert_eq!(claims.extra()["role"], "admin");
    assert_eq!(claims.extra()["permissions"], json!(["read", "write"]));
    assert!(
        claims.extra().get("email").is_none(),
        "the hook replaces the default payload"
    );
}

#[tokio::test]
async fn server_side_sign_and_verify() {
    for alg in Alg::SIGNING {
        let s = TestServer::start(&Engine::Sqlite, |c| c.jwt.alg = Some(alg.to_string())).await;
        let origin = s.origin();
        let payload: serde_json::Map<String, Value> =
            serde_json::from_value(json!({"sub": "123", "custom": {"a": 1}, "iat": now()}))
                .unwrap();
        let token = s.auth.sign_jwt(payload, Default::default()).await.unwrap();
        let claims = s.auth.verify_jwt(&token).await.unwrap();
        assert_eq!(claims.sub.as_deref(), Some("123"));
        assert_eq!(claims.iss.as_deref(), Some(origin.as_str()));
        assert_eq!(claims.extra()["custom"], json!({"a": 1}));
        let header = header_of(&token);
        assert_eq!(header["alg"], alg.as_str());
        let (doc, _) = jwks(&s).await;
        assert!(
            doc["keys"]
                .as_array()
                .unwrap()
                .iter()
                .any(|k| k["kid"] == header["kid"])
        );
        // An already-expired token can be signed (§7 item 12), and is refused on verification.
        let old: serde_json::Map<String, Value> =
            serde_json::from_value(json!({"sub": "123", "exp": 1000, "iat": 1000})).unwrap();
        let expired = s.auth.sign_jwt(old, Default::default()).await.unwrap();
        assert!(matches!(
            s.auth.verify_jwt(&expired).await,
            Err(sigil_server::VerifyError::Token(sigil_jose::Error::Expired))
        ));
        // No sub: refused.
        let nosub: serde_json::Map<String, Value> =
            serde_json::from_value(json!({"x": 1})).unwrap();
        let t = s.auth.sign_jwt(nosub, Default::default()).await.unwrap();
        assert!(s.auth.verify_jwt(&t).await.is_err());
    }
}

/// A key row written by Better Auth 1.7.25 (the Node peer), secret below, with `alg` cleared to
/// look like a row from before Better Auth 1.7: Sigil signs with it and publishes it.
const BA_SECRET: &str = "anchor-dev-secret-0123456789abcdef0123456789abcdef";
const BA_KID: &str = "3ikONh7TpPt5JQIESmTv56dTS2oBJ2q6";
const BA_PUBLIC: &str =
    r#"{"crv":"Ed25519","x":"G1FcfvsILVardEgy6Vdhcw4rLtD1IJZR9xCxPnupe0I","kty":"OKP"}"#;
const BA_PRIVATE: &str = "\"0cc369fb90a8d0681ceb10f389b478b3d6bac38368a5ee8c61c5c2af6d0bd19ad00c8a0a6792249e31508d008793589e7692f8b8a8128c4d6b3c4a3f3fa8dd714b45240c5728a2e2a8d595ebc56233d51d9b37c9bd1d1b7dda37819c7dac8e35700fb0654868c39613f4a43c082383e64c9c7e1789cd5c39a33fef357e3d4cb7d7768d26c681cea25498a0931c1bb7228865d1edb5449b0acdd03428a4041242fdc40cc3778f94b099\"";

fn row(id: &str, public: &str, private: &str, alg: Option<&str>) -> sigil_server::store::KeyRow {
    sigil_server::store::KeyRow {
        id: id.into(),
        public_key: public.into(),
        private_key: private.into(),
        created_at: chrono::Utc::now() - chrono::Duration::hours(1),
        expires_at: None,
        alg: alg.map(str::to_owned),
        crv: None,
    }
}

#[tokio::test]
async fn signs_with_a_key_better_auth_wrote() {
    for engine in engines() {
        let s = TestServer::start(&engine, |c| c.secret = Some(BA_SECRET.into())).await;
        let ba_row = row(BA_KID, BA_PUBLIC, BA_PRIVATE, None);
        s.auth
            .store()
            .insert_key_if(&ba_row, |_| Some(Placement::as_is(&ba_row)))
            .await
            .unwrap();
        s.auth.keys().reload().await.unwrap();
        let (bearer, _) = bearer_for(&s, "a@b.co").await;
        let token = token_for(&s, &bearer).await;
        assert_eq!(header_of(&token)["kid"], BA_KID, "{engine:?}");
        let (doc, set) = jwks(&s).await;
        assert_eq!(doc["keys"][0]["kid"], BA_KID);
        assert_eq!(doc["keys"][0]["alg"], "EdDSA");
        let origin = s.origin();
        verify_jwt(
            &token,
            &set,
            &Validation::new([Alg::EdDSA])
                .issuer(&origin)
                .audience(&origin),
            now(),
        )
        .unwrap();
    }
}

/// A successor written the old way (its start as `createdAt`, in the future) still waits for that
/// time, is listed as next, and is brought forward when the key that signs is revoked.
#[tokio::test]
async fn a_successor_with_a_future_created_at_waits_and_is_brought_forward() {
    for engine in engines() {
        let s = TestServer::start(&engine, |c| c.secret = Some(BA_SECRET.into())).await;
        let (bearer, _) = bearer_for(&s, "a@b.co").await;
        let k1 = header_of(&token_for(&s, &bearer).await)["kid"]
            .as_str()
            .unwrap()
            .to_owned();
        let mut waiting = row(BA_KID, BA_PUBLIC, BA_PRIVATE, Some("EdDSA"));
        let starts = s.now() + chrono::Duration::minutes(10);
        waiting.created_at = starts;
        s.auth
            .store()
            .insert_key_if(&waiting, |_| Some(Placement::as_is(&waiting)))
            .await
            .unwrap();
        s.auth.keys().reload().await.unwrap();
        assert_eq!(key_states(&s).await[BA_KID], KeyState::Next, "{engine:?}");
        let listed = s.auth.keys().waiting().await.unwrap();
        assert_eq!(
            listed[BA_KID].timestamp_millis(),
            starts.timestamp_millis(),
            "{engine:?}"
        );
        assert_eq!(header_of(&token_for(&s, &bearer).await)["kid"], k1.as_str());
        assert!(s.auth.keys().revoke(&k1).await.unwrap());
        assert_eq!(
            header_of(&token_for(&s, &bearer).await)["kid"],
            BA_KID,
            "{engine:?}"
        );
        assert_eq!(
            key_states(&s).await.len(),
            1,
            "{engine:?}: no key made besides"
        );
    }
}

/// A key table of more than 100 rows (Better Auth never deletes a key; its nodes read only 100
/// rows): Sigil reads them all, publishes the live and in-grace ones, signs with the newest, and
/// `prune` removes only the keys past their grace period.
#[tokio::test]
async fn more_than_100_key_rows_and_prune() {
    for engine in engines() {
        let s = TestServer::start(&engine, |c| c.secret = Some(BA_SECRET.into())).await;
        let now = s.now();
        let day = chrono::Duration::days(1);
        let mut rows = Vec::new();
        for i in 0..110 {
            // Rotated long ago: expired 40 days ago, past the 30-day grace period.
            let mut r = row(&format!("old-{i:03}"), BA_PUBLIC, BA_PRIVATE, Some("EdDSA"));
            r.created_at = now - day * 100 + chrono::Duration::minutes(i);
            r.expires_at = Some(now - day * 40);
            rows.push(r);
        }
        for i in 0..5 {
            let mut r = row(&format!("grace-{i}"), BA_PUBLIC, BA_PRIVATE, Some("EdDSA"));
            r.created_at = now - day * 20 + chrono::Duration::minutes(i);
            r.expires_at = Some(now - day * 10);
            rows.push(r);
        }
        let mut live = row(BA_KID, BA_PUBLIC, BA_PRIVATE, None);
        live.created_at = now - day * 10;
        rows.push(live);
        for r in &rows {
            s.auth
                .store()
                .insert_key_if(r, |_| Some(Placement::as_is(r)))
                .await
                .unwrap();
        }
        s.auth.keys().reload().await.unwrap();
        let (bearer, _) = bearer_for(&s, "a@b.co").await;
        assert_eq!(header_of(&token_for(&s, &bearer).await)["kid"], BA_KID);
        let (doc, _) = jwks(&s).await;
        assert_eq!(doc["keys"].as_array().unwrap().len(), 6, "{engine:?}");
        let removed = s.auth.keys().prune().await.unwrap();
        assert_eq!(removed.len(), 110, "{engine:?}");
        assert!(removed.iter().all(|k| k.starts_with("old-")));
        assert_eq!(key_states(&s).await.len(), 6, "{engine:?}");
        assert_eq!(header_of(&token_for(&s, &bearer).await)["kid"], BA_KID);
        assert!(s.auth.keys().prune().await.unwrap().is_empty());
    }
}

#[tokio::test]
async fn a_corrupt_key_row_does_not_stop_the_others() {
    for engine in engines() {
        let s = TestServer::start(&engine, |_| {}).await;
        let (bearer, _) = bearer_for(&s, "a@b.co").await;
        let token = async || s.token_by_bearer(&bearer).await;
        let first = token().await.json::<Value>().await.unwrap()["token"]
            .as_str()
            .unwrap()
            .to_owned();
        let k1 = header_of(&first)["kid"].as_str().unwrap().to_owned();
        // A newer row that cannot be decrypted (another secret wrote it) appears.
        let mut bad = row("corrupt-key", BA_PUBLIC, BA_PRIVATE, Some("EdDSA"));
        bad.created_at = chrono::Utc::now();
        s.auth
            .store()
            .insert_key_if(&bad, |_| Some(Placement::as_is(&bad)))
            .await
            .unwrap();
        s.auth.keys().reload().await.unwrap();
        // `sigil keys list` tells a key the secret cannot open from one unusable for another
        // reason (here an unknown alg), and names the key that really signs.
        let odd = row("odd-alg", BA_PUBLIC, BA_PRIVATE, Some("ES999"));
        s.auth
            .store()
            .insert_key_if(&odd, |_| Some(Placement::as_is(&odd)))
            .await
            .unwrap();
        let states = key_states(&s).await;
        assert_eq!(states["corrupt-key"], KeyState::Undecryptable);
        assert_eq!(states["odd-alg"], KeyState::Unusable);
        assert_eq!(states[&k1], KeyState::Current);
        s.auth.keys().revoke("odd-alg").await.unwrap();
        let r = token().await;
        assert_eq!(r.status(), 200);
        let t = r.json::<Value>().await.unwrap()["token"]
            .as_str()
            .unwrap()
            .to_owned();
        assert_eq!(
            header_of(&t)["kid"],
            k1.as_str(),
            "{engine:?}: the usable key keeps signing"
        );
        // get-session still answers 200 with its set-auth-jwt.
        let r = s.session_by_bearer(&bearer).await;
        assert_eq!(r.status(), 200);
        assert!(r.headers().get("set-auth-jwt").is_some());
        // With the good key revoked, the only live key is one this secret cannot open: that is a
        // clear error (a wrong secret here must not fork a second current key)...
        s.auth.keys().revoke(&k1).await.unwrap();
        let r = token().await;
        assert_eq!(r.status(), 500);
        assert_eq!(
            r.json::<Value>().await.unwrap()["code"],
            "SIGNING_KEY_UNAVAILABLE"
        );
        // ...until the bad row is revoked too; then a fresh key is made.
        s.auth.keys().revoke("corrupt-key").await.unwrap();
        let body = token().await.json::<Value>().await.unwrap();
        let t = body["token"]
            .as_str()
            .unwrap_or_else(|| panic!("{engine:?}: {body}"))
            .to_owned();
        let kid = header_of(&t)["kid"].as_str().unwrap().to_owned();
        assert!(kid != k1 && kid != "corrupt-key", "{kid}");
    }
}

#[tokio::test]
async fn secret_rotation_with_versions_and_rewrap() {
    const S1: &str = "first-secret-Q8vF2lMz7Xt1Rb9nK4pW6sY0cH3jD5gA";
    const S2: &str = "second-secret-Z3kP9wQ2mV7xL1nR8tY4bC6dF0hJ5sG";
    for engine in engines() {
        let url = TestServer::fresh_database(&engine).await;
        let first = TestServer::start(&engine, |c| {
            c.database_url = Some(url.clone());
            c.secret = Some(S1.into());
        })
        .await;
        let kid = jwks(&first).await.0["keys"][0]["kid"]
            .as_str()
            .unwrap()
            .to_owned();
        drop(first);
        // New current secret (version 2), the old one kept as the legacy secret: starts, and
        // rewrap moves the key under version 2.
        let second = TestServer::start(&engine, |c| {
            c.database_url = Some(url.clone());
            c.secret = Some(S1.into());
            c.secrets = Some(format!("2:{S2}"));
        })
        .await;
        assert_eq!(second.auth.keys().rewrap().await.unwrap(), 1);
        assert_eq!(second.auth.keys().rewrap().await.unwrap(), 0);
        drop(second);
        // The old secret can now go.
        let third = TestServer::start(&engine, |c| {
            c.database_url = Some(url.clone());
            c.secrets = Some(format!("2:{S2}"));
        })
        .await;
        let (bearer, _) = bearer_for(&third, "a@b.co").await;
        let token = token_for(&third, &bearer).await;
        assert_eq!(header_of(&token)["kid"], kid.as_str(), "{engine:?}");
    }
}

/// The binary's custom claims: declared user fields, claims mapped from user/session fields, static
/// claims — the seed's `role` / `permissions` example.
#[tokio::test]
async fn configured_user_fields_and_claims() {
    for engine in engines() {
        let s = TestServer::start(&engine, |c| {
            let file: sigil_server::Settings = toml::from_str(
                r#"
                [[user_fields]]
                name = "role"
                type = "string"
                default = "user"
                [[user_fields]]
                name = "level"
                type = "number"
                [jwt.claims]
                role = "user.role"
                level = "user.level"
                email = "user.email"
                sid = "session.id"
                [jwt.static_claims]
                permissions = ["read", "write"]
                "#,
            )
            .unwrap();
            c.user_fields = file.user_fields;
            c.jwt.claims = file.jwt.claims;
            c.jwt.static_claims = file.jwt.static_claims;
        })
        .await;
        let (bearer, user) = bearer_for(&s, "a@b.co").await;
        assert_eq!(
            user["role"], "user",
            "{engine:?}: the public user object carries the field"
        );
        let origin = s.origin();
        let policy = Validation::new([Alg::EdDSA])
            .issuer(&origin)
            .audience(&origin);
        // `ahead`: seconds the server's clock was moved forward.
        let claims_now = async |ahead: i64| {
            let token = token_for(&s, &bearer).await;
            let (_, set) = jwks(&s).await;
            verify_jwt(&token, &set, &policy, now() + ahead).unwrap()
        };
        let c = claims_now(0).await;
        assert_eq!(c.extra()["role"], "user");
        assert!(
            c.extra().get("level").is_none(),
            "a missing value is left out, not null"
        );
        assert_eq!(c.extra()["email"], "a@b.co");
        assert_eq!(c.extra()["permissions"], json!(["read", "write"]));
        assert!(c.extra()["sid"].as_str().is_some_and(|v| v.len() == 32));
        assert!(
            c.extra().get("name").is_none(),
            "mapping replaces the default payload"
        );
        assert_eq!(c.sub.as_deref(), user["id"].as_str());

        // `sigil user set a@b.co role=admin level=3` does this:
        let fields = s.auth.config().user_fields.clone();
        let updated_at = chrono::Utc::now();
        assert!(
            s.auth
                .store()
                .set_user_field("a@b.co", &fields[0], &json!("admin"), updated_at)
                .await
                .unwrap()
        );
        assert!(
            s.auth
                .store()
                .set_user_field("a@b.co", &fields[1], &json!(3), updated_at)
                .await
                .unwrap()
        );
        assert!(
            !s.auth
                .store()
                .set_user_field("nobody@b.co", &fields[0], &json!("admin"), updated_at)
                .await
                .unwrap()
        );
        // Seen once the session cache's lifetime (5 s) has passed.
        s.advance(chrono::Duration::seconds(5));
        let c = claims_now(5).await;
        assert_eq!(
            (c.extra()["role"].as_str(), c.extra()["level"].as_i64()),
            (Some("admin"), Some(3)),
            "{engine:?}"
        );
        // A sign-up body cannot set a declared field.
        let r = s
            .post_json("/sign-up/email", json!({"name": "E", "email": "e@b.co", "password": "correct horse", "role": "admin"}))
            .await;
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["user"]["role"], "user");
    }
}

/// A rotation made through one instance reaches another on the same database through the key
/// watch (which runs `refresh_if_changed` every second; called directly here instead of
/// waiting). On PostgreSQL the change is also pushed, and may have been applied already (see
/// `push.rs`).
#[tokio::test]
async fn changes_propagate_between_instances() {
    for engine in engines() {
        let url = TestServer::fresh_database(&engine).await;
        let a = TestServer::start(&engine, |c| c.database_url = Some(url.clone())).await;
        let b = TestServer::start(&engine, |c| c.database_url = Some(url.clone())).await;
        let (bearer, _) = bearer_for(&a, "a@b.co").await;
        let kid_via = async |s: &TestServer| {
            let t = token_for(s, &bearer).await;
            header_of(&t)["kid"].as_str().unwrap().to_owned()
        };
        let k1 = kid_via(&a).await;
        assert_eq!(kid_via(&b).await, k1);
        let k2 = a.auth.keys().rotate(true).await.unwrap();
        a.advance(sigil_server::keys::IMMEDIATE_SETTLE);
        b.advance(sigil_server::keys::IMMEDIATE_SETTLE);
        assert_eq!(kid_via(&a).await, k2);
        let sqlite = matches!(engine, Engine::Sqlite);
        let reloaded = b.auth.keys().refresh_if_changed().await.unwrap();
        assert!(reloaded || !sqlite);
        assert_eq!(kid_via(&b).await, k2, "{engine:?}");
        assert!(
            !b.auth.keys().refresh_if_changed().await.unwrap(),
            "no change, no reload"
        );
        // Revocation reaches the other instance the same way.
        a.auth.keys().revoke(&k1).await.unwrap();
        let reloaded = b.auth.keys().refresh_if_changed().await.unwrap();
        assert!(reloaded || !sqlite);
        let (doc, _) = jwks(&b).await;
        assert!(
            !doc["keys"]
                .as_array()
                .unwrap()
                .iter()
                .any(|k| k["kid"] == k1.as_str())
        );
    }
}

#[tokio::test]
async fn set_auth_jwt_can_be_turned_off() {
    let s = TestServer::start(&Engine::Sqlite, |c| {
        c.jwt.disable_setting_jwt_header = Some(true)
    })
    .await;
    let (bearer, _) = bearer_for(&s, "a@b.co").await;
    let r = s.session_by_bearer(&bearer).await;
    assert_eq!(r.status(), 200);
    assert!(r.headers().get("set-auth-jwt").is_none());
    assert_eq!(
        s.token_by_bearer(&bearer).await.status(),
        200,
        "/token still works"
    );
}

/// Audience-scoped tokens: `GET /token?audience=X` gives `aud: X` when X is on the allow-list,
/// 400 `AUDIENCE_NOT_ALLOWED` otherwise (another audience, an empty one, the parameter twice);
/// without the parameter the configured audience, as Better Auth; without a session 401 first.
#[tokio::test]
async fn audience_scoped_tokens() {
    let s = TestServer::start(&Engine::Sqlite, |c| {
        c.jwt.allowed_audiences = Some(vec!["billing".into(), "search".into()]);
    })
    .await;
    let (bearer, user) = bearer_for(&s, "a@b.co").await;
    let get = async |query: &str, bearer: Option<&str>| {
        let mut r = s.client.get(s.url(&format!("/token{query}")));
        if let Some(b) = bearer {
            r = r.bearer_auth(b);
        }
        let r = r.send().await.unwrap();
        let status = r.status().as_u16();
        (status, r.json::<Value>().await.unwrap())
    };
    let (_, set) = jwks(&s).await;
    let origin = s.origin();
    let claims_for = |token: &str, aud: &str| {
        verify_jwt(
            token,
            &set,
            &Validation::new([Alg::EdDSA]).issuer(&origin).audience(aud),
            now(),
        )
    };
    let (status, body) = get("?audience=billing", Some(&bearer)).await;
    assert_eq!(status, 200, "{body}");
    let scoped = body["token"].as_str().unwrap();
    let claims = claims_for(scoped, "billing").unwrap();
    assert_eq!(claims.sub.as_deref(), Some(user["id"].as_str().unwrap()));
    assert_eq!(claims.extra()["email"], "a@b.co");
    assert!(
        claims_for(scoped, &origin).is_err(),
        "not for the default audience"
    );
    let payload: Value =
        serde_json::from_slice(&b64::decode(scoped.split('.').nth(1).unwrap()).unwrap()).unwrap();
    assert_eq!(payload["aud"], "billing", "one value, not a list");
    // Without the parameter: the configured audience.
    let (status, body) = get("", Some(&bearer)).await;
    assert_eq!(status, 200);
    claims_for(body["token"].as_str().unwrap(), &origin).unwrap();
    // Not on the list, empty, twice, or badly encoded: refused with a clear code.
    for query in [
        "?audience=payroll",
        "?audience=",
        "?audience=billing&audience=search",
        "?audience=%ZZ",
        "?audience=Billing",
    ] {
        let (status, body) = get(query, Some(&bearer)).await;
        assert_eq!(status, 400, "{query}: {body}");
        assert_eq!(body["code"], "AUDIENCE_NOT_ALLOWED", "{query}");
        assert!(body["message"].as_str().unwrap().contains("allow-list"));
    }
    // Other parameters are ignored, as Better Auth does.
    let (status, _) = get("?audience=search&x=1", Some(&bearer)).await;
    assert_eq!(status, 200);
    // No session: 401 before the audience is looked at.
    let (status, body) = get("?audience=payroll", None).await;
    assert_eq!((status, body["code"].as_str()), (401, Some("UNAUTHORIZED")));
}

/// With no allow-list, every audience is refused.
#[tokio::test]
async fn no_allow_list_no_scoped_tokens() {
    let s = TestServer::start(&Engine::Sqlite, |_| {}).await;
    let (bearer, _) = bearer_for(&s, "a@b.co").await;
    let r = s
        .client
        .get(s.url("/token?audience=billing"))
        .bearer_auth(&bearer)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(
        r.json::<Value>().await.unwrap()["code"],
        "AUDIENCE_NOT_ALLOWED"
    );
}
