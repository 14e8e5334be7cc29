//! map-stall: the map torture, a stalling reader, a misbehaving stall
//! hook, and pending objects sampled against their bound.

use super::map::{MapTorture, KEYS};
use super::{lock, Ctx, Rd, Rng, Torture, Wr};
use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Once};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};
use urcu::{Domain, StallReport};

/// The map-stall domain's stall timeout.
pub const STALL_TIMEOUT: Duration = Duration::from_millis(25);
/// How long the stalling reader holds a section: four stall timeouts.
pub const STALL_HOLD: Duration = Duration::from_millis(100);
/// The map-stall domain's `max_writer_wait`: well past [`STALL_HOLD`], so
/// writers wait out each stall rather than spill past the bound.
pub const STALL_WRITER_WAIT: Duration = Duration::from_secs(10);
/// Ring words of the map-stall domain (a power of two, so the ring has
/// exactly this many: `Ring::new` rounds up to one).
pub const STALL_QUEUE: usize = 32;
const _: () = assert!(STALL_QUEUE.is_power_of_two() && STALL_QUEUE >= 4);
/// The most objects one map write (one `pin()` section of
/// `MapTorture::write`) retires: the entry it replaced or removed; the
/// overflow lines it unlinked (`trim_empty_lines`: one, or two when a
/// replacement both emptied its line and grew the chain past an empty
/// tail); and the tables whose migration it finished: the root's in
/// `lock_bucket` (its chunk, or its key's bucket, was the last), and one
/// that a grow or shrink started and moved whole in its first chunk (64
/// buckets or fewer). (A migration into a chain may leave an empty middle
/// line that only a later write's trim unlinks, with its own: rare, and
/// then a line or two more, which the bound's in-flight ring covers.)
pub const SECTION_RETIRES: u64 = 5;
/// The stalling reader's thread name (stall reports name it).
const STALLER: &str = "torture-stall";

/// The most objects that one writer thread's record can count as pending
/// (queued, not yet counted reclaimed) in the map-stall domain, from
/// `reclaim/src/enqueue.rs` and `queue.rs`:
///
/// - **The ring**: `try_push` takes an entry only while at most
///   `capacity - 3` words are used, and an entry is at least one word, so
///   the ring holds at most `capacity - 2` objects.
/// - **Plus one ring in flight**: a drain moves the tail entry by entry
///   but counts what it freed (`add_reclaimed`) only at its end, so while
///   another thread (the reclaimer) drains up to `capacity - 2` objects,
///   the owner may refill the slots: up to twice that in the counters.
/// - **Spills**: a write that finds the ring full inside a section spills
///   to a batch of its own (it must not wait there); the section's end
///   closes the batch and sets the backlog, and the next outermost entry
///   (`relieve_backlog`) waits for a grace period and frees the ring and
///   every closed batch. So the owner holds at most one batch: the open
///   one, or the last closed one until its next entry. A reclaimer pass may
///   take a closed batch first (`collect_spill`; an `rcu_barrier` takes the
///   open one too) and free it after its own grace period; the next entry
///   then finds nothing to wait for, and the owner may spill again (once:
///   the entry after that finds its batch waiting). Passes run one at a
///   time, so that pass holds one batch, or with a barrier one and the
///   start of the next: two sections' retirements ([`SECTION_RETIRES`]
///   each) in all.
///
/// An exited writer's record keeps what it had, no more. Readers, fake
/// writers, the stalling reader and the destructors here queue nothing,
/// and no owned guard lives in this domain (while one does, a full ring
/// outside a section spills to the domain instead of waiting).
pub const fn per_writer_bound() -> u64 {
    2 * (STALL_QUEUE as u64 - 2) + 2 * SECTION_RETIRES
}

thread_local! {
    /// This thread runs the map-stall hook: its panics are expected (the
    /// panic hook stays quiet about them; the library counts them).
    static IN_STALL_HOOK: Cell<bool> = const { Cell::new(false) };
}

/// Keeps the default panic message away from the hook's own panics.
fn quiet_hook_panics() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let prev = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !IN_STALL_HOOK.with(Cell::get) {
                prev(info);
            }
        }));
    });
}

/// Marks the current thread as running the hook until dropped (also
/// while unwinding: the panic hook runs before the drop).
struct InHook;

impl InHook {
    fn enter() -> InHook {
        IN_STALL_HOOK.with(|c| c.set(true));
        InHook
    }
}

impl Drop for InHook {
    fn drop(&mut self) {
        IN_STALL_HOOK.with(|c| c.set(false));
    }
}

