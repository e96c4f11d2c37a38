//! The key manager: which key signs, which keys are published, and when keys are created.
//!
//! The current signing key is decrypted once and held parsed; the JWKS document and its ETag are
//! built once per change of the key table. Key creation is single-flight within the process and
//! serialized across processes by the store's lock, so concurrent first requests — in one process
//! or several on one database — end with exactly one key.

use std::sync::{Arc, RwLock};
use std::time::Duration as StdDuration;

use aws_lc_rs::digest::{SHA256, digest};
use chrono::{DateTime, Duration, Utc};
use serde_json::Value;
use sigil_jose::{Alg, KeyPair, PublicKey, b64};
use thiserror::Error;

use super::envelope::{EnvelopeError, SecretRing};
use crate::config::TokenConfig;
use crate::store::{KeyRow, Store, StoreError};
use crate::time::Clock;

/// A key-management failure.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A stored private key cannot be opened.
    #[error(
        "key {kid}: {reason}. Restore the secret it was written with (or add it as an older version in SIGIL_SECRETS), or revoke the key with `sigil keys revoke {kid}`"
    )]
    Undecryptable {
        /// The key.
        kid: String,
        /// Why.
        reason: EnvelopeError,
    },
    /// A stored key is not a valid key.
    #[error("key {kid} is unusable: {reason}")]
    Invalid {
        /// The key.
        kid: String,
        /// Why.
        reason: String,
    },
    /// Generating a key failed.
    #[error("key generation failed: {0}")]
    Generation(String),
}

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
}

struct Snapshot {
    fingerprint: String,
    signing: Option<Arc<SigningKey>>,
    jwks: Arc<JwksDocument>,
    published: usize,
    /// When time alone changes the answer (a key starts or stops signing, a retired key's grace
    /// ends): the key watch reloads then even if the table did not change.
    next_reload: Option<DateTime<Utc>>,
}

/// Holds and refreshes the signing state.
pub struct KeyManager {
    store: Store,
    ring: SecretRing,
    config: TokenConfig,
    clock: Clock,
    snapshot: RwLock<Arc<Snapshot>>,
    minting: tokio::sync::Mutex<()>,
    /// Reloads run one at a time, so an older read can never overwrite a newer one (a revoked
    /// key must not come back).
    reloading: tokio::sync::Mutex<()>,
}

fn empty_snapshot() -> Arc<Snapshot> {
    Arc::new(Snapshot {
        fingerprint: String::new(),
        signing: None,
        jwks: Arc::new(document(&[], None)),
        published: 0,
        next_reload: None,
    })
}

fn document(keys: &[Value], next_change: Option<DateTime<Utc>>) -> JwksDocument {
    let body = serde_json::json!({ "keys": keys }).to_string();
    let hash = digest(&SHA256, body.as_bytes());
    JwksDocument {
        etag: format!("\"{}\"", b64::encode(&hash.as_ref()[..16])),
        body,
        next_change,
    }
}

/// The algorithm of a row: its `alg` column, or — for rows written before Better Auth 1.7 — the
/// one its key type implies (RSA: the configured RSA algorithm, else RS256). Better Auth instead
/// assumes the configured algorithm, which breaks every legacy row when the algorithm changes.
fn row_alg(row: &KeyRow, configured: Alg) -> Result<Alg, KeyError> {
    let invalid = |reason: String| KeyError::Invalid {
        kid: row.id.clone(),
        reason,
    };
    if let Some(name) = &row.alg {
        return name
            .parse()
            .map_err(|_| invalid(format!("unknown alg {name:?}")));
    }
    let jwk: Value = serde_json::from_str(&row.public_key).map_err(|e| invalid(e.to_string()))?;
    match (jwk["kty"].as_str(), jwk["crv"].as_str()) {
        (Some("OKP"), _) => Ok(Alg::EdDSA),
        (Some("EC"), Some("P-256")) => Ok(Alg::ES256),
        (Some("EC"), Some("P-384")) => Ok(Alg::ES384),
        (Some("EC"), Some("P-521")) => Ok(Alg::ES512),
        (Some("RSA"), _) if configured.is_rsa() => Ok(configured),
        (Some("RSA"), _) => Ok(Alg::RS256),
        _ => Err(invalid("unknown key type".into())),
    }
}

impl KeyManager {
    /// A manager for the keys in `store`.
    pub fn new(store: Store, ring: SecretRing, config: TokenConfig, clock: Clock) -> Self {
        KeyManager {
            store,
            ring,
            config,
            clock,
            snapshot: RwLock::new(empty_snapshot()),
            minting: tokio::sync::Mutex::new(()),
            reloading: tokio::sync::Mutex::new(()),
        }
    }

    fn now(&self) -> DateTime<Utc> {
        (self.clock)()
    }

