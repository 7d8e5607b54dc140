//! The process-wide switches and their scoped guards.
//!
//! These tests change state every loop in the process sees, so they live in their own test
//! binary and take a lock to run one at a time.

use std::io;
use std::sync::Mutex;
use std::time::Duration;

use stamina::testing::{self, FakeClock, Testing};
use stamina::{RetryingCaller, is_active, is_testing, set_active, set_testing};

static SERIAL: Mutex<()> = Mutex::new(());

/// More calls than any loop here makes: a body called this often panics, so that a broken limit
/// fails its test instead of spinning forever.
const BOUND: u32 = 100;

/// A call that fails, counted in `calls`, and panics beyond [`BOUND`] calls.
fn failing(calls: &mut u32) -> io::Result<()> {
    *calls += 1;
    assert!(*calls <= BOUND, "the loop should have ended");
    Err(io::Error::other("x"))
}

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn calls_made() -> u32 {
    let mut calls = 0;
    let _ = RetryingCaller::new()
        .attempts(5)
        .clock(FakeClock::new())
        .call(|_: &io::Error| true, || failing(&mut calls));
    calls
}

#[test]
fn set_active_and_set_testing() {
    let _serial = serial();
    assert!(is_active());
    assert!(!is_testing());
    set_active(false);
    assert!(!is_active());
    assert_eq!(calls_made(), 1);
    set_active(true);
    assert_eq!(calls_made(), 5);

    set_testing(Testing::new().attempts(2));
    assert!(is_testing());
    assert_eq!(calls_made(), 2);
    set_testing(Testing::new().attempts(9).cap(true));
    assert_eq!(calls_made(), 5);
    // Deactivation wins over testing mode.
    set_active(false);
    assert_eq!(calls_made(), 1);
    set_active(true);
    set_testing(None);
    assert!(!is_testing());
    assert_eq!(calls_made(), 5);
}

#[test]
fn scoped_guards_nest_and_restore() {
    let _serial = serial();
    {
        let _a = testing::scoped_testing(Testing::new().attempts(3));
        assert_eq!(calls_made(), 3);
        {
            let _b = testing::scoped_testing(Testing::new().attempts(4));
            let _c = testing::scoped_active(false);
            assert_eq!(calls_made(), 1);
        }
        assert!(is_active());
        assert_eq!(testing::get_testing(), Some(Testing::new().attempts(3)));
    }
    assert!(!is_testing());
    assert_eq!(calls_made(), 5);
}

#[test]
fn scoped_guards_restore_on_panic() {
    let _serial = serial();
    let result = std::panic::catch_unwind(|| {
        let _t = testing::scoped_testing(Testing::new());
        let _a = testing::scoped_active(false);
        panic!("inside the scope");
    });
    assert!(result.is_err());
    assert!(is_active());
    assert!(!is_testing());
}

#[test]
fn thread_overrides_win_over_the_process_switch_on_their_thread_only() {
    let _serial = serial();
    let _process = testing::scoped_testing(Testing::new().attempts(2));
    let _thread = testing::thread_testing(None);
    assert_eq!(calls_made(), 5);
    let other = std::thread::spawn(calls_made).join().unwrap();
    assert_eq!(other, 2);
    let _off = testing::thread_active(false);
    assert_eq!(calls_made(), 1);
    assert_eq!(std::thread::spawn(calls_made).join().unwrap(), 2);
}

#[test]
fn waits_are_zero_and_the_timeout_ignored_in_process_wide_testing_mode() {
    let _serial = serial();
    let _t = testing::scoped_testing(Testing::new().attempts(3));
    let clock = FakeClock::new();
    let mut calls = 0;
    let _ = RetryingCaller::new()
        .timeout(Duration::ZERO)
        .clock(clock.clone())
        .call(|_: &io::Error| true, || failing(&mut calls));
    assert_eq!(calls, 3);
    assert_eq!(clock.sleeps(), [Duration::ZERO; 2]);
}

#[test]
fn process_wide_nested_suppression() {
    let _serial = serial();
    let _t = testing::scoped_testing(Testing::new().attempts(3));
    let caller = RetryingCaller::new();
    let nested = || {
        let mut leaf = 0;
        let _ = caller.call(
            |_: &io::Error| true,
            || caller.call(|_: &io::Error| true, || failing(&mut leaf)),
        );
        leaf
    };
    assert_eq!(nested(), 9);
    stamina::set_suppress_nested(true);
    assert!(stamina::is_suppressing_nested());
    assert_eq!(nested(), 3);
    // A loop's own choice wins over the process-wide one.
    let mut leaf = 0;
    let _ = caller.call(
        |_: &io::Error| true,
        || {
            caller
                .clone()
                .suppress_nested(false)
                .call(|_: &io::Error| true, || failing(&mut leaf))
        },
    );
    assert_eq!(leaf, 9);
    stamina::set_suppress_nested(false);
    assert_eq!(nested(), 9);
}
