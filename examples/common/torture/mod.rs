//! The torture engine: rcutorture for urcu-rs. Readers, writers and fake
//! writers hammer each flavor and each structure, and every reader checks
//! that what it holds was neither freed nor aged past what its read-side
//! section allows.
//!
//! Two programs run it: the `torture` example (a command line, long runs)
//! and the `tests/torture.rs` integration test (every flavor × structure,
//! short runs scaled by `URCU_STRESS`); `tests/faults.rs` runs it with
//! bugs injected. Each includes this directory with
//! `#[path = ".../common/torture/mod.rs"] mod torture;` and calls
//! [`run_case`] or [`run_case_with_watchdog`] with a [`Case`], which returns
//! a [`Report`]: its `errors` must be 0.
//!
//! # The structures
//!
//! - **core** (`pipe.rs`), after Linux's rcutorture: objects live in an
//!   arena that is never released, so a reader that reaches a freed object
//!   reads a "freed" mark instead of crashing. One writer takes a free
//!   slot, fills it (a sequence number and a payload derived from it),
//!   publishes it with one release store of `seq << 16 | slot`, and gives
//!   the object it replaced **age 1** ("removed"). The removed object then
//!   climbs the pipe: a deferred callback ([`Domain::defer`]) adds 1 to its
//!   age and queues itself again, so each step costs a full grace period
//!   that began after the previous step. At age [`PIPE_LEN`] the slot is
//!   marked freed, its payload poisoned, and it goes back to the free list
//!   (and is reused: a stale reader would see another sequence number). A
//!   reader loads the published word in a section, checks that the slot
//!   still holds that sequence, live, with its payload, waits a little, and
//!   reads the age again before it leaves. **Why age ≤ 1**: the reader
//!   loaded the object while it was published, so its section began before
//!   the removal. Age 2 needs the first callback, queued after the removal,
//!   to have run: a grace period that began after the removal has ended,
//!   and that grace period must wait for this section. Any age ≥ 2 seen
//!   inside a section means a grace period was cut short; a freed mark or
//!   another sequence means an object was freed early.
//! - **queue** and **rcubox** (`heap.rs`): real heap objects, each with a
//!   magic word, a sequence number and a payload derived from it; its
//!   destructor poisons the magic. A quarantine allocator (the including
//!   program's global allocator) keeps freed objects mapped and filled with
//!   a poison byte for a while, so a reader that touches a freed object
//!   reads poison instead of a reused, valid-looking block. `queue`
//!   publishes through an `AtomicPtr` and retires with
//!   `rcu_reclaim_queue` (one in 16 from inside a section, which spills
//!   when the ring is full); `rcubox` through an `RcuBox` (`replace`, and
//!   one in 4 `swap` inside a section). The writer tags each unpublished
//!   object with a grace-period ticket taken after the removal; a reader
//!   that still holds the object checks that the ticket has not completed
//!   (the age check with real objects). Readers nest 1–3 deep, re-check the
//!   object after each nested guard comes and goes, load afresh in nested
//!   sections, and sometimes report a quiescent state inside a section
//!   (`ReadGuard::quiescent_state`) and go on with a fresh load.
//! - **map** (`map.rs`, `RcuHashMap<u64, Val>`): values are poisoned on drop
//!   and encode their key and version; each writer owns a set of keys, so a
//!   key's versions only grow. Readers check magic, key ↔ value, that a
//!   key's version never goes back for them, and that every value they hold
//!   is still live at the end of the section; sometimes they iterate.
//!   Writers insert, remove, `update` and `get_or_insert_with` inside pinned
//!   sections (queueing from a section), so the table grows and shrinks
//!   under the readers.
//! - **list** (`list.rs`, `RcuList<Item>`): ids grow toward the back
//!   (`push_back`) and shrink toward the front (`push_front`); the writer
//!   removes elements and stamps each with a removal number once it is
//!   unlinked. A walk must see live items in strictly increasing order, and
//!   never an item whose removal finished before the walk began.
//! - **config** (`config.rs`, `ConfigCell<Cfg>`): two writers `update` and
//!   `compare_and_set`; every field of a config derives from its version.
//!   Each read must be whole and live, at least as new as the `version()`
//!   read just before it, and never older than the reader's previous read
//!   (through `read()`, `load()` and a `CachedReader`).
//! - **map-stall** (`stall.rs`): the map torture in a domain with a short
//!   stall timeout ([`STALL_TIMEOUT`]), an `on_stall` hook that misbehaves
//!   (of every three calls, one panics, one calls `synchronize_rcu` of its
//!   own domain, which must panic rather than deadlock, and one returns), a
//!   ring of [`STALL_QUEUE`] words and a `max_writer_wait` of
//!   [`STALL_WRITER_WAIT`]. Beside the usual threads, a reader stalls: it
//!   holds a section for `STALL_HOLD`, checking the values it holds, then
//!   leaves for a while. Writers then fill their rings, spill inside their
//!   `pin()` sections, and wait at their next section's entry. Checks:
//!   every reported stall reached the hook and every panic of it was caught
//!   and counted, the stalling reader was named, no writer wait gave up
//!   (`writer_wait_timeouts == 0`), the reclaimer still frees after the
//!   run, and pending objects, sampled all along, never exceed the bound
//!   derived at `stall::per_writer_bound` for each writer thread whose objects
//!   may still be pending.
//! - **come-and-go** (`heap.rs`): `synchronize_rcu` while reader threads
//!   come and go one at a time, so grace periods often find no other
//!   thread registered (and return at once) just as a new reader registers
//!   and reads. The writer frees each old heap object itself right after
//!   its grace period; for the first half of the case from a thread that
//!   never joined the domain, then from one with a handle of its own.
//!   Checks the readers' checks above, and that the writer did find itself
//!   alone in both halves (the case is not vacuous).
//!
//! # Around them
//!
//! Two fake writers call `synchronize_rcu` and `start_poll`/
//! `cond_synchronize` in a loop; reader threads (3; under QSBR, and every
//! other one otherwise, through a `ThreadHandle` that reports quiescent
//! states and goes offline/online) and writer threads exit and are
//! replaced (an exiting thread hands its queue over); readers live
//! `churn` × 1–4, writers `churn` × 2–8 (100 ms in the example). Rings are
//! small (64 words by default), so full-ring fallbacks and in-section
//! spills happen all the time. Every thread of a case is checked for
//! panics.
//!
//! # The end of a case
//!
//! After the threads stop, `rcu_barrier` must leave nothing pending: every
//! object created was dropped exactly once, and the domain's counters
//! balance (`pending() == 0`, reclaimed = queued, no destructor panic).
//! Then the case drops its domain, which joins the reclaimer thread: that
//! must not panic. The report also counts reader and writer threads, fake
//! grace periods and ticket checks, so a caller can check the case was not
//! vacuous.
//!
//! # Injected bugs
//!
//! [`Bug::SkipGp`] (one pipe step without a grace period) and
//! [`Bug::FreeEarly`] (free on removal: in the pipe, and in the `queue`
//! writer) show that the checks fire.

