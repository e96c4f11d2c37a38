//! Every verification rule of DESIGN §6, through `sigil token verify` with a JWKS file: the exit
//! code and the error code on stderr. Plus usage errors (exit 2) and the output formats.

use std::path::PathBuf;
use std::time::Duration;

use aws_lc_rs::hmac;
use serde_json::{Value, json};
use sigil_jose::{Alg, JwkSet, KeyPair};

use crate::{b64, verify};

const NOW: i64 = 1_795_780_800;
const LIMIT: Duration = Duration::from_secs(20);

/// A compact JWS of exactly these header and payload bytes, signed by `key` as is.
fn forge(key: &KeyPair, header: &[u8], payload: &[u8]) -> String {
    let input = format!("{}.{}", b64(header), b64(payload));
    let signature = key.sign(input.as_bytes()).unwrap();
    format!("{input}.{}", b64(&signature))
}

fn header(key: &KeyPair, extra: Value) -> Vec<u8> {
    let mut h = json!({"alg": key.alg().as_str(), "kid": key.kid().unwrap(), "typ": "JWT"});
    for (k, v) in extra.as_object().unwrap() {
        if v.is_null() {
            h.as_object_mut().unwrap().remove(k);
        } else {
            h[k] = v.clone();
        }
    }
    serde_json::to_vec(&h).unwrap()
}

fn claims(extra: Value) -> Vec<u8> {
    let mut c = json!({"sub": "u1", "iss": "https://auth.example.com", "aud": "https://auth.example.com", "iat": NOW, "exp": NOW + 900});
    for (k, v) in extra.as_object().unwrap() {
        if v.is_null() {
            c.as_object_mut().unwrap().remove(k);
        } else {
            c[k] = v.clone();
        }
    }
    serde_json::to_vec(&c).unwrap()
}

struct Fixture {
    _dir: tempdir::Dir,
    jwks: PathBuf,
    ed: KeyPair,
    es: KeyPair,
    rs: KeyPair,
}

