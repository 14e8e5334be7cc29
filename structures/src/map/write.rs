//! The write path: inserts, replacements and removals under a bucket
//! lock, the upsert and compute closures (and the check that keeps them
//! from writing their own map), `retain` and `clear`. Every write runs in a
//! read-side section, so the entries it unpublishes stay readable for it.

use super::iter::MapIter;
use super::resize::this_thread_checks_for_shrink;
use super::table::{self, BucketLock, Slot, Table};
use super::{MapStorage, OnDrop, RcuHashMap};
use std::borrow::Borrow;
use std::hash::{BuildHasher, Hash};

/// An item made for an insert and not yet handed to the table: if the
/// insert unwinds first (a panicking `Eq`), what it owns is dropped, not
/// leaked.
struct PendingItem<K, V, M: MapStorage<K, V>>(Option<M::Item>);

impl<K, V, M: MapStorage<K, V>> PendingItem<K, V, M> {
    /// The item, to publish.
    fn take(&mut self) -> M::Item {
        self.0.take().expect("an item is published once")
    }
}

impl<K, V, M: MapStorage<K, V>> Drop for PendingItem<K, V, M> {
    fn drop(&mut self) {
        if let Some(mut item) = self.0.take() {
            // SAFETY: never published: nothing else can reach it.
            unsafe { M::drop_live(&mut item) };
        }
    }
}

/// What a [`Pinned::compute`](super::Pinned::compute) closure decides to do with the entry it was
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
    /// Store this value, as [`Pinned::insert`](super::Pinned::insert) does: insert it if the key
    /// was absent, replace the old value (retired like any replaced value)
    /// if it was present.
    Insert(V),
    /// Remove the entry (nothing happens if the key was absent).
    Remove,
    /// Leave the map as it is.
    Keep,
}

/// What [`Pinned::compute`](super::Pinned::compute) did: the value the key had before, and the
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

