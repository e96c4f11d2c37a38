//! Time as a parameter: the token cache compares `exp` with [`Clock::unix_seconds`].

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Where the token cache reads the time. Tests substitute [`ManualClock`] (or their own clock,
/// e.g. one shared with an in-process server).
pub trait Clock: Send + Sync + 'static {
    /// Seconds since the Unix epoch: the time a token's `exp` is compared with.
    fn unix_seconds(&self) -> i64;
}

/// The machine's clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn unix_seconds(&self) -> i64 {
        match SystemTime::now().duration_since(UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
            Err(_) => 0,
        }
    }
}

/// A clock that only moves when told to, so tests can put a cached token before, inside or past
/// its refresh margin without waiting. Clones share the time.
#[derive(Clone, Debug)]
pub struct ManualClock {
    now: Arc<AtomicI64>,
}

impl ManualClock {
    /// A clock standing at `unix_seconds` until [`ManualClock::advance`] or [`ManualClock::set`].
    pub fn new(unix_seconds: i64) -> Self {
        ManualClock {
            now: Arc::new(AtomicI64::new(unix_seconds)),
        }
    }

    /// Moves the clock forward (every clone sees it).
    pub fn advance(&self, by: Duration) {
        let secs = i64::try_from(by.as_secs()).unwrap_or(i64::MAX);
        self.now.fetch_add(secs, Ordering::SeqCst);
    }

    /// Puts the clock at `unix_seconds`.
    pub fn set(&self, unix_seconds: i64) {
        self.now.store(unix_seconds, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn unix_seconds(&self) -> i64 {
        self.now.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_told_and_clones_share_it() {
        let clock = ManualClock::new(1_000);
        let clone = clock.clone();
        assert_eq!(clock.unix_seconds(), 1_000);
        clock.advance(Duration::from_secs(61));
        assert_eq!(clone.unix_seconds(), 1_061);
        clone.set(5);
        assert_eq!(clock.unix_seconds(), 5);
        assert!(SystemClock.unix_seconds() > 1_700_000_000);
    }
}
