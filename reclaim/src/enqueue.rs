//! The producer side of the reclamation queue: the wait-free push, the
//! checkpoints through which a thread frees its own entries once their
//! grace period has elapsed, and what happens when the ring is full.

use crate::queue::Retired;
use crate::reclaimer::{in_callback, with_callbacks, Wake};
use crate::record::{checkpoint_interval, in_orphaned_section, Checkpoint, ThreadRecord};
use crate::state::Core;
use crate::stats::Counters;
use crate::sync::{lock, try_lock, Ordering};

/// Ring words between two steps of freeing (see `Core::checkpoint`), and
/// the entries one step frees: as many as were pushed meanwhile (a word
/// is an entry while the drop function repeats), fewer than glibc's
/// per-thread cache holds of one size (7). Twice that while the ring is
/// more than three quarters full, to catch up.
const FREE_STEP_WORDS: usize = 4;
/// Ring words between two looks at a ticket that has not elapsed yet.
const POLL_STEP_WORDS: usize = 64;

impl Core {
    /// Queues `r` on `rec`, the calling thread's own record.
    #[inline]
    pub(crate) fn enqueue(&self, rec: &ThreadRecord, r: Retired) {
        if !rec.try_push(r) {
            self.enqueue_full(rec, r);
        }
        if rec.checkpoint_due() {
            self.checkpoint(rec);
        }
        // Relaxed: a hint, read on every enqueue; a producer that misses it
        // leaves its entries to the reclaimer's next timed look.
        if self.reclaimer_idle.load(Ordering::Relaxed) {
            self.wake_reclaimer(Wake::FromIdle);
        }
    }

    /// Every [`checkpoint_interval`] words: take a ticket for what is
    /// queued now. In between, every [`FREE_STEP_WORDS`] words while
    /// entries wait to be freed: free a few of those whose grace period
    /// has elapsed.
    ///
    /// A few at a time, not a checkpoint's worth at once, because the
    /// owner allocates as it retires: a handful of frees land in the
    /// allocator's small per-thread cache, from which the next allocations
    /// are served, where thousands at once overflow it into shared lists
    /// that take a locked instruction per object each way (glibc's tcache
    /// holds 7 objects of a size; BENCHMARKS.md, "Retirement").
    #[cold]
    fn checkpoint(&self, rec: &ThreadRecord) {
        let pos = rec.ring.owner_head();
        let due = rec.with_checkpoints(|c| (pos.wrapping_sub(c.next_checkpoint) as isize) >= 0);
        if due {
            self.free_spilled(rec);
            let ticket = self.start_poll();
            let interval = checkpoint_interval(&rec.ring);
            rec.with_checkpoints(|c| {
                c.push(Checkpoint { pos, ticket });
                c.next_checkpoint = pos.wrapping_add(interval);
            });
            self.wake_reclaimer(Wake::Pass);
        }
        let queued = pos.wrapping_sub(rec.ring.tail());
        let limit = if queued > rec.ring.capacity() / 4 * 3 {
            2 * FREE_STEP_WORDS
        } else {
            FREE_STEP_WORDS
        };
        self.free_some_elapsed(rec, limit as u64);
        rec.with_checkpoints(|c| {
            let next_look = if c.free_upto.is_some() {
                FREE_STEP_WORDS
            } else if c.waiting() {
                POLL_STEP_WORDS
            } else {
                usize::MAX
            };
            // Positions wrap: compare distances from here.
            let to_checkpoint = c.next_checkpoint.wrapping_sub(pos);
            c.next_at = if next_look < to_checkpoint {
                pos.wrapping_add(next_look)
            } else {
                c.next_checkpoint
            };
        });
    }

    /// Frees this thread's entries whose grace period has already elapsed,
    /// unless another thread is draining the ring right now.
    fn free_elapsed(&self, rec: &ThreadRecord) -> bool {
        self.free_some_elapsed(rec, u64::MAX)
    }