mod tempdir {
    /// A directory removed on drop.
    pub struct Dir(pub std::path::PathBuf);
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

fn fixture() -> Fixture {
    let dir = std::env::temp_dir().join(format!("sigil-verify-rules-{}", crate::free_port()));
    std::fs::create_dir_all(&dir).unwrap();
    let (ed, es, rs) = (
        KeyPair::generate(Alg::EdDSA).unwrap(),
        KeyPair::generate(Alg::ES256).unwrap(),
        KeyPair::generate(Alg::RS256).unwrap(),
    );
    let set = JwkSet::new(vec![
        ed.public_key().clone(),
        es.public_key().clone(),
        rs.public_key().clone(),
    ])
    .unwrap();
    let jwks = dir.join("jwks.json");
    std::fs::write(&jwks, set.to_json()).unwrap();
    Fixture {
        _dir: tempdir::Dir(dir),
        jwks,
        ed,
        es,
        rs,
    }
}

/// Runs a verification that must be rejected with `code` (exit 1).
fn rejected(f: &Fixture, token: &str, extra: &[&str], code: &str) {
    let now = NOW.to_string();
    let mut args = vec![
        "--jwks",
        f.jwks.to_str().unwrap(),
        "--alg",
        "EdDSA,ES256",
        "--alg",
        "RS256",
        "--now",
        &now,
    ];
    args.extend_from_slice(extra);
    args.push(token);
    let run = verify(&args, "", LIMIT);
    assert_eq!(run.code, 1, "{code}: {run:?}");
    assert_eq!(run.error()["error"], code, "{run:?}");
    assert!(
        run.error()["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty())
    );
    assert!(run.stdout.is_empty());
}

fn accepted(f: &Fixture, token: &str, extra: &[&str]) -> Value {
    let now = NOW.to_string();
    let mut args = vec![
        "--jwks",
        f.jwks.to_str().unwrap(),
        "--alg",
        "EdDSA,ES256,RS256",
        "--now",
        &now,
    ];
    args.extend_from_slice(extra);
    args.push(token);
    let run = verify(&args, "", LIMIT);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stderr.is_empty(), "{run:?}");
    run.output()
}

#[test]
fn accepted_tokens_print_their_claims() {
    let f = fixture();
    for key in [&f.ed, &f.es, &f.rs] {
        let token = forge(
            key,
            &header(key, json!({})),
            &claims(json!({"role": "admin"})),
        );
        let out = accepted(
            &f,
            &token,
            &[
                "--iss",
                "https://auth.example.com",
                "--aud",
                "https://auth.example.com",
                "--typ",
                "JWT",
            ],
        );
        assert_eq!(out["sub"], "u1");
        assert_eq!(out["role"], "admin");
        assert_eq!(out["exp"], NOW + 900);
    }
    // aud as an array holding the expected audience; a second --aud alternative.
    let token = forge(
        &f.ed,
        &header(&f.ed, json!({})),
        &claims(json!({"aud": ["a", "b"]})),
    );
    accepted(&f, &token, &["--aud", "x", "--aud", "b"]);
    // typ compared case-insensitively with the optional application/ prefix.
    let token = forge(
        &f.ed,
        &header(&f.ed, json!({"typ": "application/jwt"})),
        &claims(json!({"aud": null})),
    );
    accepted(&f, &token, &["--typ", "JWT"]);
}

#[test]
fn algorithm_rules() {
    let f = fixture();
    let body = claims(json!({"aud": null}));
    // Not in the allow-list.
    let token = forge(&f.ed, &header(&f.ed, json!({})), &body);
    let now = NOW.to_string();
    let run = verify(
        &[
            "--jwks",
            f.jwks.to_str().unwrap(),
            "--alg",
            "ES256",
            "--now",
            &now,
            &token,
        ],
        "",
        LIMIT,
    );
    assert_eq!(
        (run.code, run.error()["error"].clone()),
        (1, json!("alg_not_allowed"))
    );
    // alg none, with and without a signature.
    let none = format!("{}.{}.", b64(br#"{"alg":"none","typ":"JWT"}"#), b64(&body));
    rejected(&f, &none, &[], "alg_not_allowed");
    rejected(&f, &format!("{none}AAAA"), &[], "alg_not_allowed");
    // HS256 keyed with the RSA public key (the classic key confusion).
    let pem = f.rs.public_key().to_spki_pem().unwrap();
    let input = format!(
        "{}.{}",
        b64(format!(r#"{{"alg":"HS256","kid":"{}"}}"#, f.rs.kid().unwrap()).as_bytes()),
        b64(&body)
    );
    let tag = hmac::sign(
        &hmac::Key::new(hmac::HMAC_SHA256, pem.as_bytes()),
        input.as_bytes(),
    );
    rejected(
        &f,
        &format!("{input}.{}", b64(tag.as_ref())),
        &[],
        "alg_not_allowed",
    );
    // A key used with another algorithm: the Ed25519 key's kid with an ES256 header.
    let mut h = json!({"alg": "ES256", "kid": f.ed.kid().unwrap()});
    let token = forge(&f.es, &serde_json::to_vec(&h).unwrap(), &body);
    rejected(&f, &token, &[], "alg_not_allowed");
    // RS256 key with a PS256 header (same key type, other algorithm).
    h = json!({"alg": "PS256", "kid": f.rs.kid().unwrap()});
    let token = forge(&f.rs, &serde_json::to_vec(&h).unwrap(), &body);
    rejected(&f, &token, &["--alg", "PS256"], "alg_not_allowed");
    // Unknown algorithm name.
    let token = forge(&f.ed, br#"{"alg":"EdDSA256"}"#, &body);
    rejected(&f, &token, &[], "alg_not_allowed");
}

#[test]
fn keys_only_from_the_configured_jwks() {
    let f = fixture();
    let attacker = KeyPair::generate(Alg::EdDSA).unwrap();
    let body = claims(json!({"aud": null}));
    let embedded = attacker.public_key().to_jwk();
    for extra in [
        json!({"jwk": embedded, "kid": attacker.kid().unwrap()}),
        json!({"jku": "http://127.0.0.1:1/jwks", "kid": attacker.kid().unwrap()}),
        json!({"x5u": "http://127.0.0.1:1/cert", "kid": attacker.kid().unwrap()}),
        json!({"x5c": ["MIIB"], "kid": attacker.kid().unwrap()}),
    ] {
        let token = forge(&attacker, &header(&attacker, extra), &body);
        rejected(&f, &token, &[], "no_matching_key");
    }
    // A kid the set does not have, and a set key with a forged signature under its kid.
    let token = forge(&attacker, &header(&attacker, json!({})), &body);
    rejected(&f, &token, &[], "no_matching_key");
    let token = forge(&attacker, &header(&f.ed, json!({})), &body);
    rejected(&f, &token, &[], "bad_signature");
}

#[test]
fn structure_rules() {
    let f = fixture();
    let body = claims(json!({"aud": null}));
    let good = forge(&f.ed, &header(&f.ed, json!({})), &body);
    let (h, rest) = good.split_once('.').unwrap();
    let (p, s) = rest.split_once('.').unwrap();
    // crit, even naming a member that is present.
    let token = forge(
        &f.ed,
        &header(&f.ed, json!({"crit": ["exp"], "exp": 1})),
        &body,
    );
    rejected(&f, &token, &[], "crit_unsupported");
    // Segment count.
    rejected(&f, &format!("{h}.{p}"), &[], "malformed");
    rejected(&f, &format!("{h}.{p}.{s}.x"), &[], "malformed");
    rejected(&f, &format!("{h}.{p}.{s}.x.y"), &[], "malformed");
    // Non-canonical base64url: padding, standard alphabet, whitespace.
    rejected(&f, &format!("{h}=.{p}.{s}"), &[], "malformed");
    rejected(
        &f,
        &format!("{h}.{p}.{}", s.replace('-', "+").replace('_', "/") + "+"),
        &[],
        "malformed",
    );
    rejected(&f, &format!("{h}.{p} .{s}"), &[], "malformed");
    // Header and claims must be JSON objects, without duplicate members.
    let token = forge(&f.ed, b"[\"EdDSA\"]", &body);
    rejected(&f, &token, &[], "malformed");
    let dup = format!(
        r#"{{"alg":"EdDSA","kid":"{}","alg":"EdDSA"}}"#,
        f.ed.kid().unwrap()
    );
    rejected(&f, &forge(&f.ed, dup.as_bytes(), &body), &[], "malformed");
    let dup_claims = format!(r#"{{"sub":"a","exp":{},"sub":"b"}}"#, NOW + 60);
    rejected(
        &f,
        &forge(&f.ed, &header(&f.ed, json!({})), dup_claims.as_bytes()),
        &[],
        "malformed",
    );
    rejected(
        &f,
        &forge(&f.ed, &header(&f.ed, json!({})), b"[1,2]"),
        &[],
        "claims_invalid",
    );
    // Size limit before parsing.
    rejected(&f, &good, &["--max-token-bytes", "100"], "too_large");
    let huge = "a".repeat(20_000);
    rejected(&f, &huge, &[], "too_large");
    // A flipped signature bit.
    let mut sig = sigil_jose::b64::decode(s).unwrap();
    sig[5] ^= 1;
    rejected(&f, &format!("{h}.{p}.{}", b64(&sig)), &[], "bad_signature");
}

/// DER encoding of an ECDSA signature given as r||s (each 32 bytes).
fn der(raw: &[u8]) -> Vec<u8> {
    fn int(bytes: &[u8]) -> Vec<u8> {
        let mut b: Vec<u8> = bytes.iter().copied().skip_while(|&x| x == 0).collect();
        if b.first().is_some_and(|&x| x & 0x80 != 0) {
            b.insert(0, 0);
        }
        let mut out = vec![0x02, u8::try_from(b.len()).unwrap()];
        out.extend(b);
        out
    }
    let (r, s) = raw.split_at(raw.len() / 2);
    let body = [int(r), int(s)].concat();
    let mut out = vec![0x30, u8::try_from(body.len()).unwrap()];
    out.extend(body);
    out
}

#[test]
fn ecdsa_signatures_are_raw_r_s_never_der() {
    let f = fixture();
    let token = forge(
        &f.es,
        &header(&f.es, json!({})),
        &claims(json!({"aud": null})),
    );
    accepted(&f, &token, &[]);
    let (input, s) = token.rsplit_once('.').unwrap();
    let raw = sigil_jose::b64::decode(s).unwrap();
    rejected(
        &f,
        &format!("{input}.{}", b64(&der(&raw))),
        &[],
        "bad_signature",
    );
    // r||s of the wrong length: one byte short, one byte long.
    rejected(
        &f,
        &format!("{input}.{}", b64(&raw[1..])),
        &[],
        "bad_signature",
    );
    let long = [&[0u8][..], &raw].concat();
    rejected(&f, &format!("{input}.{}", b64(&long)), &[], "bad_signature");
}

#[test]
fn claim_rules() {
    let f = fixture();
    let token = |extra: Value| forge(&f.ed, &header(&f.ed, json!({})), &claims(extra));
    let iss = ["--iss", "https://auth.example.com"];
    let aud = ["--aud", "https://auth.example.com"];
    // exp required, checked at --now, with leeway.
    rejected(
        &f,
        &token(json!({"exp": null, "aud": null})),
        &[],
        "claims_invalid",
    );
    rejected(&f, &token(json!({"exp": NOW, "aud": null})), &[], "expired");
    rejected(
        &f,
        &token(json!({"exp": NOW - 10, "aud": null})),
        &["--leeway", "10"],
        "expired",
    );
    accepted(
        &f,
        &token(json!({"exp": NOW - 9, "aud": null})),
        &["--leeway", "10"],
    );
    rejected(
        &f,
        &token(json!({"exp": "soon", "aud": null})),
        &[],
        "claims_invalid",
    );
    // nbf and iat in the future.
    rejected(
        &f,
        &token(json!({"nbf": NOW + 1, "aud": null})),
        &[],
        "not_yet_valid",
    );
    accepted(
        &f,
        &token(json!({"nbf": NOW + 5, "aud": null})),
        &["--leeway", "5"],
    );
    rejected(
        &f,
        &token(json!({"iat": NOW + 60, "aud": null})),
        &[],
        "iat_in_future",
    );
    // iss exact.
    rejected(
        &f,
        &token(json!({"aud": null})),
        &["--iss", "https://auth.example.com/"],
        "iss_mismatch",
    );
    rejected(
        &f,
        &token(json!({"iss": null, "aud": null})),
        &iss,
        "iss_mismatch",
    );
    // aud: string or array, must contain the expected one; present but unexpected is refused.
    rejected(&f, &token(json!({"aud": "other"})), &aud, "aud_mismatch");
    rejected(&f, &token(json!({"aud": ["a", "b"]})), &aud, "aud_mismatch");
    rejected(&f, &token(json!({"aud": null})), &aud, "aud_mismatch");
    rejected(&f, &token(json!({})), &[], "aud_mismatch");
    rejected(&f, &token(json!({"aud": 7})), &aud, "claims_invalid");
    // typ when configured.
    let no_typ = forge(
        &f.ed,
        &serde_json::to_vec(&json!({"alg": "EdDSA", "kid": f.ed.kid().unwrap()})).unwrap(),
        &claims(json!({"aud": null})),
    );
    rejected(&f, &no_typ, &["--typ", "JWT"], "typ_mismatch");
    rejected(
        &f,
        &token(json!({"aud": null})),
        &["--typ", "at+jwt"],
        "typ_mismatch",
    );
}

#[test]
fn jws_mode_checks_signature_only_and_stdin_token() {
    let f = fixture();
    let now = NOW.to_string();
    let jwks = f.jwks.to_str().unwrap();
    // A payload that is not JSON, and an expired JWT: both fine in jws mode.
    let binary = forge(
        &f.ed,
        &header(&f.ed, json!({"typ": null})),
        b"\x00\xffnot json",
    );
    let run = verify(
        &["--jwks", jwks, "--alg", "EdDSA", "--mode", "jws", &binary],
        "",
        LIMIT,
    );
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(
        run.output(),
        json!({"payload_b64url": b64(b"\x00\xffnot json")})
    );
    let expired = forge(
        &f.ed,
        &header(&f.ed, json!({})),
        &claims(json!({"exp": NOW - 1000})),
    );
    let run = verify(
        &[
            "--jwks", jwks, "--alg", "EdDSA", "--mode", "jws", "--now", &now, &expired,
        ],
        "",
        LIMIT,
    );
    assert_eq!(run.code, 0, "{run:?}");
    let run = verify(
        &[
            "--jwks", jwks, "--alg", "EdDSA", "--mode", "jwt", "--now", &now, &expired,
        ],
        "",
        LIMIT,
    );
    assert_eq!(
        (run.code, run.error()["error"].clone()),
        (1, json!("expired"))
    );
    // jws mode still refuses bad signatures.
    let (input, _) = binary.rsplit_once('.').unwrap();
    let run = verify(
        &[
            "--jwks",
            jwks,
            "--alg",
            "EdDSA",
            "--mode",
            "jws",
            &format!("{input}.{}", b64(&[0; 64])),
        ],
        "",
        LIMIT,
    );
    assert_eq!(
        (run.code, run.error()["error"].clone()),
        (1, json!("bad_signature"))
    );
    // `-` reads the token from stdin.
    let good = forge(
        &f.ed,
        &header(&f.ed, json!({})),
        &claims(json!({"aud": null})),
    );
    let run = verify(
        &["--jwks", jwks, "--alg", "EdDSA", "--now", &now, "-"],
        format!("{good}\n"),
        LIMIT,
    );
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(run.output()["sub"], "u1");
}

#[test]
fn usage_and_configuration_errors_exit_2() {
    let f = fixture();
    let jwks = f.jwks.to_str().unwrap();
    let bad_jwks = f.jwks.with_file_name("bad.json");
    std::fs::write(&bad_jwks, r#"{"keys":[{"kty":"oct","k":"AAAA"}]}"#).unwrap();
    let not_json = f.jwks.with_file_name("not.json");
    std::fs::write(&not_json, "hello").unwrap();
    let cases: Vec<Vec<&str>> = vec![
        vec!["--jwks", jwks, "x.y.z"],                   // no --alg
        vec!["--jwks", jwks, "--alg", "none", "x.y.z"],  // none is never allowed
        vec!["--jwks", jwks, "--alg", "HS256", "x.y.z"], // nor HMAC
        vec!["--jwks", jwks, "--alg", "EdDSA"],          // no token
        vec!["--alg", "EdDSA", "x.y.z"],                 // no key source
        vec![
            "--jwks",
            "/nonexistent/jwks.json",
            "--alg",
            "EdDSA",
            "x.y.z",
        ],
        vec![
            "--jwks",
            bad_jwks.to_str().unwrap(),
            "--alg",
            "EdDSA",
            "x.y.z",
        ],
        vec![
            "--jwks",
            not_json.to_str().unwrap(),
            "--alg",
            "EdDSA",
            "x.y.z",
        ],
        vec![
            "--jwks",
            jwks,
            "--jwks-url",
            "https://a.example/jwks",
            "--alg",
            "EdDSA",
            "x.y.z",
        ],
        vec![
            "--jwks-url",
            "http://auth.example.com/jwks",
            "--alg",
            "EdDSA",
            "x.y.z",
        ], // plain http, not loopback
        vec![
            "--jwks-url",
            "ftp://127.0.0.1/jwks",
            "--alg",
            "EdDSA",
            "x.y.z",
        ],
        vec!["--jwks", jwks, "--alg", "EdDSA", "--mode", "jwe", "x.y.z"],
        vec!["--jwks", jwks, "--alg", "EdDSA", "--leeway", "-1", "x.y.z"],
        vec!["--jwks", jwks, "--alg", "EdDSA", "--bogus", "x.y.z"],
        vec![
            "--jwks-url",
            "http://127.0.0.1:1/jwks",
            "--jwks-timeout",
            "-1",
            "--alg",
            "EdDSA",
            "x.y.z",
        ],
        vec!["--jwks", jwks, "--alg", "EdDSA", "--batch", "x.y.z"],
    ];
    for args in cases {
        let run = verify(&args, "", LIMIT);
        assert_eq!(run.code, 2, "{args:?}: {run:?}");
        assert!(run.stdout.is_empty(), "{args:?}");
        assert_eq!(run.error()["error"], "usage", "{args:?}");
    }
    // --help is not an error.
    let run = verify(&["--help"], "", LIMIT);
    assert_eq!(run.code, 0);
    assert!(run.stdout.contains("--jwks-url"));
}

#[test]
fn output_to_a_closed_pipe_and_unreadable_stdin() {
    use std::process::Stdio;
    let f = fixture();
    let now = NOW.to_string();
    let token = forge(
        &f.ed,
        &header(&f.ed, json!({})),
        &claims(json!({"aud": null})),
    );
    // The reader is gone before the answer is written: the verdict stands, no panic.
    let mut child = crate::sigil()
        .args([
            "token",
            "verify",
            "--jwks",
            f.jwks.to_str().unwrap(),
            "--alg",
            "EdDSA",
            "--now",
            &now,
            &token,
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Batch input that cannot be read (a directory): not taken for the end of input.
    let out = crate::sigil()
        .args([
            "token",
            "verify",
            "--batch",
            "--jwks",
            f.jwks.to_str().unwrap(),
            "--alg",
            "EdDSA",
        ])
        .stdin(std::fs::File::open("/").unwrap())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err: Value = serde_json::from_slice(&out.stderr).unwrap();
    assert_eq!(err["error"], "usage");
}

/// A JWK without `alg`, as Microsoft Entra ID publishes its keys (and RFC 7515 A.2 shows them).
fn without_alg(key: &KeyPair) -> Value {
    let mut jwk = key.public_key().to_jwk();
    jwk.as_object_mut().unwrap().remove("alg");
    jwk["x5t"] = json!("Y2VydGlmaWNhdGUgdGh1bWJwcmludA");
    jwk
}

#[test]
fn a_jwks_without_alg_verifies_what_its_keys_fit() {
    let f = fixture();
    let now = NOW.to_string();
    let set = json!({"keys": [without_alg(&f.rs), without_alg(&f.es)]});
    let file = f.jwks.with_file_name("no-alg.json");
    std::fs::write(&file, set.to_string()).unwrap();
    let file = file.to_str().unwrap();
    let body = claims(json!({"aud": null}));
    let rs256 = forge(&f.rs, &header(&f.rs, json!({})), &body);
    let pss = KeyPair::from_pkcs8_der(&f.rs.to_pkcs8_der().unwrap(), Alg::PS256).unwrap();
    let ps256 = forge(&pss, &header(&f.rs, json!({"alg": "PS256"})), &body);
    let es256 = forge(&f.es, &header(&f.es, json!({})), &body);
    // Single tokens: the RSA key serves RS256 and PS256, the EC key ES256.
    for (token, alg) in [(&rs256, "RS256"), (&ps256, "PS256"), (&es256, "ES256")] {
        let run = verify(
            &["--jwks", file, "--alg", alg, "--now", &now, token],
            "",
            LIMIT,
        );
        assert_eq!(run.code, 0, "{alg}: {run:?}");
        assert_eq!(run.output()["sub"], "u1");
    }
    // The RSA key's kid under an ES256 header, signed by the EC key: refused.
    let confused = forge(
        &f.es,
        &serde_json::to_vec(&json!({"alg": "ES256", "kid": f.rs.kid().unwrap()})).unwrap(),
        &body,
    );
    let run = verify(
        &[
            "--jwks",
            file,
            "--alg",
            "ES256,RS256",
            "--now",
            &now,
            &confused,
        ],
        "",
        LIMIT,
    );
    assert_eq!(
        (run.code, run.error()["error"].clone()),
        (1, json!("alg_not_allowed"))
    );
    // --batch, with the file as flag and the set inline.
    let lines = [
        json!({"id": 1, "token": rs256, "now": NOW}),
        json!({"id": 2, "token": ps256, "now": NOW, "alg": "PS256"}),
        json!({"id": 3, "token": rs256, "now": NOW, "jwks": set}),
        json!({"id": 4, "token": es256, "now": NOW, "jwks": set, "alg": ["ES256"]}),
        json!({"id": 5, "token": ps256, "now": NOW, "jwks": set, "alg": "RS256"}),
    ];
    let input: String = lines.iter().map(|l| format!("{l}\n")).collect();
    let run = verify(&["--batch", "--jwks", file, "--alg", "RS256"], input, LIMIT);
    assert_eq!(run.code, 0, "{run:?}");
    let answers: Vec<Value> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(answers.len(), 5, "{run:?}");
    for answer in &answers[..4] {
        assert_eq!(answer["ok"], true, "{answer}");
        assert_eq!(answer["claims"]["sub"], "u1", "{answer}");
    }
    assert_eq!(
        answers[4],
        json!({"id": 5, "ok": false, "error": "alg_not_allowed"})
    );
    // Still refused in such a set: a weak RSA key, or one for encryption.
    let n = sigil_jose::b64::decode(without_alg(&f.rs)["n"].as_str().unwrap()).unwrap();
    let mut weak = without_alg(&f.rs);
    weak["n"] = json!(b64(&n[..128]));
    let mut enc = without_alg(&f.rs);
    enc["use"] = json!("enc");
    for bad in [weak, enc] {
        let doc = json!({"keys": [bad]}).to_string();
        let file = f.jwks.with_file_name("bad-no-alg.json");
        std::fs::write(&file, doc).unwrap();
        let run = verify(
            &["--jwks", file.to_str().unwrap(), "--alg", "RS256", &rs256],
            "",
            LIMIT,
        );
        assert_eq!(
            (run.code, run.error()["error"].clone()),
            (2, json!("usage"))
        );
    }
}

#[test]
fn tokens_are_taken_exactly_as_given() {
    let f = fixture();
    let now = NOW.to_string();
    let jwks = f.jwks.to_str().unwrap();
    let good = forge(
        &f.ed,
        &header(&f.ed, json!({})),
        &claims(json!({"aud": null})),
    );
    let run_with = |token: &str, stdin: &str| {
        verify(
            &["--jwks", jwks, "--alg", "EdDSA", "--now", &now, token],
            stdin,
            LIMIT,
        )
    };
    // As an argument: nothing is stripped.
    assert_eq!(run_with(&good, "").code, 0);
    for bad in [
        format!(" {good}"),
        format!("{good}\n"),
        format!("{good} "),
        format!("\t{good}"),
        format!("{good}\r\n"),
    ] {
        let run = run_with(&bad, "");
        assert_eq!(
            (run.code, run.error()["error"].clone()),
            (1, json!("malformed")),
            "{bad:?}: {run:?}"
        );
    }
    // On stdin: one trailing newline ends the line; nothing else is stripped.
    for ok in [format!("{good}\n"), format!("{good}\r\n"), good.clone()] {
        let run = run_with("-", &ok);
        assert_eq!(run.code, 0, "{ok:?}: {run:?}");
    }
    for bad in [
        format!(" {good}\n"),
        format!("{good}\n\n"),
        format!("{good} \n"),
        format!("{good}\r"),
        format!("\n{good}"),
        format!("{good}\n\r\n"),
    ] {
        let run = run_with("-", &bad);
        assert_eq!(
            (run.code, run.error()["error"].clone()),
            (1, json!("malformed")),
            "{bad:?}: {run:?}"
        );
    }
    // As a --batch token value: nothing is stripped.
    let lines = [
        json!({"id": 1, "token": good}),
        json!({"id": 2, "token": format!(" {good}")}),
        json!({"id": 3, "token": format!("{good}\n")}),
        json!({"id": 4, "token": format!("{good}\r\n")}),
        json!({"id": 5, "token": format!("{good} ")}),
    ];
    let input: String = lines.iter().map(|l| format!("{l}\n")).collect();
    let run = verify(
        &["--batch", "--jwks", jwks, "--alg", "EdDSA", "--now", &now],
        input,
        LIMIT,
    );
    let answers: Vec<Value> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(answers.len(), 5, "{run:?}");
    assert_eq!(answers[0]["ok"], true, "{run:?}");
    for (i, answer) in answers.iter().enumerate().skip(1) {
        assert_eq!(
            *answer,
            json!({"id": i + 1, "ok": false, "error": "malformed"})
        );
    }
}

#[test]
fn accepted_claims_are_printed_as_signed() {
    let f = fixture();
    let jwks = f.jwks.to_str().unwrap();
    // Fractional times, a number beyond 64 bits, a decimal written with a trailing zero, and the
    // whitespace of RFC 7515 A.2's payload: printed exactly as signed, on one line.
    let payload = "{\"sub\":\"u1\",\r\n \"exp\":1800000600.5,\"nbf\":1800000000.25,\
                   \"iat\":1799999999.75,\"big\":123456789012345678901234567890,\
                   \"ratio\":0.50,\"nested\":{\"t\": [1.0, 2e3]}}";
    let printed = "{\"sub\":\"u1\",\"exp\":1800000600.5,\"nbf\":1800000000.25,\
                   \"iat\":1799999999.75,\"big\":123456789012345678901234567890,\
                   \"ratio\":0.50,\"nested\":{\"t\":[1.0,2e3]}}";
    let token = forge(&f.ed, &header(&f.ed, json!({})), payload.as_bytes());
    let run = verify(
        &[
            "--jwks",
            jwks,
            "--alg",
            "EdDSA",
            "--now",
            "1800000300",
            &token,
        ],
        "",
        LIMIT,
    );
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(run.stdout, format!("{printed}\n"));
    // The times are still judged (rounded strictly): expired at 1800000600, not yet valid at
    // 1800000000.
    for (now, code) in [("1800000600", "expired"), ("1800000000", "not_yet_valid")] {
        let run = verify(
            &["--jwks", jwks, "--alg", "EdDSA", "--now", now, &token],
            "",
            LIMIT,
        );
        assert_eq!((run.code, run.error()["error"].clone()), (1, json!(code)));
    }
    // --batch prints the same claims.
    let line = json!({"id": 7, "token": token, "now": 1_800_000_300});
    let run = verify(
        &["--batch", "--jwks", jwks, "--alg", "EdDSA"],
        format!("{line}\n"),
        LIMIT,
    );
    assert_eq!(
        run.stdout,
        format!("{{\"id\":7,\"ok\":true,\"claims\":{printed}}}\n")
    );
}
