//! `RcuHashMap`: a hash map for read-heavy services, whose lookups write no
//! shared memory and never wait.
//!
//! See [`table`] for the layout (one cache line per bucket, boxed immutable
//! entries) and for how resizing proceeds without stopping readers.

mod iter;
#[cfg(feature = "rayon")]
mod par;
mod table;

pub use iter::Iter;
#[cfg(feature = "rayon")]
pub use par::ParIter;

use crossbeam_utils::CachePadded;
use std::borrow::Borrow;
use std::hash::{BuildHasher, Hash};
use std::sync::atomic::{AtomicIsize, AtomicPtr, Ordering};
use table::{BucketLock, Entry, Lookup, Table};
use urcu_reclaim::{default_domain, Domain, ReadGuard};

/// Buckets of a new, empty map.
const MIN_BUCKETS: usize = 16;
/// Grow when the average chain holds more than this many entries (of 6
/// slots per bucket line).
const GROW_LOAD: usize = 4;
/// Counter stripes for `len` (writers on different buckets rarely share one).
const STRIPES: usize = 32;
/// Buckets a helper migrates per claim.
const MIGRATE_CHUNK: usize = 64;

/// A concurrent hash map with RCU reads: `get` is lock-free, writes
/// nothing shared and touches about two cache lines; writers lock only
/// their bucket; the table grows and shrinks by itself without blocking
/// readers. Replaced and removed entries, and old tables, are freed through
/// the reclamation queue after a grace period.
///
/// Reads go through a pinned handle ([`pin`](Self::pin)), or through an
/// explicit guard ([`get`](Self::get)), or by value ([`get_cloned`](Self::get_cloned)).
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
pub struct RcuHashMap<K, V, S = ahash::RandomState>
where
    K: Send + Sync + 'static,
    V: Send + Sync + 'static,
{
    /// The current table. Stored with release once a table is complete
    /// (new, or fully migrated to); loaded with acquire.
    root: CachePadded<AtomicPtr<Table<K, V>>>,
    hasher: S,
    domain: Domain,
    /// Striped element count: `len` sums them.
    counts: Box<[CachePadded<AtomicIsize>]>,
    /// Smallest bucket count shrinking goes down to.
    min_buckets: usize,
}

// SAFETY: the map hands `&K`/`&V` to readers on any thread and drops
// entries on the reclaiming thread: `K, V: Send + Sync` (required above).
unsafe impl<K: Send + Sync, V: Send + Sync, S: Send> Send for RcuHashMap<K, V, S> {}
// SAFETY: as above; the hasher is only read (`&S`), so it must be `Sync`.
unsafe impl<K: Send + Sync, V: Send + Sync, S: Sync> Sync for RcuHashMap<K, V, S> {}

/// Configures an [`RcuHashMap`].
///
/// ```
/// use urcu_structures::RcuHashMap;
/// let d = urcu_reclaim::Domain::new();
/// let m: RcuHashMap<u64, u64> = RcuHashMap::builder().capacity(1000).domain(&d).build();
/// assert!(m.is_empty());
/// ```
#[must_use]
pub struct MapBuilder<K, V, S = ahash::RandomState> {
    capacity: usize,
    hasher: S,
    domain: Option<Domain>,
    _types: std::marker::PhantomData<fn() -> (K, V)>,
}

impl<K, V, S> std::fmt::Debug for MapBuilder<K, V, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MapBuilder")
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

impl<K, V, S> MapBuilder<K, V, S>
where
    K: Send + Sync + 'static,
    V: Send + Sync + 'static,
    S: BuildHasher,
{
    /// Room for about `n` entries before the first resize.
    pub fn capacity(mut self, n: usize) -> Self {
        self.capacity = n;
        self
    }

    /// The hasher.
    pub fn hasher<S2: BuildHasher>(self, hasher: S2) -> MapBuilder<K, V, S2> {
        MapBuilder {
            capacity: self.capacity,
            hasher,
            domain: self.domain,
            _types: std::marker::PhantomData,
        }
    }

    /// The grace-period domain (default: the process-wide one).
    pub fn domain(mut self, domain: &Domain) -> Self {
        self.domain = Some(domain.clone());
        self
    }

    /// Builds the map.
    pub fn build(self) -> RcuHashMap<K, V, S> {
        let buckets = (self.capacity / GROW_LOAD)
            .max(MIN_BUCKETS)
            .next_power_of_two();
        RcuHashMap {
            root: CachePadded::new(AtomicPtr::new(Box::into_raw(Box::new(Table::new(buckets))))),
            hasher: self.hasher,
            domain: self.domain.unwrap_or_else(|| default_domain().clone()),
            counts: (0..STRIPES)
                .map(|_| CachePadded::new(AtomicIsize::new(0)))
                .collect(),
            min_buckets: buckets,
        }
    }
}

