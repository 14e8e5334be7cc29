//! The table under an `RcuHashMap`: cache-line buckets whose slots hold
//! entries (inline pairs or pointers to boxed entries, see [`storage`]),
//! chained to overflow lines, and the incremental migration that resizes a
//! table without stopping readers.
//!
//! [`storage`]: super::storage
//!
//! # A bucket line
//!
//! 64 bytes: a `meta` word, 48 bytes of slots (six pointers, or three
//! `u64` pairs), and an overflow link. `meta` holds, from the low bits up:
//! a 7-bit field per slot (free, retired, or the live entry's hash tag), a
//! 13-bit grace-period ticket, the "moved" flag and the writers' lock bit
//! (both in head lines only); [`meta`](super::meta) has the codec.
//! A lookup loads `meta` once and reads only slots whose tag matches: one
//! line for an inline entry, two for a boxed one. Before that it reads the
//! bucket's tag summary, in a dense array beside the lines (see
//! [`summary`]), and most lookups of absent keys stop there.
//!
//! [`summary`]: super::summary
//!
//! A head line of a layout with fewer than seven slots (inline `u64` pairs
//! have three) uses the spare fields' bits as a filter of the tags in its
//! overflow lines: one bit per tag value modulo the filter's width, set
//! before an entry is published in an overflow line and recomputed under
//! the lock when one leaves. A lookup whose bit is clear stops after the
//! head line, so an absent key costs one line however long the chain.
//!
//! # Slots are write-once per grace period
//!
//! A writer (holding the head line's lock) fills a free slot with plain
//! writes, then publishes its tag with a release store of `meta`; readers
//! acquire-load `meta`, so a tag they see implies the slot's contents.
//! Removing or replacing an entry turns its field from the tag to "retired",
//! and the line is stamped with a grace-period ticket taken after that store. A
//! retired slot is written again only once its ticket has elapsed: every
//! reader that could have seen the old tag has left its section by then.
//! So a reader's `&K`/`&V` into a slot stays valid for its whole section,
//! with no per-entry allocation for inline storage. Readers never write.
//!
//! A replacement writes the new entry into a free slot of the same line and
//! swaps the two tags in one store when it can; otherwise it publishes the
//! new entry further down the chain before retiring the old one, so a
//! reader always finds the key (a scan may meet it twice for that instant:
//! iteration removes such duplicates within a chain). Never nearer the
//! head: a reader could pass that slot before it is filled and reach the
//! old one after it is retired. An overflow line that a replacement or a
//! removal leaves empty is unlinked at once, unless it is the chain's last
//! (kept as a spare for the next insert), so a hot key updated faster than
//! grace periods end walks down a chain of a few lines rather than growing
//! it.
//!
//! # Resizing
//!
//! A resize allocates the next table and links it from the current one.
//! Buckets are migrated one at a time under their lock: live entries are
//! copied into the next table, then the old bucket is marked moved (its
//! slots stay as they were, so a reader already scanning it is unaffected).
//! A grow's target buckets receive entries from one source bucket only and
//! are unreachable until it is marked moved, so they are filled with plain
//! writes and published at once, without their locks.
//! Readers and writers that meet a moved bucket continue in the next table.
//! When every bucket has moved, the map's root switches to the next table
//! and the old one goes to the reclamation queue. A writer that finds its
//! own bucket unmoved during a resize migrates it before working in the
//! next table, so a key always lives in exactly one place.
//!
//! The work is spread over writes: each write that meets a resize moves one
//! chunk of buckets besides its own, so no write (and no read-side section
//! around one) lasts a whole table's migration, and grace periods keep
//! ending while a large table grows. Until the writes have moved every
//! bucket, a lookup in a moved bucket reads one more line, in the next
//! table.
//!
//! Migration is unwind-safe. The only user code it runs is `Hash`, for
//! inline entries of a table that grows (a boxed entry stores its hash; a
//! shrink sends a bucket's entries to one target, with the tags they
//! have), and it runs for the whole chain before the first copy: a panic
//! leaves the bucket unmoved and whole, to be migrated again later. A
//! helper that unwinds counts the buckets it did move and marks the table
//! abandoned; later helpers then go round the table again for the rest of
//! its chunk, so the resize still finishes.
//!
//! A chunk's misses are started ahead: its helper prefetches the overflow
//! line of the bucket four on and the boxed entries (whose stored hashes
//! migration reads) of the bucket two on, scanning them as a reader would.
//! Without that, each miss waited for the one before, the bucket locks'
//! atomic instructions standing between them.
//!
//! A large next table (8 MiB or more) is faulted in ahead by a short-lived
//! background thread (see [`zeroed`]), so the kernel's zeroing of its
//! fresh pages runs beside the writers instead of inside their writes.
//!
//! [`zeroed`]: super::zeroed

use super::meta::{
    any_live, first_slot, free_retired, free_slots, is_live, retired, retired_slots, tag_at,
    tag_of, ticket_elapsed, with_tag, with_ticket, without_fields, LOCK, MAX_SLOTS, MOVED,
};
use super::storage::private::Layout;
use super::storage::{prefetch_line, LINE_DATA};
use super::summary::{empty_summaries, may_hold, tag_bit, Summary, EVERY_TAG};
use super::zeroed::{Pages, ZeroedArray};
use crate::sync::{ptr_mut, AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Backoff, Ordering};
use std::cell::UnsafeCell;
use std::marker::PhantomData;
use std::mem::MaybeUninit;
use urcu_reclaim::Domain;

/// What a reader's lookup in a bucket found.
pub(crate) enum Lookup<'t, K, V> {
    Found(&'t K, &'t V),
    Absent,
    /// The bucket moved: look in the next table.
    Moved,
}

/// One cache line of a chain: 64 bytes, but aligned to 8 as a type. Head
/// lines sit in the table's array, which is cache-line aligned
/// (`ZeroedArray`); an overflow line comes from `malloc` at 16-byte
/// alignment and may straddle two cache lines (its atomic words are
/// 8-aligned, so none of them does: no split-lock atomics). Asking for 64-byte
/// alignment would send every overflow line through glibc's
/// `posix_memalign`, which skips the thread cache and splits off fragments
/// (slow to allocate in a growing map, and 8 more bytes per entry).
#[repr(C)]
pub(crate) struct Bucket<K, V, M: Layout<K, V>> {
    meta: AtomicU64,
    /// `M::SLOTS` items; a slot is initialized while its tag is set or it
    /// is retired.
    data: UnsafeCell<MaybeUninit<[u64; LINE_DATA / 8]>>,
    overflow: AtomicPtr<Bucket<K, V, M>>,
    _items: PhantomData<M::Item>,
}

