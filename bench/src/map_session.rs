//! The maps under test and one thread's operations on them, shared by the
//! `map` and `scaling` drivers: the key and value types, the [`Map`] and
//! [`MapSession`] interfaces, urcu and each peer written once against them,
//! and the 98/1/1 "own loop" mix both drivers run.
//!
//! Key and value types ([`BenchKey`]; both drivers make keys from `u64`
//! seeds, as bustle does, through `From<u64>`):
//!
//! - `u64 → u64`: a key is its seed and so is its value.
//! - [`StrKey`] `→ [u64; 8]`: a key is its seed formatted as
//!   `"key-{:016x}"` (20 bytes on the heap; distinct seeds give distinct
//!   keys, as bustle requires), its value a 64-byte record.
//!
//! Every implementation hashes with `ahash::RandomState`:
//!
//! - [`Urcu`]: `RcuHashMap` (default domain) with storage `M`, through a
//!   pinned handle ([`PinnedSession`]) dropped and taken again at each
//!   `repin`.
//! - [`DashMap`]: every operation takes its shard's `RwLock`.
//! - [`Papaya`]: through a `LocalGuard` the session holds and refreshes at
//!   each `repin`. Its `update` takes the key by value: with [`StrKey`]
//!   every update clones the key (papaya's API, a user pays it too).
//! - [`SccMap`] (`scc::HashMap`): every operation is self-contained (its
//!   own epoch guard and bucket lock; the API has no caller-held guard for
//!   these).
//! - [`SccIndex`] (`scc::HashIndex`): gets `peek` under an `scc::Guard`
//!   the session holds and renews at each `repin`; writes lock their
//!   bucket per operation.
//! - [`StdMap`]: `RwLock<std::collections::HashMap>`, one lock per
//!   operation.
//!
//! "insert" is insert-or-replace everywhere (it returns whether the key was
//! new); "update" replaces the value of a present key with the old value,
//! its first word + 1 ([`BenchValue::bump`]): in place for dashmap,
//! scc-hashmap and rwlock-std, a new entry for urcu, papaya and
//! scc-hashindex, whose readers never see a value change.

use papaya::Guard as _;
use std::fmt::Debug;
use std::hash::Hash;
use std::sync::RwLock;
use urcu::urcu_structures::{Boxed, MapStorage, Pinned};
use urcu::RcuHashMap;

// ---------------------------------------------------------------------------
// Keys and values
// ---------------------------------------------------------------------------

/// A key type of the drivers, made from a `u64` seed (distinct seeds give
/// distinct keys), and the value type stored with it.
pub trait BenchKey: From<u64> + Hash + Eq + Clone + Debug + Send + Sync + 'static {
    type Value: BenchValue;
    /// The value stored with this key when it is inserted.
    fn value(&self) -> Self::Value;
}

/// The value type stored with keys `K`.
pub type Value<K> = <K as BenchKey>::Value;

/// A value an update can change.
pub trait BenchValue: Clone + Send + Sync + 'static {
    /// Adds one to the first word (what an update writes).
    fn bump(&mut self);

    /// A copy with its first word + 1 (what a copy-on-write update
    /// publishes).
    #[inline(always)]
    fn bumped(&self) -> Self {
        let mut v = self.clone();
        v.bump();
        v
    }
}

impl BenchKey for u64 {
    type Value = u64;
    #[inline(always)]
    fn value(&self) -> u64 {
        *self
    }
}

impl BenchValue for u64 {
    #[inline(always)]
    fn bump(&mut self) {
        *self += 1;
    }
}

/// A string key, as a service keys by names or ids: its seed as
/// `"key-{:016x}"` (20 bytes, one heap allocation).
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct StrKey(String);

impl From<u64> for StrKey {
    fn from(seed: u64) -> StrKey {
        StrKey(format!("key-{seed:016x}"))
    }
}

