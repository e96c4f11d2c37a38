//! `sigil-fleet signout-probe` and `sigil-fleet key-probe`: how long a change made through one
//! instance (or the CLI) takes to reach every instance, and a verifier.

use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use reqwest::Client;
use serde::{Deserialize, Serialize};
use sigil_verify::{Alg, RemoteJwks, Verifier};

use crate::common::{self, api, unix_ms};

fn split_instances(list: &str) -> Vec<String> {
    list.split(',')
        .map(|s| s.trim().trim_end_matches('/').to_owned())
        .filter(|s| !s.is_empty())
        .collect()
}

fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1000.0
}

/// Flags of `signout-probe`.
#[derive(clap::Args, Debug)]
pub struct SignoutArgs {
    /// The instances' own URLs, comma-separated (not the balancer).
    #[arg(long)]
    instances: String,
    /// The public base URL the instances share: the `Origin` of the POSTs.
    #[arg(long)]
    origin: String,
    #[arg(long, default_value_t = 20)]
    rounds: u64,
    /// Rounds run at the same time (each on its own session).
    #[arg(long, default_value_t = 4)]
    parallel: u64,
    /// Poll interval, milliseconds.
    #[arg(long, default_value_t = 5)]
    poll_ms: u64,
    /// Give up on one instance after this many seconds (a broken promise).
    #[arg(long, default_value_t = 10.0)]
    give_up: f64,
    #[arg(long)]
    out: PathBuf,
}

/// One (round, instance) measurement.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct SignoutSample {
    pub round: u64,
    pub signed_out_at: String,
    pub instance: String,
    /// From just before the sign-out request to the first 401 of `instance`.
    pub ms: f64,
    pub gave_up: bool,
}

/// What `signout-probe` writes.
#[derive(Serialize, Deserialize, Debug, Default)]
pub struct SignoutReport {
    pub rounds: u64,
    pub samples: Vec<SignoutSample>,
    /// The instance that signed out, refusing the session right after: must be every round.
    pub own_instance_refused_at_once: u64,
    pub p50_ms: f64,
    pub max_ms: f64,
    pub gave_up: u64,
    pub errors: Vec<String>,
}

/// Runs `signout-probe`.
pub async fn signout(args: SignoutArgs) -> Result<()> {
    let instances = split_instances(&args.instances);
    if instances.len() < 2 {
        bail!("--instances needs at least two URLs");
    }
    let client = common::client(Duration::from_secs(5))?;
    let mut report = SignoutReport {
        rounds: args.rounds,
        ..SignoutReport::default()
    };
    let mut round = 0;
    while round < args.rounds {
        let mut batch = Vec::new();
        for r in round..(round + args.parallel.max(1)).min(args.rounds) {
            let (client, instances, origin) =
                (client.clone(), instances.clone(), args.origin.clone());
            let (poll, give_up) = (
                Duration::from_millis(args.poll_ms),
                Duration::from_secs_f64(args.give_up),
            );
            batch.push(tokio::spawn(async move {
                signout_round(&client, &instances, &origin, r, poll, give_up).await
            }));
        }
        round += batch.len() as u64;
        for task in batch {
            match task.await? {
                Ok((samples, own_ok)) => {
                    report.samples.extend(samples);
                    report.own_instance_refused_at_once += u64::from(own_ok);
                }
                Err(e) => report.errors.push(format!("{e:#}")),
            }
        }
    }
    let values: Vec<f64> = report.samples.iter().map(|s| s.ms).collect();
    (report.p50_ms, report.max_ms) = common::p50_max(&values);
    report.gave_up = report.samples.iter().filter(|s| s.gave_up).count() as u64;
    common::write_json(&args.out, &report)?;
    eprintln!(
        "signout-probe: {} samples, p50 {:.1} ms, max {:.1} ms, {} gave up, {} errors",
        report.samples.len(),
        report.p50_ms,
        report.max_ms,
        report.gave_up,
        report.errors.len()
    );
    Ok(())
}

