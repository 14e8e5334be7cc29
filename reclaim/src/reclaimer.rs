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
//! (a producer that finds it idle wakes it at once). Everything that wakes
//! it goes through [`Core::wake_reclaimer`]. Its flags live with the rest
//! of the domain's state ([`ReclaimerSignal`](crate::state::ReclaimerSignal)).
//!
//! Every reclamation callback (a destructor, a deferred closure) runs
//! through [`with_callbacks`], which catches its panics and marks the thread
//! as inside one ([`in_callback`]), wherever the drain happens.

use crate::queue::{DrainState, Retired};
use crate::record::ThreadRecord;
use crate::state::Core;
use crate::sync::{lock, Arc, Ordering};
use std::cell::Cell;
use std::time::Duration;

/// How long an idle reclaimer sleeps before it looks anyway (this bounds the
/// delay after a lost race with a producer that found it idle).
const IDLE_SLEEP: Duration = Duration::from_secs(1);
/// Rounds of draining at shutdown (destructors may queue more objects).
const SHUTDOWN_ROUNDS: usize = 64;

/// Why [`Core::wake_reclaimer`] is called; each asks for a pass soon, and
/// some set a flag first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Wake {
    /// Entries wait for a grace period (a checkpoint passed, something
    /// spilled).
    Pass,
    /// As `Pass`, from a producer that found the reclaimer idle, or from a
    /// thread that exited: marks it busy first, so that other producers
    /// stop asking.
    FromIdle,
    /// A grace period even if no queue holds anything (someone polls a
    /// ticket, [`Domain::request_grace_period`](crate::Domain::request_grace_period)).
    GracePeriod,
    /// As `GracePeriod`, but a busy reclaimer is left to its schedule: it
    /// runs the grace period at its next pass, within `reclaim_interval`.
    /// Only an idle one (asleep for [`IDLE_SLEEP`]) is woken.
    /// ([`Domain::request_grace_period_lazily`](crate::Domain::request_grace_period_lazily).)
    LazyGracePeriod,
}

