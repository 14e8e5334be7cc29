//! Counters a domain keeps, and the snapshot [`Stats`] users read.

use crate::flavor::Flavor;
use crate::sync::{AtomicU64, Ordering};
use std::time::Duration;

/// A snapshot of a domain's counters, from [`stats()`](crate::stats()) or
/// [`Domain::stats`](crate::Domain::stats). Counters are read one by one,
/// without stopping the threads that bump them, so a snapshot taken while
/// others work is approximate: each counter only grows, but counters read
/// together need not agree (`reclaimed` may briefly exceed `queued`, which
/// [`pending`](Stats::pending) treats as zero). Once the domain is quiet
/// (after [`rcu_barrier`](crate::rcu_barrier), say) they are exact.
///
/// ```
/// let d = urcu_reclaim::Domain::new();
/// d.rcu_reclaim_queue(Box::new(1u8));
/// println!("{} objects waiting for a grace period", d.stats().pending());
/// d.rcu_barrier();
/// let s = d.stats();
/// assert_eq!((s.queued, s.reclaimed, s.pending()), (1, 1, 0));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// The flavor readers really use (`Memb` falls back to `Mb`).
    pub flavor: Flavor,
    /// Grace periods completed.
    pub grace_periods: u64,
    /// Objects and closures handed to the domain for deferred reclamation.
    pub queued: u64,
    /// Of those, how many have been dropped or run.
    pub reclaimed: u64,
    /// Times a full queue made the queueing thread wait for a grace period
    /// and free its own queue.
    pub caller_fallbacks: u64,
    /// Objects queued while the queue was full and the caller could not wait
    /// (inside a read-side section, or inside a reclamation callback); they
    /// went to an overflow list freed after a later grace period.
    pub overflow_spills: u64,
    /// Destructors or deferred closures that panicked (the panic was caught
    /// and reclamation went on).
    pub destructor_panics: u64,
    /// Grace periods that exceeded the stall timeout and were reported.
    pub stalls_reported: u64,
    /// Calls of the `on_stall` hook that panicked (the panic was caught,
    /// the first one reported on stderr, and the grace period went on).
    pub stall_hook_panics: u64,
    /// Times a thread's backpressure wait (a full queue, or the entry after
    /// a section that spilled) gave up after
    /// [`max_writer_wait`](crate::DomainBuilder::max_writer_wait): a reader
    /// held the grace period longer. Writers then spill instead of waiting
    /// until that grace period completes.
    pub writer_wait_timeouts: u64,
    /// Times a grace period went to sleep waiting for readers still in
    /// their sections (each sleep costs it a heavy barrier). Only those
    /// readers wake it, so a reader that enters and leaves sections in a
    /// loop while another holds one open does not add to this.
    pub grace_period_sleeps: u64,
    /// The longest grace period so far, timed from the moment it first
    /// found a reader still in its section (one that found none costs
    /// microseconds and is not timed).
    pub longest_grace_period: Duration,
    /// Threads registered with the domain (including exited threads whose
    /// queue is not yet drained).
    pub threads: usize,
}

impl Stats {
    /// Objects queued and not yet reclaimed.
    ///
    /// ```
    /// let d = urcu_reclaim::Domain::new();
    /// d.rcu_reclaim_queue(Box::new(1u8));
    /// assert!(d.stats().pending() <= 1);
    /// d.rcu_barrier();
    /// assert_eq!(d.stats().pending(), 0);
    /// ```
    pub fn pending(&self) -> u64 {
        self.queued.saturating_sub(self.reclaimed)
    }
}

/// The domain-wide counters behind [`Stats`] (per-thread counts live in
/// each thread's record, so the queueing fast path writes no shared line).
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) grace_periods: AtomicU64,
    pub(crate) caller_fallbacks: AtomicU64,
    pub(crate) overflow_spills: AtomicU64,
    pub(crate) overflow_reclaimed: AtomicU64,
    pub(crate) destructor_panics: AtomicU64,
    pub(crate) stalls_reported: AtomicU64,
    pub(crate) stall_hook_panics: AtomicU64,
    pub(crate) writer_wait_timeouts: AtomicU64,
    pub(crate) gp_sleeps: AtomicU64,
    pub(crate) longest_gp_ns: AtomicU64,
    /// Counts carried over from records removed after their thread exited.
    pub(crate) exited_queued: AtomicU64,
    pub(crate) exited_reclaimed: AtomicU64,
    /// Reclaimer passes so far (the reclaimer's clock under loom).
    pub(crate) passes: AtomicU64,
}

impl Counters {
    pub(crate) fn bump(c: &AtomicU64) {
        c.fetch_add(1, Ordering::Relaxed);
    }
}
