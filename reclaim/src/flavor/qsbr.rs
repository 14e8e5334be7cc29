//! `qsbr`: quiescent-state-based reclamation. A registered thread's read
//! side is free; it reports quiescent states (copies the global counter into
//! its word) and goes offline (stores zero) before it blocks.
//!
//! The global counter starts at 1 (the "online" bit) and a grace period adds
//! 2, so an online thread's word is never zero.

use crate::sync::{fence, AtomicUsize, Ordering};

/// Initial value of the global counter.
pub(crate) const GP_CTR_INIT: usize = 1;
/// What a grace period adds to the global counter.
pub(crate) const GP_STEP: usize = 2;

/// Whether a reader whose word is `ctr` must still be waited for once the
/// global counter is `gp_ctr`: online and not yet past a quiescent state.
#[inline]
pub(crate) fn holds(ctr: usize, gp_ctr: usize) -> bool {
    ctr != 0 && ctr != gp_ctr
}

/// Reports a quiescent state; returns whether the word changed (and so a
/// sleeping writer may need a wake-up).
#[inline(always)]
pub(crate) fn quiescent_state(ctr: &AtomicUsize, gp_ctr: &AtomicUsize) -> bool {
    let now = gp_ctr.load(Ordering::Relaxed);
    if ctr.load(Ordering::Relaxed) == now {
        return false;
    }
    // Everything this thread read before is finished before the writer can
    // see the new value: pairs with the detector's acquire load of `ctr`.
    fence(Ordering::SeqCst);
    ctr.store(now, Ordering::Release);
    // Orders the store before later reads (of data, and of the futex word).
    fence(Ordering::SeqCst);
    true
}

/// Goes offline: the thread holds no references until it comes back.
#[inline]
pub(crate) fn offline(ctr: &AtomicUsize) {
    // Release pairs with the detector's acquire load of `ctr`.
    ctr.store(0, Ordering::Release);
    fence(Ordering::SeqCst);
}

/// Comes back online.
#[inline]
pub(crate) fn online(ctr: &AtomicUsize, gp_ctr: &AtomicUsize) {
    ctr.store(gp_ctr.load(Ordering::Relaxed), Ordering::Relaxed);
    // Our word must be visible before any load of protected data.
    fence(Ordering::SeqCst);
}
