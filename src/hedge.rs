//! Hedged calls: when an attempt has not answered within a delay, another copy is sent, and the
//! first acceptable answer wins.
//!
//! [`Hedging`] says when (a fixed delay, a percentile of the recent latencies, at once, or only
//! after a failure) and how many attempts may be in flight. The async callers' `call` and both
//! adapters run a hedged call through [`Hedger`], which holds the attempts in flight and asks
//! the loop driver what each outcome means and whether another attempt may start: the driver
//! keeps the attempts limit, the deadline, the budget (every hedge pays it like a retry),
//! `Retry-After` holds and the switches, as for retries.

use std::fmt;
use std::future::Future;
use std::num::NonZeroU32;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use crate::ConfigError;
use crate::Sleeper;
use crate::driver::{Driver, Verdict};
use crate::instrument::AttemptSpan;
use crate::settings::Settings;

/// When a call sends another copy of its request while earlier ones are still out (see
/// [`Retrying::hedge`](crate::Retrying::hedge)).
///
/// Hedging answers slowness: when an attempt has not answered after the delay, another copy
/// is sent, and the first acceptable answer wins; the others are dropped (cancelled) at once.
/// It is for idempotent calls only: the same request may reach the server several times.
///
/// ```
/// use std::time::Duration;
/// use stamina::Hedging;
///
/// let fixed = Hedging::after(Duration::from_millis(50)); // a second copy after 50 ms
/// let adaptive = Hedging::at_percentile(0.98, Duration::from_secs(10)); // after the p98 latency
/// let both_at_once = Hedging::parallel().max_in_flight(2);
/// let on_failure = Hedging::fallback(); // no delay: the next attempt as soon as one fails
/// # let _ = (fixed, adaptive, both_at_once, on_failure);
/// ```
///
/// # Default
///
/// There is none: hedging is off unless a loop is given a `Hedging`. Each one allows 2 attempts
/// in flight unless [`max_in_flight`](Self::max_in_flight) says otherwise.
#[derive(Clone)]
#[must_use = "hedging does nothing until it is given to a caller or an adapter"]
pub struct Hedging {
    delay: Delay,
    max_in_flight: NonZeroU32,
}

#[derive(Clone)]
enum Delay {
    Fixed(Duration),
    Percentile(Arc<Latencies>),
    Fallback,
}

impl Hedging {
    /// Another attempt whenever `delay` has passed since the last one started and none has
    /// answered.
    pub const fn after(delay: Duration) -> Self {
        Self::with_delay(Delay::Fixed(delay))
    }

    /// Every attempt at once, up to [`max_in_flight`](Self::max_in_flight): a delay of zero.
    pub const fn parallel() -> Self {
        Self::after(Duration::ZERO)
    }

    /// No delay: another attempt starts only when one fails (at once, without the backoff
    /// wait), so that one attempt is in flight at a time.
    pub const fn fallback() -> Self {
        Self::with_delay(Delay::Fallback)
    }

    /// Another attempt when the one before has taken longer than the `percentile` (in `(0, 1]`)
    /// of the latencies of this configuration's recent attempts, all its calls together. The
    /// latencies are counted over windows of `window`: the last full window is read, so that
    /// a change of the service's speed shows within two windows; until a window holds 20
    /// answers, no hedge is sent (failures still start the next attempt at once).
    ///
    /// # Panics
    ///
    /// If `percentile` is not in `(0, 1]` or `window` is zero; see
    /// [`try_at_percentile`](Self::try_at_percentile).
    #[track_caller]
    pub fn at_percentile(percentile: f64, window: Duration) -> Self {
        match Self::try_at_percentile(percentile, window) {
            Ok(hedging) => hedging,
            Err(err) => panic!("stamina: {err}"),
        }
    }

    /// [`at_percentile`](Self::at_percentile), or a [`ConfigError`] for a percentile outside
    /// `(0, 1]` (NaN included) or a zero window.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let err = stamina::Hedging::try_at_percentile(95.0, Duration::from_secs(10)).unwrap_err();
    /// assert_eq!(err.key(), Some("hedge_percentile"));
    /// ```
    pub fn try_at_percentile(percentile: f64, window: Duration) -> Result<Self, ConfigError> {
        if !(percentile > 0.0 && percentile <= 1.0) {
            let message = format!("{percentile}: expected a fraction in (0, 1], such as 0.98");
            return Err(ConfigError::new("hedge_percentile", message));
        }
        if window.is_zero() {
            let message = "the window of latencies must be longer than zero".to_owned();
            return Err(ConfigError::new("hedge_window", message));
        }
        let latencies = Arc::new(Latencies::new(percentile, window));
        Ok(Self::with_delay(Delay::Percentile(latencies)))
    }

