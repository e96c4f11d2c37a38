//! A service that trusts Sigil's tokens: `GET /me` answers who the caller is, `GET /health` is
//! open. Keys come from the issuer's JWKS, cached; no call back to the issuer per request.
//!
//! ```text
//! cargo run --bin sigil -- serve                                   # the issuer, on :3000
//! cargo run -p sigil-verify --example protected_service            # this service, on :4000
//! curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:4000/me
//! ```
//!
//! Settings (environment): `SIGIL_ISSUER` (default `http://127.0.0.1:3000`), `SIGIL_JWKS_URL`
//! (default `$SIGIL_ISSUER/api/auth/jwks`), `SIGIL_AUDIENCE` (default the issuer, as Sigil and
//! Better Auth set it), `LISTEN` (default `127.0.0.1:4000`).

use axum::Router;
use axum::routing::get;
use serde::{Deserialize, Serialize};
use sigil_verify::axum::{Claims, VerifyLayer};
use sigil_verify::{Alg, RemoteJwks, Verifier};

/// The claims this service reads; Sigil's default payload carries the user object's fields.
#[derive(Deserialize, Serialize)]
pub struct Caller {
    /// The user id.
    pub sub: String,
    /// The user's email.
    pub email: Option<String>,
}

/// The service's routes: `/me` behind the layer, `/health` open.
pub fn app(verifier: Verifier) -> Router {
    Router::new()
        .route("/me", get(me))
        .layer(VerifyLayer::new(verifier))
        .route("/health", get(|| async { "ok" }))
}

async fn me(Claims(caller): Claims<Caller>) -> axum::Json<Caller> {
    axum::Json(caller)
}

/// The verifier for an issuer: its JWKS, Sigil's default algorithm, `iss` and `aud`.
pub fn verifier(issuer: &str, jwks_url: &str, audience: &str) -> anyhow::Result<Verifier> {
    let keys = RemoteJwks::new(jwks_url)?;
    Ok(Verifier::builder(keys)
        .alg(Alg::EdDSA)
        .issuer(issuer)
        .audience(audience)
        .build()?)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let env =
        |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.to_owned());
    let issuer = env("SIGIL_ISSUER", "http://127.0.0.1:3000");
    let jwks_url = env("SIGIL_JWKS_URL", &format!("{issuer}/api/auth/jwks"));
    let audience = env("SIGIL_AUDIENCE", &issuer);
    let listen = env("LISTEN", "127.0.0.1:4000");
    let app = app(verifier(&issuer, &jwks_url, &audience)?);
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    println!("protected service on http://{listen}/me (keys from {jwks_url})");
    axum::serve(listener, app).await?;
    Ok(())
}
