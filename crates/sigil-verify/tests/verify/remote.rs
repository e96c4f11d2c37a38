//! RemoteJwks behaviour, scenario by scenario.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use sigil_verify::{Error, FetchError, LocalJwks, ManualClock};

use crate::jwks_server::{Behaviour, JwksServer};
use crate::*;

const SEC: Duration = Duration::from_secs(1);

fn code<T: std::fmt::Debug>(r: Result<T, Error>) -> &'static str {
    r.unwrap_err().code()
}

#[tokio::test]
async fn cache_hit_fetches_once() {
    let k = key();
    let server = JwksServer::start(Behaviour::Keys(jwks(&[&k]), None)).await;
    let clock = ManualClock::new(NOW);
    let v = verifier(remote(&server.url(), &clock).build().unwrap(), &clock);
    let t = token(&k);
    for _ in 0..20 {
        let claims: sigil_jose::Claims = v.verify(&t).await.unwrap();
        assert_eq!(claims.sub.as_deref(), Some("user-1"));
        clock.advance(SEC);
    }
    assert_eq!(server.hits(), 1);
}

#[tokio::test]
async fn unknown_kid_storm_is_rate_limited() {
    let k = key();
    let server = JwksServer::start(Behaviour::Keys(jwks(&[&k]), None)).await;
    let clock = ManualClock::new(NOW);
    let v = verifier(remote(&server.url(), &clock).build().unwrap(), &clock);
    let started = Instant::now();
    // 100 random kids over 40 s of clock time, 25 at a time concurrently.
    for _ in 0..4 {
        let tokens: Vec<String> = (0..25).map(|_| token(&key())).collect();
        let results =
            futures_util::future::join_all(tokens.iter().map(|t| v.verify_claims(t))).await;
        for r in results {
            assert_eq!(code(r), "no_matching_key");
        }
        clock.advance(10 * SEC);
    }
    assert!(server.hits() <= 3, "{} fetches", server.hits());
    // The known key still works throughout.
    v.verify_claims(&token(&k)).await.unwrap();
    assert!(started.elapsed() < 10 * SEC);
}

#[tokio::test]
async fn rotation_new_kid_after_one_refetch_old_still_valid() {
    let (old, new) = (key(), key());
    let server = JwksServer::start(Behaviour::Keys(jwks(&[&old]), None)).await;
    let clock = ManualClock::new(NOW);
    let v = verifier(remote(&server.url(), &clock).build().unwrap(), &clock);
    v.verify_claims(&token(&old)).await.unwrap();
    assert_eq!(server.hits(), 1);

    server.set(Behaviour::Keys(jwks(&[&new, &old]), None));
    clock.advance(31 * SEC); // past the cooldown, well inside max-age
    v.verify_claims(&token(&new)).await.unwrap();
    assert_eq!(server.hits(), 2);
    v.verify_claims(&token(&old)).await.unwrap();
    v.verify_claims(&token(&new)).await.unwrap();
    assert_eq!(server.hits(), 2);
}

/// A key published just after a regular fetch (`sigil keys rotate --now`) is fetched when its
/// first token arrives; a second unknown kid inside the cooldown of that refetch is not.
#[tokio::test]
async fn new_kid_soon_after_a_fetch_is_fetched_once_per_cooldown() {
    let (old, new, newer) = (key(), key(), key());
    let server = JwksServer::start(Behaviour::Keys(jwks(&[&old]), None)).await;
    let clock = ManualClock::new(NOW);
    let v = verifier(remote(&server.url(), &clock).build().unwrap(), &clock);
    v.verify_claims(&token(&old)).await.unwrap();
    server.set(Behaviour::Keys(jwks(&[&old, &new]), None));
    clock.advance(5 * SEC);
    v.verify_claims(&token(&new)).await.unwrap();
    assert_eq!(server.hits(), 2);
    server.set(Behaviour::Keys(jwks(&[&old, &new, &newer]), None));
    clock.advance(5 * SEC);
    assert_eq!(
        code(v.verify_claims(&token(&newer)).await),
        "no_matching_key"
    );
    assert_eq!(server.hits(), 2, "inside the cooldown of the last refetch");
    clock.advance(30 * SEC);
    v.verify_claims(&token(&newer)).await.unwrap();
    assert_eq!(server.hits(), 3);
}

