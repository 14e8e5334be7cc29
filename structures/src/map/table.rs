//! The table under an `RcuHashMap`: cache-line buckets of entry pointers
//! with their hash tags in one word, chained to overflow buckets, and the
//! incremental migration that resizes a table without stopping readers.
//!
//! # A bucket
//!
//! One 64-byte line: a `meta` word (six 1-byte hash tags, a "moved" flag
//! and the writers' lock bit), six entry pointers, and an overflow link.
//! A lookup loads `meta` once, and follows only pointers whose tag matches:
//! usually one line for the bucket and one for the entry.
//!
//! Entries are boxed and immutable once published: an update publishes a
//! new entry in the same slot and retires the old one, so a reader's `&V`
//! stays valid for its whole read-side section, and no `K: Clone` or
//! `V: Clone` is needed.
//!
//! # Ordering
//!
//! A writer (holding the bucket lock) stores a slot with release, then the
//! meta word with release. Readers acquire-load `meta`, then the slot: a
//! tag they see implies the slot store before it is visible. Tags are only
//! hints; the full hash and key decide.
//!
//! # Resizing
//!
//! A resize allocates the next table and links it from the current one.
//! Buckets are migrated one at a time under their lock: entry pointers are
//! copied into the next table, then the old bucket is marked moved (its
//! slots stay as they were, so a reader already scanning it is unaffected).
//! Readers and writers that meet a moved bucket continue in the next table.
//! When every bucket has moved, the map's root switches to the next table
//! and the old one goes to the reclamation queue. A writer that finds its
//! own bucket unmoved during a resize migrates it before working in the
//! next table, so a key always lives in exactly one place.

use crossbeam_utils::Backoff;
use std::sync::atomic::{AtomicPtr, AtomicU64, AtomicUsize, Ordering};

/// Entry slots per bucket line.
pub(crate) const SLOTS: usize = 6;
/// The writers' lock (readers ignore it).
const LOCK: u64 = 1 << 63;
/// Set (release) once a bucket's entries are all in the next table.
const MOVED: u64 = 1 << 55;
/// Mask of the six tag bytes.
const TAG_BYTES: u64 = (1 << (8 * SLOTS)) - 1;

/// A key-value pair with its full hash; immutable once published.
pub(crate) struct Entry<K, V> {
    pub(crate) hash: u64,
    pub(crate) key: K,
    pub(crate) value: V,
}

/// The tag of a hash: its top 7 bits, with the high bit set so that a tag
/// is never zero (zero marks an empty slot).
#[inline(always)]
pub(crate) fn tag_of(hash: u64) -> u8 {
    (hash >> 57) as u8 | 0x80
}

#[inline(always)]
fn tag_at(meta: u64, slot: usize) -> u8 {
    (meta >> (8 * slot)) as u8
}

#[inline(always)]
fn with_tag(meta: u64, slot: usize, tag: u8) -> u64 {
    (meta & !(0xFF << (8 * slot))) | (u64::from(tag) << (8 * slot))
}

/// What a reader's scan of a bucket found.
pub(crate) enum Lookup<'t, K, V> {
    Found(&'t Entry<K, V>),
    Absent,
    /// The bucket moved: look in the next table.
    Moved,
}

/// One cache line of a chain.
#[repr(C, align(64))]
pub(crate) struct Bucket<K, V> {
    meta: AtomicU64,
    slots: [AtomicPtr<Entry<K, V>>; SLOTS],
    overflow: AtomicPtr<Bucket<K, V>>,
}

impl<K, V> Bucket<K, V> {
    fn new() -> Self {
        Bucket {
            meta: AtomicU64::new(0),
            slots: Default::default(),
            overflow: AtomicPtr::new(std::ptr::null_mut()),
        }
    }

    /// The next bucket of the chain.
    #[inline(always)]
    pub(crate) fn overflow(&self) -> Option<&Bucket<K, V>> {
        // SAFETY: overflow buckets live as long as their table (they are
        // freed with it, after a grace period); acquire pairs with the
        // release store that linked a fully built bucket.
        unsafe { self.overflow.load(Ordering::Acquire).as_ref() }
    }

    /// Whether the bucket's entries have moved to the next table
    /// (head buckets only).
    #[inline(always)]
    pub(crate) fn is_moved(&self) -> bool {
        self.meta.load(Ordering::Acquire) & MOVED != 0
    }

