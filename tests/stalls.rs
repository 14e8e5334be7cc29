//! Stall reports: a grace period held up longer than the domain's
//! `stall_timeout` is reported once, through the `on_stall` hook, naming the
//! thread that holds it.

mod common;

use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};
use urcu::{Domain, Flavor, StallReport};

const TIMEOUT: Duration = Duration::from_millis(50);
const HOLD: Duration = Duration::from_millis(300);

fn domain_with_hook(flavor: Flavor) -> (Domain, Arc<Mutex<Vec<StallReport>>>) {
    let reports = Arc::new(Mutex::new(Vec::new()));
    let r = reports.clone();
    let d = Domain::builder()
        .flavor(flavor)
        .stall_timeout(TIMEOUT)
        .on_stall(move |rep: &StallReport| r.lock().unwrap().push(rep.clone()))
        .build();
    (d, reports)
}

fn one_report_names_the_stuck_reader(flavor: Flavor, qsbr_without_guard: bool) {
    let (d, reports) = domain_with_hook(flavor);
    let (entered_tx, entered_rx) = mpsc::channel();
    let reader = {
        let d = d.clone();
        thread::Builder::new()
            .name("stuck-reader".into())
            .spawn(move || {
                let mut h = d.register_thread();
                if qsbr_without_guard {
                    // QSBR: online, and no quiescent state for a while.
                    entered_tx.send(()).unwrap();
                    thread::sleep(HOLD);
                    h.quiescent_state();
                } else {
                    let g = h.read_lock();
                    entered_tx.send(()).unwrap();
                    thread::sleep(HOLD);
                    drop(g);
                }
                h.offline();
            })
            .unwrap()
    };
    entered_rx.recv().unwrap();
    // Another thread (this one) waits for a grace period.
    let start = Instant::now();
    common::within(
        Duration::from_secs(10),
        "synchronize behind a stuck reader",
        {
            let d = d.clone();
            move || d.synchronize_rcu()
        },
    );
    let waited = start.elapsed();
    reader.join().unwrap();
    assert!(
        waited >= HOLD / 2,
        "{flavor:?}: the grace period waited for the reader ({waited:?})"
    );

    let got = reports.lock().unwrap().clone();
    assert_eq!(
        got.len(),
        1,
        "{flavor:?}: exactly one report for one stalled grace period: {got:?}"
    );
    let rep = &got[0];
    assert_eq!(
        rep.threads.len(),
        1,
        "{flavor:?}: only the stuck reader holds it: {rep:?}"
    );
    assert!(
        rep.threads[0].contains("stuck-reader"),
        "{flavor:?}: the report names the thread: {rep:?}"
    );
    assert!(
        rep.waited >= TIMEOUT && rep.waited < HOLD,
        "{flavor:?}: reported after the timeout, before the reader left: {:?}",
        rep.waited
    );
    assert!(
        rep.to_string().contains("stuck-reader"),
        "{flavor:?}: Display names it: {rep}"
    );
    let s = d.stats();
    assert_eq!(s.stalls_reported, 1, "{flavor:?}: {s:?}");
    assert!(s.longest_grace_period >= TIMEOUT, "{flavor:?}: {s:?}");

    // A grace period with no stuck reader reports nothing more.
    d.synchronize_rcu();
    assert_eq!(reports.lock().unwrap().len(), 1, "{flavor:?}");
    assert_eq!(d.stats().stalls_reported, 1, "{flavor:?}");
}

#[test]
fn stall_report_names_the_stuck_reader_memb() {
    one_report_names_the_stuck_reader(Flavor::Memb, false);
}

#[test]
fn stall_report_names_the_stuck_reader_mb() {
    one_report_names_the_stuck_reader(Flavor::Mb, false);
}

#[test]
fn stall_report_names_the_stuck_reader_qsbr() {
    one_report_names_the_stuck_reader(Flavor::Qsbr, false);
}

#[test]
fn stall_report_names_a_qsbr_thread_without_quiescent_states() {
    one_report_names_the_stuck_reader(Flavor::Qsbr, true);
}