#[tokio::test]
async fn removed_key_rejected_after_max_age() {
    let (k1, k2) = (key(), key());
    let server = JwksServer::start(Behaviour::Keys(jwks(&[&k1, &k2]), Some("max-age=120"))).await;
    let clock = ManualClock::new(NOW);
    let v = verifier(remote(&server.url(), &clock).build().unwrap(), &clock);
    v.verify_claims(&token(&k1)).await.unwrap();
    server.set(Behaviour::Keys(jwks(&[&k2]), Some("max-age=120")));
    clock.advance(60 * SEC);
    // Still inside max-age (and before the refresh-ahead window): cached, no fetch.
    v.verify_claims(&token(&k1)).await.unwrap();
    assert_eq!(server.hits(), 1);
    clock.advance(61 * SEC);
    assert_eq!(code(v.verify_claims(&token(&k1)).await), "no_matching_key");
    v.verify_claims(&token(&k2)).await.unwrap();
}

#[tokio::test]
async fn cache_control_is_clamped() {
    let k = key();
    // max-age=5 is raised to the 1 minute floor.
    let server = JwksServer::start(Behaviour::Keys(jwks(&[&k]), Some("max-age=5"))).await;
    let clock = ManualClock::new(NOW);
    let v = verifier(remote(&server.url(), &clock).build().unwrap(), &clock);
    v.verify_claims(&token(&k)).await.unwrap();
    clock.advance(20 * SEC);
    v.verify_claims(&token(&k)).await.unwrap();
    assert_eq!(server.hits(), 1);
    clock.advance(41 * SEC);
    v.verify_claims(&token(&k)).await.unwrap();
    assert_eq!(server.hits(), 2);

    // A week is lowered to the 24 h ceiling.
    server.set(Behaviour::Keys(jwks(&[&k]), Some("public, max-age=604800")));
    clock.advance(61 * SEC);
    v.verify_claims(&token(&k)).await.unwrap();
    assert_eq!(server.hits(), 3);
    // Tokens here are judged at a fixed time; only the cache clock moves.
    let judge = ManualClock::new(NOW);
    let source = remote(&server.url(), &clock).build().unwrap();
    let v = verifier(source, &judge);
    v.verify_claims(&token(&k)).await.unwrap();
    assert_eq!(server.hits(), 4);
    clock.advance(Duration::from_secs(24 * 3600 - 60));
    v.verify_claims(&token(&k)).await.unwrap();
    assert_eq!(server.hits(), 4);
    clock.advance(61 * SEC);
    v.verify_claims(&token(&k)).await.unwrap();
    assert_eq!(server.hits(), 5);
}

#[tokio::test]
async fn default_max_age_is_ten_minutes() {
    let k = key();
    let server = JwksServer::start(Behaviour::Keys(jwks(&[&k]), None)).await;
    let clock = ManualClock::new(NOW);
    let v = verifier(remote(&server.url(), &clock).build().unwrap(), &clock);
    v.verify_claims(&token(&k)).await.unwrap();
    clock.advance(9 * 60 * SEC);
    v.verify_claims(&token(&k)).await.unwrap();
    assert_eq!(server.hits(), 1);
    clock.advance(61 * SEC);
    v.verify_claims(&token(&k)).await.unwrap();
    assert_eq!(server.hits(), 2);
}

