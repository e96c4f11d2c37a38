//! The attack classes of shared/reference/security.md §1 that apply to a verifier library, each
//! case rejected with the expected error code — next to control cases that must pass, so that
//! every rejection is shown to be for the stated reason.

use std::sync::OnceLock;

use aws_lc_rs::hmac;
use serde_json::{Value, json};
use sigil_jose::{Alg, JwkSet, KeyPair, PublicKey, Validation, b64, sign_jwt, verify_jwt};

use crate::forge;

const NOW: i64 = 1_700_000_000;
const ISS: &str = "https://issuer.example";
const AUD: &str = "api";

struct Keys {
    ed: KeyPair,
    es: KeyPair,
    es512: KeyPair,
    rs: KeyPair,
    ps: KeyPair,
    attacker: KeyPair,
    set: JwkSet,
}

fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let ed = KeyPair::generate(Alg::EdDSA).unwrap();
        let es = KeyPair::generate(Alg::ES256).unwrap();
        let es512 = KeyPair::generate(Alg::ES512).unwrap();
        let rs = KeyPair::generate(Alg::RS256).unwrap();
        let ps = KeyPair::generate(Alg::PS256).unwrap();
        let attacker = KeyPair::generate(Alg::ES256).unwrap();
        let set = JwkSet::new(
            [&ed, &es, &es512, &rs, &ps]
                .iter()
                .map(|k| k.public_key().clone())
                .collect(),
        )
        .unwrap();
        Keys {
            ed,
            es,
            es512,
            rs,
            ps,
            attacker,
            set,
        }
    })
}

fn policy() -> Validation {
    Validation::new(Alg::SIGNING).issuer(ISS).audience(AUD)
}

fn good_claims() -> Value {
    json!({"iss": ISS, "aud": AUD, "sub": "user-1", "iat": NOW - 10, "exp": NOW + 600, "role": "admin"})
}

fn claims_with(changes: Value) -> String {
    let mut c = good_claims();
    for (k, v) in changes.as_object().unwrap() {
        if v.is_null() && k.starts_with('-') {
            c.as_object_mut().unwrap().remove(&k[1..]);
        } else {
            c[k] = v.clone();
        }
    }
    c.to_string()
}

fn header(key: &KeyPair) -> String {
    format!(
        r#"{{"alg":"{}","kid":"{}","typ":"JWT"}}"#,
        key.alg(),
        key.kid().unwrap()
    )
}

fn with_header(key: &KeyPair, extra: &str) -> String {
    let h = header(key);
    format!("{},{extra}}}", &h[..h.len() - 1])
}

fn unsigned(header: &str, payload: &str, sig: &[u8]) -> String {
    format!(
        "{}.{}.{}",
        b64::encode(header.as_bytes()),
        b64::encode(payload.as_bytes()),
        b64::encode(sig)
    )
}

fn hs(alg: &'static str, secret: &[u8], kid: &str) -> String {
    let algorithm = match alg {
        "HS256" => hmac::HMAC_SHA256,
        "HS384" => hmac::HMAC_SHA384,
        _ => hmac::HMAC_SHA512,
    };
    let input = format!(
        "{}.{}",
        b64::encode(format!(r#"{{"alg":"{alg}","kid":"{kid}"}}"#).as_bytes()),
        b64::encode(good_claims().to_string().as_bytes())
    );
    let tag = hmac::sign(&hmac::Key::new(algorithm, secret), input.as_bytes());
    format!("{input}.{}", b64::encode(tag.as_ref()))
}

fn parts(token: &str) -> (String, String, Vec<u8>) {
    let mut it = token.split('.');
    let h = it.next().unwrap().to_owned();
    let p = it.next().unwrap().to_owned();
    let s = b64::decode(it.next().unwrap()).unwrap();
    (h, p, s)
}

fn with_sig(token: &str, sig: &[u8]) -> String {
    let (h, p, _) = parts(token);
    format!("{h}.{p}.{}", b64::encode(sig))
}

/// Big-endian a - b for equal-length numbers (a >= b).
fn be_sub(a: &[u8], b: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; a.len()];
    let mut borrow = 0i16;
    for i in (0..a.len()).rev() {
        let mut d = i16::from(a[i]) - i16::from(b[i]) - borrow;
        borrow = i16::from(d < 0);
        if d < 0 {
            d += 256;
        }
        out[i] = d as u8;
    }
    out
}

/// Little-endian a + b (no overflow for the values used).
fn le_add(a: &[u8], b: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; a.len()];
    let mut carry = 0u16;
    for i in 0..a.len() {
        let s = u16::from(a[i]) + u16::from(b[i]) + carry;
        out[i] = (s & 0xff) as u8;
        carry = s >> 8;
    }
    out
}

