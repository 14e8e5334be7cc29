//! Per-thread records: a thread's reader word, its reclamation ring, and
//! the state only that thread touches.
//!
//! A record is shared (`Arc`) between its thread, the domain's registry and
//! the grace-period detector. Fields fall in three groups with one writer
//! each: the owner writes the reader word and the owner-only cells; whoever
//! holds `drain` moves the ring's tail; the reclaimer writes `reclaimer_seen`.
//!
//! Also here: the per-thread list of *orphaned* sections (a section still
//! open when the thread's registrations are destroyed), which a record's
//! slow unlock and every wait consult.
//!
//! A record reaches its domain without naming the domain's `Core` (in
//! `state`, which lists the records): the read fast path through a pointer
//! to the readers' line ([`Hot`], in `hot`), the cold paths through
//! [`RecordDomain`], which `Core` implements. So the modules depend one way:
//! `state` → `record` → `hot`.

use crate::flavor::{mb, memb, qsbr, Flavor};
use crate::hot::Hot;
use crate::queue::{DrainState, ProducerState, Retired, Ring};
use crate::sync::{AtomicBool, AtomicU64, AtomicUsize, Mutex, Ordering};
use crossbeam_utils::CachePadded;
use std::cell::{Cell, UnsafeCell};

/// Where a drainer may free up to without a grace period of its own: the
/// ring position reached when a grace-period ticket was taken.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Checkpoint {
    pub(crate) pos: usize,
    pub(crate) ticket: u64,
}

/// Ring words between two checkpoints: half the ring, so that the owner
/// fills one half while the other half's grace period runs. Each checkpoint
/// asks for a grace period (on `memb`, a `membarrier` call that
/// interrupts every running thread of the process), so the fewer per object
/// the better, as long as one checkpoint's grace period can end before the
/// ring is full.
pub(crate) fn checkpoint_interval(ring: &Ring) -> usize {
    (ring.capacity() / 2).max(1)
}

/// Up to this many checkpoints wait for their grace period per thread.
const CHECKPOINTS: usize = 4;

/// The owner's bookkeeping for freeing its own entries.
#[derive(Debug, Default)]
pub(crate) struct Checkpoints {
    marks: [Option<Checkpoint>; CHECKPOINTS],
    /// Ring position at which the owner next looks at its checkpoints (the
    /// next checkpoint or the next step of freeing, whichever comes first):
    /// the one compare the push path makes.
    pub(crate) next_at: usize,
    /// Ring position at which the next checkpoint is due.
    pub(crate) next_checkpoint: usize,
    /// Entries before this position have had their grace period and wait
    /// to be freed, a few at a time (`Core::free_some_elapsed`).
    pub(crate) free_upto: Option<usize>,
}

impl Checkpoints {
    /// Whether any checkpoint still waits for its grace period.
    pub(crate) fn waiting(&self) -> bool {
        self.marks[0].is_some()
    }

    pub(crate) fn push(&mut self, c: Checkpoint) {
        match self.marks.iter_mut().find(|m| m.is_none()) {
            Some(slot) => *slot = Some(c),
            // All waiting: the newest absorbs this one (a later ticket and a
            // later position cover everything the older one did).
            None => self.marks[CHECKPOINTS - 1] = Some(c),
        }
    }

    /// Removes every checkpoint whose ticket `done` says has elapsed, and
    /// returns the furthest position they cover.
    pub(crate) fn take_elapsed(&mut self, done: impl Fn(u64) -> bool) -> Option<usize> {
        let mut upto = None;
        while let Some(c) = self.marks[0] {
            if !done(c.ticket) {
                break;
            }
            upto = Some(c.pos);
            self.marks.rotate_left(1);
            self.marks[CHECKPOINTS - 1] = None;
        }
        upto
    }

    /// Forgets checkpoints at or before `pos` (already drained).
    pub(crate) fn forget_upto(&mut self, pos: usize) {
        if self
            .free_upto
            .is_some_and(|f| (pos.wrapping_sub(f) as isize) >= 0)
        {
            self.free_upto = None;
        }
        while let Some(c) = self.marks[0] {
            if (pos.wrapping_sub(c.pos) as isize) < 0 {
                break;
            }
            self.marks.rotate_left(1);
            self.marks[CHECKPOINTS - 1] = None;
        }
    }
}

/// Entries spilled inside read-side sections: the batch of the section in
/// progress, and closed batches waiting for their grace-period ticket.
#[derive(Default)]
pub(crate) struct Spill {
    pub(crate) open: Vec<Retired>,
    pub(crate) waiting: std::collections::VecDeque<(u64, Vec<Retired>)>,
}

