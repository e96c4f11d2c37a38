//! BearerMiddleware against a callee stub that counts requests and records the tokens it saw:
//! the header is added; a 401 `invalid_token` is retried once with a fresh token; other 401s
//! and a second refusal are returned as they are.

use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use sigil_client::Error;

use crate::TestServer;

#[derive(Clone, Copy)]
enum Behaviour {
    Accept,
    RefuseFirst,
    RefuseAll,
    RefuseWithoutInvalidToken,
}

#[derive(Clone)]
struct Callee {
    behaviour: Behaviour,
    seen: Arc<Mutex<Vec<String>>>,
}

async fn handle(State(callee): State<Callee>, headers: HeaderMap) -> impl IntoResponse {
    let bearer = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default()
        .to_owned();
    let n = {
        let mut seen = callee.seen.lock().unwrap();
        seen.push(bearer.clone());
        seen.len()
    };
    let refuse = match callee.behaviour {
        Behaviour::Accept => None,
        Behaviour::RefuseFirst if n == 1 => {
            Some("Bearer error=\"invalid_token\", error_description=\"expired\"")
        }
        Behaviour::RefuseFirst => None,
        Behaviour::RefuseAll => Some("Bearer error=\"invalid_token\""),
        Behaviour::RefuseWithoutInvalidToken => Some("Bearer"),
    };
    match refuse {
        Some(challenge) => (
            StatusCode::UNAUTHORIZED,
            [("www-authenticate", challenge)],
            String::new(),
        )
            .into_response(),
        None => (StatusCode::OK, bearer).into_response(),
    }
}

async fn callee(behaviour: Behaviour) -> (String, Arc<Mutex<Vec<String>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let app = axum::Router::new()
        .route("/work", axum::routing::post(handle))
        .with_state(Callee {
            behaviour,
            seen: seen.clone(),
        });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/work", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, seen)
}

/// A callee that accepts every request and records the bearer tokens it saw.
pub async fn recording_callee() -> (String, Arc<Mutex<Vec<String>>>) {
    callee(Behaviour::Accept).await
}

fn http(client: &sigil_client::AuthClient) -> reqwest_middleware::ClientWithMiddleware {
    reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(client.middleware())
        .build()
}

#[tokio::test]
async fn adds_the_bearer_token() {
    let server = TestServer::start().await;
    let (client, _) = server.signed_up().await;
    let (url, seen) = callee(Behaviour::Accept).await;
    let http = http(&client);
    for _ in 0..3 {
        let response = http.post(&url).body("x").send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(
            response.text().await.unwrap(),
            client.token().await.unwrap().as_str()
        );
    }
    assert_eq!(seen.lock().unwrap().len(), 3);
    assert_eq!(server.token_requests(), 1, "one token for all three calls");
}

#[tokio::test]
async fn invalid_token_is_retried_once_with_a_fresh_token() {
    let server = TestServer::start().await;
    let (client, _) = server.signed_up().await;
    let (url, seen) = callee(Behaviour::RefuseFirst).await;
    let first = client.token().await.unwrap();
    // Held a while (a token refused as soon as it was fetched is not replaced), and so that the
    // refetched token differs.
    server.clock.advance(11);
    let response = http(&client).post(&url).body("x").send().await.unwrap();
    assert_eq!(response.status(), 200);
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2, "one retry");
    assert_eq!(seen[0], first.as_str());
    assert_ne!(seen[1], first.as_str(), "the retry carries a new token");
    assert_eq!(server.token_requests(), 2, "the retry forced a refetch");
}

#[tokio::test]
async fn a_second_refusal_is_returned_and_other_401s_are_not_retried() {
    let server = TestServer::start().await;
    let (client, _) = server.signed_up().await;
    let (url, seen) = callee(Behaviour::RefuseAll).await;
    client.token().await.unwrap();
    server.clock.advance(11);
    let response = http(&client).post(&url).body("x").send().await.unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(seen.lock().unwrap().len(), 2, "retried once, not more");
    assert_eq!(server.token_requests(), 2);
    // The new token, refused at once: a third token would fare no better; no retry, no fetch.
    let response = http(&client).post(&url).body("x").send().await.unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(seen.lock().unwrap().len(), 3, "not retried");
    assert_eq!(server.token_requests(), 2, "not refetched");

    let (url, seen) = callee(Behaviour::RefuseWithoutInvalidToken).await;
    let response = http(&client).post(&url).body("x").send().await.unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(
        seen.lock().unwrap().len(),
        1,
        "no retry without error=\"invalid_token\""
    );
}

#[tokio::test]
async fn no_session_is_a_middleware_error_and_no_request() {
    let server = TestServer::start().await;
    let client = server.client();
    let (url, seen) = callee(Behaviour::Accept).await;
    let err = http(&client).post(&url).send().await.unwrap_err();
    let reqwest_middleware::Error::Middleware(inner) = err else {
        panic!("{err:?}")
    };
    assert!(matches!(
        inner.downcast_ref::<Error>(),
        Some(Error::SessionGone)
    ));
    assert!(seen.lock().unwrap().is_empty());
}
