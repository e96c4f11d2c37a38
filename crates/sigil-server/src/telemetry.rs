//! What the server counts and times, through the `metrics` facade, and its Prometheus exposition
//! on a listener of its own (`metrics_listen`). Without an installed recorder every call here is
//! a no-op, so embedders who do not scrape pay next to nothing.
//!
//! The names live here, once; the routes and services call the small functions below. The
//! per-request ones go through handles registered once ([`Meters`]), so that a token costs a few
//! atomic additions, not registry lookups. Install the recorder before the first request
//! (`sigil serve` installs it before building the server): the handles are taken then, and taken
//! before a recorder they count nothing.

use std::sync::OnceLock;
use std::time::Duration;

use axum::http::header;
use axum::response::IntoResponse;
use metrics::{
    Counter, Histogram, Unit, counter, describe_counter, describe_gauge, describe_histogram, gauge,
    histogram,
};
use metrics_exporter_prometheus::{BuildError, Matcher, PrometheusBuilder, PrometheusHandle};
use sigil_jose::Alg;

const TOKENS_ISSUED: &str = "sigil_tokens_issued_total";
const TOKEN_SIGNING: &str = "sigil_token_signing_seconds";
const JWKS_REQUESTS: &str = "sigil_jwks_requests_total";
const KEYS: &str = "sigil_keys";
const NEXT_KEY_CHANGE: &str = "sigil_keys_next_change_timestamp_seconds";
const SIGN_INS: &str = "sigil_sign_ins_total";
const SIGN_UPS: &str = "sigil_sign_ups_total";
const RATE_LIMITED: &str = "sigil_rate_limited_total";
const CACHE_LOOKUPS: &str = "sigil_session_cache_lookups_total";
const CACHE_INVALIDATIONS: &str = "sigil_session_cache_invalidations_total";
const DB_QUERIES: &str = "sigil_db_query_seconds";
const DB_ERRORS: &str = "sigil_db_errors_total";
const SESSIONS_CREATED: &str = "sigil_sessions_created_total";
const SESSIONS_ENDED: &str = "sigil_sessions_ended_total";
const SET_AUTH_JWT_FAILURES: &str = "sigil_set_auth_jwt_failures_total";
const PUSH_LISTENING: &str = "sigil_push_listening";

/// How often the recorder folds recorded histogram samples into its buckets: without it they
/// pile up in memory between scrapes (or forever when nobody scrapes).
const UPKEEP: Duration = Duration::from_secs(5);

/// The process's Prometheus recorder, installed on first call (later calls get the same one: a
/// process has one global recorder), with a task that keeps its memory bounded. Call it within
/// a tokio runtime, before building the server.
pub fn install_prometheus() -> Result<PrometheusHandle, BuildError> {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    if let Some(handle) = HANDLE.get() {
        return Ok(handle.clone());
    }
    let seconds = [
        0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05,
        0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
    ];
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".to_owned()), &seconds)?
        .install_recorder()?;
    describe();
    let upkeep = handle.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(UPKEEP);
        loop {
            tick.tick().await;
            upkeep.run_upkeep();
        }
    });
    Ok(HANDLE.get_or_init(|| handle).clone())
}

/// A router answering `GET /metrics` with the Prometheus text exposition: serve it on
/// `metrics_listen`, never on the public port.
pub fn metrics_app(handle: PrometheusHandle) -> axum::Router {
    axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let handle = handle.clone();
            async move {
                (
                    [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
                    handle.render(),
                )
                    .into_response()
            }
        }),
    )
}

fn describe() {
    describe_counter!(TOKENS_ISSUED, "Session tokens issued, by alg and route");
    describe_histogram!(
        TOKEN_SIGNING,
        Unit::Seconds,
        "Time to sign one session token"
    );
    describe_counter!(JWKS_REQUESTS, "Key set requests, by status (200 or 304)");
    describe_gauge!(KEYS, "Keys in the key table, by state");
    describe_gauge!(
        NEXT_KEY_CHANGE,
        Unit::Seconds,
        "When (Unix time) the signing key next changes: a scheduled key starts or the current one stops (0: none scheduled)"
    );
    describe_counter!(
        SIGN_INS,
        "Email sign-ins, by outcome (ok or the error code)"
    );
    describe_counter!(
        SIGN_UPS,
        "Email sign-ups, by outcome (ok or the error code)"
    );
    describe_counter!(RATE_LIMITED, "Requests refused by the rate limits");
    describe_counter!(
        CACHE_LOOKUPS,
        "Session cache lookups: hit, miss, stale (answered while the database was unreachable)"
    );
    describe_counter!(
        CACHE_INVALIDATIONS,
        "Session cache invalidations: session and user count entries dropped (a sign-out here or pushed; a user changed elsewhere), all counts whole-cache flushes (listening started again)"
    );
    describe_histogram!(DB_QUERIES, Unit::Seconds, "Database calls, by outcome");
    describe_counter!(
        DB_ERRORS,
        "Database calls that failed, by kind (unavailable, timeout, other)"
    );
    describe_counter!(SESSIONS_CREATED, "Sessions created (sign-up, sign-in)");
    describe_counter!(SESSIONS_ENDED, "Sessions ended by sign-out");
    describe_counter!(
        SET_AUTH_JWT_FAILURES,
        "get-session answers sent without their set-auth-jwt header"
    );
    describe_gauge!(
        PUSH_LISTENING,
        "1 while other instances' changes are pushed here, 0 while polling"
    );
}

