//! `mb`: the reader orders its own store with real fences. Portable; used
//! where `membarrier` is unavailable.

use crate::sync::{fence, AtomicUsize, Ordering};

/// Outermost `read_lock`.
#[inline(always)]
pub(crate) fn enter(ctr: &AtomicUsize, gp_ctr: &AtomicUsize) {
    // Release, as in `memb::enter`: the earlier sections' loads complete
    // before a detector that sees this word instead of our last exit's 0.
    ctr.store(gp_ctr.load(Ordering::Relaxed), Ordering::Release);
    // Store-load ordering: our word must be visible before the section's
    // loads. Pairs with the SeqCst fence the detector runs before scanning.
    fence(Ordering::SeqCst);
}

/// Outermost unlock.
///
/// No fence after the store: the read of the writer's futex word that
/// follows may pass it, so a writer that goes to sleep just then can miss
/// this wake-up. It sleeps with a short timeout (`MB_MAX_SLEEP` in
/// `grace_period`) and looks again, so the race costs latency, never
/// correctness; a second fence on every unlock would cost every reader.
#[inline(always)]
pub(crate) fn exit(ctr: &AtomicUsize) {
    // Release pairs with the detector's acquire load of `ctr`.
    ctr.store(0, Ordering::Release);
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
    // As in `enter`: our word is visible before the next loads.
    fence(Ordering::SeqCst);
    true
}
