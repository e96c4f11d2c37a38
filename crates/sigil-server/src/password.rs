//! Passwords in Better Auth's format: scrypt (N=16384, r=16, p=1, 64-byte key) over the
//! NFKC-normalized password, stored as `"<salt hex>:<key hex>"` where the 32-character salt *hex
//! string* is the scrypt salt. Hashing is CPU-heavy (32 MiB, tens of milliseconds), so the
//! [`Hasher`] runs it on threads of its own at a low scheduling priority, a bounded number at a
//! time.

use std::time::Duration;

use aws_lc_rs::constant_time::verify_slices_are_equal;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use thiserror::Error;
use unicode_normalization::UnicodeNormalization;
use zeroize::Zeroizing;

/// Shortest password accepted at sign-up.
pub(crate) const MIN_LENGTH: usize = 8;
/// Longest password accepted.
pub(crate) const MAX_LENGTH: usize = 128;

const LOG_N: u8 = 14;
const R: u32 = 16;
const P: u32 = 1;
const KEY_LEN: usize = 64;

fn derive(password: &str, salt_hex: &str) -> Option<Zeroizing<[u8; KEY_LEN]>> {
    let normalized: Zeroizing<String> = Zeroizing::new(password.nfkc().collect());
    let params = scrypt::Params::new(LOG_N, R, P).ok()?;
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    scrypt::scrypt(
        normalized.as_bytes(),
        salt_hex.as_bytes(),
        &params,
        key.as_mut(),
    )
    .ok()?;
    Some(key)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Hashes a password into Better Auth's `salt:key` format. `None` only if the system RNG or the
/// scrypt parameters fail, which does not happen on a working system.
pub(crate) fn hash(password: &str) -> Option<String> {
    let mut salt = [0u8; 16];
    SystemRandom::new().fill(&mut salt).ok()?;
    let salt_hex = hex(&salt);
    let key = derive(password, &salt_hex)?;
    Some(format!("{salt_hex}:{}", hex(key.as_ref())))
}

/// Checks a password against a stored `salt:key` hash in constant time. A malformed hash never
/// matches.
pub(crate) fn verify(password: &str, stored: &str) -> bool {
    let Some((salt_hex, key_hex)) = stored.split_once(':') else {
        return false;
    };
    let Some(expected) = unhex(key_hex) else {
        return false;
    };
    let Some(key) = derive(password, salt_hex) else {
        return false;
    };
    expected.len() == KEY_LEN && verify_slices_are_equal(key.as_ref(), &expected).is_ok()
}

/// A fixed hash to verify against when the user does not exist, so that an unknown email costs
/// the same time as a wrong password.
pub(crate) const DUMMY_HASH: &str = "00000000000000000000000000000000:\
0000000000000000000000000000000000000000000000000000000000000000\
0000000000000000000000000000000000000000000000000000000000000000";

/// Why a password could not be hashed or checked.
#[derive(Debug, Error)]
pub(crate) enum HashError {
    /// Every hashing slot stayed busy for the whole wait: the server is overloaded.
    #[error("no password hashing slot within {0:?}")]
    Busy(Duration),
    /// The hashing job panicked, or its thread is gone.
    #[error("the password hashing job did not finish")]
    Lost,
    /// The system RNG or the scrypt parameters failed.
    #[error("password hashing failed")]
    Failed,
}

/// Hashes and checks passwords on threads of its own, one per core, at most one hash per thread
/// at a time: a flood of sign-ins queues (for at most `wait`) instead of running hundreds of
/// 32 MiB scrypt instances at once. The threads run at a low scheduling priority, so that while
/// they hash, the cheap requests (`/token`, `/jwks`) still get a core at once; when nothing else
/// runs, they use every core.
pub(crate) struct Hasher {
    slots: tokio::sync::Semaphore,
    wait: Duration,
    /// Jobs for the hashing threads; `None` when none could be started (the blocking pool then
    /// hashes, at normal priority).
    jobs: Option<std::sync::mpsc::Sender<Job>>,
}

type Job = Box<dyn FnOnce() + Send>;

/// The hashing threads' nice value (0 is normal, 19 the lowest): they get about a tenth of the
/// share of a normal thread when both want a core, and every core when nothing else runs.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
const HASHING_NICE: i32 = 10;

/// Lowers the calling thread's priority for CPU-bound work: `SCHED_BATCH` (not treated as
/// interactive, does not preempt on wake-up) at [`HASHING_NICE`]. Best effort: on failure the
/// thread hashes at normal priority.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    {
        use thread_priority::unix::{
            NormalThreadSchedulePolicy, ThreadSchedulePolicy, set_thread_priority_and_policy,
            thread_native_id,
        };
        use thread_priority::{ThreadPriority, ThreadPriorityValue};
        let policy = ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Batch);
        // thread-priority maps its 0..=99 scale onto nice values; take the step that is ours.
        let Some(priority) = (0..=99u8)
            .filter_map(|step| ThreadPriorityValue::try_from(step).ok())
            .map(ThreadPriority::Crossplatform)
            .find(|p| p.to_posix(policy).ok() == Some(HASHING_NICE))
        else {
            return;
        };
        let lowered = set_thread_priority_and_policy(thread_native_id(), priority, policy);
        if let Err(e) = lowered {
            tracing::debug!(error = ?e, "password hashing runs at normal priority");
        }
    }
}

