//! `mb`: the reader orders its own store with real fences. Portable; used
//! where `membarrier` is unavailable.

use crate::sync::{fence, AtomicUsize, Ordering};

/// Outermost `read_lock`.
#[inline(always)]
pub(crate) fn enter(ctr: &AtomicUsize, gp_ctr: &AtomicUsize) {
    ctr.store(gp_ctr.load(Ordering::Relaxed), Ordering::Relaxed);
    // Store-load ordering: our word must be visible before the section's
    // loads. Pairs with the SeqCst fence the detector runs before scanning.
    fence(Ordering::SeqCst);
}

/// Outermost unlock.
#[inline(always)]
pub(crate) fn exit(ctr: &AtomicUsize) {
    // Release pairs with the detector's acquire load of `ctr`.
    ctr.store(0, Ordering::Release);
    // Orders the store before the read of the writer's futex word, so a
    // sleeping writer is either woken or sees zero when it re-checks.
    fence(Ordering::SeqCst);
}