// Each program that includes the engine uses part of it.
#![allow(dead_code)]

mod config;
mod heap;
mod list;
mod map;
mod pipe;
mod stall;

pub use pipe::PIPE_LEN;
pub use stall::{STALL_QUEUE, STALL_TIMEOUT, STALL_WRITER_WAIT};

use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};
use urcu::{Domain, Flavor, ReadGuard, ThreadHandle};

/// Reader threads running at once.
pub const READERS: usize = 3;
const FAKE_WRITERS: usize = 2;
const LIVE: u64 = 0x00c0_ffee_1157_a11e;
const DEAD: u64 = 0xdead_dead_dead_dead;
/// The list and config tortures add writers that take a structure's writer
/// lock from inside a read-side section while another writer, whose queue
/// is full, must wait for a grace period: that writer must not wait while
/// holding the lock. Set this variable (to anything) to leave those
/// writers out.
const NO_LOCK_IN_SECTION: &str = "URCU_TORTURE_NO_LOCK_IN_SECTION";

// ---------------------------------------------------------------------------
// Cases
// ---------------------------------------------------------------------------

/// What a case tortures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Structure {
    /// The pipe of aging objects: grace periods and `defer` themselves.
    Core,
    /// Heap objects behind an `AtomicPtr`, retired with `rcu_reclaim_queue`.
    Queue,
    /// Heap objects behind an `RcuBox`.
    RcuBox,
    /// `RcuHashMap`.
    Map,
    /// `RcuList`.
    List,
    /// `ConfigCell`.
    Config,
    /// `RcuHashMap` with a stalling reader and a misbehaving stall hook.
    MapStall,
    /// Reader threads one at a time against a writer that frees right
    /// after `synchronize_rcu`.
    ComeAndGo,
}

