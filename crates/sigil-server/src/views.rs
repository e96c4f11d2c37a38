//! The public shapes of a user and a session, as every response (and the default token payload)
//! carries them.

use serde_json::{Map, Value};
use sigil_proto::{SessionView, UserView};

use crate::store::{Session, User};
use crate::time::iso;

/// The public user object, with its additional fields: the `user` of every response and the
/// default payload of session tokens.
pub(crate) fn user_view(user: &User, additional: Map<String, Value>) -> UserView {
    UserView {
        id: user.id.clone(),
        name: user.name.clone(),
        email: user.email.clone(),
        email_verified: user.email_verified,
        image: user.image.clone(),
        created_at: iso(user.created_at),
        updated_at: iso(user.updated_at),
        additional,
    }
}

/// The public session object.
pub(crate) fn session_view(session: &Session) -> SessionView {
    SessionView {
        id: session.id.clone(),
        expires_at: iso(session.expires_at),
        token: session.token.clone(),
        created_at: iso(session.created_at),
        updated_at: iso(session.updated_at),
        ip_address: session.ip_address.clone(),
        user_agent: session.user_agent.clone(),
        user_id: session.user_id.clone(),
    }
}