/// The value stored with a [`StrKey`]: a 64-byte record kept inline in the
/// entry, as a service keeps a fixed-layout record per key (a session's
/// ids and counters, a cached row). Not a `Vec<u8>`: that would add a
/// second allocation and pointer chase per entry, and a copy-on-write
/// update (urcu, papaya, scc-hashindex) would allocate twice, so the
/// comparison would weigh the allocator more than the maps. A new key's
/// record is zeroed; its first word is the counter updates bump.
impl BenchKey for StrKey {
    type Value = [u64; 8];
    #[inline(always)]
    fn value(&self) -> [u64; 8] {
        [0; 8]
    }
}

impl BenchValue for [u64; 8] {
    #[inline(always)]
    fn bump(&mut self) {
        self[0] += 1;
    }
}

// ---------------------------------------------------------------------------
// The interfaces
// ---------------------------------------------------------------------------

/// One thread's operations on a map.
pub trait MapSession {
    type Key: BenchKey;
    /// Whether `k` is present.
    fn get(&mut self, k: &Self::Key) -> bool;
    /// Inserts or replaces; whether `k` was new.
    fn insert(&mut self, k: Self::Key, v: Value<Self::Key>) -> bool;
    /// Whether `k` was present (and is now removed).
    fn remove(&mut self, k: &Self::Key) -> bool;
    /// Replaces the value of `k` with [`BenchValue::bumped`] if present.
    fn update(&mut self, k: &Self::Key) -> bool;
    /// Called every batch of operations: leave and re-enter the read-side
    /// section (or epoch), where the session holds one.
    fn repin(&mut self) {}
    /// The thread's last operation is done: leave the section, if the
    /// session holds one. A thread that keeps it while it waits for its
    /// peers (bustle's closing barrier) holds up their grace periods, and
    /// a peer's backpressure would then wait on it.
    fn finish(&mut self) {}
}

/// Inserts the key made from `seed` with its value.
#[inline(always)]
pub fn insert_seed<S: MapSession>(s: &mut S, seed: u64) -> bool {
    let k = S::Key::from(seed);
    let v = k.value();
    s.insert(k, v)
}

/// A map under test.
pub trait Map: Send + Sync + Sized + 'static {
    type Key: BenchKey;
    /// What one thread works through (a pinned handle, a guard, or just a
    /// reference).
    type Session<'a>: MapSession<Key = Self::Key>
    where
        Self: 'a;

    fn with_capacity(capacity: usize) -> Self;

    /// A session for the calling thread.
    fn session(&self) -> Self::Session<'_>;

    /// Lets deferred frees happen before a memory measurement.
    fn settle(&self) {}

    /// The table's shape, for diagnostics (urcu only).
    fn shape(&self) -> Option<String> {
        None
    }
}

// ---------------------------------------------------------------------------
// urcu
// ---------------------------------------------------------------------------

/// `RcuHashMap` over keys `K` with storage `M`.
pub type UrcuMap<K, M = Boxed> = RcuHashMap<K, Value<K>, ahash::RandomState, M>;

/// An urcu map as a [`Map`]: sessions pin it ([`PinnedSession`]).
pub struct Urcu<K: BenchKey, M: MapStorage<K, Value<K>> = Boxed>(pub UrcuMap<K, M>);

impl<K: BenchKey, M: MapStorage<K, Value<K>>> Map for Urcu<K, M> {
    type Key = K;
    type Session<'a> = PinnedSession<'a, K, M>;
    fn with_capacity(capacity: usize) -> Self {
        Urcu(
            RcuHashMap::<K, Value<K>>::builder()
                .capacity(capacity)
                .storage::<M>()
                .build(),
        )
    }
    fn session(&self) -> PinnedSession<'_, K, M> {
        PinnedSession::new(&self.0)
    }
    fn settle(&self) {
        self.0.domain().rcu_barrier();
    }
    fn shape(&self) -> Option<String> {
        let s = self.0.table_stats();
        Some(format!(
            "{} entries in {} buckets + {} overflow lines ({} entries there), longest chain {} lines",
            s.entries, s.buckets, s.overflow_lines, s.overflow_entries, s.longest_chain
        ))
    }
}

