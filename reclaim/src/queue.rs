//! The per-thread reclamation ring: an array of words, one producer (the
//! owning thread), drained by whoever holds the drain lock.
//!
//! # Encoding (liburcu's `defer_rcu`)
//!
//! An entry is a drop function `f` and a pointer `p`. The producer remembers
//! the last function it wrote, so a stream of one type costs one word each:
//!
//! | case                                   | words          |
//! |----------------------------------------|----------------|
//! | `f` same as last, `p` even and nonzero | `p`            |
//! | `f` changed, `f` and `p` even, `p != 0`| `f \| 1`, `p`  |
//! | anything else (odd `p` or odd `f`)     | `0`, `f`, `p`  |
//!
//! `0` is the escape marker (no real entry pointer is null). The ring counts
//! as full three words early so the longest form always fits.
//!
//! # Positions
//!
//! `head` and `tail` count words since creation and wrap around `usize`;
//! a slot is `position & mask`. `head` is written only by the owner, `tail`
//! only under the drain lock.

use crate::sync::{AtomicPtr, AtomicUsize, Ordering};
use crossbeam_utils::CachePadded;

/// A ring word: a pointer, so that objects keep their provenance (Miri
/// checks it); tags live in the address's low bit.
type Word = *mut ();

/// The escape marker that starts a three-word entry.
const MARK: Word = std::ptr::null_mut();
/// Words the longest entry needs; the ring is "full" this early.
pub(crate) const MAX_ENTRY_WORDS: usize = 3;

/// A type-erased "drop this later": the function that knows the type, and
/// the pointer it consumes.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Retired {
    pub(crate) drop_fn: unsafe fn(*mut ()),
    pub(crate) ptr: *mut (),
}

// SAFETY: a `Retired` is built only from `Box<T>` with `T: Send` (see
// `Retired::of_box` and `Retired::of_closure`), so running its drop on
// another thread is what `Send` allows.
unsafe impl Send for Retired {}

/// Drops the `Box<T>` behind `p`: the drop function of a retired box.
///
/// # Safety
/// `p` came from `Box::<T>::into_raw`, and this is its one consumption,
/// after its grace period (see [`Retired::reclaim`]).
unsafe fn drop_box<T>(p: *mut ()) {
    // SAFETY: `p` came from `Box::<T>::into_raw` in `Retired::of_box`, and
    // each entry is consumed exactly once (the ring's tail moves past it
    // under the drain lock before the call).
    drop(unsafe { Box::from_raw(p.cast::<T>()) });
}

/// Runs the boxed closure behind `p`: the drop function of `defer`.
///
/// # Safety
/// As for [`drop_box`], with `Box::<F>::into_raw`.
unsafe fn call_box<F: FnOnce()>(p: *mut ()) {
    // SAFETY: as in `drop_box`, `p` came from `Box::<F>::into_raw` once.
    let f = unsafe { Box::from_raw(p.cast::<F>()) };
    f();
}

impl Retired {
    pub(crate) fn of_box<T: Send + 'static>(b: Box<T>) -> Self {
        Retired {
            drop_fn: drop_box::<T>,
            ptr: Box::into_raw(b).cast(),
        }
    }

    /// Like [`of_box`](Self::of_box), for a pointer from `Box::into_raw`
    /// that readers may still reference: no `Box` exists until the entry
    /// is reclaimed, after the grace period.
    ///
    /// # Safety
    /// `p` came from `Box::<T>::into_raw`, is retired once, and nothing
    /// reaches it once the grace period it is queued for has elapsed.
    pub(crate) unsafe fn of_raw<T: Send + 'static>(p: *mut T) -> Self {
        Retired {
            drop_fn: drop_box::<T>,
            ptr: p.cast(),
        }
    }

    pub(crate) fn of_closure<F: FnOnce() + Send + 'static>(f: Box<F>) -> Self {
        Retired {
            drop_fn: call_box::<F>,
            ptr: Box::into_raw(f).cast(),
        }
    }

    /// Consumes the entry: drops the object or runs the closure.
    ///
    /// # Safety
    /// Must be called at most once per entry, after a grace period that
    /// began after the object was unpublished.
    pub(crate) unsafe fn reclaim(self) {
        // SAFETY: forwarded to the caller.
        unsafe { (self.drop_fn)(self.ptr) }
    }

    fn fn_word(&self) -> Word {
        self.drop_fn as *mut ()
    }
}

/// State only the owning thread touches.
#[derive(Debug)]
pub(crate) struct ProducerState {
    /// The drop function of the last entry written (null: none).
    last_fn: Word,
    /// A lower bound of `tail`, so a push need not read the drainer's line.
    cached_tail: usize,
}

impl Default for ProducerState {
    fn default() -> Self {
        ProducerState {
            last_fn: std::ptr::null_mut(),
            cached_tail: 0,
        }
    }
}

/// State owned by the drain lock's holder.
#[derive(Debug)]
pub(crate) struct DrainState {
    /// The drop function of the last entry read (what a bare pointer means).
    last_fn: Word,
}