    fn current(&self) -> Arc<Snapshot> {
        // A poisoned lock only means a panic elsewhere while swapping an Arc; the value is whole.
        self.snapshot
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Whether a row may sign at `now`: the configured alg, started, not expired.
    fn may_sign(&self, row: &KeyRow, now: DateTime<Utc>) -> bool {
        row_alg(row, self.config.alg).ok() == Some(self.config.alg)
            && row.created_at <= now
            && row.expires_at.is_none_or(|e| e > now)
    }

    fn published(&self, row: &KeyRow, now: DateTime<Utc>) -> bool {
        let grace = Duration::from_std(self.config.grace_period).unwrap_or(Duration::days(30));
        row.expires_at.is_none_or(|e| e + grace > now)
    }

    /// Opens a row's private key.
    pub fn open(&self, row: &KeyRow) -> Result<KeyPair, KeyError> {
        let alg = row_alg(row, self.config.alg)?;
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
            .map_err(|e| KeyError::Invalid {
                kid: row.id.clone(),
                reason: e.to_string(),
            })
    }

    /// Decrypts every key that can still sign or is still published, once: a secret that cannot
    /// open them stops the start with a message naming the key, instead of failing requests later.
    pub async fn self_test(&self) -> Result<usize, KeyError> {
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

    /// Re-reads the key table and rebuilds the signing key and the JWKS document. Rows that
    /// cannot be used (unknown alg, bad JSON, a private key that does not open or does not match
    /// its public key) are logged and left out; they never stop the other keys.
    pub async fn reload(&self) -> Result<(), KeyError> {
        let _one_at_a_time = self.reloading.lock().await;
        let fingerprint = self.store.keys_fingerprint().await?;
        let rows = self.store.list_keys().await?;
        let now = self.now();
        let grace = Duration::from_std(self.config.grace_period).unwrap_or(Duration::days(30));
        let mut published: Vec<(&KeyRow, PublicKey)> = Vec::new();
        for row in rows.iter().filter(|r| self.published(r, now)) {
            let key = row_alg(row, self.config.alg).and_then(|alg| {
                let jwk: Value =
                    serde_json::from_str(&row.public_key).map_err(|e| KeyError::Invalid {
                        kid: row.id.clone(),
                        reason: e.to_string(),
                    })?;
                PublicKey::from_jwk_value_for(&jwk, alg).map_err(|e| KeyError::Invalid {
                    kid: row.id.clone(),
                    reason: e.to_string(),
                })
            });
            match key {
                Ok(key) => published.push((row, key.with_kid(row.id.clone()))),
                Err(e) => tracing::error!(error = %e, "key not published"),
            }
        }
        // The newest usable key signs — only a published one, whose private key matches it, so
        // that no token ever carries a kid the key set does not show.
        let mut candidates: Vec<&(&KeyRow, PublicKey)> = published
            .iter()
            .filter(|(r, _)| self.may_sign(r, now))
            .collect();
        candidates.sort_by(|(a, _), (b, _)| (b.created_at, &b.id).cmp(&(a.created_at, &a.id)));
        let mut signing = None;
        for (row, public) in candidates {
            match self.open(row) {
                Ok(pair) if pair.public_key().same_key_as(public) => {
                    signing = Some(Arc::new(SigningKey {
                        pair,
                        until: row.expires_at,
                    }));
                    break;
                }
                Ok(_) => {
                    tracing::error!(kid = %row.id, "private key does not match the published key; not used")
                }
                Err(e) => tracing::error!(error = %e, "skipping an unusable signing key"),
            }
        }
        // The next change of signing key bounds verifier caching; any time-driven change
        // (including a grace period ending) triggers a reload.
        let next_change = rows
            .iter()
            .filter(|r| r.created_at > now && self.published(r, now))
            .map(|r| r.created_at)
            .chain(signing.as_ref().and_then(|s| s.until))
            .min();
        let next_reload = rows
            .iter()
            .flat_map(|r| {
                [
                    Some(r.created_at),
                    r.expires_at,
                    r.expires_at.map(|e| e + grace),
                ]
            })
            .flatten()
            .filter(|t| *t > now)
            .min();
        let keys: Vec<Value> = published.iter().map(|(_, k)| k.to_jwk()).collect();
        let snapshot = Snapshot {
            fingerprint,
            signing,
            published: keys.len(),
            jwks: Arc::new(document(&keys, next_change)),
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

    /// The signing key, created on first need (never twice).
    pub async fn signing_key(&self) -> Result<Arc<SigningKey>, KeyError> {
        if let Some(key) = self.live_signing_key() {
            return Ok(key);
        }
        let _single_flight = self.minting.lock().await;
        self.reload().await?;
        if let Some(key) = self.live_signing_key() {
            return Ok(key);
        }
        self.mint(self.now()).await?;
        self.reload().await?;
        self.current()
            .signing
            .clone()
            .ok_or_else(|| KeyError::Generation("no signing key after creating one".into()))
    }

    /// The signing key held in memory, if it may still sign now.
    fn live_signing_key(&self) -> Option<Arc<SigningKey>> {
        let now = self.now();
        self.current()
            .signing
            .clone()
            .filter(|k| k.until.is_none_or(|u| u > now))
    }

    /// The published key set; creates the first key when there is none (as Better Auth does).
    pub async fn jwks(&self) -> Result<Arc<JwksDocument>, KeyError> {
        let snapshot = self.current();
        if snapshot.published > 0 {
            return Ok(snapshot.jwks.clone());
        }
        self.signing_key().await?;
        Ok(self.current().jwks.clone())
    }

    /// The published keys as a verifier's key set.
    pub async fn published_set(&self) -> Result<sigil_jose::JwkSet, KeyError> {
        let doc = self.jwks().await?;
        sigil_jose::JwkSet::from_json(doc.body.as_bytes()).map_err(|e| KeyError::Invalid {
            kid: "-".into(),
            reason: e.to_string(),
        })
    }

    /// The JWKS document held in memory, without touching the database.
    pub fn cached_jwks(&self) -> Option<Arc<JwksDocument>> {
        let snapshot = self.current();
        (snapshot.published > 0).then(|| snapshot.jwks.clone())
    }

    /// How long verifiers may cache the key set: the configured max-age, but never past the next
    /// change of signing key.
    pub fn cache_max_age(&self, doc: &JwksDocument) -> StdDuration {
        let max = self.config.jwks_max_age;
        match doc.next_change {
            Some(at) => (at - self.now())
                .to_std()
                .map_or(StdDuration::ZERO, |left| left.min(max)),
            None => max,
        }
    }

    async fn generate(&self) -> Result<KeyPair, KeyError> {
        let alg = self.config.alg;
        let bits = self.config.rsa_bits;
        tokio::task::spawn_blocking(move || KeyPair::generate_with_rsa_bits(alg, bits))
            .await
            .map_err(|e| KeyError::Generation(e.to_string()))?
            .map_err(|e| KeyError::Generation(e.to_string()))
    }

    /// How long before a key stops signing its successor is published: a verifier that cached
    /// the key set just before must have refetched it (max-age) — plus a minute of slack for the
    /// key watch and clocks.
    pub fn publish_lead(&self) -> Duration {
        Duration::from_std(self.config.jwks_max_age).unwrap_or(Duration::minutes(5))
            + Duration::minutes(1)
    }

    /// Rotation, run periodically: when the current key stops signing within the publish lead
    /// and no successor exists, creates the successor now, starting when the current key ends.
    /// A no-op without a rotation interval.
    pub async fn maintain(&self) -> Result<(), KeyError> {
        let Some(interval) = self
            .config
            .rotation_interval
            .and_then(|i| Duration::from_std(i).ok())
        else {
            return Ok(());
        };
        let current = self.signing_key().await?;
        let now = self.now();
        let Some(until) = current.until else {
            return Ok(());
        };
        if now < until - self.publish_lead() {
            return Ok(());
        }
        // Never start sooner than one lead after publication, even if this runs late.
        let starts = until.max(now + self.publish_lead());
        let pair = self.generate().await?;
        let row = self.row_for(&pair, starts, starts.checked_add_signed(interval))?;
        let alg = self.config.alg;
        // Started late: the current key keeps signing until its successor may start.
        let retire = current
            .pair
            .kid()
            .filter(|_| starts > until)
            .map(|kid| (kid, starts));
        let inserted = self
            .store
            .insert_key_if(&row, retire, |rows| {
                !rows.iter().any(|r| {
                    row_alg(r, alg).ok() == Some(alg)
                        && r.created_at >= until - Duration::seconds(1)
                })
            })
            .await?;
        if inserted {
            tracing::info!(kid = %row.id, starts = %crate::time::iso(starts), "published the next signing key");
        }
        self.reload().await
    }

    /// Schedules a rotation: a new key is published now and takes over after the publish lead
    /// (`immediate`: at once — verifiers with a cached key set will meet an unknown kid and
    /// refetch). The current key keeps verifying for the grace period.
    pub async fn rotate(&self, immediate: bool) -> Result<String, KeyError> {
        let now = self.now();
        let starts = if immediate {
            now
        } else {
            now + self.publish_lead()
        };
        let current = self.signing_key().await.ok();
        let pair = self.generate().await?;
        let expires = self
            .config
            .rotation_interval
            .and_then(|i| Duration::from_std(i).ok())
            .and_then(|i| starts.checked_add_signed(i));
        let row = self.row_for(&pair, starts, expires)?;
        let retire = current
            .as_ref()
            .and_then(|c| c.pair.kid())
            .map(|kid| (kid, starts));
        self.store.insert_key_if(&row, retire, |_| true).await?;
        self.reload().await?;
        Ok(row.id)
    }

    /// Removes a key: gone from the key set and from signing at once. Tokens it signed no longer
    /// verify once verifiers refetch.
    pub async fn revoke(&self, kid: &str) -> Result<bool, KeyError> {
        let removed = self.store.delete_key(kid).await?;
        self.reload().await?;
        Ok(removed)
    }

    /// Re-encrypts every private key under the current secret; returns how many changed.
    pub async fn rewrap(&self) -> Result<usize, KeyError> {
        let mut changed = 0;
        for row in self.store.list_keys().await? {
            if self.config.encrypt_private_keys && self.ring.is_current(&row.private_key) {
                continue;
            }
            let stored = self.stored_private(&self.open(&row)?)?;
            if stored != row.private_key {
                self.store.set_key_private(&row.id, &stored).await?;
                changed += 1;
            }
        }
        self.reload().await?;
        Ok(changed)
    }

    /// Every stored key with its state at `now`, for `sigil keys list`.
    pub async fn list(&self) -> Result<Vec<(KeyRow, &'static str)>, KeyError> {
        let now = self.now();
        let rows = self.store.list_keys().await?;
        let current = rows
            .iter()
            .filter(|r| self.may_sign(r, now))
            .max_by_key(|r| (r.created_at, r.id.clone()))
            .map(|r| r.id.clone());
        Ok(rows
            .into_iter()
            .map(|r| {
                let state = if Some(&r.id) == current.as_ref() {
                    "current"
                } else if r.created_at > now {
                    "next"
                } else if self.published(&r, now) {
                    "retired"
                } else {
                    "expired"
                };
                (r, state)
            })
            .collect())
    }

    /// Generates a key and inserts it unless another process did so first.
    async fn mint(&self, now: DateTime<Utc>) -> Result<(), KeyError> {
        let alg = self.config.alg;
        // A live key this process cannot open means a wrong secret here (or a damaged row): making
        // a second current key would split the instances. Say so instead; revoking the row, or
        // fixing the secret, resolves it.
        let skew = now + Duration::seconds(60);
        for row in self.store.list_keys().await? {
            if self.may_sign(&row, skew) && row.expires_at.is_none_or(|e| e > now) {
                self.open(&row)?;
            }
        }
        let pair = self.generate().await?;
        let expires_at = self
            .config
            .rotation_interval
            .and_then(|i| Duration::from_std(i).ok())
            .and_then(|i| now.checked_add_signed(i));
        let row = self.row_for(&pair, now, expires_at)?;
        // Another process may have created a key a moment "later" by its clock than ours: any
        // key of this alg that starts within a minute of now counts as present.
        let inserted = self
            .store
            .insert_key_if(&row, None, |rows| {
                !rows
                    .iter()
                    .any(|r| self.may_sign(r, skew) && r.expires_at.is_none_or(|e| e > now))
            })
            .await?;
        if inserted {
            tracing::info!(kid = %row.id, %alg, "created a signing key");
        }
        Ok(())
    }

    /// The private key as the `privateKey` column holds it: sealed under the current secret, or
    /// the plain private JWK when encryption is off.
    fn stored_private(&self, pair: &KeyPair) -> Result<String, KeyError> {
        let private = pair
            .to_private_jwk()
            .map_err(|e| KeyError::Generation(e.to_string()))?;
        if self.config.encrypt_private_keys {
            self.ring
                .seal(&private)
                .map_err(|e| KeyError::Generation(e.to_string()))
        } else {
            Ok(private.to_string())
        }
    }

    /// The `jwks` row for a new key: id = RFC 7638 thumbprint, public JWK as `jose` exports it,
    /// private JWK sealed (or plain when encryption is off).
    fn row_for(
        &self,
        pair: &KeyPair,
        created_at: DateTime<Utc>,
        expires_at: Option<DateTime<Utc>>,
    ) -> Result<KeyRow, KeyError> {
        let mut public = pair.public_key().to_jwk();
        if let Some(map) = public.as_object_mut() {
            for member in ["alg", "kid", "use"] {
                map.remove(member);
            }
        }
        let private_key = self.stored_private(pair)?;
        Ok(KeyRow {
            id: pair.public_key().thumbprint(),
            crv: public.get("crv").and_then(Value::as_str).map(str::to_owned),
            public_key: public.to_string(),
            private_key,
            created_at,
            expires_at,
            alg: Some(pair.alg().to_string()),
        })
    }
}
