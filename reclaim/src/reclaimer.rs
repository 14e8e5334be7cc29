//! The reclaimer thread, and the passes it (and `rcu_barrier`) run.
//!
//! A pass snapshots every ring's head, runs **one** grace period for all of
//! them, then drains. To leave freeing to the threads that allocate (which
//! scales, and keeps frees on the allocating thread's heap), a pass drains a
//! live, busy thread's ring only up to the *previous* pass's snapshot (what
//! its owner has not freed in a whole interval), and not at all while the
//! owner is freeing its own entries (its tail moved since the last pass).
//! Rings of exited or idle threads, and every ring during a barrier or at
//! shutdown, drain to the new snapshot.
//!
//! The thread starts on first use and sleeps on a condition variable: for
//! `reclaim_interval` while anything is pending, for a second otherwise
//! (a producer that finds it idle wakes it at once).

use crate::domain::{with_callbacks, Core};
use crate::queue::{DrainState, Retired};
use crate::record::ThreadRecord;
use crate::stats::Stats;
use crate::sync::{lock, Arc, AtomicBool, Ordering};
use std::sync::{Condvar, Mutex as StdMutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// How long an idle reclaimer sleeps before it looks anyway (this bounds the
/// delay after a lost race with a producer that found it idle).
const IDLE_SLEEP: Duration = Duration::from_secs(1);
/// Rounds of draining at shutdown (destructors may queue more objects).
const SHUTDOWN_ROUNDS: usize = 64;

/// Wake-ups and lifecycle of the reclaimer thread.
#[derive(Default)]
pub(crate) struct Signal {
    mutex: StdMutex<()>,
    cv: Condvar,
    /// A pass is wanted now (a producer passed a checkpoint, a thread
    /// exited, something spilled).
    wanted: AtomicBool,
    /// Someone polling a ticket asked for a grace period even if no queue
    /// holds anything ([`Domain::request_grace_period`](crate::Domain::request_grace_period)).
    gp_requested: AtomicBool,
    /// The thread is in (or about to enter) its wait.
    sleeping: AtomicBool,
    shutdown: AtomicBool,
    thread: StdMutex<Option<JoinHandle<()>>>,
    started: AtomicBool,
    /// The default domain's reclaimer is never joined.
    is_default: AtomicBool,
}

impl Signal {
    pub(crate) fn mark_default(&self) {
        self.is_default.store(true, Ordering::Relaxed);
    }
}

impl Core {
    /// Registers a new record for the calling thread.
    pub(crate) fn register(&self, pinned: bool) -> Arc<ThreadRecord> {
        let rec = Arc::new(ThreadRecord::new(
            self.flavor,
            self,
            self.config.queue_capacity,
            pinned,
        ));
        lock(&self.registry).push(rec.clone());
        rec
    }

    /// Asks the reclaimer for a grace period and a pass soon.
    pub(crate) fn request_grace_period(&self) {
        let s = &self.signal;
        if s.wanted.load(Ordering::Relaxed) {
            return;
        }
        // SeqCst with the reclaimer's `sleeping` store and `wanted` load:
        // either it sees `wanted`, or we see it sleeping and notify.
        s.wanted.store(true, Ordering::SeqCst);
        self.ensure_reclaimer();
        if s.sleeping.load(Ordering::SeqCst) {
            let _g = s.mutex.lock().unwrap_or_else(|e| e.into_inner());
            s.cv.notify_one();
        }
    }

    /// Makes the next pass run a grace period even with empty queues.
    pub(crate) fn force_grace_period(&self) {
        // Read first: many writers may ask at once; only the first stores.
        if !self.signal.gp_requested.load(Ordering::Relaxed) {
            self.signal.gp_requested.store(true, Ordering::Relaxed);
        }
        self.request_grace_period();
    }

    /// Same as a grace-period request; named for the callers' intent.
    pub(crate) fn request_pass(&self) {
        self.reclaimer_idle.store(false, Ordering::Relaxed);
        self.request_grace_period();
    }

    fn ensure_reclaimer(&self) {
        // Loom models play the reclaimer's part themselves, on a model thread.
        if cfg!(loom) {
            return;
        }
        let s = &self.signal;
        if s.started.load(Ordering::Acquire) || s.shutdown.load(Ordering::Acquire) {
            return;
        }
        let mut slot = s.thread.lock().unwrap_or_else(|e| e.into_inner());
        if s.started.load(Ordering::Relaxed) || s.shutdown.load(Ordering::Acquire) {
            return;
        }
        let Some(core) = self.me.upgrade() else {
            return;
        };
        let handle = std::thread::Builder::new()
            .name(format!("urcu-reclaimer-{}", self.id))
            .spawn(move || core.reclaimer_main())
            .expect("failed to spawn the urcu reclaimer thread");
        *slot = Some(handle);
        s.started.store(true, Ordering::Release);
    }

    fn reclaimer_main(self: Arc<Self>) {
        let s = &self.signal;
        while !s.shutdown.load(Ordering::Acquire) {
            let pending = self.anything_pending();
            {
                let g = s.mutex.lock().unwrap_or_else(|e| e.into_inner());
                s.sleeping.store(true, Ordering::SeqCst);
                if !s.wanted.load(Ordering::SeqCst) && !s.shutdown.load(Ordering::SeqCst) {
                    let wait = if pending {
                        self.config.reclaim_interval
                    } else {
                        IDLE_SLEEP
                    };
                    if !pending {
                        self.reclaimer_idle.store(true, Ordering::Relaxed);
                    }
                    drop(s.cv.wait_timeout(g, wait));
                }
                s.sleeping.store(false, Ordering::Relaxed);
            }
            if s.shutdown.load(Ordering::Acquire) {
                break;
            }
            s.wanted.store(false, Ordering::Relaxed);
            // Read first: producers read this word on every enqueue.
            if self.reclaimer_idle.load(Ordering::Relaxed) {
                self.reclaimer_idle.store(false, Ordering::Relaxed);
            }
            self.pass(false);
        }
        self.final_drain();
    }

    /// Drains everything, repeatedly, since destructors may queue more.
    fn final_drain(&self) {
        for _ in 0..SHUTDOWN_ROUNDS {
            self.pass(true);
            if !self.anything_pending() {
                break;
            }
        }
    }

    fn anything_pending(&self) -> bool {
        !lock(&self.overflow).is_empty()
            || lock(&self.registry)
                .iter()
                .any(|r| r.ring.len() > 0 || r.spill_waiting.load(Ordering::Relaxed))
    }

    /// Drains `rec` up to `upto`.
    ///
    /// # Safety
    /// `st` is `rec`'s drain lock, held, and a grace period that began after
    /// the ring's head reached `upto` has elapsed.
    pub(crate) unsafe fn drain_record(&self, rec: &ThreadRecord, st: &mut DrainState, upto: usize) {
        // SAFETY: under the drain lock each entry is drained once, and the
        // entries before `upto` have had their grace period (our contract).
        let n = unsafe { with_callbacks(self, |run| rec.ring.drain_to(st, upto, run)) };
        if n > 0 {
            rec.add_reclaimed(n);
        }
    }

    /// One reclamation pass; `flush` drains everything queued before it.
    pub(crate) fn pass(&self, flush: bool) {
        crate::domain::check_not_in_stall_hook(self.id, "a reclaimer pass (rcu_barrier)");
        let _pass = lock(&self.pass_lock);
        let records: Vec<Arc<ThreadRecord>> = lock(&self.registry).clone();
        // Acquire (in `snapshot_head`) pairs with each owner's release of
        // `head`: the entries before it are fully written, and were
        // unpublished before they were queued.
        let snaps: Vec<usize> = records.iter().map(|r| r.ring.snapshot_head()).collect();
        let mut spilled: Vec<Retired> = std::mem::take(&mut *lock(&self.overflow));
        // Batches spilled inside sections: the closed ones always; during a
        // barrier also the open ones (their sections started before the
        // grace period below, which waits for them).
        for rec in &records {
            self.collect_spill(rec, flush, &mut spilled);
        }
        let busy = records.iter().zip(&snaps).any(|(r, &s)| s != r.ring.tail());
        let forced = self.signal.gp_requested.swap(false, Ordering::Relaxed);
        if busy || forced || !spilled.is_empty() {
            let target = self.start_poll();
            self.wait_for(target, None);
        }
        let clock = self.reclaimer_clock();
        for (rec, &snap) in records.iter().zip(&snaps) {
            let seen = rec.reclaimer_seen.swap(snap, Ordering::Relaxed);
            let owner_gone = !rec.alive.load(Ordering::Acquire);
            // The owner freed some of its own entries since our last pass:
            // it is keeping up, and frees on its own heap are cheaper.
            let owner_draining = rec.ring.tail() != rec.reclaimer_seen_tail.load(Ordering::Relaxed);
            let upto = if flush || owner_gone || seen == snap {
                snap
            } else if owner_draining {
                rec.ring.tail()
            } else {
                self.aged_upto(rec, snap, clock)
            };
            let behind = (upto.wrapping_sub(rec.ring.tail()) as isize) > 0;
            if flush || behind {
                // A barrier takes every lock, even with nothing to drain, so
                // that a drain in progress (whose entries may be ours) ends.
                let mut st = lock(&rec.drain);
                // SAFETY: lock held; `upto` <= this pass's head snapshot,
                // and a ring with entries past its tail then made the pass
                // wait above for a grace period begun after the snapshot.
                unsafe { self.drain_record(rec, &mut st, upto) };
            }
            // After our own drain, so that it does not count as the owner's.
            rec.reclaimer_seen_tail
                .store(rec.ring.tail(), Ordering::Relaxed);
        }
        let n = spilled.len() as u64;
        // SAFETY: batches collected before this pass's grace period (closed
        // ones, and during a barrier the open ones, whose sections began
        // before it), or the overflow list, taken before it too; each is
        // now owned here only.
        unsafe { with_callbacks(self, |run| spilled.into_iter().for_each(run)) };
        if n > 0 {
            self.counters
                .overflow_reclaimed
                .fetch_add(n, Ordering::Relaxed);
        }
        self.forget_exited();
    }

    /// How far this pass frees the ring of an owner that is pushing and has
    /// not freed anything itself since the last pass: up to a snapshot at
    /// least one reclaim interval old, if there is one. Such an owner frees
    /// its own entries at its checkpoints, from its own heap; when this
    /// thread frees them instead, the owner's next allocations miss its
    /// malloc cache.
    /// An owner that queues too slowly to reach a checkpoint still sees its
    /// entries freed within about two intervals. Pass lock held.
    fn aged_upto(&self, rec: &ThreadRecord, snap: usize, clock: u64) -> usize {
        let since = rec.aging_since.load(Ordering::Relaxed);
        let interval = self.config.reclaim_interval.as_nanos() as u64;
        if clock.saturating_sub(since) < interval {
            return rec.ring.tail(); // nothing aged yet
        }
        rec.aging_since.store(clock, Ordering::Relaxed);
        rec.aging_pos.swap(snap, Ordering::Relaxed)
    }

    /// Nanoseconds on the reclaimer's clock. Under loom, whose models must
    /// replay identically, one reclaim interval per pass instead.
    fn reclaimer_clock(&self) -> u64 {
        if cfg!(loom) {
            let interval = self.config.reclaim_interval.as_nanos() as u64;
            return self.counters.passes.fetch_add(1, Ordering::Relaxed) * interval + interval;
        }
        self.created.elapsed().as_nanos() as u64
    }

    /// Moves `rec`'s spilled batches (closed ones; open ones too if
    /// `with_open`) into `out`.
    pub(crate) fn collect_spill(
        &self,
        rec: &ThreadRecord,
        with_open: bool,
        out: &mut Vec<Retired>,
    ) {
        let mut s = lock(&rec.spill);
        out.extend(s.waiting.drain(..).flat_map(|(_, b)| b));
        if with_open {
            out.append(&mut s.open);
        }
        rec.spill_waiting.store(false, Ordering::Relaxed);
    }

    /// Removes records of exited threads once nothing is left in them.
    fn forget_exited(&self) {
        let mut reg = lock(&self.registry);
        reg.retain(|r| {
            if !r.removable() {
                return true;
            }
            self.counters
                .exited_queued
                .fetch_add(r.queued.load(Ordering::Relaxed), Ordering::Relaxed);
            self.counters
                .exited_reclaimed
                .fetch_add(r.reclaimed.load(Ordering::Relaxed), Ordering::Relaxed);
            false
        });
    }

    /// Stops the reclaimer and reclaims everything still queued.
    pub(crate) fn shutdown(&self) {
        let s = &self.signal;
        s.shutdown.store(true, Ordering::SeqCst);
        {
            let _g = s.mutex.lock().unwrap_or_else(|e| e.into_inner());
            s.cv.notify_one();
        }
        let handle = s.thread.lock().unwrap_or_else(|e| e.into_inner()).take();
        match handle {
            // The last handle was dropped by a callback on the reclaimer
            // itself: its loop ends after this pass and drains everything.
            Some(h) if h.thread().id() == std::thread::current().id() => {}
            // The reclaimer drains everything before it exits. It catches
            // destructor panics, so a join error would be a bug of ours.
            Some(h) => h.join().expect("the urcu reclaimer thread panicked"),
            None => self.final_drain(),
        }
    }

    pub(crate) fn stats(&self) -> Stats {
        let c = &self.counters;
        let mut s = Stats {
            flavor: self.flavor,
            grace_periods: c.grace_periods.load(Ordering::Relaxed),
            caller_fallbacks: c.caller_fallbacks.load(Ordering::Relaxed),
            overflow_spills: c.overflow_spills.load(Ordering::Relaxed),
            destructor_panics: c.destructor_panics.load(Ordering::Relaxed),
            stalls_reported: c.stalls_reported.load(Ordering::Relaxed),
            stall_hook_panics: c.stall_hook_panics.load(Ordering::Relaxed),
            writer_wait_timeouts: c.writer_wait_timeouts.load(Ordering::Relaxed),
            grace_period_sleeps: c.gp_sleeps.load(Ordering::Relaxed),
            longest_grace_period: Duration::from_nanos(c.longest_gp_ns.load(Ordering::Relaxed)),
            ..Stats::default()
        };
        // Relaxed loads, one by one: a snapshot (see `Stats`), not a
        // consistent cut.
        let reg = lock(&self.registry);
        let mut reclaimed = c.overflow_reclaimed.load(Ordering::Relaxed)
            + c.exited_reclaimed.load(Ordering::Relaxed);
        reclaimed += reg
            .iter()
            .map(|r| r.reclaimed.load(Ordering::Relaxed))
            .sum::<u64>();
        s.queued = c.exited_queued.load(Ordering::Relaxed)
            + reg
                .iter()
                .map(|r| r.queued.load(Ordering::Relaxed))
                .sum::<u64>();
        s.reclaimed = reclaimed;
        s.threads = reg.len();
        s
    }
}
