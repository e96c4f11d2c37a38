//! The key lifecycle: a first key on demand, scheduled and immediate rotation, revocation,
//! re-encryption under a new secret, and the listing `sigil keys list` prints.

use std::collections::HashMap;
use std::fmt;

use chrono::{DateTime, Duration, Utc};
use serde_json::Value;
use sigil_jose::{Alg, KeyPair};

use super::KeyError;

/// How long after `sigil keys rotate --now` the new key starts signing: every instance has
/// published it by then (pushed at once on PostgreSQL, within the key watch's second otherwise),
/// so a verifier that meets its kid finds it in the key set wherever it fetches it.
pub const IMMEDIATE_SETTLE: Duration = Duration::seconds(2);
use super::manager::KeyManager;
use super::succession;
use crate::report::Chain;
use crate::store::{KeyRow, Placement};

/// The earlier of two optional ends (none: no end).
fn earliest(a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// The state of a stored key, as `sigil keys list` shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyState {
    /// Published, signs later.
    Next,
    /// Signs now.
    Current,
    /// No longer signs; still published for the grace period.
    Retired,
    /// Past its grace period.
    Expired,
    /// Its private key does not open with the configured secrets (it can still be revoked).
    Undecryptable,
    /// It cannot sign for another reason: an unknown algorithm, a broken public or private key,
    /// or a private key that does not match its public key (the server log says which).
    Unusable,
}

impl fmt::Display for KeyState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            KeyState::Next => "next",
            KeyState::Current => "current",
            KeyState::Retired => "retired",
            KeyState::Expired => "expired",
            KeyState::Undecryptable => "undecryptable",
            KeyState::Unusable => "unusable",
        })
    }
}

impl KeyManager {
    async fn generate(&self, alg: Alg) -> Result<KeyPair, KeyError> {
        let bits = self.config.rsa_bits;
        tokio::task::spawn_blocking(move || KeyPair::generate_with_rsa_bits(alg, bits))
            .await
            .map_err(KeyError::Task)?
            .map_err(|reason| KeyError::Generate { alg, reason })
    }

    /// How long before a key stops signing its successor is published: a verifier that cached
    /// the key set just before must have refetched it (max-age) — plus a minute of slack for the
    /// key watch and clocks.
    pub fn publish_lead(&self) -> Duration {
        self.config.max_age + Duration::minutes(1)
    }

    /// Rotation, run periodically: when the key that signs stops within the publish lead and no
    /// successor waits, creates the successor now, taking over when that key ends. Decided again
    /// under the key lock on the rows as they are, so that instances never make two. Without a
    /// rotation interval it only makes sure, with several algorithms, that each has a key.
    pub(crate) async fn maintain(&self) -> Result<(), KeyError> {
        // One algorithm's failure never holds up another's rotation: each is tried, the first
        // failure returned.
        let mut first = None;
        for alg in self.config.algs.clone() {
            // With several algorithms, each has a key (made here, within a key watch tick of
            // the start, rather than on the first token asked of it). One that has none and
            // cannot get one is not rotated this time.
            if self.config.algs.len() > 1
                && let Err(e) = self.signing_key_for(alg).await
            {
                tracing::warn!(%alg, error = %Chain(&e), "no key signs for this algorithm");
                first.get_or_insert(e);
                continue;
            }
            if let Err(e) = self.rotate_when_due(alg).await {
                first.get_or_insert(e);
            }
        }
        first.map_or(Ok(()), Err)
    }

