//! Better Auth's session cookie: `<token>.<base64(HMAC-SHA256(secret, token))>`, URL-encoded, and
//! the bearer-token forms its bearer plugin accepts.

use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use percent_encoding::{NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};

use crate::config::Secret;

/// Cookie name of the session token (without the `__Secure-` prefix).
pub(crate) const SESSION_TOKEN: &str = "better-auth.session_token";
/// Cookie set when the user chose not to be remembered.
pub(crate) const DONT_REMEMBER: &str = "better-auth.dont_remember";

/// Signs and checks cookie values with the current secret.
#[derive(Clone)]
pub(crate) struct CookieSigner {
    key: hmac::Key,
    secure: bool,
}

impl CookieSigner {
    /// A signer for `secret`; `secure` adds `Secure` and the `__Secure-` prefix.
    pub(crate) fn new(secret: &Secret, secure: bool) -> Self {
        CookieSigner {
            key: hmac::Key::new(hmac::HMAC_SHA256, secret.expose().as_bytes()),
            secure,
        }
    }

    fn signature(&self, value: &str) -> String {
        STANDARD.encode(hmac::sign(&self.key, value.as_bytes()).as_ref())
    }

    /// `value.signature`, not yet URL-encoded (the `set-auth-token` header form).
    pub(crate) fn sign(&self, value: &str) -> String {
        format!("{value}.{}", self.signature(value))
    }

    /// Checks a decoded `value.signature` (split at the last dot; the signature must be 44
    /// characters of standard base64 ending in `=`) and returns the value.
    pub(crate) fn verify<'a>(&self, signed: &'a str) -> Option<&'a str> {
        let (value, signature) = signed.rsplit_once('.')?;
        if signature.len() != 44 || !signature.ends_with('=') {
            return None;
        }
        let tag = STANDARD.decode(signature).ok()?;
        hmac::verify(&self.key, value.as_bytes(), &tag).ok()?;
        Some(value)
    }

    /// The full cookie name, with `__Secure-` on https.
    pub(crate) fn name(&self, base: &str) -> String {
        if self.secure {
            format!("__Secure-{base}")
        } else {
            base.to_owned()
        }
    }

    /// A `Set-Cookie` value: signed, URL-encoded, `Max-Age` when given, `Path=/; HttpOnly;
    /// SameSite=Lax`, and `Secure` on https.
    pub(crate) fn set_cookie(&self, base: &str, value: &str, max_age: Option<i64>) -> String {
        let signed = self.sign(value);
        let mut out = format!(
            "{}={}",
            self.name(base),
            utf8_percent_encode(&signed, COMPONENT)
        );
        if let Some(age) = max_age {
            out.push_str(&format!("; Max-Age={age}"));
        }
        out.push_str("; Path=/; HttpOnly");
        if self.secure {
            out.push_str("; Secure");
        }
        out.push_str("; SameSite=Lax");
        out
    }

    /// A `Set-Cookie` value that deletes the cookie.
    pub(crate) fn expire_cookie(&self, base: &str) -> String {
        let secure = if self.secure { "; Secure" } else { "" };
        format!(
            "{}=; Max-Age=0; Path=/; HttpOnly{secure}; SameSite=Lax",
            self.name(base)
        )
    }

    /// The session token from a `Cookie` header, if its signature is valid.
    pub(crate) fn session_from_cookie_header(&self, header: &str) -> Option<String> {
        let name = self.name(SESSION_TOKEN);
        header
            .split(';')
            .filter_map(|pair| pair.trim().split_once('='))
            .filter(|(k, _)| *k == name)
            .find_map(|(_, v)| {
                let decoded = percent_decode_str(v).decode_utf8().ok()?;
                self.verify(&decoded).map(str::to_owned)
            })
    }

    /// Whether a `Cookie` header holds the signed "don't remember me" flag.
    pub(crate) fn dont_remember(&self, header: &str) -> bool {
        let name = self.name(DONT_REMEMBER);
        header
            .split(';')
            .filter_map(|pair| pair.trim().split_once('='))
            .any(|(k, v)| {
                k == name
                    && percent_decode_str(v)
                        .decode_utf8()
                        .ok()
                        .is_some_and(|d| self.verify(&d) == Some("true"))
            })
    }

    /// The session token from an `Authorization` header, Better Auth bearer-plugin style: the
    /// scheme is case-insensitive; `token.signature` (URL-decoded if it contains `%`) must verify;
    /// a bare token without a dot is accepted as is. Anything else is ignored (`None`), so that a
    /// valid cookie still works.
    pub(crate) fn session_from_authorization(&self, header: &str) -> Option<String> {
        let (scheme, rest) = header.split_once(' ')?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return None;
        }
        let token = rest.trim();
        if token.is_empty() {
            return None;
        }
        if !token.contains('.') {
            return Some(token.to_owned());
        }
        let decoded = if token.contains('%') {
            percent_decode_str(token).decode_utf8_lossy().into_owned()
        } else {
            token.to_owned()
        };
        let (value, signature) = decoded.split_once('.')?;
        let signature = signature.split('.').next().unwrap_or_default();
        let tag = STANDARD
            .decode(signature)
            .or_else(|_| URL_SAFE.decode(signature))
            .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(signature))
            .ok()?;
        hmac::verify(&self.key, value.as_bytes(), &tag).ok()?;
        Some(value.to_owned())
    }
}

