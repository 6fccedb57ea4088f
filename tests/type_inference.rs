//! DESIGN.md §4: adding impasse never breaks a user's type inference. Every trait impl of
//! every crate in impasse's dependency graph reaches the user's code; a JSON crate with a
//! value type (serde_json's `impl PartialEq<Value> for u64`) makes `v.iter().sum()` below
//! ambiguous, and this file stops compiling. If it does not build, the library crate has
//! gained such a dependency: move it to the analyzer crate instead.

use impasse::{Mutex, RwLock};

/// The user's line, exactly as DESIGN.md quotes it, with impasse linked and used.
#[test]
fn sum_still_infers_its_type_with_impasse_linked() {
    let v = vec![1u64, 2, 3];
    let total: u64 = 6;
    assert_eq!(total, v.iter().sum());

    // Use impasse, so that it (and everything below it) is really linked into this test.
    let counted = Mutex::named("counted", Vec::new());
    counted.lock().extend(v.iter().copied());
    assert_eq!(total, counted.lock().iter().sum());
    let shared = RwLock::new(v);
    assert_eq!(total, shared.read().iter().sum());
}

/// The same kind of inference through other std traits that a JSON value type tends to
/// implement (`PartialEq` against integers, strings and bools; `From` into integers).
#[test]
fn comparisons_with_literals_still_infer() {
    let lock = Mutex::new((7u32, String::from("seven"), true));
    let guard = lock.lock();
    let product = [1u32, 7].iter().product();
    assert_eq!(guard.0, product);
    assert_eq!(guard.1, "seven");
    assert!(guard.2);
    let parsed = "7".parse().expect("a number");
    assert_eq!(guard.0, parsed);
    let widened = u64::from(guard.0).into();
    assert_eq!(7u128, widened);
}
