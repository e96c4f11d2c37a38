//! Sigil mounted inside your own axum app: the auth routes under `/api/auth`, your routes beside
//! them. Run: `cargo run -p sigil-server --example embedded`, then open
//! http://127.0.0.1:3001/api/auth/ok.

use std::net::SocketAddr;

use axum::routing::get;
use sigil_server::{Auth, Config, Mode, Settings};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let config = Config::from_settings(Settings {
        listen: Some("127.0.0.1:3001".into()),
        data_dir: Some("./sigil-example-data".into()),
        mode: Some(Mode::Dev),
        ..Settings::default()
    })?;
    let listen = config.listen;
    let auth = Auth::builder(config).build().await?;
    let app = axum::Router::new()
        .route("/", get(|| async { "my app; auth lives under /api/auth" }))
        .nest("/api/auth", auth.router());
    let listener = tokio::net::TcpListener::bind(listen).await?;
    println!("listening on http://{listen}");
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await?;
    Ok(())
}
