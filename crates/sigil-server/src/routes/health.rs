//! `GET /ok`: the process answers (liveness). `GET /ready`: it can do its work (readiness).

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use sigil_proto::{ErrorBody, ErrorCode, OkResponse};

use crate::error::ApiError;
use crate::push::PushState;
use crate::state::SharedState;

/// `GET /ready`'s answer when ready.
#[derive(serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct ReadyResponse {
    /// Always `true` (otherwise the answer is a 503 error).
    ready: bool,
    /// `ok`.
    database: &'static str,
    /// The kid of the key that signs now.
    signing_key: String,
    /// How other instances' changes arrive: `listening`, `polling` or `none`.
    changes: &'static str,
}

/// How long each readiness check may take: short, so that a balancer polling every second never
/// piles requests up.
const READY_TIMEOUT: Duration = Duration::from_secs(1);

/// Always `{"ok": true}`; served without touching the database.
#[utoipa::path(
    get,
    path = "/ok",
    tag = "health",
    description = "Not rate limited; does not touch the database.",
    responses((status = 200, description = "The process answers", body = OkResponse))
)]
pub(super) async fn ok() -> Json<OkResponse> {
    Json(OkResponse { ok: true })
}

/// `200 {"ready": true, …}` when the database answers within a second and a signing key is
/// loaded (the first one is made if there is none, as a first token would); otherwise `503
/// NOT_READY` with a message naming what is not. How other instances' changes arrive (pushed or
/// polled) is reported, not judged: polling is degraded, not unready.
#[utoipa::path(
    get,
    path = "/ready",
    tag = "health",
    description = "Readiness: the database answers within a second and a signing key of the default algorithm is loaded (the first key is made if there is none). `changes`: `listening`, `polling` (degraded, still ready) or `none` (SQLite).",
    responses(
        (status = 200, description = "Ready", body = ReadyResponse),
        (status = 503, description = "Not ready (`NOT_READY`); the message names what", body = ErrorBody)
    )
)]
pub(super) async fn ready(State(state): State<SharedState>) -> Result<Response, ApiError> {
    // Both at once (the answer within a second), and the public answer in fixed words: the
    // details (paths, key ids, advice about secrets) go to the log only.
    let keys = state.minter.keys();
    let (database, signing) = tokio::join!(
        tokio::time::timeout(READY_TIMEOUT, state.store.ping()),
        // The default algorithm's key (the first is made if there is none): what `/token` signs
        // with. Another algorithm's trouble is logged by the key watch, and does not take the
        // instance out of a balancer.
        tokio::time::timeout(READY_TIMEOUT, Box::pin(keys.signing_key())),
    );
    let database = match database {
        Ok(Ok(())) => None,
        Ok(Err(e)) => {
            tracing::warn!(error = %crate::report::Chain(&e), "not ready: database");
            Some("database: unavailable".to_owned())
        }
        Err(_) => Some(format!("database: no answer within {READY_TIMEOUT:?}")),
    };
    let signing = match signing {
        Ok(Ok(key)) => Ok(key.pair.kid().unwrap_or_default().to_owned()),
        Ok(Err(e)) => {
            tracing::warn!(error = %crate::report::Chain(&e), "not ready: signing key");
            Err("signing key: unavailable".to_owned())
        }
        Err(_) => Err(format!("signing key: not loaded within {READY_TIMEOUT:?}")),
    };
    let push = match state.push.status.borrow().state {
        PushState::Listening => "listening",
        PushState::Polling => "polling",
        _ => "none",
    };
    match (database, signing) {
        (None, Ok(kid)) => Ok(Json(ReadyResponse {
            ready: true,
            database: "ok",
            signing_key: kid,
            changes: push,
        })
        .into_response()),
        (database, signing) => {
            let reasons: Vec<String> = database.into_iter().chain(signing.err()).collect();
            Err(ApiError::with_message(
                ErrorCode::NotReady,
                format!("not ready: {}", reasons.join("; ")),
            ))
        }
    }
}