    /// Frees up to `limit` of this thread's entries whose grace period has
    /// elapsed, unless another thread is draining the ring right now;
    /// returns whether it drained (so that a full ring is worth another
    /// try, even if the reclaimer had freed those entries first).
    fn free_some_elapsed(&self, rec: &ThreadRecord, limit: u64) -> bool {
        let Some(upto) = rec.with_checkpoints(|c| {
            if let Some(upto) = c.take_elapsed(|t| self.poll(t)) {
                c.free_upto = Some(upto);
            }
            c.free_upto
        }) else {
            return false;
        };
        if rec.draining.get() {
            return false;
        }
        let Some(mut st) = try_lock(&rec.drain) else {
            return false;
        };
        rec.draining.set(true);
        // SAFETY: the lock is held; `upto` is a checkpoint whose ticket
        // has elapsed.
        unsafe { self.drain_record_some(rec, &mut st, upto, limit) };
        rec.draining.set(false);
        if (upto.wrapping_sub(rec.ring.tail()) as isize) <= 0 {
            rec.with_checkpoints(|c| {
                if c.free_upto == Some(upto) {
                    c.free_upto = None;
                }
            });
        }
        true
    }

    #[cold]
    fn enqueue_full(&self, rec: &ThreadRecord, r: Retired) {
        // Each round frees the whole ring; it loops only if the destructors
        // that ran refilled it (they may queue more objects).
        loop {
            if self.free_elapsed(rec) && rec.try_push(r) {
                return;
            }
            let orphaned = in_orphaned_section(self.id);
            // An owned guard may be held by this very thread or task (see
            // `owned`): waiting could wait for it.
            let owned = self.owned_guards.load(Ordering::Relaxed) > 0;
            if rec.nesting() > 0 || rec.draining.get() || in_callback() || orphaned || owned {
                // Waiting here would deadlock (on our own section, or on a
                // drain lock we hold): spill instead.
                self.count_spill(rec);
                if rec.draining.get() || in_callback() || orphaned || rec.nesting() == 0 {
                    // A reclamation callback, a thread-local destructor
                    // while an orphaned section lives (`rec` is then not
                    // the section's record), or outside any section of
                    // ours while an owned guard lives: the domain's list,
                    // freed by the reclaimer after a later grace period.
                    lock(&self.overflow).push(r);
                    self.wake_reclaimer(Wake::Pass);
                } else {
                    // Inside our own section: a list of our own, which we
                    // free ourselves when the section ends, so pending
                    // memory stays bounded by what one section queues.
                    rec.spill_locally(r);
                }
                return;
            }
            if !self.wait_and_drain_own(rec, "rcu_reclaim_queue") {
                // A grace period stalled past the writers' patience: the
                // domain's list, as with an owned guard above.
                self.count_spill(rec);
                lock(&self.overflow).push(r);
                self.wake_reclaimer(Wake::Pass);
                return;
            }
            if rec.try_push(r) {
                return;
            }
        }
    }

