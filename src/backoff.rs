//! Wait computation: the exponential part without overflow, the jitter, the cap.
//!
//! Every function here is total: any policy and any attempt number up to `u32::MAX` give a
//! duration in `[0, wait_max]`, never a panic.

mod rng;

use std::cell::Cell;
use std::time::Duration;

pub(crate) use self::rng::JitterRng;
use crate::RetryPolicy;

/// The jitter-free part of the wait after failed attempt `retry_num` (1-based):
/// `min(wait_max, wait_initial * wait_exp_base^(retry_num - 1))`, saturating.
///
/// The product is computed in `f64` and rounded to the nearest nanosecond.
pub(crate) fn exponential(policy: &RetryPolicy, retry_num: u32) -> Duration {
    let (initial, max) = (policy.get_wait_initial(), policy.get_wait_max());
    if initial >= max {
        return max;
    }
    let nanos = initial.as_nanos() as f64 * factor(policy.get_wait_exp_base(), retry_num);
    if nanos >= max.as_nanos() as f64 {
        return max;
    }
    from_nanos_f64(nanos).min(max)
}

/// [`exponential`] in nanoseconds for `initial` and `max`, the policy's, below 2^53 ns: for the
/// default base 2 an integer shift, the same value (multiplying by a power of two is exact in
/// `f64` there), so that the per-retry path needs no float power and no 128-bit conversion.
#[inline(always)]
fn exponential_nanos(policy: &RetryPolicy, initial: u64, max: u64, retry_num: u32) -> u64 {
    if initial >= max {
        return max;
    }
    if policy.get_wait_exp_base() == 2.0 {
        let exponent = retry_num.saturating_sub(1);
        // `initial < max < 2^53`: the shift is exact until it passes `max`, and 0 stays 0. (No
        // early return for 0: the compiler would split every retry loop in two on it.)
        let shifted = initial.wrapping_shl(exponent);
        let exact = exponent < initial.leading_zeros() || initial == 0;
        return if exact && shifted < max { shifted } else { max };
    }
    // Another base: the formula, out of line (the default base keeps the retry loops small);
    // below `max`, so below 2^53 ns.
    exponential(policy, retry_num).as_nanos() as u64
}

/// `base^(retry_num - 1)`.
fn factor(base: f64, retry_num: u32) -> f64 {
    match i32::try_from(retry_num.saturating_sub(1)) {
        _ if base == 1.0 => 1.0,
        Ok(exponent) => base.powi(exponent),
        // Any base above 1 to a power beyond `i32::MAX` is infinite.
        Err(_) => f64::INFINITY,
    }
}

/// The largest number of nanoseconds below which every integer converts to `f64` exactly.
const EXACT_IN_F64: u64 = 1 << 53;

/// `duration` in nanoseconds if that converts to `f64` exactly (below 2^53 ns, 104 days).
#[inline]
fn exact_nanos(duration: Duration) -> Option<u64> {
    // Seconds below 2^53 / 10^9 keep the product below 2^53 with the sub-second part added.
    (duration.as_secs() < EXACT_IN_F64 / 1_000_000_000)
        .then(|| duration.as_secs() * 1_000_000_000 + u64::from(duration.subsec_nanos()))
}

