//! Taking over a Better Auth database: a read-only check (`sigil migrate --from-better-auth
//! --check`) of what Sigil finds in the configured database and will use, and what would stop
//! it. The check writes nothing (see [`crate::store`]'s read-only survey): no migration, no key,
//! no bookkeeping table.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use thiserror::Error;

use crate::config::Config;
use crate::keys::{KeyError, KeyManager, SecretRing, row_alg};
use crate::store::inspect::{DateColumn, KNOWN_TABLES, Survey, SurveyedKey};
use crate::store::{KeyRow, Store, StoreError};
use crate::time::Clock;

/// How many `jwks` rows a Better Auth node reads: its adapter's `findMany` default limit.
pub const BETTER_AUTH_KEY_LIMIT: usize = 100;

/// The columns Sigil reads and writes, by table; a missing one blocks.
const REQUIRED: [(&str, &[&str]); 4] = [
    (
        "user",
        &[
            "id",
            "name",
            "email",
            "emailVerified",
            "image",
            "createdAt",
            "updatedAt",
        ],
    ),
    (
        "session",
        &[
            "id",
            "expiresAt",
            "token",
            "createdAt",
            "updatedAt",
            "ipAddress",
            "userAgent",
            "userId",
        ],
    ),
    (
        "account",
        &[
            "id",
            "accountId",
            "providerId",
            "userId",
            "password",
            "createdAt",
            "updatedAt",
        ],
    ),
    (
        "jwks",
        &["id", "publicKey", "privateKey", "createdAt", "expiresAt"],
    ),
];

/// The table in which sqlx (so Sigil) records the migrations it ran.
const SQLX_MIGRATIONS: &str = "_sqlx_migrations";

/// The tables without which this is not a Better Auth database Sigil can take over: users,
/// their sessions and their passwords.
const CORE_TABLES: [&str; 3] = ["user", "session", "account"];

/// The one PostgreSQL type Sigil reads times from (sqlx decodes `DateTime<Utc>` only from it).
const PG_TIME_TYPE: &str = "timestamp with time zone";

/// The columns `sigil migrate` adds to `jwks` when missing (Better Auth 1.7.0).
const ADDED_KEY_COLUMNS: [&str; 2] = ["alg", "crv"];

/// Why the check could not be made (as opposed to what it found).
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum TakeoverError {
    /// The database could not be opened or read.
    #[error("reading the database")]
    Store(#[from] StoreError),
}

/// What the check found: every section of the report, the blockers (each a sentence naming
/// what blocks and why), and the notes that do not block.
#[derive(Clone, Debug, Serialize)]
pub struct TakeoverReport {
    /// `"sqlite"` or `"postgres"`.
    pub engine: &'static str,
    /// When the check ran: what keys and sessions are judged against.
    pub checked_at: DateTime<Utc>,
    /// The configured secrets, described without their values.
    pub secret: String,
    /// Tables found, missing and other.
    pub tables: TablesReport,
    /// Row counts.
    pub counts: Counts,
    /// Columns that block or that `sigil migrate` adds.
    pub schema: SchemaReport,
    /// Every key row, oldest first.
    pub keys: Vec<KeyReport>,
    /// Accounts by `providerId`.
    pub accounts: Vec<ProviderReport>,
    /// Password hash formats among credential accounts.
    pub passwords: PasswordReport,
    /// What would stop Sigil, one sentence each.
    pub blockers: Vec<String>,
    /// What is worth knowing but does not stop Sigil.
    pub notes: Vec<String>,
}

impl TakeoverReport {
    /// Whether nothing blocks: Sigil can serve this database.
    pub fn ready(&self) -> bool {
        self.blockers.is_empty()
    }
}

/// Better Auth's core tables found and missing, and every other table (left untouched).
#[derive(Clone, Debug, Serialize)]
pub struct TablesReport {
    /// Core tables present.
    pub found: Vec<String>,
    /// Core tables absent (`sigil migrate` creates them).
    pub missing: Vec<String>,
    /// Tables of other plugins or tools: Sigil never touches them.
    pub other: Vec<String>,
}

/// Row counts of the tables Sigil uses (`None`: the table is missing).
#[derive(Clone, Debug, Serialize)]
pub struct Counts {
    /// Users.
    pub users: Option<i64>,
    /// Sessions not expired yet.
    pub sessions_live: Option<i64>,
    /// Sessions expired (Sigil ignores them).
    pub sessions_expired: Option<i64>,
    /// Accounts (every provider).
    pub accounts: Option<i64>,
    /// Key rows.
    pub keys: Option<i64>,
}

/// Column findings, each `table.column`.
#[derive(Clone, Debug, Serialize)]
pub struct SchemaReport {
    /// Columns Sigil needs that a present table lacks (blockers).
    pub missing: Vec<String>,
    /// Extra `NOT NULL` columns without a default in a table Sigil inserts into (blockers:
    /// its inserts would fail).
    pub blocking_extra: Vec<String>,
    /// Columns `sigil migrate` adds (`jwks.alg`, `jwks.crv` on tables from before Better Auth
    /// 1.7).
    pub added_by_migrate: Vec<String>,
    /// Time columns Sigil cannot read (blockers): a PostgreSQL type other than `timestamp with
    /// time zone`, SQLite values that are not RFC 3339 text. Each `table.column: why`.
    pub unreadable_times: Vec<String>,
}

/// Where a key stands at the time of the check.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyLife {
    /// Not expired: it signs (or will) and is published.
    Live,
    /// Expired, still published for the grace period.
    InGrace,
    /// Past its grace period: neither signs nor is published.
    PastGrace,
}

