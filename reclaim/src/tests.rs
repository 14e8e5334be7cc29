//! In-crate tests of whole domains: small enough for Miri, which checks the
//! unsafe paths (ring words, record lifetimes, `RcuBox`) for undefined
//! behaviour and leaks. Explicit domains only: their reclaimer thread is
//! joined on drop, so Miri's leak check stays on.

use crate::{Domain, Flavor, RcuBox};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Iterations, smaller under Miri.
const N: usize = if cfg!(miri) { 20 } else { 2000 };

struct Counted(Arc<AtomicUsize>);
impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

fn all_flavors() -> [Flavor; 3] {
    [Flavor::Memb, Flavor::Mb, Flavor::Qsbr]
}

#[test]
fn every_queued_object_is_dropped_once_across_threads_and_domain_drop() {
    for flavor in all_flavors() {
        let drops = Arc::new(AtomicUsize::new(0));
        let d = Domain::builder().flavor(flavor).queue_capacity(8).build();
        std::thread::scope(|s| {
            for _ in 0..2 {
                let (d, drops) = (&d, &drops);
                s.spawn(move || {
                    for _ in 0..N {
                        d.rcu_reclaim_queue(Box::new(Counted(drops.clone())));
                    }
                });
            }
        });
        d.rcu_barrier();
        assert_eq!(drops.load(Ordering::Relaxed), 2 * N, "{flavor:?}");
        for _ in 0..N {
            d.rcu_reclaim_queue(Box::new(Counted(drops.clone())));
        }
        drop(d);
        assert_eq!(
            drops.load(Ordering::Relaxed),
            3 * N,
            "{flavor:?}: domain drop reclaims the rest"
        );
    }
}

#[test]
fn rcu_box_readers_see_live_values_while_a_writer_replaces() {
    for flavor in all_flavors() {
        let d = Domain::builder().flavor(flavor).queue_capacity(8).build();
        let b = RcuBox::new_in(vec![0usize; 4], &d);
        std::thread::scope(|s| {
            s.spawn(|| {
                for i in 1..=N {
                    b.replace(vec![i; 4]);
                }
            });
            s.spawn(|| {
                let mut h = d.register_thread();
                for _ in 0..N {
                    let g = h.read_lock();
                    let v = b.load(&g);
                    assert!(v.iter().all(|x| *x == v[0]), "torn or freed value");
                    drop(g);
                    h.quiescent_state();
                }
            });
        });
        let g = d.read_lock();
        assert_eq!(b.load(&g)[0], N);
    }
}

#[test]
fn full_queue_inside_a_section_spills_and_is_reclaimed() {
    let drops = Arc::new(AtomicUsize::new(0));
    let d = Domain::builder()
        .flavor(Flavor::Mb)
        .queue_capacity(4)
        .build();
    {
        let _g = d.read_lock();
        for _ in 0..5 {
            d.rcu_reclaim_queue(Box::new(Counted(drops.clone())));
        }
        assert!(d.stats().overflow_spills > 0);
        assert_eq!(
            drops.load(Ordering::Relaxed),
            0,
            "nothing is freed inside the section"
        );
    }
    // The section's end closed the spilled batch with a ticket (it never
    // waits); the batch is freed once a grace period has elapsed.
    d.rcu_barrier();
    assert_eq!(drops.load(Ordering::Relaxed), 5);
    let s = d.stats();
    assert_eq!((s.queued, s.reclaimed), (5, 5));
}

#[test]
fn defer_and_swap_and_compare_exchange() {
    let d = Domain::builder().flavor(Flavor::Mb).build();
    let runs = Arc::new(AtomicUsize::new(0));
    let r = runs.clone();
    d.defer(move || {
        r.fetch_add(1, Ordering::Relaxed);
    });
    let b = RcuBox::new_in(String::from("a"), &d);
    {
        let g = d.read_lock();
        let old = b.swap(String::from("b"), &g);
        assert_eq!(old, "a");
        let cur = b.load(&g);
        assert_eq!(
            b.compare_exchange(cur, String::from("c"), &g)
                .map(|s| s.as_str()),
            Ok("b")
        );
        let (back, actual) = b.compare_exchange(cur, String::from("d"), &g).unwrap_err();
        assert_eq!((back.as_str(), actual.as_str()), ("d", "c"));
    }
    d.rcu_barrier();
    assert_eq!(runs.load(Ordering::Relaxed), 1);
    assert_eq!(b.into_inner(), "c");
}

