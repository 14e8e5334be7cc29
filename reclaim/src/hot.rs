//! The domain words every reader reads ([`Hot`]): the grace-period
//! counter, and the futex word and wake mask through which a reader wakes a
//! writer that sleeps waiting for it.
//!
//! A module of its own, apart from the rest of the domain's state
//! (`state`, whose `Core` holds it on a cache line of its own): the read
//! fast path in `record` needs these words and nothing else of the core,
//! and `record` does not depend on `state`, which lists the records.
//! Both depend on this module instead.

use crate::sync::{AtomicI32, AtomicU64, AtomicUsize, Ordering};

/// The domain words every reader reads: kept on their own cache line,
/// written only by grace periods (and, rarely, a waking reader).
#[derive(Debug)]
pub(crate) struct Hot {
    /// Global grace-period counter (see `flavor::phase` and `flavor::qsbr`).
    pub(crate) gp_ctr: AtomicUsize,
    /// -1 while a writer sleeps waiting for readers; see `wake_writer`.
    pub(crate) gp_futex: AtomicI32,
    /// The readers a sleeping writer waits for, one bit each
    /// (`ThreadRecord::wake_bit`; threads beyond 64 share bits). Only
    /// those wake it: a reader the grace period is not waiting for leaves
    /// its sections without a system call, however often, even while one
    /// long section keeps the writer asleep.
    pub(crate) wake_mask: AtomicU64,
}

impl Hot {
    pub(crate) fn new(gp_ctr: usize) -> Self {
        Hot {
            gp_ctr: AtomicUsize::new(gp_ctr),
            gp_futex: AtomicI32::new(0),
            wake_mask: AtomicU64::new(0),
        }
    }

    /// Called by a reader right after it made its word quiescent, with
    /// its wake bit (read before that: the record may go once we are
    /// quiescent, the domain's words may not).
    #[inline(always)]
    pub(crate) fn wake_writer(&self, bit: u64) {
        // Relaxed: the flavors' exit paths order the reader's store before
        // this load (fence, or membarrier on the writer's side).
        if self.gp_futex.load(Ordering::Relaxed) == -1 {
            self.wake_writer_if_waited_for(bit);
        }
    }

    /// [`wake_writer`](Self::wake_writer) for the common unlock, which
    /// reads its wake bit only if a writer sleeps: `wake_bit` must stay
    /// allocated after going quiescent (see `ThreadRecord::read_unlock`).
    #[inline(always)]
    pub(crate) fn wake_writer_for(&self, wake_bit: &u64) {
        // As `wake_writer`, inline: while a writer sleeps on another
        // reader, this exit then costs two more loads, not a call.
        if self.gp_futex.load(Ordering::Relaxed) == -1
            && self.wake_mask.load(Ordering::Relaxed) & *wake_bit != 0
        {
            self.wake_writer_slow();
        }
    }

    /// A writer sleeps: wake it if it waits for us. Out of line: only the
    /// slow exits (QSBR, spilled or orphaned sections) come here; the common
    /// unlock uses `wake_writer_for`.
    #[inline(never)]
    fn wake_writer_if_waited_for(&self, bit: u64) {
        // Relaxed: as in `wake_writer` (`arm_wake` stores the mask before
        // the heavy barrier, as it does the -1 we just saw).
        if self.wake_mask.load(Ordering::Relaxed) & bit != 0 {
            self.wake_writer_slow();
        }
    }

    /// The writer, about to sleep, names the readers it waits for. The
    /// caller then makes this visible to them (a heavy barrier) and looks
    /// at their words once more before sleeping.
    pub(crate) fn arm_wake(&self, mask: u64) {
        self.gp_futex.store(-1, Ordering::Relaxed);
        // Release: a reader that sees its bit also sees the -1 above, so
        // its store of 0 comes after it (see `wake_writer_slow`).
        self.wake_mask.store(mask, Ordering::Release);
    }

    /// The writer is awake again (or never slept).
    pub(crate) fn disarm_wake(&self) {
        self.wake_mask.store(0, Ordering::Relaxed);
        self.gp_futex.store(0, Ordering::Relaxed);
    }

    #[cold]
    fn wake_writer_slow(&self) {
        // Acquire pairs with `arm_wake`'s release: our 0 lands after the
        // writer's -1, so its futex wait cannot miss it.
        crate::sync::fence(Ordering::Acquire);
        self.wake_mask.store(0, Ordering::Relaxed);
        self.gp_futex.store(0, Ordering::Relaxed);
        crate::sys::futex_wake_all(&self.gp_futex);
    }
}