    /// Hedging after `delay`, with the default of 2 attempts in flight.
    const fn with_delay(delay: Delay) -> Self {
        Self {
            delay,
            max_in_flight: NonZeroU32::MIN.saturating_add(1),
        }
    }

    /// At most `max` attempts in flight at once (`0` behaves as `1`). Every attempt sent
    /// counts towards the loop's attempts limit.
    pub const fn max_in_flight(mut self, max: u32) -> Self {
        self.max_in_flight = match NonZeroU32::new(max) {
            Some(max) => max,
            None => NonZeroU32::MIN,
        };
        self
    }

    /// The most attempts in flight at once.
    pub const fn get_max_in_flight(&self) -> u32 {
        self.max_in_flight.get()
    }

    /// How long after the latest attempt's start the next one is sent, if one is: `None` for
    /// the fallback mode and for a percentile without enough recent answers.
    pub(crate) fn delay(&self) -> Option<Duration> {
        match &self.delay {
            Delay::Fixed(delay) => Some(*delay),
            Delay::Percentile(latencies) => latencies.delay(),
            Delay::Fallback => None,
        }
    }

    /// Counts the latency of an attempt that answered, for a delay at a percentile.
    pub(crate) fn record(&self, started: Instant, now: Instant) {
        if let Delay::Percentile(latencies) = &self.delay {
            latencies.record(now, now.saturating_duration_since(started));
        }
    }
}

impl fmt::Debug for Hedging {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Hedging");
        match &self.delay {
            Delay::Fixed(delay) => d.field("after", delay),
            Delay::Percentile(latencies) => d
                .field("percentile", &latencies.percentile)
                .field("window", &latencies.window),
            Delay::Fallback => d.field("fallback", &true),
        };
        d.field("max_in_flight", &self.max_in_flight).finish()
    }
}

/// The fewest answers a window must hold for its percentile to set the delay.
const MIN_SAMPLES: u32 = 20;

/// Recent latencies: the window being filled and the last full one, whose percentile is read.
/// Fixed in size whatever it sees: two histograms of [`BUCKETS`] counters.
struct Latencies {
    percentile: f64,
    window: Duration,
    windows: Mutex<Windows>,
}

#[derive(Default)]
struct Windows {
    /// When the window being filled began.
    began: Option<Instant>,
    filling: Histogram,
    last: Histogram,
}

