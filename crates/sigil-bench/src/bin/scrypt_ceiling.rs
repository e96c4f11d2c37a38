//! The scrypt ceiling of the load benchmark: how many password hashes per second this machine
//! can do at most, with Better Auth's parameters (N=16384, r=16, p=1, 64-byte key), the ones
//! `sigil serve` uses for sign-in.
//!
//! `sigil-scrypt-ceiling [ITERATIONS]` (default 10) hashes ITERATIONS times on one thread after
//! one unrecorded hash, and prints tab-separated lines:
//! `scrypt_ms_per_hash <median ms>`, `cores <n>` and `scrypt_ceiling_per_s <cores / seconds per
//! hash>`.

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
    let mut key = [0u8; KEY_LEN];
    let mut hash = |i: usize| -> anyhow::Result<f64> {
        let password = format!("correct horse battery staple {i}");
        let start = Instant::now();
        scrypt::scrypt(password.as_bytes(), salt, &params, &mut key)
            .map_err(|e| anyhow::anyhow!("scrypt: {e}"))?;
        Ok(start.elapsed().as_secs_f64())
    };
    hash(0)?;
    let mut seconds = (1..=iterations)
        .map(&mut hash)
        .collect::<anyhow::Result<Vec<_>>>()?;
    seconds.sort_by(f64::total_cmp);
    let median = seconds[seconds.len() / 2];
    let cores = std::thread::available_parallelism()?.get();
    println!("scrypt_ms_per_hash\t{:.2}", median * 1000.0);
    println!("cores\t{cores}");
    println!("scrypt_ceiling_per_s\t{:.1}", cores as f64 / median);
    Ok(())
}
