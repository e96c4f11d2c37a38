//! `GET /ok`: the process answers (liveness). `GET /ready`: it can do its work (readiness).

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use sigil_proto::{ErrorCode, OkResponse};

use crate::error::ApiError;
use crate::push::PushState;
use crate::state::SharedState;

/// How long each readiness check may take: short, so that a balancer polling every second never
/// piles requests up.
const READY_TIMEOUT: Duration = Duration::from_secs(1);

/// Always `{"ok": true}`; served without touching the database.
pub(super) async fn ok() -> Json<OkResponse> {
    Json(OkResponse { ok: true })
}

/// `200 {"ready": true, …}` when the database answers within a second and a signing key is
/// loaded (the first one is made if there is none, as a first token would); otherwise `503
/// NOT_READY` with a message naming what is not. How other instances' changes arrive (pushed or
/// polled) is reported, not judged: polling is degraded, not unready.
pub(super) async fn ready(State(state): State<SharedState>) -> Result<Response, ApiError> {
    let database = match tokio::time::timeout(READY_TIMEOUT, state.store.ping()).await {
        Ok(Ok(())) => None,
        Ok(Err(e)) => Some(format!("database: {e}")),
        Err(_) => Some(format!("database: no answer within {READY_TIMEOUT:?}")),
    };
    let keys = state.minter.keys();
    let signing = match tokio::time::timeout(READY_TIMEOUT, Box::pin(keys.signing_key())).await {
        Ok(Ok(key)) => Ok(key.pair.kid().unwrap_or_default().to_owned()),
        Ok(Err(e)) => Err(format!("signing key: {e}")),
        Err(_) => Err(format!("signing key: not loaded within {READY_TIMEOUT:?}")),
    };
    let push = match state.push.status.borrow().state {
        PushState::Listening => "listening",
        PushState::Polling => "polling",
        _ => "none",
    };
    match (database, signing) {
        (None, Ok(kid)) => Ok(Json(serde_json::json!({
            "ready": true,
            "database": "ok",
            "signingKey": kid,
            "changes": push,
        }))
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
