//! `sigil keys` as an operator uses it after the secret changed: keys the secret cannot open are
//! listed as such and can be revoked; the start-up error names the key once; one-shot commands
//! print their result without the server's log lines.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::Duration;

use crate::{sigil, wait_exit};

const FIRST_SECRET: &str = "k3Jd9QmZ2vX7pL1wR8tY4nB6cF0hG5sA-first";
const SECOND_SECRET: &str = "Zq8Wm3Lp7Xv2Rt9Yn4Bc6Fh0Gs5Ad1Kj-second";

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sigil-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn sigil_in(dir: &Path, secret: &str, args: &[&str]) -> Output {
    sigil()
        .current_dir(dir)
        .env("SIGIL_SECRET", secret)
        .env("SIGIL_DATA_DIR", dir.join("data"))
        .env_remove("RUST_LOG")
        .args(args)
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn keys_the_secret_cannot_open_are_listed_and_revoked() {
    let dir = temp_dir("undecryptable");
    let created = sigil_in(&dir, FIRST_SECRET, &["keys", "rotate", "--now"]);
    assert!(created.status.success(), "{}", text(&created.stderr));
    let kid = text(&created.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    let first = sigil_in(&dir, FIRST_SECRET, &["keys", "list"]);
    assert_eq!(
        text(&first.stdout).lines().count(),
        2,
        "an immediate rotation on an empty table makes one key: {}",
        text(&first.stdout)
    );
    assert!(
        !text(&created.stderr).contains("INFO"),
        "one-shot commands keep the server's log lines to themselves: {}",
        text(&created.stderr)
    );

    // The server refuses to start with another secret, naming the key and the fix once.
    let mut serve = sigil()
        .current_dir(&dir)
        .env("SIGIL_SECRET", SECOND_SECRET)
        .env("SIGIL_DATA_DIR", dir.join("data"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let status = wait_exit(&mut serve, Duration::from_secs(30), "sigil serve");
    assert!(!status.success());
    let mut stderr = String::new();
    serve
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert_eq!(
        stderr
            .matches(&format!("key {kid} cannot be opened"))
            .count(),
        1,
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("sigil keys revoke {kid}")),
        "{stderr}"
    );

    // The command the message recommends works without the old secret.
    let list = sigil_in(&dir, SECOND_SECRET, &["keys", "list"]);
    assert!(list.status.success(), "{}", text(&list.stderr));
    let row = text(&list.stdout)
        .lines()
        .find(|l| l.starts_with(&kid))
        .map(str::to_owned)
        .unwrap_or_default();
    assert!(row.contains("undecryptable"), "{}", text(&list.stdout));
    assert!(
        !text(&list.stderr).contains("INFO"),
        "{}",
        text(&list.stderr)
    );

    // Rotating with a secret that cannot open the live key would seal the new key under a
    // secret the servers may not have: refused, naming the key, and nothing written.
    let rotate = sigil_in(&dir, SECOND_SECRET, &["keys", "rotate", "--now"]);
    assert!(!rotate.status.success());
    assert!(
        text(&rotate.stderr).contains(&format!("key {kid} cannot be opened")),
        "{}",
        text(&rotate.stderr)
    );
    let still = sigil_in(&dir, FIRST_SECRET, &["keys", "list"]);
    assert_eq!(
        text(&still.stdout).lines().count(),
        2,
        "{}",
        text(&still.stdout)
    );
    assert!(
        text(&still.stdout).contains("current"),
        "{}",
        text(&still.stdout)
    );

    let revoke = sigil_in(&dir, SECOND_SECRET, &["keys", "revoke", &kid]);
    assert!(revoke.status.success(), "{}", text(&revoke.stderr));
    assert_eq!(text(&revoke.stdout).trim(), format!("{kid} revoked"));
    let after = sigil_in(&dir, SECOND_SECRET, &["keys", "list"]);
    assert!(
        !text(&after.stdout).contains(&kid),
        "{}",
        text(&after.stdout)
    );

    // Key ids are base64url and may begin with `-`: such an id is a key id, not an option.
    let dashed = sigil_in(&dir, SECOND_SECRET, &["keys", "revoke", "-cvkVSViYPXf"]);
    assert!(!dashed.status.success());
    assert!(
        text(&dashed.stderr).contains("no key -cvkVSViYPXf"),
        "{}",
        text(&dashed.stderr)
    );

    // With the key gone, the server starts with the new secret and makes its own key.
    let rotated = sigil_in(&dir, SECOND_SECRET, &["keys", "rotate", "--now"]);
    assert!(rotated.status.success(), "{}", text(&rotated.stderr));
    std::fs::remove_dir_all(&dir).unwrap();
}
