//! `RcuHashMap`: a hash map for read-heavy services, whose lookups write no
//! shared memory and never wait.
//!
//! See [`table`] for the layout (one cache line per bucket, slots written
//! once per grace period) and for how resizing proceeds without stopping
//! readers, and [`storage`] for the two entry formats: boxed (any key and
//! value) and inline (`Copy` pairs inside the bucket line).

mod iter;
mod owned;
#[cfg(feature = "rayon")]
mod par;
mod storage;
mod table;
mod zeroed;

pub use iter::{Iter, Keys, Values};
pub use owned::PinnedOwned;
#[cfg(feature = "rayon")]
pub use par::ParIter;
pub use storage::{Boxed, Inline, Storage};

use crate::sync::{ptr_mut, AtomicIsize, AtomicPtr, Ordering};
use crossbeam_utils::CachePadded;
use std::borrow::Borrow;
use std::hash::{BuildHasher, Hash};
use table::{BucketLock, Lookup, Slot, Table};
use urcu_reclaim::{default_domain, Domain, ReadGuard};

/// Buckets of a new, empty map.
const MIN_BUCKETS: usize = 16;

/// Counter stripes for `len`. A thread keeps to its own stripe, so a
/// writer's count stays in its own cache; striping by key made every
/// insert and removal pull a line another core had just written.
const STRIPES: usize = 32;

/// This thread's counter stripe (threads take stripes round-robin).
fn my_stripe() -> usize {
    if cfg!(loom) {
        // Loom replays a model many times on one OS thread: a stripe
        // taken across runs would make the model nondeterministic.
        return 0;
    }
    use std::sync::atomic::AtomicUsize;
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    std::thread_local! {
        static STRIPE: usize = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % STRIPES;
    }
    STRIPE.with(|s| *s)
}

/// Tables of this many buckets or more check their load on a sample of
/// chain growths (see [`this_thread_checks_the_load`]).
const GROW_SAMPLED_FROM: usize = 4096;

/// In a sampled table, a thread counts the entries on one chain growth in
/// this many.
const GROW_CHECK_EVERY: u32 = 16;

/// A thread counts the entries (to see whether the table should shrink)
/// on one removal in this many.
const SHRINK_CHECK_EVERY: u32 = 64;

/// Whether this chain growth of this thread should count the map's
/// entries. `len` reads every counter stripe: up to [`STRIPES`] lines that
/// the other writers keep dirty, so on a many-core machine one count is a
/// dozen cross-core misses, and it takes those lines from their owners. A
/// write-heavy load grows a chain on about one insert in ten (RapidGrow:
/// 471 K growths for 4.7 M entries), too often for that. Checking one
/// growth in sixteen per thread lets a table of `b` buckets overshoot its
/// load limit by at most 16 lines per writer, under 0.4 % of `b` per
/// writer at 4096 buckets; smaller tables check every growth.
fn this_thread_checks_the_load() -> bool {
    std::thread_local! {
        static GROWTHS: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
    }
    every_nth(&GROWTHS, GROW_CHECK_EVERY)
}

/// Whether this removal of this thread should check for a shrink (one in
/// [`SHRINK_CHECK_EVERY`], for the same reason as
/// [`this_thread_checks_the_load`]). Counted per thread, not by bucket: a
/// check taken only in buckets whose index is a multiple of 64 never came
/// for keys that all hash elsewhere (odd integers under an identity
/// hasher), and such a table never shrank.
fn this_thread_checks_for_shrink() -> bool {
    std::thread_local! {
        static REMOVALS: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
    }
    every_nth(&REMOVALS, SHRINK_CHECK_EVERY)
}

/// Counts one more event in this thread's `counter`; true on every
/// `every`-th. Always true under loom, whose models replay on one OS
/// thread (a count carried across runs would make them nondeterministic).
fn every_nth(counter: &'static std::thread::LocalKey<std::cell::Cell<u32>>, every: u32) -> bool {
    if cfg!(loom) {
        return true;
    }
    counter.with(|c| {
        let n = c.get().wrapping_add(1);
        c.set(n);
        n % every == 0
    })
}

/// Pairs a bulk load (`Extend`, `FromIterator`, and per rayon job
/// `par_extend`) gathers before inserting them together.
const INSERT_BATCH: usize = 16;

/// Buckets a helper migrates per claim.
const MIGRATE_CHUNK: usize = 64;

/// How many buckets ahead of the one it migrates a helper prefetches the
/// boxed entries (whose hashes migration reads: a miss each); overflow
/// lines are prefetched twice as far ahead.
const PREFETCH_AHEAD: usize = 2;

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
    M: Storage<K, V>,
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
unsafe impl<K: Send + Sync, V: Send + Sync, S: Send, M: Storage<K, V>> Send
    for RcuHashMap<K, V, S, M>
{
}
// SAFETY: as above; the hasher is only read (`&S`), so it must be `Sync`.
unsafe impl<K: Send + Sync, V: Send + Sync, S: Sync, M: Storage<K, V>> Sync
    for RcuHashMap<K, V, S, M>
{
}

/// What a builder builds, for variance and auto traits only.
type BuilderTypes<K, V, M> = fn() -> (K, V, M);

/// An item made for an insert and not yet handed to the table: if the
/// insert unwinds first (a panicking `Eq`), what it owns is dropped, not
/// leaked.
struct Unpublished<K, V, M: Storage<K, V>>(Option<M::Item>);

