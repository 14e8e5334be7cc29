//! [`Domain`]: the public face of a domain, and the process-wide default
//! domain behind the free functions.
//!
//! A `Domain` is a handle to the shared state ([`Core`], in `state`). Its
//! methods are spread by topic, beside what they use:
//!
//! - here: grace periods (`synchronize_rcu`, tickets), deferred
//!   reclamation (`rcu_reclaim_queue`, `defer`, `rcu_barrier`), `stats`;
//! - `builder`: making one (`Domain::builder`, `Domain::new`);
//! - `guard`: the read side (`read_lock`, `register_thread`), beside the
//!   guards they return; `owned`: `read_lock_owned`.
//!
//! How a thread finds its record in a domain is `registry`'s business.

use crate::flavor::Flavor;
use crate::grace_period::in_section_panic;
use crate::queue::Retired;
use crate::reclaimer::{in_callback, Wake};
use crate::record::{in_orphaned_section, ThreadRecord};
use crate::registry;
use crate::state::Core;
use crate::stats::Stats;
use crate::sync::Arc;
use std::sync::OnceLock;

/// Shared by every clone of a `Domain`; its drop (the last clone's) shuts
/// the core down.
struct Owner {
    core: Arc<Core>,
}

impl Drop for Owner {
    fn drop(&mut self) {
        self.core.shutdown();
    }
}

/// A grace-period domain: readers, writers and reclamation queues that
/// belong together. Cheap to clone (a reference count); the last clone to
/// drop stops the reclaimer thread and reclaims everything still queued.
///
/// Every operation of the crate's free functions exists here as a method.
///
/// ```
/// use urcu_reclaim::{Domain, Flavor};
/// let d = Domain::builder().flavor(Flavor::Mb).queue_capacity(64).build();
/// {
///     let _g = d.read_lock();
///     // ... read RCU-protected data ...
/// }
/// d.rcu_reclaim_queue(Box::new([0u8; 64]));
/// d.rcu_barrier();
/// assert_eq!(d.stats().pending(), 0);
/// ```
#[derive(Clone)]
pub struct Domain {
    /// Kept beside `owner` so that the fast paths reach the core, and the
    /// thread-local cache check its id, without an extra indirection.
    core: Arc<Core>,
    id: u64,
    /// The process-wide domain: its records are found through a dedicated
    /// thread-local, one load.
    is_default: bool,
    _owner: Arc<Owner>,
}

impl std::fmt::Debug for Domain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Domain")
            .field("id", &self.core().id)
            .field("flavor", &self.flavor())
            .finish()
    }
}

impl Domain {
    /// A handle that owns `core`: the last clone to drop shuts it down.
    pub(crate) fn from_core(core: Arc<Core>) -> Domain {
        Domain {
            id: core.id,
            is_default: false,
            _owner: Arc::new(Owner { core: core.clone() }),
            core,
        }
    }

    #[inline]
    pub(crate) fn core(&self) -> &Core {
        &self.core
    }

    /// The domain's unique id (kept inline: a guard's domain check reads it).
    #[inline(always)]
    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    /// The flavor readers really use: [`Flavor::Memb`] reads as
    /// [`Flavor::Mb`] where `membarrier` is unavailable.
    ///
    /// ```
    /// use urcu_reclaim::{Domain, Flavor};
    /// let d = Domain::new(); // asks for Memb
    /// assert!(matches!(d.flavor(), Flavor::Memb | Flavor::Mb));
    /// ```
    #[inline]
    pub fn flavor(&self) -> Flavor {
        self.core().flavor
    }

    /// The flavor the builder asked for.
    ///
    /// ```
    /// use urcu_reclaim::{Domain, Flavor};
    /// let d = Domain::builder().flavor(Flavor::Memb).build();
    /// assert_eq!(d.requested_flavor(), Flavor::Memb);
    /// if d.flavor() != d.requested_flavor() {
    ///     println!("membarrier unavailable: readers use {:?}", d.flavor());
    /// }
    /// ```
    pub fn requested_flavor(&self) -> Flavor {
        self.core().config.requested
    }

    /// Words per thread ring (after rounding).
    ///
    /// ```
    /// let d = urcu_reclaim::Domain::builder().queue_capacity(100).build();
    /// assert_eq!(d.queue_capacity(), 128);
    /// ```
    pub fn queue_capacity(&self) -> usize {
        crate::queue::Ring::new(self.core().config.queue_capacity).capacity()
    }

    /// Whether this is the process-wide default domain.
    #[inline(always)]
    pub(crate) fn is_default(&self) -> bool {
        self.is_default
    }

