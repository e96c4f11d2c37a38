//! `sigil token decode`, `sigil token verify` and `sigil token get`: token inspection, the
//! scriptable verifier, and a JWT for shell scripts and CI jobs.
//!
//! `verify`'s contract (flags, output lines, exit codes) is documented in README.md and kept
//! exact: other tools are built on it. `get` uses the same exit codes and stderr line format.

use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Args, ValueEnum};
use serde::Deserialize;
use serde_json::{Value, json};
use sigil_jose::Alg;
use sigil_verify::{ConfigError, Error, KeySource, LocalJwks, RemoteJwks, Verifier};

/// Exit code: the token was accepted.
pub const EXIT_OK: i32 = 0;
/// Exit code: the token was rejected (or cannot be decoded).
pub const EXIT_REJECTED: i32 = 1;
/// Exit code: bad flags or configuration (including an unreadable or invalid JWKS file).
pub const EXIT_USAGE: i32 = 2;
/// Exit code: no keys to judge the token with (network, timeout, non-200, oversized, nothing
/// cached).
pub const EXIT_KEYS_UNAVAILABLE: i32 = 3;

/// Exit code of `sigil token get` when the server cannot be reached or fails (network,
/// timeout, 5xx, an unreadable answer): the same class as [`EXIT_KEYS_UNAVAILABLE`].
pub const EXIT_UNAVAILABLE: i32 = EXIT_KEYS_UNAVAILABLE;

/// Longest line `--batch` reads; longer lines are answered with `invalid_request`.
const MAX_BATCH_LINE: usize = 1 << 20;

/// What to check.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Header, signature and claims; prints the claims.
    #[default]
    Jwt,
    /// Header and signature only; prints the payload as base64url.
    Jws,
}

/// `sigil token verify` flags.
#[derive(Args, Debug)]
pub struct VerifyArgs {
    /// A JWKS document on disk.
    #[arg(long, value_name = "FILE", conflicts_with = "jwks_url")]
    jwks: Option<PathBuf>,
    /// A JWKS URL (https, or http to a loopback host), fetched and cached.
    #[arg(long, value_name = "URL")]
    jwks_url: Option<String>,
    /// An accepted algorithm (repeat, or comma-separate): EdDSA, ES256, ES384, ES512, RS256,
    /// RS384, RS512, PS256, PS384, PS512.
    #[arg(long = "alg", value_name = "ALG", value_delimiter = ',')]
    algs: Vec<String>,
    /// Required issuer (`iss`, exact).
    #[arg(long, value_name = "ISS")]
    iss: Option<String>,
    /// Accepted audience (repeat for several; `aud` must contain one of them).
    #[arg(long, value_name = "AUD")]
    aud: Vec<String>,
    /// Required header `typ`.
    #[arg(long, value_name = "TYP")]
    typ: Option<String>,
    /// Clock skew tolerated on exp/nbf/iat, in seconds.
    #[arg(long, value_name = "SECS")]
    leeway: Option<u32>,
    /// Judge the token at this time (seconds since the Unix epoch) instead of now.
    #[arg(long, value_name = "UNIX_SECONDS", allow_negative_numbers = true)]
    now: Option<i64>,
    /// jwt: check the claims too and print them; jws: header and signature only.
    #[arg(long, value_enum)]
    mode: Option<Mode>,
    /// Tokens longer than this are refused before parsing (default 16384).
    #[arg(long, value_name = "N")]
    max_token_bytes: Option<usize>,
    /// Cache the remote JWKS this long, whatever its Cache-Control says (default: honour
    /// Cache-Control within [60, 86400] s, 600 without).
    #[arg(long, value_name = "S")]
    jwks_max_age: Option<f64>,
    /// Minimum time between fetches for unknown kids or after a failure (default 30).
    #[arg(long, value_name = "S")]
    jwks_cooldown: Option<f64>,
    /// Limit on one fetch (default 5).
    #[arg(long, value_name = "S")]
    jwks_timeout: Option<f64>,
    /// How long expired keys are still used while fetches fail (default 3600).
    #[arg(long, value_name = "S")]
    jwks_max_stale: Option<f64>,
    /// Read JSON Lines requests from stdin and answer one line each.
    #[arg(long, conflicts_with = "token")]
    batch: bool,
    /// The token, or `-` to read one from stdin.
    #[arg(value_name = "TOKEN", required_unless_present = "batch")]
    token: Option<String>,
}

