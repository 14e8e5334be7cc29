//! [`Pinned`]: a map handle whose reads and writes share one read-side
//! section.

use super::{Boxed, Compute, Computed, MapIter, MapKeys, MapStorage, MapValues, RcuHashMap};
use std::borrow::Borrow;
use std::hash::{BuildHasher, Hash};
use urcu_reclaim::ReadGuard;

/// A pinned [`RcuHashMap`]: reads and writes inside one read-side section,
/// returning references that live as long as the handle. `!Send`.
///
/// ```
/// let map = urcu_structures::RcuHashMap::new();
/// let m = map.pin();
/// m.insert(1, "one");
/// assert_eq!(m.get_or_insert_with(2, || "two"), &"two");
/// assert_eq!(m.update(&1, |v| if *v == "one" { "uno" } else { v }), Some(&"uno"));
/// assert_eq!(m.remove_if(&2, |_, v| *v == "zwei"), None);
/// m.retain(|k, _| *k == 1);
/// assert_eq!(m.iter().count(), 1);
/// ```
pub struct Pinned<'m, K, V, S = ahash::RandomState, M = Boxed>
where
    K: Send + Sync + 'static,
    V: Send + Sync + 'static,
    M: MapStorage<K, V>,
{
    pub(super) map: &'m RcuHashMap<K, V, S, M>,
    pub(super) guard: ReadGuard<'m>,
}