/// A guard kept in a thread-local that is destroyed after the thread's
/// registrations: its section outlives the record's registration, and the
/// reclaimer may free the record as soon as the section ends. The section
/// also spilled (a full ring inside it), so its end has work to do on the
/// record: all of it must happen before the reader word goes quiescent
/// (under Miri, the old order raced with the record's drop).
#[test]
fn a_guard_in_a_thread_local_outliving_the_registration() {
    use crate::ReadGuard;
    use std::cell::RefCell;
    std::thread_local! {
        static HELD: RefCell<Option<ReadGuard<'static>>> = const { RefCell::new(None) };
    }
    for flavor in all_flavors() {
        let drops = Arc::new(AtomicUsize::new(0));
        let domain = Domain::builder().flavor(flavor).queue_capacity(4).build();
        // `ReadGuard<'static>` needs a `'static` domain; it is freed below,
        // once the thread (and so its guard) is gone.
        let raw = Box::into_raw(Box::new(domain));
        // SAFETY: from `Box::into_raw`; freed below, after its last user.
        let d: &'static Domain = unsafe { &*raw };
        let dr = drops.clone();
        std::thread::spawn(move || {
            // HELD's destructor is registered first, so it runs after the
            // registrations' (thread-locals are destroyed in reverse order).
            HELD.with(|held| {
                let g = d.read_lock();
                for _ in 0..6 {
                    d.rcu_reclaim_queue(Box::new(Counted(dr.clone())));
                }
                *held.borrow_mut() = Some(g);
            });
        })
        .join()
        .unwrap();
        d.rcu_barrier();
        assert_eq!(drops.load(Ordering::Relaxed), 6, "{flavor:?}");
        // SAFETY: from `Box::into_raw` above; the only other borrower (the
        // thread's guard) is gone with its thread.
        drop(unsafe { Box::from_raw(raw) });
    }
}

/// A stall hook that panics is caught: the waiter returns normally, and the
/// grace-period sequence is left idle (even), not mid-grace-period (the old
/// defect: odd from then on, so tickets completed as grace periods began).
/// Readers and writers then go on without a freed value being read.
#[test]
fn a_panicking_stall_hook_leaves_the_sequence_idle() {
    for flavor in all_flavors() {
        let d = Domain::builder()
            .flavor(flavor)
            .stall_timeout(std::time::Duration::ZERO)
            .on_stall(|_| panic!("test: a panicking stall hook"))
            .build();
        let (entered_tx, entered_rx) = std::sync::mpsc::channel();
        let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
        std::thread::scope(|s| {
            let d = &d;
            s.spawn(move || {
                let g = d.read_lock();
                entered_tx.send(()).unwrap();
                release_rx.recv().unwrap();
                drop(g);
            });
            entered_rx.recv().unwrap();
            let waiter = s.spawn(move || d.synchronize_rcu());
            while d.stats().stall_hook_panics == 0 {
                std::thread::yield_now();
            }
            release_tx.send(()).unwrap();
            assert!(
                waiter.join().is_ok(),
                "{flavor:?}: the hook's panic unwound"
            );
        });
        let done = d.completed_sequence();
        assert_eq!(done % 2, 0, "{flavor:?}: idle, the sequence is even");
        assert!(d.start_poll().sequence() > done, "{flavor:?}");
        let b = RcuBox::new_in(vec![1usize; 4], &d);
        std::thread::scope(|s| {
            s.spawn(|| {
                for i in 0..N {
                    b.replace(vec![i; 4]);
                }
            });
            for _ in 0..N {
                let g = d.read_lock();
                let v = b.load(&g);
                assert!(v.iter().all(|x| *x == v[0]), "{flavor:?}: torn or freed");
            }
        });
        // At least the first stall's: with a zero stall timeout, a grace
        // period of the replace loop above that meets a reader mid-section
        // may report a stall of its own, and its hook panics too.
        assert!(d.stats().stall_hook_panics >= 1, "{flavor:?}");
    }
}