/// The owner's cache line: its reader word and its section state.
pub(crate) struct ReaderLine {
    /// Owner-only: the nesting depth in units of [`state::NEST`], and in the
    /// low bits the flags that send the outermost lock or unlock out of line
    /// (see [`state`]). Zero when a `memb` thread with nothing special
    /// pending is outside any section, so the common lock compares the word
    /// with zero and the common unlock with one level, and both store a
    /// constant: one word, where a depth and two mode bytes cost a load and
    /// a test each.
    state: Cell<usize>,
    /// The reader word the detector reads; zero when quiescent.
    pub(crate) ctr: AtomicUsize,
    /// The domain's readers' line, which the fast paths read. It lives in
    /// the domain's core: valid while the domain lives, which every path
    /// that reaches it (a guard, a handle, a domain call) guarantees.
    hot: *const Hot,
    /// This reader's bit in [`Hot::wake_mask`].
    wake_bit: u64,
    /// The domain's id, copied from it (a guard carries it; an orphaned
    /// section is tracked by it).
    domain_id: u64,
    /// QSBR: online because a `ThreadHandle` is (not just for one guard).
    handle_online: Cell<bool>,
    /// QSBR: a domain-level guard brought the thread online; go offline
    /// when the outermost guard drops.
    guard_online: Cell<bool>,
    /// Entries were spilled during the current section.
    spill_pending: Cell<bool>,
    /// The thread's registrations are gone while a section of this record
    /// is still open (a guard kept in a thread-local destroyed later): the
    /// record may be freed once that section ends, so its last unlock takes
    /// the slow path, which reads what it needs first.
    orphaned: Cell<bool>,
    /// The previous section spilled (its ring was full): the next outermost
    /// lock first waits for a grace period and frees this thread's backlog
    /// (see `Core::relieve_backlog`), so that a thread retiring through
    /// short sections stays within its ring plus one section's spill.
    backlog: Cell<bool>,
    /// The grace-period ticket of the last spilled batch: relieving the
    /// backlog waits for it even if a reclaimer pass has already taken the
    /// batch off the record (it frees it only after that grace period).
    backlog_ticket: Cell<u64>,
    flavor: Flavor,
    /// The domain itself (its core), for the cold paths of a section's
    /// entry and exit. Valid as `hot` is.
    domain: *const dyn RecordDomain,
}

/// The owner-only section state word ([`ReaderLine::state`]): a nesting
/// depth counted in [`NEST`](state::NEST)s above four flag bits, which the owner keeps
/// up to date from the flavor and the `Cell`s beside it (`refresh_flags`).
/// The two flavors whose readers announce every section have a value each
/// for their common case: `memb` 0, `mb` [`MB`](state::MB); the locks and unlocks
/// test for those inline and leave everything else out of line.
pub(crate) mod state {
    /// The flavor is `mb`: the outermost lock fences.
    pub(super) const MB: usize = 1;
    /// The outermost lock has more to do than store the reader word: a
    /// QSBR guard brings the thread online, or a backlog is relieved first.
    pub(super) const ENTER_SLOW: usize = 2;
    /// The outermost unlock takes `read_unlock_slow`: a QSBR guard that
    /// brought the thread online, a section that spilled, an orphaned one.
    pub(super) const EXIT_SLOW: usize = 4;
    /// The outermost unlock does nothing: QSBR online through its handle.
    pub(super) const EXIT_NOTHING: usize = 8;
    /// A QSBR thread online through its handle, nothing pending.
    pub(super) const QSBR_HANDLE: usize = ENTER_SLOW | EXIT_NOTHING;
    /// All flag bits.
    pub(super) const FLAGS: usize = MB | ENTER_SLOW | EXIT_SLOW | EXIT_NOTHING;
    /// One level of nesting.
    pub(super) const NEST: usize = 16;
}

