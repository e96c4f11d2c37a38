//! `sigil-fleet load`: steady token traffic through the balancer, every JWT verified.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use reqwest::Client;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sigil_verify::{Alg, RemoteJwks, Verifier};

use crate::common::{self, api, unix_ms};

/// Flags of `load`.
#[derive(clap::Args, Debug)]
pub struct LoadArgs {
    /// The balancer's base URL (also the expected `iss`/`aud` and the `Origin` sent).
    #[arg(long)]
    base: String,
    /// Users signed up before the load; workers cycle over their sessions.
    #[arg(long, default_value_t = 50)]
    sessions: u64,
    /// Concurrent workers.
    #[arg(long, default_value_t = 8)]
    concurrency: u64,
    /// The load stops when this file exists.
    #[arg(long)]
    stop_file: PathBuf,
    /// The load stops after this many seconds at the latest.
    #[arg(long, default_value_t = 600)]
    max_seconds: u64,
    /// Where to write the summary JSON.
    #[arg(long)]
    out: PathBuf,
    /// Lines `kid unix_ms`: failures with that kid from that time on are expected (revocation).
    #[arg(long)]
    revoked_file: Option<PathBuf>,
    /// Client-side timeout of each request, seconds; it must exceed the server's database
    /// timeout (5 s by default) so that a 503 is not mistaken for a hang.
    #[arg(long, default_value_t = 10.0)]
    request_timeout: f64,
    /// The algorithm the verifier accepts.
    #[arg(long, default_value = "EdDSA")]
    alg: String,
    /// Rewritten about every second with `tokens_issued t_ms` (for the script's steady-state
    /// database-load window).
    #[arg(long)]
    progress_file: Option<PathBuf>,
}

/// One verification failure.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct VerifyFailure {
    pub kid: String,
    pub code: String,
    pub message: String,
    /// Milliseconds since the load started.
    pub t_ms: u64,
    pub unix_ms: u64,
    /// Which route handed out the token.
    pub route: String,
    pub expected: bool,
}

/// Verification failures of one `(kid, code, expected)`.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct FailureGroup {
    pub kid: String,
    pub code: String,
    pub expected: bool,
    pub count: u64,
    pub first_t_ms: u64,
    pub last_t_ms: u64,
    /// The first failure's message.
    pub message: String,
}

/// Occurrences of one outcome (a status, an error code, a timeout) and when.
#[derive(Serialize, Deserialize, Debug, Clone, Default)]
pub struct Seen {
    pub count: u64,
    pub first_t_ms: u64,
    pub last_t_ms: u64,
}

impl Seen {
    fn add(&mut self, t_ms: u64) {
        if self.count == 0 {
            self.first_t_ms = t_ms;
        }
        self.count += 1;
        self.last_t_ms = t_ms;
    }
}

/// What `load` writes.
#[derive(Serialize, Deserialize, Debug, Default)]
pub struct LoadSummary {
    pub base: String,
    pub sessions: u64,
    pub concurrency: u64,
    pub started_unix_ms: u64,
    pub seconds: f64,
    pub requests: u64,
    /// Answers by HTTP status, `"<route> <status>"`.
    pub by_status: BTreeMap<String, Seen>,
    /// 5xx answers by `"<status> <code>"` (the JSON body's `code`, `-` without one).
    pub server_errors: BTreeMap<String, Seen>,
    /// Client-side timeouts (no answer within `request_timeout`): hangs.
    pub timeouts: Seen,
    /// Connection errors to the balancer (it is never faulted, so any is a finding).
    pub transport_errors: BTreeMap<String, Seen>,
    /// 200 from get-session without a `set-auth-jwt`, or from /token without a token.
    pub missing_jwt: Seen,
    pub tokens_issued: u64,
    pub tokens_verified: u64,
    /// Tokens by `kid`.
    pub tokens_by_kid: BTreeMap<String, u64>,
    /// Every failure during the run; only the first few are written (`failure_samples`).
    #[serde(skip)]
    pub verify_failures: Vec<VerifyFailure>,
    pub verify_failures_total: u64,
    /// The failures grouped by `(kid, code, expected)`, in order of first occurrence.
    pub failure_groups: Vec<FailureGroup>,
    /// The first 20 failures as they happened.
    pub failure_samples: Vec<VerifyFailure>,
    /// Answers (of any status) that took over a second, and the slowest, per route.
    pub slow_over_1s: BTreeMap<String, Seen>,
    pub max_latency_ms: BTreeMap<String, f64>,
    pub expected_failures: u64,
    pub unexpected_failures: u64,
}

struct Shared {
    client: Client,
    verifier: Verifier,
    base: String,
    sessions: Vec<String>,
    stop: AtomicBool,
    next: AtomicU64,
    start: Instant,
    started_unix_ms: u64,
    summary: Mutex<LoadSummary>,
}

