//! Web origins: the `scheme://host[:port]` of an http(s) URL, compared the way browsers send them,
//! and the origins trusted to call the API with credentials.

/// Longest origin matched against the trusted ones (2 KiB, far beyond any real
/// `scheme://host:port`); longer ones are not trusted, without looking further.
pub(crate) const MAX_ORIGIN_LEN: usize = 2048;

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
/// (`https://app.example.com`, `*.example.com`, `https://*.example.com`, `http://localhost:*`).
///
/// A pattern is `[scheme://]host[:port]`, compared label by label, in time linear in the
/// origin's length:
/// - without a scheme it matches `http` and `https`; with one, only that scheme;
/// - each `*` in the host stands for characters within ONE DNS label (never a dot):
///   `*.example.org` matches `a.example.org` but neither `a.b.example.org` nor `example.org`,
///   and `app-*.example.org` matches `app-1.example.org`;
/// - without a port it matches only the scheme's default port; `:*` matches any port.
#[derive(Clone, Debug)]
pub(crate) struct TrustedOrigins {
    base: String,
    patterns: Vec<Pattern>,
}

/// One compiled pattern.
#[derive(Clone, Debug)]
struct Pattern {
    /// `None`: http or https.
    scheme: Option<String>,
    /// The host's labels, each split at its `*`s (one piece: a literal label).
    labels: Vec<Vec<String>>,
    port: PortPattern,
}

/// What a pattern asks of the port.
#[derive(Clone, Debug, PartialEq, Eq)]
enum PortPattern {
    /// This port; `None` for the scheme's default.
    Exactly(Option<String>),
    /// `:*`.
    Any,
}

impl Pattern {
    /// Compiles `[scheme://]host[:port]` (lowercased); `literal` for the base origin, whose `*`s
    /// (if any) are not wildcards.
    fn compile(pattern: &str, literal: bool) -> Pattern {
        let (scheme, authority) = match pattern.split_once("://") {
            Some((scheme, rest)) => (Some(scheme.to_owned()), rest),
            None => (None, pattern),
        };
        let (host, port) = split_port(authority);
        let port = match port {
            Some("*") if !literal => PortPattern::Any,
            Some(p) => PortPattern::Exactly(Some(p.to_owned())),
            None => PortPattern::Exactly(None),
        };
        let labels = host
            .split('.')
            .map(|label| {
                if literal {
                    vec![label.to_owned()]
                } else {
                    label.split('*').map(str::to_owned).collect()
                }
            })
            .collect();
        Pattern {
            scheme,
            labels,
            port,
        }
    }

    /// Whether the origin `scheme://host[:port]` (as [`origin_of`] writes it) matches.
    fn matches(&self, scheme: &str, host: &str, port: Option<&str>) -> bool {
        if self.scheme.as_deref().is_some_and(|s| s != scheme) {
            return false;
        }
        let port_ok = match &self.port {
            PortPattern::Any => true,
            PortPattern::Exactly(p) => p.as_deref() == port,
        };
        if !port_ok || host.split('.').count() != self.labels.len() {
            return false;
        }
        self.labels
            .iter()
            .zip(host.split('.'))
            .all(|(pieces, label)| label_matches(pieces, label))
    }
}

/// `host` and `port` of `host[:port]`, also for a bracketed IPv6 host (`[::1]:3000`).
fn split_port(authority: &str) -> (&str, Option<&str>) {
    let colon = match authority.rfind(']') {
        Some(end) => authority
            .get(end..)
            .and_then(|tail| tail.find(':'))
            .map(|i| end + i),
        None => authority.rfind(':'),
    };
    match colon {
        Some(i) => (
            authority.get(..i).unwrap_or(authority),
            authority.get(i + 1..),
        ),
        None => (authority, None),
    }
}

/// Whether one label matches a pattern label split at its `*`s: the first piece must start it,
/// the last end it, the others appear in order between them (leftmost first, which finds a
/// match whenever there is one). A wildcard never matches an empty label.
fn label_matches(pieces: &[String], label: &str) -> bool {
    let [first, middle @ .., last] = pieces else {
        // A single piece: a literal label.
        return pieces.first().is_some_and(|p| p == label);
    };
    if label.is_empty() || label.len() < first.len() + last.len() {
        return false;
    }
    let Some(mut between) = label
        .strip_prefix(first.as_str())
        .and_then(|rest| rest.strip_suffix(last.as_str()))
    else {
        return false;
    };
    for piece in middle {
        match between.find(piece.as_str()) {
            Some(i) => between = between.get(i + piece.len()..).unwrap_or_default(),
            None => return false,
        }
    }
    true
}