impl<K, V, M: Storage<K, V>> Unpublished<K, V, M> {
    /// The item, to publish.
    fn take(&mut self) -> M::Item {
        self.0.take().expect("an item is published once")
    }
}

impl<K, V, M: Storage<K, V>> Drop for Unpublished<K, V, M> {
    fn drop(&mut self) {
        if let Some(mut item) = self.0.take() {
            // SAFETY: never published: nothing else can reach it.
            unsafe { M::drop_live(&mut item) };
        }
    }
}

/// Runs its closure when dropped, on return or unwind.
struct OnDrop<F: FnMut()>(F);

impl<F: FnMut()> Drop for OnDrop<F> {
    fn drop(&mut self) {
        (self.0)();
    }
}

/// What a [`Pinned::compute`] closure decides to do with the entry it was
/// shown.
///
/// ```
/// use urcu_structures::{Compute, RcuHashMap};
///
/// let stock: RcuHashMap<&str, u32> = RcuHashMap::new();
/// let m = stock.pin();
/// m.insert("apples", 1);
/// // Take one apple: the last one removes the entry.
/// let r = m.compute("apples", |n| match n {
///     Some(&1) => Compute::Remove,
///     Some(&n) => Compute::Insert(n - 1),
///     None => Compute::Keep,
/// });
/// assert_eq!((r.old, r.new), (Some(&1), None));
/// assert!(m.is_empty());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compute<V> {
    /// Store this value, as [`Pinned::insert`] does: insert it if the key
    /// was absent, replace the old value (retired like any replaced value)
    /// if it was present.
    Insert(V),
    /// Remove the entry (nothing happens if the key was absent).
    Remove,
    /// Leave the map as it is.
    Keep,
}

/// What [`Pinned::compute`] did: the value the key had before, and the
/// one it has now, both readable as long as the pinned handle lives.
///
/// | closure returned | key was absent | key was present |
/// |---|---|---|
/// | [`Compute::Insert`] | `old: None, new: Some` | `old: Some, new: Some` (another value) |
/// | [`Compute::Remove`] | `old: None, new: None` | `old: Some, new: None` |
/// | [`Compute::Keep`] | `old: None, new: None` | `old: Some, new: Some` (the same reference) |
///
/// ```
/// use urcu_structures::{Compute, Computed, RcuHashMap};
///
/// let map: RcuHashMap<u32, u32> = RcuHashMap::new();
/// let m = map.pin();
/// let r = m.compute(7, |_| Compute::Insert(70));
/// assert_eq!(r, Computed { old: None, new: Some(&70) });
/// let Computed { old, new } = m.compute(7, |v| Compute::Insert(v.unwrap() + 1));
/// assert_eq!((old, new), (Some(&70), Some(&71)));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Computed<'a, V> {
    /// The value before the call (`None`: the key was absent).
    pub old: Option<&'a V>,
    /// The value after the call (`None`: the key is absent now).
    pub new: Option<&'a V>,
}

std::thread_local! {
    /// How many `compute` closures this thread is running (each with a
    /// bucket lock held). Nonzero only inside one: the writers' check of
    /// [`IN_CLOSURE_OF`] costs the others this one load.
    static CLOSURES: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
    /// The maps (by address) whose `compute` closures this thread is in.
    static IN_CLOSURE_OF: std::cell::RefCell<Vec<usize>> =
        const { std::cell::RefCell::new(Vec::new()) };
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
}

/// Configures an [`RcuHashMap`].
///
/// ```
/// use urcu_structures::RcuHashMap;
/// let d = urcu_reclaim::Domain::new();
/// let m: RcuHashMap<u64, u64> = RcuHashMap::builder().capacity(1000).domain(&d).build();
/// assert!(m.is_empty());
/// ```
#[must_use]
pub struct MapBuilder<K, V, S = ahash::RandomState, M = Boxed> {
    capacity: usize,
    hasher: S,
    domain: Option<Domain>,
    _types: std::marker::PhantomData<BuilderTypes<K, V, M>>,
}

impl<K, V, S, M> std::fmt::Debug for MapBuilder<K, V, S, M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MapBuilder")
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