/// What a record needs of the domain it belongs to, which the domain's
/// `Core` provides (its `impl` is in `state`): when the record is made,
/// the readers' line, the domain's id and flavor and a wake bit; later, the
/// cold paths of a section's entry and exit, which take grace-period
/// tickets, wait, and free. A trait, so that this module need not name
/// `Core`, whose module lists the records: the dependency runs one way.
/// Only cold paths call through it; the fast paths read the copies kept in
/// [`ReaderLine`].
pub(crate) trait RecordDomain: Sync {
    /// The domain's readers' line (the record keeps a pointer to it).
    fn hot(&self) -> &Hot;
    /// The domain's unique id.
    fn id(&self) -> u64;
    /// The flavor the domain's readers use.
    fn flavor(&self) -> Flavor;
    /// A wake bit for a new reader (see [`Hot::wake_mask`]).
    fn new_wake_bit(&self) -> u64;
    /// `rec`'s owner enters a section, or (QSBR) reports a quiescent state,
    /// with a backlog to relieve first (`Core::relieve_backlog`).
    fn relieve_backlog(&self, rec: &ThreadRecord);
    /// `rec`'s section that spilled is ending: close its batch and return
    /// the batch's ticket (`Core::close_spill_batch`).
    fn close_spill_batch(&self, rec: &ThreadRecord) -> u64;
    /// Frees `rec`'s spilled batches whose grace period has elapsed
    /// (`Core::free_spilled`).
    fn free_spilled(&self, rec: &ThreadRecord);
}

/// The flag bits of [`ReaderLine::state`] for a thread of `flavor` in the
/// given situation.
fn flags_of(
    flavor: Flavor,
    backlog: bool,
    handle_online: bool,
    guard_online: bool,
    spill_pending: bool,
    orphaned: bool,
) -> usize {
    let mut f = 0;
    if flavor == Flavor::Mb {
        f |= state::MB;
    }
    if backlog || flavor == Flavor::Qsbr {
        f |= state::ENTER_SLOW;
    }
    if guard_online || spill_pending || orphaned {
        f |= state::EXIT_SLOW;
    } else if flavor == Flavor::Qsbr && handle_online {
        f |= state::EXIT_NOTHING;
    }
    f
}

/// A thread's record in one domain.
pub(crate) struct ThreadRecord {
    pub(crate) reader: CachePadded<ReaderLine>,
    pub(crate) ring: Ring,
    producer: UnsafeCell<ProducerState>,
    checkpoints: UnsafeCell<Checkpoints>,
    /// Entries queued while the ring was full inside a section. Locked by
    /// the owner when it spills or frees, by the reclaimer when it collects.
    pub(crate) spill: Mutex<Spill>,
    /// Whether `spill.waiting` may be non-empty (set and cleared under the
    /// lock; read without it as a hint).
    pub(crate) spill_waiting: AtomicBool,
    /// Objects this thread queued (owner stores, anyone loads).
    pub(crate) queued: AtomicU64,
    /// Whether the owner is inside one of its own drains (a destructor that
    /// queues must not wait for the drain lock it holds).
    pub(crate) draining: Cell<bool>,
    /// Whether a `ThreadHandle` exists for this record.
    pub(crate) handle_live: Cell<bool>,
    /// Held by whoever drains the ring.
    pub(crate) drain: Mutex<DrainState>,
    /// Objects drained from this ring (stored under `drain`).
    pub(crate) reclaimed: AtomicU64,
    /// Cleared (release) as the owner's last act at thread exit.
    pub(crate) alive: AtomicBool,
    /// Registered after the thread's registrations were destroyed (from
    /// another thread-local's destructor): a cached pointer to it lives as
    /// long as the OS thread, so it is removed only once that has exited.
    pub(crate) pinned: bool,
    /// The OS thread that owns the record (for `pinned`).
    os_thread: i64,
    /// The reclaimer's head snapshot from its previous pass.
    pub(crate) reclaimer_seen: AtomicUsize,
    /// A head snapshot the reclaimer lets age (see `Core::aged_upto`), and
    /// when it took it (the reclaimer's clock).
    pub(crate) aging_pos: AtomicUsize,
    pub(crate) aging_since: AtomicU64,
    /// The ring's tail after the reclaimer's previous pass.
    pub(crate) reclaimer_seen_tail: AtomicUsize,
    /// For stall reports.
    pub(crate) name: String,
}

// SAFETY: the `Cell`/`UnsafeCell` fields (`reader.state`, `reader.*_online`,
// `reader.spill_pending`, `reader.orphaned`, `reader.backlog`,
// `reader.backlog_ticket`, `producer`, `checkpoints`, `draining`,
// `handle_live`) are touched only by
// the owning thread: through the thread-local registration or a
// `ThreadHandle`, which are `!Send`. Other threads reach the record through
// the registry and read only atomics and the `drain` mutex. `reader.hot` and
// `reader.domain` point into the domain's core: `Hot` is atomics only, and
// `RecordDomain: Sync`.
unsafe impl Sync for ThreadRecord {}
// SAFETY: the record is created on one thread and may be dropped on another
// (the reclaimer removes dead records); nothing in it is tied to a thread.
unsafe impl Send for ThreadRecord {}

