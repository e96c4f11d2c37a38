//! The HTTP contract of Sigil, shared by the server and the client: request and response bodies in
//! Better Auth's JSON shapes, and the error body `{"message", "code"}` with its table of codes.
//!
//! Field names follow Better Auth (camelCase on the wire); times are ISO-8601 strings with
//! milliseconds and `Z`, as JavaScript's `Date.toJSON` writes them.

#![forbid(unsafe_code)]

mod error;
mod wire;

pub use error::{ErrorBody, ErrorCode};
pub use wire::{
    KeyTimeline, KeyTimelineEntry, OkResponse, SessionResponse, SessionView, SignInRequest,
    SignInResponse, SignOutResponse, SignUpRequest, SignUpResponse, TokenResponse, UserView,
};
