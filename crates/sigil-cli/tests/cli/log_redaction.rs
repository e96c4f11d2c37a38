//! `sigil serve` at `RUST_LOG=trace`, in JSON and in text: a whole flow (sign-up with a
//! password, get-session, `/token`, sign-in, a wrong password, `sigil keys rotate --now`, a token
//! from the new key, sign-out) leaves none of its secrets in the output: not the password, the
//! server secret, a session token, a whole JWT (nor its signature), a private key (`d`) or its
//! stored envelope. And every request has its `sigil::request` line.

use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::{free_port, get, sigil, wait_exit};

const PASSWORD: &str = "Tr0ub4dor&3-correct-horse";

/// What the flow handled that must never be logged.
struct Secrets {
    needles: Vec<(String, String)>,
    requests: usize,
}

impl Secrets {
    fn add(&mut self, what: &str, value: &str) {
        assert!(
            value.len() >= 8,
            "{what}: {value:?} is too short to look for"
        );
        self.needles.push((what.to_owned(), value.to_owned()));
    }
}

fn kid_of(jwt: &str) -> String {
    let header = jwt.split('.').next().unwrap();
    let header: Value = serde_json::from_slice(&sigil_jose::b64::decode(header).unwrap()).unwrap();
    header["kid"].as_str().unwrap().to_owned()
}

