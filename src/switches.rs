//! The switches that turn retries off or into testing mode, process-wide, per thread or per
//! scope.
//!
//! Two process-wide switches mirror Python stamina's:
//!
//! - [`set_active(false)`](set_active) makes every loop try exactly once and return any error
//!   as is, with no hooks. Deactivation wins over testing mode.
//! - [`set_testing(Testing::new())`](set_testing) turns on [testing mode](#testing-mode): no
//!   waits, the testing number of attempts, no deadline and no budget, and every other decision
//!   as in production.
//!
//! Each has a scoped form that restores the previous state when dropped (nestable, and restored
//! during a panic's unwinding too), a thread-scoped form for `cargo test`, whose tests run on
//! parallel threads: a thread override applies to loops running on the thread that set it, over
//! whatever the process-wide switch says, and a form scoped to a future
//! ([`with_testing`], [`with_active`]), which follows a task to whatever thread polls it: the one
//! for async tests on a multi-thread runtime. Every item here is also reachable through
//! [`stamina::testing`](crate::testing), next to the fake clock and sleeper.
//!
//! ```
//! use stamina::switches::{self, Testing};
//!
//! #[derive(Debug)]
//! struct Flaky;
//!
//! let _guard = switches::thread_testing(Testing::new().attempts(3));
//! let mut calls = 0;
//! let result = stamina::RetryingCaller::new() // 10 attempts, 45 s timeout by default
//!     .call(|_: &Flaky| true, || {
//!         calls += 1;
//!         Err::<(), _>(Flaky)
//!     });
//! assert!(result.is_err());
//! assert_eq!(calls, 3); // forced to 3, and no wait took any time
//! ```
//!
//! # Testing mode
//!
//! Testing mode changes four things, and nothing else:
//!
//! - every wait is zero, the waits the `on` predicate asks for (a server's `Retry-After`)
//!   included;
//! - the attempts are forced to the testing value, or capped by it with [`Testing::cap`];
//! - the total timeout (the loop's deadline) is ignored: [`Attempt::remaining`](crate::Attempt::remaining)
//!   is `None`;
//! - shared [budgets](crate::RetryBudget) are neither consulted nor charged, so that tests do not
//!   drain a budget other tests share.
//!
//! Every other decision is the production one: an error the `on` predicate does not retry, a
//! server wait beyond [`retry_after_max`](crate::RetryPolicy::retry_after_max) and nested-retry
//! [suppression](crate::nesting) still end the loop, and an attempt timeout still cuts an
//! attempt, so a test sees what production would do, only faster. Hooks still run, with a zero
//! wait.

use std::cell::RefCell;
use std::fmt;
use std::marker::PhantomData;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

mod task;

pub use task::{WithSwitch, with_active, with_testing};

/// The settings of testing mode: how many attempts, whether that is a cap, and whether hedged
/// calls keep their hedges.
///
/// # Default
///
/// One attempt, not a cap (as in Python stamina), no hedges.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[must_use = "testing settings do nothing until given to `set_testing` or a scoped override"]
pub struct Testing {
    attempts: NonZeroU32,
    cap: bool,
    hedges: bool,
}

impl Default for Testing {
    fn default() -> Self {
        Self::new()
    }
}

impl Testing {
    /// One attempt, not a cap.
    pub const fn new() -> Self {
        Self {
            attempts: NonZeroU32::MIN,
            cap: false,
            hedges: false,
        }
    }

    /// The number of attempts every loop makes in testing mode (`0` behaves as `1`).
    pub const fn attempts(mut self, attempts: u32) -> Self {
        self.attempts = match NonZeroU32::new(attempts) {
            Some(n) => n,
            None => NonZeroU32::MIN,
        };
        self
    }

    /// With `true`, the testing attempts are an upper bound: a loop configured for fewer
    /// attempts keeps its own number.
    pub const fn cap(mut self, cap: bool) -> Self {
        self.cap = cap;
        self
    }