/// The handles of the per-request metrics, registered on first use.
struct Meters {
    /// Per alg (in [`Alg::ALL`]'s order): tokens issued by `/token`, by get-session, and the
    /// signing time.
    tokens: Vec<(Alg, Counter, Counter, Histogram)>,
    jwks_ok: Counter,
    jwks_not_modified: Counter,
    cache_hit: Counter,
    cache_miss: Counter,
    cache_stale: Counter,
}

fn meters() -> &'static Meters {
    static METERS: OnceLock<Meters> = OnceLock::new();
    METERS.get_or_init(|| Meters {
        tokens: Alg::ALL
            .iter()
            .map(|alg| {
                let name = alg.as_str();
                (
                    *alg,
                    counter!(TOKENS_ISSUED, "alg" => name, "route" => "token"),
                    counter!(TOKENS_ISSUED, "alg" => name, "route" => "get-session"),
                    histogram!(TOKEN_SIGNING, "alg" => name),
                )
            })
            .collect(),
        jwks_ok: counter!(JWKS_REQUESTS, "status" => "200"),
        jwks_not_modified: counter!(JWKS_REQUESTS, "status" => "304"),
        cache_hit: counter!(CACHE_LOOKUPS, "result" => "hit"),
        cache_miss: counter!(CACHE_LOOKUPS, "result" => "miss"),
        cache_stale: counter!(CACHE_LOOKUPS, "result" => "stale"),
    })
}

/// Where a session token was issued.
#[derive(Clone, Copy)]
pub(crate) enum TokenRoute {
    Token,
    GetSession,
}

pub(crate) fn token_issued(alg: Alg, route: TokenRoute, signing: Duration) {
    if let Some((_, by_token, by_session, took)) = meters().tokens.iter().find(|t| t.0 == alg) {
        match route {
            TokenRoute::Token => by_token.increment(1),
            TokenRoute::GetSession => by_session.increment(1),
        }
        took.record(signing);
    }
}

pub(crate) fn jwks_request(not_modified: bool) {
    let m = meters();
    if not_modified {
        m.jwks_not_modified.increment(1);
    } else {
        m.jwks_ok.increment(1);
    }
}

/// The key table as of a reload: how many keys per state (overlapping: `published` includes
/// `next` and `retired`), and when (Unix seconds) the signing key next changes.
pub(crate) fn keys(states: &[(&'static str, usize)], next_change: Option<i64>) {
    for (state, count) in states {
        gauge!(KEYS, "state" => *state).set(*count as f64);
    }
    gauge!(NEXT_KEY_CHANGE).set(next_change.map_or(0.0, |at| at as f64));
}

pub(crate) fn sign_in(outcome: &'static str) {
    counter!(SIGN_INS, "outcome" => outcome).increment(1);
}

pub(crate) fn sign_up(outcome: &'static str) {
    counter!(SIGN_UPS, "outcome" => outcome).increment(1);
}

pub(crate) fn rate_limited() {
    counter!(RATE_LIMITED).increment(1);
}

/// How a session lookup ended.
#[derive(Clone, Copy)]
pub(crate) enum Lookup {
    Hit,
    Miss,
    /// Answered from an entry past its lifetime while the database was unreachable.
    Stale,
}

pub(crate) fn cache_lookup(result: Lookup) {
    let m = meters();
    match result {
        Lookup::Hit => m.cache_hit.increment(1),
        Lookup::Miss => m.cache_miss.increment(1),
        Lookup::Stale => m.cache_stale.increment(1),
    }
}

pub(crate) fn cache_invalidated(cause: &'static str) {
    counter!(CACHE_INVALIDATIONS, "cause" => cause).increment(1);
}

pub(crate) fn db_call(took: Duration, error: Option<&'static str>) {
    let outcome = if error.is_some() { "error" } else { "ok" };
    histogram!(DB_QUERIES, "outcome" => outcome).record(took);
    if let Some(kind) = error {
        counter!(DB_ERRORS, "kind" => kind).increment(1);
    }
}

pub(crate) fn session_created() {
    counter!(SESSIONS_CREATED).increment(1);
}

pub(crate) fn session_ended() {
    counter!(SESSIONS_ENDED).increment(1);
}

pub(crate) fn set_auth_jwt_failed() {
    counter!(SET_AUTH_JWT_FAILURES).increment(1);
}

pub(crate) fn push_listening(listening: bool) {
    gauge!(PUSH_LISTENING).set(if listening { 1.0 } else { 0.0 });
}
