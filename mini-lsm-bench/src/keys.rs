//! Which key an operation touches: uniformly random, or YCSB's scrambled zipfian.
//!
//! Zipfian draws follow Gray et al., "Quickly Generating Billion-Record Synthetic Databases"
//! (SIGMOD 1994), the generator YCSB uses: rank `r` (0-based) is drawn with probability
//! proportional to `1 / (r + 1)^theta`. With theta = 0.99 a few keys get most operations: the
//! most popular key alone gets about 1 in 15 of them over 1 M keys. YCSB then *scrambles* the
//! ranks (hashes each rank onto the key space) so that the popular keys are spread over the whole
//! key range instead of being its first keys; a hot key is then a random key, as in real data,
//! and the hot keys do not all share a few blocks.

use clap::ValueEnum;

/// The key distribution of the random workloads (`--dist`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Dist {
    /// Every key equally likely.
    Uniform,
    /// Scrambled zipfian, theta 0.99 (YCSB's default request distribution).
    Zipfian,
}

/// YCSB's skew: theta 0.99.
const THETA: f64 = 0.99;

/// Draws key indexes in `0..items` from a [`Dist`].
#[derive(Debug, Clone)]
pub struct KeyChooser {
    items: usize,
    zipf: Option<Zipfian>,
}

impl KeyChooser {
    pub fn new(dist: Dist, items: usize) -> Self {
        KeyChooser {
            items,
            zipf: (dist == Dist::Zipfian).then(|| Zipfian::new(items as u64, THETA)),
        }
    }

    /// The index of the key the next operation touches.
    pub fn pick(&self, rng: &mut fastrand::Rng) -> usize {
        match &self.zipf {
            None => rng.usize(..self.items),
            Some(zipf) => (fnv1a(zipf.next(rng)) % self.items as u64) as usize,
        }
    }
}

/// The zipfian rank generator: constants computed once for `items` and `theta`.
#[derive(Debug, Clone)]
struct Zipfian {
    items: f64,
    theta: f64,
    alpha: f64,
    zeta_n: f64,
    eta: f64,
}

impl Zipfian {
    fn new(items: u64, theta: f64) -> Self {
        // zeta(n) = sum over ranks 1..=n of 1 / rank^theta: O(n) once (0.1 s for 10 M keys).
        let zeta = |n: u64| {
            (1..=n)
                .map(|rank| 1.0 / (rank as f64).powf(theta))
                .sum::<f64>()
        };
        let zeta_n = zeta(items);
        let zeta_2 = zeta(2.min(items));
        let items = items as f64;
        Zipfian {
            items,
            theta,
            alpha: 1.0 / (1.0 - theta),
            zeta_n,
            eta: (1.0 - (2.0 / items).powf(1.0 - theta)) / (1.0 - zeta_2 / zeta_n),
        }
    }

    /// A rank in `0..items`, rank 0 the most likely.
    fn next(&self, rng: &mut fastrand::Rng) -> u64 {
        let u = rng.f64();
        let uz = u * self.zeta_n;
        if uz < 1.0 {
            return 0;
        }
        if uz < 1.0 + 0.5f64.powf(self.theta) {
            return 1;
        }
        let rank = self.items * (self.eta * u - self.eta + 1.0).powf(self.alpha);
        (rank as u64).min(self.items as u64 - 1)
    }
}

/// FNV-1a over the rank's 8 bytes: YCSB's scrambling hash.
fn fnv1a(value: u64) -> u64 {
    value
        .to_le_bytes()
        .iter()
        .fold(0xcbf2_9ce4_8422_2325, |hash, &byte| {
            (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Counts of each index over `draws` picks.
    fn histogram(chooser: &KeyChooser, items: usize, draws: usize) -> Vec<usize> {
        let mut rng = fastrand::Rng::with_seed(7);
        let mut counts = vec![0; items];
        for _ in 0..draws {
            counts[chooser.pick(&mut rng)] += 1;
        }
        counts
    }

    #[test]
    fn zipfian_is_skewed_and_scrambled_uniform_is_not() {
        let (items, draws) = (10_000, 200_000);
        let mut zipf = histogram(&KeyChooser::new(Dist::Zipfian, items), items, draws);
        // Scrambled: the hottest key is not index 0.
        let hottest = (0..items).max_by_key(|&i| zipf[i]).unwrap();
        assert_ne!(hottest, 0);
        zipf.sort_unstable_by(|a, b| b.cmp(a));
        // theta 0.99 over 10 k ranks: rank 0 has p = 1 / zeta(10 000) ~ 0.10, the top 1 % of
        // keys about 55 % of the draws.
        let top = zipf[0] as f64 / draws as f64;
        assert!((0.08..0.13).contains(&top), "hottest key share {top}");
        let top_percent: usize = zipf[..items / 100].iter().sum();
        assert!(top_percent as f64 / draws as f64 > 0.45);
        let mut uniform = histogram(&KeyChooser::new(Dist::Uniform, items), items, draws);
        uniform.sort_unstable_by(|a, b| b.cmp(a));
        assert!(
            uniform[0] < 60,
            "uniform hottest key drawn {} times",
            uniform[0]
        );
    }

    #[test]
    fn picks_stay_in_range_for_tiny_key_spaces() {
        for items in [1, 2, 3] {
            let chooser = KeyChooser::new(Dist::Zipfian, items);
            let counts = histogram(&chooser, items, 1000);
            assert_eq!(counts.iter().sum::<usize>(), 1000);
        }
    }
}