/// `encodeURIComponent`'s set: everything but `A-Z a-z 0-9 - _ . ! ~ * ' ( )` is escaped.
const COMPONENT: &percent_encoding::AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'!')
    .remove(b'~')
    .remove(b'*')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')');

#[cfg(test)]
mod tests {
    use super::*;

    /// Observed from Better Auth 1.7.25 (shared/anchors/better-auth) with this secret.
    const SECRET: &str = "anchor-dev-secret-0123456789abcdef0123456789abcdef";
    const TOKEN: &str = "0NDfE0Z7GsRFhtb7EUi7rXUcLbwFp59B";
    const SIGNED: &str =
        "0NDfE0Z7GsRFhtb7EUi7rXUcLbwFp59B.SqHpGPrUTsz48kOqt9jenA/SAEyUMMMnO8wu03yXTU8=";
    const COOKIE: &str = "better-auth.session_token=0NDfE0Z7GsRFhtb7EUi7rXUcLbwFp59B.SqHpGPrUTsz48kOqt9jenA%2FSAEyUMMMnO8wu03yXTU8%3D; Max-Age=604800; Path=/; HttpOnly; SameSite=Lax";

    fn signer(secure: bool) -> CookieSigner {
        CookieSigner::new(&Secret::new(SECRET), secure)
    }

    #[test]
    fn byte_for_byte_with_better_auth() {
        let s = signer(false);
        assert_eq!(s.sign(TOKEN), SIGNED);
        assert_eq!(s.set_cookie(SESSION_TOKEN, TOKEN, Some(604_800)), COOKIE);
        let header = COOKIE.split(';').next().unwrap();
        assert_eq!(s.session_from_cookie_header(header).as_deref(), Some(TOKEN));
    }

    #[test]
    fn secure_variant() {
        let s = signer(true);
        let c = s.set_cookie(SESSION_TOKEN, TOKEN, None);
        assert!(c.starts_with("__Secure-better-auth.session_token="));
        assert!(c.ends_with("; Path=/; HttpOnly; Secure; SameSite=Lax"));
        assert_eq!(
            s.expire_cookie(SESSION_TOKEN),
            "__Secure-better-auth.session_token=; Max-Age=0; Path=/; HttpOnly; Secure; SameSite=Lax"
        );
    }

    #[test]
    fn tampered_values_are_rejected() {
        let s = signer(false);
        let other = CookieSigner::new(
            &Secret::new("another-secret-0123456789abcdef0123456789"),
            false,
        );
        assert_eq!(s.verify(&other.sign(TOKEN)), None);
        assert_eq!(s.verify(&SIGNED.replace('0', "1")), None);
        assert_eq!(s.verify(TOKEN), None);
        assert_eq!(s.verify(&format!("{TOKEN}.short=")), None);
        assert_eq!(
            s.session_from_cookie_header("better-auth.session_token=garbage%zz"),
            None
        );
    }

    #[test]
    fn bearer_forms() {
        let s = signer(false);
        assert_eq!(
            s.session_from_authorization(&format!("Bearer {SIGNED}"))
                .as_deref(),
            Some(TOKEN)
        );
        assert_eq!(
            s.session_from_authorization(&format!("bearer {SIGNED}"))
                .as_deref(),
            Some(TOKEN)
        );
        let encoded = utf8_percent_encode(SIGNED, COMPONENT).to_string();
        assert_eq!(
            s.session_from_authorization(&format!("BEARER {encoded}"))
                .as_deref(),
            Some(TOKEN)
        );
        assert_eq!(
            s.session_from_authorization(&format!("Bearer {TOKEN}"))
                .as_deref(),
            Some(TOKEN)
        );
        for bad in [
            format!("Basic {SIGNED}"),
            "Bearer ".to_owned(),
            format!("Bearer {TOKEN}.AAAA"),
            "Bearer eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ1In0.sig".to_owned(),
            "Bearer".to_owned(),
        ] {
            assert_eq!(s.session_from_authorization(&bad), None, "{bad}");
        }
    }
}
