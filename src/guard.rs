//! What the sync iterator, the async stream and their attempt guards share: the loop's state,
//! how a front end advances it, and how a guard records an outcome.
//!
//! Both front ends drive the [`Machine`] through this module only; they differ in how they wait
//! (blocking on a [`Clock`](crate::Clock) or awaiting a [`Sleeper`](crate::Sleeper)), which is
//! the `T` ("time") parameter here.

use std::fmt;
use std::mem::ManuallyDrop;
use std::num::NonZeroU32;
use std::ops::Deref;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use triomphe::{Arc, UniqueArc};

use crate::instrument::{self, Guards, LoopHooks};
use crate::machine::{self, Machine, Step};
use crate::name::Name;
use crate::{RetryBudget, RetryOn, RetryPolicy};

/// The settings of a loop beyond its [`RetryPolicy`], shared by contexts and callers: hooks, a
/// budget, the nesting choice.
#[derive(Clone, Default)]
pub(crate) struct Extras {
    pub(crate) hooks: LoopHooks,
    pub(crate) budget: Option<RetryBudget>,
    pub(crate) suppress_nested: Option<bool>,
}

impl Extras {
    /// No hooks of the loop's own, no budget, the process-wide nesting choice.
    #[inline]
    pub(crate) const fn new() -> Self {
        Self {
            hooks: LoopHooks::new(),
            budget: None,
            suppress_nested: None,
        }
    }

    /// A machine for `policy` with these settings.
    #[inline]
    pub(crate) fn machine(&self, policy: &RetryPolicy) -> Machine {
        let mut machine = Machine::new(policy);
        machine.set_budget(self.budget.clone());
        machine.set_suppress_nested(self.suppress_nested);
        machine
    }

    /// A caller's loop decided `retry` after `error`: calls the hooks, whose guards the loop keeps
    /// over the wait. Unnamed callers are named after the called function's type `F`.
    #[inline]
    pub(crate) fn retry_scheduled<F, E: fmt::Debug, On: RetryOn<E>>(
        &self,
        name: Option<&Name>,
        retry: &machine::Retry,
        error: &E,
        on: &On,
    ) -> Guards {
        // A plain `Name` rather than `Name::for_call`'s `Cow`, whose drop the retry would pay.
        let unnamed;
        let name = match name {
            Some(name) => name,
            None => {
                unnamed = Name::Static(crate::name::path_of::<F>());
                &unnamed
            }
        };
        let name = name.as_str();
        instrument::retry_scheduled(name, retry, error, |e| on.error_view(e), &self.hooks)
    }

    /// A caller's loop ends with `error` for `give_up`: tells the hooks' give-up handlers.
    pub(crate) fn gave_up<F, E: fmt::Debug, On: RetryOn<E>>(
        &self,
        name: Option<&Name>,
        machine: &Machine,
        give_up: machine::GiveUp,
        error: &E,
        on: &On,
    ) {
        let name = Name::for_call::<F>(name);
        let (attempts, waited) = (machine.num(), machine.waited());
        let view = |e| on.error_view(e);
        instrument::gave_up(
            name.as_str(),
            give_up,
            attempts,
            waited,
            error,
            view,
            &self.hooks,
        );
    }

    /// Adds the settings that are set to a `Debug` struct.
    pub(crate) fn debug_fields(&self, d: &mut fmt::DebugStruct<'_, '_>) {
        if let Some(budget) = &self.budget {
            d.field("budget", budget);
        }
        if let Some(suppress) = self.suppress_nested {
            d.field("suppress_nested", &suppress);
        }
        self.hooks.debug_fields(d);
    }
}

