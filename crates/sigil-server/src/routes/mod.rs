//! The `/api/auth` routes, by feature: sessions (sign-up, sign-in, get-session, sign-out), JWTs
//! (token, key set) and health; and what runs before them (CORS, origin checks, rate limits).

mod console;
mod discovery;
mod fast;
mod health;
mod jwt;
mod openapi;
mod session;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::header::{CACHE_CONTROL, PRAGMA};
use axum::http::{HeaderName, HeaderValue, Method};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use sigil_proto::ErrorCode;

use crate::error::ApiError;
use crate::extract::ClientIp;
use crate::guard;
use crate::origin::TrustedOrigins;
use crate::paths;
use crate::state::SharedState;

/// The router over `state`, to be nested under the base path.
pub(crate) fn router(state: SharedState) -> Router {
    let router = Router::new();
    // The key timeline is the console's data: every key's state and history, which `/jwks`
    // does not show, to anyone signed in. Served only with the console.
    let router = if state.config.console {
        router.route(paths::KEY_TIMELINE, get(jwt::key_timeline))
    } else {
        router
    };
    router
        .route(paths::SIGN_UP, post(session::sign_up))
        .route(paths::SIGN_IN, post(session::sign_in))
        .route(
            paths::GET_SESSION,
            get(session::get_session)
                .post(|| async { ApiError::new(ErrorCode::MethodNotAllowedDeferSessionRequired) }),
        )
        .route(paths::SIGN_OUT, post(session::sign_out))
        .route(paths::OK, get(health::ok))
        .route(paths::READY, get(health::ready))
        .route(paths::TOKEN, get(jwt::token))
        .route(&state.config.keys.jwks_path, get(jwt::jwks))
        .route(paths::OPENAPI, get(openapi::serve(&state.config)))
        .fallback(|| async { ApiError::new(ErrorCode::NotFound) })
        .method_not_allowed_fallback(|| async { ApiError::new(ErrorCode::MethodNotAllowed) })
        .layer(middleware::from_fn_with_state(state.clone(), guards))
        .layer(cors(&state.trusted))
        .with_state(state)
}

/// CORS for the trusted origins, with credentials: browsers on those origins may call the API
/// with cookies.
fn cors(trusted: &TrustedOrigins) -> tower_http::cors::CorsLayer {
    use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
    use tower_http::cors::{AllowOrigin, CorsLayer};
    let trusted = trusted.clone();
    CorsLayer::new()
        .allow_origin(AllowOrigin::predicate(move |origin, _| {
            cors_allows(&trusted, origin)
        }))
        .allow_credentials(true)
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([CONTENT_TYPE, AUTHORIZATION])
        // `Access-Control-Expose-Headers` is merged by the handlers that set the exposed
        // headers, so that the layer does not overwrite it.
        .max_age(std::time::Duration::from_secs(600))
}

/// Whether CORS lets `origin` read responses: a trusted origin.
fn cors_allows(trusted: &TrustedOrigins, origin: &HeaderValue) -> bool {
    origin.to_str().is_ok_and(|o| trusted.allows(o))
}

/// The console page at `/` (empty when it is off), to be merged at the host's root.
pub(crate) fn console_router(state: &SharedState) -> Router {
    console::router(&state.config)
}

/// The OIDC discovery document at the issuer's path, to be merged at the host's root.
pub(crate) fn discovery_router(state: SharedState) -> Router {
    discovery::router(state)
}

/// `app`, in which the router is nested at the configured base path, with `GET` of the key set
/// answered in front of it (see [`fast`]).
pub(crate) fn with_fast_jwks(state: SharedState, app: Router) -> Router {
    fast::in_front_of(state, app)
}

/// Origin/CSRF checks and rate limits, before any handler.
async fn guards(State(state): State<SharedState>, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    // Every sign-in and sign-up path (not only the routes that exist) gets the login checks.
    let login = path.starts_with("/sign-in") || path.starts_with("/sign-up");
    if let Err(e) = guard::check_origin(request.method(), request.headers(), &state.trusted, login)
    {
        return e.into_response();
    }
    // The key set and the health checks: limiting them protects nothing, and a balancer's probes
    // must never be refused because others spent its client's budget (readiness costs one
    // trivial query).
    let exempt = path == paths::OK || path == paths::READY || path == state.config.keys.jwks_path;
    if state.config.rate_limit
        && !exempt
        && let ClientIp(ip) = ClientIp::of(request.extensions(), request.headers(), &state)
        && let Err(retry) = state.limiter.check(ip, path, std::time::Instant::now())
    {
        crate::telemetry::rate_limited();
        return ApiError::new(ErrorCode::TooManyRequests)
            .header(
                HeaderName::from_static("x-retry-after"),
                HeaderValue::from(retry),
            )
            .into_response();
    }
    next.run(request).await
}

/// Marks a response as not to be stored by any cache (it carries a session or a token).
fn no_store(response: &mut Response) {
    let headers = response.headers_mut();
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(PRAGMA, HeaderValue::from_static("no-cache"));
}