impl<K, V, S, M> MapBuilder<K, V, S, M>
where
    K: Send + Sync + 'static,
    V: Send + Sync + 'static,
    S: BuildHasher,
    M: Storage<K, V>,
{
    /// Room for about `n` entries before the first resize.
    ///
    /// ```
    /// use urcu_structures::RcuHashMap;
    /// let m = RcuHashMap::<u64, u64>::builder().capacity(10_000).build();
    /// assert!(m.capacity() >= 10_000); // no resize before 10 000 entries
    /// ```
    pub fn capacity(mut self, n: usize) -> Self {
        self.capacity = n;
        self
    }

    /// The hasher.
    ///
    /// ```
    /// use std::collections::hash_map::RandomState;
    /// use urcu_structures::RcuHashMap;
    ///
    /// let m: RcuHashMap<&str, u32, RandomState> =
    ///     RcuHashMap::builder().hasher(RandomState::new()).build();
    /// m.pin().insert("a", 1);
    /// assert_eq!(m.get_cloned("a"), Some(1));
    /// ```
    pub fn hasher<S2: BuildHasher>(self, hasher: S2) -> MapBuilder<K, V, S2, M> {
        MapBuilder {
            capacity: self.capacity,
            hasher,
            domain: self.domain,
            _types: std::marker::PhantomData,
        }
    }

    /// The grace-period domain (default: the process-wide one).
    ///
    /// ```
    /// use urcu_reclaim::Domain;
    /// use urcu_structures::RcuHashMap;
    ///
    /// let d = Domain::new();
    /// let m: RcuHashMap<u32, u32> = RcuHashMap::builder().domain(&d).build();
    /// m.pin().insert(1, 10);
    /// let g = d.read_lock(); // a section of `d` protects the map's entries
    /// assert_eq!(m.get(&1, &g), Some(&10));
    /// ```
    pub fn domain(mut self, domain: &Domain) -> Self {
        self.domain = Some(domain.clone());
        self
    }

    /// Stores entries inside the bucket lines instead of one heap
    /// allocation each ([`Inline`]): a lookup reads one cache line instead
    /// of two, and an insert allocates nothing. For `Copy` keys and values
    /// of at most 48 bytes together.
    ///
    /// ```
    /// use urcu_structures::RcuHashMap;
    /// let m = RcuHashMap::<u64, u64>::builder().inline().build();
    /// m.pin().insert(1, 2);
    /// assert_eq!(m.get_cloned(&1), Some(2));
    /// ```
    pub fn inline(self) -> MapBuilder<K, V, S, Inline>
    where
        K: Copy,
        V: Copy,
    {
        self.storage()
    }

    /// Chooses the storage by type: [`Boxed`] (the default) or [`Inline`].
    ///
    /// ```
    /// use urcu_structures::{Inline, RcuHashMap};
    /// let m = RcuHashMap::<u32, u32>::builder().storage::<Inline>().build();
    /// assert!(m.is_empty());
    /// ```
    pub fn storage<M2: Storage<K, V>>(self) -> MapBuilder<K, V, S, M2> {
        MapBuilder {
            capacity: self.capacity,
            hasher: self.hasher,
            domain: self.domain,
            _types: std::marker::PhantomData,
        }
    }

    /// Builds the map.
    ///
    /// ```
    /// use urcu_structures::RcuHashMap;
    /// let m = RcuHashMap::<u64, String>::builder().capacity(100).build();
    /// m.pin().insert(7, "seven".to_string());
    /// assert_eq!((m.len(), m.get_cloned(&7).as_deref()), (1, Some("seven")));
    /// ```
    pub fn build(self) -> RcuHashMap<K, V, S, M> {
        let buckets = (self.capacity * 100 / (M::SLOTS * M::GROW_PERCENT))
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
    ///
    /// ```
    /// use urcu_structures::RcuHashMap;
    /// let m: RcuHashMap<String, u32> = RcuHashMap::new();
    /// assert!(m.is_empty());
    /// m.pin().insert("a".to_string(), 1);
    /// assert_eq!(m.get_cloned("a"), Some(1));
    /// ```
    pub fn new() -> Self {
        Self::builder().build()
    }

    /// An empty map with room for about `capacity` entries.
    ///
    /// ```
    /// use urcu_structures::RcuHashMap;
    /// let m: RcuHashMap<u64, u64> = RcuHashMap::with_capacity(1000);
    /// assert!(m.is_empty() && m.capacity() >= 1000);
    /// ```
    pub fn with_capacity(capacity: usize) -> Self {
        Self::builder().capacity(capacity).build()
    }

    /// A builder (capacity, hasher, domain).
    ///
    /// ```
    /// use urcu_structures::RcuHashMap;
    /// let d = urcu_reclaim::Domain::new();
    /// let m = RcuHashMap::<u64, u64>::builder().capacity(64).domain(&d).inline().build();
    /// m.pin().insert(1, 2);
    /// assert_eq!(m.get_cloned(&1), Some(2));
    /// ```
    pub fn builder() -> MapBuilder<K, V, ahash::RandomState> {
        MapBuilder {
            capacity: 0,
            hasher: ahash::RandomState::new(),
            domain: None,
            _types: std::marker::PhantomData,
        }
    }
}

impl<K, V, S, M> RcuHashMap<K, V, S, M>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Send + Sync + 'static,
    S: BuildHasher,
    M: Storage<K, V>,
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
    /// section, and whose references live as long as it does.
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
            t.bucket(h).prefetch();
        }
        if M::HASH_OFF_LINE {
            for &h in &hashes {
                t.bucket(h).prefetch_candidates(table::tag_of(h));
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
        };
        for i in 0..t.len() {
            let mut lines = 1;
            let mut b = t.bucket_at(i);
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
        self.counts[my_stripe()].fetch_add(delta, Ordering::Relaxed);
    }

    /// Whether a resize is under way and how many buckets it has moved
    /// (tests look at a resize the writes left half done).
    #[cfg(all(test, not(loom)))]
    pub(crate) fn resize_progress(&self) -> Option<usize> {
        let _g = self.domain.read_lock();
        let t = self.root();
        t.next().map(|_| t.moved.load(Ordering::Relaxed))
    }

    /// Hands an unpublished item to the reclamation queue (boxed entries;
    /// inline slots wait for their ticket instead).
    fn retire(&self, item: *const M::Item) {
        // SAFETY: the item was just unpublished under its bucket lock and
        // is retired once.
        unsafe { M::retire(item, &self.domain) };
    }

    /// Queues overflow lines a write unlinked (after its bucket lock is
    /// released).
    fn retire_lines(&self, lines: Vec<table::RetiredLine<K, V, M>>) {
        for line in lines {
            line.retire(&self.domain);
        }
    }

    /// Locks the bucket that owns `hash`, in the table where it currently
    /// lives (migrating it first if a resize is under way).
    fn lock_bucket(&self, hash: u64) -> (&Table<K, V, M>, BucketLock<'_, K, V, M>) {
        self.check_not_in_closure();
        let mut t = self.root();
        if let Some(next) = t.next() {
            // Share the resize: every write that meets one moves a chunk, so
            // growth is not one thread's job and no single write (nor the
            // read-side section around it) lasts a whole table's migration.
            self.migrate_chunk(t, next);
        }
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
                    // Our key's bucket goes first, so that it lives in
                    // exactly one table when we write it.
                    lock.migrate_to(t, t.index(hash), next, &self.rehash(), &self.domain);
                    drop(lock);
                    self.finish_bucket_moves(t, 1);
                    t = next;
                }
            }
        }
    }

    /// The hash function, for entries that do not store their hash.
    fn rehash(&self) -> impl Fn(&K) -> u64 + '_ {
        |k| self.hasher.hash_one(k)
    }

    /// Counts `n` more buckets moved out of `t`; the last ones switch the
    /// root to the next table and retire `t`. Migration counts a chunk at
    /// a time: one write of this shared counter per bucket made it a line
    /// that every migrating thread pulled from the others.
    fn finish_bucket_moves(&self, t: &Table<K, V, M>, n: usize) {
        if t.moved.fetch_add(n, Ordering::AcqRel) + n == t.len() {
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
    fn help_migrate(&self, t: &Table<K, V, M>) {
        let Some(next) = t.next() else { return };
        while self.migrate_chunk(t, next) {}
    }

    /// Claims and migrates one chunk of `t`'s buckets; `false` when none
    /// was left to claim.
    ///
    /// A migration runs the user's `Hash` (inline entries of a growing
    /// table), which may panic. The bucket it panics in is left whole and
    /// unmoved (see `migrate_to`); on the way out this helper still counts
    /// the buckets it did move, and marks the table `abandoned`, so that
    /// later helpers go round the table again, claiming chunks past the
    /// end and migrating what is still unmoved, until every bucket has
    /// moved. Without that the rest of the chunk would stay claimed but
    /// unmoved: the resize would never finish, and the table never grow or
    /// shrink again.
    fn migrate_chunk(&self, t: &Table<K, V, M>, next: &Table<K, V, M>) -> bool {
        // Look before claiming: once every chunk is claimed, the writers
        // still meeting the resize do not all write one counter.
        let again = t.claimed.load(Ordering::Relaxed) >= t.len();
        if again && !t.abandoned.load(Ordering::Relaxed) {
            return false;
        }
        let mut start = t.claimed.fetch_add(MIGRATE_CHUNK, Ordering::Relaxed);
        let again = start >= t.len();
        if again {
            // Acquire: pairs with the release that counted the moved
            // buckets of a finished resize (nothing to read depends on it,
            // but a sweep of an already finished table is wasted work).
            if !t.abandoned.load(Ordering::Relaxed) || t.moved.load(Ordering::Acquire) >= t.len() {
                return false;
            }
            // Another round: chunk starts are multiples of MIGRATE_CHUNK,
            // and a table's length a power of two.
            start %= t.len();
        }
        let rehash = self.rehash();
        // Counted when this function returns or unwinds (`settle`).
        let moved = std::cell::Cell::new(0);
        let finished = std::cell::Cell::new(false);
        let _settle = OnDrop(|| {
            if !finished.get() {
                // Unwinding from a panicking `Hash`: the rest of the chunk
                // is claimed but unmoved. Before the count below, so that
                // no helper reads the last count without seeing the flag.
                t.abandoned.store(true, Ordering::Release);
            }
            if moved.get() > 0 {
                self.finish_bucket_moves(t, moved.get());
            }
        });
        let end = (start + MIGRATE_CHUNK).min(t.len());
        // Two prefetch stages, so neither waits on a miss: the overflow
        // line of the bucket 2 × PREFETCH_AHEAD on, then the boxed entries
        // of the bucket PREFETCH_AHEAD on (its overflow line now loaded).
        // We are in a read-side section (every write is), so a chain may be
        // scanned like a reader's.
        for j in start..(start + 2 * PREFETCH_AHEAD).min(end) {
            t.bucket_at(j).prefetch_overflow();
        }
        for j in start..(start + PREFETCH_AHEAD).min(end) {
            t.bucket_at(j).prefetch_entries();
        }
        for i in start..end {
            if i + 2 * PREFETCH_AHEAD < end {
                t.bucket_at(i + 2 * PREFETCH_AHEAD).prefetch_overflow();
            }
            if i + PREFETCH_AHEAD < end {
                t.bucket_at(i + PREFETCH_AHEAD).prefetch_entries();
            }
            // Another round skips what has moved without locking it.
            if again && t.bucket_at(i).is_moved() {
                continue;
            }
            let lock = t.bucket_at(i).lock();
            if !lock.is_moved() {
                lock.migrate_to(t, i, next, &rehash, &self.domain);
                moved.set(moved.get() + 1);
            }
        }
        finished.set(true);
        true
    }

    /// Starts a resize of the root table to `buckets` (unless one is
    /// already under way) and moves its first chunk. The writes that follow
    /// move the rest, a chunk each (see `lock_bucket`).
    ///
    /// `from` is the table whose load the caller judged, and `buckets`
    /// twice or half its length: nothing starts unless it is still the
    /// root. Between the caller's look and ours, other writers may have
    /// resized it and finished (a small table moves in one chunk): a grow
    /// judged on a table that has since halved would then ask for four
    /// times the root's buckets, which `migrate_to` refuses with a panic,
    /// at every write from then on.
    fn resize(&self, from: &Table<K, V, M>, buckets: usize) {
        let t = self.root();
        if std::ptr::eq(t, from) && t.next().is_none() && t.len() != buckets {
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
        if let Some(next) = t.next() {
            self.migrate_chunk(t, next);
        }
    }

    /// Called after a chain had to grow: grow the table if it is loaded.
    /// In a large table only every [`GROW_CHECK_EVERY`]-th growth of a
    /// thread counts the entries (see [`this_thread_checks_the_load`]).
    #[cold]
    fn maybe_grow(&self, t: &Table<K, V, M>) {
        if t.next().is_some() || (t.len() >= GROW_SAMPLED_FROM && !this_thread_checks_the_load()) {
            return;
        }
        if self.len() * 100 > t.len() * M::SLOTS * M::GROW_PERCENT {
            self.resize(t, t.len() * 2);
        }
    }

    /// Called now and then after a removal: shrink the table if it is
    /// mostly empty.
    #[cold]
    fn maybe_shrink(&self, t: &Table<K, V, M>) {
        if t.next().is_none()
            && t.len() > self.min_buckets
            && self.len() * 100 * 2 < t.len() * M::SLOTS * M::GROW_PERCENT
        {
            self.resize(t, t.len() / 2);
        }
    }

    /// Inserts or replaces; returns the old entry (retired) if there was one.
    fn insert_entry(&self, key: K, value: V) -> Option<(&K, &V)> {
        let hash = self.hash(&key);
        // The bucket line is the operation's cache miss: start it, and
        // make the entry (a boxed one is an allocation) while it comes,
        // outside the lock.
        self.root().bucket(hash).prefetch();
        self.insert_hashed(hash, key, value)
    }

    /// Inserts the pairs of `batch` (at most [`INSERT_BATCH`]) in order,
    /// and empties it: every key's bucket line is requested before the
    /// first insert, so their misses overlap. One read-side section per
    /// batch (a rayon job could not keep one between pairs anyway: a guard
    /// is not `Send`).
    pub(crate) fn insert_batch(&self, batch: &mut Vec<(K, V)>) {
        assert!(
            batch.len() <= INSERT_BATCH,
            "a batch of at most {INSERT_BATCH}"
        );
        let _guard = self.domain.read_lock();
        let mut hashes = [0u64; INSERT_BATCH];
        for (h, (k, _)) in hashes.iter_mut().zip(batch.iter()) {
            *h = self.hash(k);
            // A hint: under `_guard`, the root table is readable.
            self.root().bucket(*h).prefetch();
        }
        for (h, (k, v)) in hashes.iter().zip(batch.drain(..)) {
            self.insert_hashed(*h, k, v);
        }
    }

    /// [`insert_entry`](Self::insert_entry) for a key whose hash is known
    /// (and whose bucket line the caller has requested).
    fn insert_hashed(&self, hash: u64, key: K, value: V) -> Option<(&K, &V)> {
        let mut item = Unpublished::<K, V, M>(Some(M::make(hash, key, value)));
        let (t, lock) = self.lock_bucket(hash);
        // SAFETY: the item is ours, just made, not yet published.
        let key = unsafe { M::key_of(item.0.as_ref().expect("not yet taken")) };
        if let Some(slot) = lock.find_slot(hash, |k| k == key) {
            let old = slot.get();
            let r = lock.replace(&slot, item.take(), hash, &self.domain);
            let trimmed = lock.trim_empty_lines(r.left_empty);
            drop(lock);
            self.retire(&r.old);
            self.retire_lines(trimmed);
            return Some(old);
        }
        let (grew, _, left_empty) = lock.insert_new(item.take(), hash, &self.domain);
        let trimmed = lock.trim_empty_lines(left_empty);
        drop(lock);
        self.retire_lines(trimmed);
        self.count(1);
        if grew {
            self.maybe_grow(t);
        }
        None
    }

    /// Removes the entry for `key`; returns it (retired). One lookup,
    /// under the bucket lock.
    fn remove_entry<Q>(&self, key: &Q) -> Option<(&K, &V)>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let hash = self.hash(key);
        let (t, lock) = self.lock_bucket(hash);
        let slot = lock.find_slot(hash, |k| k.borrow() == key)?;
        Some(self.unlink(t, lock, &slot, true))
    }

    /// Removes the entry in `slot` (found under `lock`) and does the
    /// bookkeeping; returns the entry, readable for the caller's section.
    /// `may_shrink`: whether this removal may start a shrink (one in
    /// [`SHRINK_CHECK_EVERY`] does).
    fn unlink<'t>(
        &'t self,
        t: &Table<K, V, M>,
        lock: BucketLock<'t, K, V, M>,
        slot: &Slot<'t, K, V, M>,
        may_shrink: bool,
    ) -> (&'t K, &'t V) {
        let old = slot.get();
        let (item, left_empty) = lock.remove(slot, &self.domain);
        let trimmed = lock.trim_empty_lines(left_empty);
        drop(lock);
        self.retire(item);
        self.retire_lines(trimmed);
        self.count(-1);
        if may_shrink && this_thread_checks_for_shrink() {
            self.maybe_shrink(t);
        }
        old
    }

    /// Removes the entry for `key` if `pred` accepts it (at the moment of
    /// removal); returns it (retired).
    fn remove_entry_if<Q>(&self, key: &Q, mut pred: impl FnMut(&K, &V) -> bool) -> Option<(&K, &V)>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let hash = self.hash(key);
        loop {
            // Run the predicate outside the lock (it may be slow, or touch
            // the map), then remove only if the entry is still the same
            // (same slot: a slot is not reused within our section).
            let (k, v) = self.find(key)?;
            if !pred(k, v) {
                return None;
            }
            let (t, lock) = self.lock_bucket(hash);
            let slot = lock.find_slot(hash, |k| k.borrow() == key)?;
            if !std::ptr::eq(slot.get().1, v) {
                continue;
            }
            return Some(self.unlink(t, lock, &slot, true));
        }
    }

    /// Replaces the value for `key` with `f(old)`, if present. `f` runs
    /// outside any lock and may run again if another writer changed the
    /// entry meanwhile. Returns the new value.
    fn update_entry<Q>(&self, key: &Q, mut f: impl FnMut(&V) -> V) -> Option<(&K, &V)>
    where
        K: Borrow<Q> + Clone,
        Q: Hash + Eq + ?Sized,
    {
        let hash = self.hash(key);
        loop {
            let (seen_key, seen) = self.find(key)?;
            let value = f(seen);
            let (_, lock) = self.lock_bucket(hash);
            let slot = lock.find_slot(hash, |k| k.borrow() == key)?;
            if !std::ptr::eq(slot.get().1, seen) {
                continue;
            }
            let r = lock.replace(
                &slot,
                M::make(hash, seen_key.clone(), value),
                hash,
                &self.domain,
            );
            let fresh = r.fresh.get();
            let trimmed = lock.trim_empty_lines(r.left_empty);
            drop(lock);
            self.retire(&r.old);
            self.retire_lines(trimmed);
            return Some(fresh);
        }
    }

    /// The value for `key`, inserting `make()` first if absent. `make` runs
    /// outside any lock; if another writer inserted the key meanwhile, its
    /// value wins and ours is dropped.
    fn get_or_insert_entry(&self, key: K, make: impl FnOnce() -> V) -> (&K, &V) {
        if let Some(found) = self.find(&key) {
            return found;
        }
        let value = make();
        let hash = self.hash(&key);
        let (t, lock) = self.lock_bucket(hash);
        if let Some(slot) = lock.find_slot(hash, |k| *k == key) {
            return slot.get();
        }
        let (grew, slot, left_empty) =
            lock.insert_new(M::make(hash, key, value), hash, &self.domain);
        let trimmed = lock.trim_empty_lines(left_empty);
        drop(lock);
        self.retire_lines(trimmed);
        self.count(1);
        if grew {
            self.maybe_grow(t);
        }
        slot.get()
    }

    /// `update(old)` or `insert()` stored for `key`, in one `compute_entry`
    /// (see [`Pinned::update_or_insert_with`]). The caller is in a
    /// read-side section.
    fn upsert_entry(&self, key: K, update: impl FnOnce(&V) -> V, insert: impl FnOnce() -> V) -> &V {
        let stored = self.compute_entry(key, |old| {
            Compute::Insert(match old {
                Some(old) => update(old),
                None => insert(),
            })
        });
        stored.new.expect("an insert leaves a value")
    }

    /// Looks `key` up under its bucket lock, shows `f` the value found (or
    /// `None`) and carries out `f`'s verdict under the same lock: nothing
    /// can change the key between the look and the write, so `f` runs
    /// exactly once and no retry is needed. Returns the old and new values
    /// (the old one retired if replaced or removed). If `f` panics, the
    /// lock is released on the way out and nothing has changed.
    fn compute_entry(&self, key: K, f: impl FnOnce(Option<&V>) -> Compute<V>) -> Computed<'_, V> {
        let hash = self.hash(&key);
        let (t, lock) = self.lock_bucket(hash);
        let Some(slot) = lock.find_slot(hash, |k| *k == key) else {
            return match self.in_closure(|| f(None)) {
                Compute::Insert(value) => {
                    let (grew, slot, left_empty) =
                        lock.insert_new(M::make(hash, key, value), hash, &self.domain);
                    let trimmed = lock.trim_empty_lines(left_empty);
                    // Under the lock: once it is released, another writer
                    // may replace a boxed entry in this slot.
                    let (_, new) = slot.get();
                    drop(lock);
                    self.retire_lines(trimmed);
                    self.count(1);
                    if grew {
                        self.maybe_grow(t);
                    }
                    Computed {
                        old: None,
                        new: Some(new),
                    }
                }
                Compute::Remove | Compute::Keep => Computed {
                    old: None,
                    new: None,
                },
            };
        };
        let (_, old) = slot.get();
        match self.in_closure(|| f(Some(old))) {
            Compute::Insert(value) => {
                let r = lock.replace(&slot, M::make(hash, key, value), hash, &self.domain);
                let (_, new) = r.fresh.get();
                let trimmed = lock.trim_empty_lines(r.left_empty);
                drop(lock);
                self.retire(&r.old);
                self.retire_lines(trimmed);
                Computed {
                    old: Some(old),
                    new: Some(new),
                }
            }
            Compute::Remove => {
                self.unlink(t, lock, &slot, true);
                Computed {
                    old: Some(old),
                    new: None,
                }
            }
            Compute::Keep => Computed {
                old: Some(old),
                new: Some(old),
            },
        }
    }

    /// Runs `f`, a [`compute_entry`](Self::compute_entry) closure, which
    /// this thread runs holding one of our bucket locks: a write to this
    /// map from inside it panics (see
    /// [`check_not_in_closure`](Self::check_not_in_closure)) instead of
    /// spinning forever on that lock. Unwinding from `f` leaves the record
    /// as it found it.
    fn in_closure<R>(&self, f: impl FnOnce() -> R) -> R {
        let me = self as *const Self as usize;
        // Loom replays its threads on one OS thread, which would share the
        // record; and during thread-local destruction there may be none.
        let tracked = !cfg!(loom)
            && IN_CLOSURE_OF
                .try_with(|maps| maps.borrow_mut().push(me))
                .is_ok();
        if tracked {
            CLOSURES.with(|n| n.set(n.get() + 1));
        }
        let _leave = OnDrop(|| {
            if tracked {
                CLOSURES.with(|n| n.set(n.get() - 1));
                IN_CLOSURE_OF.with(|maps| {
                    let mut maps = maps.borrow_mut();
                    let at = maps.iter().rposition(|&m| m == me);
                    maps.remove(at.expect("a closure's map is recorded until it returns"));
                });
            }
        });
        f()
    }

    /// Panics if this thread is inside one of this map's `compute`
    /// closures (a write there would wait for the bucket lock that the
    /// closure's caller holds, or need it to migrate that bucket). Every
    /// write calls this before it takes a bucket lock or helps a resize;
    /// outside closures it costs one thread-local load.
    #[inline]
    fn check_not_in_closure(&self) {
        if !cfg!(loom) && CLOSURES.with(|n| n.get()) != 0 {
            self.check_not_in_closure_slow();
        }
    }

    #[cold]
    #[inline(never)]
    fn check_not_in_closure_slow(&self) {
        let me = self as *const Self as usize;
        if IN_CLOSURE_OF.with(|maps| maps.borrow().contains(&me)) {
            panic!(
                "RcuHashMap written inside its own `compute` or `update_or_insert_with` \
                 closure: the closure runs under a bucket lock that the write may need, \
                 and would wait for it forever (read the map there, or write after the call)"
            );
        }
    }

    /// Helps a resize under way to its end; returns the root table it
    /// left (which a concurrent writer may have begun to resize again).
    /// The caller is in a read-side section.
    fn finish_resize(&self) -> &Table<K, V, M> {
        loop {
            let t = self.root();
            if t.next().is_none() {
                return t;
            }
            self.help_migrate(t);
        }
    }

    /// Removes every entry for which `keep` returns false, judging each
    /// entry once (see [`Pinned::retain`]). The caller is in a read-side
    /// section, which `entries` (a weakly consistent iteration) and the
    /// references it yields live in.
    fn retain_entries<'p>(
        &'p self,
        entries: impl FnOnce() -> Iter<'p, K, V, S, M>,
        mut keep: impl FnMut(&K, &V) -> bool,
    ) {
        self.check_not_in_closure();
        // A resize under way would move inline entries to new slots while
        // we judge them: finish it first. Our own removals start no shrink
        // until the end, for the same reason.
        self.finish_resize();
        let doomed: Vec<(&K, &V)> = entries().filter(|(k, v)| !keep(k, v)).collect();
        for (key, mut judged) in doomed {
            let hash = self.hash(key);
            loop {
                let (t, lock) = self.lock_bucket(hash);
                let Some(slot) = lock.find_slot(hash, |k| k == key) else {
                    break; // removed meanwhile
                };
                // The same slot, so the same entry: a slot is not reused
                // within our section.
                if std::ptr::eq(slot.get().1, judged) {
                    self.unlink(t, lock, &slot, false);
                    break;
                }
                drop(lock);
                // Replaced meanwhile (or moved by a concurrent resize):
                // judge what is there now, outside the lock.
                match self.find(key) {
                    Some((k, v)) if !keep(k, v) => judged = v,
                    _ => break,
                }
            }
        }
        self.maybe_shrink(self.root());
    }

    /// Removes every entry. Concurrent inserts may survive (they are not
    /// ordered with the clear).
    ///
    /// ```
    /// use urcu_structures::RcuHashMap;
    /// let map: RcuHashMap<u64, u64> = (0..100).map(|i| (i, i)).collect();
    /// map.clear();
    /// assert!(map.is_empty() && !map.contains_key(&5));
    /// ```
    pub fn clear(&self) {
        self.check_not_in_closure();
        let _g = self.domain.read_lock();
        let t = self.finish_resize();
        for i in 0..t.len() {
            let lock = t.bucket_at(i).lock();
            if lock.is_moved() {
                continue; // a resize began meanwhile: its entries are elsewhere
            }
            let mut removed = 0;
            lock.drain(&self.domain, |item| {
                removed += 1;
                self.retire(item);
            });
            let emptied: Vec<_> = std::iter::from_fn(|| lock.trim_empty_line()).collect();
            drop(lock);
            for line in emptied {
                line.retire(&self.domain);
            }
            self.count(-removed);
        }
    }
}