/// One `--batch` request: the token and any overrides of the flags.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Request {
    #[serde(default)]
    id: Value,
    token: String,
    /// Kept as written: parsed once, strictly (duplicate members refused), by `LocalJwks`.
    jwks: Option<Box<serde_json::value::RawValue>>,
    jwks_file: Option<PathBuf>,
    alg: Option<OneOrMany>,
    iss: Option<String>,
    aud: Option<OneOrMany>,
    typ: Option<String>,
    leeway: Option<u32>,
    now: Option<i64>,
    mode: Option<Mode>,
    max_token_bytes: Option<usize>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn into_vec(self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => s.split(',').map(str::to_owned).collect(),
            OneOrMany::Many(v) => v,
        }
    }
}

/// The policy of one verification.
#[derive(Clone)]
struct Policy {
    algs: Vec<Alg>,
    iss: Option<String>,
    aud: Vec<String>,
    typ: Option<String>,
    leeway: u32,
    now: Option<i64>,
    mode: Mode,
    max_token_bytes: Option<usize>,
}

/// A usage or configuration problem (exit 2, or `invalid_request` on a batch line).
struct Usage(String);

impl From<ConfigError> for Usage {
    fn from(e: ConfigError) -> Self {
        Usage(e.to_string())
    }
}

/// The clock tokens are judged by: `--now` when given; cache ages always use the real clock.
struct JudgeAt(i64);

impl sigil_verify::Clock for JudgeAt {
    fn unix_seconds(&self) -> i64 {
        self.0
    }
    fn instant(&self) -> Instant {
        Instant::now()
    }
}

fn parse_algs(names: &[String]) -> Result<Vec<Alg>, Usage> {
    let mut algs = Vec::new();
    for name in names.iter().map(|n| n.trim()).filter(|n| !n.is_empty()) {
        let alg = name.parse::<Alg>().map_err(|_| {
            Usage(format!(
                "unknown or unsupported algorithm {name:?} (none and HS* are never accepted)"
            ))
        })?;
        algs.push(alg);
    }
    if algs.is_empty() {
        return Err(Usage("at least one --alg is required".into()));
    }
    Ok(algs)
}

fn seconds(flag: &str, value: Option<f64>) -> Result<Option<Duration>, Usage> {
    value
        .map(|s| {
            Duration::try_from_secs_f64(s)
                .map_err(|_| Usage(format!("--{flag} must be a non-negative number of seconds")))
        })
        .transpose()
}

fn remote(args: &VerifyArgs, url: &str) -> Result<RemoteJwks, Usage> {
    let mut builder = RemoteJwks::builder(url);
    if let Some(d) = seconds("jwks-max-age", args.jwks_max_age)? {
        builder = builder.fixed_max_age(d);
    }
    if let Some(d) = seconds("jwks-cooldown", args.jwks_cooldown)? {
        builder = builder.cooldown(d);
    }
    if let Some(d) = seconds("jwks-timeout", args.jwks_timeout)? {
        builder = builder.timeout(d);
    }
    if let Some(d) = seconds("jwks-max-stale", args.jwks_max_stale)? {
        builder = builder.max_stale(d);
    }
    Ok(builder.build()?)
}

/// The process-wide key source of the flags, if any.
fn flag_source(args: &VerifyArgs) -> Result<Option<KeySource>, Usage> {
    Ok(match (&args.jwks, &args.jwks_url) {
        (Some(file), _) => Some(LocalJwks::from_file(file)?.into()),
        (None, Some(url)) => Some(remote(args, url)?.into()),
        (None, None) => None,
    })
}

fn flag_policy(args: &VerifyArgs) -> Policy {
    Policy {
        algs: Vec::new(),
        iss: args.iss.clone(),
        aud: args.aud.clone(),
        typ: args.typ.clone(),
        leeway: args.leeway.unwrap_or(0),
        now: args.now,
        mode: args.mode.unwrap_or_default(),
        max_token_bytes: args.max_token_bytes,
    }
}

fn verifier(source: KeySource, policy: &Policy) -> Result<Verifier, Usage> {
    let mut b = Verifier::builder(source)
        .algs(policy.algs.iter().copied())
        .leeway(Duration::from_secs(u64::from(policy.leeway)));
    if let Some(iss) = &policy.iss {
        b = b.issuer(iss);
    }
    for aud in &policy.aud {
        b = b.audience(aud);
    }
    if let Some(typ) = &policy.typ {
        b = b.typ(typ);
    }
    if let Some(n) = policy.max_token_bytes {
        b = b.max_token_bytes(n);
    }
    if let Some(now) = policy.now {
        b = b.clock(Arc::new(JudgeAt(now)));
    }
    Ok(b.build()?)
}

