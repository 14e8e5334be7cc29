//! Weakly consistent iteration over an `RcuHashMap`.

use super::table::{Entry, Table};

/// Iterates a pinned [`RcuHashMap`](super::RcuHashMap) bucket by bucket.
///
/// Weakly consistent, and says exactly what that means:
/// - an entry present for the whole iteration is yielded exactly once;
/// - an entry inserted, replaced or removed during it may or may not be
///   yielded (a replaced key is yielded with its old or its new value, once);
/// - no key is yielded twice, and nothing freed is ever touched.
///
/// The order is unspecified.
pub struct Iter<'p, K, V> {
    table: &'p Table<K, V>,
    next_bucket: usize,
    batch: Vec<&'p Entry<K, V>>,
}

impl<'p, K: Eq, V> Iter<'p, K, V> {
    pub(crate) fn new(table: &'p Table<K, V>) -> Self {
        Iter {
            table,
            next_bucket: 0,
            batch: Vec::new(),
        }
    }
}

/// The entries of `table`'s bucket `index` whose hash maps to bucket
/// `origin` of a table with mask `origin_mask`, following moved buckets into
/// the next tables. Each key once (a writer may move a key between two
/// slots while we read the chain).
pub(crate) fn collect_bucket<'p, K: Eq, V>(
    table: &'p Table<K, V>,
    index: usize,
    origin_mask: usize,
    origin: usize,
    out: &mut Vec<&'p Entry<K, V>>,
) {
    let head = table.bucket_at(index);
    if head.is_moved() {
        let next = table.next().expect("a moved bucket has a next table");
        for target in table.targets(index, next) {
            collect_bucket(next, target, origin_mask, origin, out);
        }
        return;
    }
    let start = out.len();
    head.scan(|e| {
        if e.hash as usize & origin_mask == origin
            && !out[start..].iter().any(|seen| seen.key == e.key)
        {
            out.push(e);
        }
        None::<()>
    });
}

impl<'p, K: Eq, V> Iterator for Iter<'p, K, V> {
    type Item = (&'p K, &'p V);

    fn next(&mut self) -> Option<(&'p K, &'p V)> {
        loop {
            if let Some(e) = self.batch.pop() {
                return Some((&e.key, &e.value));
            }
            if self.next_bucket >= self.table.len() {
                return None;
            }
            let i = self.next_bucket;
            self.next_bucket += 1;
            collect_bucket(self.table, i, self.table.len() - 1, i, &mut self.batch);
        }
    }
}
