//! Metrics hooks through the `metrics` facade (feature `metrics`); no-ops without it.
//!
//! Names: `sigil_verify_verifications_total{result}` (result = `ok` or an error code),
//! `sigil_verify_jwks_fetches_total{outcome}` (`ok` or a [`crate::FetchError::code`]), and
//! `sigil_verify_jwks_age_seconds` (age of the key set last used).

use std::time::Duration;

/// Counts one verification by its result code.
#[inline]
pub(crate) fn verification(result: &'static str) {
    #[cfg(feature = "metrics")]
    metrics::counter!("sigil_verify_verifications_total", "result" => result).increment(1);
    #[cfg(not(feature = "metrics"))]
    let _ = result;
}

/// Counts one JWKS fetch by its outcome.
#[inline]
pub(crate) fn fetch(outcome: &'static str) {
    #[cfg(feature = "metrics")]
    metrics::counter!("sigil_verify_jwks_fetches_total", "outcome" => outcome).increment(1);
    #[cfg(not(feature = "metrics"))]
    let _ = outcome;
}

/// Records the age of the cached key set.
#[inline]
pub(crate) fn key_age(age: Duration) {
    #[cfg(feature = "metrics")]
    metrics::gauge!("sigil_verify_jwks_age_seconds").set(age.as_secs_f64());
    #[cfg(not(feature = "metrics"))]
    let _ = age;
}

#[cfg(all(test, feature = "metrics"))]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::{Arc, Mutex};

    use futures_util::FutureExt;
    use metrics::{
        Counter, CounterFn, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit,
    };

    use crate::{Alg, LocalJwks, Verifier};

    /// Counts increments per metric name and labels.
    #[derive(Default)]
    struct Counts(Mutex<BTreeMap<String, u64>>);

    struct Handle(Arc<Counts>, String);

    impl CounterFn for Handle {
        fn increment(&self, value: u64) {
            *self.0.0.lock().unwrap().entry(self.1.clone()).or_default() += value;
        }
        fn absolute(&self, _value: u64) {}
    }

    struct TestRecorder(Arc<Counts>);

    impl Recorder for TestRecorder {
        fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
        fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
        fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
        fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
            let labels: Vec<String> = key
                .labels()
                .map(|l| format!("{}={}", l.key(), l.value()))
                .collect();
            let name = format!("{}{{{}}}", key.name(), labels.join(","));
            Counter::from_arc(Arc::new(Handle(self.0.clone(), name)))
        }
        fn register_gauge(&self, _: &Key, _: &Metadata<'_>) -> Gauge {
            Gauge::noop()
        }
        fn register_histogram(&self, _: &Key, _: &Metadata<'_>) -> Histogram {
            Histogram::noop()
        }
    }

    #[test]
    fn verifications_are_counted_by_result() {
        let key = sigil_jose::KeyPair::generate(Alg::EdDSA).unwrap();
        let set = sigil_jose::JwkSet::new(vec![key.public_key().clone()]).unwrap();
        let verifier = Verifier::builder(LocalJwks::new(set))
            .alg(Alg::EdDSA)
            .build()
            .unwrap();
        let good = sigil_jose::sign_jwt(&key, &serde_json::json!({"exp": i64::MAX / 2})).unwrap();
        let counts = Arc::new(Counts::default());
        let recorder = TestRecorder(counts.clone());
        metrics::with_local_recorder(&recorder, || {
            for token in [good.as_str(), good.as_str(), "x.y"] {
                // A local key set never waits: the future completes on its first poll.
                let _ = verifier.verify_claims(token).now_or_never().unwrap();
            }
        });
        let counts = counts.0.lock().unwrap();
        assert_eq!(
            counts.get("sigil_verify_verifications_total{result=ok}"),
            Some(&2)
        );
        assert_eq!(
            counts.get("sigil_verify_verifications_total{result=malformed}"),
            Some(&1)
        );
    }
}
