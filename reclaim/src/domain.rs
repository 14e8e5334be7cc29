//! A domain binds everything together: one grace-period detector, the
//! registry of reader threads, their reclamation rings and the reclaimer
//! thread. The free functions of this crate use a process-wide default
//! domain; build your own with [`Domain::builder`].

use crate::flavor::{phase, qsbr, Flavor};
use crate::guard::{ReadGuard, ThreadHandle};
use crate::queue::Retired;
use crate::reclaimer::Signal;
use crate::record::{Hot, ThreadRecord};
use crate::stall::{default_hook, StallHook, StallReport};
use crate::stats::{Counters, Stats};
use crate::sync::{lock, Arc, AtomicBool, AtomicU64, Mutex, Ordering};
use crossbeam_utils::CachePadded;
use std::cell::{Cell, RefCell};
use std::sync::{OnceLock, Weak};
use std::time::{Duration, Instant};

/// Default per-thread queue capacity, in words (liburcu's `defer_rcu`).
///
/// ```
/// use urcu_reclaim::{Domain, DEFAULT_QUEUE_CAPACITY};
/// assert_eq!(Domain::new().queue_capacity(), DEFAULT_QUEUE_CAPACITY);
/// ```
pub const DEFAULT_QUEUE_CAPACITY: usize = 4096;
/// Default time before a stalled grace period is reported.
///
/// ```
/// use urcu_reclaim::{Domain, DEFAULT_STALL_TIMEOUT};
/// assert_eq!(DEFAULT_STALL_TIMEOUT.as_secs(), 10);
/// // A latency-sensitive service may want to hear about stalls sooner:
/// let d = Domain::builder().stall_timeout(DEFAULT_STALL_TIMEOUT / 10).build();
/// d.synchronize_rcu();
/// ```
pub const DEFAULT_STALL_TIMEOUT: Duration = Duration::from_secs(10);
/// Default longest time an object waits for the reclaimer when its thread
/// queues nothing more.
///
/// ```
/// use urcu_reclaim::{Domain, DEFAULT_RECLAIM_INTERVAL};
/// assert_eq!(DEFAULT_RECLAIM_INTERVAL.as_millis(), 10);
/// // Trade a little reclaimer wake-up rate for less memory held:
/// let d = Domain::builder().reclaim_interval(DEFAULT_RECLAIM_INTERVAL / 2).build();
/// d.rcu_reclaim_queue(Box::new(1u32));
/// d.rcu_barrier();
/// ```
pub const DEFAULT_RECLAIM_INTERVAL: Duration = Duration::from_millis(10);

pub(crate) struct Config {
    pub(crate) requested: Flavor,
    pub(crate) queue_capacity: usize,
    pub(crate) stall_timeout: Duration,
    pub(crate) stall_hook: StallHook,
    pub(crate) reclaim_interval: Duration,
    /// The longest a writer's backpressure waits (see `writer_wait`).
    pub(crate) max_writer_wait: Duration,
}

/// The shared state of a domain. The reclaimer thread holds an `Arc` to it;
/// user handles hold a `Domain`, whose last drop shuts the core down.
pub(crate) struct Core {
    pub(crate) hot: CachePadded<Hot>,
    /// Set while no reclaimer pass is due (at first, before any thread
    /// queued anything, and whenever the reclaimer sleeps with nothing to
    /// do); a producer that sees it asks for a pass (and so starts the
    /// reclaimer thread on first use). Off the readers' line: the
    /// reclaimer writes it.
    pub(crate) reclaimer_idle: CachePadded<AtomicBool>,
    /// Hands out readers' wake bits ([`Hot::wake_mask`]).
    pub(crate) next_wake_bit: std::sync::atomic::AtomicU32,
    /// Grace-period sequence: odd while one runs; +2 per grace period.
    /// Written under `gp_lock`; polled (acquire) by `poll`.
    pub(crate) gp_seq: CachePadded<AtomicU64>,
    /// Held while a grace period runs; holds its list of readers to scan
    /// (kept to reuse its allocation).
    pub(crate) gp_lock: Mutex<Vec<Arc<ThreadRecord>>>,
    pub(crate) registry: Mutex<Vec<Arc<ThreadRecord>>>,
    /// Entries queued when a ring was full and the caller could not wait.
    pub(crate) overflow: Mutex<Vec<Retired>>,
    /// Serializes reclaimer passes and barriers.
    pub(crate) pass_lock: Mutex<()>,
    pub(crate) flavor: Flavor,
    pub(crate) config: Config,
    pub(crate) counters: Counters,
    pub(crate) signal: Signal,
    pub(crate) id: u64,
    pub(crate) me: Weak<Core>,
    /// The origin of the reclaimer's clock.
    pub(crate) created: Instant,
    /// Owned read guards alive (`OwnedReadGuard`): while any is, writers
    /// do not wait for grace periods on their own (see `owned`).
    pub(crate) owned_guards: crate::sync::AtomicUsize,
    /// A grace-period target that a writer's backpressure wait gave up on:
    /// until it is reached, writers spill rather than wait (see
    /// `writer_wait`). Zero (always reached) when none was.
    pub(crate) writer_waits_suspended: AtomicU64,
}

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

