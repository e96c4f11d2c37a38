//! RFC 7515/7517/7519/7638/8037 examples, the JOSE cookbook (RFC 7520, RFC 8037 A.4) and the
//! Wycheproof JOSE files, each case judged against Sigil's allow-list.

use serde_json::Value;
use sigil_jose::{Alg, Error, JwkSet, KeyPair, PublicKey, Validation, verify_jws, verify_jwt};

use crate::{ALLOW, Expect, Tally, load_json};

fn raw_policy() -> Validation {
    Validation::new(ALLOW)
}

/// Key set of a Wycheproof group: a single JWK or a JWKS (strictly parsed: a set with private
/// keys or duplicate kids is refused as a whole).
fn wycheproof_keys(group: &Value) -> Result<JwkSet, Error> {
    match group.get("public") {
        None => Ok(JwkSet::default()),
        Some(p) if p.get("keys").is_some() => JwkSet::from_json(p.to_string().as_bytes()),
        Some(jwk) => JwkSet::new(vec![PublicKey::from_jwk_value(jwk)?]),
    }
}

fn header_alg(jws: &str) -> Option<String> {
    let h = jws.split('.').next()?;
    let bytes = sigil_jose::b64::decode(h)?;
    let v: Value = serde_json::from_slice(&bytes).ok()?;
    v.get("alg")?.as_str().map(str::to_owned)
}

/// Cases Sigil rejects although Wycheproof calls them valid, with the rule that decides.
fn deliberate_rejection(file: &str, tc: u64) -> Option<&'static str> {
    match (file, tc) {
        // The RFC 7520 P-521 key carries `"alg": "ES521"`, which is not a registered algorithm.
        // Sigil refuses a JWK whose `alg` it does not know instead of guessing from the curve.
        ("json_web_signature_test.json", 347 | 351) => Some("JWK alg ES521 is not registered"),
        _ => None,
    }
}

