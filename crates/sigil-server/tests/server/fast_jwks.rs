//! `GET` of the key set answered in front of the router (`Auth::with_fast_jwks`, what `sigil
//! serve` runs): the very responses the router gives, for whatever a verifier or a browser sends;
//! everything else reaches the router.

use axum::Router;
use axum::body::{Body, Bytes, to_bytes};
use axum::http::{HeaderValue, Method, Request, StatusCode};
use tower::ServiceExt;

use crate::harness::{Engine, TestServer};

const TRUSTED: &str = "https://app.example.com";

/// Status, every header in order, body.
type Answer = (StatusCode, Vec<(String, Vec<u8>)>, Bytes);

/// Request headers.
type Headers<'a> = Vec<(&'a str, HeaderValue)>;

async fn answer(app: &Router, request: Request<Body>) -> Answer {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response
        .headers()
        .iter()
        .map(|(n, v)| (n.as_str().to_owned(), v.as_bytes().to_vec()))
        .collect();
    let body = to_bytes(response.into_body(), usize::MAX).await.unwrap();
    (status, headers, body)
}

fn request(method: Method, uri: &str, headers: &[(&str, HeaderValue)]) -> Request<Body> {
    let mut request = Request::builder().method(method).uri(uri);
    for (name, value) in headers {
        request = request.header(*name, value.clone());
    }
    request.body(Body::empty()).unwrap()
}

/// The router as `sigil serve` nests it, and the same with the fast path in front.
fn apps(s: &TestServer) -> (Router, Router) {
    let base = &s.auth.config().base_path;
    let normal = Router::new().nest(base, s.auth.router());
    let fast = s.auth.with_fast_jwks(normal.clone());
    (normal, fast)
}

fn value(s: &str) -> HeaderValue {
    HeaderValue::from_str(s).unwrap()
}

async fn start(tweak: impl FnOnce(&mut sigil_server::Settings)) -> TestServer {
    TestServer::start(&Engine::Sqlite, |c| {
        c.trusted_origins = Some(vec![TRUSTED.into()]);
        tweak(c);
    })
    .await
}

/// Asks both apps, twice if a second boundary of the max-age countdown fell between the two.
async fn same(normal: &Router, fast: &Router, make: impl Fn() -> Request<Body>) -> Answer {
    let mut tries = 0;
    loop {
        let expected = answer(normal, make()).await;
        let got = answer(fast, make()).await;
        tries += 1;
        if got == expected || tries == 3 {
            assert_eq!(got, expected, "{} {}", make().method(), make().uri());
            return got;
        }
    }
}

#[tokio::test]
async fn same_answers_as_the_router() {
    let s = start(|_| {}).await;
    let (normal, fast) = apps(&s);
    let path = format!("{}/jwks", s.auth.config().base_path);
    // The first request creates the key (through the router, the fast path has none yet).
    let first = same(&normal, &fast, || request(Method::GET, &path, &[])).await;
    assert_eq!(first.0, StatusCode::OK);
    let etag = first
        .1
        .iter()
        .find(|(n, _)| n == "etag")
        .map(|(_, v)| String::from_utf8(v.clone()).unwrap())
        .unwrap();
    let names: Vec<&str> = first.1.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "content-type",
            "cache-control",
            "etag",
            "vary",
            "access-control-allow-credentials",
            "content-length"
        ]
    );

    let with_query = format!("{path}?x=1");
    let trailing = format!("{path}/");
    let ok = format!("{}/ok", s.auth.config().base_path);
    let preflight = |origin: &str| {
        vec![
            ("origin", value(origin)),
            ("access-control-request-method", value("GET")),
            ("access-control-request-headers", value("authorization")),
        ]
    };
    let cases: Vec<(Method, &str, Headers, StatusCode)> = vec![
        (Method::GET, path.as_str(), vec![], StatusCode::OK),
        (
            Method::GET,
            path.as_str(),
            vec![("origin", value(TRUSTED))],
            StatusCode::OK,
        ),
        (
            Method::GET,
            path.as_str(),
            vec![("origin", value("https://evil.example"))],
            StatusCode::OK,
        ),
        (
            Method::GET,
            path.as_str(),
            vec![("origin", value("null"))],
            StatusCode::OK,
        ),
        (
            Method::GET,
            path.as_str(),
            vec![("origin", HeaderValue::from_bytes(b"https://\xffx").unwrap())],
            StatusCode::OK,
        ),
        (
            Method::GET,
            path.as_str(),
            vec![("if-none-match", value(&etag))],
            StatusCode::NOT_MODIFIED,
        ),
        (
            Method::GET,
            path.as_str(),
            vec![("if-none-match", value("*")), ("origin", value(TRUSTED))],
            StatusCode::NOT_MODIFIED,
        ),
        (
            Method::GET,
            path.as_str(),
            vec![("if-none-match", value(&format!("\"other\", {etag}")))],
            StatusCode::NOT_MODIFIED,
        ),
        (
            Method::GET,
            path.as_str(),
            vec![("if-none-match", value("\"other\""))],
            StatusCode::OK,
        ),
        (Method::GET, with_query.as_str(), vec![], StatusCode::OK),
        (
            Method::GET,
            trailing.as_str(),
            vec![],
            StatusCode::NOT_FOUND,
        ),
        (Method::GET, ok.as_str(), vec![], StatusCode::OK),
        (Method::HEAD, path.as_str(), vec![], StatusCode::OK),
        (
            Method::OPTIONS,
            path.as_str(),
            preflight(TRUSTED),
            StatusCode::OK,
        ),
        (
            Method::OPTIONS,
            path.as_str(),
            preflight("https://evil.example"),
            StatusCode::OK,
        ),
        (
            Method::POST,
            path.as_str(),
            vec![],
            StatusCode::METHOD_NOT_ALLOWED,
        ),
        (
            Method::POST,
            path.as_str(),
            vec![
                ("origin", value("https://evil.example")),
                ("cookie", value("better-auth.session_token=x")),
            ],
            StatusCode::FORBIDDEN,
        ),
        (
            Method::DELETE,
            path.as_str(),
            vec![],
            StatusCode::METHOD_NOT_ALLOWED,
        ),
    ];
    for (method, uri, headers, status) in cases {
        let got = same(&normal, &fast, || request(method.clone(), uri, &headers)).await;
        assert_eq!(got.0, status, "{method} {uri} {headers:?}");
    }
    // The CORS headers a trusted origin gets.
    let trusted = same(&normal, &fast, || {
        request(Method::GET, &path, &[("origin", value(TRUSTED))])
    })
    .await;
    assert!(
        trusted
            .1
            .contains(&("access-control-allow-origin".into(), TRUSTED.into()))
    );
}

