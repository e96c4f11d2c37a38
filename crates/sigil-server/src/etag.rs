//! Strong entity tags and `If-None-Match`: one rule for every cached answer (the key set, the
//! discovery document, the console's files).

use aws_lc_rs::digest::{SHA256, digest};
use axum::http::HeaderValue;
use sigil_jose::b64;

/// A strong tag for `body`: the first 128 bits of its SHA-256, base64url, quoted.
pub(crate) fn strong(body: &[u8]) -> String {
    let hash = digest(&SHA256, body);
    format!("\"{}\"", b64::encode(&hash.as_ref()[..16]))
}

/// Whether an `If-None-Match` header names `etag` (in a list, or `*`).
pub(crate) fn matches(if_none_match: Option<&HeaderValue>, etag: &str) -> bool {
    if_none_match
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_and_star_match() {
        let tag = strong(b"body");
        assert!(tag.starts_with('"') && tag.ends_with('"') && tag.len() == 24);
        let header = |s: &str| HeaderValue::from_str(s).ok();
        assert!(matches(header(&tag).as_ref(), &tag));
        assert!(matches(header(&format!("\"x\", {tag}")).as_ref(), &tag));
        assert!(matches(header("*").as_ref(), &tag));
        assert!(!matches(header("\"x\"").as_ref(), &tag));
        assert!(!matches(None, &tag));
    }
}
