//! End to end: a user signs up on `sigil serve`, gets a JWT from `/api/auth/token`, and the
//! example service (crates/sigil-verify/examples/protected_service.rs, compiled in here) lets
//! the token in and turns others away with RFC 6750 401s; `sigil token verify --jwks-url` agrees.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use sigil_jose::{Alg, KeyPair};
use sigil_verify::{ManualClock, RemoteJwks, Verifier};

use crate::{Served, verify};

#[allow(dead_code)]
#[path = "../../../sigil-verify/examples/protected_service.rs"]
mod protected_service;

async fn serve_example(verifier: Verifier) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, protected_service::app(verifier)).await });
    url
}

async fn me(
    client: &reqwest::Client,
    service: &str,
    authorization: Option<&str>,
) -> (u16, Option<String>, Value) {
    let mut request = client.get(format!("{service}/me"));
    if let Some(a) = authorization {
        request = request.header("authorization", a);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let challenge = response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned());
    (status, challenge, response.json().await.unwrap())
}

#[test]
fn token_from_sigil_serve_verified_by_the_example_service() {
    let served = Served::start(&[
        ("SIGIL_BASE_URL", "http://127.0.0.1:{port}"),
        ("SIGIL_RATE_LIMIT", "false"),
    ]);
    let issuer = format!("http://127.0.0.1:{}", served.port);
    let jwks_url = format!("{issuer}/api/auth/jwks");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (jwt, user_id) = rt.block_on(async {
        let client = reqwest::Client::new();
        let signed_up = client
            .post(format!("{issuer}/api/auth/sign-up/email"))
            .header("origin", &issuer)
            .json(&json!({"email": "ada@example.com", "password": "correct horse battery", "name": "Ada"}))
            .send()
            .await
            .unwrap();
        assert_eq!(signed_up.status(), 200);
        let session = signed_up.headers()["set-auth-token"].to_str().unwrap().to_owned();
        let body: Value = signed_up.json().await.unwrap();
        let token: Value = client
            .get(format!("{issuer}/api/auth/token"))
            .bearer_auth(&session)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        (
            token["token"].as_str().unwrap().to_owned(),
            body["user"]["id"].as_str().unwrap().to_owned(),
        )
    });

    rt.block_on(async {
        let client = reqwest::Client::new();
        // The example service as it ships: the token gets in.
        let service =
            serve_example(protected_service::verifier(&issuer, &jwks_url, &issuer).unwrap()).await;
        let bearer = format!("Bearer {jwt}");
        let (status, _, body) = me(&client, &service, Some(&bearer)).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["sub"], user_id.as_str());
        assert_eq!(body["email"], "ada@example.com");
        let (status, _, _) = client
            .get(format!("{service}/health"))
            .send()
            .await
            .map(|r| (r.status().as_u16(), (), ()))
            .unwrap();
        assert_eq!(status, 200);

        // Missing header and another scheme: 401 with a bare Bearer challenge.
        for authorization in [None, Some(format!("Basic {jwt}"))] {
            let (status, challenge, body) = me(&client, &service, authorization.as_deref()).await;
            assert_eq!((status, challenge.as_deref()), (401, Some("Bearer")));
            assert_eq!(body["code"], "missing_token");
        }
        // Unknown kid: a token signed by a key the issuer never published.
        let stranger = KeyPair::generate(Alg::EdDSA).unwrap();
        let now = chrono::Utc::now().timestamp();
        let forged = sigil_jose::sign_jwt(
            &stranger,
            &json!({"sub": user_id, "iss": issuer, "aud": issuer, "exp": now + 600}),
        )
        .unwrap();
        let cases = vec![
            (service.clone(), forged, "no_matching_key"),
            // Wrong audience: the same service configured for another audience.
            (
                serve_example(
                    protected_service::verifier(&issuer, &jwks_url, "https://billing.example.com")
                        .unwrap(),
                )
                .await,
                jwt.clone(),
                "aud_mismatch",
            ),
            // Expired: the same service judging the token an hour later.
            (
                serve_example(
                    Verifier::builder(RemoteJwks::new(&jwks_url).unwrap())
                        .alg(Alg::EdDSA)
                        .issuer(&issuer)
                        .audience(&issuer)
                        .clock(Arc::new(ManualClock::new(now + 3600)))
                        .build()
                        .unwrap(),
                )
                .await,
                jwt.clone(),
                "expired",
            ),
        ];
        for (service, token, code) in cases {
            let (status, challenge, body) =
                me(&client, &service, Some(&format!("Bearer {token}"))).await;
            assert_eq!(status, 401, "{code}");
            assert_eq!(body["code"], code);
            assert!(
                challenge
                    .unwrap()
                    .starts_with("Bearer error=\"invalid_token\", error_description="),
                "{code}"
            );
        }
    });

    // The CLI agrees, fetching the same JWKS.
    let run = verify(
        &[
            "--jwks-url",
            &jwks_url,
            "--alg",
            "EdDSA",
            "--iss",
            &issuer,
            "--aud",
            &issuer,
            &jwt,
        ],
        "",
        Duration::from_secs(20),
    );
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(run.output()["sub"], user_id.as_str());
    let run = verify(
        &[
            "--jwks-url",
            &jwks_url,
            "--alg",
            "EdDSA",
            "--aud",
            "other",
            &jwt,
        ],
        "",
        Duration::from_secs(20),
    );
    assert_eq!(
        (run.code, run.error()["error"].clone()),
        (1, json!("aud_mismatch"))
    );

    let (exit, _) = served.stop();
    assert!(exit.success());
}
