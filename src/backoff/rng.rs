//! The jitter's random number generator: xoshiro256++ (Blackman and Vigna, 2018), its state
//! filled from a `u64` seed by SplitMix64, with unbiased draws in a range.
//!
//! Jitter needs speed, a small state and reproducible seeds, not secrecy, so the crate carries
//! these few lines instead of a dependency (and the duplicate `rand`, `rand_core` and `getrandom`
//! versions it brought into applications). A seed gives the sequence `rand` 0.10's `SmallRng` gave
//! on 64-bit targets, now on every target.

use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

/// The step of SplitMix64's counter: 2^64 divided by the golden ratio, rounded to odd.
const GOLDEN_GAMMA: u64 = 0x9e37_79b9_7f4a_7c15;

/// A xoshiro256++ generator. Never all zeros (SplitMix64 fills it with four distinct outputs of
/// a bijection, of which at most one is zero).
#[derive(Clone)]
pub(crate) struct JitterRng {
    s: [u64; 4],
}

impl JitterRng {
    /// The generator for a seed: the same seed, the same sequence, on every platform. The
    /// state is SplitMix64's first four outputs, the `i`-th mixing `seed + i * GOLDEN_GAMMA`.
    pub(crate) fn seeded(seed: u64) -> Self {
        let s = [1, 2, 3, 4].map(|i| split_mix(seed.wrapping_add(GOLDEN_GAMMA.wrapping_mul(i))));
        Self { s }
    }

    /// A generator seeded differently on every call, from the standard library's per-thread
    /// random hash keys (drawn from the operating system once per thread), a process-wide
    /// counter and the time.
    pub(crate) fn unseeded() -> Self {
        static CALLS: AtomicU64 = AtomicU64::new(0);
        // Each `RandomState::new()` on a thread differs from the last; the counter and the time
        // tell threads apart should two ever draw the same keys.
        let mut hasher = RandomState::new().build_hasher();
        hasher.write_u64(CALLS.fetch_add(1, Ordering::Relaxed));
        if let Ok(since_epoch) = std::time::SystemTime::UNIX_EPOCH.elapsed() {
            hasher.write_u128(since_epoch.as_nanos());
        }
        Self::seeded(hasher.finish())
    }

    /// The next 64 random bits.
    pub(crate) const fn next_u64(&mut self) -> u64 {
        let [s0, s1, s2, s3] = self.s;
        let out = s0.wrapping_add(s3).rotate_left(23).wrapping_add(s0);
        let s2 = s2 ^ s0;
        let s3 = s3 ^ s1;
        self.s = [s0 ^ s3, s1 ^ s2, s2 ^ (s1 << 17), s3.rotate_left(45)];
        out
    }

    /// A uniformly distributed integer in `[0, max]`.
    ///
    /// Multiply-and-shift (Lemire) on a 64-bit draw; where the low half of the product shows
    /// that the result could be one too low, a second draw settles it (Canon's method), which
    /// leaves a bias below 2^-64.
    pub(crate) const fn up_to(&mut self, max: u64) -> u64 {
        let Some(range) = max.checked_add(1) else {
            return self.next_u64();
        };
        let product = self.next_u64() as u128 * range as u128;
        let (mut high, low) = ((product >> 64) as u64, product as u64);
        if low > range.wrapping_neg() {
            let carry = (self.next_u64() as u128 * range as u128) >> 64;
            if low.checked_add(carry as u64).is_none() {
                high += 1;
            }
        }
        high
    }

    /// A uniformly distributed number in `[0, 1)`, from the top 53 bits of a draw.
    pub(crate) const fn unit_f64(&mut self) -> f64 {
        const SCALE: f64 = 1.0 / (1u64 << 53) as f64;
        (self.next_u64() >> 11) as f64 * SCALE
    }
}

/// Leaves out the state: it would let anyone who reads a log predict the jitter.
impl fmt::Debug for JitterRng {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JitterRng").finish_non_exhaustive()
    }
}

/// SplitMix64's output function (Steele, Lea and Flood, 2014): a bijection that mixes a counter
/// into well-distributed bits.
const fn split_mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The first outputs of xoshiro256++ from the state 1, 2, 3, 4, as published with the
    /// algorithm's reference implementation.
    #[test]
    fn xoshiro_reference_outputs() {
        let mut rng = JitterRng { s: [1, 2, 3, 4] };
        let out: Vec<u64> = (0..4).map(|_| rng.next_u64()).collect();
        assert_eq!(
            out,
            [41943041, 58720359, 3588806011781223, 3591011842654386]
        );
    }

    /// SplitMix64 from seed 1234567, as in its reference implementation's test vectors.
    #[test]
    fn split_mix_reference_outputs() {
        let mut state = 1234567u64;
        let out: Vec<u64> = (0..3)
            .map(|_| {
                state = state.wrapping_add(GOLDEN_GAMMA);
                split_mix(state)
            })
            .collect();
        assert_eq!(
            out,
            [
                6457827717110365317,
                3203168211198807973,
                9817491932198370423
            ]
        );
    }

    #[test]
    fn draws_stay_in_range() {
        let mut rng = JitterRng::seeded(3);
        for max in [0, 1, 2, 999, u64::MAX / 2, u64::MAX - 1, u64::MAX] {
            for _ in 0..1000 {
                assert!(rng.up_to(max) <= max);
            }
        }
        assert_eq!(rng.up_to(0), 0);
        for _ in 0..1000 {
            let x = rng.unit_f64();
            assert!((0.0..1.0).contains(&x), "{x}");
        }
    }

    /// Every value of a small range comes up about equally often.
    #[test]
    fn small_ranges_are_uniform() {
        let mut rng = JitterRng::seeded(11);
        let mut counts = [0u32; 7];
        for _ in 0..70_000 {
            counts[rng.up_to(6) as usize] += 1;
        }
        for count in counts {
            assert!((9_500..10_500).contains(&count), "{counts:?}");
        }
    }

    #[test]
    fn unseeded_generators_differ() {
        let a = JitterRng::unseeded().next_u64();
        let b = JitterRng::unseeded().next_u64();
        let c = std::thread::spawn(|| JitterRng::unseeded().next_u64())
            .join()
            .unwrap();
        assert!(a != b && b != c && a != c, "{a} {b} {c}");
    }

    #[test]
    fn debug_hides_the_state() {
        assert_eq!(format!("{:?}", JitterRng::seeded(1)), "JitterRng { .. }");
    }
}