/// Generates the setters of [`Extras`] for a type with an `extras` field, or with the field at
/// the path given (`caller.extras` for the bound callers).
macro_rules! extras_setters {
    () => {
        $crate::guard::extras_setters!(extras);
    };
    ($($field:ident).+) => {
        /// Makes every retry pay from a shared [`RetryBudget`](crate::RetryBudget) (see its
        /// docs): when it cannot, the loop ends with the last error. Clones share the budget.
        pub fn budget(mut self, budget: &$crate::RetryBudget) -> Self {
            self.$($field).+.budget = Some(budget.clone());
            self
        }

        /// With `true`, a loop makes a single attempt when it runs inside an attempt of another
        /// loop; with `false`, it retries even then. Without a choice, the process-wide
        /// [`set_suppress_nested`](crate::set_suppress_nested) decides (see
        /// [`nesting`](crate::nesting)).
        pub fn suppress_nested(mut self, suppress: bool) -> Self {
            self.$($field).+.suppress_nested = Some(suppress);
            self
        }

        /// Adds a hook of this loop's own, called for every scheduled retry after the
        /// process-wide hooks (see the [`instrument`](crate::instrument) module). It may return a
        /// [`RetryGuard`](crate::RetryGuard), which lives over the wait. The hook is stored
        /// once, here: loops allocate nothing for it.
        pub fn on_retry<F, R>(self, hook: F) -> Self
        where
            F: Fn(&$crate::RetryDetails<'_>) -> R + Send + Sync + 'static,
            R: $crate::instrument::IntoRetryGuard,
        {
            self.on_retry_hook($crate::OnRetryHook::new(hook))
        }

        /// Adds a prepared hook of this loop's own, such as a
        /// [lazy](crate::OnRetryHook::lazy) one or one with a give-up handler (see
        /// [`on_retry`](Self::on_retry)).
        pub fn on_retry_hook(mut self, hook: $crate::OnRetryHook) -> Self {
            self.$($field).+.hooks.push(hook);
            self
        }

        /// Sets what the built-in hooks show of this loop's errors, over the process-wide
        /// [`set_show_error`](crate::instrument::set_show_error) (see
        /// [`ShowError`](crate::instrument::ShowError): by default the error's type only, as
        /// an error's own output may carry secrets).
        pub fn show_error(mut self, show: $crate::instrument::ShowError) -> Self {
            self.$($field).+.hooks.show_error = Some(show);
            self
        }

        /// Sets the level of the built-in hooks' records and events for this loop, over the
        /// process-wide [`set_level`](crate::instrument::set_level) (warn by default).
        pub fn log_level(mut self, level: $crate::instrument::Level) -> Self {
            self.$($field).+.hooks.level = Some(level);
            self
        }
    };
}

pub(crate) use extras_setters;

/// The configuration and the loop's state, shared by the iterator or stream and the guards it
/// hands out.
///
/// The loop's phase is an atomic, changed by compare-and-swap, so that the paths every loop takes
/// take no lock: starting the loop (the front end is the state's only holder then), a guard
/// recording a success, dropping a guard that recorded its outcome, starting the attempt after a
/// wait when the hooks keep nothing over it, and asking an ended loop for its next attempt. The
/// machine and the hooks' guards sit behind a lock that is only ever taken by one side at a time
/// (the iterator or stream, or the guard it handed out): when an attempt fails, and after a wait
/// over which the hooks kept guards.
///
/// What it owns is held in [`ManuallyDrop`], so that the state has nothing to drop for the
/// compiler: made on the stack, a value with something to drop must stay there until the
/// allocation that will hold it has succeeded (to be dropped if it fails), and is copied over
/// after, a copy that stalls on the stores that just made it. Without, it is written straight
/// into the allocation. The last holder drops what it owns ([`release`]).
pub(crate) struct Shared<On, T> {
    pub(crate) policy: RetryPolicy,
    pub(crate) on: ManuallyDrop<On>,
    /// The clock or sleeper the loop takes its time from.
    pub(crate) time: ManuallyDrop<T>,
    pub(crate) name: ManuallyDrop<Name>,
    pub(crate) hooks: ManuallyDrop<LoopHooks>,
    /// The [`Phase`] and the number of the attempt it is about, packed (see [`Phase::pack`]).
    phase: AtomicU64,
    /// The wait of the phase `Waiting` in nanoseconds, written before the phase, so that the
    /// front end reads it without the lock; `u64::MAX` when it does not fit (then the state
    /// has it).
    wait_nanos: AtomicU64,
    /// Whether the loop pays for its retries from a budget, which a success refills (under the
    /// lock: the machine knows what was paid).
    has_budget: bool,
    /// The loop's deadline, set when the front end starts the loop as the state's only holder
    /// (`started_alone`), which it always is.
    deadline: Option<Instant>,
    started_alone: bool,
    /// Whether the hooks keep guards over the current wait, which the next attempt ends (under
    /// the lock); without, the attempt after a wait starts without the lock.
    hook_guards: AtomicBool,
    state: ManuallyDrop<Mutex<State>>,
}

// A field outside `ManuallyDrop` that owns something to drop would make the state copied into
// its allocation again; one inside must be dropped by `drop_owned`.
const _: () = assert!(!std::mem::needs_drop::<Shared<fn(&()) -> bool, ()>>());

/// Lets go of one hold on a loop's state: the last holder drops what the state owns, in the
/// order of its fields, then frees it.
#[inline]
fn release<On, T>(shared: Arc<Shared<On, T>>) {
    // Exactly one of the holders that let go, whatever their threads, finds itself the last.
    if let Some(unique) = Arc::into_unique(shared) {
        drop_owned(unique);
    }
}

/// Drops what the state owns (see [`release`]), in the order of its fields, and frees it.
///
/// Everything is taken out before anything is dropped, so that a drop that panics (a hook's
/// guard's, say) leaves the rest to be dropped as the panic unwinds, and nothing leaks.
#[inline(never)]
fn drop_owned<On, T>(mut unique: UniqueArc<Shared<On, T>>) {
    use std::mem::needs_drop;
    if needs_drop::<On>() || needs_drop::<T>() || needs_drop::<Mutex<()>>() {
        // The predicate and the clock or sleeper (and a lock that owns something, as it does
        // on some platforms) can only be moved out with the whole state.
        let Shared {
            on,
            time,
            name,
            hooks,
            state,
            ..
        } = UniqueArc::into_inner(unique);
        let on = ManuallyDrop::into_inner(on);
        let time = ManuallyDrop::into_inner(time);
        let name = ManuallyDrop::into_inner(name);
        let hooks = ManuallyDrop::into_inner(hooks);
        let state = ManuallyDrop::into_inner(state);
        drop(on);
        drop(time);
        drop(name);
        drop(hooks);
        drop(state);
        return;
    }
    // What owns something is swapped for a value that owns nothing, and dropped; copied out
    // whole, the state would be read back right after the loop's last writes to it, which
    // stalls. Most loops own nothing here (a `'static` name, no hooks of their own, no budget,
    // no hooks' guards left): then nothing is written.
    let shared = &mut *unique;
    let policy = shared.policy;
    let name = (!shared.name.owns_nothing())
        .then(|| std::mem::replace(&mut *shared.name, Name::Static("")));
    // A loop's hook list only grows: empty, it never allocated.
    let hooks = (!shared.hooks.list.is_empty()).then(|| std::mem::take(&mut *shared.hooks));
    let state = shared
        .state
        .get_mut()
        .unwrap_or_else(PoisonError::into_inner);
    // Now owning nothing, the state is freed without a second change of its count.
    if state.owns_nothing() {
        let _ = UniqueArc::into_inner(unique);
        drop(name);
        drop(hooks);
    } else {
        let state = std::mem::replace(state, State::empty(&policy));
        let _ = UniqueArc::into_inner(unique);
        drop(name);
        drop(hooks);
        drop(state);
    }
}

/// A field that owns something to drop must be checked in [`owns_nothing`](Self::owns_nothing).
struct State {
    machine: Machine,
    /// The wait that follows the last failed attempt, while the phase is `Waiting`.
    wait: Duration,
    /// What the hooks keep over the current wait; dropped right before the next attempt, or
    /// with the loop.
    guards: Guards,
}

impl State {
    /// Whether the state owns nothing to drop: every field that can own something is checked
    /// here (see [`drop_owned`]).
    #[inline]
    fn owns_nothing(&self) -> bool {
        // Guards are never taken out of their list: empty, it never allocated.
        self.guards.is_empty() && self.machine.owns_nothing()
    }

    /// A state that owns nothing.
    fn empty(policy: &RetryPolicy) -> Self {
        Self {
            machine: Machine::new(policy),
            wait: Duration::ZERO,
            guards: Guards::default(),
        }
    }
}

/// Where a loop is. Transitions of [`Shared::phase`] (a compare-and-swap where a guard and the
/// front end may both act, a store where only one side can):
///
/// - `NotStarted` to `Running(1)`: the front end starts the loop, as the state's only holder;
/// - `Running(n)` to `Done`: attempt `n` succeeded (its guard, without the lock), or was dropped
///   without an outcome (its guard, without the lock), or is still running when the front end
///   asks for the next attempt (the front end, under the lock, so that it waits for a guard that
///   is recording a failure);
/// - `Running(n)` to `Waiting(n)` or `Done`: attempt `n` failed (its guard, under the lock; the
///   machine then already counts attempt `n + 1`);
/// - `Waiting(n)` to `Running(n + 1)`: the wait is over (the front end, which alone moves the
///   loop out of `Waiting`; under the lock only to end the hooks' guards).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// No attempt yet.
    NotStarted,
    /// Attempt `n` was handed out and has not recorded an outcome.
    Running(u32),
    /// Attempt `n` failed and the loop waits before the next.
    Waiting(u32),
    /// The loop is over.
    Done,
}

