//! The one fuzz driver every `tests/fuzz_*.rs` target uses: proptest's
//! runner fed arbitrary (or arbitrary-ish) inputs for a time budget instead
//! of a case count, because cargo-fuzz needs nightly, which this machine
//! cannot fetch.
//!
//! The budget is `MC_GITOPS_FUZZ_SECS` (default 3 s, the short run CI does);
//! `bash scripts/fuzz` runs every target for 600 s. Each run prints one line,
//! `fuzz <name>: <n> inputs in <s> s, 0 panics`, which the closing notes
//! quote. A panic inside the target fails the test with proptest's shrunk
//! input.
use std::time::{Duration, Instant};

use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, TestRng, TestRunner};

/// The time budget of one target, from `MC_GITOPS_FUZZ_SECS`.
pub(crate) fn budget() -> Duration {
    let secs = std::env::var("MC_GITOPS_FUZZ_SECS")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .unwrap_or(3.0);
    Duration::from_secs_f64(secs)
}

/// Feed `target` inputs drawn from `strategy` until the budget is spent.
/// The target must not panic for any input: returning `Err` (a refusal) is
/// the expected outcome for garbage. Returns how many inputs were tried.
pub(crate) fn run<S, F>(name: &str, strategy: S, mut target: F) -> u64
where
    S: Strategy,
    S::Value: std::fmt::Debug,
    F: FnMut(S::Value),
{
    let budget = budget();
    let started = Instant::now();
    // A fresh seed per run unless pinned, so long runs explore; the seed is
    // printed so a failure can be replayed with MC_GITOPS_FUZZ_SEED.
    let seed: u64 = std::env::var("MC_GITOPS_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1)
        });
    let mut seed_bytes = [0u8; 32];
    seed_bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let rng = TestRng::from_seed(proptest::test_runner::RngAlgorithm::ChaCha, &seed_bytes);
    let mut runner = TestRunner::new_with_rng(
        Config {
            failure_persistence: None,
            ..Config::default()
        },
        rng,
    );
    let mut tried = 0u64;
    while started.elapsed() < budget {
        let tree = strategy
            .new_tree(&mut runner)
            .unwrap_or_else(|e| panic!("fuzz {name}: strategy failed: {e}"));
        let value = tree.current();
        let shown = format!("{value:?}");
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| target(value)));
        if outcome.is_err() {
            let shown: String = shown.chars().take(2000).collect();
            panic!("fuzz {name}: panicked after {tried} inputs (seed {seed}) on input: {shown}");
        }
        tried += 1;
    }
    println!(
        "fuzz {name}: {tried} inputs in {:.1} s, 0 panics (seed {seed})",
        started.elapsed().as_secs_f64()
    );
    tried
}

/// Arbitrary bytes up to `max` long, biased towards a valid `seed` input:
/// half the inputs are the seed with bytes flipped, cut or spliced, so the
/// parser gets past its first checks; the other half are raw noise.
pub(crate) fn bytes_near(seed: Vec<u8>, max: usize) -> impl Strategy<Value = Vec<u8>> {
    use proptest::prelude::*;
    let noise = proptest::collection::vec(any::<u8>(), 0..max);
    let len = seed.len().max(1);
    let mutated = (
        proptest::collection::vec((0..len, any::<u8>()), 0..8),
        0..=len,
        proptest::collection::vec(any::<u8>(), 0..16),
    )
        .prop_map(move |(flips, cut, splice)| {
            let mut v = seed.clone();
            for (at, b) in flips {
                if at < v.len() {
                    v[at] = b;
                }
            }
            let cut = cut.min(v.len());
            v.truncate(cut);
            v.extend(splice);
            v
        });
    prop_oneof![noise, mutated]
}