async fn flow(issuer: &str, dir: &std::path::Path, found: &mut Secrets) {
    let client = reqwest::Client::new();
    let url = |p: &str| format!("{issuer}/api/auth{p}");
    found.add("password", PASSWORD);

    let r = client
        .post(url("/sign-up/email"))
        .header("origin", issuer)
        .json(&json!({"email": "ada@example.com", "password": PASSWORD, "name": "Ada"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let session = r.headers()["set-auth-token"].to_str().unwrap().to_owned();
    found.add("session token (signed)", &session);
    found.add("session token", session.split('.').next().unwrap());
    found.requests += 1;

    let r = client
        .get(url("/get-session"))
        .bearer_auth(&session)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    if let Some(jwt) = r.headers().get("set-auth-jwt") {
        let jwt = jwt.to_str().unwrap();
        found.add("get-session JWT", jwt);
        found.add("get-session JWT signature", jwt.rsplit('.').next().unwrap());
    }
    found.requests += 1;

    let token = |bearer: String| {
        let client = client.clone();
        let url = url("/token");
        async move {
            let r = client.get(url).bearer_auth(bearer).send().await.unwrap();
            assert_eq!(r.status(), 200);
            let body: Value = r.json().await.unwrap();
            body["token"].as_str().unwrap().to_owned()
        }
    };
    let first = token(session.clone()).await;
    found.add("JWT", &first);
    found.add("JWT signature", first.rsplit('.').next().unwrap());
    found.requests += 1;

    let r = client
        .post(url("/sign-in/email"))
        .header("origin", issuer)
        .json(&json!({"email": "ada@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let second = r.headers()["set-auth-token"].to_str().unwrap().to_owned();
    found.add("second session token (signed)", &second);
    found.add("second session token", second.split('.').next().unwrap());
    found.requests += 1;

    let wrong = "Wr0ng-password-for-ada";
    found.add("wrong password", wrong);
    let r = client
        .post(url("/sign-in/email"))
        .header("origin", issuer)
        .json(&json!({"email": "ada@example.com", "password": wrong}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    found.requests += 1;

    // Rotate while serving; the server picks the new key up within seconds.
    let out = sigil()
        .args(["keys", "rotate", "--now"])
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let jwt = token(second.clone()).await;
        found.requests += 1;
        found.add("JWT", &jwt);
        found.add("JWT signature", jwt.rsplit('.').next().unwrap());
        if kid_of(&jwt) != kid_of(&first) {
            break;
        }
        assert!(Instant::now() < deadline, "no token from the rotated key");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }

    let r = client
        .post(url("/sign-out"))
        .bearer_auth(&second)
        .header("origin", issuer)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    found.requests += 1;
}

/// The secret and every private key (its `d` and its stored envelope), read from the data
/// directory as `sigil keys` reads it.
async fn key_material(dir: &std::path::Path, found: &mut Secrets) {
    let data_dir = dir.join("sigil-data");
    let secret = std::fs::read_to_string(data_dir.join("secret")).unwrap();
    found.add("server secret", secret.trim());
    let settings = sigil_server::Settings {
        data_dir: Some(data_dir),
        ..sigil_server::Settings::default()
    };
    let config = sigil_server::Config::from_settings(settings).unwrap();
    let ring = sigil_server::keys::SecretRing::from_secrets(&config.secrets);
    let keys = sigil_server::key_admin(&config).await.unwrap();
    let rows = keys.list().await.unwrap();
    assert!(rows.len() >= 2, "expected the rotated key too");
    for (row, _) in rows {
        found.add("stored private key envelope", &row.private_key);
        let jwk: Value = serde_json::from_str(&ring.open(&row.private_key).unwrap()).unwrap();
        found.add("private key d", jwk["d"].as_str().unwrap());
    }
}

fn no_secrets_in_the_logs(format: &str) {
    let dir = std::env::temp_dir().join(format!("sigil-cli-logs-{format}-{}", free_port()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let port = free_port();
    let issuer = format!("http://127.0.0.1:{port}");
    // Files, not pipes: trace output would fill a pipe nobody reads yet.
    let stdout_path = dir.join("stdout.log");
    let stderr_path = dir.join("stderr.log");
    let mut child = sigil()
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .current_dir(&dir)
        .env("SIGIL_LOG_FORMAT", format)
        .env("RUST_LOG", "trace")
        .env("SIGIL_BASE_URL", &issuer)
        .env("SIGIL_RATE_LIMIT", "false")
        .stdout(Stdio::from(std::fs::File::create(&stdout_path).unwrap()))
        .stderr(Stdio::from(std::fs::File::create(&stderr_path).unwrap()))
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while get(port, "/api/auth/ok").is_none() {
        assert!(Instant::now() < deadline, "sigil serve did not answer");
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut found = Secrets {
        needles: Vec::new(),
        requests: 0,
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(flow(&issuer, &dir, &mut found));
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = wait_exit(&mut child, Duration::from_secs(10), "sigil serve");
    assert!(exit.success(), "{exit:?}");
    rt.block_on(key_material(&dir, &mut found));

    let stderr = std::fs::read_to_string(&stderr_path).unwrap();
    let stdout = std::fs::read_to_string(&stdout_path).unwrap();
    // TRACE was on (the filter reached the libraries too) and every request was logged.
    assert!(
        stderr.contains("TRACE") || stderr.contains("DEBUG"),
        "no trace or debug output: {stderr}"
    );
    let request_lines: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("sigil::request"))
        .collect();
    // The readiness polls before the flow are logged too.
    assert!(
        request_lines.len() > found.requests,
        "{} request lines for {} requests",
        request_lines.len(),
        found.requests
    );
    if format == "json" {
        for line in stderr.lines() {
            let _: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        }
        let routes: Vec<String> = request_lines
            .iter()
            .map(|l| serde_json::from_str::<Value>(l).unwrap()["fields"]["route"].to_string())
            .collect();
        for route in [
            "sign-up/email",
            "sign-in/email",
            "get-session",
            "token",
            "sign-out",
            "ok",
        ] {
            assert!(
                routes.contains(&format!("\"/api/auth/{route}\"")),
                "{route}: {routes:?}"
            );
        }
    }
    for (what, needle) in &found.needles {
        for (stream, text) in [("stderr", &stderr), ("stdout", &stdout)] {
            assert!(
                !text.contains(needle.as_str()),
                "{format}: the {what} appears on {stream}"
            );
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn no_secrets_in_json_trace_logs() {
    no_secrets_in_the_logs("json");
}

#[test]
fn no_secrets_in_text_trace_logs() {
    no_secrets_in_the_logs("text");
}

/// `--log-format` on the command line: `json` gives JSON lines; anything but text or json is a
/// usage error (exit 2).
#[test]
fn log_format_flag() {
    let out = sigil()
        .args(["serve", "--log-format", "yaml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");

    let dir = std::env::temp_dir().join(format!("sigil-cli-logflag-{}", free_port()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let port = free_port();
    let stderr_path = dir.join("stderr.log");
    let mut child = sigil()
        .args([
            "serve",
            "--log-format",
            "json",
            "--listen",
            &format!("127.0.0.1:{port}"),
        ])
        .current_dir(&dir)
        .env("SIGIL_LOG_FORMAT", "text")
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::from(std::fs::File::create(&stderr_path).unwrap()))
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while get(port, "/api/auth/ok").is_none() {
        assert!(Instant::now() < deadline, "sigil serve did not answer");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(wait_exit(&mut child, Duration::from_secs(10), "sigil serve").success());
    // The flag wins over the environment.
    let stderr = std::fs::read_to_string(&stderr_path).unwrap();
    let lines: Vec<Value> = stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert!(
        lines
            .iter()
            .any(|l| l["target"] == "sigil::request" && l["fields"]["route"] == "/api/auth/ok"),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
