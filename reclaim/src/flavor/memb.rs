//! `memb`: the reader pays a plain store and a compiler fence; the writer
//! makes it safe with `membarrier`, which runs a full fence on every CPU
//! currently running one of our threads.

use crate::sync::{compiler_fence, AtomicUsize, Ordering};

/// Outermost `read_lock`.
#[inline(always)]
pub(crate) fn enter(ctr: &AtomicUsize, gp_ctr: &AtomicUsize) {
    // Release: the thread's earlier sections' loads complete before a
    // detector that reads this word sees it (pairs with its acquire load).
    // A detector may miss the 0 of our last exit and see only this store;
    // being a release too, it still orders those sections before the
    // detector goes on, so no membarrier is needed at the end of a grace
    // period (see `grace_period`). A plain `mov` on x86, as `Relaxed`.
    ctr.store(gp_ctr.load(Ordering::Relaxed), Ordering::Release);
    // Keeps the compiler from hoisting the section's loads above the store.
    // The CPU may still reorder them; the writer's membarrier orders them
    // from its side (see `grace_period`).
    compiler_fence();
}

/// Outermost unlock.
#[inline(always)]
pub(crate) fn exit(ctr: &AtomicUsize) {
    // Release: the section's loads complete before the writer can see zero.
    // Pairs with the detector's acquire load of `ctr`.
    ctr.store(0, Ordering::Release);
    // Keeps the following read of the writer's futex word after the store,
    // as far as the compiler goes; membarrier covers the CPU.
    compiler_fence();
}

/// Moves an active reader to the current phase (a quiescent state inside a
/// section); returns whether its word changed.
#[inline(always)]
pub(crate) fn refresh(ctr: &AtomicUsize, gp_ctr: &AtomicUsize) -> bool {
    let now = gp_ctr.load(Ordering::Relaxed);
    if ctr.load(Ordering::Relaxed) == now {
        return false;
    }
    // Release: everything read so far completes before the detector sees
    // the new phase (pairs with its acquire load of `ctr`).
    ctr.store(now, Ordering::Release);
    // As in `enter`: membarrier orders the CPU side.
    compiler_fence();
    true
}
