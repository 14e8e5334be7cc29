//! Per-flavor behaviour: polling tickets, the membarrier fallback, batching
//! of concurrent `synchronize_rcu` callers, and QSBR's quiescent states.

mod common;

use common::{scaled, within, DropCount};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Barrier};
use std::thread;
use std::time::Duration;
use urcu::{Domain, Flavor, RcuBox};

const FLAVORS: [Flavor; 3] = [Flavor::Memb, Flavor::Mb, Flavor::Qsbr];
const LIMIT: Duration = Duration::from_secs(20);

// ---------------------------------------------------------------------------
// Polling
// ---------------------------------------------------------------------------

#[test]
fn a_ticket_completes_only_after_a_grace_period() {
    for flavor in FLAVORS {
        let d = Domain::builder().flavor(flavor).build();
        let t = d.start_poll();
        assert!(!d.poll(&t), "{flavor:?}: fresh ticket");
        // Nothing is queued, so nothing runs a grace period on its own.
        thread::sleep(Duration::from_millis(30));
        assert!(
            !d.poll(&t),
            "{flavor:?}: start_poll does not force a grace period"
        );
        assert_eq!(d.stats().grace_periods, 0);

        let d2 = d.clone();
        thread::spawn(move || d2.synchronize_rcu()).join().unwrap();
        assert!(
            d.poll(&t),
            "{flavor:?}: a grace period ran in another thread"
        );
        let gps = d.stats().grace_periods;
        assert!(gps >= 1);

        // cond_synchronize on an elapsed ticket returns at once: no grace
        // period, and not even the in-section check (nothing to wait for).
        {
            let _g = d.read_lock();
            d.cond_synchronize(&t);
        }
        d.cond_synchronize(&t);
        assert_eq!(
            d.stats().grace_periods,
            gps,
            "{flavor:?}: no grace period for an elapsed ticket"
        );

        // cond_synchronize on a fresh ticket runs one.
        let t2 = d.start_poll();
        assert!(!d.poll(&t2));
        d.cond_synchronize(&t2);
        assert!(d.poll(&t2));
        assert!(d.stats().grace_periods > gps);
    }
}

/// A ticket taken inside a read-side section cannot complete while the
/// section lasts, however many grace periods other threads ask for.
/// A lazy request wakes an idle reclaimer, so a lone ticket completes;
/// while requests keep coming the reclaimer serves them once per
/// `reclaim_interval` instead of running a grace period for each.
#[test]
fn lazy_requests_are_served_without_a_grace_period_each() {
    const INTERVAL: Duration = Duration::from_millis(20);
    for flavor in FLAVORS {
        let d = Domain::builder()
            .flavor(flavor)
            .reclaim_interval(INTERVAL)
            .build();
        let t = d.start_poll();
        d.request_grace_period_lazily();
        assert!(
            common::wait_until(LIMIT, || d.poll(&t)),
            "{flavor:?}: an idle reclaimer was not woken"
        );
        let before = d.stats().grace_periods;
        let requests = 400;
        let mut last = d.start_poll();
        for _ in 0..requests {
            last = d.start_poll();
            d.request_grace_period_lazily();
            thread::sleep(Duration::from_micros(200));
        }
        assert!(
            common::wait_until(LIMIT, || d.poll(&last)),
            "{flavor:?}: the last of a stream of lazy requests was not served"
        );
        let ran = d.stats().grace_periods - before;
        // At least 80 ms of requests, one look per 20 ms: a handful of
        // grace periods, where eager requests run one per request.
        assert!(
            ran * 4 < requests,
            "{flavor:?}: {ran} grace periods for {requests} lazy requests"
        );
    }
}

#[test]
fn a_ticket_taken_in_a_section_waits_for_that_section() {
    for flavor in FLAVORS {
        let d = Domain::builder().flavor(flavor).build();
        let h = d.register_thread();
        let g = h.read_lock();
        let t = d.start_poll();
        let done = Arc::new(AtomicBool::new(false));
        let syncer = {
            let (d, done) = (d.clone(), done.clone());
            thread::spawn(move || {
                d.synchronize_rcu();
                done.store(true, Ordering::SeqCst);
            })
        };
        thread::sleep(Duration::from_millis(50));
        assert!(!d.poll(&t), "{flavor:?}: completed during the section");
        assert!(
            !done.load(Ordering::SeqCst),
            "{flavor:?}: synchronize_rcu returned during a section"
        );
        drop(g);
        drop(h);
        within(LIMIT, "synchronize after the section", move || {
            syncer.join().unwrap()
        });
        assert!(d.poll(&t), "{flavor:?}");
    }
}