/// Readers that leave their sections in time are never reported.
#[test]
fn short_sections_are_not_reported() {
    let (d, reports) = domain_with_hook(Flavor::Mb);
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let (d, stop) = (d.clone(), stop.clone());
        thread::spawn(move || {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let g = d.read_lock();
                thread::sleep(Duration::from_millis(1));
                drop(g);
            }
        })
    };
    for _ in 0..common::scaled(20) {
        d.synchronize_rcu();
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    reader.join().unwrap();
    assert!(reports.lock().unwrap().is_empty());
    assert_eq!(d.stats().stalls_reported, 0);
}

/// A domain whose stall hook panics on its first `panics` reports (and
/// then returns normally), with a short timeout.
fn domain_with_panicking_hook(flavor: Flavor, panics: usize) -> Domain {
    let calls = std::sync::atomic::AtomicUsize::new(0);
    Domain::builder()
        .flavor(flavor)
        .stall_timeout(Duration::from_millis(10))
        .on_stall(move |_: &StallReport| {
            if calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < panics {
                panic!("test: this on_stall hook panics")
            }
        })
        .build()
}

/// Holds a section of `d` on a new thread until the returned sender is
/// dropped (or sent to); returns once the section has begun.
fn hold_section(d: &Domain) -> (mpsc::Sender<()>, thread::JoinHandle<()>) {
    let (entered_tx, entered_rx) = mpsc::channel();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let d = d.clone();
    let h = thread::spawn(move || {
        let g = d.read_lock();
        entered_tx.send(()).unwrap();
        let _ = release_rx.recv();
        drop(g);
    });
    entered_rx.recv().unwrap();
    (release_tx, h)
}

/// A stall hook that panics (once) must not break the grace-period state machine:
/// afterwards a ticket taken while one grace period runs must not complete
/// when the next one merely starts (the defect: the panic left `gp_seq`
/// odd, so every later grace period published "completed" as it began,
/// and a reader's object could be freed under it).
fn a_panicking_stall_hook_leaves_grace_periods_sound(flavor: Flavor) {
    let d = domain_with_panicking_hook(flavor, 1);

    // 1. A stall whose hook panics: the waiter still returns normally.
    let (release, stuck) = hold_section(&d);
    let waiter = {
        let d = d.clone();
        thread::spawn(move || d.synchronize_rcu())
    };
    thread::sleep(Duration::from_millis(60));
    drop(release);
    stuck.join().unwrap();
    waiter.join().unwrap_or_else(|_| {
        panic!("{flavor:?}: a panicking stall hook unwound out of synchronize_rcu")
    });
    assert!(
        d.stats().stall_hook_panics >= 1,
        "{flavor:?}: {:?}",
        d.stats()
    );

    // 2. Grace period 1 runs, held up by stuck readers, while this thread
    //    enters a section that grace period need not wait for (it began
    //    after the last phase flip, or after the QSBR counter moved), and
    //    takes a ticket: that ticket needs grace period 2.
    let mut first = Some(hold_section(&d));
    let gp1 = {
        let d = d.clone();
        thread::spawn(move || d.synchronize_rcu())
    };
    thread::sleep(Duration::from_millis(30)); // gp1 waits for the first
    let release = |(tx, h): (mpsc::Sender<()>, thread::JoinHandle<()>)| {
        drop(tx);
        h.join().unwrap();
    };
    let mut second = None;
    if flavor != Flavor::Qsbr {
        // Phase flavors: a second reader holds gp1 after its flip.
        second = Some(hold_section(&d));
        release(first.take().unwrap());
        thread::sleep(Duration::from_millis(30)); // gp1 flipped, waits for it
    }
    let mine = d.read_lock();
    let ticket = d.start_poll();
    first.into_iter().chain(second).for_each(release);
    gp1.join().unwrap();
    // 3. Grace period 2 starts and must wait for our section, which began
    //    before the ticket: the ticket must not read as complete.
    let gp2 = {
        let d = d.clone();
        thread::spawn(move || d.synchronize_rcu())
    };
    thread::sleep(Duration::from_millis(40));
    assert!(
        !d.poll(&ticket),
        "{flavor:?}: a ticket read as elapsed while a section that began before it is open"
    );
    drop(mine);
    gp2.join().unwrap();
    assert!(d.poll(&ticket), "{flavor:?}");
    assert!(
        d.stats().stall_hook_panics == 1 && d.stats().stalls_reported >= 2,
        "{flavor:?}: {:?}",
        d.stats()
    );
}