/// Whether the configured secret opens a key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "result", content = "reason")]
pub enum KeyOpening {
    /// It opens, and its private half matches its public key.
    Opens,
    /// It does not open with the configured secret(s).
    WrongSecret(String),
    /// It opens (or needs no secret) but cannot be used: an unknown algorithm, a broken key, a
    /// private key that does not match its public key.
    Unusable(String),
}

/// How a private key is stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "version")]
pub enum KeyEncryption {
    /// Better Auth's envelope with a `$ba$<version>$` prefix (versioned secrets).
    Versioned(u32),
    /// Better Auth's envelope without a version (one plain secret).
    Unversioned,
    /// A plain private JWK (encryption turned off).
    PlainJwk,
    /// Neither.
    Unknown,
}

/// One key row.
#[derive(Clone, Debug, Serialize)]
pub struct KeyReport {
    /// The key id (`kid`).
    pub id: String,
    /// The stored `alg` (`None`: unset, or no such column).
    pub stored_alg: Option<String>,
    /// The algorithm Sigil uses for it: the stored one, or the one its key type implies.
    pub alg: Option<String>,
    /// When it starts signing.
    pub created_at: DateTime<Utc>,
    /// When it stops signing.
    pub expires_at: Option<DateTime<Utc>>,
    /// Its state now.
    pub life: KeyLife,
    /// Whether this secret opens it.
    pub opening: KeyOpening,
    /// How its private key is stored.
    pub encryption: KeyEncryption,
    /// Whether it blocks (a live or published key the secret cannot open).
    pub blocks: bool,
}

/// The accounts of one provider.
#[derive(Clone, Debug, Serialize)]
pub struct ProviderReport {
    /// `providerId` (`credential` is email/password).
    pub provider: String,
    /// How many.
    pub accounts: i64,
    /// Whether users can sign in through Sigil with it (only `credential`).
    pub supported: bool,
}

/// Password hash formats among credential accounts. Never holds a hash.
#[derive(Clone, Debug, Default, Serialize)]
pub struct PasswordReport {
    /// Better Auth's scrypt `salt:key` hashes (supported).
    pub scrypt: i64,
    /// Credential accounts without a password.
    pub without_password: i64,
    /// Other formats: a redacted description (a prefix such as `$2b$`, never the hash) and how
    /// many.
    pub unknown: Vec<UnknownHashes>,
}

/// Hashes in one format Sigil cannot verify.
#[derive(Clone, Debug, Serialize)]
pub struct UnknownHashes {
    /// A redacted description: ``starting `$2b$` `` or "with no recognizable prefix".
    pub description: String,
    /// How many.
    pub count: i64,
}

