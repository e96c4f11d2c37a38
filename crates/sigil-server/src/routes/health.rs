//! `GET /ok`: the process answers.

use axum::Json;
use sigil_proto::OkResponse;

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