fn run_wycheproof(file: &'static str, tally: &mut Tally) {
    let doc = load_json(&format!("wycheproof-jose/{file}"));
    for group in doc["testGroups"].as_array().unwrap() {
        let keys = wycheproof_keys(group);
        for test in group["tests"].as_array().unwrap() {
            let Some(jws_value) = test.get("jws") else {
                continue; // JWE cases: not relevant to a signature library.
            };
            let tc = test["tcId"].as_u64().unwrap();
            let valid = test["result"] == "valid";
            // JSON serialization arrives as an object: give the verifier its text.
            let token = match jws_value {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let allowed = header_alg(&token)
                .and_then(|a| a.parse::<Alg>().ok())
                .is_some_and(|a| ALLOW.contains(&a));
            let expect = if valid && allowed && deliberate_rejection(file, tc).is_none() {
                Expect::Accept
            } else {
                Expect::Reject
            };
            let outcome = match &keys {
                Ok(keys) => verify_jws(&token, keys, &raw_policy())
                    .map(|_| ())
                    .map_err(|e| e.code().to_owned()),
                Err(e) => Err(format!("key set refused: {}", e.code())),
            };
            tally.record(
                format!("{file} tc {tc} ({})", test["comment"]),
                expect,
                outcome,
            );
        }
    }
}

#[test]
fn wycheproof_jose() {
    let mut tally = Tally::new("wycheproof-jose");
    run_wycheproof("json_web_signature_test.json", &mut tally);
    run_wycheproof("json_web_key_test.json", &mut tally);
    run_wycheproof("json_web_crypto_test.json", &mut tally);
    tally.finish(401 + 26 + 49);
}

fn rfc_alg(entry: &Value) -> Option<Alg> {
    entry["alg"].as_str().and_then(|a| a.parse().ok())
}

fn public_of(jwk: &Value, alg: Alg) -> Result<PublicKey, Error> {
    let mut map = jwk.as_object().unwrap().clone();
    for private in ["d", "p", "q", "dp", "dq", "qi"] {
        map.remove(private);
    }
    PublicKey::from_jwk_value_for(&Value::Object(map), alg)
}

#[test]
fn rfc_examples() {
    let doc = load_json("rfc/rfc-examples.json");
    let mut tally = Tally::new("rfc-examples");
    let code = |r: Result<(), Error>| r.map_err(|e| e.code().to_owned());

    for entry in doc["jws"].as_array().unwrap() {
        let id = entry["id"].as_str().unwrap();
        let token = entry["compact"].as_str().unwrap();
        let Some(alg) = rfc_alg(entry).filter(|a| ALLOW.contains(a)) else {
            // HS256 and none: refused whatever the keys.
            let keys = JwkSet::default();
            let out = verify_jws(token, &keys, &raw_policy()).map(|_| ());
            assert_eq!(out.as_ref().unwrap_err().code(), "alg_not_allowed", "{id}");
            tally.record(id, Expect::Reject, code(out));
            continue;
        };
        let key = public_of(&entry["jwk"], alg).unwrap();
        let keys = JwkSet::new(vec![key]).unwrap();
        tally.record(
            format!("{id} raw"),
            Expect::Accept,
            code(verify_jws(token, &keys, &raw_policy()).map(|_| ())),
        );
        let payload = sigil_jose::b64::decode(token.split('.').nth(1).unwrap()).unwrap();
        if payload.starts_with(b"{") {
            // RFC 7515 A.2/A.3: exp = 1300819380.
            tally.record(
                format!("{id} jwt before exp"),
                Expect::Accept,
                code(verify_jwt(token, &keys, &raw_policy(), 1_300_819_379).map(|_| ())),
            );
            let expired = verify_jwt(token, &keys, &raw_policy(), 1_300_819_380).map(|_| ());
            assert_eq!(expired.as_ref().unwrap_err().code(), "expired", "{id}");
            tally.record(format!("{id} jwt at exp"), Expect::Reject, code(expired));
        } else {
            let not_claims = verify_jwt(token, &keys, &raw_policy(), 0).map(|_| ());
            assert_eq!(not_claims.as_ref().unwrap_err().code(), "malformed", "{id}");
            tally.record(format!("{id} jwt"), Expect::Reject, code(not_claims));
        }
        if entry["deterministic"] == true {
            // RS256 and Ed25519 are deterministic: re-signing must give the same token.
            let pair = KeyPair::from_jwk_value(&entry["jwk"], Some(alg)).unwrap();
            let input = token.rsplit_once('.').unwrap().0;
            let sig = sigil_jose::b64::encode(&pair.sign(input.as_bytes()).unwrap());
            let same = if format!("{input}.{sig}") == token {
                Ok(())
            } else {
                Err("re-signed token differs".to_owned())
            };
            tally.record(format!("{id} re-sign"), Expect::Accept, same);
        }
    }
    for entry in doc["jws_json"].as_array().unwrap() {
        let id = entry["id"].as_str().unwrap();
        let text = match &entry["json"] {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let out = verify_jws(&text, &JwkSet::default(), &raw_policy()).map(|_| ());
        assert_eq!(out.as_ref().unwrap_err().code(), "malformed", "{id}");
        tally.record(id, Expect::Reject, code(out));
    }
    for entry in doc["jwk"].as_array().unwrap() {
        let id = entry["id"].as_str().unwrap();
        let jwk = &entry["jwk"];
        let expect = match id {
            "rfc7517-A.1-ec" => Expect::Reject,         // use = enc
            "rfc7517-A.2-ec-private" => Expect::Reject, // private member
            _ => Expect::Accept,
        };
        let alg = if jwk["kty"] == "RSA" {
            Some(Alg::RS256)
        } else {
            None
        };
        let out = match alg {
            Some(a) => PublicKey::from_jwk_value_for(jwk, a),
            None => PublicKey::from_jwk_value(jwk),
        };
        tally.record(id, expect, out.map(|_| ()).map_err(|e| e.code().to_owned()));
    }
    for entry in doc["thumbprints"].as_array().unwrap() {
        let id = entry["id"].as_str().unwrap();
        let reference = entry["jwk_ref"].as_str().unwrap();
        let jwk = doc["jwk"]
            .as_array()
            .unwrap()
            .iter()
            .chain(doc["jws"].as_array().unwrap())
            .find(|e| e["id"] == reference)
            .map(|e| e["jwk"].clone())
            .unwrap();
        let alg = if jwk["kty"] == "RSA" {
            Alg::RS256
        } else {
            Alg::EdDSA
        };
        let got = public_of(&jwk, alg).unwrap().thumbprint();
        let want = entry["thumbprint"].as_str().unwrap();
        tally.record(
            id,
            Expect::Accept,
            if got == want { Ok(()) } else { Err(got) },
        );
    }
    tally.finish(20);
}

#[test]
fn jose_cookbook() {
    let mut tally = Tally::new("jose-cookbook");
    let dir = crate::vectors_dir().join("jose-cookbook");
    let mut files: Vec<_> = ["jws", "curve25519"]
        .iter()
        .flat_map(|d| std::fs::read_dir(dir.join(d)).unwrap())
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    for path in files {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let doc: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let jwk = &doc["input"]["key"];
        let alg = doc["input"]["alg"]
            .as_str()
            .and_then(|a| a.parse::<Alg>().ok());
        let keys = alg
            .filter(|a| ALLOW.contains(a))
            .and_then(|a| public_of(jwk, a).ok())
            .map(|k| JwkSet::new(vec![k]).unwrap())
            .unwrap_or_default();
        match doc["output"].get("compact").and_then(Value::as_str) {
            Some(token) => {
                // Detached content (4.5) leaves the payload segment empty: not verifiable alone.
                let expect = match (alg, name.as_str()) {
                    (_, n) if n.starts_with("4_5") => Expect::Reject,
                    (Some(a), _) if ALLOW.contains(&a) => Expect::Accept,
                    _ => Expect::Reject,
                };
                let out = verify_jws(token, &keys, &raw_policy())
                    .map(|v| {
                        assert_eq!(
                            v.payload,
                            doc["input"]["payload"].as_str().unwrap().as_bytes()
                        );
                    })
                    .map_err(|e| e.code().to_owned());
                tally.record(format!("{name} compact"), expect, out);
                if expect == Expect::Accept && doc["reproducible"] == true {
                    let pair = KeyPair::from_jwk_value(jwk, alg).unwrap();
                    let input = token.rsplit_once('.').unwrap().0;
                    let sig = sigil_jose::b64::encode(&pair.sign(input.as_bytes()).unwrap());
                    let same = (format!("{input}.{sig}") == token)
                        .then_some(())
                        .ok_or_else(|| "re-signed token differs".to_owned());
                    tally.record(format!("{name} re-sign"), Expect::Accept, same);
                }
            }
            None => {
                // JSON-serialization-only examples: a compact-only verifier refuses them.
                for form in ["json", "json_flat"] {
                    if let Some(json) = doc["output"].get(form) {
                        let out = verify_jws(&json.to_string(), &keys, &raw_policy())
                            .map(|_| ())
                            .map_err(|e| e.code().to_owned());
                        tally.record(format!("{name} {form}"), Expect::Reject, out);
                    }
                }
            }
        }
    }
    for (file, expect) in [
        ("3_1.ec_public_key.json", Expect::Accept),
        ("3_2.ec_private_key.json", Expect::Reject), // private members where a public key is due
        ("3_3.rsa_public_key.json", Expect::Accept),
        ("3_4.rsa_private_key.json", Expect::Reject),
        ("3_5.symmetric_key_mac_computation.json", Expect::Reject),
    ] {
        let jwk: Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("jwk").join(file)).unwrap())
                .unwrap();
        let out = if jwk["kty"] == "RSA" {
            PublicKey::from_jwk_value_for(&jwk, Alg::RS256)
        } else {
            PublicKey::from_jwk_value(&jwk)
        };
        tally.record(
            file,
            expect,
            out.map(|_| ()).map_err(|e| e.code().to_owned()),
        );
        if file.contains("private") {
            let alg = if jwk["kty"] == "RSA" {
                Some(Alg::RS256)
            } else {
                None
            };
            let pair = KeyPair::from_jwk_value(&jwk, alg)
                .map(|_| ())
                .map_err(|e| e.to_string());
            tally.record(format!("{file} as key pair"), Expect::Accept, pair);
        }
    }
    tally.finish(14);
}

