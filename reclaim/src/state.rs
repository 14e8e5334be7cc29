//! The shared state of a domain, in one place: [`Core`] (what every
//! thread of the domain reaches through an `Arc`), its [`Config`] and the
//! reclaimer's [`ReclaimerSignal`]. The readers' line, [`Hot`], has a
//! module of its own (`hot`): the per-thread records (`record`) reach it,
//! and the rest of the core through [`RecordDomain`], without depending on
//! this module, which lists them. The dependency runs one way: `state` →
//! `record` → `hot`.
//!
//! The behaviour lives beside the part it drives, as `impl Core` blocks:
//! `grace_period` (detecting grace periods), `enqueue` (the producer side
//! of the queue), `reclaimer` (the background thread and its passes). This
//! file holds the data they share, its construction, and the operations on
//! the whole: registering a thread, reading the counters, shutting down.

use crate::flavor::{phase, qsbr, Flavor};
use crate::hot::Hot;
use crate::queue::Retired;
use crate::record::{RecordDomain, ThreadRecord};
use crate::stall::StallHook;
use crate::stats::{Counters, Stats};
use crate::sync::{lock, Arc, AtomicBool, AtomicU64, AtomicUsize, Mutex, Ordering};
use crossbeam_utils::CachePadded;
use std::sync::{Condvar, Mutex as StdMutex, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// What the [`DomainBuilder`](crate::DomainBuilder) chose; fixed for the
/// domain's life.
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
    /// reclaimer writes it. Relaxed for producers: a hint that orders
    /// nothing (a producer that misses it waits for the reclaimer's timed
    /// wake-up). `SeqCst` in the handshake with lazy grace-period requests
    /// (see `Wake::LazyGracePeriod`), where a miss would cost an idle sleep.
    pub(crate) reclaimer_idle: CachePadded<AtomicBool>,
    /// Hands out readers' wake bits ([`Hot::wake_mask`]).
    pub(crate) next_wake_bit: std::sync::atomic::AtomicU32,
    /// Grace-period sequence: odd while one runs; +2 per grace period.
    /// Written under `gp_lock`; polled (acquire) by `poll`.
    pub(crate) gp_seq: CachePadded<AtomicU64>,
    /// Held while a grace period runs; holds its list of readers to scan
    /// (kept to reuse its allocation).
    pub(crate) gp_lock: Mutex<Vec<Arc<ThreadRecord>>>,
    /// Every record grace periods scan: threads that joined (until the
    /// reclaimer forgets them after they exit), and owned read guards.
    pub(crate) registry: Mutex<Vec<Arc<ThreadRecord>>>,
    /// Entries queued when a ring was full and the caller could not wait.
    pub(crate) overflow: Mutex<Vec<Retired>>,
    /// Serializes reclaimer passes and barriers.
    pub(crate) pass_lock: Mutex<()>,
    /// What readers really use: `config.requested`, resolved.
    pub(crate) flavor: Flavor,
    pub(crate) config: Config,
    pub(crate) counters: Counters,
    pub(crate) signal: ReclaimerSignal,
    /// Unique per domain: tickets and thread-local caches carry it.
    pub(crate) id: u64,
    /// Lets `&self` methods hand the reclaimer thread an `Arc`.
    pub(crate) me: Weak<Core>,
    /// The origin of the reclaimer's clock.
    pub(crate) created: Instant,
    /// Owned read guards alive (`OwnedReadGuard`): while any is, writers
    /// do not wait for grace periods on their own (see `owned`).
    pub(crate) owned_guards: AtomicUsize,
    /// A grace-period target that a writer's backpressure wait gave up on:
    /// until it is reached, writers spill rather than wait (see
    /// `writer_wait`). Zero (always reached) when none was.
    pub(crate) writer_waits_suspended: AtomicU64,
}

/// The id of the default domain: a constant, so that a guard of the free
/// `read_lock` checks a structure's domain against an immediate. Other
/// domains count up from the next one; 0 is no domain's.
pub(crate) const DEFAULT_DOMAIN_ID: u64 = 1;

impl Core {
    /// The state of a new domain. No thread starts until something is
    /// queued.
    pub(crate) fn new(config: Config) -> Arc<Core> {
        static NEXT_ID: std::sync::atomic::AtomicU64 =
            std::sync::atomic::AtomicU64::new(DEFAULT_DOMAIN_ID + 1);
        Core::with_id(
            config,
            NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        )
    }

    /// The state of the process-wide default domain, whose id is the
    /// constant [`DEFAULT_DOMAIN_ID`].
    pub(crate) fn new_default(config: Config) -> Arc<Core> {
        Core::with_id(config, DEFAULT_DOMAIN_ID)
    }

