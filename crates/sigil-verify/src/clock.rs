//! Time as a parameter: tokens are judged by wall-clock seconds, cache ages by a monotonic clock.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Where a verifier and a key cache read the time. Tests substitute [`ManualClock`].
pub trait Clock: Send + Sync + 'static {
    /// Seconds since the Unix epoch, the time `exp`, `nbf` and `iat` are compared with.
    fn unix_seconds(&self) -> i64;
    /// A monotonic instant, the time cache ages and cooldowns are measured with.
    fn instant(&self) -> Instant;
}

/// The machine's clocks.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn unix_seconds(&self) -> i64 {
        match SystemTime::now().duration_since(UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
            Err(_) => 0,
        }
    }

    fn instant(&self) -> Instant {
        Instant::now()
    }
}

/// A clock that only moves when told to: for tests of expiry, cache ages and cooldowns.
#[derive(Clone, Debug)]
pub struct ManualClock {
    start_unix: i64,
    start: Instant,
    elapsed_ms: Arc<AtomicU64>,
}

impl ManualClock {
    /// A clock that reads `unix_seconds` now and stands still until [`ManualClock::advance`].
    pub fn new(unix_seconds: i64) -> Self {
        ManualClock {
            start_unix: unix_seconds,
            start: Instant::now(),
            elapsed_ms: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Moves both clocks forward (every clone sees it).
    pub fn advance(&self, by: Duration) {
        let ms = u64::try_from(by.as_millis()).unwrap_or(u64::MAX);
        self.elapsed_ms.fetch_add(ms, Ordering::SeqCst);
    }

    fn elapsed(&self) -> Duration {
        Duration::from_millis(self.elapsed_ms.load(Ordering::SeqCst))
    }
}

impl Clock for ManualClock {
    fn unix_seconds(&self) -> i64 {
        let secs = i64::try_from(self.elapsed().as_secs()).unwrap_or(i64::MAX);
        self.start_unix.saturating_add(secs)
    }

    fn instant(&self) -> Instant {
        self.start + self.elapsed()
    }
}