/// The public members of a JWK, as a one-key JWKS document (no `alg` is added).
fn jwks_of_public(jwk: &Value) -> String {
    let mut map = jwk.as_object().unwrap().clone();
    for private in ["d", "p", "q", "dp", "dq", "qi"] {
        map.remove(private);
    }
    serde_json::json!({ "keys": [map] }).to_string()
}

/// Published keys without `alg` (RFC 7515 A.2, RFC 7520 §3.1/§3.3, and every key Microsoft Entra
/// ID publishes): the set is accepted, and a key verifies the allowed algorithms its type fits.
#[test]
fn jwks_without_alg() {
    let mut tally = Tally::new("jwks-without-alg");
    let code = |r: Result<(), Error>| r.map_err(|e| e.code().to_owned());

    let doc = load_json("rfc/rfc-examples.json");
    let a2 = doc["jws"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == "rfc7515-A.2")
        .unwrap();
    assert!(a2["jwk"].get("alg").is_none());
    let token = a2["compact"].as_str().unwrap();
    let keys = JwkSet::from_json(jwks_of_public(&a2["jwk"]).as_bytes());
    let outcome = |policy: Validation, now: i64| match &keys {
        Ok(keys) => code(verify_jwt(token, keys, &policy, now).map(|_| ())),
        Err(e) => Err(format!("key set refused: {}", e.code())),
    };
    tally.record(
        "rfc7515-A.2 RS256",
        Expect::Accept,
        outcome(raw_policy(), 1_300_819_379),
    );
    let only_ps = outcome(Validation::new([Alg::PS256]), 1_300_819_379);
    tally.record(
        "rfc7515-A.2 RS256, only PS256 allowed",
        Expect::Reject,
        only_ps.clone(),
    );
    assert_eq!(only_ps, Err("alg_not_allowed".to_owned()));

    // RFC 7520: one RSA key (no `alg`) signs 4.1 with RS256 and 4.2 with PS384; one P-521 key
    // (no `alg`) signs 4.3 with ES512.
    let dir = crate::vectors_dir().join("jose-cookbook");
    let read = |path: &str| -> Value {
        serde_json::from_str(&std::fs::read_to_string(dir.join(path)).unwrap()).unwrap()
    };
    let rsa = read("jwk/3_3.rsa_public_key.json");
    let ec = read("jwk/3_1.ec_public_key.json");
    assert!(rsa.get("alg").is_none() && ec.get("alg").is_none());
    // Both keys carry the kid "bilbo.baggins@hobbiton.example"; no algorithm fits both, so the
    // kid and the token's alg name one key.
    let set = JwkSet::from_json(format!(r#"{{"keys":[{rsa},{ec}]}}"#).as_bytes());
    for example in [
        "4_1.rsa_v15_signature.json",
        "4_2.rsa-pss_signature.json",
        "4_3.ecdsa_signature.json",
    ] {
        let vector = read(&format!("jws/{example}"));
        let token = vector["output"]["compact"].as_str().unwrap();
        let out = match &set {
            Ok(keys) => code(verify_jws(token, keys, &Validation::new(Alg::ALL)).map(|_| ())),
            Err(e) => Err(format!("key set refused: {}", e.code())),
        };
        tally.record(example, Expect::Accept, out);
    }
    // The RSA key never verifies the ES512 token, nor the EC key the RS256 one.
    for (key, example) in [
        (&rsa, "4_3.ecdsa_signature.json"),
        (&ec, "4_1.rsa_v15_signature.json"),
    ] {
        let vector = read(&format!("jws/{example}"));
        let token = vector["output"]["compact"].as_str().unwrap();
        let out = match JwkSet::from_json(format!(r#"{{"keys":[{key}]}}"#).as_bytes()) {
            Ok(keys) => code(verify_jws(token, &keys, &Validation::new(Alg::ALL)).map(|_| ())),
            Err(e) => Err(format!("key set refused: {}", e.code())),
        };
        tally.record(
            format!("{example}, key of another type"),
            Expect::Reject,
            out,
        );
    }
    tally.finish(7);
}
