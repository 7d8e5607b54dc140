//! Exact heap allocation and reallocation counts, and type sizes.
//!
//! The counting allocator sees every thread of the process, so this binary holds a single test
//! that measures each case in turn.

use std::alloc::System;
use std::hint::black_box;
use std::io;
use std::time::Duration;

use futures::executor::block_on;
use stamina::{
    AsyncRetryingCaller, RetryBudget, RetryPolicy, RetryingCaller, Sleeper, retry_context,
};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

fn always(_: &io::Error) -> bool {
    true
}

/// A logger that formats every record (its message and key-values) as a logger that writes it
/// would, into nothing, and keeps nothing.
#[cfg(all(feature = "log", feature = "metrics"))]
struct QuietLogger;

/// Where [`QuietLogger`] writes.
#[cfg(all(feature = "log", feature = "metrics"))]
struct Nowhere;

#[cfg(all(feature = "log", feature = "metrics"))]
impl std::fmt::Write for Nowhere {
    fn write_str(&mut self, text: &str) -> std::fmt::Result {
        black_box(text);
        Ok(())
    }
}

#[cfg(all(feature = "log", feature = "metrics"))]
impl<'kvs> log::kv::VisitSource<'kvs> for Nowhere {
    fn visit_pair(
        &mut self,
        key: log::kv::Key<'kvs>,
        value: log::kv::Value<'kvs>,
    ) -> Result<(), log::kv::Error> {
        use std::fmt::Write as _;
        write!(self, " {key}={value}")?;
        Ok(())
    }
}

#[cfg(all(feature = "log", feature = "metrics"))]
impl log::Log for QuietLogger {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }

    fn log(&self, record: &log::Record<'_>) {
        std::fmt::write(&mut Nowhere, *record.args()).unwrap();
        record.key_values().visit(&mut Nowhere).unwrap();
    }

    fn flush(&self) {}
}

/// A `metrics` recorder that keeps nothing and allocates nothing: its counters discard.
#[cfg(all(feature = "log", feature = "metrics"))]
struct Discard;

#[cfg(all(feature = "log", feature = "metrics"))]
impl metrics::Recorder for Discard {
    fn describe_counter(
        &self,
        _: metrics::KeyName,
        _: Option<metrics::Unit>,
        _: metrics::SharedString,
    ) {
    }

    fn describe_gauge(
        &self,
        _: metrics::KeyName,
        _: Option<metrics::Unit>,
        _: metrics::SharedString,
    ) {
    }

    fn describe_histogram(
        &self,
        _: metrics::KeyName,
        _: Option<metrics::Unit>,
        _: metrics::SharedString,
    ) {
    }

    fn register_counter(&self, key: &metrics::Key, _: &metrics::Metadata<'_>) -> metrics::Counter {
        black_box(key);
        metrics::Counter::noop()
    }

    fn register_gauge(&self, _: &metrics::Key, _: &metrics::Metadata<'_>) -> metrics::Gauge {
        metrics::Gauge::noop()
    }

    fn register_histogram(
        &self,
        _: &metrics::Key,
        _: &metrics::Metadata<'_>,
    ) -> metrics::Histogram {
        metrics::Histogram::noop()
    }
}

/// A `tracing` subscriber that takes every span and event and keeps nothing.
#[cfg(all(feature = "log", feature = "metrics", feature = "tracing"))]
struct QuietSubscriber;

#[cfg(all(feature = "log", feature = "metrics", feature = "tracing"))]
impl tracing::Subscriber for QuietSubscriber {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }

    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }

    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}

    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}

    fn event(&self, event: &tracing::Event<'_>) {
        black_box(event);
    }

    fn enter(&self, _: &tracing::span::Id) {}

    fn exit(&self, _: &tracing::span::Id) {}
}

/// An error type per `N`, for as many error types as wanted.
#[cfg(all(feature = "log", feature = "metrics"))]
#[derive(Debug)]
struct Failure<const N: u32>;

