//! Grace-period detection: tickets, batching of concurrent callers, and the
//! wait for pre-existing readers (spin, then sleep on a futex).
//!
//! # Tickets
//!
//! `gp_seq` is even when idle and odd while a grace period runs; each grace
//! period adds 2. A ticket taken at `s` completes at `(s + 3) & !1`: the
//! end of the first grace period that starts after the ticket. Callers that
//! arrive while one runs wait for the next; all of them share it (the first
//! to get `gp_lock` runs it, the rest find their ticket already complete).
//!
//! # Ordering
//!
//! A ticket is taken after a `SeqCst` fence; a grace period makes `gp_seq`
//! odd and then runs its heavy barrier (membarrier, or a `SeqCst` fence).
//! If the ticket read `gp_seq` before that store, its fence precedes the
//! grace period's barrier, so the reader scan that follows sees everything
//! the caller did before the ticket (in particular, unpublishing).

use crate::domain::Core;
use crate::flavor::{phase, qsbr, Flavor};
use crate::record::ThreadRecord;
use crate::stall::StallReport;
use crate::stats::Counters;
use crate::sync::{fence, lock, Arc, Ordering};
use std::time::{Duration, Instant};

/// Scans of the readers before a waiting writer goes to sleep.
const ACTIVE_ATTEMPTS: u32 = if cfg!(loom) { 2 } else { 100 };
/// The longest a writer sleeps before it looks again without a wake-up.
const MAX_SLEEP: Duration = Duration::from_millis(10);
/// The same for `mb`, whose readers may miss waking a writer that is just
/// going to sleep (see `flavor::mb::exit`).
const MB_MAX_SLEEP: Duration = Duration::from_millis(1);

impl Core {
    pub(crate) fn start_poll(&self) -> u64 {
        fence(Ordering::SeqCst);
        let s = self.gp_seq.load(Ordering::Relaxed);
        (s + 3) & !1
    }

    #[inline]
    pub(crate) fn poll(&self, target: u64) -> bool {
        // Acquire pairs with the release store that ends a grace period:
        // what readers did in their sections happens before our frees.
        self.gp_seq.load(Ordering::Acquire) >= target
    }

    #[inline]
    pub(crate) fn completed_sequence(&self) -> u64 {
        // Acquire: as in `poll`.
        self.gp_seq.load(Ordering::Acquire)
    }

    /// Waits until `target` is reached, running grace periods as needed.
    /// The caller must not be a reader of this domain (checked by callers).
    pub(crate) fn wait_for(&self, target: u64) {
        if self.poll(target) {
            return;
        }
        let _gp = lock(&self.gp_lock);
        while !self.poll(target) {
            self.run_grace_period();
        }
    }

    /// One grace period. `gp_lock` is held.
    fn run_grace_period(&self) {
        let seq = self.gp_seq.load(Ordering::Relaxed);
        self.gp_seq.store(seq + 1, Ordering::Relaxed);
        let start = Instant::now();
        self.heavy_barrier();
        let readers: Vec<Arc<ThreadRecord>> = lock(&self.registry).clone();
        let gp_ctr = &self.hot.gp_ctr;
        match self.flavor {
            Flavor::Memb | Flavor::Mb => {
                // Readers still in a section from before the previous flip.
                self.wait_for_readers(&readers, start, |c| {
                    phase::holds_old_phase(c, gp_ctr.load(Ordering::Relaxed))
                });
                // Our scan above completes before the flip becomes visible.
                fence(Ordering::SeqCst);
                gp_ctr.store(
                    gp_ctr.load(Ordering::Relaxed) ^ phase::PHASE,
                    Ordering::Relaxed,
                );
                // The flip is visible before we scan again.
                fence(Ordering::SeqCst);
                self.wait_for_readers(&readers, start, |c| {
                    phase::holds_old_phase(c, gp_ctr.load(Ordering::Relaxed))
                });
            }
            Flavor::Qsbr => {
                gp_ctr.store(
                    gp_ctr.load(Ordering::Relaxed) + qsbr::GP_STEP,
                    Ordering::Relaxed,
                );
                fence(Ordering::SeqCst);
                self.wait_for_readers(&readers, start, |c| {
                    qsbr::holds(c, gp_ctr.load(Ordering::Relaxed))
                });
            }
        }
        self.heavy_barrier();
        // Release pairs with `poll`'s acquire.
        self.gp_seq.store(seq + 2, Ordering::Release);
        Counters::bump(&self.counters.grace_periods);
        let ns = start.elapsed().as_nanos().min(u64::MAX as u128) as u64;
        self.counters.longest_gp_ns.fetch_max(ns, Ordering::Relaxed);
    }

    /// A full barrier on every reader: membarrier for `memb`, where readers
    /// only fence the compiler; a local fence for the others, whose readers
    /// fence themselves.
    fn heavy_barrier(&self) {
        if self.flavor == Flavor::Memb {
            crate::sys::heavy_barrier();
        } else {
            fence(Ordering::SeqCst);
        }
    }

    /// Waits until `holds(reader word)` is false for every reader.
    fn wait_for_readers(
        &self,
        readers: &[Arc<ThreadRecord>],
        start: Instant,
        holds: impl Fn(usize) -> bool,
    ) {
        let mut waiting: Vec<&ThreadRecord> = readers.iter().map(|r| &**r).collect();
        let mut attempts = 0;
        let mut reported = false;
        loop {
            waiting.retain(|r| holds(r.reader_word()));
            if waiting.is_empty() {
                return;
            }
            attempts += 1;
            if attempts < ACTIVE_ATTEMPTS {
                crate::sync::spin_hint();
                continue;
            }
            // Announce that we are about to sleep, make that visible to every
            // reader (their exit path reads the word after clearing theirs),
            // and look once more before sleeping.
            self.hot.gp_futex.store(-1, Ordering::Relaxed);
            self.heavy_barrier();
            waiting.retain(|r| holds(r.reader_word()));
            if waiting.is_empty() {
                self.hot.gp_futex.store(0, Ordering::Relaxed);
                return;
            }
            let waited = start.elapsed();
            let timeout = self.config.stall_timeout;
            if !reported && waited >= timeout {
                reported = true;
                Counters::bump(&self.counters.stalls_reported);
                let report = StallReport {
                    waited,
                    threads: waiting.iter().map(|r| r.name.clone()).collect(),
                };
                (self.config.stall_hook)(&report);
            }
            let until_stall = if reported {
                MAX_SLEEP
            } else {
                timeout.saturating_sub(waited)
            };
            let longest = if self.flavor == Flavor::Mb {
                MB_MAX_SLEEP
            } else {
                MAX_SLEEP
            };
            crate::sys::futex_wait(
                &self.hot.gp_futex,
                -1,
                until_stall.clamp(Duration::from_micros(1), longest),
            );
            self.hot.gp_futex.store(0, Ordering::Relaxed);
        }
    }
}
