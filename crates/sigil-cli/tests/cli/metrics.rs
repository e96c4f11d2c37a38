//! `sigil serve` with `SIGIL_METRICS_LISTEN`: the Prometheus text on its own port (never on the
//! public one), counting what a short flow did.

use crate::{Served, free_port, get};

/// The value of the first sample of `name` whose labels include every one of `labels`.
fn sample(text: &str, name: &str, labels: &[&str]) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| {
            l.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
        })
        .find(|l| labels.iter().all(|label| l.contains(label)))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[test]
fn metrics_count_a_flow_on_their_own_port() {
    let metrics_port = free_port();
    let served = Served::start(&[
        ("SIGIL_METRICS_LISTEN", &format!("127.0.0.1:{metrics_port}")),
        ("SIGIL_RATE_LIMIT", "false"),
    ]);
    let base = format!("http://127.0.0.1:{}/api/auth", served.port);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let client = reqwest::Client::new();
        let r = client
            .post(format!("{base}/sign-up/email"))
            .header("origin", format!("http://127.0.0.1:{}", served.port))
            .json(&serde_json::json!({"name": "M", "email": "m@b.co", "password": "correct horse"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let bearer = r.headers()["set-auth-token"].to_str().unwrap().to_owned();
        for _ in 0..2 {
            let r = client
                .get(format!("{base}/token"))
                .bearer_auth(&bearer)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
        }
        let r = client.get(format!("{base}/jwks")).send().await.unwrap();
        let etag = r.headers()["etag"].clone();
        let r = client
            .get(format!("{base}/jwks"))
            .header("if-none-match", etag)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 304);
        let r = client
            .post(format!("{base}/sign-in/email"))
            .header("origin", format!("http://127.0.0.1:{}", served.port))
            .json(&serde_json::json!({"email": "m@b.co", "password": "wrong horse"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
        assert_eq!(
            client
                .get(format!("{base}/ready"))
                .send()
                .await
                .unwrap()
                .status(),
            200
        );
    });

    let public = get(served.port, "/metrics").unwrap();
    assert!(
        public.starts_with("HTTP/1.1 404"),
        "never on the public port: {public}"
    );
    let scraped = get(metrics_port, "/metrics").unwrap();
    assert!(scraped.starts_with("HTTP/1.1 200"), "{scraped}");
    assert!(scraped.contains("text/plain; version=0.0.4"), "{scraped}");
    let body = scraped.split("\r\n\r\n").nth(1).unwrap();
    let expect = |name: &str, labels: &[&str], at_least: f64| {
        let value = sample(body, name, labels)
            .unwrap_or_else(|| panic!("no {name} {labels:?} in:\n{body}"));
        assert!(
            value >= at_least,
            "{name} {labels:?} = {value} < {at_least}"
        );
    };
    expect(
        "sigil_tokens_issued_total",
        &[r#"alg="EdDSA""#, r#"route="token""#],
        2.0,
    );
    expect(
        "sigil_token_signing_seconds_count",
        &[r#"alg="EdDSA""#],
        2.0,
    );
    expect("sigil_jwks_requests_total", &[r#"status="200""#], 1.0);
    expect("sigil_jwks_requests_total", &[r#"status="304""#], 1.0);
    expect("sigil_sign_ups_total", &[r#"outcome="ok""#], 1.0);
    expect(
        "sigil_sign_ins_total",
        &[r#"outcome="INVALID_EMAIL_OR_PASSWORD""#],
        1.0,
    );
    expect("sigil_sessions_created_total", &[], 1.0);
    expect(
        "sigil_session_cache_lookups_total",
        &[r#"result="hit""#],
        1.0,
    );
    expect(
        "sigil_session_cache_lookups_total",
        &[r#"result="miss""#],
        1.0,
    );
    expect("sigil_db_query_seconds_count", &[r#"outcome="ok""#], 1.0);
    expect("sigil_keys", &[r#"state="signing""#], 1.0);
    assert!(
        body.contains("# HELP sigil_tokens_issued_total"),
        "described"
    );
    let (status, _) = served.stop();
    assert!(status.success());
}