    /// With `true`, hedged calls keep their hedges in testing mode, sent after their delays on
    /// the loop's sleeper: a test of hedging runs on tokio's paused clock (or a sleeper of its
    /// own). Without, the attempts of a hedged call run one after another, as retries with no
    /// wait, so that a test's outcome does not depend on timing.
    pub const fn hedges(mut self, hedges: bool) -> Self {
        self.hedges = hedges;
        self
    }

    /// Whether hedged calls keep their hedges in testing mode.
    pub const fn get_hedges(&self) -> bool {
        self.hedges
    }

    /// The testing attempts.
    pub const fn get_attempts(&self) -> u32 {
        self.attempts.get()
    }

    /// Whether the testing attempts are a cap.
    pub const fn get_cap(&self) -> bool {
        self.cap
    }

    /// The attempts limit of a loop configured with `configured`.
    pub(crate) fn limit(&self, configured: Option<NonZeroU32>) -> NonZeroU32 {
        match configured {
            Some(configured) if self.cap => configured.min(self.attempts),
            _ => self.attempts,
        }
    }
}

/// The switches as seen by a loop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    Normal,
    Testing(Testing),
    Inactive,
}

/// One switch with a value: what a scoped guard restores and what a thread override sets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Switch {
    Active(bool),
    Testing(Option<Testing>),
}

static ACTIVE: AtomicBool = AtomicBool::new(true);
/// Process-wide testing mode: 0 when off, else the attempts shifted left by two over the hedges
/// and the cap bits.
static TESTING: AtomicU64 = AtomicU64::new(0);

/// How many thread overrides are alive in the process: while none is, no loop reads its
/// thread's list (a thread-local access per loop is a fifth of a retry's cost).
static OVERRIDES_ALIVE: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// This thread's live overrides, oldest first, each with its guard's id.
    static OVERRIDES: RefCell<Vec<(u64, Switch)>> = const { RefCell::new(Vec::new()) };
}

fn encode(testing: Option<Testing>) -> u64 {
    testing.map_or(0, |t| {
        u64::from(t.attempts.get()) << 2 | u64::from(t.hedges) << 1 | u64::from(t.cap)
    })
}

fn decode(bits: u64) -> Option<Testing> {
    let attempts = NonZeroU32::new((bits >> 2) as u32)?;
    Some(Testing {
        attempts,
        cap: bits & 1 == 1,
        hedges: bits & 2 == 2,
    })
}

/// Sets a process-wide switch, returning its previous value.
fn swap(switch: Switch) -> Switch {
    match switch {
        Switch::Active(active) => Switch::Active(ACTIVE.swap(active, Ordering::AcqRel)),
        Switch::Testing(testing) => {
            Switch::Testing(decode(TESTING.swap(encode(testing), Ordering::AcqRel)))
        }
    }
}

/// The switches in force on this thread: the process-wide ones, then this thread's overrides
/// from the oldest, so that the newest of each switch wins.
#[inline]
fn effective() -> (bool, Option<Testing>) {
    let active = ACTIVE.load(Ordering::Acquire);
    let testing = decode(TESTING.load(Ordering::Acquire));
    if OVERRIDES_ALIVE.load(Ordering::Acquire) == 0 {
        return (active, testing);
    }
    overridden(active, testing)
}

/// `effective` where some thread has overrides.
#[inline(never)]
fn overridden(mut active: bool, mut testing: Option<Testing>) -> (bool, Option<Testing>) {
    let _ = OVERRIDES.try_with(|overrides| {
        for &(_, switch) in overrides.borrow().iter() {
            match switch {
                Switch::Active(a) => active = a,
                Switch::Testing(t) => testing = t,
            }
        }
    });
    (active, testing)
}

/// The switches in force for a loop on this thread.
#[inline]
pub(crate) fn mode() -> Mode {
    match effective() {
        (false, _) => Mode::Inactive,
        (true, Some(testing)) => Mode::Testing(testing),
        (true, None) => Mode::Normal,
    }
}

