//! queue, rcubox and come-and-go: real heap objects, freed through a
//! quarantine allocator that keeps freed blocks mapped and poisoned, so a
//! reader that reaches a freed object reads poison instead of a reused,
//! valid-looking block.

use super::{join, lock, Bug, Case, Census, Ctx, Rd, Rng, Structure, Torture, Wr};
use std::alloc::{GlobalAlloc, Layout, System};
use std::ptr::{self, addr_of};
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread;
use std::time::{Duration, Instant};
use urcu::{Domain, Flavor, GracePeriod, RcuBox, ReadGuard};

// ---------------------------------------------------------------------------
// The object
// ---------------------------------------------------------------------------

const LIVE: u64 = super::LIVE;
const DEAD: u64 = super::DEAD;
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
    /// A ticket taken after the object was unpublished, for the age check.
    ticket: OnceLock<GracePeriod>,
    census: Arc<Census>,
}

impl Obj {
    fn new(seq: u64, census: &Arc<Census>) -> Obj {
        let mut payload = [0; PAYLOAD];
        for (i, w) in payload.iter_mut().enumerate() {
            *w = payload_word(seq, i);
        }
        Obj {
            magic: LIVE,
            seq,
            payload,
            ticket: OnceLock::new(),
            census: census.born(),
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
            self.census.dropped_twice.fetch_add(1, Ordering::SeqCst);
        }
        // SAFETY: as above.
        unsafe { ptr::write_volatile(&mut self.magic, DEAD) };
        self.census.dropped.fetch_add(1, Ordering::Relaxed);
    }
}