/// What a verification printed, as a name and JSON text: `("claims", "{...}")` or
/// `("payload_b64url", "\"...\"")`.
async fn check(
    verifier: &Verifier,
    mode: Mode,
    token: &str,
) -> Result<(&'static str, String), Error> {
    match mode {
        Mode::Jwt => {
            let claims = verifier.verify_claims(token).await?;
            // The payload as signed (numbers as written: a fractional exp is not rounded).
            let text = claims
                .payload_json()
                .unwrap_or_else(|| Value::Object(claims.to_object()).to_string());
            Ok(("claims", text))
        }
        Mode::Jws => {
            let verified = verifier.verify_jws(token).await?;
            let encoded = Value::String(sigil_jose::b64::encode(&verified.payload));
            Ok(("payload_b64url", encoded.to_string()))
        }
    }
}

fn error_line(code: &str, message: &str) -> String {
    json!({ "error": code, "message": message }).to_string()
}

/// Writes the one stderr line of a refusal (ignoring a closed stderr).
fn report(code: &str, message: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{}", error_line(code, message));
}

/// `sigil token decode`: header and claims, pretty-printed, marked as not verified. A token that
/// is not three base64url segments with a JSON header is answered on stderr with one JSON line
/// `{"error":"malformed","message":…}` and exit code 1.
pub fn decode(token: &str) -> i32 {
    let token = if token == "-" {
        let mut text = String::new();
        let mut limited = std::io::Read::take(std::io::stdin(), 1 << 20);
        if std::io::Read::read_to_string(&mut limited, &mut text).is_err() {
            return fail("malformed", "standard input is not UTF-8 text");
        }
        text.trim().to_owned()
    } else {
        token.trim().to_owned()
    };
    let parts: Vec<&str> = token.split('.').collect();
    let [header, payload, _signature] = parts.as_slice() else {
        return fail("malformed", "a compact token has exactly three segments");
    };
    let Some(header) = sigil_jose::b64::decode(header)
        .and_then(|h| serde_json::from_slice::<serde_json::Value>(&h).ok())
        .filter(serde_json::Value::is_object)
    else {
        return fail("malformed", "the header is not base64url-encoded JSON");
    };
    let Some(payload) = sigil_jose::b64::decode(payload) else {
        return fail("malformed", "the payload is not base64url");
    };
    let pretty = |v: &serde_json::Value| serde_json::to_string_pretty(v).unwrap_or_default();
    let body = match serde_json::from_slice::<serde_json::Value>(&payload) {
        Ok(claims) => format!("claims:\n{}", pretty(&claims)),
        Err(_) => format!(
            "payload (not JSON), base64url:\n{}",
            sigil_jose::b64::encode(&payload)
        ),
    };
    // Written at once; a reader that went away (`| head`) is not an error.
    let _ = writeln!(
        std::io::stdout().lock(),
        "NOT VERIFIED: decoded only; no signature, expiry, issuer or audience was checked.\nheader:\n{}\n{body}",
        pretty(&header)
    );
    0
}

fn fail(code: &str, message: &str) -> i32 {
    report(code, message);
    EXIT_REJECTED
}

/// Answers a command line clap refused. For `sigil token verify` and `get`, whose stderr is part of its
/// contract, the error is one JSON line and the exit code [`EXIT_USAGE`]; everything else (and
/// `--help`/`--version`) gets clap's own output and exit code.
pub fn usage_error(error: &clap::Error) -> i32 {
    use clap::error::ErrorKind;
    let mut args = std::env::args().skip(1);
    let is_scripted = args.next().as_deref() == Some("token")
        && matches!(args.next().as_deref(), Some("verify" | "get"));
    let informational = matches!(
        error.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    );
    if !is_scripted || informational {
        error.exit();
    }
    let rendered = error.render().to_string();
    let first = rendered.lines().next().unwrap_or("invalid arguments");
    let message = first.strip_prefix("error: ").unwrap_or(first);
    report("usage", message);
    EXIT_USAGE
}

/// `sigil token verify`: returns the process exit code.
pub async fn verify(args: VerifyArgs) -> i32 {
    match run_verify(args).await {
        Ok(code) => code,
        Err(Usage(message)) => {
            report("usage", &message);
            EXIT_USAGE
        }
    }
}

