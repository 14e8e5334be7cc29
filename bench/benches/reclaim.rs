//! Writer-side cost of retiring an object: allocate a 64-byte object,
//! publish it by swapping a pointer, and hand the old one to the
//! implementation's deferred reclamation. The time criterion reports is per
//! object, measured on the producing thread in steady state (each scheme
//! bounds or batches its pending garbage; background freeing, such as
//! urcu's reclaimer thread, runs on another core and is not in the time).
//!
//! ```text
//! cargo bench -p urcu-bench --bench reclaim -- --warm-up-time 1 --measurement-time 2
//! ```
//!
//! `scaling --workloads reclaim` runs the same loop on N threads
//! and also reports peak RSS.

use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;
use std::sync::atomic::{AtomicPtr, Ordering};
use urcu::{Domain, Flavor, RcuBox};

/// The retired object: 64 bytes, one cache line.
type Obj = [u64; 8];
const OBJ: Obj = [1; 8];

/// A pointer slot holding a heap object (from `Box::into_raw`).
fn new_slot() -> AtomicPtr<Obj> {
    AtomicPtr::new(Box::into_raw(Box::new(OBJ)))
}

/// Frees the object left in a slot once nothing can reach it any more.
fn free_slot(slot: AtomicPtr<Obj>) {
    // SAFETY: the slot owns its object (from `Box::into_raw`), and taking
    // the slot by value means no one can load it any more.
    drop(unsafe { Box::from_raw(slot.into_inner()) });
}

fn reclaim(c: &mut Criterion) {
    let mut group = c.benchmark_group("reclaim");

    // urcu: RcuBox::replace = Box::new + swap + rcu_reclaim_queue(old).
    let domains = [
        ("urcu-memb-replace", urcu::default_domain().clone()),
        (
            "urcu-mb-replace",
            Domain::builder().flavor(Flavor::Mb).build(),
        ),
        (
            "urcu-qsbr-replace",
            Domain::builder().flavor(Flavor::Qsbr).build(),
        ),
    ];
    for (name, domain) in &domains {
        let slot = RcuBox::new_in(OBJ, domain);
        group.bench_function(*name, |b| b.iter(|| slot.replace(black_box(OBJ))));
        drop(slot);
        domain.rcu_barrier();
    }

    // crossbeam-epoch: pin + swap + defer_destroy(old).
    let atomic = crossbeam_epoch::Atomic::new(OBJ);
    group.bench_function("crossbeam-epoch-defer_destroy", |b| {
        b.iter(|| {
            let g = crossbeam_epoch::pin();
            let old = atomic.swap(
                crossbeam_epoch::Owned::new(black_box(OBJ)),
                Ordering::AcqRel,
                &g,
            );
            // SAFETY: the swap unlinked `old`; it is destroyed only after
            // every thread pinned now has unpinned.
            unsafe { g.defer_destroy(old) };
        })
    });
    // SAFETY: the benchmark is over; no guard can reach the last object.
    drop(unsafe { atomic.into_owned() });

    // seize: swap + Collector::retire(old) (no guard needed to retire).
    let collector = seize::Collector::new();
    let slot = new_slot();
    group.bench_function("seize-retire", |b| {
        b.iter(|| {
            let old = slot.swap(Box::into_raw(Box::new(black_box(OBJ))), Ordering::AcqRel);
            // SAFETY: `old` came from `Box::into_raw` and the swap made it
            // unreachable for threads that enter from now on.
            unsafe { collector.retire(old, seize::reclaim::boxed) };
        })
    });
    free_slot(slot);
    drop(collector); // reclaims whatever is still retired

    // The floor: swap and free at once (correct only with no readers).
    let slot = new_slot();
    group.bench_function("box-drop-immediate", |b| {
        b.iter(|| {
            let old = slot.swap(Box::into_raw(Box::new(black_box(OBJ))), Ordering::AcqRel);
            // SAFETY: `old` came from `Box::into_raw`; this benchmark has no
            // readers, so no one else can hold it.
            drop(unsafe { Box::from_raw(old) });
        })
    });
    free_slot(slot);

    group.finish();
}

criterion_group!(benches, reclaim);
criterion_main!(benches);