fn hexs(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

const P256_N: &str = "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551";
/// Ed25519 group order L, little-endian.
const ED25519_L_LE: &str = "edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010";

fn der_of(rs: &[u8]) -> Vec<u8> {
    let half = rs.len() / 2;
    let int = |x: &[u8]| {
        let mut v: Vec<u8> = x.iter().copied().skip_while(|b| *b == 0).collect();
        if v.first().is_some_and(|b| b & 0x80 != 0) {
            v.insert(0, 0);
        }
        let mut out = vec![0x02, v.len() as u8];
        out.extend(v);
        out
    };
    let mut body = int(&rs[..half]);
    body.extend(int(&rs[half..]));
    let mut out = vec![0x30, body.len() as u8];
    out.extend(body);
    out
}

/// A header whose base64url form has `-` or `_`, given in the standard alphabet (`+`, `/`).
fn std_alphabet_header(key: &KeyPair) -> String {
    // Three `~` in a row put one at a position that encodes to `-` or `_`.
    let encoded = b64::encode(with_header(key, "\"p\":\"~~~\"").as_bytes());
    assert!(encoded.contains(['-', '_']));
    encoded.replace('-', "+").replace('_', "/")
}

struct Case {
    class: &'static str,
    name: String,
    token: String,
    policy: Validation,
    expect: Result<(), &'static str>,
}

fn case(
    class: &'static str,
    name: impl Into<String>,
    token: String,
    expect: Result<(), &'static str>,
) -> Case {
    Case {
        class,
        name: name.into(),
        token,
        policy: policy(),
        expect,
    }
}

fn cases() -> Vec<Case> {
    let k = keys();
    let mut out = Vec::new();
    let good = |key: &KeyPair| sign_jwt(key, &good_claims()).unwrap();
    let claims = good_claims().to_string();

    // Controls: every signing algorithm accepts its own well-formed token.
    for key in [&k.ed, &k.es, &k.es512, &k.rs, &k.ps] {
        out.push(case(
            "control",
            format!("valid {}", key.alg()),
            good(key),
            Ok(()),
        ));
    }

    // alg none, any case, with or without a signature, with a real kid.
    for alg in ["none", "None", "NONE", "nOnE"] {
        out.push(case(
            "alg-none",
            alg,
            unsigned(&format!(r#"{{"alg":"{alg}"}}"#), &claims, b""),
            Err("alg_not_allowed"),
        ));
    }
    let es_sig = parts(&good(&k.es)).2;
    out.push(case(
        "alg-none",
        "none with real kid and signature",
        unsigned(
            &format!(r#"{{"alg":"none","kid":"{}"}}"#, k.es.kid().unwrap()),
            &claims,
            &es_sig,
        ),
        Err("alg_not_allowed"),
    ));

    // Algorithm confusion: public key material as an HMAC secret, and keys used for another alg.
    let es_kid = k.es.kid().unwrap();
    let secrets: Vec<(&str, Vec<u8>)> = vec![
        ("JWK", k.es.public_key().to_jwk().to_string().into_bytes()),
        ("PEM", k.es.public_key().to_spki_pem().unwrap().into_bytes()),
        ("DER", k.es.public_key().to_spki_der().unwrap()),
        ("empty", Vec::new()),
    ];
    for (form, secret) in &secrets {
        for alg in ["HS256", "HS384", "HS512"] {
            out.push(case(
                "alg-confusion",
                format!("{alg} keyed with {form}"),
                hs(alg, secret, es_kid),
                Err("alg_not_allowed"),
            ));
        }
    }
    out.push(case(
        "key-alg-binding",
        "RS256 token under the PS256 key's kid",
        forge(
            &k.rs,
            &format!(r#"{{"alg":"RS256","kid":"{}"}}"#, k.ps.kid().unwrap()),
            &claims,
        ),
        Err("alg_not_allowed"),
    ));
    out.push(case(
        "key-alg-binding",
        "ES256 header on the ES512 key",
        forge(
            &k.es,
            &format!(r#"{{"alg":"ES256","kid":"{}"}}"#, k.es512.kid().unwrap()),
            &claims,
        ),
        Err("alg_not_allowed"),
    ));
    out.push(case(
        "key-alg-binding",
        "EdDSA header, ES256 key and signature",
        forge(
            &k.es,
            &format!(r#"{{"alg":"EdDSA","kid":"{}"}}"#, es_kid),
            &claims,
        ),
        Err("alg_not_allowed"),
    ));
    out.push(Case {
        policy: Validation::new([Alg::EdDSA]).issuer(ISS).audience(AUD),
        ..case(
            "alg-allow-list",
            "valid ES256 token, verifier allows only EdDSA",
            good(&k.es),
            Err("alg_not_allowed"),
        )
    });

    // Keys named or carried by the token are never used.
    let attacker_jwk = k.attacker.public_key().to_jwk().to_string();
    for (member, value) in [
        ("jwk", attacker_jwk.clone()),
        ("jku", "\"http://127.0.0.1:9/jwks.json\"".to_owned()),
        ("x5u", "\"http://127.0.0.1:9/cert.pem\"".to_owned()),
        ("x5c", "[\"MIIBszCCAVmgAwIBAgIUAA==\"]".to_owned()),
    ] {
        let extra = format!("\"{member}\":{value}");
        out.push(case(
            "embedded-key",
            format!("{member} with attacker's own kid"),
            forge(&k.attacker, &with_header(&k.attacker, &extra), &claims),
            Err("no_matching_key"),
        ));
        let h = format!(r#"{{"alg":"ES256","kid":"{es_kid}",{extra}}}"#);
        out.push(case(
            "embedded-key",
            format!("{member} under a trusted kid"),
            forge(&k.attacker, &h, &claims),
            Err("bad_signature"),
        ));
    }

    // kid is an opaque exact-match string.
    for kid in [
        "../../dev/null",
        "' UNION SELECT 'key' --",
        "",
        " ",
        "/etc/passwd",
        "kid\u{0}",
    ] {
        let h = format!(
            r#"{{"alg":"ES256","kid":{}}}"#,
            Value::String(kid.to_owned())
        );
        out.push(case(
            "kid-injection",
            format!("kid {kid:?}"),
            forge(&k.es, &h, &claims),
            Err("no_matching_key"),
        ));
    }
    out.push(case(
        "kid-injection",
        "trusted kid plus a space",
        forge(
            &k.es,
            &format!(r#"{{"alg":"ES256","kid":"{es_kid} "}}"#),
            &claims,
        ),
        Err("no_matching_key"),
    ));
    out.push(case(
        "kid-injection",
        "trusted kid in other case",
        forge(
            &k.es,
            &format!(r#"{{"alg":"ES256","kid":"{}"}}"#, es_kid.to_uppercase()),
            &claims,
        ),
        Err("no_matching_key"),
    ));
    for kid in ["123", "null", "[\"a\"]", "{\"$ne\":1}", "true"] {
        out.push(case(
            "kid-injection",
            format!("kid {kid}"),
            forge(&k.es, &format!(r#"{{"alg":"ES256","kid":{kid}}}"#), &claims),
            Err("malformed"),
        ));
    }

    // crit and extensions.
    for extra in [
        "\"crit\":[\"exp\"],\"exp\":1",
        "\"crit\":[]",
        "\"crit\":\"exp\"",
        "\"crit\":[\"b64\"],\"b64\":false",
        "\"crit\":[\"http://example.com/ext\"],\"http://example.com/ext\":true",
        "\"crit\":[\"alg\"]",
        "\"b64\":false",
        "\"zip\":\"DEF\"",
    ] {
        out.push(case(
            "crit",
            extra,
            forge(&k.es, &with_header(&k.es, extra), &claims),
            Err("crit_unsupported"),
        ));
    }

    // Signature encoding and psychic signatures.
    let es_token = good(&k.es);
    let es512_token = good(&k.es512);
    let n = hexs(P256_N);
    let mut zero_one = vec![0u8; 64];
    zero_one[63] = 1;
    let sig_cases: Vec<(&str, String, Result<(), &'static str>)> = vec![
        (
            "ES256 r=s=0",
            with_sig(&es_token, &[0u8; 64]),
            Err("bad_signature"),
        ),
        (
            "ES256 r=0 s=1",
            with_sig(&es_token, &zero_one),
            Err("bad_signature"),
        ),
        (
            "ES256 r=s=n",
            with_sig(&es_token, &[n.clone(), n.clone()].concat()),
            Err("bad_signature"),
        ),
        (
            "ES512 r=s=0",
            with_sig(&es512_token, &[0u8; 132]),
            Err("bad_signature"),
        ),
        (
            "ES256 DER",
            with_sig(&es_token, &der_of(&es_sig)),
            Err("bad_signature"),
        ),
        (
            "ES256 trailing zero",
            with_sig(&es_token, &[es_sig.clone(), vec![0]].concat()),
            Err("bad_signature"),
        ),
        (
            "ES256 truncated",
            with_sig(&es_token, &es_sig[..63]),
            Err("bad_signature"),
        ),
        (
            "ES256 r and s swapped",
            with_sig(&es_token, &[&es_sig[32..], &es_sig[..32]].concat()),
            Err("bad_signature"),
        ),
        (
            "ES256 zero-padded to 66+66",
            with_sig(
                &es_token,
                &[
                    vec![0; 34],
                    es_sig[..32].to_vec(),
                    vec![0; 34],
                    es_sig[32..].to_vec(),
                ]
                .concat(),
            ),
            Err("bad_signature"),
        ),
        (
            "ES512 130 bytes",
            with_sig(&es512_token, &parts(&es512_token).2[..130]),
            Err("bad_signature"),
        ),
        (
            "empty signature",
            with_sig(&es_token, b""),
            Err("bad_signature"),
        ),
        // ECDSA is malleable by nature: (r, n - s) is valid. Never use signatures as ids.
        (
            "ES256 high-s (documented accept)",
            with_sig(
                &es_token,
                &[es_sig[..32].to_vec(), be_sub(&n, &es_sig[32..])].concat(),
            ),
            Ok(()),
        ),
    ];
    for (name, token, expect) in sig_cases {
        out.push(case("sig-encoding", name, token, expect));
    }
    let ed_token = good(&k.ed);
    let ed_sig = parts(&ed_token).2;
    let s_plus_l = [
        ed_sig[..32].to_vec(),
        le_add(&ed_sig[32..], &hexs(ED25519_L_LE)),
    ]
    .concat();
    out.push(case(
        "malleability",
        "Ed25519 S + L",
        with_sig(&ed_token, &s_plus_l),
        Err("bad_signature"),
    ));
    let rs_token = good(&k.rs);
    let rs_n = b64::decode(k.rs.public_key().to_jwk()["n"].as_str().unwrap()).unwrap();
    let rs_sig = parts(&rs_token).2;
    let mut s_plus_n = vec![0u8; 257];
    let mut carry = 0u16;
    for i in (0..256).rev() {
        let s = u16::from(rs_sig[i]) + u16::from(rs_n[i]) + carry;
        s_plus_n[i + 1] = (s & 0xff) as u8;
        carry = s >> 8;
    }
    s_plus_n[0] = carry as u8;
    out.push(case(
        "malleability",
        "RS256 s + n",
        with_sig(&rs_token, &s_plus_n),
        Err("bad_signature"),
    ));
    out.push(case(
        "malleability",
        "RS256 leading zero",
        with_sig(&rs_token, &[vec![0], rs_sig.clone()].concat()),
        Err("bad_signature"),
    ));

    // Serializations and structure.
    let (h, p, s) = parts(&es_token);
    let s64 = b64::encode(&s);
    out.push(case(
        "json-serialization",
        "flattened JSON",
        json!({"protected": h, "payload": p, "signature": s64}).to_string(),
        Err("malformed"),
    ));
    out.push(case(
        "json-serialization",
        "general JSON",
        json!({"payload": p, "signatures": [{"protected": h, "signature": s64}]}).to_string(),
        Err("malformed"),
    ));
    for (name, token) in [
        ("four segments", format!("{es_token}.")),
        ("two segments", format!("{h}.{p}")),
        ("one segment", h.clone()),
        ("empty", String::new()),
        ("dots only", "..".to_owned()),
        ("JWE-like five segments", format!("{h}.{p}.{s64}.{p}.{s64}")),
    ] {
        out.push(case("structure", name, token, Err("malformed")));
    }

    // Duplicate members, in header and claims, also after unescaping.
    for (name, hdr) in [
        (
            "alg twice",
            format!(r#"{{"alg":"ES256","alg":"none","kid":"{es_kid}"}}"#),
        ),
        (
            "kid twice",
            format!(r#"{{"alg":"ES256","kid":"x","kid":"{es_kid}"}}"#),
        ),
        (
            "escaped alg twice",
            format!(r#"{{"alg":"ES256","a\u006cg":"ES256","kid":"{es_kid}"}}"#),
        ),
    ] {
        out.push(case(
            "duplicate-members",
            name,
            forge(&k.es, &hdr, &claims),
            Err("malformed"),
        ));
    }
    let c = good_claims();
    let dup_sub = format!(
        r#"{{"sub":"admin","sub":"user-1","iss":"{ISS}","aud":"{AUD}","exp":{}}}"#,
        NOW + 60
    );
    let dup_exp = format!(
        r#"{{"iss":"{ISS}","aud":"{AUD}","exp":{},"exp":{}}}"#,
        NOW - 60,
        NOW + 60
    );
    out.push(case(
        "duplicate-members",
        "sub twice",
        forge(&k.es, &header(&k.es), &dup_sub),
        Err("malformed"),
    ));
    out.push(case(
        "duplicate-members",
        "exp twice",
        forge(&k.es, &header(&k.es), &dup_exp),
        Err("malformed"),
    ));
    let _ = c;

    // DoS: size is checked before parsing; deep nesting and many segments are bounded.
    out.push(case(
        "dos",
        "16 KiB + 1",
        format!("{}{}", "a".repeat(16 * 1024 - 1), ".b."),
        Err("too_large"),
    ));
    out.push(case(
        "dos",
        "1 MiB of dots",
        ".".repeat(1 << 20),
        Err("too_large"),
    ));
    out.push(case("dos", "5000 dots", ".".repeat(5000), Err("malformed")));
    let deep_header = format!(
        r#"{{"alg":"ES256","kid":"{es_kid}","x":{}1{}}}"#,
        "[".repeat(5000),
        "]".repeat(5000)
    );
    out.push(case(
        "dos",
        "deeply nested header",
        forge(&k.es, &deep_header, &claims),
        Err("malformed"),
    ));
    let deep_claims = format!(
        r#"{{"exp":{},"x":{}1{}}}"#,
        NOW + 60,
        "{\"a\":".repeat(2000),
        "}".repeat(2000)
    );
    out.push(case(
        "dos",
        "deeply nested claims",
        forge(&k.es, &header(&k.es), &deep_claims),
        Err("malformed"),
    ));
    out.push(Case {
        policy: policy().max_token_bytes(64),
        ..case("dos", "configured limit", good(&k.es), Err("too_large"))
    });

    // Lax base64url.
    let hb = b64::encode(header(&k.es).as_bytes());
    let pb = b64::encode(claims.as_bytes());
    let sig_of = |input: &str| b64::encode(&k.es.sign(input.as_bytes()).unwrap());
    for (name, hh, pp) in [
        ("padded header", format!("{hb}=="), pb.clone()),
        (
            "standard alphabet header",
            std_alphabet_header(&k.es),
            pb.clone(),
        ),
        (
            "header with +",
            format!("{}+{}", &hb[..4], &hb[4..]),
            pb.clone(),
        ),
        (
            "space in payload",
            hb.clone(),
            format!("{} {}", &pb[..4], &pb[4..]),
        ),
        (
            "newline in payload",
            hb.clone(),
            format!("{}\n{}", &pb[..4], &pb[4..]),
        ),
        (
            "payload padded",
            hb.clone(),
            format!("{pb}{}", "=".repeat((4 - pb.len() % 4) % 4 + 4)),
        ),
        (
            "standard alphabet payload",
            hb.clone(),
            pb.replace('-', "+").replace('_', "/") + "/",
        ),
    ] {
        let input = format!("{hh}.{pp}");
        let token = format!("{input}.{}", sig_of(&input));
        out.push(case("base64url", name, token, Err("malformed")));
    }
    // Non-canonical trailing bits: a payload of length ≡ 2 mod 3 ends in a char with 2 spare bits.
    let short = format!(
        r#"{{"iss":"{ISS}","aud":"{AUD}","exp":{},"p":"x"}}"#,
        NOW + 60
    );
    let short = if short.len() % 3 == 2 {
        short
    } else {
        format!("{} ", &short[..short.len() - 1]) + "}"
    };
    let mut pb2 = b64::encode(short.as_bytes());
    if short.len() % 3 != 0 {
        let last = pb2.pop().unwrap();
        let alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let idx = alphabet.find(last).unwrap();
        pb2.push(alphabet.as_bytes()[idx | 1] as char);
    }
    let input = format!("{hb}.{pb2}");
    out.push(case(
        "base64url",
        "non-canonical trailing bits",
        format!("{input}.{}", sig_of(&input)),
        Err("malformed"),
    ));
    out.push(case(
        "base64url",
        "padded signature",
        format!("{}=", good(&k.es).trim_end_matches('=')) + "=",
        Err("malformed"),
    ));

    // Time claims.
    let hdr = header(&k.es);
    for (name, changes, expect) in [
        ("exp == now", json!({"exp": NOW}), Err("expired")),
        ("exp in the past", json!({"exp": NOW - 1}), Err("expired")),
        ("exp negative", json!({"exp": -1}), Err("expired")),
        ("exp far future", json!({"exp": 253_402_300_799i64}), Ok(())),
        ("exp huge float", json!({"exp": 1e300}), Ok(())),
        (
            "exp fractional just after now",
            json!({"exp": NOW as f64 + 0.5}),
            Err("expired"),
        ),
        (
            "exp as string",
            json!({"exp": (NOW + 60).to_string()}),
            Err("claims_invalid"),
        ),
        ("exp null", json!({"exp": null}), Err("claims_invalid")),
        ("exp bool", json!({"exp": true}), Err("claims_invalid")),
        ("exp missing", json!({"-exp": null}), Err("claims_invalid")),
        (
            "nbf in the future",
            json!({"nbf": NOW + 1}),
            Err("not_yet_valid"),
        ),
        ("nbf == now", json!({"nbf": NOW}), Ok(())),
        (
            "nbf as string",
            json!({"nbf": NOW.to_string()}),
            Err("claims_invalid"),
        ),
        (
            "iat in the future",
            json!({"iat": NOW + 1}),
            Err("iat_in_future"),
        ),
        ("iat as array", json!({"iat": [NOW]}), Err("claims_invalid")),
    ] {
        out.push(case(
            "time",
            name,
            forge(&k.es, &hdr, &claims_with(changes)),
            expect,
        ));
    }
    let exp_overflow = format!(r#"{{"iss":"{ISS}","aud":"{AUD}","exp":1e400}}"#);
    out.push(case(
        "time",
        "exp beyond f64",
        forge(&k.es, &hdr, &exp_overflow),
        Err("malformed"),
    ));
    out.push(Case {
        policy: policy().leeway(30),
        ..case(
            "time",
            "expired 10 s ago, leeway 30",
            forge(&k.es, &hdr, &claims_with(json!({"exp": NOW - 10}))),
            Ok(()),
        )
    });
    out.push(Case {
        policy: policy().leeway(30),
        ..case(
            "time",
            "expired 30 s ago, leeway 30",
            forge(&k.es, &hdr, &claims_with(json!({"exp": NOW - 30}))),
            Err("expired"),
        )
    });

    // Issuer and audience.
    for (name, changes, expect) in [
        (
            "aud array containing",
            json!({"aud": ["other", AUD]}),
            Ok(()),
        ),
        ("aud other", json!({"aud": "api2"}), Err("aud_mismatch")),
        ("aud prefix", json!({"aud": "ap"}), Err("aud_mismatch")),
        ("aud empty string", json!({"aud": ""}), Err("aud_mismatch")),
        ("aud empty array", json!({"aud": []}), Err("aud_mismatch")),
        (
            "aud array of empty",
            json!({"aud": [""]}),
            Err("aud_mismatch"),
        ),
        (
            "aud in other case",
            json!({"aud": "API"}),
            Err("aud_mismatch"),
        ),
        ("aud missing", json!({"-aud": null}), Err("aud_mismatch")),
        ("aud number", json!({"aud": 1}), Err("claims_invalid")),
        (
            "aud array with number",
            json!({"aud": [AUD, 1]}),
            Err("claims_invalid"),
        ),
        (
            "aud object",
            json!({"aud": {"api": true}}),
            Err("claims_invalid"),
        ),
        (
            "iss other",
            json!({"iss": "https://evil.example"}),
            Err("iss_mismatch"),
        ),
        (
            "iss trailing slash",
            json!({"iss": format!("{ISS}/")}),
            Err("iss_mismatch"),
        ),
        ("iss missing", json!({"-iss": null}), Err("iss_mismatch")),
        ("iss number", json!({"iss": 7}), Err("claims_invalid")),
        ("sub number", json!({"sub": 7}), Err("claims_invalid")),
    ] {
        out.push(case(
            "iss-aud",
            name,
            forge(&k.es, &hdr, &claims_with(changes)),
            expect,
        ));
    }
    out.push(Case {
        policy: Validation::new(Alg::SIGNING).issuer(ISS),
        ..case(
            "iss-aud",
            "token has aud, verifier expects none",
            good(&k.es),
            Err("aud_mismatch"),
        )
    });

    // Claims that are not a JSON object.
    for (name, payload, expect) in [
        ("array", "[1,2]", "claims_invalid"),
        ("string", "\"claims\"", "claims_invalid"),
        ("null", "null", "claims_invalid"),
        ("number", "1", "claims_invalid"),
        ("not JSON", "claims", "malformed"),
        ("BOM", "\u{feff}{}", "malformed"),
        ("NaN", "{\"exp\":NaN}", "malformed"),
        ("trailing garbage", "{\"exp\":1}x", "malformed"),
        ("two objects", "{}{}", "malformed"),
        ("lone surrogate", "{\"a\":\"\\ud800\"}", "malformed"),
    ] {
        out.push(case(
            "claims",
            name,
            forge(&k.es, &hdr, payload),
            Err(expect),
        ));
    }
    let bad_utf8 = {
        let input = format!("{hb}.{}", b64::encode(b"{\"a\":\"\xff\"}"));
        format!("{input}.{}", sig_of(&input))
    };
    out.push(case("claims", "invalid UTF-8", bad_utf8, Err("malformed")));
    out.push(case(
        "claims",
        "nested JWT (cty)",
        forge(&k.es, &with_header(&k.es, "\"cty\":\"JWT\""), &claims),
        Err("malformed"),
    ));

    // Explicit typing.
    let at = |typ: &str| {
        forge(
            &k.es,
            &format!(r#"{{"alg":"ES256","kid":"{es_kid}","typ":"{typ}"}}"#),
            &claims,
        )
    };
    for (name, token, expect) in [
        (
            "typ JWT where at+jwt expected",
            at("JWT"),
            Err("typ_mismatch"),
        ),
        (
            "typ missing",
            forge(
                &k.es,
                &format!(r#"{{"alg":"ES256","kid":"{es_kid}"}}"#),
                &claims,
            ),
            Err("typ_mismatch"),
        ),
        ("typ application/at+jwt", at("application/at+jwt"), Ok(())),
        ("typ AT+JWT", at("AT+JWT"), Ok(())),
        ("typ at+jwt-x", at("at+jwt-x"), Err("typ_mismatch")),
    ] {
        out.push(Case {
            policy: policy().typ("at+jwt"),
            ..case("typ", name, token, expect)
        });
    }
    out.push(case(
        "typ",
        "typ number",
        forge(
            &k.es,
            &format!(r#"{{"alg":"ES256","kid":"{es_kid}","typ":1}}"#),
            &claims,
        ),
        Err("malformed"),
    ));
    out
}

#[test]
fn attack_table() {
    let k = keys();
    let all = cases();
    let mut failures = Vec::new();
    let mut classes = std::collections::BTreeMap::<&str, usize>::new();
    for c in &all {
        *classes.entry(c.class).or_default() += 1;
        let got = verify_jwt(&c.token, &k.set, &c.policy, NOW)
            .map(|_| ())
            .map_err(|e| e.code());
        if got != c.expect {
            failures.push(format!(
                "[{}] {}: expected {:?}, got {:?}",
                c.class, c.name, c.expect, got
            ));
        }
    }
    println!(
        "attack-table: {} cases in {} classes, {} unexpected",
        all.len(),
        classes.len(),
        failures.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(all.len() > 150);
}

/// Weak and malformed keys are refused when a key set is imported (security.md check 8).
#[test]
fn weak_keys_refused_at_import() {
    let k = keys();
    let rsa = k.rs.public_key().to_jwk();
    let ec = k.es.public_key().to_jwk();
    let n = b64::decode(rsa["n"].as_str().unwrap()).unwrap();
    let set = |entry: Value| json!({"keys": [entry]}).to_string();
    let edit = |base: &Value, key: &str, value: Value| {
        let mut v = base.clone();
        v[key] = value;
        v
    };
    let without_alg = |mut v: Value| {
        v.as_object_mut().unwrap().remove("alg");
        v
    };
    let mut y = b64::decode(ec["y"].as_str().unwrap()).unwrap();
    y[0] ^= 0x40;
    for (name, doc) in [
        (
            "rsa-1024",
            set(edit(&rsa, "n", b64::encode(&n[..128]).into())),
        ),
        ("rsa-e3", set(edit(&rsa, "e", "Aw".into()))),
        ("rsa-e1", set(edit(&rsa, "e", "AQ".into()))),
        (
            "invalid-curve point",
            set(edit(&ec, "y", b64::encode(&y).into())),
        ),
        (
            "coordinate with a dropped leading byte",
            set(edit(
                &ec,
                "x",
                b64::encode(&b64::decode(ec["x"].as_str().unwrap()).unwrap()[1..]).into(),
            )),
        ),
        (
            "crv P-384 on a P-256 point",
            set(edit(&ec, "crv", "P-384".into())),
        ),
        (
            "rsa-1024 without alg",
            set(without_alg(edit(&rsa, "n", b64::encode(&n[..128]).into()))),
        ),
        (
            "rsa-e3 without alg",
            set(without_alg(edit(&rsa, "e", "Aw".into()))),
        ),
        (
            "rsa use enc without alg",
            set(without_alg(edit(&rsa, "use", "enc".into()))),
        ),
        (
            "rsa private member without alg",
            set(without_alg(edit(&rsa, "d", "AAAA".into()))),
        ),
        ("private member", set(edit(&ec, "d", "AAAA".into()))),
        ("use enc", set(edit(&ec, "use", "enc".into()))),
        (
            "key_ops encrypt",
            set(edit(&ec, "key_ops", json!(["encrypt"]))),
        ),
        (
            "symmetric",
            set(json!({"kty": "oct", "k": "c2VjcmV0", "kid": "h"})),
        ),
    ] {
        let err = JwkSet::from_json(doc.as_bytes()).unwrap_err();
        assert_eq!(err.code(), "key_invalid", "{name}: {err}");
    }
    // The untouched keys import fine (controls).
    assert!(PublicKey::from_jwk_value(&rsa).is_ok());
    assert!(PublicKey::from_jwk_value(&ec).is_ok());
}

/// A key published without `alg` (as Microsoft Entra ID publishes its RSA keys) serves the
/// algorithms its type fits and nothing else: the allow-list still comes first, an RSA key never
/// verifies an EC, EdDSA, HMAC or `none` token, and PKCS#1 v1.5 and PSS signatures stay apart.
#[test]
fn keys_without_alg_stay_bound_to_their_type() {
    let k = keys();
    let mut rsa_jwk = k.rs.public_key().to_jwk();
    rsa_jwk.as_object_mut().unwrap().remove("alg");
    rsa_jwk["kid"] = "entra-like".into();
    let doc = json!({"keys": [rsa_jwk, k.es.public_key().to_jwk()]}).to_string();
    let set = match JwkSet::from_json(doc.as_bytes()) {
        Ok(set) => set,
        Err(e) => panic!("a JWKS whose RSA key has no alg was refused: {e}"),
    };
    let pss = KeyPair::from_pkcs8_der(&k.rs.to_pkcs8_der().unwrap(), Alg::PS256).unwrap();
    let claims = good_claims().to_string();
    let signed = |key: &KeyPair, alg: &str| {
        forge(
            key,
            &format!(r#"{{"alg":"{alg}","kid":"entra-like"}}"#),
            &claims,
        )
    };
    let rs256 = signed(&k.rs, "RS256");
    let ps256 = signed(&pss, "PS256");
    let jwk_text = k.rs.public_key().to_jwk().to_string();
    let pem = k.rs.public_key().to_spki_pem().unwrap();
    let cases: Vec<(&str, String, Validation, Result<(), &str>)> = vec![
        ("RS256 by the key", rs256.clone(), policy(), Ok(())),
        ("PS256 by the key", ps256.clone(), policy(), Ok(())),
        (
            "RS256, only PS256 allowed",
            rs256.clone(),
            Validation::new([Alg::PS256]).issuer(ISS).audience(AUD),
            Err("alg_not_allowed"),
        ),
        (
            "PS256, only RS256 allowed",
            ps256.clone(),
            Validation::new([Alg::RS256]).issuer(ISS).audience(AUD),
            Err("alg_not_allowed"),
        ),
        (
            "ES256 token under the RSA kid",
            signed(&k.es, "ES256"),
            policy(),
            Err("alg_not_allowed"),
        ),
        (
            "EdDSA token under the RSA kid",
            signed(&k.ed, "EdDSA"),
            policy(),
            Err("alg_not_allowed"),
        ),
        (
            "PKCS#1 v1.5 signature under a PS256 header",
            signed(&k.rs, "PS256"),
            policy(),
            Err("bad_signature"),
        ),
        (
            "PSS signature under an RS256 header",
            signed(&pss, "RS256"),
            policy(),
            Err("bad_signature"),
        ),
        (
            "RS256 by another RSA key under the kid",
            signed(&KeyPair::generate(Alg::RS256).unwrap(), "RS256"),
            policy(),
            Err("bad_signature"),
        ),
        (
            "none under the RSA kid",
            unsigned(r#"{"alg":"none","kid":"entra-like"}"#, &claims, b""),
            policy(),
            Err("alg_not_allowed"),
        ),
        (
            "HS256 keyed with the RSA JWK",
            hs("HS256", jwk_text.as_bytes(), "entra-like"),
            policy(),
            Err("alg_not_allowed"),
        ),
        (
            "HS256 keyed with the RSA PEM",
            hs("HS256", pem.as_bytes(), "entra-like"),
            policy(),
            Err("alg_not_allowed"),
        ),
    ];
    let mut failures = Vec::new();
    for (name, token, policy, expect) in &cases {
        let got = verify_jwt(token, &set, policy, NOW)
            .map(|_| ())
            .map_err(|e| e.code());
        if got != *expect {
            failures.push(format!("{name}: expected {expect:?}, got {got:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