    /// [`KeyManager::maintain`] for the keys of one algorithm.
    async fn rotate_when_due(&self, alg: Alg) -> Result<(), KeyError> {
        let Some(interval) = self.config.rotation_interval else {
            return Ok(());
        };
        let current = self.signing_key_for(alg).await?;
        let now = self.now();
        let lead = self.publish_lead();
        // Cheap checks first, on what this process holds, before a key is generated.
        let Some(until) = current.until else {
            return Ok(());
        };
        if now < until - lead {
            return Ok(());
        }
        let rows = self.store.list_keys().await?;
        if succession::has_successor(&self.peers(alg, &rows), now, until) {
            return Ok(());
        }
        let pair = self.generate(alg).await?;
        let row = self.row_for(&pair, now, None)?;
        let inserted = self
            .store
            .insert_key_if(&row, |rows| {
                let now = self.now();
                let peers = self.peers(alg, rows);
                let until = succession::signer_at(&peers, now)?.expires_at?;
                if now < until - lead || succession::has_successor(&peers, now, until) {
                    return None;
                }
                // Never start sooner than one lead after publication, even if this runs late.
                let starts = until.max(now + lead);
                let place = succession::successor_placement(&peers, now, starts);
                Some(Placement {
                    created_at: place.created_at,
                    expires_at: earliest(starts.checked_add_signed(interval), place.end_by),
                    expire: place.expire,
                    moves: place.moves,
                })
            })
            .await?;
        if inserted {
            tracing::info!(kid = %row.id, %alg, "published the next signing key");
        }
        self.reload().await
    }

    /// Schedules a rotation: a new key is published now and takes over after the publish lead
    /// (`immediate`: after [`IMMEDIATE_SETTLE`], once every instance publishes it — verifiers
    /// with a cached key set will meet an unknown kid and refetch). The key that signs now signs
    /// until then and keeps verifying for the grace period; a successor still waiting from an
    /// earlier (or a concurrent) rotation is retired unused. Refused while a published key does
    /// not open with this secret: the new key would be sealed under a secret the servers may not
    /// have (revoke that key, or fix the secret, first).
    pub async fn rotate(&self, immediate: bool) -> Result<String, KeyError> {
        self.rotate_alg(self.config.alg, immediate).await
    }

    /// [`KeyManager::rotate`] for the keys of `alg`, one of the configured algorithms (the keys
    /// of the others are untouched).
    pub async fn rotate_alg(&self, alg: Alg, immediate: bool) -> Result<String, KeyError> {
        if !self.config.algs.contains(&alg) {
            return Err(KeyError::NotConfigured { alg });
        }
        self.self_test().await?;
        self.reload().await?;
        // A scheduled rotation needs a key to sign until the new one starts (made now if there
        // is none); an immediate one on an empty table makes the first key, with nothing to retire.
        if !immediate {
            self.signing_key_for(alg).await?;
        }
        let pair = self.generate(alg).await?;
        let row = self.row_for(&pair, self.now(), None)?;
        self.store
            .insert_key_if(&row, |rows| {
                // Timed once the key exists and the lock is held: however long generating the
                // key or waiting for the lock took, the new key still waits its full time.
                let now = self.now();
                let peers = self.peers(alg, rows);
                let starts = match (immediate, succession::signer_at(&peers, now)) {
                    (false, _) => now + self.publish_lead(),
                    // Every instance publishes the key before any signs with it, so that a
                    // verifier's refetch for its kid finds it wherever the balancer sends it.
                    (true, Some(_)) => now + IMMEDIATE_SETTLE,
                    (true, None) => now,
                };
                let expires_at = self
                    .config
                    .rotation_interval
                    .and_then(|i| starts.checked_add_signed(i));
                let place = succession::successor_placement(&peers, now, starts);
                Some(Placement {
                    created_at: place.created_at,
                    // A successor scheduled earlier takes over at its start.
                    expires_at: earliest(expires_at, place.end_by),
                    expire: place.expire,
                    moves: place.moves,
                })
            })
            .await?;
        self.reload().await?;
        Ok(row.id)
    }

