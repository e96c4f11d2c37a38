//! Error codes: each has one HTTP status and one default message, so that every bad input gets the
//! same, documented answer.

use serde::{Deserialize, Serialize};

/// The JSON body of every error response: `{"message": "...", "code": "..."}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// Human-readable explanation.
    pub message: String,
    /// Stable machine-readable code (one of [`ErrorCode`], as its `as_str`).
    pub code: String,
}

macro_rules! codes {
    ($( $(#[$doc:meta])* $variant:ident = ($status:expr, $code:literal, $message:literal), )*) => {
        /// Every error code Sigil's HTTP API answers with. Codes shared with Better Auth carry
        /// Better Auth's name, status and message.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum ErrorCode {
            $( $(#[$doc])* $variant, )*
        }

        impl ErrorCode {
            /// Every code, for documentation and tests.
            pub const ALL: &'static [ErrorCode] = &[ $( ErrorCode::$variant, )* ];

            /// The wire name, e.g. `"INVALID_EMAIL_OR_PASSWORD"`.
            pub fn as_str(self) -> &'static str {
                match self { $( ErrorCode::$variant => $code, )* }
            }

            /// The HTTP status this code is sent with.
            pub fn status(self) -> u16 {
                match self { $( ErrorCode::$variant => $status, )* }
            }

            /// The default message.
            pub fn message(self) -> &'static str {
                match self { $( ErrorCode::$variant => $message, )* }
            }

            /// Looks a code up by its wire name.
            pub fn from_name(name: &str) -> Option<ErrorCode> {
                match name { $( $code => Some(ErrorCode::$variant), )* _ => None }
            }
        }
    };
}

codes! {
    /// The request body is not valid JSON or form data, or a field is missing or of the wrong type.
    ValidationError = (400, "VALIDATION_ERROR", "Invalid request body"),
    /// The email address is not valid.
    InvalidEmail = (400, "INVALID_EMAIL", "Invalid email"),
    /// The password is shorter than the minimum (8).
    PasswordTooShort = (400, "PASSWORD_TOO_SHORT", "Password too short"),
    /// The password is longer than the maximum (128).
    PasswordTooLong = (400, "PASSWORD_TOO_LONG", "Password too long"),
    /// `GET /token?audience=…` named an audience not on the server's allow-list (or was malformed).
    AudienceNotAllowed = (400, "AUDIENCE_NOT_ALLOWED", "This audience is not on the server's allow-list"),
    /// `GET /token?alg=…` named an algorithm the server does not sign with (or was malformed).
    AlgNotAllowed = (400, "ALG_NOT_ALLOWED", "This server does not sign tokens with this algorithm"),
    /// Wrong email or password (deliberately not saying which).
    InvalidEmailOrPassword = (401, "INVALID_EMAIL_OR_PASSWORD", "Invalid email or password"),
    /// No valid session.
    Unauthorized = (401, "UNAUTHORIZED", "Unauthorized"),
    /// A state-changing request from an origin that is not trusted.
    InvalidOrigin = (403, "INVALID_ORIGIN", "Invalid origin"),
    /// A state-changing request that needs an Origin (or Referer) and has none.
    MissingOrNullOrigin = (403, "MISSING_OR_NULL_ORIGIN", "Missing or null Origin"),
    /// A cross-site top-level navigation tried to sign in or up.
    CrossSiteNavigationLoginBlocked = (403, "CROSS_SITE_NAVIGATION_LOGIN_BLOCKED", "Cross-site navigation login blocked. This request appears to be a CSRF attack."),
    /// A `callbackURL` that is neither relative nor on a trusted origin.
    InvalidCallbackUrl = (403, "INVALID_CALLBACK_URL", "Invalid callbackURL"),
    /// No such route.
    NotFound = (404, "NOT_FOUND", "Not Found"),
    /// The route exists but not for this method.
    MethodNotAllowed = (405, "METHOD_NOT_ALLOWED", "Method not allowed"),
    /// `POST /get-session` (Better Auth allows it only with deferred session refresh).
    MethodNotAllowedDeferSessionRequired = (405, "METHOD_NOT_ALLOWED_DEFER_SESSION_REQUIRED", "POST method requires deferSessionRefresh to be enabled in session config"),
    /// The email is already registered.
    UserAlreadyExists = (422, "USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL", "User already exists. Use another email."),
    /// The request body is larger than the configured limit.
    PayloadTooLarge = (413, "PAYLOAD_TOO_LARGE", "Request body too large"),
    /// The body has a content type other than JSON or form data.
    UnsupportedMediaType = (415, "UNSUPPORTED_MEDIA_TYPE", "Content-Type must be application/json or application/x-www-form-urlencoded"),
    /// Rate limit reached for this client and path.
    TooManyRequests = (429, "TOO_MANY_REQUESTS", "Too many requests. Please try again later."),
    /// Too many password hashes are running; retry shortly.
    ServerBusy = (503, "SERVER_BUSY", "The server is busy; try again shortly"),
    /// The database did not answer in time or is down; retry later.
    DatabaseUnavailable = (503, "DATABASE_UNAVAILABLE", "The database is unavailable; try again shortly"),
    /// `/ready`: the database does not answer or no signing key is loaded; the message says which.
    NotReady = (503, "NOT_READY", "Not ready"),
    /// No usable signing key (e.g. a key the configured secret cannot decrypt); the log says which.
    SigningKeyUnavailable = (500, "SIGNING_KEY_UNAVAILABLE", "No usable signing key; see the server log"),
    /// A failure that is Sigil's fault; the log has the details.
    InternalError = (500, "INTERNAL_SERVER_ERROR", "Internal server error"),
}

impl ErrorCode {
    /// The body for this code with its default message.
    pub fn body(self) -> ErrorBody {
        ErrorBody {
            message: self.message().to_owned(),
            code: self.as_str().to_owned(),
        }
    }

    /// The body for this code with a specific message.
    pub fn body_with(self, message: impl Into<String>) -> ErrorBody {
        ErrorBody {
            message: message.into(),
            code: self.as_str().to_owned(),
        }
    }
}

/// OpenAPI schemas: `ErrorCode` is a string enum of every wire name (the description gives each
/// code's status), and `ErrorBody` refers to it for its `code`.
#[cfg(feature = "openapi")]
mod openapi {
    use std::borrow::Cow;

    use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
    use utoipa::openapi::{Ref, RefOr};
    use utoipa::{PartialSchema, ToSchema};

    use super::{ErrorBody, ErrorCode};

    impl PartialSchema for ErrorCode {
        fn schema() -> RefOr<Schema> {
            let mut description = String::from(
                "Stable machine-readable error code. Each code has one HTTP status:\n",
            );
            for code in ErrorCode::ALL {
                description.push_str(&format!("\n- `{}` ({})", code.as_str(), code.status()));
            }
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some(ErrorCode::ALL.iter().map(|c| c.as_str())))
                .description(Some(description))
                .into()
        }
    }

    impl ToSchema for ErrorCode {
        fn name() -> Cow<'static, str> {
            Cow::Borrowed("ErrorCode")
        }
    }

    impl PartialSchema for ErrorBody {
        fn schema() -> RefOr<Schema> {
            ObjectBuilder::new()
                .description(Some("The JSON body of every error response."))
                .property(
                    "message",
                    ObjectBuilder::new()
                        .schema_type(Type::String)
                        .description(Some("Human-readable explanation.")),
                )
                .required("message")
                .property("code", Ref::from_schema_name(ErrorCode::name()))
                .required("code")
                .into()
        }
    }

    impl ToSchema for ErrorBody {
        fn name() -> Cow<'static, str> {
            Cow::Borrowed("ErrorBody")
        }

        fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
            schemas.push((ErrorCode::name().into_owned(), ErrorCode::schema()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_consistent() {
        let mut names: Vec<_> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ErrorCode::ALL.len(), "codes are unique");
        for code in ErrorCode::ALL {
            assert_eq!(ErrorCode::from_name(code.as_str()), Some(*code));
            assert!((400..600).contains(&code.status()));
            assert!(!code.message().is_empty());
        }
    }

    #[test]
    fn better_auth_bodies() {
        let body = serde_json::to_string(&ErrorCode::Unauthorized.body()).unwrap();
        assert_eq!(body, r#"{"message":"Unauthorized","code":"UNAUTHORIZED"}"#);
        assert_eq!(ErrorCode::UserAlreadyExists.status(), 422);
        assert_eq!(
            ErrorCode::InvalidEmailOrPassword.message(),
            "Invalid email or password"
        );
    }
}
