//! `RcuHashMap`: a hash map for read-heavy services, whose lookups write no
//! shared memory and never wait.
//!
//! The rooms: this file holds the map handle and its lookups; [`builder`]
//! configures a map; [`mod@write`] inserts, replaces and removes under bucket
//! locks; [`resize`] grows and shrinks the table while readers go on;
//! [`bulk`] loads many pairs at a time; [`pinned`] is the handle readers
//! and writers use. Underneath, [`table`] lays out the buckets (one cache
//! line each, slots written once per grace period), [`meta`] encodes a
//! bucket line's metadata word, and [`storage`] gives the two entry
//! formats: boxed (any key and value) and inline (`Copy` pairs inside the
//! bucket line).

mod builder;
mod bulk;
mod iter;
mod meta;
mod owned;
#[cfg(feature = "rayon")]
mod par;
mod pinned;
mod resize;
mod storage;
mod stripe;
mod summary;
mod table;
mod write;
mod zeroed;

pub use builder::MapBuilder;
pub use iter::{MapIter, MapKeys, MapValues};
pub use owned::PinnedOwned;
#[cfg(feature = "rayon")]
pub use par::MapParIter;
pub use pinned::Pinned;
pub use storage::{Boxed, Inline, MapStorage};
pub use write::{Compute, Computed};

use crate::sync::{ptr_mut, AtomicIsize, AtomicPtr, Ordering};
use crossbeam_utils::CachePadded;
use std::borrow::Borrow;
use std::hash::{BuildHasher, Hash};
use table::{Lookup, Table};
use urcu_reclaim::{Domain, ReadGuard};

/// Buckets of a new, empty map.
const MIN_BUCKETS: usize = 16;

/// A concurrent hash map with RCU reads: `get` is lock-free, writes
/// nothing shared and touches two cache lines (the bucket line and the
/// boxed entry), or one with [`Inline`] storage for `Copy` keys and values
/// ([`MapBuilder::inline`]); writers lock only their bucket; the table
/// grows and shrinks by itself without blocking readers, a chunk of
/// buckets per write that meets the resize (no single write pays for a
/// whole table). Replaced and removed entries, and old tables, are freed
/// through the reclamation queue after a grace period. On Linux, a bucket
/// array of 8 MiB or more is faulted in ahead by a short-lived thread
/// (`urcu-map-prefault`), so the kernel zeroes its pages beside the
/// writers rather than inside their writes; it only asks the kernel to
/// populate the memory and ends once that is done or the array is freed.
///
/// A `Hash` or `Eq` that panics unwinds out of the operation that called
/// it and leaves the map sound: operations that completed stay done; the
/// interrupted one happened or did not (a bulk load or [`clear`](Self::clear)
/// partly), never leaving a key in two places; `len` stays right; a
/// resize under way still finishes, so the table grows and shrinks as
/// before; every value is dropped once. (A `Hash` that keeps panicking
/// for a stored key stops a resize from finishing until it stops.)
///
/// Reads go through a pinned handle ([`pin`](Self::pin)), or through an
/// explicit guard ([`get`](Self::get)), or by value ([`get_cloned`](Self::get_cloned)).
/// Several keys looked up together ([`Pinned::get_many`]) overlap their
/// cache misses.
///
/// ```
/// use urcu_structures::RcuHashMap;
///
/// let routes: RcuHashMap<String, u32> = RcuHashMap::new();
/// let m = routes.pin();
/// m.insert("10.0.0.0/8".to_string(), 1);
/// assert_eq!(m.insert("10.0.0.0/8".to_string(), 2), Some(&1)); // the old value
/// assert_eq!(m.get("10.0.0.0/8"), Some(&2));                    // borrow lookups
/// assert_eq!(routes.get_cloned("10.0.0.0/8"), Some(2));
/// assert_eq!(m.remove("10.0.0.0/8"), Some(&2));
/// assert!(routes.is_empty());
/// ```
pub struct RcuHashMap<K, V, S = ahash::RandomState, M = Boxed>
where
    K: Send + Sync + 'static,
    V: Send + Sync + 'static,
    M: MapStorage<K, V>,
{
    /// The current table. Stored with release once a table is complete
    /// (new, or fully migrated to); loaded with acquire.
    root: CachePadded<AtomicPtr<Table<K, V, M>>>,
    hasher: S,
    domain: Domain,
    /// Striped element count: `len` sums them.
    counts: Box<[CachePadded<AtomicIsize>]>,
    /// Smallest bucket count shrinking goes down to.
    min_buckets: usize,
}