impl ThreadRecord {
    pub(crate) fn new(
        domain: &(dyn RecordDomain + 'static),
        capacity: usize,
        pinned: bool,
    ) -> Self {
        let flavor = domain.flavor();
        let t = std::thread::current();
        let name = match t.name() {
            Some(n) => format!("{n} ({:?})", t.id()),
            None => format!("{:?}", t.id()),
        };
        let ring = Ring::new(capacity);
        let interval = checkpoint_interval(&ring);
        ThreadRecord {
            reader: CachePadded::new(ReaderLine {
                state: Cell::new(flags_of(flavor, false, false, false, false, false)),
                ctr: AtomicUsize::new(0),
                hot: domain.hot(),
                wake_bit: domain.new_wake_bit(),
                domain_id: domain.id(),
                handle_online: Cell::new(false),
                guard_online: Cell::new(false),
                spill_pending: Cell::new(false),
                orphaned: Cell::new(false),
                backlog: Cell::new(false),
                backlog_ticket: Cell::new(0),
                flavor,
                domain,
            }),
            ring,
            producer: UnsafeCell::new(ProducerState::default()),
            spill: Mutex::new(Spill::default()),
            spill_waiting: AtomicBool::new(false),
            checkpoints: UnsafeCell::new(Checkpoints {
                next_at: interval,
                next_checkpoint: interval,
                ..Default::default()
            }),
            queued: AtomicU64::new(0),
            draining: Cell::new(false),
            handle_live: Cell::new(false),
            drain: Mutex::new(DrainState::default()),
            reclaimed: AtomicU64::new(0),
            alive: AtomicBool::new(true),
            pinned,
            os_thread: crate::sys::current_os_thread(),
            reclaimer_seen: AtomicUsize::new(0),
            aging_pos: AtomicUsize::new(0),
            aging_since: AtomicU64::new(0),
            reclaimer_seen_tail: AtomicUsize::new(0),
            name,
        }
    }

    /// A record for an owned read guard: a reader word of its own, and the
    /// smallest ring (nothing is ever queued on it).
    pub(crate) fn new_owned(domain: &(dyn RecordDomain + 'static)) -> Self {
        let mut rec = ThreadRecord::new(domain, 4, false);
        rec.name = format!("owned read guard created on {}", rec.name);
        rec
    }

    /// The domain this record belongs to, for the cold paths.
    #[inline(always)]
    fn domain(&self) -> &dyn RecordDomain {
        // SAFETY: see `ReaderLine::domain`: set from a live reference to
        // the domain's core when the record was made, and the domain
        // outlives every caller.
        unsafe { &*self.reader.domain }
    }

    /// The domain's readers' line.
    #[inline(always)]
    pub(crate) fn hot(&self) -> &Hot {
        // SAFETY: see `ReaderLine::hot`: set from a live reference into the
        // domain's core when the record was made, and the domain outlives
        // every caller.
        unsafe { &*self.reader.hot }
    }

    /// The id of the domain this record belongs to.
    #[inline(always)]
    pub(crate) fn domain_id(&self) -> u64 {
        self.reader.domain_id
    }

    /// Depth of this thread's read-side sections in this domain (owner only).
    #[inline(always)]
    pub(crate) fn nesting(&self) -> u64 {
        (self.reader.state.get() / state::NEST) as u64
    }

    /// Enters a read-side section (owner only). Returns [`Self::hot`] for
    /// the guard, as read before the section's compiler fence (after it,
    /// the compiler would load it again).
    #[inline(always)]
    pub(crate) fn read_lock(&self) -> &Hot {
        let r = &*self.reader;
        if r.state.get() == 0 {
            // `memb`, outermost, nothing pending: the common case.
            let hot = self.hot();
            memb::enter(&r.ctr, &hot.gp_ctr);
            r.state.set(state::NEST);
            hot
        } else {
            // `mb`, nested, or a flavor or situation with more to do: kept
            // out of line so that the common lock runs straight through.
            // (It reads the word again: passing it would keep it in a
            // register, a load and a test where a compare with memory does.)
            self.read_lock_other()
        }
    }

    /// The locks `read_lock` does not inline: `mb`'s outermost one, nested
    /// ones, a QSBR guard's, and one with a backlog to relieve first. Each
    /// fences, waits, or is rare: the call is noise beside it.
    #[inline(never)]
    fn read_lock_other(&self) -> &Hot {
        let r = &*self.reader;
        let s = r.state.get();
        if s == state::MB {
            // `mb`, outermost, nothing pending: the fence costs far more
            // than the call.
            mb::enter(&r.ctr, &self.hot().gp_ctr);
            r.state.set(state::MB + state::NEST);
            return self.hot();
        }
        if s >= state::NEST {
            // Nested: only the depth changes. 2^60 levels take forgotten
            // guards and centuries; should it happen, panic, never wrap.
            r.state.set(
                s.checked_add(state::NEST)
                    .expect("read_lock: nesting depth overflow"),
            );
            return self.hot();
        }
        if r.backlog.get() {
            self.relieve_own_backlog();
        }
        self.enter_outermost()
    }

    /// Enters an outermost section, the backlog (if any) already dealt
    /// with: the tail of [`read_lock_other`](Self::read_lock_other).
    fn enter_outermost(&self) -> &Hot {
        let r = &*self.reader;
        match r.flavor {
            Flavor::Memb => memb::enter(&r.ctr, &self.hot().gp_ctr),
            Flavor::Mb => mb::enter(&r.ctr, &self.hot().gp_ctr),
            Flavor::Qsbr => {
                if !r.handle_online.get() {
                    qsbr::online(&r.ctr, &self.hot().gp_ctr);
                    r.guard_online.set(true);
                    // What `refresh_flags` would compute: offline before,
                    // so `EXIT_NOTHING` is clear.
                    r.state.set(r.state.get() | state::EXIT_SLOW);
                }
            }
        }
        // Re-read: relieving the backlog and coming online change the flags.
        r.state.set(r.state.get() + state::NEST);
        self.hot()
    }

    /// The backlog half of `read_lock_other`: out of line, so that a lock
    /// without a backlog does not pay for setting up the call.
    #[cold]
    #[inline(never)]
    fn relieve_own_backlog(&self) {
        self.domain().relieve_backlog(self);
    }

    /// Ends the thread's read-side section and begins another (owner
    /// only), for a guard's `repin`; returns the new section's
    /// [`Self::hot`]. Does nothing inside a nested section (the outer one
    /// goes on) or an orphaned one (once it ends, the reclaimer may free
    /// this record, so it must last until the guard drops).
    pub(crate) fn repin<'a>(&'a self, hot: &'a Hot) -> &'a Hot {
        let r = &*self.reader;
        if self.nesting() != 1 || r.orphaned.get() {
            return hot;
        }
        self.read_unlock(hot);
        if r.backlog.get() {
            // Relieving the backlog waits for a grace period and frees; should
            // it unwind (a wait requested from a stall hook panics), the guard
            // must still hold a section for its drop to end.
            struct Reenter<'r>(&'r ThreadRecord);
            impl Drop for Reenter<'_> {
                fn drop(&mut self) {
                    self.0.enter_outermost();
                }
            }
            let reenter = Reenter(self);
            self.relieve_own_backlog();
            std::mem::forget(reenter);
        }
        self.read_lock()
    }