/// How randomness spreads the waits of many clients apart, so that they do not retry in lockstep.
///
/// `w` below is the capped exponential part, `min(wait_max, wait_initial * wait_exp_base^(n-1))`.
///
/// | family | wait after failed attempt `n` | lower bound ([`Attempt::next_wait`](crate::Attempt::next_wait)) |
/// |---|---|---|
/// | [`Additive`](Jitter::Additive) (default) | `min(wait_max, w + U(0, wait_jitter))`: the cap after the jitter | `w` |
/// | [`Full`](Jitter::Full) | `U(0, w)` | `0` |
/// | [`Equal`](Jitter::Equal) | `w/2 + U(0, w/2)` | `w/2` |
/// | [`Decorrelated`](Jitter::Decorrelated) | `min(wait_max, U(wait_initial, 3 * previous wait))`, the first previous wait being `wait_initial` | `min(wait_initial, wait_max)` |
///
/// `wait_jitter` only applies to `Additive`; `wait_exp_base` does not apply to `Decorrelated`.
/// Every family draws its random numbers from a generator per thread, seeded from the operating
/// system's randomness; with [`RetryPolicy::seed`], from a generator of the loop's own, which makes
/// its waits reproducible.
///
/// `Additive` is Python stamina's, kept as the default for parity; with a small `wait_jitter`
/// it spreads contending clients least. `Full`, `Equal` and `Decorrelated` spread them far
/// better: in the `storm` example's model of 100 clients updating one row (5 ms base, 2 s cap;
/// `cargo run --release --example storm`), `Decorrelated` made the fewest calls and finished
/// first (443 calls, 0.38 s), ahead of `Full` (544, 0.47 s) and `Equal` (556, 0.53 s), against
/// 710 calls and 14.6 s for `Additive` with a 5 ms jitter. `Equal` keeps a guaranteed minimum wait; `Decorrelated` grows from the previous
/// wait rather than the attempt number.
///
/// ```
/// use std::time::Duration;
/// use stamina::{Jitter, RetryPolicy};
///
/// let policy = RetryPolicy::new().jitter(Jitter::Full);
/// assert_eq!(policy.to_string(), "attempts=10 timeout=45s wait_initial=100ms wait_max=5s wait_jitter=1s wait_exp_base=2 jitter=full");
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Jitter {
    /// `min(wait_max, w + U(0, wait_jitter))` (Python stamina's).
    #[default]
    Additive,
    /// `U(0, w)`.
    Full,
    /// `w/2 + U(0, w/2)`.
    Equal,
    /// `min(wait_max, U(wait_initial, 3 * previous wait))`.
    Decorrelated,
}

impl Jitter {
    pub(crate) const fn name(self) -> &'static str {
        match self {
            Self::Additive => "additive",
            Self::Full => "full",
            Self::Equal => "equal",
            Self::Decorrelated => "decorrelated",
        }
    }

    pub(crate) fn from_name(name: &str) -> Option<Self> {
        [Self::Additive, Self::Full, Self::Equal, Self::Decorrelated]
            .into_iter()
            .find(|j| j.name() == name)
    }
}

impl std::fmt::Display for Jitter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The computed wait after failed attempt `retry_num`, in the policy's jitter family.
///
/// `previous` is the previous computed wait (`wait_initial` before the first), updated here.
/// The random numbers come from the thread's jitter generator (see [`thread_draw`]), or, with a
/// seed, from the loop's own generator `rng`, made on its first draw (see [`rng`]).
///
/// Always inlined, with its rare paths out of line: in a caller's loop most of it is computed
/// once per loop, and a call per retry cost a third of a zero-wait retry where the compiler
/// chose not to inline it.
#[inline(always)]
pub(crate) fn wait(
    policy: &RetryPolicy,
    retry_num: u32,
    previous: &mut Duration,
    rng: &mut Option<JitterRng>,
) -> Duration {
    let draw = &mut |span| match policy.get_seed() {
        None => thread_draw(span),
        Some(_) => loop_rng(rng, policy).up_to(span),
    };
    let wait = match family_wait_nanos(policy, retry_num, *previous, draw) {
        // Below a second, without `from_nanos`' division (a tenth of a retry's time).
        Some(nanos) if nanos < 1_000_000_000 => Duration::new(0, nanos as u32),
        Some(nanos) => Duration::from_nanos(nanos),
        None => wait_beyond_nanos(policy, retry_num, *previous, rng),
    };
    *previous = wait;
    wait
}

/// [`wait`] for durations beyond 2^53 ns, in `Duration` arithmetic.
#[cold]
#[inline(never)]
fn wait_beyond_nanos(
    policy: &RetryPolicy,
    retry_num: u32,
    previous: Duration,
    rng: &mut Option<JitterRng>,
) -> Duration {
    family_wait(policy, retry_num, previous, |span| {
        uniform(span, loop_rng(rng, policy))
    })
}

