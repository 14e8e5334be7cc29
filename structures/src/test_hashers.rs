//! A hasher for tests that choose where their keys go.

use std::hash::{BuildHasher, Hasher};

/// Hashes a `u64` to itself, so a test chooses buckets (`key & 15` in a
/// new map) and tags (the top bits).
#[derive(Clone, Copy, Default)]
pub(crate) struct Ident;

pub(crate) struct IdentHasher(u64);

impl Hasher for IdentHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0 << 8 | u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

impl BuildHasher for Ident {
    type Hasher = IdentHasher;
    fn build_hasher(&self) -> IdentHasher {
        IdentHasher(0)
    }
}
