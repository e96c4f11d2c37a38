//! `sigil-fleet summarize`: one verdict over the load and the probes, as text and markdown.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::common;
use crate::load::LoadSummary;
use crate::probes::{KeyReport, Mode, SignoutReport};

/// Flags of `summarize`.
#[derive(clap::Args, Debug)]
pub struct SummarizeArgs {
    /// The load's summary JSON.
    #[arg(long)]
    load: PathBuf,
    /// The folder with signout.json, key-rotate.json, key-rotate-now.json, key-revoke.json.
    #[arg(long)]
    probes: PathBuf,
    /// The `jwks` table as `psql -At -F '|'` prints `id, createdAt, expiresAt, alg`.
    #[arg(long)]
    jwks_table: PathBuf,
    /// The documented bound of sign-out propagation across instances, milliseconds.
    #[arg(long, default_value_t = 1000.0)]
    signout_bound_ms: f64,
    /// The bound of key propagation to instances, milliseconds.
    #[arg(long, default_value_t = 1000.0)]
    key_bound_ms: f64,
    /// Lines `unix_ms label`: what the script did when, shown relative to the load's start.
    #[arg(long)]
    events: Option<PathBuf>,
    /// Also write the summary as markdown here.
    #[arg(long)]
    markdown: Option<PathBuf>,
    /// A line for the markdown heading (date, command).
    #[arg(long, default_value = "")]
    title: String,
}

fn read<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
}

/// Collects lines and broken promises.
#[derive(Default)]
struct Out {
    lines: Vec<String>,
    broken: Vec<String>,
}

impl Out {
    fn line(&mut self, s: impl Into<String>) {
        self.lines.push(s.into());
    }
    fn broken(&mut self, s: impl Into<String>) {
        let s = s.into();
        self.lines.push(format!("  BROKEN: {s}"));
        self.broken.push(s);
    }
}

fn opt_ms(v: Option<f64>) -> String {
    v.map_or_else(|| "never (gave up)".to_owned(), |v| format!("{v:.0} ms"))
}