    /// Leaves a read-side section (owner only); `hot` is [`Self::hot`],
    /// which a guard keeps in a register where the record would reload it.
    #[inline(always)]
    pub(crate) fn read_unlock(&self, hot: &Hot) {
        let r = &*self.reader;
        if r.state.get() == state::NEST {
            // `memb`, outermost, nothing pending.
            r.state.set(0);
            self.phase_exit(hot, memb::exit);
        } else if r.state.get() == state::QSBR_HANDLE + state::NEST {
            // QSBR online through its handle, outermost, nothing pending:
            // nothing shared changes. (A constant store, as above: `-=`
            // would chain every section's state through memory to the
            // next, a store-to-load forwarding each way.)
            r.state.set(state::QSBR_HANDLE);
        } else {
            self.read_unlock_other();
        }
    }

    /// The unlocks `read_unlock` does not inline: `mb`'s (whose lock
    /// fenced), nested ones, QSBR's, and those with something pending.
    #[inline(never)]
    fn read_unlock_other(&self) {
        let r = &*self.reader;
        let s = r.state.get();
        if s == state::MB + state::NEST {
            r.state.set(state::MB);
            return self.phase_exit(self.hot(), mb::exit);
        }
        let s = s - state::NEST;
        r.state.set(s);
        if s >= state::NEST {
            return; // nested
        }
        if s & state::EXIT_SLOW != 0 {
            self.read_unlock_slow();
        } else if s & state::EXIT_NOTHING == 0 {
            // A backlog is pending (its lock could not relieve it in
            // time): `memb` or `mb` leave as usual.
            if r.flavor == Flavor::Mb {
                self.phase_exit(self.hot(), mb::exit);
            } else {
                self.phase_exit(self.hot(), memb::exit);
            }
        }
        // Otherwise QSBR online through a handle: nothing to do.
    }

