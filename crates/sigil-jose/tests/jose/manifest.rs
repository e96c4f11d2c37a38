//! `tests/vectors/SHA256SUMS` against the files beside it: every listed file has its recorded
//! SHA-256, and every file in the folder is listed, so no vector changes or appears unnoticed.

use std::collections::BTreeMap;
use std::path::Path;

use aws_lc_rs::digest::{SHA256, digest};

use crate::vectors_dir;

const MANIFEST: &str = "SHA256SUMS";

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `sha256sum` lines: 64 lowercase hex digits, two spaces, a relative path with `/` separators.
fn parse_manifest(text: &str) -> BTreeMap<String, String> {
    let mut entries = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        let (hash, path) = line
            .split_once("  ")
            .unwrap_or_else(|| panic!("{MANIFEST} line {}: not `<sha256>  <path>`", n + 1));
        assert!(
            hash.len() == 64 && hash.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')),
            "{MANIFEST} line {}: bad hash {hash:?}",
            n + 1
        );
        assert!(
            !path.is_empty()
                && !path.starts_with('/')
                && path
                    .split('/')
                    .all(|c| !c.is_empty() && c != "." && c != ".."),
            "{MANIFEST} line {}: path {path:?} must be relative and inside the folder",
            n + 1
        );
        let previous = entries.insert(path.to_owned(), hash.to_owned());
        assert!(previous.is_none(), "{MANIFEST}: {path} listed twice");
    }
    entries
}

/// Every regular file under `dir`, as a `/`-separated path relative to `root`.
fn files_under(root: &Path, dir: &Path, out: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let path = entry.path();
        let kind = entry.file_type().unwrap();
        if kind.is_dir() {
            files_under(root, &path, out);
        } else {
            assert!(kind.is_file(), "{}: not a regular file", path.display());
            let relative: Vec<_> = path
                .strip_prefix(root)
                .unwrap()
                .components()
                .map(|c| c.as_os_str().to_str().unwrap().to_owned())
                .collect();
            out.push(relative.join("/"));
        }
    }
}

#[test]
fn vector_files_match_manifest() {
    let root = vectors_dir();
    let text = std::fs::read_to_string(root.join(MANIFEST))
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", root.join(MANIFEST).display()));
    let listed = parse_manifest(&text);
    assert!(!listed.is_empty(), "{MANIFEST} lists no file");

    let mut mismatched = Vec::new();
    for (path, want) in &listed {
        let bytes = std::fs::read(root.join(path))
            .unwrap_or_else(|e| panic!("{path} is listed in {MANIFEST} but cannot be read: {e}"));
        let got = hex(digest(&SHA256, &bytes).as_ref());
        if &got != want {
            mismatched.push(format!("{path}: listed {want}, file has {got}"));
        }
    }
    assert!(
        mismatched.is_empty(),
        "vector files differ from {MANIFEST}:\n{}",
        mismatched.join("\n")
    );

    let mut present = Vec::new();
    files_under(&root, &root, &mut present);
    let unlisted: Vec<_> = present
        .iter()
        .filter(|p| p.as_str() != MANIFEST && !listed.contains_key(p.as_str()))
        .collect();
    assert!(
        unlisted.is_empty(),
        "files in tests/vectors not listed in {MANIFEST}: {unlisted:?}"
    );
}

#[test]
fn manifest_parser_refuses_escapes_and_bad_lines() {
    let ok = format!("{}  a/b.json\n", "0".repeat(64));
    assert_eq!(parse_manifest(&ok).len(), 1);
    for bad in [
        format!("{}  ../outside.json", "0".repeat(64)),
        format!("{}  /etc/passwd", "0".repeat(64)),
        format!("{} a.json", "0".repeat(64)),
        format!("{}  a.json", "0".repeat(63)),
        format!("{}  a.json\n{0}  a.json", "0".repeat(64)),
    ] {
        assert!(
            std::panic::catch_unwind(|| parse_manifest(&bad)).is_err(),
            "accepted {bad:?}"
        );
    }
}