impl TrustedOrigins {
    /// The base origin plus patterns, compiled once.
    pub(crate) fn new(base_origin: &str, extra: &[String]) -> Self {
        let mut patterns = vec![Pattern::compile(base_origin, true)];
        patterns.extend(
            extra
                .iter()
                .map(|p| Pattern::compile(&p.trim_end_matches('/').to_ascii_lowercase(), false)),
        );
        TrustedOrigins {
            base: base_origin.to_owned(),
            patterns,
        }
    }

    /// The base URL's origin (always trusted).
    pub(crate) fn base(&self) -> &str {
        &self.base
    }

    /// Whether an origin (`scheme://host[:port]`) is trusted. Anything longer than
    /// [`MAX_ORIGIN_LEN`] is not, unread.
    pub(crate) fn allows(&self, origin: &str) -> bool {
        if origin.len() > MAX_ORIGIN_LEN {
            return false;
        }
        let Some(origin) = origin_of(origin) else {
            return false;
        };
        let Some((scheme, authority)) = origin.split_once("://") else {
            return false;
        };
        let (host, port) = split_port(authority);
        self.patterns.iter().any(|p| p.matches(scheme, host, port))
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
            "https://x.corp.io",
        ] {
            assert!(t.allows(ok), "{ok}");
        }
        for bad in [
            "http://127.0.0.1:3001",
            "http://app.example.com",
            "https://example.org.evil.com",
            "http://x.corp.io",
            // A `*` is one label, not several.
            "https://x.y.corp.io",
            "http://a.b.example.org",
            "http://example.org",
            "http://a.example.org:8080",
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
    fn wildcard_labels_ports_and_schemes() {
        let t = TrustedOrigins::new(
            "https://auth.example.net",
            &[
                "https://*.*.example.com".into(),
                "http://localhost:*".into(),
                "https://app-*.vercel.app".into(),
                "HTTPS://Static.Example.NET:8443/".into(),
            ],
        );
        for ok in [
            "https://a.b.example.com",
            "https://A.B.Example.com:443",
            "http://localhost:5173",
            "http://localhost",
            "https://app-123.vercel.app",
            "https://static.example.net:8443",
        ] {
            assert!(t.allows(ok), "{ok}");
        }
        for bad in [
            "https://a.example.com",
            "https://a.b.c.example.com",
            "http://a.b.example.com",
            "https://a.b.example.com:8443",
            "https://a..example.com",
            "https://localhost:5173",
            "http://localhost.evil.com",
            "https://app-1.x.vercel.app",
            "https://evil.vercel.app",
            "https://static.example.net",
            "https://auth.example.net:8443",
        ] {
            assert!(!t.allows(bad), "{bad}");
        }
    }

    /// Matching is linear in the origin's length, whatever the number of stars: with the old
    /// backtracking glob these took minutes to hours.
    #[test]
    fn many_stars_do_not_backtrack() {
        let t = TrustedOrigins::new(
            "https://auth.example.net",
            &[
                "https://*.*.example.com".into(),
                "https://*.*.*.example.com".into(),
            ],
        );
        // Under the length cap, so the matcher itself runs.
        let host = format!("https://{}x.example.org", "a.".repeat(1000));
        assert!(host.len() <= MAX_ORIGIN_LEN);
        assert!(!t.allows(&host));
        let dots = format!("https://{}example.com", ".".repeat(32_000));
        assert!(!t.allows(&dots));
    }

    /// The matcher alone, past the length cap: three stars against a 2,000-label host.
    #[test]
    fn matcher_is_linear() {
        let p = Pattern::compile("https://*.*.*.example.com", false);
        let host = format!("{}x.example.org", "a.".repeat(2000));
        assert!(!p.matches("https", &host, None));
        let host = format!("{}example.com", ".".repeat(32_000));
        assert!(!p.matches("https", &host, None));
        assert!(p.matches("https", "a.b.c.example.com", None));
    }

    /// Nothing longer than any real origin is matched at all, even where the pattern would match.
    #[test]
    fn overlong_origins_are_refused() {
        let t = TrustedOrigins::new(
            "https://auth.example.net",
            &["https://*.example.org".into()],
        );
        let long = format!("https://{}.example.org", "a".repeat(MAX_ORIGIN_LEN));
        assert!(!t.allows(&long));
        assert!(!t.allows_callback(&format!("{long}/x")));
        assert!(t.allows("https://a.example.org"));
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
