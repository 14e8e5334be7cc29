//! The reclamation queue on its own: the idea proposed for liburcu in 2009
//! as `rcu_reclaim_queue(p)`, a replacement for "`synchronize_rcu();
//! free(old);`" that does not make the writer wait.
//!
//! Run it with `cargo run --release --example reclaim_queue`.
//!
//! Part 1 publishes an object, replaces it while a reader still holds it,
//! and watches the domain's reclaimer thread free the old one once the
//! reader is done. Part 2 gives the domain a tiny queue and a reader that
//! stalls: the queue fills up, and the writer, instead of letting memory
//! grow, waits for the grace period and frees its own queue.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};
use urcu::{Domain, RcuBox, Stats};

#[path = "common/args.rs"]
mod args;

/// The objects we publish and retire: a named page of data.
struct Page {
    name: String,
    _data: [u8; 256],
    /// Print a line when freed (part 1), or only count (part 2).
    loud: bool,
}

static FREED_BY_RECLAIMER: AtomicU64 = AtomicU64::new(0);
static FREED_BY_WRITER: AtomicU64 = AtomicU64::new(0);

impl Page {
    fn new(name: &str, loud: bool) -> Page {
        Page {
            name: name.to_string(),
            _data: [0; 256],
            loud,
        }
    }
}

impl Drop for Page {
    fn drop(&mut self) {
        // Whoever drops the page runs this: the reclaimer thread, or the
        // thread that queued it.
        let me = thread::current();
        let by = me.name().unwrap_or("?");
        if by.starts_with("urcu-reclaimer") {
            FREED_BY_RECLAIMER.fetch_add(1, Ordering::Relaxed);
        } else {
            FREED_BY_WRITER.fetch_add(1, Ordering::Relaxed);
        }
        if self.loud {
            println!("   [drop] {} freed by thread `{by}`", self.name);
        }
    }
}

fn show(s: &Stats) {
    println!(
        "   stats: {} queued, {} reclaimed, {} pending, {} grace periods, {} caller fallbacks",
        s.queued,
        s.reclaimed,
        s.pending(),
        s.grace_periods,
        s.caller_fallbacks
    );
}