// SAFETY: the map hands `&K`/`&V` to readers on any thread and drops
// entries on the reclaiming thread: `K, V: Send + Sync` (required above).
unsafe impl<K: Send + Sync, V: Send + Sync, S: Send, M: MapStorage<K, V>> Send
    for RcuHashMap<K, V, S, M>
{
}
// SAFETY: as above; the hasher is only read (`&S`), so it must be `Sync`.
unsafe impl<K: Send + Sync, V: Send + Sync, S: Sync, M: MapStorage<K, V>> Sync
    for RcuHashMap<K, V, S, M>
{
}

/// Runs its closure when dropped, on return or unwind.
struct OnDrop<F: FnMut()>(F);

impl<F: FnMut()> Drop for OnDrop<F> {
    fn drop(&mut self) {
        (self.0)();
    }
}

/// What [`RcuHashMap::table_stats`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct TableStats {
    /// Entries in the map ([`RcuHashMap::len`]).
    pub entries: usize,
    /// Head lines (buckets) of the current table: 64 bytes each.
    pub buckets: usize,
    /// Overflow lines chained to them: 64 bytes each, and a lookup that
    /// reaches one reads another cache line.
    pub overflow_lines: usize,
    /// Lines in the longest chain (1: no bucket has overflowed).
    pub longest_chain: usize,
    /// Entries that live in overflow lines: a lookup of one reads a line
    /// past its bucket's head.
    pub overflow_entries: usize,
}

