//! Sign and verify of a realistic JWT (header with kid, 12 claims) per algorithm, through
//! sigil-jose, through raw aws-lc-rs (the same primitive on the same bytes, keys pre-parsed), and
//! through jsonwebtoken 10 (aws_lc_rs backend) where it supports the algorithm.
//!
//! Run: `bash bench/jose-bench.sh` (several rounds, median ratios; see BENCHMARKS.md).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::hint::black_box;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self, EcdsaKeyPair, Ed25519KeyPair, RsaKeyPair};
use criterion::{Criterion, criterion_group, criterion_main};
use sigil_jose::{Alg, JwkSet, KeyPair, Validation, b64, sign_jwt, verify_jwt};

mod common;
use common::{
    Claims, ISS, NOW, claims, fresh_claims, jsonwebtoken_keys, jsonwebtoken_validation,
    raw_verifier,
};

enum RawSigner {
    Ed(Ed25519KeyPair),
    Ec(EcdsaKeyPair),
    Rsa(RsaKeyPair, &'static dyn signature::RsaEncoding),
}

impl RawSigner {
    fn new(key: &KeyPair) -> Self {
        let der = key.to_pkcs8_der().unwrap();
        match key.alg() {
            Alg::EdDSA => RawSigner::Ed(Ed25519KeyPair::from_pkcs8(&der).unwrap()),
            Alg::ES256 => RawSigner::Ec(
                EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, &der)
                    .unwrap(),
            ),
            Alg::ES512 => RawSigner::Ec(
                EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P521_SHA512_FIXED_SIGNING, &der)
                    .unwrap(),
            ),
            Alg::RS256 => RawSigner::Rsa(
                RsaKeyPair::from_pkcs8(&der).unwrap(),
                &signature::RSA_PKCS1_SHA256,
            ),
            Alg::PS256 => RawSigner::Rsa(
                RsaKeyPair::from_pkcs8(&der).unwrap(),
                &signature::RSA_PSS_SHA256,
            ),
            _ => unreachable!(),
        }
    }

    fn sign(&self, msg: &[u8]) -> Vec<u8> {
        match self {
            RawSigner::Ed(k) => k.sign(msg).as_ref().to_vec(),
            RawSigner::Ec(k) => k.sign(&SystemRandom::new(), msg).unwrap().as_ref().to_vec(),
            RawSigner::Rsa(k, enc) => {
                let mut out = vec![0; k.public_modulus_len()];
                k.sign(*enc, &SystemRandom::new(), msg, &mut out).unwrap();
                out
            }
        }
    }
}

fn bench(c: &mut Criterion) {
    let claims = claims();
    for alg in Alg::SIGNING {
        let key = KeyPair::generate(alg).unwrap();
        let kid = key.kid().unwrap().to_owned();
        let set = JwkSet::new(vec![key.public_key().clone()]).unwrap();
        let validation = Validation::new([alg]).issuer(ISS).audience(ISS);
        let token = sign_jwt(&key, &claims).unwrap();
        let (input, sig_b64) = token.rsplit_once('.').unwrap();
        let signature = b64::decode(sig_b64).unwrap();
        let raw_signer = RawSigner::new(&key);
        let raw_public = raw_verifier(&key);

        let mut sign = c.benchmark_group(format!("sign/{alg}"));
        sign.bench_function("sigil-jose", |b| {
            b.iter(|| sign_jwt(&key, black_box(&claims)).unwrap())
        });
        sign.bench_function("aws-lc-rs raw", |b| {
            b.iter(|| raw_signer.sign(black_box(input.as_bytes())))
        });
        let jwt_keys = jsonwebtoken_keys(&key);
        if let Some((jalg, encoding, _)) = &jwt_keys {
            let mut header = jsonwebtoken::Header::new(*jalg);
            header.kid = Some(kid.clone());
            sign.bench_function("jsonwebtoken", |b| {
                b.iter(|| jsonwebtoken::encode(&header, black_box(&claims), encoding).unwrap())
            });
        }
        sign.finish();

        let mut verify = c.benchmark_group(format!("verify/{alg}"));
        verify.bench_function("sigil-jose", |b| {
            b.iter(|| verify_jwt(black_box(&token), &set, &validation, NOW + 1).unwrap())
        });
        verify.bench_function("aws-lc-rs raw", |b| {
            b.iter(|| {
                raw_public
                    .verify_sig(black_box(input.as_bytes()), &signature)
                    .unwrap()
            })
        });
        if let Some((jalg, _, decoding)) = &jwt_keys {
            let v = jsonwebtoken_validation(*jalg);
            let fresh = fresh_claims();
            let jtoken = sign_jwt(&key, &fresh).unwrap();
            verify.bench_function("jsonwebtoken", |b| {
                b.iter(|| jsonwebtoken::decode::<Claims>(black_box(&jtoken), decoding, &v).unwrap())
            });
        }
        verify.finish();
    }
}

criterion_group! {
    name = benches;
    config = common::config();
    targets = bench
}
criterion_main!(benches);
