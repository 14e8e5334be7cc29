//! Owned read guards (`Domain::read_lock_owned`): a section that moves
//! between threads, holds grace periods up exactly like a thread's guard,
//! is named in stall reports, and never makes a writer wait for itself.

mod common;

use common::{within, DropCount};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::Duration;
use urcu::{Domain, Flavor, OwnedReadGuard, StallReport};

const FLAVORS: [Flavor; 3] = [Flavor::Memb, Flavor::Mb, Flavor::Qsbr];
const LIMIT: Duration = Duration::from_secs(20);

fn assert_send_sync<T: Send + Sync>() {}

#[test]
fn an_owned_guard_is_send_and_sync() {
    assert_send_sync::<OwnedReadGuard>();
}

/// A ticket taken while an owned guard lives does not elapse, whichever
/// thread holds the guard, until the guard is dropped (on another thread).
#[test]
fn grace_periods_wait_for_an_owned_guard_wherever_it_moves() {
    for flavor in FLAVORS {
        let d = Domain::builder().flavor(flavor).build();
        let drops = DropCount::new();
        let g = d.read_lock_owned();
        d.rcu_reclaim_queue(Box::new(drops.obj()));
        let ticket = d.start_poll();
        let (to_holder, holder_rx) = mpsc::channel::<OwnedReadGuard>();
        let (release, release_rx) = mpsc::channel::<()>();
        let holder = thread::spawn(move || {
            let g = holder_rx.recv().unwrap();
            release_rx.recv().unwrap();
            drop(g);
        });
        to_holder.send(g).unwrap();
        // A grace period runs (on the reclaimer, and here) but cannot end.
        d.request_grace_period();
        thread::sleep(Duration::from_millis(50));
        assert!(!d.poll(&ticket), "{flavor:?}: the owned section holds it");
        assert_eq!(drops.get(), 0, "{flavor:?}: nothing freed under it");
        release.send(()).unwrap();
        holder.join().unwrap();
        let d2 = d.clone();
        within(LIMIT, "the grace period after the drop", move || {
            d2.cond_synchronize(&ticket)
        });
        d.rcu_barrier();
        assert_eq!(drops.get(), 1, "{flavor:?}");
        assert_eq!(
            d.stats().threads,
            1,
            "{flavor:?}: only this thread stays registered"
        );
    }
}

/// A stalled owned guard is reported by name.
#[test]
fn a_stall_report_names_an_owned_guard() {
    let reports = Arc::new(Mutex::new(Vec::<StallReport>::new()));
    let r = reports.clone();
    let d = Domain::builder()
        .stall_timeout(Duration::from_millis(20))
        .on_stall(move |rep| r.lock().unwrap().push(rep.clone()))
        .build();
    let g = thread::Builder::new()
        .name("owner-thread".into())
        .spawn({
            let d = d.clone();
            move || d.read_lock_owned()
        })
        .unwrap()
        .join()
        .unwrap();
    let d2 = d.clone();
    let waiter = thread::spawn(move || d2.synchronize_rcu());
    assert!(common::wait_until(LIMIT, || !reports
        .lock()
        .unwrap()
        .is_empty()));
    drop(g);
    waiter.join().unwrap();
    let rep = reports.lock().unwrap()[0].clone();
    assert!(
        rep.threads
            .iter()
            .any(|t| t.contains("owned read guard created on owner-thread")),
        "{rep:?}"
    );
}

/// A thread that holds an owned guard and fills its queue (outside any
/// section of its own) cannot wait for a grace period, which would wait for
/// its guard: it spills instead, and everything is freed after the drop.
/// The same for a thread whose previous section spilled (the backpressure
/// at the next section's entry).
#[test]
fn a_full_queue_never_waits_for_an_owned_guard() {
    for flavor in FLAVORS {
        let d = Domain::builder().flavor(flavor).queue_capacity(16).build();
        let drops = DropCount::new();
        let (d2, drops2) = (d.clone(), drops.clone());
        within(LIMIT, "queueing while holding an owned guard", move || {
            let g = d2.read_lock_owned();
            for _ in 0..200 {
                d2.rcu_reclaim_queue(Box::new(drops2.obj()));
            }
            for _ in 0..20 {
                let section = d2.read_lock();
                for _ in 0..20 {
                    d2.rcu_reclaim_queue(Box::new(drops2.obj()));
                }
                drop(section);
            }
            assert_eq!(drops2.get(), 0, "nothing freed while the guard lives");
            drop(g);
        });
        d.rcu_barrier();
        assert_eq!(drops.get(), 600, "{flavor:?}: {:?}", d.stats());
        assert_eq!(d.stats().pending(), 0, "{flavor:?}");
    }
}

#[test]
fn a_map_pinned_owned_is_send_and_sync() {
    assert_send_sync::<urcu::PinnedOwned<'static, u64, String>>();
    assert_send_sync::<urcu::PinnedOwned<'static, u64, u64, ahash::RandomState, urcu::Inline>>();
}

/// Values read through a `pin_owned` handle stay valid after the handle
/// moved to another thread, while a writer replaces and removes them: the
/// replaced values are dropped only after the handle is.
#[test]
fn values_read_through_pin_owned_outlive_writers_on_other_threads() {
    for flavor in FLAVORS {
        let d = Domain::builder().flavor(flavor).queue_capacity(64).build();
        let map: urcu::RcuHashMap<u64, Vec<u64>> = urcu::RcuHashMap::builder().domain(&d).build();
        for k in 0..16 {
            map.pin().insert(k, vec![k; 8]);
        }
        let rounds = common::scaled(200);
        let stop = std::sync::atomic::AtomicBool::new(false);
        thread::scope(|s| {
            s.spawn(|| {
                let mut i = 0u64;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let k = i % 16;
                    map.pin().insert(k, vec![k; 8]);
                    if i % 3 == 0 {
                        map.pin().remove(&k);
                    }
                    i += 1;
                }
            });
            for r in 0..rounds {
                let m = map.pin_owned();
                let held: Vec<&Vec<u64>> = (0..16).filter_map(|k| m.get(&k)).collect();
                let addrs: Vec<usize> = held
                    .iter()
                    .map(|v| *v as *const Vec<u64> as usize)
                    .collect();
                drop(held);
                s.spawn(move || {
                    // The handle moved here: its section still protects what
                    // was read before the move.
                    for a in addrs {
                        // SAFETY: read through `m`'s section, which is alive.
                        let v = unsafe { &*(a as *const Vec<u64>) };
                        assert!(
                            v.len() == 8 && v.iter().all(|x| *x == v[0]),
                            "{flavor:?} round {r}"
                        );
                    }
                    assert!(m.len() <= 16);
                    drop(m);
                })
                .join()
                .unwrap();
            }
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
        });
        d.rcu_barrier();
        assert_eq!(d.stats().pending(), 0, "{flavor:?}");
    }
}