#[cfg(not(loom))]
const _: () = assert!(std::mem::size_of::<Bucket<u64, u64, super::storage::Inline>>() == 64);

impl<K, V, M: Layout<K, V>> Bucket<K, V, M> {
    /// An empty line (loom builds its head lines this way; elsewhere they
    /// are zeroed memory, see `empty_buckets`).
    #[cfg(loom)]
    fn new() -> Self {
        Bucket {
            meta: AtomicU64::new(0),
            data: UnsafeCell::new(MaybeUninit::uninit()),
            overflow: AtomicPtr::new(std::ptr::null_mut()),
            _items: PhantomData,
        }
    }

    /// An empty overflow line on the heap. Only its two words are
    /// written: `Box::new(Bucket::new())` compiles to `calloc` (the slots
    /// are uninitialized, so the whole value may as well be zero), which
    /// glibc serves without its thread cache and then clears.
    fn new_overflow() -> Box<Self> {
        let mut line = Box::<Self>::new_uninit();
        let p = line.as_mut_ptr();
        // SAFETY: `p` points to an allocation for a `Bucket`; the two words
        // are written before `assume_init`, the slots are `MaybeUninit`
        // (nothing to initialize) and `_items` is a zero-sized marker.
        unsafe {
            std::ptr::addr_of_mut!((*p).meta).write(AtomicU64::new(0));
            std::ptr::addr_of_mut!((*p).overflow).write(AtomicPtr::new(std::ptr::null_mut()));
            line.assume_init()
        }
    }

    /// Slot `i`'s storage.
    #[inline(always)]
    fn item(&self, i: usize) -> *mut M::Item {
        debug_assert!(i < M::SLOTS);
        // SAFETY: `i < M::SLOTS`, and `M::SLOTS` items fit in `LINE_DATA`
        // bytes aligned to 8 (checked by each layout's `SLOTS`).
        unsafe { self.data.get().cast::<M::Item>().add(i) }
    }

    /// The next line of the chain.
    #[inline(always)]
    pub(crate) fn overflow(&self) -> Option<&Bucket<K, V, M>> {
        // SAFETY: overflow lines live as long as their table (they are
        // freed with it, after a grace period); acquire pairs with the
        // release store that linked a fully built line.
        unsafe { self.overflow.load(Ordering::Acquire).as_ref() }
    }

    /// Whether the bucket's entries have moved to the next table
    /// (head lines only).
    #[inline(always)]
    pub(crate) fn is_moved(&self) -> bool {
        self.meta.load(Ordering::Acquire) & MOVED != 0
    }

    /// Width of the overflow filter in a head line's meta word: the slot
    /// fields a layout with fewer than seven slots leaves unused, rounded
    /// down to a power of two (zero: no filter, lookups walk the chain).
    const FILTER_BITS: u32 = {
        let spare = 7 * (MAX_SLOTS - M::SLOTS) as u32;
        if spare >= 32 {
            32
        } else if spare >= 16 {
            16
        } else if spare >= 8 {
            8
        } else if spare >= 4 {
            4
        } else {
            0
        }
    };
    const FILTER_SHIFT: u32 = 7 * M::SLOTS as u32;
    const FILTER_MASK: u64 = ((1u64 << Self::FILTER_BITS) - 1) << Self::FILTER_SHIFT;

    /// `tag`'s bit in the overflow filter (zero when there is no filter).
    #[inline(always)]
    fn filter_bit(tag: u8) -> u64 {
        if Self::FILTER_BITS == 0 {
            return 0;
        }
        1 << (Self::FILTER_SHIFT + (u32::from(tag) & (Self::FILTER_BITS - 1)))
    }

    /// Whether the overflow lines of a head line whose meta word is `meta`
    /// may hold an entry tagged `tag`. The filter has a bit set for every
    /// live tag in them (set before the entry is published, recomputed
    /// only under the lock), so a clear bit means "not there" and a
    /// lookup of an absent key reads one line instead of the whole chain.
    #[inline(always)]
    fn overflow_may_hold(meta: u64, tag: u8) -> bool {
        Self::FILTER_BITS == 0 || meta & Self::filter_bit(tag) != 0
    }

    /// Visits the live items of this chain (a reader's scan); stops when
    /// `f` returns `Some`. The caller is in a read-side section (or holds
    /// the bucket lock), which keeps every item it is shown readable.
    #[inline]
    pub(crate) fn scan<R>(&self, mut f: impl FnMut(*const M::Item) -> Option<R>) -> Option<R> {
        let mut b = self;
        loop {
            // Acquire pairs with the writer's release store of `meta`.
            let meta = b.meta.load(Ordering::Acquire);
            for i in 0..M::SLOTS {
                if is_live(meta, i) {
                    if let Some(r) = f(b.item(i)) {
                        return Some(r);
                    }
                }
            }
            b = b.overflow()?;
        }
    }

    /// Starts loading this line (a hint; nothing is read).
    #[inline(always)]
    pub(crate) fn prefetch(&self) {
        if !cfg!(loom) {
            prefetch_line(std::ptr::from_ref(self).cast());
        }
    }

    /// Starts loading this line's overflow line, if it has one (a miss of
    /// its own: overflow lines come from the allocator, anywhere).
    #[inline]
    pub(crate) fn prefetch_overflow(&self) {
        if cfg!(loom) {
            return;
        }
        // Relaxed: the pointer is only a hint, never dereferenced here.
        prefetch_line(self.overflow.load(Ordering::Relaxed).cast());
    }

    /// Starts loading the boxed entries of this chain, which migrating it
    /// will read (their hashes): prefetched a few buckets ahead, those
    /// misses overlap instead of following one another. The caller is in
    /// a read-side section or holds the bucket lock, as for [`scan`](Self::scan).
    #[inline]
    pub(crate) fn prefetch_entries(&self) {
        if cfg!(loom) || !M::HASH_OFF_LINE {
            // A hint only: loom models need not explore its loads.
            return;
        }
        self.scan::<()>(|item| {
            // SAFETY: `scan` shows only published slots, readable for the
            // caller's section (or lock).
            unsafe { M::prefetch(item) };
            None
        });
    }

    /// Starts loading the boxed entries of this head line whose tag is
    /// `tag`: the second miss of a boxed lookup, started for several
    /// lookups at once by a batched get. Reads this line's `meta` (so the
    /// line should already be on its way). The caller is in a read-side
    /// section; a hint only.
    #[inline]
    pub(crate) fn prefetch_candidates(&self, tag: u8) {
        if cfg!(loom) || !M::HASH_OFF_LINE {
            return;
        }
        // Acquire, as in `find`: the slots whose tags we see are written.
        let meta = self.meta.load(Ordering::Acquire);
        for i in 0..M::SLOTS {
            if tag_at(meta, i) == tag {
                // SAFETY: a tag seen in our section's load of `meta`: the
                // slot is initialized and stays readable for the section.
                unsafe { M::prefetch(self.item(i)) };
            }
        }
    }

