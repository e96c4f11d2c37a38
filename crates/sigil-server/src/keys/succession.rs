//! Which key signs when. Sigil and Better Auth share one rule: among the keys of the signing
//! algorithm that have started (`createdAt` at or before now) and not expired, the newest by
//! `createdAt` signs. Better Auth applies it without the "started" part, so a key whose
//! `createdAt` lies in the future signs on a Better Auth node at once.
//!
//! A successor is therefore written just older than the key it follows, and that key's expiry is
//! set to the successor's start: the successor is published at once, yet signs only once its
//! predecessor has expired — on Sigil and on Better Auth nodes sharing the database alike, with
//! no write when it takes over. Rows that older Sigil versions wrote with their start as
//! `createdAt` are still understood: they wait for that time.

use chrono::{DateTime, Duration, Utc};

use crate::store::KeyRow;

/// Whether a key has started and not expired at `t`.
pub(super) fn live_at(row: &KeyRow, t: DateTime<Utc>) -> bool {
    row.created_at <= t && row.expires_at.is_none_or(|e| e > t)
}

/// Whether `a` is newer than `b` in the signing order (`createdAt`, then id).
fn newer(a: &KeyRow, b: &KeyRow) -> bool {
    (a.created_at, &a.id) > (b.created_at, &b.id)
}

/// Whether `row` signs at `t`: live, and no newer key of `peers` (the rows of the same
/// algorithm) is.
pub(super) fn signs_at(row: &KeyRow, peers: &[&KeyRow], t: DateTime<Utc>) -> bool {
    live_at(row, t)
        && !peers
            .iter()
            .any(|n| n.id != row.id && newer(n, row) && live_at(n, t))
}

/// When `row` starts signing, if it does not sign at `now` but will later with the rows as they
/// are: at its own `createdAt`, or once every newer key of `peers` that is live has expired.
pub(super) fn pending_start(
    row: &KeyRow,
    peers: &[&KeyRow],
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    if signs_at(row, peers, now) {
        return None;
    }
    // It can only begin to sign at its own start or when a newer key expires.
    let mut instants: Vec<DateTime<Utc>> = std::iter::once(row.created_at)
        .chain(
            peers
                .iter()
                .filter(|n| n.id != row.id && newer(n, row))
                .filter_map(|n| n.expires_at),
        )
        .filter(|t| *t > now)
        .collect();
    instants.sort();
    instants.into_iter().find(|t| signs_at(row, peers, *t))
}

/// The `createdAt` of a key that follows `predecessor`: just older than it, so that it signs only
/// once `predecessor` has expired.
pub(super) fn successor_created_at(predecessor: &KeyRow) -> DateTime<Utc> {
    predecessor.created_at - Duration::milliseconds(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: &str, created: i64, expires: Option<i64>) -> KeyRow {
        let at = |s: i64| DateTime::<Utc>::from_timestamp(1_700_000_000 + s, 0).unwrap();
        KeyRow {
            id: id.into(),
            public_key: String::new(),
            private_key: String::new(),
            created_at: at(created),
            expires_at: expires.map(at),
            alg: Some("EdDSA".into()),
            crv: None,
        }
    }

    fn at(s: i64) -> DateTime<Utc> {
        DateTime::<Utc>::from_timestamp(1_700_000_000 + s, 0).unwrap()
    }

    /// The successor written just older than the current key waits for its expiry, then signs;
    /// the current key signs until then.
    #[test]
    fn a_successor_signs_once_its_predecessor_expires() {
        let current = key("current", 100, Some(500));
        let mut next = key("next", 0, None);
        next.created_at = successor_created_at(&current);
        let peers = [&current, &next];
        assert!(signs_at(&current, &peers, at(200)));
        assert!(!signs_at(&next, &peers, at(200)));
        assert_eq!(pending_start(&next, &peers, at(200)), Some(at(500)));
        assert_eq!(pending_start(&current, &peers, at(200)), None);
        assert!(signs_at(&next, &peers, at(500)));
        assert!(!signs_at(&current, &peers, at(500)));
        assert_eq!(pending_start(&next, &peers, at(500)), None);
    }

    /// A key written by an older Sigil with its start as `createdAt` waits for that time.
    #[test]
    fn a_future_created_at_still_means_a_later_start() {
        let current = key("current", 100, Some(500));
        let next = key("next", 500, None);
        let peers = [&current, &next];
        assert_eq!(pending_start(&next, &peers, at(200)), Some(at(500)));
        assert!(signs_at(&current, &peers, at(499)));
        assert!(signs_at(&next, &peers, at(500)));
    }

    /// A key shadowed by a newer one that never expires never signs again (not "next"); an
    /// expired key never signs; nothing is pending when the newer key expires after the row.
    #[test]
    fn keys_that_never_sign_again_are_not_pending() {
        let old = key("old", 0, None);
        let newer = key("newer", 100, None);
        assert_eq!(pending_start(&old, &[&old, &newer], at(200)), None);
        assert!(!signs_at(&old, &[&old, &newer], at(200)));
        let expired = key("expired", 0, Some(150));
        assert_eq!(pending_start(&expired, &[&expired], at(200)), None);
        let short = key("short", 0, Some(300));
        let long = key("long", 100, Some(400));
        assert_eq!(pending_start(&short, &[&short, &long], at(200)), None);
    }

    /// Ties on `createdAt` are broken by id, the same way everywhere.
    #[test]
    fn ties_break_by_id() {
        let a = key("a", 100, None);
        let b = key("b", 100, None);
        assert!(signs_at(&b, &[&a, &b], at(200)));
        assert!(!signs_at(&a, &[&a, &b], at(200)));
    }
}
