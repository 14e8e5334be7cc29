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
//! odd and then runs a `SeqCst` fence (and, for `memb`, membarrier). If the
//! ticket read `gp_seq` before that store, its fence precedes the grace
//! period's, so the reader scan that follows sees everything the caller did
//! before the ticket (in particular, unpublishing).
//!
//! The end of a grace period needs no barrier on the readers' side: every
//! store that takes a reader word out of the old phase (an exit, a later
//! entry, a quiescent state) is a release, or follows a fence (QSBR's
//! `offline`), and the scan reads the word with acquire. So the sections
//! waited for happen before `gp_seq`'s release store that ends the grace
//! period, and so before any free its tickets allow. `memb` thus makes one
//! `membarrier` call per grace period (before the scan, so that readers
//! entering after it see what was unpublished), where liburcu makes two.
//!
//! # Waiting
//!
//! Two layers, one calling the other: [`Core::wait_as`] waits on behalf of
//! a thread (it refuses to wait inside that thread's own section, and takes
//! a QSBR thread offline meanwhile); [`Core::run_until`] runs (or shares)
//! grace periods until a ticket completes, for a caller that is no reader.

use crate::flavor::{phase, qsbr, Flavor};
use crate::record::{in_orphaned_section, ThreadRecord};
use crate::stall::{check_not_in_stall_hook, in_stall_hook_of, StallReport};
use crate::state::Core;
use crate::stats::Counters;
use crate::sync::{fence, lock, try_lock, Arc, Ordering};
use std::time::{Duration, Instant};

/// Scans of the readers before a waiting writer goes to sleep.
const ACTIVE_ATTEMPTS: u32 = if cfg!(loom) { 2 } else { 100 };
/// The longest a writer sleeps before it looks again without a wake-up.
const MAX_SLEEP: Duration = Duration::from_millis(10);
/// The same for `mb`, whose readers may miss waking a writer that is just
/// going to sleep (see `flavor::mb::exit`).
const MB_MAX_SLEEP: Duration = Duration::from_millis(1);

impl Core {
    /// A ticket: the `gp_seq` value at which every section that began
    /// before this call has ended (see the module docs).
    pub(crate) fn start_poll(&self) -> u64 {
        fence(Ordering::SeqCst);
        let s = self.gp_seq.load(Ordering::Relaxed);
        (s + 3) & !1
    }

    /// Whether the ticket `target` has completed. Never blocks.
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

    /// Waits for `target` on behalf of the thread owning `rec` (if it has
    /// joined the domain), giving up at `deadline` (none: never); returns
    /// whether `target` was reached.
    ///
    /// # Panics
    /// If that thread is inside a read-side section (it would wait for
    /// itself); `what` names the operation in the message.
    pub(crate) fn wait_as(
        &self,
        rec: Option<&ThreadRecord>,
        target: u64,
        what: &str,
        deadline: Option<Instant>,
    ) -> bool {
        if self.poll(target) {
            return true;
        }
        if rec.is_some_and(|r| r.nesting() > 0) || in_orphaned_section(self.id) {
            in_section_panic(what);
        }
        // A QSBR thread online through its handle holds no guard (checked
        // above), so it is quiescent: offline while we wait, or the grace
        // period would wait for us.
        let qsbr_online = rec.filter(|r| self.flavor == Flavor::Qsbr && r.handle_online());
        if let Some(r) = qsbr_online {
            r.qsbr_offline();
        }
        let reached = self.run_until(target, rec, deadline);
        if let Some(r) = qsbr_online {
            r.qsbr_online();
        }
        reached
    }