    /// Finds the entry for `hash` whose key satisfies `eq`, or says
    /// [`Lookup::Moved`] if this head bucket has moved to the next table
    /// (checked with the same load of `meta` that the scan uses). The
    /// caller is in a read-side section.
    #[inline]
    pub(crate) fn find(&self, hash: u64, mut eq: impl FnMut(&K) -> bool) -> Lookup<'_, K, V> {
        let tag = tag_of(hash);
        let mut b = self;
        // Acquire pairs with the writer's release store of `meta`: the
        // slots whose tags we see are fully written.
        let mut meta = b.meta.load(Ordering::Acquire);
        if meta & MOVED != 0 {
            return Lookup::Moved;
        }
        let may_overflow = Self::overflow_may_hold(meta, tag);
        loop {
            for i in 0..M::SLOTS {
                if tag_at(meta, i) == tag {
                    // SAFETY: the tag was set in our section's load of
                    // `meta`: the slot is initialized and not rewritten
                    // before a grace period waits for us (a boxed entry's
                    // in-place swap is atomic).
                    if let Some((k, v)) = unsafe { M::find(b.item(i), hash, &mut eq) } {
                        return Lookup::Found(k, v);
                    }
                }
            }
            if !may_overflow {
                return Lookup::Absent;
            }
            match b.overflow() {
                Some(next) => b = next,
                None => return Lookup::Absent,
            }
            meta = b.meta.load(Ordering::Acquire);
        }
    }

    /// Takes the writers' lock of this (head) bucket, whose tag summary is
    /// `summary` (see [`Table::lock_at`]).
    fn lock<'t>(&'t self, summary: &'t Summary) -> BucketLock<'t, K, V, M> {
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
                return BucketLock {
                    head: self,
                    summary,
                };
            }
            backoff.snooze();
        }
    }

    /// A free slot of this line for a new entry, reusing retired slots
    /// whose ticket has elapsed (then `meta` no longer marks them). Sets
    /// `waiting` if retired slots were still too young. Lock holder only.
    fn free_slot(&self, meta: &mut u64, domain: &Domain, waiting: &mut bool) -> Option<usize> {
        let free = free_slots(*meta, M::SLOTS);
        if free != 0 {
            return Some(first_slot(free));
        }
        let retired = retired_slots(*meta, M::SLOTS);
        if retired != 0 {
            if ticket_elapsed(*meta, domain.completed_sequence()) {
                *meta = free_retired(*meta, M::SLOTS);
                return Some(first_slot(retired));
            }
            *waiting = true;
        }
        None
    }
}

/// What [`BucketLock::replace`] did.
pub(crate) struct Replaced<'t, K, V, M: Layout<K, V>> {
    /// The old item, for the caller to retire.
    pub(crate) old: M::Item,
    /// Where the new entry is.
    pub(crate) fresh: Slot<'t, K, V, M>,
    /// Whether the entry moved out of an overflow line, not the last, and
    /// left it with no live entry, or grew the chain past a tail that had
    /// none: the caller should unlink such lines
    /// ([`BucketLock::trim_empty_lines`]).
    pub(crate) left_empty: bool,
}

/// Whether `b`, a line of the chain headed by `head`, is an overflow line
/// other than the last with no live entry, to be unlinked (lock holder only). The
/// last line is kept as a spare: a chain at its load limit empties and
/// refills its tail over and over (the exchange workload), and freeing it
/// each time, to allocate another on the next insert, costs an allocation
/// and a grace period per refill.
fn is_empty_middle_line<K, V, M: Layout<K, V>>(
    b: &Bucket<K, V, M>,
    head: &Bucket<K, V, M>,
) -> bool {
    !std::ptr::eq(b, head)
        && !any_live(b.meta.load(Ordering::Relaxed), M::SLOTS)
        && !b.overflow.load(Ordering::Relaxed).is_null()
}

/// A locked head bucket; unlocks on drop. Only the holder changes the chain.
pub(crate) struct BucketLock<'t, K, V, M: Layout<K, V>> {
    head: &'t Bucket<K, V, M>,
    /// The bucket's tag summary ([`summary`](super::summary)), which only
    /// the lock holder writes.
    summary: &'t Summary,
}

/// Where a key sits in a chain.
pub(crate) struct Slot<'t, K, V, M: Layout<K, V>> {
    bucket: &'t Bucket<K, V, M>,
    index: usize,
}

impl<'t, K, V, M: Layout<K, V>> Slot<'t, K, V, M> {
    /// The slot's key and value, valid for the caller's read-side section.
    pub(crate) fn get(&self) -> (&'t K, &'t V) {
        // SAFETY: the slot was found live under the lock, inside the
        // caller's section; once unpublished it is not written again until
        // a grace period has elapsed, which waits for that section.
        unsafe { M::get(self.bucket.item(self.index)) }
    }
}

impl<K, V, M: Layout<K, V>> Drop for BucketLock<'_, K, V, M> {
    fn drop(&mut self) {
        // Release: our changes to the chain happen before the next holder's
        // (pairs with the acquire in `lock`). Only the lock holder writes a
        // head line's meta word (readers never do), so a plain store clears
        // the bit without an RMW.
        let m = self.head.meta.load(Ordering::Relaxed);
        self.head.meta.store(m & !LOCK, Ordering::Release);
    }
}

impl<'t, K, V, M: Layout<K, V>> BucketLock<'t, K, V, M> {
    pub(crate) fn is_moved(&self) -> bool {
        self.head.meta.load(Ordering::Relaxed) & MOVED != 0
    }