    /// Counts one object spilled past `rec`'s full ring.
    fn count_spill(&self, rec: &ThreadRecord) {
        Counters::bump(&self.counters.overflow_spills);
        rec.queued
            .store(rec.queued.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
    }

    /// The section in which `rec`'s thread spilled is ending (its owner is
    /// still inside it): close its batch with a grace-period ticket and ask
    /// for a grace period. The owner then leaves the section and frees the
    /// batches whose ticket has elapsed (`free_spilled`). Never waits: a
    /// guard's drop must not block (another thread's section may be waiting
    /// on this one).
    /// Returns the batch's ticket.
    #[cold]
    pub(crate) fn close_spill_batch(&self, rec: &ThreadRecord) -> u64 {
        rec.spill_closed();
        let ticket = self.start_poll();
        {
            let mut s = lock(&rec.spill);
            let open = std::mem::take(&mut s.open);
            s.waiting.push_back((ticket, open));
            rec.spill_waiting.store(true, Ordering::Relaxed);
        }
        self.wake_reclaimer(Wake::Pass);
        ticket
    }

    /// The owner of `rec` is entering a section (or, QSBR, reporting a
    /// quiescent state) outside any section of this domain, and its
    /// previous section spilled: its ring was full and the objects it
    /// queued could not wait. Make them wait now, as a full ring outside a
    /// section does: free what has elapsed, and if spilled batches are still
    /// waiting (on the record, or taken by a reclaimer pass that has not
    /// reached their grace period), wait for a grace period and free the
    /// ring and the batches.
    /// This keeps a thread that retires through many short sections (map
    /// writes through `pin()`) within its ring plus one section's spill.
    #[cold]
    pub(crate) fn relieve_backlog(&self, rec: &ThreadRecord) {
        rec.set_backlog(false);
        // As in `enqueue_full`: these contexts must not wait (they may
        // hold a drain lock, be part of a grace period of ours, or hold an
        // owned guard).
        if rec.draining.get()
            || in_callback()
            || in_orphaned_section(self.id)
            || self.owned_guards.load(Ordering::Relaxed) > 0
        {
            return;
        }
        self.free_elapsed(rec);
        self.free_spilled(rec);
        // The batch may be on the record still, or already in a reclaimer
        // pass's hands (which frees it after its ticket): either way, it is
        // pending until the ticket elapses.
        if !rec.spill_waiting.load(Ordering::Relaxed) && self.poll(rec.backlog_ticket()) {
            return;
        }
        if self.wait_and_drain_own(rec, "a read-side section's entry") {
            self.free_spilled(rec);
        }
    }

    /// The caller fallback: waits for a grace period on behalf of `rec`'s
    /// owner (outside any section of its own), then frees its whole ring.
    /// Returns false, having freed nothing, if the grace period stalled past
    /// the writers' patience (see [`writer_wait`](Self::writer_wait)).
    fn wait_and_drain_own(&self, rec: &ThreadRecord, what: &str) -> bool {
        let upto = rec.ring.owner_head();
        if !self.writer_wait(rec, self.start_poll(), what) {
            return false;
        }
        {
            let mut st = lock(&rec.drain);
            rec.draining.set(true);
            // SAFETY: the lock is held; we waited for a ticket taken after
            // the head reached `upto`.
            unsafe { self.drain_record(rec, &mut st, upto) };
            rec.draining.set(false);
        }
        rec.with_checkpoints(|c| c.forget_upto(upto));
        true
    }

    /// Backpressure: `rec`'s owner waits for `target` so that what it
    /// queued stays within its bound, but at most `max_writer_wait`. A
    /// reader may be waiting for this very thread (a section held across
    /// a channel receive or a barrier): waiting for it without end would
    /// deadlock both. Past the limit the wait gives up, and later ones do
    /// not start until the grace period given up on has completed (the
    /// stall is over): meanwhile writers spill, as every other deferred
    /// reclamation scheme does, and the stall hook reports the reader.
    fn writer_wait(&self, rec: &ThreadRecord, target: u64, what: &str) -> bool {
        // Relaxed: a hint; `poll` acquires what the grace period did.
        if !self.poll(self.writer_waits_suspended.load(Ordering::Relaxed)) {
            return false;
        }
        Counters::bump(&self.counters.caller_fallbacks);
        // Loom has no clock: its models wait without end (the blocking
        // path; the deadline's is tested in `tests/stalls.rs`).
        let deadline = if cfg!(loom) {
            None
        } else {
            std::time::Instant::now().checked_add(self.config.max_writer_wait)
        };
        if self.wait_as(Some(rec), target, what, deadline) {
            return true;
        }
        self.writer_waits_suspended
            .fetch_max(target, Ordering::Relaxed);
        Counters::bump(&self.counters.writer_wait_timeouts);
        false
    }

    /// Frees `rec`'s spilled batches whose grace period has elapsed.
    pub(crate) fn free_spilled(&self, rec: &ThreadRecord) {
        if !rec.spill_waiting.load(Ordering::Relaxed) || rec.draining.get() || in_callback() {
            return;
        }
        let mut ready = Vec::new();
        {
            let mut s = lock(&rec.spill);
            while s.waiting.front().is_some_and(|(t, _)| self.poll(*t)) {
                ready.extend(s.waiting.pop_front().map(|(_, b)| b).into_iter().flatten());
            }
            rec.spill_waiting
                .store(!s.waiting.is_empty(), Ordering::Relaxed);
        }
        if !ready.is_empty() {
            let n = ready.len() as u64;
            // SAFETY: batches whose ticket has elapsed, taken off the
            // record under its spill lock: each is ours only.
            unsafe { with_callbacks(self, |run| ready.into_iter().for_each(run)) };
            self.counters
                .overflow_reclaimed
                .fetch_add(n, Ordering::Relaxed);
        }
    }
}
