//! Token minting: session tokens (with the configured claims or the caller's hooks), and the
//! server-side `sign_jwt` / `verify_jwt` API (Better Auth's `signJWT` / `verifyJWT`). One
//! `Minter` serves the routes and [`crate::Auth`] alike.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde_json::{Map, Value};
use sigil_jose::Alg;
use sigil_proto::UserView;
use thiserror::Error;

pub use crate::claims::SignOverrides;
use crate::claims::{ClaimsTemplate, apply_claim_rules, mapped_payload, public_user_claims};
use crate::config::JwtConfig;
use crate::keys::{KeyError, KeyManager};
use crate::session_cache::LiveSession;
use crate::store::{Session, User};
use crate::telemetry::TokenRoute;
use crate::time::Clock;

/// The future a claims hook returns.
pub type HookFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// Better Auth's `definePayload`: the claims of a session token, from its user and session. Its
/// result replaces the default payload (the public user object); it cannot set `sub`.
pub type PayloadHook = Arc<dyn Fn(User, Session) -> HookFuture<Map<String, Value>> + Send + Sync>;

/// Better Auth's `getSubject`: the `sub` of a session token (default: the user id).
pub type SubjectHook = Arc<dyn Fn(User, Session) -> HookFuture<Option<String>> + Send + Sync>;

/// The claims hooks of session tokens.
#[derive(Clone, Default)]
pub(crate) struct Hooks {
    pub(crate) payload: Option<PayloadHook>,
    pub(crate) subject: Option<SubjectHook>,
}

/// Why [`crate::Auth::verify_jwt`] refused a token.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The token is invalid (the code says why).
    #[error(transparent)]
    Token(#[from] sigil_jose::Error),
    /// The keys could not be loaded.
    #[error(transparent)]
    Keys(#[from] KeyError),
}

/// Mints and checks this server's tokens: the claim rules, the hooks and the signing keys.
pub(crate) struct Minter {
    keys: Arc<KeyManager>,
    config: JwtConfig,
    hooks: Hooks,
    clock: Clock,
}

impl Minter {
    pub(crate) fn new(
        keys: Arc<KeyManager>,
        config: JwtConfig,
        hooks: Hooks,
        clock: Clock,
    ) -> Self {
        Minter {
            keys,
            config,
            hooks,
            clock,
        }
    }

    /// The signing keys.
    pub(crate) fn keys(&self) -> &Arc<KeyManager> {
        &self.keys
    }

    /// Whether get-session carries `set-auth-jwt`.
    pub(crate) fn sets_jwt_header(&self) -> bool {
        self.config.set_jwt_header
    }

    /// The token of a live session: `{iat, ...payload, sub}` under the claim rules, where the
    /// payload is the hook's, the configured claims, or the public user object. Without hooks
    /// the claims do not change while the session is cached, except `iat` and `exp`: they are
    /// worked out once per cached session and only the times are added per token. With
    /// `audience` (already checked against the allow-list), `aud` is that one value. Signed
    /// with `alg` (one of the configured algorithms), else the default one.
    pub(crate) async fn session_token(
        &self,
        live: &LiveSession,
        token: &str,
        route: TokenRoute,
        audience: Option<&str>,
        alg: Option<Alg>,
    ) -> Result<String, KeyError> {
        let started = std::time::Instant::now();
        let alg = alg.unwrap_or(self.keys.alg());
        let signed = self.sign_session_token(live, token, audience, alg).await;
        if signed.is_ok() {
            crate::telemetry::token_issued(alg, route, started.elapsed());
        }
        signed
    }

    async fn sign_session_token(
        &self,
        live: &LiveSession,
        token: &str,
        audience: Option<&str>,
        alg: Alg,
    ) -> Result<String, KeyError> {
        if self.hooks.payload.is_some() || self.hooks.subject.is_some() {
            return self.hooked_session_token(live, token, audience, alg).await;
        }
        let template = live.claims.get_or_init(|| {
            let payload = self.configured_payload(&live.view, &live.session);
            ClaimsTemplate::new(payload, live.user.id.clone(), &self.config)
        });
        let now = (self.clock)();
        let key = self.keys.signing_key_for(alg).await?;
        match audience {
            None => sigil_jose::sign_jwt(&key.pair, &template.at(now)),
            Some(aud) => sigil_jose::sign_jwt(&key.pair, &template.for_audience(aud).at(now)),
        }
        .map_err(KeyError::Sign)
    }

    /// The payload without hooks: the configured claims, or the public user object.
    fn configured_payload(&self, view: &UserView, session: &Session) -> Map<String, Value> {
        if self.config.claims.is_empty() && self.config.static_claims.is_empty() {
            public_user_claims(view)
        } else {
            mapped_payload(&self.config, view, session)
        }
    }

    /// [`Minter::session_token`] with the caller's hooks, which run for every token and see the
    /// session row as stored (its `token` given back).
    async fn hooked_session_token(
        &self,
        live: &LiveSession,
        token: &str,
        audience: Option<&str>,
        alg: Alg,
    ) -> Result<String, KeyError> {
        let LiveSession { user, view, .. } = live;
        let session = &live.session_with_token(token);
        let payload = match &self.hooks.payload {
            Some(hook) => hook(user.clone(), session.clone()).await,
            None => self.configured_payload(view, session),
        };
        let subject = match &self.hooks.subject {
            Some(hook) => hook(user.clone(), session.clone()).await,
            None => None,
        }
        .unwrap_or_else(|| user.id.clone());
        let now = (self.clock)();
        let mut template = ClaimsTemplate::new(payload, subject, &self.config);
        if let Some(aud) = audience {
            template = template.for_audience(aud);
        }
        // Taken last, after every await above, so that a key revoked meanwhile is not used.
        let key = self.keys.signing_key_for(alg).await?;
        sigil_jose::sign_jwt(&key.pair, &template.at(now)).map_err(KeyError::Sign)
    }

    /// Signs any claims with the current key; `exp`, `iss` and `aud` are filled in when absent.
    pub(crate) async fn sign(
        &self,
        payload: Map<String, Value>,
        overrides: &SignOverrides,
    ) -> Result<String, KeyError> {
        let key = self.keys.signing_key().await?;
        let claims = apply_claim_rules(payload, &self.config, overrides, (self.clock)());
        sigil_jose::sign_jwt(&key.pair, &claims).map_err(KeyError::Sign)
    }

    /// Verifies a token issued here: a published key, the configured issuer and audience,
    /// `exp`/`nbf`, and a `sub`.
    pub(crate) async fn verify(&self, token: &str) -> Result<sigil_jose::Claims, VerifyError> {
        let doc = self.keys.jwks().await?;
        let algs: Vec<sigil_jose::Alg> = doc
            .set
            .keys()
            .iter()
            .filter_map(sigil_jose::PublicKey::alg)
            .collect();
        let mut policy = sigil_jose::Validation::new(algs).issuer(self.config.issuer.clone());
        for aud in &self.config.audience {
            policy = policy.audience(aud.clone());
        }
        let now = (self.clock)().timestamp();
        let claims = sigil_jose::verify_jwt(token, &doc.set, &policy, now)?;
        if claims.sub.as_deref().is_none_or(str::is_empty) {
            return Err(VerifyError::Token(sigil_jose::Error::ClaimsInvalid(
                "\"sub\" is required".into(),
            )));
        }
        Ok(claims)
    }
}
