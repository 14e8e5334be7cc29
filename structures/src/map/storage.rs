//! How a bucket line holds its entries: [`Boxed`] (any key and value: the
//! line holds pointers to immutable heap entries) or [`Inline`] (`Copy`
//! keys and values: the line holds the pairs themselves, so a lookup reads
//! one cache line instead of two).
//!
//! Both share one discipline: a published slot is never written again
//! until a grace period after it was unpublished, so a reader's `&K`/`&V`
//! into a slot stays valid for its whole read-side section. Inline needs
//! `Copy` because a resize copies the pairs into the next table while
//! readers may still use the old copies: a value with interior mutability
//! (an atomic counter, say) would fork into two, and updates made through
//! the old copy would be lost. `Copy` types cannot hold an `UnsafeCell`.

use super::meta::MAX_SLOTS;
// Slots are plain memory viewed atomically (loom does not model them).
use std::sync::atomic::{AtomicPtr, Ordering};
use urcu_reclaim::Domain;

/// Entries on the heap, one allocation each: for any `K` and `V`. The
/// default.
///
/// ```
/// use urcu_structures::{Boxed, RcuHashMap};
///
/// // The default storage: `RcuHashMap<K, V>` is `RcuHashMap<K, V, ahash::RandomState, Boxed>`.
/// let m: RcuHashMap<String, Vec<u8>, ahash::RandomState, Boxed> = RcuHashMap::new();
/// m.pin().insert("k".to_string(), vec![1, 2]);
/// assert_eq!(m.get_cloned("k"), Some(vec![1, 2]));
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct Boxed;

/// Entries stored in the bucket line itself: for `Copy` keys and values of
/// at most 48 bytes together (up to seven per line). A lookup touches one
/// cache line; an insert allocates nothing. Choose it with
/// [`MapBuilder::inline`](super::MapBuilder::inline).
///
/// ```
/// use urcu_structures::{Inline, RcuHashMap};
///
/// let routes: RcuHashMap<u32, u64, ahash::RandomState, Inline> =
///     RcuHashMap::builder().inline().capacity(1024).build();
/// let m = routes.pin();
/// m.insert(0x0a00_0000, 7);
/// assert_eq!(m.get(&0x0a00_0000), Some(&7));
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct Inline;

/// Where a map keeps its entries: [`Boxed`] or [`Inline`]. Sealed.
///
/// ```
/// use urcu_structures::{MapStorage, RcuHashMap};
///
/// // Code generic over the storage:
/// fn keys<M: MapStorage<u64, u64>>(m: &RcuHashMap<u64, u64, ahash::RandomState, M>) -> usize {
///     m.pin().iter().count()
/// }
/// let boxed: RcuHashMap<u64, u64> = (0..3).map(|i| (i, i)).collect();
/// let inline = RcuHashMap::<u64, u64>::builder().inline().build();
/// inline.pin().insert(1, 1);
/// assert_eq!((keys(&boxed), keys(&inline)), (3, 1));
/// ```
pub trait MapStorage<K, V>: private::Layout<K, V> {}

impl<K: Send + Sync + 'static, V: Send + Sync + 'static> MapStorage<K, V> for Boxed {}
impl<K: Copy + Send + Sync + 'static, V: Copy + Send + Sync + 'static> MapStorage<K, V> for Inline {}

/// Loads a boxed slot's entry pointer. Readers load it while a writer may
/// swap it ([`Boxed`] replaces in place), so the load is atomic; acquire
/// pairs with the release of the store or swap that published the entry.
///
/// # Safety
/// `item` is an initialized boxed slot of a live line.
#[inline(always)]
unsafe fn load_entry<K, V>(item: *const *mut Entry<K, V>) -> *mut Entry<K, V> {
    // SAFETY: the caller's contract; `AtomicPtr` has the layout of a
    // pointer, and the slot is only ever written atomically or while no
    // reader can look at it (free slots).
    unsafe { AtomicPtr::from_ptr(item.cast_mut()) }.load(Ordering::Acquire)
}

/// Asks the CPU to start loading the cache line at `p` (a hint: it never
/// faults, so `p` may even be freed memory; a no-op off x86-64 and under
/// Miri).
#[inline(always)]
pub(crate) fn prefetch_line(p: *const u8) {
    #[cfg(all(target_arch = "x86_64", not(miri)))]
    // SAFETY: `prefetcht0` reads nothing architecturally and cannot fault,
    // whatever the address; SSE is part of the x86-64 baseline.
    unsafe {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        _mm_prefetch::<_MM_HINT_T0>(p.cast());
    }
    #[cfg(not(all(target_arch = "x86_64", not(miri))))]
    let _ = p;
}

/// A boxed entry: key, value and the full hash (so that a resize need not
/// hash keys again).
pub struct Entry<K, V> {
    pub(crate) hash: u64,
    pub(crate) key: K,
    pub(crate) value: V,
}