impl Structure {
    /// Every structure, in the order the example runs them.
    pub const ALL: [Structure; 8] = [
        Structure::Core,
        Structure::Queue,
        Structure::RcuBox,
        Structure::Map,
        Structure::List,
        Structure::Config,
        Structure::MapStall,
        Structure::ComeAndGo,
    ];

    /// Its name on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Structure::Core => "core",
            Structure::Queue => "queue",
            Structure::RcuBox => "rcubox",
            Structure::Map => "map",
            Structure::List => "list",
            Structure::Config => "config",
            Structure::MapStall => "map-stall",
            Structure::ComeAndGo => "come-and-go",
        }
    }
}

/// The harness itself: a freed heap object reads as poison, and the
/// readers' check reports it. Run it while no case runs.
pub fn check_the_quarantine() -> Result<(), String> {
    heap::check_the_quarantine()
}

/// Every flavor.
pub const FLAVORS: [Flavor; 3] = [Flavor::Memb, Flavor::Mb, Flavor::Qsbr];

/// A flavor's name on the command line and in reports.
pub fn flavor_name(f: Flavor) -> &'static str {
    match f {
        Flavor::Memb => "memb",
        Flavor::Mb => "mb",
        Flavor::Qsbr => "qsbr",
    }
}

/// A bug a writer can inject, to prove that the checks catch it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bug {
    /// One step of the pipe without a grace period (core).
    SkipGp,
    /// Free the replaced object at once (core, queue).
    FreeEarly,
}

/// One flavor × structure run.
#[derive(Clone, Copy, Debug)]
pub struct Case {
    pub flavor: Flavor,
    pub structure: Structure,
    pub duration: Duration,
    pub bug: Option<Bug>,
    /// The domain's ring, in words (map-stall uses [`STALL_QUEUE`]).
    pub capacity: usize,
    /// The unit of thread lifetimes: readers live 1–4 of it, writers 2–8.
    pub churn: Duration,
}

impl Case {
    /// A case with a 64-word ring, 100 ms churn and no bug.
    pub fn new(flavor: Flavor, structure: Structure, duration: Duration) -> Case {
        Case {
            flavor,
            structure,
            duration,
            bug: None,
            capacity: 64,
            churn: Duration::from_millis(100),
        }
    }
}

// ---------------------------------------------------------------------------
// Shared state of a case, and its report
// ---------------------------------------------------------------------------

/// What every thread of a case shares.
pub struct Ctx {
    d: Domain,
    stop: AtomicBool,
    bug: Option<Bug>,
    churn: Duration,
    reads: AtomicU64,
    writes: AtomicU64,
    /// Objects (slots, values, items, configs) destroyed.
    freed: AtomicU64,
    errors: AtomicU64,
    first_errors: Mutex<Vec<String>>,
    ages: [AtomicU64; PIPE_LEN as usize + 1],
    /// Reader threads started.
    readers_started: AtomicU64,
    /// Writer threads started, and finished (after their last write).
    writers_started: AtomicU64,
    writers_exited: AtomicU64,
    /// Writer threads running at once.
    writer_slots: AtomicU64,
    /// Grace periods the fake writers waited for.
    fake_grace_periods: AtomicU64,
    /// Grace-period tickets of removed objects checked by readers.
    ticket_checks: AtomicU64,
    /// What the case adds to its line in the table.
    detail: Mutex<String>,
}

