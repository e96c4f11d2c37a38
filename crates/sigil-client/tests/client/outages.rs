//! The cache when the auth server fails, against a stub auth server whose answers the test
//! chooses: callers queued behind a failed fetch share its failure (one request, not one each);
//! a token still valid is handed out while the server cannot be reached; a clone given another
//! session keeps the original's.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use sigil_client::{AuthClient, Error, ManualClock};

/// What the stub's `GET /api/auth/token` answers: a token expiring at `exp` (when > 0), else
/// 503 after `delay_ms`.
#[derive(Clone, Default)]
struct Stub {
    requests: Arc<AtomicUsize>,
    exp: Arc<AtomicI64>,
    delay_ms: u64,
}

/// An unsigned compact JWT with these times: the client reads them without verifying.
fn jwt(iat: i64, exp: i64) -> String {
    let part = |json: String| sigil_jose::b64::encode(json.as_bytes());
    format!(
        "{}.{}.sig",
        part(r#"{"alg":"EdDSA"}"#.into()),
        part(format!(r#"{{"sub":"u","iat":{iat},"exp":{exp}}}"#))
    )
}

async fn token(State(stub): State<Stub>) -> impl IntoResponse {
    stub.requests.fetch_add(1, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(stub.delay_ms)).await;
    let exp = stub.exp.load(Ordering::SeqCst);
    if exp > 0 {
        let body = format!(r#"{{"token":"{}"}}"#, jwt(exp - 900, exp));
        (StatusCode::OK, body).into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            r#"{"code":"DATABASE_UNAVAILABLE","message":"down"}"#,
        )
            .into_response()
    }
}

async fn stub(stub: Stub) -> String {
    let app = axum::Router::new()
        .route("/api/auth/token", axum::routing::get(token))
        .with_state(stub);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

#[tokio::test]
async fn callers_queued_behind_a_failed_fetch_share_its_failure() {
    let s = Stub {
        delay_ms: 200,
        ..Stub::default()
    };
    let url = stub(s.clone()).await;
    let client = AuthClient::builder(&url)
        .session_token("session.token")
        .build()
        .unwrap();
    let tasks: Vec<_> = (0..6)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move { client.token().await })
        })
        .collect();
    for task in tasks {
        let err = task.await.unwrap().unwrap_err();
        assert!(matches!(err, Error::Server { status: 503, .. }), "{err:?}");
    }
    assert_eq!(s.requests.load(Ordering::SeqCst), 1, "one request for all");
    // A later caller tries again.
    assert!(client.token().await.is_err());
    assert_eq!(s.requests.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_valid_token_is_handed_out_while_the_server_is_down() {
    let now = 1_800_000_000;
    let s = Stub::default();
    s.exp.store(now + 900, Ordering::SeqCst);
    let url = stub(s.clone()).await;
    let clock = Arc::new(ManualClock::new(now));
    let client = AuthClient::builder(&url)
        .session_token("session.token")
        .clock(clock.clone())
        .build()
        .unwrap();
    let first = client.token().await.unwrap();
    // Inside the margin, the server down: the token, still valid, rather than an error.
    s.exp.store(0, Ordering::SeqCst);
    clock.set(now + 900 - 30);
    let again = client.token().await.unwrap();
    assert_eq!(again.as_str(), first.as_str());
    assert_eq!(s.requests.load(Ordering::SeqCst), 2, "it did try");
    // Past exp: the error.
    clock.set(now + 901);
    assert!(matches!(
        client.token().await,
        Err(Error::Server { status: 503, .. })
    ));
    // Back up: a new token.
    s.exp.store(now + 1800, Ordering::SeqCst);
    assert_eq!(client.token().await.unwrap().expires_at(), Some(now + 1800));
}

#[tokio::test]
async fn a_clone_given_another_session_keeps_the_original_apart() {
    let server = crate::TestServer::start().await;
    let (a, _) = server.signed_up().await;
    let (b, _) = server.signed_up().await;
    let a_sub = a.token().await.unwrap().claims_unverified().unwrap().sub;
    let b_session = b.session_token().unwrap();
    let other = a.clone().with_session_token(b_session);
    let other_sub = other
        .token()
        .await
        .unwrap()
        .claims_unverified()
        .unwrap()
        .sub;
    assert_ne!(a_sub, other_sub);
    a.clear_token_cache();
    let again = a.token().await.unwrap().claims_unverified().unwrap().sub;
    assert_eq!(again, a_sub, "the original keeps its session");
}