    /// Visits the entries of this chain (a reader's scan). Stops when `f`
    /// returns `Some`.
    #[inline]
    pub(crate) fn scan<'t, R>(
        &'t self,
        mut f: impl FnMut(&'t Entry<K, V>) -> Option<R>,
    ) -> Option<R> {
        let mut b = self;
        loop {
            // Acquire pairs with the writer's release store of `meta`.
            let meta = b.meta.load(Ordering::Acquire);
            for i in 0..SLOTS {
                if tag_at(meta, i) != 0 {
                    // SAFETY: a published entry stays allocated until a
                    // grace period after it is unlinked; the caller is in a
                    // read-side section (or holds the bucket lock).
                    if let Some(e) = unsafe { b.slots[i].load(Ordering::Acquire).as_ref() } {
                        if let Some(r) = f(e) {
                            return Some(r);
                        }
                    }
                }
            }
            b = b.overflow()?;
        }
    }

    /// Finds the entry for `hash` whose key satisfies `eq`, or says
    /// [`Lookup::Moved`] if this head bucket has moved to the next table
    /// (checked with the same load of `meta` that the scan uses).
    #[inline]
    pub(crate) fn find(&self, hash: u64, mut eq: impl FnMut(&K) -> bool) -> Lookup<'_, K, V> {
        let tag = tag_of(hash);
        let mut b = self;
        let mut meta = b.meta.load(Ordering::Acquire);
        if meta & MOVED != 0 {
            return Lookup::Moved;
        }
        loop {
            for i in 0..SLOTS {
                if tag_at(meta, i) == tag {
                    // SAFETY: as in `scan`.
                    if let Some(e) = unsafe { b.slots[i].load(Ordering::Acquire).as_ref() } {
                        if e.hash == hash && eq(&e.key) {
                            return Lookup::Found(e);
                        }
                    }
                }
            }
            match b.overflow() {
                Some(next) => b = next,
                None => return Lookup::Absent,
            }
            meta = b.meta.load(Ordering::Acquire);
        }
    }

    /// Takes the writers' lock of this (head) bucket.
    pub(crate) fn lock(&self) -> BucketLock<'_, K, V> {
        let backoff = Backoff::new();
        loop {
            let m = self.meta.load(Ordering::Relaxed);
            // Acquire pairs with the previous holder's release in `unlock`.
            if m & LOCK == 0
                && self
                    .meta
                    .compare_exchange_weak(m, m | LOCK, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
            {
                return BucketLock { head: self };
            }
            backoff.snooze();
        }
    }
}

/// A locked head bucket; unlocks on drop. Only the holder changes the chain.
pub(crate) struct BucketLock<'t, K, V> {
    head: &'t Bucket<K, V>,
}

/// A found key: where it sits, and its entry.
pub(crate) type Found<'t, K, V> = (Slot<'t, K, V>, &'t Entry<K, V>);

/// Where a key sits in a chain.
pub(crate) struct Slot<'t, K, V> {
    bucket: &'t Bucket<K, V>,
    index: usize,
}

impl<K, V> Drop for BucketLock<'_, K, V> {
    fn drop(&mut self) {
        // Release: our changes to the chain happen before the next holder's
        // (pairs with the acquire in `lock`).
        // Only the lock holder writes a head bucket's meta word (readers
        // never do), so a plain store clears the bit without an RMW.
        let m = self.head.meta.load(Ordering::Relaxed);
        self.head.meta.store(m & !LOCK, Ordering::Release);
    }
}

impl<'t, K, V> BucketLock<'t, K, V> {
    pub(crate) fn is_moved(&self) -> bool {
        self.head.meta.load(Ordering::Relaxed) & MOVED != 0
    }