/// While the next key change is nearer than the max-age, both count it down alike.
#[tokio::test]
async fn same_countdown_as_the_router() {
    use chrono::Duration;
    use sigil_server::config::TimeSpan;
    let s = start(|c| {
        c.jwks.rotation_interval = Some(TimeSpan::Text("1h".into()));
        c.jwks.max_age = Some(TimeSpan::Text("5m".into()));
        c.jwks.grace_period = Some(TimeSpan::Text("2h".into()));
    })
    .await;
    let (normal, fast) = apps(&s);
    let path = format!("{}/jwks", s.auth.config().base_path);
    s.auth.keys().signing_key().await.unwrap();
    let cache_control = |a: &Answer| {
        let v = &a.1.iter().find(|(n, _)| n == "cache-control").unwrap().1;
        String::from_utf8(v.clone()).unwrap()
    };
    let a = same(&normal, &fast, || request(Method::GET, &path, &[])).await;
    assert_eq!(cache_control(&a), "public, max-age=300");
    // 58 minutes in: about two minutes left; then one more.
    s.advance(Duration::minutes(58));
    let a = same(&normal, &fast, || request(Method::GET, &path, &[])).await;
    let left: u64 = cache_control(&a)
        .trim_start_matches("public, max-age=")
        .parse()
        .unwrap();
    assert!((100..=120).contains(&left), "{left}");
    s.advance(Duration::minutes(1));
    let a = same(&normal, &fast, || request(Method::GET, &path, &[])).await;
    let later: u64 = cache_control(&a)
        .trim_start_matches("public, max-age=")
        .parse()
        .unwrap();
    assert!(
        later + 55 <= left && later + 65 >= left,
        "{left} then {later}"
    );
}

/// The fast path answers `GET` of the key set itself once a key is loaded; everything else, and
/// the key set before any key exists, reaches the app behind it.
#[tokio::test]
async fn only_get_of_the_loaded_key_set_is_answered_in_front() {
    let s = start(|_| {}).await;
    let (normal, _) = apps(&s);
    let teapot = s
        .auth
        .with_fast_jwks(Router::new().fallback(|| async { StatusCode::IM_A_TEAPOT }));
    let path = format!("{}/jwks", s.auth.config().base_path);
    // No key yet: the app behind (it creates the first key).
    let none = answer(&teapot, request(Method::GET, &path, &[])).await;
    assert_eq!(none.0, StatusCode::IM_A_TEAPOT);
    let created = answer(&normal, request(Method::GET, &path, &[])).await;
    assert_eq!(created.0, StatusCode::OK);
    let served = answer(&teapot, request(Method::GET, &path, &[])).await;
    assert_eq!(served, created);
    let ok = format!("{}/ok", s.auth.config().base_path);
    for (method, uri) in [
        (Method::HEAD, path.as_str()),
        (Method::OPTIONS, path.as_str()),
        (Method::POST, path.as_str()),
        (Method::GET, ok.as_str()),
        (Method::GET, "/jwks"),
    ] {
        let r = answer(&teapot, request(method.clone(), uri, &[])).await;
        assert_eq!(r.0, StatusCode::IM_A_TEAPOT, "{method} {uri}");
    }
}
