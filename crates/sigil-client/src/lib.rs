//! A Rust client for Sigil (and any Better Auth server with the JWT and bearer plugins): sign up
//! and in by email, hold the session, and get short-lived JWTs for calls to other services.
//!
//! ```no_run
//! # async fn run() -> Result<(), sigil_client::Error> {
//! use sigil_client::AuthClient;
//!
//! let auth = AuthClient::new("https://auth.example.com")?;
//! auth.sign_in_email("ada@example.com", "correct horse battery").await?;
//! let jwt = auth.token().await?; // cached until 60 s before its `exp`
//! let billing = auth.token_for("billing").await?; // `aud` = "billing", cached separately
//! # let _ = (jwt, billing);
//! # Ok(()) }
//! ```
//!
//! - [`AuthClient`]: the routes under `/api/auth` (`sign-up/email`, `sign-in/email`,
//!   `get-session`, `sign-out`, `token`, `jwks`), the session held as a bearer session token
//!   (default) or as the session cookie, and a per-audience JWT cache with single-flight refresh.
//! - [`BearerMiddleware`]: a `reqwest-middleware` middleware that adds `Authorization: Bearer
//!   <jwt>` to outgoing requests and retries once with a fresh token when the callee answers 401
//!   with `error="invalid_token"`.
//! - [`Clock`]: where the cache reads the time; tests substitute [`ManualClock`].
//!
//! The client reads a token's `exp` **without verifying** the token: it trusts its own auth
//! server, reached over TLS, for the tokens it is handed. Services that *receive* tokens verify
//! them (`sigil-verify`).

#![forbid(unsafe_code)]

mod client;
pub mod clock;
mod error;
mod jwt;
mod middleware;

pub use client::{AuthClient, AuthClientBuilder, SessionInfo, SessionTransport};
pub use clock::{Clock, ManualClock, SystemClock};
pub use error::Error;
pub use jwt::Jwt;
pub use middleware::BearerMiddleware;
pub use sigil_jose::JwkSet;
pub use sigil_proto::{ErrorCode, SessionResponse, SignInResponse, SignUpResponse, UserView};