impl Ctx {
    fn new(d: Domain, case: &Case) -> Arc<Ctx> {
        Arc::new(Ctx {
            d,
            stop: AtomicBool::new(false),
            bug: case.bug,
            churn: case.churn,
            reads: AtomicU64::new(0),
            writes: AtomicU64::new(0),
            freed: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            first_errors: Mutex::new(Vec::new()),
            ages: [const { AtomicU64::new(0) }; PIPE_LEN as usize + 1],
            readers_started: AtomicU64::new(0),
            writers_started: AtomicU64::new(0),
            writers_exited: AtomicU64::new(0),
            writer_slots: AtomicU64::new(1),
            fake_grace_periods: AtomicU64::new(0),
            ticket_checks: AtomicU64::new(0),
            detail: Mutex::new(String::new()),
        })
    }

    fn error(&self, msg: String) {
        self.errors.fetch_add(1, Ordering::SeqCst);
        let mut first = lock(&self.first_errors);
        if first.len() < 5 {
            first.push(msg);
        }
    }

    /// Records `cond` as an error (built lazily) when false.
    fn check(&self, cond: bool, msg: impl FnOnce() -> String) {
        if !cond {
            self.error(msg());
        }
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    fn count(c: &AtomicU64) {
        c.fetch_add(1, Ordering::Relaxed);
    }
}

/// What a case did.
#[derive(Debug)]
pub struct Report {
    pub case: Case,
    pub secs: f64,
    pub reads: u64,
    pub writes: u64,
    pub grace_periods: u64,
    pub freed: u64,
    pub errors: u64,
    /// Reader and writer threads started (churn: more than were running
    /// at once, which is 3 readers and `writers_at_once`).
    pub reader_threads: u64,
    pub writer_threads: u64,
    pub writers_at_once: u64,
    /// Grace periods the fake writers waited for.
    pub fake_grace_periods: u64,
    /// Tickets of removed objects checked by readers (queue, rcubox,
    /// come-and-go).
    pub ticket_checks: u64,
    /// Ages seen inside sections (core only).
    pub ages: Option<Vec<u64>>,
    /// What the stalls did (map-stall only).
    pub stall: Option<StallFigures>,
    /// What else the case reports (come-and-go: how often the writer was
    /// alone).
    pub detail: String,
    pub first_errors: Vec<String>,
}

/// What a map-stall case saw.
#[derive(Clone, Debug)]
pub struct StallFigures {
    /// Stalls the stalling reader completed (each held `STALL_HOLD`).
    pub stalls: u64,
    /// `Stats::stalls_reported` (= calls of the hook).
    pub reported: u64,
    /// `Stats::stall_hook_panics` (= panics the hook threw).
    pub hook_panics: u64,
    /// The most objects seen pending at once (a lower bound on the real
    /// figure at a moment between two `stats()` snapshots).
    pub peak_pending: u64,
    /// The bound checked against that peak at that moment.
    pub bound_at_peak: u64,
    /// The most writer threads whose objects could be pending at once.
    pub max_writer_records: u64,
}

impl Report {
    /// `flavor/structure`.
    pub fn name(&self) -> String {
        format!(
            "{}/{}",
            flavor_name(self.case.flavor),
            self.case.structure.name()
        )
    }

    fn ages_text(&self) -> String {
        if let Some(f) = &self.stall {
            return format!(
                "stalls {}, reported {} ({} hook panics), peak pending {} / bound {} (writer records ≤ {})",
                f.stalls,
                f.reported,
                f.hook_panics,
                f.peak_pending,
                f.bound_at_peak,
                f.max_writer_records
            );
        }
        if !self.detail.is_empty() {
            return self.detail.clone();
        }
        let Some(ages) = &self.ages else {
            return "-".into();
        };
        let parts: Vec<String> = ages
            .iter()
            .enumerate()
            .filter(|&(i, &n)| i < 2 || n > 0)
            .map(|(i, n)| format!("{i}:{n}"))
            .collect();
        parts.join(" ")
    }