/// Checks the object a reader loaded inside a section that is still open.
/// `last_seq`: the newest sequence this reader has seen.
fn check_obj(ctx: &Ctx, p: *const Obj, last_seq: &mut u64, when: &str) {
    // SAFETY: `p` was loaded inside a read-side section that is still
    // open, so (if the library is right) it points to a live `Obj`. If it
    // is wrong, the quarantine keeps the block mapped and poisoned, and
    // these volatile reads see DEAD or poison instead of faulting.
    let magic = unsafe { ptr::read_volatile(addr_of!((*p).magic)) };
    if magic != LIVE {
        ctx.error(format!(
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
            ctx.error(format!("{when}: object {seq} payload word {i} is {w:#x}"));
            return;
        }
    }
    ctx.check(seq >= *last_seq, || {
        format!("{when}: sequence went back from {} to {seq}", *last_seq)
    });
    *last_seq = seq;
    // SAFETY: as above; `OnceLock::get` is a plain acquire load.
    if let Some(t) = unsafe { (*p).ticket.get() } {
        Ctx::count(&ctx.ticket_checks);
        ctx.check(!ctx.d.poll(t), || {
            format!(
                "{when}: a grace period that began after object {seq} was unpublished ended \
                 while a reader still held it"
            )
        });
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

/// The harness itself: a freed object reads as poison, and the check
/// reports it. Calls the allocator's methods directly, so the compiler does
/// not treat the block as freed; the quarantine really keeps it. The
/// caller runs no torture case meanwhile (fewer than `QUARANTINE_SLOTS`
/// quarantined frees may happen before the block is read).
pub(super) fn check_the_quarantine() -> Result<(), String> {
    let ctx = Ctx::new(
        Domain::new(),
        &Case::new(Flavor::Memb, Structure::Queue, Duration::ZERO),
    );
    let census = Arc::default();
    let layout = Layout::new::<Obj>();
    if !quarantined(layout) {
        return Err("Obj's layout does not go through the quarantine".into());
    }
    // SAFETY: a valid, non-zero-sized layout.
    let p = unsafe { GLOBAL.alloc(layout) }.cast::<Obj>();
    if p.is_null() {
        return Err("allocation failed".into());
    }
    // SAFETY: `p` is a fresh block for one `Obj`.
    unsafe { p.write(Obj::new(42, &census)) };
    let mut last = 0;
    check_obj(&ctx, p, &mut last, "live");
    let errors = ctx.errors.load(Ordering::SeqCst);
    if errors != 0 || last != 42 {
        return Err(format!(
            "a live object failed the check: {:?}",
            lock(&ctx.first_errors)
        ));
    }
    // SAFETY: drop the object in place, then hand the block back; the
    // quarantine keeps it (see above).
    unsafe {
        ptr::drop_in_place(p);
        GLOBAL.dealloc(p.cast(), layout);
    }
    // SAFETY: the block is still mapped (see above); byte reads.
    let bytes = unsafe { std::slice::from_raw_parts(p.cast::<u8>(), layout.size()) };
    if !bytes.iter().all(|&b| b == POISON) {
        return Err("the freed block is not poisoned".into());
    }
    check_obj(&ctx, p, &mut last, "freed");
    if ctx.errors.load(Ordering::SeqCst) != 1 {
        return Err("the check did not notice a freed object".into());
    }
    let dropped = census.dropped.load(Ordering::SeqCst);
    if dropped != 1 {
        return Err(format!("the object was dropped {dropped} times"));
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// queue and rcubox
// ---------------------------------------------------------------------------

/// Whether a structure's objects go through the quarantine (its domain
/// reclaims every millisecond).
pub(super) fn uses_heap_objects(s: Structure) -> bool {
    matches!(
        s,
        Structure::Queue | Structure::RcuBox | Structure::ComeAndGo
    )
}

#[derive(Clone, Copy, Debug)]
pub(super) enum Mode {
    Ptr,
    Boxed,
}

enum Source {
    /// A raw published pointer; the writer queues the old object itself
    /// (and tags it with a ticket first).
    Ptr(AtomicPtr<Obj>),
    /// An `RcuBox`: `replace`, and sometimes `swap` inside a section.
    Boxed(RcuBox<Obj>),
}

pub(super) struct HeapTorture {
    ctx: Arc<Ctx>,
    src: Source,
    census: Arc<Census>,
    next_seq: AtomicU64,
    replacements: AtomicU64,
    quarantined_before: usize,
}

impl HeapTorture {
    pub(super) fn new(ctx: &Arc<Ctx>, mode: Mode) -> HeapTorture {
        let census = Arc::default();
        let first = Obj::new(0, &census);
        let src = match mode {
            Mode::Ptr => Source::Ptr(AtomicPtr::new(Box::into_raw(Box::new(first)))),
            Mode::Boxed => Source::Boxed(RcuBox::new_in(first, &ctx.d)),
        };
        HeapTorture {
            ctx: ctx.clone(),
            src,
            census,
            next_seq: AtomicU64::new(0),
            replacements: AtomicU64::new(0),
            quarantined_before: QUARANTINED.load(Ordering::Relaxed),
        }
    }

    fn load(&self, g: &ReadGuard<'_>) -> *const Obj {
        match &self.src {
            Source::Ptr(p) => p.load(Ordering::Acquire),
            Source::Boxed(b) => b.load(g),
        }
    }

    fn next(&self) -> Obj {
        let seq = self.next_seq.fetch_add(1, Ordering::Relaxed) + 1;
        Obj::new(seq, &self.census)
    }

    /// After every thread stopped: every object dropped once, through the
    /// quarantine; `queued`: whether each replacement went through the
    /// domain's queue.
    fn end(self, ctx: &Ctx, queued: bool) {
        ctx.d.rcu_barrier();
        let replacements = self.replacements.load(Ordering::SeqCst);
        let s = ctx.d.stats();
        let expected = if queued { replacements } else { 0 };
        ctx.check(s.queued == expected, || {
            format!("{replacements} replacements, {expected} expected queued: {s:?}")
        });
        match self.src {
            Source::Ptr(p) => {
                // SAFETY: the last published object, unreachable now that
                // every reader has exited; it came from `Box::into_raw`.
                drop(unsafe { Box::from_raw(p.into_inner()) });
            }
            Source::Boxed(b) => drop(b),
        }
        let created = self.census.created.load(Ordering::SeqCst) as usize;
        self.census.check_all_dropped(ctx, "heap objects");
        let through = QUARANTINED.load(Ordering::Relaxed) - self.quarantined_before;
        ctx.check(through >= created, || {
            format!("{created} objects created but {through} went through the quarantine")
        });
    }
}

impl Torture for HeapTorture {
    /// The newest sequence the reader has seen.
    type ReaderState = u64;
    const WRITER_HANDLE: bool = true;

    fn writers(&self) -> usize {
        1
    }

    fn read(&self, r: &Rd<'_>, last: &mut u64) {
        let ctx = &*self.ctx;
        let depth = 1 + r.rng.below(3);
        let mut outer = r.lock();
        let p = self.load(&outer);
        check_obj(ctx, p, last, "outer");
        let mut inner: Vec<ReadGuard<'_>> = Vec::new();
        for _ in 1..depth {
            inner.push(r.lock());
            r.rng.spin();
            check_obj(ctx, p, last, "nested");
            // A fresh load in the inner section, checked too.
            let q = self.load(&outer);
            let mut q_seq = *last;
            check_obj(ctx, q, &mut q_seq, "nested load");
        }
        while let Some(g) = inner.pop() {
            drop(g);
            r.rng.spin();
            check_obj(ctx, p, last, "after an inner guard dropped");
        }
        r.rng.spin();
        check_obj(ctx, p, last, "outer, last");
        if r.rng.below(4) == 0 {
            // A long-lived guard: report a quiescent state without leaving
            // the section (`p` is no longer protected after it), then go
            // on reading through the same guard.
            outer.quiescent_state();
            let p2 = self.load(&outer);
            check_obj(ctx, p2, last, "after ReadGuard::quiescent_state");
            r.rng.spin();
            check_obj(ctx, p2, last, "after ReadGuard::quiescent_state, again");
        }
        drop(outer);
    }

    fn write(&self, _: usize, wr: &Wr<'_>) {
        let d = &self.ctx.d;
        let obj = self.next();
        let section = || match wr.h {
            Some(h) => h.read_lock(),
            None => d.read_lock(),
        };
        match &self.src {
            Source::Ptr(p) => {
                let old = p.swap(Box::into_raw(Box::new(obj)), Ordering::AcqRel);
                if self.ctx.bug == Some(Bug::FreeEarly) {
                    // The bug the torture must catch: no grace period.
                    // SAFETY: none; readers may still hold `old`. Only the
                    // self-test injects this, to show that the checks
                    // notice; the quarantine keeps the block mapped and
                    // poisoned.
                    drop(unsafe { Box::from_raw(old) });
                } else {
                    let ticket = d.start_poll();
                    // SAFETY: `old` came from `Box::into_raw` and was
                    // published until the swap, which gave it to this
                    // writer alone; it queues it once. Readers may still
                    // hold it, which the queue accounts for;
                    // `OnceLock::set` is thread-safe.
                    unsafe {
                        let _ = (*old).ticket.set(ticket);
                        if wr.rng.below(16) == 0 {
                            // Queue from inside a section: spills when full.
                            let _g = section();
                            d.rcu_reclaim_queue(Box::from_raw(old));
                        } else {
                            d.rcu_reclaim_queue(Box::from_raw(old));
                        }
                    }
                }
            }
            Source::Boxed(b) => {
                if wr.rng.below(4) == 0 {
                    let g = section();
                    let old = b.swap(obj, &g);
                    let _ = old.ticket.set(d.start_poll());
                } else {
                    b.replace(obj);
                }
            }
        }
        self.replacements.fetch_add(1, Ordering::Relaxed);
    }

    fn finish(self, ctx: &Ctx) {
        self.end(ctx, true);
    }
}

// ---------------------------------------------------------------------------
// come-and-go: readers one at a time, a writer freeing after each grace
// period
// ---------------------------------------------------------------------------

impl HeapTorture {
    /// Replaces the object in a loop until `stop`, waiting for a grace
    /// period and freeing the old object itself each time; registered
    /// (through a handle of its own) or not. Returns how many times no
    /// other thread was registered just before the grace period began.
    fn free_after_each_grace_period(&self, registered: bool, stop: &AtomicBool) -> u64 {
        let Source::Ptr(p) = &self.src else {
            unreachable!("come-and-go publishes through a pointer")
        };
        let d = &self.ctx.d;
        self.ctx.writers_started.fetch_add(1, Ordering::SeqCst);
        let h = registered.then(|| d.register_thread());
        // Registered threads besides this writer's own record.
        let mine = usize::from(h.is_some());
        let mut alone = 0;
        while !stop.load(Ordering::Relaxed) {
            let old = p.swap(Box::into_raw(Box::new(self.next())), Ordering::AcqRel);
            // SAFETY: `old` was published until the swap, which gave it to
            // this writer alone; `OnceLock::set` is thread-safe.
            let _ = unsafe { (*old).ticket.set(d.start_poll()) };
            if d.stats().threads == mine {
                alone += 1;
            }
            d.synchronize_rcu();
            // SAFETY: unpublished before the grace period, which waited for
            // every section that could have loaded it; it came from
            // `Box::into_raw`.
            drop(unsafe { Box::from_raw(old) });
            self.replacements.fetch_add(1, Ordering::Relaxed);
            Ctx::count(&self.ctx.writes);
        }
        drop(h);
        alone
    }
}

/// `synchronize_rcu` while reader threads come and go one at a time (three
/// sections each; every other one through a handle): grace periods often
/// find no other thread registered, and return at once, just as a new
/// reader registers and reads. The first half of `duration` the writer
/// never joins the domain; the second half it holds a handle (which those
/// grace periods skip: it is waiting, not reading).
pub(super) fn readers_coming_and_going(ctx: &Arc<Ctx>, duration: Duration) {
    let t = Arc::new(HeapTorture::new(ctx, Mode::Ptr));
    let mut alone = [0u64; 2];
    let mut seed = 0u64;
    for (half, registered) in [false, true].into_iter().enumerate() {
        let stop = Arc::new(AtomicBool::new(false));
        let writer = {
            let (t, stop) = (t.clone(), stop.clone());
            thread::Builder::new()
                .name("torture-writer-0".into())
                .spawn(move || t.free_after_each_grace_period(registered, &stop))
                .unwrap()
        };
        let end = Instant::now() + duration / 2;
        // At least one reader per half, however short the case.
        loop {
            seed += 1;
            let (c, t, s) = (ctx.clone(), t.clone(), seed);
            let reader = thread::Builder::new()
                .name(format!("torture-reader-{s}"))
                .spawn(move || {
                    let ctx = c;
                    ctx.readers_started.fetch_add(1, Ordering::SeqCst);
                    let rng = Rng::new(s);
                    let mut h = (s % 2 == 0).then(|| ctx.d.register_thread());
                    let mut last = 0;
                    for _ in 0..3 {
                        let rd = Rd {
                            ctx: &ctx,
                            h: h.as_ref(),
                            rng: &rng,
                        };
                        t.read(&rd, &mut last);
                        Ctx::count(&ctx.reads);
                        if let Some(h) = &mut h {
                            h.quiescent_state();
                        }
                    }
                })
                .unwrap();
            join(ctx, reader);
            if Instant::now() >= end {
                break;
            }
        }
        stop.store(true, Ordering::Relaxed);
        match writer.join() {
            Ok(n) => alone[half] = n,
            Err(_) => ctx.error("the come-and-go writer panicked".into()),
        }
    }
    // Not vacuous: grace periods did find the registry empty but for the
    // writer, in both halves.
    ctx.check(alone.iter().all(|&n| n > 0), || {
        format!("the writer was never alone in one half: {alone:?} (unregistered, registered)")
    });
    *lock(&ctx.detail) = format!(
        "{} readers; writer alone {} / {} times (unregistered / registered)",
        ctx.readers_started.load(Ordering::SeqCst),
        alone[0],
        alone[1]
    );
    match Arc::try_unwrap(t) {
        Ok(t) => t.end(ctx, false),
        Err(_) => ctx.error("the structure is still shared after every thread joined".into()),
    }
}