/// Configures a [`Domain`].
///
/// ```
/// use std::time::Duration;
/// use urcu_reclaim::{Domain, Flavor};
/// let d = Domain::builder()
///     .flavor(Flavor::Qsbr)
///     .queue_capacity(1024)
///     .stall_timeout(Duration::from_secs(2))
///     .build();
/// assert_eq!(d.flavor(), Flavor::Qsbr);
/// ```
#[must_use]
pub struct DomainBuilder {
    flavor: Flavor,
    queue_capacity: usize,
    stall_timeout: Duration,
    stall_hook: Option<StallHook>,
    reclaim_interval: Duration,
    max_writer_wait: Option<Duration>,
}

impl std::fmt::Debug for DomainBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DomainBuilder")
            .field("flavor", &self.flavor)
            .field("queue_capacity", &self.queue_capacity)
            .field("stall_timeout", &self.stall_timeout)
            .field("reclaim_interval", &self.reclaim_interval)
            .field("max_writer_wait", &self.max_writer_wait)
            .finish_non_exhaustive()
    }
}

impl Default for DomainBuilder {
    fn default() -> Self {
        DomainBuilder {
            flavor: Flavor::default(),
            queue_capacity: DEFAULT_QUEUE_CAPACITY,
            stall_timeout: DEFAULT_STALL_TIMEOUT,
            stall_hook: None,
            reclaim_interval: DEFAULT_RECLAIM_INTERVAL,
            max_writer_wait: None,
        }
    }
}

impl DomainBuilder {
    /// The grace-period flavor (default [`Flavor::Memb`]).
    ///
    /// ```
    /// use urcu_reclaim::{Domain, Flavor};
    /// let d = Domain::builder().flavor(Flavor::Mb).build();
    /// assert_eq!(d.flavor(), Flavor::Mb);
    /// ```
    pub fn flavor(mut self, flavor: Flavor) -> Self {
        self.flavor = flavor;
        self
    }

    /// Words in each thread's reclamation ring (default 4096; rounded up to
    /// a power of two, at least 4). A homogeneous stream costs one word per
    /// object, so this bounds the objects each thread can have pending.
    ///
    /// ```
    /// use urcu_reclaim::Domain;
    /// let d = Domain::builder().queue_capacity(1000).build();
    /// assert_eq!(d.queue_capacity(), 1024); // rounded up to a power of two
    /// assert_eq!(Domain::builder().queue_capacity(1).build().queue_capacity(), 4);
    /// ```
    pub fn queue_capacity(mut self, words: usize) -> Self {
        self.queue_capacity = words;
        self
    }

    /// How long a grace period may wait before it is reported (default 10 s).
    ///
    /// ```
    /// use std::time::Duration;
    /// use urcu_reclaim::Domain;
    /// let d = Domain::builder().stall_timeout(Duration::from_millis(500)).build();
    /// d.synchronize_rcu(); // no reader holds it up: nothing to report
    /// assert_eq!(d.stats().stalls_reported, 0);
    /// ```
    pub fn stall_timeout(mut self, timeout: Duration) -> Self {
        self.stall_timeout = timeout;
        self
    }

