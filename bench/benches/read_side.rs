//! Read-side cost: enter a section, load one published pointer, leave.
//!
//! Every case times `iters` reads in one tight loop (`iter_custom`), so the
//! time criterion reports is the cost of **one** read. The loaded pointer
//! goes through `black_box` (it is not dereferenced, so every case does the
//! same single load). Nobody writes during these runs; `benches/scaling.rs`
//! measures reads next to a writer and across threads.
//!
//! ```text
//! cargo bench -p urcu-bench --bench read_side -- --warm-up-time 1 --measurement-time 2
//! ```

use arc_swap::ArcSwap;
use criterion::{criterion_group, criterion_main, Criterion};
use seize::Guard as _;
use std::hint::black_box;
use std::sync::atomic::{AtomicPtr, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};
use urcu::{Domain, Flavor, RcuBox};

/// The published object: 64 bytes, one cache line.
type Obj = [u64; 8];
const OBJ: Obj = [1; 8];

/// Under QSBR a registered reader reports a quiescent state every this many
/// reads (a real reader would do it between requests).
const QSBR_EVERY: u64 = 1024;

/// Times `iters` calls of `read`.
#[inline(always)]
fn time_reads(iters: u64, mut read: impl FnMut()) -> Duration {
    let start = Instant::now();
    for _ in 0..iters {
        read();
    }
    start.elapsed()
}

fn read_side(c: &mut Criterion) {
    let mut group = c.benchmark_group("read_side");

    // urcu, default domain (memb), through the free function: one
    // thread-local lookup per read_lock.
    let memb_box = RcuBox::new(OBJ);
    group.bench_function("urcu-memb-read_lock", |b| {
        b.iter_custom(|iters| {
            time_reads(iters, || {
                let g = urcu::read_lock();
                black_box(memb_box.load(&g));
            })
        })
    });

    // urcu, default domain (memb), through a registered ThreadHandle.
    let handle = urcu::default_domain().register_thread();
    group.bench_function("urcu-memb-handle", |b| {
        b.iter_custom(|iters| {
            time_reads(iters, || {
                let g = handle.read_lock();
                black_box(memb_box.load(&g));
            })
        })
    });
    drop(handle);

    // urcu, a domain of the mb flavor (a full fence per read_lock).
    let mb = Domain::builder().flavor(Flavor::Mb).build();
    let mb_box = RcuBox::new_in(OBJ, &mb);
    let handle = mb.register_thread();
    group.bench_function("urcu-mb-handle", |b| {
        b.iter_custom(|iters| {
            time_reads(iters, || {
                let g = handle.read_lock();
                black_box(mb_box.load(&g));
            })
        })
    });
    drop(handle);

    // urcu, QSBR: read_lock writes nothing shared; the reader pays for a
    // quiescent_state() once every QSBR_EVERY reads, included in the time.
    let qsbr = Domain::builder().flavor(Flavor::Qsbr).build();
    let qsbr_box = RcuBox::new_in(OBJ, &qsbr);
    let mut handle = qsbr.register_thread();
    group.bench_function("urcu-qsbr-handle", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for i in 0..iters {
                {
                    let g = handle.read_lock();
                    black_box(qsbr_box.load(&g));
                }
                if i % QSBR_EVERY == QSBR_EVERY - 1 {
                    handle.quiescent_state();
                }
            }
            start.elapsed()
        })
    });
    drop(handle);

    // crossbeam-epoch: pin() (thread-local participant) + one load.
    let atomic = crossbeam_epoch::Atomic::new(OBJ);
    group.bench_function("crossbeam-epoch-pin", |b| {
        b.iter_custom(|iters| {
            time_reads(iters, || {
                let g = crossbeam_epoch::pin();
                black_box(atomic.load(Ordering::Acquire, &g).as_raw());
            })
        })
    });
    // `Atomic` has no destructor: its 64 bytes stay allocated until exit.

    // seize: a local guard from a Collector + a protected load.
    let collector = seize::Collector::new();
    let mut seize_obj = OBJ;
    let seize_ptr = AtomicPtr::new(&mut seize_obj);
    group.bench_function("seize-enter", |b| {
        b.iter_custom(|iters| {
            time_reads(iters, || {
                let g = collector.enter();
                black_box(g.protect(&seize_ptr, Ordering::Acquire));
            })
        })
    });

    // arc-swap: load() (a debt slot; no reference count in the fast path).
    let swap = ArcSwap::from_pointee(OBJ);
    group.bench_function("arc-swap-load", |b| {
        b.iter_custom(|iters| {
            time_reads(iters, || {
                let g = swap.load();
                black_box(&**g);
            })
        })
    });

    // std RwLock<Arc<_>> (the config peer): read lock (an atomic
    // read-modify-write each way) + a load of the Arc's pointer.
    let lock = RwLock::new(Arc::new(OBJ));
    group.bench_function("std-rwlock-read", |b| {
        b.iter_custom(|iters| {
            time_reads(iters, || {
                let g = lock.read().expect("not poisoned");
                black_box(&**g);
            })
        })
    });

    // The floor: an acquire load with no protection at all.
    let mut raw_obj = OBJ;
    let raw = AtomicPtr::new(&mut raw_obj);
    group.bench_function("atomicptr-unprotected", |b| {
        b.iter_custom(|iters| {
            time_reads(iters, || {
                black_box(raw.load(Ordering::Acquire));
            })
        })
    });

    group.finish();
}

criterion_group!(benches, read_side);
criterion_main!(benches);