/// Bytes of a bucket line available for slots.
pub(crate) const LINE_DATA: usize = 48;

pub(crate) mod private {
    use super::*;

    /// The slot format of a storage (crate-internal; [`MapStorage`] is sealed).
    pub trait Layout<K, V>: Send + Sync + Sized + 'static {
        /// What one slot holds.
        type Item;
        /// Slots per bucket line.
        const SLOTS: usize;
        /// The table grows when the average chain holds more than this
        /// percentage of a line's slots.
        const GROW_PERCENT: usize;

        /// A slot's contents for a new entry.
        fn make(hash: u64, key: K, value: V) -> Self::Item;

        /// The key of an item just made by [`make`](Self::make).
        ///
        /// # Safety
        /// `item` came from `make` and is neither published nor retired
        /// (the caller owns it).
        unsafe fn key_of(item: &Self::Item) -> &K;

        /// Whether the item holds `hash`'s key, as judged by `eq`.
        ///
        /// # Safety
        /// `item` points to a published, initialized slot that stays
        /// allocated for `'a` (a read-side section, or the bucket lock).
        unsafe fn matches(item: *const Self::Item, hash: u64, eq: impl FnMut(&K) -> bool) -> bool;

        /// The key and value in a slot.
        ///
        /// # Safety
        /// As for [`matches`](Self::matches).
        unsafe fn get<'a>(item: *const Self::Item) -> (&'a K, &'a V);

        /// The key and value in a slot if it holds `hash`'s key as judged
        /// by `eq` (a reader's lookup: one read of the slot).
        ///
        /// # Safety
        /// As for [`matches`](Self::matches).
        unsafe fn find<'a>(
            item: *const Self::Item,
            hash: u64,
            eq: impl FnMut(&K) -> bool,
        ) -> Option<(&'a K, &'a V)>;

        /// The hash of the item's key (`rehash` computes it if the item
        /// does not store it).
        ///
        /// # Safety
        /// As for [`matches`](Self::matches).
        unsafe fn hash(item: *const Self::Item, rehash: &impl Fn(&K) -> u64) -> u64;

        /// Whether [`hash`](Self::hash) runs the user's `Hash` (which may
        /// panic) rather than reading a stored hash.
        const REHASHES: bool;

        /// Whether [`hash`](Self::hash) reads memory outside the slot (a
        /// boxed entry: a cache miss of its own, worth prefetching).
        const HASH_OFF_LINE: bool = false;

        /// Starts loading what [`hash`](Self::hash) will read.
        ///
        /// # Safety
        /// As for [`matches`](Self::matches).
        #[inline(always)]
        unsafe fn prefetch(_item: *const Self::Item) {}

        /// Replaces a published item in place, atomically for readers, and
        /// returns the old one; or gives `new` back where the format cannot
        /// (inline pairs are too wide for one atomic store).
        ///
        /// # Safety
        /// `item` is a published slot of a chain whose lock the caller holds.
        unsafe fn replace_in_place(
            item: *mut Self::Item,
            new: Self::Item,
        ) -> Result<Self::Item, Self::Item>;

        /// Hands what an unpublished item owns to the reclamation queue.
        ///
        /// # Safety
        /// The item was just unpublished under its bucket lock, and is
        /// retired once.
        unsafe fn retire(item: *const Self::Item, domain: &Domain);

        /// Drops what a live item owns, at once.
        ///
        /// # Safety
        /// Nothing can reach the item any more (the map is being dropped,
        /// or the item was never published), and it is dropped once.
        unsafe fn drop_live(item: *mut Self::Item);
    }
}

impl<K: Send + Sync + 'static, V: Send + Sync + 'static> private::Layout<K, V> for Boxed {
    type Item = *mut Entry<K, V>;
    /// Six pointers fill the line's 48 bytes.
    const SLOTS: usize = LINE_DATA / std::mem::size_of::<*mut Entry<K, V>>();
    /// Lines fill to 80 % of their slots: a lookup already pays a miss for
    /// the entry, and the entries (32 bytes each) dominate the memory;
    /// fuller lines keep bytes per entry below papaya's.
    const GROW_PERCENT: usize = 80;
    const REHASHES: bool = false;
    const HASH_OFF_LINE: bool = true;

    fn make(hash: u64, key: K, value: V) -> Self::Item {
        Box::into_raw(Box::new(Entry { hash, key, value }))
    }

    #[inline(always)]
    unsafe fn key_of(item: &Self::Item) -> &K {
        // SAFETY: the caller's contract: a live entry from `Box::into_raw`
        // that the caller owns.
        unsafe { &(**item).key }
    }

    #[inline(always)]
    unsafe fn matches(item: *const Self::Item, hash: u64, eq: impl FnMut(&K) -> bool) -> bool {
        // SAFETY: the caller's contract.
        unsafe { Self::find(item, hash, eq) }.is_some()
    }