#[test]
fn a_panicking_stall_hook_leaves_grace_periods_sound_memb() {
    common::within(Duration::from_secs(30), "Memb", || {
        a_panicking_stall_hook_leaves_grace_periods_sound(Flavor::Memb)
    });
}

#[test]
fn a_panicking_stall_hook_leaves_grace_periods_sound_mb() {
    common::within(Duration::from_secs(30), "Mb", || {
        a_panicking_stall_hook_leaves_grace_periods_sound(Flavor::Mb)
    });
}

#[test]
fn a_panicking_stall_hook_leaves_grace_periods_sound_qsbr() {
    common::within(Duration::from_secs(30), "Qsbr", || {
        a_panicking_stall_hook_leaves_grace_periods_sound(Flavor::Qsbr)
    });
}

/// The hook runs on the reclaimer thread too (its passes run grace
/// periods): a panic there must not kill it. Idle threads' objects are still
/// freed, and dropping the domain (which joins the reclaimer) is clean.
#[test]
fn a_panicking_stall_hook_does_not_kill_the_reclaimer() {
    for flavor in [Flavor::Memb, Flavor::Mb, Flavor::Qsbr] {
        let d = domain_with_panicking_hook(flavor, usize::MAX);
        let drops = common::DropCount::new();
        let (release, stuck) = hold_section(&d);
        {
            // Queued on a thread that then exits: only the reclaimer frees it.
            let (d, drops) = (d.clone(), drops.clone());
            thread::spawn(move || {
                d.rcu_reclaim_queue(Box::new(drops.obj()));
            })
            .join()
            .unwrap();
        }
        // The reclaimer's grace period stalls on the reader, and reports.
        assert!(
            common::wait_until(Duration::from_secs(10), || d.stats().stall_hook_panics >= 1),
            "{flavor:?}: the reclaimer's grace period reported the stall: {:?}",
            d.stats()
        );
        drop(release);
        stuck.join().unwrap();
        assert!(
            common::wait_until(Duration::from_secs(10), || drops.get() == 1),
            "{flavor:?}: the reclaimer kept running and freed the exited thread's object: {:?}",
            d.stats()
        );
        drop(d); // joins the reclaimer: panics if it died
    }
}

/// A hook that waits for a grace period of its own domain would wait for
/// itself (it runs inside one): it gets a panic that says so, not a hang.
/// That includes a `repin` whose section spilled (the new section's entry
/// waits for the spilled objects' grace period): the guard it unwinds
/// through still holds a section, so its drop ends that one cleanly.
#[test]
fn a_stall_hook_that_synchronizes_gets_a_clear_panic() {
    const QUEUE: usize = 64;
    let slot: Arc<Mutex<Option<Domain>>> = Arc::new(Mutex::new(None));
    let messages: Arc<Mutex<Vec<String>>> = Arc::new(Mutex::new(Vec::new()));
    let d = {
        let (slot, messages) = (slot.clone(), messages.clone());
        Domain::builder()
            .stall_timeout(Duration::from_millis(10))
            .queue_capacity(QUEUE)
            .on_stall(move |_: &StallReport| {
                let Some(d) = slot.lock().unwrap().clone() else {
                    return;
                };
                for (what, f) in [
                    (
                        "synchronize_rcu",
                        Box::new(|d: &Domain| d.synchronize_rcu()) as Box<dyn Fn(&Domain)>,
                    ),
                    ("rcu_barrier", Box::new(|d: &Domain| d.rcu_barrier())),
                    (
                        "repin after a spill",
                        Box::new(|d: &Domain| {
                            let mut g = d.read_lock();
                            for i in 0..2 * QUEUE {
                                d.rcu_reclaim_queue(Box::new(i));
                            }
                            g.repin();
                        }),
                    ),
                ] {
                    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(&d)));
                    let msg = match r {
                        Ok(()) => format!("{what}: returned"),
                        Err(e) => format!("{what}: {}", common::panic_message(&*e)),
                    };
                    messages.lock().unwrap().push(msg);
                }
            })
            .build()
    };
    *slot.lock().unwrap() = Some(d.clone());
    let (release, stuck) = hold_section(&d);
    let waiter = {
        let d = d.clone();
        thread::spawn(move || d.synchronize_rcu())
    };
    assert!(
        common::wait_until(Duration::from_secs(10), || messages.lock().unwrap().len()
            >= 3),
        "the hook ran and came back (no deadlock)"
    );
    drop(release);
    stuck.join().unwrap();
    common::within(
        Duration::from_secs(10),
        "the waiter after the hook",
        move || waiter.join().unwrap(),
    );
    for m in messages.lock().unwrap().iter() {
        assert!(m.contains("on_stall hook"), "a clear panic message: {m}");
    }
    slot.lock().unwrap().take(); // break the hook → domain cycle
}

