//! [`BearerMiddleware`]: JWTs on outgoing service-to-service requests.

use http::Extensions;
use reqwest::header::{AUTHORIZATION, HeaderValue, WWW_AUTHENTICATE};
use reqwest::{Request, Response, StatusCode};
use reqwest_middleware::{Middleware, Next};

use crate::{AuthClient, Error, Jwt};

/// A [`reqwest_middleware`] middleware that adds `Authorization: Bearer <jwt>` to every request,
/// with the JWT from [`AuthClient::token`] (or [`AuthClient::token_for`] an audience), cached and
/// refreshed by the client.
///
/// When the callee answers 401 with `WWW-Authenticate: Bearer error="invalid_token"` (as
/// `sigil-verify`'s layer does for an expired or refused token), the request is sent once more
/// — whatever its method: the callee's layer refused it before any handler ran — with a freshly
/// fetched token, and that answer is returned whatever it is. Not retried: requests whose body
/// cannot be cloned (streams), and requests whose token was fetched moments before (a token
/// refused at once is refused for a reason a new one does not fix: the callee's audience,
/// issuer or keys). The header replaces any `Authorization` the request had, and goes to every
/// host this client sends to: give the middleware only to clients for the services meant to
/// receive the token.
///
/// Errors getting a token are [`reqwest_middleware::Error::Middleware`] wrapping a
/// [`crate::Error`] (`err.downcast_ref::<sigil_client::Error>()`), e.g.
/// [`Error::SessionGone`](crate::Error::SessionGone).
///
/// ```no_run
/// # async fn run(auth: sigil_client::AuthClient) -> Result<(), Box<dyn std::error::Error>> {
/// let billing = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
///     .with(auth.middleware_for("billing"))
///     .build();
/// let answer = billing.get("https://billing.internal/charge").send().await?;
/// # let _ = answer; Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct BearerMiddleware {
    client: AuthClient,
    audience: Option<String>,
}

impl BearerMiddleware {
    /// Tokens with the server's default audience ([`AuthClient::token`]).
    pub fn new(client: AuthClient) -> Self {
        BearerMiddleware {
            client,
            audience: None,
        }
    }

    /// Tokens for `audience` ([`AuthClient::token_for`]): the callee checks `aud` against it.
    pub fn for_audience(client: AuthClient, audience: impl Into<String>) -> Self {
        BearerMiddleware {
            client,
            audience: Some(audience.into()),
        }
    }

    async fn token(&self, rejected: Option<&Jwt>) -> Result<Jwt, Error> {
        let audience = self.audience.as_deref();
        match rejected {
            None => match audience {
                Some(a) => self.client.token_for(a).await,
                None => self.client.token().await,
            },
            Some(jwt) => self.client.refresh_token(audience, jwt).await,
        }
    }
}

fn authorize(request: &mut Request, jwt: &Jwt) -> Result<(), Error> {
    let mut value = HeaderValue::from_str(&format!("Bearer {}", jwt.as_str()))
        .map_err(|_| Error::Decode("the token is not a header value".into()))?;
    value.set_sensitive(true);
    request.headers_mut().insert(AUTHORIZATION, value);
    Ok(())
}

/// Whether the answer says the token itself was refused (RFC 6750 `error="invalid_token"`, the
/// parameter read as RFC 7235 writes it: spaces around `=`, quoted or not).
fn invalid_token(response: &Response) -> bool {
    response.status() == StatusCode::UNAUTHORIZED
        && response
            .headers()
            .get_all(WWW_AUTHENTICATE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(names_invalid_token)
}

fn names_invalid_token(challenge: &str) -> bool {
    challenge.split(',').any(|part| {
        // The first parameter follows the scheme: `Bearer error="invalid_token"`.
        let part = part.trim();
        let part = match part.split_once(char::is_whitespace) {
            Some((scheme, rest)) if !scheme.contains('=') => rest,
            _ => part,
        };
        part.split_once('=').is_some_and(|(name, value)| {
            name.trim().eq_ignore_ascii_case("error")
                && value
                    .trim()
                    .trim_matches('"')
                    .eq_ignore_ascii_case("invalid_token")
        })
    })
}

#[async_trait::async_trait]
impl Middleware for BearerMiddleware {
    async fn handle(
        &self,
        mut request: Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<Response> {
        let jwt = self
            .token(None)
            .await
            .map_err(reqwest_middleware::Error::middleware)?;
        authorize(&mut request, &jwt).map_err(reqwest_middleware::Error::middleware)?;
        let retry = request.try_clone();
        let response = next.clone().run(request, extensions).await?;
        let Some(mut retry) = retry.filter(|_| invalid_token(&response)) else {
            return Ok(response);
        };
        let fresh = self
            .token(Some(&jwt))
            .await
            .map_err(reqwest_middleware::Error::middleware)?;
        if fresh.as_str() == jwt.as_str() {
            // Refused as soon as it was fetched: a new token would not fare better.
            return Ok(response);
        }
        drop(response);
        authorize(&mut retry, &fresh).map_err(reqwest_middleware::Error::middleware)?;
        next.run(retry, extensions).await
    }
}

#[cfg(test)]
mod tests {
    use super::names_invalid_token;

    #[test]
    fn invalid_token_parameters() {
        for yes in [
            r#"Bearer error="invalid_token""#,
            r#"Bearer realm="api", error="invalid_token", error_description="expired""#,
            r#"Bearer error = "invalid_token""#,
            "Bearer error=invalid_token",
            r#"bearer ERROR="INVALID_TOKEN""#,
        ] {
            assert!(names_invalid_token(yes), "{yes}");
        }
        for no in [
            r#"Bearer error="invalid_token_x""#,
            r#"Bearer error="insufficient_scope""#,
            r#"Bearer realm="invalid_token""#,
            r#"Bearer error_description="invalid_token""#,
            "Bearer",
        ] {
            assert!(!names_invalid_token(no), "{no}");
        }
    }
}