/// The family formulas, with the uniform draw `draw(span)` (in `[0, span]`) passed in, so that
/// they can be checked against fixed draws. `draw` is not called for an empty span.
fn family_wait(
    policy: &RetryPolicy,
    retry_num: u32,
    previous: Duration,
    mut draw: impl FnMut(Duration) -> Duration,
) -> Duration {
    let max = policy.get_wait_max();
    let mut between = |low: Duration, high: Duration| {
        if high <= low {
            low
        } else {
            low + draw(high - low)
        }
    };
    match policy.get_jitter() {
        Jitter::Additive => {
            let exp = exponential(policy, retry_num);
            let jitter = policy.get_wait_jitter();
            if exp >= max || jitter.is_zero() {
                return exp;
            }
            between(exp, exp.saturating_add(jitter)).min(max)
        }
        Jitter::Full => between(Duration::ZERO, exponential(policy, retry_num)),
        Jitter::Equal => {
            let exp = exponential(policy, retry_num);
            between(exp / 2, exp)
        }
        Jitter::Decorrelated => {
            let low = policy.get_wait_initial().min(max);
            between(low, previous.saturating_mul(3).max(low)).min(max)
        }
    }
}

/// [`family_wait`] in whole nanoseconds, when every duration it needs is below 2^53 ns (104
/// days; `None` otherwise, before any draw): the same values and the same draws, with `u64`
/// arithmetic that cannot overflow in that range instead of `Duration`'s. `draw(span)` is
/// uniform in `[0, span]`, called only for `span > 0`.
#[inline(always)]
fn family_wait_nanos(
    policy: &RetryPolicy,
    retry_num: u32,
    previous: Duration,
    draw: &mut impl FnMut(u64) -> u64,
) -> Option<u64> {
    let initial = exact_nanos(policy.get_wait_initial())?;
    let max = exact_nanos(policy.get_wait_max())?;
    let mut between = |low: u64, high: u64| {
        if high <= low {
            low
        } else {
            low + draw(high - low)
        }
    };
    let exp = || exponential_nanos(policy, initial, max, retry_num);
    Some(match policy.get_jitter() {
        Jitter::Additive => {
            let jitter = exact_nanos(policy.get_wait_jitter())?;
            let exp = exp();
            if exp >= max || jitter == 0 {
                return Some(exp);
            }
            between(exp, exp + jitter).min(max)
        }
        Jitter::Full => between(0, exp()),
        Jitter::Equal => {
            let exp = exp();
            between(exp / 2, exp)
        }
        Jitter::Decorrelated => {
            let low = initial.min(max);
            let previous = exact_nanos(previous)?;
            between(low, (previous * 3).max(low)).min(max)
        }
    })
}

/// The lower bound of the wait after attempt `num` in the policy's jitter family (see [`Jitter`]).
pub(crate) fn lower_bound(policy: &RetryPolicy, num: u32) -> Duration {
    match policy.get_jitter() {
        Jitter::Additive => exponential(policy, num),
        Jitter::Full => Duration::ZERO,
        Jitter::Equal => exponential(policy, num) / 2,
        Jitter::Decorrelated => policy.get_wait_initial().min(policy.get_wait_max()),
    }
}

/// A uniformly distributed duration in `[0, max]`.
fn uniform(max: Duration, rng: &mut JitterRng) -> Duration {
    match u64::try_from(max.as_nanos()) {
        Ok(nanos) => Duration::from_nanos(rng.up_to(nanos)),
        // Beyond 584 years of jitter nanosecond resolution is moot.
        Err(_) => from_nanos_f64(max.as_nanos() as f64 * rng.unit_f64()).min(max),
    }
}

/// The loop's generator, made on its first use.
#[inline]
fn loop_rng<'a>(rng: &'a mut Option<JitterRng>, policy: &RetryPolicy) -> &'a mut JitterRng {
    rng.get_or_insert_with(|| self::rng(policy))
}

/// A loop's generator: seeded with the policy's seed if it has one, else differently each time
/// (for waits beyond the reach of [`family_wait_nanos`]). Made once per loop and kept out of
/// line: inlined, the seeding is hoisted into every loop that might draw.
#[cold]
#[inline(never)]
fn rng(policy: &RetryPolicy) -> JitterRng {
    JitterRng::seeded(policy.get_seed().unwrap_or_else(thread_next))
}

/// The increment of the thread's generator (wyrand's: odd, so the state visits every `u64`).
const WY_INCREMENT: u64 = 0xa076_1d64_78bd_642f;
/// What wyrand mixes the state with before multiplying it by itself.
const WY_MIX: u64 = 0xe703_7ed1_a0b4_28db;