// ---------------------------------------------------------------------------
// membarrier fallback (URCU_FORCE_NO_MEMBARRIER), in a child process: the
// library decides once per process.
// ---------------------------------------------------------------------------

const CHILD_ENV: &str = "URCU_FORCE_NO_MEMBARRIER";
const CHILD_MARK: &str = "membarrier-fallback-child: checked";

/// Runs only as the child of `membarrier_fallback_is_mb`.
#[test]
fn membarrier_fallback_child() {
    if std::env::var_os(CHILD_ENV).is_none() {
        return;
    }
    let d = Domain::builder().flavor(Flavor::Memb).build();
    assert_eq!(d.flavor(), Flavor::Mb, "Memb falls back to Mb");
    assert_eq!(d.requested_flavor(), Flavor::Memb);
    assert_eq!(d.stats().flavor, Flavor::Mb);
    assert_eq!(urcu::default_domain().flavor(), Flavor::Mb);
    // And it works.
    let drops = DropCount::new();
    let b = RcuBox::new_in(drops.obj(), &d);
    {
        let g = d.read_lock();
        let _v = b.load(&g);
        b.replace(drops.obj());
    }
    d.synchronize_rcu();
    d.rcu_barrier();
    assert_eq!(drops.get(), 1);
    println!("{CHILD_MARK}");
}

#[test]
fn membarrier_fallback_is_mb() {
    if std::env::var_os(CHILD_ENV).is_some() {
        return; // We are the child (or the whole run forces the fallback).
    }
    common::run_test_in_child("membarrier_fallback_child", CHILD_ENV, CHILD_MARK);
    // Without the variable, the requested flavor is kept where it can be.
    let d = Domain::builder().flavor(Flavor::Memb).build();
    assert_eq!(d.requested_flavor(), Flavor::Memb);
    assert!(matches!(d.flavor(), Flavor::Memb | Flavor::Mb));
    assert_eq!(d.stats().flavor, d.flavor());
    for f in [Flavor::Mb, Flavor::Qsbr] {
        let d = Domain::builder().flavor(f).build();
        assert_eq!((d.flavor(), d.requested_flavor()), (f, f));
    }
}

// ---------------------------------------------------------------------------
// Batching
// ---------------------------------------------------------------------------

/// Several threads call `synchronize_rcu` at once while a reader keeps
/// grace periods from being instant: every call returns, and concurrent
/// callers share grace periods (fewer grace periods than calls).
#[test]
fn concurrent_synchronize_rcu_calls_share_grace_periods() {
    for flavor in FLAVORS {
        let d = Domain::builder().flavor(flavor).build();
        let stop = Arc::new(AtomicBool::new(false));
        let (started_tx, started_rx) = mpsc::channel();
        let reader = {
            let (d, stop) = (d.clone(), stop.clone());
            thread::spawn(move || {
                let mut h = d.register_thread();
                while !stop.load(Ordering::Relaxed) {
                    let g = h.read_lock();
                    let _ = started_tx.send(());
                    thread::sleep(Duration::from_micros(300));
                    drop(g);
                    h.quiescent_state();
                }
            })
        };
        // The reader is in its first section before the callers start.
        started_rx.recv().unwrap();
        let callers = 4;
        let per_caller = scaled(40);
        let returned = Arc::new(AtomicUsize::new(0));
        let start = Arc::new(Barrier::new(callers));
        let handles: Vec<_> = (0..callers)
            .map(|_| {
                let (d, returned, start) = (d.clone(), returned.clone(), start.clone());
                thread::spawn(move || {
                    start.wait();
                    for _ in 0..per_caller {
                        d.synchronize_rcu();
                        returned.fetch_add(1, Ordering::SeqCst);
                    }
                })
            })
            .collect();
        within(LIMIT, "concurrent synchronize_rcu", move || {
            for h in handles {
                h.join().unwrap();
            }
        });
        stop.store(true, Ordering::Relaxed);
        reader.join().unwrap();
        let calls = callers * per_caller;
        assert_eq!(returned.load(Ordering::SeqCst), calls);
        let gps = d.stats().grace_periods;
        assert!(gps >= 1);
        assert!(
            (gps as usize) < calls,
            "{flavor:?}: {gps} grace periods for {calls} concurrent calls: no batching"
        );
    }
}

