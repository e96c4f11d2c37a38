//! `sigil migrate --from-better-auth --check`: prints the library's takeover report (text or
//! JSON) and exits [`READY`] when Sigil can serve the database, [`BLOCKED`] when something
//! blocks, [`USAGE`] on a usage or configuration error, [`UNREADABLE`] when the database could
//! not be read.

use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::{Result, anyhow};
use sigil_server::takeover::{KeyEncryption, KeyLife, KeyOpening, TakeoverReport};
use sigil_server::time::iso;
use sigil_server::{Config, Settings};

use crate::ServerArgs;

/// Exit code: nothing blocks, Sigil can serve the database.
pub(crate) const READY: i32 = 0;
/// Exit code: something blocks (each blocker is named in the report).
pub(crate) const BLOCKED: i32 = 1;
/// Exit code: a usage or configuration error (no secret, an invalid setting).
pub(crate) const USAGE: i32 = 2;
/// Exit code: the database could not be opened or read.
pub(crate) const UNREADABLE: i32 = 3;

/// Runs the check and prints the report; returns the exit code.
pub(crate) async fn check(args: &ServerArgs, json: bool) -> i32 {
    let config = match args.settings().and_then(read_only_secret) {
        Ok(settings) => match Config::from_settings(settings) {
            Ok(config) => config,
            Err(e) => return fail(USAGE, &anyhow!(e)),
        },
        Err(e) => return fail(USAGE, &e),
    };
    let report = match sigil_server::takeover::check(&config).await {
        Ok(report) => report,
        Err(e) => return fail(UNREADABLE, &anyhow!(e).context("checking the database")),
    };
    if json {
        match serde_json::to_string_pretty(&report) {
            Ok(text) => println!("{text}"),
            Err(e) => return fail(BLOCKED, &anyhow!(e)),
        }
    } else {
        print!("{}", render(&report));
    }
    if report.ready() { READY } else { BLOCKED }
}

fn fail(code: i32, error: &anyhow::Error) -> i32 {
    eprintln!("Error: {error:?}");
    code
}

/// `settings` with a secret resolved without ever generating one. Without a configured secret
/// (no `secret`, and `secrets` naming none: unset, empty or only commas) the configuration would
/// generate one into the data directory: a write, and a secret that opens none of Better Auth's
/// keys. Here the data directory's secret file is read if it exists (reading only: no directory
/// created, no permission changed), and its absence is an error.
fn read_only_secret(mut settings: Settings) -> Result<Settings> {
    let versioned = settings
        .secrets
        .as_deref()
        .is_some_and(|s| s.split(',').any(|entry| !entry.trim().is_empty()));
    if settings.secret.is_some() || versioned {
        return Ok(settings);
    }
    let data_dir = settings
        .data_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from("./sigil-data"));
    let path = data_dir.join("secret");
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            settings.secret = Some(text.trim().to_owned());
            Ok(settings)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(anyhow!(
            "no secret configured: set BETTER_AUTH_SECRET (or BETTER_AUTH_SECRETS, or SIGIL_SECRET) to the Better Auth secret; the check writes nothing, so it does not generate one"
        )),
        Err(e) => Err(anyhow!(e).context(format!("reading the secret file {}", path.display()))),
    }
}

/// Better Auth's tables whose absence blocks (see the library's check).
const CORE_TABLES: [&str; 3] = ["user", "session", "account"];

