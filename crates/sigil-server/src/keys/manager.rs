//! The key manager: which key signs, which keys are published, and when the table is re-read.
//!
//! The current signing key is decrypted once and held parsed; the JWKS document, its ETag and the
//! verifier's key set are built once per change of the key table. Key creation (see
//! `lifecycle`) is single-flight within the process and serialized across processes by the
//! store's lock, so concurrent first requests — in one process or several on one database — end
//! with exactly one key.

use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::Duration as StdDuration;

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue};
use chrono::{DateTime, Utc};
use serde_json::Value;
use sigil_jose::{Alg, JwkSet, KeyPair, PublicKey};

use super::KeyError;
use super::envelope::SecretRing;
use super::succession;
use crate::config::KeysConfig;
use crate::report::Chain;
use crate::store::{KeyRow, Store};
use crate::time::Clock;

/// The key that signs tokens now.
#[derive(Debug)]
pub struct SigningKey {
    /// The parsed key pair (its `kid` is the row id).
    pub pair: KeyPair,
    /// When it stops being the signing key, if rotation is on.
    pub until: Option<DateTime<Utc>>,
}

/// The published key set, serialized once.
#[derive(Debug)]
pub struct JwksDocument {
    /// `{"keys":[…]}`.
    pub body: String,
    /// Strong ETag of the body.
    pub etag: String,
    /// The next time the signing key changes (a next key is promoted or the current one expires),
    /// which bounds how long verifiers may cache the set.
    pub next_change: Option<DateTime<Utc>>,
    /// The same keys as a verifier's key set (for [`crate::Auth::verify_jwt`]).
    pub(crate) set: Arc<JwkSet>,
    /// What the `/jwks` response is made of, built once with the document.
    pub(crate) response: JwksResponseParts,
}

/// The parts of the `/jwks` response that do not change between requests: the body as shared
/// bytes (cloning it copies nothing) and the header values.
#[derive(Debug)]
pub(crate) struct JwksResponseParts {
    /// The body.
    pub(crate) body: Bytes,
    /// The `ETag` header value.
    pub(crate) etag: HeaderValue,
    /// The configured max-age in seconds, and its `Cache-Control` value: what is sent while the
    /// next change of signing key is further away than that.
    max_age: (u64, HeaderValue),
    /// The last counted-down `Cache-Control` (seconds left, value), rebuilt when the count
    /// changes, at most once a second.
    countdown: Mutex<Option<(u64, HeaderValue)>>,
    /// Every header of the `200` and of the `304` answered in front of the router (see
    /// `routes::fast`) with the configured max-age and no `Origin`, built there on first use.
    pub(crate) front: OnceLock<[HeaderMap; 2]>,
}

/// `Cache-Control` for a max-age in seconds.
fn cache_control(max_age: u64) -> HeaderValue {
    HeaderValue::from_str(&format!("public, max-age={max_age}"))
        .unwrap_or_else(|_| HeaderValue::from_static("no-cache"))
}

impl JwksResponseParts {
    fn new(body: &str, etag: &str, max_age: StdDuration) -> JwksResponseParts {
        let max_age = max_age.as_secs();
        JwksResponseParts {
            body: Bytes::copy_from_slice(body.as_bytes()),
            etag: HeaderValue::from_str(etag).unwrap_or_else(|_| HeaderValue::from_static("\"\"")),
            max_age: (max_age, cache_control(max_age)),
            countdown: Mutex::new(None),
            front: OnceLock::new(),
        }
    }

    /// The configured max-age in seconds.
    pub(crate) fn configured_max_age(&self) -> u64 {
        self.max_age.0
    }

    /// The `Cache-Control` value for `max_age` seconds: the prebuilt one for the configured
    /// max-age, else the counted-down one (rebuilt only when the count changed).
    pub(crate) fn cache_control(&self, max_age: u64) -> HeaderValue {
        if max_age == self.max_age.0 {
            return self.max_age.1.clone();
        }
        let mut last = self.countdown.lock().unwrap_or_else(|p| p.into_inner());
        match &*last {
            Some((secs, value)) if *secs == max_age => value.clone(),
            _ => {
                let value = cache_control(max_age);
                *last = Some((max_age, value.clone()));
                value
            }
        }
    }
}