    /// The outermost unlock of `memb` and `mb`: clear the reader word with
    /// the flavor's `exit`, then wake a writer that waits for us.
    #[inline(always)]
    fn phase_exit(&self, hot: &Hot, exit: fn(&AtomicUsize)) {
        let r = &*self.reader;
        // The caller read `hot` before our word goes quiescent (the slow
        // path does the same for the wake bit; here the record outlives the
        // call: it is not orphaned, so the thread's registrations live, and
        // the reclaimer frees a record only after they are gone or, for one
        // registered after them, after the OS thread exited).
        exit(&r.ctr);
        hot.wake_writer_for(&r.wake_bit);
    }

    /// The outermost unlock of a QSBR guard, of a section that spilled, or
    /// of an orphaned section.
    #[inline(never)]
    fn read_unlock_slow(&self) {
        let r = &*self.reader;
        // As in `read_unlock`: read what we need before going quiescent.
        let (hot, bit) = (self.hot(), r.wake_bit);
        let spilled = r.spill_pending.get();
        let orphaned = r.orphaned.get();
        // Everything that touches the record happens before our word goes
        // quiescent: after that, an orphaned record may be freed by the
        // reclaimer at any moment. Closing the batch with a ticket taken
        // inside the section is sound: its entries were unpublished before
        // they were queued, so before the ticket.
        if spilled {
            let ticket = self.domain().close_spill_batch(self);
            if !orphaned {
                r.backlog_ticket.set(ticket);
                self.set_backlog(true);
            }
        }
        if orphaned {
            orphaned_section_ended(r.domain_id);
        }
        match r.flavor {
            Flavor::Memb => {
                memb::exit(&r.ctr);
                hot.wake_writer(bit);
            }
            Flavor::Mb => {
                mb::exit(&r.ctr);
                hot.wake_writer(bit);
            }
            // A handle's section changes nothing shared: no writer to
            // wake unless this guard had brought the thread online.
            Flavor::Qsbr => {
                if r.guard_online.get() {
                    r.guard_online.set(false);
                    self.refresh_flags();
                    qsbr::offline(&r.ctr);
                    hot.wake_writer(bit);
                }
            }
        }
        // An orphaned record's closed batches are the reclaimer's to free.
        // Any other record outlives this call (as in `read_unlock`), so its
        // domain pointer is still there to read.
        if spilled && !orphaned {
            self.domain().free_spilled(self);
        }
    }

    /// Recomputes the flag bits of `state` after a `Cell` they depend on
    /// changed (owner only); the depth is kept.
    fn refresh_flags(&self) {
        let r = &*self.reader;
        let flags = flags_of(
            r.flavor,
            r.backlog.get(),
            r.handle_online.get(),
            r.guard_online.get(),
            r.spill_pending.get(),
            r.orphaned.get(),
        );
        r.state.set(r.state.get() & !state::FLAGS | flags);
    }

    /// Whether the next outermost lock relieves a backlog (owner only).
    #[inline]
    pub(crate) fn has_backlog(&self) -> bool {
        self.reader.backlog.get()
    }

    /// The ticket of the last spilled batch (owner only).
    pub(crate) fn backlog_ticket(&self) -> u64 {
        self.reader.backlog_ticket.get()
    }

    /// Sets or clears the backlog flag (owner only).
    pub(crate) fn set_backlog(&self, backlog: bool) {
        self.reader.backlog.set(backlog);
        self.refresh_flags();
    }

    /// The owner's registrations are being destroyed (owner only, just
    /// before `alive` is cleared): see `ReaderLine::orphaned`.
    pub(crate) fn orphan(&self) {
        self.reader.orphaned.set(true);
        self.refresh_flags();
    }

    /// Keeps an entry that could not be queued inside a section (owner
    /// only); the section's end closes the batch (see `close_spill_batch`).
    pub(crate) fn spill_locally(&self, r: Retired) {
        crate::sync::lock(&self.spill).open.push(r);
        self.reader.spill_pending.set(true);
        self.refresh_flags();
    }

    /// The section that spilled has ended (owner only).
    pub(crate) fn spill_closed(&self) {
        self.reader.spill_pending.set(false);
        self.refresh_flags();
    }

    /// Enters a section through a QSBR `ThreadHandle` (owner only): the
    /// thread is online, so only the nesting count changes.
    ///
    /// # Panics
    /// If the handle is offline.
    #[inline(always)]
    pub(crate) fn qsbr_handle_read_lock(&self) {
        let r = &*self.reader;
        if r.state.get() == state::QSBR_HANDLE {
            // Online, outermost, nothing pending (a constant store; see
            // `read_unlock`).
            r.state.set(state::QSBR_HANDLE + state::NEST);
        } else {
            self.qsbr_handle_read_lock_other();
        }
    }