impl<'m, K, V, S, M> Pinned<'m, K, V, S, M>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Send + Sync + 'static,
    S: BuildHasher,
    M: MapStorage<K, V>,
{
    /// The read-side section this handle holds.
    ///
    /// ```
    /// use urcu_structures::RcuHashMap;
    /// let map: RcuHashMap<u32, u32> = RcuHashMap::new();
    /// let m = map.pin();
    /// m.insert(1, 10);
    /// assert_eq!(map.get(&1, m.guard()), Some(&10)); // reuse the handle's section
    /// ```
    pub fn guard(&self) -> &ReadGuard<'m> {
        &self.guard
    }

    /// Ends this handle's read-side section and begins a new one, so that
    /// what it replaced or removed so far may be freed; a long-lived
    /// handle calls it between batches of work. `&mut self`: no reference
    /// read through the handle outlives it. (`m = map.pin()` would not do:
    /// the new section begins before the old handle drops, so the thread
    /// never leaves its section.) A no-op inside an outer section of the
    /// map's domain, which goes on. See [`ReadGuard::repin`].
    ///
    /// ```
    /// use urcu_structures::RcuHashMap;
    /// let map: RcuHashMap<u64, u64> = RcuHashMap::new();
    /// let mut m = map.pin();
    /// for i in 0..1_000 {
    ///     m.insert(i % 100, i);
    ///     if i % 64 == 63 {
    ///         m.repin(); // the values replaced so far may now be freed
    ///     }
    /// }
    /// assert_eq!(m.get(&99), Some(&999));
    /// ```
    #[inline]
    pub fn repin(&mut self) {
        self.guard.repin();
    }

    /// The value for `key`.
    ///
    /// ```
    /// use urcu_structures::RcuHashMap;
    /// let map: RcuHashMap<String, u32> = RcuHashMap::new();
    /// let m = map.pin();
    /// m.insert("a".to_string(), 1);
    /// assert_eq!(m.get("a"), Some(&1)); // a `String` key looked up by `&str`
    /// assert_eq!(m.get("b"), None);
    /// ```
    #[inline]
    pub fn get<Q>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.map.find(key).map(|(_, v)| v)
    }

    /// The values for `N` keys, looked up together so that their cache
    /// misses overlap: all the bucket lines are requested before any is
    /// read. Each key is looked up as by [`get`](Self::get), and a key may
    /// appear more than once.
    ///
    /// It pays where the table is larger than the CPU's caches. There one
    /// `get` at a time waits for its own miss; a batch of 16 keys waits
    /// for them together (BENCHMARKS.md has the figures, from `cargo bench
    /// -p urcu-bench --bench map -- --workloads batch_get`).
    ///
    /// ```
    /// use urcu_structures::RcuHashMap;
    /// let flags: RcuHashMap<String, bool> = RcuHashMap::new();
    /// let m = flags.pin();
    /// m.insert("dark-mode".to_string(), true);
    /// m.insert("beta".to_string(), false);
    /// let [dark, beta, gone] = m.get_many(["dark-mode", "beta", "retired"]);
    /// assert_eq!((dark, beta, gone), (Some(&true), Some(&false), None));
    /// ```
    pub fn get_many<Q, const N: usize>(&self, keys: [&Q; N]) -> [Option<&V>; N]
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.map.find_many(keys).map(|found| found.map(|(_, v)| v))
    }

    /// The key and value stored for `key`.
    ///
    /// ```
    /// use urcu_structures::RcuHashMap;
    /// let map: RcuHashMap<String, u32> = RcuHashMap::new();
    /// let m = map.pin();
    /// m.insert("a".to_string(), 1);
    /// let (k, v) = m.get_key_value("a").unwrap();
    /// assert_eq!((k.as_str(), *v), ("a", 1));
    /// ```
    pub fn get_key_value<Q>(&self, key: &Q) -> Option<(&K, &V)>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.map.find(key)
    }

    /// Whether `key` is present.
    ///
    /// ```
    /// use urcu_structures::RcuHashMap;
    /// let map: RcuHashMap<u32, &str> = RcuHashMap::new();
    /// let m = map.pin();
    /// m.insert(3, "three");
    /// assert!(m.contains_key(&3) && !m.contains_key(&4));
    /// ```
    pub fn contains_key<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.map.find(key).is_some()
    }

    /// Inserts or replaces; returns the old value (dropped after a grace
    /// period, readable while this handle lives).
    ///
    /// ```
    /// use urcu_structures::RcuHashMap;
    /// let map: RcuHashMap<&str, u32> = RcuHashMap::new();
    /// let m = map.pin();
    /// assert_eq!(m.insert("hits", 1), None);
    /// let old = m.insert("hits", 2); // replaced: the old value stays readable
    /// assert_eq!((old, m.get("hits")), (Some(&1), Some(&2)));
    /// ```
    pub fn insert(&self, key: K, value: V) -> Option<&V> {
        self.map.insert_entry(key, value).map(|(_, v)| v)
    }

    /// Removes `key`; returns its value (readable while this handle lives).
    ///
    /// ```
    /// use urcu_structures::RcuHashMap;
    /// let map: RcuHashMap<u32, String> = RcuHashMap::new();
    /// let m = map.pin();
    /// m.insert(1, "one".to_string());
    /// let gone = m.remove(&1).unwrap(); // unpublished; freed after a grace period
    /// assert_eq!((gone.as_str(), m.get(&1)), ("one", None));
    /// assert_eq!(m.remove(&1), None);
    /// ```
    pub fn remove<Q>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.map.remove_entry(key).map(|(_, v)| v)
    }

    /// Removes `key` if `pred` accepts its current entry. `pred` runs
    /// outside any lock, and again if the entry changed meanwhile.
    ///
    /// ```
    /// use urcu_structures::RcuHashMap;
    /// let map: RcuHashMap<&str, u32> = RcuHashMap::new();
    /// let m = map.pin();
    /// m.insert("session", 0);
    /// assert_eq!(m.remove_if("session", |_, uses| *uses > 0), None); // kept
    /// assert_eq!(m.remove_if("session", |_, uses| *uses == 0), Some(&0));
    /// assert!(m.is_empty());
    /// ```
    pub fn remove_if<Q>(&self, key: &Q, pred: impl FnMut(&K, &V) -> bool) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.map.remove_entry_if(key, pred).map(|(_, v)| v)
    }

    /// The value for `key`, inserting `make()` if absent (`make` runs at
    /// most once, outside any lock; if another thread inserted first, its
    /// value is returned and ours dropped).
    ///
    /// ```
    /// use urcu_structures::RcuHashMap;
    /// let map: RcuHashMap<u32, String> = RcuHashMap::new();
    /// let m = map.pin();
    /// assert_eq!(m.get_or_insert_with(1, || "made".to_string()), "made");
    /// // Present now: `make` does not run.
    /// assert_eq!(m.get_or_insert_with(1, || unreachable!()), "made");
    /// ```
    pub fn get_or_insert_with(&self, key: K, make: impl FnOnce() -> V) -> &V {
        self.map.get_or_insert_entry(key, make).1
    }

    /// Copy-on-write update: replaces the value for `key` with `f(old)` and
    /// returns the new value, or `None` if absent. `f` runs outside any
    /// lock and may run again if another writer changed the entry meanwhile.
    ///
    /// ```
    /// use urcu_structures::RcuHashMap;
    /// let map: RcuHashMap<&str, Vec<u32>> = RcuHashMap::new();
    /// let m = map.pin();
    /// m.insert("list", vec![1]);
    /// let new = m.update("list", |old| [&old[..], &[2]].concat()); // copy, then publish
    /// assert_eq!(new, Some(&vec![1, 2]));
    /// assert_eq!(m.update("missing", |v| v.clone()), None);
    /// ```
    pub fn update<Q>(&self, key: &Q, f: impl FnMut(&V) -> V) -> Option<&V>
    where
        K: Borrow<Q> + Clone,
        Q: Hash + Eq + ?Sized,
    {
        self.map.update_entry(key, f).map(|(_, v)| v)
    }

    /// Upsert: replaces the value for `key` with `update(old)` if present,
    /// inserts `insert()` if absent, and returns the value now stored.
    /// Exactly one of the two closures runs, once; the old value, if any,
    /// is retired (readable while this handle lives), as by
    /// [`update`](Self::update).
    ///
    /// Atomic with respect to every other writer of `key`: the closure runs
    /// under the key's bucket lock, between the look-up and the write, so
    /// concurrent upserts of one key each see the value the previous one
    /// stored and none is lost. (papaya's method of this name runs its
    /// closure in a compare-and-swap loop, which calls it again whenever
    /// another writer won the race; a per-bucket writer lock lets this one
    /// promise a single call. [`update`](Self::update) and
    /// [`get_or_insert_with`](Self::get_or_insert_with) run their closures
    /// outside the lock instead, and may retry or discard.) Readers never
    /// wait for the lock: they see the old value until the new one is
    /// published.
    ///
    /// The closures run with the bucket lock held: keep them short (other
    /// writers of that bucket wait), and do not write to this map from
    /// them, which panics (it could wait for that lock forever); reading
    /// it is fine. A closure that panics leaves the map as it was and the
    /// bucket unlocked. This is [`compute`](Self::compute) with a closure
    /// that always stores a value.
    ///
    /// ```
    /// use urcu_structures::RcuHashMap;
    /// let hits: RcuHashMap<&str, u64> = RcuHashMap::new();
    /// let m = hits.pin();
    /// assert_eq!(m.update_or_insert_with("/", |n| n + 1, || 1), &1); // inserted
    /// assert_eq!(m.update_or_insert_with("/", |n| n + 1, || 1), &2); // updated
    /// ```
    ///
    /// Counters shared by threads lose no increment:
    ///
    /// ```
    /// use urcu_structures::RcuHashMap;
    /// let hits: RcuHashMap<u32, u64> = RcuHashMap::new();
    /// std::thread::scope(|s| {
    ///     for _ in 0..4 {
    ///         s.spawn(|| {
    ///             for _ in 0..1000 {
    ///                 hits.pin().update_or_insert_with(7, |n| n + 1, || 1);
    ///             }
    ///         });
    ///     }
    /// });
    /// assert_eq!(hits.get_cloned(&7), Some(4000));
    /// ```
    #[doc(alias("upsert", "entry", "and_modify", "or_insert"))]
    pub fn update_or_insert_with(
        &self,
        key: K,
        update: impl FnOnce(&V) -> V,
        insert: impl FnOnce() -> V,
    ) -> &V {
        self.map.upsert_entry(key, update, insert)
    }

    /// Reads and writes the entry for `key` in one atomic step: `f` sees
    /// the current value (`None` if absent) and returns what to do
    /// ([`Compute::Insert`] a value, [`Compute::Remove`] the entry, or
    /// [`Compute::Keep`] it as it is). Returns the value before and after
    /// ([`Computed`]); a replaced or removed value is retired and stays
    /// readable while this handle lives.
    ///
    /// `f` runs exactly once, under the key's bucket lock, so no other
    /// writer changes the key between what `f` saw and what it decided
    /// (papaya's `compute` may call its closure several times, in a
    /// compare-and-swap loop). `f` cannot return a result of its own, but
    /// as it runs once it may write to captured variables. The rules of
    /// [`update_or_insert_with`](Self::update_or_insert_with) apply: keep
    /// `f` short, do not write to this map from it (that panics); if `f`
    /// panics the map is unchanged and the bucket unlocked.
    ///
    /// ```
    /// use urcu_structures::{Compute, RcuHashMap};
    ///
    /// // Sessions that expire after three uses.
    /// let uses: RcuHashMap<&str, u32> = RcuHashMap::new();
    /// let m = uses.pin();
    /// let mut log = Vec::new();
    /// for _ in 0..4 {
    ///     let r = m.compute("alice", |n| match n {
    ///         None => Compute::Insert(1),
    ///         Some(&3) => Compute::Remove,
    ///         Some(&n) => Compute::Insert(n + 1),
    ///     });
    ///     log.push((r.old.copied(), r.new.copied()));
    /// }
    /// assert_eq!(log, [(None, Some(1)), (Some(1), Some(2)), (Some(2), Some(3)), (Some(3), None)]);
    ///
    /// // Keep: a conditional insert that changes nothing when the key is there.
    /// m.insert("bob", 9);
    /// let r = m.compute("bob", |n| if n.is_some() { Compute::Keep } else { Compute::Insert(0) });
    /// assert_eq!((r.old, r.new), (Some(&9), Some(&9)));
    /// ```
    #[doc(alias("entry", "upsert", "and_modify", "or_insert"))]
    pub fn compute(&self, key: K, f: impl FnOnce(Option<&V>) -> Compute<V>) -> Computed<'_, V> {
        self.map.compute_entry(key, f)
    }

    /// Keeps only the entries for which `keep` returns true. `keep` runs
    /// outside any lock, once per entry: every entry is judged first (a
    /// weakly consistent iteration, see [`MapIter`]), then the rejected ones
    /// are removed if they are still the entry that was judged. An entry
    /// that another writer replaced in between is judged again in its new
    /// form (with [`Inline`](super::Inline) storage, so is one that a concurrent resize
    /// copied to its new table); one that was removed in between stays
    /// removed. A resize under way is finished first, and the removals
    /// start no shrink until the end.
    ///
    /// ```
    /// use urcu_structures::RcuHashMap;
    /// let map: RcuHashMap<u32, u32> = (1..=6).map(|i| (i, i)).collect();
    /// let m = map.pin();
    /// m.retain(|k, _| k % 2 == 0);
    /// let mut left: Vec<u32> = m.iter().map(|(k, _)| *k).collect();
    /// left.sort();
    /// assert_eq!(left, [2, 4, 6]);
    /// ```
    pub fn retain(&self, keep: impl FnMut(&K, &V) -> bool) {
        self.map.retain_entries(|| self.iter(), keep);
    }

    /// A weakly consistent iteration: see [`MapIter`].
    ///
    /// ```
    /// use urcu_structures::RcuHashMap;
    /// let map: RcuHashMap<u32, u32> = (0..4).map(|i| (i, 10 * i)).collect();
    /// let m = map.pin();
    /// let mut pairs: Vec<(u32, u32)> = m.iter().map(|(k, v)| (*k, *v)).collect();
    /// pairs.sort(); // the order is unspecified
    /// assert_eq!(pairs, [(0, 0), (1, 10), (2, 20), (3, 30)]);
    /// ```
    pub fn iter(&self) -> MapIter<'_, K, V, S, M> {
        MapIter::new(self.map.root(), &self.map.hasher)
    }

    /// The keys, as [`iter`](Self::iter) yields them (weakly consistent,
    /// unspecified order).
    ///
    /// ```
    /// use urcu_structures::RcuHashMap;
    /// let map: RcuHashMap<u32, &str> = [(1, "one"), (2, "two")].into_iter().collect();
    /// let m = map.pin();
    /// let mut keys: Vec<u32> = m.keys().copied().collect();
    /// keys.sort();
    /// assert_eq!(keys, [1, 2]);
    /// ```
    pub fn keys(&self) -> MapKeys<'_, K, V, S, M> {
        MapKeys(self.iter())
    }

    /// The values, as [`iter`](Self::iter) yields them (weakly consistent,
    /// unspecified order).
    ///
    /// ```
    /// use urcu_structures::RcuHashMap;
    /// let map: RcuHashMap<&str, u64> = [("a", 1), ("b", 2), ("c", 3)].into_iter().collect();
    /// let m = map.pin();
    /// assert_eq!(m.values().sum::<u64>(), 6);
    /// ```
    pub fn values(&self) -> MapValues<'_, K, V, S, M> {
        MapValues(self.iter())
    }

    /// Number of entries.
    ///
    /// ```
    /// use urcu_structures::RcuHashMap;
    /// let map: RcuHashMap<u32, u32> = RcuHashMap::new();
    /// let m = map.pin();
    /// m.insert(1, 1);
    /// m.insert(2, 2);
    /// assert_eq!(m.len(), 2);
    /// ```
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether the map is empty.
    ///
    /// ```
    /// use urcu_structures::RcuHashMap;
    /// let map: RcuHashMap<u32, u32> = RcuHashMap::new();
    /// let m = map.pin();
    /// assert!(m.is_empty());
    /// m.insert(1, 1);
    /// assert!(!m.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

/// Iterates the pinned map as [`Pinned::iter`] does, so a pinned handle
/// can be the subject of a `for` loop.
///
/// ```
/// use urcu_structures::RcuHashMap;
/// let map: RcuHashMap<u32, u32> = (0..10).map(|i| (i, i * i)).collect();
/// let m = map.pin();
/// let mut total = 0;
/// for (k, v) in &m {
///     assert_eq!(*v, k * k);
///     total += v;
/// }
/// assert_eq!(total, 285);
/// ```
impl<'p, K, V, S, M> IntoIterator for &'p Pinned<'_, K, V, S, M>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Send + Sync + 'static,
    S: BuildHasher,
    M: MapStorage<K, V>,
{
    type Item = (&'p K, &'p V);
    type IntoIter = MapIter<'p, K, V, S, M>;

    fn into_iter(self) -> MapIter<'p, K, V, S, M> {
        self.iter()
    }
}

impl<K, V, S, M> std::fmt::Debug for Pinned<'_, K, V, S, M>
where
    K: Hash + Eq + Send + Sync + std::fmt::Debug + 'static,
    V: Send + Sync + std::fmt::Debug + 'static,
    S: BuildHasher,
    M: MapStorage<K, V>,
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}
