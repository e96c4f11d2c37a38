//! Verification through `sigil_verify::Verifier` with a warm remote JWKS cache, per algorithm,
//! against raw aws-lc-rs on the same bytes and jsonwebtoken 10 with the same key; and the axum
//! layer's cost on a route, against the same route without it.
//!
//! Run: `bash bench/verify-bench.sh` (several rounds, median ratios; see BENCHMARKS.md).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::hint::black_box;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, header};
use axum::routing::get;
use criterion::{Criterion, criterion_group, criterion_main};
use futures_util::FutureExt;
use sigil_jose::{Alg, JwkSet, KeyPair, b64, sign_jwt};
use sigil_verify::axum::{Claims as Verified, VerifyLayer};
use sigil_verify::{RemoteJwks, Verifier};
use tower::ServiceExt;

#[path = "../../sigil-jose/benches/common/mod.rs"]
mod common;
use common::{Claims, ISS, fresh_claims, jsonwebtoken_keys, jsonwebtoken_validation, raw_verifier};

/// Serves `set` on a loopback port; answers the JWKS URL.
fn serve_jwks(rt: &tokio::runtime::Runtime, set: &JwkSet) -> String {
    let body = set.to_json();
    rt.block_on(async move {
        let app = Router::new().route(
            "/jwks",
            get(move || {
                let body = body.clone();
                async move { ([(header::CONTENT_TYPE, "application/json")], body) }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/jwks", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        url
    })
}

/// A verifier on a remote JWKS whose cache has been filled.
fn warm_verifier(rt: &tokio::runtime::Runtime, url: &str, alg: Alg) -> Verifier {
    let source = RemoteJwks::new(url).unwrap();
    rt.block_on(source.keys()).unwrap();
    Verifier::builder(source)
        .alg(alg)
        .issuer(ISS)
        .audience(ISS)
        .build()
        .unwrap()
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let _entered = rt.enter();
    let fresh = fresh_claims();

    for alg in Alg::SIGNING {
        let key = KeyPair::generate(alg).unwrap();
        let set = JwkSet::new(vec![key.public_key().clone()]).unwrap();
        let verifier = warm_verifier(&rt, &serve_jwks(&rt, &set), alg);
        let token = sign_jwt(&key, &fresh).unwrap();
        let (input, sig_b64) = token.rsplit_once('.').unwrap();
        let signature = b64::decode(sig_b64).unwrap();
        let raw = raw_verifier(&key);

        let mut group = c.benchmark_group(format!("warm_verify/{alg}"));
        // Warm cache: the future completes on its first poll (no I/O), so it is polled directly;
        // `now_or_never` returning `None` would mean the benchmark is not measuring a warm cache.
        // `verify_claims` is what the layer runs; `verify::<Claims>` also deserializes into the
        // caller's struct (jsonwebtoken's `decode::<Claims>` does the same).
        group.bench_function("sigil-verify", |b| {
            b.iter(|| {
                verifier
                    .verify_claims(black_box(&token))
                    .now_or_never()
                    .unwrap()
                    .unwrap()
            })
        });
        group.bench_function("sigil-verify typed", |b| {
            b.iter(|| {
                verifier
                    .verify::<Claims>(black_box(&token))
                    .now_or_never()
                    .unwrap()
                    .unwrap()
            })
        });
        // The least any JWT verifier must do besides the signature: decode the three segments
        // and parse header and claims as JSON (no checks at all).
        group.bench_function("decode+parse floor", |b| {
            b.iter(|| {
                let mut parts = black_box(&token).split('.');
                let (h, p, s) = (
                    parts.next().unwrap(),
                    parts.next().unwrap(),
                    parts.next().unwrap(),
                );
                let header: serde_json::Value =
                    serde_json::from_slice(&b64::decode(h).unwrap()).unwrap();
                let claims: serde_json::Value =
                    serde_json::from_slice(&b64::decode(p).unwrap()).unwrap();
                (header, claims, b64::decode(s).unwrap())
            })
        });
        group.bench_function("aws-lc-rs raw", |b| {
            b.iter(|| {
                raw.verify_sig(black_box(input.as_bytes()), &signature)
                    .unwrap()
            })
        });
        if let Some((jalg, _, decoding)) = jsonwebtoken_keys(&key) {
            let v = jsonwebtoken_validation(jalg);
            group.bench_function("jsonwebtoken", |b| {
                b.iter(|| jsonwebtoken::decode::<Claims>(black_box(&token), &decoding, &v).unwrap())
            });
        }
        group.finish();
    }

    // The layer on an axum route: the same handler with and without it (EdDSA).
    let key = KeyPair::generate(Alg::EdDSA).unwrap();
    let set = JwkSet::new(vec![key.public_key().clone()]).unwrap();
    let verifier = warm_verifier(&rt, &serve_jwks(&rt, &set), Alg::EdDSA);
    let token = sign_jwt(&key, &fresh).unwrap();
    let bearer = format!("Bearer {token}");
    let plain = Router::new().route("/me", get(|| async { "ok" }));
    let protected = Router::new()
        .route(
            "/me",
            get(|Verified(c): Verified<Claims>| async move { c.sub }),
        )
        .layer(VerifyLayer::new(verifier.clone()));
    let request = || {
        Request::get("/me")
            .header(header::AUTHORIZATION, &bearer)
            .body(Body::empty())
            .unwrap()
    };
    let mut group = c.benchmark_group("axum_route/EdDSA");
    group.bench_function("without layer", |b| {
        b.to_async(&rt).iter(|| {
            let app = plain.clone();
            async move { app.oneshot(request()).await.unwrap() }
        })
    });
    group.bench_function("with layer", |b| {
        b.to_async(&rt).iter(|| {
            let app = protected.clone();
            async move { app.oneshot(request()).await.unwrap() }
        })
    });
    group.bench_function("verify only", |b| {
        b.to_async(&rt)
            .iter(|| async { verifier.verify::<Claims>(&token).await.unwrap() })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = common::config();
    targets = bench
}
criterion_main!(benches);
