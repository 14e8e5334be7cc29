//! rcutorture for urcu-rs: readers, writers and fake writers hammer each
//! flavor and each structure, and every reader checks that what it holds
//! was neither freed nor aged past what its read-side section allows.
//!
//! ```text
//! cargo run --release --example torture -- [--secs N] [--flavor memb|mb|qsbr|all]
//!                                          [--structure core|map|list|config|map-stall|all]
//! ```
//!
//! `--secs` is per case (flavor × structure; default 3; `--help` lists the
//! options). The program prints one line per case, then a table, and exits
//! with status 1 on any error.
//!
//! # The pipe (`core`), after Linux's rcutorture
//!
//! Objects live in an arena that is never released, so a reader that
//! reaches a freed object reads a "freed" mark instead of crashing. One
//! writer takes a free slot, fills it (a sequence number and a payload
//! derived from it), publishes it with one release store of
//! `seq << 16 | slot`, and gives the object it replaced **age 1**
//! ("removed"). The removed object then climbs the pipe: a deferred callback
//! ([`Domain::defer`]) adds 1 to its age and queues itself again, so each
//! step costs a full grace period that began after the previous step. At
//! age [`PIPE_LEN`] the slot is marked freed, its payload poisoned, and it
//! goes back to the free list (and is reused: a stale reader would see
//! another sequence number).
//!
//! A reader loads the published word in a read-side section (nested 1–3
//! deep; under QSBR through a `ThreadHandle`, reporting quiescent states
//! and going offline/online between sections), checks that the slot still
//! holds that sequence, live, with its payload, waits a little, and reads
//! the age again before it leaves the section. The ages it sees go into a
//! histogram.
//!
//! **Why age ≤ 1.** The reader loaded the object while it was published,
//! so its section began before the removal. Age 2 needs the first callback,
//! queued after the removal, to have run: a grace period that began after
//! the removal has ended, and that grace period must wait for this
//! section. Any age ≥ 2 seen inside a section means a grace period was cut
//! short; a freed mark or another sequence means an object was freed early.
//! The hidden `--inject-bug skip-gp` (one pipe step without a grace period)
//! and `--inject-bug free-early` (free on removal) show that both checks
//! fire; `tests/faults.rs` runs them.
//!
//! Around them: fake writers call `synchronize_rcu` and
//! `start_poll`/`cond_synchronize` in a loop, and reader and writer threads
//! exit and are replaced (an exiting thread hands its queue over).
//!
//! # The structures
//!
//! - **map** (`RcuHashMap<u64, Val>`): values are poisoned on drop and
//!   encode their key and version; each writer owns a set of keys, so a
//!   key's versions only grow. Readers check magic, key ↔ value, that a
//!   key's version never goes back for them, and that every value they
//!   hold is still live at the end of the section; sometimes they iterate.
//!   Writers insert, remove, `update` and `get_or_insert_with` inside
//!   pinned sections (queueing from a section), so the table grows and
//!   shrinks under the readers.
//! - **list** (`RcuList<Item>`): ids grow toward the back (`push_back`)
//!   and shrink toward the front (`push_front`); the writer removes
//!   elements and stamps each with a removal number once it is unlinked. A
//!   walk must see live items in strictly increasing order, and never an
//!   item whose removal finished before the walk began.
//! - **config** (`ConfigCell<Cfg>`): two writers `update` and
//!   `compare_and_set`; every field of a config derives from its version.
//!   Each read must be whole and live, at least as new as the
//!   `version()` read just before it, and never older than the reader's
//!   previous read (through `read()`, `load()` and a `CachedReader`).
//! - **map-stall**: the map torture in a domain with a short stall timeout
//!   ([`STALL_TIMEOUT`]), an `on_stall` hook that misbehaves (of every three
//!   calls, one panics, one calls `synchronize_rcu` of its own domain, which
//!   must panic rather than deadlock, and one returns), and a ring of
//!   [`STALL_QUEUE`] words. Beside the usual threads, a reader stalls: it
//!   holds a section (nested, through a handle or the domain) for
//!   [`STALL_HOLD`], checking the values it holds, then leaves for a while.
//!   Writers then fill their rings, spill inside their `pin()` sections, and
//!   wait at their next section's entry. Checks: every reported stall
//!   reached the hook and every panic of it was caught and counted
//!   (`stalls_reported`, `stall_hook_panics`), the stalling reader was
//!   named, the reclaimer still frees after the run, and pending objects,
//!   sampled all along, never exceed the bound derived at
//!   [`per_writer_bound`] for each writer thread whose objects may still be
//!   pending. The peak goes in the case's line.
//!
//! After the threads stop, `rcu_barrier` must leave nothing pending: every
//! object created was dropped exactly once, and the domain's counters
//! balance. Then the case drops its domain, which joins the reclaimer
//! thread: that must not panic.

use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex, Once};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};
use urcu::{ConfigCell, Domain, Flavor, RcuHashMap, RcuList, ReadGuard, StallReport, ThreadHandle};

