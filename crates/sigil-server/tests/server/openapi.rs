//! `GET /openapi.json`: the document covers every route the server answers, and real responses
//! validate against its schemas.

use reqwest::Method;
use serde_json::{Value, json};

use crate::harness::{Engine, TestServer};

/// The methods probed on every documented path.
const METHODS: [Method; 5] = [
    Method::GET,
    Method::POST,
    Method::PUT,
    Method::PATCH,
    Method::DELETE,
];

/// The configured base path, from the harness's base URL (`http://host:port/base`).
fn base_path(server: &TestServer) -> String {
    let rest = server.base.trim_start_matches("http://");
    rest.find('/')
        .map_or(String::new(), |i| rest[i..].to_owned())
}

async fn document(server: &TestServer) -> Value {
    let response = server.get("/openapi.json").await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    response.json().await.unwrap()
}

/// `(path, method)` of every documented operation.
fn operations(doc: &Value) -> Vec<(String, Method)> {
    let mut all = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            if let Ok(m) = method.to_uppercase().parse::<Method>()
                && METHODS.contains(&m)
            {
                all.push((path.clone(), m));
            }
        }
    }
    all
}

/// A request to `path` (the full path, base included) as a browser on the trusted origin sends it.
async fn send(server: &TestServer, method: Method, path: &str) -> reqwest::Response {
    let host = server.base.trim_start_matches("http://");
    let host = &host[..host.find('/').unwrap_or(host.len())];
    server
        .client
        .request(method, format!("http://{host}{path}"))
        .header("origin", server.origin())
        .json(&json!({}))
        .send()
        .await
        .unwrap()
}

async fn code_of(response: reqwest::Response) -> (u16, Option<String>) {
    let status = response.status().as_u16();
    let body: Option<Value> = response.json().await.ok();
    let code = body.and_then(|b| b.get("code").and_then(Value::as_str).map(str::to_owned));
    (status, code)
}

/// Every documented operation is routed (not the router's 404/405 fallbacks), and every method
/// the document does not list for a documented path is the 405 fallback. With the unit test
/// `routes::openapi::tests::every_route_is_documented` (every `.route(` of the router is a
/// documented path), a route or method missing from the document fails one of them.
/// Without and with the console (whose key timeline is routed and documented only then).
#[tokio::test]
async fn document_covers_the_routes() {
    for console in [false, true] {
        let server = TestServer::start(&Engine::Sqlite, |c| c.console = Some(console)).await;
        covers_the_routes(&server).await;
    }
}

async fn covers_the_routes(server: &TestServer) {
    let doc = document(server).await;
    assert_eq!(doc["openapi"], "3.1.0");
    let base = base_path(server);
    let ops = operations(&doc);
    for path in [
        "/sign-up/email",
        "/sign-in/email",
        "/get-session",
        "/sign-out",
        "/token",
        "/jwks",
        "/ok",
        "/ready",
        "/openapi.json",
    ] {
        let full = format!("{base}{path}");
        assert!(
            doc["paths"].get(&full).is_some(),
            "{full} is not in the document"
        );
    }
    for (path, item) in doc["paths"].as_object().unwrap() {
        assert!(
            path.starts_with(&format!("{base}/")),
            "{path} is under {base}"
        );
        for method in METHODS {
            let documented = item.get(method.as_str().to_lowercase()).is_some();
            let (status, code) = code_of(send(server, method.clone(), path).await).await;
            let fallback = matches!(code.as_deref(), Some("NOT_FOUND" | "METHOD_NOT_ALLOWED"));
            if documented {
                assert!(
                    !fallback,
                    "{method} {path} is documented but not routed ({status})"
                );
            } else {
                assert_eq!(
                    (status, code.as_deref()),
                    (405, Some("METHOD_NOT_ALLOWED")),
                    "{method} {path} is answered but not documented"
                );
            }
        }
    }
    assert!(ops.len() >= 9, "{ops:?}");
    // An unknown path is the 404 fallback (what the probes above distinguish from a route).
    let (status, code) = code_of(send(server, Method::GET, &format!("{base}/nope")).await).await;
    assert_eq!((status, code.as_deref()), (404, Some("NOT_FOUND")));
}

