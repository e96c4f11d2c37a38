//! What the load and the probes share: the HTTP client, sign-up, a token's `kid`, clocks.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::Client;
use serde_json::{Value, json};

/// Milliseconds since the Unix epoch.
pub fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// A client for loopback: no proxy from the environment, a per-request timeout.
pub fn client(timeout: Duration) -> Result<Client> {
    Client::builder()
        .no_proxy()
        .timeout(timeout)
        .pool_max_idle_per_host(256)
        .build()
        .context("building the HTTP client")
}

/// `base` without a trailing slash, plus the `/api/auth` route.
pub fn api(base: &str, route: &str) -> String {
    format!("{}/api/auth{route}", base.trim_end_matches('/'))
}

/// Signs a new user up at `base` (Origin `origin`) and returns the session token: the
/// `set-auth-token` header, else the body's `token`.
pub async fn sign_up(client: &Client, base: &str, origin: &str, email: &str) -> Result<String> {
    let response = client
        .post(api(base, "/sign-up/email"))
        .header("origin", origin)
        .json(&json!({"email": email, "password": "fleet-password-123456", "name": "Fleet"}))
        .send()
        .await
        .with_context(|| format!("sign-up at {base}"))?;
    let status = response.status();
    let header = response
        .headers()
        .get("set-auth-token")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body: Value = response.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        bail!("sign-up at {base}: HTTP {status}: {body}");
    }
    match header.or_else(|| body["token"].as_str().map(str::to_owned)) {
        Some(token) => Ok(token),
        None => bail!("sign-up at {base}: no set-auth-token header and no token in {body}"),
    }
}

/// A fresh address for a user (unique within this process and across processes by time).
pub fn fresh_email(tag: &str, n: u64) -> String {
    format!("{tag}-{}-{n}@fleet.example.com", unix_ms())
}

/// GET `/token` with a bearer: `Ok(Some(jwt))` on 200, `Ok(None)` on 401, else an error.
pub async fn get_token(client: &Client, base: &str, session: &str) -> Result<Option<String>> {
    let response = client
        .get(api(base, "/token"))
        .bearer_auth(session)
        .send()
        .await?;
    let status = response.status().as_u16();
    match status {
        200 => {
            let body: Value = response.json().await?;
            match body["token"].as_str() {
                Some(t) => Ok(Some(t.to_owned())),
                None => bail!("/token at {base}: 200 without a token: {body}"),
            }
        }
        401 => Ok(None),
        other => bail!("/token at {base}: HTTP {other}"),
    }
}

/// The `kid` of a compact JWS's protected header (not verified), or `"-"`.
pub fn kid_of(token: &str) -> String {
    token
        .split('.')
        .next()
        .and_then(|h| URL_SAFE_NO_PAD.decode(h).ok())
        .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
        .and_then(|header| header["kid"].as_str().map(str::to_owned))
        .unwrap_or_else(|| "-".to_owned())
}

/// The `kid`s of a JWKS document at `base`.
pub async fn jwks_kids(client: &Client, base: &str) -> Result<Vec<String>> {
    let response = client.get(api(base, "/jwks")).send().await?;
    let status = response.status();
    if !status.is_success() {
        bail!("/jwks at {base}: HTTP {status}");
    }
    let body: Value = response.json().await?;
    Ok(body["keys"]
        .as_array()
        .map(|keys| {
            keys.iter()
                .filter_map(|k| k["kid"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default())
}

/// The median and the maximum of `values` (milliseconds); `(0, 0)` when empty.
pub fn p50_max(values: &[f64]) -> (f64, f64) {
    if values.is_empty() {
        return (0.0, 0.0);
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    (sorted[sorted.len() / 2], sorted[sorted.len() - 1])
}

/// Writes `value` as pretty JSON to `path`.
pub fn write_json(path: &std::path::Path, value: &impl serde::Serialize) -> Result<()> {
    let text = serde_json::to_string_pretty(value)?;
    std::fs::write(path, text + "\n").with_context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kid_of_reads_the_protected_header() {
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"EdDSA","kid":"k1","typ":"JWT"}"#);
        assert_eq!(kid_of(&format!("{header}.e30.sig")), "k1");
        assert_eq!(kid_of("not a token"), "-");
    }

    #[test]
    fn p50_and_max() {
        assert_eq!(p50_max(&[]), (0.0, 0.0));
        assert_eq!(p50_max(&[3.0, 1.0, 2.0]), (2.0, 3.0));
    }
}
