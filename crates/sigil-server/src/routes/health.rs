//! `GET /ok`: the process answers.

use axum::Json;
use sigil_proto::OkResponse;

/// Always `{"ok": true}`; served without touching the database.
pub(super) async fn ok() -> Json<OkResponse> {
    Json(OkResponse { ok: true })
}