/// The key set at a configured path is documented at that path.
#[tokio::test]
async fn document_names_the_configured_jwks_path() {
    let server = TestServer::start(&Engine::Sqlite, |s| {
        s.jwks.path = Some("/.well-known/jwks.json".into());
    })
    .await;
    let doc = document(&server).await;
    let base = base_path(&server);
    assert!(
        doc["paths"]
            .get(format!("{base}/.well-known/jwks.json"))
            .is_some()
    );
    assert!(doc["paths"].get(format!("{base}/jwks")).is_none());
    let response = server.get("/.well-known/jwks.json").await;
    assert_eq!(response.status(), 200);
}

/// Validates `response` (status and JSON body) against the document's schema for
/// `method path`; returns the body.
async fn check(
    doc: &Value,
    base: &str,
    method: &str,
    path: &str,
    response: reqwest::Response,
) -> Value {
    let status = response.status().as_u16().to_string();
    let body: Value = response.json().await.unwrap();
    let full = format!("{base}{path}");
    let validator = validator_for(doc, &full, method, &status)
        .unwrap_or_else(|| panic!("{method} {full} {status} is not documented (body {body})"));
    let errors: Vec<String> = validator
        .iter_errors(&body)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{method} {full} {status}: {body} does not match: {errors:?}"
    );
    body
}

/// The validator of the JSON body of `method full` answering `status`, with the document's
/// components beside the schema so that its `#/components/schemas/...` references resolve.
fn validator_for(
    doc: &Value,
    full: &str,
    method: &str,
    status: &str,
) -> Option<jsonschema::Validator> {
    let schema =
        doc["paths"][full][method]["responses"][status]["content"]["application/json"]["schema"]
            .as_object()?
            .clone();
    let mut root = schema;
    root.insert("components".into(), doc["components"].clone());
    Some(jsonschema::draft202012::new(&Value::Object(root)).unwrap())
}

/// The validation is not vacuous: bodies that break the schemas are rejected.
#[tokio::test]
async fn document_rejects_wrong_bodies() {
    let server = TestServer::start(&Engine::Sqlite, |_| {}).await;
    let doc = document(&server).await;
    let base = base_path(&server);
    let error = validator_for(&doc, &format!("{base}/token"), "get", "401").unwrap();
    assert!(error.is_valid(&json!({"message": "Unauthorized", "code": "UNAUTHORIZED"})));
    assert!(!error.is_valid(&json!({"message": "Unauthorized", "code": "BOGUS"})));
    assert!(!error.is_valid(&json!({"code": "UNAUTHORIZED"})));
    let session = validator_for(&doc, &format!("{base}/get-session"), "get", "200").unwrap();
    assert!(session.is_valid(&Value::Null));
    assert!(!session.is_valid(&json!({"session": {}, "user": {}})));
    let token = validator_for(&doc, &format!("{base}/token"), "get", "200").unwrap();
    assert!(!token.is_valid(&json!({"token": 7})));
}