/// While a grace period sleeps waiting for one long section, another
/// thread enters and leaves sections in a loop: only the reader being
/// waited for may wake the grace period, so it sleeps on until its timeout
/// (10 ms; 1 ms for `mb`) instead of being woken, and paying a heavy
/// barrier on every reader, at each of the other thread's exits.
#[test]
fn readers_a_grace_period_does_not_wait_for_leave_it_asleep() {
    for flavor in FLAVORS {
        let d = Domain::builder()
            .flavor(flavor)
            .stall_timeout(Duration::from_secs(600))
            .build();
        let (held_tx, held_rx) = mpsc::channel();
        let (release_tx, release_rx) = mpsc::channel::<()>();
        let parked = {
            let d = d.clone();
            thread::spawn(move || {
                let g = d.read_lock();
                held_tx.send(()).unwrap();
                release_rx.recv().unwrap();
                drop(g);
            })
        };
        held_rx.recv().unwrap();
        let waiter = {
            let d = d.clone();
            thread::spawn(move || d.synchronize_rcu())
        };
        let waiting = d.clone();
        within(LIMIT, "the grace period's first sleep", move || {
            while waiting.stats().grace_period_sleeps == 0 {
                thread::sleep(Duration::from_millis(1));
            }
        });
        let before = d.stats().grace_period_sleeps;
        let start = std::time::Instant::now();
        let mut sections = 0u64;
        while start.elapsed() < Duration::from_millis(300) {
            for _ in 0..1000 {
                drop(d.read_lock());
            }
            sections += 1000;
        }
        let sleeps = d.stats().grace_period_sleeps - before;
        let ms = start.elapsed().as_millis() as u64;
        release_tx.send(()).unwrap();
        within(LIMIT, "synchronize_rcu after the long section", move || {
            waiter.join().unwrap();
            parked.join().unwrap();
        });
        // Timeouts only, with room for a slow machine's late wake-ups: far
        // below one sleep per exit (the bug this guards against made one
        // sleep per few tens of microseconds). The timeout is the flavor's
        // the domain runs, which is Mb for a Memb request where membarrier
        // is unavailable (or `URCU_FORCE_NO_MEMBARRIER` is set, as under
        // ThreadSanitizer).
        let timeout_ms = if d.flavor() == Flavor::Mb { 1 } else { 10 };
        let bound = 2 * ms / timeout_ms + 20;
        assert!(
            sleeps <= bound,
            "{flavor:?} (running as {:?}): the grace period slept {sleeps} times in {ms} ms while another thread \
             ran {sections} sections: readers it does not wait for are waking it",
            d.flavor()
        );
    }
}

// ---------------------------------------------------------------------------
// QSBR
// ---------------------------------------------------------------------------

/// An online QSBR thread holds up grace periods until it reports a
/// quiescent state; an offline one does not at all.
#[test]
fn qsbr_grace_periods_wait_for_quiescent_states_only_of_online_threads() {
    let d = Domain::builder().flavor(Flavor::Qsbr).build();
    let (cmd_tx, cmd_rx) = mpsc::channel::<&'static str>();
    let (ack_tx, ack_rx) = mpsc::channel::<()>();
    let reader = {
        let d = d.clone();
        thread::spawn(move || {
            let mut h = d.register_thread();
            ack_tx.send(()).unwrap();
            for cmd in cmd_rx {
                match cmd {
                    "quiescent" => h.quiescent_state(),
                    "offline" => h.offline(),
                    "online" => h.online(),
                    _ => break,
                }
                ack_tx.send(()).unwrap();
            }
        })
    };
    ack_rx.recv().unwrap();
    let spawn_sync = |d: &Domain| {
        let d = d.clone();
        let done = Arc::new(AtomicBool::new(false));
        let dn = done.clone();
        let h = thread::spawn(move || {
            d.synchronize_rcu();
            dn.store(true, Ordering::SeqCst);
        });
        (done, h)
    };

    // The first quiescent state may come before the grace period has
    // begun (a slow machine): report until it ends.
    let quiesce_until_done = |done: &AtomicBool| {
        common::wait_until(Duration::from_secs(10), || {
            cmd_tx.send("quiescent").unwrap();
            ack_rx.recv().unwrap();
            done.load(Ordering::SeqCst)
        })
    };

    // Online, no quiescent state: the grace period waits.
    let (done, h) = spawn_sync(&d);
    thread::sleep(Duration::from_millis(60));
    assert!(!done.load(Ordering::SeqCst), "waited for the online thread");
    assert!(quiesce_until_done(&done), "ends after a quiescent state");
    h.join().unwrap();

    // Offline: grace periods do not wait at all.
    cmd_tx.send("offline").unwrap();
    ack_rx.recv().unwrap();
    let (done, h) = spawn_sync(&d);
    assert!(common::wait_until(Duration::from_secs(5), || done.load(Ordering::SeqCst)));
    h.join().unwrap();

    // Back online: waits again.
    cmd_tx.send("online").unwrap();
    ack_rx.recv().unwrap();
    let (done, h) = spawn_sync(&d);
    thread::sleep(Duration::from_millis(60));
    assert!(
        !done.load(Ordering::SeqCst),
        "waited for the thread that came back online"
    );
    assert!(quiesce_until_done(&done), "ends after a quiescent state");
    h.join().unwrap();
    drop(cmd_tx);
    reader.join().unwrap();
}