impl<K, V> RcuHashMap<K, V, ahash::RandomState>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Send + Sync + 'static,
{
    /// An empty map (default domain, ahash).
    pub fn new() -> Self {
        Self::builder().build()
    }

    /// An empty map with room for about `capacity` entries.
    pub fn with_capacity(capacity: usize) -> Self {
        Self::builder().capacity(capacity).build()
    }

    /// A builder (capacity, hasher, domain).
    pub fn builder() -> MapBuilder<K, V, ahash::RandomState> {
        MapBuilder {
            capacity: 0,
            hasher: ahash::RandomState::new(),
            domain: None,
            _types: std::marker::PhantomData,
        }
    }
}

impl<K, V, S> RcuHashMap<K, V, S>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Send + Sync + 'static,
    S: BuildHasher,
{
    /// An empty map using `hasher`.
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
    pub fn domain(&self) -> &Domain {
        &self.domain
    }

    #[inline]
    fn hash<Q: Hash + ?Sized>(&self, key: &Q) -> u64 {
        self.hasher.hash_one(key)
    }

    #[inline(always)]
    fn root(&self) -> &Table<K, V> {
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
    /// section, and whose references live as long as it does.
    #[inline]
    pub fn pin(&self) -> Pinned<'_, K, V, S> {
        Pinned {
            map: self,
            guard: self.domain.read_lock(),
        }
    }

    /// The value for `key`, valid while `guard` lives.
    ///
    /// # Panics
    /// If `guard` belongs to another domain.
    #[inline]
    pub fn get<'g, Q>(&'g self, key: &Q, guard: &'g ReadGuard<'_>) -> Option<&'g V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.check(guard);
        self.find(key).map(|e| &e.value)
    }

    /// A copy of the value for `key`, for callers that do not want a guard.
    pub fn get_cloned<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
        V: Clone,
    {
        let _g = self.domain.read_lock();
        self.find(key).map(|e| e.value.clone())
    }

    /// Whether `key` is present.
    pub fn contains_key<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let _g = self.domain.read_lock();
        self.find(key).is_some()
    }

    /// The entry for `key`. The caller is in a read-side section.
    #[inline]
    fn find<Q>(&self, key: &Q) -> Option<&Entry<K, V>>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let hash = self.hash(key);
        let mut t = self.root();
        loop {
            match t.bucket(hash).find(hash, |k| k.borrow() == key) {
                Lookup::Found(e) => return Some(e),
                Lookup::Absent => return None,
                Lookup::Moved => t = t.next().expect("a moved bucket has a next table"),
            }
        }
    }

    /// Number of entries (exact once writers are quiet).
    pub fn len(&self) -> usize {
        self.counts
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .sum::<isize>()
            .max(0) as usize
    }

    /// Whether the map is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Entries the current table holds before it grows (buckets × load).
    pub fn capacity(&self) -> usize {
        let _g = self.domain.read_lock();
        self.root().len() * GROW_LOAD
    }

    #[inline]
    fn count(&self, hash: u64, delta: isize) {
        self.counts[(hash >> 32) as usize % STRIPES].fetch_add(delta, Ordering::Relaxed);
    }

    fn retire(&self, e: *mut Entry<K, V>) {
        // SAFETY: `e` came from `Box::into_raw`, was just unlinked under its
        // bucket lock (unreachable for new readers), and is retired once.
        unsafe { self.domain.rcu_reclaim_queue_raw(e) };
    }

    /// Locks the bucket that owns `hash`, in the table where it currently
    /// lives (migrating it first if a resize is under way).
    fn lock_bucket(&self, hash: u64) -> (&Table<K, V>, BucketLock<'_, K, V>) {
        let mut t = self.root();
        loop {
            let lock = t.bucket(hash).lock();
            if lock.is_moved() {
                drop(lock);
                t = t.next().expect("a moved bucket has a next table");
                continue;
            }
            match t.next() {
                None => return (t, lock),
                Some(next) => {
                    lock.migrate_to(next);
                    drop(lock);
                    self.finish_bucket_move(t);
                    // Share the resize: every writer that meets it moves a
                    // chunk, so growth is not one thread's job.
                    self.migrate_chunk(t, next);
                    t = next;
                }
            }
        }
    }

    /// Counts one more bucket moved out of `t`; the last one switches the
    /// root to the next table and retires `t`.
    fn finish_bucket_move(&self, t: &Table<K, V>) {
        if t.moved.fetch_add(1, Ordering::AcqRel) + 1 == t.len() {
            let next = t.next.load(Ordering::Acquire);
            // Swap the root's own pointer (which carries the allocation's
            // provenance) for the next table. Release: the next table, filled
            // by migration, is complete for readers that load the root.
            let old = self.root.swap(next, Ordering::AcqRel);
            assert!(
                std::ptr::eq(old, t),
                "only the last migrator of the root table switches it"
            );
            // SAFETY: `old` came from `Box::into_raw`, is no longer the root
            // (readers reach it only through sections that began before),
            // and only this thread saw the last bucket move.
            unsafe { self.domain.rcu_reclaim_queue_raw(old) };
        }
    }

    /// Migrates buckets of `t` in chunks until none is left to claim.
    fn help_migrate(&self, t: &Table<K, V>) {
        let Some(next) = t.next() else { return };
        while self.migrate_chunk(t, next) {}
    }

    /// Claims and migrates one chunk of `t`'s buckets; `false` when none
    /// was left to claim.
    fn migrate_chunk(&self, t: &Table<K, V>, next: &Table<K, V>) -> bool {
        let start = t.claimed.fetch_add(MIGRATE_CHUNK, Ordering::Relaxed);
        if start >= t.len() {
            return false;
        }
        for i in start..(start + MIGRATE_CHUNK).min(t.len()) {
            let lock = t.bucket_at(i).lock();
            if !lock.is_moved() {
                lock.migrate_to(next);
                drop(lock);
                self.finish_bucket_move(t);
            }
        }
        true
    }

    /// Starts a resize of the root table to `buckets` (unless one is
    /// already under way) and helps it finish.
    fn resize(&self, buckets: usize) {
        let t = self.root();
        if t.next().is_none() && t.len() != buckets {
            let fresh = Box::into_raw(Box::new(Table::new(buckets)));
            // Release: the new table is built before helpers can see it.
            if t.next
                .compare_exchange(
                    std::ptr::null_mut(),
                    fresh,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                )
                .is_err()
            {
                // SAFETY: never published.
                drop(unsafe { Box::from_raw(fresh) });
            }
        }
        self.help_migrate(t);
    }

    /// Called after a chain had to grow: grow the table if it is loaded.
    #[cold]
    fn maybe_grow(&self, t: &Table<K, V>) {
        if t.next().is_none() && self.len() > t.len() * GROW_LOAD {
            self.resize(t.len() * 2);
        }
    }

    /// Called now and then after a removal: shrink the table if it is
    /// mostly empty.
    #[cold]
    fn maybe_shrink(&self, t: &Table<K, V>) {
        if t.next().is_none() && t.len() > self.min_buckets && self.len() < t.len() / 2 {
            self.resize(t.len() / 2);
        }
    }

    fn new_entry(hash: u64, key: K, value: V) -> *mut Entry<K, V> {
        Box::into_raw(Box::new(Entry { hash, key, value }))
    }

    /// Inserts or replaces; returns the old entry (retired) if there was one.
    fn insert_entry(&self, key: K, value: V) -> Option<&Entry<K, V>> {
        let hash = self.hash(&key);
        let (t, lock) = self.lock_bucket(hash);
        if let Some((slot, _)) = lock.find_slot(hash, |k| *k == key) {
            let old = lock.replace(&slot, Self::new_entry(hash, key, value));
            drop(lock);
            self.retire(old);
            // SAFETY: retired just now: valid until the caller's section ends.
            return Some(unsafe { &*old });
        }
        let grew = lock.insert_new(Self::new_entry(hash, key, value), hash);
        drop(lock);
        self.count(hash, 1);
        if grew {
            self.maybe_grow(t);
        }
        None
    }

    /// Removes the entry for `key`; returns it (retired). One lookup,
    /// under the bucket lock.
    fn remove_entry<Q>(&self, key: &Q) -> Option<&Entry<K, V>>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let hash = self.hash(key);
        let (t, lock) = self.lock_bucket(hash);
        let (slot, _) = lock.find_slot(hash, |k| k.borrow() == key)?;
        let old = lock.remove(&slot);
        drop(lock);
        self.removed(t, hash, old);
        // SAFETY: retired just now: valid until the caller's section ends.
        Some(unsafe { &*old })
    }

    /// Bookkeeping after `old` was unlinked from `t`.
    fn removed(&self, t: &Table<K, V>, hash: u64, old: *mut Entry<K, V>) {
        self.retire(old);
        self.count(hash, -1);
        if t.index(hash) % 64 == 0 {
            self.maybe_shrink(t);
        }
    }

    /// Removes the entry for `key` if `pred` accepts it (at the moment of
    /// removal); returns it (retired).
    fn remove_entry_if<Q>(
        &self,
        key: &Q,
        mut pred: impl FnMut(&K, &V) -> bool,
    ) -> Option<&Entry<K, V>>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let hash = self.hash(key);
        loop {
            // Run the predicate outside the lock (it may be slow, or touch
            // the map), then remove only if the entry is still the same.
            let seen = self.find(key)?;
            if !pred(&seen.key, &seen.value) {
                return None;
            }
            let (t, lock) = self.lock_bucket(hash);
            let (slot, now) = lock.find_slot(hash, |k| k.borrow() == key)?;
            if !std::ptr::eq(now, seen) {
                continue;
            }
            let old = lock.remove(&slot);
            drop(lock);
            self.removed(t, hash, old);
            // SAFETY: retired just now: valid until the caller's section ends.
            return Some(unsafe { &*old });
        }
    }

    /// Replaces the value for `key` with `f(old)`, if present. `f` runs
    /// outside any lock and may run again if another writer changed the
    /// entry meanwhile. Returns the new value.
    fn update_entry<Q>(&self, key: &Q, mut f: impl FnMut(&V) -> V) -> Option<&Entry<K, V>>
    where
        K: Borrow<Q> + Clone,
        Q: Hash + Eq + ?Sized,
    {
        let hash = self.hash(key);
        loop {
            let seen = self.find(key)?;
            let value = f(&seen.value);
            let (_, lock) = self.lock_bucket(hash);
            let (slot, now) = lock.find_slot(hash, |k| k.borrow() == key)?;
            if !std::ptr::eq(now, seen) {
                continue;
            }
            let fresh = Self::new_entry(hash, seen.key.clone(), value);
            let old = lock.replace(&slot, fresh);
            drop(lock);
            self.retire(old);
            // SAFETY: just published; valid until the caller's section ends
            // (a later replacement retires it after a grace period).
            return Some(unsafe { &*fresh });
        }
    }

    /// The value for `key`, inserting `make()` first if absent. `make` runs
    /// outside any lock; if another writer inserted the key meanwhile, its
    /// value wins and ours is dropped.
    fn get_or_insert_entry(&self, key: K, make: impl FnOnce() -> V) -> &Entry<K, V> {
        if let Some(e) = self.find(&key) {
            return e;
        }
        let value = make();
        let hash = self.hash(&key);
        let (t, lock) = self.lock_bucket(hash);
        if let Some((_, e)) = lock.find_slot(hash, |k| *k == key) {
            return e;
        }
        let fresh = Self::new_entry(hash, key, value);
        let grew = lock.insert_new(fresh, hash);
        drop(lock);
        self.count(hash, 1);
        if grew {
            self.maybe_grow(t);
        }
        // SAFETY: just published; valid until the caller's section ends.
        unsafe { &*fresh }
    }

    /// Removes every entry. Concurrent inserts may survive (they are not
    /// ordered with the clear).
    pub fn clear(&self) {
        let _g = self.domain.read_lock();
        let t = loop {
            let t = self.root();
            if t.next().is_none() {
                break t;
            }
            self.help_migrate(t);
        };
        for i in 0..t.len() {
            let lock = t.bucket_at(i).lock();
            if lock.is_moved() {
                continue; // a resize began meanwhile: its entries are elsewhere
            }
            let mut hashes = Vec::new();
            lock.drain(|e| {
                // SAFETY: live until retired just below.
                hashes.push(unsafe { (*e).hash });
                self.retire(e);
            });
            drop(lock);
            for h in hashes {
                self.count(h, -1);
            }
        }
    }
}