#[tokio::test]
async fn stale_if_error_then_fail_closed() {
    let k = key();
    let server = JwksServer::start(Behaviour::Keys(jwks(&[&k]), Some("max-age=60"))).await;
    let clock = ManualClock::new(NOW);
    let source = remote(&server.url(), &clock).timeout(SEC).build().unwrap();
    let v = verifier(source, &clock);
    let t = token(&k);
    v.verify_claims(&t).await.unwrap();

    server.set(Behaviour::Status(500));
    clock.advance(61 * SEC);
    v.verify_claims(&t).await.unwrap(); // fetch fails, the expired set is used
    assert_eq!(server.hits(), 2);
    // No hot loop: further requests inside the cooldown do not fetch.
    for _ in 0..50 {
        v.verify_claims(&t).await.unwrap();
    }
    assert_eq!(server.hits(), 2);
    // After the cooldown, one probe; during an outage callers never wait on it: even a probe
    // that hangs leaves them answered from the expired set at once.
    server.set(Behaviour::Slow(10 * SEC, jwks(&[&k])));
    clock.advance(31 * SEC);
    let started = Instant::now();
    v.verify_claims(&t).await.unwrap();
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "{:?}",
        started.elapsed()
    );
    wait_for(|| server.hits() == 3).await;
    for _ in 0..10 {
        v.verify_claims(&t).await.unwrap();
    }
    assert_eq!(server.hits(), 3);
    server.set(Behaviour::Status(500));

    // Past the stale window (1 h after expiry): fail closed. Tokens are judged at a later
    // clock, so use one that is still within its own validity. (The hung probe above counts as
    // failed once its 1 s timeout passes; make sure it has.)
    wait_for_outcome(&source_of(&v)).await;
    clock.advance(Duration::from_secs(3600));
    let late = token_with(&k, json!({"sub": "u", "exp": NOW + 7200}));
    let err = v.verify_claims(&late).await.unwrap_err();
    assert_eq!(err.code(), "keys_unavailable");
    assert!(matches!(
        err,
        Error::KeysUnavailable(FetchError::Status(500))
    ));
    // Inside the cooldown after that failure, no new fetch either.
    let hits = server.hits();
    assert_eq!(code(v.verify_claims(&late).await), "keys_unavailable");
    assert_eq!(server.hits(), hits);

    // Recovery once the endpoint is back and the cooldown has passed.
    server.set(Behaviour::Keys(jwks(&[&k]), None));
    clock.advance(31 * SEC);
    v.verify_claims(&late).await.unwrap();
}

#[tokio::test]
async fn slow_endpoint_rejected_within_timeout() {
    let k = key();
    let server = JwksServer::start(Behaviour::Slow(10 * SEC, jwks(&[&k]))).await;
    let clock = ManualClock::new(NOW);
    let source = remote(&server.url(), &clock)
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let v = verifier(source, &clock);
    let started = Instant::now();
    let err = v.verify_claims(&token(&k)).await.unwrap_err();
    let took = started.elapsed();
    assert!(
        matches!(err, Error::KeysUnavailable(FetchError::Timeout(_))),
        "{err:?}"
    );
    assert!(took < 3 * SEC, "took {took:?}");
}

#[tokio::test]
async fn oversized_body_refused_with_and_without_length() {
    let k = key();
    for with_length in [true, false] {
        let server = JwksServer::start(Behaviour::Huge(600 * 1024, with_length)).await;
        let clock = ManualClock::new(NOW);
        let v = verifier(remote(&server.url(), &clock).build().unwrap(), &clock);
        let err = v.verify_claims(&token(&k)).await.unwrap_err();
        assert!(
            matches!(err, Error::KeysUnavailable(FetchError::TooLarge(_))),
            "{err:?}"
        );
    }
    // Just under a small configured cap is fine.
    let server = JwksServer::start(Behaviour::Keys(jwks(&[&k]), None)).await;
    let clock = ManualClock::new(NOW);
    let v = verifier(
        remote(&server.url(), &clock)
            .max_bytes(400)
            .build()
            .unwrap(),
        &clock,
    );
    v.verify_claims(&token(&k)).await.unwrap();
}

#[tokio::test]
async fn redirect_not_followed() {
    let k = key();
    let server = JwksServer::start(Behaviour::Redirect(jwks(&[&k]))).await;
    let clock = ManualClock::new(NOW);
    let v = verifier(remote(&server.url(), &clock).build().unwrap(), &clock);
    let err = v.verify_claims(&token(&k)).await.unwrap_err();
    assert!(
        matches!(err, Error::KeysUnavailable(FetchError::Redirect(302))),
        "{err:?}"
    );
    assert_eq!(server.other_hits(), 0);
}