    /// The slot holding the entry for `hash` whose key satisfies `eq`.
    #[inline]
    pub(crate) fn find_slot(
        &self,
        hash: u64,
        mut eq: impl FnMut(&K) -> bool,
    ) -> Option<Slot<'t, K, V, M>> {
        let tag = tag_of(hash);
        let mut b = self.head;
        let may_overflow =
            Bucket::<K, V, M>::overflow_may_hold(b.meta.load(Ordering::Relaxed), tag);
        loop {
            let meta = b.meta.load(Ordering::Relaxed);
            for i in 0..M::SLOTS {
                // SAFETY: we hold the lock: a tagged slot is initialized and
                // nobody else writes the chain.
                if tag_at(meta, i) == tag && unsafe { M::matches(b.item(i), hash, &mut eq) } {
                    return Some(Slot {
                        bucket: b,
                        index: i,
                    });
                }
            }
            if !may_overflow {
                return None;
            }
            b = b.overflow()?;
        }
    }

    /// Sets `tag`'s bit in the head's overflow filter, before an entry
    /// with that tag is published in an overflow line. Release, like every
    /// store of `meta` (readers that see the entry's tag through a later
    /// release store also see the bit).
    fn add_to_filter(&self, tag: u8) {
        let bit = Bucket::<K, V, M>::filter_bit(tag);
        let m = self.head.meta.load(Ordering::Relaxed);
        if m & bit != bit {
            self.head.meta.store(m | bit, Ordering::Release);
        }
    }

    /// Recomputes the head's overflow filter from the live tags of the
    /// overflow lines, after one of them lost an entry (bits only ever
    /// go stale-set otherwise). Under the lock nothing else changes the
    /// chain, so every entry still there keeps its bit.
    fn refresh_filter(&self) {
        if Bucket::<K, V, M>::FILTER_BITS == 0 {
            return;
        }
        let mut filter = 0;
        let mut b = self.head;
        while let Some(next) = b.overflow() {
            b = next;
            let meta = b.meta.load(Ordering::Relaxed);
            for i in 0..M::SLOTS {
                if is_live(meta, i) {
                    filter |= Bucket::<K, V, M>::filter_bit(tag_at(meta, i));
                }
            }
        }
        let m = self.head.meta.load(Ordering::Relaxed);
        let m = (m & !Bucket::<K, V, M>::FILTER_MASK) | filter;
        // Release: every store of `meta` is (see `add_to_filter`).
        self.head.meta.store(m, Ordering::Release);
    }

    /// Sets `tag`'s bit in the bucket's summary, before an entry with that
    /// tag is published anywhere in the chain (the release store of `meta`
    /// that publishes it comes after). A summary is written only here (and
    /// when the chain is drained or moves): removals leave their bits set,
    /// and the next insert that has to store anyway drops those no live
    /// entry needs.
    fn add_to_summary(&self, tag: u8) {
        let bit = tag_bit(tag);
        // Relaxed: see `summary`'s module docs; only we write it.
        let old = self.summary.load(Ordering::Relaxed);
        if old & bit == 0 {
            self.summary
                .store(self.live_summary(old) | bit, Ordering::Relaxed);
        }
    }

    /// A summary of the chain's live tags, from the head line alone: its
    /// own tags, and the overflow lines' from its overflow filter where
    /// the layout has one. Without a filter the overflow lines' part is
    /// taken from `old`, the current summary (already a superset), rather
    /// than read line by line.
    fn live_summary(&self, old: u16) -> u16 {
        let meta = self.head.meta.load(Ordering::Relaxed);
        let mut summary = (0..M::SLOTS)
            .filter(|&i| is_live(meta, i))
            .fold(0, |acc, i| acc | tag_bit(tag_at(meta, i)));
        if !self.head.overflow.load(Ordering::Relaxed).is_null() {
            let filter = (meta & Bucket::<K, V, M>::FILTER_MASK) >> Bucket::<K, V, M>::FILTER_SHIFT;
            summary |= match Bucket::<K, V, M>::FILTER_BITS {
                // Filter bit `tag % 4` stands for summary bits `tag % 4`,
                // `+ 4`, `+ 8` and `+ 12`; filter bit `tag % 8` for `tag %
                // 8` and `+ 8`; filter bit `tag % 32` for `tag % 16`.
                4 => (filter | filter << 4 | filter << 8 | filter << 12) as u16,
                8 => (filter | filter << 8) as u16,
                16 => filter as u16,
                32 => (filter | filter >> 16) as u16,
                _ => old,
            };
        }
        summary
    }

    /// Puts a new entry in a free slot, growing the chain if it is full.
    /// Returns whether the chain had to grow, the slot, and whether growing
    /// left the old tail an empty middle line (all its slots retired,
    /// waiting for a grace period) for the caller to unlink
    /// ([`trim_empty_lines`](Self::trim_empty_lines)): without that, a key
    /// removed and inserted again faster than grace periods end (a stalled
    /// reader) grew its chain by a line every few writes, for good. Asks
    /// (lazily: at the reclaimer's next pass) for a grace period when it
    /// grew only because retired slots were still waiting for one.
    pub(crate) fn insert_new(
        &self,
        item: M::Item,
        hash: u64,
        domain: &Domain,
    ) -> (bool, Slot<'t, K, V, M>, bool) {
        self.insert_from(self.head, item, tag_of(hash), domain)
    }

    /// [`insert_new`](Self::insert_new) of an entry whose tag is `tag`,
    /// into line `start` of the chain or a later one.
    fn insert_from(
        &self,
        start: &'t Bucket<K, V, M>,
        item: M::Item,
        tag: u8,
        domain: &Domain,
    ) -> (bool, Slot<'t, K, V, M>, bool) {
        let mut waiting = false;
        let mut b = start;
        loop {
            let mut meta = b.meta.load(Ordering::Relaxed);
            if let Some(i) = b.free_slot(&mut meta, domain, &mut waiting) {
                self.add_to_summary(tag);
                if !std::ptr::eq(b, self.head) {
                    // The head's word, not `b`'s: `meta` stays current.
                    self.add_to_filter(tag);
                }
                // SAFETY: a free slot: no reader looks at it (no tag), and
                // any reader that saw its old tag has left its section.
                unsafe { b.item(i).write(item) };
                // Release: the item is written before readers see its tag.
                b.meta.store(with_tag(meta, i, tag), Ordering::Release);
                return (
                    false,
                    Slot {
                        bucket: b,
                        index: i,
                    },
                    false,
                );
            }
            match b.overflow() {
                Some(next) => b = next,
                None => {
                    self.add_to_summary(tag);
                    self.add_to_filter(tag);
                    let fresh = Bucket::<K, V, M>::new_overflow();
                    // SAFETY: slot 0 of a line nobody else can see yet.
                    unsafe { fresh.item(0).write(item) };
                    fresh.meta.store(u64::from(tag), Ordering::Relaxed);
                    let fresh = Box::into_raw(fresh);
                    // Release: the new line is complete before it is linked.
                    b.overflow.store(fresh, Ordering::Release);
                    if waiting {
                        // Lazily: a grace period at once for every such
                        // insert (a thousand a second under heavy writes)
                        // interrupts the writers with `membarrier` IPIs
                        // and, with every core busy, with the reclaimer.
                        domain.request_grace_period_lazily();
                    }
                    // SAFETY: just linked; freed only with the table.
                    let bucket = unsafe { &*fresh };
                    let tail_emptied = is_empty_middle_line(b, self.head);
                    return (true, Slot { bucket, index: 0 }, tail_emptied);
                }
            }
        }
    }

    /// Stamps `b`'s retired slots with a ticket taken now, after their tags
    /// were cleared (the ticket's grace period must begin after that).
    fn stamp(b: &Bucket<K, V, M>, domain: &Domain) {
        // `start_poll` orders the cleared tags (stored before) ahead of its
        // read of the grace-period counter.
        let seq = domain.start_poll().sequence();
        let m = with_ticket(b.meta.load(Ordering::Relaxed), seq);
        // Release, like every store of `meta`: a reader that reads this
        // value must also see the slots its tags publish.
        b.meta.store(m, Ordering::Release);
    }

    /// Replaces the entry in `slot` (same key) with `item`; returns the old
    /// item, which the caller retires (what it points to stays readable
    /// for the caller's section), and the new entry's slot. Boxed entries
    /// are swapped in place. An inline pair goes to a free slot of the same
    /// line (the two tags swap in one store) or, if it has none, of a
    /// *later* line, published before the old slot is retired: a reader
    /// scans the chain from the head, so if it finds the old slot retired
    /// it also sees the new entry further on. (Moving the entry nearer the
    /// head would let a reader pass the new slot before it was filled and
    /// reach the old one after it was retired, and miss a key that was
    /// there throughout.)
    pub(crate) fn replace(
        &self,
        slot: &Slot<'t, K, V, M>,
        item: M::Item,
        hash: u64,
        domain: &Domain,
    ) -> Replaced<'t, K, V, M> {
        let b = slot.bucket;
        // SAFETY: a published slot of our locked chain.
        let item = match unsafe { M::replace_in_place(b.item(slot.index), item) } {
            Ok(old) => {
                let fresh = Slot {
                    bucket: b,
                    index: slot.index,
                };
                return Replaced {
                    old,
                    fresh,
                    left_empty: false,
                };
            }
            Err(item) => item,
        };
        let mut meta = b.meta.load(Ordering::Relaxed);
        let mut waiting = false;
        let mut tail_emptied = false;
        let fresh = if let Some(j) = b.free_slot(&mut meta, domain, &mut waiting) {
            // SAFETY: a free slot, as in `insert_new`.
            unsafe { b.item(j).write(item) };
            let swapped = retired(with_tag(meta, j, tag_of(hash)), slot.index);
            // Release: the new item is written before its tag is seen; one
            // store, so readers see the old entry or the new one.
            b.meta.store(swapped, Ordering::Release);
            Slot {
                bucket: b,
                index: j,
            }
        } else {
            // Publish the new entry first, further down the chain, so the
            // key never looks absent.
            let (_, fresh, emptied) = self.insert_from(b, item, tag_of(hash), domain);
            tail_emptied = emptied;
            let meta = b.meta.load(Ordering::Relaxed);
            b.meta.store(retired(meta, slot.index), Ordering::Release);
            fresh
        };
        Self::stamp(b, domain);
        Replaced {
            // SAFETY: the old slot is initialized and not written again
            // before a grace period; a bitwise copy of what the caller
            // retires.
            old: unsafe { b.item(slot.index).read() },
            left_empty: tail_emptied || is_empty_middle_line(b, self.head),
            fresh,
        }
    }

    /// Unpublishes `slot` and returns its item, which the caller retires
    /// (it stays readable for the caller's section), and whether that left
    /// an overflow line other than the last with no live entry, for the
    /// caller to unlink
    /// ([`trim_empty_line`](Self::trim_empty_line)).
    #[inline]
    pub(crate) fn remove(
        &self,
        slot: &Slot<'t, K, V, M>,
        domain: &Domain,
    ) -> (*const M::Item, bool) {
        let b = slot.bucket;
        let meta = b.meta.load(Ordering::Relaxed);
        // Release: keeps this store in order with our earlier ones for
        // readers (they need no data from it).
        b.meta.store(retired(meta, slot.index), Ordering::Release);
        Self::stamp(b, domain);
        if !std::ptr::eq(b, self.head) {
            self.refresh_filter();
        }
        (b.item(slot.index), is_empty_middle_line(b, self.head))
    }

    /// Unlinks the first overflow line of the chain that holds no live
    /// entry (the spare tail too, if it is the only one), and returns it for the caller to queue once the lock is
    /// released (readers may still be in it, and may hold references into
    /// its retired slots; its link to the next line stays, so a reader in
    /// it goes on to the rest of the chain). Called when a removal or a
    /// replacement has just emptied an overflow line that is not the tail
    /// (then it is the first empty one: only the tail may be empty too),
    /// and by `clear` until none is left, so chains that grew while slots waited for a
    /// grace period (a hot key's inline updates move down the chain)
    /// shrink back at once, and no write walks a chain looking for one.
    pub(crate) fn trim_empty_line(&self) -> Option<RetiredLine<K, V, M>> {
        let mut prev = self.head;
        loop {
            let line = prev.overflow.load(Ordering::Relaxed);
            if line.is_null() {
                return None;
            }
            // SAFETY: linked lines of our locked chain are live; `line` is
            // the pointer from `Box::into_raw` (full provenance).
            let b = unsafe { &*line };
            if !any_live(b.meta.load(Ordering::Relaxed), M::SLOTS) {
                let next = b.overflow.load(Ordering::Relaxed);
                // Release: readers that take this link must see `next`
                // built; it was built by a lock holder before us (the lock
                // orders its writes before ours).
                prev.overflow.store(next, Ordering::Release);
                return Some(RetiredLine(line));
            }
            prev = b;
        }
    }

    /// Unlinks every overflow line of the chain that holds no live entry,
    /// except the last (the spare), if `left_empty` (a write just left
    /// one); returns them as [`trim_empty_line`](Self::trim_empty_line)
    /// does. Usually one line, two when a replacement both emptied its line
    /// and grew the chain past an empty tail.
    pub(crate) fn trim_empty_lines(&self, left_empty: bool) -> Vec<RetiredLine<K, V, M>> {
        let mut trimmed = Vec::new();
        if !left_empty {
            return trimmed;
        }
        let mut prev = self.head;
        loop {
            let line = prev.overflow.load(Ordering::Relaxed);
            if line.is_null() {
                return trimmed;
            }
            // SAFETY: as in `trim_empty_line`.
            let b = unsafe { &*line };
            let next = b.overflow.load(Ordering::Relaxed);
            if !any_live(b.meta.load(Ordering::Relaxed), M::SLOTS) && !next.is_null() {
                // Release: as in `trim_empty_line`.
                prev.overflow.store(next, Ordering::Release);
                trimmed.push(RetiredLine(line));
            } else {
                prev = b;
            }
        }
    }

    /// Unpublishes the whole chain, handing each live item to `retire`.
    pub(crate) fn drain(&self, domain: &Domain, mut retire: impl FnMut(*const M::Item)) {
        let mut b = self.head;
        loop {
            let mut meta = b.meta.load(Ordering::Relaxed);
            let live: Vec<usize> = (0..M::SLOTS).filter(|&i| is_live(meta, i)).collect();
            if !live.is_empty() {
                for &i in &live {
                    meta = retired(meta, i);
                }
                b.meta.store(meta, Ordering::Release);
                Self::stamp(b, domain);
                for i in live {
                    retire(b.item(i));
                }
            }
            match b.overflow() {
                Some(next) => b = next,
                None => break,
            }
        }
        // After the retirements: nothing live is left in the overflow lines.
        self.refresh_filter();
        // Relaxed: see `summary`'s module docs. Nothing in the chain is
        // live any more.
        self.summary.store(0, Ordering::Relaxed);
    }

    /// Calls `f` on every live item of the chain, with its tag (the lock
    /// holder's view).
    fn for_each_live(&self, mut f: impl FnMut(*const M::Item, u8)) {
        let mut b = self.head;
        loop {
            let meta = b.meta.load(Ordering::Relaxed);
            for i in 0..M::SLOTS {
                if is_live(meta, i) {
                    f(b.item(i), tag_at(meta, i));
                }
            }
            match b.overflow() {
                Some(next) => b = next,
                None => return,
            }
        }
    }

    /// Copies this chain's live entries into `next` (this is bucket `index`
    /// of `table`) and marks the bucket moved. The chain itself stays
    /// intact for readers already in it; the copies own what the entries
    /// own (the old slots are never dropped). One pass over the chain.
    /// Growing, the two targets belong to this source alone and nobody
    /// enters them before it is marked moved: they are filled without
    /// their locks ([`FreshChain`]). Shrinking, the one target also takes
    /// another source's entries and may already be open, so it is locked
    /// (under the source's lock: a target is locked only that way or after
    /// its sources moved, so no deadlock).
    ///
    /// Unwind-safe: the only user code that runs is `Hash`, for inline
    /// entries of a table that grows (a shrink needs no hash: every entry
    /// goes to the one target, with the tag it has; boxed entries store
    /// their hash). It runs in a first pass, before any target is touched,
    /// so a panic there leaves the bucket unmoved and the targets as they
    /// were: the bucket is migrated again later, whole.
    pub(crate) fn migrate_to(
        &self,
        table: &Table<K, V, M>,
        index: usize,
        next: &Table<K, V, M>,
        rehash: &impl Fn(&K) -> u64,
        domain: &Domain,
    ) {
        debug_assert!(!self.is_moved());
        let mut targets = table.targets(index, next);
        let low = targets.next().expect("every bucket has a target");
        let high = targets.next();
        assert!(
            targets.next().is_none(),
            "a resize doubles or halves the table"
        );
        // Growing, which entries go to the high target: the user's `Hash`
        // for inline entries, all of it before the first copy.
        let mut sides = Sides::default();
        if high.is_some() && M::REHASHES {
            self.for_each_live(|item, _| {
                // SAFETY: a live item of a chain whose lock we hold.
                let h = unsafe { M::hash(item, rehash) };
                sides.push(next.index(h) != low);
            });
        }
        // Before the targets are written: the entries' misses then overlap
        // each other rather than queue behind the copies.
        self.head.prefetch_entries();
        match high {
            Some(high) => {
                // Growing: both targets belong to this bucket alone, and
                // nobody enters them before it is marked moved below.
                let mut chains = [next.fresh_chain(low), next.fresh_chain(high)];
                let mut nth = 0;
                self.for_each_live(|item, tag| {
                    let to_high = if M::REHASHES {
                        sides.get(nth)
                    } else {
                        // SAFETY: a live item of a chain whose lock we
                        // hold; a stored hash (no user code).
                        next.index(unsafe { M::hash(item, rehash) }) != low
                    };
                    nth += 1;
                    // SAFETY: as above; a bitwise copy that takes over
                    // ownership (the old slot is never dropped or reused:
                    // its table is freed without touching items).
                    chains[usize::from(to_high)].push(unsafe { item.read() }, tag);
                });
                let [low_chain, high_chain] = chains;
                low_chain.publish();
                high_chain.publish();
            }
            None => {
                // Shrinking: the target also takes the entries of another
                // source, which may have moved already (the target is then
                // open to readers and writers): lock it.
                let lock = next.lock_at(low);
                self.for_each_live(|item, tag| {
                    // SAFETY: a live item of a chain whose lock we hold,
                    // copied bitwise to take over ownership, as when
                    // growing.
                    let _ = lock.insert_from(lock.head, unsafe { item.read() }, tag, domain);
                });
            }
        }
        // Every bit before "moved": a lookup that still finds a clear bit
        // read the summary while this chain held all the bucket's entries.
        // Relaxed, as every summary store (the release below orders it for
        // writers that see "moved" and then insert in the next table).
        self.summary.store(EVERY_TAG, Ordering::Relaxed);
        let m = self.head.meta.load(Ordering::Relaxed);
        // Release: the copies are visible before anyone sees "moved".
        self.head.meta.store(m | MOVED, Ordering::Release);
    }
}