    /// This thread's record, joining the domain on first use.
    ///
    /// The returned reference is valid while `self` is borrowed (see
    /// [`registry::record`]).
    #[inline]
    pub(crate) fn record(&self) -> &ThreadRecord {
        if self.is_default {
            return default_record();
        }
        registry::record(&self.core, self.id)
    }

    /// This thread's record, if it has joined the domain (never registers).
    fn existing_record(&self) -> Option<&ThreadRecord> {
        registry::existing_record(self.core())
    }

    // -----------------------------------------------------------------------
    // Grace periods
    // -----------------------------------------------------------------------

    /// Waits until every read-side section that began before the call has
    /// ended. Concurrent callers share grace periods. Spins briefly, then
    /// sleeps.
    ///
    /// # Panics
    /// If the calling thread is inside a read-side section of this domain:
    /// the grace period would wait for the caller itself, forever.
    ///
    /// ```
    /// let d = urcu_reclaim::Domain::new();
    /// let ticket = d.start_poll();
    /// d.synchronize_rcu(); // no section of `d` is open: returns quickly
    /// assert!(d.poll(&ticket));
    /// ```
    pub fn synchronize_rcu(&self) {
        self.wait(self.core().start_poll(), "synchronize_rcu");
    }

    /// Starts watching for a grace period: the returned ticket completes
    /// once every read-side section that began before this call has ended.
    /// It does not force one to run; [`synchronize_rcu`](Self::synchronize_rcu),
    /// the reclaimer, or [`cond_synchronize`](Self::cond_synchronize) do.
    ///
    /// ```
    /// let d = urcu_reclaim::Domain::new();
    /// let g = d.read_lock();
    /// let ticket = d.start_poll();
    /// assert!(!d.poll(&ticket)); // `g`'s section began before the ticket
    /// drop(g);
    /// d.cond_synchronize(&ticket);
    /// assert!(d.poll(&ticket));
    /// ```
    pub fn start_poll(&self) -> GracePeriod {
        GracePeriod {
            domain_id: self.core().id,
            target: self.core().start_poll(),
        }
    }

    /// Asks this domain's reclaimer thread to run a grace period soon, and
    /// returns at once. For code that waits by polling a ticket
    /// ([`start_poll`](Self::start_poll)) rather than by queueing objects,
    /// which is what otherwise makes grace periods run.
    ///
    /// ```
    /// let d = urcu_reclaim::Domain::new();
    /// let ticket = d.start_poll();
    /// d.request_grace_period();
    /// while !d.poll(&ticket) {
    ///     std::thread::yield_now();
    /// }
    /// ```
    pub fn request_grace_period(&self) {
        self.core().wake_reclaimer(Wake::GracePeriod);
    }

    /// [`request_grace_period`](Self::request_grace_period) for callers
    /// that ask often: a reclaimer already at work runs the grace period
    /// at its next pass, within one
    /// [`reclaim_interval`](crate::DomainBuilder::reclaim_interval), instead
    /// of at once; an idle one is woken as before. Each grace period
    /// interrupts every thread in a read-side section (the default flavor
    /// sends them an IPI), so asking for one per write costs the writers
    /// more than waiting for the next pass does (the map's writers ask
    /// when an insert finds retired slots still waiting).
    ///
    /// ```
    /// let d = urcu_reclaim::Domain::new();
    /// let ticket = d.start_poll();
    /// d.request_grace_period_lazily();
    /// while !d.poll(&ticket) {
    ///     std::thread::yield_now();
    /// }
    /// ```
    pub fn request_grace_period_lazily(&self) {
        self.core().wake_reclaimer(Wake::LazyGracePeriod);
    }

    /// The grace-period counter: a ticket has elapsed once this reaches its
    /// [`GracePeriod::sequence`]. Lets a structure keep tickets compactly
    /// (a few bits of the sequence) instead of as [`GracePeriod`] values.
    ///
    /// ```
    /// let d = urcu_reclaim::Domain::new();
    /// let ticket = d.start_poll();
    /// d.synchronize_rcu();
    /// assert!(d.completed_sequence() >= ticket.sequence());
    /// ```
    #[inline]
    pub fn completed_sequence(&self) -> u64 {
        // Acquire, as in `poll`: pairs with the release that ends a grace
        // period.
        self.core().completed_sequence()
    }

    /// Whether the ticket's grace period has elapsed. Never blocks.
    ///
    /// # Panics
    /// If the ticket came from another domain.
    ///
    /// ```
    /// let d = urcu_reclaim::Domain::new();
    /// let ticket = d.start_poll();
    /// // ... other work; then check without blocking:
    /// if !d.poll(&ticket) {
    ///     d.synchronize_rcu();
    /// }
    /// assert!(d.poll(&ticket));
    /// ```
    pub fn poll(&self, ticket: &GracePeriod) -> bool {
        self.check_ticket(ticket);
        self.core().poll(ticket.target)
    }