/// A flow of real responses, successes and errors, each valid against the document.
#[tokio::test]
async fn responses_match_the_document() {
    let server = TestServer::start(&Engine::Sqlite, |_| {}).await;
    let doc = document(&server).await;
    let base = base_path(&server);
    let base = base.as_str();
    let email = format!("{}@example.com", crate::harness::unique_name());
    let password = "correct horse battery";

    let up = server.sign_up(&email, password).await;
    assert_eq!(up.status(), 200);
    assert!(up.headers().contains_key("set-auth-token"));
    check(&doc, base, "post", "/sign-up/email", up).await;

    let again = server.sign_up(&email, password).await;
    assert_eq!(again.status(), 422);
    check(&doc, base, "post", "/sign-up/email", again).await;

    let short = server.sign_up("x@example.com", "short").await;
    assert_eq!(short.status(), 400);
    let body = check(&doc, base, "post", "/sign-up/email", short).await;
    assert_eq!(body["code"], "PASSWORD_TOO_SHORT");

    let invalid = server
        .post_json("/sign-up/email", json!({"email": "y@example.com"}))
        .await;
    assert_eq!(invalid.status(), 400);
    let body = check(&doc, base, "post", "/sign-up/email", invalid).await;
    assert_eq!(body["code"], "VALIDATION_ERROR");

    let media = server
        .client
        .post(server.url("/sign-in/email"))
        .header("content-type", "text/plain")
        .body("hello")
        .send()
        .await
        .unwrap();
    assert_eq!(media.status(), 415);
    check(&doc, base, "post", "/sign-in/email", media).await;

    let wrong = server
        .post_json(
            "/sign-in/email",
            json!({"email": email, "password": "wrong password!"}),
        )
        .await;
    assert_eq!(wrong.status(), 401);
    let body = check(&doc, base, "post", "/sign-in/email", wrong).await;
    assert_eq!(body["code"], "INVALID_EMAIL_OR_PASSWORD");

    let evil = server
        .client
        .post(server.url("/sign-in/email"))
        .header("origin", "https://evil.example")
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .unwrap();
    assert_eq!(evil.status(), 403);
    check(&doc, base, "post", "/sign-in/email", evil).await;

    let callback = server
        .post_json(
            "/sign-in/email",
            json!({"email": email, "password": password, "callbackURL": "/home"}),
        )
        .await;
    assert_eq!(callback.status(), 200);
    check(&doc, base, "post", "/sign-in/email", callback).await;

    let signed_in = server
        .post_json(
            "/sign-in/email",
            json!({"email": email, "password": password, "rememberMe": false}),
        )
        .await;
    assert_eq!(signed_in.status(), 200);
    let bearer = signed_in.headers()["set-auth-token"]
        .to_str()
        .unwrap()
        .to_owned();
    check(&doc, base, "post", "/sign-in/email", signed_in).await;

    let session = server.session_by_bearer(&bearer).await;
    assert_eq!(session.status(), 200);
    assert!(session.headers().contains_key("set-auth-jwt"));
    let body = check(&doc, base, "get", "/get-session", session).await;
    assert!(body["session"].is_object());

    let none = server.get("/get-session").await;
    let body = check(&doc, base, "get", "/get-session", none).await;
    assert!(body.is_null());

    let bad_query = server.get("/get-session?disableRefresh=maybe").await;
    assert_eq!(bad_query.status(), 400);
    check(&doc, base, "get", "/get-session", bad_query).await;

    let post_session = server.post_json("/get-session", json!({})).await;
    assert_eq!(post_session.status(), 405);
    check(&doc, base, "post", "/get-session", post_session).await;

    let token = server.token_by_bearer(&bearer).await;
    assert_eq!(token.status(), 200);
    check(&doc, base, "get", "/token", token).await;

    let no_token = server.get("/token").await;
    assert_eq!(no_token.status(), 401);
    check(&doc, base, "get", "/token", no_token).await;

    let jwks = server.get("/jwks").await;
    assert_eq!(jwks.status(), 200);
    let body = check(&doc, base, "get", "/jwks", jwks).await;
    assert!(!body["keys"].as_array().unwrap().is_empty());

    let ok = server.get("/ok").await;
    check(&doc, base, "get", "/ok", ok).await;

    let ready = server.get("/ready").await;
    assert_eq!(ready.status(), 200);
    check(&doc, base, "get", "/ready", ready).await;

    let openapi = server.get("/openapi.json").await;
    check(&doc, base, "get", "/openapi.json", openapi).await;

    let out = server
        .client
        .post(server.url("/sign-out"))
        .header("origin", server.origin())
        .header("authorization", format!("Bearer {bearer}"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 200);
    check(&doc, base, "post", "/sign-out", out).await;

    let gone = server.token_by_bearer(&bearer).await;
    assert_eq!(gone.status(), 401);
    check(&doc, base, "get", "/token", gone).await;
}