thread_local! {
    /// The state of the thread's jitter generator; 0 until its first use.
    static THREAD_JITTER: Cell<u64> = const { Cell::new(0) };
}

/// The next number of the thread's jitter generator, which the loops without a seed draw from:
/// wyrand (a Weyl sequence and one 128-bit multiplication), started at the thread's first draw
/// from an unseeded [`JitterRng`] (the standard library's per-thread random keys, a counter and
/// the time). Seeding a generator per loop costs more than all of a retry's other work (a hash
/// and a clock read); a generator per thread is one word of state, and wyrand's output is well
/// spread for jitter (not for secrets), with one multiplication where SplitMix64 takes two.
#[inline]
fn thread_next() -> u64 {
    THREAD_JITTER.with(|cell| {
        let mut state = cell.get();
        if state == 0 {
            state = thread_seed();
        }
        state = state.wrapping_add(WY_INCREMENT);
        cell.set(state);
        let product = u128::from(state) * u128::from(state ^ WY_MIX);
        (product >> 64) as u64 ^ product as u64
    })
}

/// The start of a thread's jitter generator.
#[cold]
#[inline(never)]
fn thread_seed() -> u64 {
    JitterRng::unseeded().next_u64()
}

/// A number uniform in `[0, span]` from the thread's jitter generator, by multiplying and keeping
/// the high word (off uniform by at most `(span + 1) / 2^64`).
#[inline]
fn thread_draw(span: u64) -> u64 {
    ((u128::from(thread_next()) * (u128::from(span) + 1)) >> 64) as u64
}