/// Heap operations made by `f`: allocations and reallocations (a `Vec` growing in place or
/// moving counts as a reallocation, not an allocation).
fn allocations(f: impl FnOnce()) -> Heap {
    let region = Region::new(GLOBAL);
    f();
    let change = region.change();
    Heap {
        allocations: change.allocations,
        reallocations: change.reallocations,
    }
}

#[derive(Debug, PartialEq)]
struct Heap {
    allocations: usize,
    reallocations: usize,
}

/// No allocation and no reallocation.
const NONE: Heap = Heap {
    allocations: 0,
    reallocations: 0,
};

/// `n` allocations and no reallocation.
const fn allocs(n: usize) -> Heap {
    Heap {
        allocations: n,
        reallocations: 0,
    }
}

/// Fails `failures` times (with an error that does not allocate), then succeeds.
fn flaky(failures: u32) -> impl FnMut() -> io::Result<u32> {
    let mut left = failures;
    move || {
        if left > 0 {
            left -= 1;
            return Err(io::ErrorKind::TimedOut.into());
        }
        Ok(black_box(7))
    }
}

/// A sleeper that never sleeps and allocates nothing.
#[derive(Clone, Copy, Debug)]
struct NoSleep;

impl Sleeper for NoSleep {
    type Sleep = std::future::Ready<()>;

    fn sleep(&self, _: Duration) -> Self::Sleep {
        std::future::ready(())
    }

    fn now(&self) -> std::time::Instant {
        std::time::Instant::now()
    }
}

/// The async [`flaky`].
fn flaky_async(failures: u32) -> impl FnMut() -> std::future::Ready<io::Result<u32>> {
    let mut sync = flaky(failures);
    move || std::future::ready(sync())
}

#[cfg(feature = "macros")]
#[stamina::retry(on = always)]
fn attributed(x: u32) -> io::Result<u32> {
    Ok(black_box(x))
}

#[cfg(feature = "macros")]
#[stamina::retry(on = always, timeout = None)]
fn attributed_no_timeout(x: u32) -> io::Result<u32> {
    Ok(black_box(x))
}

#[cfg(all(feature = "macros", any(feature = "tokio", feature = "async-io")))]
#[stamina::retry(on = always)]
async fn attributed_async(x: u32) -> io::Result<u32> {
    Ok(black_box(x))
}

#[cfg(all(feature = "macros", any(feature = "tokio", feature = "async-io")))]
#[stamina::retry(on = always)]
async fn attributed_async_mut(x: &mut u32) -> io::Result<u32> {
    *x += 1;
    Ok(black_box(*x))
}

