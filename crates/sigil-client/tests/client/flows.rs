//! The routes against a real server: sign-up/in, get-session, sign-out, jwks, token; errors carry
//! the server's code; bearer and cookie transports; a client from a stored session token.

use sigil_client::{AuthClient, Error, ErrorCode, SessionTransport};
use sigil_jose::{Alg, Validation, verify_jwt};

use crate::{PASSWORD, TestServer, closed_port, unique};

#[tokio::test]
async fn sign_up_session_token_jwks_sign_out() {
    let server = TestServer::start().await;
    let (client, signed_up) = server.signed_up().await;
    assert!(client.has_session());

    let info = client.get_session().await.unwrap();
    assert_eq!(info.session.user.id, signed_up.user.id);
    let header_jwt = info.jwt.clone().expect("get-session sends set-auth-jwt");
    // Debug never shows the session token or the JWT.
    let debug = format!("{info:?} {client:?}");
    assert!(!debug.contains(&info.session.session.token), "{debug}");
    assert!(!debug.contains(header_jwt.as_str()), "{debug}");

    let jwt = client.token().await.unwrap();
    let keys = client.jwks().await.unwrap();
    let validation = Validation::new([Alg::EdDSA])
        .issuer(&server.url)
        .audience(&server.url);
    let claims = verify_jwt(jwt.as_str(), &keys, &validation, server.clock.now()).unwrap();
    assert_eq!(claims.sub.as_deref(), Some(signed_up.user.id.as_str()));
    assert_eq!(
        jwt.claims_unverified().unwrap().sub,
        Some(signed_up.user.id.clone())
    );

    client.sign_out().await.unwrap();
    assert!(!client.has_session());
    assert!(matches!(client.token().await, Err(Error::SessionGone)));
    assert!(matches!(
        client.get_session().await,
        Err(Error::SessionGone)
    ));
}

#[tokio::test]
async fn sign_in_errors_carry_the_server_code() {
    let server = TestServer::start().await;
    let client = server.client();
    let email = format!("u{}@example.com", unique());
    client.sign_up_email("Ada", &email, PASSWORD).await.unwrap();

    let wrong = client.sign_in_email(&email, "not the password").await;
    match wrong {
        Err(Error::Server { status, code, .. }) => {
            assert_eq!(status, 401);
            assert_eq!(code, Some(ErrorCode::InvalidEmailOrPassword));
        }
        other => panic!("{other:?}"),
    }
    let again = client.sign_up_email("Ada", &email, PASSWORD).await;
    assert_eq!(
        again.unwrap_err().code(),
        Some(ErrorCode::UserAlreadyExists)
    );
    let short = server
        .client()
        .sign_up_email("B", &format!("b{}@example.com", unique()), "short")
        .await;
    assert_eq!(short.unwrap_err().code(), Some(ErrorCode::PasswordTooShort));

    let signed_in = client.sign_in_email(&email, PASSWORD).await.unwrap();
    assert_eq!(signed_in.user.email, email);
    client.token().await.unwrap();
}

#[tokio::test]
async fn without_a_session_token_is_session_gone() {
    let server = TestServer::start().await;
    let client = server.client();
    assert!(matches!(client.token().await, Err(Error::SessionGone)));
    assert!(matches!(
        client.get_session().await,
        Err(Error::SessionGone)
    ));
    let forged = server.client().with_session_token("nope.AAAA");
    assert!(matches!(forged.token().await, Err(Error::SessionGone)));
}

#[tokio::test]
async fn a_stored_session_token_restores_the_session() {
    let server = TestServer::start().await;
    let (client, signed_up) = server.signed_up().await;
    let stored = client.session_token().unwrap();
    let restored = AuthClient::new(&server.url)
        .unwrap()
        .with_session_token(stored);
    let info = restored.get_session().await.unwrap();
    assert_eq!(info.session.user.id, signed_up.user.id);
    restored.token().await.unwrap();
    // Signing out one ends the session for both.
    restored.sign_out().await.unwrap();
    assert!(matches!(
        client.get_session().await,
        Err(Error::SessionGone)
    ));
}

#[tokio::test]
async fn cookie_transport_sends_origin_on_posts() {
    let server = TestServer::start().await;
    let client = AuthClient::builder(&server.url)
        .session_transport(SessionTransport::Cookie)
        .build()
        .unwrap();
    let email = format!("c{}@example.com", unique());
    client.sign_up_email("Cy", &email, PASSWORD).await.unwrap();
    client.get_session().await.unwrap();
    client.token().await.unwrap();
    // The cookie's value, decoded, is the bearer form too.
    let bearer = AuthClient::new(&server.url)
        .unwrap()
        .with_session_token(client.session_token().unwrap());
    bearer.get_session().await.unwrap();
    // Sign-out with the cookie passes the server's Origin check.
    client.sign_out().await.unwrap();
    assert!(matches!(
        bearer.get_session().await,
        Err(Error::SessionGone)
    ));

    // A wrong Origin is refused with the server's code.
    let elsewhere = AuthClient::builder(&server.url)
        .session_transport(SessionTransport::Cookie)
        .origin("https://evil.example")
        .build()
        .unwrap();
    let signed_up = elsewhere
        .sign_up_email("Ev", &format!("e{}@example.com", unique()), PASSWORD)
        .await;
    let refused = match signed_up {
        Err(e) => e,
        Ok(_) => elsewhere.sign_out().await.unwrap_err(),
    };
    assert_eq!(refused.code(), Some(ErrorCode::InvalidOrigin), "{refused}");
}

#[tokio::test]
async fn network_errors_are_not_session_errors() {
    let client = AuthClient::new(format!("http://127.0.0.1:{}", closed_port()))
        .unwrap()
        .with_session_token("t.AAAA");
    let err = client.token().await.unwrap_err();
    assert!(matches!(err, Error::Network(_)), "{err:?}");
    assert!(err.is_unavailable());
    assert!(client.has_session(), "a network error keeps the session");
    assert!(matches!(
        client.sign_in_email("a@example.com", PASSWORD).await,
        Err(Error::Network(_))
    ));
}

#[test]
fn bad_base_urls_are_config_errors() {
    for bad in ["", "auth.example.com", "ftp://x", "http://"] {
        assert!(
            matches!(AuthClient::new(bad), Err(Error::Config(_))),
            "{bad:?}"
        );
    }
    assert!(matches!(
        AuthClient::builder("http://127.0.0.1")
            .base_path("api")
            .build(),
        Err(Error::Config(_))
    ));
    // Plain http only to loopback hosts (passwords and tokens travel here), unless allowed.
    let refused = AuthClient::new("http://auth.example.com").unwrap_err();
    assert!(refused.to_string().contains("https"), "{refused}");
    for ok in [
        "http://localhost:3000",
        "http://127.0.0.1:3000",
        "http://[::1]:3000",
        "https://auth.example.com",
    ] {
        assert!(AuthClient::new(ok).is_ok(), "{ok}");
    }
    assert!(
        AuthClient::builder("http://auth.example.com")
            .allow_insecure_http()
            .build()
            .is_ok()
    );
    // A URL with credentials in it is not repeated in the error.
    let err = AuthClient::new("ftp://user:pw@x").unwrap_err();
    assert!(!err.to_string().contains("pw"), "{err}");
}
