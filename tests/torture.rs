//! A torture test in the spirit of the kernel's rcutorture, for every
//! flavor, with thread churn and tiny queues.
//!
//! A writer publishes objects in a loop. Each object carries a magic value,
//! a sequence number and a payload derived from it; its destructor poisons
//! the magic. A quarantine allocator (this binary's global allocator) keeps
//! freed objects mapped and filled with a poison byte for a while, so a
//! reader that touches a freed object reads poison instead of a reused,
//! valid-looking block.
//!
//! Readers (several, nesting 1–3 deep; QSBR ones going offline/online and
//! reporting quiescent states between sections; some reporting one inside
//! a section through `ReadGuard::quiescent_state`) load the object and
//! re-check it several times inside the section. The writer also tags each
//! unpublished object with a grace-period ticket taken after it was
//! unpublished; a reader that still holds the object checks that the ticket
//! has not completed (rcutorture's "age" check: no grace period that began
//! after the removal may end before the reader's section does). A fake
//! writer calls `synchronize_rcu` in a loop. Writers and readers are
//! threads that exit and are replaced (churn), so exited threads hand over
//! their queues.
//!
//! Every loop count scales with `URCU_STRESS`.

mod common;

use common::{scaled, Rng};
use std::alloc::{GlobalAlloc, Layout, System};
use std::ptr::{self, addr_of};
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};
use urcu::{Domain, Flavor, GracePeriod, RcuBox, ReadGuard};

// ---------------------------------------------------------------------------
// The object
// ---------------------------------------------------------------------------

const LIVE: u64 = 0x00c0_ffee_1157_a11e;
const DEAD: u64 = 0xdead_dead_dead_dead;
const POISON: u8 = 0x6b;
const PAYLOAD: usize = 10;

fn payload_word(seq: u64, i: usize) -> u64 {
    seq.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ (i as u64).rotate_left(17)
}

/// Aligned to 64 so that its layout (size and alignment) is unlikely to be
/// shared with other allocations: only these go through the quarantine.
#[repr(C, align(64))]
struct Obj {
    magic: u64,
    seq: u64,
    payload: [u64; PAYLOAD],
    /// A ticket taken after the object was unpublished (when the writer
    /// can), for the age check.
    ticket: OnceLock<GracePeriod>,
    run: &'static Run,
}

impl Obj {
    fn new(seq: u64, run: &'static Run) -> Obj {
        run.created.fetch_add(1, Ordering::Relaxed);
        let mut payload = [0; PAYLOAD];
        for (i, w) in payload.iter_mut().enumerate() {
            *w = payload_word(seq, i);
        }
        Obj {
            magic: LIVE,
            seq,
            payload,
            ticket: OnceLock::new(),
            run,
        }
    }
}

impl Drop for Obj {
    fn drop(&mut self) {
        // SAFETY: `self.magic` is a valid, aligned field of a live object
        // (we are its destructor); volatile so the poisoning store below is
        // not optimized away as a dead store.
        let magic = unsafe { ptr::read_volatile(&self.magic) };
        if magic != LIVE {
            self.run.violation(format!(
                "object {} dropped twice (magic {magic:#x})",
                self.seq
            ));
        }
        // SAFETY: as above.
        unsafe { ptr::write_volatile(&mut self.magic, DEAD) };
        self.run.dropped.fetch_add(1, Ordering::Relaxed);
    }
}

// ---------------------------------------------------------------------------
// The quarantine allocator
// ---------------------------------------------------------------------------

const QUARANTINE_SLOTS: usize = 8192;
static SLOTS: [AtomicPtr<u8>; QUARANTINE_SLOTS] =
    [const { AtomicPtr::new(ptr::null_mut()) }; QUARANTINE_SLOTS];
static NEXT_SLOT: AtomicUsize = AtomicUsize::new(0);
static QUARANTINED: AtomicUsize = AtomicUsize::new(0);

fn quarantined(layout: Layout) -> bool {
    layout.size() == size_of::<Obj>() && layout.align() == align_of::<Obj>()
}

/// `System`, except that blocks with `Obj`'s layout are poisoned on free
/// and really freed only `QUARANTINE_SLOTS` such frees later.
struct Quarantine;

