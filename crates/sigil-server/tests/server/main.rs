//! Integration tests: the real server on an ephemeral port, driven over HTTP, on SQLite and (when
//! available) PostgreSQL. One binary; modules per concern.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod algs;
mod cache;
mod console;
mod errors;
mod fast_jwks;
mod flows;
mod harness;
mod limits;
mod openapi;
mod push;
mod request_log;
mod tokens;
