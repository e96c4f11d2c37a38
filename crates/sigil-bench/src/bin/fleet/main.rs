//! `sigil-fleet`: the load generator and probes of the fleet scenario (`bench/fleet.sh`): three
//! `sigil serve` instances behind nginx on one PostgreSQL, under faults.
//!
//! - `load`: signs users up through the balancer, then workers alternate `GET /token` and
//!   `GET /get-session` (bearer) and verify every JWT with one `sigil-verify` verifier over the
//!   balancer's JWKS; counts statuses, 5xx by code, timeouts and verification failures.
//! - `signout-probe`: signs out on one instance, measures until every other one refuses.
//! - `key-probe`: `sigil keys rotate [--now]` / `revoke`, measures until every instance (and, for
//!   a revocation, a verifier warmed before it) shows the change.
//! - `summarize`: one verdict; exits 1 when a promise is broken.

mod common;
mod load;
mod probes;
mod summarize;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "sigil-fleet", about = "Load and probes of the fleet scenario")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Token load through the balancer, every JWT verified.
    Load(load::LoadArgs),
    /// Sign-out propagation across instances.
    SignoutProbe(probes::SignoutArgs),
    /// Key change propagation to instances (and to a verifier, for a revocation).
    KeyProbe(probes::KeyArgs),
    /// The verdict over the load and the probes.
    Summarize(summarize::SummarizeArgs),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Load(a) => load::run(a).await,
        Command::SignoutProbe(a) => probes::signout(a).await,
        Command::KeyProbe(a) => probes::keys(a).await,
        Command::Summarize(a) => {
            if summarize::run(a)? {
                Ok(())
            } else {
                std::process::exit(1)
            }
        }
    }
}