#[path = "common/args.rs"]
mod args;

/// Grace periods a removed object climbs before it is freed.
pub const PIPE_LEN: u64 = 10;
const READERS: usize = 3;
const FAKE_WRITERS: usize = 2;
const LIVE: u64 = 0x00c0_ffee_1157_a11e;
/// The list and config tortures add writers that take a structure's writer
/// lock from inside a read-side section while another writer, whose queue
/// is full, must wait for a grace period: that writer must not wait while
/// holding the lock (a deadlock this torture found, fixed in 8b02c82). Set
/// this variable (to anything) to leave those writers out.
const NO_LOCK_IN_SECTION: &str = "URCU_TORTURE_NO_LOCK_IN_SECTION";
const DEAD: u64 = 0xdead_dead_dead_dead;

// ---------------------------------------------------------------------------
// Command line and cases
// ---------------------------------------------------------------------------

/// What a case tortures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Structure {
    /// The pipe of aging objects: grace periods and `defer` themselves.
    Core,
    /// `RcuHashMap`.
    Map,
    /// `RcuList`.
    List,
    /// `ConfigCell`.
    Config,
    /// `RcuHashMap` with a stalling reader and a misbehaving stall hook.
    MapStall,
}

/// A bug the pipe writer can inject, to prove that the checks catch it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bug {
    /// One step of the pipe without a grace period.
    SkipGp,
    /// Free the replaced object at once.
    FreeEarly,
}

/// One flavor × structure run.
#[derive(Clone, Copy, Debug)]
pub struct Case {
    pub flavor: Flavor,
    pub structure: Structure,
    pub duration: Duration,
    pub bug: Option<Bug>,
}

struct Args {
    secs: f64,
    flavors: Vec<Flavor>,
    structures: Vec<Structure>,
    bug: Option<Bug>,
}

/// `--help` (`--inject-bug` stays hidden: it is for tests/faults.rs).
const CLI: args::Cli = args::Cli {
    name: "torture",
    about: "rcutorture for urcu-rs: readers, writers and fake writers hammer each flavor and \
            structure; exits with status 1 on any error.",
    synopsis: "[--secs N] [--flavor F] [--structure S]",
    options: "  --secs N        seconds per case (flavor x structure; default 3; more than 0, \
              at most 86400)
  --flavor F      memb|mb|qsbr|all, or a comma-separated list (default all)
  --structure S   core|map|list|config|map-stall|all, or a comma-separated list (default all)",
};

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        secs: 3.0,
        flavors: vec![Flavor::Memb, Flavor::Mb, Flavor::Qsbr],
        structures: vec![
            Structure::Core,
            Structure::Map,
            Structure::List,
            Structure::Config,
            Structure::MapStall,
        ],
        bug: None,
    };
    let mut it = CLI.args().into_iter();
    while let Some(flag) = it.next() {
        if !matches!(
            flag.as_str(),
            "--secs" | "--flavor" | "--structure" | "--inject-bug"
        ) {
            return Err(format!("unknown argument `{flag}`"));
        }
        let val = it.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--secs" => a.secs = args::secs(&val).map_err(|e| format!("--secs: {e}"))?,
            "--flavor" => a.flavors = parse_list(&val, parse_flavor)?,
            "--structure" => a.structures = parse_list(&val, parse_structure)?,
            _ => a.bug = Some(parse_bug(&val)?),
        }
    }
    Ok(a)
}

fn parse_list<T>(v: &str, one: fn(&str) -> Result<Vec<T>, String>) -> Result<Vec<T>, String> {
    let mut out = Vec::new();
    for part in v.split(',') {
        out.extend(one(part)?);
    }
    Ok(out)
}

fn parse_flavor(v: &str) -> Result<Vec<Flavor>, String> {
    Ok(match v {
        "memb" => vec![Flavor::Memb],
        "mb" => vec![Flavor::Mb],
        "qsbr" => vec![Flavor::Qsbr],
        "all" => vec![Flavor::Memb, Flavor::Mb, Flavor::Qsbr],
        _ => return Err(format!("unknown flavor {v} (memb|mb|qsbr|all)")),
    })
}

fn parse_structure(v: &str) -> Result<Vec<Structure>, String> {
    use Structure::*;
    Ok(match v {
        "core" => vec![Core],
        "map" => vec![Map],
        "list" => vec![List],
        "config" => vec![Config],
        "map-stall" => vec![MapStall],
        "all" => vec![Core, Map, List, Config, MapStall],
        _ => {
            return Err(format!(
                "unknown structure {v} (core|map|list|config|map-stall|all)"
            ))
        }
    })
}

fn parse_bug(v: &str) -> Result<Bug, String> {
    match v {
        "skip-gp" => Ok(Bug::SkipGp),
        "free-early" => Ok(Bug::FreeEarly),
        _ => Err(format!("unknown bug {v} (skip-gp|free-early)")),
    }
}

