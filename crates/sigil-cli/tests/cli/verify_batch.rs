//! `sigil token verify --batch --jwks-url …` against a loopback JWKS server: the cache scenarios
//! that are visible from outside (one process keeps its cache across lines), and the exit codes
//! of single-token runs when keys are unavailable.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sigil_jose::{Alg, JwkSet, KeyPair};

use crate::jwks_server::{Behaviour, JwksServer};
use crate::{sigil, verify};

const LIMIT: Duration = Duration::from_secs(20);

fn key() -> KeyPair {
    KeyPair::generate(Alg::EdDSA).unwrap()
}

fn jwks(keys: &[&KeyPair]) -> Value {
    let set = JwkSet::new(keys.iter().map(|k| k.public_key().clone()).collect()).unwrap();
    serde_json::from_str(&set.to_json()).unwrap()
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn token(key: &KeyPair) -> String {
    sigil_jose::sign_jwt(key, &json!({"sub": "u1", "exp": now() + 900})).unwrap()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap()
}

/// A running `--batch` process, asked one line at a time.
struct Batch {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
}

impl Batch {
    fn start(args: &[&str]) -> Self {
        let mut child = sigil()
            .args(["token", "verify", "--batch", "--alg", "EdDSA"])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        Batch {
            child,
            stdin,
            stdout,
        }
    }

    /// Sends one request line and reads its answer (each answer is flushed at once).
    fn ask(&mut self, request: Value) -> Value {
        let stdin = self.stdin.as_mut().unwrap();
        writeln!(stdin, "{request}").unwrap();
        stdin.flush().unwrap();
        let mut line = String::new();
        self.stdout.read_line(&mut line).unwrap();
        serde_json::from_str(&line).unwrap_or_else(|_| panic!("not JSON: {line:?}"))
    }

    fn verify(&mut self, id: usize, token: &str) -> Value {
        let answer = self.ask(json!({"id": id, "token": token}));
        assert_eq!(answer["id"], id);
        answer
    }

    /// Closes stdin; the process must exit 0 promptly.
    fn finish(mut self) {
        drop(self.stdin.take());
        let status = crate::wait_exit(
            &mut self.child,
            Duration::from_secs(10),
            "batch at end of input",
        );
        assert_eq!(status.code(), Some(0));
    }
}

#[test]
fn cache_hit_storm_and_rotation_across_lines() {
    let rt = runtime();
    let (old, new) = (key(), key());
    let server = rt.block_on(JwksServer::start(Behaviour::Keys(jwks(&[&old]), None)));
    let url = server.url();
    let started = Instant::now();

    // Cache hit: 20 verifications, one fetch.
    let mut batch = Batch::start(&["--jwks-url", &url]);
    let t = token(&old);
    for id in 0..20 {
        let answer = batch.verify(id, &t);
        assert_eq!(answer["ok"], true, "{answer}");
        assert_eq!(answer["claims"]["sub"], "u1");
    }
    assert_eq!(server.hits(), 1);
    // Unknown-kid storm: 100 random kids, no refetch inside the 30 s cooldown.
    for id in 0..100 {
        let answer = batch.verify(id, &token(&key()));
        assert_eq!(
            answer,
            json!({"id": id, "ok": false, "error": "no_matching_key"})
        );
    }
    assert!(server.hits() <= 3, "{} fetches", server.hits());
    batch.finish();

    // Rotation (cooldown 0 so the new kid may refetch at once): one refetch, old still valid.
    let before = server.hits();
    let mut batch = Batch::start(&["--jwks-url", &url, "--jwks-cooldown", "0"]);
    assert_eq!(batch.verify(1, &token(&old))["ok"], true);
    assert_eq!(server.hits(), before + 1);
    server.set(Behaviour::Keys(jwks(&[&new, &old]), None));
    assert_eq!(batch.verify(2, &token(&new))["ok"], true);
    assert_eq!(server.hits(), before + 2);
    assert_eq!(batch.verify(3, &token(&old))["ok"], true);
    assert_eq!(batch.verify(4, &token(&new))["ok"], true);
    assert_eq!(server.hits(), before + 2);
    batch.finish();
    assert!(started.elapsed() < LIMIT);
}

#[test]
fn removed_key_and_stale_if_error_across_lines() {
    let rt = runtime();
    let (k1, k2) = (key(), key());
    let server = rt.block_on(JwksServer::start(Behaviour::Keys(jwks(&[&k1, &k2]), None)));
    let url = server.url();

    // --jwks-max-age 0: every line finds the cache expired, so a removed key is refused at once.
    let mut batch = Batch::start(&["--jwks-url", &url, "--jwks-max-age", "0"]);
    assert_eq!(batch.verify(1, &token(&k1))["ok"], true);
    server.set(Behaviour::Keys(jwks(&[&k2]), None));
    assert_eq!(batch.verify(2, &token(&k1))["error"], "no_matching_key");
    assert_eq!(batch.verify(3, &token(&k2))["ok"], true);

    // Stale-if-error: the endpoint fails; the expired keys keep serving, and the failed fetch
    // is not retried inside the cooldown (no hot loop).
    server.set(Behaviour::Status(500));
    let hits = server.hits();
    for id in 10..30 {
        assert_eq!(batch.verify(id, &token(&k2))["ok"], true);
    }
    assert_eq!(server.hits(), hits + 1);
    batch.finish();

    // With no stale window: fail closed as soon as the cache has expired.
    server.set(Behaviour::Keys(jwks(&[&k2]), None));
    let mut batch = Batch::start(&[
        "--jwks-url",
        &url,
        "--jwks-max-age",
        "0",
        "--jwks-max-stale",
        "0",
    ]);
    assert_eq!(batch.verify(1, &token(&k2))["ok"], true);
    server.set(Behaviour::Status(503));
    assert_eq!(
        batch.verify(2, &token(&k2)),
        json!({"id": 2, "ok": false, "error": "keys_unavailable"})
    );
    batch.finish();
}

#[test]
fn batch_lines_override_flags_and_bad_lines_are_answered() {
    let rt = runtime();
    let k = key();
    let server = rt.block_on(JwksServer::start(Behaviour::Keys(jwks(&[&k]), None)));
    let mut batch = Batch::start(&["--jwks-url", &server.url()]);
    let t = token(&k);
    // Inline JWKS and per-line policy.
    let other = key();
    let answer =
        batch.ask(json!({"id": "inline", "token": token(&other), "jwks": jwks(&[&other])}));
    assert_eq!(answer["ok"], true, "{answer}");
    let answer = batch.ask(json!({"id": "aud", "token": t, "aud": "api"}));
    assert_eq!(answer["error"], "aud_mismatch");
    let answer = batch.ask(json!({"id": "alg", "token": t, "alg": ["ES256"]}));
    assert_eq!(answer["error"], "alg_not_allowed");
    let answer = batch.ask(json!({"id": "late", "token": t, "now": now() + 901}));
    assert_eq!(answer["error"], "expired");
    let answer = batch.ask(json!({"id": "leeway", "token": t, "now": now() + 901, "leeway": 60}));
    assert_eq!(answer["ok"], true);
    let answer = batch.ask(json!({"id": "jws", "token": t, "mode": "jws"}));
    assert_eq!(answer["ok"], true);
    assert!(answer["payload_b64url"].is_string());
    let answer = batch.ask(json!({"id": "size", "token": t, "max_token_bytes": 10}));
    assert_eq!(answer["error"], "too_large");
    // Bad requests: answered, never fatal.
    for (request, id) in [
        (json!({"id": 1, "token": t, "alg": ["none"]}), json!(1)),
        (json!({"id": 2, "token": t, "unknown": true}), json!(2)),
        (json!({"id": 3}), json!(3)),
        (json!({"id": 4, "token": t, "jwks": {"keys": 1}}), json!(4)),
        (
            json!({"id": 5, "token": t, "jwks_file": "/nonexistent"}),
            json!(5),
        ),
        (json!({"id": 6, "token": t, "mode": "jwe"}), json!(6)),
        (json!([1, 2]), Value::Null),
        (json!("just a string"), Value::Null),
    ] {
        assert_eq!(
            batch.ask(request),
            json!({"id": id, "ok": false, "error": "invalid_request"})
        );
    }
    let stdin = batch.stdin.as_mut().unwrap();
    // Not JSON at all, a blank line (skipped), and an overlong line.
    writeln!(stdin, "not json\n").unwrap();
    writeln!(stdin, "{}", "x".repeat(2 << 20)).unwrap();
    let mut line = String::new();
    batch.stdout.read_line(&mut line).unwrap();
    assert_eq!(
        line.trim(),
        r#"{"id":null,"ok":false,"error":"invalid_request"}"#
    );
    line.clear();
    batch.stdout.read_line(&mut line).unwrap();
    assert_eq!(
        line.trim(),
        r#"{"id":null,"ok":false,"error":"invalid_request"}"#
    );
    // An inline JWKS is read as strictly as a file: a duplicate member refuses it.
    let keys = jwks(&[&k])["keys"].to_string();
    let stdin = batch.stdin.as_mut().unwrap();
    writeln!(
        stdin,
        r#"{{"id":"dup","token":"{t}","jwks":{{"keys":{keys},"keys":{keys}}}}}"#
    )
    .unwrap();
    line.clear();
    batch.stdout.read_line(&mut line).unwrap();
    assert_eq!(
        line.trim(),
        r#"{"id":"dup","ok":false,"error":"invalid_request"}"#
    );
    let inline =
        batch.ask(json!({"id": "once", "token": t, "jwks": {"keys": jwks(&[&k])["keys"]}}));
    assert_eq!(inline["ok"], true);
    // Still serving.
    assert_eq!(batch.verify(99, &t)["ok"], true);
    batch.finish();
}

#[test]
fn keys_unavailable_exits_3() {
    let rt = runtime();
    let k = key();
    let t = token(&k);
    let url_of = |behaviour| rt.block_on(JwksServer::start(behaviour));

    // Slow endpoint: refused within the timeout.
    let slow = url_of(Behaviour::Slow(Duration::from_secs(30), jwks(&[&k])));
    let started = Instant::now();
    let run = verify(
        &[
            "--jwks-url",
            &slow.url(),
            "--alg",
            "EdDSA",
            "--jwks-timeout",
            "0.5",
            &t,
        ],
        "",
        LIMIT,
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        (run.code, run.error()["error"].clone()),
        (3, json!("keys_unavailable")),
        "{run:?}"
    );

    for behaviour in [
        Behaviour::Status(500),
        Behaviour::Status(404),
        Behaviour::Huge(600 * 1024, false),
        Behaviour::Huge(600 * 1024, true),
        Behaviour::Raw("<html>"),
    ] {
        let server = url_of(behaviour.clone());
        let run = verify(
            &["--jwks-url", &server.url(), "--alg", "EdDSA", &t],
            "",
            LIMIT,
        );
        assert_eq!(run.code, 3, "{behaviour:?}: {run:?}");
        assert_eq!(run.error()["error"], "keys_unavailable");
    }

    // Redirect: not followed.
    let redirect = url_of(Behaviour::Redirect(jwks(&[&k])));
    let run = verify(
        &["--jwks-url", &redirect.url(), "--alg", "EdDSA", &t],
        "",
        LIMIT,
    );
    assert_eq!(run.code, 3, "{run:?}");
    assert_eq!(redirect.other_hits(), 0);

    // Nothing listening.
    let port = crate::free_port();
    let run = verify(
        &[
            "--jwks-url",
            &format!("http://127.0.0.1:{port}/jwks"),
            "--alg",
            "EdDSA",
            &t,
        ],
        "",
        LIMIT,
    );
    assert_eq!(run.code, 3, "{run:?}");

    // A token broken whatever the keys: rejected (1), not "keys unavailable" (3).
    let run = verify(
        &[
            "--jwks-url",
            &format!("http://127.0.0.1:{port}/jwks"),
            "--alg",
            "EdDSA",
            "x.y",
        ],
        "",
        LIMIT,
    );
    assert_eq!(
        (run.code, run.error()["error"].clone()),
        (1, json!("malformed"))
    );

    // A token pointing at its own keys with jku: never fetched.
    let good = url_of(Behaviour::Keys(jwks(&[&k]), None));
    let attacker = key();
    let mut header = sigil_jose::Header::for_key(&attacker);
    header.extra.insert("jku".into(), json!(good.jku_url()));
    let forged = sigil_jose::sign_jwt_with_header(
        &attacker,
        &header,
        &json!({"sub": "x", "exp": now() + 60}),
    )
    .unwrap();
    let run = verify(
        &["--jwks-url", &good.url(), "--alg", "EdDSA", &forged],
        "",
        LIMIT,
    );
    assert_eq!(
        (run.code, run.error()["error"].clone()),
        (1, json!("no_matching_key"))
    );
    assert_eq!(good.other_hits(), 0);
}

#[test]
fn an_http_proxy_never_sees_a_loopback_jwks_fetch() {
    let rt = runtime();
    let (k, attacker) = (key(), key());
    let server = rt.block_on(JwksServer::start(Behaviour::Keys(jwks(&[&k]), None)));
    // A "proxy" that would answer with the attacker's keys.
    let proxy = rt.block_on(JwksServer::start(Behaviour::Keys(jwks(&[&attacker]), None)));
    let proxy_url = proxy.url().trim_end_matches("/jwks").to_owned();
    let out = sigil()
        .args([
            "token",
            "verify",
            "--jwks-url",
            &server.url(),
            "--alg",
            "EdDSA",
            &token(&attacker),
        ])
        .env("http_proxy", &proxy_url)
        .env("HTTP_PROXY", &proxy_url)
        .env("all_proxy", &proxy_url)
        .env_remove("no_proxy")
        .env_remove("NO_PROXY")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(proxy.hits() + proxy.other_hits(), 0);
    // The set, and one refetch for the attacker's unknown kid: both straight to the server.
    assert_eq!(server.hits(), 2);
}

#[test]
fn special_files_and_bad_stdin_never_hang() {
    let k = key();
    let dir = std::env::temp_dir().join(format!("sigil-fifo-{}", crate::free_port()));
    std::fs::create_dir_all(&dir).unwrap();
    let fifo = dir.join("jwks.fifo");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let fifo = fifo.to_str().unwrap();
    let t = token(&k);
    let started = Instant::now();
    // As the flag: a configuration error.
    for file in [fifo, "/dev/zero"] {
        let run = verify(&["--jwks", file, "--alg", "EdDSA", &t], "", LIMIT);
        assert_eq!(run.code, 2, "{file}: {run:?}");
    }
    // As a batch line's jwks_file: that line is invalid, the process goes on.
    let mut batch = Batch::start(&[]);
    for file in [fifo, "/dev/zero"] {
        let answer = batch.ask(json!({"id": file, "token": t, "jwks_file": file}));
        assert_eq!(
            answer,
            json!({"id": file, "ok": false, "error": "invalid_request"})
        );
    }
    let inline = batch.ask(json!({"id": 3, "token": t, "jwks": jwks(&[&k])}));
    assert_eq!(inline["ok"], true);
    batch.finish();
    assert!(started.elapsed() < LIMIT);
    std::fs::remove_dir_all(&dir).unwrap();

    // A token on stdin that is not UTF-8: rejected as malformed.
    let file = std::env::temp_dir().join(format!("sigil-jwks-{}.json", crate::free_port()));
    std::fs::write(&file, jwks(&[&k]).to_string()).unwrap();
    let run = verify(
        &["--jwks", file.to_str().unwrap(), "--alg", "EdDSA", "-"],
        b"\xff\xfe.x.y",
        LIMIT,
    );
    assert_eq!(
        (run.code, run.error()["error"].clone()),
        (1, json!("malformed"))
    );
    std::fs::remove_file(&file).unwrap();
}

#[test]
fn a_remote_jwks_without_alg_serves_its_rsa_key() {
    let rt = runtime();
    let rs = KeyPair::generate(Alg::RS256).unwrap();
    // As Microsoft Entra ID publishes its keys: no `alg`.
    let mut jwk = rs.public_key().to_jwk();
    jwk.as_object_mut().unwrap().remove("alg");
    let server = rt.block_on(JwksServer::start(Behaviour::Keys(
        json!({"keys": [jwk]}),
        None,
    )));
    let url = server.url();
    let mut batch = Batch::start(&["--jwks-url", &url, "--alg", "RS256"]);
    let answer = batch.verify(1, &token(&rs));
    assert_eq!(answer["ok"], true, "{answer}");
    assert_eq!(answer["claims"]["sub"], "u1");
    batch.finish();
    let run = verify(
        &["--jwks-url", &url, "--alg", "RS256", &token(&rs)],
        "",
        LIMIT,
    );
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(run.output()["sub"], "u1");
}