// SAFETY: every method forwards to `System` with the caller's arguments,
// except that a quarantined block is freed later, with the same layout
// (all quarantined blocks share one layout), by exactly one thread (the one
// whose `swap` took it out of its slot).
unsafe impl GlobalAlloc for Quarantine {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, p: *mut u8, layout: Layout) {
        if !quarantined(layout) {
            // SAFETY: forwarded with the caller's guarantees.
            unsafe { System.dealloc(p, layout) };
            return;
        }
        // SAFETY: the caller hands us the block: `layout.size()` writable
        // bytes at `p`, which nobody may use any more.
        unsafe { ptr::write_bytes(p, POISON, layout.size()) };
        let i = NEXT_SLOT.fetch_add(1, Ordering::Relaxed) % QUARANTINE_SLOTS;
        let old = SLOTS[i].swap(p, Ordering::AcqRel);
        QUARANTINED.fetch_add(1, Ordering::Relaxed);
        if !old.is_null() {
            // SAFETY: `old` was handed to `dealloc` with this same layout
            // (only such blocks enter the slots) and the swap gave it to us
            // alone.
            unsafe { System.dealloc(old, layout) };
        }
    }

    unsafe fn realloc(&self, p: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if !quarantined(layout) {
            // SAFETY: forwarded with the caller's guarantees.
            return unsafe { System.realloc(p, layout, new_size) };
        }
        // SAFETY: the caller guarantees `new_size`, rounded up to the
        // alignment, does not overflow; the old block is valid for
        // `layout.size()` bytes and the new one for `new_size`.
        unsafe {
            let new_layout = Layout::from_size_align_unchecked(new_size, layout.align());
            let n = self.alloc(new_layout);
            if !n.is_null() {
                ptr::copy_nonoverlapping(p, n, layout.size().min(new_size));
                self.dealloc(p, layout);
            }
            n
        }
    }
}

#[global_allocator]
static GLOBAL: Quarantine = Quarantine;

// ---------------------------------------------------------------------------
// One run's counters
// ---------------------------------------------------------------------------

#[derive(Default)]
struct Run {
    created: AtomicUsize,
    dropped: AtomicUsize,
    violations: AtomicUsize,
    first_violation: Mutex<Option<String>>,
    reads: AtomicUsize,
    sections: AtomicUsize,
    ticket_checks: AtomicUsize,
    replacements: AtomicUsize,
    fake_grace_periods: AtomicUsize,
    reader_threads: AtomicUsize,
    writer_threads: AtomicUsize,
}

impl Run {
    fn leak() -> &'static Run {
        Box::leak(Box::default())
    }

    fn violation(&self, what: String) {
        if self.violations.fetch_add(1, Ordering::SeqCst) == 0 {
            *self
                .first_violation
                .lock()
                .unwrap_or_else(|e| e.into_inner()) = Some(what);
        }
    }
}

// ---------------------------------------------------------------------------
// What readers and writers share
// ---------------------------------------------------------------------------

enum Source {
    /// A raw published pointer; the writer queues the old object itself
    /// (and tags it with a ticket first).
    Ptr(AtomicPtr<Obj>),
    /// An `RcuBox`: `replace`, and sometimes `swap` inside a section.
    Boxed(RcuBox<Obj>),
}

struct Shared {
    d: Domain,
    src: Source,
    run: &'static Run,
    done: AtomicBool,
    next_seq: AtomicU64,
}

impl Shared {
    fn load(&self, g: &ReadGuard<'_>) -> *const Obj {
        match &self.src {
            Source::Ptr(p) => p.load(Ordering::Acquire),
            Source::Boxed(b) => b.load(g),
        }
    }