    /// Runs grace periods (or waits for the one another thread runs) until
    /// `target` is reached; gives up at `deadline` (none: never) and
    /// returns whether it was reached. The caller is not a reader of this
    /// domain ([`wait_as`](Self::wait_as) checks that); `me` is its own
    /// record, if it has one: quiescent for the whole wait, so grace
    /// periods run here need not look at it.
    ///
    /// A grace period this call runs that still waits for readers at the
    /// deadline ends as not run. While another thread runs the grace
    /// period (the reclaimer, usually), a call with a deadline naps and
    /// looks again rather than block on `gp_lock`, which it could not
    /// leave in time.
    pub(crate) fn run_until(
        &self,
        target: u64,
        me: Option<&ThreadRecord>,
        deadline: Option<Instant>,
    ) -> bool {
        if self.poll(target) {
            return true;
        }
        check_not_in_stall_hook(self.id, "a grace-period wait");
        let Some(deadline) = deadline else {
            let mut readers = lock(&self.gp_lock);
            while !self.poll(target) {
                self.run_grace_period(&mut readers, me, None);
            }
            return true;
        };
        let mut naps = 0u32;
        loop {
            if let Some(mut readers) = try_lock(&self.gp_lock) {
                while !self.poll(target) {
                    if !self.run_grace_period(&mut readers, me, Some(deadline)) {
                        return false;
                    }
                }
                return true;
            }
            if Instant::now() >= deadline {
                return self.poll(target);
            }
            nap(&mut naps);
            if self.poll(target) {
                return true;
            }
        }
    }

    /// One grace period; `readers` is the scratch list kept under
    /// `gp_lock`. Returns false, the grace period ended as not run, if
    /// readers still held it at `deadline`.
    fn run_grace_period(
        &self,
        readers: &mut Vec<Arc<ThreadRecord>>,
        me: Option<&ThreadRecord>,
        deadline: Option<Instant>,
    ) -> bool {
        let seq = self.gp_seq.load(Ordering::Relaxed);
        self.gp_seq.store(seq + 1, Ordering::Relaxed);
        // Nothing below should unwind (the stall hook's panics are caught),
        // but if something does, the grace period must end as *not* run:
        // `gp_seq` back to even `seq`, so that no ticket completes early
        // and the parity tickets rely on holds. Relaxed: the lock's release
        // publishes it to the next grace period; `poll` reads no completion.
        let abort = AbortGracePeriod { core: self, seq };
        // Orders the odd `gp_seq` before everything below (see the module
        // docs: a ticket that missed it was taken after a fence that comes
        // first), and comes before our look at the registry, so it also
        // happens before the reads of any thread that registers later.
        fence(Ordering::SeqCst);
        readers.extend(
            lock(&self.registry)
                .iter()
                .filter(|r| !me.is_some_and(|me| std::ptr::eq(&***r, me)))
                .cloned(),
        );
        if readers.is_empty() {
            // No other thread is registered, so none is in a section: a
            // thread registers (under the registry lock) before its first
            // `read_lock`, and a record leaves the registry only after its
            // owner exited outside any section. Nothing to wait for:
            // - a reader that registers from now on takes the registry
            //   lock after us, so the fence above happens before its reads,
            //   and comes later in the SeqCst order than the fence of any
            //   ticket this grace period completes: it sees what the
            //   ticket's taker unpublished before taking it;
            // - a reader that left the registry did so after its last
            //   section ended (release/acquire through its reader word,
            //   `alive` and the registry lock), before our look at it.
            // liburcu's `synchronize_rcu` returns on an empty registry too.
        } else {
            let done = self.wait_for_registered(readers, deadline);
            readers.clear();
            if !done {
                // `abort` resets `gp_seq`: no ticket completes.
                return false;
            }
        }
        std::mem::forget(abort);
        // Release pairs with `poll`'s acquire.
        self.gp_seq.store(seq + 2, Ordering::Release);
        Counters::bump(&self.counters.grace_periods);
        true
    }