impl<K, V, S, M> RcuHashMap<K, V, S, M>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Send + Sync + 'static,
    S: BuildHasher,
    M: MapStorage<K, V>,
{
    /// An empty map using `hasher`.
    ///
    /// ```
    /// use std::collections::hash_map::RandomState;
    /// use urcu_structures::RcuHashMap;
    ///
    /// let m: RcuHashMap<u32, &str, RandomState> = RcuHashMap::with_hasher(RandomState::new());
    /// m.pin().insert(1, "one");
    /// assert!(m.contains_key(&1));
    /// ```
    pub fn with_hasher(hasher: S) -> Self {
        MapBuilder {
            capacity: 0,
            hasher,
            domain: None,
            _types: std::marker::PhantomData,
        }
        .build()
    }

    /// The domain whose grace periods protect the entries.
    ///
    /// ```
    /// use urcu_structures::RcuHashMap;
    /// let m: RcuHashMap<u32, u32> = RcuHashMap::new();
    /// m.pin().insert(1, 10);
    /// let g = m.domain().read_lock(); // a guard for `get`
    /// assert_eq!(m.get(&1, &g), Some(&10));
    /// ```
    pub fn domain(&self) -> &Domain {
        &self.domain
    }

    #[inline]
    fn hash<Q: Hash + ?Sized>(&self, key: &Q) -> u64 {
        self.hasher.hash_one(key)
    }

    #[inline(always)]
    fn root(&self) -> &Table<K, V, M> {
        // SAFETY: the root is never null; a replaced root is freed only
        // after a grace period, and every caller is in a read-side section
        // (or is a writer, which enters one).
        unsafe { &*self.root.load(Ordering::Acquire) }
    }

    fn check(&self, guard: &ReadGuard<'_>) {
        assert!(
            guard.belongs_to(&self.domain),
            "RcuHashMap used with a ReadGuard of another domain"
        );
    }

    /// Pins the map: a handle whose reads and writes share one read-side
    /// section, and whose references live as long as it does. Nothing
    /// the handle replaces or removes is freed before it drops or repins:
    /// a handle kept across many writes calls [`Pinned::repin`] now and then
    /// (`m = map.pin()` does not end the old section, which is still open
    /// when the new one begins).
    ///
    /// ```
    /// use urcu_structures::RcuHashMap;
    /// let map: RcuHashMap<&str, u32> = RcuHashMap::new();
    /// let m = map.pin();
    /// m.insert("a", 1);
    /// let a = m.get("a").unwrap(); // a reference that lives as long as `m`
    /// m.insert("a", 2);            // the old value is not freed while `m` lives
    /// assert_eq!((a, m.get("a")), (&1, Some(&2)));
    /// ```
    #[inline]
    pub fn pin(&self) -> Pinned<'_, K, V, S, M> {
        Pinned {
            map: self,
            guard: self.domain.read_lock(),
        }
    }

    /// The value for `key`, valid while `guard` lives.
    ///
    /// # Panics
    /// If `guard` belongs to another domain.
    ///
    /// ```
    /// use urcu_structures::RcuHashMap;
    /// let map: RcuHashMap<u32, String> = RcuHashMap::new();
    /// map.pin().insert(1, "one".to_string());
    /// let g = map.domain().read_lock();
    /// assert_eq!(map.get(&1, &g).map(String::as_str), Some("one"));
    /// assert_eq!(map.get(&2, &g), None);
    /// ```
    #[inline]
    pub fn get<'g, Q>(&'g self, key: &Q, guard: &'g ReadGuard<'_>) -> Option<&'g V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.check(guard);
        self.find(key).map(|(_, v)| v)
    }

    /// The values for `N` keys at once, valid while `guard` lives (see
    /// [`Pinned::get_many`]).
    ///
    /// # Panics
    /// If `guard` belongs to another domain.
    ///
    /// ```
    /// use urcu_structures::RcuHashMap;
    /// let map: RcuHashMap<u32, &str> = RcuHashMap::new();
    /// map.pin().insert(1, "one");
    /// let g = map.domain().read_lock();
    /// assert_eq!(map.get_many([&1, &2], &g), [Some(&"one"), None]);
    /// ```
    pub fn get_many<'g, Q, const N: usize>(
        &'g self,
        keys: [&Q; N],
        guard: &'g ReadGuard<'_>,
    ) -> [Option<&'g V>; N]
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.check(guard);
        self.find_many(keys).map(|found| found.map(|(_, v)| v))
    }

    /// A copy of the value for `key`, for callers that do not want a guard.
    ///
    /// ```
    /// use urcu_structures::RcuHashMap;
    /// let map: RcuHashMap<&str, Vec<u32>> = RcuHashMap::new();
    /// map.pin().insert("primes", vec![2, 3, 5]);
    /// let v = map.get_cloned("primes").unwrap(); // an owned copy: no guard to hold
    /// assert_eq!(v, [2, 3, 5]);
    /// ```
    pub fn get_cloned<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
        V: Clone,
    {
        let _g = self.domain.read_lock();
        self.find(key).map(|(_, v)| v.clone())
    }

    /// Whether `key` is present.
    ///
    /// ```
    /// use urcu_structures::RcuHashMap;
    /// let map: RcuHashMap<u64, ()> = RcuHashMap::new();
    /// map.pin().insert(42, ());
    /// assert!(map.contains_key(&42));
    /// assert!(!map.contains_key(&7));
    /// ```
    pub fn contains_key<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let _g = self.domain.read_lock();
        self.find(key).is_some()
    }

    /// Inserts or replaces without a pin, for the simple case; returns a
    /// copy of the old value. The write is one short read-side section
    /// (the map's writes retire what they replace inside one, and the
    /// thread's next section waits if that overflowed its queue, so memory
    /// stays bounded). For values that are not `Clone`, or several calls
    /// in one section, use [`pin`](Self::pin).
    ///
    /// ```
    /// use urcu_structures::RcuHashMap;
    /// let map: RcuHashMap<String, u32> = RcuHashMap::new();
    /// assert_eq!(map.insert("a".into(), 1), None);
    /// assert_eq!(map.insert("a".into(), 2), Some(1)); // the old value, cloned
    /// assert_eq!(map.get_cloned("a"), Some(2));
    /// ```
    pub fn insert(&self, key: K, value: V) -> Option<V>
    where
        V: Clone,
    {
        let _g = self.domain.read_lock();
        self.insert_entry(key, value).map(|(_, v)| v.clone())
    }

    /// Removes `key` without a pin; returns a copy of its value (see
    /// [`insert`](Self::insert)).
    ///
    /// ```
    /// use urcu_structures::RcuHashMap;
    /// let map: RcuHashMap<u32, String> = RcuHashMap::new();
    /// map.insert(1, "one".into());
    /// assert_eq!(map.remove(&1).as_deref(), Some("one"));
    /// assert_eq!(map.remove(&1), None);
    /// ```
    pub fn remove<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
        V: Clone,
    {
        let _g = self.domain.read_lock();
        self.remove_entry(key).map(|(_, v)| v.clone())
    }

    /// Replaces the value for `key` with `f(old)` without a pin; returns a
    /// copy of the new value, or `None` if absent (see
    /// [`Pinned::update`], which may call `f` again if the entry changed
    /// meanwhile; [`Pinned::update_or_insert_with`] calls its closure
    /// exactly once, under the key's lock).
    ///
    /// ```
    /// use urcu_structures::RcuHashMap;
    /// let map: RcuHashMap<&str, u32> = RcuHashMap::new();
    /// map.insert("n", 1);
    /// assert_eq!(map.update("n", |v| v + 1), Some(2));
    /// assert_eq!(map.update("absent", |v| v + 1), None);
    /// ```
    pub fn update<Q>(&self, key: &Q, f: impl FnMut(&V) -> V) -> Option<V>
    where
        K: Borrow<Q> + Clone,
        Q: Hash + Eq + ?Sized,
        V: Clone,
    {
        let _g = self.domain.read_lock();
        self.update_entry(key, f).map(|(_, v)| v.clone())
    }

    /// The entry for `key`. The caller is in a read-side section.
    #[inline]
    fn find<Q>(&self, key: &Q) -> Option<(&K, &V)>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.find_hashed(key, self.hash(key))
    }

    /// [`find`](Self::find) for `N` keys, their cache misses overlapped:
    /// every key's bucket line is requested before any is read, and for
    /// boxed entries every candidate entry before any is compared. One
    /// lookup at a time waits a full memory latency per miss (the CPU can
    /// run only a few lookups ahead); a batch waits about one per stage.
    /// The caller is in a read-side section.
    fn find_many<Q, const N: usize>(&self, keys: [&Q; N]) -> [Option<(&K, &V)>; N]
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        // Plain loops: `array::map`/`from_fn` went through calls that were
        // not inlined.
        let mut hashes = [0u64; N];
        for (h, k) in hashes.iter_mut().zip(keys) {
            *h = self.hash(k);
        }
        let t = self.root();
        for &h in &hashes {
            if t.may_hold(h) {
                t.bucket(h).prefetch();
            }
        }
        if M::HASH_OFF_LINE {
            for &h in &hashes {
                if t.may_hold(h) {
                    t.bucket(h).prefetch_candidates(meta::tag_of(h));
                }
            }
        }
        let mut found = [None; N];
        for ((f, k), &h) in found.iter_mut().zip(keys).zip(&hashes) {
            *f = self.find_hashed(k, h);
        }
        found
    }

    /// [`find`](Self::find) with the key's hash already computed.
    #[inline]
    fn find_hashed<Q>(&self, key: &Q, hash: u64) -> Option<(&K, &V)>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let mut t = self.root();
        loop {
            // The summary, in cache, answers most absent keys without the
            // bucket line's miss.
            if !t.may_hold(hash) {
                return None;
            }
            match t.bucket(hash).find(hash, |k| k.borrow() == key) {
                Lookup::Found(k, v) => return Some((k, v)),
                Lookup::Absent => return None,
                Lookup::Moved => t = t.next().expect("a moved bucket has a next table"),
            }
        }
    }

    /// Lines in the chain that `key` hashes to (for tests of chain upkeep).
    #[cfg(test)]
    pub(crate) fn chain_lines<Q: Hash + ?Sized>(&self, key: &Q) -> usize {
        let _g = self.domain.read_lock();
        let hash = self.hash(key);
        let mut t = self.root();
        while t.bucket(hash).is_moved() {
            t = t.next().expect("a moved bucket has a next table");
        }
        let mut lines = 1;
        let mut b = t.bucket(hash);
        while let Some(next) = b.overflow() {
            lines += 1;
            b = next;
        }
        lines
    }

    /// The shape of the current table: buckets, overflow lines, the
    /// longest chain. A walk of every bucket (O(buckets), no locks), for
    /// diagnostics: chains that grow long mean lookups that read more
    /// lines, usually because grace periods are slow to let removed slots
    /// be reused. Approximate while writers run.
    ///
    /// ```
    /// use urcu_structures::RcuHashMap;
    /// let map: RcuHashMap<u64, u64> = (0..1000).map(|i| (i, i)).collect();
    /// let s = map.table_stats();
    /// assert_eq!(s.entries, 1000);
    /// assert!(s.buckets.is_power_of_two() && s.longest_chain >= 1);
    /// assert!(s.overflow_lines < s.buckets);
    /// assert!(s.overflow_entries <= s.entries);
    /// ```
    pub fn table_stats(&self) -> TableStats {
        let _g = self.domain.read_lock();
        // Mid-resize, the table being replaced: its moved chains stay
        // intact, so it still shows every entry's line.
        let t = self.root();
        let mut stats = TableStats {
            entries: self.len(),
            buckets: t.len(),
            overflow_lines: 0,
            longest_chain: 0,
            overflow_entries: 0,
        };
        for i in 0..t.len() {
            let mut lines = 1;
            let mut b = t.bucket_at(i);
            if let Some(o) = b.overflow() {
                o.scan(|_| {
                    stats.overflow_entries += 1;
                    None::<()>
                });
            }
            while let Some(next) = b.overflow() {
                lines += 1;
                b = next;
            }
            stats.overflow_lines += lines - 1;
            stats.longest_chain = stats.longest_chain.max(lines);
        }
        stats
    }

    /// Number of entries (exact once writers are quiet).
    ///
    /// ```
    /// use urcu_structures::RcuHashMap;
    /// let map: RcuHashMap<u64, u64> = (0..10).map(|i| (i, i * i)).collect();
    /// assert_eq!(map.len(), 10);
    /// map.pin().remove(&0);
    /// assert_eq!(map.len(), 9);
    /// ```
    pub fn len(&self) -> usize {
        self.counts
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .sum::<isize>()
            .max(0) as usize
    }

    /// Whether the map is empty.
    ///
    /// ```
    /// use urcu_structures::RcuHashMap;
    /// let map: RcuHashMap<u64, u64> = RcuHashMap::new();
    /// assert!(map.is_empty());
    /// map.pin().insert(1, 1);
    /// assert!(!map.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Entries the current table holds before it grows.
    ///
    /// ```
    /// use urcu_structures::RcuHashMap;
    /// let map: RcuHashMap<u64, u64> = RcuHashMap::new();
    /// let before = map.capacity();
    /// let m = map.pin();
    /// for i in 0..4 * before as u64 {
    ///     m.insert(i, i); // four times as many entries
    /// }
    /// assert!(map.capacity() > before); // the table grew
    /// ```
    pub fn capacity(&self) -> usize {
        let _g = self.domain.read_lock();
        self.root().len() * M::SLOTS * M::GROW_PERCENT / 100
    }

    #[inline]
    fn count(&self, delta: isize) {
        stripe::add(&self.counts, delta);
    }

    /// Checks the tag summaries of the current table (and of the next, if
    /// a resize is under way) against their chains; see
    /// [`Table::check_summaries`].
    #[cfg(all(test, not(loom)))]
    pub(crate) fn check_summaries(&self) {
        let _g = self.domain.read_lock();
        let t = self.root();
        t.check_summaries();
        if let Some(next) = t.next() {
            next.check_summaries();
        }
    }

    /// Whether a resize is under way and how many buckets it has moved
    /// (tests look at a resize the writes left half done).
    #[cfg(all(test, not(loom)))]
    pub(crate) fn resize_progress(&self) -> Option<usize> {
        let _g = self.domain.read_lock();
        let t = self.root();
        t.next().map(|_| t.moved.load(Ordering::Relaxed))
    }
}