#[tokio::test]
async fn non_200_and_non_jwks_bodies_refused() {
    let k = key();
    let clock = ManualClock::new(NOW);
    for (behaviour, expect) in [
        (Behaviour::Status(404), "status"),
        (Behaviour::Status(204), "status"),
        (Behaviour::Raw("not json"), "invalid"),
        (Behaviour::Raw("[]"), "invalid"),
        (Behaviour::Raw("{\"keys\":{}}"), "invalid"),
        (
            Behaviour::Raw("{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"!\"}]}"),
            "invalid",
        ),
    ] {
        let server = JwksServer::start(behaviour).await;
        let v = verifier(remote(&server.url(), &clock).build().unwrap(), &clock);
        match v.verify_claims(&token(&k)).await.unwrap_err() {
            Error::KeysUnavailable(e) => assert_eq!(e.code(), expect),
            other => panic!("{other:?}"),
        }
    }
    // Nothing listening.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/jwks", listener.local_addr().unwrap());
    drop(listener);
    let v = verifier(remote(&url, &clock).build().unwrap(), &clock);
    match v.verify_claims(&token(&k)).await.unwrap_err() {
        Error::KeysUnavailable(e) => assert_eq!(e.code(), "unreachable"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn invalid_keys_skipped_and_wholly_invalid_set_keeps_previous() {
    let (good, other) = (key(), key());
    let mut doc = jwks(&[&good]);
    doc["keys"]
        .as_array_mut()
        .unwrap()
        .push(json!({"kty": "RSA", "kid": "weak", "n": "AQAB", "e": "AQAB", "alg": "RS256"}));
    let server = JwksServer::start(Behaviour::Keys(doc, Some("max-age=60"))).await;
    let clock = ManualClock::new(NOW);
    let v = verifier(remote(&server.url(), &clock).build().unwrap(), &clock);
    v.verify_claims(&token(&good)).await.unwrap();

    server.set(Behaviour::Raw(
        "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"AA\",\"y\":\"AA\"}]}",
    ));
    clock.advance(61 * SEC);
    v.verify_claims(&token(&good)).await.unwrap();
    assert_eq!(server.hits(), 2);
    assert_eq!(
        code(v.verify_claims(&token(&other)).await),
        "no_matching_key"
    );
}

#[tokio::test]
async fn jku_header_is_never_fetched() {
    let (k, attacker) = (key(), key());
    let server = JwksServer::start(Behaviour::Keys(jwks(&[&k]), None)).await;
    let clock = ManualClock::new(NOW);
    let v = verifier(remote(&server.url(), &clock).build().unwrap(), &clock);
    // A token signed by a key only `jku` would lead to, and a good token carrying `jku`.
    let forged = token_with_header(&attacker, json!({"jku": server.jku_url()}));
    assert_eq!(code(v.verify_claims(&forged).await), "no_matching_key");
    let carried = token_with_header(
        &k,
        json!({"jku": server.jku_url(), "x5u": server.jku_url()}),
    );
    v.verify_claims(&carried).await.unwrap();
    assert_eq!(server.other_hits(), 0);
    // Only the configured set: its first fetch and one refetch for the forged token's kid.
    assert_eq!(server.hits(), 2);
}

#[tokio::test]
async fn concurrent_cold_start_fetches_once() {
    let k = key();
    let server = JwksServer::start(Behaviour::Slow(Duration::from_millis(200), jwks(&[&k]))).await;
    let clock = ManualClock::new(NOW);
    let v = verifier(remote(&server.url(), &clock).build().unwrap(), &clock);
    let t = token(&k);
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let (v, t) = (v.clone(), t.clone());
            tokio::spawn(async move { v.verify_claims(&t).await })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    assert_eq!(server.hits(), 1);
}

#[tokio::test]
async fn refresh_ahead_happens_in_the_background() {
    let k = key();
    let server = JwksServer::start(Behaviour::Keys(jwks(&[&k]), Some("max-age=120"))).await;
    let clock = ManualClock::new(NOW);
    let source = remote(&server.url(), &clock).build().unwrap();
    let v = verifier(source.clone(), &clock);
    v.verify_claims(&token(&k)).await.unwrap();
    let first = source.keys().await.unwrap();
    // 10 s before expiry: answered from the cache at once, and a refresh starts.
    server.set(Behaviour::Slow(2 * SEC, jwks(&[&k])));
    clock.advance(110 * SEC);
    let started = Instant::now();
    v.verify_claims(&token(&k)).await.unwrap();
    assert!(
        started.elapsed() < SEC,
        "waited {:?} for a background refresh",
        started.elapsed()
    );
    // The refresh completes by itself; poll (bounded) for the new set.
    let deadline = Instant::now() + 5 * SEC;
    loop {
        let now = source.keys().await.unwrap();
        if !Arc::ptr_eq(&now, &first) {
            break;
        }
        assert!(Instant::now() < deadline, "background refresh never landed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(server.hits(), 2);
    // The refreshed set is good for another 120 s from the refresh.
    clock.advance(100 * SEC);
    v.verify_claims(&token(&k)).await.unwrap();
    assert_eq!(server.hits(), 2);
}

#[tokio::test]
async fn local_jwks_and_builder_rules() {
    let (k, other) = (key(), key());
    let clock = ManualClock::new(NOW);
    let local = LocalJwks::from_value(&jwks(&[&k])).unwrap();
    let v = verifier(local.clone(), &clock);
    v.verify_claims(&token(&k)).await.unwrap();
    assert_eq!(
        code(v.verify_claims(&token(&other)).await),
        "no_matching_key"
    );
    // The allow-list is required.
    assert!(matches!(
        sigil_verify::Verifier::builder(local.clone()).build(),
        Err(sigil_verify::ConfigError::NoAlgorithms)
    ));
    // A local document with a bad key is refused whole.
    let mut doc = jwks(&[&k]);
    doc["keys"]
        .as_array_mut()
        .unwrap()
        .push(json!({"kty": "oct", "k": "AA"}));
    assert!(LocalJwks::from_value(&doc).is_err());
    assert!(LocalJwks::from_file("/nonexistent/jwks.json").is_err());
    // Not a regular file: refused without blocking or reading forever.
    for special in ["/dev/zero", "/dev/stdin", "/"] {
        assert!(LocalJwks::from_file(special).is_err(), "{special}");
    }
    // Typed claims, issuer and audience policy.
    #[derive(Debug, serde::Deserialize)]
    struct Mine {
        sub: String,
        role: String,
    }
    let v = sigil_verify::Verifier::builder(local)
        .alg(Alg::EdDSA)
        .issuer("https://auth.example.com")
        .audience("api")
        .clock(Arc::new(clock.clone()))
        .build()
        .unwrap();
    let good = token_with(
        &k,
        json!({"sub": "u1", "role": "admin", "iss": "https://auth.example.com", "aud": ["x", "api"], "exp": NOW + 60}),
    );
    let mine: Mine = v.verify(&good).await.unwrap();
    assert_eq!((mine.sub.as_str(), mine.role.as_str()), ("u1", "admin"));
    let wrong_aud = token_with(
        &k,
        json!({"sub": "u1", "iss": "https://auth.example.com", "aud": "other", "exp": NOW + 60}),
    );
    assert_eq!(code(v.verify_claims(&wrong_aud).await), "aud_mismatch");
    let missing_role = token_with(
        &k,
        json!({"sub": "u1", "iss": "https://auth.example.com", "aud": "api", "exp": NOW + 60}),
    );
    assert_eq!(
        code(v.verify::<Mine>(&missing_role).await),
        "claims_invalid"
    );
}

/// Polls `done` for at most 10 s (for work that happens in the background).
async fn wait_for(done: impl Fn() -> bool) {
    let deadline = Instant::now() + 10 * SEC;
    while !done() {
        assert!(
            Instant::now() < deadline,
            "condition not reached within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn source_of(v: &sigil_verify::Verifier) -> sigil_verify::RemoteJwks {
    match v.source() {
        sigil_verify::KeySource::Remote(r) => r.clone(),
        other => panic!("{other:?}"),
    }
}

/// Waits until no fetch is in flight (the background probe has ended one way or the other).
async fn wait_for_outcome(source: &sigil_verify::RemoteJwks) {
    let deadline = Instant::now() + 10 * SEC;
    while source.fetch_in_flight() {
        assert!(
            Instant::now() < deadline,
            "fetch still in flight after 10 s"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn an_empty_key_set_keeps_the_previous_one() {
    let k = key();
    let server = JwksServer::start(Behaviour::Keys(jwks(&[&k]), Some("max-age=60"))).await;
    let clock = ManualClock::new(NOW);
    let v = verifier(remote(&server.url(), &clock).build().unwrap(), &clock);
    v.verify_claims(&token(&k)).await.unwrap();
    server.set(Behaviour::Keys(json!({"keys": []}), None));
    clock.advance(61 * SEC);
    v.verify_claims(&token(&k)).await.unwrap();
    server.set(Behaviour::Status(500));
    clock.advance(31 * SEC);
    v.verify_claims(&token(&k)).await.unwrap();
    // On a cold start, an empty set is no keys at all.
    let empty = JwksServer::start(Behaviour::Keys(json!({"keys": []}), None)).await;
    let v = verifier(remote(&empty.url(), &clock).build().unwrap(), &clock);
    assert_eq!(code(v.verify_claims(&token(&k)).await), "keys_unavailable");
}

#[tokio::test]
async fn huge_settings_do_not_overflow() {
    let k = key();
    let server = JwksServer::start(Behaviour::Keys(jwks(&[&k]), None)).await;
    let clock = ManualClock::new(NOW);
    // (settings, fetches over 400 days with the endpoint failing): "stale forever" refetches
    // once and keeps the old set; "cache forever" (either way of saying it) never refetches.
    for (builder, fetches) in [
        (
            remote(&server.url(), &clock)
                .max_stale(Duration::MAX)
                .fixed_max_age(Duration::ZERO),
            2,
        ),
        (
            remote(&server.url(), &clock).fixed_max_age(Duration::MAX),
            1,
        ),
        (
            remote(&server.url(), &clock)
                .default_max_age(Duration::MAX)
                .cooldown(Duration::MAX),
            1,
        ),
    ] {
        let before = server.hits();
        let judge = ManualClock::new(NOW);
        let v = verifier(builder.build().unwrap(), &judge);
        v.verify_claims(&token(&k)).await.unwrap();
        server.set(Behaviour::Status(500));
        clock.advance(Duration::from_secs(400 * 24 * 3600));
        v.verify_claims(&token(&k)).await.unwrap();
        assert_eq!(server.hits() - before, fetches);
        server.set(Behaviour::Keys(jwks(&[&k]), None));
    }
}

#[tokio::test]
async fn broken_tokens_are_rejected_as_such_while_keys_are_unavailable() {
    let clock = ManualClock::new(NOW);
    let v = verifier(
        remote("http://127.0.0.1:1/jwks", &clock).build().unwrap(),
        &clock,
    );
    assert_eq!(code(v.verify_claims("garbage").await), "malformed");
    let hs = format!("{}.e30.AA", sigil_jose::b64::encode(br#"{"alg":"HS256"}"#));
    assert_eq!(code(v.verify_claims(&hs).await), "alg_not_allowed");
    assert_eq!(
        code(v.verify_claims(&token(&key())).await),
        "keys_unavailable"
    );
}

#[test]
fn a_fetch_cancelled_with_its_runtime_does_not_wedge_the_source() {
    let k = key();
    let clock = ManualClock::new(NOW);
    let main = tokio::runtime::Runtime::new().unwrap();
    let server = main.block_on(JwksServer::start(Behaviour::Slow(10 * SEC, jwks(&[&k]))));
    let source = remote(&server.url(), &clock).build().unwrap();
    // A fetch starts on a runtime that is then shut down mid-fetch.
    let doomed = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let waited = doomed
        .block_on(async { tokio::time::timeout(Duration::from_millis(100), source.keys()).await });
    assert!(waited.is_err(), "the slow fetch should still be running");
    assert!(source.fetch_in_flight());
    drop(doomed);
    assert!(!source.fetch_in_flight());
    // The ended fetch counts as a failure: inside the cooldown, no new attempt.
    use futures_util::FutureExt;
    assert!(matches!(
        source.keys().now_or_never(),
        Some(Err(FetchError::Unreachable(_)))
    ));
    // After it, outside any runtime: an error, not a panic (and it counts as a failure too).
    clock.advance(31 * SEC);
    match source.keys().now_or_never() {
        Some(Err(FetchError::Unreachable(why))) => assert!(why.contains("runtime"), "{why}"),
        other => panic!("{other:?}"),
    }
    // Once the cooldown has passed again, a healthy endpoint serves keys.
    server.set(Behaviour::Keys(jwks(&[&k]), None));
    clock.advance(31 * SEC);
    let v = verifier(source, &clock);
    main.block_on(v.verify_claims(&token(&k))).unwrap();
}

#[test]
fn a_fetch_started_on_a_runtime_that_is_shutting_down_neither_hangs_nor_wedges() {
    let clock = ManualClock::new(NOW);
    let source = remote("http://127.0.0.1:1/jwks", &clock).build().unwrap();
    let probe = source.clone();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let handle = rt.handle().clone();
        drop(rt);
        let _entered = handle.enter();
        use futures_util::FutureExt;
        let _ = tx.send(format!("{:?}", probe.keys().now_or_never()));
    });
    let answer = rx
        .recv_timeout(10 * SEC)
        .expect("keys() hung on a runtime that is shutting down");
    assert!(answer.contains("Unreachable"), "{answer}");
    assert!(!source.fetch_in_flight());
}

/// A JWK as Microsoft Entra ID publishes it: no `alg`, with `x5t`, `x5c` and `issuer` members
/// (which are ignored: keys never come from certificates).
fn published_without_alg(key: &KeyPair) -> serde_json::Value {
    let mut jwk = key.public_key().to_jwk();
    let map = jwk.as_object_mut().unwrap();
    map.remove("alg");
    map.insert("x5t".into(), json!("Y2VydGlmaWNhdGUgdGh1bWJwcmludA"));
    map.insert(
        "x5c".into(),
        json!(["MIIC/TCCAeWgAwIBAgIIQ29uZmlndXJlZA=="]),
    );
    map.insert(
        "issuer".into(),
        json!("https://login.microsoftonline.com/{tenantid}/v2.0"),
    );
    jwk
}

/// An issuer whose keys have no `alg` (Entra ID; RFC 7515 A.2): remote and local sets use them,
/// an RSA key for RS256 and PS256 alike, and a key no allowed algorithm fits is simply unused.
#[tokio::test]
async fn keys_published_without_alg_verify_the_algorithms_they_fit() {
    let rs = KeyPair::generate(Alg::RS256).unwrap();
    let ps = KeyPair::from_pkcs8_der(&rs.to_pkcs8_der().unwrap(), Alg::PS256)
        .unwrap()
        .with_kid(rs.kid().unwrap());
    let es = KeyPair::generate(Alg::ES256).unwrap();
    let doc = json!({"keys": [published_without_alg(&rs), published_without_alg(&es)]});
    let server = JwksServer::start(Behaviour::Keys(doc.clone(), None)).await;
    let clock = ManualClock::new(NOW);
    let rsa_only = |source: sigil_verify::KeySource| {
        sigil_verify::Verifier::builder(source)
            .algs([Alg::RS256, Alg::PS256])
            .clock(Arc::new(clock.clone()))
            .build()
            .unwrap()
    };
    let remote_source = remote(&server.url(), &clock).build().unwrap();
    let local_source = LocalJwks::from_value(&doc);
    assert!(
        local_source.is_ok(),
        "local set refused: {:?}",
        local_source.err()
    );
    for source in [remote_source.into(), local_source.unwrap().into()] {
        let v = rsa_only(source);
        let claims = v.verify_claims(&token(&rs)).await;
        assert_eq!(claims.map(|c| c.sub), Ok(Some("user-1".into())));
        assert!(v.verify_claims(&token(&ps)).await.is_ok());
        // The EC key is of no use to this verifier, and its tokens are refused.
        assert_eq!(code(v.verify_claims(&token(&es)).await), "alg_not_allowed");
        // The RSA key under an EC header: never.
        let confused = sigil_jose::sign_jwt_with_header(
            &es,
            &sigil_jose::Header {
                kid: rs.kid().map(str::to_owned),
                ..sigil_jose::Header::for_key(&es)
            },
            &json!({"sub": "u", "exp": NOW + 900}),
        )
        .unwrap();
        assert_eq!(code(v.verify_claims(&confused).await), "alg_not_allowed");
        // And where ES256 is allowed too (so the allow-list passes it), the kid names the RSA key,
        // which does not allow ES256: refused at the key, while the EC key's own token verifies.
        let any = sigil_verify::Verifier::builder(sigil_verify::KeySource::from(
            LocalJwks::from_value(&doc).unwrap(),
        ))
        .algs([Alg::RS256, Alg::PS256, Alg::ES256])
        .clock(Arc::new(clock.clone()))
        .build()
        .unwrap();
        assert_eq!(code(any.verify_claims(&confused).await), "alg_not_allowed");
        any.verify_claims(&token(&es)).await.unwrap();
    }
    assert_eq!(server.hits(), 1);
    // An ES256-only verifier on the same set: the RSA key is unused, not an error.
    let v = sigil_verify::Verifier::builder(remote(&server.url(), &clock).build().unwrap())
        .alg(Alg::ES256)
        .clock(Arc::new(clock.clone()))
        .build()
        .unwrap();
    v.verify_claims(&token(&es)).await.unwrap();
    assert_eq!(code(v.verify_claims(&token(&rs)).await), "alg_not_allowed");
}
