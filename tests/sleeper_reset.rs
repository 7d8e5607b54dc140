//! `Sleeper::reset`: a loop that waits more than once makes one sleep and resets it for every
//! later wait; the built-in sleepers set their timers again in place, and a reset sleep completes
//! exactly as a new one would.

use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use stamina::{Sleeper, retry_context};

#[derive(Debug, PartialEq)]
struct Transient;

const fn ms(ms: u64) -> Duration {
    Duration::from_millis(ms)
}

/// A sleeper whose sleeps are ready at once, recording every `sleep` and `reset` call.
#[derive(Clone, Debug, Default)]
struct Recording {
    calls: Arc<Mutex<Vec<(&'static str, Duration)>>>,
}

impl Recording {
    fn calls(&self) -> Vec<(&'static str, Duration)> {
        self.calls.lock().unwrap().clone()
    }
}

impl Sleeper for Recording {
    type Sleep = std::future::Ready<()>;

    fn sleep(&self, duration: Duration) -> Self::Sleep {
        self.calls.lock().unwrap().push(("sleep", duration));
        std::future::ready(())
    }

    fn now(&self) -> Instant {
        Instant::now()
    }

    fn reset(&self, mut sleep: Pin<&mut Self::Sleep>, duration: Duration) {
        self.calls.lock().unwrap().push(("reset", duration));
        sleep.set(std::future::ready(()));
    }
}

/// The same without `reset`: it keeps the trait's default.
#[derive(Clone, Debug, Default)]
struct SleepsOnly(Recording);

impl Sleeper for SleepsOnly {
    type Sleep = std::future::Ready<()>;

    fn sleep(&self, duration: Duration) -> Self::Sleep {
        self.0.sleep(duration)
    }

    fn now(&self) -> Instant {
        Instant::now()
    }
}

/// Runs a stream loop of four failing attempts (waits of 100, 200 and 400 ms) on `sleeper`.
fn four_failures(sleeper: impl Sleeper) -> u32 {
    let mut attempts = retry_context(|_: &Transient| true)
        .attempts(4)
        .wait_jitter(Duration::ZERO)
        .into_stream_with(sleeper);
    let mut calls = 0;
    futures::executor::block_on(async {
        while let Some(attempt) = attempts.next().await {
            calls += 1;
            if attempt.record(Err::<(), _>(Transient)).is_err() {
                break;
            }
        }
    });
    calls
}

#[test]
fn a_stream_makes_one_sleep_and_resets_it_for_every_later_wait() {
    let sleeper = Recording::default();
    assert_eq!(four_failures(&sleeper), 4);
    assert_eq!(
        sleeper.calls(),
        [("sleep", ms(100)), ("reset", ms(200)), ("reset", ms(400))]
    );
    // Through an `Arc`, the sleeper's own `reset` is called too.
    let sleeper = Recording::default();
    assert_eq!(four_failures(Arc::new(sleeper.clone())), 4);
    assert_eq!(
        sleeper.calls(),
        [("sleep", ms(100)), ("reset", ms(200)), ("reset", ms(400))]
    );
}

#[test]
fn a_stream_on_a_sleeper_without_reset_makes_a_new_sleep_for_every_wait() {
    let sleeper = SleepsOnly::default();
    assert_eq!(four_failures(&sleeper), 4);
    assert_eq!(
        sleeper.0.calls(),
        [("sleep", ms(100)), ("sleep", ms(200)), ("sleep", ms(400))]
    );
}

/// A sleeper written without `reset`: its sleeps are counters of the polls left before they
/// complete, the duration in milliseconds.
struct Countdown;

struct Polls(u64);

impl Future for Polls {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        match self.0 {
            0 => Poll::Ready(()),
            _ => {
                self.0 -= 1;
                Poll::Pending
            }
        }
    }
}

impl Sleeper for Countdown {
    type Sleep = Polls;

    fn sleep(&self, duration: Duration) -> Polls {
        Polls(duration.as_millis() as u64)
    }

    fn now(&self) -> Instant {
        Instant::now()
    }
}

