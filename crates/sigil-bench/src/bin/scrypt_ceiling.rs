//! The scrypt ceiling of the load benchmark: how many password hashes per second this machine
//! can do at most, with Better Auth's parameters (N=16384, r=16, p=1, 64-byte key), the ones
//! `sigil serve` uses for sign-in.
//!
//! `sigil-scrypt-ceiling [ITERATIONS]` (default 10) hashes ITERATIONS times on one thread after
//! one unrecorded hash, and prints tab-separated lines:
//! `scrypt_ms_per_hash <median ms>`, `cores <n>` and `scrypt_ceiling_per_s <cores / seconds per
//! hash>`. Then one thread per core hashes ITERATIONS times each, all at once, and it prints
//! `scrypt_parallel_per_s <hashes / wall seconds>`: what the cores deliver together, where the
//! 32 MiB each hash walks compete for caches and memory bandwidth.

use std::time::Instant;

const LOG_N: u8 = 14;
const R: u32 = 16;
const P: u32 = 1;
const KEY_LEN: usize = 64;

fn main() -> anyhow::Result<()> {
    let iterations: usize = match std::env::args().nth(1) {
        Some(n) => n.parse()?,
        None => 10,
    };
    anyhow::ensure!(iterations > 0, "ITERATIONS must be at least 1");
    let params =
        scrypt::Params::new(LOG_N, R, P).map_err(|e| anyhow::anyhow!("scrypt parameters: {e}"))?;
    // The salt is a 32-character hex string, as in Better Auth's format.
    let salt = b"0123456789abcdef0123456789abcdef";
    let hash = |i: usize| -> anyhow::Result<f64> {
        let password = format!("correct horse battery staple {i}");
        let mut key = [0u8; KEY_LEN];
        let start = Instant::now();
        scrypt::scrypt(password.as_bytes(), salt, &params, &mut key)
            .map_err(|e| anyhow::anyhow!("scrypt: {e}"))?;
        Ok(start.elapsed().as_secs_f64())
    };
    hash(0)?;
    let mut seconds = (1..=iterations)
        .map(hash)
        .collect::<anyhow::Result<Vec<_>>>()?;
    seconds.sort_by(f64::total_cmp);
    let median = seconds[seconds.len() / 2];
    let cores = std::thread::available_parallelism()?.get();
    println!("scrypt_ms_per_hash\t{:.2}", median * 1000.0);
    println!("cores\t{cores}");
    println!("scrypt_ceiling_per_s\t{:.1}", cores as f64 / median);
    let start = Instant::now();
    std::thread::scope(|scope| {
        let threads: Vec<_> = (0..cores)
            .map(|_| scope.spawn(|| (1..=iterations).try_for_each(|i| hash(i).map(|_| ()))))
            .collect();
        threads.into_iter().try_for_each(|t| {
            t.join()
                .map_err(|_| anyhow::anyhow!("a hashing thread panicked"))?
        })
    })?;
    let wall = start.elapsed().as_secs_f64();
    println!(
        "scrypt_parallel_per_s\t{:.1}",
        (cores * iterations) as f64 / wall
    );
    Ok(())
}