impl<K, V, S, M> Drop for RcuHashMap<K, V, S, M>
where
    K: Send + Sync + 'static,
    V: Send + Sync + 'static,
    M: Storage<K, V>,
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
    M: Storage<K, V>,
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let m = self.pin();
        f.debug_map().entries(m.iter()).finish()
    }
}

/// Collects pairs into a new map sized by the iterator's lower bound. Like
/// `Extend`, it inserts 16 pairs at a time with all their bucket lines
/// requested first, so the cache misses overlap.
///
/// ```
/// use urcu_structures::RcuHashMap;
/// let squares: RcuHashMap<u64, u64> = (0..1000).map(|i| (i, i * i)).collect();
/// assert_eq!(squares.get_cloned(&12), Some(144));
/// ```
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

impl<K, V, S, M> RcuHashMap<K, V, S, M>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Send + Sync + 'static,
    S: BuildHasher,
    M: Storage<K, V>,
{
    /// Inserts every pair, [`INSERT_BATCH`] at a time (see
    /// [`insert_batch`](Self::insert_batch)), so a bulk load's cache misses
    /// overlap instead of following one another: each insert's locked
    /// instruction keeps the CPU from running ahead on its own. Each batch
    /// is its own read-side section, so grace periods (and the freeing of
    /// replaced entries and outgrown tables) go on during a long load.
    fn extend_from(&self, iter: impl IntoIterator<Item = (K, V)>) {
        let mut batch = Vec::with_capacity(INSERT_BATCH);
        for pair in iter {
            batch.push(pair);
            if batch.len() == INSERT_BATCH {
                self.insert_batch(&mut batch);
            }
        }
        self.insert_batch(&mut batch);
    }
}