#[test]
fn the_trait_s_default_reset_replaces_the_sleep_with_a_new_one() {
    let mut sleep = pin!(Countdown.sleep(ms(1)));
    assert_eq!(poll_once(sleep.as_mut()), Poll::Pending);
    assert_eq!(poll_once(sleep.as_mut()), Poll::Ready(()));
    Countdown.reset(sleep.as_mut(), ms(2));
    assert_eq!(poll_once(sleep.as_mut()), Poll::Pending);
    assert_eq!(poll_once(sleep.as_mut()), Poll::Pending);
    assert_eq!(poll_once(sleep.as_mut()), Poll::Ready(()));
}

/// Polls `future` once with a waker that does nothing.
fn poll_once<F: Future + ?Sized>(future: Pin<&mut F>) -> Poll<F::Output> {
    future.poll(&mut Context::from_waker(Waker::noop()))
}

/// Checks that a sleep reset to a zero wait is ready on its second poll, as a new one is.
#[cfg(any(feature = "tokio", feature = "async-io"))]
fn assert_yields_once<S: Sleeper>(sleeper: &S, mut sleep: Pin<&mut S::Sleep>) {
    sleeper.reset(sleep.as_mut(), Duration::ZERO);
    assert_eq!(poll_once(sleep.as_mut()), Poll::Pending);
    assert_eq!(poll_once(sleep.as_mut()), Poll::Ready(()));
}

#[cfg(feature = "tokio")]
mod tokio_sleeper {
    use super::*;
    use stamina::TokioSleeper;
    use tokio::time::Instant;

    #[tokio::test(start_paused = true)]
    async fn a_reset_sleep_completes_after_the_new_wait_on_tokio_s_clock() {
        let start = Instant::now();
        let sleeper = TokioSleeper;
        let mut sleep = pin!(sleeper.sleep(ms(100)));
        sleep.as_mut().await;
        assert_eq!(start.elapsed(), ms(100));
        // Finished, then reset: pending again until the new wait is over.
        sleeper.reset(sleep.as_mut(), ms(250));
        assert_eq!(poll_once(sleep.as_mut()), Poll::Pending);
        sleep.as_mut().await;
        assert_eq!(start.elapsed(), ms(350));
        // Reset before it finished: the new wait counts from the reset.
        sleeper.reset(sleep.as_mut(), ms(1000));
        tokio::time::advance(ms(10)).await;
        sleeper.reset(sleep.as_mut(), ms(20));
        sleep.as_mut().await;
        assert_eq!(start.elapsed(), ms(380));
        // A zero wait needs no timer, and a later wait gets one again.
        assert_yields_once(&sleeper, sleep.as_mut());
        sleeper.reset(sleep.as_mut(), ms(5));
        sleep.as_mut().await;
        assert_eq!(start.elapsed(), ms(385));
    }

    #[tokio::test(start_paused = true)]
    async fn a_sleep_reset_to_forever_never_completes_and_can_be_reset_again() {
        let start = Instant::now();
        let sleeper = TokioSleeper;
        let mut sleep = pin!(sleeper.sleep(ms(1)));
        sleeper.reset(sleep.as_mut(), Duration::MAX);
        tokio::time::advance(Duration::from_secs(86_400 * 365)).await;
        assert_eq!(poll_once(sleep.as_mut()), Poll::Pending);
        sleeper.reset(sleep.as_mut(), ms(7));
        sleep.as_mut().await;
        assert_eq!(start.elapsed(), Duration::from_secs(86_400 * 365) + ms(7));
    }

    #[tokio::test(start_paused = true)]
    async fn a_stream_s_waits_after_the_first_follow_tokio_s_clock() {
        let start = Instant::now();
        let mut attempts = retry_context(|_: &Transient| true)
            .attempts(4)
            .wait_jitter(Duration::ZERO)
            .into_stream_with(TokioSleeper);
        let mut at = Vec::new();
        while let Some(attempt) = attempts.next().await {
            at.push(start.elapsed());
            if attempt.record(Err::<(), _>(Transient)).is_err() {
                break;
            }
        }
        assert_eq!(at, [0, 100, 300, 700].map(ms));
    }
}

#[cfg(feature = "async-io")]
mod async_io_sleeper {
    use super::*;
    use stamina::AsyncIoSleeper;