    /// The case's line in the table.
    pub fn row(&self) -> String {
        format!(
            "{:<16} {:>6.1} {:>12} {:>10} {:>8} {:>10} {:>6}  {}",
            self.name(),
            self.secs,
            self.reads,
            self.writes,
            self.grace_periods,
            self.freed,
            self.errors,
            self.ages_text()
        )
    }
}

/// Prints the reports as a table with a total line.
pub fn print_table(reports: &[Report]) {
    println!(
        "\n{:<16} {:>6} {:>12} {:>10} {:>8} {:>10} {:>6}  ages seen in a section, or stalls",
        "case", "secs", "reads", "writes", "GPs", "freed", "errors"
    );
    for r in reports {
        println!("{}", r.row());
    }
    let sum = |f: fn(&Report) -> u64| reports.iter().map(f).sum::<u64>();
    println!(
        "{:<16} {:>6.1} {:>12} {:>10} {:>8} {:>10} {:>6}",
        "total",
        reports.iter().map(|r| r.secs).sum::<f64>(),
        sum(|r| r.reads),
        sum(|r| r.writes),
        sum(|r| r.grace_periods),
        sum(|r| r.freed),
        sum(|r| r.errors)
    );
}

// ---------------------------------------------------------------------------
// Readers' and writers' per-thread tools
// ---------------------------------------------------------------------------

/// xorshift64*, behind a `Cell` so that borrowed guards do not get in the way.
struct Rng(Cell<u64>);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(Cell::new(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1))
    }

    fn next(&self) -> u64 {
        let mut x = self.0.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0.set(x);
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&self, n: u64) -> u64 {
        self.next() % n
    }

    /// Holds the CPU a random short while (a reader lingering in its section).
    fn spin(&self) {
        for _ in 0..self.below(256) {
            std::hint::spin_loop();
        }
    }
}

/// A reader thread's view: its optional QSBR/fast-path handle and its rng.
pub struct Rd<'a> {
    ctx: &'a Ctx,
    h: Option<&'a ThreadHandle>,
    rng: &'a Rng,
}

impl<'a> Rd<'a> {
    /// Enters a section: through the handle (mostly) or the domain.
    fn lock(&self) -> ReadGuard<'a> {
        match self.h {
            Some(h) if self.rng.below(4) != 0 => h.read_lock(),
            _ => self.ctx.d.read_lock(),
        }
    }

    /// 0–2 more nested sections.
    fn nest(&self) -> Vec<ReadGuard<'a>> {
        (0..self.rng.below(3)).map(|_| self.lock()).collect()
    }
}

/// A writer thread's view: its rng and, for a structure that asks for one
/// ([`Torture::WRITER_HANDLE`]), its handle (the writer reports a
/// quiescent state after each write).
pub struct Wr<'a> {
    rng: &'a Rng,
    h: Option<&'a ThreadHandle>,
}

/// A mixing function: payloads, tags and config fields derive from it.
fn mix(a: u64, b: u64) -> u64 {
    (a ^ b.rotate_left(29))
        .wrapping_mul(0x9e37_79b9_7f4a_7c15)
        .rotate_left(31)
}

/// Created and dropped objects of a structure.
#[derive(Default)]
struct Census {
    created: AtomicU64,
    dropped: AtomicU64,
    dropped_twice: AtomicU64,
}

impl Census {
    fn born(self: &Arc<Self>) -> Arc<Census> {
        self.created.fetch_add(1, Ordering::Relaxed);
        self.clone()
    }

    /// Everything created was dropped exactly once.
    fn check_all_dropped(&self, ctx: &Ctx, what: &str) {
        let (c, d) = (
            self.created.load(Ordering::SeqCst),
            self.dropped.load(Ordering::SeqCst),
        );
        let twice = self.dropped_twice.load(Ordering::SeqCst);
        ctx.freed.fetch_add(d, Ordering::SeqCst);
        ctx.check(c == d && twice == 0, || {
            format!("{what}: {c} created, {d} dropped, {twice} dropped twice")
        });
    }
}

/// Poisons `magic` on drop; reports a second drop.
fn poison(magic: &AtomicU64, census: &Census) {
    if magic.swap(DEAD, Ordering::AcqRel) != LIVE {
        census.dropped_twice.fetch_add(1, Ordering::SeqCst);
    }
    census.dropped.fetch_add(1, Ordering::Relaxed);
}

