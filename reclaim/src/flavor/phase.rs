//! The counter-with-phase scheme shared by `memb` and `mb` (liburcu's).
//!
//! The global counter holds a nesting unit (bit 0, so an active reader's word
//! is never zero) and a phase bit. A reader's outermost `read_lock` copies
//! the global counter into its own word; its outermost unlock stores zero.
//! A grace period waits out readers of the old phase, flips the phase, and
//! waits again: a reader may have loaded the counter just before the flip
//! and stored it just after, so one wait is not enough.

/// Initial value of the global counter: active, phase 0.
pub(crate) const GP_CTR_INIT: usize = 1;
/// The phase bit, in the upper half so it never meets the nesting unit.
pub(crate) const PHASE: usize = 1 << (usize::BITS / 2);

/// Whether a reader whose word is `ctr` must still be waited for, the global
/// counter being `gp_ctr`: it is in a section that began in the other phase.
#[inline]
pub(crate) fn holds_old_phase(ctr: usize, gp_ctr: usize) -> bool {
    ctr != 0 && (ctr ^ gp_ctr) & PHASE != 0
}
