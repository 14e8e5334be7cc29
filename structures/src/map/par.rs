//! Rayon support: parallel iteration over a pinned map, and parallel
//! collection into a map.

use super::iter::collect_bucket;
use super::storage::{Boxed, MapStorage};
use super::{Pinned, RcuHashMap};
use rayon::iter::plumbing::UnindexedConsumer;
use rayon::prelude::*;
use std::hash::{BuildHasher, Hash};

/// A parallel, weakly consistent iteration (same guarantees as
/// [`MapIter`](super::MapIter)), from [`Pinned::par_iter`].
///
/// The pinned handle's read-side section protects what the worker threads
/// read: they finish before `par_iter`'s consumer returns, inside it.
///
/// ```
/// use rayon::prelude::*;
/// use urcu_structures::{MapParIter, RcuHashMap};
///
/// let map: RcuHashMap<u32, u32> = (0..100).map(|i| (i, i)).collect();
/// let m = map.pin();
/// let it: MapParIter<'_, u32, u32> = m.par_iter();
/// assert_eq!(it.filter(|(k, _)| *k % 2 == 0).count(), 50);
/// ```
pub struct MapParIter<'p, K, V, S = ahash::RandomState, M = Boxed>
where
    M: MapStorage<K, V>,
{
    table: &'p super::table::Table<K, V, M>,
    hasher: &'p S,
}

impl<'p, K, V, S, M> ParallelIterator for MapParIter<'p, K, V, S, M>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Send + Sync + 'static,
    S: BuildHasher + Sync,
    M: MapStorage<K, V>,
{
    type Item = (&'p K, &'p V);

    fn drive_unindexed<C: UnindexedConsumer<Self::Item>>(self, consumer: C) -> C::Result {
        let (table, hasher) = (self.table, self.hasher);
        (0..table.len())
            .into_par_iter()
            .flat_map_iter(move |i| {
                let mut batch = Vec::new();
                let rehash = |k: &K| hasher.hash_one(k);
                collect_bucket(table, i, table.len() - 1, i, &rehash, &mut batch);
                batch
            })
            .drive_unindexed(consumer)
    }
}

impl<K, V, S, M> Pinned<'_, K, V, S, M>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Send + Sync + 'static,
    S: BuildHasher,
    M: MapStorage<K, V>,
{
    /// Iterates in parallel with rayon.
    ///
    /// ```
    /// use rayon::prelude::*;
    /// let map: urcu_structures::RcuHashMap<u64, u64> = (0..1000).map(|i| (i, i)).collect();
    /// let m = map.pin();
    /// assert_eq!(m.par_iter().map(|(_, v)| *v).sum::<u64>(), 499_500);
    /// ```
    pub fn par_iter(&self) -> MapParIter<'_, K, V, S, M> {
        MapParIter {
            table: self.map.root(),
            hasher: &self.map.hasher,
        }
    }
}

impl<K, V> FromParallelIterator<(K, V)> for RcuHashMap<K, V, ahash::RandomState>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Send + Sync + 'static,
{
    fn from_par_iter<I: IntoParallelIterator<Item = (K, V)>>(iter: I) -> Self {
        let map = RcuHashMap::new();
        (&map).par_extend(iter);
        map
    }
}

impl<K, V, S, M> ParallelExtend<(K, V)> for &RcuHashMap<K, V, S, M>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Send + Sync + 'static,
    S: BuildHasher + Sync,
    M: MapStorage<K, V>,
{
    fn par_extend<I: IntoParallelIterator<Item = (K, V)>>(&mut self, iter: I) {
        let map: &RcuHashMap<K, V, S, M> = self;
        // Each job gathers pairs and inserts them a batch at a time, their
        // bucket lines requested together (see `insert_batch`).
        iter.into_par_iter()
            .fold(
                || Vec::with_capacity(super::bulk::INSERT_BATCH),
                |mut batch, pair| {
                    batch.push(pair);
                    if batch.len() == super::bulk::INSERT_BATCH {
                        map.insert_batch(&mut batch);
                    }
                    batch
                },
            )
            .for_each(|mut rest| map.insert_batch(&mut rest));
    }
}

impl<K, V, S, M> ParallelExtend<(K, V)> for RcuHashMap<K, V, S, M>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Send + Sync + 'static,
    S: BuildHasher + Sync,
    M: MapStorage<K, V>,
{
    fn par_extend<I: IntoParallelIterator<Item = (K, V)>>(&mut self, iter: I) {
        let mut this: &RcuHashMap<K, V, S, M> = self;
        this.par_extend(iter);
    }
}