    /// Waits for the ticket's grace period, running one if needed (and
    /// returning at once if it has already elapsed).
    ///
    /// # Panics
    /// Inside a read-side section of this domain, or with a ticket from
    /// another domain.
    ///
    /// ```
    /// let d = urcu_reclaim::Domain::new();
    /// let ticket = d.start_poll();
    /// d.synchronize_rcu(); // a grace period ran meanwhile (here, our own)
    /// d.cond_synchronize(&ticket); // so this returns at once
    /// assert!(d.poll(&ticket));
    /// ```
    pub fn cond_synchronize(&self, ticket: &GracePeriod) {
        self.check_ticket(ticket);
        self.wait(ticket.target, "cond_synchronize");
    }

    fn check_ticket(&self, ticket: &GracePeriod) {
        assert!(
            ticket.domain_id == self.core().id,
            "a GracePeriod ticket was used with a domain other than its own"
        );
    }

    /// Waits for `target` as the calling thread (see [`Core::wait_as`]).
    fn wait(&self, target: u64, what: &str) {
        let reached = self
            .core()
            .wait_as(self.existing_record(), target, what, None);
        debug_assert!(reached, "a wait without a deadline ends at its target");
    }

    // -----------------------------------------------------------------------
    // Deferred reclamation
    // -----------------------------------------------------------------------

    /// Drops `obj` after a grace period: the 2009 `rcu_reclaim_queue` call
    /// that replaces "`synchronize_rcu(); free(old);`".
    ///
    /// Wait-free while this thread's queue has room: a few stores, no lock,
    /// no allocation. When the queue is full the caller waits for a grace
    /// period and frees its own queue, so pending memory stays bounded by
    /// threads × capacity; inside a read-side section it cannot wait, and
    /// the object goes to an overflow list instead (counted in
    /// [`Stats::overflow_spills`]).
    ///
    /// ```
    /// use std::sync::atomic::{AtomicBool, Ordering};
    /// use std::sync::Arc;
    /// struct Old(Arc<AtomicBool>);
    /// impl Drop for Old {
    ///     fn drop(&mut self) { self.0.store(true, Ordering::Relaxed) }
    /// }
    /// let d = urcu_reclaim::Domain::new();
    /// let dropped = Arc::new(AtomicBool::new(false));
    /// d.rcu_reclaim_queue(Box::new(Old(dropped.clone())));
    /// d.rcu_barrier();
    /// assert!(dropped.load(Ordering::Relaxed));
    /// ```
    #[inline]
    pub fn rcu_reclaim_queue<T: Send + 'static>(&self, obj: Box<T>) {
        self.enqueue(Retired::of_box(obj));
    }

    /// Drops the `Box<T>` behind `ptr` after a grace period, without
    /// rebuilding the box first: the form for a pointer just unpublished
    /// from a shared structure, which readers may still be reading (a `Box`
    /// asserts unique access, so it must not exist before they are done).
    ///
    /// # Safety
    /// `ptr` came from [`Box::into_raw`], is queued once, and nothing will
    /// reach it after the grace period (it is unreachable for new readers).
    ///
    /// ```
    /// let d = urcu_reclaim::Domain::new();
    /// let p = Box::into_raw(Box::new(5u64));
    /// // ... p was published, then unpublished ...
    /// // SAFETY: from Box::into_raw, unreachable now, queued once.
    /// unsafe { d.rcu_reclaim_queue_raw(p) };
    /// d.rcu_barrier();
    /// ```
    #[inline]
    pub unsafe fn rcu_reclaim_queue_raw<T: Send + 'static>(&self, ptr: *mut T) {
        // SAFETY: the caller's contract is `of_raw`'s.
        self.enqueue(unsafe { Retired::of_raw(ptr) });
    }

    /// Runs `f` after a grace period (liburcu's `call_rcu`/`defer_rcu`),
    /// through the same queue as [`rcu_reclaim_queue`](Self::rcu_reclaim_queue).
    ///
    /// ```
    /// let d = urcu_reclaim::Domain::new();
    /// let (tx, rx) = std::sync::mpsc::channel();
    /// d.defer(move || tx.send("after a grace period").unwrap());
    /// d.rcu_barrier();
    /// assert_eq!(rx.try_recv(), Ok("after a grace period"));
    /// ```
    #[inline]
    pub fn defer<F: FnOnce() + Send + 'static>(&self, f: F) {
        self.enqueue(Retired::of_closure(Box::new(f)));
    }

    #[inline]
    pub(crate) fn enqueue(&self, r: Retired) {
        self.core().enqueue(self.record(), r);
    }

    /// Returns once everything queued before the call, by any thread, has
    /// been reclaimed (liburcu's `rcu_barrier`).
    ///
    /// # Panics
    /// Inside a read-side section of this domain, or from inside a
    /// reclamation callback (both would wait for themselves).
    ///
    /// ```
    /// let d = urcu_reclaim::Domain::new();
    /// for i in 0..3 {
    ///     d.rcu_reclaim_queue(Box::new(i));
    /// }
    /// d.rcu_barrier();
    /// let s = d.stats();
    /// assert_eq!((s.queued, s.reclaimed), (3, 3));
    /// ```
    pub fn rcu_barrier(&self) {
        if self.existing_record().is_some_and(|r| r.nesting() > 0)
            || in_orphaned_section(self.core().id)
        {
            in_section_panic("rcu_barrier");
        }
        if in_callback() {
            // The panic is caught by the reclamation that runs the closure
            // (and only counted): say it here too, whatever the panic hook.
            eprintln!(
                "urcu: rcu_barrier was called from a destructor or deferred closure being \
                 reclaimed; it panics, and the rest of that destructor or closure does not run"
            );
            panic!(
                "rcu_barrier called from a destructor or deferred closure being reclaimed: \
                 it would wait for its own reclamation to finish"
            );
        }
        let qsbr_online = self
            .existing_record()
            .filter(|r| self.flavor() == Flavor::Qsbr && r.handle_online());
        if let Some(r) = qsbr_online {
            r.qsbr_offline();
        }
        self.core().pass(true);
        if let Some(r) = qsbr_online {
            r.qsbr_online();
        }
    }

    /// A snapshot of the domain's counters.
    ///
    /// ```
    /// use urcu_reclaim::{Domain, Flavor};
    /// let d = Domain::builder().flavor(Flavor::Mb).build();
    /// d.rcu_reclaim_queue(Box::new(1u64));
    /// d.rcu_barrier();
    /// let s = d.stats();
    /// assert_eq!((s.flavor, s.pending()), (Flavor::Mb, 0));
    /// assert!(s.grace_periods >= 1);
    /// ```
    pub fn stats(&self) -> Stats {
        self.core().stats()
    }
}