async fn run_verify(args: VerifyArgs) -> Result<i32, Usage> {
    let source = flag_source(&args)?;
    let mut policy = flag_policy(&args);
    if args.batch {
        if !args.algs.is_empty() {
            policy.algs = parse_algs(&args.algs)?;
        }
        return Ok(batch(source, policy).await);
    }
    policy.algs = parse_algs(&args.algs)?;
    let Some(source) = source else {
        return Err(Usage(
            "one of --jwks FILE or --jwks-url URL is required".into(),
        ));
    };
    let token = match args.token.as_deref() {
        Some("-") => match read_stdin_token() {
            Some(token) => token,
            None => {
                report("malformed", "the token on standard input is not UTF-8 text");
                return Ok(EXIT_REJECTED);
            }
        },
        // Taken exactly as given: a token with surrounding whitespace is malformed.
        Some(t) => t.to_owned(),
        None => return Err(Usage("a TOKEN, `-` or --batch is required".into())),
    };
    let verifier = verifier(source, &policy)?;
    Ok(match check(&verifier, policy.mode, &token).await {
        Ok((key, value)) => {
            // jwt: the claims object itself; jws: {"payload_b64url": "…"}.
            let out = match policy.mode {
                Mode::Jwt => value,
                Mode::Jws => format!("{{\"{key}\":{value}}}"),
            };
            // A reader that went away is not a reason to change the verdict (or to panic).
            let _ = writeln!(std::io::stdout().lock(), "{out}");
            EXIT_OK
        }
        Err(e @ Error::KeysUnavailable(_)) => {
            report(e.code(), &e.to_string());
            EXIT_KEYS_UNAVAILABLE
        }
        Err(e) => {
            report(e.code(), &e.to_string());
            EXIT_REJECTED
        }
    })
}

/// One token from stdin (at most 1 MiB is read; a longer one is refused as too large by the
/// verifier's size limit anyway); `None` when the bytes are not UTF-8. One trailing newline
/// (`\n` or `\r\n`) ends the line and is not part of the token; nothing else is stripped, so
/// any other whitespace makes the token malformed.
fn read_stdin_token() -> Option<String> {
    let mut bytes = Vec::new();
    let mut limited = std::io::Read::take(std::io::stdin(), MAX_BATCH_LINE as u64);
    std::io::Read::read_to_end(&mut limited, &mut bytes).ok()?;
    let mut text = String::from_utf8(bytes).ok()?;
    if text.ends_with('\n') {
        text.pop();
        if text.ends_with('\r') {
            text.pop();
        }
    }
    Some(text)
}

/// One line of input: its text, or `None` when it was longer than [`MAX_BATCH_LINE`].
fn next_line(input: &mut impl BufRead) -> std::io::Result<Option<Option<Vec<u8>>>> {
    let mut line = Vec::new();
    let mut too_long = false;
    loop {
        let buf = input.fill_buf()?;
        if buf.is_empty() {
            return Ok(if line.is_empty() && !too_long {
                None
            } else {
                Some((!too_long).then_some(line))
            });
        }
        let (chunk, used, ended) = match buf.iter().position(|&b| b == b'\n') {
            Some(i) => (&buf[..i], i + 1, true),
            None => (buf, buf.len(), false),
        };
        if !too_long {
            if line.len() + chunk.len() > MAX_BATCH_LINE {
                too_long = true;
                line = Vec::new();
            } else {
                line.extend_from_slice(chunk);
            }
        }
        input.consume(used);
        if ended {
            return Ok(Some((!too_long).then_some(line)));
        }
    }
}

/// `--batch`: one answer line per request line, flushed at once; exit 0 at end of input.
async fn batch(source: Option<KeySource>, policy: Policy) -> i32 {
    // Reading stdin blocks; a dedicated thread feeds lines to the async side.
    let (tx, mut rx) = tokio::sync::mpsc::channel::<std::io::Result<Option<Vec<u8>>>>(16);
    std::thread::spawn(move || {
        let stdin = std::io::stdin();
        let mut input = stdin.lock();
        loop {
            let line = match next_line(&mut input) {
                Ok(Some(line)) => Ok(line),
                Ok(None) => break,
                Err(e) => Err(e),
            };
            let failed = line.is_err();
            if tx.blocking_send(line).is_err() || failed {
                break;
            }
        }
    });
    let stdout = std::io::stdout();
    while let Some(line) = rx.recv().await {
        let answer = match line {
            Err(e) => {
                // Not the end of input: the caller must not take the answers so far as complete.
                report("usage", &format!("cannot read standard input: {e}"));
                return EXIT_USAGE;
            }
            Ok(None) => rejected(&Value::Null, "invalid_request"),
            Ok(Some(line)) if line.iter().all(u8::is_ascii_whitespace) => continue,
            Ok(Some(line)) => answer(&line, source.as_ref(), &policy).await,
        };
        let mut out = stdout.lock();
        if writeln!(out, "{answer}")
            .and_then(|()| out.flush())
            .is_err()
        {
            break; // the reader went away
        }
    }
    EXIT_OK
}