    /// `qsbr_handle_read_lock` nested, offline, or with something pending.
    #[inline(never)]
    fn qsbr_handle_read_lock_other(&self) {
        let r = &*self.reader;
        if !r.handle_online.get() {
            offline_panic();
        }
        r.state.set(r.state.get() + state::NEST);
    }

    /// Whether readers of this record use QSBR.
    #[inline(always)]
    pub(crate) fn is_qsbr(&self) -> bool {
        self.reader.flavor == Flavor::Qsbr
    }

    /// A guard reports a quiescent state without ending its section (owner
    /// only; the guard is borrowed mutably, so nothing read through it is
    /// still referenced). Outer guards may still protect references: then
    /// nothing happens.
    #[inline(always)]
    pub(crate) fn guard_quiescent_state(&self) {
        let r = &*self.reader;
        let hot = self.hot();
        // The common case for every flavor: the reader word already holds
        // the current grace-period counter (no grace period began since our
        // last report), and there is nothing to report, nested or not.
        // Checked once here, before the nesting and before dispatching on
        // the flavor (each flavor's function checks it again, and does
        // nothing when it holds). Relaxed: as in those functions, which
        // order what they store.
        if r.ctr.load(Ordering::Relaxed) == hot.gp_ctr.load(Ordering::Relaxed) {
            return;
        }
        if r.state.get() & !state::FLAGS != state::NEST {
            return;
        }
        self.guard_report(hot);
    }

    /// The rest of `guard_quiescent_state`: a grace period is waiting for
    /// this reader's report.
    #[cold]
    fn guard_report(&self, hot: &Hot) {
        let r = &*self.reader;
        let changed = match r.flavor {
            Flavor::Memb => memb::refresh(&r.ctr, &hot.gp_ctr),
            Flavor::Mb => mb::refresh(&r.ctr, &hot.gp_ctr),
            Flavor::Qsbr => qsbr::quiescent_state(&r.ctr, &hot.gp_ctr),
        };
        if changed {
            hot.wake_writer(self.reader.wake_bit);
        }
    }

    /// QSBR: whether the thread is online through its handle.
    #[inline]
    pub(crate) fn handle_online(&self) -> bool {
        self.reader.handle_online.get()
    }

    /// QSBR: a handle reports a quiescent state (owner only, no guard live).
    #[inline(always)]
    pub(crate) fn qsbr_quiescent(&self) {
        // Offline: nothing to report (and reporting would bring us online).
        if !self.reader.handle_online.get() {
            return;
        }
        let (hot, bit) = (self.hot(), self.reader.wake_bit);
        if qsbr::quiescent_state(&self.reader.ctr, &hot.gp_ctr) {
            hot.wake_writer(bit);
        }
    }

    /// QSBR: the handle goes offline (owner only, no guard live).
    pub(crate) fn qsbr_offline(&self) {
        if self.reader.handle_online.replace(false) {
            self.refresh_flags();
            let (hot, bit) = (self.hot(), self.reader.wake_bit);
            qsbr::offline(&self.reader.ctr);
            hot.wake_writer(bit);
        }
    }

    /// QSBR: the handle goes away. A guard from `Domain::read_lock` may
    /// still be alive; it then keeps the thread online until it drops.
    pub(crate) fn qsbr_release_handle(&self) {
        if self.nesting() > 0 {
            let r = &*self.reader;
            if r.handle_online.replace(false) {
                r.guard_online.set(true);
                self.refresh_flags();
            }
        } else {
            self.qsbr_offline();
        }
    }

    /// QSBR: the handle comes online (owner only, no guard live).
    pub(crate) fn qsbr_online(&self) {
        let r = &*self.reader;
        if r.handle_online.replace(true) {
            return;
        }
        if r.guard_online.replace(false) {
            self.refresh_flags();
            // A guard from `Domain::read_lock` already holds the thread
            // online, mid-section: the handle takes that over as it is.
            // Storing the counter now would report a quiescent state inside
            // the guard's section.
            return;
        }
        self.refresh_flags();
        qsbr::online(&r.ctr, &self.hot().gp_ctr);
    }