impl Shared {
    fn t_ms(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX)
    }
    fn record(&self, f: impl FnOnce(&mut LoadSummary)) {
        if let Ok(mut s) = self.summary.lock() {
            f(&mut s);
        }
    }
}

/// Runs `load`.
pub async fn run(args: LoadArgs) -> Result<()> {
    let base = args.base.trim_end_matches('/').to_owned();
    let alg: Alg = args
        .alg
        .parse()
        .map_err(|_| anyhow::anyhow!("unknown --alg {}", args.alg))?;
    let client = common::client(Duration::from_secs_f64(args.request_timeout))?;
    // One shared verifier with the library's defaults, except plain http to loopback.
    let keys = RemoteJwks::builder(&api(&base, "/jwks"))
        .allow_insecure_http()
        .build()?;
    let verifier = Verifier::builder(keys)
        .alg(alg)
        .issuer(base.clone())
        .audience(base.clone())
        .build()?;

    let mut sessions = Vec::new();
    let mut signup_errors = Vec::new();
    for chunk in 0..args.sessions.div_ceil(8) {
        let mut tasks = Vec::new();
        for i in chunk * 8..((chunk + 1) * 8).min(args.sessions) {
            let (client, base) = (client.clone(), base.clone());
            tasks.push(tokio::spawn(async move {
                common::sign_up(&client, &base, &base, &common::fresh_email("load", i)).await
            }));
        }
        for task in tasks {
            match task.await? {
                Ok(token) => sessions.push(token),
                Err(e) => signup_errors.push(format!("{e:#}")),
            }
        }
    }
    if !signup_errors.is_empty() {
        bail!(
            "{} of {} sign-ups failed, first: {}",
            signup_errors.len(),
            args.sessions,
            signup_errors[0]
        );
    }
    eprintln!("load: {} sessions signed up through {base}", sessions.len());

    let shared = Arc::new(Shared {
        client,
        verifier,
        base: base.clone(),
        sessions,
        stop: AtomicBool::new(false),
        next: AtomicU64::new(0),
        start: Instant::now(),
        started_unix_ms: unix_ms(),
        summary: Mutex::new(LoadSummary {
            base,
            sessions: args.sessions,
            concurrency: args.concurrency,
            ..LoadSummary::default()
        }),
    });
    let mut workers = Vec::new();
    for w in 0..args.concurrency {
        let shared = shared.clone();
        workers.push(tokio::spawn(async move { worker(shared, w).await }));
    }
    let deadline = Instant::now() + Duration::from_secs(args.max_seconds);
    let mut next_progress = Instant::now();
    while !args.stop_file.exists() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if let Some(path) = &args.progress_file
            && Instant::now() >= next_progress
        {
            next_progress += Duration::from_secs(1);
            let issued = shared.summary.lock().map_or(0, |s| s.tokens_issued);
            let tmp = path.with_extension("tmp");
            std::fs::write(&tmp, format!("{issued} {}\n", shared.t_ms()))?;
            std::fs::rename(&tmp, path)?;
        }
    }
    shared.stop.store(true, Ordering::SeqCst);
    for w in workers {
        w.await?;
    }

    let revoked = read_revoked(args.revoked_file.as_deref());
    let mut summary = match shared.summary.lock() {
        Ok(mut s) => std::mem::take(&mut *s),
        Err(_) => bail!("a worker panicked"),
    };
    summary.started_unix_ms = shared.started_unix_ms;
    summary.seconds = shared.start.elapsed().as_secs_f64();
    for failure in &mut summary.verify_failures {
        failure.expected = revoked
            .iter()
            .any(|(kid, at)| *kid == failure.kid && failure.unix_ms >= *at);
    }
    summary.expected_failures = summary
        .verify_failures
        .iter()
        .filter(|f| f.expected)
        .count() as u64;
    summary.verify_failures_total = summary.verify_failures.len() as u64;
    summary.unexpected_failures = summary.verify_failures_total - summary.expected_failures;
    for f in &summary.verify_failures {
        match summary
            .failure_groups
            .iter_mut()
            .find(|g| g.kid == f.kid && g.code == f.code && g.expected == f.expected)
        {
            Some(g) => {
                g.count += 1;
                g.first_t_ms = g.first_t_ms.min(f.t_ms);
                g.last_t_ms = g.last_t_ms.max(f.t_ms);
            }
            None => summary.failure_groups.push(FailureGroup {
                kid: f.kid.clone(),
                code: f.code.clone(),
                expected: f.expected,
                count: 1,
                first_t_ms: f.t_ms,
                last_t_ms: f.t_ms,
                message: f.message.clone(),
            }),
        }
    }
    summary.failure_samples = summary.verify_failures.iter().take(20).cloned().collect();
    common::write_json(&args.out, &summary)?;
    eprintln!(
        "load: {} requests, {} tokens issued, {} verified, {} verification failures ({} unexpected)",
        summary.requests,
        summary.tokens_issued,
        summary.tokens_verified,
        summary.verify_failures_total,
        summary.unexpected_failures
    );
    Ok(())
}