/// Turns retrying on or off for the whole process.
///
/// When off, every loop makes exactly one attempt and returns its error as is, without calling
/// the `on` predicate or any hook. For a switch that only affects the current thread (parallel
/// tests), see [`thread_active`].
///
/// ```
/// stamina::set_active(false);
/// assert!(!stamina::is_active());
/// stamina::set_active(true);
/// ```
pub fn set_active(active: bool) {
    swap(Switch::Active(active));
}

/// Whether retrying is on for loops running on this thread (thread override first, then the
/// process-wide switch).
pub fn is_active() -> bool {
    effective().0
}

/// Turns testing mode on (`Some(settings)` or just `settings`) or off (`None`) for the whole
/// process.
///
/// What testing mode changes, and what it keeps, is stated in the [module docs](crate::switches#testing-mode).
/// For the thread-only form, see [`thread_testing`].
///
/// ```
/// use stamina::testing::Testing;
///
/// stamina::set_testing(Testing::new().attempts(2).cap(true));
/// assert_eq!(stamina::testing::get_testing(), Some(Testing::new().attempts(2).cap(true)));
/// stamina::set_testing(None);
/// assert!(!stamina::is_testing());
/// ```
pub fn set_testing(testing: impl Into<Option<Testing>>) {
    swap(Switch::Testing(testing.into()));
}

/// Whether testing mode is on for loops running on this thread.
pub fn is_testing() -> bool {
    effective().1.is_some()
}

/// The testing settings in force on this thread, `None` when testing mode is off.
pub fn get_testing() -> Option<Testing> {
    effective().1
}

/// Restores one process-wide switch to its previous value when dropped.
///
/// Returned by [`scoped_active`] and [`scoped_testing`]. Guards nest: dropping them in reverse
/// order of creation (as scopes do) restores each earlier state in turn.
#[derive(Debug)]
#[must_use = "the previous state is restored when the guard is dropped, so it must be held"]
pub struct SwitchGuard {
    previous: Switch,
}

impl Drop for SwitchGuard {
    fn drop(&mut self) {
        swap(self.previous);
    }
}

/// Sets the process-wide active switch until the returned guard is dropped.
///
/// ```
/// {
///     let _off = stamina::testing::scoped_active(false);
///     assert!(!stamina::is_active());
/// }
/// assert!(stamina::is_active());
/// ```
pub fn scoped_active(active: bool) -> SwitchGuard {
    SwitchGuard {
        previous: swap(Switch::Active(active)),
    }
}

/// Sets process-wide testing mode until the returned guard is dropped.
///
/// ```
/// use stamina::testing::{scoped_testing, Testing};
///
/// {
///     let _outer = scoped_testing(Testing::new().attempts(3));
///     {
///         let _inner = scoped_testing(None);
///         assert!(!stamina::is_testing());
///     }
///     assert_eq!(stamina::testing::get_testing().unwrap().get_attempts(), 3);
/// }
/// assert!(!stamina::is_testing());
/// ```
pub fn scoped_testing(testing: impl Into<Option<Testing>>) -> SwitchGuard {
    SwitchGuard {
        previous: swap(Switch::Testing(testing.into())),
    }
}

/// Ends one thread override when dropped.
///
/// Returned by [`thread_active`] and [`thread_testing`]. Each guard removes exactly its own
/// override, in any drop order: while several overrides of the same switch are alive, the newest
/// live one is in force, and when the last is dropped the thread follows the process-wide switch
/// again. Overrides of different switches are independent of each other. A guard belongs to the
/// thread that made it, so it is neither `Send` nor `Sync`.
///
/// ```
/// use stamina::testing::{thread_active, thread_testing, Testing};
///
/// let testing = thread_testing(Testing::new().attempts(2));
/// let off = thread_active(false);
/// drop(testing); // ends the testing override only
/// assert!(!stamina::is_active());
/// assert!(!stamina::is_testing());
/// drop(off);
/// assert!(stamina::is_active());
/// ```
#[must_use = "the override ends when the guard is dropped, so it must be held"]
pub struct ThreadGuard {
    id: u64,
    switch: Switch,
    _not_send: PhantomData<*const ()>,
}