struct Snapshot {
    fingerprint: String,
    /// The key that signs now, per configured algorithm that has one.
    signing: Vec<Arc<SigningKey>>,
    jwks: Arc<JwksDocument>,
    published: usize,
    /// When time alone changes the answer (a key starts or stops signing, a retired key's grace
    /// ends): the key watch reloads then even if the table did not change.
    next_reload: Option<DateTime<Utc>>,
}

/// Holds and refreshes the signing state.
pub struct KeyManager {
    pub(super) store: Store,
    pub(super) ring: SecretRing,
    pub(super) config: KeysConfig,
    clock: Clock,
    snapshot: RwLock<Arc<Snapshot>>,
    pub(super) minting: tokio::sync::Mutex<()>,
    /// Reloads run one at a time, so an older read can never overwrite a newer one (a revoked
    /// key must not come back).
    reloading: tokio::sync::Mutex<()>,
}

fn document(
    keys: Vec<PublicKey>,
    next_change: Option<DateTime<Utc>>,
    max_age: StdDuration,
) -> JwksDocument {
    let jwks: Vec<Value> = keys.iter().map(PublicKey::to_jwk).collect();
    let body = serde_json::json!({ "keys": jwks }).to_string();

    // Each kid is its row's primary key, so they are unique; were they not, the empty set (that
    // verifies nothing) would stand in.
    let set = Arc::new(JwkSet::new(keys).unwrap_or_default());
    let etag = crate::etag::strong(body.as_bytes());
    let response = JwksResponseParts::new(&body, &etag, max_age);
    JwksDocument {
        etag,
        body,
        next_change,
        set,
        response,
    }
}

fn empty_snapshot(max_age: StdDuration) -> Arc<Snapshot> {
    Arc::new(Snapshot {
        fingerprint: String::new(),
        signing: Vec::new(),
        jwks: Arc::new(document(Vec::new(), None, max_age)),
        published: 0,
        next_reload: None,
    })
}

/// The configured max-age of the key set (zero if negative).
fn configured_max_age(config: &KeysConfig) -> StdDuration {
    config.max_age.to_std().unwrap_or(StdDuration::ZERO)
}

/// The algorithm of a row: its `alg` column, or — for rows written before Better Auth 1.7 — the
/// one its key type implies (RSA: the configured RSA algorithm, else RS256). Better Auth instead
/// assumes the configured algorithm, which breaks every legacy row when the algorithm changes.
pub(crate) fn row_alg(row: &KeyRow, configured: Alg) -> Result<Alg, KeyError> {
    if let Some(name) = &row.alg {
        return name.parse().map_err(|_| KeyError::UnknownAlg {
            kid: row.id.clone(),
            alg: name.clone(),
        });
    }
    let jwk: Value = serde_json::from_str(&row.public_key).map_err(|e| KeyError::PublicKey {
        kid: row.id.clone(),
        reason: Some(e),
    })?;
    match (jwk["kty"].as_str(), jwk["crv"].as_str()) {
        (Some("OKP"), _) => Ok(Alg::EdDSA),
        (Some("EC"), Some("P-256")) => Ok(Alg::ES256),
        (Some("EC"), Some("P-384")) => Ok(Alg::ES384),
        (Some("EC"), Some("P-521")) => Ok(Alg::ES512),
        (Some("RSA"), _) if configured.is_rsa() => Ok(configured),
        (Some("RSA"), _) => Ok(Alg::RS256),
        _ => Err(KeyError::PublicKey {
            kid: row.id.clone(),
            reason: None,
        }),
    }
}

impl KeyManager {
    /// A manager for the keys in `store`; it reads nothing until asked.
    pub fn new(store: Store, ring: SecretRing, config: KeysConfig, clock: Clock) -> Self {
        let empty = empty_snapshot(configured_max_age(&config));
        KeyManager {
            store,
            ring,
            config,
            clock,
            snapshot: RwLock::new(empty),
            minting: tokio::sync::Mutex::new(()),
            reloading: tokio::sync::Mutex::new(()),
        }
    }

    pub(super) fn now(&self) -> DateTime<Utc> {
        (self.clock)()
    }