fn main() -> ExitCode {
    let args = parse_args().unwrap_or_else(|e| CLI.fail(&e));
    let duration = Duration::from_secs_f64(args.secs);
    let mut reports = Vec::new();
    for &flavor in &args.flavors {
        for &structure in &args.structures {
            let case = Case {
                flavor,
                structure,
                duration,
                bug: args.bug,
            };
            let r = run_case_with_watchdog(case);
            println!("{}", r.row());
            reports.push(r);
        }
    }
    print_table(&reports);
    if reports.iter().any(|r| r.errors > 0) {
        for r in reports.iter().filter(|r| r.errors > 0) {
            eprintln!("FAIL {}: {:?}", r.name(), r.first_errors);
        }
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

// ---------------------------------------------------------------------------
// Shared state of a case, and its report
// ---------------------------------------------------------------------------

/// What every thread of a case shares.
pub struct Ctx {
    d: Domain,
    stop: AtomicBool,
    bug: Option<Bug>,
    reads: AtomicU64,
    writes: AtomicU64,
    /// Objects (slots, values, items, configs) destroyed.
    freed: AtomicU64,
    errors: AtomicU64,
    first_errors: Mutex<Vec<String>>,
    ages: [AtomicU64; PIPE_LEN as usize + 1],
    /// Writer threads started, and finished (after their last write).
    writers_started: AtomicU64,
    writers_exited: AtomicU64,
}

impl Ctx {
    fn new(d: Domain, bug: Option<Bug>) -> Arc<Ctx> {
        Arc::new(Ctx {
            d,
            stop: AtomicBool::new(false),
            bug,
            reads: AtomicU64::new(0),
            writes: AtomicU64::new(0),
            freed: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            first_errors: Mutex::new(Vec::new()),
            ages: [const { AtomicU64::new(0) }; PIPE_LEN as usize + 1],
            writers_started: AtomicU64::new(0),
            writers_exited: AtomicU64::new(0),
        })
    }

    fn error(&self, msg: String) {
        self.errors.fetch_add(1, Ordering::SeqCst);
        let mut first = self.first_errors.lock().unwrap_or_else(|e| e.into_inner());
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
    /// Ages seen inside sections (pipe only).
    pub ages: Option<Vec<u64>>,
    /// What the stalls did (map-stall only).
    pub stall: Option<StallFigures>,
    pub first_errors: Vec<String>,
}

/// What a map-stall case saw.
#[derive(Clone, Debug)]
pub struct StallFigures {
    /// Stalls the stalling reader completed (each held [`STALL_HOLD`]).
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
    fn name(&self) -> String {
        let structure = structure_name(self.case.structure);
        format!("{}/{structure}", flavor_name(self.case.flavor))
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

    fn row(&self) -> String {
        format!(
            "{:<14} {:>6.1} {:>12} {:>10} {:>8} {:>10} {:>6}  {}",
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

fn structure_name(s: Structure) -> &'static str {
    match s {
        Structure::Core => "core",
        Structure::Map => "map",
        Structure::List => "list",
        Structure::Config => "config",
        Structure::MapStall => "map-stall",
    }
}

fn flavor_name(f: Flavor) -> &'static str {
    match f {
        Flavor::Memb => "memb",
        Flavor::Mb => "mb",
        Flavor::Qsbr => "qsbr",
    }
}

fn print_table(reports: &[Report]) {
    println!(
        "\n{:<14} {:>6} {:>12} {:>10} {:>8} {:>10} {:>6}  ages seen in a section, or stalls",
        "case", "secs", "reads", "writes", "GPs", "freed", "errors"
    );
    for r in reports {
        println!("{}", r.row());
    }
    let sum = |f: fn(&Report) -> u64| reports.iter().map(f).sum::<u64>();
    println!(
        "{:<14} {:>6.1} {:>12} {:>10} {:>8} {:>10} {:>6}",
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

/// A mixing function: payloads, tags and config fields derive from it.
fn mix(a: u64, b: u64) -> u64 {
    (a ^ b.rotate_left(29))
        .wrapping_mul(0x9e37_79b9_7f4a_7c15)
        .rotate_left(31)
}

// ---------------------------------------------------------------------------
// The harness: threads, churn, the end of a case
// ---------------------------------------------------------------------------

/// One tortured structure.
trait Torture: Send + Sync + Sized + 'static {
    /// Per-reader-thread memory (e.g. the newest version seen).
    type ReaderState: Default;
    /// Writer threads (each has an index, kept by its replacements).
    fn writers(&self) -> usize;
    /// One read-side operation, with its checks.
    fn read(&self, r: &Rd<'_>, st: &mut Self::ReaderState);
    /// One update by writer `w`.
    fn write(&self, w: usize, rng: &Rng);
    /// After every thread stopped: drain, drop, and check the accounting.
    fn finish(self, ctx: &Ctx);
    /// Threads of the structure's own, beside the readers and writers
    /// (stopped and joined with them).
    fn side_threads(self: &Arc<Self>, _ctx: &Arc<Ctx>) -> Vec<JoinHandle<()>> {
        Vec::new()
    }
}

/// Runs `case`; if it does not finish well after its duration (a deadlock),
/// the process exits with a message.
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
    let rig = (case.structure == Structure::MapStall).then(StallRig::new);
    let mut b = Domain::builder().flavor(case.flavor).queue_capacity(64);
    if let Some(rig) = &rig {
        b = b
            .queue_capacity(STALL_QUEUE)
            .stall_timeout(STALL_TIMEOUT)
            // Writers wait out every stall (the bound is checked); no
            // reader here waits for a writer, so that cannot deadlock.
            .max_writer_wait(STALL_WRITER_WAIT)
            .on_stall(rig.hook());
    }
    let ctx = Ctx::new(b.build(), case.bug);
    if let Some(rig) = &rig {
        *lock(&rig.domain) = Some(ctx.d.clone());
    }
    let start = Instant::now();
    match case.structure {
        Structure::Core => drive(&ctx, Pipe::new(ctx.clone()), case.duration),
        Structure::Map => drive(&ctx, MapTorture::new(&ctx), case.duration),
        Structure::List => drive(&ctx, ListTorture::new(&ctx), case.duration),
        Structure::Config => drive(&ctx, ConfigTorture::new(&ctx), case.duration),
        Structure::MapStall => {
            let rig = rig.clone().expect("map-stall has its rig");
            drive(&ctx, MapStallTorture::new(&ctx, rig), case.duration)
        }
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
        ages: (case.structure == Structure::Core).then(|| ctx.ages.iter().map(ld).collect()),
        stall: rig.as_ref().map(|r| r.figures(&s)),
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
    while Instant::now() < end {
        thread::sleep(Duration::from_millis(5));
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

/// A reader lives a random while (100–400 ms), then exits and is replaced.
fn reader_thread<T: Torture>(ctx: &Ctx, t: &T, seed: u64) {
    let rng = Rng::new(seed);
    let life = Duration::from_millis(100 + rng.below(300));
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

/// A writer lives 200–800 ms; its replacement keeps its index.
fn writer_thread<T: Torture>(ctx: &Ctx, t: &T, w: usize, seed: u64) {
    let rng = Rng::new(seed ^ 0x5717e);
    let life = Duration::from_millis(200 + rng.below(600));
    let born = Instant::now();
    ctx.writers_started.fetch_add(1, Ordering::SeqCst);
    while !ctx.stopped() && born.elapsed() < life {
        t.write(w, &rng);
        Ctx::count(&ctx.writes);
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
        thread::sleep(Duration::from_micros(rng.below(200)));
    }
}

// ---------------------------------------------------------------------------
// core: the pipe of aging objects
// ---------------------------------------------------------------------------

const SLOTS: usize = 4096;
const FREE: u64 = 0;
const PUBLISHED: u64 = 1;
const FREED: u64 = 2;

/// An arena slot. All atomics, so that a stale reader's reads are defined
/// even while the writer reuses the slot.
struct Slot {
    seq: AtomicU64,
    state: AtomicU64,
    age: AtomicU64,
    payload: [AtomicU64; 4],
}

/// Slots that are never released while a case runs, and the free list.
struct Arena {
    slots: Vec<Slot>,
    free: Mutex<Vec<usize>>,
}

impl Arena {
    fn new() -> Arena {
        Arena {
            slots: (0..SLOTS)
                .map(|_| Slot {
                    seq: AtomicU64::new(0),
                    state: AtomicU64::new(FREE),
                    age: AtomicU64::new(0),
                    payload: [const { AtomicU64::new(0) }; 4],
                })
                .collect(),
            free: Mutex::new((0..SLOTS).rev().collect()),
        }
    }

    fn alloc(&self) -> Option<usize> {
        self.free.lock().unwrap().pop()
    }

    /// Marks the slot freed, poisons it, and makes it reusable.
    fn free(&self, ctx: &Ctx, i: usize) {
        let s = &self.slots[i];
        s.state.store(FREED, Ordering::Release);
        for w in &s.payload {
            w.store(DEAD, Ordering::Relaxed);
        }
        Ctx::count(&ctx.freed);
        self.free.lock().unwrap().push(i);
    }
}

fn pack(seq: u64, slot: usize) -> u64 {
    (seq << 16) | slot as u64
}

fn unpack(w: u64) -> (u64, usize) {
    (w >> 16, (w & 0xffff) as usize)
}

struct Pipe {
    ctx: Arc<Ctx>,
    arena: Arc<Arena>,
    published: AtomicU64,
    next_seq: AtomicU64,
    removed: AtomicU64,
}

impl Pipe {
    fn new(ctx: Arc<Ctx>) -> Pipe {
        let p = Pipe {
            ctx,
            arena: Arc::new(Arena::new()),
            published: AtomicU64::new(0),
            next_seq: AtomicU64::new(1),
            removed: AtomicU64::new(0),
        };
        let first = p.fill().expect("an empty arena has room");
        p.published.store(first, Ordering::Release);
        p
    }

    /// Takes a slot and fills it as a new object; its packed word.
    fn fill(&self) -> Option<u64> {
        let i = self.arena.alloc()?;
        let seq = self.next_seq.fetch_add(1, Ordering::Relaxed);
        let s = &self.arena.slots[i];
        s.seq.store(seq, Ordering::Relaxed);
        s.age.store(0, Ordering::Relaxed);
        for (k, w) in s.payload.iter().enumerate() {
            w.store(mix(seq, k as u64), Ordering::Relaxed);
        }
        s.state.store(PUBLISHED, Ordering::Relaxed);
        Some(pack(seq, i))
    }

    /// Whether `slot` still holds object `seq`, live and intact.
    fn check_live(&self, seq: u64, slot: usize, when: &str) {
        let s = &self.arena.slots[slot];
        let state = s.state.load(Ordering::Acquire);
        let now = s.seq.load(Ordering::Relaxed);
        let intact = s
            .payload
            .iter()
            .enumerate()
            .all(|(k, w)| w.load(Ordering::Relaxed) == mix(seq, k as u64));
        self.ctx.check(state == PUBLISHED && now == seq && intact, || {
            format!("{when}: object {seq} was freed under a reader (state {state}, slot now holds {now}, payload intact: {intact})")
        });
    }
}

/// One step up the pipe, after a grace period: age + 1, then either the
/// next step (after another grace period) or the end.
fn age_step(ctx: Arc<Ctx>, arena: Arc<Arena>, slot: usize) {
    let age = arena.slots[slot].age.fetch_add(1, Ordering::AcqRel) + 1;
    if age >= PIPE_LEN {
        arena.free(&ctx, slot);
    } else {
        let d = ctx.d.clone();
        d.defer(move || age_step(ctx, arena, slot));
    }
}

impl Torture for Pipe {
    type ReaderState = ();

    fn writers(&self) -> usize {
        1
    }

    fn read(&self, r: &Rd<'_>, _: &mut ()) {
        let g = r.lock();
        let (seq, slot) = unpack(self.published.load(Ordering::Acquire));
        self.check_live(seq, slot, "on load");
        let inner = r.nest();
        r.rng.spin();
        self.check_live(seq, slot, "nested");
        drop(inner);
        r.rng.spin();
        let age = self.arena.slots[slot].age.load(Ordering::Acquire);
        self.check_live(seq, slot, "before leaving the section");
        Ctx::count(&self.ctx.ages[age.min(PIPE_LEN) as usize]);
        self.ctx.check(age <= 1, || {
            format!("object {seq} reached age {age} while a reader held it: a grace period was cut short")
        });
        drop(g);
    }

    fn write(&self, _: usize, _: &Rng) {
        let Some(new) = self.fill() else {
            // The arena is full of objects climbing the pipe.
            thread::sleep(Duration::from_micros(50));
            return;
        };
        let old = self.published.swap(new, Ordering::AcqRel);
        let (_, slot) = unpack(old);
        self.arena.slots[slot].age.store(1, Ordering::Release);
        self.removed.fetch_add(1, Ordering::Relaxed);
        let (ctx, arena) = (self.ctx.clone(), self.arena.clone());
        match self.ctx.bug {
            Some(Bug::FreeEarly) => self.arena.free(&self.ctx, slot),
            Some(Bug::SkipGp) => age_step(ctx, arena, slot),
            None => self.ctx.d.defer(move || age_step(ctx, arena, slot)),
        }
    }

    fn finish(self, ctx: &Ctx) {
        let removed = self.removed.load(Ordering::SeqCst);
        // Each barrier moves every object at least one step up the pipe.
        for _ in 0..PIPE_LEN + 2 {
            if ctx.freed.load(Ordering::SeqCst) >= removed {
                break;
            }
            ctx.d.rcu_barrier();
        }
        let freed = ctx.freed.load(Ordering::SeqCst);
        ctx.check(freed == removed, || {
            format!("{removed} objects removed, {freed} freed")
        });
        let free = self.arena.free.lock().unwrap().len();
        ctx.check(free == SLOTS - 1, || {
            format!("{free} free slots at the end, expected all but the published one")
        });
    }
}

// ---------------------------------------------------------------------------
// map: RcuHashMap
// ---------------------------------------------------------------------------

const KEYS: u64 = 2048;

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

struct Val {
    magic: AtomicU64,
    key: u64,
    ver: u64,
    tag: u64,
    census: Arc<Census>,
}

impl Val {
    fn new(key: u64, ver: u64, census: &Arc<Census>) -> Val {
        Val {
            magic: AtomicU64::new(LIVE),
            key,
            ver,
            tag: mix(key, ver),
            census: census.born(),
        }
    }
}

impl Drop for Val {
    fn drop(&mut self) {
        poison(&self.magic, &self.census);
    }
}

struct MapTorture {
    ctx: Arc<Ctx>,
    map: RcuHashMap<u64, Val>,
    /// Per writer index: the last version it gave one of its keys.
    versions: [AtomicU64; 2],
    census: Arc<Census>,
}

impl MapTorture {
    fn new(ctx: &Arc<Ctx>) -> MapTorture {
        MapTorture {
            ctx: ctx.clone(),
            map: RcuHashMap::builder().domain(&ctx.d).build(),
            versions: [const { AtomicU64::new(0) }; 2],
            census: Arc::default(),
        }
    }

    /// A value found under `key`: live, its own key's, intact; `last`
    /// (the reader's newest version of that key) never goes back.
    fn check_val(&self, key: u64, v: &Val, last: Option<&mut u64>, when: &str) {
        let magic = v.magic.load(Ordering::Acquire);
        self.ctx.check(magic == LIVE, || {
            format!("{when}: key {key}: value was dropped under a reader ({magic:#x})")
        });
        self.ctx
            .check(v.key == key && v.tag == mix(v.key, v.ver), || {
                format!(
                    "{when}: key {key} holds a value for key {} (ver {}, tag ok: {})",
                    v.key,
                    v.ver,
                    v.tag == mix(v.key, v.ver)
                )
            });
        if let Some(last) = last {
            self.ctx.check(v.ver >= *last, || {
                format!(
                    "{when}: key {key} went back from version {} to {}",
                    *last, v.ver
                )
            });
            *last = v.ver;
        }
    }

    fn next_ver(&self, w: usize) -> u64 {
        self.versions[w].fetch_add(1, Ordering::Relaxed) + 1
    }
}

impl Torture for MapTorture {
    type ReaderState = Vec<u64>;

    fn writers(&self) -> usize {
        2
    }

    fn read(&self, r: &Rd<'_>, last: &mut Vec<u64>) {
        last.resize(KEYS as usize, 0);
        let g = r.lock();
        let inner = r.nest();
        let mut held = Vec::new();
        for _ in 0..4 {
            let k = r.rng.below(KEYS);
            if let Some(v) = self.map.get(&k, &g) {
                self.check_val(k, v, Some(&mut last[k as usize]), "get");
                held.push((k, v));
            }
        }
        if r.rng.below(64) == 0 {
            let p = self.map.pin();
            for (k, v) in p.iter().take(256) {
                self.check_val(*k, v, None, "iter");
            }
        }
        drop(inner);
        r.rng.spin();
        for (k, v) in held {
            self.check_val(k, v, None, "before leaving the section");
        }
        drop(g);
    }

    fn write(&self, w: usize, rng: &Rng) {
        // Writer `w` owns the keys `k % 2 == w`: a key's versions only grow.
        let k = rng.below(KEYS / 2) * 2 + w as u64;
        let p = self.map.pin();
        let c = &self.census;
        match rng.below(8) {
            0..=3 => {
                if let Some(old) = p.insert(k, Val::new(k, self.next_ver(w), c)) {
                    self.check_val(k, old, None, "insert's old value");
                }
            }
            4 | 5 => {
                if let Some(old) = p.remove(&k) {
                    self.check_val(k, old, None, "removed value");
                }
            }
            6 => {
                if let Some(new) = p.update(&k, |_| Val::new(k, self.next_ver(w), c)) {
                    self.check_val(k, new, None, "updated value");
                }
            }
            _ => {
                let v = p.get_or_insert_with(k, || Val::new(k, self.next_ver(w), c));
                self.check_val(k, v, None, "get_or_insert_with");
            }
        }
    }

    fn finish(self, ctx: &Ctx) {
        {
            let p = self.map.pin();
            let n = p
                .iter()
                .inspect(|(k, v)| self.check_val(**k, v, None, "final iteration"))
                .count();
            ctx.check(n == self.map.len(), || {
                format!("map len {} but {n} entries iterated", self.map.len())
            });
        }
        ctx.d.rcu_barrier();
        drop(self.map);
        ctx.d.rcu_barrier();
        self.census.check_all_dropped(ctx, "map values");
    }
}

// ---------------------------------------------------------------------------
// map-stall: the map, a stalling reader, a misbehaving stall hook
// ---------------------------------------------------------------------------

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
pub struct StallRig {
    /// The domain, for the hook's `synchronize_rcu` (taken out at the end:
    /// the domain holds the hook).
    domain: Mutex<Option<Domain>>,
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
    fn new() -> Arc<StallRig> {
        quiet_hook_panics();
        Arc::default()
    }

    /// The `on_stall` hook: of every three calls, one panics, one calls
    /// `synchronize_rcu` of its own domain (which must panic, not wait for
    /// the grace period that runs the hook), one returns.
    fn hook(self: &Arc<Self>) -> impl Fn(&StallReport) + Send + Sync + 'static {
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
    fn check_after(&self, ctx: &Ctx) {
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

    fn figures(&self, s: &urcu::Stats) -> StallFigures {
        let ld = |c: &AtomicU64| c.load(Ordering::SeqCst);
        StallFigures {
            stalls: ld(&self.stalls),
            reported: s.stalls_reported,
            hook_panics: s.stall_hook_panics,
            peak_pending: ld(&self.peak),
            bound_at_peak: ld(&self.bound_at_peak),
            max_writer_records: ld(&self.max_records),
        }
    }
}

struct MapStallTorture {
    map: MapTorture,
    rig: Arc<StallRig>,
}

impl MapStallTorture {
    fn new(ctx: &Arc<Ctx>, rig: Arc<StallRig>) -> MapStallTorture {
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

    fn write(&self, w: usize, rng: &Rng) {
        self.map.write(w, rng)
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

// ---------------------------------------------------------------------------
// list: RcuList
// ---------------------------------------------------------------------------

struct Item {
    magic: AtomicU64,
    id: i64,
    /// The writer's removal number, stamped once the item is unlinked.
    removed: AtomicU64,
    census: Arc<Census>,
}

impl Drop for Item {
    fn drop(&mut self) {
        poison(&self.magic, &self.census);
    }
}

struct ListTorture {
    ctx: Arc<Ctx>,
    list: RcuList<Item>,
    next_back: AtomicI64,
    next_front: AtomicI64,
    removals: AtomicU64,
    census: Arc<Census>,
    lock_in_section: bool,
}

impl ListTorture {
    fn new(ctx: &Arc<Ctx>) -> ListTorture {
        ListTorture {
            ctx: ctx.clone(),
            list: RcuList::new_in(&ctx.d),
            next_back: AtomicI64::new(0),
            next_front: AtomicI64::new(-1),
            removals: AtomicU64::new(0),
            census: Arc::default(),
            lock_in_section: std::env::var_os(NO_LOCK_IN_SECTION).is_none(),
        }
    }

    fn item(&self, id: i64) -> Item {
        Item {
            magic: AtomicU64::new(LIVE),
            id,
            removed: AtomicU64::new(0),
            census: self.census.born(),
        }
    }

    fn check_live(&self, it: &Item, when: &str) {
        let magic = it.magic.load(Ordering::Acquire);
        self.ctx.check(magic == LIVE, || {
            format!(
                "{when}: item {} was dropped under a reader ({magic:#x})",
                it.id
            )
        });
    }

    /// Removes the `n`th item inside a section and stamps it once unlinked.
    fn remove_nth(&self, n: u64) {
        let g = self.ctx.d.read_lock();
        let Some(target) = self.list.iter(&g).nth(n as usize) else {
            return;
        };
        if !self.list.remove_first(|x| std::ptr::eq(x, target)) {
            // Only the second writer (lock in section) removes items too.
            self.ctx.check(self.lock_in_section, || {
                format!(
                    "item {} vanished before its only writer removed it",
                    target.id
                )
            });
            return;
        }
        let stamp = self.removals.fetch_add(1, Ordering::SeqCst) + 1;
        target.removed.store(stamp, Ordering::SeqCst);
        drop(g);
    }
}

impl Torture for ListTorture {
    type ReaderState = ();

    /// One writer (ids are taken outside the list's lock), and with
    /// a second that only removes, outside any section (unless
    /// `NO_LOCK_IN_SECTION`).
    fn writers(&self) -> usize {
        1 + self.lock_in_section as usize
    }

    fn read(&self, r: &Rd<'_>, _: &mut ()) {
        let g = r.lock();
        let began = self.removals.load(Ordering::SeqCst);
        let mut prev = i64::MIN;
        let mut held = Vec::new();
        for it in self.list.iter(&g) {
            self.check_live(it, "walk");
            self.ctx.check(it.id > prev, || {
                format!("walk out of order: {} after {prev}", it.id)
            });
            let rm = it.removed.load(Ordering::SeqCst);
            self.ctx.check(rm == 0 || rm > began, || {
                format!(
                    "walk reached item {} removed (#{rm}) before it began (#{began})",
                    it.id
                )
            });
            prev = it.id;
            if held.len() < 8 && r.rng.below(4) == 0 {
                held.push(it);
            }
        }
        let inner = r.nest();
        r.rng.spin();
        for it in held {
            self.check_live(it, "before leaving the section");
        }
        drop(inner);
        drop(g);
    }

    fn write(&self, w: usize, rng: &Rng) {
        let len = self.list.len() as u64;
        if w == 1 {
            // Removes outside any section (no stamp: it holds no reference).
            let id = {
                let g = self.ctx.d.read_lock();
                self.list
                    .iter(&g)
                    .nth(rng.below(len.max(1)) as usize)
                    .map(|x| x.id)
            };
            if let Some(id) = id {
                self.list.remove_first(|x| x.id == id);
            }
            return;
        }
        if len < 16 || (len < 128 && rng.below(2) == 0) {
            if rng.below(2) == 0 {
                let id = self.next_back.fetch_add(1, Ordering::Relaxed);
                self.list.push_back(self.item(id));
            } else {
                let id = self.next_front.fetch_sub(1, Ordering::Relaxed);
                self.list.push_front(self.item(id));
            }
        } else {
            self.remove_nth(rng.below(len));
        }
    }

    fn finish(self, ctx: &Ctx) {
        {
            let g = ctx.d.read_lock();
            let n = self.list.iter(&g).count();
            ctx.check(n == self.list.len(), || {
                format!("list len {} but {n} items walked", self.list.len())
            });
        }
        drop(self.list);
        ctx.d.rcu_barrier();
        self.census.check_all_dropped(ctx, "list items");
    }
}

// ---------------------------------------------------------------------------
// config: ConfigCell
// ---------------------------------------------------------------------------

struct Cfg {
    magic: AtomicU64,
    version: u64,
    fields: [u64; 6],
    census: Arc<Census>,
}

impl Cfg {
    fn new(version: u64, census: &Arc<Census>) -> Cfg {
        Cfg {
            magic: AtomicU64::new(LIVE),
            version,
            fields: std::array::from_fn(|i| mix(version, i as u64)),
            census: census.born(),
        }
    }
}

impl Drop for Cfg {
    fn drop(&mut self) {
        poison(&self.magic, &self.census);
    }
}

struct ConfigTorture {
    ctx: Arc<Ctx>,
    cell: ConfigCell<Cfg>,
    census: Arc<Census>,
    /// Writer 1 uses `compare_and_set` (which takes the writer lock inside
    /// the caller's section) while writer 0 uses `update`.
    lock_in_section: bool,
}

impl ConfigTorture {
    fn new(ctx: &Arc<Ctx>) -> ConfigTorture {
        let census = Arc::default();
        ConfigTorture {
            ctx: ctx.clone(),
            cell: ConfigCell::new_in(Cfg::new(0, &census), &ctx.d),
            census,
            lock_in_section: std::env::var_os(NO_LOCK_IN_SECTION).is_none(),
        }
    }

    /// A read: whole, live, at least version `floor`, not older than the
    /// reader's previous read.
    fn check(&self, c: &Cfg, floor: u64, last: &mut u64, how: &str) {
        let magic = c.magic.load(Ordering::Acquire);
        let whole = c
            .fields
            .iter()
            .enumerate()
            .all(|(i, &f)| f == mix(c.version, i as u64));
        self.ctx.check(magic == LIVE && whole, || {
            format!(
                "{how}: config {} torn or freed (magic {magic:#x}, whole: {whole})",
                c.version
            )
        });
        self.ctx
            .check(c.version >= floor && c.version >= *last, || {
                format!(
                    "{how}: read version {} after version() said {floor}, last read {}",
                    c.version, *last
                )
            });
        *last = c.version;
    }

    fn read_cached(&self, r: &Rd<'_>, last: &mut u64) {
        let mut cr = match r.h {
            Some(h) => self.cell.reader_in(h.read_lock()),
            None => self.cell.reader(),
        };
        for _ in 0..16 {
            let floor = self.cell.version();
            let c = cr.load();
            self.check(c, floor, last, "CachedReader::load");
        }
    }
}

impl Torture for ConfigTorture {
    type ReaderState = u64;

    fn writers(&self) -> usize {
        2
    }

    fn read(&self, r: &Rd<'_>, last: &mut u64) {
        match r.rng.below(8) {
            0 => self.read_cached(r, last),
            1..=3 => {
                let floor = self.cell.version();
                let c = self.cell.read();
                self.check(&c, floor, last, "read()");
                r.rng.spin();
                self.check(&c, floor, last, "read(), later");
            }
            _ => {
                let g = r.lock();
                let floor = self.cell.version();
                let c = self.cell.load(&g);
                self.check(c, floor, last, "load()");
                let inner = r.nest();
                r.rng.spin();
                drop(inner);
                self.check(c, floor, last, "load(), before leaving the section");
            }
        }
    }

    fn write(&self, w: usize, _: &Rng) {
        if w == 0 || !self.lock_in_section {
            self.cell
                .update(|old| Cfg::new(old.version + 1, &self.census));
            return;
        }
        let g = self.ctx.d.read_lock();
        let cur = self.cell.load(&g);
        // Another writer may win the race: then `next` comes back.
        let _lost = self
            .cell
            .compare_and_set(cur, Cfg::new(cur.version + 1, &self.census));
    }

    fn finish(self, ctx: &Ctx) {
        let (v, read) = (self.cell.version(), self.cell.read().version);
        ctx.check(v == read, || {
            format!("version() is {v} but the config read is version {read}")
        });
        drop(self.cell);
        ctx.d.rcu_barrier();
        self.census.check_all_dropped(ctx, "configs");
    }
}