    /// What to do with a stall report (default: one line on stderr).
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    /// use urcu_reclaim::Domain;
    /// let reports = Arc::new(AtomicUsize::new(0));
    /// let seen = reports.clone();
    /// let d = Domain::builder()
    ///     .on_stall(move |report| {
    ///         seen.fetch_add(1, Ordering::Relaxed);
    ///         eprintln!("rcu: {report}"); // or send it to your logger
    ///     })
    ///     .build();
    /// d.synchronize_rcu();
    /// assert_eq!(reports.load(Ordering::Relaxed), 0); // that one did not stall
    /// ```
    pub fn on_stall(mut self, hook: impl Fn(&StallReport) + Send + Sync + 'static) -> Self {
        self.stall_hook = Some(Arc::new(hook));
        self
    }

    /// The longest an object waits for the reclaimer once its thread stops
    /// queueing (default 10 ms). Busy threads free their own entries sooner.
    ///
    /// ```
    /// use std::time::Duration;
    /// use urcu_reclaim::Domain;
    /// let d = Domain::builder().reclaim_interval(Duration::from_millis(1)).build();
    /// d.rcu_reclaim_queue(Box::new([0u8; 32]));
    /// d.rcu_barrier();
    /// assert_eq!(d.stats().pending(), 0);
    /// ```
    pub fn reclaim_interval(mut self, interval: Duration) -> Self {
        self.reclaim_interval = interval;
        self
    }

    /// The longest a thread waits for a grace period to keep its pending
    /// objects within bound (default: the [`stall_timeout`](Self::stall_timeout)).
    ///
    /// A thread whose queue is full, or that enters a section after one in
    /// which it had to spill (map writes do), waits for a grace period
    /// before it goes on: that keeps memory bounded. If a reader holds that
    /// grace period longer than this, the thread stops waiting and spills,
    /// and threads do not wait again until that grace period completes
    /// (counted in [`Stats::writer_wait_timeouts`]). The reader might be
    /// waiting for the very thread that waits (a guard held across a
    /// barrier or a channel receive): waiting without end would deadlock
    /// them. `Duration::MAX` waits without end.
    ///
    /// ```
    /// use std::time::Duration;
    /// use urcu_reclaim::Domain;
    /// let d = Domain::builder().max_writer_wait(Duration::from_millis(100)).build();
    /// d.rcu_reclaim_queue(Box::new(1u8));
    /// d.rcu_barrier();
    /// assert_eq!(d.stats().writer_wait_timeouts, 0);
    /// ```
    pub fn max_writer_wait(mut self, limit: Duration) -> Self {
        self.max_writer_wait = Some(limit);
        self
    }

    /// Builds the domain. No thread starts until something is queued.
    ///
    /// ```
    /// use urcu_reclaim::Domain;
    /// let d = Domain::builder().build();
    /// assert_eq!(d.stats().threads, 0); // no thread has joined yet
    /// drop(d.read_lock());
    /// assert_eq!(d.stats().threads, 1); // this one joined on first use
    /// ```
    pub fn build(self) -> Domain {
        static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        let flavor = self.flavor.resolve();
        let gp_ctr = match flavor {
            Flavor::Memb | Flavor::Mb => phase::GP_CTR_INIT,
            Flavor::Qsbr => qsbr::GP_CTR_INIT,
        };
        let core = Arc::new_cyclic(|me| Core {
            hot: CachePadded::new(Hot::new(gp_ctr)),
            reclaimer_idle: CachePadded::new(AtomicBool::new(true)),
            next_wake_bit: std::sync::atomic::AtomicU32::new(0),
            gp_seq: CachePadded::new(AtomicU64::new(0)),
            gp_lock: Mutex::new(Vec::new()),
            registry: Mutex::new(Vec::new()),
            overflow: Mutex::new(Vec::new()),
            pass_lock: Mutex::new(()),
            flavor,
            config: Config {
                requested: self.flavor,
                queue_capacity: self.queue_capacity,
                stall_timeout: self.stall_timeout,
                stall_hook: self.stall_hook.unwrap_or_else(default_hook),
                reclaim_interval: self.reclaim_interval,
                max_writer_wait: self.max_writer_wait.unwrap_or(self.stall_timeout),
            },
            counters: Counters::default(),
            signal: Signal::default(),
            id: NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            me: me.clone(),
            created: Instant::now(),
            owned_guards: crate::sync::AtomicUsize::new(0),
            writer_waits_suspended: AtomicU64::new(0),
        });
        Domain {
            id: core.id,
            is_default: false,
            _owner: Arc::new(Owner { core: core.clone() }),
            core,
        }
    }
}

// ---------------------------------------------------------------------------
// Thread registration
// ---------------------------------------------------------------------------