/// What the map-stall hook, the stalling reader and the sampler share.
#[derive(Default)]
pub(super) struct StallRig {
    /// The domain, for the hook's `synchronize_rcu` (taken out at the end:
    /// the domain holds the hook).
    pub(super) domain: Mutex<Option<Domain>>,
    calls: AtomicU64,
    /// Hook calls that panicked (on purpose, or through `synchronize_rcu`).
    thrown: AtomicU64,
    sync_tried: AtomicU64,
    sync_refused: AtomicU64,
    /// Reports that named the stalling reader.
    named_staller: AtomicU64,
    /// Stalls the stalling reader completed.
    stalls: AtomicU64,
    /// `writers_exited` as it was before an `rcu_barrier` that returned:
    /// those writers' records hold nothing any more.
    drained: AtomicU64,
    samples: AtomicU64,
    peak: AtomicU64,
    bound_at_peak: AtomicU64,
    max_records: AtomicU64,
}

impl StallRig {
    pub(super) fn new() -> Arc<StallRig> {
        quiet_hook_panics();
        Arc::default()
    }

    /// The `on_stall` hook: of every three calls, one panics, one calls
    /// `synchronize_rcu` of its own domain (which must panic, not wait for
    /// the grace period that runs the hook), one returns.
    pub(super) fn hook(self: &Arc<Self>) -> impl Fn(&StallReport) + Send + Sync + 'static {
        let rig = self.clone();
        move |report: &StallReport| {
            let _quiet = InHook::enter();
            let n = rig.calls.fetch_add(1, Ordering::SeqCst);
            if report.threads.iter().any(|t| t.starts_with(STALLER)) {
                rig.named_staller.fetch_add(1, Ordering::SeqCst);
            }
            match n % 3 {
                0 => {
                    rig.thrown.fetch_add(1, Ordering::SeqCst);
                    panic!("torture: an on_stall hook that panics (expected)");
                }
                1 => {
                    let Some(d) = lock(&rig.domain).clone() else {
                        return;
                    };
                    rig.sync_tried.fetch_add(1, Ordering::SeqCst);
                    if let Err(p) = catch_unwind(AssertUnwindSafe(|| d.synchronize_rcu())) {
                        rig.sync_refused.fetch_add(1, Ordering::SeqCst);
                        rig.thrown.fetch_add(1, Ordering::SeqCst);
                        std::panic::resume_unwind(p);
                    }
                }
                _ => {}
            }
        }
    }

    /// After the run: the reclaimer still frees on its own, and the
    /// domain's stall counters match what the hook and the reader saw.
    pub(super) fn check_after(&self, ctx: &Ctx) {
        let done = Arc::new(AtomicBool::new(false));
        let flag = done.clone();
        ctx.d.defer(move || flag.store(true, Ordering::SeqCst));
        let until = Instant::now() + Duration::from_secs(10);
        while !done.load(Ordering::SeqCst) && Instant::now() < until {
            thread::sleep(Duration::from_millis(1));
        }
        ctx.check(done.load(Ordering::SeqCst), || {
            "the reclaimer did not run a deferred closure within 10 s after the stalls".into()
        });
        ctx.d.rcu_barrier();
        let s = ctx.d.stats();
        let ld = |c: &AtomicU64| c.load(Ordering::SeqCst);
        let (calls, thrown, stalls) = (ld(&self.calls), ld(&self.thrown), ld(&self.stalls));
        ctx.check(stalls > 0, || "the stalling reader never stalled".into());
        ctx.check(s.stalls_reported == calls, || {
            format!(
                "{} stalls reported but the hook ran {calls} times",
                s.stalls_reported
            )
        });
        ctx.check(s.stall_hook_panics == thrown, || {
            format!(
                "the hook panicked {thrown} times but stats count {}",
                s.stall_hook_panics
            )
        });
        ctx.check(s.writer_wait_timeouts == 0, || {
            format!(
                "{} writer waits gave up (max_writer_wait {STALL_WRITER_WAIT:?}): the bound assumes none",
                s.writer_wait_timeouts
            )
        });
        let (tried, refused) = (ld(&self.sync_tried), ld(&self.sync_refused));
        ctx.check(tried == refused, || {
            format!(
                "synchronize_rcu from the hook returned {} of {tried} times",
                tried - refused
            )
        });
        if stalls > 0 {
            ctx.check(thrown > 0 && ld(&self.named_staller) > 0, || {
                format!(
                    "{stalls} stalls of {STALL_HOLD:?} but {calls} reports, {} naming \
                     {STALLER}, {thrown} hook panics",
                    ld(&self.named_staller)
                )
            });
        }
        ctx.check(ld(&self.samples) > 0, || "pending was never sampled".into());
    }

    pub(super) fn figures(&self, s: &urcu::Stats) -> super::StallFigures {
        let ld = |c: &AtomicU64| c.load(Ordering::SeqCst);
        super::StallFigures {
            stalls: ld(&self.stalls),
            reported: s.stalls_reported,
            hook_panics: s.stall_hook_panics,
            peak_pending: ld(&self.peak),
            bound_at_peak: ld(&self.bound_at_peak),
            max_writer_records: ld(&self.max_records),
        }
    }
}

pub(super) struct MapStallTorture {
    map: MapTorture,
    rig: Arc<StallRig>,
}

impl MapStallTorture {
    pub(super) fn new(ctx: &Arc<Ctx>, rig: Arc<StallRig>) -> MapStallTorture {
        MapStallTorture {
            map: MapTorture::new(ctx),
            rig,
        }
    }