impl Phase {
    /// The phase as one word: the attempt number in the high half, a tag in the low one, so that
    /// a guard of an earlier attempt never matches a later `Running`.
    const fn pack(self) -> u64 {
        match self {
            Self::NotStarted => 0,
            Self::Running(n) => (n as u64) << 32 | 1,
            Self::Waiting(n) => (n as u64) << 32 | 2,
            Self::Done => 3,
        }
    }

    const fn unpack(word: u64) -> Self {
        let n = (word >> 32) as u32;
        match word & 3 {
            0 => Self::NotStarted,
            1 => Self::Running(n),
            2 => Self::Waiting(n),
            _ => Self::Done,
        }
    }
}

/// What the front end does next.
pub(crate) enum Advance<On, T> {
    /// Hand out this attempt.
    Attempt(Guard<On, T>),
    /// Wait this long, then call [`Handle::resume`].
    Wait(Duration),
    /// The loop is over.
    End,
}

impl<On, T> Shared<On, T> {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic in the user's `on` predicate or a hook poisons the lock; the state is still
        // consistent.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn phase(&self) -> Phase {
        Phase::unpack(self.phase.load(Ordering::Acquire))
    }

    /// The deadline the machine keeps, under the lock.
    #[cold]
    #[inline(never)]
    fn locked_deadline(&self) -> Option<Instant> {
        self.lock().machine.deadline()
    }

    /// Moves the phase from `from` to `to`; false if it was not `from`.
    fn transition(&self, from: Phase, to: Phase) -> bool {
        self.phase
            .compare_exchange(from.pack(), to.pack(), Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// Attempt `num`, still running, ended without an outcome: the loop is over, and unless a
    /// panic ended it (`success` false), that counts as a success, which refills the budget as
    /// a recorded success does.
    fn end_without_outcome(&self, num: u32, success: bool) {
        if success {
            self.end_with_success(num);
        } else {
            self.transition(Phase::Running(num), Phase::Done);
        }
    }

    /// Attempt `num` succeeded, if it is still running: the loop is over, and the budget, if
    /// any, is refilled once.
    #[inline]
    fn end_with_success(&self, num: u32) {
        if self.has_budget {
            // The guard and the front end may both end the attempt: the one that wins refills.
            if self.transition(Phase::Running(num), Phase::Done) {
                self.lock().machine.on_success();
            }
        } else if self.phase() == Phase::Running(num) {
            // Only this attempt's guard and the front end move the loop out of `Running(num)`,
            // and the front end only to `Done`: with nothing to refill, a store does what the
            // compare-and-swap would, without its cost.
            self.phase.store(Phase::Done.pack(), Ordering::Release);
        }
    }

    /// The loop's progress and configuration, for the `Debug` output of iterators and streams.
    pub(crate) fn debug_fields(&self, d: &mut fmt::DebugStruct<'_, '_>) {
        let state = self.lock();
        // While the loop waits, the machine already counts the next attempt.
        let attempt = match self.phase() {
            Phase::Waiting(num) => num,
            _ => state.machine.num(),
        };
        d.field("name", &*self.name).field("attempt", &attempt);
        match self.phase() {
            Phase::NotStarted => d.field("phase", &format_args!("NotStarted")),
            Phase::Running(_) => d.field("phase", &format_args!("Running")),
            Phase::Waiting(_) => d.field("phase", &format_args!("Waiting({:?})", state.wait)),
            Phase::Done => d.field("phase", &format_args!("Done")),
        };
        d.field("waited", &state.machine.waited());
        self.policy.debug_fields(d);
        if let Some(budget) = state.machine.budget() {
            d.field("budget", budget);
        }
    }
}

/// The front end's hold on the loop's shared state; each guard holds another.
///
/// A reference count without weak references (`triomphe`'s `Arc`): the front end starts the
/// loop as the state's only holder, which it checks with a load rather than the
/// compare-and-swap that a count with weak references needs, and the last holder frees the
/// state without a second decrement.
///
/// `None` only while it is dropped.
pub(crate) struct Handle<On, T>(Option<Arc<Shared<On, T>>>);

impl<On, T> Deref for Handle<On, T> {
    type Target = Shared<On, T>;

    #[inline]
    fn deref(&self) -> &Shared<On, T> {
        held(&self.0)
    }
}

impl<On, T> Drop for Handle<On, T> {
    fn drop(&mut self) {
        if let Some(shared) = self.0.take() {
            release(shared);
        }
    }
}

/// The state a handle or guard holds: it holds it until it is dropped.
#[inline(always)]
fn held<On, T>(shared: &Option<Arc<Shared<On, T>>>) -> &Shared<On, T> {
    match shared {
        Some(shared) => shared,
        None => released(),
    }
}

/// Out of line, so that reading the state inlines to a test.
#[cold]
#[inline(never)]
fn released() -> ! {
    unreachable!("a loop's state is held until its holder is dropped")
}

impl<On, T> Handle<On, T> {
    #[inline(always)]
    pub(crate) fn new(policy: RetryPolicy, on: On, time: T, name: Name, extras: Extras) -> Self {
        // The state has nothing to drop, so `Arc::new` writes it straight into the allocation
        // (see `Shared`); `new_cyclic` copied it, and added an atomic increment and a call.
        Self(Some(Arc::new(Shared {
            policy,
            on: ManuallyDrop::new(on),
            time: ManuallyDrop::new(time),
            name: ManuallyDrop::new(name),
            phase: AtomicU64::new(Phase::NotStarted.pack()),
            wait_nanos: AtomicU64::new(0),
            has_budget: extras.budget.is_some(),
            deadline: None,
            started_alone: false,
            hook_guards: AtomicBool::new(false),
            state: ManuallyDrop::new(Mutex::new(State {
                machine: extras.machine(&policy),
                wait: Duration::ZERO,
                guards: Guards::default(),
            })),
            hooks: ManuallyDrop::new(extras.hooks),
        })))
    }

    /// Moves the loop on after the previous attempt: starts it, asks for a wait, or ends it (an
    /// attempt still running when asked for the next one ended without an outcome, which counts
    /// as a success).
    #[inline]
    pub(crate) fn advance(&mut self, now: impl FnOnce(&T) -> Instant) -> Advance<On, T> {
        match self.phase() {
            Phase::Done => return Advance::End,
            // Only the front end moves the loop out of `Waiting`: no lock needed to read it.
            Phase::Waiting(_) => match self.wait_nanos.load(Ordering::Relaxed) {
                u64::MAX => {}
                nanos => return Advance::Wait(Duration::from_nanos(nanos)),
            },
            Phase::NotStarted => {
                // No guard exists yet: the front end holds the state alone, without the lock.
                if let Some(this) = self.0.as_mut().and_then(Arc::get_mut) {
                    let state = this.state.get_mut().unwrap_or_else(PoisonError::into_inner);
                    state.machine.start(&this.policy, || now(&this.time));
                    let (num, deadline) = (state.machine.num(), state.machine.deadline());
                    (this.deadline, this.started_alone) = (deadline, true);
                    *this.phase.get_mut() = Phase::Running(num).pack();
                    return Advance::Attempt(self.guard(num));
                }
            }
            Phase::Running(_) => {}
        }
        let mut state = self.lock();
        match self.phase() {
            Phase::NotStarted => state.machine.start(&self.policy, || now(&self.time)),
            Phase::Waiting(_) => return Advance::Wait(state.wait),
            Phase::Running(num) => {
                // Under the lock, so that a guard recording a failure is not overtaken.
                if self.transition(Phase::Running(num), Phase::Done) {
                    state.machine.on_success();
                }
                return Advance::End;
            }
            Phase::Done => return Advance::End,
        }
        Advance::Attempt(self.hand_out(&state))
    }

    /// Starts the attempt that follows a wait (after [`Advance::Wait`]).
    pub(crate) fn resume(&self) -> Guard<On, T> {
        if let (Phase::Waiting(num), true, false) = (
            self.phase(),
            self.started_alone,
            self.hook_guards.load(Ordering::Relaxed),
        ) {
            // Nothing to end, and the machine already counts the next attempt: the front end,
            // which alone moves the loop out of `Waiting`, hands it out without the lock.
            let num = num.saturating_add(1);
            self.phase
                .store(Phase::Running(num).pack(), Ordering::Release);
            return self.guard(num);
        }
        let mut state = self.lock();
        // The hooks' guards lived over the wait and end right before the next attempt.
        drop(std::mem::take(&mut state.guards));
        self.hook_guards.store(false, Ordering::Relaxed);
        self.hand_out(&state)
    }

    /// Hands out the machine's current attempt (under the lock).
    fn hand_out(&self, state: &State) -> Guard<On, T> {
        let num = state.machine.num();
        self.phase
            .store(Phase::Running(num).pack(), Ordering::Release);
        self.guard(num)
    }

    #[inline]
    fn guard(&self, num: u32) -> Guard<On, T> {
        // Attempts are numbered from 1.
        debug_assert_ne!(num, 0);
        Guard {
            num: NonZeroU32::new(num).unwrap_or(NonZeroU32::MIN),
            shared: self.0.clone(),
        }
    }
}

/// The part of an attempt guard that does not depend on the front end.
///
/// Two words, the shared state and the attempt's number, so that a front end hands out a guard
/// (an `Option` of it) in registers rather than through memory, where reading back a value
/// written field by field stalls. The deadline, which the loop sets once at its start, is read from the shared state;
/// whether the guard recorded its outcome is read from the phase, which recording moves out of
/// `Running(num)`.
pub(crate) struct Guard<On, T> {
    /// `None` only while the guard is dropped.
    shared: Option<Arc<Shared<On, T>>>,
    /// Not zero, so that an `Option` of a guard (of an attempt) is the guard's two words.
    num: NonZeroU32,
}

impl<On, T> Drop for Guard<On, T> {
    /// A guard dropped without an outcome while its attempt runs ends the loop as a success
    /// (see [`Shared::end_without_outcome`]); a guard dropped by a panic ends it without one.
    fn drop(&mut self) {
        let Some(shared) = self.shared.take() else {
            return;
        };
        let num = self.num.get();
        // A guard that recorded its outcome (or whose loop moved on) has nothing to end; a
        // panic in `on` leaves the attempt running, and this ends it.
        if shared.phase() == Phase::Running(num) {
            shared.end_without_outcome(num, !std::thread::panicking());
        }
        release(shared);
    }
}

impl<On, T> Guard<On, T> {
    #[inline(always)]
    fn shared(&self) -> &Shared<On, T> {
        held(&self.shared)
    }

    pub(crate) fn num(&self) -> u32 {
        self.num.get()
    }

    #[inline]
    pub(crate) fn deadline(&self) -> Option<Instant> {
        let shared = self.shared();
        // A loop that started under the lock (never: the front end starts it as the state's
        // only holder) keeps its deadline in the machine only.
        if shared.started_alone {
            shared.deadline
        } else {
            shared.locked_deadline()
        }
    }

    pub(crate) fn time(&self) -> &T {
        &self.shared().time
    }

    pub(crate) fn next_wait(&self) -> Duration {
        machine::next_wait(&self.shared().policy, self.num.get())
    }

    pub(crate) fn remaining(&self, now: impl FnOnce() -> Instant) -> Option<Duration> {
        machine::remaining(self.deadline(), now)
    }

    pub(crate) fn name(&self) -> &Name {
        &self.shared().name
    }

    /// Records the attempt's outcome (see `Attempt::run` for the contract); `timed_out` says
    /// that the attempt was cut by its per-attempt timeout.
    pub(crate) fn record<V, E>(
        &self,
        result: Result<V, E>,
        timed_out: bool,
        now: impl FnOnce() -> Instant,
    ) -> Result<Option<V>, E>
    where
        E: fmt::Debug,
        On: RetryOn<E>,
    {
        let (shared, num) = (self.shared(), self.num.get());
        let error = match result {
            Ok(value) => {
                // Attempt `num` is over: a stale guard (its loop moved on or ended) passes its
                // value through.
                shared.end_with_success(num);
                return Ok(Some(value));
            }
            Err(error) => error,
        };
        let mut state = shared.lock();
        if shared.phase() != Phase::Running(num) {
            return Err(error);
        }
        if timed_out {
            state.machine.set_timed_out();
        }
        // A panic in `on` leaves the attempt running (the guard's drop ends it).
        let step = state
            .machine
            .on_failure(&shared.policy, || shared.on.decide(&error), now);
        // Under the lock, the phase is still `Running(num)`: the front end ends a running attempt
        // only under the lock, and no other guard has this number.
        match step {
            Step::Retry(retry) => {
                // A hook that panics ends the loop: the loop waits only once every hook has run.
                shared.phase.store(Phase::Done.pack(), Ordering::Release);
                // Under the lock, so that the guards are in place before the front end (possibly
                // on another thread) can start the wait.
                let guards = instrument::retry_scheduled(
                    shared.name.as_str(),
                    &retry,
                    &error,
                    |e| shared.on.error_view(e),
                    &shared.hooks,
                );
                // The previous retry's guards ended when this attempt started.
                shared
                    .hook_guards
                    .store(!guards.is_empty(), Ordering::Relaxed);
                drop(std::mem::replace(&mut state.guards, guards));
                // The next attempt's number, so that the front end starts it without the lock.
                state.machine.next_attempt();
                state.wait = retry.wait;
                let nanos = u64::try_from(retry.wait.as_nanos()).unwrap_or(u64::MAX);
                shared.wait_nanos.store(nanos, Ordering::Relaxed);
                shared
                    .phase
                    .store(Phase::Waiting(num).pack(), Ordering::Release);
                Ok(None)
            }
            Step::GiveUp(give_up) => {
                shared.phase.store(Phase::Done.pack(), Ordering::Release);
                let (attempts, waited) = (state.machine.num(), state.machine.waited());
                drop(state);
                instrument::gave_up(
                    shared.name.as_str(),
                    give_up,
                    attempts,
                    waited,
                    &error,
                    |e| shared.on.error_view(e),
                    &shared.hooks,
                );
                Err(error)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Decision;

    type On = fn(&u32) -> Decision;

    fn shared(on: On) -> Handle<On, ()> {
        let policy = RetryPolicy::new().wait_jitter(Duration::ZERO).attempts(3);
        Handle::new(policy, on, (), Name::given("test"), Extras::default())
    }

    fn attempt(advance: Advance<On, ()>) -> Guard<On, ()> {
        match advance {
            Advance::Attempt(guard) => guard,
            Advance::Wait(_) | Advance::End => panic!("expected an attempt"),
        }
    }

    #[test]
    fn a_loop_advances_waits_resumes_and_ends() {
        let mut shared = shared(|_| Decision::Retry);
        let now = Instant::now();
        let first = attempt(shared.advance(|_| now));
        assert_eq!(first.num(), 1);
        assert_eq!(first.record(Err::<(), _>(1), false, || now), Ok(None));
        assert!(
            matches!(shared.advance(|_| now), Advance::Wait(w) if w == Duration::from_millis(100))
        );
        // Still waiting until resumed.
        assert!(matches!(shared.advance(|_| now), Advance::Wait(_)));
        let second = shared.resume();
        assert_eq!(second.num(), 2);
        assert_eq!(second.record(Err::<(), _>(2), false, || now), Ok(None));
        let third = shared.resume();
        assert_eq!(third.record(Err::<(), _>(3), false, || now), Err(3));
        assert!(matches!(shared.advance(|_| now), Advance::End));
        assert!(matches!(shared.advance(|_| now), Advance::End));
    }

    #[test]
    fn a_guard_without_an_outcome_ends_the_loop_and_stale_guards_pass_results_through() {
        let mut shared = shared(|_| Decision::Retry);
        let now = Instant::now();
        let first = attempt(shared.advance(|_| now));
        assert!(matches!(shared.advance(|_| now), Advance::End));
        // The loop is over: the guard's error comes back as is, without a retry.
        assert_eq!(first.record(Err::<(), _>(7), false, || now), Err(7));
        assert_eq!(first.record(Ok::<_, u32>(8), false, || now), Ok(Some(8)));
    }

    #[test]
    fn a_non_retryable_error_ends_the_loop() {
        let mut shared = shared(|_| Decision::DontRetry);
        let now = Instant::now();
        let first = attempt(shared.advance(|_| now));
        assert_eq!(first.record(Err::<(), _>(1), false, || now), Err(1));
        assert!(matches!(shared.advance(|_| now), Advance::End));
    }

    #[test]
    fn asking_for_the_next_attempt_waits_for_a_guard_recording_a_failure() {
        use std::sync::mpsc;
        // The guard records on another thread; its `on` predicate is running (the lock held)
        // when the iterator asks for the next attempt, which must wait for the decision and
        // then see the wait, not end the loop as if the attempt were still running.
        let (inside, entered) = mpsc::channel();
        let on = move |_: &u32| {
            inside.send(()).unwrap();
            std::thread::sleep(Duration::from_millis(20));
            Decision::Retry
        };
        let policy = RetryPolicy::new().wait_jitter(Duration::ZERO).attempts(3);
        let mut shared = Handle::new(policy, on, (), Name::given("test"), Extras::default());
        let now = Instant::now();
        let Advance::Attempt(first) = shared.advance(|_| now) else {
            panic!("expected the first attempt")
        };
        let recorder = std::thread::spawn(move || first.record(Err::<(), _>(1), false, || now));
        entered.recv().unwrap();
        assert!(
            matches!(shared.advance(|_| now), Advance::Wait(w) if w == Duration::from_millis(100))
        );
        assert_eq!(recorder.join().unwrap(), Ok(None));
        assert_eq!(shared.resume().num(), 2);
    }

    #[test]
    fn a_success_ends_the_loop_and_refills_the_budget_once() {
        let budget = RetryBudget::quota(10, 5, 10);
        let extras = Extras {
            budget: Some(budget.clone()),
            ..Extras::default()
        };
        let policy = RetryPolicy::new().wait_jitter(Duration::ZERO).attempts(3);
        let on: On = |_| Decision::Retry;
        let mut shared = Handle::new(policy, on, (), Name::given("test"), extras);
        let now = Instant::now();
        let first = attempt(shared.advance(|_| now));
        assert_eq!(first.record(Err::<(), _>(1), false, || now), Ok(None));
        assert_eq!(budget.available(), 5.0);
        assert!(matches!(shared.advance(|_| now), Advance::Wait(_)));
        let second = shared.resume();
        assert_eq!(second.record(Ok::<_, u32>(2), false, || now), Ok(Some(2)));
        assert_eq!(budget.available(), 10.0);
        assert!(matches!(shared.advance(|_| now), Advance::End));
        // A stale guard's success refills nothing.
        assert_eq!(second.record(Ok::<_, u32>(3), false, || now), Ok(Some(3)));
        drop(second);
        assert_eq!(budget.available(), 10.0);
    }
}