/// One thread's membership in one domain.
struct Registration {
    domain_id: u64,
    record: Arc<ThreadRecord>,
    core: Weak<Core>,
}

/// Every domain this thread joined. Dropped at thread exit: each record is
/// handed to its domain's reclaimer, which drains the ring after a grace
/// period and then forgets the record.
struct Registrations(RefCell<Vec<Registration>>);

impl Drop for Registrations {
    fn drop(&mut self) {
        // The caches below must not outlive the records they point to.
        // (`try_with`: std's never fails for these const, drop-free cells;
        // loom destroys every thread-local of a model thread at once.)
        let _ = DEFAULT_RECORD.try_with(|c| c.set(std::ptr::null()));
        let _ = LAST_RECORD.try_with(|c| c.set((0, std::ptr::null())));
        for reg in self.0.borrow_mut().drain(..) {
            let rec = &reg.record;
            // Spilled entries of a section that never ended (a leaked
            // guard): the reclaimer frees them once that is safe.
            if let Some(core) = reg.core.upgrade() {
                core.collect_spill(rec, true, &mut lock(&core.overflow));
            }
            if rec.nesting() > 0 {
                rec.orphan();
                orphaned_section_began(reg.domain_id);
            }
            // Release: our last writes to the record (ring, counters) are
            // visible to the reclaimer once it sees `alive == false`.
            rec.alive.store(false, Ordering::Release);
            if let Some(core) = reg.core.upgrade() {
                core.request_pass();
            }
        }
    }
}

crate::sync::const_thread_local! {
    static REGISTRATIONS: Registrations = Registrations(RefCell::new(Vec::new()));
    /// This thread's record in the default domain (null: not yet joined).
    static DEFAULT_RECORD: Cell<*const ThreadRecord> = Cell::new(std::ptr::null());
    /// The last explicit domain this thread used, and its record there.
    static LAST_RECORD: Cell<(u64, *const ThreadRecord)> = Cell::new((0, std::ptr::null()));
    /// Set while this thread runs reclamation callbacks.
    static IN_CALLBACK: Cell<bool> = Cell::new(false);
    /// The id of the domain whose stall hook this thread runs (0: none).
    static IN_STALL_HOOK: Cell<u64> = Cell::new(0);
    /// Domains (ids; 0: free slot) in which this thread has a section open
    /// whose registration is already destroyed: a guard kept in a
    /// thread-local that is destroyed after the registrations. No drop
    /// glue, so it stays usable while other thread-locals are destroyed.
    static ORPHANED_SECTIONS: Cell<[u64; ORPHAN_SLOTS]> = Cell::new([0; ORPHAN_SLOTS]);
}

/// Orphaned sections tracked per thread (one per domain; more are not
/// tracked, and a wait in such a domain would not be caught).
const ORPHAN_SLOTS: usize = 8;

fn orphaned_section_began(domain_id: u64) {
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
        let mut d = Domain::builder().build();
        d.is_default = true;
        d.core.signal.mark_default();
        d
    })
}

impl Domain {
    /// A builder with the defaults.
    ///
    /// ```
    /// use urcu_reclaim::{Domain, Flavor};
    /// let d = Domain::builder().flavor(Flavor::Qsbr).queue_capacity(64).build();
    /// assert_eq!((d.flavor(), d.queue_capacity()), (Flavor::Qsbr, 64));
    /// ```
    pub fn builder() -> DomainBuilder {
        DomainBuilder::default()
    }

