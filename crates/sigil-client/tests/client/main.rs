//! sigil-client against a real Sigil server booted in-process (as `sigil serve` runs it), with
//! one clock shared by the server and the client so that tests move time instead of waiting,
//! and a counter of the `/token` requests the server received.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod audience;
mod cache;
mod chain;
mod flows;
mod middleware;
mod outages;

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use chrono::Utc;
use sigil_client::{AuthClient, Clock};
use sigil_server::{Auth, Config, Mode, Settings};

pub const SECRET: &str = "test-secret-Q8vF2lMz7Xt1Rb9nK4pW6sY0cH3jD5gA";
pub const PASSWORD: &str = "correct horse battery";

/// The time of both the server and the client: the machine's clock when the test started, moved
/// only by the test (a second passing on the machine's clock changes nothing).
#[derive(Clone)]
pub struct SharedClock(Arc<AtomicI64>);

impl Default for SharedClock {
    fn default() -> Self {
        SharedClock(Arc::new(AtomicI64::new(Utc::now().timestamp())))
    }
}

impl SharedClock {
    pub fn advance(&self, secs: i64) {
        self.0.fetch_add(secs, Ordering::SeqCst);
    }
    pub fn now(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

impl Clock for SharedClock {
    fn unix_seconds(&self) -> i64 {
        self.now()
    }
}

/// An in-process Sigil server on a free loopback port.
pub struct TestServer {
    /// `http://127.0.0.1:PORT`, also the server's configured base URL (iss, aud, Origin).
    pub url: String,
    pub clock: SharedClock,
    /// `GET /token` requests received.
    pub token_requests: Arc<AtomicUsize>,
    pub auth: Auth,
    _dir: TempDir,
}

pub struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn unique() -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!(
        "{}x{nanos}x{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

async fn count_tokens(
    State(count): State<Arc<AtomicUsize>>,
    request: Request,
    next: Next,
) -> Response {
    if request.uri().path().ends_with("/token") {
        count.fetch_add(1, Ordering::SeqCst);
    }
    next.run(request).await
}

impl TestServer {
    pub async fn start() -> TestServer {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(tweak: impl FnOnce(&mut Settings)) -> TestServer {
        let dir = std::env::temp_dir().join(format!("sigil-client-test-{}", unique()));
        std::fs::create_dir_all(&dir).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let url = format!("http://{addr}");
        let mut settings = Settings {
            listen: Some(addr.to_string()),
            base_url: Some(url.clone()),
            data_dir: Some(dir.clone()),
            database_url: Some(format!("sqlite://{}", dir.join("t.db").display())),
            secret: Some(SECRET.into()),
            mode: Some(Mode::Production),
            rate_limit: Some(false),
            ..Settings::default()
        };
        tweak(&mut settings);
        let config = Config::from_settings(settings).unwrap();
        let clock = SharedClock::default();
        let server_clock = clock.clone();
        let auth = Auth::builder(config.clone())
            .clock(Arc::new(move || {
                chrono::DateTime::from_timestamp(server_clock.now(), 0).unwrap_or_default()
            }))
            .build()
            .await
            .unwrap();
        let token_requests = Arc::new(AtomicUsize::new(0));
        let router = axum::Router::new()
            .nest(&config.base_path, auth.router())
            .layer(axum::middleware::from_fn_with_state(
                token_requests.clone(),
                count_tokens,
            ));
        let app = auth.with_fast_jwks(router);
        let limits = config.serve;
        tokio::spawn(async move {
            sigil_server::serve(listener, app, limits, std::future::pending())
                .await
                .unwrap();
        });
        TestServer {
            url,
            clock,
            token_requests,
            auth,
            _dir: TempDir(dir),
        }
    }

    pub fn token_requests(&self) -> usize {
        self.token_requests.load(Ordering::SeqCst)
    }

    /// A client on this server's clock.
    pub fn client(&self) -> AuthClient {
        AuthClient::builder(&self.url)
            .clock(Arc::new(self.clock.clone()))
            .build()
            .unwrap()
    }

    /// A client signed up as a new user.
    pub async fn signed_up(&self) -> (AuthClient, sigil_client::SignUpResponse) {
        let client = self.client();
        let email = format!("u{}@example.com", unique());
        let body = client.sign_up_email("Ada", &email, PASSWORD).await.unwrap();
        (client, body)
    }
}

/// A loopback port nothing listens on.
pub fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}
