//! Several algorithms at once (`[jwt] algs`): a key per algorithm, each with its own lifecycle,
//! all in one key set; `GET /token?alg=` and per-audience algorithms; and OIDC discovery at the
//! issuer's path, which is how API gateways find the key set.

use serde_json::{Value, json};
use sigil_jose::{Alg, JwkSet, Validation, verify_jwt};
use sigil_server::KeyState;

use crate::harness::{Engine, TestServer, engines, header_of, jwks};

async fn bearer_for(s: &TestServer, email: &str) -> String {
    let r = s.sign_up(email, "correct horse").await;
    assert_eq!(r.status(), 200);
    r.headers()["set-auth-token"].to_str().unwrap().to_owned()
}

/// `GET /token{query}`: the status and the body.
async fn token(s: &TestServer, bearer: &str, query: &str) -> (u16, Value) {
    let r = s.get_with_bearer(&format!("/token{query}"), bearer).await;
    let status = r.status().as_u16();
    (status, r.json().await.unwrap())
}

/// `GET {path}` at the server's root (outside the base path): the status and the body.
async fn at_root(s: &TestServer, path: &str) -> (u16, Value) {
    let r = s
        .client
        .get(format!("{}{path}", s.root()))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

const DISCOVERY: &str = "/.well-known/openid-configuration";

/// The kid and alg of the token `/token{query}` answers (which must succeed).
async fn signed_with(s: &TestServer, bearer: &str, query: &str) -> (String, String) {
    let (status, body) = token(s, bearer, query).await;
    assert_eq!(status, 200, "{query}: {body}");
    let header = header_of(body["token"].as_str().unwrap());
    (
        header["kid"].as_str().unwrap().to_owned(),
        header["alg"].as_str().unwrap().to_owned(),
    )
}

/// The algorithms of the listed keys in `state`.
fn algs_in(listed: &[(sigil_server::store::KeyRow, KeyState)], state: KeyState) -> Vec<&str> {
    listed
        .iter()
        .filter(|(_, st)| *st == state)
        .filter_map(|(r, _)| r.alg.as_deref())
        .collect()
}

fn two_algs(c: &mut sigil_server::Settings) {
    c.jwt.algs = Some(vec!["EdDSA".into(), "RS256".into()]);
    c.jwt.allowed_audiences = Some(vec!["aws-api".into(), "mesh".into()]);
    c.jwt.audience_algs = Some([("aws-api".to_owned(), "RS256".to_owned())].into());
}

/// [`two_algs`], with keys that rotate daily.
fn two_algs_rotating_daily(c: &mut sigil_server::Settings) {
    two_algs(c);
    c.jwks.rotation_interval = Some(sigil_server::config::TimeSpan::Seconds(86_400));
}

/// One key per algorithm in one key set; without parameters the first algorithm signs (Better
/// Auth's behaviour); `?alg=` picks another configured one, an audience may name its algorithm;
/// anything else is refused with `ALG_NOT_ALLOWED`; every token verifies against the key set.
#[tokio::test]
async fn a_key_per_algorithm_and_token_alg() {
    let s = TestServer::start(&Engine::Sqlite, two_algs).await;
    let bearer = bearer_for(&s, "a@b.co").await;
    let (doc, set) = jwks(&s).await;
    let algs: Vec<&str> = doc["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["alg"].as_str().unwrap())
        .collect();
    assert_eq!(algs.len(), 2, "{doc}");
    assert!(algs.contains(&"EdDSA") && algs.contains(&"RS256"), "{doc}");
    let origin = s.origin();
    let check = |token: &str, alg: Alg, aud: &str| {
        verify_jwt(
            token,
            &set,
            &Validation::new([alg]).issuer(&origin).audience(aud),
            chrono::Utc::now().timestamp(),
        )
        .unwrap()
    };
    for (query, alg, aud) in [
        ("", Alg::EdDSA, origin.as_str()),
        ("?alg=RS256", Alg::RS256, origin.as_str()),
        ("?alg=EdDSA", Alg::EdDSA, origin.as_str()),
        // The audience's algorithm, unless the caller names one.
        ("?audience=aws-api", Alg::RS256, "aws-api"),
        ("?audience=aws-api&alg=EdDSA", Alg::EdDSA, "aws-api"),
        ("?audience=mesh", Alg::EdDSA, "mesh"),
        ("?alg=RS256&audience=mesh", Alg::RS256, "mesh"),
    ] {
        let (status, body) = token(&s, &bearer, query).await;
        assert_eq!(status, 200, "{query}: {body}");
        let jwt = body["token"].as_str().unwrap();
        assert_eq!(header_of(jwt)["alg"], alg.to_string(), "{query}");
        check(jwt, alg, aud);
    }
    for query in [
        "?alg=PS256",
        "?alg=rs256",
        "?alg=none",
        "?alg=HS256",
        "?alg=",
        "?alg=RS256&alg=RS256",
        "?alg=%ZZ",
    ] {
        let (status, body) = token(&s, &bearer, query).await;
        assert_eq!(status, 400, "{query}: {body}");
        assert_eq!(body["code"], "ALG_NOT_ALLOWED", "{query}");
    }
    // No session: 401 before the algorithm is looked at.
    let r = s
        .client
        .get(s.url("/token?alg=PS256"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // get-session's `set-auth-jwt` is signed with the default algorithm.
    let r = s.session_by_bearer(&bearer).await;
    let jwt = r.headers()["set-auth-jwt"].to_str().unwrap().to_owned();
    assert_eq!(header_of(&jwt)["alg"], "EdDSA");
    // The server's own verification accepts either.
    for query in ["", "?alg=RS256"] {
        let (_, body) = token(&s, &bearer, query).await;
        s.auth
            .verify_jwt(body["token"].as_str().unwrap())
            .await
            .unwrap();
    }
}

/// One algorithm alone (the default configuration) refuses `?alg=` for any other.
#[tokio::test]
async fn one_algorithm_refuses_others() {
    let s = TestServer::start(&Engine::Sqlite, |_| {}).await;
    let bearer = bearer_for(&s, "a@b.co").await;
    assert_eq!(signed_with(&s, &bearer, "?alg=EdDSA").await.1, "EdDSA");
    let (status, body) = token(&s, &bearer, "?alg=RS256").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("ALG_NOT_ALLOWED"))
    );
    assert_eq!(jwks(&s).await.0["keys"].as_array().unwrap().len(), 1);
}

/// Each algorithm's keys have their own lifecycle: rotating, revoking and scheduled rotation of
/// one leave the other's signing key as it was; `keys list` shows a current key per algorithm.
#[tokio::test]
async fn each_algorithm_rotates_on_its_own() {
    for engine in engines() {
        let s = TestServer::start(&engine, two_algs).await;
        let keys = s.auth.keys();
        let bearer = bearer_for(&s, "a@b.co").await;
        let (ed1, _) = signed_with(&s, &bearer, "").await;
        let (rs1, _) = signed_with(&s, &bearer, "?alg=RS256").await;
        let states = |list: Vec<(sigil_server::store::KeyRow, KeyState)>| -> Vec<(String, String, KeyState)> {
            let mut v: Vec<_> = list
                .into_iter()
                .map(|(r, st)| (r.id, r.alg.unwrap_or_default(), st))
                .collect();
            v.sort_by(|a, b| a.0.cmp(&b.0));
            v
        };
        let listed = states(keys.list().await.unwrap());
        assert_eq!(listed.len(), 2, "{engine:?}: {listed:?}");
        assert!(listed.iter().all(|(_, _, st)| *st == KeyState::Current));

        // A scheduled rotation of RS256: published now, signs after the lead; EdDSA untouched.
        let rs2 = keys.rotate_alg(Alg::RS256, false).await.unwrap();
        assert!(jwks(&s).await.0.to_string().contains(&rs2));
        assert_eq!(signed_with(&s, &bearer, "?alg=RS256").await.0, rs1);
        s.advance(keys.publish_lead() + chrono::Duration::seconds(1));
        assert_eq!(signed_with(&s, &bearer, "?alg=RS256").await.0, rs2);
        assert_eq!(signed_with(&s, &bearer, "").await.0, ed1, "{engine:?}");
        let listed = states(keys.list().await.unwrap());
        let state_of = |kid: &str| listed.iter().find(|(k, _, _)| k == kid).unwrap().2;
        assert_eq!(state_of(&rs1), KeyState::Retired);
        assert_eq!(state_of(&rs2), KeyState::Current);
        assert_eq!(state_of(&ed1), KeyState::Current);

        // Revoking the EdDSA key: a new EdDSA key signs; RS256 keeps its key.
        assert!(keys.revoke(&ed1).await.unwrap());
        let (ed2, alg) = signed_with(&s, &bearer, "").await;
        assert_eq!(alg, "EdDSA");
        assert_ne!(ed2, ed1);
        assert_eq!(signed_with(&s, &bearer, "?alg=RS256").await.0, rs2);

        // Revoking RS256's signing key while its successor waits: the successor starts now.
        let rs3 = keys.rotate_alg(Alg::RS256, false).await.unwrap();
        assert!(keys.revoke(&rs2).await.unwrap());
        assert_eq!(signed_with(&s, &bearer, "?alg=RS256").await.0, rs3);
        assert_eq!(signed_with(&s, &bearer, "").await.0, ed2, "{engine:?}");

        // An algorithm that is not configured cannot be rotated.
        assert!(keys.rotate_alg(Alg::ES256, false).await.is_err());
        let kinds: Vec<String> = keys
            .list()
            .await
            .unwrap()
            .into_iter()
            .filter_map(|(r, _)| r.alg)
            .collect();
        assert!(!kinds.iter().any(|a| a == "ES256"), "{kinds:?}");
    }
}

/// With a rotation interval, the key watch rotates every algorithm's keys, each on its own
/// schedule, and a key is made for every configured algorithm without a token asked of it.
#[tokio::test]
async fn scheduled_rotation_of_every_algorithm() {
    let s = TestServer::start(&Engine::Sqlite, two_algs_rotating_daily).await;
    let keys = s.auth.keys();
    keys.tick().await.unwrap();
    let (doc, _) = jwks(&s).await;
    assert_eq!(doc["keys"].as_array().unwrap().len(), 2, "{doc}");
    // Within the publish lead of the keys' end, each algorithm gets a successor.
    s.advance(chrono::Duration::days(1) - keys.publish_lead() + chrono::Duration::seconds(1));
    keys.tick().await.unwrap();
    let waiting = keys.waiting().await.unwrap();
    assert_eq!(waiting.len(), 2, "{waiting:?}");
    let listed = keys.list().await.unwrap();
    let next = algs_in(&listed, KeyState::Next);
    assert!(
        next.contains(&"EdDSA") && next.contains(&"RS256"),
        "{next:?}"
    );
    // A second tick makes no more.
    keys.tick().await.unwrap();
    assert_eq!(keys.list().await.unwrap().len(), 4);
}

/// The configuration of several algorithms, refused when it cannot mean what it says.
#[test]
fn algorithm_settings_are_checked() {
    let config = |tweak: &dyn Fn(&mut sigil_server::Settings)| {
        let mut settings = sigil_server::Settings {
            secret: Some("a-secret-of-at-least-32-characters-long".into()),
            ..Default::default()
        };
        tweak(&mut settings);
        sigil_server::Config::from_settings(settings)
    };
    let ok = config(&|c| c.jwt.algs = Some(vec!["RS256".into(), "EdDSA".into()])).unwrap();
    assert_eq!(ok.keys.alg, Alg::RS256);
    assert_eq!(ok.keys.algs, vec![Alg::RS256, Alg::EdDSA]);
    let same = config(&|c| {
        c.jwt.alg = Some("RS256".into());
        c.jwt.algs = Some(vec!["RS256".into(), "ES256".into()]);
    })
    .unwrap();
    assert_eq!(same.keys.alg, Alg::RS256);
    for (tweak, key) in [
        (
            Box::new(|c: &mut sigil_server::Settings| c.jwt.algs = Some(vec![]))
                as Box<dyn Fn(&mut sigil_server::Settings)>,
            "jwt.algs",
        ),
        (
            Box::new(|c| c.jwt.algs = Some(vec!["EdDSA".into(), "EdDSA".into()])),
            "jwt.algs",
        ),
        (
            Box::new(|c| c.jwt.algs = Some(vec!["EdDSA".into(), "HS256".into()])),
            "jwt.algs",
        ),
        (
            Box::new(|c| {
                c.jwt.alg = Some("ES256".into());
                c.jwt.algs = Some(vec!["EdDSA".into(), "ES256".into()]);
            }),
            "jwt.alg",
        ),
        (
            Box::new(|c| {
                c.jwt.algs = Some(vec!["EdDSA".into(), "RS256".into()]);
                c.jwt.audience_algs = Some([("aws".to_owned(), "RS256".to_owned())].into());
            }),
            "jwt.audience_algs",
        ),
        (
            Box::new(|c| {
                c.jwt.allowed_audiences = Some(vec!["aws".into()]);
                c.jwt.audience_algs = Some([("aws".to_owned(), "RS256".to_owned())].into());
            }),
            "jwt.audience_algs",
        ),
    ] {
        let err = config(&*tweak).unwrap_err().to_string();
        assert!(err.contains(key), "{key}: {err}");
    }
}

/// `GET {issuer}/.well-known/openid-configuration`: the issuer byte for byte, the key set's URL,
/// every algorithm with a published key, the members the specification requires; cached with an
/// `ETag`; and what it names is what tokens carry and the key set holds.
#[tokio::test]
async fn discovery_document() {
    let s = TestServer::start(&Engine::Sqlite, two_algs).await;
    let url = format!("{}{DISCOVERY}", s.root());
    let r = s.client.get(&url).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/json");
    assert_eq!(r.headers()["cache-control"], "public, max-age=300");
    assert_eq!(r.headers()["access-control-allow-origin"], "*");
    let etag = r.headers()["etag"].to_str().unwrap().to_owned();
    let doc: Value = r.json().await.unwrap();
    assert_eq!(doc["issuer"], s.origin());
    assert_eq!(doc["jwks_uri"], s.url("/jwks"));
    assert_eq!(
        doc["id_token_signing_alg_values_supported"],
        json!(["EdDSA", "RS256"])
    );
    for member in [
        "authorization_endpoint",
        "response_types_supported",
        "subject_types_supported",
    ] {
        assert!(!doc[member].is_null(), "{member} missing: {doc}");
    }
    // The key set it names holds the keys that verify the tokens, whose `iss` is its issuer.
    let set = s
        .client
        .get(doc["jwks_uri"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let set = JwkSet::from_json(set.as_bytes()).unwrap();
    let bearer = bearer_for(&s, "a@b.co").await;
    let (_, body) = token(&s, &bearer, "?audience=aws-api").await;
    verify_jwt(
        body["token"].as_str().unwrap(),
        &set,
        &Validation::new([Alg::RS256])
            .issuer(doc["issuer"].as_str().unwrap())
            .audience("aws-api"),
        chrono::Utc::now().timestamp(),
    )
    .unwrap();
    // Revalidation.
    let r = s.revalidate(&url, &etag).await;
    assert_eq!(r.status(), 304);
    assert_eq!(r.headers()["etag"], etag.as_str());
    let r = s.client.post(&url).send().await.unwrap();
    assert_eq!(r.status(), 405);
    assert_eq!(
        r.json::<Value>().await.unwrap()["code"],
        "METHOD_NOT_ALLOWED"
    );

    // A base URL with a path (Better Auth's BETTER_AUTH_URL often has one): the key set's URL
    // is the origin and the base path, where the routes are.
    let s = TestServer::start(&Engine::Sqlite, |c| {
        c.base_url = Some("http://auth.example.com/api/auth".into());
    })
    .await;
    let (_, doc) = at_root(&s, DISCOVERY).await;
    assert_eq!(doc["issuer"], "http://auth.example.com");
    assert_eq!(doc["jwks_uri"], "http://auth.example.com/api/auth/jwks");
}

/// A one-algorithm server lists that algorithm alone; an issuer with a path has the document
/// under that path (also when that is the base path); an issuer that is not a URL has none.
#[tokio::test]
async fn discovery_follows_the_issuer() {
    let s = TestServer::start(&Engine::Sqlite, |c| c.jwt.alg = Some("ES256".into())).await;
    let (_, doc) = at_root(&s, DISCOVERY).await;
    assert_eq!(
        doc["id_token_signing_alg_values_supported"],
        json!(["ES256"])
    );

    let s = TestServer::start(&Engine::Sqlite, |c| {
        c.jwt.issuer = Some("http://issuer.example/tenants/a".into());
    })
    .await;
    let (status, doc) = at_root(&s, &format!("/tenants/a{DISCOVERY}")).await;
    assert_eq!(status, 200);
    assert_eq!(doc["issuer"], "http://issuer.example/tenants/a");
    assert_eq!(at_root(&s, DISCOVERY).await.0, 404);

    // Under the base path itself.
    let s = TestServer::start(&Engine::Sqlite, |c| {
        c.jwt.issuer = Some("http://issuer.example/api/auth".into());
    })
    .await;
    let (status, doc) = at_root(&s, &format!("/api/auth{DISCOVERY}")).await;
    assert_eq!(status, 200, "{doc}");
    assert_eq!(doc["issuer"], "http://issuer.example/api/auth");
    assert!(s.get("/ok").await.status().is_success());

    // Where the key set already is (a jwks.path of that name): the server starts, the key set
    // stays.
    let s = TestServer::start(&Engine::Sqlite, |c| {
        c.jwt.issuer = Some("http://issuer.example/api/auth".into());
        c.jwks.path = Some(DISCOVERY.into());
    })
    .await;
    let (_, body) = at_root(&s, &format!("/api/auth{DISCOVERY}")).await;
    assert!(body["keys"].is_array(), "{body}");

    let s = TestServer::start(&Engine::Sqlite, |c| c.jwt.issuer = Some("sigil".into())).await;
    assert_eq!(at_root(&s, DISCOVERY).await.0, 404);
}

/// A live key of one algorithm that cannot sign (a broken private key) is an error of that
/// algorithm alone: the key watch still rotates the other's keys on schedule, and no key of the
/// broken one is generated only to be declined.
#[tokio::test]
async fn one_algorithms_broken_key_never_holds_up_the_others_rotation() {
    // Another RSA key's private half: a valid key that does not match the published one.
    let stranger = sigil_jose::KeyPair::generate_with_rsa_bits(Alg::RS256, 2048).unwrap();
    let stranger = stranger.to_private_jwk().unwrap().to_string();
    for (private_key, mismatched) in [(r#"{"kty":"RSA"}"#.to_owned(), false), (stranger, true)] {
        let s = TestServer::start(&Engine::Sqlite, two_algs_rotating_daily).await;
        let keys = s.auth.keys();
        let listed = keys.list().await.unwrap();
        let rs = listed
            .iter()
            .find(|(r, _)| r.alg.as_deref() == Some("RS256"))
            .map(|(r, _)| r.clone())
            .unwrap();
        // The RS256 key is replaced by a row whose private key is no key at all, or another's.
        assert!(keys.revoke(&rs.id).await.unwrap());
        let broken = sigil_server::store::KeyRow {
            id: "broken-rs256".into(),
            private_key,
            created_at: s.now(),
            expires_at: Some(s.now() + chrono::Duration::days(1)),
            ..rs
        };
        s.auth
            .store()
            .insert_key_if(&broken, |_| {
                Some(sigil_server::store::Placement::as_is(&broken))
            })
            .await
            .unwrap();
        keys.reload().await.unwrap();
        let before = keys.list().await.unwrap().len();
        // Within the publish lead of the EdDSA key's end: its successor is published although
        // RS256 fails on every tick.
        s.advance(chrono::Duration::days(1) - keys.publish_lead() + chrono::Duration::seconds(1));
        let error = keys.tick().await.expect_err("RS256's trouble is reported");
        // The broken key is named before any key is generated (a key generated only for the
        // insert to decline ends in `Missing`).
        if mismatched {
            assert!(
                matches!(error, sigil_server::keys::KeyError::Mismatch { .. }),
                "{error:?}"
            );
        } else {
            assert!(
                matches!(error, sigil_server::keys::KeyError::Invalid { .. }),
                "{error:?}"
            );
        }
        let listed = keys.list().await.unwrap();
        let next = algs_in(&listed, KeyState::Next);
        assert_eq!(next, ["EdDSA"], "{listed:?}");
        assert_eq!(listed.len(), before + 1, "no RS256 key made besides");
        // Default tokens go on; RS256 ones answer the signing-key error.
        let bearer = bearer_for(&s, "a@b.co").await;
        assert_eq!(signed_with(&s, &bearer, "").await.1, "EdDSA");
        let (status, _) = token(&s, &bearer, "?alg=RS256").await;
        assert_eq!(status, 500);
        assert_eq!(
            s.get("/ready").await.status(),
            200,
            "ready on the default key"
        );
    }
}