    /// A domain with the defaults ([`Flavor::Memb`], 4096-word queues).
    ///
    /// ```
    /// use urcu_reclaim::{Domain, Flavor, DEFAULT_QUEUE_CAPACITY};
    /// let d = Domain::new();
    /// assert_eq!(d.requested_flavor(), Flavor::Memb);
    /// assert_eq!(d.queue_capacity(), DEFAULT_QUEUE_CAPACITY);
    /// ```
    pub fn new() -> Domain {
        Domain::builder().build()
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

    /// This thread's record, joining the domain on first use.
    ///
    /// The returned reference is valid while `self` is borrowed: the record
    /// stays registered (and so alive) at least until this thread's
    /// registrations are dropped, and those caches are cleared first.
    #[inline]
    pub(crate) fn record(&self) -> &ThreadRecord {
        if self.is_default {
            return default_record();
        }
        self.registered_record()
    }

    /// [`record`](Self::record) through the per-thread registrations.
    #[inline]
    fn registered_record(&self) -> &ThreadRecord {
        let p = LAST_RECORD.with(|c| {
            let (id, p) = c.get();
            if id == self.id {
                p
            } else {
                std::ptr::null()
            }
        });
        if !p.is_null() {
            // SAFETY: see above; the cache is cleared before the record can go.
            return unsafe { &*p };
        }
        self.record_slow()
    }

    #[cold]
    fn record_slow(&self) -> &ThreadRecord {
        let core = self.core();
        let found = REGISTRATIONS
            .try_with(|regs| {
                let mut regs = regs.0.borrow_mut();
                // Forget domains that are gone.
                regs.retain(|r| r.core.strong_count() > 0);
                if let Some(r) = regs.iter().find(|r| r.domain_id == core.id) {
                    return Arc::as_ptr(&r.record);
                }
                let record = core.register(false);
                let p = Arc::as_ptr(&record);
                regs.push(Registration {
                    domain_id: core.id,
                    record,
                    core: core.me.clone(),
                });
                p
            })
            .unwrap_or_else(|_| {
                // This thread's registrations are already destroyed (we are
                // called from another thread-local's destructor). Register a
                // record that is never removed, so the cached pointer stays
                // valid; the reclaimer drains it like any exited thread's.
                let record = core.register(true);
                record.alive.store(false, Ordering::Release);
                Arc::as_ptr(&record)
            });
        LAST_RECORD.with(|c| c.set((core.id, found)));
        // SAFETY: the registry (or our registration) holds the record; see
        // `record`.
        unsafe { &*found }
    }

    /// This thread's record, if it has joined the domain (never registers).
    fn existing_record(&self) -> Option<&ThreadRecord> {
        let id = self.core().id;
        let cached = LAST_RECORD.with(|c| c.get());
        let p = if cached.0 == id {
            cached.1
        } else {
            REGISTRATIONS
                .try_with(|regs| {
                    regs.0
                        .borrow()
                        .iter()
                        .find(|r| r.domain_id == id)
                        .map(|r| Arc::as_ptr(&r.record))
                })
                .ok()
                .flatten()?
        };
        // SAFETY: as in `record`.
        (!p.is_null()).then(|| unsafe { &*p })
    }

    // -----------------------------------------------------------------------
    // Read side
    // -----------------------------------------------------------------------

    /// Enters a read-side section: until the guard drops, objects this
    /// thread can reach through RCU-protected pointers are not reclaimed.
    /// Nestable; the guard is `!Send`.
    ///
    /// Under [`Flavor::Qsbr`] without an online [`ThreadHandle`], the thread
    /// comes online for the guard's lifetime (a fence each way). Use
    /// [`register_thread`](Self::register_thread) for QSBR's free read side.
    ///
    /// A thread that only reads never waits here. One whose previous
    /// section had to spill objects past its full queue (many writes under
    /// one guard) first waits, at most
    /// [`max_writer_wait`](crate::DomainBuilder::max_writer_wait), for
    /// their grace period: that keeps its pending memory bounded.
    ///
    /// ```
    /// use urcu_reclaim::{Domain, RcuBox};
    /// let d = Domain::new();
    /// let b = RcuBox::new_in(String::from("old"), &d);
    /// let g = d.read_lock();
    /// let s = b.load(&g);
    /// b.replace(String::from("new"));
    /// assert_eq!(s, "old"); // not reclaimed while `g` lives
    /// ```
    #[inline]
    pub fn read_lock(&self) -> ReadGuard<'_> {
        let rec = self.record();
        rec.read_lock();
        ReadGuard::new(rec)
    }

    /// Enters a read-side section that is not tied to this thread: the
    /// guard is `Send` and `Sync`, so it may be moved to another thread or
    /// held across an `.await`. Costs a registry lock, an allocation and a
    /// fence to enter and to leave; see [`OwnedReadGuard`](crate::OwnedReadGuard).
    ///
    /// ```
    /// use urcu_reclaim::{Domain, RcuBox};
    /// let d = Domain::new();
    /// let b = RcuBox::new_in(7u32, &d);
    /// let g = d.read_lock_owned();
    /// let ticket = d.start_poll();
    /// assert!(!d.poll(&ticket)); // grace periods wait for the owned section
    /// std::thread::spawn(move || drop(g)).join().unwrap();
    /// d.cond_synchronize(&ticket);
    /// assert_eq!(*b.load(&d.read_lock()), 7);
    /// ```
    pub fn read_lock_owned(&self) -> crate::OwnedReadGuard {
        crate::OwnedReadGuard::new(self)
    }