/// Checks, reading only, whether Sigil can serve the configured database: opens it read-only,
/// reads it in one read-only transaction, judges what it found against `config` (secrets,
/// algorithm, grace period) and the current time.
pub async fn check(config: &Config) -> Result<TakeoverReport, TakeoverError> {
    check_at(config, crate::time::system_clock()).await
}

/// [`check`] with a clock (tests).
pub async fn check_at(config: &Config, clock: Clock) -> Result<TakeoverReport, TakeoverError> {
    let store = Store::connect_read_only(&config.database_url, config.database_timeout)?;
    let now = clock();
    let survey = store.survey(now).await;
    store.close().await;
    let survey = survey?;
    let keys = KeyManager::new(
        store.clone(),
        SecretRing::from_secrets(&config.secrets),
        config.keys.clone(),
        clock,
    );
    Ok(judge(config, &keys, &survey, now, store.engine()))
}

/// The report on `survey`.
fn judge(
    config: &Config,
    keys: &KeyManager,
    survey: &Survey,
    now: DateTime<Utc>,
    engine: &'static str,
) -> TakeoverReport {
    let mut blockers = Vec::new();
    let mut notes = Vec::new();
    let tables = tables(survey, &mut blockers, &mut notes);
    let mut schema = schema(survey, config, &mut blockers, &mut notes);
    schema.unreadable_times = times(survey, engine, &mut blockers);
    let counts = Counts {
        users: survey.counts.get("user").copied(),
        sessions_live: survey.live_sessions,
        sessions_expired: survey
            .counts
            .get("session")
            .zip(survey.live_sessions)
            .map(|(all, live)| all - live),
        accounts: survey.counts.get("account").copied(),
        keys: survey.counts.get("jwks").copied(),
    };
    let key_reports = key_reports(config, keys, survey, now, &mut blockers, &mut notes);
    let accounts = survey
        .providers
        .iter()
        .map(|(provider, accounts)| ProviderReport {
            provider: provider.clone(),
            accounts: *accounts,
            supported: provider == "credential",
        })
        .collect::<Vec<_>>();
    let social: i64 = accounts
        .iter()
        .filter(|a| !a.supported)
        .map(|a| a.accounts)
        .sum();
    if social > 0 {
        notes.push(format!(
            "{social} account(s) of other providers (social/OAuth logins): their users exist but cannot sign in through Sigil; kept untouched"
        ));
    }
    let passwords = passwords(survey, &mut blockers, &mut notes);
    TakeoverReport {
        engine,
        checked_at: now,
        secret: describe_secrets(config),
        tables,
        counts,
        schema,
        keys: key_reports,
        accounts,
        passwords,
        blockers,
        notes,
    }
}

/// The configured secrets, without their values.
fn describe_secrets(config: &Config) -> String {
    let s = &config.secrets;
    if s.versions.is_empty() {
        return "one unversioned secret".to_owned();
    }
    let versions: Vec<String> = s.versions.iter().map(|(v, _)| v.to_string()).collect();
    format!(
        "versioned secrets {} (current {}){}",
        versions.join(", "),
        versions.first().map_or("-", String::as_str),
        if s.legacy.is_some() {
            ", plus an unversioned legacy secret"
        } else {
            ""
        }
    )
}