impl Latencies {
    fn new(percentile: f64, window: Duration) -> Self {
        Self {
            percentile,
            window,
            windows: Mutex::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Windows> {
        self.windows.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn record(&self, now: Instant, latency: Duration) {
        let mut windows = self.lock();
        let began = *windows.began.get_or_insert(now);
        let age = now.saturating_duration_since(began);
        if age >= self.window {
            // A window that ended long ago says nothing of now.
            let full = std::mem::take(&mut windows.filling);
            windows.last = if age < self.window * 2 {
                full
            } else {
                Histogram::default()
            };
            windows.began = Some(now);
        }
        windows.filling.add(latency);
    }

    fn delay(&self) -> Option<Duration> {
        self.lock().last.percentile(self.percentile)
    }
}

/// The number of counters of a histogram: 16 exact microseconds, then 8 per power of two up to
/// `u64::MAX` microseconds.
const BUCKETS: usize = 16 + 60 * 8;

/// Latencies in microseconds, to within an eighth.
struct Histogram {
    counts: Box<[u32; BUCKETS]>,
    total: u32,
}

impl Default for Histogram {
    fn default() -> Self {
        Self {
            counts: Box::new([0; BUCKETS]),
            total: 0,
        }
    }
}

impl Histogram {
    fn bucket(micros: u64) -> usize {
        if micros < 16 {
            return micros as usize;
        }
        let exponent = 63 - micros.leading_zeros() as usize; // 4 and up
        let eighth = (micros >> (exponent - 3)) as usize & 7;
        16 + (exponent - 4) * 8 + eighth
    }

    /// The largest latency that falls in `bucket`.
    fn upper(bucket: usize) -> Duration {
        if bucket < 16 {
            return Duration::from_micros(bucket as u64);
        }
        let (exponent, eighth) = ((bucket - 16) / 8 + 4, (bucket - 16) % 8);
        let upper = ((9 + eighth as u128) << (exponent - 3)) - 1;
        Duration::from_micros(u64::try_from(upper).unwrap_or(u64::MAX))
    }

    fn add(&mut self, latency: Duration) {
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        let count = &mut self.counts[Self::bucket(micros)];
        *count = count.saturating_add(1);
        self.total = self.total.saturating_add(1);
    }

    fn percentile(&self, percentile: f64) -> Option<Duration> {
        if self.total < MIN_SAMPLES {
            return None;
        }
        // The rank of the answer at the percentile, 1-based.
        let rank = (f64::from(self.total) * percentile).ceil().max(1.0) as u64;
        let mut seen = 0_u64;
        let bucket = self.counts.iter().position(|&count| {
            seen += u64::from(count);
            seen >= rank
        })?;
        Some(Self::upper(bucket))
    }
}

/// What a front end gives a [`Hedger`]: its settings and time, its attempts, and what each
/// outcome means.
pub(crate) trait HedgeCtx<T, E> {
    /// One attempt's future: its outcome, and whether its attempt timeout cut it.
    type Attempt: Future<Output = (Result<T, E>, bool)>;
    /// What the call takes its time from.
    type Sleeper: Sleeper;

    fn settings(&self) -> &Settings;
    fn sleeper(&self) -> &Self::Sleeper;
    /// Starts an attempt, which ends at the loop's `deadline` if it can be cut; `None` when the
    /// request cannot be copied for it.
    fn attempt(&mut self, deadline: Option<Instant>) -> Option<Self::Attempt>;
    /// What `outcome` of attempt `num` means, with `others` attempts still in flight or due:
    /// the driver judges it with the front end's predicate and tells the hooks.
    fn settle(
        &self,
        driver: &mut Driver,
        outcome: (&Result<T, E>, bool),
        num: u32,
        others: usize,
    ) -> Verdict;
    /// The loop's name, for the hooks.
    fn name(&self) -> &str;

    fn now(&self) -> Instant {
        self.sleeper().now()
    }

    fn hedging(&self) -> &Hedging {
        let hedging = self.settings().hedging.as_ref();
        hedging.expect("a hedged call has hedging settings")
    }
}

/// An attempt in flight: its number, what it paid the budget, when it started, its future.
struct Running<A> {
    num: u32,
    paid: u64,
    started: Instant,
    span: AttemptSpan,
    attempt: Pin<Box<A>>,
}

/// The attempts of a hedged call in flight, and the timer of the next hedge or of a server's
/// hold. The front end polls it until it returns the call's outcome; dropping it drops (cancels)
/// every attempt.
pub(crate) struct Hedger<A, Z> {
    running: Vec<Running<A>>,
    timer: Option<Pin<Box<Z>>>,
    /// While a server's `Retry-After` holds: when it ends (`None`: beyond the clock), and what
    /// the budget was paid for each attempt due then. No attempt starts before.
    held: Option<(Option<Instant>, Vec<u64>)>,
    /// No hedge may start any more: the attempts, the time or the budget are used up.
    stopped: bool,
}

impl<A, Z: Future<Output = ()>> Hedger<A, Z> {
    /// A hedged call whose first attempt starts now.
    pub(crate) fn start<T, E, C>(ctx: &mut C, driver: &Driver) -> Self
    where
        C: HedgeCtx<T, E, Attempt = A>,
        C::Sleeper: Sleeper<Sleep = Z>,
    {
        let mut hedger = Self {
            running: Vec::with_capacity(ctx.hedging().get_max_in_flight() as usize),
            timer: None,
            held: None,
            stopped: false,
        };
        // The front end hedges only a request it could copy.
        hedger.launch(ctx, driver.num(), driver.deadline(), 0);
        hedger
    }

    /// Starts attempt `num`, which paid `paid`, and sets the timer of the next hedge; stops
    /// the hedges when its request cannot be copied.
    fn launch<T, E, C>(&mut self, ctx: &mut C, num: u32, deadline: Option<Instant>, paid: u64)
    where
        C: HedgeCtx<T, E, Attempt = A>,
        C::Sleeper: Sleeper<Sleep = Z>,
    {
        let Some(attempt) = ctx.attempt(deadline) else {
            self.stopped = true;
            return;
        };
        self.running.push(Running {
            num,
            paid,
            started: ctx.now(),
            span: AttemptSpan::new(ctx.name(), num),
            attempt: Box::pin(attempt),
        });
        let room = self.running.len() < ctx.hedging().get_max_in_flight() as usize;
        let delay = ctx.hedging().delay().filter(|_| room && !self.stopped);
        self.timer = delay.map(|delay| Box::pin(ctx.sleeper().sleep(delay)));
    }

    /// Holds every start until `wait` from now, for an attempt that paid `paid`.
    fn hold<T, E, C>(&mut self, ctx: &C, wait: Duration, paid: u64)
    where
        C: HedgeCtx<T, E, Attempt = A>,
        C::Sleeper: Sleeper<Sleep = Z>,
    {
        let now = ctx.now();
        // `None`: beyond what the clock holds, a hold no later one ends sooner.
        let until = now.checked_add(wait);
        let (ends, due) = self.held.get_or_insert_with(|| (until, Vec::new()));
        *ends = ends.zip(until).map(|(ends, until)| ends.max(until));
        due.push(paid);
        let left = ends.map_or(Duration::MAX, |ends| ends.saturating_duration_since(now));
        self.timer = Some(Box::pin(ctx.sleeper().sleep(left)));
    }

    pub(crate) fn poll<T, E, C>(
        &mut self,
        cx: &mut Context<'_>,
        ctx: &mut C,
        driver: &mut Driver,
    ) -> Poll<Result<T, E>>
    where
        C: HedgeCtx<T, E, Attempt = A>,
        C::Sleeper: Sleeper<Sleep = Z>,
        A: Future<Output = (Result<T, E>, bool)>,
    {
        'progress: loop {
            for at in 0..self.running.len() {
                let running = &mut self.running[at];
                let polled = {
                    let _entered = running.span.enter();
                    running.attempt.as_mut().poll(cx)
                };
                let Poll::Ready((outcome, timed_out)) = polled else {
                    continue;
                };
                let done = self.running.swap_remove(at);
                if !timed_out {
                    ctx.hedging().record(done.started, ctx.now());
                }
                let due = self.held.as_ref().map_or(0, |(_, due)| due.len());
                let others = self.running.len() + due;
                match ctx.settle(driver, (&outcome, timed_out), done.num, others) {
                    Verdict::Won => {
                        driver.hedge_won(ctx.settings(), ctx.name(), done.num, done.paid);
                        return Poll::Ready(outcome);
                    }
                    Verdict::End => return Poll::Ready(outcome),
                    Verdict::Retry { wait, paid } if wait.is_zero() && self.held.is_none() => {
                        let num = driver.launch();
                        self.launch(ctx, num, driver.deadline(), paid);
                        // Nothing is out: the request could not be copied for the retry.
                        if self.running.is_empty() {
                            return Poll::Ready(outcome);
                        }
                    }
                    Verdict::Retry { wait, paid } => self.hold(ctx, wait, paid),
                    Verdict::Stop => self.stopped = true,
                }
                continue 'progress;
            }
            let Some(timer) = &mut self.timer else {
                return Poll::Pending;
            };
            ready!(timer.as_mut().poll(cx));
            self.timer = None;
            if let Some((_, due)) = self.held.take() {
                for paid in due {
                    let num = driver.launch();
                    self.launch(ctx, num, driver.deadline(), paid);
                }
                continue;
            }
            let (settings, name, now) = (ctx.settings(), ctx.name(), ctx.now());
            match driver.hedge(settings, name, self.running.len(), now) {
                Some((num, paid)) => self.launch(ctx, num, driver.deadline(), paid),
                None => self.stopped = true,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_hold_their_latencies_to_within_an_eighth() {
        for micros in [
            0_u64,
            1,
            15,
            16,
            17,
            100,
            1_000,
            123_456,
            10_000_000,
            u64::MAX,
        ] {
            let bucket = Histogram::bucket(micros);
            assert!(bucket < BUCKETS, "{micros}");
            let upper = Histogram::upper(bucket).as_micros();
            assert!(u128::from(micros) <= upper, "{micros} above {upper}");
            assert!(
                upper <= u128::from(micros) + u128::from(micros) / 8 + 1,
                "{micros}: {upper}"
            );
        }
        // The counters are as many as the largest latency needs, no more.
        assert_eq!(Histogram::bucket(u64::MAX), BUCKETS - 1);
    }

    #[test]
    fn a_percentile_needs_twenty_answers_and_reads_the_last_full_window() {
        let latencies = Latencies::new(0.9, Duration::from_secs(1));
        let t0 = Instant::now();
        for i in 0..19 {
            latencies.record(t0, Duration::from_millis(10 + i));
        }
        assert_eq!(latencies.delay(), None); // nothing full yet
        latencies.record(t0, Duration::from_millis(10));
        latencies.record(t0 + Duration::from_millis(1500), Duration::from_millis(1));
        // The window of 20 answers (10, 10, 11, .., 28 ms) is full: its p90 is the 18th, 26 ms,
        // held to within an eighth.
        let delay = latencies.delay().unwrap();
        assert!(delay >= Duration::from_millis(26) && delay <= Duration::from_millis(30));
        // Two windows later, it says nothing any more.
        latencies.record(t0 + Duration::from_millis(4000), Duration::from_millis(1));
        assert_eq!(latencies.delay(), None);
    }

    #[test]
    fn a_delay_is_the_upper_end_of_its_bucket() {
        let latencies = Latencies::new(0.5, Duration::from_secs(1));
        let t0 = Instant::now();
        for _ in 0..20 {
            latencies.record(t0, Duration::from_micros(1_000));
        }
        latencies.record(t0 + Duration::from_secs(1), Duration::ZERO);
        // 1,000 us falls in the bucket of 960 to 1,023 us.
        assert_eq!(latencies.delay(), Some(Duration::from_micros(1_023)));
        assert_eq!(
            Histogram::upper(Histogram::bucket(15)),
            Duration::from_micros(15)
        );
        assert_eq!(
            Histogram::upper(Histogram::bucket(16)),
            Duration::from_micros(17)
        );
    }

    #[test]
    fn a_window_ended_two_windows_ago_says_nothing() {
        let window = Duration::from_secs(1);
        let full = |age: Duration| {
            let latencies = Latencies::new(0.5, window);
            let t0 = Instant::now();
            for _ in 0..20 {
                latencies.record(t0, Duration::from_millis(10));
            }
            latencies.record(t0 + age, Duration::ZERO);
            latencies.delay().is_some()
        };
        assert!(full(window));
        assert!(full(window * 2 - Duration::from_nanos(1)));
        assert!(!full(window * 2));
    }

    #[test]
    fn debug_shows_the_delay_and_the_attempts_in_flight() {
        let debug = |hedging: Hedging| format!("{hedging:?}");
        assert_eq!(
            debug(Hedging::after(Duration::from_millis(5))),
            "Hedging { after: 5ms, max_in_flight: 2 }"
        );
        assert_eq!(
            debug(Hedging::fallback().max_in_flight(3)),
            "Hedging { fallback: true, max_in_flight: 3 }"
        );
        assert_eq!(
            debug(Hedging::at_percentile(0.95, Duration::from_secs(1))),
            "Hedging { percentile: 0.95, window: 1s, max_in_flight: 2 }"
        );
    }

    #[test]
    fn bad_percentiles_and_windows_are_refused() {
        let window = Duration::from_secs(1);
        for bad in [0.0, -0.5, 1.5, f64::NAN, f64::INFINITY] {
            let err = Hedging::try_at_percentile(bad, window).unwrap_err();
            assert_eq!(err.key(), Some("hedge_percentile"), "{bad}");
        }
        let err = Hedging::try_at_percentile(0.9, Duration::ZERO).unwrap_err();
        assert_eq!(err.key(), Some("hedge_window"));
        assert_eq!(Hedging::parallel().max_in_flight(0).get_max_in_flight(), 1);
    }
}
