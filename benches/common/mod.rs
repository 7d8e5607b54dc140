//! What the peer benchmarks share: the retried function, the sleepers, backon's configuration
//! and the like-for-like scenarios.

use std::hint::black_box;
use std::time::{Duration, Instant};

use stamina::{Clock, RetryPolicy, Sleeper};

/// The error every retried call fails with; every crate's predicate says it is transient.
#[derive(Debug)]
pub(crate) struct Transient;

pub(crate) fn is_transient(_: &Transient) -> bool {
    true
}

#[inline(never)]
pub(crate) fn op(x: u64) -> Result<u64, Transient> {
    Ok(black_box(x).wrapping_mul(3))
}

/// Fails `failures` times, then calls [`op`].
pub(crate) fn flaky(failures: u32) -> impl FnMut() -> Result<u64, Transient> {
    let mut left = failures;
    move || {
        if left > 0 {
            left -= 1;
            return Err(Transient);
        }
        op(black_box(7))
    }
}

/// The async [`flaky`]: attempts are ready futures of [`flaky`]'s results, so that no row pays
/// for an allocation or a suspension of the user's future.
pub(crate) fn flaky_async(
    failures: u32,
) -> impl FnMut() -> std::future::Ready<Result<u64, Transient>> {
    let mut sync = flaky(failures);
    move || std::future::ready(sync())
}

pub(crate) const WAIT_INITIAL: Duration = Duration::from_millis(100);
pub(crate) const WAIT_MAX: Duration = Duration::from_secs(5);
pub(crate) const RETRIES: usize = 9; // stamina's 10 attempts

/// stamina's `TokioSleeper` rebuilt here, so that the benches need no crate feature; a zero wait
/// takes tokio's timer too (where `TokioSleeper` yields once), as backon's sleeper does.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TokioSleep;

impl Sleeper for TokioSleep {
    type Sleep = tokio::time::Sleep;

    fn sleep(&self, duration: Duration) -> Self::Sleep {
        tokio::time::sleep(duration)
    }

    fn now(&self) -> Instant {
        tokio::time::Instant::now().into_std()
    }

    fn reset(&self, mut sleep: std::pin::Pin<&mut Self::Sleep>, duration: Duration) {
        match tokio::time::Instant::now().checked_add(duration) {
            Some(deadline) => sleep.as_mut().reset(deadline),
            None => sleep.set(tokio::time::sleep(duration)),
        }
    }
}

/// A clock (and backon sleeper) that never sleeps: the computed waits are kept from the
/// optimiser and dropped.
#[derive(Clone, Copy, Debug)]
pub(crate) struct NoSleep;

impl Clock for NoSleep {
    fn now(&self) -> Instant {
        Instant::now()
    }

    fn sleep(&self, duration: Duration) {
        black_box(duration);
    }
}

impl backon::BlockingSleeper for NoSleep {
    fn sleep(&self, duration: Duration) {
        black_box(duration);
    }
}

/// backon as close to stamina's defaults as it goes: 100 ms doubling to 5 s, 9 retries, and its
/// jitter (`+ U(0, 1) x the wait`) on or off.
pub(crate) fn backon_builder(jitter: bool) -> backon::ExponentialBuilder {
    let builder = backon::ExponentialBuilder::new()
        .with_min_delay(WAIT_INITIAL)
        .with_max_delay(WAIT_MAX)
        .with_max_times(RETRIES);
    if jitter {
        builder.with_jitter()
    } else {
        builder
    }
}

/// The like-for-like per-retry scenarios: a name, stamina's policy (no total timeout: backon has
/// none) and backon's configuration.
///
/// | scenario | stamina | backon |
/// |---|---|---|
/// | zero waits, no jitter | `wait_initial` 0, `wait_jitter` 0 | min delay 0, no jitter |
/// | zero waits, jitter drawn | `wait_initial` 0, `wait_jitter` 1 ns (draws `U(0, 1 ns)`) | min delay 0, jitter (draws, times 0) |
/// | default waits, no jitter | 100 ms x 2 up to 5 s, `wait_jitter` 0 | min 100 ms, max 5 s, no jitter |
/// | default waits, jitter | the defaults (`+ U(0, 1 s)`) | min 100 ms, max 5 s, jitter (`+ U(0, 1) x` the wait) |
pub(crate) fn scenarios() -> [(&'static str, RetryPolicy, backon::ExponentialBuilder); 4] {
    let zero = RetryPolicy::new()
        .no_timeout()
        .wait_initial(Duration::ZERO)
        .wait_jitter(Duration::ZERO);
    let default = RetryPolicy::new().no_timeout();
    [
        (
            "zero waits, no jitter",
            zero,
            backon_builder(false).with_min_delay(Duration::ZERO),
        ),
        (
            "zero waits, jitter drawn",
            zero.wait_jitter(Duration::from_nanos(1)),
            backon_builder(true).with_min_delay(Duration::ZERO),
        ),
        (
            "default waits, no jitter",
            default.wait_jitter(Duration::ZERO),
            backon_builder(false),
        ),
        ("default waits, jitter", default, backon_builder(true)),
    ]
}