#[test]
fn allocation_counts_and_sizes() {
    // The harness's main thread allocates when it starts to wait for this test, which a busy
    // machine may delay into a count: let it, until a quiet spell shows nothing else allocates.
    loop {
        let region = Region::new(GLOBAL);
        std::thread::sleep(Duration::from_millis(50));
        if region.change().allocations == 0 {
            break;
        }
    }
    const ZERO_WAITS: RetryPolicy = RetryPolicy::new()
        .wait_initial(Duration::ZERO)
        .wait_jitter(Duration::ZERO);

    let caller = RetryingCaller::new();
    let no_timeout = RetryingCaller::new().no_timeout();
    let bound = RetryingCaller::new().on(always);
    let zero = RetryingCaller::from_policy(ZERO_WAITS);
    let budget = RetryBudget::retry_quota();
    let budgeted = RetryingCaller::from_policy(ZERO_WAITS).budget(&budget);
    // Warm up thread-locals and the clock before counting.
    let _ = caller.call(always, flaky(0));

    // Callers: nothing on the success path, nothing per retry.
    assert_eq!(allocations(|| drop(caller.call(always, flaky(0)))), NONE);
    assert_eq!(
        allocations(|| drop(no_timeout.call(always, flaky(0)))),
        NONE
    );
    assert_eq!(allocations(|| drop(bound.call(flaky(0)))), NONE);

    // The attribute: a caller built in place, nothing on the heap.
    #[cfg(feature = "macros")]
    {
        assert_eq!(allocations(|| drop(attributed(7))), NONE);
        assert_eq!(allocations(|| drop(attributed_no_timeout(7))), NONE);
    }

    // Async callers, driven by `block_on` (warmed up: its waker is made once per thread).
    let sleeper = NoSleep;
    let async_caller = AsyncRetryingCaller::new().sleeper(sleeper);
    let async_no_timeout = AsyncRetryingCaller::new().no_timeout().sleeper(sleeper);
    let async_bound = AsyncRetryingCaller::new().sleeper(sleeper).on(always);
    let _ = block_on(async_caller.call(always, flaky_async(0)));
    assert_eq!(
        allocations(|| drop(block_on(async_caller.call(always, flaky_async(0))))),
        NONE
    );
    assert_eq!(
        allocations(|| drop(block_on(async_no_timeout.call(always, flaky_async(0))))),
        NONE
    );
    assert_eq!(
        allocations(|| drop(block_on(async_bound.call(flaky_async(0))))),
        NONE
    );
    let mut count = 0;
    let mut counting = async || {
        count += 1;
        Ok::<_, io::Error>(black_box(count))
    };
    assert_eq!(
        allocations(|| drop(block_on(async_caller.call_mut(always, &mut counting)))),
        NONE
    );
    assert_eq!(
        allocations(|| drop(block_on(async_bound.call_mut(&mut counting)))),
        NONE
    );

    // The attribute on `async fn`: nothing with a caller; with `&mut` arguments or `&mut self`,
    // the attempt stream's shared state.
    #[cfg(all(feature = "macros", any(feature = "tokio", feature = "async-io")))]
    {
        assert_eq!(allocations(|| drop(block_on(attributed_async(7)))), NONE);
        let mut x = 0;
        assert_eq!(
            allocations(|| drop(block_on(attributed_async_mut(&mut x)))),
            allocs(1)
        );
    }

    // Async attempt streams: the state shared with the guards, once per loop.
    fn stream_loop<S: Sleeper>(sleeper: S, policy: RetryPolicy, failures: u32) {
        block_on(async move {
            let mut op = flaky_async(failures);
            let mut attempts = retry_context(always)
                .policy(policy)
                .into_stream_with(sleeper);
            while let Some(attempt) = attempts.next().await {
                if attempt.run(&mut op).await.unwrap().is_some() {
                    break;
                }
            }
        });
    }
    let sleeper2 = sleeper;
    assert_eq!(
        allocations(|| stream_loop(sleeper2, RetryPolicy::new(), 0)),
        allocs(1)
    );
    let sleeper2 = sleeper;
    let no_timeout = RetryPolicy::new().no_timeout();
    assert_eq!(
        allocations(|| stream_loop(sleeper2, no_timeout, 0)),
        allocs(1)
    );
    // That state is 392 bytes with its reference count, for a predicate and a sleeper that take
    // no room (`benches/per_retry.rs` adds as much to backon's loop for the stream's floor).
    #[cfg(target_pointer_width = "64")]
    {
        let region = Region::new(GLOBAL);
        stream_loop(NoSleep, no_timeout, 0);
        assert_eq!(region.change().bytes_allocated, 392);
    }

    // Retries allocate nothing in the loop itself; instrumentation is off for these counts (the
    // default hooks are counted below).
    stamina::set_on_retry_hooks([]);
    assert_eq!(allocations(|| drop(zero.call(always, flaky(3)))), NONE);
    assert_eq!(allocations(|| drop(budgeted.call(always, flaky(3)))), NONE);

    // Guard loops: one allocation per loop, none per attempt.
    let guard_loop = |policy: RetryPolicy, failures: u32| {
        let mut op = flaky(failures);
        for attempt in retry_context(always).policy(policy) {
            if attempt.run(&mut op).unwrap().is_some() {
                break;
            }
        }
    };
    assert_eq!(allocations(|| guard_loop(RetryPolicy::new(), 0)), allocs(1));
    assert_eq!(allocations(|| guard_loop(ZERO_WAITS, 5)), allocs(1));
    // Whatever a loop owns is freed with it, by whichever of the loop and its attempts lets go
    // last: here an owned name and a budget (made and dropped here too), the loop let go during
    // its wait or after its end. Every byte allocated is freed.
    let leaves_nothing = |end_first: bool| {
        let region = Region::new(GLOBAL);
        {
            let budget = RetryBudget::quota(100, 1, 1);
            let mut attempts = retry_context(always)
                .policy(ZERO_WAITS)
                .name(String::from("an owned name"))
                .budget(&budget)
                .into_iter();
            let first = attempts.next().unwrap();
            assert!(matches!(first.record(flaky(1)()), Ok(None)));
            if end_first {
                let second = attempts.next().unwrap();
                assert!(matches!(second.record(flaky(0)()), Ok(Some(7))));
                assert!(attempts.next().is_none());
            }
        }
        let change = region.change();
        let live = change.bytes_allocated as isize - change.bytes_deallocated as isize
            + change.bytes_reallocated;
        (change.allocations - change.deallocations, live)
    };
    assert_eq!(leaves_nothing(false), (0, 0));
    assert_eq!(leaves_nothing(true), (0, 0));
    // Async loops on a sleeper that allocates nothing (the fake one logs its sleeps in a `Vec`):
    // the caller allocates nothing; the stream adds its sleep future's box at the first wait,
    // and resets the sleep in it for the next ones.
    let async_zero = AsyncRetryingCaller::from_policy(ZERO_WAITS).sleeper(NoSleep);
    assert_eq!(
        allocations(|| drop(block_on(async_zero.call(always, flaky_async(3))))),
        NONE
    );
    assert_eq!(
        allocations(|| stream_loop(NoSleep, ZERO_WAITS, 5)),
        allocs(2)
    );
    // The counts see reallocations: the fake sleeper's log of 5 sleeps grows once past its
    // first 4 places (on top of the loop's 2 allocations and the log's first).
    let logged = stamina::testing::FakeSleeper::new();
    assert_eq!(
        allocations(|| stream_loop(logged, ZERO_WAITS, 5)),
        Heap {
            allocations: 3,
            reallocations: 1,
        }
    );
    stamina::instrument::reset_on_retry_hooks();
    assert_eq!(allocations(|| guard_loop(RetryPolicy::new(), 0)), allocs(1));

    // The default hooks (every instrumentation feature enabled, no `tracing` subscriber): the
    // `metrics` hook makes the labels of its counter at every event, four allocations for a
    // retry (the list, the loop's name, the retry number, the error's type) and three for a
    // give-up (its reason is `'static`), with or without a logger and a recorder; the `log` hook
    // allocates nothing. The same, exactly, as `instrument`'s module docs say.
    #[cfg(all(feature = "log", feature = "metrics"))]
    {
        const PER_RETRY: usize = 4;
        const PER_GIVE_UP: usize = 3;
        let named = RetryingCaller::from_policy(ZERO_WAITS).name("named");
        let per_call =
            |retries: usize, give_ups: usize| allocs(retries * PER_RETRY + give_ups * PER_GIVE_UP);
        log::set_logger(&QuietLogger).unwrap();
        log::set_max_level(log::LevelFilter::Trace);
        metrics::with_local_recorder(&Discard, || {
            let _ = named.call(always, flaky(30));
            // Nothing is kept per series or per error type: after retries and give-ups under
            // many loop names and error types, every allocation was freed.
            let region = Region::new(GLOBAL);
            for i in 0..100 {
                let caller = RetryingCaller::from_policy(ZERO_WAITS)
                    .attempts(3)
                    .name(format!("loop {i}"));
                let _ = caller.call(always, flaky(5));
                let _ = caller.call(|_: &Failure<1>| true, || Err::<(), _>(Failure::<1>));
                let _ = caller.call(|_: &Failure<2>| true, || Err::<(), _>(Failure::<2>));
                let _ = caller.call(|_: &std::fmt::Error| true, || Err::<(), _>(std::fmt::Error));
            }
            let change = region.change();
            let live = change.bytes_allocated as isize - change.bytes_deallocated as isize
                + change.bytes_reallocated;
            assert!(change.allocations >= 100 * 4 * (2 * PER_RETRY + PER_GIVE_UP));
            assert_eq!((change.allocations - change.deallocations, live), (0, 0));
            assert_eq!(
                allocations(|| drop(named.call(always, flaky(3)))),
                per_call(3, 0)
            );
            // Ten attempts: nine retries and a give-up.
            assert_eq!(
                allocations(|| drop(named.call(always, flaky(30)))),
                per_call(9, 1)
            );
            assert_eq!(
                allocations(|| guard_loop(ZERO_WAITS, 5)),
                allocs(1 + 5 * PER_RETRY)
            );
            // With a `tracing` subscriber, the `tracing` hook's span kept over each wait, and
            // the list that holds it, two more (the `log` hook leaves the events to it).
            #[cfg(feature = "tracing")]
            tracing::subscriber::with_default(QuietSubscriber, || {
                let _ = named.call(always, flaky(30));
                assert_eq!(
                    allocations(|| drop(named.call(always, flaky(3)))),
                    allocs(3 * (PER_RETRY + 2))
                );
            });
        });
        // No logger (records off) and no recorder: the same.
        log::set_max_level(log::LevelFilter::Off);
        assert_eq!(
            allocations(|| drop(named.call(always, flaky(3)))),
            per_call(3, 0)
        );
    }

    // Sizes: the configuration is a small `Copy` value; callers add a name, a budget, a
    // nesting choice, their hooks and what the built-in hooks show and at which level.
    assert_eq!(std::mem::size_of::<RetryPolicy>(), 128);
    assert_eq!(std::mem::size_of::<RetryingCaller>(), 224);
    assert_eq!(std::mem::size_of::<RetryBudget>(), 8);

    // An attempt guard is two words: the shared state, and the attempt's number with whether it
    // recorded its outcome.
    type On = fn(&io::Error) -> bool;
    assert_eq!(std::mem::size_of::<Option<stamina::Attempt<On>>>(), 16);
    assert_eq!(std::mem::size_of::<Option<stamina::AsyncAttempt<On>>>(), 16);

    // The async caller's future holds the attempt's future once, plus a fixed 208 bytes (with an
    // 8-byte error and a sleeper whose sleep is empty): the loop driver (the deadline, the state
    // machine, made at the first failure but kept in place, and the hooks' guards kept over a
    // wait; it borrows the caller's settings rather than copying them), the last error, the
    // references to the settings, sleeper and predicate, and the state tags. A sleep future
    // lives where the attempt's future did. Without an attempt timeout, the attempt holds
    // nothing for one.
    let user_future = || std::future::ready(Ok::<[u8; 256], io::Error>([0; 256]));
    let user = std::mem::size_of_val(&user_future());
    let call = async_caller.call(always, user_future);
    assert_eq!(std::mem::size_of_val(&call) - user, 208);
    let bound_call = async_bound.call(user_future);
    assert_eq!(std::mem::size_of_val(&bound_call) - user, 208);
    // The same for async closures: `call_mut` runs the same loop.
    let call_mut = async_caller.call_mut(always, user_future);
    assert_eq!(std::mem::size_of_val(&call_mut) - user, 208);
}