impl<K, V, S> Drop for RcuHashMap<K, V, S>
where
    K: Send + Sync + 'static,
    V: Send + Sync + 'static,
{
    fn drop(&mut self) {
        // `&mut self`: no reader or writer remains. A resize left half done
        // (a migrating writer panicked) is finished by dropping both tables'
        // live entries: unmoved buckets in the old one, the rest in the new.
        let root = *self.root.get_mut();
        // SAFETY: the root came from `Box::into_raw`; nothing else owns it.
        let mut t = unsafe { Box::from_raw(root) };
        let next = *t.next.get_mut();
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

impl<K, V, S> std::fmt::Debug for RcuHashMap<K, V, S>
where
    K: Hash + Eq + Send + Sync + std::fmt::Debug + 'static,
    V: Send + Sync + std::fmt::Debug + 'static,
    S: BuildHasher,
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let m = self.pin();
        f.debug_map().entries(m.iter()).finish()
    }
}

impl<K, V> FromIterator<(K, V)> for RcuHashMap<K, V, ahash::RandomState>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Send + Sync + 'static,
{
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let iter = iter.into_iter();
        let map = Self::with_capacity(iter.size_hint().0);
        map.extend_from(iter);
        map
    }
}

impl<K, V, S> RcuHashMap<K, V, S>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Send + Sync + 'static,
    S: BuildHasher,
{
    fn extend_from(&self, iter: impl IntoIterator<Item = (K, V)>) {
        let m = self.pin();
        for (k, v) in iter {
            m.insert(k, v);
        }
    }
}