/// The chain of a growing table's target bucket while its source
/// migrates: no reader or writer enters it before the source is marked
/// moved, so it is filled with plain writes, without its lock and without
/// the free-slot search of an insert, and published once at the end.
struct FreshChain<'t, K, V, M: Layout<K, V>> {
    head: &'t Bucket<K, V, M>,
    summary: &'t Summary,
    /// The line being filled and the tags given to its slots so far.
    tail: &'t Bucket<K, V, M>,
    tail_tags: u64,
    filled: usize,
    /// The head's tags once it is full (its word is stored last).
    head_tags: u64,
    /// The head's overflow filter and the bucket's summary, accumulated.
    filter: u64,
    summary_bits: u16,
}

impl<'t, K, V, M: Layout<K, V>> FreshChain<'t, K, V, M> {
    /// Appends an entry tagged `tag`.
    fn push(&mut self, item: M::Item, tag: u8) {
        if self.filled == M::SLOTS {
            let fresh = Box::into_raw(Bucket::<K, V, M>::new_overflow());
            self.seal_tail();
            // Release, like every link: the new line is complete before a
            // reader could reach it.
            self.tail.overflow.store(fresh, Ordering::Release);
            // SAFETY: just linked; freed only with the table.
            self.tail = unsafe { &*fresh };
            self.tail_tags = 0;
            self.filled = 0;
        }
        // SAFETY: a slot of a line that nobody else can see yet, written
        // once (`filled` only grows).
        unsafe { self.tail.item(self.filled).write(item) };
        self.tail_tags = with_tag(self.tail_tags, self.filled, tag);
        self.filled += 1;
        if !std::ptr::eq(self.tail, self.head) {
            self.filter |= Bucket::<K, V, M>::filter_bit(tag);
        }
        self.summary_bits |= tag_bit(tag);
    }