fn tables(survey: &Survey, blockers: &mut Vec<String>, notes: &mut Vec<String>) -> TablesReport {
    let (found, missing): (Vec<&str>, Vec<&str>) = KNOWN_TABLES
        .iter()
        .partition(|t| survey.tables.iter().any(|found| found == *t));
    let other: Vec<String> = survey
        .tables
        .iter()
        .filter(|t| !KNOWN_TABLES.contains(&t.as_str()) && *t != SQLX_MIGRATIONS)
        .cloned()
        .collect();
    if survey.tables.iter().any(|t| t == SQLX_MIGRATIONS) {
        notes.push(format!(
            "{SQLX_MIGRATIONS} is Sigil's record of its migrations: Sigil has migrated this database before"
        ));
    }
    // Without Better Auth's users, sessions or accounts there is nothing to take over here, or
    // they are under other names (usePlural, modelName) or in another schema, which Sigil does
    // not read: `sigil migrate` would create empty tables beside them.
    let core_missing: Vec<&str> = CORE_TABLES
        .into_iter()
        .filter(|t| missing.contains(t))
        .collect();
    if !core_missing.is_empty() {
        let none = if found.is_empty() {
            "none of Better Auth's tables is here; "
        } else {
            ""
        };
        blockers.push(format!(
            "Better Auth table(s) {} not found: {none}is this the Better Auth database (and, on PostgreSQL, its schema)? Sigil reads only Better Auth's default table names: its `usePlural` and `modelName` options are not supported, and `sigil migrate` would create empty tables beside renamed ones",
            core_missing.join(", ")
        ));
    }
    let others_missing: Vec<&str> = missing
        .iter()
        .copied()
        .filter(|t| !CORE_TABLES.contains(t))
        .collect();
    if !others_missing.is_empty() {
        notes.push(format!(
            "missing table(s) {}: `sigil migrate` creates them",
            others_missing.join(", ")
        ));
    }
    TablesReport {
        found: found.into_iter().map(str::to_owned).collect(),
        missing: missing.into_iter().map(str::to_owned).collect(),
        other,
    }
}

fn schema(
    survey: &Survey,
    config: &Config,
    blockers: &mut Vec<String>,
    notes: &mut Vec<String>,
) -> SchemaReport {
    let mut report = SchemaReport {
        missing: Vec::new(),
        blocking_extra: Vec::new(),
        added_by_migrate: Vec::new(),
        unreadable_times: Vec::new(),
    };
    for (table, required) in REQUIRED {
        let Some(columns) = survey.columns.get(table) else {
            continue;
        };
        for column in required {
            if !columns.iter().any(|c| c.name == *column) {
                report.missing.push(format!("{table}.{column}"));
                blockers.push(format!(
                    "{table}.{column} is missing: Sigil reads and writes it"
                ));
            }
        }
        let inserted = |name: &str| {
            required.contains(&name) || (table == "jwks" && ADDED_KEY_COLUMNS.contains(&name))
        };
        for c in columns {
            if c.not_null && !c.has_default && !inserted(&c.name) {
                let hint = if table == "account" && c.name == "issuer" {
                    " (Better Auth 1.7.0–1.7.1; 1.7.25 dropped it: upgrade Better Auth and run its migration, or drop the column)"
                } else {
                    ""
                };
                report.blocking_extra.push(format!("{table}.{}", c.name));
                blockers.push(format!(
                    "{table}.{} is NOT NULL without a default and Sigil does not fill it: its inserts into {table} would fail{hint}",
                    c.name
                ));
            }
        }
        if table == "jwks" {
            for column in ADDED_KEY_COLUMNS {
                if !columns.iter().any(|c| c.name == column) {
                    report.added_by_migrate.push(format!("jwks.{column}"));
                }
            }
        }
    }
    if !report.added_by_migrate.is_empty() {
        let missing = report.added_by_migrate.join(", ");
        if config.migrate {
            notes.push(format!(
                "{missing} missing (a key table from before Better Auth 1.7): will be added by `sigil migrate`, nullable"
            ));
        } else {
            // Sigil selects them: without them it reads no key at all.
            blockers.push(format!(
                "{missing} missing (a key table from before Better Auth 1.7) and migrations are turned off (SIGIL_MIGRATE=false / `migrate = false`): Sigil could not read the keys; run `sigil migrate --from-better-auth` (it adds them, nullable) before serving, or turn migrations on"
            ));
        }
    }
    report
}

