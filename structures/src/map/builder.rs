//! [`MapBuilder`]: capacity, hasher, domain and storage of a new map.

use super::table::Table;
use super::zeroed::Pages;
use super::{Boxed, Inline, MapStorage, RcuHashMap, MIN_BUCKETS};
use crate::sync::{AtomicIsize, AtomicPtr};
use crossbeam_utils::CachePadded;
use std::hash::{BuildHasher, Hash};
use urcu_reclaim::{default_domain, Domain};

/// What a builder builds, for variance and auto traits only.
type BuilderTypes<K, V, M> = fn() -> (K, V, M);

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
    pub(super) capacity: usize,
    pub(super) hasher: S,
    pub(super) domain: Option<Domain>,
    pub(super) _types: std::marker::PhantomData<BuilderTypes<K, V, M>>,
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
    M: MapStorage<K, V>,
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
    pub fn storage<M2: MapStorage<K, V>>(self) -> MapBuilder<K, V, S, M2> {
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
            root: CachePadded::new(AtomicPtr::new(Box::into_raw(Box::new(Table::new(
                buckets,
                Pages::Huge,
            ))))),
            hasher: self.hasher,
            domain: self.domain.unwrap_or_else(|| default_domain().clone()),
            counts: (0..super::stripe::STRIPES)
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