    /// Done with the tail line: an overflow line's tags are stored now
    /// (release, like every store of `meta`: its slots are written first);
    /// the head's are kept for `publish`, which adds the filter.
    fn seal_tail(&mut self) {
        if std::ptr::eq(self.tail, self.head) {
            self.head_tags = self.tail_tags;
        } else {
            self.tail.meta.store(self.tail_tags, Ordering::Release);
        }
    }

    /// Stores the tags, overflow filter and summary. The caller then
    /// marks the source moved (release), which makes all of it visible to
    /// whoever enters the bucket after that.
    fn publish(mut self) {
        self.seal_tail();
        // Relaxed, as every summary store (see `summary`'s module docs).
        self.summary.store(self.summary_bits, Ordering::Relaxed);
        // Release: the slots are written before their tags are seen.
        self.head
            .meta
            .store(self.head_tags | self.filter, Ordering::Release);
    }
}

/// One bit per live entry of a chain being split by a grow: whether it
/// goes to the high target. A chain rarely holds more than a few entries;
/// past 128 (a hasher that sends many keys to one bucket) the rest go to
/// the heap.
#[derive(Default)]
struct Sides {
    first: u128,
    rest: Vec<bool>,
    len: usize,
}

impl Sides {
    fn push(&mut self, high: bool) {
        if self.len < 128 {
            self.first |= u128::from(high) << self.len;
        } else {
            self.rest.push(high);
        }
        self.len += 1;
    }

