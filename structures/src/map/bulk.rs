//! Bulk loads: `Extend` and `FromIterator` (and, per rayon job,
//! `par_extend`) insert pairs in batches whose bucket lines are all
//! requested first, so their cache misses overlap.

use super::{MapStorage, RcuHashMap};
use std::hash::{BuildHasher, Hash};

/// Pairs a bulk load (`Extend`, `FromIterator`, and per rayon job
/// `par_extend`) gathers before inserting them together.
pub(super) const INSERT_BATCH: usize = 16;

impl<K, V, S, M> RcuHashMap<K, V, S, M>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Send + Sync + 'static,
    S: BuildHasher,
    M: MapStorage<K, V>,
{
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
    M: MapStorage<K, V>,
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
    M: MapStorage<K, V>,
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
    M: MapStorage<K, V>,
{
    fn extend<I: IntoIterator<Item = (K, V)>>(&mut self, iter: I) {
        self.extend_from(iter);
    }
}
