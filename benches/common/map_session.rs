//! One thread's operations on a `u64 → u64` map, shared by the `map` and
//! `scaling` drivers: the interface, urcu's pinned session, and the
//! 98/1/1 "own loop" mix both drivers run.

use urcu::urcu_structures::{MapStorage, Pinned};
use urcu::RcuHashMap;

/// `RcuHashMap<u64, u64>` with storage `M`.
pub type UrcuMap<M> = RcuHashMap<u64, u64, ahash::RandomState, M>;

/// One thread's operations on a map.
pub trait MapSession {
    /// Whether `k` is present.
    fn get(&mut self, k: u64) -> bool;
    /// Inserts or replaces; whether `k` was new.
    fn insert(&mut self, k: u64, v: u64) -> bool;
    /// Whether `k` was present (and is now removed).
    fn remove(&mut self, k: u64) -> bool;
    /// Replaces the value of `k` with `old + 1` if present.
    fn update(&mut self, k: u64) -> bool;
    /// Called every batch of operations: leave and re-enter the read-side
    /// section (or epoch), where the session holds one.
    fn repin(&mut self) {}
    /// The thread's last operation is done: leave the section, if the
    /// session holds one. A thread that keeps it while it waits for its
    /// peers (bustle's closing barrier) holds up their grace periods, and
    /// a peer's backpressure would then wait on it.
    fn finish(&mut self) {}
}

/// An urcu map through a pinned handle (one read-side section), which the
/// thread drops and takes again at each `repin`.
pub struct PinnedSession<'a, M: MapStorage<u64, u64>> {
    map: &'a UrcuMap<M>,
    /// `Some` between calls until `finish`; `None` only inside `repin`.
    pinned: Option<Pinned<'a, u64, u64, ahash::RandomState, M>>,
}

impl<'a, M: MapStorage<u64, u64>> PinnedSession<'a, M> {
    pub fn new(map: &'a UrcuMap<M>) -> Self {
        PinnedSession {
            map,
            pinned: Some(map.pin()),
        }
    }

    #[inline(always)]
    fn pinned(&self) -> &Pinned<'a, u64, u64, ahash::RandomState, M> {
        self.pinned.as_ref().expect("pinned between re-pins")
    }
}

impl<M: MapStorage<u64, u64>> MapSession for PinnedSession<'_, M> {
    #[inline]
    fn get(&mut self, k: u64) -> bool {
        self.pinned().get(&k).is_some()
    }
    #[inline]
    fn insert(&mut self, k: u64, v: u64) -> bool {
        self.pinned().insert(k, v).is_none()
    }
    #[inline]
    fn remove(&mut self, k: u64) -> bool {
        self.pinned().remove(&k).is_some()
    }
    #[inline]
    fn update(&mut self, k: u64) -> bool {
        self.pinned().update(&k, |v| v + 1).is_some()
    }
    fn repin(&mut self) {
        // Leave the section before entering the next one: pinning first
        // would only nest, and the thread would never leave its section.
        self.pinned = None;
        self.pinned = Some(self.map.pin());
    }
    fn finish(&mut self) {
        self.pinned = None;
    }
}

/// `dashmap::DashMap<u64, u64>` with ahash, used through a shared
/// reference: every operation takes its shard's lock itself.
pub type DashMap = dashmap::DashMap<u64, u64, ahash::RandomState>;

impl MapSession for &DashMap {
    #[inline]
    fn get(&mut self, k: u64) -> bool {
        DashMap::get(self, &k).is_some()
    }
    #[inline]
    fn insert(&mut self, k: u64, v: u64) -> bool {
        DashMap::insert(self, k, v).is_none()
    }
    #[inline]
    fn remove(&mut self, k: u64) -> bool {
        DashMap::remove(self, &k).is_some()
    }
    #[inline]
    fn update(&mut self, k: u64) -> bool {
        DashMap::get_mut(self, &k).map(|mut v| *v += 1).is_some()
    }
}

/// Inserts the even keys of `0..keys` (`k → k`), re-pinning every `batch`.
pub fn prefill_even_keys(s: &mut impl MapSession, keys: u64, batch: u32) {
    for (i, k) in (0..keys).step_by(2).enumerate() {
        s.insert(k, k);
        if i as u32 % batch == 0 {
            s.repin();
        }
    }
}

/// One operation of the own-loop mix, chosen by the random word `r`: 98 %
/// get, 1 % insert (value `r`), 1 % remove of the key `r`'s high bits pick
/// from `0..keys` (a power of two). The operation comes from the low 32
/// bits by multiply-shift: no division in the loop. Whether it found (or
/// inserted) the key.
#[inline(always)]
pub fn own_loop_op(s: &mut impl MapSession, r: u64, keys: u64) -> bool {
    debug_assert!(keys.is_power_of_two());
    let key = (r >> 32) & (keys - 1);
    match ((r & 0xFFFF_FFFF) * 100) >> 32 {
        0 => s.insert(key, r),
        1 => s.remove(key),
        _ => s.get(key),
    }
}