    /// The body of a grace period with other threads registered; false if
    /// readers still held it at `deadline`.
    fn wait_for_registered(
        &self,
        readers: &[Arc<ThreadRecord>],
        deadline: Option<Instant>,
    ) -> bool {
        // Started when a reader is first found in its section: a grace
        // period that never waits is not timed (two clock reads would be
        // a third of its cost).
        let mut clock = None;
        // `memb` readers fence only the compiler: membarrier orders them.
        // The other flavors' barrier is the fence `run_grace_period` ran.
        if self.flavor == Flavor::Memb {
            crate::sys::heavy_barrier();
        }
        let gp_ctr = &self.hot.gp_ctr;
        match self.flavor {
            Flavor::Memb | Flavor::Mb => {
                // Readers still in a section from before the previous flip.
                if !self.wait_for_readers(readers, &mut clock, deadline, |c| {
                    phase::holds_old_phase(c, gp_ctr.load(Ordering::Relaxed))
                }) {
                    return false;
                }
                // Our scan above completes before the flip becomes visible.
                fence(Ordering::SeqCst);
                gp_ctr.store(
                    gp_ctr.load(Ordering::Relaxed) ^ phase::PHASE,
                    Ordering::Relaxed,
                );
                // The flip is visible before we scan again.
                fence(Ordering::SeqCst);
                if !self.wait_for_readers(readers, &mut clock, deadline, |c| {
                    phase::holds_old_phase(c, gp_ctr.load(Ordering::Relaxed))
                }) {
                    return false;
                }
            }
            Flavor::Qsbr => {
                gp_ctr.store(
                    gp_ctr.load(Ordering::Relaxed) + qsbr::GP_STEP,
                    Ordering::Relaxed,
                );
                fence(Ordering::SeqCst);
                if !self.wait_for_readers(readers, &mut clock, deadline, |c| {
                    qsbr::holds(c, gp_ctr.load(Ordering::Relaxed))
                }) {
                    return false;
                }
            }
        }
        // The sections we waited for are over: each reader word we saw
        // out of the old phase was a release store (an exit's 0, a later
        // entry or a quiescent state), read with acquire, so their loads
        // happen before what follows (the frees, through `gp_seq`). Unlike
        // liburcu, whose memb readers leave with a plain store and so need
        // a second membarrier here, a grace period makes one system call.
        fence(Ordering::SeqCst);
        if let Some(start) = clock {
            let ns = start.elapsed().as_nanos().min(u64::MAX as u128) as u64;
            self.counters.longest_gp_ns.fetch_max(ns, Ordering::Relaxed);
        }
        true
    }

