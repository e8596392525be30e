//! NumPy's legacy `RandomState(seed).shuffle`: the Mersenne Twister (MT19937, seeded by
//! `init_genrand`) and its Fisher–Yates with masked rejection sampling (`random_interval`).
//! Keras's `imdb.load_data(seed=113)` orders the reviews with it, so the same seed gives
//! Keras's exact order.

/// MT19937 with NumPy's legacy integer seeding.
pub struct Mt19937 {
    key: [u32; 624],
    pos: usize,
}

impl Mt19937 {
    /// `np.random.RandomState(seed)`'s generator.
    pub fn new(seed: u32) -> Mt19937 {
        let mut key = [0u32; 624];
        key[0] = seed;
        for i in 1..624 {
            key[i] = 1_812_433_253u32
                .wrapping_mul(key[i - 1] ^ (key[i - 1] >> 30))
                .wrapping_add(i as u32);
        }
        Mt19937 { key, pos: 624 }
    }

    fn generate(&mut self) {
        const UPPER: u32 = 0x8000_0000;
        const LOWER: u32 = 0x7fff_ffff;
        for i in 0..624 {
            let y = (self.key[i] & UPPER) | (self.key[(i + 1) % 624] & LOWER);
            let mut v = self.key[(i + 397) % 624] ^ (y >> 1);
            if y & 1 != 0 {
                v ^= 0x9908_b0df;
            }
            self.key[i] = v;
        }
        self.pos = 0;
    }

    /// Next 32 random bits.
    pub fn next_u32(&mut self) -> u32 {
        if self.pos == 624 {
            self.generate();
        }
        let mut y = self.key[self.pos];
        self.pos += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c_5680;
        y ^= (y << 15) & 0xefc6_0000;
        y ^ (y >> 18)
    }

    fn next_u64(&mut self) -> u64 {
        ((self.next_u32() as u64) << 32) | self.next_u32() as u64
    }

    /// NumPy's `random_interval(max)`: uniform in `0..=max`.
    pub fn interval(&mut self, max: u64) -> u64 {
        if max == 0 {
            return 0;
        }
        let mut mask = max;
        for s in [1, 2, 4, 8, 16, 32] {
            mask |= mask >> s;
        }
        loop {
            let v = if max <= 0xffff_ffff {
                self.next_u32() as u64 & mask
            } else {
                self.next_u64() & mask
            };
            if v <= max {
                return v;
            }
        }
    }

    /// `RandomState.shuffle` of a 1-D array.
    pub fn shuffle<T>(&mut self, x: &mut [T]) {
        for i in (1..x.len()).rev() {
            let j = self.interval(i as u64) as usize;
            x.swap(i, j);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// From NumPy: `rs = np.random.RandomState(113); a = np.arange(n); rs.shuffle(a)`.
    #[test]
    fn shuffles_like_numpy_random_state() {
        let perm = |rs: &mut Mt19937, n: usize| {
            let mut a: Vec<usize> = (0..n).collect();
            rs.shuffle(&mut a);
            a
        };
        assert_eq!(perm(&mut Mt19937::new(113), 5), [1, 0, 3, 2, 4]);
        assert_eq!(perm(&mut Mt19937::new(113), 10), [9, 3, 6, 1, 0, 7, 4, 8, 2, 5]);
        let a = perm(&mut Mt19937::new(113), 1000);
        assert_eq!(&a[..10], &[641, 987, 187, 779, 848, 237, 582, 883, 752, 815]);
        assert_eq!(&a[997..], &[162, 732, 165]);
        // One generator, two shuffles in a row (as imdb shuffles train then test).
        let mut rs = Mt19937::new(113);
        assert_eq!(perm(&mut rs, 7), [1, 3, 0, 6, 2, 4, 5]);
        assert_eq!(perm(&mut rs, 4), [3, 0, 1, 2]);
    }
}
