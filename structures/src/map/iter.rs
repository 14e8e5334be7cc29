//! Weakly consistent iteration over an `RcuHashMap`.

use super::storage::private::Layout;
use super::storage::{Boxed, MapStorage};
use super::table::Table;
use std::hash::BuildHasher;

/// Iterates a pinned [`RcuHashMap`](super::RcuHashMap) bucket by bucket.
///
/// Weakly consistent, and says exactly what that means:
/// - an entry present for the whole iteration is yielded exactly once;
/// - an entry inserted, replaced or removed during it may or may not be
///   yielded (a replaced key is yielded with its old or its new value, once);
/// - no key is yielded twice, and nothing freed is ever touched.
///
/// The order is unspecified.
///
/// ```
/// use urcu_structures::{MapIter, RcuHashMap};
///
/// let map: RcuHashMap<&str, u32> = [("a", 1), ("b", 2), ("c", 3)].into_iter().collect();
/// let m = map.pin();
/// let it: MapIter<'_, &str, u32> = m.iter(); // borrows the pinned handle
/// assert_eq!(it.map(|(_, v)| v).sum::<u32>(), 6);
/// ```
pub struct MapIter<'p, K, V, S = ahash::RandomState, M = Boxed>
where
    M: MapStorage<K, V>,
{
    table: &'p Table<K, V, M>,
    hasher: &'p S,
    next_bucket: usize,
    batch: Vec<(&'p K, &'p V)>,
}

impl<'p, K: Eq, V, S: BuildHasher, M: MapStorage<K, V>> MapIter<'p, K, V, S, M>
where
    K: std::hash::Hash,
{
    pub(crate) fn new(table: &'p Table<K, V, M>, hasher: &'p S) -> Self {
        MapIter {
            table,
            hasher,
            next_bucket: 0,
            batch: Vec::new(),
        }
    }
}

/// The entries of `table`'s bucket `index` whose hash maps to bucket
/// `origin` of a table with mask `origin_mask`, following moved buckets into
/// the next tables. Each key once: a writer may publish a replacement in
/// another slot of the chain just before it retires the old one, and after
/// a grow and then a shrink both halves of a split lead to the same bucket
/// (so a line is scanned once, and keys are checked against everything
/// this origin yielded). The caller is in a read-side section that began
/// before it got `table`.
pub(crate) fn collect_bucket<'p, K: Eq, V, M: Layout<K, V>>(
    table: &'p Table<K, V, M>,
    index: usize,
    origin_mask: usize,
    origin: usize,
    rehash: &impl Fn(&K) -> u64,
    out: &mut Vec<(&'p K, &'p V)>,
) {
    let from = Origin {
        mask: origin_mask,
        index: origin,
        start: out.len(),
    };
    // Buckets of later tables reached so far (the list allocates only when
    // `index` has moved).
    let mut seen = Vec::new();
    collect_from(table, index, &from, rehash, out, &mut seen);
}

/// Which entries a [`collect_bucket`] call wants, and where its output
/// begins.
struct Origin {
    mask: usize,
    index: usize,
    start: usize,
}

fn collect_from<'p, K: Eq, V, M: Layout<K, V>>(
    table: &'p Table<K, V, M>,
    index: usize,
    from: &Origin,
    rehash: &impl Fn(&K) -> u64,
    out: &mut Vec<(&'p K, &'p V)>,
    seen: &mut Vec<(*const Table<K, V, M>, usize)>,
) {
    let head = table.bucket_at(index);
    if head.is_moved() {
        let next = table.next().expect("a moved bucket has a next table");
        for target in table.targets(index, next) {
            let bucket = (next as *const Table<K, V, M>, target);
            if !seen.contains(&bucket) {
                seen.push(bucket);
                collect_from(next, target, from, rehash, out, seen);
            }
        }
        return;
    }
    head.scan(|item| {
        // SAFETY: `scan` shows live items, readable for our section.
        let (hash, (k, v)) = unsafe { (M::hash(item, rehash), M::get(item)) };
        if hash as usize & from.mask == from.index
            && !out[from.start..].iter().any(|seen| *seen.0 == *k)
        {
            out.push((k, v));
        }
        None::<()>
    });
}

impl<'p, K, V, S, M> Iterator for MapIter<'p, K, V, S, M>
where
    K: Eq + std::hash::Hash,
    S: BuildHasher,
    M: MapStorage<K, V>,
{
    type Item = (&'p K, &'p V);

    fn next(&mut self) -> Option<(&'p K, &'p V)> {
        loop {
            if let Some(kv) = self.batch.pop() {
                return Some(kv);
            }
            if self.next_bucket >= self.table.len() {
                return None;
            }
            let i = self.next_bucket;
            self.next_bucket += 1;
            let hasher = self.hasher;
            let rehash = |k: &K| hasher.hash_one(k);
            collect_bucket(
                self.table,
                i,
                self.table.len() - 1,
                i,
                &rehash,
                &mut self.batch,
            );
        }
    }
}

/// The keys of a pinned [`RcuHashMap`](super::RcuHashMap), from
/// [`Pinned::keys`](super::Pinned::keys): an [`MapIter`] that yields only the
/// keys (weakly consistent in the same way).
///
/// ```
/// use urcu_structures::{MapKeys, RcuHashMap};
///
/// let map: RcuHashMap<u32, ()> = (0..5).map(|i| (i, ())).collect();
/// let m = map.pin();
/// let keys: MapKeys<'_, u32, ()> = m.keys();
/// assert_eq!(keys.sum::<u32>(), 10);
/// ```
pub struct MapKeys<'p, K, V, S = ahash::RandomState, M = Boxed>(pub(crate) MapIter<'p, K, V, S, M>)
where
    M: MapStorage<K, V>;

impl<'p, K, V, S, M> Iterator for MapKeys<'p, K, V, S, M>
where
    K: Eq + std::hash::Hash,
    S: BuildHasher,
    M: MapStorage<K, V>,
{
    type Item = &'p K;

    fn next(&mut self) -> Option<&'p K> {
        self.0.next().map(|(k, _)| k)
    }
}

/// The values of a pinned [`RcuHashMap`](super::RcuHashMap), from
/// [`Pinned::values`](super::Pinned::values): an [`MapIter`] that yields only
/// the values (weakly consistent in the same way).
///
/// ```
/// use urcu_structures::{MapValues, RcuHashMap};
///
/// let map: RcuHashMap<&str, u32> = [("a", 1), ("b", 2)].into_iter().collect();
/// let m = map.pin();
/// let values: MapValues<'_, &str, u32> = m.values();
/// assert_eq!(values.max(), Some(&2));
/// ```
pub struct MapValues<'p, K, V, S = ahash::RandomState, M = Boxed>(
    pub(crate) MapIter<'p, K, V, S, M>,
)
where
    M: MapStorage<K, V>;

impl<'p, K, V, S, M> Iterator for MapValues<'p, K, V, S, M>
where
    K: Eq + std::hash::Hash,
    S: BuildHasher,
    M: MapStorage<K, V>,
{
    type Item = &'p V;

    fn next(&mut self) -> Option<&'p V> {
        self.0.next().map(|(_, v)| v)
    }
}