    fn get(&self, i: usize) -> bool {
        if i < 128 {
            self.first >> i & 1 != 0
        } else {
            self.rest[i - 128]
        }
    }
}

/// An overflow line unlinked from its chain, to be queued for reclamation
/// after the bucket lock is released. Dropping it does not free it.
pub(crate) struct RetiredLine<K, V, M: Layout<K, V>>(*mut Bucket<K, V, M>);

impl<K, V, M: Layout<K, V>> RetiredLine<K, V, M>
where
    K: Send + Sync + 'static,
    V: Send + Sync + 'static,
{
    /// Queues the line; it is freed after a grace period.
    pub(crate) fn retire(self, domain: &Domain) {
        // SAFETY: the line came from `Box::into_raw`, was unlinked under
        // the bucket lock (unreachable for new readers and writers), owns
        // nothing that is not retired already, and is queued once.
        unsafe { domain.rcu_reclaim_queue_raw(self.0) };
    }
}

/// `n` empty head buckets: an all-zero line is an empty bucket (no tags,
/// no overflow line; slots are uninitialized anyway).
#[cfg(not(loom))]
fn empty_buckets<K, V, M: Layout<K, V>>(n: usize, pages: Pages) -> ZeroedArray<Bucket<K, V, M>> {
    // SAFETY: all-zero std atomics and pointers are valid (0 and null), and
    // the slots are `MaybeUninit`.
    unsafe { ZeroedArray::new(n, pages) }
}

#[cfg(loom)]
fn empty_buckets<K, V, M: Layout<K, V>>(n: usize, _pages: Pages) -> ZeroedArray<Bucket<K, V, M>> {
    ZeroedArray::from_fn(n, Bucket::new)
}

/// A bucket array, and the state of its migration to the next table.
pub(crate) struct Table<K, V, M: Layout<K, V>> {
    buckets: ZeroedArray<Bucket<K, V, M>>,
    /// One tag summary per bucket ([`summary`](super::summary)).
    summaries: ZeroedArray<Summary>,
    mask: usize,
    /// The table being migrated to (null when no resize is under way).
    pub(crate) next: AtomicPtr<Table<K, V, M>>,
    /// Next bucket index a helper may claim for migration.
    pub(crate) claimed: AtomicUsize,
    /// Buckets migrated so far.
    pub(crate) moved: AtomicUsize,
    /// Set when a helper unwound (a panicking `Hash`) with buckets of its
    /// chunk left unmoved: helpers then claim chunks round the table again
    /// until every bucket has moved, instead of stopping once all are
    /// claimed.
    pub(crate) abandoned: AtomicBool,
}

impl<K, V, M: Layout<K, V>> Table<K, V, M> {
    /// A table of `buckets` head buckets (a power of two), on pages backed
    /// as `pages` says.
    pub(crate) fn new(buckets: usize, pages: Pages) -> Self {
        debug_assert!(buckets.is_power_of_two());
        Table {
            buckets: empty_buckets(buckets, pages),
            summaries: empty_summaries(buckets, pages),
            mask: buckets - 1,
            next: AtomicPtr::new(std::ptr::null_mut()),
            claimed: AtomicUsize::new(0),
            moved: AtomicUsize::new(0),
            abandoned: AtomicBool::new(false),
        }
    }

    #[inline(always)]
    pub(crate) fn len(&self) -> usize {
        self.mask + 1
    }

    /// Moves a table made on 4 KiB pages into huge pages, in the
    /// background, once `after` has passed and unless the table is
    /// resized first (see [`zeroed`](super::zeroed)).
    pub(crate) fn collapse_in_background(&self, after: std::time::Duration) {
        self.buckets.collapse_in_background(after);
        self.summaries.collapse_in_background(after);
    }

    /// Stops a collapse into huge pages that has not finished: the table
    /// is being resized.
    pub(crate) fn stop_collapsing(&self) {
        self.buckets.stop_collapsing();
        self.summaries.stop_collapsing();
    }

    /// Bytes of the bucket array on huge pages, and of the huge pages that
    /// fit in it.
    #[cfg(all(test, target_os = "linux", not(miri), not(loom)))]
    pub(crate) fn huge_page_bytes(&self) -> (usize, usize) {
        self.buckets.huge_page_bytes()
    }

    /// How the bucket array's pages were mapped (`None`: not mapped).
    #[cfg(all(test, target_os = "linux", not(miri), not(loom)))]
    pub(crate) fn pages(&self) -> Option<Pages> {
        self.buckets.pages()
    }

    #[inline(always)]
    pub(crate) fn index(&self, hash: u64) -> usize {
        hash as usize & self.mask
    }