    /// Removes a key: gone from the key set and from signing at once. Tokens it signed no longer
    /// verify once verifiers refetch. Needs no secret: an undecryptable key can be revoked. When
    /// it was the key that signs, its published successor starts now, or the servers make a new
    /// key on their next token. When it was a successor waiting its turn, the key it was to
    /// follow signs on in its place (until the revoked key would have ended), so that no key is
    /// made at the start for want of one.
    pub async fn revoke(&self, kid: &str) -> Result<bool, KeyError> {
        let now = self.now();
        let removed = self
            .store
            .delete_key_adjusting(kid, |rows| {
                // The revoked key's own algorithm: only its peers take its place.
                let alg = rows
                    .iter()
                    .find(|r| r.id == kid)
                    .and_then(|r| self.configured_alg(r));
                match alg {
                    Some(alg) => succession::revocation_changes(&self.peers(alg, rows), kid, now),
                    None => Vec::new(),
                }
            })
            .await?;
        self.reload().await?;
        if removed {
            for alg in self.config.algs.clone() {
                if self.live_signing_key(alg).is_none() {
                    self.bring_successor_forward(alg, self.now()).await?;
                }
            }
        }
        Ok(removed)
    }

    /// When no key may sign at `now` — judged from the rows (their alg and times), not from
    /// what this process can open, so that a process without the secret never moves keys for
    /// the others: the earliest key of the configured alg that has not started yet, and that
    /// this process can use, starts now. It is in the key set already, so verifiers that fetched
    /// the set since hold it, and others refetch for its kid. Decided and written under the
    /// key-creation lock, so that two processes never bring two keys forward. Whether one moved.
    pub(super) async fn bring_successor_forward(
        &self,
        alg: Alg,
        now: DateTime<Utc>,
    ) -> Result<bool, KeyError> {
        let moved = self
            .store
            .start_key_if(now, |rows| {
                if rows.iter().any(|r| self.may_sign(alg, r, now)) {
                    return None;
                }
                rows.iter()
                    .filter(|r| {
                        self.is_of(alg, r)
                            && r.created_at > now
                            && r.expires_at.is_none_or(|e| e > now)
                            && self.check_usable(r).is_ok()
                    })
                    .min_by_key(|r| (r.created_at, r.id.clone()))
                    .map(|r| r.id.clone())
            })
            .await?;
        if let Some(kid) = &moved {
            tracing::info!(%kid, %alg, "no key could sign: its published successor starts now");
        }
        self.reload().await?;
        Ok(moved.is_some())
    }

    /// Deletes the keys past their grace period: in no key set, signing nothing. Better Auth
    /// never deletes a key, and its nodes read only 100 rows of the table (in no set order), so
    /// a table that grew past that hides keys from them. One change, announced once; needs no
    /// secret. The ids removed.
    pub async fn prune(&self) -> Result<Vec<String>, KeyError> {
        let now = self.now();
        let removed = self
            .store
            .delete_keys_where(|row| !self.published(row, now))
            .await?;
        self.reload().await?;
        Ok(removed)
    }