// ---------------------------------------------------------------------------
// A reader that waits for a writer
// ---------------------------------------------------------------------------

/// How a writer fills its queue in `a_reader_waiting_for_the_writer`.
#[derive(Clone, Copy, Debug)]
enum Backpressure {
    /// `rcu_reclaim_queue` outside any section: a full ring waits there.
    FullRing,
    /// Map replacements, each through its own `pin()`: the ring fills
    /// inside sections, which spill, and the next `pin()` waits.
    MapSections,
}

/// A reader holds its section while it waits, at a barrier, for a writer
/// (a guard kept across a barrier or a channel receive, as a worker loop
/// or a benchmark harness might). The writer's backpressure waits for a
/// grace period that reader holds; it must give up after
/// `max_writer_wait` instead of deadlocking both threads.
fn a_reader_waiting_for_the_writer(flavor: Flavor, how: Backpressure) {
    let d = Domain::builder()
        .flavor(flavor)
        .queue_capacity(16)
        .max_writer_wait(Duration::from_millis(50))
        .build();
    let barrier = Arc::new(std::sync::Barrier::new(2));
    let (entered_tx, entered_rx) = mpsc::channel();
    let reader = {
        let (d, barrier) = (d.clone(), barrier.clone());
        thread::spawn(move || {
            let g = d.read_lock();
            entered_tx.send(()).unwrap();
            barrier.wait(); // until the writer is done
            drop(g);
        })
    };
    entered_rx.recv().unwrap();
    let writer = {
        let d = d.clone();
        move || {
            match how {
                Backpressure::FullRing => {
                    for i in 0..100u64 {
                        d.rcu_reclaim_queue(Box::new(i));
                    }
                }
                Backpressure::MapSections => {
                    let map: urcu::RcuHashMap<u64, u64> =
                        urcu::RcuHashMap::builder().domain(&d).build();
                    for i in 0..400u64 {
                        map.pin().insert(i % 8, i);
                    }
                }
            }
            barrier.wait();
        }
    };
    common::within(
        Duration::from_secs(20),
        &format!("{flavor:?} {how:?}: a writer while a reader waits for it"),
        writer,
    );
    reader.join().unwrap();
    let s = d.stats();
    assert!(
        s.writer_wait_timeouts >= 1,
        "{flavor:?} {how:?}: the writer never had to give up, so the test showed nothing: {s:?}"
    );
    d.rcu_barrier();
    assert_eq!(d.stats().pending(), 0, "{flavor:?} {how:?}");
}

#[test]
fn a_reader_waiting_for_a_full_ring_writer_does_not_deadlock_it() {
    for flavor in [Flavor::Memb, Flavor::Mb] {
        a_reader_waiting_for_the_writer(flavor, Backpressure::FullRing);
    }
}

#[test]
fn a_reader_waiting_for_a_map_writer_does_not_deadlock_it() {
    for flavor in [Flavor::Memb, Flavor::Mb] {
        a_reader_waiting_for_the_writer(flavor, Backpressure::MapSections);
    }
}