/// A grace-period ticket from [`start_poll`](Domain::start_poll).
///
/// ```
/// use urcu_reclaim::{Domain, GracePeriod};
/// let d = Domain::new();
/// let ticket: GracePeriod = d.start_poll();
/// let copies = [ticket; 2]; // `Copy`: store one beside each retired object
/// d.synchronize_rcu();
/// assert!(copies.iter().all(|t| d.poll(t)));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GracePeriod {
    domain_id: u64,
    target: u64,
}

impl GracePeriod {
    /// The value of [`Domain::completed_sequence`] at which this ticket has
    /// elapsed. Sequences are even and only grow, by 2 per grace period.
    ///
    /// ```
    /// let d = urcu_reclaim::Domain::new();
    /// let a = d.start_poll();
    /// d.synchronize_rcu();
    /// let b = d.start_poll();
    /// assert!(a.sequence() % 2 == 0 && b.sequence() > a.sequence());
    /// assert!(d.completed_sequence() >= a.sequence());
    /// ```
    pub fn sequence(&self) -> u64 {
        self.target
    }
}

static DEFAULT_DOMAIN: OnceLock<Domain> = OnceLock::new();

/// The process-wide domain behind the free functions ([`Flavor::Memb`],
/// default capacity). It is never dropped.
///
/// ```
/// use urcu_reclaim::{default_domain, read_lock, Flavor};
/// let g = read_lock(); // the free functions use the default domain
/// assert!(g.belongs_to(default_domain()));
/// assert_eq!(default_domain().requested_flavor(), Flavor::Memb);
/// ```
pub fn default_domain() -> &'static Domain {
    DEFAULT_DOMAIN.get_or_init(|| {
        let mut d = Domain::builder().build_default();
        d.is_default = true;
        d
    })
}

/// This thread's record in the default domain.
#[inline(always)]
pub(crate) fn default_record() -> &'static ThreadRecord {
    match registry::cached_default_record() {
        Some(rec) => rec,
        None => default_record_slow(),
    }
}

#[cold]
fn default_record_slow() -> &'static ThreadRecord {
    let d = default_domain();
    let rec = registry::record(&d.core, d.id);
    registry::cache_default_record(rec, &d.core);
    rec
}

/// This thread's record in the default domain, and that domain's core
/// (a record does not lead to its core; see `record::RecordDomain`).
#[inline(always)]
pub(crate) fn default_record_and_core() -> (&'static ThreadRecord, &'static Core) {
    match registry::cached_default_record_and_core() {
        Some(cached) => cached,
        None => (default_record_slow(), &default_domain().core),
    }
}