    /// Re-encrypts every private key under the current secret; returns how many changed.
    /// Keys past their grace period are left as they are (they are in no key set and sign
    /// nothing; `sigil keys prune` deletes them).
    pub async fn rewrap(&self) -> Result<usize, KeyError> {
        let mut changed = 0;
        let now = self.now();
        for row in self.store.list_keys().await? {
            if !self.published(&row, now) {
                continue;
            }
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

    /// Every stored key with its state now, for `sigil keys list`. Works whatever the secret:
    /// a key that does not open is listed as [`KeyState::Undecryptable`], one that cannot sign
    /// for another reason as [`KeyState::Unusable`]; `current` is the key servers sign with (the
    /// same rule as theirs), one per configured algorithm.
    pub async fn list(&self) -> Result<Vec<(KeyRow, KeyState)>, KeyError> {
        Ok(self
            .listing()
            .await?
            .into_iter()
            .map(|(row, state, _)| (row, state))
            .collect())
    }

    /// [`KeyManager::list`] with, for a key waiting its turn, when it starts: one read of the
    /// table. Keys past their grace period are expired whatever they hold, and are not opened.
    /// (When a key that signs now or did sign began is not kept: a successor is written just
    /// older than the key it follows, and a revocation moves the turn without a write.)
    pub async fn listing(
        &self,
    ) -> Result<Vec<(KeyRow, KeyState, Option<DateTime<Utc>>)>, KeyError> {
        let now = self.now();
        let rows = self.store.list_keys().await?;
        let problems: Vec<Option<KeyState>> = rows
            .iter()
            .map(|r| {
                if !self.published(r, now) {
                    return None;
                }
                match self.check_usable(r) {
                    Ok(()) => None,
                    Err(KeyError::Undecryptable { .. }) => Some(KeyState::Undecryptable),
                    Err(_) => Some(KeyState::Unusable),
                }
            })
            .collect();
        let mut current = Vec::new();
        for &alg in &self.config.algs {
            current.extend(
                rows.iter()
                    .zip(&problems)
                    .filter(|(r, problem)| {
                        problem.is_none() && self.published(r, now) && self.may_sign(alg, r, now)
                    })
                    .max_by_key(|(r, _)| (r.created_at, r.id.clone()))
                    .map(|(r, _)| r.id.clone()),
            );
        }
        let waiting = self.pending_starts(&rows, now);
        Ok(rows
            .into_iter()
            .zip(problems)
            .map(|(r, problem)| {
                let starts = waiting.get(&r.id).copied();
                let waits = starts.is_some();
                let state = if !self.published(&r, now) {
                    KeyState::Expired
                } else if let Some(problem) = problem {
                    problem
                } else if current.contains(&r.id) {
                    KeyState::Current
                } else if waits {
                    KeyState::Next
                } else {
                    KeyState::Retired
                };
                (r, state, starts)
            })
            .collect())
    }

    /// The keys waiting their turn to sign, and when each starts (with the rows as they are).
    pub async fn waiting(&self) -> Result<HashMap<String, DateTime<Utc>>, KeyError> {
        let rows = self.store.list_keys().await?;
        Ok(self.pending_starts(&rows, self.now()))
    }

    /// The keys among `rows` waiting their turn to sign, each among the keys of its algorithm,
    /// and when each starts.
    fn pending_starts(
        &self,
        rows: &[KeyRow],
        now: DateTime<Utc>,
    ) -> HashMap<String, DateTime<Utc>> {
        let mut starts = HashMap::new();
        for &alg in &self.config.algs {
            let peers = self.peers(alg, rows);
            starts.extend(peers.iter().filter_map(|r| {
                succession::pending_start(r, &peers, now).map(|t| (r.id.clone(), t))
            }));
        }
        starts
    }

    /// Generates a key and inserts it unless another process did so first.
    pub(super) async fn mint(&self, alg: Alg, now: DateTime<Utc>) -> Result<(), KeyError> {
        // A live key this process cannot open means a wrong secret here (or a damaged row): making
        // a second current key would split the instances. Say so instead; revoking the row, or
        // fixing the secret, resolves it.
        // Checked before a key is generated: a live key that cannot sign (another secret, or a
        // private key that does not match its public one) is an error here every time, and
        // generating a key only for the insert to decline would cost an RSA generation a tick.
        let skew = now + Duration::seconds(60);
        for row in self.store.list_keys().await? {
            if self.may_sign(alg, &row, skew) && row.expires_at.is_none_or(|e| e > now) {
                self.check_usable(&row)?;
            }
        }
        let pair = self.generate(alg).await?;
        let expires_at = self
            .config
            .rotation_interval
            .and_then(|i| now.checked_add_signed(i));
        let row = self.row_for(&pair, now, expires_at)?;
        // Another process may have created a key a moment "later" by its clock than ours: any
        // key of this alg that starts within a minute of now counts as present.
        let inserted = self
            .store
            .insert_key_if(&row, |rows| {
                (!rows
                    .iter()
                    .any(|r| self.may_sign(alg, r, skew) && r.expires_at.is_none_or(|e| e > now)))
                .then(|| Placement::as_is(&row))
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
        let private = pair.to_private_jwk().map_err(KeyError::Export)?;
        if self.config.encrypt_private_keys {
            self.ring.seal(&private).map_err(KeyError::Seal)
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
