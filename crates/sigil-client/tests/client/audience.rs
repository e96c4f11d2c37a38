//! Audience-scoped tokens: `token_for` asks `GET /token?audience=…`, each audience cached on its
//! own (and single-flight on its own); an audience off the server's allow-list is a 400 with
//! `AUDIENCE_NOT_ALLOWED`, not a session error; sign-out clears every audience.

use sigil_client::{Error, ErrorCode};
use sigil_jose::Audience;

use crate::TestServer;

async fn server() -> TestServer {
    TestServer::start_with(|s| {
        s.jwt.allowed_audiences = Some(vec!["billing".into(), "reports".into()]);
    })
    .await
}

fn aud(jwt: &sigil_client::Jwt) -> Option<Audience> {
    jwt.claims_unverified().unwrap().aud
}

#[tokio::test]
async fn each_audience_is_fetched_and_cached_on_its_own() {
    let server = server().await;
    let (client, signed_up) = server.signed_up().await;
    let billing = client.token_for("billing").await.unwrap();
    assert_eq!(aud(&billing), Some(Audience::One("billing".into())));
    assert_eq!(
        billing.claims_unverified().unwrap().sub.as_deref(),
        Some(signed_up.user.id.as_str())
    );
    let default = client.token().await.unwrap();
    assert_eq!(aud(&default), Some(Audience::One(server.url.clone())));
    let reports = client.token_for("reports").await.unwrap();
    assert_eq!(aud(&reports), Some(Audience::One("reports".into())));
    assert_eq!(server.token_requests(), 3);

    for _ in 0..3 {
        assert_eq!(
            client.token_for("billing").await.unwrap().as_str(),
            billing.as_str()
        );
        assert_eq!(client.token().await.unwrap().as_str(), default.as_str());
        client.token_for("reports").await.unwrap();
    }
    assert_eq!(server.token_requests(), 3, "all three cached");

    client.sign_out().await.unwrap();
    assert!(matches!(
        client.token_for("billing").await,
        Err(Error::SessionGone)
    ));
}

#[tokio::test]
async fn concurrent_callers_share_one_request_per_audience() {
    let server = server().await;
    let (client, _) = server.signed_up().await;
    let tasks: Vec<_> = (0..16)
        .map(|i| {
            let client = client.clone();
            tokio::spawn(async move {
                if i % 2 == 0 {
                    client.token_for("billing").await
                } else {
                    client.token().await
                }
                .map(|_| ())
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    assert_eq!(server.token_requests(), 2, "one per audience");
}

#[tokio::test]
async fn an_audience_off_the_allow_list_is_refused_with_its_code() {
    let server = server().await;
    let (client, _) = server.signed_up().await;
    let err = client.token_for("payroll").await.unwrap_err();
    match &err {
        Error::Server {
            status,
            code,
            raw_code,
            ..
        } => {
            assert_eq!(*status, 400);
            assert_eq!(*code, Some(ErrorCode::AudienceNotAllowed));
            assert_eq!(raw_code.as_deref(), Some("AUDIENCE_NOT_ALLOWED"));
        }
        other => panic!("{other:?}"),
    }
    assert!(!err.is_unavailable());
    // The session is untouched.
    assert!(client.has_session());
    client.token_for("billing").await.unwrap();
}

#[tokio::test]
async fn the_middleware_sends_the_audience_token() {
    let server = server().await;
    let (client, _) = server.signed_up().await;
    let (url, seen) = crate::middleware::recording_callee().await;
    let http = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(client.middleware_for("billing"))
        .build();
    let response = http.post(&url).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let sent = seen.lock().unwrap()[0].clone();
    let jwt = sigil_client::Jwt::parse(sent).unwrap();
    assert_eq!(aud(&jwt), Some(Audience::One("billing".into())));
}