/// Without a handle, a QSBR thread is online only while a guard lives.
#[test]
fn qsbr_domain_guard_brings_the_thread_online_for_its_lifetime_only() {
    let d = Domain::builder().flavor(Flavor::Qsbr).build();
    let (step_tx, step_rx) = mpsc::channel();
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let reader = {
        let d = d.clone();
        thread::spawn(move || {
            let g = d.read_lock();
            step_tx.send(()).unwrap();
            go_rx.recv().unwrap();
            drop(g);
            step_tx.send(()).unwrap();
            go_rx.recv().unwrap();
        })
    };
    step_rx.recv().unwrap();
    let t = d.start_poll();
    let d2 = d.clone();
    let syncer = thread::spawn(move || d2.synchronize_rcu());
    thread::sleep(Duration::from_millis(50));
    assert!(!d.poll(&t), "the guard holds the grace period");
    go_tx.send(()).unwrap();
    step_rx.recv().unwrap();
    within(LIMIT, "sync after the guard", move || {
        syncer.join().unwrap()
    });
    assert!(d.poll(&t));
    // The thread is alive, without a guard: it does not hold anything up.
    within(LIMIT, "sync with an idle thread", {
        let d = d.clone();
        move || d.synchronize_rcu()
    });
    go_tx.send(()).unwrap();
    reader.join().unwrap();
}

// ---------------------------------------------------------------------------
// RcuBox and nesting, per flavor
// ---------------------------------------------------------------------------

#[test]
fn an_outer_guard_protects_after_inner_guards_drop() {
    for flavor in FLAVORS {
        let d = Domain::builder().flavor(flavor).build();
        let drops = DropCount::new();
        let b = Arc::new(RcuBox::new_in(drops.obj(), &d));
        let h = d.register_thread();
        let outer = h.read_lock();
        let v: *const common::Counted = b.load(&outer);
        {
            let inner = d.read_lock();
            let inner2 = h.read_lock();
            drop(inner);
            drop(inner2);
        }
        // Replace and ask for a grace period from another thread.
        let done = Arc::new(AtomicBool::new(false));
        let w = {
            let (b, d, done) = (b.clone(), d.clone(), done.clone());
            thread::spawn(move || {
                b.replace(common::DropCount::new().obj());
                d.synchronize_rcu();
                done.store(true, Ordering::SeqCst);
            })
        };
        thread::sleep(Duration::from_millis(50));
        assert!(
            !done.load(Ordering::SeqCst),
            "{flavor:?}: outer guard still open"
        );
        assert_eq!(
            drops.get(),
            0,
            "{flavor:?}: the value the outer guard loaded is alive"
        );
        assert!(std::ptr::eq(v, b.load(&outer)) || drops.get() == 0);
        drop(outer);
        drop(h);
        within(LIMIT, "writer", move || w.join().unwrap());
        d.rcu_barrier();
        assert_eq!(drops.get(), 1, "{flavor:?}");
    }
}

#[test]
fn rcubox_swap_and_compare_exchange_queue_the_old_value_once() {
    for flavor in FLAVORS {
        let d = Domain::builder().flavor(flavor).build();
        let drops = DropCount::new();
        let b = RcuBox::new_in((0u32, drops.obj()), &d);
        let n = scaled(200);
        let mut h = d.register_thread();
        for i in 1..=n as u32 {
            {
                let g = h.read_lock();
                let cur = b.load(&g);
                assert_eq!(cur.0, i - 1);
                if i % 2 == 0 {
                    let old = b.swap((i, drops.obj()), &g);
                    assert_eq!(old.0, i - 1, "{flavor:?}: swap returns the old value");
                } else {
                    let old = b.compare_exchange(cur, (i, drops.obj()), &g).map(|o| o.0);
                    assert!(matches!(old, Ok(v) if v == i - 1), "{flavor:?}");
                    // `cur` is stale now.
                    let (back, actual) = b.compare_exchange(cur, (0, drops.obj()), &g).unwrap_err();
                    assert_eq!(actual.0, i);
                    drop(back);
                }
                // Still readable inside the section.
                assert_eq!(cur.0, i - 1);
            }
            h.quiescent_state();
        }
        drop(h);
        d.rcu_barrier();
        // n replaced values, plus n/2 rejected ones dropped at once.
        assert_eq!(drops.get(), n + n / 2, "{flavor:?}");
        drop(b);
        assert_eq!(
            drops.get(),
            n + n / 2 + 1,
            "{flavor:?}: the last value drops with the box"
        );
    }
}