async fn signout_round(
    client: &Client,
    instances: &[String],
    origin: &str,
    round: u64,
    poll: Duration,
    give_up: Duration,
) -> Result<(Vec<SignoutSample>, bool)> {
    let own = &instances[round as usize % instances.len()];
    let session =
        common::sign_up(client, own, origin, &common::fresh_email("probe", round)).await?;
    let others: Vec<&String> = instances.iter().filter(|i| *i != own).collect();
    // Every other instance reads the session first, so it holds it in its cache.
    for other in &others {
        if common::get_token(client, other, &session).await?.is_none() {
            bail!("round {round}: {other} refused a fresh session");
        }
    }
    let start = Instant::now();
    let response = client
        .post(api(own, "/sign-out"))
        .bearer_auth(&session)
        .header("origin", origin)
        .json(&serde_json::json!({}))
        .send()
        .await?;
    if !response.status().is_success() {
        bail!(
            "round {round}: sign-out at {own}: HTTP {}",
            response.status()
        );
    }
    let own_ok = common::get_token(client, own, &session).await?.is_none();
    let mut polls = Vec::new();
    for other in others {
        let (client, other, session) = (client.clone(), other.clone(), session.clone());
        let own = own.clone();
        polls.push(tokio::spawn(async move {
            loop {
                // A transient error (not a 401) is not a refusal: keep polling.
                if let Ok(None) = common::get_token(&client, &other, &session).await {
                    return SignoutSample {
                        round,
                        signed_out_at: own,
                        instance: other,
                        ms: ms(start),
                        gave_up: false,
                    };
                }
                if start.elapsed() >= give_up {
                    return SignoutSample {
                        round,
                        signed_out_at: own,
                        instance: other,
                        ms: ms(start),
                        gave_up: true,
                    };
                }
                tokio::time::sleep(poll).await;
            }
        }));
    }
    let mut samples = Vec::new();
    for p in polls {
        samples.push(p.await?);
    }
    Ok((samples, own_ok))
}

/// What `key-probe` changes.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// `sigil keys rotate`: until every instance publishes the new key.
    Rotate,
    /// `sigil keys rotate --now`: until every instance publishes it and signs with it.
    RotateNow,
    /// `sigil keys revoke KID` of the signing key: until no instance publishes it and a warmed
    /// verifier refuses a token it signed.
    Revoke,
}

/// Flags of `key-probe`.
#[derive(clap::Args, Debug)]
pub struct KeyArgs {
    /// The instances' own URLs, comma-separated.
    #[arg(long)]
    instances: String,
    /// The public base URL (Origin, `iss`, `aud`, and the verifier's JWKS).
    #[arg(long)]
    origin: String,
    /// The `sigil` binary; it runs with this process's environment (database, secret).
    #[arg(long)]
    sigil: PathBuf,
    #[arg(long, value_enum)]
    mode: Mode,
    #[arg(long)]
    out: PathBuf,
    /// `revoke` appends `kid unix_ms` here before revoking.
    #[arg(long)]
    revoked_file: Option<PathBuf>,
    /// Give up on an instance after this many seconds.
    #[arg(long, default_value_t = 10.0)]
    give_up: f64,
    #[arg(long, default_value = "EdDSA")]
    alg: String,
}

/// One instance's time to show the change.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct InstanceTime {
    pub instance: String,
    /// `/jwks` lists the new key (rotate) or no longer lists the revoked one (revoke).
    pub jwks_ms: Option<f64>,
    /// `/token` signs with the new key (rotate-now) or no longer with the revoked one (revoke).
    pub token_ms: Option<f64>,
    /// The last error `/token` answered while polling (why `token_ms` may be missing).
    #[serde(default)]
    pub token_error: Option<String>,
}

/// rotate --now, watched on one instance from before the command: the first `/jwks` that lists a
/// kid it did not list before, and the first `/token` signed with another kid than before.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct Watched {
    pub instance: String,
    pub published_ms: Option<f64>,
    pub signing_ms: Option<f64>,
}

/// What `key-probe` writes.
#[derive(Serialize, Deserialize, Debug)]
pub struct KeyReport {
    pub mode: Mode,
    pub kid: String,
    pub command: String,
    pub command_output: String,
    pub command_ms: f64,
    pub instances: Vec<InstanceTime>,
    /// The kids `sigil keys list` shows before and after.
    pub keys_before: Vec<String>,
    pub keys_after: Vec<String>,
    /// revoke: the kid signing after the revocation.
    pub signing_after: Option<String>,
    /// revoke: when a verifier warmed before the revocation refused the token, and with what.
    pub verifier_reject_ms: Option<f64>,
    pub verifier_reject_code: Option<String>,
    /// revoke: the bound that applies to the verifier, seconds, and how it was found.
    pub verifier_bound_s: Option<f64>,
    pub verifier_bound: Option<String>,
    /// rotate --now: each instance watched from before the command.
    #[serde(default)]
    pub watched: Vec<Watched>,
    pub errors: Vec<String>,
}