/// Runs `summarize`; returns whether every promise held.
pub fn run(args: SummarizeArgs) -> Result<bool> {
    let mut o = Out::default();
    o.line("== load (through the balancer, every JWT verified by one sigil-verify Verifier)");
    match read::<LoadSummary>(&args.load) {
        Ok(l) => {
            if let Some(text) = args
                .events
                .as_ref()
                .and_then(|p| std::fs::read_to_string(p).ok())
            {
                o.line("  timeline (t = seconds since the load's start):");
                for line in text.lines() {
                    if let Some((at, label)) = line.split_once(' ')
                        && let Ok(at) = at.parse::<i64>()
                    {
                        let t = (at - l.started_unix_ms as i64) as f64 / 1000.0;
                        o.line(format!("    t {t:6.1} s  {label}"));
                    }
                }
            }
            load_section(&mut o, &l)
        }
        Err(e) => o.broken(format!("no load summary: {e:#}")),
    }

    o.line("== sign-out propagation (sign out on one instance, until each other one refuses)");
    match read::<SignoutReport>(&args.probes.join("signout.json")) {
        Ok(s) => {
            o.line(format!(
                "  {} rounds, {} (instance, round) pairs: p50 {:.0} ms, max {:.0} ms (bound {:.0} ms); own instance refused at once in {}/{} rounds",
                s.rounds,
                s.samples.len(),
                s.p50_ms,
                s.max_ms,
                args.signout_bound_ms,
                s.own_instance_refused_at_once,
                s.rounds
            ));
            if s.gave_up > 0 {
                o.broken(format!(
                    "{} pairs still served the session after the give-up time",
                    s.gave_up
                ));
            }
            if s.max_ms > args.signout_bound_ms {
                let over = s
                    .samples
                    .iter()
                    .filter(|x| x.ms > args.signout_bound_ms)
                    .count();
                o.broken(format!(
                    "sign-out propagation max {:.0} ms > {:.0} ms ({over} of {} pairs over)",
                    s.max_ms,
                    args.signout_bound_ms,
                    s.samples.len()
                ));
            }
            if s.own_instance_refused_at_once != s.rounds - s.errors.len() as u64 {
                o.broken("the instance that signed out still accepted the session");
            }
            for e in &s.errors {
                o.broken(format!("sign-out probe error: {e}"));
            }
        }
        Err(e) => o.broken(format!("no sign-out probe: {e:#}")),
    }

    o.line("== key propagation (from just before `sigil keys …` is spawned)");
    let mut reports = Vec::new();
    for (file, mode) in [
        ("key-rotate.json", Mode::Rotate),
        ("key-rotate-now.json", Mode::RotateNow),
        ("key-revoke.json", Mode::Revoke),
    ] {
        match read::<KeyReport>(&args.probes.join(file)) {
            Ok(r) => {
                key_section(&mut o, &r, args.key_bound_ms);
                reports.push(r);
            }
            Err(e) => o.broken(format!("no {mode:?} probe: {e:#}")),
        }
    }

    o.line("== keys in the database (jwks table)");
    match std::fs::read_to_string(&args.jwks_table) {
        Ok(table) => keys_section(&mut o, &table, &reports),
        Err(e) => o.broken(format!("no jwks table: {e}")),
    }

    if o.broken.is_empty() {
        o.line("VERDICT: every promise held");
    } else {
        o.line(format!("VERDICT: {} broken promise(s):", o.broken.len()));
        for b in o.broken.clone() {
            o.line(format!("  - {b}"));
        }
    }
    let text = o.lines.join("\n");
    println!("{text}");
    if let Some(path) = &args.markdown {
        let mut md = String::new();
        if !args.title.is_empty() {
            let _ = writeln!(md, "{}\n", args.title);
        }
        let _ = writeln!(md, "```\n{text}\n```");
        std::fs::write(path, md).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(o.broken.is_empty())
}

fn load_section(o: &mut Out, l: &LoadSummary) {
    o.line(format!(
        "  {:.0} s, {} sessions, {} workers, {} requests ({:.0}/s)",
        l.seconds,
        l.sessions,
        l.concurrency,
        l.requests,
        l.requests as f64 / l.seconds.max(0.001)
    ));
    o.line(format!(
        "  tokens issued {}, verified {}, verification failures {} (expected by revocation {}, unexpected {})",
        l.tokens_issued,
        l.tokens_verified,
        l.verify_failures_total,
        l.expected_failures,
        l.unexpected_failures
    ));
    let kids: Vec<String> = l
        .tokens_by_kid
        .iter()
        .map(|(k, n)| format!("{k}: {n}"))
        .collect();
    o.line(format!("  tokens by kid: {}", kids.join(", ")));
    for (status, seen) in &l.by_status {
        o.line(format!(
            "  {status}: {} (t {:.1}–{:.1} s)",
            seen.count,
            seen.first_t_ms as f64 / 1000.0,
            seen.last_t_ms as f64 / 1000.0
        ));
    }
    for (route, max) in &l.max_latency_ms {
        let slow = l.slow_over_1s.get(route);
        o.line(format!(
            "  {route}: slowest answer {max:.0} ms; {} answers over 1 s{}",
            slow.map_or(0, |s| s.count),
            slow.map_or_else(String::new, |s| format!(
                " (t {:.1}–{:.1} s)",
                s.first_t_ms as f64 / 1000.0,
                s.last_t_ms as f64 / 1000.0
            ))
        ));
    }
    for g in &l.failure_groups {
        let line = format!(
            "verification failures kid {} code {}: {} at t {:.1}–{:.1} s ({})",
            g.kid,
            g.code,
            g.count,
            g.first_t_ms as f64 / 1000.0,
            g.last_t_ms as f64 / 1000.0,
            g.message
        );
        if g.expected {
            o.line(format!("  expected (revocation): {line}"));
        } else {
            o.broken(format!("unexpected {line}"));
        }
    }
    for (code, seen) in &l.server_errors {
        let line = format!(
            "5xx {code}: {} (t {:.1}–{:.1} s)",
            seen.count,
            seen.first_t_ms as f64 / 1000.0,
            seen.last_t_ms as f64 / 1000.0
        );
        if code == "503 DATABASE_UNAVAILABLE" {
            o.line(format!("  {line} (allowed: the database was down)"));
        } else {
            o.broken(line);
        }
    }
    if l.server_errors.is_empty() {
        o.line("  5xx: none");
    }
    for (status, seen) in &l.by_status {
        let code: u16 = status
            .rsplit(' ')
            .next()
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        if (400..500).contains(&code) {
            o.broken(format!(
                "{status} ×{}: a live session was refused",
                seen.count
            ));
        }
    }
    if l.timeouts.count > 0 {
        o.broken(format!(
            "{} client timeouts (hangs) at t {:.1}–{:.1} s",
            l.timeouts.count,
            l.timeouts.first_t_ms as f64 / 1000.0,
            l.timeouts.last_t_ms as f64 / 1000.0
        ));
    }
    for (kind, seen) in &l.transport_errors {
        o.broken(format!(
            "transport errors to the balancer ({kind}): {} at t {:.1}–{:.1} s",
            seen.count,
            seen.first_t_ms as f64 / 1000.0,
            seen.last_t_ms as f64 / 1000.0
        ));
    }
    if l.missing_jwt.count > 0 {
        o.broken(format!("{} 200 answers without a JWT", l.missing_jwt.count));
    }
    if l.tokens_issued == 0 {
        o.broken("the load obtained no token at all");
    }
}

/// `sigil keys rotate --now`: the new key signs this long after the command (the server's
/// `keys::IMMEDIATE_SETTLE`).
const IMMEDIATE_SETTLE_MS: f64 = 2000.0;

fn key_section(o: &mut Out, r: &KeyReport, bound_ms: f64) {
    let what = match r.mode {
        Mode::Rotate => "rotate: /jwks lists the new key",
        Mode::RotateNow => "rotate --now: /jwks lists it / /token signs with it",
        Mode::Revoke => "revoke: /jwks drops it / /token stops signing with it",
    };
    o.line(format!(
        "  {what} — `{}` ({:.0} ms), kid {}",
        r.command, r.command_ms, r.kid
    ));
    let mut published = Vec::new();
    let mut signing = Vec::new();
    for i in &r.instances {
        o.line(format!(
            "    {}: jwks {}{}",
            i.instance,
            opt_ms(i.jwks_ms),
            if r.mode == Mode::Rotate {
                String::new()
            } else {
                format!(", token {}", opt_ms(i.token_ms))
            }
        ));
        if let Some(e) = &i.token_error {
            o.line(format!("      last /token error while polling: {e}"));
        }
        let mut all = vec![("/jwks", i.jwks_ms, &mut published)];
        if r.mode != Mode::Rotate {
            all.push(("/token", i.token_ms, &mut signing));
        }
        for (what, v, into) in all {
            match v {
                Some(v) => into.push(v),
                None => o.broken(format!(
                    "{:?}: {what} of {} did not show the change within the give-up time (10 s)",
                    r.mode, i.instance
                )),
            }
        }
    }
    // A key change reaches every instance within the bound; with `rotate --now` the new key
    // signs only after its settle time, and never before every instance publishes it.
    let (p50, max) = common::p50_max(&published);
    o.line(format!(
        "    /jwks: p50 {p50:.0} ms, max {max:.0} ms (bound {bound_ms:.0} ms)"
    ));
    if max > bound_ms {
        o.broken(format!(
            "{:?}: key propagation to instances max {max:.0} ms > {bound_ms:.0} ms",
            r.mode
        ));
    }
    if !signing.is_empty() {
        let signing_bound = match r.mode {
            Mode::RotateNow => IMMEDIATE_SETTLE_MS + bound_ms,
            _ => bound_ms,
        };
        let (p50, max_signing) = common::p50_max(&signing);
        o.line(format!(
            "    /token: p50 {p50:.0} ms, max {max_signing:.0} ms (bound {signing_bound:.0} ms)"
        ));
        if max_signing > signing_bound {
            o.broken(format!(
                "{:?}: signing change max {max_signing:.0} ms > {signing_bound:.0} ms",
                r.mode
            ));
        }
    }
    if r.mode == Mode::RotateNow {
        // Watched from before the command: the last instance to publish the new key, and the
        // first to sign with it.
        let last_published = r
            .watched
            .iter()
            .map(|w| w.published_ms)
            .collect::<Option<Vec<_>>>();
        let first_signing = r
            .watched
            .iter()
            .filter_map(|w| w.signing_ms)
            .fold(f64::INFINITY, f64::min);
        match last_published {
            Some(all) if !all.is_empty() => {
                let last = all.iter().copied().fold(0.0, f64::max);
                o.line(format!(
                    "    watched from before the command: every instance published it by {last:.0} ms, the first signed with it at {first_signing:.0} ms"
                ));
                // The command reads its clock after it is spawned: the new key may not sign
                // sooner than the settle time after the spawn.
                if first_signing < IMMEDIATE_SETTLE_MS {
                    o.broken(format!(
                        "rotate --now: an instance signed with the new key at {first_signing:.0} ms, before its settle time ({IMMEDIATE_SETTLE_MS:.0} ms)"
                    ));
                }
                if first_signing < last {
                    o.broken(format!(
                        "rotate --now: an instance signed with the new key at {first_signing:.0} ms, before every instance published it ({last:.0} ms)"
                    ));
                }
            }
            _ => o.broken("rotate --now: not every instance was seen publishing the new key"),
        }
    }
    if r.mode == Mode::Revoke {
        o.line(format!(
            "    signing after the revocation: {}",
            r.signing_after.as_deref().unwrap_or("?")
        ));
        if let Some(bound) = &r.verifier_bound {
            o.line(format!("    bound: {bound}"));
        }
        let bound_s = r.verifier_bound_s.unwrap_or(0.0);
        match r.verifier_reject_ms {
            Some(ms) => {
                o.line(format!(
                    "    a verifier warmed before the revocation refused its token after {ms:.0} ms ({})",
                    r.verifier_reject_code.as_deref().unwrap_or("?")
                ));
                if ms > bound_s * 1000.0 {
                    o.broken(format!(
                        "revocation reached the verifier after {ms:.0} ms > its bound {bound_s:.0} s"
                    ));
                }
            }
            None => o.broken(format!(
                "a warmed verifier still accepted the revoked key's token {:.0} s after the revocation",
                bound_s + 30.0
            )),
        }
    }
    for e in &r.errors {
        o.broken(format!("{:?} probe: {e}", r.mode));
    }
}

fn keys_section(o: &mut Out, table: &str, reports: &[KeyReport]) {
    let rows: Vec<&str> = table.lines().filter(|l| !l.trim().is_empty()).collect();
    for row in &rows {
        let cols: Vec<&str> = row.split('|').collect();
        o.line(format!(
            "  {}  created {}  expires {}  {}",
            cols.first().unwrap_or(&"?"),
            cols.get(1).unwrap_or(&"?"),
            cols.get(2).filter(|s| !s.is_empty()).unwrap_or(&"-"),
            cols.get(3).unwrap_or(&"")
        ));
    }
    let first = reports.first();
    let initial = first.map_or(0, |r| r.keys_before.len());
    let rotations = reports.iter().filter(|r| r.mode != Mode::Revoke).count();
    let revoked = reports.iter().filter(|r| r.mode == Mode::Revoke).count();
    let minted: usize = reports
        .iter()
        .filter(|r| r.mode == Mode::Revoke)
        .map(|r| {
            r.keys_after
                .iter()
                .filter(|k| !r.keys_before.contains(k))
                .count()
        })
        .sum();
    let expected = 1 + rotations + minted - revoked.min(1 + rotations + minted);
    o.line(format!(
        "  {} keys: expected 1 (first start of three instances on an empty database) + {rotations} rotations − {revoked} revoked + {minted} minted after the revocation = {expected}",
        rows.len()
    ));
    if initial != 1 {
        o.broken(format!(
            "{initial} keys existed before the first rotation (three instances started at once must create exactly one)"
        ));
    }
    if rows.len() != expected {
        o.broken(format!(
            "{} keys in the jwks table, expected {expected}",
            rows.len()
        ));
    }
    let mut ids: Vec<&str> = rows.iter().filter_map(|r| r.split('|').next()).collect();
    ids.sort_unstable();
    let n = ids.len();
    ids.dedup();
    if ids.len() != n {
        o.broken("duplicate key ids in the jwks table");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::{FailureGroup, Seen};

    fn seen(count: u64) -> Seen {
        Seen {
            count,
            first_t_ms: 1000,
            last_t_ms: 2000,
        }
    }

    #[test]
    fn only_503_database_unavailable_and_expected_failures_are_allowed() {
        let mut l = LoadSummary {
            tokens_issued: 10,
            ..LoadSummary::default()
        };
        l.server_errors
            .insert("503 DATABASE_UNAVAILABLE".to_owned(), seen(3));
        l.failure_groups.push(FailureGroup {
            kid: "old".to_owned(),
            code: "no_matching_key".to_owned(),
            expected: true,
            count: 2,
            first_t_ms: 0,
            last_t_ms: 1,
            message: String::new(),
        });
        let mut o = Out::default();
        load_section(&mut o, &l);
        assert!(o.broken.is_empty(), "{:?}", o.broken);

        l.server_errors
            .insert("500 SIGNING_KEY_UNAVAILABLE".to_owned(), seen(1));
        l.server_errors.insert("502 -".to_owned(), seen(1));
        l.timeouts = seen(1);
        l.failure_groups[0].expected = false;
        let mut o = Out::default();
        load_section(&mut o, &l);
        assert_eq!(o.broken.len(), 4, "{:?}", o.broken);
    }
}