    fn current(&self) -> Arc<Snapshot> {
        // A poisoned lock only means a panic elsewhere while swapping an Arc; the value is whole.
        self.snapshot
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Whether a row may sign for `alg` at `now`: of that alg, started, not expired.
    pub(crate) fn may_sign(&self, alg: Alg, row: &KeyRow, now: DateTime<Utc>) -> bool {
        self.is_of(alg, row) && succession::live_at(row, now)
    }

    /// The row's algorithm, if it is one of the configured ones (the keys that take turns
    /// signing, each algorithm on its own).
    pub(crate) fn configured_alg(&self, row: &KeyRow) -> Option<Alg> {
        row_alg(row, self.config.legacy_rsa_alg())
            .ok()
            .filter(|a| self.config.algs.contains(a))
    }

    /// Whether a row is of `alg`.
    pub(super) fn is_of(&self, alg: Alg, row: &KeyRow) -> bool {
        row_alg(row, self.config.legacy_rsa_alg()).ok() == Some(alg)
    }

    /// The rows of `alg`: the keys that take turns signing it.
    pub(super) fn peers<'a>(&self, alg: Alg, rows: &'a [KeyRow]) -> Vec<&'a KeyRow> {
        rows.iter().filter(|r| self.is_of(alg, r)).collect()
    }

    /// Until when a row is in the key set: its end plus the grace period (none: no end).
    pub fn published_until(&self, row: &KeyRow) -> Option<DateTime<Utc>> {
        row.expires_at
            .and_then(|e| e.checked_add_signed(self.config.grace_period))
    }

    /// Whether a row is still in the key set at `now` (not retired longer than the grace period).
    pub(super) fn published(&self, row: &KeyRow, now: DateTime<Utc>) -> bool {
        row.expires_at.is_none_or(|e| {
            e.checked_add_signed(self.config.grace_period)
                .is_none_or(|end| end > now)
        })
    }

    /// Opens a row's private key.
    pub(crate) fn open(&self, row: &KeyRow) -> Result<KeyPair, KeyError> {
        let alg = row_alg(row, self.config.legacy_rsa_alg())?;
        let text = if row.private_key.trim_start().starts_with('{') {
            zeroize::Zeroizing::new(row.private_key.clone())
        } else {
            self.ring
                .open(&row.private_key)
                .map_err(|reason| KeyError::Undecryptable {
                    kid: row.id.clone(),
                    reason,
                })?
        };
        KeyPair::from_jwk(&text, Some(alg))
            .map(|k| k.with_kid(row.id.clone()))
            .map_err(|reason| KeyError::Invalid {
                kid: row.id.clone(),
                reason,
            })
    }

    /// Decrypts every key that can still sign or is still published, once: a secret that cannot
    /// open them stops the start with a message naming the key, instead of failing requests later.
    pub(crate) async fn self_test(&self) -> Result<usize, KeyError> {
        let now = self.now();
        let mut checked = 0;
        for row in self.store.list_keys().await? {
            if self.published(&row, now) {
                self.open(&row)?;
                checked += 1;
            }
        }
        Ok(checked)
    }

    /// Opens a row's private key and checks that it is the private half of `public` (the key
    /// published under its kid): only such a key may sign.
    fn open_matching(&self, row: &KeyRow, public: &PublicKey) -> Result<KeyPair, KeyError> {
        let pair = self.open(row)?;
        if !pair.public_key().same_key_as(public) {
            return Err(KeyError::Mismatch {
                kid: row.id.clone(),
            });
        }
        Ok(pair)
    }

    /// Whether a row could sign: its public key parses, its private key opens and matches it.
    pub(crate) fn check_usable(&self, row: &KeyRow) -> Result<(), KeyError> {
        let public = self.public_key(row)?;
        self.open_matching(row, &public).map(|_| ())
    }

    fn public_key(&self, row: &KeyRow) -> Result<PublicKey, KeyError> {
        let alg = row_alg(row, self.config.legacy_rsa_alg())?;
        let jwk: Value =
            serde_json::from_str(&row.public_key).map_err(|e| KeyError::PublicKey {
                kid: row.id.clone(),
                reason: Some(e),
            })?;
        PublicKey::from_jwk_value_for(&jwk, alg)
            .map(|k| k.with_kid(row.id.clone()))
            .map_err(|reason| KeyError::Invalid {
                kid: row.id.clone(),
                reason,
            })
    }

    /// Re-reads the key table and rebuilds the signing key and the JWKS document. Rows that
    /// cannot be used (unknown alg, bad JSON, a private key that does not open or does not match
    /// its public key) are logged and left out; they never stop the other keys.
    pub async fn reload(&self) -> Result<(), KeyError> {
        let _one_at_a_time = self.reloading.lock().await;
        let fingerprint = self.store.keys_fingerprint().await?;
        let rows = self.store.list_keys().await?;
        let now = self.now();
        let mut published: Vec<(&KeyRow, PublicKey)> = Vec::new();
        for row in rows.iter().filter(|r| self.published(r, now)) {
            match self.public_key(row) {
                Ok(key) => published.push((row, key)),
                Err(e) => tracing::error!(error = %Chain(&e), "key not published"),
            }
        }
        // For each algorithm, the newest usable key signs — only a published one, whose private
        // key matches it, so that no token ever carries a kid the key set does not show.
        let mut signing = Vec::new();
        let mut starts: Vec<DateTime<Utc>> = Vec::new();
        for &alg in &self.config.algs {
            let mut candidates: Vec<&(&KeyRow, PublicKey)> = published
                .iter()
                .filter(|(r, _)| self.may_sign(alg, r, now))
                .collect();
            candidates.sort_by(|(a, _), (b, _)| (b.created_at, &b.id).cmp(&(a.created_at, &a.id)));
            for (row, public) in candidates {
                match self.open_matching(row, public) {
                    Ok(pair) => {
                        signing.push(Arc::new(SigningKey {
                            pair,
                            until: row.expires_at,
                        }));
                        break;
                    }
                    Err(e) => {
                        tracing::error!(error = %Chain(&e), "skipping an unusable signing key");
                    }
                }
            }
            let peers = self.peers(alg, &rows);
            starts.extend(
                peers
                    .iter()
                    .filter(|r| self.published(r, now))
                    .filter_map(|r| succession::pending_start(r, &peers, now)),
            );
        }
        // The next change of a signing key bounds verifier caching; any time-driven change
        // (including a grace period ending) triggers a reload.
        let next_change = starts
            .iter()
            .copied()
            .chain(signing.iter().filter_map(|s| s.until))
            .min();
        let next_reload = rows
            .iter()
            .flat_map(|r| {
                [
                    Some(r.created_at),
                    r.expires_at,
                    r.expires_at
                        .and_then(|e| e.checked_add_signed(self.config.grace_period)),
                ]
            })
            .flatten()
            .filter(|t| *t > now)
            .min();
        let count = published.len();
        let waiting = starts.len();
        let retired = published
            .iter()
            .filter(|(r, _)| r.expires_at.is_some_and(|e| e <= now))
            .count();
        crate::telemetry::keys(
            &[
                ("published", count),
                ("next", waiting),
                ("retired", retired),
                ("signing", signing.len()),
            ],
            next_change.map(|at| at.timestamp()),
        );
        let keys = published.into_iter().map(|(_, k)| k).collect();
        let snapshot = Snapshot {
            fingerprint,
            signing,
            published: count,
            jwks: Arc::new(document(
                keys,
                next_change,
                configured_max_age(&self.config),
            )),
            next_reload,
        };
        *self.snapshot.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(snapshot);
        Ok(())
    }

    /// The key watch's work, every few seconds: reload when another process changed the key
    /// table or when time changed the answer, then run rotation.
    pub async fn tick(&self) -> Result<(), KeyError> {
        let due = self.current().next_reload.is_some_and(|t| t <= self.now());
        if !self.refresh_if_changed().await? && due {
            self.reload().await?;
        }
        self.maintain().await
    }

    /// Reloads when another process changed the key table (a cheap fingerprint query).
    pub async fn refresh_if_changed(&self) -> Result<bool, KeyError> {
        let fingerprint = self.store.keys_fingerprint().await?;
        if fingerprint == self.current().fingerprint {
            return Ok(false);
        }
        self.reload().await?;
        Ok(true)
    }

    /// The default algorithm: what tokens are signed with unless another is asked for.
    pub fn alg(&self) -> Alg {
        self.config.alg
    }

    /// Every algorithm keys are kept for, the default first.
    pub fn algs(&self) -> &[Alg] {
        &self.config.algs
    }

    /// The signing key of the default algorithm, created on first need (never twice).
    pub async fn signing_key(&self) -> Result<Arc<SigningKey>, KeyError> {
        self.signing_key_for(self.config.alg).await
    }

    /// The signing key of `alg` (one of the configured algorithms), created on first need.
    pub async fn signing_key_for(&self, alg: Alg) -> Result<Arc<SigningKey>, KeyError> {
        if let Some(key) = self.live_signing_key(alg) {
            return Ok(key);
        }
        if !self.config.algs.contains(&alg) {
            return Err(KeyError::NotConfigured { alg });
        }
        // Boxed: the database work below would otherwise make every token's future (moved
        // through each router layer) many kilobytes larger.
        Box::pin(self.load_signing_key(alg)).await
    }

    /// [`KeyManager::signing_key_for`] when none is held: reload, or mint the first one.
    async fn load_signing_key(&self, alg: Alg) -> Result<Arc<SigningKey>, KeyError> {
        let _single_flight = self.minting.lock().await;
        self.reload().await?;
        if let Some(key) = self.live_signing_key(alg) {
            return Ok(key);
        }
        // Nothing signs (the signing key was revoked, or expired with its successor not due
        // yet): a published successor starts now; only without one is a key made.
        self.bring_successor_forward(alg, self.now()).await?;
        if let Some(key) = self.live_signing_key(alg) {
            return Ok(key);
        }
        self.mint(alg, self.now()).await?;
        self.reload().await?;
        self.signing_in(&self.current(), alg)
            .ok_or(KeyError::Missing)
    }

    /// The signing key of `alg` in a snapshot.
    fn signing_in(&self, snapshot: &Snapshot, alg: Alg) -> Option<Arc<SigningKey>> {
        snapshot
            .signing
            .iter()
            .find(|k| k.pair.alg() == alg)
            .cloned()
    }

    /// The signing key of `alg` held in memory, if it may still sign now.
    pub(super) fn live_signing_key(&self, alg: Alg) -> Option<Arc<SigningKey>> {
        let now = self.now();
        self.signing_in(&self.current(), alg)
            .filter(|k| k.until.is_none_or(|u| u > now))
    }

    /// Makes sure every configured algorithm has a key that signs (the first request does this
    /// for the default one). Each algorithm is tried even when another fails; the first
    /// failure is returned.
    pub async fn ensure_every_alg(&self) -> Result<(), KeyError> {
        let mut first = None;
        for &alg in &self.config.algs {
            if let Err(e) = self.signing_key_for(alg).await {
                tracing::warn!(%alg, error = %Chain(&e), "no key signs for this algorithm");
                first.get_or_insert(e);
            }
        }
        first.map_or(Ok(()), Err)
    }

    /// The published key set; creates the first key when there is none (as Better Auth does),
    /// and then one for every other configured algorithm too.
    pub async fn jwks(&self) -> Result<Arc<JwksDocument>, KeyError> {
        let snapshot = self.current();
        if snapshot.published > 0 {
            return Ok(snapshot.jwks.clone());
        }
        self.signing_key().await?;
        if self.config.algs.len() > 1 {
            // The default key exists: a key set is served even if another algorithm fails.
            let _ = self.ensure_every_alg().await;
        }
        Ok(self.current().jwks.clone())
    }

    /// The JWKS document held in memory, without touching the database.
    pub fn cached_jwks(&self) -> Option<Arc<JwksDocument>> {
        let snapshot = self.current();
        (snapshot.published > 0).then(|| snapshot.jwks.clone())
    }

    /// How long verifiers may cache the key set: the configured max-age, but never past the next
    /// change of signing key.
    pub fn cache_max_age(&self, doc: &JwksDocument) -> StdDuration {
        let max = configured_max_age(&self.config);
        match doc.next_change {
            Some(at) => (at - self.now())
                .to_std()
                .map_or(StdDuration::ZERO, |left| left.min(max)),
            None => max,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The prebuilt values, and the countdown rebuilt only when the count changes.
    #[test]
    fn response_parts() {
        let parts =
            JwksResponseParts::new(r#"{"keys":[]}"#, "\"abc\"", StdDuration::from_secs(300));
        assert_eq!(parts.body, br#"{"keys":[]}"#.as_slice());
        assert_eq!(parts.etag, "\"abc\"");
        for left in [300, 120, 120, 119, 300, 1, 0] {
            assert_eq!(
                parts.cache_control(left),
                format!("public, max-age={left}").as_str()
            );
        }
    }
}