impl<K, V, S, M> Drop for RcuHashMap<K, V, S, M>
where
    K: Send + Sync + 'static,
    V: Send + Sync + 'static,
    M: MapStorage<K, V>,
{
    fn drop(&mut self) {
        // `&mut self`: no reader or writer remains. A resize left half done
        // (writes stopped before it finished, or a migrating writer
        // panicked) is finished by dropping both tables' live entries:
        // unmoved buckets in the old one, the rest in the new.
        let root = ptr_mut(&mut self.root);
        // SAFETY: the root came from `Box::into_raw`; nothing else owns it.
        let mut t = unsafe { Box::from_raw(root) };
        let next = ptr_mut(&mut t.next);
        t.drop_entries();
        drop(t);
        if !next.is_null() {
            // SAFETY: as above: a half-migrated next table is ours alone.
            let mut n = unsafe { Box::from_raw(next) };
            n.drop_entries();
        }
    }
}

impl<K, V> Default for RcuHashMap<K, V, ahash::RandomState>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Send + Sync + 'static,
{
    fn default() -> Self {
        Self::new()
    }
}

impl<K, V, S, M> std::fmt::Debug for RcuHashMap<K, V, S, M>
where
    K: Hash + Eq + Send + Sync + std::fmt::Debug + 'static,
    V: Send + Sync + std::fmt::Debug + 'static,
    S: BuildHasher,
    M: MapStorage<K, V>,
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let m = self.pin();
        f.debug_map().entries(m.iter()).finish()
    }
}