    /// Registers the calling thread and returns its handle: a `read_lock`
    /// without the thread-local lookup (about the same instruction count
    /// as the free one, for memb) and, under QSBR, the quiescent state and
    /// offline/online calls. The thread starts online.
    ///
    /// # Panics
    /// If this thread already holds a live handle for this domain.
    ///
    /// ```
    /// use urcu_reclaim::{Domain, Flavor};
    /// let d = Domain::builder().flavor(Flavor::Qsbr).build();
    /// let mut h = d.register_thread();
    /// assert!(h.is_online());
    /// drop(h.read_lock()); // free under QSBR
    /// h.quiescent_state(); // between "events": no references held
    /// ```
    pub fn register_thread(&self) -> ThreadHandle {
        let rec = self.record();
        assert!(
            !rec.handle_live.get(),
            "register_thread: this thread already holds a ThreadHandle for this domain; \
             use that one (handles are per thread)"
        );
        let arc = REGISTRATIONS.with(|regs| {
            regs.0
                .borrow()
                .iter()
                .find(|r| r.domain_id == self.core().id)
                .map(|r| r.record.clone())
        });
        let arc = arc.expect("record registered above");
        if self.flavor() == Flavor::Qsbr {
            assert!(
                rec.nesting() == 0,
                "register_thread: a QSBR handle cannot be created inside a read-side section"
            );
            rec.qsbr_online();
        }
        rec.handle_live.set(true);
        ThreadHandle::new(self.clone(), arc)
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
        self.wait_for(self.core().start_poll(), "synchronize_rcu");
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
        self.core().force_grace_period();
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
        self.wait_for(ticket.target, "cond_synchronize");
    }

    fn check_ticket(&self, ticket: &GracePeriod) {
        assert!(
            ticket.domain_id == self.core().id,
            "a GracePeriod ticket was used with a domain other than its own"
        );
    }

    fn wait_for(&self, target: u64, what: &str) {
        self.core().wait_as(self.existing_record(), target, what);
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

impl Default for Domain {
    fn default() -> Self {
        Domain::new()
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

/// Runs `f` marked as domain `id`'s stall hook (see `check_not_in_stall_hook`).
pub(crate) fn in_stall_hook_of<R>(id: u64, f: impl FnOnce() -> R) -> R {
    let was = IN_STALL_HOOK.with(|c| c.replace(id));
    let out = f();
    IN_STALL_HOOK.with(|c| c.set(was));
    out
}

/// Panics if this thread runs domain `id`'s stall hook: the hook runs in
/// the middle of a grace period, holding its lock, so waiting for another
/// grace period (or a reclaimer pass) of that domain would wait for itself.
#[track_caller]
pub(crate) fn check_not_in_stall_hook(id: u64, what: &str) {
    if IN_STALL_HOOK.with(|c| c.get()) == id {
        panic!(
            "{what} was requested from the domain's own on_stall hook (synchronize_rcu, \
             cond_synchronize, rcu_barrier, or a full reclamation queue): the hook runs inside \
             a grace period of that domain, so it would wait for itself. Report from the hook \
             (log, count, send to a channel) and act outside it"
        );
    }
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

// ---------------------------------------------------------------------------
// The default domain, for the thread-local fast path of the free functions.
// ---------------------------------------------------------------------------

/// This thread's record in the default domain.
#[inline(always)]
pub(crate) fn default_record() -> &'static ThreadRecord {
    let p = DEFAULT_RECORD.with(|c| c.get());
    if !p.is_null() {
        // SAFETY: set below from a registered record of the default domain
        // (never dropped), and cleared before the registration goes.
        return unsafe { &*p };
    }
    default_record_slow()
}

#[cold]
fn default_record_slow() -> &'static ThreadRecord {
    let rec: &'static ThreadRecord = default_domain().registered_record();
    let registered = REGISTRATIONS.try_with(|_| ()).is_ok() && !rec.pinned;
    if registered {
        DEFAULT_RECORD.with(|c| c.set(rec));
    }
    rec
}