async fn answer(line: &[u8], source: Option<&KeySource>, policy: &Policy) -> String {
    let invalid = |id: Value| rejected(&id, "invalid_request");
    let mut request: Request = match serde_json::from_slice(line) {
        Ok(r) => r,
        Err(_) => {
            // Echo the id when the line is at least an object carrying one.
            let id = serde_json::from_slice::<Value>(line)
                .ok()
                .and_then(|v| v.get("id").cloned())
                .unwrap_or(Value::Null);
            return invalid(id);
        }
    };
    let id = std::mem::take(&mut request.id);
    let token = std::mem::take(&mut request.token);
    let (source, policy) = match line_setup(request, source, policy) {
        Ok(s) => s,
        Err(Usage(_)) => return invalid(id),
    };
    let verifier = match verifier(source, &policy) {
        Ok(v) => v,
        Err(_) => return invalid(id),
    };
    // The token value is taken exactly as given (JSON escapes decoded, nothing stripped).
    match check(&verifier, policy.mode, &token).await {
        Ok((key, value)) => format!("{{\"id\":{id},\"ok\":true,\"{key}\":{value}}}"),
        Err(e) => rejected(&id, e.code()),
    }
}

/// A batch answer for a refused request, members in the documented order.
fn rejected(id: &Value, code: &str) -> String {
    format!(
        "{{\"id\":{id},\"ok\":false,\"error\":{}}}",
        Value::from(code)
    )
}

/// The key source and policy of one batch request: the flags', with the request's overrides.
fn line_setup(
    o: Request,
    source: Option<&KeySource>,
    policy: &Policy,
) -> Result<(KeySource, Policy), Usage> {
    let source = match (o.jwks, o.jwks_file) {
        (Some(_), Some(_)) => return Err(Usage("jwks and jwks_file are exclusive".into())),
        (Some(doc), None) => LocalJwks::from_json(doc.get().as_bytes())?.into(),
        (None, Some(file)) => LocalJwks::from_file(file)?.into(),
        (None, None) => source.cloned().ok_or_else(|| {
            Usage("no key source: give --jwks/--jwks-url or jwks/jwks_file".into())
        })?,
    };
    let mut policy = policy.clone();
    if let Some(alg) = o.alg {
        policy.algs = parse_algs(&alg.into_vec())?;
    }
    if policy.algs.is_empty() {
        return Err(Usage("no algorithm allowed: give --alg or alg".into()));
    }
    if let Some(iss) = o.iss {
        policy.iss = Some(iss);
    }
    if let Some(aud) = o.aud {
        policy.aud = match aud {
            OneOrMany::One(s) => vec![s],
            OneOrMany::Many(v) => v,
        };
    }
    if let Some(typ) = o.typ {
        policy.typ = Some(typ);
    }
    if let Some(leeway) = o.leeway {
        policy.leeway = leeway;
    }
    if let Some(now) = o.now {
        policy.now = Some(now);
    }
    if let Some(mode) = o.mode {
        policy.mode = mode;
    }
    if let Some(n) = o.max_token_bytes {
        policy.max_token_bytes = Some(n);
    }
    Ok((source, policy))
}

/// `sigil token get` flags.
#[derive(Args, Debug)]
pub struct GetArgs {
    /// The auth server's base URL (its origin, e.g. https://auth.example.com).
    #[arg(long, value_name = "URL")]
    url: String,
    /// Where the auth routes are mounted on the server.
    #[arg(long, value_name = "PATH", default_value = "/api/auth")]
    base_path: String,
    /// Sign in with this email (with --password-stdin); the session is signed out again once
    /// the token is issued.
    #[arg(
        long,
        value_name = "EMAIL",
        requires = "password_stdin",
        conflicts_with = "session_token_env"
    )]
    email: Option<String>,
    /// Read the password from standard input (one line; never from a flag, which `ps` shows).
    #[arg(long, requires = "email")]
    password_stdin: bool,
    /// Use an existing session: the session token (`set-auth-token` value) is in this
    /// environment variable.
    #[arg(long, value_name = "VAR")]
    session_token_env: Option<String>,
    /// A token for this audience (`aud`); it must be on the server's `[jwt] allowed_audiences`.
    #[arg(long, value_name = "AUD")]
    audience: Option<String>,
}