    /// Stalls: a section of [`STALL_HOLD`] (nested 1–3 deep, through its
    /// handle or the domain) holding a few values, checked while it waits
    /// and before it leaves; then 100–200 ms outside, offline.
    fn staller(&self, ctx: &Ctx) {
        let rng = Rng::new(0x57a1);
        let mut h = ctx.d.register_thread();
        let mut last = vec![0; KEYS as usize];
        // Let the writers fill their rings first.
        thread::sleep(Duration::from_millis(20));
        loop {
            {
                let rd = Rd {
                    ctx,
                    h: Some(&h),
                    rng: &rng,
                };
                let g = rd.lock();
                let inner = rd.nest();
                let mut held = Vec::new();
                for _ in 0..8 {
                    let k = rng.below(KEYS);
                    if let Some(v) = self.map.map.get(&k, &g) {
                        self.map
                            .check_val(k, v, Some(&mut last[k as usize]), "stalled get");
                        held.push((k, v));
                    }
                }
                let until = Instant::now() + STALL_HOLD;
                while Instant::now() < until {
                    thread::sleep(Duration::from_millis(5));
                    for &(k, v) in &held {
                        self.map.check_val(k, v, None, "during a stall");
                    }
                }
                drop(inner);
                for &(k, v) in &held {
                    self.map.check_val(k, v, None, "before leaving a stall");
                }
                drop(g);
            }
            self.rig.stalls.fetch_add(1, Ordering::SeqCst);
            Ctx::count(&ctx.reads);
            h.quiescent_state();
            if ctx.stopped() {
                break;
            }
            h.offline();
            let until = Instant::now() + Duration::from_millis(100 + rng.below(100));
            while !ctx.stopped() && Instant::now() < until {
                thread::sleep(Duration::from_millis(5));
            }
            h.online();
            if ctx.stopped() {
                break;
            }
        }
    }

    /// Samples pending objects against the bound for the writer records
    /// that may hold some.
    ///
    /// `stats()` reads reclaimed counts before queued ones, so one snapshot
    /// may count an object freed meanwhile as pending. Taking `queued` from
    /// a first snapshot and `reclaimed` from a second gives instead a lower
    /// bound on what was pending at every moment between them. The writer
    /// records that may hold objects then: every writer started by the
    /// second, less those drained before the first (see `barrier_loop`).
    fn sampler(&self, ctx: &Ctx) {
        let rig = &self.rig;
        while !ctx.stopped() {
            let drained = rig.drained.load(Ordering::SeqCst);
            let s1 = ctx.d.stats();
            let s2 = ctx.d.stats();
            let started = ctx.writers_started.load(Ordering::SeqCst);
            let pending = s1.queued.saturating_sub(s2.reclaimed);
            let records = started.saturating_sub(drained);
            let bound = records * per_writer_bound();
            rig.samples.fetch_add(1, Ordering::Relaxed);
            rig.max_records.fetch_max(records, Ordering::Relaxed);
            if pending > rig.peak.load(Ordering::Relaxed) {
                rig.peak.store(pending, Ordering::Relaxed);
                rig.bound_at_peak.store(bound, Ordering::Relaxed);
            }
            ctx.check(pending <= bound, || {
                format!(
                    "{pending} objects pending, over the bound {bound} ({records} writer records × \
                     {}): {s2:?}",
                    per_writer_bound()
                )
            });
            thread::sleep(Duration::from_micros(500));
        }
    }

    /// `rcu_barrier` in a loop: once one returns, the writers that had
    /// exited before it began hold nothing (they queued their last object
    /// before they counted their exit).
    fn barrier_loop(&self, ctx: &Ctx) {
        while !ctx.stopped() {
            let exited = ctx.writers_exited.load(Ordering::SeqCst);
            ctx.d.rcu_barrier();
            self.rig.drained.fetch_max(exited, Ordering::SeqCst);
            thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Torture for MapStallTorture {
    type ReaderState = Vec<u64>;

    fn writers(&self) -> usize {
        self.map.writers()
    }

    fn read(&self, r: &Rd<'_>, last: &mut Vec<u64>) {
        self.map.read(r, last)
    }

    fn write(&self, w: usize, wr: &Wr<'_>) {
        self.map.write(w, wr)
    }

    fn finish(self, ctx: &Ctx) {
        self.map.finish(ctx)
    }

    fn side_threads(self: &Arc<Self>, ctx: &Arc<Ctx>) -> Vec<JoinHandle<()>> {
        let spawn = |name: &str, job: fn(&Self, &Ctx)| {
            let (t, ctx) = (self.clone(), ctx.clone());
            thread::Builder::new()
                .name(name.into())
                .spawn(move || job(&t, &ctx))
                .unwrap()
        };
        vec![
            spawn(STALLER, Self::staller),
            spawn("torture-sampler", Self::sampler),
            spawn("torture-barrier", Self::barrier_loop),
        ]
    }
}
