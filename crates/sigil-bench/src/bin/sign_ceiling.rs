//! The raw signing ceiling of the load benchmark, per algorithm: aws-lc-rs signing a JWT-sized
//! input with a freshly generated key (Ed25519, P-256, RSA-2048 PKCS#1 v1.5 SHA-256), timed on
//! one thread; the ceiling is cores / time per signature.
//!
//! `sigil-sign-ceiling [ITERATIONS]` (default 2000; RSA a tenth of that) prints tab-separated
//! lines `sign_us <alg> <median µs>` and `sign_ceiling_per_s <alg> <cores / seconds per sign>`.

use std::time::Instant;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, RSA_PKCS1_SHA256,
};

/// Times `sign` in batches of `per_batch` calls, `batches` times, and returns the median µs per call.
fn median_us(
    batches: usize,
    per_batch: usize,
    mut sign: impl FnMut() -> anyhow::Result<()>,
) -> anyhow::Result<f64> {
    sign()?;
    let mut each = Vec::with_capacity(batches);
    for _ in 0..batches {
        let start = Instant::now();
        for _ in 0..per_batch {
            sign()?;
        }
        each.push(start.elapsed().as_secs_f64() * 1e6 / per_batch as f64);
    }
    each.sort_by(f64::total_cmp);
    Ok(each[each.len() / 2])
}

fn main() -> anyhow::Result<()> {
    let iterations: usize = match std::env::args().nth(1) {
        Some(n) => n.parse()?,
        None => 2000,
    };
    anyhow::ensure!(iterations >= 10, "ITERATIONS must be at least 10");
    let fail = |what: &str| anyhow::anyhow!("{what} failed");
    // A JWT's signing input is a few hundred bytes: header and claims, base64url-encoded.
    let input = vec![b'e'; 400];
    let rng = SystemRandom::new();

    let ed = Ed25519KeyPair::generate().map_err(|_| fail("Ed25519 key generation"))?;
    let ec = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
        .map_err(|_| fail("P-256 key generation"))?;
    let rsa = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
        .map_err(|_| fail("RSA key generation"))?;
    let mut rsa_signature = vec![0u8; rsa.public_modulus_len()];

    let batches = 10;
    let results = [
        (
            "EdDSA",
            median_us(batches, iterations / batches, || {
                std::hint::black_box(ed.sign(&input));
                Ok(())
            })?,
        ),
        (
            "ES256",
            median_us(batches, iterations / batches, || {
                std::hint::black_box(ec.sign(&rng, &input).map_err(|_| fail("P-256 signing"))?);
                Ok(())
            })?,
        ),
        (
            "RS256",
            median_us(batches, (iterations / batches / 10).max(1), || {
                rsa.sign(&RSA_PKCS1_SHA256, &rng, &input, &mut rsa_signature)
                    .map_err(|_| fail("RSA signing"))?;
                std::hint::black_box(&rsa_signature);
                Ok(())
            })?,
        ),
    ];
    let cores = std::thread::available_parallelism()?.get();
    for (alg, us) in results {
        println!("sign_us\t{alg}\t{us:.1}");
        println!("sign_ceiling_per_s\t{alg}\t{:.0}", cores as f64 * 1e6 / us);
    }
    Ok(())
}