impl Core {
    /// Wakes the reclaimer (starting its thread on first use) for a pass
    /// soon; the one way in for every caller that wants one. Returns at
    /// once.
    pub(crate) fn wake_reclaimer(&self, why: Wake) {
        match why {
            Wake::Pass => {}
            Wake::FromIdle => self.reclaimer_idle.store(false, Ordering::Relaxed),
            Wake::GracePeriod => {
                // Read first: many writers may ask at once; only the first
                // stores. Relaxed: see `ReclaimerSignal::gp_requested`.
                if !self.signal.gp_requested.load(Ordering::Relaxed) {
                    self.signal.gp_requested.store(true, Ordering::Relaxed);
                }
            }
            Wake::LazyGracePeriod => {
                // SeqCst store of the request, then SeqCst load of
                // `reclaimer_idle`, against the reclaimer's SeqCst store of
                // `reclaimer_idle`, then load of the request, before an idle
                // sleep (`reclaimer_main`): either it sees the request and
                // sleeps only `reclaim_interval`, or we see it idle and
                // wake it. A request already set was stored that way too.
                if !self.signal.gp_requested.load(Ordering::Relaxed) {
                    self.signal.gp_requested.store(true, Ordering::SeqCst);
                }
                if !self.reclaimer_idle.load(Ordering::SeqCst) {
                    return;
                }
            }
        }
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

    fn ensure_reclaimer(&self) {
        // Loom models play the reclaimer's part themselves, on a model thread.
        if cfg!(loom) {
            return;
        }
        let s = &self.signal;
        // Acquire pairs with the release store of `started` below, and with
        // `shutdown`'s store in `Core::shutdown` (see `ReclaimerSignal`).
        if s.started.load(Ordering::Acquire) || s.shutdown.load(Ordering::Acquire) {
            return;
        }
        let mut slot = s.thread.lock().unwrap_or_else(|e| e.into_inner());
        // Relaxed: `started` is stored under this lock.
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
        // Release: pairs with the acquire fast path above.
        s.started.store(true, Ordering::Release);
    }

    fn reclaimer_main(self: Arc<Self>) {
        let s = &self.signal;
        // The last pass ran a requested grace period: look again after
        // `reclaim_interval` rather than going idle, so that writers who
        // keep asking lazily are served once per interval, not woken for.
        let mut served_request = false;
        // Acquire (here and below) pairs with `shutdown`'s store in
        // `Core::shutdown`: the final drain sees what was queued before it.
        while !s.shutdown.load(Ordering::Acquire) {
            let pending =
                served_request || self.anything_pending() || s.gp_requested.load(Ordering::Relaxed);
            {
                let g = s.mutex.lock().unwrap_or_else(|e| e.into_inner());
                // The wake-up handshake with `wake_reclaimer` (SeqCst: store
                // `sleeping`, then load `wanted`), and the shutdown check
                // under `mutex`, which `Core::shutdown` takes to notify.
                s.sleeping.store(true, Ordering::SeqCst);
                if !s.wanted.load(Ordering::SeqCst) && !s.shutdown.load(Ordering::SeqCst) {
                    let mut wait = if pending {
                        self.config.reclaim_interval
                    } else {
                        IDLE_SLEEP
                    };
                    if !pending {
                        // SeqCst: the handshake with lazy requests (see
                        // `Wake::LazyGracePeriod`); one made before this
                        // store may have found us busy and not woken us.
                        self.reclaimer_idle.store(true, Ordering::SeqCst);
                        if s.gp_requested.load(Ordering::SeqCst) {
                            wait = self.config.reclaim_interval;
                        }
                    }
                    drop(s.cv.wait_timeout(g, wait));
                }
                // Relaxed: only spares wakers a notify while we are awake.
                s.sleeping.store(false, Ordering::Relaxed);
            }
            if s.shutdown.load(Ordering::Acquire) {
                break;
            }
            // Relaxed: a request that this store overwrites, or whose
            // entries the pass below misses, waits for the next look, at
            // most `reclaim_interval` away (pending entries keep the
            // sleep that short).
            s.wanted.store(false, Ordering::Relaxed);
            // Read first: producers read this word on every enqueue.
            if self.reclaimer_idle.load(Ordering::Relaxed) {
                self.reclaimer_idle.store(false, Ordering::Relaxed);
            }
            served_request = s.gp_requested.load(Ordering::Relaxed);
            self.pass(false);
        }
        self.final_drain();
    }

    /// Drains everything, repeatedly, since destructors may queue more.
    pub(crate) fn final_drain(&self) {
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
        // SAFETY: our contract is `drain_record_some`'s.
        unsafe { self.drain_record_some(rec, st, upto, u64::MAX) };
    }

    /// Drains at most `limit` entries of `rec` before `upto`.
    ///
    /// # Safety
    /// As for [`drain_record`](Self::drain_record).
    pub(crate) unsafe fn drain_record_some(
        &self,
        rec: &ThreadRecord,
        st: &mut DrainState,
        upto: usize,
        limit: u64,
    ) {
        // SAFETY: under the drain lock each entry is drained once, and the
        // entries before `upto` have had their grace period (our contract).
        let n = unsafe { with_callbacks(self, |run| rec.ring.drain_some(st, upto, limit, run)) };
        if n > 0 {
            rec.add_reclaimed(n);
        }
    }

    /// One reclamation pass; `flush` drains everything queued before it.
    pub(crate) fn pass(&self, flush: bool) {
        crate::stall::check_not_in_stall_hook(self.id, "a reclaimer pass (rcu_barrier)");
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
            let reached = self.run_until(target, None, None);
            debug_assert!(reached, "a wait without a deadline ends at its target");
        }
        let clock = self.reclaimer_clock();
        for (rec, &snap) in records.iter().zip(&snaps) {
            let seen = rec.reclaimer_seen.swap(snap, Ordering::Relaxed);
            // Acquire pairs with the owner's release of `alive` at thread
            // exit (`Registrations::drop`): its last pushes are visible.
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
    /// its own entries after its checkpoints, a few per push, from its own
    /// heap; when this thread frees them instead, the owner's next
    /// allocations miss its malloc cache.
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
}

crate::sync::const_thread_local! {
    /// Set while this thread runs reclamation callbacks.
    static IN_CALLBACK: Cell<bool> = Cell::new(false);
}

/// Whether this thread is running a reclamation callback.
pub(crate) fn in_callback() -> bool {
    IN_CALLBACK.with(|c| c.get())
}

/// Runs reclamation callbacks: marks the thread as inside one (so that
/// what they call cannot wait for themselves) and hands `f` a function that
/// runs one entry, catching a panic so reclamation goes on.
///
/// # Safety
/// `f` hands the function only entries whose grace period has elapsed (one
/// that began after they were queued), each exactly once.
pub(crate) unsafe fn with_callbacks<R>(
    core: &Core,
    f: impl FnOnce(&mut dyn FnMut(Retired)) -> R,
) -> R {
    let was = IN_CALLBACK.with(|c| c.replace(true));
    let mut run = |r: Retired| {
        // SAFETY: this function's contract: each entry once, after its
        // grace period.
        let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| unsafe { r.reclaim() }));
        if let Err(payload) = res {
            let before = core
                .counters
                .destructor_panics
                .fetch_add(1, Ordering::Relaxed);
            if before == 0 {
                report_first_destructor_panic(core.id, &*payload);
            }
        }
    };
    let out = f(&mut run);
    IN_CALLBACK.with(|c| c.set(was));
    out
}

/// One stderr line for a domain's first destructor panic: the panic is
/// caught (reclamation goes on), so without it a user whose panic hook is
/// quiet would never learn that the rest of a closure did not run.
#[cold]
fn report_first_destructor_panic(domain_id: u64, payload: &(dyn std::any::Any + Send)) {
    let msg = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(a non-string panic payload)");
    eprintln!(
        "urcu: a destructor or deferred closure panicked while domain {domain_id} reclaimed it: \
         {msg}. The panic was caught and reclamation goes on; the rest of that destructor or \
         closure did not run. Later panics are only counted (Stats::destructor_panics)"
    );
}