/// `sigil token get`: prints a JWT on stdout and returns the exit code: 0 a token was printed;
/// 1 the server refused (wrong email or password, no session, audience not allowed, another
/// 4xx); 2 usage; 3 the server is unavailable (network, timeout, 5xx, an unreadable answer).
/// Failures are one JSON line on stderr, `{"error": code, "message": …}`, the code being the
/// server's stable code when it sent one. The password and session token are never printed.
pub async fn get(args: GetArgs) -> i32 {
    match run_get(args).await {
        Ok(jwt) => {
            let _ = writeln!(std::io::stdout().lock(), "{}", jwt.as_str());
            EXIT_OK
        }
        Err(GetError::Usage(message)) => {
            report("usage", &message);
            EXIT_USAGE
        }
        Err(GetError::Client(e)) => {
            let code = match &e {
                sigil_client::Error::SessionGone => "session_gone".to_owned(),
                sigil_client::Error::Server {
                    raw_code: Some(code),
                    ..
                } => code.clone(),
                sigil_client::Error::Config(_) => "usage".to_owned(),
                _ if e.is_unavailable() => "unavailable".to_owned(),
                _ => "rejected".to_owned(),
            };
            report(&code, &e.to_string());
            match e {
                sigil_client::Error::Config(_) => EXIT_USAGE,
                e if e.is_unavailable() => EXIT_UNAVAILABLE,
                _ => EXIT_REJECTED,
            }
        }
    }
}

enum GetError {
    Usage(String),
    Client(sigil_client::Error),
}

impl From<sigil_client::Error> for GetError {
    fn from(e: sigil_client::Error) -> Self {
        GetError::Client(e)
    }
}

async fn run_get(args: GetArgs) -> Result<sigil_client::Jwt, GetError> {
    let mut client = sigil_client::AuthClient::builder(&args.url)
        .base_path(&args.base_path)
        .build()?;
    let signed_in = match (&args.email, &args.session_token_env) {
        (Some(email), None) => {
            let password = read_password()?;
            client.sign_in_email(email, &password).await?;
            true
        }
        (None, Some(var)) => {
            let token = match std::env::var(var) {
                Ok(t) if !t.trim().is_empty() => t.trim().to_owned(),
                Ok(_) | Err(std::env::VarError::NotPresent) => {
                    return Err(GetError::Usage(format!(
                        "the environment variable {var} is not set or empty"
                    )));
                }
                Err(std::env::VarError::NotUnicode(_)) => {
                    return Err(GetError::Usage(format!(
                        "the environment variable {var} is not UTF-8"
                    )));
                }
            };
            client = client.with_session_token(token);
            false
        }
        _ => {
            return Err(GetError::Usage(
                "one of --email EMAIL --password-stdin or --session-token-env VAR is required"
                    .into(),
            ));
        }
    };
    let jwt = match &args.audience {
        Some(audience) => client.token_for(audience).await,
        None => client.token().await,
    };
    if signed_in {
        // The session was only a means to the token: leave no live session behind. The JWT stays
        // valid until its exp.
        let _ = client.sign_out().await;
    }
    Ok(jwt?)
}

/// The password: the first line of standard input (at most 4 KiB), without its line ending;
/// read up to the line's end, so that an open pipe or a terminal does not have to close first.
fn read_password() -> Result<String, GetError> {
    let mut bytes = Vec::new();
    let stdin = std::io::stdin();
    let mut limited = std::io::Read::take(stdin.lock(), 4096);
    std::io::BufRead::read_until(&mut limited, b'\n', &mut bytes).map_err(|e| {
        GetError::Usage(format!("cannot read the password from standard input: {e}"))
    })?;
    let text = String::from_utf8(bytes)
        .map_err(|_| GetError::Usage("the password on standard input is not UTF-8".into()))?;
    let line = text.lines().next().unwrap_or_default();
    if line.is_empty() {
        return Err(GetError::Usage(
            "--password-stdin: no password on standard input".into(),
        ));
    }
    Ok(line.to_owned())
}