/// Converts a non-negative number of nanoseconds to a `Duration`, rounded to the nearest
/// nanosecond (halves away from zero), saturating at `Duration::MAX`.
fn from_nanos_f64(nanos: f64) -> Duration {
    if nanos.is_nan() || nanos < u64::MAX as f64 {
        // `as` turns NaN and negative numbers into 0.
        Duration::from_nanos(nanos.round() as u64)
    } else {
        Duration::try_from_secs_f64(nanos / 1e9).unwrap_or(Duration::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    /// The thread's generator is seeded once, then steps by wyrand (known answers from a
    /// state of 1).
    #[test]
    fn the_thread_generator_is_wyrand_seeded_once() {
        THREAD_JITTER.with(|cell| cell.set(1));
        assert_eq!(thread_next(), 0xcdef_1695_e1f8_ed2c);
        assert_eq!(thread_next(), 0x61d6_d24b_1c9a_ad40);
        assert_eq!(THREAD_JITTER.with(Cell::get), 0x40ec_3ac8_f17a_c85f);
    }

    /// Threads start their generators apart, so that loops on different threads do not
    /// jitter in lockstep.
    #[test]
    fn threads_start_their_generators_apart() {
        let first = || std::thread::spawn(thread_next).join().unwrap();
        assert_ne!(first(), first());
    }

    /// At the cap, the additive family's wait is the cap and no jitter is drawn, in both
    /// computations.
    #[test]
    fn at_the_cap_no_jitter_is_drawn() {
        let p = RetryPolicy::new()
            .wait_initial(secs(0.25))
            .wait_max(secs(1.0));
        let mut draws = 0;
        let wait = family_wait(&p, 5, Duration::ZERO, |span| {
            draws += 1;
            span
        });
        assert_eq!((wait, draws), (secs(1.0), 0));
        let wait = family_wait_nanos(&p, 5, Duration::ZERO, &mut |span| {
            draws += 1;
            span
        });
        assert_eq!((wait, draws), (Some(1_000_000_000), 0));
    }

    /// 2^64 ns, past what `u64` nanoseconds hold, is more than `u64::MAX` ns.
    #[test]
    fn nanoseconds_past_u64_saturate_only_at_duration_max() {
        let past = from_nanos_f64(18_446_744_073_709_551_616.0);
        assert!(past > Duration::from_nanos(u64::MAX), "{past:?}");
        assert_eq!(from_nanos_f64(f64::INFINITY), Duration::MAX);
    }

    /// Only a duration below 2^53 ns is given in nanoseconds: one just above is not, even
    /// with whole seconds below the limit's.
    #[test]
    fn exact_nanos_stops_below_2_pow_53() {
        let below = Duration::from_secs(9_007_198);
        assert_eq!(exact_nanos(below), Some(9_007_198_000_000_000));
        assert_eq!(exact_nanos(Duration::from_nanos(EXACT_IN_F64 + 1)), None);
        assert_eq!(exact_nanos(Duration::from_secs(100_000_000)), None);
    }

    #[test]
    fn jitter_free_defaults() {
        let p = RetryPolicy::new().wait_jitter(Duration::ZERO);
        let waits: Vec<_> = (1..=9).map(|n| exponential(&p, n)).collect();
        let expected: Vec<_> = [0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 5.0, 5.0, 5.0]
            .into_iter()
            .map(secs)
            .collect();
        assert_eq!(waits, expected);
        let mut rng = None;
        let mut prev = p.get_wait_initial();
        let jittered: Vec<_> = (1..=9).map(|n| wait(&p, n, &mut prev, &mut rng)).collect();
        assert!(rng.is_none(), "no jitter, no generator");
        assert_eq!(jittered, expected);
    }

    #[test]
    fn seeded_jitter_is_reproducible_and_bounded() {
        let p = RetryPolicy::new();
        let draw = |seed| {
            let mut rng = None;
            let mut prev = Duration::ZERO;
            (1..=10)
                .map(|n| wait(&p.seed(seed), n, &mut prev, &mut rng))
                .collect::<Vec<_>>()
        };
        let a = draw(7);
        assert_eq!(a, draw(7));
        assert_ne!(a, draw(8));
        for (n, wait) in (1..=10).zip(&a) {
            let low = exponential(&p, n);
            assert!(*wait >= low && *wait <= (low + Duration::from_secs(1)).min(p.get_wait_max()));
        }
        // 3.2 s plus up to 1 s may cross the cap; from the 7th wait on, the cap rules alone.
        assert_eq!(&a[6..], &[Duration::from_secs(5); 4]);
    }

    /// The exact waits of a seeded loop with a base other than 2, whose exponential part is the
    /// `f64` product, rounded (see also `seeded_sequences_are_pinned`).
    #[test]
    fn seeded_sequences_with_a_fractional_base_are_pinned() {
        let p = RetryPolicy::new()
            .wait_initial(Duration::from_nanos(123_456_789))
            .wait_exp_base(1.7)
            .wait_max(Duration::from_secs(60))
            .wait_jitter(Duration::from_nanos(777_777))
            .seed(7);
        let mut rng = None;
        let mut prev = p.get_wait_initial();
        let got: Vec<_> = (1..=12).map(|n| wait(&p, n, &mut prev, &mut rng)).collect();
        let expected = [
            123499847,
            210010408,
            357348234,
            606875478,
            1031872960,
            1753272075,
            2980509802,
            5066166038,
            8612810173,
            14640535445,
            24888902213,
            42311116464,
        ]
        .map(Duration::from_nanos);
        assert_eq!(got, expected);
    }

    #[test]
    fn unseeded_loops_draw_from_the_thread_generator() {
        let p = RetryPolicy::new()
            .wait_jitter(Duration::from_secs(3600))
            .wait_max(Duration::from_secs(86_400));
        let first_waits: Vec<_> = (0..8)
            .map(|_| {
                let mut rng = None;
                let mut prev = Duration::ZERO;
                let wait = wait(&p, 1, &mut prev, &mut rng);
                assert!(rng.is_none(), "no seed, no generator of the loop's own");
                wait
            })
            .collect();
        assert!(first_waits.iter().all(|w| *w >= Duration::from_millis(100)));
        // The first waits of eight loops, drawn from an hour of jitter in nanoseconds, differ.
        let mut sorted = first_waits.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), 8, "{first_waits:?}");
        // Draws cover their range: the extremes of a span of 1, and nothing beyond a span.
        let draws: Vec<_> = (0..64).map(|_| thread_draw(1)).collect();
        assert!(draws.contains(&0) && draws.contains(&1) && draws.iter().all(|d| *d <= 1));
        assert_eq!(thread_draw(0), 0);
    }

    #[test]
    fn thread_draws_are_spread_evenly() {
        // 100,000 draws in [0, 9]: each value 10,000 times, give or take 95 (one standard
        // deviation); a bucket off by 600 (over six) means a broken generator, not bad luck.
        let mut buckets = [0_u32; 10];
        for _ in 0..100_000 {
            buckets[usize::try_from(thread_draw(9)).unwrap()] += 1;
        }
        assert!(
            buckets.iter().all(|n| n.abs_diff(10_000) < 600),
            "{buckets:?}"
        );
        // And the top bit of a full-range draw is set half the time.
        let set = (0..100_000)
            .filter(|_| thread_draw(u64::MAX) >> 63 == 1)
            .count();
        assert!(set.abs_diff(50_000) < 1_000, "{set}");
    }

    /// The exact waits a seed gives, per family and at the edges of the draw's range (a full
    /// `u64` range, a range past `u64` nanoseconds, a range where half the draws take a second
    /// word): a seed is a promise that the same policy waits the same on every platform and
    /// release, so that recorded runs and simulations can be replayed. The values are those of
    /// `rand` 0.10's `SmallRng` on 64-bit targets, which the crate's generator replaced.
    #[test]
    fn seeded_sequences_are_pinned() {
        let run = |p: RetryPolicy, n: u32| {
            let mut rng = None;
            let mut prev = p.get_wait_initial();
            (1..=n)
                .map(|i| wait(&p, i, &mut prev, &mut rng).as_nanos())
                .collect::<Vec<_>>()
        };
        let base = RetryPolicy::new().seed(7);
        #[rustfmt::skip]
        let families = [
            (Jitter::Additive, [155360436, 372115854, 1117576129, 1227209819, 2563659522, 3665703689, 5000000000]),
            (Jitter::Full, [5536043, 34423171, 287030452, 341767855, 1541855235, 1490251805, 3619535476]),
            (Jitter::Equal, [52768021, 117211585, 343515226, 570883928, 1570927618, 2345125903, 4309767738]),
            (Jitter::Decorrelated, [111072087, 140140216, 329926208, 480122165, 1391656936, 1997728938, 4366119748]),
        ];
        for (jitter, expected) in families {
            assert_eq!(run(base.jitter(jitter), 7), expected, "{jitter}");
        }
        assert_eq!(
            run(RetryPolicy::new().seed(0), 3),
            [424575268, 582239296, 759617208]
        );
        assert_eq!(
            run(RetryPolicy::new().seed(u64::MAX), 3),
            [439065123, 1100475041, 1290284875]
        );
        let unbounded = RetryPolicy::new()
            .seed(1)
            .wait_initial(Duration::ZERO)
            .wait_max(Duration::MAX);
        assert_eq!(
            run(unbounded.wait_jitter(Duration::from_nanos(u64::MAX)), 3),
            [
                14971601782005023387,
                13781649495232077965,
                1847458086238483744
            ]
        );
        assert_eq!(
            run(unbounded.wait_jitter(Duration::MAX), 3),
            [
                14971601782005022720000000000,
                13781649495232077824000000000,
                1847458086238482432000000000
            ]
        );
        assert_eq!(
            run(unbounded.wait_jitter(Duration::from_nanos(1 << 63)), 16),
            [
                7485800891002511694,
                6890824747616038983,
                923729043119241872,
                6882635817876368235,
                5446206433791054243,
                9102306780837972612,
                4827668466946406673,
                890994579880912360,
                1238641514034460171,
                8489012055773803301,
                3168237733809651673,
                3639362766720477220,
                1442046146537346141,
                4361764194286802810,
                5923763311312111525,
                7322810630290309893
            ]
        );
    }

    #[test]
    fn extremes_saturate() {
        let p = RetryPolicy::new()
            .wait_max(Duration::MAX)
            .wait_jitter(Duration::MAX);
        assert_eq!(exponential(&p, u32::MAX), Duration::MAX);
        let mut rng = Some(JitterRng::seeded(1));
        let mut prev = Duration::MAX;
        assert_eq!(wait(&p, u32::MAX, &mut prev, &mut rng), Duration::MAX);
        assert!(wait(&p, 1, &mut prev, &mut rng) >= Duration::from_millis(100));
        for jitter in [Jitter::Full, Jitter::Equal, Jitter::Decorrelated] {
            let p = p.jitter(jitter);
            let mut prev = Duration::MAX;
            assert!(wait(&p, u32::MAX, &mut prev, &mut rng) <= Duration::MAX);
            assert!(wait(&p, 1, &mut prev, &mut rng) <= Duration::MAX);
        }
        let zero = RetryPolicy::new()
            .wait_initial(Duration::ZERO)
            .wait_jitter(Duration::ZERO);
        assert_eq!(exponential(&zero, u32::MAX), Duration::ZERO);
        let flat = RetryPolicy::new().wait_exp_base(1.0);
        assert_eq!(exponential(&flat, u32::MAX), Duration::from_millis(100));
        assert_eq!(exponential(&p, 0), Duration::from_millis(100));
        let above = RetryPolicy::new().wait_initial(Duration::from_secs(9));
        assert_eq!(exponential(&above, 1), Duration::from_secs(5));
    }

    /// Golden values of each family at fixed draws: the low end, the middle, the high end.
    #[test]
    fn family_goldens() {
        let ms = Duration::from_millis;
        let base = RetryPolicy::new(); // 100 ms, x2, 5 s cap, 1 s jitter
        let at = |p: &RetryPolicy, n: u32, prev: Duration, q: u32| {
            family_wait(p, n, prev, |span| span * q / 4)
        };
        let cases: &[(Jitter, u32, Duration, [Duration; 3])] = &[
            // n = 3: w = 400 ms.
            (Jitter::Additive, 3, ms(0), [ms(400), ms(900), ms(1400)]),
            (Jitter::Full, 3, ms(0), [ms(0), ms(200), ms(400)]),
            (Jitter::Equal, 3, ms(0), [ms(200), ms(300), ms(400)]),
            // previous 1 s: U(100 ms, 3 s).
            (
                Jitter::Decorrelated,
                3,
                ms(1000),
                [ms(100), ms(1550), ms(3000)],
            ),
            // Near the cap: w = 3.2 s, 3.2 + 1 s > 5 s is capped; 3 * 2 s = 6 s is capped.
            (Jitter::Additive, 6, ms(0), [ms(3200), ms(3700), ms(4200)]),
            (
                Jitter::Decorrelated,
                6,
                ms(2000),
                [ms(100), ms(3050), ms(5000)],
            ),
            // At the cap: w = 5 s.
            (Jitter::Additive, 9, ms(0), [ms(5000), ms(5000), ms(5000)]),
            (Jitter::Full, 9, ms(0), [ms(0), ms(2500), ms(5000)]),
            (Jitter::Equal, 9, ms(0), [ms(2500), ms(3750), ms(5000)]),
        ];
        for (jitter, n, prev, expected) in cases {
            let p = base.jitter(*jitter);
            let got = [0, 2, 4].map(|q| at(&p, *n, *prev, q));
            assert_eq!(&got, expected, "{jitter} n={n}");
        }
        let big_jitter = base.wait_jitter(Duration::from_secs(10));
        assert_eq!(at(&big_jitter, 6, ms(0), 4), ms(5000));
    }

    #[test]
    fn jitter_names_round_trip() {
        for j in [
            Jitter::Additive,
            Jitter::Full,
            Jitter::Equal,
            Jitter::Decorrelated,
        ] {
            assert_eq!(Jitter::from_name(&j.to_string()), Some(j));
        }
        assert_eq!(Jitter::from_name("none"), None);
    }

    fn any_duration() -> impl Strategy<Value = Duration> {
        prop_oneof![
            Just(Duration::ZERO),
            Just(Duration::MAX),
            (0u64..10_000_000_000).prop_map(Duration::from_nanos),
            (any::<u64>(), 0u32..1_000_000_000).prop_map(|(s, n)| Duration::new(s, n)),
            // Around 2^53 ns, where `f64` stops holding every nanosecond.
            (9_007_190u64..9_007_210, 0u32..1_000_000_000).prop_map(|(s, n)| Duration::new(s, n)),
        ]
    }

    fn any_policy() -> impl Strategy<Value = RetryPolicy> {
        (
            any_duration(),
            any_duration(),
            any_duration(),
            prop_oneof![Just(1.0), Just(2.0), Just(1.5), 1.0f64..1e6, Just(f64::MAX)],
            any::<u64>(),
            prop_oneof![
                Just(Jitter::Additive),
                Just(Jitter::Full),
                Just(Jitter::Equal),
                Just(Jitter::Decorrelated)
            ],
        )
            .prop_map(|(initial, max, jitter, base, seed, family)| {
                RetryPolicy::new()
                    .wait_initial(initial)
                    .wait_max(max)
                    .wait_jitter(jitter)
                    .wait_exp_base(base)
                    .seed(seed)
                    .jitter(family)
            })
    }

    proptest! {
        #[test]
        fn every_wait_is_within_bounds(
            p in any_policy(),
            n in prop_oneof![1u32..64, any::<u32>()],
            previous in any_duration(),
        ) {
            let mut rng = None;
            let mut prev = previous;
            let exp = exponential(&p, n);
            let wait = wait(&p, n, &mut prev, &mut rng);
            prop_assert_eq!(prev, wait);
            prop_assert!(exp <= p.get_wait_max());
            prop_assert!(wait <= p.get_wait_max());
            prop_assert!(wait >= lower_bound(&p, n));
            match p.get_jitter() {
                Jitter::Additive => {
                    prop_assert!(wait <= exp.saturating_add(p.get_wait_jitter()));
                }
                Jitter::Full | Jitter::Equal => prop_assert!(wait <= exp),
                Jitter::Decorrelated => {
                    prop_assert!(wait <= previous.saturating_mul(3).max(p.get_wait_initial()));
                }
            }
        }

        /// [`exponential`] and its per-retry shortcut give exactly the plain formula's result:
        /// the 128-bit conversions, `powi` and `round`.
        #[test]
        fn exponential_matches_the_float_formula(p in any_policy(), n in prop_oneof![1u32..80, any::<u32>()]) {
            let (initial, max) = (p.get_wait_initial(), p.get_wait_max());
            let expected = if initial.is_zero() {
                Duration::ZERO
            } else if initial >= max {
                max
            } else {
                let exponent = n.saturating_sub(1);
                let base = p.get_wait_exp_base();
                let factor = if base == 1.0 || exponent == 0 {
                    1.0
                } else {
                    i32::try_from(exponent).map_or(f64::INFINITY, |e| base.powi(e))
                };
                let nanos = initial.as_nanos() as f64 * factor;
                if nanos >= max.as_nanos() as f64 {
                    max
                } else if nanos < u64::MAX as f64 {
                    Duration::from_nanos(nanos.round() as u64).min(max)
                } else {
                    Duration::try_from_secs_f64(nanos / 1e9).unwrap_or(Duration::MAX).min(max)
                }
            };
            prop_assert_eq!(exponential(&p, n), expected);
            if let (Some(initial), Some(max)) = (exact_nanos(initial), exact_nanos(max)) {
                let nanos = exponential_nanos(&p, initial, max, n);
                prop_assert_eq!(Duration::from_nanos(nanos), expected);
            }
        }

        /// The nanosecond path gives the `Duration` formulas' waits, from the same draws.
        #[test]
        fn the_nanosecond_path_matches_the_duration_formulas(
            p in any_policy(),
            n in prop_oneof![1u32..64, any::<u32>()],
            previous in any_duration(),
        ) {
            let seed = p.get_seed().unwrap();
            let mut rng = None;
            let mut prev = previous;
            let fast = wait(&p, n, &mut prev, &mut rng);
            let mut reference_rng = JitterRng::seeded(seed);
            let reference = family_wait(&p, n, previous, |span| uniform(span, &mut reference_rng));
            prop_assert_eq!(fast, reference);
            // The same number of draws: the generators are in the same state.
            if let Some(mut rng) = rng {
                prop_assert_eq!(rng.next_u64(), reference_rng.next_u64());
            }
        }

        #[test]
        fn rounding_matches_f64_round(nanos in prop_oneof![
            0.0f64..1e3,
            0.0f64..1e17,
            1e17f64..1.8e19,
            // Halves, which round away from zero.
            (0u64..1 << 52).prop_map(|n| n as f64 + 0.5),
        ]) {
            let expected = Duration::from_nanos(nanos.round() as u64);
            prop_assert_eq!(from_nanos_f64(nanos), expected);
        }

        #[test]
        fn exponential_never_shrinks(p in any_policy(), n in 1u32..u32::MAX) {
            prop_assert!(exponential(&p, n) <= exponential(&p, n + 1));
        }
    }
}