/// `kid unix_ms` lines.
pub fn read_revoked(path: Option<&std::path::Path>) -> Vec<(String, u64)> {
    let Some(text) = path.and_then(|p| std::fs::read_to_string(p).ok()) else {
        return Vec::new();
    };
    text.lines()
        .filter_map(|line| {
            let mut parts = line.split_whitespace();
            Some((parts.next()?.to_owned(), parts.next()?.parse().ok()?))
        })
        .collect()
}

async fn worker(shared: Arc<Shared>, w: u64) {
    let mut use_token_route = w.is_multiple_of(2);
    while !shared.stop.load(Ordering::SeqCst) {
        let i = shared.next.fetch_add(1, Ordering::Relaxed) as usize % shared.sessions.len();
        let session = &shared.sessions[i];
        let route = if use_token_route {
            "/token"
        } else {
            "/get-session"
        };
        use_token_route = !use_token_route;
        let sent = Instant::now();
        let result = shared
            .client
            .get(api(&shared.base, route))
            .bearer_auth(session)
            .send()
            .await;
        let t_ms = shared.t_ms();
        let response = match result {
            Ok(r) => r,
            Err(e) => {
                shared.record(|s| {
                    s.requests += 1;
                    if e.is_timeout() {
                        s.timeouts.add(t_ms);
                    } else {
                        let kind = if e.is_connect() { "connect" } else { "other" };
                        s.transport_errors
                            .entry(format!("{route} {kind}"))
                            .or_default()
                            .add(t_ms);
                    }
                });
                // Do not spin on a dead balancer.
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let status = response.status().as_u16();
        let jwt_header = response
            .headers()
            .get("set-auth-jwt")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = response.bytes().await;
        let t_ms = shared.t_ms();
        let body = match body {
            Ok(b) => b,
            Err(e) => {
                shared.record(|s| {
                    s.requests += 1;
                    if e.is_timeout() {
                        s.timeouts.add(t_ms);
                    } else {
                        s.transport_errors
                            .entry(format!("{route} body"))
                            .or_default()
                            .add(t_ms);
                    }
                });
                continue;
            }
        };
        let json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let latency_ms = sent.elapsed().as_secs_f64() * 1000.0;
        shared.record(|s| {
            s.requests += 1;
            let max = s.max_latency_ms.entry(route.to_owned()).or_default();
            *max = max.max(latency_ms);
            if latency_ms > 1000.0 {
                s.slow_over_1s
                    .entry(route.to_owned())
                    .or_default()
                    .add(t_ms);
            }
            s.by_status
                .entry(format!("{route} {status}"))
                .or_default()
                .add(t_ms);
            if status >= 500 {
                let code = json["code"].as_str().unwrap_or("-");
                s.server_errors
                    .entry(format!("{status} {code}"))
                    .or_default()
                    .add(t_ms);
            }
        });
        if status != 200 {
            if status >= 500 {
                // Give a failing fleet a moment, as a client would.
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            continue;
        }
        let jwt = if route == "/token" {
            json["token"].as_str().map(str::to_owned)
        } else {
            jwt_header
        };
        let Some(jwt) = jwt else {
            shared.record(|s| s.missing_jwt.add(t_ms));
            continue;
        };
        let kid = common::kid_of(&jwt);
        shared.record(|s| {
            s.tokens_issued += 1;
            *s.tokens_by_kid.entry(kid.clone()).or_default() += 1;
        });
        let verdict = shared.verifier.verify_claims(&jwt).await;
        let t_ms = shared.t_ms();
        shared.record(|s| match verdict {
            Ok(_) => s.tokens_verified += 1,
            Err(e) => s.verify_failures.push(VerifyFailure {
                kid,
                code: e.code().to_owned(),
                message: e.to_string(),
                t_ms,
                unix_ms: shared.started_unix_ms + t_ms,
                route: route.to_owned(),
                expected: false,
            }),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revoked_file_lines() {
        let path = std::env::temp_dir().join(format!("sigil-fleet-revoked-{}", std::process::id()));
        std::fs::write(&path, "k1 1000\nbroken line\nk2 2000\n").unwrap();
        let revoked = read_revoked(Some(&path));
        std::fs::remove_file(&path).unwrap();
        assert_eq!(
            revoked,
            vec![("k1".to_owned(), 1000), ("k2".to_owned(), 2000)]
        );
        assert!(read_revoked(None).is_empty());
    }
}