    fn with_id(config: Config, id: u64) -> Arc<Core> {
        let flavor = config.requested.resolve();
        let gp_ctr = match flavor {
            Flavor::Memb | Flavor::Mb => phase::GP_CTR_INIT,
            Flavor::Qsbr => qsbr::GP_CTR_INIT,
        };
        Arc::new_cyclic(|me| Core {
            hot: CachePadded::new(Hot::new(gp_ctr)),
            reclaimer_idle: CachePadded::new(AtomicBool::new(true)),
            next_wake_bit: std::sync::atomic::AtomicU32::new(0),
            gp_seq: CachePadded::new(AtomicU64::new(0)),
            gp_lock: Mutex::new(Vec::new()),
            registry: Mutex::new(Vec::new()),
            overflow: Mutex::new(Vec::new()),
            pass_lock: Mutex::new(()),
            flavor,
            config,
            counters: Counters::default(),
            signal: ReclaimerSignal::default(),
            id,
            me: me.clone(),
            created: Instant::now(),
            owned_guards: AtomicUsize::new(0),
            writer_waits_suspended: AtomicU64::new(0),
        })
    }

    /// Registers a new record for the calling thread: in the registry
    /// before its first section, which grace periods rely on (see
    /// `run_grace_period`).
    pub(crate) fn register(&self, pinned: bool) -> Arc<ThreadRecord> {
        let rec = Arc::new(ThreadRecord::new(self, self.config.queue_capacity, pinned));
        lock(&self.registry).push(rec.clone());
        rec
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

    /// A snapshot of the counters (see [`Stats`]).
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

/// What a thread's record needs of its domain (see [`RecordDomain`]): the
/// readers' line and the domain's constants, and the cold paths of a
/// section (beside the producer side, in `enqueue`).
impl RecordDomain for Core {
    fn hot(&self) -> &Hot {
        &self.hot
    }

    fn id(&self) -> u64 {
        self.id
    }

    fn flavor(&self) -> Flavor {
        self.flavor
    }

    fn new_wake_bit(&self) -> u64 {
        // Relaxed: only spreads readers over the 64 bits; any value is
        // correct (readers sharing a bit wake a writer for each other).
        1 << (self
            .next_wake_bit
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            % 64)
    }

    // These three forward to `Core`'s inherent methods of the same names
    // (in `enqueue`): inherent methods take precedence, so they do not
    // recurse.

    fn relieve_backlog(&self, rec: &ThreadRecord) {
        Core::relieve_backlog(self, rec);
    }

    fn close_spill_batch(&self, rec: &ThreadRecord) -> u64 {
        Core::close_spill_batch(self, rec)
    }

    fn free_spilled(&self, rec: &ThreadRecord) {
        Core::free_spilled(self, rec);
    }
}

/// Wake-ups and lifecycle of the reclaimer thread (driven in
/// `reclaimer`; stopped by [`Core::shutdown`]).
///
/// Two handshakes. Wake-up: a waker stores `wanted` then loads `sleeping`;
/// the reclaimer stores `sleeping` then loads `wanted` (all `SeqCst`, under
/// `mutex` on the reclaimer's side), so either the reclaimer sees the
/// request before it sleeps, or the waker sees it sleeping and notifies
/// `cv` under `mutex`. Shutdown: `shutdown` is stored (`SeqCst`) before
/// `mutex` is taken to notify, and the reclaimer checks it under `mutex`
/// before waiting, so it cannot sleep through it.
#[derive(Default)]
pub(crate) struct ReclaimerSignal {
    pub(crate) mutex: StdMutex<()>,
    pub(crate) cv: Condvar,
    /// A pass is wanted now (a producer passed a checkpoint, a thread
    /// exited, something spilled). `SeqCst` in the wake-up handshake; read
    /// `Relaxed` first as a hint (a request lost to a stale `true` waits at
    /// most one `reclaim_interval`, the reclaimer's sleep while anything is
    /// pending), and cleared `Relaxed` by the reclaimer before its pass.
    pub(crate) wanted: AtomicBool,
    /// Someone polling a ticket asked for a grace period even if no queue
    /// holds anything ([`Domain::request_grace_period`](crate::Domain::request_grace_period)).
    /// `Relaxed`: the `SeqCst` store of `wanted` that follows it publishes
    /// it to the reclaimer's pass; a pass that misses it leaves it to the
    /// next. A lazy request ([`Domain::request_grace_period_lazily`](crate::Domain::request_grace_period_lazily))
    /// stores it `SeqCst` instead and may not wake the reclaimer, which
    /// then reads it before it sleeps.
    pub(crate) gp_requested: AtomicBool,
    /// The thread is in (or about to enter) its wait. Set `SeqCst` (the
    /// wake-up handshake); cleared `Relaxed` on waking, which only spares
    /// wakers a notify while the reclaimer is awake and about to look.
    pub(crate) sleeping: AtomicBool,
    /// The domain is shutting down: no thread is started any more, and the
    /// running one drains everything and exits. Stored `SeqCst` by
    /// [`Core::shutdown`]; the `Acquire` loads pair with it, so a reclaimer
    /// that sees it also sees what the last handle's thread queued before.
    pub(crate) shutdown: AtomicBool,
    pub(crate) thread: StdMutex<Option<JoinHandle<()>>>,
    /// The reclaimer thread has been spawned. Stored `Release` after its
    /// handle is in `thread`; the `Acquire` fast-path load pairs with it,
    /// and the load under the `thread` lock needs no ordering of its own.
    pub(crate) started: AtomicBool,
}
