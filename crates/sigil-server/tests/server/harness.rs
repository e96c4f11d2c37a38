//! Boots a server per test on its own database, with a clock the test moves.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, Duration, Utc};
use sigil_server::{Auth, Config, Mode, Settings};

pub const SECRET: &str = "test-secret-Q8vF2lMz7Xt1Rb9nK4pW6sY0cH3jD5gA";

/// A database engine the tests run on.
#[derive(Clone, Debug)]
pub enum Engine {
    Sqlite,
    Postgres(String),
}

/// SQLite always; PostgreSQL when `SIGIL_TEST_POSTGRES_URL` names a server. In CI
/// (`CI=true`) a missing PostgreSQL is a failure, not a skip.
pub fn engines() -> Vec<Engine> {
    let mut all = vec![Engine::Sqlite];
    match std::env::var("SIGIL_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => all.push(Engine::Postgres(url)),
        _ if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("CI=true but SIGIL_TEST_POSTGRES_URL is not set: .ci/run must start PostgreSQL")
        }
        _ => eprintln!(
            "SKIPPED PostgreSQL variants: SIGIL_TEST_POSTGRES_URL is not set (bash .ci/run starts a throwaway server)"
        ),
    }
    all
}

pub struct TestServer {
    pub base: String,
    pub auth: Auth,
    origin: String,
    offset_secs: Arc<AtomicI64>,
    pub client: reqwest::Client,
    _dir: TempDir,
}