    #[inline(always)]
    pub(crate) fn bucket(&self, hash: u64) -> &Bucket<K, V, M> {
        // SAFETY: `mask` is `buckets.len() - 1`, a power of two minus one.
        unsafe { self.buckets.get_unchecked(self.index(hash)) }
    }

    pub(crate) fn bucket_at(&self, index: usize) -> &Bucket<K, V, M> {
        &self.buckets[index]
    }

    /// The tag summary of the bucket that owns `hash`.
    #[inline(always)]
    pub(crate) fn summary(&self, hash: u64) -> &Summary {
        // SAFETY: as in `bucket`: the two arrays have the same length.
        unsafe { self.summaries.get_unchecked(self.index(hash)) }
    }

    /// Whether the bucket that owns `hash` may hold its key, by the
    /// bucket's tag summary (false: the key is not in this table's bucket,
    /// nor, unless the bucket moved, anywhere). Lookups and removals ask
    /// first, so most absent keys cost no read of the bucket line.
    #[inline(always)]
    pub(crate) fn may_hold(&self, hash: u64) -> bool {
        may_hold(self.summary(hash), tag_of(hash))
    }

    /// Starts loading the summary of the bucket that owns `hash`, which a
    /// write updates under the bucket lock: its miss then overlaps the
    /// bucket line's instead of following it.
    #[inline(always)]
    pub(crate) fn prefetch_summary(&self, hash: u64) {
        if !cfg!(loom) {
            prefetch_line(std::ptr::from_ref(self.summary(hash)).cast());
        }
    }

    /// Takes the lock of bucket `index`.
    pub(crate) fn lock_at(&self, index: usize) -> BucketLock<'_, K, V, M> {
        self.buckets[index].lock(&self.summaries[index])
    }

    /// Bucket `index`, empty and not yet reachable, as a chain to fill
    /// (the target of a growing migration).
    fn fresh_chain(&self, index: usize) -> FreshChain<'_, K, V, M> {
        let head = &self.buckets[index];
        debug_assert!(
            head.meta.load(Ordering::Relaxed) == 0 && head.overflow().is_none(),
            "a growing migration's target starts empty"
        );
        FreshChain {
            head,
            summary: &self.summaries[index],
            tail: head,
            tail_tags: 0,
            filled: 0,
            head_tags: 0,
            filter: 0,
            summary_bits: 0,
        }
    }

    /// Takes the lock of the bucket that owns `hash`.
    #[inline]
    pub(crate) fn lock_bucket_of(&self, hash: u64) -> BucketLock<'_, K, V, M> {
        self.bucket(hash).lock(self.summary(hash))
    }

    /// The next table, if a resize is under way.
    #[inline]
    pub(crate) fn next(&self) -> Option<&Table<K, V, M>> {
        // SAFETY: the next table is freed only after it was itself replaced
        // and a grace period passed; acquire pairs with the release that
        // linked it fully built.
        unsafe { self.next.load(Ordering::Acquire).as_ref() }
    }

    /// Indices of the next table's buckets that receive entries from our
    /// bucket `index`.
    pub(crate) fn targets(
        &self,
        index: usize,
        next: &Table<K, V, M>,
    ) -> impl Iterator<Item = usize> {
        let (ours, theirs) = (self.len(), next.len());
        let step = if theirs > ours { ours } else { theirs };
        let first = index & next.mask;
        let count = if theirs > ours { theirs / ours } else { 1 };
        (0..count).map(move |k| first + k * step)
    }

    /// Panics unless every bucket's summary holds the bit of every live
    /// tag in its chain, or every bit if the bucket moved (the invariant
    /// in [`summary`](super::summary)). For tests, with no writer running.
    #[cfg(all(test, not(loom)))]
    pub(crate) fn check_summaries(&self) {
        for (i, head) in self.buckets.iter().enumerate() {
            let summary = self.summaries[i].load(Ordering::Relaxed);
            if head.is_moved() {
                assert_eq!(summary, EVERY_TAG, "moved bucket {i}");
                continue;
            }
            let mut b = head;
            loop {
                let meta = b.meta.load(Ordering::Relaxed);
                for slot in 0..M::SLOTS {
                    let tag = tag_at(meta, slot);
                    assert!(
                        !is_live(meta, slot) || summary & tag_bit(tag) != 0,
                        "bucket {i}: tag {tag:#x} missing from summary {summary:#06x}"
                    );
                }
                match b.overflow() {
                    Some(next) => b = next,
                    None => break,
                }
            }
        }
    }

    /// Drops what the live entries own (only when nothing else can reach
    /// them: the map is being dropped). Retired entries were handed to the
    /// reclamation queue already.
    pub(crate) fn drop_entries(&mut self) {
        for head in self.buckets.iter() {
            if head.meta.load(Ordering::Relaxed) & MOVED != 0 {
                continue;
            }
            let mut b = head;
            loop {
                let meta = b.meta.load(Ordering::Relaxed);
                for i in 0..M::SLOTS {
                    if is_live(meta, i) {
                        // SAFETY: `&mut self` on a dropped map: nothing can
                        // reach the entry, and a live slot is dropped once.
                        unsafe { M::drop_live(b.item(i)) };
                    }
                }
                b.meta.store(without_fields(meta), Ordering::Relaxed);
                match b.overflow() {
                    Some(next) => b = next,
                    None => break,
                }
            }
        }
    }
}

impl<K, V, M: Layout<K, V>> Drop for Table<K, V, M> {
    /// Frees the overflow lines; entries are not this table's to drop
    /// (they moved on, were retired, or `drop_entries` ran).
    fn drop(&mut self) {
        for head in self.buckets.iter_mut() {
            let mut p = ptr_mut(&mut head.overflow);
            while !p.is_null() {
                // SAFETY: overflow lines come from `Box::into_raw` and are
                // linked from exactly one place.
                let mut b = unsafe { Box::from_raw(p) };
                p = ptr_mut(&mut b.overflow);
            }
        }
    }
}

// SAFETY: a line is only freed (dropped) on the reclaiming thread once
// nothing reaches it; its items are `K`/`V` values or pointers to entries
// that are `Send`.
unsafe impl<K: Send + Sync, V: Send + Sync, M: Layout<K, V>> Send for Bucket<K, V, M> {}

// SAFETY: a table hands out `&K`/`&V` to readers on any thread (needs
// `Sync`) and its entries are dropped on whichever thread reclaims them
// (needs `Send`); the raw pointers and cells inside are owned by the table
// and written only under bucket locks (see the module docs).
unsafe impl<K: Send + Sync, V: Send + Sync, M: Layout<K, V>> Send for Table<K, V, M> {}
// SAFETY: as above.
unsafe impl<K: Send + Sync, V: Send + Sync, M: Layout<K, V>> Sync for Table<K, V, M> {}