// ---------------------------------------------------------------------------
// The harness: threads, churn, the end of a case
// ---------------------------------------------------------------------------

/// One tortured structure.
trait Torture: Send + Sync + Sized + 'static {
    /// Per-reader-thread memory (e.g. the newest version seen).
    type ReaderState: Default;
    /// Whether writer threads register a handle and report a quiescent
    /// state after each write.
    const WRITER_HANDLE: bool = false;
    /// Writer threads (each has an index, kept by its replacements).
    fn writers(&self) -> usize;
    /// One read-side operation, with its checks.
    fn read(&self, r: &Rd<'_>, st: &mut Self::ReaderState);
    /// One update by writer `w`.
    fn write(&self, w: usize, wr: &Wr<'_>);
    /// After every thread stopped: drain, drop, and check the accounting.
    fn finish(self, ctx: &Ctx);
    /// Threads of the structure's own, beside the readers and writers
    /// (stopped and joined with them).
    fn side_threads(self: &Arc<Self>, _ctx: &Arc<Ctx>) -> Vec<JoinHandle<()>> {
        Vec::new()
    }
}

/// Runs `case`; if it does not finish well after its duration (a deadlock),
/// the process exits with a message and status 3.
pub fn run_case_with_watchdog(case: Case) -> Report {
    let (tx, rx) = mpsc::channel::<()>();
    let limit = case.duration + Duration::from_secs(120);
    let dog = thread::spawn(move || {
        if rx.recv_timeout(limit) == Err(mpsc::RecvTimeoutError::Timeout) {
            eprintln!("torture: {case:?} did not finish within {limit:?} (deadlock?)");
            std::process::exit(3);
        }
    });
    let r = run_case(case);
    let _ = tx.send(());
    dog.join().unwrap();
    r
}

/// Runs one case and reports what it did.
pub fn run_case(case: Case) -> Report {
    let rig = (case.structure == Structure::MapStall).then(stall::StallRig::new);
    let mut b = Domain::builder()
        .flavor(case.flavor)
        .queue_capacity(case.capacity);
    if heap::uses_heap_objects(case.structure) {
        b = b.reclaim_interval(Duration::from_millis(1));
    }
    if let Some(rig) = &rig {
        b = b
            .queue_capacity(STALL_QUEUE)
            .stall_timeout(STALL_TIMEOUT)
            // Writers wait out every stall (the bound is checked); no
            // reader here waits for a writer, so that cannot deadlock.
            .max_writer_wait(STALL_WRITER_WAIT)
            .on_stall(rig.hook());
    }
    let ctx = Ctx::new(b.build(), &case);
    if let Some(rig) = &rig {
        *lock(&rig.domain) = Some(ctx.d.clone());
    }
    let start = Instant::now();
    let d = case.duration;
    match case.structure {
        Structure::Core => drive(&ctx, pipe::Pipe::new(ctx.clone()), d),
        Structure::Queue => drive(&ctx, heap::HeapTorture::new(&ctx, heap::Mode::Ptr), d),
        Structure::RcuBox => drive(&ctx, heap::HeapTorture::new(&ctx, heap::Mode::Boxed), d),
        Structure::Map => drive(&ctx, map::MapTorture::new(&ctx), d),
        Structure::List => drive(&ctx, list::ListTorture::new(&ctx), d),
        Structure::Config => drive(&ctx, config::ConfigTorture::new(&ctx), d),
        Structure::MapStall => {
            let rig = rig.clone().expect("map-stall has its rig");
            drive(&ctx, stall::MapStallTorture::new(&ctx, rig), d)
        }
        Structure::ComeAndGo => heap::readers_coming_and_going(&ctx, d),
    }
    if let Some(rig) = &rig {
        rig.check_after(&ctx);
    }
    check_domain_balanced(&ctx);
    let ld = |c: &AtomicU64| c.load(Ordering::SeqCst);
    let s = ctx.d.stats();
    let mut report = Report {
        case,
        secs: 0.0,
        reads: ld(&ctx.reads),
        writes: ld(&ctx.writes),
        grace_periods: s.grace_periods,
        freed: ld(&ctx.freed),
        errors: 0,
        reader_threads: ld(&ctx.readers_started),
        writer_threads: ld(&ctx.writers_started),
        writers_at_once: ld(&ctx.writer_slots),
        fake_grace_periods: ld(&ctx.fake_grace_periods),
        ticket_checks: ld(&ctx.ticket_checks),
        ages: (case.structure == Structure::Core).then(|| ctx.ages.iter().map(ld).collect()),
        stall: rig.as_ref().map(|r| r.figures(&s)),
        detail: lock(&ctx.detail).clone(),
        first_errors: Vec::new(),
    };
    if let Some(rig) = &rig {
        // The hook holds the rig, which held a handle: the last one must
        // be the context's, so that dropping it shuts the domain down.
        lock(&rig.domain).take();
    }
    end_domain(ctx, &mut report);
    report.secs = start.elapsed().as_secs_f64();
    report
}

/// Drops the case's domain (its last handle, unless a thread still holds
/// the context), which stops and joins the reclaimer thread: a dead
/// reclaimer, or one that cannot drain, makes that panic. Then copies the
/// errors into `report`.
fn end_domain(ctx: Arc<Ctx>, report: &mut Report) {
    let ctx = match Arc::try_unwrap(ctx) {
        Ok(ctx) => ctx,
        Err(ctx) => {
            ctx.error("the case's context is still shared after the run".into());
            report.errors = ctx.errors.load(Ordering::SeqCst);
            report.first_errors = lock(&ctx.first_errors).clone();
            return;
        }
    };
    let Ctx {
        d,
        errors,
        first_errors,
        ..
    } = ctx;
    report.errors = errors.load(Ordering::SeqCst);
    report.first_errors = first_errors.into_inner().unwrap_or_else(|e| e.into_inner());
    if catch_unwind(AssertUnwindSafe(move || drop(d))).is_err() {
        report.errors += 1;
        if report.first_errors.len() < 5 {
            report
                .first_errors
                .push("dropping the domain panicked (its reclaimer thread died?)".into());
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// After `finish`: nothing pending, nothing panicked, every entry counted.
fn check_domain_balanced(ctx: &Ctx) {
    let s = ctx.d.stats();
    ctx.check(s.pending() == 0 && s.reclaimed == s.queued, || {
        format!("objects still pending after rcu_barrier: {s:?}")
    });
    ctx.check(s.destructor_panics == 0, || {
        format!("destructors panicked: {s:?}")
    });
}

/// Spawns fake writers, readers and writers (replacing those that exit)
/// for `duration`, stops them, and finishes `t`.
fn drive<T: Torture>(ctx: &Arc<Ctx>, t: T, duration: Duration) {
    let t = Arc::new(t);
    ctx.writer_slots.store(t.writers() as u64, Ordering::SeqCst);
    let mut fakes: Vec<_> = (0..FAKE_WRITERS)
        .map(|i| {
            let ctx = ctx.clone();
            thread::spawn(move || fake_writer(&ctx, i as u64))
        })
        .collect();
    fakes.extend(t.side_threads(ctx));
    let mut seed = 0;
    let mut spawn = |writer: Option<usize>| {
        seed += 1;
        let (ctx, t, s) = (ctx.clone(), t.clone(), seed);
        let name = match writer {
            Some(w) => format!("torture-writer-{w}"),
            None => format!("torture-reader-{s}"),
        };
        let body = move || match writer {
            Some(w) => writer_thread(&ctx, &*t, w, s),
            None => reader_thread(&ctx, &*t, s),
        };
        thread::Builder::new().name(name).spawn(body).unwrap()
    };
    let mut readers: Vec<JoinHandle<()>> = (0..READERS).map(|_| spawn(None)).collect();
    let mut writers: Vec<JoinHandle<()>> = (0..t.writers()).map(|w| spawn(Some(w))).collect();
    let end = Instant::now() + duration;
    // A case is not over before a reader and a writer have been replaced
    // (what the churn is there to test), however slowly a loaded machine
    // runs them; up to ten durations more.
    let overtime = end + duration * 10;
    let writers_at_once = t.writers() as u64;
    let churned = || {
        ctx.readers_started.load(Ordering::SeqCst) > READERS as u64
            && ctx.writers_started.load(Ordering::SeqCst) > writers_at_once
    };
    let tick = (ctx.churn / 20).clamp(Duration::from_millis(1), Duration::from_millis(5));
    while Instant::now() < end || (!churned() && Instant::now() < overtime) {
        thread::sleep(tick);
        for slot in readers.iter_mut().filter(|h| h.is_finished()) {
            join(ctx, std::mem::replace(slot, spawn(None)));
        }
        for (w, slot) in writers.iter_mut().enumerate() {
            if slot.is_finished() {
                join(ctx, std::mem::replace(slot, spawn(Some(w))));
            }
        }
    }
    ctx.stop.store(true, Ordering::SeqCst);
    for h in readers.into_iter().chain(writers).chain(fakes) {
        join(ctx, h);
    }
    match Arc::try_unwrap(t) {
        Ok(t) => t.finish(ctx),
        Err(_) => ctx.error("the structure is still shared after every thread joined".into()),
    }
}

fn join(ctx: &Ctx, h: JoinHandle<()>) {
    if let Err(p) = h.join() {
        let msg = p
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| p.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        ctx.error(format!("a thread panicked: {msg}"));
    }
}

/// A lifetime of `churn` × [`lo`, `hi`), at random.
fn lifetime(churn: Duration, lo: u32, hi: u32, rng: &Rng) -> Duration {
    let span = u64::from(hi - lo) * 1024;
    churn * lo + churn * (rng.below(span) as u32) / 1024
}

/// A reader lives `churn` × 1–4, then exits and is replaced.
fn reader_thread<T: Torture>(ctx: &Ctx, t: &T, seed: u64) {
    let rng = Rng::new(seed);
    let life = lifetime(ctx.churn, 1, 4, &rng);
    ctx.readers_started.fetch_add(1, Ordering::SeqCst);
    let qsbr = ctx.d.flavor() == Flavor::Qsbr;
    let mut h = (qsbr || seed % 2 == 0).then(|| ctx.d.register_thread());
    let mut st = T::ReaderState::default();
    let born = Instant::now();
    for n in 1u64.. {
        if ctx.stopped() || (n % 64 == 0 && born.elapsed() > life) {
            break;
        }
        let rd = Rd {
            ctx,
            h: h.as_ref(),
            rng: &rng,
        };
        t.read(&rd, &mut st);
        Ctx::count(&ctx.reads);
        if let Some(h) = &mut h {
            h.quiescent_state();
            if n % 32 == 0 {
                h.offline();
                thread::yield_now();
                h.online();
            }
        }
    }
}

/// A writer lives `churn` × 2–8; its replacement keeps its index.
fn writer_thread<T: Torture>(ctx: &Ctx, t: &T, w: usize, seed: u64) {
    let rng = Rng::new(seed ^ 0x5717e);
    let life = lifetime(ctx.churn, 2, 8, &rng);
    let born = Instant::now();
    // Under QSBR such a writer is an online reader too: it reports
    // quiescent states, and the library takes it offline while it waits.
    let mut h = T::WRITER_HANDLE.then(|| ctx.d.register_thread());
    ctx.writers_started.fetch_add(1, Ordering::SeqCst);
    while !ctx.stopped() && born.elapsed() < life {
        t.write(
            w,
            &Wr {
                rng: &rng,
                h: h.as_ref(),
            },
        );
        Ctx::count(&ctx.writes);
        if let Some(h) = &mut h {
            h.quiescent_state();
        }
    }
    ctx.writers_exited.fetch_add(1, Ordering::SeqCst);
}

/// rcutorture's fake writer: grace periods for their own sake.
fn fake_writer(ctx: &Ctx, seed: u64) {
    let rng = Rng::new(seed ^ 0xfa4e);
    while !ctx.stopped() {
        if rng.below(2) == 0 {
            ctx.d.synchronize_rcu();
        } else {
            let t = ctx.d.start_poll();
            thread::yield_now();
            ctx.d.cond_synchronize(&t);
        }
        Ctx::count(&ctx.fake_grace_periods);
        thread::sleep(Duration::from_micros(rng.below(200)));
    }
}
