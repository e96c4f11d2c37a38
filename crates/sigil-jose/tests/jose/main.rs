//! Integration tests of sigil-jose: public vectors, Wycheproof primitives, the attack table and
//! property tests. One binary, one module per concern.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod attacks;
mod manifest;
mod properties;
mod vectors;
mod wycheproof_primitives;

use std::path::PathBuf;

use serde_json::Value;
use sigil_jose::{Alg, KeyPair, b64};

/// The algorithms Sigil issues with: the allow-list the vector files are judged against.
pub const ALLOW: [Alg; 5] = Alg::SIGNING;

/// The public test vectors kept in this crate (`tests/vectors/`, with their licences and a
/// SHA-256 manifest). A missing file fails the tests rather than skipping them.
pub fn vectors_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/vectors")
}

pub fn load_json(relative: &str) -> Value {
    let path = vectors_dir().join(relative);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// Counts outcomes of a vector file and fails on any unexpected one, after printing a report line.
#[derive(Default)]
pub struct Tally {
    name: &'static str,
    cases: usize,
    accepted: usize,
    rejected: usize,
    either: usize,
    unexpected: Vec<String>,
}

/// What a case is expected to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expect {
    Accept,
    Reject,
    /// Wycheproof "acceptable": a policy choice either way.
    Either,
}

impl Tally {
    pub fn new(name: &'static str) -> Self {
        Tally {
            name,
            ..Tally::default()
        }
    }

    pub fn record(
        &mut self,
        id: impl std::fmt::Display,
        expect: Expect,
        outcome: Result<(), String>,
    ) {
        self.cases += 1;
        match &outcome {
            Ok(()) => self.accepted += 1,
            Err(_) => self.rejected += 1,
        }
        let fine = match expect {
            Expect::Accept => outcome.is_ok(),
            Expect::Reject => outcome.is_err(),
            Expect::Either => {
                self.either += 1;
                true
            }
        };
        if !fine {
            self.unexpected
                .push(format!("{id}: expected {expect:?}, got {outcome:?}"));
        }
    }

    /// Prints `name: N cases, A accepted, R rejected, U unexpected` and asserts U == 0 and N > 0.
    pub fn finish(self, min_cases: usize) {
        println!(
            "{}: {} cases, {} accepted, {} rejected ({} either way), {} unexpected",
            self.name,
            self.cases,
            self.accepted,
            self.rejected,
            self.either,
            self.unexpected.len()
        );
        assert!(
            self.unexpected.is_empty(),
            "{}: unexpected outcomes:\n{}",
            self.name,
            self.unexpected.join("\n")
        );
        assert!(
            self.cases >= min_cases,
            "{}: only {} cases ran, expected at least {min_cases}",
            self.name,
            self.cases
        );
    }
}

/// Signs arbitrary header and payload bytes with a real key, for tokens the API would not make.
pub fn forge(key: &KeyPair, header: &str, payload: &str) -> String {
    let input = format!(
        "{}.{}",
        b64::encode(header.as_bytes()),
        b64::encode(payload.as_bytes())
    );
    let sig = key.sign(input.as_bytes()).unwrap();
    format!("{input}.{}", b64::encode(&sig))
}