    /// Awaits `sleep`, failing the test instead of hanging if it is not over within 10 s.
    async fn within_10_s(sleep: impl Future<Output = ()>) {
        let give_up = async {
            smol::Timer::after(Duration::from_secs(10)).await;
            panic!("the sleep was not over after 10 s");
        };
        smol::future::or(sleep, give_up).await;
    }

    /// Checks that `sleep` is not over after 20 ms.
    async fn still_going_after_20_ms(sleep: impl Future<Output = ()>) {
        let over = async {
            sleep.await;
            true
        };
        let still_going = async {
            smol::Timer::after(ms(20)).await;
            false
        };
        assert!(
            !smol::future::or(over, still_going).await,
            "the sleep was over within 20 ms"
        );
    }

    #[test]
    fn a_reset_timer_completes_after_the_new_wait() {
        smol::block_on(async {
            let sleeper = AsyncIoSleeper;
            let mut sleep = pin!(sleeper.sleep(ms(1)));
            within_10_s(sleep.as_mut()).await;
            // Finished, then reset to an hour: pending again, and not cut short.
            sleeper.reset(sleep.as_mut(), Duration::from_secs(3600));
            still_going_after_20_ms(sleep.as_mut()).await;
            sleeper.reset(sleep.as_mut(), Duration::MAX);
            still_going_after_20_ms(sleep.as_mut()).await;
            // Reset again to a millisecond: it completes.
            let before = std::time::Instant::now();
            sleeper.reset(sleep.as_mut(), ms(1));
            within_10_s(sleep.as_mut()).await;
            assert!(before.elapsed() >= ms(1));
            assert_yields_once(&sleeper, sleep.as_mut());
            sleeper.reset(sleep.as_mut(), ms(1));
            within_10_s(sleep.as_mut()).await;
        });
    }
}

#[cfg(all(feature = "tokio", feature = "async-io"))]
mod default_sleeper {
    use super::*;
    use stamina::DefaultSleeper;

    #[tokio::test(start_paused = true)]
    async fn a_reset_sleep_follows_tokio_s_clock() {
        let start = tokio::time::Instant::now();
        let sleeper = DefaultSleeper;
        let mut sleep = pin!(sleeper.sleep(ms(100)));
        sleep.as_mut().await;
        sleeper.reset(sleep.as_mut(), ms(200));
        assert_eq!(poll_once(sleep.as_mut()), Poll::Pending);
        sleep.as_mut().await;
        assert_eq!(start.elapsed(), ms(300));
        assert_yields_once(&sleeper, sleep.as_mut());
        sleeper.reset(sleep.as_mut(), ms(5));
        sleep.as_mut().await;
        assert_eq!(start.elapsed(), ms(305));
    }

    #[test]
    fn a_sleep_made_outside_tokio_takes_tokio_s_timer_once_reset_inside() {
        let sleeper = DefaultSleeper;
        let mut sleep = Box::pin(sleeper.sleep(ms(1)));
        smol::block_on(sleep.as_mut());
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap();
        runtime.block_on(async {
            let start = tokio::time::Instant::now();
            sleeper.reset(sleep.as_mut(), ms(50));
            // Bounded on tokio's clock, which jumps to the bound if nothing else is waited for.
            let within_an_hour = tokio::time::timeout(Duration::from_secs(3600), sleep.as_mut());
            within_an_hour
                .await
                .expect("the reset sleep never completed");
            // On tokio's paused clock, which moved by exactly the wait; async-io's timer would
            // have left it where it was.
            assert_eq!(start.elapsed(), ms(50));
        });
    }

    #[test]
    fn a_sleep_made_inside_tokio_takes_async_io_s_timer_once_reset_outside() {
        let sleeper = DefaultSleeper;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap();
        let mut sleep = {
            let _inside = runtime.enter();
            Box::pin(sleeper.sleep(ms(1)))
        };
        runtime.block_on(sleep.as_mut());
        // Outside the runtime, nothing drives its paused timer: on it, the sleep would never end.
        sleeper.reset(sleep.as_mut(), ms(1));
        smol::block_on(async {
            let give_up = async {
                smol::Timer::after(Duration::from_secs(10)).await;
                panic!("the sleep stayed on the tokio runtime's timer");
            };
            smol::future::or(sleep.as_mut(), give_up).await;
        });
        drop(runtime);
    }
}
