//! The key space a run writes and reads: which keys exist and how a request picks one.

use std::sync::atomic::{AtomicU64, Ordering};

use rand::Rng;

use crate::{Error, Result};

/// `size` distinct keys, each the prefix followed by a zero-padded decimal index `key_size` bytes
/// long. Decimal keys stay readable with `etcdctl get`, and the padding keeps their length exact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySpace {
    prefix: String,
    key_size: usize,
    size: u64,
    sequential: bool,
}

impl KeySpace {
    /// Checks that `size` indexes fit in `key_size` digits.
    pub fn new(prefix: String, key_size: usize, size: u64, sequential: bool) -> Result<KeySpace> {
        if key_size == 0 {
            return Err(Error::InvalidOption(
                "--key-size must be at least 1".to_owned(),
            ));
        }
        if size == 0 {
            return Err(Error::InvalidOption(
                "--key-space-size must be at least 1".to_owned(),
            ));
        }
        let digits_needed = (size - 1).to_string().len();
        if digits_needed > key_size {
            return Err(Error::InvalidOption(format!(
                "--key-space-size {size} needs keys of at least {digits_needed} bytes, but --key-size is {key_size}"
            )));
        }
        Ok(KeySpace {
            prefix,
            key_size,
            size,
            sequential,
        })
    }

    /// The prefix every key starts with (empty unless --prefix or a preset sets one).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Bytes per key after the prefix.
    pub fn key_size(&self) -> usize {
        self.key_size
    }

    /// How many distinct keys there are.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Whether keys are taken in order rather than at random.
    pub fn sequential(&self) -> bool {
        self.sequential
    }

    /// The key with this index.
    pub fn key(&self, index: u64) -> Vec<u8> {
        format!(
            "{}{:0width$}",
            self.prefix,
            index % self.size,
            width = self.key_size
        )
        .into_bytes()
    }

    /// The index of the next key to use: uniformly random, or the next in order (shared by all
    /// clients through `counter`, wrapping at the end of the space).
    pub fn next_index(&self, rng: &mut impl Rng, counter: &AtomicU64) -> u64 {
        if self.sequential {
            counter.fetch_add(1, Ordering::Relaxed) % self.size
        } else {
            rng.random_range(0..self.size)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_padded_keys() {
        let cases = [
            ("", 8, 10_000, 42, "00000042"),
            ("/bench/", 4, 10_000, 9_999, "/bench/9999"),
            ("", 3, 10, 12, "002"),
            ("p", 1, 1, 0, "p0"),
        ];
        for (prefix, key_size, size, index, expected) in cases {
            let space =
                KeySpace::new(prefix.to_owned(), key_size, size, false).expect("valid key space");
            assert_eq!(
                String::from_utf8(space.key(index)).ok().as_deref(),
                Some(expected)
            );
        }
    }

    #[test]
    fn rejects_spaces_that_do_not_fit() {
        let cases = [
            (8, 10_000, true),
            (4, 10_000, true),
            (4, 10_001, false),
            (0, 1, false),
            (8, 0, false),
            (20, u64::MAX, true),
        ];
        for (key_size, size, ok) in cases {
            assert_eq!(
                KeySpace::new(String::new(), key_size, size, false).is_ok(),
                ok,
                "key_size {key_size} size {size}"
            );
        }
    }

    #[test]
    fn sequential_keys_wrap_and_random_keys_stay_inside() {
        let counter = AtomicU64::new(0);
        let mut rng = rand::rng();
        let sequential = KeySpace::new(String::new(), 2, 3, true).expect("valid key space");
        let taken: Vec<u64> = (0..5)
            .map(|_| sequential.next_index(&mut rng, &counter))
            .collect();
        assert_eq!(taken, [0, 1, 2, 0, 1]);
        let random = KeySpace::new(String::new(), 2, 3, false).expect("valid key space");
        assert!((0..100).all(|_| random.next_index(&mut rng, &counter) < 3));
    }
}