pub struct TempDir(pub std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A name no other test of this run (or a concurrent run) uses: process id, time and a counter.
pub fn unique_name() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!(
        "{}x{nanos}x{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// A fresh, empty PostgreSQL database on the test server.
pub async fn fresh_pg_database(admin_url: &str) -> String {
    use sqlx::Connection;
    let name = format!("sigil_test_{}", unique_name());
    let mut conn = sqlx::PgConnection::connect(admin_url)
        .await
        .expect("connect to test PostgreSQL");
    sqlx::query(sqlx::AssertSqlSafe(format!("create database {name}")))
        .execute(&mut conn)
        .await
        .unwrap();
    let (base, _) = admin_url.rsplit_once('/').unwrap();
    format!("{base}/{name}")
}

impl TestServer {
    pub async fn start(engine: &Engine, tweak: impl FnOnce(&mut Settings)) -> TestServer {
        Self::try_start(engine, tweak).await.unwrap()
    }

    /// A fresh database for `engine` (SQLite: a file in a new temporary directory).
    pub async fn fresh_database(engine: &Engine) -> String {
        match engine {
            Engine::Sqlite => {
                let dir = std::env::temp_dir().join(format!("sigil-db-{}", unique_name()));
                std::fs::create_dir_all(&dir).unwrap();
                format!("sqlite://{}", dir.join("t.db").display())
            }
            Engine::Postgres(admin) => fresh_pg_database(admin).await,
        }
    }

    pub async fn try_start(
        engine: &Engine,
        tweak: impl FnOnce(&mut Settings),
    ) -> Result<TestServer, sigil_server::StartError> {
        Self::start_with(engine, tweak, |b| b).await
    }

    /// Like [`TestServer::try_start`], with a hook on the builder (custom claims).
    pub async fn start_with(
        engine: &Engine,
        tweak: impl FnOnce(&mut Settings),
        customize: impl FnOnce(sigil_server::AuthBuilder) -> sigil_server::AuthBuilder,
    ) -> Result<TestServer, sigil_server::StartError> {
        let dir = std::env::temp_dir().join(format!("sigil-test-{}", unique_name()));
        std::fs::create_dir_all(&dir).unwrap();
        let database_url = match engine {
            Engine::Sqlite => format!("sqlite://{}", dir.join("t.db").display()),
            Engine::Postgres(admin) => fresh_pg_database(admin).await,
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut settings = Settings {
            listen: Some(addr.to_string()),
            data_dir: Some(dir.clone()),
            database_url: Some(database_url),
            secret: Some(SECRET.into()),
            mode: Some(Mode::Production),
            rate_limit: Some(false),
            database_timeout_secs: Some(2),
            ..Settings::default()
        };
        tweak(&mut settings);
        let config = Config::from_settings(settings).unwrap();
        // Requests go to the socket; the configured base URL may name another host.
        let base = format!("http://{addr}{}", config.base_path);
        let origin = config.origin.clone();
        let offset_secs = Arc::new(AtomicI64::new(0));
        let offset = offset_secs.clone();
        let builder = Auth::builder(config.clone()).clock(Arc::new(move || {
            Utc::now() + Duration::seconds(offset.load(Ordering::SeqCst))
        }));
        let auth = customize(builder).build().await?;
        // On PostgreSQL, start once other instances' changes are pushed here (as a server that
        // has run a moment), so that a test's cache lifetime is the configured one; a database
        // that is down (a test's choice) is not waited for long.
        let mut push = auth.push_status();
        let _ = tokio::time::timeout(
            std::time::Duration::from_secs(5),
            push.wait_for(|s| s.state != sigil_server::PushState::Polling),
        )
        .await;
        // As `sigil serve` runs it: the key set answered in front of the router.
        let app = auth.with_fast_jwks(
            axum::Router::new()
                .nest(&config.base_path, auth.router())
                .merge(auth.discovery_router())
                .merge(auth.console_router()),
        );
        let handle = auth.clone();
        let limits = config.serve;
        tokio::spawn(async move {
            sigil_server::serve(listener, app, limits, std::future::pending())
                .await
                .unwrap();
        });
        Ok(TestServer {
            base,
            auth: handle,
            origin,
            offset_secs,
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            _dir: TempDir(dir),
        })
    }

    /// The server's clock now.
    pub fn now(&self) -> DateTime<Utc> {
        Utc::now() + Duration::seconds(self.offset_secs.load(Ordering::SeqCst))
    }

    /// Moves the server's clock forward.
    pub fn advance(&self, by: Duration) {
        self.offset_secs
            .fetch_add(by.num_seconds(), Ordering::SeqCst);
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The configured origin (what `iss`/`aud` default to and what Origin checks trust).
    pub fn origin(&self) -> String {
        self.origin.clone()
    }

    /// `GET` of a path under the base path, without credentials.
    /// The server's root URL (the base URL without the base path), where discovery and the
    /// console are.
    pub fn root(&self) -> String {
        let base = self.url("");
        base.strip_suffix(&self.auth.config().base_path)
            .unwrap_or(&base)
            .to_owned()
    }

    /// `GET url` with `If-None-Match: etag` (a cache revalidating what it holds).
    pub async fn revalidate(&self, url: &str, etag: &str) -> reqwest::Response {
        self.client
            .get(url)
            .header("if-none-match", etag)
            .send()
            .await
            .unwrap()
    }

    /// `GET` of a path under the base path with a session bearer.
    pub async fn get_with_bearer(&self, path: &str, bearer: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .bearer_auth(bearer)
            .send()
            .await
            .unwrap()
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }

    pub async fn post_json(&self, path: &str, body: serde_json::Value) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    /// `GET /get-session` with `Authorization: Bearer <bearer>`.
    pub async fn session_by_bearer(&self, bearer: &str) -> reqwest::Response {
        self.client
            .get(self.url("/get-session"))
            .header("authorization", format!("Bearer {bearer}"))
            .send()
            .await
            .unwrap()
    }

    /// `GET /token` with `Authorization: Bearer <bearer>`.
    /// `POST /sign-out` with `Authorization: Bearer` (and a trusted `Origin`), asserted done.
    pub async fn sign_out_by_bearer(&self, bearer: &str) {
        let r = self
            .client
            .post(self.url("/sign-out"))
            .header("authorization", format!("Bearer {bearer}"))
            .header("origin", self.origin())
            .json(&serde_json::json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }

    pub async fn token_by_bearer(&self, bearer: &str) -> reqwest::Response {
        self.client
            .get(self.url("/token"))
            .header("authorization", format!("Bearer {bearer}"))
            .send()
            .await
            .unwrap()
    }

    pub async fn sign_up(&self, email: &str, password: &str) -> reqwest::Response {
        self.post_json(
            "/sign-up/email",
            serde_json::json!({"name": "Test User", "email": email, "password": password}),
        )
        .await
    }
}

/// The `name=value` part of the first `Set-Cookie` for `name`.
/// The key set the server publishes, as JSON and as a verifier's key set.
pub async fn jwks(s: &TestServer) -> (serde_json::Value, sigil_jose::JwkSet) {
    let r = s.get("/jwks").await;
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    (
        serde_json::from_str(&text).unwrap(),
        sigil_jose::JwkSet::from_json(text.as_bytes()).unwrap(),
    )
}

/// A JWT's protected header.
pub fn header_of(token: &str) -> serde_json::Value {
    let first = token.split('.').next().unwrap();
    serde_json::from_slice(&sigil_jose::b64::decode(first).unwrap()).unwrap()
}

pub fn cookie_pair(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(|v| v.split(';').next().unwrap_or_default().to_owned())
}

pub fn parse_time(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

/// A TCP proxy in front of a database, which a test can cut (every connection dropped, new ones
/// refused) and restore, to show that the server degrades to 503 and recovers by itself.
pub struct Proxy {
    pub port: u16,
    up: tokio::sync::watch::Sender<bool>,
}

impl Proxy {
    pub async fn start(target: SocketAddr) -> Proxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (up, watch) = tokio::sync::watch::channel(true);
        tokio::spawn(async move {
            loop {
                let Ok((mut client, _)) = listener.accept().await else {
                    return;
                };
                if !*watch.borrow() {
                    drop(client);
                    continue;
                }
                let mut down = watch.clone();
                tokio::spawn(async move {
                    let Ok(mut server) = tokio::net::TcpStream::connect(target).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = down.wait_for(|up| !*up) => {}
                    }
                });
            }
        });
        Proxy { port, up }
    }

    pub fn set_up(&self, up: bool) {
        self.up.send_replace(up);
    }
}

/// A [`Proxy`] in front of the PostgreSQL server of `db_url`, and the URL through it.
pub async fn proxy_to(db_url: &str) -> (Proxy, String) {
    let (prefix, rest) = db_url.rsplit_once('@').unwrap();
    let (host_port, db) = rest.split_once('/').unwrap();
    let target = tokio::net::lookup_host(host_port)
        .await
        .unwrap()
        .next()
        .unwrap();
    let proxy = Proxy::start(target).await;
    let via_proxy = format!("{prefix}@127.0.0.1:{}/{db}", proxy.port);
    (proxy, via_proxy)
}

/// A server whose PostgreSQL database is reached through a [`Proxy`] the test can cut, with a
/// 1 s database timeout; `None` without PostgreSQL (reported as skipped by [`engines`]).
pub async fn server_behind_proxy() -> Option<(TestServer, Proxy)> {
    server_behind_proxy_with_url()
        .await
        .map(|(server, proxy, _)| (server, proxy))
}

/// [`server_behind_proxy`], with the database's direct URL (for writes the server does not see).
pub async fn server_behind_proxy_with_url() -> Option<(TestServer, Proxy, String)> {
    let admin = engines().into_iter().find_map(|e| match e {
        Engine::Postgres(url) => Some(url),
        Engine::Sqlite => None,
    })?;
    let db_url = fresh_pg_database(&admin).await;
    let (proxy, via_proxy) = proxy_to(&db_url).await;
    let server = TestServer::start(&Engine::Sqlite, |c| {
        c.database_url = Some(via_proxy);
        c.database_timeout_secs = Some(1);
    })
    .await;
    Some((server, proxy, db_url))
}
