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

use crate::store::{ExpiryChanges, KeyRow};

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

/// The key of `peers` that signs at `t`, if any.
pub(super) fn signer_at<'a>(peers: &[&'a KeyRow], t: DateTime<Utc>) -> Option<&'a KeyRow> {
    peers.iter().copied().find(|r| signs_at(r, peers, t))
}

/// Whether a key of `peers` waits to sign from `at` (or later): a successor is in place.
pub(super) fn has_successor(peers: &[&KeyRow], now: DateTime<Utc>, at: DateTime<Utc>) -> bool {
    peers
        .iter()
        .any(|r| pending_start(r, peers, now).is_some_and(|s| s >= at - Duration::seconds(1)))
}

/// What revoking `kid` changes besides: when it was waiting its turn, the key that signs until
/// its start signs on in its place, until the revoked key would have ended (so that nothing is
/// left to sign at the start, and no key is made for want of one).
pub(super) fn revocation_changes(
    peers: &[&KeyRow],
    kid: &str,
    now: DateTime<Utc>,
) -> ExpiryChanges {
    let Some(waiting) = peers.iter().find(|r| r.id == kid) else {
        return Vec::new();
    };
    let Some(start) = pending_start(waiting, peers, now) else {
        return Vec::new();
    };
    signer_at(peers, start - Duration::milliseconds(1))
        .filter(|p| p.id != kid && p.expires_at == Some(start))
        .map(|p| vec![(p.id.clone(), waiting.expires_at)])
        .unwrap_or_default()
}

/// Where a new key that starts signing at `starts` goes, and what changes around it.
#[derive(Debug)]
pub(super) struct Place {
    /// The new key's `createdAt`: its place in the signing order.
    pub(super) created_at: DateTime<Utc>,
    /// When the new key must stop, if it must: a successor scheduled earlier takes over then.
    pub(super) end_by: Option<DateTime<Utc>>,
    /// Keys whose expiry changes.
    pub(super) expire: ExpiryChanges,
    /// Keys whose `createdAt` moves (a successor kept waiting behind the new key).
    pub(super) moves: Vec<(String, DateTime<Utc>)>,
}

