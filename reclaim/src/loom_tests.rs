//! Loom models of the protocols (`RUSTFLAGS="--cfg loom" cargo test -p
//! urcu-reclaim --release loom`). Loom cannot model `membarrier`; under
//! `cfg(loom)` the writer's heavy barrier and the memb reader's compiler
//! fence are both SeqCst fences, which is what the syscall guarantees.

use crate::domain::Domain;
use crate::flavor::Flavor;
use crate::queue::{DrainState, ProducerState, Retired, Ring};
use crate::sync::{AtomicBool, AtomicUsize, Mutex, Ordering};
use loom::thread;
use std::sync::Arc;

fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut b = loom::model::Builder::new();
    if b.preemption_bound.is_none() {
        b.preemption_bound = Some(3);
    }
    b.check(f);
}

/// The owner pushes into a 4-word ring (one entry at a time fits) while a
/// drainer empties it: every entry is handed out exactly once, and a slot
/// is never overwritten before it has been read.
#[test]
fn ring_handover_between_owner_and_drainer() {
    model(|| {
        let ring = Arc::new(Ring::new(4));
        let drain = Arc::new(Mutex::new(DrainState::default()));
        let hits: Arc<[AtomicUsize; 3]> = Arc::new([
            AtomicUsize::new(0),
            AtomicUsize::new(0),
            AtomicUsize::new(0),
        ]);
        let owner = {
            let (ring, hits) = (ring.clone(), hits.clone());
            thread::spawn(move || {
                let mut st = ProducerState::default();
                for i in 0..3 {
                    let h = hits.clone();
                    let r = Retired::of_closure(Box::new(move || {
                        h[i].fetch_add(1, Ordering::Relaxed);
                    }));
                    while !ring.try_push(&mut st, r) {
                        thread::yield_now();
                    }
                }
            })
        };
        let drain_all = |ring: &Ring, drain: &Mutex<DrainState>| {
            let mut st = drain.lock().unwrap();
            let upto = ring.snapshot_head();
            // SAFETY: no readers in this model; each entry runs once.
            ring.drain_to(&mut st, upto, |r| unsafe { r.reclaim() });
        };
        let drainer = {
            let (ring, drain, hits) = (ring.clone(), drain.clone(), hits.clone());
            thread::spawn(move || {
                while hits
                    .iter()
                    .map(|h| h.load(Ordering::Relaxed))
                    .sum::<usize>()
                    < 2
                {
                    drain_all(&ring, &drain);
                    thread::yield_now();
                }
            })
        };
        owner.join().unwrap();
        drainer.join().unwrap();
        drain_all(&ring, &drain);
        for h in hits.iter() {
            assert_eq!(h.load(Ordering::Relaxed), 1);
        }
    });
}

/// A reader that sees the old version of an object must never see it
/// freed: the grace period waits for its section.
fn reader_vs_grace_period(flavor: Flavor) {
    reader_vs_grace_period_with(flavor, Midway::Nothing);
}

/// What the reader of `reader_vs_grace_period_with` does inside its
/// section before it reads.
#[derive(Clone, Copy)]
enum Midway {
    Nothing,
    /// Reports a quiescent state (what a cached reader's `load` does).
    QuiescentState,
    /// Ends the section and begins another (a guard's `repin`).
    Repin,
}

/// The model above, with the reader doing `midway` first.
fn reader_vs_grace_period_with(flavor: Flavor, midway: Midway) {
    model(move || {
        let d = Domain::builder().flavor(flavor).build();
        assert_eq!(d.flavor(), flavor);
        let rec = d.core().register(false);
        let version = Arc::new(AtomicUsize::new(1));
        let freed_v1 = Arc::new(AtomicBool::new(false));
        let reader = {
            let (version, freed_v1) = (version.clone(), freed_v1.clone());
            thread::spawn(move || {
                let hot = rec.read_lock();
                match midway {
                    Midway::Nothing => {}
                    Midway::QuiescentState => rec.guard_quiescent_state(),
                    Midway::Repin => {
                        rec.repin(hot);
                    }
                }
                if version.load(Ordering::Acquire) == 1 {
                    // Relaxed on purpose: only the protocol may order this.
                    assert!(
                        !freed_v1.load(Ordering::Relaxed),
                        "reader saw a freed object"
                    );
                }
                rec.read_unlock(rec.hot());
            })
        };
        version.store(2, Ordering::Release);
        let core = d.core();
        assert!(core.wait_as(None, core.start_poll(), "model", None));
        freed_v1.store(true, Ordering::Relaxed);
        reader.join().unwrap();
    });
}

#[test]
fn memb_reader_vs_grace_period() {
    reader_vs_grace_period(Flavor::Memb);
}

#[test]
fn mb_reader_vs_grace_period() {
    reader_vs_grace_period(Flavor::Mb);
}

#[test]
fn qsbr_reader_vs_grace_period() {
    reader_vs_grace_period(Flavor::Qsbr);
}

/// The owner queues into a full 4-word ring (so it falls back to waiting
/// and draining its own ring) while the reclaimer runs a pass: each entry
/// is reclaimed exactly once.
#[test]
fn full_queue_fallback_races_reclaimer() {
    model(|| {
        let d = Domain::builder()
            .flavor(Flavor::Mb)
            .queue_capacity(4)
            .build();
        let rec = d.core().register(false);
        let hits: Arc<[AtomicUsize; 2]> = Arc::new([AtomicUsize::new(0), AtomicUsize::new(0)]);
        let owner = {
            let (d, hits) = (d.clone(), hits.clone());
            thread::spawn(move || {
                for i in 0..2 {
                    let h = hits.clone();
                    d.core().enqueue(
                        &rec,
                        Retired::of_closure(Box::new(move || {
                            h[i].fetch_add(1, Ordering::Relaxed);
                        })),
                    );
                }
            })
        };
        let reclaimer = {
            let d = d.clone();
            thread::spawn(move || d.core().pass(false))
        };
        owner.join().unwrap();
        reclaimer.join().unwrap();
        d.core().pass(true);
        for h in hits.iter() {
            assert_eq!(h.load(Ordering::Relaxed), 1);
        }
    });
}