    /// Appends to the ring (owner only); `false` when it is full.
    #[inline(always)]
    pub(crate) fn try_push(&self, r: Retired) -> bool {
        // SAFETY: owner only, and no other borrow of `producer` is live:
        // `try_push` calls nothing that could re-enter.
        let st = unsafe { &mut *self.producer.get() };
        if !self.ring.try_push(st, r) {
            return false;
        }
        self.queued
            .store(self.queued.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
        true
    }

    /// Whether the ring has passed the next checkpoint position (owner only).
    #[inline(always)]
    pub(crate) fn checkpoint_due(&self) -> bool {
        // SAFETY: owner only; a short read with no call inside.
        let next = unsafe { (*self.checkpoints.get()).next_at };
        (self.ring.owner_head().wrapping_sub(next) as isize) >= 0
    }

    /// Runs `f` on the owner's checkpoints (owner only). `f` must not
    /// reclaim anything (destructors could re-enter).
    pub(crate) fn with_checkpoints<R>(&self, f: impl FnOnce(&mut Checkpoints) -> R) -> R {
        // SAFETY: owner only; `f` does not re-enter (see above), so this is
        // the only live borrow.
        f(unsafe { &mut *self.checkpoints.get() })
    }

    /// Counts `n` more objects drained from this ring (drain lock held).
    pub(crate) fn add_reclaimed(&self, n: u64) {
        self.reclaimed.store(
            self.reclaimed.load(Ordering::Relaxed) + n,
            Ordering::Relaxed,
        );
    }

    /// This reader's bit in [`Hot::wake_mask`]: a writer sleeping on it
    /// sets the bit to be woken when this reader leaves its section.
    pub(crate) fn wake_bit(&self) -> u64 {
        self.reader.wake_bit
    }

    /// The reader word as its owner last stored it (owner only: nobody
    /// else stores it, so `Relaxed` reads back the owner's own store).
    pub(crate) fn own_reader_word(&self) -> usize {
        self.reader.ctr.load(Ordering::Relaxed)
    }

    /// Whether the reader word says this thread holds up grace periods of
    /// the given flavor.
    pub(crate) fn reader_word(&self) -> usize {
        // Acquire pairs with the release stores of the flavors' exit paths:
        // once we see quiescence, the section's reads are done.
        self.reader.ctr.load(Ordering::Acquire)
    }

    /// Whether the reclaimer may drop this record: the owner has exited, it
    /// is not in a section, and its ring is empty.
    pub(crate) fn removable(&self) -> bool {
        // Acquire pairs with the owner's release of `alive` at thread exit:
        // its last writes to the record happen before we drop it.
        !self.alive.load(Ordering::Acquire)
            && self.reader_word() == 0
            && self.ring.len() == 0
            && !self.spill_waiting.load(Ordering::Relaxed)
            && (!self.pinned || !crate::sys::os_thread_exists(self.os_thread))
    }
}

#[cold]
#[track_caller]
fn offline_panic() -> ! {
    panic!("ThreadHandle::read_lock on an offline QSBR thread: call online() first (grace periods do not wait for offline threads)")
}

crate::sync::const_thread_local! {
    /// Domains (ids; 0: free slot) in which this thread has a section open
    /// whose registration is already destroyed: a guard kept in a
    /// thread-local that is destroyed after the registrations. No drop
    /// glue, so it stays usable while other thread-locals are destroyed.
    static ORPHANED_SECTIONS: Cell<[u64; ORPHAN_SLOTS]> = Cell::new([0; ORPHAN_SLOTS]);
}

/// Orphaned sections tracked per thread (one per domain; more are not
/// tracked, and a wait in such a domain would not be caught).
const ORPHAN_SLOTS: usize = 8;

/// This thread's section in `domain_id` outlives its registration (see
/// `ORPHANED_SECTIONS`).
pub(crate) fn orphaned_section_began(domain_id: u64) {
    let _ = ORPHANED_SECTIONS.try_with(|c| {
        let mut ids = c.get();
        if let Some(slot) = ids.iter_mut().find(|id| **id == 0) {
            *slot = domain_id;
            c.set(ids);
        }
    });
}

/// The orphaned section of this thread in `domain_id` has ended.
pub(crate) fn orphaned_section_ended(domain_id: u64) {
    let _ = ORPHANED_SECTIONS.try_with(|c| {
        let mut ids = c.get();
        if let Some(slot) = ids.iter_mut().find(|id| **id == domain_id) {
            *slot = 0;
            c.set(ids);
        }
    });
}

/// Whether this thread has an orphaned section open in `domain_id` (its
/// thread-locals are being destroyed; see `ORPHANED_SECTIONS`): it must not
/// wait for grace periods of that domain, which would wait for it.
pub(crate) fn in_orphaned_section(domain_id: u64) -> bool {
    ORPHANED_SECTIONS
        .try_with(|c| c.get().contains(&domain_id))
        .unwrap_or(false)
}