impl Default for DrainState {
    fn default() -> Self {
        DrainState {
            last_fn: std::ptr::null_mut(),
        }
    }
}

// SAFETY: the words are plain addresses of functions and of objects that
// are `Send` (see `Retired`); the states travel with their ring.
unsafe impl Send for ProducerState {}
// SAFETY: as above.
unsafe impl Send for DrainState {}

fn tagged(w: Word) -> bool {
    w.addr() & 1 == 1
}

/// The word array.
pub(crate) struct Ring {
    /// Next position the owner writes. Release-stored by the owner after the
    /// slots; acquire-loaded by drainers (pairs with that store).
    head: CachePadded<AtomicUsize>,
    /// Next position to drain. Release-stored by the drainer once it has read
    /// the slots; acquire-loaded by the owner before reusing them.
    tail: CachePadded<AtomicUsize>,
    slots: Box<[AtomicPtr<()>]>,
    mask: usize,
}

impl Ring {
    /// A ring of at least `capacity` words (rounded up to a power of two,
    /// and to at least 4 so one entry always fits).
    pub(crate) fn new(capacity: usize) -> Self {
        let cap = capacity.max(MAX_ENTRY_WORDS + 1).next_power_of_two();
        Ring {
            head: CachePadded::new(AtomicUsize::new(0)),
            tail: CachePadded::new(AtomicUsize::new(0)),
            slots: (0..cap)
                .map(|_| AtomicPtr::new(std::ptr::null_mut()))
                .collect(),
            mask: cap - 1,
        }
    }

    #[inline]
    pub(crate) fn capacity(&self) -> usize {
        self.mask + 1
    }

    /// The owner's next write position (owner only: no ordering needed).
    #[inline]
    pub(crate) fn owner_head(&self) -> usize {
        self.head.load(Ordering::Relaxed)
    }

    /// A drainer's snapshot: every entry before it is fully written.
    #[inline]
    pub(crate) fn snapshot_head(&self) -> usize {
        // Acquire pairs with the owner's release store in `try_push`.
        self.head.load(Ordering::Acquire)
    }

    /// Where draining will resume.
    #[inline]
    pub(crate) fn tail(&self) -> usize {
        // Acquire pairs with the drainer's release store in `drain_to`:
        // slots before it have been read and may be reused.
        self.tail.load(Ordering::Acquire)
    }