    /// Checks the object a reader loaded inside a section that is still
    /// open. `last_seq`: the newest sequence this reader has seen.
    fn check(&self, p: *const Obj, last_seq: &mut u64, when: &str) {
        self.run.reads.fetch_add(1, Ordering::Relaxed);
        // SAFETY: `p` was loaded inside a read-side section that is still
        // open, so (if the library is right) it points to a live `Obj`. If
        // it is wrong, the quarantine keeps the block mapped and poisoned,
        // and these volatile reads see DEAD or poison instead of faulting.
        let magic = unsafe { ptr::read_volatile(addr_of!((*p).magic)) };
        if magic != LIVE {
            self.run.violation(format!(
                "{when}: reader saw a freed object (magic {magic:#x})"
            ));
            return;
        }
        // SAFETY: as above.
        let seq = unsafe { ptr::read_volatile(addr_of!((*p).seq)) };
        for i in 0..PAYLOAD {
            // SAFETY: as above.
            let w = unsafe { ptr::read_volatile(addr_of!((*p).payload[i])) };
            if w != payload_word(seq, i) {
                self.run
                    .violation(format!("{when}: object {seq} payload word {i} is {w:#x}"));
                return;
            }
        }
        if seq < *last_seq {
            self.run.violation(format!(
                "{when}: sequence went back from {} to {seq}",
                *last_seq
            ));
        }
        *last_seq = seq;
        // SAFETY: as above; `OnceLock::get` is a plain acquire load.
        if let Some(t) = unsafe { (*p).ticket.get() } {
            self.run.ticket_checks.fetch_add(1, Ordering::Relaxed);
            if self.d.poll(t) {
                self.run.violation(format!(
                    "{when}: a grace period that began after object {seq} was unpublished ended \
                     while a reader still held it"
                ));
            }
        }
    }
}

fn reader(sh: Arc<Shared>, seed: u64, sections: usize, use_handle: bool) {
    sh.run.reader_threads.fetch_add(1, Ordering::Relaxed);
    let d = &sh.d;
    let mut rng = Rng(seed | 1);
    let mut last_seq = 0;
    let mut h = use_handle.then(|| d.register_thread());
    for s in 0..sections {
        if sh.done.load(Ordering::Relaxed) {
            break;
        }
        {
            let depth = 1 + rng.next() % 3;
            let mut outer = match &h {
                Some(h) => h.read_lock(),
                None => d.read_lock(),
            };
            let p = sh.load(&outer);
            sh.check(p, &mut last_seq, "outer");
            let mut inner: Vec<ReadGuard<'_>> = Vec::new();
            for _ in 1..depth {
                inner.push(match (&h, rng.next() % 2) {
                    (Some(h), 0) => h.read_lock(),
                    _ => d.read_lock(),
                });
                rng.spin();
                sh.check(p, &mut last_seq, "nested");
                // A fresh load in the inner section, checked too.
                let q = sh.load(&outer);
                let mut q_seq = last_seq;
                sh.check(q, &mut q_seq, "nested load");
            }
            while let Some(g) = inner.pop() {
                drop(g);
                rng.spin();
                sh.check(p, &mut last_seq, "after an inner guard dropped");
            }
            rng.spin();
            sh.check(p, &mut last_seq, "outer, last");
            if s % 4 == 1 {
                // A long-lived guard: report a quiescent state without
                // leaving the section (`p` is no longer protected after
                // it), then go on reading through the same guard.
                outer.quiescent_state();
                let p2 = sh.load(&outer);
                sh.check(p2, &mut last_seq, "after ReadGuard::quiescent_state");
                rng.spin();
                sh.check(p2, &mut last_seq, "after ReadGuard::quiescent_state, again");
            }
            drop(outer);
        }
        sh.run.sections.fetch_add(1, Ordering::Relaxed);
        match &mut h {
            Some(h) => {
                h.quiescent_state();
                if s % 8 == 7 {
                    h.offline();
                    thread::yield_now();
                    h.online();
                }
            }
            None if s % 8 == 7 => thread::yield_now(),
            None => {}
        }
    }
}

