//! The HTTP ceiling of the load benchmark: a bare axum server (`axum::serve`, one route, no
//! middleware) answering `GET /api/auth/jwks` and `GET /api/auth/ok` with fixed bytes. Whatever
//! `sigil serve` does per request beyond this is its own cost.
//!
//! `sigil-ceiling LISTEN [BODY_FILE]`: serves on LISTEN (e.g. `127.0.0.1:3000`); the JWKS route
//! answers BODY_FILE's bytes as `application/json` (the benchmark passes the body Sigil served,
//! so both send the same bytes), or `{"keys":[]}` without it.

use axum::Router;
use axum::body::Bytes;
use axum::http::header::CONTENT_TYPE;
use axum::routing::get;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let listen = args
        .next()
        .ok_or_else(|| anyhow::anyhow!("usage: sigil-ceiling LISTEN [BODY_FILE]"))?;
    let body = match args.next() {
        Some(path) => Bytes::from(std::fs::read(&path)?),
        None => Bytes::from_static(br#"{"keys":[]}"#),
    };
    let app = Router::new()
        .route(
            "/api/auth/jwks",
            get(move || {
                let body = body.clone();
                async move { ([(CONTENT_TYPE, "application/json")], body) }
            }),
        )
        .route("/api/auth/ok", get(|| async { r#"{"ok":true}"# }));
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    axum::serve(listener, app).await?;
    Ok(())
}