/// Starts a reader thread that enters a read-side section of `d`, tells us
/// it is inside, and leaves when `leave` receives (or is dropped).
fn reader_in_section(
    d: &Domain,
    name: &str,
    on_entry: impl FnOnce(&urcu::ReadGuard<'_>) + Send + 'static,
) -> (mpsc::Sender<()>, thread::JoinHandle<()>) {
    let (entered_tx, entered_rx) = mpsc::channel();
    let (leave_tx, leave_rx) = mpsc::channel::<()>();
    let d = d.clone();
    let h = thread::Builder::new()
        .name(name.to_string())
        .spawn(move || {
            let g = d.read_lock();
            on_entry(&g);
            entered_tx.send(()).unwrap();
            let _ = leave_rx.recv();
            drop(g);
        })
        .unwrap();
    entered_rx.recv().unwrap();
    (leave_tx, h)
}

fn main() {
    args::Cli {
        name: "reclaim_queue",
        about: "rcu_reclaim_queue on its own: the reclaimer frees an old object once its \
                reader leaves; a full queue makes the writer wait instead of growing.",
        synopsis: "",
        options: "",
    }
    .no_args();
    println!("The reclamation queue\n=====================\n");

    // An explicit domain with a tiny queue: 16 words per thread. A stream
    // of objects of one type costs one word each, so about 13 objects fit
    // (a few words are held back for the longest entry form).
    let d = Domain::builder().queue_capacity(16).build();
    println!(
        "A domain ({:?} flavor) whose threads each get a queue of {} words.\n",
        d.flavor(),
        d.queue_capacity()
    );

    // ---------------------------------------------------------------------
    println!("Part 1: publish, replace, and watch the old object being freed\n");

    let page = std::sync::Arc::new(RcuBox::new_in(Page::new("page v1", true), &d));
    println!("1. Published page v1.");

    // A reader enters a section and reads v1.
    let p = page.clone();
    let (leave, reader) = reader_in_section(&d, "reader", move |g| {
        println!(
            "2. A reader thread entered a section and read `{}`.",
            p.load(g).name
        );
    });

    // The writer publishes v2. `replace` swaps the pointer (new readers now
    // find v2) and hands the old box to the queue: the 2009 call,
    // `rcu_reclaim_queue`. It returns at once.
    let t = Instant::now();
    page.replace(Page::new("page v2", true));
    println!(
        "3. The writer published page v2 and queued v1 with rcu_reclaim_queue; it returned in {:?}.",
        t.elapsed()
    );
    show(&d.stats());

    thread::sleep(Duration::from_millis(50));
    println!(
        "4. 50 ms later v1 is still alive ({} freed): the reader's section may still use it.",
        FREED_BY_RECLAIMER.load(Ordering::Relaxed) + FREED_BY_WRITER.load(Ordering::Relaxed)
    );

    println!("5. The reader leaves its section. Now we just wait and watch:");
    let left = Instant::now();
    leave.send(()).unwrap();
    reader.join().unwrap();
    while FREED_BY_RECLAIMER.load(Ordering::Relaxed) + FREED_BY_WRITER.load(Ordering::Relaxed) == 0
    {
        assert!(
            left.elapsed() < Duration::from_secs(10),
            "v1 was never freed"
        );
        thread::sleep(Duration::from_millis(1));
    }
    println!(
        "6. v1 was freed {:.0?} after the reader left, by the domain's reclaimer thread: it ran a \
         grace period and drained the queue. Nobody called synchronize_rcu or rcu_barrier.",
        left.elapsed()
    );
    show(&d.stats());

    // ---------------------------------------------------------------------
    println!("\nPart 2: a full queue makes the writer free its own queue (bounded memory)\n");

    // A slow reader sits in a section for 300 ms. No grace period can end
    // while it is there, so nothing queued from now on can be freed.
    let (leave, reader) = reader_in_section(&d, "slow-reader", |_| {});
    let release = thread::spawn(move || {
        thread::sleep(Duration::from_millis(300));
        let _ = leave.send(());
    });
    println!("1. A slow reader entered a section; it will stay there for 300 ms.");

    // The writer retires 40 objects as fast as it can. Each call is timed.
    let before = (
        FREED_BY_RECLAIMER.load(Ordering::Relaxed),
        FREED_BY_WRITER.load(Ordering::Relaxed),
    );
    let fallbacks_before = d.stats().caller_fallbacks;
    let mut max_pending = 0;
    let mut fast = 0;
    let mut slow = Vec::new();
    for i in 0..40 {
        let t = Instant::now();
        d.rcu_reclaim_queue(Box::new(Page::new(&format!("old object {i}"), false)));
        let took = t.elapsed();
        if took < Duration::from_millis(5) {
            fast += 1;
        } else {
            slow.push((i, took));
        }
        max_pending = max_pending.max(d.stats().pending());
    }
    println!("2. The writer queued 40 objects:");
    println!("   {fast} calls returned at once (the object went into the queue).");
    for (i, took) in &slow {
        println!(
            "   call {} took {:.0?}: the queue was full, so the writer waited for a grace period \
             (until the slow reader left) and then freed its own queue.",
            i + 1,
            took
        );
    }
    println!(
        "   At most {max_pending} objects were ever pending: memory stayed bounded by the queue, \
         not by how long the reader took."
    );
    release.join().unwrap();
    reader.join().unwrap();

    d.rcu_barrier();
    let s = d.stats();
    println!(
        "3. rcu_barrier: everything is freed. Of the 40, {} were freed by the writer itself and {} \
         by the reclaimer thread; the full queue sent the writer to free it {} time(s).",
        FREED_BY_WRITER.load(Ordering::Relaxed) - before.1,
        FREED_BY_RECLAIMER.load(Ordering::Relaxed) - before.0,
        s.caller_fallbacks - fallbacks_before
    );
    show(&s);
    assert_eq!(s.pending(), 0);
    assert!(max_pending <= d.queue_capacity() as u64);

    drop(page);
    println!("\nThe writer never waited while the queue had room, and never let it grow. Done.");
}
