//! The fuzz driver's own tests (tests/common/fuzz.rs): it tries inputs until
//! its budget is spent, and a target that panics fails the run with the
//! input and the seed to replay it.
mod common;

use common::fuzz;

#[test]
fn the_driver_tries_inputs_until_the_budget_is_spent() {
    let mut seen = 0u64;
    let tried = fuzz::run("driver-self-test", fuzz::bytes_near(b"hello".to_vec(), 64), |input| {
        assert!(input.len() <= 64 + 16);
        seen += 1;
    });
    assert!(tried > 100, "only {tried} inputs in the budget");
    assert_eq!(tried, seen);
}

#[test]
fn a_panicking_target_fails_with_its_input_and_seed() {
    let outcome = std::panic::catch_unwind(|| {
        fuzz::run("driver-panics", fuzz::bytes_near(vec![1, 2, 3], 8), |input| {
            if input.len() > 2 {
                panic!("target broke");
            }
        })
    });
    let message = *outcome
        .expect_err("a panicking target must fail the run")
        .downcast::<String>()
        .unwrap();
    assert!(message.contains("fuzz driver-panics: panicked"), "{message}");
    assert!(message.contains("seed"), "{message}");
}