    #[inline(always)]
    unsafe fn get<'a>(item: *const Self::Item) -> (&'a K, &'a V) {
        // SAFETY: the caller's contract; a published entry stays allocated
        // until a grace period after it is unpublished or replaced.
        let e = unsafe { &*load_entry(item) };
        (&e.key, &e.value)
    }

    #[inline(always)]
    unsafe fn find<'a>(
        item: *const Self::Item,
        hash: u64,
        mut eq: impl FnMut(&K) -> bool,
    ) -> Option<(&'a K, &'a V)> {
        // SAFETY: as in `get`.
        let e = unsafe { &*load_entry(item) };
        (e.hash == hash && eq(&e.key)).then_some((&e.key, &e.value))
    }

    unsafe fn hash(item: *const Self::Item, _: &impl Fn(&K) -> u64) -> u64 {
        // SAFETY: as in `get`.
        unsafe { (*load_entry(item)).hash }
    }

    #[inline(always)]
    unsafe fn prefetch(item: *const Self::Item) {
        // SAFETY: the caller's contract: an initialized, published slot.
        let entry = unsafe { load_entry(item) };
        prefetch_line(entry.cast());
    }

    unsafe fn replace_in_place(
        item: *mut Self::Item,
        new: Self::Item,
    ) -> Result<Self::Item, Self::Item> {
        // SAFETY: the slot is an aligned, initialized pointer word, and
        // every concurrent access to a published boxed slot is atomic.
        let slot = unsafe { AtomicPtr::from_ptr(item) };
        // AcqRel: release publishes the new entry to readers' acquire
        // loads; acquire takes over the old one.
        Ok(slot.swap(new, Ordering::AcqRel))
    }

    unsafe fn retire(item: *const Self::Item, domain: &Domain) {
        // SAFETY: the entry came from `Box::into_raw`, is unreachable for
        // new readers (its tag is cleared, or its slot points elsewhere),
        // and is retired once.
        unsafe { domain.rcu_reclaim_queue_raw(*item) };
    }

    unsafe fn drop_live(item: *mut Self::Item) {
        // SAFETY: from `Box::into_raw`; nothing else can reach it.
        drop(unsafe { Box::from_raw(*item) });
    }
}

impl<K, V> private::Layout<K, V> for Inline
where
    K: Copy + Send + Sync + 'static,
    V: Copy + Send + Sync + 'static,
{
    type Item = (K, V);
    /// Two entries per three-slot line: few chains spill to a second line,
    /// so most lookups read one line.
    const GROW_PERCENT: usize = 67;
    /// An inline pair has no room for its hash (a third slot per line).
    const REHASHES: bool = true;
    const SLOTS: usize = {
        let size = std::mem::size_of::<(K, V)>();
        assert!(
            size <= LINE_DATA && std::mem::align_of::<(K, V)>() <= 8,
            "Inline storage needs a key and value of at most 48 bytes together, aligned to at most 8: use Boxed"
        );
        if size == 0 || LINE_DATA / size >= MAX_SLOTS {
            MAX_SLOTS
        } else {
            LINE_DATA / size
        }
    };

    #[inline(always)]
    fn make(_: u64, key: K, value: V) -> Self::Item {
        (key, value)
    }

    #[inline(always)]
    unsafe fn key_of(item: &Self::Item) -> &K {
        &item.0
    }

    #[inline(always)]
    unsafe fn matches(item: *const Self::Item, _: u64, mut eq: impl FnMut(&K) -> bool) -> bool {
        // SAFETY: the caller's contract: an initialized slot that no writer
        // touches while the caller may read it.
        eq(unsafe { &(*item).0 })
    }

    #[inline(always)]
    unsafe fn get<'a>(item: *const Self::Item) -> (&'a K, &'a V) {
        // SAFETY: as in `matches`.
        let pair = unsafe { &*item };
        (&pair.0, &pair.1)
    }

    #[inline(always)]
    unsafe fn find<'a>(
        item: *const Self::Item,
        _: u64,
        mut eq: impl FnMut(&K) -> bool,
    ) -> Option<(&'a K, &'a V)> {
        // SAFETY: as in `matches`.
        let pair = unsafe { &*item };
        eq(&pair.0).then_some((&pair.0, &pair.1))
    }

    unsafe fn replace_in_place(
        _: *mut Self::Item,
        new: Self::Item,
    ) -> Result<Self::Item, Self::Item> {
        Err(new)
    }

    unsafe fn hash(item: *const Self::Item, rehash: &impl Fn(&K) -> u64) -> u64 {
        // SAFETY: as in `matches`.
        rehash(unsafe { &(*item).0 })
    }

    unsafe fn retire(_: *const Self::Item, _: &Domain) {
        // A `Copy` pair owns nothing; its slot waits for a grace period
        // before reuse (the bucket's ticket).
    }

    unsafe fn drop_live(_: *mut Self::Item) {}
}
