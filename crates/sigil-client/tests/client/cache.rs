//! The token cache, with the server's and the client's clock moved together: reused before the
//! margin, fetched anew inside it and after `exp`; one request for many concurrent callers; a 401
//! drops the cache; sign-in and sign-out clear it.

use std::sync::Arc;
use std::time::Duration;

use sigil_client::{AuthClient, Error};

use crate::{PASSWORD, TestServer, unique};

/// Sigil's default token lifetime (15 minutes).
const LIFETIME: i64 = 900;

#[tokio::test]
async fn reused_before_the_margin_refetched_inside_it_and_after_exp() {
    let server = TestServer::start().await;
    let (client, _) = server.signed_up().await;
    let first = client.token().await.unwrap();
    assert_eq!(server.token_requests(), 1);
    let exp = first.expires_at().unwrap();
    assert_eq!(exp - first.issued_at().unwrap(), LIFETIME);

    // Up to 61 s before exp: the cached token, no request.
    server.clock.advance(exp - 61 - server.clock.now());
    let again = client.token().await.unwrap();
    assert_eq!(again.as_str(), first.as_str());
    assert_eq!(server.token_requests(), 1);

    // 60 s before exp (inside the default margin): a new token.
    server.clock.advance(1);
    let second = client.token().await.unwrap();
    assert_eq!(server.token_requests(), 2);
    assert!(second.expires_at().unwrap() > exp);
    client.token().await.unwrap();
    assert_eq!(server.token_requests(), 2, "the new token is cached");

    // Past exp: a new token.
    server.clock.advance(LIFETIME + 5);
    let third = client.token().await.unwrap();
    assert_eq!(server.token_requests(), 3);
    assert!(third.expires_at().unwrap() > server.clock.now());
}

#[tokio::test]
async fn the_margin_is_configurable() {
    let server = TestServer::start().await;
    let client = AuthClient::builder(&server.url)
        .clock(Arc::new(server.clock.clone()))
        .token_margin(Duration::from_secs(300))
        .build()
        .unwrap();
    client
        .sign_up_email("M", &format!("m{}@example.com", unique()), PASSWORD)
        .await
        .unwrap();
    let first = client.token().await.unwrap();
    let exp = first.expires_at().unwrap();
    server.clock.advance(exp - 301 - server.clock.now());
    client.token().await.unwrap();
    assert_eq!(server.token_requests(), 1);
    server.clock.advance(1);
    client.token().await.unwrap();
    assert_eq!(server.token_requests(), 2);
}

#[tokio::test]
async fn concurrent_callers_share_one_request() {
    let server = TestServer::start().await;
    let (client, _) = server.signed_up().await;
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move { client.token().await.map(|t| t.as_str().to_owned()) })
        })
        .collect();
    let mut tokens = Vec::new();
    for task in tasks {
        tokens.push(task.await.unwrap().unwrap());
    }
    assert_eq!(server.token_requests(), 1);
    assert!(tokens.windows(2).all(|w| w[0] == w[1]));

    // Again once the token is due: still one request for all.
    server.clock.advance(LIFETIME);
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move { client.token().await.map(|_| ()) })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    assert_eq!(server.token_requests(), 2);
}

#[tokio::test]
async fn a_401_is_session_gone_and_drops_the_cache() {
    let server = TestServer::start().await;
    let (client, _) = server.signed_up().await;
    client.token().await.unwrap();
    // The session ends elsewhere (another holder signs it out).
    let other = AuthClient::new(&server.url)
        .unwrap()
        .with_session_token(client.session_token().unwrap());
    other.sign_out().await.unwrap();
    // The cached token is still handed out while it is good (JWTs are not revocable)...
    client.token().await.unwrap();
    assert_eq!(server.token_requests(), 1);
    // ...until it is due: then the server says the session is gone.
    server.clock.advance(LIFETIME);
    let r = client.token().await;
    assert!(matches!(r, Err(Error::SessionGone)), "{r:?}");
    assert_eq!(server.token_requests(), 2);
    // Nothing cached: asked again, the server is asked again.
    assert!(matches!(client.token().await, Err(Error::SessionGone)));
    assert_eq!(server.token_requests(), 3);
}

#[tokio::test]
async fn sign_in_and_sign_out_clear_the_cache() {
    let server = TestServer::start().await;
    let client = server.client();
    let email = format!("s{}@example.com", unique());
    let signed_up = client.sign_up_email("S", &email, PASSWORD).await.unwrap();
    client.token().await.unwrap();
    client.sign_in_email(&email, PASSWORD).await.unwrap();
    let after = client.token().await.unwrap();
    assert_eq!(server.token_requests(), 2, "sign-in cleared the cache");
    assert_eq!(
        after.claims_unverified().unwrap().sub.as_deref(),
        Some(signed_up.user.id.as_str())
    );
    client.sign_out().await.unwrap();
    assert!(matches!(client.token().await, Err(Error::SessionGone)));
    assert_eq!(server.token_requests(), 3, "sign-out cleared the cache");
}

#[tokio::test]
async fn clear_token_cache_and_refresh_token() {
    let server = TestServer::start().await;
    let (client, _) = server.signed_up().await;
    let first = client.token().await.unwrap();
    client.clear_token_cache();
    server.clock.advance(1); // a new iat, so a new token
    client.token().await.unwrap();
    assert_eq!(server.token_requests(), 2);
    // A token refused moments after it was fetched is not replaced (a new one would fare no
    // better); once held a while, refresh_token replaces it once, and a caller holding an older
    // one gets the replacement without another request.
    let current = client.token().await.unwrap();
    let kept = client.refresh_token(None, &current).await.unwrap();
    assert_eq!(kept.as_str(), current.as_str());
    assert_eq!(server.token_requests(), 2);
    server.clock.advance(10);
    let fresh = client.refresh_token(None, &current).await.unwrap();
    assert_eq!(server.token_requests(), 3);
    let same = client.refresh_token(None, &current).await.unwrap();
    assert_eq!(same.as_str(), fresh.as_str());
    let _ = client.refresh_token(None, &first).await.unwrap();
    assert_eq!(server.token_requests(), 3);
}