    /// Words written and not yet drained, as seen from any thread.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        let tail = self.tail();
        self.snapshot_head().wrapping_sub(tail)
    }

    #[inline(always)]
    fn slot(&self, pos: usize) -> &AtomicPtr<()> {
        debug_assert_eq!(self.slots.len(), self.mask + 1);
        // SAFETY: `slots.len()` is a power of two and `mask` is one less, so
        // `pos & mask` is in bounds.
        unsafe { self.slots.get_unchecked(pos & self.mask) }
    }

    /// Appends an entry. Owner thread only. Wait-free: a few stores, no
    /// read-modify-write. Returns `false` (and writes nothing) when fewer than
    /// three words are free.
    #[inline]
    pub(crate) fn try_push(&self, st: &mut ProducerState, r: Retired) -> bool {
        let head = self.head.load(Ordering::Relaxed);
        let limit = self.capacity() - MAX_ENTRY_WORDS;
        if head.wrapping_sub(st.cached_tail) > limit {
            st.cached_tail = self.tail();
            if head.wrapping_sub(st.cached_tail) > limit {
                return false;
            }
        }
        let f = r.fn_word();
        let p = r.ptr;
        let mut h = head;
        let mut put = |w: Word| {
            // Relaxed: published by the release store of `head` below.
            self.slot(h).store(w, Ordering::Relaxed);
            h = h.wrapping_add(1);
        };
        let p_plain = !tagged(p) && p != MARK;
        if f == st.last_fn && p_plain {
            put(p);
        } else if !tagged(f) && p_plain {
            put(f.map_addr(|a| a | 1));
            put(p);
        } else {
            put(MARK);
            put(f);
            put(p);
        }
        st.last_fn = f;
        // Release pairs with the drainer's acquire in `snapshot_head`: the
        // words above are written before it reads them.
        self.head.store(h, Ordering::Release);
        true
    }

    /// [`drain_some`](Self::drain_some) without a limit.
    #[cfg(any(test, loom))]
    pub(crate) fn drain_to(
        &self,
        st: &mut DrainState,
        upto: usize,
        each: impl FnMut(Retired),
    ) -> u64 {
        self.drain_some(st, upto, u64::MAX, each)
    }

    /// Removes the entries in `[tail, upto)`, at most `limit` of them, one
    /// at a time and hands each to `each`. `tail` moves past an entry
    /// before `each` sees it, so a callback may push to this ring again
    /// (its slot is already free). Returns how many entries were handed
    /// out. Entries already drained (a `tail` past `upto`) are skipped.
    ///
    /// The caller holds the drain lock (`st` is behind it) and got `upto`
    /// from [`snapshot_head`](Self::snapshot_head).
    pub(crate) fn drain_some(
        &self,
        st: &mut DrainState,
        upto: usize,
        limit: u64,
        mut each: impl FnMut(Retired),
    ) -> u64 {
        // Only drain-lock holders store `tail`, and we hold it.
        let mut t = self.tail.load(Ordering::Relaxed);
        if (upto.wrapping_sub(t) as isize) <= 0 {
            return 0;
        }
        let mut n = 0;
        while t != upto && n < limit {
            let mut get = || {
                let w = self.slot(t).load(Ordering::Relaxed);
                t = t.wrapping_add(1);
                w
            };
            let w = get();
            let (f, p) = if w == MARK {
                let f = get();
                (f, get())
            } else if tagged(w) {
                (w.map_addr(|a| a & !1), get())
            } else {
                (st.last_fn, w)
            };
            st.last_fn = f;
            // Release: our reads of these slots happen before the owner
            // overwrites them (pairs with the acquire in `tail()`).
            self.tail.store(t, Ordering::Release);
            // SAFETY: `f` is a word written by `try_push` from a
            // `unsafe fn(*mut ())`, decoded by the same rules that encoded it
            // (pointer and function pointer have the same size).
            let drop_fn: unsafe fn(*mut ()) =
                unsafe { std::mem::transmute::<Word, unsafe fn(*mut ())>(f) };
            each(Retired { drop_fn, ptr: p });
            n += 1;
        }
        n
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize as StdAtomic;

    static DROPS: StdAtomic = StdAtomic::new(0);
    struct Counted(#[allow(dead_code)] u64);
    impl Drop for Counted {
        fn drop(&mut self) {
            DROPS.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn drain_all(ring: &Ring, st: &mut DrainState) -> u64 {
        let upto = ring.snapshot_head();
        // SAFETY: single-threaded test; nothing else can see the objects.
        ring.drain_to(st, upto, |r| unsafe { r.reclaim() })
    }

    #[test]
    fn homogeneous_stream_costs_one_word_per_object() {
        let ring = Ring::new(64);
        let mut p = ProducerState::default();
        for i in 0..20 {
            assert!(ring.try_push(&mut p, Retired::of_box(Box::new(Counted(i)))));
        }
        // One function word for the first entry, then one word each. (Miri
        // gives each use of a function pointer its own address, so there
        // every entry carries its function word; still correct, not compact.)
        if !cfg!(miri) {
            assert_eq!(ring.len(), 21);
        }
        let before = DROPS.load(Ordering::Relaxed);
        assert_eq!(drain_all(&ring, &mut DrainState::default()), 20);
        assert!(DROPS.load(Ordering::Relaxed) - before >= 20);
    }

    #[test]
    fn mixed_types_and_odd_pointers_round_trip() {
        let ring = Ring::new(64);
        let mut p = ProducerState::default();
        let hits = std::sync::Arc::new(StdAtomic::new(0));
        let mut d = DrainState::default();
        for round in 0..10 {
            assert!(ring.try_push(&mut p, Retired::of_box(Box::new(round as u64))));
            assert!(ring.try_push(&mut p, Retired::of_box(Box::new(String::from("x")))));
            // A zero-sized box of align 1 has an odd dangling pointer.
            assert!(ring.try_push(&mut p, Retired::of_box(Box::new(()))));
            let h = hits.clone();
            assert!(ring.try_push(
                &mut p,
                Retired::of_closure(Box::new(move || {
                    h.fetch_add(1, Ordering::Relaxed);
                }))
            ));
            assert_eq!(drain_all(&ring, &mut d), 4);
        }
        assert_eq!(hits.load(Ordering::Relaxed), 10);
        assert_eq!(ring.len(), 0);
    }

    #[test]
    fn full_ring_refuses_and_recovers_after_drain() {
        let ring = Ring::new(16);
        let mut p = ProducerState::default();
        let mut pushed = 0;
        let refused = loop {
            let r = Retired::of_box(Box::new(7u64));
            if !ring.try_push(&mut p, r) {
                break r;
            }
            pushed += 1;
        };
        // A push needs at most 13 (16 - 3) words in use; the first costs 2
        // words (function, pointer), the next ones 1: 13 objects fit.
        if !cfg!(miri) {
            assert_eq!(pushed, 13);
        }
        let mut d = DrainState::default();
        assert_eq!(drain_all(&ring, &mut d), pushed);
        assert!(ring.try_push(&mut p, refused));
        assert_eq!(drain_all(&ring, &mut d), 1);
    }

    #[test]
    fn drain_to_an_old_snapshot_is_a_no_op() {
        let ring = Ring::new(16);
        let mut p = ProducerState::default();
        assert!(ring.try_push(&mut p, Retired::of_box(Box::new(1u64))));
        let old = ring.snapshot_head();
        let mut d = DrainState::default();
        assert_eq!(drain_all(&ring, &mut d), 1);
        // SAFETY: nothing to reclaim; the closure must not run.
        assert_eq!(ring.drain_to(&mut d, old, |_| unreachable!()), 0);
    }
}
