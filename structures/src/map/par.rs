//! Rayon support: parallel iteration over a pinned map, and parallel
//! collection into a map.

use super::iter::collect_bucket;
use super::{Pinned, RcuHashMap};
use rayon::iter::plumbing::UnindexedConsumer;
use rayon::prelude::*;
use std::hash::{BuildHasher, Hash};

/// A parallel, weakly consistent iteration (same guarantees as
/// [`Iter`](super::Iter)), from [`Pinned::par_iter`].
///
/// The pinned handle's read-side section protects what the worker threads
/// read: they finish before `par_iter`'s consumer returns, inside it.
pub struct ParIter<'p, K, V> {
    table: &'p super::table::Table<K, V>,
}

impl<'p, K, V> ParallelIterator for ParIter<'p, K, V>
where
    K: Eq + Send + Sync + 'static,
    V: Send + Sync + 'static,
{
    type Item = (&'p K, &'p V);

    fn drive_unindexed<C: UnindexedConsumer<Self::Item>>(self, consumer: C) -> C::Result {
        let table = self.table;
        (0..table.len())
            .into_par_iter()
            .flat_map_iter(move |i| {
                let mut batch = Vec::new();
                collect_bucket(table, i, table.len() - 1, i, &mut batch);
                batch.into_iter().map(|e| (&e.key, &e.value))
            })
            .drive_unindexed(consumer)
    }
}

impl<K, V, S> Pinned<'_, K, V, S>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Send + Sync + 'static,
    S: BuildHasher,
{
    /// Iterates in parallel with rayon.
    ///
    /// ```
    /// use rayon::prelude::*;
    /// let map: urcu_structures::RcuHashMap<u64, u64> = (0..1000).map(|i| (i, i)).collect();
    /// let m = map.pin();
    /// assert_eq!(m.par_iter().map(|(_, v)| *v).sum::<u64>(), 499_500);
    /// ```
    pub fn par_iter(&self) -> ParIter<'_, K, V> {
        ParIter {
            table: self.map.root(),
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

impl<K, V, S> ParallelExtend<(K, V)> for &RcuHashMap<K, V, S>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Send + Sync + 'static,
    S: BuildHasher + Sync,
{
    fn par_extend<I: IntoParallelIterator<Item = (K, V)>>(&mut self, iter: I) {
        let map: &RcuHashMap<K, V, S> = self;
        iter.into_par_iter().for_each_init(
            || map.pin(),
            |m, (k, v)| {
                m.insert(k, v);
            },
        );
    }
}

impl<K, V, S> ParallelExtend<(K, V)> for RcuHashMap<K, V, S>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Send + Sync + 'static,
    S: BuildHasher + Sync,
{
    fn par_extend<I: IntoParallelIterator<Item = (K, V)>>(&mut self, iter: I) {
        let mut this: &RcuHashMap<K, V, S> = self;
        this.par_extend(iter);
    }
}