/// A QSBR thread online through its handle, outside any section, may wait
/// for grace periods (it is quiescent while it waits), and is online again
/// afterwards.
#[test]
fn a_qsbr_thread_online_through_its_handle_may_wait() {
    within(LIMIT, "QSBR handle waiting", || {
        let d = Domain::builder()
            .flavor(Flavor::Qsbr)
            .queue_capacity(8)
            .build();
        let drops = DropCount::new();
        let mut h = d.register_thread();
        d.synchronize_rcu();
        // An 8-word ring: the caller falls back to waiting, handle online.
        for _ in 0..100 {
            d.rcu_reclaim_queue(Box::new(drops.obj()));
        }
        assert!(d.stats().caller_fallbacks >= 1, "{:?}", d.stats());
        d.rcu_barrier();
        assert_eq!(drops.get(), 100);
        assert!(h.is_online());
        // Online for real: another thread's grace period waits for us.
        let done = Arc::new(AtomicBool::new(false));
        let other = {
            let (d, done) = (d.clone(), done.clone());
            thread::spawn(move || {
                d.synchronize_rcu();
                done.store(true, Ordering::SeqCst);
            })
        };
        thread::sleep(Duration::from_millis(50));
        assert!(
            !done.load(Ordering::SeqCst),
            "the grace period must wait for the online handle"
        );
        // Report quiescent states until it ends (the first may come before
        // the grace period has begun, on a slow machine).
        let ended = common::wait_until(Duration::from_secs(10), || {
            h.quiescent_state();
            done.load(Ordering::SeqCst)
        });
        assert!(ended, "the grace period ends after a quiescent state");
        other.join().unwrap();
    });
}

/// A guard's `quiescent_state` reports only while it is the thread's only
/// guard, and reports once it becomes so (an outer guard dropped first),
/// however its earlier calls went: a grace period waits exactly as long as
/// some guard of the thread may still hold a reference.
#[test]
fn a_guard_reports_quiescent_states_once_it_is_the_only_one() {
    // Before any grace period there is nothing to report: the first call
    // must not confuse the later ones.
    only_the_only_guard_lets_a_grace_period_end("quiescent_state", |g| g.quiescent_state(), true);
}

/// A guard's `repin` ends the section only when the guard is the thread's
/// only one: while an outer guard lives, a grace period still waits; once
/// the outer guard drops, the next `repin` lets it end (for QSBR through
/// the quiescent state it reports).
#[test]
fn repin_ends_the_section_of_the_only_guard() {
    only_the_only_guard_lets_a_grace_period_end("repin", |g| g.repin(), false);
}

/// For every flavor: a guard nested in an outer one calls `step` while a
/// grace period waits, which must keep waiting; once the outer guard
/// drops, the inner guard's next `step` must let it end.
fn only_the_only_guard_lets_a_grace_period_end(
    what: &str,
    step: fn(&mut urcu::ReadGuard<'_>),
    step_first: bool,
) {
    for flavor in FLAVORS {
        let d = Domain::builder().flavor(flavor).build();
        // QSBR: the handle's guard keeps the thread online throughout.
        let h = d.register_thread();
        let outer = d.read_lock();
        let mut inner = h.read_lock();
        if step_first {
            step(&mut inner);
        }
        let done = Arc::new(AtomicBool::new(false));
        let w = {
            let (d, done) = (d.clone(), done.clone());
            thread::spawn(move || {
                d.synchronize_rcu();
                done.store(true, Ordering::SeqCst);
            })
        };
        // Nested: ends nothing, however often, while `outer` lives.
        for _ in 0..50 {
            step(&mut inner);
            thread::sleep(Duration::from_millis(1));
        }
        assert!(
            !done.load(Ordering::SeqCst),
            "{flavor:?}, {what}: the outer guard's section is still open"
        );
        drop(outer);
        // Now `inner` is the only guard: its next step ends the wait.
        // (The guard cannot leave this thread, so the limit is a deadline
        // here rather than `within`.)
        let deadline = std::time::Instant::now() + LIMIT;
        while !done.load(Ordering::SeqCst) {
            assert!(
                std::time::Instant::now() < deadline,
                "{flavor:?}: the only guard's {what} did not end the grace period"
            );
            step(&mut inner);
            thread::yield_now();
        }
        drop(inner);
        w.join().unwrap();
    }
}