impl<K, V, S> Extend<(K, V)> for RcuHashMap<K, V, S>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Send + Sync + 'static,
    S: BuildHasher,
{
    fn extend<I: IntoIterator<Item = (K, V)>>(&mut self, iter: I) {
        self.extend_from(iter);
    }
}

impl<K, V, S> Extend<(K, V)> for &RcuHashMap<K, V, S>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Send + Sync + 'static,
    S: BuildHasher,
{
    fn extend<I: IntoIterator<Item = (K, V)>>(&mut self, iter: I) {
        self.extend_from(iter);
    }
}

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
pub struct Pinned<'m, K, V, S = ahash::RandomState>
where
    K: Send + Sync + 'static,
    V: Send + Sync + 'static,
{
    map: &'m RcuHashMap<K, V, S>,
    guard: ReadGuard<'m>,
}

impl<'m, K, V, S> Pinned<'m, K, V, S>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Send + Sync + 'static,
    S: BuildHasher,
{
    /// The read-side section this handle holds.
    pub fn guard(&self) -> &ReadGuard<'m> {
        &self.guard
    }

    /// The value for `key`.
    #[inline]
    pub fn get<Q>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.map.find(key).map(|e| &e.value)
    }

    /// The key and value stored for `key`.
    pub fn get_key_value<Q>(&self, key: &Q) -> Option<(&K, &V)>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.map.find(key).map(|e| (&e.key, &e.value))
    }

    /// Whether `key` is present.
    pub fn contains_key<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.map.find(key).is_some()
    }

    /// Inserts or replaces; returns the old value (dropped after a grace
    /// period, readable while this handle lives).
    pub fn insert(&self, key: K, value: V) -> Option<&V> {
        self.map.insert_entry(key, value).map(|e| &e.value)
    }

    /// Removes `key`; returns its value (readable while this handle lives).
    pub fn remove<Q>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.map.remove_entry(key).map(|e| &e.value)
    }

    /// Removes `key` if `pred` accepts its current entry. `pred` runs
    /// outside any lock, and again if the entry changed meanwhile.
    pub fn remove_if<Q>(&self, key: &Q, pred: impl FnMut(&K, &V) -> bool) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.map.remove_entry_if(key, pred).map(|e| &e.value)
    }

    /// The value for `key`, inserting `make()` if absent (`make` runs at
    /// most once, outside any lock; if another thread inserted first, its
    /// value is returned and ours dropped).
    pub fn get_or_insert_with(&self, key: K, make: impl FnOnce() -> V) -> &V {
        &self.map.get_or_insert_entry(key, make).value
    }

    /// Copy-on-write update: replaces the value for `key` with `f(old)` and
    /// returns the new value, or `None` if absent. `f` runs outside any
    /// lock and may run again if another writer changed the entry meanwhile.
    pub fn update<Q>(&self, key: &Q, f: impl FnMut(&V) -> V) -> Option<&V>
    where
        K: Borrow<Q> + Clone,
        Q: Hash + Eq + ?Sized,
    {
        self.map.update_entry(key, f).map(|e| &e.value)
    }

    /// Keeps only the entries for which `keep` returns true (each entry is
    /// judged once, outside any lock; see [`remove_if`](Self::remove_if)).
    pub fn retain(&self, mut keep: impl FnMut(&K, &V) -> bool) {
        let doomed: Vec<&K> = self
            .iter()
            .filter(|(k, v)| !keep(k, v))
            .map(|(k, _)| k)
            .collect();
        for k in doomed {
            self.map.remove_entry_if(k, |k2, v2| !keep(k2, v2));
        }
    }

    /// A weakly consistent iteration: see [`Iter`].
    pub fn iter(&self) -> Iter<'_, K, V> {
        Iter::new(self.map.root())
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether the map is empty.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

impl<K, V, S> std::fmt::Debug for Pinned<'_, K, V, S>
where
    K: Hash + Eq + Send + Sync + std::fmt::Debug + 'static,
    V: Send + Sync + std::fmt::Debug + 'static,
    S: BuildHasher,
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}
