//! The request log (`Auth::with_request_log`, what `sigil serve` runs): the request id rules
//! (a sane incoming `x-request-id` kept and echoed, anything else replaced, one generated when
//! absent) and the one line per request with its route template, the key set's fast answers
//! included.

use std::io::Write;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::http::{HeaderMap, HeaderValue, Request, StatusCode};
use axum::routing::get;
use sigil_server::request_log::{RequestLogLayer, is_sane_request_id};
use tower::ServiceExt;

use crate::harness::{Engine, TestServer};

/// A router whose one route answers the `x-request-id` it received.
fn echo_app() -> Router {
    Router::new()
        .route(
            "/echo",
            get(|headers: HeaderMap| async move {
                headers
                    .get("x-request-id")
                    .map(|v| v.to_str().unwrap().to_owned())
                    .unwrap_or_default()
            }),
        )
        .layer(RequestLogLayer)
}

/// The id the response echoes and the one the handler saw.
async fn ids(id: Option<&[u8]>) -> (String, String) {
    let mut request = Request::builder().uri("/echo");
    if let Some(id) = id {
        request = request.header("x-request-id", HeaderValue::from_bytes(id).unwrap());
    }
    let response = echo_app()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let echoed: Vec<_> = response.headers().get_all("x-request-id").iter().collect();
    assert_eq!(echoed.len(), 1, "{echoed:?}");
    let echoed = echoed[0].to_str().unwrap().to_owned();
    let body = to_bytes(response.into_body(), usize::MAX).await.unwrap();
    (echoed, String::from_utf8(body.to_vec()).unwrap())
}

fn is_generated(id: &str) -> bool {
    id.len() == 32
        && id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[tokio::test]
async fn a_sane_request_id_is_kept_and_echoed() {
    let longest = "a".repeat(64);
    for id in [
        "abc",
        "A-1.b_2:c",
        "0",
        longest.as_str(),
        "req:2026-12-03T14:00:00",
    ] {
        let (echoed, seen) = ids(Some(id.as_bytes())).await;
        assert_eq!(echoed, id);
        assert_eq!(seen, id);
    }
}

#[tokio::test]
async fn an_insane_request_id_is_replaced() {
    let too_long = "a".repeat(65);
    let bad: [&[u8]; 8] = [
        too_long.as_bytes(),
        b"",
        b"has space",
        b"a/b",
        b"a\"b",
        b"a=b",
        b"x\tb",
        "caf\u{e9}".as_bytes(),
    ];
    for id in bad {
        let (echoed, seen) = ids(Some(id)).await;
        assert!(is_generated(&echoed), "{id:?} -> {echoed}");
        // The handler sees the replacement, never the rejected value.
        assert_eq!(seen, echoed, "{id:?}");
    }
}

#[tokio::test]
async fn a_request_id_is_generated_when_absent() {
    let (a, seen) = ids(None).await;
    assert!(is_generated(&a), "{a}");
    assert_eq!(seen, a);
    let (b, _) = ids(None).await;
    assert_ne!(a, b);
}

#[test]
fn request_id_rules() {
    assert!(is_sane_request_id(b"abc-DEF_0.9:x"));
    assert!(is_sane_request_id("a".repeat(64).as_bytes()));
    assert!(!is_sane_request_id("a".repeat(65).as_bytes()));
    assert!(!is_sane_request_id(b""));
    for b in [b' ', b'/', b'?', b'=', b'%', b'"', b'\\', b'\n', 0x80] {
        assert!(!is_sane_request_id(&[b'a', b]), "{b:#x}");
    }
}

/// A `tracing` writer into a shared buffer.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// One line per request, as `sigil serve` composes the app: routes by template, the fast key set
/// included, an unmatched path (with its query) as the placeholder.
#[tokio::test]
async fn one_line_per_request_with_the_route_template() {
    let s = TestServer::start(&Engine::Sqlite, |_| {}).await;
    let base = s.auth.config().base_path.clone();
    let inner = Router::new()
        .nest(&base, s.auth.router())
        .fallback(|| async { StatusCode::NOT_FOUND });
    let app = s.auth.with_request_log(s.auth.with_fast_jwks(inner));
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_max_level(tracing::Level::INFO)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let jwks = format!("{base}/jwks");
    // The key set twice: the first GET may load it through the router, the second is answered
    // in front of it.
    let cases = [
        (
            "GET",
            format!("{base}/ok?secret=hunter2"),
            "/api/auth/ok".to_owned(),
            200,
        ),
        ("GET", jwks.clone(), jwks.clone(), 200),
        ("GET", jwks.clone(), jwks.clone(), 200),
        (
            "POST",
            format!("{base}/token"),
            "/api/auth/token".to_owned(),
            405,
        ),
        (
            "GET",
            "/elsewhere?secret=hunter2".to_owned(),
            "<unmatched>".to_owned(),
            404,
        ),
        (
            "GET",
            format!("{base}/nope?secret=hunter2"),
            "<unmatched>".to_owned(),
            404,
        ),
    ];
    for (method, uri, _, status) in &cases {
        let request = Request::builder()
            .method(*method)
            .uri(uri)
            .header("x-request-id", format!("t-{status}"))
            .body(Body::empty())
            .unwrap();
        let response = app.clone().oneshot(request).await.unwrap();
        assert_eq!(response.status().as_u16(), *status, "{method} {uri}");
        assert_eq!(response.headers()["x-request-id"], format!("t-{status}"));
    }
    let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|l| l["target"] == "sigil::request")
        .collect();
    assert_eq!(lines.len(), cases.len(), "{text}");
    for (line, (method, uri, route, status)) in lines.iter().zip(&cases) {
        let f = &line["fields"];
        assert_eq!(line["level"], "INFO");
        assert_eq!(f["method"], *method, "{uri}");
        assert_eq!(f["route"], route.as_str(), "{uri}");
        assert_eq!(f["status"], *status, "{uri}");
        assert_eq!(f["request_id"], format!("t-{status}"));
        assert!(f["latency_ms"].as_f64().unwrap() >= 0.0);
    }
    assert!(!text.contains("hunter2"), "{text}");
}