fn join(items: &[&String]) -> String {
    items
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn count(n: Option<i64>) -> String {
    n.map_or_else(|| "-".to_owned(), |n| n.to_string())
}

fn list(items: &[String]) -> String {
    if items.is_empty() {
        "none".to_owned()
    } else {
        items.join(", ")
    }
}

/// The report as text, one section after another, the verdict last.
fn render(r: &TakeoverReport) -> String {
    let mut out = String::new();
    let w = &mut out;
    let _ = writeln!(
        w,
        "Better Auth takeover check ({}, read-only, at {})",
        r.engine,
        iso(r.checked_at)
    );
    let _ = writeln!(w, "secret: {}", r.secret);
    let _ = writeln!(w, "\ntables");
    let _ = writeln!(w, "  Better Auth tables found: {}", list(&r.tables.found));
    let (core, created): (Vec<&String>, Vec<&String>) = r
        .tables
        .missing
        .iter()
        .partition(|t| CORE_TABLES.contains(&t.as_str()));
    let mut missing = Vec::new();
    if !core.is_empty() {
        missing.push(format!(
            "{} (blocks: Sigil takes over only Better Auth's default table names)",
            join(&core)
        ));
    }
    if !created.is_empty() {
        missing.push(format!("{} (`sigil migrate` creates them)", join(&created)));
    }
    let _ = writeln!(
        w,
        "  missing: {}",
        if missing.is_empty() {
            "none".to_owned()
        } else {
            missing.join("; ")
        }
    );
    let _ = writeln!(
        w,
        "  other tables (kept untouched): {}",
        list(&r.tables.other)
    );
    let c = &r.counts;
    let _ = writeln!(w, "\nrows");
    let _ = writeln!(w, "  user: {}", count(c.users));
    let _ = writeln!(
        w,
        "  session: {} live, {} expired",
        count(c.sessions_live),
        count(c.sessions_expired)
    );
    let _ = writeln!(w, "  account: {}", count(c.accounts));
    let _ = writeln!(w, "  jwks: {}", count(c.keys));
    let s = &r.schema;
    let _ = writeln!(w, "\nschema");
    if s.missing.is_empty() {
        let _ = writeln!(w, "  required columns: all present");
    } else {
        let _ = writeln!(w, "  missing columns: {} (blocks)", s.missing.join(", "));
    }
    if !s.blocking_extra.is_empty() {
        let _ = writeln!(
            w,
            "  NOT NULL columns Sigil does not fill: {} (blocks)",
            s.blocking_extra.join(", ")
        );
    }
    if !s.added_by_migrate.is_empty() {
        let _ = writeln!(
            w,
            "  {}: missing, will be added by `sigil migrate`",
            s.added_by_migrate.join(", ")
        );
    }
    for t in &s.unreadable_times {
        let _ = writeln!(w, "  unreadable time column {t} (blocks)");
    }
    let _ = writeln!(w, "\nkeys ({})", r.keys.len());
    for k in &r.keys {
        let alg = match (&k.stored_alg, &k.alg) {
            (Some(stored), _) => stored.clone(),
            (None, Some(inferred)) => format!("unset → inferred {inferred} from its key type"),
            (None, None) => "unset, key type unreadable".to_owned(),
        };
        let life = match k.life {
            KeyLife::Live => "live",
            KeyLife::InGrace => "expired, within grace",
            KeyLife::PastGrace => "expired, past grace",
        };
        let opening = match &k.opening {
            KeyOpening::Opens => "opens with this secret".to_owned(),
            KeyOpening::WrongSecret(why) => format!("does NOT open with this secret ({why})"),
            KeyOpening::Unusable(why) => format!("unusable ({why})"),
        };
        let encryption = match k.encryption {
            KeyEncryption::Versioned(v) => format!("versioned envelope $ba${v}$"),
            KeyEncryption::Unversioned => "unversioned envelope".to_owned(),
            KeyEncryption::PlainJwk => "plain JWK (not encrypted)".to_owned(),
            KeyEncryption::Unknown => "unknown storage format".to_owned(),
        };
        let _ = writeln!(w, "  {}{}", k.id, if k.blocks { "  (blocks)" } else { "" });
        let _ = writeln!(w, "    alg: {alg}");
        let _ = writeln!(
            w,
            "    created {}, expires {}: {life}",
            iso(k.created_at),
            k.expires_at.map_or_else(|| "never".to_owned(), iso)
        );
        let _ = writeln!(w, "    {opening}; {encryption}");
    }
    let _ = writeln!(w, "\naccounts by provider");
    if r.accounts.is_empty() {
        let _ = writeln!(w, "  none");
    }
    for a in &r.accounts {
        let what = if a.supported {
            "email/password: supported"
        } else {
            "social/OAuth: users cannot sign in through Sigil; kept untouched"
        };
        let _ = writeln!(w, "  {}: {} ({what})", a.provider, a.accounts);
    }
    let p = &r.passwords;
    let _ = writeln!(w, "\npassword hashes (credential accounts)");
    let _ = writeln!(w, "  Better Auth scrypt salt:key: {} (supported)", p.scrypt);
    if p.without_password > 0 {
        let _ = writeln!(w, "  without a password: {}", p.without_password);
    }
    for u in &p.unknown {
        let _ = writeln!(
            w,
            "  unknown format {}: {} (blocks)",
            u.description, u.count
        );
    }
    if !r.notes.is_empty() {
        let _ = writeln!(w, "\nnotes");
        for n in &r.notes {
            let _ = writeln!(w, "  - {n}");
        }
    }
    let _ = writeln!(w);
    if r.ready() {
        let _ = writeln!(w, "ready: Sigil can serve this database");
    } else {
        let _ = writeln!(
            w,
            "blocked: {} problem{}",
            r.blockers.len(),
            if r.blockers.len() == 1 { "" } else { "s" }
        );
        for b in &r.blockers {
            let _ = writeln!(w, "  - {b}");
        }
    }
    out
}
