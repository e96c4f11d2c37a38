//! The client's errors: what went wrong, in classes a caller can act on.

use std::sync::Arc;

use sigil_proto::ErrorCode;

/// Why a call failed.
///
/// Messages never contain passwords, session tokens or JWTs. Cloneable, so that callers who
/// waited on one token fetch all get its failure.
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The server answered 401 to a call that needs a session: there is none, it expired, or it
    /// was signed out. Sign in again. The client has dropped its cached tokens.
    #[error("the session is gone (missing, expired or signed out): sign in again")]
    SessionGone,
    /// The server refused or failed the request with an error body; `code` is its stable code
    /// when this client knows it (see [`ErrorCode`]).
    #[error("the auth server answered {status}: {message}{}", code_suffix(.code, .raw_code.as_deref()))]
    Server {
        /// HTTP status.
        status: u16,
        /// The stable error code, when the body carried one this client knows.
        code: Option<ErrorCode>,
        /// The code as sent (also when [`ErrorCode`] does not know it), if any.
        raw_code: Option<String>,
        /// The server's message.
        message: String,
    },
    /// The server could not be reached, or the exchange broke off (connect, TLS, timeout).
    #[error("cannot reach the auth server: {0}")]
    Network(#[source] Arc<reqwest::Error>),
    /// The server answered something this client cannot read (not the documented shape).
    #[error("unexpected answer from the auth server: {0}")]
    Decode(String),
    /// The client was configured wrongly (a base URL that is not http(s), an unusable header).
    #[error("invalid client configuration: {0}")]
    Config(String),
}

fn code_suffix(code: &Option<ErrorCode>, raw: Option<&str>) -> String {
    match (code, raw) {
        (Some(code), _) => format!(" ({})", code.as_str()),
        (None, Some(raw)) => format!(" ({raw})"),
        (None, None) => String::new(),
    }
}

impl Error {
    /// The server's stable code, when the error came with one.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            Error::Server { code, .. } => *code,
            _ => None,
        }
    }

    /// Whether the failure is on the way to the server or on its side (network, 5xx, an
    /// unreadable answer) rather than a refusal of this request: worth retrying later.
    pub fn is_unavailable(&self) -> bool {
        match self {
            Error::Network(_) | Error::Decode(_) => true,
            Error::Server { status, .. } => *status >= 500,
            Error::SessionGone | Error::Config(_) => false,
        }
    }
}

impl From<reqwest::Error> for Error {
    fn from(e: reqwest::Error) -> Self {
        // reqwest's messages name the URL (never a header or body); drop it anyway to keep
        // query strings out of logs.
        Error::Network(Arc::new(e.without_url()))
    }
}