/// An owned guard protects what it loads on whichever thread it moves to:
/// a writer replaces (and so retires) values all along, and a reader that
/// loaded a value through the owned guard on one thread reads it on another,
/// after the hand-over, before dropping the guard there.
#[test]
fn an_owned_guard_protects_its_loads_across_threads() {
    for flavor in all_flavors() {
        let d = Domain::builder().flavor(flavor).queue_capacity(8).build();
        let b = RcuBox::new_in(vec![0usize; 4], &d);
        std::thread::scope(|s| {
            s.spawn(|| {
                for i in 1..=N {
                    b.replace(vec![i; 4]);
                }
            });
            for _ in 0..(N / 4).max(4) {
                let g = d.read_lock_owned();
                // The borrow checker ties `v` to `g`, which moves: carry the
                // address across instead, as `pin_owned` handles do.
                let v = b.load(&g) as *const Vec<usize> as usize;
                s.spawn(move || {
                    // SAFETY: `g` moved here and is still alive: its section
                    // began before the load, so the value is not freed yet.
                    let v = unsafe { &*(v as *const Vec<usize>) };
                    assert!(v.iter().all(|x| *x == v[0]), "{flavor:?}: torn or freed");
                    drop(g);
                })
                .join()
                .unwrap();
            }
        });
        d.rcu_barrier();
        assert_eq!(
            d.stats().threads,
            0,
            "{flavor:?}: owned guards left the registry"
        );
    }
}

/// The owner-only section state (depth and mode flags in one word) against
/// the reader word the detector reads, through every change of mode: nested
/// guards, a handle, offline and online, a guard outliving its handle, a
/// backlog. Grace periods must wait exactly while the word says so.
#[test]
fn the_section_state_keeps_the_reader_word_right_through_mode_changes() {
    for flavor in all_flavors() {
        let d = Domain::builder().flavor(flavor).build();
        let qsbr = flavor == Flavor::Qsbr;
        let word = || d.record().reader_word();
        let depth = || d.record().nesting();
        assert_eq!((word(), depth()), (0, 0), "{flavor:?}: idle");

        let g1 = d.read_lock();
        let g2 = d.read_lock();
        assert_eq!(depth(), 2, "{flavor:?}");
        assert_ne!(word(), 0, "{flavor:?}: inside a section");
        drop(g2);
        assert_eq!(depth(), 1, "{flavor:?}");
        assert_ne!(word(), 0, "{flavor:?}: the outer guard still reads");
        drop(g1);
        assert_eq!((word(), depth()), (0, 0), "{flavor:?}: left");

        let mut h = d.register_thread();
        // QSBR: online through the handle; the others announce sections.
        assert_eq!(word() != 0, qsbr, "{flavor:?}: registered");
        {
            let g = h.read_lock();
            let inner = d.read_lock();
            assert_eq!(depth(), 2, "{flavor:?}");
            assert_ne!(word(), 0, "{flavor:?}");
            drop(inner);
            drop(g);
        }
        assert_eq!(depth(), 0, "{flavor:?}");
        assert_eq!(word() != 0, qsbr, "{flavor:?}: the handle's sections ended");
        h.offline();
        assert_eq!(word(), 0, "{flavor:?}: offline");
        // A domain guard while the handle is offline brings the thread
        // online for the guard's lifetime only.
        drop(d.read_lock());
        assert_eq!(word(), 0, "{flavor:?}: offline again after a guard");
        h.online();
        assert_eq!(word() != 0, qsbr, "{flavor:?}: online");
        drop(h.read_lock());
        assert_eq!(
            word() != 0,
            qsbr,
            "{flavor:?}: still online after a section"
        );

        // A guard that outlives the handle keeps the section open.
        let g = d.read_lock();
        drop(h);
        assert_ne!(word(), 0, "{flavor:?}: a guard outlives its handle");
        assert_eq!(depth(), 1, "{flavor:?}");
        drop(g);
        assert_eq!(
            (word(), depth()),
            (0, 0),
            "{flavor:?}: handle and guard gone"
        );

        // A pending backlog is relieved by the next outermost lock, and
        // the section then works as any other.
        d.record().set_backlog(true);
        let g = d.read_lock();
        assert!(!d.record().has_backlog(), "{flavor:?}: relieved on entry");
        assert_ne!(word(), 0, "{flavor:?}");
        drop(g);
        assert_eq!((word(), depth()), (0, 0), "{flavor:?}: after the backlog");
        // Grace periods do not wait for this idle thread.
        d.synchronize_rcu();
    }
}