async fn keys_list(sigil: &PathBuf) -> Result<Vec<String>> {
    let out = tokio::process::Command::new(sigil)
        .args(["keys", "list"])
        .output()
        .await
        .context("running sigil keys list")?;
    if !out.status.success() {
        bail!(
            "sigil keys list: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
        .collect())
}

/// Polls `check` every 10 ms until it holds or `give_up` passes since `start`.
async fn until<F, Fut>(start: Instant, give_up: Duration, mut check: F) -> Option<f64>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    loop {
        if check().await {
            return Some(ms(start));
        }
        if start.elapsed() >= give_up {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Runs `key-probe`.
pub async fn keys(args: KeyArgs) -> Result<()> {
    let instances = split_instances(&args.instances);
    let origin = args.origin.trim_end_matches('/').to_owned();
    let alg: Alg = args
        .alg
        .parse()
        .map_err(|_| anyhow::anyhow!("unknown --alg {}", args.alg))?;
    let client = common::client(Duration::from_secs(5))?;
    let give_up = Duration::from_secs_f64(args.give_up);
    // A probe session of its own (never the load's).
    let session = common::sign_up(
        &client,
        &instances[0],
        &origin,
        &common::fresh_email("keyprobe", 0),
    )
    .await?;
    let keys_before = keys_list(&args.sigil).await?;

    // revoke: the key signing now, a token it signed, and a verifier holding the set.
    let mut revoke_ctx = None;
    if args.mode == Mode::Revoke {
        let token = common::get_token(&client, &instances[0], &session)
            .await?
            .context("no token for the probe session")?;
        let kid = common::kid_of(&token);
        let keys = RemoteJwks::builder(&api(&origin, "/jwks"))
            .allow_insecure_http()
            .build()?;
        let verifier = Verifier::builder(keys)
            .alg(alg)
            .issuer(origin.clone())
            .audience(origin.clone())
            .build()?;
        verifier
            .verify_claims(&token)
            .await
            .context("the warmed verifier refused the token before the revocation")?;
        // The lifetime the verifier took, as it computes it: the answer's max-age, clamped.
        let fetched = Instant::now();
        let response = client.get(api(&origin, "/jwks")).send().await?;
        let header_age = sigil_verify::remote::max_age(response.headers());
        let clamped = header_age
            .unwrap_or(sigil_verify::remote::DEFAULT_MAX_AGE)
            .clamp(
                sigil_verify::remote::MIN_MAX_AGE,
                sigil_verify::remote::MAX_MAX_AGE,
            );
        let bound_text = format!(
            "verifier JWKS cache lifetime: server Cache-Control max-age {} clamped by sigil-verify \
             to [{} s, {} s] = {} s",
            header_age.map_or_else(
                || "absent (default 600 s)".to_owned(),
                |a| format!("{} s", a.as_secs())
            ),
            sigil_verify::remote::MIN_MAX_AGE.as_secs(),
            sigil_verify::remote::MAX_MAX_AGE.as_secs(),
            clamped.as_secs()
        );
        revoke_ctx = Some((token, kid, verifier, fetched, clamped, bound_text));
    }

    let mut command = vec!["keys".to_owned()];
    match args.mode {
        Mode::Rotate => command.push("rotate".to_owned()),
        Mode::RotateNow => command.extend(["rotate".to_owned(), "--now".to_owned()]),
        Mode::Revoke => {
            let Some((_, kid, ..)) = &revoke_ctx else {
                bail!("no revoke context")
            };
            command.extend(["revoke".to_owned(), kid.clone()]);
            if let Some(path) = &args.revoked_file {
                let mut f = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)?;
                writeln!(f, "{kid} {}", unix_ms())?;
            }
        }
    }
    // rotate --now: every instance watched from before the command, to see whether any signed
    // with the new key before every one published it.
    let mut watchers = Vec::new();
    if args.mode == Mode::RotateNow {
        for instance in &instances {
            let (client, instance, session) = (client.clone(), instance.clone(), session.clone());
            let published_before = common::jwks_kids(&client, &instance).await?;
            let signing_before = common::get_token(&client, &instance, &session)
                .await?
                .map(|t| common::kid_of(&t));
            watchers.push(tokio::spawn(async move {
                let began = Instant::now();
                let (mut published, mut signing) = (None, None);
                while (published.is_none() || signing.is_none()) && began.elapsed() < give_up {
                    if published.is_none()
                        && let Ok(kids) = common::jwks_kids(&client, &instance).await
                        && kids.iter().any(|k| !published_before.contains(k))
                    {
                        published = Some(Instant::now());
                    }
                    if signing.is_none()
                        && let Ok(Some(t)) = common::get_token(&client, &instance, &session).await
                        && Some(common::kid_of(&t)) != signing_before
                    {
                        signing = Some(Instant::now());
                    }
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
                (instance, published, signing)
            }));
        }
    }
    // Times count from just before the command is spawned.
    let start = Instant::now();
    let out = tokio::process::Command::new(&args.sigil)
        .args(&command)
        .output()
        .await
        .context("running sigil")?;
    let command_ms = ms(start);
    let stdout = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    if !out.status.success() {
        bail!(
            "sigil {}: {} {}",
            command.join(" "),
            stdout,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let kid = match &revoke_ctx {
        Some((_, kid, ..)) => kid.clone(),
        None => stdout
            .split_whitespace()
            .next()
            .context("no kid in the output of sigil keys rotate")?
            .to_owned(),
    };

    let mut tasks = Vec::new();
    for instance in &instances {
        let (client, instance, kid, session) = (
            client.clone(),
            instance.clone(),
            kid.clone(),
            session.clone(),
        );
        let mode = args.mode;
        tasks.push(tokio::spawn(async move {
            let want_listed = mode != Mode::Revoke;
            let jwks_ms = until(start, give_up, || async {
                match common::jwks_kids(&client, &instance).await {
                    Ok(kids) => kids.contains(&kid) == want_listed,
                    Err(_) => false,
                }
            })
            .await;
            let last_error = std::sync::Mutex::new(None);
            let token_ms = if mode == Mode::Rotate {
                None
            } else {
                until(start, give_up, || async {
                    match common::get_token(&client, &instance, &session).await {
                        Ok(Some(t)) => (common::kid_of(&t) == kid) == (mode == Mode::RotateNow),
                        Ok(None) => false,
                        Err(e) => {
                            if let Ok(mut last) = last_error.lock() {
                                *last = Some(format!("{e:#}"));
                            }
                            false
                        }
                    }
                })
                .await
            };
            InstanceTime {
                instance,
                jwks_ms,
                token_ms,
                token_error: last_error.into_inner().ok().flatten(),
            }
        }));
    }
    let mut times = Vec::new();
    for t in tasks {
        times.push(t.await?);
    }
    let since_start = |at: Option<Instant>| {
        at.map(|at| at.saturating_duration_since(start).as_secs_f64() * 1000.0)
    };
    let mut watched = Vec::new();
    for w in watchers {
        let (instance, published, signing) = w.await?;
        watched.push(Watched {
            instance,
            published_ms: since_start(published),
            signing_ms: since_start(signing),
        });
    }

    let mut report = KeyReport {
        mode: args.mode,
        kid: kid.clone(),
        command: format!("sigil {}", command.join(" ")),
        command_output: stdout,
        command_ms,
        instances: times,
        keys_before,
        watched,
        keys_after: Vec::new(),
        signing_after: None,
        verifier_reject_ms: None,
        verifier_reject_code: None,
        verifier_bound_s: None,
        verifier_bound: None,
        errors: Vec::new(),
    };
    if let Some((token, _, verifier, fetched, clamped, bound_text)) = revoke_ctx {
        report.signing_after = common::get_token(&client, &instances[0], &session)
            .await
            .ok()
            .flatten()
            .map(|t| common::kid_of(&t));
        // Bound from the command's start (the verifier's set was fetched before it, so its
        // expiry comes no later than this); give up 30 s past it.
        let bound = clamped.as_secs_f64();
        let already = fetched.elapsed().as_secs_f64() - start.elapsed().as_secs_f64();
        report.verifier_bound_s = Some(bound);
        report.verifier_bound = Some(format!(
            "{bound_text} (the set was fetched {already:.1} s before the command)"
        ));
        let stop = Duration::from_secs_f64(bound + 30.0);
        loop {
            match verifier.verify_claims(&token).await {
                Err(e) => {
                    report.verifier_reject_ms = Some(ms(start));
                    report.verifier_reject_code = Some(e.code().to_owned());
                    break;
                }
                Ok(_) if start.elapsed() >= stop => break,
                Ok(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }
    match keys_list(&args.sigil).await {
        Ok(k) => report.keys_after = k,
        Err(e) => report.errors.push(format!("{e:#}")),
    }
    common::write_json(&args.out, &report)?;
    eprintln!(
        "key-probe {:?}: kid {kid}, instances {:?}, verifier {:?}",
        args.mode,
        report
            .instances
            .iter()
            .map(|i| (i.jwks_ms, i.token_ms))
            .collect::<Vec<_>>(),
        report.verifier_reject_ms
    );
    Ok(())
}