/// Whether Sigil can read the time columns it reads: on PostgreSQL by their type, on SQLite by
/// their values (non-text values, and a sample of the text ones parsed as RFC 3339).
fn times(survey: &Survey, engine: &'static str, blockers: &mut Vec<String>) -> Vec<String> {
    let mut out = Vec::new();
    for c in &survey.date_columns {
        let DateColumn {
            table,
            column,
            declared_type,
            not_text,
            unparsable,
            sampled,
        } = c;
        let mut whys = Vec::new();
        if engine == "postgres" {
            if declared_type != PG_TIME_TYPE {
                whys.push(format!(
                    "its type is `{declared_type}`; Sigil reads times only from `{PG_TIME_TYPE}` (timestamptz): alter the column (`alter table \"{table}\" alter column \"{column}\" type timestamptz using \"{column}\" at time zone 'UTC'`, if its values are UTC)"
                ));
            }
        } else {
            if *not_text > 0 {
                whys.push(format!(
                    "{not_text} value(s) stored as numbers (or other non-text); Sigil reads times only as RFC 3339 text, as Better Auth's SQLite adapter writes them"
                ));
            }
            if *unparsable > 0 {
                whys.push(format!(
                    "{unparsable} of {sampled} sampled text value(s) do not parse as RFC 3339 times"
                ));
            }
        }
        for why in whys {
            out.push(format!("{table}.{column}: {why}"));
            blockers.push(format!("{table}.{column} cannot be read by Sigil: {why}"));
        }
    }
    out
}

/// How a `privateKey` column is stored.
fn encryption(column: &str) -> KeyEncryption {
    if column.trim_start().starts_with('{') {
        return KeyEncryption::PlainJwk;
    }
    let Ok(text) = serde_json::from_str::<String>(column) else {
        return KeyEncryption::Unknown;
    };
    match text.strip_prefix("$ba$") {
        Some(rest) => rest
            .split_once('$')
            .and_then(|(v, _)| v.parse().ok())
            .map_or(KeyEncryption::Unknown, KeyEncryption::Versioned),
        None => KeyEncryption::Unversioned,
    }
}

fn life(config: &Config, row: &KeyRow, now: DateTime<Utc>) -> KeyLife {
    match row.expires_at {
        None => KeyLife::Live,
        Some(e) if e > now => KeyLife::Live,
        Some(e) => match e.checked_add_signed(config.keys.grace_period) {
            Some(end) if end <= now => KeyLife::PastGrace,
            _ => KeyLife::InGrace,
        },
    }
}