impl ThreadGuard {
    /// Makes `switch` this thread's newest override.
    fn new(switch: Switch) -> Self {
        static NEXT_ID: AtomicU64 = AtomicU64::new(0);
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        OVERRIDES.with_borrow_mut(|overrides| overrides.push((id, switch)));
        OVERRIDES_ALIVE.fetch_add(1, Ordering::AcqRel);
        Self {
            id,
            switch,
            _not_send: PhantomData,
        }
    }
}

impl fmt::Debug for ThreadGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ThreadGuard")
            .field("switch", &self.switch)
            .field("id", &self.id)
            .finish()
    }
}

impl Drop for ThreadGuard {
    fn drop(&mut self) {
        // `try_with`: a guard kept in another thread-local may outlive this thread's overrides,
        // and a drop must never panic (it may run during unwinding).
        let _ = OVERRIDES.try_with(|overrides| {
            overrides.borrow_mut().retain(|&(id, _)| id != self.id);
        });
        OVERRIDES_ALIVE.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Overrides the active switch for loops running on the current thread, until the guard is
/// dropped. Other threads keep the process-wide value.
///
/// Loops moved to other threads (a multi-threaded async runtime's workers, spawned threads) do
/// not see the override; in async tests, scope the override to the test's future with
/// [`with_active`] instead.
pub fn thread_active(active: bool) -> ThreadGuard {
    ThreadGuard::new(Switch::Active(active))
}

/// Overrides testing mode for loops running on the current thread, until the guard is dropped:
/// the form to use under `cargo test`, whose tests run in parallel threads. For async tests on a
/// multi-thread runtime, whose tasks move between threads, use [`with_testing`].
///
/// ```
/// use stamina::testing::{thread_testing, Testing};
///
/// let _guard = thread_testing(Testing::new());
/// assert!(stamina::is_testing());
/// std::thread::spawn(|| assert!(!stamina::is_testing())).join().unwrap();
/// ```
pub fn thread_testing(testing: impl Into<Option<Testing>>) -> ThreadGuard {
    ThreadGuard::new(Switch::Testing(testing.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_testing_switch_round_trips() {
        for t in [
            None,
            Some(Testing::new()),
            Some(Testing::new().attempts(u32::MAX).cap(true)),
            Some(Testing::new().attempts(7).hedges(true)),
            Some(Testing::new().attempts(0)),
        ] {
            assert_eq!(decode(encode(t)), t);
        }
        assert_eq!(Testing::new().attempts(0).get_attempts(), 1);
    }

    #[test]
    fn testing_limits() {
        let forced = Testing::new().attempts(3);
        let capped = forced.cap(true);
        let n = |v| NonZeroU32::new(v);
        assert_eq!(forced.limit(n(10)).get(), 3);
        assert_eq!(forced.limit(n(1)).get(), 3);
        assert_eq!(forced.limit(None).get(), 3);
        assert_eq!(capped.limit(n(10)).get(), 3);
        assert_eq!(capped.limit(n(2)).get(), 2);
        assert_eq!(capped.limit(None).get(), 3);
        assert!(capped.get_cap());
        assert!(!forced.get_cap());
    }

    #[test]
    fn thread_overrides_nest_and_restore() {
        assert_eq!(mode(), Mode::Normal);
        {
            let _a = thread_testing(Testing::new().attempts(2));
            assert_eq!(mode(), Mode::Testing(Testing::new().attempts(2)));
            {
                let _b = thread_active(false);
                assert_eq!(mode(), Mode::Inactive);
                let _c = thread_testing(None);
                assert_eq!(mode(), Mode::Inactive);
            }
            assert_eq!(mode(), Mode::Testing(Testing::new().attempts(2)));
        }
        assert_eq!(mode(), Mode::Normal);
    }
}
