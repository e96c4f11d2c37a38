//! Web origins: the `scheme://host[:port]` of an http(s) URL, compared the way browsers send them,
//! and the origins trusted to call the API with credentials.

/// `scheme://host[:port]` of an http(s) URL, lowercased scheme and host, default port dropped.
/// `None` for anything else (other schemes, credentials in the authority, backslashes).
pub(crate) fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return None;
    }
    let authority = rest.split(['/', '?', '#']).next()?;
    if authority.is_empty()
        || authority.contains(['@', '\\'])
        || authority.contains(|c: char| c.is_whitespace() || c.is_control())
    {
        return None;
    }
    let authority = authority.to_ascii_lowercase();
    let default_port = if scheme == "http" { ":80" } else { ":443" };
    let authority = authority.strip_suffix(default_port).unwrap_or(&authority);
    Some(format!("{scheme}://{authority}"))
}

/// The origins allowed to send credentials: the base URL's origin plus configured patterns
/// (`https://app.example.com`, `*.example.com`, `https://*.example.com`).
#[derive(Clone, Debug)]
pub(crate) struct TrustedOrigins {
    patterns: Vec<String>,
}

impl TrustedOrigins {
    /// The base origin plus patterns.
    pub(crate) fn new(base_origin: &str, extra: &[String]) -> Self {
        let mut patterns = vec![base_origin.to_owned()];
        patterns.extend(
            extra
                .iter()
                .map(|p| p.trim_end_matches('/').to_ascii_lowercase()),
        );
        TrustedOrigins { patterns }
    }

    /// The base URL's origin (always trusted).
    pub(crate) fn base(&self) -> &str {
        self.patterns.first().map_or("", String::as_str)
    }

    /// Whether an origin (`scheme://host[:port]`) is trusted.
    pub(crate) fn allows(&self, origin: &str) -> bool {
        let Some(origin) = origin_of(origin) else {
            return false;
        };
        let (scheme, host) = origin.split_once("://").unwrap_or(("", &origin));
        self.patterns.iter().any(|p| match p.split_once("://") {
            Some((ps, ph)) => ps == scheme && glob(ph, host),
            None => glob(p, host),
        })
    }

    /// Whether a `callbackURL` is acceptable: a relative path, or a URL on a trusted origin.
    pub(crate) fn allows_callback(&self, url: &str) -> bool {
        // Browsers drop tabs and newlines and read `\` as `/`, so "/\t/evil.com" would become
        // "//evil.com": refuse anything that a browser would rewrite.
        if url.contains(|c: char| c.is_whitespace() || c.is_control() || c == '\\') {
            return false;
        }
        if url.starts_with('/') && !url.starts_with("//") {
            return true;
        }
        origin_of(url).is_some_and(|o| self.allows(&o))
    }
}

/// `*` matches any run of characters; everything else literally.
fn glob(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == text,
        Some((prefix, rest)) => {
            let Some(tail) = text.strip_prefix(prefix) else {
                return false;
            };
            (0..=tail.len()).any(|i| tail.is_char_boundary(i) && glob(rest, &tail[i..]))
        }
    }
}

#[cfg(test)]
pub(crate) fn example_trusted() -> TrustedOrigins {
    TrustedOrigins::new(
        "http://127.0.0.1:3000",
        &[
            "https://app.example.com".into(),
            "*.example.org".into(),
            "https://*.corp.io".into(),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_patterns() {
        let t = example_trusted();
        for ok in [
            "http://127.0.0.1:3000",
            "https://app.example.com",
            "http://a.example.org",
            "https://x.y.corp.io",
        ] {
            assert!(t.allows(ok), "{ok}");
        }
        for bad in [
            "http://127.0.0.1:3001",
            "http://app.example.com",
            "https://example.org.evil.com",
            "http://x.corp.io",
            "null",
            "",
        ] {
            assert!(!t.allows(bad), "{bad}");
        }
        assert!(t.allows_callback("/dashboard"));
        assert!(t.allows_callback("https://app.example.com/x"));
        assert!(!t.allows_callback("//evil.com"));
        assert!(!t.allows_callback("https://evil.com/"));
        assert!(!t.allows_callback("javascript:alert(1)"));
        for sneaky in [
            "/\t/evil.com",
            "/\n/evil.com",
            "/\\evil.com",
            "https://evil.com\\.example.org/",
        ] {
            assert!(!t.allows_callback(sneaky), "{sneaky:?}");
        }
    }

    #[test]
    fn origins() {
        assert_eq!(
            origin_of("http://localhost:3000/api").as_deref(),
            Some("http://localhost:3000")
        );
        assert_eq!(origin_of("https://a.b:443").as_deref(), Some("https://a.b"));
        assert_eq!(origin_of("javascript:alert(1)"), None);
        assert_eq!(origin_of("http://user@evil.com"), None);
        assert_eq!(origin_of("https://evil.com\\.example.org"), None);
    }
}
