//! A service chain with audience-scoped tokens: service A (orders) calls service B (billing) on
//! behalf of its own account, with a JWT whose `aud` is `billing`; B, protected by
//! `sigil-verify`'s layer, accepts only tokens for its audience.
//!
//! ```text
//! client ──POST /order──▶ A (orders) ──POST /charge, Bearer <token_for("billing")>──▶ B (billing)
//!                          │ sigil-client + BearerMiddleware            │ sigil-verify VerifyLayer
//!                          └──────── GET /api/auth/token?audience=billing ──▶ Sigil ◀── GET /jwks ┘
//! ```
//!
//! ```text
//! cargo run -p sigil-client --example service_chain
//! ```
//!
//! Without settings it starts a Sigil server in-process (allowed audiences `billing` and
//! `reports`). `SIGIL_URL=https://auth.example.com` uses a running one instead, whose
//! `[jwt] allowed_audiences` (or `SIGIL_JWT_ALLOWED_AUDIENCES=billing,reports`) lists both.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use serde::Deserialize;
use serde_json::{Value, json};
use sigil_client::AuthClient;
use sigil_verify::axum::{Claims, VerifyLayer};
use sigil_verify::{Alg, RemoteJwks, Verifier};

/// B's audience: tokens for anything else are refused.
pub const BILLING: &str = "billing";

/// The claims B reads.
#[derive(Deserialize)]
pub struct Caller {
    /// The calling account's user id.
    pub sub: String,
    /// Its email.
    pub email: Option<String>,
}

/// Service B: `POST /charge` behind the verify layer (issuer Sigil, audience `billing`).
pub fn billing_service(verifier: Verifier) -> Router {
    Router::new()
        .route("/charge", post(charge))
        .layer(VerifyLayer::new(verifier))
}

async fn charge(Claims(caller): Claims<Caller>) -> axum::Json<Value> {
    axum::Json(json!({ "charged_by": caller.sub, "email": caller.email }))
}

/// B's verifier: Sigil's key set, EdDSA, `iss` the Sigil origin, `aud` = [`BILLING`].
pub fn billing_verifier(sigil_url: &str) -> anyhow::Result<Verifier> {
    let keys = RemoteJwks::new(&format!("{sigil_url}/api/auth/jwks"))?;
    Ok(Verifier::builder(keys)
        .alg(Alg::EdDSA)
        .issuer(sigil_url)
        .audience(BILLING)
        .build()?)
}

#[derive(Clone)]
struct Orders {
    billing: reqwest_middleware::ClientWithMiddleware,
    billing_url: Arc<str>,
}

/// Service A: `POST /order` charges through B with A's own `billing` token, and relays B's
/// status and body.
pub fn orders_service(auth: &AuthClient, billing_url: &str) -> Router {
    let billing = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(auth.middleware_for(BILLING))
        .build();
    Router::new()
        .route("/order", post(order))
        .with_state(Orders {
            billing,
            billing_url: billing_url.into(),
        })
}

async fn order(State(orders): State<Orders>) -> (StatusCode, axum::Json<Value>) {
    let url = format!("{}/charge", orders.billing_url);
    match orders.billing.post(url).send().await {
        Ok(response) => {
            let status =
                StatusCode::from_u16(response.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
            let body = response.json::<Value>().await.unwrap_or(Value::Null);
            (status, axum::Json(json!({ "billing": body })))
        }
        Err(e) => (
            StatusCode::BAD_GATEWAY,
            axum::Json(json!({ "error": e.to_string() })),
        ),
    }
}

/// Serves `app` on a free loopback port; answers its URL.
pub async fn serve(app: Router) -> anyhow::Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(url)
}

/// A Sigil server in-process on a free port, data in a fresh temporary directory, allowing the
/// audiences `billing` and `reports`. Answers its URL and the directory (to remove).
pub async fn start_sigil() -> anyhow::Result<(String, std::path::PathBuf)> {
    use sigil_server::{Auth, Config, Settings};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let url = format!("http://{addr}");
    let dir = std::env::temp_dir().join(format!(
        "sigil-chain-{}-{}",
        std::process::id(),
        addr.port()
    ));
    std::fs::create_dir_all(&dir)?;
    let mut settings = Settings {
        listen: Some(addr.to_string()),
        base_url: Some(url.clone()),
        data_dir: Some(dir.clone()),
        database_url: Some(format!("sqlite://{}", dir.join("sigil.db").display())),
        secret: Some("service-chain-example-secret-0123456789abcdef".into()),
        ..Settings::default()
    };
    settings.jwt.allowed_audiences = Some(vec![BILLING.into(), "reports".into()]);
    let config = Config::from_settings(settings)?;
    let auth = Auth::builder(config.clone()).build().await?;
    let app = auth.with_fast_jwks(Router::new().nest(&config.base_path, auth.router()));
    let limits = config.serve;
    tokio::spawn(async move {
        sigil_server::serve(listener, app, limits, std::future::pending()).await
    });
    Ok((url, dir))
}

/// What a run of the chain saw.
#[derive(Debug)]
pub struct Outcome {
    /// A's account (the `sub` B should see).
    pub user_id: String,
    /// Status and body of `POST A/order` (A → B with a `billing` token).
    pub order: (u16, Value),
    /// Status of `POST B/charge` with a `reports` token: B refuses it.
    pub wrong_audience: u16,
}

/// Runs the chain against the Sigil server at `sigil_url`: A's account signs up (or in), A and B
/// start, a client orders through A, and a token for another audience is tried on B.
pub async fn run(sigil_url: &str) -> anyhow::Result<Outcome> {
    let auth = AuthClient::new(sigil_url)?;
    let (email, password) = ("orders-service@example.com", "orders service password");
    let user_id = match auth.sign_up_email("Orders service", email, password).await {
        Ok(signed_up) => signed_up.user.id,
        Err(e) if e.code() == Some(sigil_client::ErrorCode::UserAlreadyExists) => {
            auth.sign_in_email(email, password).await?.user.id
        }
        Err(e) => return Err(e.into()),
    };
    let billing_url = serve(billing_service(billing_verifier(sigil_url)?)).await?;
    let orders_url = serve(orders_service(&auth, &billing_url)).await?;

    let http = reqwest::Client::new();
    let response = http.post(format!("{orders_url}/order")).send().await?;
    let order = (response.status().as_u16(), response.json::<Value>().await?);

    // A token for another audience, sent straight to B.
    let reports = auth.token_for("reports").await?;
    let wrong_audience = http
        .post(format!("{billing_url}/charge"))
        .bearer_auth(reports.as_str())
        .send()
        .await?
        .status()
        .as_u16();
    Ok(Outcome {
        user_id,
        order,
        wrong_audience,
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let (sigil_url, dir) = match std::env::var("SIGIL_URL") {
        Ok(url) => (url, None),
        Err(_) => {
            let (url, dir) = start_sigil().await?;
            (url, Some(dir))
        }
    };
    let outcome = run(&sigil_url).await;
    if let Some(dir) = dir {
        let _ = std::fs::remove_dir_all(dir);
    }
    let outcome = outcome?;
    println!("Sigil at {sigil_url}");
    println!(
        "A → B with a `billing` token: {} {}",
        outcome.order.0, outcome.order.1
    );
    println!(
        "B given a `reports` token: {} (refused: wrong audience)",
        outcome.wrong_audience
    );
    anyhow::ensure!(
        outcome.order.0 == 200 && outcome.wrong_audience == 401,
        "the chain did not behave as expected"
    );
    Ok(())
}