/// Where a new key that starts signing at `starts` goes. The key that signs now signs until
/// `starts`; the new key is written just older than it. A successor already waiting to start
/// after `starts` (a scheduled rotation, then `--now`) stays the next one: it moves just older
/// than the new key, which ends at its start. Every other key that could sign at or after
/// `starts` ends then (a duplicate made in the same instant, a successor from an earlier or a
/// concurrent rotation), and a key that has not started yet ends at once, unused. At every
/// moment one key is the newest live one, for Sigil and Better Auth alike. With no key signing
/// now, the new key is written with `starts` as its `createdAt`.
pub(super) fn successor_placement(
    peers: &[&KeyRow],
    now: DateTime<Utc>,
    starts: DateTime<Utc>,
) -> Place {
    let current = signer_at(peers, now);
    let kept = current.and_then(|c| {
        peers
            .iter()
            .filter(|p| p.id != c.id)
            .filter_map(|p| pending_start(p, peers, now).map(|s| (s, *p)))
            .filter(|(s, _)| *s > starts)
            .min_by(|(a, p), (b, q)| (a, &p.id).cmp(&(b, &q.id)))
    });
    let created_at = current.map_or(starts, successor_created_at);
    let mut expire = Vec::new();
    for p in peers {
        if kept.is_some_and(|(_, k)| k.id == p.id) {
            continue;
        }
        let end = if current.is_some_and(|c| c.id == p.id) {
            Some(starts)
        } else if p.created_at > now || pending_start(p, peers, now).is_some() {
            // Waiting and replaced: it never signed. Ended now, so that it never stands beside
            // the new key (whose `createdAt` it may share) should the current key go.
            p.expires_at.is_none_or(|e| e > now).then_some(now)
        } else {
            p.expires_at.is_none_or(|e| e > starts).then_some(starts)
        };
        if let Some(end) = end.filter(|e| Some(*e) != p.expires_at) {
            expire.push((p.id.clone(), Some(end)));
        }
    }
    let moves = kept
        .map(|(_, k)| vec![(k.id.clone(), created_at - Duration::milliseconds(1))])
        .unwrap_or_default();
    Place {
        created_at,
        end_by: kept.map(|(s, _)| s),
        expire,
        moves,
    }
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

    /// Better Auth's rule: the newest unexpired key by `createdAt`, started or not, ties left to
    /// the database's order (here: the order given, and the other order too).
    fn better_auth_choice<'a>(rows: &[&'a KeyRow], t: DateTime<Utc>) -> Vec<&'a str> {
        let live: Vec<&KeyRow> = rows
            .iter()
            .copied()
            .filter(|r| r.expires_at.is_none_or(|e| e > t))
            .collect();
        let newest = live.iter().map(|r| r.created_at).max();
        live.iter()
            .filter(|r| Some(r.created_at) == newest)
            .map(|r| r.id.as_str())
            .collect()
    }

    fn apply(rows: &mut Vec<KeyRow>, new: KeyRow, place: &Place) {
        for (id, at) in &place.expire {
            if let Some(r) = rows.iter_mut().find(|r| &r.id == id) {
                r.expires_at = *at;
            }
        }
        for (id, at) in &place.moves {
            if let Some(r) = rows.iter_mut().find(|r| &r.id == id) {
                r.created_at = *at;
            }
        }
        rows.push(KeyRow {
            created_at: place.created_at,
            expires_at: place.end_by.or(new.expires_at),
            ..new
        });
    }

    /// Two keys made in the same instant that never expire (Better Auth's concurrent first
    /// requests), then two rotations at once: after each start exactly one key is live and
    /// newest, and it is the one Sigil signs with — whatever order Better Auth reads the rows in.
    #[test]
    fn rotations_leave_one_key_that_both_rules_choose() {
        let mut rows = vec![key("dup-a", 100, None), key("dup-b", 100, None)];
        let now = at(200);
        let starts = at(202);
        let peers: Vec<&KeyRow> = rows.iter().collect();
        let place = successor_placement(&peers, now, starts);
        apply(&mut rows, key("n1", 0, None), &place);
        // A second rotation, decided on the rows the first one left (as under the lock).
        let peers: Vec<&KeyRow> = rows.iter().collect();
        let place = successor_placement(&peers, at(201), at(203));
        apply(&mut rows, key("n2", 0, None), &place);
        let peers: Vec<&KeyRow> = rows.iter().collect();
        for (t, expected) in [(201, "dup-b"), (202, "dup-b"), (203, "n2"), (10_000, "n2")] {
            let sigil = signer_at(&peers, at(t)).map(|r| r.id.as_str());
            assert_eq!(sigil, Some(expected), "t={t}");
            if t >= 203 {
                assert_eq!(better_auth_choice(&peers, at(t)), vec![expected], "t={t}");
            }
        }
        assert_eq!(pending_start(&rows[3], &peers, at(201)), Some(at(203)));
    }

    /// A scheduled successor, then an immediate rotation: the new key signs from its start until
    /// the scheduled one's, which then takes over — for both rules; revoking the new key lets
    /// the scheduled one (published long since) sign at once.
    #[test]
    fn an_immediate_rotation_keeps_a_scheduled_successor() {
        let mut rows = vec![key("c", 100, None)];
        let peers: Vec<&KeyRow> = rows.iter().collect();
        let place = successor_placement(&peers, at(200), at(320));
        apply(&mut rows, key("scheduled", 0, None), &place);
        let peers: Vec<&KeyRow> = rows.iter().collect();
        let place = successor_placement(&peers, at(210), at(212));
        assert_eq!(place.end_by, Some(at(320)));
        apply(&mut rows, key("now", 0, None), &place);
        let peers: Vec<&KeyRow> = rows.iter().collect();
        for (t, expected) in [(211, "c"), (212, "now"), (319, "now"), (320, "scheduled")] {
            assert_eq!(
                signer_at(&peers, at(t)).map(|r| r.id.as_str()),
                Some(expected),
                "t={t}"
            );
            assert_eq!(better_auth_choice(&peers, at(t)), vec![expected], "t={t}");
        }
        let scheduled = peers.iter().find(|r| r.id == "scheduled").unwrap();
        assert_eq!(pending_start(scheduled, &peers, at(213)), Some(at(320)));
        let without_now: Vec<&KeyRow> = peers.iter().copied().filter(|r| r.id != "now").collect();
        assert_eq!(
            signer_at(&without_now, at(213)).map(|r| r.id.as_str()),
            Some("scheduled")
        );
    }

    fn revoke(rows: &mut Vec<KeyRow>, kid: &str, now: DateTime<Utc>) {
        let peers: Vec<&KeyRow> = rows.iter().collect();
        let changes = revocation_changes(&peers, kid, now);
        rows.retain(|r| r.id != kid);
        for (id, at) in changes {
            if let Some(r) = rows.iter_mut().find(|r| r.id == id) {
                r.expires_at = at;
            }
        }
    }

    /// Two scheduled rotations, then the current key (or the second successor) revoked: one key
    /// is the newest live one at every moment after, for both rules, and the replaced successor
    /// never signs.
    #[test]
    fn a_replaced_successor_never_stands_beside_the_new_one() {
        for revoked in ["c", "s2"] {
            let mut rows = vec![key("c", 100, None)];
            for (now, starts, id) in [(200, 320, "s1"), (250, 370, "s2")] {
                let peers: Vec<&KeyRow> = rows.iter().collect();
                let place = successor_placement(&peers, at(now), at(starts));
                apply(&mut rows, key(id, 0, None), &place);
            }
            revoke(&mut rows, revoked, at(260));
            let peers: Vec<&KeyRow> = rows.iter().collect();
            for t in [261, 300, 369, 370, 10_000] {
                let sigil = signer_at(&peers, at(t)).map(|r| r.id.as_str());
                assert_ne!(sigil, Some("s1"), "{revoked} t={t}");
                assert_eq!(
                    better_auth_choice(&peers, at(t)),
                    sigil.into_iter().collect::<Vec<_>>(),
                    "{revoked} t={t}"
                );
            }
        }
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

    /// Ties on `createdAt` are broken by id in Sigil's order. Better Auth keeps the database's
    /// order instead, so Sigil never leaves two keys live after a start with one `createdAt`.
    #[test]
    fn ties_break_by_id() {
        let a = key("a", 100, None);
        let b = key("b", 100, None);
        assert!(signs_at(&b, &[&a, &b], at(200)));
        assert!(!signs_at(&a, &[&a, &b], at(200)));
    }
}
