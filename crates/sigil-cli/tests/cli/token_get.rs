//! `sigil token get` against `sigil serve`: a JWT on stdout from an email and a password on stdin,
//! or from a session token in an environment variable; verify's exit codes (1 refused, 2 usage,
//! 3 server unavailable) and its stderr line; the password and session token are never printed.

use std::io::Write;
use std::process::Stdio;
use std::time::Duration;

use crate::{Run, Served, free_port, sigil, verify};

const PASSWORD: &str = "correct horse battery";

/// Runs `sigil token get ARGS` with `stdin` and `env`.
fn get(args: &[&str], stdin: &str, env: &[(&str, &str)]) -> Run {
    let mut cmd = sigil();
    cmd.args(["token", "get"])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    Run {
        code: out.status.code().unwrap(),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

/// Signs a user up; answers its session token.
fn sign_up(url: &str, email: &str) -> String {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let client = sigil_client::AuthClient::new(url).unwrap();
        client.sign_up_email("Ci", email, PASSWORD).await.unwrap();
        client.session_token().unwrap()
    })
}

fn start(env: &[(&str, &str)]) -> (Served, String) {
    let mut all = vec![
        ("SIGIL_BASE_URL", "http://127.0.0.1:{port}"),
        ("SIGIL_RATE_LIMIT", "false"),
    ];
    all.extend_from_slice(env);
    let served = Served::start(&all);
    let url = format!("http://127.0.0.1:{}", served.port);
    (served, url)
}

fn no_secrets(run: &Run, secrets: &[&str]) {
    for secret in secrets {
        assert!(
            !run.stdout.contains(secret) && !run.stderr.contains(secret),
            "a secret was printed: {run:?}"
        );
    }
}

#[test]
fn token_get_by_password_and_by_session_token() {
    let (served, url) = start(&[]);
    let session = sign_up(&url, "ci@example.com");

    let run = get(
        &[
            "--url",
            &url,
            "--email",
            "ci@example.com",
            "--password-stdin",
        ],
        &format!("{PASSWORD}\n"),
        &[],
    );
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stderr.is_empty(), "{run:?}");
    no_secrets(&run, &[PASSWORD]);
    let jwt = run.stdout.trim().to_owned();
    assert_eq!(run.stdout, format!("{jwt}\n"));
    // The printed token passes `sigil token verify` against the server's key set.
    let jwks = format!("{url}/api/auth/jwks");
    let verified = verify(
        &[
            "--jwks-url",
            &jwks,
            "--alg",
            "EdDSA",
            "--iss",
            &url,
            "--aud",
            &url,
            "-",
        ],
        &run.stdout,
        Duration::from_secs(20),
    );
    assert_eq!(verified.code, 0, "{verified:?}");
    assert_eq!(verified.output()["email"], "ci@example.com");

    // From a session token in the environment.
    let run = get(
        &["--url", &url, "--session-token-env", "CI_SESSION"],
        "",
        &[("CI_SESSION", &session)],
    );
    assert_eq!(run.code, 0, "{run:?}");
    no_secrets(&run, &[&session]);
    assert_eq!(run.stdout.trim().split('.').count(), 3);

    // Refusals: exit 1 with the server's code.
    let run = get(
        &[
            "--url",
            &url,
            "--email",
            "ci@example.com",
            "--password-stdin",
        ],
        "wrong password\n",
        &[],
    );
    assert_eq!(run.code, 1, "{run:?}");
    assert_eq!(run.error()["error"], "INVALID_EMAIL_OR_PASSWORD");
    no_secrets(&run, &["wrong password"]);
    assert!(run.stdout.is_empty());
    let bogus = "bogus-session.AAAA";
    let run = get(
        &["--url", &url, "--session-token-env", "CI_SESSION"],
        "",
        &[("CI_SESSION", bogus)],
    );
    assert_eq!(run.code, 1, "{run:?}");
    assert_eq!(run.error()["error"], "session_gone");
    no_secrets(&run, &[bogus]);

    // Usage: exit 2.
    for (args, env) in [
        (vec!["--url", url.as_str()], vec![]),
        (
            vec!["--url", url.as_str(), "--session-token-env", "CI_UNSET"],
            vec![],
        ),
        (
            vec!["--url", url.as_str(), "--email", "ci@example.com"],
            vec![],
        ),
        (
            vec!["--url", "not a url", "--session-token-env", "CI_SESSION"],
            vec![("CI_SESSION", session.as_str())],
        ),
        // Plain http to a host that is not loopback: the session token would travel in clear.
        (
            vec![
                "--url",
                "http://auth.example.com",
                "--session-token-env",
                "CI_SESSION",
            ],
            vec![("CI_SESSION", session.as_str())],
        ),
    ] {
        let run = get(&args, "", &env);
        assert_eq!(run.code, 2, "{args:?}: {run:?}");
        assert_eq!(run.error()["error"], "usage", "{args:?}");
        no_secrets(&run, &[&session]);
    }
    let run = get(
        &[
            "--url",
            &url,
            "--email",
            "ci@example.com",
            "--password-stdin",
        ],
        "",
        &[],
    );
    assert_eq!(run.code, 2, "empty password: {run:?}");

    // The server unreachable: exit 3.
    let down = format!("http://127.0.0.1:{}", free_port());
    let run = get(
        &["--url", &down, "--session-token-env", "CI_SESSION"],
        "",
        &[("CI_SESSION", &session)],
    );
    assert_eq!(run.code, 3, "{run:?}");
    assert_eq!(run.error()["error"], "unavailable");
    no_secrets(&run, &[&session]);
    served.stop();
}

#[test]
fn token_get_with_an_audience() {
    let (served, url) = start(&[("SIGIL_JWT_ALLOWED_AUDIENCES", "billing,reports")]);
    sign_up(&url, "aud@example.com");
    let args = |audience: &'static str| {
        [
            "--url",
            url.as_str(),
            "--email",
            "aud@example.com",
            "--password-stdin",
            "--audience",
            audience,
        ]
    };

    let run = get(&args("billing"), PASSWORD, &[]);
    assert_eq!(run.code, 0, "{run:?}");
    let jwks = format!("{url}/api/auth/jwks");
    let verified = verify(
        &[
            "--jwks-url",
            &jwks,
            "--alg",
            "EdDSA",
            "--iss",
            &url,
            "--aud",
            "billing",
            "-",
        ],
        &run.stdout,
        Duration::from_secs(20),
    );
    assert_eq!(verified.code, 0, "{verified:?}");
    assert_eq!(verified.output()["aud"], "billing");

    let run = get(&args("payroll"), PASSWORD, &[]);
    assert_eq!(run.code, 1, "{run:?}");
    assert_eq!(run.error()["error"], "AUDIENCE_NOT_ALLOWED");
    assert!(run.stdout.is_empty());
    served.stop();
}