fn key_reports(
    config: &Config,
    keys: &KeyManager,
    survey: &Survey,
    now: DateTime<Utc>,
    blockers: &mut Vec<String>,
    notes: &mut Vec<String>,
) -> Vec<KeyReport> {
    let mut out = Vec::new();
    let mut unreadable_blocks = false;
    for key in &survey.keys {
        let row = match key {
            SurveyedKey::Row(row) => row,
            SurveyedKey::Unreadable {
                id,
                expires_at,
                reason,
            } => {
                let id = id.as_deref().unwrap_or("(no readable id)");
                let past_grace = expires_at
                    .and_then(|e| e.checked_add_signed(config.keys.grace_period))
                    .is_some_and(|end| end <= now);
                if past_grace {
                    notes.push(format!(
                        "key {id} is unreadable ({reason}), but it is past its grace period: Sigil ignores it (`sigil keys prune` deletes it)"
                    ));
                } else {
                    unreadable_blocks = true;
                    // Better Auth nodes may sign with it or publish it; Sigil would leave it
                    // out of its key set, and tokens it signed would not verify.
                    blockers.push(format!(
                        "key {id} is unreadable ({reason}) and not known to be past its grace period: Sigil would leave it out of the key set while Better Auth may sign with it or publish it; correct the row, or delete it if it is no longer used"
                    ));
                }
                continue;
            }
        };
        let life = life(config, row, now);
        // Opening is what a server does with every published key at start: a failure there
        // stops it. A key that opens but cannot sign is only left out.
        let opened = keys.open(row);
        let open_fails = opened.is_err();
        let opening = match opened {
            Err(KeyError::Undecryptable { reason, .. }) => {
                KeyOpening::WrongSecret(reason.to_string())
            }
            Err(e) => KeyOpening::Unusable(crate::report::Chain(&e).to_string()),
            Ok(_) => match keys.check_usable(row) {
                Ok(()) => KeyOpening::Opens,
                Err(e) => KeyOpening::Unusable(crate::report::Chain(&e).to_string()),
            },
        };
        let blocks = open_fails && life != KeyLife::PastGrace;
        if blocks {
            let why = match &opening {
                KeyOpening::WrongSecret(r) => format!(
                    "does not open with the configured secret ({r}): configure the Better Auth secret it was written with (BETTER_AUTH_SECRET, or BETTER_AUTH_SECRETS with its version)"
                ),
                KeyOpening::Unusable(r) => format!("cannot be used ({r})"),
                KeyOpening::Opens => String::new(),
            };
            let state = if life == KeyLife::Live {
                "live"
            } else {
                "still published (within its grace period)"
            };
            blockers.push(format!(
                "key {} is {state} but {why}; or revoke it with `sigil keys revoke {}`",
                row.id, row.id
            ));
        } else if matches!(opening, KeyOpening::Unusable(_)) && life != KeyLife::PastGrace {
            notes.push(format!(
                "key {} opens but cannot sign; Sigil leaves it out",
                row.id
            ));
        } else if open_fails {
            notes.push(format!(
                "key {} does not open with this secret, but it is past its grace period: Sigil ignores it (`sigil keys prune` deletes keys past their grace period)",
                row.id
            ));
        }
        out.push(KeyReport {
            id: row.id.clone(),
            stored_alg: row.alg.clone(),
            alg: row_alg(row, config.keys.legacy_rsa_alg())
                .ok()
                .map(|a| a.to_string()),
            created_at: row.created_at,
            expires_at: row.expires_at,
            life,
            opening,
            encryption: encryption(&row.private_key),
            blocks,
        });
    }
    if survey.keys.len() > BETTER_AUTH_KEY_LIMIT {
        notes.push(format!(
            "warning: jwks has {} rows; Better Auth nodes read only {BETTER_AUTH_KEY_LIMIT} of them (its adapter's default findMany limit), so nodes of both may disagree on the key set. Sigil alone reads every row; delete the keys past their grace period (`sigil keys prune`) before sharing the table with Better Auth nodes",
            survey.keys.len()
        ));
    }
    let usable_signer = survey.keys.iter().any(|k| match k {
        SurveyedKey::Row(row) => {
            keys.may_sign(config.keys.alg, row, now) && keys.check_usable(row).is_ok()
        }
        SurveyedKey::Unreadable { .. } => false,
    });
    // Live keys, none of the configured algorithm: Sigil would make and sign with a key of its
    // own algorithm while Better Auth nodes go on signing with theirs.
    let configured = config.keys.alg.to_string();
    let live_algs: std::collections::BTreeSet<String> = out
        .iter()
        .filter(|k| k.life == KeyLife::Live)
        .map(|k| k.alg.clone().unwrap_or_else(|| "unknown".to_owned()))
        .collect();
    let alg_mismatch = !live_algs.is_empty() && !live_algs.contains(&configured);
    if alg_mismatch {
        let algs: Vec<&str> = live_algs.iter().map(String::as_str).collect();
        let suggestion = algs.iter().find(|a| **a != "unknown").map_or_else(
            || "the algorithm of Better Auth's keys".to_owned(),
            |a| (*a).to_owned(),
        );
        // With several algorithms, the first is the one `/token` signs with by default.
        let setting = if config.keys.algs.len() > 1 {
            let rest: Vec<String> = config
                .keys
                .algs
                .iter()
                .map(ToString::to_string)
                .filter(|a| *a != suggestion)
                .collect();
            format!(
                "put {suggestion} first in SIGIL_JWT_ALGS ({suggestion},{}), the algorithm `/token` signs with by default,",
                rest.join(",")
            )
        } else {
            format!("set SIGIL_JWT_ALG={suggestion} (`[jwt] alg = \"{suggestion}\"` in sigil.toml)")
        };
        blockers.push(format!(
            "the live key(s) use {} but Sigil's default algorithm is {configured}: Sigil would create a key of its own and sign with {configured} while Better Auth nodes sign with {}; {setting} to match Better Auth's `jwks.keyPairConfig.alg`",
            algs.join(", "),
            algs.join(", "),
        ));
    }
    // With a live key this secret cannot open, Sigil refuses to make another (that is a blocker
    // already); otherwise it makes its first key on demand.
    if survey.columns.contains_key("jwks")
        && !usable_signer
        && !alg_mismatch
        && !unreadable_blocks
        && !out.iter().any(|k| k.blocks)
    {
        notes.push(if config.keys.algs.len() > 1 {
            format!(
                "no live {} key Sigil can sign with: it creates one at start (and one of each other configured algorithm that has none)",
                config.keys.alg
            )
        } else {
            format!(
                "no live {} key Sigil can sign with: it creates one on first use",
                config.keys.alg
            )
        });
    }
    out
}

