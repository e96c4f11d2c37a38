//! The `sigil` binary, run as a user runs it: `serve` on a free port with a fresh data directory
//! (answers, stops cleanly on SIGTERM), `token decode`, `token verify` (every verification rule,
//! the exit codes, `--batch` against a loopback JWKS server), and a token from `sigil serve`
//! verified by the example service, and the Better Auth takeover check (`migrate --check`).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod end_to_end;
#[path = "../../../sigil-verify/tests/verify/jwks_server.rs"]
mod jwks_server;
mod keys_admin;
mod log_redaction;
mod metrics;
mod takeover;
mod token_get;
mod verify_batch;
mod verify_rules;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub fn sigil() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sigil"));
    cmd.env("RUST_BACKTRACE", "0")
        .env_remove("SIGIL_SECRET")
        .env_remove("BETTER_AUTH_SECRET");
    cmd
}

/// Runs `sigil ARGS` with `stdin` written and closed; answers its output.
pub fn run(args: &[&str], stdin: &[u8]) -> std::process::Output {
    let mut child = sigil()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

/// Waits (polling, at most `limit`) for `child` to exit; `what` names it in the failure.
pub fn wait_exit(
    child: &mut std::process::Child,
    limit: Duration,
    what: &str,
) -> std::process::ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "{what} did not exit within {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn get(port: u16, path: &str) -> Option<String> {
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

/// A `sigil serve` child process on a free port, in a fresh working directory.
pub struct Served {
    pub child: std::process::Child,
    pub port: u16,
    pub dir: std::path::PathBuf,
}

impl Served {
    /// Starts `sigil serve` with `env` and waits (at most 30 s) until it answers.
    pub fn start(env: &[(&str, &str)]) -> Self {
        let dir = std::env::temp_dir().join(format!("sigil-cli-test-{}", free_port()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let port = free_port();
        let mut cmd = sigil();
        cmd.args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .current_dir(&dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v.replace("{port}", &port.to_string()));
        }
        let child = cmd.spawn().unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        while get(port, "/api/auth/ok").is_none() {
            assert!(
                Instant::now() < deadline,
                "sigil serve did not answer within 30 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Served { child, port, dir }
    }

    /// Sends SIGTERM; answers the exit status and stdout once it has stopped (at most 10 s).
    pub fn stop(mut self) -> (std::process::ExitStatus, String) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let exit = wait_exit(
            &mut self.child,
            Duration::from_secs(10),
            "sigil serve after SIGTERM",
        );
        let mut stdout = String::new();
        self.child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut stdout)
            .unwrap();
        let _ = std::fs::remove_dir_all(&self.dir);
        (exit, stdout)
    }
}

#[test]
fn serve_with_no_configuration_then_stop_on_sigterm() {
    let served = Served::start(&[]);
    let (port, dir) = (served.port, served.dir.clone());
    let ok = get(port, "/api/auth/ok").unwrap();
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
        let mode = |p: &str| std::fs::metadata(dir.join(p)).unwrap().permissions().mode() & 0o777;
        // Only this user may read the data (session tokens, keys), whatever the umask.
        assert_eq!(mode("sigil-data/secret"), 0o600);
        assert_eq!(mode("sigil-data"), 0o700);
        for file in [
            "sigil-data/sigil.db",
            "sigil-data/sigil.db-wal",
            "sigil-data/sigil.db-shm",
        ] {
            assert_eq!(mode(file), 0o600, "{file}");
        }
    }
    // SIGTERM: graceful shutdown, exit status 0.
    let (exit, stdout) = served.stop();
    assert!(exit.success(), "{exit:?}");
    assert!(
        stdout.contains(&format!(
            "Sigil is running: http://127.0.0.1:{port}/api/auth/ok"
        )),
        "{stdout}"
    );
}

/// Issue 10: a client holding half a request head kept a SIGTERM'd server alive for minutes.
#[test]
fn a_stalled_client_does_not_keep_a_stopped_server_alive() {
    use std::io::Write;
    let served = Served::start(&[("SIGIL_SHUTDOWN_TIMEOUT", "1")]);
    let mut stalled = std::net::TcpStream::connect(("127.0.0.1", served.port)).unwrap();
    stalled
        .write_all(b"GET /api/auth/ok HTTP/1.1\r\nHost: loc")
        .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let signalled = Instant::now();
    let (exit, _) = served.stop();
    assert!(exit.success(), "{exit:?}");
    assert!(
        signalled.elapsed() < Duration::from_secs(4),
        "exited {:?} after SIGTERM",
        signalled.elapsed()
    );
}

/// The SQLite file deleted and restored from a copy under a running `sigil serve`: it stops with
/// a non-zero exit (so a supervisor restarts it on the file now at the path), naming the cause.
#[test]
fn serve_exits_when_its_database_file_is_replaced() {
    let mut served = Served::start(&[]);
    assert!(
        get(served.port, "/api/auth/jwks")
            .unwrap()
            .contains("\"keys\"")
    );
    let db = served.dir.join("sigil-data/sigil.db");
    let copy = served.dir.join("copy.db");
    std::fs::copy(&db, &copy).unwrap();
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
    std::fs::copy(&copy, &db).unwrap();
    let exit = wait_exit(&mut served.child, Duration::from_secs(10), "sigil serve");
    assert!(!exit.success(), "{exit:?}");
    let mut stderr = String::new();
    served
        .child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(stderr.contains("deleted or replaced"), "{stderr}");
    let _ = std::fs::remove_dir_all(&served.dir);
}

pub fn b64(bytes: &[u8]) -> String {
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
    let out = run(&["token", "decode", "-"], format!("{token}\n").as_bytes());
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

/// What one `sigil token verify` run printed.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// The single JSON line on stderr (rejections), checked to be exactly one line.
    pub fn error(&self) -> serde_json::Value {
        assert_eq!(self.stderr.lines().count(), 1, "{self:?}");
        serde_json::from_str(self.stderr.trim()).unwrap()
    }

    /// The JSON document on stdout (acceptances).
    pub fn output(&self) -> serde_json::Value {
        serde_json::from_str(self.stdout.trim()).unwrap()
    }
}

/// Runs `sigil token verify ARGS` with `stdin`, within `limit`.
pub fn verify(args: &[&str], stdin: impl AsRef<[u8]>, limit: Duration) -> Run {
    let started = Instant::now();
    let args = [&["token", "verify"][..], args].concat();
    let out = run(&args, stdin.as_ref());
    assert!(
        started.elapsed() < limit,
        "took {:?}: {args:?}",
        started.elapsed()
    );
    Run {
        code: out.status.code().unwrap(),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}