/// An urcu map through a pinned handle (one read-side section), which the
/// thread drops and takes again at each `repin`.
pub struct PinnedSession<'a, K: BenchKey, M: MapStorage<K, Value<K>>> {
    map: &'a UrcuMap<K, M>,
    /// `Some` between calls until `finish`; `None` only inside `repin`.
    pinned: Option<Pinned<'a, K, Value<K>, ahash::RandomState, M>>,
}

impl<'a, K: BenchKey, M: MapStorage<K, Value<K>>> PinnedSession<'a, K, M> {
    pub fn new(map: &'a UrcuMap<K, M>) -> Self {
        PinnedSession {
            map,
            pinned: Some(map.pin()),
        }
    }

    #[inline(always)]
    fn pinned(&self) -> &Pinned<'a, K, Value<K>, ahash::RandomState, M> {
        self.pinned.as_ref().expect("pinned between re-pins")
    }
}

impl<K: BenchKey, M: MapStorage<K, Value<K>>> MapSession for PinnedSession<'_, K, M> {
    type Key = K;
    #[inline]
    fn get(&mut self, k: &K) -> bool {
        self.pinned().get(k).is_some()
    }
    #[inline]
    fn insert(&mut self, k: K, v: Value<K>) -> bool {
        self.pinned().insert(k, v).is_none()
    }
    #[inline]
    fn remove(&mut self, k: &K) -> bool {
        self.pinned().remove(k).is_some()
    }
    #[inline]
    fn update(&mut self, k: &K) -> bool {
        self.pinned().update(k, BenchValue::bumped).is_some()
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

/// urcu, pinned per operation (boxed storage): what a caller without a
/// batch pays (the map driver's `urcu-pin-per-op`, not a peer).
pub struct UrcuPinPerOp<K: BenchKey>(pub UrcuMap<K>);

impl<K: BenchKey> Map for UrcuPinPerOp<K> {
    type Key = K;
    type Session<'a> = &'a UrcuMap<K>;
    fn with_capacity(capacity: usize) -> Self {
        UrcuPinPerOp(UrcuMap::with_capacity(capacity))
    }
    fn session(&self) -> &UrcuMap<K> {
        &self.0
    }
    fn settle(&self) {
        self.0.domain().rcu_barrier();
    }
}

impl<K: BenchKey> MapSession for &UrcuMap<K> {
    type Key = K;
    #[inline]
    fn get(&mut self, k: &K) -> bool {
        self.pin().get(k).is_some()
    }
    #[inline]
    fn insert(&mut self, k: K, v: Value<K>) -> bool {
        self.pin().insert(k, v).is_none()
    }
    #[inline]
    fn remove(&mut self, k: &K) -> bool {
        self.pin().remove(k).is_some()
    }
    #[inline]
    fn update(&mut self, k: &K) -> bool {
        self.pin().update(k, BenchValue::bumped).is_some()
    }
}

// ---------------------------------------------------------------------------
// The peers
// ---------------------------------------------------------------------------

/// `dashmap::DashMap`, used through a shared reference: every operation
/// takes its shard's lock itself.
pub type DashMap<K> = dashmap::DashMap<K, Value<K>, ahash::RandomState>;

impl<K: BenchKey> Map for DashMap<K> {
    type Key = K;
    type Session<'a> = &'a DashMap<K>;
    fn with_capacity(capacity: usize) -> Self {
        DashMap::with_capacity_and_hasher(capacity, ahash::RandomState::new())
    }
    fn session(&self) -> &DashMap<K> {
        self
    }
}

impl<K: BenchKey> MapSession for &DashMap<K> {
    type Key = K;
    #[inline]
    fn get(&mut self, k: &K) -> bool {
        DashMap::get(self, k).is_some()
    }
    #[inline]
    fn insert(&mut self, k: K, v: Value<K>) -> bool {
        DashMap::insert(self, k, v).is_none()
    }
    #[inline]
    fn remove(&mut self, k: &K) -> bool {
        DashMap::remove(self, k).is_some()
    }
    #[inline]
    fn update(&mut self, k: &K) -> bool {
        DashMap::get_mut(self, k).map(|mut v| v.bump()).is_some()
    }
}

/// `papaya::HashMap` (default collector).
pub type Papaya<K> = papaya::HashMap<K, Value<K>, ahash::RandomState>;

/// A papaya map through a `LocalGuard`, refreshed at each `repin`.
pub struct PapayaSession<'a, K: BenchKey> {
    map: &'a Papaya<K>,
    guard: papaya::LocalGuard<'a>,
}