/// Whether `hash` is Better Auth's scrypt `<32 hex salt>:<128 hex key>`.
fn is_scrypt(hash: &str) -> bool {
    hash.split_once(':').is_some_and(|(salt, key)| {
        salt.len() == 32
            && key.len() == 128
            && salt.bytes().all(|b| b.is_ascii_hexdigit())
            && key.bytes().all(|b| b.is_ascii_hexdigit())
    })
}

/// A description of a hash's format that gives nothing of the hash away: its scheme prefix
/// (`$2b$`, `$argon2id$`) when it has a short one, else that it has none.
fn describe_format(hash: &str) -> String {
    let prefix = hash.strip_prefix('$').and_then(|rest| {
        let (scheme, _) = rest.split_once('$')?;
        (!scheme.is_empty()
            && scheme.len() <= 12
            && scheme
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
        .then(|| format!("${scheme}$"))
    });
    match prefix {
        Some(p) => format!("starting `{p}`"),
        None => "with no recognizable prefix".to_owned(),
    }
}

fn passwords(
    survey: &Survey,
    blockers: &mut Vec<String>,
    notes: &mut Vec<String>,
) -> PasswordReport {
    let mut report = PasswordReport::default();
    let mut unknown: BTreeMap<String, i64> = BTreeMap::new();
    for hash in &survey.credential_passwords {
        match hash.as_deref() {
            None | Some("") => report.without_password += 1,
            Some(h) if is_scrypt(h) => report.scrypt += 1,
            Some(h) => *unknown.entry(describe_format(h)).or_default() += 1,
        }
    }
    for (description, count) in unknown {
        blockers.push(format!(
            "{count} password hash(es) in an unknown format ({description}): Sigil verifies only Better Auth's scrypt `salt:key` hashes, so these users could not sign in"
        ));
        report.unknown.push(UnknownHashes { description, count });
    }
    if report.without_password > 0 {
        notes.push(format!(
            "{} credential account(s) without a password: they cannot sign in (as with Better Auth)",
            report.without_password
        ));
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_formats_are_described_without_the_hash() {
        assert!(is_scrypt(&format!(
            "{}:{}",
            "a".repeat(32),
            "0".repeat(128)
        )));
        assert!(!is_scrypt(&format!(
            "{}:{}",
            "a".repeat(31),
            "0".repeat(128)
        )));
        let bcrypt = "$2b$10$abcdefghijklmnopqrstuuvwxyz0123456789ABCDEFGHIJKLMNO";
        assert_eq!(describe_format(bcrypt), "starting `$2b$`");
        assert_eq!(
            describe_format("$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA"),
            "starting `$argon2id$`"
        );
        assert_eq!(
            describe_format("5f4dcc3b5aa765d61d8327deb882cf99"),
            "with no recognizable prefix"
        );
        assert_eq!(describe_format("$$x"), "with no recognizable prefix");
    }

    #[test]
    fn key_encryption_is_classified() {
        assert_eq!(encryption(r#""$ba$2$00ff""#), KeyEncryption::Versioned(2));
        assert_eq!(encryption(r#""00ff""#), KeyEncryption::Unversioned);
        assert_eq!(encryption(r#"{"kty":"OKP"}"#), KeyEncryption::PlainJwk);
        assert_eq!(encryption("garbage"), KeyEncryption::Unknown);
    }
}
