//! The one error type of the HTTP layer: an [`ErrorCode`] (status + code + message) that renders
//! as `{"message", "code"}` JSON. Nothing a client sends can produce anything else.

use axum::Json;
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sigil_proto::ErrorCode;

use crate::keys::KeyError;
use crate::password::HashError;
use crate::report::Chain;
use crate::store::StoreError;

/// An error answer.
#[derive(Debug)]
pub struct ApiError {
    code: ErrorCode,
    message: Option<String>,
    headers: Vec<(HeaderName, HeaderValue)>,
}

impl ApiError {
    /// The code's default message.
    pub fn new(code: ErrorCode) -> Self {
        ApiError {
            code,
            message: None,
            headers: Vec::new(),
        }
    }

    /// A specific message.
    pub fn with_message(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError {
            code,
            message: Some(message.into()),
            headers: Vec::new(),
        }
    }

    /// Adds a response header.
    #[must_use]
    pub fn header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }

    /// The code.
    pub fn code(&self) -> ErrorCode {
        self.code
    }
}

impl From<ErrorCode> for ApiError {
    fn from(code: ErrorCode) -> Self {
        ApiError::new(code)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            e if e.is_unavailable() => {
                tracing::warn!(error = %Chain(&e), "database unavailable");
                ApiError::new(ErrorCode::DatabaseUnavailable)
            }
            StoreError::EmailTaken => ApiError::new(ErrorCode::UserAlreadyExists),
            // A conflict other than the email is Sigil's fault (an id or token reused), not the
            // client's: logged below as any other storage failure.
            other => {
                tracing::error!(error = %Chain(&other), "storage failure");
                ApiError::new(ErrorCode::InternalError)
            }
        }
    }
}

impl From<KeyError> for ApiError {
    fn from(e: KeyError) -> Self {
        match e {
            KeyError::Store(store) => store.into(),
            other => {
                tracing::error!(error = %Chain(&other), "no usable signing key");
                ApiError::new(ErrorCode::SigningKeyUnavailable)
            }
        }
    }
}

impl From<HashError> for ApiError {
    fn from(e: HashError) -> Self {
        match e {
            HashError::Busy(_) => ApiError::new(ErrorCode::ServerBusy),
            other => {
                tracing::error!(error = %Chain(&other), "password hashing");
                ApiError::new(ErrorCode::InternalError)
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.code.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = match self.message {
            Some(m) => self.code.body_with(m),
            None => self.code.body(),
        };
        let mut response = (status, Json(body)).into_response();
        for (name, value) in self.headers {
            response.headers_mut().insert(name, value);
        }
        response
    }
}