impl<K, V, S, M> Extend<(K, V)> for RcuHashMap<K, V, S, M>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Send + Sync + 'static,
    S: BuildHasher,
    M: Storage<K, V>,
{
    fn extend<I: IntoIterator<Item = (K, V)>>(&mut self, iter: I) {
        self.extend_from(iter);
    }
}

impl<K, V, S, M> Extend<(K, V)> for &RcuHashMap<K, V, S, M>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Send + Sync + 'static,
    S: BuildHasher,
    M: Storage<K, V>,
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
pub struct Pinned<'m, K, V, S = ahash::RandomState, M = Boxed>
where
    K: Send + Sync + 'static,
    V: Send + Sync + 'static,
    M: Storage<K, V>,
{
    map: &'m RcuHashMap<K, V, S, M>,
    guard: ReadGuard<'m>,
}

impl<'m, K, V, S, M> Pinned<'m, K, V, S, M>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Send + Sync + 'static,
    S: BuildHasher,
    M: Storage<K, V>,
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
    /// `get` at a time waits for its own miss, and with 16 keys a batch
    /// took about half the time per key: 39–48 ns against 81–95 inline,
    /// on a 2-core VM (`cargo bench --bench batch_get`, BENCHMARKS.md).
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
    /// weakly consistent iteration, see [`Iter`]), then the rejected ones
    /// are removed if they are still the entry that was judged. An entry
    /// that another writer replaced in between is judged again in its new
    /// form (with [`Inline`] storage, so is one that a concurrent resize
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

    /// A weakly consistent iteration: see [`Iter`].
    ///
    /// ```
    /// use urcu_structures::RcuHashMap;
    /// let map: RcuHashMap<u32, u32> = (0..4).map(|i| (i, 10 * i)).collect();
    /// let m = map.pin();
    /// let mut pairs: Vec<(u32, u32)> = m.iter().map(|(k, v)| (*k, *v)).collect();
    /// pairs.sort(); // the order is unspecified
    /// assert_eq!(pairs, [(0, 0), (1, 10), (2, 20), (3, 30)]);
    /// ```
    pub fn iter(&self) -> Iter<'_, K, V, S, M> {
        Iter::new(self.map.root(), &self.map.hasher)
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
    pub fn keys(&self) -> Keys<'_, K, V, S, M> {
        Keys(self.iter())
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
    pub fn values(&self) -> Values<'_, K, V, S, M> {
        Values(self.iter())
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
    M: Storage<K, V>,
{
    type Item = (&'p K, &'p V);
    type IntoIter = Iter<'p, K, V, S, M>;

    fn into_iter(self) -> Iter<'p, K, V, S, M> {
        self.iter()
    }
}

impl<K, V, S, M> std::fmt::Debug for Pinned<'_, K, V, S, M>
where
    K: Hash + Eq + Send + Sync + std::fmt::Debug + 'static,
    V: Send + Sync + std::fmt::Debug + 'static,
    S: BuildHasher,
    M: Storage<K, V>,
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}