    /// Runs the domain's stall hook. A panic in it is caught and counted
    /// (the first one is also reported on stderr): it must not unwind
    /// through the grace period, nor kill the reclaimer thread. While it
    /// runs, this thread may not wait for a grace period of this domain (it
    /// holds `gp_lock`): `run_until` and `pass` panic instead, and that
    /// panic is caught here like any other.
    fn run_stall_hook(&self, report: &StallReport) {
        let outcome = in_stall_hook_of(self.id, || {
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                (self.config.stall_hook)(report)
            }))
        });
        if outcome.is_err() {
            let before = self
                .counters
                .stall_hook_panics
                .fetch_add(1, Ordering::Relaxed);
            if before == 0 {
                eprintln!(
                    "urcu: the on_stall hook of domain {} panicked; the panic was caught and the \
                     grace period goes on (later hook panics are only counted, in \
                     Stats::stall_hook_panics)",
                    self.id
                );
            }
        }
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

    /// Waits until `holds(reader word)` is false for every reader; false
    /// if some still held at `deadline`. `clock` is when this grace period
    /// first had to wait (set here if unset).
    fn wait_for_readers(
        &self,
        readers: &[Arc<ThreadRecord>],
        clock: &mut Option<Instant>,
        deadline: Option<Instant>,
        holds: impl Fn(usize) -> bool,
    ) -> bool {
        // The common case, readers outside their sections: no list built.
        if !readers.iter().any(|r| holds(r.reader_word())) {
            return true;
        }
        let start = *clock.get_or_insert_with(Instant::now);
        let mut waiting: Vec<&ThreadRecord> = readers.iter().map(|r| &**r).collect();
        let mut attempts = 0;
        let mut reported = false;
        loop {
            waiting.retain(|r| holds(r.reader_word()));
            if waiting.is_empty() {
                return true;
            }
            attempts += 1;
            if attempts < ACTIVE_ATTEMPTS {
                crate::sync::spin_hint();
                continue;
            }
            // Name the readers we wait for, make that visible to them
            // (their exit path reads the mask after clearing their word),
            // and look once more before sleeping. Only those readers wake
            // us: the others leave their sections without a system call,
            // and we pay no barrier for them, however long one section
            // keeps us waiting.
            self.hot
                .arm_wake(waiting.iter().fold(0, |m, r| m | r.wake_bit()));
            self.heavy_barrier();
            waiting.retain(|r| holds(r.reader_word()));
            if waiting.is_empty() {
                self.hot.disarm_wake();
                return true;
            }
            let now = Instant::now();
            if deadline.is_some_and(|d| now >= d) {
                self.hot.disarm_wake();
                return false;
            }
            let waited = now.duration_since(start);
            let timeout = self.config.stall_timeout;
            if !reported && waited >= timeout {
                reported = true;
                Counters::bump(&self.counters.stalls_reported);
                let report = StallReport {
                    waited,
                    threads: waiting.iter().map(|r| r.name.clone()).collect(),
                };
                self.run_stall_hook(&report);
            }
            let until_stall = if reported {
                MAX_SLEEP
            } else {
                timeout.saturating_sub(waited)
            };
            let until_stall = match deadline {
                Some(d) => until_stall.min(d.duration_since(now)),
                None => until_stall,
            };
            let longest = if self.flavor == Flavor::Mb {
                MB_MAX_SLEEP
            } else {
                MAX_SLEEP
            };
            Counters::bump(&self.counters.gp_sleeps);
            if cfg!(loom) && self.flavor == Flavor::Mb {
                // `mb` readers may miss our wake by design (see
                // `flavor::mb::exit`): only the timeout ends such a sleep,
                // which loom's futex (no timeout) cannot model. Look again.
                crate::sync::spin_hint();
            } else {
                crate::sys::futex_wait(
                    &self.hot.gp_futex,
                    -1,
                    until_stall.clamp(Duration::from_micros(1), longest),
                );
            }
            self.hot.disarm_wake();
        }
    }
}

#[cold]
#[track_caller]
pub(crate) fn in_section_panic(what: &str) -> ! {
    panic!(
        "{what} called inside a read-side section of the same domain: it would wait for this \
         thread's own section to end, which is a deadlock. Drop every ReadGuard of this domain on \
         this thread first (or use rcu_reclaim_queue/defer, which never wait inside a section)"
    )
}

/// A pause while another thread runs the grace period a deadline-bound
/// wait needs: spins first (a grace period without sleeping readers takes
/// microseconds), then yields (on a machine with fewer cores than threads
/// the runner may need ours), then sleeps up to 1 ms.
fn nap(naps: &mut u32) {
    *naps += 1;
    if cfg!(loom) || *naps <= 64 {
        crate::sync::spin_hint();
    } else if *naps <= 128 {
        std::thread::yield_now();
    } else {
        let micros = 1u64 << (*naps - 128).min(10);
        std::thread::sleep(Duration::from_micros(micros));
    }
}

/// Ends an interrupted grace period as not run (see `run_grace_period`).
struct AbortGracePeriod<'a> {
    core: &'a Core,
    seq: u64,
}

impl Drop for AbortGracePeriod<'_> {
    fn drop(&mut self) {
        self.core.hot.disarm_wake();
        self.core.gp_seq.store(self.seq, Ordering::Relaxed);
    }
}
