//! Web origins: the `scheme://host[:port]` of an http(s) URL, compared the way browsers send them.

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

#[cfg(test)]
mod tests {
    use super::*;

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