/// A queued object is not reclaimed while a reader that may see it is in
/// its section, whoever drains it (owner fallback or reclaimer pass).
#[test]
fn queued_object_outlives_reader() {
    model(|| {
        let d = Domain::builder()
            .flavor(Flavor::Mb)
            .queue_capacity(4)
            .build();
        let writer_rec = d.core().register(false);
        let reader_rec = d.core().register(false);
        let version = Arc::new(AtomicUsize::new(1));
        let freed_v1 = Arc::new(AtomicBool::new(false));
        let reader = {
            let (version, freed_v1) = (version.clone(), freed_v1.clone());
            thread::spawn(move || {
                reader_rec.read_lock();
                if version.load(Ordering::Acquire) == 1 {
                    assert!(
                        !freed_v1.load(Ordering::Relaxed),
                        "reader saw a freed object"
                    );
                }
                reader_rec.read_unlock(reader_rec.hot());
            })
        };
        // A flushing pass drains to its snapshot at once (a barrier's pass).
        let reclaimer = {
            let d = d.clone();
            thread::spawn(move || d.core().pass(true))
        };
        version.store(2, Ordering::Release);
        let f = freed_v1.clone();
        d.core().enqueue(
            &writer_rec,
            Retired::of_closure(Box::new(move || f.store(true, Ordering::Relaxed))),
        );
        // The ring holds one entry: this one takes the full-queue fallback.
        d.core()
            .enqueue(&writer_rec, Retired::of_box(Box::new(0u64)));
        reader.join().unwrap();
        reclaimer.join().unwrap();
        d.core().pass(true);
        assert!(
            freed_v1.load(Ordering::Relaxed),
            "barrier pass reclaimed everything"
        );
    });
}

/// A reader that reports a quiescent state inside its section (a cached
/// reader's `load`) is still protected for what it reads afterwards.
#[test]
fn reads_after_an_in_section_quiescent_state_stay_protected() {
    for flavor in [Flavor::Memb, Flavor::Qsbr] {
        reader_vs_grace_period_with(flavor, Midway::QuiescentState);
    }
}

/// A reader that repins (ends its section and begins another) is
/// protected for what it reads in the new section.
#[test]
fn reads_after_a_repin_stay_protected() {
    for flavor in [Flavor::Memb, Flavor::Mb, Flavor::Qsbr] {
        reader_vs_grace_period_with(flavor, Midway::Repin);
    }
}

/// A grace period that finds no other thread registered returns at once.
/// A reader that registers meanwhile still never sees a freed object,
/// whether the writer's ticket completes in its own grace period or in one
/// a concurrent caller runs; the writer's own record is not waited for.
/// (The model fails if such a grace period ignores registered readers. It
/// cannot check the fence taken before the registry is read: loom's SeqCst
/// fences also order the reader's own fence, which C++'s need not; that
/// fence rests on the argument in `run_grace_period`.)
#[test]
fn reader_registering_during_an_empty_grace_period() {
    for flavor in [Flavor::Memb, Flavor::Mb, Flavor::Qsbr] {
        model(move || {
            let d = Domain::builder().flavor(flavor).build();
            let writer_rec = d.core().register(false);
            let version = Arc::new(AtomicUsize::new(1));
            let freed_v1 = Arc::new(AtomicBool::new(false));
            let reader = {
                let (d, version, freed_v1) = (d.clone(), version.clone(), freed_v1.clone());
                thread::spawn(move || {
                    let rec = d.core().register(false);
                    rec.read_lock();
                    if version.load(Ordering::Acquire) == 1 {
                        // Relaxed on purpose: only the protocol may order this.
                        assert!(
                            !freed_v1.load(Ordering::Relaxed),
                            "reader saw a freed object"
                        );
                    }
                    rec.read_unlock(rec.hot());
                })
            };
            let other = {
                let d = d.clone();
                thread::spawn(move || {
                    let core = d.core();
                    assert!(core.wait_as(None, core.start_poll(), "model", None));
                })
            };
            version.store(2, Ordering::Release);
            let core = d.core();
            assert!(core.wait_as(Some(&writer_rec), core.start_poll(), "model", None));
            freed_v1.store(true, Ordering::Relaxed);
            reader.join().unwrap();
            other.join().unwrap();
        });
    }
}

/// Two readers in sections when a grace period starts: it sleeps naming
/// both, and whichever leaves first wakes it only to sleep again on the
/// other. No wake-up is lost (loom's futex has no timeout: a lost one
/// deadlocks the model), whatever the order of the exits.
#[test]
fn memb_grace_period_woken_by_each_reader_it_waits_for() {
    model(|| {
        let d = Domain::builder().flavor(Flavor::Memb).build();
        let (a, b) = (d.core().register(false), d.core().register(false));
        a.read_lock();
        b.read_lock();
        let readers: Vec<_> = [a, b]
            .into_iter()
            .map(|rec| thread::spawn(move || rec.read_unlock(rec.hot())))
            .collect();
        let core = d.core();
        assert!(core.wait_as(None, core.start_poll(), "model", None));
        for r in readers {
            r.join().unwrap();
        }
    });
}