    /// The slot holding the entry for `hash` whose key satisfies `eq`.
    pub(crate) fn find_slot(
        &self,
        hash: u64,
        mut eq: impl FnMut(&K) -> bool,
    ) -> Option<Found<'t, K, V>> {
        let tag = tag_of(hash);
        let mut b = self.head;
        loop {
            let meta = b.meta.load(Ordering::Relaxed);
            for i in 0..SLOTS {
                if tag_at(meta, i) == tag {
                    // SAFETY: we hold the lock: entries in the chain are live.
                    if let Some(e) = unsafe { b.slots[i].load(Ordering::Relaxed).as_ref() } {
                        if e.hash == hash && eq(&e.key) {
                            return Some((
                                Slot {
                                    bucket: b,
                                    index: i,
                                },
                                e,
                            ));
                        }
                    }
                }
            }
            b = b.overflow()?;
        }
    }

    /// Puts a new entry in a free slot, growing the chain if it is full.
    /// Returns whether the chain had to grow.
    pub(crate) fn insert_new(&self, entry: *mut Entry<K, V>, hash: u64) -> bool {
        let mut b = self.head;
        loop {
            let meta = b.meta.load(Ordering::Relaxed);
            if let Some(i) = (0..SLOTS).find(|&i| tag_at(meta, i) == 0) {
                // Release: the entry is fully built before readers can load
                // it; then the tag (release) makes the slot worth looking at.
                b.slots[i].store(entry, Ordering::Release);
                b.meta
                    .store(with_tag(meta, i, tag_of(hash)), Ordering::Release);
                return false;
            }
            match b.overflow() {
                Some(next) => b = next,
                None => {
                    let fresh = Box::new(Bucket::new());
                    fresh.slots[0].store(entry, Ordering::Relaxed);
                    fresh.meta.store(u64::from(tag_of(hash)), Ordering::Relaxed);
                    // Release: the new bucket is complete before it is linked.
                    b.overflow.store(Box::into_raw(fresh), Ordering::Release);
                    return true;
                }
            }
        }
    }

    /// Replaces the entry in `slot` (same key) and returns the old one,
    /// which the caller retires.
    pub(crate) fn replace(
        &self,
        slot: &Slot<'t, K, V>,
        entry: *mut Entry<K, V>,
    ) -> *mut Entry<K, V> {
        // AcqRel: release publishes the new entry; the old one is ours now.
        slot.bucket.slots[slot.index].swap(entry, Ordering::AcqRel)
    }

    /// Empties `slot` and returns its entry, which the caller retires. The
    /// pointer stays readable by readers already past the tag.
    pub(crate) fn remove(&self, slot: &Slot<'t, K, V>) -> *mut Entry<K, V> {
        let b = slot.bucket;
        let meta = b.meta.load(Ordering::Relaxed);
        b.meta
            .store(with_tag(meta, slot.index, 0), Ordering::Release);
        b.slots[slot.index].swap(std::ptr::null_mut(), Ordering::AcqRel)
    }

    /// Empties the whole chain, handing each entry to `retire`.
    pub(crate) fn drain(&self, mut retire: impl FnMut(*mut Entry<K, V>)) -> usize {
        let mut n = 0;
        let mut b = self.head;
        loop {
            let meta = b.meta.load(Ordering::Relaxed);
            b.meta.store(meta & !TAG_BYTES, Ordering::Release);
            for s in &b.slots {
                let e = s.swap(std::ptr::null_mut(), Ordering::AcqRel);
                if !e.is_null() {
                    retire(e);
                    n += 1;
                }
            }
            match b.overflow() {
                Some(next) => b = next,
                None => return n,
            }
        }
    }

    /// Calls `f` on every entry of the chain (the lock holder's view).
    fn for_each_entry(&self, mut f: impl FnMut(*mut Entry<K, V>)) {
        let mut b = self.head;
        loop {
            for s in &b.slots {
                let e = s.load(Ordering::Relaxed);
                if !e.is_null() {
                    f(e);
                }
            }
            match b.overflow() {
                Some(next) => b = next,
                None => return,
            }
        }
    }

    /// Copies this chain's entries into `next` and marks the bucket moved.
    /// The chain itself stays intact for readers already in it. Each
    /// target bucket is locked once (a doubling has two targets).
    pub(crate) fn migrate_to(&self, next: &Table<K, V>) {
        debug_assert!(!self.is_moved());
        // SAFETY (closures below): entries of a chain whose lock we hold are
        // live.
        let hash_of = |e: *mut Entry<K, V>| unsafe { (*e).hash };
        // Tables grow and shrink by factors of two: at most two targets.
        let mut done = [usize::MAX; 2];
        for round in 0..done.len() {
            let mut target = None;
            self.for_each_entry(|e| {
                let t = next.index(hash_of(e));
                if target.is_none() && !done.contains(&t) {
                    target = Some(t);
                }
            });
            let Some(t) = target else { break };
            let lock = next.bucket_at(t).lock();
            self.for_each_entry(|e| {
                let h = hash_of(e);
                if next.index(h) == t {
                    lock.insert_new(e, h);
                }
            });
            done[round] = t;
        }
        let m = self.head.meta.load(Ordering::Relaxed);
        // Release: the copies are visible before anyone sees "moved".
        self.head.meta.store(m | MOVED, Ordering::Release);
    }
}

