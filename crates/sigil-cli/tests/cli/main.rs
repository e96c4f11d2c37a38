//! The `sigil` binary, run as a user runs it: `serve` on a free port with a fresh data directory
//! (answers, stops cleanly on SIGTERM), `token decode`.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn sigil() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sigil"));
    cmd.env("RUST_BACKTRACE", "0")
        .env_remove("SIGIL_SECRET")
        .env_remove("BETTER_AUTH_SECRET");
    cmd
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn get(port: u16, path: &str) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    Some(response)
}

#[test]
fn serve_with_no_configuration_then_stop_on_sigterm() {
    let dir = std::env::temp_dir().join(format!("sigil-cli-test-{}", free_port()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let port = free_port();
    let mut child = sigil()
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .current_dir(&dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let ok = loop {
        if let Some(r) = get(port, "/api/auth/ok") {
            break r;
        }
        assert!(
            Instant::now() < deadline,
            "sigil serve did not answer within 30 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(ok.starts_with("HTTP/1.1 200"), "{ok}");
    assert!(ok.ends_with("{\"ok\":true}"), "{ok}");
    let jwks = get(port, "/api/auth/jwks").unwrap();
    assert!(jwks.contains("\"keys\":[{"), "{jwks}");
    // Zero configuration: a data directory with the database and a private secret.
    let secret = dir.join("sigil-data/secret");
    assert!(secret.exists() && dir.join("sigil-data/sigil.db").exists());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&secret).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    // SIGTERM: graceful shutdown, exit status 0.
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    let exit = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "sigil serve did not stop within 10 s of SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stdout = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    assert!(exit.success(), "{exit:?}");
    assert!(
        stdout.contains(&format!(
            "Sigil is running: http://127.0.0.1:{port}/api/auth/ok"
        )),
        "{stdout}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

fn b64(bytes: &[u8]) -> String {
    sigil_jose::b64::encode(bytes)
}

#[test]
fn token_decode() {
    let token = format!(
        "{}.{}.{}",
        b64(br#"{"alg":"EdDSA","kid":"k1"}"#),
        b64(br#"{"sub":"u1","exp":1}"#),
        b64(b"sig")
    );
    let out = sigil().args(["token", "decode", &token]).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("NOT VERIFIED"), "{text}");
    assert!(
        text.contains("\"kid\": \"k1\"") && text.contains("\"sub\": \"u1\""),
        "{text}"
    );

    // From stdin.
    let mut child = sigil()
        .args(["token", "decode", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{token}\n").as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert!(
        String::from_utf8(out.stdout)
            .unwrap()
            .contains("\"sub\": \"u1\"")
    );

    for bad in [
        "a.b",
        "!!.e30.x",
        "",
        &format!("{}.{}.x", b64(b"[1]"), b64(b"{}")),
    ] {
        let out = sigil().args(["token", "decode", bad]).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{bad:?}");
        let err: serde_json::Value = serde_json::from_slice(&out.stderr).unwrap();
        assert_eq!(err["error"], "malformed", "{bad:?}");
    }
}