fn writer(sh: Arc<Shared>, count: usize, broken: bool) {
    sh.run.writer_threads.fetch_add(1, Ordering::Relaxed);
    let d = &sh.d;
    // Under QSBR the writer is an online reader too: it reports quiescent
    // states, and the library takes it offline while it waits.
    let mut h = d.register_thread();
    for i in 0..count {
        let seq = sh.next_seq.fetch_add(1, Ordering::Relaxed) + 1;
        let obj = Obj::new(seq, sh.run);
        match &sh.src {
            Source::Ptr(p) => {
                let old = p.swap(Box::into_raw(Box::new(obj)), Ordering::AcqRel);
                if broken {
                    // The bug the torture must catch: no grace period.
                    // SAFETY: none; readers may still hold `old`. Only the
                    // self-test uses this, to show that the checks notice;
                    // the quarantine keeps the block mapped and poisoned.
                    drop(unsafe { Box::from_raw(old) });
                    sh.run.replacements.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                let ticket = d.start_poll();
                // SAFETY: `old` came from `Box::into_raw` and was published
                // until the swap; only this writer (one at a time) unpublishes
                // and queues it, once. Readers may still hold it, which the
                // queue accounts for; `OnceLock::set` is thread-safe.
                unsafe {
                    let _ = (*old).ticket.set(ticket);
                    if i % 16 == 15 {
                        // Queue from inside a section: spills when full.
                        let _g = h.read_lock();
                        d.rcu_reclaim_queue(Box::from_raw(old));
                    } else {
                        d.rcu_reclaim_queue(Box::from_raw(old));
                    }
                }
            }
            Source::Boxed(b) => {
                if i % 4 == 3 {
                    let g = h.read_lock();
                    let old = b.swap(obj, &g);
                    let _ = old.ticket.set(d.start_poll());
                } else {
                    b.replace(obj);
                }
            }
        }
        sh.run.replacements.fetch_add(1, Ordering::Relaxed);
        h.quiescent_state();
    }
}

/// rcutorture's fake writer: grace periods for their own sake.
fn fake_writer(sh: Arc<Shared>) {
    let mut rng = Rng(0x5eed);
    while !sh.done.load(Ordering::Relaxed) {
        sh.d.synchronize_rcu();
        sh.run.fake_grace_periods.fetch_add(1, Ordering::Relaxed);
        thread::sleep(Duration::from_micros(20 + rng.next() % 200));
    }
}

/// Torture runs take all the CPU of a small machine: one at a time.
fn serial() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

#[derive(Clone, Copy, Debug)]
enum Mode {
    Ptr,
    Boxed,
}

struct Config {
    flavor: Flavor,
    capacity: usize,
    mode: Mode,
    /// Self-test: the writer frees without waiting for readers.
    broken: bool,
}

fn torture(cfg: Config) {
    let _serial = serial();
    let Config {
        flavor,
        capacity,
        mode,
        broken,
    } = cfg;
    let run = Run::leak();
    let d = Domain::builder()
        .flavor(flavor)
        .queue_capacity(capacity)
        .reclaim_interval(Duration::from_millis(1))
        .build();
    let first = Obj::new(0, run);
    let src = match mode {
        Mode::Ptr => Source::Ptr(AtomicPtr::new(Box::into_raw(Box::new(first)))),
        Mode::Boxed => Source::Boxed(RcuBox::new_in(first, &d)),
    };
    let sh = Arc::new(Shared {
        d: d.clone(),
        src,
        run,
        done: AtomicBool::new(false),
        next_seq: AtomicU64::new(0),
    });
    let quarantined_before = QUARANTINED.load(Ordering::Relaxed);

    let generations = 5;
    let per_writer = scaled(if broken { 4000 } else { 60_000 });
    let reader_slots = 3;
    let sections_per_reader = 400;
    let start = Instant::now();

    let fake = {
        let sh = sh.clone();
        thread::spawn(move || fake_writer(sh))
    };
    let spawn_reader = |n: u64| {
        let sh = sh.clone();
        thread::Builder::new()
            .name(format!("torture-reader-{n}"))
            .spawn(move || {
                reader(
                    sh,
                    n.wrapping_mul(0x9e37_79b9),
                    sections_per_reader,
                    n % 2 == 0,
                )
            })
            .unwrap()
    };
    let spawn_writer = || {
        let sh = sh.clone();
        thread::spawn(move || writer(sh, per_writer, broken))
    };
    let mut spawned = 0u64;
    let mut readers: Vec<JoinHandle<()>> = (0..reader_slots)
        .map(|_| {
            spawned += 1;
            spawn_reader(spawned)
        })
        .collect();
    let mut writer_handle = spawn_writer();
    let mut generations_left = generations - 1;
    loop {
        for slot in readers.iter_mut() {
            if slot.is_finished() {
                spawned += 1;
                let old = std::mem::replace(slot, spawn_reader(spawned));
                old.join().unwrap();
            }
        }
        if writer_handle.is_finished() {
            if generations_left == 0 {
                break;
            }
            generations_left -= 1;
            std::mem::replace(&mut writer_handle, spawn_writer())
                .join()
                .unwrap();
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "{flavor:?}/{mode:?}: torture did not finish (deadlock?)"
        );
        thread::sleep(Duration::from_millis(1));
    }
    writer_handle.join().unwrap();
    sh.done.store(true, Ordering::SeqCst);
    for r in readers {
        r.join().unwrap();
    }
    fake.join().unwrap();
    let elapsed = start.elapsed();

    d.rcu_barrier();
    let s = d.stats();
    let replacements = run.replacements.load(Ordering::SeqCst);
    let created = run.created.load(Ordering::SeqCst);
    let summary = format!(
        "{flavor:?}/{mode:?}/cap {capacity}: {elapsed:?}, {replacements} replacements, {} reads in {} sections \
         by {} reader threads, {} ticket checks, {} fake grace periods, {s:?}",
        run.reads.load(Ordering::SeqCst),
        run.sections.load(Ordering::SeqCst),
        run.reader_threads.load(Ordering::SeqCst),
        run.ticket_checks.load(Ordering::SeqCst),
        run.fake_grace_periods.load(Ordering::SeqCst),
    );
    println!("{summary}");

    let violations = run.violations.load(Ordering::SeqCst);
    if broken {
        assert!(
            violations > 0,
            "the checks missed a writer that frees at once: {summary}"
        );
        println!(
            "caught {violations}; first: {:?}",
            run.first_violation
                .lock()
                .unwrap_or_else(|e| e.into_inner())
        );
        let sh = Arc::into_inner(sh).expect("every thread is joined");
        if let Source::Ptr(p) = sh.src {
            // SAFETY: the last published object, unreachable now; it came
            // from `Box::into_raw`.
            drop(unsafe { Box::from_raw(p.into_inner()) });
        }
        return;
    }
    assert_eq!(
        violations,
        0,
        "{summary}\nfirst violation: {:?}",
        run.first_violation
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    );
    // Not vacuous: real work was done, by churning threads.
    assert_eq!(replacements, generations * per_writer, "{summary}");
    assert_eq!(run.writer_threads.load(Ordering::SeqCst), generations);
    assert!(
        run.reads.load(Ordering::SeqCst) >= scaled(5_000),
        "{summary}"
    );
    assert!(
        run.reader_threads.load(Ordering::SeqCst) > reader_slots,
        "{summary}: readers churned"
    );
    assert!(
        run.fake_grace_periods.load(Ordering::SeqCst) >= 1,
        "{summary}"
    );
    assert!(
        run.ticket_checks.load(Ordering::SeqCst) > 0,
        "{summary}: the age check ran"
    );
    // Exact accounting: every unpublished object, and only those, dropped.
    assert_eq!(created, replacements + 1);
    assert_eq!(s.queued, replacements as u64, "{summary}");
    assert_eq!(s.reclaimed, s.queued, "{summary}");
    assert_eq!(
        run.dropped.load(Ordering::SeqCst),
        replacements,
        "{summary}"
    );
    let sh = Arc::into_inner(sh).expect("every thread is joined");
    match sh.src {
        Source::Ptr(p) => {
            // SAFETY: the last published object, unreachable now that every
            // reader has exited; it came from `Box::into_raw`.
            drop(unsafe { Box::from_raw(p.into_inner()) });
        }
        Source::Boxed(b) => drop(b),
    }
    assert_eq!(run.dropped.load(Ordering::SeqCst), created);
    assert!(
        QUARANTINED.load(Ordering::Relaxed) - quarantined_before >= created,
        "every freed object went through the quarantine"
    );
}

#[test]
fn torture_memb_tiny_queue() {
    torture(Config {
        flavor: Flavor::Memb,
        capacity: 8,
        mode: Mode::Ptr,
        broken: false,
    });
}

#[test]
fn torture_mb_tiny_queue() {
    torture(Config {
        flavor: Flavor::Mb,
        capacity: 8,
        mode: Mode::Ptr,
        broken: false,
    });
}

#[test]
fn torture_qsbr_tiny_queue() {
    torture(Config {
        flavor: Flavor::Qsbr,
        capacity: 8,
        mode: Mode::Ptr,
        broken: false,
    });
}

#[test]
fn torture_memb_rcubox() {
    torture(Config {
        flavor: Flavor::Memb,
        capacity: 64,
        mode: Mode::Boxed,
        broken: false,
    });
}

#[test]
fn torture_mb_rcubox() {
    torture(Config {
        flavor: Flavor::Mb,
        capacity: 8,
        mode: Mode::Boxed,
        broken: false,
    });
}

#[test]
fn torture_qsbr_rcubox() {
    torture(Config {
        flavor: Flavor::Qsbr,
        capacity: 64,
        mode: Mode::Boxed,
        broken: false,
    });
}

/// `synchronize_rcu` while reader threads come and go one at a time: grace
/// periods often find no other thread registered (and return at once, as
/// liburcu's do) just as a new reader registers and reads. The writer frees
/// each old object itself right after its grace period; first from a thread
/// that never joined the domain, then from one with a handle of its own
/// (which those grace periods skip: it is waiting, not reading).
fn torture_with_readers_coming_and_going(flavor: Flavor) {
    let _serial = serial();
    let run = Run::leak();
    let d = Domain::builder()
        .flavor(flavor)
        .reclaim_interval(Duration::from_millis(1))
        .build();
    let sh = Arc::new(Shared {
        d: d.clone(),
        src: Source::Ptr(AtomicPtr::new(Box::into_raw(Box::new(Obj::new(0, run))))),
        run,
        done: AtomicBool::new(false),
        next_seq: AtomicU64::new(0),
    });
    let readers = scaled(150);
    let mut alone = [0usize; 2];
    for (registered, alone) in [false, true].into_iter().zip(&mut alone) {
        sh.done.store(false, Ordering::Relaxed);
        let writer = {
            let sh = sh.clone();
            thread::spawn(move || {
                let Source::Ptr(p) = &sh.src else {
                    unreachable!()
                };
                let h = registered.then(|| sh.d.register_thread());
                // Registered threads besides this writer's own record.
                let mine = usize::from(h.is_some());
                let mut alone = 0;
                while !sh.done.load(Ordering::Relaxed) {
                    let seq = sh.next_seq.fetch_add(1, Ordering::Relaxed) + 1;
                    let obj = Box::into_raw(Box::new(Obj::new(seq, sh.run)));
                    let old = p.swap(obj, Ordering::AcqRel);
                    // SAFETY: `old` was published until the swap and only
                    // this writer unpublishes; `OnceLock::set` is thread-safe.
                    let _ = unsafe { (*old).ticket.set(sh.d.start_poll()) };
                    if sh.d.stats().threads == mine {
                        alone += 1;
                    }
                    sh.d.synchronize_rcu();
                    // SAFETY: unpublished before the grace period, which
                    // waited for every section that could have loaded it.
                    drop(unsafe { Box::from_raw(old) });
                    sh.run.replacements.fetch_add(1, Ordering::Relaxed);
                }
                drop(h);
                alone
            })
        };
        for n in 0..readers as u64 {
            let sh = sh.clone();
            thread::spawn(move || reader(sh, (n + 1).wrapping_mul(0x9e37_79b9), 3, n % 2 == 0))
                .join()
                .unwrap();
        }
        sh.done.store(true, Ordering::Relaxed);
        *alone = writer.join().unwrap();
    }
    let replacements = run.replacements.load(Ordering::SeqCst);
    let summary = format!(
        "{flavor:?}: {replacements} replacements, {} reads by {} reader threads, \
         {} ticket checks; the writer was alone {alone:?} times (unregistered, registered)",
        run.reads.load(Ordering::SeqCst),
        run.reader_threads.load(Ordering::SeqCst),
        run.ticket_checks.load(Ordering::SeqCst),
    );
    println!("{summary}");
    assert_eq!(
        run.violations.load(Ordering::SeqCst),
        0,
        "{summary}\nfirst violation: {:?}",
        run.first_violation
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    );
    assert!(replacements > 0, "{summary}");
    assert_eq!(
        run.reader_threads.load(Ordering::SeqCst),
        2 * readers,
        "{summary}"
    );
    assert!(run.reads.load(Ordering::SeqCst) >= 2 * readers, "{summary}");
    // Not vacuous: grace periods did find the registry empty but for the
    // writer, in both halves.
    assert!(alone.iter().all(|&n| n > 0), "{summary}");
    let sh = Arc::into_inner(sh).expect("every thread is joined");
    if let Source::Ptr(p) = sh.src {
        // SAFETY: the last published object, unreachable now that every
        // reader has exited; it came from `Box::into_raw`.
        drop(unsafe { Box::from_raw(p.into_inner()) });
    }
    assert_eq!(
        run.dropped.load(Ordering::SeqCst),
        run.created.load(Ordering::SeqCst)
    );
}

#[test]
fn torture_memb_readers_coming_and_going() {
    torture_with_readers_coming_and_going(Flavor::Memb);
}

#[test]
fn torture_mb_readers_coming_and_going() {
    torture_with_readers_coming_and_going(Flavor::Mb);
}

#[test]
fn torture_qsbr_readers_coming_and_going() {
    torture_with_readers_coming_and_going(Flavor::Qsbr);
}

/// The torture can fail: a writer that frees the old object at once,
/// without a grace period, is caught by the readers' checks.
#[test]
#[cfg_attr(miri, ignore = "reads freed memory on purpose")]
fn torture_catches_a_writer_that_skips_the_grace_period() {
    torture(Config {
        flavor: Flavor::Mb,
        capacity: 64,
        mode: Mode::Ptr,
        broken: true,
    });
}

/// The harness itself: a freed object reads as poison, and the check
/// reports it. Calls the allocator's methods directly, so the compiler does
/// not treat the block as freed; the quarantine really keeps it.
#[test]
fn the_quarantine_poisons_and_the_check_detects_a_freed_object() {
    let _serial = serial();
    let run = Run::leak();
    let d = Domain::new();
    let sh = Shared {
        d: d.clone(),
        src: Source::Ptr(AtomicPtr::new(ptr::null_mut())),
        run,
        done: AtomicBool::new(false),
        next_seq: AtomicU64::new(0),
    };
    let layout = Layout::new::<Obj>();
    assert!(quarantined(layout));
    // SAFETY: a valid, non-zero-sized layout.
    let p = unsafe { GLOBAL.alloc(layout) }.cast::<Obj>();
    assert!(!p.is_null());
    // SAFETY: `p` is a fresh block for one `Obj`.
    unsafe { p.write(Obj::new(42, run)) };
    let mut last = 0;
    sh.check(p, &mut last, "live");
    assert_eq!(run.violations.load(Ordering::SeqCst), 0);
    assert_eq!(last, 42);
    // SAFETY: drop the object in place, then hand the block back; the
    // quarantine keeps it (we hold the serial lock, so fewer than
    // QUARANTINE_SLOTS such frees can happen before we read it).
    unsafe {
        ptr::drop_in_place(p);
        GLOBAL.dealloc(p.cast(), layout);
    }
    // SAFETY: the block is still mapped (see above); byte reads.
    let bytes = unsafe { std::slice::from_raw_parts(p.cast::<u8>(), layout.size()) };
    assert!(
        bytes.iter().all(|&b| b == POISON),
        "the freed block is poisoned"
    );
    sh.check(p, &mut last, "freed");
    assert_eq!(
        run.violations.load(Ordering::SeqCst),
        1,
        "the check notices a freed object"
    );
    assert_eq!(run.dropped.load(Ordering::SeqCst), 1);
}