/// A bucket array, and the state of its migration to the next table.
pub(crate) struct Table<K, V> {
    buckets: Box<[Bucket<K, V>]>,
    mask: usize,
    /// The table being migrated to (null when no resize is under way).
    pub(crate) next: AtomicPtr<Table<K, V>>,
    /// Next bucket index a helper may claim for migration.
    pub(crate) claimed: AtomicUsize,
    /// Buckets migrated so far.
    pub(crate) moved: AtomicUsize,
}

impl<K, V> Table<K, V> {
    /// A table of `buckets` head buckets (a power of two).
    pub(crate) fn new(buckets: usize) -> Self {
        debug_assert!(buckets.is_power_of_two());
        Table {
            buckets: (0..buckets).map(|_| Bucket::new()).collect(),
            mask: buckets - 1,
            next: AtomicPtr::new(std::ptr::null_mut()),
            claimed: AtomicUsize::new(0),
            moved: AtomicUsize::new(0),
        }
    }

    #[inline(always)]
    pub(crate) fn len(&self) -> usize {
        self.mask + 1
    }

    #[inline(always)]
    pub(crate) fn index(&self, hash: u64) -> usize {
        hash as usize & self.mask
    }

    #[inline(always)]
    pub(crate) fn bucket(&self, hash: u64) -> &Bucket<K, V> {
        // SAFETY: `mask` is `buckets.len() - 1`, a power of two minus one.
        unsafe { self.buckets.get_unchecked(self.index(hash)) }
    }

    pub(crate) fn bucket_at(&self, index: usize) -> &Bucket<K, V> {
        &self.buckets[index]
    }

    /// The next table, if a resize is under way.
    #[inline]
    pub(crate) fn next(&self) -> Option<&Table<K, V>> {
        // SAFETY: the next table is freed only after it was itself replaced
        // and a grace period passed; acquire pairs with the release that
        // linked it fully built.
        unsafe { self.next.load(Ordering::Acquire).as_ref() }
    }

    /// Indices of the next table's buckets that receive entries from our
    /// bucket `index`.
    pub(crate) fn targets(&self, index: usize, next: &Table<K, V>) -> impl Iterator<Item = usize> {
        let (ours, theirs) = (self.len(), next.len());
        let step = if theirs > ours { ours } else { theirs };
        let first = index & next.mask;
        let count = if theirs > ours { theirs / ours } else { 1 };
        (0..count).map(move |k| first + k * step)
    }

    /// Frees the entries still linked (only when nothing else can reach
    /// them: the map is being dropped).
    pub(crate) fn drop_entries(&mut self) {
        for head in self.buckets.iter() {
            if head.meta.load(Ordering::Relaxed) & MOVED != 0 {
                continue;
            }
            let mut b = head;
            loop {
                for s in &b.slots {
                    let e = s.swap(std::ptr::null_mut(), Ordering::Relaxed);
                    if !e.is_null() {
                        // SAFETY: `&mut self` on a dropped map: no reader or
                        // writer can reach the entry; it came from Box.
                        drop(unsafe { Box::from_raw(e) });
                    }
                }
                match b.overflow() {
                    Some(next) => b = next,
                    None => break,
                }
            }
        }
    }
}

impl<K, V> Drop for Table<K, V> {
    /// Frees the overflow buckets; entries are not this table's to drop
    /// (they moved on, or `drop_entries` ran).
    fn drop(&mut self) {
        for head in self.buckets.iter_mut() {
            let mut p = *head.overflow.get_mut();
            while !p.is_null() {
                // SAFETY: overflow buckets come from `Box::into_raw` and are
                // linked from exactly one place.
                let mut b = unsafe { Box::from_raw(p) };
                p = *b.overflow.get_mut();
            }
        }
    }
}

// SAFETY: a table hands out `&K`/`&V` to readers on any thread (needs
// `Sync`) and its entries are dropped on whichever thread reclaims them
// (needs `Send`); the raw pointers inside are owned by the table.
unsafe impl<K: Send + Sync, V: Send + Sync> Send for Table<K, V> {}
// SAFETY: as above.
unsafe impl<K: Send + Sync, V: Send + Sync> Sync for Table<K, V> {}
