//! The axum layer and extractor, in-process.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use axum::routing::get;
use serde_json::{Value, json};
use sigil_verify::axum::{Claims, VerifyLayer};
use sigil_verify::{Alg, LocalJwks, ManualClock, Verifier};
use tower::ServiceExt;

use crate::jwks_server::{Behaviour, JwksServer};
use crate::*;

#[derive(serde::Deserialize)]
struct Caller {
    sub: String,
}

async fn me(Claims(caller): Claims<Caller>) -> String {
    caller.sub
}

fn app(verifier: Verifier) -> Router {
    Router::new()
        .route("/me", get(me))
        .layer(VerifyLayer::new(verifier))
        .route("/unprotected", get(me))
}

async fn call(
    app: &Router,
    authorization: Option<&str>,
    path: &str,
) -> (StatusCode, Option<String>, Value) {
    let mut request = Request::get(path);
    if let Some(a) = authorization {
        request = request.header(header::AUTHORIZATION, a);
    }
    let response = app
        .clone()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let challenge = response
        .headers()
        .get(header::WWW_AUTHENTICATE)
        .map(|v| v.to_str().unwrap().to_owned());
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    let body = serde_json::from_slice(&bytes)
        .unwrap_or(Value::String(String::from_utf8_lossy(&bytes).into()));
    (status, challenge, body)
}

#[tokio::test]
async fn layer_accepts_and_rejects_per_rfc_6750() {
    let (k, stranger) = (key(), key());
    let clock = ManualClock::new(NOW);
    let verifier = Verifier::builder(LocalJwks::from_value(&jwks(&[&k])).unwrap())
        .alg(Alg::EdDSA)
        .audience("api")
        .clock(Arc::new(clock.clone()))
        .build()
        .unwrap();
    let app = app(verifier);
    let good = token_with(&k, json!({"sub": "u1", "aud": "api", "exp": NOW + 60}));

    let (status, _, body) = call(&app, Some(&format!("Bearer {good}")), "/me").await;
    assert_eq!((status, body), (StatusCode::OK, json!("u1")));

    let (status, challenge, body) = call(&app, None, "/me").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(challenge.as_deref(), Some("Bearer"));
    assert_eq!(body["code"], "missing_token");

    let (status, challenge, body) = call(&app, Some(&format!("Basic {good}")), "/me").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(challenge.as_deref(), Some("Bearer"));
    assert_eq!(body["code"], "missing_token");

    let cases = [
        (
            token_with(&k, json!({"sub": "u1", "aud": "api", "exp": NOW - 1})),
            "expired",
        ),
        (
            token_with(&k, json!({"sub": "u1", "aud": "web", "exp": NOW + 60})),
            "aud_mismatch",
        ),
        (
            token_with(
                &stranger,
                json!({"sub": "u1", "aud": "api", "exp": NOW + 60}),
            ),
            "no_matching_key",
        ),
        ("not-a-token".to_owned(), "malformed"),
    ];
    for (token, expect) in cases {
        let (status, challenge, body) = call(&app, Some(&format!("Bearer {token}")), "/me").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{expect}");
        assert_eq!(body["code"], expect);
        assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
        let challenge = challenge.unwrap();
        assert!(
            challenge.starts_with("Bearer error=\"invalid_token\", error_description=\""),
            "{challenge}"
        );
    }

    // Malformed credentials: 400 invalid_request (RFC 6750 §3.1).
    for bad in ["Bearer ", "Bearer a b"] {
        let (status, challenge, body) = call(&app, Some(bad), "/me").await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad:?}");
        assert_eq!(body["code"], "invalid_request");
        assert!(
            challenge
                .unwrap()
                .starts_with("Bearer error=\"invalid_request\"")
        );
    }
    let twice = Request::get("/me")
        .header(header::AUTHORIZATION, format!("Bearer {good}"))
        .header(header::AUTHORIZATION, format!("Bearer {good}"))
        .body(Body::empty())
        .unwrap();
    let response = app.clone().oneshot(twice).await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);

    // A verified token whose claims do not fit the handler's type.
    let no_sub = token_with(&k, json!({"aud": "api", "exp": NOW + 60}));
    let (status, _, body) = call(&app, Some(&format!("Bearer {no_sub}")), "/me").await;
    assert_eq!(
        (status, &body["code"]),
        (StatusCode::UNAUTHORIZED, &json!("claims_invalid"))
    );

    // The extractor without the layer: a clear 500, never a pass.
    let (status, _, body) = call(&app, Some(&format!("Bearer {good}")), "/unprotected").await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(body["code"], "layer_missing");
}

#[tokio::test]
async fn layer_answers_503_when_keys_are_unavailable() {
    let k = key();
    let server = JwksServer::start(Behaviour::Status(500)).await;
    let clock = ManualClock::new(NOW);
    let app = app(verifier(
        remote(&server.url(), &clock).build().unwrap(),
        &clock,
    ));
    let (status, challenge, body) = call(&app, Some(&format!("Bearer {}", token(&k))), "/me").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(challenge, None);
    assert_eq!(body["code"], "keys_unavailable");
    // A token that is broken whatever the keys: still the caller's 401.
    let (status, _, body) = call(&app, Some("Bearer garbage"), "/me").await;
    assert_eq!(
        (status, &body["code"]),
        (StatusCode::UNAUTHORIZED, &json!("malformed"))
    );
}
