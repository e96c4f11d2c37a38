//! The server secret: the strength policy, versioned secrets, and the secret file Sigil writes
//! into its data directory when none is configured.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use super::{ConfigError, Mode, invalid};

/// A secret string whose `Debug` never shows it.
#[derive(Clone)]
pub struct Secret(zeroize::Zeroizing<String>);

impl Secret {
    /// Wraps a secret.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(zeroize::Zeroizing::new(value.into()))
    }

    /// The secret itself.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(…)")
    }
}

/// Where the secret came from, for the start-up log line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SecretSource {
    /// File, environment or command line.
    Configured,
    /// Read from `<data_dir>/secret`, generated on an earlier start.
    DataDir(PathBuf),
    /// Generated now and written to `<data_dir>/secret`.
    Generated(PathBuf),
}

/// The validated secrets: the current one (cookie signatures; new keys are sealed under it) and
/// the older ones that still open stored keys.
#[derive(Clone, Debug)]
pub struct Secrets {
    /// The current secret.
    pub current: Secret,
    /// Versioned secrets, current first (empty: only `current`, unversioned).
    pub versions: Vec<(u32, Secret)>,
    /// The plain secret that opens unversioned key envelopes when versioned secrets are used.
    pub legacy: Option<Secret>,
    /// Where the current secret came from.
    pub source: SecretSource,
}

impl Secrets {
    /// Resolves `secrets` ("2:new,1:old"), `secret`, or the data directory's secret file (read,
    /// or generated with mode 0600), and applies the strength policy to each.
    pub(crate) fn resolve(
        versioned: Option<&str>,
        plain: Option<String>,
        data_dir: &Path,
        mode: Mode,
    ) -> Result<Secrets, ConfigError> {
        let versions = parse_versions(versioned.unwrap_or_default(), mode)?;
        let (current, source, legacy) = match (versions.first(), plain) {
            (Some((_, current)), legacy) => {
                if let Some(l) = &legacy {
                    check_strength(l, mode)?;
                }
                (
                    current.clone(),
                    SecretSource::Configured,
                    legacy.map(Secret::new),
                )
            }
            (None, Some(secret)) => (Secret::new(secret), SecretSource::Configured, None),
            (None, None) => {
                let (secret, source) = data_dir_secret(data_dir)?;
                (Secret::new(secret), source, None)
            }
        };
        check_strength(current.expose(), mode)?;
        Ok(Secrets {
            current,
            versions,
            legacy,
            source,
        })
    }
}

fn parse_versions(text: &str, mode: Mode) -> Result<Vec<(u32, Secret)>, ConfigError> {
    let mut versions: Vec<(u32, Secret)> = Vec::new();
    for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let (version, value) = entry
            .split_once(':')
            .and_then(|(v, value)| Some((v.trim().parse::<u32>().ok()?, value)))
            .ok_or_else(|| {
                invalid(
                    "secrets",
                    "expected \"VERSION:SECRET,…\", e.g. \"2:new,1:old\"",
                )
            })?;
        check_strength(value, mode)?;
        if versions.iter().any(|(v, _)| *v == version) {
            return Err(invalid(
                "secrets",
                format!("version {version} appears twice"),
            ));
        }
        versions.push((version, Secret::new(value)));
    }
    Ok(versions)
}

/// Secrets that appear in documentation and examples; never acceptable in production.
const KNOWN_SECRETS: [&str; 3] = [
    "better-auth-secret-12345678901234567890",
    "better-auth-secret-123456789",
    "your-secret-key-at-least-32-characters-long",
];

/// Production refuses a weak secret; dev warns and goes on.
fn check_strength(secret: &str, mode: Mode) -> Result<(), ConfigError> {
    let problem = if secret.chars().count() < 32 {
        Some("is shorter than 32 characters")
    } else if KNOWN_SECRETS.contains(&secret) {
        Some("is a published example value")
    } else if low_entropy(secret) {
        Some("has too little variety (low entropy)")
    } else {
        None
    };
    match (problem, mode) {
        (None, _) => Ok(()),
        (Some(p), Mode::Dev) => {
            tracing::warn!("the secret {p}; accepted only because mode = dev");
            Ok(())
        }
        (Some(p), Mode::Production) => Err(invalid(
            "secret",
            format!(
                "the secret {p}; use at least 32 random characters (e.g. `openssl rand -base64 32`), \
                 or unset it to let Sigil generate one in the data directory"
            ),
        )),
    }
}

/// Fewer than 10 distinct characters, or under 3 bits of Shannon entropy per character.
fn low_entropy(secret: &str) -> bool {
    let mut counts: HashMap<char, usize> = HashMap::new();
    for c in secret.chars() {
        *counts.entry(c).or_default() += 1;
    }
    let n = secret.chars().count() as f64;
    let entropy: f64 = counts
        .values()
        .map(|&c| {
            let p = c as f64 / n;
            -p * p.log2()
        })
        .sum();
    counts.len() < 10 || entropy < 3.0
}

fn data_dir_secret(dir: &Path) -> Result<(String, SecretSource), ConfigError> {
    let dir_err = |source| ConfigError::DataDir {
        path: dir.to_owned(),
        source,
    };
    crate::files::private_dir(dir).map_err(dir_err)?;
    let path = dir.join("secret");
    match std::fs::read_to_string(&path) {
        Ok(text) => return Ok((text.trim().to_owned(), SecretSource::DataDir(path))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(dir_err(e)),
    }
    let secret = crate::ids::random_string(48);
    write_private(&path, &secret).map_err(dir_err)?;
    Ok((secret, SecretSource::Generated(path)))
}

#[cfg(unix)]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(text.as_bytes())?;
    file.write_all(b"\n")
}

#[cfg(not(unix))]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    std::fs::write(path, format!("{text}\n"))
}
