//! A loopback HTTP server standing in for an issuer's JWKS endpoint, counting its hits.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::Value;

/// What `/jwks` answers.
#[derive(Clone, Debug)]
pub enum Behaviour {
    /// 200 with this body and optional `Cache-Control`.
    Keys(Value, Option<&'static str>),
    /// This status with a JSON body.
    Status(u16),
    /// Waits this long, then answers the keys.
    Slow(Duration, Value),
    /// 200 with a body of this many bytes, with or without `Content-Length`.
    Huge(usize, bool),
    /// 302 to `/elsewhere` (which would answer valid keys).
    Redirect(Value),
    /// 200 with this raw text.
    Raw(&'static str),
}

struct Shared {
    behaviour: Mutex<Behaviour>,
    jwks_hits: AtomicUsize,
    other_hits: AtomicUsize,
}

/// The running server.
#[derive(Clone)]
pub struct JwksServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
}

impl JwksServer {
    /// Starts a server answering `behaviour` at `/jwks`.
    pub async fn start(behaviour: Behaviour) -> Self {
        let shared = Arc::new(Shared {
            behaviour: Mutex::new(behaviour),
            jwks_hits: AtomicUsize::new(0),
            other_hits: AtomicUsize::new(0),
        });
        let app = Router::new()
            .route("/jwks", get(jwks))
            .route("/elsewhere", get(other))
            .route("/jku", get(other))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        JwksServer { addr, shared }
    }

    /// The `/jwks` URL.
    pub fn url(&self) -> String {
        format!("http://{}/jwks", self.addr)
    }

    /// A URL on this server that is not the JWKS (`/jku`).
    pub fn jku_url(&self) -> String {
        format!("http://{}/jku", self.addr)
    }

    /// Changes what `/jwks` answers from now on.
    pub fn set(&self, behaviour: Behaviour) {
        *self.shared.behaviour.lock().unwrap() = behaviour;
    }

    /// Requests `/jwks` has received.
    pub fn hits(&self) -> usize {
        self.shared.jwks_hits.load(Ordering::SeqCst)
    }

    /// Requests any other path has received.
    pub fn other_hits(&self) -> usize {
        self.shared.other_hits.load(Ordering::SeqCst)
    }
}

async fn other(State(shared): State<Arc<Shared>>) -> Response {
    shared.other_hits.fetch_add(1, Ordering::SeqCst);
    let behaviour = shared.behaviour.lock().unwrap().clone();
    match behaviour {
        Behaviour::Redirect(keys) => axum::Json(keys).into_response(),
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn jwks(State(shared): State<Arc<Shared>>) -> Response {
    shared.jwks_hits.fetch_add(1, Ordering::SeqCst);
    let behaviour = shared.behaviour.lock().unwrap().clone();
    match behaviour {
        Behaviour::Keys(keys, cache_control) => {
            let mut response = axum::Json(keys).into_response();
            if let Some(cc) = cache_control {
                response
                    .headers_mut()
                    .insert(header::CACHE_CONTROL, HeaderValue::from_static(cc));
            }
            response
        }
        Behaviour::Status(status) => (
            StatusCode::from_u16(status).unwrap(),
            axum::Json(serde_json::json!({"error": "down"})),
        )
            .into_response(),
        Behaviour::Slow(delay, keys) => {
            tokio::time::sleep(delay).await;
            axum::Json(keys).into_response()
        }
        Behaviour::Huge(bytes, with_length) => {
            let body = format!("{{\"keys\":[],\"pad\":\"{}\"}}", "x".repeat(bytes));
            if with_length {
                body.into_response()
            } else {
                let chunks: Vec<Result<String, std::io::Error>> = body
                    .as_bytes()
                    .chunks(8192)
                    .map(|c| Ok(String::from_utf8(c.to_vec()).unwrap()))
                    .collect();
                Body::from_stream(futures_util::stream::iter(chunks)).into_response()
            }
        }
        Behaviour::Redirect(_) => (
            StatusCode::FOUND,
            [(header::LOCATION, HeaderValue::from_static("/elsewhere"))],
        )
            .into_response(),
        Behaviour::Raw(text) => text.into_response(),
    }
}