impl<K, V, S, M> RcuHashMap<K, V, S, M>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Send + Sync + 'static,
    S: BuildHasher,
    M: MapStorage<K, V>,
{
    /// Hands an unpublished item to the reclamation queue (boxed entries;
    /// inline slots wait for their ticket instead).
    pub(super) fn retire(&self, item: *const M::Item) {
        // SAFETY: the item was just unpublished under its bucket lock and
        // is retired once.
        unsafe { M::retire(item, &self.domain) };
    }

    /// Queues overflow lines a write unlinked (after its bucket lock is
    /// released).
    pub(super) fn retire_lines(&self, lines: Vec<table::RetiredLine<K, V, M>>) {
        for line in lines {
            line.retire(&self.domain);
        }
    }

    /// Locks the bucket that owns `hash`, in the table where it currently
    /// lives (migrating it first if a resize is under way).
    pub(super) fn lock_bucket(&self, hash: u64) -> (&Table<K, V, M>, BucketLock<'_, K, V, M>) {
        self.check_not_in_closure();
        let mut t = self.root();
        t.prefetch_summary(hash);
        if let Some(next) = t.next() {
            // Share the resize: every write that meets one moves a chunk, so
            // growth is not one thread's job and no single write (nor the
            // read-side section around it) lasts a whole table's migration.
            self.migrate_chunk(t, next);
        }
        loop {
            let lock = t.lock_bucket_of(hash);
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

    /// Inserts or replaces; returns the old entry (retired) if there was one.
    pub(super) fn insert_entry(&self, key: K, value: V) -> Option<(&K, &V)> {
        let hash = self.hash(&key);
        // The bucket line is the operation's cache miss: start it, and
        // make the entry (a boxed one is an allocation) while it comes,
        // outside the lock.
        self.root().bucket(hash).prefetch();
        self.insert_hashed(hash, key, value)
    }

    /// [`insert_entry`](Self::insert_entry) for a key whose hash is known
    /// (and whose bucket line the caller has requested).
    pub(super) fn insert_hashed(&self, hash: u64, key: K, value: V) -> Option<(&K, &V)> {
        let mut item = PendingItem::<K, V, M>(Some(M::make(hash, key, value)));
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
        self.publish_absent(t, lock, item.take(), hash);
        None
    }

    /// Removes the entry for `key`; returns it (retired). One lookup,
    /// under the bucket lock, unless the bucket's tag summary already says
    /// the key is absent.
    pub(super) fn remove_entry<Q>(&self, key: &Q) -> Option<(&K, &V)>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let hash = self.hash(key);
        // A key whose tag its bucket's summary lacks is absent, as for a
        // lookup (`find_hashed`): a deletion that finds nothing takes no
        // lock and reads no bucket line.
        if !self.root().may_hold(hash) {
            return None;
        }
        let (t, lock) = self.lock_bucket(hash);
        let slot = lock.find_slot(hash, |k| k.borrow() == key)?;
        Some(self.unlink(t, lock, &slot, true))
    }

    /// Publishes `item`, whose key the caller found absent under `lock`,
    /// and does the bookkeeping; returns the new entry, read under the
    /// lock (once it is released, another writer may replace a boxed
    /// entry in place), readable for the caller's section.
    pub(super) fn publish_absent<'t>(
        &'t self,
        t: &Table<K, V, M>,
        lock: BucketLock<'t, K, V, M>,
        item: M::Item,
        hash: u64,
    ) -> (&'t K, &'t V) {
        let (grew, slot, left_empty) = lock.insert_new(item, hash, &self.domain);
        let trimmed = lock.trim_empty_lines(left_empty);
        let entry = slot.get();
        drop(lock);
        self.retire_lines(trimmed);
        self.count(1);
        if grew {
            self.maybe_grow(t);
        }
        entry
    }

    /// Removes the entry in `slot` (found under `lock`) and does the
    /// bookkeeping; returns the entry, readable for the caller's section.
    /// `may_shrink`: whether this removal may start a shrink (one in
    /// `SHRINK_CHECK_EVERY`, in `resize`, does).
    pub(super) fn unlink<'t>(
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
    pub(super) fn remove_entry_if<Q>(
        &self,
        key: &Q,
        mut pred: impl FnMut(&K, &V) -> bool,
    ) -> Option<(&K, &V)>
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
    pub(super) fn update_entry<Q>(&self, key: &Q, mut f: impl FnMut(&V) -> V) -> Option<(&K, &V)>
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
    pub(super) fn get_or_insert_entry(&self, key: K, make: impl FnOnce() -> V) -> (&K, &V) {
        if let Some(found) = self.find(&key) {
            return found;
        }
        let value = make();
        let hash = self.hash(&key);
        let (t, lock) = self.lock_bucket(hash);
        if let Some(slot) = lock.find_slot(hash, |k| *k == key) {
            return slot.get();
        }
        self.publish_absent(t, lock, M::make(hash, key, value), hash)
    }

    /// `update(old)` or `insert()` stored for `key`, in one `compute_entry`
    /// (see [`Pinned::update_or_insert_with`](super::Pinned::update_or_insert_with)). The caller is in a
    /// read-side section.
    pub(super) fn upsert_entry(
        &self,
        key: K,
        update: impl FnOnce(&V) -> V,
        insert: impl FnOnce() -> V,
    ) -> &V {
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
    pub(super) fn compute_entry(
        &self,
        key: K,
        f: impl FnOnce(Option<&V>) -> Compute<V>,
    ) -> Computed<'_, V> {
        let hash = self.hash(&key);
        let (t, lock) = self.lock_bucket(hash);
        let Some(slot) = lock.find_slot(hash, |k| *k == key) else {
            return match self.in_closure(|| f(None)) {
                Compute::Insert(value) => {
                    let (_, new) = self.publish_absent(t, lock, M::make(hash, key, value), hash);
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
    pub(super) fn in_closure<R>(&self, f: impl FnOnce() -> R) -> R {
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
    pub(super) fn check_not_in_closure(&self) {
        if !cfg!(loom) && CLOSURES.with(|n| n.get()) != 0 {
            self.check_not_in_closure_slow();
        }
    }

    #[cold]
    #[inline(never)]
    pub(super) fn check_not_in_closure_slow(&self) {
        let me = self as *const Self as usize;
        if IN_CLOSURE_OF.with(|maps| maps.borrow().contains(&me)) {
            panic!(
                "RcuHashMap written inside its own `compute` or `update_or_insert_with` \
                 closure: the closure runs under a bucket lock that the write may need, \
                 and would wait for it forever (read the map there, or write after the call)"
            );
        }
    }

    /// Removes every entry for which `keep` returns false, judging each
    /// entry once (see [`Pinned::retain`](super::Pinned::retain)). The caller is in a read-side
    /// section, which `entries` (a weakly consistent iteration) and the
    /// references it yields live in.
    pub(super) fn retain_entries<'p>(
        &'p self,
        entries: impl FnOnce() -> MapIter<'p, K, V, S, M>,
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
            let lock = t.lock_at(i);
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