impl<K: BenchKey> Map for Papaya<K> {
    type Key = K;
    type Session<'a> = PapayaSession<'a, K>;
    fn with_capacity(capacity: usize) -> Self {
        Papaya::with_capacity_and_hasher(capacity, ahash::RandomState::new())
    }
    fn session(&self) -> PapayaSession<'_, K> {
        PapayaSession {
            map: self,
            guard: self.guard(),
        }
    }
}

impl<K: BenchKey> MapSession for PapayaSession<'_, K> {
    type Key = K;
    #[inline]
    fn get(&mut self, k: &K) -> bool {
        self.map.get(k, &self.guard).is_some()
    }
    #[inline]
    fn insert(&mut self, k: K, v: Value<K>) -> bool {
        self.map.insert(k, v, &self.guard).is_none()
    }
    #[inline]
    fn remove(&mut self, k: &K) -> bool {
        self.map.remove(k, &self.guard).is_some()
    }
    #[inline]
    fn update(&mut self, k: &K) -> bool {
        // papaya's `update` takes the key by value.
        self.map
            .update(k.clone(), BenchValue::bumped, &self.guard)
            .is_some()
    }
    fn repin(&mut self) {
        self.guard.refresh();
    }
}

/// `scc::HashMap`, used through a shared reference.
pub type SccMap<K> = scc::HashMap<K, Value<K>, ahash::RandomState>;

impl<K: BenchKey> Map for SccMap<K> {
    type Key = K;
    type Session<'a> = &'a SccMap<K>;
    fn with_capacity(capacity: usize) -> Self {
        SccMap::with_capacity_and_hasher(capacity, ahash::RandomState::new())
    }
    fn session(&self) -> &SccMap<K> {
        self
    }
}

impl<K: BenchKey> MapSession for &SccMap<K> {
    type Key = K;
    #[inline]
    fn get(&mut self, k: &K) -> bool {
        self.read_sync(k, |_, _| ()).is_some()
    }
    #[inline]
    fn insert(&mut self, k: K, v: Value<K>) -> bool {
        self.upsert_sync(k, v).is_none()
    }
    #[inline]
    fn remove(&mut self, k: &K) -> bool {
        self.remove_sync(k).is_some()
    }
    #[inline]
    fn update(&mut self, k: &K) -> bool {
        self.update_sync(k, |_, v| v.bump()).is_some()
    }
}

/// `scc::HashIndex`.
pub type SccIndex<K> = scc::HashIndex<K, Value<K>, ahash::RandomState>;

/// An scc `HashIndex` with an `scc::Guard` for its gets, renewed at each
/// `repin`.
pub struct SccIndexSession<'a, K: BenchKey> {
    map: &'a SccIndex<K>,
    /// Always `Some` between calls; `None` only inside `repin`.
    guard: Option<scc::Guard>,
}

impl<K: BenchKey> Map for SccIndex<K> {
    type Key = K;
    type Session<'a> = SccIndexSession<'a, K>;
    fn with_capacity(capacity: usize) -> Self {
        SccIndex::with_capacity_and_hasher(capacity, ahash::RandomState::new())
    }
    fn session(&self) -> SccIndexSession<'_, K> {
        SccIndexSession {
            map: self,
            guard: Some(scc::Guard::new()),
        }
    }
}

