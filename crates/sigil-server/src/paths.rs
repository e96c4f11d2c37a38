//! The fixed route paths under the base path. A leaf module: the configuration checks the JWKS
//! path against them and the guards exempt some, without either depending on the router.

/// Sign-up with email and password.
pub(crate) const SIGN_UP: &str = "/sign-up/email";
/// Sign-in with email and password.
pub(crate) const SIGN_IN: &str = "/sign-in/email";
/// The current session.
pub(crate) const GET_SESSION: &str = "/get-session";
/// Ends the session.
pub(crate) const SIGN_OUT: &str = "/sign-out";
/// Health check.
pub(crate) const OK: &str = "/ok";
/// Readiness: the database answers and a signing key is loaded.
pub(crate) const READY: &str = "/ready";
/// A JWT for the session.
pub(crate) const TOKEN: &str = "/token";
/// The OpenAPI document of these routes.
pub(crate) const OPENAPI: &str = "/openapi.json";
/// Every stored key and its state (signed-in callers only).
pub(crate) const KEY_TIMELINE: &str = "/key-timeline";

/// Every fixed route (the JWKS path is configurable and must not collide with them).
pub(crate) const FIXED: [&str; 9] = [
    SIGN_UP,
    SIGN_IN,
    GET_SESSION,
    SIGN_OUT,
    OK,
    READY,
    TOKEN,
    OPENAPI,
    KEY_TIMELINE,
];