/// Starts `count` hashing threads taking jobs from one queue; they end when the sender goes.
fn start_threads(count: usize) -> Option<std::sync::mpsc::Sender<Job>> {
    let (sender, receiver) = std::sync::mpsc::channel::<Job>();
    let receiver = std::sync::Arc::new(std::sync::Mutex::new(receiver));
    let mut started = 0;
    for _ in 0..count {
        let receiver = receiver.clone();
        let spawned = std::thread::Builder::new()
            .name("sigil-hash".into())
            .spawn(move || {
                lower_priority();
                loop {
                    // The lock is held only while waiting for the next job.
                    let job = match receiver.lock() {
                        Ok(queue) => queue.recv(),
                        Err(_) => return,
                    };
                    match job {
                        Ok(job) => job(),
                        Err(_) => return,
                    }
                }
            });
        match spawned {
            Ok(_) => started += 1,
            Err(e) => tracing::warn!(error = %e, "could not start a password hashing thread"),
        }
    }
    (started > 0).then_some(sender)
}

impl Hasher {
    /// One slot and thread per core (at least two); a request waits at most `wait` for one.
    pub(crate) fn new(wait: Duration) -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get().max(2));
        Hasher {
            slots: tokio::sync::Semaphore::new(cores),
            wait,
            jobs: start_threads(cores),
        }
    }

    async fn slot(&self) -> Result<tokio::sync::SemaphorePermit<'_>, HashError> {
        match tokio::time::timeout(self.wait, self.slots.acquire()).await {
            Ok(Ok(permit)) => Ok(permit),
            _ => Err(HashError::Busy(self.wait)),
        }
    }

    /// Runs `work` on a hashing thread (holding a slot) and waits for its result.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, HashError> {
        let _slot = self.slot().await?;
        let Some(jobs) = &self.jobs else {
            return tokio::task::spawn_blocking(work)
                .await
                .map_err(|_| HashError::Lost);
        };
        let (done, result) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = done.send(work());
        });
        jobs.send(job).map_err(|_| HashError::Lost)?;
        result.await.map_err(|_| HashError::Lost)
    }

    /// A new `salt:key` hash of `password`.
    pub(crate) async fn hash(&self, password: String) -> Result<String, HashError> {
        self.run(move || hash(&password))
            .await?
            .ok_or(HashError::Failed)
    }

    /// Whether `password` matches the stored `hash`.
    pub(crate) async fn verify(&self, password: String, hash: String) -> Result<bool, HashError> {
        self.run(move || verify(&password, &hash)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Made by Better Auth 1.7.25 (the Node peer in shared/anchors/better-auth) for the password
    /// "correct horse battery".
    const BETTER_AUTH_HASH: &str = "e892ea95d0de19fabbaa7003cb2272bf:cf532430ed9fe0b8f2270555b53e1fe884dffcd834e94005a93f548c657aff9e856b464b53fa433d0f0615ba5e183e4e7e32ea7a8fc93f185829e9cc7db9582a";

    #[test]
    fn verifies_better_auth_hash() {
        assert!(verify("correct horse battery", BETTER_AUTH_HASH));
        assert!(!verify("correct horse batterY", BETTER_AUTH_HASH));
    }

    #[test]
    fn round_trip_and_format() {
        let h = hash("pässwörd-Ω").unwrap();
        let (salt, key) = h.split_once(':').unwrap();
        assert_eq!((salt.len(), key.len()), (32, 128));
        assert!(verify("pässwörd-Ω", &h));
        // NFKC: the compatibility form of the ligature matches the plain letters.
        let h = hash("ﬁsh-and-chips").unwrap();
        assert!(verify("fish-and-chips", &h));
    }

    /// The hashing threads run at the lowered priority (Linux: nice 10, `SCHED_BATCH`).
    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn hashing_threads_run_at_low_priority() {
        let hasher = Hasher::new(Duration::from_secs(5));
        let (nice, policy) = hasher
            .run(|| {
                // /proc/thread-self/stat: the fields after the `(comm)` name; nice is the 19th
                // field of the line, the 17th after the name; the policy is the 41st.
                let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap();
                let rest = &stat[stat.rfind(')').unwrap() + 2..];
                let fields: Vec<&str> = rest.split_whitespace().collect();
                (fields[16].to_owned(), fields[38].to_owned())
            })
            .await
            .unwrap();
        assert_eq!(nice, HASHING_NICE.to_string());
        assert_eq!(policy, "3", "SCHED_BATCH");
        assert!(hasher.verify("x".into(), DUMMY_HASH.into()).await.is_ok());
    }

    #[test]
    fn malformed_hashes_never_match() {
        for bad in ["", ":", "abc", "zz:zz", "00:0", DUMMY_HASH] {
            assert!(!verify("anything", bad), "{bad}");
        }
    }
}