impl<K: BenchKey> MapSession for SccIndexSession<'_, K> {
    type Key = K;
    #[inline]
    fn get(&mut self, k: &K) -> bool {
        let guard = self.guard.as_ref().expect("a guard between renewals");
        self.map.peek(k, guard).is_some()
    }
    #[inline]
    fn insert(&mut self, k: K, v: Value<K>) -> bool {
        match self.map.entry_sync(k) {
            scc::hash_index::Entry::Occupied(mut o) => {
                o.update(v);
                false
            }
            scc::hash_index::Entry::Vacant(e) => {
                e.insert_entry(v);
                true
            }
        }
    }
    #[inline]
    fn remove(&mut self, k: &K) -> bool {
        self.map.remove_sync(k)
    }
    #[inline]
    fn update(&mut self, k: &K) -> bool {
        self.map
            .get_sync(k)
            .map(|mut o| {
                let v = o.get().bumped();
                o.update(v);
            })
            .is_some()
    }
    fn repin(&mut self) {
        // Drop the old guard first (a new one would only nest inside it).
        self.guard = None;
        self.guard = Some(scc::Guard::new());
    }
}

/// `RwLock<std::collections::HashMap>`, one lock per operation.
pub type StdMap<K> = RwLock<std::collections::HashMap<K, Value<K>, ahash::RandomState>>;

impl<K: BenchKey> Map for StdMap<K> {
    type Key = K;
    type Session<'a> = &'a StdMap<K>;
    fn with_capacity(capacity: usize) -> Self {
        RwLock::new(std::collections::HashMap::with_capacity_and_hasher(
            capacity,
            ahash::RandomState::new(),
        ))
    }
    fn session(&self) -> &StdMap<K> {
        self
    }
}

impl<K: BenchKey> MapSession for &StdMap<K> {
    type Key = K;
    #[inline]
    fn get(&mut self, k: &K) -> bool {
        self.read().expect("not poisoned").contains_key(k)
    }
    #[inline]
    fn insert(&mut self, k: K, v: Value<K>) -> bool {
        self.write().expect("not poisoned").insert(k, v).is_none()
    }
    #[inline]
    fn remove(&mut self, k: &K) -> bool {
        self.write().expect("not poisoned").remove(k).is_some()
    }
    #[inline]
    fn update(&mut self, k: &K) -> bool {
        self.write()
            .expect("not poisoned")
            .get_mut(k)
            .map(|v| v.bump())
            .is_some()
    }
}

// ---------------------------------------------------------------------------
// The own-loop mix
// ---------------------------------------------------------------------------

/// Inserts the keys of the even seeds of `0..keys`, re-pinning every
/// `batch`.
pub fn prefill_even_keys(s: &mut impl MapSession, keys: u64, batch: u32) {
    for (i, k) in (0..keys).step_by(2).enumerate() {
        insert_seed(s, k);
        if i as u32 % batch == 0 {
            s.repin();
        }
    }
}

/// One operation of the own-loop mix, chosen by the random word `r`: 98 %
/// get, 1 % insert, 1 % remove of the key of the seed `r`'s high bits pick
/// from `0..keys` (a power of two). The operation comes from the low 32
/// bits by multiply-shift: no division in the loop. Whether it found (or
/// inserted) the key. Meant for `u64` keys: other key types would make
/// their key here, in the timed loop.
#[inline(always)]
pub fn own_loop_op(s: &mut impl MapSession, r: u64, keys: u64) -> bool {
    debug_assert!(keys.is_power_of_two());
    let seed = (r >> 32) & (keys - 1);
    match ((r & 0xFFFF_FFFF) * 100) >> 32 {
        0 => insert_seed(s, seed),
        1 => s.remove(&seed.into()),
        _ => s.get(&seed.into()),
    }
}
